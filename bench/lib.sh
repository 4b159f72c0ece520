# Helpers shared by bench/run.sh, bench/postgres.sh and bench/ui.sh: sourced, not run.
#
# The sourcing script sets THREADS CONNS DURATION WARMUP PIN, then calls, in this order:
#   bench_prerequisites; bench_build; bench_workdir; bench_machine
# and afterwards starts servers (start_server, start_rebound), measures them (run_wrk,
# run_wrk_split), checks them (check_stored) and prints a table (print_http_summary).
# It may define bench_on_exit, called at exit after the servers are stopped.
# Everything listens on and talks to 127.0.0.1 only.

log() { printf '\n== %s\n' "$*"; }

# PIN=none|split → SERVER_PIN / WRK_PIN (command prefixes).
case "${PIN:-none}" in
  none) SERVER_PIN=(); WRK_PIN=() ;;
  split) SERVER_PIN=(taskset -c 0); WRK_PIN=(taskset -c 1) ;;
  *) echo "PIN must be none or split" >&2; exit 2 ;;
esac

# bench_prerequisites [tool...]: installs wrk (Debian package) if missing, then checks that
# curl, cargo, wrk and the tools named are there.
bench_prerequisites() {
  if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get install -y wrk >/dev/null 2>&1 ||
      { $sudo apt-get update >/dev/null && $sudo apt-get install -y wrk >/dev/null; }
  fi
  local tool
  for tool in curl cargo wrk "$@"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "missing: $tool" >&2; exit 1; }
  done
}

# bench_build → BIN BARE DRAIN (release build of the binary and the examples).
bench_build() {
  log "building (release)"
  cargo build --release -p rebound --examples --bins
  local target=${CARGO_TARGET_DIR:-$ROOT/target}
  BIN="$target/release/rebound"
  BARE="$target/release/examples/bare"
  DRAIN="$target/release/examples/drain"
}

# bench_workdir → WORK (a temporary directory, removed at exit unless KEEP=1), and the traps
# that stop every server started here.
SERVER_PIDS=()
bench_workdir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/rebound-bench.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${SERVER_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PIDS=()
}

bench_cleanup() {
  stop_servers
  if declare -F bench_on_exit >/dev/null; then bench_on_exit || true; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}

# bench_machine: what the figures were measured on (needs WORK: the fsync probe goes there).
bench_machine() {
  log "machine"
  local rev dsync_s
  if rev=$(git rev-parse --short HEAD 2>/dev/null); then
    git diff --quiet HEAD 2>/dev/null || rev="$rev (+ uncommitted changes)"
  else
    rev="${BENCH_COMMIT:-unknown (not a git checkout)}"
  fi
  echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpus:    $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "memory:  $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel:  $(uname -sr)"
  echo "disk:    $(df -PT "${TMPDIR:-/tmp}" | awk 'NR==2 {print $1, $2}') (data dirs under ${TMPDIR:-/tmp})"
  echo "commit:  $rev"
  echo "wrk:     $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2); -t$THREADS -c$CONNS -d$DURATION after a $WARMUP warm-up; PIN=${PIN:-none}"
  # Disk: how long one durable 4 KiB write takes where the databases go (each commit pays one).
  dsync_s=$(LC_ALL=C dd if=/dev/zero of="$WORK/dsync" bs=4k count=500 oflag=dsync 2>&1 |
    awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print $(i - 1) }')
  rm -f "$WORK/dsync"
  echo "fsync:   $(awk -v s="$dsync_s" 'BEGIN { printf "%.2f ms", s * 1000 / 500 }') per 4 KiB O_DSYNC write (dd, 500 writes)"
}

# port_free PORT: fails if something already answers there (another benchmark, say), so that
# its answers are never taken for ours.
port_free() {
  if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; then
    echo "127.0.0.1:$1 is already in use; set BASE_PORT to free ports" >&2
    exit 1
  fi
}

