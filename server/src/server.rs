//! Running a server: migrations, supervised background tasks, the HTTP listener, and an
//! orderly shutdown.
//!
//! Background tasks (the applier, the Redis change feed, session pruning) run under a
//! supervisor: when one ends or panics, that is logged and it is started again, so the process
//! never runs on with a dead applier. On shutdown the listener stops accepting, requests in
//! flight (ingest included) finish, live connections close with 1012 ("service restart") so
//! clients reconnect to another replica at once, and everything is stopped within
//! [`SHUTDOWN_GRACE`].

use crate::live::feed::listen_to_redis;
use crate::live::writer::Writers;
use crate::state::{AppState, StartError};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::{AbortHandle, JoinHandle};

/// Longest orderly shutdown; whatever is still running after it is stopped.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pause before a supervised task that ended is started again (a crash loop stays cheap).
const RESTART_AFTER: Duration = Duration::from_secs(1);

/// A background task that is restarted whenever it ends.
struct Supervised {
    /// The supervisor loop itself.
    supervisor: JoinHandle<()>,
    /// The running instance, so it can be stopped (and, for tests and operators, killed).
    current: Arc<Mutex<Option<AbortHandle>>>,
}

impl Supervised {
    fn start<F, Fut>(name: &'static str, make: F) -> Supervised
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let current: Arc<Mutex<Option<AbortHandle>>> = Arc::new(Mutex::new(None));
        let slot = current.clone();
        let supervisor = tokio::spawn(async move {
            loop {
                let task = tokio::spawn(make());
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(task.abort_handle());
                match task.await {
                    Ok(()) => tracing::error!(task = name, "background task ended; restarting it"),
                    Err(error) if error.is_panic() => {
                        tracing::error!(task = name, %error, "background task panicked; restarting it")
                    }
                    Err(_) => {
                        tracing::warn!(task = name, "background task was stopped; restarting it")
                    }
                }
                tokio::time::sleep(RESTART_AFTER).await;
            }
        });
        Supervised { supervisor, current }
    }

    /// Stops the running instance; the supervisor starts a new one.
    fn kill(&self) {
        if let Some(task) = self.current.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            task.abort();
        }
    }

    fn stop(&self) {
        self.supervisor.abort();
        self.kill();
    }
}

