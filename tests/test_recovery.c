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

Test(recovery, sigkill_a_node_output_unchanged)
{
    skip_if_sanitized("a slow failure test of processes: run in the Release build");
    FILE *f = create("events.ndjson");
    uint64_t s0 = 3;
    for (unsigned i = 0; i < 1500000; i++) {
        uint64_t r = splitmix64(&s0);
        fprintf(f, "{\"ad_id\": \"ad-%u\", \"event_type\": \"%s\", \"event_time\": %u}\n",
                (unsigned)(r % 30000), (r >> 32) % 8 == 0 ? "click" : "view", i);
    }
    fclose(f);
    struct run ref = run_sluice("ctr --input events.ndjson -q", 300);
    cr_assert(eq(int, ref.status, 0), "%s", ref.err);
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
        if (n > 0 && !reap(pid, &st)) {
            kill(kids[victim % (unsigned)n], SIGKILL);
            killed++;
        }
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
        if (n > 0)
            cr_assert_not_null(strstr(err, "starting the node again and resuming"),
                               "seed %" PRIu64 ": %s", seed, err);
        free(out);
        free(err);
    }
    cr_assert(gt(int, killed, 0), "no trial killed a node before the run ended");
    run_free(&ref);
    finish();
}

/* The same on a long-lived cluster (`cluster up`, which starts a dead node again): the client
 * notices the node's silence after net.liveness_ms, waits until every node answers, and resumes
 * from the newest checkpoint. */
Test(recovery, cluster_up_node_killed_output_unchanged)
{
    skip_if_sanitized("a slow failure test of processes: run in the Release build");
    FILE *f = create("events.ndjson");
    uint64_t s0 = 5;
    for (unsigned i = 0; i < 1200000; i++) {
        uint64_t r = splitmix64(&s0);
        fprintf(f, "{\"ad_id\": \"ad-%u\", \"event_type\": \"%s\", \"event_time\": %u}\n",
                (unsigned)(r % 20000), (r >> 32) % 8 == 0 ? "click" : "view", i);
    }
    fclose(f);
    struct run ref = run_sluice("ctr --input events.ndjson -q", 300);
    cr_assert(eq(int, ref.status, 0), "%s", ref.err);
    write_cluster("c.yaml", 3, "net: {liveness_ms: 2000}\n", 56500);
    struct cluster cl;
    cluster_up(&cl, "c.yaml", 3, 1, "up.err");
    const char *env = getenv("SLUICE_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL), s = seed;
    unsigned victim = (unsigned)(splitmix64(&s) % 3), delay_ms = (unsigned)(splitmix64(&s) % 400);
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
