//! Pieces both screens use: colours by threshold, labels.

use ioc_shared::format::Lang;
use ioc_shared::summary::Window;

/// How a figure is coloured.
#[derive(Clone, Copy, PartialEq, Eq)]
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
    }
}

/// Reloads the page (after logout, or when the session or display is gone).
pub fn reload() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}
