#!/usr/bin/env bash
# Checks a report saved from GET /api/v1/reports/{id} with nothing of ours: Python 3 (standard
# library) writes the signed bytes (the report without `digest` and `signature`, RFC 8785
# canonical JSON) and OpenSSL 3 checks the SHA-256 digest and the Ed25519 signature.
#
#   ./scripts/verify-report.sh report.json "$(curl -s https://ioc.example/api/v1/reports/key | python3 -c 'import sys, json; print(json.load(sys.stdin)["public_key"])')"
#
# Limit: Python's float text equals RFC 8785's for the numbers reports hold (rates, hours,
# points); a float below 1e-4 written with an exponent would differ (`ioc report verify` has
# no such limit).
set -euo pipefail
report="$1"
public_key="$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$report" "$public_key" "$work" <<'PY'
import base64, json, sys
report_path, public_key, work = sys.argv[1], sys.argv[2], sys.argv[3]
report = json.load(open(report_path, encoding="utf-8"))
signature, digest = report.pop("signature"), report.pop("digest")
def canonical(value):
    # RFC 8785 writes integral numbers without a fraction (1.0 -> 1).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value
signed = json.dumps(canonical(report), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
open(f"{work}/signed", "wb").write(signed.encode("utf-8"))
open(f"{work}/signature", "wb").write(base64.b64decode(signature))
open(f"{work}/digest", "w").write(digest)
# The raw 32-byte Ed25519 key inside the DER SubjectPublicKeyInfo prefix OpenSSL reads.
der = bytes.fromhex("302a300506032b6570032100") + base64.b64decode(public_key)
open(f"{work}/key.der", "wb").write(der)
PY
actual=$(openssl dgst -sha256 -r "$work/signed" | cut -d' ' -f1)
if [ "$actual" != "$(cat "$work/digest")" ]; then
  echo "digest differs: the report was changed after it was signed" >&2
  exit 1
fi
openssl pkey -pubin -inform DER -in "$work/key.der" -out "$work/key.pem"
openssl pkeyutl -verify -pubin -inkey "$work/key.pem" -rawin -in "$work/signed" -sigfile "$work/signature"
