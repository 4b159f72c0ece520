#!/usr/bin/env bash
# rebound on PostgreSQL and on several nodes, beside SQLite and the bare ceiling: one run.
#
#   bash bench/postgres.sh
#
# 1. HTTP: wrk (THREADS threads, CONNS connections, DURATION after a WARMUP) with
#    bench/tosend.lua, one configuration at a time, each beside the others:
#      - bare:    crates/rebound/examples/bare.rs, 200 after reading the body (the ceiling);
#      - sqlite:  `rebound serve`, 1 node, fresh data dir, default workers;
#      - pg1:     `rebound serve --database-url …`, 1 node, fresh database, default workers;
#      - pgN:     NODES `rebound serve` processes (own --listen port each, default workers
#                 each) on one fresh database. A load balancer is approximated by NODES wrk
#                 processes in parallel, one per node, each with SPLIT_THREADS threads and
#                 CONNS/NODES connections; the row sums their 2xx/s and takes the worst of
#                 each latency percentile;
#      - pg1_w0:  pg1 with --workers 0 (diagnostic, last; DIAG=0 skips it): storing only,
#                 the ingest ceiling on PostgreSQL without the workers sharing the writer.
#    After each rebound run: every acknowledged request is in the inbox (acked ≤ stored,
#    via /readyz, which counts the whole database on PostgreSQL; psql counts it again), and
#    on PostgreSQL the deadlocks the server detected and the worker batches that failed and
#    were applied row by row (diagnostics: each deadlock stalls for deadlock_timeout, 1 s).
#    Targets: pg1 ≥ 13,000 2xx/s (half the ~26,000 inserts/s of the group-commit prototype);
#    pgN ≥ 0.9 × pg1 (no collapse when the nodes share the 2 cores with PostgreSQL and wrk).
# 2. Drain (crates/rebound/examples/drain.rs): DRAIN_ROWS inbox rows applied to contacts
#    by DRAIN_TASKS worker tasks per node, on SQLite, on PostgreSQL with 1 node, and with
#    NODES nodes (separate store instances, each its own writer and node id) on one
#    database; each checks that nothing is pending or failed, one event per row, and that
#    no row was claimed twice. After the 1-node PostgreSQL drain: each table's rows, table,
#    index and total sizes; a retention pass (every processed request-log row) and VACUUM;
#    the sizes again; VACUUM FULL and the sizes once more.
#
# Knobs (environment): THREADS=2 CONNS=100 DURATION=10s WARMUP=3s BASE_PORT=18181 (BASE_PORT
# to BASE_PORT+2+NODES used) NODES=3 SPLIT_THREADS=1 PIN=none|split
# PG_URL=postgres://postgres@127.0.0.1:5432 (the server, no database name; databases
# DB_PREFIX_http1, _http3, _drain are created fresh and dropped at exit; DB_PREFIX must start
# with rebound_bench, default rebound_bench) DRAIN_ROWS=1000000 DRAIN_ADDRESSES=200000
# DRAIN_TASKS=2 SKIP_HTTP=0 SKIP_DRAIN=0 SKIP_SQLITE=0 (skips the SQLite runs) DIAG=1 KEEP=0
# (keep the temporary directory). CARGO_TARGET_DIR is honoured. 127.0.0.1 only.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

THREADS=${THREADS:-2}
CONNS=${CONNS:-100}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
BASE_PORT=${BASE_PORT:-18181}
NODES=${NODES:-3}
PIN=${PIN:-none}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_URL=${PG_URL%/}
DB_PREFIX=${DB_PREFIX:-rebound_bench}
DRAIN_ROWS=${DRAIN_ROWS:-1000000}
DRAIN_ADDRESSES=${DRAIN_ADDRESSES:-200000}
DRAIN_TASKS=${DRAIN_TASKS:-2}
SKIP_HTTP=${SKIP_HTTP:-0}
SKIP_DRAIN=${SKIP_DRAIN:-0}
SKIP_SQLITE=${SKIP_SQLITE:-0}
DIAG=${DIAG:-1}

case "$DB_PREFIX" in
  rebound_bench*) ;;
  *) echo "DB_PREFIX must start with rebound_bench (its databases are dropped)" >&2; exit 2 ;;
esac
[ "$NODES" -ge 2 ] || { echo "NODES must be at least 2" >&2; exit 2; }

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_prerequisites psql pg_isready

