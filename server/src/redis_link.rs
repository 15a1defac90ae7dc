//! One link to Redis for the whole server: a single server (`redis://`), or the master of a
//! Sentinel-watched group (`redis+sentinel://`), followed across failovers.
//!
//! [`RedisLink`] is a [`ConnectionLike`], so commands, pipelines and scripts run on it as on
//! redis-rs's own `ConnectionManager` (which it wraps: one multiplexed connection, reconnected
//! when it drops). With Sentinels it asks them for the master at first use, again every
//! [`MASTER_CHECK_EVERY`], and at once after a command fails for a reason a failover explains
//! (the connection dropped or was refused, the server answers `READONLY` or `MASTERDOWN`). When
//! the master moved, later commands go to the new one (a script missing there is loaded again
//! by redis-rs's `EVALSHA` fallback), and [`RedisLink::moves`] tells the pub/sub listener to
//! subscribe there. Nothing is home-made about the failover itself: the Sentinels decide it.

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    Cmd, ConnectionAddr, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult,
    ServerErrorKind, Value,
};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;
use tokio::sync::{watch, Mutex, Notify};

/// How often the Sentinels are asked where the master is when nothing failed.
pub const MASTER_CHECK_EVERY: Duration = Duration::from_secs(1);
/// Shortest time between two questions to the Sentinels (a burst of failed commands asks once).
const MASTER_CHECK_GAP: Duration = Duration::from_millis(200);
/// Longest wait for the Sentinels' answer, master check included.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(3);

/// Where Redis is, as `REDIS_URL` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisAddress {
    /// One server: the URL as redis-rs reads it (`redis://`, `unix://`).
    Direct(String),
    /// The master named `master`, found through `sentinels`.
    Sentinel {
        sentinels: Vec<(String, u16)>,
        master: String,
        /// For the master and its replicas (Redis ACL user, `requirepass`).
        username: Option<String>,
        password: Option<String>,
        /// For the Sentinels themselves (`requirepass` in sentinel.conf), if they have one.
        sentinel_password: Option<String>,
        db: i64,
    },
}

/// A `REDIS_URL` that cannot be used; the message says how to write one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("REDIS_URL: {0}; expected redis://host:6379[/db] or redis+sentinel://[[user]:password@]host1:26379,host2:26379/MASTER[/db][?sentinel_password=…]")]
pub struct AddressError(String);

const SENTINEL_SCHEME: &str = "redis+sentinel://";

fn decoded(text: &str, what: &str) -> Result<String, AddressError> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|t| t.into_owned())
        .map_err(|_| AddressError(format!("the {what} is not UTF-8 once decoded")))
}

