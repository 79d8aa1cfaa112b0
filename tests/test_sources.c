/* Tests of the live source kinds (host/io/src_zmq.c, src_tcp.c, src_follow.c) through the
 * public source API (source.h), over real sockets on 127.0.0.1 and real files.
 *
 * Topologies are parsed from YAML text by the config layer, so the kinds' own keys go the way
 * a topology file's do. Ports: zmq binds tcp://127.0.0.1:* and tcp 127.0.0.1:0; the tests read
 * the chosen port back with sl_source_endpoint (no race with other tests for a port).
 *
 * Independence: the events are lines written here from a seeded splitmix64 stream; what a source
 * produced is compared, as a multiset of records, with what the file reader (sl_reader over a
 * temporary file, the path `sluice run file.ndjson` takes) makes of the same lines, and the
 * per-ad counts with the counts kept while writing them. Criterion forks per test: every test
 * makes its own ZeroMQ context. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "addict.h"
#include "config.h"
#include "err.h"
#include "keyhash.h"
#include "source.h"
#include "util.h"

/* ---- what the malformed-line callback saw ------------------------------------------------- */

struct bad {
    uint64_t line;
    size_t column;
    uint64_t offset;
    char reason[600];
};

struct bads {
    struct bad v[32];
    size_t n;
};

static int on_bad(void *ud, uint64_t line, size_t column, uint64_t offset, const char *reason)
{
    struct bads *b = ud;
    if (b->n < sizeof b->v / sizeof b->v[0]) {
        struct bad *x = &b->v[b->n];
        x->line = line;
        x->column = column;
        x->offset = offset;
        snprintf(x->reason, sizeof x->reason, "%s", reason);
    }
    b->n++;
    return 0;
}

/* ---- events ------------------------------------------------------------------------------- */

#define NADS 7

/* Appends event line i (with its newline) to a growing text; counts its ad in ads[]. */
struct text {
    char *s;
    size_t len, cap;
    unsigned ads[NADS];
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        cr_assert_not_null(t->s);
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = 0;
}

static size_t event_line(char *dst, size_t cap, uint64_t *rng, unsigned *ad)
{
    uint64_t r = splitmix64(rng);
    *ad = (unsigned)(r % NADS);
    int n = snprintf(dst, cap,
                     "{\"user_id\":\"u-%u\",\"ad_id\":\"ad-%u\",\"event_type\":\"%s\","
                     "\"event_time\":%llu}\n",
                     (unsigned)(r >> 8) % 100, *ad, (r >> 20) % 4 ? "view" : "click",
                     (unsigned long long)(1767225600000ull + (r >> 40) % 100000));
    cr_assert(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

/* Appends one event line to t and returns where it starts. */
static size_t add_event(struct text *t, uint64_t *rng)
{
    char line[256];
    unsigned ad;
    size_t n = event_line(line, sizeof line, rng, &ad);
    size_t at = t->len;
    put(t, line, n);
    t->ads[ad]++;
    return at;
}

static int rec_cmp(const void *a, const void *b)
{
    const sl_rec *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->time_ms != y->time_ms)
        return x->time_ms < y->time_ms ? -1 : 1;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    return x->value < y->value ? -1 : x->value > y->value;
}

/* The records the file reader makes of text (NDJSON): the reference. */
static size_t reference(const char *text, size_t len, sl_rec **out)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert(eq(sz, fwrite(text, 1, len, f), len));
    rewind(f);
    sl_addict *d = sl_addict_new();
    sl_reader *r = sl_reader_new(f, SL_FMT_NDJSON, d, 0);
    cr_assert_not_null(r);
    size_t cap = 1024, n = 0;
    sl_rec *v = malloc(cap * sizeof *v);
    for (;;) {
        if (cap - n < 256) {
            cap *= 2;
            v = realloc(v, cap * sizeof *v);
        }
        long k = sl_reader_read(r, v + n, 256);
        cr_assert_geq(k, 0);
        if (k == 0)
            break;
        n += (size_t)k;
    }
    sl_reader_destroy(&r);
    sl_addict_destroy(&d);
    fclose(f);
    *out = v;
    return n;
}

