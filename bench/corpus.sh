# Sourced by the bounce parser benchmarks (parse.sh, parse_cold.sh): the repository root,
# the shared corpus (REBOUND_SHARED_DIR overrides ../shared), the release build directory
# and rebound binary, and the helpers both use.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
SHARED=${REBOUND_SHARED_DIR:-$ROOT/../shared}
CORPUS="$SHARED/corpus/bounces/maildir"
[ -d "$CORPUS" ] || { echo "error: corpus not found at $CORPUS (set REBOUND_SHARED_DIR)" >&2; exit 1; }
RELEASE="${CARGO_TARGET_DIR:-$ROOT/target}/release"
BIN="$RELEASE/rebound"
# now: the time in seconds, with nanoseconds.
now() { date +%s.%N; }
# rate N T0 T1: N per second between the times T0 and T1, rounded.
rate() { python3 -c "import sys; n,a,b=map(float,sys.argv[1:]); print(f'{n/(b-a):.0f}')" "$@"; }
# max A B: the larger integer.
max() { [ "$1" -gt "$2" ] && echo "$1" || echo "$2"; }
# list_corpus DIR REPEAT: every message of the corpus, in name order, into DIR/files, and
# that list REPEAT times into DIR/files.rep (what each timed run of rebound reads).
list_corpus() {
  find "$CORPUS" -type f -name '*.eml' | sort > "$1/files"
  for _ in $(seq "$2"); do cat "$1/files"; done > "$1/files.rep"
}
