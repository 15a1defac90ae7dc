//! The work behind the numbers on the dashboard: the most overdue items, the slowest
//! procedures, a list page per kind and state (filters, paging, CSV), an officer's page, and
//! the late officers. Everything re-reads its data when the scope's live snapshot changes, in
//! place (rows keyed by item), so lists follow the figures without a reload, a flicker or a
//! jump of the scroll position.

use crate::api;
use crate::route::View;
use ioc_shared::event::ItemKind;
use ioc_shared::format::{self, Lang};
use ioc_shared::items::{Breakdown, Item, ItemList, ListState, OfficerView, MIN_RATED};
use ioc_shared::summary::{LateOfficer, Window};
use leptos::prelude::*;
use serde::de::DeserializeOwned;

/// What a page needs from the dashboard.
#[derive(Clone, Copy)]
pub struct Scope {
    pub unit: Signal<String>,
    pub window: Signal<Window>,
    pub lang: Signal<Lang>,
    /// Changes with every new live snapshot of the scope: data is re-read then.
    pub version: Signal<String>,
    /// Opens another page.
    pub open: Callback<View>,
}

/// "quá hạn 2 ngày 3 giờ": how late, in days and hours.
pub fn overdue_text(hours: f64, lang: Lang) -> String {
    let total = hours.max(0.0).round() as u64;
    let (days, rest) = (total / 24, total % 24);
    match (days, lang) {
        (0, Lang::Vi) => format!("quá hạn {rest} giờ"),
        (0, Lang::En) => format!("{rest} h overdue"),
        (_, Lang::Vi) => format!("quá hạn {days} ngày {rest} giờ"),
        (_, Lang::En) => format!("{days} d {rest} h overdue"),
    }
}

/// Re-reads `path` whenever it or the scope's snapshot changes; one request at a time, and a
/// change during a request triggers one more read after it (never a pile-up).
pub fn follow<T: DeserializeOwned + Send + Sync + 'static>(
    path: Signal<Option<String>>,
    version: Signal<String>,
) -> (RwSignal<Option<T>>, RwSignal<Option<String>>) {
    let data: RwSignal<Option<T>> = RwSignal::new(None);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let busy = StoredValue::new(false);
    let again = StoredValue::new(false);
    // Only the decoding is generic; the fetching is shared by every kind of data.
    let apply: std::rc::Rc<dyn Fn(String)> =
        std::rc::Rc::new(move |text: String| match api::decode::<T>(&text) {
            Ok(value) => {
                data.set(Some(value));
                error.set(None);
            }
            Err(failure) => error.set(Some(failure.message)),
        });
    Effect::new(move |_| {
        version.track();
        path.track();
        if busy.get_value() {
            again.set_value(true);
        } else {
            load(path, apply.clone(), error, busy, again);
        }
    });
    (data, error)
}

fn load(
    path: Signal<Option<String>>,
    apply: std::rc::Rc<dyn Fn(String)>,
    error: RwSignal<Option<String>>,
    busy: StoredValue<bool>,
    again: StoredValue<bool>,
) {
    let Some(url) = path.get_untracked() else { return };
    busy.set_value(true);
    leptos::task::spawn_local(async move {
        match api::call_text("GET", &url, None).await {
            Ok(text) => apply(text),
            Err(failure) => error.set(Some(failure.message)),
        }
        busy.set_value(false);
        if again.get_value() {
            again.set_value(false);
            load(path, apply, error, busy, again);
        }
    });
}

fn kind_label(kind: ItemKind, lang: Lang) -> &'static str {
    match kind {
        ItemKind::Dossier => lang.pick("Hồ sơ", "Dossiers"),
        ItemKind::Complaint => lang.pick("Phản ánh, kiến nghị", "Complaints"),
        ItemKind::Task => lang.pick("Nhiệm vụ", "Tasks"),
    }
}

fn state_label(state: ListState, lang: Lang) -> &'static str {
    match state {
        ListState::Overdue => lang.pick("quá hạn", "overdue"),
        ListState::DueSoon => lang.pick("sắp đến hạn", "due soon"),
        ListState::Open => lang.pick("đang xử lý", "open"),
        ListState::Paused => lang.pick("tạm dừng chờ bổ sung", "paused"),
        ListState::ResolvedLate => lang.pick("giải quyết trễ hạn", "resolved late"),
        ListState::NeedsRouting => lang.pick("cần phân loại", "needs routing"),
    }
}

