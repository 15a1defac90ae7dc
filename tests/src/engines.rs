//! Highly available engines started by the failover tests, as real processes on free ports:
//! a Redis master, its replica and three Sentinels (`redis-server --sentinel`).

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
    master: Option<Process>,
    _replica: Process,
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
        let server = |port: u16, extra: &[String]| {
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
            args.extend_from_slice(extra);
            spawn(&args)
        };
        let master = server(master_port, &[]);
        let replica = server(
            replica_port,
            &["--replicaof".into(), "127.0.0.1".into(), master_port.to_string()],
        );
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
            master: Some(master),
            _replica: replica,
            _sentinels: sentinels,
            dir,
        };
        group.wait_until_ready().await;
        group
    }

    async fn wait_until_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if self.ready().await {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "the Redis group did not get ready");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn ready(&self) -> bool {
        let info: String =
            match query(self.replica_port, redis::cmd("INFO").arg("replication")).await {
                Ok(info) => info,
                Err(_) => return false,
            };
        if !info.contains("master_link_status:up") {
            return false;
        }
        for port in &self.sentinel_ports {
            let replicas: Vec<std::collections::HashMap<String, String>> =
                match query(*port, redis::cmd("SENTINEL").arg("replicas").arg(MASTER_NAME)).await {
                    Ok(replicas) => replicas,
                    Err(_) => return false,
                };
            let known = replicas.iter().any(|r| {
                r.get("port") == Some(&self.replica_port.to_string())
                    && r.get("flags").is_some_and(|f| !f.contains("down"))
            });
            let others: Vec<redis::Value> = match query(
                *port,
                redis::cmd("SENTINEL").arg("sentinels").arg(MASTER_NAME),
            )
            .await
            {
                Ok(others) => others,
                Err(_) => return false,
            };
            if !known || others.len() < 2 {
                return false;
            }
        }
        true
    }

    /// `REDIS_URL` for the server: the master through the three Sentinels.
    pub fn sentinel_url(&self) -> String {
        let hosts: Vec<String> =
            self.sentinel_ports.iter().map(|port| format!("127.0.0.1:{port}")).collect();
        format!("redis+sentinel://{}/{MASTER_NAME}", hosts.join(","))
    }

    /// `kill -9` of the master.
    pub fn kill_master(&mut self) {
        let mut master = self.master.take().expect("the master runs");
        let pid = master.child.id();
        let status = Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
        assert!(status.success(), "kill -9 {pid}");
        let _ = master.child.wait();
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

impl Drop for RedisGroup {
    fn drop(&mut self) {
        self.master.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
