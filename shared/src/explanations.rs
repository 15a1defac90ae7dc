//! Explanation requests (yêu cầu giải trình) and directions (chỉ đạo): what a leader asks a
//! unit to explain, the unit's answer, and what a leader directs on one item.

use crate::calendar::DueIn;
use crate::event::ItemKind;
use crate::items::UnitName;
use crate::summary::Window;
use serde::{Deserialize, Serialize};

/// Longest question, answer, note or direction, in characters.
pub const MAX_TEXT_CHARS: usize = 4_000;

/// What a request asks about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum About {
    /// A figure of the unit's summary (or score), by its JSON path, over a window.
    Figure { metric: String, window: Window },
    /// One dossier, complaint or task of the unit.
    Item { item_kind: ItemKind, id: String },
    /// One of the unit's alerts.
    Alert { id: i64 },
}

/// `POST /api/v1/explanations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewExplanation {
    pub unit: String,
    pub about: About,
    pub question: String,
    /// In working time: `{"working_days": 3}` or `{"working_hours": 8}`.
    pub due_in: DueIn,
}

/// A request's state; "overdue" is an open request past its due time (see
/// [`Explanation::overdue`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplanationState {
    Open,
    Answered,
    Closed,
}

impl ExplanationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExplanationState::Open => "open",
            ExplanationState::Answered => "answered",
            ExplanationState::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<ExplanationState> {
        [ExplanationState::Open, ExplanationState::Answered, ExplanationState::Closed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// What a message of the thread is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Question,
    Answer,
    Close,
    Reopen,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Question => "question",
            MessageKind::Answer => "answer",
            MessageKind::Close => "close",
            MessageKind::Reopen => "reopen",
        }
    }

    pub fn parse(text: &str) -> Option<MessageKind> {
        [MessageKind::Question, MessageKind::Answer, MessageKind::Close, MessageKind::Reopen]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// One message of a request's thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub kind: MessageKind,
    /// The username.
    pub by: String,
    pub text: String,
    /// RFC 3339, local time.
    pub at: String,
}

/// An explanation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub id: i64,
    pub unit: UnitName,
    pub about: About,
    /// The latest question (the first, or the one it was reopened with).
    pub question: String,
    pub state: ExplanationState,
    /// Open and past its due time.
    pub overdue: bool,
    pub due_in: DueIn,
    /// RFC 3339, local time, in working time from when it was asked (or reopened).
    pub due: String,
    pub asked_by: String,
    pub asked_at: String,
    pub answered_at: Option<String>,
    pub closed_at: Option<String>,
    /// The whole thread, oldest first (`GET /api/v1/explanations/{id}` and every change);
    /// empty in listings.
    #[serde(default)]
    pub messages: Vec<Message>,
}

/// `GET /api/v1/explanations`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplanationsPage {
    pub explanations: Vec<Explanation>,
    /// The cursor of the next page, or `null` on the last.
    pub next: Option<String>,
}

/// The `state` filter of a listing: a state, or `overdue` (open past due).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    State(ExplanationState),
    Overdue,
}

impl StateFilter {
    pub fn parse(text: &str) -> Option<StateFilter> {
        match text {
            "overdue" => Some(StateFilter::Overdue),
            other => ExplanationState::parse(other).map(StateFilter::State),
        }
    }
}

/// A direction on an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Direction {
    pub id: i64,
    /// The username.
    pub by: String,
    pub text: String,
    /// RFC 3339, local time.
    pub at: String,
}

/// `{"text"}` of a direction or an answer, `{"note"}` of a closing, `{"question"}` of a
/// reopening: trimmed, not empty, at most [`MAX_TEXT_CHARS`], no NUL.
pub fn check_text(field: &str, text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("`{field}` is empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("`{field}` is longer than {MAX_TEXT_CHARS} characters"));
    }
    if text.contains('\0') {
        return Err(format!("`{field}` contains a NUL character"));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_issues_request_bodies_parse() {
        for about in [
            r#"{"kind": "figure", "metric": "dossiers.overdue", "window": "month"}"#,
            r#"{"kind": "item", "item_kind": "dossier", "id": "HS-1"}"#,
            r#"{"kind": "alert", "id": 17}"#,
        ] {
            let body = format!(
                r#"{{"unit": "00004", "about": {about}, "question": "Vì sao?", "due_in": {{"working_days": 3}}}}"#
            );
            let parsed: NewExplanation = serde_json::from_str(&body).unwrap();
            assert_eq!(parsed.due_in, DueIn::WorkingDays(3));
        }
    }

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(check_text("text", "  Đã xử lý  ").unwrap(), "Đã xử lý");
        assert!(check_text("text", "   ").is_err());
        assert!(check_text("text", &"a".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert!(check_text("text", &"ă".repeat(MAX_TEXT_CHARS)).is_ok());
        assert!(check_text("text", "a\0b").is_err());
    }

    #[test]
    fn overdue_is_a_filter_not_a_state() {
        assert_eq!(StateFilter::parse("overdue"), Some(StateFilter::Overdue));
        assert_eq!(StateFilter::parse("open"), Some(StateFilter::State(ExplanationState::Open)));
        assert_eq!(StateFilter::parse("late"), None);
    }
}
