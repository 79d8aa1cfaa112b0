/* Baselines of the benchmark suite: plain C hash aggregations written the way one would by hand,
 * one thread and several (pthreads, keys partitioned across threads), computing exactly what
 * sluice computes so that their rows can be compared with the engine's one for one.
 *
 *   ctr: per ad key, impressions (type view) and clicks; a row for every key seen, whatever its
 *        event types: v[0] impressions, v[1] clicks, v[2] clicks / impressions (0 without
 *        impressions), as kernels/pe_ctr.cl and host/reference.c.
 *   ysb: NDJSON text -> sl_ndjson_parse -> keep views -> ad -> campaign (unknown ads dropped)
 *        -> event-time tumbling window count per campaign, with the engine's late rule
 *        (lateness 0: an event whose window ended at or before the largest earlier time is
 *        dropped): key = campaign key, window_start, v[0] = count.
 *
 * Rows come back malloc'd and sorted by (key, window_start) (sl_row_cmp_key). Tables and
 * buffers live in a workspace that keeps them from one run to the next: the first run
 * allocates (and first-touches) them, later runs clear and reuse them, as sluice's engine
 * allocates at creation and clears at reset. A workspace belongs to one caller thread at a
 * time; the multi-threaded functions start and join their own threads. */
#ifndef BENCH_BASELINES_H
#define BENCH_BASELINES_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h" /* sl_row */
#include "event.h"

typedef struct bl_ws bl_ws;

/* A new empty workspace, or NULL when out of memory. */
bl_ws *bl_ws_new(void);
void bl_ws_destroy(bl_ws **wp);

/* ad key -> campaign key, open addressing; read-only once built. */
typedef struct bl_join bl_join;

/* Builds a join from n pairs. Returns NULL when out of memory. */
bl_join *bl_join_new(const uint64_t *ads, const uint64_t *campaigns, size_t n);
void bl_join_destroy(bl_join **jp);

/* What a ysb baseline saw besides its rows. */
typedef struct bl_ysb_stats {
    uint64_t lines, bad, views, unjoined, late;
} bl_ysb_stats;

/* One thread, CTR over n records; keys_hint sizes the table (it grows past it). Returns 0 with
 * *rows / *nrows, or SL_ENOMEM. */
int bl_ctr_single(bl_ws *ws, const sl_rec *recs, size_t n, size_t keys_hint, sl_row **rows,
                  size_t *nrows);

/* The lean form of a CTR record for bl_ctr_lean: 16 bytes, as a hand-written counter would keep
 * its input (sl_rec carries time, value and user as well: 32 bytes). */
typedef struct bl_rec16 {
    uint64_t key;
    uint32_t type; /* enum sl_evtype */
    uint32_t pad;
} bl_rec16;

/* A new array of n lean records copied from recs (the caller frees it), or NULL when out of
 * memory. */
bl_rec16 *bl_rec16_from(const sl_rec *recs, size_t n);

/* One thread, CTR over n lean records with 16-byte slots (key, 32-bit impressions and clicks):
 * the tightest form of bl_ctr_single's loop. Same rows as bl_ctr_single. Returns 0, SL_ENOMEM,
 * or SL_EINVAL when n does not fit the 32-bit counters. */
int bl_ctr_lean(bl_ws *ws, const bl_rec16 *recs, size_t n, size_t keys_hint, sl_row **rows,
                size_t *nrows);

/* `threads` threads: each scatters its contiguous share of the records by key owner, then each
 * aggregates the keys it owns from every share (a partitioned hash aggregation; no locks or
 * atomics on the tables). Returns 0, SL_ENOMEM, or SL_EINVAL when threads is 0 or over 64. */
int bl_ctr_multi(bl_ws *ws, const sl_rec *recs, size_t n, size_t keys_hint, unsigned threads,
                 sl_row **rows, size_t *nrows);

/* Receives one event that ysb counts: a view of a joined ad that is not late. Returns 0 or a
 * negative sl_err to stop. */
typedef int (*bl_ysb_fn)(void *ud, uint64_t campaign, int64_t window_start);

/* Walks the NDJSON text as bl_ysb_single does (parse, filter, join, late rule) and hands each
 * counted event to fn, in order. Returns 0, fn's error, or SL_ENOMEM. */
int bl_ysb_each(bl_ws *ws, const char *text, size_t len, const bl_join *join, int64_t window_ms,
                bl_ysb_fn fn, void *ud, bl_ysb_stats *st);

/* One thread, ysb over `len` bytes of NDJSON text (lines end with '\n'; the last one may not),
 * window_ms > 0. Returns 0 or SL_ENOMEM; *st gets the counters. */
int bl_ysb_single(bl_ws *ws, const char *text, size_t len, const bl_join *join, int64_t window_ms,
                  sl_row **rows, size_t *nrows, bl_ysb_stats *st);

/* `threads` threads: each parses a contiguous range of lines; the late rule is applied with the
 * largest time of the earlier ranges carried in; then keys are partitioned across threads as in
 * bl_ctr_multi. Same results as bl_ysb_single. */
int bl_ysb_multi(bl_ws *ws, const char *text, size_t len, const bl_join *join, int64_t window_ms,
                 unsigned threads, sl_row **rows, size_t *nrows, bl_ysb_stats *st);

/* Floor of t to a multiple of w (w > 0), as the engine computes window starts. */
int64_t bl_window_start(int64_t t, int64_t w);

/* Compares two sorted row sets on key, window_start and the first `ncols` values (exactly).
 * Returns 1 when equal; otherwise 0 with a description of the first difference in `why`. */
int bl_rows_equal(const sl_row *a, size_t na, const sl_row *b, size_t nb, int ncols, char *why,
                  size_t whylen);

#endif
