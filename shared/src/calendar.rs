//! Working time: deadlines set in working hours or working days, as Vietnamese procedures and
//! complaint rules set them.
//!
//! A [`WorkingCalendar`] says which days are worked (the working week, minus days off, plus
//! compensatory working days, per year) and which hours of a working day are worked (by default
//! 08:00–12:00 and 13:00–17:00, local time). The file format is the JSON of
//! `assets/calendar/vn-civil-servants.json` (see the README, "Working-day deadlines").
//!
//! A working day is [`WorkingCalendar::minutes_per_day`] of working time, so `N` working days
//! from a moment inside working time end at the same clock time `N` working days later, and
//! from a moment outside working time (an evening, a holiday) they start counting at the next
//! working period.

use crate::invalid::Invalid;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The calendar shipped with the server: Vietnamese civil servants, official 2025 and 2026
/// days off and compensatory working days.
pub const BUILTIN_CALENDAR_JSON: &str =
    include_str!("../../assets/calendar/vn-civil-servants.json");

/// Longest deadline accepted, in working hours (about ten years of working time)…
pub const MAX_WORKING_HOURS: u32 = 20_000;
/// …and in working days.
pub const MAX_WORKING_DAYS: u32 = 2_500;
/// How many days [`WorkingCalendar`] walks at most before giving up (a calendar with no
/// working day at all would otherwise loop for ever).
const MAX_DAYS_WALKED: i64 = 366 * 30;

/// A deadline in working time, as an event's `due_in` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DueIn {
    WorkingHours(u32),
    WorkingDays(u32),
}

impl DueIn {
    /// Checks the amount: at least 1, at most the maximum.
    pub fn check(self) -> Result<DueIn, Invalid> {
        match self {
            DueIn::WorkingHours(n) if (1..=MAX_WORKING_HOURS).contains(&n) => Ok(self),
            DueIn::WorkingDays(n) if (1..=MAX_WORKING_DAYS).contains(&n) => Ok(self),
            DueIn::WorkingHours(_) => {
                Err(format!("`working_hours` must be between 1 and {MAX_WORKING_HOURS}").into())
            }
            DueIn::WorkingDays(_) => {
                Err(format!("`working_days` must be between 1 and {MAX_WORKING_DAYS}").into())
            }
        }
    }
}

/// The calendar file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    #[serde(default)]
    #[allow(dead_code)]
    about: String,
    week: Vec<String>,
    hours: Vec<[String; 2]>,
    years: Vec<YearFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    year: i32,
    source: String,
    #[serde(default)]
    days_off: Vec<DaysOff>,
    #[serde(default)]
    working_days: Vec<WorkingDay>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DaysOff {
    from: NaiveDate,
    to: NaiveDate,
    name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkingDay {
    date: NaiveDate,
    name: String,
}

/// What a day is, where the calendar says something particular about it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Special {
    Off(String),
    Working(String),
}

/// Working time; see the module docs.
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    week: [bool; 7],
    /// Working periods of a working day, minutes since local midnight, sorted, not overlapping.
    periods: Vec<(u32, u32)>,
    special: BTreeMap<NaiveDate, Special>,
    /// Years the file covers, with their announcement.
    years: BTreeMap<i32, String>,
}

impl WorkingCalendar {
    /// Reads a calendar file, checking that it makes sense.
    pub fn from_json(text: &str) -> Result<WorkingCalendar, Invalid> {
        let file: CalendarFile =
            serde_json::from_str(text).map_err(|e| format!("calendar file: {e}"))?;
        let mut week = [false; 7];
        for day in &file.week {
            let weekday: Weekday = day
                .parse()
                .map_err(|_| format!("calendar file: `{day}` is not a weekday (mon … sun)"))?;
            week[weekday.num_days_from_monday() as usize] = true;
        }
        if !week.contains(&true) {
            return Err("calendar file: `week` has no working day".into());
        }
        let mut periods = Vec::new();
        for [from, to] in &file.hours {
            let minutes = |text: &str| -> Result<u32, Invalid> {
                let time = NaiveTime::parse_from_str(text, "%H:%M")
                    .map_err(|_| format!("calendar file: `{text}` is not a time (HH:MM)"))?;
                Ok(time.signed_duration_since(NaiveTime::MIN).num_minutes() as u32)
            };
            let (from, to) = (minutes(from)?, minutes(to)?);
            if from >= to {
                return Err(
                    format!("calendar file: working period {from}–{to} minutes is empty").into()
                );
            }
            periods.push((from, to));
        }
        periods.sort_unstable();
        if periods.is_empty() || periods.windows(2).any(|w| w[0].1 > w[1].0) {
            return Err(
                "calendar file: `hours` must hold working periods that do not overlap".into()
            );
        }
        let mut special = BTreeMap::new();
        let mut years = BTreeMap::new();
        for year in file.years {
            if years.insert(year.year, year.source.clone()).is_some() {
                return Err(format!("calendar file: year {} appears twice", year.year).into());
            }
            if year.source.trim().is_empty() {
                return Err(format!(
                    "calendar file: year {} names no announcement in `source`",
                    year.year
                )
                .into());
            }
            for off in year.days_off {
                if off.to < off.from || (off.to - off.from).num_days() > 31 {
                    return Err(format!(
                        "calendar file: days off `{}` run from {} to {}",
                        off.name, off.from, off.to
                    )
                    .into());
                }
                let mut day = off.from;
                while day <= off.to {
                    special.insert(day, Special::Off(off.name.clone()));
                    day = day.succ_opt().ok_or("calendar file: date out of range")?;
                }
            }
            for working in year.working_days {
                if special.insert(working.date, Special::Working(working.name.clone())).is_some() {
                    return Err(format!(
                        "calendar file: {} is both a day off and a working day",
                        working.date
                    )
                    .into());
                }
            }
        }
        Ok(WorkingCalendar { week, periods, special, years })
    }

