/* Tests of host/sink.h: the CSV result sink. Expected text is written out by hand, or (for the
 * randomized test) built by this file's own sort and RFC 4180 quoting, never by the sink's. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "addict.h"
#include "err.h"
#include "sink.h"
#include "util.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* Writes bytes with C escapes for a failure message (into a static buffer). */
static const char *show(const char *s, size_t n)
{
    static char out[8192];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < sizeof out; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            k += (size_t)snprintf(out + k, sizeof out - k, "\\n\n");
        else if (c >= 0x20 && c < 0x7f)
            out[k++] = (char)c;
        else
            k += (size_t)snprintf(out + k, sizeof out - k, "\\x%02x", c);
    }
    out[k] = '\0';
    return out;
}

/* Asserts the content of f equals the len bytes of want. */
static void expect_file(FILE *f, const char *want, size_t want_len)
{
    size_t len;
    char *got = tu_read_stream(f, &len);
    if (len != want_len || memcmp(got, want, len) != 0) {
        char *g = strdup(show(got, len));
        cr_fatal("CSV text differs\n--- got (%zu bytes):\n%s\n--- want (%zu bytes):\n%s", len, g,
                 want_len, show(want, want_len));
        free(g);
    }
    free(got);
}

#define EXPECT_TEXT(f, lit) expect_file((f), (lit), strlen(lit))

static uint64_t intern(sl_addict *d, const char *id, size_t len)
{
    uint64_t k = 0;
    int rc = sl_addict_intern(d, id, len, &k);
    cr_assert(eq(int, rc, 0), "intern %s: %s", show(id, len), sl_strerror(rc));
    return k;
}

#define KEY(d, lit) intern((d), (lit), strlen(lit))

/* The built-in PEs' columns, as kernels/pe_*.cl declare them (an independent copy: the CSV the
 * tests expect follows from these). */
static enum sl_pe_kind cur_kind;

static sl_sink *new_sink(FILE *out, enum sl_pe_kind kind, const sl_addict *d, int snapshots)
{
    static const char *const spec[] = {"count:int", "count:int,sum:g",
                                       "impressions:int,clicks:int,ctr:g", "count:int"};
    sl_columns cols;
    char err[128];
    cr_assert(eq(int, sl_columns_parse(spec[kind], &cols, err, sizeof err), 0), "%s", err);
    sl_sink *s = sl_sink_new(out, d, snapshots, 1);
    if (s)
        sl_sink_set_layout(s, &cols, kind == SL_PE_WINDOW);
    cur_kind = kind;
    return s;
}

/* A row in the built-ins' layout: n0 is the first count, n1 clicks (ctr), x the ctr (ctr) or
 * the sum (sum). */
static sl_row row(uint64_t key, int64_t ws, uint64_t n0, uint64_t n1, double x)
{
    sl_row r = {.key = key, .window_start = ws};
    r.v[0] = (double)n0;
    if (cur_kind == SL_PE_SUM) {
        r.v[1] = x;
    } else {
        r.v[1] = (double)n1;
        r.v[2] = x;
    }
    return r;
}

struct fixture {
    sl_addict *dict;
    FILE *out;
    sl_sink *sink;
};

static void open_fixture(struct fixture *fx, enum sl_pe_kind kind, int snapshots)
{
    fx->dict = sl_addict_new();
    cr_assert_not_null(fx->dict);
    fx->out = tmpfile();
    cr_assert_not_null(fx->out);
    fx->sink = new_sink(fx->out, kind, fx->dict, snapshots);
    cr_assert_not_null(fx->sink);
}

static void close_fixture(struct fixture *fx)
{
    sl_sink_destroy(&fx->sink);
    cr_assert_null(fx->sink);
    fclose(fx->out);
    sl_addict_destroy(&fx->dict);
}

static void emit(sl_sink *s, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    int rc = sl_sink_emit(s, kind, rows, n);
    cr_assert(eq(int, rc, 0), "sl_sink_emit: %s", sl_strerror(rc));
}

/* A row of the tests' tables: the id, and the rest as row() takes it. */
struct krow {
    const char *id;
    int64_t ws;
    uint64_t n0, n1;
    double x;
};

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

/* Interns the ids of rows[0..n) into the fixture's dictionary, in table order, and hands the
 * rows to its sink as one final emission. */
