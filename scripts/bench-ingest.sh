#!/usr/bin/env bash
# Ingest until visible on the city's workload (issue 22), and where the CPU goes: a release
# server on a scratch database and a fresh Redis prefix, `ioc-load --workload city` (every ward,
# 600 procedures, every kind through its life), then the CPU seconds each process class spent
# during the run (the server, PostgreSQL's processes, Redis), read from /proc.
#
#   ./scripts/bench-ingest.sh                 # 120,000 events, 3 runs
#   ./scripts/bench-ingest.sh 60000 1 --workload micro
#   IOC_BENCH_PROFILE=1 ./scripts/bench-ingest.sh 120000 1   # + where PostgreSQL's and Redis's time goes
#
# With IOC_BENCH_PROFILE=1 the runs use a PostgreSQL cluster of their own (initdb, the same
# version and default settings, plus pg_stat_statements) and print, after each run, the
# statements by total execution time and Redis's INFO commandstats (reset before the run).
#
# Uses the PostgreSQL and Redis that setup provides (DATABASE_URL's server; the scratch
# database is created and dropped there).
set -euo pipefail
. "$(dirname "$0")/setup.sh"
ioc_setup
cd "$IOC_ROOT"
events="${1:-120000}"
runs="${2:-3}"
shift $(( $# > 2 ? 2 : $# ))
log "building the server and ioc-load (release)"
cargo build --locked --release -p ioc-server --bin ioc -p ioc-tests --bin ioc-load

server_url="${DATABASE_URL%/*}"
admin_url="postgres://postgres@127.0.0.1:5432/postgres"
if [ "${IOC_BENCH_PROFILE:-0}" = 1 ]; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  profile_dir="$IOC_ROOT/target/bench-pg"
  profile_port=5499
  if ! as_postgres "$pg_bin/pg_ctl" -D "$profile_dir" status >/dev/null 2>&1; then
    rm -rf "$profile_dir"; mkdir -p "$profile_dir"; chown postgres "$profile_dir" 2>/dev/null || true
    as_postgres "$pg_bin/initdb" -D "$profile_dir" -U postgres --auth=trust >/dev/null
    as_postgres "$pg_bin/pg_ctl" -D "$profile_dir" -l "$profile_dir/log" -w start \
      -o "-p $profile_port -k /tmp -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
  fi
  psql "postgres://postgres@127.0.0.1:$profile_port/postgres" -qc \
    "DO \$\$ BEGIN CREATE ROLE ioc LOGIN PASSWORD 'ioc'; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$"
  server_url="postgres://ioc:ioc@127.0.0.1:$profile_port"
  admin_url="postgres://postgres@127.0.0.1:$profile_port/postgres"
fi
port=18181
# CPU seconds (user + system) of every process whose command name is $1, from /proc.
cpu_of() {
  local total=0 ticks
  ticks=$(getconf CLK_TCK)
  for stat in /proc/[0-9]*/stat; do
    local line
    line=$(cat "$stat" 2>/dev/null) || continue
    case "$line" in
      *"($1)"*) total=$(( total + $(echo "$line" | awk '{print $14 + $15}') )) ;;
    esac
  done
  echo "scale=2; $total / $ticks" | bc
}
command -v bc >/dev/null || apt_install bc

for run in $(seq 1 "$runs"); do
  db="ioc_bench_$$_$run"
  psql "$admin_url" -qc "CREATE DATABASE $db OWNER ioc" 2>/dev/null \
    || as_postgres psql -qc "CREATE DATABASE $db OWNER ioc"
  export DATABASE_URL="$server_url/$db" IOC_REDIS_PREFIX="bench-$$-$run:" IOC_INGEST_TOKEN=bench-token \
    IOC_BIND="127.0.0.1:$port" IOC_ALERT_DEFAULTS=false IOC_WEB_DIR="$IOC_ROOT/dist" RUST_LOG=warn
  printf 'bench-password\n' | ./target/release/ioc user add bench --role admin >/dev/null
  ./target/release/ioc serve 2>"target/bench-server-$run.log" &
  server=$!
  wait_for_port 127.0.0.1 "$port" "the server"
  sleep 1
  if [ "${IOC_BENCH_PROFILE:-0}" = 1 ]; then
    psql "$admin_url" -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()" >/dev/null
    redis-cli -u "$REDIS_URL" config resetstat >/dev/null
  fi
  before_pg=$(cpu_of postgres); before_redis=$(cpu_of redis-server); before_ioc=$(cpu_of ioc)
  log "run $run: $events events"
  IOC_LOAD_USER=bench IOC_LOAD_PASSWORD=bench-password ./target/release/ioc-load \
    --url "http://127.0.0.1:$port" --token bench-token --events "$events" --samples 0 "$@"
  echo "CPU during the run: server $(echo "$(cpu_of ioc) - $before_ioc" | bc) s, PostgreSQL $(echo "$(cpu_of postgres) - $before_pg" | bc) s, Redis $(echo "$(cpu_of redis-server) - $before_redis" | bc) s"
  if [ "${IOC_BENCH_PROFILE:-0}" = 1 ]; then
    echo "PostgreSQL statements by total time (pg_stat_statements):"
    psql "$admin_url" -P pager=off -c "SELECT round(total_exec_time) AS total_ms, calls, rows,
        round((100 * total_exec_time / sum(total_exec_time) OVER ())::numeric, 1) AS pct,
        regexp_replace(left(query, 90), '\s+', ' ', 'g') AS query
      FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$db')
      ORDER BY total_exec_time DESC LIMIT 15"
    echo "Redis commands by total time (INFO commandstats):"
    redis-cli -u "$REDIS_URL" info commandstats | tr -d '\r' | grep '^cmdstat' \
      | sed -E 's/^cmdstat_([^:]+):calls=([0-9]+),usec=([0-9]+),.*/\3 \2 \1/' | sort -rn | head -10 \
      | awk '{printf "  %-16s %9d calls %8.0f ms\n", $3, $2, $1/1000}'
  fi
  kill "$server"; wait "$server" 2>/dev/null || true
  redis-cli -u "$REDIS_URL" --scan --pattern "bench-$$-$run:*" | xargs -r -n 1000 redis-cli -u "$REDIS_URL" del >/dev/null
  psql "$admin_url" -qc "DROP DATABASE $db" 2>/dev/null || as_postgres psql -qc "DROP DATABASE $db"
done
