//! Lines over time: the tiles' 30-day sparklines and the "Xu hướng" trend chart.

use super::follow::follow_decoded;
use super::Scope;
use crate::api;
use ioc_shared::format;
use ioc_shared::summary::Window;
use leptos::prelude::*;

/// One point of `GET /api/v1/units/{code}/series`.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub t: String,
    pub value: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub points: Vec<Point>,
    /// The unit's notes and the calendar's days off in the range.
    pub annotations: Vec<Note>,
}

/// Reads a series answer field by field from the browser's JSON (serde's decoders for these
/// three types would cost the dashboard's download more).
pub fn decode_series(text: &str) -> Result<Series, api::Failure> {
    use crate::live::field;
    let value = api::parse(text)?;
    let list = |name: &str| -> Vec<wasm_bindgen::JsValue> {
        use wasm_bindgen::JsCast;
        // Not an array (a server without notes): none.
        field(&value, name)
            .dyn_into::<js_sys::Array>()
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    };
    let text_of = |item: &wasm_bindgen::JsValue, name: &str| field(item, name).as_string();
    if !js_sys::Array::is_array(&field(&value, "points")) {
        return Err(api::Failure { status: 200, message: "a series without points".to_owned() });
    }
    Ok(Series {
        points: list("points")
            .iter()
            .map(|p| Point {
                t: text_of(p, "t").unwrap_or_default(),
                value: field(p, "value").as_f64(),
            })
            .collect(),
        annotations: list("annotations")
            .iter()
            .map(|n| Note {
                at: text_of(n, "at").unwrap_or_default(),
                until: text_of(n, "until"),
                text: text_of(n, "text").unwrap_or_default(),
            })
            .collect(),
    })
}

/// A note on the timeline, as a chart marks it.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    /// RFC 3339, local time: its first 10 characters are the local day.
    pub at: String,
    pub until: Option<String>,
    pub text: String,
}

/// The point each note falls on (a span: its first day in the range), with the note's text.
pub fn marks(points: &[Point], notes: &[Note]) -> Vec<(usize, String)> {
    notes
        .iter()
        .filter_map(|note| {
            let first = note.at.get(..10)?;
            let last = note.until.as_deref().and_then(|u| u.get(..10)).unwrap_or(first);
            let i = points.iter().position(|p| p.t.as_str() >= first && p.t.as_str() <= last)?;
            Some((i, note.text.clone()))
        })
        .collect()
}

/// Each tile metric's last 30 days, and where notes fall on them.
pub type Sparks = std::collections::HashMap<String, (Vec<Option<f64>>, Vec<(usize, String)>)>;

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
pub fn sparklines(unit: Signal<String>, version: Signal<String>) -> RwSignal<Sparks> {
    let lines = RwSignal::new(std::collections::HashMap::new());
    // (unit, when) of the last read, and how many of its requests are still out: while some
    // are, a new snapshot asks for nothing more.
    let last: StoredValue<(String, f64)> = StoredValue::new((String::new(), 0.0));
    let pending = StoredValue::new(0_usize);
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
        if last_unit == unit && (pending.get_value() > 0 || complete && now - last_at < 60_000.0) {
            return;
        }
        if last_unit != unit {
            lines.set(std::collections::HashMap::new());
        }
        last.set_value((unit.clone(), now));
        pending.set_value(SPARK_METRICS.len());
        for metric in SPARK_METRICS {
            let unit = unit.clone();
            leptos::task::spawn_local(async move {
                let answer = api::call_text(
                    "GET",
                    &format!("/api/v1/units/{unit}/series?metric={metric}&step=day"),
                    None,
                )
                .await
                .and_then(|text| decode_series(&text));
                if pending.is_disposed() {
                    return;
                }
                pending.update_value(|n| *n = n.saturating_sub(1));
                if let Ok(series) = answer {
                    let marked = marks(&series.points, &series.annotations);
                    let values: Vec<Option<f64>> =
                        series.points.into_iter().map(|p| p.value).collect();
                    lines.try_update(|map| {
                        map.insert(metric.to_owned(), (values, marked));
                    });
                }
            });
        }
    });
    lines
}

