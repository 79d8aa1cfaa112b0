/* End-to-end tests of several jobs on one cluster and of jobs that live on it (docs/cluster.md,
 * "Several jobs at once" and "Jobs that live on the cluster"): `sluice cluster up` with 3 nodes
 * on loopback, clients run at once, `sluice job submit|list|status|stop|cancel`, a client killed
 * with SIGKILL and a clustered client stopped with SIGINT, events so far in `job list` and the
 * registry across restarts of node 0. Results are compared with a C count of the NDJSON the test
 * writes (per ad: views, clicks; lines sent). Processes as in tests/test_cluster.c
 * (tests/helpers/proc.h); each failure message names the seed and timings. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/new/assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "launch.h"
#include "proc.h"

#define NADS 300
#define LIVENESS_MS 6000

struct truth {
    uint64_t views[NADS], clicks[NADS], events[NADS];
};

/* Lines of NDJSON events ("ad-%03u": ids sort as numbers) from seed; counted into *t (added). */
static char *events_text(size_t lines, uint64_t seed, struct truth *t)
{
    size_t cap = lines * 128 + 1, k = 0;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    uint64_t r = seed;
    for (size_t i = 0; i < lines; i++) {
        unsigned a = (unsigned)(splitmix64(&r) % NADS);
        uint64_t ty = splitmix64(&r) % 10;
        const char *type = ty < 7 ? "view" : ty < 9 ? "click" : "purchase";
        t->events[a]++;
        t->views[a] += type[0] == 'v';
        t->clicks[a] += type[0] == 'c';
        k += (size_t)snprintf(s + k, cap - k,
                              "{\"ad_id\": \"ad-%03u\", \"event_type\": \"%s\", \"event_time\": "
                              "\"%" PRIu64 "\"}\n",
                              a, type, UINT64_C(1767225600000) + i);
    }
    return s;
}

/* The CSV `sluice ctr` writes for t. */
static char *expected_csv(const struct truth *t)
{
    size_t cap = 64 + NADS * 64, k = 0;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    k += (size_t)snprintf(s, cap, "ad_id,impressions,clicks,ctr\n");
    for (unsigned a = 0; a < NADS; a++) {
        if (!t->events[a])
            continue;
        double ctr = t->views[a] ? (double)t->clicks[a] / (double)t->views[a] : 0.0;
        char num[32];
        k += (size_t)snprintf(s + k, cap - k, "ad-%03u,%" PRIu64 ",%" PRIu64 ",%s\n", a,
                              t->views[a], t->clicks[a], tu_shortest(ctr, num, sizeof num));
    }
    return s;
}

static void write_text(const char *name, const char *text)
{
    FILE *f = create(name);
    fputs(text, f);
    fclose(f);
}

static void assert_file_csv(const char *name, const struct truth *t, const char *what)
{
    char *want = expected_csv(t), *got = slurp(name, NULL);
    cr_assert_not_null(got, "%s: no %s", what, name);
    assert_same_text(got, want, what);
    free(want);
    free(got);
}

/* A ctr job of input file `in` on the cluster of c.yaml, output to out. */
static pid_t ctr_job(const char *in, const char *out, const char *err)
{
    char args[512];
    snprintf(args, sizeof args, "ctr --input %s --output %s -q --cluster c.yaml", tpath(in),
             tpath(out));
    return spawn(args, NULL, err);
}

static void up3(struct cluster *cl, unsigned lo)
{
    char extra[128];
    snprintf(extra, sizeof extra, "net: {liveness_ms: %d}\n", LIVENESS_MS);
    write_cluster("c.yaml", 3, extra, lo);
    cluster_up(cl, "c.yaml", 3, 1, "up.err");
}

static void clean_jobs_dir(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tpath("c.yaml.jobs"));
    cr_assert(eq(int, system(cmd), 0));
}

/* SL_NODE_JOBS jobs at once on one fresh input (50,000 events of `seed`), each exact; `what`
 * names the moment in messages. */
