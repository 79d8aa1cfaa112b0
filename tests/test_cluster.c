/* End-to-end tests of the cluster (docs/cluster.md): `sluice ctr|run --nodes N`, `sluice cluster
 * up|down` and `--cluster FILE`, run as processes on loopback and compared byte for byte with the
 * one-process run, and with plain C references computed here: per-ad counts of the generator's
 * own records (host/generator.h, configured as `sluice ctr` configures it) or of the NDJSON the
 * test writes. A rogue ZeroMQ client written here (libzmq directly, frames from netio/frame.h)
 * sends garbage and broken frames to a node while it serves a job.
 *
 * Processes: every process a test starts is its child, leads its own process group (the nodes
 * that `cluster up` or `--nodes` start join it), gets SIGTERM if the test process dies
 * (PR_SET_PDEATHSIG, which also stops a cluster cleanly when Criterion kills a test on timeout)
 * and is registered until reaped; the .fini of every test sends SIGCONT and SIGKILL to the groups
 * still registered and reaps them, so a failed assertion leaves nothing running. Each test checks
 * at its end that no live process has its directory as working directory (every sluice process
 * it started, nodes included, runs there). Each test's cluster file takes ports from a window of
 * its own (write_cluster), so the two tests ctest runs at once (--jobs=2) do not collide.
 * ZeroMQ contexts are made inside the tests (Criterion forks per test). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/new/assert.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "config.h"
#include "event.h"
#include "frame.h"
#include "generator.h"
#include "job.h"

#include "proc.h"

/* Events of the large runs: the issue asks for at least 10 million. The whole binary under
 * `ctest -R test_cluster` (--jobs=2, 2-core AMD EPYC VM, PoCL pthread, 2026-11) takes 11-13 s in
 * Release and 31-41 s in the CI's Debug + ASan + UBSan build, so sanitized builds run the same
 * count. */
#define BIG_EVENTS UINT64_C(10000000)

/* ---- references from the generator ----------------------------------------------------------- */

struct adcount {
    uint64_t views, clicks, events;
};

/* Runs the generator as `sluice ctr` sets it up (sl_topology_defaults, i.e. sl_gen_defaults,
 * then --events, --keys, --seed; a topology's generator keys do the same) and counts, per ad
 * rank, views, clicks and events of every type; per type in types[]. Caller frees. */
static struct adcount *gen_counts(uint64_t events, uint32_t keys, uint64_t seed,
                                  uint64_t types[SL_EV_NTYPES])
{
    sl_gen_cfg cfg;
    sl_gen_defaults(&cfg);
    cfg.events = events;
    cfg.keys = keys;
    cfg.seed = seed;
    int err = 0;
    sl_gen *g = sl_gen_new(&cfg, NULL, &err);
    cr_assert_not_null(g, "sl_gen_new: %d", err);
    /* key -> rank, open addressing (keys are hashes already, never 0) */
    size_t cap = 1;
    while (cap < 2 * (size_t)keys)
        cap <<= 1;
    uint64_t *tk = calloc(cap, sizeof *tk);
    uint32_t *tr = calloc(cap, sizeof *tr);
    struct adcount *c = calloc(keys, sizeof *c);
    sl_rec *buf = malloc(65536 * sizeof *buf);
    cr_assert(tk && tr && c && buf);
    for (uint32_t r = 0; r < keys; r++) {
        uint64_t k = sl_gen_key(g, r);
        cr_assert(ne(u64, k, 0));
        size_t i = (size_t)k & (cap - 1);
        while (tk[i])
            i = (i + 1) & (cap - 1);
        tk[i] = k;
        tr[i] = r;
    }
    memset(types, 0, SL_EV_NTYPES * sizeof *types);
    uint64_t n, total = 0;
    while ((n = sl_gen_next(g, buf, 65536)) > 0) {
        for (uint64_t j = 0; j < n; j++) {
            size_t i = (size_t)buf[j].key & (cap - 1);
            while (tk[i] != buf[j].key) {
                cr_assert(ne(u64, tk[i], 0), "a record of an unknown key");
                i = (i + 1) & (cap - 1);
            }
            struct adcount *a = &c[tr[i]];
            a->events++;
            a->views += buf[j].type == SL_EV_VIEW;
            a->clicks += buf[j].type == SL_EV_CLICK;
            types[buf[j].type & 3]++;
        }
        total += n;
    }
    cr_assert(eq(u64, total, events));
    sl_gen_destroy(&g);
    free(tk);
    free(tr);
    free(buf);
    return c;
}

/* The CSV `sluice ctr --output` writes for these counts: a row per ad with any event, in id
 * order, which for "ad-%08u" is rank order; ctr = clicks / views, 0 without views. */
static char *expected_ctr_csv(const struct adcount *c, uint32_t keys, size_t *rows)
{
    size_t cap = 64 + (size_t)keys * 64, k = 0;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    k += (size_t)snprintf(s, cap, "ad_id,impressions,clicks,ctr\n");
    *rows = 0;
    for (uint32_t r = 0; r < keys; r++) {
        if (!c[r].events)
            continue;
        double ctr = c[r].views ? (double)c[r].clicks / (double)c[r].views : 0.0;
        char num[32];
        k += (size_t)snprintf(s + k, cap - k, "ad-%08u,%" PRIu64 ",%" PRIu64 ",%s\n", r, c[r].views,
                              c[r].clicks, tu_shortest(ctr, num, sizeof num));
        (*rows)++;
    }
    return s;
}

