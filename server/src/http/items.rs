//! The work behind the numbers: `GET /api/v1/units/{code}/items` (and `.csv`),
//! `GET /api/v1/officers/{id}` and `GET /api/v1/units/{code}/breakdown`.
//!
//! Scope and errors are exactly as for the summary (401, 403 outside the caller's scope, 404 an
//! unknown unit, 400 a bad parameter). Wall displays get no item lists at all (403): walls show
//! figures, never whose work or a citizen's words.

use super::error::{bounded, ApiError};
use crate::accounts::access::{authorize_unit, Caller, Principal};
use crate::aggregate::summary::window_start;
use crate::catalog::{Catalog, Unit};
use crate::state::AppState;
use crate::store::lists::{After, ListQuery, ListedItem};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ioc_shared::event::ItemKind;
use ioc_shared::items::{
    Breakdown, BreakdownBy, BreakdownRow, Item, ItemList, ListState, Median, OfficerFigures,
    OfficerName, OfficerView, UnitName, MIN_RATED, OTHER_KEY,
};
use ioc_shared::summary::Window;
use ioc_shared::time::to_local_rfc3339;
use std::collections::HashMap;

/// Items per page: default and most.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;
/// `due_soon`: default and longest look-ahead, in hours.
const DEFAULT_WITHIN_HOURS: i64 = 24;
const MAX_WITHIN_HOURS: i64 = 168;
/// Most rows of one CSV download.
pub const MAX_CSV_ROWS: i64 = 100_000;
/// Most keys a breakdown lists before gathering the rest in one row.
pub const MAX_BREAKDOWN_KEYS: usize = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/units/{code}/items", get(items))
        .route("/api/v1/units/{code}/items.csv", get(items_csv))
        .route("/api/v1/units/{code}/breakdown", get(breakdown))
        .route("/api/v1/officers/{id}", get(officer))
}

type Params = Query<HashMap<String, String>>;

fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params.get(name).map(String::as_str)
}

fn parse_kind(
    params: &HashMap<String, String>,
    allowed: &[ItemKind],
) -> Result<ItemKind, ApiError> {
    let text = param(params, "kind").unwrap_or("dossier");
    ItemKind::parse(text).filter(|k| allowed.contains(k)).ok_or_else(|| {
        let names: Vec<&str> = allowed.iter().map(|k| k.as_str()).collect();
        ApiError::BadRequest(format!("`kind` must be one of {}, not `{text}`", names.join(", ")))
    })
}

fn parse_window(params: &HashMap<String, String>, default: Window) -> Result<Window, ApiError> {
    match param(params, "window") {
        None => Ok(default),
        Some(text) => Window::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown window `{text}`; expected one of {}",
                Window::NAMES
            ))
        }),
    }
}

fn parse_number(
    params: &HashMap<String, String>,
    name: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ApiError> {
    match param(params, name) {
        None => Ok(default),
        Some(text) => text.parse::<i64>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`{name}` must be a whole number from {} to {}, not `{text}`",
                range.start(),
                range.end()
            ))
        }),
    }
}

/// The units of a scope: `None` for a root (every unit, no filter needed).
fn scope_units(catalog: &Catalog, unit: &Unit) -> Option<Vec<String>> {
    unit.parent.as_ref().map(|_| catalog.subtree(&unit.code))
}

/// A scope a caller may list: not a wall display, and inside the caller's scope.
async fn list_scope<'a>(
    state: &'a AppState,
    caller: &Caller,
    code: &str,
) -> Result<&'a Unit, ApiError> {
    let unit = authorize_unit(&state.catalog, &state.accounts, caller, code).await?;
    if matches!(caller.principal, Principal::Display(_)) {
        return Err(ApiError::Forbidden("a wall display does not receive item lists".into()));
    }
    Ok(unit)
}

fn unit_name(catalog: &Catalog, code: &str) -> UnitName {
    UnitName {
        code: code.to_owned(),
        name: catalog.get(code).map(|u| u.name.clone()).unwrap_or_else(|| code.to_owned()),
    }
}

