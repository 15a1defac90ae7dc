//! Explanation requests (yêu cầu giải trình): a leader, or a chief above a unit, asks it to
//! explain a figure, an item or an alert by a due time in working time; the unit's chiefs
//! answer in the system; whoever asked closes it or asks again. Every step is stored, audited,
//! announced to the live views (the summary counts `explanations.open` and `.overdue`) and
//! notified in its own transaction.
//!
//! Who may do what is decided here, once: [`may_ask`], [`Explanations::answer`] (a chief of
//! that unit, or an admin), [`Explanations::close`] and [`Explanations::reopen`] (whoever
//! asked, a leader or an admin). Seeing a request is [`may_see`].

use crate::accounts::{Accounts, User};
use crate::aggregate::write::announce_unit;
use crate::aggregate::Keys;
use crate::catalog::Catalog;
use crate::notify::{self, Audience, Notice, Notices, Webhooks};
use crate::store::explanations::{explanation_columns, messages, ExplanationRow};
use crate::store::Store;
use chrono::{DateTime, Utc};
use ioc_shared::access::Role;
use ioc_shared::calendar::DueIn;
use ioc_shared::explanations::{
    About, Explanation, ExplanationState, ExplanationsPage, MessageKind, NewExplanation,
    StateFilter,
};
use ioc_shared::time::Clock;
use sqlx::PgPool;

