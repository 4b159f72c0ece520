#!/usr/bin/env bash
# RFC 8058 one-click unsubscribe (issue #26): how fast POST /unsubscribe/{token} answers,
# each answer a durable inbox write (group commit), against GET /healthz under the same
# load. See BENCHMARKS.md, "One-click unsubscribe".
#
#   bash bench/unsubscribe.sh
#
# Mints TOKENS links with `rebound unsubscribe-link` (distinct addresses), starts `rebound
# serve` (release, default workers) on a fresh SQLite data dir, then runs wrk (THREADS
# threads, CONNS connections, DURATION after a WARMUP) POSTing `List-Unsubscribe=One-Click`
# to the links in turn (bench/unsubscribe.lua), then the same load on /healthz. Target:
# p99 < 50 ms. Afterwards it checks that the links' contacts ended unsubscribed.
#
# Knobs: TOKENS=2000 THREADS=2 CONNS=10 DURATION=10s WARMUP=2s BASE_PORT=18291 PIN=none|split
# KEEP=0. CARGO_TARGET_DIR is honoured. Needs cargo, curl, wrk; 127.0.0.1 only.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOKENS=${TOKENS:-2000}
THREADS=${THREADS:-2}
CONNS=${CONNS:-10}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
BASE_PORT=${BASE_PORT:-18291}
PIN=${PIN:-none}

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_prerequisites
bench_build
bench_workdir
bench_machine

DATA="$WORK/data"
PORT=$BASE_PORT
BASE="http://127.0.0.1:$PORT"
log "minting $TOKENS links"
: >"$WORK/paths.txt"
for i in $(seq 1 "$TOKENS"); do
  "$BIN" --data-dir "$DATA" unsubscribe-link --email "reader$i@example.com" --list news \
    --public-url "$BASE" --json </dev/null |
    sed -n 's|.*"url" *: *"[^"]*\(/unsubscribe/[^"]*\)".*|\1|p' >>"$WORK/paths.txt"
done
[ "$(wc -l <"$WORK/paths.txt")" -eq "$TOKENS" ] || { echo "could not mint the links" >&2; exit 1; }

log "rebound serve"
serve_rebound rebound "$PORT" --data-dir "$DATA"

run() { # name url
  "${WRK_PIN[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s bench/unsubscribe.lua "$2" -- "$WORK/paths.txt" >/dev/null
  local out
  out=$("${WRK_PIN[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/unsubscribe.lua "$2" -- "$WORK/paths.txt")
  printf '%s\n' "$out"
  printf -v "${1}_LINE" '%s' "$(printf '%s\n' "$out" | grep WRK_RESULT)"
}
log "POST /unsubscribe/{token}: wrk -t$THREADS -c$CONNS -d$DURATION (after $WARMUP)"
run unsub "$BASE/unsubscribe/x"
log "GET /healthz, the same load (the floor)"
run health "$BASE/healthz"

# Every link's contact ends unsubscribed once the workers are through (each POST is an
# inbox row; the repeats of a link change nothing).
for _ in $(seq 1 600); do
  pending=$(curl -s "$BASE/readyz" | sed -n 's/.*"pending" *: *\([0-9]*\).*/\1/p')
  [ "${pending:-0}" = 0 ] && break
  sleep 0.2
done
echo "inbox rows still pending: ${pending:-?}"
"$BIN" --data-dir "$DATA" export --status unsubscribed >"$WORK/unsubscribed.csv" 2>/dev/null
unsubscribed=0
for i in 1 $((TOKENS / 2)) "$TOKENS"; do
  grep -q "^reader$i@example.com," "$WORK/unsubscribed.csv" && unsubscribed=$((unsubscribed + 1))
done

log "summary"
printf '| %-28s | %8s | %7s | %7s | %7s | %7s | %7s |\n' "" "req/s" "p50 ms" "p90 ms" "p99 ms" "max ms" "non-2xx"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------------" "----------" "---------" "---------" "---------" "---------" "---------"
for n in health unsub; do
  line_var="${n}_LINE"; line=${!line_var}
  case $n in health) label="GET /healthz (floor)" ;; unsub) label="POST /unsubscribe/{token}" ;; esac
  printf '| %-28s | %8s | %7s | %7s | %7s | %7s | %7s |\n' "$label" "$(field ok_rps "$line")" \
    "$(field p50_ms "$line")" "$(field p90_ms "$line")" "$(field p99_ms "$line")" "$(field max_ms "$line")" \
    "$(($(field non2xx "$line") + $(field sock_errors "$line")))"
done
P99=$(field p99_ms "$unsub_LINE")
TARGET=$(awk -v p="$P99" 'BEGIN { print (p < 50) ? "MET" : "MISSED" }')
echo
echo "target (p99 < 50 ms): $TARGET (p99 $P99 ms); sampled links unsubscribed: $unsubscribed/3"
echo "UNSUB_RESULT rps=$(field ok_rps "$unsub_LINE") p50_ms=$(field p50_ms "$unsub_LINE") p99_ms=$P99 healthz_p99_ms=$(field p99_ms "$health_LINE") unsubscribed=$unsubscribed/3 target=$TARGET"
[ "$(field non2xx "$unsub_LINE")" = 0 ] && [ "$unsubscribed" = 3 ]