fn hours(delta: chrono::Duration) -> f64 {
    (delta.num_seconds() as f64 / 360.0).round() / 10.0
}

/// An item as callers see it; `with_summary` only for people (never a display).
fn to_item(catalog: &Catalog, row: ListedItem, now: DateTime<Utc>, with_summary: bool) -> Item {
    let kind = ItemKind::parse(&row.kind).unwrap_or(ItemKind::Dossier);
    let overdue_hours = match (row.due_extended_at, row.resolved_at) {
        (Some(due), None) if !row.paused && due < now && row.received_at.is_some() => {
            Some(hours(now - due))
        }
        (Some(due), Some(resolved))
            if resolved > due && row.outcome.as_deref() != Some("withdrawn") =>
        {
            Some(hours(resolved - due))
        }
        _ => None,
    };
    Item {
        kind,
        unit: unit_name(catalog, &row.unit),
        officer: row
            .officer_id
            .map(|id| OfficerName { name: row.officer_name.unwrap_or_else(|| id.clone()), id }),
        procedure: if kind == ItemKind::Dossier { row.procedure } else { None },
        field: row.field,
        channel: if kind == ItemKind::Task { None } else { row.channel },
        title: if kind == ItemKind::Task { row.title } else { None },
        summary: if kind == ItemKind::Complaint && with_summary { row.summary } else { None },
        received: row.received_at.map(to_local_rfc3339),
        due: row.due_at.map(to_local_rfc3339),
        due_extended: row.due_extended_at.map(to_local_rfc3339),
        paused: row.paused,
        overdue_hours,
        resolved: row.resolved_at.map(to_local_rfc3339),
        outcome: row.outcome,
        id: row.item_id,
        source: row.source,
        directions: Vec::new(),
    }
}

/// Adds their directions to `items` (item lists and officer pages are for people only).
async fn with_directions(state: &AppState, mut items: Vec<Item>) -> Result<Vec<Item>, ApiError> {
    let keys: Vec<(ItemKind, String)> = items.iter().map(|i| (i.kind, i.id.clone())).collect();
    let mut directions =
        bounded(state.settings.database_timeout, state.store.directions_on(&keys)).await?;
    for item in &mut items {
        if let Some(given) = directions.remove(&(item.kind, item.id.clone())) {
            item.directions = given;
        }
    }
    Ok(items)
}

/// What a cursor must match: the list it came from.
fn list_identity(code: &str, kind: ItemKind, state: ListState) -> String {
    format!("{code}/{}/{}", kind.as_str(), state.as_str())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Cursor {
    /// The list it belongs to.
    list: String,
    #[serde(flatten)]
    after: After,
}

fn encode_cursor(list: &str, last: &ListedItem) -> String {
    let cursor = Cursor {
        list: list.to_owned(),
        after: After {
            key: last.sort_key.clone(),
            id: last.item_id.clone(),
            source: last.source.clone(),
        },
    };
    serde_json::to_vec(&cursor).map(hex::encode).unwrap_or_default()
}

fn decode_cursor(text: &str, list: &str) -> Result<After, ApiError> {
    let invalid = || {
        ApiError::BadRequest(
            "`cursor` is not one this list handed out; start again without it".into(),
        )
    };
    if text.len() > 4096 {
        return Err(invalid());
    }
    let bytes = hex::decode(text).map_err(|_| invalid())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if cursor.list != list || cursor.after.key.len() > 64 {
        return Err(invalid());
    }
    // The key goes back to PostgreSQL as a timestamp or a number: check it is one.
    let plausible = cursor.after.key.chars().all(|c| c.is_ascii_digit() || " -+:.".contains(c));
    if !plausible {
        return Err(invalid());
    }
    Ok(cursor.after)
}

/// The filters of a list request, checked.
struct ListRequest {
    kind: ItemKind,
    state: ListState,
    due_before: DateTime<Utc>,
    resolved_since: DateTime<Utc>,
}

impl ListRequest {
    /// The store's query for this request over `units` (the JSON page and the CSV share it).
    fn query<'a>(
        &self,
        units: Option<&'a [String]>,
        now: DateTime<Utc>,
        limit: i64,
        after: Option<After>,
    ) -> ListQuery<'a> {
        ListQuery {
            kind: self.kind,
            state: self.state,
            units,
            now,
            due_before: self.due_before,
            resolved_since: self.resolved_since,
            officer: None,
            limit,
            after,
        }
    }
}

