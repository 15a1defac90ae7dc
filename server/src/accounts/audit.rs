//! The audit log: who did what, when and from where; pruned after its retention.

use super::*;

#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub address: Option<String>,
}

impl Accounts {
    /// Records an entry; a failure to record is logged, never fatal to the request.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
        address: Option<&str>,
    ) {
        let result = sqlx::query!(
            "INSERT INTO audit_log (actor, action, target, detail, address, at) VALUES ($1, $2, $3, $4, $5, $6)",
            actor,
            action,
            target,
            detail,
            address,
            self.clock.now(),
        )
        .execute(&self.pool)
        .await;
        if let Err(error) = result {
            tracing::error!(%error, action, "audit entry not recorded");
        }
    }

    /// Deletes audit entries older than `older_than`; returns how many.
    pub async fn prune_audit(&self, older_than: Duration) -> Result<u64, AccountError> {
        let done = sqlx::query!(
            "DELETE FROM audit_log WHERE at < $2::timestamptz - make_interval(secs => $1)",
            older_than.as_secs_f64(),
            self.clock.now(),
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The newest entries first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditRecord>, AccountError> {
        let rows = sqlx::query_as!(
            AuditRecord,
            "SELECT id, at, actor, action, target, detail, address FROM audit_log ORDER BY id DESC LIMIT $1",
            limit.clamp(1, 10_000),
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
