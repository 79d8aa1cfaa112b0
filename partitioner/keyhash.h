/* Key hashing: every node must agree on this function forever, since it decides placement.
 *
 * A key is XXH3-64 of the key attribute's bytes with the fixed seed SL_KEY_SEED. State tables
 * reserve 0 (an empty slot) and 2^64 - 1 (a deleted one), so a hash of either is replaced by
 * SL_KEY_ZERO_ALIAS; test vectors in tests/test_keyhash.c catch any change. No OpenCL and no
 * ZeroMQ here. */
#ifndef SL_KEYHASH_H
#define SL_KEYHASH_H

#include <stddef.h>
#include <stdint.h>

#define SL_KEY_SEED UINT64_C(0x736c75696365) /* "sluice" */
#define SL_KEY_ZERO_ALIAS UINT64_C(0x9e3779b97f4a7c15)

/* Returns the 64-bit key of `len` bytes at `data` (never 0 nor 2^64 - 1). Any thread. */
uint64_t sl_key_hash(const void *data, size_t len);

/* Returns the partition of `key` among 2^bits partitions: its top `bits` bits (bits in 0..16).
 * Slot indices inside a partition use the low bits, so the two are independent. */
static inline uint32_t sl_key_partition(uint64_t key, unsigned bits)
{
    return bits == 0 ? 0 : (uint32_t)(key >> (64 - bits));
}

#endif
