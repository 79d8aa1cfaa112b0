#!/usr/bin/env bash
# Runs sluice's OpenCL kernels under Oclgrind (Debian package `oclgrind`), an OpenCL device
# simulator that checks every memory access of every work-item: out-of-bounds reads and writes,
# data races between work-items (OCLGRIND_DATA_RACES), uses of uninitialized values
# (OCLGRIND_UNINITIALIZED) and invalid API calls (OCLGRIND_CHECK_API). Each built-in PE runs on a
# small generated input in both dispatch modes. A case fails on any Oclgrind report, and when its
# result (CSV, final rows and snapshots) differs from the same run on the normal OpenCL device
# (PoCL in CI; SLUICE_DEVICE picks another): text fields exactly, numbers within 1e-12 relative.
#
#   usage: bash tests/oclgrind.sh BUILD_DIR      (BUILD_DIR holds a built `sluice`, e.g. build-ci)
#
# Exit status: 0 all cases clean and equal, 1 a case failed, 2 usage or a missing dependency.
#
# How Oclgrind is wired in (Oclgrind 21.10 on Debian 12), and why:
# - Through the ICD loader, not the `oclgrind` wrapper. Debian ships Oclgrind's ICD library but no
#   /etc/OpenCL/vendors entry, so the script writes one into its temp directory and points
#   OCL_ICD_VENDORS there: Oclgrind is then the only platform. The wrapper's options are the
#   OCLGRIND_* variables set below. (The wrapper puts Oclgrind's runtime first in LD_PRELOAD,
#   ahead of the shim, so the shim would not see the calls.)
# - A preloaded shim, tests/oclgrind_shim.c, compiled here:
#   * clEnqueueFillBuffer becomes a blocking clEnqueueWriteBuffer of the repeated pattern. The
#     uninitialized-value checker loses the state of a filled buffer (every pattern store replaces
#     the buffer's shadow), so every read of the zero-filled state table was reported as
#     "Controlflow depends on uninitialized value", a false positive.
#   * With SL_SHIM_DEVICE_TYPE=gpu, CL_DEVICE_TYPE reads GPU. Oclgrind reports CPU|GPU|ACCELERATOR|
#     DEFAULT, so the engine takes its CPU path (chunked dispatch, 64 regions, SL_PREFETCH); masked
#     to GPU it takes the grouped path that GPUs use (host grouping, 1024 regions, no prefetch).
# - Build options appended by Oclgrind (OCLGRIND_BUILD_OPTIONS):
#   * -D__builtin_prefetch(p)=((void)(p)): Oclgrind cannot run llvm.prefetch (clCreateKernel
#     fails: "Undefined external function: llvm.prefetch.p1i8"). The look-ahead record load before
#     the prefetch stays, so it is still bounds-checked.
#   * -cl-opt-disable: with optimisation, window_count's division compiles to LLVM's `freeze`
#     instruction, on which the uninitialized checker aborts the kernel ("OCLGRIND FATAL ERROR
#     ... Unsupported instruction: freeze") and sluice then exits 0 with no rows.
# - HWLOC_COMPONENTS=-opencl: sluice loads hwloc's topology to place the device
#   (docs/placement.md), and hwloc's OpenCL component asks every device for vendor attributes
#   (AMD's topology, NVIDIA's bus id) without checking that it has those extensions; Oclgrind's
#   API checker reports each such clGetDeviceInfo as an error. Without the component the device
#   is placed on the whole machine, which is what Oclgrind, a CPU simulator, spans anyway.
# - OCLGRIND_COMPUTE_UNITS=3: chunked mode keeps one table copy per compute unit, and only with more
#   than one does sl_merge_copies run.
# Values of the generator are 0 or 1.00..100.00 as floats, so every `sum` is exact in double in any
# order: results compare byte for byte even though table copies and chunking differ between devices.
set -euo pipefail

