//! Types shared by the IOC server, its dashboard and its tools.
//!
//! # Layout
//!
//! - [`access`]: roles, the caller as the dashboard sees it, wall playlists.
//! - [`alerts`]: alert rules and alerts (`/api/v1/alerts/*`, the live `alerts` view).
//! - [`calendar`]: working time (working hours, days off, compensatory working days) and
//!   deadlines given in it.
//! - [`event`]: the ingest contract — the event envelope, its per-type fields, and
//!   [`event::parse_event`], which turns one JSON value into a checked [`event::Event`] or a
//!   reason a source-system operator can act on.
//! - [`summary`]: the figures of one scope and window, exactly as `GET
//!   /api/v1/units/{code}/summary` and the live WebSocket carry them.
//! - [`live`]: the WebSocket messages in both directions.
//! - [`public`]: the public disclosure board and its open data.
//! - [`invalid`]: the error of every check of an input: a message for its sender.
//! - [`format`](mod@format): Vietnamese (default) and English number, duration and date formats.
//! - [`route`]: the dashboard's screen as its URL names it, read and written.
//! - [`screen`]: what the dashboard and the wall show — tiles, thresholds, change badges, the
//!   freshness rule — decided once, as pure functions.
//! - [`report`]: frozen reports, their listings and schedules; [`signature`] (feature
//!   `signatures`) checks a report's digest and Ed25519 signature.
//! - [`time`]: the city's local time zone and the RFC 3339 helpers both sides use.
//!
//! Nothing here depends on a server runtime, so the wasm dashboard compiles it as is.

pub mod access;
pub mod alerts;
pub mod annotation;
pub mod calendar;
pub mod event;
pub mod explanations;
pub mod format;
pub mod invalid;
pub mod items;
pub mod live;
pub mod public;
pub mod report;
pub mod route;
pub mod score;
pub mod screen;
#[cfg(feature = "signatures")]
pub mod signature;
pub mod summary;
pub mod time;

pub use summary::Window;
