//! Notifications that arrive, once: email over SMTP and signed webhooks.
//!
//! What causes a notification (an alert firing, escalating or resolving; an explanation asked,
//! answered or overdue) writes its deliveries with [`enqueue`] **in its own transaction**, so a
//! crash between the cause and the sending delays a notification but never loses it.
//! [`deliver::Deliverer`] sends them with backoff for up to a day; receivers dedupe by the
//! delivery's `id` (a delivery may arrive twice when a worker dies after sending but before
//! recording it). [`webhooks`] keeps the receivers.
//!
//! "The chiefs of a unit" are the active `chief` users of that unit or, where it has none, of
//! the nearest unit above it that has ([`people`]).

pub mod deliver;
pub mod webhooks;

use crate::catalog::Catalog;
use chrono::{DateTime, Utc};
use ioc_shared::access::Role;
use serde::Serialize;
use serde_json::{json, Value};

/// The events a webhook may subscribe to.
pub const EVENT_TYPES: [&str; 6] = [
    "alert.firing",
    "alert.resolved",
    "alert.escalated",
    "explanation.requested",
    "explanation.answered",
    "explanation.overdue",
];

/// A person to tell: an email goes to `email`; webhooks get `phone` too (for SMS or Zalo
/// gateways).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Person {
    pub username: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Who to tell about something in `unit`.
#[derive(Debug, Clone, Default)]
pub struct Audience {
    /// Chiefs: of the unit, or of the nearest unit above it that has any. Leaders and admins:
    /// all of them.
    pub roles: Vec<Role>,
    /// By name (active users only).
    pub users: Vec<String>,
}

/// What a cause of notifications needs of the delivery worker.
#[derive(Clone)]
pub struct Notices {
    /// Emails are queued only when an SMTP server is configured.
    pub email: bool,
    /// Woken after a transaction queued deliveries.
    pub wake: std::sync::Arc<tokio::sync::Notify>,
}

/// Which webhooks get an event.
#[derive(Debug, Clone)]
pub enum Webhooks {
    /// These (an alert rule's `notify.webhooks`), when they subscribe to the event's type.
    Listed(Vec<i64>),
    /// Every webhook subscribed to the event's type.
    Subscribed,
}

/// One event to notify.
#[derive(Debug, Clone)]
pub struct Notice {
    /// One of [`EVENT_TYPES`].
    pub event_type: &'static str,
    pub at: DateTime<Utc>,
    /// `alert` or `explanation`: the key of [`Notice::object`] in the webhook's body.
    pub object_key: &'static str,
    pub object: Value,
    /// The email's subject and text (Vietnamese).
    pub subject: String,
    pub text: String,
    /// Files the email carries ([`attach`]).
    pub attachments: Vec<i64>,
}

/// Keeps a file for emails to carry (once, however many people they go to); returns the id a
/// [`Notice::attachments`] names. Call it in the transaction that queues the emails.
pub async fn attach(
    conn: &mut sqlx::PgConnection,
    filename: &str,
    content_type: &str,
    content: &[u8],
    at: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO mail_attachments (filename, content_type, content, created_at)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(filename)
    .bind(content_type)
    .bind(content)
    .bind(at)
    .fetch_one(conn)
    .await
}

/// The active people `audience` names for `unit`.
pub async fn people(
    conn: &mut sqlx::PgConnection,
    catalog: &Catalog,
    unit: &str,
    audience: &Audience,
) -> Result<Vec<Person>, sqlx::Error> {
    let mut found: Vec<Person> = Vec::new();
    if audience.roles.contains(&Role::Chief) {
        // The unit, then each unit above it, until one has chiefs.
        for candidate in catalog.self_and_ancestors(unit) {
            let chiefs: Vec<Person> = sqlx::query_as(
                "SELECT username, email, phone FROM users
                 WHERE role = 'chief' AND unit = $1 AND NOT disabled ORDER BY username",
            )
            .bind(&candidate.code)
            .fetch_all(&mut *conn)
            .await?;
            if !chiefs.is_empty() {
                found.extend(chiefs);
                break;
            }
        }
    }
    let others: Vec<&str> = audience
        .roles
        .iter()
        .filter(|role| **role != Role::Chief)
        .map(|role| role.as_str())
        .collect();
    let by_role_or_name: Vec<Person> = sqlx::query_as(
        "SELECT username, email, phone FROM users
         WHERE NOT disabled AND (role = ANY($1) OR username = ANY($2)) ORDER BY username",
    )
    .bind(others)
    .bind(&audience.users)
    .fetch_all(&mut *conn)
    .await?;
    found.extend(by_role_or_name);
    found.sort_by(|a, b| a.username.cmp(&b.username));
    found.dedup_by(|a, b| a.username == b.username);
    Ok(found)
}

/// Writes the deliveries of `notice`: one email per person with an address (when email is
/// configured), one POST per webhook. Call it in the transaction of what caused the notice.
pub async fn enqueue(
    conn: &mut sqlx::PgConnection,
    notice: &Notice,
    people: &[Person],
    webhooks: &Webhooks,
    email: bool,
) -> Result<usize, sqlx::Error> {
    let mut written = 0;
    if email {
        let mail = json!({
            "subject": notice.subject,
            "text": notice.text,
            "attachments": notice.attachments,
        });
        for person in people {
            let Some(address) = person.email.as_deref().filter(|a| !a.is_empty()) else {
                continue;
            };
            sqlx::query(
                "INSERT INTO deliveries (channel, address, username, event_type, payload, next_attempt_at, created_at)
                 VALUES ('email', $1, $2, $3, $4, $5, $5)",
            )
            .bind(address)
            .bind(&person.username)
            .bind(notice.event_type)
            .bind(&mail)
            .bind(notice.at)
            .execute(&mut *conn)
            .await?;
            written += 1;
        }
    }
    let listed: Option<Vec<i64>> = match webhooks {
        Webhooks::Listed(ids) if ids.is_empty() => return Ok(written),
        Webhooks::Listed(ids) => Some(ids.clone()),
        Webhooks::Subscribed => None,
    };
    let body = json!({
        "type": notice.event_type,
        "at": ioc_shared::time::to_local_rfc3339(notice.at),
        notice.object_key: notice.object,
        "recipients": people,
    });
    let done = sqlx::query(
        "INSERT INTO deliveries (channel, webhook_id, event_type, payload, next_attempt_at, created_at)
         SELECT 'webhook', id, $1, $2, $3, $3 FROM webhooks
         WHERE NOT disabled AND $1 = ANY(events) AND ($4::bigint[] IS NULL OR id = ANY($4))",
    )
    .bind(notice.event_type)
    .bind(&body)
    .bind(notice.at)
    .bind(listed)
    .execute(&mut *conn)
    .await?;
    Ok(written + done.rows_affected() as usize)
}
