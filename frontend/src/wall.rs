//! The wall display at `/wall`: a screen nobody touches, running for months.
//!
//! - pairs once (a one-time code typed on the screen, or in the link's `#pair=` fragment) and
//!   then holds a long-lived display cookie;
//! - rotates through its playlist, showing the clock and the current view's name, a few very
//!   large figures, high contrast, no scrolling, hover or menus;
//! - shows freshness readable across the room: a badge amber after 10 s without data and red
//!   after 60 s, and a full-width "Mất kết nối" banner while disconnected; figures are dimmed
//!   whenever they may be old;
//! - recovers alone: the live connection reconnects forever; if the server says the display is
//!   gone, it returns to pairing;
//! - keeps only the newest snapshot per view, reloads itself once a night at 03:00 as a last
//!   line of defence, and shifts by a few pixels every few minutes against burn-in.
//!
//! It shows no citizen's personal data: complaint texts never reach the dashboard at all.

use crate::api;
use crate::live::{ConnState, LiveClient, LiveSignals};
use crate::ui::{self, late_officers_tone, overdue_tone, rate_tone, window_label, Tone};
use chrono::{DateTime, Timelike};
use ioc_shared::access::{Me, PairRequest, WallView};
use ioc_shared::format::{self, Lang};
use ioc_shared::summary::Summary;
use leptos::prelude::*;
use std::time::Duration;

/// Badge turns amber after this long without a message…
const AMBER_AFTER_MS: f64 = 10_000.0;
/// …and red (figures dimmed, banner shown) after this long.
const RED_AFTER_MS: f64 = 60_000.0;
/// Local hour of the nightly reload.
const RELOAD_HOUR: u32 = 3;
/// Minutes between pixel shifts.
const SHIFT_EVERY_MINUTES: i64 = 5;

#[derive(Clone, PartialEq)]
enum Phase {
    Checking,
    /// Not paired (or revoked): show the code form.
    Pairing { error: Option<String> },
    Running { name: String, playlist: Vec<WallView> },
    /// The server did not answer; retried.
    Unreachable,
}

#[component]
pub fn Wall() -> impl IntoView {
    let phase = RwSignal::new(Phase::Checking);
    start_up(phase);
    view! {
        <div class="wall-root">
            {move || match phase.get() {
                Phase::Checking => view! { <div class="wall-message">"Đang khởi động…"</div> }.into_any(),
                Phase::Unreachable => view! {
                    <div class="wall-banner">"Mất kết nối"</div>
                    <div class="wall-message">"Đang kết nối lại máy chủ…"</div>
                }.into_any(),
                Phase::Pairing { error } => view! { <PairingForm phase=phase error=error /> }.into_any(),
                Phase::Running { name, playlist } => view! { <Rotation name=name playlist=playlist phase=phase /> }.into_any(),
            }}
        </div>
    }
}

/// Finds out whether this screen is paired, pairing it from the link's fragment when it holds
/// a code. Retries while the server is unreachable.
fn start_up(phase: RwSignal<Phase>) {
    leptos::task::spawn_local(async move {
        match api::get_json::<Me>("/api/v1/me").await {
            Ok(Me::Display { name, playlist, .. }) => phase.set(Phase::Running { name, playlist }),
            Ok(Me::User { .. }) | Err(api::Failure { status: 401 | 403, .. }) => match code_from_fragment() {
                Some(code) => pair(phase, code).await,
                None => phase.set(Phase::Pairing { error: None }),
            },
            Err(_) => {
                phase.set(Phase::Unreachable);
                set_timeout(move || start_up(phase), Duration::from_secs(3));
            }
        }
    });
}

/// `#pair=CODE` in the address; removed from the address once read.
fn code_from_fragment() -> Option<String> {
    let location = web_sys::window()?.location();
    let hash = location.hash().ok()?;
    let code = hash.strip_prefix("#pair=")?.to_owned();
    if let Ok(history) = web_sys::window()?.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("/wall"));
    }
    (!code.is_empty()).then_some(code)
}

