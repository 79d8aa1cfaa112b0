/* Ingest through the live sources against a file: the same NDJSON events counted per ad (ctr)
 * by `sluice run` with a zmq source (PUSH messages of 1,000 lines), a tcp source (one
 * connection) and a file source, each run start to exit (the zmq and tcp runs end with SIGINT
 * once every byte is sent; SIGINT drains what the source took). Prints each run's wall time,
 * the median events/s of each source and its ratio to the file source measured in the same run.
 *
 *   ingest_live EVENTS.ndjson [--reps 3] [--sluice PATH]
 *
 * Every run's final rows must equal the file run's (checked: the output files are compared). */
#include <arpa/inet.h>
#include <errno.h>
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

static pid_t start(const char *sluice, const char *topo)
{
    pid_t pid = fork();
    if (pid == 0) {
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
    int hwm = 100, linger = -1;
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
    zmq_close(s); /* waits until every message is with the source (linger -1) */
    zmq_ctx_term(ctx);
    return 0;
}

/* Sends the events over one TCP connection (retrying the connect while the run starts). */
static int send_tcp(unsigned port, const char *data, size_t len)
{
    int fd = -1;
    for (int tries = 0; tries < 600; tries++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            break;
        close(fd);
        fd = -1;
        usleep(10000);
    }
    if (fd < 0)
        return -1;
    for (size_t at = 0; at < len;) {
        ssize_t k = write(fd, data + at, len - at);
        if (k <= 0)
            return -1;
        at += (size_t)k;
    }
    close(fd);
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
        fprintf(stderr, "usage: ingest_live EVENTS.ndjson [--reps N] [--sluice PATH]\n");
        return 2;
    }
    const char *events = argv[1], *sluice = SLUICE_BIN;
    int reps = 3;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sluice"))
            sluice = argv[i + 1];
    }
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
    const char *kinds[] = {"file", "zmq", "tcp"};
    double t[3][64];
    unsigned zport = 47000 + (unsigned)(getpid() % 2000), tport = zport + 1;
    char ref[600];
    snprintf(ref, sizeof ref, "%s/out-file.csv", dir);
    int bad = 0;
    for (int r = 0; r < reps && r < 64; r++) {
        for (int k = 0; k < 3; k++) {
            char topo[600], out[600];
            snprintf(topo, sizeof topo, "%s/%s.yaml", dir, kinds[k]);
            snprintf(out, sizeof out, "%s/out-%s.csv", dir, kinds[k]);
            FILE *f = fopen(topo, "w");
            if (k == 0)
                fprintf(f, "source: {type: file, path: \"%s\", format: ndjson}\n", events);
            else if (k == 1)
                fprintf(f, "source: {type: zmq, bind: \"tcp://127.0.0.1:%u\", format: ndjson}\n",
                        zport);
            else
                fprintf(f, "source: {type: tcp, bind: \"127.0.0.1:%u\"}\n", tport);
            fprintf(f, "pe: {kind: ctr, capacity: 2000000}\nsink: {path: \"%s\"}\n", out);
            fclose(f);
            double t0 = now_s();
            pid_t pid = start(sluice, topo);
            int rc = 0;
            if (k == 1) {
                char ep[64];
                snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", zport);
                rc = send_zmq(ep, data, len);
            } else if (k == 2) {
                rc = send_tcp(tport, data, len);
            }
            if (k > 0) {
                usleep(200000); /* the last bytes reach the source before the signal */
                kill(pid, SIGINT);
            }
            int st = finish(pid);
            t[k][r] = now_s() - t0;
            printf("run %d %-4s %6.3f s%s\n", r + 1, kinds[k], t[k][r], rc || st ? "  FAILED" : "");
            bad |= rc || st;
            size_t la, lb;
            char *a = slurp(ref, &la), *b = slurp(out, &lb);
            if (!a || !b || la != lb || memcmp(a, b, la) != 0) {
                printf("  results of %s differ from the file source's\n", kinds[k]);
                bad = 1;
            }
            free(a);
            free(b);
        }
    }
    double file_med = 0;
    for (int k = 0; k < 3; k++) {
        qsort(t[k], (size_t)reps, sizeof(double), cmp_double);
        double med = t[k][reps / 2];
        if (k == 0)
            file_med = med;
        printf("%-4s source: median %6.3f s (min %6.3f, max %6.3f; %d runs), %6.2f M events/s, "
               "%.2fx the file source\n",
               kinds[k], med, t[k][0], t[k][reps - 1], reps, (double)nev / med / 1e6,
               file_med / med);
    }
    printf("(%zu events, %.1f MB; whole runs from start to exit, kernel build from the cache "
           "included; the zmq and tcp runs include the 0.2 s before their SIGINT)\n",
           nev, (double)len / 1e6);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "ingest_live: could not remove %s\n", dir);
    free(data);
    return bad;
}
