//! Operations: `GET /metrics` (Prometheus), `GET /api/v1/ready` (for a load balancer), and the
//! request id and request metrics of every request.

use super::error::ApiError;
use crate::metrics::METRICS;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ioc_shared::live::FeedStatus;
use serde::Serialize;
use tracing::Instrument;

/// The header a request id comes in and goes back out in.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `ready` answers 503 when the figures are further behind than this.
const READY_MAX_LAG_SECONDS: f64 = 30.0;

pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics)).route("/api/v1/ready", get(ready))
}

/// A router with only `/metrics`, unauthenticated, for `IOC_METRICS_BIND` (an internal address).
pub fn metrics_only() -> Router {
    Router::new().route("/metrics", get(|| async { metrics_text() }))
}

fn metrics_text() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        METRICS.render(),
    )
        .into_response()
}

/// `GET /metrics` on the main port: only with `Authorization: Bearer <IOC_METRICS_TOKEN>`.
async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let Some(expected) = state.settings.metrics_token.as_deref() else {
        return Err(ApiError::NotFound(
            "metrics are served on IOC_METRICS_BIND, or here with IOC_METRICS_TOKEN set".into(),
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(given) if crate::ingest::constant_time_eq(given.as_bytes(), expected.as_bytes()) => {
            Ok(metrics_text())
        }
        _ => Err(ApiError::Unauthorized("send `Authorization: Bearer <IOC_METRICS_TOKEN>`".into())),
    }
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    postgres: &'static str,
    redis: &'static str,
    figures: FeedStatus,
    lag_seconds: f64,
}

/// `GET /api/v1/ready`: 200 only when PostgreSQL and Redis answer and the figures are less than
/// 30 s behind; 503 otherwise (take this replica out of the load balancer).
async fn ready(State(state): State<AppState>) -> Response {
    let limit = state.settings.database_timeout;
    let postgres = tokio::time::timeout(limit, state.store.ping()).await.is_ok_and(|r| r.is_ok());
    let mut redis = state.redis.clone();
    let redis_ok =
        tokio::time::timeout(limit, redis::cmd("PING").query_async::<String>(&mut redis))
            .await
            .is_ok_and(|r| r.is_ok());
    let feed = state.feed.current();
    let ready = postgres
        && redis_ok
        && feed.lag_seconds < READY_MAX_LAG_SECONDS
        && feed.status != FeedStatus::Rebuilding;
    let body = Readiness {
        ready,
        postgres: if postgres { "ok" } else { "down" },
        redis: if redis_ok { "ok" } else { "down" },
        figures: feed.status,
        lag_seconds: feed.lag_seconds,
    };
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

/// A client's request id is used when it is 1–128 visible characters of `A–Z a–z 0–9 . _ : -`;
/// otherwise one is made.
fn request_id(request: &Request) -> String {
    let given = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
    let acceptable = (1..=128).contains(&given.len())
        && given.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if acceptable {
        given.to_owned()
    } else {
        format!("{:016x}", rand::random::<u64>())
    }
}

/// Middleware, around everything: every request gets an id (echoed in `X-Request-Id`) that
/// every log line it causes carries.
pub async fn with_request_id(request: Request, next: Next) -> Response {
    let id = request_id(&request);
    let span = tracing::info_span!("request", id = %id, method = %request.method(), path = %request.uri().path());
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::debug!(
            status = response.status().as_u16(),
            seconds = started.elapsed().as_secs_f64(),
            "request done"
        )
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// Middleware on every route: counts requests by route (the path template, so ids in paths do
/// not multiply the series), method and status, and times them.
pub async fn count(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let method = request.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    METRICS
        .http_requests
        .with_label_values(&[route.as_str(), method.as_str(), response.status().as_str()])
        .inc();
    METRICS.http_seconds.with_label_values(&[route.as_str()]).observe(elapsed);
    if route == "/api/v1/events" {
        METRICS.ingest_seconds.observe(elapsed);
    }
    response
}