wait_listening() { # name port pid
  for _ in $(seq 1 100); do
    if ! kill -0 "$3" 2>/dev/null; then
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

# start_server NAME PORT COMMAND...: runs COMMAND (pinned as PIN says, log in WORK/NAME.log)
# and waits until it answers on PORT.
start_server() {
  local name=$1 port=$2
  shift 2
  port_free "$port"
  "${SERVER_PIN[@]}" "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  SERVER_PIDS+=("$pid")
  wait_listening "$name" "$port" "$pid"
}

field() { # name line
  printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# new_source DB_ARG... → KEY: a tosend source in the database the arguments name
# (`--data-dir DIR` or `--database-url URL`).
new_source() {
  local json
  json=$("$BIN" "$@" source add --provider tosend --name bench --json)
  KEY=$(printf '%s' "$json" | sed -n 's/.*"key" *: *"\([^"]*\)".*/\1/p')
  [ -n "$KEY" ] || { echo "could not read the source key from: $json" >&2; exit 1; }
}

# serve_rebound NAME PORT DB_ARG... [-- SERVE_ARG...]: `rebound serve` on that database.
serve_rebound() {
  local name=$1 port=$2 db=() serve=()
  shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do db+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  serve=("$@")
  REBOUND_ADMIN_TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    start_server "$name" "$port" "$BIN" "${db[@]}" serve --listen "127.0.0.1:$port" "${serve[@]}"
}

# start_rebound NAME PORT [SERVE_ARG...] → URL: `rebound serve` on a fresh data dir (SQLite)
# with one tosend source.
start_rebound() {
  local name=$1 port=$2 data="$WORK/$1-data"
  shift 2
  new_source --data-dir "$data"
  serve_rebound "$name" "$port" --data-dir "$data" -- "$@"
  URL="http://127.0.0.1:$port/webhooks/tosend/$KEY"
}

# set_acked NAME WARM_LINE MEASURED_LINE: <NAME>_LINE and <NAME>_ACKED (2xx of both runs).
set_acked() {
  printf -v "${1}_LINE" '%s' "$3"
  printf -v "${1}_ACKED" '%s' "$(($(field ok2xx "$2") + $(field ok2xx "$3")))"
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
  set_acked "$name" "$warm" "$(printf '%s\n' "$out" | grep WRK_RESULT)"
}

# merge_wrk FILE... → one WRK_RESULT line: counts and rates summed, latencies the worst.
merge_wrk() {
  cat "$@" | grep -h '^WRK_RESULT' | awk '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); k = kv[1]; v = kv[2] + 0
        if (k ~ /_ms$/ || k == "seconds") { if (!(k in m) || v > m[k]) m[k] = v } else m[k] += v } }
    END { printf "WRK_RESULT requests=%d ok2xx=%d non2xx=%d sock_errors=%d timeouts=%d seconds=%.2f rps=%.0f ok_rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
            m["requests"], m["ok2xx"], m["non2xx"], m["sock_errors"], m["timeouts"], m["seconds"],
            m["rps"], m["ok_rps"], m["p50_ms"], m["p90_ms"], m["p99_ms"], m["max_ms"] }'
}

# run_wrk_split NAME URL... → as run_wrk, with one wrk process per URL in parallel (a load
# balancer in front of several nodes), each with SPLIT_THREADS threads (default 1) and its
# share of CONNS connections; their threads are numbered on from one process to the next, so
# that together they send what one wrk process with as many threads would (different
# addresses at any moment, not the same ones to every node). <NAME>_LINE sums the 2xx/s and keeps the worst latency of each
# percentile; each process's own line is printed.
run_wrk_split() {
  local name=$1 n i conns pids=() phase dur lat tag
  shift
  n=$#
  for phase in warm measured; do
    if [ "$phase" = warm ]; then dur=$WARMUP; lat=(); log "$name: warm-up $WARMUP, $n wrk processes"
    else dur=$DURATION; lat=(--latency); log "$name: measured $DURATION, $n wrk processes"; fi
    pids=()
    for i in $(seq 1 "$n"); do
      # CONNS split as evenly as it goes: the first ones take the remainder.
      conns=$((CONNS / n + (i <= CONNS % n ? 1 : 0)))
      tag="${name}_n${i}"; [ "$phase" = warm ] && tag="${tag}_warm"
      "${WRK_PIN[@]}" wrk -t"${SPLIT_THREADS:-1}" -c"$conns" -d"$dur" "${lat[@]}" -s bench/tosend.lua \
        "${!i}" -- "$tag" $(((i - 1) * ${SPLIT_THREADS:-1})) >"$WORK/$name.$phase.$i.wrk" 2>&1 &
      pids+=("$!")
    done
    for i in "${pids[@]}"; do wait "$i"; done
    for i in $(seq 1 "$n"); do
      echo "node $i ($(grep -m1 -o '[0-9]* connections' "$WORK/$name.$phase.$i.wrk")): $(grep '^WRK_RESULT' "$WORK/$name.$phase.$i.wrk")"
    done
  done
  local warm measured
  warm=$(merge_wrk "$WORK/$name".warm.*.wrk)
  measured=$(merge_wrk "$WORK/$name".measured.*.wrk)
  echo "all:    $measured"
  set_acked "$name" "$warm" "$measured"
}

# check_stored NAME PORT → sets <NAME>_CHECK. Every 200 is a durable commit, so the inbox
# holds at least as many rows as wrk saw 2xx; it may hold up to CONNS more per wrk run
# (requests in flight when wrk stopped were stored, but wrk never read their answer).
# On PostgreSQL /readyz counts the whole database, whichever node answers.
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

# print_http_summary NAME...: one row per run (label <NAME>_LABEL), the ratio to bare_LINE.
print_http_summary() {
  local name line_var line label_var b_rps
  b_rps=$(field ok_rps "$bare_LINE")
  printf '| %-40s | %7s | %5s | %7s | %7s | %7s | %7s | %7s |\n' \
    "server" "2xx/s" "ratio" "p50 ms" "p90 ms" "p99 ms" "max ms" "non-2xx"
  printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------------------------" \
    "---------" "-------" "---------" "---------" "---------" "---------" "---------"
  for name in "$@"; do
    line_var="${name}_LINE"
    label_var="${name}_LABEL"
    line=${!line_var}
    printf '| %-40s | %7s | %5s | %7s | %7s | %7s | %7s | %7s |\n' "${!label_var:-$name}" \
      "$(field ok_rps "$line")" \
      "$(ratio "$(field ok_rps "$line")" "$b_rps")" \
      "$(field p50_ms "$line")" "$(field p90_ms "$line")" "$(field p99_ms "$line")" \
      "$(field max_ms "$line")" "$(($(field non2xx "$line") + $(field sock_errors "$line")))"
  done
}

ratio() { # a b → a / b, two decimals (0 when b is 0)
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
}