fn time_text(rfc3339: &Option<String>) -> String {
    rfc3339
        .as_deref()
        .and_then(ioc_shared::time::parse_rfc3339)
        .map(|t| format!("{} {}", &format::clock(t)[..5], format::date(t)))
        .unwrap_or_default()
}

/// One item as a row (a card on a phone).
fn item_row(item: Item, lang: Lang, open: Callback<View>) -> impl IntoView {
    let what = item
        .procedure
        .clone()
        .or_else(|| item.title.clone())
        .or_else(|| item.field.clone())
        .unwrap_or_default();
    let late = item.overdue_hours.map(|h| overdue_text(h, lang)).unwrap_or_default();
    let officer = item.officer.clone();
    view! {
        <tr class="item" data-item=item.id.clone()>
            <td class="item-id">{item.id.clone()}</td>
            <td class="item-what">{what}</td>
            <td class="item-unit">{item.unit.name.clone()}</td>
            <td class="item-officer">{match officer {
                Some(o) => {
                    let id = o.id.clone();
                    view! { <a href="#" on:click=move |ev| { ev.prevent_default(); open.run(View::Officer(id.clone())); }>{o.name}</a> }.into_any()
                }
                None => view! { <span class="muted">{lang.pick("chưa phân công", "unassigned")}</span> }.into_any(),
            }}</td>
            <td class="item-due">{time_text(&item.due_extended)}</td>
            <td class="item-late bad">{late}</td>
        </tr>
    }
}

fn items_table(items: Vec<Item>, lang: Lang, open: Callback<View>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="items">
                <thead><tr>
                    <th>{lang.pick("Mã", "Id")}</th>
                    <th>{lang.pick("Thủ tục / nội dung", "Procedure / subject")}</th>
                    <th>{lang.pick("Đơn vị", "Unit")}</th>
                    <th>{lang.pick("Cán bộ", "Officer")}</th>
                    <th>{lang.pick("Hạn", "Due")}</th>
                    <th>{lang.pick("Quá hạn", "Late")}</th>
                </tr></thead>
                <tbody>
                    <For each=move || items.clone() key=|i| (i.source.clone(), i.id.clone(), i.overdue_hours.map(|h| h.to_bits()), i.officer.as_ref().map(|o| o.id.clone())) let:item>
                        {item_row(item, lang, open)}
                    </For>
                </tbody>
            </table>
        </div>
    }
}

/// The overview's "most overdue" panel: the 10 most overdue dossiers of the scope.
#[component]
pub fn MostOverdue(scope: Scope) -> impl IntoView {
    let (data, _) = follow::<ItemList>(
        Signal::derive(move || {
            Some(format!(
                "/api/v1/units/{}/items?kind=dossier&state=overdue&limit=10",
                scope.unit.get()
            ))
        }),
        scope.version,
    );
    view! {
        <div class="panel most-overdue" data-panel="most-overdue">
            <h2>
                <a href="#" on:click=move |ev| { ev.prevent_default(); scope.open.run(View::List { kind: ItemKind::Dossier, state: ListState::Overdue }); }>
                    {move || scope.lang.get().pick("Hồ sơ quá hạn lâu nhất", "Most overdue dossiers")}
                </a>
            </h2>
            {move || {
                let lang = scope.lang.get();
                match data.get() {
                    None => view! { <p class="muted">"…"</p> }.into_any(),
                    Some(list) if list.items.is_empty() => view! { <p class="muted">{lang.pick("Không có hồ sơ quá hạn.", "No overdue dossier.")}</p> }.into_any(),
                    Some(list) => items_table(list.items, lang, scope.open).into_any(),
                }
            }}
        </div>
    }
}

