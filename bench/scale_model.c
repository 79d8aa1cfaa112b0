/* sluice-scale: what a node of a cluster with ingest on every node (docs/cluster.md, "Ingest on
 * every node") pays per event, measured on this machine with sluice's own code, and a model of
 * the cluster built on those costs that predicts its throughput from 1 to 16 nodes
 * (bench/SCALING.md has the formula, the assumptions and the figures).
 *
 * usage: sluice-scale [--events N] [--keys K] [--skew S] [--reps R] [--ndjson FILE] [--csv FILE]
 *                     [--engine-events N] [--net-mib M] [--device NAME] [--cores C]
 *                     [--gbit LIST] [--nodes LIST] [--job-events N] [--shared-cores C]
 *                     [--local-nodes LIST] [--parse-threads P] [--wire-factor F]
 *                     [--partitions P] [--capacity N] [--only LIST] [--costs-out FILE]
 *                     [--costs-in FILE] [--parse-ns NS] [--io-threads T]
 *
 * Measured, each --reps times after one warm-up run, printed as median (min..max):
 *  parse   sl_source over a YSB-shaped NDJSON file and a CSV file (made by gen_events with
 *          --events events, or --ndjson/--csv), read whole as a node reads its part of a file:
 *          events/s of wall time, and CPU seconds per event of the reading thread
 *          (CLOCK_THREAD_CPUTIME_ID), which is what the model uses;
 *  route   node.c's route(): per record sl_partmap_node_of_key, then the record copied into the
 *          node's local chunk or appended with sl_outbox_put to the open frame of its owner's
 *          outbox (frames of net.batch_bytes, sealed with their XXH3 checksum); queued frames are
 *          released (sl_outbox_forget) whenever the node would stop reading (OUT_LIMIT), as
 *          acknowledgements release them. As node 0 of each model size;
 *  engine  sl_engine with the ctr PE over generated records (--keys ads, Zipf --skew) pushed in
 *          LOCAL_CHUNK pieces as a node pushes, finish included: the pushing thread's CPU (the
 *          host part) and the rest of the process's CPU (PoCL's kernel threads: the device part);
 *  net     sl_outbox -> sl_inbox between two processes over loopback TCP, with CURVE and its ZAP
 *          handler as nodes run them, ACK frames going back on a second socket, the receiver
 *          copying each frame's records to aligned memory as a node does; at 64 KiB frames (the
 *          default net.batch_bytes) and 4 KiB frames (to split a per-frame cost from a per-byte
 *          one), and without CURVE; plus raw libzmq PUSH/PULL with messages of a 64 KiB frame's
 *          size. Wall bandwidth, and CPU per byte of each side's sending/receiving thread and of
 *          the rest of its process (ZeroMQ's I/O thread: TCP and CURVE);
 *  merge   the client's dictionary merge: sl_addict_entry_put on a node, sl_addict_entry_get and
 *          sl_addict_intern on the client, per id;
 *  setup   sl_engine_new at a node's capacity (program from the PoCL cache, state table and batch
 *          buffers allocated), as each node does when it takes a job.
 *
 * The model (model() and simulate() below; bench/SCALING.md) then prints, for each node count,
 * the analytic bound with its bottleneck and a time-stepped simulation of the nodes' threads,
 * queues, links and back-pressure, with per-node utilisation; and for --local-nodes the same on
 * --shared-cores cores shared by every node (this machine's case), to hold against real runs. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "addict.h"
#include "auth.h"
#include "common.h"
#include "device.h"
#include "engine.h"
#include "err.h"
#include "generator.h"
#include "inbox.h"
#include "job.h"
#include "outbox.h"
#include "partmap.h"
#include "poller.h"
#include "source.h"
#include "topology.h"

#ifndef GEN_EVENTS_BIN
#error "GEN_EVENTS_BIN must name the gen_events executable (bench/bench.cmake sets it)"
#endif

/* The node's own sizes (host/cluster/node.c), mirrored here: what one read of its source takes,
 * the chunk its local records are pushed in, and what it holds for peers before it stops reading.
 */
#define INGEST_CHUNK 16384
#define LOCAL_CHUNK 4096
#define OUT_LIMIT ((double)(8u << 20))
#define REC_BYTES ((double)sizeof(sl_rec))
#define MAX_REPS 64
#define MAX_N 64
#define ENGINE_BATCH 262144.0 /* sl_engine_cfg.batch_events default: a device batch */
#define NET_DEADLINE_S 300    /* a transfer that takes longer has failed */

/* ---- clocks and series ---------------------------------------------------------------------- */

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double proc_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Samples of one figure; med/lo/hi once series_done ran. */
struct series {
    double v[MAX_REPS];
    int n;
    double med, lo, hi;
};

static void series_add(struct series *s, double x)
{
    if (s->n < MAX_REPS)
        s->v[s->n++] = x;
}

static void series_done(struct series *s)
{
    double tmp[MAX_REPS];
    memcpy(tmp, s->v, (size_t)s->n * sizeof *tmp);
    s->med = s->n ? bc_median(tmp, (size_t)s->n) : 0;
    s->lo = s->n ? tmp[0] : 0;
    s->hi = s->n ? tmp[s->n - 1] : 0;
}

/* Prints "label: median (min..max) unit" with the series scaled by `scale`. */
static void series_print(const char *label, const struct series *s, double scale, const char *unit)
{
    printf("  %-44s %10.3f (%.3f..%.3f) %s\n", label, s->med * scale, s->lo * scale, s->hi * scale,
           unit);
}

/* ---- options -------------------------------------------------------------------------------- */

struct opts {
    sl_gen_cfg g;
    int reps;
    const char *ndjson, *csv, *device, *gbit, *nodes, *local_nodes;
    uint64_t engine_events, job_events, capacity;
    uint32_t net_mib, partitions;
    int cores, shared_cores, parse_threads, io_threads;
    const char *only, *costs_in, *costs_out;
    double wire, parse_ns;
};

/* Parses "1,2,3" into v (at most max values, each 1..hi). Returns the count, or -1. */
static int parse_list(const char *s, double *v, int max, double hi)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        errno = 0;
        double x = strtod(s, &end);
        if (end == s || errno || !(x > 0) || x > hi)
            return -1;
        v[n++] = x;
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return *s ? -1 : n;
}

enum part { P_PARSE = 1, P_ROUTE = 2, P_ENGINE = 4, P_SETUP = 8, P_MERGE = 16, P_NET = 32 };
#define P_ALL 63

/* Parses --only's "parse,net" into a mask of enum part. Returns it, or -1. */
static int parse_parts(const char *s)
{
    static const char *const names[] = {"parse", "route", "engine", "setup", "merge", "net"};
    int mask = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        int found = 0;
        for (int i = 0; i < 6; i++)
            if (strlen(names[i]) == len && strncmp(s, names[i], len) == 0) {
                mask |= 1 << i;
                found = 1;
            }
        if (!found)
            return -1;
        s += len;
        if (*s == ',')
            s++;
    }
    return mask;
}

/* ---- input files ---------------------------------------------------------------------------- */

/* Writes gen_events' output for o's generator settings in `format` to a new temporary file whose
 * path goes to path. Returns 0 or SL_EIO (path then ""). */
static int gen_file(const struct opts *o, const char *format, char *path, size_t len)
{
    FILE *f = bc_tmp_file("sluice-scale", format, path, len);
    if (!f)
        return SL_EIO;
    char ev[32], keys[32], skew[32];
    snprintf(ev, sizeof ev, "%" PRIu64, o->g.events);
    snprintf(keys, sizeof keys, "%u", o->g.keys);
    snprintf(skew, sizeof skew, "%g", o->g.skew);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fileno(f), 1);
        execl(GEN_EVENTS_BIN, GEN_EVENTS_BIN, "--events", ev, "--keys", keys, "--skew", skew,
              "--format", format, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        bc_tmp_close(&f, path);
        path[0] = '\0';
        return SL_EIO;
    }
    fclose(f);
    return 0;
}

/* ---- parse ---------------------------------------------------------------------------------- */

struct parse_res {
    struct series rate, cpu_ev; /* events/s of wall time; CPU s per event of the reading thread */
    uint64_t events, bytes;
};

/* Reads the file at path through sl_source (format fmt, no filter) reps + 1 times, the first
 * not counted: the whole file (nparts 0), or as node 0 of nparts reads its part
 * (sl_source_part, host/io/slice.h). Returns 0 or an sl_err with msg. */
static int measure_parse(const char *path, sl_format fmt, uint32_t nparts, int reps,
                         struct parse_res *r, char *msg, size_t msglen)
{
    sl_topology t;
    sl_topology_defaults(&t);
    t.source.kind = SL_SRC_FILE;
    t.source.format = fmt;
    snprintf(t.source.path, sizeof t.source.path, "%s", path);
    sl_rec *buf = malloc(INGEST_CHUNK * sizeof *buf);
    if (!buf) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    int rc = 0;
    memset(r, 0, sizeof *r);
    for (int rep = -1; rep < reps && rc == 0; rep++) {
        FILE *in = NULL;
        sl_addict *dict = sl_addict_new();
        sl_source *src = NULL;
        if (nparts) {
            sl_topology tp = t;
            sl_slice_info info;
            tp.source.ingest = SL_INGEST_NODES;
            rc = sl_source_part(&tp, 0, nparts, &in, &info, msg, msglen);
        } else if (!(in = fopen(path, "r"))) {
            snprintf(msg, msglen, "cannot open %s: %s", path, strerror(errno));
            rc = SL_EIO;
        }
        if (rc == 0 && (!in || !dict)) {
            snprintf(msg, msglen, "cannot open %s", path);
            rc = SL_EIO;
        }
        if (rc == 0) {
            double w0 = bc_now_s(), c0 = thread_cpu_s();
            uint64_t n = 0;
            rc = sl_source_new(&t, in, dict, NULL, NULL, &src, msg, msglen);
            while (rc == 0 && !sl_source_done(src)) {
                long k = sl_source_read(src, buf, INGEST_CHUNK);
                if (k < 0) {
                    snprintf(msg, msglen, "reading %s: %s", path, sl_strerror((int)k));
                    rc = (int)k;
                }
                n += k > 0 ? (uint64_t)k : 0;
            }
            double w = bc_now_s() - w0, c = thread_cpu_s() - c0;
            if (rc == 0 && n == 0) {
                snprintf(msg, msglen, "%s holds no events", path);
                rc = SL_EPARSE;
            }
            if (rc == 0 && rep >= 0) {
                sl_source_stats st;
                sl_source_get_stats(src, &st);
                r->events = n;
                r->bytes = st.input.bytes;
                series_add(&r->rate, (double)n / w);
                series_add(&r->cpu_ev, c / (double)n);
            }
        }
        sl_source_destroy(&src);
        sl_addict_destroy(&dict);
        if (in)
            fclose(in);
    }
    free(buf);
    series_done(&r->rate);
    series_done(&r->cpu_ev);
    return rc;
}

/* ---- route: partition and frame ------------------------------------------------------------- */

static volatile uint64_t route_sink; /* keeps the local chunk's copies observable */

