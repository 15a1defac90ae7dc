//! The scope on screen lives in the URL (`?unit=001&window=24h&lang=en`), so a link opens it
//! and the browser's back button walks back up the tree.

use ioc_shared::format::Lang;
use ioc_shared::summary::Window;

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// `None` until the catalog's root is known.
    pub unit: Option<String>,
    pub window: Window,
    pub lang: Lang,
}

fn params() -> Option<web_sys::UrlSearchParams> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search).ok()
}

/// The route in the current URL; missing or unknown values fall back to the defaults.
pub fn read() -> Route {
    let params = params();
    let get = |name: &str| params.as_ref().and_then(|p| p.get(name)).filter(|v| !v.is_empty());
    Route {
        unit: get("unit"),
        window: get("window").and_then(|w| Window::parse(&w)).unwrap_or(Window::Today),
        lang: get("lang").map(|l| Lang::parse(&l)).unwrap_or_default(),
    }
}

/// The query string for a route.
pub fn href(unit: &str, window: Window, lang: Lang) -> String {
    let mut query = format!("?unit={unit}&window={}", window.as_str());
    if lang == Lang::En {
        query.push_str("&lang=en");
    }
    query
}

/// Records the route in the address bar (a new history entry) unless it is already there.
pub fn write(unit: &str, window: Window, lang: Lang) {
    let Some(browser) = web_sys::window() else { return };
    let wanted = href(unit, window, lang);
    if browser.location().search().ok().as_deref() == Some(wanted.as_str()) {
        return;
    }
    if let Ok(history) = browser.history() {
        let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&wanted));
    }
}
