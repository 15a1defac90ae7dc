//! Accounts in PostgreSQL: people, sessions, wall displays, ingest keys and the audit log.
//!
//! - [`access`]: who is calling and what they may see (the scope check of every request and
//!   subscription);
//! - [`manage`]: creating, disabling, resetting and revoking, with their audit entries — the
//!   admin API and the CLI both call it;
//! - [`throttle`]: failed-attempt counters; [`revoke`]: revocation notices to every replica.
//!
//! Passwords are hashed with Argon2id. Session tokens, display credentials, pairing codes and
//! ingest keys are random and stored only as SHA-256 hashes: a database dump reveals none of
//! them, and high-entropy secrets need no slow hash.

pub mod access;
pub mod disclosure;
pub mod manage;
pub mod revoke;
pub mod throttle;

use crate::store::{decode, encode, StoreError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use ioc_shared::access::{Role, WallView};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgPool;
use std::time::Duration;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// How long a pairing code stays valid.
pub const PAIRING_VALID_FOR: Duration = Duration::from_secs(24 * 3600);
/// Session activity is written back at most this often (not on every request).
const TOUCH_EVERY_SECONDS: i64 = 60;
/// Characters of pairing codes: no 0/O, 1/I/L, so they can be typed from a screen.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Refused because of who is asking or what it would leave behind (the last admin).
    #[error("{0}")]
    Refused(String),
    /// A stored role that this release does not know (the schema's CHECK should prevent it).
    #[error("stored role `{0}` is unknown")]
    UnknownRole(String),
    /// Hashing ran into trouble (not the caller's fault).
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl From<sqlx::Error> for AccountError {
    fn from(error: sqlx::Error) -> AccountError {
        AccountError::Store(StoreError::from(error))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    /// A chief's unit; `None` for admins and leaders, who see every unit.
    pub unit: Option<String>,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Display {
    pub id: i64,
    pub name: String,
    /// The display sees this unit and everything below it.
    pub unit: String,
    pub playlist: Vec<WallView>,
    pub paired: bool,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestKey {
    pub id: i64,
    /// Events sent with this key must come from this source.
    pub source: String,
    /// When set, events must be for this unit or a unit below it.
    pub unit: Option<String>,
    pub revoked: bool,
    /// The source is flagged silent when it sends nothing for this long (see `watch`).
    pub expected_interval_seconds: i32,
    pub watch: Watch,
    pub created_at: DateTime<Utc>,
}

/// When a source is expected to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Watch {
    /// Monday–Friday, 08:00–17:00 local: silence is counted in working time only.
    #[default]
    WorkingHours,
    /// Around the clock (a hotline, a Zalo channel).
    Always,
    /// Never flagged.
    Never,
}

impl Watch {
    pub fn as_str(self) -> &'static str {
        match self {
            Watch::WorkingHours => "working-hours",
            Watch::Always => "always",
            Watch::Never => "never",
        }
    }

    pub fn parse(text: &str) -> Option<Watch> {
        match text {
            "working-hours" => Some(Watch::WorkingHours),
            "always" => Some(Watch::Always),
            "never" => Some(Watch::Never),
            _ => None,
        }
    }
}

/// What is expected of a source's key: how often, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectation {
    pub interval_seconds: i32,
    pub watch: Watch,
}

/// Default expectation: every 30 minutes during working hours.
pub const DEFAULT_EXPECTED_INTERVAL_SECONDS: i32 = 1800;

impl Default for Expectation {
    fn default() -> Expectation {
        Expectation {
            interval_seconds: DEFAULT_EXPECTED_INTERVAL_SECONDS,
            watch: Watch::WorkingHours,
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub address: Option<String>,
}

/// Checks a display's scope and playlist against the catalog: known units, and every view
/// inside the display's unit (a wall never shows more than it was created for).
pub fn check_display_scope(
    catalog: &crate::catalog::Catalog,
    unit: &str,
    playlist: &[WallView],
) -> Result<(), AccountError> {
    if !catalog.contains(unit) {
        return Err(AccountError::Invalid(format!("unknown unit `{unit}`")));
    }
    for view in playlist {
        if !catalog.contains(&view.unit) {
            return Err(AccountError::Invalid(format!("unknown unit `{}`", view.unit)));
        }
        if !catalog.is_within(&view.unit, unit) {
            return Err(AccountError::Invalid(format!(
                "view `{}` is outside the display's unit `{unit}`",
                view.unit
            )));
        }
        if view.view == ioc_shared::live::View::Score && !view.window.is_calendar() {
            return Err(AccountError::Invalid(format!(
                "the score view of `{}` takes a period: month, quarter or year",
                view.unit
            )));
        }
    }
    Ok(())
}

/// A random secret: 32 bytes as 64 hex characters.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

/// What is stored of a secret.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.trim().as_bytes()).to_vec()
}

/// Hex of a secret's hash: names a session in revocation notices without revealing it.
pub fn secret_hash_hex(secret: &str) -> String {
    hex::encode(secret_hash(secret))
}

/// An 8-character pairing code, shown as `ABCD-EFGH`.
pub fn new_pairing_code() -> String {
    let mut rng = rand::rng();
    let chars: String = (0..8)
        .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// Pairing codes compare without the dash, case and spaces, as people type them.
fn normalize_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes), run off the async threads.
pub async fn hash_password(password: &str) -> Result<String, AccountError> {
    check_password(password)?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt_bytes: [u8; 16] = rand::rng().random();
        let salt = SaltString::encode_b64(&salt_bytes)
            .map_err(|e| AccountError::Hashing(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| AccountError::Hashing(e.to_string()))
    })
    .await
    .map_err(|e| AccountError::Hashing(e.to_string()))?
}

/// Checks a password against a stored hash, off the async threads.
pub async fn verify_password(password: &str, hash: &str) -> bool {
    let password = password.to_owned();
    let hash = hash.to_owned();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

fn check_password(password: &str) -> Result<(), AccountError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AccountError::Invalid(format!(
            "password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if chars > 1024 {
        return Err(AccountError::Invalid("password must have at most 1024 characters".into()));
    }
    Ok(())
}

fn check_username(username: &str) -> Result<(), AccountError> {
    let ok = (1..=64).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::Invalid(
            "username must be 1–64 characters of a–z, 0–9, '.', '_' or '-'".into(),
        ))
    }
}