/* Sums of the impressions and clicks columns of a ctr CSV (ids may be quoted: the numbers are
 * the last three fields). */
static void sum_ctr_csv(const char *csv, uint64_t *impressions, uint64_t *clicks, size_t *rows)
{
    *impressions = *clicks = 0;
    *rows = 0;
    const char *line = strchr(csv, '\n');
    cr_assert_not_null(line);
    for (line++; *line; line = strchr(line, '\n') + 1) {
        const char *end = strchr(line, '\n');
        cr_assert_not_null(end);
        const char *p = end;
        int commas = 0;
        while (p > line && commas < 3)
            commas += *--p == ',';
        cr_assert(eq(int, commas, 3), "row %zu: %.*s", *rows + 1, (int)(end - line), line);
        unsigned long long v, k;
        cr_assert(eq(int, sscanf(p, ",%llu,%llu,", &v, &k), 2));
        *impressions += v;
        *clicks += k;
        (*rows)++;
    }
}

/* Runs the generator's BIG_EVENTS events over `keys` ads (`seed`) in one process and asserts
 * that the cluster's output `file` is the same CSV (`what` names the comparison). */
static void expect_one_process(uint32_t keys, uint64_t seed, const char *file, const char *what)
{
    char args[512];
    snprintf(args, sizeof args,
             "ctr --events %" PRIu64 " --keys %u --seed %" PRIu64 " --output one.csv -q",
             BIG_EVENTS, keys, seed);
    struct run one = run_sluice(args, 300);
    cr_assert(eq(int, one.status, 0), "one process: %s", one.err);
    char *got1 = slurp("one.csv", NULL), *got3 = slurp(file, NULL);
    assert_same_text(got3, got1, what);
    free(got1);
    free(got3);
    run_free(&one);
}

/* ---- 1. the generator's 10 million events on 3 nodes ----------------------------------------- */

Test(cluster, ctr_nodes3_equals_single, .init = setup, .fini = teardown, .timeout = 600)
{
    const uint32_t keys = 100000;
    const uint64_t seed = 20261107;
    char args[512];
    snprintf(args, sizeof args,
             "ctr --events %" PRIu64 " --keys %u --seed %" PRIu64 " --output one.csv -q",
             BIG_EVENTS, keys, seed);
    double t0 = now_s();
    struct run r = run_sluice(args, 300);
    cr_assert(eq(int, r.status, 0), "one process: %s", r.err);
    run_free(&r);
    double t1 = now_s();
    snprintf(args, sizeof args,
             "ctr --events %" PRIu64 " --keys %u --seed %" PRIu64
             " --nodes 3 --output three.csv -q",
             BIG_EVENTS, keys, seed);
    r = run_sluice(args, 300);
    cr_assert(eq(int, r.status, 0), "--nodes 3: %s", r.err);
    cr_assert(eq(str, r.err, ""), "-q prints nothing");
    run_free(&r);
    cr_log_info("%" PRIu64 " events: one process %.2f s, --nodes 3 %.2f s", BIG_EVENTS, t1 - t0,
                now_s() - t1);

    size_t len1, len3;
    char *one = slurp("one.csv", &len1), *three = slurp("three.csv", &len3);
    cr_assert(eq(sz, len3, len1), "sizes of the two CSVs");
    assert_same_text(three, one, "--nodes 3 against one process");

    /* independently: per-ad counts of the generator's records */
    uint64_t types[SL_EV_NTYPES];
    struct adcount *c = gen_counts(BIG_EVENTS, keys, seed, types);
    size_t rows;
    char *want = expected_ctr_csv(c, keys, &rows);
    assert_same_text(three, want, "--nodes 3 against a plain C count of the generator's records");
    /* Zipf 1.0 over 100,000 ads: the rarest expect ~8 of 10M events, so a handful may have none
     * and have no row; nearly all appear. */
    cr_assert(eq(sz, count_lines(three), rows + 1));
    cr_assert(ge(sz, rows, (size_t)keys * 99 / 100), "rows %zu", rows);
    uint64_t impressions, clicks;
    size_t nrows;
    sum_ctr_csv(three, &impressions, &clicks, &nrows);
    cr_assert(eq(sz, nrows, rows));
    cr_assert(eq(u64, impressions, types[SL_EV_VIEW]), "impressions = views generated");
    cr_assert(eq(u64, clicks, types[SL_EV_CLICK]), "clicks = clicks generated");
    cr_assert(eq(u64, types[SL_EV_VIEW] + types[SL_EV_CLICK] + types[SL_EV_PURCHASE], BIG_EVENTS));
    free(c);
    free(want);
    free(one);
    free(three);
    finish();
}

/* ---- 2. NDJSON input ------------------------------------------------------------------------- */

struct ndjson_truth {
    uint64_t views, clicks, bad;
    size_t ads; /* distinct ads with at least one valid event */
};

/* Writes `lines` lines of events over `nads` ads (random ad, type view, click or purchase, other
 * fields around), a malformed line of assorted kinds every bad_every lines. */
