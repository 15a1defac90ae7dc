-- Who may see what: people, their sessions, wall displays, source systems' ingest keys, and the
-- audit log. Secrets are stored only as hashes.

-- People who log in. Displays are not people: see `displays`.
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT        NOT NULL UNIQUE,
    -- Argon2id, PHC string format.
    password_hash TEXT        NOT NULL,
    role          TEXT        NOT NULL CHECK (role IN ('admin', 'leader', 'chief')),
    -- The unit a chief sees (with everything below it); NULL for admins and leaders.
    unit          TEXT,
    disabled      BOOLEAN     NOT NULL DEFAULT false,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((role = 'chief') = (unit IS NOT NULL))
);

-- Logged-in browser sessions. The cookie holds a random token; only its SHA-256 is stored.
CREATE TABLE sessions (
    token_hash BYTEA       PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Sessions expire after a configurable idle time since this moment.
    last_seen  TIMESTAMPTZ NOT NULL DEFAULT now(),
    address    TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Wall screens: a scope and a playlist. A screen pairs once with a one-time code and then holds
-- a long-lived credential (its SHA-256 here) until an admin revokes it.
CREATE TABLE displays (
    id                 BIGSERIAL PRIMARY KEY,
    name               TEXT        NOT NULL,
    unit               TEXT        NOT NULL,
    -- [{"unit": "001", "window": "today", "seconds": 20}, ...]
    playlist           JSONB       NOT NULL,
    pairing_code_hash  BYTEA,
    pairing_expires_at TIMESTAMPTZ,
    credential_hash    BYTEA UNIQUE,
    paired_at          TIMESTAMPTZ,
    revoked_at         TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One key per source system, optionally limited to a unit subtree.
CREATE TABLE ingest_keys (
    id         BIGSERIAL PRIMARY KEY,
    source     TEXT        NOT NULL,
    unit       TEXT,
    key_hash   BYTEA       NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ
);

-- Who did what, when and from where.
CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor   TEXT        NOT NULL,
    action  TEXT        NOT NULL,
    target  TEXT,
    detail  TEXT,
    address TEXT
);
CREATE INDEX audit_log_by_time ON audit_log (at DESC);
