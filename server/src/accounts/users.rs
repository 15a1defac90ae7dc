//! People: adding, finding, logging in, disabling, resetting passwords.

use super::*;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    /// A chief's unit; `None` for admins and leaders, who see every unit.
    pub unit: Option<String>,
    pub disabled: bool,
}

pub(super) fn check_password(password: &str) -> Result<(), AccountError> {
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

/// Path segments of the admin API under `/api/v1/admin/users/`, which no username may take.
const RESERVED_USERNAMES: [&str; 1] = ["import"];

pub(super) fn check_username(username: &str) -> Result<(), AccountError> {
    if RESERVED_USERNAMES.contains(&username) {
        return Err(AccountError::Invalid(format!(
            "`{username}` is reserved; choose another username"
        )));
    }
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

/// A `users` row as stored.
pub(super) struct UserRow {
    pub(super) id: i64,
    pub(super) username: String,
    pub(super) role: String,
    pub(super) unit: Option<String>,
    pub(super) disabled: bool,
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

impl Accounts {
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
        let row = sqlx::query_as!(
            UserRow,
            "INSERT INTO users (username, password_hash, role, unit, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (username) DO NOTHING RETURNING id, username, role, unit, disabled",
            username,
            hash,
            role.as_str(),
            unit,
            self.clock.now(),
        )
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => User::try_from(row),
            None => Err(AccountError::Conflict(format!("user `{username}` already exists"))),
        }
    }

    pub async fn user(&self, username: &str) -> Result<User, AccountError> {
        let row = sqlx::query_as!(
            UserRow,
            "SELECT id, username, role, unit, disabled FROM users WHERE username = $1",
            username
        )
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
        let mut tx = crate::store::begin(&self.pool).await?;
        if disabled
            && user.role == Role::Admin
            && !user.disabled
            && lock_active_admins(&mut tx).await? <= 1
        {
            return Err(AccountError::Refused(format!(
                "`{username}` is the last active admin and cannot be disabled"
            )));
        }
        sqlx::query!("UPDATE users SET disabled = $2 WHERE id = $1", user.id, disabled)
            .execute(&mut *tx)
            .await?;
        if disabled {
            sqlx::query!("DELETE FROM sessions WHERE user_id = $1", user.id)
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
        let mut tx = crate::store::begin(&self.pool).await?;
        sqlx::query!("UPDATE users SET password_hash = $2 WHERE id = $1", user.id, hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query!("DELETE FROM sessions WHERE user_id = $1", user.id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The enabled person with this username and password. With `password_login` off only an
    /// account marked `break_glass` gets in; a person with no password (imported, or signing
    /// in through the provider) never does.
    pub async fn check_login(
        &self,
        username: &str,
        password: &str,
        password_login: bool,
    ) -> Result<PasswordLogin, AccountError> {
        let row = sqlx::query!(
            "SELECT id, username, role, unit, disabled, password_hash, break_glass FROM users WHERE username = $1",
            username
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some((row, hash)) =
            row.and_then(|row| row.password_hash.clone().map(|hash| (row, hash)))
        else {
            // The same work as a real check: timing tells nobody which names exist.
            verify_password(password, dummy_hash().await).await;
            return Ok(PasswordLogin::Wrong);
        };
        let break_glass = row.break_glass;
        let user = User::try_from(UserRow {
            id: row.id,
            username: row.username,
            role: row.role,
            unit: row.unit,
            disabled: row.disabled,
        })?;
        if !verify_password(password, &hash).await || user.disabled {
            return Ok(PasswordLogin::Wrong);
        }
        if !password_login && !break_glass {
            return Ok(PasswordLogin::Off(user));
        }
        Ok(PasswordLogin::Valid(user))
    }
}

/// Takes the row locks of every active admin and counts them: two transactions that would
/// each demote or disable one of the last two cannot both pass.
pub(super) async fn lock_active_admins(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
) -> Result<usize, AccountError> {
    let ids = sqlx::query_scalar!(
        "SELECT id FROM users WHERE role = 'admin' AND NOT disabled ORDER BY id FOR UPDATE"
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids.len())
}

/// What a password login comes to.
#[derive(Debug)]
pub enum PasswordLogin {
    Valid(User),
    /// Unknown name, wrong password, no password or a disabled account (told apart to nobody).
    Wrong,
    /// The right password, but password sign-in is off and the account is not `break_glass`.
    Off(User),
}

/// The columns of [`Person`], in one place for every query that reads one.
macro_rules! person_columns {
    () => {
        "username, full_name, role, unit, disabled, email, phone, origin, break_glass"
    };
}
pub(crate) use person_columns;

/// A person as admins see and change them: who, where, how they are told, how they came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Person {
    pub username: String,
    pub full_name: Option<String>,
    pub role: String,
    /// A chief's unit; `None` for admins and leaders.
    pub unit: Option<String>,
    pub disabled: bool,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// `password` (added with a password), `import` (a CSV import) or `oidc` (created at a
    /// first sign-in through the province's provider).
    pub origin: String,
    /// May sign in with a password while password sign-in is off.
    pub break_glass: bool,
}

/// Longest email address (RFC 5321) and phone number accepted.
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_PHONE_CHARS: usize = 20;

/// Checks an email address as given (empty clears it): one `@`, no spaces or control
/// characters, a dot in the domain.
pub fn check_email(email: &str) -> Result<(), AccountError> {
    if email.is_empty() {
        return Ok(());
    }
    let valid = email.chars().count() <= MAX_EMAIL_CHARS
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(())
    } else {
        Err(AccountError::Invalid(format!("`{email}` is not an email address")))
    }
}

/// Checks a phone number as given (empty clears it): digits, with an optional leading `+` and
/// spaces, dots or dashes between them.
pub fn check_phone(phone: &str) -> Result<(), AccountError> {
    if phone.is_empty() {
        return Ok(());
    }
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let valid = phone.chars().count() <= MAX_PHONE_CHARS
        && (6..=15).contains(&digits)
        && phone
            .trim_start_matches('+')
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-'));
    if valid {
        Ok(())
    } else {
        Err(AccountError::Invalid(format!("`{phone}` is not a phone number (digits, optional +)")))
    }
}
