//! Live aggregates in Redis: the key layout ([`Keys`], [`Granularity`]); [`write`](mod@write) changes them
//! exactly once per outbox row, [`summary`] reads one scope's figures.
//!
//! Redis holds only what can be rebuilt from PostgreSQL ([`crate::store`]). Every key starts
//! with the configured prefix (`ioc:` by default). The figures live in a **generation**
//! (`g{N}:`): a rebuild writes a new generation beside the current one and switches the `gen`
//! pointer atomically, so nobody ever reads half-built figures and ingest goes on meanwhile.
//!
//! | key | type | what |
//! |---|---|---|
//! | `gen` | string | the current generation N (absent: nothing to read, a rebuild is due) |
//! | `rebuilding` | string | held (with a time-out) by the replica rebuilding, with the reason |
//! | `g{N}:applied` | string | sequence of the last outbox row applied to generation N (exactly-once marker) |
//! | `g{N}:catalog` | string | fingerprint of the unit catalog (and key layout) N was built with |
//! | `g{N}:b:{m,h,d}:{bucket}:{unit}` | hash | window counters of one minute / hour / local day, at a unit and everything below it; `k:{child}:{counter}` fields break some down per direct child |
//! | `g{N}:open:{unit}` | hash | open items per kind, now |
//! | `g{N}:due:{unit}:{kind}` | sorted set | open, running items by due time (ms), member `source␟item`: "overdue now" is a range count |
//! | `g{N}:deadlines` | sorted set | assigned, running items by due time (ms), once each, member `path␟officer␟unit␟kind␟source␟item` (`path`: the item's unit and its ancestors): the deadline engine's queue |
//! | `g{N}:late_until` | string | the deadline engine's mark (Unix ms): deadlines before it are counted in the two keys below |
//! | `g{N}:late_officers:{unit}` | sorted set | officer id → minus the number of their overdue items in the unit's scope (members at 0 removed): `ZCARD` is the number of late officers, `ZRANGE 0 9` the ranking |
//! | `g{N}:officer_units:{officer}` | hash | unit → the officer's overdue items there, to name the unit holding most of them |
//! | `g{N}:officers` | hash | officer id → display name |
//! | channel `changed` | pub/sub | JSON array of unit codes whose figures changed (`*`: all, after a rebuild) |
//! | channel `revoked` | pub/sub | `session:<hash>`, `user:<id>` or `display:<id>` whose live connections must close |
//! | `throttle:{login,pair,ingest}:…` | string | failed attempts in the last 15 minutes ([`crate::accounts::throttle`]) |
//!
//! Items whose unit is not (or no longer) in the catalog are counted under the unit
//! [`UNKNOWN_UNIT`], never dropped. Minute buckets live 50 hours, hour and day buckets 62 days:
//! enough for the `24h` window to the minute and the `7d`/`30d` windows to the hour, each with
//! its previous period. All ops of
//! one outbox row run in one Lua script that also checks the generation and advances `applied`,
//! so a row is applied exactly once even when several replicas race to apply it.
//!
//! **Late officers are counted incrementally.** An assigned item's deadline is kept once, in
//! `deadlines`. Every summary first advances the deadline engine to now ([`write::ADVANCE_SCRIPT`],
//! in the same atomic read): the deadlines passed since `late_until` are counted against their
//! officer at every unit of their path. A deadline that leaves (resolved, reassigned, paused)
//! after being counted is uncounted by the same script that removes it. So reading the ranking
//! costs the same whatever the number of overdue items, and each item is counted once when it
//! turns late, not at every read.

pub mod public;
pub mod score;
pub mod summary;
pub mod write;

pub use write::{apply_many, build, clear, publish_changed, Applied, Ops};

use ioc_shared::event::ItemKind;
use ioc_shared::time::LOCAL_OFFSET_SECONDS;

/// Separator inside set members; ids may not contain control characters, so it is safe.
pub const MEMBER_SEPARATOR: char = '\u{1f}';
/// Separator of the units in a deadline member's path (a control character, like the above).
pub const PATH_SEPARATOR: char = '\u{1e}';
/// The unit under which items of units missing from the catalog are counted.
pub const UNKNOWN_UNIT: &str = "_unknown";
/// Version of the key layout and member formats; part of the catalog fingerprint, so a release
/// that changes the layout rebuilds at start. 2: items are owned by their source. 3: online
/// and dissatisfied counters. 4: late officers counted incrementally by the deadline engine.
pub const LAYOUT_VERSION: u32 = 4;

/// Key names under one prefix, in one generation.
#[derive(Debug, Clone)]
pub struct Keys {
    /// Lets several deployments (or parallel tests) share one Redis.
    prefix: String,
    /// The generation the figure keys belong to (0 until one is chosen).
    generation: u64,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Keys {
        Keys { prefix: prefix.into(), generation: 0 }
    }

