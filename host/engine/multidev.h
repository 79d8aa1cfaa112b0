/* One keyed PE spread over several OpenCL devices of a node.
 *
 * Every key belongs to one device (sl_part_of(key, ndev), the partitioner's mix of the key), so
 * each key's state lives in exactly one device's table and the devices' final rows are disjoint:
 * their union, delivered as one final emission, is what one device would emit. Each device has
 * its own thread, which builds the device's engine (so that its pinned buffers are allocated
 * after the thread is placed: see on_thread) and feeds it; the calling thread splits records by
 * key into per-device chunks and hands them over through a bounded queue per device, so parsing
 * and splitting overlap with every device's batching, transfers and kernels, and a slow device
 * holds the caller back instead of growing memory.
 *
 * Windowed PEs: the late-event rule is applied here, on the whole stream, before records are
 * split (a device only sees its keys, so its own view of event time lags); the devices get no
 * late records, and each (key, window) is emitted exactly once, as with one device, though
 * closed windows of different devices are emitted at different moments. Each device is handed
 * the whole stream's watermark along with its chunks (and without records at sl_multi_tick), so
 * a device closes a window when the stream passes its end, not when its own keys do.
 *
 * Timers: sl_multi_tick, called often from the creating thread (as sl_engine_tick is), hands a
 * chunk whose first record waited the batch wait to its device, which dispatches it at once;
 * hands the watermark to devices with nothing waiting; and has every device thread run
 * sl_engine_tick on its engine (records staged there from earlier chunks). So with slow or
 * silent input a record reaches its device's kernel about max_wait_ms after it was pushed, and
 * windows close about then, as with one device. Without ticks, chunks leave only when full
 * (64 Ki records) or at sl_multi_finish.
 *
 * Attributes (schema.attributes, cfg->pe.nattrs words per record): each record's words travel
 * with it into its device's chunk and queue, and its device's thread pushes them with
 * sl_engine_push_attrs; a record the late rule drops drops its words too.
 *
 * Not supported (SL_EUNSUPPORTED at sl_multi_new): snapshot triggers, whose rows would be taken
 * at different moments on each device.
 *
 * sl_multi_push(_attrs), sl_multi_tick, sl_multi_finish and sl_multi_destroy belong to the thread
 * that created the multi. on_emit is called from the device threads for windows (one call at a
 * time: they are serialised here) and from the calling thread for the final rows. */
#ifndef SL_MULTIDEV_H
#define SL_MULTIDEV_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "engine.h"

#define SL_MULTI_MAX 16 /* devices one multi drives */

typedef struct sl_multi sl_multi;

/* Called first thing on device thread `index`, before its engine is built: where placement
 * binds the thread and its memory to the device's NUMA node. Returns 0, or nonzero with msg to
 * fail sl_multi_new. */
typedef int (*sl_multi_thread_fn)(void *ud, uint32_t index, char *msg, size_t msglen);

typedef struct sl_multi_stats {
    uint32_t ndev;
    sl_engine_stats total;             /* events_in: records pushed; late and bad-time: dropped
                                          here; the rest summed over the devices */
    sl_engine_stats dev[SL_MULTI_MAX]; /* each device's own engine */
    double t_wait;                     /* seconds the caller waited for a full device queue */
} sl_multi_stats;

/* Starts one thread and one engine per device (devs[i] must outlive the multi; it is used only
 * by thread i from now on). Returns 0 with *out, or an sl_err with msg (a device's engine could
 * not be built: its message, prefixed with the device's index and name). */
int sl_multi_new(sl_device *const *devs, uint32_t ndev, const sl_engine_cfg *cfg,
                 sl_multi_thread_fn on_thread, void *thread_ud, sl_emit_fn on_emit, void *ud,
                 sl_multi **out, char *msg, size_t msglen);

/* Splits n records by key among the devices. Returns 0, or the first error of a device (its
 * message in sl_multi_message); the multi then accepts nothing more. With attributes
 * (cfg->pe.nattrs > 0) each record's words are zeros, as sl_multi_push_attrs with attrs NULL. */
int sl_multi_push(sl_multi *m, const sl_rec *recs, size_t n);

/* As sl_multi_push, with each record's schema attributes: cfg->pe.nattrs 64-bit words per
 * record, record i's at attrs[i * nattrs] (sl_engine_push_attrs' layout), copied here (attrs
 * need not outlive the call). attrs NULL gives zeros; a multi without attributes ignores them. */
int sl_multi_push_attrs(sl_multi *m, const sl_rec *recs, const uint64_t *attrs, size_t n);

/* Runs the timers while input is slow or silent (see above): a chunk whose first record was
 * pushed max_wait_ms ago or more goes to its device and is dispatched, every device gets the
 * stream's watermark and runs sl_engine_tick(max_wait_ms). Does not wait for the devices (a
 * device whose queue is full gets its chunk at a later tick). Returns 0, or a device's first
 * error as sl_multi_push does. */
int sl_multi_tick(sl_multi *m, uint32_t max_wait_ms);

/* Hands over what is left, waits for every device to finish, and emits the final rows of all
 * devices in one SL_EMIT_FINAL call. Returns 0 or an sl_err. */
int sl_multi_finish(sl_multi *m);

/* Hands the cancel flag to every device's engine (sl_engine_set_cancel, host/engine.h), each
 * from its own thread before its next chunk or its finish: once *flag is nonzero, device waits
 * fail with SL_ECANCELED within about 50 ms, and sl_multi_push or sl_multi_finish returns it.
 * Call it before the first push (a chunk already in a device's hands keeps the flag it was
 * started with). NULL removes it. The creating thread. */
void sl_multi_set_cancel(sl_multi *m, const volatile sig_atomic_t *flag);

const sl_columns *sl_multi_columns(const sl_multi *m);
int sl_multi_windowed(const sl_multi *m);
uint32_t sl_multi_devices(const sl_multi *m);

/* The device that owns `key` among ndev devices. */
uint32_t sl_multi_device_of(uint64_t key, uint32_t ndev);

const char *sl_multi_message(const sl_multi *m);

void sl_multi_get_stats(const sl_multi *m, sl_multi_stats *st);

/* Stops the threads (discarding unfinished work) and releases every engine. */
void sl_multi_destroy(sl_multi **mp);

#endif