/* node.c's route() for a node 0 of n nodes over recs[0..nrec): CPU s per event per rep into s.
 * Returns 0 or an sl_err with msg. */
static int measure_route(uint32_t n, uint32_t nparts, const sl_rec *recs, size_t nrec, int reps,
                         struct series *s, double *remote, char *msg, size_t msglen)
{
    sl_net_opts no;
    sl_net_opts_defaults(&no);
    no.linger_ms = 0;
    sl_netctx *ctx = NULL;
    sl_partmap *map = NULL;
    sl_outbox *ob[MAX_N] = {0};
    sl_rec *local = malloc(LOCAL_CHUNK * sizeof *local);
    int rc = local ? 0 : SL_ENOMEM;
    if (rc == 0)
        rc = sl_netctx_new(&no, &ctx, msg, msglen);
    if (rc == 0)
        rc = sl_partmap_new(nparts, n, &map, msg, msglen);
    /* Peers that never answer (nothing listens there): frames stay queued, as they would until
     * acknowledged, and are released below. */
    for (uint32_t d = 1; d < n && rc == 0; d++)
        rc = sl_outbox_new(sl_netctx_zmq(ctx), "tcp://127.0.0.1:9", 0, &no, &ob[d], msg, msglen);
    uint32_t stream = sl_job_stream(1, 0);
    uint64_t nremote = 0;
    for (int rep = -1; rep < reps && rc == 0; rep++) {
        size_t nl = 0;
        nremote = 0;
        double c0 = thread_cpu_s();
        for (size_t at = 0; at < nrec && rc == 0; at += INGEST_CHUNK) {
            size_t end = at + INGEST_CHUNK < nrec ? at + INGEST_CHUNK : nrec;
            for (size_t i = at; i < end; i++) {
                uint32_t d = sl_partmap_node_of_key(map, recs[i].key);
                if (d == 0) {
                    local[nl++] = recs[i];
                    if (nl == LOCAL_CHUNK) {
                        route_sink += local[nl - 1].key;
                        nl = 0;
                    }
                } else {
                    nremote++;
                    if (sl_outbox_put(ob[d], stream, SL_SCHEMA_REC, sizeof(sl_rec), &recs[i], 1)) {
                        snprintf(msg, msglen, "out of memory framing records");
                        rc = SL_ENOMEM;
                        break;
                    }
                }
            }
            double q = 0;
            for (uint32_t d = 1; d < n; d++)
                q += (double)sl_outbox_queued_bytes(ob[d]);
            if (q > OUT_LIMIT)
                for (uint32_t d = 1; d < n; d++)
                    sl_outbox_forget(ob[d], 0, 0);
        }
        double c = thread_cpu_s() - c0;
        for (uint32_t d = 1; d < n; d++)
            sl_outbox_forget(ob[d], 0, 0);
        if (rep >= 0)
            series_add(s, c / (double)nrec);
    }
    *remote = nrec ? (double)nremote / (double)nrec : 0;
    for (uint32_t d = 1; d < n; d++)
        sl_outbox_close_now(&ob[d]);
    sl_partmap_destroy(&map);
    sl_netctx_destroy(&ctx);
    free(local);
    series_done(s);
    if (rc == SL_ENOMEM && !msg[0])
        snprintf(msg, msglen, "out of memory");
    return rc;
}

/* ---- engine --------------------------------------------------------------------------------- */

static int count_rows(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    (void)kind;
    (void)rows;
    *(uint64_t *)ud += n;
    return 0;
}

struct engine_res {
    struct series rate, host_ev, dev_ev; /* events/s; CPU s per event: pushing thread, the rest */
    struct series setup_s, setup_cpu;    /* sl_engine_new at capacity: wall and process CPU */
    uint64_t rows;
};

/* sl_engine (ctr) over recs[0..n) in LOCAL_CHUNK pushes, reset between reps; sl_engine_new at
 * `capacity` timed reps + 1 times (the first not counted). Returns 0 or an sl_err with msg. */
static int measure_engine(sl_device *dev, uint64_t capacity, const sl_rec *recs, size_t n, int reps,
                          struct engine_res *r, char *msg, size_t msglen)
{
    sl_engine_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    sl_pe_defaults(&cfg.pe, SL_PE_CTR);
    cfg.pe.capacity = capacity;
    sl_engine *e = NULL;
    int rc = 0;
    memset(r, 0, sizeof *r);
    for (int rep = -1; rep < reps && rc == 0; rep++) {
        sl_engine_destroy(&e);
        double w0 = bc_now_s(), c0 = proc_cpu_s();
        rc = sl_engine_new(dev, &cfg, count_rows, &r->rows, &e, msg, msglen);
        if (rc == 0 && rep >= 0) {
            series_add(&r->setup_s, bc_now_s() - w0);
            series_add(&r->setup_cpu, proc_cpu_s() - c0);
        }
    }
    for (int rep = -1; rep < reps && rc == 0; rep++) {
        r->rows = 0;
        if ((rc = sl_engine_reset(e)))
            break;
        double w0 = bc_now_s(), t0 = thread_cpu_s(), p0 = proc_cpu_s();
        for (size_t at = 0; at < n && rc == 0; at += LOCAL_CHUNK)
            rc = sl_engine_push(e, recs + at, n - at < LOCAL_CHUNK ? n - at : LOCAL_CHUNK);
        if (rc == 0)
            rc = sl_engine_finish(e);
        double w = bc_now_s() - w0, t = thread_cpu_s() - t0, p = proc_cpu_s() - p0;
        if (rc == 0 && rep >= 0) {
            series_add(&r->rate, (double)n / w);
            series_add(&r->host_ev, t / (double)n);
            series_add(&r->dev_ev, (p - t > 0 ? p - t : 0) / (double)n);
        }
    }
    if (rc && e)
        snprintf(msg, msglen, "%s", sl_engine_message(e));
    sl_engine_destroy(&e);
    series_done(&r->rate);
    series_done(&r->host_ev);
    series_done(&r->dev_ev);
    series_done(&r->setup_s);
    series_done(&r->setup_cpu);
    return rc;
}

/* ---- network -------------------------------------------------------------------------------- */

/* What one side of a transfer reports: its thread's CPU and its whole process's CPU over the
 * transfer, and (the receiver) when the last byte arrived. */
struct side {
    double thread_cpu, proc_cpu, end_s;
    uint64_t bytes, frames;
    int rc;
};

struct net_case {
    const char *name;
    int sluice;      /* 1: sl_outbox/sl_inbox; 0: raw libzmq PUSH/PULL */
    int curve;       /* CURVE with the cluster's ZAP handler */
    size_t frame;    /* payload bytes per frame (batch_bytes) */
    uint64_t bytes;  /* payload bytes to move */
    char keydir[96]; /* key folder for CURVE */
};

struct net_res {
    struct series bw;                /* frame bytes (headers included) per second */
    struct series snd_thr, snd_rest; /* sender: CPU s per frame byte, thread and the rest */
    struct series rcv_thr, rcv_rest; /* receiver: the same */
    double frame_bytes;              /* bytes of one full frame, header included */
};

