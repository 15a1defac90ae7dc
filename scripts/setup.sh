#!/usr/bin/env bash
# Sets up, idempotently and only where missing, everything the IOC needs on Debian:
#   - the wasm32 target and wasm-bindgen-cli at exactly the version in Cargo.lock,
#   - PostgreSQL (role and database `ioc`) unless DATABASE_URL is set,
#   - Redis unless REDIS_URL is set,
#   - with --browser: Chromium and chromedriver for the browser tests.
# Source it (`. scripts/setup.sh [--browser]`) to get DATABASE_URL and REDIS_URL exported.
set -euo pipefail

IOC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IOC_DEFAULT_DATABASE_URL="postgres://ioc:ioc@127.0.0.1:5432/ioc"
IOC_DEFAULT_REDIS_URL="redis://127.0.0.1:6379"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

IOC_APT_UPDATED=0
apt_install() {
  if [ "$IOC_APT_UPDATED" = 0 ]; then
    log "apt-get update"
    as_root apt-get update -qq
    IOC_APT_UPDATED=1
  fi
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# port_open HOST PORT: is something listening there?
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for_port() {
  local host=$1 port=$2 what=$3
  for _ in $(seq 1 60); do
    port_open "$host" "$port" && return 0
    sleep 0.5
  done
  echo "error: $what did not start listening on $host:$port" >&2
  return 1
}

ensure_wasm_toolchain() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  local want have
  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$IOC_ROOT/Cargo.lock")
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  if [ "$have" != "$want" ]; then
    log "installing wasm-bindgen-cli $want (a few minutes, once)"
    # Without --locked: its own lock names a crate version the registry may lack (BUILD-NOTES).
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    log "PostgreSQL: using DATABASE_URL from the environment"
    return
  fi
  export DATABASE_URL="$IOC_DEFAULT_DATABASE_URL"
  if ! port_open 127.0.0.1 5432; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      apt_install postgresql postgresql-client
    fi
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for_port 127.0.0.1 5432 PostgreSQL
  fi
  command -v psql >/dev/null || apt_install postgresql-client
  if PGPASSWORD=ioc psql -h 127.0.0.1 -U ioc -d ioc -tAc 'SELECT 1' >/dev/null 2>&1; then
    return
  fi
  log "creating PostgreSQL role and database ioc"
  local sql_role="DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ioc') THEN
        CREATE ROLE ioc LOGIN PASSWORD 'ioc' CREATEDB;
      END IF; END \$\$;"
  local admin=(psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -tA)
  if ! "${admin[@]}" -c 'SELECT 1' >/dev/null 2>&1; then
    admin=(as_postgres psql -d postgres -v ON_ERROR_STOP=1 -tA)
  fi
  "${admin[@]}" -c "$sql_role" >/dev/null
  if [ "$("${admin[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'ioc'")" != "1" ]; then
    "${admin[@]}" -c "CREATE DATABASE ioc OWNER ioc" >/dev/null
  fi
}

ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then
    log "Redis: using REDIS_URL from the environment"
    return
  fi
  export REDIS_URL="$IOC_DEFAULT_REDIS_URL"
  if port_open 127.0.0.1 6379; then
    return
  fi
  command -v redis-server >/dev/null || apt_install redis-server
  if ! port_open 127.0.0.1 6379; then
    log "starting Redis"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ioc.log
  fi
  wait_for_port 127.0.0.1 6379 Redis
}

ensure_browser() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    apt_install chromium chromium-driver
  fi
}

# A pinned PyPI package in its own virtual environment under target/, installed unless the
# right version is there already: ensure_python_package PACKAGE VERSION VENV_NAME WHAT.
ensure_python_package() {
  local package="$1" version="$2" venv="$IOC_ROOT/target/$3" what="$4"
  if ! "$venv/bin/python" -c "import $package, importlib.metadata as m; assert m.version('$package') == '$version'" 2>/dev/null; then
    log "installing $what $package $version into target/$3"
    command -v python3 >/dev/null || apt_install python3
    rm -rf "$venv"
    python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
    "$venv/bin/pip" install -q "$package==$version"
  fi
}

