/* Tests of host/reference.h: the plain C reference PEs against answers worked out by hand. The
 * engine tests compare the OpenCL engine with this reference, so these known answers are what
 * anchors both. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "reference.h"

/* Keys are arbitrary nonzero numbers; KC > INT64_MAX checks that keys sort as unsigned. */
#define KA UINT64_C(0x30)
#define KB UINT64_C(0x10)
#define KC UINT64_C(0xF000000000000001)
#define KD UINT64_C(0x20)

static sl_rec rec(uint64_t key, int64_t t, float value, enum sl_evtype type)
{
    sl_rec r = {.key = key, .time_ms = t, .value = value, .type = (uint32_t)type};
    return r;
}

/* The same, as a constant initializer for static tables. */
#define REC(k, t, v, ty)                                                                           \
    {                                                                                              \
        .key = (k), .time_ms = (t), .value = (v), .type = (uint32_t)(ty)                           \
    }

/* The kind the current test's rows come from: the built-ins' columns are count v[0]; sum v[0]
 * count, v[1] sum; ctr v[0] impressions, v[1] clicks, v[2] ctr; window_count v[0]. */
static enum sl_pe_kind cur_kind = SL_PE_COUNT;

static sl_ref *make(enum sl_pe_kind kind)
{
    cur_kind = kind;
    sl_pe_cfg pe;
    sl_pe_defaults(&pe, kind);
    sl_ref *r = sl_ref_new(&pe);
    cr_assert_not_null(r);
    return r;
}

static void push(sl_ref *r, const sl_rec *recs, size_t n)
{
    int rc = sl_ref_push(r, recs, n);
    cr_assert(eq(int, rc, 0), "sl_ref_push: %s", sl_strerror(rc));
}

/* Returns the rows (caller frees) and asserts there are `want` of them. */
static sl_row *rows_of(const sl_ref *r, size_t want)
{
    sl_row *rows = NULL;
    size_t n = 12345;
    int rc = sl_ref_rows(r, &rows, &n);
    cr_assert(eq(int, rc, 0), "sl_ref_rows: %s", sl_strerror(rc));
    cr_assert_not_null(rows);
    cr_assert(eq(sz, n, want));
    return rows;
}

/* Checks one row given as (first count n0, clicks n1, ctr-or-sum x) in the built-ins' terms. */
static void expect_row(const sl_row *got, uint64_t key, int64_t ws, uint64_t n0, uint64_t n1,
                       double x, size_t i)
{
    cr_assert(eq(u64, got->key, key), "row %zu", i);
    cr_assert(eq(i64, got->window_start, ws), "row %zu", i);
    cr_assert(eq(dbl, got->v[0], (double)n0), "row %zu", i);
    if (cur_kind == SL_PE_CTR) {
        cr_assert(eq(dbl, got->v[1], (double)n1), "row %zu", i);
        cr_assert(ieee_ulp_eq(dbl, got->v[2], x, 1), "row %zu", i);
    } else if (cur_kind == SL_PE_SUM) {
        cr_assert(ieee_ulp_eq(dbl, got->v[1], x, 1), "row %zu", i);
    } else {
        cr_assert(eq(u64, n1, 0));
        cr_assert(eq(dbl, got->v[1], 0.0), "row %zu", i);
    }
}

/* ---- count, sum, ctr ------------------------------------------------------------------------ */

Test(reference, count_known_answer)
{
    /* 10 records: A A B C A B C C C A -> A 4, B 2, C 4; type and value do not matter */
    const sl_rec recs[] = {
        rec(KA, 1, 0.0f, SL_EV_VIEW),  rec(KA, 2, 9.0f, SL_EV_CLICK),
        rec(KB, 3, 0.0f, SL_EV_OTHER), rec(KC, 4, 0.0f, SL_EV_PURCHASE),
        rec(KA, 5, 0.0f, SL_EV_VIEW),  rec(KB, 6, 0.0f, SL_EV_VIEW),
        rec(KC, 7, 0.0f, SL_EV_VIEW),  rec(KC, 8, 0.0f, SL_EV_VIEW),
        rec(KC, 9, 0.0f, SL_EV_CLICK), rec(KA, 10, 0.0f, SL_EV_VIEW),
    };
    sl_ref *r = make(SL_PE_COUNT);
    push(r, recs, 10);
    cr_assert(eq(sz, sl_ref_count(r), 3));
    sl_row *rows = rows_of(r, 3);
    /* sorted by key: KB (0x10) < KA (0x30) < KC (0xF0...) */
    expect_row(&rows[0], KB, 0, 2, 0, 0.0, 0);
    expect_row(&rows[1], KA, 0, 4, 0, 0.0, 1);
    expect_row(&rows[2], KC, 0, 4, 0, 0.0, 2);
    cr_assert(eq(u64, sl_ref_late(r), 0));
    free(rows);
    sl_ref_destroy(&r);
    cr_assert_null(r);
}