static int read_full(int fd, void *p, size_t len)
{
    unsigned char *b = p;
    while (len) {
        ssize_t k = read(fd, b, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        b += k;
        len -= (size_t)k;
    }
    return 0;
}

static int write_full(int fd, const void *p, size_t len)
{
    const unsigned char *b = p;
    while (len) {
        ssize_t k = write(fd, b, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        b += k;
        len -= (size_t)k;
    }
    return 0;
}

static void net_opts(const struct net_case *c, sl_net_opts *no, char *msg, size_t msglen, int *rc)
{
    sl_net_opts_defaults(no);
    no->batch_bytes = c->frame;
    no->linger_ms = 2000;
    if (c->curve && *rc == 0)
        *rc = sl_keys_load(c->keydir, no, msg, msglen);
}

/* The receiving process of a sluice transfer: binds its data inbox, tells the parent its
 * endpoint, connects its ACK outbox to the parent's control endpoint, then takes frames until
 * the EOS, copying records to aligned memory as node.c's handle() does, and acknowledges them as
 * node.c's send_acks() does. Reports a struct side on `wfd`. */
static void sluice_receiver(const struct net_case *c, int rfd, int wfd)
{
    char msg[512] = "";
    struct side sd = {0};
    sl_net_opts no;
    int rc = 0;
    net_opts(c, &no, msg, sizeof msg, &rc);
    sl_netctx *ctx = NULL;
    sl_inbox *ib = NULL;
    sl_outbox *ctl = NULL;
    sl_poller *pl = NULL;
    char ep[256] = "", pep[256] = "";
    sl_rec *aligned = malloc(LOCAL_CHUNK * sizeof *aligned);
    if (rc == 0 && !aligned)
        rc = SL_ENOMEM;
    if (rc == 0)
        rc = sl_netctx_new(&no, &ctx, msg, sizeof msg);
    if (rc == 0)
        rc = sl_inbox_new(sl_netctx_zmq(ctx), "tcp://127.0.0.1:*", &no, sl_payload_recsize, &ib,
                          msg, sizeof msg);
    if (rc == 0)
        rc = sl_inbox_endpoint(ib, ep, sizeof ep);
    if (write_full(wfd, ep, sizeof ep) || read_full(rfd, pep, sizeof pep))
        rc = rc ? rc : SL_EIO;
    if (rc == 0 && !pep[0])
        rc = SL_EIO;
    if (rc == 0)
        rc = sl_outbox_new(sl_netctx_zmq(ctx), pep, 1, &no, &ctl, msg, sizeof msg);
    if (rc == 0)
        rc = sl_poller_new(2, &pl, msg, sizeof msg);
    double t0 = thread_cpu_s(), p0 = proc_cpu_s(), last_full = bc_now_s(), t_begin = last_full;
    int done = 0;
    sl_ack acks[SL_ACK_MAX];
    unsigned char abuf[4 + SL_ACK_MAX * SL_ACK_BYTES];
    while (rc == 0 && !done) {
        sl_frame f;
        int got = 0, k;
        while (rc == 0 && got < 64 && (k = sl_inbox_recv(ib, &f)) == 1) {
            got++;
            sd.frames++;
            sd.bytes += SL_FRAME_HDR + f.h.payload_len;
            if (f.h.kind == SL_FRAME_EOS) {
                done = 1;
                sd.end_s = bc_now_s();
            } else if (f.h.kind == SL_FRAME_DATA) {
                for (uint32_t at = 0; at < f.h.count;) {
                    uint32_t m = f.h.count - at < LOCAL_CHUNK ? f.h.count - at : LOCAL_CHUNK;
                    memcpy(aligned, f.payload + (size_t)at * sizeof(sl_rec), m * sizeof(sl_rec));
                    route_sink += aligned[m - 1].key;
                    at += m;
                }
            }
        }
        double now = bc_now_s();
        int all = now - last_full > 0.2;
        if (all)
            last_full = now;
        size_t na = sl_inbox_take_acks(ib, acks, SL_ACK_MAX, all);
        if (na) {
            size_t len = sl_ack_encode(acks, na, abuf);
            sl_outbox_send_now(ctl, SL_FRAME_ACK, 0, abuf, len);
        }
        if (done || got == 64)
            continue;
        if (now - t_begin > NET_DEADLINE_S || getppid() == 1)
            rc = SL_ETIMEOUT; /* the sender is gone or stuck */
        sl_poller_clear(pl);
        sl_poller_add_inbox(pl, ib);
        if (rc == 0 && sl_poller_wait(pl, 20) < 0)
            rc = SL_EIO;
    }
    /* The last acknowledgements, repeated until the sender has them (it says so by closing). */
    for (int i = 0; rc == 0 && i < 5; i++) {
        size_t na = sl_inbox_take_acks(ib, acks, SL_ACK_MAX, 1);
        if (na) {
            size_t len = sl_ack_encode(acks, na, abuf);
            sl_outbox_send_now(ctl, SL_FRAME_ACK, 0, abuf, len);
        }
        sl_net_sleep_ms(20);
    }
    sd.thread_cpu = thread_cpu_s() - t0;
    sd.proc_cpu = proc_cpu_s() - p0;
    sd.rc = rc;
    if (rc)
        fprintf(stderr, "sluice-scale: receiver: %s (%s)\n", msg, sl_strerror(rc));
    write_full(wfd, &sd, sizeof sd);
    sl_poller_destroy(&pl);
    sl_outbox_close_now(&ctl);
    sl_inbox_destroy(&ib);
    sl_netctx_destroy(&ctx);
    free(aligned);
}

/* The sending side, in the parent: puts records for its one peer in INGEST_CHUNK pieces while
 * what is unacknowledged stays under OUT_LIMIT, pumps, applies the ACKs, then sends the EOS and
 * waits until everything is acknowledged. */
static int sluice_sender(const struct net_case *c, const sl_rec *recs, int rfd, int wfd,
                         struct side *sd, double *t_start, char *msg, size_t msglen)
{
    sl_net_opts no;
    int rc = 0;
    net_opts(c, &no, msg, msglen, &rc);
    sl_netctx *ctx = NULL;
    sl_inbox *ib = NULL;
    sl_outbox *ob = NULL;
    sl_poller *pl = NULL;
    char ep[256] = "", cep[256] = "";
    if (read_full(rfd, cep, sizeof cep) || !cep[0])
        rc = rc ? rc : SL_EIO;
    if (rc == 0)
        rc = sl_netctx_new(&no, &ctx, msg, msglen);
    if (rc == 0)
        rc = sl_inbox_new(sl_netctx_zmq(ctx), "tcp://127.0.0.1:*", &no, sl_payload_recsize, &ib,
                          msg, msglen);
    if (rc == 0)
        rc = sl_inbox_endpoint(ib, ep, sizeof ep);
    if (write_full(wfd, ep, sizeof ep))
        rc = rc ? rc : SL_EIO;
    if (rc == 0)
        rc = sl_outbox_new(sl_netctx_zmq(ctx), cep, 0, &no, &ob, msg, msglen);
    if (rc == 0)
        rc = sl_poller_new(2, &pl, msg, msglen);
    uint32_t stream = sl_job_stream(1, 0);
    uint64_t total = c->bytes / sizeof(sl_rec), put = 0;
    /* The handshake first: ZMQ_IMMEDIATE queues nothing before it, and its time is no transfer. */
    if (rc == 0 && (rc = sl_outbox_control(ob, SL_FRAME_APP_KIND(0, 0), stream, "hi", 2)) == 0)
        rc = sl_outbox_drain(ob, 10000) ? SL_EIO : 0;
    double t0 = thread_cpu_s(), p0 = proc_cpu_s();
    *t_start = bc_now_s();
    int eos = 0;
    while (rc == 0) {
        sl_frame f;
        int k;
        while ((k = sl_inbox_recv(ib, &f)) == 1)
            if (f.h.kind == SL_FRAME_ACK) {
                sl_ack a[SL_ACK_MAX];
                long na = sl_ack_decode(f.payload, f.h.payload_len, a);
                for (long i = 0; i < na; i++)
                    sl_outbox_ack(ob, a[i].stream, a[i].next);
            }
        if (k < 0)
            rc = k;
        while (rc == 0 && put < total && (double)sl_outbox_queued_bytes(ob) <= OUT_LIMIT) {
            uint64_t m = total - put < INGEST_CHUNK ? total - put : INGEST_CHUNK;
            if (sl_outbox_put(ob, stream, SL_SCHEMA_REC, sizeof(sl_rec),
                              recs + (put % (1u << 20)) / INGEST_CHUNK * INGEST_CHUNK, m))
                rc = SL_ENOMEM;
            put += m;
        }
        if (rc == 0 && put == total && !eos) {
            rc = sl_outbox_control(ob, SL_FRAME_EOS, stream, NULL, 0);
            eos = 1;
        }
        if (rc == 0)
            rc = sl_outbox_pump(ob);
        if (rc || (eos && sl_outbox_queued_bytes(ob) == 0))
            break;
        if (bc_now_s() - *t_start > NET_DEADLINE_S) {
            snprintf(msg, msglen, "the transfer took over %d s", NET_DEADLINE_S);
            rc = SL_ETIMEOUT;
            break;
        }
        sl_poller_clear(pl);
        sl_poller_add_inbox(pl, ib);
        if (sl_outbox_queued_frames(ob))
            sl_poller_add_outbox(pl, ob);
        if (sl_poller_wait(pl, 20) < 0)
            rc = SL_EIO;
    }
    sd->thread_cpu = thread_cpu_s() - t0;
    sd->proc_cpu = proc_cpu_s() - p0;
    sl_outbox_stats os;
    if (ob) {
        sl_outbox_get_stats(ob, &os);
        sd->bytes = os.bytes;
        sd->frames = os.frames;
    }
    sd->rc = rc;
    if (rc && !msg[0])
        snprintf(msg, msglen, "sending failed: %s", sl_strerror(rc));
    sl_poller_destroy(&pl);
    sl_outbox_close_now(&ob);
    sl_inbox_destroy(&ib);
    sl_netctx_destroy(&ctx);
    return rc;
}

/* Raw libzmq: the receiver binds PULL, takes messages until an empty one. */
static void raw_receiver(const struct net_case *c, int rfd, int wfd)
{
    (void)rfd;
    struct side sd = {0};
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_PULL);
    char ep[256] = "";
    size_t eplen = sizeof ep;
    int hwm = 64;
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_bind(s, "tcp://127.0.0.1:*") || zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &eplen))
        ep[0] = '\0';
    write_full(wfd, ep, sizeof ep);
    double t0 = thread_cpu_s(), p0 = proc_cpu_s();
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        int k = zmq_msg_recv(&m, s, 0);
        if (k < 0) {
            if (zmq_errno() == EINTR)
                continue;
            sd.rc = SL_EIO;
            break;
        }
        if (k == 0)
            break;
        sd.bytes += (uint64_t)k;
        sd.frames++;
    }
    sd.end_s = bc_now_s();
    sd.thread_cpu = thread_cpu_s() - t0;
    sd.proc_cpu = proc_cpu_s() - p0;
    (void)c;
    zmq_msg_close(&m);
    write_full(wfd, &sd, sizeof sd);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

static int raw_sender(const struct net_case *c, int rfd, struct side *sd, double *t_start,
                      char *msg, size_t msglen)
{
    char ep[256] = "";
    if (read_full(rfd, ep, sizeof ep) || !ep[0]) {
        snprintf(msg, msglen, "the raw receiver did not bind");
        return SL_EIO;
    }
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_PUSH);
    int hwm = 64, linger = 5000;
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    size_t len = SL_FRAME_HDR + c->frame;
    unsigned char *buf = calloc(1, len);
    int rc = buf && zmq_connect(s, ep) == 0 ? 0 : SL_EIO;
    uint64_t n = c->bytes / c->frame;
    if (rc == 0 && zmq_send(s, buf, len, 0) < 0) /* the connection first, as for sluice */
        rc = SL_EIO;
    double t0 = thread_cpu_s(), p0 = proc_cpu_s();
    *t_start = bc_now_s();
    for (uint64_t i = 1; rc == 0 && i < n; i++)
        if (zmq_send(s, buf, len, 0) < 0 && zmq_errno() != EINTR)
            rc = SL_EIO;
    if (rc == 0 && zmq_send(s, "", 0, 0) < 0)
        rc = SL_EIO;
    sd->thread_cpu = thread_cpu_s() - t0;
    sd->proc_cpu = proc_cpu_s() - p0;
    sd->bytes = n * len;
    sd->frames = n;
    sd->rc = rc;
    if (rc)
        snprintf(msg, msglen, "raw send: %s", zmq_strerror(zmq_errno()));
    zmq_close(s);
    zmq_ctx_term(ctx);
    free(buf);
    return rc;
}

/* sluice-scale --net-receiver RFD WFD SLUICE CURVE FRAME KEYDIR: the receiving process of one
 * transfer (net_once). Returns the exit status. */
static int net_receiver_main(char **argv)
{
    struct net_case c = {"receiver", atoi(argv[4]), atoi(argv[5]), 0, 0, ""};
    c.frame = (size_t)strtoull(argv[6], NULL, 10);
    snprintf(c.keydir, sizeof c.keydir, "%s", argv[7]);
    int rfd = atoi(argv[2]), wfd = atoi(argv[3]);
    if (c.sluice)
        sluice_receiver(&c, rfd, wfd);
    else
        raw_receiver(&c, rfd, wfd);
    return 0;
}

/* One transfer: starts the receiving process, sends, and
 * collects both sides. Returns 0 with the figures in *snd, *rcv and the wall time in *wall. */
