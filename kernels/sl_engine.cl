/* The framework side of every PE: slot lookup, aggregation, merge and emission.
 *
 * Built after one PE source (a built-in pe_*.cl or a user's file), which includes sluice.h and
 * provides the ABI described there. Build options from the host: SL_WINDOW_MS (a tumbling
 * event-time window: the table is keyed by (key, window)), SL_PREFETCH (CPU devices).
 *
 * Table layout: the key space is cut into P regions by the top bits of the record key, and each
 * region is an open-addressing table with linear probing on the low bits. fill[] counts live
 * keys per region; a region never holds more than region_max of them, so every probe ends at an
 * empty slot. Deletion (closed windows) shifts the rest of a probe run back, so no slot is ever a
 * tombstone. A slot holds its key and state side by side, so a lookup touches one cache line
 * (measured on PoCL: separate arrays cost twice the misses).
 * Nothing here is ever touched by two work-items at once: no atomics on state. */
#include "sluice.h"

/* ---- ABI checks: a mismatch is a compile error that names the user's file and line ---- */
#if defined(SL_PE_REDUCE) == defined(SL_PE_SEQUENTIAL)
#error "sluice ABI: define exactly one of SL_PE_REDUCE and SL_PE_SEQUENTIAL"
#endif
#ifndef SL_COLUMNS
#error "sluice ABI: define SL_COLUMNS, the output column names, e.g. \"count:int,sum:f6\""
#endif

void sl_init(__global sl_state *s);
void sl_emit(__global const sl_state *s, sl_out *out);
#ifdef SL_PE_REDUCE
void sl_add(__global sl_state *s, const sl_record *r);
void sl_merge(__global sl_state *dst, __global const sl_state *src);
#define SL_APPLY(s, r) sl_add(s, r)
#define SL_SHAPE 1u
#else
void sl_process(__global sl_state *s, const sl_record *r);
#define SL_APPLY(s, r) sl_process(s, r)
#define SL_SHAPE 2u
#endif

#define SL_EMPTY_KEY 0ul
/* Never a key: the host hash and the window key mixer both avoid it. */
#define SL_RESERVED_KEY 0xfffffffffffffffful

typedef struct sl_slot {
    ulong key; /* table key: the record key, or mixed with the window start */
#ifdef SL_WINDOW_MS
    ulong ad_key;
    long window_start;
#endif
    sl_state s;
} sl_slot;

/* One output row, 80 bytes; host/engine.h declares it as sl_row. */
typedef struct sl_row {
    ulong key;
    long window_start;
    double v[SL_OUT_MAX];
} sl_row;

__constant char sl_columns[] = SL_COLUMNS;

#ifdef SL_WINDOW_MS
long sl_window_start(long t)
{
    long q = t / SL_WINDOW_MS;
    if (t % SL_WINDOW_MS < 0)
        q -= 1;
    return q * SL_WINDOW_MS;
}

/* Murmur3's 64-bit finaliser over the key and the window start; never an empty or tombstone
 * key. Two (key, window) pairs share a table key with probability about 2^-64. */
ulong sl_table_key(ulong key, long ws)
{
    ulong k = key ^ ((ulong)ws * 0x9e3779b97f4a7c15ul);
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdul;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ul;
    k ^= k >> 33;
    return k == SL_EMPTY_KEY || k == SL_RESERVED_KEY ? 0x5bd1e9955bd1e995ul : k;
}
#define SL_RECORD_TABLE_KEY(r) sl_table_key((r)->key, sl_window_start((r)->time_ms))
#else
#define SL_RECORD_TABLE_KEY(r) ((r)->key)
#endif

uint sl_slot_index(ulong k, uint mask)
{
    return (uint)(k ^ (k >> 32)) & mask;
}

/* Finds table key k in region rs (mask + 1 slots), inserting it when absent: a new slot records
 * ad_key and window_start (windowed PEs) and gets sl_init. Returns the slot index, or mask + 1
 * when the region already holds region_max keys. */
