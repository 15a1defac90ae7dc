//! Items stored by an earlier release get their list view (who holds them, when due, …) folded
//! from their events, a chunk at a time, in the background.

use super::events::{stored_events_of, ItemKey, ViewColumns, VIEW_VERSION};
use super::item;
use super::{Store, StoreError};
use ioc_shared::event::{Event, ItemKind};
use std::collections::HashMap;

/// Items refolded per transaction.
const CHUNK: i64 = 500;

#[derive(sqlx::FromRow)]
struct Key {
    source: String,
    kind: String,
    item_id: String,
}

impl Store {
    /// Refolds the views of up to one chunk of items written before [`VIEW_VERSION`]; returns
    /// how many (0: all are current).
    pub async fn backfill_views(&self) -> Result<usize, StoreError> {
        let mut tx = crate::store::begin(&self.pool).await?;
        let keys: Vec<Key> = sqlx::query_as(
            "SELECT source, kind, item_id FROM items WHERE view_version < $1 ORDER BY source, kind, item_id LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(VIEW_VERSION)
        .bind(CHUNK)
        .fetch_all(&mut *tx)
        .await?;
        if keys.is_empty() {
            return Ok(0);
        }
        let keys: Vec<ItemKey> = keys.into_iter().map(|k| (k.source, k.kind, k.item_id)).collect();
        let mut events_of: HashMap<ItemKey, Vec<Event>> = HashMap::new();
        for row in stored_events_of(&mut tx, &keys).await? {
            // An unreadable event was quarantined when it was met at ingest; here it is skipped.
            if let Ok(event) = row.event() {
                events_of.entry((row.source, row.item_kind, row.item_id)).or_default().push(event);
            }
        }
        let mut views = ViewColumns::default();
        for key in &keys {
            let mut events = events_of.remove(key).unwrap_or_default();
            item::sort_for_fold(&mut events);
            let kind = ItemKind::parse(&key.1).unwrap_or(ItemKind::Dossier);
            views.push(item::view(kind, &events));
        }
        let sources: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
        let kinds: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
        let ids: Vec<&str> = keys.iter().map(|k| k.2.as_str()).collect();
        views.write(&mut tx, &sources, &kinds, &ids).await?;
        tx.commit().await?;
        Ok(keys.len())
    }

    /// Backfills every item's view, then checks again once an hour.
    pub async fn backfill_views_forever(self) {
        loop {
            let mut done = 0;
            loop {
                match self.backfill_views().await {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(error) => {
                        tracing::warn!(%error, "item views not backfilled; retrying later");
                        break;
                    }
                }
            }
            if done > 0 {
                tracing::info!(items = done, "item list views backfilled");
            }
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    }
}
