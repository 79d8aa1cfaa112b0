/* Line readers for NDJSON and CSV event files.
 *
 * Input is read with fread in 1 MiB blocks into one buffer; lines are found with memchr and
 * parsed in place, so nothing is allocated per line. A line that runs past the end of the
 * buffered data is moved to the front of the buffer before the next block is read; the buffer
 * grows (up to max_line + 2 bytes) only when a single line fills it. A line found to be longer
 * than max_line is reported once and the rest of it is skipped without being stored.
 *
 * A regular file (or a stream without a descriptor, such as fmemopen's) is read with fread; a
 * cluster node's part of a file (slice.h) with pread from the file's descriptor, since its
 * cookie FILE would copy every byte through a buffer of its own first. A
 * pipe, socket or terminal is read with read(2) after poll(2) waits at most SL_READER_WAIT_MS:
 * whatever has arrived is parsed at once, and when nothing has, sl_reader_read returns what it
 * has (possibly nothing) without being at the end, so that a caller serving a network (leases,
 * acknowledgements) or a timer is never stuck behind a silent producer.
 *
 * Compressed input: the first bytes of a FILE input decide (decomp.h: gzip 1f 8b, zstd 28 b5 2f
 * fd; never the file's name). A compressed input is read in blocks of up to 128 KiB into a second
 * buffer, and refill() decodes from there into the line buffer, so everything after refill sees
 * text and every offset is one of the decompressed text. Plain input takes no extra copy.
 *
 * A UTF-8 byte order mark (EF BB BF) as the text's first bytes is consumed before the first line.
 *
 * CSV records: a record ends at the first '\n' outside a quoted field (RFC 4180). A line is
 * found with memchr as in NDJSON; a search for '"' that runs ahead to the end of the buffered
 * bytes (no_quote) says whether it holds a quote, so lines without quotes need no search of
 * their own. Lines with quotes are scanned by csv_end with memchr for '"' and '\n' in turn; its
 * state is kept between refills, so a record that arrives in pieces is scanned once. NDJSON lines
 * are found with one memchr, as before.
 *
 * Throughput (parse, intern, records; 1M YSB lines of 255 bytes through fmemopen, 8192 records
 * per call, gcc -O2, best of 9, dev VM with 2 AMD EPYC cores, 2026-11-21): 5.8-6.3 M lines/s.
 * Compressed input, BOM and quoted newlines (instructions counted by callgrind, 1M lines, against
 * the reader of main without them, schemas included): NDJSON +2 per line (+0.1% of the reader
 * and parser), CSV of 53-byte lines without quotes +31 (+1.4%), the same with two quoted fields
 * per line +346 (+17%: seven memchr calls find its quotes and its end). gzip and zstd input
 * cost what zlib and libzstd take to decode (README.md gives rates). */
#include "reader.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyhash.h"
#include "csvin.h"
#include "decomp.h"
#include "err.h"
#include "log.h"
#include "ndjson.h"
#include "slice.h"
#include "evbuild.h"

/* Bytes read per fread; a build may shrink it (-DSL_READER_BLOCK=64) to stress the
 * block-boundary code with small inputs. */
#ifndef SL_READER_BLOCK
#define SL_READER_BLOCK ((size_t)1 << 20)
#endif
#define BLOCK ((size_t)(SL_READER_BLOCK))
/* Compressed bytes read at a time (the same in a build with small blocks). */
#define ZBLOCK (BLOCK < ((size_t)128 << 10) ? BLOCK : ((size_t)128 << 10))

struct sl_reader {
    FILE *in;
    sl_format fmt;
    sl_addict *dict;
    size_t max_line;
    sl_bad_fn bad_fn;
    void *bad_ud;

    char *buf;     /* input; [pos, fill) not consumed yet */
    char *scratch; /* as large as buf: unescaped strings of the current line */
    size_t cap, pos, fill;
    uint64_t base; /* input offset of buf[0] */
    int eof;       /* end of input reached */
    int live;      /* read with poll + read(2): a pipe, socket or terminal */
    int chunked;   /* no FILE: input is handed in with sl_reader_room/commit/feed */
    int wait_ms;   /* longest poll of a live input */
    int fd;        /* fileno(in) when live */
    int part;      /* in is a file's part (sl_slice_range): read with pread from part_fd */
    int part_fd;
    uint64_t part_lo, part_len, part_at; /* the part's bytes in the file; the next one read */
    int starved;                         /* the last refill found nothing to read yet (live only) */
    int nowait;     /* this read has records already: a live refill does not wait */
    int discarding; /* skipping the rest of an over-long line */
    int failed;     /* sticky error: SL_EIO, SL_ENOMEM, or SL_EPARSE for a bad CSV header */

    int have_cols; /* CSV: the first non-blank line was seen */
    sl_csv_cols cols;
    sl_evplan plan; /* the schema lines are read by */

