/* Outbound frames to one peer: a PUSH socket connected to one endpoint, batching per
 * destination, sequence numbers per stream, and delivery that survives a dropped connection.
 *
 * Delivery: every tracked frame (frame.h: SL_FRAME_TRACKED in its kind) stays here after
 * ZeroMQ took it, until the receiver acknowledges it (sl_outbox_ack, from the receiver's ACK
 * frames). A connection ZeroMQ drops (a heartbeat timeout while the peer was paused, a TCP
 * reset) loses whatever was in flight on it; when the connection is made again (a socket
 * monitor sees the handshake), every unacknowledged frame is sent again, in order, and the
 * receiver drops the copies it already had. So nothing is lost while both ends live; what a
 * dead peer never acknowledged is the caller's to handle (leases, host/cluster/node.c).
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

/* Connects a PUSH socket in ZeroMQ context `zctx` to `endpoint`, as node `source`. Returns 0
 * with the outbox in *out, or with *out NULL and the reason in msg: SL_EIO (the socket cannot be
 * made or the endpoint is invalid), SL_ENOMEM. */
int sl_outbox_new(void *zctx, const char *endpoint, uint32_t source, const sl_net_opts *o,
                  sl_outbox **out, char *msg, size_t msglen);

/* Closes the socket (ZeroMQ still tries to deliver what it was handed, for linger_ms) and frees
 * what is queued. Sets *op to NULL. */
void sl_outbox_destroy(sl_outbox **op);

/* The same, dropping at once what ZeroMQ still holds (no linger): for peers that are gone or
 * frames that no longer matter. */
void sl_outbox_close_now(sl_outbox **op);

/* Appends n records of `recsize` bytes for (stream, schema). Returns 0, SL_EINVAL (recsize 0 or
 * over max_payload) or SL_ENOMEM (frames sealed before the failure stay queued, the rest is not
 * appended). */
int sl_outbox_put(sl_outbox *ob, uint32_t stream, uint32_t schema, size_t recsize, const void *recs,
                  size_t n);

/* Seals the open frame, then queues a control frame of `kind` (EOS, ACK or an application kind,
 * frame.h) and `len` bytes for `stream`; a tracked kind takes the stream's next sequence number,
 * an untracked one number 0 (receivers do not track them: any number of clients may ping).
 * Returns 0, SL_ERANGE (len over max_payload), SL_EINVAL (DATA or an unknown kind) or
 * SL_ENOMEM. */
int sl_outbox_control(sl_outbox *ob, unsigned kind, uint32_t stream, const void *payload,
                      size_t len);

/* Seals the open frame if there is one. Returns 0 or SL_ENOMEM. */
int sl_outbox_flush(sl_outbox *ob);

/* Seals the open frame when its first record was put at least flush_us ago. Returns 0 or
 * SL_ENOMEM. */
int sl_outbox_tick(sl_outbox *ob, uint64_t now_us);

/* Hands queued frames to ZeroMQ until it would block. Returns 0, or SL_EIO on a socket error
 * (errno). */
int sl_outbox_pump(sl_outbox *ob);

/* Pumps, polling the socket, until ZeroMQ has every queued frame (acknowledged or not) or
 * `timeout_ms` passed (-1: no limit). Returns 0 when the queue is empty, 1 on timeout, SL_EIO or
 * SL_ENOMEM on error. */
int sl_outbox_drain(sl_outbox *ob, int timeout_ms);

/* Bytes open, sealed and not yet handed to ZeroMQ, or handed and not yet acknowledged: what
 * the caller bounds for back-pressure. */
size_t sl_outbox_queued_bytes(const sl_outbox *ob);

/* Frames sealed and not yet handed to ZeroMQ (the socket is worth polling for ZMQ_POLLOUT). */
size_t sl_outbox_queued_frames(const sl_outbox *ob);

/* Frames handed to ZeroMQ and not yet acknowledged. */
size_t sl_outbox_unacked_frames(const sl_outbox *ob);

/* The receiver has every frame of `stream` numbered below `next`: frees them. */
void sl_outbox_ack(sl_outbox *ob, uint32_t stream, uint64_t next);

/* Drops every frame, open, queued or unacknowledged, of the streams with
 * (stream & mask) == (value & mask), and forgets their sequence numbers (a cancelled job). */
void sl_outbox_forget(sl_outbox *ob, uint32_t mask, uint32_t value);

/* Sends an untracked frame (ACK, an untracked application kind) at once, bypassing the queue,
 * when nothing is queued and ZeroMQ takes it without blocking. Returns 0 when sent, 1 when not
 * (no connection, or the peer is slow: such frames are repeated by their senders), or SL_EINVAL
 * (a tracked or unknown kind), SL_ERANGE (len over max_payload), SL_ENOMEM, SL_EIO (errno). */
int sl_outbox_send_now(sl_outbox *ob, unsigned kind, uint32_t stream, const void *payload,
                       size_t len);

/* The ZeroMQ socket, for zmq_poll (ZMQ_POLLOUT). */
void *sl_outbox_socket(const sl_outbox *ob);

typedef struct sl_outbox_stats {
    uint64_t frames;      /* handed to ZeroMQ */
    uint64_t bytes;       /* frame bytes handed to ZeroMQ, headers included */
    uint64_t records;     /* DATA records sealed */
    uint64_t blocked;     /* pumps that stopped because the peer's queue was full */
    uint64_t blocked_us;  /* microseconds frames waited behind a full peer queue: from the pump
                             that found it full to the next send that got through (a lost
                             connection ends the spell) */
    uint64_t connects;    /* handshakes completed (the first one included) */
    uint64_t disconnects; /* connections lost */
    uint64_t resent;      /* frames sent again after a reconnect */
    uint64_t auth_failed; /* handshakes the peer refused (wrong key, not CURVE) */
} sl_outbox_stats;

void sl_outbox_get_stats(const sl_outbox *ob, sl_outbox_stats *st);

#endif