if [ $# -ne 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  echo "usage: bash tests/oclgrind.sh BUILD_DIR" >&2
  exit 2
fi
build=$(cd "$1" 2>/dev/null && pwd) || { echo "oclgrind.sh: no directory $1" >&2; exit 2; }
sluice=$build/sluice
[ -x "$sluice" ] || { echo "oclgrind.sh: $sluice is missing: build first" >&2; exit 2; }
icd_lib=${OCLGRIND_ICD_LIB:-/usr/lib/oclgrind/liboclgrind-rt-icd.so}
[ -f "$icd_lib" ] || { echo "oclgrind.sh: $icd_lib is missing (apt-get install oclgrind)" >&2; exit 2; }
cc=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-oclgrind.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

mkdir "$tmp/icd"
echo "$icd_lib" >"$tmp/icd/oclgrind.icd"

here=$(cd "$(dirname "$0")" && pwd)
if ! "$cc" -O2 -fPIC -shared -o "$tmp/shim.so" "$here/oclgrind_shim.c" -ldl 2>"$tmp/shim.err"; then
  cat "$tmp/shim.err" >&2
  echo "oclgrind.sh: cannot compile the OpenCL shim (needs $cc and opencl-c-headers)" >&2
  exit 2
fi

# Reference runs use the normal device; PoCL's kernel cache is the build tree's, as under CTest.
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$build/pocl-cache}
export HWLOC_COMPONENTS=-opencl
oclgrind_env=(
  OCL_ICD_VENDORS="$tmp/icd"
  LD_PRELOAD="$tmp/shim.so${LD_PRELOAD:+:$LD_PRELOAD}"
  SLUICE_DEVICE=oclgrind
  "SLUICE_LOG=info,engine"
  OCLGRIND_CHECK_API=1
  OCLGRIND_DATA_RACES=1
  OCLGRIND_UNINITIALIZED=1
  OCLGRIND_COMPUTE_UNITS=3
  OCLGRIND_BUILD_OPTIONS="-cl-opt-disable -D__builtin_prefetch(p)=((void)(p))"
)

