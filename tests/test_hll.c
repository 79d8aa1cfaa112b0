/* Tests of the HyperLogLog example PE, examples/kernels/distinct_users.cl.
 *
 * (a) Against a plain C HyperLogLog written here with the same precision (p = 10) and the same
 *     register rule (index = top p bits of the user key, rank = leading zeros of the other 64 - p
 *     bits + 1, computed bit by bit rather than with clz): per key the registers are identical
 *     whatever the dispatch mode, since a register is a maximum of integers. The estimate is then
 *     a sum of exact powers of two in register order and a few +, *, / which OpenCL, like C,
 *     rounds correctly, so the raw HyperLogLog estimate is equal bit for bit and compared
 *     exactly. Only linear counting, m * log(m / V), goes through log(), which OpenCL allows 3 ulp
 *     of error in double (OpenCL 1.2, 7.4; glibc's is within 1 ulp): the two values may differ
 *     by ~1e-12 relative, and if they lay that close to a .5 they would round to integers 1
 *     apart. So a linear-counting estimate may differ by 1, and only when the reference's value
 *     before rounding is within 1e-12 relative of a half-integer; anything else (a formula
 *     that is off by a fraction) still fails. In fact V takes only the values 1..1024, none of
 *     which puts m * log(m / V) within 6.6e-6 of a half-integer (linear_counting_has_no_ties
 *     checks it), so on any device meeting the spec the estimates are equal (measured: no row off
 *     by one); the tolerance would matter only at another p. events and no_user are compared
 *     exactly. Random inputs from th_records: three seeds, 1 to 5000 keys, uniform and Zipf,
 *     chunked (2 table copies, merged with sl_merge) and grouped.
 * (b) Accuracy against the exact number of distinct users per key: over keys with at least 1000
 *     distinct users, the mean relative error is within the sketch's standard error
 *     1.04 / sqrt(1024) = 3.25% and no key is beyond 4 standard errors (13%).
 * (c) Events without a user (user == 0) are counted and leave the sketch as it was, and
 *     hand-made user keys pin down ranks, the all-zero remainder, and both estimators. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "harness.h"

#define HLL_P 10
#define HLL_M (1u << HLL_P)
#define HLL_SE (1.04 / 32.0) /* 1.04 / sqrt(HLL_M): relative standard error */

#define T0 INT64_C(1700000000000)

static sl_engine_cfg make_cfg(uint64_t capacity, uint32_t batch)
{
    return tu_example_pe("distinct_users.cl", "distinct_users.cl", capacity, batch);
}

/* ---- the C HyperLogLog ------------------------------------------------------------------ */

/* Leading zeros of the 64 - p bits below the index, plus one; 64 - p + 1 when they are all 0. */
static unsigned hll_rank(uint64_t user)
{
    uint64_t w = user << HLL_P;
    unsigned r = 1;
    while (r <= 64 - HLL_P && !(w >> 63)) {
        w <<= 1;
        r++;
    }
    return r;
}

static void hll_add(uint8_t *reg, uint64_t user)
{
    const unsigned j = (unsigned)(user >> (64 - HLL_P)), r = hll_rank(user);
    if (r > reg[j])
        reg[j] = (uint8_t)r;
}

/* Flajolet et al.'s estimate with the small-range correction, rounded; *linear says whether
 * linear counting was used, *unrounded is the estimate before rounding. */
static double hll_estimate(const uint8_t *reg, int *linear, double *unrounded)
{
    double sum = 0.0;
    unsigned zeros = 0;
    for (unsigned j = 0; j < HLL_M; j++) {
        sum += ldexp(1.0, -(int)reg[j]);
        zeros += reg[j] == 0;
    }
    const double m = HLL_M, alpha = 0.7213 / (1.0 + 1.079 / m);
    const double e = alpha * m * m / sum;
    *linear = e <= 2.5 * m && zeros > 0;
    *unrounded = *linear ? m * log(m / zeros) : e;
    return round(*unrounded);
}

typedef struct ref_row {
    uint64_t key;
    double est;
    int linear;
    double unrounded; /* est before rounding */
    uint64_t events, no_user;
} ref_row;

