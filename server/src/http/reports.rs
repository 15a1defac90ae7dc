//! Frozen, signed reports: `POST /api/v1/reports`, `GET /api/v1/reports?unit=`,
//! `GET /api/v1/reports/{id}`, and the public key that checks them, `GET /api/v1/reports/key`.
//! Scope as for the summary: a chief makes and reads the reports of his unit and below.

use super::error::{bounded, ApiError};
use super::extract::{day, json_body, not_a_day};
use crate::accounts::access::{authorize_unit, Caller, Principal};
use crate::reports::schedules::{self, NewSchedule, ScheduleError, Timing};
use crate::reports::{self, ReportError};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ioc_shared::report::{
    NewReportSchedule, ReportKey, ReportListing, ReportSchedule, PERIODS, WEEKDAYS,
};
use serde::Deserialize;
use std::collections::HashMap;

/// Most reports one list answers, newest first.
const LIST_LIMIT: i64 = 500;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports", get(list).post(make))
        .route("/api/v1/reports/key", get(key))
        .route("/api/v1/reports/schedules", get(list_schedules).post(add_schedule))
        .route("/api/v1/reports/schedules/{id}", axum::routing::delete(delete_schedule))
        .route("/api/v1/reports/{id}", get(one))
}

impl From<ReportError> for ApiError {
    fn from(error: ReportError) -> ApiError {
        match error {
            ReportError::Store(e) => e.into(),
            error @ ReportError::NotOver { .. } => ApiError::BadRequest(error.to_string()),
            error @ ReportError::CatchingUp { .. } => ApiError::CatchingUp(error.to_string()),
            other => ApiError::internal(other),
        }
    }
}

const MAKE_SHAPE: &str =
    "{\"unit\": \"001\", \"period\": \"week\"|\"month\"|\"quarter\"|\"year\", \"ending\": \"YYYY-MM-DD\"}";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewReport {
    unit: String,
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    ending: Option<String>,
}

/// `POST /api/v1/reports`: freezes, signs and keeps the report; 201 with it.
async fn make(
    State(state): State<AppState>,
    caller: Caller,
    bytes: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let new: NewReport = json_body(&bytes, MAKE_SHAPE)?;
    let unit = authorize_unit(&state.catalog, &state.accounts, &caller, &new.unit).await?;
    let period = new.period.as_deref().unwrap_or("week");
    if !PERIODS.contains(&period) {
        return Err(ApiError::BadRequest(format!(
            "`period` must be week, month, quarter or year, not `{period}`"
        )));
    }
    let now = state.clock.now();
    let ending = match new.ending.as_deref() {
        Some(text) => day(text).ok_or_else(|| not_a_day("ending", text))?,
        None => reports::last_complete(period, ioc_shared::time::local_today(now))
            .ok_or_else(|| ApiError::BadRequest("no complete period before today".into()))?,
    };
    let key = state.report_key().map_err(ApiError::internal)?;
    let made_by = caller.principal.label();
    let made =
        reports::make(&state.store, &state.catalog, &key, unit, period, ending, &made_by, now);
    // Its own database calls, after waiting for the history to catch up.
    let limit = state.settings.database_timeout + reports::CATCH_UP_WAIT;
    let report = bounded(limit, made).await?;
    Ok((StatusCode::CREATED, Json(report)).into_response())
}

/// The units a list answers for: `?unit=` (if the caller may see it), else every unit the caller
/// may see (`None`: all).
async fn listed_units(
    state: &AppState,
    caller: &Caller,
    params: &HashMap<String, String>,
) -> Result<Option<Vec<String>>, ApiError> {
    Ok(match params.get("unit").filter(|u| !u.is_empty()) {
        Some(code) => {
            let unit = authorize_unit(&state.catalog, &state.accounts, caller, code).await?;
            Some(vec![unit.code.clone()])
        }
        None => caller.principal.scope().map(|root| state.catalog.subtree(root)),
    })
}

/// `GET /api/v1/reports?unit=`: the unit's reports (without `unit`: every report the caller
/// may see), newest first, at most [`LIST_LIMIT`].
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<ReportListing>>, ApiError> {
    let units = listed_units(&state, &caller, &params).await?;
    let listed = reports::list(&state.store, &state.catalog, units.as_deref(), LIST_LIMIT);
    Ok(Json(bounded(state.settings.database_timeout, listed).await?))
}

