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
#include "util.h"

#define KEYS 600
#define PER_CAMPAIGN 10
#define CAMPAIGNS (KEYS / PER_CAMPAIGN)

static char csv[8192], outp[8192]; /* the join table; the output, removed once read */
static sl_topology topo;

/* .init of every test: the join table, and the two-stage topology every test starts from:
 * generator -> ctr per ad (prior 1, 10) -> join ad -> campaign -> a stage set by the test. */
static void stages_init(void)
{
    const char *d = getenv("SLUICE_TEST_TMP");
    d = d && *d ? d : "/tmp";
    snprintf(csv, sizeof csv, "%s/stages-camp-%d.csv", d, (int)getpid());
    snprintf(outp, sizeof outp, "%s/stages-out-%d.csv", d, (int)getpid());
    FILE *f = fopen(csv, "w");
    cr_assert_not_null(f);
    fputs("ad_id,campaign_id\n", f);
    /* Ads 0..KEYS-1 of the generator; every 10 consecutive ads form a campaign, except that
     * the last campaign's ads are left out of the table (counted, not forwarded). */
    for (unsigned i = 0; i < KEYS - PER_CAMPAIGN; i++)
        fprintf(f, "ad-%08u,campaign-%03u\n", i, i / PER_CAMPAIGN);
    fclose(f);

    sl_topology *t = &topo;
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

static void stages_fini(void)
{
    unlink(csv);
}

/* Per-ad views and clicks of the generator stream, indexed by ad number. */
struct counts {
    uint64_t views[KEYS], clicks[KEYS];
    int seen[KEYS];
};

static const struct counts *reference_counts(const sl_topology *t)
{
    static struct counts c;
    memset(&c, 0, sizeof c);
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
            c.seen[a] = 1;
            c.views[a] += buf[i].type == SL_EV_VIEW;
            c.clicks[a] += buf[i].type == SL_EV_CLICK;
        }
    }
    sl_gen_destroy(&g);
    return &c;
}

/* Runs `topo` and asserts its CSV is, byte for byte, what write_expected writes from the
 * generator's own per-ad counts. */
static void check(void (*write_expected)(FILE *w, const struct counts *n))
{
    FILE *out = fopen(outp, "w+");
    cr_assert_not_null(out);
    sl_pipeline_opts o = {.topo = &topo, .out = out};
    sl_pipeline_report rep;
    char msg[4096];
    int rc = sl_pipeline_run(&o, &rep, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s", msg);
    cr_assert_eq(rep.chain.stages, 2);
    cr_assert_eq(rep.chain.unjoined[0], PER_CAMPAIGN, "the last campaign's ads are not joined");
    char *got = tu_read_stream(out, NULL);
    fclose(out);
    unlink(outp);

    char *want = NULL;
    size_t len = 0;
    FILE *w = open_memstream(&want, &len);
    cr_assert_not_null(w);
    write_expected(w, reference_counts(&topo));
    cr_assert_eq(fclose(w), 0);
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
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

/* topk_ctr.cl: per campaign, its three ads of highest ctr (ties: lower key first). */
static void topk_expected(FILE *w, const struct counts *n)
{
    fprintf(w, "campaign_id,top1,ctr1,top2,ctr2,top3,ctr3,candidates\n");
    for (unsigned c = 0; c + 1 < CAMPAIGNS; c++) {
        struct cand k[PER_CAMPAIGN];
        int nk = 0;
        for (unsigned a = c * PER_CAMPAIGN; a < (c + 1) * PER_CAMPAIGN; a++) {
            if (!n->seen[a])
                continue;
            char id[32];
            snprintf(id, sizeof id, "ad-%08u", a);
            double ctr = ((double)n->clicks[a] + 1.0) / ((double)n->views[a] + 1.0 + 10.0);
            k[nk++] = (struct cand){a, sl_key_hash(id, strlen(id)), (float)ctr};
        }
        if (nk == 0)
            continue;
        qsort(k, (size_t)nk, sizeof k[0], by_rank);
        fprintf(w, "campaign-%03u", c);
        for (int r = 0; r < 3; r++) {
            if (r < nk)
                fprintf(w, ",ad-%08u,%.6f", k[r].ad, (double)k[r].ctr);
            else
                fprintf(w, ",,0.000000");
        }
        fprintf(w, ",%d\n", nk);
    }
}

Test(stages, topk_per_campaign_matches_reference, .init = stages_init, .fini = stages_fini,
     .timeout = 120)
{
    snprintf(topo.next[0].pe.source, sizeof topo.next[0].pe.source, "%s",
             SLUICE_SOURCE_DIR "/examples/kernels/topk_ctr.cl");
    snprintf(topo.next[0].value, sizeof topo.next[0].value, "ctr");
    check(topk_expected);
}

/* A sum PE over the clicks: per campaign, its ads seen and their clicks. */
static void sum_expected(FILE *w, const struct counts *n)
{
    fprintf(w, "campaign_id,count,sum\n");
    for (unsigned c = 0; c + 1 < CAMPAIGNS; c++) {
        uint64_t ads = 0, sum = 0;
        for (unsigned a = c * PER_CAMPAIGN; a < (c + 1) * PER_CAMPAIGN; a++) {
            ads += (uint64_t)n->seen[a];
            sum += n->clicks[a];
        }
        char num[32];
        if (ads)
            fprintf(w, "campaign-%03u,%llu,%s\n", c, (unsigned long long)ads,
                    tu_shortest((double)sum, num, sizeof num));
    }
}

Test(stages, sum_of_clicks_per_campaign_matches_reference, .init = stages_init, .fini = stages_fini,
     .timeout = 120)
{
    sl_pe_defaults(&topo.next[0].pe, SL_PE_SUM);
    topo.next[0].pe.capacity = 1024;
    snprintf(topo.next[0].value, sizeof topo.next[0].value, "clicks");
    check(sum_expected);
}

Test(stages, unknown_value_column_is_an_error_before_running, .init = stages_init,
     .fini = stages_fini)
{
    sl_pe_defaults(&topo.next[0].pe, SL_PE_SUM);
    snprintf(topo.next[0].value, sizeof topo.next[0].value, "revenue");
    sl_pipeline_opts o = {.topo = &topo};
    sl_pipeline_report rep;
    char msg[4096];
    cr_assert_eq(sl_pipeline_run(&o, &rep, msg, sizeof msg), SL_ECONFIG);
    cr_assert_str_eq(msg, "next[0].value: PE ctr has no column \"revenue\" (it has: impressions, "
                          "clicks, ctr)");
}
