#!/usr/bin/env bash
# Mailbox scan benchmark: see "Mailbox scan" in BENCHMARKS.md.
#
#   bash bench/mailbox.sh
#
# Starts a private Dovecot (needs dovecot-imapd and dovecot-pop3d, and root: Dovecot drops
# to its own users), fills one mailbox with MAILBOX_BENCH_MESSAGES (default 10000) corpus
# bounces (../shared/corpus/bounces/maildir/bsd, or REBOUND_SHARED_DIR), and times full
# scan passes (after=keep, fetch every message) over IMAPS and POP3S on 127.0.0.1.
# The work is crates/rebound-mailbox/tests/bench.rs, an ignored test run in release mode.
# The second part times the whole pass rebound makes (fetch, parse, durable inbox row per
# message) through the API: crates/rebound/tests/api/mailbox.rs, bench_full_scan_10k_messages.
# CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), Dovecot $(dovecot --version | cut -d' ' -f1)"
cargo test --release -q -p rebound-mailbox --test bench -- --ignored --nocapture --test-threads 1 2>&1 \
  | grep -Ev '^(running [0-9]+ tests?|test result:.*|\.|)$'
# The whole pass rebound makes (fetch + parse + durable store), through the API.
cargo test --release -q -p rebound --test api bench_full_scan -- --ignored --nocapture --test-threads 1 2>&1 \
  | grep -E '(imaps|pop3s) pass'
