-- Report schedules: the report of the period just ended, made and mailed at a local time.
CREATE TABLE report_schedules (
    id           BIGSERIAL   PRIMARY KEY,
    unit         TEXT        NOT NULL,
    period       TEXT        NOT NULL CHECK (period IN ('week', 'month', 'quarter', 'year')),
    -- ISO day of the week, 1 = Monday.
    weekday      SMALLINT    NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    -- Local time of day, minutes after midnight.
    minute       SMALLINT    NOT NULL CHECK (minute BETWEEN 0 AND 1439),
    to_roles     TEXT[]      NOT NULL,
    to_users     TEXT[]      NOT NULL,
    created_by   TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    -- The instant it fires next; moved forward in the transaction that queues its emails.
    next_run_at  TIMESTAMPTZ NOT NULL,
    -- The last day of the period the next run reports (the one before the period it runs in,
    -- whichever working day the run moved to).
    next_ending  DATE        NOT NULL,
    last_report  BIGINT      REFERENCES reports (id)
);
CREATE INDEX report_schedules_due ON report_schedules (next_run_at);

-- Files attached to queued emails (a scheduled report's PDF), stored once however many people
-- it goes to; an email delivery's payload names them by id.
CREATE TABLE mail_attachments (
    id           BIGSERIAL   PRIMARY KEY,
    filename     TEXT        NOT NULL,
    content_type TEXT        NOT NULL,
    content      BYTEA       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
