//! `/api/v1/admin/*`: managing people, wall displays and ingest keys, and reading the audit
//! log. Admins only. Every change goes through [`crate::accounts::manage`], the same functions
//! the `ioc` command line calls: same checks, same audit entries, same revocations.

use super::error::{bounded, ApiError};
use super::extract::{json_body as body, AdminCaller};
use crate::accounts::directory::{Change, PeopleFilter};
use crate::accounts::import::ImportReport;
use crate::accounts::{
    AuditRecord, Display, Expectation, IngestKey, Person, User, Watch,
    DEFAULT_EXPECTED_INTERVAL_SECONDS,
};
use crate::ingest::sources::SourceReport;
use crate::notify::webhooks::{self, Delivery, NewWebhook, Webhook};
use crate::state::AppState;
use crate::store::inspect::{Quarantined, UnknownUnit};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use ioc_shared::access::{Role, WallView};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/users", get(list_users).post(add_user))
        .route("/api/v1/admin/users/{username}", axum::routing::put(change_person))
        .route(
            "/api/v1/admin/users/import",
            post(import_people).layer(axum::extract::DefaultBodyLimit::max(IMPORT_MAX_BYTES)),
        )
        .route("/api/v1/admin/users/{username}/disable", post(disable_user))
        .route("/api/v1/admin/users/{username}/enable", post(enable_user))
        .route("/api/v1/admin/users/{username}/reset-password", post(reset_password))
        .route("/api/v1/admin/displays", get(list_displays).post(create_display))
        .route("/api/v1/admin/displays/{id}/revoke", post(revoke_display))
        .route("/api/v1/admin/displays/{id}/pairing", post(new_pairing))
        .route("/api/v1/admin/keys", get(list_keys).post(create_key))
        .route("/api/v1/admin/keys/{id}/revoke", post(revoke_key))
        .route("/api/v1/admin/audit", get(audit_log))
        .route("/api/v1/admin/quarantine", get(quarantine))
        .route("/api/v1/admin/sources", get(sources))
        .route("/api/v1/admin/unknown-units", get(unknown_units))
        .route("/api/v1/admin/public", get(list_public).post(make_public))
        .route("/api/v1/admin/public/{unit}/remove", post(withdraw_public))
        .route("/api/v1/admin/webhooks", get(list_webhooks).post(create_webhook))
        .route("/api/v1/admin/webhooks/{id}", axum::routing::delete(disable_webhook))
        .route("/api/v1/admin/deliveries", get(deliveries))
}

/// Most people in one page of `GET /api/v1/admin/users`, and the page when none is asked.
const PEOPLE_PAGE_MAX: i64 = 1000;
const PEOPLE_PAGE_DEFAULT: i64 = 100;

#[derive(Serialize)]
struct PeoplePage {
    users: Vec<Person>,
    /// The `cursor` of the next page; `null` on the last.
    next: Option<String>,
}

/// `GET /api/v1/admin/users?unit=&role=&q=&limit=&cursor=`: people in username order, a page
/// at a time; `unit` takes a unit and everything below it, `q` a piece of the username or
/// the full name.
async fn list_users(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<PeoplePage>, ApiError> {
    let given = |name: &str| params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let limit = match given("limit") {
        None => PEOPLE_PAGE_DEFAULT,
        Some(text) => {
            text.parse::<i64>().ok().filter(|n| (1..=PEOPLE_PAGE_MAX).contains(n)).ok_or_else(
                || {
                    ApiError::BadRequest(format!(
                        "`limit` must be a whole number from 1 to {PEOPLE_PAGE_MAX}, not `{text}`"
                    ))
                },
            )?
        }
    };
    let role = match given("role") {
        None => None,
        Some(text) => Some(Role::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!("`role` must be admin, leader or chief, not `{text}`"))
        })?),
    };
    let units = match given("unit") {
        None => None,
        Some(code) if state.catalog.contains(code) => Some(state.catalog.subtree(code)),
        Some(code) => return Err(ApiError::NotFound(format!("unknown unit `{code}`"))),
    };
    if given("q").is_some_and(|q| q.contains('\0')) {
        return Err(ApiError::BadRequest("`q` contains a NUL character".into()));
    }
    let filter = PeopleFilter { units, role, text: given("q").map(str::to_owned) };
    let cursor = given("cursor");
    if cursor.is_some_and(|c| c.contains('\0')) {
        return Err(ApiError::BadRequest("`cursor` is not one this server gave".into()));
    }
    let users = state.accounts.list_people(&filter, cursor, limit).await?;
    let next =
        (users.len() as i64 == limit).then(|| users.last().map(|p| p.username.clone())).flatten();
    Ok(Json(PeoplePage { users, next }))
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    password: String,
    role: Role,
    unit: Option<String>,
}