static void emit_final(struct fixture *fx, const struct krow *rows, size_t n)
{
    sl_row *r = calloc(n, sizeof *r);
    cr_assert_not_null(r);
    for (size_t i = 0; i < n; i++)
        r[i] = row(KEY(fx->dict, rows[i].id), rows[i].ws, rows[i].n0, rows[i].n1, rows[i].x);
    emit(fx->sink, SL_EMIT_FINAL, r, n);
    free(r);
}

/* A sink for PE kind `kind` (snapshots on or off) given rows[0..n) as one final emission
 * writes exactly `want`. */
static void expect_final(enum sl_pe_kind kind, int snapshots, const struct krow *rows, size_t n,
                         const char *want)
{
    struct fixture fx;
    open_fixture(&fx, kind, snapshots);
    emit_final(&fx, rows, n);
    EXPECT_TEXT(fx.out, want);
    close_fixture(&fx);
}

/* ---- one emission per PE kind --------------------------------------------------------------- */

/* Byte order of the ids used below: "B" (0x42) < "a" < "a-2" ('-' 0x2d) < "a1" ('1' 0x31) <
 * "ab" < "b"; "a" comes before its extensions. Rows are handed over in scrambled order. */
Test(sink, ctr_rows)
{
    static const struct krow rows[] = {
        {"b", 0, 4, 1, 1.0 / 4.0},         /* exact in binary: 0.25 */
        {"ab", 0, 3, 2, 2.0 / 3.0},        /* 16 digits read back exactly */
        {"a", 0, 3, 1, 1.0 / 3.0},         /* 16 digits too */
        {"B", 0, 0, 0, 0.0},               /* no impressions */
        {"a1", 0, 7, 7, 1.0},              /* every view clicked */
        {"a-2", 0, 1000000, 1, 1e-6},      /* the nearest double to 1e-6 */
        {"a-3", 0, 3000000, 1, 1.0 / 3e6}, /* 17 digits are needed */
    };
    /* written out by hand: the shortest decimal each double reads back from */
    expect_final(SL_PE_CTR, 0, rows, NROWS(rows),
                 "ad_id,impressions,clicks,ctr\n"
                 "B,0,0,0\n"
                 "a,3,1,0.3333333333333333\n"
                 "a-2,1000000,1,1e-06\n"
                 "a-3,3000000,1,3.3333333333333335e-07\n"
                 "a1,7,7,1\n"
                 "ab,3,2,0.6666666666666666\n"
                 "b,4,1,0.25\n");
}

Test(sink, count_rows)
{
    static const struct krow rows[] = {
        {"zz", 0, 1, 0, 0.0},
        {"ad-10", 0, 9007199254740992u, 0, 0.0}, /* 2^53: counts travel as doubles, exact to here */
        {"ad-9", 0, 0, 0, 0.0},
        {"ad-1", 0, 42, 0, 0.0},
    };
    /* byte order, not numeric: "ad-1" < "ad-10" < "ad-9" */
    expect_final(SL_PE_COUNT, 0, rows, NROWS(rows),
                 "ad_id,count\n"
                 "ad-1,42\n"
                 "ad-10,9007199254740992\n"
                 "ad-9,0\n"
                 "zz,1\n");
}

Test(sink, sum_rows)
{
    static const struct krow rows[] = {
        {"m", 0, 3, 0, 2.5},       {"k", 0, 2, 0, -1.25}, /* negative sums keep their sign */
        {"l", 0, 1, 0, 1234567.0},                        /* integral: no point, no zeros */
        {"j", 0, 4, 0, 0.1 + 0.2}, /* not the double nearest 0.3: all 17 digits */
        {"i", 0, 1, 0, 1.0 / 3.0},
    };
    expect_final(SL_PE_SUM, 0, rows, NROWS(rows),
                 "ad_id,count,sum\n"
                 "i,1,0.3333333333333333\n"
                 "j,4,0.30000000000000004\n"
                 "k,2,-1.25\n"
                 "l,1,1234567\n"
                 "m,3,2.5\n");
}