Test(reference, sum_known_answer)
{
    /* values are exact in binary, so the sums are exact:
     *   A: 1.5 + 2.25 + (-0.5) + 10    = 13.25  (4 records)
     *   B: 0.125 + 0.125               = 0.25   (2 records)
     *   C: -3 + -4 + 0.75 + 100        = 93.75  (4 records) */
    const sl_rec recs[] = {
        rec(KA, 0, 1.5f, SL_EV_VIEW),    rec(KA, 0, 2.25f, SL_EV_CLICK),
        rec(KB, 0, 0.125f, SL_EV_VIEW),  rec(KC, 0, -3.0f, SL_EV_OTHER),
        rec(KA, 0, -0.5f, SL_EV_VIEW),   rec(KB, 0, 0.125f, SL_EV_VIEW),
        rec(KC, 0, -4.0f, SL_EV_VIEW),   rec(KC, 0, 0.75f, SL_EV_VIEW),
        rec(KC, 0, 100.0f, SL_EV_CLICK), rec(KA, 0, 10.0f, SL_EV_VIEW),
    };
    sl_ref *r = make(SL_PE_SUM);
    push(r, recs, 10);
    sl_row *rows = rows_of(r, 3);
    expect_row(&rows[0], KB, 0, 2, 0, 0.25, 0);
    expect_row(&rows[1], KA, 0, 4, 0, 13.25, 1);
    expect_row(&rows[2], KC, 0, 4, 0, 93.75, 2);
    free(rows);
    sl_ref_destroy(&r);
}

/* The sum is of the float value widened to double: 0.1f is 0.100000001490116..., and ten of them
 * add up to 10 * (double)0.1f within a few ulps, not to 1.0. */
Test(reference, sum_uses_float_values)
{
    sl_rec recs[10];
    for (int i = 0; i < 10; i++)
        recs[i] = rec(KA, 0, 0.1f, SL_EV_VIEW);
    sl_ref *r = make(SL_PE_SUM);
    push(r, recs, 10);
    sl_row *rows = rows_of(r, 1);
    cr_assert(epsilon_eq(dbl, rows[0].v[1], 10.0 * (double)0.1f, 1e-14));
    cr_assert(ne(dbl, rows[0].v[1], 1.0));
    free(rows);
    sl_ref_destroy(&r);
}

/* views count as impressions and clicks as clicks; purchases and other types only create the
 * key:
 *   A: view view click view purchase        -> 3 views, 1 click, ctr 1/3
 *   B: click click                          -> 0 views, 2 clicks, ctr 0 (no views)
 *   C: view view view view                  -> 4 views, 0 clicks, ctr 0
 *   D: other                                -> 0 views, 0 clicks, ctr 0 */
static const sl_rec ctr_recs[] = {
    REC(KA, 0, 0.0f, SL_EV_VIEW),  REC(KA, 0, 0.0f, SL_EV_VIEW),  REC(KB, 0, 0.0f, SL_EV_CLICK),
    REC(KC, 0, 0.0f, SL_EV_VIEW),  REC(KA, 0, 0.0f, SL_EV_CLICK), REC(KC, 0, 0.0f, SL_EV_VIEW),
    REC(KB, 0, 0.0f, SL_EV_CLICK), REC(KA, 0, 0.0f, SL_EV_VIEW),  REC(KC, 0, 0.0f, SL_EV_VIEW),
    REC(KD, 0, 0.0f, SL_EV_OTHER), REC(KC, 0, 0.0f, SL_EV_VIEW),  REC(KA, 0, 0.0f, SL_EV_PURCHASE),
};
#define NCTR (sizeof ctr_recs / sizeof ctr_recs[0])

