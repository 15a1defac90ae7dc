//! The IOC dashboard and wall display: a Leptos app rendered in the browser.
//!
//! # Layout
//!
//! - [`dashboard`]: `/` — login, then the overview of a scope with drill-down.
//! - [`wall`]: `/wall` — the wall display: pairing, a rotating playlist, freshness you can read
//!   from across the room, recovery without anyone touching it.
//! - [`live`]: the WebSocket connection that keeps the figures current.
//! - [`public`]: `/cong-khai` — the public disclosure page, no login.
//! - [`route`]: the scope on screen, kept in the URL (parsed and written by
//!   [`ioc_shared::route`]).
//! - [`api`]: plain HTTP calls.
//! - [`ui`]: colours by threshold and labels both screens use ([`ioc_shared::screen`]).
//! - [`work`]: the work behind the numbers — the overview's panels, the list, officer and
//!   late-officer pages, the trend chart and sparklines.

mod api;
mod dashboard;
mod live;
mod public;
mod route;
mod ui;
mod wall;
mod work;

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(start)]
pub fn start() {
    let path = web_sys::window().and_then(|w| w.location().pathname().ok()).unwrap_or_default();
    if path.starts_with("/wall") {
        leptos::mount::mount_to_body(wall::Wall);
    } else if path.starts_with("/cong-khai") {
        leptos::mount::mount_to_body(public::PublicPage);
    } else {
        leptos::mount::mount_to_body(dashboard::Dashboard);
    }
}
