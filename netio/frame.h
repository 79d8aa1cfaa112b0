/* The wire format between nodes: one ZeroMQ message = one frame = a 48-byte header and a payload
 * of fixed-width records (or, for control frames, opaque bytes).
 *
 * Header, little-endian, in this order:
 *   magic u32 ("SLF1")  version u16  kind u16  schema u32  source u32  stream u32  count u32
 *   seq u64  payload_len u64  checksum u64
 * The checksum is XXH3-64 of the payload, seeded with XXH3-64 of the first 40 header bytes, so a
 * flipped bit anywhere in the frame is caught. Every length is checked before it is used: a
 * frame is accepted only when its size, magic, version, kind, schema, record count and checksum
 * all agree and the payload is within the receiver's maximum.
 *
 * Kinds: the kind field's top bit, SL_FRAME_TRACKED, says whether a frame is tracked; the other
 * 15 bits are its number. netio interprets only its own kinds, numbers below SL_FRAME_APP: DATA
 * (records of a schema), EOS (end of a stream) and ACK (acknowledgements). Numbers SL_FRAME_APP
 * to SL_FRAME_APP_MAX are the application's (host/cluster/proto.h): netio checks, delivers and
 * resends them as their flag says, and never reads their payloads.
 *
 * Tracked frames (the flag set: DATA, EOS, and the application's tracked kinds) carry sequence
 * numbers that run per (source, stream) from 0; the receiver delivers them in order, exactly
 * once: sl_seqtrack tells the expected frame from one ahead of it (a frame was lost before it:
 * dropped, the sender resends from the first unacknowledged frame) and from a duplicate (a number
 * already seen). The receiver acknowledges cumulatively with ACK frames (sl_ack_encode); the
 * sender keeps every tracked frame until it is acknowledged (outbox.h). Untracked frames (ACK and
 * the application's untracked kinds) carry sequence number 0, are idempotent and may be lost:
 * they are repeated, not resent.
 *
 * No ZeroMQ here and no host types: any thread, no shared state. Errors are 0 or a negative
 * sl_err (base/err.h), as everywhere in sluice. */
#ifndef SL_FRAME_H
#define SL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SL_FRAME_MAGIC UINT32_C(0x31464c53) /* bytes 'S' 'L' 'F' '1' */
#define SL_FRAME_VERSION 3 /* 3: kinds carry SL_FRAME_TRACKED; application kinds from 16 */
#define SL_FRAME_HDR 48

#define SL_FRAME_TRACKED 0x8000u /* kind flag: sequence-numbered, acknowledged, resent */
#define SL_FRAME_APP 16          /* the first application kind number */
#define SL_FRAME_APP_MAX 0x7fff  /* the last */

/* Application kind number n (0 .. SL_FRAME_APP_MAX - SL_FRAME_APP), tracked or not. */
#define SL_FRAME_APP_KIND(n, tracked) (((tracked) ? SL_FRAME_TRACKED : 0u) | (SL_FRAME_APP + (n)))

/* netio's own kinds. */
enum sl_frame_kind {
    SL_FRAME_DATA = SL_FRAME_TRACKED | 1, /* count records of the schema's size */
    SL_FRAME_EOS = SL_FRAME_TRACKED | 2,  /* end of `stream` from `source`: no more DATA there */
    SL_FRAME_ACK = 3,                     /* acknowledgements: sl_ack entries (sl_ack_encode) */
};

/* 1 when frames of `kind` are sequence-numbered, acknowledged and resent (SL_FRAME_TRACKED). */
static inline int sl_frame_tracked(unsigned kind)
{
    return (kind & SL_FRAME_TRACKED) != 0;
}

/* 1 for one of netio's kinds, or an application kind with either flag; 0 for anything else
 * (number 0, a number of netio's it does not define, DATA or EOS untracked, ACK tracked). */
int sl_frame_kind_valid(unsigned kind);

/* 1 for an application kind (whose sender's address the inbox gives, inbox.h). */
static inline int sl_frame_app_kind(unsigned kind)
{
    return (kind & ~SL_FRAME_TRACKED) >= SL_FRAME_APP &&
           (kind & ~SL_FRAME_TRACKED) <= SL_FRAME_APP_MAX;
}

typedef struct sl_frame_hdr {
    uint16_t version;
    uint16_t kind;
    uint32_t schema;
    uint32_t source;
    uint32_t stream;
    uint32_t count;
    uint64_t seq;
    uint64_t payload_len;
    uint64_t checksum;
} sl_frame_hdr;

