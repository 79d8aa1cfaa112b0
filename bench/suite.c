/* sluice-bench: the benchmark suite for CTR workloads, with its baselines in the same run.
 *
 * usage: sluice-bench [--quick] [--workload LIST] [--reps N] [--seed S] [--out DIR]
 *                     [--input FILE [--format ndjson|csv] [--join FILE]] [--record PREFIX]
 *                     [--events N] [--keys K] [--skew S] [--ysb-events N] [--threads T]
 *                     [--file-events N] [--peers] [--peers-dir DIR]
 *                     [--device NAME] [--redis-server EXE] [--no-redis] [--no-plots]
 *                     [--progress | --no-progress]
 *
 * Workloads (LIST is comma-separated; default all): ctr, insns (the ctr systems' instructions
 * per event under callgrind, when valgrind is installed), ysb, file (an NDJSON file to a CSV,
 * whole processes: sluice ctr, a hand-written C counter, DuckDB when installed), keys, skew,
 * latency (batch size and paced input rate), nodes (local cluster). Every repetition of every case
 * runs each system on the same input, in a rotating order; every system's rows are compared with
 * the plain C single-thread rows of the same repetition, exactly, and the table is printed only
 * when all are equal (exit status 1 otherwise, whatever the speed). bench/README.md has the
 * details. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addict.h"
#include "baselines.h"
#include "common.h"
#include "config.h"
#include "device.h"
#include "err.h"
#include "filerun.h"
#include "generator.h"
#include "insnsrun.h"
#include "jointab.h"
#include "nodes.h"
#include "reader.h"
#include "redisbase.h"
#include "report.h"
#include "sluicerun.h"
#include "ysb.h"

#ifndef SLUICE_BENCH_PLOTS
#define SLUICE_BENCH_PLOTS "bench/plots"
#endif
#ifndef SLUICE_SOURCE_DIR
#define SLUICE_SOURCE_DIR "."
#endif

enum {
    W_CTR = 1,
    W_YSB = 2,
    W_KEYS = 4,
    W_SKEW = 8,
    W_LAT = 16,
    W_NODES = 32,
    W_FILE = 64,
    W_INSN = 128,
    W_ALL = 255
};

/* Event-time rates of the generated ysb inputs: a 10 s window holds 10 000 events (ysb) and
 * 2 500 (the latency sweeps, for more windows per run). */
#define YSB_EPS 1000
#define LAT_EPS 250

#define S_CL "sluice (OpenCL)"
#define S_REF "sluice C reference"
#define S_C1 "plain C 1 thread"
#define S_LEAN "lean C 1 thread (16 B)"
#define S_REDIS "Redis HINCRBY"

struct opts {
    int quick, reps, sweep_reps, workloads, redis, plots, progress, peers;
    uint64_t seed, sweep_events, ysb_events, lat_events, file_events;
    sl_gen_cfg ctr; /* the ctr workload's generator: --events, --keys, --skew */
    unsigned threads;
    const char *input, *join, *format, *out, *device, *redis_exe, *record, *peers_dir;
};

struct ctx {
    struct opts o;
    rp_report rep;
    sl_device *dev;
    rb_server *redis;
    bl_ws *ws;
    int cases_total, cases_done;
    int failed; /* a result differed */
    char sys_mt[40];
    char msg[4096];
};

/* ---- progress ---- */

static void progress(struct ctx *c, const char *what, int rep, int reps)
{
    if (!c->o.progress)
        return;
    if (rep < 0)
        rep = 0;
    double f = ((double)c->cases_done + (reps ? (double)rep / reps : 0)) / c->cases_total;
    char bar[31];
    int k = (int)(f * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < k ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r[%s] %3.0f%%  case %d/%d  %-40.40s rep %d/%d ", bar, f * 100,
            c->cases_done + 1, c->cases_total, what, rep + 1 > reps ? reps : rep + 1, reps);
    fflush(stderr);
}

static void progress_clear(struct ctx *c)
{
    if (c->o.progress)
        fprintf(stderr, "\r%110s\r", "");
}

/* ---- measurement around one system's run ---- */

struct meas {
    double cpu0, rss0, rcpu0;
    rp_system *warm; /* the warm-up run of this system: record what it added to memory */
};

static void meas_begin(struct ctx *c, struct meas *m, int redis, rp_system *warm)
{
    m->warm = warm;
    rp_mem_reset_peak();
    m->rss0 = rp_mem_rss_mb();
    m->cpu0 = rp_cpu_s();
    m->rcpu0 = redis && c->redis ? rb_cpu_s(c->redis) : 0;
}

static void meas_end(struct ctx *c, struct meas *m, rp_system *s, uint64_t events, double wall,
                     int redis)
{
    double cpu = rp_cpu_s() - m->cpu0;
    if (redis && c->redis)
        cpu += rb_cpu_s(c->redis) - m->rcpu0;
    rp_add(s, "eps", "events/s", (double)events / wall);
    rp_add(s, "wall_s", "s", wall);
    rp_add(s, "cpu_s", "s", cpu);
    double peak = rp_mem_peak_mb();
    if (m->warm)
        rp_add(m->warm, "first_mb", "MiB", peak - m->rss0 > 0 ? peak - m->rss0 : 0);
    rp_add(s, "peak_mb", "MiB", redis && c->redis ? rb_peak_mb(c->redis) : peak);
    rp_add(s, "mem_add_mb", "MiB", peak - m->rss0 > 0 ? peak - m->rss0 : 0);
}

static void add_engine_stages(rp_system *s, const sr_stats *st)
{
    rp_add(s, "batch_s", "s", st->eng.t_batch);
    rp_add(s, "transfer_s", "s", st->eng.t_transfer);
    rp_add(s, "kernel_s", "s", st->eng.t_kernel);
    rp_add(s, "emit_s", "s", st->eng.t_emit);
}

