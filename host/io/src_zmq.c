/* The zmq source kind: a ZeroMQ PULL socket bound at source.bind (netio/pull.h), each message
 * one or more complete lines of source.format (a last line without its newline is complete at
 * the end of its message; lines never span messages). Keys: bind (required), max_line,
 * max_message. One chunked reader (reader.h) parses every message; a malformed line is reported
 * with its line and byte offset within its message and "message N from PEER: " before the
 * reason. A message over max_message bytes is skipped, counted (stats: oversized, and
 * input.bad) and reported; one over twice that makes ZeroMQ drop its sender's connection
 * without reading it. CSV: the first line of the stream may be a header. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "pull.h"
#include "srcbe.h"

#define ZMQ_MAX_MESSAGE_DEFAULT ((uint64_t)4 << 20)

struct zsrc {
    sl_src_attrs attrs; /* schema.attributes of the read being gathered */
    sl_pull *pull;
    sl_reader *rd;
    sl_src_origin org;
    const char *data; /* the current message: [off, len) not handed to the reader yet */
    size_t len, off;
    int need_nl; /* the current message's last line lacks its newline */
    uint64_t max_message;
    int wait_ms;
    int closing, ended;
    uint64_t messages, oversized, added;
};

static const char *const zmq_keys[] = {"bind", "max_line", "max_message"};

static int zmq_read_opts(const sl_topology *t, char *bind, size_t bindsz, uint64_t *max_line,
                         uint64_t *max_message, char *msg, size_t msglen)
{
    const sl_opts *o = &t->source.opts;
    int rc = sl_opts_known(o, "source", "source type zmq", zmq_keys, 3, msg, msglen);
    if (rc)
        return rc;
    if (!sl_opts_get(o, "bind"))
        return sl_opts_missing(o, "source", "bind", "source.type is zmq", msg, msglen);
    if ((rc = sl_opts_str(o, "source", "bind", bind, bindsz, msg, msglen)))
        return rc;
    if (!strstr(bind, "://"))
        return sl_opts_fail(o, "source", "bind", msg, msglen,
                            "expected a ZeroMQ endpoint such as tcp://127.0.0.1:5600, got \"%s\"",
                            bind);
    if ((rc = sl_opts_u64(o, "source", "max_line", 1, (uint64_t)1 << 30, max_line, msg, msglen)))
        return rc;
    return sl_opts_u64(o, "source", "max_message", 1, (uint64_t)1 << 31, max_message, msg, msglen);
}

static int zmq_check(const sl_topology *t, char *msg, size_t msglen)
{
    char bind[SL_OPT_VAL_MAX];
    uint64_t a = 0, b = 0;
    return zmq_read_opts(t, bind, sizeof bind, &a, &b, msg, msglen);
}

static void zmq_close_be(void **be);

