/* Tests of netio/: frame.h (header encoding and checking, sequence tracking, acknowledgements),
 * outbox.h (batching PUSH sender that keeps frames until acknowledged) and inbox.h (checked PULL
 * receiver), over real ZeroMQ sockets on 127.0.0.1. CURVE and ZAP are in test_auth.c.
 *
 * Independence: frames the tests send by hand are built by an encoder written here from the
 * layout documented in frame.h (little-endian fields at fixed offsets, XXH3-64 of the payload
 * seeded with XXH3-64 of header bytes 0..39), and the code's own encoder is checked byte for byte
 * against it; so is the ACK payload. Records come from a splitmix64 generator written here, frame
 * counts and sequence numbers are computed from the options, and received records are compared
 * with the generated ones. Acknowledgements go from sl_inbox_take_acks straight to
 * sl_outbox_ack, as a receiver's ACK frames would carry them. Connections are cut by a TCP
 * forwarder thread written here with plain POSIX sockets.
 *
 * Every test makes its own ZeroMQ context (Criterion forks per test), binds its inbox to
 * tcp://127.0.0.1:* and reads the port back, and closes everything with a short linger so that
 * zmq_ctx_term cannot hang. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zmq.h>

#include "frame.h"
#include "inbox.h"
#include "outbox.h"
#include "sock.h"
#include "loopback.h"

/* ---- inputs ---------------------------------------------------------------------------------- */

/* splitmix64 (Steele, Lea, Flood 2014): a seeded stream of well-spread 64-bit values. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void fill_random(uint64_t *state, void *out, size_t len)
{
    unsigned char *p = out;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix64(state);
        for (size_t j = 0; j < 8 && i + j < len; j++)
            p[i + j] = (unsigned char)(v >> (8 * j));
    }
}

/* Two schemas the tests' receivers know: A has 32-byte records, B 12-byte ones. */
enum { SCHEMA_A = 1, SCHEMA_B = 2, REC_A = 32, REC_B = 12, SCHEMA_UNKNOWN = 99 };

static size_t recsize_fn(uint32_t schema)
{
    return schema == SCHEMA_A ? REC_A : schema == SCHEMA_B ? REC_B : 0;
}

/* Application kinds (frame.h), as the application above netio defines its own: netio must carry
 * them without knowing them. T: tracked, U: untracked; the last number of the range included. */
enum {
    APP_T1 = SL_FRAME_APP_KIND(0, 1),
    APP_T2 = SL_FRAME_APP_KIND(7, 1),
    APP_T3 = SL_FRAME_APP_KIND(SL_FRAME_APP_MAX - SL_FRAME_APP, 1),
    APP_U1 = SL_FRAME_APP_KIND(1, 0),
    APP_U2 = SL_FRAME_APP_KIND(300, 0),
    APP_U3 = SL_FRAME_APP_KIND(SL_FRAME_APP_MAX - SL_FRAME_APP, 0),
};

/* ---- an independent encoder, from frame.h's description of the header ------------------------ */

static void wr16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)(v >> 8);
}

static void wr32(unsigned char *p, uint32_t v)
{
    wr16(p, (uint16_t)(v & 0xffff));
    wr16(p + 2, (uint16_t)(v >> 16));
}

