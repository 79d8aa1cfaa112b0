/* bench_ctr: keyed CTR aggregation, end to end from an in-memory batch source to final result
 * rows, on the OpenCL engine and, in the same run, on a plain single-thread C hash aggregation
 * (plain_c_ctr below). Both results are checked equal, row by row, before any figure is printed.
 *
 * usage: bench_ctr [--events N] [--keys K] [--skew S] [--reps R] [--batch B]
 *                  [--partitions P] [--copies C] [--grouped] [--no-overlap] [--copy] [--device
 * NAME] Prints the median, min and max of R repetitions of each, and their ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "device.h"
#include "engine.h"
#include "err.h"
#include "generator.h"
#include "reference.h" /* sl_row_cmp_key */

/* The baseline: a plain single-thread C hash aggregation of CTR counts, written the way one
 * would by hand: open addressing over the 64-bit key (already a hash), linear probing, a
 * power-of-two table at most half full, counters incremented in place. Like the engine, it
 * allocates its memory once, before the timed runs, and clears it in each. */
struct ctr_slot {
    uint64_t key, views, clicks;
};

static size_t plain_c_ctr(const sl_rec *recs, uint64_t n, struct ctr_slot *t, size_t cap,
                          sl_row *out)
{
    const size_t mask = cap - 1;
    memset(t, 0, cap * sizeof *t);
    for (uint64_t i = 0; i < n; i++) {
        const uint64_t k = recs[i].key;
        size_t h = (size_t)(k ^ (k >> 32)) & mask;
        while (t[h].key != k && t[h].key != 0)
            h = (h + 1) & mask;
        t[h].key = k;
        t[h].views += recs[i].type == SL_EV_VIEW;
        t[h].clicks += recs[i].type == SL_EV_CLICK;
    }
    size_t m = 0;
    for (size_t h = 0; h < cap; h++) {
        if (t[h].key == 0)
            continue;
        sl_row r = {.key = t[h].key, .v = {(double)t[h].views, (double)t[h].clicks}};
        r.v[2] = t[h].views ? (double)t[h].clicks / (double)t[h].views : 0.0;
        out[m++] = r;
    }
    return m;
}

static void stats(const char *name, double *t, int reps, double events, double *median)
{
    *median = bc_median(t, (size_t)reps);
    printf("%-28s median %8.1f M events/s   (min %8.1f, max %8.1f; %d runs)\n", name,
           events / t[reps / 2] / 1e6, events / t[reps - 1] / 1e6, events / t[0] / 1e6, reps);
}