impl RedisAddress {
    /// Reads a `REDIS_URL`. Every other scheme is left to redis-rs as it is.
    pub fn parse(url: &str) -> Result<RedisAddress, AddressError> {
        let Some(rest) = url.strip_prefix(SENTINEL_SCHEME) else {
            return Ok(RedisAddress::Direct(url.to_owned()));
        };
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let (credentials, rest) = match rest.rsplit_once('@') {
            Some((credentials, rest)) => (Some(credentials), rest),
            None => (None, rest),
        };
        let (username, password) = match credentials {
            None => (None, None),
            Some(credentials) => {
                let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
                let user = (!user.is_empty()).then(|| decoded(user, "user name")).transpose()?;
                let password =
                    (!password.is_empty()).then(|| decoded(password, "password")).transpose()?;
                (user, password)
            }
        };
        let (hosts, path) = rest
            .split_once('/')
            .ok_or_else(|| AddressError("the master's name is missing after the hosts".into()))?;
        let sentinels = hosts
            .split(',')
            .map(|host| {
                let port_of = |port: &str| {
                    port.parse::<u16>()
                        .map_err(|_| AddressError(format!("`{host}`: the port must be a number")))
                };
                // `[v6]:port`, `[v6]`, `name:port` or `name`.
                let (name, port) = match host.strip_prefix('[') {
                    Some(bracketed) => match bracketed.split_once(']') {
                        Some((name, "")) => (name, 26379),
                        Some((name, rest)) => match rest.strip_prefix(':') {
                            Some(port) => (name, port_of(port)?),
                            None => {
                                return Err(AddressError(format!(
                                    "`{host}` is not a Sentinel's host:port"
                                )))
                            }
                        },
                        None => {
                            return Err(AddressError(format!(
                                "`{host}` is not a Sentinel's host:port"
                            )))
                        }
                    },
                    None => match host.rsplit_once(':') {
                        Some((name, port)) => (name, port_of(port)?),
                        None => (host, 26379),
                    },
                };
                if name.is_empty() || port == 0 {
                    return Err(AddressError(format!("`{host}` is not a Sentinel's host:port")));
                }
                Ok((name.to_owned(), port))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut segments = path.split('/');
        let master = decoded(segments.next().unwrap_or_default(), "master's name")?;
        if master.is_empty() {
            return Err(AddressError("the master's name is empty".into()));
        }
        let mut db = match segments.next() {
            None | Some("") => 0,
            Some(db) => db
                .parse::<i64>()
                .ok()
                .filter(|db| *db >= 0)
                .ok_or_else(|| AddressError(format!("the database `{db}` is not a number")))?,
        };
        if segments.next().is_some() {
            return Err(AddressError("the path has more than MASTER/db".into()));
        }
        let mut sentinel_password = None;
        for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sentinel_password" => {
                    sentinel_password = Some(decoded(value, "sentinel_password")?)
                }
                "db" => {
                    db = value
                        .parse::<i64>()
                        .ok()
                        .filter(|db| *db >= 0)
                        .ok_or_else(|| AddressError(format!("db `{value}` is not a number")))?
                }
                other => return Err(AddressError(format!("unknown parameter `{other}`"))),
            }
        }
        Ok(RedisAddress::Sentinel { sentinels, master, username, password, sentinel_password, db })
    }
}

/// The connection settings of every link: a call that gets no answer fails instead of waiting
/// for ever.
fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(2)
}

/// The master in use: its client (for pub/sub) and its multiplexed connection.
#[derive(Clone)]
struct Master {
    /// `host:port`, to tell a move from the same master answered again.
    address: String,
    client: redis::Client,
    manager: ConnectionManager,
}

/// What all clones of one link share.
struct Shared {
    /// `None` for a single server, whose master never moves.
    sentinel: Option<Mutex<SentinelClient>>,
    /// The current master; `None` before the Sentinels first answered.
    master: RwLock<Option<Master>>,
    /// Woken by a command that failed as a failover would make it fail.
    suspect: Notify,
    /// Counts the master's moves (pub/sub listeners resubscribe on a change).
    moves: watch::Sender<u64>,
    /// Whether the task asking the Sentinels runs (started at first use, inside the runtime).
    watching: std::sync::Once,
    db: i64,
}

impl Shared {
    /// The master in use, if one was found.
    fn current(&self) -> Option<Master> {
        self.master.read().ok().and_then(|master| master.clone())
    }
}

/// Redis, wherever its master is; cheap to clone.
#[derive(Clone)]
pub struct RedisLink {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink").field("sentinel", &self.shared.sentinel.is_some()).finish()
    }
}

