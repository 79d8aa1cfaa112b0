#!/usr/bin/env bash
# A bounded libFuzzer run of every harness in tests/fuzz (README "Tests"):
#   bash tests/fuzz/run.sh [SECONDS_EACH]     (default 8: seven targets, about a minute)
# Configures build-fuzz with clang (ASan + UBSan + libFuzzer), builds the harnesses, and runs
# each for SECONDS_EACH on a copy of its seed corpus in build-fuzz/corpus/<target> (new inputs
# go there, never into the repository). Exits non-zero, naming the input that did it, when a
# harness finds a crash, a leak, a timeout or runs out of memory.
set -euo pipefail
cd "$(dirname "$0")/../.."

secs=${1:-8}
if ! [[ "$secs" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bash tests/fuzz/run.sh [SECONDS_EACH]" >&2
  exit 2
fi
targets=(ndjson csv schema topology cluster frame job)
build=build-fuzz
jobs=$(nproc)

if ! command -v clang >/dev/null; then
  echo "fuzz: clang not found; bash .ci/install-deps installs it (clang, libclang-rt-14-dev)" >&2
  exit 1
fi

cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSLUICE_FUZZ=ON -DSLUICE_TESTS=OFF -DSLUICE_WERROR=ON >/dev/null
cmake --build "$build" -j"$jobs" --target fuzz_all >/dev/null

# Fresh corpus copies: the committed seeds, the examples, and the frame and job seeds of this
# build (job payloads depend on the job format version).
rm -rf "$build/corpus" "$build/fuzz-out"
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/fuzz-out/$t"
  cp tests/fuzz/corpus/"$t"/* "$build/corpus/$t/"
done
cp examples/topologies/*.yaml "$build/corpus/topology/"
cp examples/cluster/*.yaml "$build/corpus/cluster/"
"$build/fuzz_seeds" "$build/corpus/frame" "$build/corpus/job"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=0
for t in "${targets[@]}"; do
  out="$build/fuzz-out/$t"
  rc=0
  "$build/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$out/" "$build/corpus/$t" >"$out/log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -n 1)
  files=$(find "$build/corpus/$t" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    printf 'fuzz_%-9s %10s execs in %ss, corpus %s inputs\n' "$t" "${execs:-?}" "$secs" "$files"
    continue
  fi
  failed=1
  echo "fuzz_$t: FAILED (exit $rc); the end of $out/log:"
  tail -n 40 "$out/log" | sed 's/^/  /'
  found=0
  for f in "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*; do
    [ -e "$f" ] || continue
    echo "fuzz_$t: reproduce with: $build/fuzz_$t $f"
    found=1
  done
  [ "$found" -eq 1 ] || echo "fuzz_$t: no input was written (see $out/log)"
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${secs}s each without a finding"
