/* bench_cluster: events/s through a 2-stage topology on N local node processes over loopback
 * (sl_client_run) and, in the same run, in this one process (sl_pipeline_run); then the
 * end-to-end latency of event-time windows (event ingest to result) on both.
 *
 * usage: bench_cluster [--events N] [--keys K] [--reps R] [--nodes N] [--skew S]
 *                      [--lat-events N] [--window-ms W] [--events-per-ms E] [--lat-batch B]
 *                      [--warmup-events N] [--job-timeout S] [--node-logs]
 * Defaults: 32M events, 100k ads, Zipf 1.0, 5 repetitions, 3 nodes; latency: 26M events,
 * 100 ms windows, 200 events per ms of event time (1300 windows), batch 16384, the windows of
 * the first 4M events skipped (the job start: on the cluster the client streams while the nodes
 * still build their chains, and the backlog takes about 2M events to drain on 2 vCPUs). A run
 * with the defaults takes about a minute and a quarter on 2 vCPUs. A cluster job still running
 * after --job-timeout seconds (120) fails the bench, naming the nodes that had finished;
 * --node-logs lets the nodes log to stderr.
 *
 * The nodes are started once (SLUICE_BIN node, quiet) and stopped at the end, also on errors.
 * One warm-up job of each kind runs first and is not reported. Each repetition runs the
 * throughput pair, then the latency pair; the side that goes first alternates.
 *
 * Throughput: ctr per ad -> join ad -> campaign (100 campaigns) -> sum of clicks per campaign,
 * fed by the generator. Both runs write CSV through the same sink; the two files must be equal
 * byte for byte on every repetition, or the bench fails before printing a figure. events/s is
 * the generated events over the run's own elapsed time (sl_pipeline_report.elapsed_s: for the
 * one process from the first read to the last row, program build excluded; for the cluster
 * from sending the job to the last node's DONE, which includes the nodes building their
 * programs for the job: the per-job fixed cost is measured separately and printed).
 * The nodes' frame counters must show no rejected, duplicate or missing frame in any job.
 *
 * Latency, as in the Yahoo Streaming Benchmark adapted to event-time windows: for each window
 * [S, S + W), t_close is the wall time the client handed over the first record with
 * time_ms >= S + W (from that moment the window may close; lateness is 0), t_result when the
 * first row of that window arrived at the client (emitted as a closed window, not at the end of
 * input); latency = t_result - t_close. "all rows" uses the last row's arrival instead (on 3
 * nodes a window is complete once every node has sent its part). The one-process figure runs
 * the same topology through sl_chain in this process, timing pushes and emissions the same
 * way. Every run, on either side, must give the same multiset of window rows (count and an
 * order-independent XXH3 sum). The generator is not throttled: latency is measured at full
 * load, so it includes the queues the cluster fills under back-pressure (sl_client_run has no
 * rate limit, and a hook that slept would stop the client receiving too). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "addict.h"
#include "chain.h"
#include "client.h"
#include "common.h"
#include "config.h"
#include "device.h"
#include "err.h"
#include "jointab.h"
#include "launch.h"
#include "pipeline.h"
#include "sock.h"
#include "source.h"

#ifndef SLUICE_BIN
#error "SLUICE_BIN must name the sluice executable (CMakeLists.txt sets it)"
#endif

#define CHUNK 65536 /* records per push: the chunk size of sl_pipeline_run and sl_client_run */
#define CAMPAIGNS 100

struct args {
    sl_gen_cfg g; /* events (of the throughput runs), keys and skew: the rest is unused */
    uint64_t lat_events;
    uint32_t nodes, events_per_ms, lat_batch;
    int64_t window_ms;
    uint64_t warmup_events;
    int reps, node_logs;
    double job_timeout_s;
};

/* ---- files ------------------------------------------------------------------------------ */

/* Writes the join table: the generator's ad "ad-%08u" of rank i belongs to campaign i % 100. */
static int write_join(FILE *f, uint32_t keys)
{
    fprintf(f, "ad_id,campaign_id\n");
    for (uint32_t i = 0; i < keys; i++)
        fprintf(f, "ad-%08u,campaign-%03u\n", i, i % CAMPAIGNS);
    return fflush(f) == 0 && !ferror(f) ? 0 : SL_EIO;
}

/* ---- topologies ------------------------------------------------------------------------- */

static void base_source(sl_topology *t, const struct args *a, uint64_t events)
{
    t->source.kind = SL_SRC_GENERATOR;
    t->source.gen.events = events;
    t->source.gen.keys = a->g.keys;
    t->source.gen.skew = a->g.skew;
    t->source.gen.seed = 42;
}

