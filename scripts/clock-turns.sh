#!/usr/bin/env bash
# Runs the time-sensitive end-to-end tests again with the process's clock set, by libfaketime,
# to the next turn of a local (UTC+7) day, month, quarter, half-year and year, and to the last
# minutes of the year: a test that holds only on ordinary days fails here on any day.
#
# The moments are the next ones after today, never past ones: PostgreSQL and Redis keep the
# real clock, and Redis expires a bucket at a time computed from the server's clock, so a
# moment in the past would expire today's keys at once.
#
# Called by scripts/test.sh after the other tests; runs alone too (`./scripts/clock-turns.sh`),
# with the same setup. `IOC_CLOCK_TURNS` may name moments instead ("YYYY-MM-DD HH:MM:SS" in
# UTC+7, separated by commas).
set -euo pipefail
. "$(dirname "$0")/setup.sh"
ioc_setup
ensure_open311_clients
ensure_faketime
cd "$IOC_ROOT"

# The modules (and single tests) whose figures depend on the moment.
TIME_SENSITIVE=(trends:: figures:: overdue:: calendar:: public:: work:: open311::
  hardening::complaint_texts access::an_idle_session_expires access::one_recheck_ends)

LOCAL_OFFSET=25200 # seconds east of UTC
local_now() { date -u -d "@$(( $(date +%s) + LOCAL_OFFSET ))" "$@"; }

# The next turns after now, as local "YYYY-MM-DD HH:MM:SS". The quarter is one that is not also
# a year (1 April, 1 July or 1 October) and the half-year is 1 July, so that every kind of turn
# is run whatever the month; and the next 29 February.
next_turns() {
  local today year month quarter_year quarter_month half_year leap
  today=$(local_now +%F)
  year=$(local_now +%Y)
  month=$((10#$(local_now +%m)))
  quarter_year=$year
  quarter_month=$(( (month - 1) / 3 * 3 + 4 ))
  if [ "$quarter_month" -gt 10 ]; then quarter_year=$((year + 1)); quarter_month=4; fi
  half_year=$(( month < 7 ? year : year + 1 ))
  leap=$year
  until [ "$(date -u -d "$leap-03-01 -1 day" +%d)" = 29 ] && [[ "$leap-02-29" > "$today" ]]; do leap=$((leap + 1)); done
  local next_month_year=$year next_month=$((month + 1))
  if [ "$next_month" -gt 12 ]; then next_month_year=$((year + 1)); next_month=1; fi
  echo "$(date -u -d "$today +1 day" +%F) 00:20:00"                        # a day
  printf '%04d-%02d-01 00:05:00\n' "$next_month_year" "$next_month"        # a month, its first minutes
  printf '%04d-%02d-01 00:20:00\n' "$quarter_year" "$quarter_month"        # a quarter
  printf '%04d-07-01 00:20:00\n' "$half_year"                              # a half-year
  echo "$((year + 1))-01-01 00:20:00"                                      # a year
  echo "$year-12-31 23:50:00"                                              # a year's last minutes
  echo "$leap-02-29 00:20:00"                                              # 29 February
}

if [ -n "${IOC_CLOCK_TURNS:-}" ]; then
  IFS=',' read -r -a moments <<<"$IOC_CLOCK_TURNS"
else
  mapfile -t moments < <(next_turns | sort -u)
fi

log "building the end-to-end tests"
binary=$(cargo test --locked -p ioc-tests --test e2e --no-run --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*\/e2e-[^"]*\)".*/\1/p' | tail -n 1)
[ -x "$binary" ] || { echo "clock-turns: the e2e test binary was not built" >&2; exit 1; }

now_utc=$(date -u +%s)
for moment in "${moments[@]}"; do
  moment=$(echo "$moment" | xargs)
  utc=$(date -u -d "$moment +0700" "+%Y-%m-%d %H:%M:%S")
  if [ "$(date -u -d "$utc" +%s)" -le "$now_utc" ]; then
    echo "clock-turns: $moment (UTC+7) is not in the future; Redis would expire its keys at once" >&2
    exit 2
  fi
  log "time-sensitive tests at $moment UTC+7 (faketime @$utc UTC)"
  # The tests' own directory, as cargo runs them; the monotonic clock stays real for timers.
  # `--skip browser::`: the browser tests live in browser/<screen>.rs, and `public::` would
  # otherwise also pick browser::public (a Chromium run per moment, about 100 s each).
  (cd "$IOC_ROOT/tests" && TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "@$utc" "$binary" "${TIME_SENSITIVE[@]}" --skip browser::)
done
