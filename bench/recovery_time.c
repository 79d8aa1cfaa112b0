/* How long a clustered run takes to recover from a node killed with SIGKILL: `sluice ctr --input
 * FILE --nodes 3 --checkpoint-ms MS`, one of its node processes killed a while after every node's
 * first checkpoint, split into
 *
 *   detection  the kill to the client saying the node died (its stderr line, read here as it
 *              comes),
 *   restore    the failure seen to every node of the new attempt holding the job with its state
 *              loaded (the node started again, its device opened, the kernels built, the
 *              checkpoint read), as the client reports it,
 *   catch-up   from there until the nodes have taken the input again up to where it had been
 *              read when the failure was seen (the client's report),
 *
 * and checks that each run's output equals a one-process run's. Prints each run and the median
 * (min-max) of each part over the runs.
 *
 *   recovery_time EVENTS.ndjson [--reps 5] [--checkpoint-ms 1000] [--kill-after-ms 1500]
 *                 [--sluice PATH]
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
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

/* 1 when dir/node-0..2 each hold a checkpoint. */
static int all_checkpointed(const char *dir)
{
    for (int i = 0; i < 3; i++) {
        char sub[4300];
        snprintf(sub, sizeof sub, "%s/node-%d", dir, i);
        DIR *d = opendir(sub);
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

/* A child process of pid (a node of its --nodes run), or 0. */
static pid_t a_child(pid_t pid, unsigned pick)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    long v[8];
    int n = 0;
    while (f && n < 8 && fscanf(f, "%ld", &v[n]) == 1)
        n++;
    if (f)
        fclose(f);
    return n ? (pid_t)v[pick % (unsigned)n] : 0;
}

static int same_file(const char *a, const char *b)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static void rm_rf(const char *dir)
{
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "recovery_time: could not remove %s\n", dir);
}

static void report(const char *name, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    printf("  %-10s median %.3f s (%.3f-%.3f)\n", name, v[n / 2], v[0], v[n - 1]);
}

int main(int argc, char **argv)
{
    const char *input = NULL, *sluice = "./build/sluice";
    int reps = 5, every_ms = 1000, after_ms = 1500;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--checkpoint-ms") == 0 && i + 1 < argc)
            every_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--kill-after-ms") == 0 && i + 1 < argc)
            after_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--sluice") == 0 && i + 1 < argc)
            sluice = argv[++i];
        else if (argv[i][0] != '-' && !input)
            input = argv[i];
        else {
            fprintf(stderr, "usage: recovery_time EVENTS.ndjson [--reps N] [--checkpoint-ms MS] "
                            "[--kill-after-ms MS] [--sluice PATH]\n");
            return 2;
        }
    }
    if (!input || reps < 1 || reps > 100 || every_ms < 1) {
        fprintf(stderr, "recovery_time: give an input file (and --reps 1..100)\n");
        return 2;
    }
    char tmp[] = "/tmp/recovery_time.XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char ref[4200], out[4200], dir[4200], cmd[9000];
    snprintf(ref, sizeof ref, "%s/ref.csv", tmp);
    snprintf(out, sizeof out, "%s/out.csv", tmp);
    snprintf(dir, sizeof dir, "%s/ck", tmp);
    snprintf(cmd, sizeof cmd, "'%s' ctr --input '%s' -q > '%s'", sluice, input, ref);
    double t0 = now_s();
    if (system(cmd) != 0) {
        fprintf(stderr, "recovery_time: the one-process run failed\n");
        return 1;
    }
    printf("one process, no failure: %.3f s\n", now_s() - t0);
    printf("3 nodes (--nodes 3), checkpoint every %d ms, a node killed %d ms after every "
           "node's first checkpoint\n",
           every_ms, after_ms);
    double *det = calloc((size_t)reps, sizeof *det), *res = calloc((size_t)reps, sizeof *res),
           *cat = calloc((size_t)reps, sizeof *cat), *tot = calloc((size_t)reps, sizeof *tot);
    int good = 0, failed = 0;
    for (int r = 0; r < reps; r++) {
        rm_rf(dir);
        int pipefd[2];
        if (pipe(pipefd) != 0)
            return 1;
        char every[16];
        snprintf(every, sizeof every, "%d", every_ms);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            if (!freopen(out, "w", stdout))
                _exit(126);
            dup2(pipefd[1], 2);
            close(pipefd[0]);
            close(pipefd[1]);
            execl(sluice, sluice, "ctr", "--input", input, "--nodes", "3", "--checkpoint-ms", every,
                  "--checkpoint-dir", dir, (char *)NULL);
            _exit(127);
        }
        close(pipefd[1]);
        double deadline = now_s() + 120;
        while (!all_checkpointed(dir) && now_s() < deadline)
            usleep(5000);
        usleep((useconds_t)after_ms * 1000);
        pid_t victim = a_child(pid, (unsigned)r);
        double t_kill = now_s(), t_seen = 0, restore = -1, catchup = -1;
        if (victim)
            kill(victim, SIGKILL);
        FILE *err = fdopen(pipefd[0], "r");
        char line[4096];
        while (err && fgets(line, sizeof line, err)) {
            if (!t_seen && (strstr(line, "was killed by signal") || strstr(line, "silent")))
                t_seen = now_s();
            const char *p = strstr(line, "sluice: recovered: ");
            if (p) {
                const char *a = strstr(p, "state ");
                const char *b = strstr(p, "where it was ");
                if (a && b) {
                    restore = strtod(a + 6, NULL);
                    catchup = strtod(b + 13, NULL);
                }
            }
        }
        if (err)
            fclose(err);
        int st;
        waitpid(pid, &st, 0);
        int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && same_file(out, ref);
        if (!ok)
            failed++;
        if (!victim || !t_seen || restore < 0) {
            printf("  run %d: no recovery measured (the job ended first?) %s\n", r + 1,
                   ok ? "output equal" : "OUTPUT DIFFERS OR FAILED");
            continue;
        }
        det[good] = t_seen - t_kill;
        res[good] = restore;
        cat[good] = catchup;
        tot[good] = det[good] + restore + catchup;
        printf("  run %d: detection %.3f s, restore %.3f s, catch-up %.3f s, total %.3f s; "
               "output %s\n",
               r + 1, det[good], res[good], cat[good], tot[good], ok ? "equal" : "DIFFERS");
        good++;
    }
    if (good) {
        printf("over %d recoveries:\n", good);
        report("detection", det, good);
        report("restore", res, good);
        report("catch-up", cat, good);
        report("total", tot, good);
    }
    rm_rf(tmp);
    free(det);
    free(res);
    free(cat);
    free(tot);
    return failed ? 1 : 0;
}
