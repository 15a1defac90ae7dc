//! Operational metrics in the Prometheus text format (`GET /metrics`), for a city's
//! Prometheus/Grafana. One registry per process; every layer counts into [`METRICS`].
//!
//! Label values that come from clients (sources, rejection reasons) are capped: past
//! [`MAX_LABEL_VALUES`] distinct values of a label, new ones count as `(other)`, so nobody can
//! grow the metrics without bound.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};

/// Distinct values one client-supplied label may take.
pub const MAX_LABEL_VALUES: usize = 100;

/// Every metric of the server.
pub struct Metrics {
    registry: Registry,
    /// Events ingested, by source, result (`accepted`, `duplicate`, `rejected`) and reason.
    pub events: IntCounterVec,
    pub ingest_seconds: Histogram,
    pub applier_lag_seconds: prometheus::Gauge,
    /// Acknowledged outbox rows not yet applied.
    pub outbox_depth: IntGauge,
    pub quarantined: IntCounterVec,
    pub rebuilds: IntCounter,
    pub reconciliation_differences: IntCounter,
    pub live_connections: IntGauge,
    pub live_scopes: IntGauge,
    pub snapshots_sent: IntCounter,
    /// Whole snapshots written to sockets (first messages, skipped versions, snapshot-only clients).
    pub snapshots_delivered: IntCounter,
    /// Deltas written to sockets.
    pub deltas_delivered: IntCounter,
    pub summary_seconds: Histogram,
    pub http_requests: IntCounterVec,
    pub http_seconds: HistogramVec,
    /// Calls that failed because PostgreSQL or Redis did not answer (`postgres`, `redis`).
    pub storage_errors: IntCounterVec,
    /// Failed logins, pairing codes and ingest keys, and refusals, by door and outcome.
    pub access_failures: IntCounterVec,
    /// Source systems currently flagged silent.
    pub silent_sources: IntGauge,
    seen: Mutex<std::collections::HashMap<&'static str, HashSet<String>>>,
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry.register(Box::new(metric.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    metric
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let metric = IntCounter::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry.register(Box::new(metric.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    metric
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let metric = IntGauge::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry.register(Box::new(metric.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    metric
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let metric = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry.register(Box::new(metric.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    metric
}

impl Metrics {
    // The definitions are constants: a failure here is a programming error found by the first
    // test, never a run-time condition.
    fn new() -> Metrics {
        let registry = Registry::new_custom(Some("ioc".into()), None)
            .unwrap_or_else(|e| panic!("registry: {e}"));
        let lag = prometheus::Gauge::new(
            "applier_lag_seconds",
            "Seconds since the oldest acknowledged change not yet in the live figures (0: none)",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        registry.register(Box::new(lag.clone())).unwrap_or_else(|e| panic!("{e}"));
        let http_seconds = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request duration by route")
                .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]),
            &["route"],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        registry.register(Box::new(http_seconds.clone())).unwrap_or_else(|e| panic!("{e}"));
        Metrics {
            events: counter_vec(
                &registry,
                "events_ingested_total",
                "Events received, by source, result and rejection reason",
                &["source", "result", "reason"],
            ),
            ingest_seconds: histogram(
                &registry,
                "ingest_request_duration_seconds",
                "Duration of POST /api/v1/events",
                vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
            ),
            applier_lag_seconds: lag,
            outbox_depth: gauge(
                &registry,
                "outbox_depth",
                "Acknowledged outbox rows not yet applied to the live figures",
            ),
            quarantined: counter_vec(
                &registry,
                "quarantined_rows_total",
                "Rows set aside because they could not be read",
                &["kind"],
            ),
            rebuilds: counter(
                &registry,
                "rebuilds_total",
                "Rebuilds of the live figures from PostgreSQL",
            ),
            reconciliation_differences: counter(
                &registry,
                "reconciliation_differences_total",
                "Figures found differing between Redis and PostgreSQL",
            ),
            live_connections: gauge(
                &registry,
                "live_connections",
                "Open WebSocket connections on this replica",
            ),
            live_scopes: gauge(
                &registry,
                "live_scopes",
                "Scopes (unit, window) being computed on this replica",
            ),
            snapshots_sent: counter(
                &registry,
                "snapshots_computed_total",
                "Snapshots computed and published to a scope's subscribers",
            ),
            snapshots_delivered: counter(
                &registry,
                "live_snapshots_sent_total",
                "Whole snapshots written to WebSocket subscribers",
            ),
            deltas_delivered: counter(
                &registry,
                "live_deltas_sent_total",
                "Deltas written to WebSocket subscribers",
            ),
            summary_seconds: histogram(
                &registry,
                "summary_compute_duration_seconds",
                "Duration of one summary computation",
                vec![0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
            ),
            http_requests: counter_vec(
                &registry,
                "http_requests_total",
                "HTTP requests by route, method and status",
                &["route", "method", "status"],
            ),
            http_seconds,
            storage_errors: counter_vec(
                &registry,
                "storage_errors_total",
                "Calls that failed because storage did not answer",
                &["store"],
            ),
            access_failures: counter_vec(
                &registry,
                "access_failures_total",
                "Failed or refused logins, pairing codes and ingest keys",
                &["door", "outcome"],
            ),
            silent_sources: gauge(
                &registry,
                "silent_sources",
                "Source systems flagged silent past their expected interval",
            ),
            seen: Mutex::new(std::collections::HashMap::new()),
            registry,
        }
    }

    /// `value`, or `(other)` once the label has [`MAX_LABEL_VALUES`] distinct values.
    pub fn capped(&self, label: &'static str, value: &str) -> String {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let values = seen.entry(label).or_default();
        if values.contains(value) || values.len() < MAX_LABEL_VALUES {
            values.insert(value.to_owned());
            value.to_owned()
        } else {
            "(other)".to_owned()
        }
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(%error, "metrics not encoded");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
