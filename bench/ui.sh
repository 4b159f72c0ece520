#!/usr/bin/env bash
# Admin UI page times and the suppression check on a large database (issue #25): see
# BENCHMARKS.md, "Admin UI and the suppression check".
#
#   bash bench/ui.sh
#
# 1. Seeds a fresh data dir with crates/rebound/examples/seed_ui.rs (CONTACTS contacts,
#    EVENTS events, LOG_ROWS request-log rows), unless DATA names a seeded data dir to use
#    as it is (it is then changed: a UI user and an API key are added).
# 2. Starts `rebound serve` on it (release build, default workers), adds a UI user and logs
#    in with curl, then times N sequential requests per page over one keep-alive
#    connection (bench/ui_pages.py): the dashboard, /contacts?status=bounced page 1, the
#    page DEEP Next links further and the page from the middle of the table, random
#    contacts' pages, /log, and the API equivalents.
#    Target: p95 < 200 ms for each UI page.
# 3. The suppression check: wrk (THREADS threads, CONNS connections, DURATION after a
#    WARMUP) on GET /api/v1/suppressions/{random seeded address} with a `check` key
#    (bench/check.lua), and the same wrk load on /healthz as the floor. Target: p99 < 1 ms.
#
# With DB=postgres the seeded database is copied into PostgreSQL (PGURL, default
# postgres://postgres@127.0.0.1:5432/rebound_bench_ui, dropped and created) with
# `rebound store copy`, and the server runs on it.
#
# Knobs (environment): DB=sqlite|postgres CONTACTS=1000000 EVENTS=5*CONTACTS LOG_ROWS=300000 DATA= N=200
# DEEP=100 CAP=90 (seconds per page at most) THREADS=2 CONNS=50 DURATION=10s WARMUP=3s
# BASE_PORT=18091 PIN=none|split KEEP=0. CARGO_TARGET_DIR is honoured. Needs cargo, curl,
# wrk and python3; everything listens on and talks to 127.0.0.1 only.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

CONTACTS=${CONTACTS:-1000000}
EVENTS=${EVENTS:-$((CONTACTS * 5))}
LOG_ROWS=${LOG_ROWS:-300000}
THREADS=${THREADS:-2}
CONNS=${CONNS:-50}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
BASE_PORT=${BASE_PORT:-18091}
PIN=${PIN:-none}
export N=${N:-200} DEEP=${DEEP:-100} CAP=${CAP:-90}

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_prerequisites python3
bench_build
SEED="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/seed_ui"
bench_workdir
bench_machine

# ---------------------------------------------------------------- data
if [ -n "${DATA:-}" ]; then
  log "using the seeded data dir DATA"
else
  DATA="$WORK/data"
  log "seeding: $CONTACTS contacts, $EVENTS events, $LOG_ROWS request-log rows"
  "$SEED" "$DATA" "$CONTACTS" "$EVENTS" "$LOG_ROWS"
