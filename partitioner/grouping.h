/* Stream groupings (Storm's): which node(s) a record goes to.
 *
 *   fields       the key's node in the partition map (sl_partmap_node_of_key)
 *   shuffle      round-robin over all nodes from a seeded start: after any number of records no
 *                node has received more than one record more than another
 *   all          every node, once each (broadcast)
 *   global       node 0, the lowest node id
 *   direct       the node the caller names; one out of range is an error, never redirected
 *   partial_key  PKG (Nasir et al., "The power of both choices", ICDE 2015): each key has two
 *                candidate nodes (sl_pkg_candidates); a record goes to the candidate this router
 *                has sent fewer records so far (local load estimation), the first on a tie. A
 *                key's state is then split over its two candidates, and a downstream step merges
 *                the two partial results.
 *
 * A router owns one sl_grouping per outgoing stream. libc and base/err.h only; no OpenCL, no
 * ZeroMQ. */
#ifndef SL_GROUPING_H
#define SL_GROUPING_H

#include <stdint.h>

#include "partmap.h"

enum sl_grouping_kind {
    SL_GROUP_FIELDS,
    SL_GROUP_SHUFFLE,
    SL_GROUP_ALL,
    SL_GROUP_GLOBAL,
    SL_GROUP_DIRECT,
    SL_GROUP_PARTIAL_KEY,
};
#define SL_GROUP_NKINDS 6

/* Salt of PKG's second hash: ASCII "sl-pkg-2". Part of placement: never change it. */
#define SL_PKG_SALT UINT64_C(0x736c2d706b672d32)

/* Sets *kind from its name: "fields", "shuffle", "all", "global", "direct" or "partial_key"
 * (exactly, lower case). Returns 0, or SL_EINVAL (leaving *kind unchanged) for any other
 * string or NULL. Any thread. */
int sl_grouping_kind_parse(const char *name, enum sl_grouping_kind *kind);

/* Returns the static name of `kind`, as sl_grouping_kind_parse reads it, or NULL for a value that
 * is no kind. Any thread. */
const char *sl_grouping_kind_name(enum sl_grouping_kind kind);

/* Writes the two PKG candidates of `key` to *a and *b.
 * *a is the fields node, sl_partmap_node_of_key(map, key). *b is the node of the partition that
 * the second, independent hash sl_part_mix(key ^ SL_PKG_SALT) picks; when that is *a, it is instead
 * one of the other live nodes (sl_partmap_live), chosen uniformly by further bits of the same hash.
 * So *b != *a whenever two or more nodes hold partitions (always for a new map with nparts and
 * nnodes both >= 2), both candidates hold partitions, and, under an even map, *b is uniform over
 * the nodes other than *a. The candidates depend only on the key and the map's current state.
 * Reads the map: any thread, as for sl_partmap_node. */
void sl_pkg_candidates(const sl_partmap *map, uint64_t key, uint32_t *a, uint32_t *b);

/* One router's grouping for one stream. The fields are private: use the functions. */
typedef struct sl_grouping {
    enum sl_grouping_kind kind;
    const sl_partmap *map; /* not owned; must outlive the grouping */
    uint32_t nnodes;
    uint32_t next;  /* shuffle: the next node */
    uint64_t *sent; /* [nnodes]: records sent to each node by this grouping */
} sl_grouping;

/* Sets up *g for `kind` over `map`'s nodes. `seed` picks shuffle's first node (sl_part_of(seed,
 * nnodes)), so that routers seeded differently do not start on the same node; other kinds ignore
 * it. Returns 0, or SL_EINVAL (kind out of range, map NULL) or SL_ENOMEM; on failure *g
 * holds nothing and sl_grouping_fini on it is harmless. The caller frees with sl_grouping_fini.
 * A grouping belongs to one thread (the router's); it reads the map on every route, so the map's
 * sl_partmap_assign must not run concurrently with that thread's sl_grouping_route. */
int sl_grouping_init(sl_grouping *g, enum sl_grouping_kind kind, const sl_partmap *map,
                     uint64_t seed);

/* Frees what sl_grouping_init allocated and clears *g. Calling it twice is harmless. */
void sl_grouping_fini(sl_grouping *g);

/* Routes one record of `key`: writes its destination nodes to dests[0..n) and returns n (1, or
 * nnodes for SL_GROUP_ALL), counting each destination as sent. direct_node is read only by
 * SL_GROUP_DIRECT. Returns SL_EINVAL for direct_node >= nnodes with SL_GROUP_DIRECT, or
 * SL_ERANGE when maxdests < n; an error writes nothing and changes no state.
 * Allocates nothing. */
int sl_grouping_route(sl_grouping *g, uint64_t key, uint32_t direct_node, uint32_t *dests,
                      uint32_t maxdests);

/* Returns how many records this grouping has sent to `node` (0 for node >= nnodes). */
uint64_t sl_grouping_sent(const sl_grouping *g, uint32_t node);

#endif
