/* The single-node engine: batcher, dispatcher, device-resident state table and output triggers
 * for one keyed PE on one OpenCL device.
 *
 * Data path: sl_engine_push copies records into a staging batch (or, for whole batches, reads
 * the caller's array directly); a full batch is grouped by key partition (top bits of the key,
 * stable, so each key keeps its arrival order) into one of two pinned host buffers
 * (CL_MEM_ALLOC_HOST_PTR); the aggregation kernel for that batch is enqueued behind the buffer's
 * unmap (and, on devices without host-unified memory, a copy to device memory), and the host goes
 * on filling the other buffer while the device works. Triggers emit snapshots every N events and
 * every T ms; window PEs emit windows as the watermark closes them; sl_engine_finish emits the
 * final, complete result.
 *
 * Watchdog: every wait for the device (a batch, an emission, a merge, a reset, the teardown) is
 * bounded by pe.timeout_ms (config.h; 0 = no limit) and can be cancelled with a flag
 * (sl_engine_set_cancel), because a kernel that never returns cannot be stopped. A wait that
 * passes the limit fails with SL_ETIMEOUT, and one cancelled with SL_ECANCELED; in both cases the
 * kernel may still run, so the engine and its device are "wedged" (sl_device_wedged): the engine
 * refuses every further call, sl_engine_destroy and sl_device_close keep the OpenCL objects and
 * buffers instead of releasing them (a release would wait for the kernel, maybe forever), and the
 * process should report the error and exit. A kernel cannot be killed: exiting the process is
 * the only way to get the CPU (PoCL) or device back.
 *
 * An engine and its device belong to one thread: every call below must come from it. */
#ifndef SL_ENGINE_H
#define SL_ENGINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"
#include "columns.h"
#include "hist.h"
#include "topology.h"
#include "device.h"
#include "event.h"
#include "watermark.h" /* the late-event rule, SL_WINDOW_TIME_LIMIT */

/* How a batch reaches the work-items (see kernels/sl_engine.cl). */
enum sl_dispatch_mode {
    SL_DISPATCH_AUTO = 0,    /* chunked on CPU devices, grouped elsewhere */
    SL_DISPATCH_GROUPED = 1, /* the host groups each batch by key partition; work-item p owns
                                partition p's keys and sees their events in arrival order */
    SL_DISPATCH_CHUNKED = 2  /* the host copies the batch as is; each of `compute units`
                                work-items aggregates one contiguous chunk into its own copy of
                                the table, and the copies are merged before each emission */
};

typedef struct sl_engine_cfg {
    sl_pe_cfg pe;
    uint32_t batch_events; /* records per device batch; 0 = 262,144 */
    uint32_t partitions; /* table regions, power of two 1..4096; 0 = 64 on CPU devices, else 1024 */
    uint32_t copies;     /* chunked mode: table copies (work-items); 0 = compute units */
    enum sl_dispatch_mode mode;
    int no_overlap; /* 1: wait for each batch before filling the next (for comparisons) */
} sl_engine_cfg;

typedef struct sl_engine_stats {
    uint64_t events_in;       /* records pushed */
    uint64_t events_in_place; /* of them, written by the caller into the batch buffer
                                 (sl_engine_stage_area): no copy on the host */
    uint64_t events_lent;     /* of them, read by the device where the caller keeps them
                                 (sl_engine_push_lent): no copy on the host */
    uint64_t events_late;     /* window PE: records dropped as late (counted, never applied) */
    uint64_t events_bad_time; /* windowed PEs: dropped, time beyond +-SL_WINDOW_TIME_LIMIT */
    uint64_t batches;         /* batches dispatched */
    uint64_t type_counts[SL_EV_NTYPES]; /* records pushed, by event type */
    uint64_t keys;         /* live keys (or open windows) after the last completed batch; in
                              chunked mode the largest copy's count until an emission merges */
    uint64_t emissions;    /* emissions delivered */
    uint64_t rows_emitted; /* rows delivered */
    double t_batch;        /* seconds: host batching (copy or grouping) into pinned buffers */
    double t_transfer;     /* seconds: device transfers (profiling events) */
    double t_kernel;       /* seconds: aggregation kernels (profiling events) */
    double t_emit;         /* seconds: emission (kernel, read back, callback) */
    uint64_t table_slots;  /* slots in the state table now (all regions and copies) */
    uint64_t table_grows;  /* times the table grew (moving every key into a larger one) */
    double t_grow;         /* seconds: enqueueing growth (the device's work shows in the rest) */
    double t_wait;         /* seconds batches waited: from each batch's oldest record's arrival
                              to its aggregation being enqueued (staging until the batch fills or
                              batch.max_wait_ms passes, then a free buffer while the device is
                              behind), summed over batches */
    /* Per batch (emission): the same stages' durations as histograms, for the metrics */
    sl_hist h_batch, h_transfer, h_kernel, h_emit, h_wait;
    sl_late_log late_log; /* windowed PEs: the last few records counted in events_late or
                             events_bad_time, with the watermark that refused them */
} sl_engine_stats;

