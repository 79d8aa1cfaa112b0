/* Tests of the sink interface (host/io/sink.h) beyond the CSV rows of tests/test_sink.c: the
 * topology constructor, changes mode against a plain C reference, NDJSON parsed back by this
 * file's own small JSON reader, the zmq kind received by a PULL socket, and the redis kind
 * against a real redis-server started here and read back with hiredis. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "addict.h"
#include "err.h"
#include "sink.h"
#include "util.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void topo(sl_topology *t, int kind, int format, int mode, int snapshots)
{
    sl_topology_defaults(t);
    t->sink.kind = kind;
    t->sink.format = format;
    t->sink.mode = mode;
    t->sink.snapshots = snapshots;
}

static void opt(sl_topology *t, const char *key, const char *val)
{
    cr_assert(eq(int, sl_opts_set(&t->sink.opts, key, val, 0, 0), 0));
}

static sl_sink *open_sink(const sl_topology *t, FILE *out, const sl_addict *d, const char *spec,
                          int windowed)
{
    sl_columns cols;
    char err[512];
    cr_assert(eq(int, sl_columns_parse(spec, &cols, err, sizeof err), 0), "%s", err);
    sl_sink *s = NULL;
    int rc = sl_sink_open(t, out, d, 0, &s, err, sizeof err);
    cr_assert(eq(int, rc, 0), "sl_sink_open: %s", err);
    sl_sink_set_layout(s, &cols, windowed);
    return s;
}

static uint64_t key_of(sl_addict *d, const char *id, size_t len)
{
    uint64_t k = 0;
    cr_assert(eq(int, sl_addict_intern(d, id, len, &k), 0));
    return k;
}
#define KEY(d, lit) key_of((d), (lit), strlen(lit))

static sl_row row3(uint64_t key, int64_t ws, double a, double b, double c)
{
    sl_row r = {.key = key, .window_start = ws};
    r.v[0] = a, r.v[1] = b, r.v[2] = c;
    return r;
}

static void emit(sl_sink *s, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    int rc = sl_sink_emit(s, kind, rows, n);
    cr_assert(eq(int, rc, 0), "sl_sink_emit: %s (%s)", sl_strerror(rc), sl_sink_message(s));
}

/* Splits text into lines (in place); returns the count. */
static size_t split_lines(char *text, char **lines, size_t max)
{
    size_t n = 0;
    for (char *p = text; *p && n < max;) {
        char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "every line ends with LF");
        *nl = '\0';
        lines[n++] = p;
        p = nl + 1;
    }
    return n;
}

/* ---- the constructor ---------------------------------------------------------------------- */

/* Snapshots off, mode full, CSV: the same bytes as sl_sink_new's sink (today's CSV). */
Test(sinks, open_full_csv_is_todays_csv)
{
    sl_addict *d = sl_addict_new();
    uint64_t a = KEY(d, "a"), b = KEY(d, "b,c");
    sl_row snap[] = {row3(b, 0, 1, 0, 0)};
    sl_row fin[] = {row3(b, 0, 5, 1, 0.2), row3(a, 0, 4, 0, 0)};
    sl_topology t;
    topo(&t, SL_SINK_FILE, SL_SINK_CSV, SL_SINK_FULL, 0);
    FILE *f1 = tmpfile(), *f2 = tmpfile();
    sl_sink *s1 = open_sink(&t, f1, d, "impressions:int,clicks:int,ctr:f6", 0);
    sl_columns cols;
    char err[128];
    cr_assert(eq(int, sl_columns_parse("impressions:int,clicks:int,ctr:f6", &cols, err, 128), 0));
    sl_sink *s2 = sl_sink_new(f2, d, 0, 0);
    sl_sink_set_layout(s2, &cols, 0);
    for (int i = 0; i < 2; i++) {
        emit(i ? s2 : s1, SL_EMIT_SNAPSHOT, snap, 1);
        emit(i ? s2 : s1, SL_EMIT_FINAL, fin, 2);
    }
    char *g1 = tu_read_stream(f1, NULL), *g2 = tu_read_stream(f2, NULL);
    cr_assert(eq(str, g1, "ad_id,impressions,clicks,ctr\na,4,0,0.000000\n\"b,c\",5,1,0.200000\n"));
    cr_assert(eq(str, g1, g2));
    free(g1), free(g2);
    sl_sink_destroy(&s1);
    sl_sink_destroy(&s2);
    fclose(f1), fclose(f2);
    sl_addict_destroy(&d);
}

/* Snapshots on: the metadata columns after emit; no clock: an empty watermark; with one: it. */
static int64_t fixed_wm(void *ud)
{
    return *(int64_t *)ud;
}