/* ctr per ad, then the clicks of each ad summed per campaign through the join table. */
static void topo_throughput(sl_topology *t, const struct args *a, uint64_t events, const char *join)
{
    sl_topology_defaults(t);
    base_source(t, a, events);
    sl_pe_defaults(&t->pe, SL_PE_CTR);
    snprintf(t->pe.name, sizeof t->pe.name, "ctr_per_ad");
    t->pe.capacity = a->g.keys + a->g.keys / 4 + 1024;
    t->nnext = 1;
    sl_pe_defaults(&t->next[0].pe, SL_PE_SUM);
    snprintf(t->next[0].pe.name, sizeof t->next[0].pe.name, "clicks_per_campaign");
    t->next[0].pe.capacity = 4096;
    snprintf(t->next[0].join, sizeof t->next[0].join, "%s", join);
    snprintf(t->next[0].value, sizeof t->next[0].value, "clicks");
}

/* window_count per ad over event-time windows of a->window_ms. */
static void topo_latency(sl_topology *t, const struct args *a, uint64_t events)
{
    sl_topology_defaults(t);
    base_source(t, a, events);
    t->source.gen.events_per_ms = a->events_per_ms;
    sl_pe_defaults(&t->pe, SL_PE_WINDOW);
    snprintf(t->pe.name, sizeof t->pe.name, "views_per_ad_window");
    t->pe.window_ms = a->window_ms;
    t->pe.lateness_ms = 0;
    /* Open windows: at most the (ad, window) pairs of a batch on every node plus a window,
     * twice over. The emission that closes windows scans the whole table after every batch, so
     * the default (2^20) would make the window PE measure the table's size. */
    t->pe.capacity =
        2 * ((uint64_t)a->window_ms * a->events_per_ms + (uint64_t)a->lat_batch * a->nodes) + 4096;
    t->batch_events = a->lat_batch;
}

/* ---- latency recording ------------------------------------------------------------------ */

/* Per window i = [base + i*w, base + (i+1)*w): when it could close and when its rows came. */
struct lat {
    int64_t base, w;
    size_t n;          /* windows tracked */
    size_t next_close; /* first window whose end no handed-over record has reached */
    uint64_t *t_close, *t_first, *t_last; /* microseconds, sl_net_now_us; 0 = not seen */
    unsigned char *in_final;              /* some of its rows came with the final emission */
    uint64_t rows, digest;                /* every result row: count and XXH3 sum (any order) */
};

static int lat_init(struct lat *l, const sl_topology *t)
{
    const sl_gen_cfg *g = &t->source.gen;
    int64_t w = t->pe.window_ms, s = g->start_ms;
    memset(l, 0, sizeof *l);
    l->w = w;
    l->base = s >= 0 ? s - s % w : s - (w + s % w) % w;
    l->n = (size_t)((s - l->base) + (int64_t)(g->events / g->events_per_ms) + 1) / (size_t)w + 2;
    l->t_close = calloc(l->n, sizeof *l->t_close);
    l->t_first = calloc(l->n, sizeof *l->t_first);
    l->t_last = calloc(l->n, sizeof *l->t_last);
    l->in_final = calloc(l->n, 1);
    return l->t_close && l->t_first && l->t_last && l->in_final ? 0 : SL_ENOMEM;
}

static void lat_free(struct lat *l)
{
    free(l->t_close);
    free(l->t_first);
    free(l->t_last);
    free(l->in_final);
    memset(l, 0, sizeof *l);
}

/* Records handed over at now_us: every window whose end they reach may close from now on. */
static void lat_ingest(void *ud, const sl_rec *recs, size_t n, uint64_t now_us)
{
    struct lat *l = ud;
    int64_t max = INT64_MIN;
    for (size_t i = 0; i < n; i++)
        if (recs[i].time_ms > max)
            max = recs[i].time_ms;
    while (l->next_close < l->n && l->base + (int64_t)(l->next_close + 1) * l->w <= max)
        l->t_close[l->next_close++] = now_us;
}

