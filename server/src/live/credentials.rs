//! The credentials behind this replica's live connections, rechecked together: one query per
//! interval for every connection, instead of one per connection (10,000 screens made ~333
//! queries a second). A connection whose credential is no longer valid (idle session, disabled
//! person, revoked display — also when its revocation notice was missed) is told through the
//! same local notice channel that pub/sub revocations use, and closes.

use crate::accounts::access::{Caller, Credential};
use crate::accounts::{secret_hash, AccountError, Accounts};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// How often the live connections' credentials are rechecked.
pub const RECHECK_EVERY: Duration = Duration::from_secs(30);

/// The distinct credentials of the live connections, with how many connections use each.
#[derive(Clone, Default)]
pub struct LiveCredentials {
    /// Keyed by the credential's hash; the value is what to recheck and how many connections
    /// hold it (an entry goes when its last connection closes).
    inner: Arc<Mutex<HashMap<Vec<u8>, Entry>>>,
}

struct Entry {
    /// Whether the hash is a session's or a display's (they are checked in different tables).
    display: bool,
    /// The notice that closes the connections holding this credential.
    notice: String,
    connections: usize,
}

/// Held by a connection for as long as it is open.
pub struct Registration {
    credentials: LiveCredentials,
    hash: Vec<u8>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut map = self.credentials.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = map.get_mut(&self.hash) {
            entry.connections -= 1;
            if entry.connections == 0 {
                map.remove(&self.hash);
            }
        }
    }
}

impl LiveCredentials {
    /// Records that a live connection of `caller` is open, until the registration is dropped.
    pub fn register(&self, caller: &Caller) -> Registration {
        let (hash, display) = match &caller.credential {
            Credential::Session(token) => (secret_hash(token), false),
            Credential::Display(secret) => (secret_hash(secret), true),
        };
        // The most specific notice that closes this connection: its session's or its display's
        // (`revocation_keys` lists it last and is never empty).
        let notice = caller.revocation_keys().pop().unwrap_or_default();
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(hash.clone()).or_insert(Entry { display, notice, connections: 0 }).connections +=
            1;
        Registration { credentials: self.clone(), hash }
    }

    /// How many distinct credentials are held by live connections.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks every held credential in two queries (sessions, displays) and sends the closing
    /// notice for each one no longer valid. Returns how many were ended. A database error ends
    /// nothing: an outage must not close every screen.
    pub async fn recheck(
        &self,
        accounts: &Accounts,
        session_idle: Duration,
        notices: &broadcast::Sender<String>,
    ) -> Result<usize, AccountError> {
        let (sessions, displays): (Vec<Vec<u8>>, Vec<Vec<u8>>) = {
            let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let (displays, sessions): (Vec<_>, Vec<_>) =
                map.iter().partition(|(_, entry)| entry.display);
            (
                sessions.into_iter().map(|(h, _)| h.clone()).collect(),
                displays.into_iter().map(|(h, _)| h.clone()).collect(),
            )
        };
        let mut valid = accounts.live_sessions(&sessions, session_idle).await?;
        valid.extend(accounts.live_displays(&displays).await?);
        let ended: Vec<String> = {
            let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            sessions
                .iter()
                .chain(&displays)
                .filter(|hash| !valid.contains(*hash))
                .filter_map(|hash| map.get(hash).map(|entry| entry.notice.clone()))
                .collect()
        };
        for notice in &ended {
            // No receiver means no connection is left to close.
            let _ = notices.send(notice.clone());
        }
        Ok(ended.len())
    }

    /// Rechecks every [`RECHECK_EVERY`], for as long as the server runs.
    pub async fn recheck_forever(
        self,
        accounts: Accounts,
        session_idle: Duration,
        notices: broadcast::Sender<String>,
    ) {
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + RECHECK_EVERY, RECHECK_EVERY);
        loop {
            tick.tick().await;
            if self.is_empty() {
                continue;
            }
            match self.recheck(&accounts, session_idle, &notices).await {
                Ok(0) => {}
                Ok(ended) => tracing::info!(ended, "live connections' credentials no longer valid"),
                Err(error) => tracing::warn!(%error, "live connections' credentials not rechecked"),
            }
        }
    }
}
