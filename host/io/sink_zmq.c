/* The zmq sink: rows leave through a ZeroMQ PUSH socket (netio/push.h) that connects to
 * sink.connect. One message per emission holds its rows as lines in the sink's format (CSV: the
 * header line first, in every message; NDJSON: one object per line). An emission past
 * sink.message_bytes is split at line ends into several messages, each standing alone (with its
 * own CSV header). An emission with no rows (changes mode, nothing changed) sends nothing.
 *
 * Sends block while the consumer's queue is full (sink.hwm messages): back-pressure, never a
 * drop. While no consumer is connected at all, a send waits at most sink.peer_timeout_ms and
 * then fails the run ("no consumer connected to ... within N ms"). Closing waits as long again
 * for queued messages to leave. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "push.h"
#include "sinkbe.h"

#define PFX "sink"

static const char *const keys[] = {"connect", "peer_timeout_ms", "hwm", "message_bytes"};

struct zsink {
    sl_push *push;
    char endpoint[SL_OPT_VAL_MAX];
    int timeout_ms;
    size_t max_bytes;
    sl_tbuf buf;
};

struct zcfg {
    char endpoint[SL_OPT_VAL_MAX];
    uint64_t timeout_ms, hwm, max_bytes;
};

static int read_cfg(const sl_topology *t, struct zcfg *z, char *msg, size_t msglen)
{
    const sl_opts *o = &t->sink.opts;
    *z = (struct zcfg){.timeout_ms = 10000, .hwm = 1000, .max_bytes = 1 << 20};
    int rc = sl_opts_known(o, PFX, "sink type zmq", keys, sizeof keys / sizeof *keys, msg, msglen);
    if (rc || (rc = sl_opts_str(o, PFX, "connect", z->endpoint, sizeof z->endpoint, msg, msglen)) ||
        (rc = sl_opts_u64(o, PFX, "peer_timeout_ms", 0, 3600000, &z->timeout_ms, msg, msglen)) ||
        (rc = sl_opts_u64(o, PFX, "hwm", 1, 1000000, &z->hwm, msg, msglen)) ||
        (rc = sl_opts_u64(o, PFX, "message_bytes", 1024, 1 << 30, &z->max_bytes, msg, msglen)))
        return rc;
    if (!z->endpoint[0])
        return sl_opts_missing(o, PFX, "connect",
                               "sink type zmq: an endpoint such as tcp://127.0.0.1:5700", msg,
                               msglen);
    if (strncmp(z->endpoint, "tcp://", 6) != 0 && strncmp(z->endpoint, "ipc://", 6) != 0)
        return sl_opts_fail(o, PFX, "connect", msg, msglen,
                            "expected a tcp:// or ipc:// endpoint, got \"%s\"", z->endpoint);
    return 0;
}

int sl_sink_zmq_check(const sl_topology *t, char *msg, size_t msglen)
{
    struct zcfg z;
    return read_cfg(t, &z, msg, msglen);
}

static int zsink_open(sl_sink *s, const sl_topology *t, FILE *out, char *msg, size_t msglen)
{
    (void)out;
    struct zcfg z;
    int rc = read_cfg(t, &z, msg, msglen);
    if (rc)
        return rc;
    struct zsink *zs = calloc(1, sizeof *zs);
    if (!zs)
        return SL_ENOMEM;
    s->be = zs;
    memcpy(zs->endpoint, z.endpoint, sizeof zs->endpoint);
    zs->timeout_ms = (int)z.timeout_ms;
    zs->max_bytes = (size_t)z.max_bytes;
    if (!(zs->push = sl_push_connect(z.endpoint, (int)z.hwm, zs->timeout_ms))) {
        snprintf(msg, msglen, "sink zmq: cannot connect to %s: %s", z.endpoint, strerror(errno));
        return SL_EIO;
    }
    return 0;
}

static int send_buf(sl_sink *s, struct zsink *zs)
{
    if (zs->buf.oom)
        return SL_ENOMEM;
    if (sl_push_send(zs->push, zs->buf.p, zs->buf.len) == 0)
        return 0;
    if (errno == ETIMEDOUT)
        snprintf(s->msg, sizeof s->msg,
                 "sink zmq: no consumer connected to %s within %d ms (sink.peer_timeout_ms)",
                 zs->endpoint, zs->timeout_ms);
    else
        snprintf(s->msg, sizeof s->msg, "sink zmq: sending to %s failed: %s", zs->endpoint,
                 strerror(errno));
    return SL_EIO;
}

static void start(const sl_sink *s, struct zsink *zs)
{
    zs->buf.len = 0;
    if (s->format == SL_SINK_CSV) {
        sl_sink_header(s, &zs->buf);
        sl_tb_put(&zs->buf, "\n", 1);
    }
}

static int zsink_write(sl_sink *s, const sl_emission *em)
{
    struct zsink *zs = s->be;
    if (em->n == 0)
        return 0;
    start(s, zs);
    size_t fresh = zs->buf.len; /* the length with no row yet */
    for (size_t i = 0; i < em->n; i++) {
        size_t before = zs->buf.len;
        sl_sink_format_row(s, em, &em->rows[i], &zs->buf);
        if (zs->buf.len > zs->max_bytes && before > fresh) { /* send what came before this row */
            size_t rowlen = zs->buf.len - before;
            char *row = malloc(rowlen);
            if (!row)
                return SL_ENOMEM;
            memcpy(row, zs->buf.p + before, rowlen);
            zs->buf.len = before;
            int rc = send_buf(s, zs);
            start(s, zs);
            sl_tb_put(&zs->buf, row, rowlen);
            free(row);
            if (rc)
                return rc;
        }
    }
    return send_buf(s, zs);
}

static void zsink_close(sl_sink *s)
{
    struct zsink *zs = s->be;
    if (!zs)
        return;
    sl_push_close(&zs->push, zs->timeout_ms);
    sl_tb_free(&zs->buf);
    free(zs);
    s->be = NULL;
}

const sl_sink_ops sl_sink_zmq_ops = {zsink_open, zsink_write, NULL, zsink_close};
