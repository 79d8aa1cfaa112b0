/* Tests of examples/kernels/topk_ctr.cl (the top 3 ads per campaign by ctr, a reduce PE) and of
 * the `key` column format it emits its ads in (host/columns.h, host/sink.c).
 *
 * The PE is checked against a plain C reference written here, which shares nothing with the
 * kernel's insertion logic: it sorts every (campaign, ad, ctr) candidate to find each ad's
 * largest ctr, then sorts again by (campaign, ctr descending, ad ascending) and takes the first
 * three per campaign. Inputs are random (seeded): 1 to 50 campaigns plus a few sparse ones with
 * fewer than three ads, a few thousand ads, each repeated with different ctrs, ctrs drawn from
 * a dozen float values (so ties are common, -0 included), and some records without an ad or with
 * a NaN ctr. The engine runs chunked (2 and 3 table copies, snapshots that merge mid-stream) and
 * grouped, with batches from 64 to 262,144 records. Nothing rounds in this PE, so every row is
 * compared bit for bit: the key columns hold raw keys (some have the bits of a NaN, which == would
 * never find equal), and the ctrs must not even differ in the sign of a zero. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addict.h"
#include "columns.h"
#include "device.h"
#include "err.h"
#include "harness.h"
#include "keyhash.h"
#include "reference.h"
#include "sink.h"

/* The kernel's SL_COLUMNS, copied: the layout test checks the device reports the same text. */
#define TOPK_COLUMNS "top1:key,ctr1:f6,top2:key,ctr2:f6,top3:key,ctr3:f6,candidates:int"
#define K 3

static double key_bits(uint64_t k)
{
    double d;
    memcpy(&d, &k, sizeof d);
    return d;
}

static uint64_t bits_of(double d)
{
    uint64_t k;
    memcpy(&k, &d, sizeof k);
    return k;
}

/* Keys of campaign i and ad i ("campaign-I", "ad-I"). */
static uint64_t hashed(const char *prefix, unsigned i)
{
    char id[48];
    int n = snprintf(id, sizeof id, "%s-%u", prefix, i);
    return sl_key_hash(id, (size_t)n);
}

static sl_engine_cfg make_cfg(uint64_t capacity, uint32_t batch)
{
    return tu_example_pe("topk_ctr.cl", "topk_ctr", capacity, batch);
}

/* ---- the reference ---------------------------------------------------------------------- */

struct cand {
    uint64_t campaign, ad;
    float ctr;
};

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* campaign, then ad, then ctr descending: the first of each (campaign, ad) run is its largest */
static int cmp_by_ad(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->campaign != y->campaign)
        return x->campaign < y->campaign ? -1 : 1;
    if (x->ad != y->ad)
        return x->ad < y->ad ? -1 : 1;
    return x->ctr > y->ctr ? -1 : x->ctr < y->ctr;
}

/* campaign, then ctr descending, then ad ascending: the ranking */
static int cmp_by_rank(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->campaign != y->campaign)
        return x->campaign < y->campaign ? -1 : 1;
    if (x->ctr != y->ctr)
        return x->ctr > y->ctr ? -1 : 1;
    return x->ad < y->ad ? -1 : x->ad > y->ad;
}

/* The documented semantics: every record is a candidate of its campaign (record key); those with
 * an ad (user != 0) and a ctr that is not NaN are ranked, -0 counting as +0; each ad keeps its
 * largest ctr; ranks by ctr descending, then ad ascending; the first K. One row per campaign,
 * sorted by key (malloc'd in *rows, caller frees). */
