/* Built-in PE "count": events per key. */
typedef struct sl_state {
    ulong n;
} sl_state;

#define SL_SLOT_KEY(r) ((r)->key)

void sl_init(__global sl_state *s)
{
    s->n = 0;
}

void sl_add(__global sl_state *s, const sl_record *r)
{
    (void)r;
    s->n += 1;
}

void sl_emit(ulong slot_key, __global const sl_state *s, sl_result *out)
{
    out->key = slot_key;
    out->window_start = 0;
    out->n0 = s->n;
    out->n1 = 0;
    out->x = 0.0;
}

#define SL_REDUCE 1

void sl_merge(__global sl_state *dst, __global const sl_state *src)
{
    dst->n += src->n;
}
