#!/usr/bin/env bash
# Outbound webhooks: how soon a status change reaches a subscriber, and how fast a backlog
# drains. One run, SQLite, 127.0.0.1 only.
#
#   bash bench/outbound.sh
#
# 1. Latency under load: `rebound serve` (fresh data dir, default workers, one ToSend source,
#    one webhook subscription to a local receiver, REBOUND_OUTBOUND_ALLOW=127.0.0.0/8) gets
#    RATE ToSend hard bounces per second for RUN_SECONDS, each for a new address (so each is a
#    status change and one outbox row), from a fixed-rate driver (bench/outbound.py drive: 4
#    threads, keep-alive). The receiver (bench/outbound.py receive: Python
#    ThreadingHTTPServer) answers 204 at once and records each request's arrival time.
#    Latency = arrival at the receiver − the payload's `timestamp`, which is the outbox row's
#    `created_at`: the time taken inside the transaction of the change, just before its
#    commit (so the figure slightly overstates commit-to-delivery). The receiver answers at
#    once, so the first arrival is the first attempt. Target: p95 < 150 ms.
# 2. Drain: rebound stopped, every outbox row of part 1 put back to pending (due now) with
#    sqlite3, rebound started again; deliveries per second = rows / (last arrival − the
#    moment the restarted server answered /readyz).
# Each message must arrive once (per webhook-id) in part 1.
#
# Knobs (environment): RATE=500 RUN_SECONDS=30 BASE_PORT=18281 (and +1 for the receiver)
# KEEP=0 (keep the temporary directory). CARGO_TARGET_DIR is honoured.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

RATE=${RATE:-500}
SECONDS_RUN=${RUN_SECONDS:-30}
BASE_PORT=${BASE_PORT:-18281}
# Read by bench_machine (no wrk in this benchmark).
THREADS=- CONNS=- DURATION=- WARMUP=-

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_prerequisites python3 sqlite3

bench_build
bench_workdir
bench_machine
echo "driver:  bench/outbound.py drive, $RATE/s for ${SECONDS_RUN}s; receiver: bench/outbound.py receive (Python $(python3 -c 'import platform; print(platform.python_version())'))"

PORT=$BASE_PORT
RPORT=$((BASE_PORT + 1))
DATA="$WORK/data"
TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
RECEIVED="$WORK/received.txt"
RECEIVER_PID=""
bench_on_exit() { [ -n "$RECEIVER_PID" ] && kill "$RECEIVER_PID" 2>/dev/null; wait 2>/dev/null; }

port_free "$RPORT"
python3 bench/outbound.py receive "$RPORT" "$RECEIVED" &
RECEIVER_PID=$!
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$RPORT/count" && break; sleep 0.1; done
received() { curl -s "http://127.0.0.1:$RPORT/count"; }

serve() {
  start_server rebound "$PORT" env REBOUND_ADMIN_TOKEN="$TOKEN" REBOUND_OUTBOUND_ALLOW=127.0.0.0/8 \
    "$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT"
}
outbox() { sqlite3 "$DATA/rebound.db" "$1"; }

new_source --data-dir "$DATA"
serve
curl -sf -o /dev/null -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"url\":\"http://127.0.0.1:$RPORT/hook\",\"kind\":\"webhook\"}" \
  "http://127.0.0.1:$PORT/api/v1/subscriptions"

log "latency: $RATE status changes/s for ${SECONDS_RUN}s"
DRIVE=$(python3 bench/outbound.py drive "http://127.0.0.1:$PORT/webhooks/tosend/$KEY" "$RATE" "$SECONDS_RUN" run)
echo "$DRIVE"
# Every change applied and announced, then every message delivered.
for _ in $(seq 1 600); do
  pending=$(outbox "SELECT (SELECT COUNT(*) FROM inbox WHERE state = 'pending') + (SELECT COUNT(*) FROM outbox WHERE state = 'pending')")
  [ "$pending" = 0 ] && break
  sleep 0.5
done
ROWS=$(outbox "SELECT COUNT(*) FROM outbox")
DELIVERED=$(outbox "SELECT COUNT(*) FROM outbox WHERE state = 'delivered'")
echo "outbox rows: $ROWS, delivered: $DELIVERED; receiver: $(received)"
LAT=$(python3 bench/outbound.py latency "$RECEIVED")
echo "$LAT"
P95=$(field p95_ms "$LAT")
if [ "$P95" -lt 150 ]; then LAT_TARGET=met; else LAT_TARGET=missed; fi
if [ "$(field duplicates "$LAT")" = 0 ] && [ "$(field messages "$LAT")" = "$ROWS" ] && [ "$DELIVERED" = "$ROWS" ]; then
  CHECK=ok
else
  CHECK=MISMATCH
fi

log "drain: $ROWS outbox rows put back to pending, rebound restarted"
stop_servers
outbox "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = 0, locked_until = NULL, locked_by = NULL"
BEFORE=$(received | python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"])')
serve
SINCE=$(date +%s.%N)
for _ in $(seq 1 1200); do
  now=$(received | python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"])')
  [ $((now - BEFORE)) -ge "$ROWS" ] && break
  sleep 0.25
done
DRAIN=$(python3 bench/outbound.py rate "$RECEIVED" "$SINCE")
echo "$DRAIN"
stop_servers

echo "OUTBOUND_RESULT rate=$RATE seconds=$SECONDS_RUN sent_ok=$(field ok2xx "$DRIVE") achieved_rate=$(field rate "$DRIVE") messages=$(field messages "$LAT") p50_ms=$(field p50_ms "$LAT") p95_ms=$P95 p99_ms=$(field p99_ms "$LAT") max_ms=$(field max_ms "$LAT") duplicates=$(field duplicates "$LAT") check=$CHECK target_p95_150ms=$LAT_TARGET drain_rows=$ROWS drain_per_s=$(field per_s "$DRAIN") drain_seconds=$(field seconds "$DRAIN")"