Test(reference, ctr_known_answer)
{
    sl_ref *r = make(SL_PE_CTR);
    push(r, ctr_recs, NCTR);
    cr_assert(eq(sz, sl_ref_count(r), 4));
    sl_row *rows = rows_of(r, 4);
    /* key order: KB 0x10 < KD 0x20 < KA 0x30 < KC */
    expect_row(&rows[0], KB, 0, 0, 2, 0.0, 0);
    expect_row(&rows[1], KD, 0, 0, 0, 0.0, 1);
    expect_row(&rows[2], KA, 0, 3, 1, 1.0 / 3.0, 2);
    expect_row(&rows[3], KC, 0, 4, 0, 0.0, 3);
    free(rows);
    sl_ref_destroy(&r);
}

/* With a Beta(a, b) prior, ctr = (clicks + a) / (views + a + b), also for keys without views. */
Test(reference, ctr_prior)
{
    sl_pe_cfg pe;
    sl_pe_defaults(&pe, SL_PE_CTR);
    cur_kind = SL_PE_CTR;
    pe.has_prior = 1;
    pe.prior_a = 1.0;
    pe.prior_b = 10.0;
    sl_ref *r = sl_ref_new(&pe);
    cr_assert_not_null(r);
    push(r, ctr_recs, NCTR);
    sl_row *rows = rows_of(r, 4);
    expect_row(&rows[0], KB, 0, 0, 2, (2.0 + 1.0) / (0.0 + 11.0), 0); /* 3/11 */
    expect_row(&rows[1], KD, 0, 0, 0, 1.0 / 11.0, 1);                 /* the prior mean */
    expect_row(&rows[2], KA, 0, 3, 1, 2.0 / 14.0, 2);                 /* (1+1)/(3+11) */
    expect_row(&rows[3], KC, 0, 4, 0, 1.0 / 15.0, 3);                 /* (0+1)/(4+11) */
    free(rows);
    sl_ref_destroy(&r);

    /* a fractional prior: a = 0.5, b = 1.5 on A (3 views, 1 click): 1.5 / 5 = 0.3 */
    pe.prior_a = 0.5;
    pe.prior_b = 1.5;
    r = sl_ref_new(&pe);
    cr_assert_not_null(r);
    push(r, ctr_recs, NCTR);
    rows = rows_of(r, 4);
    cr_assert(ieee_ulp_eq(dbl, rows[2].v[2], 1.5 / 5.0, 1));
    free(rows);
    sl_ref_destroy(&r);
}

/* Pushing in pieces gives the same result as one push. */
Test(reference, push_in_pieces)
{
    sl_ref *r = make(SL_PE_CTR);
    for (size_t i = 0; i < NCTR; i += 5)
        push(r, ctr_recs + i, NCTR - i < 5 ? NCTR - i : 5);
    push(r, ctr_recs, 0);
    sl_row *rows = rows_of(r, 4);
    expect_row(&rows[2], KA, 0, 3, 1, 1.0 / 3.0, 2);
    expect_row(&rows[3], KC, 0, 4, 0, 0.0, 3);
    free(rows);
    sl_ref_destroy(&r);
}

Test(reference, empty)
{
    sl_ref *r = make(SL_PE_COUNT);
    sl_row *rows = rows_of(r, 0);
    cr_assert(eq(sz, sl_ref_count(r), 0));
    free(rows);
    sl_ref_destroy(&r);
    sl_ref_destroy(&r);
    sl_ref_destroy(NULL);
}

/* 5,000 keys (the table starts at 1,024 entries and grows): key i + 1 gets i % 7 + 1 records,
 * pushed round-robin. */
Test(reference, many_keys)
{
    enum { K = 5000 };
    sl_ref *r = make(SL_PE_COUNT);
    sl_rec *recs = malloc(K * 7 * sizeof *recs);
    cr_assert_not_null(recs);
    size_t n = 0;
    for (int round = 0; round < 7; round++)
        for (uint64_t i = 0; i < K; i++)
            if ((uint64_t)round <= i % 7)
                recs[n++] = rec(i + 1, 0, 0.0f, SL_EV_VIEW);
    push(r, recs, n);
    cr_assert(eq(sz, sl_ref_count(r), K));
    sl_row *rows = rows_of(r, K);
    for (uint64_t i = 0; i < K; i++) {
        cr_assert(eq(u64, rows[i].key, i + 1));
        cr_assert(eq(dbl, rows[i].v[0], (double)(i % 7 + 1)), "key %llu",
                  (unsigned long long)(i + 1));
    }
    free(rows);
    free(recs);
    sl_ref_destroy(&r);
}