/* One row per key, sorted by key (malloc'd). */
static ref_row *reference(const sl_rec *recs, size_t n, size_t *nrows)
{
    size_t *idx = th_by_key(recs, n);
    ref_row *rows = calloc(n ? n : 1, sizeof *rows);
    cr_assert_not_null(rows);
    uint8_t reg[HLL_M];
    size_t k = 0;
    for (size_t b = 0, e; b < n; b = e) {
        memset(reg, 0, sizeof reg);
        ref_row *row = &rows[k++];
        row->key = recs[idx[b]].key;
        for (e = b; e < n && recs[idx[e]].key == row->key; e++) {
            const uint64_t u = recs[idx[e]].user;
            row->events++;
            if (u == 0)
                row->no_user++;
            else
                hll_add(reg, u);
        }
        row->est = hll_estimate(reg, &row->linear, &row->unrounded);
    }
    free(idx);
    *nrows = k;
    return rows;
}

/* ---- running and comparing -------------------------------------------------------------- */

struct tally {
    size_t raw, linear, linear_off; /* rows compared; linear rows that differed by 1 */
};

static void run(const sl_engine_cfg *cfg, const sl_rec *recs, size_t n, size_t chunk,
                th_result *res)
{
    int rc = th_run(cfg, recs, n, chunk, res);
    cr_assert_eq(rc, 0, "engine (mode %d, copies %u) failed: %s (%s)", (int)cfg->mode, cfg->copies,
                 sl_strerror(rc), res->msg);
    cr_assert_eq(res->stats.events_in, n);
}

static void compare(const th_result *res, const ref_row *ref, size_t nref, struct tally *t)
{
    cr_assert_eq(res->nfinal, nref, "rows: engine %zu, reference %zu", res->nfinal, nref);
    for (size_t i = 0; i < nref; i++) {
        const sl_row *a = &res->final_rows[i];
        const ref_row *b = &ref[i];
        cr_assert_eq(a->key, b->key, "row %zu key %016llx vs %016llx", i,
                     (unsigned long long)a->key, (unsigned long long)b->key);
        cr_assert_eq(a->window_start, 0);
        cr_assert_eq(a->v[1], (double)b->events, "key %016llx events %.17g vs %llu",
                     (unsigned long long)b->key, a->v[1], (unsigned long long)b->events);
        cr_assert_eq(a->v[2], (double)b->no_user, "key %016llx no_user %.17g vs %llu",
                     (unsigned long long)b->key, a->v[2], (unsigned long long)b->no_user);
        for (int c = 3; c < SL_COLUMNS_MAX; c++)
            cr_assert_eq(a->v[c], 0.0);
        if (b->linear) {
            /* a few ulp of log() can move the value across a .5 only when it lies that close */
            const double half = floor(b->unrounded) + 0.5;
            cr_assert(a->v[0] == b->est || (fabs(a->v[0] - b->est) == 1.0 &&
                                            fabs(b->unrounded - half) <= 1e-12 * b->unrounded),
                      "key %016llx linear-counting estimate %.17g vs %.17g (unrounded %.17g)",
                      (unsigned long long)b->key, a->v[0], b->est, b->unrounded);
            t->linear++;
            t->linear_off += a->v[0] != b->est;
        } else {
            cr_assert_eq(a->v[0], b->est, "key %016llx estimate %.17g vs %.17g",
                         (unsigned long long)b->key, a->v[0], b->est);
            t->raw++;
        }
    }
}

