//! Time: the one [`Clock`] every "now" comes from, and the city's local calendar.
//!
//! Asia/Ho_Chi_Minh is UTC+7 all year (Vietnam has no daylight saving), so local days, months,
//! quarters and years are computed with a fixed offset.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, Utc};
use std::sync::{Arc, Mutex, PoisonError};

/// Seconds east of UTC for Asia/Ho_Chi_Minh.
pub const LOCAL_OFFSET_SECONDS: i32 = 7 * 3600;

/// The fixed UTC+7 offset that defines "today" and the dates shown on screen.
/// (Checked at compile time: 7 h is inside chrono's ±24 h range.)
const LOCAL_OFFSET: FixedOffset = match FixedOffset::east_opt(LOCAL_OFFSET_SECONDS) {
    Some(offset) => offset,
    None => panic!("UTC+7 is a valid offset"),
};

/// The fixed UTC+7 offset that defines "today" and the dates shown on screen.
pub fn local_offset() -> FixedOffset {
    LOCAL_OFFSET
}

/// Local midnight that starts the calendar day containing `at`.
pub fn local_midnight(at: DateTime<Utc>) -> DateTime<Utc> {
    local_midnight_of(local_day(at))
}

/// Where "now" comes from. Every deadline, window, series, score, retention cut-off,
/// throttle and heartbeat of the server reads it from the one `Clock` in its state, so a test
/// can set the moment (and libfaketime can move the system clock) and every figure agrees.
///
/// Cheap to clone: clones share the same source (setting a manual clock moves every clone).
#[derive(Debug, Clone)]
pub struct Clock {
    source: Arc<Source>,
}

#[derive(Debug)]
enum Source {
    /// The operating system's clock (`Utc::now`), which libfaketime can move.
    System,
    /// The system clock shifted by a fixed amount: runs at real speed from a chosen moment.
    Shifted(Duration),
    /// Stands still until set or advanced: for unit tests of time-dependent logic.
    Manual(Mutex<DateTime<Utc>>),
}

impl Clock {
    /// The operating system's clock.
    pub fn system() -> Clock {
        Clock { source: Arc::new(Source::System) }
    }

    /// A clock that reads `at` now and then runs at real speed (the system clock shifted).
    pub fn starting_at(at: DateTime<Utc>) -> Clock {
        Clock { source: Arc::new(Source::Shifted(at - Utc::now())) }
    }

    /// A clock that stands at `at` until [`Clock::set`] or [`Clock::advance`] moves it.
    pub fn manual(at: DateTime<Utc>) -> Clock {
        Clock { source: Arc::new(Source::Manual(Mutex::new(at))) }
    }

    /// The current moment.
    pub fn now(&self) -> DateTime<Utc> {
        match &*self.source {
            Source::System => Utc::now(),
            Source::Shifted(by) => Utc::now() + *by,
            Source::Manual(at) => *at.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Today's local date.
    pub fn local_today(&self) -> NaiveDate {
        local_today(self.now())
    }

    /// Moves a manual clock to `at`; returns false (and changes nothing) for a running clock.
    pub fn set(&self, to: DateTime<Utc>) -> bool {
        match &*self.source {
            Source::Manual(at) => {
                *at.lock().unwrap_or_else(PoisonError::into_inner) = to;
                true
            }
            Source::System | Source::Shifted(_) => false,
        }
    }

    /// Moves a manual clock forward by `by`; returns false for a running clock.
    pub fn advance(&self, by: Duration) -> bool {
        let to = self.now() + by;
        self.set(to)
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

/// The local date of the moment `at`.
pub fn local_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&local_offset()).date_naive()
}

/// The local date of Unix second `at`.
pub fn local_day_of_second(at: i64) -> NaiveDate {
    let days = (at + i64::from(LOCAL_OFFSET_SECONDS)).div_euclid(86_400);
    NaiveDate::default() + Duration::days(days)
}

/// Today's local date at `now`.
pub fn local_today(now: DateTime<Utc>) -> NaiveDate {
    local_day(now)
}

/// The moment local midnight starts `day`.
pub fn local_midnight_of(day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_time(NaiveTime::MIN);
    // A fixed offset maps every local time to exactly one instant.
    (midnight - Duration::seconds(i64::from(LOCAL_OFFSET_SECONDS))).and_utc()
}

/// The first day of the month of `day`.
pub fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The first day of the quarter of `day` (1 January, 1 April, 1 July or 1 October).
pub fn quarter_start(day: NaiveDate) -> NaiveDate {
    let month = (day.month0() / 3) * 3 + 1;
    NaiveDate::from_ymd_opt(day.year(), month, 1).unwrap_or(day)
}

/// The first day of the year of `day`.
pub fn year_start(day: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day)
}

/// Parses an RFC 3339 timestamp that carries an explicit offset (`Z` or `+07:00`).
pub fn parse_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// Parses an RFC 3339 timestamp taken from a URL query string, where an unencoded `+07:00`
/// arrives as ` 07:00` (a `+` in a query means a space): read it as the `+` it was meant to be.
pub fn parse_rfc3339_in_query(text: &str) -> Option<DateTime<Utc>> {
    parse_rfc3339(text).or_else(|| parse_rfc3339(&text.replace(' ', "+")))
}

/// Which end of a period a date without a time stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateEnd {
    /// The first instant of the day, month or year (a `start_date`).
    Start,
    /// The last second of it (an `end_date`: "up to 2026-12-02" includes that day).
    End,
}

