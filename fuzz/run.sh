#!/usr/bin/env bash
# Runs one fuzz target under AFL++ for N executions and prints what it
# found: executions, speed, coverage (edges of AFL's map), the corpus it
# grew, crashes and hangs. Exits 1 on any crash (their inputs listed),
# 2 on a usage error.
#
#   fuzz/run.sh TARGET N [SECONDS]
#
# TARGET is one of src/bin (frame, topology, control, revocations,
# federation, node_config, gateway, cap); N the executions to stop after
# (afl-fuzz -E); SECONDS, if given, stops it sooner (afl-fuzz -V).
# Builds with cargo-afl (`cargo install cargo-afl`) into
# $LIANDONG_FUZZ_TARGET_DIR (default /var/tmp/liandong-fuzz-afl), starts
# from corpus/TARGET with dict/TARGET.dict if there is one, and leaves
# AFL's output in $LIANDONG_FUZZ_OUT/TARGET (default under the target
# dir), emptied first. Crashes are kept there, in default/crashes/.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  echo "usage: fuzz/run.sh TARGET N [SECONDS]  (targets: $(targets | tr '\n' ' '))" >&2
  exit 2
}
targets() {
  for bin in src/bin/*.rs; do
    name="$(basename "$bin" .rs)"
    [ "$name" = seeds ] || echo "$name"
  done
}

if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
target="$1"
execs="$2"
seconds="${3:-}"
# Not a pipe: grep -q would close it early (SIGPIPE, a failure under pipefail).
grep -qx -- "$target" <<<"$(targets)" || usage
[[ "$execs" =~ ^[1-9][0-9]*$ ]] || usage
[ -z "$seconds" ] || [[ "$seconds" =~ ^[1-9][0-9]*$ ]] || usage
[ -d "corpus/$target" ] || { echo "no seeds in fuzz/corpus/$target" >&2; exit 2; }

export CARGO_TARGET_DIR="${LIANDONG_FUZZ_TARGET_DIR:-/var/tmp/liandong-fuzz-afl}"
out="${LIANDONG_FUZZ_OUT:-$CARGO_TARGET_DIR/afl-out}/$target"

cargo afl build --release --locked --quiet --bin "$target"

# This VM: no CPU frequency governor to check, a core_pattern that pipes
# crashes elsewhere (the target's panics are caught in-process anyway),
# cores shared with other work (no pinning), no terminal UI.
export AFL_SKIP_CPUFREQ=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_AFFINITY=1
export AFL_NO_UI=1
export AFL_QUIET=1

args=(-i "corpus/$target" -o "$out" -E "$execs")
[ -z "$seconds" ] || args+=(-V "$seconds")
[ ! -f "dict/$target.dict" ] || args+=(-x "dict/$target.dict")

rm -rf "$out"
mkdir -p "$(dirname "$out")"
log="$out.log"
status=0
cargo afl fuzz "${args[@]}" -- "$CARGO_TARGET_DIR/release/$target" >"$log" 2>&1 || status=$?

stats="$out/default/fuzzer_stats"
if [ ! -f "$stats" ]; then
  tail -n 40 "$log" >&2
  echo "afl-fuzz exited $status without statistics (log: $log)" >&2
  exit 1
fi
stat() { sed -n "s/^$1 *: //p" "$stats"; }
crashes="$(stat saved_crashes)"
printf '%s: %s executions in %s s (%s/s), %s of %s edges (%s of the map), corpus %s, crashes %s, hangs %s\n' \
  "$target" "$(stat execs_done)" "$(stat run_time)" "$(stat execs_per_sec)" \
  "$(stat edges_found)" "$(stat total_edges)" "$(stat bitmap_cvg)" \
  "$(stat corpus_count)" "$crashes" "$(stat saved_hangs)"
if [ "$crashes" != 0 ]; then
  echo "crashing inputs (replay one: $CARGO_TARGET_DIR/release/$target < FILE):" >&2
  find "$out/default/crashes" -type f -name 'id:*' >&2
  exit 1
fi
if [ "$status" != 0 ]; then
  tail -n 40 "$log" >&2
  echo "afl-fuzz exited $status (log: $log)" >&2
  exit 1
fi
