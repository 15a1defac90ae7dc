//! The public disclosure board: each public unit's figures for this month (on-time rate,
//! overdue dossiers and complaints, the Decision 766 score), ranked, with late officers' names
//! only where the city publishes them. Computed from the same figures the dashboard shows.

use super::summary::{self, SummaryError};
use super::Keys;
use crate::catalog::Catalog;
use crate::redis_link::RedisLink;
use crate::store::Store;
use chrono::{DateTime, Utc};
use ioc_shared::public::{PublicBoard, PublicOfficer, PublicUnitFigures, LICENCE};
use ioc_shared::summary::Window;

/// A unit on the board, and whether the names of its late officers are published.
#[derive(Debug, Clone, Copy)]
pub struct Disclosed<'a> {
    pub unit: &'a str,
    pub officers: bool,
}

/// The public units' figures now. Units no longer in the catalog are left out.
pub async fn compute(
    redis: &mut RedisLink,
    keys: &Keys,
    store: &Store,
    catalog: &Catalog,
    public: &[Disclosed<'_>],
    now: DateTime<Utc>,
) -> Result<PublicBoard, SummaryError> {
    let mut units = Vec::with_capacity(public.len());
    for entry in public {
        let Some(unit) = catalog.get(entry.unit) else { continue };
        let figures =
            summary::compute(redis, keys, store, catalog, unit, Window::Month, now).await?.summary;
        let score = super::score::compute(&store.pool, catalog, unit, Window::Month, now).await?;
        let late_officers = entry.officers.then(|| {
            figures
                .officers
                .top_late
                .iter()
                .map(|o| PublicOfficer { name: o.name.clone(), overdue: o.overdue })
                .collect()
        });
        units.push(PublicUnitFigures {
            rank: 0,
            code: unit.code.clone(),
            name: unit.name.clone(),
            dossiers_resolved: figures.dossiers.resolved,
            on_time_rate: figures.dossiers.on_time_rate,
            dossiers_overdue: figures.dossiers.overdue,
            complaints_overdue: figures.complaints.overdue,
            score: score.score,
            score_max: score.measured_max,
            band: score.band,
            late_officers,
        });
    }
    rank(&mut units);
    Ok(PublicBoard {
        as_of: ioc_shared::time::to_local_rfc3339(now),
        period: "month".into(),
        licence: LICENCE.into(),
        units,
    })
}

/// Best first: highest score, then highest on-time rate (none rated last), then fewest overdue
/// dossiers, then code.
fn rank(units: &mut [PublicUnitFigures]) {
    units.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.on_time_rate.unwrap_or(-1.0).total_cmp(&a.on_time_rate.unwrap_or(-1.0)))
            .then(a.dossiers_overdue.cmp(&b.dossiers_overdue))
            .then(a.code.cmp(&b.code))
    });
    for (i, unit) in units.iter_mut().enumerate() {
        unit.rank = i as u32 + 1;
    }
}