static void reference(const sl_rec *recs, size_t n, sl_row **rows, size_t *nrows)
{
    uint64_t *camps = malloc((n ? n : 1) * sizeof *camps);
    struct cand *c = malloc((n ? n : 1) * sizeof *c);
    sl_row *out = calloc(n ? n : 1, sizeof *out);
    cr_assert(camps && c && out);
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        camps[i] = recs[i].key;
        if (recs[i].user == 0 || isnan(recs[i].value))
            continue;
        c[nc++] =
            (struct cand){recs[i].key, recs[i].user, recs[i].value == 0 ? 0.0f : recs[i].value};
    }
    qsort(camps, n, sizeof *camps, cmp_u64);
    size_t k = 0;
    for (size_t b = 0, e; b < n; b = e) {
        for (e = b + 1; e < n && camps[e] == camps[b]; e++)
            ;
        out[k].key = camps[b];
        out[k].v[2 * K] = (double)(e - b);
        for (int r = 0; r < K; r++) { /* empty ranks: key 0, ctr +0 */
            out[k].v[2 * r] = key_bits(0);
            out[k].v[2 * r + 1] = 0.0;
        }
        k++;
    }
    qsort(c, nc, sizeof *c, cmp_by_ad);
    size_t m = 0;
    for (size_t i = 0; i < nc; i++)
        if (i == 0 || c[i].campaign != c[i - 1].campaign || c[i].ad != c[i - 1].ad)
            c[m++] = c[i];
    qsort(c, m, sizeof *c, cmp_by_rank);
    size_t row = 0;
    for (size_t b = 0, e; b < m; b = e) {
        for (e = b + 1; e < m && c[e].campaign == c[b].campaign; e++)
            ;
        while (out[row].key != c[b].campaign)
            row++;
        for (size_t r = 0; r < K && b + r < e; r++) {
            out[row].v[2 * r] = key_bits(c[b + r].ad);
            out[row].v[2 * r + 1] = (double)c[b + r].ctr;
        }
    }
    free(camps);
    free(c);
    *rows = out;
    *nrows = k;
}

/* ---- running and comparing ---------------------------------------------------------------- */

/* Asserts the rows are equal bit for bit, in every column (printing keys in hex). */
static void assert_rows_bits(const sl_row *a, size_t na, const sl_row *b, size_t nb,
                             const char *what)
{
    cr_assert_eq(na, nb, "%s: rows: engine %zu, reference %zu", what, na, nb);
    for (size_t i = 0; i < na; i++) {
        cr_assert_eq(a[i].key, b[i].key, "%s: row %zu: campaign %016llx vs %016llx", what, i,
                     (unsigned long long)a[i].key, (unsigned long long)b[i].key);
        cr_assert_eq(a[i].window_start, b[i].window_start);
        for (int c = 0; c < SL_COLUMNS_MAX; c++)
            cr_assert_eq(bits_of(a[i].v[c]), bits_of(b[i].v[c]),
                         "%s: campaign %016llx column %d: engine %016llx (%.9g), reference "
                         "%016llx (%.9g)",
                         what, (unsigned long long)a[i].key, c,
                         (unsigned long long)bits_of(a[i].v[c]), a[i].v[c],
                         (unsigned long long)bits_of(b[i].v[c]), b[i].v[c]);
    }
}

static void check(const sl_engine_cfg *cfg, const sl_rec *recs, size_t n, size_t chunk,
                  const sl_row *ref, size_t nref, const char *what)
{
    th_result res;
    int rc = th_run(cfg, recs, n, chunk, &res);
    cr_assert_eq(rc, 0, "%s: engine (mode %d, copies %u, batch %u) failed: %s (%s)", what,
                 (int)cfg->mode, cfg->copies, cfg->batch_events, sl_strerror(rc), res.msg);
    cr_assert_eq(res.stats.events_in, n);
    if (cfg->pe.trigger.every_events && n > cfg->pe.trigger.every_events)
        cr_assert_gt(res.nsnapshots, 0, "%s: the trigger fired", what);
    char label[160];
    snprintf(label, sizeof label, "%s, mode %d copies %u batch %u chunk %zu", what, (int)cfg->mode,
             cfg->copies, cfg->batch_events, chunk);
    assert_rows_bits(res.final_rows, res.nfinal, ref, nref, label);
    th_result_free(&res);
}

/* The dispatch configurations every input runs under. Chunked mode merges the table copies
 * before every emission, so snapshot triggers add merges into already-merged states. */
static void check_all_modes(const sl_rec *recs, size_t n, const sl_row *ref, size_t nref,
                            const char *what)
{
    static const struct {
        enum sl_dispatch_mode mode;
        uint32_t copies, partitions, batch, every;
        size_t chunk;
    } runs[] = {
        {SL_DISPATCH_CHUNKED, 2, 0, 1024, 5000, 1000}, {SL_DISPATCH_CHUNKED, 3, 16, 4096, 0, 7777},
        {SL_DISPATCH_CHUNKED, 2, 1, 0, 0, 1u << 20}, /* one batch, one region */
        {SL_DISPATCH_CHUNKED, 3, 4, 64, 700, 61},      {SL_DISPATCH_GROUPED, 0, 64, 512, 0, 333},
        {SL_DISPATCH_GROUPED, 0, 0, 8192, 3000, 4096},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        sl_engine_cfg cfg = make_cfg(128, runs[i].batch);
        cfg.mode = runs[i].mode;
        cfg.copies = runs[i].copies;
        cfg.partitions = runs[i].partitions;
        cfg.pe.trigger.every_events = runs[i].every;
        check(&cfg, recs, n, runs[i].chunk, ref, nref, what);
    }
}

