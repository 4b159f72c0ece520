#!/usr/bin/env bash
# Bounce parser benchmark, one run: `rebound parse` against Debian's Sisimai (Perl,
# libsisimai-perl) on the same files, in the same run. See BENCHMARKS.md.
#
#   bash bench/parse.sh
#
# Files: every message of the shared bounce corpus (bsd/ dos/ mac/ err/ not/), read in
# place from ../shared (REBOUND_SHARED_DIR overrides), listed REPEAT times so that each
# timed run lasts long enough to measure.
# 1. Sisimai, single-threaded: `Sisimai->make` on each file (delivered and vacation on, as
#    in the corpus's ground truth), records written as JSON lines.
# 2. rebound, single-threaded (`--jobs 1`) and on every core (`--jobs N`), same files.
# 3. Reading only: `cat` of the same file list to /dev/null, the floor for "bound by
#    reading the files"; `bench/read_floor.c` (open, read, close of each file in one
#    process: the kernel's share of `rebound parse --jobs 1`), when a C compiler is
#    there; and the parser alone, without file IO (the `parse_speed` example: every
#    message in memory, parsed REPEAT times on one thread), in the same rounds.
# 4. Agreement: for each file, record i of rebound against record i of Sisimai (reason,
#    and recipient), over the files either parser returns records for.
# Every timed command runs RUNS times (each a new process), the commands taking turns
# round after round; the best rate of each is printed, and the ratio of rebound to Sisimai
# within each round (median and range): the VMs this runs on vary by 10-30% from one
# second to the next, and a round's two runs share its spell.
# Knobs: REPEAT=20 (rebound/cat), SISIMAI_REPEAT=1, RUNS=10, KEEP=0; BASE_BIN=path/to/rebound
# times an earlier build too, in the same rounds (before/after in one run). CARGO_TARGET_DIR
# is honoured.
set -euo pipefail
. "$(dirname "$0")/corpus.sh"
REPEAT=${REPEAT:-20}
RUNS=${RUNS:-10}
SISIMAI_REPEAT=${SISIMAI_REPEAT:-1}
perl -MSisimai -e 1 2>/dev/null || {
  echo "Sisimai missing: apt-get install -y libsisimai-perl" >&2
  if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsisimai-perl >/dev/null; else exit 1; fi
}

cargo build --release -q -p rebound
cargo build --release -q -p rebound-core --example parse_speed
TMP=$(mktemp -d)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$TMP"' EXIT

list_corpus "$TMP" "$REPEAT"
N=$(wc -l < "$TMP/files")
NR=$(wc -l < "$TMP/files.rep")
CORES=$(nproc)

# once N CMD…: runs CMD once, prints its messages/s for N messages.
once() {
  local n=$1 t0 t1
  shift
  t0=$(now); "$@" > /dev/null 2>&1 || true; t1=$(now)
  rate "$n" "$t0" "$t1"
}
# stats RATIO…: median and range of the per-round ratios.
stats() { python3 -c "import sys,statistics as s; v=sorted(map(float,sys.argv[1:])); print(f'median {s.median(v):.1f}x, range {v[0]:.1f}x-{v[-1]:.1f}x over {len(v)} rounds')" "$@"; }

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), sisimai $(perl -MSisimai -e 'print $Sisimai::VERSION')"
echo "files: $N distinct, $NR per timed run (REPEAT=$REPEAT)"

# 1. Sisimai.
cat > "$TMP/sisimai.pl" <<'PERL'
use strict; use warnings; use Sisimai; use JSON::PP;
my $json = JSON::PP->new->canonical;
my $repeat = shift @ARGV;
open my $out, '>', shift @ARGV or die;
my @files = map { chomp; $_ } <STDIN>;
for my $round (1 .. $repeat) {
  for my $f (@files) {
    my $v = eval { Sisimai->make($f, 'delivered' => 1, 'vacation' => 1) } || [];
    next if $round > 1;
    my @r = map { { recipient => $_->recipient->address, reason => $_->reason } } @$v;
    print $out $json->encode({ file => $f, results => \@r }), "\n";
  }
}
PERL
perl "$TMP/sisimai.pl" 1 "$TMP/sisimai.jsonl" < "$TMP/files" 2>/dev/null
# 2. rebound.
"$BIN" parse --jobs 1 --files-from "$TMP/files" > "$TMP/rebound.jsonl" 2>/dev/null || true
# The timed commands take turns, round after round, so that a slow spell of the VM
# falls on all of them alike; each keeps its best round.
SIS=0 ONE=0 ALL=0 CAT=0 BASE=0 ALONE=0 FLOOR=0 RATIOS=() BASE_RATIOS=() ALONE_RATIOS=()
# The kernel's share alone: open, read, close of every file in one process (C).
FLOOR_BIN=""
if command -v cc > /dev/null && cc -O2 -o "$TMP/read_floor" bench/read_floor.c 2>/dev/null; then
  FLOOR_BIN="$TMP/read_floor"