/// A real hash to verify against when the user does not exist, so that a wrong username takes
/// as long as a wrong password.
async fn dummy_hash() -> &'static str {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    // A failed hash leaves an empty string: verifying against it fails, as it should.
    DUMMY
        .get_or_init(|| async { hash_password(&new_secret()).await.unwrap_or_default() })
        .await
        .as_str()
}

#[derive(Debug, Clone)]
pub struct Accounts {
    pool: PgPool,
    /// "Now" for session idleness, pairing-code expiry, key ages and audit retention.
    clock: ioc_shared::time::Clock,
}

/// A `users` row as stored.
#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    username: String,
    role: String,
    unit: Option<String>,
    disabled: bool,
}

impl TryFrom<UserRow> for User {
    type Error = AccountError;

    fn try_from(row: UserRow) -> Result<User, AccountError> {
        let role =
            Role::parse(&row.role).ok_or_else(|| AccountError::UnknownRole(row.role.clone()))?;
        Ok(User {
            id: row.id,
            username: row.username,
            role,
            unit: row.unit,
            disabled: row.disabled,
        })
    }
}

/// A user row with its password hash, for logging in.
#[derive(sqlx::FromRow)]
struct LoginRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

/// A session joined with its person.
#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    user: UserRow,
    /// Whether activity should be written back now.
    touch: bool,
}

