/* Tests of the limits host/config puts on text before and while libyaml parses it: size
 * (1 MiB) and nesting depth (64 levels), for topology and cluster files, from text and from
 * files. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "config.h"
#include "err.h"

static sl_topology topo;
static sl_cluster_cfg cl;
static char err[2048];

/* A malloc'd string of `head`, then n copies of `rep`, then `tail`. */
static char *repeat(const char *head, const char *rep, size_t n, const char *tail)
{
    size_t hl = strlen(head), rl = strlen(rep), tl = strlen(tail);
    char *s = malloc(hl + rl * n + tl + 1);
    cr_assert_not_null(s);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + hl + i * rl, rep, rl);
    memcpy(s + hl + rl * n, tail, tl + 1);
    return s;
}

/* n nested block mappings "a:" (each indented two more spaces), the innermost holding "x". */
static char *block_maps(size_t n)
{
    size_t cap = n * (2 * n + 4) + 16, o = 0;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    for (size_t i = 0; i < n; i++) {
        memset(s + o, ' ', 2 * i);
        o += 2 * i;
        memcpy(s + o, i + 1 == n ? "a: x\n" : "a:\n", i + 1 == n ? 5 : 3);
        o += i + 1 == n ? 5 : 3;
    }
    s[o] = '\0';
    return s;
}

static int parse_topo(const char *text)
{
    err[0] = '\0';
    return sl_config_parse(text, strlen(text), "t.yaml", &topo, err, sizeof err);
}

static int parse_cluster(const char *text)
{
    err[0] = '\0';
    return sl_cluster_parse(text, strlen(text), "c.yaml", &cl, err, sizeof err);
}

/* Asserts that parsing text as a topology (unless topo_err is NULL) and as a cluster (unless
 * cluster_err is NULL) fails with SL_ECONFIG and exactly that message. */
static void refused(const char *text, const char *topo_err, const char *cluster_err)
{
    if (topo_err) {
        cr_assert_eq(parse_topo(text), SL_ECONFIG, "topology: %s", err);
        cr_assert_str_eq(err, topo_err);
    }
    if (cluster_err) {
        cr_assert_eq(parse_cluster(text), SL_ECONFIG, "cluster: %s", err);
        cr_assert_str_eq(err, cluster_err);
    }
}

