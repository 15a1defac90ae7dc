//! Each dossier, complaint and task is a small state machine whose whole history is its events.
//!
//! [`contribution`] folds an item's events, sorted by time, into what the item adds to the
//! live aggregates: window counters stamped with the time they belong to, whether it is open,
//! and its due time while the clock runs. When a new event arrives the aggregates change by
//! `contribution(after) − contribution(before)` ([`ItemDelta::between`]), so duplicates,
//! replays and out-of-order arrival can never double-count: the figures depend only on the set
//! of events, not on the order they came in.

use chrono::{DateTime, Utc};
use ioc_shared::event::{Event, EventBody, ItemKind, Officer, Outcome, Satisfaction};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Names of the window counters kept per scope and time bucket.
pub mod counter {
    pub const DOSSIERS_RECEIVED: &str = "d.recv";
    pub const DOSSIERS_RESOLVED: &str = "d.res";
    pub const DOSSIERS_ON_TIME: &str = "d.ontime";
    pub const DOSSIERS_LATE: &str = "d.late";
    /// Prefix of the processing-time histogram bins.
    pub const DOSSIER_PROCESSING_BIN: &str = "d.ph:";
    pub const COMPLAINTS_RECEIVED: &str = "c.recv";
    pub const COMPLAINTS_RESOLVED: &str = "c.res";
    pub const COMPLAINTS_ON_TIME: &str = "c.ontime";
    pub const COMPLAINTS_RATED: &str = "c.rated";
    pub const COMPLAINTS_SATISFIED: &str = "c.sat";
    /// Prefix of complaints received per field.
    pub const COMPLAINT_FIELD: &str = "c.f:";
    /// Prefix of complaints received per channel.
    pub const COMPLAINT_CHANNEL: &str = "c.ch:";
    /// Dossiers received online (Decision 766's online indicator).
    pub const DOSSIERS_ONLINE: &str = "d.online";
    /// Dossiers and complaints rated dissatisfied at resolution.
    pub const DOSSIERS_DISSATISFIED: &str = "d.dissat";
    pub const COMPLAINTS_DISSATISFIED: &str = "c.dissat";
    pub const TASKS_ASSIGNED: &str = "t.asg";
    pub const TASKS_COMPLETED: &str = "t.done";

    /// Counters a parent also keeps per child, for the ranking of its children.
    pub const PER_CHILD: [&str; 4] =
        [DOSSIERS_RECEIVED, DOSSIERS_ON_TIME, DOSSIERS_LATE, COMPLAINTS_RECEIVED];
}

/// Ratio between histogram bin edges. A bin reports its geometric midpoint, so any value in it
/// is within √1.08 − 1 ≈ 3.9 % of what is reported: inside the 5 % the figures promise.
pub const HISTOGRAM_RATIO: f64 = 1.08;

/// The processing-time histogram bin for a duration in seconds.
pub fn processing_bin(seconds: i64) -> String {
    if seconds < 1 {
        return format!("{}z", counter::DOSSIER_PROCESSING_BIN);
    }
    let index = ((seconds as f64).ln() / HISTOGRAM_RATIO.ln()).floor() as i64;
    format!("{}{index}", counter::DOSSIER_PROCESSING_BIN)
}

/// The hours a bin stands for (its geometric midpoint), from the part after the prefix.
pub fn processing_bin_hours(bin: &str) -> Option<f64> {
    if bin == "z" {
        return Some(0.0);
    }
    let index: i64 = bin.parse().ok()?;
    Some(HISTOGRAM_RATIO.powf(index as f64 + 0.5) / 3600.0)
}

/// One window counter an item adds: `n` to `counter` in the buckets holding time `at`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Count {
    /// Unix seconds of the event the count belongs to.
    pub at: i64,
    pub counter: String,
    pub n: i64,
}

/// An open item whose clock is running: it becomes overdue once now passes `at_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    /// Due time in Unix milliseconds, already moved later by any pauses.
    pub at_ms: i64,
    /// Who is late when it passes; `None` while unassigned.
    pub officer: Option<Officer>,
}

