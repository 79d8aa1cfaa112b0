/* A plain ZeroMQ PUSH socket for result streams leaving sluice (the zmq sink of host/io): its
 * own context, one connecting PUSH socket, blocking sends.
 *
 * Sends never drop: a full queue (a consumer that cannot keep up) blocks the sender for as long
 * as it takes, which slows the job. The one wait that has a limit is the wait for a consumer at
 * all: while no peer is connected (ZMQ_IMMEDIATE: nothing is queued to a peer that is not
 * there), a send gives up after `peer_timeout_ms` with errno ETIMEDOUT. A peer that goes away
 * starts that clock again.
 *
 * Plain frames, no sluice framing, no CURVE: the consumer is any PULL socket. Errors are -1 with
 * errno, as elsewhere in netio. One thread. */
#ifndef SL_PUSH_H
#define SL_PUSH_H

#include <stddef.h>

typedef struct sl_push sl_push;

/* Connects a PUSH socket to `endpoint` ("tcp://host:port", "ipc://path"), queueing at most `hwm`
 * messages (0: ZeroMQ's default of 1000). Returns the socket, or NULL with errno (EINVAL for a
 * malformed endpoint). */
sl_push *sl_push_connect(const char *endpoint, int hwm, int peer_timeout_ms);

/* Sends one message of len bytes, blocking as described above. Returns 0, or -1 with errno:
 * ETIMEDOUT when no peer was connected for peer_timeout_ms, or ZeroMQ's error. */
int sl_push_send(sl_push *p, const void *data, size_t len);

/* Messages sent so far, and the peer connections seen. */
unsigned long long sl_push_sent(const sl_push *p);
unsigned sl_push_connects(const sl_push *p);

/* Closes the socket, waiting at most linger_ms for queued messages to reach the peer, and the
 * context; clears *pp. */
void sl_push_close(sl_push **pp, int linger_ms);

#endif