static void make_tmpdir(char *dir, size_t size)
{
    const char *base = getenv("SLUICE_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    snprintf(dir, size, "%s/limits-XXXXXX", base);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
}

static void write_bytes(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* 250,000 '[' took libyaml about 95 s (quadratic in the depth); refused in well under 2 s. */
Test(config_limits, deep_flow_nesting_is_refused_quickly, .timeout = 60)
{
    char *deep = repeat("", "[", 250000, "");
    double t0 = bc_now_s();
    int rc = parse_topo(deep);
    double t_topo = bc_now_s() - t0;
    cr_assert_eq(rc, SL_ECONFIG, "rc %d: %s", rc, err);
    cr_assert_str_eq(err, "t.yaml:1:65: nesting deeper than 64 levels");

    t0 = bc_now_s();
    rc = parse_cluster(deep);
    double t_cluster = bc_now_s() - t0;
    cr_assert_eq(rc, SL_ECONFIG, "rc %d: %s", rc, err);
    cr_assert_str_eq(err, "c.yaml:1:65: nesting deeper than 64 levels");

    /* The same from files, after a mapping key (the 65th '[' is the 64th after "pe: "). */
    char dir[1024], path[1100], want[1300];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/deep.yaml", dir);
    char *keyed = repeat("pe: ", "{", 250000, "");
    write_bytes(path, keyed, strlen(keyed));
    t0 = bc_now_s();
    rc = sl_config_load(path, &topo, err, sizeof err);
    double t_load = bc_now_s() - t0;
    cr_assert_eq(rc, SL_ECONFIG, "rc %d: %s", rc, err);
    snprintf(want, sizeof want, "%s:1:69: nesting deeper than 64 levels", path);
    cr_assert_str_eq(err, want);
    t0 = bc_now_s();
    rc = sl_cluster_load(path, &cl, err, sizeof err);
    double t_cload = bc_now_s() - t0;
    cr_assert_eq(rc, SL_ECONFIG, "rc %d: %s", rc, err);
    cr_assert_str_eq(err, want);

    printf("250,000 levels refused in: config parse %.4f s, cluster parse %.4f s, config load "
           "%.4f s, cluster load %.4f s\n",
           t_topo, t_cluster, t_load, t_cload);
    cr_assert_lt(t_topo, 2.0);
    cr_assert_lt(t_cluster, 2.0);
    cr_assert_lt(t_load, 2.0);
    cr_assert_lt(t_cload, 2.0);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(rmdir(dir), 0);
    free(keyed);
    free(deep);
}

/* 64 flow levels get past the limit to the usual checks; 65 are refused at the 65th. */
Test(config_limits, flow_depth_64_passes_65_refused)
{
    char *ok = repeat("", "[", 64, "");
    char *closed = repeat(ok, "]", 64, "\n");
    refused(closed, "t.yaml:1:1: expected a mapping at the top level, got a list of 1 item",
            "c.yaml:1:1: expected a mapping at the top level, got a list of 1 item");

    char *open65 = repeat("", "[", 65, "");
    char *deep = repeat(open65, "]", 65, "\n");
    refused(deep, "t.yaml:1:65: nesting deeper than 64 levels",
            "c.yaml:1:65: nesting deeper than 64 levels");

    /* Mixed: the root mapping is level 1, so 63 flow levels under it are 64 in all... */
    char *o63 = repeat("nodes: ", "{", 63, "");
    char *m64 = repeat(o63, "}", 63, "\n");
    cr_assert_eq(parse_cluster(m64), SL_ECONFIG);
    cr_assert(strstr(err, "nesting") == NULL, "%s", err);
    cr_assert_str_eq(err, "c.yaml:1:8: nodes: expected a non-empty list of {id, host, port}, got "
                          "a mapping");
    /* ... and 64 flow levels under it are 65 (found by the walk over libyaml's events). */
    char *o64 = repeat("nodes: ", "{", 64, "");
    char *m65 = repeat(o64, "}", 64, "\n");
    refused(m65, NULL, "c.yaml:1:71: nesting deeper than 64 levels");
    free(ok);
    free(closed);
    free(open65);
    free(deep);
    free(o63);
    free(m64);
    free(o64);
    free(m65);
}

/* Block nesting (by indentation, or "- - -" on one line) is limited by the event walk. */
Test(config_limits, block_depth_64_passes_65_refused)
{
    char *ok = block_maps(64);
    cr_assert_eq(parse_topo(ok), SL_ECONFIG);
    cr_assert(strstr(err, "nesting") == NULL, "%s", err);
    cr_assert(strncmp(err, "t.yaml:1:1: unknown key \"a\"", 27) == 0, "%s", err);
    cr_assert_eq(parse_cluster(ok), SL_ECONFIG);
    cr_assert(strncmp(err, "c.yaml:1:1: unknown key \"a\"", 27) == 0, "%s", err);

    char *deep = block_maps(65);
    refused(deep, "t.yaml:65:129: nesting deeper than 64 levels",
            "c.yaml:65:129: nesting deeper than 64 levels");

    char *seq64 = repeat("", "- ", 64, "x\n");
    refused(seq64, "t.yaml:1:1: expected a mapping at the top level, got a list of 1 item", NULL);
    char *seq65 = repeat("", "- ", 65, "x\n");
    refused(seq65, "t.yaml:1:129: nesting deeper than 64 levels", NULL);
    /* A million levels: refused as quickly. */
    char *seqm = repeat("", "- ", 500000, "x\n");
    double t0 = bc_now_s();
    cr_assert_eq(parse_cluster(seqm), SL_ECONFIG);
    double t = bc_now_s() - t0;
    cr_assert_str_eq(err, "c.yaml:1:129: nesting deeper than 64 levels");
    printf("500,000 block levels refused in %.4f s\n", t);
    cr_assert_lt(t, 2.0);
    free(ok);
    free(deep);
    free(seq64);
    free(seq65);
    free(seqm);
}

/* Brackets in comments, quoted scalars and block scalars are not nesting. */
Test(config_limits, brackets_in_text_are_not_nesting)
{
    char *comment = repeat("pe: {kind: count} # ", "[{", 100, "\n");
    cr_assert_eq(parse_topo(comment), 0, "%s", err);
    cr_assert_eq(topo.pe.kind, SL_PE_COUNT);

    char *dq = repeat("device: \"\\\"", "[", 100, "\"\npe: {kind: sum}\n");
    cr_assert_eq(parse_topo(dq), 0, "%s", err);
    cr_assert_eq(topo.pe.kind, SL_PE_SUM);
    cr_assert_eq(strlen(topo.device), 101);
    cr_assert_eq(topo.device[0], '"');

    char *sq = repeat("pe: {kind: count}\ndevice: 'it''s ", "{", 100, "'\n");
    cr_assert_eq(parse_topo(sq), 0, "%s", err);
    cr_assert_eq(strncmp(topo.device, "it's {{{", 8), 0, "%s", topo.device);

    /* Flow mapping with a quoted key right after '{' and a value right after ':'. */
    char *json = repeat("{\"pe\":{\"kind\":\"count\"},\"device\":\"", "[", 100, "\"}\n");
    cr_assert_eq(parse_topo(json), 0, "%s", err);
    cr_assert_eq(strlen(topo.device), 100);

    char *block = repeat("device: |\n  ", "{ ", 60, "\npe:\n  kind: sum\n");
    cr_assert_eq(parse_topo(block), 0, "%s", err);
    cr_assert_eq(topo.pe.kind, SL_PE_SUM);
    cr_assert_eq(strlen(topo.device), 121, "%s", topo.device);

    /* A plain scalar outside flow may hold brackets. */
    cr_assert_eq(parse_topo("device: a[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                            "[[[[[\npe: {kind: count}\n"),
                 0, "%s", err);
    free(comment);
    free(dq);
    free(sq);
    free(json);
    free(block);
}

/* A file of exactly 1 MiB parses; one byte more is refused, from text and from files,
 * topology and cluster alike. */
Test(config_limits, one_mib_limit, .timeout = 60)
{
    static const char topo_text[] = "pe: {kind: sum}\n";
    static const char cluster_text[] = "nodes: [{id: 0, host: 127.0.0.1, port: 7600}]\n";
    const size_t mib = (size_t)1 << 20;
    char *buf = malloc(mib + 2);
    cr_assert_not_null(buf);
    char dir[1024], path[1100], want[1300];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/big.yaml", dir);

    for (int which = 0; which < 2; which++) {
        const char *text = which ? cluster_text : topo_text;
        size_t tl = strlen(text);
        /* The text, then comment lines up to exactly 1 MiB. */
        memcpy(buf, text, tl);
        size_t o = tl;
        while (o < mib) {
            size_t n = mib - o < 64 ? mib - o : 64;
            memset(buf + o, ' ', n);
            buf[o] = '#';
            buf[o + n - 1] = '\n';
            o += n;
        }
        cr_assert_eq(o, mib);
        int rc = which ? sl_cluster_parse(buf, mib, "big.yaml", &cl, err, sizeof err)
                       : sl_config_parse(buf, mib, "big.yaml", &topo, err, sizeof err);
        cr_assert_eq(rc, 0, "%s", err);
        write_bytes(path, buf, mib);
        rc = which ? sl_cluster_load(path, &cl, err, sizeof err)
                   : sl_config_load(path, &topo, err, sizeof err);
        cr_assert_eq(rc, 0, "%s", err);

        buf[mib] = '\n';
        rc = which ? sl_cluster_parse(buf, mib + 1, "big.yaml", &cl, err, sizeof err)
                   : sl_config_parse(buf, mib + 1, "big.yaml", &topo, err, sizeof err);
        cr_assert_eq(rc, SL_ECONFIG);
        cr_assert_str_eq(err, "big.yaml:1:1: config file is 1048577 bytes; the limit is 1 MiB");
        write_bytes(path, buf, mib + 1);
        rc = which ? sl_cluster_load(path, &cl, err, sizeof err)
                   : sl_config_load(path, &topo, err, sizeof err);
        cr_assert_eq(rc, SL_ECONFIG);
        snprintf(want, sizeof want, "%s:1:1: config file is 1048577 bytes; the limit is 1 MiB",
                 path);
        cr_assert_str_eq(err, want);
    }

    /* A 12 MiB file is refused by its size, before it is read. */
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(ftruncate(fileno(f), (off_t)12 << 20), 0);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(sl_config_load(path, &topo, err, sizeof err), SL_ECONFIG);
    snprintf(want, sizeof want, "%s:1:1: config file is 12582912 bytes; the limit is 1 MiB", path);
    cr_assert_str_eq(err, want);

    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(rmdir(dir), 0);
    free(buf);
}

/* A pipe gives no size up front: it is read up to one byte past the limit and refused. */
Test(config_limits, over_limit_from_a_pipe, .timeout = 60)
{
    char dir[1024], path[1100], want[1300];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/fifo.yaml", dir);
    cr_assert_eq(mkfifo(path, 0600), 0, "%s", strerror(errno));
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        FILE *f = fopen(path, "w");
        static char line[64];
        memset(line, '#', sizeof line - 1);
        line[sizeof line - 1] = '\n';
        for (int i = 0; f && i < 20000; i++)
            if (fwrite(line, 1, sizeof line, f) != sizeof line)
                break;
        _exit(0);
    }
    cr_assert_eq(sl_config_load(path, &topo, err, sizeof err), SL_ECONFIG);
    snprintf(want, sizeof want, "%s:1:1: config file is over 1048576 bytes; the limit is 1 MiB",
             path);
    cr_assert_str_eq(err, want);
    kill(pid, SIGKILL);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(rmdir(dir), 0);
}
