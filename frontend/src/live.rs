//! The live connection: one WebSocket carrying the subscriptions the screen needs (one scope
//! on the dashboard, every view of the playlist on a wall), reconnecting forever with
//! exponential backoff and jitter, resubscribing on every reconnect.
//!
//! Handlers are owned by the client and replaced on each reconnect (never leaked with
//! `forget`), and only the newest snapshot of each subscription is kept, so a screen that runs
//! for months does not grow with updates or outages.

use ioc_shared::live::{ClientMessage, View, HEARTBEAT_SECONDS};
use ioc_shared::summary::{Summary, Window};
use leptos::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

/// Longest wait between reconnect attempts (plus up to 25 % jitter): a wall is live again
/// within 10 s of the server coming back.
const MAX_BACKOFF_MS: f64 = 6_000.0;
/// First wait after a drop.
const FIRST_BACKOFF_MS: f64 = 500.0;
/// Silence after which an open connection is taken for dead and reopened.
const SILENCE_LIMIT_MS: f64 = (HEARTBEAT_SECONDS * 4 * 1000) as f64;
/// While cut off, how often to ask the server whether the credential still exists (a logged
/// out session or a revoked display never gets its connection back).
const CREDENTIAL_CHECK_EVERY_MS: f64 = 15_000.0;

/// A subscription: a unit and a window.
pub type Scope = (String, Window);

pub use ioc_shared::screen::{ConnState, Feed};

/// An open alert as a screen shows it, read from the `alerts` message field by field (serde's
/// decoder of the whole alert would cost the download several KB).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertView {
    pub id: i64,
    pub rule: String,
    pub unit_code: String,
    pub unit_name: String,
    pub metric: String,
    /// `None` when the message lacks it (never shown as 0).
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub op: String,
    pub critical: bool,
    /// Not acknowledged yet (the live view never says by whom: walls subscribe too).
    pub firing: bool,
}

impl AlertView {
    fn read(alert: &JsValue) -> Option<AlertView> {
        let text = |object: &JsValue, name: &str| field(object, name).as_string();
        let rule = field(alert, "rule");
        let unit = field(alert, "unit");
        Some(AlertView {
            id: field(alert, "id").as_f64()? as i64,
            rule: text(&rule, "name")?,
            unit_code: text(&unit, "code")?,
            unit_name: text(&unit, "name")?,
            metric: text(alert, "metric")?,
            value: field(alert, "value").as_f64(),
            threshold: field(alert, "threshold").as_f64(),
            op: text(alert, "op")?,
            critical: text(alert, "severity")? == "critical",
            firing: text(alert, "state")? == "firing",
        })
    }
}

/// Where the connection reports to the screen.
#[derive(Clone, Copy)]
pub struct LiveSignals {
    /// The newest snapshot of each wanted scope.
    pub snapshots: RwSignal<HashMap<Scope, Summary>>,
    pub state: RwSignal<ConnState>,
    /// `Date.now()` of the last message from the server (snapshot or heartbeat).
    pub last_message_ms: RwSignal<Option<f64>>,
    /// What the last heartbeat said about the figures: live or not, how far behind, and the
    /// silent sources feeding the subscribed units.
    pub feed: RwSignal<Feed>,
    /// The open alerts of the unit followed with [`LiveClient::follow_alerts`], as last pushed
    /// (the unit they are of, and the alerts in the order a leader reads them).
    pub alerts: RwSignal<Option<(String, Vec<AlertView>)>>,
}

impl LiveSignals {
    pub fn new() -> LiveSignals {
        LiveSignals {
            snapshots: RwSignal::new(HashMap::new()),
            state: RwSignal::new(ConnState::Connecting),
            last_message_ms: RwSignal::new(None),
            feed: RwSignal::new(Feed::default()),
            alerts: RwSignal::new(None),
        }
    }
}

#[derive(Clone)]
pub struct LiveClient {
    inner: Rc<RefCell<Inner>>,
}

struct Inner {
    signals: LiveSignals,
    socket: Option<WebSocket>,
    /// Kept alive while `socket` may call them; dropped only when replaced.
    handlers: Option<Handlers>,
    /// The scopes the screen shows.
    wanted: Vec<Scope>,
    /// The scopes subscribed on the current socket.
    subscribed: Vec<Scope>,
    /// The unit whose open alerts the screen shows, and the one subscribed on the socket.
    alerts_wanted: Option<String>,
    alerts_subscribed: Option<String>,
    /// The figures of each subscribed scope as snapshots and deltas left them (a version and
    /// the browser's JSON object of the summary); older snapshots are ignored.
    figures: HashMap<Scope, (u64, JsValue)>,
    attempts: u32,
    reconnect_pending: bool,
    /// Called when the server says the credential is gone (`{"me": null}` from `/api/v1/session`).
    on_credential_lost: Rc<dyn Fn()>,
    /// `Date.now()` of the last credential check.
    last_credential_check_ms: f64,
}