/* Window rows sort by id, then by window start (negative starts first). */
Test(sink, window_rows)
{
    struct fixture fx;
    open_fixture(&fx, SL_PE_WINDOW, 0);
    uint64_t a = KEY(fx.dict, "a"), b = KEY(fx.dict, "b");
    sl_row rows[] = {
        row(b, 20000, 1, 0, 0.0),  row(a, 10000, 5, 0, 0.0), row(a, -10000, 2, 0, 0.0),
        row(b, -20000, 3, 0, 0.0), row(a, 0, 7, 0, 0.0),     row(b, 1767225600000, 9, 0, 0.0),
    };
    emit(fx.sink, SL_EMIT_FINAL, rows, sizeof rows / sizeof rows[0]);
    EXPECT_TEXT(fx.out, "ad_id,window_start,count\n"
                        "a,-10000,2\n"
                        "a,0,7\n"
                        "a,10000,5\n"
                        "b,-20000,3\n"
                        "b,20000,1\n"
                        "b,1767225600000,9\n");
    close_fixture(&fx);
}

/* The header is written once, before the first rows; an empty emission later adds nothing. */
Test(sink, header_once)
{
    struct fixture fx;
    open_fixture(&fx, SL_PE_COUNT, 0);
    sl_row r1 = row(KEY(fx.dict, "x"), 0, 1, 0, 0.0);
    emit(fx.sink, SL_EMIT_WINDOWS, &r1, 1);
    emit(fx.sink, SL_EMIT_WINDOWS, &r1, 0);
    sl_row r2 = row(KEY(fx.dict, "w"), 0, 2, 0, 0.0);
    emit(fx.sink, SL_EMIT_FINAL, &r2, 1);
    EXPECT_TEXT(fx.out, "ad_id,count\n"
                        "x,1\n"
                        "w,2\n");
    size_t n = 0;
    sl_sink_rows(fx.sink, &n);
    cr_assert(eq(sz, n, 2));
    close_fixture(&fx);
}

/* Empty input: the engine's final emission has no rows (it passes its row buffer and n = 0).
 * The file gets the header alone, and nothing is kept. */
Test(sink, empty_final_emission)
{
    struct fixture fx;
    open_fixture(&fx, SL_PE_CTR, 0);
    sl_row unused[1];
    emit(fx.sink, SL_EMIT_FINAL, unused, 0);
    EXPECT_TEXT(fx.out, "ad_id,impressions,clicks,ctr\n");
    size_t n = 99;
    sl_sink_rows(fx.sink, &n);
    cr_assert(eq(sz, n, 0));
    close_fixture(&fx);
}

/* ---- RFC 4180 quoting ------------------------------------------------------------------------ */

/* A field holding a comma, quote, CR or LF is enclosed in quotes, with quotes doubled; other
 * bytes (spaces, tabs, semicolons, non-ASCII) are written as they are. */
Test(sink, quoting)
{
    static const struct krow rows[] = {
        {"plain", 0, 1, 0, 0.0},       {"a,b", 0, 2, 0, 0.0},
        {"say \"hi\"", 0, 3, 0, 0.0},  {"line1\nline2", 0, 4, 0, 0.0},
        {"cr\r", 0, 5, 0, 0.0},        {"\"", 0, 6, 0, 0.0},
        {",", 0, 7, 0, 0.0},           {"sp ace\ttab;semi", 0, 8, 0, 0.0},
        {"caf\xc3\xa9", 0, 9, 0, 0.0}, {"\"\"x,\"\"", 0, 10, 0, 0.0}};
    /* byte order: "\"" (0x22) < "\"\"x,..." < "," (0x2c) < "a,b" < "caf\xc3\xa9" < "cr\r" <
     * "line1..." < "plain" < "say..." < "sp ace..." */
    expect_final(SL_PE_COUNT, 0, rows, NROWS(rows),
                 "ad_id,count\n"
                 "\"\"\"\",6\n"
                 "\"\"\"\"\"x,\"\"\"\"\",10\n"
                 "\",\",7\n"
                 "\"a,b\",2\n"
                 "caf\xc3\xa9,9\n"
                 "\"cr\r\",5\n"
                 "\"line1\nline2\",4\n"
                 "plain,1\n"
                 "\"say \"\"hi\"\"\",3\n"
                 "sp ace\ttab;semi,8\n");
}

/* An RFC 4180 field decoder written for this test: reads one field at *p (quoted or not) up to
 * the next unquoted ',' or '\n', stores its bytes in out, returns the length. */
