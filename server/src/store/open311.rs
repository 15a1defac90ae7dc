//! Open311 GeoReport v2 service requests: the request's own fields (place, media, personal
//! data) beside the complaint it became, and the list that `GET requests` reads.

use super::{Store, StoreError};
use chrono::{DateTime, Utc};

/// What a citizen's app sent with a request, beyond the complaint event.
#[derive(Debug, Clone, Default)]
pub struct NewRequest {
    pub service_request_id: String,
    pub source: String,
    pub service_code: String,
    pub unit: String,
    pub requested_at: DateTime<Utc>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub address_string: Option<String>,
    pub media_url: Option<String>,
    /// Personal data: stored, never returned, cleared after the retention.
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub device_id: Option<String>,
}

/// A request as `GET requests` shows it, joined with the complaint's current state.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestRow {
    pub service_request_id: String,
    pub service_code: String,
    /// The complaint's unit now: the triage unit until it is routed, then its ward.
    pub unit: String,
    /// Filed at the triage unit and not yet routed ("cần phân loại").
    pub needs_routing: bool,
    pub requested_at: DateTime<Utc>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub address_string: Option<String>,
    pub media_url: Option<String>,
    /// Whether the complaint is still open.
    pub open: Option<bool>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    /// The citizen's text while it is kept (purged with complaint texts).
    pub summary: Option<String>,
}

/// Which requests `GET requests` wants.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    /// Exact ids (then the other filters are ignored, as the specification says).
    pub ids: Vec<String>,
    /// Any of these services (none: every service).
    pub service_codes: Vec<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// `Some(true)`: open only; `Some(false)`: closed only.
    pub open: Option<bool>,
    pub limit: i64,
}

impl Store {
    pub async fn insert_open311_request(&self, request: &NewRequest) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO open311_requests (service_request_id, source, service_code, unit, requested_at, lat, long,
                 address_string, media_url, first_name, last_name, email, phone, device_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (service_request_id) DO NOTHING",
        )
        .bind(&request.service_request_id)
        .bind(&request.source)
        .bind(&request.service_code)
        .bind(&request.unit)
        .bind(request.requested_at)
        .bind(request.lat)
        .bind(request.long)
        .bind(&request.address_string)
        .bind(&request.media_url)
        .bind(&request.first_name)
        .bind(&request.last_name)
        .bind(&request.email)
        .bind(&request.phone)
        .bind(&request.device_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a request whose complaint was not stored after all.
    pub async fn delete_open311_request(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM open311_requests WHERE service_request_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Requests, newest first.
    pub async fn open311_requests(
        &self,
        filter: &RequestFilter,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let rows = sqlx::query_as::<_, RequestRow>(
            "SELECT r.service_request_id, r.service_code, COALESCE(i.unit, r.unit) AS unit,
                    COALESCE(i.needs_routing, false) AS needs_routing, r.requested_at, r.lat, r.long, r.address_string,
                    r.media_url, i.open, i.resolved_at, i.due_at, i.updated_at, i.outcome, i.summary
             FROM open311_requests r
             LEFT JOIN items i ON i.source = r.source AND i.kind = 'complaint' AND i.item_id = r.service_request_id
             WHERE (cardinality($1::text[]) > 0 AND r.service_request_id = ANY($1))
                OR (cardinality($1::text[]) = 0
                    AND (cardinality($2::text[]) = 0 OR r.service_code = ANY($2))
                    AND ($3::timestamptz IS NULL OR r.requested_at >= $3)
                    AND ($4::timestamptz IS NULL OR r.requested_at <= $4)
                    AND ($5::boolean IS NULL OR COALESCE(i.open, true) = $5))
             ORDER BY r.requested_at DESC, r.service_request_id
             LIMIT $6",
        )
        .bind(&filter.ids)
        .bind(&filter.service_codes)
        .bind(filter.from)
        .bind(filter.to)
        .bind(filter.open)
        .bind(filter.limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Clears the personal data of requests older than `older_than` (with complaint texts).
    pub async fn purge_open311_personal_data(
        &self,
        older_than: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE open311_requests SET first_name = NULL, last_name = NULL, email = NULL, phone = NULL, device_id = NULL
             WHERE requested_at < $2::timestamptz - make_interval(secs => $1)
               AND (first_name IS NOT NULL OR last_name IS NOT NULL OR email IS NOT NULL OR phone IS NOT NULL OR device_id IS NOT NULL)",
        )
        .bind(older_than.as_secs_f64())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