ex=$(cd "$here/../examples/kernels" && pwd)
exd=$(cd "$here/../examples/data" && pwd)
# Cases: name|expected exit status|dispatch modes|topology (YAML, a generator source or one of
# examples/data, no device: SLUICE_DEVICE). A sequential PE is always grouped.
# Small on purpose: Oclgrind interprets every instruction. `growth` has no capacity and more keys
# than the first table holds, so the table grows (sl_rehash) and, grouped, a batch stops for want
# of room and goes on (sl_aggregate's progress). Snapshots every N events run the
# merge and the emission mid-stream; window_count closes windows (tombstones, slot reuse).
# topk_ctr.cl ranks the generator's users by purchase value per ad (standing in for ads per
# campaign: 200 users, so each one repeats with different values); its key columns
# print user keys as #hex, since only ad ids are in the sink's dictionary.
cases=(
  "count|0|chunked grouped|source: {type: generator, events: 6000, keys: 60, skew: 1.0, seed: 1}
pe: {kind: count, capacity: 100, trigger: {every_events: 2500}}
batch: {events: 1000}
sink: {snapshots: true}"
  "sum|0|chunked grouped|source: {type: generator, events: 6000, keys: 60, skew: 0.5, seed: 2, purchase_rate: 0.3}
pe: {kind: sum, capacity: 100, trigger: {every_events: 2500}}
batch: {events: 1000}
sink: {snapshots: true}"
  "ctr|0|chunked grouped|source: {type: generator, events: 6000, keys: 60, skew: 1.0, seed: 3, click_rate: 0.2}
pe: {kind: ctr, capacity: 100, prior: [1.0, 10.0], trigger: {every_events: 2500}}
batch: {events: 1000}
sink: {snapshots: true}"
  "window_count|0|chunked grouped|source: {type: generator, events: 6000, keys: 40, seed: 4, events_per_ms: 10}
pe: {kind: window_count, capacity: 100, window_ms: 150, lateness_ms: 20}
batch: {events: 1000}"
  "table_full|1|chunked grouped|source: {type: generator, events: 3000, keys: 500, skew: 0, seed: 5}
pe: {kind: count, capacity: 50}
batch: {events: 1000}"
  "growth|0|chunked grouped|source: {type: generator, events: 40000, keys: 40000, skew: 0, seed: 10}
pe: {kind: count}
batch: {events: 20000}"
  "revenue.cl|0|chunked grouped|source: {type: generator, events: 6000, keys: 50, seed: 6, purchase_rate: 0.3}
pe: {kind: user, source: $ex/revenue.cl, capacity: 100, trigger: {every_events: 2500}}
batch: {events: 1000}
sink: {snapshots: true}"
  "decayed_ctr.cl|0|grouped|source: {type: generator, events: 6000, keys: 50, seed: 7, events_per_ms: 1}
pe: {kind: user, source: $ex/decayed_ctr.cl, capacity: 100}
batch: {events: 1000}"
  "distinct_users.cl|0|chunked grouped|source: {type: generator, events: 6000, keys: 30, seed: 8, users: 3000}
pe: {kind: user, source: $ex/distinct_users.cl, capacity: 64}
batch: {events: 1000}"
  "bid_stats.cl|0|chunked grouped|source: {path: $exd/query_ad.ndjson}
schema: {fields: {query: string, ad_id: string, event: string, ts: time, bid: double}, key: [query, ad_id],
  time: {field: ts, format: iso8601}, type: {field: event, ignore_case: true, map: {impression: view, view: view, click: click}},
  attributes: [bid, ts]}
pe: {kind: user, source: $ex/bid_stats.cl, trigger: {every_events: 150}}
batch: {events: 100}
sink: {snapshots: true}"
  "topk_ctr.cl|0|chunked grouped|source: {type: generator, events: 6000, keys: 30, seed: 9, users: 200, purchase_rate: 0.3}
pe: {kind: user, source: $ex/topk_ctr.cl, capacity: 64, trigger: {every_events: 2500}}
batch: {events: 1000}
sink: {snapshots: true}"
)

# Compares two CSV results field by field: text exactly, numbers within 1e-12 relative (the
# decayed CTR example calls exp2, which OpenCL lets devices round differently, by up to 3 ulp),
# except the emit_time_ms column: the wall-clock time of each emission differs between runs.
same_rows() {
  awk -F, 'NR == FNR { ref[FNR] = $0; n = FNR
      if (FNR == 1) for (i = 1; i <= NF; i++) if ($i == "emit_time_ms") tcol = i
      next }
    { if (!(FNR in ref)) exit 1
      k = split(ref[FNR], a, ","); if (k != NF) exit 1
      for (i = 1; i <= NF; i++) {
        if (a[i] == $i || i == tcol) continue
        if (a[i] !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/ || $i !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) exit 1
        d = a[i] - $i; if (d < 0) d = -d
        m = a[i] < 0 ? -a[i] : a[i]; if (m < 1) m = 1
        if (d > 1e-12 * m) exit 1
      }
      m2 = FNR }
    END { if (m2 != n) exit 1 }' "$1" "$2"
}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

