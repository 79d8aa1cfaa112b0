/* One interface for what runs a topology's keyed PEs, so that a caller (host/run/pipeline.c)
 * drives any of them through one type: a single engine on one device (engine.h), one PE spread
 * over several devices (multidev.h), or a chain of stages on one device (chain.h). Each is
 * wrapped, with its ownership, into an sl_executor: a table of operations and the object they
 * work on. Records go to the first PE; rows of the last PE go to the on_emit callback the object
 * was created with.
 *
 * An executor belongs to the thread its object belongs to (the engine's or chain's thread, the
 * thread that created the multi): every call below comes from it. */
#ifndef SL_EXECUTOR_H
#define SL_EXECUTOR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "columns.h"
#include "engine.h"
#include "event.h"
#include "multidev.h"

typedef struct sl_executor_stats {
    sl_engine_stats first; /* the first PE's engine; several devices: their total (as
                              sl_multi_stats.total: late and bad-time records counted once) */
    sl_chain_stats chain;  /* every PE's, in order, and what passed between them; one engine or
                              several devices: one stage, holding `first` */
    sl_multi_stats multi;  /* several devices: each one's engine; all zero (ndev 0) otherwise */
} sl_executor_stats;

/* What each kind of executor implements; `impl` is its object. Every function returns as the
 * object's own function does (engine.h, multidev.h, chain.h). */
typedef struct sl_executor_ops {
    const char *name; /* "engine", "devices" or "chain" */
    int (*push)(void *impl, const sl_rec *recs, const uint64_t *attrs, size_t n);
    int (*finish)(void *impl);
    int (*tick)(void *impl, uint32_t max_wait_ms); /* NULL: no timers (tick does nothing) */
    int (*reset)(void *impl);                      /* NULL: not supported (several devices) */
    void (*stats)(const void *impl, sl_executor_stats *st);
    const sl_columns *(*columns)(const void *impl);
    int (*windowed)(const void *impl);
    void (*set_cancel)(void *impl, const volatile sig_atomic_t *flag);
    const char *(*message)(const void *impl);
    void (*destroy)(void *impl);
    /* Where the first PE stages its next records (sl_engine_stage_area); NULL: it has none to
     * offer (several devices). */
    sl_rec *(*stage_area)(void *impl, size_t *room);
} sl_executor_ops;

/* A handle, passed by value: {NULL, NULL} is an empty executor, which only
 * sl_executor_destroy accepts. */
typedef struct sl_executor {
    const sl_executor_ops *ops;
    void *impl;
} sl_executor;

/* Wrap an object, which the executor then owns (sl_executor_destroy destroys it). NULL gives
 * the empty executor. */
sl_executor sl_executor_of_engine(sl_engine *e);
sl_executor sl_executor_of_multi(sl_multi *m);
sl_executor sl_executor_of_chain(sl_chain *ch); /* push feeds stage 0, finish finishes all */

/* Appends n records to the first PE. Returns 0 or a negative sl_err (sl_executor_message
 * explains); after an error the executor accepts nothing more. */
int sl_executor_push(sl_executor *x, const sl_rec *recs, size_t n);

/* As sl_executor_push, with the records' schema attributes (sl_engine_push_attrs; NULL: none)
 * for the first PE. */
int sl_executor_push_attrs(sl_executor *x, const sl_rec *recs, const uint64_t *attrs, size_t n);

/* The first PE's staging area for records written in place (sl_engine_stage_area), then pushed
 * with sl_executor_push from that pointer; NULL with *room 0 when there is none. */
sl_rec *sl_executor_stage_area(sl_executor *x, size_t *room);

/* Pushes what is staged, waits for the devices and emits the final rows (every stage's, in
 * order, for a chain). Returns 0 or a negative sl_err. */
int sl_executor_finish(sl_executor *x);

/* Runs the timers while input is slow or silent (sl_engine_tick: a partial batch older than
 * max_wait_ms is dispatched, every_ms triggers fire, windows close). Several devices:
 * sl_multi_tick (the partial chunks go to their devices, whose threads tick their engines).
 * Returns 0 or a negative sl_err. */
int sl_executor_tick(sl_executor *x, uint32_t max_wait_ms);

/* Discards all state for a new stream, keeping programs and buffers (sl_engine_reset). Returns
 * 0, a negative sl_err, or SL_EUNSUPPORTED for several devices (message unchanged). */
int sl_executor_reset(sl_executor *x);

/* The statistics so far (any time; complete after finish). */
void sl_executor_get_stats(const sl_executor *x, sl_executor_stats *st);

/* The columns of the rows on_emit receives (the last PE's). */
const sl_columns *sl_executor_columns(const sl_executor *x);

/* 1 when the rows on_emit receives are per (key, window). */
int sl_executor_windowed(const sl_executor *x);

/* Makes every wait for a device watch *flag (NULL: none), as sl_engine_set_cancel: once it is
 * nonzero, push, finish or reset fails with SL_ECANCELED within about 50 ms. Call it before the
 * first push. The flag must outlive the executor. */
void sl_executor_set_cancel(sl_executor *x, const volatile sig_atomic_t *flag);

/* The last error's explanation ("" when none). */
const char *sl_executor_message(const sl_executor *x);

/* The kind of executor, for logs: "engine", "devices" or "chain". */
const char *sl_executor_name(const sl_executor *x);

/* Destroys the object (as its own destroy does: a wedged engine is kept, not released) and
 * empties *x. An empty executor is left as it is. */
void sl_executor_destroy(sl_executor *x);

#endif
