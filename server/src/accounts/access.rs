//! Who is calling, and what they may see.
//!
//! A person logs in and holds a session; a wall display pairs once and holds a display
//! credential. Every HTTP request and every WebSocket subscription is checked against the
//! caller's scope by [`authorize_unit`], the one check behind both.

use super::{secret_hash_hex, AccountError, Accounts, Display, User};
use crate::catalog::{Catalog, Unit};
use ioc_shared::access::{Me, Role};
use std::time::Duration;

/// A person or a wall display.
#[derive(Debug, Clone)]
pub enum Principal {
    User(User),
    Display(Display),
}

/// How the caller proved who they are, kept so a live connection can be re-checked and revoked.
#[derive(Clone)]
pub enum Credential {
    Session(String),
    Display(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Session(_) => f.write_str("Session(<redacted>)"),
            Credential::Display(_) => f.write_str("Display(<redacted>)"),
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub credential: Credential,
    /// The client's address, for the audit log.
    pub address: Option<String>,
}

impl Principal {
    /// The unit whose subtree the caller sees; `None` for every unit.
    pub fn scope(&self) -> Option<&str> {
        match self {
            Principal::User(user) => match user.role {
                Role::Admin | Role::Leader => None,
                Role::Chief => Some(user.unit.as_deref().unwrap_or("")),
            },
            Principal::Display(display) => Some(&display.unit),
        }
    }

    pub fn can_see(&self, catalog: &Catalog, code: &str) -> bool {
        match self.scope() {
            None => true,
            Some(root) => catalog.is_within(code, root),
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::User(user) if user.role == Role::Admin)
    }

    /// Names the caller in the audit log.
    pub fn label(&self) -> String {
        match self {
            Principal::User(user) => format!("user:{}", user.username),
            Principal::Display(display) => format!("display:{}", display.id),
        }
    }

    pub fn me(&self) -> Me {
        match self {
            Principal::User(user) => Me::User {
                username: user.username.clone(),
                role: user.role,
                unit: user.unit.clone(),
            },
            Principal::Display(d) => Me::Display {
                id: d.id,
                name: d.name.clone(),
                unit: d.unit.clone(),
                playlist: d.playlist.clone(),
            },
        }
    }
}

impl Caller {
    /// The revocation notices that end this caller's live connections.
    pub fn revocation_keys(&self) -> Vec<String> {
        match &self.principal {
            Principal::User(user) => {
                let mut keys = vec![format!("user:{}", user.id)];
                if let Credential::Session(token) = &self.credential {
                    keys.push(format!("session:{}", secret_hash_hex(token)));
                }
                keys
            }
            Principal::Display(display) => vec![format!("display:{}", display.id)],
        }
    }
}

impl Accounts {
    /// The principal behind a credential, if it is valid now (a session not idle for longer
    /// than `session_idle`, a display not revoked).
    pub async fn principal_for(
        &self,
        credential: &Credential,
        session_idle: Duration,
    ) -> Result<Option<Principal>, AccountError> {
        Ok(match credential {
            Credential::Session(token) => {
                self.session_user(token, session_idle).await?.map(Principal::User)
            }
            Credential::Display(secret) => {
                self.display_by_credential(secret).await?.map(Principal::Display)
            }
        })
    }
}

/// Checks again that a caller's credential is still valid (for long-lived connections).
pub async fn still_valid(
    accounts: &Accounts,
    session_idle: Duration,
    caller: &Caller,
) -> Result<bool, AccountError> {
    Ok(accounts.principal_for(&caller.credential, session_idle).await?.is_some())
}

/// Why a caller may not have a unit, in words for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitRefusal {
    /// No such unit (told only to callers who see every unit).
    Unknown(String),
    /// Outside the caller's scope — or unknown, for a scoped caller, who learns nothing
    /// about units outside their scope.
    Forbidden(String),
}

impl UnitRefusal {
    pub fn message(&self) -> &str {
        match self {
            UnitRefusal::Unknown(m) | UnitRefusal::Forbidden(m) => m,
        }
    }
}

/// The unit `code`, if the caller may see it; a forbidden request is recorded in the audit
/// log. The one check behind every HTTP request and every WebSocket subscription.
pub async fn authorize_unit<'a>(
    catalog: &'a Catalog,
    accounts: &Accounts,
    caller: &Caller,
    code: &str,
) -> Result<&'a Unit, UnitRefusal> {
    if caller.principal.can_see(catalog, code) {
        if let Some(unit) = catalog.get(code) {
            return Ok(unit);
        }
        if caller.principal.scope().is_none() {
            return Err(UnitRefusal::Unknown(format!("unknown unit `{code}`")));
        }
    }
    accounts
        .audit(
            &caller.principal.label(),
            "access_denied",
            Some(&format!("unit:{code}")),
            None,
            caller.address.as_deref(),
        )
        .await;
    Err(UnitRefusal::Forbidden(forbidden_message(code)))
}

pub fn forbidden_message(code: &str) -> String {
    format!("you may not view unit `{code}`")
}