    /// The calendar shipped with the server.
    pub fn builtin() -> WorkingCalendar {
        match WorkingCalendar::from_json(BUILTIN_CALENDAR_JSON) {
            Ok(calendar) => calendar,
            // The shipped file is checked by this crate's tests.
            Err(error) => panic!("the built-in calendar is broken: {error}"),
        }
    }

    /// The years the calendar has official days off for, with the announcement of each.
    pub fn years(&self) -> &BTreeMap<i32, String> {
        &self.years
    }

    /// Working minutes in one working day.
    pub fn minutes_per_day(&self) -> i64 {
        self.periods.iter().map(|(from, to)| i64::from(to - from)).sum()
    }

    /// Whether `date` (local) is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.special.get(&date) {
            Some(Special::Off(_)) => false,
            Some(Special::Working(_)) => true,
            None => self.week[date.weekday().num_days_from_monday() as usize],
        }
    }

    /// Why a date is particular, if it is: a day off's or a compensatory working day's name.
    pub fn note(&self, date: NaiveDate) -> Option<&str> {
        match self.special.get(&date)? {
            Special::Off(name) | Special::Working(name) => Some(name),
        }
    }

    /// The deadline `due_in` after `from`.
    pub fn due(&self, from: DateTime<Utc>, due_in: DueIn) -> Option<DateTime<Utc>> {
        let minutes = match due_in {
            DueIn::WorkingHours(hours) => i64::from(hours) * 60,
            DueIn::WorkingDays(days) => i64::from(days) * self.minutes_per_day(),
        };
        self.add_working_minutes(from, minutes)
    }

    /// The moment `minutes` of working time after `from` have passed (`from` itself for 0).
    /// `None` past the calendar's range of dates.
    pub fn add_working_minutes(&self, from: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
        if minutes <= 0 {
            return Some(from);
        }
        let offset = crate::time::local_offset();
        let local = from.with_timezone(&offset).naive_local();
        let mut date = local.date();
        // Seconds since local midnight of the start, on its first day only.
        let mut start_of_day = local.time().signed_duration_since(NaiveTime::MIN).num_seconds();
        let mut left = minutes * 60;
        for _ in 0..MAX_DAYS_WALKED {
            if self.is_working_day(date) {
                for (period_from, period_to) in &self.periods {
                    let (period_from, period_to) =
                        (i64::from(*period_from) * 60, i64::from(*period_to) * 60);
                    let begin = period_from.max(start_of_day);
                    if begin >= period_to {
                        continue;
                    }
                    let available = period_to - begin;
                    if left <= available {
                        let end = date.and_time(NaiveTime::MIN) + Duration::seconds(begin + left);
                        return offset
                            .from_local_datetime(&end)
                            .single()
                            .map(|t| t.with_timezone(&Utc));
                    }
                    left -= available;
                }
            }
            date = date.succ_opt()?;
            start_of_day = 0;
        }
        None
    }

    /// Working minutes between `from` and `to` (0 when `to` is not after `from`).
    pub fn working_minutes_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        let offset = crate::time::local_offset();
        let (from, to) =
            (from.with_timezone(&offset).naive_local(), to.with_timezone(&offset).naive_local());
        let mut seconds = 0;
        let mut date = from.date();
        for _ in 0..MAX_DAYS_WALKED {
            if date > to.date() {
                break;
            }
            if self.is_working_day(date) {
                let midnight = date.and_time(NaiveTime::MIN);
                for (period_from, period_to) in &self.periods {
                    let begin = (midnight + Duration::minutes(i64::from(*period_from))).max(from);
                    let end = (midnight + Duration::minutes(i64::from(*period_to))).min(to);
                    if end > begin {
                        seconds += (end - begin).num_seconds();
                    }
                }
            }
            let Some(next) = date.succ_opt() else { break };
            date = next;
        }
        seconds / 60
    }

    /// A deadline given in working time, moved later by the working time of pauses: the pauses
    /// are `(paused at, resumed at)` in any order.
    pub fn extend_by_pauses(
        &self,
        due: DateTime<Utc>,
        pauses: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> DateTime<Utc> {
        let paused: i64 =
            pauses.iter().map(|(from, to)| self.working_minutes_between(*from, *to)).sum();
        self.add_working_minutes(due, paused).unwrap_or(due)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339;

    fn at(text: &str) -> DateTime<Utc> {
        parse_rfc3339(text).unwrap()
    }

    fn local(at: DateTime<Utc>) -> String {
        crate::time::to_local_rfc3339(at)
    }

    #[test]
    fn the_builtin_calendar_reads_and_names_its_sources() {
        let calendar = WorkingCalendar::builtin();
        assert_eq!(calendar.years().keys().copied().collect::<Vec<_>>(), vec![2025, 2026]);
        assert!(calendar.years()[&2026].contains("9441/TB-BNV"));
        assert_eq!(calendar.minutes_per_day(), 8 * 60);
    }

    #[test]
    fn hours_carry_over_lunch_and_the_weekend() {
        let calendar = WorkingCalendar::builtin();
        // Friday 20/11/2026 15:00 + 4 working hours: 2 on Friday, 2 on Monday.
        assert_eq!(
            local(calendar.due(at("2026-11-20T15:00:00+07:00"), DueIn::WorkingHours(4)).unwrap()),
            "2026-11-23T10:00:00+07:00"
        );
        // 11:00 + 2 h: one before lunch, one after.
        assert_eq!(
            local(calendar.due(at("2026-11-23T11:00:00+07:00"), DueIn::WorkingHours(2)).unwrap()),
            "2026-11-23T14:00:00+07:00"
        );
        // Ending exactly at noon stays at noon.
        assert_eq!(
            local(calendar.due(at("2026-11-23T08:00:00+07:00"), DueIn::WorkingHours(4)).unwrap()),
            "2026-11-23T12:00:00+07:00"
        );
        // Received on a Saturday night: counting starts Monday 08:00.
        assert_eq!(
            local(calendar.due(at("2026-11-21T22:00:00+07:00"), DueIn::WorkingHours(1)).unwrap()),
            "2026-11-23T09:00:00+07:00"
        );
    }

    #[test]
    fn days_skip_tet_2026() {
        let calendar = WorkingCalendar::builtin();
        // Friday 13/2/2026 10:00 + 1 working day: Tết runs Saturday 14/2 – Sunday 22/2.
        assert_eq!(
            local(calendar.due(at("2026-02-13T10:00:00+07:00"), DueIn::WorkingDays(1)).unwrap()),
            "2026-02-23T10:00:00+07:00"
        );
        assert!(!calendar.is_working_day(NaiveDate::from_ymd_opt(2026, 2, 16).unwrap()));
    }

    #[test]
    fn a_compensatory_saturday_is_worked() {
        let calendar = WorkingCalendar::builtin();
        // Friday 2/1/2026 is off (Tết Dương lịch, swapped); Saturday 10/1/2026 is worked.
        assert!(!calendar.is_working_day(NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()));
        assert!(calendar.is_working_day(NaiveDate::from_ymd_opt(2026, 1, 10).unwrap()));
        assert_eq!(
            local(calendar.due(at("2026-01-09T15:00:00+07:00"), DueIn::WorkingHours(4)).unwrap()),
            "2026-01-10T10:00:00+07:00"
        );
    }

    #[test]
    fn working_time_between_counts_only_working_periods() {
        let calendar = WorkingCalendar::builtin();
        // Friday 16:00 to Monday 09:30: 1 h + 1.5 h.
        assert_eq!(
            calendar.working_minutes_between(
                at("2026-11-20T16:00:00+07:00"),
                at("2026-11-23T09:30:00+07:00")
            ),
            150
        );
        assert_eq!(
            calendar.working_minutes_between(
                at("2026-11-23T12:00:00+07:00"),
                at("2026-11-23T13:00:00+07:00")
            ),
            0
        );
    }

    #[test]
    fn a_pause_moves_a_working_deadline_by_the_working_time_paused() {
        let calendar = WorkingCalendar::builtin();
        let due = at("2026-11-24T11:00:00+07:00");
        // Paused Monday 16:00 → Tuesday 09:00: 2 working hours; 11:00 + 2 h, over lunch.
        let extended = calendar.extend_by_pauses(
            due,
            &[(at("2026-11-23T16:00:00+07:00"), at("2026-11-24T09:00:00+07:00"))],
        );
        assert_eq!(local(extended), "2026-11-24T14:00:00+07:00");
    }

    #[test]
    fn broken_calendars_are_refused_with_a_reason() {
        for (text, expected) in [
            (r#"{"week": [], "hours": [["08:00","12:00"]], "years": []}"#, "no working day"),
            (r#"{"week": ["mon"], "hours": [["12:00","08:00"]], "years": []}"#, "empty"),
            (
                r#"{"week": ["mon"], "hours": [["08:00","12:00"],["11:00","13:00"]], "years": []}"#,
                "overlap",
            ),
            (r#"{"week": ["funday"], "hours": [["08:00","12:00"]], "years": []}"#, "not a weekday"),
            (
                r#"{"week": ["mon"], "hours": [["08:00","12:00"]], "years": [{"year": 2027, "source": " "}]}"#,
                "names no announcement",
            ),
        ] {
            let error = WorkingCalendar::from_json(text).unwrap_err();
            assert!(error.0.contains(expected), "{text}: {error}");
        }
    }
}
