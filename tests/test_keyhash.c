/* Tests of partitioner/keyhash.h: sl_key_hash is XXH3-64 with seed SL_KEY_SEED (0 remapped to
 * SL_KEY_ZERO_ALIAS), and sl_key_partition takes a key's top bits.
 *
 * Independence: the system libxxhash is first checked against the XXH3 test vectors published in
 * the xxHash repository (cli/xsum_sanity_check.c, XSUM_XXH3_testdata, over the buffer made by
 * XSUM_fillTestBuffer), so that "equal to libxxhash" below means "equal to XXH3". */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "keyhash.h"

#define PRIME32 UINT64_C(2654435761)
#define PRIME64 UINT64_C(11400714785074694797)

/* XSUM_fillTestBuffer from xxHash's cli/xsum_sanity_check.c: the sanity vectors' input. */
static void fill_test_buffer(uint8_t *buf, size_t len)
{
    uint64_t gen = PRIME32;
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(gen >> 56);
        gen *= PRIME64;
    }
}

/* XSUM_XXH3_testdata (XXH3_64bits, seeded) from xxHash's cli/xsum_sanity_check.c, one entry per
 * length class of the algorithm (beyond 240 bytes: whole blocks, a last stripe that overlaps the
 * one before, input ending at a stripe or block boundary): the hash with seed 0 and with seed
 * PRIME64. */
struct xxh3_vector {
    size_t len;
    uint64_t hash[2];
};

static const uint64_t xxh3_seeds[2] = {0, PRIME64};

static const struct xxh3_vector xxh3_vectors[] = {
    {0, {UINT64_C(0x2D06800538D394C2), UINT64_C(0xA8A6B918B2F0364A)}},    /* empty string */
    {1, {UINT64_C(0xC44BDFF4074EECDB), UINT64_C(0x032BE332DD766EF8)}},    /* 1 - 3 */
    {6, {UINT64_C(0x27B56A84CD2D7325), UINT64_C(0x84589C116AB59AB9)}},    /* 4 - 8 */
    {12, {UINT64_C(0xA713DAF0DFBB77E7), UINT64_C(0xE7303E1B2336DE0E)}},   /* 9 - 16 */
    {24, {UINT64_C(0xA3FE70BF9D3510EB), UINT64_C(0x850E80FC35BDD690)}},   /* 17 - 32 */
    {48, {UINT64_C(0x397DA259ECBA1F11), UINT64_C(0xADC2CBAA44ACC616)}},   /* 33 - 64 */
    {80, {UINT64_C(0xBCDEFBBB2C47C90A), UINT64_C(0xC6DD0CB699532E73)}},   /* 65 - 96 */
    {195, {UINT64_C(0xCD94217EE362EC3A), UINT64_C(0xBA68003D370CB3D9)}},  /* 129 - 240 */
    {403, {UINT64_C(0xCDEB804D65C6DEA4), UINT64_C(0x6259F6ECFD6443FD)}},  /* 1 block + overlap */
    {512, {UINT64_C(0x617E49599013CB6B), UINT64_C(0x3CE457DE14C27708)}},  /* 1 block, stripe end */
    {2048, {UINT64_C(0xDD59E2C3A5F038E0), UINT64_C(0x66F81670669ABABC)}}, /* 2 blocks, block end */
    {2240, {UINT64_C(0x6E73A90539CF2948), UINT64_C(0x757BA8487D1B5247)}}, /* 3 blocks, stripe end */
    {2367, {UINT64_C(0xCB37AEB9E5D361ED), UINT64_C(0xD2DB3415B942B42A)}}, /* 3 blocks + overlap */
};

#define NVEC (sizeof xxh3_vectors / sizeof xxh3_vectors[0])

Test(keyhash, libxxhash_matches_published_xxh3_vectors)
{
    uint8_t *buf = malloc(2367);
    cr_assert_not_null(buf);
    fill_test_buffer(buf, 2367);
    for (size_t i = 0; i < NVEC; i++) {
        const struct xxh3_vector *v = &xxh3_vectors[i];
        const uint8_t *in = v->len ? buf : NULL;
        for (int k = 0; k < 2; k++)
            cr_expect(eq(u64, XXH3_64bits_withSeed(in, v->len, xxh3_seeds[k]), v->hash[k]),
                      "XXH3_64bits_withSeed(len %zu, seed %#llx)", v->len,
                      (unsigned long long)xxh3_seeds[k]);
        cr_expect(eq(u64, XXH3_64bits(in, v->len), v->hash[0]), "XXH3_64bits(len %zu)", v->len);
    }
    free(buf);
}