uint sl_lookup(__global sl_slot *rs, ulong k, uint mask, uint region_max, __global uint *fill,
               ulong ad_key, long window_start)
{
    uint h = sl_slot_index(k, mask);
    for (;;) {
        const ulong sk = rs[h].key;
        if (sk == k)
            return h;
        if (sk == SL_EMPTY_KEY)
            break;
        h = (h + 1) & mask;
    }
    if (*fill >= region_max)
        return mask + 1;
    *fill += 1;
    rs[h].key = k;
#ifdef SL_WINDOW_MS
    rs[h].ad_key = ad_key;
    rs[h].window_start = window_start;
#else
    (void)ad_key;
    (void)window_start;
#endif
    sl_init(&rs[h].s);
    return h;
}

/* Applies record r to its slot in sub-table `base` (region_slots slots per region; with
 * `chunked`, the region is the key's top bits, else base is the work-item's own region) and
 * counts a new key in fbase[region]. Returns 0, or 1 when the region has no free slot (status
 * set as sl_aggregate_grouped's comment says). Inlined into both aggregation kernels, where
 * `chunked` is a constant. */
__attribute__((always_inline)) int sl_apply_one(const sl_record *r, __global sl_slot *base,
                                                __global uint *fbase, uint region_slots,
                                                uint region_max, uint rshift, int chunked, uint i0,
                                                __global uint *status)
{
    const uint mask = region_slots - 1;
    /* (key >> 1) >> (63 - pbits): the top pbits bits, and 0 for pbits 0 (no shift by 64) */
    const uint region = chunked ? (uint)((r->key >> 1) >> rshift) : 0;
    __global sl_slot *rs = base + (size_t)region * region_slots;
#ifdef SL_WINDOW_MS
    const long ws = sl_window_start(r->time_ms);
    const ulong k = sl_table_key(r->key, ws);
#else
    const long ws = 0;
    const ulong k = r->key;
#endif
    const uint h = sl_lookup(rs, k, mask, region_max, &fbase[region], r->key, ws);
    if (h > mask) {
        atomic_add(&status[0], 1);
        atomic_max(&status[1], (chunked ? region : i0) + 1);
        return 1;
    }
    SL_APPLY(&rs[h].s, r);
    return 0;
}

#ifdef SL_PREFETCH
#if SL_PREFETCH > 32
#error "SL_PREFETCH: at most 32 (the ring of home slots below)"
#endif
#define SL_RING 32u /* home slots of the records ahead, a power of two >= SL_PREFETCH */

/* The home slot of record r in sub-table `base` (regions of 2^lg slots): its region's first slot
 * plus its probe start, that is where sl_apply_one's lookup starts. */
__attribute__((always_inline)) size_t sl_home(const sl_record *r, uint mask, uint lg, uint rshift,
                                              int chunked)
{
    const size_t region = chunked ? (size_t)((r->key >> 1) >> rshift) : 0;
    return (region << lg) | sl_slot_index(SL_RECORD_TABLE_KEY(r), mask);
}
#endif

/* The body of both aggregation kernels, `chunked` a constant in each, so that neither tests the
 * mode per record. Counted in PoCL 3.1's x86-64 code of the ctr PE in chunked mode, for a record
 * whose key is found at its first probe: one kernel taking the mode as an argument spent 67
 * instructions (26 on the prefetch's address, reloading the mode and the table's bases from the
 * stack), a kernel per mode 51 (17). With SL_PREFETCH the home slot computed for the prefetch
 * is kept in a ring until its record comes, and a key found there is applied at once; only the
 * other records (a probe past the home slot, a new key) go through sl_apply_one, which computes
 * it again. Per record in all (callgrind, sluice-bench's insns workload, 100k Zipf keys): 52.8
 * instructions before the ring, 41.0 with it; the kernel's time did not change measurably (it
 * waits on memory; bench_ctr, 5 alternating runs each, 2026-12-08). */