static int net_once(const struct net_case *c, const sl_rec *recs, struct side *snd,
                    struct side *rcv, double *wall, char *msg, size_t msglen)
{
    int to_child[2], to_parent[2];
    if (pipe(to_child) || pipe(to_parent)) {
        snprintf(msg, msglen, "pipe: %s", strerror(errno));
        return SL_EIO;
    }
    /* The receiver runs this program again (net_receiver_main): a forked copy of this process
     * would share its hundreds of MB copy-on-write, and every page the sender then wrote would
     * cost it a copy and a TLB shootdown that no node pays. */
    char a_rfd[16], a_wfd[16], a_sluice[4], a_curve[4], a_frame[24];
    snprintf(a_rfd, sizeof a_rfd, "%d", to_child[0]);
    snprintf(a_wfd, sizeof a_wfd, "%d", to_parent[1]);
    snprintf(a_sluice, sizeof a_sluice, "%d", c->sluice);
    snprintf(a_curve, sizeof a_curve, "%d", c->curve);
    snprintf(a_frame, sizeof a_frame, "%zu", c->frame);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        execl("/proc/self/exe", "sluice-scale", "--net-receiver", a_rfd, a_wfd, a_sluice, a_curve,
              a_frame, c->keydir, (char *)NULL);
        _exit(127);
    }
    close(to_child[0]);
    close(to_parent[1]);
    int rc = pid < 0 ? SL_EIO : 0;
    double t0 = 0;
    memset(snd, 0, sizeof *snd);
    memset(rcv, 0, sizeof *rcv);
    if (rc == 0) {
        if (c->sluice)
            rc = sluice_sender(c, recs, to_parent[0], to_child[1], snd, &t0, msg, msglen);
        else
            rc = raw_sender(c, to_parent[0], snd, &t0, msg, msglen);
    }
    if (rc == 0 && (read_full(to_parent[0], rcv, sizeof *rcv) || rcv->rc)) {
        snprintf(msg, msglen, "the receiving process failed");
        rc = SL_EIO;
    }
    if (rc && pid > 0)
        kill(pid, SIGKILL);
    close(to_child[1]);
    close(to_parent[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    *wall = rcv->end_s - t0;
    return rc;
}

static int measure_net(const struct net_case *c, const sl_rec *recs, int reps, struct net_res *r,
                       char *msg, size_t msglen)
{
    memset(r, 0, sizeof *r);
    r->frame_bytes = SL_FRAME_HDR + (double)(c->frame / sizeof(sl_rec) * sizeof(sl_rec));
    int rc = 0;
    for (int rep = -1; rep < reps && rc == 0; rep++) {
        struct side snd, rcv;
        double wall;
        if ((rc = net_once(c, recs, &snd, &rcv, &wall, msg, msglen)))
            break;
        if (rep < 0)
            continue;
        double b = (double)rcv.bytes;
        series_add(&r->bw, b / wall);
        series_add(&r->snd_thr, snd.thread_cpu / b);
        series_add(&r->snd_rest, (snd.proc_cpu - snd.thread_cpu) / b);
        series_add(&r->rcv_thr, rcv.thread_cpu / b);
        series_add(&r->rcv_rest, (rcv.proc_cpu - rcv.thread_cpu) / b);
    }
    series_done(&r->bw);
    series_done(&r->snd_thr);
    series_done(&r->snd_rest);
    series_done(&r->rcv_thr);
    series_done(&r->rcv_rest);
    return rc;
}

/* ---- the client's dictionary merge ---------------------------------------------------------- */

/* CPU s per id of a node's sl_addict_entry_put and the client's sl_addict_entry_get +
 * sl_addict_intern, over the generator's ids. */
static int measure_merge(const sl_gen_cfg *g, int reps, struct series *s, char *msg, size_t msglen)
{
    sl_addict *src = sl_addict_new();
    int err = 0;
    sl_gen *gen = src ? sl_gen_new(g, src, &err) : NULL;
    size_t cap = (size_t)g->keys * 64 + 65536;
    unsigned char *buf = malloc(cap);
    if (!gen || !buf) {
        snprintf(msg, msglen, "generator or buffer: %s", sl_strerror(err ? err : SL_ENOMEM));
        sl_addict_destroy(&src);
        free(buf);
        return err ? err : SL_ENOMEM;
    }
    int rc = 0;
    for (int rep = -1; rep < reps && rc == 0; rep++) {
        sl_addict *dst = sl_addict_new();
        if (!dst) {
            rc = SL_ENOMEM;
            break;
        }
        double c0 = thread_cpu_s();
        size_t at = 0, cursor = 0, len, n = 0;
        uint64_t key;
        const char *id;
        while (sl_addict_next(src, &cursor, &key, &id, &len))
            if (!sl_addict_entry_put(buf, cap, &at, key, id, len)) {
                rc = SL_ERANGE;
                break;
            }
        size_t end = at;
        at = 0;
        while (rc == 0 && sl_addict_entry_get(buf, end, &at, &key, &id, &len) == 1) {
            uint64_t k;
            if ((rc = sl_addict_intern(dst, id, len, &k)) == 0 && k != key)
                rc = SL_EPARSE;
            n++;
        }
        double c = thread_cpu_s() - c0;
        if (rc == 0 && rep >= 0 && n)
            series_add(s, c / (double)n);
        sl_addict_destroy(&dst);
    }
    if (rc)
        snprintf(msg, msglen, "dictionary merge: %s", sl_strerror(rc));
    sl_gen_destroy(&gen);
    sl_addict_destroy(&src);
    free(buf);
    series_done(s);
    return rc;
}

/* ---- key shares ----------------------------------------------------------------------------- */

/* For n nodes over nparts partitions: share[d], the fraction of events whose key node d owns
 * (the generator's Zipf weights 1/(rank+1)^skew over its keys, placed by sl_partmap as the
 * cluster places them), and distinct[], the expected ids a node's part of a `job_events` file
 * holds (sum over ads of 1 - (1 - w)^(job_events / n)). */
struct shares {
    uint32_t n;
    double share[MAX_N];
    double distinct; /* per node */
    double max_share;
};

static int key_shares(const sl_gen_cfg *g, uint32_t n, uint32_t nparts, uint64_t job_events,
                      struct shares *s, char *msg, size_t msglen)
{
    int err = 0;
    sl_gen *gen = sl_gen_new(g, NULL, &err);
    sl_partmap *map = NULL;
    int rc = gen ? sl_partmap_new(nparts, n, &map, msg, msglen) : err;
    memset(s, 0, sizeof *s);
    s->n = n;
    if (rc == 0) {
        double sum = 0, per = (double)job_events / n;
        for (uint32_t r = 0; r < g->keys; r++)
            sum += g->skew == 0 ? 1.0 : pow(r + 1.0, -g->skew);
        for (uint32_t r = 0; r < g->keys; r++) {
            double w = (g->skew == 0 ? 1.0 : pow(r + 1.0, -g->skew)) / sum;
            s->share[sl_partmap_node_of_key(map, sl_gen_key(gen, r))] += w;
            s->distinct += 1.0 - exp(per * log1p(-w));
        }
        for (uint32_t d = 0; d < n; d++)
            if (s->share[d] > s->max_share)
                s->max_share = s->share[d];
    } else if (!gen) {
        snprintf(msg, msglen, "generator: %s", sl_strerror(err));
    }
    sl_partmap_destroy(&map);
    sl_gen_destroy(&gen);
    return rc;
}

/* ---- the model ------------------------------------------------------------------------------ */

/* Per-event and per-byte costs (CPU seconds on one core of this machine), the model's inputs. */
struct costs {
    double parse;             /* per event read, reader thread */
    double route[MAX_N + 1];  /* per event read, by node count (partition + frame) */
    double eng_host, eng_dev; /* per event owned: pushing thread; kernel threads (PoCL) */
    double snd_thr, snd_io;   /* per wire byte sent: node thread (pump), ZeroMQ I/O thread */
    double rcv_thr, rcv_io;   /* per wire byte received: node thread (inbox, copy), I/O thread */
    double merge;             /* per id per node at the client */
    double wire_per_event;    /* frame bytes per remote event (record + header share) */
    double csv_parse;         /* per CSV event (reported; the model reads NDJSON) */
    double engine_threads;    /* the device's compute units: PoCL's kernel threads */
    double setup_one, setup_one_cpu; /* one process's sl_engine_new (wall s, CPU s) */
    double setup_wall[MAX_N + 1], setup_cpu[MAX_N + 1]; /* a node of n's sl_engine_new */
    /* The engine at the tables the local runs use: [0] one process (--capacity), [n] node 0 of
     * n local nodes (its share of --capacity, fed only the keys it owns); 0 = not measured. */
    double eng_host_at[MAX_N + 1], eng_dev_at[MAX_N + 1];
};

/* The costs as "name value" lines (seconds), for --costs-out and --costs-in. */
/* clang-format off */
#define COST_FIELDS(X)                                                                             \
    X(parse) X(csv_parse) X(eng_host) X(eng_dev) X(snd_thr) X(snd_io) X(rcv_thr) X(rcv_io)      \
    X(merge) X(wire_per_event) X(engine_threads) X(setup_one) X(setup_one_cpu)
/* clang-format on */

static int costs_save(const struct costs *k, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return SL_EIO;
#define PUT(name) fprintf(f, "%s %.9g\n", #name, k->name);
    COST_FIELDS(PUT)
#undef PUT
    for (uint32_t n = 1; n <= MAX_N; n++) {
        if (k->route[n] > 0 && (n == 1 || k->route[n] != k->route[n - 1]))
            fprintf(f, "route %u %.9g\n", n, k->route[n]);
        if (k->setup_wall[n] > 0)
            fprintf(f, "setup %u %.9g %.9g\n", n, k->setup_wall[n], k->setup_cpu[n]);
    }
    for (uint32_t n = 0; n <= MAX_N; n++)
        if (k->eng_host_at[n] > 0)
            fprintf(f, "engine_at %u %.9g %.9g\n", n, k->eng_host_at[n], k->eng_dev_at[n]);
    return fclose(f) == 0 ? 0 : SL_EIO;
}

/* Reads costs_save's lines; route[n] of a size not given is the nearest given size below it
 * (or the smallest). Returns 0, SL_EIO or SL_EPARSE (a line it does not know, named in msg). */
static int costs_load(struct costs *k, const char *path, char *msg, size_t msglen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(msg, msglen, "cannot read %s: %s", path, strerror(errno));
        return SL_EIO;
    }
    memset(k, 0, sizeof *k);
    char line[256], name[64];
    int rc = 0, ln = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        ln++;
        double v, v2;
        unsigned n;
        if (sscanf(line, "route %u %lf", &n, &v) == 2 && n >= 1 && n <= MAX_N) {
            k->route[n] = v;
            continue;
        }
        if (sscanf(line, "setup %u %lf %lf", &n, &v, &v2) == 3 && n >= 1 && n <= MAX_N) {
            k->setup_wall[n] = v;
            k->setup_cpu[n] = v2;
            continue;
        }
        if (sscanf(line, "engine_at %u %lf %lf", &n, &v, &v2) == 3 && n <= MAX_N) {
            k->eng_host_at[n] = v;
            k->eng_dev_at[n] = v2;
            continue;
        }
        if (sscanf(line, "%63s %lf", name, &v) != 2) {
            rc = SL_EPARSE;
            break;
        }
        int known = 0;
#define GET(field)                                                                                 \
    if (strcmp(name, #field) == 0) {                                                               \
        k->field = v;                                                                              \
        known = 1;                                                                                 \
    }
        COST_FIELDS(GET)
#undef GET
        if (!known)
            rc = SL_EPARSE;
    }
    fclose(f);
    if (rc)
        snprintf(msg, msglen, "%s:%d: not a cost line", path, ln);
    double last = 0;
    for (uint32_t n = 1; n <= MAX_N && last == 0; n++)
        last = k->route[n];
    for (uint32_t n = 1; n <= MAX_N; n++) {
        if (k->route[n] > 0)
            last = k->route[n];
        k->route[n] = last;
    }
    return rc;
}

/* Where a configuration runs. */
struct where {
    uint32_t n;            /* nodes */
    double cores;          /* per node (dedicated), or all nodes' together when shared */
    int shared;            /* 1: every node on one pool of `cores` (one machine) */
    double link_Bps;       /* bytes/s each way per node; 0: no wire limit (loopback) */
    double wire;           /* wire bytes per frame byte (TCP/IP and Ethernet framing) */
    int parse_threads;     /* reader threads per node; 1 as built (the node's one thread) */
    int io_threads;        /* ZeroMQ I/O threads per node; 1 as built (ZMQ_IO_THREADS default) */
    int one_process;       /* 1: sluice in one process (no route, no network) */
    double engine_threads; /* PoCL's kernel threads per node process */
    double client_s;       /* the client's CPU s for the job (the id merge), on one thread */
};

