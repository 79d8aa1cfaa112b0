/* The inputs CTR users have (host/io/reader.h, host/io/decomp.h): gzip and zstd files recognised
 * by their content, a UTF-8 byte order mark, and CSV records whose quoted fields hold newlines.
 *
 * Compressed files are made by the real `gzip` and `zstd` tools, and every read of one is
 * compared with the read of the plain file it came from: the same records, the same malformed
 * line reports and the same counters. CSV with quoted newlines is compared with what its writer
 * below knows it wrote (ids, times, types, the line each malformed record starts on). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addict.h"
#include "badline.h"
#include "decomp.h"
#include "err.h"
#include "keyhash.h"
#include "proc.h"
#include "reader.h"
#include "schema.h"
#include "slice.h"
#include "source.h"

TestSuite(inputs, .init = setup, .fini = teardown, .timeout = 300);

#define BOM "\xef\xbb\xbf"

/* ---- reading through sl_reader ----------------------------------------------------------- */

#define MAX_BADS 4096

/* Everything one read of an input gave. */
struct got {
    sl_rec *recs;
    size_t n, cap;
    struct bad_line *bads; /* the first MAX_BADS reports */
    size_t nbad;
    struct sl_reader_stats st;
    long last;       /* the last sl_reader_read result */
    char err[512];   /* sl_reader_error after it */
    int at_end;      /* sl_reader_at_end after it */
    sl_addict *dict; /* ids seen, for the tests that look one up */
};

static int on_bad(void *ud, uint64_t line, size_t column, uint64_t offset, const char *reason)
{
    struct got *g = ud;
    if (g->nbad < MAX_BADS)
        bad_line_set(&g->bads[g->nbad], line, column, offset, reason);
    g->nbad++;
    return 0;
}

static void got_init(struct got *g)
{
    memset(g, 0, sizeof *g);
    g->bads = calloc(MAX_BADS, sizeof *g->bads);
    g->dict = sl_addict_new();
    cr_assert(g->bads && g->dict);
}

static void got_free(struct got *g)
{
    free(g->recs);
    free(g->bads);
    sl_addict_destroy(&g->dict);
    memset(g, 0, sizeof *g);
}

static void got_push(struct got *g, const sl_rec *r, size_t n)
{
    if (n == 0)
        return;
    if (g->n + n > g->cap) {
        g->cap = (g->n + n) * 2 + 1024;
        g->recs = realloc(g->recs, g->cap * sizeof *g->recs);
        cr_assert_not_null(g->recs);
    }
    memcpy(g->recs + g->n, r, n * sizeof *r);
    g->n += n;
}

/* Reads r to its end (a live input: until sl_reader_at_end) or its first error, `step` records
 * per call, into g. */
static void drain(sl_reader *r, size_t step, struct got *g)
{
    sl_rec buf[1000];
    cr_assert_leq(step, sizeof buf / sizeof buf[0]);
    for (int idle = 0; idle < 2000;) {
        long k = sl_reader_read(r, buf, step);
        g->last = k;
        if (k < 0)
            break;
        got_push(g, buf, (size_t)k);
        if (k == 0) {
            if (sl_reader_at_end(r))
                break;
            idle++; /* a live input with nothing yet */
        }
    }
    snprintf(g->err, sizeof g->err, "%s", sl_reader_error(r));
    g->at_end = sl_reader_at_end(r);
    sl_reader_stats(r, &g->st);
}

/* Reads the file at path (a test file name) with a FILE reader of fmt into g. */
static void read_path(const char *name, sl_format fmt, size_t max_line, struct got *g)
{
    got_init(g);
    FILE *f = fopen(tpath(name), "rb");
    cr_assert_not_null(f, "%s: %s", name, strerror(errno));
    sl_reader *r = sl_reader_new(f, fmt, g->dict, max_line);
    cr_assert_not_null(r);
    sl_reader_on_bad(r, on_bad, g);
    drain(r, 1000, g);
    sl_reader_destroy(&r);
    fclose(f);
}

/* Reads data[0..len) with a chunked reader of fmt, handed in `chunk` bytes at a time (a
 * chunk of 0: sizes from 1 to 97 bytes, varying), into g. */
static void read_chunked(const char *data, size_t len, sl_format fmt, size_t max_line, size_t chunk,
                         struct got *g)
{
    got_init(g);
    sl_reader *r = sl_reader_new_chunked(fmt, g->dict, max_line);
    cr_assert_not_null(r);
    sl_reader_on_bad(r, on_bad, g);
    sl_rec buf[64];
    size_t at = 0, turn = 0;
    while (at < len) {
        size_t want = chunk ? chunk : 1 + (turn++ * 37) % 97;
        if (want > len - at)
            want = len - at;
        size_t k = sl_reader_feed(r, data + at, want);
        at += k;
        long n = sl_reader_read(r, buf, 64);
        cr_assert_geq(n, 0, "chunked read: %ld", n);
        got_push(g, buf, (size_t)n);
        if (k == 0 && n == 0)
            cr_assert_fail("the chunked reader takes nothing and gives nothing at byte %zu", at);
    }
    sl_reader_end(r);
    drain(r, 64, g);
    sl_reader_destroy(&r);
}

static void expect_same_recs(const struct got *a, const struct got *b, const char *what)
{
    cr_assert_eq(a->n, b->n, "%s: %zu records against %zu", what, a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const sl_rec *x = &a->recs[i], *y = &b->recs[i];
        cr_assert(x->key == y->key && x->time_ms == y->time_ms && x->type == y->type &&
                      x->user == y->user && memcmp(&x->value, &y->value, sizeof x->value) == 0,
                  "%s: record %zu differs", what, i);
    }
}

