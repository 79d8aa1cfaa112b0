/* The file workload: whole processes over one NDJSON file; see filerun.h. */
#include "filerun.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "baselines.h"
#include "client.h"
#include "common.h"
#include "config.h"
#include "err.h"
#include "keyhash.h"
#include "launch.h"
#include "procrun.h"
#include "ysb.h"

#if !defined(SLUICE_BIN) || !defined(NDJSON_CTR_BIN) || !defined(GEN_EVENTS_BIN)
#error "SLUICE_BIN, NDJSON_CTR_BIN and GEN_EVENTS_BIN name the executables (bench/bench.cmake)"
#endif
#ifndef SLUICE_SOURCE_DIR
#define SLUICE_SOURCE_DIR "."
#endif

#define DUCKDB_SCRIPT SLUICE_SOURCE_DIR "/bench/duckdb_ctr.cjs"
#define PEERS_SETUP SLUICE_SOURCE_DIR "/bench/peers-setup.sh"

#define S_SLUICE "sluice ctr"
#define S_CC "C counter 1 thread"
#define S_NODES "sluice 3 nodes"
#define NODES 3
#define CTR_REL_TOL 1e-12

/* ---- the running cluster ---- */

/* A local cluster of NODES node processes, started once for the repetitions as a user's would
 * be running, and the pids of its nodes (their CPU is read around each run). */
struct cluster {
    char dir[4096], path[4096];
    sl_cluster_cfg cfg;
    sl_launch *launch;
    long pid[NODES];
    int made;
};

static int cluster_start(struct cluster *c, const char *device, char *msg, size_t msglen)
{
    int rc = sl_launch_local_cluster(NODES, device ? device : "", 0, c->dir, sizeof c->dir, c->path,
                                     sizeof c->path, msg, msglen);
    if (rc)
        return rc;
    c->made = 1;
    if ((rc = sl_cluster_load(c->path, &c->cfg, msg, msglen)) ||
        (rc = sl_launch_start(SLUICE_BIN, c->path, &c->cfg, 1, c->dir, &c->launch, msg, msglen)) ||
        (rc = sl_launch_wait_ready(c->launch, &c->cfg, 60000, msg, msglen)))
        return rc;
    return sl_client_ping(&c->cfg, 10000, c->pid, msg, msglen);
}

static void cluster_stop(struct cluster *c, int *rc, char *msg, size_t msglen)
{
    if (c->launch) {
        char smsg[512];
        if (sl_launch_stop(&c->launch, 30000, smsg, sizeof smsg) && *rc == 0) {
            snprintf(msg, msglen, "stopping the nodes: %s", smsg);
            *rc = SL_EIO;
        }
    }
    if (c->made)
        sl_launch_remove_local(c->dir);
    c->made = 0;
}

/* User + system CPU seconds of the cluster's nodes so far (/proc/PID/stat). */
static double nodes_cpu_s(const struct cluster *c)
{
    double t = 0;
    for (int i = 0; i < NODES; i++) {
        double s = bc_proc_cpu_s(c->pid[i]);
        t += s > 0 ? s : 0;
    }
    return t;
}

/* ---- the CSVs ---- */

static int cmp_key(const void *a, const void *b)
{
    const uint64_t x = ((const sl_row *)a)->key, y = ((const sl_row *)b)->key;
    return (x > y) - (x < y);
}

/* One unsigned decimal field at *p up to ',' or end of line; advances *p past it. */
static int field_u64(const char **p, const char *end, double *v)
{
    const char *s = *p;
    uint64_t x = 0;
    if (s == end || *s < '0' || *s > '9')
        return -1;
    for (; s < end && *s >= '0' && *s <= '9'; s++)
        x = x * 10 + (uint64_t)(*s - '0');
    *v = (double)x;
    *p = s;
    return 0;
}

/* Parses the CTR CSV at path (header ad_id,impressions,clicks,ctr; the id RFC 4180 quoted or
 * not) into rows keyed by sl_key_hash of the id, v[0] impressions, v[1] clicks, v[2] ctr, sorted
 * by key (malloc'd, the caller frees). Returns 0, or SL_EIO / SL_EPARSE / SL_ENOMEM with why. */
