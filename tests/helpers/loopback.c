/* Loopback networking for the tests; see loopback.h. */
#include "loopback.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

sl_net_opts tu_net_opts(void)
{
    sl_net_opts o;
    sl_net_opts_defaults(&o);
    o.linger_ms = 100;
    return o;
}

sl_inbox *tu_bind_inbox(void *ctx, const sl_net_opts *o, sl_frame_recsize_fn recsize, char *ep,
                        size_t eplen)
{
    char err[512] = "";
    sl_inbox *ib = NULL;
    cr_assert(eq(int, sl_inbox_new(ctx, "tcp://127.0.0.1:*", o, recsize, &ib, err, sizeof err), 0),
              "sl_inbox_new: %s", err);
    cr_assert_not_null(ib);
    cr_assert(eq(int, sl_inbox_endpoint(ib, ep, eplen), 0));
    cr_assert(eq(int, strncmp(ep, "tcp://127.0.0.1:", 16), 0), "endpoint %s", ep);
    return ib;
}

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

int tu_listen_loopback(int backlog, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(ge(int, fd, 0), "socket: %s", strerror(errno));
    struct sockaddr_in sa = loopback(0);
    socklen_t sl = sizeof sa;
    cr_assert(eq(int, bind(fd, (struct sockaddr *)&sa, sizeof sa), 0), "bind: %s", strerror(errno));
    cr_assert(eq(int, listen(fd, backlog), 0), "listen: %s", strerror(errno));
    cr_assert(eq(int, getsockname(fd, (struct sockaddr *)&sa, &sl), 0));
    *port = ntohs(sa.sin_port);
    return fd;
}

int tu_connect_loopback(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = loopback(port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

void tu_relay_start(tu_relay *r, uint16_t upstream, int backlog, void *(*main)(void *), void *arg)
{
    r->upstream = upstream;
    atomic_store(&r->stop, 0);
    r->lfd = tu_listen_loopback(backlog, &r->port);
    cr_assert(eq(int, pthread_create(&r->th, NULL, main, arg), 0));
}

int tu_relay_accept(tu_relay *r)
{
    struct pollfd lp = {.fd = r->lfd, .events = POLLIN};
    if (poll(&lp, 1, 50) <= 0)
        return -1;
    return accept(r->lfd, NULL, NULL);
}

void tu_relay_stop(tu_relay *r)
{
    atomic_store(&r->stop, 1);
    pthread_join(r->th, NULL);
    close(r->lfd);
}