static void add_latency(rp_system *s, const sr_stats *st)
{
    if (!st->windows)
        return;
    rp_add(s, "lat_p50_ms", "ms", st->p50);
    rp_add(s, "lat_p99_ms", "ms", st->p99);
    rp_add(s, "lat_p999_ms", "ms", st->p999);
    rp_add(s, "lat_max_ms", "ms", st->max);
    rp_add(s, "windows", "windows", (double)st->windows);
}

/* Compares rows with the reference; on a difference marks the case and the run as failed. */
static void check(struct ctx *c, rp_case *k, const char *sys, int rep, const sl_row *ref,
                  size_t nref, const sl_row *rows, size_t n, int ncols)
{
    char why[400];
    if (bl_rows_equal(ref, nref, rows, n, ncols, why, sizeof why))
        return;
    if (k->equal)
        snprintf(k->check, sizeof k->check,
                 "DIFFER: %s, repetition %d (0: warm-up), against %s: %s", sys, rep + 1, S_C1, why);
    k->equal = 0;
    c->failed = 1;
}

/* The j-th system to run in repetition r (r >= -1): plain C 1 thread first (its rows are the
 * reference), then the others in an order that rotates with r. */
static const char *order(const char *const *names, int ns, int j, int r)
{
    int c1 = 0;
    while (strcmp(names[c1], S_C1) != 0)
        c1++;
    if (j == 0)
        return names[c1];
    int i = (j + r + 1) % ns;
    return i == c1 ? names[(r + 1) % ns] : names[i];
}

/* What one run of one system gave: the rows to check against the reference (for S_C1, the
 * reference itself), the seconds to report, and the figures the driver adds for it. */
struct sys_out {
    const sl_row *rows; /* NULL: owned */
    size_t n;
    sl_row *owned; /* rows to free after the check (the engine's are reused) */
    double wall;   /* the seconds the run measured itself (0: the driver's clock around it) */
    sr_stats st;
    int stages, parse, latency; /* add engine stages / parse_s and join_s / latency from st */
    double tc, tr;              /* Redis: count_s, read_s */
};

/* Runs system `name` once on the case's input; returns 0 or an sl_err with c->msg. */
typedef int (*sys_fn)(struct ctx *c, void *w, const char *name, struct sys_out *o);

/* The repetitions of a case over the systems names[0..ns): repetition -1 is a warm-up (first
 * touch of every buffer; Redis skipped), checked but not reported; in each, plain C 1 thread
 * first (its rows are the reference, left in *ref, *nref), then the others in an order that
 * rotates. Every run is measured (meas_begin, meas_end) and its rows checked. */
static int run_reps(struct ctx *c, rp_case *k, const char *const *names, int ns, int reps,
                    const char *label, uint64_t events, int ncols, sys_fn run, void *w,
                    sl_row **ref, size_t *nref)
{
    int rc = 0;
    for (int r = -1; r < reps && rc == 0; r++) {
        free(*ref);
        *ref = NULL;
        for (int j = 0; j < ns && rc == 0; j++) {
            const char *name = order(names, ns, j, r);
            int redis = strcmp(name, S_REDIS) == 0;
            if (r < 0 && redis)
                continue;
            rp_system *s = r < 0 ? NULL : rp_sys(k, name), *warm = r < 0 ? rp_sys(k, name) : NULL;
            progress(c, label, r, reps);
            if (redis && (rc = rb_flush(c->redis, c->msg, sizeof c->msg)))
                break;
            struct meas m;
            struct sys_out o;
            memset(&o, 0, sizeof o);
            meas_begin(c, &m, redis, warm);
            double t0 = bc_now_s();
            if ((rc = run(c, w, name, &o))) {
                free(o.owned);
                break;
            }
            double wall = redis ? o.tc + o.tr : o.wall > 0 ? o.wall : bc_now_s() - t0;
            meas_end(c, &m, s, events, wall, redis);
            if (o.parse) {
                rp_add(s, "parse_s", "s", o.st.parse_s);
                rp_add(s, "join_s", "s", o.st.join_s);
            }
            if (o.stages)
                add_engine_stages(s, &o.st);
            if (o.latency)
                add_latency(s, &o.st);
            if (redis) {
                rp_add(s, "count_s", "s", o.tc);
                rp_add(s, "read_s", "s", o.tr);
                rc = rb_flush(c->redis, c->msg, sizeof c->msg);
            }
            if (strcmp(name, S_C1) == 0) {
                *ref = o.owned;
                *nref = o.n;
                continue;
            }
            check(c, k, name, r, *ref, *nref, o.rows ? o.rows : o.owned, o.n, ncols);
            free(o.owned);
        }
    }
    return rc;
}

/* A plain C run's status: its message when it failed. */
static int plain_c(struct ctx *c, int rc, const char *which)
{
    if (rc)
        snprintf(c->msg, sizeof c->msg, "%s: %s", which, sl_strerror(rc));
    return rc;
}

/* An engine's or a reference's run: its rows and the time it measured. */
static int sluice_run(int rc, const bc_rows *rows, struct sys_out *o)
{
    o->wall = o->st.wall_s;
    o->rows = rows->rows;
    o->n = rows->n;
    return rc;
}

/* ---- ctr ---- */

struct ctr_case {
    const char *workload;
    char label[128];
    double x;
    const sl_rec *recs;
    size_t n, keys_hint;
    int reps, redis, mt, ref, lean;
    uint32_t batch;
};