Test(sinks, snapshots_carry_metadata)
{
    sl_addict *d = sl_addict_new();
    uint64_t a = KEY(d, "a");
    sl_topology t;
    topo(&t, SL_SINK_FILE, SL_SINK_CSV, SL_SINK_FULL, 1);
    FILE *f = tmpfile();
    sl_sink *s = open_sink(&t, f, d, "count:int", 0);
    sl_row r = row3(a, 0, 3, 0, 0);
    int64_t t0 = now_ms();
    emit(s, SL_EMIT_SNAPSHOT, &r, 1);
    int64_t wm = 1767225600123;
    sl_sink_set_clock(s, fixed_wm, &wm);
    emit(s, SL_EMIT_FINAL, &r, 1);
    int64_t t1 = now_ms();
    char *got = tu_read_stream(f, NULL);
    char *lines[8];
    cr_assert(eq(sz, split_lines(got, lines, 8), 3));
    cr_assert(eq(str, lines[0], "emit,emit_seq,emit_time_ms,emit_watermark_ms,ad_id,count"));
    char label[32];
    int64_t seq, tm, w;
    cr_assert(eq(int, sscanf(lines[1], "snapshot-1,%" SCNd64 ",%" SCNd64 ",,a,3", &seq, &tm), 2),
              "%s", lines[1]);
    cr_assert(eq(i64, seq, 1));
    cr_assert(tm >= t0 && tm <= t1);
    cr_assert(eq(int,
                 sscanf(lines[2], "%31[^,],%" SCNd64 ",%" SCNd64 ",%" SCNd64 ",a,3", label, &seq,
                        &tm, &w),
                 4),
              "%s", lines[2]);
    cr_assert(eq(str, label, "final"));
    cr_assert(eq(i64, seq, 2));
    cr_assert(eq(i64, w, wm));
    free(got);
    sl_sink_destroy(&s);
    fclose(f);
    sl_addict_destroy(&d);
}

/* ---- changes mode against a reference ----------------------------------------------------- */

#define NK 64
#define NEMIT 6

/* One output line of a count sink in changes mode: emit_seq, id, count. */
struct outrow {
    int64_t seq;
    char id[32];
    int64_t count;
};

static int cmp_outrow(const void *a, const void *b)
{
    const struct outrow *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Random snapshots of NK keys (keys appear over time and never go away, as in a state table;
 * some keep their count, some grow), the last one final. The reference: a row of emission e is
 * written when emission e - 1 has no row for its key or a different count. */
Test(sinks, changes_match_reference)
{
    uint64_t seed = 0x5eed;
    sl_addict *d = sl_addict_new();
    uint64_t keys[NK];
    char ids[NK][32];
    for (int i = 0; i < NK; i++) {
        snprintf(ids[i], sizeof ids[i], "k%03d", i);
        keys[i] = KEY(d, ids[i]);
    }
    sl_topology t;
    topo(&t, SL_SINK_FILE, SL_SINK_CSV, SL_SINK_CHANGES, 1);
    FILE *f = tmpfile();
    sl_sink *s = open_sink(&t, f, d, "count:int", 0);

    int64_t counts[NEMIT][NK]; /* -1: no row for the key in that emission */
    struct outrow want[NEMIT * NK];
    size_t nwant = 0;
    for (int e = 0; e < NEMIT; e++) {
        sl_row rows[NK];
        size_t n = 0;
        for (int i = 0; i < NK; i++) {
            int64_t prev = e ? counts[e - 1][i] : -1;
            int64_t c = prev;
            if (prev < 0) {
                if (tu_unit(&seed) < 0.5)
                    c = (int64_t)(splitmix64(&seed) % 100);
            } else if (tu_unit(&seed) < 0.4) {
                c = prev + 1 + (int64_t)(splitmix64(&seed) % 5);
            }
            counts[e][i] = c;
            if (c < 0)
                continue;
            rows[n++] = row3(keys[i], 0, (double)c, 0, 0);
            if (c != prev) { /* the reference: compare with the previous emission */
                want[nwant] = (struct outrow){.seq = e + 1, .count = c};
                memcpy(want[nwant++].id, ids[i], sizeof ids[i]);
            }
        }
        for (size_t i = n; i > 1; i--) { /* hand them over shuffled */
            size_t j = (size_t)(splitmix64(&seed) % i);
            sl_row tmp = rows[i - 1];
            rows[i - 1] = rows[j], rows[j] = tmp;
        }
        emit(s, e + 1 == NEMIT ? SL_EMIT_FINAL : SL_EMIT_SNAPSHOT, rows, n);
    }
    char *got = tu_read_stream(f, NULL);
    static char *lines[NEMIT * NK + 2];
    size_t nl = split_lines(got, lines, NEMIT * NK + 2);
    cr_assert(nl >= 1);
    cr_assert(eq(str, lines[0], "emit,emit_seq,emit_time_ms,emit_watermark_ms,ad_id,count"));
    struct outrow gotrows[NEMIT * NK];
    for (size_t i = 1; i < nl; i++) {
        char label[32];
        int64_t tm;
        struct outrow *o = &gotrows[i - 1];
        cr_assert(eq(int,
                     sscanf(lines[i], "%31[^,],%" SCNd64 ",%" SCNd64 ",,%31[^,],%" SCNd64, label,
                            &o->seq, &tm, o->id, &o->count),
                     5),
                  "line %zu: %s", i, lines[i]);
        char want_label[32];
        if (o->seq == NEMIT)
            snprintf(want_label, sizeof want_label, "final");
        else
            snprintf(want_label, sizeof want_label, "snapshot-%" PRId64, o->seq);
        cr_assert(eq(str, label, want_label));
    }
    size_t ngot = nl - 1;
    /* rows within an emission come sorted by id, as in full mode */
    for (size_t i = 1; i < ngot; i++)
        cr_assert(cmp_outrow(&gotrows[i - 1], &gotrows[i]) < 0, "order at line %zu", i + 1);
    qsort(want, nwant, sizeof *want, cmp_outrow);
    cr_assert(eq(sz, ngot, nwant));
    for (size_t i = 0; i < nwant; i++) {
        cr_assert(eq(i64, gotrows[i].seq, want[i].seq), "row %zu", i);
        cr_assert(eq(str, gotrows[i].id, want[i].id), "row %zu", i);
        cr_assert(eq(i64, gotrows[i].count, want[i].count), "row %zu", i);
    }
    free(got);
    sl_sink_destroy(&s);
    fclose(f);
    sl_addict_destroy(&d);
}

/* The text of a CSV with emission metadata, with its third field (emit_time_ms: the wall clock)
 * blanked on every line, so that two runs' outputs compare byte for byte (malloc'd). */
static char *without_times(const char *text)
{
    char *out = malloc(strlen(text) + 1), *o = out;
    cr_assert_not_null(out);
    int field = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            field = 0;
        else if (*p == ',')
            field++;
        else if (field == 2)
            continue;
        *o++ = *p;
    }
    *o = '\0';
    return out;
}