static void write_ndjson(const char *name, size_t nads, size_t lines, size_t bad_every,
                         uint64_t seed, struct ndjson_truth *t)
{
    static const char *const bad[] = {
        "{\"ad_id\": \"ad-1\", \"event_type\": \"view\"}",
        "not json at all",
        "{\"ad_id\": \"ad-1\", \"event_type\": \"view\", \"event_time\": \"12\"",
        "{\"ad_id\": [7], \"event_type\": \"click\", \"event_time\": \"12\"}", /* no id */
        "[1, 2, 3]",
    };
    static const char *const types[] = {"view", "click", "purchase"};
    FILE *f = create(name);
    char *seen = calloc(nads, 1);
    cr_assert_not_null(seen);
    memset(t, 0, sizeof *t);
    uint64_t s = seed;
    for (size_t i = 0; i < lines; i++) {
        if (bad_every && i % bad_every == bad_every - 1) {
            fprintf(f, "%s\n", bad[t->bad++ % 5]);
            continue;
        }
        unsigned a = (unsigned)(splitmix64(&s) % nads);
        uint64_t ty = splitmix64(&s) % 10;
        const char *type = types[ty < 7 ? 0 : ty < 9 ? 1 : 2];
        char id[256];
        tu_ad_id(a, 6, id, sizeof id);
        t->views += type[0] == 'v';
        t->clicks += type[0] == 'c';
        t->ads += !seen[a];
        seen[a] = 1;
        fprintf(f, "{\"user_id\": \"u%u\", \"ad_id\": \"", (unsigned)(splitmix64(&s) % 1000));
        tu_json_str(f, id, (int)(i & 1));
        fprintf(f, "\", \"event_type\": \"%s\", \"event_time\": \"%" PRIu64 "\", \"extra\": [1]}\n",
                type, UINT64_C(1767225600000) + i);
    }
    fclose(f);
    free(seen);
}

/* `sluice ctr --input INPUT -q EXTRA` in one process, then with --nodes 3. */
static void ctr_one_and_three(const char *input, const char *extra, struct run *one,
                              struct run *three)
{
    char args[256];
    snprintf(args, sizeof args, "ctr --input %s -q%s", input, extra);
    *one = run_sluice(args, 300);
    snprintf(args, sizeof args, "ctr --input %s -q --nodes 3%s", input, extra);
    *three = run_sluice(args, 300);
}

Test(cluster, ndjson_nodes3_equals_single, .init = setup, .fini = teardown, .timeout = 600)
{
    struct ndjson_truth t;
    write_ndjson("events.ndjson", 5000, 200000, 97, 3, &t);
    static const char *const variants[] = {"", " --prior 2,38.5"};
    for (int v = 0; v < 2; v++) {
        struct run one, three;
        ctr_one_and_three("events.ndjson", variants[v], &one, &three);
        cr_assert(eq(int, one.status, 0), "one process: %s", one.err);
        cr_assert(eq(int, three.status, 0), "--nodes 3: %s", three.err);
        assert_same_text(three.out, one.out, "stdout of --nodes 3 against one process");
        /* the first ten malformed lines with their numbers, then the total: the same */
        cr_assert(eq(str, three.err, one.err));
        char total[96];
        snprintf(total, sizeof total, "%" PRIu64 " malformed lines skipped in all (first 10 shown)",
                 t.bad);
        cr_assert_not_null(strstr(three.err, total), "want \"%s\" in: %s", total, three.err);
        cr_assert_not_null(strstr(three.err, "line 97: "), "%s", three.err);
        cr_assert_not_null(strstr(three.err, "line 970: "), "%s", three.err);
        cr_assert(
            eq(sz, count_str(three.err, "\nline ") + (strncmp(three.err, "line ", 5) == 0), 10));
        if (v == 0) {
            uint64_t impressions, clicks;
            size_t rows;
            sum_ctr_csv(three.out, &impressions, &clicks, &rows);
            cr_assert(eq(u64, impressions, t.views));
            cr_assert(eq(u64, clicks, t.clicks));
            cr_assert(eq(sz, rows, t.ads));
        }
        run_free(&one);
        run_free(&three);
    }

    /* --strict: both stop at line 97 with status 2 and print nothing on stdout. Their stderr is
     * compared line by line but for the nodes' own: `--nodes` stops its nodes (SIGTERM) at once,
     * and one still compiling the job's program then fails the build and says so (LLVM's
     * SIGTERM handler, inside PoCL, deletes clang's temporary files; 20-30% of runs here). */
    struct run s1 = run_sluice("ctr --input events.ndjson -q --strict", 300);
    struct run s3 = run_sluice("ctr --input events.ndjson -q --strict --nodes 3", 300);
    cr_assert(eq(int, s1.status, 2), "%s", s1.err);
    cr_assert(eq(int, s3.status, 2), "%s", s3.err);
    cr_assert(eq(str, s3.out, s1.out));
    cr_assert(eq(str, s1.err,
                 "line 97: missing field \"event_time\" (column 39, byte 12612)\n"
                 "sluice: stopped at the first malformed line (--strict)\n"));
    char *kept = calloc(1, strlen(s3.err) + 1);
    cr_assert_not_null(kept);
    for (const char *l = s3.err; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0)) {
        size_t n = strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0);
        if (strncmp(l, "1 error generated.", 18) != 0 && strncmp(l, "sluice[device] ", 15) != 0)
            strncat(kept, l, n);
    }
    cr_assert(eq(str, kept, s1.err), "stderr: %s", s3.err);
    free(kept);
    run_free(&s1);
    run_free(&s3);

    /* an empty input and an all-malformed one: a header only on stdout, from both; the second
     * fails (exit status 4) */
    FILE *f = create("empty.ndjson");
    fclose(f);
    f = create("bad.ndjson");
    fprintf(f, "{\n[1,2]\n\n{\"ad_id\": \"a\"}\n");
    fclose(f);
    static const char *const inputs[] = {"empty.ndjson", "bad.ndjson"};
    for (int i = 0; i < 2; i++) {
        struct run one, three;
        ctr_one_and_three(inputs[i], "", &one, &three);
        cr_assert(eq(int, three.status, i ? 4 : 0), "%s: %s", inputs[i], three.err);
        cr_assert(eq(int, one.status, three.status), "%s: %s", inputs[i], one.err);
        cr_assert(eq(str, three.out, "ad_id,impressions,clicks,ctr\n"), "%s", inputs[i]);
        cr_assert(eq(str, three.out, one.out));
        cr_assert(eq(str, three.err, one.err));
        run_free(&one);
        run_free(&three);
    }
    finish();
}

