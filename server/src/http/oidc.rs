//! `GET /auth/oidc/login` and `GET /auth/oidc/callback`: signing in with the province's
//! account ([`crate::accounts::oidc`]). A refusal is a plain page (the browser is there, not
//! the dashboard's code), in Vietnamese and English, and an audit entry.

use super::extract::client_address;
use super::session::{build_cookie, secure, set_cookie};
use crate::accounts::directory::ProviderSignIn;
use crate::accounts::oidc::SignInRefusal;
use crate::accounts::{AccountError, User};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/oidc/login", get(login))
        .route(crate::accounts::oidc::CALLBACK_PATH, get(callback))
}

/// Why a sign-in ended without a session.
enum Failure {
    Refused(SignInRefusal),
    NotConfigured,
    Account(AccountError),
}

impl From<SignInRefusal> for Failure {
    fn from(refusal: SignInRefusal) -> Failure {
        Failure::Refused(refusal)
    }
}

impl From<AccountError> for Failure {
    fn from(error: AccountError) -> Failure {
        Failure::Account(error)
    }
}

impl Failure {
    /// The page's status, title (Vietnamese, English) and the reason shown.
    fn page(&self) -> (StatusCode, &'static str, &'static str, String) {
        match self {
            Failure::Refused(SignInRefusal::Invalid(why)) => (
                StatusCode::BAD_REQUEST,
                "Đăng nhập không thành công",
                "Sign-in failed",
                why.clone(),
            ),
            Failure::Refused(SignInRefusal::NoRights(why)) => (
                StatusCode::FORBIDDEN,
                "Tài khoản chưa được phân quyền trên hệ thống IOC",
                "This account has no role on the IOC system",
                why.clone(),
            ),
            Failure::Refused(SignInRefusal::ProviderUnavailable(why)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Dịch vụ đăng nhập tạm thời không trả lời",
                "The sign-in service is not answering",
                why.clone(),
            ),
            Failure::NotConfigured => (
                StatusCode::NOT_FOUND,
                "Chưa cấu hình đăng nhập bằng tài khoản công vụ",
                "Signing in with the province's account is not configured",
                "IOC_OIDC_ISSUER is not set on this server".into(),
            ),
            Failure::Account(error) => {
                tracing::error!(%error, "sign-in through the provider not stored");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Hệ thống tạm thời không lưu được đăng nhập",
                    "The server cannot store the sign-in right now",
                    "storage unavailable; try again in a minute".into(),
                )
            }
        }
    }
}

