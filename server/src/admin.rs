//! `/api/v1/admin/*`: managing people, wall displays and ingest keys, and reading the audit
//! log. Admins only; every change is audited, and revocations close live connections at once.

use crate::accounts::{Display, IngestKey, User};
use crate::app::AppState;
use crate::auth::{publish_revocation, AdminCaller};
use crate::error::ApiError;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use ioc_shared::access::{Role, WallView};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/users", get(list_users).post(add_user))
        .route("/api/v1/admin/users/{username}/disable", post(disable_user))
        .route("/api/v1/admin/users/{username}/enable", post(enable_user))
        .route("/api/v1/admin/displays", get(list_displays).post(create_display))
        .route("/api/v1/admin/displays/{id}/revoke", post(revoke_display))
        .route("/api/v1/admin/displays/{id}/pairing", post(new_pairing))
        .route("/api/v1/admin/keys", get(list_keys).post(create_key))
        .route("/api/v1/admin/keys/{id}/revoke", post(revoke_key))
        .route("/api/v1/admin/audit", get(audit_log))
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8], shape: &str) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("{e}; expected {shape}")))
}

/// A unit code that must exist in the catalog.
pub fn known_unit(state: &AppState, code: &str) -> Result<(), ApiError> {
    if state.catalog.contains(code) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!("unknown unit `{code}`")))
    }
}

async fn list_users(State(state): State<AppState>, _admin: AdminCaller) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(state.accounts.list_users().await?))
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    password: String,
    role: Role,
    unit: Option<String>,
}

async fn add_user(State(state): State<AppState>, AdminCaller(admin): AdminCaller, bytes: axum::body::Bytes) -> Result<Json<User>, ApiError> {
    let new: NewUser = body(&bytes, "{\"username\", \"password\", \"role\": \"admin\"|\"leader\"|\"chief\", \"unit\"?}")?;
    if let Some(unit) = &new.unit {
        known_unit(&state, unit)?;
    }
    let user = state.accounts.add_user(&new.username, &new.password, new.role, new.unit.as_deref()).await?;
    let detail = format!("role {}{}", user.role.as_str(), user.unit.as_deref().map(|u| format!(", unit {u}")).unwrap_or_default());
    state.accounts.audit(&admin.principal.label(), "user_added", Some(&user.username), Some(&detail), admin.address.as_deref()).await;
    Ok(Json(user))
}

async fn disable_user(State(state): State<AppState>, AdminCaller(admin): AdminCaller, Path(username): Path<String>) -> Result<Json<User>, ApiError> {
    let user = state.accounts.set_disabled(&username, true).await?;
    state.accounts.audit(&admin.principal.label(), "user_disabled", Some(&user.username), None, admin.address.as_deref()).await;
    publish_revocation(&state, &format!("user:{}", user.id)).await;
    Ok(Json(user))
}

async fn enable_user(State(state): State<AppState>, AdminCaller(admin): AdminCaller, Path(username): Path<String>) -> Result<Json<User>, ApiError> {
    let user = state.accounts.set_disabled(&username, false).await?;
    state.accounts.audit(&admin.principal.label(), "user_enabled", Some(&user.username), None, admin.address.as_deref()).await;
    Ok(Json(user))
}

async fn list_displays(State(state): State<AppState>, _admin: AdminCaller) -> Result<Json<Vec<Display>>, ApiError> {
    Ok(Json(state.accounts.list_displays().await?))
}

#[derive(Deserialize)]
struct NewDisplay {
    name: String,
    unit: String,
    playlist: Vec<WallView>,
}

/// A display and how to pair a screen with it.
#[derive(Serialize)]
pub struct Pairing {
    pub display: Display,
    /// One-time code, typed on the screen at `/wall` (valid 24 hours).
    pub pairing_code: String,
    /// Opens `/wall` and pairs at once; the code travels in the fragment, never to a server log.
    pub pairing_link: String,
}

