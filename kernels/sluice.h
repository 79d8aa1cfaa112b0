/* sluice.h: the kernel ABI that PE sources include (OpenCL C 1.2).
 *
 * A PE file includes this header and defines, in this order of ideas (docs/kernel-abi.md has a
 * worked example):
 *
 *   #define SL_PE_REDUCE       (commutative, associative: counts, sums, sketches)
 *     or
 *   #define SL_PE_SEQUENTIAL   (order matters: decayed rates, sessions)
 *
 *   #define SL_COLUMNS "name[:fmt],..."   output columns after ad_id (at most SL_OUT_MAX);
 *                                          fmt is int, f0..f9 (fixed decimals), g (default,
 *                                          shortest exact form) or key (a 64-bit key stored
 *                                          with as_double; printed as the id it stands for)
 *   typedef struct { ... } sl_state;       one key's state, at most 4096 bytes
 *
 *   void sl_init(__global sl_state *s);                                  a new key's state
 *   void sl_add(__global sl_state *s, const sl_record *r);               reduce: fold one event
 *   void sl_merge(__global sl_state *dst, __global const sl_state *src); reduce: fold a partial
 *   void sl_process(__global sl_state *s, const sl_record *r);           sequential: one event,
 *                                                                        in arrival order per key
 *   void sl_emit(__global const sl_state *s, sl_out *out);               out->v[0..columns)
 *
 * The framework owns hashing, slot lookup, batching, windows, triggers and output, and calls
 * these functions with exclusive access to the state: no atomics are needed in PE code. A reduce
 * PE's partial states may be merged in any grouping, so `add` and `merge` must be commutative and
 * associative; a sequential PE sees each key's events in arrival order, one at a time.
 *
 * Records are 32 bytes, little-endian; host/event.h declares the same layout in C. */
#ifndef SLUICE_H
#define SLUICE_H

#pragma OPENCL EXTENSION cl_khr_fp64 : enable

#define SL_EV_VIEW 0u     /* "view" or "impression" */
#define SL_EV_CLICK 1u    /* "click" */
#define SL_EV_PURCHASE 2u /* "purchase" */
#define SL_EV_OTHER 3u    /* any other event_type */

typedef struct sl_record {
    ulong key;    /* 64-bit key of the ad id (XXH3, fixed seed); never 0 */
    long time_ms; /* event time, ms since the Unix epoch */
    float value;  /* numeric attribute, 0 when the input has none */
    uint type;    /* SL_EV_* */
    ulong user;   /* 64-bit hash of the user id (XXH3, same seed); 0 when the input has none */
} sl_record;

#define SL_OUT_MAX 8

/* What sl_emit fills: one double per column named in SL_COLUMNS. Integers up to 2^53 are
 * exact. A `key` column takes a 64-bit key's bits unchanged, out->v[i] = as_double(k) (0: no
 * key); never compute with such a value, since a key's bits can read as a NaN. */
typedef struct sl_out {
    double v[SL_OUT_MAX];
} sl_out;

#endif
