/* Tests of host/addict.h: the ad-id dictionary (key -> original id bytes).
 *
 * Collisions (two ids with one 64-bit key) are not reachable with the real hash, so
 * SL_ECOLLISION is not exercised here. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addict.h"
#include "err.h"
#include "keyhash.h"

/* Asserts that d maps key to exactly the len bytes at want, NUL-terminated. */
static void expect_id(const sl_addict *d, uint64_t key, const char *want, size_t len)
{
    size_t got_len = (size_t)-1;
    const char *got = sl_addict_get(d, key, &got_len);
    cr_assert_not_null(got, "key %#llx unknown", (unsigned long long)key);
    cr_assert(eq(sz, got_len, len), "key %#llx", (unsigned long long)key);
    cr_assert(eq(int, memcmp(got, want, len), 0), "key %#llx: bytes differ",
              (unsigned long long)key);
    cr_assert(eq(int, got[len], '\0'), "key %#llx: not NUL-terminated", (unsigned long long)key);
}

/* 200,000 distinct ids of lengths 1 to 48, interned then read back against an independent copy
 * of the strings; growth of the table and the arena happens many times on the way. */
Test(addict, round_trip_200k)
{
    enum { N = 200000, W = 49 };
    char(*ids)[W] = malloc((size_t)N * sizeof *ids);
    size_t *lens = malloc(N * sizeof *lens);
    uint64_t *keys = malloc(N * sizeof *keys);
    cr_assert(ids && lens && keys);
    sl_addict *d = sl_addict_new();
    cr_assert_not_null(d);

    for (size_t i = 0; i < N; i++) {
        /* a unique decimal part, padded with a letter pattern to a length that varies with i */
        int n = snprintf(ids[i], W, "%zu", i);
        size_t len = (size_t)n + i % (W - 1 - (size_t)n);
        for (size_t j = (size_t)n; j < len; j++)
            ids[i][j] = (char)('a' + (i + j) % 26);
        ids[i][len] = '\0';
        lens[i] = len;
        cr_assert(ge(sz, len, 1));
        cr_assert(le(sz, len, W - 1));
        int rc = sl_addict_intern(d, ids[i], len, &keys[i]);
        cr_assert(eq(int, rc, 0), "intern #%zu: %s", i, sl_strerror(rc));
        cr_assert(eq(u64, keys[i], sl_key_hash(ids[i], len)), "id #%zu", i);
        cr_assert(eq(sz, sl_addict_count(d), i + 1));
    }
    for (size_t i = 0; i < N; i++)
        expect_id(d, keys[i], ids[i], lens[i]);
    cr_assert(eq(sz, sl_addict_count(d), N));

    /* interning again returns the same key and records nothing new */
    for (size_t i = 0; i < N; i += 7) {
        uint64_t k = 0;
        cr_assert(eq(int, sl_addict_intern(d, ids[i], lens[i], &k), 0));
        cr_assert(eq(u64, k, keys[i]), "id #%zu", i);
    }
    cr_assert(eq(sz, sl_addict_count(d), N));

    sl_addict_destroy(&d);
    free(ids);
    free(lens);
    free(keys);
}

Test(addict, empty_dictionary)
{
    sl_addict *d = sl_addict_new();
    cr_assert_not_null(d);
    cr_assert(eq(sz, sl_addict_count(d), 0));
    cr_assert_null(sl_addict_get(d, sl_key_hash("x", 1), NULL));
    cr_assert_null(sl_addict_get(d, 0, NULL));
    sl_addict_destroy(&d);
}

Test(addict, idempotent_intern)
{
    sl_addict *d = sl_addict_new();
    cr_assert_not_null(d);
    uint64_t k1 = 0, k2 = 0;
    cr_assert(eq(int, sl_addict_intern(d, "ad-1", 4, &k1), 0));
    cr_assert(eq(int, sl_addict_intern(d, "ad-1", 4, &k2), 0));
    cr_assert(eq(u64, k1, k2));
    cr_assert(eq(u64, k1, sl_key_hash("ad-1", 4)));
    cr_assert(eq(sz, sl_addict_count(d), 1));
    /* the id is read from len bytes only: "ad-1x" cut at 4 is "ad-1" */
    cr_assert(eq(int, sl_addict_intern(d, "ad-1x", 4, &k2), 0));
    cr_assert(eq(u64, k2, k1));
    cr_assert(eq(sz, sl_addict_count(d), 1));
    expect_id(d, k1, "ad-1", 4);
    sl_addict_destroy(&d);
}

Test(addict, length_limits)
{
    sl_addict *d = sl_addict_new();
    char *big = malloc(SL_ADID_MAX + 2);
    cr_assert(d && big);
    memset(big, 'z', SL_ADID_MAX + 1);
    big[SL_ADID_MAX + 1] = '\0';
    const uint64_t untouched = UINT64_C(0x1234);
    uint64_t k = untouched;

    cr_assert(eq(int, sl_addict_intern(d, "", 0, &k), SL_ERANGE));
    cr_assert(eq(int, sl_addict_intern(d, "abc", 0, &k), SL_ERANGE));
    cr_assert(eq(int, sl_addict_intern(d, big, SL_ADID_MAX + 1, &k), SL_ERANGE));
    cr_assert(eq(u64, k, untouched), "a rejected id stores no key");
    cr_assert(eq(sz, sl_addict_count(d), 0), "a rejected id is not recorded");
    cr_assert_null(sl_addict_get(d, sl_key_hash(big, SL_ADID_MAX + 1), NULL));

    cr_assert(eq(int, sl_addict_intern(d, big, SL_ADID_MAX, &k), 0));
    cr_assert(eq(sz, sl_addict_count(d), 1));
    expect_id(d, k, big, SL_ADID_MAX);

    cr_assert(eq(int, sl_addict_intern(d, "z", 1, &k), 0));
    expect_id(d, k, "z", 1);
    cr_assert(eq(sz, sl_addict_count(d), 2));

    sl_addict_destroy(&d);
    free(big);
}

