#!/usr/bin/env bash
# Bounce parser from a cold page cache: `rebound parse` against reading alone, the files
# read from the disk, not from memory. See BENCHMARKS.md (Bounce parser).
#
#   bash bench/parse_cold.sh        (as root: it writes /proc/sys/vm/drop_caches)
#
# COPIES (default 20) copies of the shared corpus's maildir are made in a temporary
# directory under /var/tmp (disk-backed, unlike a tmpfs /tmp), so that 16,160 distinct files
# stand on disk; they are deleted at the end. Each round drops the page cache before each
# timed command:
# 1. `bench/read_floor.c`: open, read and close of every file, one process (reading alone);
# 2. `rebound parse --jobs N` (every core) and `--jobs 1`.
# The commands take turns, RUNS rounds (default 5); the best rate of each is printed.
# BASE_BIN=path/to/rebound times an earlier build's `--jobs 1` too, in the same rounds.
set -euo pipefail
. "$(dirname "$0")/corpus.sh"
COPIES=${COPIES:-20}
RUNS=${RUNS:-5}
[ -w /proc/sys/vm/drop_caches ] || { echo "error: needs root (writes /proc/sys/vm/drop_caches)" >&2; exit 1; }
command -v cc > /dev/null || { echo "error: needs a C compiler (cc) for bench/read_floor.c" >&2; exit 1; }

cargo build --release -q -p rebound
TMP=$(mktemp -d /var/tmp/rebound-cold.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cc -O2 -o "$TMP/read_floor" bench/read_floor.c
for i in $(seq "$COPIES"); do cp -r "$CORPUS" "$TMP/copy$i"; done
find "$TMP" -type f -name '*.eml' | sort > "$TMP/files"
N=$(wc -l < "$TMP/files")
CORES=$(nproc)

cold() { sync; echo 3 > /proc/sys/vm/drop_caches; }
once() {
  local t0 t1
  cold
  t0=$(now); "$@" > /dev/null 2>&1 || true; t1=$(now)
  rate "$N" "$t0" "$t1"
}

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(df -h "$TMP" | awk 'NR==2 {print $1}')"
echo "files: $N distinct ($COPIES copies of the corpus), page cache dropped before each run"
READ=0 ALL=0 ONE=0 BASE=0
for _ in $(seq "$RUNS"); do
  READ=$(max "$READ" "$(once "$TMP/read_floor" "$TMP/files")")
  ALL=$(max "$ALL" "$(once "$BIN" parse --jobs "$CORES" --files-from "$TMP/files")")
  ONE=$(max "$ONE" "$(once "$BIN" parse --jobs 1 --files-from "$TMP/files")")
  if [ -n "${BASE_BIN:-}" ]; then
    BASE=$(max "$BASE" "$(once "$BASE_BIN" parse --jobs 1 --files-from "$TMP/files")")
  fi
done
echo "reading alone (read_floor, 1 process): $READ files/s (best of $RUNS)"
echo "rebound parse --jobs $CORES:             $ALL messages/s ($(python3 -c "print(f'{100*$ALL/max($READ,1):.0f}')")% of reading alone)"
echo "rebound parse --jobs 1:             $ONE messages/s"
[ -z "${BASE_BIN:-}" ] || echo "baseline --jobs 1 (BASE_BIN):       $BASE messages/s"
