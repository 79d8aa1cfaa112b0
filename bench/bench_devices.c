/* bench_devices: keyed CTR over an in-memory stream, in one run: one device with its batches
 * pipelined (transfer of batch i+1, kernel of batch i and read-back of batch i-1 overlapping)
 * and without (each batch waited for), and two devices (host/multidev.h) with and without
 * overlap. Every mode's final rows are checked equal to the first mode's, row by row, before any
 * figure is printed. Per-stage times come from the engines' OpenCL profiling events.
 *
 * usage: bench_devices [--events N] [--keys K] [--skew S] [--reps R] [--device NAME]
 * With PoCL, two devices need POCL_DEVICES="pthread pthread" (set here unless already set). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "device.h"
#include "engine.h"
#include "err.h"
#include "generator.h"
#include "multidev.h"
#include "reference.h" /* sl_row_cmp_key */

#define CHUNK ((size_t)1 << 20) /* records per push, as an in-memory source hands them over */

struct mode {
    const char *name;
    uint32_t ndev;
    int no_overlap;
    double t[64];
    sl_engine_stats st; /* summed over runs */
};

/* One timed run of mode m: returns the seconds from first push to final rows, or < 0. */
static double run_once(struct mode *m, sl_device **devs, const sl_engine_cfg *base,
                       const sl_rec *recs, uint64_t n, bc_rows *col)
{
    sl_engine_cfg cfg = *base;
    cfg.no_overlap = m->no_overlap;
    char msg[2048];
    sl_engine_stats st;
    sl_engine *e = NULL; /* one device: the engine on the calling thread, as `sluice ctr` runs */
    sl_multi *mu = NULL;
    col->n = 0;
    int rc = m->ndev == 1 ? sl_engine_new(devs[0], &cfg, bc_collect, col, &e, msg, sizeof msg)
                          : sl_multi_new(devs, m->ndev, &cfg, NULL, NULL, bc_collect, col, &mu, msg,
                                         sizeof msg);
    if (rc) {
        fprintf(stderr, "bench_devices: %s\n", msg);
        return -1;
    }
    double t0 = bc_now_s();
    rc = e ? bc_feed(BC_ENGINE, e, recs, n, CHUNK) : bc_feed(BC_MULTI, mu, recs, n, CHUNK);
    double t = bc_now_s() - t0;
    if (rc) {
        fprintf(stderr, "bench_devices: %s\n", e ? sl_engine_message(e) : sl_multi_message(mu));
        return -1;
    }
    if (e) {
        sl_engine_get_stats(e, &st);
    } else {
        sl_multi_stats ms;
        sl_multi_get_stats(mu, &ms);
        st = ms.total;
    }
    sl_engine_destroy(&e);
    sl_multi_destroy(&mu);
    m->st.t_batch += st.t_batch;
    m->st.t_transfer += st.t_transfer;
    m->st.t_kernel += st.t_kernel;
    m->st.t_emit += st.t_emit;
    m->st.batches += st.batches;
    qsort(col->rows, col->n, sizeof *col->rows, sl_row_cmp_key);
    return t;
}

static const char usage[] = "usage: bench_devices [--events N] [--keys K] [--skew S] [--reps R] "
                            "[--device NAME]\n";

int main(int argc, char **argv)
{
    sl_gen_cfg g;
    bc_ctr_input(&g);
    int reps = 5;
    const char *device = NULL;
    const bc_opt opts[] = {
        {"reps", 'r', BC_INT, &reps, 0, 0},
        {"device", 'd', BC_STR, &device, 0, 0},
    };
    int prc =
        bc_parse_args(argc, argv, &g, opts, sizeof opts / sizeof *opts, "bench_devices", usage);
    if (prc >= 0)
        return prc;
    if (reps < 1 || reps > 64 || g.events == 0 || g.keys == 0) {
        fprintf(stderr, "bench_devices: --reps 1..64, --events and --keys > 0\n");
        return 2;
    }
    setenv("POCL_DEVICES", "pthread pthread", 0);
    char msg[2048];
    sl_device *devs[2] = {NULL, NULL};
    int have = sl_device_count(device);
    for (int i = 0; i < 2; i++)
        if (sl_device_open_nth(device, have >= 2 ? (unsigned)i : 0, &devs[i], msg, sizeof msg)) {
            fprintf(stderr, "bench_devices: %s\n", msg);
            return 1;
        }
    sl_rec *recs = NULL;
    int gerr = bc_gen_records(&g, &recs);
    if (gerr) {
        fprintf(stderr, "bench_devices: cannot generate the input (%s)\n", sl_strerror(gerr));
        return 1;
    }
    const sl_device_info *in0 = sl_device_get_info(devs[0]);
    printf("bench_devices: %llu events, %u keys, Zipf %.2f, %.0f%% clicks; %s / %s%s\n",
           (unsigned long long)g.events, g.keys, g.skew, g.click_rate * 100, in0->platform,
           in0->name,
           have >= 2 ? " (two devices)" : " (one device: the two-device modes use it twice)");
    sl_engine_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    sl_pe_defaults(&cfg.pe, SL_PE_CTR);
    struct mode modes[] = {
        {.name = "1 device, overlapped", .ndev = 1},
        {.name = "1 device, no overlap", .ndev = 1, .no_overlap = 1},
        {.name = "2 devices, overlapped", .ndev = 2},
        {.name = "2 devices, no overlap", .ndev = 2, .no_overlap = 1},
    };
    const int nmodes = (int)(sizeof modes / sizeof modes[0]);
    bc_rows col = {0}, first = {0};
    for (int r = 0; r < reps; r++) /* modes interleaved, so drift hits them alike */
        for (int k = 0; k < nmodes; k++) {
            double t = run_once(&modes[k], devs, &cfg, recs, g.events, &col);
            if (t < 0)
                return 1;
            modes[k].t[r] = t;
            if (r == 0 && k == 0) {
                if (bc_rows_append(&first, col.rows, col.n))
                    return 1;
            } else if (col.n != first.n ||
                       memcmp(col.rows, first.rows, col.n * sizeof *col.rows) != 0) {
                fprintf(stderr, "bench_devices: RESULTS DIFFER: %s, run %d\n", modes[k].name, r);
                return 1;
            }
        }
    printf("results: identical in every mode and run (%zu keys, row by row)\n", first.n);
    printf("%-24s %10s %10s %10s   %s\n", "mode", "median", "min", "max",
           "M events/s; stages per run (profiling): batching, transfer, kernels, emit");
    double base = 0;
    for (int k = 0; k < nmodes; k++) {
        struct mode *m = &modes[k];
        double ev = (double)g.events / 1e6, med = ev / bc_median(m->t, (size_t)reps);
        if (k == 0)
            base = med;
        printf("%-24s %10.1f %10.1f %10.1f   %.3f, %.3f, %.3f, %.3f s  (%.2fx)\n", m->name, med,
               ev / m->t[reps - 1], ev / m->t[0], m->st.t_batch / reps, m->st.t_transfer / reps,
               m->st.t_kernel / reps, m->st.t_emit / reps, med / base);
    }
    bc_rows_free(&col);
    bc_rows_free(&first);
    free(recs);
    sl_device_close(&devs[0]);
    sl_device_close(&devs[1]);
    return 0;
}
