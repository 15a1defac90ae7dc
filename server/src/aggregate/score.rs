//! The national service index (Decision 766/QĐ-TTg), live, for the groups the events measure.
//!
//! The index has six groups worth 100 points; events measure three of them (50 points):
//!
//! | indicator | max | formula over the period's dossiers / complaints |
//! |---|---|---|
//! | `progress` | 20 | 20 × (resolved on or before the extended due + open and not overdue — paused is not overdue) ÷ (received in the period, or resolved in it, or still open); withdrawn excluded |
//! | `online` | 12 | 12 × received online ÷ received — approximate: the portal counts only procedures eligible for full online service |
//! | `complaints_on_time` | 6 | 6 × complaints resolved on or before due ÷ complaints resolved; 6 when none |
//! | `complaint_satisfaction` | 6 | 6 × (resolved − rated dissatisfied − resolved late) ÷ resolved; 6 when none |
//! | `dossier_satisfaction` | 6 | min(6, 6 × r ÷ 0.9), r = (resolved − rated dissatisfied − resolved late) ÷ resolved; 6 when none |

use super::summary::window_start;
use crate::catalog::{Catalog, Unit};
use crate::store::score::ScoreParts;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use ioc_shared::items::UnitName;
use ioc_shared::score::{band, AtStake, ChildScore, Indicator, NotMeasured, Score, MEASURED_MAX};
use ioc_shared::summary::Window;
use std::collections::HashMap;

