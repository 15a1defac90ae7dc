//! Test harness for the end-to-end tests: real servers on real sockets, against the real
//! PostgreSQL (a fresh database per test, from `#[sqlx::test]`) and the real Redis (a fresh key
//! prefix per test, so tests run in parallel).
#![allow(clippy::unwrap_used)]

pub mod engines;
pub mod events;
pub mod fuzz;
pub mod oidc;
pub mod receivers;

use chrono::{DateTime, Utc};
use ioc_server::catalog::Catalog;
use ioc_server::store::Store;
use ioc_server::{AppState, RunningServer, Settings};
use ioc_shared::summary::Summary;
use serde_json::Value;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::path::PathBuf;
use std::time::Duration;

pub const TOKEN: &str = "test-ingest-token";

/// Redis URL of the test environment (set by the project's test script).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other test uses.
pub fn fresh_prefix() -> String {
    format!("test:{:016x}:", rand::random::<u64>())
}

/// Where the built dashboard is (the test script builds it into `dist/`).
pub fn web_dir() -> PathBuf {
    std::env::var_os("IOC_WEB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../dist")))
}

pub fn settings(prefix: &str) -> Settings {
    Settings {
        database_url: String::new(),
        database_read_url: None,
        redis_url: redis_url(),
        redis_prefix: prefix.to_owned(),
        ingest_token: Some(TOKEN.to_owned()),
        web_dir: web_dir(),
        database_timeout: Duration::from_secs(5),
        session_idle: Duration::from_secs(12 * 3600),
        secure_cookies: false,
        allowed_origins: Vec::new(),
        trusted_proxies: Vec::new(),
        pii_retention: ioc_server::settings::DAY * 90,
        audit_retention: ioc_server::settings::DAY * 730,
        metrics_token: None,
        metrics_bind: None,
        open311_public_descriptions: false,
        open311_triage_unit: None,
        // The shipped rules follow every unit of the catalog; tests that want them say so.
        alert_defaults: false,
        smtp_url: None,
        mail_from: ioc_server::settings::DEFAULT_MAIL_FROM.to_owned(),
        report_key_file: std::env::temp_dir().join(format!("ioc-report-key-{prefix}")),
        report_font: ioc_server::settings::DEFAULT_REPORT_FONT.to_owned(),
        oidc: None,
        password_login: true,
    }
}

/// A pool of a test server's own (8 connections) to the database of `pool`.
async fn own_pool(pool: &PgPool) -> PgPool {
    PgPoolOptions::new()
        .max_connections(8)
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap()
}

/// The admin every test server gets, and its password.
pub const ADMIN: (&str, &str) = ("test-admin", "test-admin-password");

/// One running server and an HTTP client for it, logged in as [`ADMIN`].
pub struct TestServer {
    pub server: RunningServer,
    pub base: String,
    /// Sends the admin's session cookie.
    pub http: reqwest::Client,
    pub prefix: String,
    /// `ioc_session=…` of the admin.
    pub cookie: String,
}

impl TestServer {
    /// A server on a fresh Redis prefix, with its own connection pool to `pool`'s database.
    pub async fn start(pool: &PgPool) -> TestServer {
        TestServer::start_with_prefix(pool, &fresh_prefix()).await
    }

    /// A server whose settings `configure` changes first.
    pub async fn start_configured(
        pool: &PgPool,
        configure: impl FnOnce(&mut Settings),
    ) -> TestServer {
        TestServer::start_with(pool, &fresh_prefix(), Catalog::load(None).unwrap(), configure).await
    }

    /// A server on Redis prefix `prefix` with its own unit catalog and settings.
    pub async fn start_with(
        pool: &PgPool,
        prefix: &str,
        catalog: Catalog,
        configure: impl FnOnce(&mut Settings),
    ) -> TestServer {
        let own_pool = own_pool(pool).await;
        let mut settings = settings(prefix);
        configure(&mut settings);
        let state = AppState::with_store(settings, catalog, Store::new(own_pool)).unwrap();
        TestServer::start_state(state).await
    }

    /// A server whose "now" comes from `clock` (for a test that needs a moment of its own,
    /// such as some hours into the month), on a fresh Redis prefix.
    pub async fn start_clocked(pool: &PgPool, clock: ioc_shared::time::Clock) -> TestServer {
        TestServer::start_clocked_configured(pool, clock, |_| {}).await
    }

