/* Outbound frames to one peer: a PUSH socket connected to one endpoint, batching per
 * destination, and sequence numbers per stream.
 *
 * Records put for a (stream, schema) accumulate in one open frame, which is sealed when its
 * payload reaches batch_bytes, when sl_outbox_tick finds its first record older than flush_us
 * (the latency bound, about 1 ms by default), when another stream or a control frame is put,
 * or on sl_outbox_flush. Sealed frames wait in a queue until sl_outbox_pump hands them to
 * ZeroMQ without blocking. Nothing is dropped: when the peer is slow the queue grows, and the
 * caller reads sl_outbox_queued_bytes to stop taking input (back-pressure) while it polls
 * sl_outbox_socket for ZMQ_POLLOUT.
 *
 * One thread owns an outbox. */
#ifndef SL_OUTBOX_H
#define SL_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "sock.h"

typedef struct sl_outbox sl_outbox;

/* Connects a PUSH socket in ZeroMQ context `zctx` to `endpoint`, as node `source`. Returns
 * NULL with the reason in err when the socket cannot be made or the endpoint is invalid. */
sl_outbox *sl_outbox_new(void *zctx, const char *endpoint, uint32_t source, const sl_net_opts *o,
                         char *err, size_t errlen);

/* Closes the socket (ZeroMQ still tries to deliver what it was handed, for linger_ms) and frees
 * what is queued. Sets *op to NULL. */
void sl_outbox_destroy(sl_outbox **op);

/* Appends n records of `recsize` bytes for (stream, schema). Returns 0 or -1 (out of memory:
 * frames sealed before the failure stay queued, the rest is not appended). */
int sl_outbox_put(sl_outbox *ob, uint32_t stream, uint32_t schema, size_t recsize, const void *recs,
                  size_t n);

/* Seals the open frame, then queues a control frame (EOS, JOB, HELLO, ABORT, DONE) of `len`
 * bytes for `stream`. Returns 0 or -1 (out of memory; errno EMSGSIZE for len over max_payload,
 * EINVAL for DATA or an unknown kind). HELLO frames carry sequence number 0 and are not tracked
 * by receivers: any number of clients may ping. */
int sl_outbox_control(sl_outbox *ob, enum sl_frame_kind kind, uint32_t stream, const void *payload,
                      size_t len);

/* Seals the open frame if there is one. Returns 0 or -1 (out of memory). */
int sl_outbox_flush(sl_outbox *ob);

/* Seals the open frame when its first record was put at least flush_us ago. */
int sl_outbox_tick(sl_outbox *ob, uint64_t now_us);

/* Hands queued frames to ZeroMQ until it would block. Returns 0, or -1 on a socket error
 * (errno). */
int sl_outbox_pump(sl_outbox *ob);

/* Pumps, polling the socket, until nothing is queued or `timeout_ms` passed (-1: no limit).
 * Returns 0 when the queue is empty, 1 on timeout, -1 on error. */
int sl_outbox_drain(sl_outbox *ob, int timeout_ms);

/* Bytes sealed or open and not yet handed to ZeroMQ. */
size_t sl_outbox_queued_bytes(const sl_outbox *ob);

/* Frames sealed and not yet handed to ZeroMQ. */
size_t sl_outbox_queued_frames(const sl_outbox *ob);

/* The ZeroMQ socket, for zmq_poll (ZMQ_POLLOUT). */
void *sl_outbox_socket(const sl_outbox *ob);

typedef struct sl_outbox_stats {
    uint64_t frames;  /* handed to ZeroMQ */
    uint64_t bytes;   /* frame bytes handed to ZeroMQ, headers included */
    uint64_t records; /* DATA records sealed */
    uint64_t blocked; /* pumps that stopped because the peer's queue was full */
} sl_outbox_stats;

void sl_outbox_get_stats(const sl_outbox *ob, sl_outbox_stats *st);

#endif
