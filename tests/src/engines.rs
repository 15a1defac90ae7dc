//! Highly available engines started by the failover tests, as real processes on free ports:
//! a Redis master, its replica and three Sentinels (`redis-server --sentinel`); a PostgreSQL
//! primary and its synchronous streaming standby (`initdb`, `pg_basebackup -R`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The name the Sentinels know the group by.
pub const MASTER_NAME: &str = "iocmaster";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `redis-server` binary (`scripts/test.sh` installs Debian's; `IOC_REDIS_SERVER` may name
/// another, such as `valkey-server`).
fn redis_server() -> String {
    std::env::var("IOC_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned())
}

/// A process killed with the group.
struct Process {
    child: Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One master, one replica, three Sentinels (quorum 2), quick to notice a dead master.
pub struct RedisGroup {
    pub master_port: u16,
    pub replica_port: u16,
    pub sentinel_ports: Vec<u16>,
    /// The data servers by port.
    servers: std::collections::HashMap<u16, Process>,
    _sentinels: Vec<Process>,
    dir: PathBuf,
}

async fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> redis::RedisResult<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut connection =
        tokio::time::timeout(Duration::from_secs(2), client.get_multiplexed_async_connection())
            .await
            .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "connect timed out")))??;
    cmd.query_async(&mut connection).await
}

fn spawn(args: &[String]) -> Process {
    let child = Command::new(redis_server())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", redis_server()));
    Process { child }
}

