/* Socket settings; see sock.h. */
#include "sock.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

void sl_net_opts_defaults(sl_net_opts *o)
{
    o->linger_ms = 5000;
    o->hwm = 64;
    o->max_payload = (size_t)4 << 20;
    o->batch_bytes = (size_t)64 << 10;
    o->flush_us = 1000;
    o->heartbeat_ms = 1000;
    o->liveness_ms = 6000;
    o->curve = 0;
    o->curve_public[0] = o->curve_secret[0] = '\0';
}

static int seti(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof v);
}

static int configure(void *sock, const sl_net_opts *o, int connecting)
{
    int64_t maxmsg = (int64_t)o->max_payload * 2 + 48;
    if (seti(sock, ZMQ_LINGER, o->linger_ms) || seti(sock, ZMQ_SNDHWM, o->hwm) ||
        seti(sock, ZMQ_RCVHWM, o->hwm) ||
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) ||
        seti(sock, ZMQ_HEARTBEAT_IVL, o->heartbeat_ms) ||
        seti(sock, ZMQ_HEARTBEAT_TIMEOUT, o->heartbeat_ms * 3) ||
        seti(sock, ZMQ_HEARTBEAT_TTL, o->heartbeat_ms * 3))
        return -1;
    if (connecting && seti(sock, ZMQ_IMMEDIATE, 1))
        return -1;
    if (!o->curve)
        return 0;
    if (connecting)
        return zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, o->curve_public, 40) ||
                       zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, o->curve_public, 40) ||
                       zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, o->curve_secret, 40)
                   ? -1
                   : 0;
    return seti(sock, ZMQ_CURVE_SERVER, 1) ||
                   zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, o->curve_secret, 40) ||
                   zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "sluice", 6)
               ? -1
               : 0;
}

int sl_net_configure(void *sock, const sl_net_opts *o, int connecting)
{
    if (configure(sock, o, connecting) == 0)
        return 0;
    errno = zmq_errno();
    return SL_EIO;
}

unsigned sl_net_monitor_next(void *mon)
{
    zmq_msg_t ev;
    zmq_msg_init(&ev);
    if (zmq_msg_recv(&ev, mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&ev);
        return 0;
    }
    uint16_t id = 0;
    if (zmq_msg_size(&ev) >= 2)
        memcpy(&id, zmq_msg_data(&ev), 2);
    int more = zmq_msg_more(&ev);
    zmq_msg_close(&ev);
    while (more) { /* the endpoint part */
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, mon, 0) < 0) {
            zmq_msg_close(&part);
            break;
        }
        more = zmq_msg_more(&part);
        zmq_msg_close(&part);
    }
    return id;
}

uint64_t sl_net_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
