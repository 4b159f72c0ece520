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
set -euo pipefail
. "$(dirname "$0")/corpus.sh"
REPEAT=${REPEAT:-20}
PAIRS=${PAIRS:-20}
[ -n "${BASE_BIN:-}" ] || { echo "error: set BASE_BIN to the build to compare with" >&2; exit 1; }
if [ -z "${NEW_BIN:-}" ]; then
  cargo build --release -q -p rebound
  NEW_BIN=$BIN
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
list_corpus "$TMP" "$REPEAT"
echo "files: $(wc -l < "$TMP/files.rep") per run; A = $BASE_BIN, B = $NEW_BIN"
python3 - "$BASE_BIN" "$NEW_BIN" "$PAIRS" "$TMP/files.rep" <<'PY'
import statistics, subprocess, sys, time
a, b, pairs, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def run(binary):
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
print(f"A: median {statistics.median(ta):.4f} s, best {min(ta):.4f} s")
print(f"B: median {statistics.median(tb):.4f} s, best {min(tb):.4f} s")
print(f"B/A per pair: median {statistics.median(ratio):.3f} (range {min(ratio):.3f}-{max(ratio):.3f}) over {pairs} pairs")
PY
