/* Example reduce PE "topk_ctr": the top 3 ads of each campaign by click-through rate.
 *
 * The second stage of a two-stage topology. The first stage computes a CTR per ad; each of its
 * final rows becomes one record of this PE, keyed by the ad's campaign:
 *
 *   key      the campaign's 64-bit key (the row of this PE)
 *   user     the ad's 64-bit key (the candidate)
 *   value    the ad's ctr, as a 32-bit float: ranks follow the float values, so two ctrs that
 *            differ only beyond float precision tie
 *   time_ms, type   ignored (the topology sets 0, or a window start, and SL_EV_VIEW)
 *
 * Every record is a candidate. For each distinct ad the campaign keeps the ad's largest ctr; the
 * ads are ranked by that ctr, highest first, ties by ad key, lowest first; the first SL_TOPK
 * (3) are kept. A record without an ad (user == 0) or with a NaN ctr is counted as a candidate
 * but never ranked. A ctr of -0 is taken as +0, so that the two zeros tie. Output columns:
 *
 *   top1, top2, top3   the ads of ranks 1 to 3   (key: the ad id; empty when the campaign has
 *                      fewer ranked ads)
 *   ctr1, ctr2, ctr3   their ctr, the float widened to double   (6 decimals; 0 for an empty rank)
 *   candidates         records folded into the campaign, ranked or not   (int)
 *
 * The ranking is a strict total order: ctrs are compared as integers made from their bits
 * (topk_order), which are ordered as the float values are (for everything but NaN, which is left
 * out), so equal-looking values never compare differently on different devices or in different
 * float modes, and ties always fall to the ad key.
 *
 * Why this is a reduce PE. The state of a part A of the records is exactly top_K(M(A)): M(A) holds
 * each ad of A once, with its largest ctr in A, and top_K takes the K best of those in the order
 * above. Adding a record and merging two states (topk_offer for each of src's entries) both
 * compute top_K(M(A) u M(B)) from top_K(M(A)) and top_K(M(B)), which is right because an ad in
 * the overall top K whose largest ctr comes from part A is also in A's top K: otherwise K
 * distinct ads of A would rank before it, and so before it overall. And an ad that is not in the
 * overall top K loses nothing by being dropped early. So add and merge are commutative and
 * associative, and the result is the same, bit for bit, under any split of the records and any
 * grouping of the merges: nothing rounds, ctrs are only compared and copied.
 *
 * Try it: sluice kernel check topk_ctr.cl (README.md in this folder). */
#include "sluice.h"

#define SL_PE_REDUCE
#define SL_COLUMNS "top1:key,ctr1:f6,top2:key,ctr2:f6,top3:key,ctr3:f6,candidates:int"

/* Ranks kept; SL_COLUMNS above names exactly this many (ad, ctr) pairs. */
#define SL_TOPK 3

typedef struct {
    ulong candidates;   /* records folded, ranked or not */
    ulong ad[SL_TOPK];  /* ranks 0 .. n-1: ad keys, best first */
    float ctr[SL_TOPK]; /* their largest ctr: never NaN, never -0 */
    uint n;             /* ranks filled, 0 .. SL_TOPK */
} sl_state;

/* An integer that orders as the float c does (c not NaN): the sign bit flipped for c >= +0,
 * every bit flipped for c < 0, so that a larger magnitude orders lower. */
uint topk_order(float c)
{
    const uint b = as_uint(c);
    return (b & 0x80000000u) ? ~b : b | 0x80000000u;
}

/* 1 when (ad a, order oa) ranks before (ad b, order ob): higher ctr, then lower ad key. */
int topk_before(uint oa, ulong a, uint ob, ulong b)
{
    return oa > ob || (oa == ob && a < b);
}

/* Offers ad `ad` (not 0) with ctr `ctr` (not NaN, not -0) to the ranking. An ad holds at most one
 * rank, with its largest ctr: a lower or equal ctr for a ranked ad changes nothing; a higher one
 * takes the ad out and puts it back where it now belongs (never lower than before). A new ad
 * enters where it ranks, pushing the last rank out when all SL_TOPK are filled; an ad that ranks
 * after all of them is dropped. */
void topk_offer(__global sl_state *s, ulong ad, float ctr)
{
    const uint o = topk_order(ctr);
    uint n = s->n;
    for (uint j = 0; j < n; j++) {
        if (s->ad[j] != ad)
            continue;
        if (o <= topk_order(s->ctr[j]))
            return;
        for (uint i = j; i + 1 < n; i++) {
            s->ad[i] = s->ad[i + 1];
            s->ctr[i] = s->ctr[i + 1];
        }
        n--;
        break;
    }
    /* the ads in ranks 0 .. n-1 are distinct from `ad` now */
    uint p = 0;
    while (p < n && !topk_before(o, ad, topk_order(s->ctr[p]), s->ad[p]))
        p++;
    if (p == SL_TOPK)
        return; /* ranks after all SL_TOPK (n was not lowered: a ranked ad always fits back) */
    const uint last = n < SL_TOPK ? n : SL_TOPK - 1;
    for (uint i = last; i > p; i--) {
        s->ad[i] = s->ad[i - 1];
        s->ctr[i] = s->ctr[i - 1];
    }
    s->ad[p] = ad;
    s->ctr[p] = ctr;
    s->n = last + 1;
}

void sl_init(__global sl_state *s)
{
    s->candidates = 0;
    for (uint i = 0; i < SL_TOPK; i++) {
        s->ad[i] = 0;
        s->ctr[i] = 0.0f;
    }
    s->n = 0;
}

void sl_add(__global sl_state *s, const sl_record *r)
{
    s->candidates += 1;
    const uint b = as_uint(r->value);
    if (r->user == 0 || (b & 0x7fffffffu) > 0x7f800000u) /* no ad, or a NaN ctr */
        return;
    topk_offer(s, r->user, b == 0x80000000u ? 0.0f : r->value);
}

/* src's ranks are distinct ads with their largest ctr in src's part; offering each one to dst
 * gives the top SL_TOPK of both parts (the proof is at the top of this file). */
void sl_merge(__global sl_state *dst, __global const sl_state *src)
{
    dst->candidates += src->candidates;
    const uint n = src->n;
    for (uint i = 0; i < n; i++)
        topk_offer(dst, src->ad[i], src->ctr[i]);
}

/* A key column takes the ad key's bits unchanged (as_double); 0 marks an empty rank. */
void sl_emit(__global const sl_state *s, sl_out *out)
{
    for (uint i = 0; i < SL_TOPK; i++) {
        const int filled = i < s->n;
        out->v[2 * i] = as_double(filled ? s->ad[i] : 0ul);
        out->v[2 * i + 1] = filled ? (double)s->ctr[i] : 0.0;
    }
    out->v[2 * SL_TOPK] = (double)s->candidates;
}
