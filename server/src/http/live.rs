//! `GET /api/v1/live`: checks the URL, the `Origin` and the caller, then hands the upgraded
//! connection to [`crate::live::socket`].

use super::error::ApiError;
use super::guard::origin_is_allowed;
use crate::accounts::access::Caller;
use crate::live::socket::serve_socket;
use crate::state::AppState;
use axum::extract::{FromRequestParts, State, WebSocketUpgrade};
use axum::http::header;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use ioc_shared::live::MAX_CLIENT_MESSAGE_BYTES;

/// Read buffer of each WebSocket: clients send only small subscribe messages, and the default
/// 128 KiB buffer would cost ~90 KB per idle connection.
const WS_READ_BUFFER_BYTES: usize = 1024;
/// Write buffer of each WebSocket: one snapshot is a few KiB.
const WS_WRITE_BUFFER_BYTES: usize = 16 * 1024;
/// Query parameters that look like credentials: refused outright, so nobody builds a client
/// that leaks a session into URLs, logs and browser history.
const CREDENTIAL_PARAMETERS: [&str; 7] =
    ["token", "session", "credential", "key", "access_token", "auth", "password"];

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/live", get(live_socket))
}

async fn live_socket(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (mut parts, _) = request.into_parts();
    if let Some(query) = parts.uri.query() {
        let named = query
            .split('&')
            .filter_map(|pair| pair.split('=').next())
            .any(|name| CREDENTIAL_PARAMETERS.contains(&name.to_ascii_lowercase().as_str()));
        if named {
            return Err(ApiError::BadRequest(
                "credentials are never accepted in the URL; the session or display cookie is used"
                    .into(),
            ));
        }
    }
    if !origin_allowed(&state, &parts.headers) {
        return Err(ApiError::Forbidden("this Origin may not open the live connection".into()));
    }
    let caller = Caller::from_request_parts(&mut parts, &state).await?;
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &state)
        .await
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let context = state.live_context();
    let writers = state.live_writers.clone();
    Ok(upgrade
        .read_buffer_size(WS_READ_BUFFER_BYTES)
        .write_buffer_size(WS_WRITE_BUFFER_BYTES)
        .max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .max_frame_size(MAX_CLIENT_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve_socket(socket, context, writers, caller)))
}

/// A browser always says where the page that opens a WebSocket came from. Only the server's
/// own origin and the configured ones may connect (no cross-site WebSocket hijacking). Clients
/// that send no `Origin` are not browsers, and cannot be made to carry someone's cookie.
fn origin_allowed(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => origin_is_allowed(&state.settings, headers, origin),
    }
}