/// Requests of one page of `GET /api/v1/explanations`.
pub const EXPLANATIONS_PER_PAGE: i64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum ExplanationError {
    /// The request is wrong; the message says how.
    #[error("{0}")]
    Invalid(String),
    /// The caller may see the request but not do this to it.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request is not in a state that allows it (answering a closed one).
    #[error("{0}")]
    Conflict(String),
    #[error("storage: {0}")]
    Store(#[from] sqlx::Error),
    #[error("storage: {0}")]
    Stored(#[from] crate::store::StoreError),
}

/// Whether `user` may ask `unit` to explain: admins and leaders any unit, a chief the units
/// strictly below his own.
pub fn may_ask(user: &User, catalog: &Catalog, unit: &str) -> bool {
    match user.role {
        Role::Admin | Role::Leader => true,
        Role::Chief => match user.unit.as_deref() {
            Some(own) => unit != own && catalog.is_within(unit, own),
            None => false,
        },
    }
}

/// Whether `user` may see a request to `unit` asked by `asked_by`: admins and leaders all; a
/// chief those to units within his own and those he asked.
pub fn may_see(user: &User, catalog: &Catalog, unit: &str, asked_by: &str) -> bool {
    match user.role {
        Role::Admin | Role::Leader => true,
        Role::Chief => {
            asked_by == user.username
                || user.unit.as_deref().is_some_and(|own| catalog.is_within(unit, own))
        }
    }
}

/// Which requests a listing wants.
#[derive(Debug, Clone, Default)]
pub struct ExplanationFilter {
    /// Requests to this unit's subtree; `None`: every unit.
    pub within: Option<String>,
    /// For a chief: requests to units within this one, or asked by `asked_by`.
    pub visible_to: Option<(String, String)>,
    pub state: Option<StateFilter>,
    /// Only requests with an id below this (the cursor: the previous page's last id).
    pub before_id: Option<i64>,
}

/// The explanation requests of every unit, in PostgreSQL; cheap to clone.
#[derive(Clone)]
pub struct Explanations {
    pool: PgPool,
    store: Store,
    /// "Now" for every question, answer and due time.
    clock: Clock,
    catalog: Catalog,
    /// For the audit log.
    accounts: Accounts,
    /// Announces a change on the change feed, so every replica's live summary of the unit
    /// and the units above it counts it.
    redis: crate::redis_link::RedisLink,
    keys: Keys,
    /// Whether email is configured, and the delivery worker to wake.
    notices: Notices,
}

impl Explanations {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        clock: Clock,
        catalog: Catalog,
        accounts: Accounts,
        redis: crate::redis_link::RedisLink,
        keys: Keys,
        notices: Notices,
    ) -> Explanations {
        Explanations {
            pool: store.pool.clone(),
            store,
            clock,
            catalog,
            accounts,
            redis,
            keys,
            notices,
        }
    }

    /// Tells every replica that the requests of `unit` changed. A lost announcement delays the
    /// live count until the unit's next change; the request itself is stored.
    async fn announce(&self, unit: &str) {
        announce_unit(&self.redis, &self.keys, &self.catalog, unit).await;
    }

    /// Checks what a request is about: a known figure, an item or an alert of the unit's
    /// subtree.
    async fn check_about(&self, unit: &str, about: &About) -> Result<(), ExplanationError> {
        match about {
            About::Figure { metric, window } => {
                ioc_shared::alerts::metric_source(metric, *window)
                    .map_err(|m| ExplanationError::Invalid(format!("`about.metric`: {m}")))?;
            }
            About::Item { item_kind, id } => {
                let held = self.store.item_unit(*item_kind, id).await?;
                if !held.is_some_and(|held| self.catalog.is_within(&held, unit)) {
                    return Err(ExplanationError::Invalid(format!(
                        "`about`: unit `{unit}` holds no {} `{id}`",
                        item_kind.as_str()
                    )));
                }
            }
            About::Alert { id } => {
                let raised: Option<String> =
                    sqlx::query_scalar("SELECT unit FROM alerts WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                if !raised.is_some_and(|raised| self.catalog.is_within(&raised, unit)) {
                    return Err(ExplanationError::Invalid(format!(
                        "`about`: unit `{unit}` has no alert {id}"
                    )));
                }
            }
        }
        Ok(())
    }

    fn due(&self, from: DateTime<Utc>, due_in: DueIn) -> Result<DateTime<Utc>, ExplanationError> {
        let due_in =
            due_in.check().map_err(|e| ExplanationError::Invalid(format!("`due_in`: {e}")))?;
        crate::calendar::active().due(from, due_in).ok_or_else(|| {
            ExplanationError::Invalid("`due_in` ends beyond the working calendar's years".into())
        })
    }

    /// Asks `new.unit` to explain; its chiefs are told. The caller checked [`may_ask`].
    pub async fn ask(
        &self,
        asker: &User,
        new: NewExplanation,
        address: Option<&str>,
    ) -> Result<Explanation, ExplanationError> {
        let question = ioc_shared::explanations::check_text("question", &new.question)
            .map_err(ExplanationError::Invalid)?;
        if self.catalog.get(&new.unit).is_none() {
            return Err(ExplanationError::Invalid(format!("unknown unit `{}`", new.unit)));
        }
        self.check_about(&new.unit, &new.about).await?;
        let now = self.clock.now();
        let due = self.due(now, new.due_in)?;
        let about = serde_json::to_value(&new.about)
            .map_err(|e| ExplanationError::Invalid(format!("`about`: {e}")))?;
        let due_in = serde_json::to_value(new.due_in)
            .map_err(|e| ExplanationError::Invalid(format!("`due_in`: {e}")))?;
        let mut tx = crate::store::begin(&self.pool).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO explanations (unit, about, state, due_in, due, asked_by, asked_at)
             VALUES ($1, $2, 'open', $3, $4, $5, $6) RETURNING id",
        )
        .bind(&new.unit)
        .bind(about)
        .bind(due_in)
        .bind(due)
        .bind(&asker.username)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        add_message(&mut tx, id, MessageKind::Question, &asker.username, &question, now).await?;
        let explanation = self.notify_in(&mut tx, id, "explanation.requested", now).await?;
        tx.commit().await?;
        self.done(&asker.username, "explanation_requested", id, &new.unit, None, address).await;
        Ok(explanation)
    }

    /// Reads request `id` with its thread, in `conn`.
    async fn read(
        &self,
        conn: &mut sqlx::PgConnection,
        id: i64,
    ) -> Result<Option<Explanation>, ExplanationError> {
        let row: Option<ExplanationRow> = sqlx::query_as(concat!(
            "SELECT ",
            explanation_columns!(),
            " FROM explanations e WHERE e.id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut explanation = row.into_explanation(&self.catalog, self.clock.now())?;
        explanation.messages = messages(conn, id).await?;
        Ok(Some(explanation))
    }

    /// Queues the notifications of request `id`'s `event` in `tx`: a request and its overdue
    /// go to the unit's chiefs (and, overdue, to whoever asked); an answer to whoever asked.
    async fn notify_in(
        &self,
        tx: &mut sqlx::PgConnection,
        id: i64,
        event: &'static str,
        at: DateTime<Utc>,
    ) -> Result<Explanation, ExplanationError> {
        let explanation = self
            .read(&mut *tx, id)
            .await?
            .ok_or_else(|| ExplanationError::NotFound(format!("no explanation request {id}")))?;
        let asker = vec![explanation.asked_by.clone()];
        let audience = match event {
            "explanation.answered" => Audience { roles: Vec::new(), users: asker },
            "explanation.overdue" => Audience { roles: vec![Role::Chief], users: asker },
            _ => Audience { roles: vec![Role::Chief], users: Vec::new() },
        };
        let people =
            notify::people(&mut *tx, &self.catalog, &explanation.unit.code, &audience).await?;
        let notice = explanation_notice(&explanation, event, at);
        notify::enqueue(&mut *tx, &notice, &people, &Webhooks::Subscribed, self.notices.email)
            .await?;
        Ok(explanation)
    }

    /// After a change is committed: wake the delivery worker, audit, announce.
    async fn done(
        &self,
        actor: &str,
        action: &str,
        id: i64,
        unit: &str,
        detail: Option<&str>,
        address: Option<&str>,
    ) {
        self.notices.wake.notify_one();
        let actor = if actor == "system" { actor.to_owned() } else { format!("user:{actor}") };
        self.accounts
            .audit(&actor, action, Some(&format!("explanation:{id}")), detail, address)
            .await;
        self.announce(unit).await;
    }

    /// Request `id` with its thread.
    pub async fn get(&self, id: i64) -> Result<Option<Explanation>, ExplanationError> {
        let mut conn = self.pool.acquire().await?;
        self.read(&mut conn, id).await
    }

    /// One page of requests, newest first.
    pub async fn list(
        &self,
        filter: &ExplanationFilter,
    ) -> Result<ExplanationsPage, ExplanationError> {
        let now = self.clock.now();
        let within: Option<Vec<String>> =
            filter.within.as_deref().map(|root| self.catalog.subtree(root));
        let (visible_units, asked_by): (Option<Vec<String>>, Option<&str>) =
            match &filter.visible_to {
                Some((root, username)) => (Some(self.catalog.subtree(root)), Some(username)),
                None => (None, None),
            };
        let (state, overdue) = match filter.state {
            None => (None, None),
            Some(StateFilter::State(state)) => (Some(state.as_str()), None),
            Some(StateFilter::Overdue) => (Some("open"), Some(true)),
        };
        let rows: Vec<ExplanationRow> = sqlx::query_as(concat!(
            "SELECT ",
            explanation_columns!(),
            " FROM explanations e
             WHERE ($1::text[] IS NULL OR e.unit = ANY($1))
               AND ($2::text[] IS NULL OR e.unit = ANY($2) OR e.asked_by = $3)
               AND ($4::text IS NULL OR e.state = $4)
               AND ($5::bool IS NULL OR e.due <= $6)
               AND ($7::bigint IS NULL OR e.id < $7)
             ORDER BY e.id DESC LIMIT $8"
        ))
        .bind(within)
        .bind(visible_units)
        .bind(asked_by)
        .bind(state)
        .bind(overdue)
        .bind(now)
        .bind(filter.before_id)
        .bind(EXPLANATIONS_PER_PAGE + 1)
        .fetch_all(&self.pool)
        .await?;
        let more = rows.len() as i64 > EXPLANATIONS_PER_PAGE;
        let explanations = rows
            .into_iter()
            .take(EXPLANATIONS_PER_PAGE as usize)
            .map(|row| row.into_explanation(&self.catalog, now))
            .collect::<Result<Vec<Explanation>, sqlx::Error>>()?;
        let next = if more { explanations.last().map(|e| e.id.to_string()) } else { None };
        Ok(ExplanationsPage { explanations, next })
    }

    /// Locks request `id` for a change in `tx`.
    async fn lock(
        &self,
        tx: &mut sqlx::PgConnection,
        id: i64,
    ) -> Result<ExplanationRow, ExplanationError> {
        let row: Option<ExplanationRow> = sqlx::query_as(concat!(
            "SELECT ",
            explanation_columns!(),
            " FROM explanations e WHERE e.id = $1 FOR UPDATE"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        row.ok_or_else(|| ExplanationError::NotFound(format!("no explanation request {id}")))
    }

    fn state_of(
        row: ExplanationRow,
        catalog: &Catalog,
        now: DateTime<Utc>,
    ) -> Result<ExplanationState, ExplanationError> {
        Ok(row.into_explanation(catalog, now)?.state)
    }

    /// The unit's chiefs answer (or an admin); the request is answered and whoever asked is
    /// told.
    pub async fn answer(
        &self,
        id: i64,
        user: &User,
        text: &str,
        address: Option<&str>,
    ) -> Result<Explanation, ExplanationError> {
        let text = ioc_shared::explanations::check_text("text", text)
            .map_err(ExplanationError::Invalid)?;
        let now = self.clock.now();
        let mut tx = crate::store::begin(&self.pool).await?;
        let row = self.lock(&mut tx, id).await?;
        let unit = row.unit().to_owned();
        if user.role != Role::Admin {
            let chiefs = notify::people(
                &mut tx,
                &self.catalog,
                &unit,
                &Audience { roles: vec![Role::Chief], users: Vec::new() },
            )
            .await?;
            if !chiefs.iter().any(|chief| chief.username == user.username) {
                return Err(ExplanationError::Forbidden(format!(
                    "only a chief of unit `{unit}` (or an admin) may answer explanation request {id}"
                )));
            }
        }
        let state = Self::state_of(row, &self.catalog, now)?;
        if state != ExplanationState::Open {
            return Err(ExplanationError::Conflict(format!(
                "explanation request {id} is {}: only an open request can be answered",
                state.as_str()
            )));
        }
        sqlx::query("UPDATE explanations SET state = 'answered', answered_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        add_message(&mut tx, id, MessageKind::Answer, &user.username, &text, now).await?;
        let explanation = self.notify_in(&mut tx, id, "explanation.answered", now).await?;
        tx.commit().await?;
        self.done(&user.username, "explanation_answered", id, &unit, None, address).await;
        Ok(explanation)
    }

    /// Whether `user` may close or reopen a request asked by `asked_by`.
    fn may_conclude(user: &User, asked_by: &str) -> bool {
        matches!(user.role, Role::Admin | Role::Leader) || user.username == asked_by
    }

    /// Closes an open or answered request, with an optional note.
    pub async fn close(
        &self,
        id: i64,
        user: &User,
        note: Option<&str>,
        address: Option<&str>,
    ) -> Result<Explanation, ExplanationError> {
        let note = note
            .filter(|n| !n.trim().is_empty())
            .map(|n| ioc_shared::explanations::check_text("note", n))
            .transpose()
            .map_err(ExplanationError::Invalid)?;
        let now = self.clock.now();
        let mut tx = crate::store::begin(&self.pool).await?;
        let row = self.lock(&mut tx, id).await?;
        let unit = row.unit().to_owned();
        if !Self::may_conclude(user, row.asked_by()) {
            return Err(ExplanationError::Forbidden(format!(
                "only whoever asked (or a leader) may close explanation request {id}"
            )));
        }
        let state = Self::state_of(row, &self.catalog, now)?;
        if state == ExplanationState::Closed {
            return Err(ExplanationError::Conflict(format!(
                "explanation request {id} is closed already"
            )));
        }
        sqlx::query("UPDATE explanations SET state = 'closed', closed_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        add_message(
            &mut tx,
            id,
            MessageKind::Close,
            &user.username,
            note.as_deref().unwrap_or(""),
            now,
        )
        .await?;
        let explanation = self
            .read(&mut tx, id)
            .await?
            .ok_or_else(|| ExplanationError::NotFound(format!("no explanation request {id}")))?;
        tx.commit().await?;
        self.done(&user.username, "explanation_closed", id, &unit, note.as_deref(), address).await;
        Ok(explanation)
    }

    /// Asks again: an answered or closed request is open again with a new question and a new
    /// due time as long as the first; the unit's chiefs are told.
    pub async fn reopen(
        &self,
        id: i64,
        user: &User,
        question: &str,
        address: Option<&str>,
    ) -> Result<Explanation, ExplanationError> {
        let question = ioc_shared::explanations::check_text("question", question)
            .map_err(ExplanationError::Invalid)?;
        let now = self.clock.now();
        let mut tx = crate::store::begin(&self.pool).await?;
        let row = self.lock(&mut tx, id).await?;
        let unit = row.unit().to_owned();
        if !Self::may_conclude(user, row.asked_by()) {
            return Err(ExplanationError::Forbidden(format!(
                "only whoever asked (or a leader) may reopen explanation request {id}"
            )));
        }
        let current = row.into_explanation(&self.catalog, now)?;
        if current.state == ExplanationState::Open {
            return Err(ExplanationError::Conflict(format!(
                "explanation request {id} is open: only an answered or closed request can be reopened"
            )));
        }
        let due = self.due(now, current.due_in)?;
        sqlx::query(
            "UPDATE explanations SET state = 'open', due = $2, closed_at = NULL, overdue_notified_at = NULL
             WHERE id = $1",
        )
        .bind(id)
        .bind(due)
        .execute(&mut *tx)
        .await?;
        add_message(&mut tx, id, MessageKind::Reopen, &user.username, &question, now).await?;
        let explanation = self.notify_in(&mut tx, id, "explanation.requested", now).await?;
        tx.commit().await?;
        self.done(&user.username, "explanation_reopened", id, &unit, None, address).await;
        Ok(explanation)
    }

    /// Notifies every open request that passed its due time, once per due time (whichever
    /// replica marks it first).
    pub async fn notify_overdue(&self) -> Result<usize, ExplanationError> {
        let now = self.clock.now();
        let due: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM explanations WHERE state = 'open' AND due <= $1 AND overdue_notified_at IS NULL ORDER BY id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut notified = 0;
        for id in due {
            let mut tx = crate::store::begin(&self.pool).await?;
            let marked = sqlx::query(
                "UPDATE explanations SET overdue_notified_at = $2
                 WHERE id = $1 AND state = 'open' AND due <= $2 AND overdue_notified_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if marked.rows_affected() == 0 {
                continue;
            }
            let explanation = self.notify_in(&mut tx, id, "explanation.overdue", now).await?;
            tx.commit().await?;
            self.done("system", "explanation_overdue", id, &explanation.unit.code, None, None)
                .await;
            notified += 1;
        }
        Ok(notified)
    }

    /// Notifies overdue requests every few seconds, for ever.
    pub async fn run(self) {
        let mut every = tokio::time::interval(OVERDUE_CHECK_EVERY);
        loop {
            every.tick().await;
            if let Err(error) = self.notify_overdue().await {
                tracing::warn!(%error, "overdue explanation requests not notified; retrying");
            }
        }
    }
}

/// How often overdue requests are looked for: their notice goes out at most this late (the
/// live count turns at the due time itself).
pub const OVERDUE_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

async fn add_message(
    tx: &mut sqlx::PgConnection,
    id: i64,
    kind: MessageKind,
    author: &str,
    text: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO explanation_messages (explanation_id, kind, author, text, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(author)
    .bind(text)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The notice of a request's `event`: the request for webhooks, a Vietnamese email.
pub fn explanation_notice(
    explanation: &Explanation,
    event: &'static str,
    at: DateTime<Utc>,
) -> Notice {
    let what = match event {
        "explanation.answered" => "Đã có giải trình",
        "explanation.overdue" => "Yêu cầu giải trình quá hạn",
        _ => "Yêu cầu giải trình",
    };
    let about = match &explanation.about {
        About::Figure { metric, window } => format!("chỉ số {metric} ({})", window.as_str()),
        About::Item { item_kind, id } => format!("{} {id}", item_kind.as_str()),
        About::Alert { id } => format!("cảnh báo {id}"),
    };
    let subject = format!("[IOC] {what} #{}: {}", explanation.id, explanation.unit.name);
    let mut text = format!(
        "{what}\n\nĐơn vị: {} ({})\nVề: {about}\nNgười yêu cầu: {}\nHạn: {}\n\nCâu hỏi: {}\n",
        explanation.unit.name,
        explanation.unit.code,
        explanation.asked_by,
        explanation.due,
        explanation.question,
    );
    if let Some(answer) = explanation.messages.iter().rev().find(|m| m.kind == MessageKind::Answer)
    {
        if event == "explanation.answered" {
            text.push_str(&format!("\nGiải trình ({}): {}\n", answer.by, answer.text));
        }
    }
    Notice {
        event_type: event,
        at,
        object_key: "explanation",
        object: serde_json::to_value(explanation).unwrap_or_default(),
        subject,
        text,
        attachments: Vec::new(),
    }
}
