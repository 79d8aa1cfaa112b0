/* Inbound frames: a PULL socket bound to one endpoint, every frame checked (frame.h) and its
 * sequence number tracked per (source, stream) before the caller sees it.
 *
 * Rejected frames (truncated, garbage, oversized, bad checksum, duplicates) are counted by
 * reason, reported to the reject callback, and never reach the caller; a gap in a stream's
 * sequence numbers (frames lost before the one received) is counted and reported, and the
 * frame itself is delivered. A socket monitor counts connections ZeroMQ dropped, which includes
 * peers that sent a message over ZMQ_MAXMSGSIZE and peers that failed the ZMTP handshake (a
 * client that is not ZeroMQ).
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
} sl_frame;

typedef struct sl_inbox_stats {
    uint64_t frames;                       /* delivered */
    uint64_t bytes;                        /* delivered, headers included */
    uint64_t rejected[SL_FRAME_NVERDICTS]; /* by verdict; [SL_FRAME_OK] unused */
    uint64_t duplicates;                   /* rejected: sequence number already seen */
    uint64_t gaps;                         /* frames missing before a delivered frame */
    uint64_t accepted;                     /* connections accepted */
    uint64_t disconnected;                 /* connections closed (by peers or by ZeroMQ) */
    uint64_t handshake_failed;             /* connections that failed the ZMTP handshake */
} sl_inbox_stats;

/* Called for each rejected frame (verdict is an sl_frame_verdict, or -1 for a duplicate and
 * -2 for a gap, with h as far as it was read and len the message size). */
typedef void (*sl_inbox_reject_fn)(void *ud, int verdict, const sl_frame_hdr *h, size_t len,
                                   int64_t detail);

/* Binds a PULL socket in context `zctx` to `endpoint` ("tcp://127.0.0.1:7500"). Returns NULL
 * with the reason in err (address in use, bad endpoint) and errno set (EADDRINUSE, ...). */
sl_inbox *sl_inbox_new(void *zctx, const char *endpoint, const sl_net_opts *o,
                       sl_frame_recsize_fn recsize, char *err, size_t errlen);

void sl_inbox_destroy(sl_inbox **ip);

void sl_inbox_on_reject(sl_inbox *ib, sl_inbox_reject_fn fn, void *ud);

/* Receives the next valid frame without blocking. Returns 1 with *f filled, 0 when no frame is
 * waiting, -1 on a socket error (errno). */
int sl_inbox_recv(sl_inbox *ib, sl_frame *f);

/* The ZeroMQ socket, for zmq_poll (ZMQ_POLLIN). */
void *sl_inbox_socket(const sl_inbox *ib);

/* Forgets sequence state of streams with (stream & mask) == (value & mask) (a finished job). */
void sl_inbox_forget(sl_inbox *ib, uint32_t mask, uint32_t value);

/* Reads pending monitor events into the statistics. */
void sl_inbox_poll_monitor(sl_inbox *ib);

void sl_inbox_get_stats(const sl_inbox *ib, sl_inbox_stats *st);

#endif
