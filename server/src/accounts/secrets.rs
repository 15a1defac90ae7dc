//! Secrets: random tokens, keys and pairing codes (stored only as SHA-256 hashes), and
//! passwords (Argon2id, hashed off the async threads).

use super::*;

/// Characters of pairing codes: no 0/O, 1/I/L, so they can be typed from a screen.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

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
pub(super) fn normalize_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// Why a password could not be hashed (never the caller's fault).
#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    #[error("{0}")]
    Argon2(argon2::password_hash::Error),
    #[error("the hashing task stopped: {0}")]
    Task(tokio::task::JoinError),
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes), run off the async threads.
pub async fn hash_password(password: &str) -> Result<String, AccountError> {
    check_password(password)?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt_bytes: [u8; 16] = rand::rng().random();
        let salt = SaltString::encode_b64(&salt_bytes).map_err(HashingError::Argon2)?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| AccountError::Hashing(HashingError::Argon2(e)))
    })
    .await
    .map_err(|e| AccountError::Hashing(HashingError::Task(e)))?
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

/// A real hash to verify against when the user does not exist, so that a wrong username takes
/// as long as a wrong password.
pub(super) async fn dummy_hash() -> &'static str {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    // A failed hash leaves an empty string: verifying against it fails, as it should.
    DUMMY
        .get_or_init(|| async { hash_password(&new_secret()).await.unwrap_or_default() })
        .await
        .as_str()
}