/// The overview's "slowest procedures": the 10 worst by on-time rate among those rated at
/// least 5 times, with the share received online.
#[component]
pub fn SlowProcedures(scope: Scope) -> impl IntoView {
    let (data, _) = follow::<Breakdown>(
        Signal::derive(move || {
            Some(format!(
                "/api/v1/units/{}/breakdown?kind=dossier&by=procedure&window={}",
                scope.unit.get(),
                scope.window.get().as_str()
            ))
        }),
        scope.version,
    );
    view! {
        <div class="panel slow-procedures" data-panel="slow-procedures">
            <h2>{move || scope.lang.get().pick("Thủ tục chậm nhất", "Slowest procedures")}</h2>
            {move || {
                let lang = scope.lang.get();
                let rows: Vec<_> = data.get().map(|b| b.rows).unwrap_or_default().into_iter()
                    .filter(|r| r.resolved_on_time + r.resolved_late >= MIN_RATED).take(10).collect();
                if rows.is_empty() {
                    return view! { <p class="muted">{lang.pick("Chưa đủ hồ sơ để xếp hạng (cần ≥ 5 hồ sơ đã giải quyết).", "Not enough resolved dossiers to rank (≥ 5 needed).")}</p> }.into_any();
                }
                view! {
                    <div class="table-scroll"><table class="procedures">
                        <thead><tr>
                            <th>{lang.pick("Thủ tục", "Procedure")}</th>
                            <th class="num">{lang.pick("Đúng hạn", "On time")}</th>
                            <th class="num">{lang.pick("Trực tuyến", "Online")}</th>
                            <th class="num">{lang.pick("Quá hạn", "Overdue")}</th>
                        </tr></thead>
                        <tbody>{rows.into_iter().map(|r| {
                            let tone = crate::ui::rate_tone(r.on_time_rate);
                            let online = if r.received == 0 { "—".to_owned() } else { format::percent(r.received_online as f64 / r.received as f64, lang) };
                            view! { <tr>
                                <td>{r.key}</td>
                                <td class=format!("num rate {}", tone.class())>{r.on_time_rate.map(|x| format::percent(x, lang)).unwrap_or_else(|| "—".into())}</td>
                                <td class="num">{online}</td>
                                <td class="num">{format::integer(r.overdue, lang)}</td>
                            </tr> }
                        }).collect_view()}</tbody>
                    </table></div>
                }.into_any()
            }}
        </div>
    }
}

/// A list page: the items of one kind and state, with filters, paging and a CSV download.
#[component]
pub fn ListPage(scope: Scope, kind: ItemKind, state: ListState) -> impl IntoView {
    let kind = RwSignal::new(kind);
    let state = RwSignal::new(state);
    // The cursors of the pages before the current one (empty: the first page).
    let cursors: RwSignal<Vec<Option<String>>> = RwSignal::new(Vec::new());
    let cursor: RwSignal<Option<String>> = RwSignal::new(None);
    let query = move || {
        let mut q = format!(
            "kind={}&state={}&window={}",
            kind.get().as_str(),
            state.get().as_str(),
            scope.window.get().as_str()
        );
        if state.get() == ListState::DueSoon {
            q.push_str("&within=24");
        }
        q
    };
    let (data, error) = follow::<ItemList>(
        Signal::derive(move || {
            let mut path = format!("/api/v1/units/{}/items?{}&limit=50", scope.unit.get(), query());
            if let Some(c) = cursor.get() {
                path.push_str(&format!("&cursor={c}"));
            }
            Some(path)
        }),
        scope.version,
    );
    let change = move |new_kind: ItemKind, new_state: ListState| {
        cursors.set(Vec::new());
        cursor.set(None);
        scope.open.run(View::List { kind: new_kind, state: new_state });
        kind.set(new_kind);
        state.set(new_state);
    };
    let kinds = [ItemKind::Dossier, ItemKind::Complaint, ItemKind::Task];
    view! {
        <section class="page list-page" data-page="list">
            <div class="filters">
                <label>{move || scope.lang.get().pick("Loại", "Kind")}
                    <select on:change=move |ev| { if let Some(k) = ItemKind::parse(&event_target_value(&ev)) { change(k, state.get_untracked()); } }>
                        {kinds.into_iter().map(|k| view! { <option value=k.as_str() selected=move || kind.get() == k>{move || kind_label(k, scope.lang.get())}</option> }).collect_view()}
                    </select>
                </label>
                <label>{move || scope.lang.get().pick("Trạng thái", "State")}
                    <select on:change=move |ev| { if let Some(s) = ListState::parse(&event_target_value(&ev)) { change(kind.get_untracked(), s); } }>
                        {ListState::ALL.into_iter().map(|s| view! { <option value=s.as_str() selected=move || state.get() == s>{move || state_label(s, scope.lang.get())}</option> }).collect_view()}
                    </select>
                </label>
                <a class="csv" download="" href=move || format!("/api/v1/units/{}/items.csv?{}", scope.unit.get(), query())>
                    {move || scope.lang.get().pick("Tải CSV", "Download CSV")}
                </a>
                <a class="back" href="#" on:click=move |ev| { ev.prevent_default(); scope.open.run(View::Overview); }>
                    {move || scope.lang.get().pick("← Tổng quan", "← Overview")}
                </a>
            </div>
            <h2 class="list-title">
                {move || format!("{} {}", kind_label(kind.get(), scope.lang.get()), state_label(state.get(), scope.lang.get()))}
                <span class="total">{move || data.get().map(|d| format!(" — {}", format::integer(d.total, scope.lang.get()))).unwrap_or_default()}</span>
            </h2>
            {move || error.get().map(|e| view! { <p class="error">{e}</p> })}
            {move || {
                let lang = scope.lang.get();
                match data.get() {
                    None => view! { <p class="muted">"…"</p> }.into_any(),
                    Some(list) if list.items.is_empty() => view! { <p class="muted empty-list">{lang.pick("Không có mục nào.", "Nothing here.")}</p> }.into_any(),
                    Some(list) => items_table(list.items, lang, scope.open).into_any(),
                }
            }}
            <div class="pager">
                <button class="prev" disabled=move || cursors.with(Vec::is_empty)
                    on:click=move |_| { let mut stack = cursors.get_untracked(); if let Some(previous) = stack.pop() { cursors.set(stack); cursor.set(previous); } }>
                    {move || scope.lang.get().pick("‹ Trang trước", "‹ Previous")}
                </button>
                <button class="next" disabled=move || data.with(|d| d.as_ref().is_none_or(|d| d.next.is_none()))
                    on:click=move |_| { if let Some(next) = data.get_untracked().and_then(|d| d.next) { cursors.update(|s| s.push(cursor.get_untracked())); cursor.set(Some(next)); } }>
                    {move || scope.lang.get().pick("Trang sau ›", "Next ›")}
                </button>
            </div>
        </section>
    }
}