static void four_jobs_exact(uint64_t seed, const char *what)
{
    static struct truth t;
    memset(&t, 0, sizeof t);
    char *n = events_text(50000, seed, &t);
    write_text("n.ndjson", n);
    free(n);
    pid_t p[4];
    char out[4][32], err[4][32];
    for (int i = 0; i < 4; i++) {
        snprintf(out[i], sizeof out[i], "n%d.csv", i);
        snprintf(err[i], sizeof err[i], "n%d.err", i);
        p[i] = ctr_job("n.ndjson", out[i], err[i]);
    }
    for (int i = 0; i < 4; i++) {
        int s = wait_exit(p[i], 120, what);
        cr_assert(eq(int, s, 0), "job %d of 4, %s: %s", i, what, slurp(err[i], NULL));
        assert_file_csv(out[i], &t, what);
    }
}

Test(jobs, two_jobs_at_once, .init = setup, .fini = teardown, .timeout = 300)
{
    uint64_t seed = (uint64_t)time(NULL);
    cr_log_info("seed %" PRIu64, seed);
    static struct truth ta, tb;
    memset(&ta, 0, sizeof ta);
    memset(&tb, 0, sizeof tb);
    char *a = events_text(300000, seed, &ta), *b = events_text(200000, seed + 1, &tb);
    write_text("a.ndjson", a);
    write_text("b.ndjson", b);
    free(a);
    free(b);
    struct cluster cl;
    up3(&cl, 56000);
    double t0 = now_s();
    pid_t pa = ctr_job("a.ndjson", "a.csv", "a.err"), pb = ctr_job("b.ndjson", "b.csv", "b.err");
    int sa = wait_exit(pa, 120, "job a"), sb = wait_exit(pb, 120, "job b");
    cr_log_info("two jobs at once: %.2f s", now_s() - t0);
    cr_assert(eq(int, sa, 0), "job a (seed %" PRIu64 "): %s", seed, slurp("a.err", NULL));
    cr_assert(eq(int, sb, 0), "job b (seed %" PRIu64 "): %s", seed, slurp("b.err", NULL));
    assert_file_csv("a.csv", &ta, "job a of two at once");
    assert_file_csv("b.csv", &tb, "job b of two at once");
    cluster_down(&cl);
    finish();
}

/* `sluice job ARGS --cluster c.yaml`, asserting status 0; returns its stdout (caller frees). */
static char *job_cmd(const char *args)
{
    char a[512];
    snprintf(a, sizeof a, "job %s --cluster c.yaml", args);
    struct run r = run_sluice(a, 30);
    cr_assert(eq(int, r.status, 0), "sluice %s: %s", a, r.err);
    char *out = r.out;
    r.out = NULL;
    run_free(&r);
    return out;
}

/* The id a submit printed: its last word. */
static unsigned submit(const char *topo)
{
    char a[256];
    snprintf(a, sizeof a, "submit %s", tpath(topo));
    char *out = job_cmd(a);
    size_t l = strlen(out);
    while (l && (out[l - 1] == '\n' || out[l - 1] == ' '))
        out[--l] = '\0';
    const char *w = strrchr(out, ' ');
    unsigned id = (unsigned)strtoul(w ? w + 1 : out, NULL, 10);
    cr_assert(ne(u32, id, 0), "submit printed: %s", out);
    free(out);
    return id;
}

/* The state of job id in `job list`. */
static void job_state(unsigned id, char *state, size_t len)
{
    char *out = job_cmd("list"), pat[32];
    snprintf(pat, sizeof pat, "\n%u ", id);
    const char *p = strstr(out, pat);
    cr_assert_not_null(p, "job %u not in the list:\n%s", id, out);
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t k = 0;
    while (p[k] && p[k] != ' ' && k + 1 < len) {
        state[k] = p[k];
        k++;
    }
    state[k] = '\0';
    free(out);
}

static void wait_state(unsigned id, const char *want, double timeout_s)
{
    double end = now_s() + timeout_s;
    char st[32];
    for (;;) {
        job_state(id, st, sizeof st);
        if (strcmp(st, want) == 0)
            return;
        if (now_s() > end) {
            char a[64];
            snprintf(a, sizeof a, "status %u", id);
            char *status = job_cmd(a);
            cr_assert(0, "job %u is %s, not %s, after %.0f s:\n%s", id, st, want, timeout_s,
                      status);
        }
        usleep(200000);
    }
}