__attribute__((always_inline)) void
sl_aggregate_run(__global const sl_record *recs, __global const uint *bounds, __global uint *prog,
                 __global sl_slot *slots, __global uint *fill, uint region_slots, uint region_max,
                 uint pbits, __global uint *status, int chunked, __global ulong *types)
{
    const uint i0 = get_global_id(0);
    const uint beg = prog[i0], end = bounds[i0 + 1];
    if (beg >= end || status[0] != 0)
        return;
    uint by_type[4] = {0, 0, 0, 0};              /* the records this work-item applies, by type */
    const uint per = chunked ? 1u << pbits : 1u; /* sub-tables of this work-item */
    __global sl_slot *base = slots + (size_t)i0 * per * region_slots;
    __global uint *fbase = fill + (size_t)i0 * per;
    const uint rshift = 63 - pbits;
    uint i = beg;
#ifdef SL_PREFETCH
    /* the loop waits on one random slot access per record: start the one SL_PREFETCH ahead,
     * keeping its home slot in ring[] for when its record comes; the last SL_PREFETCH records go
     * without */
    const uint mask = region_slots - 1, lg = popcount(mask);
    const uint pend = end - beg > SL_PREFETCH ? end - SL_PREFETCH : beg;
    size_t ring[SL_RING];
    for (uint j = beg; j < pend && j < beg + SL_PREFETCH; j++) {
        const sl_record r = recs[j];
        ring[j & (SL_RING - 1)] = sl_home(&r, mask, lg, rshift, chunked);
        __builtin_prefetch(base + ring[j & (SL_RING - 1)]);
    }
    for (; i < pend; i++) {
        const sl_record ahead = recs[i + SL_PREFETCH];
        const size_t ha = sl_home(&ahead, mask, lg, rshift, chunked);
        __builtin_prefetch(base + ha);
        const size_t h = ring[i & (SL_RING - 1)];
        ring[(i + SL_PREFETCH) & (SL_RING - 1)] = ha;
        const sl_record r = recs[i];
        __global sl_slot *s = base + h;
        if (s->key == SL_RECORD_TABLE_KEY(&r))
            SL_APPLY(&s->s, &r);
        else if (sl_apply_one(&r, base, fbase, region_slots, region_max, rshift, chunked, i0,
                              status))
            goto stopped;
        by_type[r.type & 3]++;
    }
#endif
    for (; i < end; i++) {
        const sl_record r = recs[i];
        if (sl_apply_one(&r, base, fbase, region_slots, region_max, rshift, chunked, i0, status))
            break;
        by_type[r.type & 3]++;
    }
#ifdef SL_PREFETCH
stopped:
#endif
    prog[i0] = i;
    for (int t = 0; t < 4; t++)
        types[i0 * 4 + t] += by_type[t];
}

/* Aggregates one batch; work-item i applies recs[prog[i] .. bounds[i+1]) in arrival order and
 * leaves in prog[i] the first record it did not apply (bounds[i+1] when it applied them all).
 *   sl_aggregate_grouped: the host grouped the batch by region, so work-item i holds all of
 *     region i's events and owns region i of the one table. Any PE, any device; the only mode
 *     for sequential PEs.
 *   sl_aggregate_chunked (reduce PEs): the batch is in arrival order, cut into as many
 *     contiguous chunks as the table has copies; work-item i aggregates its chunk into its own
 *     copy i of the table, and sl_merge_copies folds the copies together before any emission.
 *     No host grouping pass: on a CPU device, where host and "device" share the cores, that pass
 *     cost more than the aggregation itself (docs/engine.md).
 * State is updated in place in its slot (measured on PoCL 3.1: copying it to private memory and
 * back on every key change halved the speed).
 * A record whose region has no free slot stops its work-item there: status[0] counts the
 * work-items that stopped, status[1] is 1 + the last region that overflowed. The host then grows
 * the table (sl_rehash) and runs the batch again from prog[]. While status[0] is set, a batch
 * applies nothing at all (every work-item stops at its first record), so that a later batch
 * never overtakes the rest of an earlier one: each key still sees its events in arrival order.
 * Both take the same arguments (copies is the host's table geometry, unused by the kernel).
 * types holds 4 counters per work-item, to which each adds the records it applied in this run,
 * by type (& 3): the engine's counts by type, so that the host need not read the batch for them
 * (a run again after a stop counts only the records it applies then). */
__kernel void sl_aggregate_grouped(__global const sl_record *recs, __global const uint *bounds,
                                   __global uint *prog, __global sl_slot *slots,
                                   __global uint *fill, uint region_slots, uint region_max,
                                   uint pbits, uint copies, __global uint *status,
                                   __global ulong *types)
{
    (void)copies;
    sl_aggregate_run(recs, bounds, prog, slots, fill, region_slots, region_max, pbits, status, 0,
                     types);
}