/// One officer's work within the scope.
#[component]
pub fn OfficerPage(scope: Scope, officer: String) -> impl IntoView {
    let id = js_sys::encode_uri_component(&officer).as_string().unwrap_or_default();
    let (data, error) = follow::<OfficerView>(
        Signal::derive(move || {
            Some(format!(
                "/api/v1/officers/{id}?unit={}&window={}",
                scope.unit.get(),
                scope.window.get().as_str()
            ))
        }),
        scope.version,
    );
    view! {
        <section class="page officer-page" data-page="officer">
            <div class="filters">
                <a class="back" href="#" on:click=move |ev| { ev.prevent_default(); scope.open.run(View::Overview); }>
                    {move || scope.lang.get().pick("← Tổng quan", "← Overview")}
                </a>
            </div>
            {move || error.get().map(|e| view! { <p class="error">{e}</p> })}
            {move || data.get().map(|o| {
                let lang = scope.lang.get();
                let figures = [(ItemKind::Dossier, o.dossiers.clone()), (ItemKind::Complaint, o.complaints.clone()), (ItemKind::Task, o.tasks.clone())];
                view! {
                    <h2 class="officer-name">{o.officer.name.clone()}<span class="muted">{format!(" · {}", o.unit.name)}</span></h2>
                    <div class="officer-figures">{figures.into_iter().map(|(kind, f)| view! {
                        <div class="tile neutral">
                            <div class="tile-label">{kind_label(kind, lang)}</div>
                            <div class="tile-value">{format::integer(f.overdue, lang)}</div>
                            <div class="tile-note">{format!("{} {} · {} {} · {} {}",
                                format::integer(f.open, lang), lang.pick("đang xử lý", "open"),
                                format::integer(f.resolved_on_time, lang), lang.pick("đúng hạn", "on time"),
                                format::integer(f.resolved_late, lang), lang.pick("trễ hạn", "late"))}</div>
                        </div>
                    }).collect_view()}</div>
                    <h2>{format!("{} ({})", lang.pick("Việc quá hạn", "Overdue work"), format::integer(o.overdue_total, lang))}</h2>
                    {items_table(o.overdue, lang, scope.open)}
                }
            })}
        </section>
    }
}