/* ---- 3. a two-stage topology ----------------------------------------------------------------- */

#define ADS_PER_CAMPAIGN 10
#define UNJOINED_EVERY 97 /* ads of rank r with r % 97 == 0 are left out of the join table */

Test(cluster, two_stage_topology_across_nodes, .init = setup, .fini = teardown, .timeout = 600)
{
    const uint64_t events = BIG_EVENTS * 3 / 10, seed = 11;
    const uint32_t keys = 5000;
    FILE *f = create("campaigns.csv");
    fprintf(f, "ad_id,campaign_id\n");
    for (uint32_t r = 0; r < keys; r++)
        if (r % UNJOINED_EVERY)
            fprintf(f, "ad-%08u,campaign-%03u\n", r, r / ADS_PER_CAMPAIGN);
    fclose(f);
    f = create("topo.yaml");
    fprintf(f,
            "# clicks per ad, then the sum of those per campaign\n"
            "source: {type: generator, events: %" PRIu64 ", keys: %u, seed: %" PRIu64 "}\n"
            "pe: {name: ctr_per_ad, kind: ctr}\n"
            "next:\n"
            "  - name: clicks_per_campaign\n"
            "    join: campaigns.csv\n"
            "    value: clicks\n"
            "    kind: sum\n"
            "sink: {path: one.csv}\n",
            events, keys, seed);
    fclose(f);

    struct run one = run_sluice("run topo.yaml -q", 300);
    cr_assert(eq(int, one.status, 0), "one process: %s", one.err);
    struct run three = run_sluice("run topo.yaml --nodes 3 --output three.csv", 300);
    cr_assert(eq(int, three.status, 0), "--nodes 3: %s", three.err);
    char *got1 = slurp("one.csv", NULL), *got3 = slurp("three.csv", NULL);
    assert_same_text(got3, got1, "--nodes 3 against one process");

    /* the plain C reference: clicks per ad from the generator's records, summed per campaign */
    uint64_t types[SL_EV_NTYPES];
    struct adcount *c = gen_counts(events, keys, seed, types);
    uint32_t ncamp = (keys + ADS_PER_CAMPAIGN - 1) / ADS_PER_CAMPAIGN;
    uint64_t *ads = calloc(ncamp, sizeof *ads), *sum = calloc(ncamp, sizeof *sum);
    cr_assert(ads && sum);
    uint64_t unjoined = 0;
    for (uint32_t r = 0; r < keys; r++) {
        if (!c[r].events)
            continue; /* no row at the first stage */
        if (r % UNJOINED_EVERY == 0) {
            unjoined++;
            continue;
        }
        ads[r / ADS_PER_CAMPAIGN]++;
        sum[r / ADS_PER_CAMPAIGN] += c[r].clicks;
    }
    size_t cap = 64 + (size_t)ncamp * 64, k = 0;
    char *want = malloc(cap);
    cr_assert_not_null(want);
    k += (size_t)snprintf(want, cap, "campaign_id,count,sum\n");
    for (uint32_t i = 0; i < ncamp; i++) {
        char num[32];
        if (ads[i]) /* clicks per ad are below 2^24: exact as the float value, exact summed */
            k += (size_t)snprintf(want + k, cap - k, "campaign-%03u,%" PRIu64 ",%s\n", i, ads[i],
                                  tu_shortest((double)sum[i], num, sizeof num));
    }
    assert_same_text(got3, want, "--nodes 3 against a plain C sum per campaign");

    /* rows of ads not in the join table are counted, on whichever node owns the ad */
    uint64_t counted = 0;
    for (unsigned i = 0; i < 3; i++) {
        char prefix[32], line[1024];
        snprintf(prefix, sizeof prefix, "  node %u: ", i);
        const char *l = line_starting(three.err, prefix, line, sizeof line);
        const char *u = strstr(l, " rows of stage 0 not in the join table");
        if (!u)
            continue;
        while (u > l && u[-1] >= '0' && u[-1] <= '9')
            u--;
        counted += strtoull(u, NULL, 10);
    }
    cr_assert(eq(u64, counted, unjoined), "%s", three.err);
    free(ads);
    free(sum);
    free(c);
    free(want);
    free(got1);
    free(got3);
    run_free(&one);
    run_free(&three);
    finish();
}

/* ---- 4. a node stopped for 2 s --------------------------------------------------------------- */

