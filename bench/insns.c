/* bench_insns: one run of one CTR system over generated records, made to be counted by callgrind
 * (sluice-bench's insns workload runs it under `valgrind --tool=callgrind --instr-atstart=no`).
 *
 * usage: bench_insns --system sluice|lean|plain [--events N] [--keys K] [--skew S] [--seed S]
 *                    [--device NAME]
 *
 * The systems are those of the suite's ctr workload, fed the same way: sluice (the OpenCL engine
 * through sr_ctr_engine: chunks pushed into its pinned buffers, kernels, final emission), lean
 * (bl_ctr_lean, 16-byte records and slots) and plain (bl_ctr_single). The input is generated and
 * the plain C rows (the reference) computed first, then the system runs once unmeasured (first
 * touch of its memory, the device's first launches), then once more between
 * CALLGRIND_START_INSTRUMENTATION + CALLGRIND_ZERO_STATS and CALLGRIND_DUMP_STATS_AT("measured"):
 * callgrind's dump holds the instructions of that run alone (the system's work up to its rows
 * sorted by key, as the suite times it), on every thread (PoCL's workers too). Both runs' rows
 * must equal the reference, checked after the dump, else the exit status is 1. Outside
 * valgrind the requests do nothing and it is a plain run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef SLUICE_HAVE_CALLGRIND_H
#include <valgrind/callgrind.h>
#else /* no valgrind: a plain run */
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(what) ((void)(what))
#define RUNNING_ON_VALGRIND 0
#endif

#include "baselines.h"
#include "common.h"
#include "device.h"
#include "engine.h"
#include "err.h"
#include "generator.h"
#include "sluicerun.h"

enum sys { SYS_SLUICE, SYS_LEAN, SYS_PLAIN };

struct run {
    enum sys sys;
    const sl_rec *recs;
    const bl_rec16 *lean;
    size_t n, keys;
    bl_ws *ws;
    sr_engine *e;
    bc_rows rows; /* sluice's rows, reused */
    char msg[4096];
};

/* One run; its rows in *rows / *nrows (sluice: run->rows, owned by the run; else the caller
 * frees them). Returns 0 or an sl_err with run->msg. */
static int run_once(struct run *x, const sl_row **rows, size_t *nrows, sl_row **owned)
{
    int rc;
    *owned = NULL;
    switch (x->sys) {
    case SYS_SLUICE: {
        sr_stats st;
        if ((rc = sr_ctr_engine(x->e, x->recs, x->n, &x->rows, &st, x->msg, sizeof x->msg)))
            return rc;
        *rows = x->rows.rows;
        *nrows = x->rows.n;
        return 0;
    }
    case SYS_LEAN:
        rc = bl_ctr_lean(x->ws, x->lean, x->n, x->keys, owned, nrows);
        break;
    default:
        rc = bl_ctr_single(x->ws, x->recs, x->n, x->keys, owned, nrows);
        break;
    }
    if (rc)
        snprintf(x->msg, sizeof x->msg, "%s", sl_strerror(rc));
    *rows = *owned;
    return rc;
}

/* Runs once, between CALLGRIND_ZERO_STATS and CALLGRIND_DUMP_STATS_AT("measured") when
 * `measured`, and then (outside what is counted) compares the rows with the reference (CTR
 * columns exactly). */
