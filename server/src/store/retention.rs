//! Personal data kept no longer than needed: complaint texts are citizens' words.

use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::time::Duration;

impl Store {
    /// Removes the `summary` (the citizen's text), and the personal data of Open311 requests,
    /// of complaints received longer than
    /// `older_than` before `now`. Figures never depend on it, so they stay as they are. Returns how many
    /// events were cleaned.
    pub async fn purge_complaint_texts(
        &self,
        older_than: Duration,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE events SET body = body - 'summary'
             WHERE type = 'complaint.received' AND body ? 'summary' AND at < $2::timestamptz - make_interval(secs => $1)",
        )
        .bind(older_than.as_secs_f64())
        .bind(now)
        .execute(&self.pool)
        .await?;
        // The lists' copy goes with it.
        sqlx::query("UPDATE items SET summary = NULL WHERE kind = 'complaint' AND summary IS NOT NULL AND received_at < $2::timestamptz - make_interval(secs => $1)")
            .bind(older_than.as_secs_f64())
            .bind(now)
            .execute(&self.pool)
            .await?;
        // And what Open311 requests said about the person (names, email, phone, device).
        self.purge_open311_personal_data(older_than, now).await?;
        Ok(done.rows_affected())
    }
}