enum res { R_MAIN, R_READERS, R_IO, R_CPU, R_ENGINE, R_NIC_OUT, R_NIC_IN, R_CLIENT, R_NRES };
static const char *const res_name[R_NRES] = {"node thread (parse+route+recv)",
                                             "reader threads",
                                             "ZeroMQ I/O thread (TCP+CURVE)",
                                             "cores",
                                             "engine (kernel threads)",
                                             "link out",
                                             "link in",
                                             "client (id merge)"};
static const char *const res_short[R_NRES] = {"main",   "readers", "io", "cpu",
                                              "engine", "out",     "in", "client"};

struct pred {
    double t;            /* streaming seconds for the job */
    double rate;         /* job events / t */
    double util[R_NRES]; /* of the busiest node, over t */
    double cpu_s;        /* CPU s of every node and the client together (simulated) */
    double cpu_main, cpu_io, cpu_engine; /* of which node (and reader) threads, I/O, kernels */
    int bottleneck;                      /* enum res */
    uint32_t node;                       /* the busiest node */
};

/* The work of node d of w->n for a job of E events: per resource, seconds of busy time. */
static void node_work(const struct costs *k, const struct shares *s, const struct where *w,
                      uint32_t d, double E, double out[R_NRES])
{
    uint32_t n = w->n;
    double in = E / n, own = E * s->share[d];
    double sent = w->one_process || n == 1 ? 0 : in * (1.0 - s->share[d]);
    double rcvd = w->one_process || n == 1 ? 0 : own * (n - 1.0) / n;
    double bs = sent * k->wire_per_event, br = rcvd * k->wire_per_event;
    double route = w->one_process ? 0 : k->route[n <= MAX_N ? n : MAX_N];
    double ingest = in * (k->parse + route) + bs * k->snd_thr;
    double inbound = br * k->rcv_thr + own * k->eng_host;
    memset(out, 0, R_NRES * sizeof *out);
    if (w->parse_threads > 1) {
        out[R_READERS] = ingest;
        out[R_MAIN] = inbound;
    } else {
        out[R_MAIN] = ingest + inbound;
    }
    out[R_IO] = bs * k->snd_io + br * k->rcv_io;
    out[R_ENGINE] = own * k->eng_dev;
    out[R_CPU] = out[R_MAIN] + out[R_READERS] + out[R_IO] + out[R_ENGINE];
    out[R_NIC_OUT] = bs * w->wire;
    out[R_NIC_IN] = br * w->wire;
}

/* The analytic bound: each resource's busy time over its capacity, the largest of all nodes and
 * resources is the job's streaming time (every stage overlapped with every other). */
static void model(const struct costs *k, const struct shares *s, const struct where *w, double E,
                  struct pred *p)
{
    memset(p, 0, sizeof *p);
    double cap[R_NRES] = {
        1, w->parse_threads, w->io_threads, w->cores, w->engine_threads, w->link_Bps, w->link_Bps,
        1};
    double total_cpu = w->client_s;
    for (uint32_t d = 0; d < w->n; d++) {
        double wk[R_NRES], t[R_NRES];
        node_work(k, s, w, d, E, wk);
        total_cpu += wk[R_CPU];
        for (int r = 0; r < R_NRES; r++) {
            t[r] = cap[r] > 0 && wk[r] > 0 ? wk[r] / cap[r] : 0;
            if (r == R_CPU && w->shared)
                t[r] = 0; /* the shared pool is counted once, below */
            if (t[r] > p->t) {
                p->t = t[r];
                p->bottleneck = r;
                p->node = d;
            }
        }
    }
    if (w->shared && total_cpu / w->cores > p->t) {
        p->t = total_cpu / w->cores;
        p->bottleneck = R_CPU;
    }
    if (w->client_s > p->t) {
        p->t = w->client_s;
        p->bottleneck = R_CLIENT;
    }
    double wk[R_NRES];
    node_work(k, s, w, p->node, E, wk);
    wk[R_CLIENT] = w->client_s;
    for (int r = 0; r < R_NRES; r++)
        p->util[r] = cap[r] > 0 && p->t > 0 ? wk[r] / cap[r] / p->t : 0;
    if (w->shared)
        p->util[R_CPU] = total_cpu / w->cores / p->t;
    p->rate = E / p->t;
}

/* The simulation: every node's threads, queues and links advanced in steps of dt as fluids.
 *
 * Per node d: in[d] events of its part still to read; q[d][e] bytes sealed for node e and not yet
 * on the wire; x[d][e] bytes node d's I/O thread has to decrypt from e; y[d][e] bytes ready for
 * node d's thread from e; eq[d] events staged for its engine; un[d] bytes it holds for its peers
 * (sealed, in flight or not yet taken by the receiver: what node.c bounds by OUT_LIMIT).
 *
 * Each step every thread with work asks for a core: the node thread (or, with parse_threads > 1,
 * the readers and the node thread), the I/O thread, and the engine's kernel threads; when they ask
 * for more than there are cores (per node, or all nodes together when shared) each gets an equal
 * share. The node thread serves what it received first (inbox, copy, engine push), then reads its
 * source while un[d] <= OUT_LIMIT and the engine has room (two device batches staged); the I/O
 * thread splits its time between sending and receiving by their backlog; links cap each node's
 * bytes out and in per step. */
/* Shares `pool` cores among n classes of threads max-min fairly: class i has nthr[i] threads that
 * could use want[i] cores together; a thread never gets more than it can use, and what one does
 * not use goes to the others. grant[i] gets the class's cores. */
static void fair_share(const double *want, const double *nthr, double *grant, size_t n, double pool)
{
    double threads = 0;
    for (size_t i = 0; i < n; i++) {
        grant[i] = 0;
        if (want[i] > 0 && nthr[i] > 0)
            threads += nthr[i];
    }
    /* Raise a common level per thread; classes whose per-thread want is under it are served
     * whole and leave the pool. At most n rounds. */
    for (size_t round = 0; round < n && threads > 0 && pool > 1e-15; round++) {
        double level = pool / threads;
        int served = 0;
        for (size_t i = 0; i < n; i++)
            if (want[i] > 0 && nthr[i] > 0 && grant[i] == 0 && want[i] / nthr[i] <= level) {
                grant[i] = want[i];
                pool -= want[i];
                threads -= nthr[i];
                served = 1;
            }
        if (!served) {
            for (size_t i = 0; i < n; i++)
                if (want[i] > 0 && nthr[i] > 0 && grant[i] == 0)
                    grant[i] = level * nthr[i];
            break;
        }
    }
}

struct simnode {
    double in, eq, un;
    double q[MAX_N], x[MAX_N], y[MAX_N];
    double used[R_NRES];
};