static void wr64(unsigned char *p, uint64_t v)
{
    wr32(p, (uint32_t)(v & 0xffffffffu));
    wr32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

struct fields {
    uint16_t version, kind;
    uint32_t schema, source, stream, count;
    uint64_t seq, payload_len;
};

/* Returns a malloc'd message of exactly 48 + plen bytes: the header for `fl` (its payload_len is
 * written as given, which may disagree with plen) and the plen bytes at payload. */
static unsigned char *build(const struct fields *fl, const void *payload, size_t plen)
{
    unsigned char *m = malloc(SL_FRAME_HDR + plen);
    cr_assert_not_null(m);
    m[0] = 'S', m[1] = 'L', m[2] = 'F', m[3] = '1';
    wr16(m + 4, fl->version);
    wr16(m + 6, fl->kind);
    wr32(m + 8, fl->schema);
    wr32(m + 12, fl->source);
    wr32(m + 16, fl->stream);
    wr32(m + 20, fl->count);
    wr64(m + 24, fl->seq);
    wr64(m + 32, fl->payload_len);
    if (plen)
        memcpy(m + SL_FRAME_HDR, payload, plen);
    uint64_t seed = XXH3_64bits(m, 40);
    wr64(m + 40, XXH3_64bits_withSeed(m + SL_FRAME_HDR, plen, seed));
    return m;
}

/* A well-formed DATA frame of n schema-A records. */
static unsigned char *build_data(uint32_t source, uint32_t stream, uint64_t seq, const void *recs,
                                 uint32_t n)
{
    struct fields fl = {SL_FRAME_VERSION,   SL_FRAME_DATA, SCHEMA_A, source, stream, n, seq,
                        (uint64_t)n * REC_A};
    return build(&fl, recs, (size_t)n * REC_A);
}

/* A malloc'd copy of len bytes (exactly len, so that ASan sees any read past the end). */
static unsigned char *dup_bytes(const void *p, size_t len)
{
    unsigned char *d = malloc(len ? len : 1);
    cr_assert_not_null(d);
    if (len)
        memcpy(d, p, len);
    return d;
}

static int check(const void *m, size_t len, size_t max_payload, sl_frame_hdr *h)
{
    return sl_frame_check(m, len, max_payload, recsize_fn, h);
}

/* ---- sockets --------------------------------------------------------------------------------- */

static sl_outbox *connect_outbox(void *ctx, const char *ep, uint32_t source, const sl_net_opts *o)
{
    char err[256] = "";
    sl_outbox *ob = NULL;
    cr_assert(eq(int, sl_outbox_new(ctx, ep, source, o, &ob, err, sizeof err), 0),
              "sl_outbox_new: %s", err);
    cr_assert_not_null(ob);
    return ob;
}

/* A plain PUSH socket, for sending frames the outbox would never make. */
static void *raw_push(void *ctx, const char *ep)
{
    void *s = zmq_socket(ctx, ZMQ_PUSH);
    cr_assert_not_null(s);
    int zero = 0;
    cr_assert(eq(int, zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0));
    cr_assert(eq(int, zmq_connect(s, ep), 0));
    return s;
}

static void raw_send(void *s, const void *m, size_t len, int flags)
{
    cr_assert(eq(int, zmq_send(s, m, len, flags), (int)len), "zmq_send: %s",
              zmq_strerror(zmq_errno()));
}

static void ctx_term(void *ctx)
{
    cr_assert(eq(int, zmq_ctx_term(ctx), 0));
}

/* Reject callback log: every reject counted, the first 64 kept. */
struct rejlog {
    struct {
        int verdict;
        size_t len;
        int64_t detail;
        uint64_t seq;
    } r[64];
    size_t n;    /* rejects reported */
    size_t dups; /* of which duplicates */
};

static void on_reject(void *ud, int verdict, const sl_frame_hdr *h, size_t len, int64_t detail)
{
    struct rejlog *lg = ud;
    lg->dups += verdict == -1;
    if (lg->n++ >= 64)
        return;
    lg->r[lg->n - 1].verdict = verdict;
    lg->r[lg->n - 1].len = len;
    lg->r[lg->n - 1].detail = detail;
    lg->r[lg->n - 1].seq = h->seq;
}

/* What the socket tests share: a context, the test options (net_init; the test changes them
 * before net_bind), and an inbox on an ephemeral loopback port whose rejects go to lg. */
struct net {
    void *ctx;
    sl_net_opts o;
    char ep[128];
    sl_inbox *ib;
    struct rejlog lg;
};

static void net_init(struct net *n)
{
    memset(n, 0, sizeof *n);
    n->ctx = zmq_ctx_new();
    cr_assert_not_null(n->ctx);
    n->o = tu_net_opts();
}

static void net_bind(struct net *n)
{
    n->ib = tu_bind_inbox(n->ctx, &n->o, recsize_fn, n->ep, sizeof n->ep);
    sl_inbox_on_reject(n->ib, on_reject, &n->lg);
}

/* An outbox of node `source` connected to the inbox. */
static sl_outbox *net_outbox(struct net *n, uint32_t source)
{
    return connect_outbox(n->ctx, n->ep, source, &n->o);
}

/* Destroys *ob (when ob is not NULL) and the inbox, and ends the context. */
static void net_close(struct net *n, sl_outbox **ob)
{
    if (ob) {
        sl_outbox_destroy(ob);
        cr_assert_null(*ob);
    }
    sl_inbox_destroy(&n->ib);
    cr_assert_null(n->ib);
    ctx_term(n->ctx);
}

/* Waits up to timeout_ms for the next valid frame. Returns 1 with *f filled, 0 on timeout. */
static int recv_wait(sl_inbox *ib, sl_frame *f, int timeout_ms)
{
    uint64_t deadline = sl_net_now_us() + (uint64_t)timeout_ms * 1000;
    for (;;) {
        int r = sl_inbox_recv(ib, f);
        cr_assert(ge(int, r, 0), "sl_inbox_recv: %s", zmq_strerror(errno));
        if (r == 1)
            return 1;
        uint64_t now = sl_net_now_us();
        if (now >= deadline)
            return 0;
        zmq_pollitem_t it = {.socket = sl_inbox_socket(ib), .events = ZMQ_POLLIN};
        zmq_poll(&it, 1, 10);
    }
}

typedef void (*frame_sink)(void *ud, const sl_frame *f);

/* What a receiver does with its acknowledgements, without the ACK frame in between: takes those
 * owed by ib (every one is owed to `source`, the only sender) and applies them to ob. Returns how
 * many. */
static size_t apply_acks(sl_inbox *ib, sl_outbox *ob, uint32_t source)
{
    sl_ack acks[SL_ACK_MAX]; /* more than any test here has streams */
    size_t n = sl_inbox_take_acks(ib, acks, SL_ACK_MAX, 0);
    for (size_t i = 0; i < n; i++) {
        cr_assert(eq(u32, acks[i].source, source), "an ack owed to another sender");
        sl_outbox_ack(ob, acks[i].stream, acks[i].next);
    }
    return n;
}

/* Moves frames from ob (node `source`) to ib (flushing, pumping and receiving without blocking,
 * polling both sockets in between, and acknowledging what arrived as a receiver would) until
 * `want` frames were delivered to sink or timeout_ms passed. Returns the number delivered. */
static size_t shuttle(sl_outbox *ob, sl_inbox *ib, uint32_t source, size_t want, frame_sink sink,
                      void *ud, int timeout_ms)
{
    uint64_t deadline = sl_net_now_us() + (uint64_t)timeout_ms * 1000;
    size_t got = 0;
    while (got < want && sl_net_now_us() < deadline) {
        cr_assert(ge(int, sl_outbox_drain(ob, 0), 0), "sl_outbox_drain: %s", zmq_strerror(errno));
        sl_frame f;
        int r;
        while (got < want && (r = sl_inbox_recv(ib, &f)) == 1) {
            sink(ud, &f);
            got++;
        }
        apply_acks(ib, ob, source);
        if (got >= want)
            break;
        cr_assert(eq(int, r, 0), "sl_inbox_recv: %s", zmq_strerror(errno));
        zmq_pollitem_t it[2] = {
            {.socket = sl_inbox_socket(ib), .events = ZMQ_POLLIN},
            {.socket = sl_outbox_socket(ob),
             .events = sl_outbox_queued_frames(ob) ? ZMQ_POLLOUT : 0},
        };
        zmq_poll(it, 2, 10);
    }
    return got;
}

/* ---- frame.h ----------------------------------------------------------------------------------
 */

/* Headers of every kind, with extreme field values and payloads of several sizes, encoded by
 * sl_frame_encode: the bytes equal the independent encoder's, sl_frame_check accepts them with
 * the payload exactly at the maximum, and reads back every field and the payload. */
Test(frame, round_trip)
{
    uint64_t rng = 1;
    struct fields cases[] = {
        {SL_FRAME_VERSION, SL_FRAME_DATA, SCHEMA_A, 0, 0, 0, 0, 0},
        {SL_FRAME_VERSION, SL_FRAME_DATA, SCHEMA_A, 1, 2, 1, 3, REC_A},
        {SL_FRAME_VERSION, SL_FRAME_DATA, SCHEMA_A, UINT32_MAX, UINT32_MAX, 7, UINT64_MAX,
         7 * REC_A},
        {SL_FRAME_VERSION, SL_FRAME_DATA, SCHEMA_A, 0x01020304, 0x80000001, 128,
         UINT64_C(0x0102030405060708), 128 * REC_A},
        {SL_FRAME_VERSION, SL_FRAME_DATA, SCHEMA_B, 42, 9, 5, 1000, 5 * REC_B},
        {SL_FRAME_VERSION, SL_FRAME_EOS, 0, 42, 9, 0, 1001, 0},
        {SL_FRAME_VERSION, APP_T1, 0, 7, 0, 0, 0, 13},
        {SL_FRAME_VERSION, APP_U1, 0, 8, 1, 0, 5, 1},
        {SL_FRAME_VERSION, APP_T2, 0, 9, 2, 0, 6, 4},
        {SL_FRAME_VERSION, APP_T3, 0xdeadbeef, 10, 3, 3, UINT64_MAX - 1, 200},
        {SL_FRAME_VERSION, SL_FRAME_ACK, 0, 11, 4, 0, 0, 4 + 2 * SL_ACK_BYTES},
        {SL_FRAME_VERSION, APP_U2, 0, 12, 5, 0, 0, 9},
        {SL_FRAME_VERSION, APP_U3, 0, 13, UINT32_MAX, 0, 0, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const struct fields *fl = &cases[c];
        size_t plen = (size_t)fl->payload_len, len = SL_FRAME_HDR + plen;
        unsigned char *payload = malloc(plen ? plen : 1);
        cr_assert_not_null(payload);
        fill_random(&rng, payload, plen);
        unsigned char *want = build(fl, payload, plen);

        unsigned char *got = malloc(len);
        cr_assert_not_null(got);
        memcpy(got + SL_FRAME_HDR, payload, plen);
        sl_frame_hdr in = {
            .version = fl->version,
            .kind = fl->kind,
            .schema = fl->schema,
            .source = fl->source,
            .stream = fl->stream,
            .count = fl->count,
            .seq = fl->seq,
            .payload_len = fl->payload_len,
            .checksum = UINT64_C(0x5555555555555555), /* ignored */
        };
        sl_frame_encode(&in, got + SL_FRAME_HDR, got);
        for (size_t i = 0; i < len; i++)
            cr_assert(eq(u8, got[i], want[i]), "case %zu: byte %zu", c, i);

        sl_frame_hdr h;
        cr_assert(eq(int, check(got, len, plen, &h), SL_FRAME_OK), "case %zu", c);
        cr_assert(eq(u16, h.version, SL_FRAME_VERSION), "case %zu", c);
        cr_assert(eq(u16, h.kind, fl->kind), "case %zu", c);
        cr_assert(eq(u32, h.schema, fl->schema), "case %zu", c);
        cr_assert(eq(u32, h.source, fl->source), "case %zu", c);
        cr_assert(eq(u32, h.stream, fl->stream), "case %zu", c);
        cr_assert(eq(u32, h.count, fl->count), "case %zu", c);
        cr_assert(eq(u64, h.seq, fl->seq), "case %zu", c);
        cr_assert(eq(u64, h.payload_len, fl->payload_len), "case %zu", c);
        cr_assert(eq(u64, h.checksum, rd64(want + 40)), "case %zu", c);
        cr_assert(eq(int, memcmp(got + SL_FRAME_HDR, payload, plen), 0), "case %zu", c);
        free(payload);
        free(want);
        free(got);
    }
}

/* Verdict names are distinct, and out-of-range verdicts still get a name. */
Test(frame, verdict_names)
{
    for (int v = 0; v < SL_FRAME_NVERDICTS; v++) {
        cr_assert_not_null(sl_frame_verdict_name(v));
        for (int w = 0; w < v; w++)
            cr_assert(ne(str, (char *)sl_frame_verdict_name(v), (char *)sl_frame_verdict_name(w)));
    }
    cr_assert_not_null(sl_frame_verdict_name(-1));
    cr_assert_not_null(sl_frame_verdict_name(SL_FRAME_NVERDICTS));
}

/* Asserts that the len bytes at m (copied to a buffer of exactly len bytes) get verdict want. */
static void expect_verdict(const void *m, size_t len, size_t max_payload, int want,
                           const char *what)
{
    unsigned char *d = dup_bytes(m, len);
    sl_frame_hdr h;
    int v = check(d, len, max_payload, &h);
    cr_assert(eq(int, v, want), "%s: got %s, want %s", what, sl_frame_verdict_name(v),
              sl_frame_verdict_name(want));
    free(d);
}

/* One frame per verdict, each differing from a valid frame in the one way the verdict names. */
Test(frame, every_verdict)
{
    uint64_t rng = 2;
    unsigned char recs[5 * REC_A];
    fill_random(&rng, recs, sizeof recs);
    unsigned char *ok = build_data(3, 4, 5, recs, 4);
    size_t oklen = SL_FRAME_HDR + 4 * REC_A;
    expect_verdict(ok, oklen, 4096, SL_FRAME_OK, "valid");

    /* shorter than a header */
    expect_verdict(ok, 0, 4096, SL_FRAME_SHORT, "0 bytes");
    expect_verdict(ok, 1, 4096, SL_FRAME_SHORT, "1 byte");
    expect_verdict(ok, SL_FRAME_HDR - 1, 4096, SL_FRAME_SHORT, "47 bytes");

    /* magic */
    for (int i = 0; i < 4; i++) {
        unsigned char *m = dup_bytes(ok, oklen);
        m[i] ^= 0x20;
        expect_verdict(m, oklen, 4096, SL_FRAME_BADMAGIC, "magic");
        free(m);
    }

    /* version and kind, with a correct checksum over the odd header */
    /* every version but SL_FRAME_VERSION: none, the one before (version 1 frames have no
     * acknowledgements), the one after, the largest */
    uint16_t bad_versions[] = {0, SL_FRAME_VERSION - 1, SL_FRAME_VERSION + 1, 0xffff};
    for (size_t i = 0; i < sizeof bad_versions / sizeof bad_versions[0]; i++) {
        struct fields fl = {bad_versions[i], SL_FRAME_EOS, 0, 1, 1, 0, 0, 0};
        unsigned char *m = build(&fl, NULL, 0);
        sl_frame_hdr h;
        cr_assert(eq(int, check(m, SL_FRAME_HDR, 4096, &h), SL_FRAME_BADVER), "version %u",
                  bad_versions[i]);
        cr_assert(eq(u16, h.version, bad_versions[i]));
        free(m);
    }
    /* every one of the 65536 kinds: netio's three with their flags (DATA and EOS tracked, ACK
     * not), and the application's numbers 16..0x7fff with either flag, are accepted; every other
     * (number 0, netio's numbers it does not define, its kinds with the other flag) is not */
    for (uint32_t k = 0; k <= 0xffff; k++) {
        uint32_t num = k & 0x7fff;
        int known = k == (0x8000 | 1) || k == (0x8000 | 2) || k == 3 || num >= 16;
        struct fields fl = {SL_FRAME_VERSION, (uint16_t)k, SCHEMA_A, 1, 1, 0, 0, 0};
        unsigned char *m = build(&fl, NULL, 0);
        sl_frame_hdr h;
        cr_assert(eq(int, check(m, SL_FRAME_HDR, 4096, &h), known ? SL_FRAME_OK : SL_FRAME_BADKIND),
                  "kind %#x", k);
        cr_assert(eq(u16, h.kind, k));
        free(m);
    }

    /* payload_len disagreeing with the message length */
    expect_verdict(ok, oklen - 1, 4096, SL_FRAME_LENGTH, "truncated by 1");
    expect_verdict(ok, SL_FRAME_HDR, 4096, SL_FRAME_LENGTH, "header only");
    unsigned char *padded = malloc(oklen + 1);
    cr_assert_not_null(padded);
    memcpy(padded, ok, oklen);
    padded[oklen] = 0;
    expect_verdict(padded, oklen + 1, 4096, SL_FRAME_LENGTH, "one byte appended");
    free(padded);

    /* over the maximum: by one byte, and by an absurd length that no message has */
    expect_verdict(ok, oklen, 4 * REC_A, SL_FRAME_OK, "payload exactly at the maximum");
    expect_verdict(ok, oklen, 4 * REC_A - 1, SL_FRAME_OVERSIZED, "payload 1 over the maximum");
    {
        struct fields fl = {SL_FRAME_VERSION, SL_FRAME_DATA, SCHEMA_A, 1, 1, 0, 0, UINT64_MAX};
        unsigned char *m = build(&fl, NULL, 0);
        expect_verdict(m, SL_FRAME_HDR, 4096, SL_FRAME_OVERSIZED, "payload_len 2^64-1");
        free(m);
    }

    /* schema */
    {
        struct fields fl = {SL_FRAME_VERSION, SL_FRAME_DATA, SCHEMA_UNKNOWN, 1, 1, 4, 0, 4 * REC_A};
        unsigned char *m = build(&fl, recs, 4 * REC_A);
        expect_verdict(m, oklen, 4096, SL_FRAME_SCHEMA, "unknown schema");
        free(m);
        struct fields empty = {SL_FRAME_VERSION, SL_FRAME_DATA, SCHEMA_UNKNOWN, 1, 1, 0, 0, 0};
        m = build(&empty, NULL, 0);
        expect_verdict(m, SL_FRAME_HDR, 4096, SL_FRAME_SCHEMA, "unknown schema, no records");
        free(m);
        uint32_t bad_counts[] = {0, 3, 5, UINT32_MAX};
        for (size_t i = 0; i < 4; i++) {
            fl.schema = SCHEMA_A;
            fl.count = bad_counts[i];
            m = build(&fl, recs, 4 * REC_A);
            expect_verdict(m, oklen, 4096, SL_FRAME_SCHEMA, "count * recsize != payload_len");
            free(m);
        }
        /* schema B's 12-byte records do not divide 128 bytes */
        fl.schema = SCHEMA_B;
        fl.count = 10;
        m = build(&fl, recs, 4 * REC_A);
        expect_verdict(m, oklen, 4096, SL_FRAME_SCHEMA, "schema B, 10 records in 128 bytes");
        free(m);
        /* without a recsize function every DATA frame is of an unknown schema, but control
         * frames need none */
        sl_frame_hdr h;
        cr_assert(eq(int, sl_frame_check(ok, oklen, 4096, NULL, &h), SL_FRAME_SCHEMA));
        struct fields eos = {SL_FRAME_VERSION, SL_FRAME_EOS, 0, 1, 1, 0, 9, 3};
        m = build(&eos, "end", 3);
        cr_assert(eq(int, sl_frame_check(m, SL_FRAME_HDR + 3, 4096, NULL, &h), SL_FRAME_OK));
        free(m);
    }

    /* checksum: a payload bit, a bit of the seq field, a bit of the checksum itself */
    size_t flips[] = {SL_FRAME_HDR + 17, 24, 31, 40, 47};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        unsigned char *m = dup_bytes(ok, oklen);
        m[flips[i]] ^= 0x10;
        sl_frame_hdr h;
        cr_assert(eq(int, check(m, oklen, 4096, &h), SL_FRAME_CHECKSUM), "byte %zu", flips[i]);
        free(m);
    }
    free(ok);
}

/* No single-bit corruption of a frame passes: every bit of every byte of a DATA frame with two
 * records and of an empty control frame is flipped in turn. */
Test(frame, every_single_bit_flip_rejected)
{
    uint64_t rng = 3;
    unsigned char recs[2 * REC_A];
    fill_random(&rng, recs, sizeof recs);
    struct fields eos = {SL_FRAME_VERSION, SL_FRAME_EOS, 0, 77, 2, 0, 12, 0};
    unsigned char *frames[2] = {build_data(77, 2, 11, recs, 2), build(&eos, NULL, 0)};
    size_t lens[2] = {SL_FRAME_HDR + sizeof recs, SL_FRAME_HDR};
    for (int k = 0; k < 2; k++) {
        unsigned char *m = frames[k];
        sl_frame_hdr h;
        cr_assert(eq(int, check(m, lens[k], 4096, &h), SL_FRAME_OK));
        for (size_t i = 0; i < lens[k]; i++) {
            for (int b = 0; b < 8; b++) {
                m[i] ^= (unsigned char)(1u << b);
                int v = check(m, lens[k], 4096, &h);
                cr_assert(ne(int, v, SL_FRAME_OK), "frame %d: bit %d of byte %zu accepted", k, b,
                          i);
                m[i] ^= (unsigned char)(1u << b);
            }
        }
        cr_assert(eq(int, check(m, lens[k], 4096, &h), SL_FRAME_OK));
        free(m);
    }
}

/* An empty sequence tracker: the test stops when it cannot be made. */
static sl_seqtrack *new_seqtrack(void)
{
    sl_seqtrack *t = NULL;
    char msg[128] = "";
    cr_assert(eq(int, sl_seqtrack_new(&t, msg, sizeof msg), 0), "%s", msg);
    cr_assert_not_null(t);
    return t;
}

/* Sequence tracking: in order, frames ahead of the stream (reported with the number missing and
 * NOT recorded: the stream still expects the first missing number, which a resend brings),
 * duplicates and replays, independence per (source, stream), growth past the first allocation,
 * and forget() by stream mask. */
Test(frame, seqtrack)
{
    sl_seqtrack *t = new_seqtrack();
    cr_assert(eq(sz, sl_seqtrack_count(t), 0));

    for (uint64_t s = 0; s < 5; s++)
        cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, s), 0), "seq %llu", (unsigned long long)s);
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, 9), 4));  /* 5..8 missing: dropped */
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, 10), 5)); /* 9 was not recorded: 5..9 missing */
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, 9), 4));  /* the same frame again: still ahead */
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, 6), 1));  /* ahead by one */
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, 4), -1)); /* duplicate */
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, 0), -1)); /* replay from the start */
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, UINT64_MAX), -1)); /* would wrap to 0 */
    /* the sender resends from the first missing frame: 5..10 are all taken, in order */
    for (uint64_t s = 5; s <= 10; s++)
        cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, s), 0), "resent seq %llu",
                  (unsigned long long)s);
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, 10), -1)); /* duplicate of a resend */
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, 7), -1));  /* a late copy */
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, 11), 0));  /* rejections changed nothing */
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, 12), 0));
    cr_assert(eq(sz, sl_seqtrack_count(t), 1));

    /* other sources and streams start at 0 and do not disturb (1, 1) */
    cr_assert(eq(i64, sl_seqtrack_check(t, 2, 1, 0), 0));
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 2, 0), 0));
    cr_assert(eq(sz, sl_seqtrack_count(t), 3));
    /* a first frame at 3: 0..2 missing, and the stream is not tracked for it */
    cr_assert(eq(i64, sl_seqtrack_check(t, 2, 2, 3), 3));
    cr_assert(gt(i64, sl_seqtrack_check(t, 3, 3, UINT64_MAX - 1), 0));
    cr_assert(eq(sz, sl_seqtrack_count(t), 3), "a frame ahead created a stream");
    cr_assert(eq(i64, sl_seqtrack_check(t, 2, 2, 3), 3));
    for (uint64_t s = 0; s <= 3; s++)
        cr_assert(eq(i64, sl_seqtrack_check(t, 2, 2, s), 0), "(2, 2) seq %llu",
                  (unsigned long long)s);
    cr_assert(eq(sz, sl_seqtrack_count(t), 4));
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, 13), 0));
    cr_assert(eq(i64, sl_seqtrack_check(t, 2, 1, 1), 0));

    /* 40 more (source, stream) pairs, each with its own position */
    for (uint32_t i = 0; i < 40; i++)
        for (uint64_t s = 0; s <= i; s++)
            cr_assert(eq(i64, sl_seqtrack_check(t, 100 + i, 0x300 + i, s), 0));
    cr_assert(eq(sz, sl_seqtrack_count(t), 44));
    for (uint32_t i = 0; i < 40; i++) {
        cr_assert(eq(i64, sl_seqtrack_check(t, 100 + i, 0x300 + i, i), -1), "pair %u", i);
        cr_assert(eq(i64, sl_seqtrack_check(t, 100 + i, 0x300 + i, i + 2), 1), "pair %u", i);
        cr_assert(eq(i64, sl_seqtrack_check(t, 100 + i, 0x300 + i, i + 1), 0), "pair %u", i);
    }
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, 14), 0));

    /* forget the streams 0x100..0x1ff of every source; 0x200 and (1, 1) stay */
    cr_assert(eq(i64, sl_seqtrack_check(t, 5, 0x100, 0), 0));
    cr_assert(eq(i64, sl_seqtrack_check(t, 5, 0x100, 1), 0));
    cr_assert(eq(i64, sl_seqtrack_check(t, 6, 0x1ff, 0), 0));
    cr_assert(eq(i64, sl_seqtrack_check(t, 5, 0x200, 0), 0));
    cr_assert(eq(sz, sl_seqtrack_count(t), 47));
    sl_seqtrack_forget(t, 0xff00, 0x1ab);
    cr_assert(eq(sz, sl_seqtrack_count(t), 45));
    cr_assert(eq(i64, sl_seqtrack_check(t, 5, 0x100, 0), 0)); /* starts again */
    cr_assert(eq(i64, sl_seqtrack_check(t, 6, 0x1ff, 0), 0));
    cr_assert(eq(i64, sl_seqtrack_check(t, 5, 0x200, 0), -1)); /* kept */
    cr_assert(eq(i64, sl_seqtrack_check(t, 5, 0x200, 1), 0));
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, 14), -1));
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 1, 15), 0));
    for (uint32_t i = 0; i < 40; i++)
        cr_assert(eq(i64, sl_seqtrack_check(t, 100 + i, 0x300 + i, i + 2), 0), "pair %u", i);
    cr_assert(eq(sz, sl_seqtrack_count(t), 47));

    sl_seqtrack_destroy(&t);
    cr_assert_null(t);
    sl_seqtrack_destroy(&t); /* harmless on NULL */
}

