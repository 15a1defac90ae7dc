//! Protection for what browsers can be made to do: the `Origin` check shared by the WebSocket
//! and every state-changing browser route, and the security headers on every response.
//!
//! `SameSite=Strict` cookies are not enough: `gov.vn` is a public suffix, so every
//! `*.hanoi.gov.vn` host is "same site" and a page there could act as a signed-in admin. A
//! state-changing request a browser can send with a cookie must therefore be JSON
//! (`Content-Type: application/json`, which a plain form cannot send) and name an allowed
//! `Origin` (or `Referer`). Source systems ingesting with a bearer key are not browsers and are
//! not held to this.

use super::error::ApiError;
use crate::settings::Settings;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Routes that change state but are not reached by browsers with a cookie: a bearer key
/// (ingest) is required instead.
const NOT_BROWSER_ROUTES: [&str; 1] = ["/api/v1/events"];
/// Nothing under it authenticates with the session cookie (its one write needs an `api_key`),
/// and every answer there, a 405 included, is Open311's own.
const NOT_BROWSER_PREFIX: &str = "/open311/";

/// Body types a plain HTML form cannot send (so a request carrying one is no forged form):
/// JSON, and CSV for the people import.
const NOT_FORM_TYPES: [&str; 2] = ["application/json", "text/csv"];

/// Whether `origin` (`https://host[:port]`) is the server's own (the request's `Host`) or one
/// of `IOC_ALLOWED_ORIGINS`.
pub fn origin_is_allowed(settings: &Settings, headers: &HeaderMap, origin: &str) -> bool {
    let origin = origin.trim_end_matches('/');
    if settings
        .allowed_origins
        .iter()
        .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// The origin a browser request came from: `Origin`, else the origin part of `Referer`.
fn request_origin(headers: &HeaderMap) -> Option<String> {
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        return Some(origin.to_owned());
    }
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok())?;
    let (scheme, rest) = referer.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    Some(format!("{scheme}://{host}"))
}

/// Middleware: every state-changing request except the non-browser routes must come from an
/// allowed origin, and a POST must be JSON (403 otherwise).
pub async fn browser_writes(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let path = request.uri().path();
    if writes && !NOT_BROWSER_ROUTES.contains(&path) && !path.starts_with(NOT_BROWSER_PREFIX) {
        let headers = request.headers();
        // A cross-site form can only POST (and a cross-site DELETE or PUT is preflighted), so
        // only a POST must prove it is not a form by its type; a DELETE has no body to type.
        let needs_json = *request.method() == Method::POST;
        let json = !needs_json
            || headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .is_some_and(|v| NOT_FORM_TYPES.iter().any(|t| v.trim().eq_ignore_ascii_case(t)));
        if !json {
            return ApiError::Forbidden(
                "a browser write must be sent as Content-Type: application/json (text/csv for an import)".into(),
            )
            .into_response();
        }
        match request_origin(headers) {
            Some(origin) if origin_is_allowed(&state.settings, headers, &origin) => {}
            Some(origin) => {
                return ApiError::Forbidden(format!(
                    "requests from origin `{origin}` may not change anything here"
                ))
                .into_response();
            }
            None => {
                return ApiError::Forbidden(
                    "a browser write must say where it comes from (Origin or Referer)".into(),
                )
                .into_response();
            }
        }
    }
    next.run(request).await
}

/// Only the server's own scripts (wasm needs `'wasm-unsafe-eval'`), styles, images and
/// WebSocket; never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Middleware: the security headers on every response (page, assets, API).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Refuses a NUL (`%00`) anywhere in the address before a handler reads it: PostgreSQL refuses
/// U+0000 in text, so a path or query parameter carrying one would end in a 500 wherever a
/// check forgot it (an officer's id, an item given a direction did).
pub async fn no_nul_in_address(request: Request, next: Next) -> Response {
    let address = request.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("");
    if address.as_bytes().windows(3).any(|w| w == b"%00") {
        return ApiError::BadRequest("the address contains a NUL character (%00)".into())
            .into_response();
    }
    next.run(request).await
}
