//! `GET /api/v1/calendar/due?from=RFC3339&working_hours=N` (or `working_days=N`): the deadline
//! the server would store for an event with that `at` and `due_in`, so source systems can show
//! it before sending. Any signed-in caller: a session or paired display, or a source system's
//! ingest key (`Authorization: Bearer …`).

use super::error::ApiError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use ioc_shared::calendar::DueIn;
use serde::Serialize;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/calendar/due", get(due))
}

#[derive(Debug, Serialize)]
pub struct DueAnswer {
    /// RFC 3339, local time (`+07:00`).
    pub due: String,
}

/// A session or display (cookie), or else an ingest key (bearer, checked and throttled as on
/// `POST /api/v1/events`).
async fn signed_in(state: &AppState, parts: &Parts) -> Result<(), ApiError> {
    let address = super::extract::client_address(&state.settings, parts);
    if super::extract::authenticate(state, &parts.headers, address).await?.is_some() {
        return Ok(());
    }
    if parts.headers.contains_key(header::AUTHORIZATION) {
        return super::events::sender_of(state, parts).await.map(|_| ());
    }
    Err(ApiError::Unauthorized(
        "log in first, or send an ingest key as `Authorization: Bearer <key>`".into(),
    ))
}

async fn due(State(state): State<AppState>, parts: Parts) -> Result<Json<DueAnswer>, ApiError> {
    signed_in(&state, &parts).await?;
    let Query(params) = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let bad = |m: String| ApiError::BadRequest(m);
    let from = params.get("from").ok_or_else(|| {
        bad("missing `from` (an RFC 3339 time, e.g. 2026-11-20T15:00:00+07:00)".into())
    })?;
    let from = ioc_shared::time::parse_rfc3339_in_query(from).ok_or_else(|| {
        bad(format!("`from` is not an RFC 3339 time with an offset (got `{from}`)"))
    })?;
    let count = |name: &str| -> Result<Option<u32>, ApiError> {
        params
            .get(name)
            .map(|text| {
                text.parse::<u32>()
                    .map_err(|_| bad(format!("`{name}` must be a whole number (got `{text}`)")))
            })
            .transpose()
    };
    let due_in = match (count("working_hours")?, count("working_days")?) {
        (Some(hours), None) => DueIn::WorkingHours(hours),
        (None, Some(days)) => DueIn::WorkingDays(days),
        _ => return Err(bad("give exactly one of `working_hours` and `working_days`".into())),
    }
    .check()
    .map_err(|invalid| bad(invalid.0))?;
    let due = crate::calendar::active().due(from, due_in).ok_or_else(|| {
        bad("that deadline runs past the dates the working calendar can count".into())
    })?;
    Ok(Json(DueAnswer { due: ioc_shared::time::to_local_rfc3339(due) }))
}