fi
echo "database: $(du -m "$DATA/rebound.db" | cut -f1) MiB"
if [ "${DB:-sqlite}" = postgres ]; then
  PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/rebound_bench_ui}
  PGDB=${PGURL##*/}
  PGADMIN=${PGURL%/*}/postgres
  psql -q "$PGADMIN" -c "DROP DATABASE IF EXISTS $PGDB" -c "CREATE DATABASE $PGDB"
  log "copying into PostgreSQL ($PGDB)"
  COPY_START=$(date +%s)
  "$BIN" store copy --from "sqlite://$DATA/rebound.db" --to "$PGURL" </dev/null
  echo "copied in $(( $(date +%s) - COPY_START )) s"
  psql -q "$PGURL" -c "ANALYZE"
  export REBOUND_DATABASE_URL=$PGURL
fi

PASSWORD="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$PASSWORD" | "$BIN" --data-dir "$DATA" user add --email bench@example.com --password-stdin >/dev/null 2>&1 ||
  { echo "could not add the UI user (does bench@example.com exist in DATA already?)" >&2; exit 1; }
CHECK_KEY=$("$BIN" --data-dir "$DATA" key add --name bench --scope check 2>/dev/null)
ADMIN_TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

PORT=$BASE_PORT
log "rebound serve: starting (default workers)"
REBOUND_ADMIN_TOKEN=$ADMIN_TOKEN start_server rebound "$PORT" "$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT"
BASE="http://127.0.0.1:$PORT"

# Log in: the answer to POST /login sets the session cookie.
COOKIE=$(curl -s -o /dev/null -D - --data-urlencode email=bench@example.com --data-urlencode "password=$PASSWORD" \
  "$BASE/login" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: rebound_session=\([^;]*\).*/\1/p')
[ -n "$COOKIE" ] || { echo "login failed: no rebound_session cookie" >&2; exit 1; }

# ---------------------------------------------------------------- pages
log "pages: $N sequential requests each over keep-alive (at most ${CAP} s a page), deep page = $DEEP Next links"
PAGES_STATUS=0
python3 bench/ui_pages.py "$BASE" "$COOKIE" "$ADMIN_TOKEN" "$CONTACTS" || PAGES_STATUS=$?

# ---------------------------------------------------------------- suppression check
check_wrk() { # name threads conns url [args] → <name>_LINE
  local name=$1 t=$2 c=$3 url=$4 out
  shift 4
  "${WRK_PIN[@]}" wrk -t"$t" -c"$c" -d"$WARMUP" -s bench/check.lua "$url" -- "$@" >/dev/null
  out=$("${WRK_PIN[@]}" wrk -t"$t" -c"$c" -d"$DURATION" --latency -s bench/check.lua "$url" -- "$@")
  printf '%s\n' "$out"
  printf -v "${name}_LINE" '%s' "$(printf '%s\n' "$out" | grep WRK_RESULT)"
}
log "suppression check: wrk -t$THREADS -c$CONNS -d$DURATION (after $WARMUP), random seeded addresses, check key"
check_wrk check "$THREADS" "$CONNS" "$BASE/api/v1/suppressions/x" "$CONTACTS" "$CHECK_KEY"
log "/healthz with the same load (the floor)"
check_wrk health "$THREADS" "$CONNS" "$BASE/healthz"
# With CONNS connections always busy, latency is at least CONNS / throughput (Little's law):
# one connection shows what a single caller waits.
log "suppression check, 1 connection: wrk -t1 -c1 -d$DURATION"
check_wrk check1 1 1 "$BASE/api/v1/suppressions/x" "$CONTACTS" "$CHECK_KEY"
log "/healthz, 1 connection"
check_wrk health1 1 1 "$BASE/healthz"

P99=$(field p99_ms "$check_LINE")
CHECK_TARGET=$(awk -v p="$P99" 'BEGIN { print (p < 1) ? "MET" : "MISSED" }')
log "suppression check summary"
printf '| %-38s | %8s | %7s | %7s | %7s | %7s | %7s |\n' "" "req/s" "p50 ms" "p90 ms" "p99 ms" "max ms" "non-200"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "----------------------------------------" "----------" "---------" "---------" "---------" "---------" "---------"
for n in health check health1 check1; do
  line_var="${n}_LINE"; line=${!line_var}
  case $n in
    health) label="GET /healthz (floor), $CONNS conns" ;;
    check) label="suppression check, $CONNS conns" ;;
    health1) label="GET /healthz (floor), 1 conn" ;;
    check1) label="suppression check, 1 conn" ;;
  esac
  printf '| %-38s | %8s | %7s | %7s | %7s | %7s | %7s |\n' "$label" "$(field ok_rps "$line")" \
    "$(field p50_ms "$line")" "$(field p90_ms "$line")" "$(field p99_ms "$line")" "$(field max_ms "$line")" \
    "$(($(field non2xx "$line") + $(field sock_errors "$line")))"
done
echo
P99_1=$(field p99_ms "$check1_LINE")
echo "target (suppression check p99 < 1 ms, $CONNS connections): $CHECK_TARGET (p99 $P99 ms)"
echo "one connection: p99 $P99_1 ms ($(awk -v p="$P99_1" 'BEGIN { print (p < 1) ? "under" : "over" }') 1 ms)"
echo "CHECK_RESULT rps=$(field ok_rps "$check_LINE") p50_ms=$(field p50_ms "$check_LINE") p99_ms=$P99 healthz_rps=$(field ok_rps "$health_LINE") healthz_p99_ms=$(field p99_ms "$health_LINE") c1_p99_ms=$P99_1 c1_healthz_p99_ms=$(field p99_ms "$health1_LINE") target=$CHECK_TARGET"
[ "$(field non2xx "$check_LINE")" = 0 ] && [ "$(field non2xx "$check1_LINE")" = 0 ] && [ "$PAGES_STATUS" = 0 ]
