-- Webhooks: where alert and explanation events are POSTed, signed with the webhook's secret
-- (kept as given: it signs every delivery; the API never shows it again).
CREATE TABLE webhooks (
    id         BIGSERIAL PRIMARY KEY,
    url        TEXT        NOT NULL,
    secret     TEXT        NOT NULL,
    events     TEXT[]      NOT NULL,
    created_by TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    disabled   BOOLEAN     NOT NULL DEFAULT false
);

-- Every notification to send, written in the same transaction as what caused it (an alert
-- firing, an explanation asked...), sent by a worker with backoff: at least once, never lost.
CREATE TABLE deliveries (
    id              BIGSERIAL PRIMARY KEY,
    channel         TEXT        NOT NULL CHECK (channel IN ('email', 'webhook')),
    webhook_id      BIGINT      REFERENCES webhooks (id) ON DELETE CASCADE,
    -- The email address, for `email`.
    address         TEXT,
    -- The person it is for (email), for the record.
    username        TEXT,
    event_type      TEXT        NOT NULL,
    -- The event as the webhook receives it (without its `id`, which is this row's), and the
    -- email's subject and text.
    payload         JSONB       NOT NULL,
    state           TEXT        NOT NULL DEFAULT 'pending'
                                CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    -- When a worker may try it (again); a worker that claims it moves this past its lease.
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_by_state ON deliveries (state, id);
