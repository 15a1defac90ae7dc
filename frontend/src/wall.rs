//! The wall display at `/wall`: a screen nobody touches, running for months.
//!
//! - pairs once (a one-time code typed on the screen, or in the link's `#pair=` fragment) and
//!   then holds a long-lived display cookie;
//! - rotates through its playlist, showing the clock and the current view's name, a few very
//!   large figures, high contrast, no scrolling, hover or menus;
//! - shows freshness readable across the room (the rule of [`crate::ui::Freshness`]: amber
//!   after 10 s without data, red after 60 s or when disconnected), and a full-width
//!   "Mất kết nối" banner while disconnected; figures are dimmed whenever they may be old;
//! - recovers alone: the live connection reconnects forever; if the server says the display is
//!   gone, it returns to pairing;
//! - keeps only the newest snapshot per view, reloads itself once a night at 03:00 as a last
//!   line of defence, and shifts by a few pixels every few minutes against burn-in.
//!
//! It shows no citizen's personal data: complaint texts never reach the dashboard at all.
//!
//! Vietnamese by default; `/wall?lang=en` (set once where the screen is installed) shows it in
//! English.

use crate::api;
use crate::live::{ConnState, LiveClient, LiveSignals};
use crate::ui::{self, rate_tone, window_label, Freshness, WALL_TILES};
use chrono::{DateTime, Timelike};
use ioc_shared::access::{Me, PairRequest, WallView};
use ioc_shared::format::{self, Lang};
use ioc_shared::summary::Summary;
use leptos::prelude::*;
use std::time::Duration;

/// Local hour of the nightly reload.
const RELOAD_HOUR: u32 = 3;
/// Minutes between pixel shifts.
const SHIFT_EVERY_MINUTES: i64 = 5;

#[derive(Clone, PartialEq)]
enum Phase {
    Checking,
    /// Not paired (or revoked): show the code form.
    Pairing {
        error: Option<String>,
    },
    Running {
        name: String,
        /// The display's unit: its critical alerts show in a banner.
        unit: String,
        playlist: Vec<WallView>,
    },
    /// The server did not answer; retried.
    Unreachable,
}

/// The wall's language, from its address (`?lang=en`); read once, it never changes.
fn wall_lang() -> Lang {
    crate::route::read().lang
}

#[component]
pub fn Wall() -> impl IntoView {
    let phase = RwSignal::new(Phase::Checking);
    let lang = wall_lang();
    ui::set_document(lang, lang.pick("IOC — Màn hình tường", "IOC — Wall display"));
    start_up(phase);
    view! {
        <div class="wall-root">
            {move || match phase.get() {
                Phase::Checking => view! { <div class="wall-message">{lang.pick("Đang khởi động…", "Starting…")}</div> }.into_any(),
                Phase::Unreachable => view! {
                    <div class="wall-banner">{lang.pick("Mất kết nối", "Disconnected")}</div>
                    <div class="wall-message">{lang.pick("Đang kết nối lại máy chủ…", "Reconnecting to the server…")}</div>
                }.into_any(),
                Phase::Pairing { error } => view! { <PairingForm phase=phase error=error /> }.into_any(),
                Phase::Running { name, unit, playlist } => view! { <Rotation name=name unit=unit playlist=playlist phase=phase /> }.into_any(),
            }}
        </div>
    }
}

