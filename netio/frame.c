/* Frame encoding and checking; see frame.h. */
#include "frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "lebytes.h"

/* Header bytes 0..39 seed the payload's hash. */
static uint64_t checksum(const unsigned char *hdr, const void *payload, uint64_t len)
{
    uint64_t seed = XXH3_64bits(hdr, 40);
    return XXH3_64bits_withSeed(payload, (size_t)len, seed);
}

int sl_frame_kind_valid(unsigned kind)
{
    if (kind > UINT16_MAX)
        return 0;
    return kind == SL_FRAME_DATA || kind == SL_FRAME_EOS || kind == SL_FRAME_ACK ||
           sl_frame_app_kind(kind);
}

const char *sl_frame_verdict_name(int v)
{
    static const char *const names[SL_FRAME_NVERDICTS] = {
        "ok",         "truncated header", "bad magic",  "unknown version", "unknown kind",
        "bad length", "oversized",        "bad schema", "bad checksum",
    };
    return v >= 0 && v < SL_FRAME_NVERDICTS ? names[v] : "unknown verdict";
}

void sl_frame_encode(const sl_frame_hdr *h, const void *payload, unsigned char *out)
{
    sl_le_put(out, SL_FRAME_MAGIC, 4);
    sl_le_put(out + 4, h->version ? h->version : SL_FRAME_VERSION, 2);
    sl_le_put(out + 6, h->kind, 2);
    sl_le_put(out + 8, h->schema, 4);
    sl_le_put(out + 12, h->source, 4);
    sl_le_put(out + 16, h->stream, 4);
    sl_le_put(out + 20, h->count, 4);
    sl_le_put(out + 24, h->seq, 8);
    sl_le_put(out + 32, h->payload_len, 8);
    sl_le_put(out + 40, checksum(out, payload, h->payload_len), 8);
}

int sl_frame_check(const void *msg, size_t len, size_t max_payload, sl_frame_recsize_fn recsize,
                   sl_frame_hdr *h)
{
    const unsigned char *p = msg;
    memset(h, 0, sizeof *h);
    if (len < SL_FRAME_HDR)
        return SL_FRAME_SHORT;
    if (sl_le_get(p, 4) != SL_FRAME_MAGIC)
        return SL_FRAME_BADMAGIC;
    h->version = (uint16_t)sl_le_get(p + 4, 2);
    h->kind = (uint16_t)sl_le_get(p + 6, 2);
    h->schema = (uint32_t)sl_le_get(p + 8, 4);
    h->source = (uint32_t)sl_le_get(p + 12, 4);
    h->stream = (uint32_t)sl_le_get(p + 16, 4);
    h->count = (uint32_t)sl_le_get(p + 20, 4);
    h->seq = sl_le_get(p + 24, 8);
    h->payload_len = sl_le_get(p + 32, 8);
    h->checksum = sl_le_get(p + 40, 8);
    if (h->version != SL_FRAME_VERSION)
        return SL_FRAME_BADVER;
    if (!sl_frame_kind_valid(h->kind))
        return SL_FRAME_BADKIND;
    if (h->payload_len > max_payload)
        return SL_FRAME_OVERSIZED;
    if (h->payload_len != len - SL_FRAME_HDR)
        return SL_FRAME_LENGTH;
    if (h->kind == SL_FRAME_DATA) {
        size_t rs = recsize ? recsize(h->schema) : 0;
        if (rs == 0 || (uint64_t)h->count * rs != h->payload_len)
            return SL_FRAME_SCHEMA;
    }
    if (checksum(p, p + SL_FRAME_HDR, h->payload_len) != h->checksum)
        return SL_FRAME_CHECKSUM;
    return SL_FRAME_OK;
}

size_t sl_ack_encode(const sl_ack *a, size_t n, unsigned char *out)
{
    if (n > SL_ACK_MAX)
        n = SL_ACK_MAX;
    sl_le_put(out, n, 4);
    for (size_t i = 0; i < n; i++) {
        sl_le_put(out + 4 + i * SL_ACK_BYTES, a[i].stream, 4);
        sl_le_put(out + 8 + i * SL_ACK_BYTES, a[i].next, 8);
    }
    return 4 + n * SL_ACK_BYTES;
}

long sl_ack_decode(const void *p, size_t len, sl_ack *out)
{
    const unsigned char *b = p;
    if (len < 4)
        return SL_EPARSE;
    uint32_t n = (uint32_t)sl_le_get(b, 4);
    if (n > SL_ACK_MAX || len != 4 + (size_t)n * SL_ACK_BYTES)
        return SL_EPARSE;
    for (uint32_t i = 0; i < n; i++) {
        out[i].source = 0;
        out[i].stream = (uint32_t)sl_le_get(b + 4 + (size_t)i * SL_ACK_BYTES, 4);
        out[i].next = sl_le_get(b + 8 + (size_t)i * SL_ACK_BYTES, 8);
    }
    return (long)n;
}

/* A few dozen (source, stream) pairs in use (the callers admit only the streams of their jobs),
 * never more than SL_SEQTRACK_MAX: a linear array beats a hash table here. */
struct seq_entry {
    uint32_t source, stream;
    uint64_t next, acked;
};

struct sl_seqtrack {
    struct seq_entry *e;
    size_t n, cap;
};

int sl_seqtrack_new(sl_seqtrack **out, char *msg, size_t msglen)
{
    *out = calloc(1, sizeof(sl_seqtrack));
    if (*out)
        return 0;
    snprintf(msg, msglen, "out of memory for a sequence tracker");
    return SL_ENOMEM;
}

void sl_seqtrack_destroy(sl_seqtrack **tp)
{
    if (!tp || !*tp)
        return;
    free((*tp)->e);
    free(*tp);
    *tp = NULL;
}

int64_t sl_seqtrack_check(sl_seqtrack *t, uint32_t source, uint32_t stream, uint64_t seq)
{
    struct seq_entry *x = NULL;
    for (size_t i = 0; i < t->n; i++) {
        if (t->e[i].source == source && t->e[i].stream == stream) {
            x = &t->e[i];
            break;
        }
    }
    uint64_t next = x ? x->next : 0;
    if (seq < next || seq == UINT64_MAX) /* the last number would wrap the stream to 0 */
        return -1;
    if (seq > next) {
        uint64_t missing = seq - next;
        return missing > INT64_MAX ? INT64_MAX : (int64_t)missing;
    }
    if (!x) {
        if (t->n == SL_SEQTRACK_MAX)
            return -3;
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 16;
            struct seq_entry *e = realloc(t->e, cap * sizeof *e);
            if (!e)
                return -2;
            t->e = e;
            t->cap = cap;
        }
        x = &t->e[t->n++];
        *x = (struct seq_entry){.source = source, .stream = stream};
    }
    x->next = seq + 1;
    return 0;
}

size_t sl_seqtrack_take_acks(sl_seqtrack *t, sl_ack *out, size_t max, int all)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n && k < max; i++) {
        struct seq_entry *x = &t->e[i];
        if (x->next == x->acked && !all)
            continue;
        out[k++] = (sl_ack){.source = x->source, .stream = x->stream, .next = x->next};
        x->acked = x->next;
    }
    return k;
}

size_t sl_seqtrack_count(const sl_seqtrack *t)
{
    return t->n;
}

void sl_seqtrack_forget(sl_seqtrack *t, uint32_t mask, uint32_t value)
{
    size_t j = 0;
    for (size_t i = 0; i < t->n; i++)
        if ((t->e[i].stream & mask) != (value & mask))
            t->e[j++] = t->e[i];
    t->n = j;
}
