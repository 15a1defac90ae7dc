//! Where a dashboard screen is, as its URL says it (`?unit=001&window=24h&lang=en`, plus
//! `view=list&kind=dossier&state=overdue`, `view=officer&officer=cb-7` or `view=officers`, and
//! for a list past its first page `page=3` with the list's `cursor=…`): read
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
        page: ListPage,
    },
    /// One officer's work in the scope.
    Officer(String),
    /// The late officers of the scope, at page `page` (1 = the first) of
    /// [`OFFICERS_PER_PAGE`].
    Officers {
        page: u32,
    },
    /// The explanation requests of the scope (yêu cầu giải trình).
    Inbox,
}

/// Officers per page of the late officers' list.
pub const OFFICERS_PER_PAGE: u32 = 50;

/// The last page number an address may name: the officers' API pages up to offset 100,000.
pub const MAX_PAGE: u32 = 100_000 / OFFICERS_PER_PAGE + 1;

/// Where a list of items is: pages follow the server's cursors, so that a page holds the same
/// items while the list changes; the number is what the pager shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// 1 for the first page.
    pub number: u32,
    /// The server's cursor of this page; `None` on the first.
    pub cursor: Option<String>,
}

impl ListPage {
    pub const FIRST: ListPage = ListPage { number: 1, cursor: None };
}

impl View {
    /// The same view at its first page: which page component is on screen (turning a page
    /// keeps the component and its state).
    pub fn first_page(&self) -> View {
        match self {
            View::List { kind, state, .. } => {
                View::List { kind: *kind, state: *state, page: ListPage::FIRST }
            }
            View::Officers { .. } => View::Officers { page: 1 },
            other => other.clone(),
        }
    }

    /// A list of one kind and state, at its first page.
    pub fn list(kind: ItemKind, state: ListState) -> View {
        View::List { kind, state, page: ListPage::FIRST }
    }
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
        // A page number past the first; anything else is the first page.
        let number =
            get("page").and_then(|p| p.parse::<u32>().ok()).filter(|n| (2..=MAX_PAGE).contains(n));
        let view = match get("view").as_deref() {
            Some("list") => View::List {
                kind: get("kind").and_then(|k| ItemKind::parse(&k)).unwrap_or(ItemKind::Dossier),
                state: get("state")
                    .and_then(|s| ListState::parse(&s))
                    .unwrap_or(ListState::Overdue),
                // A later page is reached through its cursor; without one, the first.
                page: match (number, get("cursor")) {
                    (Some(number), Some(cursor)) => ListPage { number, cursor: Some(cursor) },
                    _ => ListPage::FIRST,
                },
            },
            Some("officer") => get("officer").map(View::Officer).unwrap_or(View::Overview),
            Some("officers") => View::Officers { page: number.unwrap_or(1) },
            Some("inbox") => View::Inbox,
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
        View::List { kind, state, page } => {
            query.push_str(&format!("&view=list&kind={}&state={}", kind.as_str(), state.as_str()));
            if let (Some(cursor), true) = (&page.cursor, page.number > 1) {
                query.push_str(&format!("&page={}&cursor={}", page.number, encode(cursor)));
            }
        }
        View::Officer(id) => query.push_str(&format!("&view=officer&officer={}", encode(id))),
        View::Officers { page } => {
            query.push_str("&view=officers");
            if *page > 1 {
                query.push_str(&format!("&page={page}"));
            }
        }
        View::Inbox => query.push_str("&view=inbox"),
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
            View::list(ItemKind::Complaint, ListState::ResolvedLate),
            View::List {
                kind: ItemKind::Dossier,
                state: ListState::Overdue,
                page: ListPage { number: 4, cursor: Some("2026-11-02T01:00:00Z/D/7".to_owned()) },
            },
            View::Officer("cb/7".to_owned()),
            View::Officers { page: 1 },
            View::Officers { page: 12 },
            View::Inbox,
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
        assert_eq!(route.view, View::list(ItemKind::Dossier, ListState::Overdue));
        assert_eq!(parse("?view=officer").view, View::Overview, "an officer page names one");
    }

    #[test]
    fn a_page_number_out_of_range_or_without_its_cursor_is_the_first_page() {
        for query in ["?view=officers&page=0", "?view=officers&page=x", "?view=officers&page=-2"] {
            assert_eq!(parse(query).view, View::Officers { page: 1 }, "{query}");
        }
        let past_the_api = format!("?view=officers&page={}", MAX_PAGE + 1);
        assert_eq!(parse(&past_the_api).view, View::Officers { page: 1 });
        assert_eq!(
            parse(&format!("?view=officers&page={MAX_PAGE}")).view,
            View::Officers { page: MAX_PAGE }
        );
        assert_eq!(
            parse("?view=list&kind=task&state=open&page=3").view,
            View::list(ItemKind::Task, ListState::Open),
            "a later list page needs its cursor"
        );
        // The first page never carries a cursor in its address.
        let first = View::List {
            kind: ItemKind::Task,
            state: ListState::Open,
            page: ListPage { number: 1, cursor: Some("c".to_owned()) },
        };
        assert!(!query("1", Window::Today, Lang::Vi, &first, encode).contains("cursor"));
    }
}