    /* A line that gives several events (schema type predicates) when `out` had room for fewer:
     * the rest, handed out first by the next read. */
    sl_rec stash[SL_EV_NTYPES];
    unsigned nstash, stash_at;
    /* schema.attributes: those of the records the last read returned, nattr words each, in a
     * buffer of attr_cap records; the stashed records' (one line's) */
    uint32_t nattr;
    uint64_t *attr;
    size_t attr_cap;
    uint64_t stash_attr[SL_SCHEMA_ATTRS];
    int time_checked; /* the first record's time was looked at (seconds read as ms) */

    /* CSV: how far the scan for the end of the record at pos got (csv_end) */
    size_t csv_at;  /* bytes of the record scanned */
    int csv_inq;    /* ... ending inside a quoted field */
    int csv_fs;     /* ... ending at the start of a field */
    int csv_q;      /* the record has a quoted field (it may hold newlines) */
    uint64_t nl_in; /* newlines inside the record being read (counted in st.lines already) */
    int tail_nl;    /* the last byte skipped of an over-long record was a newline */
    /* CSV: buf[qfrom, qnext) holds no '"'; qnext < qlim: buf[qnext] is one; qnext == qlim:
     * buf was searched up to qlim (no_quote) */
    size_t qfrom, qnext, qlim;

    int bom_pending; /* the text's first bytes may still be a byte order mark */

    /* FILE input: compressed or not (decomp.h) */
    int zkind;                               /* -1 until the first bytes tell */
    unsigned char head[SL_DECOMP_MAGIC_MAX]; /* the first bytes, while they do not tell */
    size_t nhead;
    int raw_eof;        /* the file (compressed or not) is at its end */
    sl_decomp *dz;      /* the decoder of a compressed input */
    unsigned char *zin; /* compressed bytes; [zpos, zlen) not decoded yet */
    size_t zpos, zlen;
    char errmsg[384]; /* what the sticky error was, when more is known than its code */

    struct sl_reader_stats st; /* st.bytes is kept as base + pos */
};

/* A reader of `in`, or a chunked one (in NULL) whose buffer starts at `cap0` bytes. */
static sl_reader *reader_new(FILE *in, sl_format fmt, sl_addict *dict, size_t max_line, size_t cap0)
{
    sl_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->in = in;
    r->chunked = in == NULL;
    r->wait_ms = SL_READER_WAIT_MS;
    r->fmt = fmt;
    r->dict = dict;
    if (max_line == 0)
        max_line = SL_READER_MAX_LINE_DEFAULT;
    if (max_line > SIZE_MAX / 2)
        max_line = SIZE_MAX / 2; /* keeps max_line + 2 from wrapping; no buffer gets that big */
    r->max_line = max_line;
    r->fd = in ? fileno(in) : -1;
    struct stat st;
    r->live = r->fd >= 0 && fstat(r->fd, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
    r->part =
        in && r->fd < 0 && sl_slice_range(in, &r->part_fd, &r->part_lo, &r->part_len, &r->part_at);
    r->zkind = in ? -1 : SL_DECOMP_NONE; /* chunked input is never decompressed */
    r->bom_pending = 1;
    r->csv_fs = 1;
    r->cap = cap0;
    r->buf = malloc(r->cap);
    r->scratch = malloc(r->cap);
    if (!r->buf || !r->scratch)
        goto fail;
    r->plan = *sl_evplan_default();
    sl_csv_cols_init(&r->cols, &r->plan);
    return r;
fail:
    free(r->buf);
    free(r->scratch);
    free(r);
    return NULL;
}

sl_reader *sl_reader_new(FILE *in, sl_format fmt, sl_addict *dict, size_t max_line)
{
    if (!in)
        return NULL;
    return reader_new(in, fmt, dict, max_line, BLOCK);
}

/* A chunked reader starts small (one per TCP connection) and grows as lines need it. */
#define CHUNK_CAP0 ((size_t)16 << 10)

sl_reader *sl_reader_new_chunked(sl_format fmt, sl_addict *dict, size_t max_line)
{
    return reader_new(NULL, fmt, dict, max_line, BLOCK < CHUNK_CAP0 ? BLOCK : CHUNK_CAP0);
}

void sl_reader_set_schema(sl_reader *r, const sl_schema *s)
{
    sl_evplan_init(&r->plan, s);
    r->nattr = s->nattrs;
    sl_csv_cols_init(&r->cols, &r->plan);
}

void sl_reader_set_wait(sl_reader *r, int ms)
{
    r->wait_ms = ms < 0 ? 0 : ms;
}

/* Moves the unconsumed bytes to the front of the buffer. */
static void compact(sl_reader *r)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->fill - r->pos);
        r->base += r->pos;
        r->fill -= r->pos;
        if (r->qfrom >= r->pos) { /* what no_quote knows moves with the bytes */
            r->qfrom -= r->pos;
            r->qnext -= r->pos;
            r->qlim -= r->pos;
        } else {
            r->qfrom = r->qnext = r->qlim = 0;
        }
        r->pos = 0;
    }
}

static int grow(sl_reader *r);
static void csv_reset(sl_reader *r);

char *sl_reader_room(sl_reader *r, size_t *room)
{
    *room = 0;
    if (!r->chunked || r->eof || r->failed)
        return NULL;
    compact(r);
    if (r->fill == r->cap && r->cap < r->max_line + 2 && grow(r) != 0)
        return NULL;
    *room = r->cap - r->fill;
    return r->buf + r->fill;
}

