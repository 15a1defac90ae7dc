//! Notes on the timeline: `POST /api/v1/annotations` (admins and leaders for any unit, a chief
//! for his unit and those below it; audited) and `GET /api/v1/annotations?unit=&from=&to=`
//! (what the unit's charts show: its notes, those above it meant for the units below, and the
//! working calendar's days off).

use super::error::{bounded, ApiError};
use super::extract::{day_param, json_body};
use crate::accounts::access::{authorize_unit, Caller, Principal};
use crate::state::AppState;
use crate::store::annotations::NewNote;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ioc_shared::annotation::{Annotation, NewAnnotation, MAX_TEXT_CHARS};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/annotations", get(list).post(add))
}

const SHAPE: &str = "{\"unit\", \"at\": \"RFC 3339\", \"until\": null | \"RFC 3339\", \"text\", \"children\": true|false}";

fn moment(name: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| (2000..=2999).contains(&chrono::Datelike::year(t)))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`{name}` must be an RFC 3339 time between the years 2000 and 2999, not `{text}`"
            ))
        })
}

async fn add(
    State(state): State<AppState>,
    caller: Caller,
    bytes: axum::body::Bytes,
) -> Result<(StatusCode, Json<Annotation>), ApiError> {
    let Principal::User(user) = &caller.principal else {
        return Err(ApiError::Forbidden("a wall display cannot add notes".into()));
    };
    let new: NewAnnotation = json_body(&bytes, SHAPE)?;
    let unit = authorize_unit(&state.catalog, &state.accounts, &caller, &new.unit).await?;
    let at = moment("at", &new.at)?;
    let until = new.until.as_deref().map(|text| moment("until", text)).transpose()?;
    if until.is_some_and(|until| until < at) {
        return Err(ApiError::BadRequest("`until` is before `at`".into()));
    }
    let text = new.text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::BadRequest(format!(
            "`text` must hold 1 to {MAX_TEXT_CHARS} characters"
        )));
    }
    let note = NewNote {
        unit: &unit.code,
        at,
        until,
        text,
        children: new.children,
        made_by: &user.username,
    };
    let added = bounded(
        state.settings.database_timeout,
        state.store.add_annotation(&note, state.clock.now()),
    )
    .await?;
    state
        .accounts
        .audit(
            &caller.principal.label(),
            "annotation_added",
            Some(&format!("unit:{}", unit.code)),
            Some(text),
            caller.address.as_deref(),
        )
        .await;
    Ok((StatusCode::CREATED, Json(added)))
}

/// The notes on a unit's timeline over `[from, to]` (local days; default the last 30).
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Annotation>>, ApiError> {
    let code = params
        .get("unit")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::BadRequest("`unit` is required".into()))?;
    let unit = authorize_unit(&state.catalog, &state.accounts, &caller, code).await?;
    let today = ioc_shared::time::local_today(state.clock.now());
    let to = day_param(&params, "to")?.unwrap_or(today);
    let from = day_param(&params, "from")?.unwrap_or(to - chrono::Duration::days(29));
    if from > to || (to - from).num_days() > 366 * 5 {
        return Err(ApiError::BadRequest(
            "`from` must be before `to`, at most 5 years apart".into(),
        ));
    }
    let notes =
        crate::reports::annotations::of_unit(&state.store.pool, &state.catalog, unit, from, to);
    Ok(Json(bounded(state.settings.database_timeout, notes).await?))
}
