//! The IOC dashboard: a Leptos app rendered in the browser.
//!
//! # Layout
//!
//! - [`route`]: the scope on screen, kept in the URL.
//! - [`live`]: the WebSocket connection that keeps the figures current.
//! - [`api`]: plain HTTP reads (the breadcrumb path).
//! - this file: the overview screen — top bar, tiles, the children ranking, late officers,
//!   complaints by field and channel.

mod api;
mod live;
mod route;

use chrono::DateTime;
use ioc_shared::format::{self, Lang};
use ioc_shared::summary::{ChildFigures, Summary, UnitBrief, UnitInfo, Window};
use leptos::prelude::*;
use live::{ConnState, LiveClient, LiveSignals};
use std::collections::BTreeMap;
use std::time::Duration;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(start)]
pub fn start() {
    leptos::mount::mount_to_body(App);
}

/// Everything the screen's parts read and write.
#[derive(Clone, Copy)]
struct Screen {
    unit: RwSignal<String>,
    window: RwSignal<Window>,
    lang: RwSignal<Lang>,
    path: RwSignal<Vec<UnitBrief>>,
    summary: RwSignal<Option<Summary>>,
    state: RwSignal<ConnState>,
    last_message_ms: RwSignal<Option<f64>>,
    now_ms: RwSignal<f64>,
}

impl Screen {
    fn t(&self, vi: &'static str, en: &'static str) -> &'static str {
        self.lang.get().pick(vi, en)
    }

    fn go(&self, unit: String) {
        self.unit.set(unit);
    }
}

#[component]
fn App() -> impl IntoView {
    let initial = route::read();
    let screen = Screen {
        unit: RwSignal::new(initial.unit.clone().unwrap_or_default()),
        window: RwSignal::new(initial.window),
        lang: RwSignal::new(initial.lang),
        path: RwSignal::new(Vec::new()),
        summary: RwSignal::new(None),
        state: RwSignal::new(ConnState::Connecting),
        last_message_ms: RwSignal::new(None),
        now_ms: RwSignal::new(js_sys::Date::now()),
    };

    // No unit in the URL: show the (first) root of the catalog.
    if initial.unit.is_none() {
        leptos::task::spawn_local(async move {
            if let Ok(roots) = api::get_json::<Vec<UnitBrief>>("/api/v1/units").await {
                if let Some(root) = roots.into_iter().next() {
                    screen.unit.set(root.code);
                }
            }
        });
    }

    let client = LiveClient::start(LiveSignals {
        summary: screen.summary,
        state: screen.state,
        last_message_ms: screen.last_message_ms,
    });
    {
        let client = client.clone();
        Effect::new(move |_| {
            let unit = screen.unit.get();
            let window = screen.window.get();
            if !unit.is_empty() {
                client.show(unit, window);
            }
        });
    }
    Effect::new(move |_| {
        let unit = screen.unit.get();
        if unit.is_empty() {
            return;
        }
        route::write(&unit, screen.window.get(), screen.lang.get());
        leptos::task::spawn_local(async move {
            if let Ok(info) = api::get_json::<UnitInfo>(&format!("/api/v1/units/{unit}")).await {
                if screen.unit.get_untracked() == info.code {
                    screen.path.set(info.path);
                }
            }
        });
    });
    Effect::new(move |_| {
        let lang = screen.lang.get();
        if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
            let _ = root.set_attribute("lang", lang.code());
        }
    });
    // Back and forward buttons move between scopes.
    let _ = window_event_listener(leptos::ev::popstate, move |_| {
        let route = route::read();
        if let Some(unit) = route.unit {
            screen.unit.set(unit);
        }
        screen.window.set(route.window);
        screen.lang.set(route.lang);
    });
    // One tick a second: the clock, the data age, and the connection watchdog.
    let _ = set_interval_with_handle(
        move || {
            let now = js_sys::Date::now();
            screen.now_ms.set(now);
            client.watchdog(now);
        },
        Duration::from_secs(1),
    );

    view! {
        <div class="screen">
            <TopBar screen=screen />
            {move || match screen.summary.get() {
                None => view! { <div class="loading">{screen.t("Đang tải số liệu…", "Loading figures…")}</div> }.into_any(),
                Some(summary) => view! { <Overview screen=screen summary=summary /> }.into_any(),
            }}
        </div>
    }
}