    /// The same names in generation `generation`.
    pub fn at(&self, generation: u64) -> Keys {
        Keys { prefix: self.prefix.clone(), generation }
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Prefix of every key of this generation.
    pub fn generation_prefix(&self) -> String {
        format!("{}g{}:", self.prefix, self.generation)
    }

    /// Points at the current generation.
    pub fn current_generation(&self) -> String {
        format!("{}gen", self.prefix)
    }

    /// Held by the replica that is rebuilding.
    pub fn rebuilding(&self) -> String {
        format!("{}rebuilding", self.prefix)
    }

    pub fn applied(&self) -> String {
        format!("{}applied", self.generation_prefix())
    }

    pub fn catalog(&self) -> String {
        format!("{}catalog", self.generation_prefix())
    }

    pub fn bucket(&self, granularity: Granularity, index: i64, unit: &str) -> String {
        format!("{}b:{}:{index}:{unit}", self.generation_prefix(), granularity.letter())
    }

    pub fn open(&self, unit: &str) -> String {
        format!("{}open:{unit}", self.generation_prefix())
    }

    pub fn due(&self, unit: &str, kind: ItemKind) -> String {
        format!("{}due:{unit}:{}", self.generation_prefix(), kind.as_str())
    }

    /// The deadline engine's queue of assigned items by due time.
    pub fn deadlines(&self) -> String {
        format!("{}deadlines", self.generation_prefix())
    }

    /// Officers of a scope by (minus) their number of overdue items.
    pub fn late_officers(&self, unit: &str) -> String {
        format!("{}late_officers:{unit}", self.generation_prefix())
    }

    /// Where an officer's overdue items are, by unit.
    pub fn officer_units(&self, officer: &str) -> String {
        format!("{}officer_units:{officer}", self.generation_prefix())
    }

    pub fn officers(&self) -> String {
        format!("{}officers", self.generation_prefix())
    }

    pub fn changed_channel(&self) -> String {
        format!("{}changed", self.prefix)
    }

    /// A sign-in through the OpenID provider that has not come back yet (its `state`).
    pub fn oidc_login(&self, state: &str) -> String {
        format!("{}oidc:login:{state}", self.prefix)
    }

    /// Pub/sub channel of revoked sessions, people and displays.
    pub fn revoked_channel(&self) -> String {
        format!("{}revoked", self.prefix)
    }
}

/// Time-bucket sizes. Windows are read as a few buckets of each size ([`summary`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Granularity {
    Minute,
    Hour,
    /// A local (UTC+7) calendar day.
    Day,
}

impl Granularity {
    pub const ALL: [Granularity; 3] = [Granularity::Minute, Granularity::Hour, Granularity::Day];

    fn letter(self) -> char {
        match self {
            Granularity::Minute => 'm',
            Granularity::Hour => 'h',
            Granularity::Day => 'd',
        }
    }

    /// Index of the bucket holding Unix second `at`.
    pub fn index(self, at: i64) -> i64 {
        match self {
            Granularity::Minute => at.div_euclid(60),
            Granularity::Hour => at.div_euclid(3600),
            Granularity::Day => (at + i64::from(LOCAL_OFFSET_SECONDS)).div_euclid(86_400),
        }
    }

    /// First Unix second of bucket `index`.
    pub fn start(self, index: i64) -> i64 {
        match self {
            Granularity::Minute => index * 60,
            Granularity::Hour => index * 3600,
            Granularity::Day => index * 86_400 - i64::from(LOCAL_OFFSET_SECONDS),
        }
    }

    /// How long after its end a bucket is kept: the longest window that reads it, plus slack.
    fn retention_seconds(self) -> i64 {
        match self {
            // The `24h` window and the 24 hours before it (its `previous`).
            Granularity::Minute => 50 * 3600,
            // The `30d` window and the 30 days before it; longer periods read the day-level
            // history in PostgreSQL.
            Granularity::Hour | Granularity::Day => 62 * 86_400,
        }
    }

    /// Unix second at which a bucket expires.
    pub fn expires_at(self, index: i64) -> i64 {
        self.start(index + 1) + self.retention_seconds()
    }
}

/// The current generation as last seen, so that a summary need not ask for it in a round trip
/// of its own (it is the same for every unit). The summary's atomic read checks it (`GET` of the
/// generation inside the same transaction, and the deadline engine's advance refuses another
/// generation), and reads again when it moved.
#[derive(Debug, Default)]
pub struct GenerationHint(std::sync::atomic::AtomicU64);

impl GenerationHint {
    /// The generation last seen (none before the first read, or while there is none).
    pub fn get(&self) -> Option<u64> {
        Some(self.0.load(std::sync::atomic::Ordering::Relaxed)).filter(|g| *g != 0)
    }

    pub fn set(&self, generation: Option<u64>) {
        self.0.store(generation.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
    }
}

/// The keys of the current generation, or `None` when there is none (Redis lost its data, or
/// nothing was ever built): then the figures cannot be read until a rebuild.
pub async fn current<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    keys: &Keys,
) -> redis::RedisResult<Option<Keys>> {
    let generation: Option<u64> =
        redis::cmd("GET").arg(keys.current_generation()).query_async(conn).await?;
    Ok(generation.map(|g| keys.at(g)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_buckets_follow_local_midnight() {
        let midnight_local = ioc_shared::time::parse_rfc3339("2026-11-22T00:00:00+07:00")
            .map(|t| t.timestamp())
            .unwrap_or_default();
        let day = Granularity::Day.index(midnight_local);
        assert_eq!(Granularity::Day.index(midnight_local - 1), day - 1);
        assert_eq!(Granularity::Day.start(day), midnight_local);
    }
}
