-- Figures you can put an officer's name on: items belong to their source, stored formats carry
-- a version, undecodable rows are quarantined, and every source's traffic is counted.

-- An item belongs to the source that created it: another source naming the same id is a
-- different item. Existing items take the source of their first event.
ALTER TABLE items ADD COLUMN source TEXT;
UPDATE items i SET source = first.source
FROM (SELECT DISTINCT ON (item_kind, item_id) item_kind, item_id, source
      FROM events ORDER BY item_kind, item_id, seq) AS first
WHERE first.item_kind = i.kind AND first.item_id = i.item_id;
UPDATE items SET source = 'default' WHERE source IS NULL;
ALTER TABLE items ALTER COLUMN source SET NOT NULL;
ALTER TABLE items DROP CONSTRAINT items_pkey;
ALTER TABLE items ADD PRIMARY KEY (source, kind, item_id);
DROP INDEX events_by_item;
CREATE INDEX events_by_item ON events (source, item_kind, item_id);

-- Stored formats carry a version, so a later release can still read (or knowingly set aside)
-- what an earlier one wrote. 1 = the format of the first releases.
ALTER TABLE events ADD COLUMN format SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE aggregate_outbox ADD COLUMN format SMALLINT NOT NULL DEFAULT 1;

-- Rows that could not be read (an outbox row, a stored event, an item's contribution), moved
-- aside with the error so the applier never stalls on them. Visible to admins.
CREATE TABLE quarantine (
    id       BIGSERIAL PRIMARY KEY,
    at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- 'outbox', 'event' or 'item'
    kind     TEXT        NOT NULL,
    -- Which row: the outbox seq, the event's (source, id), the item's key.
    ref      TEXT        NOT NULL,
    payload  JSONB,
    error    TEXT        NOT NULL
);

-- How far the outbox has been pruned: an applied marker behind this cannot catch up from the
-- outbox and needs a rebuild.
CREATE TABLE outbox_state (
    id              BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    pruned_through  BIGINT  NOT NULL DEFAULT 0
);
INSERT INTO outbox_state DEFAULT VALUES;

-- What each source system sent, per hour: the basis of "is this source still speaking?".
CREATE TABLE source_traffic (
    source        TEXT        NOT NULL,
    hour          TIMESTAMPTZ NOT NULL,
    accepted      BIGINT      NOT NULL DEFAULT 0,
    duplicates    BIGINT      NOT NULL DEFAULT 0,
    rejected      BIGINT      NOT NULL DEFAULT 0,
    last_event_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, hour)
);
CREATE TABLE source_rejections (
    source TEXT        NOT NULL,
    hour   TIMESTAMPTZ NOT NULL,
    reason TEXT        NOT NULL,
    n      BIGINT      NOT NULL DEFAULT 0,
    PRIMARY KEY (source, hour, reason)
);

-- How often a source is expected to speak, and when: a source silent past this is flagged.
ALTER TABLE ingest_keys ADD COLUMN expected_interval_seconds INTEGER NOT NULL DEFAULT 1800
    CHECK (expected_interval_seconds > 0);
ALTER TABLE ingest_keys ADD COLUMN watch TEXT NOT NULL DEFAULT 'working-hours'
    CHECK (watch IN ('working-hours', 'always', 'never'));