/* The ACK payload as frame.h describes it, written here: u32 count, then count x (u32 stream,
 * u64 next), little-endian. Returns the length. */
static size_t ack_bytes(const sl_ack *a, uint32_t count, size_t n, unsigned char *out)
{
    wr32(out, count);
    for (size_t i = 0; i < n; i++) {
        wr32(out + 4 + i * 12, a[i].stream);
        wr64(out + 8 + i * 12, a[i].next);
    }
    return 4 + n * 12;
}

/* ACK payloads: sl_ack_encode writes the documented bytes for 0, 1, a few and SL_ACK_MAX entries
 * with extreme values, sl_ack_decode reads them back (source 0); every length that disagrees with
 * the count and every count over SL_ACK_MAX is refused without reading past the end. */
Test(frame, ack_codec)
{
    cr_assert(eq(int, SL_ACK_BYTES, 12));
    uint64_t rng = 21;
    sl_ack *a = calloc(SL_ACK_MAX + 1, sizeof *a), *back = calloc(SL_ACK_MAX, sizeof *back);
    cr_assert(a && back);
    for (size_t i = 0; i < SL_ACK_MAX + 1; i++)
        a[i] =
            (sl_ack){.source = 77, .stream = (uint32_t)splitmix64(&rng), .next = splitmix64(&rng)};
    a[0].stream = 0, a[0].next = 0;
    a[1].stream = UINT32_MAX, a[1].next = UINT64_MAX;
    a[2].stream = 0x80000001u, a[2].next = UINT64_C(0x0102030405060708);
    size_t big = 4 + (size_t)(SL_ACK_MAX + 1) * 12;
    unsigned char *want = malloc(big), *got = malloc(big);
    cr_assert(want && got);
    size_t ns[] = {0, 1, 3, 17, SL_ACK_MAX};
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        size_t n = ns[c];
        size_t wlen = ack_bytes(a, (uint32_t)n, n, want);
        memset(got, 0xa5, big);
        cr_assert(eq(sz, sl_ack_encode(a, n, got), wlen), "%zu entries", n);
        cr_assert(eq(int, memcmp(got, want, wlen), 0), "%zu entries: bytes differ", n);
        cr_assert(eq(u8, got[wlen], 0xa5), "%zu entries: wrote past the end", n);
        unsigned char *exact = dup_bytes(want, wlen);
        for (size_t i = 0; i < SL_ACK_MAX; i++)
            back[i] = (sl_ack){.source = 0xdead, .stream = 1, .next = 1};
        cr_assert(eq(long, sl_ack_decode(exact, wlen, back), (long)n), "%zu entries", n);
        for (size_t i = 0; i < n; i++) {
            cr_assert(eq(u32, back[i].source, 0), "entry %zu", i);
            cr_assert(eq(u32, back[i].stream, a[i].stream), "entry %zu", i);
            cr_assert(eq(u64, back[i].next, a[i].next), "entry %zu", i);
        }
        /* every other length, shorter or longer, with the same count */
        for (size_t len = 0; len < wlen + 30; len++) {
            if (len == wlen)
                continue;
            unsigned char *m = malloc(len ? len : 1);
            cr_assert_not_null(m);
            memcpy(m, want, len < wlen ? len : wlen);
            if (len > wlen)
                memset(m + wlen, 0, len - wlen);
            cr_assert(eq(long, sl_ack_decode(m, len, back), SL_EPARSE), "%zu entries in %zu bytes",
                      n, len);
            free(m);
        }
        free(exact);
    }
    /* counts over SL_ACK_MAX with the length they would need, and absurd counts */
    size_t len = ack_bytes(a, SL_ACK_MAX + 1, SL_ACK_MAX + 1, want);
    unsigned char *m = dup_bytes(want, len);
    cr_assert(eq(long, sl_ack_decode(m, len, back), SL_EPARSE), "SL_ACK_MAX + 1 entries accepted");
    free(m);
    uint32_t absurd[] = {UINT32_MAX, 0x15555556u /* * 12 wraps 32 bits to 8 */, 1u << 31};
    for (size_t i = 0; i < sizeof absurd / sizeof absurd[0]; i++) {
        for (size_t l = 4; l <= 4 + 2 * 12; l += 12) {
            len = ack_bytes(a, absurd[i], (l - 4) / 12, want);
            m = dup_bytes(want, len);
            cr_assert(eq(long, sl_ack_decode(m, len, back), SL_EPARSE), "count %u in %zu bytes",
                      absurd[i], len);
            free(m);
        }
    }
    free(a);
    free(back);
    free(want);
    free(got);
}

/* Finds (source, stream) in acks[0..n); returns its index or -1. */
static long find_ack(const sl_ack *acks, size_t n, uint32_t source, uint32_t stream)
{
    for (size_t i = 0; i < n; i++)
        if (acks[i].source == source && acks[i].stream == stream)
            return (long)i;
    return -1;
}

/* take_acks: only streams whose next number moved since they were last taken, each once, with
 * the number expected next; frames ahead, duplicates and refused checks move nothing; `all`
 * gives every tracked stream; `max` bounds one call and the rest come with the next. */
Test(frame, seqtrack_take_acks)
{
    sl_seqtrack *t = new_seqtrack();
    sl_ack acks[8];
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, acks, 8, 0), 0));
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, acks, 8, 1), 0));

    for (uint64_t s = 0; s < 3; s++)
        cr_assert(eq(i64, sl_seqtrack_check(t, 1, 10, s), 0));
    cr_assert(eq(i64, sl_seqtrack_check(t, 2, 10, 0), 0));
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 20, 0), 0));
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, acks, 8, 0), 3));
    long i1 = find_ack(acks, 3, 1, 10), i2 = find_ack(acks, 3, 2, 10),
         i3 = find_ack(acks, 3, 1, 20);
    cr_assert(i1 >= 0 && i2 >= 0 && i3 >= 0, "streams missing from the acks");
    cr_assert(eq(u64, acks[i1].next, 3));
    cr_assert(eq(u64, acks[i2].next, 1));
    cr_assert(eq(u64, acks[i3].next, 1));
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, acks, 8, 0), 0), "the same acks taken twice");

    /* a duplicate, a frame ahead and an untracked-stream frame ahead move nothing */
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 10, 1), -1));
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 10, 5), 2));
    cr_assert(eq(i64, sl_seqtrack_check(t, 9, 9, 5), 5));
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, acks, 8, 0), 0));

    /* one stream moves by two: one entry with its latest number */
    cr_assert(eq(i64, sl_seqtrack_check(t, 2, 10, 1), 0));
    cr_assert(eq(i64, sl_seqtrack_check(t, 2, 10, 2), 0));
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, acks, 8, 0), 1));
    cr_assert(eq(u32, acks[0].source, 2));
    cr_assert(eq(u32, acks[0].stream, 10));
    cr_assert(eq(u64, acks[0].next, 3));

    /* all: every stream, moved or not, and afterwards none is owed */
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, acks, 8, 1), 3));
    i1 = find_ack(acks, 3, 1, 10), i2 = find_ack(acks, 3, 2, 10), i3 = find_ack(acks, 3, 1, 20);
    cr_assert(i1 >= 0 && i2 >= 0 && i3 >= 0);
    cr_assert(eq(u64, acks[i1].next, 3));
    cr_assert(eq(u64, acks[i2].next, 3));
    cr_assert(eq(u64, acks[i3].next, 1));
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, acks, 8, 0), 0));

    /* max: three moved, two per call; the third comes with the next call, then none */
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 10, 3), 0));
    cr_assert(eq(i64, sl_seqtrack_check(t, 2, 10, 3), 0));
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 20, 1), 0));
    sl_ack first[2], rest[8];
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, first, 2, 0), 2));
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, rest, 8, 0), 1));
    sl_ack seen[3] = {first[0], first[1], rest[0]};
    i1 = find_ack(seen, 3, 1, 10), i2 = find_ack(seen, 3, 2, 10), i3 = find_ack(seen, 3, 1, 20);
    cr_assert(i1 >= 0 && i2 >= 0 && i3 >= 0, "a stream taken twice or never");
    cr_assert(eq(u64, seen[i1].next, 4));
    cr_assert(eq(u64, seen[i2].next, 4));
    cr_assert(eq(u64, seen[i3].next, 2));
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, rest, 8, 0), 0));
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, rest, 0, 1), 0));

    /* a forgotten stream is owed nothing; started again, it is owed from 0 */
    sl_seqtrack_forget(t, UINT32_MAX, 20);
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, acks, 8, 1), 2));
    cr_assert(eq(long, find_ack(acks, 2, 1, 20), -1));
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 20, 0), 0));
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, acks, 8, 0), 1));
    cr_assert(eq(u32, acks[0].stream, 20));
    cr_assert(eq(u64, acks[0].next, 1));
    sl_seqtrack_destroy(&t);
}

/* At most SL_SEQTRACK_MAX streams: the next new one is refused with -3 and nothing recorded,
 * streams already tracked still advance, and forgetting some makes room again. */
Test(frame, seqtrack_max)
{
    sl_seqtrack *t = new_seqtrack();
    /* streams 0x10000 + i of source i % 3, each with 1 + i % 2 frames */
    for (uint32_t i = 0; i < SL_SEQTRACK_MAX; i++)
        for (uint64_t s = 0; s <= i % 2; s++)
            cr_assert(eq(i64, sl_seqtrack_check(t, i % 3, 0x10000 + i, s), 0), "stream %u", i);
    cr_assert(eq(sz, sl_seqtrack_count(t), SL_SEQTRACK_MAX));
    cr_assert(eq(i64, sl_seqtrack_check(t, 0, 0x20000, 0), -3));
    cr_assert(eq(i64, sl_seqtrack_check(t, 7, 0x10000, 0), -3)); /* a known stream, new source */
    cr_assert(eq(sz, sl_seqtrack_count(t), SL_SEQTRACK_MAX));
    /* tracked streams go on */
    cr_assert(eq(i64, sl_seqtrack_check(t, 0, 0x10000, 1), 0));
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 0x10001, 2), 0));
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 0x10001, 2), -1));
    cr_assert(eq(i64, sl_seqtrack_check(t, 2, 0x20000, 0), -3), "still full");
    sl_ack *acks = calloc(SL_SEQTRACK_MAX + 1, sizeof *acks);
    cr_assert_not_null(acks);
    cr_assert(eq(sz, sl_seqtrack_take_acks(t, acks, SL_SEQTRACK_MAX + 1, 1), SL_SEQTRACK_MAX));

    /* forget the 16 streams 0x10000..0x1000f: 16 new ones fit, the 17th does not */
    sl_seqtrack_forget(t, UINT32_C(0xfffffff0), 0x10000);
    cr_assert(eq(sz, sl_seqtrack_count(t), SL_SEQTRACK_MAX - 16));
    for (uint32_t i = 0; i < 16; i++)
        cr_assert(eq(i64, sl_seqtrack_check(t, 5, 0x20000 + i, 0), 0), "new stream %u", i);
    cr_assert(eq(i64, sl_seqtrack_check(t, 5, 0x20010, 0), -3));
    cr_assert(eq(sz, sl_seqtrack_count(t), SL_SEQTRACK_MAX));
    /* a forgotten stream is new again: refused while full */
    cr_assert(eq(i64, sl_seqtrack_check(t, 0, 0x10000, 0), -3));
    /* stream 0x10010 (i = 16: source 1, one frame) was kept and goes on at 1 */
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 0x10010, 0), -1));
    cr_assert(eq(i64, sl_seqtrack_check(t, 1, 0x10010, 1), 0));
    free(acks);
    sl_seqtrack_destroy(&t);
}

/* ---- outbox -> inbox ------------------------------------------------------------------------- */

struct collect {
    const unsigned char *want; /* expected records, concatenated */
    size_t want_n;             /* records expected */
    size_t got_n;              /* records received so far */
    uint32_t source, stream;
    uint64_t next_seq;
    size_t per; /* records in every frame but the last */
};

/* Checks a DATA frame against the next records expected, in order. */
static void collect_data(void *ud, const sl_frame *f)
{
    struct collect *c = ud;
    cr_assert(eq(u16, f->h.kind, SL_FRAME_DATA));
    cr_assert(eq(u32, f->h.schema, SCHEMA_A));
    cr_assert(eq(u32, f->h.source, c->source));
    cr_assert(eq(u32, f->h.stream, c->stream));
    cr_assert(eq(u64, f->h.seq, c->next_seq));
    cr_assert(eq(u64, f->h.payload_len, (uint64_t)f->h.count * REC_A));
    cr_assert(le(sz, c->got_n + f->h.count, c->want_n), "more records than were put");
    if (c->got_n + f->h.count < c->want_n)
        cr_assert(eq(u32, f->h.count, c->per), "frame %llu sealed early",
                  (unsigned long long)f->h.seq);
    cr_assert(eq(int, memcmp(f->payload, c->want + c->got_n * REC_A, f->h.count * REC_A), 0),
              "frame %llu: records differ", (unsigned long long)f->h.seq);
    c->got_n += f->h.count;
    c->next_seq++;
}

/* 100,000 records put in random-sized pieces through 4 KiB frames arrive complete, in order, in
 * exactly ceil(100000 / (4096 / 32)) frames numbered 0, 1, 2, ..., and both ends count the same
 * frames and bytes. */
