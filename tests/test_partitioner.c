/* Tests of partitioner/partmap.h and partitioner/grouping.h: the partition function, the partition
 * map, and Storm's groupings with partial-key grouping (PKG).
 *
 * Independence: keys come from a splitmix64 generator written here (not from the code under test),
 * Zipf streams from an inverse-CDF sampler written here, and every check compares the code's
 * output with plain loops over those inputs (counts per node, per partition, per (node, key)),
 * with a bound stated next to it. Statistical bounds are 6 standard deviations or wider, and all
 * inputs are seeded, so each test is deterministic.
 * Timings: the whole binary runs in about a second with --jobs=2 (2 cores, 2026-11-21). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "grouping.h"
#include "partmap.h"
#include "util.h"

/* ---- inputs ---------------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Returns n random keys from `seed`, asserting that they are distinct and never 0 (sl_key_hash
 * never gives 0). The caller frees. */
static uint64_t *random_keys(uint64_t seed, size_t n)
{
    uint64_t *keys = malloc(n * sizeof *keys);
    uint64_t *sorted = malloc(n * sizeof *sorted);
    cr_assert(keys && sorted);
    for (size_t i = 0; i < n; i++)
        keys[i] = splitmix64(&seed);
    memcpy(sorted, keys, n * sizeof *keys);
    qsort(sorted, n, sizeof *sorted, cmp_u64);
    cr_assert(ne(u64, sorted[0], 0));
    for (size_t i = 1; i < n; i++)
        cr_assert(ne(u64, sorted[i], sorted[i - 1]), "duplicate key at %zu", i);
    free(sorted);
    return keys;
}

/* A Zipf(s) stream over nkeys distinct keys: rank r (0-based) has probability proportional to
 * (r + 1)^-s. Records are drawn by inverse CDF with a binary search. */
struct zipf_stream {
    uint32_t nkeys;
    size_t nrecs;
    uint64_t *keys;  /* [nkeys]: key of each rank */
    uint32_t *ranks; /* [nrecs]: rank of each record, in stream order */
    uint32_t *count; /* [nkeys]: records of each rank (a direct count of the stream) */
};

static void zipf_make(struct zipf_stream *z, uint64_t seed, uint32_t nkeys, double s, size_t nrecs)
{
    double *cdf = malloc(nkeys * sizeof *cdf);
    z->nkeys = nkeys;
    z->nrecs = nrecs;
    z->keys = random_keys(seed, nkeys);
    z->ranks = malloc(nrecs * sizeof *z->ranks);
    z->count = calloc(nkeys, sizeof *z->count);
    cr_assert(cdf && z->ranks && z->count);
    double acc = 0;
    for (uint32_t r = 0; r < nkeys; r++) {
        acc += pow(r + 1.0, -s);
        cdf[r] = acc;
    }
    for (uint32_t r = 0; r < nkeys; r++)
        cdf[r] /= acc;
    uint64_t state = seed ^ UINT64_C(0x5a5a5a5a5a5a5a5a);
    for (size_t i = 0; i < nrecs; i++) {
        double u = tu_unit(&state);
        uint32_t lo = 0, hi = nkeys - 1; /* first rank with cdf > u */
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (cdf[mid] > u)
                hi = mid;
            else
                lo = mid + 1;
        }
        z->ranks[i] = lo;
        z->count[lo]++;
    }
    free(cdf);
}

static void zipf_free(struct zipf_stream *z)
{
    free(z->keys);
    free(z->ranks);
    free(z->count);
    memset(z, 0, sizeof *z);
}

/* The mean of counts[0..n). */
static double mean_of(const uint32_t *counts, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += counts[i];
    return total / (double)n;
}

/* Pearson's chi-square statistic of counts[0..n) against a uniform expectation. With n - 1
 * degrees of freedom its mean is n - 1 and its standard deviation sqrt(2 (n - 1)). */
static double chi_square(const uint32_t *counts, size_t n)
{
    double want = mean_of(counts, n), chi = 0;
    for (size_t i = 0; i < n; i++)
        chi += (counts[i] - want) * (counts[i] - want) / want;
    return chi;
}

/* The largest |counts[i] / mean - 1|. */
static double max_rel_dev(const uint32_t *counts, size_t n)
{
    double mean = mean_of(counts, n), dev = 0;
    for (size_t i = 0; i < n; i++)
        dev = fmax(dev, fabs(counts[i] / mean - 1));
    return dev;
}

/* Upper bound for a chi-square with df degrees of freedom: mean + 6 standard deviations. */
static double chi_bound(size_t df)
{
    return (double)df + 6 * sqrt(2.0 * (double)df);
}

/* A new map of nparts partitions over nnodes nodes: the test stops when it cannot be made. */
static sl_partmap *new_map(uint32_t nparts, uint32_t nnodes)
{
    sl_partmap *map = NULL;
    char msg[256] = "";
    cr_assert(eq(int, sl_partmap_new(nparts, nnodes, &map, msg, sizeof msg), 0), "%s", msg);
    cr_assert_not_null(map);
    return map;
}

/* Sets up *g for `kind` over `map`: the test stops when it cannot. */
static void grouping_ok(sl_grouping *g, enum sl_grouping_kind kind, const sl_partmap *map,
                        uint64_t seed)
{
    cr_assert(eq(int, sl_grouping_init(g, kind, map, seed), 0), "kind %d", (int)kind);
}

/* A route that must fail with `err`, writing no destination (sentinels stay) and counting
 * nothing. maxdests is at most 8. */
static void route_refused(sl_grouping *g, uint32_t direct_node, uint32_t maxdests, int err)
{
    uint64_t before[64] = {0};
    for (uint32_t n = 0; n < g->nnodes && n < 64; n++)
        before[n] = sl_grouping_sent(g, n);
    uint32_t dests[8] = {77, 77, 77, 77, 77, 77, 77, 77};
    cr_assert(le(u32, maxdests, 8));
    cr_expect(eq(int, sl_grouping_route(g, 1, direct_node, dests, maxdests), err),
              "kind %d, node %u, room for %u", (int)g->kind, direct_node, maxdests);
    for (int j = 0; j < 8; j++)
        cr_expect(eq(u32, dests[j], 77), "dests[%d] written", j);
    for (uint32_t n = 0; n < g->nnodes && n < 64; n++)
        cr_expect(eq(u64, sl_grouping_sent(g, n), before[n]), "node %u", n);
}

/* One grouping over a map of its own: most grouping tests need no more. */
struct routed {
    sl_partmap *map;
    sl_grouping g;
};

