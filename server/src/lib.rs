//! IOC server: a real-time operations dashboard server for city governments.
//!
//! Source systems push events; PostgreSQL keeps the truth; Redis keeps live aggregates; every
//! replica streams summaries to dashboards over WebSockets.
//!
//! # Layout
//!
//! The folders follow one event from `POST /api/v1/events` to a screen:
//!
//! 1. [`ingest`] — checks each event of a batch (the contract, the catalog, the sender's key)
//!    and stores the valid ones through the replica's one writer ([`ingest::group`]: the
//!    batches waiting are stored in one transaction); [`ingest::body`] reads JSON arrays and NDJSON;
//!    [`ingest::open311`] turns a GeoReport request into a complaint.
//! 2. [`store`] — PostgreSQL, the truth: the event log and item state ([`store::events`]),
//!    the per-item state machine ([`store::item`]), the outbox and rebuild snapshots
//!    ([`store::outbox`]).
//! 3. [`apply`] — outbox → Redis, exactly once, announcing changed units on pub/sub.
//! 4. [`aggregate`] — the Redis key layout; [`aggregate::write`] changes it,
//!    [`aggregate::summary`] reads one scope's figures.
//! 5. [`live`] — [`live::hub`] computes each subscribed unit's windows once (coalesced, with
//!    deadline timers), [`live::feed`] follows Redis pub/sub, [`live::socket`] reads what each
//!    client sends, [`live::writer`] shards write to many clients at once, both in the terms
//!    of [`live::protocol`]; [`live::context`] is what they all share, [`live::credentials`]
//!    rechecks all live connections' credentials together.
//! 6. [`alerts`] — rules that watch the figures the live hub computes, and the alerts they
//!    raise, acknowledged and resolved ([`alerts::evaluate`] runs on every replica);
//!    [`explanations`] — what a leader asks a unit to explain, and the unit's answer.
//!    [`reports`] — frozen, signed reports of a unit over a week, month, quarter or year.
//! 7. [`http`] — the HTTP surface, one module per resource, merged in [`http::app`].
//!
//! Beside the data path:
//!
//! - [`notify`] — email and signed webhooks, queued in the transaction of their cause and
//!   delivered at least once by [`notify::deliver`].
//! - [`accounts`] — people, sessions, displays, ingest keys and the audit log;
//!   [`accounts::access`] is the scope check of every request and subscription,
//!   [`accounts::manage`] the management actions the admin API and the CLI share.
//! - [`settings`] and [`config`] — what the server needs and where it comes from (flags,
//!   environment); [`state`] — the shared [`AppState`] and its one clock; [`server`] —
//!   start-up, supervised background tasks and orderly shutdown.
//! - [`cli`] — the `ioc user|key|display|source|public|quarantine|unknown-units|report|audit` commands; `simulator` — the demo feed (built
//!   with the `demo` feature: `ioc demo`, which `scripts/demo.sh` runs).
//! - [`errors`] — how an error and its causes are written in the log.
//! - [`redis_link`] — the one link to Redis: a server, or the master a group of Sentinels
//!   names, followed across failovers.
//! - [`catalog`] — the administrative-unit tree; [`calendar`] — the working calendar that
//!   working-time deadlines are counted on. Time itself (the clock, local days, months,
//!   quarters) is `ioc_shared::time`.
//!
//! # Layers
//!
//! Imports go one way, from the bottom up (a test, `layering`, reads the source and fails on
//! any import against this order, and on two modules of one folder that import each other):
//!
//! `catalog`, `calendar`, `errors`, `metrics`, `redis_link`, `settings` → `config` → `store` → `aggregate` →
//! `accounts` → `notify` → `ingest` → `apply` → `live` → `alerts` → `explanations` → `reports` → `state` → `http` → `server`, `cli`, `simulator`.
//!
//! So the applier writes through the aggregate layout, never the reverse; accounts keep their
//! throttles under the aggregate key prefix; the live layer reads the applier's health; the
//! HTTP handlers take the state, which is built from everything below it.

pub mod accounts;
pub mod aggregate;
pub mod alerts;
pub mod apply;
pub mod calendar;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod errors;
pub mod explanations;
pub mod http;
pub mod ingest;
#[cfg(test)]
mod layering;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod redis_link;
pub mod reports;
pub mod server;
pub mod settings;
#[cfg(feature = "demo")]
pub mod simulator;
pub mod state;
pub mod store;

pub use http::app;
pub use server::{start, RunningServer};
pub use settings::Settings;
pub use state::AppState;