/* Compares got[0..n) with the reference records of text, as multisets. */
static void expect_same(sl_rec *got, size_t n, const struct text *t)
{
    sl_rec *want = NULL;
    size_t m = reference(t->s, t->len, &want);
    cr_assert(eq(sz, n, m), "records: got %zu, the file reader makes %zu", n, m);
    qsort(got, n, sizeof *got, rec_cmp);
    qsort(want, m, sizeof *want, rec_cmp);
    for (size_t i = 0; i < n; i++)
        cr_assert(eq(int, rec_cmp(&got[i], &want[i]), 0), "record %zu differs", i);
    free(want);
}

/* Checks the per-ad counts of got against those kept while writing. */
static void expect_ads(const sl_rec *got, size_t n, const unsigned ads[NADS])
{
    for (unsigned a = 0; a < NADS; a++) {
        char id[16];
        snprintf(id, sizeof id, "ad-%u", a);
        uint64_t key = sl_key_hash(id, strlen(id));
        unsigned c = 0;
        for (size_t i = 0; i < n; i++)
            c += got[i].key == key;
        cr_assert(eq(u32, c, ads[a]), "ad-%u: %u records, %u written", a, c, ads[a]);
    }
}

/* ---- sources ------------------------------------------------------------------------------ */

struct src {
    sl_topology t;
    sl_addict *dict;
    sl_source *s;
    struct bads bads;
    sl_rec *got;
    size_t n, cap;
};

/* Opens the source of topology YAML text; returns the sl_source_new status (0 expected unless
 * `fails`). */
static void src_open(struct src *x, const char *yaml)
{
    memset(x, 0, sizeof *x);
    char err[1024] = "", msg[1024] = "";
    int rc = sl_config_parse(yaml, strlen(yaml), "t.yaml", &x->t, err, sizeof err);
    cr_assert(eq(int, rc, 0), "config: %s", err);
    x->dict = sl_addict_new();
    rc = sl_source_new(&x->t, NULL, x->dict, on_bad, &x->bads, &x->s, msg, sizeof msg);
    cr_assert(eq(int, rc, 0), "sl_source_new: %s", msg);
    sl_source_set_wait(x->s, 20);
    x->cap = 1 << 16;
    x->got = malloc(x->cap * sizeof *x->got);
}