typedef struct sl_engine sl_engine;

/* Builds the PE's program and allocates the state table and batch buffers on `dev` (which must
 * outlive the engine). Returns 0 with *out set, or SL_EINVAL / SL_ERANGE (bad configuration),
 * SL_EBUILD, SL_ECL, SL_ENOMEM, SL_EUNSUPPORTED (device lacks fp64); `msg` says why, and for
 * SL_EBUILD holds the build log's first part. */
int sl_engine_new(sl_device *dev, const sl_engine_cfg *cfg, sl_emit_fn on_emit, void *ud,
                  sl_engine **out, char *msg, size_t msglen);

/* Appends n records. Dispatches batches and fires triggers as they fill. Returns 0 or a
 * negative sl_err (SL_ETABLEFULL, SL_ECL, SL_ETIMEOUT, SL_ECANCELED, or the emit callback's
 * code); after an error the engine accepts nothing more and sl_engine_message() explains. */
int sl_engine_push(sl_engine *e, const sl_rec *recs, size_t n);

/* As sl_engine_push, with each record's schema attributes: pe.nattrs 64-bit words per record
 * (sl_reader_attrs' layout), which the kernels see as sl_record's members after `user`. attrs
 * NULL gives zeros; an engine without attributes ignores them. */
int sl_engine_push_attrs(sl_engine *e, const sl_rec *recs, const uint64_t *attrs, size_t n);

/* As sl_engine_push, for records that stay where they are, unchanged, until sl_engine_finish
 * (or sl_engine_reset, or sl_engine_destroy) returns: the device reads them in place
 * (CL_MEM_USE_HOST_PTR), in batches of at most batch_events, so the host copies nothing. For
 * an in-memory source that holds its whole input (the benchmarks). Where the engine cannot
 * lend (grouped dispatch, a windowed PE, schema attributes, a device without host-unified
 * memory) it is sl_engine_push. Records staged by earlier pushes are dispatched first. */
int sl_engine_push_lent(sl_engine *e, const sl_rec *recs, size_t n);

/* Where the next records pushed would be staged, for a caller that writes them there itself
 * (a source reading straight into the batch): the current pinned batch buffer, with room for
 * *room records (the batch's rest, or less when a count trigger falls sooner). The caller
 * writes n <= *room records from the returned pointer and then calls sl_engine_push with that
 * pointer and n, which copies nothing. The area is valid until that push or any other call on
 * the engine. NULL (*room 0) when the engine stages in memory of its own (grouped dispatch, a
 * windowed PE, schema attributes) or has failed: push a buffer of the caller's then. */
sl_rec *sl_engine_stage_area(sl_engine *e, size_t *room);

/* Runs the engine's timers without input: dispatches the staged records once the oldest has
 * waited max_wait_ms (batch.max_wait_ms), and fires the PE's every_ms trigger when due (also
 * every_events, which push fires itself). Call it often (the ingest loop does, every few ms)
 * so that results keep flowing while input is slow or silent. Returns 0 or a negative sl_err. */
int sl_engine_tick(sl_engine *e, uint32_t max_wait_ms);

/* Windowed PEs: raises the watermark as a record of event time time_ms would (watermark.h),
 * without one; when that closes windows, the staged records are dispatched and the closed
 * windows emitted. For a caller that applies the late rule on a wider stream than the engine
 * sees (several devices, multidev.h): every record pushed afterwards must be on time under the
 * raised watermark. A time at or below the watermark, beyond +-SL_WINDOW_TIME_LIMIT, or an
 * engine whose PE is not windowed: nothing. Returns 0 or a negative sl_err as for push. */
int sl_engine_advance(sl_engine *e, int64_t time_ms);

/* Aligns the PE's every_ms trigger to a clock shared with other processes (sl_trigger_align,
 * host/engine/trigger.h): offset_s is that clock less CLOCK_MONOTONIC. A cluster node passes the
 * wall clock's, so that every node's snapshots of a job are taken at the same moments. Kept over
 * sl_engine_reset. No effect without every_ms. */
void sl_engine_align_timer(sl_engine *e, double offset_s);

/* Dispatches what is staged, waits for the device, and emits the final result. Returns 0 or a
 * negative sl_err as for sl_engine_push. */
int sl_engine_finish(sl_engine *e);

/* The PE's output columns, as its SL_COLUMNS declares them. */
const sl_columns *sl_engine_columns(const sl_engine *e);

/* 1 when rows are per (key, window): window_start is then meaningful. */
int sl_engine_windowed(const sl_engine *e);

/* 1 for a sequential PE (SL_PE_SEQUENTIAL), 0 for a reduce PE. */
int sl_engine_sequential(const sl_engine *e);

