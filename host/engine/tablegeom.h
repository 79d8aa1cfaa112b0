/* The shape of an engine's device state table: how many hash regions (partitions), how many
 * table copies (chunked mode), and how many slots each region has for a PE's capacity. Pure
 * arithmetic, apart from the OpenCL work it sizes, so that it can be checked on its own
 * (tests/test_engine_parts.c). Any thread. */
#ifndef SL_TABLEGEOM_H
#define SL_TABLEGEOM_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_table_geom {
    uint32_t nparts;       /* hash regions: a power of two, <= 4096 */
    uint32_t pbits;        /* log2(nparts): a key's region is its top pbits bits */
    uint32_t copies;       /* chunked mode: table copies (one per work-item); 0 = grouped */
    uint32_t ncounters;    /* fill counters: nparts x max(copies, 1) */
    uint32_t nbounds;      /* work-items per batch: copies (chunked) or nparts (grouped) */
    uint32_t region_slots; /* slots per region: a power of two */
    uint32_t region_max;   /* inserts a region takes: 7/8 of its slots */
    uint64_t nslots;       /* slots in all: region_slots x nparts x max(copies, 1) */
} sl_table_geom;

/* Sizes a table for `capacity` keys over `parts` regions (a power of two up to 4096) and
 * `copies` table copies (0: grouped mode; chunked: 1..256). Each region gets room for its share
 * of the keys plus six standard deviations of hashing imbalance, at a load of at most 5/8, and
 * refuses inserts past 7/8 of its slots so that every probe ends at an empty slot. Returns 0,
 * SL_EINVAL (parts or copies out of range) or SL_ERANGE (capacity too large), with msg. */
int sl_table_geom_make(uint64_t capacity, uint32_t parts, uint32_t copies, sl_table_geom *g,
                       char *msg, size_t msglen);

#endif