static void src_close(struct src *x)
{
    sl_source_destroy(&x->s);
    sl_addict_destroy(&x->dict);
    free(x->got);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Reads until x holds `want` records (or the source is done, or 5 s passed), `step` at most per
 * read. Returns the count. */
static size_t read_until(struct src *x, size_t want, size_t step)
{
    double t0 = now_s();
    while (x->n < want && !sl_source_done(x->s) && now_s() - t0 < 5) {
        if (step > x->cap - x->n)
            step = x->cap - x->n;
        long k = sl_source_read(x->s, x->got + x->n, step);
        cr_assert_geq(k, 0, "read: %s", sl_strerror((int)k));
        x->n += (size_t)k;
    }
    return x->n;
}

/* Reads until the source says it is done (at most 5 s). */
static void read_to_done(struct src *x)
{
    double t0 = now_s();
    while (!sl_source_done(x->s)) {
        cr_assert_lt(now_s() - t0, 5.0, "the source did not end");
        long k = sl_source_read(x->s, x->got + x->n, 100);
        cr_assert_geq(k, 0, "read: %s", sl_strerror((int)k));
        x->n += (size_t)k;
    }
}

/* ---- zmq ---------------------------------------------------------------------------------- */

static void *push_to(void *ctx, const char *ep)
{
    void *s = zmq_socket(ctx, ZMQ_PUSH);
    cr_assert_not_null(s);
    int linger = 1000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert(eq(int, zmq_connect(s, ep), 0));
    return s;
}

static void send_msg(void *sock, const char *data, size_t len)
{
    cr_assert(eq(int, zmq_send(sock, data, len, 0), (int)len));
}

static const char zmq_topo[] = "source: {type: zmq, bind: \"tcp://127.0.0.1:*\"}\n"
                               "pe: {kind: count}\n";

Test(sources, zmq_several_lines_per_message)
{
    struct src x;
    src_open(&x, zmq_topo);
    const char *ep = sl_source_endpoint(x.s);
    cr_assert_not_null(ep);
    cr_assert(eq(int, strncmp(ep, "tcp://127.0.0.1:", 16), 0), "%s", ep);

    /* Nothing sent yet: a read returns nothing after about the wait, not at once, not later. */
    double t0 = now_s();
    cr_assert(eq(long, sl_source_read(x.s, x.got, 10), 0));
    double waited = now_s() - t0;
    cr_assert(waited >= 0.015 && waited < 0.5, "waited %.3f s", waited);
    cr_assert(not(sl_source_done(x.s)));

    void *ctx = zmq_ctx_new();
    void *push = push_to(ctx, ep);
    struct text all = {0};
    uint64_t rng = 7;
    for (int m = 0; m < 60; m++) {
        struct text msg = {0};
        int lines = 1 + m % 7;
        for (int i = 0; i < lines; i++) {
            add_event(&msg, &rng);
            if (i == 1 && m % 3 == 0) { /* a "\r\n" line end */
                msg.s[msg.len - 1] = '\r';
                put(&msg, "\n", 1);
            }
        }
        for (int a = 0; a < NADS; a++)
            all.ads[a] += msg.ads[a];
        put(&all, msg.s, msg.len);
        /* Every other message lacks its last newline: the line still ends with the message. */
        send_msg(push, msg.s, m % 2 ? msg.len - 1 : msg.len);
        free(msg.s);
    }
    size_t want = 0;
    for (int a = 0; a < NADS; a++)
        want += all.ads[a];
    read_until(&x, want, 37);
    /* Nothing more comes. */
    cr_assert(eq(long, sl_source_read(x.s, x.got + x.n, 10), 0));
    expect_same(x.got, x.n, &all);
    expect_ads(x.got, x.n, all.ads);
    sl_source_stats st;
    sl_source_get_stats(x.s, &st);
    cr_assert(eq(u64, st.messages, 60));
    cr_assert(eq(u64, st.input.bad, 0));
    cr_assert(eq(u64, st.input.records, want));
    cr_assert(eq(u64, st.input.bytes, all.len - 30), "bytes sent, without the added newlines");
    cr_assert(eq(sz, x.bads.n, 0));

    /* A message sent now is returned as soon as it is there, before the wait is over. */
    sl_source_set_wait(x.s, 2000);
    char line[256];
    unsigned ad;
    size_t ln = event_line(line, sizeof line, &rng, &ad);
    send_msg(push, line, ln);
    t0 = now_s();
    long k = 0;
    while (k == 0 && now_s() - t0 < 3)
        k = sl_source_read(x.s, x.got, 100);
    cr_assert(eq(long, k, 1));
    cr_assert_lt(now_s() - t0, 1.0);

    zmq_close(push);
    zmq_ctx_term(ctx);
    free(all.s);
    src_close(&x);
}

Test(sources, zmq_malformed_and_oversized_messages)
{
    struct src x;
    src_open(&x, "source: {type: zmq, bind: \"tcp://127.0.0.1:*\", max_message: 400}\n"
                 "pe: {kind: count}\n");
    void *ctx = zmq_ctx_new();
    void *push = push_to(ctx, sl_source_endpoint(x.s));
    struct text good = {0};
    uint64_t rng = 11;
    /* message 1: two good lines; message 2: good, bad, good; message 3: over max_message;
     * message 4: one good line. */
    struct text m1 = {0}, m2 = {0}, m4 = {0};
    add_event(&m1, &rng);
    add_event(&m1, &rng);
    add_event(&m2, &rng);
    size_t bad_at = m2.len;
    put(&m2, "{\"ad_id\": 12}\n", 14);
    add_event(&m2, &rng);
    add_event(&m4, &rng);
    put(&good, m1.s, m1.len);
    put(&good, m2.s, bad_at);
    put(&good, m2.s + bad_at + 14, m2.len - bad_at - 14);
    put(&good, m4.s, m4.len);
    char big[600];
    memset(big, 'x', sizeof big);
    big[sizeof big - 1] = '\n';
    send_msg(push, m1.s, m1.len);
    send_msg(push, m2.s, m2.len);
    send_msg(push, big, sizeof big);
    send_msg(push, m4.s, m4.len);

    read_until(&x, 5, 100);
    cr_assert(eq(long, sl_source_read(x.s, x.got + x.n, 10), 0));
    expect_same(x.got, x.n, &good);
    sl_source_stats st;
    sl_source_get_stats(x.s, &st);
    cr_assert(eq(u64, st.messages, 4));
    cr_assert(eq(u64, st.oversized, 1));
    cr_assert(eq(u64, st.input.bad, 2));
    cr_assert(eq(sz, x.bads.n, 2));
    /* The bad line: line 2 of message 2, its offset within that message; named with its peer. */
    cr_assert(eq(u64, x.bads.v[0].line, 2));
    cr_assert(eq(u64, x.bads.v[0].offset, bad_at + x.bads.v[0].column - 1));
    cr_assert(not(eq(ptr, strstr(x.bads.v[0].reason, "message 2 from 127.0.0.1:"), NULL)), "%s",
              x.bads.v[0].reason);
    cr_assert(not(eq(ptr, strstr(x.bads.v[1].reason, "message 3 "), NULL)), "%s",
              x.bads.v[1].reason);
    cr_assert(not(eq(ptr, strstr(x.bads.v[1].reason, "max_message"), NULL)), "%s",
              x.bads.v[1].reason);
    zmq_close(push);
    zmq_ctx_term(ctx);
    free(good.s);
    free(m1.s);
    free(m2.s);
    free(m4.s);
    src_close(&x);
}

Test(sources, zmq_close_input_drains)
{
    struct src x;
    src_open(&x, zmq_topo);
    char ep[256];
    snprintf(ep, sizeof ep, "%s", sl_source_endpoint(x.s));
    void *ctx = zmq_ctx_new();
    void *push = push_to(ctx, ep);
    struct text all = {0};
    uint64_t rng = 3;
    for (int m = 0; m < 20; m++) {
        size_t at = add_event(&all, &rng);
        send_msg(push, all.s + at, all.len - at);
    }
    /* Let them reach the socket's queue (nothing is read before close_input). */
    usleep(300 * 1000);
    cr_assert(eq(int, sl_source_close_input(x.s), 0));
    read_to_done(&x);
    expect_same(x.got, x.n, &all);
    zmq_close(push);
    zmq_ctx_term(ctx);
    free(all.s);
    src_close(&x);
}

/* ---- tcp ---------------------------------------------------------------------------------- */

static const char tcp_topo[] = "source: {type: tcp, bind: \"127.0.0.1:0\"}\n"
                               "pe: {kind: count}\n";

/* A client connected to the source's "HOST:PORT". */
static int tcp_client(const char *ep)
{
    const char *colon = strrchr(ep, ':');
    cr_assert_not_null(colon);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    cr_assert(eq(int, connect(fd, (struct sockaddr *)&sa, sizeof sa), 0), "connect: %s",
              strerror(errno));
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        cr_assert_gt(k, 0, "send: %s", strerror(errno));
        s += k;
        n -= (size_t)k;
    }
}