/// `GET /api/v1/reports/{id}`: the report as it was frozen, byte for byte;
/// `GET /api/v1/reports/{id}.pdf`: the same report as an A4 PDF.
async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::NotFound(format!("no report `{id}`"));
    let (number, pdf) = match id.strip_suffix(".pdf") {
        Some(number) => (number, true),
        None => (id.as_str(), false),
    };
    let number: i64 = number.parse().ok().filter(|n| *n > 0).ok_or_else(missing)?;
    let found =
        bounded(state.settings.database_timeout, reports::get(&state.store, number)).await?;
    let Some((unit, body)) = found else { return Err(missing()) };
    authorize_unit(&state.catalog, &state.accounts, &caller, &unit).await?;
    if !pdf {
        return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
    }
    let report: ioc_shared::report::Report =
        serde_json::from_str(&body).map_err(ApiError::internal)?;
    let font = state.settings.report_font.clone();
    let rendered = reports::pdf::render_off_thread(report, font, state.clock.now().timestamp());
    let bytes = rendered.await.map_err(ApiError::internal)?;
    let disposition = format!("inline; filename=\"{}\"", reports::pdf::file_name(number));
    let headers = [
        (header::CONTENT_TYPE, "application/pdf".to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    Ok((headers, bytes).into_response())
}

/// `GET /api/v1/reports/key`: the public key reports are signed with (no sign-in: whoever
/// holds a report may check it).
async fn key(State(state): State<AppState>) -> Result<Json<ReportKey>, ApiError> {
    let key = state.report_key().map_err(ApiError::internal)?;
    Ok(Json(ReportKey { alg: "Ed25519".into(), public_key: key.public_base64() }))
}

impl From<ScheduleError> for ApiError {
    fn from(error: ScheduleError) -> ApiError {
        match error {
            ScheduleError::Store(e) => e.into(),
            error @ ScheduleError::TooMany => ApiError::Conflict(error.to_string()),
            error @ ScheduleError::NeverRuns => ApiError::BadRequest(error.to_string()),
        }
    }
}

const SCHEDULE_SHAPE: &str = "{\"unit\": \"001\", \"period\": \"week\", \"weekday\": \"mon\", \"time\": \"07:00\", \"to\": {\"roles\": [\"chief\"], \"users\": [\"lanhdao\"]}}";

/// Longest user name a schedule may name.
const MAX_USERNAME_CHARS: usize = 200;

/// Most people a schedule names (roles and users together).
const MAX_RECIPIENTS: usize = 50;

/// `POST /api/v1/reports/schedules`: 201 with the schedule and when it runs first. Admins and
/// leaders for any unit, a chief for his unit and those below; not a wall display.
async fn add_schedule(
    State(state): State<AppState>,
    caller: Caller,
    bytes: axum::body::Bytes,
) -> Result<(StatusCode, Json<ReportSchedule>), ApiError> {
    let Principal::User(user) = &caller.principal else {
        return Err(ApiError::Forbidden("a wall display cannot schedule reports".into()));
    };
    let new: NewReportSchedule = json_body(&bytes, SCHEDULE_SHAPE)?;
    let unit = authorize_unit(&state.catalog, &state.accounts, &caller, &new.unit).await?;
    let period = new.period.as_deref().unwrap_or("week");
    if !PERIODS.contains(&period) {
        return Err(ApiError::BadRequest(format!(
            "`period` must be week, month, quarter or year, not `{period}`"
        )));
    }
    let weekday_text = new.weekday.as_deref().unwrap_or("mon");
    let weekday = schedules::weekday_index(weekday_text).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "`weekday` must be one of {}, not `{weekday_text}`",
            WEEKDAYS.join(", ")
        ))
    })?;
    let time_text = new.time.as_deref().unwrap_or("07:00");
    let minute = schedules::minute_of_day(time_text).ok_or_else(|| {
        ApiError::BadRequest(format!("`time` must be a local time HH:MM, not `{time_text}`"))
    })?;
    let to = &new.to;
    if to.roles.is_empty() && to.users.is_empty() {
        return Err(ApiError::BadRequest("`to` names no one: give `roles` or `users`".into()));
    }
    if to.roles.len() + to.users.len() > MAX_RECIPIENTS {
        return Err(ApiError::BadRequest(format!(
            "`to` names at most {MAX_RECIPIENTS} roles and users"
        )));
    }
    if let Some(role) = to.roles.iter().find(|r| ioc_shared::access::Role::parse(r).is_none()) {
        return Err(ApiError::BadRequest(format!(
            "`to.roles` holds chief, leader or admin, not `{role}`"
        )));
    }
    // Names are resolved when the schedule runs (active people with an address), as alert rules'
    // are: a person added later is mailed too.
    if to.users.iter().any(|u| u.trim().is_empty() || u.chars().count() > MAX_USERNAME_CHARS) {
        return Err(ApiError::BadRequest(format!(
            "`to.users` holds user names of 1 to {MAX_USERNAME_CHARS} characters"
        )));
    }
    let schedule = NewSchedule {
        unit: &unit.code,
        timing: Timing { period, weekday, minute },
        to,
        created_by: &user.username,
    };
    let now = state.clock.now();
    let added = bounded(
        state.settings.database_timeout,
        schedules::add(&state.store, &state.catalog, &schedule, now),
    )
    .await?;
    state
        .accounts
        .audit(
            &caller.principal.label(),
            "report_schedule_added",
            Some(&format!("report_schedule:{}", added.id)),
            Some(&format!("{} {period} {weekday_text} {time_text}", unit.code)),
            caller.address.as_deref(),
        )
        .await;
    Ok((StatusCode::CREATED, Json(added)))
}

/// `GET /api/v1/reports/schedules?unit=`: the unit's schedules (without `unit`: every one the
/// caller may see), oldest first.
async fn list_schedules(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<ReportSchedule>>, ApiError> {
    let units = listed_units(&state, &caller, &params).await?;
    let listed = schedules::list(&state.store, &state.catalog, units.as_deref());
    Ok(Json(bounded(state.settings.database_timeout, listed).await?))
}

/// `DELETE /api/v1/reports/schedules/{id}`: 204; the same people who may add it.
async fn delete_schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let Principal::User(_) = &caller.principal else {
        return Err(ApiError::Forbidden("a wall display cannot delete report schedules".into()));
    };
    let missing = || ApiError::NotFound(format!("no report schedule `{id}`"));
    let number: i64 = id.parse().ok().filter(|n| *n > 0).ok_or_else(missing)?;
    let unit = bounded(state.settings.database_timeout, schedules::unit_of(&state.store, number))
        .await?
        .ok_or_else(missing)?;
    authorize_unit(&state.catalog, &state.accounts, &caller, &unit).await?;
    if !bounded(state.settings.database_timeout, schedules::delete(&state.store, number)).await? {
        return Err(missing());
    }
    state
        .accounts
        .audit(
            &caller.principal.label(),
            "report_schedule_deleted",
            Some(&format!("report_schedule:{number}")),
            None,
            caller.address.as_deref(),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