static void routed_open(struct routed *r, uint32_t nnodes, enum sl_grouping_kind kind,
                        uint64_t seed)
{
    r->map = new_map(256, nnodes);
    grouping_ok(&r->g, kind, r->map, seed);
}

static void routed_close(struct routed *r)
{
    sl_grouping_fini(&r->g);
    sl_partmap_destroy(&r->map);
}

/* Every one of the grouping's nodes has been sent `count` records. */
static void sent_each(const sl_grouping *g, uint64_t count)
{
    for (uint32_t n = 0; n < g->nnodes; n++)
        cr_expect(eq(u64, sl_grouping_sent(g, n), count), "node %u", n);
}

/* Routes one record of `key` with a grouping that sends it to exactly one node: that node. */
static uint32_t route1(sl_grouping *g, uint64_t key, uint32_t direct_node)
{
    uint32_t d = UINT32_MAX;
    cr_assert(eq(int, sl_grouping_route(g, key, direct_node, &d, 1), 1));
    return d;
}

/* ---- sl_part_of ------------------------------------------------------------------------------ */

struct part_pin {
    uint64_t key;
    uint32_t part[4];      /* among 256, 3, 1000 and 65536 partitions */
    uint32_t pkg_a, pkg_b; /* sl_pkg_candidates on a new 256-partition, 8-node map */
};

static const uint32_t pin_nparts[4] = {256, 3, 1000, 65536};

/* These pin placement forever: a failure here means sl_part_of (or PKG's second hash) changed, and
 * with it the partition and node of every key in every cluster, and where every key's state lives.
 * Do not update these values; revert the change instead. They are a contract, not an independent
 * check: computed once with the code itself by a throwaway program printing them (2026-11-21, gcc
 * 12.2, x86-64). The first eight keys are the pinned sl_key_hash values of tests/test_keyhash.c
 * ("ad-00000000", "", "sluice", "ad-99999999", "a", "campaign/42:creative-7",
 * "0123456789abcdef", 200 letters); the last three take PKG's fallback (the second hash picked a
 * partition on the first candidate's node). */
static const struct part_pin part_pins[] = {
    {UINT64_C(0x5DD58C191FD76BE2), {11, 0, 44, 2923}, 3, 4},
    {UINT64_C(0x8E5FA73862F1D995), {214, 2, 838, 54922}, 6, 1},
    {UINT64_C(0xFB4FEE7D7BA70772), {114, 1, 448, 29377}, 2, 3},
    {UINT64_C(0x3209C7F5316A69F6), {14, 0, 57, 3740}, 6, 5},
    {UINT64_C(0x890A1F0F56EE4798), {104, 1, 406, 26624}, 0, 7},
    {UINT64_C(0xB3DD32F14884B0F8), {192, 2, 753, 49359}, 0, 1},
    {UINT64_C(0x763E5BA1FD0CC671), {174, 2, 683, 44784}, 6, 3},
    {UINT64_C(0x4906345A8D95DCBC), {101, 1, 398, 26107}, 5, 2},
    {UINT64_C(0x0000000000000001), {180, 2, 704, 46166}, 4, 6},
    {UINT64_C(0x8000000000000000), {143, 1, 560, 36728}, 7, 0},
    {UINT64_C(0xFFFFFFFFFFFFFFFE), {58, 0, 228, 14981}, 2, 6},
    {UINT64_C(0x0000000000000017), {199, 2, 779, 51070}, 7, 2}, /* PKG fallback */
    {UINT64_C(0x000000000000001A), {135, 1, 527, 34567}, 7, 4}, /* PKG fallback */
    {UINT64_C(0x000000000000001E), {192, 2, 751, 49256}, 0, 3}, /* PKG fallback */
};

#define NPINS (sizeof part_pins / sizeof part_pins[0])

Test(partitioner, part_of_pinned_vectors)
{
    sl_partmap *map = new_map(256, 8);
    for (size_t i = 0; i < NPINS; i++) {
        const struct part_pin *pin = &part_pins[i];
        for (int j = 0; j < 4; j++)
            cr_expect(eq(u32, sl_part_of(pin->key, pin_nparts[j]), pin->part[j]),
                      "key %#018llx among %u partitions: placement changed",
                      (unsigned long long)pin->key, pin_nparts[j]);
        uint32_t a, b;
        sl_pkg_candidates(map, pin->key, &a, &b);
        cr_expect(eq(u32, a, pin->pkg_a), "PKG first candidate of %#018llx changed",
                  (unsigned long long)pin->key);
        cr_expect(eq(u32, b, pin->pkg_b), "PKG second candidate of %#018llx changed",
                  (unsigned long long)pin->key);
    }
    /* The fallback pins really take the fallback: the second hash's partition is on node a. */
    for (size_t i = NPINS - 3; i < NPINS; i++)
        cr_expect(eq(u32, sl_part_of(part_pins[i].key ^ SL_PKG_SALT, 256) % 8, part_pins[i].pkg_a));
    sl_partmap_destroy(&map);
}

/* Every result is in 0..nparts-1, for map sizes and for sizes beyond them up to 2^32 - 1;
 * one partition takes everything; nparts 0 gives 0 (documented). */
Test(partitioner, part_of_range)
{
    const uint32_t sizes[] = {1, 2, 3, 7, 255, 256, 257, 1000, 65535, 65536, 1u << 31, UINT32_MAX};
    uint64_t state = 1;
    for (int i = 0; i < 20000; i++) {
        uint64_t key =
            i < 4 ? (uint64_t[]){1, UINT64_MAX, UINT64_MAX - 1, 1ull << 63}[i] : splitmix64(&state);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            cr_assert(lt(u32, sl_part_of(key, sizes[s]), sizes[s]), "key %#llx, nparts %u",
                      (unsigned long long)key, sizes[s]);
        cr_assert(eq(u32, sl_part_of(key, 1), 0));
        cr_assert(eq(u32, sl_part_of(key, 0), 0));
    }
}

/* The multiply-high reduction of one 32-bit value h: partition(k, 2n) = floor(2nh / 2^32), whose
 * half is floor(nh / 2^32) = partition(k, n). So doubling nparts splits each partition in two
 * (docs/partitioner.md), for every n, not only powers of two. */
Test(partitioner, part_of_doubling_splits_partitions)
{
    uint64_t state = 2;
    for (int i = 0; i < 2000; i++) {
        uint64_t key = splitmix64(&state);
        for (uint32_t n = 1; n <= 32768; n = n < 16 ? n + 1 : n * 3 / 2)
            cr_assert(eq(u32, sl_part_of(key, 2 * n) / 2, sl_part_of(key, n)), "key %#llx, n %u",
                      (unsigned long long)key, n);
    }
}

