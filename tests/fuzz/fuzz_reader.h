/* The body of the NDJSON and CSV reader harnesses (fuzz_ndjson.c, fuzz_csv.c).
 *
 * Each input is one event file, read through sl_reader_new over fmemopen twice: by the
 * library's reader (64 KiB reads in the fuzz build, see fuzz.cmake) and by a copy of
 * host/reader.c built with 64-byte reads (fuzz_reader64 in fuzz.cmake), in batches of a few
 * records, with a malformed-line callback that asks to stop at every fourth report. Both must see
 * exactly the same records, reports, return codes and statistics; each run's counters must add up,
 * and its line count must be the text's newlines (quoted CSV newlines included).
 *
 * An input that starts like gzip or zstd (decomp.h) is decompressed by the readers; the harness
 * decodes it in one go as well, for its text. When that says the input is corrupt or truncated,
 * both runs must end in SL_EIO (or a CSV header's SL_EPARSE) and the records of one must begin
 * the other's (a zstd call that
 * fails does not hand out what it decoded first, so how much text precedes the error depends on
 * the read sizes); else neither may. Inputs whose text exceeds FUZZ_TEXT_MAX are skipped.
 * Any violation traps. */
#ifndef SL_FUZZ_READER_H
#define SL_FUZZ_READER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../helpers/badline.h"
#include "addict.h"
#include "decomp.h"
#include "err.h"
#include "event.h"
#include "fuzz_check.h"
#include "reader.h"

/* host/reader.c again, with SL_READER_BLOCK=64 and these names (fuzz.cmake). */
sl_reader *sl_reader64_new(FILE *in, sl_format fmt, sl_addict *dict, size_t max_line);
void sl_reader64_on_bad(sl_reader *r, sl_bad_fn fn, void *ud);
long sl_reader64_read(sl_reader *r, sl_rec *out, size_t max);
void sl_reader64_stats(const sl_reader *r, struct sl_reader_stats *st);
void sl_reader64_destroy(sl_reader **rp);
void sl_reader64_set_schema(sl_reader *r, const sl_schema *s);
uint64_t *sl_reader64_attrs(sl_reader *r);

/* The schema both readers read by (fuzz_schema.c sets one; NULL: the default). */
static const sl_schema *fuzz_schema;

#define FUZZ_MAX_LINE 512               /* small enough that the fuzzer makes over-long lines */
#define FUZZ_BATCH 5                    /* records per sl_reader_read call */
#define FUZZ_STOP_EVERY 4               /* the callback asks to stop at every 4th report */
#define FUZZ_BADS 32                    /* reports kept for the comparison (all are counted) */
#define FUZZ_CALLS 4096                 /* return codes kept for the comparison */
#define FUZZ_TEXT_MAX ((size_t)8 << 20) /* longest decompressed text fuzzed */

struct fuzz_run {
    sl_rec *recs; /* delivered records, in order */
    size_t nrecs;
    uint64_t *attrs; /* their schema attributes, fuzz_schema->nattrs words each */
    struct bad_line bads[FUZZ_BADS];
    uint64_t nbads;
    int stopped; /* the callback asked to stop during the current call */
    long rcs[FUZZ_CALLS];
    size_t ncalls;
    long last; /* the last call's return code */
    struct sl_reader_stats st;
};

static int fuzz_on_bad(void *ud, uint64_t line, size_t column, uint64_t offset, const char *reason)
{
    struct fuzz_run *run = ud;
    FUZZ_REQUIRE(reason && reason[0]);
    if (run->nbads < FUZZ_BADS)
        bad_line_set(&run->bads[run->nbads], line, column, offset, reason);
    run->nbads++;
    if (run->nbads % FUZZ_STOP_EVERY == 0) {
        run->stopped = 1;
        return 1;
    }
    return 0;
}

/* Reads all of data[0..size) with one of the two readers (small != 0: the 64-byte one) into
 * *run, checking each record and, at the end, the reader's counters. */
