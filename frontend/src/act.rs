//! Acting on what the screens show: the open alerts (acknowledge one, ask its unit to explain),
//! explanation requests (the inbox, a unit's open requests, answering, closing, asking again),
//! and the wall's banner for critical alerts. Everything follows the live figures: an alert
//! list is pushed by the server, request lists re-read with every snapshot of the scope (whose
//! `explanations` counts change with every request asked, answered or overdue).

use crate::api;
use crate::live::{field, AlertView};
use crate::ui;
use crate::work::{follow_decoded, Scope};
use ioc_shared::access::Role;
use ioc_shared::format::{self, Lang};
use leptos::prelude::*;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;
use wasm_bindgen::{JsCast, JsValue};

/// Who is acting, and the open alerts of the scope; provided by the dashboard.
#[derive(Clone, Copy)]
pub struct Acting {
    /// The open alerts of the scope, pushed by the server.
    pub alerts: RwSignal<Option<(String, Vec<AlertView>)>>,
    pub role: Role,
    /// A chief's unit.
    pub home: StoredValue<Option<String>>,
}

impl Acting {
    /// Whether this person may ask `unit` to explain (the server decides; this only hides a
    /// button that would be refused): admins and leaders any unit, a chief those below his.
    fn may_ask(&self, unit: &str) -> bool {
        match self.role {
            Role::Admin | Role::Leader => true,
            Role::Chief => {
                self.home.with_value(|own| own.as_deref().is_some_and(|own| own != unit))
            }
        }
    }

    /// The open alerts not acknowledged yet.
    pub fn unacknowledged(&self) -> usize {
        self.alerts.with(|a| {
            a.as_ref().map_or(0, |(_, list)| list.iter().filter(|alert| alert.firing).count())
        })
    }
}

fn severity_label(critical: bool, lang: Lang) -> &'static str {
    if critical {
        lang.pick("Nghiêm trọng", "Critical")
    } else {
        lang.pick("Cảnh báo", "Warning")
    }
}

/// An alert's figure as the summary shows it: rates in percent; "—" when unknown.
fn figure(metric: &str, value: Option<f64>, lang: Lang) -> String {
    match value {
        None => "—".to_owned(),
        Some(value) if ioc_shared::alerts::is_rate(metric) => format::percent(value, lang),
        Some(value) => format::decimal(value, if value.fract() == 0.0 { 0 } else { 1 }, lang),
    }
}

/// The overview's alerts panel: every open alert of the scope, unacknowledged first, critical
/// first; acknowledge one, or ask its unit to explain (the form stays while the list changes).
#[component]
pub fn AlertsPanel() -> impl IntoView {
    let scope = expect_context::<Scope>();
    let acting = expect_context::<Acting>();
    // The alert whose unit is being asked to explain, and that unit.
    let asking: RwSignal<Option<(i64, String)>> = RwSignal::new(None);
    let failure: RwSignal<Option<String>> = RwSignal::new(None);
    let acknowledge = move |id: i64| {
        leptos::task::spawn_local(async move {
            let path = format!("/api/v1/alerts/{id}/ack");
            match api::post_json::<_, IgnoredAny>(&path, &BTreeMap::<String, String>::new()).await {
                Ok(_) => failure.set(None),
                Err(f) => failure.set(Some(f.message)),
            }
        });
    };
    let rows = move || {
        let lang = scope.lang.get();
        let alerts = acting.alerts.get().map(|(_, list)| list).unwrap_or_default();
        alerts
            .into_iter()
            .map(|alert| {
                let id = alert.id;
                let firing = alert.firing;
                let unit = alert.unit_code.clone();
                let may_ask = acting.may_ask(&unit);
                let state = if firing {
                    lang.pick("Chưa tiếp nhận", "Not acknowledged")
                } else {
                    lang.pick("Đã tiếp nhận", "Acknowledged")
                };
                let what = format!("{}: {} ({} {} {})", alert.unit_name,
                    figure(&alert.metric, alert.value, lang), lang.pick("ngưỡng", "threshold"),
                    alert.op, figure(&alert.metric, alert.threshold, lang));
                let key = format!("{id}|{}|{}|{firing}|{may_ask}|{}|{what}", lang.code(), alert.critical, alert.rule);
                ui::Row::new(key, move || view! {
                    <li class="alert-row" class:critical=alert.critical class:firing=firing data-alert=id>
                        <div class="alert-head">
                            <span class="severity">{severity_label(alert.critical, lang)}</span>
                            <strong>{alert.rule}</strong>
                        </div>
                        <div class="alert-what">{what}</div>
                        <div class="alert-state muted">{state}</div>
                        <div class="actions">
                            <button class="ack" hidden=!firing on:click=move |_| acknowledge(id)>{lang.pick("Tiếp nhận", "Acknowledge")}</button>
                            <button class="ask" hidden=!may_ask on:click=move |_| asking.set(Some((id, unit.clone())))>
                                {lang.pick("Yêu cầu giải trình", "Ask to explain")}
                            </button>
                        </div>
                    </li>
                }.into_any())
            })
            .collect()
    };
    // Drawn anew in the other language (the page is): the heading needs no closure.
    let lang = scope.lang.get_untracked();
    let head = view! {
        <h2>{lang.pick("Cảnh báo", "Alerts")}</h2>
        {move || failure.get().map(|f| view! { <p class="error" role="alert">{f}</p> })}
    };
    let form = move || {
        asking.get().map(|(id, unit)| {
            let about = format!("{{\"kind\": \"alert\", \"id\": {id}}}");
            view! { <AskForm unit=unit about=about done=Callback::new(move |_| asking.set(None)) /> }
        })
    };
    view! {
        <div class="panel alerts" data-panel="alerts">
            {head}
            <ul class="alert-list">{ui::keyed(Box::new(rows))}</ul>
            {form}
        </div>
    }
}

