//! `GET /api/v1/units/{code}/officers` (and `.csv`): every late officer of a scope, ranked by
//! their overdue items, in pages — the list behind the "Cán bộ chậm muộn" tile, from the same
//! ranking (so the list's `total` is the tile's figure).
//!
//! Scope and errors as for the item lists: 401, 403 outside the caller's scope and for wall
//! displays (walls never show whose work), 404 an unknown unit, 400 a bad parameter.

use super::error::ApiError;
use crate::accounts::access::{authorize_unit, Caller, Principal};
use crate::aggregate::summary::late_officers_page;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use ioc_shared::summary::LateOfficer;
use serde::Serialize;
use std::collections::HashMap;

/// Officers per page: default and most.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;
/// Most rows of one CSV download.
pub const MAX_CSV_ROWS: usize = 100_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/units/{code}/officers", get(officers))
        .route("/api/v1/units/{code}/officers.csv", get(officers_csv))
}

/// One page of the late officers.
#[derive(Debug, Serialize)]
struct OfficerPage {
    /// Late officers in the scope (the tile's figure).
    total: u64,
    offset: usize,
    /// Most overdue first; equal counts by officer id.
    officers: Vec<LateOfficer>,
}

fn number(
    params: &HashMap<String, String>,
    name: &str,
    default: usize,
    most: usize,
) -> Result<usize, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(text) => text.parse::<usize>().ok().filter(|n| *n <= most).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`{name}` must be a whole number from 0 to {most} (got `{text}`)"
            ))
        }),
    }
}

async fn scope<'a>(
    state: &'a AppState,
    caller: &Caller,
    code: &str,
) -> Result<&'a crate::catalog::Unit, ApiError> {
    let unit = authorize_unit(&state.catalog, &state.accounts, caller, code).await?;
    if matches!(caller.principal, Principal::Display(_)) {
        return Err(ApiError::Forbidden("a wall display does not receive officers' names".into()));
    }
    Ok(unit)
}

/// The late officers of `unit` from `offset` on, as of the state's clock.
async fn ranking(
    state: &AppState,
    unit: &crate::catalog::Unit,
    offset: usize,
    limit: usize,
) -> Result<ioc_shared::summary::OfficerFigures, ApiError> {
    let mut redis = state.redis.clone();
    let now = state.clock.now();
    Ok(late_officers_page(&mut redis, &state.keys, &state.catalog, unit, now, offset, limit)
        .await?)
}

async fn officers(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<OfficerPage>, ApiError> {
    let unit = scope(&state, &caller, &code).await?;
    let limit = number(&params, "limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    if limit == 0 {
        return Err(ApiError::BadRequest(format!("`limit` must be from 1 to {MAX_LIMIT}")));
    }
    let offset = number(&params, "offset", 0, MAX_CSV_ROWS)?;
    let figures = ranking(&state, unit, offset, limit).await?;
    Ok(Json(OfficerPage { total: figures.late, offset, officers: figures.top_late }))
}

/// Every late officer of the scope (at most [`MAX_CSV_ROWS`]), ranked as on screen.
async fn officers_csv(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let unit = scope(&state, &caller, &code).await?;
    let layout = super::csv::Layout::from_params(&params)?;
    let figures = ranking(&state, unit, 0, MAX_CSV_ROWS).await?;
    let headers = ["Hạng", "Mã cán bộ", "Cán bộ", "Mã đơn vị", "Đơn vị", "Số việc quá hạn"];
    let rows = figures.top_late.into_iter().enumerate().map(|(i, officer)| {
        vec![
            (i + 1).to_string(),
            officer.id,
            officer.name,
            officer.unit,
            officer.unit_name,
            officer.overdue.to_string(),
        ]
    });
    super::csv::download(layout, &headers, rows, &format!("late-officers-{}.csv", unit.code))
}
