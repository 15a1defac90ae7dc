//! Explanation requests and directions as stored: the rows the explanation layer writes, the
//! figures a summary counts, and the directions every item listing shows.

use super::{Store, StoreError};
use crate::catalog::Catalog;
use chrono::{DateTime, Utc};
use ioc_shared::event::ItemKind;
use ioc_shared::explanations::{Direction, Explanation, ExplanationState, Message, MessageKind};
use ioc_shared::items::UnitName;
use ioc_shared::summary::ExplanationFigures;
use ioc_shared::time::to_local_rfc3339;
use std::collections::HashMap;

/// An explanation row as stored, with its latest question.
#[derive(sqlx::FromRow)]
pub struct ExplanationRow {
    id: i64,
    unit: String,
    about: serde_json::Value,
    state: String,
    due_in: serde_json::Value,
    due: DateTime<Utc>,
    asked_by: String,
    asked_at: DateTime<Utc>,
    answered_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    question: String,
}

/// The columns of [`ExplanationRow`] from `explanations e`: the latest question is the newest
/// `question` or `reopen` message.
/// (A macro, so that every query naming them is a constant: `concat!`.)
macro_rules! explanation_columns {
    () => {
        "e.id, e.unit, e.about, e.state, e.due_in, e.due, e.asked_by, e.asked_at, e.answered_at, e.closed_at,
    COALESCE((SELECT m.text FROM explanation_messages m WHERE m.explanation_id = e.id AND m.kind IN ('question', 'reopen') ORDER BY m.id DESC LIMIT 1), '') AS question"
    };
}
pub(crate) use explanation_columns;

impl ExplanationRow {
    pub fn id(&self) -> i64 {
        self.id
    }

    pub fn unit(&self) -> &str {
        &self.unit
    }

    pub fn asked_by(&self) -> &str {
        &self.asked_by
    }

    /// The request as the API shows it, as of `now`; a stored value that no longer parses is an
    /// error, never a wrong request.
    pub fn into_explanation(
        self,
        catalog: &Catalog,
        now: DateTime<Utc>,
    ) -> Result<Explanation, sqlx::Error> {
        let id = self.id;
        let corrupt = |what: &str| {
            sqlx::Error::Decode(format!("explanation {id}: stored {what} is not valid").into())
        };
        let state = ExplanationState::parse(&self.state).ok_or_else(|| corrupt("state"))?;
        let about = serde_json::from_value(self.about).map_err(|_| corrupt("about"))?;
        let due_in = serde_json::from_value(self.due_in).map_err(|_| corrupt("due_in"))?;
        let name = catalog.get(&self.unit).map(|u| u.name.clone()).unwrap_or_default();
        Ok(Explanation {
            id,
            unit: UnitName { code: self.unit, name },
            about,
            question: self.question,
            state,
            overdue: state == ExplanationState::Open && self.due <= now,
            due_in,
            due: to_local_rfc3339(self.due),
            asked_by: self.asked_by,
            asked_at: to_local_rfc3339(self.asked_at),
            answered_at: self.answered_at.map(to_local_rfc3339),
            closed_at: self.closed_at.map(to_local_rfc3339),
            messages: Vec::new(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    kind: String,
    author: String,
    text: String,
    at: DateTime<Utc>,
}

/// The thread of request `id`, oldest first.
pub async fn messages(conn: &mut sqlx::PgConnection, id: i64) -> Result<Vec<Message>, sqlx::Error> {
    let rows: Vec<MessageRow> = sqlx::query_as(
        "SELECT kind, author, text, at FROM explanation_messages WHERE explanation_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            let kind = MessageKind::parse(&row.kind).ok_or_else(|| {
                sqlx::Error::Decode(
                    format!("explanation {id}: stored message kind `{}`", row.kind).into(),
                )
            })?;
            Ok(Message { kind, by: row.author, text: row.text, at: to_local_rfc3339(row.at) })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct FiguresRow {
    open: i64,
    overdue: i64,
    next_due: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct DirectionRow {
    id: i64,
    item_kind: String,
    item_id: String,
    author: String,
    text: String,
    at: DateTime<Utc>,
}

impl DirectionRow {
    fn into_direction(self) -> Direction {
        Direction { id: self.id, by: self.author, text: self.text, at: to_local_rfc3339(self.at) }
    }
}

impl Store {
    /// The open and overdue requests to `units` as of `now`, and the earliest due time still to
    /// come (when the overdue count next changes with no event).
    pub async fn explanation_figures(
        &self,
        units: &[String],
        now: DateTime<Utc>,
    ) -> Result<(ExplanationFigures, Option<DateTime<Utc>>), StoreError> {
        let row: FiguresRow = sqlx::query_as(
            "SELECT count(*) AS open, count(*) FILTER (WHERE due <= $2) AS overdue,
                    min(due) FILTER (WHERE due > $2) AS next_due
             FROM explanations WHERE state = 'open' AND unit = ANY($1)",
        )
        .bind(units)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok((
            ExplanationFigures { open: count(row.open), overdue: count(row.overdue) },
            row.next_due,
        ))
    }

    /// The directions on each of `items` (kind and id), oldest first.
    pub async fn directions_on(
        &self,
        items: &[(ItemKind, String)],
    ) -> Result<HashMap<(ItemKind, String), Vec<Direction>>, StoreError> {
        let mut found: HashMap<(ItemKind, String), Vec<Direction>> = HashMap::new();
        if items.is_empty() {
            return Ok(found);
        }
        let kinds: Vec<&str> = items.iter().map(|(kind, _)| kind.as_str()).collect();
        let ids: Vec<&str> = items.iter().map(|(_, id)| id.as_str()).collect();
        let rows: Vec<DirectionRow> = sqlx::query_as(
            "SELECT d.id, d.item_kind, d.item_id, d.author, d.text, d.at
             FROM directions d JOIN unnest($1::text[], $2::text[]) AS wanted (kind, id)
               ON d.item_kind = wanted.kind AND d.item_id = wanted.id
             ORDER BY d.id",
        )
        .bind(kinds)
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let Some(kind) = ItemKind::parse(&row.item_kind) else {
                return Err(StoreError::Database(sqlx::Error::Decode(
                    format!("direction {}: stored item kind `{}`", row.id, row.item_kind).into(),
                )));
            };
            let key = (kind, row.item_id.clone());
            found.entry(key).or_default().push(row.into_direction());
        }
        Ok(found)
    }

    /// Records a direction on an item.
    pub async fn add_direction(
        &self,
        kind: ItemKind,
        id: &str,
        author: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<Direction, StoreError> {
        let row: DirectionRow = sqlx::query_as(
            "INSERT INTO directions (item_kind, item_id, author, text, at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id, item_kind, item_id, author, text, at",
        )
        .bind(kind.as_str())
        .bind(id)
        .bind(author)
        .bind(text)
        .bind(at)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.into_direction())
    }
}

impl Store {
    /// The unit holding item `id` of `kind`, if it is known.
    pub async fn item_unit(&self, kind: ItemKind, id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT unit FROM items WHERE kind = $1 AND item_id = $2")
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }
}
