//! Writing aggregates: the Redis ops of one outbox row, applied atomically and exactly once.

use super::{Granularity, Keys, MEMBER_SEPARATOR, PATH_SEPARATOR};
use crate::catalog::Catalog;
use crate::redis_link::RedisLink;
use crate::store::item::{counter, Due, ItemDelta};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeSet, HashMap};

/// Redis writes for one outbox row, in a form the apply script runs.
#[derive(Debug, Default)]
pub struct Ops {
    /// Counter increments by key, then field, merged: increments commute, so order does not
    /// matter. Nested and looked up by `&str`, so that adding to a known field allocates
    /// nothing (Fx-hashed: a tree's comparisons, then SipHash, were the rebuild's hot spot).
    increments: FxHashMap<String, FxHashMap<String, i64>>,
    /// How many (key, field) pairs `increments` holds.
    fields: usize,
    /// Expiry per bucket key (Unix seconds).
    expiries: FxHashMap<String, i64>,
    /// Bucket key names already formatted, by unit then bucket: the same few keys are met
    /// again and again (formatting them was a third of a rebuild's time).
    bucket_names: FxHashMap<String, FxHashMap<(Granularity, i64), String>>,
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
        let mut path: Vec<&str> =
            catalog.self_and_ancestors(&delta.unit).iter().map(|u| u.code.as_str()).collect();
        if path.is_empty() {
            // Counted, never dropped: reported by `ioc unknown-units` and the admin API.
            path.push(super::UNKNOWN_UNIT);
        }
        let mut child_field = String::new();
        for count in &delta.counts {
            for granularity in Granularity::ALL {
                let index = granularity.index(count.at);
                let expires_at = granularity.expires_at(index);
                if expires_at <= now {
                    continue;
                }
                for (depth, unit) in path.iter().enumerate() {
                    let Ops { increments, fields, expiries, bucket_names, .. } = self;
                    let names = match bucket_names.get_mut(*unit) {
                        Some(names) => names,
                        None => bucket_names.entry((*unit).to_owned()).or_default(),
                    };
                    let key = names
                        .entry((granularity, index))
                        .or_insert_with(|| keys.bucket(granularity, index, unit));
                    add(increments, fields, key, &count.counter, count.n);
                    if depth > 0 && counter::PER_CHILD.contains(&count.counter.as_str()) {
                        use std::fmt::Write;
                        child_field.clear();
                        let _ = write!(child_field, "k:{}:{}", path[depth - 1], count.counter);
                        add(increments, fields, key, &child_field, count.n);
                    }
                    if !expiries.contains_key(key.as_str()) {
                        expiries.insert(key.clone(), expires_at);
                    }
                }
            }
        }
        for unit in &path {
            if delta.open != 0 {
                add(
                    &mut self.increments,
                    &mut self.fields,
                    &keys.open(unit),
                    delta.kind.as_str(),
                    delta.open,
                );
            }
            if delta.remove_due.is_some() {
                self.ordered.push([
                    "R".into(),
                    keys.due(unit, delta.kind),
                    delta.member(),
                    String::new(),
                ]);
            }
            if let Some(due) = &delta.add_due {
                self.ordered.push([
                    "A".into(),
                    keys.due(unit, delta.kind),
                    due.at_ms.to_string(),
                    delta.member(),
                ]);
            }
            self.changed_units.insert((*unit).to_owned());
        }
        // An assigned item's deadline is kept once (not per unit of its path): the deadline
        // engine counts it against its officer at every unit of the path when it turns late.
        if let Some(member) =
            delta.remove_due.as_ref().and_then(|due| deadline_member(due, delta, &path))
        {
            self.ordered.push(["DR".into(), keys.deadlines(), member, String::new()]);
        }
        if let Some((due, member)) =
            delta.add_due.as_ref().and_then(|due| Some((due, deadline_member(due, delta, &path)?)))
        {
            self.ordered.push(["DA".into(), keys.deadlines(), due.at_ms.to_string(), member]);
        }
        if let Some(officer) = delta.add_due.as_ref().and_then(|d| d.officer.as_ref()) {
            self.ordered.push([
                "S".into(),
                keys.officers(),
                officer.id.clone(),
                officer.name.clone(),
            ]);
        }
    }

    /// Merged counter fields so far.
    pub fn merged_fields(&self) -> usize {
        self.fields
    }

    /// How many Redis writes the ops make, about: bounds one script's run.
    pub fn writes(&self) -> usize {
        self.fields + self.expiries.len() + self.ordered.len()
    }

    pub fn is_empty(&self) -> bool {
        self.increments.is_empty() && self.ordered.is_empty()
    }

    /// The JSON the apply script decodes: a list of `[op, key, a, b]`.
    fn to_script_json(&self) -> String {
        let mut list: Vec<[&str; 4]> =
            Vec::with_capacity(self.fields + self.expiries.len() + self.ordered.len());
        let increments: Vec<(&String, &String, String)> = self
            .increments
            .iter()
            .flat_map(|(key, fields)| {
                fields
                    .iter()
                    .filter(|(_, n)| **n != 0)
                    .map(move |(field, n)| (key, field, n.to_string()))
            })
            .collect();
        for (key, field, n) in &increments {
            list.push(["H", key, field, n]);
        }
        let expiries: Vec<(&String, String)> =
            self.expiries.iter().map(|(k, t)| (k, t.to_string())).collect();
        for (key, at) in &expiries {
            list.push(["E", key, at, ""]);
        }
        for op in &self.ordered {
            list.push([&op[0], &op[1], &op[2], &op[3]]);
        }
        serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned())
    }
}

