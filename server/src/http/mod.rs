//! The HTTP surface: one module per resource, each with its own `routes()`, merged here.
//!
//! Nothing below this module imports from it: handlers call into [`crate::accounts`],
//! [`crate::ingest`], [`crate::aggregate`] and [`crate::live`], never the other way round.

pub mod admin;
pub mod alerts;
pub mod annotations;
pub mod calendar;
pub mod csv;
pub mod error;
pub mod events;
pub mod explanations;
pub mod extract;
pub mod guard;
pub mod health;
pub mod items;
pub mod live;
pub mod officers;
pub mod oidc;
pub mod open311;
pub mod ops;
pub mod public;
pub mod reports;
pub mod series;
pub mod session;
pub mod units;

use crate::state::AppState;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use error::ApiError;
use tower_http::services::{ServeDir, ServeFile};

/// Paths the dashboard's single page answers (everything else under the web directory is a
/// static asset, and anything unknown is a 404).
pub const PAGE_ROUTES: [&str; 4] = ["/", "/wall", "/cong-khai", "/bao-cao"];

/// The whole HTTP surface, so tests can drive it directly.
pub fn app(state: AppState) -> Router {
    let web_dir = state.settings.web_dir.clone();
    // Files are stored gzip- and brotli-compressed at build time (`build_web`).
    let page = ServeFile::new(web_dir.join("index.html")).precompressed_br().precompressed_gzip();
    let mut router = Router::new()
        .merge(health::routes())
        .merge(session::routes())
        .merge(oidc::routes())
        .merge(admin::routes())
        .merge(alerts::routes())
        .merge(annotations::routes())
        .merge(explanations::routes())
        .merge(events::routes())
        .merge(units::routes())
        .merge(items::routes())
        .merge(officers::routes())
        .merge(series::routes())
        .merge(reports::routes())
        .merge(calendar::routes())
        .merge(open311::routes())
        .merge(public::routes())
        .merge(live::routes())
        .merge(ops::routes())
        // An unknown API path is an API error, never the dashboard page.
        .route("/api", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found));
    for path in PAGE_ROUTES {
        router = router.route_service(path, page.clone());
    }
    router
        .fallback_service(ServeDir::new(&web_dir).precompressed_br().precompressed_gzip())
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::browser_writes))
        .layer(axum::middleware::from_fn(guard::no_nul_in_address))
        .route_layer(axum::middleware::from_fn(ops::count))
        .with_state(state)
        .layer(axum::middleware::from_fn(json_errors_for_api))
        .layer(axum::middleware::from_fn(open311::georeport_errors))
        .layer(axum::middleware::map_response(no_store_for_api))
        .layer(axum::middleware::from_fn(cache_policy_for_files))
        .layer(axum::middleware::from_fn(guard::security_headers))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(answer_a_panic))
        .layer(axum::middleware::from_fn(ops::with_request_id))
}

/// A handler that panicked is a bug: it is logged (with the request's id) and the client gets a
/// generic JSON 500 instead of a connection closed without an answer.
fn answer_a_panic(cause: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = cause
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| cause.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    // Logged by `ApiError::Internal`; the client sees only "internal error".
    axum::response::IntoResponse::into_response(ApiError::internal(format!(
        "a request handler panicked: {message}"
    )))
}

async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no API endpoint at `{}`; see /api/v1/openapi.yaml", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("`{method}` is not allowed on `{}`", uri.path()))
}

/// A file whose name carries its content hash (`style.0123456789abcdef.css`) never changes: the
/// browser keeps it for a year without asking. Everything else outside the API (the page) is
/// revalidated on every load, which answers 304 when it did not change.
async fn cache_policy_for_files(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    if path.starts_with("/api/")
        || path == "/metrics"
        || (!response.status().is_success()
            && response.status() != axum::http::StatusCode::NOT_MODIFIED)
    {
        return response;
    }
    let policy =
        if is_content_hashed(&path) { "public, max-age=31536000, immutable" } else { "no-cache" };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// `name.<16 hex digits>.ext`, as `build_web` names the dashboard's files.
pub fn is_content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut parts = name.rsplit('.');
    let (Some(_extension), Some(hash), Some(stem)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    !stem.is_empty() && hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Longest plain-text rejection turned into a JSON error (axum's are one short sentence).
const MAX_REJECTION_BYTES: usize = 4096;

/// Every API error is JSON `{"error": …}`: axum's own rejections (a query string or path that
/// does not parse, such as a repeated `window`) come as plain text and are rewrapped here.
async fn json_errors_for_api(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let plain_text = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    if !is_api
        || !plain_text
        || !(response.status().is_client_error() || response.status().is_server_error())
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let message = match axum::body::to_bytes(body, MAX_REJECTION_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => "the request could not be read".to_owned(),
    };
    // A server-side failure stays generic to the client (the cause was logged where it happened).
    let message =
        if parts.status.is_server_error() { "internal error".to_owned() } else { message };
    let body = serde_json::json!({ "error": message }).to_string();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// Figures and account data must not sit in shared caches.
async fn no_store_for_api(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
    {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_answers_a_generic_json_500() {
        let response = answer_a_panic(Box::new("index out of bounds: secret detail"));
        assert_eq!(response.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap_or_default();
        assert_eq!(body.as_ref(), br#"{"error":"internal error"}"#);
    }

    #[test]
    fn content_hashed_names_are_recognised() {
        assert!(is_content_hashed("/style.0123456789abcdef.css"));
        assert!(is_content_hashed("/ioc_frontend_bg.d1eaded55728aa4d.wasm"));
        assert!(!is_content_hashed("/style.css"));
        assert!(!is_content_hashed("/index.html"));
        assert!(!is_content_hashed("/style.0123456789abcdeg.css"));
        assert!(!is_content_hashed("/.0123456789abcdef.css"));
    }
}
