/* One wait for many sockets; see poller.h. */
#include "poller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#include "auth.h"

struct sl_poller {
    zmq_pollitem_t *it;
    size_t n, cap;
};

int sl_poller_new(size_t cap, sl_poller **out, char *msg, size_t msglen)
{
    sl_poller *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p || !(p->it = calloc(cap ? cap : 1, sizeof *p->it))) {
        free(p);
        snprintf(msg, msglen, "out of memory for a poller of %zu items", cap);
        return SL_ENOMEM;
    }
    p->cap = cap;
    *out = p;
    return 0;
}

void sl_poller_destroy(sl_poller **pp)
{
    if (!pp || !*pp)
        return;
    free((*pp)->it);
    free(*pp);
    *pp = NULL;
}

void sl_poller_clear(sl_poller *p)
{
    p->n = 0;
}

static int add(sl_poller *p, void *sock, int fd, short events)
{
    if (p->n == p->cap)
        return SL_ERANGE;
    p->it[p->n] = (zmq_pollitem_t){.socket = sock, .fd = fd, .events = events};
    return (int)p->n++;
}

int sl_poller_add_inbox(sl_poller *p, sl_inbox *ib)
{
    return add(p, sl_inbox_socket(ib), 0, ZMQ_POLLIN);
}

int sl_poller_add_outbox(sl_poller *p, sl_outbox *ob)
{
    return add(p, sl_outbox_socket(ob), 0, ZMQ_POLLOUT);
}

int sl_poller_add_fd(sl_poller *p, int fd)
{
    return add(p, NULL, fd, ZMQ_POLLIN);
}

int sl_poller_wait(sl_poller *p, long timeout_ms)
{
    for (size_t i = 0; i < p->n; i++)
        p->it[i].revents = 0;
    int r = zmq_poll(p->it, (int)p->n, timeout_ms);
    if (r < 0 && zmq_errno() == EINTR)
        return 0;
    if (r < 0) {
        errno = zmq_errno();
        return SL_EIO;
    }
    return r;
}

int sl_poller_ready(const sl_poller *p, int index)
{
    return index >= 0 && (size_t)index < p->n && p->it[index].revents != 0;
}

struct sl_netctx {
    void *zctx;
    sl_zap *zap;
};

int sl_netctx_new(const sl_net_opts *o, sl_netctx **out, char *msg, size_t msglen)
{
    *out = NULL;
    sl_netctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    if (!(c->zctx = zmq_ctx_new())) {
        snprintf(msg, msglen, "cannot create a ZeroMQ context");
        free(c);
        return SL_EIO;
    }
    int rc = sl_zap_new(c->zctx, o, &c->zap, msg, msglen);
    if (rc) {
        zmq_ctx_term(c->zctx);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void *sl_netctx_zmq(const sl_netctx *c)
{
    return c->zctx;
}

uint64_t sl_netctx_refused(const sl_netctx *c)
{
    return sl_zap_refused(c->zap);
}

void sl_netctx_destroy(sl_netctx **cp)
{
    if (!cp || !*cp)
        return;
    sl_zap_destroy(&(*cp)->zap);
    zmq_ctx_term((*cp)->zctx);
    free(*cp);
    *cp = NULL;
}

void sl_net_sleep_ms(long ms)
{
    zmq_poll(NULL, 0, ms);
}