static int run_checked(struct run *x, const sl_row *ref, size_t nref, int measured)
{
    const char *what = measured ? "measured" : "warm-up";
    const sl_row *rows = NULL;
    sl_row *owned = NULL;
    size_t n = 0;
    if (measured) {
        CALLGRIND_START_INSTRUMENTATION;
        CALLGRIND_ZERO_STATS;
    }
    int rc = run_once(x, &rows, &n, &owned);
    if (measured) {
        CALLGRIND_DUMP_STATS_AT("measured");
        CALLGRIND_STOP_INSTRUMENTATION;
    }
    if (rc) {
        fprintf(stderr, "bench_insns: %s run: %s\n", what, x->msg);
        return 1;
    }
    char why[400];
    int eq = bl_rows_equal(ref, nref, rows, n, 3, why, sizeof why);
    free(owned);
    if (!eq) {
        fprintf(stderr, "bench_insns: %s run: rows differ from plain C: %s\n", what, why);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    sl_gen_cfg g;
    bc_ctr_input(&g);
    const char *system = NULL, *device = NULL;
    uint64_t seed = g.seed;
    const bc_opt opts[] = {
        {"system", 'y', BC_STR, &system, 0, 0},
        {"seed", 'S', BC_U64, &seed, 0, 0},
        {"device", 'd', BC_STR, &device, 0, 0},
    };
    static const char usage[] = "usage: bench_insns --system sluice|lean|plain [--events N] "
                                "[--keys K] [--skew S] [--seed S] [--device NAME]\n";
    int prc = bc_parse_args(argc, argv, &g, opts, sizeof opts / sizeof *opts, "bench_insns", usage);
    if (prc >= 0)
        return prc;
    g.seed = seed;
    struct run *x = calloc(1, sizeof *x);
    if (!x) {
        fprintf(stderr, "bench_insns: out of memory\n");
        return 1;
    }
    if (!system ||
        (strcmp(system, "sluice") && strcmp(system, "lean") && strcmp(system, "plain"))) {
        fprintf(stderr, "bench_insns: --system: expected sluice, lean or plain\n%s", usage);
        return 2;
    }
    x->sys = strcmp(system, "sluice") == 0 ? SYS_SLUICE
             : strcmp(system, "lean") == 0 ? SYS_LEAN
                                           : SYS_PLAIN;
    sl_rec *recs = NULL;
    int rc = bc_gen_records(&g, &recs);
    if (rc) {
        fprintf(stderr, "bench_insns: generator: %s\n", sl_strerror(rc));
        return 1;
    }
    x->recs = recs;
    x->n = g.events;
    x->keys = g.keys;
    if (!(x->ws = bl_ws_new()) || (x->sys == SYS_LEAN && !(x->lean = bl_rec16_from(recs, x->n)))) {
        fprintf(stderr, "bench_insns: out of memory\n");
        return 1;
    }
    sl_row *ref = NULL;
    size_t nref = 0;
    if ((rc = bl_ctr_single(x->ws, recs, x->n, x->keys, &ref, &nref))) {
        fprintf(stderr, "bench_insns: plain C reference: %s\n", sl_strerror(rc));
        return 1;
    }
    sl_device *dev = NULL;
    if (x->sys == SYS_SLUICE) {
        /* the suite's ctr engine: default CTR PE, the table sized as there; no kernel time
         * limit (under callgrind a kernel runs 50-100 times slower) */
        sl_engine_cfg cfg;
        memset(&cfg, 0, sizeof cfg);
        sl_pe_defaults(&cfg.pe, SL_PE_CTR);
        cfg.pe.capacity = x->keys + x->keys / 4 + 1024;
        cfg.pe.timeout_ms = 0;
        if (sl_device_open(device, &dev, x->msg, sizeof x->msg) ||
            sr_engine_new(dev, &cfg, &x->e, x->msg, sizeof x->msg)) {
            fprintf(stderr, "bench_insns: %s\n", x->msg);
            return 1;
        }
    }
    if (run_checked(x, ref, nref, 0) || run_checked(x, ref, nref, 1))
        return 1;
    printf("bench_insns: %s: %zu events, %zu keys, %zu rows equal to plain C's%s\n", system, x->n,
           x->keys, nref, RUNNING_ON_VALGRIND ? "" : " (not under valgrind: nothing counted)");
    sr_engine_destroy(&x->e);
    sl_device_close(&dev);
    bc_rows_free(&x->rows);
    free(ref);
    free((void *)x->lean);
    bl_ws_destroy(&x->ws);
    free(recs);
    free(x);
    return 0;
}
