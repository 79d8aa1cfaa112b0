/* Tests of host/generator.c: determinism, the Zipf and click distributions, event times and
 * the ad-id dictionary.
 *
 * Statistical checks use a fixed seed, so each one either always passes or always fails; the
 * tolerances are chosen so that a correct generator would fail them for fewer than about one
 * seed in a million, while the mistakes they are there to catch (a wrong exponent, an
 * off-by-one rank, a missing normalisation, a biased coin) move the statistic by many times
 * the tolerance. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addict.h"
#include "err.h"
#include "event.h"
#include "generator.h"
#include "keyhash.h"

/* Five standard deviations: a normal variable lands outside with probability 5.7e-7. Every
 * count checked this way has an expectation over 500, where the binomial is close to normal.
 * (Over 80 seeds the z-scores of these checks had mean 0.0 +- 0.2 and sd 0.9..1.1.) */
#define SIGMAS 5.0

static sl_gen_cfg small_cfg(void)
{
    sl_gen_cfg c;
    sl_gen_defaults(&c);
    c.events = 100000;
    c.keys = 1000;
    return c;
}

/* Returns a generator of cfg (dict may be NULL); fails the test when it cannot be made. */
static sl_gen *make(const sl_gen_cfg *cfg, sl_addict *dict)
{
    int err = 0;
    sl_gen *g = sl_gen_new(cfg, dict, &err);
    cr_assert_not_null(g, "sl_gen_new: %s", sl_strerror(err));
    return g;
}

/* Produces all cfg->events events into a new array (the caller frees it). */
static sl_rec *generate_all(const sl_gen_cfg *cfg)
{
    sl_gen *g = make(cfg, NULL);
    sl_rec *ev = malloc((size_t)cfg->events * sizeof *ev);
    cr_assert_not_null(ev);
    cr_assert_eq(sl_gen_next(g, ev, cfg->events), cfg->events);
    cr_assert_eq(sl_gen_next(g, ev, 1), 0, "nothing after the last event");
    sl_gen_destroy(&g);
    cr_assert_null(g);
    return ev;
}

/* key -> rank, open addressing (keys are never 0). */
struct rank_map {
    uint64_t *keys;
    uint32_t *ranks;
    size_t mask;
};

static void rank_map_init(struct rank_map *m, const sl_gen *g, uint32_t n)
{
    size_t cap = 16;
    while (cap < 2 * (size_t)n)
        cap *= 2;
    m->keys = calloc(cap, sizeof *m->keys);
    m->ranks = calloc(cap, sizeof *m->ranks);
    m->mask = cap - 1;
    cr_assert(m->keys && m->ranks);
    for (uint32_t r = 0; r < n; r++) {
        uint64_t k = sl_gen_key(g, r);
        size_t i = (size_t)k & m->mask;
        while (m->keys[i] != 0) {
            if (m->keys[i] == k)
                cr_assert_fail("ranks %u and %u share a key", (unsigned)m->ranks[i], (unsigned)r);
            i = (i + 1) & m->mask;
        }
        m->keys[i] = k;
        m->ranks[i] = r;
    }
}

/* Returns the rank of key, or UINT32_MAX when no ad has it. */
static uint32_t rank_of(const struct rank_map *m, uint64_t k)
{
    size_t i = (size_t)k & m->mask;
    while (m->keys[i] != 0 && m->keys[i] != k)
        i = (i + 1) & m->mask;
    return m->keys[i] == k ? m->ranks[i] : UINT32_MAX;
}

/* Counts the events of a generator of cfg per rank into counts[0..keys). */
static void count_ranks(const sl_gen_cfg *cfg, uint64_t *counts)
{
    sl_gen *g = make(cfg, NULL);
    struct rank_map m;
    rank_map_init(&m, g, cfg->keys);
    enum { CHUNK = 65536 };
    sl_rec *buf = malloc(CHUNK * sizeof *buf);
    cr_assert_not_null(buf);
    memset(counts, 0, cfg->keys * sizeof *counts);
    uint64_t got;
    while ((got = sl_gen_next(g, buf, CHUNK)) > 0) {
        for (uint64_t i = 0; i < got; i++) {
            uint32_t r = rank_of(&m, buf[i].key);
            if (r == UINT32_MAX)
                cr_assert_fail("event key %016llx is no ad's key", (unsigned long long)buf[i].key);
            counts[r]++;
        }
    }
    free(buf);
    free(m.keys);
    free(m.ranks);
    sl_gen_destroy(&g);
}