Test(sources, tcp_three_clients_lines_split_across_writes)
{
    struct src x;
    src_open(&x, tcp_topo);
    const char *ep = sl_source_endpoint(x.s);
    cr_assert_not_null(ep);
    int fd[3];
    struct text per[3] = {{0}}, all = {0};
    uint64_t rng = 99;
    for (int c = 0; c < 3; c++) {
        fd[c] = tcp_client(ep);
        for (int i = 0; i < 200; i++)
            add_event(&per[c], &rng);
    }
    per[2].len--; /* client 2's last line has no newline: taken when it closes */
    size_t off[3] = {0, 0, 0};
    /* Interleaved writes of random sizes (lines cut anywhere), reading between them. */
    int open_clients = 3;
    while (open_clients > 0) {
        for (int c = 0; c < 3; c++) {
            if (off[c] == per[c].len)
                continue;
            size_t k = 1 + splitmix64(&rng) % 300;
            if (k > per[c].len - off[c])
                k = per[c].len - off[c];
            send_all(fd[c], per[c].s + off[c], k);
            off[c] += k;
            if (off[c] == per[c].len) {
                close(fd[c]);
                open_clients--;
            }
        }
        long k = sl_source_read(x.s, x.got + x.n, 50);
        cr_assert_geq(k, 0);
        x.n += (size_t)k;
    }
    for (int c = 0; c < 3; c++) {
        put(&all, per[c].s, per[c].len);
        put(&all, "\n", 1);
        for (int a = 0; a < NADS; a++)
            all.ads[a] += per[c].ads[a];
    }
    read_until(&x, 600, 64);
    expect_same(x.got, x.n, &all);
    expect_ads(x.got, x.n, all.ads);
    sl_source_stats st;
    sl_source_get_stats(x.s, &st);
    cr_assert(eq(u64, st.connections, 3));
    cr_assert(eq(u64, st.input.bad, 0));
    cr_assert(eq(u64, st.input.bytes, per[0].len + per[1].len + per[2].len));
    cr_assert(not(sl_source_done(x.s)), "a tcp source runs until close_input");
    cr_assert(eq(int, sl_source_close_input(x.s), 0));
    read_to_done(&x);
    cr_assert(eq(sz, x.n, 600));
    for (int c = 0; c < 3; c++)
        free(per[c].s);
    free(all.s);
    src_close(&x);
}

