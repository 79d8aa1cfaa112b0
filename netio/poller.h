/* One wait for many sockets and descriptors, as CZMQ's zpoller: callers add what they want to
 * hear from (inboxes to read, outboxes with frames to send, plain descriptors), wait, and ask
 * which are ready. So no code above netio calls ZeroMQ itself.
 *
 * The set is rebuilt every turn (sl_poller_clear, then adds): what a loop waits for changes
 * with its back-pressure. One thread owns a poller. */
#ifndef SL_POLLER_H
#define SL_POLLER_H

#include <stddef.h>

#include "inbox.h"
#include "outbox.h"
#include "sock.h"

typedef struct sl_poller sl_poller;

/* Makes a poller for at most cap items. Returns 0 with it in *out, or SL_ENOMEM with *out NULL
 * and msg set. */
int sl_poller_new(size_t cap, sl_poller **out, char *msg, size_t msglen);
void sl_poller_destroy(sl_poller **pp);

/* Empties the set. */
void sl_poller_clear(sl_poller *p);

/* Adds an item; returns its index for sl_poller_ready, or SL_ERANGE when the poller is full. */
int sl_poller_add_inbox(sl_poller *p, sl_inbox *ib);   /* ready: a frame may be read */
int sl_poller_add_outbox(sl_poller *p, sl_outbox *ob); /* ready: a frame may be sent */
int sl_poller_add_fd(sl_poller *p, int fd);            /* ready: readable */

/* Waits until an item is ready or timeout_ms passed (-1: no limit). Returns the number ready
 * (0 on timeout or when a signal interrupted the wait), or SL_EIO (errno). */
int sl_poller_wait(sl_poller *p, long timeout_ms);

/* 1 when item `index` was ready at the last wait. */
int sl_poller_ready(const sl_poller *p, int index);

/* A ZeroMQ context for the sockets of one process, with the ZAP handler its CURVE servers need
 * (auth.h) when o->curve. Returns 0 with it in *out, or with *out NULL and the reason in msg:
 * SL_EIO (no ZeroMQ context), or what sl_zap_new returned. Any thread; sockets made in it belong
 * to the thread that made them. */
typedef struct sl_netctx sl_netctx;
int sl_netctx_new(const sl_net_opts *o, sl_netctx **out, char *msg, size_t msglen);
/* The context to hand to sl_inbox_new and sl_outbox_new. */
void *sl_netctx_zmq(const sl_netctx *c);
/* Handshakes its ZAP handler refused. */
uint64_t sl_netctx_refused(const sl_netctx *c);
/* Stops the ZAP handler and ends the context (every socket must be closed). Sets *cp NULL. */
void sl_netctx_destroy(sl_netctx **cp);

/* Sleeps ms milliseconds (a poll of nothing). */
void sl_net_sleep_ms(long ms);

#endif