Test(generator, defaults)
{
    sl_gen_cfg c;
    sl_gen_defaults(&c);
    cr_assert_eq(c.events, 10000000);
    cr_assert_eq(c.keys, 100000);
    cr_assert_float_eq(c.skew, 1.0, 0.0);
    cr_assert_float_eq(c.click_rate, 0.10, 0.0);
    cr_assert_float_eq(c.purchase_rate, 0.005, 0.0);
    cr_assert_eq(c.seed, 42);
    cr_assert_eq(c.start_ms, INT64_C(1767225600000)); /* date -u -d 2026-01-01 +%s */
    cr_assert_eq(c.events_per_ms, 1000);
}

Test(generator, same_seed_same_stream)
{
    sl_gen_cfg c = small_cfg();
    sl_rec *a = generate_all(&c);
    sl_rec *b = generate_all(&c);
    cr_assert_eq(memcmp(a, b, (size_t)c.events * sizeof *a), 0);

    /* The stream does not depend on how it is read: odd chunk sizes give the same events. */
    sl_gen *g = make(&c, NULL);
    uint64_t done = 0, step = 1;
    while (done < c.events) {
        uint64_t got = sl_gen_next(g, b + done, step);
        cr_assert_gt(got, 0);
        done += got;
        step = step % 997 + 3;
    }
    cr_assert_eq(done, c.events);
    cr_assert_eq(memcmp(a, b, (size_t)c.events * sizeof *a), 0);
    sl_gen_destroy(&g);
    free(a);
    free(b);
}

Test(generator, different_seed_different_stream)
{
    sl_gen_cfg c = small_cfg();
    sl_rec *a = generate_all(&c);
    c.seed = 43;
    sl_rec *b = generate_all(&c);
    uint64_t same_key = 0;
    for (uint64_t i = 0; i < c.events; i++)
        same_key += a[i].key == b[i].key;
    /* Two independent Zipf(1) draws over 1000 keys agree with probability sum p_r^2 = 0.029. */
    cr_assert_lt(same_key, c.events / 20, "%llu of %llu keys equal", (unsigned long long)same_key,
                 (unsigned long long)c.events);
    free(a);
    free(b);
}

/* Pins the stream of the default seed: a change here changes every demo and benchmark's data,
 * so it must be deliberate (and the constant updated with a note why). */
Test(generator, golden_stream)
{
    sl_gen_cfg c = small_cfg();
    c.events = 10000;
    sl_rec *ev = generate_all(&c);
    uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a over the records' fields */
    for (uint64_t i = 0; i < c.events; i++) {
        uint32_t vbits;
        memcpy(&vbits, &ev[i].value, sizeof vbits);
        uint64_t fields[4] = {ev[i].key, (uint64_t)ev[i].time_ms, vbits, ev[i].type};
        for (int f = 0; f < 4; f++) {
            for (int b = 0; b < 8; b++) {
                h ^= (fields[f] >> (8 * b)) & 0xff;
                h *= UINT64_C(1099511628211);
            }
        }
    }
    free(ev);
    /* Same value from gcc and clang at -O0..-O3 -march=native and from the portable 128-bit
     * multiply (-U__SIZEOF_INT128__), x86-64, 2026-05. */
    cr_assert_eq(h, UINT64_C(0x82ccd710f4959e37), "stream hash %016llx", (unsigned long long)h);
}

/* Exact Zipf probability of rank r over n keys with exponent s. */
static double zipf_p(uint32_t r, uint32_t n, double s)
{
    double h = 0.0;
    for (uint32_t i = n; i > 0; i--)
        h += pow((double)i, -s);
    return pow((double)r + 1.0, -s) / h;
}