/* The bounds on the client's memory, above its footprint on a job of 1000 events over the same
 * 100,000 ads (libraries, the ad dictionary, buffers: 24 MiB). While node 1 is stopped, what the
 * design lets the queues hold: per node, 8 MiB before the input waits (host/cluster/client.c
 * SEND_LIMIT) and hwm (64) frames of batch_bytes (64 KiB) inside ZeroMQ, 36 MiB for 3 nodes, plus
 * 8 MiB for the allocator's slack. Over the whole run, the results besides: the final rows the
 * client keeps (an array doubled as it grows: 131,072 x 80 bytes for 100,000 rows) and their
 * sorted order at the emission (64 bytes a row, and 64 more for the sort's keys and scratch,
 * host/io/idsort.h). Measured with `test_cluster --verbose`
 * (RelWithDebInfo as in .ci/test, 2-core AMD EPYC VM, 2026-12-07, 10 runs): 44-57 MiB while
 * node 1 was stopped and 55-67 MiB over the run, of bounds of 68 and 90 MiB; a CI run reached
 * 74 MiB over the run, above the 72 MiB this test allowed then (it counted the queues and the
 * final rows, not their capacity nor the sorted order). With SEND_LIMIT
 * raised to 8 GiB (no back-pressure at the client), 89-118 MiB with node 1 stopped (2026-11).
 * A baseline taken from the job's own first 0.5 s is no good: under --jobs=2 the client may
 * still be filling its queues then (0-26 MiB below its plateau). */
#define QUEUE_ALLOWANCE_KIB (44 * 1024L)

static long results_allowance_kib(uint32_t keys)
{
    size_t cap = 4096;
    while (cap < keys)
        cap *= 2;
    return (long)((cap * 80 + (size_t)keys * 128) / 1024);
}

Test(cluster, slow_node_sigstop, .init = setup, .fini = teardown, .timeout = 600)
{
    const uint32_t keys = 100000;
    const uint64_t seed = 99;
    char args[512];
    write_cluster("slow.yaml", 3, NULL, 61000);
    struct cluster cl;
    cluster_up(&cl, "slow.yaml", 3, 1, "up.err");

    /* the client's footprint without queues: a job of 1000 events over the same ads */
    snprintf(args, sizeof args,
             "ctr --cluster slow.yaml --events 1000 --keys %u --seed %" PRIu64
             " --output tiny.csv -q",
             keys, seed);
    int st = wait_exit(spawn(args, NULL, "tiny.err"), 120, args);
    cr_assert(eq(int, st, 0), "%s", slurp("tiny.err", NULL));
    long footprint = last_maxrss_kib;
    long bound = footprint + QUEUE_ALLOWANCE_KIB;
    long run_bound = bound + results_allowance_kib(keys);

    /* the large job, node 1 stopped from 0.5 s to 2.5 s */
    snprintf(args, sizeof args,
             "ctr --cluster slow.yaml --events %" PRIu64 " --keys %u --seed %" PRIu64
             " --output stopped.csv",
             BIG_EVENTS, keys, seed);
    double t0 = now_s();
    pid_t client = spawn(args, NULL, "client.err");
    while (now_s() < t0 + 0.5) {
        cr_assert(eq(int, reap(client, &st), 0),
                  "the client ended before the node was stopped (%d)", st);
        usleep(10000);
    }
    cr_assert(eq(int, kill(cl.node[1], SIGSTOP), 0));
    double stopped = now_s();
    long peak = 0;
    int alive = 1;
    while (now_s() < stopped + 2.0) {
        long r = rss_kib(client);
        if (r > peak)
            peak = r;
        if (reap(client, &st)) {
            alive = 0;
            break;
        }
        usleep(50000);
    }
    kill(cl.node[1], SIGCONT);
    cr_assert(alive, "the client finished (%d) while node 1 was stopped: it cannot have", st);
    st = wait_exit(client, 300, args);
    double t1 = now_s();
    long run_kib = last_maxrss_kib;
    char *err = slurp("client.err", NULL);
    cr_assert(eq(int, st, 0), "client: %s", err);
    cr_log_info("slow node: run %.2f s; client peak RSS: %ld KiB on 1000 events, %ld KiB while "
                "node 1 was stopped (bound %ld), %ld KiB over the run (bound %ld)",
                t1 - t0, footprint, peak, bound, run_kib, run_bound);
#if !SANITIZED /* ASan's quarantine keeps up to 256 MiB of freed frames resident: no bound */
    cr_assert(le(long, peak, bound), "client RSS while node 1 was stopped (sampled every 50 ms)");
    cr_assert(le(long, run_kib, run_bound), "client peak RSS over the run");
#endif
    cr_assert(ge(dbl, t1 - t0, 2.0), "the run waited for the stopped node");
    /* no loss: every node's line, no rejected frames, no gaps */
    cr_assert(eq(sz, count_str(err, "\n  node "), 3), "%s", err);
    cr_assert_null(strstr(err, "rejected"), "%s", err);

    expect_one_process(keys, seed, "stopped.csv",
                       "with node 1 stopped for 2 s against one process");

    cluster_down(&cl);
    free(err);
    finish();
}

/* ---- 5. a rogue client ----------------------------------------------------------------------- */

#define ROGUE_MAX_FRAME 65536 /* net.max_frame of the rogue test's cluster */
#define ROGUE_RECS 64