/* Commits (sl_sink_commit, save, restore, rewind), as a checkpoint and a resumed run use them: a
 * sink in changes mode with snapshots writes two emissions into a file, commits, writes a third
 * and "dies"; a new sink on the same file restores the image, takes the file back to the
 * committed length and writes the third and the final emissions. The file equals what one sink
 * that never stopped wrote (emit_time_ms aside): the header once, emit_seq and snapshot-N going
 * on, and only the rows that changed since the last one written before the commit (the changes
 * map came back). A sink of another mode refuses the image, naming it. */
Test(sinks, commit_restore_rewind_goes_on_exactly)
{
    sl_addict *d = sl_addict_new();
    uint64_t a = KEY(d, "a"), b = KEY(d, "b");
    const sl_row e1[] = {row3(a, 0, 1, 0, 0), row3(b, 0, 1, 0, 0)};
    const sl_row e2[] = {row3(a, 0, 2, 0, 0), row3(b, 0, 1, 0, 0)};
    const sl_row e3[] = {row3(a, 0, 2, 0, 0), row3(b, 0, 2, 0, 0)};
    const sl_row fin[] = {row3(a, 0, 3, 0, 0), row3(b, 0, 2, 0, 0)};
    sl_topology t;
    topo(&t, SL_SINK_FILE, SL_SINK_CSV, SL_SINK_CHANGES, 1);

    FILE *ref = tmpfile();
    sl_sink *s = open_sink(&t, ref, d, "count:int", 0);
    emit(s, SL_EMIT_SNAPSHOT, e1, 2);
    emit(s, SL_EMIT_SNAPSHOT, e2, 2);
    emit(s, SL_EMIT_SNAPSHOT, e3, 2);
    emit(s, SL_EMIT_FINAL, fin, 2);
    sl_sink_destroy(&s);
    char *want_raw = tu_read_stream(ref, NULL);
    fclose(ref);

    char path[] = "/tmp/sluice-sink-commit-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(ge(int, fd, 0));
    close(fd);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    s = open_sink(&t, f, d, "count:int", 0);
    emit(s, SL_EMIT_SNAPSHOT, e1, 2);
    emit(s, SL_EMIT_SNAPSHOT, e2, 2);
    uint64_t committed = 0;
    cr_assert(eq(int, sl_sink_commit(s, &committed), 0), "%s", sl_sink_message(s));
    cr_assert(eq(u64, committed, (uint64_t)ftello(f)), "a file's committed length is its offset");
    unsigned char *img = NULL;
    size_t len = 0;
    cr_assert(eq(int, sl_sink_save(s, &img, &len), 0));
    emit(s, SL_EMIT_SNAPSHOT, e3, 2); /* written after the commit: to be taken back */
    sl_sink_destroy(&s);
    fclose(f);

    /* another mode: refused, naming it */
    sl_topology full;
    topo(&full, SL_SINK_FILE, SL_SINK_CSV, SL_SINK_FULL, 1);
    s = open_sink(&full, NULL, d, "count:int", 0);
    char msg[512];
    uint64_t at = 0;
    cr_assert(eq(int, sl_sink_restore(s, img, len, &at, msg, sizeof msg), SL_EINVAL));
    cr_assert_not_null(strstr(msg, "sink mode"), "%s", msg);
    sl_sink_destroy(&s);

    f = fopen(path, "r+");
    cr_assert_not_null(f);
    s = open_sink(&t, f, d, "count:int", 0);
    cr_assert(eq(int, sl_sink_restore(s, img, len, &at, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(u64, at, committed));
    cr_assert(eq(int, sl_sink_rewind(s, at, msg, sizeof msg), 0), "%s", msg);
    emit(s, SL_EMIT_SNAPSHOT, e3, 2);
    emit(s, SL_EMIT_FINAL, fin, 2);
    sl_sink_destroy(&s);
    fclose(f);
    char *got_raw = tu_read_file(path, NULL);
    unlink(path);
    char *got = without_times(got_raw), *want = without_times(want_raw);
    cr_assert(eq(str, got, want));
    /* the reference itself: what changes mode writes for these emissions */
    cr_assert(eq(str, want,
                 "emit,emit_seq,,emit_watermark_ms,ad_id,count\n"
                 "snapshot-1,1,,,a,1\nsnapshot-1,1,,,b,1\n"
                 "snapshot-2,2,,,a,2\n"
                 "snapshot-3,3,,,b,2\n"
                 "final,4,,,a,3\n"));
    free(got);
    free(want);
    free(got_raw);
    free(want_raw);
    free(img);
    sl_addict_destroy(&d);
}

/* Windows: a window's row is compared with its own last row; a closed window that a snapshot
 * already showed with the same count is not written again; and snapshots off mean the windows
 * and final emissions are compared with each other only. */
Test(sinks, changes_windows)
{
    sl_addict *d = sl_addict_new();
    uint64_t a = KEY(d, "a"), b = KEY(d, "b");
    sl_topology t;
    topo(&t, SL_SINK_FILE, SL_SINK_CSV, SL_SINK_CHANGES, 1);
    FILE *f = tmpfile();
    sl_sink *s = open_sink(&t, f, d, "count:int", 1);
    sl_row s1[] = {row3(a, 0, 3, 0, 0), row3(a, 1000, 1, 0, 0), row3(b, 0, 2, 0, 0)};
    sl_row w1[] = {row3(a, 0, 3, 0, 0), row3(b, 0, 4, 0, 0)};
    sl_row s2[] = {row3(a, 1000, 1, 0, 0), row3(b, 1000, 7, 0, 0)};
    sl_row fin[] = {row3(a, 1000, 2, 0, 0), row3(b, 1000, 7, 0, 0)};
    emit(s, SL_EMIT_SNAPSHOT, s1, 3);
    emit(s, SL_EMIT_WINDOWS, w1, 2);
    emit(s, SL_EMIT_SNAPSHOT, s2, 2);
    emit(s, SL_EMIT_FINAL, fin, 2);
    char *got = tu_read_stream(f, NULL);
    char *lines[16];
    size_t n = split_lines(got, lines, 16);
    static const char *const want[] = {
        "snapshot-1,1,a,0,3", "snapshot-1,1,a,1000,1", "snapshot-1,1,b,0,2",
        "windows-1,2,b,0,4",  "snapshot-2,3,b,1000,7", "final,4,a,1000,2",
    };
    cr_assert(eq(sz, n, 1 + sizeof want / sizeof *want));
    for (size_t i = 1; i < n; i++) {
        /* drop emit_time_ms and the empty watermark: label,seq,TIME,,rest */
        char label[32], rest[64];
        int64_t seq, tm;
        cr_assert(eq(
            int, sscanf(lines[i], "%31[^,],%" SCNd64 ",%" SCNd64 ",,%63s", label, &seq, &tm, rest),
            4));
        char norm[128];
        snprintf(norm, sizeof norm, "%s,%" PRId64 ",%s", label, seq, rest);
        cr_assert(eq(str, norm, (char *)want[i - 1]), "line %zu", i);
    }
    free(got);
    sl_sink_destroy(&s);
    fclose(f);
    sl_addict_destroy(&d);
}

/* ---- NDJSON ------------------------------------------------------------------------------- */

/* A flat JSON object's members: strings decoded (\u00XX above 0x7f as UTF-8), numbers and null
 * kept as their text. Fails the test on anything else. */
struct jmember {
    char name[48];
    int is_str;
    char val[256];
    size_t len;
};

static void put_utf8(char *out, size_t *k, unsigned cp)
{
    if (cp < 0x80) {
        out[(*k)++] = (char)cp;
    } else {
        out[(*k)++] = (char)(0xc0 | (cp >> 6));
        out[(*k)++] = (char)(0x80 | (cp & 0x3f));
    }
}

static const char *jstr(const char *p, char *out, size_t cap, size_t *len)
{
    cr_assert(eq(chr, *p, '"'));
    size_t k = 0;
    for (p++; *p != '"'; p++) {
        cr_assert(k + 2 < cap && *p && (unsigned char)*p >= 0x20, "a raw control byte");
        if (*p != '\\') {
            out[k++] = *p;
            continue;
        }
        p++;
        if (*p == 'u') {
            unsigned cp;
            cr_assert(eq(int, sscanf(p + 1, "%4x", &cp), 1));
            cr_assert(cp < 0x800);
            put_utf8(out, &k, cp);
            p += 4;
        } else {
            cr_assert(p[0] == '"' || p[0] == '\\' || p[0] == '/', "escape \\%c", *p);
            out[k++] = *p;
        }
    }
    out[k] = '\0';
    *len = k;
    return p + 1;
}

static size_t jparse(const char *line, struct jmember *m, size_t max)
{
    const char *p = line;
    size_t n = 0;
    cr_assert(eq(chr, *p++, '{'), "%s", line);
    while (*p != '}') {
        cr_assert(n < max);
        size_t len;
        p = jstr(p, m[n].name, sizeof m[n].name, &len);
        cr_assert(eq(chr, *p++, ':'), "%s", line);
        if (*p == '"') {
            m[n].is_str = 1;
            p = jstr(p, m[n].val, sizeof m[n].val, &m[n].len);
        } else {
            m[n].is_str = 0;
            size_t k = strcspn(p, ",}");
            cr_assert(k > 0 && k < sizeof m[n].val);
            memcpy(m[n].val, p, k);
            m[n].val[k] = '\0';
            m[n].len = k;
            if (strcmp(m[n].val, "null") != 0) {
                char *end;
                strtod(m[n].val, &end);
                cr_assert(end[0] == '\0', "not a number: %s", m[n].val);
            }
            p += k;
        }
        n++;
        if (*p == ',')
            p++;
        else
            cr_assert(eq(chr, *p, '}'), "%s", line);
    }
    cr_assert(eq(chr, p[1], '\0'), "one object per line");
    return n;
}

Test(sinks, ndjson_parsed_back)
{
    sl_addict *d = sl_addict_new();
    static const char *const ids[] = {"plain",       "q\"x",      "b\\c",
                                      "caf\xc3\xa9", "new\nline", "bad\xff"};
    static const char *const decoded[] = {"plain",       "q\"x",      "b\\c",
                                          "caf\xc3\xa9", "new\nline", "bad\xc3\xbf"};
    enum { N = 6 };
    uint64_t keys[N];
    sl_row rows[N];
    for (int i = 0; i < N; i++) {
        keys[i] = KEY(d, ids[i]);
        rows[i] = row3(keys[i], 0, 10 + i, i, (double)i / (10 + i));
    }
    /* a key column: the id of another key, none, and one the dictionary lacks */
    uint64_t stranger = UINT64_C(0x0123456789abcdef);
    memcpy(&rows[0].v[3], &keys[1], 8);
    memset(&rows[1].v[3], 0, 8);
    memcpy(&rows[2].v[3], &stranger, 8);
    for (int i = 3; i < N; i++)
        memcpy(&rows[i].v[3], &keys[0], 8);
    sl_topology t;
    topo(&t, SL_SINK_FILE, SL_SINK_NDJSON, SL_SINK_FULL, 0);
    FILE *f = tmpfile();
    sl_sink *s = open_sink(&t, f, d, "impressions:int,clicks:int,ctr:f6,top:key", 0);
    int64_t t0 = now_ms();
    emit(s, SL_EMIT_FINAL, rows, N);
    int64_t t1 = now_ms();
    char *got = tu_read_stream(f, NULL);
    char *lines[N + 1];
    cr_assert(eq(sz, split_lines(got, lines, N + 1), N), "no header, one line per row");
    /* sorted by id bytes: find each row's line by its ad_id */
    for (int l = 0; l < N; l++) {
        struct jmember m[16];
        size_t nm = jparse(lines[l], m, 16);
        static const char *const names[] = {
            "emit",   "emit_seq", "emit_time_ms", "emit_watermark_ms", "ad_id", "impressions",
            "clicks", "ctr",      "top"};
        cr_assert(eq(sz, nm, 9));
        for (int j = 0; j < 9; j++)
            cr_assert(eq(str, m[j].name, (char *)names[j]));
        cr_assert(m[0].is_str && strcmp(m[0].val, "final") == 0);
        cr_assert(eq(str, m[1].val, "1"));
        int64_t tm = strtoll(m[2].val, NULL, 10);
        cr_assert(tm >= t0 && tm <= t1);
        cr_assert(eq(str, m[3].val, "null"));
        int i = 0;
        while (i < N &&
               !(m[4].len == strlen(decoded[i]) && memcmp(m[4].val, decoded[i], m[4].len) == 0))
            i++;
        cr_assert(i < N, "unknown ad_id in %s", lines[l]);
        char want[64];
        snprintf(want, sizeof want, "%d", 10 + i);
        cr_assert(eq(str, m[5].val, want));
        snprintf(want, sizeof want, "%d", i);
        cr_assert(eq(str, m[6].val, want));
        cr_assert(fabs(strtod(m[7].val, NULL) - (double)i / (10 + i)) < 1e-6, "%s", m[7].val);
        if (i == 1) {
            cr_assert(m[8].is_str == 0 && strcmp(m[8].val, "null") == 0);
        } else {
            cr_assert(m[8].is_str);
            cr_assert(eq(str, m[8].val,
                         (char *)(i == 0   ? "q\"x"
                                  : i == 2 ? "#0123456789abcdef"
                                           : "plain")));
        }
    }
    free(got);
    sl_sink_destroy(&s);
    fclose(f);
    sl_addict_destroy(&d);
}

/* ---- zmq ---------------------------------------------------------------------------------- */

/* A PULL socket bound to a free loopback port; its endpoint in ep. */
static void *pull_bind(void *ctx, char *ep, size_t eplen)
{
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    cr_assert_not_null(pull);
    int zero = 0, tmo = 10000;
    zmq_setsockopt(pull, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    cr_assert(eq(int, zmq_bind(pull, "tcp://127.0.0.1:*"), 0));
    cr_assert(eq(int, zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, ep, &eplen), 0));
    return pull;
}

static char *recv_msg(void *pull)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    int n = zmq_msg_recv(&m, pull, 0);
    cr_assert(n >= 0, "recv: %s", zmq_strerror(zmq_errno()));
    char *s = malloc((size_t)n + 1);
    memcpy(s, zmq_msg_data(&m), (size_t)n);
    s[n] = '\0';
    zmq_msg_close(&m);
    return s;
}

Test(sinks, zmq_pull_receives_rows)
{
    void *ctx = zmq_ctx_new();
    char ep[128];
    void *pull = pull_bind(ctx, ep, sizeof ep);
    sl_addict *d = sl_addict_new();
    uint64_t a = KEY(d, "a"), b = KEY(d, "b,c");
    sl_topology t;
    topo(&t, SL_SINK_ZMQ, SL_SINK_CSV, SL_SINK_FULL, 0);
    opt(&t, "connect", ep);
    sl_sink *s = open_sink(&t, NULL, d, "count:int", 0);
    sl_row fin[] = {row3(b, 0, 5, 0, 0), row3(a, 0, 4, 0, 0)};
    sl_row none[1];
    emit(s, SL_EMIT_FINAL, none, 0); /* nothing to send: no message */
    emit(s, SL_EMIT_FINAL, fin, 2);
    char *m = recv_msg(pull);
    cr_assert(eq(str, m, "ad_id,count\na,4\n\"b,c\",5\n"));
    free(m);
    sl_sink_destroy(&s);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    sl_addict_destroy(&d);
}

/* A large emission in NDJSON is split at line ends into messages of at most message_bytes
 * (rows of a few dozen bytes), which together hold every row once, in order. */
Test(sinks, zmq_splits_large_emissions)
{
    void *ctx = zmq_ctx_new();
    char ep[128];
    void *pull = pull_bind(ctx, ep, sizeof ep);
    sl_addict *d = sl_addict_new();
    enum { N = 500 };
    static sl_row rows[N];
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "k%04d", i);
        rows[i] = row3(KEY(d, id), 0, i, 0, 0);
    }
    sl_topology t;
    topo(&t, SL_SINK_ZMQ, SL_SINK_NDJSON, SL_SINK_FULL, 0);
    opt(&t, "connect", ep);
    opt(&t, "message_bytes", "1024");
    sl_sink *s = open_sink(&t, NULL, d, "count:int", 0);
    emit(s, SL_EMIT_FINAL, rows, N);
    int next = 0, msgs = 0;
    while (next < N) {
        char *m = recv_msg(pull);
        msgs++;
        cr_assert(strlen(m) <= 1024, "message of %zu bytes", strlen(m));
        char *lines[N];
        size_t nl = split_lines(m, lines, N);
        cr_assert(nl > 0);
        for (size_t i = 0; i < nl; i++, next++) {
            char want[64];
            snprintf(want, sizeof want, "\"ad_id\":\"k%04d\",\"count\":%d}", next, next);
            cr_assert(strstr(lines[i], want) != NULL, "%s lacks %s", lines[i], want);
        }
        free(m);
    }
    cr_assert(eq(int, next, N));
    cr_assert(msgs > 1);
    sl_sink_destroy(&s);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    sl_addict_destroy(&d);
}

