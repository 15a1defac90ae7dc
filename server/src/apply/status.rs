//! How current the figures are: a watcher, independent of the applier (so a stuck or dead
//! applier is seen), that every second measures the lag — the time since the oldest
//! acknowledged change not yet applied — and whether a rebuild is under way. Every heartbeat
//! carries what it found, so no screen shows figures as live when they are not.

use crate::aggregate::{self, Keys};
use crate::metrics::METRICS;
use crate::redis_link::RedisLink;
use crate::store::Store;
use ioc_shared::live::{FeedStatus, BEHIND_AFTER_SECONDS};
use std::time::Duration;
use tokio::sync::watch;

/// How often the lag is measured.
const MEASURE_EVERY: Duration = Duration::from_secs(1);
/// Longest wait for one measurement's calls.
const MEASURE_TIMEOUT: Duration = Duration::from_secs(3);

/// What the watcher found last.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedHealth {
    pub status: FeedStatus,
    pub lag_seconds: f64,
    /// In words, for the log and the admin: why it is not live.
    pub reason: Option<String>,
}

impl Default for FeedHealth {
    fn default() -> FeedHealth {
        FeedHealth { status: FeedStatus::Live, lag_seconds: 0.0, reason: None }
    }
}

/// Shares the latest [`FeedHealth`]; cheap to clone.
#[derive(Clone)]
pub struct FeedMonitor {
    sender: watch::Sender<FeedHealth>,
}

impl Default for FeedMonitor {
    fn default() -> FeedMonitor {
        FeedMonitor { sender: watch::channel(FeedHealth::default()).0 }
    }
}

impl FeedMonitor {
    pub fn current(&self) -> FeedHealth {
        self.sender.borrow().clone()
    }

    /// Measures for ever.
    pub async fn watch(
        self,
        store: Store,
        mut redis: RedisLink,
        keys: Keys,
        clock: ioc_shared::time::Clock,
    ) {
        let mut last_marker: Option<i64> = None;
        let mut every = tokio::time::interval(MEASURE_EVERY);
        loop {
            every.tick().await;
            let health = measure(&store, &mut redis, &keys, &mut last_marker, &clock).await;
            if health.status != FeedStatus::Live && self.sender.borrow().status == FeedStatus::Live
            {
                tracing::warn!(status = ?health.status, lag = health.lag_seconds, reason = ?health.reason, "figures are not live");
            }
            self.sender.send_replace(health);
        }
    }
}

async fn measure(
    store: &Store,
    redis: &mut RedisLink,
    keys: &Keys,
    last_marker: &mut Option<i64>,
    clock: &ioc_shared::time::Clock,
) -> FeedHealth {
    // Redis: the current generation, its marker, and whether someone is rebuilding.
    let read_redis = async {
        let current = aggregate::current(redis, keys).await?;
        let rebuilding: Option<String> =
            redis::cmd("GET").arg(keys.rebuilding()).query_async(redis).await?;
        let marker: Option<i64> = match &current {
            Some(keys) => redis::cmd("GET").arg(keys.applied()).query_async(redis).await?,
            None => None,
        };
        Ok::<_, redis::RedisError>((current.is_some(), rebuilding, marker))
    };
    let redis_state = tokio::time::timeout(MEASURE_TIMEOUT, read_redis).await;
    let (redis_reason, rebuilding) = match redis_state {
        Ok(Ok((has_generation, rebuilding, marker))) => {
            if marker.is_some() {
                *last_marker = marker;
            }
            let rebuilding = rebuilding
                .map(|r| r.split_once(' ').map(|(_, why)| why.to_owned()).unwrap_or(r))
                .or_else(|| (!has_generation).then(|| "the figures are being rebuilt".to_owned()));
            (None, rebuilding)
        }
        Ok(Err(error)) => (Some(format!("Redis: {error}")), None),
        Err(_) => (Some("Redis does not answer".to_owned()), None),
    };
    // PostgreSQL: how old the oldest unapplied change is (with the last marker Redis gave).
    let lag = match *last_marker {
        None => Ok(0.0),
        Some(marker) => {
            match tokio::time::timeout(MEASURE_TIMEOUT, store.unapplied(marker)).await {
                Ok(Ok((None, _))) => {
                    METRICS.outbox_depth.set(0);
                    Ok(0.0)
                }
                Ok(Ok((Some(at), depth))) => {
                    METRICS.outbox_depth.set(depth);
                    Ok(((clock.now() - at).num_milliseconds() as f64 / 1000.0).max(0.0))
                }
                Ok(Err(error)) => Err(format!("PostgreSQL: {error}")),
                Err(_) => Err("PostgreSQL does not answer".to_owned()),
            }
        }
    };
    let lag_seconds = lag.as_ref().copied().unwrap_or(0.0);
    METRICS.applier_lag_seconds.set(lag_seconds);
    let (status, reason) = if let Some(why) = rebuilding {
        (FeedStatus::Rebuilding, Some(why))
    } else if let Some(why) = redis_reason {
        (FeedStatus::Unavailable, Some(why))
    } else if let Err(why) = lag {
        (FeedStatus::Unavailable, Some(why))
    } else if lag_seconds > BEHIND_AFTER_SECONDS {
        (FeedStatus::Behind, Some(format!("acknowledged events are {lag_seconds:.0} s behind")))
    } else {
        (FeedStatus::Live, None)
    };
    FeedHealth { status, lag_seconds: (lag_seconds * 10.0).round() / 10.0, reason }
}
