/* Sorting rows by id; see idsort.h. */
#include "idsort.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

void sl_id_prefix(const char *id, size_t len, uint64_t pre[2])
{
    unsigned char b[16] = {0};
    memcpy(b, id, len < 16 ? len : 16);
    for (int w = 0; w < 2; w++) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | b[w * 8 + i];
        pre[w] = v;
    }
}

void sl_id_hex(uint64_t key, char buf[19])
{
    snprintf(buf, 19, "0x%016" PRIx64, key);
}

/* The tail of two ids after their equal 16-byte prefixes, their lengths, then the windows. */
static int cmp_rest(const char *a, size_t alen, int64_t aw, const char *b, size_t blen, int64_t bw)
{
    size_t n = alen < blen ? alen : blen;
    if (n > 16) {
        int c = memcmp(a + 16, b + 16, n - 16);
        if (c)
            return c;
    }
    if (alen != blen)
        return alen < blen ? -1 : 1;
    if (aw != bw)
        return aw < bw ? -1 : 1;
    return 0;
}

int sl_named_cmp(const struct sl_named *x, const struct sl_named *y)
{
    if (x->pre[0] != y->pre[0])
        return x->pre[0] < y->pre[0] ? -1 : 1;
    if (x->pre[1] != y->pre[1])
        return x->pre[1] < y->pre[1] ? -1 : 1;
    return cmp_rest(x->is_hex ? x->hex : x->id, x->len, x->row->window_start,
                    y->is_hex ? y->hex : y->id, y->len, y->row->window_start);
}

struct rows_ctx {
    const sl_row *rows;
    const sl_row *const *pick;
};

static const sl_row *row_at(const struct rows_ctx *c, uint32_t at)
{
    return c->pick ? c->pick[at] : &c->rows[at];
}

/* qsort_r comparator of two keys whose prefixes tie. */
static int cmp_tied(const void *a, const void *b, void *ctx)
{
    const struct sl_idkey *x = a, *y = b;
    const sl_row *rx = row_at(ctx, x->at), *ry = row_at(ctx, y->at);
    char hx[19], hy[19];
    const char *ix = x->id, *iy = y->id;
    if (!ix) {
        sl_id_hex(rx->key, hx);
        ix = hx;
    }
    if (!iy) {
        sl_id_hex(ry->key, hy);
        iy = hy;
    }
    return cmp_rest(ix, x->len, rx->window_start, iy, y->len, ry->window_start);
}

/* The byte of a key's prefix that radix digit d reads: 0 is the last byte of pre[1], 15 the
 * first byte of pre[0]. */
static inline unsigned digit(const struct sl_idkey *k, int d)
{
    return (unsigned)(k->pre[d < 8 ? 1 : 0] >> (8 * (d & 7))) & 0xffu;
}

int sl_idkey_sort(struct sl_idkey *k, size_t n, const sl_row *rows, const sl_row *const *pick)
{
    if (n < 2)
        return 0;
    struct sl_idkey *t = malloc(n * sizeof *t);
    size_t(*count)[256] = calloc(16, sizeof *count);
    if (!t || !count) {
        free(t);
        free(count);
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) /* one pass counts every digit's values */
        for (int d = 0; d < 16; d++)
            count[d][digit(&k[i], d)]++;
    /* least significant digit first, each pass stable; a digit all keys share is skipped */
    struct sl_idkey *from = k, *to = t;
    for (int d = 0; d < 16; d++) {
        if (count[d][digit(&from[0], d)] == n)
            continue;
        size_t pos = 0;
        for (int b = 0; b < 256; b++) {
            size_t c = count[d][b];
            count[d][b] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++)
            to[count[d][digit(&from[i], d)]++] = from[i];
        struct sl_idkey *sw = from;
        from = to;
        to = sw;
    }
    if (from != k)
        memcpy(k, from, n * sizeof *k);
    free(count);
    free(t);
    /* keys whose prefixes tie: by the rest of the id, its length, then the window */
    struct rows_ctx ctx = {rows, pick};
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && k[b].pre[0] == k[a].pre[0] && k[b].pre[1] == k[a].pre[1])
            b++;
        if (b - a > 1)
            qsort_r(k + a, b - a, sizeof *k, cmp_tied, &ctx);
        a = b;
    }
    return 0;
}
