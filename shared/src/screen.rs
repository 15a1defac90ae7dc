//! What the screens show, decided once for the dashboard and the wall: which tiles there are
//! and how each is coloured (the thresholds), the change badges, the freshness rule, labels.
//! The screens draw these in their own sizes; pure functions, tested natively.

use crate::format::{self, Lang};
use crate::live::{FeedStatus, SilentSource, BEHIND_AFTER_SECONDS};
use crate::summary::{Summary, Window};

/// The state of a screen's live connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    Connecting,
    Live,
    Disconnected,
}

/// The server's word on how current the figures are (its last heartbeat). Screens read it
/// straight from a `heartbeat` message (its other fields ignored), the same fields with the
/// same defaults as [`crate::live::ServerMessage::Heartbeat`]: decoding the whole message enum
/// in the browser costs ~10 KB of download.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct Feed {
    #[serde(default)]
    pub status: FeedStatus,
    #[serde(default)]
    pub lag_seconds: f64,
    #[serde(default)]
    pub silent_sources: Vec<SilentSource>,
}

/// Figures count as current while a message arrived within this long…
pub const AGING_AFTER_MS: f64 = 10_000.0;
/// …and as old (dimmed, red) after this long without one, or whenever disconnected.
pub const STALE_AFTER_MS: f64 = 60_000.0;

/// How current the figures on screen are: one rule for the dashboard and the wall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Connected, and the server spoke within [`AGING_AFTER_MS`]: green.
    Current,
    /// Connected, but silent for longer: amber.
    Aging,
    /// Disconnected, never heard from, or silent past [`STALE_AFTER_MS`]: red, figures dimmed.
    Stale,
}

impl Freshness {
    /// How current the figures are, and why not when they are not: the connection, the age of
    /// the last message, and what the server's heartbeat said (a stuck or rebuilding feed is
    /// never green, however recent the message).
    pub fn of(
        state: ConnState,
        last_message_ms: Option<f64>,
        now_ms: f64,
        feed: &Feed,
        lang: Lang,
    ) -> (Freshness, Option<String>) {
        let Some(last) = last_message_ms else { return (Freshness::Stale, None) };
        let age = now_ms - last;
        if state != ConnState::Live || age > STALE_AFTER_MS {
            return (Freshness::Stale, None);
        }
        let lag = feed.lag_seconds.round() as i64;
        let late = || match lang {
            Lang::Vi => format!("dữ liệu chậm {lag} giây"),
            Lang::En => format!("data {lag} s behind"),
        };
        match feed.status {
            FeedStatus::Rebuilding => (
                Freshness::Aging,
                Some(lang.pick("đang đồng bộ lại", "resynchronising").to_owned()),
            ),
            FeedStatus::Behind if feed.lag_seconds * 1000.0 > STALE_AFTER_MS => {
                (Freshness::Stale, Some(late()))
            }
            FeedStatus::Behind => (Freshness::Aging, Some(late())),
            FeedStatus::Unavailable if feed.lag_seconds > BEHIND_AFTER_SECONDS => {
                (Freshness::Stale, Some(late()))
            }
            FeedStatus::Unavailable => (
                Freshness::Stale,
                Some(
                    lang.pick("không đọc được số liệu trực tuyến", "live figures unreadable")
                        .to_owned(),
                ),
            ),
            FeedStatus::Live if age > AGING_AFTER_MS => (Freshness::Aging, None),
            FeedStatus::Live => (Freshness::Current, None),
        }
    }

    /// `green`, `amber` or `red`.
    pub fn colour(self) -> &'static str {
        match self {
            Freshness::Current => "green",
            Freshness::Aging => "amber",
            Freshness::Stale => "red",
        }
    }
}

/// "nguồn dữ liệu X im lặng từ HH:MM" for each silent source (both screens show these).
pub fn silent_source_notices(sources: &[SilentSource], lang: Lang) -> Vec<String> {
    sources
        .iter()
        .map(|s| {
            let since = crate::time::parse_rfc3339(&s.since)
                .map(|t| format::clock(t)[..5].to_owned())
                .unwrap_or_default();
            match lang {
                Lang::Vi => format!("nguồn dữ liệu {} im lặng từ {since}", s.source),
                Lang::En => format!("data source {} silent since {since}", s.source),
            }
        })
        .collect()
}

