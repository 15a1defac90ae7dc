//! `GET /api/v1/units`, `/api/v1/units/{code}` and `/api/v1/units/{code}/summary`: the catalog
//! as the caller may see it, and one scope's figures.

use super::error::ApiError;
use crate::accounts::access::{authorize_unit, Caller};
use crate::aggregate::summary;
use crate::catalog::Unit;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use ioc_shared::summary::{Summary, UnitBrief, UnitInfo, Window};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/units", get(list_roots))
        .route("/api/v1/units/{code}", get(unit_info))
        .route("/api/v1/units/{code}/summary", get(unit_summary))
        .route("/api/v1/units/{code}/score", get(unit_score))
}

fn brief(unit: &Unit) -> UnitBrief {
    UnitBrief { code: unit.code.clone(), name: unit.name.clone(), kind: unit.kind.clone() }
}

/// The roots the caller may see: the catalog's roots, or the caller's own scope.
async fn list_roots(State(state): State<AppState>, caller: Caller) -> Json<Vec<UnitBrief>> {
    let roots: Vec<UnitBrief> = match caller.principal.scope() {
        None => {
            state.catalog.roots().iter().filter_map(|c| state.catalog.get(c)).map(brief).collect()
        }
        Some(scope) => state.catalog.get(scope).map(brief).into_iter().collect(),
    };
    Json(roots)
}

/// A unit, its path from the top of the caller's scope, and its children.
async fn unit_info(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Json<UnitInfo>, ApiError> {
    let unit = authorize_unit(&state.catalog, &state.accounts, &caller, &code).await?;
    let mut path: Vec<UnitBrief> = state
        .catalog
        .self_and_ancestors(&code)
        .into_iter()
        .filter(|u| caller.principal.can_see(&state.catalog, &u.code))
        .map(brief)
        .collect();
    path.reverse();
    let children = state
        .catalog
        .children(&code)
        .iter()
        .filter_map(|c| state.catalog.get(c))
        .map(brief)
        .collect();
    Ok(Json(UnitInfo {
        code: unit.code.clone(),
        name: unit.name.clone(),
        kind: unit.kind.clone(),
        path,
        children,
    }))
}

#[derive(Debug, Deserialize)]
struct SummaryQuery {
    window: Option<String>,
}

async fn unit_summary(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(query): Query<SummaryQuery>,
) -> Result<Json<Summary>, ApiError> {
    let unit = authorize_unit(&state.catalog, &state.accounts, &caller, &code).await?;
    let window = match query.window.as_deref() {
        None => Window::Today,
        Some(text) => Window::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown window `{text}`; expected one of {}",
                Window::NAMES
            ))
        })?,
    };
    let mut redis = state.redis.clone();
    let computed = summary::compute(
        &mut redis,
        &state.keys,
        &state.store,
        &state.catalog,
        unit,
        window,
        state.clock.now(),
    )
    .await?;
    Ok(Json(computed.summary))
}

#[derive(Debug, Deserialize)]
struct ScoreQuery {
    period: Option<String>,
}

/// `GET /api/v1/units/{code}/score?period=month|quarter|year`: the Decision 766 score, live.
async fn unit_score(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(query): Query<ScoreQuery>,
) -> Result<Json<ioc_shared::score::Score>, ApiError> {
    let unit = authorize_unit(&state.catalog, &state.accounts, &caller, &code).await?;
    let text = query.period.as_deref().unwrap_or("month");
    let period = Window::parse(text).filter(|w| w.is_calendar()).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "unknown period `{text}`; expected one of month, quarter, year"
        ))
    })?;
    let score = crate::aggregate::score::compute(
        &state.store.pool,
        &state.catalog,
        unit,
        period,
        state.clock.now(),
    )
    .await?;
    Ok(Json(score))
}
