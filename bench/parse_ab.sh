#!/usr/bin/env bash
# Two builds of `rebound parse --jobs 1`, timed in interleaved pairs on the same files: the
# A/B check for a change too small to see in bench/parse.sh's rounds against Sisimai.
#
#   BASE_BIN=path/to/old/rebound bash bench/parse_ab.sh
#
# Files: every message of the shared bounce corpus, listed REPEAT times (20), as parse.sh.
# PAIRS pairs (20) of runs, each pair's order alternating (A then B, B then A); prints the
# median and best wall time of each build and the median of the per-pair ratios B/A (below
# 1: B, this checkout's build, is faster). NEW_BIN overrides this checkout's build.
#
# PARSER=1 compares two builds of the parser alone instead (the `parse_speed` example: the
# corpus in memory, parsed REPEAT times per run): BASE_BIN and NEW_BIN are then
# `parse_speed` binaries, and a run's time is the inverse of the parsing rate it reports
# (the medians and bests are then in microseconds a message).
set -euo pipefail
. "$(dirname "$0")/corpus.sh"
REPEAT=${REPEAT:-20}
PAIRS=${PAIRS:-20}
[ -n "${BASE_BIN:-}" ] || { echo "error: set BASE_BIN to the build to compare with" >&2; exit 1; }
PARSER=${PARSER:-0}
if [ -z "${NEW_BIN:-}" ]; then
  if [ "$PARSER" = 1 ]; then
    cargo build --release -q -p rebound-core --example parse_speed
    NEW_BIN=$RELEASE/examples/parse_speed
  else
    cargo build --release -q -p rebound
    NEW_BIN=$BIN
  fi
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
list_corpus "$TMP" "$REPEAT"
if [ "$PARSER" = 1 ]; then
  echo "messages: $(wc -l < "$TMP/files") parsed $REPEAT times per run, in memory; A = $BASE_BIN, B = $NEW_BIN"
else
  echo "files: $(wc -l < "$TMP/files.rep") per run; A = $BASE_BIN, B = $NEW_BIN"
fi
python3 - "$BASE_BIN" "$NEW_BIN" "$PAIRS" "$TMP/files.rep" "$PARSER" "$CORPUS" "$REPEAT" <<'PY'
import os, re, statistics, subprocess, sys, time
a, b, pairs, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
parser, corpus, repeat = sys.argv[5] == "1", sys.argv[6], sys.argv[7]
def run(binary):
    if parser:
        out = subprocess.run([binary, corpus], capture_output=True, text=True, check=True,
                             env={**os.environ, "ROUNDS": repeat}).stdout
        # The same messages each run: the time is the inverse of the rate it prints.
        return 1 / float(re.search(r"on one thread: ([0-9.]+) messages/s", out).group(1))
    t = time.perf_counter()
    subprocess.run([binary, "parse", "--jobs", "1", "--files-from", files],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t
ta, tb, ratio = [], [], []
for i in range(pairs):
    if i % 2 == 0:
        x = run(a); y = run(b)
    else:
        y = run(b); x = run(a)
    ta.append(x); tb.append(y); ratio.append(y / x)
scale, unit = (1e6, "us a message") if parser else (1, "s")
for name, t in (("A", ta), ("B", tb)):
    print(f"{name}: median {statistics.median(t) * scale:.4f} {unit}, best {min(t) * scale:.4f} {unit}")
print(f"B/A per pair: median {statistics.median(ratio):.3f} (range {min(ratio):.3f}-{max(ratio):.3f}) over {pairs} pairs")
PY