/* Avalanche of the mixer: flipping any one of the 64 input bits flips each of the 64 output bits
 * for about half the keys. Over 4,000 keys a flip rate has standard deviation
 * sqrt(0.25 / 4000) = 0.0079; 0.5 +- 0.05 is over 6 sd. A mixer that left any input bit out, or
 * any output bit depending on few input bits, would fail. */
Test(partitioner, mix_avalanche)
{
    enum { NKEYS = 4000 };
    static uint32_t flips[64][64];
    uint64_t state = 3;
    for (int i = 0; i < NKEYS; i++) {
        uint64_t key = splitmix64(&state);
        uint64_t h = sl_part_mix(key);
        for (int in = 0; in < 64; in++) {
            uint64_t d = h ^ sl_part_mix(key ^ (UINT64_C(1) << in));
            for (int out = 0; out < 64; out++)
                flips[in][out] += (uint32_t)(d >> out & 1);
        }
    }
    for (int in = 0; in < 64; in++)
        for (int out = 0; out < 64; out++) {
            double rate = flips[in][out] / (double)NKEYS;
            cr_assert(le(dbl, fabs(rate - 0.5), 0.05), "input bit %d -> output bit %d: %.4f", in,
                      out, rate);
        }
}

/* ---- balance and independence ---------------------------------------------------------------- */

enum { NBAL = 1000000 };

/* 1,000,000 uniform keys over 256 partitions on 3 and 8 nodes.
 * Nodes: within +-3% of the mean. With round robin, 256 partitions on 3 nodes are 86/85/85, so
 * node 0 expects +0.78% and the others -0.39%; sampling adds sd sqrt(N p (1-p)) / (N p) = 0.14% on
 * 3 nodes and 0.26% on 8. Measured (seed 12345): max deviation 1.00% on 3 nodes, 0.42% on 8.
 * Partitions: each within +-10% of N/256 = 3906 (sd 62.4, 10% = 6.3 sd), and chi-square with 255
 * degrees of freedom under 255 + 6 sqrt(510) = 390. Measured: max deviation 4.8%, chi-square 248.
 */
Test(partitioner, balance_on_uniform_keys)
{
    uint64_t *keys = random_keys(12345, NBAL);
    static uint32_t parts[256];
    for (size_t i = 0; i < NBAL; i++)
        parts[sl_part_of(keys[i], 256)]++;
    double pdev = max_rel_dev(parts, 256), pchi = chi_square(parts, 256);
    cr_log_info("partitions: max deviation %.4f, chi-square %.1f", pdev, pchi);
    cr_expect(le(dbl, pdev, 0.10));
    cr_expect(le(dbl, pchi, chi_bound(255)));

    const uint32_t node_counts[] = {3, 8};
    for (int c = 0; c < 2; c++) {
        uint32_t nnodes = node_counts[c];
        sl_partmap *map = new_map(256, nnodes);
        uint32_t load[8] = {0}, want[8] = {0};
        for (size_t i = 0; i < NBAL; i++)
            load[sl_partmap_node_of_key(map, keys[i])]++;
        /* Reference: the default map puts partition p on node p % nnodes. */
        for (uint32_t p = 0; p < 256; p++)
            want[p % nnodes] += parts[p];
        double dev = max_rel_dev(load, nnodes);
        cr_log_info("%u nodes: max deviation from the mean %.4f", nnodes, dev);
        for (uint32_t n = 0; n < nnodes; n++)
            cr_expect(eq(u32, load[n], want[n]), "node %u of %u", n, nnodes);
        cr_expect(le(dbl, dev, 0.03), "%u nodes", nnodes);
        sl_partmap_destroy(&map);
    }
    free(keys);
}

typedef uint32_t (*part_fn)(uint64_t key, uint32_t nparts);

/* Counterexamples that the independence checks must reject: partitions from the key's top bits
 * (the engine's region bits) or from its low bits (the engine's slot bits). */
static uint32_t part_from_top_bits(uint64_t key, uint32_t nparts)
{
    return (uint32_t)(((key >> 32) * nparts) >> 32);
}

static uint32_t part_from_low_bits(uint64_t key, uint32_t nparts)
{
    return (uint32_t)(key % nparts);
}

struct spread {
    uint32_t n;            /* keys on node 0 */
    double top6_dev;       /* max deviation over the 64 regions of the top 6 bits */
    double top12_chi;      /* chi-square over the 4096 regions of the top 12 bits */
    double low10_chi;      /* chi-square over the 1024 buckets of the low 10 bits */
    double low10_max_mean; /* the fullest low-10-bit bucket / the mean */
};

/* How the keys that `fn` sends to node 0 of 3 (256 partitions, round robin) spread over the
 * engine's bits. */
static struct spread node0_spread(const uint64_t *keys, size_t n, part_fn fn)
{
    static uint32_t top6[64], top12[4096], low10[1024];
    memset(top6, 0, sizeof top6);
    memset(top12, 0, sizeof top12);
    memset(low10, 0, sizeof low10);
    struct spread s = {0};
    for (size_t i = 0; i < n; i++) {
        if (fn(keys[i], 256) % 3 != 0)
            continue;
        s.n++;
        top6[keys[i] >> 58]++;
        top12[keys[i] >> 52]++;
        low10[keys[i] & 1023]++;
    }
    s.top6_dev = max_rel_dev(top6, 64);
    s.top12_chi = chi_square(top12, 4096);
    s.low10_chi = chi_square(low10, 1024);
    uint32_t mx = 0;
    for (int i = 0; i < 1024; i++)
        mx = low10[i] > mx ? low10[i] : mx;
    s.low10_max_mean = mx / (s.n / 1024.0);
    return s;
}

/* The keys on node 0 of 3 (about 336,000) must look like any other keys to the engine:
 * - top 6 bits (64 regions, the engine's CPU default): each within +-15% of the mean
 *   (mean 5,260, sd 72, 15% = 11 sd); measured max deviation 5.2%;
 * - top 12 bits (4096 regions, the engine's maximum): chi-square under 4095 + 6 sqrt(8190) = 4638;
 *   measured 4049;
 * - low 10 bits (1024 slot buckets): chi-square under 1023 + 6 sqrt(2046) = 1294, and the fullest
 *   bucket under 1.35 x the mean (mean 329, sd 18 = 5.5%, 35% = 6.4 sd); measured 1001 and 1.195.
 * The same checks must reject partitions taken from the top or the low bits, so they have power. */