static void simulate(const struct costs *k, const struct shares *s, const struct where *w, double E,
                     double t_hint, struct pred *p)
{
    uint32_t n = w->n;
    struct simnode *nd = calloc(n, sizeof *nd);
    memset(p, 0, sizeof *p);
    if (!nd)
        return;
    int one = w->one_process || n == 1;
    double route = w->one_process ? 0 : k->route[n <= MAX_N ? n : MAX_N];
    double dt = t_hint / 20000.0, t = 0, wpe = k->wire_per_event;
    double eq_max = 2 * ENGINE_BATCH;
    double cb = 0, client_used = 0; /* the client's backlog and work done, CPU s */
    for (uint32_t d = 0; d < n; d++)
        nd[d].in = E / n;
    double(*moved)[MAX_N] = calloc(n, sizeof *moved);
    for (long step = 0; moved && step < 4000000; step++) {
        /* demands: the cores each thread class could use this step (its backlog's CPU, at most
         * its thread count) */
        double want[MAX_N][R_NRES], nthr[MAX_N][R_NRES], g[MAX_N][R_NRES];
        int active = 0;
        for (uint32_t d = 0; d < n; d++) {
            struct simnode *a = &nd[d];
            double qs = 0, xs = 0, ys = 0;
            for (uint32_t e = 0; e < n; e++) {
                qs += a->q[e];
                xs += a->x[e];
                ys += a->y[e];
            }
            int can_read = a->in > 0 && a->un <= OUT_LIMIT && a->eq < eq_max;
            double inbound = a->eq < eq_max ? ys * (k->rcv_thr + k->eng_host / wpe) / dt : 0;
            double own = s->share[d], rem = one ? 0 : 1.0 - own;
            double reading =
                can_read
                    ? a->in * (k->parse + route + rem * wpe * k->snd_thr + own * k->eng_host) / dt
                    : 0;
            memset(want[d], 0, sizeof want[d]);
            nthr[d][R_MAIN] = 1;
            nthr[d][R_IO] = w->io_threads;
            nthr[d][R_READERS] = w->parse_threads;
            nthr[d][R_ENGINE] = w->engine_threads;
            nthr[d][R_CPU] = nthr[d][R_NIC_OUT] = nthr[d][R_NIC_IN] = nthr[d][R_CLIENT] = 0;
            if (w->parse_threads > 1) {
                want[d][R_READERS] = reading;
                want[d][R_MAIN] = inbound;
            } else {
                want[d][R_MAIN] = inbound + reading;
            }
            want[d][R_IO] = (qs * k->snd_io + xs * k->rcv_io) / dt;
            want[d][R_ENGINE] = a->eq * k->eng_dev / dt;
            for (int r = 0; r < R_NRES; r++) {
                if (want[d][r] > nthr[d][r])
                    want[d][r] = nthr[d][r];
                active |= want[d][r] > 0;
            }
            active |= a->in > 0;
        }
        /* the client: one thread, on the shared pool (with node 0's entries) or a machine of its
         * own */
        double client_want = cb / dt > 1 ? 1 : cb / dt;
        if (w->shared) {
            want[0][R_CLIENT] = client_want;
            nthr[0][R_CLIENT] = 1;
        }
        active |= cb > 1e-12;
        if (!active)
            break;
        t += dt;
        /* grants: the pool (a node's cores, or the machine's) shared max-min fairly per thread */
        if (w->shared) {
            fair_share(&want[0][0], &nthr[0][0], &g[0][0], (size_t)n * R_NRES, w->cores);
        } else {
            for (uint32_t d = 0; d < n; d++)
                fair_share(want[d], nthr[d], g[d], R_NRES, w->cores);
        }
        double client_g = w->shared ? g[0][R_CLIENT] : client_want;
        cb -= client_g * dt;
        client_used += client_g * dt;
        if (cb < 1e-12)
            cb = 0;
        /* I/O threads send: budgets, then link limits out and in */
        double in_cap[MAX_N];
        for (uint32_t e = 0; e < n; e++)
            in_cap[e] = w->link_Bps > 0 ? w->link_Bps * dt / w->wire : 1e300;
        double io_left[MAX_N];
        for (uint32_t d = 0; d < n; d++) {
            struct simnode *a = &nd[d];
            double budget = g[d][R_IO] * dt, qs = 0, xs = 0;
            for (uint32_t e = 0; e < n; e++) {
                qs += a->q[e];
                xs += a->x[e];
            }
            double ds = qs * k->snd_io, dr = xs * k->rcv_io;
            double bsend = ds + dr > 0 ? budget * ds / (ds + dr) : 0;
            io_left[d] = budget - bsend;
            double bytes = k->snd_io > 0 ? bsend / k->snd_io : qs;
            if (w->link_Bps > 0 && bytes > w->link_Bps * dt / w->wire)
                bytes = w->link_Bps * dt / w->wire;
            if (bytes > qs)
                bytes = qs;
            for (uint32_t e = 0; e < n; e++)
                moved[d][e] = qs > 0 ? bytes * a->q[e] / qs : 0;
        }
        for (uint32_t e = 0; e < n; e++) {
            double into = 0;
            for (uint32_t d = 0; d < n; d++)
                into += moved[d][e];
            double f = into > in_cap[e] ? in_cap[e] / into : 1.0;
            for (uint32_t d = 0; d < n; d++) {
                double b = moved[d][e] * f;
                nd[d].q[e] -= b;
                nd[e].x[d] += b;
                nd[d].used[R_NIC_OUT] += b * w->wire;
                nd[e].used[R_NIC_IN] += b * w->wire;
                nd[d].used[R_IO] += b * k->snd_io;
            }
        }
        for (uint32_t d = 0; d < n; d++) {
            struct simnode *a = &nd[d];
            /* I/O thread receives */
            double xs = 0;
            for (uint32_t e = 0; e < n; e++)
                xs += a->x[e];
            double bytes = k->rcv_io > 0 ? io_left[d] / k->rcv_io : xs;
            if (bytes > xs)
                bytes = xs;
            for (uint32_t e = 0; e < n && xs > 0; e++) {
                double b = bytes * a->x[e] / xs;
                a->x[e] -= b;
                a->y[e] += b;
            }
            a->used[R_IO] += bytes * k->rcv_io;
            /* node thread: what it received, then its source */
            double bm = g[d][R_MAIN] * dt, ys = 0;
            for (uint32_t e = 0; e < n; e++)
                ys += a->y[e];
            double per_b = k->rcv_thr + k->eng_host / wpe;
            double take = per_b > 0 ? bm / per_b : ys;
            if (take > ys)
                take = ys;
            if (take > (eq_max - a->eq) * wpe)
                take = (eq_max - a->eq) * wpe > 0 ? (eq_max - a->eq) * wpe : 0;
            for (uint32_t e = 0; e < n && ys > 0; e++) {
                double b = take * a->y[e] / ys;
                a->y[e] -= b;
                nd[e].un -= b; /* acknowledged: the sender lets it go */
            }
            a->eq += take / wpe;
            a->used[R_MAIN] += take * per_b;
            bm -= take * per_b;
            double br = w->parse_threads > 1 ? g[d][R_READERS] * dt : bm;
            int use_main = w->parse_threads <= 1;
            if (a->in > 0 && a->un <= OUT_LIMIT && a->eq < eq_max && br > 0) {
                double own = s->share[d], rem = one ? 0 : 1.0 - own;
                double per_ev = k->parse + route + rem * wpe * k->snd_thr + own * k->eng_host;
                double ev = br / per_ev;
                if (ev > a->in)
                    ev = a->in;
                if (own > 0 && ev * own > eq_max - a->eq)
                    ev = (eq_max - a->eq) / own;
                a->in -= ev;
                cb += ev * w->client_s / E;
                a->eq += ev * (one ? 1.0 : own);
                if (!one)
                    for (uint32_t e = 0; e < n; e++)
                        if (e != d) {
                            a->q[e] += ev * s->share[e] * wpe;
                            a->un += ev * s->share[e] * wpe;
                        }
                a->used[use_main ? R_MAIN : R_READERS] += ev * per_ev;
            }
            /* engine */
            double be = g[d][R_ENGINE] * dt;
            double ev = k->eng_dev > 0 ? be / k->eng_dev : a->eq;
            if (ev > a->eq)
                ev = a->eq;
            a->eq -= ev;
            a->used[R_ENGINE] += ev * k->eng_dev;
            if (a->in < 1e-6)
                a->in = 0;
            if (a->eq < 1e-6)
                a->eq = 0;
            for (uint32_t e = 0; e < n; e++) {
                if (a->q[e] < 1e-6)
                    a->q[e] = 0;
                if (a->x[e] < 1e-6)
                    a->x[e] = 0;
                if (a->y[e] < 1e-6)
                    a->y[e] = 0;
            }
        }
    }
    p->t = t;
    p->rate = t > 0 ? E / t : 0;
    double cap[R_NRES] = {
        1, w->parse_threads, w->io_threads, w->cores, w->engine_threads, w->link_Bps, w->link_Bps,
        0};
    double best = -1, all_cpu = w->shared ? client_used : 0;
    for (uint32_t d = 0; d < n; d++) {
        nd[d].used[R_CPU] =
            nd[d].used[R_MAIN] + nd[d].used[R_READERS] + nd[d].used[R_IO] + nd[d].used[R_ENGINE];
        all_cpu += nd[d].used[R_CPU];
    }
    for (uint32_t d = 0; d < n; d++)
        for (int r = 0; r < R_NRES; r++) {
            double u = cap[r] > 0 && t > 0 ? nd[d].used[r] / cap[r] / t : 0;
            if (r == R_CPU && w->shared)
                u = all_cpu / w->cores / t;
            if (u > best) {
                best = u;
                p->bottleneck = r;
                p->node = d;
            }
        }
    if (t > 0 && client_used / t > best)
        p->bottleneck = R_CLIENT;
    p->cpu_s = w->shared ? all_cpu : all_cpu + client_used;
    for (uint32_t d = 0; d < n; d++) {
        p->cpu_main += nd[d].used[R_MAIN] + nd[d].used[R_READERS];
        p->cpu_io += nd[d].used[R_IO];
        p->cpu_engine += nd[d].used[R_ENGINE];
    }
    for (int r = 0; r < R_NRES; r++) {
        p->util[r] = cap[r] > 0 && t > 0 ? nd[p->node].used[r] / cap[r] / t : 0;
        if (r == R_CPU && w->shared)
            p->util[r] = all_cpu / w->cores / t;
    }
    p->util[R_CLIENT] = t > 0 ? client_used / t : 0;
    free(moved);
    free(nd);
}

/* I/O threads a node of n can keep busy: ZeroMQ serves each connection on one I/O thread, and a
 * node has n - 1 connections out (its outboxes) and n - 1 in (its peers'). */
static int io_usable(int threads, uint32_t n)
{
    int conns = n > 1 ? 2 * (int)(n - 1) : 1;
    return threads < conns ? threads : conns;
}

/* ---- main ----------------------------------------------------------------------------------- */

static const char usage[] =
    "usage: sluice-scale [--events N] [--keys K] [--skew S] [--reps R] [--ndjson FILE]\n"
    "                    [--csv FILE] [--engine-events N] [--net-mib M] [--device NAME]\n"
    "                    [--cores C] [--gbit LIST] [--nodes LIST] [--job-events N]\n"
    "                    [--shared-cores C] [--local-nodes LIST] [--parse-threads P]\n"
    "                    [--wire-factor F] [--partitions P] [--capacity N] [--only LIST]\n"
    "                    [--costs-out FILE] [--costs-in FILE] [--parse-ns NS] [--io-threads T]\n"
    "--only parse,route,engine,setup,merge,net measures those alone (no model); --costs-out\n"
    "writes the measured costs, --costs-in models from such a file without measuring;\n"
    "--parse-ns models with that parse cost per event instead of the measured one.\n";

static void print_pred(const char *label, const struct pred *a, const struct pred *sim,
                       double fixed)
{
    printf("  %-24s %7.2f %-7s %7.2f %7.3f  %5.0f%% %5.0f%% %5.0f%% %5.0f%% %5.0f%% %5.0f%% "
           "%5.0f%% %5.0f%%  %s",
           label, a->rate / 1e6, res_short[a->bottleneck], sim->rate / 1e6, sim->t + fixed,
           sim->util[R_MAIN] * 100, sim->util[R_READERS] * 100, sim->util[R_IO] * 100,
           sim->util[R_CPU] * 100, sim->util[R_ENGINE] * 100, sim->util[R_NIC_OUT] * 100,
           sim->util[R_NIC_IN] * 100, sim->util[R_CLIENT] * 100, res_name[sim->bottleneck]);
    if (sim->bottleneck != R_CLIENT)
        printf(" (node %u)", sim->node);
    printf("\n");
}

static void print_head(void)
{
    printf("  %-24s %7s %-7s %7s %7s  %6s %6s %6s %6s %6s %6s %6s %6s  %s\n", "", "bound", "by",
           "sim", "s", res_short[R_MAIN], res_short[R_READERS], res_short[R_IO], res_short[R_CPU],
           res_short[R_ENGINE], res_short[R_NIC_OUT], res_short[R_NIC_IN], res_short[R_CLIENT],
           "bottleneck (simulated, busiest node)");
    printf("  %-24s %7s %-7s %7s\n", "", "Mev/s", "", "Mev/s");
}

