/* Partition map: keys -> partitions -> nodes.
 *
 * A key (a 64-bit XXH3 hash from keyhash.h) belongs to one of `nparts` partitions (a fixed
 * number, many more than nodes); each partition lives on one node. Moving a partition to another
 * node moves exactly that partition's keys.
 *
 * sl_part_of mixes all 64 bits of the key before reducing it: the device engine on each node picks
 * a table region from the key's top bits (sl_key_partition) and a slot from its low bits, so the
 * keys a node receives must be spread evenly over both (docs/partitioner.md).
 *
 * Partition numbers decide placement on every node and must never change for a key: the pinned
 * vectors in tests/test_partitioner.c catch any change. libc and base/err.h only; no OpenCL, no
 * ZeroMQ. */
#ifndef SL_PARTMAP_H
#define SL_PARTMAP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h" /* the error codes: 0 or a negative sl_err (base/err.h) */

#define SL_PART_MAX_PARTS 65536u /* largest nparts of a map */
#define SL_PART_MAX_NODES 65536u /* largest nnodes of a map */
#define SL_PART_DEFAULT 256u     /* default nparts */
#define SL_PART_NONE UINT32_MAX  /* "no node": answer for a partition out of range */

/* Returns a bijective mix of all 64 bits of x, in which every input bit flips each output bit with
 * probability close to 1/2: xor-shift, multiply by an odd constant, xor-shift, multiply by a second
 * odd constant, xor-shift (the structure and constants of MurmurHash3's 64-bit finaliser, which
 * were chosen for that avalanche property). Any thread. */
static inline uint64_t sl_part_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

/* Returns the partition of `key` among `nparts`, in 0..nparts-1 (0 when nparts is 0).
 * The key's 64 bits go through a bijective mixer (sl_part_mix) and the mixed value's top 32 bits h
 * are reduced as floor(h * nparts / 2^32). Any nparts up to 2^32 - 1 works; maps use
 * 1..SL_PART_MAX_PARTS. Because of the multiply-high reduction, sl_part_of(k, 2n) / 2 ==
 * sl_part_of(k, n): doubling nparts splits every partition in two. Any thread. */
static inline uint32_t sl_part_of(uint64_t key, uint32_t nparts)
{
    return (uint32_t)(((sl_part_mix(key) >> 32) * nparts) >> 32);
}

typedef struct sl_partmap sl_partmap;

/* Makes a map of nparts partitions (1..SL_PART_MAX_PARTS) over nnodes nodes
 * (1..SL_PART_MAX_NODES), partition p on node p % nnodes. Returns 0 with the map in *out (the
 * caller frees it with sl_partmap_destroy), or SL_EINVAL (a count out of range) or SL_ENOMEM with
 * *out NULL and the reason in msg. */
int sl_partmap_new(uint32_t nparts, uint32_t nnodes, sl_partmap **out, char *msg, size_t msglen);

/* Frees *mp (NULL allowed) and sets *mp to NULL. */
void sl_partmap_destroy(sl_partmap **mp);

/* Threads: every function below except sl_partmap_assign only reads the map, and any number of
 * threads may call them at once. sl_partmap_assign must not run concurrently with any other call
 * on the same map: the owner holds a lock or publishes a new map. */

/* Moves partition p to `node`. Returns 0 (also when p is already there), or SL_EINVAL for
 * p >= nparts or node >= nnodes, leaving the map unchanged. O(1), or O(nnodes) when a node gains
 * its first partition or loses its last. */
int sl_partmap_assign(sl_partmap *map, uint32_t p, uint32_t node);

uint32_t sl_partmap_nparts(const sl_partmap *map);
uint32_t sl_partmap_nnodes(const sl_partmap *map);

/* Returns the node of partition p, or SL_PART_NONE for p >= nparts. */
uint32_t sl_partmap_node(const sl_partmap *map, uint32_t p);

/* Returns the node of `key`: sl_partmap_node(map, sl_part_of(key, nparts)). */
uint32_t sl_partmap_node_of_key(const sl_partmap *map, uint64_t key);

/* Returns how many partitions `node` holds (0 for node >= nnodes). */
uint32_t sl_partmap_owned(const sl_partmap *map, uint32_t node);

/* Live nodes are those that hold at least one partition. sl_partmap_nlive returns their number
 * (1..min(nparts, nnodes)); sl_partmap_live returns the i-th in ascending node order, or
 * SL_PART_NONE for i >= nlive. */
uint32_t sl_partmap_nlive(const sl_partmap *map);
uint32_t sl_partmap_live(const sl_partmap *map, uint32_t i);

#endif