Test(partitioner, independent_of_engine_bits)
{
    uint64_t *keys = random_keys(12345, NBAL);
    struct spread s = node0_spread(keys, NBAL, sl_part_of);
    cr_log_info("node 0 of 3: %u keys; top6 max dev %.4f, top12 chi %.1f, low10 chi %.1f, "
                "low10 max/mean %.3f",
                s.n, s.top6_dev, s.top12_chi, s.low10_chi, s.low10_max_mean);
    cr_expect(le(dbl, s.top6_dev, 0.15));
    cr_expect(le(dbl, s.top12_chi, chi_bound(4095)));
    cr_expect(le(dbl, s.low10_chi, chi_bound(1023)));
    cr_expect(le(dbl, s.low10_max_mean, 1.35));

    struct spread top = node0_spread(keys, NBAL, part_from_top_bits);
    cr_expect(gt(dbl, top.top6_dev, 0.15), "the top-6-bit check misses a top-bit partition");
    cr_expect(gt(dbl, top.top12_chi, chi_bound(4095)));
    struct spread low = node0_spread(keys, NBAL, part_from_low_bits);
    cr_log_info("controls: top-bit partition: top6 max dev %.3f, top12 chi %.0f; key %% 256: "
                "low10 chi %.0f, low10 max/mean %.2f",
                top.top6_dev, top.top12_chi, low.low10_chi, low.low10_max_mean);
    cr_expect(gt(dbl, low.low10_chi, chi_bound(1023)), "the low-bit check misses key %% nparts");
    cr_expect(gt(dbl, low.low10_max_mean, 1.35));
    free(keys);
}

/* ---- the partition map ----------------------------------------------------------------------- */

Test(partitioner, partmap_rejects_bad_sizes)
{
    const uint32_t bad[][2] = {{0, 1},
                               {SL_PART_MAX_PARTS + 1, 1},
                               {256, 0},
                               {256, SL_PART_MAX_NODES + 1},
                               {UINT32_MAX, UINT32_MAX}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_partmap *map = NULL;
        char msg[256] = "";
        cr_expect(eq(int, sl_partmap_new(bad[i][0], bad[i][1], &map, msg, sizeof msg), SL_EINVAL),
                  "%u parts, %u nodes", bad[i][0], bad[i][1]);
        cr_expect_null(map);
        char want[128];
        snprintf(want, sizeof want, "not %u and %u", bad[i][0], bad[i][1]);
        cr_expect(not(eq(ptr, strstr(msg, want), NULL)), "%s", msg);
    }
    sl_partmap *map = new_map(SL_PART_MAX_PARTS, SL_PART_MAX_NODES);
    sl_partmap_destroy(&map);
    cr_expect_null(map);
    sl_partmap_destroy(&map); /* NULL is fine */
}

