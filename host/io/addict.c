#include "addict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyhash.h"
#include "err.h"
#include "hugemem.h"
#include "lebytes.h"

/* A slot holds the id's first 16 bytes (zero-padded, see head_of) beside its key, so that a
 * lookup of an id of up to 16 bytes, the common case, reads one slot and never the arena: the
 * arena was a second cache miss per event. Slots are 32 bytes, two to a 64-byte line. */
struct entry {
    uint64_t key;     /* 0 = empty (sl_key_hash never returns 0) */
    uint64_t head[2]; /* the id's first 16 bytes, zero-padded (head_of) */
    uint32_t off;     /* into arena: the id's bytes */
    uint32_t len;
};

/* The arena holds the ids in the order they were recorded, each as a header (its key and
 * length, ARENA_HDR bytes, native order) followed by its bytes and a NUL: sl_addict_next walks
 * it from any earlier position. */
#define ARENA_HDR (sizeof(uint64_t) + sizeof(uint32_t))

struct sl_addict {
    struct entry *slots;
    size_t cap; /* power of two */
    size_t count;
    char *arena;
    size_t arena_len, arena_cap;
};

/* The table grows when it would be more than 3/4 full: with linear probing a hit reads 2.5
 * slots at worst on average, most often within one line. */
#define MAX_LOAD_NUM 3
#define MAX_LOAD_DEN 4

/* Slot arrays of 2 MiB and more are asked for in transparent huge pages (hugemem.h): every
 * growth writes a fresh array (a 100,000-id dictionary grows to 8 MiB: 2,048 page faults a
 * growth, against 4 in huge pages). */
static struct entry *new_slots(size_t cap)
{
    size_t bytes = cap * sizeof(struct entry);
    struct entry *s = sl_huge_alloc(bytes);
    if (s)
        memset(s, 0, bytes);
    return s;
}

sl_addict *sl_addict_new(void)
{
    sl_addict *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->cap = 1024;
    d->slots = new_slots(d->cap);
    if (!d->slots) {
        free(d);
        return NULL;
    }
    return d;
}

void sl_addict_destroy(sl_addict **dp)
{
    if (!dp || !*dp)
        return;
    sl_huge_free((*dp)->slots);
    free((*dp)->arena);
    free(*dp);
    *dp = NULL;
}

static size_t find(const struct entry *slots, size_t cap, uint64_t key)
{
    size_t i = (size_t)key & (cap - 1);
    while (slots[i].key != 0 && slots[i].key != key)
        i = (i + 1) & (cap - 1);
    return i;
}

static int grow(sl_addict *d)
{
    size_t ncap = d->cap * 2;
    struct entry *ns = new_slots(ncap);
    if (!ns)
        return SL_ENOMEM;
    for (size_t i = 0; i < d->cap; i++)
        if (d->slots[i].key != 0)
            ns[find(ns, ncap, d->slots[i].key)] = d->slots[i];
    sl_huge_free(d->slots);
    d->slots = ns;
    d->cap = ncap;
    return 0;
}

static uint64_t load_le(const char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

/* The id's first 16 bytes as two words, zero past its end: byte j of the id is byte j % 8 of
 * word j / 8 counting from the least significant. Ids of equal length are equal in their first
 * 16 bytes exactly when their heads are. On little-endian machines the words are read with
 * fixed-size, possibly overlapping loads inside the id (no call, no read past its end). */
static inline void head_of(const char *id, size_t len, uint64_t h[2])
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t a, b;
    uint32_t x, y;
    if (len >= 16) {
        memcpy(&a, id, 8);
        memcpy(&b, id + 8, 8);
    } else if (len > 8) {
        memcpy(&a, id, 8);
        memcpy(&b, id + len - 8, 8); /* its last 16 - len bytes are id[len - 8 .. 8) again */
        b >>= 8 * (16 - len);
    } else if (len >= 4) {
        memcpy(&x, id, 4);
        memcpy(&y, id + len - 4, 4); /* overlapping bytes are the same bytes: OR keeps them */
        a = (uint64_t)x | (uint64_t)y << (8 * (len - 4));
        b = 0;
    } else {
        a = load_le(id, len);
        b = 0;
    }
    h[0] = a;
    h[1] = b;
#else
    h[0] = load_le(id, len < 8 ? len : 8);
    h[1] = len > 8 ? load_le(id + 8, len < 16 ? len - 8 : 8) : 0;
#endif
}

uint64_t sl_addict_prefetch(const sl_addict *d, const char *id, size_t len)
{
    uint64_t k = sl_key_hash(id, len);
    __builtin_prefetch(&d->slots[(size_t)k & (d->cap - 1)]);
    return k;
}

int sl_addict_intern(sl_addict *d, const char *id, size_t len, uint64_t *key)
{
    if (len == 0 || len > SL_ADID_MAX)
        return SL_ERANGE; /* (before hashing what may be a long line) */
    return sl_addict_intern_key(d, id, len, sl_key_hash(id, len), key);
}

