//! The state every request handler, background task and front door shares.

use crate::accounts::manage::Management;
use crate::accounts::revoke::Revoker;
use crate::accounts::Accounts;
use crate::aggregate::Keys;
use crate::apply::status::FeedMonitor;
use crate::apply::Applier;
use crate::catalog::Catalog;
use crate::ingest::sources::SourceWatch;
use crate::ingest::Ingestor;
use crate::live::Hub;
use crate::settings::Settings;
use crate::store::Store;
use ioc_shared::time::Clock;
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// The one source of "now" for every figure, deadline, cut-off and heartbeat (tests set it).
    pub clock: Clock,
    pub catalog: Catalog,
    /// PostgreSQL, the truth.
    pub store: Store,
    /// Multiplexed Redis connection for reads and the applier's writes, to wherever the master
    /// is (Sentinels followed); the pub/sub listener opens its own socket through it.
    pub redis: crate::redis_link::RedisLink,
    pub keys: Keys,
    /// One computation per subscribed scope, fanned out to every subscriber.
    pub hub: Hub,
    /// Outbox → Redis; woken by ingest after each batch commits.
    pub applier: Applier,
    /// How current the figures are (lag, rebuilds), measured apart from the applier.
    pub feed: FeedMonitor,
    /// Checks and stores event batches; the HTTP endpoint and the demo feed both use it.
    pub ingestor: Ingestor,
    /// Which source systems went silent, for every screen they feed.
    pub sources: SourceWatch,
    /// Alert rules and alerts; the evaluation runs as a background task on every replica.
    pub alerts: crate::alerts::Alerts,
    /// Explanation requests; overdue ones are notified by a background task on every replica.
    pub explanations: crate::explanations::Explanations,
    /// Sends queued notifications (email, webhooks); a background task on every replica.
    pub deliverer: crate::notify::deliver::Deliverer,
    pub accounts: Accounts,
    /// Creating, disabling, resetting and revoking, with their audit entries; the admin API
    /// and the CLI both call it.
    pub manage: Management,
    /// The province's OpenID provider, when single sign-on is configured.
    pub oidc: Option<crate::accounts::oidc::Oidc>,
    /// Revocation notices from Redis (`session:…`, `user:…`, `display:…`), for live connections.
    pub revocations: broadcast::Sender<String>,
    /// The credentials of this replica's live connections, rechecked together.
    pub live_credentials: crate::live::credentials::LiveCredentials,
    /// The shards that write to this replica's live connections.
    pub live_writers: crate::live::writer::Writers,
    /// The public disclosure board, computed once for every anonymous reader and the open data.
    pub public: crate::live::public::PublicFeed,
    /// Open-data daily CSVs of the last minute.
    pub open_data: crate::live::public::DailyCache,
    /// Turns true once when the server starts shutting down: live connections close with 1012.
    pub shutdown: watch::Sender<bool>,
    /// The report signing key, read (or created) from `IOC_REPORT_KEY_FILE` at first use.
    report_key: Arc<std::sync::Mutex<Option<crate::reports::sign::ReportKey>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Redis(#[from] crate::redis_link::LinkError),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    /// A setting that cannot be used as given.
    #[error("{0}")]
    Setting(String),
}

impl AppState {
    /// What every live connection of this replica shares (one definition, for the HTTP
    /// upgrade and anything else that opens a live connection).
    pub fn live_context(&self) -> crate::live::context::SocketContext {
        crate::live::context::SocketContext {
            hub: self.hub.clone(),
            catalog: self.catalog.clone(),
            accounts: self.accounts.clone(),
            session_idle: self.settings.session_idle,
            revocations: self.revocations.clone(),
            credentials: self.live_credentials.clone(),
            shutdown: self.shutdown.subscribe(),
            feed: self.feed.clone(),
            sources: self.sources.clone(),
        }
    }

    /// Builds the state. Connections are lazy: the server starts, and says 503, while
    /// PostgreSQL or Redis are down.
    pub fn new(settings: Settings, catalog: Catalog) -> Result<AppState, StartError> {
        let mut store = Store::connect_lazy(&settings.database_url, settings.database_timeout)?;
        if let Some(url) = &settings.database_read_url {
            store.reads = Store::connect_lazy(url, settings.database_timeout)?.pool;
        }
        AppState::with_store(settings, catalog, store)
    }

