#include <stdio.h>
#include <stdlib.h>

#include "partmap.h"

struct sl_partmap {
    uint32_t nparts;
    uint32_t nnodes;
    uint32_t nlive;
    uint32_t *node;  /* [nparts]: the node of each partition */
    uint32_t *owned; /* [nnodes]: partitions held by each node */
    uint32_t *live;  /* [nnodes], first nlive used: nodes with owned > 0, ascending */
};

/* Rebuilds the live list from owned[]. It depends only on which nodes hold partitions, never on
 * the order of earlier moves, so every copy of a map in the same state has the same list (the PKG
 * candidates read it). */
static void rebuild_live(sl_partmap *map)
{
    map->nlive = 0;
    for (uint32_t n = 0; n < map->nnodes; n++)
        if (map->owned[n] > 0)
            map->live[map->nlive++] = n;
}

int sl_partmap_new(uint32_t nparts, uint32_t nnodes, sl_partmap **out, char *msg, size_t msglen)
{
    *out = NULL;
    if (nparts == 0 || nparts > SL_PART_MAX_PARTS || nnodes == 0 || nnodes > SL_PART_MAX_NODES) {
        snprintf(msg, msglen, "a partition map has 1..%u partitions and 1..%u nodes, not %u and %u",
                 SL_PART_MAX_PARTS, SL_PART_MAX_NODES, nparts, nnodes);
        return SL_EINVAL;
    }
    sl_partmap *map = calloc(1, sizeof *map);
    if (map) {
        map->nparts = nparts;
        map->nnodes = nnodes;
        map->node = malloc(nparts * sizeof *map->node);
        map->owned = calloc(nnodes, sizeof *map->owned);
        map->live = malloc(nnodes * sizeof *map->live);
    }
    if (!map || !map->node || !map->owned || !map->live) {
        sl_partmap_destroy(&map);
        snprintf(msg, msglen, "out of memory for a map of %u partitions", nparts);
        return SL_ENOMEM;
    }
    for (uint32_t p = 0; p < nparts; p++) {
        map->node[p] = p % nnodes;
        map->owned[p % nnodes]++;
    }
    rebuild_live(map);
    *out = map;
    return 0;
}

void sl_partmap_destroy(sl_partmap **mp)
{
    sl_partmap *map = *mp;
    if (!map)
        return;
    free(map->node);
    free(map->owned);
    free(map->live);
    free(map);
    *mp = NULL;
}

int sl_partmap_assign(sl_partmap *map, uint32_t p, uint32_t node)
{
    if (p >= map->nparts || node >= map->nnodes)
        return SL_EINVAL;
    uint32_t old = map->node[p];
    if (old == node)
        return 0;
    map->node[p] = node;
    map->owned[old]--;
    map->owned[node]++;
    if (map->owned[old] == 0 || map->owned[node] == 1)
        rebuild_live(map);
    return 0;
}

uint32_t sl_partmap_nparts(const sl_partmap *map)
{
    return map->nparts;
}

uint32_t sl_partmap_nnodes(const sl_partmap *map)
{
    return map->nnodes;
}

uint32_t sl_partmap_node(const sl_partmap *map, uint32_t p)
{
    return p < map->nparts ? map->node[p] : SL_PART_NONE;
}

uint32_t sl_partmap_node_of_key(const sl_partmap *map, uint64_t key)
{
    return map->node[sl_part_of(key, map->nparts)];
}

uint32_t sl_partmap_owned(const sl_partmap *map, uint32_t node)
{
    return node < map->nnodes ? map->owned[node] : 0;
}

uint32_t sl_partmap_nlive(const sl_partmap *map)
{
    return map->nlive;
}

uint32_t sl_partmap_live(const sl_partmap *map, uint32_t i)
{
    return i < map->nlive ? map->live[i] : SL_PART_NONE;
}