/* The state of a ctr case while its systems run. */
struct ctr_run {
    const struct ctr_case *cc;
    sl_engine_cfg ecfg;
    sr_engine *e;
    bc_rows srows;  /* the engine's and the reference's rows, reused */
    bl_rec16 *lean; /* the input as 16-byte records (lean C), converted before the runs */
};

static int ctr_system(struct ctx *c, void *w, const char *name, struct sys_out *o)
{
    struct ctr_run *x = w;
    const struct ctr_case *cc = x->cc;
    if (strcmp(name, S_C1) == 0)
        return plain_c(c, bl_ctr_single(c->ws, cc->recs, cc->n, cc->keys_hint, &o->owned, &o->n),
                       "plain C");
    if (strcmp(name, S_LEAN) == 0)
        return plain_c(c, bl_ctr_lean(c->ws, x->lean, cc->n, cc->keys_hint, &o->owned, &o->n),
                       "lean C");
    if (strcmp(name, c->sys_mt) == 0)
        return plain_c(
            c, bl_ctr_multi(c->ws, cc->recs, cc->n, cc->keys_hint, c->o.threads, &o->owned, &o->n),
            "plain C threads");
    if (strcmp(name, S_REDIS) == 0)
        return rb_ctr(c->redis, cc->recs, cc->n, 10000, &o->owned, &o->n, &o->tc, &o->tr, c->msg,
                      sizeof c->msg);
    o->stages = strcmp(name, S_CL) == 0;
    return sluice_run(
        o->stages
            ? sr_ctr_engine(x->e, cc->recs, cc->n, &x->srows, &o->st, c->msg, sizeof c->msg)
            : sr_ctr_ref(&x->ecfg.pe, cc->recs, cc->n, &x->srows, &o->st, c->msg, sizeof c->msg),
        &x->srows, o);
}

static int run_ctr_case(struct ctx *c, const struct ctr_case *cc)
{
    rp_case *k = rp_case_add(&c->rep, cc->workload, cc->label, cc->x, cc->n);
    if (!k)
        return SL_ENOMEM;
    const char *names[6];
    int ns = 0;
    names[ns++] = S_CL;
    if (cc->ref)
        names[ns++] = S_REF;
    names[ns++] = S_C1;
    if (cc->lean)
        names[ns++] = S_LEAN;
    if (cc->mt)
        names[ns++] = c->sys_mt;
    if (cc->redis && c->redis)
        names[ns++] = S_REDIS;
    for (int i = 0; i < ns; i++)
        rp_sys(k, names[i]);

    struct ctr_run x = {.cc = cc};
    memset(&x.ecfg, 0, sizeof x.ecfg);
    sl_pe_defaults(&x.ecfg.pe, SL_PE_CTR);
    x.ecfg.pe.capacity = cc->keys_hint + cc->keys_hint / 4 + 1024;
    x.ecfg.batch_events = cc->batch;
    sl_row *ref = NULL;
    size_t nref = 0;
    if (cc->lean && !(x.lean = bl_rec16_from(cc->recs, cc->n))) {
        snprintf(c->msg, sizeof c->msg, "lean C: out of memory");
        return SL_ENOMEM;
    }
    double rss0 = rp_mem_rss_mb();
    int rc = sr_engine_new(c->dev, &x.ecfg, &x.e, c->msg, sizeof c->msg);
    if (rc) {
        free(x.lean);
        return rc;
    }
    rp_add(rp_sys(k, S_CL), "setup_mb", "MiB", rp_mem_rss_mb() - rss0);
    rc = run_reps(c, k, names, ns, cc->reps, cc->label, cc->n, 3, ctr_system, &x, &ref, &nref);
    if (rc == 0 && k->equal)
        snprintf(k->check, sizeof k->check,
                 "equal: %zu rows (ad, impressions, clicks, ctr, exactly) from every system on "
                 "every repetition, against %s",
                 nref, S_C1);
    free(ref);
    free(x.lean);
    bc_rows_free(&x.srows);
    sr_engine_destroy(&x.e);
    c->cases_done++;
    return rc;
}

/* Generated CTR records: sl_gen with the demo's rates. */
static int gen_ctr(uint64_t events, uint32_t keys, double skew, uint64_t seed, sl_rec **out)
{
    sl_gen_cfg g;
    bc_ctr_input(&g);
    g.events = events;
    g.keys = keys;
    g.skew = skew;
    g.seed = seed;
    return bc_gen_records(&g, out);
}

/* Records parsed from a recorded file (NDJSON or CSV), once, before the timed runs; the parse
 * time is reported on its own. */
static int load_ctr(struct ctx *c, sl_rec **out, size_t *n, size_t *keys, double *parse_s)
{
    sl_format fmt = SL_FMT_NDJSON;
    const char *dot = strrchr(c->o.input, '.');
    if (c->o.format ? sl_format_parse(c->o.format, &fmt) != 0 : 0) {
        snprintf(c->msg, sizeof c->msg, "--format: expected ndjson or csv");
        return SL_EINVAL;
    }
    if (!c->o.format && dot && strcmp(dot, ".csv") == 0)
        fmt = SL_FMT_CSV;
    FILE *f = fopen(c->o.input, "r");
    if (!f) {
        snprintf(c->msg, sizeof c->msg, "%s: cannot open: %s", c->o.input, strerror(errno));
        return SL_EIO;
    }
    sl_addict *d = sl_addict_new();
    sl_reader *rd = d ? sl_reader_new(f, fmt, d, 0) : NULL;
    size_t cap = 1 << 20, m = 0;
    sl_rec *r = malloc(cap * sizeof *r);
    int rc = rd && r ? 0 : SL_ENOMEM;
    double t0 = bc_now_s();
    while (rc == 0) {
        if (m == cap) {
            sl_rec *g = realloc(r, cap * 2 * sizeof *r);
            if (!g) {
                rc = SL_ENOMEM;
                break;
            }
            r = g;
            cap *= 2;
        }
        long got = sl_reader_read(rd, r + m, cap - m);
        if (got < 0)
            rc = (int)got;
        else if (got == 0)
            break;
        else
            m += (size_t)got;
    }
    *parse_s = bc_now_s() - t0;
    struct sl_reader_stats rs = {0};
    if (rd)
        sl_reader_stats(rd, &rs);
    *keys = d ? sl_addict_count(d) : 0;
    sl_reader_destroy(&rd);
    sl_addict_destroy(&d);
    fclose(f);
    if (rc) {
        snprintf(c->msg, sizeof c->msg, "%s: %s", c->o.input, sl_strerror(rc));
        free(r);
        return rc;
    }
    if (rs.bad)
        fprintf(stderr, "sluice-bench: %s: %llu malformed lines skipped\n", c->o.input,
                (unsigned long long)rs.bad);
    *out = r;
    *n = m;
    return 0;
}