#[component]
fn TopBar(screen: Screen) -> impl IntoView {
    let crumbs = move || {
        let path = screen.path.get();
        let last = path.len().saturating_sub(1);
        path.into_iter()
            .enumerate()
            .map(|(i, unit)| {
                let code = unit.code.clone();
                let href = route::href(&unit.code, screen.window.get_untracked(), screen.lang.get_untracked());
                view! {
                    {(i > 0).then(|| view! { <span class="sep">"›"</span> })}
                    <a class="crumb" class:current=i == last href=href
                        on:click=move |ev| { ev.prevent_default(); screen.go(code.clone()); }>{unit.name}</a>
                }
            })
            .collect_view()
    };
    let windows = Window::ALL
        .into_iter()
        .map(|w| {
            view! {
                <button class="window" class:active=move || screen.window.get() == w
                    on:click=move |_| screen.window.set(w)>{move || window_label(w, screen.lang.get())}</button>
            }
        })
        .collect_view();
    let now = move || DateTime::from_timestamp_millis(screen.now_ms.get() as i64).unwrap_or_default();
    let connection = move || {
        let state = screen.state.get();
        let (class, text) = match state {
            ConnState::Live => ("conn live", screen.t("Trực tuyến", "Live")),
            ConnState::Connecting => ("conn connecting", screen.t("Đang kết nối…", "Connecting…")),
            ConnState::Disconnected => ("conn down", screen.t("Mất kết nối", "Disconnected")),
        };
        view! { <span class=class data-state=format!("{state:?}").to_lowercase()>{text}</span> }
    };
    let age = move || {
        let lang = screen.lang.get();
        match screen.last_message_ms.get() {
            None => lang.pick("chưa có dữ liệu", "no data").to_owned(),
            Some(t) => {
                let seconds = ((screen.now_ms.get() - t) / 1000.0).max(0.0) as i64;
                format!("{} {}", lang.pick("cập nhật", "updated"), format::ago(seconds, lang))
            }
        }
    };
    let age_class = move || {
        let stale = screen.last_message_ms.get().is_none_or(|t| screen.now_ms.get() - t > 15_000.0);
        if stale { "age stale" } else { "age" }
    };
    view! {
        <header class="topbar">
            <nav class="crumbs">{crumbs}</nav>
            <div class="windows">{windows}</div>
            <div class="status">
                <span class="clock">{move || format!("{} {}", format::clock(now()), format::date(now()))}</span>
                {connection}
                <span class=age_class>{age}</span>
                <button class="lang" on:click=move |_| screen.lang.update(|l| *l = if *l == Lang::Vi { Lang::En } else { Lang::Vi })>
                    {move || if screen.lang.get() == Lang::Vi { "EN" } else { "VI" }}
                </button>
            </div>
        </header>
    }
}

fn window_label(window: Window, lang: Lang) -> &'static str {
    match window {
        Window::Today => lang.pick("Hôm nay", "Today"),
        Window::Hours24 => lang.pick("24 giờ", "24 hours"),
        Window::Days7 => lang.pick("7 ngày", "7 days"),
        Window::Days30 => lang.pick("30 ngày", "30 days"),
    }
}

/// How a figure is coloured.
#[derive(Clone, Copy)]
enum Tone {
    Good,
    Warn,
    Bad,
    /// Nothing to rate: grey, "no data".
    Empty,
    /// A volume, not good or bad in itself.
    Neutral,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Good => "good",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
            Tone::Empty => "empty",
            Tone::Neutral => "neutral",
        }
    }
}

/// On-time rate: ≥ 90 % green, ≥ 75 % amber, else red.
fn rate_tone(rate: Option<f64>) -> Tone {
    match rate {
        None => Tone::Empty,
        Some(r) if r >= 0.9 => Tone::Good,
        Some(r) if r >= 0.75 => Tone::Warn,
        Some(_) => Tone::Bad,
    }
}

/// Overdue items: none green, under 10 % of open amber, else red.
fn overdue_tone(overdue: u64, open: u64) -> Tone {
    if overdue == 0 {
        Tone::Good
    } else if (overdue as f64) < 0.1 * open as f64 {
        Tone::Warn
    } else {
        Tone::Bad
    }
}

