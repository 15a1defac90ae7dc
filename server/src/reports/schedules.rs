//! Report schedules: on the first chosen weekday of each new period, at a local time (the next
//! working day when that day is off), the report of the period just ended is made and mailed
//! with its PDF through the notification outbox.
//!
//! A run happens in one transaction that locks the schedule (`FOR UPDATE SKIP LOCKED`: one
//! replica runs it), queues the emails and moves the schedule to its next run, so a run is
//! never lost; a crash after the report was stored but before that commit makes the report
//! again at the next check (at least once).

use super::{make, pdf, sign, ReportError};
use crate::calendar;
use crate::catalog::Catalog;
use crate::notify::{self, Audience, Notice, Notices, Webhooks};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use ioc_shared::access::Role;
use ioc_shared::calendar::WorkingCalendar;
use ioc_shared::items::UnitName;
use ioc_shared::report::{period_name, Recipients, Report, ReportSchedule, WEEKDAYS};
use ioc_shared::time::{local_day, local_midnight_of, to_local_rfc3339, Clock};

/// How often due schedules are looked for: a report goes out at most this late.
pub const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// Most schedules one unit may have.
pub const MAX_PER_UNIT: i64 = 20;
/// The event type of a scheduled report's emails (`deliveries.event_type`).
pub const EVENT_TYPE: &str = "report.scheduled";

/// When a schedule runs: the first `weekday` (0 = Monday) on or after the start of each
/// `period`, at `minute` after local midnight, moved to the next working day when that day is
/// off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing<'a> {
    pub period: &'a str,
    pub weekday: u32,
    pub minute: u32,
}

impl Timing<'_> {
    /// The first run after `after`: its instant and the last day of the period it reports
    /// (the one before the period its weekday falls in).
    pub fn next_run(
        &self,
        after: DateTime<Utc>,
        calendar: &WorkingCalendar,
    ) -> Option<(DateTime<Utc>, NaiveDate)> {
        let (mut start, _) = super::period_days(self.period, local_day(after))?;
        // The run of the period before may have moved past `after` into this one: start there.
        start = super::period_days(self.period, start - Duration::days(1))?.0;
        // A run lies at most a few periods ahead (a long holiday moves it by days, not periods).
        for _ in 0..4 {
            let ahead = (i64::from(self.weekday)
                - i64::from(start.weekday().num_days_from_monday()))
            .rem_euclid(7);
            let mut day = start + Duration::days(ahead);
            // Tết, the longest run of days off, is 9 days; a bound keeps a broken calendar finite.
            for _ in 0..31 {
                if calendar.is_working_day(day) {
                    break;
                }
                day += Duration::days(1);
            }
            let at = local_midnight_of(day) + Duration::minutes(i64::from(self.minute));
            if at > after {
                return Some((at, start - Duration::days(1)));
            }
            let (_, last) = super::period_days(self.period, start)?;
            start = last + Duration::days(1);
        }
        None
    }
}

/// `mon`…`sun` → 0…6.
pub fn weekday_index(text: &str) -> Option<u32> {
    WEEKDAYS.iter().position(|d| *d == text).and_then(|i| u32::try_from(i).ok())
}

/// `HH:MM` → minutes after midnight.
pub fn minute_of_day(text: &str) -> Option<u32> {
    // Two digits each: chrono alone would take `7:00`.
    if text.len() != 5 || text.as_bytes().get(2) != Some(&b':') {
        return None;
    }
    let time = chrono::NaiveTime::parse_from_str(text, "%H:%M").ok()?;
    Some(chrono::Timelike::hour(&time) * 60 + chrono::Timelike::minute(&time))
}

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    id: i64,
    unit: String,
    period: String,
    weekday: i16,
    minute: i16,
    to_roles: Vec<String>,
    to_users: Vec<String>,
    created_by: String,
    next_run_at: DateTime<Utc>,
    next_ending: NaiveDate,
    last_report: Option<i64>,
}

/// (A macro, so that every query naming them is a constant: `concat!`.)
macro_rules! schedule_columns {
    () => {
        "id, unit, period, weekday, minute, to_roles, to_users, created_by, next_run_at, next_ending, last_report"
    };
}

