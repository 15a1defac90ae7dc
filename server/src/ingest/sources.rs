//! Source systems: what each one sent, and whether one went silent.
//!
//! Figures are only as live as the systems feeding them. Every batch adds to its source's
//! hourly traffic (accepted, duplicate, rejected, with the reasons); each source's keys say how
//! often it is expected to speak and when ([`Watch`]). A source silent past its interval is
//! flagged to admins ([`report`]) and on every screen showing the units it feeds
//! ([`SourceWatch`], carried by heartbeats).

use crate::accounts::{AccountError, Accounts, Watch};
use crate::catalog::Catalog;
use crate::store::traffic::{Counts, SourceTraffic};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveTime, TimeZone, Utc, Weekday};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::watch;

/// Start and end of the working day for [`Watch::WorkingHours`] (local time, Monday–Friday).
const WORKDAY_START_HOUR: u32 = 8;
const WORKDAY_END_HOUR: u32 = 17;
/// How often silence is re-evaluated for the screens.
const EVALUATE_EVERY: Duration = Duration::from_secs(5);

/// The general form of a rejection reason, so that one cause counts once however the values in
/// it vary: every quoted value is elided, except a field name that opens the reason.
pub fn general_reason(reason: &str) -> String {
    let mut out = String::new();
    for (i, part) in reason.split('`').enumerate() {
        let quoted = i % 2 == 1;
        if quoted && !(i == 1 && reason.starts_with('`')) {
            out.push_str("`…`");
        } else if quoted {
            out.push('`');
            out.push_str(part);
            out.push('`');
        } else {
            out.push_str(part);
        }
    }
    out.chars().take(160).collect()
}

/// Seconds of working time (Monday–Friday, 08:00–17:00 local) between `from` and `to`.
pub fn working_seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    if to <= from {
        return 0;
    }
    let offset = ioc_shared::time::local_offset();
    // Long silences are long: look back at most 60 days.
    let from = from.max(to - ChronoDuration::days(60));
    let mut day = from.with_timezone(&offset).date_naive();
    let last = to.with_timezone(&offset).date_naive();
    let mut total = 0;
    while day <= last {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            let at = |hour: u32| {
                let time = NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN);
                offset
                    .from_local_datetime(&day.and_time(time))
                    .single()
                    .map(|t| t.with_timezone(&Utc))
            };
            if let (Some(start), Some(end)) = (at(WORKDAY_START_HOUR), at(WORKDAY_END_HOUR)) {
                let overlap = (end.min(to) - start.max(from)).num_seconds();
                total += overlap.max(0);
            }
        }
        day = match day.succ_opt() {
            Some(next) => next,
            None => break,
        };
    }
    total
}

/// A key of a source, as its report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyExpectation {
    pub id: i64,
    pub unit: Option<String>,
    pub expected_interval_seconds: i32,
    pub watch: Watch,
}

