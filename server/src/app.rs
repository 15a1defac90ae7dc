//! The HTTP surface: application state, the router, and start-up.

use crate::accounts::Accounts;
use crate::aggregate::Keys;
use crate::applier::Applier;
use crate::catalog::{Catalog, Unit};
use crate::error::ApiError;
use crate::live::{self, Hub};
use crate::store::Store;
use crate::auth::{self, Caller};
use crate::{admin, ingest, summary};
use axum::extract::FromRequestParts;
use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ioc_shared::live::MAX_CLIENT_MESSAGE_BYTES;
use ioc_shared::summary::{Summary, UnitBrief, UnitInfo, Window};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tower_http::services::{ServeDir, ServeFile};

/// The OpenAPI description of the public interface, served at `/api/v1/openapi.yaml`.
const OPENAPI_YAML: &str = include_str!("../../docs/openapi.yaml");
/// Read buffer of each WebSocket: clients send only small subscribe messages, and the default
/// 128 KiB buffer would cost ~90 KB per idle connection.
const WS_READ_BUFFER_BYTES: usize = 1024;
/// Write buffer of each WebSocket: one snapshot is a few KiB.
const WS_WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// Everything the server needs to run, from flags and environment ([`crate::config`]) or built
/// directly by tests.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub redis_url: String,
    /// Prefix of every Redis key and channel, so deployments and tests can share a Redis.
    pub redis_prefix: String,
    /// Bearer token for ingest; ingest answers 401 to everyone when unset.
    pub ingest_token: Option<String>,
    /// Where the built dashboard (`index.html`, wasm, styles) is served from.
    pub web_dir: PathBuf,
    /// How long a request waits for a PostgreSQL connection before answering 503.
    pub database_timeout: Duration,
    /// A session ends after this long without activity.
    pub session_idle: Duration,
    /// Mark cookies `Secure` (also done per request behind a proxy saying `X-Forwarded-Proto: https`).
    pub secure_cookies: bool,
    /// Origins (`https://ioc.example.vn`) allowed to open the WebSocket besides the server's own.
    pub allowed_origins: Vec<String>,
}

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub catalog: Catalog,
    pub store: Store,
    /// Multiplexed Redis connection for reads and the applier's writes.
    pub redis: redis::aio::ConnectionManager,
    /// Used to open the pub/sub connection, which needs its own socket.
    pub redis_client: redis::Client,
    pub keys: Keys,
    pub hub: Hub,
    pub applier: Applier,
    pub accounts: Accounts,
    /// Revocation notices from Redis (`session:…`, `user:…`, `display:…`), for live connections.
    pub revocations: broadcast::Sender<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
}

impl AppState {
    /// Builds the state. Connections are lazy: the server starts, and says 503, while
    /// PostgreSQL or Redis are down.
    pub fn new(settings: Settings, catalog: Catalog) -> Result<AppState, StartError> {
        let store = Store::connect_lazy(&settings.database_url, settings.database_timeout)?;
        AppState::with_store(settings, catalog, store)
    }

    /// Builds the state around an existing PostgreSQL pool (tests get theirs from `#[sqlx::test]`).
    pub fn with_store(settings: Settings, catalog: Catalog, store: Store) -> Result<AppState, StartError> {
        let redis_client = redis::Client::open(settings.redis_url.as_str())?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2);
        let redis = redis::aio::ConnectionManager::new_lazy_with_config(redis_client.clone(), config)?;
        let keys = Keys::new(settings.redis_prefix.clone());
        let hub = Hub::new(redis.clone(), keys.clone(), catalog.clone());
        let applier = Applier::new(store.clone(), redis.clone(), keys.clone(), catalog.clone());
        let accounts = Accounts::new(store.pool.clone());
        let (revocations, _) = broadcast::channel(256);
        Ok(AppState { settings: Arc::new(settings), catalog, store, redis, redis_client, keys, hub, applier, accounts, revocations })
    }
}

/// The whole HTTP surface, so tests can drive it directly.
pub fn app(state: AppState) -> Router {
    let web_dir = state.settings.web_dir.clone();
    let dashboard = ServeDir::new(&web_dir).fallback(ServeFile::new(web_dir.join("index.html")));
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/login", post(auth::login))
        .route("/api/v1/logout", post(auth::logout))
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/displays/pair", post(auth::pair))
        .merge(admin::routes())
        .route("/api/v1/events", post(ingest::post_events))
        .route("/api/v1/units", get(list_roots))
        .route("/api/v1/units/{code}", get(unit_info))
        .route("/api/v1/units/{code}/summary", get(unit_summary))
        .route("/api/v1/live", get(live_socket))
        .route("/api/v1/openapi.yaml", get(openapi))
        .fallback_service(dashboard)
        .with_state(state)
        .layer(axum::middleware::map_response(no_store_for_api))
}