/* The engine's program as a sluice PE binary (host/device/pebin.h: the device binary in a
 * checked container; what `sluice kernel build` writes; sl_peprog_binary), in *bin (malloc'd,
 * caller frees). Returns 0, SL_ECL or SL_ENOMEM. */
int sl_engine_program_binary(const sl_engine *e, unsigned char **bin, size_t *len);

/* sizeof(sl_state) of the PE on this device. */
size_t sl_engine_state_size(const sl_engine *e);

/* Waits for the device, discards every key's state, staged records, triggers and statistics, and
 * keeps the program and buffers, so that a new stream costs no setup. Works after an error
 * too (the error is cleared), except on a wedged engine (SL_ETIMEOUT: see above). Returns 0,
 * SL_ECL, SL_ETIMEOUT or SL_ECANCELED. */
int sl_engine_reset(sl_engine *e);

/* The last error's explanation ("" when none). */
const char *sl_engine_message(const sl_engine *e);

/* Combining, for a cluster node that aggregates the records it reads whatever node owns their
 * keys and hands the owners partial states instead of records (host/cluster/node.c): possible
 * for a reduce PE without a window whose program has sl_merge_in (1), not otherwise (0). */
int sl_engine_combinable(const sl_engine *e);

/* Bytes of one slot of the state table: the 8-byte key, then the PE's state (and padding). */
size_t sl_engine_slot_size(const sl_engine *e);

/* Appends to b the slots of every table copy whose key `foreign(ud, key)` says is another
 * node's, sl_engine_slot_size bytes each, and sets *n to their count (a key may come once per
 * copy: merging them all is right for a reduce PE). Dispatches what is staged and waits for the
 * device first; the table stays as it is. Returns 0, SL_EUNSUPPORTED (not combinable) or
 * another negative sl_err. */
int sl_engine_export_states(sl_engine *e, int (*foreign)(void *ud, uint64_t key), void *ud,
                            sl_bytebuf *b, size_t *n);

/* Folds n slots exported by engines of the same PE into this one's table with the PE's
 * sl_merge (a key not here yet is inserted), growing the table as needed. Dispatches what is
 * staged and waits for the device first. Returns 0, SL_EUNSUPPORTED or another negative sl_err
 * (SL_ETABLEFULL at pe.capacity). */
int sl_engine_merge_states(sl_engine *e, const void *slots, size_t n);

/* Checkpoints: dispatches what is staged, waits for the device and reads every key's state
 * back (a windowed PE's: every open window), with the table's layout, the counters (events in,
 * by type, late, batches, emissions, rows) and, for windowed PEs, the watermark and the windows
 * already emitted (those are no longer in the table: they went to the emit callback, whose
 * output the caller commits with the checkpoint), into *img (malloc'd, *len bytes; caller
 * frees). Emits nothing; the engine goes on as before. Returns 0 or a negative sl_err. An image
 * loads only into an engine of the same layout: state and slot size, regions, copies, slots,
 * window_ms and lateness_ms (the same PE state type, pe.capacity and window on the same kind of
 * device). */
int sl_engine_save(sl_engine *e, unsigned char **img, size_t *len);

/* sl_engine_save's image appended to b (its bytes after b->len; b keeps its memory from one
 * checkpoint to the next). On failure b->len is as before. Same returns. */
int sl_engine_save_into(sl_engine *e, sl_bytebuf *b);

/* Replaces every key's state (or open window), the counters, the watermark and the every_events
 * trigger's next point with those of img (sl_engine_save's), on an engine that has taken no
 * records yet: it then closes and emits the same windows with the same values as the engine
 * that saved it would have. Returns 0, or SL_EINVAL (another layout, or an image of another
 * version: msg names the field), SL_EPARSE (not an image) or an OpenCL failure, with msg. */
int sl_engine_load(sl_engine *e, const unsigned char *img, size_t len, char *msg, size_t msglen);

void sl_engine_get_stats(const sl_engine *e, sl_engine_stats *st);

/* How long sl_engine_destroy waits for the device once the cancel flag is set. */
#define SL_CANCEL_GRACE_MS 100

/* Makes every wait of the engine for its device watch *flag (NULL: no flag): once the flag is
 * nonzero, a wait that cannot end at once fails with SL_ECANCELED within SL_WAIT_SLICE_MS
 * (50 ms, host/watchdog.h), and the engine is wedged (see above). Meant for a node's SIGTERM:
 * a signal handler or another thread sets the flag; the engine only reads it. The flag must
 * outlive the engine. The engine's thread, like every call here. */
void sl_engine_set_cancel(sl_engine *e, const volatile sig_atomic_t *flag);

/* Waits for the device (at most pe.timeout_ms, or SL_CANCEL_GRACE_MS when the cancel flag is
 * set), releases every OpenCL object and buffer, and sets *ep to NULL. A wedged engine, or one
 * whose device does not go idle in that time, is not released but kept for the rest of the
 * process (see above): its device may still write into its buffers. */
void sl_engine_destroy(sl_engine **ep);

#endif
