/* A clustered run with checkpoints survives the death of a node: `sluice ctr --nodes 3
 * --checkpoint-ms MS`, one of its node processes killed with SIGKILL at a random moment, must
 * still exit 0 with output byte for byte the one-process run's (docs/fault-tolerance.md). Each
 * trial says its seed, delay and victim; SLUICE_TEST_SEED=N picks the first trial's seed. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "launch.h"
#include "proc.h"

TestSuite(recovery, .init = setup, .fini = teardown, .timeout = 600);

/* The child processes of pid (its --nodes node processes), from /proc. Returns how many. */
static int children(pid_t pid, pid_t *out, int cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    int n = 0;
    long v;
    while (f && n < cap && fscanf(f, "%ld", &v) == 1)
        out[n++] = (pid_t)v;
    if (f)
        fclose(f);
    return n;
}

/* 1 when every node of a 3-node run wrote a checkpoint into dir/node-*. */
static int all_checkpointed(const char *dir)
{
    for (int i = 0; i < 3; i++) {
        char sub[128];
        snprintf(sub, sizeof sub, "%s/node-%d", dir, i);
        DIR *d = opendir(tpath(sub));
        int found = 0;
        for (struct dirent *e; d && (e = readdir(d));)
            found |= strncmp(e->d_name, "ckpt-", 5) == 0;
        if (d)
            closedir(d);
        if (!found)
            return 0;
    }
    return 1;
}

/* Writes events.ndjson (`lines` events over `keys` ads, seeded) and returns the one-process
 * run's output over it, the reference every recovered run must equal. */
static struct run events_and_reference(unsigned lines, unsigned keys, uint64_t seed)
{
    FILE *f = create("events.ndjson");
    for (unsigned i = 0; i < lines; i++) {
        uint64_t r = splitmix64(&seed);
        fprintf(f, "{\"ad_id\": \"ad-%u\", \"event_type\": \"%s\", \"event_time\": %u}\n",
                (unsigned)(r % keys), (r >> 32) % 8 == 0 ? "click" : "view", i);
    }
    fclose(f);
    struct run ref = run_sluice("ctr --input events.ndjson -q", 300);
    cr_assert(eq(int, ref.status, 0), "%s", ref.err);
    return ref;
}

