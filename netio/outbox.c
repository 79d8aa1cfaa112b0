/* Batching, acknowledged PUSH sender; see outbox.h. */
#include "outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

struct stream_seq {
    uint32_t stream;
    uint64_t next;
};

/* A sealed frame. The ring holds [head, head + nsent) handed to ZeroMQ and not yet released
 * (tracked frames until acknowledged), then [head + nsent, head + qn) waiting to be sent. */
struct sealed {
    unsigned char *buf; /* header + payload, malloc'd */
    size_t len;
    uint32_t stream;
    uint64_t seq;
    unsigned char tracked, acked;
};

struct sl_outbox {
    void *sock;
    void *mon; /* PAIR reading the socket monitor's events */
    uint32_t source;
    sl_net_opts o;

    /* the open DATA frame */
    unsigned char *open;       /* header space + payload; NULL when none */
    size_t open_cap, open_len; /* open_len counts payload bytes */
    uint32_t open_stream, open_schema, open_count;
    size_t open_recsize;
    uint64_t open_since_us;

    struct sealed *q;
    size_t qcap, qhead, qn, nsent;
    size_t queued_bytes; /* open + every sealed frame held */

    struct stream_seq *seqs;
    size_t nseqs, seqcap;
    int down; /* a connection was lost and its successor's handshake not yet seen */

    sl_outbox_stats st;
    uint64_t blocked_at_us; /* when the peer's queue was first found full; 0 while not blocked */
};

static struct sealed *at(const sl_outbox *ob, size_t i)
{
    return &ob->q[(ob->qhead + i) % ob->qcap];
}

int sl_outbox_new(void *zctx, const char *endpoint, uint32_t source, const sl_net_opts *o,
                  sl_outbox **out, char *msg, size_t msglen)
{
    static _Atomic unsigned serial;
    *out = NULL;
    sl_outbox *ob = calloc(1, sizeof *ob);
    if (!ob) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    ob->source = source;
    ob->o = *o;
    ob->sock = zmq_socket(zctx, ZMQ_PUSH);
    char mon[80];
    snprintf(mon, sizeof mon, "inproc://sl-outbox-mon-%p-%u", (void *)ob, serial++);
    if (!ob->sock || sl_net_configure(ob->sock, o, 1) ||
        zmq_socket_monitor(ob->sock, mon,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) ||
        !(ob->mon = zmq_socket(zctx, ZMQ_PAIR)) || zmq_connect(ob->mon, mon) ||
        zmq_connect(ob->sock, endpoint)) {
        snprintf(msg, msglen, "cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
        if (ob->mon)
            zmq_close(ob->mon);
        if (ob->sock) {
            zmq_socket_monitor(ob->sock, NULL, 0);
            zmq_close(ob->sock);
        }
        free(ob);
        return SL_EIO;
    }
    int zero = 0;
    zmq_setsockopt(ob->mon, ZMQ_LINGER, &zero, sizeof zero);
    *out = ob;
    return 0;
}

void sl_outbox_destroy(sl_outbox **op)
{
    if (!op || !*op)
        return;
    sl_outbox *ob = *op;
    zmq_socket_monitor(ob->sock, NULL, 0);
    zmq_close(ob->mon);
    zmq_close(ob->sock);
    for (size_t i = 0; i < ob->qn; i++)
        free(at(ob, i)->buf);
    free(ob->q);
    free(ob->open);
    free(ob->seqs);
    free(ob);
    *op = NULL;
}

void sl_outbox_close_now(sl_outbox **op)
{
    if (!op || !*op)
        return;
    int zero = 0;
    zmq_setsockopt((*op)->sock, ZMQ_LINGER, &zero, sizeof zero);
    sl_outbox_destroy(op);
}

/* Reads the monitor's events: a completed handshake means a new connection, on which every
 * frame not yet acknowledged is sent again. */
static void poll_monitor(sl_outbox *ob)
{
    for (unsigned id; (id = sl_net_monitor_next(ob->mon)) != 0;) {
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            /* Nothing can have been sent before the first connection (ZMQ_IMMEDIATE), but
             * frames may have gone out on it before this event was read. */
            ob->down = 0;
            if (++ob->st.connects == 1)
                continue;
            for (size_t i = 0; i < ob->nsent; i++)
                if (at(ob, i)->tracked && !at(ob, i)->acked)
                    ob->st.resent++;
            ob->nsent = 0; /* go back: resend from the first frame still held */
        } else if (id == ZMQ_EVENT_DISCONNECTED) {
            /* Send nothing more until the next handshake is seen: frames handed to the new
             * connection before the rewind would arrive ahead of the resent ones, be dropped
             * and be sent once more. */
            ob->down = 1;
            ob->st.disconnects++;
        } else {
            ob->st.auth_failed++;
        }
    }
}