/// Figures and account data must not sit in shared caches.
async fn no_store_for_api(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json")) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A server running in the background: what `ioc serve` runs, and what tests start.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningServer {
    /// Stops serving and every background task of this server.
    pub fn stop(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    /// Waits until the HTTP server ends (it ends only when stopped or on a fatal error).
    pub async fn wait(mut self) {
        if let Some(server) = self.tasks.pop() {
            let _ = server.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs migrations, brings Redis up to date, and serves on `listener` with the applier and the
/// change listener in the background.
pub async fn start(state: AppState, listener: TcpListener) -> Result<RunningServer, StartError> {
    state.store.migrate().await?;
    let mut applier = state.applier.clone();
    if let Err(error) = applier.apply_pending().await {
        // Redis may be down; the background applier keeps trying.
        tracing::warn!(%error, "aggregates not brought up to date at start");
    }
    let addr = listener.local_addr()?;
    let tasks = vec![
        tokio::spawn(state.applier.clone().run()),
        tokio::spawn(live::listen_to_redis(
            state.redis_client.clone(),
            state.keys.clone(),
            state.hub.clone(),
            state.revocations.clone(),
        )),
        tokio::spawn(prune_sessions(state.clone())),
        tokio::spawn({
            let router = app(state.clone());
            async move {
                let service = router.into_make_service_with_connect_info::<SocketAddr>();
                if let Err(error) = axum::serve(listener, service).await {
                    tracing::error!(%error, "HTTP server stopped");
                }
            }
        }),
    ];
    Ok(RunningServer { addr, state, tasks })
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

#[derive(Serialize)]
struct Health {
    postgres: &'static str,
    redis: &'static str,
}

async fn health(State(state): State<AppState>) -> Response {
    let postgres = state.store.ping().await.is_ok();
    let mut redis = state.redis.clone();
    let redis_ok = redis::cmd("PING").query_async::<String>(&mut redis).await.is_ok();
    let body = Health { postgres: if postgres { "ok" } else { "down" }, redis: if redis_ok { "ok" } else { "down" } };
    let status = if postgres && redis_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

fn brief(unit: &Unit) -> UnitBrief {
    UnitBrief { code: unit.code.clone(), name: unit.name.clone(), kind: unit.kind.clone() }
}

/// The roots the caller may see: the catalog's roots, or the caller's own scope.
async fn list_roots(State(state): State<AppState>, caller: Caller) -> Json<Vec<UnitBrief>> {
    let roots: Vec<UnitBrief> = match caller.principal.scope() {
        None => state.catalog.roots().iter().filter_map(|c| state.catalog.get(c)).map(brief).collect(),
        Some(scope) => state.catalog.get(scope).map(brief).into_iter().collect(),
    };
    Json(roots)
}

/// A unit, its path from the top of the caller's scope, and its children.
async fn unit_info(State(state): State<AppState>, caller: Caller, Path(code): Path<String>) -> Result<Json<UnitInfo>, ApiError> {
    let unit = auth::authorize_unit(&state, &caller, &code).await?;
    let mut path: Vec<UnitBrief> = state
        .catalog
        .self_and_ancestors(&code)
        .into_iter()
        .filter(|u| caller.principal.can_see(&state.catalog, &u.code))
        .map(brief)
        .collect();
    path.reverse();
    let children = state.catalog.children(&code).iter().filter_map(|c| state.catalog.get(c)).map(brief).collect();
    Ok(Json(UnitInfo { code: unit.code.clone(), name: unit.name.clone(), kind: unit.kind.clone(), path, children }))
}

#[derive(Debug, Deserialize)]
struct SummaryQuery {
    window: Option<String>,
}

async fn unit_summary(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(query): Query<SummaryQuery>,
) -> Result<Json<Summary>, ApiError> {
    let unit = auth::authorize_unit(&state, &caller, &code).await?;
    let window = match query.window.as_deref() {
        None => Window::Today,
        Some(text) => Window::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!("unknown window `{text}`; expected one of today, 24h, 7d, 30d"))
        })?,
    };
    let mut redis = state.redis.clone();
    let computed = summary::compute(&mut redis, &state.keys, &state.catalog, unit, window, chrono::Utc::now()).await?;
    Ok(Json(computed.summary))
}

/// Query parameters that look like credentials: refused outright, so nobody builds a client
/// that leaks a session into URLs, logs and browser history.
const CREDENTIAL_PARAMETERS: [&str; 7] = ["token", "session", "credential", "key", "access_token", "auth", "password"];

/// `GET /api/v1/live`: checks the URL, the `Origin` and the caller before upgrading.
async fn live_socket(State(state): State<AppState>, request: axum::extract::Request) -> Result<Response, ApiError> {
    let (mut parts, _) = request.into_parts();
    if let Some(query) = parts.uri.query() {
        let named = query.split('&').filter_map(|pair| pair.split('=').next()).any(|name| {
            CREDENTIAL_PARAMETERS.contains(&name.to_ascii_lowercase().as_str())
        });
        if named {
            return Err(ApiError::BadRequest(
                "credentials are never accepted in the URL; the session or display cookie is used".into(),
            ));
        }
    }
    if !origin_allowed(&state, &parts.headers) {
        return Err(ApiError::Forbidden("this Origin may not open the live connection".into()));
    }
    let caller = Caller::from_request_parts(&mut parts, &state).await?;
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &state)
        .await
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    Ok(upgrade
        .read_buffer_size(WS_READ_BUFFER_BYTES)
        .write_buffer_size(WS_WRITE_BUFFER_BYTES)
        .max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .max_frame_size(MAX_CLIENT_MESSAGE_BYTES)
        .on_upgrade(move |socket| live::serve_socket(socket, state, caller)))
}

/// A browser always says where the page that opens a WebSocket came from. Only the server's
/// own origin and the configured ones may connect (no cross-site WebSocket hijacking). Clients
/// that send no `Origin` are not browsers, and cannot be made to carry someone's cookie.
fn origin_allowed(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let origin = origin.trim_end_matches('/');
    if state.settings.allowed_origins.iter().any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

async fn openapi(_caller: Caller) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/yaml"))], OPENAPI_YAML).into_response()
}