/// One source: its keys, its traffic, and whether it is silent.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    pub source: String,
    /// Its active keys.
    pub keys: Vec<KeyExpectation>,
    pub last_event_at: Option<DateTime<Utc>>,
    /// Silent past the shortest expected interval of its keys.
    pub silent: bool,
    /// Since when (its last event, or its first key's creation if it never spoke).
    pub silent_since: Option<DateTime<Utc>>,
    pub last_hour: Counts,
    pub last_day: Counts,
    pub top_rejections: Vec<Rejections>,
    /// The units it feeds (`None`: every unit).
    #[serde(skip)]
    pub units: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rejections {
    pub reason: String,
    pub count: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Accounts(#[from] AccountError),
}

/// Every source with an active key or traffic in the last 30 days, as of `now`.
pub async fn report(
    store: &Store,
    accounts: &Accounts,
    now: DateTime<Utc>,
) -> Result<Vec<SourceReport>, SourceError> {
    let traffic: BTreeMap<String, SourceTraffic> =
        store.source_traffic(now).await?.into_iter().map(|t| (t.source.clone(), t)).collect();
    let mut keys_of: BTreeMap<String, Vec<crate::accounts::IngestKey>> = BTreeMap::new();
    for key in accounts.list_keys().await?.into_iter().filter(|k| !k.revoked) {
        keys_of.entry(key.source.clone()).or_default().push(key);
    }
    let sources: Vec<String> = keys_of
        .keys()
        .chain(traffic.keys())
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(sources
        .into_iter()
        .map(|source| {
            let keys = keys_of.remove(&source).unwrap_or_default();
            let traffic = traffic.get(&source);
            let last_event_at = traffic.and_then(|t| t.last_event_at);
            let since = last_event_at.or_else(|| keys.iter().map(|k| k.created_at).min());
            let interval = keys.iter().map(|k| i64::from(k.expected_interval_seconds)).min();
            let watch = if keys.iter().any(|k| k.watch == Watch::Always) {
                Watch::Always
            } else if keys.iter().any(|k| k.watch == Watch::WorkingHours) {
                Watch::WorkingHours
            } else {
                Watch::Never
            };
            let silent = match (since, interval) {
                (Some(since), Some(interval)) => {
                    let quiet = match watch {
                        Watch::Always => (now - since).num_seconds(),
                        Watch::WorkingHours => working_seconds_between(since, now),
                        Watch::Never => 0,
                    };
                    quiet > interval
                }
                _ => false,
            };
            let units = if keys.iter().any(|k| k.unit.is_none()) {
                None
            } else {
                Some(keys.iter().filter_map(|k| k.unit.clone()).collect())
            };
            SourceReport {
                keys: keys
                    .iter()
                    .map(|k| KeyExpectation {
                        id: k.id,
                        unit: k.unit.clone(),
                        expected_interval_seconds: k.expected_interval_seconds,
                        watch: k.watch,
                    })
                    .collect(),
                last_event_at,
                silent,
                silent_since: if silent { since } else { None },
                last_hour: traffic.map(|t| t.last_hour.clone()).unwrap_or_default(),
                last_day: traffic.map(|t| t.last_day.clone()).unwrap_or_default(),
                top_rejections: traffic
                    .map(|t| {
                        t.top_rejections
                            .iter()
                            .map(|(reason, count)| Rejections {
                                reason: reason.clone(),
                                count: *count,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                units,
                source,
            }
        })
        .collect())
}

/// A silent source and the units it feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilentScope {
    pub source: String,
    pub since: DateTime<Utc>,
    /// `None`: it feeds every unit.
    pub units: Option<Vec<String>>,
}

impl SilentScope {
    /// Whether a screen showing `unit` depends on this source: the source feeds the unit, a
    /// unit below it, or a unit above it.
    pub fn concerns(&self, catalog: &Catalog, unit: &str) -> bool {
        match &self.units {
            None => true,
            Some(units) => {
                units.iter().any(|fed| catalog.is_within(fed, unit) || catalog.is_within(unit, fed))
            }
        }
    }
}

/// Shares the silent sources with every live connection; cheap to clone.
#[derive(Clone)]
pub struct SourceWatch {
    sender: watch::Sender<Vec<SilentScope>>,
}

impl Default for SourceWatch {
    fn default() -> SourceWatch {
        SourceWatch { sender: watch::channel(Vec::new()).0 }
    }
}

impl SourceWatch {
    pub fn silent(&self) -> Vec<SilentScope> {
        self.sender.borrow().clone()
    }

    /// Sees every change of the silent sources.
    pub fn changes(&self) -> watch::Receiver<Vec<SilentScope>> {
        self.sender.subscribe()
    }

    /// Re-evaluates silence for ever.
    pub async fn watch(self, store: Store, accounts: Accounts, clock: ioc_shared::time::Clock) {
        let mut every = tokio::time::interval(EVALUATE_EVERY);
        loop {
            every.tick().await;
            match report(&store, &accounts, clock.now()).await {
                Ok(sources) => {
                    let silent: Vec<SilentScope> = sources
                        .into_iter()
                        .filter_map(|s| {
                            Some(SilentScope {
                                since: s.silent_since?,
                                source: s.source,
                                units: s.units,
                            })
                        })
                        .collect();
                    crate::metrics::METRICS.silent_sources.set(silent.len() as i64);
                    self.sender.send_if_modified(|current| {
                        let changed = *current != silent;
                        if changed {
                            for source in silent.iter().filter(|s| !current.iter().any(|c| c.source == s.source)) {
                                tracing::warn!(source = %source.source, since = %source.since, "source went silent");
                            }
                            *current = silent;
                        }
                        changed
                    });
                }
                Err(error) => tracing::debug!(%error, "source silence not evaluated"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        ioc_shared::time::parse_rfc3339(text).unwrap_or_default()
    }

    #[test]
    fn working_time_counts_only_weekday_office_hours() {
        // Friday 16:30 → Monday 08:30: 30 min on Friday, 30 min on Monday.
        assert_eq!(
            working_seconds_between(
                at("2026-11-20T16:30:00+07:00"),
                at("2026-11-23T08:30:00+07:00")
            ),
            3600
        );
        // A night is not working time.
        assert_eq!(
            working_seconds_between(
                at("2026-11-23T18:00:00+07:00"),
                at("2026-11-24T07:59:00+07:00")
            ),
            0
        );
        // A whole working day is nine hours.
        assert_eq!(
            working_seconds_between(
                at("2026-11-23T00:00:00+07:00"),
                at("2026-11-24T00:00:00+07:00")
            ),
            9 * 3600
        );
    }

    #[test]
    fn reasons_count_once_whatever_their_values() {
        assert_eq!(
            general_reason("unknown unit code `X1`: not in the unit catalog"),
            "unknown unit code `…`: not in the unit catalog"
        );
        assert_eq!(
            general_reason("unknown unit code `X2`: not in the unit catalog"),
            general_reason("unknown unit code `Y`: not in the unit catalog")
        );
        assert_eq!(
            general_reason("`summary` contains a NUL character"),
            "`summary` contains a NUL character"
        );
    }
}