void sl_reader_commit(sl_reader *r, size_t n)
{
    SL_CHECK(r->chunked && n <= r->cap - r->fill);
    r->fill += n;
}

size_t sl_reader_feed(sl_reader *r, const void *data, size_t len)
{
    size_t room = 0;
    char *p = sl_reader_room(r, &room);
    if (!p)
        return 0;
    if (len > room)
        len = room;
    memcpy(p, data, len);
    r->fill += len;
    return len;
}

void sl_reader_end(sl_reader *r)
{
    r->eof = 1;
}

size_t sl_reader_pending(const sl_reader *r)
{
    return r->fill - r->pos;
}

void sl_reader_restart(sl_reader *r, int first)
{
    SL_CHECK(r->chunked);
    r->pos = r->fill = 0;
    r->base = 0;
    r->eof = r->raw_eof = 0;
    r->starved = r->nowait = r->discarding = r->failed = 0;
    r->have_cols = 0;
    sl_csv_cols_init(&r->cols, &r->plan);
    r->nstash = r->stash_at = 0;
    r->time_checked = !first;
    csv_reset(r);
    r->nl_in = 0;
    r->tail_nl = 0;
    r->qfrom = r->qnext = r->qlim = 0;
    r->bom_pending = 1;
    r->errmsg[0] = '\0';
    memset(&r->st, 0, sizeof r->st);
}

int sl_reader_reserve(sl_reader *r, size_t bytes)
{
    while (r->cap < bytes && r->cap < r->max_line + 2) {
        int rc = grow(r);
        if (rc)
            return rc;
    }
    return 0;
}

void sl_reader_on_bad(sl_reader *r, sl_bad_fn fn, void *ud)
{
    r->bad_fn = fn;
    r->bad_ud = ud;
}

int sl_reader_fd(const sl_reader *r)
{
    return r->live && !r->dz ? r->fd : -1;
}

const char *sl_reader_error(const sl_reader *r)
{
    if (!r->failed)
        return "";
    return r->errmsg[0] ? r->errmsg : sl_strerror(r->failed);
}

int sl_reader_at_end(const sl_reader *r)
{
    return r->eof && r->pos == r->fill && !r->discarding && r->nstash == 0;
}

void sl_reader_stats(const sl_reader *r, struct sl_reader_stats *st)
{
    *st = r->st;
    st->bytes = r->base + r->pos;
}

static int is_blank(const char *s, size_t len);

void sl_reader_destroy(sl_reader **rp)
{
    if (!rp || !*rp)
        return;
    free((*rp)->buf);
    free((*rp)->scratch);
    free((*rp)->zin);
    free((*rp)->attr);
    sl_decomp_destroy(&(*rp)->dz);
    free(*rp);
    *rp = NULL;
}

/* Grows buf and scratch when one partial line fills the buffer (never past max_line + 2, the
 * most needed to tell whether a line of max_line bytes ends in "\r\n"). Returns 0 or
 * SL_ENOMEM, leaving the reader as it was. */
static int grow(sl_reader *r)
{
    size_t ncap = r->cap * 2;
    if (ncap > r->max_line + 2)
        ncap = r->max_line + 2;
    SL_CHECK(ncap > r->cap);
    char *nb = realloc(r->buf, ncap);
    if (!nb)
        return SL_ENOMEM;
    r->buf = nb;
    char *ns = realloc(r->scratch, ncap);
    if (!ns)
        return SL_ENOMEM; /* buf is larger, scratch not: retried on the next grow */
    r->scratch = ns;
    r->cap = ncap;
    return 0;
}

/* Reads up to n bytes of the input as it is stored (compressed or not) into dst. Returns the
 * count: 0 when a pipe, socket or terminal had nothing within its wait (r->starved set) or was
 * interrupted, or at the end of the input (r->raw_eof set); or SL_EIO. */
static long raw_read(sl_reader *r, void *dst, size_t n)
{
    if (r->live) {
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        int ready = poll(&p, 1, r->nowait ? 0 : r->wait_ms);
        if (ready < 0 && errno != EINTR)
            return SL_EIO;
        if (ready <= 0) {
            r->starved = 1;
            return 0;
        }
        ssize_t k = read(r->fd, dst, n);
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN)
                return 0;
            return SL_EIO;
        }
        if (k == 0)
            r->raw_eof = 1;
        return (long)k;
    }
    if (r->part) {
        uint64_t left = r->part_len - r->part_at;
        size_t want = n < left ? n : (size_t)left;
        ssize_t k = 0;
        while (want && (k = pread(r->part_fd, dst, want, (off_t)(r->part_lo + r->part_at))) < 0 &&
               errno == EINTR)
            ;
        if (k < 0)
            return SL_EIO;
        r->part_at += (uint64_t)k;
        if (k == 0)
            r->raw_eof = 1; /* the part's end (or the file shrank) */
        return (long)k;
    }
    size_t got = fread(dst, 1, n, r->in);
    if (got < n) {
        if (ferror(r->in))
            return SL_EIO;
        if (got == 0 || feof(r->in))
            r->raw_eof = 1;
    }
    return (long)got;
}