/// How long the dashboard gives a unit to answer (the API takes any `due_in`).
const DUE_WORKING_DAYS: u32 = 3;

/// `text` as a JSON string, written by the browser.
fn json_string(text: &str) -> String {
    js_sys::JSON::stringify(&JsValue::from_str(text))
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| "\"\"".to_owned())
}

/// Asks `unit` to explain `about` (its JSON) within [`DUE_WORKING_DAYS`] working days.
#[component]
pub fn AskForm(unit: String, about: String, done: Callback<()>) -> impl IntoView {
    let scope = expect_context::<Scope>();
    let question = RwSignal::new(String::new());
    let failure: RwSignal<Option<String>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let unit = StoredValue::new(unit);
    let about = StoredValue::new(about);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        // Written by hand: serde's writer of the request would cost the download more.
        let body = format!(
            "{{\"unit\": {}, \"about\": {}, \"question\": {}, \"due_in\": {{\"working_days\": {}}}}}",
            json_string(&unit.get_value()),
            about.get_value(),
            json_string(&question.get_untracked()),
            DUE_WORKING_DAYS
        );
        leptos::task::spawn_local(async move {
            let answer = api::call_text("POST", "/api/v1/explanations", Some(body)).await;
            busy.set(false);
            match answer {
                Ok(_) => done.run(()),
                Err(f) => failure.set(Some(f.message)),
            }
        });
    };
    let lang = scope.lang.get_untracked();
    view! {
        <form class="ask-form" on:submit=submit>
            <label>{lang.pick("Nội dung cần giải trình", "What is to be explained")}
                <textarea name="question" required=true maxlength="4000" rows="3"
                    prop:value=move || question.get() on:input=move |ev| question.set(event_target_value(&ev))></textarea>
            </label>
            <p class="muted">{lang.pick("Hạn trả lời: 3 ngày làm việc.", "To be answered within 3 working days.")}</p>
            {move || failure.get().map(|f| view! { <p class="error" role="alert">{f}</p> })}
            <button type="submit" disabled=move || busy.get()>{lang.pick("Gửi yêu cầu", "Send the request")}</button>
        </form>
    }
}

/// A message of a request's thread, read field by field.
#[derive(Debug, Clone, PartialEq)]
struct MessageView {
    kind: String,
    by: String,
    text: String,
    at: String,
}

/// An explanation request as a screen shows it, read from the browser's JSON object field by
/// field (serde's decoder of the whole request, its tagged `about` above all, would cost the
/// download several KB).
#[derive(Debug, Clone, PartialEq)]
struct RequestView {
    id: i64,
    unit_name: String,
    /// What it is about, as the API names it: `dossiers.overdue (month)`, `dossier HS-1`,
    /// `alert #17`.
    about: String,
    question: String,
    /// `open`, `answered` or `closed`.
    state: String,
    overdue: bool,
    asked_by: String,
    due: String,
    messages: Vec<MessageView>,
}

fn text_of(object: &JsValue, name: &str) -> Option<String> {
    field(object, name).as_string()
}

