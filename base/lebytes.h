/* Little-endian fixed-width integers in byte buffers, the byte order of every sluice wire
 * format (netio/frame.c, host/cluster/job.c). Any thread. */
#ifndef SL_LEBYTES_H
#define SL_LEBYTES_H

#include <stdint.h>

/* Writes the low `n` bytes (1..8) of v at p, least significant first. */
static inline void sl_le_put(unsigned char *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Reads an `n`-byte (1..8) little-endian unsigned integer at p. */
static inline uint64_t sl_le_get(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

#endif
