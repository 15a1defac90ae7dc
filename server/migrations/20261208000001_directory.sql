-- People from the province's directory: signed in through its OpenID provider or imported by
-- the thousand, with no password of ours.

-- NULL: no password login (people who sign in through the provider, imported people until
-- an admin resets their password).
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE users
    ADD COLUMN full_name   TEXT,
    -- How the account came: `password` (ioc user add, the admin API), `import` (a CSV file),
    -- `oidc` (created at a first sign-in through the provider).
    ADD COLUMN origin      TEXT    NOT NULL DEFAULT 'password'
        CHECK (origin IN ('password', 'import', 'oidc')),
    -- May sign in with a password even when password sign-in is off (IOC_PASSWORD_LOGIN=false):
    -- the admin who must get in while the provider is down.
    ADD COLUMN break_glass BOOLEAN NOT NULL DEFAULT false;

-- The admin list filters by unit and pages by username.
CREATE INDEX users_by_unit ON users (unit, username);

-- The ID token a session was signed in with through the provider: sent back as
-- `id_token_hint` when the person logs out, so the provider ends its session too.
ALTER TABLE sessions ADD COLUMN provider_id_token TEXT;
