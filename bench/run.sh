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

case "$PIN" in
  none) SERVER_PIN=(); WRK_PIN=() ;;
  split) SERVER_PIN=(taskset -c 0); WRK_PIN=(taskset -c 1) ;;
  *) echo "PIN must be none or split" >&2; exit 2 ;;
esac

log() { printf '\n== %s\n' "$*"; }

# ---------------------------------------------------------------- prerequisites
if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y wrk >/dev/null 2>&1 ||
    { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y wrk >/dev/null; }
fi
for tool in curl cargo wrk; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing: $tool" >&2; exit 1; }
done

log "building (release)"
cargo build --release -p rebound --examples --bins
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN="$TARGET/release/rebound"
BARE="$TARGET/release/examples/bare"
DRAIN="$TARGET/release/examples/drain"

# ---------------------------------------------------------------- machine
log "machine"
if REV=$(git rev-parse --short HEAD 2>/dev/null); then
  git diff --quiet HEAD 2>/dev/null || REV="$REV (+ uncommitted changes)"
else
  REV="${BENCH_COMMIT:-unknown (not a git checkout)}"
fi
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpus:    $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "memory:  $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "kernel:  $(uname -sr)"
echo "disk:    $(df -PT "${TMPDIR:-/tmp}" | awk 'NR==2 {print $1, $2}') (data dirs under ${TMPDIR:-/tmp})"
echo "commit:  $REV"
echo "wrk:     $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2); -t$THREADS -c$CONNS -d$DURATION after a $WARMUP warm-up; PIN=$PIN"

