/* Tests of host/io/slice.h: a file dealt into parts for ingest on every node. The parts' bytes,
 * read back one after another, must be the file's bytes exactly (every line once, in order, never
 * cut), checked against the file itself for many sizes, line lengths and part counts. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "slice.h"
#include "util.h"

/* Reads part `part` of `n` of path whole; its prefix length in *prefix. */
static char *read_part(const char *path, uint32_t part, uint32_t n, int csv, size_t *len,
                       sl_slice_info *info)
{
    FILE *f = NULL;
    char msg[256];
    sl_schema schema;
    sl_schema_defaults(&schema);
    int rc = sl_slice_open(path, part, n, csv ? &schema : NULL, &f, info, msg, sizeof msg);
    cr_assert(eq(int, rc, 0), "%s", msg);
    size_t cap = 4096, got = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + got, 1, cap - got, f)) > 0) {
        got += r;
        if (got == cap)
            buf = realloc(buf, cap *= 2);
    }
    cr_assert(eq(int, ferror(f), 0));
    fclose(f);
    *len = got;
    return buf;
}

Test(slice, parts_cover_every_line_once)
{
    char dir[512], path[600];
    tu_mkdtemp(dir, sizeof dir, "slice");
    snprintf(path, sizeof path, "%s/in.txt", dir);
    uint64_t seed = 7;
    for (int trial = 0; trial < 40; trial++) {
        /* lines of 0 to maxlen bytes, sometimes one longer than a part; maybe no final '\n' */
        size_t maxlen = trial % 4 == 0 ? 3 : trial % 4 == 1 ? 40 : trial % 4 == 2 ? 300 : 70000;
        size_t nlines = (size_t)(splitmix64(&seed) % 400);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        for (size_t i = 0; i < nlines; i++) {
            size_t l = (size_t)(splitmix64(&seed) % (maxlen + 1));
            for (size_t k = 0; k < l; k++)
                fputc('a' + (int)(splitmix64(&seed) % 26), f);
            if (i + 1 < nlines || trial % 3)
                fputc('\n', f);
        }
        fclose(f);
        size_t wlen;
        char *want = tu_read_file(path, &wlen);
        for (uint32_t n = 1; n <= 7; n++) {
            char *all = malloc(wlen + 1);
            size_t at = 0;
            uint64_t next_lo = 0;
            for (uint32_t p = 0; p < n; p++) {
                size_t len;
                sl_slice_info info;
                char *got = read_part(path, p, n, 0, &len, &info);
                cr_assert(eq(u64, info.lo, next_lo), "trial %d, part %u of %u", trial, p, n);
                cr_assert(eq(sz, info.prefix, 0));
                cr_assert(eq(u64, info.hi - info.lo, len), "trial %d, part %u of %u", trial, p, n);
                /* a part starts at a line start */
                cr_assert(info.lo == 0 || want[info.lo - 1] == '\n', "trial %d part %u/%u", trial,
                          p, n);
                cr_assert(le(sz, at + len, wlen));
                memcpy(all + at, got, len);
                at += len;
                next_lo = info.hi;
                free(got);
            }
            cr_assert(eq(sz, at, wlen), "trial %d, %u parts", trial, n);
            cr_assert(eq(int, memcmp(all, want, wlen), 0), "trial %d, %u parts", trial, n);
            free(all);
        }
        free(want);
    }
}

Test(slice, csv_header_repeated_in_later_parts)
{
    char dir[512], path[600];
    tu_mkdtemp(dir, sizeof dir, "slice");
    snprintf(path, sizeof path, "%s/in.csv", dir);
    const char *hdr = "event_time,ad_id,event_type\n";
    FILE *f = fopen(path, "w");
    fputs(hdr, f);
    for (int i = 0; i < 1000; i++)
        fprintf(f, "%d,ad-%d,view\n", i, i % 17);
    fclose(f);
    size_t wlen;
    char *want = tu_read_file(path, &wlen);
    size_t hl = strlen(hdr), body = 0;
    for (uint32_t p = 0; p < 3; p++) {
        size_t len;
        sl_slice_info info;
        char *got = read_part(path, p, 3, 1, &len, &info);
        if (p == 0) {
            cr_assert(eq(sz, info.prefix, 0));
        } else {
            cr_assert(eq(sz, info.prefix, hl));
            cr_assert(eq(int, memcmp(got, hdr, hl), 0));
        }
        cr_assert(eq(sz, len - info.prefix, info.hi - info.lo));
        cr_assert(eq(int, memcmp(got + info.prefix, want + info.lo, info.hi - info.lo), 0));
        body += len - info.prefix;
        free(got);
    }
    cr_assert(eq(sz, body, wlen));
    /* without a header (the first line is data), nothing is repeated */
    f = fopen(path, "w");
    for (int i = 0; i < 1000; i++)
        fprintf(f, "ad-%d,view,%d\n", i % 17, i);
    fclose(f);
    for (uint32_t p = 0; p < 3; p++) {
        size_t len;
        sl_slice_info info;
        free(read_part(path, p, 3, 1, &len, &info));
        cr_assert(eq(sz, info.prefix, 0));
    }
    free(want);
}

Test(slice, refuses_what_cannot_be_split)
{
    FILE *f = NULL;
    sl_slice_info info;
    char msg[256];
    cr_assert(
        eq(int, sl_slice_open("/nonexistent/x", 0, 2, NULL, &f, &info, msg, sizeof msg), SL_EIO));
    cr_assert_not_null(strstr(msg, "/nonexistent/x"));
    cr_assert(eq(int, sl_slice_open("/dev/null", 0, 2, NULL, &f, &info, msg, sizeof msg), SL_EIO));
    cr_assert_not_null(strstr(msg, "not a regular file"), "%s", msg);
    cr_assert(
        eq(int, sl_slice_open("/etc/hostname", 2, 2, NULL, &f, &info, msg, sizeof msg), SL_EINVAL));
    cr_assert_null(f);
}
