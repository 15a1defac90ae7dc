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
    redis: crate::redis_link::RedisLink,
    keys: Keys,
    hub: Hub,
    revocations: broadcast::Sender<String>,
) {
    let mut backoff = Duration::from_millis(200);
    let changed = keys.changed_channel();
    let revoked = keys.revoked_channel();
    let mut moves = redis.moves();
    loop {
        let pubsub = match redis.client().await {
            Ok(client) => {
                // Moves up to here (the first discovery too) are in this client already.
                moves.mark_unchanged();
                client.get_async_pubsub().await
            }
            Err(error) => Err(error),
        };
        match pubsub {
            Ok(mut pubsub) => match pubsub.subscribe(&[changed.as_str(), revoked.as_str()]).await {
                Ok(()) => {
                    backoff = Duration::from_millis(200);
                    hub.mark_changed(&["*".to_owned()]);
                    let mut messages = pubsub.on_message();
                    loop {
                        // A failover moved the master: subscribe there (the old one may live
                        // on as a replica that never hears a publication again).
                        let message = tokio::select! {
                            message = messages.next() => message,
                            _ = moves.changed() => {
                                tracing::warn!("the Redis master moved; subscribing there");
                                break;
                            }
                        };
                        let Some(message) = message else {
                            tracing::warn!("Redis change feed closed; reconnecting");
                            break;
                        };
                        let payload = message.get_payload::<String>().unwrap_or_default();
                        if message.get_channel_name() == revoked {
                            let _ = revocations.send(payload);
                            continue;
                        }
                        let units: Vec<String> =
                            serde_json::from_str(&payload).unwrap_or_else(|_| vec!["*".to_owned()]);
                        hub.mark_changed(&units);
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot subscribe to Redis change feed"),
            },
            Err(error) => tracing::warn!(%error, "cannot connect to Redis change feed"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
