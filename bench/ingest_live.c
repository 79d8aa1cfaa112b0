/* Ingest through the live sources against a file: the same NDJSON events counted per ad (ctr)
 * by `sluice run` with a zmq source (PUSH messages of 1,000 lines), a tcp source (one
 * connection) and a file source, each run start to exit (the zmq and tcp runs end with SIGINT
 * once every byte is sent; SIGINT drains what the source took). With --nodes N the same three
 * run again on N local nodes started by the run (`--nodes N`) with `source.ingest: nodes`:
 * every node reads its part of the file, or binds its own zmq/tcp endpoint (port + node id),
 * and the events are sent to the N endpoints at once, a contiguous 1/N of the lines to each.
 * Prints each run's wall time, the median events/s of each configuration and its ratio to the
 * one-process file source measured in the same run. With --checkpoint-ms MS every configuration
 * runs again with `checkpoint: {every_ms: MS}` (a live source's records then go through an
 * ingest log: the run's, or with --nodes each node's), interleaved with the run without, and
 * its ratio to the configuration without checkpoints is printed.
 *
 *   ingest_live EVENTS.ndjson [--reps 3] [--nodes N] [--checkpoint-ms MS] [--sluice PATH]
 *
 * Every run's final rows must equal the file run's (checked: the output files are compared). */
#include <pthread.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (s) {
        s[n] = '\0';
        *len = (size_t)n;
    }
    return s;
}

static pid_t start(const char *sluice, const char *topo, unsigned nodes)
{
    char n[16];
    snprintf(n, sizeof n, "%u", nodes);
    pid_t pid = fork();
    if (pid == 0) {
        if (nodes)
            execl(sluice, sluice, "run", topo, "-q", "--nodes", n, (char *)NULL);
        else
            execl(sluice, sluice, "run", topo, "-q", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int finish(pid_t pid)
{
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Sends the events as PUSH messages of up to 1,000 whole lines; returns 0 or -1. */
static int send_zmq(const char *ep, const char *data, size_t len)
{
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PUSH);
    int hwm = 100, linger = 60000; /* not for ever: the run may have died */
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, ep) != 0)
        return -1;
    size_t at = 0;
    while (at < len) {
        size_t end = at;
        for (int lines = 0; lines < 1000 && end < len; lines++) {
            const char *nl = memchr(data + end, '\n', len - end);
            end = nl ? (size_t)(nl - data) + 1 : len;
        }
        if (zmq_send(s, data + at, end - at, 0) < 0)
            return -1;
        at = end;
    }
    zmq_close(s); /* waits until every message is with the source (at most the linger) */
    zmq_ctx_term(ctx);
    return 0;
}

/* Sends the events over one TCP connection (retrying the connect while the run starts). */
static int send_tcp(unsigned port, const char *data, size_t len)
{
    int fd = -1, e = 0;
    for (int tries = 0; tries < 600; tries++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
        usleep(10000);
    }
    if (fd < 0) {
        fprintf(stderr, "ingest_live: tcp port %u: no connection in 6 s: %s\n", port, strerror(e));
        return -1;
    }
    for (size_t at = 0; at < len;) {
        ssize_t k = write(fd, data + at, len - at);
        if (k <= 0) {
            fprintf(stderr, "ingest_live: tcp port %u: writing after %zu of %zu bytes: %s\n", port,
                    at, len, k < 0 ? strerror(errno) : "nothing written");
            close(fd);
            return -1;
        }
        at += (size_t)k;
    }
    close(fd);
    return 0;
}

/* One sender thread: a zmq or tcp endpoint and its share of the lines. */
struct sender {
    pthread_t th;
    int zmq;
    unsigned port;
    const char *data;
    size_t len;
    int rc;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", s->port);
    s->rc = s->zmq ? send_zmq(ep, s->data, s->len) : send_tcp(s->port, s->data, s->len);
    return NULL;
}

/* Sends data to n endpoints at port, port + 1, ... at once, a contiguous 1/n of the lines to
 * each. Returns 0 or -1. */
static int send_spread(int zmq, unsigned port, unsigned n, const char *data, size_t len)
{
    struct sender s[64];
    size_t at = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t end = i + 1 == n ? len : len / n * (i + 1);
        const char *nl = end < len ? memchr(data + end, '\n', len - end) : NULL;
        end = nl ? (size_t)(nl - data) + 1 : len;
        if (end < at)
            end = at;
        s[i] = (struct sender){.zmq = zmq, .port = port + i, .data = data + at, .len = end - at};
        at = end;
        pthread_create(&s[i].th, NULL, sender_main, &s[i]);
    }
    int rc = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(s[i].th, NULL);
        rc |= s[i].rc;
    }
    return rc;
}

/* The first of `count` ports in a row that can be bound on 127.0.0.1 now, drawn from
 * 61000-65400: above Linux's ephemeral range (32768-60999), where an outgoing connection (a
 * sender's, a node's) can hold a port between runs. 0 when none is found. */
