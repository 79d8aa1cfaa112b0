/* Tests of the benchmark suite's baselines and ysb generator (bench/): known answers by hand,
 * the multi-threaded baselines against the single-threaded ones, and the ysb baseline against
 * sluice's C reference fed through the same source, filter and join as the bench feeds it
 * (no OpenCL here: the suite itself compares the device path in its --quick run).
 *
 * The bench's modules are not in sluice_core, so their sources are compiled into this test. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bench/baselines.c"
#include "../bench/sluicerun.c"
#include "../bench/ysb.c"

#include "config.h"
#include "jointab.h"
#include "keyhash.h"

static uint64_t key(const char *s)
{
    return sl_key_hash(s, strlen(s));
}

static sl_rec rec(uint64_t k, uint32_t type)
{
    return (sl_rec){.key = k, .type = type};
}

Test(bench, ctr_known_answer_single_and_threads)
{
    const uint64_t a = key("ad-a"), b = key("ad-b"), c = key("ad-c");
    sl_rec r[] = {rec(a, SL_EV_VIEW),     rec(a, SL_EV_VIEW),  rec(a, SL_EV_CLICK),
                  rec(b, SL_EV_PURCHASE), rec(c, SL_EV_CLICK), rec(a, SL_EV_VIEW),
                  rec(c, SL_EV_VIEW),     rec(a, SL_EV_VIEW),  rec(c, SL_EV_OTHER)};
    size_t n = sizeof r / sizeof *r;
    /* a: 4 views 1 click; b: nothing counted but present; c: 1 view 1 click */
    sl_row want[3] = {
        {.key = a, .v = {4, 1, 0.25}}, {.key = b, .v = {0, 0, 0}}, {.key = c, .v = {1, 1, 1}}};
    qsort(want, 3, sizeof *want, sl_row_cmp_key);
    bl_ws *ws = bl_ws_new();
    cr_assert_not_null(ws);
    char why[400];
    for (unsigned t = 0; t <= 7; t++) {
        sl_row *rows = NULL;
        size_t nrows = 0;
        int rc = t == 0 ? bl_ctr_single(ws, r, n, 1, &rows, &nrows)
                        : bl_ctr_multi(ws, r, n, 1, t, &rows, &nrows);
        cr_assert_eq(rc, 0, "threads %u", t);
        cr_assert(bl_rows_equal(want, 3, rows, nrows, 3, why, sizeof why), "threads %u: %s", t,
                  why);
        free(rows);
    }
    sl_row *rows = NULL;
    size_t nrows;
    cr_assert_eq(bl_ctr_multi(ws, r, n, 1, 0, &rows, &nrows), SL_EINVAL);
    bl_ws_destroy(&ws);
    cr_assert_null(ws);
}

Test(bench, ctr_threads_agree_with_one_thread_while_tables_grow)
{
    /* 200,000 events over 30,000 keys with a hint of 10: every table grows, and a workspace
     * reused across runs must start clean each time. */
    size_t n = 200000;
    sl_rec *r = malloc(n * sizeof *r);
    uint64_t s = 7;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        char id[32];
        snprintf(id, sizeof id, "ad-%u", (unsigned)((s >> 33) % 30000));
        r[i] = rec(key(id), (uint32_t)((s >> 20) % 4));
    }
    bl_ws *ws = bl_ws_new();
    sl_row *one = NULL, *many = NULL;
    size_t n1 = 0, nm = 0;
    char why[400];
    for (int round = 0; round < 2; round++) {
        cr_assert_eq(bl_ctr_single(ws, r, n, 10, &one, &n1), 0);
        cr_assert(n1 > 29000 && n1 <= 30000, "%zu keys", n1);
        for (unsigned t = 2; t <= 5; t++) {
            cr_assert_eq(bl_ctr_multi(ws, r, n, 10, t, &many, &nm), 0);
            cr_assert(bl_rows_equal(one, n1, many, nm, 3, why, sizeof why), "%u threads: %s", t,
                      why);
            free(many);
        }
        free(one);
    }
    bl_ws_destroy(&ws);
    free(r);
}

static const char ysb_text[] =
    /* window [0, 10000): c1 gets 2 views (a1, a2), c2 gets 1 (b1) */
    "{\"ad_id\": \"a1\", \"event_type\": \"view\", \"event_time\": \"1000\"}\n"
    "{\"ad_id\": \"a2\", \"event_type\": \"view\", \"event_time\": \"2000\"}\n"
    "{\"ad_id\": \"b1\", \"event_type\": \"view\", \"event_time\": \"9999\"}\n"
    "{\"ad_id\": \"a1\", \"event_type\": \"click\", \"event_time\": \"3000\"}\n"
    "\n"
    "not json at all\n"
    "{\"ad_id\": \"zz\", \"event_type\": \"view\", \"event_time\": \"4000\"}\n"
    /* window [10000, 20000): c1 1 view; then a view at 5000 is late (its window ended at
     * 10000 <= 12000, the largest earlier time) */
    "{\"ad_id\": \"a1\", \"event_type\": \"view\", \"event_time\": 12000}\n"
    "{\"ad_id\": \"a2\", \"event_type\": \"view\", \"event_time\": \"5000\"}\n"
    "{\"ad_id\": \"b1\", \"event_type\": \"purchase\", \"event_time\": \"15000\"}\n"
    /* a view at -1 ms is in window [-10000, 0) but late as well */
    "{\"ad_id\": \"b1\", \"event_type\": \"view\", \"event_time\": \"-1\"}\n"
    "{\"ad_id\": \"b1\", \"event_type\": \"view\", \"event_time\": \"19999\"}";

