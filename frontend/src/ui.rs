//! Pieces both screens use. What they show and when it counts as old is decided in
//! [`ioc_shared::screen`] (pure, tested natively); this module adds what needs the browser.

pub use ioc_shared::screen::*;

/// Reloads the page (after logout, or when the session or display is gone).
pub fn reload() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}
