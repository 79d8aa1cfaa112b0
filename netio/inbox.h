/* Inbound frames: a PULL socket bound to one endpoint, every frame checked (frame.h) and, for
 * tracked kinds, its sequence number checked per (source, stream) before the caller sees it, so
 * that the caller gets each stream's frames in order and exactly once.
 *
 * Rejected frames (truncated, garbage, oversized, bad checksum) are counted by reason, reported
 * to the reject callback, and never reach the caller. A frame ahead of its stream's next number
 * (one was lost before it, as when a transport timeout dropped a connection) is dropped and
 * counted: the sender resends from its first unacknowledged frame. Duplicates are dropped and
 * counted. The admit callback is asked before a stream is tracked, so that frames of streams the
 * caller does not know (another job, a stranger's) cost no state. sl_inbox_take_acks gives the
 * acknowledgements owed to senders. A socket monitor counts connections ZeroMQ dropped, which
 * includes peers that sent a message over ZMQ_MAXMSGSIZE and peers that failed the ZMTP or CURVE
 * handshake (a client that is not ZeroMQ, or holds no key of the cluster).
 *
 * One thread owns an inbox. */
#ifndef SL_INBOX_H
#define SL_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "sock.h"

typedef struct sl_inbox sl_inbox;

typedef struct sl_frame {
    sl_frame_hdr h;
    const unsigned char *payload; /* h.payload_len bytes, valid until the next sl_inbox_recv */
    const char *peer; /* application kinds: the sender's IP address ("" when unknown); else NULL */
} sl_frame;

typedef struct sl_inbox_stats {
    uint64_t frames;                       /* delivered */
    uint64_t bytes;                        /* delivered, headers included */
    uint64_t rejected[SL_FRAME_NVERDICTS]; /* by verdict; [SL_FRAME_OK] unused */
    uint64_t duplicates;                   /* dropped: sequence number already seen */
    uint64_t gaps;                         /* dropped: ahead of the stream (waits for a resend) */
    uint64_t stale;                        /* dropped: the admit callback did not know the stream */
    uint64_t overflow;                     /* dropped: SL_SEQTRACK_MAX streams tracked already */
    uint64_t accepted;                     /* connections accepted */
    uint64_t disconnected;                 /* connections closed (by peers or by ZeroMQ) */
    uint64_t handshake_failed;             /* connections that failed the ZMTP handshake */
} sl_inbox_stats;

/* Called for each rejected frame (verdict is an sl_frame_verdict, or -1 for a duplicate, -2 for
 * a frame ahead of its stream (detail: how many are missing before it), -3 for a stream over
 * SL_SEQTRACK_MAX; h as far as it was read, len the message size). Not called for frames the
 * admit callback refused. */
typedef void (*sl_inbox_reject_fn)(void *ud, int verdict, const sl_frame_hdr *h, size_t len,
                                   int64_t detail);

/* Asked for each valid tracked frame before its sequence number is looked at: nonzero admits
 * it; 0 drops it as stale (counted, no state kept). Default: admit all. */
typedef int (*sl_inbox_admit_fn)(void *ud, const sl_frame_hdr *h);

/* Binds a PULL socket in context `zctx` to `endpoint` ("tcp://127.0.0.1:7500"). Returns 0 with
 * the inbox in *out, or with *out NULL and the reason in msg: SL_ECONFLICT (the address is in
 * use), SL_EIO (a bad endpoint, another socket error), SL_ENOMEM. */
int sl_inbox_new(void *zctx, const char *endpoint, const sl_net_opts *o,
                 sl_frame_recsize_fn recsize, sl_inbox **out, char *msg, size_t msglen);

void sl_inbox_destroy(sl_inbox **ip);

void sl_inbox_on_reject(sl_inbox *ib, sl_inbox_reject_fn fn, void *ud);
void sl_inbox_on_admit(sl_inbox *ib, sl_inbox_admit_fn fn, void *ud);

/* Acknowledgements owed: up to max (source, stream, next) entries whose next number moved since
 * they were last taken (every tracked stream when `all`: a periodic refresh makes up for ACK
 * frames that were lost). The caller sends each to its source (an ACK frame). Returns how many. */
size_t sl_inbox_take_acks(sl_inbox *ib, sl_ack *out, size_t max, int all);

/* Receives the next valid frame without blocking. Returns 1 with *f filled, 0 when no frame is
 * waiting, SL_EIO on a socket error (errno), SL_ENOMEM when a stream cannot be tracked. */
int sl_inbox_recv(sl_inbox *ib, sl_frame *f);

/* The endpoint the socket is bound to, with the port the system chose for "tcp://host:*", in
 * buf. Returns 0 or SL_EIO (errno). */
int sl_inbox_endpoint(const sl_inbox *ib, char *buf, size_t len);

/* The ZeroMQ socket, for zmq_poll (ZMQ_POLLIN). */
void *sl_inbox_socket(const sl_inbox *ib);

/* Forgets sequence state of streams with (stream & mask) == (value & mask) (a finished job). */
void sl_inbox_forget(sl_inbox *ib, uint32_t mask, uint32_t value);

/* Reads pending monitor events into the statistics. */
void sl_inbox_poll_monitor(sl_inbox *ib);

void sl_inbox_get_stats(const sl_inbox *ib, sl_inbox_stats *st);

#endif