impl RedisLink {
    /// A link to `url` (see [`RedisAddress::parse`]). Lazy: nothing is connected before the
    /// first command, so the server starts while Redis is down.
    pub fn open(url: &str) -> Result<RedisLink, LinkError> {
        let (moves, _) = watch::channel(0);
        let shared = match RedisAddress::parse(url)? {
            RedisAddress::Direct(url) => {
                let client = redis::Client::open(url.as_str())?;
                let db = client.get_connection_info().redis_settings().db();
                let manager =
                    ConnectionManager::new_lazy_with_config(client.clone(), manager_config())?;
                let address = client.get_connection_info().addr().to_string();
                Shared {
                    sentinel: None,
                    master: RwLock::new(Some(Master { address, client, manager })),
                    suspect: Notify::new(),
                    moves,
                    watching: std::sync::Once::new(),
                    db,
                }
            }
            RedisAddress::Sentinel {
                sentinels,
                master,
                username,
                password,
                sentinel_password,
                db,
            } => {
                let addresses =
                    sentinels.into_iter().map(|(host, port)| ConnectionAddr::Tcp(host, port));
                let mut builder =
                    SentinelClientBuilder::new(addresses, master, SentinelServerType::Master)?
                        .set_client_to_redis_db(db);
                if let Some(username) = username {
                    builder = builder.set_client_to_redis_username(username);
                }
                if let Some(password) = password {
                    builder = builder.set_client_to_redis_password(password);
                }
                if let Some(password) = sentinel_password {
                    builder = builder.set_client_to_sentinel_password(password);
                }
                Shared {
                    sentinel: Some(Mutex::new(builder.build()?)),
                    master: RwLock::new(None),
                    suspect: Notify::new(),
                    moves,
                    watching: std::sync::Once::new(),
                    db,
                }
            }
        };
        Ok(RedisLink { shared: Arc::new(shared) })
    }

    /// Whether the master is found through Sentinels.
    pub fn follows_sentinels(&self) -> bool {
        self.shared.sentinel.is_some()
    }

    /// A client for the current master, for a connection of its own (pub/sub).
    pub async fn client(&self) -> RedisResult<redis::Client> {
        Ok(self.master().await?.client)
    }

    /// Changes each time the master moves: a pub/sub listener subscribes again on a change.
    pub fn moves(&self) -> watch::Receiver<u64> {
        self.shared.moves.subscribe()
    }

    async fn master(&self) -> RedisResult<Master> {
        if self.shared.sentinel.is_some() {
            self.shared.watching.call_once(|| {
                tokio::spawn(watch_master(Arc::downgrade(&self.shared)));
            });
        }
        match self.shared.current() {
            Some(master) => Ok(master),
            None => discover(&self.shared).await,
        }
    }

    /// After a failed command: ask the Sentinels now if a failover explains the failure.
    fn after<T>(&self, result: RedisResult<T>) -> RedisResult<T> {
        if let Err(error) = &result {
            if self.shared.sentinel.is_some() && failover_explains(error) {
                self.shared.suspect.notify_one();
            }
        }
        result
    }
}

/// Why a link could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error("Redis: {0}")]
    Redis(#[from] RedisError),
}

/// Whether a failover explains this failure: the master went away, refused the connection, was
/// turned into a replica (`READONLY`), or lost its link to its own master (`MASTERDOWN`).
fn failover_explains(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || matches!(
            error.kind(),
            ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown)
        )
}

/// Asks the Sentinels where the master is and, if it moved, connects there.
async fn discover(shared: &Shared) -> RedisResult<Master> {
    let Some(sentinel) = &shared.sentinel else {
        return shared
            .current()
            .ok_or_else(|| RedisError::from((ErrorKind::Client, "no Redis master")));
    };
    let client = {
        let mut sentinel = sentinel.lock().await;
        match tokio::time::timeout(DISCOVERY_TIMEOUT, sentinel.async_get_client()).await {
            Ok(found) => found?,
            Err(_) => {
                return Err(RedisError::from((
                    ErrorKind::Io,
                    "the Sentinels did not say where the master is in time",
                )))
            }
        }
    };
    let address = client.get_connection_info().addr().to_string();
    if let Some(current) = shared.current().filter(|current| current.address == address) {
        return Ok(current);
    }
    let manager = ConnectionManager::new_lazy_with_config(client.clone(), manager_config())?;
    let master = Master { address: address.clone(), client, manager };
    if let Ok(mut slot) = shared.master.write() {
        let before = slot.as_ref().map(|m| m.address.clone());
        *slot = Some(master.clone());
        match before {
            Some(before) => tracing::warn!(%before, now = %address, "the Redis master moved"),
            None => tracing::info!(%address, "Redis master found through the Sentinels"),
        }
    }
    shared.moves.send_modify(|moves| *moves += 1);
    Ok(master)
}

