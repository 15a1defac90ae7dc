//! The webhooks notifications are POSTed to, and the record of every delivery.

use super::EVENT_TYPES;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// Longest webhook URL.
pub const MAX_URL_CHARS: usize = 2_000;
/// Shortest and longest secret: long enough to sign, short enough to type into a bridge.
pub const SECRET_CHARS: std::ops::RangeInclusive<usize> = 16..=200;
/// Deliveries per page of `GET /api/v1/admin/deliveries`.
pub const DELIVERIES_PER_PAGE: i64 = 100;

/// A webhook as created.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
}

/// A webhook as shown (never its secret).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
}

/// One delivery, as the admin reads it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Delivery {
    pub id: i64,
    pub channel: String,
    pub webhook_id: Option<i64>,
    pub address: Option<String>,
    pub username: Option<String>,
    pub event_type: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Checks a webhook as sent; the message says what to change.
pub fn check(new: &NewWebhook) -> Result<(), String> {
    // Control characters are never part of an address or a secret a bridge can type (and
    // PostgreSQL refuses a NUL in text).
    for (field, text) in [("url", &new.url), ("secret", &new.secret)] {
        if text.chars().any(char::is_control) {
            return Err(format!("`{field}` contains a control character"));
        }
    }
    let url = reqwest::Url::parse(&new.url).map_err(|e| format!("`url` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("`url` must be an http:// or https:// address".into());
    }
    if new.url.chars().count() > MAX_URL_CHARS {
        return Err(format!("`url` is longer than {MAX_URL_CHARS} characters"));
    }
    if !SECRET_CHARS.contains(&new.secret.chars().count()) {
        return Err(format!(
            "`secret` must have {} to {} characters",
            SECRET_CHARS.start(),
            SECRET_CHARS.end()
        ));
    }
    if new.events.is_empty() {
        return Err(format!("`events` must name at least one of {}", EVENT_TYPES.join(", ")));
    }
    if let Some(unknown) = new.events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
        return Err(format!("unknown event `{unknown}`; expected {}", EVENT_TYPES.join(", ")));
    }
    Ok(())
}

pub async fn create(
    pool: &PgPool,
    new: &NewWebhook,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<Webhook, sqlx::Error> {
    let mut events = new.events.clone();
    events.sort();
    events.dedup();
    sqlx::query_as(
        "INSERT INTO webhooks (url, secret, events, created_by, created_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, url, events, created_by, created_at, disabled",
    )
    .bind(&new.url)
    .bind(&new.secret)
    .bind(events)
    .bind(created_by)
    .bind(now)
    .fetch_one(pool)
    .await
}

pub async fn list(pool: &PgPool) -> Result<Vec<Webhook>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, url, events, created_by, created_at, disabled FROM webhooks ORDER BY id",
    )
    .fetch_all(pool)
    .await
}

/// Disables a webhook: new events skip it; deliveries already queued still go (they were
/// promised). True when it existed.
pub async fn disable(pool: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE webhooks SET disabled = true WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Deliveries, newest first, optionally of one state; `before` pages on.
pub async fn deliveries(
    pool: &PgPool,
    state: Option<&str>,
    before: Option<i64>,
) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, channel, webhook_id, address, username, event_type, state, attempts, next_attempt_at,
                last_error, created_at, delivered_at
         FROM deliveries
         WHERE ($1::text IS NULL OR state = $1) AND ($2::bigint IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3",
    )
    .bind(state)
    .bind(before)
    .bind(DELIVERIES_PER_PAGE)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn webhook(url: &str, secret: &str) -> NewWebhook {
        NewWebhook { url: url.into(), secret: secret.into(), events: vec!["alert.firing".into()] }
    }

    /// Schemathesis in CI: a NUL in the secret reached PostgreSQL, which refused it: 500.
    #[test]
    fn regression_a_nul_in_the_url_or_the_secret_is_a_clear_refusal() {
        assert!(check(&webhook("https://bridge.example/hook", "a-secret-of-sixteen")).is_ok());
        let nul = check(&webhook("https://bridge.example/hook", "a-secret\0of-sixteen"));
        assert_eq!(nul.unwrap_err(), "`secret` contains a control character");
        let nul = check(&webhook("https://bridge.example/ho\0ok", "a-secret-of-sixteen"));
        assert_eq!(nul.unwrap_err(), "`url` contains a control character");
    }
}