impl ScheduleRow {
    fn timing(&self) -> Timing<'_> {
        Timing {
            period: &self.period,
            weekday: u32::try_from(self.weekday - 1).unwrap_or(0),
            minute: u32::try_from(self.minute).unwrap_or(0),
        }
    }

    fn into_schedule(self, catalog: &Catalog) -> ReportSchedule {
        let name = catalog.get(&self.unit).map(|u| u.name.clone()).unwrap_or_default();
        let weekday = usize::try_from(self.weekday - 1)
            .ok()
            .and_then(|i| WEEKDAYS.get(i))
            .copied()
            .unwrap_or("mon");
        ReportSchedule {
            id: self.id,
            unit: UnitName { code: self.unit, name },
            period: self.period,
            weekday: weekday.to_owned(),
            time: format!("{:02}:{:02}", self.minute / 60, self.minute % 60),
            to: Recipients { roles: self.to_roles, users: self.to_users },
            created_by: self.created_by,
            next_run_at: to_local_rfc3339(self.next_run_at),
            last_report: self.last_report,
        }
    }
}

/// A schedule to keep, checked by the caller (`http::reports`).
pub struct NewSchedule<'a> {
    pub unit: &'a str,
    pub timing: Timing<'a>,
    pub to: &'a Recipients,
    pub created_by: &'a str,
}

/// Why a schedule was not kept.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the unit already has {MAX_PER_UNIT} report schedules; delete one first")]
    TooMany,
    #[error("no run of this schedule could be placed in the working calendar")]
    NeverRuns,
}

impl From<sqlx::Error> for ScheduleError {
    fn from(error: sqlx::Error) -> Self {
        ScheduleError::Store(error.into())
    }
}

/// Keeps `new`, to run first after `now`.
pub async fn add(
    store: &Store,
    catalog: &Catalog,
    new: &NewSchedule<'_>,
    now: DateTime<Utc>,
) -> Result<ReportSchedule, ScheduleError> {
    let (next_run_at, next_ending) =
        new.timing.next_run(now, calendar::active()).ok_or(ScheduleError::NeverRuns)?;
    let mut tx = crate::store::begin(&store.pool).await?;
    // One unit's schedules are counted and added one at a time.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('report_schedules:' || $1))")
        .bind(new.unit)
        .execute(&mut *tx)
        .await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM report_schedules WHERE unit = $1")
        .bind(new.unit)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_PER_UNIT {
        return Err(ScheduleError::TooMany);
    }
    let row: ScheduleRow = sqlx::query_as(concat!("INSERT INTO report_schedules
           (unit, period, weekday, minute, to_roles, to_users, created_by, created_at, next_run_at, next_ending)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ", schedule_columns!()))
    .bind(new.unit)
    .bind(new.timing.period)
    .bind(i16::try_from(new.timing.weekday + 1).unwrap_or(1))
    .bind(i16::try_from(new.timing.minute).unwrap_or(0))
    .bind(&new.to.roles)
    .bind(&new.to.users)
    .bind(new.created_by)
    .bind(now)
    .bind(next_run_at)
    .bind(next_ending)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.into_schedule(catalog))
}

/// The schedules of `units` (`None`: all), oldest first.
pub async fn list(
    store: &Store,
    catalog: &Catalog,
    units: Option<&[String]>,
) -> Result<Vec<ReportSchedule>, StoreError> {
    let rows: Vec<ScheduleRow> = sqlx::query_as(concat!(
        "SELECT ",
        schedule_columns!(),
        " FROM report_schedules WHERE ($1::text[] IS NULL OR unit = ANY($1)) ORDER BY id"
    ))
    .bind(units)
    .fetch_all(&store.pool)
    .await?;
    Ok(rows.into_iter().map(|row| row.into_schedule(catalog)).collect())
}

/// The unit of schedule `id`, if there is one.
pub async fn unit_of(store: &Store, id: i64) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT unit FROM report_schedules WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await?)
}

