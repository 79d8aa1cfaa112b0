/* The sink's sort of rows by id then window (host/io/idsort.c) against a plain qsort of the ids'
 * whole texts, over ids that share long prefixes, ids longer than the 16 bytes the radix passes
 * read, one id in several windows, rows without an id, and rows picked through pointers. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idsort.h"

struct ref {
    char text[64];
    size_t len;
    int64_t window;
};

/* memcmp of the common bytes, then the shorter first, then the window: the order the CSV sink
 * promises, written without prefixes. */
static int cmp_ref(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->window < y->window ? -1 : x->window > y->window;
}

/* An id from one of a few families: short ids, "ad-" and digits, 20-to-40-byte ids that share
 * their first 16 bytes, bytes above 0x7f, and ids that are prefixes of others. */
static size_t make_id(char *buf, unsigned r)
{
    switch (r % 5) {
    case 0:
        return (size_t)sprintf(buf, "%c", 'a' + (int)(r / 5 % 26));
    case 1:
        return (size_t)sprintf(buf, "ad-%08u", r / 5 % 5000);
    case 2:
        return (size_t)sprintf(buf, "campaign-1234567-%u-%s", r / 5 % 300,
                               r / 1500 % 2 ? "tail" : "x");
    case 3: {
        size_t n = 1 + r / 5 % 24;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(0x7e + (r >> (i % 16)) % 4);
        buf[n] = '\0';
        return n;
    }
    default:
        return (size_t)sprintf(buf, "campaign-1234567"); /* a prefix of case 2's ids */
    }
}

static void check_sort(size_t n, unsigned seed, int use_pick, int with_hex)
{
    srand(seed);
    sl_row *rows = calloc(n ? n : 1, sizeof *rows);
    const sl_row **pick = calloc(n ? n : 1, sizeof *pick);
    struct sl_idkey *k = calloc(n ? n : 1, sizeof *k);
    char(*ids)[64] = calloc(n ? n : 1, sizeof *ids);
    struct ref *want = calloc(n ? n : 1, sizeof *want);
    cr_assert(rows && pick && k && ids && want);
    size_t *perm = calloc(n ? n : 1, sizeof *perm); /* pick: the rows in another order */
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rand() % i, t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < n; i++) {
        const sl_row *r = use_pick ? &rows[perm[i]] : &rows[i];
        pick[i] = r;
        sl_row *w = (sl_row *)r;
        /* ids repeat with other windows: (id, window) pairs stay distinct through i */
        w->window_start = (int64_t)(i % 7) * 1000 - 3000;
        w->key = ((uint64_t)rand() << 32) ^ (uint64_t)rand() ^ i;
        size_t len = make_id(ids[i], (unsigned)rand() ^ (unsigned)(i / 7) * 2654435761u);
        if (with_hex && rand() % 50 == 0) {
            k[i].id = NULL;
            sl_id_hex(r->key, want[i].text);
            len = strlen(want[i].text);
        } else {
            k[i].id = ids[i];
            memcpy(want[i].text, ids[i], len);
        }
        k[i].len = (uint32_t)len;
        k[i].at = (uint32_t)i;
        sl_id_prefix(k[i].id ? k[i].id : want[i].text, len, k[i].pre);
        want[i].len = len;
        want[i].window = r->window_start;
    }
    /* distinct (id, window) pairs: drop duplicates' windows apart by their index */
    for (size_t i = 0; i < n; i++) {
        sl_row *w = (sl_row *)pick[i];
        w->window_start += (int64_t)i * 10000;
        want[i].window = w->window_start;
    }
    cr_assert_eq(sl_idkey_sort(k, n, use_pick ? NULL : rows, use_pick ? pick : NULL), 0);
    qsort(want, n, sizeof *want, cmp_ref);
    unsigned char *seen = calloc(n ? n : 1, 1);
    for (size_t i = 0; i < n; i++) {
        cr_assert_lt(k[i].at, n);
        cr_assert_eq(seen[k[i].at], 0, "row %u twice (seed %u)", k[i].at, seed);
        seen[k[i].at] = 1;
        const sl_row *r = use_pick ? pick[k[i].at] : &rows[k[i].at];
        char hex[19];
        const char *id = k[i].id;
        if (!id) {
            sl_id_hex(r->key, hex);
            id = hex;
        }
        cr_assert(k[i].len == want[i].len && memcmp(id, want[i].text, want[i].len) == 0 &&
                      r->window_start == want[i].window,
                  "place %zu of %zu: got \"%.*s\" window %" PRId64 ", want \"%.*s\" window %" PRId64
                  " (seed %u)",
                  i, n, (int)k[i].len, id, r->window_start, (int)want[i].len, want[i].text,
                  want[i].window, seed);
    }
    free(seen);
    free(perm);
    free(rows);
    free(pick);
    free(k);
    free(ids);
    free(want);
}

Test(idsort, matches_a_plain_sort_of_the_ids)
{
    const size_t sizes[] = {0, 1, 2, 3, 17, 256, 1000, 65537};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (unsigned seed = 1; seed <= 3; seed++)
            check_sort(sizes[s], seed * 7919u + (unsigned)s, 0, 0);
}

Test(idsort, rows_through_pointers_and_rows_without_an_id)
{
    for (unsigned seed = 1; seed <= 4; seed++) {
        check_sort(5000, seed, 1, 0);
        check_sort(5000, seed + 100, 1, 1);
        check_sort(5000, seed + 200, 0, 1);
    }
}

/* Ids that differ only past their 16th byte, and only in their length: the radix passes see
 * them as one value and the comparison orders them. */
Test(idsort, ties_in_the_first_16_bytes)
{
    static const char *const texts[] = {"0123456789abcdefZ", "0123456789abcdef",
                                        "0123456789abcdefA", "0123456789abcdefAA",
                                        "0123456789abcde",   "0123456789abcdef\x01"};
    enum { N = sizeof texts / sizeof texts[0] };
    sl_row rows[N * 2];
    struct sl_idkey k[N * 2];
    for (size_t i = 0; i < N * 2; i++) {
        rows[i] = (sl_row){.key = i + 1, .window_start = i < N ? 5 : -5};
        k[i] = (struct sl_idkey){
            .id = texts[i % N], .len = (uint32_t)strlen(texts[i % N]), .at = (uint32_t)i};
        sl_id_prefix(k[i].id, k[i].len, k[i].pre);
    }
    cr_assert_eq(sl_idkey_sort(k, N * 2, rows, NULL), 0);
    static const char *const order[] = {"0123456789abcde",      "0123456789abcdef",
                                        "0123456789abcdef\x01", "0123456789abcdefA",
                                        "0123456789abcdefAA",   "0123456789abcdefZ"};
    for (size_t i = 0; i < N * 2; i++) {
        cr_assert_str_eq(k[i].id, order[i / 2], "place %zu", i);
        cr_assert_eq(rows[k[i].at].window_start, i % 2 ? 5 : -5, "place %zu", i);
    }
}
