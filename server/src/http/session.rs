//! `POST /api/v1/login`, `POST /api/v1/logout`, `GET /api/v1/me` and
//! `POST /api/v1/displays/pair`: how people and wall screens get and lose their cookies.
//!
//! Both cookies are HttpOnly and SameSite=Strict, and neither credential is ever accepted from
//! a URL.

use super::error::ApiError;
use super::extract::{authenticate, client_address, DISPLAY_COOKIE, SESSION_COOKIE};
use crate::accounts::access::{Caller, Credential, Principal};
use crate::accounts::throttle::{Throttle, Verdict};
use crate::accounts::{secret_hash_hex, PasswordLogin};
use crate::state::AppState;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cookie::{Cookie, SameSite};
use ioc_shared::access::{LoginRequest, Me, PairRequest, SessionState};

/// Browsers keep a cookie at most 400 days; the display credential itself does not expire.
const DISPLAY_COOKIE_DAYS: i64 = 400;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/session", get(session))
        .route("/api/v1/displays/pair", post(pair))
}

pub(super) fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.settings.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

pub(super) fn set_cookie(response: &mut Response, cookie: Cookie<'_>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

pub(super) fn build_cookie(
    name: &'static str,
    value: String,
    secure: bool,
    max_age_days: Option<i64>,
) -> Cookie<'static> {
    let mut builder = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure);
    if let Some(days) = max_age_days {
        builder = builder.max_age(cookie::time::Duration::days(days));
    }
    builder.build()
}

/// Refuses (429) or slows an attempt according to earlier failures; an allowed attempt counts
/// as a failure until [`Throttle::succeeded`].
pub(super) async fn gate(throttle: &Throttle, what: &str) -> Result<(), ApiError> {
    match throttle.attempt().await.map_err(|source| {
        ApiError::AggregatesUnavailable(Box::new(super::error::ThrottleUnavailable {
            what: what.to_owned(),
            source,
        }))
    })? {
        Verdict::Allowed => Ok(()),
        Verdict::Refused { retry_after_seconds } => {
            crate::metrics::METRICS.access_failures.with_label_values(&[what, "refused"]).inc();
            let minutes = retry_after_seconds.div_ceil(60);
            Err(ApiError::TooManyRequests {
                message: format!(
                    "too many failed {what} attempts; try again in {minutes} minute(s)"
                ),
                retry_after_seconds,
            })
        }
    }
}

/// Splits a request whose body is a small JSON object (at most 64 KiB).
async fn read_small(
    request: axum::extract::Request,
) -> Result<(Parts, axum::body::Bytes), ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| ApiError::PayloadTooLarge("request body is larger than 64 KiB".into()))?;
    Ok((parts, bytes))
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    // A NUL reaches no query (PostgreSQL refuses U+0000 in text: a login answered 500).
    if super::extract::has_escaped_nul(body) {
        return Err(ApiError::BadRequest(format!("{what}: a text contains a NUL character")));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("{what}: {e}")))
}

/// `POST /api/v1/login` `{"username","password"}`: sets the session cookie.
async fn login(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = read_small(request).await?;
    let request: LoginRequest = parse_json(&body, "expected {\"username\", \"password\"}")?;
    let address = client_address(&state.settings, &parts);
    let username = request.username.trim().to_lowercase();
    let throttle = Throttle::new(
        state.redis.clone(),
        &state.keys,
        "login",
        Some(&username),
        address.as_deref(),
    );
    if let Err(refused) = gate(&throttle, "login").await {
        state
            .accounts
            .audit(
                &format!("user:{username}"),
                "login_refused",
                None,
                Some("throttled"),
                address.as_deref(),
            )
            .await;
        return Err(refused);
    }
    let checked = state
        .accounts
        .check_login(&username, &request.password, state.settings.password_login)
        .await?;
    let user = match checked {
        PasswordLogin::Valid(user) => user,
        PasswordLogin::Wrong => {
            crate::metrics::METRICS.access_failures.with_label_values(&["login", "failed"]).inc();
            state
                .accounts
                .audit(&format!("user:{username}"), "login_failed", None, None, address.as_deref())
                .await;
            return Err(ApiError::Unauthorized("wrong username or password".into()));
        }
        PasswordLogin::Off(user) => {
            // The password was right: no reason to count a failure against the address.
            throttle.succeeded().await;
            state
                .accounts
                .audit(
                    &format!("user:{}", user.username),
                    "login_refused",
                    None,
                    Some("password sign-in is off"),
                    address.as_deref(),
                )
                .await;
            return Err(ApiError::Forbidden(
                "password sign-in is off on this server; sign in with the province's account (Đăng nhập bằng tài khoản công vụ)".into(),
            ));
        }
    };
    throttle.succeeded().await;
    let token = state.accounts.create_session(&user, address.as_deref()).await?;
    state
        .accounts
        .audit(&format!("user:{}", user.username), "login", None, None, address.as_deref())
        .await;
    let principal = Principal::User(user);
    let mut response = Json(principal.me()).into_response();
    set_cookie(
        &mut response,
        build_cookie(SESSION_COOKIE, token, secure(&state, &parts.headers), None),
    );
    Ok(response)
}

