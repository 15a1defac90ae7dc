//! Where a dashboard screen is, as its URL says it (`?unit=001&window=24h&lang=en`, plus
//! `view=list&kind=dossier&state=overdue`, `view=officer&officer=cb-7` or `view=officers`): read
//! from the query's parameters and written back, so that a link opens the same screen and the
//! browser's back button walks back. Pure; the dashboard supplies the browser's parameters and
//! URL encoding.

use crate::event::ItemKind;
use crate::format::Lang;
use crate::items::ListState;
use crate::summary::Window;

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

/// A screen of the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// `None` until the catalog's root is known.
    pub unit: Option<String>,
    pub window: Window,
    pub lang: Lang,
    pub view: View,
}

impl Route {
    /// The route a query's parameters name (`param` gives a parameter's value); missing, empty
    /// or unknown values fall back to the defaults.
    pub fn parse(param: impl Fn(&str) -> Option<String>) -> Route {
        let get = |name: &str| param(name).filter(|v| !v.is_empty());
        let view = match get("view").as_deref() {
            Some("list") => View::List {
                kind: get("kind").and_then(|k| ItemKind::parse(&k)).unwrap_or(ItemKind::Dossier),
                state: get("state")
                    .and_then(|s| ListState::parse(&s))
                    .unwrap_or(ListState::Overdue),
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
}

/// The query string of a screen (`?unit=…`); `encode` escapes a value for a URL component.
pub fn query(
    unit: &str,
    window: Window,
    lang: Lang,
    view: &View,
    encode: impl Fn(&str) -> String,
) -> String {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Reads a query the way a browser's URLSearchParams does, for these tests' plain values.
    fn parse(query: &str) -> Route {
        let params: HashMap<String, String> = query
            .trim_start_matches('?')
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.replace("%2F", "/")))
            .collect();
        Route::parse(|name| params.get(name).cloned())
    }

    fn encode(text: &str) -> String {
        text.replace('/', "%2F")
    }

    #[test]
    fn every_view_survives_a_round_trip_through_its_query() {
        let views = [
            View::Overview,
            View::List { kind: ItemKind::Complaint, state: ListState::ResolvedLate },
            View::Officer("cb/7".to_owned()),
            View::Officers,
        ];
        for view in views {
            for (window, lang) in [(Window::Hours24, Lang::En), (Window::Year, Lang::Vi)] {
                let written = query("00004", window, lang, &view, encode);
                let read = parse(&written);
                assert_eq!(
                    read,
                    Route { unit: Some("00004".to_owned()), window, lang, view: view.clone() },
                    "{written}"
                );
            }
        }
    }

    #[test]
    fn missing_or_unknown_values_fall_back_to_the_defaults() {
        let route = parse("?window=fortnight&view=list&kind=parcel&unit=");
        assert_eq!(route.unit, None);
        assert_eq!(route.window, Window::Today);
        assert_eq!(route.lang, Lang::Vi);
        assert_eq!(route.view, View::List { kind: ItemKind::Dossier, state: ListState::Overdue });
        assert_eq!(parse("?view=officer").view, View::Overview, "an officer page names one");
    }
}
