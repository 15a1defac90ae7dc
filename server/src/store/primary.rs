//! A `DATABASE_URL` naming several hosts, the libpq way
//! (`postgres://u:p@h1:5432,h2:5433/ioc?target_session_attrs=read-write`): the pool connects to
//! the one that accepts writes, and moves when it stops doing so (crash, demotion, promotion
//! elsewhere). sqlx reads one host per URL, so the URL is split into one set of options per
//! host; which host is the primary is PostgreSQL's own answer (`pg_is_in_recovery()`).
//!
//! Every [`CHECK_EVERY`] the pool's current host is asked whether it still accepts writes; when
//! it does not answer or is in recovery, every host is asked, the first primary found becomes
//! the pool's target (`Pool::set_connect_options`), and connections opened before the move are
//! dropped when next borrowed (`before_acquire`). A new connection to a host in recovery is
//! refused (`after_connect`) and retried, so none reaches a caller, even before the first
//! check. Meanwhile storage calls wait up to their time-out and fail as unavailable (503),
//! never as a server error.

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the pool's host is checked when nothing else happens.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Longest wait for one host's answer while looking for the primary.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A `DATABASE_URL` that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HostsError {
    #[error("DATABASE_URL: {0}")]
    Invalid(String),
    #[error("DATABASE_URL: {0}")]
    Options(#[from] sqlx::Error),
}

/// The connection options of each host a `DATABASE_URL` names, in its order. One host: the URL
/// as sqlx reads it. `target_session_attrs` may be `read-write` (what the server needs, and so
/// the default) or `primary`; the server always connects to the host that accepts writes.
pub fn hosts_of(url: &str) -> Result<Vec<PgConnectOptions>, HostsError> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok(vec![PgConnectOptions::from_str(url)?]);
    };
    // The authority ends at the first `/` or `?` after the user information.
    let user_end = rest.find('@').map_or(0, |at| at + 1);
    let authority_end = rest[user_end..].find(['/', '?']).map_or(rest.len(), |end| end + user_end);
    let (user, hosts) = rest[..authority_end].split_at(user_end);
    if !hosts.contains(',') {
        // One host (or none: a Unix socket given as `?host=`): sqlx reads it as it is.
        return Ok(vec![PgConnectOptions::from_str(url)?]);
    }
    let tail = &rest[authority_end..];
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    let mut kept = Vec::new();
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("target_session_attrs", "read-write" | "primary")) => {}
            Some(("target_session_attrs", other)) => {
                return Err(HostsError::Invalid(format!(
                    "target_session_attrs={other}: the server writes, so only read-write or primary"
                )))
            }
            _ => kept.push(pair),
        }
    }
    let query = if kept.is_empty() { String::new() } else { format!("?{}", kept.join("&")) };
    hosts
        .split(',')
        .map(|host| {
            if host.is_empty() {
                return Err(HostsError::Invalid(format!("an empty host in `{hosts}`")));
            }
            Ok(PgConnectOptions::from_str(&format!("{scheme}://{user}{host}{path}{query}"))?)
        })
        .collect()
}

/// When the pool last moved to another host, in milliseconds since `base`: connections older
/// than that point to the old host.
struct Moves {
    base: Instant,
    last_move_ms: AtomicU64,
}

impl Moves {
    fn opened_before_last_move(&self, age: Duration) -> bool {
        let last_move = Duration::from_millis(self.last_move_ms.load(Ordering::Acquire));
        let since_move = self.base.elapsed().saturating_sub(last_move);
        last_move > Duration::ZERO && age > since_move
    }

    fn record(&self) {
        let now = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX).max(1);
        self.last_move_ms.store(now, Ordering::Release);
    }
}