/// Finds out whether this screen is paired, pairing it from the link's fragment when it holds
/// a code. Retries while the server is unreachable.
fn start_up(phase: RwSignal<Phase>) {
    leptos::task::spawn_local(async move {
        match api::session().await {
            Ok(Some(Me::Display { name, unit, playlist, .. })) => {
                phase.set(Phase::Running { name, unit, playlist })
            }
            Ok(Some(Me::User { .. }) | None) => match code_from_fragment() {
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

/// `#pair=CODE` in the address; removed from the address once read (the query, which holds
/// the language, stays).
fn code_from_fragment() -> Option<String> {
    let location = web_sys::window()?.location();
    let hash = location.hash().ok()?;
    let code = hash.strip_prefix("#pair=")?.to_owned();
    let kept = format!("/wall{}", location.search().unwrap_or_default());
    if let Ok(history) = web_sys::window()?.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&kept));
    }
    (!code.is_empty()).then_some(code)
}

async fn pair(phase: RwSignal<Phase>, code: String) {
    let lang = wall_lang();
    match api::post_json::<_, Me>("/api/v1/displays/pair", &PairRequest { code }).await {
        Ok(Me::Display { name, unit, playlist, .. }) => {
            phase.set(Phase::Running { name, unit, playlist })
        }
        Ok(Me::User { .. }) => phase.set(Phase::Pairing {
            error: Some(
                lang.pick("Mã không dành cho màn hình.", "This code is not for a display.").into(),
            ),
        }),
        Err(failure) => {
            let error = match failure.status {
                401 => lang
                    .pick(
                        "Mã ghép nối không đúng hoặc đã hết hạn.",
                        "The pairing code is wrong or has expired.",
                    )
                    .to_owned(),
                429 => lang
                    .pick(
                        "Nhập sai quá nhiều lần; vui lòng thử lại sau.",
                        "Too many wrong codes; try again later.",
                    )
                    .to_owned(),
                _ => format!(
                    "{}: {}",
                    lang.pick("Không ghép nối được", "Pairing failed"),
                    failure.message
                ),
            };
            phase.set(Phase::Pairing { error: Some(error) });
        }
    }
}

#[component]
fn PairingForm(phase: RwSignal<Phase>, error: Option<String>) -> impl IntoView {
    let code = RwSignal::new(String::new());
    let lang = wall_lang();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let typed = code.get_untracked();
        leptos::task::spawn_local(async move { pair(phase, typed).await });
    };
    view! {
        <form class="wall-pairing" on:submit=submit>
            <h1>{lang.pick("Ghép nối màn hình", "Pair this display")}</h1>
            <p>{lang.pick("Nhập mã ghép nối do quản trị viên cung cấp.", "Enter the pairing code from your administrator.")}</p>
            <input name="code" type="text" autocomplete="off" placeholder="ABCD-EFGH"
                prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev)) />
            {error.map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <button type="submit">{lang.pick("Ghép nối", "Pair")}</button>
        </form>
    }
}

