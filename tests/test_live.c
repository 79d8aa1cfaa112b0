/* Live streams through the sluice binary: results that keep flowing while input is slow or
 * silent (time-driven dispatch and every_ms triggers), and stops on SIGINT that drain what was
 * read and write the final rows (exit 0). Input is written by the test at a known pace; every
 * count is checked against the events the test wrote, counted here in plain C.
 *
 * Timing checks leave room for a loaded 2-core machine: each says the timing it saw. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include <zmq.h>

#include "proc.h"

#define KEYS 7

/* What the test wrote: impressions and clicks per ad (ad-0 .. ad-6). */
struct counts {
    unsigned long imp[KEYS], clk[KEYS];
};

/* Writes event i (ad i % KEYS; every 5th a click) as one NDJSON line to fd, counting it. */
static void write_event(int fd, unsigned i, struct counts *c)
{
    char line[160];
    unsigned ad = (i * 5u) % KEYS;
    int click = i % 5 == 4;
    int n = snprintf(line, sizeof line,
                     "{\"ad_id\":\"ad-%u\",\"event_type\":\"%s\",\"event_time\":%u}\n", ad,
                     click ? "click" : "view", 1000 + i);
    cr_assert(eq(long, (long)write(fd, line, (size_t)n), (long)n), "%s", strerror(errno));
    if (click)
        c->clk[ad]++;
    else
        c->imp[ad]++;
}

/* Index of column `name` in the CSV header line `hdr`, or -1. */
static int column(const char *hdr, const char *name)
{
    int i = 0;
    size_t len = strlen(name);
    for (const char *p = hdr;; i++) {
        if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == '\n' || !p[len]))
            return i;
        p = strchr(p, ',');
        if (!p)
            return -1;
        p++;
    }
}

/* Field i of CSV line s (no quoting in these ids) into out. */
static void field(const char *s, int i, char *out, size_t len)
{
    while (i-- > 0 && s)
        s = (s = strchr(s, ',')) ? s + 1 : NULL;
    size_t n = 0;
    while (s && s[n] && s[n] != ',' && s[n] != '\n')
        n++;
    snprintf(out, len, "%.*s", (int)n, s ? s : "");
}

/* Checks that the rows whose emit column is "final" in CSV text equal c exactly. */
static void expect_final(const char *text, const struct counts *c)
{
    const char *nl = strchr(text, '\n');
    cr_assert_not_null(nl, "no header in:\n%s", text);
    char hdr[512];
    snprintf(hdr, sizeof hdr, "%.*s", (int)(nl - text), text);
    int ce = column(hdr, "emit"), ca = column(hdr, "ad_id"), ci = column(hdr, "impressions"),
        cc = column(hdr, "clicks");
    cr_assert(ca >= 0 && ci >= 0 && cc >= 0, "header %s", hdr);
    unsigned seen = 0;
    for (const char *l = nl + 1; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
        char kind[32] = "final", ad[32], imp[32], clk[32];
        if (ce >= 0)
            field(l, ce, kind, sizeof kind);
        if (strcmp(kind, "final") != 0)
            continue;
        field(l, ca, ad, sizeof ad);
        field(l, ci, imp, sizeof imp);
        field(l, cc, clk, sizeof clk);
        unsigned k;
        cr_assert(eq(int, sscanf(ad, "ad-%u", &k), 1), "row %.60s", l);
        cr_assert(lt(uint, k, KEYS));
        cr_assert(eq(ulong, strtoul(imp, NULL, 10), c->imp[k]), "impressions of ad-%u", k);
        cr_assert(eq(ulong, strtoul(clk, NULL, 10), c->clk[k]), "clicks of ad-%u", k);
        seen++;
    }
    unsigned want = 0;
    for (unsigned k = 0; k < KEYS; k++)
        want += c->imp[k] + c->clk[k] > 0;
    cr_assert(eq(uint, seen, want), "final rows in:\n%s", text);
}

/* The highest N of "snapshot-N" in file `name` so far (0: none). */
static unsigned last_snapshot(const char *name)
{
    char *s = tu_read_file(tpath(name), NULL); /* NULL until the run opens it */
    unsigned last = 0;
    for (const char *p = s ? s : ""; (p = strstr(p, "snapshot-")); p += 9) {
        unsigned v = (unsigned)strtoul(p + 9, NULL, 10);
        last = v > last ? v : last;
    }
    free(s);
    return last;
}

/* Starts `sluice ctr --input - --every-ms MS --snapshots --output out.csv` on a pipe whose write
 * end goes to *wfd (the child keeps only its stdin). Returns its pid. */
static pid_t start_ctr(unsigned every_ms, int *wfd)
{
    int p[2];
    char args[128];
    cr_assert(eq(int, pipe2(p, O_CLOEXEC), 0));
    snprintf(args, sizeof args, "ctr --input - --every-ms %u --snapshots --output out.csv -q",
             every_ms);
    pid_t pid = spawn_in(args, p[0], NULL, "err.txt");
    close(p[0]);
    *wfd = p[1];
    return pid;
}

/* Waits (at most 60 s) for the first snapshot in out.csv; returns the last one's number. */
static unsigned first_snapshot(void)
{
    double t_end = now_s() + 60;
    while (last_snapshot("out.csv") == 0 && now_s() < t_end)
        usleep(20000);
    unsigned a = last_snapshot("out.csv");
    cr_assert(gt(uint, a, 0), "no snapshot within 60 s:\n%s", slurp("err.txt", NULL));
    return a;
}