static void expect_same_stats(const struct sl_reader_stats *a, const struct sl_reader_stats *b,
                              const char *what)
{
    cr_assert_eq(a->lines, b->lines, "%s: lines", what);
    cr_assert_eq(a->records, b->records, "%s: records", what);
    cr_assert_eq(a->bad, b->bad, "%s: bad", what);
    cr_assert_eq(a->blank, b->blank, "%s: blank", what);
    cr_assert_eq(a->bytes, b->bytes, "%s: bytes", what);
}

static void expect_same_bads(const struct got *a, const struct got *b, const char *what)
{
    cr_assert_eq(a->nbad, b->nbad, "%s: %zu reports against %zu", what, a->nbad, b->nbad);
    for (size_t i = 0; i < a->nbad && i < MAX_BADS; i++) {
        const struct bad_line *x = &a->bads[i], *y = &b->bads[i];
        cr_assert(x->line == y->line && x->column == y->column && x->offset == y->offset &&
                      strcmp(x->reason, y->reason) == 0,
                  "%s: report %zu: line %llu col %zu byte %llu (%s) against line %llu col %zu "
                  "byte %llu (%s)",
                  what, i, (unsigned long long)x->line, x->column, (unsigned long long)x->offset,
                  x->reason, (unsigned long long)y->line, y->column, (unsigned long long)y->offset,
                  y->reason);
    }
}

/* The whole read of b is the read of a: records, reports, counters, a clean end. */
static void expect_same_read(const struct got *a, const struct got *b, const char *what)
{
    cr_assert_eq(b->last, 0, "%s: last read %ld (%s)", what, b->last, b->err);
    cr_assert(b->at_end, "%s: not at the end", what);
    expect_same_recs(a, b, what);
    expect_same_bads(a, b, what);
    expect_same_stats(&a->st, &b->st, what);
}

/* ---- input files ---------------------------------------------------------------------------- */

/* Runs a shell command in the test directory; asserts it exits 0. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[2048], full[2600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd '%s' && %s", tmpdir, cmd);
    int st = system(full);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "`%s` failed (%d)", cmd, st);
}

static size_t file_size(const char *name)
{
    struct stat st;
    cr_assert_eq(stat(tpath(name), &st), 0, "%s", name);
    return (size_t)st.st_size;
}

/* NDJSON events, `n` lines of about 130 bytes (so several 1 MiB blocks of text): ad ids
 * "ad-K", a CRLF ending now and then, blank lines, malformed lines of assorted kinds. */
static void write_ndjson(const char *name, size_t n, uint64_t seed, const char *prefix)
{
    FILE *f = create(name);
    fputs(prefix ? prefix : "", f);
    static const char *const types[] = {"view", "click", "purchase", "impression"};
    for (size_t i = 0; i < n; i++) {
        uint64_t r = splitmix64(&seed);
        if (i % 97 == 50) {
            fputs(i % 2 ? "{\"ad_id\": \"ad-1\", \"event_type\": \"view\"}\n" : "garbage line\n",
                  f);
            continue;
        }
        if (i % 89 == 3) {
            fputs(i % 2 ? "\n" : "   \r\n", f);
            continue;
        }
        fprintf(f,
                "{\"user_id\": \"u%llu\", \"ad_id\": \"ad-%llu\", \"event_type\": \"%s\", "
                "\"event_time\": %llu, \"value\": %llu.25}%s\n",
                (unsigned long long)(r % 1000), (unsigned long long)((r >> 12) % 5000),
                types[(r >> 30) % 4], 1700000000000ULL + i, (unsigned long long)((r >> 40) % 100),
                i % 31 == 7 ? "\r" : "");
    }
    fclose(f);
}

/* What write_csv wrote, record by record. */
struct want {
    char id[48];
    long long t;
    int type;
};

struct csvgen {
    struct want *w;
    size_t n;
    uint64_t lines;     /* '\n' bytes written */
    uint64_t *bad_line; /* the line each malformed record starts on */
    size_t nbad;
};

static const char *const csv_types[] = {"view", "click", "purchase"};

/* CSV events: a header naming the columns out of their default order, then n records: ids that
 * need quotes (a comma, doubled quotes, a newline, "\r\n"), records spanning several lines,
 * blank lines, malformed records (one of them spanning two lines) and CRLF endings. Every
 * record ends with a newline. Fills g (g->w holds n entries at most). */
static void write_csv(const char *name, size_t n, int bom, struct csvgen *g)
{
    FILE *f = create(name);
    memset(g, 0, sizeof *g);
    g->w = calloc(n, sizeof *g->w);
    g->bad_line = calloc(n, sizeof *g->bad_line);
    cr_assert(g->w && g->bad_line);
    uint64_t line = 1; /* the line about to be written */
    fprintf(f, "%sevent_time,ad_id,event_type,value\n", bom ? BOM : "");
    line++;
    for (size_t i = 0; i < n; i++) {
        struct want *w = &g->w[g->n];
        w->t = 1000 + (long long)i;
        w->type = (int)(i % 3);
        const char *ty = csv_types[w->type];
        switch (i % 9) {
        case 0: /* a quoted newline */
            snprintf(w->id, sizeof w->id, "ad-%zu\nline two", i % 50);
            fprintf(f, "%lld,\"ad-%zu\nline two\",%s,1\n", w->t, i % 50, ty);
            line += 2;
            break;
        case 1: /* doubled quotes and a quoted CRLF, the record ending in CRLF */
            snprintf(w->id, sizeof w->id, "q\"%zu\"\r\nz", i % 50);
            fprintf(f, "%lld,\"q\"\"%zu\"\"\r\nz\",\"%s\",2\r\n", w->t, i % 50, ty);
            line += 2;
            break;
        case 2: /* three lines, a comma and an empty line inside */
            snprintf(w->id, sizeof w->id, "m,%zu\n\nend", i % 50);
            fprintf(f, "%lld,\"m,%zu\n\nend\",%s,\n", w->t, i % 50, ty);
            line += 3;
            break;
        case 3: /* malformed on one line, then a blank line */
            g->bad_line[g->nbad++] = line;
            fprintf(f, "%lld,ad-bad,%s,notanumber\n\n", w->t, ty);
            line += 2;
            continue;
        case 4: /* malformed, spanning two lines: reported at its first */
            g->bad_line[g->nbad++] = line;
            fprintf(f, "soon,\"bad\nid\",%s,1\n", ty);
            line += 2;
            continue;
        default:
            snprintf(w->id, sizeof w->id, "ad-%zu", i % 50);
            fprintf(f, "%lld,%s,%s,3\n", w->t, w->id, ty);
            line += 1;
            break;
        }
        g->n++;
    }
    fclose(f);
    g->lines = line - 1;
}

