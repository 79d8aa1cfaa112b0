/* ZeroMQ socket settings shared by every sluice socket. Data moves over PUSH/PULL only (never
 * PUB, which drops at the high-water mark): a full queue blocks the sender, which is how
 * back-pressure reaches the source.
 *
 * Every socket gets, from sl_net_opts: ZMQ_LINGER (so a clean shutdown still delivers what is
 * queued, for a bounded time), ZMQ_SNDHWM/ZMQ_RCVHWM, ZMQ_MAXMSGSIZE (twice the largest frame:
 * frames between the limit and twice it are read and counted as oversized; beyond that
 * ZeroMQ drops the connection without reading them into memory), heartbeats
 * (ZMQ_HEARTBEAT_IVL/TIMEOUT/TTL, so a dead peer is noticed), and on connecting sockets
 * ZMQ_IMMEDIATE (queue only to completed connections, so nothing waits in a pipe to a peer that
 * is not there).
 *
 * With CURVE keys (sl_net_opts.curve), binding sockets are CURVE servers and connecting sockets
 * CURVE clients, all with the cluster's key pair (netio/auth.h): traffic is encrypted and a ZAP
 * handler admits only peers holding the cluster's key.
 *
 * Errors, in every netio header: 0 or a negative sl_err (base/err.h), with the reason in the
 * caller's message buffer where the function takes one; a socket call that failed is SL_EIO,
 * with errno still set by ZeroMQ for the detail (zmq_strerror). */
#ifndef SL_SOCK_H
#define SL_SOCK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct sl_net_opts {
    int linger_ms;      /* how long closing waits to deliver queued frames; default 5000 */
    int hwm;            /* frames queued per socket direction; default 64 */
    size_t max_payload; /* largest frame payload sent or accepted; default 4 MiB */
    size_t batch_bytes; /* a DATA frame is sealed at this payload size; default 64 KiB */
    uint64_t flush_us;  /* ... or when its first record has waited this long; default 1000 */
    int heartbeat_ms;   /* ZMQ_HEARTBEAT_IVL; timeout and TTL are 3x; default 1000 */
    int liveness_ms;    /* a peer silent this long is dead (leases); default 6000 */
    int curve;          /* 1: CURVE on every socket with the key pair below */
    char curve_public[41], curve_secret[41]; /* Z85 text of the cluster's key pair */
} sl_net_opts;

void sl_net_opts_defaults(sl_net_opts *o);

/* Applies `o` to ZeroMQ socket `sock`; `connecting` adds ZMQ_IMMEDIATE and makes it a CURVE
 * client (a CURVE server otherwise) when o->curve. Returns 0, or SL_EIO with errno set by the
 * failing zmq_setsockopt. Thread of the socket. */
int sl_net_configure(void *sock, const sl_net_opts *o, int connecting);

/* Reads the next event of a socket monitor (the PAIR connected to zmq_socket_monitor's
 * endpoint) without waiting, and its endpoint part. Returns the event id, or 0 when none is
 * waiting. Thread of the monitor. */
unsigned sl_net_monitor_next(void *mon);

/* Microseconds on the monotonic clock. Any thread. */
uint64_t sl_net_now_us(void);

#endif