int main(int argc, char **argv)
{
    sl_gen_cfg g;
    bc_ctr_input(&g);
    int reps = 5, grouped = 0, copy = 0;
    sl_engine_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    sl_pe_defaults(&cfg.pe, SL_PE_CTR);
    const char *device = NULL;
    const bc_opt opts[] = {
        {"reps", 'r', BC_INT, &reps, 0, 0},
        {"batch", 'b', BC_U32, &cfg.batch_events, 0, 0},
        {"partitions", 'p', BC_U32, &cfg.partitions, 0, 0},
        {"no-overlap", 'n', BC_SET, &cfg.no_overlap, 0, 0},
        {"copies", 'c', BC_U32, &cfg.copies, 0, 0},
        {"grouped", 'g', BC_SET, &grouped, 0, 0},
        {"copy", 'y', BC_SET, &copy, 0, 0},
        {"device", 'd', BC_STR, &device, 0, 0},
    };
    int prc = bc_parse_args(
        argc, argv, &g, opts, sizeof opts / sizeof *opts, "bench_ctr",
        "usage: bench_ctr [--events N] [--keys K] [--skew S] [--reps R] [--batch B] "
        "[--partitions P] [--copies C] [--grouped] [--no-overlap] [--copy] [--device NAME]\n");
    if (prc >= 0)
        return prc;
    if (grouped)
        cfg.mode = SL_DISPATCH_GROUPED;
    if (reps < 1 || g.events == 0 || g.keys == 0) {
        fprintf(stderr, "bench_ctr: --reps, --events and --keys must be positive\n");
        return 2;
    }
    cfg.pe.capacity = g.keys + g.keys / 4 + 1024;

    sl_rec *recs = NULL;
    int rc = bc_gen_records(&g, &recs);
    double *t_cl = calloc((size_t)reps, sizeof(double)),
           *t_c = calloc((size_t)reps, sizeof(double));
    if (rc || !t_cl || !t_c) {
        fprintf(stderr, "bench_ctr: setup failed: %s\n", sl_strerror(rc ? rc : SL_ENOMEM));
        return 1;
    }
    sl_device *dev = NULL;
    char msg[4096];
    if ((rc = sl_device_open(device, &dev, msg, sizeof msg))) {
        fprintf(stderr, "bench_ctr: %s\n", msg);
        return 1;
    }
    const sl_device_info *in = sl_device_get_info(dev);
    printf("bench_ctr: %llu events, %u keys, Zipf %.2f, %.0f%% clicks; device %s / %s\n",
           (unsigned long long)g.events, g.keys, g.skew, g.click_rate * 100, in->platform,
           in->name);

    size_t cap = 1;
    while (cap < (size_t)g.keys * 2)
        cap <<= 1;
    struct ctr_slot *table = calloc(cap, sizeof *table);
    sl_row *ref_rows = calloc(cap / 2 + 1, sizeof *ref_rows);
    bc_rows col = {0};
    sl_engine *e = NULL;
    double t0 = bc_now_s();
    if ((rc = sl_engine_new(dev, &cfg, bc_collect, &col, &e, msg, sizeof msg))) {
        fprintf(stderr, "bench_ctr: %s\n", msg);
        return 1;
    }
    double t_setup = bc_now_s() - t0, tg = 0, tk = 0;
    if (!table || !ref_rows) {
        fprintf(stderr, "bench_ctr: out of memory\n");
        return 1;
    }
    int mismatch = 0;
    for (int r = 0; r < reps; r++) {
        /* plain C, one thread */
        t0 = bc_now_s();
        size_t nref = plain_c_ctr(recs, g.events, table, cap, ref_rows);
        t_c[r] = bc_now_s() - t0;
        qsort(ref_rows, nref, sizeof *ref_rows, sl_row_cmp_key);

        /* OpenCL engine: reset (clears the table) and stream everything through */
        col.n = 0;
        double t1 = bc_now_s();
        rc = sl_engine_reset(e);
        if (rc == 0) /* the in-memory source hands over 1M-event batches, read where they are
                        (--copy: copied into the engine's pinned buffers) */
            rc = bc_feed(copy ? BC_ENGINE : BC_LENT, e, recs, g.events, (size_t)1 << 20);
        t_cl[r] = bc_now_s() - t1;
        if (rc) {
            fprintf(stderr, "bench_ctr: engine: %s\n", sl_engine_message(e));
            return 1;
        }
        sl_engine_stats st;
        sl_engine_get_stats(e, &st);
        tg += st.t_batch;
        tk += st.t_kernel;
        qsort(col.rows, col.n, sizeof *col.rows, sl_row_cmp_key);
        if (col.n != nref || memcmp(col.rows, ref_rows, nref * sizeof *ref_rows) != 0)
            mismatch = 1;
    }
    sl_engine_destroy(&e);
    bc_rows_free(&col);
    free(ref_rows);
    free(table);
    if (mismatch) {
        fprintf(stderr, "bench_ctr: RESULTS DIFFER between OpenCL and plain C\n");
        return 1;
    }
    printf("results: identical on every run (%u keys checked row by row)\n", g.keys);
    double m_cl, m_c;
    stats("opencl (sluice engine)", t_cl, reps, (double)g.events, &m_cl);
    stats("plain C, one thread", t_c, reps, (double)g.events, &m_c);
    printf("ratio opencl / plain C (medians): %.2fx\n", m_c / m_cl);
    printf("opencl stages (mean per run): host batching %.3f s, kernels %.3f s; one-time setup "
           "%.3f s (program build, table allocation), not in the figures above\n",
           tg / reps, tk / reps, t_setup);
    free(recs);
    free(t_cl);
    free(t_c);
    sl_device_close(&dev);
    return 0;
}
