#!/bin/bash
# The local half of bench/SCALING.md: `sluice ctr` over one NDJSON file in one process and on a
# running cluster of N local node processes with ingest on every node (docs/cluster.md), run by
# run interleaved, each a whole process timed by /usr/bin/time; the nodes' CPU is read from
# /proc/PID/stat around each cluster run. Every cluster output is compared with the one-process
# output first.
#
#   bash bench/scale_local.sh BUILD_DIR EVENTS.ndjson [REPS] [NODE_COUNTS] [BASE_PORT]
#
# REPS (default 5) runs of each after one warm-up of each; NODE_COUNTS (default "1 2 3");
# BASE_PORT (default 27900): node i of the N-node cluster listens on BASE_PORT + 100 N + 10 i ..
# + 4. Set POCL_CACHE_DIR as for any sluice run. Prints one line per run, then per configuration
# the median (min-max) of the wall time, the client's CPU and the nodes' CPU.
set -euo pipefail

build=${1:?usage: scale_local.sh BUILD_DIR EVENTS.ndjson [REPS] [NODE_COUNTS] [BASE_PORT]}
input=$(realpath "${2:?missing EVENTS.ndjson}")
reps=${3:-5}
counts=${4:-1 2 3}
base=${5:-27900}
sluice=$(realpath "$build/sluice")
tmp=$(mktemp -d /tmp/sluice-scale-local-XXXXXX)
up_pid=
hz=$(getconf CLK_TCK)

cleanup() {
    if [ -n "$up_pid" ]; then
        "$sluice" cluster down "$tmp/local.yaml" >/dev/null 2>&1 || kill "$up_pid" 2>/dev/null || true
        wait "$up_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

"$sluice" keygen "$tmp/keys" >/dev/null 2>&1

# user+system seconds of the processes in $@ (clock ticks in /proc/PID/stat fields 14 and 15)
cpu_of() {
    local t=0 p
    for p in "$@"; do
        if [ -r "/proc/$p/stat" ]; then
            t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
        fi
    done
    echo "$t"
}

# clock ticks of the processes in $@ by thread: "main io rest" (main: the thread whose id is the
# process's; io: ZeroMQ's I/O threads; rest: PoCL's kernel threads, the lease and ZAP threads)
threads_of() {
    local p t m=0 i=0 r=0 v
    for p in "$@"; do
        for t in /proc/"$p"/task/*; do
            [ -r "$t/stat" ] || continue
            v=$(awk '{print $14 + $15}' "$t/stat" 2>/dev/null) || continue
            if [ "${t##*/}" = "$p" ]; then
                m=$((m + v))
            elif grep -q '^ZMQbg/IO' "$t/comm" 2>/dev/null; then
                i=$((i + v))
            else
                r=$((r + v))
            fi
        done
    done
    echo "$m $i $r"
}

# median (min-max) of the numbers on stdin
stats() {
    sort -g | awk '{v[NR] = $1} END {if (NR) printf "%.3f (%.3f-%.3f)", v[int((NR + 1) / 2)], v[1], v[NR]}'
}

# runs "$@" under /usr/bin/time; prints "wall user+sys"
timed() {
    /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || {
        echo "failed: $*" >&2
        cat "$tmp/err" >&2
        exit 1
    }
    awk '{printf "%s %.2f", $1, $2 + $3}' "$tmp/time"
}

one=("$sluice" ctr --input "$input" -q --output /dev/null)
echo "machine: $(nproc) CPUs, $(awk '{print $1, $2, $3}' /proc/loadavg) load; input $input ($(stat -c %s "$input") bytes)"
"$sluice" ctr --input "$input" -q --output "$tmp/one.csv"

for n in $counts; do
    {
        echo "partitions: 256"
        echo "curve: {keys: keys}"
        echo "nodes:"
        for ((i = 0; i < n; i++)); do
            echo "  - {id: $i, host: 127.0.0.1, port: $((base + 100 * n + 10 * i))}"
        done
    } >"$tmp/local.yaml"
    "$sluice" cluster up "$tmp/local.yaml" >"$tmp/up.log" 2>&1 &
    up_pid=$!
    for ((w = 0; w < 600; w++)); do
        [ -s "$tmp/local.yaml.pid" ] && break
        sleep 0.1
    done
    [ -s "$tmp/local.yaml.pid" ] || { echo "cluster up did not start:" >&2; cat "$tmp/up.log" >&2; exit 1; }
    nodes=$(pgrep -P "$up_pid" | tr '\n' ' ')
    clu=("$sluice" ctr --input "$input" --cluster "$tmp/local.yaml" --ingest-on-nodes -q)
    "${clu[@]}" --output "$tmp/clu.csv"
    cmp -s "$tmp/one.csv" "$tmp/clu.csv" || { echo "$n nodes: output differs from one process" >&2; exit 1; }
    echo "$n nodes (pids $nodes): output equal to one process's"
    timed "${one[@]}" >/dev/null # warm-up of each
    timed "${clu[@]}" --output /dev/null >/dev/null
    : >"$tmp/w1"; : >"$tmp/c1"; : >"$tmp/wn"; : >"$tmp/cn"; : >"$tmp/nn"
    : >"$tmp/tm"; : >"$tmp/ti"; : >"$tmp/tr"
    for ((r = 1; r <= reps; r++)); do
        read -r w1 c1 <<<"$(timed "${one[@]}")"
        before=$(cpu_of $nodes)
        read -r m0 i0 r0 <<<"$(threads_of $nodes)"
        read -r wn cn <<<"$(timed "${clu[@]}" --output /dev/null)"
        after=$(cpu_of $nodes)
        read -r m1 i1 r1 <<<"$(threads_of $nodes)"
        [ -n "$w1" ] && [ -n "$wn" ] || exit 1
        nc=$(awk -v a="$after" -v b="$before" -v hz="$hz" 'BEGIN {printf "%.2f", (a - b) / hz}')
        th=$(awk -v hz="$hz" -v m=$((m1 - m0)) -v i=$((i1 - i0)) -v r=$((r1 - r0)) \
            'BEGIN {printf "%.2f %.2f %.2f", m / hz, i / hz, r / hz}')
        read -r tm ti tr <<<"$th"
        echo "  run $r: one process ${w1} s (cpu ${c1} s) | $n nodes ${wn} s (client cpu ${cn} s, nodes cpu ${nc} s: node threads ${tm}, I/O threads ${ti}, other threads ${tr}) load $(cut -d' ' -f1 /proc/loadavg)"
        echo "$tm" >>"$tmp/tm"; echo "$ti" >>"$tmp/ti"; echo "$tr" >>"$tmp/tr"
        echo "$w1" >>"$tmp/w1"; echo "$c1" >>"$tmp/c1"
        echo "$wn" >>"$tmp/wn"; echo "$cn" >>"$tmp/cn"; echo "$nc" >>"$tmp/nn"
    done
    echo "$n nodes: one process wall $(stats <"$tmp/w1") cpu $(stats <"$tmp/c1");" \
         "cluster wall $(stats <"$tmp/wn") client cpu $(stats <"$tmp/cn") nodes cpu $(stats <"$tmp/nn")" \
         "(node threads $(stats <"$tmp/tm"), I/O threads $(stats <"$tmp/ti"), other threads $(stats <"$tmp/tr"))"
    "$sluice" cluster down "$tmp/local.yaml" >/dev/null 2>&1 || true
    wait "$up_pid" 2>/dev/null || true
    up_pid=
    rm -f "$tmp/local.yaml.pid"
done
