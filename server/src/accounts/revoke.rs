//! Revocation notices: tell every replica to close the live connections of a session, person
//! or display at once (`session:<hash>`, `user:<id>`, `display:<id>`).

use crate::aggregate::Keys;
use crate::redis_link::RedisLink;

#[derive(Clone)]
pub struct Revoker {
    redis: RedisLink,
    /// The pub/sub channel every replica's change feed follows.
    channel: String,
}

impl Revoker {
    pub fn new(redis: RedisLink, keys: &Keys) -> Revoker {
        Revoker { redis, channel: keys.revoked_channel() }
    }

    /// Publishes a notice. When Redis is unreachable the connections still close at their next
    /// periodic check (≤ 30 s); that is logged, never fatal.
    pub async fn publish(&self, key: &str) -> bool {
        let mut redis = self.redis.clone();
        let result: redis::RedisResult<i64> =
            redis::cmd("PUBLISH").arg(&self.channel).arg(key).query_async(&mut redis).await;
        match result {
            Ok(_) => true,
            Err(error) => {
                tracing::warn!(%error, "revocation not published; live connections close at their next check (≤ 30 s)");
                false
            }
        }
    }

    /// Publishes many notices in one round trip (an import that moved thousands of people).
    pub async fn publish_all(&self, keys: &[String]) -> bool {
        if keys.is_empty() {
            return true;
        }
        let mut pipeline = redis::pipe();
        for key in keys {
            pipeline.cmd("PUBLISH").arg(&self.channel).arg(key).ignore();
        }
        let mut redis = self.redis.clone();
        let result: redis::RedisResult<()> = pipeline.query_async(&mut redis).await;
        match result {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, notices = keys.len(), "revocations not published; live connections close at their next check (≤ 30 s)");
                false
            }
        }
    }
}