/* The documented seed is the ASCII bytes of "sluice" read as a big-endian number. */
Test(keyhash, seed_spells_sluice)
{
    const char *word = "sluice";
    uint64_t want = 0;
    for (size_t i = 0; i < strlen(word); i++)
        want = want << 8 | (uint8_t)word[i];
    cr_assert(eq(u64, SL_KEY_SEED, want));
}

/* Lengths 0..300 go through every XXH3 length class (0, 1-3, 4-8, 9-16, 17-128, 129-240, and the
 * long-input loop above 240); each length is tried over two different byte patterns and at an
 * unaligned start. */
Test(keyhash, equals_xxh3_with_seed_for_lengths_0_to_300)
{
    enum { MAXLEN = 300 };
    uint8_t *buf = malloc(MAXLEN + 1);
    cr_assert_not_null(buf);
    for (int pattern = 0; pattern < 2; pattern++) {
        if (pattern == 0)
            fill_test_buffer(buf, MAXLEN + 1);
        else
            for (size_t i = 0; i <= MAXLEN; i++)
                buf[i] = (uint8_t)(i * 7 + 3);
        for (size_t len = 0; len <= MAXLEN; len++) {
            for (size_t off = 0; off <= 1 && off + len <= MAXLEN + 1; off++) {
                uint64_t want = XXH3_64bits_withSeed(buf + off, len, SL_KEY_SEED);
                if (want == 0)
                    want = SL_KEY_ZERO_ALIAS;
                uint64_t got = sl_key_hash(buf + off, len);
                cr_assert(eq(u64, got, want), "pattern %d, len %zu, offset %zu", pattern, len, off);
            }
        }
    }
    free(buf);
}

Test(keyhash, equals_xxh3_with_seed_for_ad_ids)
{
    char id[32];
    for (unsigned i = 0; i < 10000; i++) {
        int n = snprintf(id, sizeof id, "ad-%08u", i * 7919u);
        cr_assert(eq(int, n, 11));
        cr_assert(
            eq(u64, sl_key_hash(id, (size_t)n), XXH3_64bits_withSeed(id, (size_t)n, SL_KEY_SEED)),
            "id %s", id);
    }
}

/* The seed matters: the key is not unseeded XXH3 (that would be a different placement). */
Test(keyhash, seed_is_applied)
{
    const char *id = "ad-00000000";
    cr_assert(ne(u64, sl_key_hash(id, strlen(id)), XXH3_64bits(id, strlen(id))));
    cr_assert(ne(u64, sl_key_hash("", 0), UINT64_C(0x2D06800538D394C2)));
}

struct pin {
    const char *s;
    size_t len;
    uint64_t key;
};

/* 200 bytes: "abcdefghijklmnopqrstuvwxyz" repeated, cut at 200. */
#define ALPHA26 "abcdefghijklmnopqrstuvwxyz"
static const char pin_200[] =
    ALPHA26 ALPHA26 ALPHA26 ALPHA26 ALPHA26 ALPHA26 ALPHA26 "abcdefghijklmnopqr";
_Static_assert(sizeof pin_200 - 1 == 200, "pin_200 is 200 bytes");

/* These pin the placement function forever: if this test fails, the hash changed, and every
 * cluster's placement of every key (and every key stored in a state table) would change with it.
 * Do not update these values; revert the change to sl_key_hash instead.
 * They are a contract, not an independent check: computed once with sl_key_hash itself by a
 * throwaway program printing it for each string (2026-11-21, libxxhash 0.8.1, x86-64). */
static const struct pin pins[] = {
    {"ad-00000000", 11, UINT64_C(0x5DD58C191FD76BE2)},
    {"", 0, UINT64_C(0x8E5FA73862F1D995)},
    {"sluice", 6, UINT64_C(0xFB4FEE7D7BA70772)},
    {"ad-99999999", 11, UINT64_C(0x3209C7F5316A69F6)},
    {"a", 1, UINT64_C(0x890A1F0F56EE4798)},
    {"campaign/42:creative-7", 22, UINT64_C(0xB3DD32F14884B0F8)},
    {"0123456789abcdef", 16, UINT64_C(0x763E5BA1FD0CC671)},
    {pin_200, 200, UINT64_C(0x4906345A8D95DCBC)},
};

