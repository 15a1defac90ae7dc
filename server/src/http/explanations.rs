//! `/api/v1/explanations/*`: explanation requests (yêu cầu giải trình) and their threads; and
//! `/api/v1/items/{kind}/{id}/directions`: directions (chỉ đạo) on one item. People only: a
//! wall display never sees a question, an answer or a direction.

use super::error::{bounded, ApiError};
use super::extract::json_body;
use crate::accounts::access::{authorize_unit, Caller, Principal};
use crate::accounts::User;
use crate::explanations::{may_ask, may_see, ExplanationError, ExplanationFilter};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use ioc_shared::access::Role;
use ioc_shared::event::ItemKind;
use ioc_shared::explanations::{
    check_text, Direction, Explanation, ExplanationsPage, NewExplanation, StateFilter,
};
use serde::Deserialize;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/explanations", get(list).post(ask))
        .route("/api/v1/explanations/{id}", get(one))
        .route("/api/v1/explanations/{id}/answer", post(answer))
        .route("/api/v1/explanations/{id}/close", post(close))
        .route("/api/v1/explanations/{id}/reopen", post(reopen))
        .route("/api/v1/items/{kind}/{id}/directions", post(direct))
}

impl From<ExplanationError> for ApiError {
    fn from(error: ExplanationError) -> ApiError {
        match error {
            ExplanationError::Invalid(m) => ApiError::BadRequest(m),
            ExplanationError::Forbidden(m) => ApiError::Forbidden(m),
            ExplanationError::NotFound(m) => ApiError::NotFound(m),
            ExplanationError::Conflict(m) => ApiError::Conflict(m),
            ExplanationError::Store(e) => ApiError::from(crate::store::StoreError::from(e)),
            ExplanationError::Stored(e) => ApiError::from(e),
        }
    }
}

const ASK_SHAPE: &str = "{\"unit\", \"about\": {\"kind\": \"figure\", \"metric\", \"window\"} | {\"kind\": \"item\", \"item_kind\", \"id\"} | {\"kind\": \"alert\", \"id\"}, \"question\", \"due_in\": {\"working_days\": N} | {\"working_hours\": N}}";

/// The person calling; a wall display is refused.
fn person(caller: &Caller) -> Result<&User, ApiError> {
    match &caller.principal {
        Principal::User(user) => Ok(user),
        Principal::Display(_) => Err(ApiError::Forbidden(
            "a wall display cannot read or write explanation requests or directions".into(),
        )),
    }
}

fn request_id(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::NotFound(format!("no explanation request `{text}`")))
}

/// Request `id` if the caller may see it (404 otherwise: nobody learns of others' requests).
async fn visible(state: &AppState, user: &User, id: i64) -> Result<Explanation, ApiError> {
    let found = bounded(state.settings.database_timeout, state.explanations.get(id)).await?;
    match found {
        Some(e) if may_see(user, &state.catalog, &e.unit.code, &e.asked_by) => Ok(e),
        _ => Err(ApiError::NotFound(format!("no explanation request {id}"))),
    }
}

/// `POST /api/v1/explanations`: admins and leaders ask any unit, a chief the units below his.
async fn ask(
    State(state): State<AppState>,
    caller: Caller,
    bytes: axum::body::Bytes,
) -> Result<(StatusCode, Json<Explanation>), ApiError> {
    let user = person(&caller)?;
    let new: NewExplanation = json_body(&bytes, ASK_SHAPE)?;
    if !may_ask(user, &state.catalog, &new.unit) {
        state
            .accounts
            .audit(
                &caller.principal.label(),
                "access_denied",
                Some(&format!("unit:{}", new.unit)),
                Some("explanation request"),
                caller.address.as_deref(),
            )
            .await;
        return Err(ApiError::Forbidden(format!(
            "you may not ask unit `{}` to explain: a chief asks only the units below his own",
            new.unit
        )));
    }
    let asked = state.explanations.ask(user, new, caller.address.as_deref());
    let explanation = bounded(state.settings.database_timeout, asked).await?;
    Ok((StatusCode::CREATED, Json(explanation)))
}