/// Adds `n` to `field` of `key`, allocating only for a key or field not seen before.
fn add(
    increments: &mut FxHashMap<String, FxHashMap<String, i64>>,
    fields: &mut usize,
    key: &str,
    field: &str,
    n: i64,
) {
    let by_field = match increments.get_mut(key) {
        Some(by_field) => by_field,
        None => increments.entry(key.to_owned()).or_default(),
    };
    match by_field.get_mut(field) {
        Some(total) => *total += n,
        None => {
            by_field.insert(field.to_owned(), n);
            *fields += 1;
        }
    }
}

/// Member of the deadline set for an assigned due item:
/// `path␟officer␟unit␟kind␟source␟item`, the path being the units the item counts at
/// (itself and its ancestors) joined by [`PATH_SEPARATOR`]. The path is derived from the
/// catalog, fixed for a generation, so removing the item later names the same member.
fn deadline_member(due: &Due, delta: &ItemDelta, path: &[&str]) -> Option<String> {
    let officer = due.officer.as_ref()?;
    let s = MEMBER_SEPARATOR;
    let path = path.join(&PATH_SEPARATOR.to_string());
    Some(format!(
        "{path}{s}{}{s}{}{s}{}{s}{}",
        officer.id,
        delta.unit,
        delta.kind.as_str(),
        delta.member()
    ))
}

/// The deadline engine's Lua, shared by the apply and advance scripts. A deadline member
/// `path␟officer␟unit␟…` (see [`deadline_member`]) is *counted* once its due time is before
/// the generation's `late_until` mark: then the officer's score in `late_officers:{u}` is
/// lowered by one at every unit `u` of the path (scores are minus the overdue count, so that
/// `ZRANGE 0 9` lists the most overdue first and ties by officer id), and the item's unit
/// gains one in `officer_units:{officer}`. Members at 0 are removed, so `ZCARD` is the number
/// of late officers. A count that would go below zero is reported (drift: rebuild).
const DEADLINE_LUA: &str = r#"
local function count_late(prefix, member, by)
  local path, officer, unit = string.match(member, '^([^\31]*)\31([^\31]*)\31([^\31]*)\31')
  if not path then return false end
  local drift = false
  for scope in string.gmatch(path, '[^\30]+') do
    local key = prefix .. 'late_officers:' .. scope
    local score = tonumber(redis.call('ZINCRBY', key, -by, officer))
    if score >= 0 then
      redis.call('ZREM', key, officer)
      if score > 0 then drift = true end
    end
  end
  local units = prefix .. 'officer_units:' .. officer
  local n = redis.call('HINCRBY', units, unit, by)
  if n <= 0 then
    redis.call('HDEL', units, unit)
    if n < 0 then drift = true end
  end
  return drift
end
local function late_until(prefix)
  return tonumber(redis.call('GET', prefix .. 'late_until') or '-1')
end
"#;

