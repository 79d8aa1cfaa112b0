#!/usr/bin/env bash
# GPU readiness check, for a machine with an NVIDIA GPU and its OpenCL driver (bench/README.md
# "GPU"): builds sluice, runs the engine tests on the GPU's OpenCL device, then bench_ctr with
# the grouped dispatch against the plain C loop in the same run (bench_ctr checks every key's row
# against it), and a whole `sluice ctr` run on the GPU whose CSV must equal the PoCL CPU
# device's when there is one, and whose totals must equal the input's views and clicks. Prints
# every result and figure; about 4.5 minutes on a 2-core VM with PoCL standing in for the GPU.
#
#   bash bench/gpu-check.sh [DEVICE]     DEVICE: a substring of "platform / device"
#                                         (default NVIDIA)
#
# Exit status: 0 everything passed, 1 a step failed, 3 no such OpenCL device (or no build
# tools): nothing was measured.
set -uo pipefail
cd "$(dirname "$0")/.."

dev=${1:-NVIDIA}
build=build-gpu
start=$(date +%s)
failed=0
step() { printf '\n== %s (%ds)\n' "$*" $(($(date +%s) - start)); }
fail() {
  echo "gpu-check: FAILED: $*"
  failed=1
}

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null ||
  echo "(nvidia-smi not found)"
nproc
for t in cmake cc pkg-config; do
  command -v "$t" >/dev/null || {
    echo "gpu-check: $t not found: install the build dependencies (bash .ci/install-deps)"
    exit 3
  }
done

step "build (Release, tests on)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=ON >"$build.log" 2>&1 &&
  timeout 200 cmake --build "$build" -j"$(nproc)" --target sluice bench_ctr gen_events \
    test_engine test_multidev test_examples test_userpe test_device >>"$build.log" 2>&1 ||
  {
    tail -n 30 "$build.log"
    echo "gpu-check: the build failed (the whole log: $build.log)"
    exit 1
  }
echo "built in $build"

step "OpenCL devices"
"$build/sluice" devices || true
if ! "$build/sluice" devices 2>/dev/null | grep -qi -- "$dev"; then
  echo "gpu-check: no OpenCL device matches \"$dev\": is the NVIDIA OpenCL ICD installed" \
    "(/etc/OpenCL/vendors/nvidia.icd)? Nothing measured."
  exit 3
fi

export SLUICE_DEVICE=$dev
export POCL_CACHE_DIR=$PWD/$build/pocl-cache SLUICE_TEST_TMP=$PWD/$build/test-tmp
mkdir -p "$SLUICE_TEST_TMP"

step "engine tests on $dev"
for t in test_engine test_multidev test_examples test_userpe test_device; do
  if timeout 120 "$build/$t" --jobs=2 >"$build/$t.log" 2>&1; then
    printf '%-14s %s\n' "$t" "$(grep -o 'Synthesis.*' "$build/$t.log")"
  else
    printf '%-14s FAILED: %s\n' "$t" "$(grep -o 'Synthesis.*' "$build/$t.log")"
    grep -B3 -A8 '\[FAIL\]\|CRASH' "$build/$t.log" | head -40
    fail "$t on $dev"
  fi
done

step "bench_ctr on $dev, grouped dispatch, against plain C in the same run"
for keys in 100000 1000000; do
  timeout 150 "$build/bench_ctr" --events 16777216 --keys "$keys" --reps 5 --grouped \
    --device "$dev" || fail "bench_ctr --keys $keys"
done

step "sluice ctr on $dev against the plain C reference"
data=$build/gpu-check.ndjson
[ -s "$data" ] || "$build/gen_events" --events 4000000 --keys 100000 >"$data"
/usr/bin/time -f "sluice ctr on $dev: %e s wall, %U s user, %M KiB peak RSS" \
  "$build/sluice" ctr --input "$data" --output "$build/gpu-check.csv" --device "$dev" -q ||
  fail "sluice ctr on $dev"
# The same input on the PoCL CPU device, where it is installed.
"$build/sluice" ctr --input "$data" --output "$build/gpu-check-ref.csv" --device pthread -q \
  2>/dev/null || echo "(no PoCL CPU device here: comparing with the GPU run's own totals only)"
if [ -s "$build/gpu-check-ref.csv" ]; then
  if cmp -s "$build/gpu-check.csv" "$build/gpu-check-ref.csv"; then
    echo "GPU and CPU outputs identical ($(wc -l <"$build/gpu-check.csv") lines)"
  else
    fail "GPU output differs from the CPU device's"
  fi
fi
rows=$(($(wc -l <"$build/gpu-check.csv") - 1))
sum=$(awk -F, 'NR > 1 { i += $2; c += $3 } END { print i + c }' "$build/gpu-check.csv")
purchases=$(grep -c '"purchase"' "$data" || true)
others=$(grep -vc '"view"\|"click"' "$data" || true)
echo "rows $rows; impressions + clicks $sum; events $(wc -l <"$data") (purchases $purchases)"
[ "$sum" -eq $(($(wc -l <"$data") - others)) ] || fail "impressions + clicks != views + clicks"

step "done in $(($(date +%s) - start)) s"
[ "$failed" -eq 0 ] && echo "gpu-check: all passed" || echo "gpu-check: some steps FAILED"
exit "$failed"