static void lat_rows(void *ud, int kind, const sl_row *rows, size_t n, uint64_t recv_us)
{
    struct lat *l = ud;
    for (size_t i = 0; i < n; i++) {
        l->rows++;
        l->digest += XXH3_64bits(&rows[i], sizeof rows[i]);
        int64_t off = rows[i].window_start - l->base;
        if (off < 0 || off % l->w != 0 || (size_t)(off / l->w) >= l->n)
            continue;
        size_t k = (size_t)(off / l->w);
        if (kind == SL_EMIT_FINAL) {
            l->in_final[k] = 1;
        } else if (kind == SL_EMIT_WINDOWS) {
            if (!l->t_first[k])
                l->t_first[k] = recv_us;
            l->t_last[k] = recv_us;
        }
    }
}

/* sl_emit_fn for the one-process run: timestamps each emission as it leaves the engine. */
static int lat_emit(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    lat_rows(ud, (int)kind, rows, n, sl_net_now_us());
    return 0;
}

/* One run's latency percentiles, milliseconds. */
struct lat_fig {
    size_t windows, complete; /* windows measured (first row, all rows) */
    double p50, p99, p999, max;
    double all_p50, all_p99;
};

/* Latencies of the windows after the first `skip`. Returns 0 or SL_ENOMEM. */
static int lat_figures(const struct lat *l, int skip, struct lat_fig *f)
{
    double *first = malloc((l->n + 1) * sizeof *first), *all = malloc((l->n + 1) * sizeof *all);
    memset(f, 0, sizeof *f);
    if (!first || !all) {
        free(first);
        free(all);
        return SL_ENOMEM;
    }
    for (size_t i = (size_t)skip; i < l->n; i++) {
        if (!l->t_close[i] || !l->t_first[i])
            continue;
        first[f->windows++] = ((double)l->t_first[i] - (double)l->t_close[i]) / 1e3;
        if (!l->in_final[i])
            all[f->complete++] = ((double)l->t_last[i] - (double)l->t_close[i]) / 1e3;
    }
    if (f->windows) {
        qsort(first, f->windows, sizeof *first, bc_cmp_double);
        f->p50 = bc_pct(first, f->windows, 0.50);
        f->p99 = bc_pct(first, f->windows, 0.99);
        f->p999 = bc_pct(first, f->windows, 0.999);
        f->max = first[f->windows - 1];
    }
    if (f->complete) {
        qsort(all, f->complete, sizeof *all, bc_cmp_double);
        f->all_p50 = bc_pct(all, f->complete, 0.50);
        f->all_p99 = bc_pct(all, f->complete, 0.99);
    }
    free(first);
    free(all);
    return 0;
}

/* ---- runs ------------------------------------------------------------------------------- */

struct cluster {
    sl_cluster_cfg cfg;
    sl_launch *launch;
    double timeout_s, deadline; /* a job that takes longer fails instead of waiting forever */
    int jobs;
    double busy_s;              /* the last job: the longest time a node spent on it, JOB to DONE */
    uint64_t bad[SL_NODES_MAX]; /* rejected, duplicate and missing frames, since node start */
};

/* sl_client_alive_fn: a node process exited, or the job ran past its deadline. */
static int alive_in_time(void *ud, char *msg, size_t msglen)
{
    struct cluster *c = ud;
    if (sl_launch_alive(c->launch, msg, msglen))
        return 1;
    if (bc_now_s() > c->deadline) {
        snprintf(msg, msglen, "the job is still unfinished after %g s (--job-timeout)",
                 c->timeout_s);
        return 1;
    }
    return 0;
}

/* Appends to msg which nodes had sent DONE when a job failed. */
static void done_nodes(const sl_client_report *crep, char *msg, size_t msglen)
{
    size_t o = strlen(msg);
    uint32_t done = 0;
    o += (size_t)snprintf(msg + o, o < msglen ? msglen - o : 0, "; DONE came from");
    for (uint32_t d = 0; d < crep->nodes && o < msglen; d++)
        if (crep->node[d].stages)
            o += (size_t)snprintf(msg + o, msglen - o, " %snode %u", done++ ? "and " : "", d);
    if (o < msglen)
        snprintf(msg + o, msglen - o, "%s of %u nodes", done ? "" : " none", crep->nodes);
}