/// What one item adds to the aggregates, given all its events so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    pub counts: Vec<Count>,
    /// Received (or assigned, for a task) and not yet resolved.
    pub open: bool,
    /// Set while open and not paused.
    pub due: Option<Due>,
}

/// How the aggregates change when one item moves from one state to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemDelta {
    pub kind: ItemKind,
    /// The source system that owns the item (outbox rows written before items had an owner
    /// read as `default`).
    #[serde(default = "default_source")]
    pub source: String,
    pub item: String,
    pub unit: String,
    /// Counter changes, merged per (time, counter), zero entries dropped.
    pub counts: Vec<Count>,
    /// −1, 0 or +1 to the open count of `kind`.
    pub open: i64,
    /// The due entry to take out of the due sets, if it changed.
    pub remove_due: Option<Due>,
    /// The due entry to put in, if it changed.
    pub add_due: Option<Due>,
}

fn default_source() -> String {
    ioc_shared::event::DEFAULT_SOURCE.to_owned()
}

impl ItemDelta {
    /// The item's member in Redis sets: unique across sources.
    pub fn member(&self) -> String {
        format!("{}\u{1f}{}", self.source, self.item)
    }

    /// `after − before`; `None` when nothing changes.
    pub fn between(
        kind: ItemKind,
        source: &str,
        item: &str,
        unit: &str,
        before: &Contribution,
        after: &Contribution,
    ) -> Option<ItemDelta> {
        let mut merged: BTreeMap<(i64, &str), i64> = BTreeMap::new();
        for count in &before.counts {
            *merged.entry((count.at, count.counter.as_str())).or_default() -= count.n;
        }
        for count in &after.counts {
            *merged.entry((count.at, count.counter.as_str())).or_default() += count.n;
        }
        let counts: Vec<Count> = merged
            .into_iter()
            .filter(|(_, n)| *n != 0)
            .map(|((at, counter), n)| Count { at, counter: counter.to_owned(), n })
            .collect();
        let open = i64::from(after.open) - i64::from(before.open);
        let (remove_due, add_due) = if before.due == after.due {
            (None, None)
        } else {
            (before.due.clone(), after.due.clone())
        };
        if counts.is_empty() && open == 0 && remove_due.is_none() && add_due.is_none() {
            return None;
        }
        Some(ItemDelta {
            kind,
            source: source.to_owned(),
            item: item.to_owned(),
            unit: unit.to_owned(),
            counts,
            open,
            remove_due,
            add_due,
        })
    }
}

/// Sorts events so that the fold sees them in a single order whatever order they arrived in:
/// by time, then by life-cycle step, then by source and id.
pub fn sort_for_fold(events: &mut [Event]) {
    events.sort_by(fold_order);
}

/// [`sort_for_fold`] for borrowed events.
pub fn sort_for_fold_refs(events: &mut [&Event]) {
    events.sort_by(|a, b| fold_order(a, b));
}

/// By time, then by life-cycle step, then by source and id.
fn fold_order(a: &Event, b: &Event) -> std::cmp::Ordering {
    (a.at, step(&a.body), &a.source, &a.id).cmp(&(b.at, step(&b.body), &b.source, &b.id))
}

/// Life-cycle order of event types that share a timestamp.
fn step(body: &EventBody) -> u8 {
    match body {
        EventBody::DossierReceived { .. }
        | EventBody::ComplaintReceived { .. }
        | EventBody::TaskAssigned { .. } => 0,
        EventBody::ComplaintRouted { .. }
        | EventBody::DossierAssigned { .. }
        | EventBody::ComplaintAssigned { .. } => 1,
        EventBody::DossierPaused { .. } => 2,
        EventBody::DossierResumed { .. } => 3,
        EventBody::DossierResolved { .. }
        | EventBody::ComplaintResolved { .. }
        | EventBody::TaskCompleted { .. } => 4,
    }
}

/// What an item contributes, given all its events sorted by [`sort_for_fold`].
pub fn contribution(kind: ItemKind, events: &[Event]) -> Contribution {
    match kind {
        ItemKind::Dossier => dossier(events),
        ItemKind::Complaint => complaint(events),
        ItemKind::Task => task(events),
    }
}