/* Closes the input (after the exit when keep_open: a signal must end the run), expects exit 0
 * and final rows equal to c. */
static void end_exact(pid_t pid, int wfd, int keep_open, const struct counts *c)
{
    if (!keep_open)
        close(wfd);
    int st = wait_exit(pid, 60, "ctr");
    if (keep_open)
        close(wfd);
    cr_assert(eq(int, st, 0), "exit %d:\n%s", st, slurp("err.txt", NULL));
    char *out = slurp("out.csv", NULL);
    expect_final(out, c);
    free(out);
}

TestSuite(live, .init = setup, .fini = finish, .timeout = 120);

/* 150 events/s for 2.4 s into `ctr --input - --every-ms 200 --snapshots --output FILE`:
 * snapshots appear while the input runs, about every 200 ms, and the final rows are exact. */
Test(live, slow_stdin_shows_snapshots_while_it_runs)
{
    int wfd;
    pid_t pid = start_ctr(200, &wfd);
    struct counts c = {0};
    write_event(wfd, 0, &c); /* the first snapshot shows the engine runs */
    unsigned first = first_snapshot();
    double t0 = now_s();
    unsigned i = 1;
    while (now_s() - t0 < 2.4) {
        write_event(wfd, i++, &c);
        usleep(6600);
    }
    unsigned during = last_snapshot("out.csv") - first;
    /* every 200 ms for 2.4 s is 12; a loaded machine may lose some, never most */
    cr_assert(ge(uint, during, 6), "%u snapshots in 2.4 s of input at every_ms 200 (%u events)",
              during, i);
    end_exact(pid, wfd, 0, &c);
}

/* After a few events the input goes silent for 1.5 s without closing: snapshots keep coming on
 * the timer. */
Test(live, silent_input_keeps_emitting)
{
    int wfd;
    pid_t pid = start_ctr(100, &wfd);
    struct counts c = {0};
    for (unsigned i = 0; i < 20; i++)
        write_event(wfd, i, &c);
    unsigned a = first_snapshot();
    usleep(1500000);
    unsigned b = last_snapshot("out.csv");
    cr_assert(ge(uint, b - a, 5), "%u snapshots in 1.5 s of silence at every_ms 100", b - a);
    end_exact(pid, wfd, 0, &c);
}

/* stdin stays open; SIGINT stops the run: what was read is counted, the final rows are written
 * to the output file and the exit status is 0. */
Test(live, sigint_drains_stdin)
{
    int wfd;
    pid_t pid = start_ctr(100, &wfd);
    struct counts c = {0};
    for (unsigned i = 0; i < 500; i++)
        write_event(wfd, i, &c);
    first_snapshot();
    usleep(300000); /* two more snapshots: every event was read */
    cr_assert(eq(int, kill(pid, SIGINT), 0));
    end_exact(pid, wfd, 1, &c); /* stdin still open: the signal ends the run */
}

/* A port nobody listens on now (another process may still take it). */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    cr_assert(eq(int, bind(fd, (struct sockaddr *)&a, sizeof a), 0));
    cr_assert(eq(int, getsockname(fd, (struct sockaddr *)&a, &len), 0));
    close(fd);
    return ntohs(a.sin_port);
}

/* `sluice run` with a zmq source: 40 messages of 1..9 lines from a PUSH socket, then SIGINT:
 * every event sent is in the final rows of sink.path, exit 0. */
Test(live, zmq_source_sigint_writes_final_rows)
{
    unsigned port = free_port();
    char topo[512];
    snprintf(topo, sizeof topo,
             "source: {type: zmq, bind: \"tcp://127.0.0.1:%u\", format: ndjson}\n"
             "pe: {kind: ctr, trigger: {every_ms: 100}}\n"
             "sink: {path: out.csv}\n",
             port);
    tu_write_file(tpath("topo.yaml"), topo);
    pid_t pid = spawn("run topo.yaml -q", NULL, "err.txt");
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", port);
    cr_assert(eq(int, zmq_connect(push, ep), 0));
    int tmp[2];
    cr_assert(eq(int, pipe(tmp), 0)); /* write_event writes to a descriptor: collect lines here */
    struct counts c = {0};
    unsigned ev = 0;
    for (unsigned m = 0; m < 40; m++) {
        unsigned lines = 1 + m % 9;
        for (unsigned l = 0; l < lines; l++)
            write_event(tmp[1], ev++, &c);
        char buf[2048];
        ssize_t n = read(tmp[0], buf, sizeof buf);
        cr_assert(gt(long, (long)n, 0));
        cr_assert(eq(int, zmq_send(push, buf, (size_t)n, 0), (int)n));
    }
    close(tmp[0]);
    close(tmp[1]);
    int linger = 30000;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(push); /* blocks until the messages are with the source */
    zmq_ctx_term(ctx);
    usleep(500000);
    cr_assert(eq(int, kill(pid, SIGINT), 0));
    int st = wait_exit(pid, 30, "run after SIGINT");
    cr_assert(eq(int, st, 0), "exit %d after SIGINT:\n%s", st, slurp("err.txt", NULL));
    char *out = slurp("out.csv", NULL);
    expect_final(out, &c);
    free(out);
}