/// A plain page: what happened, in both languages, and the way back.
fn page(failure: &Failure) -> Response {
    let (status, title_vi, title_en, why) = failure.page();
    let escape = |text: &str| quick_xml::escape::escape(text).into_owned();
    let body = format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title_vi}</title></head><body style=\"font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em\">\
         <h1>{title_vi}</h1><p lang=\"en\"><strong>{title_en}</strong></p><p>{}</p>\
         <p><a href=\"/\">Quay lại trang đăng nhập · Back to sign-in</a></p></body></html>",
        escape(&why)
    );
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn redirect(to: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /auth/oidc/login?next=/path`: 302 to the provider, with `state`, `nonce` and a PKCE
/// challenge remembered for ten minutes. Without `next`, the path of the page the person came
/// from (`Referer`), else `/`.
async fn login(
    State(state): State<AppState>,
    parts: Parts,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    // Without `next`, back to the page the button was on (only its path: always this server).
    let from_page = parts
        .headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| reqwest::Url::parse(r).ok())
        .map(|url| match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        })
        .filter(|path| crate::accounts::oidc::is_local_path(path));
    let next = match params.get("next").filter(|n| !n.is_empty()) {
        Some(next) => next.clone(),
        None => from_page.unwrap_or_else(|| "/".to_owned()),
    };
    let Some(oidc) = &state.oidc else { return page(&Failure::NotConfigured) };
    match oidc.start(&next).await {
        Ok(url) => redirect(&url),
        Err(refusal) => {
            let address = client_address(&state.settings, &parts);
            state
                .accounts
                .audit(
                    "oidc",
                    "login_refused",
                    None,
                    Some(&refusal.to_string()),
                    address.as_deref(),
                )
                .await;
            page(&Failure::Refused(refusal))
        }
    }
}

/// `GET /auth/oidc/callback?code=…&state=…`: checks everything, signs the person in with the
/// same session cookie as a password login, and sends them to where they were going.
async fn callback(
    State(state): State<AppState>,
    parts: Parts,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let address = client_address(&state.settings, &parts);
    let mut who = "oidc".to_owned();
    match sign_in(&state, &params, address.as_deref(), &mut who).await {
        Ok((token, next)) => {
            let mut response = redirect(&next);
            set_cookie(
                &mut response,
                build_cookie(
                    super::extract::SESSION_COOKIE,
                    token,
                    secure(&state, &parts.headers),
                    None,
                ),
            );
            response
        }
        Err(failure) => {
            if let Failure::Refused(refusal) = &failure {
                crate::metrics::METRICS
                    .access_failures
                    .with_label_values(&["oidc", "failed"])
                    .inc();
                state
                    .accounts
                    .audit(
                        &who,
                        "login_refused",
                        None,
                        Some(&refusal.to_string()),
                        address.as_deref(),
                    )
                    .await;
            }
            page(&failure)
        }
    }
}

async fn sign_in(
    state: &AppState,
    params: &HashMap<String, String>,
    address: Option<&str>,
    who: &mut String,
) -> Result<(String, String), Failure> {
    let oidc = state.oidc.as_ref().ok_or(Failure::NotConfigured)?;
    let pending = oidc.take(params.get("state").map(String::as_str).unwrap_or("")).await?;
    if let Some(error) = params.get("error") {
        let description = params.get("error_description").map(String::as_str).unwrap_or("");
        return Err(SignInRefusal::Invalid(format!(
            "the sign-in service answered `{error}` {description}"
        ))
        .into());
    }
    let code = params.get("code").map(String::as_str).filter(|c| !c.is_empty() && c.len() <= 4096);
    let code =
        code.ok_or_else(|| SignInRefusal::Invalid("the sign-in service sent no code".into()))?;
    let (claims, id_token) = oidc.finish(code, &pending, state.clock.now()).await?;
    if let Some(name) = claims.get("sub").and_then(|s| s.as_str()) {
        *who = format!("oidc:{name}");
    }
    let identity = oidc.identity(&claims, |code| state.catalog.contains(code))?;
    *who = format!("user:{}", identity.username);
    let user = account_of(state, &identity, address).await?;
    let token = state.accounts.create_provider_session(&user, address, Some(&id_token)).await?;
    state.accounts.audit(who, "login", None, Some("oidc"), address).await;
    Ok((token, pending.next))
}

/// The account the identity signs in to: created, or synced (a change of role or unit closes
/// the person's other live connections).
async fn account_of(
    state: &AppState,
    identity: &crate::accounts::directory::Identity,
    address: Option<&str>,
) -> Result<User, Failure> {
    let label = format!("user:{}", identity.username);
    match state.accounts.provider_sign_in(identity).await? {
        ProviderSignIn::Created(user) => {
            let detail = format!(
                "origin oidc, role {}{}",
                user.role.as_str(),
                user.unit.as_deref().map(|u| format!(", unit {u}")).unwrap_or_default()
            );
            state.accounts.audit("oidc", "user_added", Some(&user.username), Some(&detail), address).await;
            Ok(user)
        }
        ProviderSignIn::Synced { user, changed } => {
            if let Some(changed) = changed {
                let detail = changed.describe();
                state.accounts.audit(&label, "user_synced", Some(&user.username), Some(&detail), address).await;
                if changed.scope_changed() {
                    state.manage.revoker().publish(&format!("user:{}", changed.id)).await;
                }
            }
            Ok(user)
        }
        ProviderSignIn::Disabled => Err(SignInRefusal::NoRights(format!(
            "the account `{}` was disabled by an administrator",
            identity.username
        ))
        .into()),
        ProviderSignIn::LastAdmin => Err(SignInRefusal::NoRights(format!(
            "`{}` is the last active admin; the provider's role would leave none (an admin must hand over first)",
            identity.username
        ))
        .into()),
    }
}
