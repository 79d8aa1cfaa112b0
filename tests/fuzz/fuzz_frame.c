/* libFuzzer harness: frame checking and sequence tracking (netio/frame.h).
 *
 * An input is a flags byte and a list of messages, each a 16-bit little-endian length and that
 * many bytes (the last one may be cut short). Flags: bit 0 repairs the checksum of a frame that
 * fails only on it (so that the fuzzer gets past the hash), bits 1-2 pick the largest payload
 * accepted (1 MiB, 64 bytes, 0, SIZE_MAX), bit 3 checks DATA frames without a record-size
 * function. Each message is checked from a buffer of exactly its size.
 *
 * Checks: the verdict is known and has a name; an accepted frame's header, encoded again with
 * sl_frame_encode from the decoded fields and its payload, is byte for byte the one received;
 * a repaired frame is accepted; sl_seqtrack_check agrees with a plain model of frame.h's rules
 * for every accepted frame (an EOS forgets the streams of its job, as a node does). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fuzz_check.h"
#include "job.h"

struct model_entry {
    uint32_t source, stream;
    uint64_t next;
};

struct model {
    struct model_entry *e;
    size_t n, cap;
};

/* sl_seqtrack_check as frame.h describes it: only the expected number is recorded; a number
 * ahead records nothing; at most SL_SEQTRACK_MAX streams. */
static int64_t model_check(struct model *m, uint32_t source, uint32_t stream, uint64_t seq)
{
    struct model_entry *x = NULL;
    for (size_t i = 0; i < m->n && !x; i++)
        if (m->e[i].source == source && m->e[i].stream == stream)
            x = &m->e[i];
    uint64_t next = x ? x->next : 0;
    if (seq < next || seq == UINT64_MAX)
        return -1;
    if (seq > next) {
        uint64_t missing = seq - next;
        return missing > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)missing;
    }
    if (!x) {
        if (m->n == SL_SEQTRACK_MAX)
            return -3;
        FUZZ_REQUIRE(m->n < m->cap);
        x = &m->e[m->n++];
        x->source = source;
        x->stream = stream;
    }
    x->next = seq + 1;
    return 0;
}

static void model_forget(struct model *m, uint32_t mask, uint32_t value)
{
    size_t j = 0;
    for (size_t i = 0; i < m->n; i++)
        if ((m->e[i].stream & mask) != (value & mask))
            m->e[j++] = m->e[i];
    m->n = j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t max_payloads[4] = {(size_t)1 << 20, 64, 0, SIZE_MAX};
    if (size < 1)
        return 0;
    const unsigned flags = data[0];
    const int repair = flags & 1;
    const size_t max_payload = max_payloads[(flags >> 1) & 3];
    sl_frame_recsize_fn recsize = (flags & 8) ? NULL : sl_payload_recsize;

    sl_seqtrack *t = NULL;
    char why[128];
    FUZZ_REQUIRE(sl_seqtrack_new(&t, why, sizeof why) == 0 && t);
    struct model m = {NULL, 0, size / (SL_FRAME_HDR + 2) + 1};
    m.e = malloc(m.cap * sizeof *m.e);
    FUZZ_REQUIRE(m.e);

    size_t off = 1;
    while (off + 2 <= size) {
        size_t len = (size_t)data[off] | ((size_t)data[off + 1] << 8);
        off += 2;
        if (len > size - off)
            len = size - off;
        unsigned char *msg = malloc(len ? len : 1);
        FUZZ_REQUIRE(msg);
        memcpy(msg, data + off, len);
        off += len;

        sl_frame_hdr h;
        int v = sl_frame_check(msg, len, max_payload, recsize, &h);
        FUZZ_REQUIRE(v >= 0 && v < SL_FRAME_NVERDICTS);
        FUZZ_REQUIRE(sl_frame_verdict_name(v) != NULL);
        unsigned char hdr[SL_FRAME_HDR];
        if (v == SL_FRAME_CHECKSUM && repair) {
            sl_frame_encode(&h, msg + SL_FRAME_HDR, hdr);
            memcpy(msg, hdr, SL_FRAME_HDR);
            v = sl_frame_check(msg, len, max_payload, recsize, &h);
            FUZZ_REQUIRE(v == SL_FRAME_OK);
        }
        if (v == SL_FRAME_OK) {
            FUZZ_REQUIRE(len >= SL_FRAME_HDR && h.payload_len == len - SL_FRAME_HDR);
            FUZZ_REQUIRE(h.payload_len <= max_payload);
            unsigned num = h.kind & ~SL_FRAME_TRACKED;
            FUZZ_REQUIRE(h.kind == SL_FRAME_DATA || h.kind == SL_FRAME_EOS ||
                         h.kind == SL_FRAME_ACK ||
                         (num >= SL_FRAME_APP && num <= SL_FRAME_APP_MAX));
            sl_frame_encode(&h, msg + SL_FRAME_HDR, hdr);
            FUZZ_REQUIRE(memcmp(hdr, msg, SL_FRAME_HDR) == 0);

            int64_t got = sl_seqtrack_check(t, h.source, h.stream, h.seq);
            FUZZ_REQUIRE(got == model_check(&m, h.source, h.stream, h.seq));
            if (h.kind == SL_FRAME_EOS) {
                sl_seqtrack_forget(t, 0xffffff00u, h.stream);
                model_forget(&m, 0xffffff00u, h.stream);
            }
        }
        free(msg);
    }

    sl_seqtrack_destroy(&t);
    FUZZ_REQUIRE(t == NULL);
    free(m.e);
    return 0;
}
