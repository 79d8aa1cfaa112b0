/* Differential tests of the example user PEs in examples/kernels/ against plain C references
 * written here, independently of the kernel code: random inputs over several seeds, 1 to 20,000
 * keys, uniform and Zipf skew, and event times with jitter so that arrival order and time order
 * differ. The reduce example runs chunked (2 and 3 table copies) and grouped; the sequential one
 * always runs grouped.
 *
 * Exactness: counts and maxima are compared exactly. Revenue sums are exact too, in any order of
 * addition: th_records' values are multiples of 1/64 below 2^11 in magnitude, so every partial
 * sum of a test (below 2^31 / 64) is a double without rounding. The decayed CTR is compared
 * within DECAY_TOL; see there. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "harness.h"
#include "reference.h"

/* Decayed counts: the kernel and decayed_fold do the same IEEE operations in the same order
 * per key, and OpenCL requires +, * and / on doubles to be correctly rounded, like C; only exp2
 * may differ: the OpenCL 1.2 spec (7.4, "ULP values for double precision built-in math
 * functions") allows it 3 ulp of error, and glibc's exp2 is within 1 ulp. A count is a sum of
 * terms each multiplied by up to k decay factors for a key's k events, so in the worst case the
 * two can drift apart by about 2 * 4 * k ulp relative (2^-53 each): over 1e-11 for the 60,000
 * events of one key here. In practice the errors do not line up: over every row of these tests
 * the largest difference was 4 ulp, 5.9e-16 relative (PoCL 3.1 pthread device, whose exp2 is
 * SLEEF's, against glibc on x86-64; 2-core VM, 2026-11-21; measured by printing the largest
 * |engine - reference| / |reference| per run), while equality without tolerance fails. 1e-12
 * relative (th_assert_rows: |a - b| <= tol * max(1, |b|)) leaves three orders of magnitude of
 * room for other devices and still catches any difference of semantics (a missed or extra
 * decay, a wrong order, a float where a double belongs) by many more. */
#define DECAY_TOL 1e-12
#define HALF_LIFE_MS 60000.0 /* the default HALF_LIFE_MS of decayed_ctr.cl */

#define T0 INT64_C(1700000000000) /* event times start here (2023-11-14) */

static sl_engine_cfg make_cfg(const char *file, uint64_t capacity, uint32_t batch)
{
    return tu_example_pe(file, file, capacity, batch);
}

/* ---- references: records grouped by key in arrival order, one row per key ------------------ */

/* Folds the n events recs[idx[0]], recs[idx[1]], ... of one key into its row. */
typedef void (*fold_fn)(const sl_rec *recs, const size_t *idx, size_t n, sl_row *row);

/* Calls fold once per key with that key's events in arrival order; returns the rows sorted by
 * key (malloc'd, caller frees) in *rows and their number in *nrows. */
static void by_key(const sl_rec *recs, size_t n, fold_fn fold, sl_row **rows, size_t *nrows)
{
    size_t *idx = th_by_key(recs, n);
    sl_row *out = calloc(n ? n : 1, sizeof *out);
    cr_assert_not_null(out);
    size_t k = 0;
    for (size_t b = 0, e; b < n; b = e) {
        for (e = b + 1; e < n && recs[idx[e]].key == recs[idx[b]].key; e++)
            ;
        out[k].key = recs[idx[b]].key;
        fold(recs, idx + b, e - b, &out[k]);
        k++;
    }
    free(idx);
    *rows = out;
    *nrows = k;
}

/* revenue.cl: v[0] purchases, v[1] sum of purchase values, v[2] largest (0 when none). */
static void revenue_fold(const sl_rec *recs, const size_t *idx, size_t n, sl_row *row)
{
    uint64_t purchases = 0;
    double sum = 0;
    float max = 0;
    for (size_t j = 0; j < n; j++) {
        const sl_rec *r = &recs[idx[j]];
        if (r->type != SL_EV_PURCHASE)
            continue;
        if (purchases == 0 || r->value > max)
            max = r->value;
        purchases++;
        sum += (double)r->value;
    }
    row->v[0] = (double)purchases;
    row->v[1] = sum;
    row->v[2] = (double)max;
}

/* decayed_ctr.cl: decay by the time since the latest event when time moves forward, then count;
 * v[0] impressions, v[1] clicks, v[2] (clicks + 1) / (impressions + 10). */
