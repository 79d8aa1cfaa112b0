/* A bare ZeroMQ PULL socket; see pull.h. */
#include "pull.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct sl_pull {
    void *ctx;
    void *sock;
    zmq_msg_t msg; /* the message last received */
    int have_msg;
    int bound;
    char endpoint[256];
};

sl_pull *sl_pull_bind(const char *endpoint, size_t max_msg, int hwm, char *err, size_t errlen)
{
    sl_pull *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        return NULL;
    }
    const char *what = "zmq_ctx_new";
    int e = 0;
    p->ctx = zmq_ctx_new();
    if (!p->ctx)
        goto fail;
    what = "zmq_socket";
    p->sock = zmq_socket(p->ctx, ZMQ_PULL);
    if (!p->sock)
        goto fail;
    int zero = 0;
    int64_t lim = max_msg == 0 || max_msg > INT64_MAX ? -1 : (int64_t)max_msg;
    what = "zmq_setsockopt";
    if (zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_setsockopt(p->sock, ZMQ_MAXMSGSIZE, &lim, sizeof lim))
        goto fail;
    if (hwm > 0 && zmq_setsockopt(p->sock, ZMQ_RCVHWM, &hwm, sizeof hwm))
        goto fail;
    what = "bind";
    if (zmq_bind(p->sock, endpoint))
        goto fail;
    size_t n = sizeof p->endpoint;
    if (zmq_getsockopt(p->sock, ZMQ_LAST_ENDPOINT, p->endpoint, &n))
        snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
    p->bound = 1;
    zmq_msg_init(&p->msg);
    return p;
fail:
    e = errno;
    snprintf(err, errlen, "%s %s: %s", what, endpoint, zmq_strerror(e));
    if (p->sock)
        zmq_close(p->sock);
    if (p->ctx)
        zmq_ctx_term(p->ctx);
    free(p);
    errno = e;
    return NULL;
}

const char *sl_pull_endpoint(const sl_pull *p)
{
    return p->endpoint;
}

long sl_pull_recv(sl_pull *p, const char **data)
{
    if (p->have_msg) {
        zmq_msg_close(&p->msg);
        p->have_msg = 0;
    }
    zmq_msg_init(&p->msg);
    int n = zmq_msg_recv(&p->msg, p->sock, ZMQ_DONTWAIT);
    if (n < 0) {
        int e = errno;
        zmq_msg_close(&p->msg);
        errno = e;
        return -1;
    }
    p->have_msg = 1;
    *data = zmq_msg_data(&p->msg);
    return (long)zmq_msg_size(&p->msg);
}

const char *sl_pull_peer(const sl_pull *p)
{
    const char *a = p->have_msg ? zmq_msg_gets((zmq_msg_t *)&p->msg, "Peer-Address") : NULL;
    return a ? a : "";
}

int sl_pull_wait(sl_pull *p, long timeout_ms)
{
    zmq_pollitem_t it = {.socket = p->sock, .events = ZMQ_POLLIN};
    int rc = zmq_poll(&it, 1, timeout_ms);
    if (rc < 0)
        return errno == EINTR ? 0 : -1;
    return rc > 0 && (it.revents & ZMQ_POLLIN) ? 1 : 0;
}

int sl_pull_fd(const sl_pull *p)
{
    int fd = -1;
    size_t n = sizeof fd;
    if (zmq_getsockopt(p->sock, ZMQ_FD, &fd, &n))
        return -1;
    return fd;
}

int sl_pull_unbind(sl_pull *p)
{
    if (!p->bound)
        return 0;
    p->bound = 0;
    return zmq_unbind(p->sock, p->endpoint);
}

void sl_pull_close(sl_pull **pp)
{
    if (!pp || !*pp)
        return;
    sl_pull *p = *pp;
    if (p->have_msg)
        zmq_msg_close(&p->msg);
    zmq_close(p->sock);
    zmq_ctx_term(p->ctx);
    free(p);
    *pp = NULL;
}