Test(sources, tcp_malformed_lines_name_their_connection)
{
    struct src x;
    src_open(&x, "source: {type: tcp, bind: \"127.0.0.1:0\", max_line: 300}\n"
                 "pe: {kind: count}\n");
    const char *ep = sl_source_endpoint(x.s);
    int a = tcp_client(ep), b = tcp_client(ep);
    struct sockaddr_in la;
    socklen_t ll = sizeof la;
    getsockname(b, (struct sockaddr *)&la, &ll);
    char bname[64];
    snprintf(bname, sizeof bname, "connection 127.0.0.1:%u:", (unsigned)ntohs(la.sin_port));

    struct text ta = {0}, tb = {0}, good = {0};
    uint64_t rng = 5;
    add_event(&ta, &rng);
    add_event(&ta, &rng);
    add_event(&tb, &rng);
    size_t bad_at = tb.len;
    put(&tb, "{\"ad_id\": 12}\n", 14);
    size_t long_at = tb.len;
    char longl[400];
    memset(longl, 'y', sizeof longl);
    longl[sizeof longl - 1] = '\n';
    put(&tb, longl, sizeof longl);
    size_t tail_at = tb.len;
    add_event(&tb, &rng);
    put(&good, ta.s, ta.len);
    put(&good, tb.s, bad_at);
    put(&good, tb.s + tail_at, tb.len - tail_at);
    send_all(a, ta.s, ta.len);
    send_all(b, tb.s, tb.len);
    read_until(&x, 4, 100);
    cr_assert(eq(long, sl_source_read(x.s, x.got + x.n, 10), 0));
    expect_same(x.got, x.n, &good);
    cr_assert(eq(sz, x.bads.n, 2));
    cr_assert(eq(u64, x.bads.v[0].line, 2));
    cr_assert(eq(u64, x.bads.v[0].offset, bad_at + x.bads.v[0].column - 1));
    cr_assert(not(eq(ptr, strstr(x.bads.v[0].reason, bname), NULL)), "%s wants %s",
              x.bads.v[0].reason, bname);
    cr_assert(eq(u64, x.bads.v[1].line, 3));
    cr_assert(not(eq(ptr, strstr(x.bads.v[1].reason, "longer than 300"), NULL)), "%s",
              x.bads.v[1].reason);
    (void)long_at;
    sl_source_stats st;
    sl_source_get_stats(x.s, &st);
    cr_assert(eq(u64, st.input.bad, 2));
    close(a);
    close(b);
    free(ta.s);
    free(tb.s);
    free(good.s);
    src_close(&x);
}