Test(sinks, zmq_no_consumer_times_out)
{
    /* a port nobody listens on: bind and close a PULL socket to find one */
    void *ctx = zmq_ctx_new();
    char ep[128];
    zmq_close(pull_bind(ctx, ep, sizeof ep));
    zmq_ctx_term(ctx);
    sl_addict *d = sl_addict_new();
    sl_topology t;
    topo(&t, SL_SINK_ZMQ, SL_SINK_CSV, SL_SINK_FULL, 0);
    opt(&t, "connect", ep);
    opt(&t, "peer_timeout_ms", "300");
    sl_sink *s = open_sink(&t, NULL, d, "count:int", 0);
    sl_row r = row3(KEY(d, "a"), 0, 1, 0, 0);
    int64_t t0 = now_ms();
    cr_assert(eq(int, sl_sink_emit(s, SL_EMIT_FINAL, &r, 1), SL_EIO));
    int64_t waited = now_ms() - t0;
    cr_assert(waited >= 250 && waited < 5000, "waited %" PRId64 " ms", waited);
    cr_assert(strstr(sl_sink_message(s), "no consumer connected to") != NULL, "%s",
              sl_sink_message(s));
    cr_assert(strstr(sl_sink_message(s), ep) != NULL, "%s", sl_sink_message(s));
    sl_sink_destroy(&s);
    sl_addict_destroy(&d);
}