/* ---- random inputs ------------------------------------------------------------------------- */

/* A dozen ctrs, -0 among them; drawn with low values more likely, so that a campaign's best ads
 * are not all tied at the top value. */
static const float ctr_set[] = {0.0f,  -0.0f,  0.001f, 0.01f,       0.0125f, 0.02f,
                                0.05f, 0.099f, 0.1f,   1.0f / 3.0f, 0.5f,    1.0f};
#define NCTR (sizeof ctr_set / sizeof ctr_set[0])
#define NADS 4000u
#define NSPARSE 4 /* campaigns with fewer than three ranked ads */

/* Fills recs[0..n) (n >= 16): ncamp campaigns (Zipf 1.2), each with NADS / ncamp ads of its own
 * (ad a belongs to campaign a % ncamp), about 3% records without an ad, 0.5% with a NaN ctr; then
 * NSPARSE sparse campaigns (one ad; one ad twice; two ads; no ad at all), shuffled in. Returns
 * the number of records written. */
static size_t make_records(uint64_t seed, sl_rec *recs, size_t n, uint32_t ncamp)
{
    uint64_t s = seed * 6364136223846793005u + 1442695040888963407u;
    double cdf[50], acc = 0;
    cr_assert(ncamp >= 1 && ncamp <= 50 && n >= 16);
    for (uint32_t c = 0; c < ncamp; c++)
        cdf[c] = (acc += 1.0 / pow(c + 1.0, 1.2));
    const size_t sparse = 8, nrand = n - sparse;
    for (size_t i = 0; i < nrand; i++) {
        const double u = tu_unit(&s) * acc;
        uint32_t c = 0;
        while (c + 1 < ncamp && cdf[c] < u)
            c++;
        const uint32_t per = NADS / ncamp;
        const uint32_t ad = c + ncamp * (uint32_t)(splitmix64(&s) % per);
        const double t = tu_unit(&s);
        recs[i].key = hashed("campaign", c);
        recs[i].time_ms = 0;
        recs[i].type = SL_EV_VIEW;
        recs[i].user = t < 0.03 ? 0 : hashed("ad", ad);
        const double v = tu_unit(&s);
        recs[i].value = ctr_set[(size_t)(v * v * NCTR)];
        if (t > 0.995)
            recs[i].value = NAN;
    }
    const struct {
        unsigned camp, ad;
        float ctr;
    } fixed[8] = {{100, 1, 0.5f},  /* one ad */
                  {101, 2, 0.25f}, /* one ad twice: its larger ctr */
                  {101, 2, 0.75f}, /**/
                  {102, 3, 0.1f},  /* two ads, the same ctr: the lower key first */
                  {102, 4, 0.1f},  /**/
                  {102, 0, 1.0f},  /* no ad: a candidate, never ranked */
                  {103, 0, 0.5f},  /* no ad at all */
                  {103, 5, NAN}};  /* NaN ctr: not ranked */
    for (size_t j = 0; j < sparse; j++) {
        sl_rec *r = &recs[nrand + j];
        r->key = hashed("campaign", fixed[j].camp);
        r->time_ms = 0;
        r->type = SL_EV_VIEW;
        r->user = fixed[j].ad ? hashed("ad", 10000 + fixed[j].ad) : 0;
        r->value = fixed[j].ctr;
    }
    for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        const size_t j = (size_t)(splitmix64(&s) % (i + 1));
        const sl_rec tmp = recs[i];
        recs[i] = recs[j];
        recs[j] = tmp;
    }
    return n;
}

/* What the inputs exercised, counted on the reference rows. */
struct coverage {
    size_t rows, ties, strict, empty_ranks;
};