/* A new map is round robin, and the getters agree with a plain count of it. */
Test(partitioner, partmap_default_round_robin)
{
    const uint32_t shapes[][2] = {{256, 3}, {256, 8}, {1, 4}, {5, 8}, {65536, 7}, {10, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        uint32_t nparts = shapes[s][0], nnodes = shapes[s][1];
        sl_partmap *map = new_map(nparts, nnodes);
        cr_expect(eq(u32, sl_partmap_nparts(map), nparts));
        cr_expect(eq(u32, sl_partmap_nnodes(map), nnodes));
        for (uint32_t p = 0; p < nparts; p++)
            cr_assert(eq(u32, sl_partmap_node(map, p), p % nnodes));
        cr_expect(eq(u32, sl_partmap_node(map, nparts), SL_PART_NONE));
        uint32_t live = 0;
        for (uint32_t n = 0; n < nnodes; n++) {
            uint32_t want = nparts / nnodes + (n < nparts % nnodes);
            cr_expect(eq(u32, sl_partmap_owned(map, n), want), "node %u", n);
            if (want)
                cr_expect(eq(u32, sl_partmap_live(map, live++), n));
        }
        cr_expect(eq(u32, sl_partmap_nlive(map), live));
        cr_expect(eq(u32, sl_partmap_live(map, live), SL_PART_NONE));
        cr_expect(eq(u32, sl_partmap_owned(map, nnodes), 0));
        sl_partmap_destroy(&map);
    }
}

/* Moving partition p changes the node of exactly p's keys, all to the new node; moving it back
 * restores every key. The keys' old nodes come from the round-robin rule, not from the map. */
Test(partitioner, partition_move_moves_exactly_its_keys)
{
    enum { NKEYS = 200000, NPARTS = 256, NNODES = 3 };
    uint64_t *keys = random_keys(77, NKEYS);
    sl_partmap *map = new_map(NPARTS, NNODES);
    const uint32_t moves[][2] = {{0, 2}, {100, 0}, {255, 1}, {7, 2}};
    for (size_t m = 0; m < sizeof moves / sizeof moves[0]; m++) {
        uint32_t p = moves[m][0], to = moves[m][1], from = p % NNODES;
        cr_assert(ne(u32, from, to));
        cr_assert(eq(int, sl_partmap_assign(map, p, to), 0));
        cr_expect(eq(u32, sl_partmap_node(map, p), to));
        size_t moved = 0;
        for (size_t i = 0; i < NKEYS; i++) {
            uint32_t kp = sl_part_of(keys[i], NPARTS);
            uint32_t before = kp % NNODES;
            uint32_t after = sl_partmap_node_of_key(map, keys[i]);
            if (kp == p) {
                cr_assert(eq(u32, after, to), "key %zu of partition %u", i, p);
                moved++;
            } else {
                cr_assert(eq(u32, after, before), "key %zu of partition %u moved", i, kp);
            }
        }
        /* About NKEYS / 256 = 781 keys per partition (sd 28). */
        cr_expect(gt(sz, moved, 600), "partition %u holds %zu keys", p, moved);
        cr_expect(eq(u32, sl_partmap_owned(map, to), NPARTS / NNODES + (to < NPARTS % NNODES) + 1));
        cr_expect(
            eq(u32, sl_partmap_owned(map, from), NPARTS / NNODES + (from < NPARTS % NNODES) - 1));
        /* Back where it was: the map is round robin again. */
        cr_assert(eq(int, sl_partmap_assign(map, p, from), 0));
        for (size_t i = 0; i < NKEYS; i += 97)
            cr_assert(eq(u32, sl_partmap_node_of_key(map, keys[i]),
                         sl_part_of(keys[i], NPARTS) % NNODES));
    }
    /* Assigning a partition to its own node is a no-op. */
    cr_expect(eq(int, sl_partmap_assign(map, 5, 5 % NNODES), 0));
    cr_expect(eq(u32, sl_partmap_node(map, 5), 5 % NNODES));
    sl_partmap_destroy(&map);
    free(keys);
}

Test(partitioner, partmap_assign_rejects_out_of_range)
{
    sl_partmap *map = new_map(16, 4);
    cr_expect(eq(int, sl_partmap_assign(map, 16, 0), SL_EINVAL));
    cr_expect(eq(int, sl_partmap_assign(map, 0, 4), SL_EINVAL));
    cr_expect(eq(int, sl_partmap_assign(map, UINT32_MAX, UINT32_MAX), SL_EINVAL));
    for (uint32_t p = 0; p < 16; p++)
        cr_expect(eq(u32, sl_partmap_node(map, p), p % 4), "partition %u changed", p);
    sl_partmap_destroy(&map);
}

/* Draining a node (moving all its partitions away) takes it off the live list, in ascending
 * order whatever the order of the moves; refilling it puts it back. */
Test(partitioner, partmap_live_list_follows_moves)
{
    sl_partmap *map = new_map(12, 4);
    /* Node 1 holds 1, 5, 9; node 2 holds 2, 6, 10. Drain 2 then 1, in mixed order. */
    const uint32_t drain[][2] = {{6, 0}, {1, 3}, {10, 3}, {9, 0}, {2, 0}, {5, 3}};
    for (size_t i = 0; i < 6; i++)
        cr_assert(eq(int, sl_partmap_assign(map, drain[i][0], drain[i][1]), 0));
    cr_expect(eq(u32, sl_partmap_nlive(map), 2));
    cr_expect(eq(u32, sl_partmap_live(map, 0), 0));
    cr_expect(eq(u32, sl_partmap_live(map, 1), 3));
    cr_expect(eq(u32, sl_partmap_owned(map, 0), 6));
    cr_expect(eq(u32, sl_partmap_owned(map, 1), 0));
    cr_expect(eq(u32, sl_partmap_owned(map, 2), 0));
    cr_expect(eq(u32, sl_partmap_owned(map, 3), 6));
    cr_assert(eq(int, sl_partmap_assign(map, 0, 2), 0));
    cr_expect(eq(u32, sl_partmap_nlive(map), 3));
    cr_expect(eq(u32, sl_partmap_live(map, 0), 0));
    cr_expect(eq(u32, sl_partmap_live(map, 1), 2));
    cr_expect(eq(u32, sl_partmap_live(map, 2), 3));
    sl_partmap_destroy(&map);
}

/* ---- groupings ------------------------------------------------------------------------------- */

Test(partitioner, grouping_kind_names_round_trip)
{
    const char *names[] = {"fields", "shuffle", "all", "global", "direct", "partial_key"};
    const enum sl_grouping_kind kinds[] = {SL_GROUP_FIELDS, SL_GROUP_SHUFFLE, SL_GROUP_ALL,
                                           SL_GROUP_GLOBAL, SL_GROUP_DIRECT,  SL_GROUP_PARTIAL_KEY};
    for (int i = 0; i < SL_GROUP_NKINDS; i++) {
        enum sl_grouping_kind k = SL_GROUP_NKINDS;
        cr_expect(eq(int, sl_grouping_kind_parse(names[i], &k), 0), "%s", names[i]);
        cr_expect(eq(int, (int)k, (int)kinds[i]), "%s", names[i]);
        cr_expect(eq(str, (char *)sl_grouping_kind_name(kinds[i]), (char *)names[i]));
    }
    const char *bad[] = {"",        "Fields", "FIELDS", "partial-key", "partialkey",
                         "fields ", " all",   "key",    "broadcast"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum sl_grouping_kind k = SL_GROUP_GLOBAL;
        cr_expect(eq(int, sl_grouping_kind_parse(bad[i], &k), SL_EINVAL), "\"%s\"", bad[i]);
        cr_expect(eq(int, (int)k, (int)SL_GROUP_GLOBAL), "\"%s\" changed the kind", bad[i]);
    }
    enum sl_grouping_kind k = SL_GROUP_GLOBAL;
    cr_expect(eq(int, sl_grouping_kind_parse(NULL, &k), SL_EINVAL));
    cr_expect_null(sl_grouping_kind_name((enum sl_grouping_kind)SL_GROUP_NKINDS));
    cr_expect_null(sl_grouping_kind_name((enum sl_grouping_kind) - 1));
}

Test(partitioner, grouping_init_rejects_bad_arguments)
{
    sl_partmap *map = new_map(16, 4);
    sl_grouping g;
    cr_expect(
        eq(int, sl_grouping_init(&g, (enum sl_grouping_kind)SL_GROUP_NKINDS, map, 0), SL_EINVAL));
    sl_grouping_fini(&g);
    cr_expect(eq(int, sl_grouping_init(&g, SL_GROUP_FIELDS, NULL, 0), SL_EINVAL));
    sl_grouping_fini(&g);
    cr_expect(eq(int, sl_grouping_init(&g, SL_GROUP_FIELDS, map, 0), 0));
    sl_grouping_fini(&g);
    sl_grouping_fini(&g); /* twice is harmless */
    sl_partmap_destroy(&map);
}

/* Fields is the map's node of the key, before and after partition moves; the reference for the
 * default map is the round-robin rule. */
Test(partitioner, fields_is_the_maps_node)
{
    enum { NKEYS = 100000 };
    uint64_t *keys = random_keys(5, NKEYS);
    struct routed r;
    routed_open(&r, 5, SL_GROUP_FIELDS, 99);
    uint32_t sent[5] = {0};
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < NKEYS; i++) {
            uint32_t d = route1(&r.g, keys[i], 3);
            cr_assert(eq(u32, d, sl_partmap_node_of_key(r.map, keys[i])));
            if (round == 0)
                cr_assert(eq(u32, d, sl_part_of(keys[i], 256) % 5));
            sent[d]++;
        }
        for (uint32_t p = 0; p < 256; p += 3) /* then move every third partition */
            cr_assert(eq(int, sl_partmap_assign(r.map, p, (p / 3) % 5), 0));
    }
    for (uint32_t n = 0; n < 5; n++)
        cr_expect(eq(u64, sl_grouping_sent(&r.g, n), sent[n]));
    routed_close(&r);
    free(keys);
}

/* Shuffle: after every record, the most and the least loaded nodes differ by at most one record
 * (counted here from the destinations returned); every node is reached in any nnodes consecutive
 * records; different seeds start on different nodes. */