static unsigned free_span(unsigned count)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid();
    for (int tries = 0; tries < 500; tries++) {
        seed = seed * 1103515245u + 12345u;
        unsigned p = 61000 + (seed >> 8) % 4400, ok = 1;
        for (unsigned i = 0; i < count && ok; i++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(p + i))};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
            if (fd >= 0)
                close(fd);
        }
        if (ok)
            return p;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ingest_live EVENTS.ndjson [--reps N] [--nodes N] [--checkpoint-ms "
                        "MS] [--sluice PATH]\n");
        return 2;
    }
    const char *events = argv[1], *sluice = SLUICE_BIN;
    int reps = 3;
    unsigned nodes = 0, ckpt_ms = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--nodes"))
            nodes = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--checkpoint-ms"))
            ckpt_ms = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sluice"))
            sluice = argv[i + 1];
    }
    if (reps < 1 || reps > 64 || nodes > 64 || ckpt_ms > 3600000) {
        fprintf(stderr, "ingest_live: --reps 1..64, --nodes 0..64\n");
        return 2;
    }
    char events_abs[4096];
    if (!realpath(events, events_abs)) {
        fprintf(stderr, "ingest_live: cannot find %s: %s\n", events, strerror(errno));
        return 1;
    }
    events = events_abs;
    size_t len;
    char *data = slurp(events, &len);
    if (!data) {
        fprintf(stderr, "ingest_live: cannot read %s: %s\n", events, strerror(errno));
        return 1;
    }
    size_t nev = 0;
    for (size_t i = 0; i < len; i++)
        nev += data[i] == '\n';
    signal(SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/ingest_live_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    const char *kinds[] = {"file", "zmq", "tcp", "file", "zmq", "tcp"};
    int nbase = nodes ? 6 : 3, nconf = ckpt_ms ? 2 * nbase : nbase;
    double t[12][64];
    char ref[600];
    snprintf(ref, sizeof ref, "%s/out-file0.csv", dir);
    int bad = 0;
    char label[12][40];
    for (int k = 0; k < nconf; k++)
        snprintf(label[k], sizeof label[k], "%s%s%s", kinds[k % nbase],
                 k % nbase < 3 ? "" : " on nodes", k >= nbase ? " +ckpt" : "");
    for (int r = 0; r < reps; r++) {
        for (int c = 0; c < nconf; c++) {
            /* with checkpoints, each configuration right after the same one without */
            int k = ckpt_ms ? (c % 2) * nbase + c / 2 : c, base = k % nbase;
            char topo[600], out[600];
            unsigned n = base < 3 ? 0 : nodes;
            const char *ingest = n ? ", ingest: nodes" : "";
            snprintf(topo, sizeof topo, "%s/%s%d.yaml", dir, kinds[base], k);
            snprintf(out, sizeof out, "%s/out-%s%d.csv", dir, kinds[base], k);
            unsigned port = k % 3 ? free_span(n ? n : 1) : 0;
            FILE *f = fopen(topo, "w");
            if (k >= nbase)
                fprintf(f, "checkpoint: {every_ms: %u, dir: \"%s/ck%d\"}\n", ckpt_ms, dir, k);
            if (k % 3 == 0)
                fprintf(f, "source: {type: file, path: \"%s\", format: ndjson%s}\n", events,
                        ingest);
            else if (k % 3 == 1)
                fprintf(f, "source: {type: zmq, bind: \"tcp://127.0.0.1:%u\", format: ndjson%s}\n",
                        port, ingest);
            else
                fprintf(f, "source: {type: tcp, bind: \"127.0.0.1:%u\"%s}\n", port, ingest);
            fprintf(f, "pe: {kind: ctr, capacity: 2000000}\nsink: {path: \"%s\"}\n", out);
            fclose(f);
            double t0 = now_s();
            pid_t pid = start(sluice, topo, n);
            int rc = 0;
            if (k % 3 == 1)
                rc = send_spread(1, port, n ? n : 1, data, len);
            else if (k % 3 == 2)
                rc = send_spread(0, port, n ? n : 1, data, len);
            if (k % 3 > 0) {
                usleep(200000); /* the last bytes reach the source before the signal */
                kill(pid, SIGINT);
            }
            int st = finish(pid);
            t[k][r] = now_s() - t0;
            printf("run %d %-13s %6.3f s%s\n", r + 1, label[k], t[k][r],
                   rc || st ? "  FAILED" : "");
            bad |= rc || st;
            size_t la, lb;
            char *a = slurp(ref, &la), *b = slurp(out, &lb);
            if (!a || !b || la != lb || memcmp(a, b, la) != 0) {
                printf("  results of %s differ from the file source's\n", label[k]);
                bad = 1;
            }
            free(a);
            free(b);
        }
    }
    double file_med = 0;
    for (int k = 0; k < nconf; k++) {
        qsort(t[k], (size_t)reps, sizeof(double), cmp_double);
        double med = t[k][reps / 2];
        if (k == 0)
            file_med = med;
        char where[48] = "1 process";
        if (k % nbase >= 3)
            snprintf(where, sizeof where, "%u nodes", nodes);
        if (k >= nbase)
            snprintf(where + strlen(where), sizeof where - strlen(where),
                     ", checkpoints every %u ms", ckpt_ms);
        printf("%-4s source, %-9s: median %6.3f s (min %6.3f, max %6.3f; %d runs), %6.2f M "
               "events/s, %.2fx the one-process file source",
               kinds[k % nbase], where, med, t[k][0], t[k][reps - 1], reps, (double)nev / med / 1e6,
               file_med / med);
        if (k >= nbase)
            printf(", %.2fx the same without checkpoints", t[k - nbase][reps / 2] / med);
        printf("\n");
    }
    printf("(%zu events, %.1f MB; whole runs from start to exit, kernel build from the cache "
           "included, and with nodes their start; the zmq and tcp runs include the 0.2 s before "
           "their SIGINT)\n",
           nev, (double)len / 1e6);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "ingest_live: could not remove %s\n", dir);
    free(data);
    return bad;
}