async fn pair(phase: RwSignal<Phase>, code: String) {
    match api::post_json::<_, Me>("/api/v1/displays/pair", &PairRequest { code }).await {
        Ok(Me::Display { name, playlist, .. }) => phase.set(Phase::Running { name, playlist }),
        Ok(Me::User { .. }) => phase.set(Phase::Pairing { error: Some("Mã không dành cho màn hình.".into()) }),
        Err(failure) => {
            let error = match failure.status {
                401 => "Mã ghép nối không đúng hoặc đã hết hạn.".to_owned(),
                429 => "Nhập sai quá nhiều lần; vui lòng thử lại sau.".to_owned(),
                _ => format!("Không ghép nối được: {}", failure.message),
            };
            phase.set(Phase::Pairing { error: Some(error) });
        }
    }
}

#[component]
fn PairingForm(phase: RwSignal<Phase>, error: Option<String>) -> impl IntoView {
    let code = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let typed = code.get_untracked();
        leptos::task::spawn_local(async move { pair(phase, typed).await });
    };
    view! {
        <form class="wall-pairing" on:submit=submit>
            <h1>"Ghép nối màn hình"</h1>
            <p>"Nhập mã ghép nối do quản trị viên cung cấp."</p>
            <input name="code" type="text" autocomplete="off" placeholder="ABCD-EFGH"
                prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev)) />
            {error.map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <button type="submit">"Ghép nối"</button>
        </form>
    }
}

#[component]
fn Rotation(name: String, playlist: Vec<WallView>, phase: RwSignal<Phase>) -> impl IntoView {
    let live = LiveSignals::new();
    let client = LiveClient::start(live);
    client.show(playlist.iter().map(|v| (v.unit.clone(), v.window)).collect());
    let playlist = StoredValue::new(playlist);
    let index = RwSignal::new(0_usize);
    let now_ms = RwSignal::new(js_sys::Date::now());
    let loaded_ms = js_sys::Date::now();
    let view_started = StoredValue::new(loaded_ms);
    let last_check = StoredValue::new(0.0_f64);

    let _ = set_interval_with_handle(
        move || {
            let now = js_sys::Date::now();
            now_ms.set(now);
            client.watchdog(now);
            // Rotate.
            let seconds = playlist.with_value(|p| p.get(index.get_untracked()).map(|v| v.seconds).unwrap_or(30));
            if now - view_started.get_value() >= f64::from(seconds) * 1000.0 {
                view_started.set_value(now);
                let len = playlist.with_value(Vec::len).max(1);
                index.update(|i| *i = (*i + 1) % len);
            }
            // Cut off for a while: is this display still wanted? If not, back to pairing.
            if live.state.get_untracked() != ConnState::Live && now - last_check.get_value() > 15_000.0 {
                last_check.set_value(now);
                leptos::task::spawn_local(async move {
                    if let Err(api::Failure { status: 401, .. }) = api::get_json::<Me>("/api/v1/me").await {
                        phase.set(Phase::Pairing { error: Some("Màn hình đã bị thu hồi hoặc cần ghép nối lại.".into()) });
                    }
                });
            }
            // Nightly reload, the last line of defence against anything that accumulates.
            let local = local_time(now);
            if local.hour() == RELOAD_HOUR && now - loaded_ms > 3_600_000.0 {
                ui::reload();
            }
        },
        Duration::from_secs(1),
    );

    let age_ms = move || live.last_message_ms.get().map(|t| now_ms.get() - t);
    let disconnected = move || live.state.get() != ConnState::Live;
    let stale = move || disconnected() || age_ms().is_none_or(|a| a > RED_AFTER_MS);
    let badge = move || {
        let (class, text) = match age_ms() {
            None => ("badge red", "Chưa có dữ liệu".to_owned()),
            Some(age) => {
                let text = format!("Cập nhật {}", format::ago((age / 1000.0) as i64, Lang::Vi));
                if age > RED_AFTER_MS || disconnected() {
                    ("badge red", text)
                } else if age > AMBER_AFTER_MS {
                    ("badge amber", text)
                } else {
                    ("badge green", text)
                }
            }
        };
        view! { <span class=class data-freshness=class.trim_start_matches("badge ")>{text}</span> }
    };
    let current = move || playlist.with_value(|p| p.get(index.get()).cloned());
    let shift = move || {
        let minutes = (now_ms.get() / 60_000.0) as i64 / SHIFT_EVERY_MINUTES;
        let (dx, dy) = ((minutes % 5) - 2, ((minutes / 5) % 5) - 2);
        format!("transform: translate({}px, {}px)", dx * 3, dy * 3)
    };
    let clock = move || {
        let now = DateTime::from_timestamp_millis(now_ms.get() as i64).unwrap_or_default();
        format!("{} · {}", &format::clock(now)[..5], format::date(now))
    };

    view! {
        <div class="wall" style=shift>
            {move || disconnected().then(|| view! { <div class="wall-banner" role="alert">"Mất kết nối"</div> })}
            <header class="wall-header">
                <div class="wall-view-name">
                    {move || {
                        let view = current();
                        let unit_name = view.as_ref().and_then(|v| {
                            live.snapshots.with(|m| m.get(&(v.unit.clone(), v.window)).map(|s| s.unit.name.clone()))
                        });
                        let window = view.map(|v| window_label(v.window, Lang::Vi)).unwrap_or("");
                        format!("{} — {}", unit_name.unwrap_or_else(|| "…".into()), window)
                    }}
                </div>
                <div class="wall-clock">{clock}</div>
                {badge}
            </header>
            {move || {
                let view = current();
                let summary = view.and_then(|v| live.snapshots.with(|m| m.get(&(v.unit, v.window)).cloned()));
                match summary {
                    None => view! { <div class="wall-message">"Đang tải số liệu…"</div> }.into_any(),
                    Some(summary) => view! { <WallFigures summary=summary stale=stale() /> }.into_any(),
                }
            }}
            <footer class="wall-footer">{name}</footer>
        </div>
    }
}