fn list_request(
    params: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Result<ListRequest, ApiError> {
    let kind = parse_kind(params, &[ItemKind::Dossier, ItemKind::Complaint, ItemKind::Task])?;
    let state_text = param(params, "state").unwrap_or("overdue");
    let state = ListState::parse(state_text).ok_or_else(|| {
        ApiError::BadRequest(format!("`state` must be one of overdue, due_soon, open, paused, resolved_late, needs_routing, not `{state_text}`"))
    })?;
    let within = parse_number(params, "within", DEFAULT_WITHIN_HOURS, 1..=MAX_WITHIN_HOURS)?;
    let window = parse_window(params, Window::Days30)?;
    Ok(ListRequest {
        kind,
        state,
        due_before: now + chrono::Duration::hours(within),
        resolved_since: DateTime::from_timestamp(window_start(window, now), 0).unwrap_or(now),
    })
}

async fn items(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(params): Params,
) -> Result<Json<ItemList>, ApiError> {
    let unit = list_scope(&state, &caller, &code).await?;
    let now = state.clock.now();
    let request = list_request(&params, now)?;
    let limit = parse_number(&params, "limit", DEFAULT_LIMIT, 1..=MAX_LIMIT)?;
    let identity = list_identity(&unit.code, request.kind, request.state);
    let after = param(&params, "cursor").map(|c| decode_cursor(c, &identity)).transpose()?;
    let units = scope_units(&state.catalog, unit);
    let query = request.query(units.as_deref(), now, limit + 1, after);
    let (total, mut rows) = state.store.list_items(&query).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(|last| encode_cursor(&identity, last)) } else { None };
    let with_summary = matches!(caller.principal, Principal::User(_));
    let items =
        rows.into_iter().map(|row| to_item(&state.catalog, row, now, with_summary)).collect();
    Ok(Json(ItemList {
        unit: unit_name(&state.catalog, &unit.code),
        kind: request.kind,
        state: request.state,
        as_of: to_local_rfc3339(now),
        total: total.max(0) as u64,
        items: with_directions(&state, items).await?,
        next,
    }))
}

/// `GET /api/v1/units/{code}/items.csv`: every row of the same filter (at most
/// [`MAX_CSV_ROWS`]), UTF-8 with a BOM and Vietnamese headers, for Excel.
async fn items_csv(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let unit = list_scope(&state, &caller, &code).await?;
    let now = state.clock.now();
    let request = list_request(&params, now)?;
    let units = scope_units(&state.catalog, unit);
    let query = request.query(units.as_deref(), now, MAX_CSV_ROWS, None);
    let (_, rows) = state.store.list_items(&query).await?;
    let with_summary =
        matches!(caller.principal, Principal::User(_)) && request.kind == ItemKind::Complaint;
    let layout = super::csv::Layout::from_params(&params)?;
    let mut headers = vec![
        "Loại",
        "Mã",
        "Nguồn",
        "Mã đơn vị",
        "Đơn vị",
        "Mã cán bộ",
        "Cán bộ",
        "Thủ tục",
        "Lĩnh vực",
        "Kênh",
        "Tiêu đề",
        "Tiếp nhận",
        "Hạn",
        "Hạn sau tạm dừng",
        "Tạm dừng",
        "Số giờ quá hạn",
        "Giải quyết",
        "Kết quả",
    ];
    if with_summary {
        headers.push("Nội dung");
    }
    let records = rows.into_iter().map(|row| {
        let item = to_item(&state.catalog, row, now, with_summary);
        let mut record = vec![
            item.kind.as_str().to_owned(),
            item.id,
            item.source,
            item.unit.code,
            item.unit.name,
            item.officer.as_ref().map(|o| o.id.clone()).unwrap_or_default(),
            item.officer.map(|o| o.name).unwrap_or_default(),
            item.procedure.unwrap_or_default(),
            item.field.unwrap_or_default(),
            item.channel.unwrap_or_default(),
            item.title.unwrap_or_default(),
            item.received.unwrap_or_default(),
            item.due.unwrap_or_default(),
            item.due_extended.unwrap_or_default(),
            if item.paused { "có" } else { "không" }.to_owned(),
            item.overdue_hours.map(|h| layout.decimal(h, 1)).unwrap_or_default(),
            item.resolved.unwrap_or_default(),
            item.outcome.unwrap_or_default(),
        ];
        if with_summary {
            record.push(item.summary.unwrap_or_default());
        }
        record
    });
    let filename =
        format!("{}-{}-{}.csv", request.kind.as_str(), request.state.as_str(), unit.code);
    super::csv::download(layout, &headers, records, &filename)
}

