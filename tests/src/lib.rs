//! Test harness for the end-to-end tests: real servers on real sockets, against the real
//! PostgreSQL (a fresh database per test, from `#[sqlx::test]`) and the real Redis (a fresh key
//! prefix per test, so tests run in parallel).
#![allow(clippy::unwrap_used)]

pub mod events;

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
        redis_url: redis_url(),
        redis_prefix: prefix.to_owned(),
        ingest_token: Some(TOKEN.to_owned()),
        web_dir: web_dir(),
        database_timeout: Duration::from_secs(5),
    }
}

/// One running server and an HTTP client for it.
pub struct TestServer {
    pub server: RunningServer,
    pub base: String,
    pub http: reqwest::Client,
    pub prefix: String,
}

impl TestServer {
    /// A server on a fresh Redis prefix, with its own connection pool to `pool`'s database.
    pub async fn start(pool: &PgPool) -> TestServer {
        TestServer::start_with_prefix(pool, &fresh_prefix()).await
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
        let state = AppState::with_store(settings(prefix), Catalog::load(None).unwrap(), Store { pool: own_pool }).unwrap();
        TestServer::start_state(state).await
    }

    pub async fn start_state(state: AppState) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let prefix = state.settings.redis_prefix.clone();
        let server = ioc_server::start(state, listener).await.unwrap();
        let base = format!("http://{}", server.addr);
        TestServer { server, base, http: reqwest::Client::new(), prefix }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/v1/live", self.server.addr)
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

    /// Ingests and insists every event was accepted.
    pub async fn ingest_ok(&self, events: &Value) {
        let (status, body) = self.ingest(events).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["rejected"], serde_json::json!([]), "{body}");
    }

    /// Applies every pending aggregate change now, instead of waiting for the background applier.
    pub async fn settle(&self) {
        self.server.state.applier.clone().apply_pending().await.unwrap();
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

    /// Deletes this test's Redis keys.
    pub async fn cleanup(&self) {
        let mut redis = self.server.state.redis.clone();
        let _ = ioc_server::aggregate::clear(&mut redis, &self.server.state.keys).await;
    }
}

/// Now, truncated to whole seconds (events carry seconds).
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

/// A WebSocket client of `/api/v1/live`, as a dashboard would be.
pub struct LiveClient {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl LiveClient {
    pub async fn connect(url: &str) -> LiveClient {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        LiveClient { socket }
    }

    pub async fn send_text(&mut self, text: &str) {
        use futures_util::SinkExt;
        self.socket.send(tokio_tungstenite::tungstenite::Message::text(text)).await.unwrap();
    }

    pub async fn subscribe(&mut self, unit: &str, window: &str) {
        self.send_text(&serde_json::json!({"type": "subscribe", "unit": unit, "window": window}).to_string()).await;
    }

    /// The next text message, raw; `None` if nothing arrives within `limit` or the socket ends.
    pub async fn next_text(&mut self, limit: Duration) -> Option<String> {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next()).await.ok()??.ok()?;
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                return Some(text.to_string());
            }
        }
    }

    /// The next message that is not a heartbeat.
    pub async fn next_message(&mut self, limit: Duration) -> Option<ioc_shared::live::ServerMessage> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let text = self.next_text(left).await?;
            let message: ioc_shared::live::ServerMessage = serde_json::from_str(&text).unwrap();
            if !matches!(message, ioc_shared::live::ServerMessage::Heartbeat { .. }) {
                return Some(message);
            }
        }
    }

    /// Waits for a snapshot whose summary satisfies `check`; returns its version and summary.
    pub async fn snapshot_where(&mut self, limit: Duration, check: impl Fn(&Summary) -> bool) -> (u64, Summary) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_message(left).await {
                Some(ioc_shared::live::ServerMessage::Snapshot { version, data, .. }) if check(&data) => {
                    return (version, *data)
                }
                Some(_) => {}
                None => panic!("no matching snapshot within {limit:?}"),
            }
        }
    }
}
