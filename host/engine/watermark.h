/* The late-event rule of windowed PEs, on one stream of records: the watermark is the largest
 * event time admitted so far minus the allowed lateness (pe.lateness_ms); a record whose
 * tumbling window (of pe.window_ms) ended at or before it is late, counted and never applied,
 * because that window may already have been emitted as final. Event times beyond
 * +-SL_WINDOW_TIME_LIMIT are refused, so that window arithmetic never overflows.
 *
 * The engine (engine.c) applies the rule to what it is pushed and closes the windows the
 * watermark passes; several devices (multidev.c) apply it to the whole stream before splitting
 * it among their engines. Plain arithmetic on the caller's struct: a watermark belongs to the
 * thread that owns its stream; the functions themselves are safe on any thread. */
#ifndef SL_WATERMARK_H
#define SL_WATERMARK_H

#include <stddef.h>
#include <stdint.h>

/* Windowed PEs take event times within +-2^62 ms (146 million years), so that window arithmetic
 * never overflows; others are counted in events_bad_time and not applied. */
#define SL_WINDOW_TIME_LIMIT (INT64_C(1) << 62)

/* One stream's watermark state; {0, 0} before the first record. */
typedef struct sl_watermark {
    int have_time;    /* 1 once a record was admitted */
    int64_t max_time; /* the largest admitted event time */
} sl_watermark;

enum sl_admit {
    SL_ADMIT_OK = 0,      /* on time: apply it (the watermark may advance) */
    SL_ADMIT_LATE = 1,    /* its window is closed: count it, do not apply it */
    SL_ADMIT_BAD_TIME = 2 /* beyond +-SL_WINDOW_TIME_LIMIT: count it, do not apply it */
};

/* Decides record time t under the rule above (windows of window_ms > 0, lateness_ms >= 0) and
 * advances the watermark when t is admitted. Returns what to do with the record. */
enum sl_admit sl_watermark_admit(sl_watermark *wm, int64_t t, int64_t window_ms,
                                 int64_t lateness_ms);

/* Which windows the watermark has closed: returns 1 with *before set to the start of the
 * watermark's window (every window ending at or before *before is complete and may be emitted
 * as final), or 0 when it closes none (no record admitted yet, or the watermark lies below
 * -SL_WINDOW_TIME_LIMIT, where no admitted record's window ends). */
int sl_watermark_closed(const sl_watermark *wm, int64_t window_ms, int64_t lateness_ms,
                        int64_t *before);

/* The last few records the rule refused, for the metrics and the web UI ("the last few
 * reasons"): a ring of SL_LATE_NOTES, the newest replacing the oldest. */
#define SL_LATE_NOTES 5

typedef struct sl_late_note {
    uint64_t key;                   /* the record's key (sl_rec.key) */
    int64_t time_ms;                /* its event time */
    int64_t max_time;               /* the largest event time admitted before it (0 when none) */
    int64_t window_ms, lateness_ms; /* the rule it was refused under */
    enum sl_admit why;              /* SL_ADMIT_LATE or SL_ADMIT_BAD_TIME */
} sl_late_note;

typedef struct sl_late_log {
    sl_late_note note[SL_LATE_NOTES];
    uint32_t n;    /* notes held, up to SL_LATE_NOTES */
    uint32_t next; /* where the next one goes */
} sl_late_log;

/* Notes that the record (key, t) was refused as `why` under watermark wm (before any update:
 * sl_watermark_admit leaves wm alone when it refuses). */
void sl_late_log_add(sl_late_log *l, const sl_watermark *wm, enum sl_admit why, uint64_t key,
                     int64_t t, int64_t window_ms, int64_t lateness_ms);

/* The i-th most recent note (0 = the newest); i must be below l->n. */
const sl_late_note *sl_late_log_get(const sl_late_log *l, uint32_t i);

/* One line saying why the note's record was refused: its window and the watermark that closed
 * it, or the time limit it broke. */
void sl_late_note_reason(const sl_late_note *n, char *buf, size_t len);

#endif