async fn add_user(
    State(state): State<AppState>,
    admin: AdminCaller,
    bytes: axum::body::Bytes,
) -> Result<Json<User>, ApiError> {
    let new: NewUser = body(
        &bytes,
        "{\"username\", \"password\", \"role\": \"admin\"|\"leader\"|\"chief\", \"unit\"?}",
    )?;
    Ok(Json(
        state
            .manage
            .add_user(&admin.actor(), &new.username, &new.password, new.role, new.unit.as_deref())
            .await?,
    ))
}

/// A field given (even as `null`) is `Some`; one left out is `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonChange {
    role: Option<Role>,
    #[serde(default, deserialize_with = "present")]
    unit: Option<Option<String>>,
    full_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    break_glass: Option<bool>,
}

/// `PUT /api/v1/admin/users/{username}` `{"role", "unit", "full_name", "email", "phone",
/// "break_glass"}`: a field left out stays, an empty text is cleared. A change of role or unit
/// ends the person's sessions and live connections; the last active admin stays an admin.
async fn change_person(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(username): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Person>, ApiError> {
    let new: PersonChange = body(
        &bytes,
        "{\"role\"?: \"admin\"|\"leader\"|\"chief\", \"unit\"?, \"full_name\"?, \"email\"?, \"phone\"?, \"break_glass\"?}",
    )?;
    let change = Change {
        role: new.role,
        unit: new.unit,
        full_name: new.full_name,
        email: new.email,
        phone: new.phone,
        break_glass: new.break_glass,
    };
    Ok(Json(state.manage.change_person(&admin.actor(), &username, &change).await?))
}

/// Largest import file (about 200,000 people).
const IMPORT_MAX_BYTES: usize = 32 * 1024 * 1024;

/// `POST /api/v1/admin/users/import?dry_run=true` with a `text/csv` body
/// `username,full_name,role,unit,email,phone`: creates or updates each row's person; the
/// answer lists created, updated, unchanged and every refused row with its line and reason.
async fn import_people(
    State(state): State<AppState>,
    admin: AdminCaller,
    Query(params): Query<std::collections::HashMap<String, String>>,
    request: axum::extract::Request,
) -> Result<Json<ImportReport>, ApiError> {
    let content_type = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if let Some(kind) = content_type.filter(|k| !["text/csv"].contains(&k.as_str())) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "an import is a CSV file (Content-Type: text/csv), not `{kind}`"
        )));
    }
    let dry_run = match params.get("dry_run").map(String::as_str) {
        None | Some("false" | "0" | "") => false,
        Some("true" | "1") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "`dry_run` must be true or false, not `{other}`"
            )))
        }
    };
    let bytes =
        axum::body::to_bytes(request.into_body(), IMPORT_MAX_BYTES).await.map_err(|_| {
            ApiError::PayloadTooLarge(format!(
                "an import file has at most {} MiB",
                IMPORT_MAX_BYTES >> 20
            ))
        })?;
    let report = state.manage.import_people(&admin.actor(), &bytes, dry_run).await?;
    Ok(Json(report))
}

async fn list_webhooks(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    let listed = webhooks::list(&state.store.pool);
    Ok(Json(bounded(state.settings.database_timeout, listed).await?))
}

/// `POST /api/v1/admin/webhooks` `{"url", "secret", "events"}` → 201 (the secret is never shown
/// again).
async fn create_webhook(
    State(state): State<AppState>,
    admin: AdminCaller,
    bytes: axum::body::Bytes,
) -> Result<(StatusCode, Json<Webhook>), ApiError> {
    let new: NewWebhook = body(&bytes, "{\"url\", \"secret\", \"events\": [\"alert.firing\", …]}")?;
    webhooks::check(&new).map_err(ApiError::BadRequest)?;
    let actor = admin.actor();
    let created = webhooks::create(&state.store.pool, &new, &actor.label, state.clock.now());
    let webhook = bounded(state.settings.database_timeout, created).await?;
    state
        .accounts
        .audit(
            &actor.label,
            "webhook_created",
            Some(&format!("webhook:{}", webhook.id)),
            Some(&webhook.url),
            actor.address.as_deref(),
        )
        .await;
    Ok((StatusCode::CREATED, Json(webhook)))
}

