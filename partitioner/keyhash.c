#define XXH_INLINE_ALL
#include <xxhash.h>

#include "keyhash.h"

uint64_t sl_key_hash(const void *data, size_t len)
{
    uint64_t h = XXH3_64bits_withSeed(data, len, SL_KEY_SEED);
    return h == 0 || h == UINT64_MAX ? SL_KEY_ZERO_ALIAS : h;
}
