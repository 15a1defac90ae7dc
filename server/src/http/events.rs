//! `POST /api/v1/events`: the front door for source systems (a bearer key, not a browser).

use super::error::{bounded, ApiError};
use super::extract::client_address;
use super::session::gate;
use crate::accounts::throttle::Throttle;
use crate::ingest::body::{read_json_array, read_ndjson, MAX_BODY_BYTES};
use crate::ingest::{self, IngestResponse};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header;
use axum::routing::post;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/events", post(post_events))
}

async fn post_events(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<IngestResponse>, ApiError> {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let limit = state.settings.database_timeout;
    let sender = sender_of(&state, &parts).await?;
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        ApiError::PayloadTooLarge(format!(
            "request body is larger than {} MiB",
            MAX_BODY_BYTES / (1024 * 1024)
        ))
    })?;
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson"));
    let values = if ndjson { read_ndjson(&bytes)? } else { read_json_array(&bytes)? };
    // A PostgreSQL that stops answering (a connection that hangs without closing) gets a 503
    // within the database time-out: nothing of the batch was acknowledged.
    Ok(Json(bounded(limit, state.ingestor.ingest(&sender, values)).await?))
}

/// The source system whose ingest key the request carries (`Authorization: Bearer <key>`).
/// A valid key is never held back; wrong ones are counted per address, audited, and refused
/// (429) past the limit.
pub async fn sender_of(
    state: &AppState,
    parts: &axum::http::request::Parts,
) -> Result<ingest::Sender, ApiError> {
    let given = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::Unauthorized("missing `Authorization: Bearer <ingest key>` header".into())
        })?;
    sender_for_key(state, parts, given).await
}

/// The source system an ingest key belongs to, however it was sent (a bearer header, or
/// Open311's `api_key`); wrong keys are counted, audited and throttled per address.
pub async fn sender_for_key(
    state: &AppState,
    parts: &axum::http::request::Parts,
    given: &str,
) -> Result<ingest::Sender, ApiError> {
    let limit = state.settings.database_timeout;
    if let Some(sender) = bounded(
        limit,
        ingest::identify(&state.accounts, state.settings.ingest_token.as_deref(), given),
    )
    .await?
    {
        return Ok(sender);
    }
    let address = client_address(&state.settings, parts);
    let throttle =
        Throttle::new(state.redis.clone(), &state.keys, "ingest", None, address.as_deref());
    gate(&throttle, "ingest key").await?;
    crate::metrics::METRICS.access_failures.with_label_values(&["ingest key", "failed"]).inc();
    state
        .accounts
        .audit("anonymous", "ingest_key_failed", Some(parts.uri.path()), None, address.as_deref())
        .await;
    Err(ApiError::Unauthorized("invalid or revoked ingest key".into()))
}
