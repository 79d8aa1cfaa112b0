/* What checkpoints cost a one-process run: the same `sluice ctr --input FILE` without
 * checkpoints, with one every 1 s and with one every 100 ms, interleaved run by run, each a whole
 * process from start to exit. Prints each run's wall time, each configuration's median (min-max)
 * and its throughput against the run without checkpoints measured in the same series, and checks
 * that every run's output equals the run without checkpoints'.
 *
 *   ckpt_cost EVENTS.ndjson [--reps 5] [--sluice PATH]
 *
 * With --sweep instead of EVENTS: checkpoint size and time against key count. For each of 1k,
 * 10k, 100k, 1M and 10M keys (up to --max-keys), gen_events writes max(1M, 2 x keys) events over
 * that many ads, and `sluice ctr` runs over them with a table sized for them (--capacity: the
 * keys, at least 1,024) and a checkpoint every millisecond (one is taken as soon as the previous
 * one is written); its summary gives the largest checkpoint's time on the run's thread and on the
 * writer's, and the last one's size (the keys present by then).
 *
 *   ckpt_cost --sweep [--max-keys 10000000] [--sluice PATH] [--gen PATH]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs sluice with argv (NULL-terminated) and stdout to `out`; returns its exit status. */
static int run(char *const *argv, const char *out)
{
    fflush(NULL); /* not printed twice by the child's copy of the buffer */
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(out, "w", stdout))
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int same_file(const char *a, const char *b)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

/* Runs argv with stderr to `err` and stdout to /dev/null; returns its exit status. */
static int run_err(char *const *argv, const char *err)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen(err, "w", stderr))
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int sweep(const char *sluice, const char *gen, uint64_t max_keys)
{
    char dir[] = "/tmp/ckpt_sweep_XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "ckpt_cost: %s\n", strerror(errno));
        return 1;
    }
    printf("%10s %10s %10s %12s %16s %16s %8s\n", "keys", "events", "capacity", "ckpt size",
           "run thread max", "writer max", "written");
    int bad = 0;
    for (uint64_t keys = 1000; keys <= max_keys; keys *= 10) {
        uint64_t events = keys * 2 > 1000000 ? keys * 2 : 1000000;
        uint64_t cap = keys < 1024 ? 1024 : keys;
        char ev[600], err[600], ck[600], cmd[2000];
        snprintf(ev, sizeof ev, "%s/ev.ndjson", dir);
        snprintf(err, sizeof err, "%s/err.txt", dir);
        snprintf(ck, sizeof ck, "%s/ck", dir);
        snprintf(cmd, sizeof cmd, "'%s' --events %llu --keys %llu > '%s' && rm -rf '%s'", gen,
                 (unsigned long long)events, (unsigned long long)keys, ev, ck);
        if (system(cmd) != 0) {
            fprintf(stderr, "ckpt_cost: %s failed\n", cmd);
            bad = 1;
            break;
        }
        char caps[32];
        snprintf(caps, sizeof caps, "%llu", (unsigned long long)cap);
        char *args[] = {(char *)sluice,    "ctr", "--input",          ev, "--capacity", caps,
                        "--checkpoint-ms", "1",   "--checkpoint-dir", ck, NULL};
        int st = run_err(args, err);
        FILE *f = fopen(err, "r");
        char line[1200];
        double mb = 0, avg = 0, mx = 0, wavg = 0, wmx = 0;
        unsigned long long written = 0;
        int found = 0;
        while (f && fgets(line, sizeof line, f)) {
            const char *p = strstr(line, "checkpoints: ");
            if (p && sscanf(p,
                            "checkpoints: %llu written (the last %lf MB), %lf ms each on the run's "
                            "thread on average (%lf ms at most), then %lf ms writing on the "
                            "writer's (%lf at most)",
                            &written, &mb, &avg, &mx, &wavg, &wmx) == 6)
                found = 1;
        }
        if (f)
            fclose(f);
        if (st || !found) {
            printf("%10llu %10llu %10llu  FAILED (exit %d; see %s)\n", (unsigned long long)keys,
                   (unsigned long long)events, (unsigned long long)cap, st, err);
            bad = 1;
            break;
        }
        printf("%10llu %10llu %10llu %9.1f MB %13.1f ms %13.1f ms %8llu\n",
               (unsigned long long)keys, (unsigned long long)events, (unsigned long long)cap, mb,
               mx, wmx, written);
        fflush(stdout);
    }
    if (!bad) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "ckpt_cost: could not remove %s\n", dir);
    }
    return bad;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--sweep")) {
        const char *sluice = SLUICE_BIN, *gen = GEN_EVENTS_BIN;
        uint64_t max_keys = 10000000;
        for (int i = 2; i + 1 < argc; i += 2) {
            if (!strcmp(argv[i], "--max-keys"))
                max_keys = strtoull(argv[i + 1], NULL, 10);
            else if (!strcmp(argv[i], "--sluice"))
                sluice = argv[i + 1];
            else if (!strcmp(argv[i], "--gen"))
                gen = argv[i + 1];
        }
        return sweep(sluice, gen, max_keys);
    }
    if (argc < 2) {
        fprintf(stderr, "usage: ckpt_cost EVENTS.ndjson [--reps N] [--sluice PATH]\n");
        return 2;
    }
    const char *events = argv[1];
    char *sluice = SLUICE_BIN;
    int reps = 5;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sluice"))
            sluice = argv[i + 1];
    }
    if (reps < 1 || reps > 64) {
        fprintf(stderr, "ckpt_cost: --reps 1..64\n");
        return 2;
    }
    char dir[] = "/tmp/ckpt_cost_XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "ckpt_cost: %s\n", strerror(errno));
        return 1;
    }
    const char *every[] = {NULL, "1000", "100"};
    const char *label[] = {"no checkpoints", "every 1000 ms", "every 100 ms"};
    double t[3][64];
    char ref[600], ck[600];
    snprintf(ref, sizeof ref, "%s/out0.csv", dir);
    snprintf(ck, sizeof ck, "%s/ck", dir);
    int bad = 0;
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < 3; k++) {
            char out[600], cmd[800];
            snprintf(out, sizeof out, "%s/out%d.csv", dir, k);
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", ck);
            if (system(cmd) != 0)
                return 1;
            char *args[16] = {sluice, "ctr", "--input", (char *)events, "-q"};
            int a = 5;
            if (every[k]) {
                args[a++] = "--checkpoint-ms";
                args[a++] = (char *)every[k];
                args[a++] = "--checkpoint-dir";
                args[a++] = ck;
            }
            args[a] = NULL;
            double t0 = now_s();
            int st = run(args, out);
            t[k][r] = now_s() - t0;
            int same = k == 0 || same_file(out, ref);
            printf("run %d %-15s %6.3f s%s%s\n", r + 1, label[k], t[k][r], st ? "  FAILED" : "",
                   same ? "" : "  OUTPUT DIFFERS");
            bad |= st || !same;
        }
    double base = 0;
    for (int k = 0; k < 3; k++) {
        qsort(t[k], (size_t)reps, sizeof(double), cmp_double);
        double med = t[k][reps / 2];
        if (k == 0)
            base = med;
        printf("%-15s median %6.3f s (min %6.3f, max %6.3f; %d runs): %.2fx the throughput "
               "without checkpoints\n",
               label[k], med, t[k][0], t[k][reps - 1], reps, base / med);
    }
    printf("(whole runs from start to exit of `sluice ctr --input %s -q`; the summary line of a "
           "run without -q gives each checkpoint's size and time)\n",
           events);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "ckpt_cost: could not remove %s\n", dir);
    return bad;
}