/// `DELETE /api/v1/admin/webhooks/{id}`: new events skip it; it stays on record with its
/// deliveries.
async fn disable_webhook(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let not_found = || ApiError::NotFound(format!("no webhook `{id}`"));
    let webhook_id = id.parse::<i64>().map_err(|_| not_found())?;
    let done = webhooks::disable(&state.store.pool, webhook_id);
    if !bounded(state.settings.database_timeout, done).await? {
        return Err(not_found());
    }
    let actor = admin.actor();
    state
        .accounts
        .audit(
            &actor.label,
            "webhook_disabled",
            Some(&format!("webhook:{webhook_id}")),
            None,
            actor.address.as_deref(),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct DeliveriesPage {
    deliveries: Vec<Delivery>,
    next: Option<String>,
}

/// `GET /api/v1/admin/deliveries?state=pending|delivered|failed&cursor=`: newest first.
async fn deliveries(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<DeliveriesPage>, ApiError> {
    let wanted = params.get("state").map(String::as_str).filter(|s| !s.is_empty());
    if let Some(text) = wanted {
        if !["pending", "delivered", "failed"].contains(&text) {
            return Err(ApiError::BadRequest(format!(
                "`state` must be pending, delivered or failed, not `{text}`"
            )));
        }
    }
    let before = match params.get("cursor").filter(|c| !c.is_empty()) {
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            ApiError::BadRequest(format!("`cursor` `{text}` is not one this server gave"))
        })?),
        None => None,
    };
    let listed = webhooks::deliveries(&state.store.pool, wanted, before);
    let deliveries = bounded(state.settings.database_timeout, listed).await?;
    let next = (deliveries.len() as i64 == webhooks::DELIVERIES_PER_PAGE)
        .then(|| deliveries.last().map(|d| d.id.to_string()))
        .flatten();
    Ok(Json(DeliveriesPage { deliveries, next }))
}

async fn disable_user(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(username): Path<String>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.manage.disable_user(&admin.actor(), &username).await?))
}

async fn enable_user(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(username): Path<String>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.manage.enable_user(&admin.actor(), &username).await?))
}

#[derive(Deserialize)]
struct NewPassword {
    password: String,
}