struct Handlers {
    _open: Closure<dyn FnMut(Event)>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
}

impl LiveClient {
    /// Connects; `on_credential_lost` runs when, while cut off, the server says the session or
    /// display no longer exists.
    pub fn start(signals: LiveSignals, on_credential_lost: impl Fn() + 'static) -> LiveClient {
        let client = LiveClient {
            inner: Rc::new(RefCell::new(Inner {
                signals,
                socket: None,
                handlers: None,
                wanted: Vec::new(),
                subscribed: Vec::new(),
                alerts_wanted: None,
                alerts_subscribed: None,
                figures: HashMap::new(),
                attempts: 0,
                reconnect_pending: false,
                on_credential_lost: Rc::new(on_credential_lost),
                last_credential_check_ms: 0.0,
            })),
        };
        client.connect();
        client
    }

    /// Shows exactly these scopes from now on; snapshots of others are dropped.
    pub fn show(&self, scopes: Vec<Scope>) {
        let mut inner = self.inner.borrow_mut();
        if inner.wanted == scopes {
            return;
        }
        inner.figures.retain(|scope, _| scopes.contains(scope));
        inner.signals.snapshots.update(|map| map.retain(|scope, _| scopes.contains(scope)));
        inner.wanted = scopes;
        inner.sync_subscriptions();
    }

    /// Shows the open alerts of `unit` (and the units below it) from now on; `None`: none.
    pub fn follow_alerts(&self, unit: Option<String>) {
        let mut inner = self.inner.borrow_mut();
        if inner.alerts_wanted == unit {
            return;
        }
        inner.signals.alerts.set(None);
        inner.alerts_wanted = unit;
        inner.sync_subscriptions();
    }

    /// Called every second: reopens a connection that has gone silent, and while cut off checks
    /// now and then that the credential still exists.
    pub fn watchdog(&self, now_ms: f64) {
        self.check_credential_while_cut_off(now_ms);
        let dead = {
            let inner = self.inner.borrow();
            let silent = inner
                .signals
                .last_message_ms
                .get_untracked()
                .is_none_or(|t| now_ms - t > SILENCE_LIMIT_MS);
            inner.signals.state.get_untracked() == ConnState::Live && silent
        };
        if dead {
            let socket = self.inner.borrow().socket.clone();
            if let Some(socket) = socket {
                let _ = socket.close();
            }
        }
    }

    fn check_credential_while_cut_off(&self, now_ms: f64) {
        let on_lost = {
            let mut inner = self.inner.borrow_mut();
            let cut_off = inner.signals.state.get_untracked() != ConnState::Live;
            if !cut_off || now_ms - inner.last_credential_check_ms <= CREDENTIAL_CHECK_EVERY_MS {
                return;
            }
            inner.last_credential_check_ms = now_ms;
            inner.on_credential_lost.clone()
        };
        leptos::task::spawn_local(async move {
            if matches!(crate::api::signed().await, Ok((crate::api::Signed::Nobody, _))) {
                on_lost();
            }
        });
    }

    fn connect(&self) {
        let Some(url) = socket_url("/api/v1/live") else { return };
        let socket = match WebSocket::new(&url) {
            Ok(socket) => socket,
            Err(_) => {
                self.schedule_reconnect();
                return;
            }
        };
        let on_open = {
            let client = self.clone();
            Closure::<dyn FnMut(Event)>::new(move |_| {
                let mut inner = client.inner.borrow_mut();
                inner.attempts = 0;
                inner.subscribed.clear();
                inner.alerts_subscribed = None;
                inner.signals.state.set(ConnState::Live);
                inner.signals.last_message_ms.set(Some(js_sys::Date::now()));
                inner.sync_subscriptions();
            })
        };
        let on_message = {
            let client = self.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                if let Some(text) = event.data().as_string() {
                    client.inner.borrow_mut().receive(&text);
                }
            })
        };
        let on_close = {
            let client = self.clone();
            Closure::<dyn FnMut(CloseEvent)>::new(move |_| {
                {
                    let mut inner = client.inner.borrow_mut();
                    inner.signals.state.set(ConnState::Disconnected);
                    inner.subscribed.clear();
                    inner.alerts_subscribed = None;
                }
                client.schedule_reconnect();
            })
        };
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        let mut inner = self.inner.borrow_mut();
        if let Some(old) = inner.socket.take() {
            old.set_onopen(None);
            old.set_onmessage(None);
            old.set_onclose(None);
            let _ = old.close();
        }
        inner.socket = Some(socket);
        inner.handlers = Some(Handlers { _open: on_open, _message: on_message, _close: on_close });
        if inner.signals.state.get_untracked() != ConnState::Disconnected {
            inner.signals.state.set(ConnState::Connecting);
        }
    }

    fn schedule_reconnect(&self) {
        let delay_ms = {
            let mut inner = self.inner.borrow_mut();
            if inner.reconnect_pending {
                return;
            }
            inner.reconnect_pending = true;
            let delay = reconnect_delay_ms(inner.attempts, MAX_BACKOFF_MS);
            inner.attempts += 1;
            delay
        };
        let client = self.clone();
        set_timeout(
            move || {
                client.inner.borrow_mut().reconnect_pending = false;
                client.connect();
            },
            Duration::from_millis(delay_ms as u64),
        );
    }
}