#[component]
fn Overview(screen: Screen, summary: Summary) -> impl IntoView {
    let lang = screen.lang.get_untracked();
    let no_data = lang.pick("Chưa có dữ liệu", "No data");
    let d = &summary.dossiers;
    let c = &summary.complaints;
    let late = summary.officers.late;
    let tiles = vec![
        (
            "dossiers-received",
            lang.pick("Hồ sơ tiếp nhận", "Dossiers received"),
            format::integer(d.received, lang),
            Tone::Neutral,
            format!("{} {}", format::integer(d.resolved, lang), lang.pick("đã giải quyết", "resolved")),
        ),
        (
            "on-time-rate",
            lang.pick("Tỷ lệ đúng hạn", "On-time rate"),
            d.on_time_rate.map(|r| format::percent(r, lang)).unwrap_or_else(|| no_data.to_owned()),
            rate_tone(d.on_time_rate),
            format!(
                "{} {} · {} {}",
                format::integer(d.resolved_on_time, lang),
                lang.pick("đúng hạn", "on time"),
                format::integer(d.resolved_late, lang),
                lang.pick("trễ hạn", "late")
            ),
        ),
        (
            "dossiers-overdue",
            lang.pick("Hồ sơ quá hạn", "Dossiers overdue"),
            format::integer(d.overdue, lang),
            overdue_tone(d.overdue, d.open),
            format!("{} {}", format::integer(d.open, lang), lang.pick("đang xử lý", "open")),
        ),
        (
            "processing-time",
            lang.pick("Thời gian xử lý (trung vị)", "Processing time (median)"),
            d.processing_hours.p50.map(|h| format::hours(h, lang)).unwrap_or_else(|| no_data.to_owned()),
            match d.processing_hours.p50 {
                None => Tone::Empty,
                Some(h) if h <= 24.0 => Tone::Good,
                Some(h) if h <= 72.0 => Tone::Warn,
                Some(_) => Tone::Bad,
            },
            d.processing_hours.p90.map(|h| format!("p90: {}", format::hours(h, lang))).unwrap_or_default(),
        ),
        (
            "complaints-received",
            lang.pick("PAKN tiếp nhận", "Complaints received"),
            format::integer(c.received, lang),
            Tone::Neutral,
            format!("{} {}", format::integer(c.resolved, lang), lang.pick("đã giải quyết", "resolved")),
        ),
        (
            "complaints-overdue",
            lang.pick("PAKN quá hạn", "Complaints overdue"),
            format::integer(c.overdue, lang),
            overdue_tone(c.overdue, c.open),
            c.satisfaction_rate
                .map(|r| format!("{} {}", lang.pick("hài lòng", "satisfied"), format::percent(r, lang)))
                .unwrap_or_else(|| format!("{} {}", format::integer(c.open, lang), lang.pick("đang xử lý", "open"))),
        ),
        (
            "late-officers",
            lang.pick("Cán bộ chậm muộn", "Late officers"),
            format::integer(late, lang),
            match late {
                0 => Tone::Good,
                1..=4 => Tone::Warn,
                _ => Tone::Bad,
            },
            format!(
                "{} {}",
                format::integer(summary.tasks.overdue, lang),
                lang.pick("nhiệm vụ quá hạn", "tasks overdue")
            ),
        ),
    ];
    let tiles = tiles
        .into_iter()
        .map(|(id, label, value, tone, note)| {
            view! {
                <div class=format!("tile {}", tone.class()) data-tile=id>
                    <div class="tile-label">{label}</div>
                    <div class="tile-value">{value}</div>
                    <div class="tile-note">{note}</div>
                </div>
            }
        })
        .collect_view();
    view! {
        <section class="tiles">{tiles}</section>
        <section class="panels">
            <Ranking screen=screen children=summary.children.clone() />
            <div class="side">
                <LateOfficers lang=lang summary=summary.clone() />
                <Breakdown title=lang.pick("PAKN theo lĩnh vực", "Complaints by field") counts=summary.complaints.by_field.clone() lang=lang id="by-field" />
                <Breakdown title=lang.pick("PAKN theo kênh tiếp nhận", "Complaints by channel") counts=channel_names(&summary.complaints.by_channel) lang=lang id="by-channel" />
            </div>
        </section>
    }
}