static size_t decode_field(const char **p, const char *end, char *out)
{
    const char *s = *p;
    size_t n = 0;
    if (s < end && *s == '"') {
        s++;
        while (s < end) {
            if (*s == '"') {
                if (s + 1 < end && s[1] == '"') {
                    out[n++] = '"';
                    s += 2;
                    continue;
                }
                s++;
                break;
            }
            out[n++] = *s++;
        }
    } else {
        while (s < end && *s != ',' && *s != '\n')
            out[n++] = *s++;
    }
    *p = s;
    return n;
}

/* Ids with NUL bytes survive a write and an RFC 4180 read (the header promises quoting for comma,
 * quote, CR and LF; whether a NUL alone causes quoting is not specified, so only the decoded
 * bytes are compared). */
Test(sink, ids_with_nul_bytes_round_trip)
{
    struct fixture fx;
    open_fixture(&fx, SL_PE_COUNT, 0);
    static const char id1[] = "a\0b", id2[] = "a\0,\"", id3[] = "\0";
    sl_row rows[] = {
        row(intern(fx.dict, id1, 3), 0, 1, 0, 0.0),
        row(intern(fx.dict, id2, 4), 0, 2, 0, 0.0),
        row(intern(fx.dict, id3, 1), 0, 3, 0, 0.0),
    };
    emit(fx.sink, SL_EMIT_FINAL, rows, 3);
    size_t len;
    char *text = tu_read_stream(fx.out, &len);
    const char *p = text, *end = text + len;
    const char *hdr = "ad_id,count\n";
    cr_assert(ge(sz, len, strlen(hdr)));
    cr_assert(eq(int, memcmp(p, hdr, strlen(hdr)), 0), "%s", show(text, len));
    p += strlen(hdr);
    /* byte order: "\0" < "a\0,\"" < "a\0b" */
    const struct {
        const char *id;
        size_t len;
        const char *count;
    } want[] = {{id3, 1, "3"}, {id2, 4, "2"}, {id1, 3, "1"}};
    for (size_t i = 0; i < 3; i++) {
        char field[64];
        size_t n = decode_field(&p, end, field);
        cr_assert(eq(sz, n, want[i].len), "row %zu in %s", i, show(text, len));
        cr_assert(eq(int, memcmp(field, want[i].id, n), 0), "row %zu in %s", i, show(text, len));
        cr_assert(lt(ptr, (void *)p, (void *)end));
        cr_assert(eq(chr, *p, ','), "row %zu in %s", i, show(text, len));
        p++;
        n = decode_field(&p, end, field);
        field[n] = '\0';
        cr_assert_str_eq(field, want[i].count, "row %zu", i);
        cr_assert(eq(chr, *p, '\n'));
        p++;
    }
    cr_assert(eq(ptr, (void *)p, (void *)end), "trailing bytes in %s", show(text, len));
    free(text);
    close_fixture(&fx);
}

/* sl_csv_write_field takes a length: it must not look at bytes past it. The id is placed at the
 * very end of a readable page, followed by an inaccessible page, so a read past `len` faults. */
Test(sink, csv_field_reads_only_len_bytes)
{
    long page = sysconf(_SC_PAGESIZE);
    cr_assert(gt(long, page, 0));
    char *map =
        mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(ne(ptr, (void *)map, MAP_FAILED));
    cr_assert(eq(int, mprotect(map + page, (size_t)page, PROT_NONE), 0));
    FILE *out = tmpfile();
    cr_assert_not_null(out);

    char *id = map + page - 5; /* "ab,cd" with no terminating NUL */
    memcpy(id, "ab,cd", 5);
    sl_csv_write_field(out, id + 3, 2); /* "cd" */
    fputc('|', out);
    sl_csv_write_field(out, id, 5); /* "ab,cd" -> quoted */
    fputc('|', out);
    sl_csv_write_field(out, id, 2); /* "ab": the comma after it is not part of it */
    EXPECT_TEXT(out, "cd|\"ab,cd\"|ab");

    fclose(out);
    munmap(map, 2 * (size_t)page);
}

/* ---- snapshots and kept rows ----------------------------------------------------------------- */