# The Open311 client a third-party app would use (PyPI `georeport`, pinned); exports
# IOC_OPEN311_CLIENT_PYTHON for the test that drives it.
# (`three` and `open311` on PyPI are Python 2 only and cannot run on a current Debian.)
IOC_GEOREPORT_VERSION=0.3.1
ensure_open311_clients() {
  ensure_python_package georeport "$IOC_GEOREPORT_VERSION" open311-clients-venv "the Open311 client"
  export IOC_OPEN311_CLIENT_PYTHON="$IOC_ROOT/target/open311-clients-venv/bin/python"
}

# A real SMTP server for the notification tests (aiosmtpd, pinned); exports
# IOC_SMTP_SERVER_PYTHON for the tests that start it.
IOC_AIOSMTPD_VERSION=1.4.6
ensure_smtp_server() {
  ensure_python_package aiosmtpd "$IOC_AIOSMTPD_VERSION" smtp-server-venv "the SMTP server"
  export IOC_SMTP_SERVER_PYTHON="$IOC_ROOT/target/smtp-server-venv/bin/python"
}

# The engines the failover tests start on their own ports, even when REDIS_URL or
# DATABASE_URL name servers elsewhere: a Redis master, its replica and three Sentinels
# (Debian's redis-server, whose binary also runs `--sentinel`), and a PostgreSQL primary and
# its standby (initdb, pg_ctl, pg_basebackup from Debian's postgresql).
ensure_failover_engines() {
  command -v redis-server >/dev/null || apt_install redis-server
  ls /usr/lib/postgresql/*/bin/pg_basebackup >/dev/null 2>&1 || apt_install postgresql
  command -v runuser >/dev/null || apt_install util-linux
}

# libfaketime, for the runs of the time-sensitive tests at the turns of the calendar.
ensure_faketime() {
  command -v faketime >/dev/null || apt_install faketime
}

# The font PDF reports are set in (DejaVu Sans: every Vietnamese letter), and poppler's
# pdftotext and pdfinfo, with which the tests read the PDFs back.
ensure_report_font() {
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || apt_install fonts-dejavu-core
}
ensure_pdf_tools() {
  command -v pdftotext >/dev/null || apt_install poppler-utils
}

# A real OpenID provider for the sign-in tests: npm's oidc-provider (OpenID Certified), pinned,
# with the tests' own provider script beside it; exports IOC_OIDC_PROVIDER_DIR. It needs
# Node.js 20 or later (Debian 12's own nodejs is 18: install a newer one where that is all).
IOC_OIDC_PROVIDER_VERSION=9.13.3
ensure_oidc_provider() {
  local dir="$IOC_ROOT/target/oidc-provider"
  command -v node >/dev/null || apt_install nodejs npm
  if ! grep -qs "\"version\": \"$IOC_OIDC_PROVIDER_VERSION\"" "$dir/node_modules/oidc-provider/package.json"; then
    log "installing the OpenID provider for the tests (npm oidc-provider@$IOC_OIDC_PROVIDER_VERSION, once)"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --silent "oidc-provider@$IOC_OIDC_PROVIDER_VERSION" >/dev/null
  fi
  cp "$IOC_ROOT/tests/oidc/provider.mjs" "$dir/provider.mjs"
  export IOC_OIDC_PROVIDER_DIR="$dir"
}

# npm's binaryen for wasm-opt: Debian's (wasm-opt 108) breaks the bundle at run time
# (BUILD-NOTES). About 1.3 KB of the dashboard's first load, measured (BENCHMARKS.md).
IOC_BINARYEN_VERSION=132.0.0
IOC_WASM_OPT="$IOC_ROOT/target/binaryen/node_modules/.bin/wasm-opt"
ensure_wasm_opt() {
  if [ -x "$IOC_WASM_OPT" ] && "$IOC_WASM_OPT" --version 2>/dev/null | grep -q "version ${IOC_BINARYEN_VERSION%%.*}"; then
    return
  fi
  command -v npm >/dev/null || apt_install nodejs npm
  log "installing wasm-opt (npm binaryen@$IOC_BINARYEN_VERSION, once)"
  mkdir -p "$IOC_ROOT/target/binaryen"
  npm install --prefix "$IOC_ROOT/target/binaryen" --no-audit --no-fund --silent "binaryen@$IOC_BINARYEN_VERSION" >/dev/null
}

ioc_setup() {
  local browser=0
  for arg in "$@"; do
    case "$arg" in
      --browser) browser=1 ;;
      *) echo "setup.sh: unknown option $arg" >&2; return 2 ;;
    esac
  done
  ensure_wasm_toolchain
  ensure_wasm_opt
  ensure_postgres
  ensure_redis
  ensure_report_font
  if [ "$browser" = 1 ]; then ensure_browser; fi
}

# Builds the dashboard into dist/: wasm, its JavaScript glue, index.html and styles. Every file
# but index.html carries a content hash in its name (served `immutable`), and every file is also
# stored gzip- and brotli-compressed for the server to pick by Accept-Encoding.
build_web() {
  log "building the dashboard, the wall, the public page and the reports page (wasm, one bundle each)"
  command -v brotli >/dev/null || apt_install brotli
  local stage="$IOC_ROOT/target/web-stage"
  rm -rf "$stage"
  mkdir -p "$stage"
  cp "$IOC_ROOT"/assets/web/* "$stage/"
  local page bundle wasm js
  for page in dashboard wall public reports; do
    case "$page" in
      dashboard) bundle=ioc_frontend ;;
      *) bundle="ioc_$page" ;;
    esac
    (cd "$IOC_ROOT" && cargo build -p ioc-frontend --target wasm32-unknown-unknown --profile wasm-release \
      --no-default-features --features "page-$page")
    wasm-bindgen --target web --no-typescript --remove-name-section --out-dir "$stage/$page" \
      "$IOC_ROOT/target/wasm32-unknown-unknown/wasm-release/ioc_frontend.wasm"
    # Size first, to a fixed point (-Oz --converge); the features are those rustc's wasm32
    # target emits.
    "$IOC_WASM_OPT" -Oz --converge --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals \
      "$stage/$page/ioc_frontend_bg.wasm" -o "$stage/${bundle}_bg.wasm"
    rm "$stage/$page/ioc_frontend_bg.wasm"
    mv "$stage/$page/ioc_frontend.js" "$stage/$bundle.js"
    rm -rf "$stage/$page"
    wasm=$(content_hashed "$stage" "${bundle}_bg" wasm)
    replace_reference "$stage/$bundle.js" "'ioc_frontend_bg.wasm'" "'$wasm'"
    js=$(content_hashed "$stage" "$bundle" js)
    replace_reference "$stage/boot.js" "/$bundle.js" "/$js"
    if [ "$page" = dashboard ]; then
      replace_reference "$stage/index.html" "/ioc_frontend.js" "/$js"
    fi
  done
  local css boot style
  css=$(content_hashed "$stage" style css)
  for style in wall public reports; do
    replace_reference "$stage/boot.js" "\"/$style.css\"" "\"/$(content_hashed "$stage" "$style" css)\""
  done
  boot=$(content_hashed "$stage" boot js)
  replace_reference "$stage/index.html" "/style.css" "/$css"
  replace_reference "$stage/index.html" "/boot.js" "/$boot"
  local file
  for file in "$stage"/*; do
    gzip -9 -n -k "$file"
    brotli -q 11 -k "$file"
  done
  rm -rf "$IOC_ROOT/dist"
  mv "$stage" "$IOC_ROOT/dist"
}

# content_hashed DIR NAME EXT: renames DIR/NAME.EXT to DIR/NAME.<hash>.EXT and prints the new name.
content_hashed() {
  local hash
  hash=$(sha256sum "$1/$2.$3" | cut -c1-16)
  mv "$1/$2.$3" "$1/$2.$hash.$3"
  echo "$2.$hash.$3"
}

# replace_reference FILE OLD NEW: replaces the reference, failing if FILE does not contain it.
replace_reference() {
  grep -qF -- "$2" "$1" || { echo "build_web: $1 has no reference to $2" >&2; return 1; }
  local escaped_old escaped_new
  escaped_old=$(printf '%s' "$2" | sed 's/[.[\*^$/]/\\&/g')
  escaped_new=$(printf '%s' "$3" | sed 's/[&/\]/\\&/g')
  sed -i "s/$escaped_old/$escaped_new/g" "$1"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ioc_setup "$@"
fi