/// One figure of the overview, as both screens show it.
pub struct Tile {
    /// Stable id (`data-tile`), used by the tests and the wall's selection.
    pub id: &'static str,
    pub label: &'static str,
    pub value: String,
    pub tone: Tone,
    /// A second line (the dashboard shows it; the wall, read from across the room, does not).
    pub note: String,
    /// The change against the previous period, for window figures.
    pub change: Option<Change>,
    /// The series behind the tile's 30-day sparkline.
    pub metric: Option<&'static str>,
}

/// "▲ 2,5 điểm" or "▼ 12 %", and whether that is good news.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub text: String,
    /// `Some(true)` good, `Some(false)` bad, `None` neither (a volume).
    pub good: Option<bool>,
}

impl Change {
    pub fn class(&self) -> &'static str {
        match self.good {
            Some(true) => "change good",
            Some(false) => "change bad",
            None => "change neutral",
        }
    }
}

/// ▲ up, ▼ down, = unchanged.
fn arrow(change: f64) -> &'static str {
    if change > 0.0 {
        "▲"
    } else if change < 0.0 {
        "▼"
    } else {
        "="
    }
}

/// A count's change is shown as a percentage only when the previous period had at least this
/// many: below it, "▲ 800 %" says nothing (8 against 1).
pub const MIN_PREVIOUS_FOR_PERCENT: u64 = 20;

/// The relative change of a count ("▲ 12 %"); `None` when the previous period had fewer than
/// [`MIN_PREVIOUS_FOR_PERCENT`].
fn count_change(now: u64, before: u64, more_is_good: Option<bool>, lang: Lang) -> Option<Change> {
    if before < MIN_PREVIOUS_FOR_PERCENT {
        return None;
    }
    // Rounded as shown (a tenth of a percent).
    let ratio = ((now as f64 - before as f64) / before as f64 * 1000.0).round() / 1000.0;
    let arrow = arrow(ratio);
    let good = if ratio == 0.0 { None } else { more_is_good.map(|m| m == (ratio > 0.0)) };
    Some(Change { text: format!("{arrow} {}", format::percent(ratio.abs(), lang)), good })
}

/// The change of a duration as the difference itself ("▼ 4,5 giờ", "▲ 2,1 ngày"); shorter is
/// better. A ratio of durations ("▲ 1.911 %") reads as noise.
fn duration_change(
    now_hours: Option<f64>,
    before_hours: Option<f64>,
    lang: Lang,
) -> Option<Change> {
    let delta = now_hours? - before_hours?;
    let arrow = arrow(delta);
    Some(Change {
        text: format!("{arrow} {}", format::hours(delta.abs(), lang)),
        good: (delta != 0.0).then_some(delta < 0.0),
    })
}

/// The change of a rate in percentage points ("▲ 2,5 điểm").
fn rate_change(now: Option<f64>, before: Option<f64>, lang: Lang) -> Option<Change> {
    // Rounded as shown: a change that reads "0,0 điểm" is no change, neither red nor green.
    let delta = ((now? - before?) * 1000.0).round() / 10.0;
    let arrow = arrow(delta);
    let good = (delta != 0.0).then_some(delta > 0.0);
    Some(Change {
        text: format!(
            "{arrow} {} {}",
            format::decimal(delta.abs(), 1, lang),
            lang.pick("điểm", "pts")
        ),
        good,
    })
}

/// The tiles the wall shows, in order: fewer and larger than the dashboard's.
pub const WALL_TILES: [&str; 5] = [
    "dossiers-received",
    "on-time-rate",
    "dossiers-overdue",
    "complaints-overdue",
    "late-officers",
];