/* One job on the cluster. out may be NULL; l (latency hooks) may be NULL. */
static int run_cluster(struct cluster *c, const sl_topology *t, FILE *out, struct lat *l,
                       double *elapsed, char *msg, size_t msglen)
{
    sl_pipeline_opts po = {.topo = t, .out = out};
    sl_client_opts co = {.cl = &c->cfg,
                         .po = &po,
                         .alive = alive_in_time,
                         .alive_ud = c,
                         .quiet = 1,
                         .on_sent = l ? lat_ingest : NULL,
                         .sent_ud = l,
                         .on_rows = l ? lat_rows : NULL,
                         .rows_ud = l};
    sl_pipeline_report rep;
    sl_client_report crep;
    c->deadline = bc_now_s() + c->timeout_s;
    int rc = sl_client_run(&co, &rep, &crep, msg, msglen);
    if (rc) {
        done_nodes(&crep, msg, msglen);
        return rc;
    }
    if (rep.engine.events_in != t->source.gen.events) {
        snprintf(msg, msglen, "the nodes took %" PRIu64 " events of %" PRIu64, rep.engine.events_in,
                 t->source.gen.events);
        return SL_EIO;
    }
    /* The nodes count frame trouble since they started: compare with the previous job. The
     * first job sets the baseline (the readiness pings may count as duplicates there). */
    for (uint32_t d = 0; d < crep.nodes; d++) {
        const sl_node_report *n = &crep.node[d];
        uint64_t bad = n->duplicates + n->gaps;
        for (int v = 1; v < SL_FRAME_NVERDICTS; v++)
            bad += n->rejected[v];
        if ((c->jobs > 0 && bad != c->bad[d]) || crep.rejected) {
            snprintf(msg, msglen, "node %u rejected or missed %" PRIu64 " frames in this job", d,
                     bad - c->bad[d] + crep.rejected);
            return SL_EIO;
        }
        c->bad[d] = bad;
        for (uint32_t st = 0; st < n->stages; st++)
            if (n->late[st] || (st + 1 < n->stages && n->unjoined[st])) {
                snprintf(msg, msglen,
                         "node %u: stage %u dropped %" PRIu64 " late events, %" PRIu64
                         " unjoined rows",
                         d, st, n->late[st], n->unjoined[st]);
                return SL_EIO;
            }
    }
    c->jobs++;
    c->busy_s = 0;
    for (uint32_t d = 0; d < crep.nodes; d++)
        if (crep.node[d].busy_s > c->busy_s)
            c->busy_s = crep.node[d].busy_s;
    *elapsed = rep.elapsed_s;
    return 0;
}

/* The topology through sl_pipeline_run in this process. */
static int run_pipeline(const sl_topology *t, FILE *out, double *elapsed, sl_device_info *dev,
                        char *msg, size_t msglen)
{
    sl_pipeline_opts po = {.topo = t, .out = out};
    sl_pipeline_report rep;
    int rc = sl_pipeline_run(&po, &rep, msg, msglen);
    if (rc)
        return rc;
    *elapsed = rep.elapsed_s;
    if (dev)
        *dev = rep.device;
    return 0;
}

/* The windowed topology in this process: the source's chunks pushed into a chain on `dev`,
 * ingest stamped before each push, emissions stamped in the emit callback. */
static int run_local_latency(sl_device *dev, const sl_topology *t, struct lat *l, double *elapsed,
                             char *msg, size_t msglen)
{
    sl_addict *dict = sl_addict_new();
    sl_source *src = NULL;
    sl_chain *ch = NULL;
    sl_rec *buf = malloc(CHUNK * sizeof *buf);
    int rc = 0;
    if (!dict || !buf) {
        rc = SL_ENOMEM;
        goto out;
    }
    if ((rc = sl_chain_new(dev, t, NULL, NULL, NULL, lat_emit, l, &ch, msg, msglen)) ||
        (rc = sl_source_new(t, NULL, dict, NULL, NULL, &src, msg, msglen)))
        goto out;
    double t0 = bc_now_s();
    while (!sl_source_done(src)) {
        long n = sl_source_read(src, buf, CHUNK);
        if (n < 0) {
            rc = (int)n;
            snprintf(msg, msglen, "the generator failed: %s", sl_strerror(rc));
            goto out;
        }
        if (n == 0)
            continue;
        lat_ingest(l, buf, (size_t)n, sl_net_now_us());
        if ((rc = sl_chain_push(ch, 0, buf, (size_t)n))) {
            snprintf(msg, msglen, "%s", sl_chain_message(ch));
            goto out;
        }
    }
    if ((rc = sl_chain_finish_all(ch))) {
        snprintf(msg, msglen, "%s", sl_chain_message(ch));
        goto out;
    }
    *elapsed = bc_now_s() - t0;
out:
    sl_source_destroy(&src);
    sl_chain_destroy(&ch);
    sl_addict_destroy(&dict);
    free(buf);
    return rc;
}

