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

use leptos::prelude::*;

/// One row of a live list. `key` holds everything the row shows: a row whose key is unchanged
/// keeps its DOM nodes across live updates, so a tap that lands during one still hits it
/// (regression: the inbox's rows were drawn anew at every change of the figures).
pub struct Row {
    key: String,
    draw: Box<dyn FnOnce() -> AnyView + Send>,
}

impl Row {
    pub fn new(key: String, draw: impl FnOnce() -> AnyView + Send + 'static) -> Row {
        Row { key, draw: Box::new(draw) }
    }
}

/// The rows `rows` gives, keyed: not generic, so every live list shares one copy of the keyed
/// list in the download.
pub fn keyed(rows: Box<dyn Fn() -> Vec<Row> + Send>) -> AnyView {
    view! { <For each=rows key=|row: &Row| row.key.clone() children=|row: Row| (row.draw)() /> }
        .into_any()
}
