//! The pages behind a count: a list of one kind and state, an officer's work, the late
//! officers.

use super::follow::follow;
use super::items::{items_table, kind_label, state_label};
use super::Scope;
use crate::route::View;
use ioc_shared::event::ItemKind;
use ioc_shared::format;
use ioc_shared::items::{ItemList, ListState, OfficerView};
use ioc_shared::summary::LateOfficer;
use leptos::prelude::*;

/// A list page: the items of one kind and state, with filters, paging and a CSV download.
#[component]
pub fn ListPage(kind: ItemKind, state: ListState) -> impl IntoView {
    let scope = expect_context::<Scope>();
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
                <a class="csv" download="" href=move || format!("/api/v1/units/{}/items.csv?{}{}", scope.unit.get(), query(), csv_layout(scope.lang.get()).replace('?', "&"))>
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
                    on:click=move |_| { let mut stack = cursors.get_untracked(); if let Some(previous) = stack.pop() { cursors.set(stack); cursor.set(previous); to_top(); } }>
                    {move || scope.lang.get().pick("‹ Trang trước", "‹ Previous")}
                </button>
                <span class="page-number">{move || {
                    let lang = scope.lang.get();
                    let pages = data.with(|d| d.as_ref().map_or(1, |d| (d.total as usize).div_ceil(50).max(1)));
                    format!("{} {} / {}", lang.pick("Trang", "Page"), cursors.with(Vec::len) + 1, pages)
                }}</span>
                <button class="next" disabled=move || data.with(|d| d.as_ref().is_none_or(|d| d.next.is_none()))
                    on:click=move |_| { if let Some(next) = data.get_untracked().and_then(|d| d.next) { cursors.update(|s| s.push(cursor.get_untracked())); cursor.set(Some(next)); to_top(); } }>
                    {move || scope.lang.get().pick("Trang sau ›", "Next ›")}
                </button>
            </div>
        </section>
    }
}

/// One officer's work within the scope.
#[component]
pub fn OfficerPage(officer: String) -> impl IntoView {
    let scope = expect_context::<Scope>();
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
            // The server's words are for programs; a person reads why in their language.
            {move || error.get().map(|_| view! { <p class="error" role="alert" data-refused="officer">{scope.lang.get().pick(
                "Không có cán bộ này, hoặc cán bộ không có việc trong phạm vi bạn được xem.",
                "There is no such officer, or they have no work in what you may see.")}</p> })}
            {move || data.get().filter(|_| error.get().is_none()).map(|o| {
                let lang = scope.lang.get();
                let figures = [(ItemKind::Dossier, o.dossiers.clone()), (ItemKind::Complaint, o.complaints.clone()), (ItemKind::Task, o.tasks.clone())];
                let home = o.home.clone().unwrap_or_else(|| o.unit.clone());
                let window = crate::ui::window_label(scope.window.get(), lang);
                view! {
                    <h2 class="officer-name">{o.officer.name.clone()}<span class="muted officer-home" data-unit=home.code.clone()>{format!(" · {}", home.name)}</span></h2>
                    <div class="officer-figures">{figures.into_iter().map(|(kind, f)| {
                        let tone = if f.overdue > 0 { "bad" } else { "good" };
                        view! {
                            <div class=format!("tile {tone}") data-figure=kind.as_str()>
                                <div class="tile-label">{format!("{} {}", kind_label(kind, lang), lang.pick("quá hạn", "overdue"))}</div>
                                <div class="tile-value">{format::integer(f.overdue, lang)}</div>
                                <div class="tile-note">{format!("{} {} · {}: {} {}, {} {}",
                                    format::integer(f.open, lang), lang.pick("đang xử lý", "open"), window,
                                    format::integer(f.resolved_on_time, lang), lang.pick("giải quyết đúng hạn", "resolved on time"),
                                    format::integer(f.resolved_late, lang), lang.pick("trễ hạn", "late"))}</div>
                            </div>
                        }
                    }).collect_view()}</div>
                    <h2>{format!("{} ({})", lang.pick("Việc quá hạn", "Overdue work"), format::integer(o.overdue_total, lang))}</h2>
                    {items_table(o.overdue, lang, scope.open)}
                }
            })}
        </section>
    }
}

/// One page of `GET /api/v1/units/{code}/officers`.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
struct OfficerPageData {
    total: u64,
    offset: usize,
    officers: Vec<LateOfficer>,
}