Test(jobs, submitted_jobs, .init = setup, .fini = teardown, .timeout = 300)
{
    uint64_t seed = (uint64_t)time(NULL) ^ 0x5a5a;
    cr_log_info("seed %" PRIu64, seed);
    struct cluster cl;
    up3(&cl, 57500);
    uint64_t ps = seed;
    unsigned zport = free_port_high(&ps);
    FILE *f = create("gen.yaml");
    fprintf(f, "source: {type: generator, events: 4000000000, keys: 1000, seed: 7}\n"
               "pe: {kind: count}\nsink: {path: gen.csv}\n");
    fclose(f);
    f = create("z.yaml");
    fprintf(f,
            "source: {type: zmq, bind: \"tcp://127.0.0.1:%u\", format: ndjson}\n"
            "pe: {kind: ctr}\nsink: {path: %s}\n",
            zport, tpath("z.csv"));
    fclose(f);
    /* stdin is refused */
    f = create("stdin.yaml");
    fprintf(f, "source: {type: stdin}\npe: {kind: count}\n");
    fclose(f);
    char a[600];
    snprintf(a, sizeof a, "job submit %s --cluster c.yaml", tpath("stdin.yaml"));
    struct run r = run_sluice(a, 30);
    cr_assert(ne(int, r.status, 0));
    cr_assert_not_null(strstr(r.err, "stdin"), "%s", r.err);
    run_free(&r);

    unsigned gen = submit("gen.yaml"), z = submit("z.yaml");
    cr_log_info("jobs %u (generator) and %u (zmq on port %u)", gen, z, zport);
    wait_state(gen, "running", 10);
    wait_state(z, "running", 10);
    sleep(2); /* the driver binds its zmq source */

    static struct truth t;
    memset(&t, 0, sizeof t);
    char *text = events_text(20000, seed, &t);
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", zport);
    int linger = 10000;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert(eq(int, zmq_connect(push, ep), 0));
    /* messages of up to 100 lines */
    for (char *p = text; *p;) {
        char *e = p;
        for (int k = 0; k < 100 && *e; k++)
            e = strchr(e, '\n') + 1;
        cr_assert(eq(int, zmq_send(push, p, (size_t)(e - p), 0), (int)(e - p)));
        p = e;
    }
    zmq_close(push);
    zmq_ctx_term(ctx);
    free(text);
    sleep(3); /* the driver reads what was sent */

    snprintf(a, sizeof a, "stop %u", z);
    free(job_cmd(a));
    wait_state(z, "done", 60);
    assert_file_csv("z.csv", &t, "the stopped zmq job's final rows");
    wait_state(gen, "running", 1);

    double t0 = now_s();
    snprintf(a, sizeof a, "cancel %u", gen);
    free(job_cmd(a));
    wait_state(gen, "cancelled", 20);
    cr_log_info("cancelled in %.2f s", now_s() - t0);
    snprintf(a, sizeof a, "status %u", gen);
    char *st = job_cmd(a);
    cr_assert_not_null(strstr(st, "cancelled"), "%s", st);
    free(st);

    /* the nodes are free: SL_NODE_JOBS jobs at once all run */
    four_jobs_exact(seed + 9, "a job after the cancel");
    cluster_down(&cl);
    clean_jobs_dir();
    finish();
}

Test(jobs, killed_client, .init = setup, .fini = teardown, .timeout = 300)
{
    skip_if_sanitized("a slow failure test of processes: run in the Release build");
    uint64_t seed = (uint64_t)time(NULL) ^ 0x77;
    cr_log_info("seed %" PRIu64, seed);
    struct cluster cl;
    up3(&cl, 59500);
    pid_t big =
        spawn("ctr --events 2000000000 -q --cluster c.yaml --output big.csv", NULL, "big.err");
    sleep(2);
    cr_assert(eq(int, kill(big, SIGKILL), 0));
    double killed = now_s();
    wait_exit(big, 10, "the killed client");
    /* once its lease has run out, every slot of every node is free: 4 jobs at once run */
    usleep((useconds_t)(LIVENESS_MS + 1500) * 1000);
    char what[128];
    snprintf(what, sizeof what, "a job started %.1f s after the kill (liveness %d ms)",
             now_s() - killed, LIVENESS_MS);
    four_jobs_exact(seed, what);
    cluster_down(&cl);
    finish();
}