#ifdef SL_PE_REDUCE
__kernel void sl_aggregate_chunked(__global const sl_record *recs, __global const uint *bounds,
                                   __global uint *prog, __global sl_slot *slots,
                                   __global uint *fill, uint region_slots, uint region_max,
                                   uint pbits, uint copies, __global uint *status,
                                   __global ulong *types)
{
    (void)copies;
    sl_aggregate_run(recs, bounds, prog, slots, fill, region_slots, region_max, pbits, status, 1,
                     types);
}
#endif

/* Moves every key of one sub-table (region r of the old table, old_slots slots) into the same
 * region of a new, larger table (new_slots slots, all empty), state and all. Work-item r owns
 * sub-table r of both: regions x copies work-items in all. The fill counters stay as they are. */
__kernel void sl_rehash(__global const sl_slot *from, uint old_slots, __global sl_slot *to,
                        uint new_slots)
{
    const size_t r = get_global_id(0);
    __global const sl_slot *src = from + r * old_slots;
    __global sl_slot *dst = to + r * new_slots;
    const uint mask = new_slots - 1;
    for (uint h = 0; h < old_slots; h++) {
        const ulong k = src[h].key;
        if (k == SL_EMPTY_KEY)
            continue;
        uint d = sl_slot_index(k, mask);
        while (dst[d].key != SL_EMPTY_KEY)
            d = (d + 1) & mask;
        dst[d] = src[h];
    }
}

#ifdef SL_PE_REDUCE
/* Chunked mode: work-item p merges region p of copies 1.. into copy 0, emptying each slot it
 * moved. When region p of copy 0 has no free slot, the work-item stops (status as for
 * sl_aggregate_grouped) with the rest in place; the host grows the table and runs the merge again.
 */
__kernel void sl_merge_copies(__global sl_slot *slots, __global uint *fill, uint region_slots,
                              uint region_max, uint copies, __global uint *status)
{
    const uint p = get_global_id(0), nparts = get_global_size(0);
    const uint mask = region_slots - 1;
    __global sl_slot *dst = slots + (size_t)p * region_slots;
    for (uint c = 1; c < copies; c++) {
        __global sl_slot *src = slots + ((size_t)c * nparts + p) * region_slots;
        for (uint h = 0; h < region_slots; h++) {
            const ulong k = src[h].key;
            if (k == SL_EMPTY_KEY)
                continue;
#ifdef SL_WINDOW_MS
            const ulong ad_key = src[h].ad_key;
            const long ws = src[h].window_start;
#else
            const ulong ad_key = k;
            const long ws = 0;
#endif
            const uint d = sl_lookup(dst, k, mask, region_max, &fill[p], ad_key, ws);
            if (d > mask) {
                atomic_add(&status[0], 1);
                atomic_max(&status[1], p + 1);
                return;
            }
            sl_merge(&dst[d].s, &src[h].s);
            src[h].key = SL_EMPTY_KEY;
            fill[c * nparts + p] -= 1;
        }
    }
}
#endif

#if defined(SL_PE_REDUCE) && !defined(SL_WINDOW_MS)
/* Combining on a cluster: folds states of this PE made on other nodes (whole slots, in[]; the
 * host grouped them by region, region p's being in[bounds[p] .. bounds[p + 1])) into region p
 * of copy 0 (the table, in grouped mode), from in[prog[p]], with sl_merge. When region p has no
 * free slot the work-item stops (status as for sl_aggregate_grouped) and leaves in prog[p] the
 * first slot it did not fold; the host grows the table and runs it again. */
__kernel void sl_merge_in(__global const sl_slot *in, __global const uint *bounds,
                          __global uint *prog, __global sl_slot *slots, __global uint *fill,
                          uint region_slots, uint region_max, __global uint *status)
{
    const uint p = get_global_id(0), mask = region_slots - 1;
    __global sl_slot *dst = slots + (size_t)p * region_slots;
    uint i = prog[p];
    for (; i < bounds[p + 1]; i++) {
        const ulong k = in[i].key;
        const uint d = sl_lookup(dst, k, mask, region_max, &fill[p], k, 0);
        if (d > mask) {
            atomic_add(&status[0], 1);
            atomic_max(&status[1], p + 1);
            break;
        }
        sl_merge(&dst[d].s, &in[i].s);
    }
    prog[p] = i;
}
#endif

/* Deletes slot i of region rs by backward shift: the later slots of its probe run that may move
 * up do, so linear probing needs no tombstones (with them, a long windowed run filled regions
 * with dead slots and reported a full table far below capacity). The caller
 * owns the region. Slot i ends up holding the next key to examine, or empty. */