impl Inner {
    fn send(&self, message: &ClientMessage) {
        if let (Some(socket), Some(text)) = (&self.socket, crate::api::to_json(message)) {
            let _ = socket.send_with_str(&text);
        }
    }

    /// Makes the socket's subscriptions match what the screen wants.
    fn sync_subscriptions(&mut self) {
        let open = self.socket.as_ref().is_some_and(|s| s.ready_state() == WebSocket::OPEN);
        if !open {
            return;
        }
        for (unit, window) in self.subscribed.clone() {
            if !self.wanted.contains(&(unit.clone(), window)) {
                self.send(&ClientMessage::Unsubscribe {
                    unit,
                    window: Some(window),
                    view: Default::default(),
                });
            }
        }
        for (unit, window) in self.wanted.clone() {
            if !self.subscribed.contains(&(unit.clone(), window)) {
                self.send(&ClientMessage::Subscribe {
                    unit,
                    window: Some(window),
                    view: Default::default(),
                    deltas: true,
                });
            }
        }
        self.subscribed = self.wanted.clone();
        if self.alerts_subscribed != self.alerts_wanted {
            if let Some(unit) = self.alerts_subscribed.take() {
                self.send(&ClientMessage::Unsubscribe { unit, window: None, view: View::Alerts });
            }
            if let Some(unit) = self.alerts_wanted.clone() {
                self.send(&ClientMessage::Subscribe {
                    unit: unit.clone(),
                    window: None,
                    view: View::Alerts,
                    deltas: false,
                });
                self.alerts_subscribed = Some(unit);
            }
        }
    }

    fn receive(&mut self, text: &str) {
        let Ok(value) = js_sys::JSON::parse(text) else { return };
        self.signals.last_message_ms.set(Some(js_sys::Date::now()));
        // Each kind read from the browser's JSON object by its `type` (the messages of
        // `ServerMessage`, without its decoder in the download).
        match field(&value, "type").as_string().as_deref() {
            Some("snapshot") => self.receive_snapshot(&value),
            Some("delta") => self.receive_delta(&value),
            Some("alerts") => self.receive_alerts(&value),
            Some("heartbeat") => {
                if let Ok(feed) = serde_wasm_bindgen::from_value::<Feed>(value) {
                    if self.signals.feed.get_untracked() != feed {
                        self.signals.feed.set(feed);
                    }
                }
            }
            Some("error") => {
                let message = field(&value, "message").as_string().unwrap_or_default();
                web_sys::console::warn_1(&format!("IOC server: {message}").into());
            }
            // Screens subscribe to summaries and alerts only; a score message is not theirs.
            _ => {}
        }
    }
}

impl Inner {
    /// Takes the open alerts of the followed unit.
    fn receive_alerts(&mut self, message: &JsValue) {
        let Some(unit) = field(message, "unit").as_string() else { return };
        if self.alerts_wanted.as_deref() != Some(unit.as_str()) {
            return;
        }
        let Ok(alerts) = field(&field(message, "data"), "alerts").dyn_into::<js_sys::Array>()
        else {
            return;
        };
        let alerts = alerts.iter().filter_map(|alert| AlertView::read(&alert)).collect();
        self.signals.alerts.set(Some((unit, alerts)));
    }

    /// Takes a snapshot's figures, unless a newer version is already shown.
    fn receive_snapshot(&mut self, message: &JsValue) {
        let Some((scope, version)) = self.wanted_scope(message, "version") else { return };
        if self.figures.get(&scope).is_some_and(|(seen, _)| *seen as f64 >= version) {
            return;
        }
        let document = field(message, "data");
        let Ok(summary) = serde_wasm_bindgen::from_value::<Summary>(document.clone()) else {
            return;
        };
        self.figures.insert(scope.clone(), (version as u64, document));
        self.signals.snapshots.update(|map| {
            map.insert(scope, summary);
        });
    }