/// Parses a date in the W3C profile of ISO 8601 (W3C-DTF, as Open311 GeoReport v2 asks):
/// `2026`, `2026-12`, `2026-12-02`, `2026-12-02T04:24Z`, `2026-12-02T11:24+07:00`, with or
/// without seconds and fractions. A date without a time is a local (UTC+7) day, month or year,
/// taken at its start or its last second as `end` says. A `+` sent unencoded in a query
/// string arrives as a space and is read as the `+` it was.
pub fn parse_w3c_date(text: &str, end: DateEnd) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.contains('T') || text.contains('t') {
        let text = text.replace(' ', "+");
        // With seconds (and fractions) this is RFC 3339; without, add them.
        if let Some(at) = parse_rfc3339(&text) {
            return Some(at);
        }
        let (date, rest) = text.split_once(['T', 't'])?;
        let zone_at = rest.find(['Z', 'z', '+', '-'])?;
        let (clock, zone) = rest.split_at(zone_at);
        if clock.len() != 5 {
            return None;
        }
        return parse_rfc3339(&format!("{date}T{clock}:00{zone}"));
    }
    let parts: Vec<&str> = text.split('-').collect();
    let number = |part: &str, digits: usize| -> Option<u32> {
        (part.len() == digits && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    let (first, last) = match parts.as_slice() {
        [year] => {
            let year = i32::try_from(number(year, 4)?).ok()?;
            (NaiveDate::from_ymd_opt(year, 1, 1)?, NaiveDate::from_ymd_opt(year, 12, 31)?)
        }
        [year, month] => {
            let year = i32::try_from(number(year, 4)?).ok()?;
            let first = NaiveDate::from_ymd_opt(year, number(month, 2)?, 1)?;
            let next = first.checked_add_months(chrono::Months::new(1))?;
            (first, next.pred_opt()?)
        }
        [year, month, day] => {
            let date = NaiveDate::from_ymd_opt(
                i32::try_from(number(year, 4)?).ok()?,
                number(month, 2)?,
                number(day, 2)?,
            )?;
            (date, date)
        }
        _ => return None,
    };
    Some(match end {
        DateEnd::Start => local_midnight_of(first),
        DateEnd::End => local_midnight_of(last.succ_opt()?) - Duration::seconds(1),
    })
}

/// Formats a time as RFC 3339 in local time, e.g. `2026-11-22T09:30:00+07:00`.
pub fn to_local_rfc3339(at: DateTime<Utc>) -> String {
    at.with_timezone(&local_offset()).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        parse_rfc3339(text).unwrap_or_default()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn a_manual_clock_stands_until_moved_and_moves_its_clones() {
        let clock = Clock::manual(at("2026-12-31T23:59:00+07:00"));
        let clone = clock.clone();
        assert_eq!(clock.now(), at("2026-12-31T23:59:00+07:00"));
        assert!(clock.advance(Duration::minutes(2)));
        assert_eq!(clone.now(), at("2027-01-01T00:01:00+07:00"));
        assert_eq!(clone.local_today(), date(2027, 1, 1));
        assert!(!Clock::system().set(at("2026-01-01T00:00:00Z")), "the system clock is not set");
    }

    #[test]
    fn a_shifted_clock_starts_at_its_moment_and_runs() {
        let clock = Clock::starting_at(at("2027-01-01T00:00:00+07:00"));
        let now = clock.now();
        assert!(
            now >= at("2027-01-01T00:00:00+07:00") && now < at("2027-01-01T00:01:00+07:00"),
            "{now}"
        );
    }

    #[test]
    fn local_days_turn_at_local_midnight() {
        // 16:59:59 UTC is still 23:59:59 local; 17:00 UTC is the next day.
        assert_eq!(local_day(at("2026-12-31T16:59:59Z")), date(2026, 12, 31));
        assert_eq!(local_day(at("2026-12-31T17:00:00Z")), date(2027, 1, 1));
        assert_eq!(local_day_of_second(at("2026-12-31T16:59:59Z").timestamp()), date(2026, 12, 31));
        assert_eq!(local_day_of_second(at("2026-12-31T17:00:00Z").timestamp()), date(2027, 1, 1));
        assert_eq!(local_day_of_second(-1), date(1970, 1, 1), "07:00 local on the epoch's eve");
        assert_eq!(local_day_of_second(-7 * 3600 - 1), date(1969, 12, 31));
        assert_eq!(local_midnight_of(date(2027, 1, 1)), at("2026-12-31T17:00:00Z"));
        assert_eq!(local_midnight(at("2027-01-01T00:20:00+07:00")), at("2026-12-31T17:00:00Z"));
    }

    #[test]
    fn months_quarters_and_years_start_on_their_first_local_day() {
        for (day, month, quarter, year) in [
            (date(2026, 1, 1), date(2026, 1, 1), date(2026, 1, 1), date(2026, 1, 1)),
            (date(2026, 3, 31), date(2026, 3, 1), date(2026, 1, 1), date(2026, 1, 1)),
            (date(2026, 4, 1), date(2026, 4, 1), date(2026, 4, 1), date(2026, 1, 1)),
            (date(2026, 6, 30), date(2026, 6, 1), date(2026, 4, 1), date(2026, 1, 1)),
            (date(2026, 7, 1), date(2026, 7, 1), date(2026, 7, 1), date(2026, 1, 1)),
            (date(2026, 9, 30), date(2026, 9, 1), date(2026, 7, 1), date(2026, 1, 1)),
            (date(2026, 10, 1), date(2026, 10, 1), date(2026, 10, 1), date(2026, 1, 1)),
            (date(2026, 12, 31), date(2026, 12, 1), date(2026, 10, 1), date(2026, 1, 1)),
            (date(2028, 2, 29), date(2028, 2, 1), date(2028, 1, 1), date(2028, 1, 1)),
        ] {
            assert_eq!(
                (month_start(day), quarter_start(day), year_start(day)),
                (month, quarter, year),
                "{day}"
            );
        }
        // The first and last local hour of a month, seen from UTC.
        assert_eq!(month_start(local_day(at("2026-11-30T17:00:00Z"))), date(2026, 12, 1));
        assert_eq!(month_start(local_day(at("2026-11-30T16:59:00Z"))), date(2026, 11, 1));
    }

    #[test]
    fn local_midnight_is_utc_17_of_previous_day() {
        let at = parse_rfc3339("2026-11-22T01:00:00+07:00").unwrap_or_default();
        let midnight = local_midnight(at);
        assert_eq!(midnight.to_rfc3339(), "2026-11-21T17:00:00+00:00");
        // 23:59 local is still the same day.
        let late = parse_rfc3339("2026-11-22T23:59:00+07:00").unwrap_or_default();
        assert_eq!(local_midnight(late), midnight);
    }

    #[test]
    fn w3c_dates_are_read_in_every_form_of_the_profile() {
        let start = |t: &str| parse_w3c_date(t, DateEnd::Start);
        let end = |t: &str| parse_w3c_date(t, DateEnd::End);
        assert_eq!(start("2026-12-02T04:24Z"), Some(at("2026-12-02T04:24:00Z")));
        assert_eq!(start("2026-12-02T04:24:30Z"), Some(at("2026-12-02T04:24:30Z")));
        assert_eq!(
            start("2026-12-02T04:24:30.5Z").map(|t| t.timestamp()),
            Some(at("2026-12-02T04:24:30Z").timestamp())
        );
        assert_eq!(start("2026-12-02T11:24+07:00"), Some(at("2026-12-02T04:24:00Z")));
        assert_eq!(
            start("2026-12-02T11:24 07:00"),
            Some(at("2026-12-02T04:24:00Z")),
            "a + that arrived as a space"
        );
        assert_eq!(start("2026-12-02T01:24-03:00"), Some(at("2026-12-02T04:24:00Z")));
        // A day, a month and a year are local, at their start or their last second.
        assert_eq!(start("2026-12-02"), Some(at("2026-12-02T00:00:00+07:00")));
        assert_eq!(end("2026-12-02"), Some(at("2026-12-02T23:59:59+07:00")));
        assert_eq!(start("2026-12"), Some(at("2026-12-01T00:00:00+07:00")));
        assert_eq!(end("2028-02"), Some(at("2028-02-29T23:59:59+07:00")));
        assert_eq!(end("2026"), Some(at("2026-12-31T23:59:59+07:00")));
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-30",
            "26-12-02",
            "2026-12-02T04Z",
            "2026-12-02T04:24",
            "2026-1-2",
            "2026-12-02T25:00Z",
            "+2026",
        ] {
            assert_eq!(start(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_without_offset_is_refused() {
        assert!(parse_rfc3339("2026-11-22T01:00:00").is_none());
        assert!(parse_rfc3339("2026-11-22T01:00:00Z").is_some());
    }
}
