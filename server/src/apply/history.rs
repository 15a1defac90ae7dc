//! The day-level history in PostgreSQL, kept from the outbox exactly once (its marker moves in
//! the same transaction as its rows) and rolled up through the catalog; rebuilt from the items
//! when the catalog changes.

use super::{bounded, Applier, ApplyError};
use crate::aggregate::UNKNOWN_UNIT;
use crate::catalog::Catalog;
use crate::store::history::DayChanges;
use crate::store::item::ItemDelta;
use ioc_shared::time::local_day_of_second;

/// Adds what `deltas` change per unit (and every unit above it in `catalog`) and local day:
/// the applier writes these to the history, and a report freezing the history adds those of
/// the rows the history has not applied yet.
pub fn day_changes(catalog: &Catalog, deltas: &[ItemDelta], into: &mut DayChanges) {
    for delta in deltas {
        let mut path: Vec<String> =
            catalog.self_and_ancestors(&delta.unit).iter().map(|u| u.code.clone()).collect();
        if path.is_empty() {
            path.push(UNKNOWN_UNIT.to_owned());
        }
        for count in &delta.counts {
            let day = local_day_of_second(count.at);
            for unit in &path {
                *into.entry((unit.clone(), day, count.counter.clone())).or_default() += count.n;
            }
        }
    }
    into.retain(|_, n| *n != 0);
}

impl Applier {
    /// Applies every outbox row past the history's marker; returns how many.
    pub async fn apply_history(&mut self) -> Result<usize, ApplyError> {
        let mut applied = 0;
        loop {
            let state = bounded(self.store.history_state()).await?;
            if state.fingerprint != self.fingerprint {
                self.rebuild_history().await?;
                continue;
            }
            let rows = bounded(self.store.outbox_after(state.applied_seq, 256)).await?;
            let Some(last) = rows.last().map(|r| r.seq) else { return Ok(applied) };
            let mut changes = DayChanges::new();
            for row in &rows {
                // An unreadable row is quarantined by the Redis side; here it adds nothing.
                if let Ok(deltas) = row.decode() {
                    day_changes(&self.catalog, &deltas, &mut changes);
                }
            }
            if bounded(self.store.apply_history(state.applied_seq, last, &changes)).await? {
                applied += rows.len();
            }
        }
    }

    /// Rolls every item's counts up through the current catalog, replacing the history.
    async fn rebuild_history(&mut self) -> Result<(), ApplyError> {
        tracing::info!("rebuilding the day-level history for the current unit catalog");
        let mut snapshot = bounded(self.store.snapshot()).await?;
        let mut chunks = Vec::new();
        while let Some(chunk) = bounded(snapshot.next_chunk()).await? {
            let mut changes = DayChanges::new();
            day_changes(&self.catalog, &chunk, &mut changes);
            chunks.push(changes);
        }
        let through = snapshot.through_seq;
        bounded(snapshot.finish()).await?;
        bounded(self.store.replace_history(chunks, through, &self.fingerprint)).await?;
        Ok(())
    }
}