static uint64_t next_seq(sl_outbox *ob, uint32_t stream, int *err)
{
    for (size_t i = 0; i < ob->nseqs; i++)
        if (ob->seqs[i].stream == stream)
            return ob->seqs[i].next++;
    if (ob->nseqs == ob->seqcap) {
        size_t cap = ob->seqcap ? ob->seqcap * 2 : 8;
        struct stream_seq *s = realloc(ob->seqs, cap * sizeof *s);
        if (!s) {
            *err = 1;
            return 0;
        }
        ob->seqs = s;
        ob->seqcap = cap;
    }
    ob->seqs[ob->nseqs].stream = stream;
    ob->seqs[ob->nseqs].next = 1;
    ob->nseqs++;
    return 0;
}

/* Makes room for one more sealed frame. Returns 0 or SL_ENOMEM (nothing changed). */
static int reserve(sl_outbox *ob)
{
    if (ob->qn == ob->qcap) {
        size_t cap = ob->qcap ? ob->qcap * 2 : 16;
        struct sealed *q = malloc(cap * sizeof *q);
        if (!q)
            return SL_ENOMEM;
        for (size_t i = 0; i < ob->qn; i++)
            q[i] = *at(ob, i);
        free(ob->q);
        ob->q = q;
        ob->qcap = cap;
        ob->qhead = 0;
    }
    return 0;
}

/* Appends e; reserve() made room for it. */
static void enqueue(sl_outbox *ob, const struct sealed *e)
{
    ob->q[(ob->qhead + ob->qn) % ob->qcap] = *e;
    ob->qn++;
    ob->queued_bytes += e->len;
}

/* Seals a frame of `kind` around the header space + payload in buf (which becomes the
 * queue's). Returns 0 or SL_ENOMEM (buf freed). */
static int seal(sl_outbox *ob, unsigned char *buf, unsigned kind, uint32_t stream, uint32_t schema,
                uint32_t count, size_t payload_len)
{
    int err = 0, tracked = sl_frame_tracked(kind);
    sl_frame_hdr h = {
        .version = SL_FRAME_VERSION,
        .kind = (uint16_t)kind,
        .schema = schema,
        .source = ob->source,
        .stream = stream,
        .count = count,
        .payload_len = payload_len,
    };
    /* Room first: a number taken and never sent would stall the stream for good. Untracked
     * frames take no number (inbox.c does not track them). */
    if (reserve(ob)) {
        free(buf);
        return SL_ENOMEM;
    }
    h.seq = tracked ? next_seq(ob, stream, &err) : 0;
    if (err) {
        free(buf);
        return SL_ENOMEM;
    }
    struct sealed e = {buf, SL_FRAME_HDR + payload_len, stream, h.seq, (unsigned char)tracked, 0};
    enqueue(ob, &e);
    sl_frame_encode(&h, buf + SL_FRAME_HDR, buf);
    return 0;
}

int sl_outbox_flush(sl_outbox *ob)
{
    if (!ob->open || ob->open_count == 0)
        return 0;
    unsigned char *buf = ob->open;
    size_t len = ob->open_len;
    ob->open = NULL;
    ob->queued_bytes -= len;
    ob->st.records += ob->open_count;
    int rc = seal(ob, buf, SL_FRAME_DATA, ob->open_stream, ob->open_schema, ob->open_count, len);
    ob->open_count = 0;
    ob->open_len = 0;
    return rc;
}

