/* The built-in event generator.
 *
 * Randomness: splitmix64 expands the seed into the states of four xoshiro256** generators:
 * one for the per-ad click probabilities (drawn once, at construction), one for the ad of each
 * event (one 64-bit draw per event), one for its type (two draws per event: the purchase
 * test, then the click test or the purchase amount) and one for its user (one draw per event,
 * uniform over `users`; added later as its own stream, so the other three are unchanged). The
 * streams' structure never depends on outcomes, so event i is the same whichever way the events are
 * read.
 *
 * Ad choice: Walker/Vose alias table over the Zipf weights 1/(r+1)^skew, O(1) per event. One
 * 64-bit draw r picks the column as the high half of r*keys (a 128-bit product) and uses the
 * low half, which is uniform within the column, against the column's 64-bit threshold. The
 * table is built in IEEE-754 doubles from expressions with no multiply-add to fuse, and the
 * weights come from pow(), so the stream is the same wherever pow() returns the
 * same doubles: tests/test_generator.c pins it, checked with gcc and clang from -O0 to
 * -O3 -march=native and with the portable 128-bit multiply (x86-64, glibc 2.36, 2026-11).
 * A libm whose pow() differed in the last place for some weight would move thresholds by
 * about 2^-52 relative, changing the outcome of roughly one draw in 2^50.
 *
 * Speed: the column of a draw is uniform over all keys, so beyond a few hundred thousand keys
 * nearly every event misses the cache, and the misses, not the arithmetic, set the rate.
 * Because the ad stream is separate, sl_gen_next draws the ads of a block of events first and
 * prefetches their columns, then their alias targets, before writing the block: the misses
 * overlap instead of following one another. Measured with a loop of sl_gen_next into a
 * 65,536-event buffer, 100M events, default settings but the key count, gcc -O2, on the 2-core
 * AMD EPYC development VM, 2026-11, medians of 3 runs: 1k keys 70-100 M events/s, 100k keys
 * 76 M/s, 1M keys 39 M/s (13 M/s without the blocks), 10M keys 31 M/s. Setup (tables, no
 * dictionary) is about 0.2 us per key.
 *
 * Trade-off: the alias table costs 56 bytes per key and one or two random memory accesses per
 * event, against O(log keys) dependent accesses for a CDF and binary search. */
#include "generator.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "keyhash.h"
#include "err.h"

/* 2026-01-01T00:00:00Z in milliseconds since the Unix epoch (date -u -d 2026-01-01 +%s). */

#define TWO_POW_53 9007199254740992.0
#define TWO_POW_64 18446744073709551616.0

struct ad {
    uint64_t key;       /* sl_key_hash of "ad-%08u" */
    uint64_t click_thr; /* click when a 53-bit uniform draw is below this */
};

/* One alias-table column is 32 bytes, so that none straddles a cache line, and carries its
 * own rank's ad: under Zipf most columns belong to rarely drawn tail ranks whose aliases are
 * the few heavy (and so cached) head ranks, so most events touch one cold line, not two. */
struct column {
    struct ad own;  /* the ad of rank == this column */
    uint64_t thr;   /* keep this column when the low half of the draw is below thr */
    uint32_t alias; /* else take this rank */
    uint32_t pad;
};