Test(keyhash, pinned_vectors)
{
    for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++) {
        cr_assert(eq(sz, strlen(pins[i].s), pins[i].len));
        cr_expect(eq(u64, sl_key_hash(pins[i].s, pins[i].len), pins[i].key),
                  "pinned key of \"%.20s\" (len %zu) changed: placement would change", pins[i].s,
                  pins[i].len);
    }
}

/* 0 and 2^64 - 1 mark empty and deleted table slots; no input reaching them is known, so this
 * checks a million inputs and that the alias itself is neither. */
Test(keyhash, never_a_reserved_value)
{
    char id[32];
    for (unsigned i = 0; i < 1000000; i++) {
        int n = snprintf(id, sizeof id, "k%u", i);
        uint64_t k = sl_key_hash(id, (size_t)n);
        if (k == 0 || k == UINT64_MAX)
            cr_assert(ne(u64, k, k), "sl_key_hash(\"%s\") is reserved: %016llx", id,
                      (unsigned long long)k);
    }
    cr_assert(ne(u64, SL_KEY_ZERO_ALIAS, 0));
    cr_assert(ne(u64, SL_KEY_ZERO_ALIAS, UINT64_MAX));
}

Test(keyhash, partition_known_answers)
{
    const uint64_t k = UINT64_C(0xFEDCBA9876543210);
    cr_assert(eq(u32, sl_key_partition(k, 0), 0));
    cr_assert(eq(u32, sl_key_partition(k, 1), 1));      /* top bit of 0xF... */
    cr_assert(eq(u32, sl_key_partition(k, 4), 0xF));    /* top nibble */
    cr_assert(eq(u32, sl_key_partition(k, 8), 0xFE));   /* top byte */
    cr_assert(eq(u32, sl_key_partition(k, 12), 0xFED)); /* top 3 nibbles */
    cr_assert(eq(u32, sl_key_partition(k, 16), 0xFEDC));
    cr_assert(eq(u32, sl_key_partition(UINT64_C(0x7FFFFFFFFFFFFFFF), 1), 0));
    cr_assert(eq(u32, sl_key_partition(UINT64_C(0x8000000000000000), 1), 1));
    cr_assert(eq(u32, sl_key_partition(UINT64_MAX, 16), 0xFFFF));
    cr_assert(eq(u32, sl_key_partition(UINT64_C(0x0000FFFFFFFFFFFF), 16), 0));
    cr_assert(eq(u32, sl_key_partition(UINT64_C(0x0001000000000000), 16), 1));
    cr_assert(eq(u32, sl_key_partition(UINT64_MAX, 0), 0));
}

/* For every bits in 1..16 the partition is floor(key / 2^(64 - bits)), below 2^bits. */
Test(keyhash, partition_is_division_by_power_of_two)
{
    for (unsigned i = 0; i < 2000; i++) {
        uint64_t key = sl_key_hash(&i, sizeof i);
        for (unsigned bits = 1; bits <= 16; bits++) {
            uint64_t div = UINT64_C(1) << (64 - bits);
            uint32_t p = sl_key_partition(key, bits);
            cr_assert(eq(u64, p, key / div), "key %#llx bits %u", (unsigned long long)key, bits);
            cr_assert(lt(u64, p, UINT64_C(1) << bits));
        }
    }
}

/* 65,536 ad ids over 16 partitions: each should get 4,096 +- a few standard deviations
 * (sd = sqrt(65536 * 1/16 * 15/16) = 62); 4,096 +- 400 is over 6 sd. */
Test(keyhash, partitions_are_balanced)
{
    unsigned counts[16] = {0};
    char id[32];
    for (unsigned i = 0; i < 65536; i++) {
        int n = snprintf(id, sizeof id, "ad-%08u", i);
        counts[sl_key_partition(sl_key_hash(id, (size_t)n), 4)]++;
    }
    for (int p = 0; p < 16; p++) {
        cr_expect(gt(uint, counts[p], 4096 - 400), "partition %d", p);
        cr_expect(lt(uint, counts[p], 4096 + 400), "partition %d", p);
    }
}