Test(netio, outbox_to_inbox_100k)
{
    enum { N = 100000 };
    struct net n;
    net_init(&n);
    n.o.batch_bytes = 4096;
    n.o.flush_us = UINT64_C(60000000); /* no tick here, and no early seal */
    net_bind(&n);
    sl_outbox *ob = net_outbox(&n, 3);

    uint64_t rng = 4;
    unsigned char *recs = malloc((size_t)N * REC_A);
    cr_assert_not_null(recs);
    fill_random(&rng, recs, (size_t)N * REC_A);
    size_t per = 4096 / REC_A;
    size_t want_frames = (N + per - 1) / per;
    struct collect c = {recs, N, 0, 3, 11, 0, per};

    size_t i = 0, frames = 0;
    while (i < N) {
        size_t k = 1 + (size_t)(splitmix64(&rng) % 700);
        if (k > N - i)
            k = N - i;
        cr_assert(eq(int, sl_outbox_put(ob, 11, SCHEMA_A, REC_A, recs + i * REC_A, k), 0));
        i += k;
        cr_assert(eq(int, sl_outbox_pump(ob), 0));
        sl_frame f;
        while (sl_inbox_recv(n.ib, &f) == 1) {
            collect_data(&c, &f);
            frames++;
        }
        apply_acks(n.ib, ob, 3);
    }
    /* held: the open frame's records, and whole frames unsent or sent and not yet acknowledged
     * (acknowledgements are cumulative, so acknowledged frames are all freed) */
    sl_outbox_stats os;
    sl_outbox_get_stats(ob, &os);
    size_t held = sl_outbox_queued_frames(ob) + sl_outbox_unacked_frames(ob);
    cr_assert(eq(sz, sl_outbox_queued_bytes(ob),
                 (size_t)(N - os.records) * REC_A + held * (SL_FRAME_HDR + 4096)));
    frames += shuttle(ob, n.ib, 3, want_frames - frames, collect_data, &c, 10000);
    cr_assert(eq(sz, c.got_n, (size_t)N));
    cr_assert(eq(sz, frames, want_frames));
    cr_assert(eq(u64, c.next_seq, want_frames));
    cr_assert(eq(int, sl_outbox_drain(ob, 1000), 0));
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), 0));
    /* every frame was acknowledged: nothing is held any more */
    cr_assert(eq(sz, sl_outbox_unacked_frames(ob), 0));
    cr_assert(eq(sz, sl_outbox_queued_bytes(ob), 0));
    sl_frame f;
    cr_assert(eq(int, recv_wait(n.ib, &f, 50), 0), "a frame beyond the last");
    sl_ack acks[4];
    cr_assert(eq(sz, sl_inbox_take_acks(n.ib, acks, 4, 0), 0), "an ack still owed");
    cr_assert(eq(sz, sl_inbox_take_acks(n.ib, acks, 4, 1), 1));
    cr_assert(eq(u32, acks[0].source, 3));
    cr_assert(eq(u32, acks[0].stream, 11));
    cr_assert(eq(u64, acks[0].next, want_frames));

    sl_inbox_stats is;
    sl_outbox_get_stats(ob, &os);
    sl_inbox_get_stats(n.ib, &is);
    uint64_t want_bytes = (uint64_t)want_frames * SL_FRAME_HDR + (uint64_t)N * REC_A;
    cr_assert(eq(u64, os.frames, want_frames));
    cr_assert(eq(u64, is.frames, want_frames));
    cr_assert(eq(u64, os.records, N));
    cr_assert(eq(u64, os.bytes, want_bytes));
    cr_assert(eq(u64, is.bytes, want_bytes));
    for (int v = 0; v < SL_FRAME_NVERDICTS; v++)
        cr_assert(eq(u64, is.rejected[v], 0), "rejected[%s]", sl_frame_verdict_name(v));
    cr_assert(eq(u64, is.duplicates, 0));
    cr_assert(eq(u64, is.gaps, 0));
    cr_assert(eq(sz, n.lg.n, 0));

    net_close(&n, &ob);
    free(recs);
}

/* The latency bound: 3 records stay open until their first is flush_us old; then one tick seals
 * one frame holding exactly those 3. */
Test(netio, tick_seals_after_flush_us)
{
    struct net n;
    net_init(&n);
    n.o.flush_us = 50000;
    net_bind(&n);
    sl_outbox *ob = net_outbox(&n, 8);

    uint64_t rng = 5;
    unsigned char recs[3 * REC_A];
    fill_random(&rng, recs, sizeof recs);
    cr_assert(eq(int, sl_outbox_tick(ob, sl_net_now_us()), 0)); /* nothing open: nothing to do */
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), 0));

    uint64_t before = sl_net_now_us();
    cr_assert(eq(int, sl_outbox_put(ob, 1, SCHEMA_A, REC_A, recs, 3), 0));
    uint64_t after = sl_net_now_us();
    cr_assert(lt(u64, after - before, n.o.flush_us / 2), "put took too long to test");
    cr_assert(eq(int, sl_outbox_tick(ob, sl_net_now_us()), 0));
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), 0), "sealed before flush_us");
    /* the first record was put no earlier than `before`, so it is younger than flush_us here */
    cr_assert(eq(int, sl_outbox_tick(ob, before + n.o.flush_us - 1), 0));
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), 0), "sealed before flush_us");
    /* a clock read before the put (an event loop's "now" for its iteration) is not flush_us
     * after it either */
    cr_assert(eq(int, sl_outbox_tick(ob, before), 0));
    cr_assert(eq(int, sl_outbox_tick(ob, before - 1), 0));
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), 0), "a clock older than the put sealed");
    cr_assert(eq(sz, sl_outbox_queued_bytes(ob), sizeof recs));

    struct timespec ts = {0, (long)(n.o.flush_us + 20000) * 1000};
    nanosleep(&ts, NULL);
    cr_assert(eq(int, sl_outbox_tick(ob, sl_net_now_us()), 0));
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), 1));
    cr_assert(eq(sz, sl_outbox_queued_bytes(ob), SL_FRAME_HDR + sizeof recs));
    cr_assert(eq(int, sl_outbox_tick(ob, sl_net_now_us()), 0)); /* nothing more to seal */
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), 1));

    cr_assert(eq(int, sl_outbox_drain(ob, 2000), 0));
    sl_frame f;
    cr_assert(eq(int, recv_wait(n.ib, &f, 2000), 1));
    cr_assert(eq(u16, f.h.kind, SL_FRAME_DATA));
    cr_assert(eq(u32, f.h.count, 3));
    cr_assert(eq(u64, f.h.seq, 0));
    cr_assert(eq(u32, f.h.source, 8));
    cr_assert(eq(int, memcmp(f.payload, recs, sizeof recs), 0));
    cr_assert(eq(int, recv_wait(n.ib, &f, 50), 0));

    net_close(&n, &ob);
}

struct ctl_log {
    sl_frame_hdr h[16];
    unsigned char payload[16][4096];
    size_t n;
};

static void log_frame(void *ud, const sl_frame *f)
{
    struct ctl_log *lg = ud;
    cr_assert(lt(sz, lg->n, 16));
    cr_assert(le(u64, f->h.payload_len, 4096));
    lg->h[lg->n] = f->h;
    memcpy(lg->payload[lg->n], f->payload, (size_t)f->h.payload_len);
    lg->n++;
}

/* A control frame seals the open DATA frame first and takes the stream's next sequence number;
 * another stream's control frame starts at 0; a control payload over the maximum is refused. */
Test(netio, control_after_data)
{
    struct net n;
    net_init(&n);
    n.o.batch_bytes = 4096; /* 128 records a frame */
    n.o.max_payload = 8192;
    n.o.flush_us = UINT64_C(60000000);
    net_bind(&n);
    sl_outbox *ob = net_outbox(&n, 21);

    enum { N = 300 };
    uint64_t rng = 6;
    unsigned char *recs = malloc(N * REC_A);
    cr_assert_not_null(recs);
    fill_random(&rng, recs, N * REC_A);
    cr_assert(eq(int, sl_outbox_put(ob, 7, SCHEMA_A, REC_A, recs, N), 0));
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), N / 128)); /* 2 full, 44 records open */
    cr_assert(eq(int, sl_outbox_control(ob, SL_FRAME_EOS, 7, "end", 3), 0));
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), N / 128 + 2));
    cr_assert(eq(int, sl_outbox_control(ob, APP_T2, 8, NULL, 0), 0));
    static unsigned char big[8193];
    cr_assert(eq(int, sl_outbox_control(ob, APP_T1, 8, big, sizeof big), SL_ERANGE));
    cr_assert(eq(int, sl_outbox_control(ob, APP_T1, 8, big, sizeof big - 1), 0));
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), N / 128 + 4));

    struct ctl_log *lg = calloc(1, sizeof *lg);
    cr_assert_not_null(lg);
    /* the APP_T1 frame is bigger than a log slot: receive the first five, then it */
    cr_assert(eq(sz, shuttle(ob, n.ib, 21, 5, log_frame, lg, 5000), 5));
    uint32_t want_count[3] = {128, 128, N - 256};
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        cr_assert(eq(u16, lg->h[i].kind, SL_FRAME_DATA), "frame %d", i);
        cr_assert(eq(u32, lg->h[i].stream, 7));
        cr_assert(eq(u64, lg->h[i].seq, (uint64_t)i));
        cr_assert(eq(u32, lg->h[i].count, want_count[i]));
        cr_assert(eq(int, memcmp(lg->payload[i], recs + off * REC_A, want_count[i] * REC_A), 0));
        off += want_count[i];
    }
    cr_assert(eq(u16, lg->h[3].kind, SL_FRAME_EOS));
    cr_assert(eq(u32, lg->h[3].stream, 7));
    cr_assert(eq(u64, lg->h[3].seq, 3), "EOS must follow the last DATA frame's number");
    cr_assert(eq(u32, lg->h[3].count, 0));
    cr_assert(eq(u64, lg->h[3].payload_len, 3));
    cr_assert(eq(int, memcmp(lg->payload[3], "end", 3), 0));
    cr_assert(eq(u32, lg->h[3].source, 21));
    cr_assert(eq(u16, lg->h[4].kind, APP_T2));
    cr_assert(eq(u32, lg->h[4].stream, 8));
    cr_assert(eq(u64, lg->h[4].seq, 0));
    cr_assert(eq(u64, lg->h[4].payload_len, 0));
    sl_frame f;
    cr_assert(eq(int, recv_wait(n.ib, &f, 2000), 1));
    cr_assert(eq(u16, f.h.kind, APP_T1));
    cr_assert(eq(u64, f.h.seq, 1));
    cr_assert(eq(u64, f.h.payload_len, sizeof big - 1));
    cr_assert(eq(int, recv_wait(n.ib, &f, 50), 0));
    sl_inbox_stats is;
    sl_inbox_get_stats(n.ib, &is);
    cr_assert(eq(u64, is.frames, 6));
    cr_assert(eq(u64, is.gaps, 0));

    net_close(&n, &ob);
    free(lg);
    free(recs);
}

/* An untracked kind and the stream's sequence: the inbox does not track such frames (any client
 * may send pings, each starting at 0), so the outbox must not give one the stream's next number,
 * or the frame after it on the same stream would look like one that follows a lost frame. */
Test(netio, hello_leaves_no_gap)
{
    struct net n;
    net_init(&n);
    net_bind(&n);
    sl_outbox *ob = net_outbox(&n, 2);
    cr_assert(eq(int, sl_outbox_control(ob, APP_U1, 0, "hi", 2), 0));
    cr_assert(eq(int, sl_outbox_control(ob, APP_T1, 0, "job", 3), 0));
    cr_assert(eq(int, sl_outbox_drain(ob, 5000), 0));
    sl_frame f;
    cr_assert(eq(int, recv_wait(n.ib, &f, 5000), 1));
    cr_assert(eq(u16, f.h.kind, APP_U1));
    cr_assert(eq(int, recv_wait(n.ib, &f, 5000), 1));
    cr_assert(eq(u16, f.h.kind, APP_T1));
    sl_inbox_stats is;
    sl_inbox_get_stats(n.ib, &is);
    cr_assert(eq(u64, is.gaps, 0), "an untracked frame counted as a lost frame");
    cr_assert(eq(sz, n.lg.n, 0));
    net_close(&n, &ob);
}

/* Record i of the back-pressure test: its index and two values derived from it. */
static void bp_record(uint64_t i, unsigned char *out)
{
    uint64_t s = i;
    wr64(out, i);
    wr64(out + 8, splitmix64(&s));
    wr64(out + 16, splitmix64(&s));
    wr64(out + 24, ~i);
}

struct bp_check {
    uint64_t next; /* index of the next record expected */
    uint64_t next_seq;
};

static void bp_sink(void *ud, const sl_frame *f)
{
    struct bp_check *c = ud;
    unsigned char want[REC_A];
    cr_assert(eq(u16, f->h.kind, SL_FRAME_DATA));
    cr_assert(eq(u64, f->h.seq, c->next_seq));
    for (uint32_t r = 0; r < f->h.count; r++) {
        bp_record(c->next, want);
        cr_assert(eq(int, memcmp(f->payload + (size_t)r * REC_A, want, REC_A), 0),
                  "record %llu: got #%llu", (unsigned long long)c->next,
                  (unsigned long long)rd64(f->payload + (size_t)r * REC_A));
        c->next++;
    }
    c->next_seq++;
}

/* A receiver that does not read: the sender's pump stops with frames still queued and counts the
 * stop instead of dropping, more input keeps queueing, and once the receiver reads every record
 * arrives exactly once, in order. */