struct sl_gen {
    sl_gen_cfg cfg;
    uint64_t ad_s[4];   /* xoshiro256** state of the ad stream */
    uint64_t type_s[4]; /* xoshiro256** state of the type stream */
    uint64_t user_s[4]; /* xoshiro256** state of the user stream */
    uint64_t *users;    /* cfg.users user keys, by index */
    uint64_t produced;
    int64_t now_ms;      /* event time of the next event */
    uint32_t left_in_ms; /* events still to produce at now_ms */
    uint64_t purchase_thr;
    struct column *cols; /* keys entries */
    struct ad *ads;      /* keys entries, by rank */
    double *click_prob;  /* keys entries, by rank */
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void seed_state(uint64_t s[4], uint64_t seed)
{
    /* splitmix64 is a bijection of its counter, so at most one of four outputs is 0 and the
     * xoshiro state is never all zero. */
    for (int i = 0; i < 4; i++)
        s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t next64(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Full 64x64 -> 128-bit product: high half in *hi, returns the low half. The portable branch
 * gives the same result as the __int128 one. */
static inline uint64_t mul128(uint64_t a, uint64_t b, uint64_t *hi)
{
#if defined(__SIZEOF_INT128__)
    __extension__ unsigned __int128 p = (unsigned __int128)a * b;
    *hi = (uint64_t)(p >> 64);
    return (uint64_t)p;
#else
    uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return (mid << 32) | (ll & 0xffffffffu);
#endif
}

/* Probability p in [0, 1] -> threshold for a 53-bit uniform draw (exact scaling by 2^53). */
static uint64_t thr53(double p)
{
    return (uint64_t)(p * TWO_POW_53);
}

static int is_rate(double x)
{
    return x >= 0.0 && x <= 1.0; /* false for NaN */
}

/* Returns 0 when cfg can be generated: keys >= 1, rates in [0, 1], skew finite and >= 0,
 * events_per_ms >= 1, and the last event time is below INT64_MAX. Else SL_EINVAL. */
static int check_cfg(const sl_gen_cfg *cfg)
{
    if (cfg->keys == 0 || cfg->users == 0 || !is_rate(cfg->click_rate) ||
        !is_rate(cfg->purchase_rate))
        return SL_EINVAL;
    if (!(cfg->skew >= 0.0) || !isfinite(cfg->skew) || cfg->events_per_ms == 0)
        return SL_EINVAL;
    if (cfg->events > 0) {
        /* The clock is advanced past the last event too, so keep it below INT64_MAX. */
        uint64_t span = (cfg->events - 1) / cfg->events_per_ms;
        uint64_t room = (uint64_t)INT64_MAX - (uint64_t)cfg->start_ms; /* exact, mod 2^64 */
        if (span >= room)
            return SL_EINVAL;
    }
    return 0;
}

/* Builds g->cols from the Zipf weights by Vose's method. Returns 0 or SL_ENOMEM (g->cols is
 * then left for sl_gen_destroy to free). */
static int build_alias(sl_gen *g)
{
    uint32_t n = g->cfg.keys;
    int rc = SL_ENOMEM;
    double *q = malloc((size_t)n * sizeof *q);
    uint32_t *small = malloc((size_t)n * sizeof *small);
    uint32_t *large = malloc((size_t)n * sizeof *large);
    if (!q || !small || !large)
        goto out;

    double sum = 0.0;
    for (uint32_t r = 0; r < n; r++) {
        q[r] = g->cfg.skew == 0.0 ? 1.0 : pow((double)r + 1.0, -g->cfg.skew);
        sum += q[r];
    }
    size_t ns = 0, nl = 0;
    for (uint32_t r = 0; r < n; r++) {
        q[r] = q[r] * (double)n / sum; /* mean 1 */
        if (q[r] < 1.0)
            small[ns++] = r;
        else
            large[nl++] = r;
    }
    while (ns > 0 && nl > 0) {
        uint32_t s = small[--ns], l = large[nl - 1];
        /* 0 <= q[s] < 1, so the product fits (q[l] + q[s] - 1 >= 0 holds in floating point
         * too, since q[l] >= 1); the test is a guard, not a case that occurs. */
        g->cols[s].thr = q[s] > 0.0 ? (uint64_t)(q[s] * TWO_POW_64) : 0;
        g->cols[s].alias = l;
        q[l] = (q[l] + q[s]) - 1.0;
        if (q[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    /* What is left holds 1 up to rounding: always keep the column. */
    while (nl > 0) {
        uint32_t l = large[--nl];
        g->cols[l].thr = UINT64_MAX;
        g->cols[l].alias = l;
    }
    while (ns > 0) {
        uint32_t s = small[--ns];
        g->cols[s].thr = UINT64_MAX;
        g->cols[s].alias = s;
    }
    rc = 0;
out:
    free(q);
    free(small);
    free(large);
    return rc;
}

/* Names, hashes (and registers in dict) every ad and draws its click probability. Returns 0,
 * SL_ECOLLISION or SL_ENOMEM from sl_addict_intern; ids already registered stay registered. */
static int build_ads(sl_gen *g, sl_addict *dict)
{
    uint64_t s[4];
    seed_state(s, g->cfg.seed ^ UINT64_C(0x636c69636b733a70)); /* "clicks:p" */
    double hi = 2.0 * g->cfg.click_rate;
    for (uint32_t r = 0; r < g->cfg.keys; r++) {
        char id[32];
        int len = snprintf(id, sizeof id, "ad-%08u", (unsigned)r);
        assert(len > 0 && (size_t)len < sizeof id);
        struct ad *a = &g->ads[r];
        if (dict) {
            int rc = sl_addict_intern(dict, id, (size_t)len, &a->key);
            if (rc < 0)
                return rc;
        } else {
            a->key = sl_key_hash(id, (size_t)len);
        }
        double p = (double)(next64(s) >> 11) / TWO_POW_53 * hi;
        g->click_prob[r] = p > 1.0 ? 1.0 : p;
        a->click_thr = thr53(g->click_prob[r]);
        g->cols[r].own = *a;
    }
    return 0;
}

/* Returns a generator, or NULL with *err set to SL_EINVAL (see check_cfg), SL_ENOMEM or
 * SL_ECOLLISION (a generated id's key is taken by another id in dict). The caller owns the
 * generator; dict stays the caller's and the generator keeps no pointer to it. */
sl_gen *sl_gen_new(const sl_gen_cfg *cfg, sl_addict *dict, int *err)
{
    int rc = check_cfg(cfg);
    sl_gen *g = NULL;
    if (rc < 0)
        goto fail;
    rc = SL_ENOMEM;
    g = calloc(1, sizeof *g);
    if (!g)
        goto fail;
    g->cfg = *cfg;
    g->cols = calloc(cfg->keys, sizeof *g->cols);
    g->ads = calloc(cfg->keys, sizeof *g->ads);
    g->click_prob = calloc(cfg->keys, sizeof *g->click_prob);
    if (!g->cols || !g->ads || !g->click_prob)
        goto fail;
    rc = build_alias(g);
    if (rc < 0)
        goto fail;
    rc = build_ads(g, dict);
    if (rc < 0)
        goto fail;
    seed_state(g->ad_s, cfg->seed);
    seed_state(g->type_s, cfg->seed ^ UINT64_C(0x747970653a757634)); /* "type:uv4" */
    seed_state(g->user_s, cfg->seed ^ UINT64_C(0x757365723a757634)); /* "user:uv4" */
    g->users = malloc((size_t)cfg->users * sizeof *g->users);
    if (!g->users) {
        rc = SL_ENOMEM;
        goto fail;
    }
    for (uint32_t i = 0; i < cfg->users; i++) {
        char id[24];
        int len = snprintf(id, sizeof id, SL_GEN_USER_FMT, i);
        g->users[i] = sl_key_hash(id, (size_t)len);
    }
    g->now_ms = cfg->start_ms;
    g->left_in_ms = cfg->events_per_ms;
    g->purchase_thr = thr53(cfg->purchase_rate);
    return g;
fail:
    sl_gen_destroy(&g);
    if (err)
        *err = rc;
    return NULL;
}

#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

/* Events per block: enough misses in flight to cover memory latency, small enough that the
 * block's lines are still cached when it is written. */
#define BLOCK 64

/* Writes min(max, events left) events into out and returns that count; allocates nothing.
 * Event i has time start_ms + i / events_per_ms. */
uint64_t sl_gen_next(sl_gen *g, sl_rec *out, uint64_t max)
{
    uint64_t left = g->cfg.events - g->produced;
    uint64_t n = max < left ? max : left;
    const uint64_t nkeys = g->cfg.keys, purchase_thr = g->purchase_thr;
    const uint32_t events_per_ms = g->cfg.events_per_ms;
    const struct column *cols = g->cols;
    const struct ad *ads = g->ads;
    uint64_t as[4] = {g->ad_s[0], g->ad_s[1], g->ad_s[2], g->ad_s[3]};
    uint64_t ts[4] = {g->type_s[0], g->type_s[1], g->type_s[2], g->type_s[3]};
    uint64_t us[4] = {g->user_s[0], g->user_s[1], g->user_s[2], g->user_s[3]};
    const uint64_t nusers = g->cfg.users, *users = g->users;
    int64_t now = g->now_ms;
    uint32_t left_in_ms = g->left_in_ms;
    uint64_t frac[BLOCK];
    const struct column *colp[BLOCK];
    const struct ad *adp[BLOCK];

    for (uint64_t done = 0; done < n;) {
        unsigned m = n - done < BLOCK ? (unsigned)(n - done) : BLOCK;
        for (unsigned j = 0; j < m; j++) {
            uint64_t col;
            frac[j] = mul128(next64(as), nkeys, &col);
            colp[j] = &cols[col];
            PREFETCH(colp[j]);
        }
        for (unsigned j = 0; j < m; j++) {
            const struct column *c = colp[j];
            adp[j] = frac[j] < c->thr ? &c->own : &ads[c->alias];
            PREFETCH(adp[j]);
        }
        sl_rec *e = out + done;
        for (unsigned j = 0; j < m; j++, e++) {
            uint64_t u = next64(ts) >> 11;
            uint64_t v = next64(ts);
            uint64_t ui;
            (void)mul128(next64(us), nusers, &ui);
            e->key = adp[j]->key;
            e->user = users[ui];
            e->time_ms = now;
            if (u < purchase_thr) {
                uint64_t cents;
                (void)mul128(v, 9901, &cents); /* uniform in 0..9900 */
                e->type = SL_EV_PURCHASE;
                e->value = (float)((double)(cents + 100) / 100.0); /* 1.00 .. 100.00 */
            } else {
                e->type = (v >> 11) < adp[j]->click_thr ? SL_EV_CLICK : SL_EV_VIEW;
                e->value = 0.0f;
            }
            if (--left_in_ms == 0) {
                now++;
                left_in_ms = events_per_ms;
            }
        }
        done += m;
    }
    for (int k = 0; k < 4; k++) {
        g->ad_s[k] = as[k];
        g->type_s[k] = ts[k];
        g->user_s[k] = us[k];
    }
    g->now_ms = now;
    g->left_in_ms = left_in_ms;
    g->produced += n;
    return n;
}

uint64_t sl_gen_key(const sl_gen *g, uint32_t rank)
{
    assert(rank < g->cfg.keys);
    return rank < g->cfg.keys ? g->ads[rank].key : SL_EMPTY_KEY;
}

double sl_gen_click_prob(const sl_gen *g, uint32_t rank)
{
    assert(rank < g->cfg.keys);
    return rank < g->cfg.keys ? g->click_prob[rank] : 0.0;
}

void sl_gen_destroy(sl_gen **gp)
{
    if (!gp || !*gp)
        return;
    free((*gp)->cols);
    free((*gp)->ads);
    free((*gp)->click_prob);
    free((*gp)->users);
    free(*gp);
    *gp = NULL;
}