/// A `displays` row as stored.
#[derive(sqlx::FromRow)]
struct DisplayRow {
    id: i64,
    name: String,
    unit: String,
    playlist: serde_json::Value,
    paired_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<DisplayRow> for Display {
    type Error = AccountError;

    fn try_from(row: DisplayRow) -> Result<Display, AccountError> {
        Ok(Display {
            id: row.id,
            name: row.name,
            unit: row.unit,
            playlist: decode("display playlist", &row.playlist)?,
            paired: row.paired_at.is_some(),
            revoked: row.revoked_at.is_some(),
        })
    }
}

/// An `ingest_keys` row as stored.
#[derive(sqlx::FromRow)]
struct KeyRow {
    id: i64,
    source: String,
    unit: Option<String>,
    revoked_at: Option<DateTime<Utc>>,
    expected_interval_seconds: i32,
    watch: String,
    created_at: DateTime<Utc>,
}

impl From<KeyRow> for IngestKey {
    fn from(row: KeyRow) -> IngestKey {
        IngestKey {
            id: row.id,
            source: row.source,
            unit: row.unit,
            revoked: row.revoked_at.is_some(),
            expected_interval_seconds: row.expected_interval_seconds,
            // The schema's CHECK allows only the three values; anything else is watched.
            watch: Watch::parse(&row.watch).unwrap_or_default(),
            created_at: row.created_at,
        }
    }
}

const USER_COLUMNS: &str = "id, username, role, unit, disabled";
const DISPLAY_COLUMNS: &str = "id, name, unit, playlist, paired_at, revoked_at";
const KEY_COLUMNS: &str =
    "id, source, unit, revoked_at, expected_interval_seconds, watch, created_at";

impl Accounts {
    pub fn new(pool: PgPool, clock: ioc_shared::time::Clock) -> Accounts {
        Accounts { pool, clock }
    }

    // ---- people ----

