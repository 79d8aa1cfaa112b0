/* Line readers for NDJSON and CSV event files.
 *
 * Input is read with fread in 1 MiB blocks into one buffer; lines are found with memchr and
 * parsed in place, so nothing is allocated per line. A line that runs past the end of the
 * buffered data is moved to the front of the buffer before the next block is read; the buffer
 * grows (up to max_line + 2 bytes) only when a single line fills it. A line found to be longer
 * than max_line is reported once and the rest of it is skipped without being stored.
 *
 * A regular file (or a stream without a descriptor, such as fmemopen's) is read with fread. A
 * pipe, socket or terminal is read with read(2) after poll(2) waits at most SL_READER_WAIT_MS:
 * whatever has arrived is parsed at once, and when nothing has, sl_reader_read returns what it
 * has (possibly nothing) without being at the end, so that a caller serving a network (leases,
 * acknowledgements) or a timer is never stuck behind a silent producer.
 *
 * Throughput (parse, intern, records; 1M YSB lines of 255 bytes through fmemopen, 8192 records
 * per call, gcc -O2, best of 9, dev VM with 2 AMD EPYC cores, 2026-11-21): 5.8-6.3 M lines/s. */
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
#include "err.h"
#include "log.h"
#include "ndjson.h"
#include "evbuild.h"

/* Bytes read per fread; a build may shrink it (-DSL_READER_BLOCK=64) to stress the
 * block-boundary code with small inputs. */
#ifndef SL_READER_BLOCK
#define SL_READER_BLOCK ((size_t)1 << 20)
#endif
#define BLOCK ((size_t)(SL_READER_BLOCK))

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
    uint64_t base;  /* input offset of buf[0] */
    int eof;        /* end of input reached */
    int live;       /* read with poll + read(2): a pipe, socket or terminal */
    int chunked;    /* no FILE: input is handed in with sl_reader_room/commit/feed */
    int wait_ms;    /* longest poll of a live input */
    int fd;         /* fileno(in) when live */
    int starved;    /* the last refill found nothing to read yet (live only) */
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
    int time_checked; /* the first record's time was looked at (seconds read as ms) */

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
        r->pos = 0;
    }
}

static int grow(sl_reader *r);

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

void sl_reader_on_bad(sl_reader *r, sl_bad_fn fn, void *ud)
{
    r->bad_fn = fn;
    r->bad_ud = ud;
}

int sl_reader_fd(const sl_reader *r)
{
    return r->live ? r->fd : -1;
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

int sl_reader_resume(sl_reader *r, const struct sl_reader_stats *st)
{
    r->st = *st;
    r->base = st->bytes;
    r->pos = r->fill = 0;
    if (r->fmt != SL_FMT_CSV || st->bytes == 0 || !r->in)
        return 0;
    /* The first non-blank line chose the columns: find it before the offset. */
    size_t cap = r->max_line + 2 < ((size_t)1 << 20) ? r->max_line + 2 : (size_t)1 << 20;
    char *buf = malloc(cap);
    if (!buf)
        return SL_EIO;
    int fd = fileno(r->in);
    uint64_t at = 0;
    int rc = 0;
    while (at < st->bytes) {
        ssize_t k = pread(fd, buf, cap, (off_t)at);
        if (k <= 0) {
            rc = SL_EIO;
            break;
        }
        char *nl = memchr(buf, '\n', (size_t)k);
        size_t len = nl ? (size_t)(nl - buf) : (size_t)k;
        if (at + len + (nl ? 1 : 0) > st->bytes)
            break; /* the offset lies inside it: it is read again from there */
        if (len > 0 && buf[len - 1] == '\r')
            len--;
        if (len > 0 && !is_blank(buf, len)) {
            sl_perr pe;
            r->have_cols = 1;
            if (sl_csv_header(buf, len, &r->cols, &pe) != 1)
                sl_csv_cols_init(&r->cols, &r->plan);
            break;
        }
        if (!nl)
            break;
        at += (uint64_t)(nl - buf) + 1;
    }
    free(buf);
    return rc;
}

void sl_reader_destroy(sl_reader **rp)
{
    if (!rp || !*rp)
        return;
    free((*rp)->buf);
    free((*rp)->scratch);
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

/* Moves the unconsumed bytes to the front of the buffer and reads the next block after them.
 * Returns 0 (r->eof set at end of input), SL_EIO or SL_ENOMEM. */
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
    if (r->live) {
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        int ready = poll(&p, 1, r->nowait ? 0 : r->wait_ms);
        if (ready < 0 && errno != EINTR)
            return SL_EIO;
        if (ready <= 0) {
            r->starved = 1;
            return 0;
        }
        ssize_t k = read(r->fd, r->buf + r->fill, want);
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN)
                return 0;
            return SL_EIO;
        }
        if (k == 0)
            r->eof = 1;
        r->fill += (size_t)k;
        return 0;
    }
    size_t got = fread(r->buf + r->fill, 1, want, r->in);
    r->fill += got;
    if (got < want) {
        if (ferror(r->in))
            return SL_EIO;
        if (got == 0 || feof(r->in))
            r->eof = 1;
    }
    return 0;
}

/* Counts a malformed line (the current line, st.lines) and reports it. `off` is the input
 * offset of the line's first byte. Returns SL_EPARSE when the callback asks to stop, else 0. */
static int bad_line(sl_reader *r, uint64_t off, size_t column, const char *reason)
{
    r->st.bad++;
    SL_DEBUG("reader", "line %llu column %zu: %s", (unsigned long long)r->st.lines, column, reason);
    if (r->bad_fn && r->bad_fn(r->bad_ud, r->st.lines, column, off + column - 1, reason))
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
 * malformed and reported), or a negative sl_err. */
static int one_line(sl_reader *r, const char *line, size_t len, uint64_t off, sl_rec *rec)
{
    sl_rawev ev;
    sl_perr pe;
    int rc;

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
        rc = sl_ndjson_parse_plan(&r->plan, line, len, r->scratch, &ev, &pe);
    }
    if (rc)
        return bad_line(r, off, pe.column, pe.reason);

    uint64_t key;
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
    while (r->stash_at < r->nstash && n < max)
        out[n++] = r->stash[r->stash_at++];
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

    if (r->failed)
        return r->failed;
    r->starved = 0;
    n = drain_stash(r, out, n, max);
    while (n < max && !r->starved) {
        if (r->discarding) {
            char *nl = memchr(r->buf + r->pos, '\n', r->fill - r->pos);
            if (nl) {
                r->pos = (size_t)(nl - r->buf) + 1;
                r->discarding = 0;
                continue;
            }
            r->pos = r->fill;
            if (r->eof) {
                r->discarding = 0;
                break;
            }
            r->nowait = n > 0;
            if ((rc = refill(r)))
                goto fatal;
            continue;
        }

        char *s = r->buf + r->pos;
        size_t avail = r->fill - r->pos, len, adv;
        char *nl = memchr(s, '\n', avail);
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
            r->pos = r->fill;
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
        rc = one_line(r, s, len, off, &out[n]);
        if (rc < 0)
            return rc;
        n += (size_t)rc;
        if (r->nstash)
            n = drain_stash(r, out, n, max);
    }
    return (long)n;

fatal:
    r->failed = rc;
    SL_ERROR("reader", "reading input: %s", sl_strerror(rc));
    return rc;
}
