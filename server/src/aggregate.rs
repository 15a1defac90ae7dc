//! Live aggregates in Redis: the write side.
//!
//! Redis holds only what can be rebuilt from PostgreSQL ([`crate::store`]). Every key starts
//! with the configured prefix (`ioc:` by default):
//!
//! | key | type | what |
//! |---|---|---|
//! | `applied` | string | sequence of the last outbox row applied (exactly-once marker) |
//! | `b:{m,h,d}:{bucket}:{unit}` | hash | window counters of one minute / hour / local day, at a unit and everything below it; `k:{child}:{counter}` fields break some down per direct child |
//! | `open:{unit}` | hash | open items per kind, now |
//! | `due:{unit}:{kind}` | sorted set | open, running items by due time (ms): "overdue now" is a range count |
//! | `late:{unit}` | sorted set | the same for assigned items, member `officer␟unit␟kind␟item`, for the late-officer ranking |
//! | `officers` | hash | officer id → display name |
//! | channel `changed` | pub/sub | JSON array of unit codes whose figures changed |
//! | channel `revoked` | pub/sub | `session:<hash>`, `user:<id>` or `display:<id>` whose live connections must close |
//! | `throttle:{login,pair}:{user,addr}:…` | string | failed attempts in the last 15 minutes ([`crate::auth`]) |
//!
//! Minute buckets live 26 hours, hour and day buckets 32 days: enough for the `24h` window to
//! the minute and the `7d`/`30d` windows to the hour. All ops of one outbox row run in one Lua
//! script that also checks and advances `applied`, so a row is applied exactly once even when
//! several replicas race to apply it.

use crate::catalog::Catalog;
use crate::item::{counter, Due, ItemDelta};
use ioc_shared::event::ItemKind;
use ioc_shared::time::LOCAL_OFFSET_SECONDS;
use redis::aio::ConnectionManager;
use std::collections::{BTreeMap, BTreeSet};

/// Separator inside late-set members; ids may not contain control characters, so it is safe.
pub const MEMBER_SEPARATOR: char = '\u{1f}';

/// Key names under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    /// Lets several deployments (or parallel tests) share one Redis.
    prefix: String,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Keys {
        Keys { prefix: prefix.into() }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn applied(&self) -> String {
        format!("{}applied", self.prefix)
    }

    pub fn bucket(&self, granularity: Granularity, index: i64, unit: &str) -> String {
        format!("{}b:{}:{index}:{unit}", self.prefix, granularity.letter())
    }

    pub fn open(&self, unit: &str) -> String {
        format!("{}open:{unit}", self.prefix)
    }

    pub fn due(&self, unit: &str, kind: ItemKind) -> String {
        format!("{}due:{unit}:{}", self.prefix, kind.as_str())
    }

    pub fn late(&self, unit: &str) -> String {
        format!("{}late:{unit}", self.prefix)
    }

    pub fn officers(&self) -> String {
        format!("{}officers", self.prefix)
    }

    pub fn changed_channel(&self) -> String {
        format!("{}changed", self.prefix)
    }

    /// Pub/sub channel of revoked sessions, people and displays.
    pub fn revoked_channel(&self) -> String {
        format!("{}revoked", self.prefix)
    }
}

/// Time-bucket sizes. Windows are read as a few buckets of each size ([`crate::summary`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
            Granularity::Minute => 26 * 3600,
            Granularity::Hour | Granularity::Day => 32 * 86_400,
        }
    }

    /// Unix second at which a bucket expires.
    pub fn expires_at(self, index: i64) -> i64 {
        self.start(index + 1) + self.retention_seconds()
    }
}

/// Redis writes for one outbox row, in a form the apply script runs.
#[derive(Debug, Default)]
pub struct Ops {
    /// Counter increments, merged: increments commute, so order does not matter.
    increments: BTreeMap<(String, String), i64>,
    /// Expiry per bucket key (Unix seconds).
    expiries: BTreeMap<String, i64>,
    /// Sorted-set and name changes, in order: an item's old due entry must leave before its
    /// new one enters, since both may have the same member.
    ordered: Vec<[String; 4]>,
    /// Units whose figures change: the unit of each item and all its ancestors.
    pub changed_units: BTreeSet<String>,
}

