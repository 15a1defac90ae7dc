-- Notes on a unit's timeline (and, with `children`, on the units below): shown on trend
-- charts, in series answers and in reports.
CREATE TABLE annotations (
    id        BIGSERIAL   PRIMARY KEY,
    unit      TEXT        NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    until     TIMESTAMPTZ,
    text      TEXT        NOT NULL,
    children  BOOLEAN     NOT NULL,
    made_by   TEXT        NOT NULL,
    made_at   TIMESTAMPTZ NOT NULL,
    CHECK (until IS NULL OR until >= at)
);
CREATE INDEX annotations_by_unit ON annotations (unit, at);
