//! A unit's timeline notes over a range of local days: those entered (for it, or above it for
//! the units below) and the working calendar's days off, shown the same way. The series answer
//! and the reports both read them here.

use crate::catalog::{Catalog, Unit};
use crate::store::StoreError;
use chrono::{Duration, NaiveDate};
use ioc_shared::annotation::Annotation;
use ioc_shared::time::{local_midnight_of, to_local_rfc3339};

/// Notes on `unit`'s timeline over the local days `[from, to]`, by time.
pub async fn of_unit<'c>(
    db: impl sqlx::PgExecutor<'c>,
    catalog: &Catalog,
    unit: &Unit,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Annotation>, StoreError> {
    let ancestors: Vec<String> = catalog
        .self_and_ancestors(&unit.code)
        .iter()
        .filter(|u| u.code != unit.code)
        .map(|u| u.code.clone())
        .collect();
    let start = local_midnight_of(from);
    let end = local_midnight_of(to + Duration::days(1));
    let mut notes =
        crate::store::annotations::annotations(db, &unit.code, &ancestors, start, end).await?;
    notes.extend(days_off(from, to));
    notes.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
    Ok(notes)
}

/// The working calendar's days off within `[from, to]`, consecutive days of one name as one
/// span (from the first day's midnight to the last day's end).
pub fn days_off(from: NaiveDate, to: NaiveDate) -> Vec<Annotation> {
    let calendar = crate::calendar::active();
    let mut spans: Vec<(NaiveDate, NaiveDate, String)> = Vec::new();
    let mut day = from;
    while day <= to {
        if let Some(name) = calendar.note(day).filter(|_| !calendar.is_working_day(day)) {
            match spans.last_mut() {
                Some((_, last, text)) if *text == name && *last + Duration::days(1) == day => {
                    *last = day
                }
                _ => spans.push((day, day, name.to_owned())),
            }
        }
        day += Duration::days(1);
    }
    spans
        .into_iter()
        .map(|(first, last, text)| Annotation {
            id: None,
            unit: None,
            at: to_local_rfc3339(local_midnight_of(first)),
            until: Some(to_local_rfc3339(local_midnight_of(last + Duration::days(1)))),
            text,
            children: true,
            by: None,
            source: "calendar".into(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tet_2026_is_one_span_of_days_off() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test");
        let off = days_off(day("2026-02-01"), day("2026-02-28"));
        assert_eq!(off.len(), 1, "{off:?}");
        assert_eq!(off[0].text, "Tết Nguyên đán Bính Ngọ");
        assert_eq!(off[0].at, "2026-02-14T00:00:00+07:00");
        assert_eq!(off[0].until.as_deref(), Some("2026-02-23T00:00:00+07:00"));
        assert!(days_off(day("2026-03-02"), day("2026-03-06")).is_empty());
    }
}
