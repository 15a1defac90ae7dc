//! Lines over time: the tiles' 30-day sparklines and the "Xu hướng" trend chart.

use super::follow::follow;
use super::Scope;
use crate::api;
use ioc_shared::format;
use ioc_shared::summary::Window;
use leptos::prelude::*;

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
                    lines.try_update(|map| {
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
pub fn Trend() -> impl IntoView {
    let scope = expect_context::<Scope>();
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
