//! The screen lives in the URL (`?unit=001&window=24h&lang=en`, plus `view=list&kind=dossier&
//! state=overdue` or `view=officer&officer=cb-7`), so a link opens it and the browser's back
//! button walks back.

use ioc_shared::format::Lang;
use ioc_shared::summary::Window;

pub use ioc_shared::route::{Route, View};

/// The address's query parameters.
pub(crate) fn params() -> Option<web_sys::UrlSearchParams> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search).ok()
}

/// The route in the current URL; missing or unknown values fall back to the defaults.
pub fn read() -> Route {
    let params = params();
    Route::parse(|name| params.as_ref().and_then(|p| p.get(name)))
}

/// `text` made safe for a URL's query or path.
pub(crate) fn encode(text: &str) -> String {
    js_sys::encode_uri_component(text).as_string().unwrap_or_default()
}

/// The query string for a route.
pub fn href(unit: &str, window: Window, lang: Lang, view: &View) -> String {
    ioc_shared::route::query(unit, window, lang, view, encode)
}

/// Records the route in the address bar (a new history entry) unless it is already there.
pub fn write(unit: &str, window: Window, lang: Lang, view: &View) {
    let Some(browser) = web_sys::window() else { return };
    let wanted = href(unit, window, lang, view);
    if browser.location().search().ok().as_deref() == Some(wanted.as_str()) {
        return;
    }
    if let Ok(history) = browser.history() {
        let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&wanted));
    }
}
