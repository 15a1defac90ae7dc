//! Notes on the timeline: what leaders should know when they read a unit's trend ("Nghỉ Tết
//! Nguyên đán", "Hệ thống một cửa bảo trì"), entered by people or taken from the working
//! calendar's days off.

use serde::{Deserialize, Serialize};

/// Longest note text, in characters.
pub const MAX_TEXT_CHARS: usize = 500;

/// A note on a unit's timeline: a moment (`until` null) or a span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// `None` for a day off of the working calendar.
    pub id: Option<i64>,
    /// The unit it was entered for (`None`: the calendar's, every unit).
    pub unit: Option<String>,
    /// RFC 3339, local time.
    pub at: String,
    pub until: Option<String>,
    pub text: String,
    /// Whether it shows on the units below too.
    pub children: bool,
    /// Who entered it (`None` for the calendar).
    pub by: Option<String>,
    /// `note` (entered) or `calendar` (a day off).
    pub source: String,
}

/// `POST /api/v1/annotations`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAnnotation {
    pub unit: String,
    pub at: String,
    #[serde(default)]
    pub until: Option<String>,
    pub text: String,
    #[serde(default)]
    pub children: bool,
}