/* ---- windows ------------------------------------------------------------------------------- */

static sl_ref *make_window(int64_t window_ms, int64_t lateness_ms)
{
    sl_pe_cfg pe;
    sl_pe_defaults(&pe, SL_PE_WINDOW);
    cur_kind = SL_PE_WINDOW;
    pe.window_ms = window_ms;
    pe.lateness_ms = lateness_ms;
    sl_ref *r = sl_ref_new(&pe);
    cr_assert_not_null(r);
    return r;
}

Test(reference, window_rejects_bad_config)
{
    sl_pe_cfg pe;
    sl_pe_defaults(&pe, SL_PE_WINDOW);
    cur_kind = SL_PE_WINDOW;
    pe.window_ms = 0;
    cr_assert_null(sl_ref_new(&pe));
    pe.window_ms = -1000;
    cr_assert_null(sl_ref_new(&pe));
    pe.window_ms = 1000;
    pe.lateness_ms = -1;
    cr_assert_null(sl_ref_new(&pe));
    pe.lateness_ms = 0;
    sl_ref *r = sl_ref_new(&pe);
    cr_assert_not_null(r);
    sl_ref_destroy(&r);
}

/* A window_count case worked out by hand: the records pushed in this order into a reference
 * with cfg.window_ms and cfg.lateness_ms drop cfg.late of them and give exactly the rows `want`
 * (key, window start, count), sorted. Both lists end at the first zero key (keys are nonzero). */
struct window_case {
    char name[48]; /* not a pointer: Criterion copies the parameters into another process */
    struct {
        int64_t window_ms, lateness_ms;
        uint64_t late;
    } cfg;
    sl_rec recs[8];
    struct {
        uint64_t key;
        int64_t ws;
        uint64_t count;
    } want[8];
};

#define V(k, t) REC(k, t, 0.0f, SL_EV_VIEW)

