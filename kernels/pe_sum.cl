/* Built-in PE "sum": events and the sum of `value` per key, in double precision. Within one
 * table copy values are added in arrival order; partial sums of copies are added at the merge,
 * so a sum can differ from a sequential one by rounding only (bound in docs/engine.md). */
#include "sluice.h"

#define SL_PE_REDUCE
#define SL_COLUMNS "count:int,sum:g"

typedef struct {
    ulong n;
    double sum;
} sl_state;

void sl_init(__global sl_state *s)
{
    s->n = 0;
    s->sum = 0.0;
}

void sl_add(__global sl_state *s, const sl_record *r)
{
    s->n += 1;
    s->sum += SL_VALUE(r);
}

void sl_merge(__global sl_state *dst, __global const sl_state *src)
{
    dst->n += src->n;
    dst->sum += src->sum;
}

void sl_emit(__global const sl_state *s, sl_out *out)
{
    out->v[0] = (double)s->n;
    out->v[1] = s->sum;
}
