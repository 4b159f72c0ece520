#!/usr/bin/env bash
# rebound benchmark, one run: see BENCHMARKS.md.
#
#   bash bench/run.sh
#
# 1. HTTP: wrk (THREADS threads, CONNS connections, DURATION after a WARMUP) with
#    bench/tosend.lua, one server at a time, against
#      - bare:    crates/rebound/examples/bare.rs, axum + tokio answering 200 after reading
#                 the body: the ceiling of the framework on this machine;
#      - rebound: `rebound serve` (fresh data dir, default workers): every 200 only after the
#                 durable SQLite commit. This is the measurement the targets apply to;
#      - rebound --workers 0 (diagnostic, DIAG=0 skips it): the same with processing paused,
#                 to show how much of the gap is the workers sharing the writer thread;
#    then the ratio, and a check that every acknowledged request is in rebound's inbox.
# 2. Drain: crates/rebound/examples/drain.rs, DRAIN_ROWS inbox rows applied to contacts.
#
# Knobs (environment): THREADS=2 CONNS=100 DURATION=10s WARMUP=3s BASE_PORT=18081
# DRAIN_ROWS=1000000 DRAIN_ADDRESSES=200000 DRAIN_TASKS=2 (e.g. "2,1" for both) DIAG=1
# SKIP_DRAIN=0 KEEP=0 (keep the temporary directory) PIN=none|split (split: servers on
# CPU 0 and wrk on CPU 1, the same for every server). CARGO_TARGET_DIR is honoured.
# Everything listens on and talks to 127.0.0.1 only.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

THREADS=${THREADS:-2}
CONNS=${CONNS:-100}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
BASE_PORT=${BASE_PORT:-18081}
DRAIN_ROWS=${DRAIN_ROWS:-1000000}
DRAIN_ADDRESSES=${DRAIN_ADDRESSES:-200000}
DRAIN_TASKS=${DRAIN_TASKS:-2}
DIAG=${DIAG:-1}
PIN=${PIN:-none}
SKIP_DRAIN=${SKIP_DRAIN:-0}

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_prerequisites
bench_build
bench_workdir
bench_machine

# ---------------------------------------------------------------- HTTP
log "bare: starting"
start_server bare "$BASE_PORT" "$BARE" "127.0.0.1:$BASE_PORT"
run_wrk bare "http://127.0.0.1:$BASE_PORT/webhooks/tosend/bench"
stop_servers

log "rebound: starting (default workers)"
start_rebound rebound $((BASE_PORT + 1))
run_wrk rebound "$URL"
check_stored rebound $((BASE_PORT + 1))
stop_servers

NAMES="bare rebound"
if [ "$DIAG" = 1 ]; then
  log "rebound_w0: starting (diagnostic: --workers 0, nothing processed during the run)"
  start_rebound rebound_w0 $((BASE_PORT + 2)) --workers 0
  run_wrk rebound_w0 "$URL"
  check_stored rebound_w0 $((BASE_PORT + 2))
  stop_servers
  NAMES="$NAMES rebound_w0"
fi

b_rps=$(field ok_rps "$bare_LINE")
r_rps=$(field ok_rps "$rebound_LINE")
RATIO=$(ratio "$r_rps" "$b_rps")
R_P99=$(field p99_ms "$rebound_LINE")
HTTP_TARGET=$(awk -v x="$RATIO" -v p="$R_P99" 'BEGIN { print (x >= 0.5 && p < 15) ? "MET" : "MISSED" }')

log "HTTP summary (wrk -t$THREADS -c$CONNS -d$DURATION, PIN=$PIN)"
bare_LABEL="bare axum, 200 only (ceiling)"
rebound_LABEL="rebound serve (durable ack)"
rebound_w0_LABEL="rebound serve --workers 0 (diag.)"
# shellcheck disable=SC2086
print_http_summary $NAMES
echo
echo "target (rebound serve >= 0.50 x bare at $CONNS connections, p99 < 15 ms): $HTTP_TARGET (ratio $RATIO, p99 $R_P99 ms)"
echo "HTTP_RESULT bare_rps=$b_rps rebound_rps=$r_rps ratio=$RATIO rebound_p99_ms=$R_P99 acked=$rebound_ACKED check=$rebound_CHECK target=$HTTP_TARGET"
CHECKS_OK=1
for name in $NAMES; do
  [ "$name" = bare ] && continue
  acked_var="${name}_ACKED"; stored_var="${name}_STORED"; check_var="${name}_CHECK"
  echo "durability check $name: acked ${!acked_var}, stored ${!stored_var}: ${!check_var}"
  [ "${!check_var}" = ok ] || CHECKS_OK=0
done

# ---------------------------------------------------------------- drain
DRAIN_STATUS=0
if [ "$SKIP_DRAIN" != 1 ]; then
  log "drain: $DRAIN_ROWS inbox rows over $DRAIN_ADDRESSES addresses, tasks $DRAIN_TASKS"
  DRAIN_OUT=$(TMPDIR="$WORK" "$DRAIN" "$DRAIN_ROWS" "$DRAIN_ADDRESSES" "$DRAIN_TASKS") || DRAIN_STATUS=$?
  printf '%s\n' "$DRAIN_OUT"
  log "drain summary"
  printf '%s\n' "$DRAIN_OUT" | grep '^DRAIN' | while read -r line; do
    eps=$(field events_per_s "$line")
    echo "tasks=$(field tasks "$line"): $eps events/s ($(field rows_per_s "$line") rows/s), $(field rows "$line") rows in $(field seconds "$line") s, $(field commits "$line") commits; check $(field check "$line"); target >= 25000 events/s: $(awk -v e="$eps" 'BEGIN { print (e >= 25000) ? "MET" : "MISSED" }')"
  done
fi

[ "$CHECKS_OK" = 1 ] && [ "$DRAIN_STATUS" = 0 ]