# ---------------------------------------------------------------- PostgreSQL
psql_admin() { PGOPTIONS="-c client_min_messages=warning" psql "$PG_URL/postgres" -v ON_ERROR_STOP=1 -qAtX "$@"; }
psql_db() { local db=$1; shift; psql "$PG_URL/$db" -v ON_ERROR_STOP=1 -qAtX "$@"; }

if ! pg_isready -q -d "$PG_URL/postgres"; then
  case "$PG_URL" in
    *@127.0.0.1:5432 | *@127.0.0.1 | *@localhost*)
      log "starting the local PostgreSQL cluster"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start ;;
  esac
  for _ in $(seq 1 50); do pg_isready -q -d "$PG_URL/postgres" && break; sleep 0.2; done
  pg_isready -d "$PG_URL/postgres" || { echo "PostgreSQL does not answer at $PG_URL" >&2; exit 1; }
fi

DB_HTTP1="${DB_PREFIX}_http1"
DB_HTTPN="${DB_PREFIX}_http${NODES}"
DB_DRAIN="${DB_PREFIX}_drain"
drop_db() { psql_admin -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)"; }
fresh_db() { drop_db "$1"; psql_admin -c "CREATE DATABASE \"$1\""; }
bench_on_exit() {
  local db
  for db in "$DB_HTTP1" "$DB_HTTPN" "$DB_DRAIN"; do drop_db "$db" 2>/dev/null || true; done
}

bench_build
bench_workdir
bench_machine
echo "postgres: $(psql_admin -c 'SHOW server_version') at ${PG_URL#*@}; $(psql_admin -F ' ' -c \
  "SELECT string_agg(name || '=' || setting || COALESCE(unit, ''), ' ' ORDER BY name) FROM pg_settings
   WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers',
                  'max_connections', 'commit_delay', 'full_page_writes', 'autovacuum', 'deadlock_timeout',
                  'data_directory')")"

# ---------------------------------------------------------------- HTTP
NAMES=""
CHECKS_OK=1
# pg_stored NAME DB: the inbox rows psql counts, beside /readyz's, and the inbox rows with
# more than one event (a row applied twice; there must be none).
pg_stored() {
  local n twice acked_var="${1}_ACKED"
  n=$(psql_db "$2" -c "SELECT COUNT(*) FROM inbox WHERE state IN ('pending', 'done', 'failed')")
  twice=$(psql_db "$2" -c "SELECT COUNT(*) FROM (SELECT inbox_id FROM events GROUP BY inbox_id HAVING COUNT(*) > 1) AS t")
  echo "$1: psql counts $n inbox rows; $twice with more than one event"
  [ "$n" -ge "${!acked_var}" ] || { echo "$1: fewer rows than acknowledged" >&2; CHECKS_OK=0; }
  [ "$twice" = 0 ] || { echo "$1: inbox rows applied twice" >&2; CHECKS_OK=0; }
}

# pg_diag NAME DB (after the nodes stopped, so their statistics are reported): deadlocks
# PostgreSQL detected in DB (each stalls its transactions for deadlock_timeout, 1 s by
# default) and worker batches that failed and were applied row by row (the nodes' logs).
pg_diag() {
  local dl rbr stale
  sleep 0.5
  dl=$(psql_admin -c "SELECT deadlocks FROM pg_stat_database WHERE datname = '$2'")
  rbr=$(cat "$WORK/$1"*.log | grep -c 'applying row by row' || true)
  # A row claimed again after its lease expired, and finished by the other claimer first.
  stale=$(cat "$WORK/$1"*.log | grep -c 'finished by another worker' || true)
  printf -v "${1}_DEADLOCKS" '%s' "$dl"
  echo "$1: $dl deadlocks (pg_stat_database), $rbr worker batches applied row by row after a failure, $stale stale-row warnings (node logs)"
}