/// `GET /api/v1/officers/{id}?unit=&window=`: an officer's figures within the scope, and their
/// overdue items. Only officers with work inside the caller's scope are visible (404).
async fn officer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Json<OfficerView>, ApiError> {
    let default_scope = caller
        .principal
        .scope()
        .map(str::to_owned)
        .or_else(|| state.catalog.roots().first().cloned())
        .unwrap_or_default();
    let code = param(&params, "unit").map(str::to_owned).unwrap_or(default_scope);
    let unit = list_scope(&state, &caller, &code).await?;
    let window = parse_window(&params, Window::Days30)?;
    let now = state.clock.now();
    let since = DateTime::from_timestamp(window_start(window, now), 0).unwrap_or(now);
    let units = scope_units(&state.catalog, unit);
    let counts = state.store.officer_counts(&id, units.as_deref(), now, since).await?;
    let Some(name) = counts.iter().find_map(|c| c.name.clone()) else {
        return Err(ApiError::NotFound(format!(
            "no officer `{id}` has work in unit `{}`",
            unit.code
        )));
    };
    let figures = |kind: ItemKind| {
        counts
            .iter()
            .find(|c| c.kind == kind.as_str())
            .map(|c| OfficerFigures {
                open: c.open.max(0) as u64,
                overdue: c.overdue.max(0) as u64,
                resolved_on_time: c.resolved_on_time.max(0) as u64,
                resolved_late: c.resolved_late.max(0) as u64,
            })
            .unwrap_or_default()
    };
    let (overdue_total, rows) =
        state.store.officer_overdue(&id, units.as_deref(), now, DEFAULT_LIMIT).await?;
    let home = state.store.officer_home(&id, units.as_deref()).await?;
    let overdue = rows.into_iter().map(|row| to_item(&state.catalog, row, now, true)).collect();
    let overdue = with_directions(&state, overdue).await?;
    Ok(Json(OfficerView {
        officer: OfficerName { id, name },
        unit: unit_name(&state.catalog, &unit.code),
        home: home.map(|code| unit_name(&state.catalog, &code)),
        window,
        dossiers: figures(ItemKind::Dossier),
        complaints: figures(ItemKind::Complaint),
        tasks: figures(ItemKind::Task),
        overdue,
        overdue_total: overdue_total.max(0) as u64,
    }))
}

/// The row order of breakdowns and rankings: worst on-time rate first among rows rated at
/// least [`MIN_RATED`] times; then the others; then most overdue; then key.
pub fn rank_rows(rows: &mut [BreakdownRow]) {
    rows.sort_by(|a, b| {
        let rated = |r: &BreakdownRow| r.resolved_on_time + r.resolved_late >= MIN_RATED;
        let rate_order = match (rated(a), rated(b)) {
            (true, true) => a.on_time_rate.unwrap_or(0.0).total_cmp(&b.on_time_rate.unwrap_or(0.0)),
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            (false, false) => std::cmp::Ordering::Equal,
        };
        rate_order.then(b.overdue.cmp(&a.overdue)).then(a.key.cmp(&b.key))
    });
}