Test(netio, back_pressure_without_loss)
{
    enum { PER = 2048, MAX_FRAMES = 4000 }; /* 64 KiB frames; give up past 256 MiB */
    struct net n;
    net_init(&n);
    n.o.hwm = 4;
    n.o.batch_bytes = PER * REC_A;
    n.o.flush_us = UINT64_C(60000000);
    net_bind(&n);
    sl_outbox *ob = net_outbox(&n, 5);

    /* first make sure the connection is up, so that the stop seen below is back-pressure and
     * not ZMQ_IMMEDIATE waiting for a peer */
    cr_assert(eq(int, sl_outbox_control(ob, APP_U1, 0, "hi", 2), 0));
    cr_assert(eq(int, sl_outbox_drain(ob, 5000), 0));
    sl_frame f;
    cr_assert(eq(int, recv_wait(n.ib, &f, 5000), 1));
    cr_assert(eq(u16, f.h.kind, APP_U1));

    unsigned char *buf = malloc(PER * REC_A);
    cr_assert_not_null(buf);
    uint64_t put = 0;
    size_t nframes = 0;
    sl_outbox_stats os;
    for (;;) {
        for (size_t r = 0; r < PER; r++)
            bp_record(put + r, buf + r * REC_A);
        cr_assert(eq(int, sl_outbox_put(ob, 1, SCHEMA_A, REC_A, buf, PER), 0));
        put += PER;
        nframes++;
        /* A full pipe can also be momentary (ZeroMQ's I/O thread not yet at it): back-pressure
         * is a queue that stays unsent for 200 ms while the socket never becomes writable. */
        int rc = sl_outbox_drain(ob, 200);
        cr_assert(ge(int, rc, 0));
        if (rc == 1)
            break;
        cr_assert(lt(sz, nframes, (size_t)MAX_FRAMES), "the sender never saw back-pressure");
    }
    cr_assert(gt(sz, sl_outbox_queued_frames(ob), 0));
    sl_outbox_get_stats(ob, &os);
    cr_assert(gt(u64, os.blocked, 0));
    /* the blocked time: the drain that gave up waited 200 ms behind the full queue, and a spell
     * still going on counts as it goes */
    cr_assert(ge(u64, os.blocked_us, 200000), "blocked %llu us", (unsigned long long)os.blocked_us);
    usleep(300000);
    sl_outbox_stats held;
    sl_outbox_get_stats(ob, &held);
    cr_assert(ge(u64, held.blocked_us, os.blocked_us + 300000), "blocked %llu us, then %llu us",
              (unsigned long long)os.blocked_us, (unsigned long long)held.blocked_us);
    cr_assert(ge(u64, os.frames, 2 * (uint64_t)n.o.hwm), "blocked after only %llu frames",
              (unsigned long long)os.frames);
    /* more input queues up; nothing is dropped */
    for (int k = 0; k < 20; k++) {
        for (size_t r = 0; r < PER; r++)
            bp_record(put + r, buf + r * REC_A);
        cr_assert(eq(int, sl_outbox_put(ob, 1, SCHEMA_A, REC_A, buf, PER), 0));
        put += PER;
        nframes++;
        cr_assert(eq(int, sl_outbox_pump(ob), 0));
    }
    /* (the peer may still take a few: only the count of frames handed over plus queued is
     * exact) */
    size_t queued = sl_outbox_queued_frames(ob);
    cr_assert(gt(sz, queued, 0));
    sl_outbox_stats os2;
    sl_outbox_get_stats(ob, &os2);
    cr_assert(gt(u64, os2.blocked, os.blocked));
    cr_assert(eq(u64, os2.frames + queued, 1 + nframes));
    /* nothing was acknowledged (the receiver read none of them): every DATA frame handed over
     * is held, so the bytes held are all nframes frames; the APP_U1 frame, untracked, is not held
     */
    cr_assert(eq(sz, sl_outbox_unacked_frames(ob), (size_t)os2.frames - 1));
    cr_assert(eq(sz, sl_outbox_queued_bytes(ob), nframes * (SL_FRAME_HDR + PER * REC_A)));

    /* now read and pump alternately */
    struct bp_check c = {0, 0};
    cr_assert(eq(sz, shuttle(ob, n.ib, 5, nframes, bp_sink, &c, 15000), nframes));
    cr_assert(eq(u64, c.next, put));
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), 0));
    cr_assert(eq(sz, sl_outbox_unacked_frames(ob), 0));
    cr_assert(eq(sz, sl_outbox_queued_bytes(ob), 0));
    cr_assert(eq(int, recv_wait(n.ib, &f, 50), 0));
    sl_inbox_stats is;
    sl_inbox_get_stats(n.ib, &is);
    sl_outbox_get_stats(ob, &os);
    cr_assert(eq(u64, is.frames, 1 + nframes));
    cr_assert(eq(u64, os.frames, 1 + nframes));
    cr_assert(eq(u64, os.records, put));
    /* nothing waits now: the blocked time stands still */
    usleep(100000);
    sl_outbox_stats still;
    sl_outbox_get_stats(ob, &still);
    cr_assert(eq(u64, still.blocked_us, os.blocked_us));
    cr_assert(ge(u64, os.blocked_us, held.blocked_us));
    cr_assert(eq(u64, is.gaps, 0));
    cr_assert(eq(u64, is.duplicates, 0));

    net_close(&n, &ob);
    free(buf);
}

/* ---- rogue peers ----------------------------------------------------------------------------- */

/* Receives until `frames` valid frames arrived and the reject log holds `rejects` entries, or
 * 5 s passed; returns the valid frames' sequence numbers in seqs. */
static size_t recv_until(sl_inbox *ib, const struct rejlog *lg, size_t frames, size_t rejects,
                         uint64_t *seqs)
{
    size_t got = 0;
    uint64_t deadline = sl_net_now_us() + 5000000;
    while ((got < frames || lg->n < rejects) && sl_net_now_us() < deadline) {
        sl_frame f;
        if (recv_wait(ib, &f, 10)) {
            cr_assert(lt(sz, got, frames), "more valid frames than sent");
            seqs[got++] = f.h.seq;
        }
    }
    return got;
}

/* Receives frames until those numbered want[0..nwant) came, in that order, and the reject log
 * holds `rejects` entries (5 s at most). */
static void expect_seqs(struct net *n, size_t rejects, size_t nwant, const uint64_t *want)
{
    uint64_t seqs[16];
    cr_assert(le(sz, nwant, 16));
    cr_assert(eq(sz, recv_until(n->ib, &n->lg, nwant, rejects, seqs), nwant));
    for (size_t i = 0; i < nwant; i++)
        cr_assert(eq(u64, seqs[i], want[i]), "frame %zu", i);
}

/* The inbox's counts so far: frames delivered, gaps and duplicates dropped, rejects reported. */
static void expect_counts(struct net *n, uint64_t frames, uint64_t gaps, uint64_t dups,
                          size_t rejects)
{
    sl_inbox_stats is;
    sl_inbox_get_stats(n->ib, &is);
    cr_assert(eq(u64, is.frames, frames));
    cr_assert(eq(u64, is.gaps, gaps));
    cr_assert(eq(u64, is.duplicates, dups));
    cr_assert(eq(sz, n->lg.n, rejects));
}

/* Reject entry i of the log: its verdict, and its detail and sequence number. */
static void expect_reject(const struct net *n, size_t i, int verdict, int64_t detail, uint64_t seq)
{
    cr_assert(lt(sz, i, n->lg.n));
    cr_assert(eq(int, n->lg.r[i].verdict, verdict), "reject %zu", i);
    cr_assert(eq(i64, n->lg.r[i].detail, detail), "reject %zu", i);
    cr_assert(eq(u64, n->lg.r[i].seq, seq), "reject %zu", i);
}

/* Garbage, every kind of malformed frame, a duplicate and a multi-part message from a plain PUSH
 * socket: only the valid frames come through, each reject is counted once under its verdict and
 * reported to the callback in order. Then a message over ZMQ_MAXMSGSIZE: ZeroMQ drops the
 * connection (counted by the monitor) and a new connection still delivers. */
Test(netio, rogue_frames)
{
    struct net n;
    net_init(&n);
    n.o.max_payload = 1024; /* ZMQ_MAXMSGSIZE is then 2 * 1024 + 48 */
    net_bind(&n);
    void *raw = raw_push(n.ctx, n.ep);

    uint64_t rng = 7;
    unsigned char recs[40 * REC_A];
    fill_random(&rng, recs, sizeof recs);
    unsigned char *f0 = build_data(9, 5, 0, recs, 4);
    unsigned char *f1 = build_data(9, 5, 1, recs + 4 * REC_A, 4);
    size_t flen = SL_FRAME_HDR + 4 * REC_A;

    struct bad_msg {
        unsigned char *m;
        size_t len;
        int verdict;
    } bad[12];
    size_t nb = 0;
    unsigned char garbage[100];
    fill_random(&rng, garbage, sizeof garbage);
    garbage[0] = 'X';
    bad[nb++] = (struct bad_msg){dup_bytes(garbage, 0), 0, SL_FRAME_SHORT};
    bad[nb++] = (struct bad_msg){dup_bytes(garbage, 10), 10, SL_FRAME_SHORT};
    bad[nb++] = (struct bad_msg){dup_bytes(garbage, 100), 100, SL_FRAME_BADMAGIC};
    struct fields fl = {SL_FRAME_VERSION + 1, SL_FRAME_DATA, SCHEMA_A, 9, 5, 4, 1, 4 * REC_A};
    bad[nb++] = (struct bad_msg){build(&fl, recs, 4 * REC_A), flen, SL_FRAME_BADVER};
    fl.version = SL_FRAME_VERSION - 1; /* a node of the previous release */
    bad[nb++] = (struct bad_msg){build(&fl, recs, 4 * REC_A), flen, SL_FRAME_BADVER};
    fl.version = SL_FRAME_VERSION;
    fl.kind = SL_FRAME_APP - 1; /* a number of netio's that it does not define */
    bad[nb++] = (struct bad_msg){build(&fl, recs, 4 * REC_A), flen, SL_FRAME_BADKIND};
    bad[nb++] = (struct bad_msg){dup_bytes(f1, flen - 5), flen - 5, SL_FRAME_LENGTH};
    unsigned char *pad = malloc(flen + 1);
    cr_assert_not_null(pad);
    memcpy(pad, f1, flen);
    pad[flen] = 0;
    bad[nb++] = (struct bad_msg){pad, flen + 1, SL_FRAME_LENGTH};
    bad[nb++] = (struct bad_msg){build_data(9, 5, 1, recs, 40), SL_FRAME_HDR + 40 * REC_A,
                                 SL_FRAME_OVERSIZED};
    fl.kind = SL_FRAME_DATA;
    fl.schema = SCHEMA_UNKNOWN;
    bad[nb++] = (struct bad_msg){build(&fl, recs, 4 * REC_A), flen, SL_FRAME_SCHEMA};
    unsigned char *flip = dup_bytes(f1, flen);
    flip[SL_FRAME_HDR + 50] ^= 1;
    bad[nb++] = (struct bad_msg){flip, flen, SL_FRAME_CHECKSUM};

    uint64_t want_rejected[SL_FRAME_NVERDICTS] = {0};
    raw_send(raw, f0, flen, 0);
    for (size_t i = 0; i < nb; i++) {
        raw_send(raw, bad[i].m, bad[i].len, 0);
        want_rejected[bad[i].verdict]++;
    }
    raw_send(raw, f0, flen, 0);           /* a duplicate */
    raw_send(raw, f1, flen, ZMQ_SNDMORE); /* a valid frame, but as part of a multi-part message */
    raw_send(raw, "xy", 2, 0);
    want_rejected[SL_FRAME_LENGTH]++;
    raw_send(raw, f1, flen, 0);

    uint64_t seqs[4];
    cr_assert(eq(sz, recv_until(n.ib, &n.lg, 2, nb + 2, seqs), 2));
    cr_assert(eq(u64, seqs[0], 0));
    cr_assert(eq(u64, seqs[1], 1), "the multi-part message must not advance the sequence");
    cr_assert(eq(sz, n.lg.n, nb + 2));
    for (size_t i = 0; i < nb; i++) {
        cr_assert(eq(int, n.lg.r[i].verdict, bad[i].verdict), "reject %zu", i);
        cr_assert(eq(sz, n.lg.r[i].len, bad[i].len), "reject %zu", i);
    }
    cr_assert(eq(int, n.lg.r[nb].verdict, -1));
    cr_assert(eq(u64, n.lg.r[nb].seq, 0));
    cr_assert(eq(int, n.lg.r[nb + 1].verdict, SL_FRAME_LENGTH));
    cr_assert(eq(sz, n.lg.r[nb + 1].len, flen + 2));

    sl_inbox_stats is;
    sl_inbox_get_stats(n.ib, &is);
    for (int v = 1; v < SL_FRAME_NVERDICTS; v++)
        cr_assert(eq(u64, is.rejected[v], want_rejected[v]), "rejected[%s]",
                  sl_frame_verdict_name(v));
    cr_assert(eq(u64, is.duplicates, 1));
    cr_assert(eq(u64, is.frames, 2));
    cr_assert(eq(u64, is.bytes, 2 * flen));
    cr_assert(eq(u64, is.gaps, 0));
    sl_inbox_poll_monitor(n.ib);
    sl_inbox_get_stats(n.ib, &is);
    cr_assert(eq(u64, is.accepted, 1));
    cr_assert(eq(u64, is.disconnected, 0));
    cr_assert(eq(u64, is.handshake_failed, 0));

    /* exactly at ZMQ_MAXMSGSIZE the message is read, and rejected as oversized */
    size_t maxmsg = 2 * n.o.max_payload + SL_FRAME_HDR;
    unsigned char *huge = calloc(1, maxmsg + 1);
    cr_assert_not_null(huge);
    struct fields hf = {SL_FRAME_VERSION, APP_T1, 0, 9, 5, 0, 2, maxmsg - SL_FRAME_HDR};
    unsigned char *at_limit = build(&hf, huge, maxmsg - SL_FRAME_HDR);
    raw_send(raw, at_limit, maxmsg, 0);
    cr_assert(eq(sz, recv_until(n.ib, &n.lg, 0, nb + 3, seqs), 0));
    cr_assert(eq(sz, n.lg.n, nb + 3));
    cr_assert(eq(int, n.lg.r[nb + 2].verdict, SL_FRAME_OVERSIZED));
    cr_assert(eq(sz, n.lg.r[nb + 2].len, maxmsg));

    /* one byte over: ZeroMQ drops the connection without handing the message over */
    raw_send(raw, huge, maxmsg + 1, 0);
    uint64_t deadline = sl_net_now_us() + 5000000;
    do {
        sl_frame f;
        cr_assert(eq(int, recv_wait(n.ib, &f, 10), 0));
        sl_inbox_poll_monitor(n.ib);
        sl_inbox_get_stats(n.ib, &is);
    } while (is.disconnected == 0 && sl_net_now_us() < deadline);
    cr_assert(eq(u64, is.disconnected, 1));
    cr_assert(eq(sz, n.lg.n, nb + 3), "the message over the limit reached the inbox");
    zmq_close(raw);

    /* a fresh connection still delivers */
    void *raw2 = raw_push(n.ctx, n.ep);
    unsigned char *f2 = build_data(9, 5, 2, recs + 8 * REC_A, 4);
    raw_send(raw2, f2, flen, 0);
    cr_assert(eq(sz, recv_until(n.ib, &n.lg, 1, nb + 3, seqs), 1));
    cr_assert(eq(u64, seqs[0], 2));
    sl_inbox_poll_monitor(n.ib);
    sl_inbox_get_stats(n.ib, &is);
    cr_assert(eq(u64, is.frames, 3));
    cr_assert(eq(u64, is.gaps, 0));
    cr_assert(ge(u64, is.accepted, 2));
    cr_assert(eq(u64, is.rejected[SL_FRAME_OVERSIZED], want_rejected[SL_FRAME_OVERSIZED] + 1));
    cr_assert(eq(sz, n.lg.n, nb + 3));

    zmq_close(raw2);
    net_close(&n, NULL);
    for (size_t i = 0; i < nb; i++)
        free(bad[i].m);
    free(f0);
    free(f1);
    free(f2);
    free(huge);
    free(at_limit);
}