/* Asserts that g's records are exactly what write_csv wrote (gen), and its reports name the
 * lines the malformed records start on. */
static void expect_csv(const struct got *g, const struct csvgen *gen, const char *what)
{
    cr_assert_eq(g->last, 0, "%s: %ld (%s)", what, g->last, g->err);
    cr_assert_eq(g->n, gen->n, "%s: %zu records, %zu written", what, g->n, gen->n);
    for (size_t i = 0; i < gen->n; i++) {
        const sl_rec *r = &g->recs[i];
        const struct want *w = &gen->w[i];
        cr_assert(r->key == sl_key_hash(w->id, strlen(w->id)) && r->time_ms == w->t &&
                      r->type == (uint32_t)w->type,
                  "%s: record %zu (id \"%s\", time %lld)", what, i, w->id, w->t);
    }
    cr_assert_eq(g->nbad, gen->nbad, "%s: %zu reports, %zu malformed records written", what,
                 g->nbad, gen->nbad);
    for (size_t i = 0; i < gen->nbad && i < MAX_BADS; i++)
        cr_assert_eq(g->bads[i].line, gen->bad_line[i], "%s: report %zu (%s)", what, i,
                     g->bads[i].reason);
    cr_assert_eq(g->st.lines, gen->lines, "%s: lines", what);
    cr_assert_eq(g->st.records, gen->n, "%s: records", what);
    cr_assert_eq(g->st.bad, gen->nbad, "%s: bad", what);
}

/* ---- compressed files ----------------------------------------------------------------------- */

Test(inputs, gzip_and_zstd_read_as_the_plain_file)
{
    write_ndjson("ev.ndjson", 40000, 11, NULL);
    cr_assert_gt(file_size("ev.ndjson"), (size_t)3 << 20, "several blocks of text");
    sh("gzip -c ev.ndjson > ev.ndjson.gz && zstd -q -c ev.ndjson > ev.ndjson.zst");
    sh("cp ev.ndjson.gz ev-gz.data && cp ev.ndjson.zst ev-zstd.data"); /* no telling names */
    struct got plain;
    read_path("ev.ndjson", SL_FMT_NDJSON, 0, &plain);
    cr_assert_eq(plain.last, 0);
    cr_assert_gt(plain.nbad, 100u);
    cr_assert_gt(plain.st.blank, 100u);
    static const char *const names[] = {"ev.ndjson.gz", "ev.ndjson.zst", "ev-gz.data",
                                        "ev-zstd.data"};
    for (size_t i = 0; i < 4; i++) {
        struct got z;
        read_path(names[i], SL_FMT_NDJSON, 0, &z);
        expect_same_read(&plain, &z, names[i]);
        got_free(&z);
    }
    /* the same for CSV, whose records span lines */
    struct csvgen gen;
    write_csv("ev.csv", 30000, 0, &gen);
    sh("gzip -c ev.csv > ev.csv.gz && zstd -q -c ev.csv > ev.csv.zst");
    struct got pc, gz, zs;
    read_path("ev.csv", SL_FMT_CSV, 0, &pc);
    expect_csv(&pc, &gen, "ev.csv");
    read_path("ev.csv.gz", SL_FMT_CSV, 0, &gz);
    expect_same_read(&pc, &gz, "ev.csv.gz");
    read_path("ev.csv.zst", SL_FMT_CSV, 0, &zs);
    expect_same_read(&pc, &zs, "ev.csv.zst");
    free(gen.w);
    free(gen.bad_line);
    got_free(&pc);
    got_free(&gz);
    got_free(&zs);
    got_free(&plain);
    finish();
}

Test(inputs, concatenated_members_and_frames_are_all_read)
{
    write_ndjson("ev.ndjson", 30000, 12, NULL);
    /* three pieces cut at arbitrary bytes (inside lines), each compressed on its own */
    sh("split -b 1234567 -d ev.ndjson part. && for p in part.*; do gzip -c $p >> cat.gz; "
       "zstd -q -c $p >> cat.zst; done");
    /* and a member of nothing between them */
    sh("gzip -c ev.ndjson > one.gz && : | gzip -c > empty.gz && cat empty.gz one.gz empty.gz "
       "> withempty.gz");
    struct got plain;
    read_path("ev.ndjson", SL_FMT_NDJSON, 0, &plain);
    static const char *const names[] = {"cat.gz", "cat.zst", "withempty.gz"};
    for (size_t i = 0; i < 3; i++) {
        struct got z;
        read_path(names[i], SL_FMT_NDJSON, 0, &z);
        expect_same_read(&plain, &z, names[i]);
        got_free(&z);
    }
    got_free(&plain);
    finish();
}

/* Reads name and asserts a sticky SL_EIO whose message holds each of the NULL-terminated
 * `needles`; returns the records read before it, and the message in err (when not NULL). */