/// The late officers of the scope, each opening their page.
#[component]
pub fn OfficersPage(scope: Scope, officers: Signal<Vec<LateOfficer>>) -> impl IntoView {
    view! {
        <section class="page officers-page" data-page="officers">
            <div class="filters">
                <a class="back" href="#" on:click=move |ev| { ev.prevent_default(); scope.open.run(View::Overview); }>
                    {move || scope.lang.get().pick("← Tổng quan", "← Overview")}
                </a>
            </div>
            <h2>{move || scope.lang.get().pick("Cán bộ chậm muộn", "Late officers")}</h2>
            <ol class="late-officers">
                {move || {
                    let lang = scope.lang.get();
                    officers.get().into_iter().map(|o| {
                        let id = o.id.clone();
                        view! { <li>
                            <a href="#" on:click=move |ev| { ev.prevent_default(); scope.open.run(View::Officer(id.clone())); }>{o.name}</a>
                            <span class="officer-unit">{o.unit_name}</span>
                            <span class="count bad">{format::integer(o.overdue, lang)}</span>
                        </li> }
                    }).collect_view()
                }}
            </ol>
        </section>
    }
}

/// One point of `GET /api/v1/units/{code}/series`.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct Point {
    pub t: String,
    pub value: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct Series {
    pub points: Vec<Point>,
}

/// The metrics of the tiles' 30-day sparklines.
pub const SPARK_METRICS: [&str; 6] = [
    "dossiers.received",
    "dossiers.on_time_rate",
    "dossiers.overdue",
    "complaints.received",
    "complaints.overdue",
    "tasks.overdue",
];

/// The last 30 days of every tile's metric: read when the unit changes, and again with the
/// live figures at most once a minute (at once while some are missing, e.g. after a failure).
pub fn sparklines(
    unit: Signal<String>,
    version: Signal<String>,
) -> RwSignal<std::collections::HashMap<String, Vec<Option<f64>>>> {
    let lines = RwSignal::new(std::collections::HashMap::new());
    // (unit, when) of the last read.
    let last: StoredValue<(String, f64)> = StoredValue::new((String::new(), 0.0));
    Effect::new(move |_| {
        let unit = unit.get();
        version.track();
        if unit.is_empty() {
            return;
        }
        let now = js_sys::Date::now();
        let (last_unit, last_at) = last.get_value();
        let complete =
            lines.with_untracked(|map| SPARK_METRICS.iter().all(|m| map.contains_key(*m)));
        if last_unit == unit && complete && now - last_at < 60_000.0 {
            return;
        }
        if last_unit != unit {
            lines.set(std::collections::HashMap::new());
        }
        last.set_value((unit.clone(), now));
        for metric in SPARK_METRICS {
            let unit = unit.clone();
            leptos::task::spawn_local(async move {
                if let Ok(series) = api::get_json::<Series>(&format!(
                    "/api/v1/units/{unit}/series?metric={metric}&step=day"
                ))
                .await
                {
                    let values: Vec<Option<f64>> =
                        series.points.into_iter().map(|p| p.value).collect();
                    lines.update(|map| {
                        map.insert(metric.to_owned(), values);
                    });
                }
            });
        }
    });
    lines
}

/// A small line of values (gaps where a value is missing).
pub fn sparkline(values: &[Option<f64>]) -> impl IntoView {
    let max = values.iter().flatten().copied().fold(0.0_f64, f64::max).max(1e-9);
    let n = values.len().max(2) as f64 - 1.0;
    let points: String = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.map(|v| {
                format!(
                    "{},{}",
                    format::coordinate(i as f64 * 100.0 / n),
                    format::coordinate(28.0 - v / max * 26.0)
                )
            })
        })
        .collect::<Vec<_>>()
        .join(" ");
    view! {
        <svg class="sparkline" viewBox="0 0 100 30" preserveAspectRatio="none" aria-hidden="true">
            <polyline points=points fill="none" stroke-width="1.5" vector-effect="non-scaling-stroke" />
        </svg>
    }
}

