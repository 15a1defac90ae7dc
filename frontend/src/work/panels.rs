//! The overview's panels: the most overdue items, the slowest procedures, the Decision 766
//! score card.

use super::follow::{follow, follow_decoded};
use super::items::items_table;
use super::Scope;
use crate::api;
use crate::route::View;
use ioc_shared::event::ItemKind;
use ioc_shared::format;
use ioc_shared::items::{ItemList, ListState, MIN_RATED};
use ioc_shared::summary::Window;
use leptos::prelude::*;

/// The overview's "most overdue" panel: the 10 most overdue dossiers of the scope.
#[component]
pub fn MostOverdue() -> impl IntoView {
    let scope = expect_context::<Scope>();
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
                <a href="#" on:click=move |ev| { ev.prevent_default(); scope.open.run(View::list(ItemKind::Dossier, ListState::Overdue)); }>
                    {move || scope.lang.get().pick("Hồ sơ quá hạn lâu nhất", "Most overdue dossiers")}
                </a>
            </h2>
            {move || {
                let lang = scope.lang.get();
                match data.with(|d| d.as_ref().map(|list| list.items.is_empty())) {
                    None => view! { <p class="muted">"…"</p> }.into_any(),
                    Some(true) => view! { <p class="muted">{lang.pick("Không có hồ sơ quá hạn.", "No overdue dossier.")}</p> }.into_any(),
                    Some(false) => ().into_any(),
                }
            }}
            {items_table(std::sync::Arc::new(move || data.with(|d| d.as_ref().map(|list| list.items.clone()).unwrap_or_default())), scope.lang, scope.open)}
        </div>
    }
}

/// What the panel shows of one row of `GET /api/v1/units/{code}/breakdown`.
#[derive(Clone, Debug, PartialEq)]
struct ProcedureRow {
    key: String,
    received: u64,
    received_online: u64,
    rated: u64,
    on_time_rate: Option<f64>,
    overdue: u64,
}

/// The breakdown's rows, read field by field from the browser's JSON (serde's decoder of the
/// whole answer cost the dashboard's download more than this).
fn decode_procedures(text: &str) -> Result<Vec<ProcedureRow>, api::Failure> {
    use crate::live::field;
    use wasm_bindgen::JsCast;
    let value = api::parse(text)?;
    let rows = field(&value, "rows").dyn_into::<js_sys::Array>().map_err(|_| api::Failure {
        status: 200,
        message: "a breakdown without rows".to_owned(),
    })?;
    rows.iter()
        .map(|row| {
            let count = |name: &str| {
                field(&row, name).as_f64().filter(|n| *n >= 0.0).map(|n| n as u64).ok_or_else(
                    || api::Failure { status: 200, message: format!("`{name}` is not a count") },
                )
            };
            Ok(ProcedureRow {
                key: field(&row, "key").as_string().unwrap_or_default(),
                received: count("received")?,
                received_online: count("received_online")?,
                rated: count("resolved_on_time")? + count("resolved_late")?,
                on_time_rate: field(&row, "on_time_rate").as_f64(),
                overdue: count("overdue")?,
            })
        })
        .collect()
}

/// The overview's "slowest procedures": the 10 worst by on-time rate among those rated at
/// least 5 times, with the share received online.
#[component]
pub fn SlowProcedures() -> impl IntoView {
    let scope = expect_context::<Scope>();
    let (data, _) = follow_decoded(
        Signal::derive(move || {
            Some(format!(
                "/api/v1/units/{}/breakdown?kind=dossier&by=procedure&window={}",
                scope.unit.get(),
                scope.window.get().as_str()
            ))
        }),
        scope.version,
        decode_procedures,
    );
    view! {
        <div class="panel slow-procedures" data-panel="slow-procedures">
            <h2>{move || scope.lang.get().pick("Thủ tục chậm nhất", "Slowest procedures")}</h2>
            {move || {
                let lang = scope.lang.get();
                // Before the first answer: nothing is known yet, so nothing is said.
                let Some(rows) = data.get() else { return view! { <p class="muted">"…"</p> }.into_any() };
                let rows: Vec<_> = rows.into_iter().filter(|r| r.rated >= MIN_RATED).take(10).collect();
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

/// "Chỉ số 766": the measured score and band, each indicator's points, the points at stake in
/// the next 24 hours, and the children ranked by score (click to drill down).
#[component]
pub fn ScoreCard(go: Callback<String>) -> impl IntoView {
    let scope = expect_context::<Scope>();
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
                        <span class=format!("band {}", band_class(&score.band))>{ioc_shared::score::band_label(&score.band, lang).to_owned()}</span>
                    </div>
                    <div class="at-stake">{format!("{} {} {} — {} {}",
                        lang.pick("24 giờ tới:", "Next 24 h:"), format::integer(score.at_stake_24h.dossiers, lang),
                        lang.pick("hồ sơ đến hạn", "dossiers fall due"), format::decimal(score.at_stake_24h.points, 2, lang),
                        lang.pick("điểm có thể mất", "points at stake"))}</div>
                    <ul class="indicators">{score.indicators.iter().map(|i| view! {
                        <li><span>{ioc_shared::score::indicator_name(&i.code, &i.name, lang)}</span><span class="num">{format!("{} / {}", format::decimal(i.score, 2, lang), format::decimal(i.max, 0, lang))}</span></li>
                    }).collect_view()}</ul>
                    <p class="muted not-measured">{format!("{} {}", lang.pick("Không đo được từ dữ liệu sự kiện:", "Not measurable from events:"),
                        score.not_measured.iter().map(|g| format!("{} ({})", ioc_shared::score::not_measured_name(&g.name, lang), format::decimal(g.max, 0, lang))).collect::<Vec<_>>().join(", "))}</p>
                    <ol class="score-children" data-order="worst-first">{ioc_shared::score::worst_first(score.children).into_iter().map(|c| {
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
