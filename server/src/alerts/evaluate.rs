//! The live evaluation of every rule, on every replica.
//!
//! Each (unit, window, view) that some rule evaluates is followed through the live hub like a
//! screen would follow it: the hub recomputes the unit when its figures change on any replica
//! and when its next due time passes (overdue needs no event), and every publication is
//! evaluated here against the rules of that scope. So the value of an alert is the very number
//! the summary shows. `source.silent` rules follow the source watch instead, and
//! `complaints.spike` rules count complaints per hour in PostgreSQL every [`SPIKE_EVERY`] (the
//! hour moves on with no event).
//!
//! Every replica evaluates every rule; PostgreSQL makes the outcome single: one open alert per
//! rule and unit (a unique index), raised and audited by whichever replica inserts it first,
//! resolved by whichever updates it first.

use super::rules::units_of;
use super::{AlertError, Alerts};
use crate::catalog::Catalog;
use crate::ingest::sources::{SilentScope, SourceWatch};
use crate::live::Hub;
use crate::store::spikes::HourCounts;
use chrono::{DateTime, Utc};
use ioc_shared::alerts::{
    is_rate, metric_source, score_figure, spike_multiple, summary_figure, MetricSource, Rule,
};
use ioc_shared::live::View;
use ioc_shared::summary::Window;
use ioc_shared::time::Clock;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the rules are read again, for changes made on other replicas.
pub const RELOAD_EVERY: Duration = Duration::from_secs(10);
/// How often conditions waiting for their `for_seconds`, and sources' silence, are checked
/// again when nothing else changes.
pub const RECHECK_EVERY: Duration = Duration::from_secs(1);
/// How often complaints are counted again for `complaints.spike` rules.
pub const SPIKE_EVERY: Duration = Duration::from_secs(5);
/// How often unacknowledged alerts are checked for escalation.
pub const ESCALATE_EVERY: Duration = Duration::from_secs(5);
/// Shortest time between two writes of an open alert's value.
pub const VALUE_WRITE_EVERY: Duration = Duration::from_secs(5);

/// A scope the hub computes: unit, window, view.
type ScopeKey = (String, Window, View);

/// Runs the evaluation for ever (a supervised task).
pub struct Evaluator {
    pub alerts: Alerts,
    pub hub: Hub,
    pub catalog: Catalog,
    pub sources: SourceWatch,
    pub clock: Clock,
}

/// A task following one scope (or the sources), with the rules it evaluates.
struct Follower {
    rules: watch::Sender<Vec<Arc<Rule>>>,
    task: JoinHandle<()>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What is known of one rule's condition for one unit on this replica.
#[derive(Debug, Default)]
struct Condition {
    /// Since when the condition has held (for `for_seconds`).
    holds_since: Option<DateTime<Utc>>,
    /// Since when it has been false.
    clear_since: Option<DateTime<Utc>>,
    /// Whether an alert is open, as far as this replica knows (`None` at start).
    open: Option<bool>,
    /// The value last written to the open alert, and when.
    written: Option<(f64, tokio::time::Instant)>,
}

/// Conditions by rule id and the rule's last change (a changed rule starts afresh: its alerts
/// were resolved by the change).
type Conditions = HashMap<(i64, String), Condition>;

impl Evaluator {
    pub async fn run(self) {
        let mut followers: HashMap<ScopeKey, Follower> = HashMap::new();
        let mut silence: Option<Follower> = None;
        let mut spikes: Option<Follower> = None;
        let rules_changed = self.alerts.rules_changed();
        let mut escalation = tokio::time::interval(ESCALATE_EVERY);
        loop {
            match self.alerts.all_rules().await {
                Ok(rules) => self.follow(&mut followers, &mut silence, &mut spikes, rules),
                Err(error) => tracing::warn!(%error, "alert rules not read; retrying"),
            }
            let reload = tokio::time::sleep(RELOAD_EVERY);
            tokio::pin!(reload);
            loop {
                tokio::select! {
                    _ = rules_changed.notified() => break,
                    _ = &mut reload => break,
                    _ = escalation.tick() => {
                        if let Err(error) = self.alerts.escalate_due().await {
                            tracing::warn!(%error, "alerts not escalated; retrying");
                        }
                    }
                }
            }
        }
    }

