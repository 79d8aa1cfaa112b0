/* Multi-stage topologies in one process (host/chain.c through host/pipeline.c): the top-k ads
 * per campaign example (examples/topologies/topk_campaign.yaml) against a plain C reference,
 * and a rows->records stage (sum of clicks per campaign) against plain counting. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addict.h"
#include "config.h"
#include "err.h"
#include "generator.h"
#include "keyhash.h"
#include "pipeline.h"

#define KEYS 600
#define PER_CAMPAIGN 10
#define CAMPAIGNS (KEYS / PER_CAMPAIGN)

static char tmpdir[4096];

static void paths(char *csv, char *out, size_t len)
{
    const char *d = getenv("SLUICE_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s", d && *d ? d : "/tmp");
    snprintf(csv, len, "%s/stages-camp-%d.csv", tmpdir, (int)getpid());
    snprintf(out, len, "%s/stages-out-%d.csv", tmpdir, (int)getpid());
    FILE *f = fopen(csv, "w");
    cr_assert_not_null(f);
    fputs("ad_id,campaign_id\n", f);
    /* Ads 0..KEYS-1 of the generator; every 10 consecutive ads form a campaign, except that
     * the last campaign's ads are left out of the table (counted, not forwarded). */
    for (unsigned i = 0; i < KEYS - PER_CAMPAIGN; i++)
        fprintf(f, "ad-%08u,campaign-%03u\n", i, i / PER_CAMPAIGN);
    fclose(f);
}

static void base_topology(sl_topology *t, const char *csv)
{
    sl_topology_defaults(t);
    t->source.kind = SL_SRC_GENERATOR;
    t->source.gen.events = 400000;
    t->source.gen.keys = KEYS;
    t->source.gen.skew = 0.7;
    t->source.gen.seed = 1234;
    sl_pe_defaults(&t->pe, SL_PE_CTR);
    t->pe.has_prior = 1;
    t->pe.prior_a = 1;
    t->pe.prior_b = 10;
    t->pe.capacity = 4096;
    t->nnext = 1;
    sl_pe_defaults(&t->next[0].pe, SL_PE_USER);
    t->next[0].pe.capacity = 1024;
    cr_assert_lt(strlen(csv), sizeof t->next[0].join, "join path too long: %s", csv);
    memcpy(t->next[0].join, csv, strlen(csv) + 1);
}

/* Per-ad views and clicks of the generator stream, indexed by ad number. */
static void reference_counts(const sl_topology *t, uint64_t *views, uint64_t *clicks, int *seen)
{
    int err = 0;
    sl_gen *g = sl_gen_new(&t->source.gen, NULL, &err);
    cr_assert_not_null(g);
    uint64_t keys[KEYS];
    for (unsigned i = 0; i < KEYS; i++) {
        char id[32];
        snprintf(id, sizeof id, "ad-%08u", i);
        keys[i] = sl_key_hash(id, strlen(id));
    }
    sl_rec buf[4096];
    uint64_t n;
    while ((n = sl_gen_next(g, buf, 4096)) > 0) {
        for (uint64_t i = 0; i < n; i++) {
            unsigned a = 0;
            while (a < KEYS && keys[a] != buf[i].key)
                a++;
            cr_assert_lt(a, KEYS);
            seen[a] = 1;
            views[a] += buf[i].type == SL_EV_VIEW;
            clicks[a] += buf[i].type == SL_EV_CLICK;
        }
    }
    sl_gen_destroy(&g);
}