fi
SPEED="$RELEASE/examples/parse_speed"
for _ in $(seq "$RUNS"); do
  s=$(once $((N * SISIMAI_REPEAT)) sh -c "perl '$TMP/sisimai.pl' '$SISIMAI_REPEAT' /dev/null < '$TMP/files'")
  o=$(once "$NR" "$BIN" parse --jobs 1 --files-from "$TMP/files.rep")
  SIS=$(max "$SIS" "$s"); ONE=$(max "$ONE" "$o")
  RATIOS+=("$(python3 -c "print($o/max($s,1))")")
  if [ -n "${BASE_BIN:-}" ]; then
    b=$(once "$NR" "$BASE_BIN" parse --jobs 1 --files-from "$TMP/files.rep")
    BASE=$(max "$BASE" "$b")
    BASE_RATIOS+=("$(python3 -c "print($b/max($s,1))")")
  fi
  ALL=$(max "$ALL" "$(once "$NR" "$BIN" parse --jobs "$CORES" --files-from "$TMP/files.rep")")
  CAT=$(max "$CAT" "$(once "$NR" xargs -a "$TMP/files.rep" cat)")
  [ -z "$FLOOR_BIN" ] || FLOOR=$(max "$FLOOR" "$(once "$NR" "$FLOOR_BIN" "$TMP/files.rep")")
  # The parser alone reports its own rate (its files read into memory before the clock).
  a=$(ROUNDS="$REPEAT" "$SPEED" "$CORPUS" | sed -n 's/.*thread: \([0-9]*\) messages.*/\1/p')
  ALONE=$(max "$ALONE" "${a:-0}")
  ALONE_RATIOS+=("$(python3 -c "print(${a:-0}/max($s,1))")")
done
echo "sisimai (perl, 1 thread):  $SIS messages/s (best of $RUNS)"
echo "rebound --jobs 1:          $ONE messages/s  ($(python3 -c "print(f'{$ONE/$SIS:.0f}')")x sisimai, best against best)"
echo "  per round, rebound --jobs 1 / sisimai of the same round: $(stats "${RATIOS[@]}")"
if [ -n "${BASE_BIN:-}" ]; then
  echo "baseline --jobs 1:         $BASE messages/s  ($(python3 -c "print(f'{$BASE/$SIS:.0f}')")x sisimai; BASE_BIN)"
  echo "  per round, baseline / sisimai of the same round: $(stats "${BASE_RATIOS[@]}")"
fi
echo "rebound --jobs $CORES:          $ALL messages/s"
echo "cat (reading only):        $CAT messages/s"
if [ -n "$FLOOR_BIN" ]; then
  echo "open/read/close only (C, one process): $FLOOR messages/s ($(python3 -c "print(f'{1e6/max($FLOOR,1):.1f}')") us a file)"
fi
echo "parser alone (no file IO):  $ALONE messages/s  ($(python3 -c "print(f'{$ALONE/$SIS:.0f}')")x sisimai, best against best)"
echo "  per round, parser alone / sisimai of the same round: $(stats "${ALONE_RATIOS[@]}")"

# 4. Agreement.
python3 - "$TMP/rebound.jsonl" "$TMP/sisimai.jsonl" <<'PY'
import json, sys, collections
reb = collections.defaultdict(list)
for l in open(sys.argv[1]):
    r = json.loads(l); reb[r["file"]].append(r)
sis = {}
for l in open(sys.argv[2]):
    r = json.loads(l); sis[r["file"]] = r["results"]
files = set(reb) | {f for f, v in sis.items() if v}
recs = reason = rcpt = 0
for f in files:
    a, b = reb.get(f, []), sis.get(f, [])
    for i in range(max(len(a), len(b))):
        recs += 1
        if i < len(a) and i < len(b):
            reason += a[i]["reason"] == b[i]["reason"]
            rcpt += (a[i]["recipient"] or "").lower() == (b[i]["recipient"] or "").lower()
print(f"agreement over {len(files)} files, {recs} records: reason {100*reason/max(recs,1):.1f}%, recipient {100*rcpt/max(recs,1):.1f}%")
PY