/// A lazy pool on the primary among `hosts` (at least two), and the task following it.
pub fn pool_on_primary(options: PgPoolOptions, hosts: Vec<PgConnectOptions>) -> PgPool {
    let moves = Arc::new(Moves { base: Instant::now(), last_move_ms: AtomicU64::new(0) });
    let pool = {
        let moves = moves.clone();
        options
            // A host in recovery never enters the pool (at start-up too, before the first
            // check): the connect is retried, on the new target once it moved.
            .after_connect(|connection, _| {
                Box::pin(async move {
                    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                        .fetch_one(&mut *connection)
                        .await?;
                    if in_recovery {
                        return Err(sqlx::Error::Protocol(
                            "this host is a standby; waiting for the primary".into(),
                        ));
                    }
                    Ok(())
                })
            })
            .before_acquire(move |_, meta| {
                let stale = moves.opened_before_last_move(meta.age);
                Box::pin(async move { Ok(!stale) })
            })
            .connect_lazy_with(hosts[0].clone())
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(follow_primary(pool.clone(), hosts, moves));
        }
        Err(_) => tracing::warn!("no runtime: the PostgreSQL primary is not followed"),
    }
    pool
}

/// Whether the host of `options` accepts writes now.
async fn is_primary(options: &PgConnectOptions) -> Result<bool, sqlx::Error> {
    let probe = async {
        let mut connection: PgConnection = options.clone().connect().await?;
        let in_recovery: bool =
            sqlx::query_scalar("SELECT pg_is_in_recovery()").fetch_one(&mut connection).await?;
        let _ = connection.close().await;
        Ok(!in_recovery)
    };
    tokio::time::timeout(PROBE_TIMEOUT, probe).await.unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

fn host_of(options: &PgConnectOptions) -> String {
    format!("{}:{}", options.get_host(), options.get_port())
}

/// Checks the pool's host every [`CHECK_EVERY`] and moves the pool to the primary when it
/// changed; ends when the pool is closed.
async fn follow_primary(pool: PgPool, hosts: Vec<PgConnectOptions>, moves: Arc<Moves>) {
    let mut current = 0;
    while !pool.is_closed() {
        let still_primary = matches!(is_primary(&hosts[current]).await, Ok(true));
        if !still_primary {
            for (index, host) in hosts.iter().enumerate() {
                if index != current && matches!(is_primary(host).await, Ok(true)) {
                    tracing::warn!(
                        from = %host_of(&hosts[current]),
                        to = %host_of(host),
                        "the PostgreSQL primary moved"
                    );
                    pool.set_connect_options(host.clone());
                    moves.record();
                    current = index;
                    break;
                }
            }
        }
        tokio::time::sleep(CHECK_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_host_of_a_libpq_url_gets_the_same_user_database_and_parameters() {
        let hosts = hosts_of(
            "postgres://ioc:p%40ss@h1:5432,h2:5433/ioc?target_session_attrs=read-write&application_name=x",
        )
        .expect("two hosts");
        let named: Vec<String> = hosts.iter().map(host_of).collect();
        assert_eq!(named, vec!["h1:5432", "h2:5433"]);
        for host in &hosts {
            assert_eq!(host.get_username(), "ioc");
            assert_eq!(host.get_database(), Some("ioc"));
            assert_eq!(host.get_application_name(), Some("x"));
        }
        let one = hosts_of("postgres://ioc:ioc@127.0.0.1:5432/ioc").expect("one host");
        assert_eq!(one.len(), 1);
        let socket = hosts_of("postgres:///ioc?host=/var/run/postgresql").expect("a socket");
        assert_eq!(socket[0].get_host(), "/var/run/postgresql");
        assert!(hosts_of("postgres://h1,h2/ioc?target_session_attrs=any").is_err());
        assert!(hosts_of("postgres://h1,,h2/ioc").is_err());
    }

    #[test]
    fn connections_opened_before_a_move_are_dropped_and_later_ones_kept() {
        let moves = Moves { base: Instant::now(), last_move_ms: AtomicU64::new(0) };
        assert!(!moves.opened_before_last_move(Duration::from_secs(3600)), "no move yet");
        std::thread::sleep(Duration::from_millis(20));
        moves.record();
        std::thread::sleep(Duration::from_millis(5));
        assert!(moves.opened_before_last_move(Duration::from_secs(1)));
        assert!(!moves.opened_before_last_move(Duration::ZERO));
    }
}
