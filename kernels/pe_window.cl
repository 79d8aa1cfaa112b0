/* Built-in PE "window_count": events per key per event-time tumbling window of SL_WINDOW_MS.
 *
 * A table slot holds one (ad, window) pair: its slot key mixes the ad key with the window start.
 * The host drops late events before they reach the device and asks for windows to be closed
 * (emitted and deleted) once the watermark passes their end. */
typedef struct sl_state {
    ulong ad_key;
    long window_start;
    ulong n;
} sl_state;

long sl_window_start(long t)
{
    long q = t / SL_WINDOW_MS;
    if (t % SL_WINDOW_MS < 0)
        q -= 1;
    return q * SL_WINDOW_MS;
}

/* Murmur3's 64-bit finaliser over the ad key and the window start; never an empty or
 * tombstone key. Two (ad, window) pairs share a slot key with probability about 2^-64. */
ulong sl_window_slot_key(const sl_record *r)
{
    ulong k = r->key ^ ((ulong)sl_window_start(r->time_ms) * 0x9e3779b97f4a7c15ul);
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdul;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ul;
    k ^= k >> 33;
    if (k == SL_EMPTY_KEY || k == SL_TOMBSTONE_KEY)
        k = 0x5bd1e9955bd1e995ul;
    return k;
}

#define SL_SLOT_KEY(r) sl_window_slot_key(r)
#define SL_CLOSABLE(s, before) ((s)->window_start + SL_WINDOW_MS <= (before))

void sl_init(__global sl_state *s)
{
    s->ad_key = 0;
    s->window_start = 0;
    s->n = 0;
}

void sl_add(__global sl_state *s, const sl_record *r)
{
    s->ad_key = r->key;
    s->window_start = sl_window_start(r->time_ms);
    s->n += 1;
}

void sl_emit(ulong slot_key, __global const sl_state *s, sl_result *out)
{
    (void)slot_key;
    out->key = s->ad_key;
    out->window_start = s->window_start;
    out->n0 = s->n;
    out->n1 = 0;
    out->x = 0.0;
}

#define SL_REDUCE 1

void sl_merge(__global sl_state *dst, __global const sl_state *src)
{
    dst->ad_key = src->ad_key;
    dst->window_start = src->window_start;
    dst->n += src->n;
}