static void check_freq(const char *what, uint64_t count, uint64_t total, double p)
{
    double f = (double)count / (double)total;
    double sd = sqrt(p * (1.0 - p) / (double)total);
    cr_assert_leq(fabs(f - p), SIGMAS * sd, "%s: frequency %.6f, expected %.6f +- %.6f", what, f, p,
                  SIGMAS * sd);
}

/* Chi-square statistic of counts[0..n) against the Zipf(s) probabilities. */
static double chi2(const uint64_t *counts, uint32_t n, uint64_t total, double s)
{
    double h = 0.0, x = 0.0;
    for (uint32_t i = n; i > 0; i--)
        h += pow((double)i, -s);
    for (uint32_t r = 0; r < n; r++) {
        double e = (double)total * pow((double)r + 1.0, -s) / h;
        x += ((double)counts[r] - e) * ((double)counts[r] - e) / e;
    }
    return x;
}

Test(generator, zipf_frequencies, .timeout = 120)
{
    sl_gen_cfg c = small_cfg();
    c.events = 4000000;
    c.keys = 1000;
    c.skew = 1.0;
    uint64_t *counts = malloc(c.keys * sizeof *counts);
    cr_assert_not_null(counts);
    count_ranks(&c, counts);
    /* p0 = 1/H_1000 = 0.13359 (sd of the frequency 1.7e-4 at 4M events), p9 = p0/10 = 0.013359
     * (sd 5.7e-5). An exponent of 0.9 instead of 1 would give p0 = 0.107: 150 sd away. */
    check_freq("rank 0", counts[0], c.events, zipf_p(0, c.keys, c.skew));
    check_freq("rank 9", counts[9], c.events, zipf_p(9, c.keys, c.skew));
    check_freq("rank 999", counts[999], c.events, zipf_p(999, c.keys, c.skew));
    /* All ranks together: chi-square with 999 degrees of freedom (every expected count is over
     * 500) exceeds 1227 with probability 9e-7 (regularised gamma, computed in Python). */
    double x = chi2(counts, c.keys, c.events, c.skew);
    cr_assert_lt(x, 1227.0, "chi-square %.1f over 999 dof", x);

    /* A steeper exponent. */
    c.skew = 1.5;
    c.keys = 100;
    c.events = 2000000;
    c.seed = 7;
    count_ranks(&c, counts);
    check_freq("s=1.5 rank 0", counts[0], c.events, zipf_p(0, c.keys, c.skew));
    check_freq("s=1.5 rank 9", counts[9], c.events, zipf_p(9, c.keys, c.skew));
    free(counts);
}

Test(generator, uniform)
{
    sl_gen_cfg c = small_cfg();
    c.events = 2000000;
    c.keys = 10;
    c.skew = 0.0;
    uint64_t counts[10];
    count_ranks(&c, counts);
    for (uint32_t r = 0; r < 10; r++) {
        char what[32];
        snprintf(what, sizeof what, "rank %u", (unsigned)r);
        check_freq(what, counts[r], c.events, 0.1); /* sd 2.1e-4 */
    }
    /* Chi-square with 9 degrees of freedom exceeds 46 with probability 6e-7. */
    double x = chi2(counts, 10, c.events, 0.0);
    cr_assert_lt(x, 46.0, "chi-square %.1f over 9 dof", x);

    /* One key: every event is that key. */
    c.keys = 1;
    c.events = 1000;
    sl_rec *ev = generate_all(&c);
    sl_gen *g = make(&c, NULL);
    for (uint64_t i = 0; i < c.events; i++)
        cr_assert_eq(ev[i].key, sl_gen_key(g, 0));
    sl_gen_destroy(&g);
    free(ev);
}