static void decayed_fold(const sl_rec *recs, const size_t *idx, size_t n, sl_row *row)
{
    double imp = 0, clk = 0;
    int64_t last = recs[idx[0]].time_ms;
    for (size_t j = 0; j < n; j++) {
        const sl_rec *r = &recs[idx[j]];
        if (r->time_ms > last) {
            const double d = exp2(-(double)(r->time_ms - last) / HALF_LIFE_MS);
            imp *= d;
            clk *= d;
            last = r->time_ms;
        }
        if (r->type == SL_EV_VIEW)
            imp += 1.0;
        else if (r->type == SL_EV_CLICK)
            clk += 1.0;
    }
    row->v[0] = imp;
    row->v[1] = clk;
    row->v[2] = (clk + 1.0) / (imp + 10.0);
}

/* Events that arrive with a time at or before the latest one of their key (they decay nothing). */
static size_t count_out_of_order(const sl_rec *recs, size_t n)
{
    size_t *idx = th_by_key(recs, n);
    size_t late = 0;
    int64_t last = 0;
    for (size_t j = 0; j < n; j++) {
        const int64_t t = recs[idx[j]].time_ms;
        if (j == 0 || recs[idx[j]].key != recs[idx[j - 1]].key || t > last)
            last = t;
        else
            late++;
    }
    free(idx);
    return late;
}

/* Runs the engine and asserts its final rows equal `ref` (within tol; 0 = exactly). */
static void check(const sl_engine_cfg *cfg, const sl_rec *recs, size_t n, size_t chunk,
                  const sl_row *ref, size_t nref, double tol)
{
    th_result res;
    int rc = th_run(cfg, recs, n, chunk, &res);
    cr_assert_eq(rc, 0, "engine (%s, mode %d, copies %u) failed: %s (%s)", cfg->pe.name,
                 (int)cfg->mode, cfg->copies, sl_strerror(rc), res.msg);
    cr_assert_eq(res.stats.events_in, n);
    th_assert_rows(res.final_rows, res.nfinal, ref, nref, tol);
    th_result_free(&res);
}

/* ---- revenue.cl ------------------------------------------------------------------------- */

Test(examples, revenue_matches_reference_chunked_and_grouped, .timeout = 120)
{
    static const uint32_t keys[] = {1, 10, 1000, 20000};
    static const double skews[] = {0.0, 1.1};
    const size_t n = 40000;
    sl_rec *recs = th_alloc(n);
    size_t empty = 0, negative = 0;
    for (uint64_t seed = 1; seed <= 3; seed++)
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            for (size_t s = 0; s < 2; s++) {
                th_records(seed * 100 + k, recs, n, keys[k], skews[s], T0, 500);
                sl_row *ref;
                size_t nref;
                by_key(recs, n, revenue_fold, &ref, &nref);
                for (size_t i = 0; i < nref; i++) {
                    empty += ref[i].v[0] == 0;
                    negative += ref[i].v[0] > 0 && ref[i].v[2] < 0;
                }
                sl_engine_cfg cfg = make_cfg("revenue.cl", 40000, 8192);
                cfg.mode = SL_DISPATCH_CHUNKED;
                cfg.copies = 2;
                check(&cfg, recs, n, 3000 + seed, ref, nref, 0.0);
                cfg.copies = 3;
                cfg.partitions = 16;
                check(&cfg, recs, n, 7777, ref, nref, 0.0);
                cfg.mode = SL_DISPATCH_GROUPED;
                cfg.copies = 0;
                cfg.partitions = 64;
                check(&cfg, recs, n, 5000, ref, nref, 0.0);
                free(ref);
            }
    /* both edge cases of max_value were exercised: no purchase (0) and only losses (< 0) */
    cr_assert_gt(empty, 0);
    cr_assert_gt(negative, 0);
    free(recs);
}

