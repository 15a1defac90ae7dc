//! Managing people, ingest keys and wall displays: the one place that checks, changes, audits
//! and revokes. The admin HTTP API and the `ioc` command line both call these functions, so the
//! same action always leaves the same audit entry and closes the same live connections.

use super::directory::Change;
use super::import::{FileError, ImportReport};
use super::revoke::Revoker;
use super::{
    check_display_scope, AccountError, Accounts, Display, Expectation, IngestKey, Person, User,
};
use crate::catalog::Catalog;
use ioc_shared::access::{Role, WallView};

/// Why an import wrote nothing: the file as a whole, or the database.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Account(#[from] AccountError),
}

/// Who performs a management action, as the audit log records it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `user:<name>` for an admin over HTTP, `cli:<login>` for an operator at the command line.
    pub label: String,
    /// The client's address (HTTP only).
    pub address: Option<String>,
}

#[derive(Clone)]
pub struct Management {
    accounts: Accounts,
    /// Unit codes given for people, keys and displays must exist.
    catalog: Catalog,
    revoker: Revoker,
}

impl Management {
    pub fn new(accounts: Accounts, catalog: Catalog, revoker: Revoker) -> Management {
        Management { accounts, catalog, revoker }
    }

    /// Revocation notices (also used on logout).
    pub fn revoker(&self) -> &Revoker {
        &self.revoker
    }

    fn known_unit(&self, code: &str) -> Result<(), AccountError> {
        if self.catalog.contains(code) {
            Ok(())
        } else {
            Err(AccountError::Invalid(format!("unknown unit `{code}`")))
        }
    }

    async fn audit(&self, actor: &Actor, action: &str, target: &str, detail: Option<&str>) {
        self.accounts
            .audit(&actor.label, action, Some(target), detail, actor.address.as_deref())
            .await;
    }

    // ---- people ----

    pub async fn add_user(
        &self,
        actor: &Actor,
        username: &str,
        password: &str,
        role: Role,
        unit: Option<&str>,
    ) -> Result<User, AccountError> {
        if let Some(unit) = unit {
            self.known_unit(unit)?;
        }
        let user = self.accounts.add_user(username, password, role, unit).await?;
        let detail = format!(
            "role {}{}",
            user.role.as_str(),
            user.unit.as_deref().map(|u| format!(", unit {u}")).unwrap_or_default()
        );
        self.audit(actor, "user_added", &user.username, Some(&detail)).await;
        Ok(user)
    }

    /// Disables a person: their sessions end and their live connections close. Nobody disables
    /// their own account, and the last active admin stays.
    pub async fn disable_user(&self, actor: &Actor, username: &str) -> Result<User, AccountError> {
        if actor.label == format!("user:{username}") {
            return Err(AccountError::Refused("an admin cannot disable their own account".into()));
        }
        let user = self.accounts.set_disabled(username, true).await?;
        self.audit(actor, "user_disabled", &user.username, None).await;
        self.revoker.publish(&format!("user:{}", user.id)).await;
        Ok(user)
    }

    pub async fn enable_user(&self, actor: &Actor, username: &str) -> Result<User, AccountError> {
        let user = self.accounts.set_disabled(username, false).await?;
        self.audit(actor, "user_enabled", &user.username, None).await;
        Ok(user)
    }

    /// Sets a new password: the person's sessions end and their live connections close.
    pub async fn reset_password(
        &self,
        actor: &Actor,
        username: &str,
        password: &str,
    ) -> Result<User, AccountError> {
        let user = self.accounts.reset_password(username, password).await?;
        self.audit(actor, "password_reset", &user.username, None).await;
        self.revoker.publish(&format!("user:{}", user.id)).await;
        Ok(user)
    }

    /// Changes a person — role, unit, full name, email, phone, break-glass — under the rules
    /// of [`super::directory`]; audited with before and after. A change of role or unit ends
    /// their sessions and closes their live connections.
    pub async fn change_person(
        &self,
        actor: &Actor,
        username: &str,
        change: &Change,
    ) -> Result<Person, AccountError> {
        if let Some(Some(unit)) = &change.unit {
            if !unit.trim().is_empty() {
                self.known_unit(unit)?;
            }
        }
        let changed = self.accounts.change_person(username, change).await?;
        // Only where they are told: the entry notification settings always left.
        let contact_only = change.role.is_none()
            && change.unit.is_none()
            && change.full_name.is_none()
            && change.break_glass.is_none();
        let action = if contact_only { "user_contact_set" } else { "user_changed" };
        self.audit(actor, action, username, Some(&changed.describe())).await;
        if changed.scope_changed() {
            self.revoker.publish(&format!("user:{}", changed.id)).await;
        }
        Ok(changed.after)
    }