fn day_label(t: &str) -> String {
    // YYYY-MM-DD → DD/MM/YYYY
    let parts: Vec<&str> = t.split('-').collect();
    match parts.as_slice() {
        [y, m, d] => format!("{d}/{m}/{y}"),
        _ => t.to_owned(),
    }
}

/// "Xu hướng": received and resolved per day, and the on-time rate, over the chosen period
/// (the calendar period, or the last 30 days), drawn as SVG; values on hover or tap.
#[component]
pub fn Trend(scope: Scope) -> impl IntoView {
    let range = move || {
        let window = scope.window.get();
        if window.is_calendar() {
            // From the period's first day: the series endpoint takes `from`.
            let now = chrono::DateTime::from_timestamp_millis(js_sys::Date::now() as i64)
                .unwrap_or_default()
                .with_timezone(&ioc_shared::time::local_offset())
                .date_naive();
            let from = match window {
                Window::Month => now.with_day(1),
                Window::Quarter => {
                    chrono::NaiveDate::from_ymd_opt(now.year(), (now.month() - 1) / 3 * 3 + 1, 1)
                }
                _ => chrono::NaiveDate::from_ymd_opt(now.year(), 1, 1),
            };
            from.map(|f| format!("&from={f}")).unwrap_or_default()
        } else {
            String::new()
        }
    };
    let url = move |metric: &str| {
        Signal::derive({
            let metric = metric.to_owned();
            move || {
                Some(format!(
                    "/api/v1/units/{}/series?metric={metric}&step=day{}",
                    scope.unit.get(),
                    range()
                ))
            }
        })
    };
    let (received, _) = follow::<Series>(url("dossiers.received"), scope.version);
    let (resolved, _) = follow::<Series>(url("dossiers.resolved"), scope.version);
    let (rate, _) = follow::<Series>(url("dossiers.on_time_rate"), scope.version);
    let picked: RwSignal<Option<usize>> = RwSignal::new(None);
    use chrono::Datelike;
    view! {
        <div class="panel trend" data-panel="trend">
            <h2>{move || scope.lang.get().pick("Xu hướng", "Trend")}</h2>
            {move || {
                let lang = scope.lang.get();
                let (Some(received), Some(resolved)) = (received.get(), resolved.get()) else { return view! { <p class="muted">"…"</p> }.into_any() };
                let rate = rate.get().map(|r| r.points).unwrap_or_default();
                let n = received.points.len();
                let max = received.points.iter().chain(&resolved.points).filter_map(|p| p.value).fold(1.0_f64, f64::max);
                let x = move |i: usize| if n > 1 { 10.0 + i as f64 * 580.0 / (n as f64 - 1.0) } else { 300.0 };
                let y = move |v: f64| 150.0 - v / max * 130.0;
                let line = |points: &[Point], scale: &dyn Fn(f64) -> f64| -> String {
                    points.iter().enumerate().filter_map(|(i, p)| p.value.map(|v| format!("{},{}", format::coordinate(x(i)), format::coordinate(scale(v))))).collect::<Vec<_>>().join(" ")
                };
                let rate_y = |v: f64| 150.0 - v * 130.0;
                let received_line = line(&received.points, &y);
                let resolved_line = line(&resolved.points, &y);
                let rate_line = line(&rate, &rate_y);
                let received_points = received.points.clone();
                let first_day = received.points.first().map(|p| day_label(&p.t)).unwrap_or_default();
                let last_day = received.points.last().map(|p| day_label(&p.t)).unwrap_or_default();
                let readout = move || picked.get().and_then(|i| {
                    let day = received.points.get(i)?;
                    let got = |s: &[Point]| s.get(i).and_then(|p| p.value);
                    let r = got(&rate).map(|v| format::percent(v, lang)).unwrap_or_else(|| "—".into());
                    Some(format!("{}: {} {}, {} {}, {} {r}", day_label(&day.t),
                        format::integer(day.value.unwrap_or(0.0) as u64, lang), lang.pick("tiếp nhận", "received"),
                        format::integer(got(&resolved.points).unwrap_or(0.0) as u64, lang), lang.pick("giải quyết", "resolved"),
                        lang.pick("đúng hạn", "on time")))
                });
                view! {
                    <svg class="chart" viewBox="0 0 600 170" role="img">
                        <line x1="10" y1="150" x2="590" y2="150" class="axis" />
                        <polyline class="line received" points=received_line fill="none" />
                        <polyline class="line resolved" points=resolved_line fill="none" />
                        <polyline class="line rate" points=rate_line fill="none" />
                        {received_points.into_iter().enumerate().map(|(i, p)| {
                            let label = day_label(&p.t);
                            view! {
                                <rect class="hit" x=format::coordinate(x(i) - 290.0 / n.max(1) as f64) y="0" width=format::coordinate(580.0 / n.max(1) as f64) height="165"
                                    on:mouseover=move |_| picked.set(Some(i)) on:click=move |_| picked.set(Some(i))>
                                    <title>{label}</title>
                                </rect>
                            }
                        }).collect_view()}
                        <text x="10" y="166" class="tick">{first_day}</text>
                        <text x="590" y="166" text-anchor="end" class="tick">{last_day}</text>
                    </svg>
                    <div class="legend">
                        <span class="key received">{lang.pick("Tiếp nhận", "Received")}</span>
                        <span class="key resolved">{lang.pick("Giải quyết", "Resolved")}</span>
                        <span class="key rate">{lang.pick("Tỷ lệ đúng hạn", "On-time rate")}</span>
                    </div>
                    <div class="readout">{readout}</div>
                }.into_any()
            }}
        </div>
    }
}

