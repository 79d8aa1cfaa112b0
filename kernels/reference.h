/* Plain C reference of every built-in PE: one thread, one open-addressing hash table, records
 * applied in arrival order. The tests compare the OpenCL engine with it, and the benchmarks use it
 * as the single-thread C baseline. Semantics match kernels/pe_*.cl and the engine's late-event
 * rule for windows, written independently of them.
 *
 * A reference belongs to one thread. */
#ifndef SL_REFERENCE_H
#define SL_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "topology.h"
#include "engine.h"
#include "event.h"

typedef struct sl_ref sl_ref;

/* Returns a reference PE for the built-in `pe` (kind, prior, window_ms, lateness_ms are used;
 * capacity and triggers are not), or NULL when out of memory, the configuration is invalid or
 * the kind is SL_PE_USER. Rows carry the built-ins' columns: count v[0]; sum v[0] count, v[1]
 * sum; ctr v[0] impressions, v[1] clicks, v[2] ctr; window_count v[0] (counts are exact doubles
 * below 2^53). */
sl_ref *sl_ref_new(const sl_pe_cfg *pe);

/* Applies n records in order. Returns 0 or SL_ENOMEM. */
int sl_ref_push(sl_ref *r, const sl_rec *recs, size_t n);

/* Returns the current result rows in *rows (malloc'd, caller frees; sorted by key, then
 * window_start) and their number in *n: every key, or every window including those the engine
 * would already have closed. Returns 0 or SL_ENOMEM. */
int sl_ref_rows(const sl_ref *r, sl_row **rows, size_t *n);

/* Window PE: records dropped as late. */
uint64_t sl_ref_late(const sl_ref *r);

/* Window PE: records dropped for a time beyond +-SL_WINDOW_TIME_LIMIT. */
uint64_t sl_ref_bad_time(const sl_ref *r);

/* Number of distinct keys (or windows) seen. */
size_t sl_ref_count(const sl_ref *r);

void sl_ref_destroy(sl_ref **rp);

/* qsort comparator for sl_row by (key, window_start). */
int sl_row_cmp_key(const void *a, const void *b);

#endif