/// Asks the Sentinels where the master is every [`MASTER_CHECK_EVERY`], and soon after a
/// command failed as a failover would make it fail; ends with the link's last clone.
async fn watch_master(shared: Weak<Shared>) {
    loop {
        let Some(strong) = shared.upgrade() else { return };
        if let Err(error) = discover(&strong).await {
            tracing::warn!(%error, "the Sentinels did not give a Redis master; asking again");
        }
        tokio::time::sleep(MASTER_CHECK_GAP).await;
        let suspect = async { strong.suspect.notified().await };
        tokio::select! {
            () = suspect => {}
            () = tokio::time::sleep(MASTER_CHECK_EVERY.saturating_sub(MASTER_CHECK_GAP)) => {}
        }
    }
}

impl ConnectionLike for RedisLink {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut master = match self.master().await {
                Ok(master) => master,
                Err(error) => return self.after(Err(error)),
            };
            let result = master.manager.req_packed_command(cmd).await;
            self.after(result)
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut master = match self.master().await {
                Ok(master) => master,
                Err(error) => return self.after(Err(error)),
            };
            let result = master.manager.req_packed_commands(pipeline, offset, count).await;
            self.after(result)
        })
    }

    fn get_db(&self) -> i64 {
        self.shared.db
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentinel_address_names_its_sentinels_master_credentials_and_db() {
        let address = RedisAddress::parse(
            "redis+sentinel://:s%40cret@h1:26379,h2:26380,[::1]/mymaster/2?sentinel_password=x",
        );
        assert_eq!(
            address,
            Ok(RedisAddress::Sentinel {
                sentinels: vec![("h1".into(), 26379), ("h2".into(), 26380), ("::1".into(), 26379)],
                master: "mymaster".into(),
                username: None,
                password: Some("s@cret".into()),
                sentinel_password: Some("x".into()),
                db: 2,
            })
        );
        assert_eq!(
            RedisAddress::parse("redis://127.0.0.1:6379/1"),
            Ok(RedisAddress::Direct("redis://127.0.0.1:6379/1".into()))
        );
        let plain = RedisAddress::parse("redis+sentinel://a:1,b:2/m");
        assert!(matches!(plain, Ok(RedisAddress::Sentinel { db: 0, password: None, .. })));
    }

    #[test]
    fn a_wrong_sentinel_address_says_what_is_wrong() {
        for (url, says) in [
            ("redis+sentinel://h1:26379", "master's name is missing"),
            ("redis+sentinel://h1:26379/", "master's name is empty"),
            ("redis+sentinel://h1:port/m", "port must be a number"),
            ("redis+sentinel://h1:0/m", "not a Sentinel"),
            ("redis+sentinel://,h2/m", "not a Sentinel"),
            ("redis+sentinel://h1/m/x", "database `x`"),
            ("redis+sentinel://h1/m/1/2", "more than MASTER/db"),
            ("redis+sentinel://h1/m?timeout=3", "unknown parameter `timeout`"),
        ] {
            let error = RedisAddress::parse(url).expect_err(url).to_string();
            assert!(error.contains(says), "{url}: {error}");
        }
    }

    #[test]
    fn any_text_is_read_or_refused_never_a_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(21);
        let alphabet: Vec<char> = "redis+sntl:/@,?=&%[]0123456789hm:".chars().collect();
        for _ in 0..20_000 {
            let length = rng.random_range(0..40);
            let tail: String =
                (0..length).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect();
            let _ = RedisAddress::parse(&format!("{SENTINEL_SCHEME}{tail}"));
        }
    }
}