Test(partitioner, shuffle_balanced_within_one)
{
    const uint32_t node_counts[] = {1, 2, 3, 7, 64};
    for (size_t c = 0; c < sizeof node_counts / sizeof node_counts[0]; c++) {
        uint32_t nnodes = node_counts[c];
        sl_partmap *map = new_map(256, nnodes);
        for (uint64_t seed = 0; seed < 4; seed++) {
            sl_grouping g;
            grouping_ok(&g, SL_GROUP_SHUFFLE, map, seed);
            uint32_t count[64] = {0};
            for (uint32_t i = 0; i < 10007; i++) {
                uint32_t d = route1(&g, 42, 0); /* same key always */
                cr_assert(lt(u32, d, nnodes));
                count[d]++;
                uint32_t lo = UINT32_MAX, hi = 0;
                for (uint32_t n = 0; n < nnodes; n++) {
                    lo = count[n] < lo ? count[n] : lo;
                    hi = count[n] > hi ? count[n] : hi;
                }
                cr_assert(le(u32, hi - lo, 1), "%u nodes, seed %llu, after %u records", nnodes,
                          (unsigned long long)seed, i + 1);
            }
            for (uint32_t n = 0; n < nnodes; n++)
                cr_expect(eq(u64, sl_grouping_sent(&g, n), count[n]));
            sl_grouping_fini(&g);
        }
        sl_partmap_destroy(&map);
    }
    sl_partmap *map = new_map(256, 7);
    uint32_t firsts = 0; /* bit n: some seed starts on node n */
    for (uint64_t seed = 0; seed < 16; seed++) {
        sl_grouping g;
        grouping_ok(&g, SL_GROUP_SHUFFLE, map, seed);
        firsts |= 1u << route1(&g, 1, 0);
        sl_grouping_fini(&g);
    }
    cr_expect(ge(int, __builtin_popcount(firsts), 3), "16 seeds start on %d of 7 nodes",
              __builtin_popcount(firsts));
    sl_partmap_destroy(&map);
}

/* All: every node exactly once per record; a destination array too small is an error that
 * writes nothing. */
Test(partitioner, all_reaches_every_node_once)
{
    struct routed r;
    routed_open(&r, 5, SL_GROUP_ALL, 0);
    uint64_t state = 9;
    for (int i = 0; i < 1000; i++) {
        uint32_t dests[8], seen[5] = {0};
        for (int j = 0; j < 8; j++)
            dests[j] = UINT32_MAX;
        cr_assert(eq(int, sl_grouping_route(&r.g, splitmix64(&state), 0, dests, 8), 5));
        for (int j = 0; j < 5; j++) {
            cr_assert(lt(u32, dests[j], 5));
            seen[dests[j]]++;
        }
        for (int n = 0; n < 5; n++)
            cr_assert(eq(u32, seen[n], 1), "node %d", n);
        for (int j = 5; j < 8; j++)
            cr_assert(eq(u32, dests[j], UINT32_MAX), "wrote past the count");
    }
    route_refused(&r.g, 0, 4, SL_ERANGE);
    sent_each(&r.g, 1000);
    routed_close(&r);
}

Test(partitioner, global_is_node_0)
{
    struct routed r;
    routed_open(&r, 6, SL_GROUP_GLOBAL, 123);
    /* Even when node 0 holds no partition: global names a node, not a key's place. */
    for (uint32_t p = 0; p < 256; p += 6)
        cr_assert(eq(int, sl_partmap_assign(r.map, p, 1), 0));
    uint64_t state = 10;
    for (uint32_t i = 0; i < 10000; i++)
        cr_assert(eq(u32, route1(&r.g, splitmix64(&state), i), 0));
    cr_expect(eq(u64, sl_grouping_sent(&r.g, 0), 10000));
    routed_close(&r);
}

/* Direct: the named node, whatever the key; a node out of range is an error that writes
 * nothing and counts nothing, never a redirection. */
Test(partitioner, direct_names_the_node)
{
    struct routed r;
    routed_open(&r, 4, SL_GROUP_DIRECT, 0);
    uint64_t state = 11;
    for (uint32_t i = 0; i < 4000; i++)
        cr_assert(eq(u32, route1(&r.g, splitmix64(&state), i % 4), i % 4));
    const uint32_t bad[] = {4, 5, 1000, UINT32_MAX};
    for (size_t i = 0; i < 4; i++)
        route_refused(&r.g, bad[i], 1, SL_EINVAL);
    sent_each(&r.g, 1000);
    routed_close(&r);
}

/* maxdests 0 is an error for every kind and changes no state: shuffle's next record still goes
 * where it would have gone. */
Test(partitioner, no_room_is_an_error)
{
    sl_partmap *map = new_map(256, 3);
    for (int k = 0; k < SL_GROUP_NKINDS; k++) {
        sl_grouping g;
        grouping_ok(&g, (enum sl_grouping_kind)k, map, 5);
        route_refused(&g, 0, 0, SL_ERANGE);
        sent_each(&g, 0);
        sl_grouping_fini(&g);
    }
    sl_grouping g1, g2;
    grouping_ok(&g1, SL_GROUP_SHUFFLE, map, 5);
    grouping_ok(&g2, SL_GROUP_SHUFFLE, map, 5);
    uint32_t d1 = 77;
    cr_assert(eq(int, sl_grouping_route(&g1, 1, 0, &d1, 0), SL_ERANGE));
    cr_expect(eq(u32, route1(&g1, 1, 0), route1(&g2, 1, 0)));
    sl_grouping_fini(&g1);
    sl_grouping_fini(&g2);
    sl_partmap_destroy(&map);
}

/* ---- partial-key grouping -------------------------------------------------------------------- */

/* With a single live node, both PKG candidates of every one of the n keys are that node. */
static void pkg_single_node(const sl_partmap *map, const uint64_t *keys, size_t n, uint32_t node)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t a, b;
        sl_pkg_candidates(map, keys[i], &a, &b);
        cr_assert(eq(u32, a, node), "key %#llx", (unsigned long long)keys[i]);
        cr_assert(eq(u32, b, node), "key %#llx", (unsigned long long)keys[i]);
    }
}

/* The candidates: a is the fields node; b != a; both hold partitions; over 8 nodes the 56 ordered
 * pairs (a, b) are uniform (200,000 keys, 3,571 per pair: chi-square with 55 degrees of freedom
 * under 55 + 6 sqrt(110) = 118). One node, or one live node, gives a == b. */