static void fuzz_read_all(const uint8_t *data, size_t size, sl_format fmt, int small,
                          const char *text, size_t tlen, int corrupt, struct fuzz_run *run)
{
    static char empty[1];
    FILE *in = fmemopen(size ? (void *)data : empty, size ? size : 1, "r");
    FUZZ_REQUIRE(in);
    if (size == 0)
        (void)fgetc(in); /* an empty stream: fmemopen wants size > 0 */
    sl_addict *dict = sl_addict_new();
    FUZZ_REQUIRE(dict);
    sl_reader *r = small ? sl_reader64_new(in, fmt, dict, FUZZ_MAX_LINE)
                         : sl_reader_new(in, fmt, dict, FUZZ_MAX_LINE);
    FUZZ_REQUIRE(r);
    if (small)
        sl_reader64_on_bad(r, fuzz_on_bad, run);
    else
        sl_reader_on_bad(r, fuzz_on_bad, run);
    const uint64_t per_line = fuzz_schema ? (uint64_t)sl_schema_max_events(fuzz_schema) : 1;
    if (fuzz_schema) {
        if (small)
            sl_reader64_set_schema(r, fuzz_schema);
        else
            sl_reader_set_schema(r, fuzz_schema);
    }

    /* Every call but the last consumes at least one line, and there are at most tlen + 1, each
     * giving at most per_line records. The text a corrupt input gives before its error may be
     * longer than the one-go decoding's (which loses what the failing call decoded): no bound
     * then. */
    size_t most = corrupt ? SIZE_MAX / 64 : tlen, cap = (most < 4096 ? most : 4096) + 1;
    const size_t na = fuzz_schema ? fuzz_schema->nattrs : 0;
    run->recs = malloc(cap * sizeof *run->recs);
    run->attrs = malloc(cap * (na ? na : 1) * sizeof *run->attrs);
    FUZZ_REQUIRE(run->recs && run->attrs);
    sl_rec batch[FUZZ_BATCH];
    for (;;) {
        FUZZ_REQUIRE(run->ncalls < most + 3);
        run->stopped = 0;
        long n =
            small ? sl_reader64_read(r, batch, FUZZ_BATCH) : sl_reader_read(r, batch, FUZZ_BATCH);
        if (run->ncalls < FUZZ_CALLS)
            run->rcs[run->ncalls] = n;
        run->ncalls++;
        run->last = n;
        if (n == 0)
            break;
        if (n < 0) {
            /* no I/O errors or ENOMEM from fmemopen; SL_EIO for corrupt compressed input */
            FUZZ_REQUIRE(n == SL_EPARSE || (n == SL_EIO && corrupt));
            FUZZ_REQUIRE(n != SL_EIO || sl_reader_error(r)[0]);
            if (n == SL_EIO || !run->stopped)
                break; /* sticky: corrupt input, or a CSV header without a required column */
            continue;
        }
        FUZZ_REQUIRE((size_t)n <= FUZZ_BATCH &&
                     run->nrecs + (size_t)n <= (most + 1) * (size_t)per_line);
        while (run->nrecs + (size_t)n > cap) {
            cap *= 2;
            run->recs = realloc(run->recs, cap * sizeof *run->recs);
            run->attrs = realloc(run->attrs, cap * (na ? na : 1) * sizeof *run->attrs);
            FUZZ_REQUIRE(run->recs && run->attrs);
        }
        const uint64_t *a = small ? sl_reader64_attrs(r) : sl_reader_attrs(r);
        FUZZ_REQUIRE((a != NULL) == (na > 0));
        if (na)
            memcpy(run->attrs + run->nrecs * na, a, (size_t)n * na * sizeof *a);
        for (long i = 0; i < n; i++) {
            const sl_rec *x = &batch[i];
            FUZZ_REQUIRE(x->key != SL_EMPTY_KEY && x->key != SL_TOMBSTONE_KEY);
            FUZZ_REQUIRE(x->type < SL_EV_NTYPES);
            FUZZ_REQUIRE(sl_addict_get(dict, x->key, NULL) != NULL);
            run->recs[run->nrecs++] = *x;
        }
    }
    if (small)
        sl_reader64_stats(r, &run->st);
    else
        sl_reader_stats(r, &run->st);

    /* Every line gives records (1 to per_line), or is malformed, blank or the CSV header, or
     * (CSV) lies inside a record's quoted field. */
    const struct sl_reader_stats *st = &run->st;
    uint64_t sorted = (st->records + per_line - 1) / per_line + st->bad + st->blank;
    FUZZ_REQUIRE(sorted <= st->lines);
    if (per_line == 1 && fmt != SL_FMT_CSV)
        FUZZ_REQUIRE(st->lines == sorted);
    FUZZ_REQUIRE(st->bad == run->nbads && st->records >= run->nrecs);
    FUZZ_REQUIRE(st->bytes <= most && st->lines <= (uint64_t)most + 1);
    if (run->last == 0) {
        /* read to the end: every byte, and a line per newline, plus one for a last line
         * without one (after a byte order mark, when the text is more than one) */
        FUZZ_REQUIRE(!corrupt && st->bytes == tlen);
        size_t from = tlen >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
        uint64_t nl = 0;
        for (const char *p = text + from, *e = text + tlen; (p = memchr(p, '\n', (size_t)(e - p)));
             p++)
            nl++;
        FUZZ_REQUIRE(st->lines == nl + (tlen > from && text[tlen - 1] != '\n' ? 1 : 0));
    }
    for (uint64_t i = 0; i < run->nbads && i < FUZZ_BADS; i++) {
        const struct bad_line *b = &run->bads[i];
        FUZZ_REQUIRE(b->line >= 1 && b->line <= st->lines);
        FUZZ_REQUIRE(b->column >= 1 && b->offset <= most);
    }

    sl_reader_destroy(&r);
    sl_addict_destroy(&dict);
    fclose(in);
}

