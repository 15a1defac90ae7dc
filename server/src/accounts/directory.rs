//! People as the province's directory knows them: changing a person's role and unit, listing
//! people a page at a time, and the rules every change keeps — an admin changing one person,
//! a CSV import changing thousands, a sign-in through the provider syncing one.
//!
//! The rules, here once: a chief has a known unit and nobody else has one; the last active
//! admin stays an admin; a change of role or unit ends the person's sessions (the caller then
//! closes their live connections).

pub(super) use super::users::lock_active_admins;
use super::users::{person_columns, Person};
use super::*;

/// A change to a person; `None` leaves a field as it is. An empty text clears the field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub role: Option<Role>,
    /// `Some(None)` clears the unit (for a person becoming an admin or a leader).
    pub unit: Option<Option<String>>,
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub break_glass: Option<bool>,
}

/// Longest full name kept.
pub const MAX_FULL_NAME_CHARS: usize = 200;

/// A person before and after a change.
#[derive(Debug, Clone)]
pub struct Changed {
    /// The `users` row's id (revocation notices name it).
    pub id: i64,
    pub before: Person,
    pub after: Person,
}

impl Changed {
    /// Whether what the person may see changed: their sessions were ended.
    pub fn scope_changed(&self) -> bool {
        self.before.role != self.after.role || self.before.unit != self.after.unit
    }

    /// `role chief → leader, unit 00001 → —, email set` for the audit log.
    pub fn describe(&self) -> String {
        describe_change(&self.before, &self.after)
    }
}

/// What changed between two states of a person, for the audit log.
pub fn describe_change(before: &Person, after: &Person) -> String {
    let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "—".to_owned());
    let mut parts = Vec::new();
    if before.role != after.role {
        parts.push(format!("role {} → {}", before.role, after.role));
    }
    if before.unit != after.unit {
        parts.push(format!("unit {} → {}", shown(&before.unit), shown(&after.unit)));
    }
    if before.full_name != after.full_name {
        parts.push(format!("full name {} → {}", shown(&before.full_name), shown(&after.full_name)));
    }
    for (name, old, new) in
        [("email", &before.email, &after.email), ("phone", &before.phone, &after.phone)]
    {
        if old != new {
            parts.push(format!("{name} {} → {}", shown(old), shown(new)));
        }
    }
    if before.break_glass != after.break_glass {
        parts.push(format!("break_glass {} → {}", before.break_glass, after.break_glass));
    }
    if parts.is_empty() {
        "nothing changed".to_owned()
    } else {
        parts.join(", ")
    }
}