impl Ops {
    /// Adds the writes of one item delta, counted at its unit and every ancestor. Buckets
    /// already past their retention at `now` are skipped (they would expire at once).
    pub fn add_delta(&mut self, keys: &Keys, catalog: &Catalog, delta: &ItemDelta, now: i64) {
        let path = catalog.self_and_ancestors(&delta.unit);
        if path.is_empty() {
            tracing::warn!(unit = %delta.unit, item = %delta.item, "unit no longer in catalog; delta skipped");
            return;
        }
        for count in &delta.counts {
            for granularity in Granularity::ALL {
                let index = granularity.index(count.at);
                let expires_at = granularity.expires_at(index);
                if expires_at <= now {
                    continue;
                }
                for (depth, unit) in path.iter().enumerate() {
                    let key = keys.bucket(granularity, index, &unit.code);
                    *self.increments.entry((key.clone(), count.counter.clone())).or_default() += count.n;
                    if depth > 0 && counter::PER_CHILD.contains(&count.counter.as_str()) {
                        let child = &path[depth - 1].code;
                        let field = format!("k:{child}:{}", count.counter);
                        *self.increments.entry((key.clone(), field)).or_default() += count.n;
                    }
                    self.expiries.insert(key, expires_at);
                }
            }
        }
        for unit in &path {
            if delta.open != 0 {
                let key = (keys.open(&unit.code), delta.kind.as_str().to_owned());
                *self.increments.entry(key).or_default() += delta.open;
            }
            if let Some(due) = &delta.remove_due {
                self.ordered.push(["R".into(), keys.due(&unit.code, delta.kind), delta.item.clone(), String::new()]);
                if let Some(member) = late_member(due, delta) {
                    self.ordered.push(["R".into(), keys.late(&unit.code), member, String::new()]);
                }
            }
            if let Some(due) = &delta.add_due {
                let score = due.at_ms.to_string();
                self.ordered.push(["A".into(), keys.due(&unit.code, delta.kind), score.clone(), delta.item.clone()]);
                if let Some(member) = late_member(due, delta) {
                    self.ordered.push(["A".into(), keys.late(&unit.code), score, member]);
                }
            }
            self.changed_units.insert(unit.code.clone());
        }
        if let Some(officer) = delta.add_due.as_ref().and_then(|d| d.officer.as_ref()) {
            self.ordered.push(["S".into(), keys.officers(), officer.id.clone(), officer.name.clone()]);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.increments.is_empty() && self.ordered.is_empty()
    }

    /// The JSON the apply script decodes: a list of `[op, key, a, b]`.
    fn to_script_json(&self) -> String {
        let mut list: Vec<[&str; 4]> = Vec::with_capacity(self.increments.len() + self.expiries.len() + self.ordered.len());
        let increments: Vec<(&(String, String), String)> =
            self.increments.iter().filter(|(_, n)| **n != 0).map(|(k, n)| (k, n.to_string())).collect();
        for ((key, field), n) in &increments {
            list.push(["H", key, field, n]);
        }
        let expiries: Vec<(&String, String)> = self.expiries.iter().map(|(k, t)| (k, t.to_string())).collect();
        for (key, at) in &expiries {
            list.push(["E", key, at, ""]);
        }
        for op in &self.ordered {
            list.push([&op[0], &op[1], &op[2], &op[3]]);
        }
        serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned())
    }
}

/// Member of the late-officer set for an assigned due item.
fn late_member(due: &Due, delta: &ItemDelta) -> Option<String> {
    let officer = due.officer.as_ref()?;
    let s = MEMBER_SEPARATOR;
    Some(format!("{}{s}{}{s}{}{s}{}", officer.id, delta.unit, delta.kind.as_str(), delta.item))
}

/// Applies ops atomically. With `seq`, only when `seq` is past the `applied` marker, which it
/// then advances; without, unconditionally (used by a rebuild, which sets the marker last).
const APPLY_SCRIPT: &str = r#"
if ARGV[1] ~= '-' then
  local applied = redis.call('GET', KEYS[1])
  if not applied then return -1 end
  if tonumber(ARGV[1]) <= tonumber(applied) then return 0 end
end
local ops = cjson.decode(ARGV[2])
for i = 1, #ops do
  local op = ops[i]
  local c = op[1]
  if c == 'H' then redis.call('HINCRBY', op[2], op[3], op[4])
  elseif c == 'E' then redis.call('EXPIREAT', op[2], op[3])
  elseif c == 'A' then redis.call('ZADD', op[2], op[3], op[4])
  elseif c == 'R' then redis.call('ZREM', op[2], op[3])
  elseif c == 'S' then redis.call('HSET', op[2], op[3], op[4])
  end
end
if ARGV[1] ~= '-' then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"#;

/// What happened to one outbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Written now.
    Now,
    /// Already written before (by this or another replica).
    Before,
    /// Redis has no `applied` marker: it was emptied and must be rebuilt from PostgreSQL.
    NeedsRebuild,
}

/// Runs one outbox row's ops, exactly once for its `seq`.
pub async fn apply(conn: &mut ConnectionManager, keys: &Keys, seq: i64, ops: &Ops) -> redis::RedisResult<Applied> {
    let result: i64 = redis::Script::new(APPLY_SCRIPT)
        .key(keys.applied())
        .arg(seq.to_string())
        .arg(ops.to_script_json())
        .invoke_async(conn)
        .await?;
    Ok(match result {
        1 => Applied::Now,
        0 => Applied::Before,
        _ => Applied::NeedsRebuild,
    })
}

/// Writes ops without the exactly-once check (rebuild only).
pub async fn apply_unconditionally(conn: &mut ConnectionManager, keys: &Keys, ops: &Ops) -> redis::RedisResult<()> {
    let _: i64 = redis::Script::new(APPLY_SCRIPT)
        .key(keys.applied())
        .arg("-")
        .arg(ops.to_script_json())
        .invoke_async(conn)
        .await?;
    Ok(())
}

/// Deletes every key under the prefix (rebuild only).
pub async fn clear(conn: &mut ConnectionManager, keys: &Keys) -> redis::RedisResult<()> {
    let pattern = format!("{}*", escape_glob(keys.prefix()));
    let mut cursor: u64 = 0;
    loop {
        let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        if !found.is_empty() {
            let _: i64 = redis::cmd("UNLINK").arg(&found).query_async(conn).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Tells every replica which units changed.
pub async fn publish_changed(conn: &mut ConnectionManager, keys: &Keys, units: &BTreeSet<String>) -> redis::RedisResult<()> {
    let payload = serde_json::to_string(units).unwrap_or_else(|_| "[]".to_owned());
    let _: i64 = redis::cmd("PUBLISH").arg(keys.changed_channel()).arg(payload).query_async(conn).await?;
    Ok(())
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

    #[test]
    fn glob_characters_in_the_prefix_are_escaped() {
        assert_eq!(escape_glob("a*b?[c]"), "a\\*b\\?\\[c\\]");
    }
}
