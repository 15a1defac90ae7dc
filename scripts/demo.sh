#!/usr/bin/env bash
# Sets everything up (idempotent) and runs the dashboard with a live demo feed on
# http://127.0.0.1:8080 (IOC_BIND changes the address).
set -euo pipefail
. "$(dirname "$0")/setup.sh"
ioc_setup
build_web
cd "$IOC_ROOT"
log "building and starting the server"
exec cargo run --release -p ioc-server --features demo --bin ioc -- demo "$@"
