//! IOC server: a real-time operations dashboard server for city governments.
//!
//! Source systems push events; PostgreSQL keeps the truth; Redis keeps live aggregates; every
//! replica streams summaries to dashboards over WebSockets.
//!
//! # Layout
//!
//! Modules follow the data path of one event:
//!
//! 1. [`ingest`] — `POST /api/v1/events`: authenticate, parse, check each event.
//! 2. [`store`] — PostgreSQL: event log, item state, and the aggregate outbox, in one
//!    transaction. [`item`] is the per-item state machine that says what an item contributes.
//! 3. [`applier`] — outbox → Redis, exactly once, announcing changed units on pub/sub;
//!    [`aggregate`] owns the Redis key layout and writes.
//! 4. [`summary`] — reads a scope's figures for a window from Redis.
//! 5. [`live`] — the hub (one computation per changed scope, same bytes to every subscriber,
//!    deadline timers) and the WebSocket endpoint.
//! 6. [`app`] — state, router, start-up; [`config`] — flags and environment; [`catalog`] —
//!    the administrative-unit tree; [`simulator`] — the demo feed; [`error`] — API errors.
//!
//! Access: [`auth`] says who is calling and checks every request and subscription against
//! the caller's scope; [`accounts`] keeps people, sessions, displays, ingest keys and the audit
//! log in PostgreSQL; [`admin`] is the admin API and [`cli`] the `ioc user|key|display|audit`
//! commands.

pub mod accounts;
pub mod admin;
pub mod aggregate;
pub mod app;
pub mod applier;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod error;
pub mod ingest;
pub mod item;
pub mod live;
pub mod simulator;
pub mod store;
pub mod summary;

pub use app::{app, start, AppState, RunningServer, Settings};