Test(sources, tcp_max_clients_and_close_input_drains)
{
    struct src x;
    src_open(&x, "source: {type: tcp, bind: \"127.0.0.1:0\", max_clients: 1}\n"
                 "pe: {kind: count}\n");
    char ep[128];
    snprintf(ep, sizeof ep, "%s", sl_source_endpoint(x.s));
    int a = tcp_client(ep);
    cr_assert(eq(long, sl_source_read(x.s, x.got, 10), 0)); /* accepts a */
    int b = tcp_client(ep);
    cr_assert(eq(long, sl_source_read(x.s, x.got, 10), 0)); /* refuses b */
    char c;
    cr_assert(eq(long, (long)recv(b, &c, 1, 0), 0), "the refused client sees its end");
    close(b);

    /* a sends lines and keeps its connection open, the last line without its newline. */
    struct text t = {0};
    uint64_t rng = 17;
    for (int i = 0; i < 50; i++)
        add_event(&t, &rng);
    send_all(a, t.s, t.len - 1);
    usleep(100 * 1000);
    cr_assert(eq(int, sl_source_close_input(x.s), 0));
    cr_assert_null(sl_source_endpoint(x.s));
    read_to_done(&x);
    expect_same(x.got, x.n, &t);
    sl_source_stats st;
    sl_source_get_stats(x.s, &st);
    cr_assert(eq(u64, st.connections, 1));
    cr_assert(eq(u64, st.refused, 1));
    /* No one listens any more. */
    const char *colon = strrchr(ep, ':');
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int d = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(eq(int, connect(d, (struct sockaddr *)&sa, sizeof sa), -1));
    close(d);
    close(a);
    free(t.s);
    src_close(&x);
}

/* ---- follow ------------------------------------------------------------------------------- */

/* ---- schema.attributes through the live sources ----------------------------------------- */

/* A schema whose attribute n is 2^53 + the record's time: every record read checks itself. */
#define ATTR_SCHEMA                                                                                \
    "schema: {fields: {ad_id: string, event_type: string, event_time: time, n: int64},\n"          \
    "         key: ad_id, time: event_time, type: {field: event_type}, attributes: [n]}\n"         \
    "pe: {kind: count}\n"

static size_t attr_line(char *dst, size_t cap, unsigned client, unsigned i)
{
    long long t = (long long)client * 1000000 + i;
    return (size_t)snprintf(dst, cap,
                            "{\"ad_id\":\"a%u\",\"event_type\":\"view\",\"event_time\":%lld,"
                            "\"n\":%lld}\n",
                            i % 7, t, (1LL << 53) + t);
}

/* Reads until x holds want records (at most 5 s), checking each read's attributes against its
 * records. */
static void read_attrs_until(struct src *x, size_t want)
{
    double t0 = now_s();
    while (x->n < want && now_s() - t0 < 5) {
        long k = sl_source_read(x->s, x->got + x->n, 37);
        cr_assert_geq(k, 0, "read: %s", sl_strerror((int)k));
        const uint64_t *a = sl_source_attrs(x->s);
        for (long i = 0; i < k; i++) {
            const sl_rec *r = &x->got[x->n + (size_t)i];
            cr_assert_not_null(a);
            cr_assert(eq(u64, a[i], (UINT64_C(1) << 53) + (uint64_t)r->time_ms),
                      "record %zu (time %lld) carries another line's attribute", x->n + (size_t)i,
                      (long long)r->time_ms);
        }
        x->n += (size_t)k;
    }
    cr_assert(eq(sz, x->n, want));
}

