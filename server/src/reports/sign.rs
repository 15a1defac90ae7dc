//! The report key and the signature of a report: Ed25519 over the RFC 8785 canonical JSON of
//! the report without `digest` and `signature`.

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("report key file {path}: {error}")]
    KeyFile { path: PathBuf, error: String },
    #[error("the report is not a JSON object")]
    NotAnObject,
    #[error("the report has no `{0}`")]
    Missing(&'static str),
    #[error("the digest does not match the report's content (it was changed after signing)")]
    DigestMismatch,
    #[error("the signature is not valid for this report and key")]
    BadSignature,
    #[error("{0}")]
    Malformed(String),
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
        let failed = |error: String| SignError::KeyFile { path: path.to_owned(), error };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = BASE64.decode(text.trim()).map_err(|e| failed(e.to_string()))?;
                let secret: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| failed("expected the base64 of 32 bytes".to_owned()))?;
                Ok(ReportKey { signing: SigningKey::from_bytes(&secret) })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let secret: [u8; 32] = rand::random();
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| failed(e.to_string()))?;
                }
                write_secret(path, &BASE64.encode(secret)).map_err(|e| failed(e.to_string()))?;
                tracing::warn!(path = %path.display(), "created a new report signing key");
                Ok(ReportKey { signing: SigningKey::from_bytes(&secret) })
            }
            Err(error) => Err(failed(error.to_string())),
        }
    }

    /// Base64 of the 32 raw bytes of the public key.
    pub fn public_base64(&self) -> String {
        BASE64.encode(self.signing.verifying_key().to_bytes())
    }

    /// Adds `digest` and `signature` to a report object (replacing any).
    pub fn sign(&self, report: &mut serde_json::Value) -> Result<(), SignError> {
        let bytes = signed_bytes(report)?;
        let digest = hex::encode(Sha256::digest(&bytes));
        let signature = BASE64.encode(self.signing.sign(&bytes).to_bytes());
        let object = report.as_object_mut().ok_or(SignError::NotAnObject)?;
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

/// The bytes a report's digest and signature cover: the object without those two fields, as
/// RFC 8785 canonical JSON.
pub fn signed_bytes(report: &serde_json::Value) -> Result<Vec<u8>, SignError> {
    let mut object = report.as_object().ok_or(SignError::NotAnObject)?.clone();
    object.remove("digest");
    object.remove("signature");
    serde_json_canonicalizer::to_vec(&serde_json::Value::Object(object))
        .map_err(|e| SignError::Malformed(e.to_string()))
}

/// Checks a report's digest and signature against a public key (base64 of its 32 bytes).
pub fn verify(report: &serde_json::Value, public_key: &str) -> Result<(), SignError> {
    let field = |name: &'static str| {
        report.get(name).and_then(serde_json::Value::as_str).ok_or(SignError::Missing(name))
    };
    let (digest, signature) = (field("digest")?, field("signature")?);
    let bytes = signed_bytes(report)?;
    if hex::encode(Sha256::digest(&bytes)) != digest.to_ascii_lowercase() {
        return Err(SignError::DigestMismatch);
    }
    let key: [u8; 32] =
        BASE64.decode(public_key.trim()).ok().and_then(|bytes| bytes.try_into().ok()).ok_or_else(
            || SignError::Malformed("the public key is not the base64 of 32 bytes".into()),
        )?;
    let key = VerifyingKey::from_bytes(&key)
        .map_err(|_| SignError::Malformed("the public key is not an Ed25519 key".into()))?;
    let signature: [u8; 64] =
        BASE64.decode(signature).ok().and_then(|bytes| bytes.try_into().ok()).ok_or_else(|| {
            SignError::Malformed("the signature is not the base64 of 64 bytes".into())
        })?;
    key.verify(&bytes, &Signature::from_bytes(&signature)).map_err(|_| SignError::BadSignature)
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
        assert!(matches!(verify(&report, &key.public_base64()), Err(SignError::DigestMismatch)));
        std::fs::remove_file(&path).expect("test");
    }

    #[test]
    fn the_signed_bytes_are_rfc_8785_canonical() {
        let report =
            json!({"b": 1.0, "a": "Đình", "digest": "x", "signature": "y", "c": [3, 0.25]});
        assert_eq!(
            String::from_utf8(signed_bytes(&report).expect("test")).expect("test"),
            r#"{"a":"Đình","b":1,"c":[3,0.25]}"#
        );
    }
}
