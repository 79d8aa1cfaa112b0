/* The sluice side of the benchmark suite: one repetition of a workload through the OpenCL engine
 * or through the C reference (host/reference.h, no OpenCL), fed the same way, with the result
 * rows collected for the comparison and per-stage times, and for windowed runs the latency of
 * every window.
 *
 *   ctr: records in memory -> sl_engine_push in chunks of 65,536 (the chunk of sl_pipeline_run)
 *        -> sl_engine_finish; or the same chunks -> sl_ref_push.
 *   ysb: NDJSON text (fmemopen) -> sl_source (reader, filter: views) -> ad -> campaign through
 *        sl_jointab (a keyless host PE in this module: sluice's topologies join only between
 *        keyed stages) -> window_count per campaign (engine or reference).
 *
 * Latency of a window, as YSB defines it with event time read from a file instead of a clock:
 * the wall time its first result row left the engine minus the wall time the source handed over
 * the first record past the window's end (from then on the window may close; lateness 0). Rows
 * of the final emission (the end of input) are not counted.
 *
 * Runs on the calling thread, which must own the engine. */
#ifndef BENCH_SLUICERUN_H
#define BENCH_SLUICERUN_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "device.h"
#include "engine.h"
#include "event.h"
#include "jointab.h"

typedef struct sr_stats {
    double wall_s;  /* first read .. final rows */
    double parse_s; /* ysb: source reads (reader, parse, ad-id dictionary, filter) */
    double join_s;  /* ysb: the join loop */
    double push_s;  /* sl_engine_push / sl_ref_push calls, finish included */
    sl_engine_stats eng;
    uint64_t input_events; /* lines or records read */
    uint64_t unjoined;
    size_t windows;             /* windows with a latency sample */
    double p50, p99, p999, max; /* ms */
} sr_stats;

/* An engine with the collector its emissions go to. */
typedef struct sr_engine sr_engine;

/* sl_engine_new with this module's emission callback. Returns 0 or an sl_err with msg. */
int sr_engine_new(sl_device *dev, const sl_engine_cfg *cfg, sr_engine **out, char *msg,
                  size_t msglen);
void sr_engine_destroy(sr_engine **ep);

/* ctr through the engine (reset first). Rows sorted by key. Returns 0 or an sl_err with msg. */
int sr_ctr_engine(sr_engine *e, const sl_rec *recs, size_t n, bc_rows *out, sr_stats *st, char *msg,
                  size_t msglen);

/* ctr through the C reference of `pe`. */
int sr_ctr_ref(const sl_pe_cfg *pe, const sl_rec *recs, size_t n, bc_rows *out, sr_stats *st,
               char *msg, size_t msglen);

/* ysb options: rate > 0 paces the source at that many input events per second (the latency
 * sweep); chunk is the number of lines read at a time (0: 4096). */
typedef struct sr_ysb_opts {
    const char *text;
    size_t len;
    const sl_jointab *join;
    int64_t window_ms; /* the engine's window (for the latency of each window) */
    double rate;
    size_t chunk;
} sr_ysb_opts;

/* ysb through the engine `e` (a window_count PE; reset first). */
int sr_ysb_engine(sr_engine *e, const sr_ysb_opts *o, bc_rows *out, sr_stats *st, char *msg,
                  size_t msglen);

/* ysb through the C reference of `pe` (window_count). */
int sr_ysb_ref(const sl_pe_cfg *pe, const sr_ysb_opts *o, bc_rows *out, sr_stats *st, char *msg,
               size_t msglen);

#endif
