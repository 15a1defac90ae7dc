//! "Báo cáo" at `/bao-cao`: a unit's frozen reports with their downloads (`?unit=001`), and one
//! report opened in the browser (`?id=5`) with its frozen figures, "số liệu chốt lúc …", and a
//! badge saying whether its signature checks — checked here, in the browser, with the server's
//! public key and the same verifier as `ioc report verify` ([`ioc_shared::signature`]).
//!
//! A bundle of its own: the signature check (Ed25519, SHA-256, canonical JSON) would not fit
//! the dashboard's first-load budget.

use crate::api;
use crate::route::encode;
use ioc_shared::access::Me;
use ioc_shared::format::{self, Lang};
use ioc_shared::report::{period_name, Report, ReportListing};
use leptos::prelude::*;

fn param(name: &str) -> Option<String> {
    crate::route::params()?.get(name).filter(|v| !v.is_empty())
}

#[component]
pub fn ReportsPage() -> impl IntoView {
    let lang = crate::route::read().lang;
    crate::ui::set_document(lang, lang.pick("Báo cáo", "Reports"));
    let me = LocalResource::new(api::session);
    let id = param("id");
    let unit = param("unit");
    view! {
        <div class="reports" data-page="reports">
            <header class="reports-head">
                <a class="back" href=unit.as_deref().map(|u| format!("/?unit={}", encode(u))).unwrap_or_else(|| "/".into())>
                    {lang.pick("← Bảng điều hành", "← Dashboard")}
                </a>
                <h1>{lang.pick("Báo cáo", "Reports")}</h1>
            </header>
            <Transition fallback=move || view! { <p class="muted">"…"</p> }>
                {move || me.get().map(|answer| match answer {
                    Ok(Some(Me::User { unit: scope, .. })) => match id.clone() {
                        Some(id) => view! { <ReportView id=id lang=lang /> }.into_any(),
                        None => {
                            let unit = unit.clone().or(scope);
                            view! { <ReportList unit=unit lang=lang /> }.into_any()
                        }
                    },
                    Ok(_) => view! {
                        <p class="reports-empty">
                            {lang.pick("Hãy đăng nhập trên ", "Sign in on ")}
                            <a href="/">{lang.pick("bảng điều hành", "the dashboard")}</a>
                            {lang.pick(" để xem báo cáo.", " to see reports.")}
                        </p>
                    }.into_any(),
                    Err(failure) => view! { <p class="error">{failure.message}</p> }.into_any(),
                })}
            </Transition>
        </div>
    }
}

fn period_text(period: &str, from: &str, to: &str, lang: Lang) -> String {
    let name = match lang {
        Lang::Vi => period_name(period).to_owned(),
        Lang::En => period.to_owned(),
    };
    format!("{name} {} – {}", day_label(from), day_label(to))
}

/// `YYYY-MM-DD` → `DD/MM/YYYY`.
fn day_label(day: &str) -> String {
    match day.split('-').collect::<Vec<_>>().as_slice() {
        [y, m, d] => format!("{d}/{m}/{y}"),
        _ => day.to_owned(),
    }
}

/// An RFC 3339 local time as `HH:MM DD/MM/YYYY`.
fn moment_label(at: &str) -> String {
    match (at.get(0..10), at.get(11..16)) {
        (Some(day), Some(time)) => format!("{time} {}", day_label(day)),
        _ => at.to_owned(),
    }
}