static void *rogue_socket(void *ctx, unsigned port)
{
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", port);
    void *s = zmq_socket(ctx, ZMQ_PUSH);
    cr_assert_not_null(s);
    int linger = 5000;
    cr_assert(eq(int, zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger), 0));
    cr_assert(eq(int, zmq_connect(s, ep), 0), "connect %s: %s", ep, zmq_strerror(zmq_errno()));
    return s;
}

static void rogue_send(void *s, const void *p, size_t len)
{
    cr_assert(eq(int, zmq_send(s, p, len, 0), (int)len), "zmq_send: %s", zmq_strerror(zmq_errno()));
}

/* A frame: header from the fields (the checksum computed by sl_frame_encode over the payload
 * bytes given), then `len` payload bytes. Returns its size. */
static size_t make_frame(unsigned char *out, uint16_t version, uint16_t kind, uint32_t schema,
                         uint32_t count, uint64_t seq, const unsigned char *payload, size_t len)
{
    sl_frame_hdr h = {.version = version,
                      .kind = kind,
                      .schema = schema,
                      .source = 7,
                      .stream = sl_job_stream(0, 0), /* job 0: never a real job's */
                      .count = count,
                      .seq = seq,
                      .payload_len = len};
    sl_frame_encode(&h, payload, out);
    memcpy(out + SL_FRAME_HDR, payload, len);
    return SL_FRAME_HDR + len;
}

/* One rogue burst to node port `port` on its own connection: first a well-formed DATA frame of
 * a job that does not exist (stale; burst 1 also replays burst 0's, a duplicate), then one of
 * each broken kind: 10 garbage bytes and a frame cut to 30 bytes (both shorter than a header),
 * 100 garbage bytes, another version, an unknown kind, a frame cut within its payload, a payload
 * over max_frame (its message stays under ZeroMQ's 2 x max_frame + 48, so it is read and
 * judged), a DATA frame of an unknown schema and one with a flipped payload byte. ZeroMQ sends
 * them after the socket is closed (ZMQ_LINGER); the test waits for the node's log lines. */
static void rogue_burst(void *ctx, unsigned port, unsigned burst)
{
    size_t plen = ROGUE_RECS * sizeof(sl_rec);
    unsigned char *pay = malloc(ROGUE_MAX_FRAME + 8192), *fr = malloc(ROGUE_MAX_FRAME + 8192);
    cr_assert(pay && fr);
    uint64_t s = 1000 + burst;
    for (size_t i = 0; i < ROGUE_MAX_FRAME + 8192; i++)
        pay[i] = (unsigned char)splitmix64(&s);
    void *sock = rogue_socket(ctx, port);
    size_t n;
    for (unsigned b = 0; b <= burst; b++) { /* burst 1 replays seq 0 */
        n = make_frame(fr, SL_FRAME_VERSION, SL_FRAME_DATA, SL_SCHEMA_REC, ROGUE_RECS, burst - b,
                       pay, plen);
        rogue_send(sock, fr, n);
    }
    rogue_send(sock, pay, 10);
    n = make_frame(fr, SL_FRAME_VERSION, SL_FRAME_DATA, SL_SCHEMA_REC, ROGUE_RECS, 50, pay, plen);
    rogue_send(sock, fr, 30);
    rogue_send(sock, fr, SL_FRAME_HDR + 1000);
    pay[0] = 'X';
    rogue_send(sock, pay, 100);
    n = make_frame(fr, SL_FRAME_VERSION + 1, SL_FRAME_DATA, SL_SCHEMA_REC, ROGUE_RECS, 51, pay,
                   plen);
    rogue_send(sock, fr, n);
    n = make_frame(fr, SL_FRAME_VERSION, SL_FRAME_APP - 1, 0, 0, 52, pay, plen);
    rogue_send(sock, fr, n);
    n = make_frame(fr, SL_FRAME_VERSION, SL_MSG_JOB, 0, 0, 53, pay, ROGUE_MAX_FRAME + 4464);
    cr_assert(le(sz, n, 2 * (size_t)ROGUE_MAX_FRAME + SL_FRAME_HDR));
    rogue_send(sock, fr, n);
    n = make_frame(fr, SL_FRAME_VERSION, SL_FRAME_DATA, 99, ROGUE_RECS, 54, pay, plen);
    rogue_send(sock, fr, n);
    n = make_frame(fr, SL_FRAME_VERSION, SL_FRAME_DATA, SL_SCHEMA_REC, ROGUE_RECS, 55, pay, plen);
    fr[SL_FRAME_HDR + 100] ^= 0x10;
    rogue_send(sock, fr, n);
    zmq_close(sock);
    free(pay);
    free(fr);
}

/* Abuse below the frame layer, counted by no reject counter: a plain TCP client speaking no
 * ZMTP (the handshake fails), and a ZeroMQ message over ZMQ_MAXMSGSIZE (ZeroMQ drops the
 * connection without reading it into memory). */
static void rogue_transport(void *ctx, unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(ge(int, fd, 0));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(eq(int, connect(fd, (struct sockaddr *)&a, sizeof a), 0), "%s", strerror(errno));
    static const char junk[] = "GET / HTTP/1.1\r\nHost: sluice\r\n\r\n\xff\x00\x01garbage";
    cr_assert(eq(long, (long)write(fd, junk, sizeof junk), (long)sizeof junk));
    usleep(100000);
    close(fd);

    size_t big = 3 * (size_t)ROGUE_MAX_FRAME;
    unsigned char *m = calloc(1, big);
    cr_assert_not_null(m);
    void *sock = rogue_socket(ctx, port);
    int linger = 1000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger); /* it may never be taken */
    rogue_send(sock, m, big);
    zmq_close(sock);
    free(m);
}

