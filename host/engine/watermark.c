/* The late-event rule of windowed PEs; see watermark.h. */
#include "watermark.h"

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