static size_t expect_corrupt(const char *name, const char *const *needles, char *err, size_t len)
{
    struct got g;
    got_init(&g);
    FILE *f = fopen(tpath(name), "rb");
    cr_assert_not_null(f);
    sl_reader *r = sl_reader_new(f, SL_FMT_NDJSON, g.dict, 0);
    sl_reader_on_bad(r, on_bad, &g);
    drain(r, 1000, &g);
    cr_assert_eq(g.last, SL_EIO, "%s: %ld", name, g.last);
    for (size_t i = 0; needles[i]; i++)
        cr_assert_not_null(strstr(g.err, needles[i]), "%s: \"%s\" not in: %s", name, needles[i],
                           g.err);
    sl_rec one;
    cr_assert_eq(sl_reader_read(r, &one, 1), SL_EIO, "%s: sticky", name);
    cr_assert_not(sl_reader_at_end(r));
    if (err)
        snprintf(err, len, "%s", g.err);
    size_t n = g.n;
    sl_reader_destroy(&r);
    fclose(f);
    got_free(&g);
    return n;
}

/* The number after `after` in text, or asserts. */
static unsigned long long number_after(const char *text, const char *after)
{
    const char *p = strstr(text, after);
    cr_assert_not_null(p, "\"%s\" not in: %s", after, text);
    return strtoull(p + strlen(after), NULL, 10);
}

Test(inputs, truncated_or_corrupt_compressed_input_is_an_error_naming_the_byte)
{
    write_ndjson("ev.ndjson", 20000, 13, NULL);
    sh("gzip -c ev.ndjson > ev.gz && zstd -q -c ev.ndjson > ev.zst");
    size_t gz = file_size("ev.gz"), zs = file_size("ev.zst");
    char at[64], err[512];

    sh("head -c %zu ev.gz > cut.gz", gz / 2);
    snprintf(at, sizeof at, "ends at byte %zu", gz / 2);
    expect_corrupt("cut.gz", (const char *const[]){"truncated gzip", at, NULL}, NULL, 0);
    sh("head -c %zu ev.zst > cut.zst", zs - 1);
    snprintf(at, sizeof at, "ends at byte %zu", zs - 1);
    expect_corrupt("cut.zst", (const char *const[]){"truncated zstd", at, NULL}, NULL, 0);
    sh("head -c 2 ev.gz > two-bytes.gz");
    expect_corrupt("two-bytes.gz", (const char *const[]){"truncated gzip", "byte 2", NULL}, NULL,
                   0);

    /* bytes overwritten in the middle: found where the decoder notices, at or after them (at
     * the latest by the member's CRC-32 or the frame's checksum) */
    sh("cp ev.gz bad.gz && printf 'XXXXXXXX' | dd of=bad.gz bs=1 seek=%zu conv=notrunc "
       "2>/dev/null",
       gz / 3);
    expect_corrupt("bad.gz", (const char *const[]){"corrupt gzip input", NULL}, err, sizeof err);
    unsigned long long x = number_after(err, "found at byte ");
    cr_assert(x >= gz / 3 && x <= gz, "%s", err);
    sh("cp ev.zst bad.zst && printf 'XXXXXXXX' | dd of=bad.zst bs=1 seek=%zu conv=notrunc "
       "2>/dev/null",
       zs / 3);
    expect_corrupt("bad.zst", (const char *const[]){"corrupt zstd input", NULL}, err, sizeof err);
    x = number_after(err, "found in bytes ");
    unsigned long long y = number_after(err, " to ");
    cr_assert(y > zs / 3 && x < y && y - x <= 4096 && y <= zs, "%s", err);

    /* something after the last member that is not another one: the member is read whole */
    sh("cp ev.gz trail.gz && echo trailing >> trail.gz");
    snprintf(at, sizeof at, "after 1 complete member ending at byte %zu", gz);
    size_t n =
        expect_corrupt("trail.gz", (const char *const[]){"corrupt gzip input", at, NULL}, NULL, 0);
    struct got plain;
    read_path("ev.ndjson", SL_FMT_NDJSON, 0, &plain);
    cr_assert_eq(n, plain.n, "every record of the member before the trailing bytes: %zu of %zu", n,
                 plain.n);
    got_free(&plain);
    finish();
}

Test(inputs, gzip_through_a_pipe_is_read_as_it_arrives)
{
    write_ndjson("ev.ndjson", 20000, 14, NULL);
    sh("gzip -c ev.ndjson > ev.gz");
    size_t len = 0;
    char *gz = slurp("ev.gz", &len);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) { /* the producer: small writes with pauses, as a slow decompressor's */
        close(fds[0]);
        signal(SIGPIPE, SIG_DFL);
        for (size_t at = 0, i = 0; at < len; i++) {
            size_t k = 1 + (i * 7919) % 4093;
            if (k > len - at)
                k = len - at;
            if (write(fds[1], gz + at, k) != (ssize_t)k)
                _exit(1);
            at += k;
            if (i % 64 == 0)
                usleep(2000);
        }
        _exit(0);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "rb");
    cr_assert_not_null(in);
    struct got live;
    got_init(&live);
    sl_reader *r = sl_reader_new(in, SL_FMT_NDJSON, live.dict, 0);
    sl_reader_on_bad(r, on_bad, &live);
    sl_reader_set_wait(r, 5);
    drain(r, 500, &live);
    sl_reader_destroy(&r);
    fclose(in);
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    struct got plain;
    read_path("ev.ndjson", SL_FMT_NDJSON, 0, &plain);
    expect_same_read(&plain, &live, "gzip through a pipe");
    got_free(&plain);
    got_free(&live);
    free(gz);
    finish();
}

/* Reads half of `name` (a compressed or plain file of fmt), then resumes a second reader of it
 * at the first one's offset as a checkpoint would (fseeko there first), and asserts that the
 * two halves together are the read of `plain`. */
