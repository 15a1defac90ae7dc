//! `/api/v1/alerts/*`: alert rules (admins and leaders on every unit, a chief on units within
//! his own), and the alerts they raise, scoped like the summary; acknowledging one.

use super::error::{bounded, ApiError};
use super::extract::json_body;
use crate::accounts::access::{authorize_unit, Caller, Principal};
use crate::alerts::rules::{evaluates, may_manage};
use crate::alerts::{AlertError, AlertFilter};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use ioc_shared::alerts::{Alert, AlertState, AlertsPage, Rule, RuleSpec, MAX_TEXT_CHARS};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/alerts", get(list_alerts))
        .route("/api/v1/alerts/{id}/ack", post(acknowledge))
        .route("/api/v1/alerts/rules", get(list_rules).post(create_rule))
        .route("/api/v1/alerts/rules/{id}", get(get_rule).put(replace_rule).delete(delete_rule))
}

impl From<AlertError> for ApiError {
    fn from(error: AlertError) -> ApiError {
        match error {
            AlertError::Invalid(m) => ApiError::BadRequest(m),
            AlertError::NotFound(m) => ApiError::NotFound(m),
            AlertError::Conflict(m) => ApiError::Conflict(m),
            AlertError::Store(e) => ApiError::from(e),
            error @ AlertError::Encode(_) => ApiError::internal(error),
        }
    }
}

const RULE_SHAPE: &str = "{\"name\", \"unit\", \"include_children\"?, \"metric\", \"window\", \"op\": \">\"|\">=\"|\"<\"|\"<=\", \"threshold\", \"for_seconds\"?, \"severity\"?: \"warning\"|\"critical\", \"min_sample\"?, \"notify\"?: {\"roles\", \"users\", \"webhooks\"}, \"escalate_after_minutes\"?}";

/// A wall display reads figures, never rules or alerts' notes, and changes nothing.
fn person(caller: &Caller) -> Result<(), ApiError> {
    match caller.principal {
        Principal::User(_) => Ok(()),
        Principal::Display(_) => {
            Err(ApiError::Forbidden("a wall display cannot manage or acknowledge alerts".into()))
        }
    }
}

/// Checks that the caller may write rules on `unit`; a refusal is audited.
async fn may_write(state: &AppState, caller: &Caller, unit: &str) -> Result<(), ApiError> {
    person(caller)?;
    if may_manage(&caller.principal, &state.catalog, unit) {
        return Ok(());
    }
    state
        .accounts
        .audit(
            &caller.principal.label(),
            "access_denied",
            Some(&format!("unit:{unit}")),
            Some("alert rules"),
            caller.address.as_deref(),
        )
        .await;
    Err(ApiError::Forbidden(format!("you may not manage alert rules of unit `{unit}`")))
}

/// Whether a (scoped) caller may read a rule: it is on a unit within his scope, or evaluates
/// his unit (a city-wide rule that includes children).
fn may_read(state: &AppState, caller: &Caller, rule: &Rule) -> bool {
    match caller.principal.scope() {
        None => true,
        Some(root) => {
            state.catalog.is_within(&rule.spec.unit, root) || evaluates(rule, &state.catalog, root)
        }
    }
}

fn rule_id(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::NotFound(format!("no alert rule `{text}`")))
}

async fn visible_rule(state: &AppState, caller: &Caller, id: &str) -> Result<Rule, ApiError> {
    let id = rule_id(id)?;
    let rule = bounded(state.settings.database_timeout, state.alerts.rule(id)).await?;
    match rule {
        Some(rule) if may_read(state, caller, &rule) => Ok(rule),
        _ => Err(ApiError::NotFound(format!("no alert rule {id}"))),
    }
}

#[derive(Serialize)]
struct RulesPage {
    rules: Vec<Rule>,
}

