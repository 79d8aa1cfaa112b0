/* Checkpoints of a one-process run and resuming from them (host/run/checkpoint.h): a run killed
 * with SIGKILL at a random moment and resumed with --from must print exactly what a run that was
 * never stopped prints (every event counted once: the same CSV, byte for byte, and the same
 * count of malformed lines). Each trial says its seed and delay, to run it again:
 * SLUICE_TEST_SEED=N picks the first trial's seed. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
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
 * still exact. A PE whose state does not fit (a capacity below the saved table) is refused, naming
 * what differs.
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

    /* the resume above loaded a table that had grown; a cap smaller than it refuses it */
    r = run_sluice("ctr --input events.ndjson -q --from ck --capacity 100", 300);
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
 * exact; a followed file is refused before anything runs; ingest on the nodes from a CSV file
 * runs with checkpoints. */
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

    tu_write_file(tpath("follow.yaml"), "source: {type: file, path: events.ndjson, follow: true}\n"
                                        "pe: {kind: ctr}\ncheckpoint: {every_ms: 100, dir: ckf}\n");
    r = run_sluice("run follow.yaml -q", 60);
    cr_assert(ne(int, r.status, 0));
    cr_assert_not_null(strstr(r.err, "a followed file source is not supported yet"), "%s", r.err);
    run_free(&r);
    /* ingest on the nodes from a CSV file takes checkpoints (was refused: each part now reads
     * the header again when it resumes; the kill test is in test_recovery) */
    tu_write_file(tpath("ev.csv"), "ad_id,event_type,event_time\nad-1,view,1\nad-2,click,2\n"
                                   "ad-1,click,3\n\"ad-3\",view,4\n");
    tu_write_file(tpath("csvnodes.yaml"),
                  "source: {type: file, path: ev.csv, format: csv, ingest: nodes}\n"
                  "pe: {kind: ctr}\ncheckpoint: {every_ms: 100, dir: ckc}\n");
    r = run_sluice("run csvnodes.yaml -q --nodes 2", 120);
    struct run one = run_sluice("ctr --input ev.csv -f csv -q", 60);
    cr_assert(eq(int, r.status, 0), "%s", r.err);
    cr_assert(eq(int, one.status, 0), "%s", one.err);
    assert_same_text(r.out, one.out, "ingest on the nodes from CSV with checkpoints");
    run_free(&one);
    run_free(&r);
    run_free(&ref);
    finish();
}

/* ---- windowed PEs: their windows committed with each checkpoint ---------------------------- */

/* Writes `lines` NDJSON events for a 1 s windowed count, every BAD_EVERY-th line malformed:
 * times about 2 ms apart that jitter back by up to 300 ms (with 150 ms of lateness, some are
 * late), and ad ids that start with their window ("w00012-ad034"). An emission's rows are
 * sorted by id, then window; with ids that name their window, every grouping of consecutive
 * windows into emissions gives the same order, so the file is the same whatever moments the
 * windows were emitted at (those follow the clock: batch waits, checkpoints), and a run resumed
 * from a checkpoint can be compared with one that never stopped byte for byte. */
static void write_window_events(const char *name, unsigned lines, uint64_t seed)
{
    FILE *f = create(name);
    for (unsigned i = 0; i < lines; i++) {
        if (i % BAD_EVERY == BAD_EVERY - 1) {
            fprintf(f, "{\"ad_id\": \"w1\", \"event_type\": \"view\"\n");
            continue;
        }
        uint64_t r = splitmix64(&seed);
        unsigned t = 1000 + 2 * i - (unsigned)(r % 301);
        fprintf(f, "{\"ad_id\": \"w%05u-ad%03u\", \"event_type\": \"%s\", \"event_time\": %u}\n",
                t / 1000, (unsigned)((r >> 16) % 150), (r >> 40) % 10 == 0 ? "click" : "view", t);
    }
    fclose(f);
}

static const char window_topology[] =
    "source: {path: events.ndjson}\n"
    "pe: {kind: window_count, window_ms: 1000, lateness_ms: 150, capacity: 50000}\n"
    "batch: {events: 4096}\n"
    "sink: {path: out.csv}\n";

/* Size of file `name` of the test directory (0 when missing). */
static long file_size(const char *name)
{
    size_t len = 0;
    char *p = exists(name) ? slurp(name, &len) : NULL;
    free(p);
    return (long)len;
}