/* Waits until `text` occurs `times` times in file `name` (at most timeout_s). */
static void wait_for_log(const char *name, const char *text, size_t times, double timeout_s)
{
    double end = now_s() + timeout_s;
    for (;;) {
        char *s = slurp(name, NULL);
        size_t n = count_str(s, text);
        if (n >= times) {
            free(s);
            return;
        }
        cr_assert(now_s() < end, "\"%s\" %zu times in %s, want %zu:\n%s", text, n, name, times, s);
        free(s);
        usleep(20000);
    }
}

/* What node 1's line of the client's summary must say after both bursts: each verdict of
 * netio/frame.h twice (truncated header four times), and the three well-formed frames of a
 * stream no job of the node has (burst 0's, burst 1's and its replay): dropped as stale before
 * any sequence state is kept for them. */
#define ROGUE_SUMMARY                                                                              \
    "; rejected frames 18 (4 truncated header, 2 bad magic, 2 unknown version, 2 unknown kind, "   \
    "2 bad length, 2 oversized, 2 bad schema, 2 bad checksum), stale 3"

Test(cluster, rogue_client, .init = setup, .fini = teardown, .timeout = 600)
{
    const uint32_t keys = 100000;
    const uint64_t seed = 5;
    char args[512], line[1024];
    write_cluster("rogue.yaml", 3, "net: {max_frame: 65536}\n", 62500);
    unsigned port = first_port("rogue.yaml", 1);
    struct cluster cl;
    cluster_up(&cl, "rogue.yaml", 3, 0, "up.err"); /* nodes log each reject to up.err */
    void *ctx = zmq_ctx_new();
    cr_assert_not_null(ctx);

    /* before the job: node 1 rejects 9 and takes the stale frame only to ignore it */
    rogue_burst(ctx, port, 0);
    wait_for_log("up.err", "node 1: rejected a ", 9, 30);

    snprintf(args, sizeof args,
             "ctr --cluster rogue.yaml --events %" PRIu64 " --keys %u --seed %" PRIu64
             " --output three.csv",
             BIG_EVENTS, keys, seed);
    pid_t client = spawn(args, NULL, "client.err");
    /* during the job: once node 1 has started it */
    wait_for_log("up.err", "node 1: job ", 1, 60);
    rogue_burst(ctx, port, 1);
    rogue_transport(ctx, port);
    int st = wait_exit(client, 300, args);
    char *err = slurp("client.err", NULL);
    cr_assert(eq(int, st, 0), "client: %s", err);
    /* node 1 had rejected both bursts before it finished the job (its counters since it
     * started); the other nodes saw nothing wrong */
    line_starting(err, "  node 1: ", line, sizeof line);
    cr_assert_not_null(strstr(line, ROGUE_SUMMARY), "node 1's line: %s\nwant: %s", line,
                       ROGUE_SUMMARY);
    for (unsigned i = 0; i < 3; i += 2) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "  node %u: ", i);
        cr_assert_null(strstr(line_starting(err, prefix, line, sizeof line), "rejected"), "%s",
                       line);
    }
    expect_one_process(keys, seed, "three.csv",
                       "the job node 1 served under attack, against one process");

    /* the node still serves the next job correctly, and counted nothing more */
    struct run small =
        run_sluice("ctr --cluster rogue.yaml --events 200000 --keys 1000 --output s3.csv", 120);
    cr_assert(eq(int, small.status, 0), "%s", small.err);
    line_starting(small.err, "  node 1: ", line, sizeof line);
    cr_assert_not_null(strstr(line, ROGUE_SUMMARY), "node 1's line: %s", line);
    struct run small1 = run_sluice("ctr --events 200000 --keys 1000 --output s1.csv -q", 120);
    cr_assert(eq(int, small1.status, 0), "%s", small1.err);
    char *s1 = slurp("s1.csv", NULL), *s3 = slurp("s3.csv", NULL);
    assert_same_text(s3, s1, "the next job against one process");

    zmq_ctx_term(ctx);
    cluster_down(&cl);
    cr_assert(eq(sz, count_str(slurp("up.err", NULL), "node 1: rejected a "), 18));
    free(err);
    free(s1);
    free(s3);
    run_free(&small);
    run_free(&small1);
    finish();
}

/* ---- 6. cluster up and down ------------------------------------------------------------------ */

/* Nodes at one host share its CPUs for their kernels: each sets POCL_MAX_PTHREAD_COUNT to the
 * CPUs over the nodes at its host before it opens the device, and the device it opened reports
 * that many compute units (PoCL read it). */
