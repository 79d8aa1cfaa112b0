/* The CSV result sink: maps keys back to ad ids and writes rows sorted by ad id (byte order),
 * then window start. The columns are the PE's (its SL_COLUMNS), after ad_id and, for windowed
 * PEs, window_start; the built-ins give
 *   ctr           ad_id,impressions,clicks,ctr
 *   count         ad_id,count
 *   sum           ad_id,count,sum
 *   window_count  ad_id,window_start,count
 * With snapshots on, every row starts with an `emit` column: snapshot-N, windows-N or final.
 * A column of format key prints the id its key stands for (CSV-quoted as ad_id is), nothing for
 * key 0, and '#' with 16 lowercase hex digits for a key the dictionary does not hold.
 *
 * A sink belongs to the engine's thread. */
#ifndef SL_SINK_H
#define SL_SINK_H

#include <stdio.h>

#include "addict.h"
#include "columns.h"
#include "event.h"
#include "topology.h"

typedef struct sl_sink sl_sink;

/* The name of sink kind `kind` (its sink.type), or NULL past the last kind. */
const char *sl_sink_kind_name(int kind);

/* Checks the sink's kind-specific keys (t->sink.opts) as the kind's backend reads them.
 * Returns 0, or SL_ECONFIG with a message naming the key's line and column. */
int sl_sink_check(const sl_topology *t, char *msg, size_t msglen);

/* Returns a sink writing to `out` (NULL: write nothing), or NULL when out of memory. `dict`
 * must outlive the sink. Snapshots are written only when `snapshots`. With `keep`, window and
 * final rows are also kept in memory for sl_sink_rows and sl_sink_print_top (memory grows with
 * every row emitted: only for bounded runs). sl_sink_set_layout must be called before the first
 * emission. */
sl_sink *sl_sink_new(FILE *out, const sl_addict *dict, int snapshots, int keep);

/* Names the key column ("ad_id" by default; "campaign_id" after a join). At most 47 bytes,
 * a valid column name. */
void sl_sink_set_key_name(sl_sink *s, const char *name);

/* Sets the output columns (copied) and whether rows carry a window start. */
void sl_sink_set_layout(sl_sink *s, const sl_columns *cols, int windowed);

/* An sl_emit_fn: `ud` is the sink. Writes the emission (sorted) and keeps final and window
 * rows. Returns 0, SL_EIO on a write error, SL_ENOMEM. */
int sl_sink_emit(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n);

/* Rows of SL_EMIT_WINDOWS and SL_EMIT_FINAL emissions so far, when the sink keeps rows:
 * emissions in order, rows within one emission in the order the engine handed them over. */
const sl_row *sl_sink_rows(const sl_sink *s, size_t *n);

/* Writes the top `n` ads by ctr (ties: more impressions first, then ad id) among those with at
 * least `min_impressions`, as an aligned table. The PE must have columns named impressions,
 * clicks and ctr, none of format key. Returns 0, SL_EINVAL (no such columns), SL_ENOMEM or
 * SL_EIO. */
int sl_sink_print_top(const sl_sink *s, FILE *out, size_t n, uint64_t min_impressions);

void sl_sink_destroy(sl_sink **sp);

/* Writes the `len` bytes at `id` (NUL bytes allowed) as one CSV field, quoted when they hold a
 * comma, quote, CR or LF. Reads no byte past len. */
void sl_csv_write_field(FILE *out, const char *id, size_t len);

#endif