Test(recovery, sigkill_a_node_output_unchanged)
{
    skip_if_sanitized("a slow failure test of processes: run in the Release build");
    struct run ref = events_and_reference(1500000, 30000, 3);
    const char *env = getenv("SLUICE_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    int killed = 0;
    for (int trial = 0; trial < 3; trial++, seed++) {
        uint64_t s = seed;
        unsigned delay_ms = (unsigned)(splitmix64(&s) % 700);
        unsigned victim = (unsigned)(splitmix64(&s) % 3);
        char dir[32], args[256];
        snprintf(dir, sizeof dir, "ck%d", trial);
        snprintf(args, sizeof args,
                 "ctr --input events.ndjson --nodes 3 --checkpoint-ms 150 --checkpoint-dir %s",
                 dir);
        pid_t pid = spawn(args, "out.csv", "err.txt");
        double t_end = now_s() + 120;
        int st, done = 0;
        while (!all_checkpointed(dir) && now_s() < t_end && !(done = reap(pid, &st)))
            usleep(10000);
        usleep(delay_ms * 1000);
        pid_t kids[8];
        int n = done ? 0 : children(pid, kids, 8);
        if (n > 0 && !reap(pid, &st))
            kill(kids[victim % (unsigned)n], SIGKILL);
        st = wait_exit(pid, 300, "the run with a killed node");
        char *err = slurp("err.txt", NULL);
        cr_assert(eq(int, st, 0),
                  "seed %" PRIu64 " (node %u of %d killed %u ms after every node's first "
                  "checkpoint): exit %d\n%s",
                  seed, victim, n, delay_ms, st, err);
        char *out = slurp("out.csv", NULL);
        char what[200];
        snprintf(what, sizeof what, "seed %" PRIu64 ": output after a killed node", seed);
        assert_same_text(out, ref.out, what);
        /* a kill is noticed either while the job runs (a recovery) or, when it came as the
         * job was ending, after every node had delivered its rows */
        int recovered = strstr(err, "starting the node again and resuming") != NULL;
        if (n > 0)
            cr_assert(recovered || strstr(err, "after the job ended: the results are complete"),
                      "seed %" PRIu64 ": the kill is not reported: %s", seed, err);
        killed += recovered;
        free(out);
        free(err);
    }
    cr_assert(gt(int, killed, 0), "no trial killed a node while the job ran (no recovery)");
    run_free(&ref);
    finish();
}

/* The same on a long-lived cluster (`cluster up`, which starts a dead node again): the client
 * notices the node's silence after net.liveness_ms, waits until every node answers, and resumes
 * from the newest checkpoint. */
Test(recovery, cluster_up_node_killed_output_unchanged)
{
    skip_if_sanitized("a slow failure test of processes: run in the Release build");
    struct run ref = events_and_reference(3000000, 20000, 5);
    write_cluster("c.yaml", 3, "net: {liveness_ms: 2000}\n", 56500);
    struct cluster cl;
    cluster_up(&cl, "c.yaml", 3, 1, "up.err");
    const char *env = getenv("SLUICE_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL), s = seed;
    unsigned victim = (unsigned)(splitmix64(&s) % 3), delay_ms = (unsigned)(splitmix64(&s) % 300);
    pid_t pid = spawn("ctr --input events.ndjson --cluster c.yaml --checkpoint-ms 150 "
                      "--checkpoint-dir ck",
                      "out.csv", "err.txt");
    double t_end = now_s() + 120;
    int st, done = 0;
    while (!all_checkpointed("ck") && now_s() < t_end && !(done = reap(pid, &st)))
        usleep(10000);
    cr_assert(eq(int, done, 0),
              "seed %" PRIu64 ": the run ended before every node's first checkpoint", seed);
    usleep(delay_ms * 1000);
    kill(cl.node[victim], SIGKILL);
    st = wait_exit(pid, 300, "the run with a killed node");
    char *err = slurp("err.txt", NULL);
    cr_assert(eq(int, st, 0),
              "seed %" PRIu64 " (node %u killed %u ms after every node's first "
              "checkpoint): exit %d\n%s",
              seed, victim, delay_ms, st, err);
    cr_assert_not_null(strstr(err, "waiting until every node answers"), "%s", err);
    char *out = slurp("out.csv", NULL);
    assert_same_text(out, ref.out, "output after a killed node of cluster up");
    free(out);
    free(err);
    run_free(&ref);
    cluster_down(&cl);
    finish();
}

/* A live source: a zmq source read by the client of `--nodes 3` with checkpoints, fed in paced
 * messages; a node is killed while the messages still come. The client sends the records after
 * the newest checkpoint again from its ingest log, reads on, and after SIGINT the final rows
 * equal a one-process run over the same lines, read from a file. */
Test(recovery, zmq_source_node_killed_ingest_log_replayed)
{
    skip_if_sanitized("a slow failure test of processes: run in the Release build");
    const char *env = getenv("SLUICE_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL), s = seed;
    unsigned victim = (unsigned)(splitmix64(&s) % 3);
    unsigned kill_at = 8 + (unsigned)(splitmix64(&s) % 20); /* after this many messages */
    unsigned port = 0;
    for (int tries = 0; tries < 50 && !port; tries++) {
        unsigned p = 40000 + (unsigned)(splitmix64(&s) % 20000);
        if (sl_ports_free(p, 1))
            port = p;
    }
    cr_assert(ne(uint, port, 0));
    char topo[512];
    snprintf(topo, sizeof topo,
             "source: {type: zmq, bind: \"tcp://127.0.0.1:%u\", format: ndjson}\n"
             "pe: {kind: ctr}\nsink: {path: out.csv}\n"
             "checkpoint: {every_ms: 100, dir: ck}\n",
             port);
    tu_write_file(tpath("topo.yaml"), topo);
    pid_t pid = spawn("run topo.yaml --nodes 3", NULL, "err.txt");
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", port);
    cr_assert(eq(int, zmq_connect(push, ep), 0));
    FILE *all = create("all.ndjson");
    uint64_t r = 11;
    pid_t kids[8];
    int n = 0;
    for (unsigned m = 0; m < 40; m++) {
        static char msg[2000 * 80];
        size_t len = 0;
        for (unsigned l = 0; l < 2000; l++) {
            uint64_t v = splitmix64(&r);
            len += (size_t)snprintf(msg + len, sizeof msg - len,
                                    "{\"ad_id\": \"ad-%u\", \"event_type\": \"%s\", "
                                    "\"event_time\": %u}\n",
                                    (unsigned)(v % 3000), (v >> 32) % 8 ? "view" : "click",
                                    m * 2000 + l);
        }
        fwrite(msg, 1, len, all);
        cr_assert(eq(int, zmq_send(push, msg, len, 0), (int)len));
        usleep(60000);
        if (m == kill_at) {
            n = children(pid, kids, 8);
            cr_assert(gt(int, n, 0), "no node processes");
            kill(kids[victim % (unsigned)n], SIGKILL);
        }
    }
    fclose(all);
    int linger = 60000;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(push);
    zmq_ctx_term(ctx);
    /* the source has every message (linger); give the run time to read and send them */
    usleep(3000000);
    kill(pid, SIGINT);
    int st = wait_exit(pid, 120, "run after SIGINT");
    char *err = slurp("err.txt", NULL);
    cr_assert(eq(int, st, 0), "seed %" PRIu64 " (node %u killed after message %u): exit %d\n%s",
              seed, victim, kill_at, st, err);
    cr_assert_not_null(strstr(err, "sent again from the ingest log"), "%s", err);
    cr_assert_not_null(strstr(err, "input: 80000 lines, 80000 records"), "%s", err);
    struct run ref = run_sluice("ctr --input all.ndjson -q", 300);
    cr_assert(eq(int, ref.status, 0), "%s", ref.err);
    char *out = slurp("out.csv", NULL);
    char what[128];
    snprintf(what, sizeof what, "seed %" PRIu64 ": zmq source after a killed node", seed);
    assert_same_text(out, ref.out, what);
    free(out);
    free(err);
    run_free(&ref);
    finish();
}

/* Waits until file `name` of the test directory holds `what` (or pid ended, or 60 s). */
static int wait_for_text(const char *name, const char *what, pid_t pid)
{
    int st;
    for (double t_end = now_s() + 60; now_s() < t_end;) {
        char *t = slurp(name, NULL);
        int found = t && strstr(t, what);
        free(t);
        if (found)
            return 1;
        if (reap(pid, &st))
            return 0;
        usleep(10000);
    }
    return 0;
}

/* A node's checkpoint directory that cannot be written: the job runs on, each failure is
 * reported, and the checkpoint complete before stays usable. In a run whose every node has a
 * checkpoint, node 1's directory is moved aside and a file put in its place (root ignores
 * permissions) until a failure is reported, then put back, and a node SIGKILLed: the recovery
 * loads a checkpoint written before or after the failures, and the output is the one-process
 * run's. */
Test(recovery, unwritable_checkpoint_dir_runs_on)
{
    skip_if_sanitized("a slow failure test of processes: run in the Release build");
    struct run ref = events_and_reference(1500000, 30000, 9);
    /* a directory that cannot be made at the start is refused before the job starts: the client
     * resolves it to the absolute path every node writes under */
    tu_write_file(tpath("blocker"), "a file where the checkpoint directory should be\n");
    struct run r =
        run_sluice("ctr --input events.ndjson --nodes 3 --checkpoint-ms 100 --checkpoint-dir "
                   "blocker/ck",
                   300);
    cr_assert(ne(int, r.status, 0), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "checkpoint directory blocker/ck: Not a directory"), "%s",
                       r.err);
    run_free(&r);

    pid_t pid = spawn("ctr --input events.ndjson --nodes 3 --checkpoint-ms 100 --checkpoint-dir ck",
                      "out.csv", "err.txt");
    int st;
    double t_end = now_s() + 120;
    while (!all_checkpointed("ck") && now_s() < t_end && !reap(pid, &st))
        usleep(10000);
    cr_assert(all_checkpointed("ck"), "no checkpoint on every node");
    cr_assert(eq(int, rename(tpath("ck/node-1"), tpath("ck/node-1.away")), 0));
    tu_write_file(tpath("ck/node-1"), "not a directory\n");
    int failed = wait_for_text("err.txt", "failed on node 1", pid);
    cr_assert(eq(int, unlink(tpath("ck/node-1")), 0));
    cr_assert(eq(int, rename(tpath("ck/node-1.away"), tpath("ck/node-1")), 0));
    char *err = slurp("err.txt", NULL);
    cr_assert(failed, "no checkpoint failure reported: %s", err);
    free(err);
    pid_t kids[8];
    int n = reap(pid, &st) ? 0 : children(pid, kids, 8);
    if (n > 0)
        kill(kids[0], SIGKILL);
    st = wait_exit(pid, 300, "the run with failed checkpoints and a killed node");
    err = slurp("err.txt", NULL);
    cr_assert(eq(int, st, 0), "exit %d\n%s", st, err);
    char *out = slurp("out.csv", NULL);
    assert_same_text(out, ref.out, "failed checkpoints, then a killed node");
    cr_assert(n == 0 || strstr(err, "starting the node again and resuming") ||
                  strstr(err, "after the job ended: the results are complete"),
              "the kill is not reported: %s", err);
    free(out);
    free(err);
    run_free(&ref);
    finish();
}
