//! Errors of the HTTP API. Client errors say exactly what is wrong; server errors answer with a
//! generic message and log the cause, so internals never leak to callers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_seconds: u64 },
    #[error("{0}")]
    PayloadTooLarge(String),
    /// PostgreSQL is down: nothing in the request was acknowledged.
    #[error("storage unavailable: {0}")]
    StorageUnavailable(String),
    /// Redis is down: live figures cannot be read right now.
    #[error("live aggregates unavailable: {0}")]
    AggregatesUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> ApiError {
        match error {
            crate::store::StoreError::Unavailable(e) => ApiError::StorageUnavailable(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<crate::accounts::AccountError> for ApiError {
    fn from(error: crate::accounts::AccountError) -> ApiError {
        use crate::accounts::AccountError;
        match error {
            AccountError::Invalid(m) => ApiError::BadRequest(m),
            AccountError::NotFound(m) => ApiError::NotFound(m),
            AccountError::Conflict(m) => ApiError::BadRequest(m),
            AccountError::Store(e) => ApiError::from(e),
        }
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(error: redis::RedisError) -> ApiError {
        ApiError::AggregatesUnavailable(error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m.clone()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            ApiError::TooManyRequests { message, retry_after_seconds } => {
                let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(json!({ "error": message }))).into_response();
                if let Ok(value) = axum::http::HeaderValue::from_str(&retry_after_seconds.to_string()) {
                    response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
                }
                return response;
            }
            ApiError::PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m.clone()),
            ApiError::StorageUnavailable(cause) => {
                tracing::error!(%cause, "storage unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage unavailable: nothing in this request was stored; retry later".to_owned(),
                )
            }
            ApiError::AggregatesUnavailable(cause) => {
                tracing::error!(%cause, "live aggregates unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "live figures are unavailable right now; retry later".to_owned())
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error".to_owned())
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}