static void run_compare(const sl_engine_cfg *cfg, const sl_rec *recs, size_t n, size_t chunk,
                        const ref_row *ref, size_t nref, struct tally *t)
{
    th_result res;
    run(cfg, recs, n, chunk, &res);
    compare(&res, ref, nref, t);
    th_result_free(&res);
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* ---- (a) the same registers as the C HyperLogLog ---------------------------------------- */

Test(hll, matches_c_reference_chunked_and_grouped, .timeout = 120)
{
    static const uint32_t keys[] = {1, 10, 300, 5000};
    static const double skews[] = {0.0, 1.1};
    const size_t n = 40000;
    sl_rec *recs = th_alloc(n);
    struct tally t = {0};
    for (uint64_t seed = 1; seed <= 3; seed++)
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            for (size_t s = 0; s < 2; s++) {
                th_records(seed * 100 + k, recs, n, keys[k], skews[s], T0, 500);
                size_t nref;
                ref_row *ref = reference(recs, n, &nref);
                sl_engine_cfg cfg = make_cfg(keys[k] < 64 ? 64 : keys[k], 8192);
                cfg.mode = SL_DISPATCH_CHUNKED;
                cfg.copies = 2;
                run_compare(&cfg, recs, n, 3000 + seed, ref, nref, &t);
                cfg.mode = SL_DISPATCH_GROUPED;
                cfg.copies = 0;
                cfg.partitions = s ? 16 : 64;
                run_compare(&cfg, recs, n, 5000, ref, nref, &t);
                free(ref);
            }
    cr_log_info("hll reference: %zu rows with the raw estimate (equal), %zu with linear counting "
                "(%zu off by one)",
                t.raw, t.linear, t.linear_off);
    /* both estimators were exercised */
    cr_assert_gt(t.raw, 0);
    cr_assert_gt(t.linear, 0);
    free(recs);
}

/* Every value linear counting can take at p = 10 is far from a rounding tie, compared with the
 * few ulp log() may be off: see the top of this file. */
Test(hll, linear_counting_has_no_ties)
{
    const double m = HLL_M;
    double nearest = 1;
    for (unsigned v = 1; v <= HLL_M; v++) {
        const double e = m * log(m / v);
        nearest = fmin(nearest, fabs(e - (floor(e) + 0.5)));
    }
    cr_assert_gt(nearest, 6e-6, "m * log(m / V) within %g of a half-integer", nearest);
}

/* ---- (b) accuracy against exact distinct counts ----------------------------------------- */

#define POOL 200001u /* users 0..200000: large enough that keys share few users */

struct pair {
    uint64_t key, user;
};

static int pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->user > y->user) - (x->user < y->user);
}

/* Exact distinct users per key, in key order: sort (key, user) and count the runs. Returns the
 * number of keys; keys_out[i], distinct[i] are malloc'd by the caller with n entries. */
static size_t exact_distinct(const sl_rec *recs, size_t n, uint64_t *keys_out, size_t *distinct)
{
    struct pair *p = malloc(n * sizeof *p);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (struct pair){recs[i].key, recs[i].user};
    qsort(p, n, sizeof *p, pair_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || p[i].key != p[i - 1].key) {
            keys_out[k] = p[i].key;
            distinct[k++] = 0;
        }
        if (i == 0 || p[i].key != p[i - 1].key || p[i].user != p[i - 1].user)
            distinct[k - 1]++;
    }
    free(p);
    return k;
}

Test(hll, accuracy_against_exact_distinct_counts, .timeout = 120)
{
    uint64_t *pool = malloc(POOL * sizeof *pool);
    cr_assert_not_null(pool);
    for (uint32_t u = 0; u < POOL; u++)
        pool[u] = th_user(u);
    /* uniform: 150 keys of ~6000 events (~5900 users each); Zipf(1): 400 keys from ~150,000
     * events (~105,000 users) down to a few, about 150 of them with over 1000 users */
    static const struct {
        uint32_t keys;
        double skew;
        size_t n;
    } in[] = {{150, 0.0, 900000}, {400, 1.0, 1000000}};
    double sum_abs = 0, sum_sq = 0, sum_signed = 0, worst = 0;
    size_t counted = 0, lo = SIZE_MAX, hi = 0;
    for (size_t c = 0; c < sizeof in / sizeof in[0]; c++) {
        const size_t n = in[c].n;
        sl_rec *recs = malloc(n * sizeof *recs);
        uint64_t *keys = malloc(n * sizeof *keys);
        size_t *distinct = malloc(n * sizeof *distinct);
        cr_assert(recs && keys && distinct);
        th_records(40 + c, recs, n, in[c].keys, in[c].skew, T0, 0);
        uint64_t s = 1234 + c;
        for (size_t i = 0; i < n; i++)
            recs[i].user = pool[splitmix(&s) % POOL];
        const size_t nk = exact_distinct(recs, n, keys, distinct);

        size_t nref;
        ref_row *ref = reference(recs, n, &nref);
        cr_assert_eq(nref, nk);
        sl_engine_cfg cfg = make_cfg(in[c].keys, 65536);
        th_result res;
        run(&cfg, recs, n, 100000, &res);
        struct tally t = {0};
        compare(&res, ref, nref, &t);

        for (size_t i = 0; i < nk; i++) {
            cr_assert_eq(res.final_rows[i].key, keys[i]);
            if (distinct[i] < 1000)
                continue;
            const double rel = (res.final_rows[i].v[0] - (double)distinct[i]) / (double)distinct[i];
            cr_assert_leq(fabs(rel), 4 * HLL_SE,
                          "key %016llx: estimate %.0f for %zu distinct users (%.2f%% off)",
                          (unsigned long long)keys[i], res.final_rows[i].v[0], distinct[i],
                          100 * rel);
            sum_abs += fabs(rel);
            sum_sq += rel * rel;
            sum_signed += rel;
            worst = fmax(worst, fabs(rel));
            counted++;
            lo = distinct[i] < lo ? distinct[i] : lo;
            hi = distinct[i] > hi ? distinct[i] : hi;
        }
        th_result_free(&res);
        free(ref);
        free(distinct);
        free(keys);
        free(recs);
    }
    cr_assert_geq(counted, 200, "only %zu keys with >= 1000 distinct users", counted);
    const double mean_abs = sum_abs / (double)counted;
    cr_log_info("hll accuracy: %zu keys with %zu..%zu distinct users: mean |rel err| %.2f%%, "
                "rms %.2f%%, mean signed %+.2f%%, largest %.2f%% (standard error %.2f%%)",
                counted, lo, hi, 100 * mean_abs, 100 * sqrt(sum_sq / (double)counted),
                100 * sum_signed / (double)counted, 100 * worst, 100 * HLL_SE);
    cr_assert_leq(mean_abs, HLL_SE, "mean relative error %.4f", mean_abs);
    free(pool);
}

