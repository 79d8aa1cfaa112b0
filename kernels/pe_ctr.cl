/* Built-in PE "ctr": impressions (views), clicks and click-through rate per ad.
 *
 * Build options -DSL_PRIOR_A=a -DSL_PRIOR_B=b smooth the rate with a Beta(a, b) prior:
 * ctr = (clicks + a) / (impressions + a + b). Without them ctr = clicks / impressions, and 0
 * where impressions are 0. Purchases and other types are not counted here. */
#include "sluice.h"

#define SL_PE_REDUCE
#define SL_COLUMNS "impressions:int,clicks:int,ctr:g"

typedef struct {
    ulong views;
    ulong clicks;
} sl_state;

void sl_init(__global sl_state *s)
{
    s->views = 0;
    s->clicks = 0;
}

void sl_add(__global sl_state *s, const sl_record *r)
{
    s->views += r->type == SL_EV_VIEW;
    s->clicks += r->type == SL_EV_CLICK;
}

void sl_merge(__global sl_state *dst, __global const sl_state *src)
{
    dst->views += src->views;
    dst->clicks += src->clicks;
}

void sl_emit(__global const sl_state *s, sl_out *out)
{
    out->v[0] = (double)s->views;
    out->v[1] = (double)s->clicks;
#ifdef SL_PRIOR_A
    out->v[2] = ((double)s->clicks + SL_PRIOR_A) / ((double)s->views + SL_PRIOR_A + SL_PRIOR_B);
#else
    out->v[2] = s->views ? (double)s->clicks / (double)s->views : 0.0;
#endif
}
