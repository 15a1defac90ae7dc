//! Who is calling, and what they may see.
//!
//! A person logs in with a username and password and gets a session cookie; a wall display
//! pairs once and keeps a display cookie. Both cookies are HttpOnly and SameSite=Strict, and
//! neither credential is ever accepted from a URL. Every HTTP request and every WebSocket
//! subscription is checked against the caller's scope here, on the server.

use crate::accounts::{secret_hash_hex, Display, User};
use crate::app::AppState;
use crate::catalog::{Catalog, Unit};
use crate::error::ApiError;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cookie::{Cookie, SameSite};
use ioc_shared::access::{LoginRequest, Me, PairRequest, Role};
use std::net::SocketAddr;
use std::time::Duration;

pub const SESSION_COOKIE: &str = "ioc_session";
pub const DISPLAY_COOKIE: &str = "ioc_display";
/// Browsers keep a cookie at most 400 days; the display credential itself does not expire.
const DISPLAY_COOKIE_DAYS: i64 = 400;

/// Failed logins are counted per username and per address over this window.
const THROTTLE_WINDOW_SECONDS: i64 = 15 * 60;
/// From this many failures of one username, each attempt is slowed down…
pub const SLOW_AFTER_USER_FAILURES: i64 = 3;
/// …and from this many, refused until the window passes.
pub const REFUSE_AFTER_USER_FAILURES: i64 = 6;
/// The same for one address (several people may share an office's address).
pub const SLOW_AFTER_ADDRESS_FAILURES: i64 = 20;
pub const REFUSE_AFTER_ADDRESS_FAILURES: i64 = 50;
/// Longest slow-down of one attempt.
const MAX_DELAY_SECONDS: i64 = 5;

/// A person or a wall display.
#[derive(Debug, Clone)]
pub enum Principal {
    User(User),
    Display(Display),
}

/// How the caller proved who they are, kept so a live connection can be re-checked and revoked.
#[derive(Clone)]
pub enum Credential {
    Session(String),
    Display(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Session(_) => f.write_str("Session(<redacted>)"),
            Credential::Display(_) => f.write_str("Display(<redacted>)"),
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub credential: Credential,
    /// The client's address, for the audit log.
    pub address: Option<String>,
}

impl Principal {
    /// The unit whose subtree the caller sees; `None` for every unit.
    pub fn scope(&self) -> Option<&str> {
        match self {
            Principal::User(user) => match user.role {
                Role::Admin | Role::Leader => None,
                Role::Chief => Some(user.unit.as_deref().unwrap_or("")),
            },
            Principal::Display(display) => Some(&display.unit),
        }
    }

    pub fn can_see(&self, catalog: &Catalog, code: &str) -> bool {
        match self.scope() {
            None => true,
            Some(root) => catalog.is_within(code, root),
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::User(user) if user.role == Role::Admin)
    }

    /// Names the caller in the audit log.
    pub fn label(&self) -> String {
        match self {
            Principal::User(user) => format!("user:{}", user.username),
            Principal::Display(display) => format!("display:{}", display.id),
        }
    }

