#include <stdlib.h>
#include <string.h>

#include "grouping.h"

static const char *const kind_names[SL_GROUP_NKINDS] = {
    [SL_GROUP_FIELDS] = "fields", [SL_GROUP_SHUFFLE] = "shuffle",
    [SL_GROUP_ALL] = "all",       [SL_GROUP_GLOBAL] = "global",
    [SL_GROUP_DIRECT] = "direct", [SL_GROUP_PARTIAL_KEY] = "partial_key",
};

int sl_grouping_kind_parse(const char *name, enum sl_grouping_kind *kind)
{
    if (!name)
        return SL_EINVAL;
    for (int k = 0; k < SL_GROUP_NKINDS; k++) {
        if (strcmp(name, kind_names[k]) == 0) {
            *kind = (enum sl_grouping_kind)k;
            return 0;
        }
    }
    return SL_EINVAL;
}

const char *sl_grouping_kind_name(enum sl_grouping_kind kind)
{
    return (unsigned)kind < SL_GROUP_NKINDS ? kind_names[kind] : NULL;
}

/* floor(x * n / 2^32) for a 32-bit x: maps x evenly onto 0..n-1. */
static uint32_t reduce32(uint64_t x, uint32_t n)
{
    return (uint32_t)(((x & UINT32_MAX) * n) >> 32);
}

void sl_pkg_candidates(const sl_partmap *map, uint64_t key, uint32_t *a, uint32_t *b)
{
    uint32_t nparts = sl_partmap_nparts(map);
    uint32_t first = sl_partmap_node(map, sl_part_of(key, nparts));
    /* The second hash: the same mixer over the salted key. Its top 32 bits pick a partition
     * exactly as sl_part_of does; its low 32 bits are left for the fallback below. */
    uint64_t h = sl_part_mix(key ^ SL_PKG_SALT);
    uint32_t second = sl_partmap_node(map, reduce32(h >> 32, nparts));
    uint32_t nlive = sl_partmap_nlive(map);
    if (second == first && nlive > 1) {
        /* j is uniform over 0..nlive-2; the live list is ascending and holds `first`, so taking
         * the j-th live node below `first` or the (j+1)-th at or above it is uniform over the
         * live nodes other than `first`. */
        uint32_t j = reduce32(h, nlive - 1);
        second = sl_partmap_live(map, j);
        if (second >= first)
            second = sl_partmap_live(map, j + 1);
    }
    *a = first;
    *b = second;
}

int sl_grouping_init(sl_grouping *g, enum sl_grouping_kind kind, const sl_partmap *map,
                     uint64_t seed)
{
    memset(g, 0, sizeof *g);
    if ((unsigned)kind >= SL_GROUP_NKINDS || !map)
        return SL_EINVAL;
    uint32_t nnodes = sl_partmap_nnodes(map);
    g->sent = calloc(nnodes, sizeof *g->sent);
    if (!g->sent)
        return SL_ENOMEM;
    g->kind = kind;
    g->map = map;
    g->nnodes = nnodes;
    g->next = sl_part_of(seed, nnodes);
    return 0;
}

void sl_grouping_fini(sl_grouping *g)
{
    free(g->sent);
    memset(g, 0, sizeof *g);
}

int sl_grouping_route(sl_grouping *g, uint64_t key, uint32_t direct_node, uint32_t *dests,
                      uint32_t maxdests)
{
    uint32_t dest;
    switch (g->kind) {
    case SL_GROUP_ALL:
        if (maxdests < g->nnodes)
            return SL_ERANGE;
        for (uint32_t n = 0; n < g->nnodes; n++) {
            dests[n] = n;
            g->sent[n]++;
        }
        return (int)g->nnodes;
    case SL_GROUP_FIELDS:
        dest = sl_partmap_node_of_key(g->map, key);
        break;
    case SL_GROUP_SHUFFLE:
        dest = g->next;
        break;
    case SL_GROUP_GLOBAL:
        dest = 0;
        break;
    case SL_GROUP_DIRECT:
        if (direct_node >= g->nnodes)
            return SL_EINVAL;
        dest = direct_node;
        break;
    case SL_GROUP_PARTIAL_KEY: {
        uint32_t a, b;
        sl_pkg_candidates(g->map, key, &a, &b);
        dest = g->sent[b] < g->sent[a] ? b : a;
        break;
    }
    default:
        return SL_EINVAL;
    }
    if (maxdests < 1)
        return SL_ERANGE;
    if (g->kind == SL_GROUP_SHUFFLE)
        g->next = g->next + 1 == g->nnodes ? 0 : g->next + 1;
    dests[0] = dest;
    g->sent[dest]++;
    return 1;
}

uint64_t sl_grouping_sent(const sl_grouping *g, uint32_t node)
{
    return node < g->nnodes ? g->sent[node] : 0;
}