Test(partitioner, pkg_candidates)
{
    enum { NKEYS = 200000 };
    uint64_t *keys = random_keys(21, NKEYS);
    for (uint32_t nnodes = 1; nnodes <= 16; nnodes++) {
        sl_partmap *map = new_map(256, nnodes);
        static uint32_t pairs[16 * 16];
        memset(pairs, 0, sizeof pairs);
        for (size_t i = 0; i < NKEYS; i++) {
            uint32_t a = UINT32_MAX, b = UINT32_MAX;
            sl_pkg_candidates(map, keys[i], &a, &b);
            cr_assert(eq(u32, a, sl_part_of(keys[i], 256) % nnodes));
            cr_assert(lt(u32, b, nnodes));
            if (nnodes > 1)
                cr_assert(ne(u32, a, b), "key %#llx on %u nodes", (unsigned long long)keys[i],
                          nnodes);
            else
                cr_assert(eq(u32, b, 0));
            pairs[a * 16 + b]++;
        }
        if (nnodes == 8) {
            uint32_t off_diag[56], k = 0;
            for (uint32_t a = 0; a < 8; a++)
                for (uint32_t b = 0; b < 8; b++)
                    if (a != b)
                        off_diag[k++] = pairs[a * 16 + b];
            double chi = chi_square(off_diag, 56);
            cr_log_info("PKG pairs on 8 nodes: chi-square %.1f (55 df)", chi);
            cr_expect(le(dbl, chi, chi_bound(55)));
        }
        sl_partmap_destroy(&map);
    }
    /* Four nodes but one partition: only node 0 is live, so a == b == 0. */
    sl_partmap *one = new_map(1, 4);
    pkg_single_node(one, keys, 1000, 0);
    sl_partmap_destroy(&one);
    free(keys);
}

/* A drained node is never a candidate, and b != a still holds over the remaining live nodes. */
Test(partitioner, pkg_candidates_skip_drained_nodes)
{
    enum { NKEYS = 100000 };
    uint64_t *keys = random_keys(22, NKEYS);
    sl_partmap *map = new_map(64, 4);
    for (uint32_t p = 2; p < 64; p += 4) /* node 2's partitions to node 3 */
        cr_assert(eq(int, sl_partmap_assign(map, p, 3), 0));
    uint32_t seen[4] = {0};
    for (size_t i = 0; i < NKEYS; i++) {
        uint32_t a, b;
        sl_pkg_candidates(map, keys[i], &a, &b);
        cr_assert(ne(u32, a, 2));
        cr_assert(ne(u32, b, 2));
        cr_assert(ne(u32, a, b));
        seen[b]++;
    }
    for (uint32_t n = 0; n < 4; n++)
        if (n != 2)
            cr_expect(gt(u32, seen[n], NKEYS / 10), "node %u is rarely a second candidate", n);
    /* Only node 3 left: a == b == 3. */
    for (uint32_t p = 0; p < 64; p++)
        cr_assert(eq(int, sl_partmap_assign(map, p, 3), 0));
    pkg_single_node(map, keys, 1000, 3);
    sl_partmap_destroy(&map);
    free(keys);
}

enum { ZKEYS = 10000, ZRECS = 1000000, ZNODES = 8 };

struct zipf_run {
    double fields_max_mean, pkg_max_mean, pkg_best_max_mean;
    uint32_t hot_a, hot_b;     /* the hottest key's candidates */
    uint32_t hot_on[ZNODES];   /* the hottest key's records per node under PKG */
    uint64_t pkg_load[ZNODES]; /* records per node under PKG, counted from the destinations */
    uint32_t *partial;         /* [ZNODES][ZKEYS]: PKG records per (node, rank) */
};

/* Routes the stream with fields and with PKG over a new 256-partition, 8-node map; counts loads
 * from the destinations returned; and computes the best max load any router limited to each
 * key's two candidates could reach: for every set S of nodes, the records of keys whose two
 * candidates both lie in S must land in S, so some node of S gets at least their number / |S|;
 * the largest such bound over the 255 sets (and the mean) is reachable by a fractional
 * assignment (Hall's theorem), so it is the optimum. The caller frees r->partial. */
static void zipf_route(const struct zipf_stream *z, struct zipf_run *r)
{
    memset(r, 0, sizeof *r);
    sl_partmap *map = new_map(256, ZNODES);
    sl_grouping fields, pkg;
    grouping_ok(&fields, SL_GROUP_FIELDS, map, 1);
    grouping_ok(&pkg, SL_GROUP_PARTIAL_KEY, map, 1);
    r->partial = calloc((size_t)ZNODES * z->nkeys, sizeof *r->partial);
    uint32_t *mask = malloc(z->nkeys * sizeof *mask);
    cr_assert(r->partial && mask);
    for (uint32_t k = 0; k < z->nkeys; k++) {
        uint32_t a, b;
        sl_pkg_candidates(map, z->keys[k], &a, &b);
        mask[k] = 1u << a | 1u << b;
        if (k == 0) {
            r->hot_a = a;
            r->hot_b = b;
        }
    }
    uint64_t fields_load[ZNODES] = {0};
    for (size_t i = 0; i < z->nrecs; i++) {
        uint32_t rank = z->ranks[i];
        uint32_t d = route1(&fields, z->keys[rank], 0), e = route1(&pkg, z->keys[rank], 0);
        cr_assert(lt(u32, d, ZNODES));
        cr_assert(lt(u32, e, ZNODES));
        cr_assert(ne(u32, mask[rank] & 1u << e, 0),
                  "record %zu (rank %u) went to node %u, "
                  "not one of its candidates",
                  i, rank, e);
        fields_load[d]++;
        r->pkg_load[e]++;
        r->partial[(size_t)e * z->nkeys + rank]++;
        if (rank == 0)
            r->hot_on[e]++;
    }
    double mean = (double)z->nrecs / ZNODES, best = mean;
    uint64_t fields_max = 0, pmax = 0;
    for (int n = 0; n < ZNODES; n++) {
        fields_max = fields_load[n] > fields_max ? fields_load[n] : fields_max;
        pmax = r->pkg_load[n] > pmax ? r->pkg_load[n] : pmax;
        cr_expect(eq(u64, sl_grouping_sent(&pkg, (uint32_t)n), r->pkg_load[n]));
    }
    for (uint32_t set = 1; set < 1u << ZNODES; set++) {
        double inside = 0;
        for (uint32_t k = 0; k < z->nkeys; k++)
            if ((mask[k] & set) == mask[k])
                inside += z->count[k];
        best = fmax(best, inside / __builtin_popcount(set));
    }
    r->fields_max_mean = fields_max / mean;
    r->pkg_max_mean = pmax / mean;
    r->pkg_best_max_mean = best / mean;
    free(mask);
    sl_grouping_fini(&fields);
    sl_grouping_fini(&pkg);
    sl_partmap_destroy(&map);
}

