#!/usr/bin/env bash
# The six measures of issue 22 on the city's workload, each run on a release server with a
# scratch database and a fresh Redis prefix (the PostgreSQL and Redis setup provides, all on this
# machine), RUNS times (3 by default):
#
#   ./scripts/bench.sh ingest   [EVENTS=120000] [RUNS] [ioc-load args]   # until visible + CPU split
#   ./scripts/bench.sh rebuild  [EVENTS=60000]  [RUNS]   # Redis keys lost → figures back
#   ./scripts/bench.sh fanout   [CLIENTS=5000]  [RUNS]   # server CPU per 1,000 deliveries
#   ./scripts/bench.sh isolated [CLIENTS=1000]  [RUNS]   # one event at a time to every client
#   ./scripts/bench.sh idle     [SOCKETS=10000] [RUNS]   # server memory per idle subscribed socket
#   ./scripts/bench.sh download                          # dashboard first load and reload, bytes
#   ./scripts/bench.sh people   [PEOPLE=31000]  [RUNS]   # ioc user import of a province's staff
#
#   IOC_BENCH_PROFILE=1 ./scripts/bench.sh ingest 120000 1   # + where each process's time goes
#
# With IOC_BENCH_PROFILE=1 the runs use a PostgreSQL cluster of their own (initdb, the same
# version and default settings, plus pg_stat_statements) and print, after each run, the
# statements by total execution time, the server's functions by CPU (perf) and Redis's INFO
# commandstats (reset before the run).
set -euo pipefail
. "$(dirname "$0")/setup.sh"
ioc_setup
cd "$IOC_ROOT"
measure="${1:-ingest}"
case "$measure" in
  ingest) size="${2:-120000}" ;;
  rebuild) size="${2:-60000}" ;;
  fanout) size="${2:-5000}" ;;
  isolated) size="${2:-1000}" ;;
  idle) size="${2:-10000}" ;;
  download) size=0 ;;
  people) size="${2:-31000}" ;;
  *) echo "unknown measure $measure (ingest, rebuild, fanout, isolated, idle, download, people)" >&2; exit 2 ;;