/// `GET /api/v1/alerts/rules?unit=`: the rules that evaluate the unit (its own, and those of
/// units above it that include children); without `unit`, every rule the caller may read.
async fn list_rules(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<RulesPage>, ApiError> {
    person(&caller)?;
    let unit = match params.get("unit").filter(|u| !u.is_empty()) {
        Some(code) => Some(authorize_unit(&state.catalog, &state.accounts, &caller, code).await?),
        None => None,
    };
    let rules = bounded(state.settings.database_timeout, state.alerts.all_rules()).await?;
    let rules = rules
        .into_iter()
        .filter(|rule| match unit {
            Some(unit) => evaluates(rule, &state.catalog, &unit.code),
            None => may_read(&state, &caller, rule),
        })
        .collect();
    Ok(Json(RulesPage { rules }))
}

async fn get_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Rule>, ApiError> {
    person(&caller)?;
    Ok(Json(visible_rule(&state, &caller, &id).await?))
}

async fn create_rule(
    State(state): State<AppState>,
    caller: Caller,
    bytes: axum::body::Bytes,
) -> Result<(StatusCode, Json<Rule>), ApiError> {
    person(&caller)?;
    let spec: RuleSpec = json_body(&bytes, RULE_SHAPE)?;
    may_write(&state, &caller, &spec.unit).await?;
    let actor = caller.principal.label();
    let created = state.alerts.create_rule(spec, &actor, caller.address.as_deref());
    let rule = bounded(state.settings.database_timeout, created).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

async fn replace_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Rule>, ApiError> {
    person(&caller)?;
    let old = visible_rule(&state, &caller, &id).await?;
    let spec: RuleSpec = json_body(&bytes, RULE_SHAPE)?;
    // Both the unit it watched and the unit it will watch must be the caller's.
    may_write(&state, &caller, &old.spec.unit).await?;
    may_write(&state, &caller, &spec.unit).await?;
    let actor = caller.principal.label();
    let replaced = state.alerts.replace_rule(old.id, spec, &actor, caller.address.as_deref());
    Ok(Json(bounded(state.settings.database_timeout, replaced).await?))
}

async fn delete_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    person(&caller)?;
    let old = visible_rule(&state, &caller, &id).await?;
    may_write(&state, &caller, &old.spec.unit).await?;
    let actor = caller.principal.label();
    let deleted = state.alerts.delete_rule(old.id, &actor, caller.address.as_deref());
    bounded(state.settings.database_timeout, deleted).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/alerts?unit=&state=&cursor=`: the alerts of the unit and every unit below it,
/// newest first, 100 a page.
async fn list_alerts(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<AlertsPage>, ApiError> {
    let within = match params.get("unit").filter(|u| !u.is_empty()) {
        Some(code) => {
            Some(authorize_unit(&state.catalog, &state.accounts, &caller, code).await?.code.clone())
        }
        None => caller.principal.scope().map(str::to_owned),
    };
    let wanted_state = match params.get("state").filter(|s| !s.is_empty()) {
        Some(text) => Some(AlertState::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`state` must be firing, acknowledged or resolved, not `{text}`"
            ))
        })?),
        None => None,
    };
    let before_id = super::extract::id_cursor(&params)?;
    let filter = AlertFilter { within, state: wanted_state, before_id };
    let mut page = bounded(state.settings.database_timeout, state.alerts.list(&filter)).await?;
    if matches!(caller.principal, Principal::Display(_)) {
        page.alerts = page.alerts.into_iter().map(Alert::without_names).collect();
    }
    Ok(Json(page))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Acknowledge {
    #[serde(default)]
    note: Option<String>,
}

/// `POST /api/v1/alerts/{id}/ack {"note"}`: anyone who can see the alert's unit, never a
/// display; only a firing alert (409 otherwise).
async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Alert>, ApiError> {
    person(&caller)?;
    let not_found = || ApiError::NotFound(format!("no alert `{id}`"));
    let alert_id = id.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(not_found)?;
    let ack: Acknowledge = if bytes.iter().all(u8::is_ascii_whitespace) {
        Acknowledge { note: None }
    } else {
        json_body(&bytes, "{\"note\"?}")?
    };
    let note = ack.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if let Some(note) = &note {
        if note.chars().count() > MAX_TEXT_CHARS {
            return Err(ApiError::BadRequest(format!(
                "`note` is longer than {MAX_TEXT_CHARS} characters"
            )));
        }
        if note.contains('\0') {
            return Err(ApiError::BadRequest("`note` contains a NUL character".into()));
        }
    }
    let alert = bounded(state.settings.database_timeout, state.alerts.get(alert_id)).await?;
    let Some(alert) = alert.filter(|a| caller.principal.can_see(&state.catalog, &a.unit.code))
    else {
        return Err(not_found());
    };
    let actor = caller.principal.label();
    let done =
        state.alerts.acknowledge(alert.id, &actor, note.as_deref(), caller.address.as_deref());
    Ok(Json(bounded(state.settings.database_timeout, done).await?))
}
