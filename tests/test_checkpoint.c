/* Checkpoints of a one-process run and resuming from them (host/run/checkpoint.h): a run killed
 * with SIGKILL at a random moment and resumed with --from must print exactly what a run that was
 * never stopped prints (every event counted once: the same CSV, byte for byte, and the same
 * count of malformed lines). Each trial says its seed and delay, to run it again:
 * SLUICE_TEST_SEED=N picks the first trial's seed. */
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

TestSuite(checkpoint, .init = setup, .fini = teardown, .timeout = 600);

#define BAD_EVERY 1001

/* Writes `lines` NDJSON lines to name, every BAD_EVERY-th one malformed; returns how many. */
static unsigned write_events(const char *name, unsigned lines, uint64_t seed)
{
    FILE *f = create(name);
    unsigned bad = 0;
    for (unsigned i = 0; i < lines; i++) {
        if (i % BAD_EVERY == BAD_EVERY - 1) {
            fprintf(f, "{\"ad_id\": 12, \"event_type\": \"view\"}\n");
            bad++;
            continue;
        }
        uint64_t r = splitmix64(&seed);
        fprintf(f,
                "{\"ad_id\": \"ad-%05u\", \"event_type\": \"%s\", \"event_time\": %u, "
                "\"user_id\": \"u%u\"}\n",
                (unsigned)(r % 20000), (r >> 32) % 10 == 0 ? "click" : "view", 1000 + i,
                (unsigned)((r >> 40) % 5000));
    }
    fclose(f);
    return bad;
}

/* 1 when directory `dir` of the test directory holds a checkpoint. */
static int has_checkpoint(const char *dir)
{
    DIR *d = opendir(tpath(dir));
    int found = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        found |= strncmp(e->d_name, "ckpt-", 5) == 0;
    if (d)
        closedir(d);
    return found;
}

