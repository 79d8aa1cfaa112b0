/* Built-in PE "sum": events and the sum of `value` per key. Values are added in arrival
 * order in double precision, so the result equals a sequential C loop bit for bit. */
typedef struct sl_state {
    ulong n;
    double sum;
} sl_state;

#define SL_SLOT_KEY(r) ((r)->key)

void sl_init(__global sl_state *s)
{
    s->n = 0;
    s->sum = 0.0;
}

void sl_add(__global sl_state *s, const sl_record *r)
{
    s->n += 1;
    s->sum += (double)r->value;
}

void sl_emit(ulong slot_key, __global const sl_state *s, sl_result *out)
{
    out->key = slot_key;
    out->window_start = 0;
    out->n0 = s->n;
    out->n1 = 0;
    out->x = s->sum;
}

#define SL_REDUCE 1

/* Chunked mode adds partial sums: the result then differs from a sequential sum by rounding
 * only (docs/engine.md states the bound); values that are multiples of a power of two small
 * enough for a double's 53 bits sum exactly in any order. */
void sl_merge(__global sl_state *dst, __global const sl_state *src)
{
    dst->n += src->n;
    dst->sum += src->sum;
}