impl RequestView {
    fn read(e: &JsValue) -> Option<RequestView> {
        let about = field(e, "about");
        let about = match text_of(&about, "kind")?.as_str() {
            "figure" => format!("{} ({})", text_of(&about, "metric")?, text_of(&about, "window")?),
            "item" => format!("{} {}", text_of(&about, "item_kind")?, text_of(&about, "id")?),
            _ => format!("alert #{}", field(&about, "id").as_f64()? as i64),
        };
        let messages = field(e, "messages")
            .dyn_into::<js_sys::Array>()
            .map(|list| {
                list.iter()
                    .filter_map(|m| {
                        Some(MessageView {
                            kind: text_of(&m, "kind")?,
                            by: text_of(&m, "by")?,
                            text: text_of(&m, "text")?,
                            at: text_of(&m, "at")?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(RequestView {
            id: field(e, "id").as_f64()? as i64,
            unit_name: text_of(&field(e, "unit"), "name")?,
            about,
            question: text_of(e, "question")?,
            state: text_of(e, "state")?,
            overdue: field(e, "overdue").as_bool()?,
            asked_by: text_of(e, "asked_by")?,
            due: text_of(e, "due")?,
            messages,
        })
    }
}

fn parse(text: &str) -> Result<JsValue, api::Failure> {
    js_sys::JSON::parse(text)
        .map_err(|_| api::Failure { status: 200, message: "the answer is not JSON".to_owned() })
}

fn unreadable() -> api::Failure {
    api::Failure { status: 200, message: "the answer is not an explanation request".to_owned() }
}

fn read_page(text: &str) -> Result<Vec<RequestView>, api::Failure> {
    let list = field(&parse(text)?, "explanations")
        .dyn_into::<js_sys::Array>()
        .map_err(|_| unreadable())?;
    list.iter().map(|e| RequestView::read(&e).ok_or_else(unreadable)).collect()
}

fn read_one(text: &str) -> Result<RequestView, api::Failure> {
    RequestView::read(&parse(text)?).ok_or_else(unreadable)
}

fn state_label(request: &RequestView, lang: Lang) -> &'static str {
    match request.state.as_str() {
        "open" if request.overdue => lang.pick("Quá hạn", "Overdue"),
        "open" => lang.pick("Chờ giải trình", "Awaiting an answer"),
        "answered" => lang.pick("Đã giải trình", "Answered"),
        _ => lang.pick("Đã đóng", "Closed"),
    }
}

fn message_label(kind: &str, lang: Lang) -> &'static str {
    match kind {
        "question" => lang.pick("Yêu cầu", "Question"),
        "answer" => lang.pick("Giải trình", "Answer"),
        "close" => lang.pick("Đóng", "Closed"),
        _ => lang.pick("Yêu cầu lại", "Asked again"),
    }
}

/// A local time as the screens write it.
fn when(rfc3339: &str) -> String {
    crate::work::time_text(&Some(rfc3339.to_owned()))
}

/// Explanation requests of the scope, newest first: the inbox (every state, with a filter) or,
/// on a unit's overview, its open ones. One opens to its thread, shown under the list so that
/// an answer being written stays while the list follows the figures.
#[component]
pub fn Requests(
    /// `true`: the overview's panel of open requests; `false`: the inbox page.
    open_only: bool,
) -> impl IntoView {
    let scope = expect_context::<Scope>();
    let filter: RwSignal<&'static str> = RwSignal::new(if open_only { "open" } else { "" });
    // Re-read after this reader's own action too (a close changes no count).
    let acted = RwSignal::new(0_u32);
    let version = Signal::derive(move || format!("{}#{}", scope.version.get(), acted.get()));
    let (data, error) = follow_decoded(
        Signal::derive(move || {
            let state = filter.get();
            let state = if state.is_empty() { String::new() } else { format!("&state={state}") };
            Some(format!("/api/v1/explanations?unit={}{state}", scope.unit.get()))
        }),
        version,
        read_page,
    );
    let opened: RwSignal<Option<i64>> = RwSignal::new(None);
    // Drawn anew in the other language (the page is): the heading needs no closure.
    let lang = scope.lang.get_untracked();
    let title = if open_only {
        lang.pick("Yêu cầu giải trình đang mở", "Open explanation requests")
    } else {
        lang.pick("Yêu cầu giải trình", "Explanation requests")
    };
    let empty = move || data.with(|page| page.as_ref().is_some_and(Vec::is_empty));
    let head = view! {
        <h2>{title}</h2>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <p class="muted" hidden=move || !empty()>{lang.pick("Không có yêu cầu giải trình.", "No explanation request.")}</p>
    };
    let rows = move || {
        let lang = scope.lang.get();
        data.get()
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                let id = e.id;
                let state = state_label(&e, lang);
                let asked = format!("{} {} · {} {}", lang.pick("Người yêu cầu:", "Asked by"), e.asked_by, lang.pick("hạn", "due"), when(&e.due));
                let key = format!("{id}|{state}|{}|{}|{}|{}|{asked}", e.overdue, e.unit_name, e.about, e.question);
                ui::Row::new(key, move || view! {
                    <li class="request" class:overdue=e.overdue data-request=id>
                        <button class="request-head" on:click=move |_| opened.update(|o| *o = if *o == Some(id) { None } else { Some(id) })>
                            <span class="state">{state}</span>
                            <strong>{format!("#{id} {}", e.unit_name)}</strong>
                            <span class="muted">{e.about}</span>
                        </button>
                        <div class="request-question">{e.question}</div>
                        <div class="muted">{asked}</div>
                    </li>
                }.into_any())
            })
            .collect()
    };
    let thread = move || opened.get().map(|id| view! { <Thread id=id acted=acted /> });
    view! {
        <div class="panel requests" class:inbox=!open_only data-panel=if open_only { "requests" } else { "inbox" }>
            {head}
            <ul class="request-list">{ui::keyed(Box::new(rows))}</ul>
            {thread}
        </div>
    }
}

/// One request's whole thread, and the box to answer it (a chief or an admin, while it is open)
/// or to close it once answered (a leader); the text being written is outside what re-renders
/// with the thread.
#[component]
fn Thread(id: i64, acted: RwSignal<u32>) -> impl IntoView {
    let scope = expect_context::<Scope>();
    let acting = expect_context::<Acting>();
    let version = Signal::derive(move || format!("{}#{}", scope.version.get(), acted.get()));
    let (data, error) = follow_decoded(
        Signal::derive(move || Some(format!("/api/v1/explanations/{id}"))),
        version,
        read_one,
    );
    let text = RwSignal::new(String::new());
    let failure: RwSignal<Option<String>> = RwSignal::new(None);
    // Answer (`text`) or close (`note`) with what is written.
    let send = move |action: &'static str, key: &'static str| {
        let body = BTreeMap::from([(key.to_owned(), text.get_untracked())]);
        leptos::task::spawn_local(async move {
            let path = format!("/api/v1/explanations/{id}/{action}");
            match api::post_json::<_, IgnoredAny>(&path, &body).await {
                Ok(_) => {
                    failure.set(None);
                    text.set(String::new());
                    acted.update(|n| *n += 1);
                }
                Err(f) => failure.set(Some(f.message)),
            }
        });
    };
    let lang = scope.lang.get_untracked();
    let messages = move || {
        let lang = scope.lang.get();
        let Some(e) = data.get() else {
            return view! { <p class="muted">{error.get().unwrap_or_else(|| "…".into())}</p> }
                .into_any();
        };
        e.messages
            .into_iter()
            .map(|m| {
                view! {
                    <li class=format!("message {}", m.kind)>
                        <div class="muted">{format!("{} · {} · {}", message_label(&m.kind, lang), m.by, when(&m.at))}</div>
                        <div class="message-text">{m.text}</div>
                    </li>
                }
            })
            .collect_view()
            .into_any()
    };
    // An open request is answered by its unit's chief; an answered one is closed by a leader
    // (the server decides who may; asking again, and a chief who asked, use the API).
    let (key, action, wanted, label) = match acting.role {
        Role::Chief | Role::Admin => {
            ("text", "answer", "open", lang.pick("Gửi giải trình", "Send the answer"))
        }
        Role::Leader => {
            ("note", "close", "answered", lang.pick("Đóng yêu cầu", "Close the request"))
        }
    };
    let hidden = move || data.with(|e| e.as_ref().is_none_or(|e| e.state != wanted));
    view! {
        <div class="thread" data-thread=id>
            <ol class="messages">{messages}</ol>
            <div class="reply" hidden=hidden>
                <textarea name="reply" maxlength="4000" rows="3" placeholder=lang.pick("Nội dung…", "Text…")
                    prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                <div class="actions"><button class=action on:click=move |_| send(action, key)>{label}</button></div>
            </div>
            {move || failure.get().map(|f| view! { <p class="error" role="alert">{f}</p> })}
        </div>
    }
}

/// The wall's banner for the critical alerts of its unit: what and where, never who.
#[component]
pub fn CriticalBanner(
    alerts: RwSignal<Option<(String, Vec<AlertView>)>>,
    lang: Lang,
) -> impl IntoView {
    move || {
        let critical: Vec<AlertView> = alerts
            .get()
            .map(|(_, list)| list.into_iter().filter(|a| a.critical).collect())
            .unwrap_or_default();
        let first = critical.first()?;
        let more = critical.len() - 1;
        let text = format!(
            "⚠ {}: {} — {}{}",
            lang.pick("Cảnh báo nghiêm trọng", "Critical alert"),
            first.rule,
            first.unit_name,
            if more > 0 { format!(" (+{more})") } else { String::new() }
        );
        Some(
            view! { <div class="wall-alert" role="alert" data-critical=critical.len()>{text}</div> },
        )
    }
}