    pub fn me(&self) -> Me {
        match self {
            Principal::User(user) => Me::User { username: user.username.clone(), role: user.role, unit: user.unit.clone() },
            Principal::Display(d) => Me::Display { id: d.id, name: d.name.clone(), unit: d.unit.clone(), playlist: d.playlist.clone() },
        }
    }
}

impl Caller {
    /// The revocation notices that end this caller's live connections.
    pub fn revocation_keys(&self) -> Vec<String> {
        match &self.principal {
            Principal::User(user) => {
                let mut keys = vec![format!("user:{}", user.id)];
                if let Credential::Session(token) = &self.credential {
                    keys.push(format!("session:{}", secret_hash_hex(token)));
                }
                keys
            }
            Principal::Display(display) => vec![format!("display:{}", display.id)],
        }
    }
}

/// The client's address as the socket saw it (a reverse proxy's address, behind one).
pub fn client_address(parts_extensions: &axum::http::Extensions) -> Option<String> {
    parts_extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip().to_string())
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

/// The caller behind the request's cookies, if any is valid now.
pub async fn authenticate(state: &AppState, headers: &HeaderMap, address: Option<String>) -> Result<Option<Caller>, ApiError> {
    if let Some(token) = cookie_value(headers, SESSION_COOKIE) {
        if let Some(user) = state.accounts.session_user(&token, state.settings.session_idle).await? {
            return Ok(Some(Caller { principal: Principal::User(user), credential: Credential::Session(token), address }));
        }
    }
    if let Some(credential) = cookie_value(headers, DISPLAY_COOKIE) {
        if let Some(display) = state.accounts.display_by_credential(&credential).await? {
            return Ok(Some(Caller { principal: Principal::Display(display), credential: Credential::Display(credential), address }));
        }
    }
    Ok(None)
}

/// Checks again that a caller's credential is still valid (for long-lived connections).
pub async fn still_valid(state: &AppState, caller: &Caller) -> Result<bool, ApiError> {
    Ok(match &caller.credential {
        Credential::Session(token) => state.accounts.session_user(token, state.settings.session_idle).await?.is_some(),
        Credential::Display(credential) => state.accounts.display_by_credential(credential).await?.is_some(),
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let address = client_address(&parts.extensions);
        authenticate(state, &parts.headers, address)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("log in first (no valid session or display credential)".into()))
    }
}

/// An authenticated admin.
#[derive(Debug, Clone)]
pub struct AdminCaller(pub Caller);

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<AdminCaller, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.principal.is_admin() {
            return Ok(AdminCaller(caller));
        }
        state
            .accounts
            .audit(&caller.principal.label(), "access_denied", Some(parts.uri.path()), Some("admin only"), caller.address.as_deref())
            .await;
        Err(ApiError::Forbidden("only an admin may do this".into()))
    }
}

/// Why a caller may not have a unit, in words for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitRefusal {
    /// No such unit (told only to callers who see every unit).
    Unknown(String),
    /// Outside the caller's scope — or unknown, for a scoped caller, who learns nothing
    /// about units outside their scope.
    Forbidden(String),
}

impl UnitRefusal {
    pub fn message(&self) -> &str {
        match self {
            UnitRefusal::Unknown(m) | UnitRefusal::Forbidden(m) => m,
        }
    }
}

impl From<UnitRefusal> for ApiError {
    fn from(refusal: UnitRefusal) -> ApiError {
        match refusal {
            UnitRefusal::Unknown(m) => ApiError::NotFound(m),
            UnitRefusal::Forbidden(m) => ApiError::Forbidden(m),
        }
    }
}

/// The unit `code`, if the caller may see it; a forbidden request is recorded in the audit
/// log. The one check behind every HTTP request and every WebSocket subscription.
pub async fn authorize_unit<'a>(state: &'a AppState, caller: &Caller, code: &str) -> Result<&'a Unit, UnitRefusal> {
    if caller.principal.can_see(&state.catalog, code) {
        if let Some(unit) = state.catalog.get(code) {
            return Ok(unit);
        }
        if caller.principal.scope().is_none() {
            return Err(UnitRefusal::Unknown(format!("unknown unit `{code}`")));
        }
    }
    deny(state, caller, code).await;
    Err(UnitRefusal::Forbidden(forbidden_message(code)))
}

pub fn forbidden_message(code: &str) -> String {
    format!("you may not view unit `{code}`")
}

/// Records a refused scope access.
pub async fn deny(state: &AppState, caller: &Caller, code: &str) {
    state
        .accounts
        .audit(&caller.principal.label(), "access_denied", Some(&format!("unit:{code}")), None, caller.address.as_deref())
        .await;
}

fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.settings.secure_cookies
        || headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn set_cookie(response: &mut Response, cookie: Cookie<'_>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn build_cookie(name: &'static str, value: String, secure: bool, max_age_days: Option<i64>) -> Cookie<'static> {
    let mut builder = Cookie::build((name, value)).path("/").http_only(true).same_site(SameSite::Strict).secure(secure);
    if let Some(days) = max_age_days {
        builder = builder.max_age(cookie::time::Duration::days(days));
    }
    builder.build()
}

/// Failed-attempt counters in Redis, shared by every replica.
struct Throttle {
    user_key: String,
    address_key: String,
}

impl Throttle {
    fn new(state: &AppState, kind: &str, username: &str, address: Option<&str>) -> Throttle {
        let prefix = state.keys.prefix();
        Throttle {
            user_key: format!("{prefix}throttle:{kind}:user:{username}"),
            address_key: format!("{prefix}throttle:{kind}:addr:{}", address.unwrap_or("unknown")),
        }
    }

    /// (user failures, address failures, seconds until the window ends)
    async fn counts(&self, state: &AppState) -> Result<(i64, i64, i64), ApiError> {
        let mut redis = state.redis.clone();
        let (user, address, user_ttl, address_ttl): (Option<i64>, Option<i64>, i64, i64) = redis::pipe()
            .get(&self.user_key)
            .get(&self.address_key)
            .ttl(&self.user_key)
            .ttl(&self.address_key)
            .query_async(&mut redis)
            .await
            .map_err(|e| ApiError::AggregatesUnavailable(format!("login throttle: {e}")))?;
        Ok((user.unwrap_or(0), address.unwrap_or(0), user_ttl.max(address_ttl).max(1)))
    }

    async fn failed(&self, state: &AppState) {
        let mut redis = state.redis.clone();
        let result: redis::RedisResult<()> = redis::pipe()
            .incr(&self.user_key, 1)
            .expire(&self.user_key, THROTTLE_WINDOW_SECONDS)
            .incr(&self.address_key, 1)
            .expire(&self.address_key, THROTTLE_WINDOW_SECONDS)
            .query_async(&mut redis)
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, "failed attempt not counted");
        }
    }

    async fn succeeded(&self, state: &AppState) {
        let mut redis = state.redis.clone();
        let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&self.user_key).query_async(&mut redis).await;
    }

    /// Refuses or slows the attempt according to earlier failures.
    async fn gate(&self, state: &AppState, what: &str) -> Result<(), ApiError> {
        let (user, address, ttl) = self.counts(state).await?;
        if user >= REFUSE_AFTER_USER_FAILURES || address >= REFUSE_AFTER_ADDRESS_FAILURES {
            let minutes = (ttl + 59) / 60;
            return Err(ApiError::TooManyRequests {
                message: format!("too many failed {what} attempts; try again in {minutes} minute(s)"),
                retry_after_seconds: ttl as u64,
            });
        }
        let excess = (user - SLOW_AFTER_USER_FAILURES + 1).max(address - SLOW_AFTER_ADDRESS_FAILURES + 1);
        if excess > 0 {
            tokio::time::sleep(Duration::from_secs(excess.min(MAX_DELAY_SECONDS) as u64)).await;
        }
        Ok(())
    }
}

/// Splits a request whose body is a small JSON object (at most 64 KiB).
async fn read_small(request: axum::extract::Request) -> Result<(Parts, axum::body::Bytes), ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| ApiError::PayloadTooLarge("request body is larger than 64 KiB".into()))?;
    Ok((parts, bytes))
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("{what}: {e}")))
}

