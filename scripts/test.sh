#!/usr/bin/env bash
# Sets everything up (idempotent) and runs every test: unit tests, end-to-end tests against
# real PostgreSQL and Redis, headless-Chromium tests of the dashboard, the time-sensitive tests
# again under libfaketime at the next turn of a day, month, quarter, half-year and year
# (scripts/clock-turns.sh), and a schemathesis run checking the OpenAPI document against the
# server (scripts/openapi-check.sh).
set -euo pipefail
. "$(dirname "$0")/setup.sh"
ioc_setup --browser
ensure_open311_clients
ensure_smtp_server
ensure_oidc_provider
ensure_faketime
ensure_pdf_tools
ensure_failover_engines
build_web
cd "$IOC_ROOT"
export IOC_WEB_DIR="$IOC_ROOT/dist"
log "checking the formatting (cargo fmt --check) and the docs (cargo doc, warnings are errors)"
cargo fmt --all --check
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --quiet
log "checking the committed SQL query data (.sqlx/) against the migrations"
command -v psql >/dev/null || apt_install postgresql-client
"$IOC_ROOT/scripts/sqlx-check.sh"
log "linting (clippy, warnings are errors)"
cargo clippy --locked --all-targets -- -D warnings
cargo clippy --locked --all-targets --features ioc-server/demo -- -D warnings
cargo clippy --locked -p ioc-frontend --target wasm32-unknown-unknown -- -D warnings
log "building the ioc binary (the CLI tests run it)"
cargo build --locked -p ioc-server --bin ioc
log "running the tests"
cargo test --locked --features ioc-server/demo "$@"
# Only for a whole run, not a filtered one: the clock's turns, and the OpenAPI document
# against the real server.
if [ "$#" = 0 ]; then
  "$IOC_ROOT/scripts/clock-turns.sh"
  "$IOC_ROOT/scripts/openapi-check.sh"
fi
