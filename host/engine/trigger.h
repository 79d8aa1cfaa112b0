/* When a PE's results are emitted while the stream runs: its trigger (every N events, every T
 * ms of wall-clock time) as plain bookkeeping, apart from the device work it starts, so that
 * the engine's push and its timer (sl_engine_tick) share one rule. No I/O; one thread (the
 * engine's). */
#ifndef SL_TRIGGER_H
#define SL_TRIGGER_H

#include <stdint.h>

#include "topology.h"

typedef struct sl_trigger {
    sl_trigger_cfg cfg;
    uint64_t next_events; /* events_in at which every_events fires next */
    double last_s;        /* when the last emission was made (monotonic seconds) */
    int aligned;          /* sl_trigger_align: every_ms fires on a shared clock's multiples */
    double offset_s;      /* aligned: the shared clock less now_s's clock */
    double next_s;        /* aligned: when every_ms fires next (now_s's clock) */
} sl_trigger;

/* Starts the bookkeeping at now_s (the first every_ms emission comes every_ms later). */
void sl_trigger_init(sl_trigger *t, const sl_trigger_cfg *cfg, double now_s);

/* Aligns every_ms to a clock that several processes share (a cluster's nodes: the wall clock),
 * offset_s being that clock less now_s's: every_ms then fires when the shared clock passes a
 * multiple of every_ms, whatever else was emitted meanwhile (a window close no longer restarts
 * it), so that processes whose clocks agree fire together. The first such point after now_s
 * comes first. Without every_ms, nothing changes. */
void sl_trigger_align(sl_trigger *t, double offset_s, double now_s);

/* Events that may still go in before every_events fires (UINT64_MAX without it), so that a
 * caller can cut its input at the trigger's event. */
uint64_t sl_trigger_room(const sl_trigger *t, uint64_t events_in);

/* 1 when an emission is due after events_in events at now_s: every_events was reached (its next
 * point then moves past events_in) or every_ms passed since the last emission; else 0. */
int sl_trigger_due(sl_trigger *t, uint64_t events_in, double now_s);

/* Notes an emission made at now_s (of any kind: a window close also restarts every_ms). */
void sl_trigger_emitted(sl_trigger *t, double now_s);

/* Milliseconds until every_ms is due at now_s (0 when due; UINT32_MAX without it): how long
 * a caller with nothing to read may wait. */
uint32_t sl_trigger_wait_ms(const sl_trigger *t, double now_s);

#endif
