/* sluice kernel ABI: the record layout that crosses between host and device.
 *
 * This header is OpenCL C. host/event.h declares the same layout in C11 and checks it with
 * static asserts; change both together. A record is 24 bytes, little-endian:
 *   offset 0  key      64-bit key (XXH3 of the ad id, never 0)
 *   offset 8  time_ms  event time, milliseconds since the Unix epoch
 *   offset 16 value    numeric attribute (for example a purchase amount)
 *   offset 20 type     SL_EV_VIEW, SL_EV_CLICK, SL_EV_PURCHASE or SL_EV_OTHER */
#ifndef SL_ABI_H
#define SL_ABI_H

#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#pragma OPENCL EXTENSION cl_khr_global_int32_base_atomics : enable

#define SL_EV_VIEW 0u
#define SL_EV_CLICK 1u
#define SL_EV_PURCHASE 2u
#define SL_EV_OTHER 3u

#define SL_EMPTY_KEY 0ul
#define SL_TOMBSTONE_KEY 0xfffffffffffffffful

typedef struct sl_record {
    ulong key;
    long time_ms;
    float value;
    uint type;
} sl_record;

/* One output row of a PE, 40 bytes; host/engine.h declares the same layout as sl_row.
 * Built-in PEs use the fields as follows:
 *   count:        n0 = events
 *   sum:          n0 = events, x = sum of value (double, added in arrival order)
 *   ctr:          n0 = impressions (views), n1 = clicks, x = ctr
 *   window_count: window_start = window start (ms), n0 = events in the window */
typedef struct sl_result {
    ulong key;
    long window_start;
    ulong n0;
    ulong n1;
    double x;
} sl_result;

#endif
