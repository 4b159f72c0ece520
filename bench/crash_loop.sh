#!/usr/bin/env bash
# Crash loop, the long run (docs/architecture.md, "Crash-loop test"):
#
#   bash bench/crash_loop.sh                     # 200 cycles
#   CYCLES=20 SEED=42 bash bench/crash_loop.sh   # fewer; SEED repeats the stream and kill delays
#
# `rebound serve` from the release build is killed with SIGKILL CYCLES times at random
# moments and restarted on the same data directory, while a client posts distinct signed
# events to the webhook URLs the sources show and retries each until it is answered 2xx;
# then every acknowledged event must be stored exactly once and every contact's status,
# reason and soft-bounce count must equal a serial replay of the same events. The harness is
# the test crates/rebound/tests/api/crash_loop.rs (CI runs it with 6 cycles against the debug
# binary); this script builds the release binary and points the test at it. It prints the
# test's one-line summary and fails if an event was lost or duplicated or a contact differs.
# CARGO_TARGET_DIR is honoured.
set -euo pipefail

cd "$(dirname "$0")/.."

CYCLES=${CYCLES:-200}

cargo build --release -p rebound
target=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
export REBOUND_CRASH_BIN="$target/release/rebound" CRASH_CYCLES="$CYCLES"
if [ -n "${SEED:-}" ]; then
  export CRASH_SEED="$SEED"
fi
cargo test -p rebound --test api crash_loop -- --nocapture
