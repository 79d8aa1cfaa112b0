/* bench_devices: keyed CTR over an in-memory stream, in one run: one device with its batches
 * pipelined (transfer of batch i+1, kernel of batch i and read-back of batch i-1 overlapping)
 * and without (each batch waited for), and two devices (host/multidev.h) with and without
 * overlap. Every mode's final rows are checked equal to the first mode's, row by row, before any
 * figure is printed. Per-stage times come from the engines' OpenCL profiling events.
 *
 * usage: bench_devices [--events N] [--keys K] [--skew S] [--reps R] [--device NAME]
 * With PoCL, two devices need POCL_DEVICES="pthread pthread" (set here unless already set). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device.h"
#include "engine.h"
#include "err.h"
#include "generator.h"
#include "multidev.h"
#include "reference.h" /* sl_row_cmp_key */

#define CHUNK ((size_t)1 << 20) /* records per push, as an in-memory source hands them over */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct collect {
    sl_row *rows;
    size_t n, cap;
};

static int on_emit(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    struct collect *c = ud;
    if (kind == SL_EMIT_SNAPSHOT)
        return 0;
    if (c->n + n > c->cap) {
        c->cap = (c->n + n) * 2;
        sl_row *r = realloc(c->rows, c->cap * sizeof *rows);
        if (!r)
            return SL_ENOMEM;
        c->rows = r;
    }
    memcpy(c->rows + c->n, rows, n * sizeof *rows);
    c->n += n;
    return 0;
}

struct mode {
    const char *name;
    uint32_t ndev;
    int no_overlap;
    double t[64];
    sl_engine_stats st; /* summed over runs */
};

/* One timed run of mode m: returns the seconds from first push to final rows, or < 0. */
static double run_once(struct mode *m, sl_device **devs, const sl_engine_cfg *base,
                       const sl_rec *recs, uint64_t n, struct collect *col)
{
    sl_engine_cfg cfg = *base;
    cfg.no_overlap = m->no_overlap;
    char msg[2048];
    sl_engine_stats st;
    col->n = 0;
    double t0, t;
    if (m->ndev == 1) { /* the engine on the calling thread, as `sluice ctr` runs one device */
        sl_engine *e = NULL;
        if (sl_engine_new(devs[0], &cfg, on_emit, col, &e, msg, sizeof msg)) {
            fprintf(stderr, "bench_devices: %s\n", msg);
            return -1;
        }
        t0 = now_s();
        int rc = 0;
        for (uint64_t i = 0; i < n && !rc; i += CHUNK)
            rc = sl_engine_push(e, recs + i, n - i < CHUNK ? n - i : CHUNK);
        if (!rc)
            rc = sl_engine_finish(e);
        t = now_s() - t0;
        if (rc) {
            fprintf(stderr, "bench_devices: %s\n", sl_engine_message(e));
            return -1;
        }
        sl_engine_get_stats(e, &st);
        sl_engine_destroy(&e);
    } else {
        sl_multi *mu = NULL;
        if (sl_multi_new(devs, m->ndev, &cfg, NULL, NULL, on_emit, col, &mu, msg, sizeof msg)) {
            fprintf(stderr, "bench_devices: %s\n", msg);
            return -1;
        }
        t0 = now_s();
        int rc = 0;
        for (uint64_t i = 0; i < n && !rc; i += CHUNK)
            rc = sl_multi_push(mu, recs + i, n - i < CHUNK ? n - i : CHUNK);
        if (!rc)
            rc = sl_multi_finish(mu);
        t = now_s() - t0;
        if (rc) {
            fprintf(stderr, "bench_devices: %s\n", sl_multi_message(mu));
            return -1;
        }
        sl_multi_stats ms;
        sl_multi_get_stats(mu, &ms);
        st = ms.total;
        sl_multi_destroy(&mu);
    }
    m->st.t_batch += st.t_batch;
    m->st.t_transfer += st.t_transfer;
    m->st.t_kernel += st.t_kernel;
    m->st.t_emit += st.t_emit;
    m->st.batches += st.batches;
    qsort(col->rows, col->n, sizeof *col->rows, sl_row_cmp_key);
    return t;
}

int main(int argc, char **argv)
{
    sl_gen_cfg g;
    sl_gen_defaults(&g);
    g.events = 16777216;
    g.keys = 100000;
    g.skew = 1.0;
    g.click_rate = 0.1;
    int reps = 5;
    const char *device = NULL;
    static const struct option opts[] = {
        {"events", required_argument, NULL, 'e'},
        {"keys", required_argument, NULL, 'k'},
        {"skew", required_argument, NULL, 's'},
        {"reps", required_argument, NULL, 'r'},
        {"device", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "e:k:s:r:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            g.events = strtoull(optarg, NULL, 10);
            break;
        case 'k':
            g.keys = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 's':
            g.skew = strtod(optarg, NULL);
            break;
        case 'r':
            reps = atoi(optarg);
            break;
        case 'd':
            device = optarg;
            break;
        default:
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: bench_devices [--events N] [--keys K] [--skew S] [--reps R] "
                    "[--device NAME]\n");
            return c == 'h' ? 0 : 2;
        }
    }
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
    int gerr = 0;
    sl_rec *recs = malloc(g.events * sizeof *recs);
    sl_gen *gen = sl_gen_new(&g, NULL, &gerr);
    if (!recs || !gen) {
        fprintf(stderr, "bench_devices: cannot generate the input (%s)\n", sl_strerror(gerr));
        return 1;
    }
    uint64_t got = sl_gen_next(gen, recs, g.events);
    sl_gen_destroy(&gen);
    if (got != g.events) {
        fprintf(stderr, "bench_devices: the generator made %llu of %llu events\n",
                (unsigned long long)got, (unsigned long long)g.events);
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
    struct collect col = {0}, first = {0};
    for (int r = 0; r < reps; r++) /* modes interleaved, so drift hits them alike */
        for (int k = 0; k < nmodes; k++) {
            double t = run_once(&modes[k], devs, &cfg, recs, g.events, &col);
            if (t < 0)
                return 1;
            modes[k].t[r] = t;
            if (r == 0 && k == 0) {
                first.rows = malloc(col.n * sizeof *col.rows);
                if (!first.rows)
                    return 1;
                memcpy(first.rows, col.rows, col.n * sizeof *col.rows);
                first.n = col.n;
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
        qsort(m->t, (size_t)reps, sizeof m->t[0], cmp_double);
        double ev = (double)g.events / 1e6, med = ev / m->t[reps / 2];
        if (k == 0)
            base = med;
        printf("%-24s %10.1f %10.1f %10.1f   %.3f, %.3f, %.3f, %.3f s  (%.2fx)\n", m->name, med,
               ev / m->t[reps - 1], ev / m->t[0], m->st.t_batch / reps, m->st.t_transfer / reps,
               m->st.t_kernel / reps, m->st.t_emit / reps, med / base);
    }
    free(col.rows);
    free(first.rows);
    free(recs);
    sl_device_close(&devs[0]);
    sl_device_close(&devs[1]);
    return 0;
}