/// Applies ops atomically to one generation. KEYS: the generation pointer, the generation's
/// `applied` marker. ARGV: generation, seq, ops, mode, the generation's key prefix, and
/// optionally the marker expected before a range of rows whose ops were merged (`seq` is then
/// the range's last). Mode `live`: only while the generation is current, and only when `seq` is
/// past the marker (and the marker is the one expected), which then moves to `seq`. Mode
/// `build`: into a generation being built (not current yet). Returns -2 when the generation is
/// no longer current, -1 when it has no marker, -3 when the marker is not the one expected
/// (another replica wrote part of the range, or of one before it: nothing is written), 0 when
/// the rows were applied before, 1 when written, 2 when written but a total went below zero
/// (the aggregates have drifted from the truth).
const APPLY_SCRIPT_BODY: &str = r#"
if ARGV[4] == 'live' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return -2 end
local applied = redis.call('GET', KEYS[2])
if not applied then return -1 end
if tonumber(ARGV[2]) <= tonumber(applied) then return 0 end
if ARGV[6] and tonumber(ARGV[6]) ~= tonumber(applied) then return -3 end
local prefix = ARGV[5]
local negative = false
local ops = cjson.decode(ARGV[3])
for i = 1, #ops do
  local op = ops[i]
  local c = op[1]
  if c == 'H' then
    if redis.call('HINCRBY', op[2], op[3], op[4]) < 0 then negative = true end
  elseif c == 'E' then redis.call('EXPIREAT', op[2], op[3])
  elseif c == 'A' then redis.call('ZADD', op[2], op[3], op[4])
  elseif c == 'R' then redis.call('ZREM', op[2], op[3])
  elseif c == 'S' then redis.call('HSET', op[2], op[3], op[4])
  elseif c == 'DA' or c == 'DR' then
    -- A deadline enters or leaves; uncount its old entry and count its new one when late.
    local mark = late_until(prefix)
    local member = (c == 'DA') and op[4] or op[3]
    local old = redis.call('ZSCORE', op[2], member)
    if old then
      redis.call('ZREM', op[2], member)
      if tonumber(old) < mark and count_late(prefix, member, -1) then negative = true end
    end
    if c == 'DA' then
      redis.call('ZADD', op[2], op[3], member)
      if tonumber(op[3]) < mark and count_late(prefix, member, 1) then negative = true end
    end
  end
end
redis.call('SET', KEYS[2], ARGV[2])
if negative then return 2 end
return 1
"#;

/// Moves the `late_until` mark of one generation forward to now, counting every deadline
/// that passed meanwhile. ARGV: the generation's key prefix, now (Unix ms). Items due exactly
/// now are not late yet ("past its due time"). Returns how many deadlines passed; a clock
/// behind the mark (another replica's) moves nothing.
const ADVANCE_SCRIPT_BODY: &str = r#"
local prefix = ARGV[1]
local now = tonumber(ARGV[2])
if ARGV[3] and redis.call('GET', ARGV[3]) ~= ARGV[4] then return -1 end
local mark = redis.call('GET', prefix .. 'late_until')
if mark and tonumber(mark) >= now then return 0 end
local passed = redis.call('ZRANGEBYSCORE', prefix .. 'deadlines', mark or '-inf', '(' .. ARGV[2])
for i = 1, #passed do count_late(prefix, passed[i], 1) end
redis.call('SET', prefix .. 'late_until', ARGV[2])
return #passed
"#;

/// What happened to one outbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Written now.
    Now,
    /// Written now, but a total went below zero: the aggregates have drifted; rebuild.
    Negative,
    /// Already written before (by this or another replica).
    Before,
    /// The generation has no `applied` marker: rebuild.
    NoMarker,
    /// The generation is no longer the current one (another replica switched): reload.
    Superseded,
    /// The marker was not where a merged range expected it (another replica wrote part of
    /// the range or of one before it): nothing was written; read the outbox again past it.
    MarkerMoved,
}

fn applied_from(result: i64) -> Applied {
    match result {
        1 => Applied::Now,
        2 => Applied::Negative,
        0 => Applied::Before,
        -2 => Applied::Superseded,
        -3 => Applied::MarkerMoved,
        _ => Applied::NoMarker,
    }
}

/// The apply script, its hash computed once.
static SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(&format!("{DEADLINE_LUA}{APPLY_SCRIPT_BODY}")));

/// The deadline engine's advance script (run inside a summary's atomic read, by `EVAL`).
pub static ADVANCE_SCRIPT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{DEADLINE_LUA}{ADVANCE_SCRIPT_BODY}"));

