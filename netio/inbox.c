/* Checked PULL receiver; see inbox.h. */
#include "inbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct sl_inbox {
    void *sock;
    void *mon; /* PAIR reading the socket monitor's events */
    sl_net_opts o;
    sl_frame_recsize_fn recsize;
    sl_seqtrack *seq;
    zmq_msg_t msg;
    int have_msg;
    sl_inbox_reject_fn on_reject;
    void *reject_ud;
    sl_inbox_admit_fn admit;
    void *admit_ud;
    sl_inbox_stats st;
};

int sl_inbox_new(void *zctx, const char *endpoint, const sl_net_opts *o,
                 sl_frame_recsize_fn recsize, sl_inbox **out, char *msg, size_t msglen)
{
    static _Atomic unsigned serial;
    int rc = SL_EIO;
    *out = NULL;
    sl_inbox *ib = calloc(1, sizeof *ib);
    if (!ib) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    if (sl_seqtrack_new(&ib->seq, msg, msglen)) {
        free(ib);
        return SL_ENOMEM;
    }
    ib->o = *o;
    ib->recsize = recsize;
    ib->sock = zmq_socket(zctx, ZMQ_PULL);
    if (!ib->sock || sl_net_configure(ib->sock, o, 0) || zmq_bind(ib->sock, endpoint)) {
        snprintf(msg, msglen, "cannot listen on %s: %s", endpoint, zmq_strerror(zmq_errno()));
        if (zmq_errno() == EADDRINUSE)
            rc = SL_ECONFLICT;
        goto fail;
    }
    char mon[64];
    snprintf(mon, sizeof mon, "inproc://sl-inbox-mon-%p-%u", (void *)ib, serial++);
    if (zmq_socket_monitor(
            ib->sock, mon,
            ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) ||
        !(ib->mon = zmq_socket(zctx, ZMQ_PAIR)) || zmq_connect(ib->mon, mon)) {
        snprintf(msg, msglen, "cannot monitor %s: %s", endpoint, zmq_strerror(zmq_errno()));
        goto fail;
    }
    int zero = 0;
    zmq_setsockopt(ib->mon, ZMQ_LINGER, &zero, sizeof zero);
    zmq_msg_init(&ib->msg);
    *out = ib;
    return 0;
fail:
    if (ib->mon)
        zmq_close(ib->mon);
    if (ib->sock)
        zmq_close(ib->sock);
    sl_seqtrack_destroy(&ib->seq);
    free(ib);
    return rc;
}

void sl_inbox_destroy(sl_inbox **ip)
{
    if (!ip || !*ip)
        return;
    sl_inbox *ib = *ip;
    zmq_msg_close(&ib->msg);
    zmq_socket_monitor(ib->sock, NULL, 0);
    zmq_close(ib->mon);
    zmq_close(ib->sock);
    sl_seqtrack_destroy(&ib->seq);
    free(ib);
    *ip = NULL;
}

void sl_inbox_on_reject(sl_inbox *ib, sl_inbox_reject_fn fn, void *ud)
{
    ib->on_reject = fn;
    ib->reject_ud = ud;
}

void sl_inbox_on_admit(sl_inbox *ib, sl_inbox_admit_fn fn, void *ud)
{
    ib->admit = fn;
    ib->admit_ud = ud;
}

size_t sl_inbox_take_acks(sl_inbox *ib, sl_ack *out, size_t max, int all)
{
    return sl_seqtrack_take_acks(ib->seq, out, max, all);
}

void sl_inbox_poll_monitor(sl_inbox *ib)
{
    for (unsigned id; (id = sl_net_monitor_next(ib->mon)) != 0;) {
        if (id == ZMQ_EVENT_ACCEPTED)
            ib->st.accepted++;
        else if (id == ZMQ_EVENT_DISCONNECTED)
            ib->st.disconnected++;
        else
            ib->st.handshake_failed++;
    }
}

static void reject(sl_inbox *ib, int verdict, const sl_frame_hdr *h, size_t len, int64_t detail)
{
    if (ib->on_reject)
        ib->on_reject(ib->reject_ud, verdict, h, len, detail);
}

int sl_inbox_recv(sl_inbox *ib, sl_frame *f)
{
    for (;;) {
        zmq_msg_close(&ib->msg);
        zmq_msg_init(&ib->msg);
        if (zmq_msg_recv(&ib->msg, ib->sock, ZMQ_DONTWAIT) < 0) {
            int e = zmq_errno();
            if (e == EAGAIN) {
                sl_inbox_poll_monitor(ib);
                return 0;
            }
            if (e == EINTR)
                continue;
            errno = e;
            return SL_EIO;
        }
        size_t len = zmq_msg_size(&ib->msg);
        const unsigned char *p = zmq_msg_data(&ib->msg);
        if (zmq_msg_more(&ib->msg)) {
            /* Frames are single-part: drain the rest and reject the whole message. */
            while (zmq_msg_more(&ib->msg)) {
                zmq_msg_close(&ib->msg);
                zmq_msg_init(&ib->msg);
                if (zmq_msg_recv(&ib->msg, ib->sock, 0) < 0)
                    break;
                len += zmq_msg_size(&ib->msg);
            }
            sl_frame_hdr none = {0};
            ib->st.rejected[SL_FRAME_LENGTH]++;
            reject(ib, SL_FRAME_LENGTH, &none, len, 0);
            continue;
        }
        int v = sl_frame_check(p, len, ib->o.max_payload, ib->recsize, &f->h);
        if (v != SL_FRAME_OK) {
            ib->st.rejected[v]++;
            reject(ib, v, &f->h, len, 0);
            continue;
        }
        f->peer = NULL;
        if (sl_frame_app_kind(f->h.kind)) {
            const char *a = zmq_msg_gets(&ib->msg, "Peer-Address");
            f->peer = a ? a : "";
        }
        /* Untracked kinds (ACK, the application's pings and leases) are idempotent: every pinging
         * client is a new sender whose ping has number 0, and tracking them would cost state per
         * stranger. */
        if (sl_frame_tracked(f->h.kind)) {
            if (ib->admit && !ib->admit(ib->admit_ud, &f->h)) {
                ib->st.stale++;
                continue;
            }
            int64_t gap = sl_seqtrack_check(ib->seq, f->h.source, f->h.stream, f->h.seq);
            if (gap == -2)
                return SL_ENOMEM;
            if (gap != 0) {
                if (gap == -1)
                    ib->st.duplicates++;
                else if (gap == -3)
                    ib->st.overflow++;
                else
                    ib->st.gaps++;
                reject(ib, gap > 0 ? -2 : (int)gap, &f->h, len, gap);
                continue;
            }
        }
        ib->st.frames++;
        ib->st.bytes += len;
        f->payload = p + SL_FRAME_HDR;
        return 1;
    }
}

int sl_inbox_endpoint(const sl_inbox *ib, char *buf, size_t len)
{
    size_t l = len;
    if (zmq_getsockopt(ib->sock, ZMQ_LAST_ENDPOINT, buf, &l)) {
        errno = zmq_errno();
        return SL_EIO;
    }
    return 0;
}

void *sl_inbox_socket(const sl_inbox *ib)
{
    return ib->sock;
}

void sl_inbox_forget(sl_inbox *ib, uint32_t mask, uint32_t value)
{
    sl_seqtrack_forget(ib->seq, mask, value);
}

void sl_inbox_get_stats(const sl_inbox *ib, sl_inbox_stats *st)
{
    *st = ib->st;
}