/* Ids are bytes: embedded NULs and non-ASCII bytes are kept, and ids differing only after a
 * NUL are different ids. */
Test(addict, binary_ids)
{
    static const struct {
        const char *s;
        size_t len;
    } ids[] = {
#define ID(lit) {lit, sizeof lit - 1}
        ID("a"),
        ID("a\0"),
        ID("a\0b"),
        ID("a\0c"),
        ID("\0"),
        ID("\0\0"),
        ID("caf\xc3\xa9"),                /* UTF-8 "cafe" with an acute e */
        ID("\xff\xfe\x80\x01"),           /* not UTF-8 at all */
        ID("\xe5\xba\x83\xe5\x91\x8a-7"), /* UTF-8 CJK plus ASCII */
        ID("tab\there,comma\"quote\n"),
#undef ID
    };
    enum { NI = sizeof ids / sizeof ids[0] };
    sl_addict *d = sl_addict_new();
    cr_assert_not_null(d);
    uint64_t keys[NI];
    for (size_t i = 0; i < NI; i++) {
        cr_assert(eq(int, sl_addict_intern(d, ids[i].s, ids[i].len, &keys[i]), 0), "id %zu", i);
        cr_assert(eq(u64, keys[i], sl_key_hash(ids[i].s, ids[i].len)), "id %zu", i);
    }
    cr_assert(eq(sz, sl_addict_count(d), NI), "every id is distinct");
    for (size_t i = 0; i < NI; i++)
        for (size_t j = i + 1; j < NI; j++)
            cr_assert(ne(u64, keys[i], keys[j]), "ids %zu and %zu", i, j);
    for (size_t i = 0; i < NI; i++)
        expect_id(d, keys[i], ids[i].s, ids[i].len);
    sl_addict_destroy(&d);
}

Test(addict, unknown_key)
{
    sl_addict *d = sl_addict_new();
    cr_assert_not_null(d);
    uint64_t k;
    char id[16];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(id, sizeof id, "known-%d", i);
        cr_assert(eq(int, sl_addict_intern(d, id, (size_t)n, &k), 0));
    }
    size_t len = 77;
    cr_assert_null(sl_addict_get(d, sl_key_hash("unknown", 7), &len));
    cr_assert_null(sl_addict_get(d, sl_key_hash("known-100", 9), NULL));
    cr_assert_null(sl_addict_get(d, 0, &len));
    cr_assert_null(sl_addict_get(d, UINT64_MAX, NULL));
    /* a key equal to a known key in its low bits (same home slot) but different above */
    uint64_t known = sl_key_hash("known-5", 7);
    cr_assert_null(sl_addict_get(d, known ^ (UINT64_C(1) << 63), NULL));
    cr_assert_not_null(sl_addict_get(d, known, NULL));
    sl_addict_destroy(&d);
}

Test(addict, destroy_nulls_pointer)
{
    sl_addict *d = sl_addict_new();
    cr_assert_not_null(d);
    uint64_t k;
    cr_assert(eq(int, sl_addict_intern(d, "x", 1, &k), 0));
    sl_addict_destroy(&d);
    cr_assert_null(d);
    sl_addict_destroy(&d); /* *dp == NULL is accepted */
    sl_addict_destroy(NULL);
    cr_assert_null(d);
}

/* sl_addict_next walks the recorded ids in order, once each, from a kept cursor: ids with NUL
 * bytes inside, repeats (not recorded twice) and growth of the arena in between. Checked against
 * the list of first occurrences kept here. */
Test(addict, next_walks_new_ids_in_order)
{
    sl_addict *d = sl_addict_new();
    cr_assert_not_null(d);
    enum { N = 50000 };
    static char want[N][24];
    static size_t want_len[N];
    size_t nwant = 0, cursor = 0, seen = 0;
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < N / 5; i++) {
            char id[24];
            size_t len = (size_t)snprintf(id, sizeof id, "a%d", round * (N / 5) + i);
            if (i % 7 == 0)
                id[0] = '\0'; /* an id with a NUL byte inside */
            uint64_t k;
            cr_assert(eq(int, sl_addict_intern(d, id, len, &k), 0));
            memcpy(want[nwant], id, len);
            want_len[nwant++] = len;
            if (i % 3 == 0) /* the same again: nothing new to walk */
                cr_assert(eq(int, sl_addict_intern(d, id, len, &k), 0));
        }
        uint64_t key;
        const char *id;
        size_t len;
        while (sl_addict_next(d, &cursor, &key, &id, &len)) {
            cr_assert(lt(sz, seen, nwant), "more ids walked than recorded");
            cr_assert(eq(sz, len, want_len[seen]), "id %zu", seen);
            cr_assert(eq(int, memcmp(id, want[seen], len), 0), "id %zu", seen);
            cr_assert(eq(u64, key, sl_key_hash(want[seen], len)), "id %zu", seen);
            seen++;
        }
        cr_assert(eq(sz, seen, nwant), "round %d", round);
    }
    sl_addict_destroy(&d);
}