static void resume_half(const char *name, sl_format fmt, const struct got *plain)
{
    struct got a, b;
    got_init(&a);
    FILE *f = fopen(tpath(name), "rb");
    sl_reader *r = sl_reader_new(f, fmt, a.dict, 0);
    sl_reader_on_bad(r, on_bad, &a);
    sl_rec buf[997];
    while (a.n < plain->n / 2) {
        long k = sl_reader_read(r, buf, 997);
        cr_assert_gt(k, 0, "%s: %ld", name, k);
        got_push(&a, buf, (size_t)k);
    }
    struct sl_reader_stats st;
    sl_reader_stats(r, &st);
    sl_reader_destroy(&r);
    fclose(f);

    got_init(&b);
    f = fopen(tpath(name), "rb");
    cr_assert_eq(fseeko(f, (off_t)st.bytes, SEEK_SET), 0);
    r = sl_reader_new(f, fmt, b.dict, 0);
    sl_reader_on_bad(r, on_bad, &b);
    cr_assert_eq(sl_reader_resume(r, &st), 0, "%s: %s", name, sl_reader_error(r));
    drain(r, 1000, &b);
    sl_reader_destroy(&r);
    fclose(f);

    cr_assert_eq(b.last, 0, "%s: %s", name, b.err);
    struct got all;
    got_init(&all);
    got_push(&all, a.recs, a.n);
    got_push(&all, b.recs, b.n);
    for (size_t i = 0; i < a.nbad && i < MAX_BADS; i++)
        all.bads[i] = a.bads[i];
    for (size_t i = 0; i < b.nbad && i < MAX_BADS && a.nbad + i < MAX_BADS; i++)
        all.bads[a.nbad + i] = b.bads[i];
    all.nbad = a.nbad + b.nbad;
    all.st = b.st;
    all.last = b.last;
    all.at_end = 1;
    expect_same_read(plain, &all, name);
    got_free(&a);
    got_free(&b);
    got_free(&all);
}

Test(inputs, resume_decompresses_and_skips_to_the_offset)
{
    write_ndjson("ev.ndjson", 30000, 15, NULL);
    sh("gzip -c ev.ndjson > ev.gz && zstd -q -c ev.ndjson > ev.zst");
    struct got plain;
    read_path("ev.ndjson", SL_FMT_NDJSON, 0, &plain);
    resume_half("ev.gz", SL_FMT_NDJSON, &plain);
    resume_half("ev.zst", SL_FMT_NDJSON, &plain);
    resume_half("ev.ndjson", SL_FMT_NDJSON, &plain);
    got_free(&plain);

    /* CSV: the header (columns out of order, after a byte order mark) is found again */
    struct csvgen gen;
    write_csv("ev.csv", 20000, 1, &gen);
    sh("gzip -c ev.csv > ev.csv.gz");
    struct got pc;
    read_path("ev.csv", SL_FMT_CSV, 0, &pc);
    expect_csv(&pc, &gen, "ev.csv");
    resume_half("ev.csv.gz", SL_FMT_CSV, &pc);
    resume_half("ev.csv", SL_FMT_CSV, &pc);
    got_free(&pc);
    free(gen.w);
    free(gen.bad_line);

    /* an offset past the decompressed text: another file */
    sh("head -c 1000 ev.ndjson | gzip -c > small.gz");
    FILE *f = fopen(tpath("small.gz"), "rb");
    sl_addict *d = sl_addict_new();
    sl_reader *r = sl_reader_new(f, SL_FMT_NDJSON, d, 0);
    struct sl_reader_stats st = {.lines = 100, .records = 90, .bytes = 50000};
    cr_assert_eq(sl_reader_resume(r, &st), SL_EIO);
    cr_assert_not_null(strstr(sl_reader_error(r), "decompresses to 1000 bytes"), "%s",
                       sl_reader_error(r));
    sl_rec one;
    cr_assert_eq(sl_reader_read(r, &one, 1), SL_EIO);
    sl_reader_destroy(&r);
    sl_addict_destroy(&d);
    fclose(f);
    finish();
}