/* Reads the input's first bytes until they tell whether it is compressed (r->zkind), then
 * passes them on: into the line buffer when it is not, to a new decoder when it is. Returns 0
 * (r->zkind still -1 when a live input has not sent enough yet), SL_EIO or SL_ENOMEM. */
static int sniff(sl_reader *r)
{
    while (r->zkind < 0) {
        if (!r->raw_eof) {
            long k = raw_read(r, r->head + r->nhead, sizeof r->head - r->nhead);
            if (k < 0)
                return (int)k;
            r->nhead += (size_t)k;
            if (k == 0 && !r->raw_eof)
                return 0;
        }
        r->zkind = sl_decomp_sniff(r->head, r->nhead, r->raw_eof);
    }
    if (r->zkind == SL_DECOMP_NONE) {
        memcpy(r->buf + r->fill, r->head, r->nhead); /* fill is 0 here: the input's start */
        r->fill += r->nhead;
        r->eof = r->raw_eof;
        return 0;
    }
    r->zin = malloc(ZBLOCK);
    r->dz = sl_decomp_new(r->zkind);
    if (!r->zin || !r->dz)
        return SL_ENOMEM;
    memcpy(r->zin, r->head, r->nhead);
    r->zpos = 0;
    r->zlen = r->nhead;
    SL_DEBUG("reader", "%s-compressed input", sl_decomp_name(r->zkind));
    return 0;
}

/* Decodes compressed input into the line buffer, at most `want` bytes, reading more compressed
 * bytes when the decoder needs them. Returns 0 once it added text, at the end of the input
 * (r->eof), or when a live input has nothing more yet (r->starved); else SL_EIO (corrupt or
 * truncated input: r->errmsg says where) or SL_ENOMEM. */
static int decode(sl_reader *r, size_t want)
{
    for (;;) {
        size_t in_len = r->zlen - r->zpos, out_len = want;
        int rc = sl_decomp_run(r->dz, r->zin + r->zpos, &in_len, r->buf + r->fill, &out_len,
                               r->errmsg, sizeof r->errmsg);
        r->zpos += in_len;
        r->fill += out_len;
        if (out_len > 0)
            return 0; /* the text before an error is read first: the decoder's error is sticky */
        if (rc)
            return rc;
        if (in_len > 0)
            continue;
        /* Nothing decoded from what is there: more compressed bytes are needed. */
        if (r->raw_eof) {
            if ((rc = sl_decomp_end(r->dz, r->errmsg, sizeof r->errmsg)))
                return rc;
            r->eof = 1;
            return 0;
        }
        if (r->zpos > 0) {
            memmove(r->zin, r->zin + r->zpos, r->zlen - r->zpos);
            r->zlen -= r->zpos;
            r->zpos = 0;
        }
        if (r->zlen == ZBLOCK) { /* the decoders take some input whenever there is room */
            snprintf(r->errmsg, sizeof r->errmsg, "%s decoder made no progress at byte %llu",
                     sl_decomp_name(r->zkind), (unsigned long long)sl_decomp_in_bytes(r->dz));
            return SL_EIO;
        }
        long k = raw_read(r, r->zin + r->zlen, ZBLOCK - r->zlen);
        if (k < 0)
            return (int)k;
        r->zlen += (size_t)k;
        if (k == 0 && !r->raw_eof)
            return 0;
    }
}

/* Consumes a byte order mark at the very start of the text, once its first three bytes are
 * there (or the input ended before them). */
static void check_bom(sl_reader *r)
{
    static const char bom[3] = {'\xef', '\xbb', '\xbf'};
    size_t avail = r->fill - r->pos, n = avail < 3 ? avail : 3;
    if (r->base + r->pos != 0 || memcmp(r->buf + r->pos, bom, n) != 0) {
        r->bom_pending = 0;
    } else if (n == 3) {
        r->pos += 3;
        r->bom_pending = 0;
    } else if (r->eof) {
        r->bom_pending = 0; /* the start of one, and no more text: text */
    }
}

/* Moves the unconsumed bytes to the front of the buffer and reads the next block after them
 * (decoded when the input is compressed). Returns 0 (r->eof set at end of input), SL_EIO or
 * SL_ENOMEM. */
static int refill(sl_reader *r)
{
    compact(r);
    if (r->fill == r->cap) {
        int rc = grow(r);
        if (rc)
            return rc;
    }
    if (r->chunked) {
        /* Only the caller brings more (sl_reader_room, sl_reader_end). */
        r->starved = 1;
        return 0;
    }
    size_t want = r->cap - r->fill;
    if (want > BLOCK)
        want = BLOCK;
    int rc = 0;
    if (r->zkind < 0) {
        rc = sniff(r);
        if (rc == 0 && r->dz)
            rc = decode(r, want);
    } else if (r->dz) {
        rc = decode(r, want);
    } else {
        long k = raw_read(r, r->buf + r->fill, want);
        if (k < 0)
            return (int)k;
        r->fill += (size_t)k;
        r->eof = r->raw_eof;
    }
    if (rc == 0 && r->bom_pending)
        check_bom(r);
    return rc;
}

