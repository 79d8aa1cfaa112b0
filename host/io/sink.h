/* The result sink: one common part and a backend per kind (sink.type).
 *
 * The common part maps keys back to ids, sorts an emission's rows by id (byte order) then window
 * start, keeps window and final rows when asked (sl_sink_rows, sl_sink_print_top), numbers the
 * emissions and, in changes mode, drops the rows that did not change. The backends (the table
 * `kinds[]` in sink.c) are:
 *   file   the caller's stream (a file or stdout): CSV with a header, or NDJSON
 *   zmq    a ZeroMQ PUSH socket (netio/push.h): one message per emission (sink_zmq.c)
 *   redis  a Redis server through hiredis: one hash per key (sink_redis.c)
 * docs/config.md has the keys of each kind, docs/output.md the formats.
 *
 * Columns. The PE's (its SL_COLUMNS), after ad_id (campaign_id after a join) and, for windowed
 * PEs, window_start; the built-ins give
 *   ctr           ad_id,impressions,clicks,ctr
 *   count         ad_id,count
 *   sum           ad_id,count,sum
 *   window_count  ad_id,window_start,count
 * A column of format key prints the id its key stands for (CSV-quoted as ad_id is), nothing for
 * key 0, and '#' with 16 lowercase hex digits for a key the dictionary does not hold.
 *
 * Emission metadata. Output with snapshots on, with mode changes, or in NDJSON starts every row
 * with emit (snapshot-N, windows-N or final), emit_seq (1, 2, ... over the emissions written),
 * emit_time_ms (wall clock when the sink received the emission, ms since the epoch) and
 * emit_watermark_ms (the event-time watermark from sl_sink_set_clock; empty in CSV and null in
 * JSON when none is known). A CSV run with snapshots off and mode full writes the plain columns
 * only, as sluice always has; sl_sink_new's sinks write `emit` alone when snapshots are on.
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

/* Sink kinds past enum sl_sink_kind's SL_SINK_FILE: rows of the table in sink.c. */
#define SL_SINK_ZMQ 1
#define SL_SINK_REDIS 2

/* What a watermark callback returns when no watermark is known yet. */
#define SL_SINK_NO_WATERMARK INT64_MIN

/* The name of sink kind `kind` (its sink.type), or NULL past the last kind. */
const char *sl_sink_kind_name(int kind);

/* Checks the sink's kind-specific keys (t->sink.opts) as the kind's backend reads them.
 * Returns 0, or SL_ECONFIG with a message naming the key's line and column. */
int sl_sink_check(const sl_topology *t, char *msg, size_t msglen);

/* Opens the sink t->sink describes (kind, format, mode, snapshots, the kind's keys). The file
 * kind writes to `out`, opened by the caller (NULL: write nothing); other kinds ignore it and
 * connect here (a Redis server that refuses, say, fails here with a message naming its
 * address). `dict` must outlive the sink; `keep` as for sl_sink_new. Returns 0 with the sink in
 * *s, or a negative sl_err (SL_ECONFIG, SL_IO, SL_ENOMEM) with msg. */
int sl_sink_open(const sl_topology *t, FILE *out, const sl_addict *dict, int keep, sl_sink **s,
                 char *msg, size_t msglen);

/* Returns a file sink writing CSV in full mode to `out` (NULL: write nothing), with no emission
 * metadata but the `emit` label column when `snapshots`, or NULL when out of memory. `dict`
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

/* Where emissions get their watermark: watermark(ud) is called on the sink's thread once per
 * emission written and returns the event-time watermark in ms, or SL_SINK_NO_WATERMARK. Without
 * a clock (the default), emit_watermark_ms is empty (CSV) or null (JSON). */
void sl_sink_set_clock(sl_sink *s, int64_t (*watermark)(void *ud), void *ud);

/* An sl_emit_fn: `ud` is the sink. Writes the emission (sorted; in changes mode only the rows
 * whose (key, window) has no row written yet or whose values differ bit for bit from the last
 * one written) and keeps final and window rows (every row, whatever the mode). Returns 0, SL_EIO
 * when the backend failed (sl_sink_message says why; also logged), SL_ENOMEM. */
int sl_sink_emit(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n);

/* Makes what was written visible (emit already does after each emission). Returns 0 or the
 * backend's error. */
int sl_sink_flush(sl_sink *s);

/* Why the last emission failed ("" when it did not). */
const char *sl_sink_message(const sl_sink *s);

/* Rows of SL_EMIT_WINDOWS and SL_EMIT_FINAL emissions so far, when the sink keeps rows:
 * emissions in order, rows within one emission in the order the engine handed them over. */