/* ---- redis -------------------------------------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    cr_assert(eq(int, bind(fd, (struct sockaddr *)&sa, sizeof sa), 0));
    cr_assert(eq(int, getsockname(fd, (struct sockaddr *)&sa, &len), 0));
    close(fd);
    return ntohs(sa.sin_port);
}

struct redis {
    pid_t pid;
    int port;
    char address[32];
    redisContext *c;
};

/* Starts redis-server on a free loopback port (skipping the test when there is none) and
 * connects to it. */
static void redis_start(struct redis *r)
{
    if (system("command -v redis-server >/dev/null 2>&1") != 0)
        cr_skip_test("no redis-server");
    r->port = free_port();
    snprintf(r->address, sizeof r->address, "127.0.0.1:%d", r->port);
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    r->pid = fork();
    cr_assert(r->pid >= 0);
    if (r->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a failed test leaves no server behind */
        freopen("/dev/null", "w", stdout);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        struct timeval tv = {1, 0};
        r->c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
        if (r->c && !r->c->err) {
            redisReply *rep = redisCommand(r->c, "PING");
            int ok = rep && rep->type == REDIS_REPLY_STATUS;
            freeReplyObject(rep);
            if (ok)
                return;
        }
        if (r->c)
            redisFree(r->c);
        r->c = NULL;
        usleep(10000);
    }
    cr_fatal("redis-server on port %d did not answer", r->port);
}