/// Every tile of the overview for a summary.
pub fn tiles(summary: &Summary, lang: Lang) -> Vec<Tile> {
    let no_data = lang.pick("Chưa có dữ liệu", "No data");
    let d = &summary.dossiers;
    let c = &summary.complaints;
    let late = summary.officers.late;
    let previous = summary.previous.clone().unwrap_or_default();
    let p = &previous.dossiers;
    let processing_change = duration_change(d.processing_hours.p50, p.processing_hours.p50, lang);
    vec![
        Tile {
            id: "dossiers-received",
            label: lang.pick("Hồ sơ tiếp nhận", "Dossiers received"),
            value: format::integer(d.received, lang),
            tone: Tone::Neutral,
            note: format!(
                "{} {}",
                format::integer(d.resolved, lang),
                lang.pick("đã giải quyết", "resolved")
            ),
            change: count_change(d.received, p.received, None, lang),
            metric: Some("dossiers.received"),
        },
        Tile {
            id: "on-time-rate",
            label: lang.pick("Tỷ lệ đúng hạn", "On-time rate"),
            value: d
                .on_time_rate
                .map(|r| format::percent(r, lang))
                .unwrap_or_else(|| no_data.to_owned()),
            tone: rate_tone(d.on_time_rate),
            note: format!(
                "{} {} · {} {}",
                format::integer(d.resolved_on_time, lang),
                lang.pick("đúng hạn", "on time"),
                format::integer(d.resolved_late, lang),
                lang.pick("trễ hạn", "late")
            ),
            change: rate_change(d.on_time_rate, p.on_time_rate, lang),
            metric: Some("dossiers.on_time_rate"),
        },
        Tile {
            id: "dossiers-overdue",
            label: lang.pick("Hồ sơ quá hạn", "Dossiers overdue"),
            value: format::integer(d.overdue, lang),
            tone: overdue_tone(d.overdue, d.open),
            note: format!("{} {}", format::integer(d.open, lang), lang.pick("đang xử lý", "open")),
            change: None,
            metric: Some("dossiers.overdue"),
        },
        Tile {
            id: "processing-time",
            label: lang.pick("Thời gian xử lý (trung vị)", "Processing time (median)"),
            value: d
                .processing_hours
                .p50
                .map(|h| format::hours(h, lang))
                .unwrap_or_else(|| no_data.to_owned()),
            tone: processing_tone(d.processing_hours.p50),
            note: d
                .processing_hours
                .p90
                .map(|h| format!("p90: {}", format::hours(h, lang)))
                .unwrap_or_default(),
            change: processing_change,
            metric: None,
        },
        Tile {
            id: "complaints-received",
            label: lang.pick("PAKN tiếp nhận", "Complaints received"),
            value: format::integer(c.received, lang),
            tone: Tone::Neutral,
            note: format!(
                "{} {}",
                format::integer(c.resolved, lang),
                lang.pick("đã giải quyết", "resolved")
            ),
            change: count_change(c.received, previous.complaints.received, None, lang),
            metric: Some("complaints.received"),
        },
        Tile {
            id: "complaints-overdue",
            label: lang.pick("PAKN quá hạn", "Complaints overdue"),
            value: format::integer(c.overdue, lang),
            tone: overdue_tone(c.overdue, c.open),
            note: c
                .satisfaction_rate
                .map(|r| {
                    format!("{} {}", lang.pick("hài lòng", "satisfied"), format::percent(r, lang))
                })
                .unwrap_or_else(|| {
                    format!("{} {}", format::integer(c.open, lang), lang.pick("đang xử lý", "open"))
                }),
            change: None,
            metric: Some("complaints.overdue"),
        },
        Tile {
            id: "late-officers",
            label: lang.pick("Cán bộ chậm muộn", "Late officers"),
            value: format::integer(late, lang),
            tone: late_officers_tone(late),
            note: format!(
                "{} {}",
                format::integer(summary.tasks.overdue, lang),
                lang.pick("nhiệm vụ quá hạn", "tasks overdue")
            ),
            change: None,
            metric: Some("tasks.overdue"),
        },
    ]
}

/// How a figure is coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Good,
    Warn,
    Bad,
    /// Nothing to rate: grey, "no data".
    Empty,
    /// A volume, not good or bad in itself.
    Neutral,
}

impl Tone {
    pub fn class(self) -> &'static str {
        match self {
            Tone::Good => "good",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
            Tone::Empty => "empty",
            Tone::Neutral => "neutral",
        }
    }
}

/// Whether a unit belongs in "Đơn vị cần chú ý": below the green on-time threshold on at least
/// 5 rated dossiers, or with overdue work.
pub fn needs_attention(child: &crate::summary::ChildFigures) -> bool {
    let rated_enough = child.rated >= crate::items::MIN_RATED;
    child.overdue > 0 || (rated_enough && rate_tone(child.on_time_rate) != Tone::Good)
}

/// On-time rate: ≥ 90 % green, ≥ 75 % amber, else red.
pub fn rate_tone(rate: Option<f64>) -> Tone {
    match rate {
        None => Tone::Empty,
        Some(r) if r >= 0.9 => Tone::Good,
        Some(r) if r >= 0.75 => Tone::Warn,
        Some(_) => Tone::Bad,
    }
}