/// Runs the merged ops of consecutive ranges of outbox rows (`(marker before the range, last
/// seq, ops)`), in order, in one round trip: each range's script checks that the marker is
/// where the range starts and advances it, so every row is written exactly once whatever
/// another replica does meanwhile (a range that finds the marker elsewhere writes nothing, nor
/// does any after it). The answers come in the ranges' order.
pub async fn apply_many(
    conn: &mut RedisLink,
    keys: &Keys,
    ranges: &[(i64, i64, &Ops)],
) -> redis::RedisResult<Vec<Applied>> {
    let generation = keys.generation().to_string();
    let mut pipe = redis::pipe();
    for (before, seq, ops) in ranges {
        pipe.cmd("EVALSHA")
            .arg(SCRIPT.get_hash())
            .arg(2)
            .arg(keys.current_generation())
            .arg(keys.applied())
            .arg(&generation)
            .arg(seq.to_string())
            .arg(ops.to_script_json())
            .arg("live")
            .arg(keys.generation_prefix())
            .arg(before.to_string());
    }
    let results: Vec<i64> = match pipe.query_async(conn).await {
        Ok(results) => results,
        // Redis lost its script cache (a restart): load the script, then the same pipeline
        // again. No row of the first attempt ran: EVALSHA of an unknown script writes nothing.
        Err(error)
            if error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
                || error.to_string().contains("NOSCRIPT") =>
        {
            SCRIPT.prepare_invoke().load_async(conn).await?;
            pipe.query_async(conn).await?
        }
        Err(error) => return Err(error),
    };
    Ok(results.into_iter().map(applied_from).collect())
}

/// Writes one outbox row's ops into a generation being built (catching up on the outbox after
/// its snapshot, [`SnapshotWriter`]), exactly once past its marker.
pub async fn build(
    conn: &mut RedisLink,
    keys: &Keys,
    seq: i64,
    ops: &Ops,
) -> redis::RedisResult<Applied> {
    let result: i64 = SCRIPT
        .key(keys.current_generation())
        .key(keys.applied())
        .arg(keys.generation().to_string())
        .arg(seq.to_string())
        .arg(ops.to_script_json())
        .arg("build")
        .arg(keys.generation_prefix())
        .invoke_async(conn)
        .await?;
    Ok(applied_from(result))
}

/// Writes a rebuild's snapshot into its generation being built, as plain commands in large
/// pipelines rather than through the apply script: nobody else writes to that generation and
/// its deadline engine has not counted anything yet (no `late_until`), so a deadline is a plain
/// `ZADD` and no marker is checked. Decoding the script's JSON and calling Redis from Lua cost
/// about twice the commands themselves.
///
/// Redis was then still the rebuild's bottleneck, at ~21 commands per item, most of them one
/// `HINCRBY` per bucket field and one `EXPIREAT` per bucket key and chunk. So the rebuild merges
/// many chunks' ops before writing ([`SnapshotWriter::MERGE_FIELDS`]), and a bucket key is
/// written with one `HSET` of all its fields and one `EXPIREAT`, the first time; only a key met
/// again after a flush gets `HINCRBY`s. Sorted-set members and officer names go as one `ZADD` or
/// `HSET` per key.
#[derive(Debug, Default)]
pub struct SnapshotWriter {
    /// Keys already written in this rebuild: later flushes add to them and leave their expiry.
    written: FxHashSet<String>,
}

impl SnapshotWriter {
    /// Merged counter fields at which the rebuild writes what it has (about 150 bytes each in
    /// the server's memory while merging).
    pub const MERGE_FIELDS: usize = 500_000;
    /// Arguments per pipeline: large enough to amortise the round trip, small enough not to
    /// hold a big buffer or Redis's attention for long.
    const ARGUMENTS_PER_PIPELINE: usize = 100_000;

