//! The report key and the signature of a report: Ed25519 over the RFC 8785 canonical JSON of
//! the report without `digest` and `signature`.

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use std::path::{Path, PathBuf};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("report key file {path} cannot be {doing}")]
    KeyFile {
        path: PathBuf,
        /// What was being done: "read", "created".
        doing: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("report key file {path} does not hold the base64 of 32 bytes")]
    NotAKey {
        path: PathBuf,
        #[source]
        source: Option<base64::DecodeError>,
    },
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// The server's report signing key, read from its file or created there on first use.
#[derive(Clone)]
pub struct ReportKey {
    signing: SigningKey,
}

impl ReportKey {
    /// Reads the key (32 raw secret bytes, base64, one line) from `path`, creating the file
    /// (mode 0600) with a new key when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<ReportKey, SignError> {
        let failed = |doing, source| SignError::KeyFile { path: path.to_owned(), doing, source };
        let not_a_key = |source| SignError::NotAKey { path: path.to_owned(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = BASE64.decode(text.trim()).map_err(|e| not_a_key(Some(e)))?;
                let secret: [u8; 32] = bytes.try_into().map_err(|_| not_a_key(None))?;
                Ok(ReportKey { signing: SigningKey::from_bytes(&secret) })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let secret: [u8; 32] = rand::random();
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| failed("created", e))?;
                }
                write_secret(path, &BASE64.encode(secret)).map_err(|e| failed("created", e))?;
                tracing::warn!(path = %path.display(), "created a new report signing key");
                Ok(ReportKey { signing: SigningKey::from_bytes(&secret) })
            }
            Err(error) => Err(failed("read", error)),
        }
    }

    /// Base64 of the 32 raw bytes of the public key.
    pub fn public_base64(&self) -> String {
        BASE64.encode(self.signing.verifying_key().to_bytes())
    }

    /// Adds `digest` and `signature` to a report object (replacing any).
    pub fn sign(&self, report: &mut serde_json::Value) -> Result<(), SignError> {
        let bytes = signed_bytes(report)?;
        let digest = ioc_shared::signature::digest_hex(&bytes);
        let signature = BASE64.encode(self.signing.sign(&bytes).to_bytes());
        let object = report.as_object_mut().ok_or(Invalid::NotAnObject)?;
        object.insert("digest".into(), digest.into());
        object.insert("signature".into(), signature.into());
        Ok(())
    }
}

#[cfg(unix)]
fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    writeln!(file, "{text}")
}

#[cfg(not(unix))]
fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{text}\n"))
}

pub use ioc_shared::signature::{signed_bytes, Invalid};

/// Checks a report's digest and signature against a public key (base64 of its 32 bytes).
pub fn verify(report: &serde_json::Value, public_key: &str) -> Result<(), SignError> {
    Ok(ioc_shared::signature::verify(report, public_key)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_signed_report_verifies_and_fails_after_one_digit_changes() {
        let path = std::env::temp_dir().join(format!("ioc-key-test-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let key = ReportKey::load_or_create(&path).expect("test");
        // Read back from the file, it is the same key.
        assert_eq!(
            ReportKey::load_or_create(&path).expect("test").public_base64(),
            key.public_base64()
        );
        let mut report = json!({"unit": {"code": "001", "name": "Ba Đình"}, "figures": {"received": 40, "rate": 0.5}});
        key.sign(&mut report).expect("test");
        verify(&report, &key.public_base64()).expect("test");
        report["figures"]["received"] = json!(41);
        assert!(matches!(
            verify(&report, &key.public_base64()),
            Err(SignError::Invalid(Invalid::DigestMismatch))
        ));
        std::fs::remove_file(&path).expect("test");
    }
}