/* Seconds to build t's chain on dev (programs, tables): what a node does for every job. */
static int chain_build(sl_device *dev, const sl_topology *t, double *secs, char *msg, size_t msglen)
{
    sl_addict *dict = sl_addict_new();
    sl_jointab *joins[SL_STAGES_MAX] = {NULL};
    sl_chain *ch = NULL;
    int rc = dict ? 0 : SL_ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < t->nnext; i++)
        if (t->next[i].join[0])
            rc = sl_jointab_load(t->next[i].join, dict, &joins[i + 1], NULL, NULL, msg, msglen);
    double t0 = bc_now_s();
    if (rc == 0 &&
        (rc = sl_chain_new(dev, t, joins, NULL, NULL, NULL, NULL, &ch, msg, msglen)) == 0)
        *secs = bc_now_s() - t0;
    sl_chain_destroy(&ch);
    for (int i = 0; i < SL_STAGES_MAX; i++)
        sl_jointab_destroy(&joins[i]);
    sl_addict_destroy(&dict);
    return rc;
}

/* ---- report ----------------------------------------------------------------------------- */

static void cpu_model(char *buf, size_t len)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(buf, len, "unknown CPU");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            colon++;
            while (*colon == ' ' || *colon == '\t')
                colon++;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(buf, len, "%s", colon);
            break;
        }
    }
    fclose(f);
}

/* "median  (min .. max)" of v[0..n) in M events/s from elapsed seconds. */
static void rate_cell(char *buf, size_t len, double *el, int n, double events)
{
    double m = bc_median(el, (size_t)n);
    snprintf(buf, len, "%6.2f M (%.2f .. %.2f)", events / m / 1e6, events / el[n - 1] / 1e6,
             events / el[0] / 1e6);
}

/* "median (min .. max)" of v[0..n) in ms. */
static void ms_cell(char *buf, size_t len, double *v, int n)
{
    double m = bc_median(v, (size_t)n);
    snprintf(buf, len, "%7.1f (%.1f .. %.1f)", m, v[0], v[n - 1]);
}

static const char usage[] =
    "usage: bench_cluster [--events N] [--keys K] [--reps R] [--nodes N] [--skew S]\n"
    "                     [--lat-events N] [--window-ms W] [--events-per-ms E]\n"
    "                     [--lat-batch B] [--warmup-events N] [--job-timeout S]\n"
    "                     [--node-logs]\n";

