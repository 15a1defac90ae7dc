//! Failed-attempt counters in Redis (logins, pairing codes, ingest keys), shared by every
//! replica.
//!
//! Nobody can lock a person out: refusals are per (name, address) pair and per address, so
//! failures from one address never stop the right password from another. Per name, over every
//! address, failures only slow attempts down (at most [`MAX_DELAY_SECONDS`]), never refuse.
//! Checking and counting are one atomic step (a Lua script reserves the attempt as a failure
//! before the password is checked, and a success gives it back), so parallel attempts cannot
//! get past the limit.

use crate::aggregate::Keys;
use crate::redis_link::RedisLink;
use std::time::Duration;

/// Failed attempts are counted over this window.
pub const THROTTLE_WINDOW_SECONDS: i64 = 15 * 60;
/// From this many failures of one name from one address, each attempt is slowed down…
pub const SLOW_AFTER_FAILURES: i64 = 3;
/// …and from this many, refused from that address until the window passes.
pub const REFUSE_AFTER_FAILURES: i64 = 6;
/// The same for one address, whatever the name (several people may share an office's address).
pub const SLOW_AFTER_ADDRESS_FAILURES: i64 = 20;
pub const REFUSE_AFTER_ADDRESS_FAILURES: i64 = 50;
/// From this many failures of one name from every address together, attempts are slowed down
/// (never refused: that would let anyone lock the name's owner out).
pub const SLOW_AFTER_NAME_FAILURES: i64 = 10;
/// Longest slow-down of one attempt.
pub const MAX_DELAY_SECONDS: i64 = 5;

/// Checks the limits and, if the attempt may go ahead, counts it as a failure — atomically.
/// KEYS: pair, address, name. ARGV: pair limit, address limit, window seconds.
/// Returns {allowed, retry_after, pair, address, name}.
const RESERVE_SCRIPT: &str = r#"
local pair = tonumber(redis.call('GET', KEYS[1]) or '0')
local address = tonumber(redis.call('GET', KEYS[2]) or '0')
if pair >= tonumber(ARGV[1]) or address >= tonumber(ARGV[2]) then
  local ttl = math.max(redis.call('TTL', KEYS[1]), redis.call('TTL', KEYS[2]), 1)
  return {0, ttl, pair, address, 0}
end
local counts = {}
for i = 1, 3 do
  counts[i] = redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[3])
end
return {1, 0, counts[1], counts[2], counts[3]}
"#;

/// A success gives its reserved failure back (and clears the pair's count).
const SUCCEEDED_SCRIPT: &str = r#"
redis.call('DEL', KEYS[1])
for i = 2, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 1
"#;

/// The counters of one attempt.
pub struct Throttle {
    redis: RedisLink,
    pair_key: String,
    address_key: String,
    name_key: String,
}

/// What the counters say about an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead (any slow-down already waited); the attempt is counted as a failure until
    /// [`Throttle::succeeded`].
    Allowed,
    /// Refused until the window passes; not counted.
    Refused { retry_after_seconds: u64 },
}

impl Throttle {
    /// `kind` separates the counters of different doors (`login`, `pair`, `ingest`); `name` is
    /// the username tried (`None` where there is none: pairing codes, ingest keys).
    pub fn new(
        redis: RedisLink,
        keys: &Keys,
        kind: &str,
        name: Option<&str>,
        address: Option<&str>,
    ) -> Throttle {
        let prefix = keys.prefix();
        let name = name.unwrap_or("*");
        let address = address.unwrap_or("unknown");
        Throttle {
            redis,
            pair_key: format!("{prefix}throttle:{kind}:pair:{name}\u{1f}{address}"),
            address_key: format!("{prefix}throttle:{kind}:addr:{address}"),
            name_key: format!("{prefix}throttle:{kind}:name:{name}"),
        }
    }

    /// Reserves an attempt (refusing it when over a limit), then waits out any slow-down.
    pub async fn attempt(&self) -> redis::RedisResult<Verdict> {
        let mut redis = self.redis.clone();
        let (allowed, retry_after, pair, address, name): (i64, i64, i64, i64, i64) =
            redis::Script::new(RESERVE_SCRIPT)
                .key(&self.pair_key)
                .key(&self.address_key)
                .key(&self.name_key)
                .arg(REFUSE_AFTER_FAILURES)
                .arg(REFUSE_AFTER_ADDRESS_FAILURES)
                .arg(THROTTLE_WINDOW_SECONDS)
                .invoke_async(&mut redis)
                .await?;
        if allowed == 0 {
            return Ok(Verdict::Refused { retry_after_seconds: retry_after.max(1) as u64 });
        }
        let delay = slow_down_seconds(pair, address, name);
        if delay > 0 {
            tokio::time::sleep(Duration::from_secs(delay)).await;
        }
        Ok(Verdict::Allowed)
    }

    /// The attempt succeeded: it was not a failure after all.
    pub async fn succeeded(&self) {
        let mut redis = self.redis.clone();
        let result: redis::RedisResult<i64> = redis::Script::new(SUCCEEDED_SCRIPT)
            .key(&self.pair_key)
            .key(&self.address_key)
            .key(&self.name_key)
            .invoke_async(&mut redis)
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, "successful attempt not given back to the throttle");
        }
    }
}

/// Seconds to hold an attempt back, given the failure counts including it.
fn slow_down_seconds(pair: i64, address: i64, name: i64) -> u64 {
    let excess = (pair - SLOW_AFTER_FAILURES)
        .max(address - SLOW_AFTER_ADDRESS_FAILURES)
        .max(name - SLOW_AFTER_NAME_FAILURES);
    excess.clamp(0, MAX_DELAY_SECONDS) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_slow_down_from_the_fourth_failure_and_never_wait_more_than_five_seconds() {
        assert_eq!(slow_down_seconds(3, 3, 3), 0);
        assert_eq!(slow_down_seconds(4, 4, 4), 1);
        assert_eq!(
            slow_down_seconds(1, 1, 12),
            2,
            "the name's failures from everywhere slow a new address"
        );
        assert_eq!(slow_down_seconds(1, 1, 1000), 5);
    }
}
