#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addict.h"
#include "badline.h"
#include "err.h"
#include "keyhash.h"
#include "reader.h"

/* What the malformed-line callback saw. */
struct bads {
    struct bad_line v[64];
    size_t n;
    size_t stop_at; /* return nonzero on this report (1-based); 0 = never */
};

static int on_bad(void *ud, uint64_t line, size_t column, uint64_t offset, const char *reason)
{
    struct bads *b = ud;
    if (b->n < sizeof b->v / sizeof b->v[0])
        bad_line_set(&b->v[b->n], line, column, offset, reason);
    b->n++;
    return b->stop_at != 0 && b->n == b->stop_at;
}

/* A temporary file holding `len` bytes of `data`, positioned at its start. */
static FILE *file_of(const char *data, size_t len)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f, "tmpfile");
    cr_assert_eq(fwrite(data, 1, len, f), len);
    rewind(f);
    return f;
}

/* Writes a small YSB-shaped view line (no newline) and returns its length. */
static size_t put_ysb(char *dst, size_t cap, const char *id, long long t)
{
    int n = snprintf(dst, cap,
                     "{\"user_id\":\"u\",\"ad_id\":\"%s\",\"event_type\":\"view\","
                     "\"event_time\":%lld}",
                     id, t);
    cr_assert(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

/* Everything one test needs; fixture() makes it, teardown() frees it. */
struct fx {
    FILE *in;
    sl_addict *dict;
    sl_reader *r;
    struct bads bads;
    sl_rec *out;
    size_t cap;
};

static void fixture(struct fx *x, const char *data, size_t len, sl_format fmt, size_t max_line)
{
    memset(x, 0, sizeof *x);
    x->in = file_of(data, len);
    x->dict = sl_addict_new();
    cr_assert_not_null(x->dict);
    x->r = sl_reader_new(x->in, fmt, x->dict, max_line);
    cr_assert_not_null(x->r);
    sl_reader_on_bad(x->r, on_bad, &x->bads);
    x->cap = 1024;
    x->out = calloc(x->cap, sizeof *x->out);
    cr_assert_not_null(x->out);
}

static void teardown(struct fx *x)
{
    sl_reader_destroy(&x->r);
    cr_assert_null(x->r, "destroy clears the pointer");
    sl_addict_destroy(&x->dict);
    fclose(x->in);
    free(x->out);
}

/* Reads everything into x->out (growing it); returns the record count. */
static size_t read_all(struct fx *x, size_t step)
{
    size_t n = 0;
    for (;;) {
        if (x->cap - n < step) {
            x->cap = (x->cap + step) * 2;
            x->out = realloc(x->out, x->cap * sizeof *x->out);
            cr_assert_not_null(x->out);
        }
        long got = sl_reader_read(x->r, x->out + n, step);
        cr_assert_geq(got, 0, "read failed: %ld (%s)", got, sl_strerror((int)got));
        if (got == 0)
            return n;
        n += (size_t)got;
    }
}

static uint64_t key_of(const char *id)
{
    return sl_key_hash(id, strlen(id));
}

static void expect_stats(const sl_reader *r, uint64_t lines, uint64_t records, uint64_t bad,
                         uint64_t blank, uint64_t bytes)
{
    struct sl_reader_stats st;
    sl_reader_stats(r, &st);
    cr_assert_eq(st.lines, lines, "lines %llu, expected %llu", (unsigned long long)st.lines,
                 (unsigned long long)lines);
    cr_assert_eq(st.records, records, "records %llu, expected %llu", (unsigned long long)st.records,
                 (unsigned long long)records);
    cr_assert_eq(st.bad, bad, "bad %llu, expected %llu", (unsigned long long)st.bad,
                 (unsigned long long)bad);
    cr_assert_eq(st.blank, blank, "blank %llu, expected %llu", (unsigned long long)st.blank,
                 (unsigned long long)blank);
    cr_assert_eq(st.bytes, bytes, "bytes %llu, expected %llu", (unsigned long long)st.bytes,
                 (unsigned long long)bytes);
}

static void expect_bad(const struct bads *b, size_t i, uint64_t line, size_t column,
                       uint64_t offset, const char *reason)
{
    cr_assert_lt(i, b->n, "report %zu missing (%zu reports)", i, b->n);
    const struct bad_line *x = &b->v[i];
    cr_assert_eq(x->line, line, "report %zu: line %llu, expected %llu", i,
                 (unsigned long long)x->line, (unsigned long long)line);
    cr_assert_eq(x->column, column, "report %zu: column %zu, expected %zu", i, x->column, column);
    cr_assert_eq(x->offset, offset, "report %zu: offset %llu, expected %llu", i,
                 (unsigned long long)x->offset, (unsigned long long)offset);
    cr_assert_str_eq(x->reason, reason, "report %zu", i);
}

/* Asserts that x's record i has ad id `id`, time t, `type` and `value`. */
static void expect_rec(const struct fx *x, size_t i, const char *id, int64_t t, enum sl_evtype type,
                       float value)
{
    const sl_rec *r = &x->out[i];
    cr_assert_eq(r->key, key_of(id), "record %zu: key of %s expected", i, id);
    cr_assert_eq(r->time_ms, t, "record %zu: time %lld, expected %lld", i, (long long)r->time_ms,
                 (long long)t);
    cr_assert_eq(r->type, (uint32_t)type, "record %zu: type %u, expected %u", i, r->type,
                 (unsigned)type);
    cr_assert_float_eq(r->value, value, 1e-9, "record %zu: value %g, expected %g", i, r->value,
                       value);
}

/* A record expected: its ad id, time, type and value (expect_rec). */
struct want_rec {
    const char *id;
    int64_t t;
    enum sl_evtype type;
    float value;
};

/* Makes x over the string data (fixture, format fmt, the default max_line), reads it all in
 * steps of `step` and asserts that the records are exactly want[0..nwant) (expect_rec). */
static void read_recs(struct fx *x, const char *data, sl_format fmt, size_t step,
                      const struct want_rec *want, size_t nwant)
{
    fixture(x, data, strlen(data), fmt, 0);
    size_t n = read_all(x, step);
    cr_assert_eq(n, nwant, "records %zu", n);
    for (size_t i = 0; i < nwant; i++)
        expect_rec(x, i, want[i].id, want[i].t, want[i].type, want[i].value);
}

/* Asserts that x saw exactly one malformed line, line `line` of data, the one that starts with
 * `start`, at its column `column` (the offset follows). */
static void expect_one_bad(const struct fx *x, const char *data, const char *start, uint64_t line,
                           size_t column, const char *reason)
{
    cr_assert_eq(x->bads.n, 1);
    const char *at = strstr(data, start);
    cr_assert_not_null(at, "no line starts with %s", start);
    expect_bad(&x->bads, 0, line, column, (uint64_t)(at - data) + column - 1, reason);
}

/* A NULL-terminated list of ad ids, for read_keys. */
#define IDS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Makes x over data[0..len) (fixture, with max_line), reads it all in steps of `step` and
 * asserts that the records have the keys of ids (NULL-terminated), in order, and that nbad
 * lines were reported. */
static void read_keys(struct fx *x, const char *data, size_t len, size_t max_line, size_t step,
                      const char *const *ids, size_t nbad)
{
    fixture(x, data, len, SL_FMT_NDJSON, max_line);
    size_t n = read_all(x, step), want = 0;
    while (ids[want])
        want++;
    cr_assert_eq(n, want, "records %zu", n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(x->out[i].key, key_of(ids[i]), "record %zu: key of %s expected", i, ids[i]);
    cr_assert_eq(x->bads.n, nbad, "reports %zu", x->bads.n);
}

/* Writes into data (of at least big + 1024 bytes) a YSB line for ad "a" at time 1, then the
 * start of a line for ad `id` whose "pad" field holds `big` bytes, then `tail`. Returns the
 * length; the offset of the long line in *start (when start is not NULL). */
static size_t put_long_line(char *data, size_t big, const char *id, const char *tail, size_t *start)
{
    size_t len = put_ysb(data, 64, "a", 1);
    data[len++] = '\n';
    if (start)
        *start = len;
    len += (size_t)sprintf(data + len, "{\"ad_id\":\"%s\",\"pad\":\"", id);
    memset(data + len, 'p', big);
    len += big;
    len += (size_t)sprintf(data + len, "%s", tail);
    return len;
}

Test(reader, format_parse)
{
    sl_format f = SL_FMT_CSV;
    cr_assert_eq(sl_format_parse("ndjson", &f), 0);
    cr_assert_eq(f, SL_FMT_NDJSON);
    cr_assert_eq(sl_format_parse("csv", &f), 0);
    cr_assert_eq(f, SL_FMT_CSV);
    cr_assert_eq(sl_format_parse("json", &f), 0);
    cr_assert_eq(f, SL_FMT_NDJSON);
    cr_assert_eq(sl_format_parse("xml", &f), SL_EINVAL);
    cr_assert_eq(sl_format_parse("", &f), SL_EINVAL);
}

Test(reader, ndjson_records)
{
    const char *data = "{\"ad_id\":\"a1\",\"event_type\":\"view\",\"event_time\":10}\n"
                       "{\"ad_id\":\"a2\",\"event_type\":\"click\",\"event_time\":\"11\","
                       "\"value\":1.5}\n"
                       "{\"ad_id\":\"a1\",\"event_type\":\"purchase\",\"event_time\":12}\n";
    static const struct want_rec want[] = {{"a1", 10, SL_EV_VIEW, 0.0f},
                                           {"a2", 11, SL_EV_CLICK, 1.5f},
                                           {"a1", 12, SL_EV_PURCHASE, 0.0f}};
    struct fx x;
    read_recs(&x, data, SL_FMT_NDJSON, 16, want, 3);
    cr_assert_eq(sl_addict_count(x.dict), 2, "two distinct ids interned");
    size_t idlen = 0;
    cr_assert_str_eq(sl_addict_get(x.dict, key_of("a2"), &idlen), "a2");
    expect_stats(x.r, 3, 3, 0, 0, strlen(data));
    cr_assert_eq(sl_reader_read(x.r, x.out, 16), 0, "end of input stays 0");
    teardown(&x);
}

/* Over 3 MiB of lines of varying length: many lines span the 1 MiB block boundaries. */
static char *big_input(size_t lines, size_t *len)
{
    size_t cap = lines * 200, n = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (size_t i = 0; i < lines; i++) {
        char id[32];
        snprintf(id, sizeof id, "ad-%zu", i % 977);
        int w = snprintf(buf + n, cap - n,
                         "{\"ad_id\":\"%s\",\"pad\":\"%.*s\",\"event_type\":\"%s\","
                         "\"event_time\":%zu,\"value\":%zu}\n",
                         id, (int)(i % 61),
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                         i % 10 == 0 ? "click" : "view", i, i % 100);
        cr_assert(w > 0 && (size_t)w < cap - n);
        n += (size_t)w;
    }
    *len = n;
    return buf;
}

static void check_big(const struct fx *x, size_t n, size_t lines)
{
    cr_assert_eq(n, lines, "records %zu, expected %zu", n, lines);
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "ad-%zu", i % 977);
        if (x->out[i].time_ms != (int64_t)i || x->out[i].key != key_of(id) ||
            x->out[i].value != (float)(i % 100) ||
            x->out[i].type != (uint32_t)(i % 10 == 0 ? SL_EV_CLICK : SL_EV_VIEW))
            cr_assert_fail("record %zu wrong: time %lld value %g type %u", i,
                           (long long)x->out[i].time_ms, x->out[i].value, x->out[i].type);
    }
}

Test(reader, block_boundaries)
{
    size_t lines = 40000, len;
    char *data = big_input(lines, &len);
    cr_assert_gt(len, (size_t)3 << 20, "input is %zu bytes", len);
    struct fx x;
    fixture(&x, data, len, SL_FMT_NDJSON, 0);
    size_t n = read_all(&x, 4096);
    check_big(&x, n, lines);
    expect_stats(x.r, lines, lines, 0, 0, len);
    cr_assert_eq(x.bads.n, 0);
    teardown(&x);

    /* Small reads resume exactly where the previous call stopped. */
    fixture(&x, data, len, SL_FMT_NDJSON, 0);
    n = read_all(&x, 7);
    check_big(&x, n, lines);
    teardown(&x);

    /* The same without a final newline. */
    fixture(&x, data, len - 1, SL_FMT_NDJSON, 0);
    n = read_all(&x, 1000);
    check_big(&x, n, lines);
    expect_stats(x.r, lines, lines, 0, 0, len - 1);
    teardown(&x);
    free(data);
}

struct expect_bads {
    const size_t *starts; /* line start offsets, by 0-based line */
    size_t max_line;
    size_t n;
    int wrong;
};

static int check_overlong(void *ud, uint64_t line, size_t column, uint64_t offset,
                          const char *reason)
{
    struct expect_bads *e = ud;
    (void)reason;
    if (column != e->max_line + 1 || offset != e->starts[line - 1] + e->max_line)
        e->wrong++;
    e->n++;
    return 0;
}

Test(reader, overlong_lines_across_blocks)
{
    /* 4 MiB of lines 70..270 bytes long; with max_line 150 about 60% are rejected, some of them
     * while only partly read (at the end of a block). Every other line must come through. */
    size_t lines = 20000, cap = lines * 300, len = 0, max_line = 150, want = 0;
    char *data = malloc(cap);
    size_t *starts = malloc(lines * sizeof *starts);
    int64_t *times = malloc(lines * sizeof *times);
    cr_assert(data && starts && times);
    char pad[256];
    memset(pad, 'p', sizeof pad);
    for (size_t i = 0; i < lines; i++) {
        starts[i] = len;
        int w = snprintf(data + len, cap - len,
                         "{\"ad_id\":\"k%zu\",\"pad\":\"%.*s\",\"event_type\":\"view\","
                         "\"event_time\":%zu}%s",
                         i % 13, (int)(i * 7 % 201), pad, i, i % 3 ? "\n" : "\r\n");
        cr_assert(w > 0 && (size_t)w < cap - len);
        size_t body = (size_t)w - (i % 3 ? 1 : 2);
        if (body <= max_line)
            times[want++] = (int64_t)i;
        len += (size_t)w;
    }
    cr_assert_gt(len, (size_t)3 << 20, "input is %zu bytes", len);
    struct fx x;
    fixture(&x, data, len, SL_FMT_NDJSON, max_line);
    struct expect_bads e = {starts, max_line, 0, 0};
    sl_reader_on_bad(x.r, check_overlong, &e);
    size_t n = read_all(&x, 333);
    cr_assert_eq(n, want, "records %zu, expected %zu", n, want);
    for (size_t i = 0; i < n; i++)
        if (x.out[i].time_ms != times[i])
            cr_assert_fail("record %zu: time %lld, expected %lld", i, (long long)x.out[i].time_ms,
                           (long long)times[i]);
    cr_assert_eq(e.n, lines - want, "reports %zu, expected %zu", e.n, lines - want);
    cr_assert_eq(e.wrong, 0, "%d reports with a wrong column or offset", e.wrong);
    expect_stats(x.r, lines, want, lines - want, 0, len);
    teardown(&x);
    free(data);
    free(starts);
    free(times);
}

Test(reader, last_line_crlf_and_blank)
{
    char data[1024];
    int n = snprintf(data, sizeof data,
                     "\n"
                     "   \t\r\n"
                     "{\"ad_id\":\"a\",\"event_type\":\"view\",\"event_time\":1}\r\n"
                     "\r\n"
                     "{\"ad_id\":\"b\",\"event_type\":\"click\",\"event_time\":2}\r\n"
                     "\n"
                     "{\"ad_id\":\"c\",\"event_type\":\"view\",\"event_time\":3}");
    struct fx x;
    read_keys(&x, data, (size_t)n, 0, 10, IDS("a", "b", "c"), 0);
    cr_assert_eq(x.out[2].time_ms, 3);
    expect_stats(x.r, 7, 3, 0, 4, (uint64_t)n);
    teardown(&x);

    /* Empty input and input of only blank lines. */
    fixture(&x, "", 0, SL_FMT_NDJSON, 0);
    cr_assert_eq(read_all(&x, 10), 0);
    expect_stats(x.r, 0, 0, 0, 0, 0);
    teardown(&x);
    fixture(&x, "\n\n  ", 4, SL_FMT_CSV, 0);
    cr_assert_eq(read_all(&x, 10), 0);
    expect_stats(x.r, 3, 0, 0, 3, 4);
    teardown(&x);
}

Test(reader, malformed_interleaved)
{
    const char *lines[] = {
        "{\"ad_id\":\"a\",\"event_type\":\"view\",\"event_time\":1}",   /* 1 ok */
        "{\"ad_id\":\"a\",\"event_type\":\"view\",\"event_time\":1.5}", /* 2 bad col 48 */
        "{\"ad_id\":\"b\",\"event_type\":\"view\",\"event_time\":2}",   /* 3 ok */
        "",                                                             /* 4 blank */
        "not json",                                                     /* 5 bad col 1 */
        "{\"ad_id\":\"\",\"event_type\":\"view\",\"event_time\":2}",    /* 6 bad col 10 */
        "{\"ad_id\":\"c\",\"event_type\":\"view\",\"event_time\":3}",   /* 7 ok */
        "{\"ad_id\":\"c\",\"event_type\":\"view\"}",                    /* 8 bad: missing */
        "{\"ad_id\":\"d\",\"event_type\":\"view\",\"event_time\":4}",   /* 9 ok, CRLF below */
    };
    char data[4096];
    size_t len = 0, starts[9];
    for (size_t i = 0; i < 9; i++) {
        starts[i] = len;
        len += (size_t)snprintf(data + len, sizeof data - len, "%s%s", lines[i],
                                i == 8 ? "\r\n" : "\n");
    }
    struct fx x;
    read_keys(&x, data, len, 0, 100, IDS("a", "b", "c", "d"), 4);
    cr_assert_eq(x.out[3].time_ms, 4);
    expect_bad(&x.bads, 0, 2, 48, starts[1] + 47, "event_time is not an integer");
    expect_bad(&x.bads, 1, 5, 1, starts[4], "expected '{' at start of line");
    expect_bad(&x.bads, 2, 6, 10, starts[5] + 9, "ad_id is empty");
    expect_bad(&x.bads, 3, 8, strlen(lines[7]), starts[7] + strlen(lines[7]) - 1,
               "missing field \"event_time\"");
    expect_stats(x.r, 9, 4, 4, 1, len);
    teardown(&x);
}

Test(reader, stop_on_first)
{
    const char *data = "{\"ad_id\":\"a\",\"event_type\":\"view\",\"event_time\":1}\n"
                       "{\"ad_id\":\"a\",\"event_type\":\"view\",\"event_time\":x}\n"
                       "{\"ad_id\":\"b\",\"event_type\":\"view\",\"event_time\":2}\n"
                       "oops\n"
                       "{\"ad_id\":\"c\",\"event_type\":\"view\",\"event_time\":3}\n";
    struct fx x;
    fixture(&x, data, strlen(data), SL_FMT_NDJSON, 0);
    x.bads.stop_at = 1;
    long rc = sl_reader_read(x.r, x.out, 100);
    cr_assert_eq(rc, SL_EPARSE, "rc %ld", rc);
    cr_assert_eq(x.bads.n, 1);
    expect_bad(&x.bads, 0, 2, 47, 49 + 46, "event_time is not an integer");
    /* The next call resumes after the reported line (and keeps reporting, not stopping). */
    rc = sl_reader_read(x.r, x.out, 100);
    cr_assert_eq(rc, 2, "rc %ld", rc);
    cr_assert_eq(x.out[0].key, key_of("b"));
    cr_assert_eq(x.out[1].key, key_of("c"));
    cr_assert_eq(x.bads.n, 2);
    expect_bad(&x.bads, 1, 4, 1, 49 * 3, "expected '{' at start of line");
    cr_assert_eq(sl_reader_read(x.r, x.out, 100), 0);
    teardown(&x);

    /* Without a callback the lines are still counted. */
    fixture(&x, data, strlen(data), SL_FMT_NDJSON, 0);
    sl_reader_on_bad(x.r, NULL, NULL);
    cr_assert_eq(read_all(&x, 100), 3);
    expect_stats(x.r, 5, 3, 2, 0, strlen(data));
    teardown(&x);
}

Test(reader, overlong_lines)
{
    /* max_line 80: a 100-byte line is rejected, the lines around it are kept. */
    char data[1024];
    size_t len = 0;
    len += put_ysb(data + len, sizeof data - len, "a", 1);
    data[len++] = '\n';
    size_t second = len;
    memset(data + len, 'x', 100);
    len += 100;
    data[len++] = '\n';
    len += put_ysb(data + len, sizeof data - len, "b", 2);
    data[len++] = '\n';
    struct fx x;
    read_keys(&x, data, len, 80, 10, IDS("a", "b"), 1);
    expect_bad(&x.bads, 0, 2, 81, second + 80, "line longer than 80 bytes");
    expect_stats(x.r, 3, 2, 1, 0, len);
    teardown(&x);

    /* Stopping on an over-long line, then resuming after it. */
    fixture(&x, data, len, SL_FMT_NDJSON, 80);
    x.bads.stop_at = 1;
    cr_assert_eq(sl_reader_read(x.r, x.out, 10), SL_EPARSE);
    long rc = sl_reader_read(x.r, x.out, 10);
    cr_assert_eq(rc, 1, "rc %ld", rc);
    cr_assert_eq(x.out[0].key, key_of("b"));
    teardown(&x);
}

Test(reader, overlong_line_exact_limits)
{
    /* The YSB line below is 62 bytes: fine at max_line 62 (also with "\r\n"), bad at 61. */
    char line[128], data[256];
    int ll = (int)put_ysb(line, sizeof line, "a", 1);
    cr_assert_eq(ll, 62, "test line is %d bytes", ll);
    int n = snprintf(data, sizeof data, "%s\r\n%s\n%s", line, line, line);
    struct fx x;
    fixture(&x, data, (size_t)n, SL_FMT_NDJSON, 62);
    cr_assert_eq(read_all(&x, 10), 3);
    teardown(&x);
    fixture(&x, data, (size_t)n, SL_FMT_NDJSON, 61);
    cr_assert_eq(read_all(&x, 10), 0);
    cr_assert_eq(x.bads.n, 3);
    expect_bad(&x.bads, 0, 1, 62, 61, "line longer than 61 bytes");
    expect_bad(&x.bads, 2, 3, 62, 64 + 63 + 61, "line longer than 61 bytes");
    teardown(&x);
}

Test(reader, overlong_line_larger_than_buffer)
{
    /* A 3.5 MiB line (never stored whole) between valid lines, with the default limit. */
    size_t big = (size_t)7 << 19, start;
    char *data = malloc(big + 1024);
    cr_assert_not_null(data);
    size_t len = put_long_line(data, big, "z", "\"}\r\n", &start);
    len += put_ysb(data + len, 64, "b", 2);
    data[len++] = '\n';
    len += put_ysb(data + len, 64, "c", 3);
    struct fx x;
    read_keys(&x, data, len, 0, 10, IDS("a", "b", "c"), 1);
    expect_bad(&x.bads, 0, 2, SL_READER_MAX_LINE_DEFAULT + 1, start + SL_READER_MAX_LINE_DEFAULT,
               "line longer than 1048576 bytes");
    expect_stats(x.r, 4, 3, 1, 0, len);
    teardown(&x);

    /* Stopping there: the rest of the long line is still skipped on the next call. */
    fixture(&x, data, len, SL_FMT_NDJSON, 0);
    x.bads.stop_at = 1;
    long rc = sl_reader_read(x.r, x.out, 10);
    cr_assert_eq(rc, SL_EPARSE, "rc %ld", rc);
    rc = sl_reader_read(x.r, x.out, 10);
    cr_assert_eq(rc, 2, "rc %ld", rc);
    cr_assert_eq(x.out[0].key, key_of("b"));
    cr_assert_eq(x.out[1].key, key_of("c"));
    teardown(&x);

    /* The same line at the end of the input, without a newline. */
    fixture(&x, data, start + big / 2, SL_FMT_NDJSON, 0);
    cr_assert_eq(read_all(&x, 10), 1);
    cr_assert_eq(x.bads.n, 1);
    expect_stats(x.r, 2, 1, 1, 0, start + big / 2);
    teardown(&x);
    free(data);
}

Test(reader, long_valid_line_grows_buffer)
{
    /* max_line 4 MiB: a 2.5 MiB line (a long skipped field) is read whole. */
    size_t big = (size_t)5 << 19;
    char *data = malloc(big + 1024);
    cr_assert_not_null(data);
    size_t len =
        put_long_line(data, big, "long", "\",\"event_type\":\"click\",\"event_time\":7}\n", NULL);
    len += put_ysb(data + len, 64, "b", 2);
    struct fx x;
    fixture(&x, data, len, SL_FMT_NDJSON, (size_t)4 << 20);
    size_t n = read_all(&x, 10);
    cr_assert_eq(n, 3, "records %zu (%zu bad)", n, x.bads.n);
    cr_assert_eq(x.out[1].key, key_of("long"));
    cr_assert_eq(x.out[1].time_ms, 7);
    cr_assert_eq(x.out[2].key, key_of("b"));
    expect_stats(x.r, 3, 3, 0, 0, len);
    teardown(&x);
    free(data);
}

Test(reader, csv_with_header)
{
    const char *data = "\n"
                       "event_time,ad_id,extra,event_type,value\r\n"
                       "10,a1,x,view,1.5\r\n"
                       "11,\"a,2\",\"y\"\"z\",click,\r\n"
                       "12,a3,x,view\r\n"
                       "13,a1,,purchase,2\r\n";
    static const struct want_rec want[] = {{"a1", 10, SL_EV_VIEW, 1.5f},
                                           {"a,2", 11, SL_EV_CLICK, 0.0f},
                                           {"a1", 13, SL_EV_PURCHASE, 2.0f}};
    struct fx x;
    read_recs(&x, data, SL_FMT_CSV, 10, want, 3);
    expect_one_bad(&x, data, "12,a3", 5, 13, "expected 5 columns, got 4");
    expect_stats(x.r, 6, 3, 1, 1, strlen(data));
    teardown(&x);
}

Test(reader, csv_without_header)
{
    const char *data = "a1,view,10\nb2,click,11,0.25\nbad,view,1x\nc3,view,12";
    static const struct want_rec want[] = {
        {"a1", 10, SL_EV_VIEW, 0.0f}, /* the first line is data */
        {"b2", 11, SL_EV_CLICK, 0.25f},
        {"c3", 12, SL_EV_VIEW, 0.0f}};
    struct fx x;
    read_recs(&x, data, SL_FMT_CSV, 10, want, 3);
    expect_one_bad(&x, data, "bad", 3, 11, "event_time is not an integer");
    teardown(&x);
}

Test(reader, csv_bad_header_stops)
{
    const char *data = "ad_id,event_type\na,view\n";
    struct fx x;
    fixture(&x, data, strlen(data), SL_FMT_CSV, 0);
    long rc = sl_reader_read(x.r, x.out, 10);
    cr_assert_eq(rc, SL_EPARSE, "rc %ld", rc);
    cr_assert_eq(x.bads.n, 1);
    expect_bad(&x.bads, 0, 1, 1, 0, "header has no \"event_time\" column");
    cr_assert_eq(sl_reader_read(x.r, x.out, 10), SL_EPARSE, "the failure is sticky");
    teardown(&x);
}

Test(reader, io_error)
{
    FILE *in = fopen("/dev/null", "w"); /* reading a write-only stream fails */
    cr_assert_not_null(in);
    sl_addict *d = sl_addict_new();
    cr_assert_not_null(d);
    sl_reader *r = sl_reader_new(in, SL_FMT_NDJSON, d, 0);
    cr_assert_not_null(r);
    sl_rec rec;
    long rc = sl_reader_read(r, &rec, 1);
    cr_assert_eq(rc, SL_EIO, "rc %ld", rc);
    cr_assert_eq(sl_reader_read(r, &rec, 1), SL_EIO, "the failure is sticky");
    sl_reader_destroy(&r);
    sl_reader_destroy(&r); /* NULL-safe */
    sl_addict_destroy(&d);
    fclose(in);
}

Test(reader, user_ids_are_hashed_into_records)
{
    const char *text = "ad_id,user_id,event_type,event_time\n"
                       "a,alice,view,1\n"
                       "b,,click,2\n";
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    cr_assert_not_null(f);
    sl_addict *d = sl_addict_new();
    sl_reader *r = sl_reader_new(f, SL_FMT_CSV, d, 0);
    cr_assert(d && r);
    sl_rec recs[4];
    cr_assert_eq(sl_reader_read(r, recs, 4), 2);
    cr_assert_eq(recs[0].user, sl_key_hash("alice", 5));
    cr_assert_eq(recs[1].user, 0, "an empty user_id is no user");
    sl_reader_destroy(&r);
    sl_addict_destroy(&d);
    fclose(f);
}
