//! Local time of the city: Asia/Ho_Chi_Minh is UTC+7 all year (Vietnam has no daylight saving).

use chrono::{DateTime, FixedOffset, NaiveTime, TimeZone, Utc};

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
    let local = at.with_timezone(&local_offset());
    let midnight = local.date_naive().and_time(NaiveTime::MIN);
    local_offset()
        .from_local_datetime(&midnight)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(at)
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

/// Formats a time as RFC 3339 in local time, e.g. `2026-11-22T09:30:00+07:00`.
pub fn to_local_rfc3339(at: DateTime<Utc>) -> String {
    at.with_timezone(&local_offset()).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn rfc3339_without_offset_is_refused() {
        assert!(parse_rfc3339("2026-11-22T01:00:00").is_none());
        assert!(parse_rfc3339("2026-11-22T01:00:00Z").is_some());
    }
}