if [ "$SKIP_HTTP" != 1 ]; then
  log "bare: starting"
  start_server bare "$BASE_PORT" "$BARE" "127.0.0.1:$BASE_PORT"
  run_wrk bare "http://127.0.0.1:$BASE_PORT/webhooks/tosend/bench"
  stop_servers
  NAMES="bare"

  if [ "$SKIP_SQLITE" != 1 ]; then
    log "sqlite: starting rebound serve, 1 node, default workers"
    start_rebound sqlite $((BASE_PORT + 1))
    run_wrk sqlite "$URL"
    check_stored sqlite $((BASE_PORT + 1))
    stop_servers
    NAMES="$NAMES sqlite"
  fi

  log "pg1: starting rebound serve on PostgreSQL ($DB_HTTP1, fresh), 1 node, default workers"
  fresh_db "$DB_HTTP1"
  new_source --database-url "$PG_URL/$DB_HTTP1"
  serve_rebound pg1 $((BASE_PORT + 2)) --database-url "$PG_URL/$DB_HTTP1"
  run_wrk pg1 "http://127.0.0.1:$((BASE_PORT + 2))/webhooks/tosend/$KEY"
  check_stored pg1 $((BASE_PORT + 2))
  pg_stored pg1 "$DB_HTTP1"
  stop_servers
  pg_diag pg1 "$DB_HTTP1"
  drop_db "$DB_HTTP1"
  NAMES="$NAMES pg1"

  PGN="pg$NODES"
  log "$PGN: starting $NODES rebound serve nodes on PostgreSQL ($DB_HTTPN, fresh), default workers each"
  fresh_db "$DB_HTTPN"
  new_source --database-url "$PG_URL/$DB_HTTPN"
  URLS=()
  for i in $(seq 1 "$NODES"); do
    port=$((BASE_PORT + 2 + i))
    serve_rebound "${PGN}_node$i" "$port" --database-url "$PG_URL/$DB_HTTPN"
    URLS+=("http://127.0.0.1:$port/webhooks/tosend/$KEY")
  done
  run_wrk_split "$PGN" "${URLS[@]}"
  check_stored "$PGN" $((BASE_PORT + 3))
  pg_stored "$PGN" "$DB_HTTPN"
  stop_servers
  pg_diag "$PGN" "$DB_HTTPN"
  drop_db "$DB_HTTPN"
  NAMES="$NAMES $PGN"

  if [ "$DIAG" = 1 ]; then
    log "pg1_w0: rebound serve on PostgreSQL ($DB_HTTP1, fresh), 1 node, --workers 0 (diagnostic: storing only)"
    fresh_db "$DB_HTTP1"
    new_source --database-url "$PG_URL/$DB_HTTP1"
    serve_rebound pg1_w0 $((BASE_PORT + 2)) --database-url "$PG_URL/$DB_HTTP1" -- --workers 0
    run_wrk pg1_w0 "http://127.0.0.1:$((BASE_PORT + 2))/webhooks/tosend/$KEY"
    check_stored pg1_w0 $((BASE_PORT + 2))
    pg_stored pg1_w0 "$DB_HTTP1"
    stop_servers
    drop_db "$DB_HTTP1"
    NAMES="$NAMES pg1_w0"
  fi

  log "HTTP summary (wrk -t$THREADS -c$CONNS -d$DURATION; $PGN: $NODES wrk -t${SPLIT_THREADS:-1} in parallel; PIN=$PIN)"
  bare_LABEL="bare axum, 200 only (ceiling)"
  sqlite_LABEL="rebound, SQLite, 1 node"
  pg1_LABEL="rebound, PostgreSQL, 1 node"
  pg1_w0_LABEL="PostgreSQL, 1 node, --workers 0 (diag.)"
  printf -v "${PGN}_LABEL" '%s' "rebound, PostgreSQL, $NODES nodes (worst p.)"
  # shellcheck disable=SC2086
  print_http_summary $NAMES
  echo
  for name in $NAMES; do
    [ "$name" = bare ] && continue
    acked_var="${name}_ACKED"; stored_var="${name}_STORED"; check_var="${name}_CHECK"
    echo "durability check $name: acked ${!acked_var}, stored ${!stored_var}: ${!check_var}"
    [ "${!check_var}" = ok ] || CHECKS_OK=0
  done
  b_rps=$(field ok_rps "$bare_LINE")
  p1_rps=$(field ok_rps "$pg1_LINE")
  pn_line_var="${PGN}_LINE"
  pn_rps=$(field ok_rps "${!pn_line_var}")
  s_rps=$([ "$SKIP_SQLITE" != 1 ] && field ok_rps "$sqlite_LINE" || echo 0)
  PN_RATIO=$(ratio "$pn_rps" "$p1_rps")
  T1=$(awk -v r="$p1_rps" 'BEGIN { print (r >= 13000) ? "MET" : "MISSED" }')
  TN=$(awk -v x="$PN_RATIO" 'BEGIN { print (x >= 0.9) ? "MET" : "MISSED" }')
  vs_sqlite=$([ "$s_rps" != 0 ] && echo ", $(ratio "$p1_rps" "$s_rps") of SQLite" || true)
  echo "target PostgreSQL 1 node >= 13000 2xx/s: $T1 ($p1_rps/s, $(ratio "$p1_rps" "$b_rps") of bare$vs_sqlite)"
  echo "target PostgreSQL $NODES nodes >= 0.9 x 1 node: $TN ($pn_rps/s, $PN_RATIO x 1 node)"
  pn_dl_var="${PGN}_DEADLOCKS"
  echo "deadlocks: pg1 $pg1_DEADLOCKS, $PGN ${!pn_dl_var}"
  echo "PG_HTTP_RESULT bare_rps=$b_rps sqlite_rps=$s_rps pg1_rps=$p1_rps pg1_p99_ms=$(field p99_ms "$pg1_LINE") ${PGN}_rps=$pn_rps ${PGN}_p99_ms=$(field p99_ms "${!pn_line_var}") ${PGN}_ratio=$PN_RATIO target_pg1=$T1 target_${PGN}=$TN pg1_deadlocks=$pg1_DEADLOCKS ${PGN}_deadlocks=${!pn_dl_var}"