/* snapshots = 0: a snapshot writes nothing (not even the header) and is not kept. */
Test(sink, snapshot_off_writes_nothing)
{
    struct fixture fx;
    open_fixture(&fx, SL_PE_COUNT, 0);
    sl_row s1[] = {row(KEY(fx.dict, "a"), 0, 1, 0, 0.0), row(KEY(fx.dict, "b"), 0, 2, 0, 0.0)};
    emit(fx.sink, SL_EMIT_SNAPSHOT, s1, 2);
    EXPECT_TEXT(fx.out, "");
    size_t n = 99;
    sl_sink_rows(fx.sink, &n);
    cr_assert(eq(sz, n, 0), "snapshot rows are not kept");

    sl_row fin[] = {row(KEY(fx.dict, "b"), 0, 5, 0, 0.0), row(KEY(fx.dict, "a"), 0, 4, 0, 0.0)};
    emit(fx.sink, SL_EMIT_FINAL, fin, 2);
    EXPECT_TEXT(fx.out, "ad_id,count\n"
                        "a,4\n"
                        "b,5\n");
    close_fixture(&fx);
}

/* snapshots = 1: every row starts with its emission's label; snapshots and windows are numbered
 * separately from 1. */
Test(sink, snapshot_on_labels_rows)
{
    struct fixture fx;
    open_fixture(&fx, SL_PE_WINDOW, 1);
    uint64_t a = KEY(fx.dict, "a"), b = KEY(fx.dict, "b,c");
    sl_row snap1[] = {row(b, 0, 1, 0, 0.0), row(a, 0, 2, 0, 0.0)};
    sl_row win1[] = {row(a, 0, 3, 0, 0.0)};
    sl_row snap2[] = {row(b, 1000, 4, 0, 0.0), row(b, 0, 5, 0, 0.0)};
    sl_row win2[] = {row(b, 0, 6, 0, 0.0)};
    sl_row fin[] = {row(b, 1000, 7, 0, 0.0), row(a, 1000, 8, 0, 0.0)};
    emit(fx.sink, SL_EMIT_SNAPSHOT, snap1, 2);
    emit(fx.sink, SL_EMIT_WINDOWS, win1, 1);
    emit(fx.sink, SL_EMIT_SNAPSHOT, snap2, 2);
    emit(fx.sink, SL_EMIT_WINDOWS, win2, 1);
    emit(fx.sink, SL_EMIT_FINAL, fin, 2);
    EXPECT_TEXT(fx.out, "emit,ad_id,window_start,count\n"
                        "snapshot-1,a,0,2\n"
                        "snapshot-1,\"b,c\",0,1\n"
                        "windows-1,a,0,3\n"
                        "snapshot-2,\"b,c\",0,5\n"
                        "snapshot-2,\"b,c\",1000,4\n"
                        "windows-2,\"b,c\",0,6\n"
                        "final,a,1000,8\n"
                        "final,\"b,c\",1000,7\n");

    /* kept: windows and final rows only, emission by emission */
    size_t n = 0;
    const sl_row *kept = sl_sink_rows(fx.sink, &n);
    cr_assert(eq(sz, n, 4));
    cr_assert(eq(u64, kept[0].key, a));
    cr_assert(eq(dbl, kept[0].v[0], (double)3));
    cr_assert(eq(u64, kept[1].key, b));
    cr_assert(eq(dbl, kept[1].v[0], (double)6));
    /* the final emission's two rows, in either order */
    double n0_of_a = kept[2].key == a ? kept[2].v[0] : kept[3].v[0];
    double n0_of_b = kept[2].key == b ? kept[2].v[0] : kept[3].v[0];
    cr_assert(ne(u64, kept[2].key, kept[3].key));
    cr_assert(eq(dbl, n0_of_a, 8.0));
    cr_assert(eq(dbl, n0_of_b, 7.0));
    close_fixture(&fx);
}

Test(sink, snapshot_on_ctr_header)
{
    static const struct krow r = {"x", 0, 2, 1, 0.5};
    expect_final(SL_PE_CTR, 1, &r, 1,
                 "emit,ad_id,impressions,clicks,ctr\n"
                 "final,x,2,1,0.5\n");
}

