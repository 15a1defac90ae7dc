-- Day-level history of the window counters, per unit (rolled up: a unit counts everything
-- below it), kept at least 400 days: the month, quarter and year windows, the previous period
-- of those, and the series. Derived from the outbox exactly once, like Redis, and rebuilt from
-- the items when the catalog changes.
CREATE TABLE daily_counters (
    unit    TEXT   NOT NULL,
    -- The local (Asia/Ho_Chi_Minh) calendar day.
    day     DATE   NOT NULL,
    counter TEXT   NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (unit, day, counter)
);

CREATE TABLE history_state (
    id          BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    -- The last outbox row applied to `daily_counters`.
    applied_seq BIGINT  NOT NULL DEFAULT 0,
    -- The catalog (and layout) the rows were rolled up with.
    fingerprint TEXT    NOT NULL DEFAULT ''
);
INSERT INTO history_state DEFAULT VALUES;
