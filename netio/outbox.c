/* Batching PUSH sender; see outbox.h. */
#include "outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct stream_seq {
    uint32_t stream;
    uint64_t next;
};

struct sealed {
    unsigned char *buf; /* header + payload, malloc'd */
    size_t len;
};

struct sl_outbox {
    void *sock;
    uint32_t source;
    sl_net_opts o;

    /* the open DATA frame */
    unsigned char *open;       /* header space + payload; NULL when none */
    size_t open_cap, open_len; /* open_len counts payload bytes */
    uint32_t open_stream, open_schema, open_count;
    size_t open_recsize;
    uint64_t open_since_us;

    /* sealed frames, a ring */
    struct sealed *q;
    size_t qcap, qhead, qn;
    size_t queued_bytes;

    struct stream_seq *seqs;
    size_t nseqs, seqcap;

    sl_outbox_stats st;
};

sl_outbox *sl_outbox_new(void *zctx, const char *endpoint, uint32_t source, const sl_net_opts *o,
                         char *err, size_t errlen)
{
    sl_outbox *ob = calloc(1, sizeof *ob);
    if (!ob) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ob->source = source;
    ob->o = *o;
    ob->sock = zmq_socket(zctx, ZMQ_PUSH);
    if (!ob->sock || sl_net_configure(ob->sock, o, 1) || zmq_connect(ob->sock, endpoint)) {
        snprintf(err, errlen, "cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
        if (ob->sock)
            zmq_close(ob->sock);
        free(ob);
        return NULL;
    }
    return ob;
}

void sl_outbox_destroy(sl_outbox **op)
{
    if (!op || !*op)
        return;
    sl_outbox *ob = *op;
    zmq_close(ob->sock);
    for (size_t i = 0; i < ob->qn; i++)
        free(ob->q[(ob->qhead + i) % ob->qcap].buf);
    free(ob->q);
    free(ob->open);
    free(ob->seqs);
    free(ob);
    *op = NULL;
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

static int enqueue(sl_outbox *ob, unsigned char *buf, size_t len)
{
    if (ob->qn == ob->qcap) {
        size_t cap = ob->qcap ? ob->qcap * 2 : 16;
        struct sealed *q = malloc(cap * sizeof *q);
        if (!q)
            return -1;
        for (size_t i = 0; i < ob->qn; i++)
            q[i] = ob->q[(ob->qhead + i) % ob->qcap];
        free(ob->q);
        ob->q = q;
        ob->qcap = cap;
        ob->qhead = 0;
    }
    ob->q[(ob->qhead + ob->qn) % ob->qcap] = (struct sealed){buf, len};
    ob->qn++;
    ob->queued_bytes += len;
    return 0;
}

/* Seals a frame of `kind` around the header space + payload in buf (which becomes the
 * queue's). Returns 0 or -1 (buf freed). */
static int seal(sl_outbox *ob, unsigned char *buf, enum sl_frame_kind kind, uint32_t stream,
                uint32_t schema, uint32_t count, size_t payload_len)
{
    int err = 0;
    sl_frame_hdr h = {
        .version = SL_FRAME_VERSION,
        .kind = (uint16_t)kind,
        .schema = schema,
        .source = ob->source,
        .stream = stream,
        .count = count,
        .payload_len = payload_len,
    };
    /* HELLO is stateless and untracked (inbox.c): it takes no number from the stream. */
    h.seq = kind == SL_FRAME_HELLO ? 0 : next_seq(ob, stream, &err);
    if (err || enqueue(ob, buf, SL_FRAME_HDR + payload_len)) {
        free(buf);
        return -1;
    }
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
        return errno = EINVAL, -1;
    if (ob->open && ob->open_count &&
        (ob->open_stream != stream || ob->open_schema != schema || ob->open_recsize != recsize))
        if (sl_outbox_flush(ob))
            return -1;
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
                return -1;
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
            return -1;
    }
    return 0;
}

int sl_outbox_control(sl_outbox *ob, enum sl_frame_kind kind, uint32_t stream, const void *payload,
                      size_t len)
{
    if (kind < SL_FRAME_EOS || kind > SL_FRAME_KIND_MAX)
        return errno = EINVAL, -1;
    if (len > ob->o.max_payload)
        return errno = EMSGSIZE, -1;
    if (sl_outbox_flush(ob))
        return -1;
    unsigned char *buf = malloc(SL_FRAME_HDR + len + 1);
    if (!buf)
        return -1;
    if (len)
        memcpy(buf + SL_FRAME_HDR, payload, len);
    return seal(ob, buf, kind, stream, 0, 0, len);
}

int sl_outbox_tick(sl_outbox *ob, uint64_t now_us)
{
    if (ob->open && ob->open_count && now_us >= ob->open_since_us &&
        now_us - ob->open_since_us >= ob->o.flush_us)
        return sl_outbox_flush(ob);
    return 0;
}

int sl_outbox_pump(sl_outbox *ob)
{
    while (ob->qn > 0) {
        struct sealed *s = &ob->q[ob->qhead];
        /* zmq_send copies: a 64 KiB copy is microseconds, and on EAGAIN the frame simply stays
         * ours (zero-copy messages would hand the buffer over even when the send fails). */
        if (zmq_send(ob->sock, s->buf, s->len, ZMQ_DONTWAIT) < 0) {
            int e = zmq_errno();
            if (e == EAGAIN) {
                ob->st.blocked++;
                return 0;
            }
            if (e == EINTR)
                continue;
            errno = e;
            return -1;
        }
        ob->st.frames++;
        ob->st.bytes += s->len;
        ob->queued_bytes -= s->len;
        free(s->buf);
        ob->qhead = (ob->qhead + 1) % ob->qcap;
        ob->qn--;
    }
    return 0;
}

int sl_outbox_drain(sl_outbox *ob, int timeout_ms)
{
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : sl_net_now_us() + (uint64_t)timeout_ms * 1000;
    if (sl_outbox_flush(ob))
        return -1;
    for (;;) {
        if (sl_outbox_pump(ob))
            return -1;
        if (ob->qn == 0)
            return 0;
        uint64_t now = sl_net_now_us();
        if (now >= deadline)
            return 1;
        zmq_pollitem_t it = {.socket = ob->sock, .events = ZMQ_POLLOUT};
        long wait = deadline == UINT64_MAX ? 100 : (long)((deadline - now) / 1000) + 1;
        if (zmq_poll(&it, 1, wait > 100 ? 100 : wait) < 0 && zmq_errno() != EINTR)
            return -1;
    }
}

size_t sl_outbox_queued_bytes(const sl_outbox *ob)
{
    return ob->queued_bytes;
}

size_t sl_outbox_queued_frames(const sl_outbox *ob)
{
    return ob->qn;
}

void *sl_outbox_socket(const sl_outbox *ob)
{
    return ob->sock;
}

void sl_outbox_get_stats(const sl_outbox *ob, sl_outbox_stats *st)
{
    *st = ob->st;
}
