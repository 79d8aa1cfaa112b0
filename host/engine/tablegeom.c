/* The state table's shape; see tablegeom.h. */
#include "tablegeom.h"

#include <math.h>
#include <stdio.h>

#include "err.h"

/* The smallest power of two >= v, or 0 when it does not fit in 32 bits. */
static uint32_t next_pow2(uint64_t v)
{
    uint64_t p = 1;
    while (p < v)
        p <<= 1;
    return p > UINT32_MAX ? 0 : (uint32_t)p;
}

int sl_table_geom_make(uint64_t capacity, uint32_t parts, uint32_t copies, sl_table_geom *g,
                       char *msg, size_t msglen)
{
    if (parts == 0 || parts > 4096 || (parts & (parts - 1)) != 0) {
        snprintf(msg, msglen, "partitions must be a power of two up to 4096, got %u", parts);
        return SL_EINVAL;
    }
    if (copies > 256) {
        snprintf(msg, msglen, "copies must be 1..256, got %u", copies);
        return SL_EINVAL;
    }
    if (capacity == 0) {
        snprintf(msg, msglen, "pe.capacity must be positive");
        return SL_EINVAL;
    }
    sl_table_geom t = {.nparts = parts, .copies = copies};
    while ((1u << t.pbits) < parts)
        t.pbits++;
    t.ncounters = parts * (copies ? copies : 1);
    t.nbounds = copies ? copies : parts;
    uint64_t per = (capacity + parts - 1) / parts;
    uint64_t need = per + (uint64_t)(6.0 * sqrt((double)per)) + 16;
    t.region_slots = need > (UINT64_C(1) << 40) ? 0 : next_pow2(need * 8 / 5);
    if (t.region_slots == 0 || t.region_slots > (1u << 30)) {
        snprintf(msg, msglen, "pe.capacity %llu is too large", (unsigned long long)capacity);
        return SL_ERANGE;
    }
    t.region_max = t.region_slots - t.region_slots / 8;
    t.nslots = (uint64_t)t.region_slots * parts * (copies ? copies : 1);
    *g = t;
    return 0;
}
