/* Example reduce PE "revenue": purchases, revenue and largest purchase per ad.
 *
 * For every ad it counts the purchase events (SL_EV_PURCHASE), adds up their values and keeps
 * the largest one. Views, clicks and other events are seen but change nothing. Output columns:
 *
 *   purchases   number of purchase events                       (int)
 *   revenue     sum of their values, added in double            (2 decimals)
 *   max_value   largest purchase value; 0 for an ad with none   (2 decimals)
 *
 * It is a reduce PE: a count, a sum and a maximum give the same answer whichever way the events
 * are split and the partial states merged, so the framework may fold events into several copies
 * of the table in parallel and combine the copies with sl_merge. Only the sum can notice the
 * grouping, through rounding: with arbitrary values, revenue may differ from an in-order sum in
 * the last bits; with values on a coarse grid (cents, 1/64) it is exact in any order.
 *
 * Try it: sluice kernel check revenue.cl; sluice kernel run revenue.cl --input events.ndjson
 * (README.md in this folder). */
#include "sluice.h"

#define SL_PE_REDUCE
#define SL_COLUMNS "purchases:int,revenue:f2,max_value:f2"

typedef struct {
    ulong purchases;
    double revenue;
    float max_value; /* -INFINITY until the first purchase, so that negative values compare */
} sl_state;

void sl_init(__global sl_state *s)
{
    s->purchases = 0;
    s->revenue = 0.0;
    s->max_value = -INFINITY;
}

void sl_add(__global sl_state *s, const sl_record *r)
{
    if (r->type != SL_EV_PURCHASE)
        return;
    s->purchases += 1;
    s->revenue += (double)r->value;
    s->max_value = fmax(s->max_value, r->value);
}

/* src may be a state that saw no purchase: 0 adds nothing and -INFINITY loses every fmax. */
void sl_merge(__global sl_state *dst, __global const sl_state *src)
{
    dst->purchases += src->purchases;
    dst->revenue += src->revenue;
    dst->max_value = fmax(dst->max_value, src->max_value);
}

void sl_emit(__global const sl_state *s, sl_out *out)
{
    out->v[0] = (double)s->purchases;
    out->v[1] = s->revenue;
    out->v[2] = s->purchases ? (double)s->max_value : 0.0;
}