Test(jobs, sigint_stdin_client, .init = setup, .fini = teardown, .timeout = 300)
{
    uint64_t seed = (uint64_t)time(NULL) ^ 0x3131;
    cr_log_info("seed %" PRIu64, seed);
    struct cluster cl;
    up3(&cl, 61000);
    int fds[2];
    cr_assert(eq(int, pipe(fds), 0));
    pid_t c = spawn_in("ctr --input - --output s.csv -q --cluster c.yaml", fds[0], NULL, "s.err");
    close(fds[0]);
    static struct truth t;
    memset(&t, 0, sizeof t);
    char *text = events_text(30000, seed, &t);
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fds[1], text + off, len - off);
        cr_assert(gt(sz, (size_t)w, 0));
        off += (size_t)w;
    }
    free(text);
    sleep(3); /* read and sent; the pipe stays open: only the signal ends the input */
    double t0 = now_s();
    cr_assert(eq(int, kill(c, SIGINT), 0));
    int st = wait_exit(c, 60, "the client stopped by SIGINT");
    close(fds[1]);
    cr_log_info("SIGINT to exit: %.2f s", now_s() - t0);
    cr_assert(eq(int, st, 0), "SIGINT on a clustered run (seed %" PRIu64 "): %s", seed,
              slurp("s.err", NULL));
    assert_file_csv("s.csv", &t, "the final rows after SIGINT");
    cluster_down(&cl);
    finish();
}

/* `sluice job list` without asserting success: status into *st (node 0 may be restarting). */
static char *try_list(int *st)
{
    struct run r = run_sluice("job list --cluster c.yaml", 30);
    *st = r.status;
    char *out = r.out;
    r.out = NULL;
    run_free(&r);
    return out;
}

/* Job id's row of `job list` (state and events, "-" when none counted yet). */
struct jrow {
    char state[32], events[32];
};

static int find_row(const char *list, unsigned id, struct jrow *row)
{
    char pat[32], date[32], time_[32];
    snprintf(pat, sizeof pat, "\n%u ", id);
    const char *p = strstr(list, pat);
    if (!p)
        return -1;
    return sscanf(p + strlen(pat), "%31s %31s %31s %31s", row->state, date, time_, row->events) == 4
               ? 0
               : -1;
}

static struct jrow job_row(unsigned id)
{
    char *out = job_cmd("list");
    struct jrow row;
    cr_assert(eq(int, find_row(out, id, &row), 0), "job %u not in the list:\n%s", id, out);
    free(out);
    return row;
}

/* The events column of job id once it shows `want`, or what it shows after timeout_s. */
static struct jrow wait_events(unsigned id, const char *want, double timeout_s)
{
    double end = now_s() + timeout_s;
    struct jrow row = job_row(id);
    while (strcmp(row.events, want) != 0 && now_s() < end) {
        usleep(200000);
        row = job_row(id);
    }
    return row;
}

/* Each job's expected state and events column after the restarts, and a check of the list. */
struct want {
    unsigned id;
    const char *state;
    char events[32];
};

static void expect_list(const struct want *w, size_t n, const char *when)
{
    char *out = job_cmd("list");
    for (size_t i = 0; i < n; i++) {
        struct jrow row;
        cr_assert(eq(int, find_row(out, w[i].id, &row), 0), "%s: job %u not listed:\n%s", when,
                  w[i].id, out);
        cr_assert(eq(str, row.state, (char *)w[i].state), "%s: job %u:\n%s", when, w[i].id, out);
        cr_assert(eq(str, row.events, (char *)w[i].events), "%s: events of job %u:\n%s", when,
                  w[i].id, out);
    }
    free(out);
}

/* Events so far in `job list`, and the registry across restarts of node 0: a zmq job shows the
 * number of lines sent to it (counted here) while it runs; a finished generator job its event
 * count; then node 0 dies (SIGKILL; cluster up starts it again) and the running job is `lost`
 * while the ended ones keep their states and counts, also after cluster down and up; a job
 * submitted afterwards gets an id none of them had. */