Test(bench, ysb_known_answer_single_and_threads)
{
    uint64_t ads[] = {key("a1"), key("a2"), key("b1")};
    uint64_t camps[] = {key("c1"), key("c1"), key("c2")};
    bl_join *j = bl_join_new(ads, camps, 3);
    cr_assert_not_null(j);
    sl_row want[] = {{.key = key("c1"), .window_start = 0, .v = {2}},
                     {.key = key("c2"), .window_start = 0, .v = {1}},
                     {.key = key("c1"), .window_start = 10000, .v = {1}},
                     {.key = key("c2"), .window_start = 10000, .v = {1}}};
    size_t nwant = sizeof want / sizeof *want;
    qsort(want, nwant, sizeof *want, sl_row_cmp_key);
    bl_ws *ws = bl_ws_new();
    char why[400];
    for (unsigned t = 0; t <= 6; t++) {
        sl_row *rows = NULL;
        size_t nrows = 0;
        bl_ysb_stats st;
        int rc =
            t == 0 ? bl_ysb_single(ws, ysb_text, strlen(ysb_text), j, 10000, &rows, &nrows, &st)
                   : bl_ysb_multi(ws, ysb_text, strlen(ysb_text), j, 10000, t, &rows, &nrows, &st);
        cr_assert_eq(rc, 0);
        cr_assert(bl_rows_equal(want, nwant, rows, nrows, 1, why, sizeof why), "threads %u: %s", t,
                  why);
        cr_assert_eq(st.lines, 11, "threads %u", t); /* the blank line is not counted */
        cr_assert_eq(st.bad, 1, "threads %u", t);
        cr_assert_eq(st.views, 8, "threads %u", t);
        cr_assert_eq(st.unjoined, 1, "threads %u", t);
        cr_assert_eq(st.late, 2, "threads %u", t);
        free(rows);
    }
    bl_ws_destroy(&ws);
    bl_join_destroy(&j);
}

Test(bench, ysb_generator_is_seeded_and_parses)
{
    ysb_cfg c;
    ysb_defaults(&c, 3000);
    ysb_input a, b, d;
    cr_assert_eq(ysb_generate(&c, &a), 0);
    cr_assert_eq(ysb_generate(&c, &b), 0);
    c.seed = 43;
    cr_assert_eq(ysb_generate(&c, &d), 0);
    cr_assert_eq(a.len, b.len);
    cr_assert_eq(memcmp(a.text, b.text, a.len), 0, "one seed, one input");
    cr_assert(a.len != d.len || memcmp(a.text, d.text, a.len) != 0, "another seed differs");
    cr_assert_eq(a.njoin, 1000);
    /* every line parses, times advance by 1 ms per event at 1000 events/s, types are spread */
    char *scratch = malloc(a.len + 1);
    size_t lines = 0, types[SL_EV_NTYPES] = {0};
    for (char *p = a.text, *end = a.text + a.len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        cr_assert_not_null(nl);
        sl_rawev ev;
        sl_perr perr;
        cr_assert_eq(sl_ndjson_parse(p, (size_t)(nl - p), scratch, &ev, &perr), 0, "line %zu: %s",
                     lines + 1, perr.reason);
        cr_assert_eq(ev.time_ms, c.start_ms + (int64_t)lines);
        cr_assert_eq(ev.ad_id_len, 36);
        types[ev.type]++;
        lines++;
        p = nl + 1;
    }
    cr_assert_eq(lines, 3000);
    for (int t = 0; t < 3; t++)
        cr_assert(types[t] > 800 && types[t] < 1200, "type %d: %zu of 3000", t, types[t]);
    free(scratch);
    ysb_free(&a);
    ysb_free(&b);
    ysb_free(&d);
}

Test(bench, ysb_baselines_match_sluice_reference_path)
{
    /* 60,000 generated events (6 windows of 10 s): plain C, threads and the sluice C reference
     * fed through sl_source (reader, view filter) and sl_jointab give the same rows. */
    ysb_cfg c;
    ysb_defaults(&c, 60000);
    ysb_input in;
    cr_assert_eq(ysb_generate(&c, &in), 0);
    bl_join *j = bl_join_new(in.ad_keys, in.campaign_keys, in.njoin);
    sl_jointab *jt = NULL;
    char msg[512];
    cr_assert_eq(sl_jointab_parse(in.join_csv, in.join_len, "join", NULL, &jt, msg, sizeof msg), 0,
                 "%s", msg);
    bl_ws *ws = bl_ws_new();
    sl_row *one = NULL, *many = NULL;
    size_t n1 = 0, nm = 0;
    bl_ysb_stats st;
    cr_assert_eq(bl_ysb_single(ws, in.text, in.len, j, 10000, &one, &n1, &st), 0);
    cr_assert_eq(n1, 600, "100 campaigns x 6 windows");
    cr_assert_eq(bl_ysb_multi(ws, in.text, in.len, j, 10000, 3, &many, &nm, &st), 0);
    char why[400];
    cr_assert(bl_rows_equal(one, n1, many, nm, 1, why, sizeof why), "%s", why);

    sl_pe_cfg pe;
    sl_pe_defaults(&pe, SL_PE_WINDOW);
    pe.window_ms = 10000;
    sr_ysb_opts yo = {.text = in.text, .len = in.len, .join = jt, .window_ms = 10000};
    bc_rows rows = {0};
    sr_stats sst;
    cr_assert_eq(sr_ysb_ref(&pe, &yo, &rows, &sst, msg, sizeof msg), 0, "%s", msg);
    cr_assert(bl_rows_equal(one, n1, rows.rows, rows.n, 1, why, sizeof why), "%s", why);
    cr_assert_eq(sst.input_events, 60000);
    bc_rows_free(&rows);
    free(one);
    free(many);
    bl_ws_destroy(&ws);
    bl_join_destroy(&j);
    sl_jointab_destroy(&jt);
    ysb_free(&in);
}