static int read_ctr_csv(const char *path, sl_row **rows, size_t *nrows, char *why, size_t len)
{
    static const char header[] = "ad_id,impressions,clicks,ctr";
    char *text = NULL, *id = NULL;
    size_t n = 0, cap = 1024, m = 0, line = 1;
    sl_row *r = NULL;
    if (ysb_read_file(path, &text, &n)) {
        snprintf(why, len, "%.200s: cannot read: %s", path, strerror(errno));
        return SL_EIO;
    }
    const char *p = text, *end = text + n;
    const char *nl = memchr(p, '\n', n);
    size_t hl = nl ? (size_t)(nl - p) : n;
    if (hl && p[hl - 1] == '\r')
        hl--;
    int rc = 0;
    if (hl != sizeof header - 1 || memcmp(p, header, hl) != 0) {
        snprintf(why, len, "%.200s: expected the header %s", path, header);
        rc = SL_EPARSE;
        goto out;
    }
    p = nl ? nl + 1 : end;
    r = malloc(cap * sizeof *r);
    id = malloc(n + 1);
    if (!r || !id) {
        rc = SL_ENOMEM;
        goto out;
    }
    while (p < end) {
        line++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        size_t il = 0;
        if (p < le && *p == '"') { /* a quoted id: "" is a quote */
            for (p++;; p++) {
                if (p >= end)
                    goto bad;
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"')
                        p++;
                    else
                        break;
                }
                id[il++] = *p;
            }
            if (++p > end)
                goto bad;
            eol = memchr(p, '\n', (size_t)(end - p));
            if (!eol)
                eol = end;
            le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        } else {
            while (p < le && *p != ',')
                id[il++] = *p++;
        }
        if (m == cap) {
            sl_row *g = realloc(r, cap * 2 * sizeof *r);
            if (!g) {
                rc = SL_ENOMEM;
                goto out;
            }
            r = g;
            cap *= 2;
        }
        sl_row *row = &r[m];
        memset(row, 0, sizeof *row);
        row->key = sl_key_hash(id, il);
        if (p >= le || *p++ != ',' || field_u64(&p, le, &row->v[0]) || p >= le || *p++ != ',' ||
            field_u64(&p, le, &row->v[1]) || p >= le || *p++ != ',')
            goto bad;
        char *dend;
        errno = 0;
        row->v[2] = strtod(p, &dend);
        if (dend != le || errno)
            goto bad;
        m++;
        p = eol + 1;
    }
    qsort(r, m, sizeof *r, cmp_key);
    for (size_t i = 1; i < m; i++)
        if (r[i].key == r[i - 1].key) {
            snprintf(why, len, "%.200s: an ad id appears twice (key %016llx)", path,
                     (unsigned long long)r[i].key);
            rc = SL_EPARSE;
            goto out;
        }
    *rows = r;
    *nrows = m;
    r = NULL;
    goto out;
bad:
    snprintf(why, len, "%.200s:%zu: expected ad_id,impressions,clicks,ctr", path, line);
    rc = SL_EPARSE;
out:
    if (rc == SL_ENOMEM)
        snprintf(why, len, "%.200s: out of memory", path);
    free(r);
    free(id);
    free(text);
    return rc;
}

/* 1 when got equals ref (both sorted by key): keys, impressions and clicks exactly, ctr within
 * CTR_REL_TOL of ref's; else 0 with the first difference in why. */
static int ctr_rows_match(const sl_row *ref, size_t nref, const sl_row *got, size_t n, char *why,
                          size_t len)
{
    for (size_t i = 0; i < nref && i < n; i++) {
        const sl_row *a = &ref[i], *b = &got[i];
        if (a->key != b->key) {
            snprintf(why, len, "row %zu: ad key %016llx where the answer has %016llx", i + 1,
                     (unsigned long long)b->key, (unsigned long long)a->key);
            return 0;
        }
        if (a->v[0] != b->v[0] || a->v[1] != b->v[1] ||
            !(fabs(a->v[2] - b->v[2]) <= CTR_REL_TOL * fabs(a->v[2]))) {
            snprintf(why, len,
                     "ad key %016llx: impressions, clicks, ctr %.0f, %.0f, %.17g where the answer "
                     "has %.0f, %.0f, %.17g",
                     (unsigned long long)a->key, b->v[0], b->v[1], b->v[2], a->v[0], a->v[1],
                     a->v[2]);
            return 0;
        }
    }
    if (nref != n) {
        snprintf(why, len, "%zu rows where the answer has %zu", n, nref);
        return 0;
    }
    return 1;
}

/* ---- DuckDB ---- */

/* 1 when DuckDB answers from the prefix, with its version in ver; 0 otherwise. */
static int duckdb_probe(const fr_opts *o, char *ver, size_t len)
{
    char out[4096], err[4096];
    pr_proc p;
    char m[1024];
    snprintf(out, sizeof out, "%s/file-duckdb-version.txt", o->out);
    snprintf(err, sizeof err, "%s/file-duckdb-version.log", o->out);
    char *argv[] = {"node", DUCKDB_SCRIPT, (char *)o->peers_dir, "--version", NULL};
    int ok = pr_run(argv, out, err, &p, m, sizeof m) == 0;
    if (ok) {
        pr_last_line(out, ver, len);
        ok = strncmp(ver, "DuckDB", 6) == 0;
    }
    remove(out);
    remove(err);
    return ok;
}