Test(jobs, job_list_counts_events_and_survives_node0_restarts, .init = setup, .fini = teardown,
     .timeout = 300)
{
    uint64_t seed = (uint64_t)time(NULL) ^ 0x4242;
    cr_log_info("seed %" PRIu64, seed);
    struct cluster cl;
    up3(&cl, 62500);
    uint64_t ps = seed;
    unsigned zport = free_port_high(&ps);
    const unsigned small_events = 30000 + (unsigned)(seed % 1000);
    FILE *f = create("small.yaml");
    fprintf(f,
            "source: {type: generator, events: %u, keys: 100, seed: 3}\n"
            "pe: {kind: count}\nsink: {path: small.csv}\n",
            small_events);
    fclose(f);
    f = create("big.yaml");
    fprintf(f, "source: {type: generator, events: 4000000000, keys: 1000, seed: 7}\n"
               "pe: {kind: count}\nsink: {path: big.csv}\n");
    fclose(f);
    f = create("bad.yaml");
    fprintf(f, "source: {type: file, path: %s}\npe: {kind: count}\n", tpath("missing.ndjson"));
    fclose(f);
    f = create("z.yaml");
    fprintf(f,
            "source: {type: zmq, bind: \"tcp://127.0.0.1:%u\", format: ndjson}\n"
            "pe: {kind: ctr}\nsink: {path: %s}\n",
            zport, tpath("z.csv"));
    fclose(f);

    unsigned small = submit("small.yaml"), bad = submit("bad.yaml"), z = submit("z.yaml"),
             big = submit("big.yaml");
    cr_log_info("jobs: small %u, bad %u, zmq %u (port %u), big %u", small, bad, z, zport, big);
    wait_state(small, "done", 60);
    wait_state(bad, "failed", 30);
    wait_state(z, "running", 10);
    wait_state(big, "running", 10);
    char want_small[32];
    snprintf(want_small, sizeof want_small, "%u", small_events);
    struct jrow row = wait_events(small, want_small, 5);
    cr_assert(eq(str, row.events, want_small), "events of the finished generator job");
    sleep(2); /* the driver binds its zmq source */

    /* lines to the zmq job, counted here as they are written */
    static struct truth t;
    memset(&t, 0, sizeof t);
    size_t lines = 15000 + (size_t)(seed % 5000);
    char *text = events_text(lines, seed, &t);
    uint64_t sent = 0;
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", zport);
    int linger = 10000;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert(eq(int, zmq_connect(push, ep), 0));
    for (char *p = text; *p;) {
        char *e = p;
        for (int k = 0; k < 100 && *e; k++, sent++)
            e = strchr(e, '\n') + 1;
        cr_assert(eq(int, zmq_send(push, p, (size_t)(e - p), 0), (int)(e - p)));
        p = e;
    }
    zmq_close(push);
    zmq_ctx_term(ctx);
    free(text);
    char want_z[32];
    snprintf(want_z, sizeof want_z, "%" PRIu64, sent);
    double t0 = now_s();
    row = wait_events(z, want_z, 30);
    cr_log_info("job list counted the zmq job's %s events %.2f s after the send", want_z,
                now_s() - t0);
    cr_assert(eq(str, row.events, want_z), "events of the running zmq job (%s)", row.state);
    cr_assert(eq(str, row.state, "running"));
    char a[64];
    snprintf(a, sizeof a, "status %u", z);
    char *st = job_cmd(a), pat[64];
    snprintf(pat, sizeof pat, "events: %s (0 malformed lines), ", want_z);
    cr_assert_not_null(strstr(st, pat), "%s", st);
    free(st);

    snprintf(a, sizeof a, "cancel %u", big);
    free(job_cmd(a));
    wait_state(big, "cancelled", 20);
    struct jrow big_row = job_row(big); /* its count when it was cancelled */
    cr_assert(ne(str, big_row.events, "-"), "the cancelled job counted events");

    /* node 0 dies; cluster up starts it again, and its registry comes from the job folders */
    pid_t old0 = cl.node[0];
    cr_assert(eq(int, kill(old0, SIGKILL), 0));
    t0 = now_s();
    char *out = NULL;
    for (int status = -1; status != 0;) {
        free(out);
        cr_assert(lt(dbl, now_s() - t0, 60.0), "node 0 does not answer after its restart");
        usleep(300000);
        out = try_list(&status);
    }
    cr_log_info("node 0 answered again %.2f s after SIGKILL:\n%s", now_s() - t0, out);
    free(out);
    struct want w[] = {
        {small, "done", ""}, {bad, "failed", "-"}, {big, "cancelled", ""}, {z, "lost", ""}};
    snprintf(w[0].events, sizeof w[0].events, "%s", want_small);
    snprintf(w[2].events, sizeof w[2].events, "%s", big_row.events);
    snprintf(w[3].events, sizeof w[3].events, "%s", want_z);
    expect_list(w, 4, "after node 0 was killed and restarted");
    snprintf(a, sizeof a, "status %u", z);
    st = job_cmd(a);
    cr_assert_not_null(strstr(st, "exit status: unknown"), "%s", st);
    free(st);

    /* cluster down and up: the same list */
    cl.node[0] = 0;
    cr_assert(eq(u32, find_nodes(&cl), 1), "the restarted node 0");
    cr_assert(ne(int, cl.node[0], old0));
    cluster_down(&cl);
    cluster_up(&cl, "c.yaml", 3, 1, "up2.err");
    expect_list(w, 4, "after cluster down and up");

    /* a new job: an id no earlier job had, and it runs */
    unsigned again = submit("small.yaml");
    for (size_t i = 0; i < 4; i++)
        cr_assert(ne(u32, again, w[i].id), "job id %u used again", again);
    wait_state(again, "done", 60);
    row = wait_events(again, want_small, 5);
    cr_assert(eq(str, row.events, want_small), "events of the job after the restarts");
    cluster_down(&cl);
    clean_jobs_dir();
    finish();
}