static void redis_stop(struct redis *r)
{
    if (r->c)
        redisFree(r->c);
    kill(r->pid, SIGTERM);
    int st;
    waitpid(r->pid, &st, 0);
}

/* HGETALL key as "field=value;" pairs sorted by field. */
static char *hgetall(struct redis *r, const char *key)
{
    redisReply *rep = redisCommand(r->c, "HGETALL %s", key);
    cr_assert(rep && rep->type == REDIS_REPLY_ARRAY, "HGETALL %s", key);
    char pairs[32][256];
    size_t n = rep->elements / 2;
    for (size_t i = 0; i < n; i++)
        snprintf(pairs[i], sizeof pairs[i], "%s=%s;", rep->element[2 * i]->str,
                 rep->element[2 * i + 1]->str);
    qsort(pairs, n, sizeof *pairs, (int (*)(const void *, const void *))strcmp);
    char *out = calloc(1, 32 * 256 + 1);
    for (size_t i = 0; i < n; i++)
        strcat(out, pairs[i]);
    freeReplyObject(rep);
    return out;
}

Test(sinks, redis_hashes_match_rows, .timeout = 60)
{
    struct redis r;
    redis_start(&r);
    sl_addict *d = sl_addict_new();
    enum { N = 2500 }; /* more than one pipelined batch */
    static sl_row rows[N];
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "ad-%d", i);
        rows[i] = row3(KEY(d, id), 0, 100 + i, i % 7, (double)(i % 7) / (100 + i));
    }
    sl_topology t;
    topo(&t, SL_SINK_REDIS, SL_SINK_CSV, SL_SINK_FULL, 0);
    opt(&t, "address", r.address);
    opt(&t, "key", "ctr:{ad_id}");
    opt(&t, "batch", "300");
    sl_sink *s = open_sink(&t, NULL, d, "impressions:int,clicks:int,ctr:f6", 0);
    emit(s, SL_EMIT_FINAL, rows, N);
    for (int i = 0; i < N; i += 97) {
        char key[32], want[256];
        snprintf(key, sizeof key, "ctr:ad-%d", i);
        snprintf(want, sizeof want, "clicks=%d;ctr=%.6f;impressions=%d;", i % 7,
                 (double)(i % 7) / (100 + i), 100 + i);
        char *got = hgetall(&r, key);
        cr_assert(eq(str, got, want), "%s", key);
        free(got);
    }
    redisReply *rep = redisCommand(r.c, "DBSIZE");
    cr_assert(eq(i64, rep->integer, N));
    freeReplyObject(rep);
    sl_sink_destroy(&s);
    sl_addict_destroy(&d);
    redis_stop(&r);
}