static void count_coverage(const sl_row *rows, size_t n, struct coverage *cv)
{
    for (size_t i = 0; i < n; i++) {
        cv->rows++;
        for (int r = 0; r < K; r++) {
            const uint64_t ad = bits_of(rows[i].v[2 * r]);
            cv->empty_ranks += ad == 0;
            if (r > 0 && ad != 0) {
                cv->ties += rows[i].v[2 * r + 1] == rows[i].v[2 * r - 1];
                cv->strict += rows[i].v[2 * r + 1] < rows[i].v[2 * r - 1];
            }
        }
    }
}

Test(topk, matches_reference_in_both_modes, .timeout = 300)
{
    static const struct {
        uint32_t ncamp;
        size_t n;
    } shapes[] = {{1, 2000}, {7, 6000}, {50, 30000}, {50, 3000}};
    const size_t nmax = 30000;
    sl_rec *recs = th_alloc(nmax);
    struct coverage cv = {0};
    for (uint64_t seed = 1; seed <= 3; seed++)
        for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
            const size_t n = make_records(seed * 10 + sh, recs, shapes[sh].n, shapes[sh].ncamp);
            sl_row *ref;
            size_t nref;
            reference(recs, n, &ref, &nref);
            cr_assert_eq(nref, shapes[sh].ncamp + NSPARSE);
            count_coverage(ref, nref, &cv);
            char what[64];
            snprintf(what, sizeof what, "seed %llu, %u campaigns, %zu records",
                     (unsigned long long)seed, shapes[sh].ncamp, n);
            check_all_modes(recs, n, ref, nref, what);
            free(ref);
        }
    /* the inputs did what they are for: ties decided by the ad key, ranks decided by the ctr,
     * and empty ranks */
    cr_assert_gt(cv.ties, 20, "ties %zu", cv.ties);
    cr_assert_gt(cv.strict, 20, "strict %zu", cv.strict);
    cr_assert_gt(cv.empty_ranks, 0);
    free(recs);
}

/* Fixed records with the answer worked out by hand, in both arrival orders, both modes. The ad
 * keys of campaign a are chosen to be NaN, infinity and denormal bit patterns as doubles. */
Test(topk, by_hand, .timeout = 60)
{
    const uint64_t a = hashed("campaign", 1), b = hashed("campaign", 2), c = hashed("campaign", 3),
                   d = hashed("campaign", 4);
    const uint64_t snan = UINT64_C(0x7ff0000000000001), qnan = UINT64_C(0xfff8000000000000),
                   inf = UINT64_C(0x7ff0000000000000), denorm = 1, negzero = UINT64_C(1) << 63;
    sl_rec recs[] = {
        {a, 0, 0.25f, SL_EV_VIEW, snan},
        {a, 0, 0.5f, SL_EV_VIEW, qnan},
        {a, 0, 0.25f, SL_EV_VIEW, inf}, /* ties snan's 0.25: the lower key first */
        {a, 0, 0.125f, SL_EV_VIEW, denorm},
        {a, 0, 0.75f, SL_EV_VIEW, snan},    /* snan rises to rank 1 */
        {a, 0, 0.125f, SL_EV_VIEW, qnan},   /* lower than qnan's 0.5: nothing changes */
        {a, 0, 9.0f, SL_EV_VIEW, 0},        /* no ad: a candidate only */
        {a, 0, NAN, SL_EV_VIEW, 0x10},      /* NaN ctr: a candidate only */
        {a, 0, 0.5f, SL_EV_VIEW, denorm},   /* ties qnan's 0.5, lower key: before it; inf drops */
        {b, 0, 0.5f, SL_EV_VIEW, 0},        /* b: no ad at all, three empty ranks */
        {b, 0, 0.25f, SL_EV_CLICK, 0},      /**/
        {c, 0, -0.0f, SL_EV_VIEW, negzero}, /* c: -0 counts as +0 and ties 0x42's +0 */
        {c, 0, 0.0f, SL_EV_VIEW, 0x42},     /**/
        {c, 0, -1.0f, SL_EV_VIEW, 0x43},    /* negative: ranks last */
        {d, 0, INFINITY, SL_EV_VIEW, 7},    /* d: two ads, the third rank empty */
        {d, 0, 1.0f, SL_EV_VIEW, 8},        /**/
        {d, 0, 0.1f, SL_EV_VIEW, 7},        /**/
    };
    const size_t n = sizeof recs / sizeof recs[0];
    sl_row want[4] = {
        {.key = a, .v = {key_bits(snan), 0.75, key_bits(denorm), 0.5, key_bits(qnan), 0.5, 9}},
        {.key = b, .v = {0, 0, 0, 0, 0, 0, 2}},
        {.key = c, .v = {key_bits(0x42), 0.0, key_bits(negzero), 0.0, key_bits(0x43), -1.0, 3}},
        {.key = d, .v = {key_bits(7), INFINITY, key_bits(8), 1.0, 0, 0, 3}},
    };
    qsort(want, 4, sizeof want[0], sl_row_cmp_key);
    /* the reference agrees with the hand-worked answer */
    sl_row *ref;
    size_t nref;
    reference(recs, n, &ref, &nref);
    assert_rows_bits(ref, nref, want, 4, "reference by hand");
    free(ref);
    static const enum sl_dispatch_mode modes[] = {SL_DISPATCH_CHUNKED, SL_DISPATCH_GROUPED};
    for (int order = 0; order < 2; order++) {
        for (size_t m = 0; m < 2; m++) {
            for (uint32_t batch = 2; batch <= 64; batch *= 4) {
                sl_engine_cfg cfg = make_cfg(16, batch);
                cfg.mode = modes[m];
                cfg.copies = 3;
                check(&cfg, recs, n, 1, want, 4, order ? "by hand, reversed" : "by hand");
            }
        }
        for (size_t i = 0; i < n / 2; i++) {
            const sl_rec t = recs[i];
            recs[i] = recs[n - 1 - i];
            recs[n - 1 - i] = t;
        }
    }
}

