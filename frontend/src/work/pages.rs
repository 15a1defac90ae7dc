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
pub fn OfficersPage(officers: Signal<Vec<LateOfficer>>) -> impl IntoView {
    let scope = expect_context::<Scope>();
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