/* ---- the case ---- */

struct sys {
    const char *name, *tag;
    char label[40];
};

int fr_run(const fr_opts *o, rp_report *r, char *msg, size_t msglen)
{
    char file[4096], errp[4096], csv[4096], duck[48] = "";
    char ev[32], keys[32], skew[32], seed[32], thr[16];
    sl_row *ref = NULL, *got = NULL;
    size_t nref = 0, ngot = 0;
    int rc = 0;
    pr_proc p;
    struct cluster cl = {0};

    int have_duck = duckdb_probe(o, duck, sizeof duck);
    if (!have_duck && o->install) {
        snprintf(errp, sizeof errp, "%s/peers-setup.log", o->out);
        char *argv[] = {"bash", PEERS_SETUP, (char *)o->peers_dir, NULL};
        fprintf(stderr, "sluice-bench: installing DuckDB's npm package (bench/peers-setup.sh)\n");
        if ((rc = pr_run(argv, "/dev/null", errp, &p, msg, msglen)))
            return rc;
        if (!(have_duck = duckdb_probe(o, duck, sizeof duck))) {
            snprintf(msg, msglen, "DuckDB does not answer from %s after bench/peers-setup.sh",
                     o->peers_dir);
            return SL_EIO;
        }
    }
    if (!have_duck)
        fprintf(stderr,
                "sluice-bench: DuckDB skipped: not installed in %s (bash bench/peers-setup.sh "
                "installs its npm package there; or run with --peers)\n",
                o->peers_dir);
    snprintf(r->m.duckdb, sizeof r->m.duckdb, "%s", have_duck ? duck : "not run");

    /* the file, from the ctr workload's generator */
    snprintf(file, sizeof file, "%s/file-events.ndjson", o->out);
    snprintf(errp, sizeof errp, "%s/file-gen_events.log", o->out);
    snprintf(ev, sizeof ev, "%llu", (unsigned long long)o->events);
    snprintf(keys, sizeof keys, "%u", o->keys);
    snprintf(skew, sizeof skew, "%.17g", o->skew);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    snprintf(thr, sizeof thr, "%u", o->threads);
    char *gen[] = {GEN_EVENTS_BIN, "--events", ev,   "--keys",       keys,  "--skew",
                   skew,           "--seed",   seed, "--click-rate", "0.1", NULL};
    if ((rc = pr_run(gen, file, errp, &p, msg, msglen)))
        goto out;
    struct stat sb;
    const double mb = stat(file, &sb) == 0 ? (double)sb.st_size / 1e6 : 0;
    const double gen_s = p.wall;

    /* the answer: the same records in memory, plain C 1 thread */
    sl_gen_cfg g;
    bc_ctr_input(&g);
    g.events = o->events;
    g.keys = o->keys;
    g.skew = o->skew;
    g.seed = o->seed;
    sl_rec *recs = NULL;
    bl_ws *ws = bl_ws_new();
    if (!ws) {
        rc = SL_ENOMEM;
    } else if ((rc = bc_gen_records(&g, &recs)) == 0) {
        rc = bl_ctr_single(ws, recs, o->events, o->keys, &ref, &nref);
    }
    free(recs);
    bl_ws_destroy(&ws);
    if (rc) {
        snprintf(msg, msglen, "the answer (generator, plain C): %s", sl_strerror(rc));
        goto out;
    }

    char label[128];
    snprintf(label, sizeof label,
             "%llu events, a %.0f MB NDJSON file (gen_events, %u ads, Zipf %.2f; %.0f s to "
             "write) -> per-ad CTR CSV",
             (unsigned long long)o->events, mb, o->keys, o->skew, gen_s);
    rp_case *k = rp_case_add(r, "file", label, o->keys, o->events);
    if (!k) {
        rc = SL_ENOMEM;
        goto out;
    }
    struct sys sys[4] = {{.name = S_SLUICE, .tag = "sluice"},
                         {.name = S_CC, .tag = "c"},
                         {.name = S_NODES, .tag = "nodes"},
                         {.name = "", .tag = "duckdb"}};
    /* the 3-node cluster with ingest on every node: its client is the whole process timed, its
     * CPU the client's and the nodes' */
    if ((rc = cluster_start(&cl, o->device, msg, msglen))) {
        char m2[600];
        snprintf(m2, sizeof m2, "starting %d local nodes: %s", NODES, msg);
        snprintf(msg, msglen, "%s", m2);
        goto out;
    }
    int ord[4], ns = 0;
    for (int i = 0; i < 4; i++)
        if (i != 3 || have_duck)
            ord[ns++] = i;
    for (int i = 0; i < 4; i++) {
        if (i == 3 && !have_duck)
            continue;
        if (i == 3)
            snprintf(sys[i].label, sizeof sys[i].label, "DuckDB %u threads", o->threads);
        else
            snprintf(sys[i].label, sizeof sys[i].label, "%s", sys[i].name);
        rp_sys(k, sys[i].label);
    }
    /* sluice ctr's default table holds 1,048,576 ads; more need --capacity */
    char cap[32];
    const uint64_t want = (uint64_t)o->keys + o->keys / 4 + 1024;
    snprintf(cap, sizeof cap, "%llu", (unsigned long long)want);
    for (int rep = -1; rep < o->reps && rc == 0; rep++) { /* -1: warm-up, checked, not reported */
        for (int j = 0; j < ns && rc == 0; j++) {
            const struct sys *s = &sys[ord[(j + rep + 1) % ns]];
            snprintf(csv, sizeof csv, "%s/file-%s.csv", o->out, s->tag);
            snprintf(errp, sizeof errp, "%s/file-%s.log", o->out, s->tag);
            remove(csv);
            char *argv[16];
            int a = 0;
            if (s == &sys[0]) {
                argv[a++] = SLUICE_BIN;
                argv[a++] = "ctr";
                argv[a++] = "--input";
                argv[a++] = file;
                argv[a++] = "--output";
                argv[a++] = csv;
                argv[a++] = "-q";
                if (o->device) {
                    argv[a++] = "--device";
                    argv[a++] = (char *)o->device;
                }
                if (want > 1048576) {
                    argv[a++] = "--capacity";
                    argv[a++] = cap;
                }
            } else if (s == &sys[1]) {
                argv[a++] = NDJSON_CTR_BIN;
                argv[a++] = file;
                argv[a++] = csv;
            } else if (s == &sys[2]) {
                argv[a++] = SLUICE_BIN;
                argv[a++] = "ctr";
                argv[a++] = "--input";
                argv[a++] = file;
                argv[a++] = "--cluster";
                argv[a++] = cl.path;
                argv[a++] = "--ingest-on-nodes";
                argv[a++] = "--output";
                argv[a++] = csv;
                argv[a++] = "-q";
                if (want > 1048576) {
                    argv[a++] = "--capacity";
                    argv[a++] = cap;
                }
            } else {
                argv[a++] = "node";
                argv[a++] = DUCKDB_SCRIPT;
                argv[a++] = (char *)o->peers_dir;
                argv[a++] = file;
                argv[a++] = csv;
                argv[a++] = thr;
            }
            argv[a] = NULL;
            const double ncpu0 = s == &sys[2] ? nodes_cpu_s(&cl) : 0;
            if ((rc = pr_run(argv, "/dev/null", errp, &p, msg, msglen)))
                break;
            if (s == &sys[2])
                p.cpu += nodes_cpu_s(&cl) - ncpu0;
            char why[400];
            if ((rc = read_ctr_csv(csv, &got, &ngot, why, sizeof why))) {
                snprintf(msg, msglen, "%s: %s", s->label, why);
                break;
            }
            if (!ctr_rows_match(ref, nref, got, ngot, why, sizeof why) && k->equal) {
                snprintf(k->check, sizeof k->check,
                         "DIFFER: %s, repetition %d (0: warm-up), against plain C 1 thread over "
                         "the generator's records: %.300s",
                         s->label, rep + 1, why);
                k->equal = 0;
            }
            free(got);
            got = NULL;
            if (rep < 0)
                continue;
            rp_system *rs = rp_sys(k, s->label);
            rp_add(rs, "eps", "events/s", (double)o->events / p.wall);
            rp_add(rs, "wall_s", "s", p.wall);
            rp_add(rs, "cpu_s", "s", p.cpu);
            if (p.peak_mb > 0)
                rp_add(rs, "peak_mb", "MiB", p.peak_mb);
        }
    }
    if (rc == 0 && k->equal)
        snprintf(k->check, sizeof k->check,
                 "equal: %zu rows (ad, impressions, clicks exactly; ctr within 1e-12 relative) "
                 "in every system's CSV on every repetition, against plain C 1 thread over the "
                 "generator's records",
                 nref);
out:
    cluster_stop(&cl, &rc, msg, msglen);
    remove(file);
    free(ref);
    return rc;
}