/// A server running in the background: what `ioc serve` runs, and what tests start.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    tasks: HashMap<&'static str, Supervised>,
    http: Option<JoinHandle<()>>,
    /// The separate `/metrics` listener (`IOC_METRICS_BIND`), if any.
    metrics: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// Stops serving and every background task of this server at once.
    pub fn stop(&self) {
        for task in self.tasks.values() {
            task.stop();
        }
        // Shards are stopped with the other tasks; their queues go too.
        self.state.live_writers.close();
        if let Some(http) = &self.http {
            http.abort();
        }
        if let Some(metrics) = &self.metrics {
            metrics.abort();
        }
    }

    /// Kills the running instance of a background task (`applier`, `change-feed`,
    /// `session-pruning`), as a crash would; its supervisor starts it again. False when no
    /// task has that name.
    pub fn kill_task(&self, name: &str) -> bool {
        match self.tasks.get(name) {
            Some(task) => {
                task.kill();
                true
            }
            None => false,
        }
    }

    /// Stops a background task for good (no restart), as if it hung: for testing what the
    /// rest of the system does without it. False when no task has that name.
    pub fn stop_task(&self, name: &str) -> bool {
        match self.tasks.get(name) {
            Some(task) => {
                task.stop();
                true
            }
            None => false,
        }
    }

    /// Names of the supervised background tasks.
    pub fn task_names(&self) -> Vec<&'static str> {
        self.tasks.keys().copied().collect()
    }

    /// Waits until the HTTP server ends (it ends only when stopped or on a fatal error).
    pub async fn wait(&mut self) {
        if let Some(http) = self.http.as_mut() {
            let _ = http.await;
            self.http = None;
        }
    }

    /// An orderly shutdown: stop accepting, let requests in flight finish, close live
    /// connections with 1012, then stop everything — all within [`SHUTDOWN_GRACE`].
    pub async fn shutdown(mut self) {
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        self.state.shutdown.send_replace(true);
        if let Some(http) = self.http.as_mut() {
            if tokio::time::timeout_at(deadline, http).await.is_err() {
                tracing::warn!("requests still in flight at the end of the shutdown grace period");
            }
        }
        // Live connections were told to close; give their close frames time to leave.
        while self.state.hub.open_connections() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.stop();
        tracing::info!("server stopped");
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A supervised task's body, made anew from the state at each (re)start.
type TaskBody = fn(AppState) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Every supervised background task but the live writer shards, by name (the name is the one
/// logged when it ends, and the one [`RunningServer`] stops or kills it by).
const TASKS: &[(&str, TaskBody)] = &[
    ("applier", |s| Box::pin(s.applier.clone().run())),
    ("feed-status", |s| {
        Box::pin(s.feed.clone().watch(
            s.store.clone(),
            s.redis.clone(),
            s.keys.clone(),
            s.clock.clone(),
        ))
    }),
    ("source-watch", |s| {
        Box::pin(s.sources.clone().watch(s.store.clone(), s.accounts.clone(), s.clock.clone()))
    }),
    ("reconciliation", |s| Box::pin(s.applier.clone().reconcile_periodically())),
    ("change-feed", |s| {
        Box::pin(listen_to_redis(
            s.redis.clone(),
            s.keys.clone(),
            s.hub.clone(),
            s.revocations.clone(),
        ))
    }),
    ("credential-recheck", |s| {
        Box::pin(s.live_credentials.clone().recheck_forever(
            s.accounts.clone(),
            s.settings.session_idle,
            s.revocations.clone(),
        ))
    }),
    ("public-board", |s| {
        Box::pin(s.public.clone().run(crate::live::public::Sources {
            redis: s.redis.clone(),
            keys: s.keys.clone(),
            store: s.store.clone(),
            catalog: s.catalog.clone(),
            accounts: s.accounts.clone(),
            changes: s.hub.any_change(),
            clock: s.clock.clone(),
        }))
    }),
    ("session-pruning", |s| Box::pin(prune_sessions(s))),
    ("item-views", |s| Box::pin(s.store.clone().backfill_views_forever())),
    ("retention", |s| Box::pin(apply_retention_daily(s))),
    ("alerts", |s| {
        Box::pin(
            crate::alerts::evaluate::Evaluator {
                alerts: s.alerts.clone(),
                hub: s.hub.clone(),
                catalog: s.catalog.clone(),
                sources: s.sources.clone(),
                clock: s.clock.clone(),
            }
            .run(),
        )
    }),
    ("explanations", |s| Box::pin(s.explanations.clone().run())),
    ("report-schedules", |s| Box::pin(s.report_scheduler().run())),
    ("deliveries", |s| Box::pin(s.deliverer.clone().run())),
];

/// Runs migrations, brings Redis up to date, and serves on `listener` with the supervised
/// background tasks.
pub async fn start(state: AppState, listener: TcpListener) -> Result<RunningServer, StartError> {
    state.store.migrate().await?;
    let mut applier = state.applier.clone();
    if let Err(error) = applier.apply_pending().await {
        // Redis may be down; the background applier keeps trying.
        tracing::warn!(%error, "aggregates not brought up to date at start");
    }
    let addr = listener.local_addr()?;
    if state.settings.alert_defaults {
        match state.alerts.install_defaults().await {
            Ok(0) => {}
            Ok(installed) => tracing::info!(installed, "default alert rules installed"),
            Err(error) => tracing::warn!(%error, "default alert rules not installed"),
        }
    }
    if let Some(oidc) = state.oidc.clone() {
        // Read at start so the first sign-in is quick; a provider down now is retried then.
        tokio::spawn(async move { oidc.warm_up().await });
    }
    let mut tasks = HashMap::new();
    for (name, body) in TASKS {
        let state = state.clone();
        tasks.insert(*name, Supervised::start(name, move || body(state.clone())));
    }
    // The live writer shards, one task each: a shard that panics is started again with a new
    // queue (its connections close; their clients reconnect).
    for (index, name) in crate::live::writer::SHARD_NAMES.iter().take(Writers::count()).enumerate()
    {
        tasks.insert(
            name,
            Supervised::start(name, {
                let state = state.clone();
                move || state.live_writers.shard(index, state.live_context())
            }),
        );
    }
    let http = tokio::spawn({
        let router = crate::http::app(state.clone());
        let mut stopping = state.shutdown.subscribe();
        async move {
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            let result = axum::serve(listener, service)
                .with_graceful_shutdown(async move {
                    let _ = stopping.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(error) = result {
                tracing::error!(%error, "HTTP server stopped");
            }
        }
    });
    let metrics = match state.settings.metrics_bind {
        None => None,
        Some(bind) => {
            let listener = TcpListener::bind(bind).await?;
            tracing::info!(addr = %bind, "metrics served without a token on this address");
            Some(tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, crate::http::ops::metrics_only()).await {
                    tracing::error!(%error, "metrics listener stopped");
                }
            }))
        }
    };
    Ok(RunningServer { addr, state, tasks, http: Some(http), metrics })
}

/// What one retention pass removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retained {
    /// Complaint texts purged (`IOC_PII_RETENTION_DAYS`).
    pub complaint_texts: u64,
    /// Audit entries deleted (`IOC_AUDIT_RETENTION_DAYS`).
    pub audit_entries: u64,
}

/// Why a retention pass did not finish.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("complaint texts: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("audit entries: {0}")]
    Accounts(#[from] crate::accounts::AccountError),
}

/// Purges complaint texts and audit entries past their retention, once.
pub async fn apply_retention(state: &AppState) -> Result<Retained, RetentionError> {
    let complaint_texts =
        state.store.purge_complaint_texts(state.settings.pii_retention, state.clock.now()).await?;
    let audit_entries = state.accounts.prune_audit(state.settings.audit_retention).await?;
    Ok(Retained { complaint_texts, audit_entries })
}

/// Runs [`apply_retention`] at start and then once a day.
async fn apply_retention_daily(state: AppState) {
    let mut every_day = tokio::time::interval(Duration::from_secs(24 * 3600));
    loop {
        every_day.tick().await;
        match apply_retention(&state).await {
            Ok(done) => tracing::info!(
                complaint_texts = done.complaint_texts,
                audit_entries = done.audit_entries,
                "retention applied"
            ),
            Err(error) => tracing::warn!(%error, "retention not applied; retrying tomorrow"),
        }
    }
}

/// Forgets expired sessions once an hour.
async fn prune_sessions(state: AppState) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        if let Err(error) = state.accounts.prune_sessions(state.settings.session_idle).await {
            tracing::debug!(%error, "sessions not pruned");
        }
    }
}
