-- Frozen, signed reports (the weekly briefing): the report as served, byte for byte.
CREATE TABLE reports (
    id         BIGSERIAL   PRIMARY KEY,
    unit       TEXT        NOT NULL,
    period     TEXT        NOT NULL CHECK (period IN ('week', 'month', 'quarter', 'year')),
    from_day   DATE        NOT NULL,
    to_day     DATE        NOT NULL,
    frozen_at  TIMESTAMPTZ NOT NULL,
    made_by    TEXT        NOT NULL,
    digest     TEXT        NOT NULL,
    body       TEXT        NOT NULL
);
CREATE INDEX reports_by_unit ON reports (unit, id);