Test(generator, click_probabilities)
{
    sl_gen_cfg c = small_cfg();
    c.keys = 10000;
    c.click_rate = 0.1;
    sl_gen *g = make(&c, NULL);
    double sum = 0.0;
    for (uint32_t r = 0; r < c.keys; r++) {
        double p = sl_gen_click_prob(g, r);
        cr_assert(p >= 0.0 && p <= 0.2, "rank %u: %f", (unsigned)r, p);
        sum += p;
    }
    /* Uniform on [0, 0.2]: sd 0.0577 per ad, 5.8e-4 for the mean of 10,000. */
    cr_assert_leq(fabs(sum / c.keys - 0.1), SIGMAS * 0.2 / sqrt(12.0) / 100.0, "mean %f",
                  sum / c.keys);
    sl_gen_destroy(&g);

    /* Above 0.5 the range [0, 2 * rate] is clamped at 1. */
    c.click_rate = 0.75;
    g = make(&c, NULL);
    uint32_t ones = 0;
    for (uint32_t r = 0; r < c.keys; r++) {
        double p = sl_gen_click_prob(g, r);
        cr_assert(p >= 0.0 && p <= 1.0);
        ones += p == 1.0;
    }
    /* P(2 * 0.75 * U >= 1) = 1/3: 3333 of 10,000 ads, sd 47. */
    cr_assert(ones > 3000 && ones < 3700, "%u ads at probability 1", (unsigned)ones);
    sl_gen_destroy(&g);
}

Test(generator, event_types_and_values, .timeout = 60)
{
    sl_gen_cfg c = small_cfg();
    c.events = 2000000;
    c.keys = 1000;
    c.click_rate = 0.1;
    c.purchase_rate = 0.02;
    sl_gen *g = make(&c, NULL);
    /* Expected click fraction: (1 - purchase_rate) * sum_r P(rank r) * click_prob(r). */
    double expect_click = 0.0;
    for (uint32_t r = 0; r < c.keys; r++)
        expect_click += zipf_p(r, c.keys, c.skew) * sl_gen_click_prob(g, r);
    expect_click *= 1.0 - c.purchase_rate;
    sl_gen_destroy(&g);

    sl_rec *ev = generate_all(&c);
    uint64_t n[SL_EV_NTYPES] = {0};
    for (uint64_t i = 0; i < c.events; i++) {
        if (ev[i].type >= SL_EV_NTYPES)
            cr_assert_fail("event %llu: type %u", (unsigned long long)i, (unsigned)ev[i].type);
        n[ev[i].type]++;
        double v = ev[i].value;
        if (ev[i].type == SL_EV_PURCHASE) {
            if (!(v >= 1.0 && v <= 100.0) || fabs(v * 100.0 - round(v * 100.0)) > 1e-3)
                cr_assert_fail("purchase of %f: not 1.00..100.00 in cents", v);
        } else if (v != 0.0) {
            cr_assert_fail("event %llu of type %u has value %f", (unsigned long long)i,
                           (unsigned)ev[i].type, v);
        }
    }
    cr_assert_eq(n[SL_EV_OTHER], 0);
    check_freq("purchases", n[SL_EV_PURCHASE], c.events, c.purchase_rate);
    check_freq("clicks", n[SL_EV_CLICK], c.events, expect_click);
    /* And loosely the configured mean (the top ranks' own draws dominate under Zipf). */
    cr_assert_leq(fabs((double)n[SL_EV_CLICK] / c.events - 0.098), 0.04);
    free(ev);

    /* The extremes. */
    c.events = 10000;
    c.click_rate = 0.0;
    c.purchase_rate = 0.0;
    ev = generate_all(&c);
    for (uint64_t i = 0; i < c.events; i++)
        cr_assert_eq(ev[i].type, SL_EV_VIEW);
    free(ev);
    c.purchase_rate = 1.0;
    ev = generate_all(&c);
    for (uint64_t i = 0; i < c.events; i++)
        cr_assert_eq(ev[i].type, SL_EV_PURCHASE);
    free(ev);
}