/* The number of '\n' in s[0..n). */
static uint64_t count_nl(const char *s, size_t n)
{
    uint64_t k = 0;
    for (const char *e = s + n; (s = memchr(s, '\n', (size_t)(e - s))); s++)
        k++;
    return k;
}

/* Forgets the CSV scan: the next record starts at pos. */
static void csv_reset(sl_reader *r)
{
    r->csv_at = 0;
    r->csv_inq = 0;
    r->csv_fs = 1;
    r->csv_q = 0;
}

/* CSV: 1 when the line buf[pos, nl) holds no '"', the common case. A search for the next quote
 * runs to the end of the buffered bytes and its result is kept (qfrom, qnext, qlim): the lines
 * before that quote need no search of their own. */
static int no_quote(sl_reader *r, const char *nl)
{
    size_t e = (size_t)(nl - r->buf);
    if (r->qfrom > r->pos || r->pos > r->qnext) { /* what is known lies behind */
        char *q = memchr(r->buf + r->pos, '"', r->fill - r->pos);
        r->qfrom = r->pos;
        r->qnext = q ? (size_t)(q - r->buf) : r->fill;
        r->qlim = r->fill;
    } else if (r->qnext == r->qlim && e >= r->qlim) { /* none up to qlim: bytes came since */
        char *q = memchr(r->buf + r->qlim, '"', r->fill - r->qlim);
        r->qnext = q ? (size_t)(q - r->buf) : r->fill;
        r->qlim = r->fill;
    }
    return e < r->qnext;
}

/* CSV: the '\n' that ends the record at s (of which avail bytes are there): the first one outside
 * a quoted field. A '"' opens a quoted field only at the start of a field (the record's start
 * or after the delimiter), as sl_csv_parse reads fields; inside one, "" is a quote and a lone '"'
 * closes it. A '"' elsewhere is left to sl_csv_parse to report. nl0 is the first '\n' of the avail
 * bytes when the caller looked for it (a new record), else s. Returns NULL when the end is not
 * among the avail bytes; the scan's state is then kept (csv_at, csv_inq, csv_fs) and the next
 * call, with more bytes, goes on from there. Sets csv_q when the record may span lines. */
static char *csv_end(sl_reader *r, char *s, size_t avail, char *nl0)
{
    char *p = s + r->csv_at, *end = s + avail;
    char *nl = nl0; /* the next '\n' at or after p, unless it is s (not known) */
    int inq = r->csv_inq, fs = r->csv_fs;
    const char delim = r->cols.delim ? r->cols.delim : ',';
    while (p < end) {
        if (inq) {
            char *q = memchr(p, '"', (size_t)(end - p));
            if (!q) {
                p = end;
                break;
            }
            if (q + 1 == end) { /* a closing quote or the first of "": the next byte tells */
                p = q;
                break;
            }
            p = q + 2;
            if (q[1] != '"') {
                inq = fs = 0;
                p = q + 1;
            }
            continue;
        }
        if (nl == s || (nl && nl < p))
            nl = memchr(p, '\n', (size_t)(end - p));
        char *lim = nl ? nl : end;
        char *q = memchr(p, '"', (size_t)(lim - p));
        while (q && !(q == p ? fs : q[-1] == delim))
            q = q + 1 < lim ? memchr(q + 1, '"', (size_t)(lim - q - 1)) : NULL;
        if (q) {
            inq = 1;
            p = q + 1;
            continue;
        }
        if (nl) {
            /* newlines inside: when this is not the record's first one, or that is unknown */
            r->csv_q = nl != nl0 || r->csv_at != 0;
            r->csv_at = 0;
            r->csv_inq = 0;
            r->csv_fs = 1;
            return nl;
        }
        if (end > p)
            fs = end[-1] == delim;
        p = end;
    }
    r->csv_at = (size_t)(p - s);
    r->csv_inq = inq;
    r->csv_fs = fs;
    r->csv_q = 1; /* the last record, at the end of the input, may span lines */
    return NULL;
}

/* Reads the text again from its start up to byte `target` through the reader's buffer (and
 * decoder), parsing nothing but, for CSV, the first non-blank record before target: the columns
 * come from it as in a read from the start. When the input turns out not to be compressed, stops
 * as soon as nothing more needs looking at (the caller then seeks to target). Returns 0 or a
 * negative sl_err. */
