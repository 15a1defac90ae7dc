-- Explanation requests (yêu cầu giải trình): a leader or a chief above asks a unit to explain a
-- figure, an item or an alert by a due time in working time; the unit's chiefs answer.
CREATE TABLE explanations (
    id                  BIGSERIAL PRIMARY KEY,
    unit                TEXT        NOT NULL,
    -- `{"kind": "figure", "metric", "window"} | {"kind": "item", "item_kind", "id"} |
    -- {"kind": "alert", "id"}`, as checked when asked.
    about               JSONB       NOT NULL,
    state               TEXT        NOT NULL CHECK (state IN ('open', 'answered', 'closed')),
    -- `{"working_days": 3}` or `{"working_hours": 8}`: kept so a reopened request gets as long.
    due_in              JSONB       NOT NULL,
    due                 TIMESTAMPTZ NOT NULL,
    -- The username of who asked (answers are told to them; they may close and reopen).
    asked_by            TEXT        NOT NULL,
    asked_at            TIMESTAMPTZ NOT NULL,
    answered_at         TIMESTAMPTZ,
    closed_at           TIMESTAMPTZ,
    -- When "overdue" was notified for the current due time (once; cleared on reopening).
    overdue_notified_at TIMESTAMPTZ
);
CREATE INDEX explanations_by_unit ON explanations (unit, id);
CREATE INDEX explanations_open_by_due ON explanations (due) WHERE state = 'open';

-- The thread: the question, answers, closing notes and new questions, in order.
CREATE TABLE explanation_messages (
    id             BIGSERIAL PRIMARY KEY,
    explanation_id BIGINT      NOT NULL REFERENCES explanations (id) ON DELETE CASCADE,
    kind           TEXT        NOT NULL CHECK (kind IN ('question', 'answer', 'close', 'reopen')),
    author         TEXT        NOT NULL,
    text           TEXT        NOT NULL,
    at             TIMESTAMPTZ NOT NULL
);
CREATE INDEX explanation_messages_by_explanation ON explanation_messages (explanation_id, id);

-- Directions (chỉ đạo) a leader or a chief above gives on one item.
CREATE TABLE directions (
    id        BIGSERIAL PRIMARY KEY,
    item_kind TEXT        NOT NULL,
    item_id   TEXT        NOT NULL,
    author    TEXT        NOT NULL,
    text      TEXT        NOT NULL,
    at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX directions_by_item ON directions (item_kind, item_id, id);