/* With out NULL nothing is written, and windows and final rows are still kept (every field). */
Test(sink, null_out_keeps_rows)
{
    sl_addict *d = sl_addict_new();
    cr_assert_not_null(d);
    sl_sink *s = new_sink(NULL, SL_PE_WINDOW, d, 1);
    cr_assert_not_null(s);
    sl_row snap = row(KEY(d, "a"), 0, 1, 0, 0.0);
    sl_row win = row(KEY(d, "a"), -5000, 11, 12, 13.5);
    sl_row fin = row(KEY(d, "b"), 5000, 21, 22, 23.5);
    emit(s, SL_EMIT_SNAPSHOT, &snap, 1);
    emit(s, SL_EMIT_WINDOWS, &win, 1);
    emit(s, SL_EMIT_FINAL, &fin, 1);
    size_t n = 0;
    const sl_row *kept = sl_sink_rows(s, &n);
    cr_assert(eq(sz, n, 2));
    const sl_row *want[] = {&win, &fin};
    for (size_t i = 0; i < 2; i++) {
        cr_assert(eq(u64, kept[i].key, want[i]->key));
        cr_assert(eq(i64, kept[i].window_start, want[i]->window_start));
        for (int c = 0; c < SL_COLUMNS_MAX; c++)
            cr_assert(eq(dbl, kept[i].v[c], want[i]->v[c]), "row %zu column %d", i, c);
    }
    sl_sink_destroy(&s);
    cr_assert_null(s);
    sl_sink_destroy(&s);
    sl_addict_destroy(&d);
}

/* Many emissions: the kept rows grow past their first allocation and stay intact. */
Test(sink, kept_rows_grow)
{
    sl_addict *d = sl_addict_new();
    cr_assert_not_null(d);
    sl_sink *s = new_sink(NULL, SL_PE_COUNT, d, 0);
    cr_assert_not_null(s);
    char id[32];
    uint64_t keys[1000];
    for (int i = 0; i < 1000; i++)
        keys[i] = intern(d, id, (size_t)snprintf(id, sizeof id, "ad-%d", i));
    for (int e = 0; e < 100; e++) {
        sl_row rows[10];
        for (int j = 0; j < 10; j++)
            rows[j] = row(keys[e * 10 + j], 0, (uint64_t)(e * 10 + j), 0, 0.0);
        emit(s, e == 99 ? SL_EMIT_FINAL : SL_EMIT_WINDOWS, rows, 10);
    }
    size_t n = 0;
    const sl_row *kept = sl_sink_rows(s, &n);
    cr_assert(eq(sz, n, 1000));
    for (size_t i = 0; i < n; i++) {
        cr_assert(eq(u64, kept[i].key, keys[i]), "row %zu", i);
        cr_assert(eq(dbl, kept[i].v[0], (double)i), "row %zu", i);
    }
    sl_sink_destroy(&s);
    sl_addict_destroy(&d);
}

/* ---- randomized: this file's own sort and quoting against the sink's ---------------------------
 */

struct idrow {
    char id[32];
    size_t len;
    uint64_t count;
};

