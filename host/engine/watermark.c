/* The late-event rule of windowed PEs; see watermark.h. */
#include "watermark.h"

#include <inttypes.h>
#include <stdio.h>

/* The start of t's window: floor(t / w) * w. Needs |t| <= SL_WINDOW_TIME_LIMIT (and w > 0), so
 * that the product stays within int64: it lies in (t - w, t]. */
static int64_t window_start(int64_t t, int64_t w)
{
    int64_t q = t / w;
    if (t % w < 0)
        q -= 1;
    return q * w;
}

/* An event is late when its window ended at or before the watermark (the largest event time
 * seen before it, minus lateness_ms); such windows may already have been emitted as final. */
enum sl_admit sl_watermark_admit(sl_watermark *wm, int64_t t, int64_t window_ms,
                                 int64_t lateness_ms)
{
    if (t < -SL_WINDOW_TIME_LIMIT || t > SL_WINDOW_TIME_LIMIT)
        return SL_ADMIT_BAD_TIME;
    if (wm->have_time && wm->max_time >= INT64_MIN + lateness_ms) {
        int64_t end;
        if (__builtin_add_overflow(window_start(t, window_ms), window_ms, &end))
            end = INT64_MAX;
        if (end <= wm->max_time - lateness_ms)
            return SL_ADMIT_LATE;
    }
    if (!wm->have_time || t > wm->max_time) {
        wm->max_time = t;
        wm->have_time = 1;
    }
    return SL_ADMIT_OK;
}

int sl_watermark_closed(const sl_watermark *wm, int64_t window_ms, int64_t lateness_ms,
                        int64_t *before)
{
    if (!wm->have_time)
        return 0;
    int64_t mark;
    /* Every admitted time is >= -SL_WINDOW_TIME_LIMIT, so every window ends after that: below
     * it (or below INT64_MIN) the watermark closes nothing, and window_start needs its argument
     * within the limit. lateness_ms may be anything up to INT64_MAX. */
    if (__builtin_sub_overflow(wm->max_time, lateness_ms, &mark) || mark < -SL_WINDOW_TIME_LIMIT)
        return 0;
    *before = window_start(mark, window_ms);
    return 1;
}

void sl_late_log_add(sl_late_log *l, const sl_watermark *wm, enum sl_admit why, uint64_t key,
                     int64_t t, int64_t window_ms, int64_t lateness_ms)
{
    l->note[l->next] = (sl_late_note){
        .key = key,
        .time_ms = t,
        .max_time = wm->have_time ? wm->max_time : 0,
        .window_ms = window_ms,
        .lateness_ms = lateness_ms,
        .why = why,
    };
    l->next = (l->next + 1) % SL_LATE_NOTES;
    if (l->n < SL_LATE_NOTES)
        l->n++;
}

const sl_late_note *sl_late_log_get(const sl_late_log *l, uint32_t i)
{
    return &l->note[(l->next + SL_LATE_NOTES - 1 - i) % SL_LATE_NOTES];
}

void sl_late_note_reason(const sl_late_note *n, char *buf, size_t len)
{
    if (n->why == SL_ADMIT_BAD_TIME) {
        snprintf(buf, len, "event time %" PRId64 " ms lies beyond +-2^62 ms", n->time_ms);
        return;
    }
    /* a late record's time is within the limit, so its window's bounds are too */
    int64_t start = window_start(n->time_ms, n->window_ms);
    snprintf(buf, len,
             "event time %" PRId64 " ms is late: its window [%" PRId64 ", %" PRId64
             ") had closed, the watermark being %" PRId64 " ms (latest event time %" PRId64
             " ms less lateness %" PRId64 " ms)",
             n->time_ms, start, start + n->window_ms, n->max_time - n->lateness_ms, n->max_time,
             n->lateness_ms);
}
