/* The framework side of every PE: slot lookup, per-region aggregation and emission.
 *
 * Built after sl_abi.h and one PE source, which provides sl_state, sl_init, sl_add, sl_emit,
 * SL_SLOT_KEY and optionally SL_CLOSABLE.
 *
 * Table layout: the key space is cut into P partitions by the top bits of the record key; the
 * host groups each batch by partition, in arrival order, and region p of the table (slots
 * [p*R, (p+1)*R)) belongs to partition p. One work-item walks one partition's events, so every
 * key's events are applied by one work-item in arrival order and no state is shared between
 * work-items: no atomics on state, and sequential PEs work as well as commutative ones. The cost
 * is load balance: a partition holding a very hot key is one work-item's work (docs/engine.md).
 * A slot holds its key and state together, so a lookup touches one cache line (measured on
 * PoCL: separate key and state arrays cost two misses per event and half the speed). Open
 * addressing with linear probing inside a region; fill[p] counts live keys, used[p] live keys
 * plus tombstones, and a region never holds more than region_max used slots, so a probe always
 * ends at an empty slot. */

typedef struct sl_slot {
    ulong key;
    sl_state s;
} sl_slot;

uint sl_slot_index(ulong k, uint mask)
{
    return (uint)(k ^ (k >> 32)) & mask;
}

/* Finds key k in region rs (R = mask + 1 slots), inserting it when absent. Returns its slot
 * index, or mask + 1 when the region has no free slot (region_max slots used). */
uint sl_lookup(__global sl_slot *rs, ulong k, uint mask, uint region_max, __global uint *fill,
               __global uint *used)
{
    const uint none = mask + 1;
    uint h = sl_slot_index(k, mask), tomb = none;
    for (;;) {
        const ulong sk = rs[h].key;
        if (sk == k)
            return h;
        if (sk == SL_EMPTY_KEY)
            break;
        if (sk == SL_TOMBSTONE_KEY && tomb == none)
            tomb = h;
        h = (h + 1) & mask;
    }
    if (tomb != none) {
        h = tomb;
    } else {
        if (*used >= region_max)
            return none;
        *used += 1;
    }
    *fill += 1;
    rs[h].key = k;
    sl_init(&rs[h].s);
    return h;
}

/* Aggregates one batch; work-item i applies recs[bounds[i] .. bounds[i+1]) in arrival order.
 *   grouped (copies == 0): the host grouped the batch by partition, so work-item i holds all
 *     of partition i's events and owns region i of the one table. Any PE, any device.
 *   chunked (copies > 0, reduce PEs): the batch is in arrival order, cut into `copies`
 *     contiguous chunks; work-item i aggregates its chunk into its own copy i of the table
 *     (regions chosen by the top pbits key bits), and sl_merge_copies folds the copies together
 *     before any emission. No host grouping pass: on a CPU device, where host and "device"
 *     share the cores, that pass cost more than the aggregation itself.
 * State is updated in place in its slot (measured on PoCL 3.1: copying it to private memory
 * and back on every key change halved the speed). fill and used hold one counter per region
 * per copy. status[0] counts events that found no free slot (the host fails the run with
 * SL_ETABLEFULL); status[1] is 1 + the region that overflowed. */