/* ---- (c) events without a user, and hand-made registers --------------------------------- */

/* Zeroing the user of a third of the events: those are counted in no_user and leave every
 * estimate as the same input without them gives. */
Test(hll, events_without_user_are_counted_and_skipped, .timeout = 60)
{
    const size_t n = 30000;
    sl_rec *recs = malloc(n * sizeof *recs), *kept = malloc(n * sizeof *kept);
    cr_assert(recs && kept);
    th_records(9, recs, n, 300, 0.9, T0, 200);
    uint64_t s = 99;
    size_t nzero = 0, nkept = 0;
    for (size_t i = 0; i < n; i++) {
        if (splitmix(&s) % 3 == 0) {
            recs[i].user = 0;
            nzero++;
        } else {
            kept[nkept++] = recs[i];
        }
    }
    size_t nref;
    ref_row *ref = reference(recs, n, &nref);
    sl_engine_cfg cfg = make_cfg(300, 4096);
    cfg.mode = SL_DISPATCH_CHUNKED;
    cfg.copies = 2;
    th_result all, without;
    run(&cfg, recs, n, 1000, &all);
    struct tally t = {0};
    compare(&all, ref, nref, &t);
    run(&cfg, kept, nkept, 1000, &without);

    double no_user = 0;
    size_t j = 0;
    for (size_t i = 0; i < all.nfinal; i++) {
        const sl_row *a = &all.final_rows[i];
        no_user += a->v[2];
        if (j < without.nfinal && without.final_rows[j].key == a->key) {
            const sl_row *b = &without.final_rows[j++];
            cr_assert_eq(a->v[0], b->v[0], "key %016llx: %.0f with user-less events, %.0f without",
                         (unsigned long long)a->key, a->v[0], b->v[0]);
            cr_assert_eq(a->v[1] - a->v[2], b->v[1]);
            cr_assert_eq(b->v[2], 0.0);
        } else {
            /* a key whose every event lacked a user still gets its row, estimating 0 */
            cr_assert_eq(a->v[0], 0.0);
            cr_assert_eq(a->v[1], a->v[2]);
        }
    }
    cr_assert_eq(j, without.nfinal);
    cr_assert_eq(no_user, (double)nzero);
    th_result_free(&all);
    th_result_free(&without);
    free(ref);
    free(kept);
    free(recs);
}

static void add_event(sl_rec *recs, size_t *n, size_t cap, uint64_t key, uint64_t user)
{
    cr_assert_lt(*n, cap);
    recs[*n] = (sl_rec){key, T0 + (int64_t)*n, 0.0f, SL_EV_VIEW, user};
    *n += 1;
}