    /// Adds a person. `unit` is required for a chief and refused for the others.
    pub async fn add_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
        unit: Option<&str>,
    ) -> Result<User, AccountError> {
        check_username(username)?;
        match (role, unit) {
            (Role::Chief, None) => {
                return Err(AccountError::Invalid("a chief needs --unit CODE".into()))
            }
            (Role::Admin | Role::Leader, Some(_)) => {
                return Err(AccountError::Invalid(
                    "only a chief has a unit; admins and leaders see every unit".into(),
                ))
            }
            _ => {}
        }
        let hash = hash_password(password).await?;
        let row: Option<UserRow> = sqlx::query_as(&format!(
            "INSERT INTO users (username, password_hash, role, unit, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (username) DO NOTHING RETURNING {USER_COLUMNS}"
        ))
        .bind(username)
        .bind(hash)
        .bind(role.as_str())
        .bind(unit)
        .bind(self.clock.now())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => User::try_from(row),
            None => Err(AccountError::Conflict(format!("user `{username}` already exists"))),
        }
    }

    pub async fn list_users(&self) -> Result<Vec<User>, AccountError> {
        let rows: Vec<UserRow> =
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(User::try_from).collect()
    }

    pub async fn user(&self, username: &str) -> Result<User, AccountError> {
        let row: Option<UserRow> =
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some(row) => User::try_from(row),
            None => Err(AccountError::NotFound(format!("no user `{username}`"))),
        }
    }

    /// Disables (or enables) a person; disabling ends all their sessions. The last active admin
    /// cannot be disabled (checked with every active admin locked, so two admins disabling each
    /// other at once cannot leave none).
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<User, AccountError> {
        let user = self.user(username).await?;
        let mut tx = self.pool.begin().await?;
        if disabled && user.role == Role::Admin && !user.disabled {
            let active_admins: Vec<i64> = sqlx::query_scalar(
                "SELECT id FROM users WHERE role = 'admin' AND NOT disabled ORDER BY id FOR UPDATE",
            )
            .fetch_all(&mut *tx)
            .await?;
            if active_admins.len() <= 1 {
                return Err(AccountError::Refused(format!(
                    "`{username}` is the last active admin and cannot be disabled"
                )));
            }
        }
        sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
            .bind(user.id)
            .bind(disabled)
            .execute(&mut *tx)
            .await?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(User { disabled, ..user })
    }

    /// Sets a new password and ends all the person's sessions.
    pub async fn reset_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<User, AccountError> {
        let user = self.user(username).await?;
        let hash = hash_password(password).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(user.id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The enabled person with this username and password.
    pub async fn check_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, AccountError> {
        let row: Option<LoginRow> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            verify_password(password, dummy_hash().await).await;
            return Ok(None);
        };
        let user = User::try_from(row.user)?;
        let valid = verify_password(password, &row.password_hash).await;
        Ok((valid && !user.disabled).then_some(user))
    }

    // ---- sessions ----

    /// Starts a session; returns the token for the cookie.
    pub async fn create_session(
        &self,
        user: &User,
        address: Option<&str>,
    ) -> Result<String, AccountError> {
        let token = new_secret();
        let now = self.clock.now();
        sqlx::query("INSERT INTO sessions (token_hash, user_id, address, created_at, last_seen) VALUES ($1, $2, $3, $4, $4)")
            .bind(secret_hash(&token))
            .bind(user.id)
            .bind(address)
            .bind(now)
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
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT u.id, u.username, u.role, u.unit, u.disabled,
                    s.last_seen < $4::timestamptz - make_interval(secs => $3) AS touch
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.last_seen > $4::timestamptz - make_interval(secs => $2) AND NOT u.disabled",
        )
        .bind(secret_hash(token))
        .bind(idle_seconds)
        .bind(TOUCH_EVERY_SECONDS as f64)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        if row.touch {
            sqlx::query("UPDATE sessions SET last_seen = $2 WHERE token_hash = $1")
                .bind(secret_hash(token))
                .bind(now)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(User::try_from(row.user)?))
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
        let rows: Vec<(Vec<u8>,)> = sqlx::query_as(
            "WITH live AS (
                 SELECT s.token_hash, s.last_seen < $4::timestamptz - make_interval(secs => $3) AS touch
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = ANY($1) AND s.last_seen > $4::timestamptz - make_interval(secs => $2) AND NOT u.disabled),
             touched AS (
                 UPDATE sessions SET last_seen = $4 WHERE token_hash IN (SELECT token_hash FROM live WHERE touch))
             SELECT token_hash FROM live",
        )
        .bind(hashes)
        .bind(idle.as_secs() as f64)
        .bind(TOUCH_EVERY_SECONDS as f64)
        .bind(self.clock.now())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(hash,)| hash).collect())
    }

    /// Of these display-credential hashes, the ones not revoked: one round trip for all.
    pub async fn live_displays(
        &self,
        hashes: &[Vec<u8>],
    ) -> Result<std::collections::HashSet<Vec<u8>>, AccountError> {
        if hashes.is_empty() {
            return Ok(Default::default());
        }
        let rows: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT credential_hash FROM displays WHERE credential_hash = ANY($1) AND revoked_at IS NULL")
            .bind(hashes)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(hash,)| hash).collect())
    }

    pub async fn delete_session(&self, token: &str) -> Result<(), AccountError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(secret_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets sessions idle for longer than `idle`.
    pub async fn prune_sessions(&self, idle: Duration) -> Result<u64, AccountError> {
        let done = sqlx::query(
            "DELETE FROM sessions WHERE last_seen < $2::timestamptz - make_interval(secs => $1)",
        )
        .bind(idle.as_secs() as f64)
        .bind(self.clock.now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    // ---- displays ----

    /// Creates a display; returns it and its one-time pairing code.
    pub async fn create_display(
        &self,
        name: &str,
        unit: &str,
        playlist: &[WallView],
    ) -> Result<(Display, String), AccountError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(AccountError::Invalid("a display needs a name of 1–200 characters".into()));
        }
        if playlist.is_empty() || playlist.len() > 50 {
            return Err(AccountError::Invalid("a playlist needs 1–50 views".into()));
        }
        if let Some(view) = playlist.iter().find(|v| !(5..=3600).contains(&v.seconds)) {
            return Err(AccountError::Invalid(format!(
                "view of `{}` lasts {} s; 5–3600 s allowed",
                view.unit, view.seconds
            )));
        }
        let code = new_pairing_code();
        let row: DisplayRow = sqlx::query_as(&format!(
            "INSERT INTO displays (name, unit, playlist, pairing_code_hash, pairing_expires_at, created_at)
             VALUES ($1, $2, $3, $4, $6::timestamptz + make_interval(secs => $5), $6) RETURNING {DISPLAY_COLUMNS}"
        ))
        .bind(name)
        .bind(unit)
        .bind(encode("display playlist", &playlist)?)
        .bind(secret_hash(&normalize_code(&code)))
        .bind(PAIRING_VALID_FOR.as_secs() as f64)
        .bind(self.clock.now())
        .fetch_one(&self.pool)
        .await?;
        Ok((Display::try_from(row)?, code))
    }

    /// A new pairing code for a display, which also un-pairs the screen that had it.
    pub async fn new_pairing_code(&self, id: i64) -> Result<(Display, String), AccountError> {
        let code = new_pairing_code();
        let row: Option<DisplayRow> = sqlx::query_as(&format!(
            "UPDATE displays SET pairing_code_hash = $2, pairing_expires_at = $4::timestamptz + make_interval(secs => $3),
                 credential_hash = NULL, paired_at = NULL, revoked_at = NULL
             WHERE id = $1 RETURNING {DISPLAY_COLUMNS}"
        ))
        .bind(id)
        .bind(secret_hash(&normalize_code(&code)))
        .bind(PAIRING_VALID_FOR.as_secs() as f64)
        .bind(self.clock.now())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok((Display::try_from(row)?, code)),
            None => Err(AccountError::NotFound(format!("no display {id}"))),
        }
    }

    /// Pairs the screen holding `code`: the code is used up, the display gets a credential.
    pub async fn pair_display(
        &self,
        code: &str,
    ) -> Result<Option<(Display, String)>, AccountError> {
        let credential = new_secret();
        let row: Option<DisplayRow> = sqlx::query_as(&format!(
            "UPDATE displays SET credential_hash = $2, paired_at = $3, pairing_code_hash = NULL, pairing_expires_at = NULL
             WHERE pairing_code_hash = $1 AND pairing_expires_at > $3 AND revoked_at IS NULL
             RETURNING {DISPLAY_COLUMNS}"
        ))
        .bind(secret_hash(&normalize_code(code)))
        .bind(secret_hash(&credential))
        .bind(self.clock.now())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some((Display::try_from(row)?, credential))),
            None => Ok(None),
        }
    }

    /// The live (paired, not revoked) display holding `credential`.
    pub async fn display_by_credential(
        &self,
        credential: &str,
    ) -> Result<Option<Display>, AccountError> {
        let row: Option<DisplayRow> = sqlx::query_as(&format!(
            "SELECT {DISPLAY_COLUMNS} FROM displays WHERE credential_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(secret_hash(credential))
        .fetch_optional(&self.pool)
        .await?;
        row.map(Display::try_from).transpose()
    }

    pub async fn revoke_display(&self, id: i64) -> Result<Display, AccountError> {
        let row: Option<DisplayRow> = sqlx::query_as(&format!(
            "UPDATE displays SET revoked_at = $2, credential_hash = NULL, pairing_code_hash = NULL
             WHERE id = $1 RETURNING {DISPLAY_COLUMNS}"
        ))
        .bind(id)
        .bind(self.clock.now())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Display::try_from(row),
            None => Err(AccountError::NotFound(format!("no display {id}"))),
        }
    }

    pub async fn list_displays(&self) -> Result<Vec<Display>, AccountError> {
        let rows: Vec<DisplayRow> =
            sqlx::query_as(&format!("SELECT {DISPLAY_COLUMNS} FROM displays ORDER BY id"))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(Display::try_from).collect()
    }

    // ---- ingest keys ----

    /// Creates a key for a source system; returns it and the key, which is shown only now.
    pub async fn create_key(
        &self,
        source: &str,
        unit: Option<&str>,
        expectation: Expectation,
    ) -> Result<(IngestKey, String), AccountError> {
        let source = source.trim();
        if source.is_empty() || source.chars().count() > 200 || source.chars().any(char::is_control)
        {
            return Err(AccountError::Invalid("a source name has 1–200 characters".into()));
        }
        if !(1..=30 * 86_400).contains(&expectation.interval_seconds) {
            return Err(AccountError::Invalid(
                "the expected interval is 1 second to 30 days".into(),
            ));
        }
        let key = new_secret();
        let row: KeyRow = sqlx::query_as(&format!(
            "INSERT INTO ingest_keys (source, unit, key_hash, expected_interval_seconds, watch, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING {KEY_COLUMNS}"
        ))
        .bind(source)
        .bind(unit)
        .bind(secret_hash(&key))
        .bind(expectation.interval_seconds)
        .bind(expectation.watch.as_str())
        .bind(self.clock.now())
        .fetch_one(&self.pool)
        .await?;
        Ok((IngestKey::from(row), key))
    }

    pub async fn key_by_secret(&self, key: &str) -> Result<Option<IngestKey>, AccountError> {
        let row: Option<KeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM ingest_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(secret_hash(key))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(IngestKey::from))
    }

    pub async fn revoke_key(&self, id: i64) -> Result<IngestKey, AccountError> {
        let row: Option<KeyRow> = sqlx::query_as(&format!(
            "UPDATE ingest_keys SET revoked_at = $2 WHERE id = $1 RETURNING {KEY_COLUMNS}"
        ))
        .bind(id)
        .bind(self.clock.now())
        .fetch_optional(&self.pool)
        .await?;
        row.map(IngestKey::from)
            .ok_or_else(|| AccountError::NotFound(format!("no ingest key {id}")))
    }

    pub async fn list_keys(&self) -> Result<Vec<IngestKey>, AccountError> {
        let rows: Vec<KeyRow> =
            sqlx::query_as(&format!("SELECT {KEY_COLUMNS} FROM ingest_keys ORDER BY id"))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(IngestKey::from).collect())
    }

    // ---- audit ----

    /// Records an entry; a failure to record is logged, never fatal to the request.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
        address: Option<&str>,
    ) {
        let result = sqlx::query("INSERT INTO audit_log (actor, action, target, detail, address, at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(actor)
            .bind(action)
            .bind(target)
            .bind(detail)
            .bind(address)
            .bind(self.clock.now())
            .execute(&self.pool)
            .await;
        if let Err(error) = result {
            tracing::error!(%error, action, "audit entry not recorded");
        }
    }

    /// Deletes audit entries older than `older_than`; returns how many.
    pub async fn prune_audit(&self, older_than: Duration) -> Result<u64, AccountError> {
        let done = sqlx::query(
            "DELETE FROM audit_log WHERE at < $2::timestamptz - make_interval(secs => $1)",
        )
        .bind(older_than.as_secs_f64())
        .bind(self.clock.now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The newest entries first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditRecord>, AccountError> {
        let rows: Vec<AuditRecord> =
            sqlx::query_as("SELECT id, at, actor, action, target, detail, address FROM audit_log ORDER BY id DESC LIMIT $1")
                .bind(limit.clamp(1, 10_000))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").await.unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash).await);
        assert!(!verify_password("wrong horse battery", &hash).await);
        assert!(hash_password("short").await.is_err());
    }

    #[test]
    fn pairing_codes_are_typeable_and_compare_loosely() {
        let code = new_pairing_code();
        assert_eq!(code.len(), 9);
        assert_eq!(normalize_code(&code.to_lowercase().replace('-', " ")), normalize_code(&code));
        assert!(!code.contains('0') && !code.contains('O') && !code.contains('I'));
    }

    #[test]
    fn secrets_are_long_and_distinct() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(secret_hash(&a), secret_hash(&format!(" {a}\n")));
    }
}