/// `GET /api/v1/explanations?unit=&state=open|answered|closed|overdue&cursor=`: newest first,
/// 100 a page; a chief sees those to his units and those he asked.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ExplanationsPage>, ApiError> {
    let user = person(&caller)?;
    let within = match params.get("unit").filter(|u| !u.is_empty()) {
        Some(code) => {
            Some(authorize_unit(&state.catalog, &state.accounts, &caller, code).await?.code.clone())
        }
        None => None,
    };
    let wanted_state = match params.get("state").filter(|s| !s.is_empty()) {
        Some(text) => Some(StateFilter::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`state` must be open, answered, closed or overdue, not `{text}`"
            ))
        })?),
        None => None,
    };
    let before_id = super::extract::id_cursor(&params)?;
    let visible_to = match (user.role, user.unit.as_deref()) {
        (Role::Chief, unit) => Some((unit.unwrap_or("").to_owned(), user.username.clone())),
        _ => None,
    };
    let filter = ExplanationFilter { within, visible_to, state: wanted_state, before_id };
    let page = state.explanations.list(&filter);
    Ok(Json(bounded(state.settings.database_timeout, page).await?))
}

/// `GET /api/v1/explanations/{id}`: with its whole thread.
async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Explanation>, ApiError> {
    let user = person(&caller)?;
    Ok(Json(visible(&state, user, request_id(&id)?).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Text {
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Note {
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Question {
    question: String,
}

/// `POST /api/v1/explanations/{id}/answer {"text"}`: a chief of that unit, or an admin.
async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Explanation>, ApiError> {
    let user = person(&caller)?;
    let id = request_id(&id)?;
    let body: Text = json_body(&bytes, "{\"text\"}")?;
    visible(&state, user, id).await?;
    let answered = state.explanations.answer(id, user, &body.text, caller.address.as_deref());
    Ok(Json(bounded(state.settings.database_timeout, answered).await?))
}

/// `POST /api/v1/explanations/{id}/close {"note"?}`: whoever asked, or a leader.
async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Explanation>, ApiError> {
    let user = person(&caller)?;
    let id = request_id(&id)?;
    let body: Note = if bytes.iter().all(u8::is_ascii_whitespace) {
        Note { note: None }
    } else {
        json_body(&bytes, "{\"note\"?}")?
    };
    visible(&state, user, id).await?;
    let closed =
        state.explanations.close(id, user, body.note.as_deref(), caller.address.as_deref());
    Ok(Json(bounded(state.settings.database_timeout, closed).await?))
}

/// `POST /api/v1/explanations/{id}/reopen {"question"}`: whoever asked, or a leader.
async fn reopen(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Explanation>, ApiError> {
    let user = person(&caller)?;
    let id = request_id(&id)?;
    let body: Question = json_body(&bytes, "{\"question\"}")?;
    visible(&state, user, id).await?;
    let reopened = state.explanations.reopen(id, user, &body.question, caller.address.as_deref());
    Ok(Json(bounded(state.settings.database_timeout, reopened).await?))
}

/// Whether `user` may give directions on an item of `unit`: the same rule as asking that unit
/// to explain (admins and leaders on any, a chief on items of the units below his own).
fn may_direct(user: &User, state: &AppState, unit: &str) -> bool {
    may_ask(user, &state.catalog, unit)
}

/// `POST /api/v1/items/{kind}/{id}/directions {"text"}`: 201 with the direction. An item the
/// caller cannot see is 404; one he sees but may not direct (his own unit's) 403.
async fn direct(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, id)): Path<(String, String)>,
    bytes: axum::body::Bytes,
) -> Result<(StatusCode, Json<Direction>), ApiError> {
    let user = person(&caller)?;
    let not_found = || ApiError::NotFound(format!("no {kind} `{id}`"));
    let kind = ItemKind::parse(&kind).ok_or_else(not_found)?;
    let body: Text = json_body(&bytes, "{\"text\"}")?;
    let text = check_text("text", &body.text).map_err(ApiError::BadRequest)?;
    let held = bounded(state.settings.database_timeout, state.store.item_unit(kind, &id)).await?;
    let unit =
        held.filter(|unit| caller.principal.can_see(&state.catalog, unit)).ok_or_else(not_found)?;
    if !may_direct(user, &state, &unit) {
        return Err(ApiError::Forbidden(format!(
            "directions on items of unit `{unit}` come from a leader or a chief above it"
        )));
    }
    let now = state.clock.now();
    let added = state.store.add_direction(kind, &id, &user.username, &text, now);
    let direction = bounded(state.settings.database_timeout, added).await?;
    state
        .accounts
        .audit(
            &caller.principal.label(),
            "direction_given",
            Some(&format!("{}:{id}", kind.as_str())),
            Some(&text),
            caller.address.as_deref(),
        )
        .await;
    Ok((StatusCode::CREATED, Json(direction)))
}
