//! Pieces both screens use. What they show and when it counts as old is decided in
//! [`ioc_shared::screen`] (pure, tested natively); this module adds what needs the browser.

pub use ioc_shared::screen::*;

/// Reloads the page (after logout, or when the session or display is gone).
pub fn reload() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

/// Marks the page's language (`<html lang>`, read by screen readers and translators) and sets
/// its title.
pub fn set_document(lang: ioc_shared::format::Lang, title: &str) {
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        document.set_title(title);
        if let Some(root) = document.document_element() {
            let _ = root.set_attribute("lang", lang.code());
        }
    }
}
