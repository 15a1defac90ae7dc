//! Ingest: checking each event of a batch on its own and storing the valid ones.
//!
//! [`Ingestor::ingest`] checks each event against the contract ([`parse_event`](ioc_shared::event::parse_event)), the unit
//! catalog and the sender's key, stores the valid ones in one transaction ([`crate::store`]),
//! and wakes the applier. A bad event never costs its batch-mates their place: the response
//! lists each refused event by index with its reason. The HTTP endpoint
//! (`POST /api/v1/events`) and the demo feed both come through here; [`body`] reads a request
//! body into entries.

pub mod body;
pub mod group;
pub mod open311;
pub mod sources;

use crate::accounts::{AccountError, Accounts, IngestKey};
use crate::catalog::Catalog;
use crate::metrics::METRICS;
use crate::store::traffic::Traffic;
use crate::store::{Store, StoreError};
use ioc_shared::event::{parse_incoming_event, Event, MAX_ID_CHARS};
use ioc_shared::invalid::Invalid;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestResponse {
    /// Newly stored events.
    pub accepted: usize,
    /// Events already stored before (same source and id): counted once, not an error.
    pub duplicates: usize,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Position in the request: array index, or the 0-based line among non-blank NDJSON lines.
    pub index: usize,
    /// The event's `id` when it had a readable one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub error: String,
}

/// Why one event of a batch was refused; its text is the rejection's `error`.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// An NDJSON line (or a value the server made) that is not JSON.
    #[error("line is not valid JSON: {0}")]
    NotJson(serde_json::Error),
    /// Against the event contract.
    #[error("{0}")]
    Invalid(#[from] Invalid),
    #[error("unknown unit code `{0}`: not in the unit catalog")]
    UnknownUnit(String),
    #[error("source `{sent}` does not match this key's source `{key}`")]
    ForeignSource { sent: String, key: String },
    #[error("unit `{unit}` is outside the units this key may send for (`{root}` and below)")]
    OutsideKey { unit: String, root: String },
}

/// Who is sending, and what they may send.
#[derive(Debug, Clone)]
pub enum Sender {
    /// The bootstrap `IOC_INGEST_TOKEN`, or the server itself (the demo simulator): any source, any unit.
    Trusted,
    /// A source system's key: its own source only, and only its unit subtree when limited.
    Key(IngestKey),
}

/// The sender behind a bearer token: the bootstrap token (when configured), or an active key.
pub async fn identify(
    accounts: &Accounts,
    bootstrap_token: Option<&str>,
    given: &str,
) -> Result<Option<Sender>, AccountError> {
    if let Some(expected) = bootstrap_token {
        if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Ok(Some(Sender::Trusted));
        }
    }
    Ok(accounts.key_by_secret(given).await?.map(Sender::Key))
}

/// Checks and stores batches. Cheap to clone.
#[derive(Clone)]
pub struct Ingestor {
    catalog: Catalog,
    store: Store,
    /// Woken after a batch changed aggregates, so the applier need not wait for its next poll.
    applier_wake: Arc<Notify>,
    /// "Now": which events are too far in the future.
    clock: ioc_shared::time::Clock,
    /// Stores this replica's batches, those waiting together in one transaction.
    writer: group::GroupWriter,
}

impl Ingestor {
    pub fn new(
        catalog: Catalog,
        store: Store,
        applier_wake: Arc<Notify>,
        clock: ioc_shared::time::Clock,
    ) -> Ingestor {
        let writer = group::GroupWriter::new(store.clone(), clock.clone());
        Ingestor { catalog, store, applier_wake, clock, writer }
    }

    /// Stops this replica's ingest writer as a crash would (for tests); the next batch starts
    /// a new one.
    pub fn kill_writer(&self) {
        self.writer.kill();
    }