fn count(at: DateTime<Utc>, counter: impl Into<String>) -> Count {
    Count { at: at.timestamp(), counter: counter.into(), n: 1 }
}

fn dossier(events: &[Event]) -> Contribution {
    let mut received: Option<(DateTime<Utc>, DateTime<Utc>)> = None; // (at, due)
    let mut working_time_due = false;
    let mut online = false;
    let mut officer: Option<&Officer> = None;
    let mut resolved: Option<(DateTime<Utc>, Outcome)> = None;
    let mut dissatisfied = false;
    for event in events {
        match &event.body {
            EventBody::DossierReceived { due, channel, due_in, .. } if received.is_none() => {
                received = Some((event.at, *due));
                working_time_due = due_in.is_some();
                online = *channel == ioc_shared::event::DossierChannel::Online;
            }
            EventBody::DossierAssigned { officer: o, .. } => officer = Some(o),
            EventBody::DossierResolved { outcome, satisfaction, .. } if resolved.is_none() => {
                resolved = Some((event.at, *outcome));
                dissatisfied = *satisfaction == Some(Satisfaction::Dissatisfied);
            }
            _ => {}
        }
    }
    let paused = pauses(events, resolved.map(|(at, _)| at));

    let mut out = Contribution::default();
    if let Some((received_at, _)) = received {
        out.counts.push(count(received_at, counter::DOSSIERS_RECEIVED));
        if online {
            out.counts.push(count(received_at, counter::DOSSIERS_ONLINE));
        }
    }
    if let Some((resolved_at, outcome)) = resolved {
        out.counts.push(count(resolved_at, counter::DOSSIERS_RESOLVED));
        if dissatisfied && received.is_some() {
            out.counts.push(count(resolved_at, counter::DOSSIERS_DISSATISFIED));
        }
        if let Some((received_at, due)) = received {
            if outcome != Outcome::Withdrawn {
                let on_time = resolved_at <= paused.extend(due, working_time_due);
                let name = if on_time { counter::DOSSIERS_ON_TIME } else { counter::DOSSIERS_LATE };
                out.counts.push(count(resolved_at, name));
            }
            let seconds = (resolved_at - received_at).num_seconds().max(0);
            out.counts.push(count(resolved_at, processing_bin(seconds)));
        }
    }
    if let (Some((_, due)), None) = (received, resolved) {
        out.open = true;
        if paused.since.is_none() {
            out.due = Some(Due {
                at_ms: paused.extend(due, working_time_due).timestamp_millis(),
                officer: officer.cloned(),
            });
        }
    }
    out
}

/// A dossier's pauses: since when it is paused now (if it is), and the pauses that ended
/// before its resolution. Pauses stop the clock: each pause pairs with the next resume, in time
/// order, and only the time before resolution counts.
#[derive(Debug, Default)]
struct Pauses {
    since: Option<DateTime<Utc>>,
    ended: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Pauses {
    /// The due time moved later by the pauses: by the working time paused for a deadline given
    /// in working time (`due_in`), otherwise by the clock time paused.
    fn extend(&self, due: DateTime<Utc>, in_working_time: bool) -> DateTime<Utc> {
        if in_working_time {
            crate::calendar::active().extend_by_pauses(due, &self.ended)
        } else {
            self.ended.iter().fold(due, |due, (from, to)| due + (*to - *from))
        }
    }
}

fn pauses(events: &[Event], resolved_at: Option<DateTime<Utc>>) -> Pauses {
    let mut out = Pauses::default();
    for event in events {
        if resolved_at.is_some_and(|resolved| event.at > resolved) {
            break;
        }
        match &event.body {
            EventBody::DossierPaused { .. } if out.since.is_none() => out.since = Some(event.at),
            EventBody::DossierResumed { .. } => {
                if let Some(since) = out.since.take() {
                    out.ended.push((since, event.at));
                }
            }
            _ => {}
        }
    }
    if let (Some(since), Some(resolved)) = (out.since, resolved_at) {
        // Resolved while still paused: the pause lasted until the resolution.
        out.ended.push((since, resolved));
        out.since = None;
    }
    out
}

/// What an item is, for the lists behind the figures: who holds it, when it is due (as sent and
/// after pauses), whether it is paused, when and how it ended. Folded from the same sorted
/// events as its [`Contribution`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemView {
    pub open: bool,
    pub paused: bool,
    pub paused_since: Option<DateTime<Utc>>,
    /// Received (a task: first assigned).
    pub received_at: Option<DateTime<Utc>>,
    /// The due time as sent (a task: of its current assignment).
    pub due_at: Option<DateTime<Utc>>,
    /// The due time moved later by the time paused.
    pub due_extended_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// `completed`, `rejected`, `withdrawn` (dossiers), `resolved` (complaints), `completed` (tasks).
    pub outcome: Option<String>,
    pub officer: Option<Officer>,
    pub procedure: Option<String>,
    pub field: Option<String>,
    pub channel: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    /// The citizen's rating at resolution (`satisfied`, `neutral`, `dissatisfied`), if asked.
    pub satisfaction: Option<String>,
}