    /// Starts following the scopes the rules need, stops following those they no longer do,
    /// and hands each follower its rules.
    fn follow(
        &self,
        followers: &mut HashMap<ScopeKey, Follower>,
        silence: &mut Option<Follower>,
        spikes: &mut Option<Follower>,
        rules: Vec<Rule>,
    ) {
        let mut wanted: HashMap<ScopeKey, Vec<Arc<Rule>>> = HashMap::new();
        let mut silent_rules: Vec<Arc<Rule>> = Vec::new();
        let mut spike_rules: Vec<Arc<Rule>> = Vec::new();
        for rule in rules.into_iter().map(Arc::new) {
            let view = match metric_source(&rule.spec.metric, rule.spec.window) {
                Ok(MetricSource::Summary) => View::Summary,
                Ok(MetricSource::Score) => View::Score,
                Ok(MetricSource::SourceSilence) => {
                    silent_rules.push(rule);
                    continue;
                }
                Ok(MetricSource::ComplaintsSpike) => {
                    spike_rules.push(rule);
                    continue;
                }
                Err(error) => {
                    tracing::warn!(rule = rule.id, %error, "alert rule not evaluated");
                    continue;
                }
            };
            for unit in units_of(&rule, &self.catalog) {
                wanted.entry((unit, rule.spec.window, view)).or_default().push(rule.clone());
            }
        }
        followers.retain(|key, _| wanted.contains_key(key));
        for (key, rules) in wanted {
            match followers.get(&key) {
                Some(follower) => {
                    follower.rules.send_if_modified(|current| {
                        let changed = *current != rules;
                        if changed {
                            *current = rules;
                        }
                        changed
                    });
                }
                None => {
                    let (sender, receiver) = watch::channel(rules);
                    let task = tokio::spawn(follow_scope(
                        self.alerts.clone(),
                        self.hub.clone(),
                        key.clone(),
                        receiver,
                        self.clock.clone(),
                    ));
                    followers.insert(key, Follower { rules: sender, task });
                }
            }
        }
        hand_over(silence, silent_rules, |receiver| {
            tokio::spawn(follow_silence(
                self.alerts.clone(),
                self.sources.clone(),
                self.catalog.clone(),
                receiver,
                self.clock.clone(),
            ))
        });
        hand_over(spikes, spike_rules, |receiver| {
            tokio::spawn(follow_spikes(
                self.alerts.clone(),
                self.catalog.clone(),
                receiver,
                self.clock.clone(),
            ))
        });
    }
}

/// Hands `rules` to the follower of a metric that one task evaluates for every rule (silence,
/// spikes), starting it with `start` on the first rule and stopping it after the last.
fn hand_over(
    follower: &mut Option<Follower>,
    rules: Vec<Arc<Rule>>,
    start: impl FnOnce(watch::Receiver<Vec<Arc<Rule>>>) -> JoinHandle<()>,
) {
    if rules.is_empty() {
        *follower = None;
    } else if let Some(follower) = follower.as_ref() {
        follower.rules.send_replace(rules);
    } else {
        let (sender, receiver) = watch::channel(rules);
        *follower = Some(Follower { rules: sender, task: start(receiver) });
    }
}

/// The value a scope's publication gives a rule: `None` when it cannot be evaluated (an empty
/// figure, or a rate over fewer rated items than `min_sample`).
fn value_for(rule: &Rule, view: View, data: &serde_json::Value) -> Option<f64> {
    match view {
        View::Summary => {
            let (value, sample) = summary_figure(&rule.spec.metric, data)?;
            if is_rate(&rule.spec.metric) && sample.unwrap_or(0) < u64::from(rule.spec.min_sample) {
                return None;
            }
            Some(value)
        }
        View::Score => score_figure(&rule.spec.metric, data),
        // No rule follows the alerts view (`follow` never asks for it).
        View::Alerts => None,
    }
}

/// Follows one scope: every publication of the hub, every change of its rules, and every
/// second while a condition waits for its `for_seconds`.
async fn follow_scope(
    alerts: Alerts,
    hub: Hub,
    key: ScopeKey,
    mut rules: watch::Receiver<Vec<Arc<Rule>>>,
    clock: Clock,
) {
    let mut figures = hub.subscribe(key.clone());
    let mut conditions = Conditions::new();
    let mut data: Option<serde_json::Value> = None;
    loop {
        if let Some(published) = figures.borrow_and_update().clone() {
            // The message as screens get it; its `data` is the summary (or the score).
            match serde_json::from_str::<serde_json::Value>(published.snapshot.as_str()) {
                Ok(mut message) => data = Some(message["data"].take()),
                Err(error) => tracing::error!(%error, "published figures do not parse"),
            }
        }
        let current = rules.borrow_and_update().clone();
        let mut waiting = false;
        if let Some(data) = &data {
            let now = clock.now();
            let values = current.iter().map(|rule| (rule.clone(), value_for(rule, key.2, data)));
            waiting = evaluate(&alerts, &key.0, values, &mut conditions, now).await;
        }
        forget_other_rules(&mut conditions, &current);
        tokio::select! {
            changed = figures.changed() => if changed.is_err() { return },
            changed = rules.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(RECHECK_EVERY), if waiting => {}
        }
    }
}

/// Follows the sources' silence for every `source.silent` rule: the value is the longest
/// silence, in minutes, of a source feeding the unit (0 when none is silent).
async fn follow_silence(
    alerts: Alerts,
    sources: SourceWatch,
    catalog: Catalog,
    mut rules: watch::Receiver<Vec<Arc<Rule>>>,
    clock: Clock,
) {
    let mut silent = sources.changes();
    let mut conditions: HashMap<String, Conditions> = HashMap::new();
    loop {
        let current = rules.borrow_and_update().clone();
        let scopes: Vec<SilentScope> = silent.borrow_and_update().clone();
        let now = clock.now();
        let minutes_silent = |_: &Rule, unit: &str| {
            let minutes = scopes
                .iter()
                .filter(|scope| scope.concerns(&catalog, unit))
                .map(|scope| (now - scope.since).num_seconds().max(0) as f64 / 60.0)
                .fold(0.0_f64, f64::max);
            Some(minutes.floor())
        };
        evaluate_each_unit(&alerts, &catalog, &current, &mut conditions, now, minutes_silent).await;
        tokio::select! {
            changed = silent.changed() => if changed.is_err() { return },
            changed = rules.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(RECHECK_EVERY) => {}
        }
    }
}

/// Follows complaint spikes for every `complaints.spike` rule: every [`SPIKE_EVERY`] the
/// complaints of the last hour and of the same hour on the previous weeks are counted per unit
/// (one query), summed up the tree, and each rule's units get their multiple.
async fn follow_spikes(
    alerts: Alerts,
    catalog: Catalog,
    mut rules: watch::Receiver<Vec<Arc<Rule>>>,
    clock: Clock,
) {
    let mut conditions: HashMap<String, Conditions> = HashMap::new();
    loop {
        let current = rules.borrow_and_update().clone();
        let now = clock.now();
        match crate::store::spikes::complaints_by_hour(&alerts.pool, now).await {
            Ok(own) => {
                let within = subtree_counts(&catalog, own);
                let multiple = |rule: &Rule, unit: &str| {
                    let counts = within.get(unit).copied().unwrap_or_default();
                    spike_multiple(counts[0], &counts[1..], rule.spec.min_sample)
                };
                evaluate_each_unit(&alerts, &catalog, &current, &mut conditions, now, multiple)
                    .await;
            }
            Err(error) => tracing::warn!(%error, "complaints not counted for spikes; retrying"),
        }
        tokio::select! {
            changed = rules.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(SPIKE_EVERY) => {}
        }
    }
}

/// Evaluates rules whose value one task computes for every unit (silence, spikes): each rule
/// for each unit it covers, with `value_of(rule, unit)`; then forgets the conditions of rules
/// no longer given.
async fn evaluate_each_unit(
    alerts: &Alerts,
    catalog: &Catalog,
    rules: &[Arc<Rule>],
    conditions: &mut HashMap<String, Conditions>,
    now: DateTime<Utc>,
    value_of: impl Fn(&Rule, &str) -> Option<f64>,
) {
    for rule in rules {
        for unit in units_of(rule, catalog) {
            let values = std::iter::once((rule.clone(), value_of(rule, &unit)));
            let unit_conditions = conditions.entry(unit.clone()).or_default();
            evaluate(alerts, &unit, values, unit_conditions, now).await;
        }
    }
    for unit_conditions in conditions.values_mut() {
        forget_other_rules(unit_conditions, rules);
    }
}

/// Each unit's own counts added to it and every unit above it.
fn subtree_counts(
    catalog: &Catalog,
    own: HashMap<String, HourCounts>,
) -> HashMap<String, HourCounts> {
    let mut within: HashMap<String, HourCounts> = HashMap::new();
    for (unit, counts) in own {
        for above in catalog.self_and_ancestors(&unit) {
            let total = within.entry(above.code.clone()).or_default();
            for (sum, count) in total.iter_mut().zip(counts) {
                *sum += count;
            }
        }
    }
    within
}

/// Evaluates rules for one unit with their values and fires, updates or resolves alerts.
/// Returns whether a condition is waiting for its `for_seconds` (check again soon).
async fn evaluate(
    alerts: &Alerts,
    unit: &str,
    values: impl Iterator<Item = (Arc<Rule>, Option<f64>)>,
    conditions: &mut Conditions,
    now: DateTime<Utc>,
) -> bool {
    let mut waiting = false;
    for (rule, value) in values {
        let spec = &rule.spec;
        let condition = conditions.entry((rule.id, rule.updated_at.clone())).or_default();
        let holding = value.filter(|v| spec.op.holds(*v, spec.threshold));
        let hold_for = chrono::Duration::seconds(i64::from(spec.for_seconds));
        let outcome: Result<(), AlertError> = async {
            match holding {
                Some(value) => {
                    condition.clear_since = None;
                    let since = *condition.holds_since.get_or_insert(now);
                    if now - since < hold_for {
                        waiting = true;
                        return Ok(());
                    }
                    if condition.open != Some(true) {
                        alerts.fire(&rule, unit, value).await?;
                        condition.open = Some(true);
                        condition.written = Some((value, tokio::time::Instant::now()));
                    } else if condition.written.is_none_or(|(written, at)| {
                        written != value && at.elapsed() >= VALUE_WRITE_EVERY
                    }) {
                        alerts.update_value(rule.id, unit, value).await?;
                        condition.written = Some((value, tokio::time::Instant::now()));
                    } else if condition.written.is_some_and(|(written, _)| written != value) {
                        // Written again when VALUE_WRITE_EVERY has passed.
                        waiting = true;
                    }
                }
                None => {
                    condition.holds_since = None;
                    let since = *condition.clear_since.get_or_insert(now);
                    if now - since < hold_for {
                        waiting = true;
                        return Ok(());
                    }
                    if condition.open != Some(false) {
                        alerts.resolve(&rule, unit, "the condition no longer holds").await?;
                        condition.open = Some(false);
                        condition.written = None;
                    }
                }
            }
            Ok(())
        }
        .await;
        if let Err(error) = outcome {
            // Retried on the next publication or check (the in-memory state did not move).
            tracing::warn!(%error, rule = rule.id, unit, "alert not updated");
            waiting = true;
        }
    }
    waiting
}

/// Forgets the conditions of rules no longer evaluated (deleted, or changed: a changed rule's
/// key differs).
fn forget_other_rules(conditions: &mut Conditions, rules: &[Arc<Rule>]) {
    conditions.retain(|(id, updated_at), _| {
        rules.iter().any(|rule| rule.id == *id && rule.updated_at == *updated_at)
    });
}