static int cmp_idrow(const void *a, const void *b)
{
    const struct idrow *x = a, *y = b;
    for (size_t i = 0; i < x->len && i < y->len; i++)
        if (x->id[i] != y->id[i])
            return (unsigned char)x->id[i] < (unsigned char)y->id[i] ? -1 : 1;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Appends id as an RFC 4180 field to buf at *k. */
static void quote_into(char *buf, size_t *k, const char *id, size_t len)
{
    int need = 0;
    for (size_t i = 0; i < len; i++)
        need |= id[i] == ',' || id[i] == '"' || id[i] == '\r' || id[i] == '\n';
    if (need)
        buf[(*k)++] = '"';
    for (size_t i = 0; i < len; i++) {
        if (id[i] == '"')
            buf[(*k)++] = '"';
        buf[(*k)++] = id[i];
    }
    if (need)
        buf[(*k)++] = '"';
}

/* N rows with distinct random ids: `prefix`, then 0 to `tail` bytes of `alphabet` (alen bytes,
 * NULs allowed), at least one byte in all, handed over as one final emission in the order they
 * were made; the CSV must list them in the byte order of a plain comparison. */
static void random_ids_sorted(const char *prefix, size_t tail, const char *alphabet, size_t alen,
                              uint64_t state)
{
    enum { N = 600 };
    const size_t plen = strlen(prefix);
    struct idrow *ids = calloc(N, sizeof *ids);
    sl_row *rows = calloc(N, sizeof *rows);
    char *want = malloc(N * 80 + 64);
    cr_assert(ids && rows && want);
    cr_assert(le(sz, plen + tail, sizeof ids->id));
    struct fixture fx;
    open_fixture(&fx, SL_PE_COUNT, 0);

    size_t made = 0;
    while (made < N) {
        struct idrow r;
        state = state * UINT64_C(6364136223846793005) + 1442695040888963407u;
        r.len = plen + (size_t)(state >> 40) % (tail + 1);
        if (r.len == 0)
            continue;
        memcpy(r.id, prefix, plen);
        for (size_t j = plen; j < r.len; j++) {
            state = state * UINT64_C(6364136223846793005) + 1442695040888963407u;
            r.id[j] = alphabet[(state >> 33) % alen];
        }
        int dup = 0;
        for (size_t i = 0; i < made && !dup; i++)
            dup = ids[i].len == r.len && memcmp(ids[i].id, r.id, r.len) == 0;
        if (dup)
            continue;
        r.count = made * 3 + 1;
        ids[made] = r;
        rows[made] = row(intern(fx.dict, r.id, r.len), 0, r.count, 0, 0.0);
        made++;
    }
    emit(fx.sink, SL_EMIT_FINAL, rows, N);

    qsort(ids, N, sizeof *ids, cmp_idrow);
    size_t k = (size_t)sprintf(want, "ad_id,count\n");
    for (size_t i = 0; i < N; i++) {
        quote_into(want, &k, ids[i].id, ids[i].len);
        k += (size_t)sprintf(want + k, ",%" PRIu64 "\n", ids[i].count);
    }
    expect_file(fx.out, want, k);

    close_fixture(&fx);
    free(ids);
    free(rows);
    free(want);
}

Test(sink, randomized_count_rows)
{
    static const char alphabet[] = "ab,\"\n\r xyZ\xc3\xa9\x7f";
    random_ids_sorted("", 8, alphabet, sizeof alphabet - 1, 12345);
}

/* Ids that share their first 12 to 20 bytes, around the 16 the sort compares from the rows,
 * some shorter than 16, with NUL and 0xff bytes after the shared part. */
Test(sink, randomized_long_ids_sharing_prefixes)
{
    static const char alphabet[] = {'\0', 'a', 'b', '\xff', '0'};
    random_ids_sorted("sluice-ad-00", 12, alphabet, sizeof alphabet, 777);
}

/* ---- errors ------------------------------------------------------------------------------------
 */

Test(sink, write_error_is_eio)
{
    FILE *full = fopen("/dev/full", "w");
    if (!full)
        cr_skip_test("no /dev/full");
    sl_addict *d = sl_addict_new();
    cr_assert_not_null(d);
    sl_sink *s = new_sink(full, SL_PE_COUNT, d, 0);
    cr_assert_not_null(s);
    sl_row r = row(KEY(d, "a"), 0, 1, 0, 0.0);
    cr_assert(eq(int, sl_sink_emit(s, SL_EMIT_FINAL, &r, 1), SL_EIO));
    sl_sink_destroy(&s);
    sl_addict_destroy(&d);
    fclose(full);
}

/* ---- top table ----------------------------------------------------------------------------------
 */

struct top_row {
    char id[80];
    uint64_t views, clicks;
    double ctr;
};

/* Has the sink print its top k rows with at least min impressions (sl_sink_print_top, which
 * must succeed), then parses that table: a title line (into title), a column header line, then
 * rows "RANK ID IMPRESSIONS CLICKS CTR" (ids here have no spaces). Returns the number of rows. */
static size_t top_of(sl_sink *sink, size_t k, uint64_t min, struct top_row *out, size_t max,
                     char *title, size_t titlelen)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert(eq(int, sl_sink_print_top(sink, f, k, min), 0));
    size_t len;
    char *text = tu_read_stream(f, &len);
    fclose(f);
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    cr_assert_not_null(line, "empty top table");
    snprintf(title, titlelen, "%s", line);
    line = strtok_r(NULL, "\n", &save);
    cr_assert_not_null(line, "no column header");
    char c1[16], c2[16], c3[16], c4[16], c5[16];
    cr_assert(eq(int, sscanf(line, "%15s %15s %15s %15s %15s", c1, c2, c3, c4, c5), 5), "%s", line);
    cr_assert_str_eq(c2, "ad_id");
    cr_assert_str_eq(c3, "impressions");
    size_t n = 0;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        cr_assert(lt(sz, n, max));
        size_t rank;
        unsigned long long v, c;
        int got = sscanf(line, "%zu %79s %llu %llu %lf", &rank, out[n].id, &v, &c, &out[n].ctr);
        cr_assert(eq(int, got, 5), "row line: %s", line);
        cr_assert(eq(sz, rank, n + 1));
        out[n].views = v;
        out[n].clicks = c;
        n++;
    }
    free(text);
    return n;
}