/// The [`ItemView`] of an item, given all its events sorted by [`sort_for_fold`].
pub fn view(kind: ItemKind, events: &[Event]) -> ItemView {
    let mut out = ItemView::default();
    let mut working_time_due = false;
    for event in events {
        match &event.body {
            EventBody::DossierReceived { procedure, field, channel, due, due_in, .. }
                if out.received_at.is_none() =>
            {
                working_time_due = due_in.is_some();
                out.received_at = Some(event.at);
                out.due_at = Some(*due);
                out.procedure = Some(procedure.clone());
                out.field = Some(field.clone());
                out.channel =
                    serde_json::to_value(channel).ok().and_then(|v| v.as_str().map(str::to_owned));
            }
            EventBody::ComplaintReceived { field, channel, due, summary, .. }
                if out.received_at.is_none() =>
            {
                out.received_at = Some(event.at);
                out.due_at = Some(*due);
                out.field = Some(field.clone());
                out.channel = Some(channel.as_str().to_owned());
                out.summary = summary.clone();
            }
            EventBody::TaskAssigned { officer, due, title, .. } => {
                out.received_at.get_or_insert(event.at);
                out.due_at = Some(*due);
                out.officer = Some(officer.clone());
                if title.is_some() {
                    out.title = title.clone();
                }
            }
            EventBody::DossierAssigned { officer, .. }
            | EventBody::ComplaintAssigned { officer, .. } => out.officer = Some(officer.clone()),
            EventBody::DossierResolved { outcome, satisfaction, .. }
                if out.resolved_at.is_none() =>
            {
                out.resolved_at = Some(event.at);
                out.outcome =
                    serde_json::to_value(outcome).ok().and_then(|v| v.as_str().map(str::to_owned));
                out.satisfaction = satisfaction
                    .and_then(|s| serde_json::to_value(s).ok())
                    .and_then(|v| v.as_str().map(str::to_owned));
            }
            EventBody::ComplaintResolved { satisfaction, .. } if out.resolved_at.is_none() => {
                out.resolved_at = Some(event.at);
                out.outcome = Some("resolved".to_owned());
                out.satisfaction = satisfaction
                    .and_then(|s| serde_json::to_value(s).ok())
                    .and_then(|v| v.as_str().map(str::to_owned));
            }
            EventBody::TaskCompleted { .. } if out.resolved_at.is_none() => {
                out.resolved_at = Some(event.at);
                out.outcome = Some("completed".to_owned());
            }
            _ => {}
        }
    }
    let paused =
        if kind == ItemKind::Dossier { pauses(events, out.resolved_at) } else { Pauses::default() };
    out.due_extended_at = out.due_at.map(|due| paused.extend(due, working_time_due));
    out.open = out.received_at.is_some() && out.resolved_at.is_none();
    out.paused = out.open && paused.since.is_some();
    out.paused_since = if out.paused { paused.since } else { None };
    out
}