static int ignore_rows(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    (void)ud;
    (void)kind;
    (void)rows;
    (void)n;
    return 0;
}

/* The device reports the kernel's columns and a 48-byte state. */
Test(topk, layout, .timeout = 60)
{
    sl_device *dev = NULL;
    char msg[4096];
    cr_assert_eq(sl_device_open(NULL, &dev, msg, sizeof msg), 0, "device: %s", msg);
    sl_engine_cfg cfg = make_cfg(16, 64);
    sl_engine *e = NULL;
    int rc = sl_engine_new(dev, &cfg, ignore_rows, NULL, &e, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s: %s", sl_strerror(rc), msg);
    const sl_columns *c = sl_engine_columns(e);
    sl_columns want;
    char err[256];
    cr_assert_eq(sl_columns_parse(TOPK_COLUMNS, &want, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c->n, 7);
    for (int i = 0; i < c->n; i++) {
        cr_assert_str_eq(c->name[i], want.name[i]);
        cr_assert_eq(c->fmt[i], want.fmt[i]);
    }
    cr_assert_eq(sl_engine_sequential(e), 0);
    cr_assert_eq(sl_engine_state_size(e), 48);
    sl_engine_destroy(&e);
    sl_device_close(&dev);
}

/* ---- the key column format ----------------------------------------------------------------- */

Test(topk, parses_key_columns)
{
    sl_columns c;
    char err[256];
    cr_assert_eq(sl_columns_parse(TOPK_COLUMNS, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.n, 7);
    for (int r = 0; r < K; r++) {
        cr_assert_eq(c.fmt[2 * r], SL_COLFMT_KEY, "column %d", 2 * r);
        cr_assert_eq(c.fmt[2 * r + 1], SL_COLFMT_FIXED);
        cr_assert_eq(c.decimals[2 * r + 1], 6);
    }
    cr_assert_eq(c.fmt[6], SL_COLFMT_INT);
    cr_assert_str_eq(c.name[4], "top3");
    cr_assert_eq(sl_columns_parse("k:key", &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(c.fmt[0], SL_COLFMT_KEY);
    static const struct {
        const char *spec, *needle;
    } bad[] = {{"a:ke", "unknown format"},
               {"a:KEY", "unknown format"},
               {"a:keys", "expected ','"},
               {"a:key:int", "expected ','"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(sl_columns_parse(bad[i].spec, &c, err, sizeof err), SL_EINVAL, "%s",
                     bad[i].spec);
        cr_assert_not_null(strstr(err, bad[i].needle), "for \"%s\": %s", bad[i].spec, err);
    }
}

/* Without a dictionary a key prints as '#' and 16 hex digits, and its bits survive. */
Test(topk, formats_key_without_dictionary)
{
    sl_columns c;
    char err[256], buf[400];
    cr_assert_eq(sl_columns_parse("k:key", &c, err, sizeof err), 0, "%s", err);
    sl_columns_format(&c, 0, key_bits(UINT64_C(0x00c0ffee00c0ffee)), buf, sizeof buf);
    cr_assert_str_eq(buf, "#00c0ffee00c0ffee");
    sl_columns_format(&c, 0, key_bits(UINT64_C(0x7ff0000000000001)), buf, sizeof buf);
    cr_assert_str_eq(buf, "#7ff0000000000001");
    sl_columns_format(&c, 0, key_bits(UINT64_C(0xfffffffffffffffe)), buf, sizeof buf);
    cr_assert_str_eq(buf, "#fffffffffffffffe");
    sl_columns_format(&c, 0, key_bits(0), buf, sizeof buf);
    cr_assert_str_eq(buf, "#0000000000000000");
    cr_assert_eq(sl_columns_key(key_bits(UINT64_C(0x7ff0000000000001))),
                 UINT64_C(0x7ff0000000000001));
}

static uint64_t intern(sl_addict *d, const char *id)
{
    uint64_t k = 0;
    int rc = sl_addict_intern(d, id, strlen(id), &k);
    cr_assert_eq(rc, 0, "intern %s: %s", id, sl_strerror(rc));
    return k;
}

/* The sink prints a key column as the id its dictionary holds (quoted like ad_id), nothing for
 * key 0, and '#' with 16 hex digits for a key it does not hold. */
Test(topk, sink_prints_keys_as_ids)
{
    sl_addict *d = sl_addict_new();
    cr_assert_not_null(d);
    const uint64_t c1 = intern(d, "campaign-1"), c2 = intern(d, "campaign-2"),
                   c3 = intern(d, "campaign-3");
    const uint64_t ad1 = intern(d, "ad-1"), ad2 = intern(d, "ad,2"), ad3 = intern(d, "say \"hi\"");
    sl_columns cols;
    char err[256];
    cr_assert_eq(sl_columns_parse(TOPK_COLUMNS, &cols, err, sizeof err), 0, "%s", err);
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    sl_sink *s = sl_sink_new(f, d, 0, 1);
    cr_assert_not_null(s);
    sl_sink_set_layout(s, &cols, 0);
    /* in no particular order, as the engine hands rows over */
    const sl_row rows[] = {
        {.key = c3, .v = {key_bits(UINT64_C(0x7ff0000000000001)), 0.5, 0, 0, 0, 0, 2}},
        {.key = c1,
         .v = {key_bits(ad1), 0.5, key_bits(ad2), 0.25, key_bits(UINT64_C(0x00c0ffee00c0ffee)),
               0.125, 7}},
        {.key = c2, .v = {key_bits(ad3), 1.0, key_bits(0), 0, key_bits(0), 0, 1}},
    };
    cr_assert_eq(sl_sink_emit(s, SL_EMIT_FINAL, rows, 3), 0);
    char *got = tu_read_stream(f, NULL);
    const char *want = "ad_id,top1,ctr1,top2,ctr2,top3,ctr3,candidates\n"
                       "campaign-1,ad-1,0.500000,\"ad,2\",0.250000,#00c0ffee00c0ffee,0.125000,7\n"
                       "campaign-2,\"say \"\"hi\"\"\",1.000000,,0.000000,,0.000000,1\n"
                       "campaign-3,#7ff0000000000001,0.500000,,0.000000,,0.000000,2\n";
    cr_assert_str_eq(got, want);
    free(got);
    /* the top table ranks by numbers: a ctr column of format key is refused */
    FILE *top = tmpfile();
    cr_assert_not_null(top);
    cr_assert_eq(sl_columns_parse("impressions:int,clicks:int,ctr:key", &cols, err, sizeof err), 0);
    sl_sink_set_layout(s, &cols, 0);
    cr_assert_eq(sl_sink_print_top(s, top, 10, 0), SL_EINVAL);
    cr_assert_eq(sl_columns_parse("impressions:int,clicks:int,ctr:f6", &cols, err, sizeof err), 0);
    sl_sink_set_layout(s, &cols, 0);
    cr_assert_eq(sl_sink_print_top(s, top, 10, 0), 0);
    fclose(top);
    sl_sink_destroy(&s);
    cr_assert_null(s);
    fclose(f);
    sl_addict_destroy(&d);
}