#[component]
fn Rotation(
    name: String,
    unit: String,
    playlist: Vec<WallView>,
    phase: RwSignal<Phase>,
) -> impl IntoView {
    let live = LiveSignals::new();
    let lang = wall_lang();
    // Cut off and the server says this display is gone: back to pairing.
    let client = LiveClient::start(live, move || {
        phase.set(Phase::Pairing {
            error: Some(
                lang.pick(
                    "Màn hình đã bị thu hồi hoặc cần ghép nối lại.",
                    "This display was revoked or must be paired again.",
                )
                .into(),
            ),
        });
    });
    client.show(playlist.iter().map(|v| (v.unit.clone(), v.window)).collect());
    client.follow_alerts(Some(unit));
    let playlist = StoredValue::new(playlist);
    let index = RwSignal::new(0_usize);
    let now_ms = RwSignal::new(js_sys::Date::now());
    let loaded_ms = js_sys::Date::now();
    let view_started = StoredValue::new(loaded_ms);

    let _ = set_interval_with_handle(
        move || {
            let now = js_sys::Date::now();
            now_ms.set(now);
            client.watchdog(now);
            // Rotate.
            let seconds = playlist
                .with_value(|p| p.get(index.get_untracked()).map(|v| v.seconds).unwrap_or(30));
            if now - view_started.get_value() >= f64::from(seconds) * 1000.0 {
                view_started.set_value(now);
                let len = playlist.with_value(Vec::len).max(1);
                index.update(|i| *i = (*i + 1) % len);
            }
            // Nightly reload, the last line of defence against anything that accumulates.
            let local = local_time(now);
            if local.hour() == RELOAD_HOUR && now - loaded_ms > 3_600_000.0 {
                ui::reload();
            }
        },
        Duration::from_secs(1),
    );

    let disconnected = move || live.state.get() != ConnState::Live;
    let freshness = move || {
        Freshness::of(
            live.state.get(),
            live.last_message_ms.get(),
            now_ms.get(),
            &live.feed.get(),
            lang,
        )
    };
    let stale = Signal::from(Memo::new(move |_| freshness().0 == Freshness::Stale));
    let badge = move || {
        let (freshness, reason) = freshness();
        let colour = freshness.colour();
        let text = match (reason, live.last_message_ms.get()) {
            (Some(reason), _) => reason,
            (None, None) => lang.pick("Chưa có dữ liệu", "No data yet").to_owned(),
            (None, Some(t)) => format!(
                "{} {}",
                lang.pick("Cập nhật", "Updated"),
                format::ago(((now_ms.get() - t) / 1000.0) as i64, lang)
            ),
        };
        view! { <span class=format!("badge {colour}") data-freshness=colour>{text}</span> }
    };
    let silent = move || {
        ui::silent_source_notices(&live.feed.get().silent_sources, lang)
            .into_iter()
            .map(|notice| view! { <div class="wall-notice silent-source" role="status">{notice}</div> })
            .collect_view()
    };
    let current = move || playlist.with_value(|p| p.get(index.get()).cloned());
    // The view on screen, and whether its figures have arrived.
    let shown = Memo::new(move |_| {
        let view = current();
        let loaded = view
            .as_ref()
            .is_some_and(|v| live.snapshots.with(|m| m.contains_key(&(v.unit.clone(), v.window))));
        (view, loaded)
    });
    let shift = move || {
        let minutes = (now_ms.get() / 60_000.0) as i64 / SHIFT_EVERY_MINUTES;
        let (dx, dy) = ((minutes % 5) - 2, ((minutes / 5) % 5) - 2);
        format!("translate({}px, {}px)", dx * 3, dy * 3)
    };
    let clock = move || {
        let now = DateTime::from_timestamp_millis(now_ms.get() as i64).unwrap_or_default();
        format!("{} · {}", &format::clock(now)[..5], format::date(now))
    };

    view! {
        <div class="wall" style:transform=shift>
            {move || disconnected().then(|| view! { <div class="wall-banner" role="alert">{lang.pick("Mất kết nối", "Disconnected")}</div> })}
            <crate::act::CriticalBanner alerts=live.alerts lang=lang />
            {silent}
            <header class="wall-header">
                <div class="wall-view-name">
                    {move || current().map(|v| view_title(&v, &live, lang)).unwrap_or_default()}
                </div>
                <div class="wall-clock">{clock}</div>
                {badge}
            </header>
            {move || {
                // Made anew only when the view changes or its first figures arrive: the score
                // view re-reads by itself, and freshness is a signal of its own.
                match shown.get() {
                    (Some(v), true) if v.view == ioc_shared::live::View::Score => {
                        // Re-read whenever this scope's live figures change.
                        let key = (v.unit.clone(), v.window);
                        let version = Signal::derive(move || live.snapshots.with(|m| m.get(&key).map(|s| s.as_of.clone()).unwrap_or_default()));
                        view! { <WallScore unit=v.unit period=v.window version=version stale=stale lang=lang /> }.into_any()
                    }
                    (Some(v), true) => {
                        let key = (v.unit, v.window);
                        (move || live.snapshots.with(|m| m.get(&key).cloned()).map(|summary| view! { <WallFigures summary=summary stale=stale lang=lang /> })).into_any()
                    }
                    _ => view! { <div class="wall-message">{lang.pick("Đang tải số liệu…", "Loading figures…")}</div> }.into_any(),
                }
            }}
            <footer class="wall-footer">
                <span>{name}</span>
                {move || (playlist.with_value(Vec::len) > 1).then(|| {
                    let len = playlist.with_value(Vec::len);
                    let next = playlist.with_value(|p| p.get((index.get() + 1) % len).cloned());
                    let seconds = playlist.with_value(|p| p.get(index.get()).map(|v| v.seconds).unwrap_or(30));
                    // Never more than the view's own time (the clock may read a moment before its start).
                    let left = ((f64::from(seconds) * 1000.0 - (now_ms.get() - view_started.get_value())) / 1000.0).min(f64::from(seconds));
                    let next_name = next.map(|v| view_title(&v, &live, lang)).unwrap_or_default();
                    view! { <span class="wall-next" data-next=next_name.clone()>{ui::next_view_text(&next_name, left, lang)}</span> }
                })}
            </footer>
        </div>
    }
}

/// A view's name as the wall shows it: "unit — window", or the score view's.
fn view_title(view: &WallView, live: &LiveSignals, lang: Lang) -> String {
    let unit_name = live
        .snapshots
        .with(|m| m.get(&(view.unit.clone(), view.window)).map(|s| s.unit.name.clone()))
        .unwrap_or_else(|| "…".into());
    let window = window_label(view.window, lang);
    if view.view == ioc_shared::live::View::Score {
        format!("{} · {unit_name} — {window}", lang.pick("Chỉ số 766", "Decision 766 index"))
    } else {
        format!("{unit_name} — {window}")
    }
}