static int zmq_open(const sl_topology *t, FILE *in, sl_addict *dict, sl_bad_fn on_bad, void *bad_ud,
                    void **be, char *msg, size_t msglen)
{
    (void)in;
    char bind[SL_OPT_VAL_MAX];
    uint64_t max_line = 0, max_message = ZMQ_MAX_MESSAGE_DEFAULT;
    int rc = zmq_read_opts(t, bind, sizeof bind, &max_line, &max_message, msg, msglen);
    if (rc)
        return rc;
    struct zsrc *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    z->max_message = max_message;
    z->wait_ms = SL_READER_WAIT_MS;
    z->org.fn = on_bad;
    z->org.ud = bad_ud;
    z->rd = sl_reader_new_chunked(t->source.format, dict, (size_t)max_line);
    if (!z->rd) {
        free(z);
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    sl_reader_set_schema(z->rd, &t->schema);
    z->attrs.na = t->schema.nattrs;
    sl_reader_on_bad(z->rd, sl_src_origin_bad, &z->org);
    char err[512];
    z->pull = sl_pull_bind(bind, (size_t)max_message * 2, 0, err, sizeof err);
    if (!z->pull) {
        snprintf(msg, msglen, "source zmq: %s", err);
        void *p = z;
        zmq_close_be(&p);
        return SL_EIO;
    }
    SL_INFO("source", "zmq: pulling on %s", sl_pull_endpoint(z->pull));
    *be = z;
    return 0;
}

/* Takes the next message. Returns 1 with a message to parse (or one skipped), 0 when none is
 * queued, or a negative sl_err. */
static int next_message(struct zsrc *z)
{
    const char *data = NULL;
    long m = sl_pull_recv(z->pull, &data);
    if (m < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        SL_ERROR("source", "zmq: receiving: %s", strerror(errno));
        return SL_EIO;
    }
    z->messages++;
    const char *peer = sl_pull_peer(z->pull);
    snprintf(z->org.what, sizeof z->org.what, "message %llu%s%s", (unsigned long long)z->messages,
             peer[0] ? " from " : "", peer);
    struct sl_reader_stats st;
    sl_reader_stats(z->rd, &st);
    z->org.line0 = st.lines;
    z->org.byte0 = st.bytes;
    if ((uint64_t)m > z->max_message) {
        z->oversized++;
        char reason[128];
        snprintf(reason, sizeof reason, "%ld bytes, more than max_message (%llu): skipped", m,
                 (unsigned long long)z->max_message);
        if (sl_src_origin_bad(&z->org, st.lines + 1, 1, st.bytes, reason))
            return SL_EPARSE;
        return 1;
    }
    z->data = data;
    z->len = (size_t)m;
    z->off = 0;
    z->need_nl = m > 0 && data[m - 1] != '\n';
    return 1;
}

static long zmq_read(void *be, sl_rec *buf, size_t cap, int *end)
{
    struct zsrc *z = be;
    size_t n = 0;
    int64_t deadline = -1;
    for (;;) {
        long k = sl_reader_read(z->rd, buf + n, cap - n);
        if (k < 0)
            return k;
        if (sl_src_attrs_take(&z->attrs, z->rd, n, (size_t)k, cap))
            return SL_ENOMEM;
        n += (size_t)k;
        if (n == cap)
            return (long)n;
        if (z->ended) {
            *end = n == 0;
            return (long)n;
        }
        /* The reader needs more: the rest of this message, its last newline, or the next. */
        if (z->off < z->len || z->need_nl) {
            size_t took;
            if (z->off < z->len) {
                took = sl_reader_feed(z->rd, z->data + z->off, z->len - z->off);
                z->off += took;
            } else {
                took = sl_reader_feed(z->rd, "\n", 1);
                z->need_nl = took == 0;
                z->added += took;
            }
            if (took == 0) {
                SL_ERROR("source", "zmq: the reader took no input");
                return SL_EIO;
            }
            continue;
        }
        int rc = next_message(z);
        if (rc < 0)
            return rc;
        if (rc > 0)
            continue;
        if (z->closing) {
            sl_reader_end(z->rd);
            z->ended = 1;
            continue;
        }
        if (n > 0)
            return (long)n;
        int64_t now = sl_src_now_ms();
        if (deadline < 0)
            deadline = now + z->wait_ms;
        if (now >= deadline)
            return 0;
        if (sl_pull_wait(z->pull, (long)(deadline - now)) < 0) {
            SL_ERROR("source", "zmq: waiting: %s", strerror(errno));
            return SL_EIO;
        }
    }
}

static int zmq_fd(const void *be)
{
    const struct zsrc *z = be;
    return sl_pull_fd(z->pull);
}

static void zmq_stats(const void *be, sl_source_stats *st)
{
    const struct zsrc *z = be;
    sl_reader_stats(z->rd, &st->input);
    st->input.bytes -= z->added;
    st->input.bad += z->oversized;
    st->messages = z->messages;
    st->oversized = z->oversized;
}

static void zmq_set_wait(void *be, int ms)
{
    ((struct zsrc *)be)->wait_ms = ms;
}

static int zmq_close_input(void *be)
{
    struct zsrc *z = be;
    if (z->closing)
        return 0;
    z->closing = 1;
    if (sl_pull_unbind(z->pull)) {
        SL_WARN("source", "zmq: unbinding %s: %s", sl_pull_endpoint(z->pull), strerror(errno));
    }
    return 0;
}

static const char *zmq_endpoint(const void *be)
{
    return sl_pull_endpoint(((const struct zsrc *)be)->pull);
}

static void zmq_close_be(void **be)
{
    struct zsrc *z = *be;
    if (!z)
        return;
    sl_pull_close(&z->pull);
    sl_reader_destroy(&z->rd);
    sl_src_attrs_free(&z->attrs);
    free(z);
    *be = NULL;
}

static uint64_t *zmq_attrs(void *be)
{
    return sl_src_attrs_get(&((struct zsrc *)be)->attrs);
}

const struct source_ops sl_src_zmq_ops = {
    .check = zmq_check,
    .open = zmq_open,
    .read = zmq_read,
    .fd = zmq_fd,
    .stats = zmq_stats,
    .close = zmq_close_be,
    .set_wait = zmq_set_wait,
    .close_input = zmq_close_input,
    .endpoint = zmq_endpoint,
    .attrs = zmq_attrs,
};
