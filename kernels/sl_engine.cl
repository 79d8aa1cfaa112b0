/* The framework side of every PE: slot lookup, per-region aggregation and emission.
 *
 * Built after sl_abi.h and one PE source, which provides sl_state, sl_init, sl_add, sl_emit,
 * SL_SLOT_KEY and optionally SL_CLOSABLE.
 *
 * Table layout: the key space is cut into P partitions by the top bits of the record key; the
 * host groups each batch by partition, in arrival order, and region p of the table (slots
 * [p*R, (p+1)*R) of keys[] and states[]) belongs to partition p. One work-item walks one
 * partition's events, so every key's events are applied by one work-item in arrival order and
 * no state is shared between work-items: no atomics on state, and sequential PEs work as well as
 * commutative ones. The cost is load balance: a partition holding a very hot key is one
 * work-item's work (see docs/engine.md). Open addressing with linear probing inside a region;
 * fill[p] counts live keys, used[p] live keys plus tombstones, and a region never holds more
 * than region_max used slots, so a probe always ends at an empty slot. */

uint sl_slot_index(ulong k, uint mask)
{
    return (uint)(k ^ (k >> 32)) & mask;
}

/* status[0]: events that found no free slot (the host turns this into SL_ETABLEFULL);
 * status[1]: 1 + the region that overflowed. */
__kernel void sl_aggregate(__global const sl_record *recs, __global const uint *bounds,
                           __global ulong *keys, __global sl_state *states, __global uint *fill,
                           __global uint *used, uint region_slots, uint region_max,
                           __global uint *status)
{
    const uint p = get_global_id(0);
    const uint beg = bounds[p], end = bounds[p + 1];
    if (beg == end)
        return;
    __global ulong *rk = keys + (size_t)p * region_slots;
    __global sl_state *rs = states + (size_t)p * region_slots;
    const uint mask = region_slots - 1;
    uint nfill = fill[p], nused = used[p];
    ulong cur = SL_EMPTY_KEY;
    uint slot = 0;
    sl_state st;
    sl_init(&st);
    for (uint i = beg; i < end; i++) {
        const sl_record r = recs[i];
        const ulong k = SL_SLOT_KEY(&r);
        if (k != cur) {
            if (cur != SL_EMPTY_KEY)
                rs[slot] = st;
            uint h = sl_slot_index(k, mask);
            uint tomb = region_slots;
            for (;;) {
                const ulong sk = rk[h];
                if (sk == k) {
                    st = rs[h];
                    break;
                }
                if (sk == SL_EMPTY_KEY) {
                    if (tomb != region_slots) {
                        h = tomb;
                    } else if (nused >= region_max) {
                        atomic_add(&status[0], end - i);
                        atomic_max(&status[1], p + 1);
                        fill[p] = nfill;
                        used[p] = nused;
                        return;
                    } else {
                        nused++;
                    }
                    rk[h] = k;
                    nfill++;
                    sl_init(&st);
                    break;
                }
                if (sk == SL_TOMBSTONE_KEY && tomb == region_slots)
                    tomb = h;
                h = (h + 1) & mask;
            }
            slot = h;
            cur = k;
        }
        sl_add(&st, &r);
    }
    rs[slot] = st;
    fill[p] = nfill;
    used[p] = nused;
}

/* Emits rows for region p into out[] at positions taken from *out_count.
 * Rows past out_cap are counted but not written (the host then reports the mismatch).
 * close == 0: every live key (a snapshot; the table is unchanged).
 * close == 1: only states for which SL_CLOSABLE(state, close_before) holds; they are deleted
 * (tombstoned), and tombstones directly before an empty slot become empty again. */
__kernel void sl_emit_rows(__global ulong *keys, __global const sl_state *states,
                           __global uint *fill, __global uint *used, uint region_slots, uint close,
                           long close_before, __global sl_result *out, uint out_cap,
                           __global uint *out_count)
{
    const uint p = get_global_id(0);
    __global ulong *rk = keys + (size_t)p * region_slots;
    __global const sl_state *rs = states + (size_t)p * region_slots;
    const uint mask = region_slots - 1;
    uint removed = 0;
    for (uint h = 0; h < region_slots; h++) {
        const ulong k = rk[h];
        if (k == SL_EMPTY_KEY || k == SL_TOMBSTONE_KEY)
            continue;
        const sl_state s = rs[h];
#ifdef SL_CLOSABLE
        if (close && !SL_CLOSABLE(&s, close_before))
            continue;
#else
        if (close)
            continue;
#endif
        sl_result res;
        sl_emit(k, &s, &res);
        const uint pos = atomic_inc(out_count);
        if (pos < out_cap)
            out[pos] = res;
        if (close) {
            rk[h] = SL_TOMBSTONE_KEY;
            removed++;
        }
    }
    if (removed == 0)
        return;
    fill[p] -= removed;
    uint freed = 0;
    for (uint h = region_slots; h-- > 0;)
        if (rk[h] == SL_TOMBSTONE_KEY && rk[(h + 1) & mask] == SL_EMPTY_KEY) {
            rk[h] = SL_EMPTY_KEY;
            freed++;
        }
    used[p] -= freed;
}

/* Reports the PE's layout to the host: out[0] = sizeof(sl_state), out[1] = sizeof(sl_result). */
__kernel void sl_abi_info(__global uint *out)
{
    out[0] = (uint)sizeof(sl_state);
    out[1] = (uint)sizeof(sl_result);
}