/// Overdue items: none green, under 10 % of open amber, else red.
pub fn overdue_tone(overdue: u64, open: u64) -> Tone {
    if overdue == 0 {
        Tone::Good
    } else if (overdue as f64) < 0.1 * open as f64 {
        Tone::Warn
    } else {
        Tone::Bad
    }
}

/// Late officers: none green, 1–4 amber, 5 or more red.
pub fn late_officers_tone(late: u64) -> Tone {
    match late {
        0 => Tone::Good,
        1..=4 => Tone::Warn,
        _ => Tone::Bad,
    }
}

/// Median processing time: ≤ 24 h green, ≤ 72 h amber, else red.
pub fn processing_tone(hours: Option<f64>) -> Tone {
    match hours {
        None => Tone::Empty,
        Some(h) if h <= 24.0 => Tone::Good,
        Some(h) if h <= 72.0 => Tone::Warn,
        Some(_) => Tone::Bad,
    }
}

pub fn window_label(window: Window, lang: Lang) -> &'static str {
    match window {
        Window::Today => lang.pick("Hôm nay", "Today"),
        Window::Hours24 => lang.pick("24 giờ", "24 hours"),
        Window::Days7 => lang.pick("7 ngày", "7 days"),
        Window::Days30 => lang.pick("30 ngày", "30 days"),
        Window::Month => lang.pick("Tháng", "Month"),
        Window::Quarter => lang.pick("Quý", "Quarter"),
        Window::Year => lang.pick("Năm", "Year"),
    }
}

/// The top of a count axis: the smallest 1, 2 or 5 × 10ⁿ at or above `max` (at least 1), so
/// the axis is labelled with round numbers.
pub fn axis_top(max: f64) -> f64 {
    if !max.is_finite() || max <= 1.0 {
        return 1.0;
    }
    let magnitude = 10_f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * magnitude)
        .find(|top| *top >= max)
        .unwrap_or(10.0 * magnitude)
}

/// The bottom of a rate axis (the top is 100 %): the lowest rate shown, rounded down to ten
/// points, so rates in the high 90s are not pressed flat against the top.
pub fn rate_axis_bottom(rates: impl IntoIterator<Item = f64>) -> f64 {
    let lowest = rates.into_iter().filter(|r| r.is_finite()).fold(1.0_f64, f64::min);
    ((lowest * 10.0).floor() / 10.0).clamp(0.0, 0.9)
}

/// A sparkline's range: its own lowest and highest values (a flat line sits in the middle).
pub fn spark_range(values: &[Option<f64>]) -> Option<(f64, f64)> {
    let mut known = values.iter().flatten().copied().filter(|v| v.is_finite());
    let first = known.next()?;
    Some(known.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
}

/// What a change badge compares with, read next to it: the previous period of `window`.
pub fn previous_period_label(window: Window, lang: Lang) -> &'static str {
    match window {
        Window::Today => lang.pick("so với hôm qua", "vs yesterday"),
        Window::Hours24 => lang.pick("so với 24 giờ trước đó", "vs the 24 h before"),
        Window::Days7 => lang.pick("so với 7 ngày trước đó", "vs the 7 days before"),
        Window::Days30 => lang.pick("so với 30 ngày trước đó", "vs the 30 days before"),
        Window::Month => lang.pick("so với tháng trước", "vs last month"),
        Window::Quarter => lang.pick("so với quý trước", "vs last quarter"),
        Window::Year => lang.pick("so với năm trước", "vs last year"),
    }
}

