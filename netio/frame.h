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
 * Sequence numbers run per (source, stream) from 0; sl_seqtrack tells an expected frame from a
 * gap (frames lost before it) and a duplicate or replay (a number already seen).
 *
 * No ZeroMQ here and no host types: any thread, no shared state. */
#ifndef SL_FRAME_H
#define SL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define SL_FRAME_MAGIC UINT32_C(0x31464c53) /* bytes 'S' 'L' 'F' '1' */
#define SL_FRAME_VERSION 1
#define SL_FRAME_HDR 48

enum sl_frame_kind {
    SL_FRAME_DATA = 1,  /* count records of the schema's size */
    SL_FRAME_EOS = 2,   /* end of `stream` from `source`: no more DATA with this stream */
    SL_FRAME_JOB = 3,   /* a job description (opaque bytes for netio) */
    SL_FRAME_HELLO = 4, /* a peer announcing itself (opaque bytes) */
    SL_FRAME_ABORT = 5, /* a job failed; payload is a message */
    SL_FRAME_DONE = 6   /* a node finished a job; payload is its statistics (opaque) */
};
#define SL_FRAME_KIND_MAX 6

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

/* Sequence tracking per (source, stream). */
typedef struct sl_seqtrack sl_seqtrack;

sl_seqtrack *sl_seqtrack_new(void);
void sl_seqtrack_destroy(sl_seqtrack **tp);

/* Checks `seq` against what (source, stream) expects next. Returns 0 when it is the expected
 * number; the number of frames skipped (> 0) for a gap, after which the stream expects
 * seq + 1; -1 for a number already seen (a duplicate or replay: the caller rejects the frame);
 * -2 when out of memory (nothing recorded). */
int64_t sl_seqtrack_check(sl_seqtrack *t, uint32_t source, uint32_t stream, uint64_t seq);

/* Forgets every stream whose id satisfies (stream & mask) == (value & mask). */
void sl_seqtrack_forget(sl_seqtrack *t, uint32_t mask, uint32_t value);

#endif