/// `POST /api/v1/logout`: ends the session server-side and disconnects its live connections.
/// `end_session_url`: for a session signed in through the provider, where the browser goes
/// next so the provider ends its own session too (`null` otherwise).
async fn logout(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let address = client_address(&state.settings, &parts);
    let mut end_session_url = None;
    if let Some(caller) = authenticate(&state, &parts.headers, address.clone()).await? {
        if let Credential::Session(token) = &caller.credential {
            let id_token = state.accounts.delete_session(token).await?;
            // Signed in through the provider: its session ends too (RP-initiated logout).
            if let (Some(oidc), Some(id_token)) = (&state.oidc, id_token) {
                end_session_url = oidc.end_session_url(Some(&id_token)).await;
            }
            state
                .accounts
                .audit(&caller.principal.label(), "logout", None, None, address.as_deref())
                .await;
            state.manage.revoker().publish(&format!("session:{}", secret_hash_hex(token))).await;
        }
    }
    let mut response =
        Json(serde_json::json!({"logged_out": true, "end_session_url": end_session_url}))
            .into_response();
    let mut expired =
        build_cookie(SESSION_COOKIE, String::new(), secure(&state, &parts.headers), None);
    expired.make_removal();
    set_cookie(&mut response, expired);
    Ok(response)
}

/// `GET /api/v1/me`: who the caller is (and, for a display, its playlist).
async fn me(caller: Caller) -> Json<Me> {
    Json(caller.principal.me())
}

/// `GET /api/v1/session`: `{"me": …}` for a caller with a session or display credential,
/// `{"me": null}` for anyone else. The page's first question, answered 200 either way: a 401
/// is logged by every browser as a failed request.
async fn session(
    State(state): State<AppState>,
    parts: Parts,
) -> Result<Json<SessionState>, ApiError> {
    let address = client_address(&state.settings, &parts);
    let caller = authenticate(&state, &parts.headers, address).await?;
    Ok(Json(SessionState {
        me: caller.map(|caller| caller.principal.me()),
        oidc: state.oidc.is_some(),
    }))
}

/// `POST /api/v1/displays/pair` `{"code"}`: a screen pairs once and gets its display cookie.
async fn pair(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = read_small(request).await?;
    let request: PairRequest = parse_json(&body, "expected {\"code\"}")?;
    let address = client_address(&state.settings, &parts);
    // No username here: refused per address only, so failures elsewhere never lock anyone out.
    let throttle =
        Throttle::new(state.redis.clone(), &state.keys, "pair", None, address.as_deref());
    gate(&throttle, "pairing").await?;
    let Some((display, credential)) = state.accounts.pair_display(&request.code).await? else {
        crate::metrics::METRICS.access_failures.with_label_values(&["pairing", "failed"]).inc();
        state
            .accounts
            .audit("anonymous", "display_pair_failed", None, None, address.as_deref())
            .await;
        return Err(ApiError::Unauthorized("unknown or expired pairing code".into()));
    };
    throttle.succeeded().await;
    state
        .accounts
        .audit(
            &format!("display:{}", display.id),
            "display_paired",
            Some(&display.name),
            None,
            address.as_deref(),
        )
        .await;
    let principal = Principal::Display(display);
    let mut response = Json(principal.me()).into_response();
    set_cookie(
        &mut response,
        build_cookie(
            DISPLAY_COOKIE,
            credential,
            secure(&state, &parts.headers),
            Some(DISPLAY_COOKIE_DAYS),
        ),
    );
    Ok(response)
}