    /// A server on `clock` whose settings `configure` changes first.
    pub async fn start_clocked_configured(
        pool: &PgPool,
        clock: ioc_shared::time::Clock,
        configure: impl FnOnce(&mut Settings),
    ) -> TestServer {
        let own_pool = own_pool(pool).await;
        let mut settings = settings(&fresh_prefix());
        configure(&mut settings);
        let state = AppState::with_clock(
            settings,
            Catalog::load(None).unwrap(),
            Store::new(own_pool),
            clock,
        )
        .unwrap();
        TestServer::start_state(state).await
    }

    /// The server's "now", truncated to whole seconds (events carry seconds). Tests compute
    /// every expected figure from it, so they hold at any moment.
    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.server.state.clock.now().timestamp(), 0).unwrap()
    }

    /// The server's local date.
    pub fn today(&self) -> chrono::NaiveDate {
        ioc_shared::time::local_today(self.now())
    }

    /// A server sharing the database of `pool` and the Redis prefix `prefix` — as a second
    /// replica of a deployment would. It gets its own pool, Redis connections and hub.
    pub async fn start_with_prefix(pool: &PgPool, prefix: &str) -> TestServer {
        let own_pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with((*pool.connect_options()).clone())
            .await
            .unwrap();
        let state = AppState::with_store(
            settings(prefix),
            Catalog::load(None).unwrap(),
            Store::new(own_pool),
        )
        .unwrap();
        TestServer::start_state(state).await
    }

    pub async fn start_state(state: AppState) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        TestServer::start_state_on(state, listener).await
    }

    /// A server signing people in through a real OpenID provider (started here, with
    /// `accounts`), whose settings `configure` changes first. The provider must know the
    /// server's callback before the server knows the provider: the port is taken first.
    pub async fn start_with_provider(
        pool: &PgPool,
        accounts: &Value,
        configure: impl FnOnce(&mut Settings),
    ) -> (TestServer, oidc::OidcProvider) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let redirect = format!(
            "http://{}{}",
            listener.local_addr().unwrap(),
            ioc_server::accounts::oidc::CALLBACK_PATH
        );
        let provider = oidc::OidcProvider::start(&redirect, accounts);
        let own_pool = own_pool(pool).await;
        let mut settings = settings(&fresh_prefix());
        settings.oidc = Some(provider.settings(&redirect));
        configure(&mut settings);
        let state =
            AppState::with_store(settings, Catalog::load(None).unwrap(), Store::new(own_pool))
                .unwrap();
        (TestServer::start_state_on(state, listener).await, provider)
    }

    /// A server on `listener`, its admin logged in (marked break-glass when password sign-in
    /// is off, as a deployment's would be).
    pub async fn start_state_on(state: AppState, listener: tokio::net::TcpListener) -> TestServer {
        let prefix = state.settings.redis_prefix.clone();
        let server = ioc_server::start(state, listener).await.unwrap();
        let base = format!("http://{}", server.addr);
        ensure_user(&server.state, ADMIN.0, ADMIN.1, ioc_shared::access::Role::Admin, None).await;
        if !server.state.settings.password_login {
            sqlx::query("UPDATE users SET break_glass = true WHERE username = $1")
                .bind(ADMIN.0)
                .execute(&server.state.store.pool)
                .await
                .unwrap();
        }
        let cookie = login(&base, ADMIN.0, ADMIN.1).await.expect("the test admin logs in");
        TestServer { http: client_with_cookie(&base, &cookie), server, base, prefix, cookie }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/v1/live", self.server.addr)
    }

    /// A WebSocket client logged in as the admin.
    pub async fn live(&self) -> LiveClient {
        LiveClient::connect_as(&self.ws_url(), Some(&self.cookie), None).await.unwrap()
    }

    /// POSTs a JSON array with the test token; returns status and JSON body.
    pub async fn ingest(&self, events: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/events", self.base))
            .bearer_auth(TOKEN)
            .json(events)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates an ingest key through the admin API (`{"source", "unit"?, …}`); its secret.
    pub async fn create_key(&self, key: &Value) -> String {
        let created: Value = self
            .http
            .post(format!("{}/api/v1/admin/keys", self.base))
            .json(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        created["secret"].as_str().unwrap_or_else(|| panic!("no key created: {created}")).to_owned()
    }

    /// Makes `unit` public through the admin API, naming its late officers or not; the status
    /// and the answer.
    pub async fn make_public(&self, unit: &str, officers: bool) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/admin/public", self.base))
            .json(&serde_json::json!({"unit": unit, "officers": officers}))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    /// Ingests and insists every event was accepted.
    pub async fn ingest_ok(&self, events: &Value) {
        let (status, body) = self.ingest(events).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["rejected"], serde_json::json!([]), "{body}");
    }

    /// Applies every pending aggregate change now, instead of waiting for the background applier.
    /// When the server's own applier holds a rebuild (it saw Redis empty first), waits for it
    /// and applies again. Regression: a test that cleared Redis read the summary while the
    /// background applier was rebuilding, and got 503.
    pub async fn settle(&self) {
        loop {
            self.server.state.applier.clone().apply_pending().await.unwrap();
            let mut redis = self.server.state.redis.clone();
            let rebuilding: bool = redis::cmd("EXISTS")
                .arg(self.server.state.keys.rebuilding())
                .query_async(&mut redis)
                .await
                .unwrap();
            if !rebuilding {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn summary(&self, unit: &str, window: &str) -> Summary {
        self.settle().await;
        let response = self
            .http
            .get(format!("{}/api/v1/units/{unit}/summary?window={window}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sets `username`'s email address (as the admin).
    pub async fn set_email(&self, username: &str, email: &str) {
        let response = self
            .http
            .put(format!("{}/api/v1/admin/users/{username}", self.base))
            .json(&serde_json::json!({"email": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{username}");
    }

    /// Deletes this test's Redis keys.
    pub async fn cleanup(&self) {
        let mut redis = self.server.state.redis.clone();
        let _ = ioc_server::aggregate::clear(&mut redis, &self.server.state.keys).await;
    }
}

/// The `ioc` binary (`scripts/test.sh` builds it before the tests).
pub fn ioc_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let binary = target.join("debug/ioc");
    assert!(binary.exists(), "{} is missing: run scripts/test.sh (it builds it)", binary.display());
    binary
}

/// The URL of the test database behind `pool` (each `#[sqlx::test]` gets its own database).
pub fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").unwrap();
    let database = pool.connect_options().get_database().unwrap().to_owned();
    match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{database}"),
        None => base,
    }
}

/// Runs `ioc ARGS` against the test's database, feeding `stdin`; returns (success, stdout, stderr).
pub fn run_ioc(pool: &PgPool, prefix: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(ioc_binary())
        .args(args)
        .env("DATABASE_URL", database_url(pool))
        .env("IOC_REDIS_PREFIX", prefix)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A paired display of `unit`; returns its id and `ioc_display=…` cookie.
pub async fn paired_display(server: &TestServer, unit: &str) -> (i64, String) {
    use ioc_shared::access::WallView;
    let accounts = &server.server.state.accounts;
    let playlist = vec![WallView {
        unit: unit.into(),
        window: ioc_shared::summary::Window::Today,
        seconds: 10,
        view: Default::default(),
    }];
    let (display, code) =
        accounts.create_display("Màn hình phòng họp", unit, &playlist).await.unwrap();
    let response = browser(&server.base)
        .post(format!("{}/api/v1/displays/pair", server.base))
        .json(&serde_json::json!({"code": code.to_lowercase()}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    (display.id, session_cookie(&response, ioc_server::http::extract::DISPLAY_COOKIE).unwrap())
}

/// Creates a person unless they exist (servers may share a database).
pub async fn ensure_user(
    state: &AppState,
    username: &str,
    password: &str,
    role: ioc_shared::access::Role,
    unit: Option<&str>,
) {
    match state.accounts.add_user(username, password, role, unit).await {
        Ok(_) | Err(ioc_server::accounts::AccountError::Conflict(_)) => {}
        Err(error) => panic!("cannot create {username}: {error}"),
    }
}

/// POSTs `body` as JSON; the status and the JSON answer (`null` when there is none).
pub async fn post_json(client: &reqwest::Client, url: String, body: &Value) -> (u16, Value) {
    let response = client.post(url).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Logs in; returns the `ioc_session=…` cookie, or the status on failure.
pub async fn login(base: &str, username: &str, password: &str) -> Result<String, u16> {
    let response = browser(base)
        .post(format!("{base}/api/v1/login"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    if !response.status().is_success() {
        return Err(response.status().as_u16());
    }
    Ok(session_cookie(&response, ioc_server::http::extract::SESSION_COOKIE).unwrap())
}

/// The `name=value` part of a cookie the response sets.
pub fn session_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// An HTTP client that sends `cookie` with every request, as the dashboard served from `base`
/// does (its `Origin` is `base`).
pub fn client_with_cookie(base: &str, cookie: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers
        .insert(reqwest::header::COOKIE, reqwest::header::HeaderValue::from_str(cookie).unwrap());
    headers.insert(reqwest::header::ORIGIN, reqwest::header::HeaderValue::from_str(base).unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

/// An HTTP client without a cookie whose requests come from a page of `base` (`Origin: base`),
/// as a browser on the login or pairing page sends them.
pub fn browser(base: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, reqwest::header::HeaderValue::from_str(base).unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

/// A server in a runtime of its own on its own thread, so that stopping it drops every open
/// connection, as stopping a server process would.
pub struct ServerThread {
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// Starts a server on `addr` (or any free port) against the database of `pool`.
    pub fn spawn(pool: &PgPool, prefix: &str, addr: Option<std::net::SocketAddr>) -> ServerThread {
        let options = (*pool.connect_options()).clone();
        let prefix = prefix.to_owned();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let pool =
                    PgPoolOptions::new().max_connections(8).connect_with(options).await.unwrap();
                let state = AppState::with_store(
                    settings(&prefix),
                    Catalog::load(None).unwrap(),
                    Store::new(pool),
                )
                .unwrap();
                let bind = addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap());
                let mut listener = None;
                for _ in 0..100 {
                    match tokio::net::TcpListener::bind(bind).await {
                        Ok(l) => {
                            listener = Some(l);
                            break;
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
                let server =
                    ioc_server::start(state, listener.expect("port free again")).await.unwrap();
                ready_tx.send(server.addr).unwrap();
                let _ = stop_rx.await;
                server.stop();
            });
            // Dropping the runtime ends every task, closing every open connection.
            drop(runtime);
        });
        let addr = ready_rx.recv_timeout(Duration::from_secs(30)).expect("server thread started");
        ServerThread { addr, stop: Some(stop_tx), thread: Some(thread) }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits until its connections are gone.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Everything every test in this process logs, at debug level, from the first call on.
#[derive(Clone)]
pub struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once) a debug-level subscriber writing into memory, and returns its buffer.
pub fn capture_logs() -> CapturedLogs {
    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs(Default::default());
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "debug,hyper=info,h2=info,tungstenite=info,tokio_tungstenite=info",
            ))
            .with_writer(move || writer.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        logs
    })
    .clone()
}

/// The system clock's now, truncated to whole seconds (events carry seconds): for a server in
/// a thread or another process (which runs on the system clock) and for the moment a manual
/// clock starts at. A test of a [`TestServer`] computes from [`TestServer::now`].
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap()
}

/// Waits until `check` holds, polling; panics with `what` after `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A WebSocket client of `/api/v1/live`, as a dashboard would be: it keeps each scope's
/// figures from snapshots and deltas (with the same [`ioc_shared::live::ScopeFigures`] the dashboard uses).
pub struct LiveClient {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    /// The figures of each scope, as the messages read so far left them.
    pub figures: std::collections::HashMap<
        (String, ioc_shared::summary::Window),
        ioc_shared::live::ScopeFigures,
    >,
}

impl LiveClient {
    /// Connects with an optional cookie and `Origin`; the handshake's error when refused.
    pub async fn connect_as(
        url: &str,
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> Result<LiveClient, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url.into_client_request()?;
        if let Some(cookie) = cookie {
            request.headers_mut().insert("cookie", cookie.parse().unwrap());
        }
        if let Some(origin) = origin {
            request.headers_mut().insert("origin", origin.parse().unwrap());
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(LiveClient { socket, figures: Default::default() })
    }

    /// How the server closed the connection (code, reason), waiting up to `limit`.
    pub async fn closed_with(&mut self, limit: Duration) -> Option<(u16, String)> {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => return Some((1006, String::new())),
                Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame)))) => {
                    return Some(
                        frame
                            .map(|f| (u16::from(f.code), f.reason.to_string()))
                            .unwrap_or((1005, String::new())),
                    )
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        use futures_util::SinkExt;
        self.socket.send(tokio_tungstenite::tungstenite::Message::text(text)).await.unwrap();
    }

    pub async fn subscribe(&mut self, unit: &str, window: &str) {
        self.send_text(
            &serde_json::json!({"type": "subscribe", "unit": unit, "window": window}).to_string(),
        )
        .await;
    }

    /// The next text message, raw; `None` if nothing arrives within `limit` or the socket ends.
    pub async fn next_text(&mut self, limit: Duration) -> Option<String> {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let message =
                tokio::time::timeout_at(deadline, self.socket.next()).await.ok()??.ok()?;
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                return Some(text.to_string());
            }
        }
    }

    /// The next message that is not a heartbeat, as the server sent it; snapshots and deltas
    /// also update [`LiveClient::figures`] (a delta that does not apply panics: this client
    /// reads every message, so it never misses one).
    pub async fn next_raw_message(
        &mut self,
        limit: Duration,
    ) -> Option<ioc_shared::live::ServerMessage> {
        use ioc_shared::live::{ScopeFigures, ServerMessage};
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let text = self.next_text(left).await?;
            let message: ServerMessage = serde_json::from_str(&text).unwrap();
            match &message {
                ServerMessage::Heartbeat { .. } => continue,
                ServerMessage::Snapshot { unit, window, version, data } => {
                    self.figures.insert(
                        (unit.clone(), *window),
                        ScopeFigures::from_snapshot(*version, data).unwrap(),
                    );
                }
                ServerMessage::Delta { unit, window, base, version, changes } => {
                    let figures = self
                        .figures
                        .get_mut(&(unit.clone(), *window))
                        .expect("a delta before any snapshot");
                    figures.apply(*base, *version, changes).unwrap();
                }
                _ => {}
            }
            return Some(message);
        }
    }

    /// The next message that is not a heartbeat, with a delta shown as the snapshot it produces
    /// (what a screen shows).
    pub async fn next_message(
        &mut self,
        limit: Duration,
    ) -> Option<ioc_shared::live::ServerMessage> {
        use ioc_shared::live::ServerMessage;
        let message = self.next_raw_message(limit).await?;
        Some(match message {
            ServerMessage::Delta { unit, window, version, .. } => {
                let data = self.figures[&(unit.clone(), window)].summary().unwrap();
                ServerMessage::Snapshot { unit, window, version, data: Box::new(data) }
            }
            other => other,
        })
    }

    /// Waits for an `alerts` message whose alerts satisfy `check`; its unit, version and alerts.
    pub async fn alerts_where(
        &mut self,
        limit: Duration,
        check: impl Fn(&[ioc_shared::alerts::Alert]) -> bool,
    ) -> (String, u64, Vec<ioc_shared::alerts::Alert>) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_message(left).await {
                Some(ioc_shared::live::ServerMessage::Alerts { unit, version, data })
                    if check(&data.alerts) =>
                {
                    return (unit, version, data.alerts)
                }
                Some(_) => {}
                None => panic!("no matching alerts message within {limit:?}"),
            }
        }
    }

    /// Waits for a snapshot whose summary satisfies `check`; returns its version and summary.
    pub async fn snapshot_where(
        &mut self,
        limit: Duration,
        check: impl Fn(&Summary) -> bool,
    ) -> (u64, Summary) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_message(left).await {
                Some(ioc_shared::live::ServerMessage::Snapshot { version, data, .. })
                    if check(&data) =>
                {
                    return (version, *data)
                }
                Some(_) => {}
                None => panic!("no matching snapshot within {limit:?}"),
            }
        }
    }
}

/// A TCP proxy (to PostgreSQL or Redis) that can stop passing bytes while keeping every connection open:
/// a network black hole.
pub struct BlackHole {
    pub addr: std::net::SocketAddr,
    pub passing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl BlackHole {
    pub async fn start(target: &str) -> BlackHole {
        use std::sync::atomic::{AtomicBool, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let passing = std::sync::Arc::new(AtomicBool::new(true));
        let target = target.to_owned();
        let switch = passing.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(upstream) = tokio::net::TcpStream::connect(&target).await else { continue };
                let (client_read, client_write) = client.into_split();
                let (upstream_read, upstream_write) = upstream.into_split();
                for (mut from, mut to) in [
                    (
                        Box::new(client_read) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                        Box::new(upstream_write) as Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
                    ),
                    (Box::new(upstream_read), Box::new(client_write)),
                ] {
                    let passing = switch.clone();
                    tokio::spawn(async move {
                        let mut buffer = vec![0_u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buffer).await {
                            if n == 0 {
                                break;
                            }
                            // In the black hole, bytes are swallowed and the connection stays up.
                            if passing.load(Ordering::SeqCst)
                                && to.write_all(&buffer[..n]).await.is_err()
                            {
                                break;
                            }
                        }
                    });
                }
            }
        });
        BlackHole { addr, passing }
    }
}
