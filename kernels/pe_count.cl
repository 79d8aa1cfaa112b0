/* Built-in PE "count": events per key (with a window: per key per window, "window_count"). */
#include "sluice.h"

#define SL_PE_REDUCE
#define SL_COLUMNS "count:int"

typedef struct {
    ulong n;
} sl_state;

void sl_init(__global sl_state *s)
{
    s->n = 0;
}

void sl_add(__global sl_state *s, const sl_record *r)
{
    (void)r;
    s->n += 1;
}

void sl_merge(__global sl_state *dst, __global const sl_state *src)
{
    dst->n += src->n;
}

void sl_emit(__global const sl_state *s, sl_out *out)
{
    out->v[0] = (double)s->n;
}
