//! Public disclosure and open data, no login: the live board of `/cong-khai`
//! (`GET /api/v1/public/live`, a WebSocket), `GET /open-data/v1/units.json|.csv`,
//! `GET /open-data/v1/daily.csv?from=&to=` and the field description page `GET /open-data/v1/`.
//! Only units an admin made public appear; never a complaint text; officer names only where
//! the city turned them on. Open data is licensed CC BY 4.0 and computed at most once a
//! minute however many read it.

use super::error::ApiError;
use super::extract::day_param;
use crate::live::public::serve_public_socket;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Query, State, WebSocketUpgrade};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{Duration, NaiveDate};
use ioc_shared::public::LICENCE;
use std::collections::HashMap;
use std::sync::Arc;

/// Longest daily history one request may ask for.
pub const MAX_DAILY_DAYS: i64 = 400;
/// The CSV's first line (readers skip lines starting with `#`).
const LICENCE_LINE: &str = "# Dữ liệu mở IOC — giấy phép CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/); mô tả các cột: /open-data/v1/";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/public/live", get(public_live))
        .route("/open-data/v1/", get(description))
        .route("/open-data/v1", get(description))
        .route("/open-data/v1/units.json", get(units_json))
        .route("/open-data/v1/units.csv", get(units_csv))
        .route("/open-data/v1/daily.csv", get(daily_csv))
}

async fn public_live(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (mut parts, _) = request.into_parts();
    let address =
        super::extract::client_address(&state.settings, &parts).unwrap_or_else(|| "unknown".into());
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &state)
        .await
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let admitted = state.public.admit(&address).ok_or_else(|| ApiError::TooManyRequests {
        message: format!(
            "at most {} public live connections per address",
            crate::live::public::MAX_CONNECTIONS_PER_ADDRESS
        ),
        retry_after_seconds: 30,
    })?;
    let feed = state.public.clone();
    let shutdown = state.shutdown.subscribe();
    let clock = state.clock.clone();
    Ok(upgrade
        .read_buffer_size(1024)
        .max_message_size(1024)
        .on_upgrade(move |socket| serve_public_socket(socket, feed, admitted, shutdown, clock)))
}

/// The newest board (waiting briefly for the first one after start-up).
async fn board(state: &AppState) -> Result<Arc<crate::live::public::Published>, ApiError> {
    state
        .public
        .fresh(std::time::Duration::from_secs(10))
        .await
        .ok_or_else(|| ApiError::AggregatesUnavailable(Box::new(super::error::NotComputedYet)))
}

fn cached(response: impl IntoResponse, content_type: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=60")],
        response,
    )
        .into_response()
}

async fn units_json(State(state): State<AppState>) -> Result<Response, ApiError> {
    let published = board(&state).await?;
    let body = serde_json::to_string(&*published.board).map_err(ApiError::internal)?;
    Ok(cached(body, "application/json"))
}

fn csv_error(error: csv::Error) -> ApiError {
    ApiError::internal(error)
}

/// The CSV written, after its licence line.
fn licensed(writer: csv::Writer<Vec<u8>>) -> Result<String, ApiError> {
    let bytes = writer.into_inner().map_err(|e| ApiError::internal(e.into_error()))?;
    Ok(format!("{LICENCE_LINE}\n{}", String::from_utf8_lossy(&bytes)))
}

fn rate(value: Option<f64>) -> String {
    value.map(|r| format!("{r:.4}")).unwrap_or_default()
}

async fn units_csv(State(state): State<AppState>) -> Result<Response, ApiError> {
    let published = board(&state).await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record([
            "rank",
            "code",
            "name",
            "dossiers_resolved",
            "on_time_rate",
            "dossiers_overdue",
            "complaints_overdue",
            "score",
            "score_max",
            "band",
            "as_of",
        ])
        .map_err(csv_error)?;
    for unit in &published.board.units {
        writer
            .write_record([
                unit.rank.to_string(),
                unit.code.clone(),
                unit.name.clone(),
                unit.dossiers_resolved.to_string(),
                rate(unit.on_time_rate),
                unit.dossiers_overdue.to_string(),
                unit.complaints_overdue.to_string(),
                format!("{:.2}", unit.score),
                format!("{:.2}", unit.score_max),
                unit.band.clone(),
                published.board.as_of.clone(),
            ])
            .map_err(csv_error)?;
    }
    Ok(cached(licensed(writer)?, "text/csv; charset=utf-8"))
}

/// The counters of the daily history, as columns of `daily.csv`.
const DAILY_COLUMNS: [(&str, &str); 8] = [
    ("dossiers_received", crate::store::item::counter::DOSSIERS_RECEIVED),
    ("dossiers_resolved", crate::store::item::counter::DOSSIERS_RESOLVED),
    ("dossiers_on_time", crate::store::item::counter::DOSSIERS_ON_TIME),
    ("dossiers_late", crate::store::item::counter::DOSSIERS_LATE),
    ("complaints_received", crate::store::item::counter::COMPLAINTS_RECEIVED),
    ("complaints_resolved", crate::store::item::counter::COMPLAINTS_RESOLVED),
    ("tasks_assigned", crate::store::item::counter::TASKS_ASSIGNED),
    ("tasks_completed", crate::store::item::counter::TASKS_COMPLETED),
];

