/* Built-in PE "ctr": impressions (views), clicks and click-through rate per ad.
 *
 * Build options: -DSL_PRIOR=1 -DSL_PRIOR_A=a -DSL_PRIOR_B=b smooth the rate with a Beta(a, b)
 * prior: ctr = (clicks + a) / (impressions + a + b). Without a prior ctr = clicks / impressions,
 * and 0 where impressions are 0. Purchases and other types are not counted here. */
typedef struct sl_state {
    ulong views;
    ulong clicks;
} sl_state;

#define SL_SLOT_KEY(r) ((r)->key)

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

void sl_emit(ulong slot_key, __global const sl_state *s, sl_result *out)
{
    out->key = slot_key;
    out->window_start = 0;
    out->n0 = s->views;
    out->n1 = s->clicks;
#if SL_PRIOR
    out->x = ((double)s->clicks + SL_PRIOR_A) / ((double)s->views + SL_PRIOR_A + SL_PRIOR_B);
#else
    out->x = s->views ? (double)s->clicks / (double)s->views : 0.0;
#endif
}

#define SL_REDUCE 1

void sl_merge(__global sl_state *dst, __global const sl_state *src)
{
    dst->views += src->views;
    dst->clicks += src->clicks;
}
