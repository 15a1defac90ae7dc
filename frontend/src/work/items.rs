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

pub fn items_table(items: Vec<Item>, lang: Lang, open: Callback<View>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="items">
                <thead><tr>
                    <th class="item-id">{lang.pick("Mã", "Id")}</th>
                    <th class="item-what">{lang.pick("Thủ tục / nội dung", "Procedure / subject")}</th>
                    <th class="item-unit">{lang.pick("Đơn vị", "Unit")}</th>
                    <th class="item-officer">{lang.pick("Cán bộ", "Officer")}</th>
                    <th class="item-due">{lang.pick("Hạn", "Due")}</th>
                    <th class="item-late">{lang.pick("Quá hạn", "Late")}</th>
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