const sl_row *sl_sink_rows(const sl_sink *s, size_t *n);

/* Writes the top `n` ads by ctr (ties: more impressions first, then ad id) among those with at
 * least `min_impressions`, as an aligned table. The PE must have columns named impressions,
 * clicks and ctr, none of format key. Returns 0, SL_EINVAL (no such columns), SL_ENOMEM or
 * SL_EIO. */
int sl_sink_print_top(const sl_sink *s, FILE *out, size_t n, uint64_t min_impressions);

/* ---- commits: the sink's part in checkpoints (docs/fault-tolerance.md) -------------------
 *
 * A checkpoint is taken between emissions: the caller saves the engines' state, then commits the
 * sink (sl_sink_commit) and keeps its image (sl_sink_save) in the checkpoint. A run resumed from
 * that checkpoint restores the image (sl_sink_restore) and takes the output back to the
 * committed length (sl_sink_rewind) before anything is emitted, so that what the output holds
 * is exactly what a run that never stopped would have written at that point. Per kind:
 *   file   flushed and fsynced; a regular file is truncated back on resume (exactly once); a
 *          pipe or terminal cannot be, and sees the rows after the checkpoint again
 *   redis  every emission's replies are read before the next one, so what was emitted is in
 *          the server; rows after the checkpoint are written again with the same full values
 *          (idempotent)
 *   zmq    nothing to commit: PUSH has no acknowledgement. Rows after the checkpoint are sent
 *          again; messages still queued in the socket when the process died are lost
 * Usable by any caller that writes rows through a sink (a one-process run, a cluster's client);
 * the sink's thread, like every call here. */

/* The descriptor the file kind's stream writes to, for commits (fsync, its offset) and
 * sl_sink_rewind. Needed when the stream has none of its own (fileno -1: an sl_outfile's
 * stream, whose descriptor sl_outfile_fd gives); otherwise fileno(out) is used. */
void sl_sink_set_output_fd(sl_sink *s, int fd);

/* Commits what the sink wrote so far. The file kind flushes its stream and, on a regular file,
 * fsyncs it; *len gets the committed length: the descriptor's offset (for a file opened to
 * append, its end), or for a pipe, a terminal or a stream without a descriptor the bytes the sink
 * wrote (which cannot be truncated back to). Other kinds flush and set *len to 0. Returns 0, or
 * SL_EIO with sl_sink_message (nothing is committed then). */
int sl_sink_commit(sl_sink *s, uint64_t *len);

/* The sink's state at its last commit, into *img (malloc'd, *len bytes; caller frees): the
 * committed length, whether it can be truncated back to, whether the CSV header was written,
 * the emission numbers (emit_seq, snapshot-N, windows-N), and in changes mode the last row
 * written per (key, window), so that a resumed run writes the same rows. Call it right after
 * sl_sink_commit. Returns 0 or SL_ENOMEM. */
int sl_sink_save(const sl_sink *s, unsigned char **img, size_t *len);

/* Loads an image of sl_sink_save into a sink of the same kind, mode and columns that has
 * written nothing yet, and sets *committed to the length to rewind to. The output itself is not
 * touched (sl_sink_rewind). Returns 0, or SL_EINVAL (another mode or layout: msg names it) or
 * SL_EPARSE (not an image of this version), with msg. */
int sl_sink_restore(sl_sink *s, const unsigned char *img, size_t len, uint64_t *committed,
                    char *msg, size_t msglen);

/* Takes the file kind's output back to `len` bytes: truncates the file there and goes on writing
 * at its end (nothing is lost before len, nothing written after it stays). Returns 0 (also for
 * other kinds, and for len 0 on any output); SL_EINVAL when the file is shorter than len (it is
 * not the output the checkpoint committed: say, one opened again with `>` instead of `>>`);
 * SL_EUNSUPPORTED when it cannot be truncated (a pipe, a terminal: the rows after the
 * checkpoint are written again after what it already got); SL_EIO; each with msg. */
int sl_sink_rewind(sl_sink *s, uint64_t len, char *msg, size_t msglen);

/* Closes the backend (the zmq kind waits a bounded time for queued messages) and frees. */
void sl_sink_destroy(sl_sink **sp);

/* Writes the `len` bytes at `id` (NUL bytes allowed) as one CSV field, quoted when they hold a
 * comma, quote, CR or LF. Reads no byte past len. */
void sl_csv_write_field(FILE *out, const char *id, size_t len);

#endif