    /// Builds the state around an existing PostgreSQL pool (tests get theirs from `#[sqlx::test]`).
    pub fn with_store(
        settings: Settings,
        catalog: Catalog,
        store: Store,
    ) -> Result<AppState, StartError> {
        AppState::with_clock(settings, catalog, store, Clock::system())
    }

    /// Builds the state around an existing pool and a given clock.
    pub fn with_clock(
        settings: Settings,
        catalog: Catalog,
        store: Store,
        clock: Clock,
    ) -> Result<AppState, StartError> {
        let redis = crate::redis_link::RedisLink::open(&settings.redis_url)?;
        let keys = Keys::new(settings.redis_prefix.clone());
        let hub =
            Hub::new(redis.clone(), keys.clone(), catalog.clone(), store.clone(), clock.clone());
        let applier = Applier::new(
            store.clone(),
            redis.clone(),
            keys.clone(),
            catalog.clone(),
            clock.clone(),
        );
        let ingestor =
            Ingestor::new(catalog.clone(), store.clone(), applier.wake.clone(), clock.clone());
        let accounts = Accounts::new(store.pool.clone(), clock.clone());
        let revoker = Revoker::new(redis.clone(), &keys);
        let manage = Management::new(accounts.clone(), catalog.clone(), revoker);
        let deliverer = crate::notify::deliver::Deliverer {
            pool: store.pool.clone(),
            clock: clock.clone(),
            smtp: settings
                .smtp_url
                .as_deref()
                .map(crate::notify::deliver::smtp_transport)
                .transpose()
                .map_err(StartError::Setting)?,
            from: settings.mail_from.parse().map_err(|e| {
                StartError::Setting(format!("IOC_MAIL_FROM `{}`: {e}", settings.mail_from))
            })?,
            http: reqwest::Client::new(),
            wake: Arc::new(tokio::sync::Notify::new()),
        };
        let notices = crate::notify::Notices {
            email: deliverer.smtp.is_some(),
            wake: deliverer.wake.clone(),
        };
        let alerts = crate::alerts::Alerts::new(
            store.pool.clone(),
            clock.clone(),
            catalog.clone(),
            accounts.clone(),
            redis.clone(),
            keys.clone(),
            notices.clone(),
        );
        let explanations = crate::explanations::Explanations::new(
            store.clone(),
            clock.clone(),
            catalog.clone(),
            accounts.clone(),
            redis.clone(),
            keys.clone(),
            notices,
        );
        let oidc = match &settings.oidc {
            Some(oidc) => {
                let config = crate::accounts::oidc::OidcConfig::from_settings(oidc)
                    .map_err(StartError::Setting)?;
                Some(
                    crate::accounts::oidc::Oidc::new(config, redis.clone(), keys.clone())
                        .map_err(StartError::Setting)?,
                )
            }
            None => None,
        };
        let (revocations, _) = broadcast::channel(256);
        let (shutdown, _) = watch::channel(false);
        Ok(AppState {
            settings: Arc::new(settings),
            clock,
            catalog,
            store,
            redis,
            keys,
            hub,
            applier,
            feed: FeedMonitor::default(),
            ingestor,
            sources: SourceWatch::default(),
            alerts,
            explanations,
            deliverer,
            accounts,
            manage,
            oidc,
            revocations,
            live_credentials: Default::default(),
            live_writers: Default::default(),
            public: Default::default(),
            open_data: Default::default(),
            shutdown,
            report_key: Default::default(),
        })
    }

    /// The task that runs report schedules.
    pub fn report_scheduler(&self) -> crate::reports::schedules::Scheduler {
        let state = self.clone();
        crate::reports::schedules::Scheduler {
            store: self.store.clone(),
            catalog: self.catalog.clone(),
            clock: self.clock.clone(),
            key: Arc::new(move || state.report_key()),
            font: self.settings.report_font.clone(),
            notices: crate::notify::Notices {
                email: self.deliverer.smtp.is_some(),
                wake: self.deliverer.wake.clone(),
            },
        }
    }

    /// The report signing key, loaded from its file (or created there) the first time.
    pub fn report_key(
        &self,
    ) -> Result<crate::reports::sign::ReportKey, crate::reports::sign::SignError> {
        let mut key = self.report_key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(key) = key.as_ref() {
            return Ok(key.clone());
        }
        let loaded =
            crate::reports::sign::ReportKey::load_or_create(&self.settings.report_key_file)?;
        *key = Some(loaded.clone());
        Ok(loaded)
    }
}