fi

# ---------------------------------------------------------------- drain
DRAIN_STATUS=0
if [ "$SKIP_DRAIN" != 1 ]; then
  DRAIN_ALL=""
  # drain_run LABEL [ENV=VALUE...]: the drain example, its output kept for the summary.
  drain_run() {
    local label=$1 out status=0
    shift
    log "drain, $label: $DRAIN_ROWS inbox rows over $DRAIN_ADDRESSES addresses, $DRAIN_TASKS tasks per node"
    out=$(env TMPDIR="$WORK" "$@" "$DRAIN" "$DRAIN_ROWS" "$DRAIN_ADDRESSES" "$DRAIN_TASKS") || status=$?
    printf '%s\n' "$out"
    [ "$status" = 0 ] || { echo "drain, $label: exit status $status" >&2; DRAIN_STATUS=$status; }
    DRAIN_ALL="$DRAIN_ALL"$'\n'"$out"
  }
  if [ "$SKIP_SQLITE" != 1 ]; then drain_run "SQLite, 1 node"; fi
  drain_run "PostgreSQL, 1 node (then sizes, retention, VACUUM)" \
    DRAIN_DATABASE_URL="$PG_URL/$DB_DRAIN" DRAIN_NODES=1 DRAIN_SIZES=1
  drain_run "PostgreSQL, $NODES nodes" \
    DRAIN_DATABASE_URL="$PG_URL/$DB_DRAIN" DRAIN_NODES="$NODES" DRAIN_SIZES=0

  log "drain summary ($DRAIN_ROWS rows, $DRAIN_TASKS tasks per node)"
  printf '| %-30s | %10s | %8s | %8s | %14s | %7s | %9s | %6s |\n' \
    "backend" "events/s" "seconds" "commits" "claimed twice" "stale" "deadlocks" "check"
  printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' "--------------------------------" "------------" \
    "----------" "----------" "----------------" "---------" "-----------" "--------"
  P1_EPS=0; PN_EPS=0
  while read -r line; do
    backend=$(field backend "$line"); nodes=$(field nodes "$line"); eps=$(field events_per_s "$line")
    [ "$backend" = postgres ] && [ "$nodes" = 1 ] && P1_EPS=$eps
    [ "$backend" = postgres ] && [ "$nodes" = "$NODES" ] && PN_EPS=$eps
    printf '| %-30s | %10s | %8s | %8s | %14s | %7s | %9s | %6s |\n' \
      "$backend, $nodes node(s) x $(field tasks "$line") tasks" "$eps" "$(field seconds "$line")" \
      "$(field commits "$line")" "$(field claimed_twice "$line")" "$(field stale "$line")" \
      "$(field deadlocks "$line")" "$(field check "$line")"
  done < <(printf '%s\n' "$DRAIN_ALL" | grep '^DRAIN ')
  echo
  DN_RATIO=$(ratio "$PN_EPS" "$P1_EPS")
  echo "drain PostgreSQL $NODES nodes / 1 node: $DN_RATIO (>= 0.9: $(awk -v x="$DN_RATIO" 'BEGIN { print (x >= 0.9) ? "MET" : "MISSED" }'))"
  echo "PG_DRAIN_RESULT pg1_events_per_s=$P1_EPS pg${NODES}_events_per_s=$PN_EPS ratio=$DN_RATIO"
fi

[ "$CHECKS_OK" = 1 ] && [ "$DRAIN_STATUS" = 0 ]
