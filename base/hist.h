/* Histograms of durations with fixed bucket bounds, for the metrics (Prometheus histograms:
 * cumulative buckets, a count and a sum). Plain data: copied with the statistics that hold it,
 * written by one thread. */
#ifndef SL_HIST_H
#define SL_HIST_H

#include <stdint.h>

#define SL_HIST_BUCKETS 14

/* The upper bounds of the buckets, in seconds, from 10 us to 10 s; a value above the last one
 * counts only in `count` (Prometheus's +Inf bucket). */
extern const double sl_hist_bounds[SL_HIST_BUCKETS];

typedef struct sl_hist {
    uint64_t count;                   /* observations */
    double sum;                       /* their total, seconds */
    uint64_t bucket[SL_HIST_BUCKETS]; /* observations <= sl_hist_bounds[i] (not cumulative) */
} sl_hist;

/* Counts one observation of `seconds` (negative values count as 0). */
void sl_hist_add(sl_hist *h, double seconds);

/* Adds every observation of `from` into `into`. */
void sl_hist_merge(sl_hist *into, const sl_hist *from);

#endif