/// Sets a new password; the person's sessions end and their live connections close.
async fn reset_password(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(username): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<User>, ApiError> {
    let new: NewPassword = body(&bytes, "{\"password\"}")?;
    Ok(Json(state.manage.reset_password(&admin.actor(), &username, &new.password).await?))
}

async fn list_displays(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Json<Vec<Display>>, ApiError> {
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

fn pairing((display, code): (Display, String)) -> Pairing {
    let pairing_link = format!("/wall#pair={code}");
    Pairing { display, pairing_code: code, pairing_link }
}

async fn create_display(
    State(state): State<AppState>,
    admin: AdminCaller,
    bytes: axum::body::Bytes,
) -> Result<Json<Pairing>, ApiError> {
    let new: NewDisplay =
        body(&bytes, "{\"name\", \"unit\", \"playlist\": [{\"unit\", \"window\", \"seconds\"}]}")?;
    Ok(Json(pairing(
        state.manage.create_display(&admin.actor(), &new.name, &new.unit, &new.playlist).await?,
    )))
}

async fn revoke_display(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(id): Path<i64>,
) -> Result<Json<Display>, ApiError> {
    Ok(Json(state.manage.revoke_display(&admin.actor(), id).await?))
}

async fn new_pairing(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(id): Path<i64>,
) -> Result<Json<Pairing>, ApiError> {
    Ok(Json(pairing(state.manage.new_pairing(&admin.actor(), id).await?)))
}

async fn list_keys(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Json<Vec<IngestKey>>, ApiError> {
    Ok(Json(state.accounts.list_keys().await?))
}

#[derive(Deserialize)]
struct NewKey {
    source: String,
    unit: Option<String>,
    /// Flag the source silent after this long without an event (default 1800).
    expected_interval_seconds: Option<i32>,
    /// `working-hours` (default), `always` or `never`.
    watch: Option<Watch>,
}

#[derive(Serialize)]
struct CreatedKey {
    #[serde(flatten)]
    key: IngestKey,
    /// Shown once; only its hash is stored.
    secret: String,
}

async fn create_key(
    State(state): State<AppState>,
    admin: AdminCaller,
    bytes: axum::body::Bytes,
) -> Result<Json<CreatedKey>, ApiError> {
    let new: NewKey = body(&bytes, "{\"source\", \"unit\"?, \"expected_interval_seconds\"?, \"watch\"?: \"working-hours\"|\"always\"|\"never\"}")?;
    let expectation = Expectation {
        interval_seconds: new
            .expected_interval_seconds
            .unwrap_or(DEFAULT_EXPECTED_INTERVAL_SECONDS),
        watch: new.watch.unwrap_or_default(),
    };
    let (key, secret) = state
        .manage
        .create_key(&admin.actor(), &new.source, new.unit.as_deref(), expectation)
        .await?;
    Ok(Json(CreatedKey { key, secret }))
}

async fn revoke_key(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(id): Path<i64>,
) -> Result<Json<IngestKey>, ApiError> {
    Ok(Json(state.manage.revoke_key(&admin.actor(), id).await?))
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<i64>,
}

async fn audit_log(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    Ok(Json(state.accounts.audit_log(query.limit.unwrap_or(200)).await?))
}

#[derive(Serialize)]
struct QuarantineList {
    /// Rows quarantined in all (the list shows the newest `limit`).
    total: i64,
    rows: Vec<Quarantined>,
}

/// Rows set aside because they could not be read (outbox rows, stored events, items).
async fn quarantine(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Query(query): Query<AuditQuery>,
) -> Result<Json<QuarantineList>, ApiError> {
    let (total, rows) = state.store.quarantined(query.limit.unwrap_or(200)).await?;
    Ok(Json(QuarantineList { total, rows }))
}

/// Items whose unit is not in the catalog (counted under `_unknown`).
async fn unknown_units(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Json<Vec<UnknownUnit>>, ApiError> {
    Ok(Json(state.store.unknown_units(&state.catalog).await?))
}

/// Every source system: its keys and what they expect, last event, traffic in the last hour and
/// day, top rejection reasons, and whether it went silent.
async fn sources(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Json<Vec<SourceReport>>, ApiError> {
    let reports =
        crate::ingest::sources::report(&state.store, &state.accounts, state.clock.now()).await?;
    Ok(Json(reports))
}

#[derive(Serialize)]
struct PublicUnitView {
    unit: String,
    name: String,
    officers: bool,
    updated_at: String,
}

async fn list_public(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Json<Vec<PublicUnitView>>, ApiError> {
    let units = state.accounts.public_units().await?;
    Ok(Json(
        units
            .into_iter()
            .map(|p| PublicUnitView {
                name: state.catalog.get(&p.unit).map(|u| u.name.clone()).unwrap_or_default(),
                unit: p.unit,
                officers: p.officers,
                updated_at: ioc_shared::time::to_local_rfc3339(p.updated_at),
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPublicUnit {
    unit: String,
    /// Name the unit's late officers on the public page (default: no).
    #[serde(default)]
    officers: bool,
}

/// Makes a unit public, or changes whether its officers are named (audited either way).
async fn make_public(
    State(state): State<AppState>,
    admin: AdminCaller,
    bytes: axum::body::Bytes,
) -> Result<Json<PublicUnitView>, ApiError> {
    let new: NewPublicUnit = body(&bytes, "{\"unit\", \"officers\"?: true|false}")?;
    let public = state.manage.make_public(&admin.actor(), &new.unit, new.officers).await?;
    state.public.mark_changed();
    Ok(Json(PublicUnitView {
        name: state.catalog.get(&public.unit).map(|u| u.name.clone()).unwrap_or_default(),
        unit: public.unit,
        officers: public.officers,
        updated_at: ioc_shared::time::to_local_rfc3339(public.updated_at),
    }))
}

async fn withdraw_public(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(unit): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.manage.withdraw_public(&admin.actor(), &unit).await?;
    state.public.mark_changed();
    Ok(Json(serde_json::json!({"unit": unit, "public": false})))
}