/* Fixed records with the answer worked out by hand. */
Test(examples, revenue_by_hand, .timeout = 60)
{
    const uint64_t a = th_key(1), b = th_key(2), c = th_key(3), d = th_key(4);
    const sl_rec recs[] = {
        {a, T0, 10.5f, SL_EV_PURCHASE, 0},
        {a, T0 + 1, 99.0f, SL_EV_VIEW, 0},
        {b, T0 + 2, 3.0f, SL_EV_CLICK, 0},
        {a, T0 + 3, 0.25f, SL_EV_PURCHASE, 0},
        {c, T0 + 4, -2.0f, SL_EV_PURCHASE, 0},
        {c, T0 + 5, -0.5f, SL_EV_PURCHASE, 0},
        {a, T0 + 6, 40.0f, SL_EV_PURCHASE, 0},
        {b, T0 + 7, 7.0f, SL_EV_OTHER, 0},
        /* d: 2^24 + 1 + 1 needs a double: a float sum would round back to 2^24 */
        {d, T0 + 8, 16777216.0f, SL_EV_PURCHASE, 0},
        {d, T0 + 9, 1.0f, SL_EV_PURCHASE, 0},
        {d, T0 + 10, 1.0f, SL_EV_PURCHASE, 0},
    };
    const size_t n = sizeof recs / sizeof recs[0];
    sl_row want[4] = {{.key = a, .v = {3, 50.75, 40.0}},
                      {.key = b, .v = {0, 0, 0}},
                      {.key = c, .v = {2, -2.5, -0.5}},
                      {.key = d, .v = {3, 16777218.0, 16777216.0}}};
    qsort(want, 4, sizeof want[0], sl_row_cmp_key);
    static const enum sl_dispatch_mode modes[] = {SL_DISPATCH_CHUNKED, SL_DISPATCH_GROUPED};
    for (size_t m = 0; m < 2; m++) {
        sl_engine_cfg cfg = make_cfg("revenue.cl", 100, 64);
        cfg.mode = modes[m];
        cfg.copies = 3;
        check(&cfg, recs, n, 1, want, 4, 0.0);
    }
}

/* ---- decayed_ctr.cl --------------------------------------------------------------------- */

Test(examples, decayed_ctr_matches_reference_in_arrival_order, .timeout = 120)
{
    static const uint32_t keys[] = {1, 10, 1000, 20000};
    static const double skews[] = {0.0, 1.1};
    static const int64_t jitters[] = {300, 5000, 90000};
    const size_t n = 60000;
    sl_rec *recs = th_alloc(n);
    for (uint64_t seed = 1; seed <= 3; seed++)
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            for (size_t s = 0; s < 2; s++) {
                /* jitter well beyond the per-key gap: out of order events for every key count */
                th_records(seed * 100 + k, recs, n, keys[k], skews[s], T0, jitters[seed - 1]);
                cr_assert_gt(count_out_of_order(recs, n), 0, "seed %llu keys %u skew %g",
                             (unsigned long long)seed, keys[k], skews[s]);
                sl_row *ref;
                size_t nref;
                by_key(recs, n, decayed_fold, &ref, &nref);
                sl_engine_cfg cfg = make_cfg("decayed_ctr.cl", 40000, 8192);
                cfg.partitions = s ? 16 : 0;
                check(&cfg, recs, n, 2500 + seed, ref, nref, DECAY_TOL);
                free(ref);
            }
    free(recs);
}

/* Asking for chunked mode cannot break a sequential PE: the engine groups it anyway. */
Test(examples, decayed_ctr_ignores_chunked_mode, .timeout = 60)
{
    const size_t n = 30000;
    sl_rec *recs = th_records_new(77, n, 50, 1.0, T0, 2000);
    sl_row *ref;
    size_t nref;
    by_key(recs, n, decayed_fold, &ref, &nref);
    sl_engine_cfg cfg = make_cfg("decayed_ctr.cl", 1000, 4096);
    cfg.mode = SL_DISPATCH_CHUNKED;
    cfg.copies = 3;
    check(&cfg, recs, n, 999, ref, nref, DECAY_TOL);
    free(ref);
    free(recs);
}

/* The example of the kernel's top comment: the same two events in the two arrival orders. A click
 * then, a minute later, a view: the click decays to 1/2. The view first: the click arrives late,
 * decays nothing, and is counted whole. */
Test(examples, decayed_ctr_depends_on_arrival_order, .timeout = 60)
{
    const uint64_t a = th_key(1), b = th_key(2);
    const sl_rec recs[] = {
        {a, T0, 0, SL_EV_CLICK, 0},
        {b, T0 + 60000, 0, SL_EV_VIEW, 0},
        {a, T0 + 60000, 0, SL_EV_VIEW, 0},
        {b, T0, 0, SL_EV_CLICK, 0},
        /* b: a purchase two minutes on only moves the clock: quarters both counts */
        {b, T0 + 180000, 5.0f, SL_EV_PURCHASE, 0},
    };
    sl_row want[2] = {{.key = a, .v = {1.0, 0.5, 1.5 / 11.0}},
                      {.key = b, .v = {0.25, 0.25, 1.25 / 10.25}}};
    qsort(want, 2, sizeof want[0], sl_row_cmp_key);
    sl_engine_cfg cfg = make_cfg("decayed_ctr.cl", 100, 64);
    check(&cfg, recs, sizeof recs / sizeof recs[0], 2, want, 2, DECAY_TOL);
}