    /// Imports people from a CSV file (see [`super::import`]): each row creates or updates one
    /// person; refused rows are reported with their line. `dry_run` writes nothing.
    pub async fn import_people(
        &self,
        actor: &Actor,
        file: &[u8],
        dry_run: bool,
    ) -> Result<ImportReport, ImportError> {
        let (rows, refused) = super::import::read_file(file, |code| self.catalog.contains(code))?;
        let (report, cut) = self
            .accounts
            .import_people(rows, refused, dry_run, &actor.label, actor.address.as_deref())
            .await?;
        let notices: Vec<String> = cut.iter().map(|id| format!("user:{id}")).collect();
        self.revoker.publish_all(&notices).await;
        Ok(report)
    }

    // ---- ingest keys ----

    /// A key for a source system; the secret is returned once and stored only as a hash.
    pub async fn create_key(
        &self,
        actor: &Actor,
        source: &str,
        unit: Option<&str>,
        expectation: Expectation,
    ) -> Result<(IngestKey, String), AccountError> {
        if let Some(unit) = unit {
            self.known_unit(unit)?;
        }
        let (key, secret) = self.accounts.create_key(source, unit, expectation).await?;
        self.audit(actor, "key_created", &format!("key:{}", key.id), Some(&key.source)).await;
        Ok((key, secret))
    }

    pub async fn revoke_key(&self, actor: &Actor, id: i64) -> Result<IngestKey, AccountError> {
        let key = self.accounts.revoke_key(id).await?;
        self.audit(actor, "key_revoked", &format!("key:{id}"), Some(&key.source)).await;
        Ok(key)
    }

    // ---- wall displays ----

    /// A display and its one-time pairing code.
    pub async fn create_display(
        &self,
        actor: &Actor,
        name: &str,
        unit: &str,
        playlist: &[WallView],
    ) -> Result<(Display, String), AccountError> {
        check_display_scope(&self.catalog, unit, playlist)?;
        let (display, code) = self.accounts.create_display(name, unit, playlist).await?;
        self.audit(
            actor,
            "display_created",
            &format!("display:{}", display.id),
            Some(&display.name),
        )
        .await;
        Ok((display, code))
    }

    /// A new pairing code; the screen paired before is disconnected.
    pub async fn new_pairing(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<(Display, String), AccountError> {
        let (display, code) = self.accounts.new_pairing_code(id).await?;
        self.audit(actor, "display_pairing_reset", &format!("display:{id}"), Some(&display.name))
            .await;
        self.revoker.publish(&format!("display:{id}")).await;
        Ok((display, code))
    }

    /// Revokes a display: its screen is disconnected and can no longer connect.
    pub async fn revoke_display(&self, actor: &Actor, id: i64) -> Result<Display, AccountError> {
        let display = self.accounts.revoke_display(id).await?;
        self.audit(actor, "display_revoked", &format!("display:{id}"), Some(&display.name)).await;
        self.revoker.publish(&format!("display:{id}")).await;
        Ok(display)
    }

    // ---- public disclosure ----

    /// Makes a unit public on `/cong-khai` and in the open data, or changes whether its late
    /// officers are named there (the city's decision, audited).
    pub async fn make_public(
        &self,
        actor: &Actor,
        unit: &str,
        officers: bool,
    ) -> Result<super::disclosure::PublicUnit, AccountError> {
        self.known_unit(unit)?;
        let public = self.accounts.set_public_unit(unit, officers).await?;
        let detail = if officers { "officers named" } else { "officers not named" };
        self.audit(actor, "unit_made_public", &format!("unit:{unit}"), Some(detail)).await;
        Ok(public)
    }

    pub async fn withdraw_public(&self, actor: &Actor, unit: &str) -> Result<(), AccountError> {
        self.accounts.remove_public_unit(unit).await?;
        self.audit(actor, "unit_made_private", &format!("unit:{unit}"), None).await;
        Ok(())
    }
}
