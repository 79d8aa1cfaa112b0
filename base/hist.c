/* Duration histograms; see hist.h. */
#include "hist.h"

const double sl_hist_bounds[SL_HIST_BUCKETS] = {1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01,
                                                0.03, 0.1,  0.3,  1.0,  3.0,  10.0, 30.0};

void sl_hist_add(sl_hist *h, double seconds)
{
    if (!(seconds > 0)) /* NaN too */
        seconds = 0;
    h->count++;
    h->sum += seconds;
    for (int i = 0; i < SL_HIST_BUCKETS; i++)
        if (seconds <= sl_hist_bounds[i]) {
            h->bucket[i]++;
            return;
        }
}

void sl_hist_merge(sl_hist *into, const sl_hist *from)
{
    into->count += from->count;
    into->sum += from->sum;
    for (int i = 0; i < SL_HIST_BUCKETS; i++)
        into->bucket[i] += from->bucket[i];
}
