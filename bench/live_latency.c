/* Visibility latency of a live stream: how long after an event is written to sluice's input its
 * result shows in the output. Runs `sluice run` on a topology of stdin NDJSON -> ctr with a
 * trigger every_ms -> stdout snapshots (sink.mode full or changes), writes events at a fixed
 * rate from 1,000 background ads, and every 10 ms a probe event of an ad never seen before; the
 * latency of a probe is the time from its write to the first output line that names it. Prints
 * p50, p99 and p99.9 per rate, and the bound the design aims at (every_ms + 20 ms) beside them.
 *
 *   live_latency [--sluice PATH] [--every-ms 100] [--mode full|changes]
 *                [--rates 1000,10000,100000] [--seconds 5] [--nodes N]
 *
 * With --nodes N the run is `sluice run --nodes N`: N local node processes, snapshots gathered by
 * the client (docs/cluster.md).
 *
 * Measures the whole path (pipe, parse, batch, device, emission, sort, write, pipe). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROBES 100000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct run {
    int out_fd;
    double sent[MAX_PROBES]; /* write time of probe i; 0 = not sent */
    double seen[MAX_PROBES]; /* first output line naming it; 0 = not seen */
    unsigned nprobes;
    volatile int warm; /* the warm-up event's line was seen */
};

/* Reads sluice's output; notes when each probe-N first appears. */
static void *reader(void *arg)
{
    struct run *r = arg;
    static char buf[1 << 20];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(r->out_fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            break;
        double t = now_s();
        have += (size_t)n;
        buf[have] = '\0';
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = '\0';
            char *p = strstr(line, "probe-");
            if (strstr(line, "warm"))
                r->warm = 1;
            if (p) {
                unsigned i = (unsigned)strtoul(p + 6, NULL, 10);
                if (i < MAX_PROBES && r->seen[i] == 0)
                    r->seen[i] = t;
            }
            line = nl + 1;
        }
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
        if (have >= sizeof buf - 1)
            have = 0; /* a line longer than the buffer: drop it */
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* One run at `rate` events/s for `seconds`. Returns 0 and prints a line, or -1. */
static int run_rate(const char *sluice, const char *topo, unsigned rate, double seconds,
                    unsigned every_ms, const char *mode, const char *nodes)
{
    int in[2], out[2];
    if (pipe(in) || pipe(out))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        if (nodes)
            execl(sluice, sluice, "run", topo, "-q", "--nodes", nodes, (char *)NULL);
        else
            execl(sluice, sluice, "run", topo, "-q", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    struct run *r = calloc(1, sizeof *r);
    r->out_fd = out[0];
    pthread_t th;
    pthread_create(&th, NULL, reader, r);

    /* warm up: the kernel build; wait until a first probe is visible */
    char line[256];
    int n = snprintf(line, sizeof line,
                     "{\"ad_id\":\"warm\",\"event_type\":\"view\",\"event_time\":1}\n");
    if (write(in[1], line, (size_t)n) != n)
        return -1;
    for (int i = 0; i < 600 && !r->warm; i++) /* nodes take a while to start */
        usleep(100000);
    usleep(500000);

    double t0 = now_s(), next_probe = t0;
    uint64_t sent = 0;
    unsigned probe = 0;
    char buf[1 << 16];
    while (now_s() - t0 < seconds) {
        double now = now_s();
        uint64_t due = (uint64_t)((now - t0) * rate);
        size_t len = 0;
        while (sent < due && len + 200 < sizeof buf) {
            len += (size_t)snprintf(
                buf + len, sizeof buf - len,
                "{\"ad_id\":\"ad-%llu\",\"event_type\":\"%s\",\"event_time\":%llu}\n",
                (unsigned long long)(sent % 1000), sent % 10 ? "view" : "click",
                (unsigned long long)(1000 + sent));
            sent++;
        }
        int is_probe = now >= next_probe && probe < MAX_PROBES;
        if (is_probe) {
            len += (size_t)snprintf(
                buf + len, sizeof buf - len,
                "{\"ad_id\":\"probe-%u\",\"event_type\":\"view\",\"event_time\":%llu}\n", probe,
                (unsigned long long)(1000 + sent));
            next_probe += 0.010;
        }
        if (len && write(in[1], buf, len) != (ssize_t)len)
            break;
        if (is_probe)
            r->sent[probe++] = now_s();
        if (!len)
            usleep(200);
    }
    double elapsed = now_s() - t0;
    usleep((useconds_t)(every_ms + 500) * 1000); /* the last probes' snapshot */
    close(in[1]);
    int st;
    waitpid(pid, &st, 0);
    pthread_join(th, NULL);
    close(out[0]);

    double *lat = malloc(probe * sizeof *lat);
    size_t k = 0, missing = 0;
    for (unsigned i = 0; i < probe; i++) {
        if (r->seen[i] > 0 && r->seen[i] >= r->sent[i])
            lat[k++] = (r->seen[i] - r->sent[i]) * 1000.0;
        else
            missing++;
    }
    qsort(lat, k, sizeof *lat, cmp_double);
    printf("%-8s every_ms %-5u offered %8u ev/s  achieved %9.0f ev/s  probes %5zu  "
           "p50 %7.1f ms  p99 %7.1f ms  p99.9 %7.1f ms  max %7.1f ms  (bound every_ms+20 = %u "
           "ms)%s%s\n",
           mode, every_ms, rate, (double)sent / elapsed, k, pct(lat, k, 0.5), pct(lat, k, 0.99),
           pct(lat, k, 0.999), k ? lat[k - 1] : 0.0, every_ms + 20,
           missing ? "  SOME PROBES NEVER SEEN" : "", nodes ? "  (--nodes)" : "");
    fflush(stdout);
    free(lat);
    free(r);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && !missing ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *sluice = SLUICE_BIN, *mode = "full", *rates = "1000,10000,100000", *nodes = NULL;
    unsigned every_ms = 100;
    double seconds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--sluice"))
            sluice = argv[i + 1];
        else if (!strcmp(argv[i], "--every-ms"))
            every_ms = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mode"))
            mode = argv[i + 1];
        else if (!strcmp(argv[i], "--rates"))
            rates = argv[i + 1];
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--nodes"))
            nodes = argv[i + 1];
        else {
            fprintf(stderr, "usage: live_latency [--sluice PATH] [--every-ms MS] "
                            "[--mode full|changes] [--rates R1,R2] [--seconds S] [--nodes N]\n");
            return 2;
        }
    }
    char topo[] = "/tmp/live_latency_XXXXXX.yaml";
    int fd = mkstemps(topo, 5);
    if (fd < 0)
        return 1;
    dprintf(fd,
            "source: {type: stdin, format: ndjson}\n"
            "pe: {kind: ctr, capacity: 200000, trigger: {every_ms: %u}}\n"
            "sink: {path: \"-\", snapshots: true, mode: %s}\n",
            every_ms, mode);
    close(fd);
    signal(SIGPIPE, SIG_IGN);
    int rc = 0;
    char *list = strdup(rates);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ","))
        rc |= run_rate(sluice, topo, (unsigned)atoi(tok), seconds, every_ms, mode, nodes);
    free(list);
    unlink(topo);
    return rc ? 1 : 0;
}
