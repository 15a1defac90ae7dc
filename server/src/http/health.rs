//! `GET /api/v1/health` (liveness: are PostgreSQL and Redis answering) and the OpenAPI document.

use crate::accounts::access::Caller;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// The OpenAPI description of the public interface, served at `/api/v1/openapi.yaml`.
const OPENAPI_YAML: &str = include_str!("../../../docs/openapi.yaml");

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/health", get(health)).route("/api/v1/openapi.yaml", get(openapi))
}

#[derive(Serialize)]
struct Health {
    postgres: &'static str,
    redis: &'static str,
}

async fn health(State(state): State<AppState>) -> Response {
    let postgres = state.store.ping().await.is_ok();
    let mut redis = state.redis.clone();
    let redis_ok = redis::cmd("PING").query_async::<String>(&mut redis).await.is_ok();
    let body = Health {
        postgres: if postgres { "ok" } else { "down" },
        redis: if redis_ok { "ok" } else { "down" },
    };
    let status =
        if postgres && redis_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

async fn openapi(_caller: Caller) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/yaml"))], OPENAPI_YAML)
        .into_response()
}