/// The Decision 766 score in wall-size type: score, band, points at stake.
#[component]
fn WallScore(
    unit: String,
    period: ioc_shared::summary::Window,
    version: Signal<String>,
    stale: Signal<bool>,
    lang: Lang,
) -> impl IntoView {
    let path = format!("/api/v1/units/{unit}/score?period={}", period.as_str());
    let (data, _) = crate::work::follow::<ioc_shared::score::Score>(
        Signal::derive(move || Some(path.clone())),
        version,
    );
    view! {
        <section class="wall-score" class:stale=stale data-view="score">
            {move || data.get().map(|score| {
                view! {
                    <div class="wall-score-label">{format!("{} · {}", lang.pick("Chỉ số 766 · phần đo được", "Decision 766 index · measured part"), window_label(period, lang))}</div>
                    <div class="wall-score-value">{format!("{} / {}", format::decimal(score.score, 1, lang), format::decimal(score.measured_max, 0, lang))}</div>
                    <div class=format!("wall-score-band band {}", crate::work::band_class(&score.band))>{ioc_shared::score::band_label(&score.band, lang).to_owned()}</div>
                    <div class="wall-score-stake">{
                        let (dossiers, points) = (format::integer(score.at_stake_24h.dossiers, lang), format::decimal(score.at_stake_24h.points, 2, lang));
                        match lang {
                            Lang::Vi => format!("24 giờ tới: {dossiers} hồ sơ đến hạn — {points} điểm có thể mất"),
                            Lang::En => format!("Next 24 h: {dossiers} dossiers due — {points} points at stake"),
                        }
                    }</div>
                }
            })}
        </section>
    }
}

fn local_time(now_ms: f64) -> DateTime<chrono::FixedOffset> {
    DateTime::from_timestamp_millis(now_ms as i64)
        .unwrap_or_default()
        .with_timezone(&ioc_shared::time::local_offset())
}

/// Rows of "Đơn vị cần chú ý": enough to fill the panel at wall size.
const WALL_ATTENTION_ROWS: usize = 8;

#[component]
fn WallFigures(summary: Summary, stale: Signal<bool>, lang: Lang) -> impl IntoView {
    let figures = ui::tiles(&summary, lang)
        .into_iter()
        .filter(|tile| WALL_TILES.contains(&tile.id))
        .map(|tile| {
            let compared = ui::previous_period_label(summary.window, lang);
            view! {
                <div class=format!("wall-figure {}", tile.tone.class()) data-tile=tile.id>
                    <div class="wall-value">{tile.value}</div>
                    <div class="wall-label">{tile.label}</div>
                    {tile.change.map(|c| view! { <div class=format!("wall-{}", c.class())>{format!("{} {compared}", c.text)}</div> })}
                </div>
            }
        })
        .collect_view();
    // Only units that need attention: below the green threshold on a sample of at least 5
    // rated dossiers, or with overdue work; worst first (the children's ranking order).
    let attention: Vec<_> = summary
        .children
        .iter()
        .filter(|c| ui::needs_attention(c))
        .take(WALL_ATTENTION_ROWS)
        .cloned()
        .collect();
    let none = attention.is_empty();
    let worst = attention
        .into_iter()
        .map(|child| {
            let small = child.rated < ioc_shared::items::MIN_RATED;
            let tone = if small { ui::Tone::Empty } else { rate_tone(child.on_time_rate) };
            view! {
                <li>
                    <span class="wall-child-name">{child.name.clone()}</span>
                    <span class=format!("wall-child-rate {}", tone.class())>
                        {child.on_time_rate.map(|r| format::percent(r, lang)).unwrap_or_else(|| "—".into())}
                        // A rate from fewer than 5 rated dossiers is not comparable with the others.
                        {small.then(|| view! { <span class="wall-few">{lang.pick(" ít dữ liệu", " few data")}</span> })}
                    </span>
                    <span class="wall-child-overdue">{format!("{} {}", format::integer(child.overdue, lang), lang.pick("quá hạn", "overdue"))}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="wall-figures" class:stale=stale>{figures}</section>
        <section class="wall-worst" class:stale=stale>
            <h2>{lang.pick("Đơn vị cần chú ý", "Units needing attention")}</h2>
            {none.then(|| view! { <p class="wall-none">{lang.pick("Không có đơn vị cần chú ý", "No unit needs attention")}</p> })}
            <ol>{worst}</ol>
        </section>
    }
}