Test(sources, live_sources_carry_attributes_with_their_records)
{
    /* tcp: three clients, lines cut anywhere, gathered into reads of 37 */
    struct src x;
    src_open(&x, "source: {type: tcp, bind: \"127.0.0.1:0\"}\n" ATTR_SCHEMA);
    int fd[3];
    for (unsigned c = 0; c < 3; c++)
        fd[c] = tcp_client(sl_source_endpoint(x.s));
    for (unsigned i = 0; i < 300; i++)
        for (unsigned c = 0; c < 3; c++) {
            char line[160];
            size_t n = attr_line(line, sizeof line, c, i);
            size_t cut = i % n;
            send_all(fd[c], line, cut);
            send_all(fd[c], line + cut, n - cut);
        }
    for (unsigned c = 0; c < 3; c++)
        close(fd[c]);
    read_attrs_until(&x, 900);
    src_close(&x);

    /* zmq: messages of several lines each */
    src_open(&x, "source: {type: zmq, bind: \"tcp://127.0.0.1:*\"}\n" ATTR_SCHEMA);
    void *ctx = zmq_ctx_new();
    void *push = push_to(ctx, sl_source_endpoint(x.s));
    for (unsigned m = 0; m < 60; m++) {
        char msg[2048];
        size_t len = 0;
        for (unsigned i = 0; i < 5; i++)
            len += attr_line(msg + len, sizeof msg - len, 1, m * 5 + i);
        send_msg(push, msg, len);
    }
    read_attrs_until(&x, 300);
    zmq_close(push);
    zmq_ctx_term(ctx);
    src_close(&x);
}

static void tmp_path(char *out, size_t len, const char *name)
{
    const char *dir = getenv("SLUICE_TEST_TMP");
    char d[512];
    snprintf(d, sizeof d, "%s/sources-%d", dir && *dir ? dir : "/tmp", (int)getpid());
    mkdir(d, 0700);
    snprintf(out, len, "%s/%s", d, name);
}

static void append(const char *path, const char *s, size_t n, int flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | flags, 0600);
    cr_assert_geq(fd, 0);
    cr_assert(eq(long, (long)write(fd, s, n), (long)n));
    close(fd);
}

Test(sources, follow_appends_truncation_rotation)
{
    char path[600], old[620], yaml[1400];
    tmp_path(path, sizeof path, "events.ndjson");
    snprintf(old, sizeof old, "%s.1", path);
    unlink(path);
    unlink(old);
    struct text all = {0}, t = {0};
    uint64_t rng = 23;
    for (int i = 0; i < 10; i++)
        add_event(&t, &rng);
    append(path, t.s, t.len, O_TRUNC);
    put(&all, t.s, t.len);

    snprintf(yaml, sizeof yaml,
             "source: {type: file, path: \"%s\", follow: true, poll_ms: 10}\npe: {kind: count}\n",
             path);
    struct src x;
    src_open(&x, yaml);
    cr_assert(eq(sz, read_until(&x, 10, 100), 10));

    /* Appends, a line split across two writes. */
    t.len = 0;
    for (int i = 0; i < 5; i++)
        add_event(&t, &rng);
    append(path, t.s, 30, O_APPEND);
    long k = sl_source_read(x.s, x.got + x.n, 100);
    cr_assert(eq(long, k, 0), "half a line gives nothing yet");
    append(path, t.s + 30, t.len - 30, O_APPEND);
    put(&all, t.s, t.len);
    cr_assert(eq(sz, read_until(&x, 15, 100), 15));

    /* Truncation (copytruncate), then shorter content. */
    t.len = 0;
    for (int i = 0; i < 3; i++)
        add_event(&t, &rng);
    append(path, t.s, t.len, O_TRUNC);
    put(&all, t.s, t.len);
    cr_assert(eq(sz, read_until(&x, 18, 100), 18));

    /* A last line without its newline, then rotation: rename and a new file. */
    t.len = 0;
    add_event(&t, &rng);
    append(path, t.s, t.len - 1, O_APPEND);
    put(&all, t.s, t.len);
    usleep(50 * 1000);
    cr_assert(eq(int, rename(path, old), 0));
    t.len = 0;
    for (int i = 0; i < 4; i++)
        add_event(&t, &rng);
    append(path, t.s, t.len, O_TRUNC);
    put(&all, t.s, t.len);
    cr_assert(eq(sz, read_until(&x, 23, 100), 23));
    cr_assert(not(sl_source_done(x.s)));

    /* close_input: what the file holds now is read, then the source ends. */
    t.len = 0;
    add_event(&t, &rng);
    append(path, t.s, t.len, O_APPEND);
    put(&all, t.s, t.len);
    cr_assert(eq(int, sl_source_close_input(x.s), 0));
    read_to_done(&x);
    expect_same(x.got, x.n, &all);
    expect_ads(x.got, x.n, t.ads); /* t saw every event written */
    sl_source_stats st;
    sl_source_get_stats(x.s, &st);
    cr_assert(eq(u64, st.rotations, 2));
    cr_assert(eq(u64, st.input.bad, 0));
    unlink(path);
    unlink(old);
    free(all.s);
    free(t.s);
    src_close(&x);
}