Test(checkpoint, sigkill_then_resume_equals_uninterrupted)
{
    unsigned bad = write_events("events.ndjson", 400000, 42);
    struct run ref = run_sluice("ctr --input events.ndjson -q", 300);
    cr_assert(eq(int, ref.status, 0), "%s", ref.err);
    char total[96];
    snprintf(total, sizeof total, "%u malformed lines skipped in all", bad);
    cr_assert_not_null(strstr(ref.err, total), "%s", ref.err);
    const char *env = getenv("SLUICE_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    int resumed_mid_run = 0;
    for (int trial = 0; trial < 3; trial++, seed++) {
        uint64_t s = seed;
        unsigned delay_ms = (unsigned)(splitmix64(&s) % 600);
        char dir[32], args[256];
        snprintf(dir, sizeof dir, "ck%d", trial);
        snprintf(args, sizeof args,
                 "ctr --input events.ndjson -q --checkpoint-ms 40 --checkpoint-dir %s", dir);
        pid_t pid = spawn(args, NULL, NULL);
        double t_end = now_s() + 60;
        int st;
        while (!has_checkpoint(dir) && now_s() < t_end && !reap(pid, &st))
            usleep(5000);
        cr_assert(has_checkpoint(dir), "seed %" PRIu64 ": no checkpoint within 60 s", seed);
        usleep(delay_ms * 1000);
        int finished = reap(pid, &st);
        if (!finished) {
            kill(pid, SIGKILL);
            st = wait_exit(pid, 30, "the killed run");
            resumed_mid_run++;
        }
        snprintf(args, sizeof args,
                 "ctr --input events.ndjson -q --checkpoint-ms 40 --checkpoint-dir %s --from %s",
                 dir, dir);
        struct run r = run_sluice(args, 300);
        cr_assert(eq(int, r.status, 0),
                  "seed %" PRIu64 " (killed %u ms after the first "
                  "checkpoint%s): resume failed: %s",
                  seed, delay_ms, finished ? ", the run had ended" : "", r.err);
        assert_same_text(r.out, ref.out, "resumed run against an uninterrupted one");
        cr_assert_not_null(strstr(r.err, total),
                           "seed %" PRIu64 ": every malformed line counted "
                           "once: %s",
                           seed, r.err);
        run_free(&r);
    }
    cr_assert(gt(int, resumed_mid_run, 0), "no trial killed the run before it ended");
    run_free(&ref);
    finish();
}

/* The newest checkpoint corrupted: refused (named), the one before is used, and the output is
 * still exact. A PE whose state does not fit (another capacity) is refused, naming what differs.
 */
Test(checkpoint, corrupted_and_mismatched_refused)
{
    write_events("events.ndjson", 300000, 7);
    struct run ref = run_sluice("ctr --input events.ndjson -q", 300);
    cr_assert(eq(int, ref.status, 0), "%s", ref.err);
    /* a finished run's checkpoints: ckpt-1 .. ckpt-N, every 1 ms (keep 3 of them) */
    struct run full = run_sluice(
        "ctr --input events.ndjson -q --checkpoint-ms 1 --checkpoint-dir ck --batch 4096", 300);
    cr_assert(eq(int, full.status, 0), "%s", full.err);
    run_free(&full);
    char newest[300] = "";
    DIR *d = opendir(tpath("ck"));
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, "ckpt-", 5) == 0 && strcmp(e->d_name, newest + 3) > 0)
            snprintf(newest, sizeof newest, "ck/%s", e->d_name);
    closedir(d);
    cr_assert(ne(str, newest, ""));
    size_t len;
    char *img = slurp(newest, &len);
    cr_assert(gt(sz, len, 100));
    img[len / 2] ^= 0x10;
    FILE *f = create(newest);
    fwrite(img, 1, len, f);
    fclose(f);
    free(img);
    struct run r = run_sluice("ctr --input events.ndjson -q --from ck", 300);
    cr_assert(eq(int, r.status, 0), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "checksum mismatch"), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "resuming from an older one"), "%s", r.err);
    assert_same_text(r.out, ref.out, "resumed from the older checkpoint");
    run_free(&r);

    r = run_sluice("ctr --input events.ndjson -q --from ck --capacity 5000000", 300);
    cr_assert(ne(int, r.status, 0));
    cr_assert_not_null(strstr(r.err, "does not fit PE"), "%s", r.err);
    run_free(&r);

    write_events("other.ndjson", 100, 8);
    r = run_sluice("ctr --input other.ndjson -q --from ck", 300);
    cr_assert(ne(int, r.status, 0));
    cr_assert_not_null(strstr(r.err, "another input or topology"), "%s", r.err);
    run_free(&r);
    run_free(&ref);
    finish();
}

/* A checkpoint directory that cannot be written: the run goes on, says so, and its output is
 * exact; sources that cannot be replayed and ingest on the nodes are refused before anything
 * runs. */
Test(checkpoint, unwritable_dir_and_refusals)
{
    write_events("events.ndjson", 20000, 9);
    struct run ref = run_sluice("ctr --input events.ndjson -q", 300);
    tu_write_file(tpath("blocker"), "a file where the directory should be\n");
    struct run r = run_sluice(
        "ctr --input events.ndjson -q --checkpoint-ms 1 --checkpoint-dir blocker/ck", 300);
    cr_assert(eq(int, r.status, 0), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "the previous checkpoint stays usable"), "%s", r.err);
    assert_same_text(r.out, ref.out, "a run whose checkpoints fail");
    run_free(&r);

    r = run_sluice("ctr --input - -q --checkpoint-ms 100", 60);
    cr_assert(ne(int, r.status, 0));
    cr_assert_not_null(strstr(r.err, "a stdin source's events would need a write-ahead log"), "%s",
                       r.err);
    run_free(&r);
    r = run_sluice("ctr --input events.ndjson -q --checkpoint-ms 100 --nodes 2 --ingest-on-nodes",
                   120);
    cr_assert(ne(int, r.status, 0));
    cr_assert_not_null(strstr(r.err, "checkpoints on a cluster are not supported with ingest on "
                                     "the nodes"),
                       "%s", r.err);
    run_free(&r);
    run_free(&ref);
    finish();
}