async fn daily_csv(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let today = state.clock.local_today();
    let to = day_param(&params, "to")?.unwrap_or(today);
    let from = day_param(&params, "from")?.unwrap_or(to - Duration::days(29));
    if from > to {
        return Err(ApiError::BadRequest("`from` is after `to`".into()));
    }
    if (to - from).num_days() >= MAX_DAILY_DAYS {
        return Err(ApiError::BadRequest(format!("at most {MAX_DAILY_DAYS} days per request")));
    }
    let cache = &state.open_data;
    if let Some(csv) = cache.fresh((from, to)) {
        return Ok(cached(csv.as_ref().clone(), "text/csv; charset=utf-8"));
    }
    let _one_at_a_time = cache.computing.lock().await;
    if let Some(csv) = cache.fresh((from, to)) {
        return Ok(cached(csv.as_ref().clone(), "text/csv; charset=utf-8"));
    }
    let public = state.accounts.public_units().await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["date", "code", "name"];
    header.extend(DAILY_COLUMNS.iter().map(|(name, _)| *name));
    writer.write_record(&header).map_err(csv_error)?;
    for entry in &public {
        let Some(unit) = state.catalog.get(&entry.unit) else { continue };
        let rows = state.store.daily_counters(&unit.code, from, to).await?;
        let mut by_day: std::collections::BTreeMap<NaiveDate, HashMap<&str, i64>> =
            std::collections::BTreeMap::new();
        for row in &rows {
            by_day.entry(row.day).or_default().insert(row.counter.as_str(), row.n);
        }
        let mut day = from;
        while day <= to {
            let counts = by_day.get(&day);
            let mut record = vec![day.to_string(), unit.code.clone(), unit.name.clone()];
            record.extend(DAILY_COLUMNS.iter().map(|(_, counter)| {
                counts.and_then(|c| c.get(counter)).copied().unwrap_or(0).to_string()
            }));
            writer.write_record(&record).map_err(csv_error)?;
            day = day.succ_opt().unwrap_or(to + Duration::days(1));
        }
    }
    let csv = Arc::new(licensed(writer)?);
    cache.keep((from, to), csv.clone());
    Ok(cached(csv.as_ref().clone(), "text/csv; charset=utf-8"))
}

async fn description() -> Response {
    let page = format!(
        "<!doctype html><html lang=\"vi\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Dữ liệu mở IOC</title><h1>Dữ liệu mở IOC</h1><p>Giấy phép: {LICENCE}. Chỉ các đơn vị đã được công khai; không có nội dung phản ánh của người dân.</p>\
<h2>/open-data/v1/units.json, units.csv</h2><p>Mỗi đơn vị công khai, tháng này đến nay, xếp hạng (tính lại tối đa mỗi phút):</p><dl>\
<dt>rank</dt><dd>thứ hạng, 1 là tốt nhất (điểm 766, rồi tỷ lệ đúng hạn, rồi ít hồ sơ quá hạn)</dd>\
<dt>code, name</dt><dd>mã và tên đơn vị hành chính</dd>\
<dt>dossiers_resolved</dt><dd>hồ sơ đã giải quyết trong tháng</dd>\
<dt>on_time_rate</dt><dd>tỷ lệ giải quyết đúng hạn (0–1; trống khi chưa có hồ sơ)</dd>\
<dt>dossiers_overdue, complaints_overdue</dt><dd>hồ sơ, phản ánh đang quá hạn tại thời điểm as_of</dd>\
<dt>score, score_max, band</dt><dd>điểm các nhóm chỉ số Quyết định 766 đo được, điểm tối đa của các nhóm đó, xếp loại</dd>\
<dt>late_officers</dt><dd>(JSON) cán bộ có nhiều hồ sơ quá hạn nhất, chỉ khi thành phố công khai tên cho đơn vị đó</dd>\
<dt>as_of</dt><dd>thời điểm tính số liệu (giờ Việt Nam)</dd></dl>\
<h2>/open-data/v1/daily.csv?from=YYYY-MM-DD&amp;to=YYYY-MM-DD</h2><p>Số liệu theo ngày (giờ Việt Nam) của mỗi đơn vị công khai, tối đa {MAX_DAILY_DAYS} ngày (mặc định 30 ngày gần nhất): \
date, code, name, {}.</p><p>Dòng đầu của các tệp CSV (bắt đầu bằng #) ghi giấy phép.</p></html>",
        DAILY_COLUMNS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
    );
    ([(header::CACHE_CONTROL, "public, max-age=3600")], Html(page)).into_response()
}