/// `POST /api/v1/login` `{"username","password"}`: sets the session cookie.
pub async fn login(State(state): State<AppState>, request: axum::extract::Request) -> Result<Response, ApiError> {
    let (parts, body) = read_small(request).await?;
    let request: LoginRequest = parse_json(&body, "expected {\"username\", \"password\"}")?;
    let address = client_address(&parts.extensions);
    let username = request.username.trim().to_lowercase();
    let throttle = Throttle::new(&state, "login", &username, address.as_deref());
    if let Err(refused) = throttle.gate(&state, "login").await {
        state.accounts.audit(&format!("user:{username}"), "login_refused", None, Some("throttled"), address.as_deref()).await;
        return Err(refused);
    }
    let Some(user) = state.accounts.check_login(&username, &request.password).await? else {
        throttle.failed(&state).await;
        state.accounts.audit(&format!("user:{username}"), "login_failed", None, None, address.as_deref()).await;
        return Err(ApiError::Unauthorized("wrong username or password".into()));
    };
    throttle.succeeded(&state).await;
    let token = state.accounts.create_session(&user, address.as_deref()).await?;
    state.accounts.audit(&format!("user:{}", user.username), "login", None, None, address.as_deref()).await;
    let principal = Principal::User(user);
    let mut response = Json(principal.me()).into_response();
    set_cookie(&mut response, build_cookie(SESSION_COOKIE, token, secure(&state, &parts.headers), None));
    Ok(response)
}

/// `POST /api/v1/logout`: ends the session server-side and disconnects its live connections.
pub async fn logout(State(state): State<AppState>, request: axum::extract::Request) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let address = client_address(&parts.extensions);
    if let Some(caller) = authenticate(&state, &parts.headers, address.clone()).await? {
        if let Credential::Session(token) = &caller.credential {
            state.accounts.delete_session(token).await?;
            state.accounts.audit(&caller.principal.label(), "logout", None, None, address.as_deref()).await;
            publish_revocation(&state, &format!("session:{}", secret_hash_hex(token))).await;
        }
    }
    let mut response = Json(serde_json::json!({"logged_out": true})).into_response();
    let mut expired = build_cookie(SESSION_COOKIE, String::new(), secure(&state, &parts.headers), None);
    expired.make_removal();
    set_cookie(&mut response, expired);
    Ok(response)
}

/// `GET /api/v1/me`: who the caller is (and, for a display, its playlist).
pub async fn me(caller: Caller) -> Json<Me> {
    Json(caller.principal.me())
}

/// `POST /api/v1/displays/pair` `{"code"}`: a screen pairs once and gets its display cookie.
pub async fn pair(State(state): State<AppState>, request: axum::extract::Request) -> Result<Response, ApiError> {
    let (parts, body) = read_small(request).await?;
    let request: PairRequest = parse_json(&body, "expected {\"code\"}")?;
    let address = client_address(&parts.extensions);
    // No username here: count per address only, so failures elsewhere never lock anyone out.
    let throttle = Throttle::new(&state, "pair", address.as_deref().unwrap_or("unknown"), address.as_deref());
    throttle.gate(&state, "pairing").await?;
    let Some((display, credential)) = state.accounts.pair_display(&request.code).await? else {
        throttle.failed(&state).await;
        state.accounts.audit("anonymous", "display_pair_failed", None, None, address.as_deref()).await;
        return Err(ApiError::Unauthorized("unknown or expired pairing code".into()));
    };
    state.accounts.audit(&format!("display:{}", display.id), "display_paired", Some(&display.name), None, address.as_deref()).await;
    let principal = Principal::Display(display);
    let mut response = Json(principal.me()).into_response();
    set_cookie(&mut response, build_cookie(DISPLAY_COOKIE, credential, secure(&state, &parts.headers), Some(DISPLAY_COOKIE_DAYS)));
    Ok(response)
}

/// Tells every replica to close the live connections of a session, person or display
/// (`session:<hash>`, `user:<id>`, `display:<id>`).
pub async fn publish_revocation(state: &AppState, key: &str) {
    let mut redis = state.redis.clone();
    let result: redis::RedisResult<i64> =
        redis::cmd("PUBLISH").arg(state.keys.revoked_channel()).arg(key).query_async(&mut redis).await;
    if let Err(error) = result {
        tracing::warn!(%error, "revocation not published; connections close at their next check");
    }
}