/* Windowed, snapshots on: the window start is appended to a key without {window_start}, and the
 * hash holds window_start and the emission's metadata; a later emission overwrites fields. */
Test(sinks, redis_windowed_with_metadata, .timeout = 60)
{
    struct redis r;
    redis_start(&r);
    sl_addict *d = sl_addict_new();
    uint64_t a = KEY(d, "a");
    sl_topology t;
    topo(&t, SL_SINK_REDIS, SL_SINK_CSV, SL_SINK_CHANGES, 1);
    opt(&t, "address", r.address);
    opt(&t, "key", "w:{ad_id}");
    sl_sink *s = open_sink(&t, NULL, d, "count:int", 1);
    int64_t wm = 5000;
    sl_sink_set_clock(s, fixed_wm, &wm);
    sl_row s1[] = {row3(a, 0, 3, 0, 0), row3(a, 1000, 1, 0, 0)};
    sl_row fin[] = {row3(a, 1000, 2, 0, 0)};
    emit(s, SL_EMIT_SNAPSHOT, s1, 2);
    emit(s, SL_EMIT_FINAL, fin, 1);
    char *g0 = hgetall(&r, "w:a:0"), *g1 = hgetall(&r, "w:a:1000");
    /* emit_time_ms varies: cut it out */
    char *p = strstr(g0, "emit_time_ms=");
    cr_assert_not_null(p);
    memmove(p, strchr(p, ';') + 1, strlen(strchr(p, ';') + 1) + 1);
    p = strstr(g1, "emit_time_ms=");
    cr_assert_not_null(p);
    memmove(p, strchr(p, ';') + 1, strlen(strchr(p, ';') + 1) + 1);
    cr_assert(
        eq(str, g0, "count=3;emit=snapshot-1;emit_seq=1;emit_watermark_ms=5000;window_start=0;"));
    cr_assert(
        eq(str, g1, "count=2;emit=final;emit_seq=2;emit_watermark_ms=5000;window_start=1000;"));
    free(g0), free(g1);
    sl_sink_destroy(&s);
    sl_addict_destroy(&d);
    redis_stop(&r);
}