/// Deletes schedule `id`; false when there was none.
pub async fn delete(store: &Store, id: i64) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM report_schedules WHERE id = $1")
        .bind(id)
        .execute(&store.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Runs the due schedules, for ever (a supervised task).
#[derive(Clone)]
pub struct Scheduler {
    pub store: Store,
    pub catalog: Catalog,
    /// "Now": what is due, and the reports' freezing time.
    pub clock: Clock,
    /// The key that signs the reports, asked for only when a schedule runs (so a server with no
    /// schedule never creates a key file).
    pub key: std::sync::Arc<dyn Fn() -> Result<sign::ReportKey, sign::SignError> + Send + Sync>,
    /// The TrueType font of the PDFs.
    pub font: String,
    /// Whether emails are queued at all, and the delivery worker to wake.
    pub notices: Notices,
}

impl Scheduler {
    pub async fn run(self) {
        let mut every = tokio::time::interval(CHECK_EVERY);
        loop {
            every.tick().await;
            if let Err(error) = self.run_due().await {
                tracing::warn!(%error, "report schedules not run; retrying");
            }
        }
    }

    /// Runs every schedule due now; returns how many ran.
    pub async fn run_due(&self) -> Result<usize, ReportError> {
        let now = self.clock.now();
        let due: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM report_schedules WHERE next_run_at <= $1 ORDER BY next_run_at, id",
        )
        .bind(now)
        .fetch_all(&self.store.pool)
        .await
        .map_err(StoreError::from)?;
        let mut ran = 0;
        for id in due {
            if self.run_one(id, now).await? {
                ran += 1;
            }
        }
        Ok(ran)
    }

    async fn run_one(&self, id: i64, now: DateTime<Utc>) -> Result<bool, ReportError> {
        let mut tx = crate::store::begin(&self.store.pool).await.map_err(StoreError::from)?;
        let row: Option<ScheduleRow> = sqlx::query_as(concat!(
            "SELECT ",
            schedule_columns!(),
            " FROM report_schedules WHERE id = $1 AND next_run_at <= $2
             FOR UPDATE SKIP LOCKED"
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        // Another replica runs it, or ran it already.
        let Some(row) = row else { return Ok(false) };
        // A run missed while no server ran is made once, for the period it was due for.
        let (next_run_at, next_ending) = row
            .timing()
            .next_run(now, calendar::active())
            .ok_or_else(|| ReportError::NeverRunsAgain(id))?;
        let mut made = None;
        match self.catalog.get(&row.unit) {
            Some(unit) => {
                let made_by = format!("schedule {id}");
                let key = (self.key)()?;
                let report = make(
                    &self.store,
                    &self.catalog,
                    &key,
                    unit,
                    &row.period,
                    row.next_ending,
                    &made_by,
                    now,
                )
                .await?;
                let report: Report = serde_json::from_value(report)
                    .map_err(|e| StoreError::Encode { what: "report", source: e })?;
                self.mail(&mut tx, &row, &report, now).await?;
                made = Some(report.id);
            }
            None => {
                tracing::warn!(schedule = id, unit = %row.unit, "a scheduled report's unit is no longer in the catalog; skipped")
            }
        }
        sqlx::query(
            "UPDATE report_schedules SET next_run_at = $2, next_ending = $3,
               last_report = COALESCE($4, last_report) WHERE id = $1",
        )
        .bind(id)
        .bind(next_run_at)
        .bind(next_ending)
        .bind(made)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        self.notices.wake.notify_one();
        tracing::info!(schedule = id, report = ?made, "scheduled report made");
        Ok(true)
    }

    /// Queues the report's email, PDF attached, to the schedule's recipients, in `tx`.
    async fn mail(
        &self,
        tx: &mut sqlx::PgConnection,
        row: &ScheduleRow,
        report: &Report,
        now: DateTime<Utc>,
    ) -> Result<(), ReportError> {
        if !self.notices.email {
            tracing::warn!(
                schedule = row.id,
                "no SMTP server is configured: the scheduled report is kept but not mailed"
            );
            return Ok(());
        }
        let audience = Audience {
            roles: row.to_roles.iter().filter_map(|r| Role::parse(r)).collect(),
            users: row.to_users.clone(),
        };
        let people = notify::people(tx, &self.catalog, &row.unit, &audience)
            .await
            .map_err(StoreError::from)?;
        if people.iter().all(|p| p.email.as_deref().unwrap_or_default().is_empty()) {
            tracing::warn!(
                schedule = row.id,
                "none of a scheduled report's recipients has an email address"
            );
            return Ok(());
        }
        let bytes =
            pdf::render_off_thread(report.clone(), self.font.clone(), now.timestamp()).await?;
        let filename = pdf::file_name(report.id);
        let attachment = notify::attach(tx, &filename, "application/pdf", &bytes, now)
            .await
            .map_err(StoreError::from)?;
        let notice = report_notice(report, now, attachment);
        notify::enqueue(tx, &notice, &people, &Webhooks::Listed(Vec::new()), true)
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }
}

/// The email of a scheduled report (Vietnamese): the headline figures, the digest, and the
/// PDF attached.
fn report_notice(report: &Report, at: DateTime<Utc>, attachment: i64) -> Notice {
    let period = period_name(&report.period);
    let dossiers = &report.figures.dossiers;
    let subject =
        format!("[IOC] Báo cáo {period} {} – {}: {}", report.from, report.to, report.unit.name);
    let text = format!(
        "Báo cáo {period} của {} ({}), từ {} đến {}, số liệu chốt lúc {}.\n\n\
         Hồ sơ tiếp nhận: {}; đã giải quyết: {} (đúng hạn {}, trễ hạn {}).\n\
         Hồ sơ còn mở cuối kỳ: {}, trong đó quá hạn: {}.\n\
         Phản ánh tiếp nhận: {}.\n\n\
         Bản PDF đính kèm (báo cáo số {}).\n\
         Mã kiểm tra (SHA-256): {}\n",
        report.unit.name,
        report.unit.code,
        report.from,
        report.to,
        report.frozen_at,
        dossiers.received,
        dossiers.resolved,
        dossiers.resolved_on_time,
        dossiers.resolved_late,
        report.at_end.dossiers.open,
        report.at_end.dossiers.overdue,
        report.figures.complaints.received,
        report.id,
        report.digest,
    );
    Notice {
        event_type: EVENT_TYPE,
        at,
        object_key: "report",
        object: serde_json::json!({"id": report.id, "unit": report.unit, "digest": report.digest}),
        subject,
        text,
        attachments: vec![attachment],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        local_midnight_of(NaiveDate::from_ymd_opt(y, m, d).expect("test"))
            + Duration::hours(i64::from(h))
            + Duration::minutes(i64::from(min))
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("test")
    }

    #[test]
    fn a_weekly_schedule_runs_on_its_weekday_and_reports_the_week_before() {
        let calendar = WorkingCalendar::builtin();
        let monday_seven = Timing { period: "week", weekday: 0, minute: 7 * 60 };
        // Friday 4 December 2026 → Monday 7 December 07:00, reporting 30 Nov – 6 Dec.
        assert_eq!(
            monday_seven.next_run(local(2026, 12, 4, 15, 0), &calendar),
            Some((local(2026, 12, 7, 7, 0), day(2026, 12, 6)))
        );
        // On Monday before 07:00 it is today's; at 07:00 exactly, next week's.
        assert_eq!(
            monday_seven.next_run(local(2026, 12, 7, 6, 59), &calendar),
            Some((local(2026, 12, 7, 7, 0), day(2026, 12, 6)))
        );
        assert_eq!(
            monday_seven.next_run(local(2026, 12, 7, 7, 0), &calendar),
            Some((local(2026, 12, 14, 7, 0), day(2026, 12, 13)))
        );
    }

    #[test]
    fn a_run_on_a_day_off_moves_to_the_next_working_day_and_keeps_its_period() {
        let calendar = WorkingCalendar::builtin();
        let wednesday = Timing { period: "week", weekday: 2, minute: 8 * 60 + 30 };
        // Quốc khánh 2026: Wednesday 2 September is off → Thursday 3 September 08:30, still
        // reporting the week of 24–30 August.
        assert!(!calendar.is_working_day(day(2026, 9, 2)));
        assert_eq!(
            wednesday.next_run(local(2026, 8, 31, 0, 0), &calendar),
            Some((local(2026, 9, 3, 8, 30), day(2026, 8, 30)))
        );
        // A Sunday run always moves to Monday, the next period's first day; after it, the next
        // one is the following Monday.
        let sunday = Timing { period: "week", weekday: 6, minute: 0 };
        let (first, ending) = sunday.next_run(local(2026, 12, 4, 0, 0), &calendar).expect("runs");
        assert_eq!((first, ending), (local(2026, 12, 7, 0, 0), day(2026, 11, 29)));
        assert_eq!(
            sunday.next_run(first, &calendar),
            Some((local(2026, 12, 14, 0, 0), day(2026, 12, 6)))
        );
    }

    #[test]
    fn a_monthly_schedule_runs_on_the_first_such_weekday_of_the_month() {
        let calendar = WorkingCalendar::builtin();
        let first_monday = Timing { period: "month", weekday: 0, minute: 7 * 60 };
        assert_eq!(
            first_monday.next_run(local(2026, 12, 4, 0, 0), &calendar),
            Some((local(2026, 12, 7, 7, 0), day(2026, 11, 30)))
        );
        // 1 January 2027 is a Friday and a holiday; the first Monday is the 4th.
        assert_eq!(
            first_monday.next_run(local(2026, 12, 7, 7, 0), &calendar),
            Some((local(2027, 1, 4, 7, 0), day(2026, 12, 31)))
        );
    }

    #[test]
    fn weekdays_and_times_are_read_strictly() {
        assert_eq!(weekday_index("mon"), Some(0));
        assert_eq!(weekday_index("sun"), Some(6));
        assert_eq!(weekday_index("Mon"), None);
        assert_eq!(minute_of_day("07:00"), Some(420));
        assert_eq!(minute_of_day("23:59"), Some(1439));
        assert_eq!(minute_of_day("24:00"), None);
        assert_eq!(minute_of_day("7"), None);
        assert_eq!(minute_of_day("7:00"), None);
        assert_eq!(minute_of_day("07:0x"), None);
    }
}
