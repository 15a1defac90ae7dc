//! The pages behind a count: a list of one kind and state, an officer's work, the late
//! officers.

use super::follow::{follow, follow_decoded};
use super::items::{items_table, kind_label, state_label};
use super::Scope;
use crate::api;
use crate::route::View;
use ioc_shared::event::ItemKind;
use ioc_shared::format::{self, Lang};
use ioc_shared::items::{ItemList, ListState, OfficerView};
use ioc_shared::route::{ListPage as ListPageAt, OFFICERS_PER_PAGE};
use ioc_shared::summary::LateOfficer;
use leptos::prelude::*;

/// A list page: the items of one kind and state, with filters, paging and a CSV download. The
/// page `at` comes from the address, so a link or the back button opens the same page.
#[component]
pub fn ListPage(kind: ItemKind, state: ListState, at: Signal<ListPageAt>) -> impl IntoView {
    let scope = expect_context::<Scope>();
    // The cursor of each page seen so far, at its number − 1 ("" where not seen), so that
    // "previous" goes one page back after the back button too.
    let known: StoredValue<Vec<String>> = StoredValue::new(Vec::new());
    Effect::new(move |_| {
        let page = at.get();
        if let Some(cursor) = page.cursor {
            let index = page.number as usize - 1;
            known.update_value(|known| {
                if known.len() <= index {
                    known.resize(index + 1, String::new());
                }
                known[index] = cursor;
            });
        }
        to_top();
    });
    let query = move || {
        let mut q = format!(
            "kind={}&state={}&window={}",
            kind.as_str(),
            state.as_str(),
            scope.window.get().as_str()
        );
        if state == ListState::DueSoon {
            q.push_str("&within=24");
        }
        q
    };
    let (data, error) = follow::<ItemList>(
        Signal::derive(move || {
            let mut path = format!(
                "/api/v1/units/{}/items?{}&limit={ITEMS_PER_PAGE}",
                scope.unit.get(),
                query()
            );
            if let Some(cursor) = at.get().cursor {
                let cursor = js_sys::encode_uri_component(&cursor).as_string().unwrap_or_default();
                path.push_str(&format!("&cursor={cursor}"));
            }
            Some(path)
        }),
        scope.version,
    );
    let open = move |page: ListPageAt| scope.open.run(View::List { kind, state, page });
    // One page back when its cursor is known; otherwise (opened at a later page) the first.
    let back_one = move || {
        let number = at.with(|p| p.number);
        if number <= 2 {
            return Some(ListPageAt::FIRST);
        }
        known
            .with_value(|known| known.get(number as usize - 2).filter(|c| !c.is_empty()).cloned())
            .map(|cursor| ListPageAt { number: number - 1, cursor: Some(cursor) })
    };
    let pager = Pager {
        number: Signal::derive(move || at.with(|p| p.number)),
        pages: Signal::derive(move || {
            data.with(|d| d.as_ref().map_or(1, |d| pages_of(d.total, ITEMS_PER_PAGE)))
        }),
        has_next: Signal::derive(move || {
            data.with(|d| d.as_ref().is_some_and(|d| d.next.is_some()))
        }),
        back_to_first: Signal::derive(move || at.with(|p| p.number > 1) && back_one().is_none()),
        previous: Callback::new(move |()| open(back_one().unwrap_or(ListPageAt::FIRST))),
        next: Callback::new(move |()| {
            if let Some(next) = data.get_untracked().and_then(|d| d.next) {
                open(ListPageAt {
                    number: at.with_untracked(|p| p.number) + 1,
                    cursor: Some(next),
                });
            }
        }),
    };
    let kinds = [ItemKind::Dossier, ItemKind::Complaint, ItemKind::Task];
    view! {
        <section class="page list-page" data-page="list">
            <div class="filters">
                <label>{move || scope.lang.get().pick("Loại", "Kind")}
                    <select on:change=move |ev| { if let Some(k) = ItemKind::parse(&event_target_value(&ev)) { scope.open.run(View::list(k, state)); } }>
                        {kinds.into_iter().map(|k| view! { <option value=k.as_str() selected=k == kind>{move || kind_label(k, scope.lang.get())}</option> }).collect_view()}
                    </select>
                </label>
                <label>{move || scope.lang.get().pick("Trạng thái", "State")}
                    <select on:change=move |ev| { if let Some(s) = ListState::parse(&event_target_value(&ev)) { scope.open.run(View::list(kind, s)); } }>
                        {ListState::ALL.into_iter().map(|s| view! { <option value=s.as_str() selected=s == state>{move || state_label(s, scope.lang.get())}</option> }).collect_view()}
                    </select>
                </label>
                <a class="csv" download="" href=move || format!("/api/v1/units/{}/items.csv?{}{}", scope.unit.get(), query(), csv_layout(scope.lang.get()).map(|l| format!("&{l}")).unwrap_or_default())>
                    {move || scope.lang.get().pick("Tải CSV", "Download CSV")}
                </a>
                <a class="back" href="#" on:click=move |ev| { ev.prevent_default(); scope.open.run(View::Overview); }>
                    {move || scope.lang.get().pick("← Tổng quan", "← Overview")}
                </a>
            </div>
            <h2 class="list-title">
                {move || format!("{} {}", kind_label(kind, scope.lang.get()), state_label(state, scope.lang.get()))}
                <span class="total">{move || data.get().map(|d| format!(" — {}", format::integer(d.total, scope.lang.get()))).unwrap_or_default()}</span>
            </h2>
            {move || error.get().map(|e| view! { <p class="error">{e}</p> })}
            {move || {
                let lang = scope.lang.get();
                match data.with(|d| d.as_ref().map(|list| list.items.is_empty())) {
                    None => view! { <p class="muted">"…"</p> }.into_any(),
                    Some(true) => view! { <p class="muted empty-list">{lang.pick("Không có mục nào.", "Nothing here.")}</p> }.into_any(),
                    Some(false) => ().into_any(),
                }
            }}
            {items_table(std::sync::Arc::new(move || data.with(|d| d.as_ref().map(|list| list.items.clone()).unwrap_or_default())), scope.lang, scope.open)}
            {pager.view(scope.lang)}
        </section>
    }
}

