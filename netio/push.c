/* A PUSH socket for result streams; see push.h. */
#include "push.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#include "sock.h"

#define SLICE_MS 50 /* how often a blocked send looks at the monitor */

struct sl_push {
    void *ctx, *sock, *mon;
    int peers; /* connections up now, by the monitor */
    unsigned connects;
    int peer_timeout_ms;
    unsigned long long sent;
};

static void close_all(sl_push *p)
{
    if (p->sock)
        zmq_socket_monitor(p->sock, NULL, 0);
    if (p->mon)
        zmq_close(p->mon);
    if (p->sock)
        zmq_close(p->sock);
    if (p->ctx)
        zmq_ctx_term(p->ctx);
    free(p);
}

sl_push *sl_push_connect(const char *endpoint, int hwm, int peer_timeout_ms)
{
    sl_push *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->peer_timeout_ms = peer_timeout_ms;
    char mon[80];
    snprintf(mon, sizeof mon, "inproc://sl-push-mon-%p", (void *)p);
    int one = 1, zero = 0, e = 0;
    if (!(p->ctx = zmq_ctx_new()) || !(p->sock = zmq_socket(p->ctx, ZMQ_PUSH)) ||
        zmq_setsockopt(p->sock, ZMQ_IMMEDIATE, &one, sizeof one) ||
        (hwm > 0 && zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof hwm)) ||
        zmq_socket_monitor(p->sock, mon, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) ||
        !(p->mon = zmq_socket(p->ctx, ZMQ_PAIR)) ||
        zmq_setsockopt(p->mon, ZMQ_LINGER, &zero, sizeof zero) || zmq_connect(p->mon, mon) ||
        zmq_connect(p->sock, endpoint))
        e = zmq_errno();
    if (e) {
        int linger = 0;
        if (p->sock)
            zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger);
        close_all(p);
        errno = e;
        return NULL;
    }
    return p;
}

static void poll_monitor(sl_push *p)
{
    for (unsigned id; (id = sl_net_monitor_next(p->mon)) != 0;) {
        if (id == ZMQ_EVENT_CONNECTED) {
            p->peers++;
            p->connects++;
        } else if (id == ZMQ_EVENT_DISCONNECTED && p->peers > 0) {
            p->peers--;
        }
    }
}

int sl_push_send(sl_push *p, const void *data, size_t len)
{
    uint64_t alone_since = 0; /* when the wait without a peer began (0: a peer is there) */
    for (;;) {
        if (zmq_send(p->sock, data, len, ZMQ_DONTWAIT) >= 0) {
            p->sent++;
            return 0;
        }
        int e = zmq_errno();
        if (e == EINTR)
            continue;
        if (e != EAGAIN) {
            errno = e;
            return -1;
        }
        poll_monitor(p);
        uint64_t now = sl_net_now_us();
        if (p->peers > 0) {
            alone_since = 0;
        } else if (!alone_since) {
            alone_since = now;
        } else if (p->peer_timeout_ms >= 0 &&
                   now - alone_since >= (uint64_t)p->peer_timeout_ms * 1000) {
            errno = ETIMEDOUT;
            return -1;
        }
        zmq_pollitem_t it = {.socket = p->sock, .events = ZMQ_POLLOUT};
        if (zmq_poll(&it, 1, SLICE_MS) < 0 && zmq_errno() != EINTR) {
            errno = zmq_errno();
            return -1;
        }
    }
}

unsigned long long sl_push_sent(const sl_push *p)
{
    return p->sent;
}

unsigned sl_push_connects(const sl_push *p)
{
    return p->connects;
}

void sl_push_close(sl_push **pp, int linger_ms)
{
    if (!pp || !*pp)
        return;
    zmq_setsockopt((*pp)->sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    close_all(*pp);
    *pp = NULL;
}