static int scan_prefix(sl_reader *r, uint64_t target)
{
    int look = r->fmt == SL_FMT_CSV;
    while (r->base + r->pos < target) {
        if (r->zkind == SL_DECOMP_NONE && !look)
            return 0;
        char *s = r->buf + r->pos;
        size_t avail = r->fill - r->pos;
        uint64_t left = target - (r->base + r->pos);
        if (avail > left)
            avail = (size_t)left; /* nothing at or past target is looked at or skipped */
        if (!look) {
            r->pos += avail;
        } else if (avail > 0) {
            char *nl = csv_end(r, s, avail, s);
            if (nl) {
                size_t len = (size_t)(nl - s);
                r->pos += len + 1;
                csv_reset(r);
                if (len > 0 && s[len - 1] == '\r')
                    len--;
                if (r->discarding) {
                    r->discarding = 0;
                } else if (len > r->max_line) {
                    /* too long: reported as malformed, not taken for the header */
                } else if (len > 0 && !is_blank(s, len)) {
                    sl_perr pe;
                    r->have_cols = 1;
                    if (sl_csv_header(s, len, &r->cols, &pe) != 1)
                        sl_csv_cols_init(&r->cols, &r->plan);
                    look = 0;
                }
                continue;
            }
            if (avail < r->fill - r->pos) {
                look = 0; /* target lies inside this record: it is read again from there */
                csv_reset(r);
                continue;
            }
            if (avail > r->max_line + 1 || r->discarding) {
                r->discarding = 1; /* too long: skipped to its end */
                r->pos += r->csv_at;
                r->csv_at = 0;
            }
        }
        if (r->base + r->pos >= target)
            break;
        if (r->eof)
            break;
        int rc = refill(r);
        if (rc)
            return rc;
    }
    return 0;
}

/* Puts the input at byte off: the FILE, and where a part's next pread starts. 0 or -1. */
static int seek_in(sl_reader *r, uint64_t off)
{
    if (fseeko(r->in, (off_t)off, SEEK_SET) != 0)
        return -1;
    if (r->part)
        r->part_at = off < r->part_len ? off : r->part_len;
    return 0;
}

int sl_reader_resume(sl_reader *r, const struct sl_reader_stats *st)
{
    r->st = *st;
    r->base = st->bytes;
    r->pos = r->fill = 0;
    r->qfrom = r->qnext = r->qlim = 0;
    if (st->bytes == 0 || !r->in)
        return 0;
    r->bom_pending = 0;
    /* The caller put the FILE at st->bytes; the text before that offset is read again from the
     * start (its first bytes tell whether it is compressed). */
    if (seek_in(r, 0) != 0) {
        /* not seekable: taken as plain text at the offset; a CSV header cannot be looked for */
        r->zkind = SL_DECOMP_NONE;
        return r->fmt == SL_FMT_CSV ? SL_EIO : 0;
    }
    r->base = 0;
    r->bom_pending = 1;
    int rc = scan_prefix(r, st->bytes);
    if (rc) {
        r->failed = rc;
        SL_ERROR("reader", "resuming the input: %s", sl_reader_error(r));
        return rc;
    }
    r->discarding = 0;
    r->bom_pending = 0;
    csv_reset(r);
    if (r->dz) {
        /* Compressed: there is no seeking; the text up to the offset was decoded and skipped. */
        if (r->base + r->pos != st->bytes) {
            snprintf(r->errmsg, sizeof r->errmsg,
                     "cannot resume at byte %llu: the %s input decompresses to %llu bytes",
                     (unsigned long long)st->bytes, sl_decomp_name(r->zkind),
                     (unsigned long long)(r->base + r->pos));
            r->failed = SL_EIO;
            SL_ERROR("reader", "resuming the input: %s", r->errmsg);
            return SL_EIO;
        }
    } else {
        if (seek_in(r, st->bytes) != 0)
            return SL_EIO;
        r->base = st->bytes;
        r->pos = r->fill = 0;
        r->qfrom = r->qnext = r->qlim = 0;
        r->eof = r->raw_eof = 0;
        r->zkind = SL_DECOMP_NONE;
    }
    r->st = *st;
    SL_DEBUG("reader", "resuming at byte %llu of the %s input", (unsigned long long)st->bytes,
             sl_decomp_name(r->zkind));
    return 0;
}

/* Counts a malformed line (the current line: st.lines less the newlines inside a CSV record,
 * its first line) and reports it. `off` is the input offset of the line's first byte. Returns
 * SL_EPARSE when the callback asks to stop, else 0. */
static int bad_line(sl_reader *r, uint64_t off, size_t column, const char *reason)
{
    uint64_t line = r->st.lines - r->nl_in;
    r->st.bad++;
    SL_DEBUG("reader", "line %llu column %zu: %s", (unsigned long long)line, column, reason);
    if (r->bad_fn && r->bad_fn(r->bad_ud, line, column, off + column - 1, reason))
        return SL_EPARSE;
    return 0;
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v')
            return 0;
    return 1;
}

/* Column of the ad id in the line when it points into the line or at the same offset in
 * scratch (where both parsers put unescaped strings), else 1. */
static size_t id_column(const sl_reader *r, const char *line, size_t len, const char *id)
{
    if (id >= line && id < line + len)
        return (size_t)(id - line) + 1;
    if (id >= r->scratch && id < r->scratch + len)
        return (size_t)(id - r->scratch) + 1;
    return 1;
}

/* Turns one line (no newline, no trailing '\r') into *rec, and into the stash when the line gives
 * more than one event. Returns 1 for a record, 0 for a line that gives none (blank, CSV header,
 * malformed and reported), or a negative sl_err. Inlined into its one caller, the loop of
 * sl_reader_read (a call cost about 30 instructions per line). */
