//! Accounts in PostgreSQL: people, sessions, wall displays, ingest keys and the audit log.
//!
//! - [`access`]: who is calling and what they may see (the scope check of every request and
//!   subscription);
//! - [`manage`]: creating, disabling, resetting and revoking, with their audit entries — the
//!   admin API and the CLI both call it;
//! - [`throttle`]: failed-attempt counters; [`revoke`]: revocation notices to every replica;
//! - by responsibility, the repositories of `users`, `sessions`, `displays`, `keys` and
//!   `audit`, and `secrets` (random tokens and codes, password hashing), whose public names
//!   are re-exported here.
//!
//! Passwords are hashed with Argon2id. Session tokens, display credentials, pairing codes and
//! ingest keys are random and stored only as SHA-256 hashes: a database dump reveals none of
//! them, and high-entropy secrets need no slow hash.

pub mod access;
mod audit;
pub mod directory;
pub mod disclosure;
mod displays;
pub mod import;
mod keys;
pub mod manage;
pub mod oidc;
pub mod revoke;
mod secrets;
mod sessions;
pub mod throttle;
mod users;

pub use audit::AuditRecord;
pub use displays::{check_display_scope, Display, PAIRING_VALID_FOR};
pub use keys::{Expectation, IngestKey, Watch, DEFAULT_EXPECTED_INTERVAL_SECONDS};
pub use secrets::{
    hash_password, new_pairing_code, new_secret, secret_hash, secret_hash_hex, verify_password,
};
pub use users::{PasswordLogin, Person, User, MIN_PASSWORD_CHARS};
// For the sibling modules (each does `use super::*`).
use secrets::{dummy_hash, normalize_code};
use users::{check_password, UserRow};

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
    Hashing(#[from] secrets::HashingError),
}

impl From<sqlx::Error> for AccountError {
    fn from(error: sqlx::Error) -> AccountError {
        AccountError::Store(StoreError::from(error))
    }
}

#[derive(Debug, Clone)]
pub struct Accounts {
    pool: PgPool,
    /// "Now" for session idleness, pairing-code expiry, key ages and audit retention.
    clock: ioc_shared::time::Clock,
}

impl Accounts {
    pub fn new(pool: PgPool, clock: ioc_shared::time::Clock) -> Accounts {
        Accounts { pool, clock }
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