/* Makes the Zipf(skew) stream of `seed` over ZKEYS keys and ZRECS records, routes it (zipf_route)
 * and hands both to `checks`. */
static void zipf_test(uint64_t seed, double skew,
                      void (*checks)(const struct zipf_stream *z, const struct zipf_run *r))
{
    struct zipf_stream z;
    zipf_make(&z, seed, ZKEYS, skew, ZRECS);
    struct zipf_run r;
    zipf_route(&z, &r);
    checks(&z, &r);
    free(r.partial);
    zipf_free(&z);
}

/* Zipf(1.3) over 10,000 keys, 1,000,000 records, 8 nodes. The hottest key has 26.8% of the
 * records, more than the 2/8 = 25% that two nodes can absorb at the mean, so no two-choice
 * grouping reaches max/mean 1.0 here: the hottest key's two candidates carry at least
 * 26.8% / 2 = 1.07 x the mean, and more when other hot keys draw one or both of the same nodes.
 * Measured with this file's generators on 43 key sets (seeds 12345, 777, 4242, 1..40; throwaway
 * program, 2026-11-21, 2-core VM): PKG max/mean 1.103 to 1.610, never more than 0.03% above the
 * optimum computed in zipf_route; fields 2.46 to 3.74, at least 1.9 x PKG's; the hottest key's
 * smaller share 43.3% to 50%. On this seed: PKG 1.363 (optimum 1.363), fields 3.464, shares
 * 50.8% / 49.2%. So a fixed bound such as max/mean <= 1.10 fails for most key sets of this
 * distribution whatever the router does; what PKG can promise, and what is asserted, is:
 * - the hottest key's records go only to its two candidates (checked for every record of every
 *   key in zipf_route), each with more than 30% of them;
 * - PKG's max load is within 1% of the optimum for this stream (30 x the largest measured excess);
 * - PKG max/mean <= 1.7 (above the worst measured key set) and fields' max/mean over 1.5 x PKG's.
 * The tight bound holds where PKG's analysis says it should (hottest key under 2/n): see
 * pkg_balances_zipf_1_0. */
static void hot_key_checks(const struct zipf_stream *z, const struct zipf_run *r)
{
    cr_log_info("Zipf 1.3: hottest key %.4f of records; fields max/mean %.4f; PKG %.4f "
                "(optimum %.4f); hottest key on its candidates %u + %u",
                z->count[0] / (double)ZRECS, r->fields_max_mean, r->pkg_max_mean,
                r->pkg_best_max_mean, r->hot_on[r->hot_a], r->hot_on[r->hot_b]);
    cr_assert(ne(u32, r->hot_a, r->hot_b));
    cr_expect(eq(u32, r->hot_on[r->hot_a] + r->hot_on[r->hot_b], z->count[0]));
    cr_expect(gt(dbl, r->hot_on[r->hot_a] / (double)z->count[0], 0.30));
    cr_expect(gt(dbl, r->hot_on[r->hot_b] / (double)z->count[0], 0.30));
    cr_expect(le(dbl, r->pkg_max_mean, 1.01 * r->pkg_best_max_mean));
    cr_expect(le(dbl, r->pkg_max_mean, 1.7));
    cr_expect(gt(dbl, r->fields_max_mean, 1.5 * r->pkg_max_mean));
}

Test(partitioner, pkg_splits_the_hot_key_zipf_1_3)
{
    zipf_test(12345, 1.3, hot_key_checks);
}

/* Zipf(1.0) over 10,000 keys, 1,000,000 records, 8 nodes: the hottest key has 10.2% of the
 * records, under 2/8, and PKG balances the nodes: max/mean 1.0000 to 4 decimals on each of 23
 * key sets measured as above (seeds 12345, 777, 4242, 1..20), while fields reaches 1.45 to 2.18
 * (1.914 on this seed). Asserted: PKG max/mean <= 1.01 (the brief asked for 1.10; the measured
 * excess is under 0.0001) and fields' at least 0.25 higher. */
static void balance_checks(const struct zipf_stream *z, const struct zipf_run *r)
{
    cr_log_info("Zipf 1.0: hottest key %.4f; fields max/mean %.4f; PKG %.4f (optimum %.4f)",
                z->count[0] / (double)ZRECS, r->fields_max_mean, r->pkg_max_mean,
                r->pkg_best_max_mean);
    cr_expect(le(dbl, r->pkg_max_mean, 1.01));
    cr_expect(gt(dbl, r->fields_max_mean, r->pkg_max_mean + 0.25));
}

Test(partitioner, pkg_balances_zipf_1_0)
{
    zipf_test(4242, 1.0, balance_checks);
}

/* Exactness: the per-node partial counts, summed per key downstream, equal a direct count of the
 * whole stream per key; every partial count sits on one of the key's two candidates; nothing is
 * lost or counted twice. */
static void merge_checks(const struct zipf_stream *z, const struct zipf_run *r)
{
    sl_partmap *map = new_map(256, ZNODES);
    uint64_t total = 0;
    uint32_t split = 0; /* keys whose records went to both candidates */
    for (uint32_t k = 0; k < ZKEYS; k++) {
        uint32_t a, b, sum = 0, holders = 0;
        sl_pkg_candidates(map, z->keys[k], &a, &b);
        for (uint32_t n = 0; n < ZNODES; n++) {
            uint32_t part = r->partial[(size_t)n * ZKEYS + k];
            if (part && n != a && n != b)
                cr_assert(eq(u32, part, 0),
                          "key rank %u has %u records on node %u, not a "
                          "candidate (%u, %u)",
                          k, part, n, a, b);
            sum += part;
            holders += part > 0;
        }
        cr_assert(eq(u32, sum, z->count[k]), "key rank %u", k);
        total += sum;
        split += holders == 2;
    }
    cr_expect(eq(u64, total, ZRECS));
    uint64_t load_total = 0;
    for (int n = 0; n < ZNODES; n++)
        load_total += r->pkg_load[n];
    cr_expect(eq(u64, load_total, ZRECS));
    cr_log_info("keys split over both candidates: %u of %u", split, ZKEYS);
    cr_expect(gt(u32, split, 100)); /* the merge was actually exercised */
    sl_partmap_destroy(&map);
}

Test(partitioner, pkg_partial_counts_merge_exactly)
{
    zipf_test(777, 1.3, merge_checks);
}