__attribute__((always_inline)) static inline int
one_line(sl_reader *r, const char *line, size_t len, uint64_t off, sl_rec *rec, uint64_t *attr)
{
    sl_rawev ev;
    sl_perr pe;
    int rc;
    const char *hint_s = NULL; /* the key's lookup started by the NDJSON parse */
    size_t hint_n = 0;
    uint64_t hint_key = 0;

    if (len == 0 || is_blank(line, len)) {
        r->st.blank++;
        return 0;
    }
    if (r->fmt == SL_FMT_CSV) {
        if (!r->have_cols) {
            rc = sl_csv_header(line, len, &r->cols, &pe);
            if (rc < 0) {
                /* Without its columns no later line can be read: stop for good. */
                bad_line(r, off, pe.column, pe.reason);
                r->failed = SL_EPARSE;
                return SL_EPARSE;
            }
            r->have_cols = 1;
            if (rc == 1)
                return 0;
            sl_csv_cols_init(&r->cols, &r->plan);
        }
        rc = sl_csv_parse(line, len, &r->cols, r->scratch, &ev, &pe);
    } else {
        rc = sl_ndjson_parse_hinted(&r->plan, line, len, r->scratch, &ev, &pe, r->dict, &hint_s,
                                    &hint_n, &hint_key);
    }
    if (rc)
        return bad_line(r, off, pe.column, pe.reason);

    uint64_t key;
    if (hint_s && hint_s == ev.ad_id && hint_n == ev.ad_id_len)
        rc = sl_addict_intern_key(r->dict, ev.ad_id, ev.ad_id_len, hint_key, &key);
    else
        rc = sl_addict_intern(r->dict, ev.ad_id, ev.ad_id_len, &key);
    if (rc == SL_ECOLLISION) {
        char reason[sizeof pe.reason];
        size_t olen = 0;
        const char *other = sl_addict_get(r->dict, sl_key_hash(ev.ad_id, ev.ad_id_len), &olen);
        int a = ev.ad_id_len > 60 ? 60 : (int)ev.ad_id_len;
        int b = olen > 60 ? 60 : (int)olen;
        snprintf(reason, sizeof reason, "key \"%.*s\" has the same 64-bit hash as \"%.*s\"", a,
                 ev.ad_id, b, other ? other : "");
        return bad_line(r, off, id_column(r, line, len, ev.ad_id), reason);
    }
    if (rc == SL_ERANGE) {
        char reason[sizeof pe.reason];
        snprintf(reason, sizeof reason, "key length %zu out of range", ev.ad_id_len);
        return bad_line(r, off, id_column(r, line, len, ev.ad_id), reason);
    }
    if (rc) {
        r->failed = rc;
        return rc;
    }
    if (!r->time_checked) {
        r->time_checked = 1;
        /* 1e9..1e11 ms is January 1970 to March 1973, while 1e9..1e11 s is 2001 to 5138: most
         * likely times written in seconds, which a millisecond field reads 1000 times too
         * small (windows would be wrong). Said once; the data is read as declared. */
        if (r->plan.s.time_format == SL_TIME_MS && ev.time_ms >= INT64_C(1000000000) &&
            ev.time_ms < INT64_C(100000000000))
            SL_WARN("reader",
                    "line %llu: %s %lld is before 1973 in milliseconds; if the times are "
                    "seconds, declare schema.time.format: s (docs/config.md)",
                    (unsigned long long)r->st.lines, r->plan.s.field[r->plan.s.time_field].name,
                    (long long)ev.time_ms);
    }
    rec->key = key;
    rec->time_ms = ev.time_ms;
    rec->value = (float)ev.value;
    rec->type = (uint32_t)ev.type;
    rec->user = ev.user_id_len ? sl_key_hash(ev.user_id, ev.user_id_len) : 0;
    if (r->nattr) {
        memcpy(attr, ev.attr, r->nattr * sizeof *attr);
        memcpy(r->stash_attr, ev.attr, r->nattr * sizeof *attr);
    }
    r->st.records++;
    for (unsigned more = ev.types & ~(1u << ev.type); more; more &= more - 1) {
        sl_rec *x = &r->stash[r->nstash++];
        *x = *rec;
        x->type = (uint32_t)__builtin_ctz(more);
        r->st.records++;
    }
    return 1;
}

/* Hands out stashed records of the last line into out[n..max). Returns the new n. */
static size_t drain_stash(sl_reader *r, sl_rec *out, size_t n, size_t max)
{
    while (r->stash_at < r->nstash && n < max) {
        if (r->nattr)
            memcpy(r->attr + n * r->nattr, r->stash_attr, r->nattr * sizeof *r->attr);
        out[n++] = r->stash[r->stash_at++];
    }
    if (r->stash_at == r->nstash)
        r->nstash = r->stash_at = 0;
    return n;
}

/* Reads up to max records. When the callback asks to stop, SL_EPARSE is returned at once and
 * the records already written to `out` by this call are lost to the caller (they still count in
 * the stats); a later call resumes at the line after the one reported. I/O errors, out of
 * memory and a CSV header missing a required column are sticky: every later call returns
 * the same code. */
