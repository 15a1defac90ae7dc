//! The delivery worker: claims due deliveries (several replicas share the queue: `FOR UPDATE
//! SKIP LOCKED`, and a claim is a lease), sends each, and records the outcome. A failed attempt
//! is retried with exponential backoff until a day after the delivery was queued; then it is
//! `failed`, with the reason, for `GET /api/v1/admin/deliveries?state=failed`.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use ioc_shared::time::Clock;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value;
use sha2::Sha256;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long a claimed delivery is left to its worker before another may try it (a worker
/// killed while sending).
pub const LEASE: Duration = Duration::from_secs(60);
/// Deliveries claimed at once.
const BATCH: i64 = 20;
/// First retry after this; each further one waits twice as long, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(5);
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// A delivery not made within this long of being queued is given up.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
/// How long one webhook POST may take.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the queue is looked at when nothing wakes the worker.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "X-IOC-Signature";

/// The wait before attempt `attempts + 1`.
pub fn backoff(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    FIRST_BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

/// `sha256=<hex HMAC-SHA256 of body with secret>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The id receivers dedupe by: the same for every attempt of a delivery.
pub fn delivery_id(row: i64) -> String {
    format!("ioc-delivery-{row}")
}

/// The exact bytes a webhook receives: the stored event with its delivery's `id`.
pub fn webhook_body(row: i64, payload: &Value) -> Vec<u8> {
    let mut body = payload.clone();
    if let Some(object) = body.as_object_mut() {
        object.insert("id".into(), Value::String(delivery_id(row)));
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: i64,
    channel: String,
    address: Option<String>,
    event_type: String,
    payload: Value,
    created_at: DateTime<Utc>,
    attempts: i32,
    url: Option<String>,
    secret: Option<String>,
}

/// Sends the queued deliveries, for ever (a supervised task).
#[derive(Clone)]
pub struct Deliverer {
    pub pool: PgPool,
    /// "Now" for leases, backoff and giving up.
    pub clock: Clock,
    /// `None`: no SMTP server is configured (emails are then never queued).
    pub smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    pub from: Mailbox,
    pub http: reqwest::Client,
    /// Woken after a transaction queued deliveries on this replica.
    pub wake: Arc<Notify>,
}

/// Why a delivery attempt failed, in words for the admin.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("{0}")]
    Refused(String),
}

impl Deliverer {
    pub async fn run(self) {
        loop {
            match self.claim().await {
                Ok(batch) if !batch.is_empty() => {
                    for claimed in batch {
                        self.attempt(claimed).await;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "deliveries not read; retrying"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
    }

    async fn claim(&self) -> Result<Vec<Claimed>, sqlx::Error> {
        let now = self.clock.now();
        let lease_until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        sqlx::query_as(
            "WITH due AS (
               SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_at <= $1
               ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED
             ), claimed AS (
               UPDATE deliveries d SET next_attempt_at = $2, attempts = d.attempts + 1
               FROM due WHERE d.id = due.id
               RETURNING d.id, d.channel, d.address, d.event_type, d.payload, d.created_at, d.attempts, d.webhook_id
             )
             SELECT c.id, c.channel, c.address, c.event_type, c.payload, c.created_at, c.attempts, w.url, w.secret
             FROM claimed c LEFT JOIN webhooks w ON w.id = c.webhook_id ORDER BY c.id",
        )
        .bind(now)
        .bind(lease_until)
        .bind(BATCH)
        .fetch_all(&self.pool)
        .await
    }

    async fn attempt(&self, claimed: Claimed) {
        let outcome = match claimed.channel.as_str() {
            "email" => self.send_email(&claimed).await,
            _ => self.send_webhook(&claimed).await,
        };
        let now = self.clock.now();
        let recorded = match outcome {
            Ok(()) => {
                sqlx::query(
                    "UPDATE deliveries SET state = 'delivered', delivered_at = $2, last_error = NULL WHERE id = $1",
                )
                .bind(claimed.id)
                .bind(now)
                .execute(&self.pool)
                .await
            }
            Err(error) => {
                let reason = error.to_string();
                let next = now + chrono::Duration::from_std(backoff(claimed.attempts)).unwrap_or_default();
                let give_up = next
                    > claimed.created_at
                        + chrono::Duration::from_std(GIVE_UP_AFTER).unwrap_or_default();
                tracing::warn!(delivery = claimed.id, event = %claimed.event_type, %reason, give_up, "delivery failed");
                sqlx::query(
                    "UPDATE deliveries SET state = CASE WHEN $4 THEN 'failed' ELSE 'pending' END,
                       next_attempt_at = $2, last_error = $3 WHERE id = $1",
                )
                .bind(claimed.id)
                .bind(next)
                .bind(reason)
                .bind(give_up)
                .execute(&self.pool)
                .await
            }
        };
        match recorded {
            Ok(_) => self.prune_attachments(&claimed).await,
            // The lease runs out and the delivery is tried again: at least once.
            Err(error) => {
                tracing::warn!(%error, delivery = claimed.id, "delivery outcome not recorded")
            }
        }
    }

    /// Forgets the files `claimed` carried once no email still to be sent, or that failed and
    /// may be sent again, names them (a scheduled report's PDF is about 50 KB a run).
    async fn prune_attachments(&self, claimed: &Claimed) {
        let ids = attachment_ids(&claimed.payload);
        if ids.is_empty() {
            return;
        }
        let pruned = sqlx::query(
            "DELETE FROM mail_attachments a WHERE a.id = ANY($1) AND NOT EXISTS (
                 SELECT 1 FROM deliveries d WHERE d.channel = 'email' AND d.state <> 'delivered'
                   AND d.payload -> 'attachments' @> to_jsonb(a.id))",
        )
        .bind(&ids)
        .execute(&self.pool)
        .await;
        if let Err(error) = pruned {
            // Kept until a later delivery of the same files prunes them.
            tracing::warn!(%error, delivery = claimed.id, "mail attachments not pruned");
        }
    }

    async fn send_webhook(&self, claimed: &Claimed) -> Result<(), SendError> {
        let (Some(url), Some(secret)) = (&claimed.url, &claimed.secret) else {
            return Err(SendError::Refused("the webhook was deleted".into()));
        };
        let body = webhook_body(claimed.id, &claimed.payload);
        let response = self
            .http
            .post(url)
            .timeout(WEBHOOK_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature(secret, &body))
            .header("X-IOC-Event", &claimed.event_type)
            .header("X-IOC-Delivery", delivery_id(claimed.id))
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::Refused(format!("POST {url}: {}", crate::errors::chain(&e))))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(SendError::Refused(format!("POST {url}: answered {}", response.status())))
        }
    }

    async fn send_email(&self, claimed: &Claimed) -> Result<(), SendError> {
        let Some(smtp) = &self.smtp else {
            return Err(SendError::Refused("no SMTP server is configured (IOC_SMTP_URL)".into()));
        };
        let address = claimed.address.as_deref().unwrap_or_default();
        let to: Mailbox = address
            .parse()
            .map_err(|e| SendError::Refused(format!("`{address}` is not an email address: {e}")))?;
        let subject = claimed.payload["subject"].as_str().unwrap_or("IOC");
        let text = claimed.payload["text"].as_str().unwrap_or_default().to_owned();
        let attachments = self.attachments(&claimed.payload).await?;
        let builder = lettre::message::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            // The same for every attempt: a mail client shows a repeated delivery once.
            .message_id(Some(format!("<{}@ioc>", delivery_id(claimed.id))));
        let built = if attachments.is_empty() {
            builder.header(lettre::message::header::ContentType::TEXT_PLAIN).body(text)
        } else {
            let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(text));
            for (filename, content_type, content) in attachments {
                let content_type = lettre::message::header::ContentType::parse(&content_type)
                    .unwrap_or(lettre::message::header::ContentType::TEXT_PLAIN);
                parts = parts.singlepart(Attachment::new(filename).body(content, content_type));
            }
            builder.multipart(parts)
        };
        let message = built.map_err(|e| SendError::Refused(format!("message not built: {e}")))?;
        smtp.send(message)
            .await
            .map(|_| ())
            .map_err(|e| SendError::Refused(format!("SMTP: {}", crate::errors::chain(&e))))
    }
}

/// The ids of `mail_attachments` an email's payload names (`attachments`), in order.
fn attachment_ids(payload: &Value) -> Vec<i64> {
    payload["attachments"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

impl Deliverer {
    /// The files an email's payload names (`attachments`: ids of `mail_attachments`), in order.
    async fn attachments(
        &self,
        payload: &Value,
    ) -> Result<Vec<(String, String, Vec<u8>)>, SendError> {
        let ids = attachment_ids(payload);
        let mut files = Vec::with_capacity(ids.len());
        for id in ids {
            let file: Option<(String, String, Vec<u8>)> = sqlx::query_as(
                "SELECT filename, content_type, content FROM mail_attachments WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| SendError::Refused(format!("attachment {id} not read: {e}")))?;
            files.push(file.ok_or_else(|| SendError::Refused(format!("attachment {id} is gone")))?);
        }
        Ok(files)
    }
}

/// The SMTP transport for `IOC_SMTP_URL` (`smtp://host:port`, `smtp://user:pass@host:587?tls=required`
/// for STARTTLS, `smtps://host:465` for TLS from the start).
pub fn smtp_transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map(|builder| builder.timeout(Some(Duration::from_secs(20))).build())
        .map_err(|e| format!("IOC_SMTP_URL: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(5), Duration::from_secs(80));
        assert_eq!(backoff(50), MAX_BACKOFF);
        assert_eq!(backoff(0), FIRST_BACKOFF);
    }

    #[test]
    fn a_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn every_attempt_sends_the_same_bytes_with_the_delivery_id() {
        let payload = serde_json::json!({"type": "alert.firing", "alert": {"id": 3}});
        let body = webhook_body(42, &payload);
        assert_eq!(body, webhook_body(42, &payload));
        let read: Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(read["id"], "ioc-delivery-42");
        assert_eq!(read["alert"]["id"], 3);
    }
}