    /// The pipelines that write `ops`, merged since the last flush.
    pub fn pipelines(&mut self, ops: Ops) -> Vec<redis::Pipeline> {
        let Ops { increments, expiries, ordered, .. } = ops;
        let mut commands: Vec<(redis::Cmd, usize)> = Vec::new();
        for (key, fields) in increments {
            let fields: Vec<(String, i64)> = fields.into_iter().filter(|(_, n)| *n != 0).collect();
            if fields.is_empty() {
                continue;
            }
            if self.written.contains(&key) {
                for (field, n) in fields {
                    commands
                        .push((redis::cmd("HINCRBY").arg(&key).arg(field).arg(n).to_owned(), 4));
                }
                continue;
            }
            let mut hset = redis::cmd("HSET");
            hset.arg(&key);
            for (field, n) in &fields {
                hset.arg(field).arg(*n);
            }
            commands.push((hset, 2 + 2 * fields.len()));
            if let Some(at) = expiries.get(&key) {
                commands.push((redis::cmd("EXPIREAT").arg(&key).arg(*at).to_owned(), 3));
            }
            self.written.insert(key);
        }
        // A snapshot only adds; should a removal ever be among the ops, they keep their order.
        if ordered.iter().any(|[op, ..]| op == "R" || op == "DR") {
            commands.extend(ordered.iter().map(|[op, key, a, b]| match op.as_str() {
                "A" | "DA" => (redis::cmd("ZADD").arg(key).arg(a).arg(b).to_owned(), 4),
                "R" | "DR" => (redis::cmd("ZREM").arg(key).arg(a).to_owned(), 3),
                _ => (redis::cmd("HSET").arg(key).arg(a).arg(b).to_owned(), 4),
            }));
        } else {
            // One command per (command, key), with its number of arguments.
            let mut grouped: HashMap<(&str, &str), (redis::Cmd, usize)> = HashMap::new();
            for [op, key, a, b] in &ordered {
                let command = if op == "A" || op == "DA" { "ZADD" } else { "HSET" };
                let (cmd, size) = grouped
                    .entry((command, key.as_str()))
                    .or_insert_with(|| (redis::cmd(command).arg(key).to_owned(), 2));
                cmd.arg(a).arg(b);
                *size += 2;
            }
            commands.extend(grouped.into_values());
        }

        let mut pipelines = Vec::new();
        let mut pipe = redis::pipe();
        let mut arguments = 0;
        for (command, size) in commands {
            pipe.add_command(command).ignore();
            arguments += size;
            if arguments >= Self::ARGUMENTS_PER_PIPELINE {
                pipelines.push(std::mem::replace(&mut pipe, redis::pipe()));
                arguments = 0;
            }
        }
        if arguments > 0 {
            pipelines.push(pipe);
        }
        pipelines
    }
}

/// Runs one of the pipelines of [`SnapshotWriter::pipelines`] (they go in order).
pub async fn write_pipeline(
    conn: &mut RedisLink,
    pipeline: redis::Pipeline,
) -> redis::RedisResult<()> {
    pipeline.query_async::<()>(conn).await
}

/// Deletes every key under the prefix, the pointer to the current generation last (what tests
/// do to lose the figures). An applier rebuilds once it sees no current generation; deleting the
/// pointer first let a rebuild start while the scan was still deleting, and the scan then
/// deleted part of the new generation (a screen showed 3 received but 1 open).
pub async fn clear(conn: &mut RedisLink, keys: &Keys) -> redis::RedisResult<()> {
    clear_prefix_except(conn, keys.prefix(), &keys.current_generation()).await?;
    redis::cmd("UNLINK").arg(keys.current_generation()).query_async(conn).await
}

/// Deletes every key starting with `prefix`, on any connection.
pub async fn clear_prefix<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    prefix: &str,
) -> redis::RedisResult<()> {
    clear_prefix_except(conn, prefix, "").await
}