int sl_outbox_put(sl_outbox *ob, uint32_t stream, uint32_t schema, size_t recsize, const void *recs,
                  size_t n)
{
    const unsigned char *src = recs;
    if (recsize == 0 || recsize > ob->o.max_payload)
        return SL_EINVAL;
    if (ob->open && ob->open_count &&
        (ob->open_stream != stream || ob->open_schema != schema || ob->open_recsize != recsize))
        if (sl_outbox_flush(ob))
            return SL_ENOMEM;
    /* Records per frame: as many as batch_bytes holds, at least one. */
    size_t per = ob->o.batch_bytes / recsize;
    if (per == 0)
        per = 1;
    if (per * recsize > ob->o.max_payload)
        per = ob->o.max_payload / recsize;
    while (n > 0) {
        if (!ob->open) {
            size_t cap = SL_FRAME_HDR + per * recsize;
            ob->open = malloc(cap);
            if (!ob->open)
                return SL_ENOMEM;
            ob->open_cap = cap;
            ob->open_len = 0;
            ob->open_count = 0;
        }
        if (ob->open_count == 0) {
            ob->open_stream = stream;
            ob->open_schema = schema;
            ob->open_recsize = recsize;
            ob->open_since_us = sl_net_now_us();
        }
        size_t room = per - ob->open_count;
        size_t take = n < room ? n : room;
        memcpy(ob->open + SL_FRAME_HDR + ob->open_len, src, take * recsize);
        ob->open_len += take * recsize;
        ob->open_count += (uint32_t)take;
        ob->queued_bytes += take * recsize;
        src += take * recsize;
        n -= take;
        if (ob->open_count == per && sl_outbox_flush(ob))
            return SL_ENOMEM;
    }
    return 0;
}

int sl_outbox_control(sl_outbox *ob, unsigned kind, uint32_t stream, const void *payload,
                      size_t len)
{
    if (!sl_frame_kind_valid(kind) || kind == SL_FRAME_DATA)
        return SL_EINVAL;
    if (len > ob->o.max_payload)
        return SL_ERANGE;
    if (sl_outbox_flush(ob))
        return SL_ENOMEM;
    unsigned char *buf = malloc(SL_FRAME_HDR + len + 1);
    if (!buf)
        return SL_ENOMEM;
    if (len)
        memcpy(buf + SL_FRAME_HDR, payload, len);
    return seal(ob, buf, kind, stream, 0, 0, len);
}

int sl_outbox_send_now(sl_outbox *ob, unsigned kind, uint32_t stream, const void *payload,
                       size_t len)
{
    if (!sl_frame_kind_valid(kind) || sl_frame_tracked(kind))
        return SL_EINVAL;
    if (len > ob->o.max_payload)
        return SL_ERANGE;
    poll_monitor(ob);
    if (ob->qn > ob->nsent || (ob->open && ob->open_count))
        return 1;
    unsigned char stackbuf[SL_FRAME_HDR + 4 + SL_ACK_MAX * SL_ACK_BYTES];
    unsigned char *buf =
        len <= sizeof stackbuf - SL_FRAME_HDR ? stackbuf : malloc(SL_FRAME_HDR + len);
    if (!buf)
        return SL_ENOMEM;
    if (len)
        memcpy(buf + SL_FRAME_HDR, payload, len);
    sl_frame_hdr h = {.version = SL_FRAME_VERSION,
                      .kind = (uint16_t)kind,
                      .source = ob->source,
                      .stream = stream,
                      .payload_len = len};
    sl_frame_encode(&h, buf + SL_FRAME_HDR, buf);
    int rc;
    for (;;) {
        rc = zmq_send(ob->sock, buf, SL_FRAME_HDR + len, ZMQ_DONTWAIT) < 0 ? zmq_errno() : 0;
        if (rc != EINTR)
            break;
    }
    if (buf != stackbuf)
        free(buf);
    if (rc == 0) {
        ob->st.frames++;
        ob->st.bytes += SL_FRAME_HDR + len;
        return 0;
    }
    if (rc == EAGAIN)
        return 1;
    errno = rc;
    return SL_EIO;
}

int sl_outbox_tick(sl_outbox *ob, uint64_t now_us)
{
    if (ob->open && ob->open_count && now_us >= ob->open_since_us &&
        now_us - ob->open_since_us >= ob->o.flush_us)
        return sl_outbox_flush(ob);
    return 0;
}

/* Frees released frames at the head: acknowledged ones, and sent untracked ones. */
static void release_head(sl_outbox *ob)
{
    while (ob->qn > 0) {
        struct sealed *s = at(ob, 0);
        int sent = ob->nsent > 0;
        if (!(s->acked || (sent && !s->tracked)))
            break;
        ob->queued_bytes -= s->len;
        free(s->buf);
        ob->qhead = (ob->qhead + 1) % ob->qcap;
        ob->qn--;
        if (sent)
            ob->nsent--;
    }
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u + 1; /* never 0 */
}