__kernel void sl_aggregate(__global const sl_record *recs, __global const uint *bounds,
                           __global sl_slot *slots, __global uint *fill, __global uint *used,
                           uint region_slots, uint region_max, uint pbits, uint copies,
                           __global uint *status)
{
    const uint i0 = get_global_id(0);
    const uint beg = bounds[i0], end = bounds[i0 + 1];
    const uint mask = region_slots - 1;
    const uint nparts = 1u << pbits;
    for (uint i = beg; i < end; i++) {
#ifdef SL_PREFETCH
        if (i + SL_PREFETCH < end) {
            const sl_record ahead = recs[i + SL_PREFETCH];
            const ulong ka = SL_SLOT_KEY(&ahead);
            const uint ra = copies ? (pbits ? (uint)(ahead.key >> (64 - pbits)) : 0) : i0;
            __builtin_prefetch(slots + ((size_t)(copies ? i0 * nparts : 0) + ra) * region_slots +
                               sl_slot_index(ka, mask));
        }
#endif
        const sl_record r = recs[i];
        const ulong k = SL_SLOT_KEY(&r);
        uint region = i0, ctr = i0;
        if (copies) {
            region = pbits ? (uint)(r.key >> (64 - pbits)) : 0;
            ctr = i0 * nparts + region;
        }
        __global sl_slot *rs = slots + ((size_t)(copies ? i0 * nparts : 0) + region) * region_slots;
        const uint h = sl_lookup(rs, k, mask, region_max, &fill[ctr], &used[ctr]);
        if (h > mask) {
            atomic_add(&status[0], 1);
            atomic_max(&status[1], region + 1);
            continue;
        }
        sl_add(&rs[h].s, &r);
    }
}

#ifdef SL_REDUCE
/* Chunked mode: work-item p merges region p of copies 1.. into copy 0 and empties them. */
__kernel void sl_merge_copies(__global sl_slot *slots, __global uint *fill, __global uint *used,
                              uint region_slots, uint region_max, uint copies,
                              __global uint *status)
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
            src[h].key = SL_EMPTY_KEY;
            if (k == SL_TOMBSTONE_KEY)
                continue;
            const uint d = sl_lookup(dst, k, mask, region_max, &fill[p], &used[p]);
            if (d > mask) {
                atomic_add(&status[0], 1);
                atomic_max(&status[1], p + 1);
                continue;
            }
            sl_merge(&dst[d].s, &src[h].s);
        }
        fill[c * nparts + p] = 0;
        used[c * nparts + p] = 0;
    }
}
#endif

/* Emits rows for region p of copy 0 into out[] at positions taken from *out_count.
 * Rows past out_cap are counted but not written (the host then reports the mismatch).
 * close == 0: every live key (a snapshot; the table is unchanged).
 * close == 1: only states for which SL_CLOSABLE(state, close_before) holds; they are deleted
 * (tombstoned), and tombstones directly before an empty slot become empty again. */
__kernel void sl_emit_rows(__global sl_slot *slots, __global uint *fill, __global uint *used,
                           uint region_slots, uint close, long close_before,
                           __global sl_result *out, uint out_cap, __global uint *out_count)
{
    const uint p = get_global_id(0);
    __global sl_slot *rs = slots + (size_t)p * region_slots;
    const uint mask = region_slots - 1;
    uint removed = 0;
    for (uint h = 0; h < region_slots; h++) {
        const ulong k = rs[h].key;
        if (k == SL_EMPTY_KEY || k == SL_TOMBSTONE_KEY)
            continue;
        __global const sl_state *s = &rs[h].s;
#ifdef SL_CLOSABLE
        if (close && !SL_CLOSABLE(s, close_before))
            continue;
#else
        if (close)
            continue;
#endif
        sl_result res;
        sl_emit(k, s, &res);
        const uint pos = atomic_inc(out_count);
        if (pos < out_cap)
            out[pos] = res;
        if (close) {
            rs[h].key = SL_TOMBSTONE_KEY;
            removed++;
        }
    }
    if (removed == 0)
        return;
    fill[p] -= removed;
    uint freed = 0;
    for (uint h = region_slots; h-- > 0;)
        if (rs[h].key == SL_TOMBSTONE_KEY && rs[(h + 1) & mask].key == SL_EMPTY_KEY) {
            rs[h].key = SL_EMPTY_KEY;
            freed++;
        }
    used[p] -= freed;
}

/* Reports the PE's layout to the host: out[0] = sizeof(sl_slot), out[1] = sizeof(sl_result). */
__kernel void sl_abi_info(__global uint *out)
{
    out[0] = (uint)sizeof(sl_slot);
    out[1] = (uint)sizeof(sl_result);
}