pub fn pairing(display: Display, code: String) -> Pairing {
    let pairing_link = format!("/wall#pair={code}");
    Pairing { display, pairing_code: code, pairing_link }
}

async fn create_display(State(state): State<AppState>, AdminCaller(admin): AdminCaller, bytes: axum::body::Bytes) -> Result<Json<Pairing>, ApiError> {
    let new: NewDisplay = body(&bytes, "{\"name\", \"unit\", \"playlist\": [{\"unit\", \"window\", \"seconds\"}]}")?;
    crate::accounts::check_display_scope(&state.catalog, &new.unit, &new.playlist)?;
    let (display, code) = state.accounts.create_display(&new.name, &new.unit, &new.playlist).await?;
    state.accounts.audit(&admin.principal.label(), "display_created", Some(&format!("display:{}", display.id)), Some(&display.name), admin.address.as_deref()).await;
    Ok(Json(pairing(display, code)))
}

async fn revoke_display(State(state): State<AppState>, AdminCaller(admin): AdminCaller, Path(id): Path<i64>) -> Result<Json<Display>, ApiError> {
    let display = state.accounts.revoke_display(id).await?;
    state.accounts.audit(&admin.principal.label(), "display_revoked", Some(&format!("display:{id}")), Some(&display.name), admin.address.as_deref()).await;
    publish_revocation(&state, &format!("display:{id}")).await;
    Ok(Json(display))
}

async fn new_pairing(State(state): State<AppState>, AdminCaller(admin): AdminCaller, Path(id): Path<i64>) -> Result<Json<Pairing>, ApiError> {
    let (display, code) = state.accounts.new_pairing_code(id).await?;
    state.accounts.audit(&admin.principal.label(), "display_pairing_reset", Some(&format!("display:{id}")), Some(&display.name), admin.address.as_deref()).await;
    publish_revocation(&state, &format!("display:{id}")).await;
    Ok(Json(pairing(display, code)))
}

async fn list_keys(State(state): State<AppState>, _admin: AdminCaller) -> Result<Json<Vec<IngestKey>>, ApiError> {
    Ok(Json(state.accounts.list_keys().await?))
}

#[derive(Deserialize)]
struct NewKey {
    source: String,
    unit: Option<String>,
}

#[derive(Serialize)]
struct CreatedKey {
    #[serde(flatten)]
    key: IngestKey,
    /// Shown once; only its hash is stored.
    secret: String,
}

async fn create_key(State(state): State<AppState>, AdminCaller(admin): AdminCaller, bytes: axum::body::Bytes) -> Result<Json<CreatedKey>, ApiError> {
    let new: NewKey = body(&bytes, "{\"source\", \"unit\"?}")?;
    if let Some(unit) = &new.unit {
        known_unit(&state, unit)?;
    }
    let (key, secret) = state.accounts.create_key(&new.source, new.unit.as_deref()).await?;
    state.accounts.audit(&admin.principal.label(), "key_created", Some(&format!("key:{}", key.id)), Some(&key.source), admin.address.as_deref()).await;
    Ok(Json(CreatedKey { key, secret }))
}

async fn revoke_key(State(state): State<AppState>, AdminCaller(admin): AdminCaller, Path(id): Path<i64>) -> Result<Json<IngestKey>, ApiError> {
    let key = state.accounts.revoke_key(id).await?;
    state.accounts.audit(&admin.principal.label(), "key_revoked", Some(&format!("key:{id}")), Some(&key.source), admin.address.as_deref()).await;
    Ok(Json(key))
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<i64>,
}

async fn audit_log(State(state): State<AppState>, _admin: AdminCaller, Query(query): Query<AuditQuery>) -> Result<Json<Vec<crate::accounts::AuditRecord>>, ApiError> {
    Ok(Json(state.accounts.audit_log(query.limit.unwrap_or(200)).await?))
}