echo "== oclgrind: $(basename "$icd_lib") ($(dpkg-query -W -f='${Version}' oclgrind 2>/dev/null || echo '?')), sluice from $build"
t_all=$(now)
total=0
failed=0
for c in "${cases[@]}"; do
  name=${c%%|*}
  rest=${c#*|}
  want=${rest%%|*}
  rest=${rest#*|}
  read -r -a modes <<<"${rest%%|*}"
  yaml=$tmp/$name.yaml
  printf '%s\n' "${rest#*|}" >"$yaml"

  # the same topology on the normal device, once per case
  ref=$tmp/$name.ref.csv
  set +e
  "$sluice" run "$yaml" --quiet --output "$ref" 2>"$tmp/$name.ref.err"
  ref_rc=$?
  set -e

  for mode in "${modes[@]}"; do
    total=$((total + 1))
    id=$name/$mode
    out=$tmp/$name.$mode.csv
    log=$tmp/$name.$mode.log
    err=$tmp/$name.$mode.err
    type=cpu
    [ "$mode" = grouped ] && type=gpu
    t0=$(now)
    set +e
    env "${oclgrind_env[@]}" SL_SHIM_DEVICE_TYPE=$type OCLGRIND_LOG="$log" \
      "$sluice" run "$yaml" --quiet --output "$out" 2>"$err"
    rc=$?
    set -e
    took=$(secs "$t0" "$(now)")

    problems=()
    # Kernel reports go to the log; API errors and fatal errors outside kernels go to stderr.
    if [ -s "$log" ]; then
      problems+=("Oclgrind reported $(grep -c '^[A-Za-z]' "$log" || true) error(s)" \
        "(file and line numbers are right; the source text Oclgrind quotes under them is not: it" \
        "quotes that line of the whole program, which is the PE source then sl_engine.cl):")
    fi
    if grep -qE 'OCLGRIND|Oclgrind( -|:)|WARNING:' "$err"; then
      problems+=("Oclgrind errors on stderr:")
    fi
    # the engine's setup line names the dispatch mode it chose
    got=unknown
    grep -qE 'batches of [0-9]+, chunked' "$err" && got=chunked
    grep -q 'grouped by the host' "$err" && got=grouped
    if [ "$got" != "$mode" ]; then
      problems+=("ran in $got dispatch mode, expected $mode (did the engine's log line change?)")
    fi
    if [ "$rc" -ne "$want" ]; then
      problems+=("exit status $rc under Oclgrind, expected $want")
    fi
    if [ "$ref_rc" -ne "$want" ]; then
      problems+=("exit status $ref_rc on the reference device, expected $want")
    fi
    if [ "$want" -eq 0 ]; then
      if [ "$rc" -eq 0 ] && [ "$ref_rc" -eq 0 ] && ! same_rows "$ref" "$out"; then
        problems+=("result differs from the reference device (diff reference oclgrind):")
      fi
      rows="$(($(wc -l <"$out" 2>/dev/null || echo 1) - 1)) CSV lines match the reference"
    else
      grep -q 'state table full' "$err" || problems+=("no 'state table full' message under Oclgrind")
      grep -q 'state table full' "$tmp/$name.ref.err" ||
        problems+=("no 'state table full' message on the reference device")
      rows="fails as expected on both devices"
    fi

    if [ "${#problems[@]}" -eq 0 ]; then
      printf 'PASS  %-22s %6s s  0 Oclgrind reports, %s\n' "$id" "$took" "$rows"
      continue
    fi
    failed=$((failed + 1))
    printf 'FAIL  %-22s %6s s\n' "$id" "$took"
    for p in "${problems[@]}"; do
      echo "      $p"
      case $p in
        *"program, which is"*) sed -n '1,60p' "$log" | sed 's/^/      | /' ;;
        "Oclgrind errors on stderr"*) grep -A6 -E 'OCLGRIND|Oclgrind( -|:)|WARNING:' "$err" | head -30 | sed 's/^/      | /' ;;
        "result differs"*) diff "$ref" "$out" | head -20 | sed 's/^/      | /' ;;
        "exit status $rc under"*) tail -5 "$err" | sed 's/^/      | /' ;;
        "exit status $ref_rc on"*) tail -5 "$tmp/$name.ref.err" | sed 's/^/      | /' ;;
      esac
    done
  done
done

echo "== oclgrind: $((total - failed)) of $total cases passed in $(secs "$t_all" "$(now)") s" \
  "(checks: bounds, data races, uninitialized values, API calls)"
[ "$failed" -eq 0 ]
