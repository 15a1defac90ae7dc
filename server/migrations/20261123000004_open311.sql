-- Open311 GeoReport v2 service requests: what a citizen's app sent beyond the complaint event
-- it became (the complaint itself is an ordinary `complaint.received` in `events`/`items`).
CREATE TABLE open311_requests (
    -- Also the complaint's id within its source.
    service_request_id TEXT        PRIMARY KEY,
    source             TEXT        NOT NULL,
    service_code       TEXT        NOT NULL,
    unit               TEXT        NOT NULL,
    requested_at       TIMESTAMPTZ NOT NULL,
    lat                DOUBLE PRECISION,
    long               DOUBLE PRECISION,
    address_string     TEXT,
    media_url          TEXT,
    -- Personal data: never returned, cleared with complaint texts (IOC_PII_RETENTION_DAYS).
    first_name         TEXT,
    last_name          TEXT,
    email              TEXT,
    phone              TEXT,
    device_id          TEXT
);
CREATE INDEX open311_requests_by_time ON open311_requests (requested_at);