/// Items per page of a list.
const ITEMS_PER_PAGE: u64 = 50;

/// Pages of `per_page` for `total` rows (at least one, which may be empty).
fn pages_of(total: u64, per_page: u64) -> u32 {
    u32::try_from(total.div_ceil(per_page).max(1)).unwrap_or(u32::MAX)
}

/// The pager under a paged list (items or late officers): previous, "Trang N / M", next.
struct Pager {
    /// The page on screen, 1 for the first.
    number: Signal<u32>,
    pages: Signal<u32>,
    has_next: Signal<bool>,
    /// "Previous" leads to the first page (opened at a later page whose predecessor is unknown).
    back_to_first: Signal<bool>,
    previous: Callback<()>,
    next: Callback<()>,
}

impl Pager {
    fn view(self, lang: Signal<Lang>) -> impl IntoView {
        let Pager { number, pages, has_next, back_to_first, previous, next } = self;
        view! {
            <div class="pager">
                <button class="prev" disabled=move || number.get() <= 1 on:click=move |_| previous.run(())>
                    {move || if back_to_first.get() { lang.get().pick("‹ Trang đầu", "‹ First page") } else { lang.get().pick("‹ Trang trước", "‹ Previous") }}
                </button>
                <span class="page-number">{move || format!("{} {} / {}", lang.get().pick("Trang", "Page"), number.get(), pages.get().max(number.get()))}</span>
                <button class="next" disabled=move || !has_next.get() on:click=move |_| next.run(())>
                    {move || lang.get().pick("Trang sau ›", "Next ›")}
                </button>
            </div>
        }
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
                }
            })}
            {items_table(std::sync::Arc::new(move || {
                let refused = error.with(Option::is_some);
                data.with(|d| d.as_ref().filter(|_| !refused).map(|o| o.overdue.clone()).unwrap_or_default())
            }), scope.lang, scope.open)}
        </section>
    }
}

/// One page of `GET /api/v1/units/{code}/officers`.
#[derive(Clone, Debug, PartialEq)]
struct OfficerPageData {
    total: u64,
    offset: usize,
    officers: Vec<LateOfficer>,
}

/// Reads the page's two numbers by hand and its officers with serde (the summary's decoder
/// for them is in the download anyway; a decoder for the wrapper would not be).
fn decode_officer_page(text: &str) -> Result<OfficerPageData, api::Failure> {
    use crate::live::field;
    let value = api::parse(text)?;
    let number = |name: &str| {
        field(&value, name).as_f64().filter(|n| *n >= 0.0).ok_or_else(|| api::Failure {
            status: 200,
            message: format!("`{name}` is not a count"),
        })
    };
    let officers = serde_wasm_bindgen::from_value(field(&value, "officers"))
        .map_err(|e| api::Failure { status: 200, message: e.to_string() })?;
    Ok(OfficerPageData {
        total: number("total")? as u64,
        offset: number("offset")? as usize,
        officers,
    })
}

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
/// is the list's length), each opening their page; and the CSV of all of them. The page `at`
/// comes from the address.
#[component]
pub fn OfficersPage(at: Signal<u32>) -> impl IntoView {
    let scope = expect_context::<Scope>();
    Effect::new(move |_| {
        at.track();
        to_top();
    });
    let (data, error) = follow_decoded(
        Signal::derive(move || {
            Some(format!(
                "/api/v1/units/{}/officers?limit={OFFICERS_PER_PAGE}&offset={}",
                scope.unit.get(),
                (at.get() - 1) * OFFICERS_PER_PAGE
            ))
        }),
        scope.version,
        decode_officer_page,
    );
    let pages = Signal::derive(move || {
        data.with(|d| d.as_ref().map_or(1, |d| pages_of(d.total, u64::from(OFFICERS_PER_PAGE))))
    });
    let open = move |page: u32| scope.open.run(View::Officers { page });
    let pager = Pager {
        number: at,
        pages,
        has_next: Signal::derive(move || at.get() < pages.get()),
        back_to_first: Signal::derive(|| false),
        previous: Callback::new(move |()| open(at.get_untracked().saturating_sub(1).max(1))),
        next: Callback::new(move |()| open(at.get_untracked() + 1)),
    };
    view! {
        <section class="page officers-page" data-page="officers">
            <div class="filters">
                <a class="csv" download="" href=move || format!("/api/v1/units/{}/officers.csv{}", scope.unit.get(), csv_layout(scope.lang.get()).map(|l| format!("?{l}")).unwrap_or_default())>
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
            {pager.view(scope.lang)}
        </section>
    }
}

/// The CSV layout parameter for the language on screen: semicolons and decimal commas for
/// Vietnamese (what Excel in the Vietnamese locale opens in columns); none (commas) otherwise.
pub fn csv_layout(lang: Lang) -> Option<&'static str> {
    (lang == Lang::Vi).then_some("delimiter=semicolon")
}