/// A small line of values (gaps where a value is missing), scaled to its own range so a
/// change shows even when the values are far from zero.
pub fn sparkline(values: &[Option<f64>], marked: &[(usize, String)]) -> impl IntoView {
    let (low, high) = ioc_shared::screen::spark_range(values).unwrap_or((0.0, 0.0));
    let span = high - low;
    let n = values.len().max(2) as f64 - 1.0;
    let points: String = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.map(|v| {
                let y = if span > 0.0 { 28.0 - (v - low) / span * 26.0 } else { 15.0 };
                format!("{},{}", format::coordinate(i as f64 * 100.0 / n), format::coordinate(y))
            })
        })
        .collect::<Vec<_>>()
        .join(" ");
    let notes = marked
        .iter()
        .map(|(i, text)| note_line(*i as f64 * 100.0 / n, 0.0, 30.0, text.clone()))
        .collect_view();
    view! {
        <svg class="sparkline" viewBox="0 0 100 30" preserveAspectRatio="none" aria-hidden="true">
            {notes}
            <polyline points=points fill="none" stroke-width="1.5" vector-effect="non-scaling-stroke" />
        </svg>
    }
}

/// A note's marker: a vertical line, its text on hover (one view type for charts and
/// sparklines).
fn note_line(x: f64, top: f64, bottom: f64, text: String) -> impl IntoView {
    let x = format::coordinate(x);
    view! {
        <line class="note" x1=x.clone() x2=x y1=format::coordinate(top) y2=format::coordinate(bottom)>
            <title>{text}</title>
        </line>
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
    let (received, _) = follow_decoded(url("dossiers.received"), scope.version, decode_series);
    let (resolved, _) = follow_decoded(url("dossiers.resolved"), scope.version, decode_series);
    let (rate, _) = follow_decoded(url("dossiers.on_time_rate"), scope.version, decode_series);
    let picked: RwSignal<Option<usize>> = RwSignal::new(None);
    use chrono::Datelike;
    view! {
        <div class="panel trend" data-panel="trend">
            <h2>{move || scope.lang.get().pick("Xu hướng hồ sơ theo ngày", "Dossiers per day")}</h2>
            {move || {
                let lang = scope.lang.get();
                let (Some(received), Some(resolved)) = (received.get(), resolved.get()) else { return view! { <p class="muted">"…"</p> }.into_any() };
                let rate = rate.get().map(|r| r.points).unwrap_or_default();
                let notes = marks(&received.points, &received.annotations);
                chart(received.points, resolved.points, rate, notes, picked, lang).into_any()
            }}
        </div>
    }
}

// The chart's frame in SVG units: counts above, the on-time rate below, each with its own
// labelled axis; dates along the bottom.
const LEFT: f64 = 44.0;
const RIGHT: f64 = 392.0;
const COUNT_TOP: f64 = 14.0;
const COUNT_BOTTOM: f64 = 118.0;
const RATE_TOP: f64 = 146.0;
const RATE_BOTTOM: f64 = 200.0;

/// Received and resolved per day on a count axis, the on-time rate on a percent axis below;
/// the last day, still running, drawn dashed and marked.
fn chart(
    received: Vec<Point>,
    resolved: Vec<Point>,
    rate: Vec<Point>,
    notes: Vec<(usize, String)>,
    picked: RwSignal<Option<usize>>,
    lang: ioc_shared::format::Lang,
) -> impl IntoView {
    use ioc_shared::screen::{axis_top, rate_axis_bottom};
    let n = received.len();
    let top =
        axis_top(received.iter().chain(&resolved).filter_map(|p| p.value).fold(0.0, f64::max));
    let rate_low = rate_axis_bottom(rate.iter().filter_map(|p| p.value));
    let x = move |i: usize| {
        if n > 1 {
            LEFT + i as f64 * (RIGHT - LEFT) / (n as f64 - 1.0)
        } else {
            (LEFT + RIGHT) / 2.0
        }
    };
    let count_y = move |v: f64| COUNT_BOTTOM - v / top * (COUNT_BOTTOM - COUNT_TOP);
    let rate_y = move |v: f64| {
        RATE_BOTTOM - (v - rate_low).max(0.0) / (1.0 - rate_low) * (RATE_BOTTOM - RATE_TOP)
    };
    // The whole days as one line, the running day as a dashed piece after it.
    let lines = |points: &[Point], scale: &dyn Fn(f64) -> f64| -> (String, String) {
        let at = |i: usize| {
            points
                .get(i)
                .and_then(|p| p.value)
                .map(|v| format!("{},{}", format::coordinate(x(i)), format::coordinate(scale(v))))
        };
        let whole = (0..n.saturating_sub(1)).filter_map(at).collect::<Vec<_>>().join(" ");
        let running = if n >= 2 {
            [at(n - 2), at(n - 1)].into_iter().flatten().collect::<Vec<_>>().join(" ")
        } else {
            String::new()
        };
        (whole, running)
    };
    let (received_line, received_today) = lines(&received, &count_y);
    let (resolved_line, resolved_today) = lines(&resolved, &count_y);
    let (rate_line, rate_today) = lines(&rate, &rate_y);
    let tick = |y: f64, text: String| {
        view! {
            <line x1=format::coordinate(LEFT) x2=format::coordinate(RIGHT) y1=format::coordinate(y) y2=format::coordinate(y) class="grid" />
            <text x=format::coordinate(LEFT - 4.0) y=format::coordinate(y + 4.0) text-anchor="end" class="tick y-tick">{text}</text>
        }
    };
    let count_ticks =
        [0.0, top / 2.0, top].map(|v| tick(count_y(v), format::integer(v as u64, lang)));
    let rate_ticks = [rate_low, 1.0].map(|v| tick(rate_y(v), format::percent(v, lang)));
    let day = |i: usize| received.get(i).map(|p| day_label(&p.t)).unwrap_or_default();
    let (first_day, middle_day, last_day) = (day(0), day(n / 2), day(n.saturating_sub(1)));
    let hits = (0..n).map(|i| {
        let width = (RIGHT - LEFT) / n.max(1) as f64;
        let label = day(i);
        view! {
            <rect class="hit" x=format::coordinate(x(i) - width / 2.0) y="0" width=format::coordinate(width) height=format::coordinate(RATE_BOTTOM)
                on:mouseover=move |_| picked.set(Some(i)) on:click=move |_| picked.set(Some(i))>
                <title>{label}</title>
            </rect>
        }
    }).collect_view();
    // A note: a dashed line through both axes at its day, its text on hover.
    // A picked day's notes follow its figures in the readout (a phone has no hover).
    let day_notes = notes.clone();
    let notes = notes
        .into_iter()
        .map(|(i, text)| note_line(x(i), COUNT_TOP, RATE_BOTTOM, text))
        .collect_view();
    let readout = move || {
        picked.get().and_then(|i| {
            let got = |s: &[Point]| s.get(i).and_then(|p| p.value);
            let r = got(&rate).map(|v| format::percent(v, lang)).unwrap_or_else(|| "—".into());
            let running = if i + 1 == n {
                lang.pick(" (hôm nay, chưa hết ngày)", " (today, still running)")
            } else {
                ""
            };
            let mut text = format!(
                "{}{running}: {} {}, {} {}, {} {r}",
                received.get(i).map(|p| day_label(&p.t))?,
                format::integer(got(&received).unwrap_or(0.0) as u64, lang),
                lang.pick("tiếp nhận", "received"),
                format::integer(got(&resolved).unwrap_or(0.0) as u64, lang),
                lang.pick("giải quyết", "resolved"),
                lang.pick("đúng hạn", "on time")
            );
            for (_, note) in day_notes.iter().filter(|(day, _)| *day == i) {
                text.push_str(" · ");
                text.push_str(note);
            }
            Some(text)
        })
    };
    view! {
        <svg class="chart" viewBox="0 0 400 222" role="img">
            <text x="2" y="9" class="tick axis-title counts-axis">{lang.pick("hồ sơ / ngày", "dossiers / day")}</text>
            {count_ticks}
            <text x="2" y=format::coordinate(RATE_TOP - 6.0) class="tick axis-title rate-axis">{lang.pick("tỷ lệ đúng hạn", "on-time rate")}</text>
            {rate_ticks}
            <polyline class="line received" points=received_line fill="none" />
            <polyline class="line resolved" points=resolved_line fill="none" />
            <polyline class="line rate" points=rate_line fill="none" />
            <polyline class="line received partial" points=received_today fill="none" />
            <polyline class="line resolved partial" points=resolved_today fill="none" />
            <polyline class="line rate partial" points=rate_today fill="none" />
            {hits}
            {notes}
            <text x=format::coordinate(LEFT) y="216" class="tick">{first_day}</text>
            <text x=format::coordinate((LEFT + RIGHT) / 2.0) y="216" text-anchor="middle" class="tick">{middle_day}</text>
            <text x=format::coordinate(RIGHT) y="216" text-anchor="end" class="tick">{last_day}</text>
        </svg>
        <div class="legend">
            <span class="key received">{lang.pick("Tiếp nhận", "Received")}</span>
            <span class="key resolved">{lang.pick("Giải quyết", "Resolved")}</span>
            <span class="key rate">{lang.pick("Tỷ lệ đúng hạn", "On-time rate")}</span>
            <span class="key partial">{lang.pick("hôm nay: chưa hết ngày", "today: still running")}</span>
        </div>
        <div class="readout">{readout}</div>
    }
}