fn complaint(events: &[Event]) -> Contribution {
    let mut received: Option<(DateTime<Utc>, DateTime<Utc>, &str, &'static str)> = None;
    let mut officer: Option<&Officer> = None;
    let mut resolved: Option<(DateTime<Utc>, Option<Satisfaction>)> = None;
    for event in events {
        match &event.body {
            EventBody::ComplaintReceived { due, field, channel, .. } if received.is_none() => {
                received = Some((event.at, *due, field, channel.as_str()));
            }
            EventBody::ComplaintAssigned { officer: o, .. } => officer = Some(o),
            EventBody::ComplaintResolved { satisfaction, .. } if resolved.is_none() => {
                resolved = Some((event.at, *satisfaction));
            }
            _ => {}
        }
    }
    let mut out = Contribution::default();
    if let Some((at, _, field, channel)) = received {
        out.counts.push(count(at, counter::COMPLAINTS_RECEIVED));
        out.counts.push(count(at, format!("{}{field}", counter::COMPLAINT_FIELD)));
        out.counts.push(count(at, format!("{}{channel}", counter::COMPLAINT_CHANNEL)));
    }
    if let Some((resolved_at, satisfaction)) = resolved {
        out.counts.push(count(resolved_at, counter::COMPLAINTS_RESOLVED));
        if let Some((_, due, _, _)) = received {
            if resolved_at <= due {
                out.counts.push(count(resolved_at, counter::COMPLAINTS_ON_TIME));
            }
        }
        if let Some(satisfaction) = satisfaction {
            if satisfaction == Satisfaction::Dissatisfied {
                out.counts.push(count(resolved_at, counter::COMPLAINTS_DISSATISFIED));
            }
            out.counts.push(count(resolved_at, counter::COMPLAINTS_RATED));
            if satisfaction == Satisfaction::Satisfied {
                out.counts.push(count(resolved_at, counter::COMPLAINTS_SATISFIED));
            }
        }
    }
    if let (Some((_, due, _, _)), None) = (received, resolved) {
        out.open = true;
        out.due = Some(Due { at_ms: due.timestamp_millis(), officer: officer.cloned() });
    }
    out
}

fn task(events: &[Event]) -> Contribution {
    // The first assignment counts as "assigned"; a later one reassigns (officer and due).
    let mut first_assigned: Option<DateTime<Utc>> = None;
    let mut current: Option<(&Officer, DateTime<Utc>)> = None;
    let mut completed: Option<DateTime<Utc>> = None;
    for event in events {
        match &event.body {
            EventBody::TaskAssigned { officer, due, .. } => {
                first_assigned.get_or_insert(event.at);
                current = Some((officer, *due));
            }
            EventBody::TaskCompleted { .. } if completed.is_none() => completed = Some(event.at),
            _ => {}
        }
    }
    let mut out = Contribution::default();
    if let Some(at) = first_assigned {
        out.counts.push(count(at, counter::TASKS_ASSIGNED));
    }
    if let Some(at) = completed {
        out.counts.push(count(at, counter::TASKS_COMPLETED));
    }
    if let (Some((officer, due)), None) = (current, completed) {
        out.open = true;
        out.due = Some(Due { at_ms: due.timestamp_millis(), officer: Some(officer.clone()) });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ioc_shared::event::parse_event;
    use serde_json::json;

    fn event(id: &str, kind: &str, at: &str, extra: serde_json::Value) -> Event {
        let mut value = json!({"id": id, "type": kind, "at": at, "unit": "001"});
        if let (Some(object), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            object.extend(extra.clone());
        }
        parse_event(&value, DateTime::<Utc>::MAX_UTC - chrono::Duration::days(1))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn folded(mut events: Vec<Event>) -> Contribution {
        sort_for_fold(&mut events);
        contribution(ItemKind::Dossier, &events)
    }

    fn received(at: &str, due: &str) -> Event {
        event(
            "r",
            "dossier.received",
            at,
            json!({"dossier": "D", "procedure": "P", "field": "F",
            "channel": "online", "due": due}),
        )
    }

    fn has(c: &Contribution, name: &str) -> bool {
        c.counts.iter().any(|x| x.counter == name)
    }

    #[test]
    fn a_pause_moves_the_due_time_later_by_its_length() {
        let events = vec![
            received("2026-11-20T08:00:00+07:00", "2026-11-21T08:00:00+07:00"),
            event("p", "dossier.paused", "2026-11-20T10:00:00+07:00", json!({"dossier": "D"})),
            event("u", "dossier.resumed", "2026-11-20T13:00:00+07:00", json!({"dossier": "D"})),
            // 2 h after the printed due time, but within the 3 h paused.
            event(
                "x",
                "dossier.resolved",
                "2026-11-21T10:00:00+07:00",
                json!({"dossier": "D", "outcome": "completed"}),
            ),
        ];
        let c = folded(events);
        assert!(has(&c, counter::DOSSIERS_ON_TIME), "{c:?}");
        assert!(!c.open);
    }

    #[test]
    fn a_paused_dossier_is_open_but_its_clock_is_stopped() {
        let c = folded(vec![
            received("2026-11-20T08:00:00+07:00", "2026-11-21T08:00:00+07:00"),
            event("p", "dossier.paused", "2026-11-20T10:00:00+07:00", json!({"dossier": "D"})),
        ]);
        assert!(c.open);
        assert_eq!(c.due, None);
    }

    #[test]
    fn resolved_before_received_arrives_gives_the_same_contribution_in_any_order() {
        let r = received("2026-11-20T08:00:00+07:00", "2026-11-20T09:00:00+07:00");
        let x = event(
            "x",
            "dossier.resolved",
            "2026-11-20T10:00:00+07:00",
            json!({"dossier": "D", "outcome": "rejected"}),
        );
        let in_order = folded(vec![r.clone(), x.clone()]);
        let reversed = folded(vec![x.clone(), r]);
        assert_eq!(in_order, reversed);
        assert!(has(&in_order, counter::DOSSIERS_LATE));
        // Before the receipt arrives, the dossier counts as resolved but cannot be judged.
        let only_resolved = folded(vec![x]);
        assert!(has(&only_resolved, counter::DOSSIERS_RESOLVED));
        assert!(!has(&only_resolved, counter::DOSSIERS_LATE));
    }

    #[test]
    fn withdrawn_is_resolved_but_neither_on_time_nor_late() {
        let c = folded(vec![
            received("2026-11-20T08:00:00+07:00", "2026-11-20T09:00:00+07:00"),
            event(
                "x",
                "dossier.resolved",
                "2026-11-20T10:00:00+07:00",
                json!({"dossier": "D", "outcome": "withdrawn"}),
            ),
        ]);
        assert!(has(&c, counter::DOSSIERS_RESOLVED));
        assert!(!has(&c, counter::DOSSIERS_ON_TIME) && !has(&c, counter::DOSSIERS_LATE));
    }

    #[test]
    fn delta_of_equal_contributions_is_none_and_of_a_change_is_the_difference() {
        let before =
            folded(vec![received("2026-11-20T08:00:00+07:00", "2026-11-20T09:00:00+07:00")]);
        assert_eq!(
            ItemDelta::between(ItemKind::Dossier, "mot-cua", "D", "001", &before, &before),
            None
        );
        let after = Contribution::default();
        let delta = ItemDelta::between(ItemKind::Dossier, "mot-cua", "D", "001", &before, &after)
            .unwrap_or_else(|| panic!("a change"));
        assert_eq!(delta.open, -1);
        // An online dossier counts as received and as online; undoing it takes both back.
        let mut undone: Vec<_> = delta.counts.iter().map(|c| (c.counter.as_str(), c.n)).collect();
        undone.sort_unstable();
        assert_eq!(undone, vec![(counter::DOSSIERS_ONLINE, -1), (counter::DOSSIERS_RECEIVED, -1)]);
        assert!(delta.remove_due.is_some() && delta.add_due.is_none());
    }

    #[test]
    fn histogram_bins_stay_within_five_percent() {
        for seconds in [1_i64, 59, 3600, 5 * 3600, 9 * 3600, 86_400 * 3, 86_400 * 200] {
            let bin = processing_bin(seconds);
            let hours =
                processing_bin_hours(bin.trim_start_matches(counter::DOSSIER_PROCESSING_BIN))
                    .unwrap_or(f64::NAN);
            let exact = seconds as f64 / 3600.0;
            assert!((hours - exact).abs() / exact <= 0.05, "{seconds}s → {hours}h");
        }
    }
}
