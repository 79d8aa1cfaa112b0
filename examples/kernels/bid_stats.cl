/* Per key: events, the sum and the largest of the bids, and the latest event time, read from
 * the record's attributes by name (schema.attributes: [bid, ts] in the topology; see
 * examples/topologies/query_ad_bids.yaml and docs/kernel-abi.md, "Attributes"). bid is a double,
 * ts (a time field) a long in ms since the epoch. */
#include "sluice.h"

#define SL_PE_REDUCE
#define SL_COLUMNS "events:int,bid_sum:f2,bid_max:g,last_seen_ms:int"

typedef struct {
    ulong events;
    double bid_sum, bid_max;
    long last_seen;
} sl_state;

void sl_init(__global sl_state *s)
{
    s->events = 0;
    s->bid_sum = 0.0;
    s->bid_max = -INFINITY;
    s->last_seen = LONG_MIN;
}

void sl_add(__global sl_state *s, const sl_record *r)
{
    s->events += 1;
    s->bid_sum += r->bid;
    s->bid_max = fmax(s->bid_max, r->bid);
    s->last_seen = max(s->last_seen, r->ts);
}

void sl_merge(__global sl_state *dst, __global const sl_state *src)
{
    dst->events += src->events;
    dst->bid_sum += src->bid_sum;
    dst->bid_max = fmax(dst->bid_max, src->bid_max);
    dst->last_seen = max(dst->last_seen, src->last_seen);
}

void sl_emit(__global const sl_state *s, sl_out *out)
{
    out->v[0] = (double)s->events;
    out->v[1] = s->bid_sum;
    out->v[2] = s->bid_max;
    out->v[3] = (double)s->last_seen;
}
