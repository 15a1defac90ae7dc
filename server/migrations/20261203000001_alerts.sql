-- Alert rules: a figure of a unit's summary (or score, or a source's silence) compared with a
-- threshold. A rule with `include_children` is evaluated for its unit and every unit below it.
CREATE TABLE alert_rules (
    id                     BIGSERIAL PRIMARY KEY,
    name                   TEXT             NOT NULL,
    unit                   TEXT             NOT NULL,
    include_children       BOOLEAN          NOT NULL DEFAULT false,
    -- The summary's JSON path (`dossiers.overdue`), `score.total`, `score.at_stake_24h`,
    -- `source.silent` (minutes).
    metric                 TEXT             NOT NULL,
    -- A summary window (`today`, `24h`, `7d`, `30d`, `month`, `quarter`, `year`).
    time_window            TEXT             NOT NULL,
    op                     TEXT             NOT NULL CHECK (op IN ('>', '>=', '<', '<=')),
    threshold              DOUBLE PRECISION NOT NULL,
    -- How long the condition must hold before the alert fires, and stay false before it
    -- resolves.
    for_seconds            INTEGER          NOT NULL DEFAULT 0 CHECK (for_seconds >= 0),
    severity               TEXT             NOT NULL CHECK (severity IN ('warning', 'critical')),
    -- Rates are not evaluated on fewer rated items than this.
    min_sample             INTEGER          NOT NULL DEFAULT 0 CHECK (min_sample >= 0),
    -- `{"roles": [...], "users": [...], "webhooks": [...]}`, as given.
    notify                 JSONB            NOT NULL DEFAULT '{}',
    escalate_after_minutes INTEGER CHECK (escalate_after_minutes > 0),
    -- Who created it: `user:NAME`, or `default` for the shipped set.
    created_by             TEXT             NOT NULL,
    created_at             TIMESTAMPTZ      NOT NULL,
    updated_at             TIMESTAMPTZ      NOT NULL
);
CREATE INDEX alert_rules_by_unit ON alert_rules (unit);

-- The shipped default rules are installed once per catalog root: a default a city deleted
-- stays deleted.
CREATE TABLE alert_defaults (
    root         TEXT PRIMARY KEY,
    installed_at TIMESTAMPTZ NOT NULL
);

-- One alert per rule and unit while it is open (firing or acknowledged); every replica tries
-- to insert it and the unique index lets exactly one succeed.
CREATE TABLE alerts (
    id               BIGSERIAL PRIMARY KEY,
    rule_id          BIGINT           REFERENCES alert_rules (id) ON DELETE SET NULL,
    -- The rule as it was when the alert fired (a rule may change or go later).
    rule_name        TEXT             NOT NULL,
    unit             TEXT             NOT NULL,
    metric           TEXT             NOT NULL,
    time_window      TEXT             NOT NULL,
    op               TEXT             NOT NULL,
    threshold        DOUBLE PRECISION NOT NULL,
    severity         TEXT             NOT NULL,
    -- The figure when it fired, kept current while the alert is open.
    value            DOUBLE PRECISION NOT NULL,
    state            TEXT             NOT NULL CHECK (state IN ('firing', 'acknowledged', 'resolved')),
    since            TIMESTAMPTZ      NOT NULL,
    acknowledged_by  TEXT,
    acknowledged_at  TIMESTAMPTZ,
    acknowledged_note TEXT,
    resolved_at      TIMESTAMPTZ,
    escalated_at     TIMESTAMPTZ
);
CREATE UNIQUE INDEX alerts_one_open_per_rule_and_unit ON alerts (rule_id, unit)
    WHERE state <> 'resolved';
CREATE INDEX alerts_by_unit ON alerts (unit, id);

-- Where people are told: an email address for mail, a phone number passed to webhooks (for
-- SMS or Zalo gateways).
ALTER TABLE users ADD COLUMN email TEXT, ADD COLUMN phone TEXT;