long sl_reader_read(sl_reader *r, sl_rec *out, size_t max)
{
    size_t n = 0;
    int rc;
    const int csv = r->fmt == SL_FMT_CSV;

    if (r->failed)
        return r->failed;
    if (r->nattr && r->attr_cap < max) {
        free(r->attr);
        r->attr = malloc(max * r->nattr * sizeof *r->attr);
        r->attr_cap = r->attr ? max : 0;
        if (!r->attr) {
            r->failed = SL_ENOMEM;
            return SL_ENOMEM;
        }
    }
    r->starved = 0;
    if (r->bom_pending)
        check_bom(r);
    n = drain_stash(r, out, n, max);
    while (n < max && !r->starved) {
        if (r->discarding) {
            char *s = r->buf + r->pos;
            size_t avail = r->fill - r->pos;
            char *nl = csv ? csv_end(r, s, avail, s) : memchr(s, '\n', avail);
            if (nl) {
                if (csv) {
                    r->st.lines += count_nl(s, (size_t)(nl - s)); /* quoted newlines */
                    csv_reset(r);
                }
                r->pos = (size_t)(nl - r->buf) + 1;
                r->discarding = 0;
                continue;
            }
            size_t drop = csv && !r->eof ? r->csv_at : avail;
            if (csv) {
                r->st.lines += count_nl(s, drop);
                r->csv_at = 0;
                if (drop > 0)
                    r->tail_nl = s[drop - 1] == '\n';
            }
            r->pos += drop;
            if (r->eof) {
                if (csv && r->tail_nl)
                    r->st.lines--; /* the text ends inside quotes with a newline: no line after */
                r->discarding = 0;
                csv_reset(r);
                break;
            }
            r->nowait = n > 0;
            if ((rc = refill(r)))
                goto fatal;
            continue;
        }

        char *s = r->buf + r->pos;
        size_t avail = r->fill - r->pos, len, adv;
        char *nl;
        if (!csv)
            nl = memchr(s, '\n', avail);
        else if (r->csv_at || r->csv_inq) /* going on with a record scanned before */
            nl = csv_end(r, s, avail, s);
        else if ((nl = memchr(s, '\n', avail)) && no_quote(r, nl))
            ; /* a line without quotes: the record */
        else
            nl = csv_end(r, s, avail, nl);
        if (nl) {
            len = (size_t)(nl - s);
            adv = len + 1;
        } else if (r->eof) {
            if (avail == 0)
                break;
            len = adv = avail; /* last line without a newline */
        } else if (avail > r->max_line + 1) {
            /* Over-long even if its last byte is the '\r' of "\r\n": report it now and skip
             * the rest without storing it. */
            uint64_t off = r->base + r->pos;
            char reason[64];
            r->st.lines++;
            if (csv) { /* skip what was scanned; its newlines are quoted ones */
                r->nl_in = count_nl(s, r->csv_at);
                r->st.lines += r->nl_in;
                r->tail_nl = r->csv_at > 0 && s[r->csv_at - 1] == '\n';
                r->pos += r->csv_at;
                r->csv_at = 0;
            } else {
                r->pos = r->fill;
            }
            r->discarding = 1;
            snprintf(reason, sizeof reason, "line longer than %zu bytes", r->max_line);
            if (bad_line(r, off, r->max_line + 1, reason))
                return SL_EPARSE;
            continue;
        } else {
            r->nowait = n > 0; /* return what there is rather than wait for more */
            if ((rc = refill(r)))
                goto fatal;
            continue;
        }

        uint64_t off = r->base + r->pos;
        if (csv) {
            /* A record may span lines: they all count now, and reports name the first
             * (bad_line). */
            r->nl_in = 0;
            if (r->csv_q) {
                r->nl_in = count_nl(s, len);
                if (!nl && r->nl_in > 0 && s[len - 1] == '\n')
                    r->nl_in--; /* the text ends inside quotes with a newline: no line after */
                r->st.lines += r->nl_in;
                r->csv_q = 0;
            }
            if (!nl)
                csv_reset(r); /* the last record, without a newline */
        }
        r->pos += adv;
        r->st.lines++;
        if (len > 0 && s[len - 1] == '\r')
            len--;
        if (len > r->max_line) {
            char reason[64];
            snprintf(reason, sizeof reason, "line longer than %zu bytes", r->max_line);
            if (bad_line(r, off, r->max_line + 1, reason))
                return SL_EPARSE;
            continue;
        }
        rc = one_line(r, s, len, off, &out[n], r->nattr ? r->attr + n * r->nattr : NULL);
        if (rc < 0)
            return rc;
        n += (size_t)rc;
        if (r->nstash)
            n = drain_stash(r, out, n, max);
    }
    return (long)n;

fatal:
    /* The records this call read before it are delivered; the next call returns the error. */
    r->failed = rc;
    SL_ERROR("reader", "reading input: %s", r->errmsg[0] ? r->errmsg : sl_strerror(rc));
    return n > 0 ? (long)n : rc;
}

uint64_t *sl_reader_attrs(sl_reader *r)
{
    return r->nattr ? r->attr : NULL;
}
