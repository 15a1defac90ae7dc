//! Number, duration and date formats for screens: Vietnamese by default ("1.234", "92,5 %",
//! "22/11/2026"), English on request ("1,234", "92.5 %", "22/11/2026").

use chrono::{DateTime, Utc};

/// The two languages of the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    pub fn parse(text: &str) -> Lang {
        if text.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Vi
        }
    }

    /// Picks the text of this language.
    pub fn pick<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }

    fn separators(self) -> (char, char) {
        match self {
            Lang::Vi => ('.', ','),
            Lang::En => (',', '.'),
        }
    }
}

/// Whole number with thousands separators: 1.234.567 (vi), 1,234,567 (en).
pub fn integer(n: u64, lang: Lang) -> String {
    let digits = n.to_string();
    let (thousands, _) = lang.separators();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(thousands);
        }
        out.push(c);
    }
    out
}

/// A number with a fixed count of decimals (at most 6): 4,5 (vi), 4.5 (en). Rounded in
/// integers, so the dashboard's WebAssembly needs no float formatting code.
pub fn decimal(x: f64, decimals: usize, lang: Lang) -> String {
    let decimals = decimals.min(6);
    let scale = 10_u64.pow(decimals as u32);
    let scaled = (x.abs() * scale as f64).round();
    let scaled = if scaled.is_finite() { scaled.min(u64::MAX as f64) as u64 } else { 0 };
    let (int_part, frac_part) = (scaled / scale, scaled % scale);
    let whole = integer(int_part, lang);
    let sign = if x < 0.0 && scaled > 0 { "-" } else { "" };
    if decimals == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}{}{frac_part:0width$}", lang.separators().1, width = decimals)
    }
}

/// A rate in 0..=1 as a percentage with one decimal: "92,5 %".
pub fn percent(rate: f64, lang: Lang) -> String {
    format!("{} %", decimal(rate * 100.0, 1, lang))
}

/// A duration in hours, in hours below two days and in days above: "4,5 giờ", "3,2 ngày".
pub fn hours(h: f64, lang: Lang) -> String {
    if h < 48.0 {
        format!("{} {}", decimal(h, 1, lang), lang.pick("giờ", "h"))
    } else {
        format!("{} {}", decimal(h / 24.0, 1, lang), lang.pick("ngày", "days"))
    }
}

/// Local (UTC+7) date: 22/11/2026. (Written out directly: chrono's `format` machinery would
/// add tens of kilobytes to the dashboard's WebAssembly.)
pub fn date(at: DateTime<Utc>) -> String {
    use chrono::Datelike;
    let local = at.with_timezone(&crate::time::local_offset());
    format!("{:02}/{:02}/{:04}", local.day(), local.month(), local.year())
}

/// Local (UTC+7) 24-hour time: 09:05:07.
pub fn clock(at: DateTime<Utc>) -> String {
    use chrono::Timelike;
    let local = at.with_timezone(&crate::time::local_offset());
    format!("{:02}:{:02}:{:02}", local.hour(), local.minute(), local.second())
}

/// How long ago, in words: "3 giây trước", "2 phút trước", "1 giờ trước".
pub fn ago(seconds: i64, lang: Lang) -> String {
    let s = seconds.max(0);
    let (n, vi, en) = if s < 60 {
        (s, "giây", "s")
    } else if s < 3600 {
        (s / 60, "phút", "min")
    } else if s < 86_400 {
        (s / 3600, "giờ", "h")
    } else {
        (s / 86_400, "ngày", "d")
    };
    match lang {
        Lang::Vi => format!("{n} {vi} trước"),
        Lang::En => format!("{n} {en} ago"),
    }
}

/// A coordinate for SVG, to a tenth ("12.3"), without float formatting code.
pub fn coordinate(x: f64) -> String {
    let tenths = (x * 10.0).round();
    let tenths = if tenths.is_finite() { tenths as i64 } else { 0 };
    let sign = if tenths < 0 { "-" } else { "" };
    format!("{sign}{}.{}", tenths.abs() / 10, tenths.abs() % 10)
}

/// "quá hạn 2 ngày 3 giờ": how late, in days and hours.
pub fn overdue(hours: f64, lang: Lang) -> String {
    let total = hours.max(0.0).round() as u64;
    let (days, rest) = (total / 24, total % 24);
    match (days, lang) {
        (0, Lang::Vi) => format!("quá hạn {rest} giờ"),
        (0, Lang::En) => format!("{rest} h overdue"),
        (_, Lang::Vi) => format!("quá hạn {days} ngày {rest} giờ"),
        (_, Lang::En) => format!("{days} d {rest} h overdue"),
    }
}

/// A complaint channel's name for people (`zalo` → "Zalo", `hotline` → "Đường dây nóng").
pub fn channel_name(code: &str, lang: Lang) -> &str {
    match code {
        "zalo" => "Zalo",
        "hotline" => lang.pick("Đường dây nóng", "Hotline"),
        "app" => lang.pick("Ứng dụng", "App"),
        "portal" => lang.pick("Cổng thông tin", "Web portal"),
        "direct" => lang.pick("Trực tiếp", "In person"),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_named_in_the_chosen_language() {
        assert_eq!(channel_name("hotline", Lang::Vi), "Đường dây nóng");
        assert_eq!(channel_name("hotline", Lang::En), "Hotline");
        assert_eq!(channel_name("zalo", Lang::En), "Zalo");
        assert_eq!(channel_name("fax", Lang::En), "fax", "unknown: the code itself");
    }

    #[test]
    fn how_late_reads_in_days_and_hours_rounded_to_the_hour() {
        assert_eq!(overdue(0.4, Lang::Vi), "quá hạn 0 giờ");
        assert_eq!(overdue(5.5, Lang::Vi), "quá hạn 6 giờ");
        assert_eq!(overdue(51.0, Lang::Vi), "quá hạn 2 ngày 3 giờ");
        assert_eq!(overdue(24.0, Lang::En), "1 d 0 h overdue");
        assert_eq!(overdue(-3.0, Lang::En), "0 h overdue", "never negative");
    }

    #[test]
    fn vietnamese_numbers_use_dot_for_thousands_and_comma_for_decimals() {
        assert_eq!(integer(1234, Lang::Vi), "1.234");
        assert_eq!(integer(1_234_567, Lang::Vi), "1.234.567");
        assert_eq!(integer(999, Lang::Vi), "999");
        assert_eq!(integer(1234, Lang::En), "1,234");
        assert_eq!(percent(0.925, Lang::Vi), "92,5 %");
        assert_eq!(decimal(1234.56, 1, Lang::Vi), "1.234,6");
        assert_eq!(hours(4.5, Lang::Vi), "4,5 giờ");
        assert_eq!(hours(76.8, Lang::Vi), "3,2 ngày");
    }

    #[test]
    fn dates_are_day_month_year_in_local_time() {
        let at = crate::time::parse_rfc3339("2026-11-21T17:30:05Z").unwrap_or_default();
        assert_eq!(date(at), "22/11/2026");
        assert_eq!(clock(at), "00:30:05");
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(ago(3, Lang::Vi), "3 giây trước");
        assert_eq!(ago(125, Lang::Vi), "2 phút trước");
        assert_eq!(ago(7200, Lang::En), "2 h ago");
    }
}
