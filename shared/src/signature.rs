//! Checking a frozen report's digest and signature: Ed25519 over the RFC 8785 canonical JSON of
//! the report without `digest` and `signature`. One verifier for the server, `ioc report
//! verify` and the browser's badge (feature `signatures`).

use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a report does not check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    NotAnObject,
    Missing(&'static str),
    /// The content changed after signing.
    DigestMismatch,
    BadSignature,
    Malformed(String),
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::NotAnObject => write!(f, "the report is not a JSON object"),
            Invalid::Missing(name) => write!(f, "the report has no `{name}`"),
            Invalid::DigestMismatch => write!(
                f,
                "the digest does not match the report's content (it was changed after signing)"
            ),
            Invalid::BadSignature => {
                write!(f, "the signature is not valid for this report and key")
            }
            Invalid::Malformed(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for Invalid {}

/// The bytes a report's digest and signature cover: the object without those two fields, as
/// RFC 8785 canonical JSON.
pub fn signed_bytes(report: &serde_json::Value) -> Result<Vec<u8>, Invalid> {
    let mut object = report.as_object().ok_or(Invalid::NotAnObject)?.clone();
    object.remove("digest");
    object.remove("signature");
    serde_json_canonicalizer::to_vec(&serde_json::Value::Object(object))
        .map_err(|e| Invalid::Malformed(e.to_string()))
}

/// Hex SHA-256 of `bytes`.
pub fn digest_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks a report's digest and signature against a public key (base64 of its 32 bytes).
pub fn verify(report: &serde_json::Value, public_key: &str) -> Result<(), Invalid> {
    let field = |name: &'static str| {
        report.get(name).and_then(serde_json::Value::as_str).ok_or(Invalid::Missing(name))
    };
    let (digest, signature) = (field("digest")?, field("signature")?);
    let bytes = signed_bytes(report)?;
    if digest_hex(&bytes) != digest.to_ascii_lowercase() {
        return Err(Invalid::DigestMismatch);
    }
    let key: [u8; 32] =
        BASE64.decode(public_key.trim()).ok().and_then(|bytes| bytes.try_into().ok()).ok_or_else(
            || Invalid::Malformed("the public key is not the base64 of 32 bytes".into()),
        )?;
    let key = VerifyingKey::from_bytes(&key)
        .map_err(|_| Invalid::Malformed("the public key is not an Ed25519 key".into()))?;
    let signature: [u8; 64] =
        BASE64.decode(signature).ok().and_then(|bytes| bytes.try_into().ok()).ok_or_else(|| {
            Invalid::Malformed("the signature is not the base64 of 64 bytes".into())
        })?;
    key.verify(&bytes, &Signature::from_bytes(&signature)).map_err(|_| Invalid::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_signed_bytes_are_rfc_8785_canonical() {
        let report =
            json!({"b": 1.0, "a": "Đình", "digest": "x", "signature": "y", "c": [3, 0.25]});
        assert_eq!(
            String::from_utf8(signed_bytes(&report).expect("test")).expect("test"),
            r#"{"a":"Đình","b":1,"c":[3,0.25]}"#
        );
    }

    #[test]
    fn a_report_without_a_signature_or_with_a_bad_key_does_not_check() {
        let report = json!({"a": 1, "digest": digest_hex(br#"{"a":1}"#), "signature": "AAAA"});
        assert_eq!(verify(&json!({"a": 1}), "x"), Err(Invalid::Missing("digest")));
        assert!(matches!(verify(&report, "not base64!"), Err(Invalid::Malformed(_))));
        let mut changed = report.clone();
        changed["a"] = json!(2);
        assert_eq!(verify(&changed, "x"), Err(Invalid::DigestMismatch));
    }
}