Test(cluster, nodes_at_one_host_share_the_device_threads, .init = setup, .fini = teardown,
     .timeout = 300)
{
    if (getenv("POCL_MAX_PTHREAD_COUNT"))
        cr_skip_test("POCL_MAX_PTHREAD_COUNT is set: the nodes keep it");
    cpu_set_t set;
    cr_assert(eq(int, sched_getaffinity(0, sizeof set, &set), 0));
    const long cpus = CPU_COUNT(&set), want = cpus / 2 < 1 ? 1 : cpus / 2;
    write_cluster("share.yaml", 2, "partitions: 16\n", 58000);
    struct cluster cl;
    cluster_up(&cl, "share.yaml", 2, 0, "share.err");
    char *log = NULL;
    char line[2][160];
    for (unsigned i = 0; i < 2; i++)
        snprintf(line[i], sizeof line[i], "node %u: device ", i);
    for (int tries = 0; tries < 500; tries++) { /* the lines are written as the nodes start */
        free(log);
        log = slurp("share.err", NULL);
        if (log && strstr(log, line[0]) && strstr(log, line[1]))
            break;
        usleep(20000);
    }
    for (unsigned i = 0; i < 2; i++) {
        const char *at = log ? strstr(log, line[i]) : NULL;
        cr_assert_not_null(at, "node %u logs its device's share: %s", i, log ? log : "");
        char got[400], tail[160], units[64];
        snprintf(got, sizeof got, "%.*s", (int)strcspn(at, "\n"), at);
        snprintf(tail, sizeof tail,
                 "(POCL_MAX_PTHREAD_COUNT=%ld: the CPUs shared by the nodes at 127.0.0.1)", want);
        cr_assert_not_null(strstr(got, tail), "node %u (%ld CPUs here): %s", i, cpus, got);
        /* the compute units the opened device reports: PoCL's CPU device ("pthread-...")
         * honours the variable, another driver need not */
        snprintf(units, sizeof units, ": %ld compute unit%s (", want, want == 1 ? "" : "s");
        if (strstr(got, "device pthread"))
            cr_assert_not_null(strstr(got, units), "node %u: %s", i, got);
    }
    free(log);
    cluster_down(&cl);
    assert_nothing_running();
    finish();
}

Test(cluster, cluster_up_down, .init = setup, .fini = teardown, .timeout = 300)
{
    write_cluster("updown.yaml", 2, "partitions: 64\n", 64000);
    struct cluster cl;
    cluster_up(&cl, "updown.yaml", 2, 1, "up.err");
    for (unsigned i = 0; i < 2; i++)
        cr_assert(eq(int, kill(cl.node[i], 0), 0), "node %u runs", i);

    /* A second `cluster up` of the running file is refused and leaves the pid file alone. */
    struct run r = run_sluice("cluster up updown.yaml --quiet", 60);
    cr_assert(eq(int, r.status, 1), "second up: %s", r.err);
    cr_assert_not_null(strstr(r.err, "is already up"), "%s", r.err);
    run_free(&r);
    char *pidtext = slurp("updown.yaml.pid", NULL);
    cr_assert(eq(long, strtol(pidtext, NULL, 10), (long)cl.up), "the pid file is still up's");
    free(pidtext);

    /* Another cluster file naming node 0's address: its client finds a node of another cluster
     * there and stops before sending anything, and the running cluster is unharmed. */
    FILE *f = create("other.yaml");
    fprintf(f, "partitions: 64\nnodes:\n  - {id: 0, host: 127.0.0.1, port: %u}\n",
            first_port("updown.yaml", 0));
    fclose(f);
    r = run_sluice("ctr --cluster other.yaml --events 1000 -q", 60);
    cr_assert(eq(int, r.status, 1), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "is served by a process of another cluster"), "%s", r.err);
    run_free(&r);
    r = run_sluice(
        "ctr --cluster updown.yaml --events 20000 --keys 100 --seed 7 --output up.csv -q", 120);
    cr_assert(eq(int, r.status, 0), "%s", r.err);
    run_free(&r);
    uint64_t types[SL_EV_NTYPES];
    struct adcount *counts = gen_counts(20000, 100, 7, types);
    size_t rows;
    char *want_csv = expected_ctr_csv(counts, 100, &rows), *got = slurp("up.csv", NULL);
    assert_same_text(got, want_csv, "per-ad CTR from the running cluster");
    free(got);
    free(want_csv);
    free(counts);
    cluster_down(&cl);
    assert_nothing_running();

    r = run_sluice("cluster down updown.yaml", 60);
    cr_assert(eq(int, r.status, 1), "down without a cluster: %s", r.err);
    cr_assert_not_null(strstr(r.err, "no running cluster for updown.yaml"), "%s", r.err);
    run_free(&r);

    /* node ids out of order: FILE:LINE:COLUMN of the id, from every command that reads it */
    f = create("bad.yaml");
    fprintf(f, "partitions: 16\n"
               "nodes:\n"
               "  - {id: 0, host: 127.0.0.1, port: 21000}\n"
               "  - {id: 2, host: 127.0.0.1, port: 21010}\n");
    fclose(f);
    const char *want = "bad.yaml:4:10: nodes[1].id: node ids must be 0..N-1 in order: expected 1";
    r = run_sluice("cluster up bad.yaml", 60);
    cr_assert(eq(int, r.status, 2), "%s", r.err);
    cr_assert_not_null(strstr(r.err, want), "%s", r.err);
    cr_assert(eq(int, exists("bad.yaml.pid"), 0));
    run_free(&r);
    r = run_sluice("node --config bad.yaml --id 0", 60);
    cr_assert(eq(int, r.status, 2), "%s", r.err);
    cr_assert_not_null(strstr(r.err, want), "%s", r.err);
    run_free(&r);
    r = run_sluice("ctr --cluster bad.yaml --events 1000 -q", 60);
    cr_assert(ne(int, r.status, 0));
    cr_assert_not_null(strstr(r.err, want), "%s", r.err);
    run_free(&r);
    finish();
}
