-- The work behind the numbers: what each item is, for lists (which dossiers are late, whose,
-- since when), folded from its events with its contribution.
ALTER TABLE items
    ADD COLUMN view_version    SMALLINT    NOT NULL DEFAULT 0,
    ADD COLUMN open            BOOLEAN     NOT NULL DEFAULT false,
    ADD COLUMN paused          BOOLEAN     NOT NULL DEFAULT false,
    ADD COLUMN paused_since    TIMESTAMPTZ,
    ADD COLUMN received_at     TIMESTAMPTZ,
    ADD COLUMN due_at          TIMESTAMPTZ,
    ADD COLUMN due_extended_at TIMESTAMPTZ,
    ADD COLUMN resolved_at     TIMESTAMPTZ,
    ADD COLUMN outcome         TEXT,
    ADD COLUMN officer_id      TEXT,
    ADD COLUMN officer_name    TEXT,
    ADD COLUMN procedure       TEXT,
    ADD COLUMN field           TEXT,
    ADD COLUMN channel         TEXT,
    ADD COLUMN title           TEXT,
    -- A complaint's text, at most 200 characters (purged with the events' after the retention).
    ADD COLUMN summary         TEXT,
    -- The citizen's rating at resolution, if asked (dossiers and complaints).
    ADD COLUMN satisfaction    TEXT;

-- One index per list: running items by extended due time, open items by receipt, paused items
-- by pause, resolved items by resolution; and an officer's items.
CREATE INDEX items_running_by_due ON items (kind, due_extended_at, item_id, source) WHERE open AND NOT paused;
CREATE INDEX items_open_by_received ON items (kind, received_at, item_id, source) WHERE open;
CREATE INDEX items_paused_by_since ON items (kind, paused_since, item_id, source) WHERE open AND paused;
CREATE INDEX items_resolved_by_time ON items (kind, resolved_at) WHERE resolved_at IS NOT NULL;
CREATE INDEX items_by_officer ON items (officer_id, kind) WHERE officer_id IS NOT NULL;
CREATE INDEX items_received_by_time ON items (kind, received_at);
