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
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_seconds: u64 },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The figures lag what was acknowledged (a report must not freeze them yet): retry soon.
    #[error("{0}")]
    CatchingUp(String),
    /// PostgreSQL is down: nothing in the request was acknowledged. The cause is logged.
    #[error("storage unavailable: {0}")]
    StorageUnavailable(Cause),
    /// Redis is down: live figures cannot be read right now. The cause is logged.
    #[error("live aggregates unavailable: {0}")]
    AggregatesUnavailable(Cause),
    /// A bug or a failure the client cannot act on: logged with its whole chain of causes,
    /// answered with a generic 500.
    #[error("internal error: {0}")]
    Internal(Cause),
}

/// The cause of a server-side error, kept with its sources for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A storage call that did not answer in time.
#[derive(Debug, thiserror::Error)]
#[error("no answer within {0:?}")]
pub struct NoAnswerWithin(pub std::time::Duration);

/// The public board before its first computation after start-up.
#[derive(Debug, thiserror::Error)]
#[error("the public figures are not computed yet")]
pub struct NotComputedYet;

/// A failure of the Redis throttle of one kind of attempt (`login`, `pairing`, …).
#[derive(Debug, thiserror::Error)]
#[error("{what} throttle")]
pub struct ThrottleUnavailable {
    pub what: String,
    #[source]
    pub source: redis::RedisError,
}

impl ApiError {
    /// An internal error with this cause.
    pub fn internal(cause: impl Into<Cause>) -> ApiError {
        ApiError::Internal(cause.into())
    }
}

/// Runs a storage call with a deadline: past it, 503 (nothing was acknowledged), however the
/// connection behaves.
pub async fn bounded<T, E: Into<ApiError>>(
    limit: std::time::Duration,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(ApiError::StorageUnavailable(Box::new(NoAnswerWithin(limit)))),
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> ApiError {
        match error {
            crate::store::StoreError::Unavailable(e) => ApiError::StorageUnavailable(Box::new(e)),
            // Still racing another writer after the retries: try again later, nothing stored.
            error @ crate::store::StoreError::Raced => {
                ApiError::StorageUnavailable(Box::new(error))
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> ApiError {
        ApiError::from(crate::store::StoreError::from(error))
    }
}

impl From<crate::accounts::AccountError> for ApiError {
    fn from(error: crate::accounts::AccountError) -> ApiError {
        use crate::accounts::AccountError;
        match error {
            AccountError::Invalid(m) => ApiError::BadRequest(m),
            AccountError::NotFound(m) => ApiError::NotFound(m),
            AccountError::Conflict(m) => ApiError::Conflict(m),
            AccountError::Refused(m) => ApiError::Conflict(m),
            AccountError::Store(e) => ApiError::from(e),
            other @ (AccountError::UnknownRole(_) | AccountError::Hashing(_)) => {
                ApiError::internal(other)
            }
        }
    }
}

impl From<crate::accounts::manage::ImportError> for ApiError {
    fn from(error: crate::accounts::manage::ImportError) -> ApiError {
        use crate::accounts::manage::ImportError;
        match error {
            ImportError::File(e) => ApiError::BadRequest(e.to_string()),
            ImportError::Account(e) => ApiError::from(e),
        }
    }
}

impl From<crate::accounts::access::UnitRefusal> for ApiError {
    fn from(refusal: crate::accounts::access::UnitRefusal) -> ApiError {
        use crate::accounts::access::UnitRefusal;
        match refusal {
            UnitRefusal::Unknown(m) => ApiError::NotFound(m),
            UnitRefusal::Forbidden(m) => ApiError::Forbidden(m),
        }
    }
}

impl From<crate::ingest::body::BodyError> for ApiError {
    fn from(error: crate::ingest::body::BodyError) -> ApiError {
        use crate::ingest::body::BodyError;
        match error {
            BodyError::Unreadable(m) => ApiError::BadRequest(m),
            BodyError::TooMany(m) => ApiError::PayloadTooLarge(m),
        }
    }
}

impl From<crate::aggregate::summary::SummaryError> for ApiError {
    fn from(error: crate::aggregate::summary::SummaryError) -> ApiError {
        ApiError::AggregatesUnavailable(Box::new(error))
    }
}

impl From<crate::ingest::sources::SourceError> for ApiError {
    fn from(error: crate::ingest::sources::SourceError) -> ApiError {
        match error {
            crate::ingest::sources::SourceError::Store(e) => ApiError::from(e),
            crate::ingest::sources::SourceError::Accounts(e) => ApiError::from(e),
        }
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(error: redis::RedisError) -> ApiError {
        ApiError::AggregatesUnavailable(Box::new(error))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m.clone()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            ApiError::MethodNotAllowed(m) => (StatusCode::METHOD_NOT_ALLOWED, m.clone()),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
            ApiError::TooManyRequests { message, retry_after_seconds } => {
                let mut response =
                    (StatusCode::TOO_MANY_REQUESTS, Json(json!({ "error": message })))
                        .into_response();
                if let Ok(value) =
                    axum::http::HeaderValue::from_str(&retry_after_seconds.to_string())
                {
                    response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
                }
                return response;
            }
            ApiError::PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m.clone()),
            ApiError::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m.clone()),
            ApiError::CatchingUp(m) => {
                tracing::warn!(reason = %m, "answered 503: the figures are catching up");
                let mut response =
                    (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": m }))).into_response();
                response.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("2"),
                );
                return response;
            }
            ApiError::StorageUnavailable(cause) => {
                crate::metrics::METRICS.storage_errors.with_label_values(&["postgres"]).inc();
                tracing::error!(cause = %crate::errors::chain(cause.as_ref()), "storage unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage unavailable: nothing in this request was stored; retry later"
                        .to_owned(),
                )
            }
            ApiError::AggregatesUnavailable(cause) => {
                crate::metrics::METRICS.storage_errors.with_label_values(&["redis"]).inc();
                tracing::error!(cause = %crate::errors::chain(cause.as_ref()), "live aggregates unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "live figures are unavailable right now; retry later".to_owned(),
                )
            }
            ApiError::Internal(cause) => {
                tracing::error!(cause = %crate::errors::chain(cause.as_ref()), "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error".to_owned())
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}