/* A Redis error (a key of another type) fails the emission with the address and the reply. */
Test(sinks, redis_error_reply_fails, .timeout = 60)
{
    struct redis r;
    redis_start(&r);
    freeReplyObject(redisCommand(r.c, "SET ctr:a plain"));
    sl_addict *d = sl_addict_new();
    sl_topology t;
    topo(&t, SL_SINK_REDIS, SL_SINK_CSV, SL_SINK_FULL, 0);
    opt(&t, "address", r.address);
    opt(&t, "key", "ctr:{ad_id}");
    sl_sink *s = open_sink(&t, NULL, d, "count:int", 0);
    sl_row rows[] = {row3(KEY(d, "a"), 0, 1, 0, 0), row3(KEY(d, "b"), 0, 2, 0, 0)};
    cr_assert(eq(int, sl_sink_emit(s, SL_EMIT_FINAL, rows, 2), SL_EIO));
    const char *m = sl_sink_message(s);
    cr_assert(strstr(m, r.address) && strstr(m, "WRONGTYPE"), "%s", m);
    sl_sink_destroy(&s);
    sl_addict_destroy(&d);
    redis_stop(&r);
}

Test(sinks, redis_refused_names_address)
{
    sl_addict *d = sl_addict_new();
    sl_topology t;
    topo(&t, SL_SINK_REDIS, SL_SINK_CSV, SL_SINK_FULL, 0);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", free_port());
    opt(&t, "address", addr);
    sl_sink *s = NULL;
    char msg[512];
    cr_assert(eq(int, sl_sink_open(&t, NULL, d, 0, &s, msg, sizeof msg), SL_EIO));
    cr_assert_null(s);
    cr_assert(strstr(msg, addr) && strstr(msg, "cannot connect"), "%s", msg);
    sl_addict_destroy(&d);
}

/* ---- the kinds' keys ---------------------------------------------------------------------- */

static void expect_bad(int kind, const char *key, const char *val, const char *want)
{
    sl_topology t;
    topo(&t, kind, SL_SINK_CSV, SL_SINK_FULL, 0);
    if (kind == SL_SINK_ZMQ && strcmp(key, "connect") != 0)
        opt(&t, "connect", "tcp://127.0.0.1:5700");
    if (key)
        opt(&t, key, val);
    char msg[512] = "";
    cr_assert(eq(int, sl_sink_check(&t, msg, sizeof msg), SL_ECONFIG), "%s=%s", key, val);
    cr_assert(strstr(msg, want) != NULL, "%s=%s: %s", key, val, msg);
}

Test(sinks, kind_keys_checked)
{
    expect_bad(SL_SINK_ZMQ, "connect", "127.0.0.1:5700", "tcp:// or ipc://");
    expect_bad(SL_SINK_ZMQ, "hwm", "0", "sink.hwm");
    expect_bad(SL_SINK_ZMQ, "key", "x", "unknown key \"key\"");
    expect_bad(SL_SINK_REDIS, "key", "ctr:{id}", "unknown placeholder");
    expect_bad(SL_SINK_REDIS, "key", "ctr", "expected {ad_id}");
    expect_bad(SL_SINK_REDIS, "address", "localhost", "expected HOST:PORT");
    expect_bad(SL_SINK_REDIS, "address", "h:99999", "expected HOST:PORT");
    expect_bad(SL_SINK_FILE, "connect", "tcp://x:1", "unknown key \"connect\"");
    sl_topology t;
    topo(&t, SL_SINK_ZMQ, SL_SINK_CSV, SL_SINK_FULL, 0);
    char msg[512] = "";
    cr_assert(eq(int, sl_sink_check(&t, msg, sizeof msg), SL_ECONFIG));
    cr_assert(strstr(msg, "missing required key \"connect\"") != NULL, "%s", msg);
    topo(&t, SL_SINK_REDIS, SL_SINK_CSV, SL_SINK_FULL, 0);
    opt(&t, "key", "c:{campaign_id}:{window_start}");
    cr_assert(eq(int, sl_sink_check(&t, msg, sizeof msg), 0), "%s", msg);
}