fn add(into: &mut ScoreParts, part: &ScoreParts) {
    into.progress_denominator += part.progress_denominator;
    into.progress_numerator += part.progress_numerator;
    into.received += part.received;
    into.received_online += part.received_online;
    into.dossiers_resolved += part.dossiers_resolved;
    into.dossiers_late += part.dossiers_late;
    into.dossiers_dissatisfied += part.dossiers_dissatisfied;
    into.complaints_resolved += part.complaints_resolved;
    into.complaints_on_time += part.complaints_on_time;
    into.complaints_dissatisfied += part.complaints_dissatisfied;
    into.due_24h += part.due_24h;
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn count(n: i64) -> u64 {
    n.max(0) as u64
}

/// The measured indicators of summed parts.
pub fn indicators(p: &ScoreParts) -> Vec<Indicator> {
    let share = |numerator: i64, denominator: i64, max: f64, when_none: f64| {
        if denominator > 0 {
            max * numerator.max(0) as f64 / denominator as f64
        } else {
            when_none
        }
    };
    let complaint_good = p.complaints_resolved
        - p.complaints_dissatisfied
        - (p.complaints_resolved - p.complaints_on_time);
    let dossier_good = p.dossiers_resolved - p.dossiers_dissatisfied - p.dossiers_late;
    let dossier_satisfaction = if p.dossiers_resolved > 0 {
        let r = dossier_good.max(0) as f64 / p.dossiers_resolved as f64;
        (6.0 * r / 0.9).min(6.0)
    } else {
        6.0
    };
    let indicator = |code: &str,
                     name: &str,
                     max: f64,
                     score: f64,
                     numerator: i64,
                     denominator: i64,
                     approximate: bool| Indicator {
        code: code.to_owned(),
        name: name.to_owned(),
        max,
        score: round(score),
        numerator: count(numerator),
        denominator: count(denominator),
        approximate,
    };
    vec![
        indicator(
            "progress",
            "Tiến độ giải quyết",
            20.0,
            share(p.progress_numerator, p.progress_denominator, 20.0, 20.0),
            p.progress_numerator,
            p.progress_denominator,
            false,
        ),
        indicator(
            "online",
            "Dịch vụ công trực tuyến (xấp xỉ)",
            12.0,
            share(p.received_online, p.received, 12.0, 0.0),
            p.received_online,
            p.received,
            true,
        ),
        indicator(
            "complaints_on_time",
            "Mức độ hài lòng: PAKN đúng hạn",
            6.0,
            share(p.complaints_on_time, p.complaints_resolved, 6.0, 6.0),
            p.complaints_on_time,
            p.complaints_resolved,
            false,
        ),
        indicator(
            "complaint_satisfaction",
            "Mức độ hài lòng: PAKN",
            6.0,
            share(complaint_good, p.complaints_resolved, 6.0, 6.0),
            complaint_good.max(0),
            p.complaints_resolved,
            false,
        ),
        indicator(
            "dossier_satisfaction",
            "Mức độ hài lòng: hồ sơ",
            6.0,
            dossier_satisfaction,
            dossier_good.max(0),
            p.dossiers_resolved,
            false,
        ),
    ]
}

fn not_measured() -> Vec<NotMeasured> {
    let note = "không đo được từ dữ liệu sự kiện".to_owned();
    [("Công khai, minh bạch", 18.0), ("Số hóa hồ sơ", 22.0), ("Thanh toán trực tuyến", 10.0)]
        .into_iter()
        .map(|(name, max)| NotMeasured { name: name.to_owned(), max, note: note.clone() })
        .collect()
}

/// The measured score of `unit` over the calendar `period` (month, quarter, year) to `now`.
pub async fn compute<'c>(
    db: impl sqlx::PgExecutor<'c>,
    catalog: &Catalog,
    unit: &Unit,
    period: Window,
    now: DateTime<Utc>,
) -> Result<Score, StoreError> {
    let from = DateTime::from_timestamp(window_start(period, now), 0).unwrap_or(now);
    let units = unit.parent.as_ref().map(|_| catalog.subtree(&unit.code));
    let rows = crate::store::score::score_parts(db, units.as_deref(), from, now).await?;
    let mut total = ScoreParts::default();
    let children: Vec<&String> = catalog.children(&unit.code).iter().collect();
    let mut per_child: HashMap<&str, ScoreParts> = HashMap::new();
    for row in &rows {
        add(&mut total, row);
        let path = catalog.self_and_ancestors(&row.unit);
        if let Some(child) = path.iter().find(|u| u.parent.as_deref() == Some(unit.code.as_str())) {
            add(per_child.entry(child.code.as_str()).or_default(), row);
        }
    }
    let indicators = indicators(&total);
    let score = round(indicators.iter().map(|i| i.score).sum());
    // If every dossier falling due in the next 24 hours went overdue, progress would lose them
    // from its numerator.
    let at_stake_points = if total.progress_denominator > 0 {
        20.0 * total.due_24h as f64 / total.progress_denominator as f64
    } else {
        0.0
    };
    let mut children: Vec<ChildScore> = children
        .iter()
        .filter_map(|code| catalog.get(code))
        .map(|child| {
            let parts = per_child.remove(child.code.as_str()).unwrap_or_default();
            ChildScore {
                code: child.code.clone(),
                name: child.name.clone(),
                score: round(indicators_sum(&parts)),
                rank: 0,
            }
        })
        .collect();
    children.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.code.cmp(&b.code)));
    for (i, child) in children.iter_mut().enumerate() {
        child.rank = i as u32 + 1;
    }
    Ok(Score {
        unit: UnitName { code: unit.code.clone(), name: unit.name.clone() },
        period,
        from: ioc_shared::time::to_local_rfc3339(from),
        to: ioc_shared::time::to_local_rfc3339(now),
        score,
        measured_max: MEASURED_MAX,
        indicators,
        not_measured: not_measured(),
        band: band(score, MEASURED_MAX).to_owned(),
        at_stake_24h: AtStake { dossiers: count(total.due_24h), points: round(at_stake_points) },
        children,
    })
}

fn indicators_sum(parts: &ScoreParts) -> f64 {
    indicators(parts).iter().map(|i| i.score).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_rate_scores_the_satisfaction_maxima_and_full_progress() {
        let empty = ScoreParts::default();
        let scores: Vec<f64> = indicators(&empty).iter().map(|i| i.score).collect();
        assert_eq!(scores, [20.0, 0.0, 6.0, 6.0, 6.0]);
    }

    #[test]
    fn each_indicator_follows_its_formula() {
        let parts = ScoreParts {
            progress_denominator: 10,
            progress_numerator: 8,
            received: 8,
            received_online: 6,
            dossiers_resolved: 10,
            dossiers_late: 1,
            dossiers_dissatisfied: 1,
            complaints_resolved: 4,
            complaints_on_time: 3,
            complaints_dissatisfied: 1,
            ..ScoreParts::default()
        };
        let scores: Vec<f64> = indicators(&parts).iter().map(|i| i.score).collect();
        // progress 20×8/10; online 12×6/8; on time 6×3/4; complaint satisfaction 6×(4−1−1)/4;
        // dossier satisfaction min(6, 6×0.8/0.9).
        assert_eq!(scores, [16.0, 9.0, 4.5, 3.0, 5.33]);
    }
}