/* Sends DATA frame `seq` of (source, stream) from raw socket s, one record derived from
 * (stream, seq). */
static void send_seq(void *s, uint32_t source, uint32_t stream, uint64_t seq)
{
    unsigned char rec[REC_A];
    uint64_t st = ((uint64_t)stream << 32) ^ seq;
    fill_random(&st, rec, sizeof rec);
    unsigned char *m = build_data(source, stream, seq, rec, 1);
    raw_send(s, m, SL_FRAME_HDR + REC_A, 0);
    free(m);
}

/* Frames 0, 1, 3 of one stream: 0 and 1 are delivered, 3 is dropped (one frame missing before
 * it, counted as a gap and reported with the frame that revealed it) and nothing is recorded for
 * it; the resend of 2 and then 3 delivers both, in order; a late copy is a duplicate. Another
 * stream's numbers are separate, and a stream whose first frame is ahead is not tracked. */
Test(netio, gap_across_the_wire)
{
    struct net n;
    net_init(&n);
    net_bind(&n);
    void *raw = raw_push(n.ctx, n.ep);

    uint64_t sent[] = {0, 1, 3};
    for (size_t i = 0; i < 3; i++)
        send_seq(raw, 4, 2, sent[i]);
    expect_seqs(&n, 1, 2, (uint64_t[]){0, 1});
    sl_frame f;
    cr_assert(eq(int, recv_wait(n.ib, &f, 50), 0), "the frame ahead was delivered");
    expect_counts(&n, 2, 1, 0, 1);
    expect_reject(&n, 0, -2, 1, 3);
    cr_assert(eq(sz, n.lg.r[0].len, SL_FRAME_HDR + REC_A));
    sl_ack acks[4];
    cr_assert(eq(sz, sl_inbox_take_acks(n.ib, acks, 4, 0), 1));
    cr_assert(eq(u32, acks[0].source, 4));
    cr_assert(eq(u32, acks[0].stream, 2));
    cr_assert(eq(u64, acks[0].next, 2), "the dropped frame was acknowledged");

    /* the sender resends from its first unacknowledged frame: 2, 3; then a late copy of 1 */
    send_seq(raw, 4, 2, 2);
    send_seq(raw, 4, 2, 3);
    send_seq(raw, 4, 2, 1);
    expect_seqs(&n, 2, 2, (uint64_t[]){2, 3});
    cr_assert(eq(int, recv_wait(n.ib, &f, 50), 0));
    expect_counts(&n, 4, 1, 1, 2);
    expect_reject(&n, 1, -1, -1, 1);
    cr_assert(eq(sz, sl_inbox_take_acks(n.ib, acks, 4, 0), 1));
    cr_assert(eq(u64, acks[0].next, 4));

    /* stream 3 of the same source starts its own count: a first frame at 2 is dropped (2
     * missing) and leaves no state, so 0 is then taken; 4 follows 3 on stream 2 */
    send_seq(raw, 4, 3, 2);
    send_seq(raw, 4, 2, 4);
    send_seq(raw, 4, 3, 0);
    expect_seqs(&n, 3, 2, (uint64_t[]){4, 0});
    expect_counts(&n, 6, 2, 1, 3);
    expect_reject(&n, 2, -2, 2, 2);
    cr_assert(eq(sz, sl_inbox_take_acks(n.ib, acks, 4, 1), 2));
    long i2 = find_ack(acks, 2, 4, 2), i3 = find_ack(acks, 2, 4, 3);
    cr_assert(i2 >= 0 && i3 >= 0);
    cr_assert(eq(u64, acks[i2].next, 5));
    cr_assert(eq(u64, acks[i3].next, 1));

    /* after forget, stream 2 starts again at 0 */
    sl_inbox_forget(n.ib, UINT32_MAX, 2);
    send_seq(raw, 4, 2, 0);
    expect_seqs(&n, 3, 1, (uint64_t[]){0});
    expect_counts(&n, 7, 2, 1, 3);

    zmq_close(raw);
    net_close(&n, NULL);
}

/* ---- admission and untracked kinds ------------------------------------------------------------
 */

struct admit_log {
    uint32_t allow; /* the stream admitted; UINT32_MAX admits all */
    size_t asked;
    uint16_t kinds[64];
};

static int admit_stream(void *ud, const sl_frame_hdr *h)
{
    struct admit_log *a = ud;
    cr_assert(lt(sz, a->asked, 64), "too many admit calls");
    a->kinds[a->asked++] = h->kind;
    return a->allow == UINT32_MAX || h->stream == a->allow;
}

/* Sends a control frame of `kind` with sequence number `seq` and a 5-byte payload. */
static void send_ctl(void *s, uint16_t kind, uint32_t source, uint32_t stream, uint64_t seq)
{
    struct fields fl = {SL_FRAME_VERSION, kind, 0, source, stream, 0, seq, 5};
    unsigned char *m = build(&fl, "hello", 5);
    raw_send(s, m, SL_FRAME_HDR + 5, 0);
    free(m);
}

/* The admit callback is asked for every valid tracked frame and only those: frames it refuses are
 * dropped, counted as stale, reported to nobody and leave no state (no stream tracked, no ack
 * owed, and once admitted the stream starts at 0 as if they had never come). Untracked kinds
 * (ACK and the application's untracked ones) bypass admission and tracking: any sequence number,
 * delivered every time. The peer address comes with application kinds only. */
Test(netio, admit_and_untracked)
{
    struct net n;
    net_init(&n);
    net_bind(&n);
    struct admit_log ad = {.allow = 1};
    sl_inbox_on_admit(n.ib, admit_stream, &ad);
    void *raw = raw_push(n.ctx, n.ep);

    /* stream 2 (refused): 0, 1, 2 and an APP_T1; stream 1 (admitted): 0, 1; a corrupt frame of
     * stream 2 is rejected before anyone asks */
    for (uint64_t s = 0; s < 3; s++)
        send_seq(raw, 6, 2, s);
    send_ctl(raw, APP_T1, 6, 2, 3);
    send_seq(raw, 6, 1, 0);
    unsigned char rec[REC_A] = {1};
    unsigned char *bad = build_data(6, 2, 0, rec, 1);
    bad[SL_FRAME_HDR] ^= 1;
    raw_send(raw, bad, SL_FRAME_HDR + REC_A, 0);
    free(bad);
    send_seq(raw, 6, 1, 1);
    expect_seqs(&n, 1, 2, (uint64_t[]){0, 1});
    sl_frame f;
    cr_assert(eq(int, recv_wait(n.ib, &f, 50), 0));
    sl_inbox_stats is;
    sl_inbox_get_stats(n.ib, &is);
    cr_assert(eq(u64, is.stale, 4));
    cr_assert(eq(u64, is.overflow, 0));
    cr_assert(eq(u64, is.rejected[SL_FRAME_CHECKSUM], 1));
    expect_counts(&n, 2, 0, 0, 1); /* one reject: a refused frame reached nobody */
    cr_assert(eq(int, n.lg.r[0].verdict, SL_FRAME_CHECKSUM));
    cr_assert(eq(sz, ad.asked, 6), "admit asked %zu times for 6 valid tracked frames", ad.asked);
    uint16_t want_kinds[] = {SL_FRAME_DATA, SL_FRAME_DATA, SL_FRAME_DATA,
                             APP_T1,        SL_FRAME_DATA, SL_FRAME_DATA};
    for (size_t i = 0; i < 6; i++)
        cr_assert(eq(u16, ad.kinds[i], want_kinds[i]), "admit call %zu", i);
    /* the refused stream costs nothing: only stream 1 is tracked */
    sl_ack acks[8];
    cr_assert(eq(sz, sl_inbox_take_acks(n.ib, acks, 8, 1), 1));
    cr_assert(eq(u32, acks[0].stream, 1));
    cr_assert(eq(u64, acks[0].next, 2));

    /* untracked kinds, twice each with the same numbers (0 and 7), from two sources, on stream
     * 1 (whose tracked frames are at 2) and on stream 2 (refused): all delivered, in order,
     * admit never asked, nothing tracked */
    uint16_t kinds[] = {APP_U1, SL_FRAME_ACK, APP_U2, APP_U3};
    size_t nctl = 0;
    struct {
        uint16_t kind;
        uint32_t source, stream;
        uint64_t seq;
    } ctl[32];
    for (int rep = 0; rep < 2; rep++)
        for (size_t k = 0; k < 4; k++)
            for (uint32_t stream = 1; stream <= 2; stream++) {
                uint64_t seq = k % 2 ? 7 : 0;
                uint32_t source = rep ? 6 : 60;
                send_ctl(raw, kinds[k], source, stream, seq);
                ctl[nctl].kind = kinds[k], ctl[nctl].source = source;
                ctl[nctl].stream = stream, ctl[nctl].seq = seq;
                nctl++;
            }
    for (size_t i = 0; i < nctl; i++) {
        cr_assert(eq(int, recv_wait(n.ib, &f, 5000), 1), "control frame %zu not delivered", i);
        cr_assert(eq(u16, f.h.kind, ctl[i].kind), "frame %zu", i);
        cr_assert(eq(u32, f.h.source, ctl[i].source), "frame %zu", i);
        cr_assert(eq(u32, f.h.stream, ctl[i].stream), "frame %zu", i);
        cr_assert(eq(u64, f.h.seq, ctl[i].seq), "frame %zu", i);
        cr_assert(eq(int, memcmp(f.payload, "hello", 5), 0));
        if (f.h.kind != SL_FRAME_ACK)
            cr_assert(f.peer && strcmp(f.peer, "127.0.0.1") == 0, "kind %#x: peer %s", f.h.kind,
                      f.peer ? f.peer : "(null)");
        else
            cr_assert_null(f.peer, "frame %zu (kind %u) has a peer", i, f.h.kind);
    }
    cr_assert(eq(int, recv_wait(n.ib, &f, 50), 0));
    cr_assert(eq(sz, ad.asked, 6), "admit asked about an untracked frame");
    sl_inbox_get_stats(n.ib, &is);
    cr_assert(eq(u64, is.frames, 2 + nctl));
    cr_assert(eq(u64, is.duplicates, 0));
    cr_assert(eq(u64, is.gaps, 0));
    cr_assert(eq(u64, is.stale, 4));
    cr_assert(eq(sz, sl_inbox_take_acks(n.ib, acks, 8, 1), 1), "an untracked frame was tracked");

    /* now admit every stream: stream 2 starts at 0 (a refused frame left no number behind), and
     * its APP_T1 frame carries the sender's address */
    ad.allow = UINT32_MAX;
    send_seq(raw, 6, 2, 0);
    send_ctl(raw, APP_T1, 6, 2, 1);
    send_seq(raw, 6, 1, 2);
    cr_assert(eq(int, recv_wait(n.ib, &f, 5000), 1));
    cr_assert(eq(u32, f.h.stream, 2));
    cr_assert(eq(u64, f.h.seq, 0));
    cr_assert_null(f.peer);
    cr_assert(eq(int, recv_wait(n.ib, &f, 5000), 1));
    cr_assert(eq(u16, f.h.kind, APP_T1));
    cr_assert(eq(u64, f.h.seq, 1));
    cr_assert(f.peer && strcmp(f.peer, "127.0.0.1") == 0, "APP_T1 peer %s",
              f.peer ? f.peer : "(null)");
    cr_assert(eq(int, recv_wait(n.ib, &f, 5000), 1));
    cr_assert(eq(u32, f.h.stream, 1));
    cr_assert(eq(u64, f.h.seq, 2));
    cr_assert(eq(sz, ad.asked, 9));
    sl_inbox_get_stats(n.ib, &is);
    cr_assert(eq(u64, is.stale, 4));
    cr_assert(eq(u64, is.duplicates, 0));
    cr_assert(eq(sz, sl_inbox_take_acks(n.ib, acks, 8, 0), 2));

    zmq_close(raw);
    net_close(&n, NULL);
}

/* At most SL_SEQTRACK_MAX streams over the wire: frames of one stream more are dropped, counted
 * as overflow and reported (-3), and leave no state; tracked streams go on; forgetting a job's
 * streams makes room, and the refused stream then starts at 0. */
Test(netio, stream_limit)
{
    struct net n;
    net_init(&n);
    n.o.hwm = 2000;
    net_bind(&n);
    void *raw = raw_push(n.ctx, n.ep);
    /* streams 0x10000 + i, i < SL_SEQTRACK_MAX, of sources 1 and 2 alternately */
    for (uint32_t i = 0; i < SL_SEQTRACK_MAX; i++)
        send_seq(raw, 1 + i % 2, 0x10000 + i, 0);
    send_seq(raw, 1, 0x20000, 0); /* one too many */
    send_seq(raw, 1, 0x20000, 1);
    send_seq(raw, 2, 0x10001, 1); /* a tracked stream goes on */
    uint64_t *seqs = calloc(SL_SEQTRACK_MAX + 1, sizeof *seqs);
    cr_assert_not_null(seqs);
    cr_assert(eq(sz, recv_until(n.ib, &n.lg, SL_SEQTRACK_MAX + 1, 2, seqs), SL_SEQTRACK_MAX + 1));
    sl_frame f;
    cr_assert(eq(int, recv_wait(n.ib, &f, 50), 0));
    sl_inbox_stats is;
    sl_inbox_get_stats(n.ib, &is);
    cr_assert(eq(u64, is.overflow, 1));
    /* frame 1 of the refused stream is ahead of a stream that does not exist: a gap */
    expect_counts(&n, SL_SEQTRACK_MAX + 1, 1, 0, 2);
    expect_reject(&n, 0, -3, -3, 0);
    expect_reject(&n, 1, -2, 1, 1);
    sl_ack *acks = calloc(SL_SEQTRACK_MAX + 1, sizeof *acks);
    cr_assert_not_null(acks);
    cr_assert(eq(sz, sl_inbox_take_acks(n.ib, acks, SL_SEQTRACK_MAX + 1, 1), SL_SEQTRACK_MAX));
    cr_assert(eq(long, find_ack(acks, SL_SEQTRACK_MAX, 1, 0x20000), -1));

    /* the job of streams 0x10000..0x100ff ends: room for the refused one */
    sl_inbox_forget(n.ib, 0xffffff00u, 0x10000);
    cr_assert(
        eq(sz, sl_inbox_take_acks(n.ib, acks, SL_SEQTRACK_MAX + 1, 1), SL_SEQTRACK_MAX - 256));
    send_seq(raw, 1, 0x20000, 0);
    send_seq(raw, 1, 0x20000, 1);
    expect_seqs(&n, 2, 2, (uint64_t[]){0, 1});
    sl_inbox_get_stats(n.ib, &is);
    cr_assert(eq(u64, is.overflow, 1));
    expect_counts(&n, SL_SEQTRACK_MAX + 3, 1, 0, 2);

    zmq_close(raw);
    net_close(&n, NULL);
    free(seqs);
    free(acks);
}

