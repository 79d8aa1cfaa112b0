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
 * Records are 32 bytes, little-endian, plus 8 bytes per schema attribute; host/event.h declares
 * the 32 in C. */
#ifndef SLUICE_H
#define SLUICE_H

#pragma OPENCL EXTENSION cl_khr_fp64 : enable

#define SL_EV_VIEW 0u     /* "view" or "impression" */
#define SL_EV_CLICK 1u    /* "click" */
#define SL_EV_PURCHASE 2u /* "purchase" */
#define SL_EV_OTHER 3u    /* any other event_type */

/* The record: 32 bytes, then one member per field of the topology's schema.attributes, in
 * its order, under the field's own name: a double for a double field, a long for int64, bool
 * (0/1) and time (ms) fields; 0 when a line lacks an optional one. The framework defines
 * SL_ATTRk (the name) and SL_ATTRk_T (the type) for them when it builds the PE
 * (docs/kernel-abi.md, "Attributes"); `sluice kernel check --attr NAME:TYPE` does the same. */
typedef struct sl_record {
    ulong key;    /* 64-bit key of the ad id (XXH3, fixed seed); never 0 */
    long time_ms; /* event time, ms since the Unix epoch */
    float value;  /* numeric attribute, 0 when the input has none */
    uint type;    /* SL_EV_* */
    ulong user;   /* 64-bit hash of the user id (XXH3, same seed); 0 when the input has none */
#ifdef SL_ATTR0
    SL_ATTR0_T SL_ATTR0;
#endif
#ifdef SL_ATTR1
    SL_ATTR1_T SL_ATTR1;
#endif
#ifdef SL_ATTR2
    SL_ATTR2_T SL_ATTR2;
#endif
#ifdef SL_ATTR3
    SL_ATTR3_T SL_ATTR3;
#endif
#ifdef SL_ATTR4
    SL_ATTR4_T SL_ATTR4;
#endif
#ifdef SL_ATTR5
    SL_ATTR5_T SL_ATTR5;
#endif
#ifdef SL_ATTR6
    SL_ATTR6_T SL_ATTR6;
#endif
#ifdef SL_ATTR7
    SL_ATTR7_T SL_ATTR7;
#endif
} sl_record;

/* The event's value as the built-in PEs read it: the value field at full width when it is also
 * an attribute (SL_VALUE_ATTR, its name), else the 32-bit `value`. */
#ifdef SL_VALUE_ATTR
#define SL_VALUE(r) ((double)(r)->SL_VALUE_ATTR)
#else
#define SL_VALUE(r) ((double)(r)->value)
#endif

#define SL_OUT_MAX 8

/* What sl_emit fills: one double per column named in SL_COLUMNS. Integers up to 2^53 are
 * exact. A `key` column takes a 64-bit key's bits unchanged, out->v[i] = as_double(k) (0: no
 * key); never compute with such a value, since a key's bits can read as a NaN. */
typedef struct sl_out {
    double v[SL_OUT_MAX];
} sl_out;

#endif
