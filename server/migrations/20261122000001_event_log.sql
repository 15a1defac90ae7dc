-- The event log and item state: the source of truth. Redis is derived from these tables.

-- Every acknowledged event, once: the same (source, event_id) again is a duplicate.
CREATE TABLE events (
    seq         BIGSERIAL PRIMARY KEY,
    source      TEXT        NOT NULL,
    event_id    TEXT        NOT NULL,
    type        TEXT        NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    unit        TEXT        NOT NULL,
    item_kind   TEXT        NOT NULL CHECK (item_kind IN ('dossier', 'complaint', 'task')),
    item_id     TEXT        NOT NULL,
    -- The checked event as accepted, in canonical form.
    body        JSONB       NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (source, event_id)
);
CREATE INDEX events_by_item ON events (item_kind, item_id);

-- One row per dossier, complaint or task: its unit (fixed by its first event) and what it
-- currently contributes to the aggregates. Locked while an event moves it.
CREATE TABLE items (
    kind         TEXT        NOT NULL CHECK (kind IN ('dossier', 'complaint', 'task')),
    item_id      TEXT        NOT NULL,
    unit         TEXT        NOT NULL,
    contribution JSONB,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, item_id)
);
CREATE INDEX items_by_unit ON items (unit);

-- Aggregate changes waiting to reach Redis, written in the same transaction as the events.
-- Rows get their seq under an advisory lock, so seq order is commit order and the applier can
-- keep a single "applied up to" marker.
CREATE TABLE aggregate_outbox (
    seq        BIGSERIAL PRIMARY KEY,
    deltas     JSONB       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