Test(generator, event_times)
{
    sl_gen_cfg c = small_cfg();
    c.events = 10000;
    c.events_per_ms = 7;
    c.start_ms = -20;
    sl_rec *ev = generate_all(&c);
    for (uint64_t i = 0; i < c.events; i++)
        if (ev[i].time_ms != c.start_ms + (int64_t)(i / 7))
            cr_assert_fail("event %llu at %lld", (unsigned long long)i, (long long)ev[i].time_ms);
    free(ev);

    /* The last event may sit just below INT64_MAX. */
    c.events = 3;
    c.events_per_ms = 1;
    c.start_ms = INT64_MAX - 3;
    ev = generate_all(&c);
    cr_assert_eq(ev[2].time_ms, INT64_MAX - 1);
    free(ev);

    /* No events: nothing to produce. */
    c.events = 0;
    sl_gen *g = make(&c, NULL);
    sl_rec one;
    cr_assert_eq(sl_gen_next(g, &one, 1), 0);
    sl_gen_destroy(&g);
}

Test(generator, invalid_configs)
{
    sl_gen_cfg base = small_cfg(), c;
    int err;
#define REJECT(field, val)                                                                         \
    do {                                                                                           \
        c = base;                                                                                  \
        c.field = (val);                                                                           \
        err = 0;                                                                                   \
        cr_assert_null(sl_gen_new(&c, NULL, &err), #field " = " #val);                             \
        cr_assert_eq(err, SL_EINVAL, #field " = " #val ": %d", err);                               \
    } while (0)
    REJECT(keys, 0);
    REJECT(click_rate, -0.01);
    REJECT(click_rate, 1.01);
    REJECT(click_rate, NAN);
    REJECT(purchase_rate, 2.0);
    REJECT(purchase_rate, -1e-9);
    REJECT(skew, -0.5);
    REJECT(skew, NAN);
    REJECT(skew, INFINITY);
    REJECT(events_per_ms, 0);
    REJECT(start_ms, INT64_MAX); /* the clock would pass INT64_MAX */
#undef REJECT
    c = base;
    cr_assert_null(sl_gen_new(&(sl_gen_cfg){.keys = 0}, NULL, NULL), "err may be NULL");
    /* The limits themselves are fine. */
    c.click_rate = 1.0;
    c.purchase_rate = 0.0;
    c.skew = 0.0;
    sl_gen *g = make(&c, NULL);
    sl_gen_destroy(&g);
    sl_gen_destroy(&g); /* no-op on NULL */
    sl_gen_destroy(NULL);
}

Test(generator, dictionary_holds_every_id)
{
    sl_addict *d = sl_addict_new();
    cr_assert_not_null(d);
    uint64_t other;
    cr_assert_eq(sl_addict_intern(d, "not-an-ad", 9, &other), 0);

    sl_gen_cfg c = small_cfg();
    c.keys = 5000;
    sl_gen *g = make(&c, d);
    cr_assert_eq(sl_addict_count(d), 5001);
    for (uint32_t r = 0; r < c.keys; r++) {
        char want[32];
        size_t len = 0;
        int n = snprintf(want, sizeof want, "ad-%08u", (unsigned)r);
        uint64_t key = sl_gen_key(g, r);
        const char *id = sl_addict_get(d, key, &len);
        cr_assert_not_null(id, "rank %u", (unsigned)r);
        cr_assert_str_eq(id, want);
        cr_assert_eq(len, (size_t)n);
        cr_assert_eq(key, sl_key_hash(want, (size_t)n));
    }
    sl_rec ev[4096];
    uint64_t got = sl_gen_next(g, ev, 4096);
    cr_assert_eq(got, 4096);
    for (uint64_t i = 0; i < got; i++)
        cr_assert_not_null(sl_addict_get(d, ev[i].key, NULL));

    /* A second generator over the same ids finds them already there. */
    sl_gen *g2 = make(&c, d);
    cr_assert_eq(sl_addict_count(d), 5001);
    cr_assert_eq(sl_gen_key(g2, 17), sl_gen_key(g, 17));

    /* Without a dictionary the keys are the same. */
    sl_gen *g3 = make(&c, NULL);
    for (uint32_t r = 0; r < c.keys; r += 97)
        cr_assert_eq(sl_gen_key(g3, r), sl_gen_key(g, r));
    sl_gen_destroy(&g3);
    sl_gen_destroy(&g2);
    sl_gen_destroy(&g);
    sl_addict_destroy(&d);
}
