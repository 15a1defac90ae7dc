//! Browser sessions: started at login, live while used, pruned when idle.

use super::*;

/// Session activity is written back at most this often (not on every request).
const TOUCH_EVERY_SECONDS: i64 = 60;

impl Accounts {
    /// Starts a session; returns the token for the cookie.
    pub async fn create_session(
        &self,
        user: &User,
        address: Option<&str>,
    ) -> Result<String, AccountError> {
        self.create_provider_session(user, address, None).await
    }

    /// Starts a session signed in through the OpenID provider, keeping its ID token for the
    /// provider's logout.
    pub async fn create_provider_session(
        &self,
        user: &User,
        address: Option<&str>,
        id_token: Option<&str>,
    ) -> Result<String, AccountError> {
        let token = new_secret();
        let now = self.clock.now();
        sqlx::query!(
            "INSERT INTO sessions (token_hash, user_id, address, created_at, last_seen, provider_id_token)
             VALUES ($1, $2, $3, $4, $4, $5)",
            secret_hash(&token),
            user.id,
            address,
            now,
            id_token,
        )
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// The person behind a session token, if the session is live: not idle for longer than
    /// `idle`, and the person not disabled. Records activity.
    pub async fn session_user(
        &self,
        token: &str,
        idle: Duration,
    ) -> Result<Option<User>, AccountError> {
        let idle_seconds = idle.as_secs() as f64;
        let now = self.clock.now();
        // `touch`: whether activity should be written back now.
        let row = sqlx::query!(
            r#"SELECT u.id, u.username, u.role, u.unit, u.disabled,
                    s.last_seen < $4::timestamptz - make_interval(secs => $3) AS "touch!"
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.last_seen > $4::timestamptz - make_interval(secs => $2) AND NOT u.disabled"#,
            secret_hash(token),
            idle_seconds,
            TOUCH_EVERY_SECONDS as f64,
            now,
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        if row.touch {
            sqlx::query!(
                "UPDATE sessions SET last_seen = $2 WHERE token_hash = $1",
                secret_hash(token),
                now
            )
            .execute(&self.pool)
            .await?;
        }
        Ok(Some(User::try_from(UserRow {
            id: row.id,
            username: row.username,
            role: row.role,
            unit: row.unit,
            disabled: row.disabled,
        })?))
    }

    /// Of these session hashes, the ones still live (as [`Accounts::session_user`] decides),
    /// recording activity where it is due: one round trip for every live connection of a replica.
    pub async fn live_sessions(
        &self,
        hashes: &[Vec<u8>],
        idle: Duration,
    ) -> Result<std::collections::HashSet<Vec<u8>>, AccountError> {
        if hashes.is_empty() {
            return Ok(Default::default());
        }
        let rows = sqlx::query_scalar!(
            r#"WITH live AS (
                 SELECT s.token_hash, s.last_seen < $4::timestamptz - make_interval(secs => $3) AS touch
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = ANY($1) AND s.last_seen > $4::timestamptz - make_interval(secs => $2) AND NOT u.disabled),
             touched AS (
                 UPDATE sessions SET last_seen = $4 WHERE token_hash IN (SELECT token_hash FROM live WHERE touch))
             SELECT token_hash AS "token_hash!" FROM live"#,
            hashes,
            idle.as_secs() as f64,
            TOUCH_EVERY_SECONDS as f64,
            self.clock.now(),
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// Of these display-credential hashes, the ones not revoked: one round trip for all.
    pub async fn live_displays(
        &self,
        hashes: &[Vec<u8>],
    ) -> Result<std::collections::HashSet<Vec<u8>>, AccountError> {
        if hashes.is_empty() {
            return Ok(Default::default());
        }
        let rows = sqlx::query_scalar!(
            r#"SELECT credential_hash AS "credential_hash!" FROM displays
               WHERE credential_hash = ANY($1) AND revoked_at IS NULL"#,
            hashes
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// Ends a session; the provider's ID token it was signed in with, if any.
    pub async fn delete_session(&self, token: &str) -> Result<Option<String>, AccountError> {
        let id_token = sqlx::query_scalar!(
            "DELETE FROM sessions WHERE token_hash = $1 RETURNING provider_id_token",
            secret_hash(token)
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(id_token.flatten())
    }

    /// Forgets sessions idle for longer than `idle`.
    pub async fn prune_sessions(&self, idle: Duration) -> Result<u64, AccountError> {
        let done = sqlx::query!(
            "DELETE FROM sessions WHERE last_seen < $2::timestamptz - make_interval(secs => $1)",
            idle.as_secs() as f64,
            self.clock.now(),
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