fn channel_names(counts: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    counts
        .iter()
        .map(|(channel, n)| {
            let name = match channel.as_str() {
                "zalo" => "Zalo",
                "hotline" => "Đường dây nóng",
                "app" => "Ứng dụng",
                "portal" => "Cổng thông tin",
                "direct" => "Trực tiếp",
                other => other,
            };
            (name.to_owned(), *n)
        })
        .collect()
}

#[component]
fn Ranking(screen: Screen, children: Vec<ChildFigures>) -> impl IntoView {
    let lang = screen.lang.get_untracked();
    if children.is_empty() {
        return view! {
            <div class="panel ranking">
                <h2>{lang.pick("Đơn vị trực thuộc", "Units below")}</h2>
                <p class="muted">{lang.pick("Đơn vị này không có đơn vị trực thuộc.", "This unit has no units below it.")}</p>
            </div>
        }
        .into_any();
    }
    let rows = children
        .into_iter()
        .map(|child| {
            let code = child.code.clone();
            let href = route::href(&child.code, screen.window.get_untracked(), lang);
            let tone = rate_tone(child.on_time_rate);
            view! {
                <tr class="child" data-unit=child.code.clone() on:click=move |_| screen.go(code.clone())>
                    <td><a href=href on:click=|ev| ev.prevent_default()>{child.name}</a></td>
                    <td class="num">{format::integer(child.dossiers_received, lang)}</td>
                    <td class=format!("num rate {}", tone.class())>
                        {child.on_time_rate.map(|r| format::percent(r, lang)).unwrap_or_else(|| "—".to_owned())}
                    </td>
                    <td class="num">{format::integer(child.overdue, lang)}</td>
                    <td class="num">{format::integer(child.complaints_received, lang)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="panel ranking">
            <h2>{lang.pick("Xếp hạng đơn vị trực thuộc (tỷ lệ đúng hạn thấp nhất trước)", "Units below, worst on-time rate first")}</h2>
            <table>
                <thead><tr>
                    <th>{lang.pick("Đơn vị", "Unit")}</th>
                    <th class="num">{lang.pick("Hồ sơ", "Dossiers")}</th>
                    <th class="num">{lang.pick("Đúng hạn", "On time")}</th>
                    <th class="num">{lang.pick("Quá hạn", "Overdue")}</th>
                    <th class="num">"PAKN"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn LateOfficers(lang: Lang, summary: Summary) -> impl IntoView {
    let rows = summary
        .officers
        .top_late
        .into_iter()
        .map(|officer| {
            view! {
                <li>
                    <span class="officer">{officer.name}</span>
                    <span class="officer-unit">{officer.unit_name}</span>
                    <span class="count bad">{format::integer(officer.overdue, lang)}</span>
                </li>
            }
        })
        .collect_view();
    let empty = summary.officers.late == 0;
    view! {
        <div class="panel officers" data-panel="late-officers">
            <h2>{lang.pick("Cán bộ chậm muộn", "Late officers")}</h2>
            {empty.then(|| view! { <p class="muted">{lang.pick("Không có cán bộ chậm muộn.", "No officer is late.")}</p> })}
            <ol>{rows}</ol>
        </div>
    }
}

#[component]
fn Breakdown(title: &'static str, counts: BTreeMap<String, u64>, lang: Lang, id: &'static str) -> impl IntoView {
    let max = counts.values().copied().max().unwrap_or(0).max(1);
    let mut entries: Vec<(String, u64)> = counts.into_iter().collect();
    entries.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let empty = entries.is_empty();
    let rows = entries
        .into_iter()
        .take(8)
        .map(|(name, n)| {
            let width = format!("width: {:.1}%", 100.0 * n as f64 / max as f64);
            view! {
                <li>
                    <span class="bar-label">{name}</span>
                    <span class="bar"><span class="bar-fill" style=width></span></span>
                    <span class="count">{format::integer(n, lang)}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="panel breakdown" data-panel=id>
            <h2>{title}</h2>
            {empty.then(|| view! { <p class="muted">{lang.pick("Chưa có dữ liệu", "No data")}</p> })}
            <ul>{rows}</ul>
        </div>
    }
}
