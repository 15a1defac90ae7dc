//! Ingest keys of source systems, with how often each source is expected to speak.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestKey {
    pub id: i64,
    /// Events sent with this key must come from this source.
    pub source: String,
    /// When set, events must be for this unit or a unit below it.
    pub unit: Option<String>,
    pub revoked: bool,
    /// The source is flagged silent when it sends nothing for this long (see `watch`).
    pub expected_interval_seconds: i32,
    pub watch: Watch,
    pub created_at: DateTime<Utc>,
}

/// When a source is expected to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Watch {
    /// Monday–Friday, 08:00–17:00 local: silence is counted in working time only.
    #[default]
    WorkingHours,
    /// Around the clock (a hotline, a Zalo channel).
    Always,
    /// Never flagged.
    Never,
}

impl Watch {
    pub fn as_str(self) -> &'static str {
        match self {
            Watch::WorkingHours => "working-hours",
            Watch::Always => "always",
            Watch::Never => "never",
        }
    }

    pub fn parse(text: &str) -> Option<Watch> {
        match text {
            "working-hours" => Some(Watch::WorkingHours),
            "always" => Some(Watch::Always),
            "never" => Some(Watch::Never),
            _ => None,
        }
    }
}

/// What is expected of a source's key: how often, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectation {
    pub interval_seconds: i32,
    pub watch: Watch,
}

/// Default expectation: every 30 minutes during working hours.
pub const DEFAULT_EXPECTED_INTERVAL_SECONDS: i32 = 1800;

impl Default for Expectation {
    fn default() -> Expectation {
        Expectation {
            interval_seconds: DEFAULT_EXPECTED_INTERVAL_SECONDS,
            watch: Watch::WorkingHours,
        }
    }
}

/// An `ingest_keys` row as stored.
struct KeyRow {
    id: i64,
    source: String,
    unit: Option<String>,
    revoked_at: Option<DateTime<Utc>>,
    expected_interval_seconds: i32,
    watch: String,
    created_at: DateTime<Utc>,
}

impl From<KeyRow> for IngestKey {
    fn from(row: KeyRow) -> IngestKey {
        IngestKey {
            id: row.id,
            source: row.source,
            unit: row.unit,
            revoked: row.revoked_at.is_some(),
            expected_interval_seconds: row.expected_interval_seconds,
            // The schema's CHECK allows only the three values; anything else is watched.
            watch: Watch::parse(&row.watch).unwrap_or_default(),
            created_at: row.created_at,
        }
    }
}

impl Accounts {
    /// Creates a key for a source system; returns it and the key, which is shown only now.
    pub async fn create_key(
        &self,
        source: &str,
        unit: Option<&str>,
        expectation: Expectation,
    ) -> Result<(IngestKey, String), AccountError> {
        let source = source.trim();
        if source.is_empty() || source.chars().count() > 200 || source.chars().any(char::is_control)
        {
            return Err(AccountError::Invalid("a source name has 1–200 characters".into()));
        }
        if !(1..=30 * 86_400).contains(&expectation.interval_seconds) {
            return Err(AccountError::Invalid(
                "the expected interval is 1 second to 30 days".into(),
            ));
        }
        let key = new_secret();
        let row = sqlx::query_as!(
            KeyRow,
            "INSERT INTO ingest_keys (source, unit, key_hash, expected_interval_seconds, watch, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id, source, unit, revoked_at, expected_interval_seconds, watch, created_at",
            source,
            unit,
            secret_hash(&key),
            expectation.interval_seconds,
            expectation.watch.as_str(),
            self.clock.now()
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((IngestKey::from(row), key))
    }

    pub async fn key_by_secret(&self, key: &str) -> Result<Option<IngestKey>, AccountError> {
        let row = sqlx::query_as!(
            KeyRow,
            "SELECT id, source, unit, revoked_at, expected_interval_seconds, watch, created_at FROM ingest_keys WHERE key_hash = $1 AND revoked_at IS NULL",
            secret_hash(key)
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(IngestKey::from))
    }

    pub async fn revoke_key(&self, id: i64) -> Result<IngestKey, AccountError> {
        let row = sqlx::query_as!(
            KeyRow,
            "UPDATE ingest_keys SET revoked_at = $2 WHERE id = $1 RETURNING id, source, unit, revoked_at, expected_interval_seconds, watch, created_at",
            id,
            self.clock.now()
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(IngestKey::from)
            .ok_or_else(|| AccountError::NotFound(format!("no ingest key {id}")))
    }

    pub async fn list_keys(&self) -> Result<Vec<IngestKey>, AccountError> {
        let rows = sqlx::query_as!(
            KeyRow,
            "SELECT id, source, unit, revoked_at, expected_interval_seconds, watch, created_at FROM ingest_keys ORDER BY id"
        )
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(IngestKey::from).collect())
    }
}