void sl_delete(__global sl_slot *rs, uint i, uint mask)
{
    uint j = i;
    for (;;) {
        j = (j + 1) & mask;
        const ulong kj = rs[j].key;
        if (kj == SL_EMPTY_KEY)
            break;
        const uint home = sl_slot_index(kj, mask);
        /* the key at j stays when its home lies cyclically in (i, j] */
        const int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        rs[i] = rs[j];
        i = j;
    }
    rs[i].key = SL_EMPTY_KEY;
}

/* Emits rows for region p of copy 0 into out[] at positions taken from *out_count; rows past
 * out_cap are counted but not written (the host then reports the mismatch).
 * close == 0: every live key (a snapshot; the table is unchanged).
 * close == 1: windowed PEs only: the windows ending at or before close_before, which are then
 * deleted; close_before == LONG_MAX (the end of input) closes every window, also those whose end
 * is past LONG_MAX (a start near 2^62 with a window of 2^62 ms or more). A deletion shifts later
 * slots of the run up into the freed slot, so the same index is examined again; keys only move from
 * later to earlier slots of their run, and a key that wraps past the region's end has been examined
 * already, so every key is seen once. */
__kernel void sl_emit_rows(__global sl_slot *slots, __global uint *fill, uint region_slots,
                           uint close, long close_before, __global sl_row *out, uint out_cap,
                           __global uint *out_count)
{
    const uint p = get_global_id(0);
    __global sl_slot *rs = slots + (size_t)p * region_slots;
    const uint mask = region_slots - 1;
#ifdef SL_WINDOW_MS
    /* windows with window_start + SL_WINDOW_MS <= close_before, without overflow */
    const int close_all = close_before == LONG_MAX;
    const int can_close = close_before >= LONG_MIN + SL_WINDOW_MS;
    const long last_start = can_close ? close_before - SL_WINDOW_MS : LONG_MIN;
#endif
    uint removed = 0;
    for (uint h = 0; h < region_slots;) {
        const ulong k = rs[h].key;
        if (k == SL_EMPTY_KEY) {
            h++;
            continue;
        }
        sl_row row;
#ifdef SL_WINDOW_MS
        if (close && !close_all && (!can_close || rs[h].window_start > last_start)) {
            h++;
            continue;
        }
        row.key = rs[h].ad_key;
        row.window_start = rs[h].window_start;
#else
        if (close) {
            h++;
            continue;
        }
        row.key = k;
        row.window_start = 0;
#endif
        sl_out o;
        for (int c = 0; c < SL_OUT_MAX; c++)
            o.v[c] = 0.0;
        sl_emit(&rs[h].s, &o);
        for (int c = 0; c < SL_OUT_MAX; c++)
            row.v[c] = o.v[c];
        const uint pos = atomic_inc(out_count);
        if (pos < out_cap)
            out[pos] = row;
        if (close) {
            sl_delete(rs, h, mask);
            removed++;
        } else {
            h++;
        }
    }
    fill[p] -= removed;
}

/* Reports the PE's layout to the host: info[0] sizeof(sl_slot), info[1] sizeof(sl_row),
 * info[2] sizeof(sl_state), info[3] shape (1 reduce, 2 sequential), info[4] SL_OUT_MAX,
 * info[5..6] the window length it was built with (low, high 32 bits; 0 without a window),
 * info[7] sizeof(sl_record) (32 + 8 per schema attribute); and
 * the SL_COLUMNS text into cols (cols_len bytes, always terminated). */
__kernel void sl_abi_info(__global uint *info, __global char *cols, uint cols_len)
{
#ifdef SL_WINDOW_MS
    const ulong window = (ulong)SL_WINDOW_MS;
#else
    const ulong window = 0;
#endif
    info[5] = (uint)window;
    info[6] = (uint)(window >> 32);
    info[0] = (uint)sizeof(sl_slot);
    info[1] = (uint)sizeof(sl_row);
    info[2] = (uint)sizeof(sl_state);
    info[3] = SL_SHAPE;
    info[4] = SL_OUT_MAX;
    info[7] = (uint)sizeof(sl_record);
    uint i = 0;
    for (; i + 1 < cols_len && sl_columns[i]; i++)
        cols[i] = sl_columns[i];
    cols[i] = 0;
}