/// The wall's "what comes next": the next view's name and the whole seconds left (never
/// below 1, so it never reads "0 giây" while the view is still up).
pub fn next_view_text(next: &str, seconds_left: f64, lang: Lang) -> String {
    let seconds = seconds_left.ceil().max(1.0) as u64;
    match lang {
        Lang::Vi => format!("Tiếp theo: {next} · {seconds} giây"),
        Lang::En => format!("Next: {next} · {seconds} s"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    /// Regression: the wall showed "▼ 0,0 điểm" in red for an on-time rate 0.02 points lower.
    #[test]
    fn a_change_that_rounds_to_nothing_is_neither_good_nor_bad() {
        let change = super::rate_change(Some(0.9462), Some(0.9464), Lang::Vi).unwrap();
        assert_eq!((change.text.as_str(), change.good), ("= 0,0 điểm", None));
        let change = super::count_change(10_000, 10_001, Some(true), Lang::Vi).unwrap();
        assert_eq!(change.good, None, "{}", change.text);
    }

    #[test]
    fn the_wall_says_what_comes_next_and_when() {
        assert_eq!(
            super::next_view_text("Quận Ba Đình — Hôm nay", 4.2, Lang::Vi),
            "Tiếp theo: Quận Ba Đình — Hôm nay · 5 giây"
        );
        assert_eq!(
            super::next_view_text("Chỉ số 766", -0.5, Lang::Vi),
            "Tiếp theo: Chỉ số 766 · 1 giây"
        );
        assert_eq!(super::next_view_text("Score 766", 2.5, Lang::En), "Next: Score 766 · 3 s");
        assert_eq!(super::previous_period_label(Window::Today, Lang::Vi), "so với hôm qua");
    }

    #[test]
    fn count_axes_end_on_round_numbers() {
        assert_eq!(super::axis_top(0.0), 1.0);
        assert_eq!(super::axis_top(3.0), 5.0);
        assert_eq!(super::axis_top(10.0), 10.0);
        assert_eq!(super::axis_top(11.0), 20.0);
        assert_eq!(super::axis_top(1_830.0), 2_000.0);
        assert_eq!(super::axis_top(f64::NAN), 1.0);
    }

    #[test]
    fn rate_axes_start_below_the_lowest_rate() {
        assert_eq!(super::rate_axis_bottom([0.95, 0.97]), 0.9);
        assert!((super::rate_axis_bottom([0.76, 0.99]) - 0.7).abs() < 1e-9);
        assert_eq!(super::rate_axis_bottom([0.05]), 0.0);
        assert_eq!(super::rate_axis_bottom([]), 0.9);
    }

    #[test]
    fn sparklines_span_their_own_range() {
        assert_eq!(super::spark_range(&[None, Some(40.0), Some(42.0), None]), Some((40.0, 42.0)));
        assert_eq!(super::spark_range(&[None]), None);
    }

    use super::*;

    const NOW: f64 = 1_000_000.0;

    fn feed(status: FeedStatus, lag_seconds: f64) -> Feed {
        Feed { status, lag_seconds, silent_sources: Vec::new() }
    }

    #[test]
    fn a_heartbeat_reads_as_the_feed_it_carries() {
        let heartbeat = crate::live::ServerMessage::Heartbeat {
            at: "2026-12-02T10:00:00Z".to_owned(),
            status: FeedStatus::Behind,
            lag_seconds: 12.5,
            silent_sources: vec![SilentSource {
                source: "tong-dai".to_owned(),
                since: "2026-12-02T09:00:00Z".to_owned(),
            }],
        };
        let text = serde_json::to_string(&heartbeat).unwrap();
        let feed: Feed = serde_json::from_str(&text).unwrap();
        let crate::live::ServerMessage::Heartbeat { status, lag_seconds, silent_sources, .. } =
            heartbeat
        else {
            unreachable!()
        };
        assert_eq!(feed, Feed { status, lag_seconds, silent_sources });
        // An old server's bare heartbeat: the defaults.
        let bare: Feed =
            serde_json::from_str(r#"{"type":"heartbeat","at":"2026-12-02T10:00:00Z"}"#).unwrap();
        assert_eq!(bare, Feed::default());
    }

    #[test]
    fn figures_are_current_only_while_connected_live_and_recently_heard_from() {
        let live = feed(FeedStatus::Live, 0.0);
        let of = |state, last: Option<f64>, feed: &Feed| {
            Freshness::of(state, last, NOW, feed, Lang::Vi).0
        };
        assert_eq!(of(ConnState::Live, Some(NOW - 1_000.0), &live), Freshness::Current);
        assert_eq!(of(ConnState::Live, Some(NOW - AGING_AFTER_MS - 1.0), &live), Freshness::Aging);
        assert_eq!(of(ConnState::Live, Some(NOW - STALE_AFTER_MS - 1.0), &live), Freshness::Stale);
        assert_eq!(of(ConnState::Live, None, &live), Freshness::Stale, "never heard from");
        for state in [ConnState::Connecting, ConnState::Disconnected] {
            assert_eq!(of(state, Some(NOW), &live), Freshness::Stale, "{state:?}");
        }
    }

    #[test]
    fn a_feed_that_is_behind_rebuilding_or_unavailable_is_never_green() {
        let at = |feed: Feed| Freshness::of(ConnState::Live, Some(NOW), NOW, &feed, Lang::Vi);
        assert_eq!(at(feed(FeedStatus::Rebuilding, 0.0)).0, Freshness::Aging);
        let (behind, why) = at(feed(FeedStatus::Behind, 12.4));
        assert_eq!((behind, why.as_deref()), (Freshness::Aging, Some("dữ liệu chậm 12 giây")));
        let in_english = Freshness::of(
            ConnState::Live,
            Some(NOW),
            NOW,
            &feed(FeedStatus::Behind, 12.4),
            Lang::En,
        );
        assert_eq!(in_english.1.as_deref(), Some("data 12 s behind"));
        let far_behind = STALE_AFTER_MS / 1000.0 + 1.0;
        assert_eq!(at(feed(FeedStatus::Behind, far_behind)).0, Freshness::Stale);
        assert_eq!(at(feed(FeedStatus::Unavailable, 0.0)).0, Freshness::Stale);
        assert_eq!(
            at(feed(FeedStatus::Unavailable, BEHIND_AFTER_SECONDS + 1.0)).1.as_deref(),
            Some(format!("dữ liệu chậm {} giây", (BEHIND_AFTER_SECONDS + 1.0).round()).as_str())
        );
    }

    #[test]
    fn a_count_change_is_a_percentage_only_from_20_previous_items() {
        let change = count_change(30, 20, Some(false), Lang::Vi).unwrap();
        assert_eq!((change.text.as_str(), change.good), ("▲ 50,0 %", Some(false)));
        let change = count_change(10, 20, Some(false), Lang::En).unwrap();
        assert_eq!((change.text.as_str(), change.good), ("▼ 50.0 %", Some(true)));
        assert_eq!(count_change(20, 20, Some(true), Lang::Vi).unwrap().good, None);
        // Regression: "▲ 800 %" from 1 to 9.
        assert_eq!(count_change(9, 1, Some(true), Lang::Vi), None);
        assert_eq!(count_change(300, 19, None, Lang::Vi), None);
        assert_eq!(count_change(7, 0, Some(true), Lang::Vi), None);
    }

    /// Regression: "▲ 1.911,5 %" on the median processing time.
    #[test]
    fn a_duration_change_is_the_difference_in_hours_or_days() {
        let change = duration_change(Some(100.0), Some(4.8), Lang::Vi).unwrap();
        assert_eq!((change.text.as_str(), change.good), ("▲ 4,0 ngày", Some(false)));
        let change = duration_change(Some(3.0), Some(7.5), Lang::En).unwrap();
        assert_eq!((change.text.as_str(), change.good), ("▼ 4.5 h", Some(true)));
        assert_eq!(duration_change(None, Some(3.0), Lang::Vi), None);
    }

    #[test]
    fn a_rate_change_is_in_points() {
        let change = rate_change(Some(0.925), Some(0.9), Lang::Vi).unwrap();
        assert_eq!((change.text.as_str(), change.good), ("▲ 2,5 điểm", Some(true)));
        assert_eq!(rate_change(Some(0.8), None, Lang::Vi), None);
    }

    #[test]
    fn tones_follow_the_documented_thresholds() {
        assert_eq!(rate_tone(Some(0.9)), Tone::Good);
        assert_eq!(rate_tone(Some(0.899)), Tone::Warn);
        assert_eq!(rate_tone(Some(0.75)), Tone::Warn);
        assert_eq!(rate_tone(Some(0.7499)), Tone::Bad);
        assert_eq!(rate_tone(None), Tone::Empty);
        assert_eq!(overdue_tone(0, 100), Tone::Good);
        assert_eq!(overdue_tone(9, 100), Tone::Warn);
        assert_eq!(overdue_tone(10, 100), Tone::Bad);
        assert_eq!(late_officers_tone(4), Tone::Warn);
        assert_eq!(late_officers_tone(5), Tone::Bad);
        assert_eq!(processing_tone(Some(24.0)), Tone::Good);
        assert_eq!(processing_tone(Some(72.1)), Tone::Bad);
    }
}