/// Deletes every key starting with `prefix` but `kept`.
async fn clear_prefix_except<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    prefix: &str,
    kept: &str,
) -> redis::RedisResult<()> {
    let pattern = format!("{}*", escape_glob(prefix));
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
        let found: Vec<String> = found.into_iter().filter(|key| key != kept).collect();
        if !found.is_empty() {
            let _: i64 = redis::cmd("UNLINK").arg(&found).query_async(conn).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// Deletes every generation but the current one (old ones, and any left by a rebuild that
/// died half-way).
pub async fn clear_other_generations(conn: &mut RedisLink, keys: &Keys) -> redis::RedisResult<()> {
    let Some(current) = super::current(conn, keys).await? else { return Ok(()) };
    let keep = current.generation_prefix();
    let pattern = format!("{}g*", escape_glob(keys.prefix()));
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
        let stale: Vec<&String> = found
            .iter()
            .filter(|key| {
                let rest = &key[keys.prefix().len()..];
                let is_generation = rest
                    .strip_prefix('g')
                    .and_then(|r| r.split_once(':'))
                    .is_some_and(|(n, _)| n.parse::<u64>().is_ok());
                is_generation && !key.starts_with(&keep)
            })
            .collect();
        if !stale.is_empty() {
            let _: i64 = redis::cmd("UNLINK").arg(&stale).query_async(conn).await?;
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
pub async fn publish_changed(
    conn: &mut RedisLink,
    keys: &Keys,
    units: &BTreeSet<String>,
) -> redis::RedisResult<()> {
    let payload = serde_json::to_string(units).unwrap_or_else(|_| "[]".to_owned());
    let _: i64 =
        redis::cmd("PUBLISH").arg(keys.changed_channel()).arg(payload).query_async(conn).await?;
    Ok(())
}

/// Tells every replica that something of `unit` changed outside the applier (an alert, an
/// explanation request): the live views of the unit and of every unit above it are
/// recomputed. A lost announcement only delays those views until their next change; what
/// changed is stored.
pub async fn announce_unit(
    conn: &RedisLink,
    keys: &Keys,
    catalog: &crate::catalog::Catalog,
    unit: &str,
) {
    let units: BTreeSet<String> =
        catalog.self_and_ancestors(unit).into_iter().map(|u| u.code.clone()).collect();
    let mut conn = conn.clone();
    if let Err(error) = publish_changed(&mut conn, keys, &units).await {
        tracing::warn!(%error, unit, "change not announced");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The commands of a pipeline, as text.
    fn commands_of(pipelines: &[redis::Pipeline]) -> Vec<Vec<String>> {
        pipelines
            .iter()
            .flat_map(|pipe| pipe.cmd_iter())
            .map(|cmd| {
                cmd.args_iter()
                    .map(|arg| match arg {
                        redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                        _ => "<not simple>".to_owned(),
                    })
                    .collect()
            })
            .collect()
    }

    fn received(item: &str, unit: &str, at: i64, due_ms: i64) -> ItemDelta {
        ItemDelta {
            kind: ioc_shared::event::ItemKind::Dossier,
            source: "default".into(),
            item: item.into(),
            unit: unit.into(),
            counts: vec![crate::store::item::Count {
                at,
                counter: counter::DOSSIERS_RECEIVED.into(),
                n: 1,
            }],
            open: 1,
            remove_due: None,
            add_due: Some(Due { at_ms: due_ms, officer: None }),
        }
    }

    /// A rebuild writes a bucket key once with all its fields and its expiry, and a key it
    /// meets again after a flush with increments (no second expiry); due members go as one
    /// `ZADD` per set.
    #[test]
    fn a_snapshot_writes_each_bucket_once_then_adds_to_it() {
        let Ok(catalog) = Catalog::load(None) else { panic!("the built-in catalog loads") };
        let keys = Keys::new("t:").at(1);
        let now = ioc_shared::time::parse_rfc3339("2027-01-01T00:00:30+07:00")
            .map_or(0, |t| t.timestamp());
        let at = now - 60;
        let mut writer = SnapshotWriter::default();
        let mut ops = Ops::default();
        ops.add_delta(&keys, &catalog, &received("D1", "00004", at, 1_000), now);
        ops.add_delta(&keys, &catalog, &received("D2", "00004", at, 2_000), now);
        let first = commands_of(&writer.pipelines(ops));
        let day = keys.bucket(Granularity::Day, Granularity::Day.index(at), "00004");
        let writes_of = |commands: &[Vec<String>], name: &str, key: &str| -> Vec<Vec<String>> {
            commands.iter().filter(|c| c[0] == name && c[1] == key).cloned().collect()
        };
        assert_eq!(
            writes_of(&first, "HSET", &day),
            vec![vec![
                "HSET".to_owned(),
                day.clone(),
                counter::DOSSIERS_RECEIVED.to_owned(),
                "2".to_owned()
            ]]
        );
        assert_eq!(writes_of(&first, "EXPIREAT", &day).len(), 1);
        assert!(writes_of(&first, "HINCRBY", &day).is_empty());
        let due = keys.due("00004", ioc_shared::event::ItemKind::Dossier);
        let zadds = writes_of(&first, "ZADD", &due);
        assert_eq!(zadds.len(), 1, "one ZADD for both members: {zadds:?}");
        assert_eq!(zadds[0].len(), 6);

        let mut ops = Ops::default();
        ops.add_delta(&keys, &catalog, &received("D3", "00004", at, 3_000), now);
        let second = commands_of(&writer.pipelines(ops));
        assert_eq!(
            writes_of(&second, "HINCRBY", &day),
            vec![vec![
                "HINCRBY".to_owned(),
                day.clone(),
                counter::DOSSIERS_RECEIVED.to_owned(),
                "1".to_owned()
            ]]
        );
        assert!(
            writes_of(&second, "HSET", &day).is_empty()
                && writes_of(&second, "EXPIREAT", &day).is_empty()
        );
    }

    #[test]
    fn glob_characters_in_the_prefix_are_escaped() {
        assert_eq!(escape_glob("a*b?[c]"), "a\\*b\\?\\[c\\]");
    }
}
