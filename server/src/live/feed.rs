//! The Redis change feed: which units changed on any replica, and which credentials were revoked.

use super::Hub;
use crate::aggregate::Keys;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::broadcast;

/// Follows two Redis channels: `changed`, on which whichever replica applied an aggregate
/// change announces the units it touched (those scopes are marked dirty), and `revoked`, on which
/// logouts and revocations are announced (passed on to live connections). Reconnects forever;
/// after a reconnect every scope is marked dirty, since announcements may have been missed.
pub async fn listen_to_redis(
    client: redis::Client,
    keys: Keys,
    hub: Hub,
    revocations: broadcast::Sender<String>,
) {
    let mut backoff = Duration::from_millis(200);
    let changed = keys.changed_channel();
    let revoked = keys.revoked_channel();
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&[changed.as_str(), revoked.as_str()]).await {
                Ok(()) => {
                    backoff = Duration::from_millis(200);
                    hub.mark_changed(&["*".to_owned()]);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let payload = message.get_payload::<String>().unwrap_or_default();
                        if message.get_channel_name() == revoked {
                            let _ = revocations.send(payload);
                            continue;
                        }
                        let units: Vec<String> =
                            serde_json::from_str(&payload).unwrap_or_else(|_| vec!["*".to_owned()]);
                        hub.mark_changed(&units);
                    }
                    tracing::warn!("Redis change feed closed; reconnecting");
                }
                Err(error) => tracing::warn!(%error, "cannot subscribe to Redis change feed"),
            },
            Err(error) => tracing::warn!(%error, "cannot connect to Redis change feed"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
