//! Items as rows and cards, and the labels of kinds and states.

use crate::route::View;
use ioc_shared::event::ItemKind;
use ioc_shared::format::{self, Lang};
use ioc_shared::items::{Item, ListState};
use leptos::prelude::*;

pub fn kind_label(kind: ItemKind, lang: Lang) -> &'static str {
    match kind {
        ItemKind::Dossier => lang.pick("Hồ sơ", "Dossiers"),
        ItemKind::Complaint => lang.pick("Phản ánh, kiến nghị", "Complaints"),
        ItemKind::Task => lang.pick("Nhiệm vụ", "Tasks"),
    }
}

pub fn state_label(state: ListState, lang: Lang) -> &'static str {
    match state {
        ListState::Overdue => lang.pick("quá hạn", "overdue"),
        ListState::DueSoon => lang.pick("sắp đến hạn", "due soon"),
        ListState::Open => lang.pick("đang xử lý", "open"),
        ListState::Paused => lang.pick("tạm dừng chờ bổ sung", "paused"),
        ListState::ResolvedLate => lang.pick("giải quyết trễ hạn", "resolved late"),
        ListState::NeedsRouting => lang.pick("cần phân loại", "needs routing"),
    }
}

pub fn time_text(rfc3339: &Option<String>) -> String {
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
    let late = item.overdue_hours.map(|h| format::overdue(h, lang)).unwrap_or_default();
    let officer = item.officer.clone();
    view! {
        <tr class="item" data-item=item.id.clone()>
            <td class="item-id">{item.id.clone()}</td>
            <td class="item-what">{what}{item.summary.clone().map(|text| view! { <div class="item-summary">{text}</div> })}
                {item.directions.iter().map(|d| view! {
                    <div class="item-direction" data-direction=d.id>{format!("{} {}: {}", lang.pick("Chỉ đạo của", "Direction from"), d.by, d.text)}</div>
                }).collect_view()}
            </td>
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

/// Everything [`item_row`] shows of `item`: its key among the rows of a live list (no `{:?}`:
/// Debug's string escaping would cost the download kilobytes).
fn item_key(item: &Item, lang: Lang) -> String {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let mut key = [
        lang.code().to_owned(),
        item.source.clone(),
        item.id.clone(),
        text(&item.procedure),
        text(&item.title),
        text(&item.field),
        text(&item.summary),
        item.unit.name.clone(),
        item.officer.as_ref().map(|o| format!("{}:{}", o.id, o.name)).unwrap_or_default(),
        text(&item.due_extended),
        // As shown: the hours themselves change at every read.
        item.overdue_hours.map(|h| format::overdue(h, lang)).unwrap_or_default(),
    ]
    .join("\u{1f}");
    for d in &item.directions {
        key.push_str(&format!("\u{1f}{}:{}:{}", d.id, d.by, d.text));
    }
    key
}

/// A live table of items: the rows that stay the same keep their nodes as the list follows the
/// figures; hidden while the list is empty.
/// The items a table shows, read again at each change.
pub type Items = std::sync::Arc<dyn Fn() -> Vec<Item> + Send + Sync>;

pub fn items_table(items: Items, lang: Signal<Lang>, open: Callback<View>) -> impl IntoView {
    let shown = items.clone();
    // Drawn anew in the other language (the page is): the heading needs no closure.
    let heading = lang.get_untracked();
    let rows = move || {
        let lang = lang.get();
        items()
            .into_iter()
            .map(|item| {
                let key = item_key(&item, lang);
                crate::ui::Row::new(key, move || item_row(item, lang, open).into_any())
            })
            .collect()
    };
    view! {
        <div class="table-scroll" hidden=move || shown().is_empty()>
            <table class="items">
                <thead><tr>
                    <th class="item-id">{heading.pick("Mã", "Id")}</th>
                    <th class="item-what">{heading.pick("Thủ tục / nội dung", "Procedure / subject")}</th>
                    <th class="item-unit">{heading.pick("Đơn vị", "Unit")}</th>
                    <th class="item-officer">{heading.pick("Cán bộ", "Officer")}</th>
                    <th class="item-due">{heading.pick("Hạn", "Due")}</th>
                    <th class="item-late">{heading.pick("Quá hạn", "Late")}</th>
                </tr></thead>
                <tbody>{crate::ui::keyed(Box::new(rows))}</tbody>
            </table>
        </div>
    }
}