static int workload_ctr(struct ctx *c)
{
    struct ctr_case cc = {
        .workload = "ctr", .reps = c->o.reps, .redis = c->o.redis, .mt = 1, .ref = 1, .lean = 1};
    sl_rec *recs = NULL;
    int rc;
    if (c->o.input) {
        double parse_s;
        size_t keys;
        if ((rc = load_ctr(c, &recs, &cc.n, &keys, &parse_s)))
            return rc;
        cc.keys_hint = keys;
        snprintf(cc.label, sizeof cc.label,
                 "%zu events from %s (%zu ads; parsed once in %.2f s = %.2f M events/s, not "
                 "in the figures), per-ad CTR",
                 cc.n, c->o.input, keys, parse_s, parse_s > 0 ? (double)cc.n / parse_s / 1e6 : 0);
    } else {
        if ((rc = gen_ctr(c->o.ctr.events, c->o.ctr.keys, c->o.ctr.skew, c->o.seed, &recs))) {
            snprintf(c->msg, sizeof c->msg, "generator: %s", sl_strerror(rc));
            return rc;
        }
        cc.n = c->o.ctr.events;
        cc.keys_hint = c->o.ctr.keys;
        snprintf(cc.label, sizeof cc.label,
                 "%zu events in memory (sl_gen, seed %llu), %u ads, Zipf %.2f, 10%% clicks, "
                 "per-ad CTR",
                 cc.n, (unsigned long long)c->o.seed, c->o.ctr.keys, c->o.ctr.skew);
    }
    cc.x = (double)cc.keys_hint;
    cc.recs = recs;
    rc = run_ctr_case(c, &cc);
    free(recs);
    return rc;
}

/* The keys sweep's key counts: up to 10M (issue 16's aim: 10M distinct keys with the default
 * settings), the last left out of --quick, whose small inputs it would only slow down. */
static const uint32_t keyset[] = {1000, 10000, 100000, 1000000, 10000000};

static int keys_cases(int quick)
{
    return (int)(sizeof keyset / sizeof keyset[0]) - (quick ? 1 : 0);
}