/* Fault tolerance of submitted jobs (docs/fault-tolerance.md): a job whose topology has
 * `checkpoint: {every_ms: 300, dir: ...}` and a zmq source loses a node to SIGKILL while the
 * messages come; `job stop` then writes the exact final rows. A second job, over a file, gets
 * `job savepoint`; the same topology submitted `--from` the savepoint writes the same rows. */
/* `sluice job savepoint` found nothing left to save: the job had read all its input when it was
 * asked (the registry's "is done: no savepoint"), its driver saw the input end before the
 * checkpoint ("savepoint not taken: the input has ended"), or the job ended while the command
 * waited ("the job ended before its savepoint"). */
static int ended_before_savepoint(const struct run *sp)
{
    static const char *const why[] = {"is done: no savepoint",
                                      "savepoint not taken: the input has ended",
                                      "the job ended before its savepoint"};
    for (size_t i = 0; i < sizeof why / sizeof *why; i++)
        if (strstr(sp->out, why[i]) || strstr(sp->err, why[i]))
            return 1;
    return 0;
}

Test(jobs, submitted_job_survives_a_killed_node_and_savepoints, .init = setup, .fini = teardown,
     .timeout = 300)
{
    skip_if_sanitized("a slow failure test of processes: run in the Release build");
    uint64_t seed = (uint64_t)time(NULL) ^ 0x7e57;
    cr_log_info("seed %" PRIu64, seed);
    write_cluster("c.yaml", 3, "net: {liveness_ms: 2000}\n", 57700);
    struct cluster cl;
    cluster_up(&cl, "c.yaml", 3, 1, "up.err");
    uint64_t ps = seed;
    unsigned zport = free_port_high(&ps);
    FILE *f = create("z.yaml");
    fprintf(f,
            "source: {type: zmq, bind: \"tcp://127.0.0.1:%u\", format: ndjson}\n"
            "pe: {kind: ctr}\nsink: {path: %s}\ncheckpoint: {every_ms: 300, dir: ck}\n",
            zport, tpath("z.csv"));
    fclose(f);
    unsigned z = submit("z.yaml");
    wait_state(z, "running", 10);
    sleep(2); /* the driver binds its zmq source */
    static struct truth t;
    memset(&t, 0, sizeof t);
    char *text = events_text(60000, seed, &t);
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", zport);
    int linger = 30000;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert(eq(int, zmq_connect(push, ep), 0));
    uint64_t s = seed;
    /* not node 0: it runs the drivers (docs/cluster.md) */
    unsigned victim = 1 + (unsigned)(splitmix64(&s) % 2),
             kill_at = 10 + (unsigned)(splitmix64(&s) % 20);
    unsigned m = 0;
    for (char *p = text; *p; m++) {
        char *e = p;
        for (int k = 0; k < 1000 && *e; k++)
            e = strchr(e, '\n') + 1;
        cr_assert(eq(int, zmq_send(push, p, (size_t)(e - p), 0), (int)(e - p)));
        p = e;
        usleep(80000);
        if (m == kill_at)
            kill(cl.node[victim], SIGKILL);
    }
    zmq_close(push);
    zmq_ctx_term(ctx);
    free(text);
    sleep(6); /* detection (2 s), recovery, and the rest of the messages */
    char a[1200];
    snprintf(a, sizeof a, "stop %u", z);
    free(job_cmd(a));
    wait_state(z, "done", 60);
    snprintf(a, sizeof a, "status %u", z);
    char *st = job_cmd(a);
    char what[200];
    snprintf(what, sizeof what, "seed %" PRIu64 ": node %u killed after message %u", seed, victim,
             kill_at);
    assert_file_csv("z.csv", &t, what);
    free(st);

    /* savepoint of a file job, and a job submitted from it */
    static struct truth t2;
    memset(&t2, 0, sizeof t2);
    char *big = events_text(3000000, seed + 1, &t2);
    write_text("big.ndjson", big);
    free(big);
    f = create("file.yaml");
    fprintf(f,
            "source: {type: file, path: %s, format: ndjson}\n"
            "pe: {kind: ctr}\nsink: {path: %s}\ncheckpoint: {every_ms: 200, dir: ck}\n",
            tpath("big.ndjson"), tpath("f1.csv"));
    fclose(f);
    /* The savepoint must be asked of a job still running. On a quick machine the job may have
     * read the whole file by then, or finish it before its driver takes the checkpoint
     * (ended_before_savepoint): it is then submitted again and asked at once, up to 4 more
     * times. */
    unsigned j1 = 0;
    char path[1024];
    for (int tries = 0;; tries++) {
        cr_assert(lt(int, tries, 5),
                  "seed %" PRIu64 ": the file job ended before each of 5 "
                  "savepoints asked of it",
                  seed);
        j1 = submit("file.yaml");
        wait_state(j1, "running", 10);
        if (tries == 0)
            usleep(300000); /* a checkpoint or so before the savepoint */
        snprintf(a, sizeof a, "job savepoint %u --cluster c.yaml", j1);
        struct run sp = run_sluice(a, 90);
        if (sp.status != 0 && ended_before_savepoint(&sp)) {
            cr_log_info("try %d: job %u ended before its savepoint; submitted again", tries, j1);
            run_free(&sp);
            wait_state(j1, "done", 120);
            continue;
        }
        cr_assert(eq(int, sp.status, 0), "%s%s", sp.out, sp.err);
        const char *at = strstr(sp.out, " written to ");
        cr_assert_not_null(at, "%s", sp.out);
        cr_assert(eq(int, sscanf(at + 12, "%1023s", path), 1));
        run_free(&sp);
        break;
    }
    wait_state(j1, "done", 120);
    assert_file_csv("f1.csv", &t2, "the job that wrote a savepoint");
    f = create("file2.yaml");
    fprintf(f,
            "source: {type: file, path: %s, format: ndjson}\n"
            "pe: {kind: ctr}\nsink: {path: %s}\ncheckpoint: {every_ms: 200, dir: ck}\n",
            tpath("big.ndjson"), tpath("f2.csv"));
    fclose(f);
    snprintf(a, sizeof a, "submit %s --from %s", tpath("file2.yaml"), path);
    char *out = job_cmd(a);
    size_t l = strlen(out);
    while (l && (out[l - 1] == '\n' || out[l - 1] == ' '))
        out[--l] = '\0';
    unsigned j2 = (unsigned)strtoul(strrchr(out, ' ') + 1, NULL, 10);
    free(out);
    wait_state(j2, "done", 120);
    assert_file_csv("f2.csv", &t2, "a job submitted from the savepoint");
    snprintf(a, sizeof a, "status %u", j2);
    st = job_cmd(a);
    free(st);
    cluster_down(&cl);
    clean_jobs_dir();
    finish();
}