static const struct window_case window_cases[] = {
    /* Window start is floor(t / w) * w, also for negative t. Times ascend, so nothing is late:
     *   -1001 -> -2000;  -1000 -> -1000;  -1 -> -1000;  0 -> 0;  999 -> 0;  1000 -> 1000 */
    {"window assignment with negative times",
     {1000, 0, 0},
     {V(KA, -1001), V(KA, -1000), V(KA, -1), V(KA, 0), V(KA, 999), V(KA, 1000)},
     {{KA, -2000, 1}, {KA, -1000, 2}, {KA, 0, 2}, {KA, 1000, 1}}},
    {"a single negative event", {1000, 0, 0}, {REC(KB, -1, 0.0f, SL_EV_CLICK)}, {{KB, -1000, 1}}},
    /* A window length that does not divide the epoch evenly: w = 7, t = -15 -> floor(-15/7) = -3
     * -> -21; t = 13 -> 7; t = -7 -> -7; t = 6 -> 0. Lateness large enough that nothing is
     * dropped. */
    {"window assignment, odd length",
     {7, 1000, 0},
     {V(KA, 13), V(KA, -15), V(KA, -7), V(KA, 6)},
     {{KA, -21, 1}, {KA, -7, 1}, {KA, 0, 1}, {KA, 7, 1}}},
    /* Rows sort by key first, then window start (negative before positive). */
    {"rows sorted by key, then window",
     {1000, 1000000, 0},
     {V(KC, 2500), V(KA, 1500), V(KB, -500), V(KA, -2500), V(KC, -1), V(KB, 2999), V(KA, 1999)},
     {{KB, -1000, 1}, {KB, 2000, 1}, {KA, -3000, 1}, {KA, 1000, 2}, {KC, -1000, 1}, {KC, 2000, 1}}},

    /* The late rule: an event is dropped when its window's end <= (largest earlier event time) -
     * lateness_ms. Window 1000 from here on. */

    /* lateness 0: after t = 5000, t = 4999 (window [4000, 5000), end 5000 <= 5000) is late;
     * t = 5000 itself is not (end 6000). */
    {"late boundary, lateness 0, dropped",
     {1000, 0, 1},
     {V(KA, 5000), V(KA, 4999), V(KA, 5000)},
     {{KA, 5000, 2}}},
    /* lateness 0, max 4999: t = 4000 is in the max's own window (end 5000 > 4999), so kept. */
    {"late boundary, lateness 0, kept", {1000, 0, 0}, {V(KA, 4999), V(KA, 4000)}, {{KA, 4000, 2}}},
    /* lateness 500, window [4000, 5000) with end 5000:
     *   max 5500: 5000 <= 5500 - 500 = 5000 -> late (exactly on the boundary)
     *   max 5499: 5000 <= 4999 is false     -> kept (one ms inside) */
    {"late boundary with lateness, dropped",
     {1000, 500, 1},
     {V(KA, 5500), V(KA, 4000)},
     {{KA, 5000, 1}}},
    {"late boundary with lateness, kept",
     {1000, 500, 0},
     {V(KA, 5499), V(KA, 4000)},
     {{KA, 4000, 1}, {KA, 5000, 1}}},
    /* The largest time is over all keys: an event of another key is late against it:
     *   10000 (max 10000); 8999: [8000, 9000), 9000 <= 10000 -> late;
     *   9000: [9000, 10000), 10000 <= 10000 -> late; 10001: kept, max 10001 */
    {"late across keys",
     {1000, 0, 2},
     {V(KA, 10000), V(KB, 8999), V(KB, 9000), V(KB, 10001)},
     {{KB, 10000, 1}, {KA, 10000, 1}}},
    /* Negative times follow the same rule: after max 0, t = -1 is in [-1000, 0), end 0 <= 0 ->
     * late; -2001 in [-3000, -2000) -> late. */
    {"late with negative times", {1000, 0, 2}, {V(KA, 0), V(KA, -1), V(KA, -2001)}, {{KA, 0, 1}}},
    /* with lateness 1001 the same -1 is kept: 0 <= 0 - 1001 is false */
    {"negative time kept with lateness 1001",
     {1000, 1001, 0},
     {V(KA, 0), V(KA, -1)},
     {{KA, -1000, 1}, {KA, 0, 1}}},
    /* A kept out-of-order event does not lower the largest time. Lateness 500, so the rule reads
     * "late when window end <= max - 500":
     *   3900: max 3900
     *   3000: [3000, 4000), 4000 <= 3400 is false -> kept; max stays 3900 (not 3000)
     *   2600: [2000, 3000), 3000 <= 3400          -> late (against 3000 it would be kept) */
    {"late: the max time only grows",
     {1000, 500, 1},
     {V(KA, 3900), V(KA, 3000), V(KA, 2600)},
     {{KA, 3000, 2}}},
};

#undef V

ParameterizedTestParameters(reference, windows)
{
    return cr_make_param_array(struct window_case, window_cases,
                               sizeof window_cases / sizeof window_cases[0]);
}

ParameterizedTest(struct window_case *c, reference, windows)
{
    size_t n = 0, nwant = 0;
    while (n < 8 && c->recs[n].key)
        n++;
    while (nwant < 8 && c->want[nwant].key)
        nwant++;
    sl_ref *r = make_window(c->cfg.window_ms, c->cfg.lateness_ms);
    push(r, c->recs, n);
    cr_assert(eq(u64, sl_ref_late(r), c->cfg.late), "%s: late events", c->name);
    cr_assert(eq(sz, sl_ref_count(r), nwant), "%s: windows", c->name);
    sl_row *rows = NULL;
    size_t got = 0;
    cr_assert(eq(int, sl_ref_rows(r, &rows, &got), 0), "%s", c->name);
    cr_assert(eq(sz, got, nwant), "%s: rows", c->name);
    for (size_t i = 0; i < nwant; i++) {
        cr_assert(eq(u64, rows[i].key, c->want[i].key), "%s: row %zu key", c->name, i);
        cr_assert(eq(i64, rows[i].window_start, c->want[i].ws), "%s: row %zu window", c->name, i);
        cr_assert(eq(dbl, rows[i].v[0], (double)c->want[i].count), "%s: row %zu count", c->name, i);
        cr_assert(eq(dbl, rows[i].v[1], 0.0), "%s: row %zu column 1", c->name, i);
    }
    free(rows);
    sl_ref_destroy(&r);
}