/// `GET /api/v1/units/{code}/breakdown?kind=dossier|complaint&by=procedure|field|channel&window=`.
async fn breakdown(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(params): Params,
) -> Result<Json<Breakdown>, ApiError> {
    let unit = authorize_unit(&state.catalog, &state.accounts, &caller, &code).await?;
    let kind = parse_kind(&params, &[ItemKind::Dossier, ItemKind::Complaint])?;
    let by_text = param(&params, "by").unwrap_or("procedure");
    let by = BreakdownBy::parse(by_text).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "`by` must be one of procedure, field, channel, not `{by_text}`"
        ))
    })?;
    let window = parse_window(&params, Window::Today)?;
    let now = state.clock.now();
    let since = DateTime::from_timestamp(window_start(window, now), 0).unwrap_or(now);
    // The summary's windows end with the bucket holding now: the local day's end.
    let until = ioc_shared::time::local_midnight(now) + chrono::Duration::days(1);
    let units = scope_units(&state.catalog, unit);
    let counts =
        state.store.breakdown(kind, by.as_str(), units.as_deref(), now, since, until).await?;
    let mut rows: Vec<BreakdownRow> = counts
        .into_iter()
        .map(|c| BreakdownRow {
            key: c.key.unwrap_or_else(|| "(không rõ)".to_owned()),
            received: c.received.max(0) as u64,
            received_online: c.received_online.max(0) as u64,
            resolved: c.resolved.max(0) as u64,
            resolved_on_time: c.resolved_on_time.max(0) as u64,
            resolved_late: c.resolved_late.max(0) as u64,
            on_time_rate: ioc_shared::summary::rate(
                c.resolved_on_time.max(0) as u64,
                c.resolved_late.max(0) as u64,
            ),
            open: c.open.max(0) as u64,
            overdue: c.overdue.max(0) as u64,
            processing_hours: Median { p50: c.p50_hours.map(|h| (h * 100.0).round() / 100.0) },
        })
        .collect();
    // Free text is capped: the most frequent keys, and one row for all the rest.
    if rows.len() > MAX_BREAKDOWN_KEYS {
        rows.sort_by(|a, b| {
            b.received
                .cmp(&a.received)
                .then((b.open + b.resolved).cmp(&(a.open + a.resolved)))
                .then(a.key.cmp(&b.key))
        });
        let rest = rows.split_off(MAX_BREAKDOWN_KEYS);
        let mut other = BreakdownRow {
            key: OTHER_KEY.to_owned(),
            received: 0,
            received_online: 0,
            resolved: 0,
            resolved_on_time: 0,
            resolved_late: 0,
            on_time_rate: None,
            open: 0,
            overdue: 0,
            processing_hours: Median { p50: None },
        };
        for row in rest {
            other.received += row.received;
            other.received_online += row.received_online;
            other.resolved += row.resolved;
            other.resolved_on_time += row.resolved_on_time;
            other.resolved_late += row.resolved_late;
            other.open += row.open;
            other.overdue += row.overdue;
        }
        other.on_time_rate = ioc_shared::summary::rate(other.resolved_on_time, other.resolved_late);
        rows.push(other);
    }
    rank_rows(&mut rows);
    Ok(Json(Breakdown { unit: unit_name(&state.catalog, &unit.code), kind, by, window, rows }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_belongs_to_its_list() {
        let row = ListedItem {
            source: "s".into(),
            kind: "dossier".into(),
            item_id: "D1".into(),
            unit: "001".into(),
            officer_id: None,
            officer_name: None,
            procedure: None,
            field: None,
            channel: None,
            title: None,
            summary: None,
            received_at: None,
            due_at: None,
            due_extended_at: None,
            paused: false,
            resolved_at: None,
            outcome: None,
            sort_key: "2026-11-23 01:00:00+00".into(),
        };
        let cursor = encode_cursor("001/dossier/overdue", &row);
        assert_eq!(
            decode_cursor(&cursor, "001/dossier/overdue").map(|a| a.id).ok(),
            Some("D1".to_owned())
        );
        assert!(decode_cursor(&cursor, "002/dossier/overdue").is_err());
        assert!(decode_cursor("zz", "001/dossier/overdue").is_err());
    }
}