static char *run(const sl_topology *t, const char *out_path)
{
    FILE *out = fopen(out_path, "w+");
    cr_assert_not_null(out);
    sl_pipeline_opts o = {.topo = t, .out = out};
    sl_pipeline_report rep;
    char msg[4096];
    int rc = sl_pipeline_run(&o, &rep, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s", msg);
    cr_assert_eq(rep.chain.stages, 2);
    cr_assert_eq(rep.chain.unjoined[0], PER_CAMPAIGN, "the last campaign's ads are not joined");
    fflush(out);
    long len = ftell(out);
    char *text = malloc((size_t)len + 1);
    rewind(out);
    cr_assert_eq(fread(text, 1, (size_t)len, out), (size_t)len);
    text[len] = '\0';
    fclose(out);
    unlink(out_path);
    return text;
}

struct cand {
    unsigned ad;
    uint64_t key;
    float ctr;
};

static int by_rank(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->ctr != y->ctr)
        return x->ctr > y->ctr ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

Test(stages, topk_per_campaign_matches_reference, .timeout = 120)
{
    char csv[8192], outp[8192];
    paths(csv, outp, sizeof csv);
    static sl_topology t;
    base_topology(&t, csv);
    snprintf(t.next[0].pe.source, sizeof t.next[0].pe.source, "%s",
             SLUICE_SOURCE_DIR "/examples/kernels/topk_ctr.cl");
    snprintf(t.next[0].value, sizeof t.next[0].value, "ctr");
    char *got = run(&t, outp);

    static uint64_t views[KEYS], clicks[KEYS];
    static int seen[KEYS];
    reference_counts(&t, views, clicks, seen);
    size_t cap = 1 << 20, o = 0;
    char *want = malloc(cap);
    o += (size_t)snprintf(want + o, cap - o,
                          "campaign_id,top1,ctr1,top2,ctr2,top3,ctr3,candidates\n");
    for (unsigned c = 0; c + 1 < CAMPAIGNS; c++) {
        struct cand k[PER_CAMPAIGN];
        int nk = 0;
        for (unsigned a = c * PER_CAMPAIGN; a < (c + 1) * PER_CAMPAIGN; a++) {
            if (!seen[a])
                continue;
            char id[32];
            snprintf(id, sizeof id, "ad-%08u", a);
            double ctr = ((double)clicks[a] + 1.0) / ((double)views[a] + 1.0 + 10.0);
            k[nk++] = (struct cand){a, sl_key_hash(id, strlen(id)), (float)ctr};
        }
        if (nk == 0)
            continue;
        qsort(k, (size_t)nk, sizeof k[0], by_rank);
        o += (size_t)snprintf(want + o, cap - o, "campaign-%03u", c);
        for (int r = 0; r < 3; r++) {
            if (r < nk)
                o +=
                    (size_t)snprintf(want + o, cap - o, ",ad-%08u,%.6f", k[r].ad, (double)k[r].ctr);
            else
                o += (size_t)snprintf(want + o, cap - o, ",,0.000000");
        }
        o += (size_t)snprintf(want + o, cap - o, ",%d\n", nk);
    }
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
    unlink(csv);
}

Test(stages, sum_of_clicks_per_campaign_matches_reference, .timeout = 120)
{
    char csv[8192], outp[8192];
    paths(csv, outp, sizeof csv);
    static sl_topology t;
    base_topology(&t, csv);
    sl_pe_defaults(&t.next[0].pe, SL_PE_SUM);
    t.next[0].pe.capacity = 1024;
    snprintf(t.next[0].value, sizeof t.next[0].value, "clicks");
    char *got = run(&t, outp);

    static uint64_t views[KEYS], clicks[KEYS];
    static int seen[KEYS];
    reference_counts(&t, views, clicks, seen);
    size_t cap = 1 << 20, o = 0;
    char *want = malloc(cap);
    o += (size_t)snprintf(want + o, cap - o, "campaign_id,count,sum\n");
    for (unsigned c = 0; c + 1 < CAMPAIGNS; c++) {
        uint64_t ads = 0, sum = 0;
        for (unsigned a = c * PER_CAMPAIGN; a < (c + 1) * PER_CAMPAIGN; a++) {
            ads += (uint64_t)seen[a];
            sum += clicks[a];
        }
        if (ads)
            o += (size_t)snprintf(want + o, cap - o, "campaign-%03u,%llu,%llu.000000\n", c,
                                  (unsigned long long)ads, (unsigned long long)sum);
    }
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
    unlink(csv);
}

Test(stages, unknown_value_column_is_an_error_before_running)
{
    char csv[8192], outp[8192];
    paths(csv, outp, sizeof csv);
    static sl_topology t;
    base_topology(&t, csv);
    sl_pe_defaults(&t.next[0].pe, SL_PE_SUM);
    snprintf(t.next[0].value, sizeof t.next[0].value, "revenue");
    sl_pipeline_opts o = {.topo = &t};
    sl_pipeline_report rep;
    char msg[4096];
    cr_assert_eq(sl_pipeline_run(&o, &rep, msg, sizeof msg), SL_ECONFIG);
    cr_assert_str_eq(msg, "next[0].value: PE ctr has no column \"revenue\" (it has: impressions, "
                          "clicks, ctr)");
    unlink(csv);
}
