/* Example sequential PE "decayed_ctr": a click-through rate that forgets old events.
 *
 * Every ad keeps an impression count and a click count that lose half their weight for every
 * HALF_LIFE_MS milliseconds of event time (default one minute), so recent traffic dominates.
 * On each event, in the order the events arrived:
 *
 *   1. if its time t is later than the latest time seen so far for the ad (last), both counts
 *      are multiplied by 2^(-(t - last) / HALF_LIFE_MS); an event that arrives late
 *      (t <= last) decays nothing: the decay only moves forward in time;
 *   2. a view adds 1 to impressions, a click adds 1 to clicks (purchases and other events only
 *      move the clock);
 *   3. last = max(last, t).
 *
 * Output columns, as of the ad's latest event time (not the wall clock):
 *
 *   impressions  decayed impressions                                   (g: shortest exact)
 *   clicks       decayed clicks                                        (g)
 *   ctr          (clicks + 1) / (impressions + 10): smoothed toward 0.1 for ads with little
 *                traffic, so a single click on one view does not read as 100%   (6 decimals)
 *
 * Why sequential, not reduce: the result depends on the order of the events. Decay-then-add is
 * not commutative: a click followed a minute later by a view leaves clicks at 0.5, the same two
 * events in the other order leave it at 1 (and the late view decays nothing). Nor can two partial
 * states be merged, since a partial state does not record how each of its counts would have
 * decayed under the other part's events. With #define SL_PE_SEQUENTIAL the framework hands each
 * ad's events to one work-item, one at a time, in arrival order, and never merges states.
 *
 * The half-life is a compile-time constant: a topology sets it with
 * pe: {params: {half_life_ms: 30000.0}} (sluice kernel check --param half_life_ms=30000.0);
 * without one it is the default below.
 *
 * Try it: sluice kernel check decayed_ctr.cl; sluice kernel run decayed_ctr.cl --input
 * events.ndjson (README.md in this folder). */
#include "sluice.h"

#define SL_PE_SEQUENTIAL
#define SL_COLUMNS "impressions:g,clicks:g,ctr:f6"

#ifndef HALF_LIFE_MS
#define HALF_LIFE_MS 60000.0
#endif

typedef struct {
    double impressions; /* decayed to last_ms */
    double clicks;      /* decayed to last_ms */
    long last_ms;       /* latest event time seen; meaningless while seen == 0 */
    uint seen;          /* 0 until the ad's first event */
} sl_state;

void sl_init(__global sl_state *s)
{
    s->impressions = 0.0;
    s->clicks = 0.0;
    s->last_ms = 0;
    s->seen = 0;
}

/* One multiply and one add per count, in separate statements, so that the compiler does not
 * fuse them (OpenCL C contracts a * b + c within one expression by default): the tests' C
 * reference does the same operations and expects the same doubles up to exp2's rounding. */
void sl_process(__global sl_state *s, const sl_record *r)
{
    const long t = r->time_ms;
    if (s->seen && t > s->last_ms) {
        const double d = exp2(-(double)(t - s->last_ms) / HALF_LIFE_MS);
        s->impressions *= d;
        s->clicks *= d;
    }
    if (r->type == SL_EV_VIEW)
        s->impressions += 1.0;
    else if (r->type == SL_EV_CLICK)
        s->clicks += 1.0;
    if (!s->seen || t > s->last_ms)
        s->last_ms = t;
    s->seen = 1;
}

void sl_emit(__global const sl_state *s, sl_out *out)
{
    out->v[0] = s->impressions;
    out->v[1] = s->clicks;
    out->v[2] = (s->clicks + 1.0) / (s->impressions + 10.0);
}