Test(sources, file_without_follow_ends)
{
    char path[600], yaml[1400];
    tmp_path(path, sizeof path, "once.ndjson");
    struct text t = {0};
    uint64_t rng = 1;
    for (int i = 0; i < 12; i++)
        add_event(&t, &rng);
    append(path, t.s, t.len, O_TRUNC);
    snprintf(yaml, sizeof yaml, "source: {type: file, path: \"%s\"}\npe: {kind: count}\n", path);
    struct src x;
    memset(&x, 0, sizeof x);
    char err[1024];
    cr_assert(eq(int, sl_config_parse(yaml, strlen(yaml), "t.yaml", &x.t, err, sizeof err), 0));
    FILE *in = fopen(path, "rb");
    x.dict = sl_addict_new();
    char msg[256];
    cr_assert(eq(int, sl_source_new(&x.t, in, x.dict, on_bad, &x.bads, &x.s, msg, sizeof msg), 0));
    x.cap = 100;
    x.got = malloc(x.cap * sizeof *x.got);
    read_to_done(&x);
    expect_same(x.got, x.n, &t);
    fclose(in);
    unlink(path);
    free(t.s);
    src_close(&x);
}

/* ---- configuration ------------------------------------------------------------------------ */

static void expect_config_error(const char *yaml, const char *want)
{
    sl_topology t;
    char err[1024] = "";
    int rc = sl_config_parse(yaml, strlen(yaml), "t.yaml", &t, err, sizeof err);
    cr_assert(eq(int, rc, SL_ECONFIG), "%s", yaml);
    cr_assert(not(eq(ptr, strstr(err, want), NULL)), "error \"%s\" lacks \"%s\"", err, want);
}

Test(sources, kind_keys_are_checked)
{
    expect_config_error("source: {type: zmq}\npe: {kind: count}\n",
                        "missing required key \"bind\"");
    expect_config_error("source: {type: zmq, bind: \"127.0.0.1:5\"}\npe: {kind: count}\n",
                        "source.bind: expected a ZeroMQ endpoint");
    expect_config_error("source: {type: tcp, bind: x, port: 3}\npe: {kind: count}\n",
                        "unknown key \"port\"");
    expect_config_error("source: {type: tcp, bind: \"h:70000\"}\npe: {kind: count}\n",
                        "expected HOST:PORT");
    expect_config_error("source: {type: tcp, bind: \"h:1\", max_clients: 0}\npe: {kind: count}\n",
                        "source.max_clients: expected an integer in 1..4096");
    expect_config_error("source: {path: a, poll_ms: 5}\npe: {kind: count}\n",
                        "source.poll_ms: needs follow: true");
    expect_config_error("source: {path: a, follow: maybe}\npe: {kind: count}\n",
                        "source.follow: expected true or false");
    expect_config_error("source: {type: stdin, follow: true}\npe: {kind: count}\n",
                        "unknown key \"follow\"");
    sl_topology t;
    char err[256];
    const char *ok = "source: {type: tcp, bind: \"[::1]:0\", format: csv}\npe: {kind: count}\n";
    cr_assert(eq(int, sl_config_parse(ok, strlen(ok), "t.yaml", &t, err, sizeof err), 0), "%s",
              err);
    cr_assert(eq(int, t.source.format, SL_FMT_CSV));
    cr_assert_str_eq(sl_source_kind_name(t.source.kind), "tcp");
}