/* Asserts the parsed top table holds exactly the ids ids[0..nids), in that order. */
static void expect_top_ids(const struct top_row *got, size_t n, const char *const *ids, size_t nids)
{
    cr_assert(eq(sz, n, nids));
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(got[i].id, ids[i], "rank %zu", i + 1);
}

/* Order: ctr descending, then impressions descending, then id in byte order; rows under
 * min_impressions are left out. */
Test(sink, print_top_order_and_filter)
{
    static const struct krow rows[] = {
        {"low", 0, 100, 1, 0.01},       {"half-small", 0, 10, 5, 0.5}, {"half-big", 0, 40, 20, 0.5},
        {"half-big-b", 0, 40, 20, 0.5}, /* ties half-big: id decides */
        {"best-but-few", 0, 2, 2, 1.0}, /* filtered at min 5 */
        {"zero", 0, 50, 0, 0.0},        {"mid", 0, 30, 9, 0.3},
    };
    struct fixture fx;
    open_fixture(&fx, SL_PE_CTR, 0);
    emit_final(&fx, rows, NROWS(rows));

    struct top_row got[16];
    char title[256];
    size_t n = top_of(fx.sink, 10, 5, got, 16, title, sizeof title);
    static const struct top_row want[] = {
        {"half-big", 40, 20, 0.5}, {"half-big-b", 40, 20, 0.5}, {"half-small", 10, 5, 0.5},
        {"mid", 30, 9, 0.3},       {"low", 100, 1, 0.01},       {"zero", 50, 0, 0.0},
    };
    cr_assert(eq(sz, n, sizeof want / sizeof want[0]), "%s", title);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(got[i].id, want[i].id, "rank %zu", i + 1);
        cr_assert(eq(u64, got[i].views, want[i].views), "rank %zu", i + 1);
        cr_assert(eq(u64, got[i].clicks, want[i].clicks), "rank %zu", i + 1);
        cr_assert(epsilon_eq(dbl, got[i].ctr, want[i].ctr, 1e-6), "rank %zu", i + 1);
    }

    /* top 2 of the same set */
    static const char *const top2[] = {"half-big", "half-big-b"};
    n = top_of(fx.sink, 2, 5, got, 16, title, sizeof title);
    expect_top_ids(got, n, top2, 2);

    /* min 0 lets the 2-impression ad in, at the top */
    static const char *const top3[] = {"best-but-few", "half-big", "half-big-b"};
    n = top_of(fx.sink, 3, 0, got, 16, title, sizeof title);
    expect_top_ids(got, n, top3, 3);

    /* a filter above every ad leaves an empty table */
    n = top_of(fx.sink, 10, 101, got, 16, title, sizeof title);
    expect_top_ids(got, n, NULL, 0);

    close_fixture(&fx);
}

/* The exact boundary of the filter: at least min_impressions. */
Test(sink, print_top_min_is_inclusive)
{
    static const struct krow rows[] = {{"nine", 0, 9, 9, 1.0}, {"ten", 0, 10, 1, 0.1}};
    struct fixture fx;
    open_fixture(&fx, SL_PE_CTR, 0);
    emit_final(&fx, rows, NROWS(rows));
    struct top_row got[4];
    char title[256];
    static const char *const ten[] = {"ten"};
    size_t n = top_of(fx.sink, 10, 10, got, 4, title, sizeof title);
    expect_top_ids(got, n, ten, 1);
    close_fixture(&fx);
}
