//! Heartbeats: the figures' health, read once per round for every connection due, and the
//! silent sources that concern one connection's units.

use crate::ingest::sources::SilentScope;
use crate::live::context::SocketContext;
use crate::live::hub::ScopeKey;
use axum::extract::ws::{Message, Utf8Bytes};
use ioc_shared::live::{FeedStatus, ServerMessage, SilentSource};

/// One round of heartbeats: the figures' health, read once for every connection due.
pub struct Heartbeat {
    at: String,
    status: FeedStatus,
    lag_seconds: f64,
    silent: Vec<SilentScope>,
    /// The frame for connections concerned by no silent source, serialized once.
    shared: Option<Utf8Bytes>,
}

impl Heartbeat {
    pub fn now(context: &SocketContext) -> Heartbeat {
        let health = context.feed.current();
        // A screen learns from `status` whether its figures are current.
        let status = if health.status == FeedStatus::Live && !context.hub.healthy() {
            FeedStatus::Unavailable
        } else {
            health.status
        };
        let mut heartbeat = Heartbeat {
            at: ioc_shared::time::to_local_rfc3339(context.hub.clock().now()),
            status,
            lag_seconds: health.lag_seconds,
            silent: context.sources.silent(),
            shared: None,
        };
        heartbeat.shared =
            serde_json::to_string(&heartbeat.message(Vec::new())).ok().map(Utf8Bytes::from);
        heartbeat
    }

    /// The frame for one connection: the shared one, unless a source feeding one of its units
    /// is silent.
    pub fn frame_for<'a>(
        &self,
        context: &SocketContext,
        subscribed: impl Iterator<Item = &'a ScopeKey>,
    ) -> Option<Message> {
        let silent = silent_for(context, &self.silent, subscribed);
        if silent.is_empty() {
            return self.shared.clone().map(Message::Text);
        }
        serde_json::to_string(&self.message(silent)).ok().map(|text| Message::Text(text.into()))
    }

    fn message(&self, silent_sources: Vec<SilentSource>) -> ServerMessage {
        ServerMessage::Heartbeat {
            at: self.at.clone(),
            status: self.status,
            lag_seconds: self.lag_seconds,
            silent_sources,
        }
    }
}

/// The silent sources that feed any of the subscribed units.
fn silent_for<'a>(
    context: &SocketContext,
    silent: &[SilentScope],
    subscribed: impl Iterator<Item = &'a ScopeKey>,
) -> Vec<SilentSource> {
    if silent.is_empty() {
        return Vec::new();
    }
    let units: Vec<&str> = subscribed.map(|(unit, _, _)| unit.as_str()).collect();
    silent
        .iter()
        .filter(|source| units.iter().any(|unit| source.concerns(&context.catalog, unit)))
        .map(|source| SilentSource {
            source: source.source.clone(),
            since: ioc_shared::time::to_local_rfc3339(source.since),
        })
        .collect()
}