static int parse_args(int argc, char **argv, struct args *a)
{
    const bc_opt opts[] = {{"reps", 'r', BC_INT, &a->reps, 0, 0},
                           {"nodes", 'n', BC_U32, &a->nodes, 0, 0},
                           {"lat-events", 'l', BC_U64, &a->lat_events, 0, 0},
                           {"window-ms", 'w', BC_I64, &a->window_ms, 0, 0},
                           {"events-per-ms", 'p', BC_U32, &a->events_per_ms, 0, 0},
                           {"lat-batch", 'b', BC_U32, &a->lat_batch, 0, 0},
                           {"warmup-events", 'u', BC_U64, &a->warmup_events, 0, 0},
                           {"job-timeout", 't', BC_DBL, &a->job_timeout_s, 0, 0},
                           {"node-logs", 'v', BC_SET, &a->node_logs, 0, 0}};
    int rc =
        bc_parse_args(argc, argv, &a->g, opts, sizeof opts / sizeof *opts, "bench_cluster", usage);
    if (rc >= 0)
        return rc;
    if (a->reps < 1 || a->g.events == 0 || a->lat_events == 0 || a->g.keys == 0 || a->nodes == 0 ||
        a->nodes > SL_NODES_MAX || a->window_ms <= 0 || a->events_per_ms == 0 ||
        a->lat_batch == 0 || a->g.skew < 0 || !(a->job_timeout_s > 0)) {
        fprintf(stderr, "bench_cluster: every count must be positive, --nodes at most %d\n",
                SL_NODES_MAX);
        fputs(usage, stderr);
        return 2;
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct args a = {.g = {.events = 32000000, .keys = 100000, .skew = 1.0},
                     .lat_events = 26000000,
                     .nodes = 3,
                     .events_per_ms = 200,
                     .lat_batch = 16384,
                     .window_ms = 100,
                     .reps = 5,
                     .warmup_events = 4000000,
                     .job_timeout_s = 120};
    int prc = parse_args(argc, argv, &a);
    if (prc >= 0)
        return prc;

    char msg[4096] = "", cl_path[4096] = "", cl_dir[4096] = "", join_path[1024] = "",
         out1_path[1024] = "", outn_path[1024] = "";
    FILE *join = NULL, *out1 = NULL, *outn = NULL;
    struct cluster cl = {0};
    sl_device *dev = NULL;
    sl_device_info devinfo = {0};
    struct lat lat = {0};
    int rc = 0, reps = a.reps, failed = 1, made_cluster = 0, tty = isatty(STDERR_FILENO);
    double *tp_n = calloc((size_t)reps, sizeof(double)),
           *tp_1 = calloc((size_t)reps, sizeof(double));
    double *fig[2][7]; /* [cluster, one process][p50, p99, p999, all p50, all p99, p99 with
                          the job start, elapsed] */
    size_t lat_windows[2] = {SIZE_MAX, SIZE_MAX}, lat_complete[2] = {SIZE_MAX, SIZE_MAX};
    uint64_t ref_rows = 0, ref_digest = 0;
    int have_ref = 0;
    long out_bytes = 0;
    memset(fig, 0, sizeof fig);
    int oom = !tp_n || !tp_1;
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 7; k++)
            if (!(fig[s][k] = calloc((size_t)reps, sizeof(double))))
                oom = 1;
    if (oom) {
        snprintf(msg, sizeof msg, "out of memory");
        goto out;
    }

    /* Files: the join table and the two CSV outputs. */
    join = bc_tmp_file("bench_cluster", "join", join_path, sizeof join_path);
    out1 = bc_tmp_file("bench_cluster", "out1", out1_path, sizeof out1_path);
    outn = bc_tmp_file("bench_cluster", "outn", outn_path, sizeof outn_path);
    if (!join || !out1 || !outn || write_join(join, a.g.keys)) {
        snprintf(msg, sizeof msg, "cannot write temporary files: %s", strerror(errno));
        goto out;
    }
    fclose(join);
    join = NULL;

    /* The nodes, once for every run. */
    if ((rc = sl_launch_local_cluster(a.nodes, "", 0, cl_dir, sizeof cl_dir, cl_path,
                                      sizeof cl_path, msg, sizeof msg)))
        goto out;
    made_cluster = 1;
    cl.timeout_s = a.job_timeout_s;
    if ((rc = sl_cluster_load(cl_path, &cl.cfg, msg, sizeof msg)) ||
        (rc = sl_launch_start(SLUICE_BIN, cl_path, &cl.cfg, !a.node_logs, cl_dir, &cl.launch, msg,
                              sizeof msg)) ||
        (rc = sl_launch_wait_ready(cl.launch, &cl.cfg, 60000, msg, sizeof msg)))
        goto out;

    sl_topology tp, lt, warm;
    topo_throughput(&tp, &a, a.g.events, join_path);
    topo_latency(&lt, &a, a.lat_events);
    if ((rc = sl_device_open(lt.device, &dev, msg, sizeof msg)))
        goto out;

    /* Warm-up (not reported): first jobs build the programs (PoCL's cache) on every node. */
    double el, jobs[5], busy[5], builds[5];
    topo_throughput(&warm, &a, a.g.events / 16 + 1, join_path);
    if ((rc = run_cluster(&cl, &warm, NULL, NULL, &el, msg, sizeof msg)) ||
        (rc = run_pipeline(&warm, NULL, &el, &devinfo, msg, sizeof msg)))
        goto out;
    topo_latency(&warm, &a, a.lat_events / 16 + 1);
    if ((rc = lat_init(&lat, &warm)) ||
        (rc = run_cluster(&cl, &warm, NULL, &lat, &el, msg, sizeof msg)))
        goto out;
    lat_free(&lat);
    if ((rc = lat_init(&lat, &warm)) ||
        (rc = run_local_latency(dev, &warm, &lat, &el, msg, sizeof msg)))
        goto out;
    lat_free(&lat);
    /* The cluster's fixed cost per job: a job of 1000 events. */
    topo_throughput(&warm, &a, 1000, join_path);
    for (int i = 0; i < 5; i++)
        if ((rc = run_cluster(&cl, &warm, NULL, NULL, &jobs[i], msg, sizeof msg)))
            goto out;
        else
            busy[i] = cl.busy_s;
    double job_s = bc_median(jobs, 5), busy_ms = bc_median(busy, 5) * 1e3;
    for (int i = 0; i < 5; i++)
        if ((rc = chain_build(dev, &tp, &builds[i], msg, sizeof msg)))
            goto out;
    double build_ms = bc_median(builds, 5) * 1e3;

    /* Windows ending within the first warmup_events events are not measured. */
    int skip =
        (int)(((int64_t)(a.warmup_events / a.events_per_ms) + a.window_ms - 1) / a.window_ms);
    for (int r = 0; r < reps; r++) {
        if (tty)
            fprintf(stderr, "bench_cluster: run %d of %d\r", r + 1, reps);
        /* (a) throughput; the order alternates so that neither side always goes first */
        if ((rc = bc_truncate(out1)) || (rc = bc_truncate(outn))) {
            snprintf(msg, sizeof msg, "cannot truncate the output files: %s", strerror(errno));
            goto out;
        }
        for (int side = 0; side < 2; side++) {
            if ((side ^ (r & 1)) == 0)
                rc = run_cluster(&cl, &tp, outn, NULL, &tp_n[r], msg, sizeof msg);
            else
                rc = run_pipeline(&tp, out1, &tp_1[r], NULL, msg, sizeof msg);
            if (rc)
                goto out;
        }
        if (!bc_same_bytes(out1, outn, &out_bytes)) {
            snprintf(msg, sizeof msg,
                     "RESULTS DIFFER between %u nodes (%s) and one process (%s) on run %d", a.nodes,
                     outn_path, out1_path, r + 1);
            outn_path[0] = out1_path[0] = '\0'; /* kept for inspection */
            rc = SL_EIO;
            goto out;
        }
        /* (b) latency */
        for (int side = 0; side < 2; side++) {
            int s = (side ^ (r & 1)) == 0 ? 0 : 1; /* 0: cluster, 1: one process */
            struct lat_fig f, cold;
            if ((rc = lat_init(&lat, &lt)))
                goto out;
            rc = s == 0 ? run_cluster(&cl, &lt, NULL, &lat, &el, msg, sizeof msg)
                        : run_local_latency(dev, &lt, &lat, &el, msg, sizeof msg);
            if (rc || (rc = lat_figures(&lat, skip, &f)) || (rc = lat_figures(&lat, 0, &cold)))
                goto out;
            if (f.windows == 0) {
                snprintf(msg, sizeof msg,
                         "no window to measure: none closed before the end of input after the "
                         "first %d; raise --lat-events or lower --warmup-events",
                         skip);
                rc = SL_EINVAL;
                goto out;
            }
            /* every run, on either side, must give the same window rows */
            if (!have_ref) {
                ref_rows = lat.rows;
                ref_digest = lat.digest;
                have_ref = 1;
            } else if (lat.rows != ref_rows || lat.digest != ref_digest) {
                snprintf(msg, sizeof msg,
                         "RESULTS DIFFER: run %d %s gave %" PRIu64
                         " window rows (digest %016" PRIx64 "), an earlier run %" PRIu64
                         " (digest %016" PRIx64 ")",
                         r + 1, s == 0 ? "on the cluster" : "in one process", lat.rows, lat.digest,
                         ref_rows, ref_digest);
                rc = SL_EIO;
                goto out;
            }
            fig[s][0][r] = f.p50;
            fig[s][1][r] = f.p99;
            fig[s][2][r] = f.p999;
            fig[s][3][r] = f.all_p50;
            fig[s][4][r] = f.all_p99;
            fig[s][5][r] = cold.p99;
            fig[s][6][r] = el;
            if (f.windows < lat_windows[s])
                lat_windows[s] = f.windows;
            if (f.complete < lat_complete[s])
                lat_complete[s] = f.complete;
            lat_free(&lat);
        }
    }
    if (tty)
        fprintf(stderr, "%40s\r", "");

    /* ---- the table ---- */
    char cpu[256], date[64], c1[96], c2[96];
    cpu_model(cpu, sizeof cpu);
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench_cluster: %u local node processes on loopback vs one process, same run, %d "
           "runs each (%s)\n",
           a.nodes, reps, date);
    printf("machine: %s, %ld online CPU%s; device %s / %s\n", cpu, ncpu, ncpu == 1 ? "" : "s",
           devinfo.platform, devinfo.name);
    printf("  the client, the %u node processes and every PoCL worker thread share those %ld "
           "CPUs: the cluster figures measure overhead and contention, not scaling\n",
           a.nodes, ncpu);
    printf("\nthroughput: generator (%" PRIu64 " events, %u ads, Zipf %.2f, seed 42) -> ctr per "
           "ad -> join ad->campaign (%d) -> sum of clicks per campaign\n",
           a.g.events, a.g.keys, a.g.skew, CAMPAIGNS);
    printf("  events/s = events / the run's elapsed time; %u nodes: sl_client_run, job sent .. "
           "every node done, which includes a fixed cost per job (%.0f ms: median of 5 jobs of "
           "1000 events, of which the slowest node spent %.0f ms from JOB to DONE); 1 process: "
           "sl_pipeline_run, first read .. last row, which excludes "
           "opening the device and building the chain (%.0f ms here: median of 5 builds; each "
           "node builds its chain for every job)\n",
           a.nodes, job_s * 1e3, busy_ms, build_ms);
    printf("  results: identical CSV from both on every run (%ld bytes)\n", out_bytes);
    char nodes_col[32];
    snprintf(nodes_col, sizeof nodes_col, "%u node%s", a.nodes, a.nodes == 1 ? "" : "s");
    printf("  %-32s %-30s %-30s\n", "", nodes_col, "1 process");
    double mn = bc_median(tp_n, (size_t)reps), m1 = bc_median(tp_1, (size_t)reps);
    rate_cell(c1, sizeof c1, tp_n, reps, (double)a.g.events);
    rate_cell(c2, sizeof c2, tp_1, reps, (double)a.g.events);
    printf("  %-32s %-30s %-30s\n", "events/s median (min .. max)", c1, c2);
    printf("  %-32s %.2fx\n", "ratio nodes / one process", m1 / mn);
    if (mn > job_s)
        printf("  %-32s %6.2f M (estimate: events / (median elapsed - fixed cost per job))\n",
               "nodes, less the fixed cost", (double)a.g.events / (mn - job_s) / 1e6);

    printf("\nlatency: generator (%" PRIu64 " events, %u ads, %u events per ms of event time) -> "
           "window_count per ad, %" PRId64 " ms event-time windows, lateness 0, batch %u events, "
           "capacity %" PRIu64 " open windows\n",
           a.lat_events, a.g.keys, a.events_per_ms, a.window_ms, a.lat_batch, lt.pe.capacity);
    printf("  per window: t_result (first row of the window at the client, or out of the engine "
           "in one process) - t_close (the first record past the window's end handed over); "
           "the first %d windows (%" PRIu64 " events: the job start) not measured; input not "
           "throttled (latency at full load)\n",
           skip, a.warmup_events);
    printf("  results: the same %" PRIu64 " window rows (XXH3 digest) from both on every run\n",
           ref_rows);
    printf("  %-32s %-30s %-30s\n", "ms, median of runs (min .. max)", nodes_col, "1 process");
    snprintf(c1, sizeof c1, "%zu (all rows: %zu)", lat_windows[0], lat_complete[0]);
    snprintf(c2, sizeof c2, "%zu (all rows: %zu)", lat_windows[1], lat_complete[1]);
    printf("  %-32s %-30s %-30s\n", "windows measured per run", c1, c2);
    static const char *names[] = {"p50",          "p99",          "p99.9",
                                  "all rows p50", "all rows p99", "p99 with the job start"};
    for (int k = 0; k < 6; k++) {
        if (k == 2 && lat_windows[0] < 1000)
            continue;
        ms_cell(c1, sizeof c1, fig[0][k], reps);
        ms_cell(c2, sizeof c2, fig[1][k], reps);
        printf("  %-32s %-30s %-30s\n", names[k], c1, c2);
    }
    rate_cell(c1, sizeof c1, fig[0][6], reps, (double)a.lat_events);
    rate_cell(c2, sizeof c2, fig[1][6], reps, (double)a.lat_events);
    printf("  %-32s %-30s %-30s\n", "events/s of these runs", c1, c2);
    if (lat_windows[0] < 1000)
        printf("  (p99.9 needs 1000 windows per run: raise --lat-events or lower "
               "--events-per-ms)\n");
    failed = 0;

out:
    if (failed && !msg[0])
        snprintf(msg, sizeof msg, "%s", sl_strerror(rc ? rc : SL_EIO));
    if (failed)
        fprintf(stderr, "%sbench_cluster: %s\n", tty ? "\n" : "", msg);
    lat_free(&lat);
    sl_device_close(&dev);
    if (cl.launch) {
        char smsg[1024];
        if (sl_launch_stop(&cl.launch, 30000, smsg, sizeof smsg)) {
            fprintf(stderr, "bench_cluster: stopping the nodes: %s\n", smsg);
            failed = 1;
        }
    }
    if (made_cluster)
        sl_launch_remove_local(cl_dir);
    bc_tmp_close(&join, join_path);
    bc_tmp_close(&out1, out1_path);
    bc_tmp_close(&outn, outn_path);
    free(tp_n);
    free(tp_1);
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 7; k++)
            free(fig[s][k]);
    return failed;
}