/* Ends a blocked spell, adding its time to the stats. */
static void unblock(sl_outbox *ob)
{
    if (ob->blocked_at_us) {
        ob->st.blocked_us += mono_us() - ob->blocked_at_us;
        ob->blocked_at_us = 0;
    }
}

int sl_outbox_pump(sl_outbox *ob)
{
    poll_monitor(ob);
    if (ob->down) /* frames wait for a connection, not for room */
        unblock(ob);
    while (ob->nsent < ob->qn && !ob->down) {
        struct sealed *s = at(ob, ob->nsent);
        if (s->acked) { /* acknowledged before a resend reached it */
            ob->nsent++;
            continue;
        }
        /* zmq_send copies: a 64 KiB copy is microseconds, and the frame stays ours until it is
         * acknowledged (zero-copy messages would hand the buffer over). */
        if (zmq_send(ob->sock, s->buf, s->len, ZMQ_DONTWAIT) < 0) {
            int e = zmq_errno();
            if (e == EAGAIN) {
                ob->st.blocked++;
                if (!ob->blocked_at_us)
                    ob->blocked_at_us = mono_us();
                break;
            }
            if (e == EINTR)
                continue;
            errno = e;
            return SL_EIO;
        }
        unblock(ob);
        ob->st.frames++;
        ob->st.bytes += s->len;
        ob->nsent++;
    }
    release_head(ob);
    return 0;
}

void sl_outbox_ack(sl_outbox *ob, uint32_t stream, uint64_t next)
{
    for (size_t i = 0; i < ob->qn; i++) {
        struct sealed *s = at(ob, i);
        if (s->tracked && s->stream == stream && s->seq < next)
            s->acked = 1;
    }
    release_head(ob);
}

void sl_outbox_forget(sl_outbox *ob, uint32_t mask, uint32_t value)
{
    size_t kept = 0, kept_sent = 0;
    for (size_t i = 0; i < ob->qn; i++) {
        struct sealed s = *at(ob, i);
        if ((s.stream & mask) == (value & mask)) {
            ob->queued_bytes -= s.len;
            free(s.buf);
            continue;
        }
        ob->q[(ob->qhead + kept) % ob->qcap] = s;
        kept_sent += i < ob->nsent;
        kept++;
    }
    ob->qn = kept;
    ob->nsent = kept_sent;
    if (ob->open && ob->open_count && (ob->open_stream & mask) == (value & mask)) {
        ob->queued_bytes -= ob->open_len;
        ob->open_len = 0;
        ob->open_count = 0;
    }
    size_t j = 0;
    for (size_t i = 0; i < ob->nseqs; i++)
        if ((ob->seqs[i].stream & mask) != (value & mask))
            ob->seqs[j++] = ob->seqs[i];
    ob->nseqs = j;
}

int sl_outbox_drain(sl_outbox *ob, int timeout_ms)
{
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : sl_net_now_us() + (uint64_t)timeout_ms * 1000;
    int rc = sl_outbox_flush(ob);
    if (rc)
        return rc;
    for (;;) {
        if ((rc = sl_outbox_pump(ob)))
            return rc;
        if (ob->nsent == ob->qn)
            return 0;
        uint64_t now = sl_net_now_us();
        if (now >= deadline)
            return 1;
        zmq_pollitem_t it = {.socket = ob->sock, .events = ZMQ_POLLOUT};
        long wait = deadline == UINT64_MAX ? 100 : (long)((deadline - now) / 1000) + 1;
        if (zmq_poll(&it, 1, wait > 100 ? 100 : wait) < 0 && zmq_errno() != EINTR) {
            errno = zmq_errno();
            return SL_EIO;
        }
    }
}

size_t sl_outbox_queued_bytes(const sl_outbox *ob)
{
    return ob->queued_bytes;
}

size_t sl_outbox_queued_frames(const sl_outbox *ob)
{
    return ob->qn - ob->nsent;
}

size_t sl_outbox_unacked_frames(const sl_outbox *ob)
{
    size_t n = 0;
    for (size_t i = 0; i < ob->nsent; i++)
        n += at(ob, i)->tracked && !at(ob, i)->acked;
    return n;
}

void *sl_outbox_socket(const sl_outbox *ob)
{
    return ob->sock;
}

void sl_outbox_get_stats(const sl_outbox *ob, sl_outbox_stats *st)
{
    *st = ob->st;
    if (ob->blocked_at_us) /* a spell still going on counts so far */
        st->blocked_us += mono_us() - ob->blocked_at_us;
}