    /// Checks and stores events given as JSON values (or per-line parse errors).
    pub async fn ingest(
        &self,
        sender: &Sender,
        values: Vec<body::Entry>,
    ) -> Result<IngestResponse, StoreError> {
        let now = self.clock.now();
        let mut response = IngestResponse::default();
        let mut valid: Vec<(usize, Event)> = Vec::with_capacity(values.len());
        // The source each entry names (for its traffic), whether or not it is valid.
        let mut sources: Vec<String> = Vec::with_capacity(values.len());
        for (index, value) in values.into_iter().enumerate() {
            sources.push(
                value
                    .as_ref()
                    .ok()
                    .and_then(|v| v.get("source"))
                    .and_then(Value::as_str)
                    .map(|s| s.trim().chars().take(200).collect::<String>())
                    .filter(|s| !s.is_empty() && !s.contains('\0'))
                    .unwrap_or_else(|| ioc_shared::event::DEFAULT_SOURCE.to_owned()),
            );
            let value = match value {
                Ok(value) => value,
                Err(error) => {
                    response.rejected.push(Rejected { index, id: None, error: error.to_string() });
                    continue;
                }
            };
            let checked = parse_incoming_event(&value, now, crate::calendar::active())
                .map_err(Rejection::from)
                .and_then(|event| {
                    if !self.catalog.contains(&event.unit) {
                        return Err(Rejection::UnknownUnit(event.unit));
                    }
                    self.check_sender(sender, &value, event)
                });
            match checked {
                Ok(event) => valid.push((index, event)),
                Err(error) => response.rejected.push(Rejected {
                    index,
                    id: id_of(&value),
                    error: error.to_string(),
                }),
            }
        }
        let (valid, outcome) = self.writer.ingest(valid).await;
        let outcome = outcome?;
        response.accepted = outcome.accepted;
        response.duplicates = outcome.duplicates;
        if !outcome.rejected.is_empty() {
            let ids: HashMap<usize, &str> =
                valid.iter().map(|(i, e)| (*i, e.id.as_str())).collect();
            for (index, error) in outcome.rejected {
                let id = ids.get(&index).map(|id| (*id).to_owned());
                response.rejected.push(Rejected { index, id, error });
            }
        }
        response.rejected.sort_by_key(|r| r.index);
        if outcome.changed {
            self.applier_wake.notify_one();
        }
        self.record_traffic(sender, &sources, &outcome.stored, &response, now);
        Ok(response)
    }

    /// Adds the batch to each source's hourly traffic, in the background (it never holds up or
    /// fails an acknowledged batch).
    fn record_traffic(
        &self,
        sender: &Sender,
        sources: &[String],
        stored: &[usize],
        response: &IngestResponse,
        now: chrono::DateTime<chrono::Utc>,
    ) {
        let mut by_source: BTreeMap<String, Traffic> = BTreeMap::new();
        let rejected: HashMap<usize, &str> =
            response.rejected.iter().map(|r| (r.index, r.error.as_str())).collect();
        let stored: HashSet<usize> = stored.iter().copied().collect();
        for (index, source) in sources.iter().enumerate() {
            let source = match sender {
                Sender::Key(key) => key.source.clone(),
                Sender::Trusted => source.clone(),
            };
            let label = METRICS.capped("source", &source);
            let traffic = by_source.entry(source).or_default();
            if let Some(reason) = rejected.get(&index) {
                traffic.rejected += 1;
                let reason = sources::general_reason(reason);
                METRICS
                    .events
                    .with_label_values(&[
                        label.as_str(),
                        "rejected",
                        METRICS.capped("reason", &reason).as_str(),
                    ])
                    .inc();
                *traffic.reasons.entry(reason).or_default() += 1;
            } else if stored.contains(&index) {
                traffic.accepted += 1;
                METRICS.events.with_label_values(&[label.as_str(), "accepted", ""]).inc();
            } else {
                traffic.duplicates += 1;
                METRICS.events.with_label_values(&[label.as_str(), "duplicate", ""]).inc();
            }
        }
        if by_source.is_empty() {
            return;
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(error) = store.record_traffic(&by_source, now).await {
                tracing::warn!(%error, "source traffic not recorded");
            }
        });
    }

    /// Holds a keyed event to its key's source and unit subtree.
    fn check_sender(
        &self,
        sender: &Sender,
        value: &Value,
        mut event: Event,
    ) -> Result<Event, Rejection> {
        let Sender::Key(key) = sender else { return Ok(event) };
        match value.get("source").and_then(Value::as_str) {
            None => event.source = key.source.clone(),
            Some(source) if source.trim() == key.source => {}
            Some(source) => {
                return Err(Rejection::ForeignSource {
                    sent: source.to_owned(),
                    key: key.source.clone(),
                });
            }
        }
        if let Some(root) = &key.unit {
            if !self.catalog.is_within(&event.unit, root) {
                return Err(Rejection::OutsideKey { unit: event.unit, root: root.clone() });
            }
        }
        Ok(event)
    }
}

/// The event's `id` to echo in a rejection, cut to [`MAX_ID_CHARS`] characters (a refused id
/// may be anything a client sent).
fn id_of(value: &Value) -> Option<String> {
    value.get("id").and_then(Value::as_str).map(|id| id.chars().take(MAX_ID_CHARS).collect())
}

/// Compares secrets without revealing, through timing, how much of them matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
