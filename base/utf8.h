/* UTF-8 validation of ids read from input (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF). */
#ifndef SL_UTF8_H
#define SL_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Returns the offset of the first byte of s[0..n) that does not belong to a valid UTF-8
 * sequence (for a sequence cut short, its first byte), or n when all of it is valid. ASCII-only
 * text costs one pass of 8-byte words. Any thread. */
size_t sl_utf8_check(const char *s, size_t n);

/* Whether s[0..n) is all ASCII (no byte >= 0x80): the hot path's test before sl_utf8_check.
 * Whole words are ORed together (the last one overlapping the one before): no branch per
 * byte. */
static inline int sl_utf8_is_ascii(const char *s, size_t n)
{
#ifdef __SSE2__
    if (n >= 16) {
        __m128i acc = _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16));
        for (size_t i = 0; i + 16 < n; i += 16)
            acc = _mm_or_si128(acc, _mm_loadu_si128((const __m128i *)(const void *)(s + i)));
        return _mm_movemask_epi8(acc) == 0;
    }
#endif
    uint64_t acc = 0, w;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&w, s + i, 8);
            acc |= w;
        }
        memcpy(&w, s + n - 8, 8);
        acc |= w;
    } else {
        for (size_t i = 0; i < n; i++)
            acc |= (unsigned char)s[i];
    }
    return (acc & UINT64_C(0x8080808080808080)) == 0;
}

#endif
