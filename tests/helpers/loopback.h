/* Loopback networking for the tests of netio (test_netio, test_auth): options and an inbox on an
 * ephemeral 127.0.0.1 port, and plain TCP for the relays they put between a ZeroMQ sender and
 * receiver (test_netio's forwarder, test_auth's tap). Asserts with Criterion. */
#ifndef SL_TEST_LOOPBACK_H
#define SL_TEST_LOOPBACK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "inbox.h"
#include "sock.h"

/* The defaults with a short linger (100 ms), so that closing never waits long. */
sl_net_opts tu_net_opts(void);

/* An inbox bound to an ephemeral 127.0.0.1 port; its endpoint ("tcp://127.0.0.1:PORT") in ep. */
sl_inbox *tu_bind_inbox(void *ctx, const sl_net_opts *o, sl_frame_recsize_fn recsize, char *ep,
                        size_t eplen);

/* A socket listening on an ephemeral loopback port (its number in *port). */
int tu_listen_loopback(int backlog, uint16_t *port);

/* A socket connected to loopback port `port`, or -1 (errno) when it cannot connect. */
int tu_connect_loopback(uint16_t port);

/* What a relay thread shares with its test: the port it listens on, the port it relays to, and
 * the stop flag it polls (every 50 ms at most). The relays embed it. */
typedef struct tu_relay {
    int lfd;
    uint16_t port, upstream;
    pthread_t th;
    atomic_int stop;
} tu_relay;

/* Listens (r->port) and starts thread main(arg), which relays to loopback port `upstream`. */
void tu_relay_start(tu_relay *r, uint16_t upstream, int backlog, void *(*main)(void *), void *arg);

/* In the relay thread: a connection accepted within 50 ms, or -1. */
int tu_relay_accept(tu_relay *r);

/* Sets the stop flag, waits for the thread and closes the listening socket. */
void tu_relay_stop(tu_relay *r);

#endif