/* ---- forget and send_now --------------------------------------------------------------------- */

/* Sends an untracked frame with sl_outbox_send_now until it is taken (the connection may still be
 * in the making), pumping in between so that the outbox hears of its connection. */
static void send_now_until_sent(sl_outbox *ob, unsigned kind, uint32_t stream, const void *p,
                                size_t len)
{
    uint64_t deadline = sl_net_now_us() + 5000000;
    int rc;
    while ((rc = sl_outbox_send_now(ob, kind, stream, p, len)) == 1 && sl_net_now_us() < deadline) {
        cr_assert(eq(int, sl_outbox_pump(ob), 0));
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    cr_assert(eq(int, rc, 0), "sl_outbox_send_now: %d (%s)", rc, sl_strerror(rc));
}

/* Waits up to 5 s for the next frame and checks its kind, stream and sequence number. */
static void expect_frame(sl_inbox *ib, sl_frame *f, uint16_t kind, uint32_t stream, uint64_t seq)
{
    cr_assert(eq(int, recv_wait(ib, f, 5000), 1), "no frame (want kind %u stream %#x seq %llu)",
              kind, stream, (unsigned long long)seq);
    cr_assert(eq(u16, f->h.kind, kind), "stream %#x seq %llu", f->h.stream,
              (unsigned long long)f->h.seq);
    cr_assert(eq(u32, f->h.stream, stream), "kind %u seq %llu", kind, (unsigned long long)seq);
    cr_assert(eq(u64, f->h.seq, seq), "kind %u stream %#x", kind, stream);
}

/* A cancelled job: sl_outbox_forget drops its streams' frames, whether sent and unacknowledged,
 * queued or open, and their sequence numbers. queued_bytes falls by exactly their bytes, the
 * other job's frames still go out, and the job's streams start again at 0 (the receiver forgets
 * them too, as a node does). */
Test(netio, forget_cancelled_job)
{
    enum { PER = 128, FB = SL_FRAME_HDR + PER * REC_A };
    const uint32_t A = 0x00010001, B = 0x00010002, C = 0x00020001, JOB = 0xffff0000;
    struct net n;
    net_init(&n);
    n.o.batch_bytes = PER * REC_A;
    n.o.flush_us = UINT64_C(60000000);
    net_bind(&n);
    sl_outbox *ob = net_outbox(&n, 30);
    sl_frame f;
    send_now_until_sent(ob, APP_U1, 0, "hi", 2);
    expect_frame(n.ib, &f, APP_U1, 0, 0);

    uint64_t rng = 31;
    unsigned char *recs = malloc(4 * PER * REC_A);
    cr_assert_not_null(recs);
    fill_random(&rng, recs, 4 * PER * REC_A);

    /* sent, not acknowledged: A 0..3 (the last of 10 records), C 0..1 */
    cr_assert(eq(int, sl_outbox_put(ob, A, SCHEMA_A, REC_A, recs, 3 * PER + 10), 0));
    cr_assert(eq(int, sl_outbox_put(ob, C, SCHEMA_A, REC_A, recs, 2 * PER), 0));
    cr_assert(eq(int, sl_outbox_drain(ob, 5000), 0));
    for (uint64_t s = 0; s < 4; s++)
        expect_frame(n.ib, &f, SL_FRAME_DATA, A, s);
    expect_frame(n.ib, &f, SL_FRAME_DATA, C, 0);
    expect_frame(n.ib, &f, SL_FRAME_DATA, C, 1);
    cr_assert(eq(sz, sl_outbox_unacked_frames(ob), 6));
    cr_assert(eq(sz, sl_outbox_queued_bytes(ob), 5 * FB + SL_FRAME_HDR + 10 * REC_A));

    /* queued, not sent: A 4, 5; C 2; B 0; and 7 records of B open */
    cr_assert(eq(int, sl_outbox_put(ob, A, SCHEMA_A, REC_A, recs, 2 * PER), 0));
    cr_assert(eq(int, sl_outbox_put(ob, C, SCHEMA_A, REC_A, recs + PER * REC_A, PER), 0));
    cr_assert(eq(int, sl_outbox_put(ob, B, SCHEMA_A, REC_A, recs, PER + 7), 0));
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), 4));
    size_t before = 5 * FB + SL_FRAME_HDR + 10 * REC_A + 4 * FB + 7 * REC_A;
    cr_assert(eq(sz, sl_outbox_queued_bytes(ob), before));

    /* another job's mask matches nothing: no change */
    sl_outbox_forget(ob, JOB, 0x00030000);
    cr_assert(eq(sz, sl_outbox_queued_bytes(ob), before));
    cr_assert(eq(sz, sl_outbox_unacked_frames(ob), 6));
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), 4));

    /* cancel job 1 (A and B): C's two sent and one queued frames remain */
    sl_outbox_forget(ob, JOB, 0x0001ffff); /* only the masked bits of the value count */
    cr_assert(eq(sz, sl_outbox_queued_bytes(ob), 3 * FB));
    cr_assert(eq(sz, sl_outbox_unacked_frames(ob), 2));
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), 1));
    sl_inbox_forget(n.ib, JOB, 0x00010000);
    cr_assert(eq(int, sl_outbox_drain(ob, 5000), 0));
    expect_frame(n.ib, &f, SL_FRAME_DATA, C, 2);
    cr_assert(eq(int, memcmp(f.payload, recs + PER * REC_A, PER * REC_A), 0));
    cr_assert(eq(int, recv_wait(n.ib, &f, 50), 0), "a forgotten frame was sent");

    /* A and B start again at 0; C goes on at 3 */
    cr_assert(eq(int, sl_outbox_put(ob, A, SCHEMA_A, REC_A, recs, 5), 0));
    cr_assert(eq(int, sl_outbox_put(ob, B, SCHEMA_A, REC_A, recs, 6), 0));
    cr_assert(eq(int, sl_outbox_control(ob, SL_FRAME_EOS, A, NULL, 0), 0));
    cr_assert(eq(int, sl_outbox_control(ob, SL_FRAME_EOS, C, NULL, 0), 0));
    cr_assert(eq(int, sl_outbox_drain(ob, 5000), 0));
    expect_frame(n.ib, &f, SL_FRAME_DATA, A, 0);
    cr_assert(eq(u32, f.h.count, 5));
    expect_frame(n.ib, &f, SL_FRAME_DATA, B, 0);
    cr_assert(eq(u32, f.h.count, 6));
    expect_frame(n.ib, &f, SL_FRAME_EOS, A, 1);
    expect_frame(n.ib, &f, SL_FRAME_EOS, C, 3);
    cr_assert(eq(int, recv_wait(n.ib, &f, 50), 0));
    sl_inbox_stats is;
    sl_inbox_get_stats(n.ib, &is);
    cr_assert(eq(u64, is.duplicates, 0));
    cr_assert(eq(u64, is.gaps, 0));

    /* acknowledging everything frees everything */
    cr_assert(eq(sz, apply_acks(n.ib, ob, 30), 3));
    cr_assert(eq(sz, sl_outbox_unacked_frames(ob), 0));
    cr_assert(eq(sz, sl_outbox_queued_bytes(ob), 0));

    net_close(&n, &ob);
    free(recs);
}

/* sl_outbox_send_now: an untracked frame goes out at once when the outbox is idle (sent frames
 * awaiting acknowledgement do not count), never past frames waiting to be sent (open or queued:
 * 1, nothing sent), not without a connection (1); tracked and unknown kinds are SL_EINVAL, payloads
 * over max_payload SL_ERANGE, and neither sends anything. */
Test(netio, send_now)
{
    struct net n;
    net_init(&n);
    n.o.max_payload = 8192;
    n.o.flush_us = UINT64_C(60000000);

    /* nobody listens on port 1: no connection, so not sent */
    sl_outbox *lonely = connect_outbox(n.ctx, "tcp://127.0.0.1:1", 40, &n.o);
    cr_assert(eq(int, sl_outbox_send_now(lonely, APP_U1, 0, "hi", 2), 1));
    cr_assert(eq(int, sl_outbox_send_now(lonely, APP_U2, 0, "hi", 2), 1));
    sl_outbox_stats os;
    sl_outbox_get_stats(lonely, &os);
    cr_assert(eq(u64, os.frames, 0));
    sl_outbox_destroy(&lonely);

    net_bind(&n);
    sl_outbox *ob = net_outbox(&n, 41);
    sl_frame f;
    send_now_until_sent(ob, APP_U1, 3, "ping", 4);
    expect_frame(n.ib, &f, APP_U1, 3, 0);
    cr_assert(eq(u32, f.h.source, 41));
    cr_assert(eq(u64, f.h.payload_len, 4));
    cr_assert(eq(int, memcmp(f.payload, "ping", 4), 0));
    cr_assert(f.peer && strcmp(f.peer, "127.0.0.1") == 0);

    /* a full ACK (the largest payload of its kind) and an APP_U2 larger than that, intact */
    sl_ack acks[SL_ACK_MAX];
    uint64_t rng = 41;
    for (size_t i = 0; i < SL_ACK_MAX; i++)
        acks[i] = (sl_ack){0, (uint32_t)i, splitmix64(&rng)};
    unsigned char ackp[4 + SL_ACK_MAX * SL_ACK_BYTES];
    size_t acklen = sl_ack_encode(acks, SL_ACK_MAX, ackp);
    cr_assert(eq(int, sl_outbox_send_now(ob, SL_FRAME_ACK, 9, ackp, acklen), 0));
    static unsigned char lease[8192];
    fill_random(&rng, lease, sizeof lease);
    cr_assert(eq(int, sl_outbox_send_now(ob, APP_U2, 9, lease, sizeof lease), 0));
    cr_assert(eq(int, sl_outbox_send_now(ob, APP_U3, 9, NULL, 0), 0));
    expect_frame(n.ib, &f, SL_FRAME_ACK, 9, 0);
    cr_assert(eq(u64, f.h.payload_len, acklen));
    sl_ack back[SL_ACK_MAX];
    cr_assert(eq(long, sl_ack_decode(f.payload, acklen, back), SL_ACK_MAX));
    for (size_t i = 0; i < SL_ACK_MAX; i++)
        cr_assert(acks[i].stream == back[i].stream && acks[i].next == back[i].next, "ack %zu", i);
    expect_frame(n.ib, &f, APP_U2, 9, 0);
    cr_assert(eq(u64, f.h.payload_len, sizeof lease));
    cr_assert(eq(int, memcmp(f.payload, lease, sizeof lease), 0));
    expect_frame(n.ib, &f, APP_U3, 9, 0);
    cr_assert(eq(u64, f.h.payload_len, 0));

    /* refused kinds and sizes: SL_EINVAL and SL_ERANGE, nothing sent */
    sl_outbox_get_stats(ob, &os);
    uint64_t sent = os.frames;
    unsigned bad_kinds[] = {SL_FRAME_DATA,    SL_FRAME_EOS,
                            APP_T1,           APP_T2,
                            APP_T3,           0,
                            SL_FRAME_APP - 1, SL_FRAME_ACK | SL_FRAME_TRACKED};
    for (size_t i = 0; i < sizeof bad_kinds / sizeof bad_kinds[0]; i++)
        cr_assert(eq(int, sl_outbox_send_now(ob, bad_kinds[i], 1, "x", 1), SL_EINVAL), "kind %#x",
                  bad_kinds[i]);
    static unsigned char over[8193];
    cr_assert(eq(int, sl_outbox_send_now(ob, APP_U2, 1, over, sizeof over), SL_ERANGE));
    sl_outbox_get_stats(ob, &os);
    cr_assert(eq(u64, os.frames, sent));

    /* records open: not sent now (it would overtake them) */
    unsigned char recs[3 * REC_A];
    fill_random(&rng, recs, sizeof recs);
    cr_assert(eq(int, sl_outbox_put(ob, 1, SCHEMA_A, REC_A, recs, 3), 0));
    cr_assert(eq(int, sl_outbox_send_now(ob, APP_U2, 1, "a", 1), 1));
    /* a sealed frame not yet handed over: not sent now either */
    cr_assert(eq(int, sl_outbox_flush(ob), 0));
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), 1));
    cr_assert(eq(int, sl_outbox_send_now(ob, APP_U2, 1, "b", 1), 1));
    sl_outbox_get_stats(ob, &os);
    cr_assert(eq(u64, os.frames, sent));
    /* handed over and unacknowledged: the outbox is idle again */
    cr_assert(eq(int, sl_outbox_drain(ob, 5000), 0));
    cr_assert(eq(sz, sl_outbox_unacked_frames(ob), 1));
    cr_assert(eq(int, sl_outbox_send_now(ob, APP_U2, 1, "c", 1), 0));
    expect_frame(n.ib, &f, SL_FRAME_DATA, 1, 0);
    cr_assert(eq(int, memcmp(f.payload, recs, sizeof recs), 0));
    expect_frame(n.ib, &f, APP_U2, 1, 0);
    cr_assert(eq(u8, f.payload[0], 'c'), "a refused APP_U2 frame was sent after all");
    cr_assert(eq(int, recv_wait(n.ib, &f, 50), 0));
    /* the untracked frames took no number: the next DATA frame of stream 1 is 1 */
    cr_assert(eq(int, sl_outbox_put(ob, 1, SCHEMA_A, REC_A, recs, 1), 0));
    cr_assert(eq(int, sl_outbox_drain(ob, 5000), 0));
    expect_frame(n.ib, &f, SL_FRAME_DATA, 1, 1);
    sl_inbox_stats is;
    sl_inbox_get_stats(n.ib, &is);
    cr_assert(eq(u64, is.gaps, 0));
    cr_assert(eq(sz, apply_acks(n.ib, ob, 41), 1));
    cr_assert(eq(sz, sl_outbox_queued_bytes(ob), 0));

    net_close(&n, &ob);
}

/* ---- a connection cut under load ------------------------------------------------------------- */