#define U(j, rem) (((uint64_t)(j) << (64 - HLL_P)) | (uint64_t)(rem))

Test(hll, by_hand, .timeout = 60)
{
    const uint64_t a = th_key(1), b = th_key(2), c = th_key(3), d = th_key(4);
    /* rank k + 1: the remainder's top k bits clear, the next one set */
#define RANK(k) (UINT64_C(1) << (63 - HLL_P - (k)))
    sl_rec recs[3 * HLL_M];
    size_t n = 0;
#define ADD(k, u) add_event(recs, &n, sizeof recs / sizeof recs[0], (k), (u))
    /* a: no users at all */
    ADD(a, 0);
    ADD(a, 0);
    ADD(a, 0);
    /* b: two users in two registers, one of them three times, and one event without a user:
     * linear counting gives 1024 * log(1024 / 1022) = 2.002 */
    ADD(b, U(7, RANK(0)));
    ADD(b, U(7, RANK(0)));
    ADD(b, 0);
    ADD(b, U(900, RANK(3)));
    ADD(b, U(7, RANK(0)));
    /* c: register j gets rank 1 + j % 20, after a lower rank in every third register, and a
     * lower one again after it in every fifth: the maximum stays */
    for (unsigned j = 0; j < HLL_M; j++) {
        if (j % 3 == 0 && j % 20 > 0)
            ADD(c, U(j, RANK(j % 20 - 1) | 1));
        ADD(c, U(j, RANK(j % 20)));
        if (j % 5 == 0 && j % 20 > 1)
            ADD(c, U(j, RANK(0)));
    }
    /* d: every remainder all zero, rank 64 - p + 1 = 55 (register 0 gets user 1 instead, as user
     * 0 means none: rank 54) */
    ADD(d, 1);
    for (unsigned j = 1; j < HLL_M; j++)
        ADD(d, U(j, 0));

    const double m = HLL_M, alpha = 0.7213 / (1.0 + 1.079 / m);
    double sum_c = 0;
    for (unsigned j = 0; j < HLL_M; j++)
        sum_c += ldexp(1.0, -(int)(1 + j % 20));
    const double sum_d = 1025 * 0x1p-55; /* 2^-54 + 1023 * 2^-55 */
    ref_row want[4] = {
        {.key = a, .est = 0, .events = 3, .no_user = 3},
        {.key = b, .est = 2, .events = 5, .no_user = 1},
        {.key = c, .est = round(alpha * m * m / sum_c)},
        {.key = d, .est = round(alpha * m * m / sum_d), .events = HLL_M},
    };
    for (size_t i = 0; i < n; i++)
        want[2].events += recs[i].key == c;
    /* about 2.66e19; ranks of 65 (clz(0) + 1) would give about 340 times more */
    cr_assert_gt(want[3].est, 2e19);
    cr_assert_lt(want[3].est, 3e19);
    for (size_t i = 0; i < 3; i++) /* sort by key as the rows come */
        for (size_t k = 0; k + 1 < 4 - i; k++)
            if (want[k].key > want[k + 1].key) {
                ref_row tmp = want[k];
                want[k] = want[k + 1];
                want[k + 1] = tmp;
            }

    /* the C reference agrees with the hand-worked values */
    size_t nref;
    ref_row *ref = reference(recs, n, &nref);
    cr_assert_eq(nref, 4);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(ref[i].key, want[i].key);
        cr_assert_eq(ref[i].est, want[i].est, "key %zu: %.17g vs %.17g", i, ref[i].est,
                     want[i].est);
        cr_assert_eq(ref[i].events, want[i].events);
        cr_assert_eq(ref[i].no_user, want[i].no_user);
        want[i].linear = ref[i].linear;
        want[i].unrounded = ref[i].unrounded;
    }
    free(ref);

    static const enum sl_dispatch_mode modes[] = {SL_DISPATCH_CHUNKED, SL_DISPATCH_GROUPED};
    for (size_t k = 0; k < 2; k++) {
        sl_engine_cfg cfg = make_cfg(16, 64);
        cfg.mode = modes[k];
        cfg.copies = 3;
        struct tally t = {0};
        run_compare(&cfg, recs, n, 7, want, 4, &t);
        cr_assert_eq(t.linear_off, 0);
    }
#undef ADD
#undef RANK
}
