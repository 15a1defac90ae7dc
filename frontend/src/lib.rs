//! The IOC dashboard and wall display: a Leptos app rendered in the browser.
//!
//! # Layout
//!
//! Each page is also built alone (`page-dashboard`, `page-wall`, `page-public`, `page-reports`
//! features), one
//! bundle per page; `assets/web/boot.js` loads the one for the address.
//!
//! - [`dashboard`]: `/` — login, then the overview of a scope with drill-down.
//! - [`wall`]: `/wall` — the wall display: pairing, a rotating playlist, freshness you can read
//!   from across the room, recovery without anyone touching it.
//! - [`live`]: the WebSocket connection that keeps the figures current.
//! - [`public`]: `/cong-khai` — the public disclosure page, no login.
//! - [`reports`]: `/bao-cao` — a unit's frozen reports, one opened with its signature checked.
//! - [`route`]: the scope on screen, kept in the URL (parsed and written by
//!   [`ioc_shared::route`]).
//! - [`api`]: plain HTTP calls.
//! - [`ui`]: colours by threshold and labels both screens use ([`ioc_shared::screen`]).
//! - [`act`]: acting on what the screens show — alerts, explanation requests, the wall's
//!   critical-alert banner.
//! - [`work`]: the work behind the numbers — the overview's panels, the list, officer and
//!   late-officer pages, the trend chart and sparklines.

// A one-page bundle leaves the other pages' helpers unused.
#![cfg_attr(
    not(all(
        feature = "page-dashboard",
        feature = "page-wall",
        feature = "page-public",
        feature = "page-reports"
    )),
    allow(dead_code, unused_imports)
)]

mod act;
mod api;
#[cfg(feature = "page-dashboard")]
mod dashboard;
mod live;
#[cfg(feature = "page-public")]
mod public;
#[cfg(feature = "page-reports")]
mod reports;
mod route;
mod ui;
#[cfg(feature = "page-wall")]
mod wall;
mod work;

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(start)]
pub fn start() {
    let path = web_sys::window().and_then(|w| w.location().pathname().ok()).unwrap_or_default();
    #[cfg(feature = "page-wall")]
    if path.starts_with("/wall") {
        return leptos::mount::mount_to_body(wall::Wall);
    }
    #[cfg(feature = "page-public")]
    if path.starts_with("/cong-khai") {
        return leptos::mount::mount_to_body(public::PublicPage);
    }
    #[cfg(feature = "page-reports")]
    if path.starts_with("/bao-cao") {
        return leptos::mount::mount_to_body(reports::ReportsPage);
    }
    #[cfg(feature = "page-dashboard")]
    leptos::mount::mount_to_body(dashboard::Dashboard);
    let _ = path;
}