/* A TCP forwarder between an outbox and an inbox, in a thread of its own: it accepts one
 * connection at a time, connects to the inbox for it, and relays bytes both ways. Connection k
 * (0-based, k < ncuts) is cut once it relayed cut_after[k] bytes from the outbox: the bytes read
 * beyond that point are thrown away, and then either both sockets are reset (CUT_RESET: a
 * crashed router, a TCP reset), or the connection goes silent both ways, everything read being
 * thrown away, until an end gives up on it (CUT_SILENT: a network partition, a paused peer:
 * ZeroMQ's heartbeats must notice it). Either way, what was in flight is lost. */
enum { CUT_RESET = 1, CUT_SILENT = 2 };

struct fwd {
    tu_relay r;
    size_t ncuts;
    uint64_t cut_after[4];
    int cut_mode[4];
    atomic_int conns, cuts;
    atomic_uint_fast64_t dropped; /* bytes read and thrown away */
    char error[160];              /* what went wrong in the thread, for the test to report */
};

/* Sends all len bytes, waiting (in 50 ms polls, so that stop is heard) while the socket is full.
 * Returns 0, or -1 when the socket failed or stop was set. */
static int fwd_send_all(struct fwd *w, int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (atomic_load(&w->r.stop))
            return -1;
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        poll(&pf, 1, 50);
    }
    return 0;
}

static void fwd_close(int fd, int reset)
{
    if (reset) {
        struct linger l = {1, 0}; /* close() then sends RST */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(fd);
}

static void *fwd_main(void *arg)
{
    struct fwd *w = arg;
    static unsigned char buf[1 << 16];
    while (!atomic_load(&w->r.stop)) {
        int cfd = tu_relay_accept(&w->r);
        if (cfd < 0)
            continue;
        int sfd = tu_connect_loopback(w->r.upstream);
        if (sfd < 0) {
            snprintf(w->error, sizeof w->error, "connect to the inbox: %s", strerror(errno));
            close(cfd);
            continue;
        }
        int k = atomic_fetch_add(&w->conns, 1);
        int cut = k < (int)w->ncuts ? w->cut_mode[k] : 0, silent = 0, reset = 0;
        uint64_t relayed = 0;
        while (!atomic_load(&w->r.stop)) {
            struct pollfd pf[2] = {{.fd = cfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
            if (poll(pf, 2, 50) <= 0)
                continue;
            if (pf[0].revents) { /* outbox -> inbox */
                ssize_t n = recv(cfd, buf, sizeof buf, 0);
                if (n <= 0)
                    break;
                size_t pass = (size_t)n;
                if (silent)
                    pass = 0;
                else if (cut && relayed + (uint64_t)n > w->cut_after[k])
                    pass = (size_t)(w->cut_after[k] - relayed);
                if (pass && fwd_send_all(w, sfd, buf, pass))
                    break;
                relayed += pass;
                atomic_fetch_add(&w->dropped, (uint64_t)n - pass);
                if (cut && !silent && pass < (size_t)n) {
                    atomic_fetch_add(&w->cuts, 1);
                    if (cut == CUT_RESET) {
                        reset = 1;
                        break;
                    }
                    silent = 1;
                }
            }
            if (pf[1].revents) { /* inbox -> outbox */
                ssize_t n = recv(sfd, buf, sizeof buf, 0);
                if (n <= 0)
                    break;
                if (silent)
                    atomic_fetch_add(&w->dropped, (uint64_t)n);
                else if (fwd_send_all(w, cfd, buf, (size_t)n))
                    break;
            }
        }
        fwd_close(cfd, reset);
        fwd_close(sfd, reset);
    }
    return NULL;
}

/* Record i of the cut test. */
static void cut_record(uint64_t seed, uint64_t i, unsigned char *out)
{
    uint64_t s = seed ^ (i * UINT64_C(0x9e3779b97f4a7c15));
    wr64(out, i);
    fill_random(&s, out + 8, REC_A - 8);
}

struct cut_check {
    uint64_t seed, next, next_seq, eos;
    size_t frames;
};

static void cut_sink(void *ud, const sl_frame *f)
{
    struct cut_check *c = ud;
    cr_assert(eq(u64, f->h.seq, c->next_seq), "seed %llu: frame out of order",
              (unsigned long long)c->seed);
    cr_assert(eq(u64, c->eos, 0), "seed %llu: a frame after the EOS", (unsigned long long)c->seed);
    c->next_seq++;
    c->frames++;
    if (f->h.kind == SL_FRAME_EOS) {
        c->eos = 1;
        return;
    }
    cr_assert(eq(u16, f->h.kind, SL_FRAME_DATA));
    unsigned char want[REC_A];
    for (uint32_t r = 0; r < f->h.count; r++) {
        cut_record(c->seed, c->next, want);
        cr_assert(eq(int, memcmp(f->payload + (size_t)r * REC_A, want, REC_A), 0),
                  "seed %llu: record %llu: got #%llu", (unsigned long long)c->seed,
                  (unsigned long long)c->next,
                  (unsigned long long)rd64(f->payload + (size_t)r * REC_A));
        c->next++;
    }
}

/* No loss across dropped connections, the point of acknowledgements: an outbox sends N records
 * in many frames through the forwarder to an inbox, with heartbeats every 100 ms, the receiver
 * acknowledging as it goes (a few frames behind) and the sender bounded by queued_bytes. The
 * first connection is reset and the second goes silent (only heartbeats can tell), each after a
 * seeded number of bytes, so that frames are lost in flight both times. The outbox reconnects
 * and resends what was not acknowledged: the frames the inbox had are dropped as duplicates, the
 * lost ones arrive, every record exactly once and in order, then the EOS, and nothing stays held.
 * The seed and the cut positions are logged (--verbose); NETIO_CUT_SEED=seed replays the same
 * cuts and pieces (the timing still varies). */
Test(netio, no_loss_across_dropped_connections, .timeout = 30)
{
    enum { N = 120000, BATCH = 2048, BOUND = 256 << 10, LAG = 8 };
    const char *env = getenv("NETIO_CUT_SEED");
    uint64_t mix = sl_net_now_us() ^ ((uint64_t)getpid() << 40);
    uint64_t seed = env ? strtoull(env, NULL, 0) : splitmix64(&mix) % 1000000000;
    uint64_t rng = seed;
    uint64_t total = (uint64_t)N * REC_A;
    struct fwd *w = calloc(1, sizeof *w);
    cr_assert_not_null(w);
    w->ncuts = 2;
    w->cut_mode[0] = CUT_RESET;
    w->cut_mode[1] = CUT_SILENT;
    for (size_t k = 0; k < 2; k++)
        w->cut_after[k] = total / 8 + splitmix64(&rng) % (total / 4);
    cr_log_info("no_loss_across_dropped_connections: seed %llu, %d records of %d bytes, %d-byte "
                "frames, reset after %llu bytes, silence after %llu bytes",
                (unsigned long long)seed, N, REC_A, BATCH, (unsigned long long)w->cut_after[0],
                (unsigned long long)w->cut_after[1]);

    struct net n;
    net_init(&n);
    n.o.heartbeat_ms = 100;
    n.o.batch_bytes = BATCH;
    net_bind(&n);
    tu_relay_start(&w->r, (uint16_t)atoi(n.ep + 16), 8, fwd_main, w);
    char fep[64];
    snprintf(fep, sizeof fep, "tcp://127.0.0.1:%u", w->r.port);
    sl_outbox *ob = connect_outbox(n.ctx, fep, 50, &n.o);

    /* the first connection is up before any data, so that every resend counted comes from a
     * reconnection */
    sl_frame f;
    send_now_until_sent(ob, APP_U1, 0, "hi", 2);
    cr_assert(eq(int, recv_wait(n.ib, &f, 5000), 1));
    sl_outbox_stats os;
    uint64_t deadline = sl_net_now_us() + 5000000;
    do {
        cr_assert(eq(int, sl_outbox_pump(ob), 0));
        sl_outbox_get_stats(ob, &os);
    } while (os.connects == 0 && sl_net_now_us() < deadline);
    cr_assert(eq(u64, os.connects, 1));
    cr_assert(eq(u64, os.resent, 0));

    struct cut_check c = {.seed = seed};
    unsigned char *piece = malloc(300 * REC_A);
    cr_assert_not_null(piece);
    uint64_t put = 0, t0 = sl_net_now_us();
    int eos_sent = 0;
    size_t max_held = 0;
    deadline = t0 + 8000000;
    while (!c.eos && sl_net_now_us() < deadline) {
        /* put while under the bound (back-pressure), in seeded pieces of 1..300 records */
        while (put < N && sl_outbox_queued_bytes(ob) < BOUND) {
            size_t k = 1 + (size_t)(splitmix64(&rng) % 300);
            if (k > N - put)
                k = (size_t)(N - put);
            for (size_t r = 0; r < k; r++)
                cut_record(seed, put + r, piece + r * REC_A);
            cr_assert(eq(int, sl_outbox_put(ob, 7, SCHEMA_A, REC_A, piece, k), 0));
            put += k;
        }
        if (put == N && !eos_sent) {
            cr_assert(eq(int, sl_outbox_control(ob, SL_FRAME_EOS, 7, NULL, 0), 0));
            eos_sent = 1;
        }
        cr_assert(eq(int, sl_outbox_tick(ob, sl_net_now_us()), 0));
        cr_assert(eq(int, sl_outbox_pump(ob), 0), "sl_outbox_pump: %s", zmq_strerror(errno));
        size_t held = sl_outbox_queued_bytes(ob);
        max_held = held > max_held ? held : max_held;
        int r;
        while ((r = sl_inbox_recv(n.ib, &f)) == 1)
            cut_sink(&c, &f);
        cr_assert(eq(int, r, 0), "sl_inbox_recv: %s", zmq_strerror(errno));
        /* acknowledge as frames arrive, but LAG frames behind until the EOS (as if the latest
         * ACK frames were lost): the last LAG frames that arrived before a cut are resent after
         * it, and dropped as duplicates */
        sl_ack acks[4];
        size_t na = sl_inbox_take_acks(n.ib, acks, 4, c.eos);
        for (size_t i = 0; i < na; i++) {
            cr_assert(eq(u32, acks[i].source, 50));
            cr_assert(eq(u32, acks[i].stream, 7));
            uint64_t next = c.eos ? acks[i].next : acks[i].next > LAG ? acks[i].next - LAG : 0;
            sl_outbox_ack(ob, acks[i].stream, next);
        }
        zmq_pollitem_t it[2] = {
            {.socket = sl_inbox_socket(n.ib), .events = ZMQ_POLLIN},
            {.socket = sl_outbox_socket(ob),
             .events = sl_outbox_queued_frames(ob) ? ZMQ_POLLOUT : 0},
        };
        zmq_poll(it, 2, 5);
    }
    double secs = (double)(sl_net_now_us() - t0) / 1e6;
    sl_outbox_get_stats(ob, &os);
    sl_inbox_poll_monitor(n.ib);
    sl_inbox_stats is;
    sl_inbox_get_stats(n.ib, &is);
    cr_log_info("seed %llu: %.2f s, %d connections, %llu bytes thrown away in the cuts; outbox: "
                "%llu frames sent, %llu connects, %llu disconnects, %llu resent; inbox: %llu "
                "frames, %llu duplicates, %llu gaps",
                (unsigned long long)seed, secs, atomic_load(&w->conns),
                (unsigned long long)atomic_load(&w->dropped), (unsigned long long)os.frames,
                (unsigned long long)os.connects, (unsigned long long)os.disconnects,
                (unsigned long long)os.resent, (unsigned long long)is.frames,
                (unsigned long long)is.duplicates, (unsigned long long)is.gaps);
    cr_assert(eq(int, w->error[0], 0), "seed %llu: forwarder: %s", (unsigned long long)seed,
              w->error);
    cr_assert(eq(u64, c.eos, 1),
              "seed %llu: after %.1f s, %llu of %d records and no EOS (put %llu; %d cuts "
              "of 2; %llu connects, %llu resent)",
              (unsigned long long)seed, secs, (unsigned long long)c.next, N,
              (unsigned long long)put, atomic_load(&w->cuts), (unsigned long long)os.connects,
              (unsigned long long)os.resent);
    cr_assert(eq(u64, c.next, N), "seed %llu", (unsigned long long)seed);
    /* both cuts happened, and each cost a connection and a resend */
    cr_assert(eq(int, atomic_load(&w->cuts), 2), "seed %llu", (unsigned long long)seed);
    cr_assert(gt(u64, atomic_load(&w->dropped), 0), "seed %llu", (unsigned long long)seed);
    cr_assert(ge(u64, os.connects, 3), "seed %llu", (unsigned long long)seed);
    cr_assert(ge(u64, os.disconnects, 2), "seed %llu", (unsigned long long)seed);
    cr_assert(gt(u64, os.resent, 0), "seed %llu", (unsigned long long)seed);
    cr_assert(ge(u64, is.accepted, 3), "seed %llu", (unsigned long long)seed);
    /* each reconnection resent at least the LAG frames the inbox had but had not acknowledged */
    cr_assert(ge(u64, is.duplicates, 2 * LAG),
              "seed %llu: the unacknowledged frames were not resent", (unsigned long long)seed);
    /* the inbox delivered each frame once: data frames plus the EOS, nothing rejected */
    cr_assert(eq(u64, is.frames, 1 + c.frames), "seed %llu", (unsigned long long)seed);
    for (int v = 1; v < SL_FRAME_NVERDICTS; v++)
        cr_assert(eq(u64, is.rejected[v], 0), "seed %llu: rejected[%s]", (unsigned long long)seed,
                  sl_frame_verdict_name(v));
    /* every frame the inbox refused was a duplicate of one it had */
    cr_assert(eq(sz, n.lg.n, n.lg.dups), "seed %llu: rejects other than duplicates",
              (unsigned long long)seed);
    cr_assert(eq(u64, n.lg.dups, is.duplicates), "seed %llu", (unsigned long long)seed);
    /* the sender was bounded (a frame may exceed the bound, and the open frame with it) */
    cr_assert(le(sz, max_held, (size_t)BOUND + 300 * REC_A + BATCH + SL_FRAME_HDR), "seed %llu",
              (unsigned long long)seed);
    /* everything acknowledged: nothing held */
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), 0), "seed %llu", (unsigned long long)seed);
    cr_assert(eq(sz, sl_outbox_unacked_frames(ob), 0), "seed %llu", (unsigned long long)seed);
    cr_assert(eq(sz, sl_outbox_queued_bytes(ob), 0), "seed %llu", (unsigned long long)seed);
    cr_assert(eq(int, recv_wait(n.ib, &f, 50), 0), "seed %llu: a frame after the EOS",
              (unsigned long long)seed);

    net_close(&n, &ob);
    tu_relay_stop(&w->r);
    free(w);
    free(piece);
}
