#!/usr/bin/env bash
# Fails when the query data committed in .sqlx/ (what `sqlx::query!` checks against when it
# builds without a database) no longer matches the migrations: it applies every migration to a
# scratch database, re-checks the server's queries against it, and compares the query data the
# macros write with what is committed. Needs DATABASE_URL (a role that may create databases).
# No sqlx-cli needed; after a change, `cargo sqlx prepare --workspace` writes .sqlx/ again.
set -euo pipefail
IOC_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$IOC_ROOT"
: "${DATABASE_URL:?DATABASE_URL must name a PostgreSQL the checks may create a database on}"
scratch_db=ioc_sqlx_check
base_url="${DATABASE_URL%/*}"
psql -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $scratch_db" -c "CREATE DATABASE $scratch_db"
for migration in server/migrations/*.sql; do
  psql -q -v ON_ERROR_STOP=1 "$base_url/$scratch_db" -f "$migration" >/dev/null
done
written=$(mktemp -d)
trap 'rm -rf "$written"; psql -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $scratch_db" >/dev/null 2>&1 || true' EXIT
# The macros run again only when the crate is compiled again.
touch server/src/lib.rs
SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$written" DATABASE_URL="$base_url/$scratch_db" \
  cargo check --locked --quiet -p ioc-server --all-targets --features demo
if ! diff -r -q .sqlx "$written" >/dev/null; then
  echo "error: .sqlx/ does not match the queries and migrations; run \`cargo sqlx prepare --workspace\` and commit .sqlx/" >&2
  diff -r -q .sqlx "$written" >&2 || true
  exit 1
fi
echo "sqlx-check: the $(ls .sqlx | wc -l) committed query descriptions match the migrations"
