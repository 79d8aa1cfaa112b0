/* UTF-8 validation: see utf8.h. */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

#define HIGHS UINT64_C(0x8080808080808080)

/* Offset of the first byte >= 0x80 in s[0..n), or n. */
static size_t ascii_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & HIGHS)
            break;
    }
    while (i < n && s[i] < 0x80)
        i++;
    return i;
}

size_t sl_utf8_check(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = ascii_prefix(s, n);
    while (i < n) {
        unsigned char b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        /* The sequence length and the range of its second byte (the others are 80..BF). */
        size_t len;
        unsigned char lo = 0x80, hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) {
            len = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            len = 3;
            if (b == 0xE0)
                lo = 0xA0; /* overlong below */
            else if (b == 0xED)
                hi = 0x9F; /* surrogates above */
        } else if (b >= 0xF0 && b <= 0xF4) {
            len = 4;
            if (b == 0xF0)
                lo = 0x90; /* overlong below */
            else if (b == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return i; /* a continuation byte, C0, C1 or F5..FF */
        }
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += len;
    }
    return n;
}