# ---------------------------------------------------------------- helpers
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rebound-bench.XXXXXX")
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() {
  stop_server
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Disk: how long one durable 4 KiB write takes where the databases go (each commit pays one).
DSYNC_S=$(LC_ALL=C dd if=/dev/zero of="$WORK/dsync" bs=4k count=500 oflag=dsync 2>&1 |
  awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print $(i - 1) }')
rm -f "$WORK/dsync"
echo "fsync:   $(awk -v s="$DSYNC_S" 'BEGIN { printf "%.2f ms", s * 1000 / 500 }') per 4 KiB O_DSYNC write (dd, 500 writes)"

wait_listening() { # name port
  for _ in $(seq 1 100); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "$1 exited; its log:" >&2
      cat "$WORK/$1.log" >&2
      exit 1
    fi
    # Any HTTP answer means it listens (the bare server has no GET route).
    if curl -s -o /dev/null "http://127.0.0.1:$2/readyz"; then return 0; fi
    sleep 0.1
  done
  echo "$1 did not start listening on 127.0.0.1:$2" >&2
  exit 1
}

field() { # name line
  printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# start_rebound NAME PORT [serve args...] → URL (fresh data dir, one tosend source)
start_rebound() {
  local name=$1 port=$2 data="$WORK/$1-data" json key
  shift 2
  json=$("$BIN" --data-dir "$data" source add --provider tosend --name bench --json)
  key=$(printf '%s' "$json" | sed -n 's/.*"key" *: *"\([^"]*\)".*/\1/p')
  [ -n "$key" ] || { echo "could not read the source key from: $json" >&2; exit 1; }
  REBOUND_ADMIN_TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    "${SERVER_PIN[@]}" "$BIN" --data-dir "$data" serve --listen "127.0.0.1:$port" "$@" \
    >"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  wait_listening "$name" "$port"
  URL="http://127.0.0.1:$port/webhooks/tosend/$key"
}

# run_wrk NAME URL → sets <NAME>_LINE (measured run) and <NAME>_ACKED (2xx, both runs)
run_wrk() {
  local name=$1 url=$2 out warm
  log "$name: warm-up $WARMUP"
  out=$("${WRK_PIN[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s bench/tosend.lua "$url" -- "${name}_warm")
  warm=$(printf '%s\n' "$out" | grep WRK_RESULT)
  echo "$warm"
  log "$name: measured $DURATION"
  out=$("${WRK_PIN[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/tosend.lua "$url" -- "$name")
  printf '%s\n' "$out"
  printf -v "${name}_LINE" '%s' "$(printf '%s\n' "$out" | grep WRK_RESULT)"
  local line_var="${name}_LINE"
  printf -v "${name}_ACKED" '%s' "$(($(field ok2xx "$warm") + $(field ok2xx "${!line_var}")))"
}

# check_stored NAME PORT → sets <NAME>_CHECK. Every 200 is a durable commit, so the inbox
# holds at least as many rows as wrk saw 2xx; it may hold up to CONNS more per wrk run
# (requests in flight when wrk stopped were stored, but wrk never read their answer).
check_stored() {
  local name=$1 port=$2 ready p d f stored acked_var="${1}_ACKED" verdict
  sleep 1
  ready=$(curl -s "http://127.0.0.1:$port/readyz")
  p=$(printf '%s' "$ready" | sed -n 's/.*"pending" *: *\([0-9]*\).*/\1/p')
  d=$(printf '%s' "$ready" | sed -n 's/.*"done" *: *\([0-9]*\).*/\1/p')
  f=$(printf '%s' "$ready" | sed -n 's/.*"failed" *: *\([0-9]*\).*/\1/p')
  stored=$((p + d + f))
  if [ "$stored" -ge "${!acked_var}" ] && [ $((stored - ${!acked_var})) -le $((2 * CONNS)) ]; then
    verdict=ok
  else
    verdict=MISMATCH
  fi
  printf -v "${name}_CHECK" '%s' "$verdict"
  printf -v "${name}_STORED" '%s' "$stored (pending $p, done $d, failed $f)"
  echo "$name: acked $((${!acked_var})), in inbox $stored (pending $p, done $d, failed $f): $verdict"
}

# ---------------------------------------------------------------- HTTP
log "bare: starting"
"${SERVER_PIN[@]}" "$BARE" "127.0.0.1:$BASE_PORT" >"$WORK/bare.log" 2>&1 &
SERVER_PID=$!
wait_listening bare "$BASE_PORT"
run_wrk bare "http://127.0.0.1:$BASE_PORT/webhooks/tosend/bench"
stop_server

log "rebound: starting (default workers)"
start_rebound rebound $((BASE_PORT + 1))
run_wrk rebound "$URL"
check_stored rebound $((BASE_PORT + 1))
stop_server

NAMES="bare rebound"
if [ "$DIAG" = 1 ]; then
  log "rebound_w0: starting (diagnostic: --workers 0, nothing processed during the run)"
  start_rebound rebound_w0 $((BASE_PORT + 2)) --workers 0
  run_wrk rebound_w0 "$URL"
  check_stored rebound_w0 $((BASE_PORT + 2))
  stop_server
  NAMES="$NAMES rebound_w0"
fi

b_rps=$(field ok_rps "$bare_LINE")
r_rps=$(field ok_rps "$rebound_LINE")
RATIO=$(awk -v r="$r_rps" -v b="$b_rps" 'BEGIN { printf "%.2f", (b > 0 ? r / b : 0) }')
R_P99=$(field p99_ms "$rebound_LINE")
HTTP_TARGET=$(awk -v x="$RATIO" -v p="$R_P99" 'BEGIN { print (x >= 0.5 && p < 15) ? "MET" : "MISSED" }')

log "HTTP summary (wrk -t$THREADS -c$CONNS -d$DURATION, PIN=$PIN)"
printf '| %-36s | %7s | %5s | %7s | %7s | %7s | %7s | %7s |\n' \
  "server" "2xx/s" "ratio" "p50 ms" "p90 ms" "p99 ms" "max ms" "non-2xx"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' "--------------------------------------" \
  "---------" "-------" "---------" "---------" "---------" "---------" "---------"
for name in $NAMES; do
  line_var="${name}_LINE"
  line=${!line_var}
  case $name in
    bare) label="bare axum, 200 only (ceiling)" ;;
    rebound) label="rebound serve (durable ack)" ;;
    rebound_w0) label="rebound serve --workers 0 (diag.)" ;;
  esac
  printf '| %-36s | %7s | %5s | %7s | %7s | %7s | %7s | %7s |\n' "$label" \
    "$(field ok_rps "$line")" \
    "$(awk -v r="$(field ok_rps "$line")" -v b="$b_rps" 'BEGIN { printf "%.2f", (b > 0 ? r / b : 0) }')" \
    "$(field p50_ms "$line")" "$(field p90_ms "$line")" "$(field p99_ms "$line")" \
    "$(field max_ms "$line")" "$(($(field non2xx "$line") + $(field sock_errors "$line")))"
done
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