esac
runs="${3:-3}"
shift $(( $# > 3 ? 3 : $# ))
# Stops the server, for good: SIGTERM, then SIGKILL if it is still there after 10 s.
stop_server() {
  kill "$server" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
if [ "$measure" = download ]; then
  build_web
  # What a browser downloads on a first visit (the page, its script, its wasm, its styles,
  # brotli as served) and on a reload (conditional requests answered 304).
  cargo build --locked --release -p ioc-server --bin ioc
  export DATABASE_URL IOC_BIND=127.0.0.1:18182 IOC_WEB_DIR="$IOC_ROOT/dist" IOC_REDIS_PREFIX="bench-dl-$$:" RUST_LOG=warn
  ./target/release/ioc serve 2>target/bench-download.log &
  server=$!
  wait_for_port 127.0.0.1 18182 "the server"
  base=http://127.0.0.1:18182
  # The page names the stylesheet and the boot script, the boot script the glue, the glue the wasm.
  page=$(curl -s "$base/")
  boot=$(echo "$page" | grep -o '/boot\.[0-9a-f]*\.js' | head -1)
  style=$(echo "$page" | grep -o '/style\.[0-9a-f]*\.css' | head -1)
  glue=$(curl -s "$base$boot" | grep -o 'ioc_frontend\.[0-9a-f]*\.js' | head -1)
  wasm=$(curl -s "$base/$glue" | grep -o 'ioc_frontend_bg\.[0-9a-f]*\.wasm' | head -1)
  first=0; bodies=0
  for path in / "$style" "$boot" "/$glue" "/$wasm"; do
    headers=$(curl -s -D - -o /tmp/bench-body -H 'Accept-Encoding: br, gzip' "$base$path")
    bytes=$(stat -c %s /tmp/bench-body)
    first=$(( first + bytes + ${#headers} )); bodies=$(( bodies + bytes ))
    echo "  $path: $bytes bytes ($(echo "$headers" | tr -d '\r' | sed -n 's/^[Cc]ontent-[Ee]ncoding: //p')) + ${#headers} bytes of headers"
  done
  # A reload revalidates the page (the other files are immutable, cached for a year).
  modified=$(curl -s -D - -o /dev/null "$base/" | tr -d '\r' | sed -n 's/^[Ll]ast-[Mm]odified: //p')
  rm -f /tmp/bench-reload
  again=$(curl -s -D - -o /tmp/bench-reload -H 'Accept-Encoding: br' -H "If-Modified-Since: $modified" "$base/")
  reload=$(( $(stat -c %s /tmp/bench-reload 2>/dev/null || echo 0) + ${#again} ))
  echo "first load: $bodies bytes of brotli bodies, $first with the response headers; reload: $reload bytes ($(echo "$again" | head -1 | tr -d '\r'))"
  stop_server
  exit 0
fi
if [ "$measure" = people ]; then
  # A province's staff as its directory exports them: chiefs spread over every unit of the
  # catalog, with names, emails and phones; then the same file again (all unchanged) and with
  # one in ten moved to another unit (updated, their sessions ended).
  cargo build --locked --release -p ioc-server --bin ioc
  file=target/bench-people.csv moved=target/bench-people-moved.csv
  python3 - "$size" "$file" "$moved" <<'PY'
import json, sys
count, path, moved_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
units = [u["code"] for u in json.load(open("assets/units/hanoi-2025-01.json")) if u["parent"]]
with open(path, "w", encoding="utf-8") as f, open(moved_path, "w", encoding="utf-8") as g:
    for out in (f, g):
        out.write("username,full_name,role,unit,email,phone\n")
    for i in range(count):
        unit = units[i % len(units)]
        row = f"cb{i:06d},Cán bộ số {i},chief,{{}},cb{i:06d}@hanoi.gov.vn,09{i:08d}\n"
        f.write(row.format(unit))
        g.write(row.format(units[(i + 1) % len(units)] if i % 10 == 0 else unit))
PY
  for run in $(seq 1 "$runs"); do
    database="ioc_bench_people"
    psql -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database" >/dev/null
    for step in "$file" "$file" "$moved"; do
      start=$(date +%s%N)
      summary=$(DATABASE_URL="${DATABASE_URL%/*}/$database" IOC_REDIS_PREFIX="bench-people-$$:" ./target/release/ioc user import "$step" | tail -1)
      end=$(date +%s%N)
      echo "run $run, $(basename "$step"): $(( (end - start) / 1000000 )) ms — $summary"
    done
  done
  exit 0
fi
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
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
command -v bc >/dev/null || apt_install bc
# Fan-out and idle runs open one socket per client on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
load() {
  IOC_LOAD_USER=bench IOC_LOAD_PASSWORD=bench-password ./target/release/ioc-load \
    --url "http://127.0.0.1:$port" --token bench-token "$@"
}

for run in $(seq 1 "$runs"); do
  db="ioc_bench_$$_$run"
  prefix="bench-$$-$run:"
  psql "$admin_url" -qc "CREATE DATABASE $db OWNER ioc" 2>/dev/null \
    || as_postgres psql -qc "CREATE DATABASE $db OWNER ioc"
  export DATABASE_URL="$server_url/$db" IOC_REDIS_PREFIX="$prefix" IOC_INGEST_TOKEN=bench-token \
    IOC_BIND="127.0.0.1:$port" IOC_ALERT_DEFAULTS=false IOC_WEB_DIR="$IOC_ROOT/dist" \
    RUST_LOG=warn,ioc_server::apply=info
  printf 'bench-password\n' | ./target/release/ioc user add bench --role admin >/dev/null
  server_log="target/bench-server-$measure-$run.log"
  if port_open 127.0.0.1 "$port"; then echo "port $port is taken (an earlier run's server?)" >&2; exit 1; fi
  ./target/release/ioc serve 2>"$server_log" &
  server=$!
  wait_for_port 127.0.0.1 "$port" "the server"
  sleep 1
  log "run $run of $measure ($size)"
  if [ "${IOC_BENCH_PROFILE:-0}" = 1 ]; then
    psql "$admin_url" -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()" >/dev/null
    redis-cli -u "$REDIS_URL" config resetstat >/dev/null
    if command -v perf >/dev/null; then
      perf record -q -F 499 -g -p "$server" -o "target/bench-perf-$run.data" >/dev/null 2>&1 &
      perf_pid=$!
    fi
  fi
  case "$measure" in
    ingest)
      before_pg=$(cpu_of postgres); before_redis=$(cpu_of redis-server); before_ioc=$(cpu_of ioc)
      load --events "$size" --samples 0 "$@"
      echo "CPU during the run: server $(echo "$(cpu_of ioc) - $before_ioc" | bc) s, PostgreSQL $(echo "$(cpu_of postgres) - $before_pg" | bc) s, Redis $(echo "$(cpu_of redis-server) - $before_redis" | bc) s"
      ;;
    rebuild)
      load --events "$size" --samples 0 "$@"
      sleep 2
      before_ioc=$(cpu_of ioc); before_redis=$(cpu_of redis-server)
      rebuilds=$(grep -c 'Redis figures rebuilt and switched' "$server_log" || true)
      started=$(date +%s.%N)
      # Every key of the prefix gone, as after a Redis restart without persistence.
      redis-cli -u "$REDIS_URL" --scan --pattern "$prefix*" | xargs -r -n 1000 redis-cli -u "$REDIS_URL" del >/dev/null
      until [ "$(grep -c 'Redis figures rebuilt and switched' "$server_log")" -gt "$rebuilds" ]; do sleep 0.02; done
      done_at=$(date +%s.%N)
      line=$(grep 'Redis figures rebuilt and switched' "$server_log" | tail -1 | sed 's/\x1b\[[0-9;]*m//g')
      echo "rebuild: $size events, keys deleted → switched in $(echo "$done_at - $started" | bc) s = $(echo "$size / ($done_at - $started)" | bc) events/s (detection included); CPU server $(echo "$(cpu_of ioc) - $before_ioc" | bc) s, Redis $(echo "$(cpu_of redis-server) - $before_redis" | bc) s"
      echo "  server log: ${line##*rebuilt and switched}"
      ;;
    fanout)
      load --server-pid "$server" --fanout-clients "$size" "$@"
      ;;
    isolated)
      load --server-pid "$server" --fanout-clients "$size" --fanout-rate 1 --fanout-batch 1 --fanout-seconds 20 "$@"
      ;;
    idle)
      before=$(rss_kb "$server")
      load --events 0 --samples 0 --idle-connections "$size" --hold-seconds 25 "$@" > "target/bench-idle-$run.out" &
      holder=$!
      until grep -q 'holding' "target/bench-idle-$run.out" 2>/dev/null; do sleep 0.5; done
      sleep 5
      after=$(rss_kb "$server")
      wait "$holder"
      echo "idle: $size subscribed sockets, server RSS $before → $after KB = $(( (after - before) * 1024 / size )) bytes per socket"
      ;;
  esac
  if [ "${IOC_BENCH_PROFILE:-0}" = 1 ]; then
    echo "PostgreSQL statements by total time (pg_stat_statements):"
    psql "$admin_url" -P pager=off -c "SELECT round(total_exec_time) AS total_ms, calls, rows,
        round((100 * total_exec_time / sum(total_exec_time) OVER ())::numeric, 1) AS pct,
        regexp_replace(left(query, 90), '\s+', ' ', 'g') AS query
      FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$db')
      ORDER BY total_exec_time DESC LIMIT 12"
    if [ -n "${perf_pid:-}" ]; then
      kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
      echo "The server's CPU by function (perf, self time):"
      perf report -i "target/bench-perf-$run.data" --no-children --sort symbol --stdio 2>/dev/null \
        | grep -E '^ +[0-9.]+%' | sed -E 's/ +- +- *$//; s/ +$//' | cut -c1-120 | head -20
    fi
    echo "Redis commands by total time (INFO commandstats):"
    redis-cli -u "$REDIS_URL" info commandstats | tr -d '\r' | grep '^cmdstat' \
      | sed -E 's/^cmdstat_([^:]+):calls=([0-9]+),usec=([0-9]+),.*/\3 \2 \1/' | sort -rn | head -8 \
      | awk '{printf "  %-16s %9d calls %8.0f ms\n", $3, $2, $1/1000}'
  fi
  stop_server
  redis-cli -u "$REDIS_URL" --scan --pattern "$prefix*" | xargs -r -n 1000 redis-cli -u "$REDIS_URL" del >/dev/null
  psql "$admin_url" -qc "DROP DATABASE $db" 2>/dev/null || as_postgres psql -qc "DROP DATABASE $db"
done