/// Checks a full name as given (empty clears it).
pub fn check_full_name(name: &str) -> Result<(), AccountError> {
    if name.chars().count() > MAX_FULL_NAME_CHARS {
        return Err(AccountError::Invalid(format!(
            "a full name has at most {MAX_FULL_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(AccountError::Invalid("a full name holds no control characters".into()));
    }
    Ok(())
}

/// The role and unit a person ends up with: a chief keeps a unit, the others lose theirs.
/// `Err` names what is wrong. Unit codes are checked against the catalog by the caller.
pub fn resolve_scope(
    before_role: Role,
    before_unit: Option<&str>,
    change: &Change,
) -> Result<(Role, Option<String>), AccountError> {
    let role = change.role.unwrap_or(before_role);
    let unit = match &change.unit {
        Some(unit) => unit.clone().filter(|u| !u.trim().is_empty()),
        None if role == Role::Chief => before_unit.map(str::to_owned),
        None => None,
    };
    match (role, &unit) {
        (Role::Chief, None) => Err(AccountError::Invalid("a chief needs a unit".into())),
        (Role::Admin | Role::Leader, Some(_)) => Err(AccountError::Invalid(
            "only a chief has a unit; admins and leaders see every unit".into(),
        )),
        _ => Ok((role, unit)),
    }
}

/// Checks the texts of a change (email, phone, full name).
pub fn check_change(change: &Change) -> Result<(), AccountError> {
    if let Some(email) = &change.email {
        super::users::check_email(email)?;
    }
    if let Some(phone) = &change.phone {
        super::users::check_phone(phone)?;
    }
    if let Some(name) = &change.full_name {
        check_full_name(name)?;
    }
    Ok(())
}

/// Which people a listing shows.
#[derive(Debug, Clone, Default)]
pub struct PeopleFilter {
    /// People whose unit is one of these (a unit and everything below it).
    pub units: Option<Vec<String>>,
    pub role: Option<Role>,
    /// A piece of the username or the full name, any case.
    pub text: Option<String>,
}

/// `%text%` for ILIKE, with the pattern's own characters escaped.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A person's row with its id, locked for the transaction.
#[derive(sqlx::FromRow)]
pub(super) struct LockedPerson {
    pub(super) id: i64,
    #[sqlx(flatten)]
    pub(super) person: Person,
}

pub(super) async fn lock_person(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    username: &str,
) -> Result<Option<LockedPerson>, AccountError> {
    let row = sqlx::query_as(concat!(
        "SELECT id, ",
        person_columns!(),
        " FROM users WHERE username = $1 FOR UPDATE"
    ))
    .bind(username)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row)
}

/// `stored role` as a [`Role`].
pub(super) fn stored_role(person: &Person) -> Result<Role, AccountError> {
    Role::parse(&person.role).ok_or_else(|| AccountError::UnknownRole(person.role.clone()))
}

/// Writes a person's new state and, when their role or unit changed, ends their sessions.
pub(super) async fn write_person(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: i64,
    before: &Person,
    after: &Person,
) -> Result<(), AccountError> {
    sqlx::query(
        "UPDATE users SET role = $2, unit = $3, full_name = $4, email = $5, phone = $6,
                          break_glass = $7
         WHERE id = $1",
    )
    .bind(id)
    .bind(&after.role)
    .bind(&after.unit)
    .bind(&after.full_name)
    .bind(&after.email)
    .bind(&after.phone)
    .bind(after.break_glass)
    .execute(&mut **tx)
    .await?;
    if before.role != after.role || before.unit != after.unit {
        sqlx::query!("DELETE FROM sessions WHERE user_id = $1", id).execute(&mut **tx).await?;
    }
    Ok(())
}

/// `Some("")` clears, `Some(text)` sets (trimmed), `None` keeps.
fn apply_text(old: &Option<String>, new: &Option<String>) -> Option<String> {
    match new {
        None => old.clone(),
        Some(text) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
    }
}

/// A person after `change`; `Err` when the change breaks a rule of the role and unit.
pub fn changed_person(before: &Person, change: &Change) -> Result<Person, AccountError> {
    let role = stored_role(before)?;
    let (role, unit) = resolve_scope(role, before.unit.as_deref(), change)?;
    Ok(Person {
        username: before.username.clone(),
        full_name: apply_text(&before.full_name, &change.full_name),
        role: role.as_str().to_owned(),
        unit,
        disabled: before.disabled,
        email: apply_text(&before.email, &change.email),
        phone: apply_text(&before.phone, &change.phone),
        origin: before.origin.clone(),
        break_glass: change.break_glass.unwrap_or(before.break_glass),
    })
}

/// Whether going from `before` to `after` takes away an active admin.
pub fn removes_an_admin(before: &Person, after: &Person) -> bool {
    before.role == "admin" && !before.disabled && after.role != "admin"
}

impl Accounts {
    pub async fn person(&self, username: &str) -> Result<Person, AccountError> {
        let row: Option<Person> = sqlx::query_as(concat!(
            "SELECT ",
            person_columns!(),
            " FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or_else(|| AccountError::NotFound(format!("no user `{username}`")))
    }

    /// One page of people in username order, after `after` (the last username of the page
    /// before).
    pub async fn list_people(
        &self,
        filter: &PeopleFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Person>, AccountError> {
        let rows = sqlx::query_as(concat!(
            "SELECT ",
            person_columns!(),
            " FROM users
             WHERE ($1::text[] IS NULL OR unit = ANY($1))
               AND ($2::text IS NULL OR role = $2)
               AND ($3::text IS NULL OR username ILIKE $3 OR full_name ILIKE $3)
               AND ($4::text IS NULL OR username > $4)
             ORDER BY username LIMIT $5"
        ))
        .bind(filter.units.as_deref())
        .bind(filter.role.map(Role::as_str))
        .bind(filter.text.as_deref().map(like_pattern))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Changes a person (role, unit, name, contact, break-glass) under the rules above. Unit
    /// codes must already be checked against the catalog.
    pub async fn change_person(
        &self,
        username: &str,
        change: &Change,
    ) -> Result<Changed, AccountError> {
        check_change(change)?;
        let mut tx = crate::store::begin(&self.pool).await?;
        let Some(locked) = lock_person(&mut tx, username).await? else {
            return Err(AccountError::NotFound(format!("no user `{username}`")));
        };
        let after = changed_person(&locked.person, change)?;
        if removes_an_admin(&locked.person, &after) && lock_active_admins(&mut tx).await? <= 1 {
            return Err(AccountError::Refused(format!(
                "`{username}` is the last active admin and stays an admin"
            )));
        }
        write_person(&mut tx, locked.id, &locked.person, &after).await?;
        tx.commit().await?;
        Ok(Changed { id: locked.id, before: locked.person, after })
    }
}

/// Who the province's provider says a person is, mapped to this server's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub username: String,
    pub role: Role,
    /// A chief's unit (known to the catalog); `None` for the others.
    pub unit: Option<String>,
    pub full_name: Option<String>,
    pub email: Option<String>,
}

/// What a sign-in through the provider came to.
#[derive(Debug)]
pub enum ProviderSignIn {
    /// A first sign-in: the account was created (`origin: oidc`, no password).
    Created(User),
    /// A known account, synced from the claims; `changed` when anything differed (with a
    /// change of role or unit, its other sessions were ended).
    Synced { user: User, changed: Option<Box<Changed>> },
    /// An admin disabled the account: the provider's word does not enable it.
    Disabled,
    /// The claims would demote the last active admin; nothing was changed.
    LastAdmin,
}

impl Accounts {
    /// Creates or syncs the account of a person the provider vouched for, in one transaction.
    pub async fn provider_sign_in(
        &self,
        identity: &Identity,
    ) -> Result<ProviderSignIn, AccountError> {
        let mut tx = crate::store::begin(&self.pool).await?;
        let change = Change {
            role: Some(identity.role),
            unit: Some(identity.unit.clone()),
            full_name: identity.full_name.clone(),
            email: identity.email.clone(),
            phone: None,
            break_glass: None,
        };
        let Some(locked) = lock_person(&mut tx, &identity.username).await? else {
            let row = sqlx::query_as!(
                UserRow,
                "INSERT INTO users (username, role, unit, full_name, email, origin, created_at)
                 VALUES ($1, $2, $3, $4, $5, 'oidc', $6)
                 RETURNING id, username, role, unit, disabled",
                identity.username,
                identity.role.as_str(),
                identity.unit,
                identity.full_name,
                identity.email,
                self.clock.now(),
            )
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(ProviderSignIn::Created(User::try_from(row)?));
        };
        if locked.person.disabled {
            return Ok(ProviderSignIn::Disabled);
        }
        let after = changed_person(&locked.person, &change)?;
        if removes_an_admin(&locked.person, &after) && lock_active_admins(&mut tx).await? <= 1 {
            return Ok(ProviderSignIn::LastAdmin);
        }
        let changed = if after == locked.person {
            None
        } else {
            write_person(&mut tx, locked.id, &locked.person, &after).await?;
            Some(Box::new(Changed {
                id: locked.id,
                before: locked.person.clone(),
                after: after.clone(),
            }))
        };
        tx.commit().await?;
        let user = User {
            id: locked.id,
            username: after.username.clone(),
            role: identity.role,
            unit: after.unit.clone(),
            disabled: false,
        };
        Ok(ProviderSignIn::Synced { user, changed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(role: &str, unit: Option<&str>) -> Person {
        Person {
            username: "a".into(),
            full_name: None,
            role: role.into(),
            unit: unit.map(str::to_owned),
            disabled: false,
            email: None,
            phone: None,
            origin: "password".into(),
            break_glass: false,
        }
    }

    #[test]
    fn a_chief_keeps_a_unit_and_the_others_lose_theirs() {
        let chief = person("chief", Some("00001"));
        let to_leader = Change { role: Some(Role::Leader), ..Change::default() };
        assert_eq!(changed_person(&chief, &to_leader).expect("test").unit, None);
        let moved = Change { unit: Some(Some("00004".into())), ..Change::default() };
        assert_eq!(changed_person(&chief, &moved).expect("test").unit.as_deref(), Some("00004"));
        let leader = person("leader", None);
        let to_chief = Change { role: Some(Role::Chief), ..Change::default() };
        assert!(matches!(changed_person(&leader, &to_chief), Err(AccountError::Invalid(_))));
        let unit_for_leader = Change { unit: Some(Some("00004".into())), ..Change::default() };
        assert!(matches!(changed_person(&leader, &unit_for_leader), Err(AccountError::Invalid(_))));
        let cleared = Change { unit: Some(None), ..Change::default() };
        assert!(matches!(changed_person(&chief, &cleared), Err(AccountError::Invalid(_))));
    }

    #[test]
    fn an_empty_text_clears_and_an_absent_one_keeps() {
        let mut before = person("leader", None);
        before.email = Some("a@b.vn".into());
        before.full_name = Some("Nguyễn Văn A".into());
        let change = Change {
            email: Some(String::new()),
            phone: Some(" 0912 345 678 ".into()),
            ..Default::default()
        };
        let after = changed_person(&before, &change).expect("test");
        assert_eq!(after.email, None);
        assert_eq!(after.phone.as_deref(), Some("0912 345 678"));
        assert_eq!(after.full_name.as_deref(), Some("Nguyễn Văn A"));
        assert_eq!(describe_change(&before, &after), "email a@b.vn → —, phone — → 0912 345 678");
    }

    #[test]
    fn like_patterns_escape_their_own_characters() {
        assert_eq!(like_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }
}