impl RedisGroup {
    /// Starts the group and waits until the replica is in sync and every Sentinel knows the
    /// replica and the two other Sentinels (a failover needs both).
    pub async fn start() -> RedisGroup {
        let dir = std::env::temp_dir().join(format!(
            "ioc-redis-group-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let master_port = free_port();
        let replica_port = free_port();
        let master = redis_data_server(&dir, master_port, None);
        let replica = redis_data_server(&dir, replica_port, Some(master_port));
        let sentinel_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let sentinels = sentinel_ports
            .iter()
            .map(|port| {
                let config = dir.join(format!("sentinel-{port}.conf"));
                std::fs::write(
                    &config,
                    format!(
                        "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                         sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
                         sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                         sentinel failover-timeout {MASTER_NAME} 10000\n\
                         sentinel parallel-syncs {MASTER_NAME} 1\n",
                        dir = dir.display()
                    ),
                )
                .unwrap();
                spawn(&[config.to_str().unwrap().to_owned(), "--sentinel".into()])
            })
            .collect();
        let group = RedisGroup {
            master_port,
            replica_port,
            sentinel_ports,
            servers: [(master_port, master), (replica_port, replica)].into_iter().collect(),
            _sentinels: sentinels,
            dir,
        };
        group.wait_until_ready().await;
        group
    }

    async fn wait_until_ready(&self) {
        // A replica back after a failover may need a full sync of the figures first.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let missing = match self.missing().await {
                None => return,
                Some(missing) => missing,
            };
            assert!(
                tokio::time::Instant::now() < deadline,
                "the Redis group did not get ready in 120 s: {missing}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// What the group still lacks to be ready, in words; `None` when ready.
    async fn missing(&self) -> Option<String> {
        let info: String =
            match query(self.replica_port, redis::cmd("INFO").arg("replication")).await {
                Ok(info) => info,
                Err(e) => {
                    return Some(format!("the replica {} does not answer: {e}", self.replica_port))
                }
            };
        if !info.contains("master_link_status:up") {
            return Some(format!("the replica {} is not in sync", self.replica_port));
        }
        for port in &self.sentinel_ports {
            let replicas: Vec<std::collections::HashMap<String, String>> =
                match query(*port, redis::cmd("SENTINEL").arg("replicas").arg(MASTER_NAME)).await {
                    Ok(replicas) => replicas,
                    Err(e) => return Some(format!("Sentinel {port}: {e}")),
                };
            let flags = replicas
                .iter()
                .find(|r| r.get("port") == Some(&self.replica_port.to_string()))
                .and_then(|r| r.get("flags").cloned());
            if flags.as_deref().is_none_or(|f| f.contains("down")) {
                return Some(format!(
                    "Sentinel {port} sees the replica {} as {flags:?}",
                    self.replica_port
                ));
            }
            let others: Vec<redis::Value> = match query(
                *port,
                redis::cmd("SENTINEL").arg("sentinels").arg(MASTER_NAME),
            )
            .await
            {
                Ok(others) => others,
                Err(e) => return Some(format!("Sentinel {port}: {e}")),
            };
            if others.len() < 2 {
                return Some(format!("Sentinel {port} knows {} other Sentinels", others.len()));
            }
        }
        None
    }

    /// `REDIS_URL` for the server: the master through the three Sentinels.
    pub fn sentinel_url(&self) -> String {
        let hosts: Vec<String> =
            self.sentinel_ports.iter().map(|port| format!("127.0.0.1:{port}")).collect();
        format!("redis+sentinel://{}/{MASTER_NAME}", hosts.join(","))
    }

    /// `kill -9` of the master.
    pub fn kill_master(&mut self) {
        let mut master = self.servers.remove(&self.master_port).expect("the master runs");
        let pid = master.child.id();
        let status = Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
        assert!(status.success(), "kill -9 {pid}");
        let _ = master.child.wait();
    }

    /// After a promotion: the killed master comes back on its port as a replica of the new
    /// one, and the roles swap (so the group can fail over again).
    pub async fn restart_old_master_as_replica(&mut self, new_master: u16) {
        let old = self.master_port;
        let _ = std::fs::remove_file(self.dir.join(format!("dump-{old}.rdb")));
        self.servers.insert(old, redis_data_server(&self.dir, old, Some(new_master)));
        self.master_port = new_master;
        self.replica_port = old;
        self.wait_until_ready().await;
    }

    /// The port the Sentinels name as master now (`None` while none answers).
    pub async fn master_now(&self) -> Option<u16> {
        for port in &self.sentinel_ports {
            let address: redis::RedisResult<(String, String)> = query(
                *port,
                redis::cmd("SENTINEL").arg("get-master-addr-by-name").arg(MASTER_NAME),
            )
            .await;
            if let Ok((_, port)) = address {
                return port.parse().ok();
            }
        }
        None
    }
}

/// A Redis data server on `port`, a replica of `master` if given; no persistence.
fn redis_data_server(dir: &std::path::Path, port: u16, master: Option<u16>) -> Process {
    let mut args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir.to_str().unwrap(),
        "--dbfilename",
        &format!("dump-{port}.rdb"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(master) = master {
        args.extend(["--replicaof".into(), "127.0.0.1".into(), master.to_string()]);
    }
    spawn(&args)
}

impl Drop for RedisGroup {
    fn drop(&mut self) {
        self.servers.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory of PostgreSQL's server programs (`initdb`, `pg_ctl`, `pg_basebackup`),
/// the newest installed (`IOC_PG_BIN` may name another).
fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("IOC_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server programs under /usr/lib/postgresql (scripts/test.sh)")
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort_by_key(|bin| {
        bin.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop().expect("initdb")
}

/// A PostgreSQL program run as the `postgres` user when the tests run as root (PostgreSQL
/// refuses to run as root).
fn pg_command(program: &str) -> Command {
    let path = pg_bin().join(program);
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(path);
        command
    } else {
        Command::new(path)
    }
}

async fn run_pg(program: &str, args: &[&str]) {
    // Asynchronously: a base backup or a promotion takes a moment the runtime's other tasks
    // (ingest, screens) must not wait for.
    let output =
        tokio::process::Command::from(pg_command(program)).args(args).output().await.unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A primary and a streaming standby on free ports, synchronous (`synchronous_commit = on`,
/// the standby named in `synchronous_standby_names`): a commit is acknowledged only once the
/// standby has it. Each cluster lives in `pg-PORT` under the pair's directory.
pub struct PgPair {
    pub primary_port: u16,
    pub standby_port: u16,
    dir: PathBuf,
    /// The processes started (maybe `runuser`), by port.
    processes: std::collections::HashMap<u16, Process>,
}

impl PgPair {
    pub async fn start() -> PgPair {
        let dir = std::env::temp_dir().join(format!(
            "ioc-pg-pair-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // The postgres user owns the clusters.
        let _ = Command::new("chown").args(["postgres:", dir.to_str().unwrap()]).status();
        let (primary_port, standby_port) = (free_port(), free_port());
        let mut pair = PgPair { primary_port, standby_port, dir, processes: Default::default() };
        let primary_dir = pair.data(primary_port);
        run_pg(
            "initdb",
            &["-D", primary_dir.to_str().unwrap(), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        )
        .await;
        append(
            &primary_dir.join("postgresql.conf"),
            &format!(
                "listen_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
                 wal_level = replica\nmax_wal_senders = 5\nsynchronous_commit = on\n\
                 synchronous_standby_names = 'standby'\nfsync = off\n",
                pair.dir.display()
            ),
        );
        pair.run(primary_port);
        pair.wait_for(primary_port).await;
        pair.start_standby().await;
        pair.wait_until_synchronous().await;
        pair
    }

    fn data(&self, port: u16) -> PathBuf {
        self.dir.join(format!("pg-{port}"))
    }

    fn run(&mut self, port: u16) {
        let child = pg_command("postgres")
            .args(["-D", self.data(port).to_str().unwrap(), "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.processes.insert(port, Process { child });
    }

    /// A fresh standby on `standby_port`, copied from the primary, named `standby` (the
    /// synchronous one). Promoted, it must not wait for a standby of its own (what Patroni does
    /// outside its strict mode): its own `synchronous_standby_names` is empty until a new
    /// standby joins it.
    async fn start_standby(&mut self) {
        let (primary, standby) = (self.primary_port, self.standby_port);
        let data = self.data(standby);
        let _ = std::fs::remove_dir_all(&data);
        run_pg(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary.to_string(),
                "-U",
                "postgres",
                "-D",
                data.to_str().unwrap(),
                "-R",
                "-X",
                "stream",
                // A fast checkpoint: a spread one waits minutes on a busy primary.
                "-c",
                "fast",
            ],
        )
        .await;
        append(
            &data.join("postgresql.auto.conf"),
            &format!(
                "primary_conninfo = 'host=127.0.0.1 port={primary} user=postgres application_name=standby'\n\
                 synchronous_standby_names = ''\n"
            ),
        );
        self.run(standby);
        self.wait_for(standby).await;
    }

    async fn wait_for(&self, port: u16) {
        for _ in 0..100 {
            if let Ok(connection) =
                <sqlx::PgConnection as sqlx::Connection>::connect(&self.url_of(port)).await
            {
                let _ = sqlx::Connection::close(connection).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("PostgreSQL did not start on port {port}");
    }

    async fn wait_until_synchronous(&self) {
        let url = self.url_of(self.primary_port);
        for _ in 0..200 {
            let state: Option<String> = async {
                let mut connection =
                    <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.ok()?;
                sqlx::query_scalar(
                    "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'",
                )
                .fetch_optional(&mut connection)
                .await
                .ok()?
            }
            .await;
            if state.as_deref() == Some("sync") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the standby did not become synchronous");
    }

    /// `DATABASE_URL` naming both hosts, the libpq way.
    pub fn url(&self) -> String {
        // The ports in start order: they stay the pair's two hosts whoever is primary.
        let (first, second) =
            (self.primary_port.min(self.standby_port), self.primary_port.max(self.standby_port));
        format!(
            "postgres://postgres@127.0.0.1:{first},127.0.0.1:{second}/postgres?target_session_attrs=read-write"
        )
    }

    /// `DATABASE_URL` of one of the pair.
    pub fn url_of(&self, port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    }

    /// `kill -9` of the primary's postmaster (its pid from `postmaster.pid`: the process the
    /// test started may be `runuser`).
    pub fn kill_primary(&mut self) {
        let pid = postmaster_pid(&self.data(self.primary_port)).expect("the primary runs");
        let status = Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
        assert!(status.success(), "kill -9 {pid}");
        if let Some(mut primary) = self.processes.remove(&self.primary_port) {
            let _ = primary.child.wait();
        }
    }

    /// `pg_ctl promote` of the standby.
    pub async fn promote_standby(&self) {
        let data = self.data(self.standby_port);
        run_pg("pg_ctl", &["promote", "-w", "-D", data.to_str().unwrap()]).await;
    }

    /// After [`PgPair::kill_primary`] and [`PgPair::promote_standby`]: the roles swap, a new
    /// standby is copied from the new primary onto the dead one's port, and the new primary
    /// waits for it again (so the pair can fail over again).
    pub async fn rejoin_as_standby(&mut self) {
        std::mem::swap(&mut self.primary_port, &mut self.standby_port);
        self.start_standby().await;
        let primary = sqlx::PgPool::connect(&self.url_of(self.primary_port)).await.unwrap();
        sqlx::query("ALTER SYSTEM SET synchronous_standby_names = 'standby'")
            .execute(&primary)
            .await
            .unwrap();
        sqlx::query("SELECT pg_reload_conf()").execute(&primary).await.unwrap();
        primary.close().await;
        self.wait_until_synchronous().await;
    }
}

fn append(file: &std::path::Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
}

/// The postmaster's pid, from the first line of its data directory's `postmaster.pid`.
fn postmaster_pid(data: &std::path::Path) -> Option<u32> {
    std::fs::read_to_string(data.join("postmaster.pid")).ok()?.lines().next()?.trim().parse().ok()
}

impl Drop for PgPair {
    fn drop(&mut self) {
        for port in [self.primary_port, self.standby_port] {
            if let Some(pid) = postmaster_pid(&self.data(port)) {
                let _ = Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        self.processes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