/// "Chỉ số 766": the measured score and band, each indicator's points, the points at stake in
/// the next 24 hours, and the children ranked by score (click to drill down).
#[component]
pub fn ScoreCard(scope: Scope, go: Callback<String>) -> impl IntoView {
    let period = move || {
        let window = scope.window.get();
        if window.is_calendar() {
            window
        } else {
            Window::Month
        }
    };
    let (data, _) = follow::<ioc_shared::score::Score>(
        Signal::derive(move || {
            Some(format!("/api/v1/units/{}/score?period={}", scope.unit.get(), period().as_str()))
        }),
        scope.version,
    );
    view! {
        <div class="panel score-card" data-panel="score">
            <h2>{move || format!("{} · {}", scope.lang.get().pick("Chỉ số 766 (phần đo được)", "Decision 766 index (measured part)"), crate::ui::window_label(period(), scope.lang.get()))}</h2>
            {move || data.get().map(|score| {
                let lang = scope.lang.get();
                view! {
                    <div class="score-head">
                        <span class="score-value">{format::decimal(score.score, 1, lang)}</span>
                        <span class="muted">{format!("/ {}", format::decimal(score.measured_max, 0, lang))}</span>
                        <span class=format!("band {}", band_class(&score.band))>{score.band.clone()}</span>
                    </div>
                    <div class="at-stake">{format!("{} {} {} — {} {}",
                        lang.pick("24 giờ tới:", "Next 24 h:"), format::integer(score.at_stake_24h.dossiers, lang),
                        lang.pick("hồ sơ đến hạn", "dossiers fall due"), format::decimal(score.at_stake_24h.points, 2, lang),
                        lang.pick("điểm có thể mất", "points at stake"))}</div>
                    <ul class="indicators">{score.indicators.iter().map(|i| view! {
                        <li><span>{i.name.clone()}</span><span class="num">{format!("{} / {}", format::decimal(i.score, 2, lang), format::decimal(i.max, 0, lang))}</span></li>
                    }).collect_view()}</ul>
                    <p class="muted not-measured">{format!("{} {}", lang.pick("Không đo được từ dữ liệu sự kiện:", "Not measurable from events:"),
                        score.not_measured.iter().map(|g| format!("{} ({})", g.name, format::decimal(g.max, 0, lang))).collect::<Vec<_>>().join(", "))}</p>
                    <ol class="score-children">{score.children.into_iter().take(8).map(|c| {
                        let code = c.code.clone();
                        view! { <li><a href="#" on:click=move |ev| { ev.prevent_default(); go.run(code.clone()); }>{c.name}</a><span class="num">{format::decimal(c.score, 1, lang)}</span></li> }
                    }).collect_view()}</ol>
                }
            })}
        </div>
    }
}

/// The CSS class of a Decision 766 band.
pub fn band_class(band: &str) -> &'static str {
    match band {
        "Xuất sắc" => "band-excellent",
        "Tốt" => "band-good",
        "Khá" => "band-fair",
        "Trung bình" => "band-average",
        _ => "band-weak",
    }
}
