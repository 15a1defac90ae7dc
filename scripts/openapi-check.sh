#!/usr/bin/env bash
# Checks that docs/openapi.yaml tells the truth: runs schemathesis (pinned, in a virtual
# environment under target/) against a real `ioc serve` on a fresh database, signed in as an
# admin, with a fixed seed and a time limit. Any server error, undocumented status code,
# undocumented content type or response not matching its schema fails the run.
# Called by scripts/test.sh after the Rust tests; runs alone too (`./scripts/openapi-check.sh`).
set -euo pipefail
. "$(dirname "$0")/setup.sh"
ioc_setup
cd "$IOC_ROOT"
cargo build --locked -q -p ioc-server --bin ioc

SCHEMATHESIS_VERSION=4.32.5
SEED=1
EXAMPLES=20
TIME_LIMIT=600
PORT=${IOC_OPENAPI_CHECK_PORT:-18095}
VENV="$IOC_ROOT/target/schemathesis-venv"

if [ ! -x "$VENV/bin/st" ] || ! "$VENV/bin/st" --version | grep -qF "$SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into target/schemathesis-venv"
  command -v python3 >/dev/null || apt_install python3
  rm -rf "$VENV"
  python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

log "checking the OpenAPI document against the server (schemathesis, seed $SEED)"
database="ioc_openapi_check"
base_url="${DATABASE_URL%/*}"
psql -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database" >/dev/null
export DATABASE_URL="$base_url/$database"
export IOC_REDIS_PREFIX="openapi-check:$$:" IOC_BIND="127.0.0.1:$PORT"
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
  if command -v redis-cli >/dev/null; then
    redis-cli -u "$REDIS_URL" --scan --pattern "${IOC_REDIS_PREFIX}*" | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null || true
  fi
}
trap cleanup EXIT

password="openapi-check-$RANDOM$RANDOM"
echo "$password" | ./target/debug/ioc user add openapi-admin --role admin >/dev/null
./target/debug/ioc serve >"$work/server.log" 2>&1 &
server_pid=$!
wait_for_port 127.0.0.1 "$PORT" "the IOC server"
curl -sf -c "$work/cookies" -H "origin: http://127.0.0.1:$PORT" -H 'content-type: application/json' \
  -d "{\"username\":\"openapi-admin\",\"password\":\"$password\"}" "http://127.0.0.1:$PORT/api/v1/login" >/dev/null
session=$(awk '$6 == "ioc_session" { print $7 }' "$work/cookies")
[ -n "$session" ] || { echo "openapi-check: could not sign in" >&2; exit 1; }

status=0
# Run from the temporary folder: schemathesis keeps a cache in the working directory, and a
# fresh one each time keeps the run the same for the same seed.
(cd "$work" && timeout "$TIME_LIMIT" "$VENV/bin/st" run "http://127.0.0.1:$PORT/api/v1/openapi.yaml" \
  --url "http://127.0.0.1:$PORT" \
  -H "Cookie: ioc_session=$session" -H "Origin: http://127.0.0.1:$PORT" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --seed "$SEED" --max-examples "$EXAMPLES") | tee "$work/schemathesis.log" || status=$?
if [ "$status" != 0 ]; then
  echo "openapi-check: schemathesis found problems (exit $status); server log:" >&2
  tail -n 50 "$work/server.log" >&2
  exit "$status"
fi
# A closing line in the plain form CI reads: how many generated requests passed.
passed=$(sed -n 's/.* generated, \([0-9][0-9]*\) passed.*/\1/p' "$work/schemathesis.log" | tail -n 1)
[ -n "$passed" ] && [ "$passed" -gt 0 ] || { echo "openapi-check: schemathesis ran no request" >&2; exit 1; }
echo "schemathesis: $passed passed, 0 failed"
