/* Ad ids must be valid UTF-8: host/utf8 against known answers and an independent decoder, the
 * NDJSON and CSV parsers' columns, the reader's counts and reports, and the `sluice` binary's
 * output. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addict.h"
#include "csvin.h"
#include "err.h"
#include "ndjson.h"
#include "reader.h"
#include "utf8.h"

/* ---- an independent reference: decode code points, then judge them ---- */

/* Offset of the first byte not part of a valid sequence (the start of the bad sequence), or n.
 * Decodes each sequence by its lead byte's length and then rejects overlong forms, surrogates
 * and code points past U+10FFFF by value. */
static size_t ref_check(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned b = s[i];
        size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n)
            return i;
        uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1f) : len == 3 ? (b & 0x0f) : (b & 0x07);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] >> 6) != 2)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return i;
        i += len;
    }
    return n;
}

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

#define CHECK(lit, want)                                                                           \
    cr_assert_eq(sl_utf8_check(lit, sizeof lit - 1), (size_t)(want), "%s", #lit)

Test(utf8, known_answers)
{
    CHECK("", 0);
    CHECK("plain ascii id 0123456789", 25);
    CHECK("caf\xc3\xa9", 5);
    CHECK("\xc2\x80\xdf\xbf", 4);                 /* U+0080, U+07FF */
    CHECK("\xe0\xa0\x80\xef\xbf\xbf", 6);         /* U+0800, U+FFFF */
    CHECK("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 8); /* U+10000, U+10FFFF */
    CHECK("\xed\x9f\xbf\xee\x80\x80", 6);         /* around the surrogates */
    CHECK("ab\xff", 2);
    CHECK("ab\x80", 2);                /* a lone continuation byte */
    CHECK("a\xc0\x80", 1);             /* overlong NUL */
    CHECK("a\xc1\xbf", 1);             /* overlong */
    CHECK("a\xe0\x9f\xbf", 1);         /* overlong 3-byte */
    CHECK("a\xf0\x8f\xbf\xbf", 1);     /* overlong 4-byte */
    CHECK("a\xed\xa0\x80", 1);         /* surrogate U+D800 */
    CHECK("a\xed\xbf\xbf", 1);         /* surrogate U+DFFF */
    CHECK("a\xf4\x90\x80\x80", 1);     /* U+110000 */
    CHECK("a\xf5\x80\x80\x80", 1);     /* lead byte past F4 */
    CHECK("caf\xc3", 3);               /* cut short at the end */
    CHECK("\xe2\x82x", 0);             /* cut short before another character */
    CHECK("0123456789abcdef\xe9", 16); /* after a whole word of ASCII */
}

/* Random strings, mostly valid UTF-8 with bad bytes mixed in, against the reference. */
Test(utf8, matches_an_independent_decoder)
{
    uint64_t seed = 7;
    unsigned char s[80];
    size_t valid = 0, invalid = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t n = rng(&seed) % sizeof s, o = 0;
        while (o < n) {
            uint64_t r = rng(&seed);
            unsigned kind = (unsigned)(r % 16);
            uint32_t cp = (uint32_t)(r >> 8);
            if (kind < 8) {
                s[o++] = (unsigned char)(cp % 0x80);
            } else if (kind < 13 && o + 4 <= n) { /* an encoded code point, sometimes bad */
                cp %= 0x110800;
                if (cp < 0x80)
                    s[o++] = (unsigned char)cp;
                else if (cp < 0x800) {
                    s[o++] = (unsigned char)(0xC0 | (cp >> 6));
                    s[o++] = (unsigned char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    s[o++] = (unsigned char)(0xE0 | (cp >> 12));
                    s[o++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                    s[o++] = (unsigned char)(0x80 | (cp & 0x3F));
                } else {
                    s[o++] = (unsigned char)(0xF0 | (cp >> 18));
                    s[o++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
                    s[o++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                    s[o++] = (unsigned char)(0x80 | (cp & 0x3F));
                }
            } else if (kind < 14 || iter % 4 != 0) {
                s[o++] = (unsigned char)(r >> 40); /* any byte */
            } else {
                s[o++] = (unsigned char)(0x80 | (cp & 0x3F));
            }
        }
        n = o;
        size_t want = ref_check(s, n);
        cr_assert_eq(sl_utf8_check((const char *)s, n), want, "iteration %d, length %zu", iter, n);
        int ascii = 1;
        for (size_t i = 0; i < n; i++)
            ascii &= s[i] < 0x80;
        cr_assert_eq(sl_utf8_is_ascii((const char *)s, n), ascii, "iteration %d", iter);
        valid += want == n;
        invalid += want < n;
    }
    cr_assert_gt(valid, 10000);
    cr_assert_gt(invalid, 10000);
}

/* The ASCII test sees a high byte at every position of every length up to 64. */
Test(utf8, is_ascii_every_position)
{
    char s[65];
    for (size_t n = 0; n <= 64; n++) {
        memset(s, 'a', sizeof s);
        cr_assert(sl_utf8_is_ascii(s, n), "length %zu", n);
        for (size_t i = 0; i < n; i++) {
            s[i] = (char)0x80;
            cr_assert(!sl_utf8_is_ascii(s, n), "length %zu, byte %zu", n, i);
            s[i] = 'a';
        }
        s[n] = (char)0xff; /* just past the end: not looked at */
        cr_assert(sl_utf8_is_ascii(s, n), "length %zu", n);
    }
}

/* ---- the parsers ---- */

static char scratch[4096];

Test(utf8, ndjson_ad_id_columns)
{
    sl_rawev ev;
    sl_perr pe;
    const char *ok = "{\"ad_id\":\"caf\xc3\xa9\",\"event_type\":\"view\",\"event_time\":1}";
    cr_assert_eq(sl_ndjson_parse(ok, strlen(ok), scratch, &ev, &pe), 0, "%s", pe.reason);
    cr_assert_eq(ev.ad_id_len, 5);
    cr_assert_eq(memcmp(ev.ad_id, "caf\xc3\xa9", 5), 0);

    const char *bad = "{\"ad_id\":\"caf\xe9-1\",\"event_type\":\"view\",\"event_time\":1}";
    cr_assert_eq(sl_ndjson_parse(bad, strlen(bad), scratch, &ev, &pe), SL_EPARSE);
    cr_assert_eq(pe.column, 14); /* the 0xe9 */
    cr_assert_str_eq(pe.reason, "ad_id is not valid UTF-8 (byte 0xe9)");

    /* After escapes the column is still that of the byte in the line. */
    const char *esc = "{\"ad_id\":\"\\u00e9\\\"x\xff\",\"event_type\":\"view\",\"event_time\":1}";
    cr_assert_eq(sl_ndjson_parse(esc, strlen(esc), scratch, &ev, &pe), SL_EPARSE);
    cr_assert_eq(pe.column, (size_t)(strchr(esc, '\xff') - esc) + 1);
    cr_assert_str_eq(pe.reason, "ad_id is not valid UTF-8 (byte 0xff)");

    /* A sequence cut short by an escape. */
    const char *cut = "{\"ad_id\":\"a\xc3\\u00e9\",\"event_type\":\"view\",\"event_time\":1}";
    cr_assert_eq(sl_ndjson_parse(cut, strlen(cut), scratch, &ev, &pe), SL_EPARSE);
    cr_assert_eq(pe.column, 12);

    /* A surrogate written as raw bytes. */
    const char *sur = "{\"ad_id\":\"\xed\xa0\x80\",\"event_type\":\"view\",\"event_time\":1}";
    cr_assert_eq(sl_ndjson_parse(sur, strlen(sur), scratch, &ev, &pe), SL_EPARSE);
    cr_assert_eq(pe.column, 11);
}

Test(utf8, csv_ad_id_columns)
{
    sl_rawev ev;
    sl_perr pe;
    sl_csv_cols cols;
    sl_csv_default_cols(&cols);
    const char *ok = "caf\xc3\xa9,view,1";
    cr_assert_eq(sl_csv_parse(ok, strlen(ok), &cols, scratch, &ev, &pe), 0, "%s", pe.reason);
    cr_assert_eq(ev.ad_id_len, 5);

    const char *bad = "ab\xc3(,view,1";
    cr_assert_eq(sl_csv_parse(bad, strlen(bad), &cols, scratch, &ev, &pe), SL_EPARSE);
    cr_assert_eq(pe.column, 3);
    cr_assert_str_eq(pe.reason, "ad_id is not valid UTF-8 (byte 0xc3)");

    /* Quoted, with doubled quotes before the bad byte (the id is unescaped into scratch). */
    const char *q = "\"a\"\"b,\xfe\",view,1";
    cr_assert_eq(sl_csv_parse(q, strlen(q), &cols, scratch, &ev, &pe), SL_EPARSE);
    cr_assert_eq(pe.column, 7);
    cr_assert_str_eq(pe.reason, "ad_id is not valid UTF-8 (byte 0xfe)");

    /* Another column's bytes are not the id's business. */
    sl_csv_cols hdr;
    sl_csv_default_cols(&hdr);
    const char *h = "event_type,ad_id,event_time,user_id";
    cr_assert_eq(sl_csv_header(h, strlen(h), &hdr, &pe), 1);
    const char *other = "vi\xffw,ad-1,5,u\xff";
    cr_assert_eq(sl_csv_parse(other, strlen(other), &hdr, scratch, &ev, &pe), 0, "%s", pe.reason);
}

/* ---- the reader: bad lines are counted and reported, the lines around them kept ---- */

struct seen {
    uint64_t line[512];
    size_t column[512];
    uint64_t offset[512];
    size_t n;
};

static int on_bad(void *ud, uint64_t line, size_t column, uint64_t offset, const char *reason)
{
    struct seen *s = ud;
    cr_assert_not_null(strstr(reason, "not valid UTF-8"), "line %llu: %s", (unsigned long long)line,
                       reason);
    if (s->n < 512) {
        s->line[s->n] = line;
        s->column[s->n] = column;
        s->offset[s->n] = offset;
    }
    s->n++;
    return 0;
}

/* Writes `lines` NDJSON or CSV lines into f, every seventh with an invalid id; records where
 * each bad byte is and how many good lines each of 5 ids has. */
static void write_mixed(FILE *f, int csv, int lines, struct seen *want, unsigned long *good)
{
    static const char *const bad_bytes[] = {"\xff", "\xc3(", "\xed\xa0\x80", "\x80", "\xf8"};
    uint64_t off = 0;
    if (csv) {
        off += (uint64_t)fprintf(f, "ad_id,event_type,event_time\n");
    }
    for (int i = 0; i < lines; i++) {
        char id[32];
        int bad = i % 7 == 3;
        size_t at;
        if (bad)
            at = (size_t)snprintf(id, sizeof id, "ad-%d", i % 5);
        else
            at = 0;
        if (bad)
            snprintf(id + at, sizeof id - at, "%s", bad_bytes[i % 5]);
        else
            snprintf(id, sizeof id, "%s-%d", i % 2 ? "caf\xc3\xa9" : "ad", i % 5);
        int n, prefix;
        if (csv) {
            prefix = 0;
            n = fprintf(f, "%s,view,%d\n", id, i);
        } else {
            prefix = (int)strlen("{\"ad_id\":\"");
            n = fprintf(f, "{\"ad_id\":\"%s\",\"event_type\":\"view\",\"event_time\":%d}\n", id, i);
        }
        if (bad) {
            want->line[want->n] = (uint64_t)i + 1 + (csv ? 1 : 0);
            want->column[want->n] = (size_t)prefix + at + 1;
            want->offset[want->n] = off + (uint64_t)prefix + at;
            want->n++;
        } else {
            good[(i % 2) * 5 + i % 5]++;
        }
        off += (uint64_t)n;
    }
}

Test(utf8, reader_counts_and_reports_bad_ids)
{
    for (int csv = 0; csv < 2; csv++) {
        struct seen want = {.n = 0}, got = {.n = 0};
        unsigned long good[10] = {0};
        FILE *f = tmpfile();
        cr_assert_not_null(f);
        write_mixed(f, csv, 700, &want, good);
        rewind(f);
        sl_addict *d = sl_addict_new();
        sl_reader *r = sl_reader_new(f, csv ? SL_FMT_CSV : SL_FMT_NDJSON, d, 0);
        cr_assert(d && r);
        sl_reader_on_bad(r, on_bad, &got);
        static sl_rec recs[1024];
        long n = sl_reader_read(r, recs, 1024);
        cr_assert_eq(n, 600, "%s: %ld records", csv ? "csv" : "ndjson", n);
        cr_assert_eq(sl_reader_read(r, recs + n, 1024 - (size_t)n), 0);
        struct sl_reader_stats st;
        sl_reader_stats(r, &st);
        cr_assert_eq(st.bad, 100);
        cr_assert_eq(got.n, want.n);
        for (size_t i = 0; i < want.n; i++) {
            cr_assert_eq(got.line[i], want.line[i], "report %zu", i);
            cr_assert_eq(got.column[i], want.column[i], "report %zu (line %llu)", i,
                         (unsigned long long)want.line[i]);
            cr_assert_eq(got.offset[i], want.offset[i], "report %zu", i);
        }
        /* Every id the dictionary holds is valid UTF-8, and there are just the 10 good ones. */
        cr_assert_eq(sl_addict_count(d), 10);
        for (long i = 0; i < n; i++) {
            size_t len;
            const char *id = sl_addict_get(d, recs[i].key, &len);
            cr_assert_not_null(id);
            cr_assert_eq(ref_check((const unsigned char *)id, len), len);
        }
        sl_reader_destroy(&r);
        sl_addict_destroy(&d);
        fclose(f);
    }
}

/* ---- the binary ---- */

Test(utf8, sluice_output_is_valid_utf8_with_the_good_lines_counts, .timeout = 120)
{
    const char *base = getenv("SLUICE_TEST_TMP");
    char dir[512], in[600], out[600], err[600], cmd[2400];
    snprintf(dir, sizeof dir, "%s/utf8-XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(in, sizeof in, "%s/in.json", dir);
    snprintf(out, sizeof out, "%s/out.csv", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    struct seen want = {.n = 0};
    unsigned long good[10] = {0};
    FILE *f = fopen(in, "w");
    cr_assert_not_null(f);
    write_mixed(f, 0, 700, &want, good);
    cr_assert_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd, "'%s' ctr --input '%s' --output '%s' -q 2>'%s'", SLUICE_BIN, in, out,
             err);
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);

    /* The CSV: valid UTF-8 throughout, one row per good id with its independent count. */
    f = fopen(out, "rb");
    cr_assert_not_null(f);
    static char text[65536];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    cr_assert_eq(ref_check((const unsigned char *)text, len), len, "output:\n%s", text);
    char wantcsv[4096];
    size_t o = (size_t)snprintf(wantcsv, sizeof wantcsv, "ad_id,impressions,clicks,ctr\n");
    for (int k = 0; k < 5; k++) /* "ad-K" sorts before "caf\xc3\xa9-K" */
        o += (size_t)snprintf(wantcsv + o, sizeof wantcsv - o, "ad-%d,%lu,0,0\n", k, good[k]);
    for (int k = 0; k < 5; k++)
        o += (size_t)snprintf(wantcsv + o, sizeof wantcsv - o, "caf\xc3\xa9-%d,%lu,0,0\n", k,
                              good[5 + k]);
    cr_assert_str_eq(text, wantcsv);

    /* stderr: the first ten bad lines with line, column and byte, then the total. */
    f = fopen(err, "rb");
    cr_assert_not_null(f);
    len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    for (size_t i = 0; i < 10; i++) {
        char line[256];
        snprintf(line, sizeof line, "line %llu: ad_id is not valid UTF-8 (byte 0x",
                 (unsigned long long)want.line[i]);
        const char *at = strstr(text, line);
        cr_assert_not_null(at, "no report of line %llu in:\n%s", (unsigned long long)want.line[i],
                           text);
        snprintf(line, sizeof line, ") (column %zu, byte %llu)\n", want.column[i],
                 (unsigned long long)want.offset[i]);
        cr_assert_not_null(strstr(at, line), "line %llu: want %s in:\n%s",
                           (unsigned long long)want.line[i], line, text);
    }
    cr_assert_not_null(strstr(text, "sluice: 100 malformed lines skipped in all (first 10 shown)"),
                       "%s", text);
    unlink(in);
    unlink(out);
    unlink(err);
    cr_assert_eq(rmdir(dir), 0);
}