/* Why a frame was rejected. SL_FRAME_OK is 0; the others index statistics arrays. */
enum sl_frame_verdict {
    SL_FRAME_OK = 0,
    SL_FRAME_SHORT,     /* shorter than a header: truncated or garbage */
    SL_FRAME_BADMAGIC,  /* not a sluice frame */
    SL_FRAME_BADVER,    /* another wire version */
    SL_FRAME_BADKIND,   /* unknown kind */
    SL_FRAME_LENGTH,    /* payload_len disagrees with the message size: truncated or padded */
    SL_FRAME_OVERSIZED, /* payload over the receiver's maximum */
    SL_FRAME_SCHEMA,    /* DATA of an unknown schema, or count * record size != payload_len */
    SL_FRAME_CHECKSUM,  /* checksum mismatch */
    SL_FRAME_NVERDICTS
};

/* Returns a short name for verdict v ("truncated", "bad checksum", ...). */
const char *sl_frame_verdict_name(int v);

/* Writes the header for `h` (its checksum field is ignored) into out[SL_FRAME_HDR], computing
 * the checksum over the header and the payload_len bytes at `payload`. */
void sl_frame_encode(const sl_frame_hdr *h, const void *payload, unsigned char *out);

/* Record size of a DATA frame's schema, 0 for an unknown schema. */
typedef size_t (*sl_frame_recsize_fn)(uint32_t schema);

/* Checks the `len` bytes at `msg` as a frame whose payload may be at most `max_payload`
 * bytes, and fills *h (as far as it could be read). Returns a verdict; on SL_FRAME_OK the
 * payload is msg + SL_FRAME_HDR. Reads no byte past len. */
int sl_frame_check(const void *msg, size_t len, size_t max_payload, sl_frame_recsize_fn recsize,
                   sl_frame_hdr *h);

/* One acknowledgement: every frame of `stream` with a sequence number below `next` arrived. In
 * sl_seqtrack_take_acks, `source` names the sender it is owed to; on the wire it is implied by
 * the ACK frame's destination. */
typedef struct sl_ack {
    uint32_t source;
    uint32_t stream;
    uint64_t next;
} sl_ack;

#define SL_ACK_BYTES 12 /* per entry on the wire: stream u32, next u64 */
#define SL_ACK_MAX 256  /* entries per ACK frame */

/* Encodes n (<= SL_ACK_MAX) entries into out (4 + n * SL_ACK_BYTES bytes). Returns the length. */
size_t sl_ack_encode(const sl_ack *a, size_t n, unsigned char *out);

/* Decodes an ACK payload of len bytes into out (room for SL_ACK_MAX; source fields 0). Returns
 * the number of entries, or SL_EPARSE when the length and the count disagree or the count is
 * over SL_ACK_MAX. Reads no byte past len. */
long sl_ack_decode(const void *p, size_t len, sl_ack *out);

/* Sequence tracking per (source, stream), at most SL_SEQTRACK_MAX streams at once. */
typedef struct sl_seqtrack sl_seqtrack;

#define SL_SEQTRACK_MAX 1024

/* Makes an empty tracker. Returns 0 with it in *out, or SL_ENOMEM with *out NULL and msg set. */
int sl_seqtrack_new(sl_seqtrack **out, char *msg, size_t msglen);
void sl_seqtrack_destroy(sl_seqtrack **tp);

/* Checks `seq` against what (source, stream) expects next. Returns 0 when it is the expected
 * number (the stream then expects seq + 1); the number of frames missing before it (> 0) when
 * it is ahead: nothing is recorded, the caller drops the frame and waits for the sender to
 * resend; -1 for a number already seen (a duplicate or replay: the caller drops the frame);
 * -2 when out of memory, -3 when SL_SEQTRACK_MAX streams are tracked already (nothing
 * recorded in either case). */
int64_t sl_seqtrack_check(sl_seqtrack *t, uint32_t source, uint32_t stream, uint64_t seq);

/* Copies up to max streams whose expected number moved since they were last taken (every
 * stream when `all`) into out and marks them taken. Returns how many. */
size_t sl_seqtrack_take_acks(sl_seqtrack *t, sl_ack *out, size_t max, int all);

/* Number of streams tracked. */
size_t sl_seqtrack_count(const sl_seqtrack *t);

/* Forgets every stream whose id satisfies (stream & mask) == (value & mask). */
void sl_seqtrack_forget(sl_seqtrack *t, uint32_t mask, uint32_t value);

#endif