fn local_time(now_ms: f64) -> DateTime<chrono::FixedOffset> {
    DateTime::from_timestamp_millis(now_ms as i64).unwrap_or_default().with_timezone(&ioc_shared::time::local_offset())
}

#[component]
fn WallFigures(summary: Summary, stale: bool) -> impl IntoView {
    let lang = Lang::Vi;
    let d = &summary.dossiers;
    let c = &summary.complaints;
    let figures: Vec<(&str, &str, String, Tone)> = vec![
        ("dossiers-received", "Hồ sơ tiếp nhận", format::integer(d.received, lang), Tone::Neutral),
        (
            "on-time-rate",
            "Tỷ lệ đúng hạn",
            d.on_time_rate.map(|r| format::percent(r, lang)).unwrap_or_else(|| "Chưa có dữ liệu".into()),
            rate_tone(d.on_time_rate),
        ),
        ("dossiers-overdue", "Hồ sơ quá hạn", format::integer(d.overdue, lang), overdue_tone(d.overdue, d.open)),
        ("complaints-overdue", "PAKN quá hạn", format::integer(c.overdue, lang), overdue_tone(c.overdue, c.open)),
        ("late-officers", "Cán bộ chậm muộn", format::integer(summary.officers.late, lang), late_officers_tone(summary.officers.late)),
    ];
    let figures = figures
        .into_iter()
        .map(|(id, label, value, tone)| {
            view! {
                <div class=format!("wall-figure {}", tone.class()) data-tile=id>
                    <div class="wall-value">{value}</div>
                    <div class="wall-label">{label}</div>
                </div>
            }
        })
        .collect_view();
    let worst = summary
        .children
        .iter()
        .filter(|c| c.on_time_rate.is_some() || c.overdue > 0)
        .take(5)
        .map(|child| {
            let tone = rate_tone(child.on_time_rate);
            view! {
                <li>
                    <span class="wall-child-name">{child.name.clone()}</span>
                    <span class=format!("wall-child-rate {}", tone.class())>
                        {child.on_time_rate.map(|r| format::percent(r, lang)).unwrap_or_else(|| "—".into())}
                    </span>
                    <span class="wall-child-overdue">{format!("{} quá hạn", format::integer(child.overdue, lang))}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="wall-figures" class:stale=stale>{figures}</section>
        <section class="wall-worst" class:stale=stale>
            <h2>"Đơn vị cần chú ý"</h2>
            <ol>{worst}</ol>
        </section>
    }
}