/// The unit's reports, newest first, each with its downloads; a button freezes last week's.
#[component]
fn ReportList(unit: Option<String>, lang: Lang) -> impl IntoView {
    let path = match &unit {
        Some(code) => format!("/api/v1/reports?unit={}", encode(code)),
        None => "/api/v1/reports".to_owned(),
    };
    let made = RwSignal::new(0_u32);
    let listed = LocalResource::new(move || {
        made.track();
        let path = path.clone();
        async move { api::get_json::<Vec<ReportListing>>(&path).await }
    });
    let failure: RwSignal<Option<String>> = RwSignal::new(None);
    let make = {
        let unit = unit.clone();
        move |_| {
            let Some(unit) = unit.clone() else { return };
            leptos::task::spawn_local(async move {
                let body = serde_json::json!({"unit": unit, "period": "week"});
                match api::post_json::<_, serde_json::Value>("/api/v1/reports", &body).await {
                    Ok(_) => {
                        failure.set(None);
                        made.update(|n| *n += 1);
                    }
                    Err(error) => failure.set(Some(error.message)),
                }
            });
        }
    };
    view! {
        <section class="report-list" data-unit=unit.clone().unwrap_or_default()>
            {unit.is_some().then(|| view! {
                <button class="make-report" on:click=make>{lang.pick("Lập báo cáo tuần trước", "Freeze last week's report")}</button>
            })}
            <p class="error">{move || failure.get()}</p>
            <Transition fallback=move || view! { <p class="muted">"…"</p> }>
                {move || listed.get().map(|answer| match answer {
                    Err(error) => view! { <p class="error">{error.message}</p> }.into_any(),
                    Ok(reports) if reports.is_empty() => view! {
                        <p class="reports-empty">{lang.pick("Chưa có báo cáo nào.", "No report yet.")}</p>
                    }.into_any(),
                    Ok(reports) => view! {
                        <table class="reports-table">
                            <thead><tr>
                                <th>{lang.pick("Kỳ", "Period")}</th>
                                <th>{lang.pick("Đơn vị", "Unit")}</th>
                                <th>{lang.pick("Số liệu chốt lúc", "Frozen at")}</th>
                                <th></th>
                            </tr></thead>
                            <tbody>
                                {reports.into_iter().map(|r| view! {
                                    <tr class="report-row" data-id=r.id.to_string()>
                                        <td>{period_text(&r.period, &r.from, &r.to, lang)}</td>
                                        <td>{r.unit_name.clone()}</td>
                                        <td>{moment_label(&r.frozen_at)}</td>
                                        <td class="downloads">
                                            <a class="open" href=format!("/bao-cao?id={}", r.id)>{lang.pick("Xem", "Open")}</a>
                                            <a class="pdf" href=format!("/api/v1/reports/{}.pdf", r.id) download=format!("bao-cao-{}.pdf", r.id)>"PDF"</a>
                                            <a class="json" href=format!("/api/v1/reports/{}", r.id) download=format!("bao-cao-{}.json", r.id)>"JSON"</a>
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// The report as frozen, and whether its signature checks against the server's public key.
#[derive(Clone)]
struct Opened {
    report: Report,
    /// `Ok`: the digest and the signature check; `Err`: why not.
    checked: Result<(), String>,
}

async fn open(id: &str) -> Result<Opened, api::Failure> {
    let text = api::call_text("GET", &format!("/api/v1/reports/{}", encode(id)), None).await?;
    let unreadable = |e: serde_json::Error| api::Failure { status: 200, message: e.to_string() };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(unreadable)?;
    let report: Report = serde_json::from_value(value.clone()).map_err(unreadable)?;
    let checked = match api::get_json::<ioc_shared::report::ReportKey>("/api/v1/reports/key").await
    {
        Ok(key) => {
            ioc_shared::signature::verify(&value, &key.public_key).map_err(|e| e.to_string())
        }
        Err(failure) => Err(failure.message),
    };
    Ok(Opened { report, checked })
}

#[component]
fn ReportView(id: String, lang: Lang) -> impl IntoView {
    let opened = LocalResource::new(move || {
        let id = id.clone();
        async move { open(&id).await }
    });
    view! {
        <Transition fallback=move || view! { <p class="muted">"…"</p> }>
            {move || opened.get().map(|answer| match answer {
                Err(failure) => view! { <p class="error">{failure.message}</p> }.into_any(),
                Ok(opened) => frozen(opened, lang).into_any(),
            })}
        </Transition>
    }
}

fn frozen(opened: Opened, lang: Lang) -> impl IntoView {
    let Opened { report, checked } = opened;
    let r = &report;
    let (badge_class, badge) = match &checked {
        Ok(()) => ("signature ok", lang.pick("✓ Chữ ký hợp lệ", "✓ Signature checks").to_owned()),
        Err(why) => (
            "signature bad",
            format!("{} ({why})", lang.pick("✗ Chữ ký không hợp lệ", "✗ Signature does not check")),
        ),
    };
    let (now, before) = (&r.figures, &r.previous);
    let rate = |v: Option<f64>| v.map(|v| format::percent(v, lang)).unwrap_or_else(|| "—".into());
    let line = |label: &'static str, this: String, last: String| {
        view! { <tr><th>{label}</th><td class="now">{this}</td><td class="before">{last}</td></tr> }
    };
    let count = |v: u64| format::integer(v, lang);
    let figures = vec![
        line(
            lang.pick("Hồ sơ tiếp nhận", "Dossiers received"),
            count(now.dossiers.received),
            count(before.dossiers.received),
        ),
        line(
            lang.pick("Hồ sơ giải quyết", "Dossiers resolved"),
            count(now.dossiers.resolved),
            count(before.dossiers.resolved),
        ),
        line(
            lang.pick("Đúng hạn", "On time"),
            count(now.dossiers.resolved_on_time),
            count(before.dossiers.resolved_on_time),
        ),
        line(
            lang.pick("Trễ hạn", "Late"),
            count(now.dossiers.resolved_late),
            count(before.dossiers.resolved_late),
        ),
        line(
            lang.pick("Tỷ lệ đúng hạn", "On-time rate"),
            rate(now.dossiers.on_time_rate),
            rate(before.dossiers.on_time_rate),
        ),
        line(
            lang.pick("Phản ánh tiếp nhận", "Complaints received"),
            count(now.complaints.received),
            count(before.complaints.received),
        ),
        line(
            lang.pick("Nhiệm vụ giao", "Tasks assigned"),
            count(now.tasks.assigned),
            count(before.tasks.assigned),
        ),
    ];
    let at_end = format!(
        "{}: {} {}, {} {}",
        lang.pick("Hồ sơ cuối kỳ", "Dossiers at the end"),
        count(r.at_end.dossiers.open),
        lang.pick("đang xử lý", "open"),
        count(r.at_end.dossiers.overdue),
        lang.pick("quá hạn", "overdue")
    );
    let children = r.children.iter().map(|c| view! {
        <tr class="child"><td>{c.rank}</td><td>{c.name.clone()}</td><td>{count(c.dossiers_received)}</td><td>{rate(c.on_time_rate)}</td><td>{count(c.complaints_received)}</td></tr>
    }).collect_view();
    let overdue = r.most_overdue.iter().map(|item| view! {
        <li class="overdue-item">{format!("{} — {} {}", item.id, format::decimal(item.hours_overdue, 1, lang), lang.pick("giờ quá hạn", "hours overdue"))}</li>
    }).collect_view();
    let officers = r.late_officers.iter().map(|o| view! {
        <li class="late-officer">{format!("{} — {} {}", o.name.clone().unwrap_or_else(|| o.id.clone()), o.overdue, lang.pick("việc quá hạn", "overdue"))}</li>
    }).collect_view();
    let notes = r.annotations.iter().map(|n| view! {
        <li class="note" data-source=n.source.clone()>{format!("{}: {}", moment_label(&n.at), n.text)}</li>
    }).collect_view();
    view! {
        <article class="report" data-id=r.id.to_string() data-digest=r.digest.clone()>
            <h2>{format!("{} — {}", r.unit.name, period_text(&r.period, &r.from, &r.to, lang))}</h2>
            <p class="frozen-at">{format!("{} {} · {} {}", lang.pick("Bản chốt: số liệu chốt lúc", "Figures frozen at"), moment_label(&r.frozen_at), lang.pick("lập bởi", "made by"), r.made_by)}</p>
            <p class=badge_class data-checked=checked.is_ok().to_string()>{badge}</p>
            <p class="downloads">
                <a class="pdf" href=format!("/api/v1/reports/{}.pdf", r.id) download=format!("bao-cao-{}.pdf", r.id)>{lang.pick("Tải PDF", "Download PDF")}</a>
                <a class="json" href=format!("/api/v1/reports/{}", r.id) download=format!("bao-cao-{}.json", r.id)>{lang.pick("Tải JSON (có chữ ký)", "Download signed JSON")}</a>
            </p>
            <table class="figures">
                <thead><tr><th></th><th>{lang.pick("Kỳ này", "This period")}</th><th>{lang.pick("Kỳ trước", "Previous")}</th></tr></thead>
                <tbody>{figures}</tbody>
            </table>
            <p class="at-end">{at_end}</p>
            <h3>{lang.pick("Đơn vị trực thuộc", "Units below")}</h3>
            <table class="children">
                <thead><tr><th>"#"</th><th>{lang.pick("Đơn vị", "Unit")}</th><th>{lang.pick("Tiếp nhận", "Received")}</th><th>{lang.pick("Đúng hạn", "On time")}</th><th>{lang.pick("Phản ánh", "Complaints")}</th></tr></thead>
                <tbody>{children}</tbody>
            </table>
            <h3>{lang.pick("Quá hạn lâu nhất cuối kỳ", "Longest overdue at the end")}</h3>
            <ul>{overdue}</ul>
            <h3>{lang.pick("Cán bộ có việc quá hạn", "Officers with overdue work")}</h3>
            <ul>{officers}</ul>
            <h3>{lang.pick("Ghi chú trong kỳ", "Notes in the period")}</h3>
            <ul>{notes}</ul>
            <p class="digest">{format!("SHA-256: {}", r.digest)}</p>
        </article>
    }
}