/// Officers per page of the late officers' list.
const OFFICERS_PER_PAGE: usize = 50;

/// Back to the top of a page after turning it: the new rows start where the eye starts.
fn to_top() {
    if let Some(page) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector(".page").ok().flatten())
    {
        page.set_scroll_top(0);
    }
    if let Some(window) = web_sys::window() {
        window.scroll_to_with_x_and_y(0.0, 0.0);
    }
}

/// Every late officer of the scope, ranked by overdue items, in pages of 50 (the tile's count
/// is the list's length), each opening their page; and the CSV of all of them.
#[component]
pub fn OfficersPage() -> impl IntoView {
    let scope = expect_context::<Scope>();
    let offset = RwSignal::new(0_usize);
    let (data, error) = follow::<OfficerPageData>(
        Signal::derive(move || {
            Some(format!(
                "/api/v1/units/{}/officers?limit={OFFICERS_PER_PAGE}&offset={}",
                scope.unit.get(),
                offset.get()
            ))
        }),
        scope.version,
    );
    let pages = move || {
        data.with(|d| {
            d.as_ref().map_or(1, |d| (d.total as usize).div_ceil(OFFICERS_PER_PAGE).max(1))
        })
    };
    let turn = move |to: usize| {
        offset.set(to);
        to_top();
    };
    view! {
        <section class="page officers-page" data-page="officers">
            <div class="filters">
                <a class="csv" download="" href=move || format!("/api/v1/units/{}/officers.csv{}", scope.unit.get(), csv_layout(scope.lang.get()))>
                    {move || scope.lang.get().pick("Tải CSV", "Download CSV")}
                </a>
                <a class="back" href="#" on:click=move |ev| { ev.prevent_default(); scope.open.run(View::Overview); }>
                    {move || scope.lang.get().pick("← Tổng quan", "← Overview")}
                </a>
            </div>
            <h2 class="list-title">{move || scope.lang.get().pick("Cán bộ chậm muộn", "Late officers")}
                <span class="total">{move || data.get().map(|d| format!(" — {}", format::integer(d.total, scope.lang.get()))).unwrap_or_default()}</span>
            </h2>
            {move || error.get().map(|e| view! { <p class="error">{e}</p> })}
            <div class="table-scroll"><table class="items late-officers">
                <thead><tr>
                    <th class="num">"#"</th>
                    <th>{move || scope.lang.get().pick("Cán bộ", "Officer")}</th>
                    <th>{move || scope.lang.get().pick("Đơn vị", "Unit")}</th>
                    <th class="num">{move || scope.lang.get().pick("Việc quá hạn", "Overdue items")}</th>
                </tr></thead>
                <tbody>{move || {
                    let lang = scope.lang.get();
                    data.get().map(|d| d.officers.into_iter().enumerate().map(|(i, o)| {
                        let id = o.id.clone();
                        view! { <tr class="officer-row" data-officer=o.id.clone()>
                            <td class="num">{d.offset + i + 1}</td>
                            <td><a href="#" on:click=move |ev| { ev.prevent_default(); scope.open.run(View::Officer(id.clone())); }>{o.name}</a></td>
                            <td class="officer-unit">{o.unit_name}</td>
                            <td class="num count bad">{format::integer(o.overdue, lang)}</td>
                        </tr> }
                    }).collect_view())
                }}</tbody>
            </table></div>
            <div class="pager">
                <button class="prev" disabled=move || offset.get() == 0
                    on:click=move |_| turn(offset.get_untracked().saturating_sub(OFFICERS_PER_PAGE))>
                    {move || scope.lang.get().pick("‹ Trang trước", "‹ Previous")}
                </button>
                <span class="page-number">{move || format!("{} {} / {}", scope.lang.get().pick("Trang", "Page"), offset.get() / OFFICERS_PER_PAGE + 1, pages())}</span>
                <button class="next" disabled=move || { offset.get() / OFFICERS_PER_PAGE + 1 >= pages() }
                    on:click=move |_| turn(offset.get_untracked() + OFFICERS_PER_PAGE)>
                    {move || scope.lang.get().pick("Trang sau ›", "Next ›")}
                </button>
            </div>
        </section>
    }
}

/// The CSV layout for the language on screen: semicolons and decimal commas for Vietnamese
/// (what Excel in the Vietnamese locale opens in columns), commas otherwise.
pub fn csv_layout(lang: ioc_shared::format::Lang) -> &'static str {
    lang.pick("?delimiter=semicolon", "")
}