static int workload_sweep(struct ctx *c, int keys_sweep)
{
    static const double skews[] = {0.0, 0.5, 1.0, 1.3};
    const int cases = keys_sweep ? keys_cases(c->o.quick) : 4;
    for (int i = 0; i < cases; i++) {
        struct ctr_case cc = {.workload = keys_sweep ? "sweep_keys" : "sweep_skew",
                              .reps = c->o.sweep_reps,
                              .mt = 1,
                              .ref = 1};
        uint32_t keys = keys_sweep ? keyset[i] : 100000;
        double skew = keys_sweep ? 1.0 : skews[i];
        sl_rec *recs = NULL;
        int rc = gen_ctr(c->o.sweep_events, keys, skew, c->o.seed, &recs);
        if (rc) {
            snprintf(c->msg, sizeof c->msg, "generator: %s", sl_strerror(rc));
            return rc;
        }
        cc.recs = recs;
        cc.n = c->o.sweep_events;
        cc.keys_hint = keys;
        cc.x = keys_sweep ? keys : skew;
        snprintf(cc.label, sizeof cc.label, "ctr, %zu events, %u ads, %s %.1f", cc.n, keys,
                 skew == 0 ? "uniform, Zipf" : "Zipf", skew);
        rc = run_ctr_case(c, &cc);
        free(recs);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- ysb ---- */

struct ysb_env {
    ysb_input in;
    sl_jointab *jt;
    bl_join *bj;
    sl_row *truth; /* plain C 1 thread, computed once (latency sweeps) */
    size_t ntruth;
};

static void ysb_env_free(struct ysb_env *y)
{
    ysb_free(&y->in);
    sl_jointab_destroy(&y->jt);
    bl_join_destroy(&y->bj);
    free(y->truth);
    memset(y, 0, sizeof *y);
}

static int ysb_env_make(struct ctx *c, uint64_t events, uint32_t events_per_s, struct ysb_env *y)
{
    int rc;
    memset(y, 0, sizeof *y);
    if (c->o.input) {
        if (!c->o.join) {
            snprintf(c->msg, sizeof c->msg,
                     "ysb with --input needs --join FILE (ad_id,campaign_id)");
            return SL_EINVAL;
        }
        if ((rc = ysb_load(c->o.input, c->o.join, &y->in, c->msg, sizeof c->msg)))
            return rc;
    } else {
        ysb_cfg yc;
        ysb_defaults(&yc, events);
        yc.seed = c->o.seed;
        yc.events_per_s = events_per_s;
        if ((rc = ysb_generate(&yc, &y->in))) {
            snprintf(c->msg, sizeof c->msg, "ysb generator: %s", sl_strerror(rc));
            return rc;
        }
    }
    if ((rc = sl_jointab_parse(y->in.join_csv, y->in.join_len, c->o.join ? c->o.join : "join", NULL,
                               &y->jt, c->msg, sizeof c->msg)))
        goto fail;
    if (!(y->bj = bl_join_new(y->in.ad_keys, y->in.campaign_keys, y->in.njoin))) {
        rc = SL_ENOMEM;
        snprintf(c->msg, sizeof c->msg, "out of memory");
        goto fail;
    }
    return 0;
fail:
    ysb_free(&y->in);
    sl_jointab_destroy(&y->jt);
    return rc;
}

static void ysb_engine_cfg(sl_engine_cfg *e, uint32_t batch)
{
    memset(e, 0, sizeof *e);
    sl_pe_defaults(&e->pe, SL_PE_WINDOW);
    snprintf(e->pe.name, sizeof e->pe.name, "views_per_campaign");
    e->pe.window_ms = 10000;
    e->pe.lateness_ms = 0;
    /* open windows: 100 campaigns times the windows one batch spans, with room */
    e->pe.capacity = 65536;
    e->batch_events = batch;
}

/* The state of the ysb case while its systems run. */
struct ysb_run {
    struct ysb_env *y;
    sl_engine_cfg ecfg;
    sr_ysb_opts yo;
    sr_engine *e;
    bc_rows srows;    /* the engine's and the reference's rows, reused */
    bl_ysb_stats bst; /* of the last plain C run */
};

static int ysb_system(struct ctx *c, void *w, const char *name, struct sys_out *o)
{
    struct ysb_run *x = w;
    const ysb_input *in = &x->y->in;
    const bl_join *bj = x->y->bj;
    if (strcmp(name, S_C1) == 0)
        return plain_c(
            c, bl_ysb_single(c->ws, in->text, in->len, bj, 10000, &o->owned, &o->n, &x->bst),
            "plain C");
    if (strcmp(name, c->sys_mt) == 0)
        return plain_c(c,
                       bl_ysb_multi(c->ws, in->text, in->len, bj, 10000, c->o.threads, &o->owned,
                                    &o->n, &x->bst),
                       "plain C threads");
    if (strcmp(name, S_REDIS) == 0)
        return rb_ysb(c->redis, c->ws, in->text, in->len, bj, in->campaign_keys, in->njoin, 10000,
                      10000, &o->owned, &o->n, &o->tc, &o->tr, c->msg, sizeof c->msg);
    o->parse = 1;
    o->stages = o->latency = strcmp(name, S_CL) == 0;
    return sluice_run(
        o->stages ? sr_ysb_engine(x->e, &x->yo, &x->srows, &o->st, c->msg, sizeof c->msg)
                  : sr_ysb_ref(&x->ecfg.pe, &x->yo, &x->srows, &o->st, c->msg, sizeof c->msg),
        &x->srows, o);
}

static int workload_ysb(struct ctx *c)
{
    struct ysb_env y;
    int rc = ysb_env_make(c, c->o.ysb_events, YSB_EPS, &y);
    if (rc)
        return rc;
    if (c->o.record) {
        char ev[4096], jn[4096];
        snprintf(ev, sizeof ev, "%s.ndjson", c->o.record);
        snprintf(jn, sizeof jn, "%s.join.csv", c->o.record);
        if (ysb_save(&y.in, ev, jn))
            fprintf(stderr, "sluice-bench: cannot write %s / %s: %s\n", ev, jn, strerror(errno));
    }
    char label[128];
    snprintf(label, sizeof label,
             "%llu NDJSON events (%.0f MB, %s), views -> join %zu ads -> 10 s windows per "
             "campaign",
             (unsigned long long)y.in.events, (double)y.in.len / 1e6,
             c->o.input ? "recorded" : "generated", y.in.njoin);
    rp_case *k = rp_case_add(&c->rep, "ysb", label, 0, y.in.events);
    if (!k) {
        ysb_env_free(&y);
        return SL_ENOMEM;
    }
    const char *names[5] = {S_CL, S_REF, S_C1, c->sys_mt, S_REDIS};
    int ns = c->redis && c->o.redis ? 5 : 4;
    for (int i = 0; i < ns; i++)
        rp_sys(k, names[i]);
    struct ysb_run x = {.y = &y};
    ysb_engine_cfg(&x.ecfg, 0);
    x.yo = (sr_ysb_opts){
        .text = y.in.text, .len = y.in.len, .join = y.jt, .window_ms = x.ecfg.pe.window_ms};
    sl_row *ref = NULL;
    size_t nref = 0;
    double rss0 = rp_mem_rss_mb();
    if ((rc = sr_engine_new(c->dev, &x.ecfg, &x.e, c->msg, sizeof c->msg)) == 0) {
        rp_add(rp_sys(k, S_CL), "setup_mb", "MiB", rp_mem_rss_mb() - rss0);
        rc = run_reps(c, k, names, ns, c->o.reps, "ysb", y.in.events, 1, ysb_system, &x, &ref,
                      &nref);
    }
    if (rc == 0 && k->equal)
        snprintf(k->check, sizeof k->check,
                 "equal: %zu (campaign, window) counts from every system on every repetition, "
                 "against %s (%llu lines, %llu views, %llu unjoined, %llu late)",
                 nref, S_C1, (unsigned long long)x.bst.lines, (unsigned long long)x.bst.views,
                 (unsigned long long)x.bst.unjoined, (unsigned long long)x.bst.late);
    free(ref);
    bc_rows_free(&x.srows);
    sr_engine_destroy(&x.e);
    ysb_env_free(&y);
    c->cases_done++;
    return rc;
}

/* One latency case: sluice only, batch `batch`, paced at `rate` input events/s (0: as fast as
 * it goes), checked against the plain C rows of the same input. Returns the median events/s in
 * *eps. */
static int latency_case(struct ctx *c, struct ysb_env *y, uint32_t batch, double rate, double *eps)
{
    char label[128];
    if (rate > 0)
        snprintf(label, sizeof label, "ysb, %llu events paced at %.2f M events/s, batch %u",
                 (unsigned long long)y->in.events, rate / 1e6, batch);
    else
        snprintf(label, sizeof label, "ysb, %llu events unpaced, batch %u",
                 (unsigned long long)y->in.events, batch);
    rp_case *k = rp_case_add(&c->rep, rate > 0 ? "sweep_rate" : "sweep_batch", label,
                             rate > 0 ? rate / 1e6 : batch, y->in.events);
    if (!k)
        return SL_ENOMEM;
    k->x2 = batch;
    rp_system *s_cl = rp_sys(k, S_CL);
    sl_engine_cfg ecfg;
    ysb_engine_cfg(&ecfg, batch);
    sr_engine *e = NULL;
    bc_rows srows = {0};
    sr_ysb_opts yo = {.text = y->in.text,
                      .len = y->in.len,
                      .join = y->jt,
                      .window_ms = ecfg.pe.window_ms,
                      .rate = rate,
                      .chunk = rate > 0 ? 1024 : 4096};
    double rss0 = rp_mem_rss_mb();
    int rc = sr_engine_new(c->dev, &ecfg, &e, c->msg, sizeof c->msg);
    if (rc == 0)
        rp_add(s_cl, "setup_mb", "MiB", rp_mem_rss_mb() - rss0);
    for (int r = rate > 0 ? 0 : -1; r < c->o.sweep_reps && rc == 0; r++) {
        progress(c, label, r, c->o.sweep_reps);
        struct meas m;
        sr_stats st;
        rp_system *s = r < 0 ? NULL : s_cl, *w = r < 0 ? s_cl : NULL; /* -1: warm-up */
        meas_begin(c, &m, 0, w);
        if ((rc = sr_ysb_engine(e, &yo, &srows, &st, c->msg, sizeof c->msg)))
            break;
        meas_end(c, &m, s, y->in.events, st.wall_s, 0);
        rp_add(s, "parse_s", "s", st.parse_s);
        rp_add(s, "join_s", "s", st.join_s);
        add_engine_stages(s, &st);
        add_latency(s, &st);
        check(c, k, S_CL, r, y->truth, y->ntruth, srows.rows, srows.n, 1);
    }
    if (rc == 0 && k->equal)
        snprintf(k->check, sizeof k->check,
                 "equal: %zu (campaign, window) counts on every repetition, against %s", y->ntruth,
                 S_C1);
    if (rc == 0)
        *eps = rp_median(rp_get(s_cl, "eps"), NULL, NULL);
    bc_rows_free(&srows);
    sr_engine_destroy(&e);
    c->cases_done++;
    return rc;
}

static const uint32_t lat_batches[] = {4096, 16384, 65536, 262144};
static const uint32_t rate_batches[] = {4096, 16384};
static const double rate_fracs[] = {0.25, 0.5, 0.75};

static int workload_latency(struct ctx *c)
{
    struct ysb_env y;
    int rc = ysb_env_make(c, c->o.lat_events, LAT_EPS, &y);
    bl_ysb_stats bst;
    if (rc)
        return rc;
    if ((rc = bl_ysb_single(c->ws, y.in.text, y.in.len, y.bj, 10000, &y.truth, &y.ntruth, &bst))) {
        snprintf(c->msg, sizeof c->msg, "plain C: %s", sl_strerror(rc));
        goto out;
    }
    double peak = 0, eps;
    for (size_t i = 0; i < sizeof lat_batches / sizeof *lat_batches && rc == 0; i++) {
        rc = latency_case(c, &y, lat_batches[i], 0, &eps);
        if (rc == 0 && eps > peak)
            peak = eps;
    }
    for (size_t b = 0; b < sizeof rate_batches / sizeof *rate_batches && rc == 0; b++)
        for (size_t f = 0; f < sizeof rate_fracs / sizeof *rate_fracs && rc == 0; f++)
            rc = latency_case(c, &y, rate_batches[b], peak * rate_fracs[f], &eps);
out:
    ysb_env_free(&y);
    return rc;
}

/* ---- driver ---- */

static const char usage[] =
    "usage: sluice-bench [--quick]\n"
    "                    [--workload ctr,insns,ysb,file,keys,skew,latency,nodes|all]\n"
    "                    [--reps N] [--sweep-reps N] [--seed S] [--out DIR]\n"
    "                    [--input FILE [--format ndjson|csv] [--join FILE]]\n"
    "                    [--record PREFIX] [--events N] [--keys K] [--skew S]\n"
    "                    [--ysb-events N] [--sweep-events N] [--lat-events N]\n"
    "                    [--file-events N] [--peers] [--peers-dir DIR]\n"
    "                    [--threads T] [--device NAME] [--redis-server EXE]\n"
    "                    [--no-redis] [--no-plots] [--progress | --no-progress]\n";

static int parse_workloads(const char *s, int *out)
{
    static const struct {
        const char *name;
        int bit;
    } w[] = {{"ctr", W_CTR},     {"ysb", W_YSB},
             {"keys", W_KEYS},   {"skew", W_SKEW},
             {"latency", W_LAT}, {"nodes", W_NODES},
             {"file", W_FILE},   {"insns", W_INSN},
             {"all", W_ALL},     {"sweeps", W_KEYS | W_SKEW | W_LAT | W_NODES}};
    *out = 0;
    while (*s) {
        size_t l = strcspn(s, ",");
        int found = 0;
        for (size_t i = 0; i < sizeof w / sizeof *w; i++)
            if (strlen(w[i].name) == l && strncmp(s, w[i].name, l) == 0) {
                *out |= w[i].bit;
                found = 1;
            }
        if (!found)
            return -1;
        s += l + (s[l] == ',');
    }
    return *out ? 0 : -1;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    /* --quick first, so that explicit sizes given with it win */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--quick") == 0)
            o->quick = 1;
    if (o->quick) {
        o->reps = 2;
        o->sweep_reps = 1;
        o->ctr.events = 1 << 20;
        o->sweep_events = 1 << 18;
        o->ysb_events = 300000;
        o->lat_events = 150000;
        o->file_events = 200000;
    }
    const char *workloads = NULL;
    const bc_opt lo[] = {
        {"quick", 0, BC_SET, &o->quick, 0, 0},
        {"seed", 0, BC_U64, &o->seed, 0, 0},
        {"threads", 0, BC_U32, &o->threads, 1, 64},
        {"device", 0, BC_STR, &o->device, 0, 0},
        {"redis-server", 0, BC_STR, &o->redis_exe, 0, 0},
        {"reps", 0, BC_INT, &o->reps, 1, RP_MAXREP},
        {"sweep-reps", 0, BC_INT, &o->sweep_reps, 1, RP_MAXREP},
        {"input", 0, BC_STR, &o->input, 0, 0},
        {"format", 0, BC_STR, &o->format, 0, 0},
        {"workload", 0, BC_STR, &workloads, 0, 0},
        {"join", 0, BC_STR, &o->join, 0, 0},
        {"record", 0, BC_STR, &o->record, 0, 0},
        {"out", 0, BC_STR, &o->out, 0, 0},
        {"ysb-events", 0, BC_U64, &o->ysb_events, 1, HUGE_VAL},
        {"sweep-events", 0, BC_U64, &o->sweep_events, 1, HUGE_VAL},
        {"lat-events", 0, BC_U64, &o->lat_events, 1, HUGE_VAL},
        {"file-events", 0, BC_U64, &o->file_events, 1, HUGE_VAL},
        {"peers", 0, BC_SET, &o->peers, 0, 0},
        {"peers-dir", 0, BC_STR, &o->peers_dir, 0, 0},
        {"no-redis", 0, BC_CLEAR, &o->redis, 0, 0},
        {"no-plots", 0, BC_CLEAR, &o->plots, 0, 0},
        {"progress", 0, BC_SET, &o->progress, 0, 0},
        {"no-progress", 0, BC_CLEAR, &o->progress, 0, 0},
    };
    int rc = bc_parse_args(argc, argv, &o->ctr, lo, sizeof lo / sizeof *lo, "sluice-bench", usage);
    if (rc >= 0)
        return rc;
    if (workloads && parse_workloads(workloads, &o->workloads)) {
        fprintf(stderr, "sluice-bench: --workload: invalid value \"%s\"\n", workloads);
        fputs(usage, stderr);
        return 2;
    }
    if (o->input && (o->workloads & ~(W_CTR | W_YSB))) {
        /* a recorded input replaces the generated one of ctr or ysb, not the sweeps */
        o->workloads &= W_CTR | W_YSB;
    }
    if (o->input && (o->workloads & W_CTR) && (o->workloads & W_YSB)) {
        fprintf(stderr, "sluice-bench: --input is for one workload: add --workload ctr or "
                        "--workload ysb\n");
        return 2;
    }
    return -1;
}

static int mkdir_p(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0755) && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(p, 0755) && errno != EEXIST ? -1 : 0;
}

int main(int argc, char **argv)
{
    static struct ctx c;
    struct opts *o = &c.o;
    *o = (struct opts){.reps = 5,
                       .sweep_reps = 5,
                       .workloads = W_ALL,
                       .redis = 1,
                       .plots = 1,
                       .progress = isatty(STDERR_FILENO),
                       .seed = 42,
                       .sweep_events = 4194304,
                       .ysb_events = 4000000,
                       .lat_events = 1500000,
                       .file_events = 10000000,
                       .peers_dir = SLUICE_SOURCE_DIR "/bench/.peers",
                       .out = "bench/out",
                       .redis_exe = "redis-server"};
    bc_ctr_input(&o->ctr);
    int prc = parse_args(argc, argv, o);
    if (prc >= 0)
        return prc;
    if (!o->threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads = n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
    }
    snprintf(c.sys_mt, sizeof c.sys_mt, "plain C %u threads", o->threads);
    double t_start = bc_now_s();
    int rc = 0;
    char path[4096];
    size_t cl = 0;
    for (int i = 0; i < argc && cl < sizeof c.rep.command; i++)
        cl += (size_t)snprintf(c.rep.command + cl, sizeof c.rep.command - cl, "%s%s", i ? " " : "",
                               argv[i]);
    c.rep.quick = o->quick;
    rp_machine_probe(&c.rep.m, SLUICE_SOURCE_DIR);
    snprintf(c.rep.m.sluice, sizeof c.rep.m.sluice, "%s", SLUICE_VERSION);
    snprintf(c.rep.m.hiredis, sizeof c.rep.m.hiredis, "%d.%d.%d", HIREDIS_MAJOR, HIREDIS_MINOR,
             HIREDIS_PATCH);
    snprintf(c.rep.m.redis, sizeof c.rep.m.redis, "not run");
    snprintf(c.rep.m.duckdb, sizeof c.rep.m.duckdb, "not run");
    if (mkdir_p(o->out)) {
        fprintf(stderr, "sluice-bench: cannot create %s: %s\n", o->out, strerror(errno));
        return 1;
    }
    if (!(c.ws = bl_ws_new())) {
        rc = SL_ENOMEM;
        goto out;
    }
    if ((rc = sl_device_open(o->device, &c.dev, c.msg, sizeof c.msg)))
        goto out;
    const sl_device_info *di = sl_device_get_info(c.dev);
    snprintf(c.rep.m.device, sizeof c.rep.m.device, "%s / %s", di->platform, di->name);
    snprintf(c.rep.m.device_version, sizeof c.rep.m.device_version, "%s", di->version);
    snprintf(c.rep.m.driver, sizeof c.rep.m.driver, "%s", di->driver);
    if (o->redis && (o->workloads & (W_CTR | W_YSB))) {
        snprintf(path, sizeof path, "%s/redis-server.log", o->out);
        if ((rc = rb_start(o->redis_exe, path, &c.redis, c.msg, sizeof c.msg)))
            goto out;
        snprintf(c.rep.m.redis, sizeof c.rep.m.redis, "%s", rb_version(c.redis));
    }
    /* the plan, for the progress bar */
    c.cases_total = (o->workloads & W_CTR ? 1 : 0) + (o->workloads & W_INSN ? 1 : 0) +
                    (o->workloads & W_YSB ? 1 : 0) + (o->workloads & W_FILE ? 1 : 0) +
                    (o->workloads & W_KEYS ? keys_cases(o->quick) : 0) +
                    (o->workloads & W_SKEW ? 4 : 0) + (o->workloads & W_LAT ? 4 + 6 : 0) +
                    (o->workloads & W_NODES ? nodes_cases(o->quick) : 0);
    if (o->workloads & W_CTR)
        rc = workload_ctr(&c);
    if (rc == 0 && (o->workloads & W_INSN)) {
        ir_opts io = {.events = o->ctr.events,
                      .seed = o->seed,
                      .keys = o->ctr.keys,
                      .skew = o->ctr.skew,
                      .device = o->device,
                      .out = o->out};
        progress(&c, "insns: under callgrind", -1, 1);
        rc = ir_run(&io, &c.rep, c.msg, sizeof c.msg);
        c.cases_done++;
    }
    if (rc == 0 && (o->workloads & W_YSB))
        rc = workload_ysb(&c);
    if (rc == 0 && (o->workloads & W_FILE)) {
        fr_opts fo = {.quick = o->quick,
                      .reps = o->reps,
                      .events = o->file_events,
                      .seed = o->seed,
                      .keys = o->ctr.keys,
                      .skew = o->ctr.skew,
                      .threads = o->threads,
                      .device = o->device,
                      .out = o->out,
                      .peers_dir = o->peers_dir,
                      .install = o->peers};
        progress(&c, "file: whole processes", -1, o->reps);
        rc = fr_run(&fo, &c.rep, c.msg, sizeof c.msg);
        if (c.rep.n && !c.rep.cases[c.rep.n - 1].equal)
            c.failed = 1;
        c.cases_done++;
    }
    if (rc == 0 && (o->workloads & W_KEYS))
        rc = workload_sweep(&c, 1);
    if (rc == 0 && (o->workloads & W_SKEW))
        rc = workload_sweep(&c, 0);
    if (rc == 0 && (o->workloads & W_LAT))
        rc = workload_latency(&c);
    if (rc == 0 && (o->workloads & W_NODES)) {
        nodes_opts no = {.quick = o->quick,
                         .reps = o->sweep_reps,
                         .seed = o->seed,
                         .events = o->sweep_events,
                         .device = o->device};
        rc = nodes_run(&no, &c.rep, &c.cases_done, c.msg, sizeof c.msg);
        if (c.rep.n && !c.rep.cases[c.rep.n - 1].equal)
            c.failed = 1;
    }
    progress_clear(&c);
out:
    if (c.redis) {
        char smsg[512];
        if (rb_stop(&c.redis, smsg, sizeof smsg)) {
            fprintf(stderr, "sluice-bench: %s\n", smsg);
            if (rc == 0)
                rc = SL_EIO;
        }
    }
    sl_device_close(&c.dev);
    bl_ws_destroy(&c.ws);
    rp_loadavg(c.rep.m.load_end);
    c.rep.elapsed_s = bc_now_s() - t_start;
    if (rc) {
        progress_clear(&c);
        fprintf(stderr, "sluice-bench: %s\n", c.msg[0] ? c.msg : sl_strerror(rc));
    }
    snprintf(path, sizeof path, "%s/bench.json", o->out);
    if (rp_write_json(&c.rep, path))
        fprintf(stderr, "sluice-bench: cannot write %s: %s\n", path, strerror(errno));
    if (c.failed) {
        fprintf(stderr, "sluice-bench: RESULTS DIFFER: no figure is printed\n");
        for (int i = 0; i < c.rep.n; i++)
            if (!c.rep.cases[i].equal)
                fprintf(stderr, "  %s (%s): %s\n", c.rep.cases[i].workload, c.rep.cases[i].label,
                        c.rep.cases[i].check);
        rp_free(&c.rep);
        return 1;
    }
    if (rc == 0) {
        rp_print_table(&c.rep, stdout);
        if (o->plots) {
            char pmsg[1024];
            if (rp_plots(&c.rep, o->out, SLUICE_BENCH_PLOTS, pmsg, sizeof pmsg)) {
                fprintf(stderr, "sluice-bench: plots: %s\n", pmsg);
                rc = SL_EIO;
            }
        }
        printf("\nJSON: %s; plots: %s/*.png, *.svg; %.0f s in all\n", path, o->out,
               c.rep.elapsed_s);
    }
    rp_free(&c.rep);
    return rc ? 1 : 0;
}
