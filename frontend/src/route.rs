//! The screen lives in the URL (`?unit=001&window=24h&lang=en`, plus `view=list&kind=dossier&
//! state=overdue` or `view=officer&officer=cb-7`), so a link opens it and the browser's back
//! button walks back.

use ioc_shared::event::ItemKind;
use ioc_shared::format::Lang;
use ioc_shared::items::ListState;
use ioc_shared::summary::Window;

/// Which page of a scope is shown.
#[derive(Debug, Clone, PartialEq)]
pub enum View {
    Overview,
    /// The items behind a count.
    List {
        kind: ItemKind,
        state: ListState,
    },
    /// One officer's work in the scope.
    Officer(String),
    /// The late officers of the scope.
    Officers,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// `None` until the catalog's root is known.
    pub unit: Option<String>,
    pub window: Window,
    pub lang: Lang,
    pub view: View,
}

fn params() -> Option<web_sys::UrlSearchParams> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search).ok()
}

/// The route in the current URL; missing or unknown values fall back to the defaults.
pub fn read() -> Route {
    let params = params();
    let get = |name: &str| params.as_ref().and_then(|p| p.get(name)).filter(|v| !v.is_empty());
    let view = match get("view").as_deref() {
        Some("list") => View::List {
            kind: get("kind").and_then(|k| ItemKind::parse(&k)).unwrap_or(ItemKind::Dossier),
            state: get("state").and_then(|s| ListState::parse(&s)).unwrap_or(ListState::Overdue),
        },
        Some("officer") => get("officer").map(View::Officer).unwrap_or(View::Overview),
        Some("officers") => View::Officers,
        _ => View::Overview,
    };
    Route {
        unit: get("unit"),
        window: get("window").and_then(|w| Window::parse(&w)).unwrap_or(Window::Today),
        lang: get("lang").map(|l| Lang::parse(&l)).unwrap_or_default(),
        view,
    }
}

fn encode(text: &str) -> String {
    js_sys::encode_uri_component(text).as_string().unwrap_or_default()
}

/// The query string for a route.
pub fn href(unit: &str, window: Window, lang: Lang, view: &View) -> String {
    let mut query = format!("?unit={}&window={}", encode(unit), window.as_str());
    match view {
        View::Overview => {}
        View::List { kind, state } => {
            query.push_str(&format!("&view=list&kind={}&state={}", kind.as_str(), state.as_str()))
        }
        View::Officer(id) => query.push_str(&format!("&view=officer&officer={}", encode(id))),
        View::Officers => query.push_str("&view=officers"),
    }
    if lang == Lang::En {
        query.push_str("&lang=en");
    }
    query
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
