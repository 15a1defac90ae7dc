//! The national service index (Decision 766/QĐ-TTg), live, for the groups events can measure:
//! `GET /api/v1/units/{code}/score?period=…` and the WebSocket `score` view.

use serde::{Deserialize, Serialize};

/// The measurable part of the index's 100 points: progress 20 + online 12 + satisfaction 18.
pub const MEASURED_MAX: f64 = 50.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    pub code: String,
    pub name: String,
    pub max: f64,
    pub score: f64,
    pub numerator: u64,
    pub denominator: u64,
    /// Computed from what the events say, not exactly as the portal does (see `online`).
    pub approximate: bool,
}

/// A group of the index the events cannot measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotMeasured {
    pub name: String,
    pub max: f64,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtStake {
    /// Open dossiers of the scope falling due in the next 24 hours.
    pub dossiers: u64,
    /// The `progress` points lost if they all go overdue.
    pub points: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildScore {
    pub code: String,
    pub name: String,
    pub score: f64,
    pub rank: u32,
}

/// The measured score of a scope over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub unit: crate::items::UnitName,
    /// `month`, `quarter` or `year`.
    pub period: crate::summary::Window,
    pub from: String,
    pub to: String,
    /// Points out of `measured_max` — never the full 100-point index.
    pub score: f64,
    pub measured_max: f64,
    pub indicators: Vec<Indicator>,
    pub not_measured: Vec<NotMeasured>,
    /// Xuất sắc, Tốt, Khá, Trung bình or Yếu, on score ÷ measured_max.
    pub band: String,
    pub at_stake_24h: AtStake,
    pub children: Vec<ChildScore>,
}

/// An indicator's name in `lang`: the server names them in Vietnamese, as Decision 766 does.
pub fn indicator_name(code: &str, vietnamese: &str, lang: crate::format::Lang) -> String {
    let english = match code {
        "progress" => "Resolution progress",
        "online" => "Online public services (approximate)",
        "complaints_on_time" => "Satisfaction: complaints on time",
        "complaint_satisfaction" => "Satisfaction: complaints",
        "dossier_satisfaction" => "Satisfaction: dossiers",
        _ => return vietnamese.to_owned(),
    };
    lang.pick(vietnamese, english).to_owned()
}

/// A group of Decision 766 not measured from events, in `lang` (named by its Vietnamese name).
pub fn not_measured_name(vietnamese: &str, lang: crate::format::Lang) -> &str {
    let english = match vietnamese {
        "Công khai, minh bạch" => "Publicity, transparency",
        "Số hóa hồ sơ" => "Digitised dossiers",
        "Thanh toán trực tuyến" => "Online payment",
        _ => return vietnamese,
    };
    lang.pick(vietnamese, english)
}

/// The children worst first, as a leader reads a ranking (the API lists them best first, with
/// their `rank`): lowest score first, ties by code.
pub fn worst_first(mut children: Vec<ChildScore>) -> Vec<ChildScore> {
    children.sort_by(|a, b| a.score.total_cmp(&b.score).then_with(|| a.code.cmp(&b.code)));
    children
}

/// The band of a score: ≥ 90 % Xuất sắc, ≥ 80 % Tốt, ≥ 70 % Khá, ≥ 50 % Trung bình, else Yếu.
pub fn band(score: f64, max: f64) -> &'static str {
    let share = if max > 0.0 { score / max } else { 0.0 };
    if share >= 0.9 {
        "Xuất sắc"
    } else if share >= 0.8 {
        "Tốt"
    } else if share >= 0.7 {
        "Khá"
    } else if share >= 0.5 {
        "Trung bình"
    } else {
        "Yếu"
    }
}

/// A band as a screen in `lang` names it (the API keeps the Vietnamese names of Decision 766).
pub fn band_label(band: &str, lang: crate::format::Lang) -> &str {
    let english = match band {
        "Xuất sắc" => "Excellent",
        "Tốt" => "Good",
        "Khá" => "Fair",
        "Trung bình" => "Average",
        "Yếu" => "Weak",
        _ => band,
    };
    lang.pick(band, english)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: in English the 766 card kept its Vietnamese indicator names.
    #[test]
    fn indicators_are_named_in_the_chosen_language() {
        use crate::format::Lang;
        let vi = "Tiến độ giải quyết";
        assert_eq!(indicator_name("progress", vi, Lang::En), "Resolution progress");
        assert_eq!(indicator_name("progress", vi, Lang::Vi), vi);
        assert_eq!(
            indicator_name("new-one", "Mới", Lang::En),
            "Mới",
            "unknown: as the server says"
        );
        assert_eq!(not_measured_name("Số hóa hồ sơ", Lang::En), "Digitised dossiers");
    }

    /// Regression: the card listed the 8 best units; a leader looks for the worst.
    #[test]
    fn children_are_listed_worst_first() {
        let child = |code: &str, score: f64| ChildScore {
            code: code.to_owned(),
            name: code.to_owned(),
            score,
            rank: 0,
        };
        let listed =
            worst_first(vec![child("a", 9.0), child("c", 3.5), child("b", 3.5), child("d", 7.0)]);
        let codes: Vec<&str> = listed.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes, ["b", "c", "d", "a"]);
    }

    #[test]
    fn bands_follow_the_share_of_the_measured_maximum() {
        assert_eq!(band(45.0, 50.0), "Xuất sắc");
        assert_eq!(band(44.99, 50.0), "Tốt");
        assert_eq!(band(40.0, 50.0), "Tốt");
        assert_eq!(band(35.0, 50.0), "Khá");
        assert_eq!(band(25.0, 50.0), "Trung bình");
        assert_eq!(band(24.9, 50.0), "Yếu");
        use crate::format::Lang;
        for (score, english) in
            [(45.0, "Excellent"), (40.0, "Good"), (35.0, "Fair"), (25.0, "Average"), (1.0, "Weak")]
        {
            assert_eq!(band_label(band(score, 50.0), Lang::En), english);
            assert_eq!(band_label(band(score, 50.0), Lang::Vi), band(score, 50.0));
        }
    }
}