int main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "--net-receiver") == 0)
        return net_receiver_main(argv);
    struct opts o;
    memset(&o, 0, sizeof o);
    sl_gen_defaults(&o.g);
    o.g.events = 4000000;
    o.reps = 5;
    o.engine_events = 16u << 20;
    o.job_events = 10000000;
    o.net_mib = 256;
    o.partitions = SL_PART_DEFAULT;
    o.capacity = 1048576; /* sluice ctr's default table */
    o.gbit = "10,25";
    o.nodes = "1,2,3,4,8,16";
    o.local_nodes = "1,2,3";
    o.parse_threads = 1;
    o.io_threads = 1;
    o.wire = 1538.0 / 1448.0; /* Ethernet frame + preamble + gap per TCP payload at MTU 1500 */
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    o.cores = online > 0 ? (int)online : 1;
    o.shared_cores = o.cores;
    const bc_opt opts[] = {
        {"reps", 'r', BC_INT, &o.reps, 1, MAX_REPS},
        {"ndjson", 0, BC_STR, &o.ndjson, 0, 0},
        {"csv", 0, BC_STR, &o.csv, 0, 0},
        {"engine-events", 0, BC_U64, &o.engine_events, 1u << 20, 1e9},
        {"net-mib", 0, BC_U32, &o.net_mib, 1, 65536},
        {"device", 'd', BC_STR, &o.device, 0, 0},
        {"cores", 'c', BC_INT, &o.cores, 1, 1024},
        {"gbit", 0, BC_STR, &o.gbit, 0, 0},
        {"nodes", 'n', BC_STR, &o.nodes, 0, 0},
        {"local-nodes", 0, BC_STR, &o.local_nodes, 0, 0},
        {"job-events", 0, BC_U64, &o.job_events, 1, 1e12},
        {"shared-cores", 0, BC_INT, &o.shared_cores, 1, 1024},
        {"parse-threads", 0, BC_INT, &o.parse_threads, 1, 1024},
        {"parse-ns", 0, BC_DBL, &o.parse_ns, 1, 1e6},
        {"io-threads", 0, BC_INT, &o.io_threads, 1, 64},
        {"wire-factor", 0, BC_DBL, &o.wire, 1, 2},
        {"partitions", 0, BC_U32, &o.partitions, 1, SL_PART_MAX_PARTS},
        {"capacity", 0, BC_U64, &o.capacity, 1024, 1e9},
        {"only", 0, BC_STR, &o.only, 0, 0},
        {"costs-in", 0, BC_STR, &o.costs_in, 0, 0},
        {"costs-out", 0, BC_STR, &o.costs_out, 0, 0},
    };
    int prc =
        bc_parse_args(argc, argv, &o.g, opts, sizeof opts / sizeof *opts, "sluice-scale", usage);
    if (prc >= 0)
        return prc;
    double gbit[8], nodes_d[16], local_d[16];
    int ngbit = parse_list(o.gbit, gbit, 8, 1e4), nn = parse_list(o.nodes, nodes_d, 16, MAX_N),
        nl = parse_list(o.local_nodes, local_d, 16, MAX_N);
    if (ngbit < 1 || nn < 1 || nl < 0) {
        fprintf(stderr,
                "sluice-scale: --gbit, --nodes and --local-nodes take lists like 1,2,3 "
                "(nodes at most 64)\n%s",
                usage);
        return 2;
    }
    int parts = o.costs_in ? 0 : o.only ? parse_parts(o.only) : P_ALL;
    if (parts < 0 || (parts == 0 && !o.costs_in)) {
        fprintf(stderr, "sluice-scale: --only takes parse,route,engine,setup,merge,net\n");
        return 2;
    }
    char msg[4096] = "", nd_path[4096] = "", csv_path[4096] = "";
    int rc = 0;
    double load[3] = {0};
    getloadavg(load, 3);
    printf("sluice-scale: %d online CPUs, load average %.2f %.2f %.2f at the start; %d runs each "
           "after a warm-up; figures are median (min..max)\n",
           (int)online, load[0], load[1], load[2], o.reps);

    /* inputs */
    if (!o.ndjson && (parts & P_PARSE)) {
        if ((rc = gen_file(&o, "ndjson", nd_path, sizeof nd_path))) {
            fprintf(stderr, "sluice-scale: gen_events failed\n");
            return 1;
        }
        o.ndjson = nd_path;
    }
    if (!o.csv && (parts & P_PARSE)) {
        if ((rc = gen_file(&o, "csv", csv_path, sizeof csv_path))) {
            fprintf(stderr, "sluice-scale: gen_events failed\n");
            return 1;
        }
        o.csv = csv_path;
    }
    struct costs k;
    memset(&k, 0, sizeof k);
    if (o.costs_in && (rc = costs_load(&k, o.costs_in, msg, sizeof msg)))
        goto fail;

    /* parse */
    struct parse_res pn, pc;
    if (parts & P_PARSE) {
        printf(
            "\nparse: sl_source over a whole file, one thread (CPU s per event of that thread is "
            "the model's input)\n");
        struct parse_res ps;
        if ((rc = measure_parse(o.ndjson, SL_FMT_NDJSON, 0, o.reps, &pn, msg, sizeof msg)) ||
            (rc = measure_parse(o.ndjson, SL_FMT_NDJSON, 3, o.reps, &ps, msg, sizeof msg)) ||
            (rc = measure_parse(o.csv, SL_FMT_CSV, 0, o.reps, &pc, msg, sizeof msg)))
            goto fail;
        printf("  NDJSON (YSB shape): %" PRIu64 " events, %.1f bytes/event\n", pn.events,
               (double)pn.bytes / (double)pn.events);
        series_print("NDJSON parse, M events/s (wall)", &pn.rate, 1e-6, "");
        series_print("NDJSON parse, ns CPU per event", &pn.cpu_ev, 1e9, "");
        printf("  NDJSON, part 1 of 3 as a node opens it (sl_source_part): %" PRIu64 " events\n",
               ps.events);
        series_print("NDJSON part parse, ns CPU per event", &ps.cpu_ev, 1e9, "");
        printf("  CSV: %" PRIu64 " events, %.1f bytes/event\n", pc.events,
               (double)pc.bytes / (double)pc.events);
        series_print("CSV parse, M events/s (wall)", &pc.rate, 1e-6, "");
        series_print("CSV parse, ns CPU per event", &pc.cpu_ev, 1e9, "");
        k.parse = pn.cpu_ev.med;
        k.csv_parse = pc.cpu_ev.med;
    }

    /* records for route, engine and network */
    sl_gen_cfg ge = o.g;
    ge.events = o.engine_events;
    sl_rec *recs = NULL;
    if ((parts & (P_ROUTE | P_ENGINE | P_SETUP | P_NET)) && (rc = bc_gen_records(&ge, &recs))) {
        snprintf(msg, sizeof msg, "generating records: %s", sl_strerror(rc));
        goto fail;
    }

    /* route */
    if (parts & P_ROUTE) {
        printf("\nroute: node.c's route() as node 0 (partition map of %u partitions, sl_outbox_put "
               "per remote record, %zu-byte frames sealed)\n",
               o.partitions, (size_t)65536);
        size_t nroute = o.g.events < ge.events ? o.g.events : ge.events;
        double route_n[16];
        for (int i = 0; i < nn; i++) {
            struct series s;
            memset(&s, 0, sizeof s);
            double remote;
            uint32_t n = (uint32_t)nodes_d[i];
            if ((rc = measure_route(n, o.partitions, recs, nroute, o.reps, &s, &remote, msg,
                                    sizeof msg)))
                goto fail;
            char label[64];
            snprintf(label, sizeof label, "N=%u (%.0f%% remote), ns CPU per event", n,
                     remote * 100);
            series_print(label, &s, 1e9, "");
            route_n[i] = s.med;
        }
        /* route[n] for every n: the measured sizes, and between them the nearest one below. */
        for (uint32_t n = 1; n <= MAX_N; n++) {
            k.route[n] = route_n[0];
            for (int i = 0; i < nn; i++)
                if ((uint32_t)nodes_d[i] <= n)
                    k.route[n] = route_n[i];
        }
    }

    /* engine */
    sl_device *dev = NULL;
    struct engine_res su1;
    memset(&su1, 0, sizeof su1);
    if (parts & (P_ENGINE | P_SETUP)) {
        if ((rc = sl_device_open(o.device, &dev, msg, sizeof msg)))
            goto fail;
        const sl_device_info *di = sl_device_get_info(dev);
        k.engine_threads = di->compute_units > 0 ? di->compute_units : 1;
        struct engine_res er;
        if (parts & P_ENGINE) {
            uint64_t ecap = o.g.keys + o.g.keys / 4 + 1024;
            printf("\nengine: sl_engine (ctr) on %s / %s, %" PRIu64 " records, %u ads Zipf %.2f, "
                   "capacity %" PRIu64 ", pushed %d at a time, finish included\n",
                   di->platform, di->name, ge.events, o.g.keys, o.g.skew, ecap, LOCAL_CHUNK);
            if ((rc = measure_engine(dev, ecap, recs, ge.events, o.reps, &er, msg, sizeof msg)))
                goto fail;
            series_print("M events/s (wall)", &er.rate, 1e-6, "");
            series_print("ns CPU per event, pushing thread", &er.host_ev, 1e9, "");
            series_print("ns CPU per event, kernel threads", &er.dev_ev, 1e9, "");
            k.eng_host = er.host_ev.med;
            k.eng_dev = er.dev_ev.med;
        }

        /* setup: sl_engine_new at the table sizes the runs use */
        size_t nsub = ge.events < ((size_t)4 << 20) ? ge.events : ((size_t)4 << 20);
        sl_rec *sub = (parts & P_SETUP) ? malloc(nsub * sizeof *sub) : NULL;
        if ((parts & P_SETUP) && !sub) {
            rc = SL_ENOMEM;
            snprintf(msg, sizeof msg, "out of memory");
            goto fail;
        }
        if (parts & P_SETUP) {
            printf(
                "\nsetup: sl_engine_new (PoCL cache warm) at the tables of the local runs, wall s "
                "and process CPU s; the engine at those tables, fed what that node owns "
                "(at most %zu records), ns CPU per event\n",
                nsub);
            if ((rc = measure_engine(dev, o.capacity, recs, nsub, o.reps, &su1, msg, sizeof msg)))
                goto fail;
            char label[96];
            snprintf(label, sizeof label, "capacity %" PRIu64 " (one process), wall s", o.capacity);
            series_print(label, &su1.setup_s, 1, "");
            snprintf(label, sizeof label, "capacity %" PRIu64 ", CPU s", o.capacity);
            series_print(label, &su1.setup_cpu, 1, "");
            k.setup_one = su1.setup_s.med;
            k.setup_one_cpu = su1.setup_cpu.med;
            k.eng_host_at[0] = su1.host_ev.med;
            k.eng_dev_at[0] = su1.dev_ev.med;
            printf("  %-44s %10.3f + %.3f\n", "its engine: pushing thread + kernel threads",
                   k.eng_host_at[0] * 1e9, k.eng_dev_at[0] * 1e9);
            for (int i = 0; i < nl; i++) {
                uint32_t n = (uint32_t)local_d[i];
                /* node.c's node_capacity for node 0 */
                sl_partmap *map = NULL;
                if ((rc = sl_partmap_new(o.partitions, n, &map, msg, sizeof msg)))
                    goto fail;
                double pr = (double)sl_partmap_owned(map, 0) / o.partitions, mean = o.capacity * pr;
                size_t nown = 0;
                for (size_t i2 = 0; i2 < nsub; i2++)
                    if (sl_partmap_node_of_key(map, recs[i2].key) == 0)
                        sub[nown++] = recs[i2];
                sl_partmap_destroy(&map);
                double v = mean + 6.0 * sqrt(mean * (1.0 - pr)) + 1024.0;
                uint64_t cap = v >= (double)o.capacity ? o.capacity : (uint64_t)v;
                struct engine_res su;
                if ((rc = measure_engine(dev, cap, sub, nown, o.reps, &su, msg, sizeof msg)))
                    goto fail;
                snprintf(label, sizeof label, "capacity %" PRIu64 " (node of %u), wall s", cap, n);
                series_print(label, &su.setup_s, 1, "");
                k.setup_wall[n] = su.setup_s.med;
                k.setup_cpu[n] = su.setup_cpu.med;
                k.eng_host_at[n] = su.host_ev.med;
                k.eng_dev_at[n] = su.dev_ev.med;
                printf("  %-44s %10.3f + %.3f\n", "its engine: pushing thread + kernel threads",
                       k.eng_host_at[n] * 1e9, k.eng_dev_at[n] * 1e9);
            }
        }
        free(sub);
        sl_device_close(&dev);
    }

    /* merge */
    struct series ms;
    memset(&ms, 0, sizeof ms);
    if ((parts & P_MERGE) && (rc = measure_merge(&o.g, o.reps, &ms, msg, sizeof msg)))
        goto fail;
    if (parts & P_MERGE) {
        printf("\nmerge: the client's dictionary merge of one node's ids\n");
        series_print("ns CPU per id", &ms, 1e9, "");
        k.merge = ms.med;
    }

    /* network */
    k.wire_per_event = REC_BYTES + SL_FRAME_HDR / (65536.0 / REC_BYTES);
    if (parts & P_NET) {
        char keydir[64];
        snprintf(keydir, sizeof keydir, "/tmp/sluice-scale-keys-XXXXXX");
        if (!mkdtemp(keydir)) {
            snprintf(msg, sizeof msg, "mkdtemp: %s", strerror(errno));
            rc = SL_EIO;
            goto fail;
        }
        char kd[80];
        snprintf(kd, sizeof kd, "%s/k", keydir);
        if ((rc = sl_keys_generate(kd, 0, msg, sizeof msg)))
            goto fail;
        uint64_t bytes = (uint64_t)o.net_mib << 20;
        struct net_case cases[] = {
            {"sluice frames, CURVE, 64 KiB", 1, 1, 65536, bytes, ""},
            {"sluice frames, CURVE, 4 KiB", 1, 1, 4096, bytes / 4, ""},
            {"sluice frames, no CURVE, 64 KiB", 1, 0, 65536, bytes, ""},
            {"raw libzmq PUSH/PULL, 64 KiB + 48", 0, 0, 65536, bytes, ""},
        };
        struct net_res nr[4];
        printf("\nnet: two processes on loopback, %u MiB per run (4 KiB frames: a quarter); CPU "
               "per frame byte, ns/KiB\n",
               o.net_mib);
        printf("  %-36s %18s %18s %18s %18s %18s\n", "", "MB/s", "send thread", "send I/O+rest",
               "recv thread", "recv I/O+rest");
        for (int i = 0; i < 4; i++) {
            snprintf(cases[i].keydir, sizeof cases[i].keydir, "%s", kd);
            if ((rc = measure_net(&cases[i], recs, o.reps, &nr[i], msg, sizeof msg)))
                goto fail;
            const struct series *col[5] = {&nr[i].bw, &nr[i].snd_thr, &nr[i].snd_rest,
                                           &nr[i].rcv_thr, &nr[i].rcv_rest};
            double sc[5] = {1e-6, 1e9 * 1024, 1e9 * 1024, 1e9 * 1024, 1e9 * 1024};
            printf("  %-36s", cases[i].name);
            for (int j = 0; j < 5; j++) {
                char cell[64];
                snprintf(cell, sizeof cell, "%.0f (%.0f..%.0f)", col[j]->med * sc[j],
                         col[j]->lo * sc[j], col[j]->hi * sc[j]);
                printf(" %18s", cell);
            }
            printf("\n");
        }
        /* Per-frame and per-byte parts from the two CURVE frame sizes: cost per frame byte
         * c(F) = a / F + b, so a = (c4 - c64) / (1/F4 - 1/F64). */
        double F64 = nr[0].frame_bytes, F4 = nr[1].frame_bytes;
        const struct series *c64[4] = {&nr[0].snd_thr, &nr[0].snd_rest, &nr[0].rcv_thr,
                                       &nr[0].rcv_rest};
        const struct series *c4[4] = {&nr[1].snd_thr, &nr[1].snd_rest, &nr[1].rcv_thr,
                                      &nr[1].rcv_rest};
        const char *nm[4] = {"send thread", "send I/O+rest", "recv thread", "recv I/O+rest"};
        printf("  CURVE split, c(F) = a/F + b:");
        for (int j = 0; j < 4; j++) {
            double a = (c4[j]->med - c64[j]->med) / (1.0 / F4 - 1.0 / F64);
            double b = c64[j]->med - a / F64;
            printf("%s %s a %.2f us/frame b %.2f ns/KiB", j ? ";" : "", nm[j], a * 1e6,
                   b * 1e9 * 1024);
        }
        printf("\n");
        k.snd_thr = nr[0].snd_thr.med;
        k.snd_io = nr[0].snd_rest.med;
        k.rcv_thr = nr[0].rcv_thr.med;
        k.rcv_io = nr[0].rcv_rest.med;
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", keydir);
        if (system(cmd) != 0)
            fprintf(stderr, "sluice-scale: could not remove %s\n", keydir);
    }
    free(recs);
    recs = NULL;

    /* ---- predictions ---- */
    if (parts == P_ALL && o.costs_out && costs_save(&k, o.costs_out)) {
        snprintf(msg, sizeof msg, "cannot write %s", o.costs_out);
        rc = SL_EIO;
        goto fail;
    }
    if (parts != P_ALL && !o.costs_in)
        goto done;
    if (o.parse_ns > 0)
        k.parse = o.parse_ns * 1e-9; /* a what-if: the model with another parse cost */
    double E = (double)o.job_events;
    printf("\nmodel inputs (CPU s of one core here): parse %.1f ns/event; route %.1f (N=2) .. "
           "%.1f (N=%u) ns/event; engine host %.1f + kernel %.1f ns/event; send %.2f + %.2f, "
           "receive %.2f + %.2f ns/byte (node thread + I/O thread); %.1f wire bytes per remote "
           "event x %.3f framing; merge %.0f ns/id\n",
           k.parse * 1e9, k.route[2] * 1e9, k.route[(uint32_t)nodes_d[nn - 1]] * 1e9,
           (uint32_t)nodes_d[nn - 1], k.eng_host * 1e9, k.eng_dev * 1e9, k.snd_thr * 1e9,
           k.snd_io * 1e9, k.rcv_thr * 1e9, k.rcv_io * 1e9, k.wire_per_event, o.wire,
           k.merge * 1e9);
    printf("job: %.0f events, %u ads Zipf %.2f, %u partitions; one ingest thread per node%s; "
           "utilisation of the busiest node over the streaming time; 's' = simulated "
           "streaming seconds (the nodes' job setup not included)\n",
           E, o.g.keys, o.g.skew, o.partitions,
           o.parse_threads > 1 ? " replaced by --parse-threads readers" : " (as built)");
    printf("ZeroMQ I/O threads per node: %d%s\n", o.io_threads,
           o.io_threads > 1 ? " (a what-if; a node uses at most one per connection, 2 (N - 1))"
                            : " (as built)");
    for (int gi = 0; gi < ngbit; gi++) {
        printf("\n%d cores per node, %.0f Gbit/s links each way:\n", o.cores, gbit[gi]);
        print_head();
        for (int i = 0; i < nn; i++) {
            uint32_t n = (uint32_t)nodes_d[i];
            struct shares sh;
            if ((rc = key_shares(&o.g, n, o.partitions, o.job_events, &sh, msg, sizeof msg)))
                goto fail;
            struct where w = {.n = n,
                              .cores = o.cores,
                              .link_Bps = gbit[gi] * 1e9 / 8,
                              .wire = o.wire,
                              .parse_threads = o.parse_threads,
                              .io_threads = io_usable(o.io_threads, n),
                              .engine_threads = o.cores,
                              .client_s = n * sh.distinct * k.merge};
            struct pred a, sim;
            model(&k, &sh, &w, E, &a);
            simulate(&k, &sh, &w, E, a.t, &sim);
            char lab[64];
            snprintf(lab, sizeof lab, "%u node%s (max share %.1f%%)", n, n > 1 ? "s" : "",
                     sh.max_share * 100);
            print_pred(lab, &a, &sim, 0);
        }
    }
    if (nl > 0) {
        printf("\nthis machine: every node on %d shared cores, loopback (no wire limit), kernel "
               "threads per node %.0f; the engine's costs at each run's table (setup above); 's' "
               "= simulated streaming + sl_engine_new (measured above; the nodes' on the shared "
               "cores): the job's wall time but for process start, device open and the final "
               "sort and write\n",
               o.shared_cores, k.engine_threads);
        print_head();
        struct shares s1;
        if ((rc = key_shares(&o.g, 1, o.partitions, o.job_events, &s1, msg, sizeof msg)))
            goto fail;
        struct where w1 = {.n = 1,
                           .cores = o.shared_cores,
                           .shared = 1,
                           .wire = 1,
                           .parse_threads = 1,
                           .io_threads = 1,
                           .one_process = 1,
                           .engine_threads = k.engine_threads};
        struct pred a, sim;
        struct costs kl = k; /* the engine at the table of that run, where measured */
        if (k.eng_host_at[0] > 0) {
            kl.eng_host = k.eng_host_at[0];
            kl.eng_dev = k.eng_dev_at[0];
        }
        model(&kl, &s1, &w1, E, &a);
        simulate(&kl, &s1, &w1, E, a.t, &sim);
        print_pred("1 process", &a, &sim, k.setup_one);
        printf("  %-24s CPU s: %.2f streaming (its thread %.2f, kernels %.2f) + %.2f setup = "
               "%.2f\n",
               "", sim.cpu_s, sim.cpu_main, sim.cpu_engine, k.setup_one_cpu,
               sim.cpu_s + k.setup_one_cpu);
        for (int i = 0; i < nl; i++) {
            uint32_t n = (uint32_t)local_d[i];
            struct shares sh;
            if ((rc = key_shares(&o.g, n, o.partitions, o.job_events, &sh, msg, sizeof msg)))
                goto fail;
            struct where w = {.n = n,
                              .cores = o.shared_cores,
                              .shared = 1,
                              .wire = 1,
                              .parse_threads = o.parse_threads,
                              .io_threads = io_usable(o.io_threads, n),
                              .engine_threads = k.engine_threads,
                              .client_s = n * sh.distinct * k.merge};
            kl = k;
            if (k.eng_host_at[n] > 0) {
                kl.eng_host = k.eng_host_at[n];
                kl.eng_dev = k.eng_dev_at[n];
            }
            model(&kl, &sh, &w, E, &a);
            simulate(&kl, &sh, &w, E, a.t, &sim);
            double su = k.setup_wall[n], suc = n * k.setup_cpu[n] / o.shared_cores;
            char lab[64];
            snprintf(lab, sizeof lab, "%u local node%s", n, n > 1 ? "s" : "");
            print_pred(lab, &a, &sim, su > suc ? su : suc);
            printf("  %-24s CPU s: %.2f streaming (node threads %.2f, I/O threads %.2f, kernels "
                   "%.2f, client %.2f) + %.2f setup = %.2f\n",
                   "", sim.cpu_s, sim.cpu_main, sim.cpu_io, sim.cpu_engine, w.client_s,
                   n * k.setup_cpu[n], sim.cpu_s + n * k.setup_cpu[n]);
        }
    }
done:
    if (nd_path[0])
        remove(nd_path);
    if (csv_path[0])
        remove(csv_path);
    return 0;
fail:
    fprintf(stderr, "sluice-scale: %s (%s)\n", msg, sl_strerror(rc));
    if (nd_path[0])
        remove(nd_path);
    if (csv_path[0])
        remove(csv_path);
    return 1;
}
