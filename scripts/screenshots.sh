#!/usr/bin/env bash
# Takes the README's screenshots (docs/screenshots/*.png) from a demo: sets everything up,
# starts `ioc demo` on a scratch database and Redis prefix of its own, waits for its history
# (about a minute and a half on a 2-core machine), and has headless Chromium log in as the
# demo's leader and chief, pair the demo wall, and open the public page.
set -euo pipefail
. "$(dirname "$0")/setup.sh"
ioc_setup --browser
build_web
cd "$IOC_ROOT"
cargo build --release -q -p ioc-server --features demo --bin ioc
cargo build -q -p ioc-tests --bin ioc-screenshots

database="ioc_screenshots"
base_url="${DATABASE_URL%/*}"
psql "$base_url/postgres" -qc "DROP DATABASE IF EXISTS $database" -c "CREATE DATABASE $database" >/dev/null
port=${IOC_SCREENSHOTS_PORT:-18096}
log="$IOC_ROOT/target/screenshots-demo.log"
DATABASE_URL="$base_url/$database" IOC_REDIS_PREFIX="ioc-screenshots:" IOC_BIND="127.0.0.1:$port" \
  IOC_WEB_DIR="$IOC_ROOT/dist" ./target/release/ioc demo >"$log" 2>&1 &
demo=$!
chromedriver --port=9515 >/dev/null 2>&1 &
driver=$!
trap 'kill $demo $driver 2>/dev/null; wait 2>/dev/null' EXIT

log "waiting for the demo's history"
for _ in $(seq 1 600); do
  grep -q "history written" "$log" && break
  kill -0 $demo 2>/dev/null || { cat "$log"; echo "the demo stopped" >&2; exit 1; }
  sleep 1
done
grep -q "history written" "$log" || { echo "the demo's history took over 10 minutes" >&2; exit 1; }
password() { grep -E "^    $1 " "$log" | awk '{print $2}'; }
code=$(grep -oE "wall#pair=[A-Z0-9-]+" "$log" | head -1 | cut -d= -f2)
./target/debug/ioc-screenshots --url "http://127.0.0.1:$port" \
  --leader-password "$(password lanhdao)" --chief-password "$(password truongquan.badinh)" \
  --pairing-code "$code" --out docs/screenshots