/* A windowed count writes its windows as the run goes. Killed with SIGKILL at a random moment
 * after its first checkpoint and resumed with --from, the output file (sink.path, written in
 * place and committed at each checkpoint) is truncated back to what the checkpoint committed and
 * written on from there: it ends byte for byte as a run that never stopped wrote it, with no
 * window lost, none twice and no partial row. Each trial prints its seed and delay. */
Test(checkpoint, windows_sigkill_then_resume_equals_uninterrupted)
{
    write_window_events("events.ndjson", 300000, 11);
    tu_write_file(tpath("win.yaml"), window_topology);
    struct run ref = run_sluice("run win.yaml -q -o ref.csv", 300);
    cr_assert(eq(int, ref.status, 0), "%s", ref.err);
    run_free(&ref);
    size_t ref_len;
    char *want = slurp("ref.csv", &ref_len);
    cr_assert(gt(sz, count_lines(want), 50000), "windows were written");
    const char *env = getenv("SLUICE_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    int mid_run_with_rows = 0;
    for (int trial = 0; trial < 3; trial++, seed++) {
        uint64_t s = seed;
        unsigned delay_ms = (unsigned)(splitmix64(&s) % 500);
        char dir[32], args[256];
        snprintf(dir, sizeof dir, "wk%d", trial);
        snprintf(args, sizeof args,
                 "run win.yaml -q -o out.csv --checkpoint-ms 30 --checkpoint-dir %s", dir);
        pid_t pid = spawn(args, NULL, NULL);
        double t_end = now_s() + 60;
        int st;
        while (!has_checkpoint(dir) && now_s() < t_end && !reap(pid, &st))
            usleep(2000);
        cr_assert(has_checkpoint(dir), "seed %" PRIu64 ": no checkpoint within 60 s", seed);
        usleep(delay_ms * 1000);
        int finished = reap(pid, &st);
        if (!finished) {
            kill(pid, SIGKILL);
            wait_exit(pid, 30, "the killed run");
            long at_kill = file_size("out.csv");
            mid_run_with_rows += at_kill > 0 && (size_t)at_kill < ref_len;
        }
        /* Whatever lies past the committed length goes: rows a killed run wrote after its last
         * checkpoint, a partial one. The resumed run writes those again, so here bytes it would
         * never write stand for them, as many as the whole output: only truncation removes them
         * all. */
        FILE *f = fopen(tpath("out.csv"), "ab");
        cr_assert_not_null(f);
        for (size_t i = 0; i < ref_len; i++)
            fputc(i % 64 == 63 ? '\n' : 'x', f);
        fclose(f);
        snprintf(args, sizeof args,
                 "run win.yaml -q -o out.csv --checkpoint-ms 30 --checkpoint-dir %s --from %s", dir,
                 dir);
        struct run r = run_sluice(args, 300);
        cr_assert(eq(int, r.status, 0),
                  "seed %" PRIu64 " (killed %u ms after the first checkpoint%s): resume "
                  "failed: %s",
                  seed, delay_ms, finished ? ", the run had ended" : "", r.err);
        size_t got_len;
        char *got = slurp("out.csv", &got_len);
        if (got_len != ref_len || memcmp(got, want, ref_len) != 0)
            fprintf(stderr, "seed %" PRIu64 ", killed %u ms after the first checkpoint:\n", seed,
                    delay_ms);
        assert_same_text(got, want, "resumed windows against an uninterrupted run's");
        free(got);
        run_free(&r);
    }
    cr_assert(gt(int, mid_run_with_rows, 0),
              "no trial killed the run after it wrote windows and before it ended");
    free(want);
    finish();
}

/* Runs `sluice ARGS` through /bin/sh in the test directory, ARGS redirecting standard output
 * itself (or piping it on), with standard error in "sh.err". Returns the exit status (of the
 * last command of a pipe) and the error text (malloc'd) in *err. */
static int sh_sluice(const char *args, char **err)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && { '%s' %s; } 2>sh.err", tmpdir, SLUICE_BIN, args);
    int st = system(cmd);
    cr_assert(ne(int, st, -1));
    *err = slurp("sh.err", NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The number of the newest checkpoint in dir (ckpt-N), 0 when there is none. */
static unsigned long newest_ckpt(const char *dir)
{
    unsigned long best = 0;
    DIR *d = opendir(tpath(dir));
    for (struct dirent *e; d && (e = readdir(d));)
        if (strncmp(e->d_name, "ckpt-", 5) == 0 && strspn(e->d_name + 5, "0123456789") == 20 &&
            !e->d_name[25]) {
            unsigned long n = strtoul(e->d_name + 5, NULL, 10);
            best = n > best ? n : best;
        }
    if (d)
        closedir(d);
    return best;
}

/* Standard output takes part when it is a regular file: the killed run's rows are kept up to
 * the committed length when the resumed run appends (>>) to the same file, and the file ends as
 * a run that never stopped wrote it. Opened again with > (emptied), it no longer holds what was
 * committed: refused, saying so. A pipe cannot be truncated: the resumed run says so on stderr
 * and writes the rows from the checkpoint on. */
Test(checkpoint, windows_on_stdout)
{
    /* long enough that checkpoints come after the first windows are written (CI once ended a
     * run of 200,000 lines before that) */
    write_window_events("events.ndjson", 800000, 12);
    tu_write_file(tpath("win.yaml"), window_topology);
    struct run ref = run_sluice("run win.yaml -q -o -", 300);
    cr_assert(eq(int, ref.status, 0), "%s", ref.err);
    pid_t pid =
        spawn("run win.yaml -q -o - --checkpoint-ms 30 --checkpoint-dir ck", "so.csv", NULL);
    double t_end = now_s() + 60;
    int st, ended = 0;
    /* by number, not by name: older checkpoints are removed (checkpoint.keep), and a poll that
     * came late under load missed ckpt-2 between its writing and its removal (CI, ASan pass) */
    while (newest_ckpt("ck") < 2 && now_s() < t_end && !(ended = reap(pid, &st)))
        usleep(2000);
    cr_assert(eq(int, ended, 0), "the run ended before its second checkpoint");
    /* a checkpoint taken after windows were written commits some output: the refusal below
     * needs one (under load, the second checkpoint can come before the first window) */
    while (file_size("so.csv") == 0 && now_s() < t_end && !(ended = reap(pid, &st)))
        usleep(2000);
    unsigned long after = newest_ckpt("ck") + 1;
    while (newest_ckpt("ck") < after && now_s() < t_end && !(ended = reap(pid, &st)))
        usleep(2000);
    cr_assert(eq(int, ended, 0), "the run ended before a checkpoint after its first windows");
    kill(pid, SIGKILL);
    wait_exit(pid, 30, "the killed run");
    cr_assert(gt(long, file_size("so.csv"), 0), "windows were written before the kill");
    /* the newest checkpoint the killed run left: number `after` or a later one */
    char committed[64];
    snprintf(committed, sizeof committed, "ck/ckpt-%020lu", newest_ckpt("ck"));

    char *err;
    int status = sh_sluice("run win.yaml -q -o - --from ck >> so.csv", &err);
    cr_assert(eq(int, status, 0), "%s", err);
    free(err);
    char *got = slurp("so.csv", NULL);
    assert_same_text(got, ref.out, "stdout appended to after a resume");
    free(got);

    char args[200];
    snprintf(args, sizeof args, "run win.yaml -q -o - --from %s > emptied.csv", committed);
    status = sh_sluice(args, &err);
    cr_assert(eq(int, status, 1));
    cr_assert_not_null(strstr(err, "fewer than"), "%s", err);
    cr_assert_not_null(strstr(err, ">>"), "%s", err);
    free(err);

    snprintf(args, sizeof args, "run win.yaml -q -o - --from %s | cat > piped.csv", committed);
    status = sh_sluice(args, &err);
    cr_assert(eq(int, status, 0), "%s", err);
    cr_assert_not_null(strstr(err, "not a regular file"), "%s", err);
    free(err);
    got = slurp("piped.csv", NULL);
    size_t n = strlen(got);
    cr_assert(gt(sz, n, 0));
    cr_assert(le(sz, n, strlen(ref.out)));
    cr_assert(eq(int, memcmp(got, ref.out + strlen(ref.out) - n, n), 0),
              "the pipe gets the rows from the checkpoint on: the uninterrupted output's tail");
    free(got);
    run_free(&ref);
    finish();
}

/* stdin cannot be read again: its records go through the ingest log. The events go into a pipe
 * in bursts; after a random burst, once the run has read everything written (the pipe is
 * empty) and a random delay later (checkpoints every 40 ms, log syncs, a write in flight), the
 * run is SIGKILLed. A second run with --from reads the same pipe: it replays the log after the
 * newest checkpoint, then reads the bursts still to come. Its output must equal the run over
 * the whole file, byte for byte. What a killed run read but had not yet appended to the log is
 * lost by nature (not accepted): the test kills only once the pipe is drained. */
Test(checkpoint, stdin_sigkill_then_resume_equals_uninterrupted)
{
    const unsigned lines = 300000, bursts = 20;
    signal(SIGPIPE, SIG_IGN); /* a run that died: EPIPE, said by write_all */
    write_events("events.ndjson", lines, 77);
    struct run ref = run_sluice("ctr --input events.ndjson -q", 300);
    cr_assert(eq(int, ref.status, 0), "%s", ref.err);
    size_t len;
    char *all = slurp("events.ndjson", &len);
    size_t cut[21]; /* burst b is [cut[b], cut[b + 1]), whole lines */
    cut[0] = 0;
    for (unsigned b = 1, line = 0; b <= bursts; b++) {
        size_t at = cut[b - 1];
        while (at < len && line < b * (lines / bursts))
            if (all[at++] == '\n')
                line++;
        cut[b] = b == bursts ? len : at;
    }
    const char *env = getenv("SLUICE_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    for (int trial = 0; trial < 3; trial++, seed++) {
        uint64_t s = seed;
        unsigned kill_after = 1 + (unsigned)(splitmix64(&s) % (bursts - 2));
        unsigned delay_ms = (unsigned)(splitmix64(&s) % 300);
        char args[256];
        int p[2];
        cr_assert(eq(int, pipe2(p, O_CLOEXEC), 0));
        cr_assert(eq(int, fcntl(p[1], F_SETFL, O_NONBLOCK), 0));
        snprintf(args, sizeof args, "ctr --input - -q --checkpoint-ms 40 --checkpoint-dir cks%d",
                 trial);
        pid_t pid = spawn_in(args, p[0], "out1.csv", "err1.txt");
        for (unsigned b = 0; b <= kill_after; b++) {
            write_all(p[1], all + cut[b], cut[b + 1] - cut[b], pid, "err1.txt");
            usleep(20000);
        }
        int unread = 1;
        for (double t_end = now_s() + 60; unread > 0 && now_s() < t_end;)
            if (ioctl(p[0], FIONREAD, &unread) != 0 || unread > 0)
                usleep(5000);
        cr_assert(eq(int, unread, 0), "seed %" PRIu64 ": the run did not read its stdin", seed);
        usleep(150000 + delay_ms * 1000); /* what it read is parsed and logged by then */
        int st;
        cr_assert(eq(int, reap(pid, &st), 0), "seed %" PRIu64 ": the run ended early: %s", seed,
                  slurp("err1.txt", NULL));
        kill(pid, SIGKILL);
        wait_exit(pid, 30, "the killed run");
        snprintf(args, sizeof args,
                 "ctr --input - -q --checkpoint-ms 40 --checkpoint-dir cks%d --from cks%d", trial,
                 trial);
        pid = spawn_in(args, p[0], "out2.csv", "err2.txt");
        close(p[0]);
        for (unsigned b = kill_after + 1; b < bursts; b++)
            write_all(p[1], all + cut[b], cut[b + 1] - cut[b], pid, "err2.txt");
        close(p[1]);
        st = wait_exit(pid, 120, "the resumed run");
        char *err = slurp("err2.txt", NULL), *out = slurp("out2.csv", NULL);
        cr_assert(eq(int, st, 0),
                  "seed %" PRIu64 " (killed %u ms after burst %u of %u was read): resume "
                  "failed: %s",
                  seed, delay_ms + 150, kill_after + 1, bursts, err);
        char what[160];
        snprintf(what, sizeof what,
                 "seed %" PRIu64 ": stdin resumed from the ingest log (killed %u ms after burst "
                 "%u)",
                 seed, delay_ms + 150, kill_after + 1);
        assert_same_text(out, ref.out, what);
        free(err);
        free(out);
    }
    free(all);
    run_free(&ref);
    finish();
}