int sl_addict_intern_key(sl_addict *d, const char *id, size_t len, uint64_t k, uint64_t *key)
{
    if (len == 0 || len > SL_ADID_MAX)
        return SL_ERANGE;
    uint64_t h[2];
    head_of(id, len, h);
    size_t i = find(d->slots, d->cap, k);
    if (d->slots[i].key == k) {
        const struct entry *e = &d->slots[i];
        if (e->len != len || e->head[0] != h[0] || e->head[1] != h[1] ||
            (len > 16 && memcmp(d->arena + e->off + 16, id + 16, len - 16) != 0))
            return SL_ECOLLISION;
        *key = k;
        return 0;
    }
    size_t need = ARENA_HDR + len + 1;
    if (d->arena_len + need > UINT32_MAX)
        return SL_ENOMEM;
    if (d->arena_len + need > d->arena_cap) {
        size_t ncap = d->arena_cap ? d->arena_cap * 2 : 65536;
        while (ncap < d->arena_len + need)
            ncap *= 2;
        char *na = realloc(d->arena, ncap);
        if (!na)
            return SL_ENOMEM;
        d->arena = na;
        d->arena_cap = ncap;
    }
    if ((d->count + 1) * MAX_LOAD_DEN > d->cap * MAX_LOAD_NUM) {
        int rc = grow(d);
        if (rc)
            return rc;
        i = find(d->slots, d->cap, k);
    }
    char *at = d->arena + d->arena_len;
    uint32_t len32 = (uint32_t)len;
    memcpy(at, &k, sizeof k);
    memcpy(at + sizeof k, &len32, sizeof len32);
    memcpy(at + ARENA_HDR, id, len);
    at[ARENA_HDR + len] = '\0';
    d->slots[i] = (struct entry){k, {h[0], h[1]}, (uint32_t)(d->arena_len + ARENA_HDR), len32};
    d->arena_len += need;
    d->count++;
    *key = k;
    return 0;
}

const char *sl_addict_get(const sl_addict *d, uint64_t key, size_t *len)
{
    if (key == 0)
        return NULL;
    const struct entry *e = &d->slots[find(d->slots, d->cap, key)];
    if (e->key != key)
        return NULL;
    if (len)
        *len = e->len;
    return d->arena + e->off;
}

size_t sl_addict_count(const sl_addict *d)
{
    return d->count;
}

int sl_addict_next(const sl_addict *d, size_t *cursor, uint64_t *key, const char **id, size_t *len)
{
    if (*cursor + ARENA_HDR > d->arena_len)
        return 0;
    const char *at = d->arena + *cursor;
    uint32_t len32;
    memcpy(key, at, sizeof *key);
    memcpy(&len32, at + sizeof *key, sizeof len32);
    *id = at + ARENA_HDR;
    *len = len32;
    *cursor += ARENA_HDR + len32 + 1;
    return 1;
}

int sl_addict_entry_put(unsigned char *buf, size_t cap, size_t *at, uint64_t key, const char *id,
                        size_t len)
{
    if (len > SL_ADID_MAX || *at + 12 + len > cap)
        return 0;
    sl_le_put(buf + *at, key, 8);
    sl_le_put(buf + *at + 8, len, 4);
    memcpy(buf + *at + 12, id, len);
    *at += 12 + len;
    return 1;
}

int sl_addict_entry_get(const unsigned char *p, size_t len, size_t *at, uint64_t *key,
                        const char **id, size_t *idlen)
{
    if (*at == len)
        return 0;
    if (*at > len || len - *at < 12)
        return -1;
    uint64_t l = sl_le_get(p + *at + 8, 4);
    if (l == 0 || l > SL_ADID_MAX || len - *at - 12 < l)
        return -1;
    *key = sl_le_get(p + *at, 8);
    *id = (const char *)p + *at + 12;
    *idlen = (size_t)l;
    *at += 12 + (size_t)l;
    return 1;
}

int sl_addict_image(const sl_addict *d, unsigned char **out, size_t *len)
{
    size_t cap = 65536, at = 0, cursor = 0, idlen;
    uint64_t key;
    const char *id;
    unsigned char *p = malloc(cap);
    if (!p)
        return SL_ENOMEM;
    while (sl_addict_next(d, &cursor, &key, &id, &idlen)) {
        while (!sl_addict_entry_put(p, cap, &at, key, id, idlen)) {
            unsigned char *np = realloc(p, cap *= 2);
            if (!np) {
                free(p);
                return SL_ENOMEM;
            }
            p = np;
        }
    }
    *out = p;
    *len = at;
    return 0;
}

int sl_addict_load_image(sl_addict *d, const unsigned char *p, size_t len, char *msg, size_t msglen)
{
    size_t at = 0, idlen;
    uint64_t key, k;
    const char *id;
    int r;
    while ((r = sl_addict_entry_get(p, len, &at, &key, &id, &idlen)) == 1) {
        int rc = sl_addict_intern(d, id, idlen, &k);
        if (rc || k != key) {
            snprintf(msg, msglen, "the ids do not hash to their keys");
            return rc ? rc : SL_EPARSE;
        }
    }
    if (r < 0) {
        snprintf(msg, msglen, "the ids are cut short");
        return SL_EPARSE;
    }
    return 0;
}