    /// The scope a snapshot or delta is for, if the screen shows it, and its `number_field`.
    fn wanted_scope(&self, message: &JsValue, number_field: &str) -> Option<(Scope, f64)> {
        let unit = field(message, "unit").as_string()?;
        let window = Window::parse(&field(message, "window").as_string()?)?;
        let scope = (unit, window);
        let number = field(message, number_field).as_f64()?;
        self.wanted.contains(&scope).then_some((scope, number))
    }

    /// Applies a delta to the scope's figures, or, when the copy is not at the delta's base (a
    /// missed message) or the patch does not fit, subscribes again for the whole snapshot.
    fn receive_delta(&mut self, message: &JsValue) {
        let Some((scope, version)) = self.wanted_scope(message, "version") else { return };
        let base = field(message, "base").as_f64();
        let applied = match (self.figures.get_mut(&scope), base) {
            (Some((have, document)), Some(base)) if *have as f64 == base => {
                let patched = apply_patch(document, &field(message, "changes"));
                patched
                    .and_then(|()| serde_wasm_bindgen::from_value::<Summary>(document.clone()).ok())
                    .inspect(|_| {
                        *have = version as u64;
                    })
            }
            _ => None,
        };
        match applied {
            Some(summary) => self.signals.snapshots.update(|map| {
                map.insert(scope, summary);
            }),
            None => {
                self.figures.remove(&scope);
                self.send(&ClientMessage::Subscribe {
                    unit: scope.0,
                    window: Some(scope.1),
                    view: Default::default(),
                    deltas: true,
                });
            }
        }
    }
}

/// The wait before reconnect attempt `attempts` (0 = the first): doubling from
/// [`FIRST_BACKOFF_MS`] up to `max_ms`, with ±25 % jitter so a hundred screens do not reconnect
/// in the same millisecond.
pub(crate) fn reconnect_delay_ms(attempts: u32, max_ms: f64) -> f64 {
    let base = (FIRST_BACKOFF_MS * 2_f64.powi(attempts.min(10) as i32)).min(max_ms);
    base * (0.75 + js_sys::Math::random() * 0.5)
}

/// A field of a JSON object the browser parsed (`undefined` when absent).
pub(crate) fn field(object: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// Applies the RFC 6902 operations the server sends (`add`, `remove`, `replace`) to a JSON
/// object in place. This is the browser-side twin of [`ioc_shared::live::ScopeFigures::apply`]
/// (which uses the `json-patch` crate), written against JavaScript objects so that the
/// dashboard's WebAssembly needs neither a JSON value type nor a patch decoder. On `None` the
/// document may be half patched; the caller then drops it and asks for a snapshot.
fn apply_patch(document: &mut JsValue, changes: &JsValue) -> Option<()> {
    let changes: &js_sys::Array = changes.dyn_ref()?;
    for change in changes.iter() {
        let op = field(&change, "op").as_string()?;
        let path = field(&change, "path").as_string()?;
        let value = field(&change, "value");
        if path.is_empty() {
            if op == "remove" {
                return None;
            }
            *document = value;
            continue;
        }
        // JSON Pointer: "/a/b", with `~1` for `/` and `~0` for `~` inside a key.
        let mut tokens: Vec<String> = path
            .strip_prefix('/')?
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        let last = tokens.pop()?;
        let mut parent = document.clone();
        for token in &tokens {
            parent = js_sys::Reflect::get(&parent, &JsValue::from_str(token)).ok()?;
            if !parent.is_object() {
                return None;
            }
        }
        if let Some(array) = parent.dyn_ref::<js_sys::Array>() {
            let index = if last == "-" { array.length() } else { last.parse::<u32>().ok()? };
            match op.as_str() {
                "add" if index <= array.length() => {
                    array.splice(index, 0, &value);
                }
                "remove" if index < array.length() => {
                    array.splice_many(index, 1, &[]);
                }
                "replace" if index < array.length() => array.set(index, value),
                _ => return None,
            }
        } else {
            let key = JsValue::from_str(&last);
            match op.as_str() {
                "add" | "replace" => {
                    js_sys::Reflect::set(&parent, &key, &value).ok()?;
                }
                "remove" => {
                    js_sys::Reflect::delete_property(parent.dyn_ref::<js_sys::Object>()?, &key)
                        .ok()?;
                }
                _ => return None,
            }
        }
    }
    Some(())
}

/// `ws://host{path}` (or `wss://` when the page came over HTTPS). The cookie goes along; no
/// credential is ever put in the URL.
pub(crate) fn socket_url(path: &str) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
    Some(format!("{scheme}://{}{path}", location.host().ok()?))
}