Test(inputs, compressed_files_are_not_cut_into_parts_for_nodes)
{
    write_ndjson("ev.ndjson", 1000, 16, NULL);
    sh("gzip -c ev.ndjson > ev.gz && zstd -q -c ev.ndjson > ev.zst");
    FILE *f = NULL;
    sl_slice_info info;
    char msg[512];
    int rc = sl_slice_open(tpath("ev.gz"), 1, 3, NULL, &f, &info, msg, sizeof msg);
    cr_assert_eq(rc, SL_EUNSUPPORTED, "%s", msg);
    cr_assert_null(f);
    cr_assert_not_null(strstr(msg, tpath("ev.gz")), "%s", msg);
    cr_assert_not_null(strstr(msg, "gzip-compressed"), "%s", msg);
    cr_assert_not_null(strstr(msg, "ingest: client"), "%s", msg);
    cr_assert_eq(sl_slice_check(tpath("ev.zst"), msg, sizeof msg), SL_EUNSUPPORTED);
    cr_assert_not_null(strstr(msg, "zstd-compressed"), "%s", msg);

    /* the check before a job starts, on the client */
    static sl_topology t;
    sl_topology_defaults(&t);
    t.source.kind = SL_SRC_FILE;
    snprintf(t.source.path, sizeof t.source.path, "%s", tpath("ev.gz"));
    cr_assert_eq(sl_source_splittable(&t, msg, sizeof msg), SL_EUNSUPPORTED);
    cr_assert_not_null(strstr(msg, "ingest: client"), "%s", msg);
    snprintf(t.source.path, sizeof t.source.path, "%s", tpath("ev.ndjson"));
    cr_assert_eq(sl_source_splittable(&t, msg, sizeof msg), 0, "%s", msg);
    rc = sl_slice_open(tpath("ev.ndjson"), 1, 3, NULL, &f, &info, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s", msg);
    fclose(f);
    finish();
}

Test(inputs, content_decides_not_the_name)
{
    cr_assert_eq(sl_decomp_sniff("\x1f\x8b", 2, 0), SL_DECOMP_GZIP);
    cr_assert_eq(sl_decomp_sniff("\x28\xb5\x2f\xfd", 4, 0), SL_DECOMP_ZSTD);
    cr_assert_eq(sl_decomp_sniff("\x28\xb5", 2, 0), -1);
    cr_assert_eq(sl_decomp_sniff("\x28\xb5", 2, 1), SL_DECOMP_NONE);
    cr_assert_eq(sl_decomp_sniff("\x1f", 1, 0), -1);
    cr_assert_eq(sl_decomp_sniff("{\"a", 3, 0), SL_DECOMP_NONE);
    cr_assert_eq(sl_decomp_sniff("", 0, 1), SL_DECOMP_NONE);
    /* plain text in a file called .gz is read as text */
    write_ndjson("plain.gz", 300, 17, NULL);
    write_ndjson("plain.ndjson", 300, 17, NULL);
    struct got a, b;
    read_path("plain.ndjson", SL_FMT_NDJSON, 0, &a);
    read_path("plain.gz", SL_FMT_NDJSON, 0, &b);
    expect_same_read(&a, &b, "plain text named .gz");
    got_free(&a);
    got_free(&b);
    /* text that starts like a magic number but is not one, and files shorter than one */
    static const char *const texts[] = {"\x1f", "(\xb5", "(", ""};
    for (size_t i = 0; i < 4; i++) {
        FILE *f = create("short");
        fputs(texts[i], f);
        fclose(f);
        read_path("short", SL_FMT_NDJSON, 0, &a);
        cr_assert_eq(a.last, 0, "%zu: %s", i, a.err);
        cr_assert_eq(a.st.bytes, strlen(texts[i]));
        cr_assert_eq(a.st.bad, texts[i][0] ? 1 : 0);
        got_free(&a);
    }
    finish();
}

/* ---- byte order mark ------------------------------------------------------------------------ */

Test(inputs, bom_before_a_csv_header)
{
    const char *text = BOM "value,event_type,ad_id,event_time\r\n2.5,click,a,10\n1,view,b,x\n";
    FILE *f = create("bom.csv");
    fputs(text, f);
    fclose(f);
    sh("gzip -c bom.csv > bom.csv.gz");
    static const char *const names[] = {"bom.csv", "bom.csv.gz"};
    for (size_t i = 0; i < 2; i++) {
        struct got g;
        read_path(names[i], SL_FMT_CSV, 0, &g);
        cr_assert_eq(g.last, 0, "%s", g.err);
        cr_assert_eq(g.n, 1u, "%s: the header is recognised: %zu records", names[i], g.n);
        cr_assert_eq(g.recs[0].key, sl_key_hash("a", 1));
        cr_assert_eq(g.recs[0].time_ms, 10);
        cr_assert(g.recs[0].value == 2.5f);
        cr_assert_eq(g.nbad, 1u);
        /* offsets count the mark: "x" is the last byte before the final newline */
        cr_assert_eq(g.bads[0].line, 3);
        cr_assert_eq(g.bads[0].offset, strlen(text) - 2, "offset %llu",
                     (unsigned long long)g.bads[0].offset);
        cr_assert_eq(g.st.bytes, strlen(text));
        cr_assert_eq(g.st.lines, 3);
        got_free(&g);
    }
    /* handed in one byte at a time */
    struct got c;
    read_chunked(text, strlen(text), SL_FMT_CSV, 0, 1, &c);
    cr_assert_eq(c.n, 1u);
    cr_assert_eq(c.nbad, 1u);
    cr_assert_eq(c.bads[0].offset, strlen(text) - 2);
    got_free(&c);
    finish();
}

Test(inputs, bom_before_the_first_ndjson_line)
{
    write_ndjson("bom.ndjson", 2000, 18, BOM);
    write_ndjson("plain.ndjson", 2000, 18, NULL);
    sh("zstd -q -c bom.ndjson > bom.zst");
    struct got plain, bom, z;
    read_path("plain.ndjson", SL_FMT_NDJSON, 0, &plain);
    read_path("bom.ndjson", SL_FMT_NDJSON, 0, &bom);
    read_path("bom.zst", SL_FMT_NDJSON, 0, &z);
    /* the same records and lines, every offset 3 bytes further */
    expect_same_recs(&plain, &bom, "with a mark");
    cr_assert_eq(bom.nbad, plain.nbad);
    for (size_t i = 0; i < plain.nbad; i++)
        cr_assert(bom.bads[i].line == plain.bads[i].line &&
                  bom.bads[i].offset == plain.bads[i].offset + 3);
    cr_assert_eq(bom.st.lines, plain.st.lines);
    cr_assert_eq(bom.st.bytes, plain.st.bytes + 3);
    expect_same_read(&bom, &z, "with a mark, zstd");
    got_free(&plain);
    got_free(&bom);
    got_free(&z);

    /* only at the very start; a mark split between chunks; a lone start of one */
    const char *two = BOM "{\"ad_id\":\"a\",\"event_type\":\"view\",\"event_time\":1}\n" BOM
                          "{\"ad_id\":\"b\",\"event_type\":\"view\",\"event_time\":2}\n";
    struct got c;
    read_chunked(two, strlen(two), SL_FMT_NDJSON, 0, 1, &c);
    cr_assert_eq(c.n, 1u);
    cr_assert_eq(c.nbad, 1u, "a mark on line 2 is not skipped");
    cr_assert_eq(c.bads[0].line, 2);
    got_free(&c);
    read_chunked("\xef\xbb", 2, SL_FMT_NDJSON, 0, 1, &c);
    cr_assert_eq(c.st.lines, 1);
    cr_assert_eq(c.st.bad, 1);
    cr_assert_eq(c.st.bytes, 2);
    got_free(&c);
    finish();
}

/* ---- CSV records over several lines --------------------------------------------------------- */

Test(inputs, csv_quoted_newlines_in_a_file_and_in_chunks)
{
    struct csvgen gen;
    write_csv("ev.csv", 6000, 0, &gen);
    size_t len = 0;
    char *text = slurp("ev.csv", &len);
    struct got f;
    read_path("ev.csv", SL_FMT_CSV, 0, &f);
    expect_csv(&f, &gen, "FILE reader");
    /* the reported offset is the offending byte's: "soon" of a malformed two-line record */
    const char *soon = strstr(text, "soon,");
    cr_assert_not_null(soon);
    int found = 0;
    for (size_t i = 0; i < f.nbad; i++)
        found |= f.bads[i].offset == (uint64_t)(soon - text) && f.bads[i].column == 1;
    cr_assert(found, "the first malformed two-line record is reported at its first byte");
    static const size_t chunks[] = {1, 2, 7, 0};
    for (size_t i = 0; i < 4; i++) {
        struct got c;
        read_chunked(text, len, SL_FMT_CSV, 0, chunks[i], &c);
        char what[64];
        snprintf(what, sizeof what, "chunks of %zu", chunks[i]);
        expect_same_read(&f, &c, what);
        got_free(&c);
    }
    got_free(&f);
    free(gen.w);
    free(gen.bad_line);
    free(text);
    finish();
}

Test(inputs, csv_line_numbers_after_records_over_several_lines)
{
    const char *text = "ad_id,event_type,event_time\n" /* 1 */
                       "\"a\nb\nc\",view,1\n"          /* 2-4 */
                       "x,view,notatime\n"             /* 5: malformed */
                       "\"d\r\n\",click,2\r\n"         /* 6-7 */
                       "\"e,\"\"f\"\"\n\",view,bad\n"  /* 8-9: malformed, reported at 8 */
                       "\n"                            /* 10 */
                       "g,view,3,\"\n\n\",toomany\n"   /* 11-13: too many columns */
                       "h,click,4";                    /* 14, no final newline */
    FILE *f = create("t.csv");
    fputs(text, f);
    fclose(f);
    struct got g;
    read_path("t.csv", SL_FMT_CSV, 0, &g);
    cr_assert_eq(g.last, 0);
    cr_assert_eq(g.n, 3u);
    cr_assert_eq(g.recs[0].key, sl_key_hash("a\nb\nc", 5));
    cr_assert_eq(g.recs[1].key, sl_key_hash("d\r\n", 3));
    cr_assert_eq(g.recs[2].key, sl_key_hash("h", 1));
    cr_assert_eq(g.nbad, 3u);
    static const uint64_t lines[] = {5, 8, 11};
    static const char *const starts[] = {"x,view", "\"e,", "g,view"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(g.bads[i].line, lines[i], "report %zu: line %llu", i,
                     (unsigned long long)g.bads[i].line);
        uint64_t start = (uint64_t)(strstr(text, starts[i]) - text);
        cr_assert_eq(g.bads[i].offset, start + g.bads[i].column - 1);
    }
    cr_assert_eq(g.st.lines, 14);
    cr_assert_eq(g.st.blank, 1);
    cr_assert_eq(g.st.bytes, strlen(text));
    struct got c;
    read_chunked(text, strlen(text), SL_FMT_CSV, 0, 1, &c);
    expect_same_read(&g, &c, "one byte at a time");
    got_free(&c);
    got_free(&g);

    /* a quote left open to the end of a text that ends with a newline: one malformed record,
     * and no line after that newline; the same when the record is over-long and skipped */
    const char *open = "a,view,1\n\"open\nquote,view,2\n";
    for (size_t max_line = 0; max_line <= 8; max_line += 8) {
        read_chunked(open, strlen(open), SL_FMT_CSV, max_line, 3, &c);
        cr_assert_eq(c.last, 0);
        cr_assert_eq(c.n, 1u);
        cr_assert_eq(c.nbad, 1u);
        cr_assert_eq(c.bads[0].line, 2);
        cr_assert_eq(c.st.lines, 3, "max_line %zu: %llu lines", max_line,
                     (unsigned long long)c.st.lines);
        got_free(&c);
    }
    finish();
}

/* A schema's delimiter decides where a field, and so a quote, may start. */
Test(inputs, tsv_quoted_newlines)
{
    const char *text = "ad_id\tevent_type\tevent_time\n" /* 1 */
                       "\"a\nb\"\tview\t1\n"             /* 2-3 */
                       "\"c,\"\"d\"\"\"\tclick\t2\n"     /* 4 */
                       "e\t\"v\niew\"\t3\n"              /* 5-6: an "other" type */
                       "f\tview\tx\n"                    /* 7: malformed */
                       "g,\"h\ni\",view,4\n";            /* 8, 9: no quote opens here */
    static sl_schema sc;
    sl_schema_defaults(&sc);
    sc.delimiter = '\t';
    for (size_t chunk = 0; chunk <= 1; chunk++) {
        struct got g;
        got_init(&g);
        sl_reader *r = sl_reader_new_chunked(SL_FMT_CSV, g.dict, 0);
        sl_reader_set_schema(r, &sc);
        sl_reader_on_bad(r, on_bad, &g);
        for (size_t at = 0, len = strlen(text); at < len;) {
            size_t k = sl_reader_feed(r, text + at, chunk ? 1 : len - at);
            at += k;
            sl_rec buf[8];
            long n = sl_reader_read(r, buf, 8);
            cr_assert_geq(n, 0);
            got_push(&g, buf, (size_t)n);
        }
        sl_reader_end(r);
        drain(r, 8, &g);
        sl_reader_destroy(&r);
        cr_assert_eq(g.last, 0);
        cr_assert_eq(g.n, 3u, "chunk %zu: %zu records", chunk, g.n);
        cr_assert_eq(g.recs[0].key, sl_key_hash("a\nb", 3));
        cr_assert_eq(g.recs[1].key, sl_key_hash("c,\"d\"", 5));
        cr_assert_eq(g.recs[2].type, (uint32_t)SL_EV_OTHER);
        cr_assert_eq(g.nbad, 3u);
        cr_assert_eq(g.bads[0].line, 7);
        cr_assert_eq(g.bads[1].line, 8);
        cr_assert_eq(g.bads[2].line, 9);
        cr_assert_eq(g.st.lines, 9);
        got_free(&g);
    }
    finish();
}

Test(inputs, csv_max_line_applies_to_the_whole_record)
{
    /* a record of 3 lines of 30 bytes each is longer than 64, though no line of it is */
    char text[1024];
    snprintf(text, sizeof text,
             "ad_id,event_type,event_time\n"
             "ok,view,1\n"
             "\"%s\n%s\n%s\",view,2\n"
             "after,view,3\n"
             "\"%s\n%s\",view,4\n" /* 68 bytes: over the limit too */
             "last,click,5\n",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
             "ccccccccccccccccccccccccccccc", "ddddddddddddddddddddddddddddd",
             "eeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    FILE *f = create("t.csv");
    fputs(text, f);
    fclose(f);
    struct got g;
    read_path("t.csv", SL_FMT_CSV, 64, &g);
    cr_assert_eq(g.last, 0);
    cr_assert_eq(g.n, 3u);
    cr_assert_eq(g.recs[1].key, sl_key_hash("after", 5));
    cr_assert_eq(g.recs[2].key, sl_key_hash("last", 4));
    cr_assert_eq(g.nbad, 2u);
    cr_assert_eq(g.bads[0].line, 3);
    cr_assert_eq(g.bads[1].line, 7);
    cr_assert_not_null(strstr(g.bads[0].reason, "longer than 64"));
    cr_assert_eq(g.st.lines, 9);
    for (size_t chunk = 1; chunk <= 16; chunk *= 4) {
        struct got c;
        read_chunked(text, strlen(text), SL_FMT_CSV, 64, chunk, &c);
        expect_same_read(&g, &c, "chunked");
        got_free(&c);
    }
    got_free(&g);
    finish();
}

/* ---- the command line ----------------------------------------------------------------------- */

/* `sluice ctr --input IN --output OUT -q`; asserts exit 0; returns its stderr (caller frees). */
static char *ctr(const char *in, const char *out)
{
    char args[512];
    snprintf(args, sizeof args, "ctr --input %s --output %s -q", in, out);
    struct run r = run_sh_status(args, 0);
    free(r.out);
    return r.err;
}

Test(inputs, cli_reads_gzip_and_zstd_by_content)
{
    write_ndjson("events.ndjson", 30000, 19, NULL);
    sh("gzip -c events.ndjson > events.ndjson.gz && cp events.ndjson.gz events.bin && "
       "zstd -q -c events.ndjson > events.zst && cp events.zst events.log");
    char *err0 = ctr("events.ndjson", "plain.csv");
    size_t len0 = 0;
    char *want = slurp("plain.csv", &len0);
    cr_assert_gt(count_lines(want), 4000u, "a row per ad");
    cr_assert_not_null(strstr(err0, "malformed lines skipped"), "%s", err0);
    static const char *const ins[] = {"events.ndjson.gz", "events.bin", "events.zst", "events.log"};
    for (size_t i = 0; i < 4; i++) {
        char out[64];
        snprintf(out, sizeof out, "out%zu.csv", i);
        char *err = ctr(ins[i], out);
        size_t len = 0;
        char *got = slurp(out, &len);
        cr_assert(len == len0 && memcmp(got, want, len) == 0, "%s: not the plain file's output",
                  ins[i]);
        cr_assert_str_eq(err, err0, "%s: the same reports", ins[i]);
        free(got);
        free(err);
    }
    /* stdin */
    struct run r = run_sh_status("ctr --input - --output stdin.csv -q < events.ndjson.gz", 0);
    char *got = slurp("stdin.csv", NULL);
    cr_assert_str_eq(got, want, "gzip on stdin");
    free(got);
    run_free(&r);
    free(want);
    free(err0);
    finish();
}

Test(inputs, cli_refuses_corrupt_gzip_and_keeps_the_output)
{
    write_ndjson("events.ndjson", 20000, 20, NULL);
    sh("gzip -c events.ndjson | head -c 100000 > cut.gz");
    cr_assert_eq(file_size("cut.gz"), 100000u);
    tu_write_file(tpath("out.csv"), "earlier output\n");
    struct run r = run_sh("ctr --input cut.gz --output out.csv");
    cr_assert_neq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "truncated gzip input"), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "byte 100000"), "%s", r.err);
    cr_assert_eq(count_str(r.err, "truncated gzip"), 1, "reported once: %s", r.err);
    char *out = slurp("out.csv", NULL);
    cr_assert_str_eq(out, "earlier output\n");
    free(out);
    run_free(&r);
    finish();
}

Test(inputs, cli_resumes_a_gzip_input_from_a_checkpoint)
{
    write_ndjson("events.ndjson", 100000, 21, NULL);
    sh("gzip -c events.ndjson > events.gz");
    struct run ref = run_sh_status("ctr --input events.gz -q", 0);
    struct run full = run_sh_status(
        "ctr --input events.gz -q --checkpoint-ms 1 --checkpoint-dir ck --batch 4096", 0);
    assert_same_text(full.out, ref.out, "a run with checkpoints");
    struct run r = run_sh_status("ctr --input events.gz -q --from ck", 0);
    assert_same_text(r.out, ref.out, "resumed from the newest checkpoint");
    run_free(&r);
    run_free(&full);
    run_free(&ref);
    sh("rm -rf ck");
    finish();
}