static void fuzz_run_free(struct fuzz_run *run)
{
    free(run->recs);
    free(run->attrs);
    run->recs = NULL;
    run->attrs = NULL;
}

/* The text of data[0..size) into *text (caller frees) and *tlen: the input itself, or what it
 * decompresses to, decoded in one go. Returns 0, 1 when it is compressed and corrupt (*text then
 * holds what was decoded before the error), or 2 when the text is longer than FUZZ_TEXT_MAX. */
static int fuzz_text(const uint8_t *data, size_t size, char **text, size_t *tlen)
{
    int kind = sl_decomp_sniff(data, size, 1);
    *tlen = 0;
    if (kind == SL_DECOMP_NONE) {
        *text = malloc(size + 1);
        FUZZ_REQUIRE(*text);
        memcpy(*text, data, size);
        *tlen = size;
        return 0;
    }
    sl_decomp *d = sl_decomp_new(kind);
    FUZZ_REQUIRE(d);
    size_t cap = 4096, at = 0;
    *text = malloc(cap);
    FUZZ_REQUIRE(*text);
    int rc = 0;
    for (;;) {
        if (*tlen == cap) {
            if (cap >= FUZZ_TEXT_MAX) {
                rc = 2;
                break;
            }
            cap *= 2;
            *text = realloc(*text, cap);
            FUZZ_REQUIRE(*text);
        }
        size_t in = size - at, out = cap - *tlen;
        char msg[400];
        int r = sl_decomp_run(d, data + at, &in, *text + *tlen, &out, msg, sizeof msg);
        at += in;
        *tlen += out;
        if (r) {
            FUZZ_REQUIRE(r == SL_EIO && msg[0]);
            rc = 1;
            break;
        }
        if (in == 0 && out == 0) {
            FUZZ_REQUIRE(at == size); /* it takes input while there is room */
            if (sl_decomp_end(d, msg, sizeof msg))
                rc = 1;
            break;
        }
    }
    sl_decomp_destroy(&d);
    return rc;
}

static int fuzz_reader_one(const uint8_t *data, size_t size, sl_format fmt)
{
    static struct fuzz_run big, small;
    char *text = NULL;
    size_t tlen = 0;
    int corrupt = fuzz_text(data, size, &text, &tlen);
    if (corrupt == 2) {
        free(text);
        return 0;
    }
    memset(&big, 0, sizeof big);
    memset(&small, 0, sizeof small);
    fuzz_read_all(data, size, fmt, 0, text, tlen, corrupt, &big);
    fuzz_read_all(data, size, fmt, 1, text, tlen, corrupt, &small);
    free(text);

    if (corrupt) {
        /* both end in the error (or in a CSV header's, when that came first); one's records
         * begin the other's */
        FUZZ_REQUIRE((big.last == SL_EIO || big.last == SL_EPARSE) &&
                     (small.last == SL_EIO || small.last == SL_EPARSE));
        size_t n = big.nrecs < small.nrecs ? big.nrecs : small.nrecs;
        for (size_t i = 0; i < n; i++)
            FUZZ_REQUIRE(big.recs[i].key == small.recs[i].key &&
                         big.recs[i].time_ms == small.recs[i].time_ms);
        fuzz_run_free(&big);
        fuzz_run_free(&small);
        return 0;
    }
    FUZZ_REQUIRE(big.nrecs == small.nrecs);
    for (size_t i = 0; i < big.nrecs; i++) {
        const sl_rec *a = &big.recs[i], *b = &small.recs[i];
        FUZZ_REQUIRE(a->key == b->key && a->time_ms == b->time_ms && a->type == b->type &&
                     a->user == b->user && memcmp(&a->value, &b->value, sizeof a->value) == 0);
    }
    const size_t na = fuzz_schema ? fuzz_schema->nattrs : 0;
    FUZZ_REQUIRE(memcmp(big.attrs, small.attrs, big.nrecs * na * sizeof *big.attrs) == 0);
    FUZZ_REQUIRE(big.nbads == small.nbads);
    for (uint64_t i = 0; i < big.nbads && i < FUZZ_BADS; i++) {
        const struct bad_line *a = &big.bads[i], *b = &small.bads[i];
        FUZZ_REQUIRE(a->line == b->line && a->column == b->column && a->offset == b->offset &&
                     strcmp(a->reason, b->reason) == 0);
    }
    FUZZ_REQUIRE(big.ncalls == small.ncalls);
    size_t kept = big.ncalls < FUZZ_CALLS ? big.ncalls : FUZZ_CALLS;
    FUZZ_REQUIRE(memcmp(big.rcs, small.rcs, kept * sizeof big.rcs[0]) == 0);
    FUZZ_REQUIRE(memcmp(&big.st, &small.st, sizeof big.st) == 0);

    fuzz_run_free(&big);
    fuzz_run_free(&small);
    return 0;
}

#endif
