/* ndjson_ctr: a fast hand-written CTR counter over an NDJSON event file, one thread, the peer that
 * sluice-bench's file workload runs beside `sluice ctr` (bench/README.md, "file").
 *
 * usage: ndjson_ctr FILE OUT.csv
 *
 * It computes what `sluice ctr --input FILE --output OUT.csv` computes: per ad_id, impressions
 * (event_type "view" or "impression"), clicks (event_type "click") and ctr = clicks / impressions
 * (0 without impressions), a row for every ad seen, sorted by ad id (byte order), as CSV
 * "ad_id,impressions,clicks,ctr" with RFC 4180 quoting of the id; ctr is printed as the exact
 * quotient's first 17 significant digits (put_ratio).
 *
 * How it is fast: one pass over each line with 16-byte SSE2 compares finds the line's end and
 * the positions of its quotes (a structural index, as simdjson's first stage makes one); the
 * object's members are then walked along the quotes, the two string values taken as they are,
 * and the walk stops as soon as it has both: like simdjson's on-demand parsing it does not
 * validate what it does not read. A line with a backslash, a nested value or more than 64
 * quotes goes to a plain scalar scanner instead (count_line), which decodes escapes. Ids are
 * interned in one open-addressing table of 64-byte slots that hold the counters and ids of up
 * to 32 bytes, hashed and compared 8 bytes at a time; each line's slot is prefetched 8 lines
 * before it is counted (the table is larger than the caches: 16 MiB at 100,000 ids). The file
 * is read in 8 MiB blocks.
 *
 * A line without an ad_id (a string, or a number: its text) and a string event_type in a
 * top-level object is skipped and counted as malformed (the count goes to stderr), as is one
 * that repeats either field before it has both, and a line longer than 1 MiB. Blank lines are
 * skipped. Escapes in the two values are decoded (\uXXXX to UTF-8) before they are used.
 * sluice's reader also needs event_time and checks the whole line; on well-formed input, as the
 * bench's generated files are, both count the same lines.
 *
 * Exit status: 0 done, 1 a read or write error or out of memory, 2 usage. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define BLOCK (8u << 20)
#define MAX_LINE (1u << 20)
#define PAD 64  /* readable bytes past the data in the read buffer (16-byte loads) */
#define MAXQ 64 /* quotes the fast path keeps per line */

/* ---- the id table: id bytes -> impressions, clicks ---- */

#define INLINE_ID 32 /* ids up to this long live in their slot */

/* One cache line: a lookup of a short id touches nothing else. */
struct slot {
    uint64_t hash; /* 0: empty (hashes are made odd) */
    uint64_t views, clicks;
    uint32_t len, off; /* off: where a longer id is in the table's ids */
    char id[INLINE_ID];
};

struct table {
    struct slot *s; /* 64-byte aligned */
    size_t mask, fill;
    char *ids; /* the ids longer than INLINE_ID, one after the other */
    size_t ids_len, ids_cap;
};

static inline const char *slot_id(const struct table *t, const struct slot *s)
{
    return s->len <= INLINE_ID ? s->id : t->ids + s->off;
}

/* A 64-bit hash of s[0..len), 8 bytes at a time; never 0. Ids come from the read buffer (PAD
 * bytes past its data) or from scratch (8 bytes past MAX_LINE). */
static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdu;
        h ^= h >> 32;
    }
    if (i < len) { /* s may be read up to 7 bytes past len (the buffers have room) */
        uint64_t w;
        memcpy(&w, s + i, 8);
        w &= (UINT64_C(1) << (8 * (len - i))) - 1;
        h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 32;
    return h | 1;
}

/* cap zeroed slots, 64-byte aligned, or NULL. */
static struct slot *slots_new(size_t cap)
{
    struct slot *v = aligned_alloc(64, cap * sizeof *v);
    if (v)
        memset(v, 0, cap * sizeof *v);
    return v;
}

static int table_init(struct table *t, size_t cap)
{
    memset(t, 0, sizeof *t);
    t->s = slots_new(cap);
    t->mask = cap - 1;
    t->ids_cap = 1 << 20;
    t->ids = malloc(t->ids_cap);
    return t->s && t->ids ? 0 : -1;
}

static void table_free(struct table *t)
{
    free(t->s);
    free(t->ids);
}

static int table_grow(struct table *t)
{
    size_t cap = (t->mask + 1) * 2;
    struct slot *n = slots_new(cap);
    if (!n)
        return -1;
    for (size_t i = 0; i <= t->mask; i++) {
        if (!t->s[i].hash)
            continue;
        size_t h = t->s[i].hash & (cap - 1);
        while (n[h].hash)
            h = (h + 1) & (cap - 1);
        n[h] = t->s[i];
    }
    free(t->s);
    t->s = n;
    t->mask = cap - 1;
    return 0;
}

/* a[0..len) == b[0..len), 8 bytes at a time (ids are short: a call to memcmp costs more). */
static inline int same_bytes(const char *a, const char *b, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return 0;
    }
    for (; i < len; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* The slot of id[0..len) whose hash is hv, added when new. NULL when out of memory. */
static struct slot *table_get(struct table *t, const char *id, size_t len, uint64_t hv)
{
    size_t h = hv & t->mask;
    for (;;) {
        struct slot *s = &t->s[h];
        if (s->hash == hv && s->len == len && same_bytes(slot_id(t, s), id, len))
            return s;
        if (!s->hash)
            break;
        h = (h + 1) & t->mask;
    }
    if ((t->fill + 1) * 2 > t->mask + 1) {
        if (table_grow(t))
            return NULL;
        return table_get(t, id, len, hv);
    }
    struct slot *s = &t->s[h];
    *s = (struct slot){.hash = hv, .len = (uint32_t)len};
    if (len <= INLINE_ID) {
        memcpy(s->id, id, len);
    } else {
        if (t->ids_len + len > t->ids_cap || t->ids_len + len > UINT32_MAX) {
            size_t cap = t->ids_cap * 2 + len;
            char *g = cap <= UINT32_MAX ? realloc(t->ids, cap) : NULL;
            if (!g) {
                s->hash = 0;
                return NULL;
            }
            t->ids = g;
            t->ids_cap = cap;
        }
        memcpy(t->ids + t->ids_len, id, len);
        s->off = (uint32_t)t->ids_len;
        t->ids_len += len;
    }
    t->fill++;
    return s;
}

/* ---- the line scanner ---- */

static inline int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

/* The closing quote of the string whose content starts at p, or NULL. */
static inline const char *string_end(const char *p, const char *end)
{
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return NULL;
        const char *b = q;
        while (b > p && b[-1] == '\\')
            b--;
        if ((q - b) % 2 == 0)
            return q;
        p = q + 1;
    }
}

static inline int has_escape(const char *s, const char *e)
{
    return memchr(s, '\\', (size_t)(e - s)) != NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int hex4(const char *p, const char *end)
{
    if (end - p < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Decodes the JSON string content s[0..end) into out (room for end - s bytes: UTF-8 of an
 * escape is never longer than the escape). Returns the decoded length, or -1 when malformed. */
static long unescape(const char *s, const char *end, char *out)
{
    char *o = out;
    while (s < end) {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        if (++s == end)
            return -1;
        char c = *s++;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            *o++ = c;
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            long cp = hex4(s, end);
            if (cp < 0)
                return -1;
            s += 4;
            if (cp >= 0xd800 && cp < 0xdc00) { /* a surrogate pair */
                long lo = end - s >= 6 && s[0] == '\\' && s[1] == 'u' ? hex4(s + 2, end) : -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return -1;
                s += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return -1;
            }
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xc0 | (cp >> 6));
                *o++ = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xe0 | (cp >> 12));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *o++ = (char)(0x80 | (cp & 0x3f));
            } else {
                *o++ = (char)(0xf0 | (cp >> 18));
                *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *o++ = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default:
            return -1;
        }
    }
    return (long)(o - out);
}

/* Past the JSON value that starts at p (a string, an object or array, or a scalar), or NULL when
 * it is not closed before end. Nested values are skipped by depth, strings by their quotes. */
static const char *skip_value(const char *p, const char *end)
{
    int depth = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            const char *q = string_end(p + 1, end);
            if (!q)
                return NULL;
            p = q + 1;
            if (depth == 0)
                return p;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return p;
            if (--depth == 0)
                return p + 1;
        } else if (c == ',' && depth == 0) {
            return p;
        }
        p++;
    }
    return depth == 0 ? p : NULL;
}

enum { T_OTHER, T_VIEW, T_CLICK };

static int type_of(const char *s, size_t len)
{
    if (len == 4 && memcmp(s, "view", 4) == 0)
        return T_VIEW;
    if (len == 5 && memcmp(s, "click", 5) == 0)
        return T_CLICK;
    if (len == 10 && memcmp(s, "impression", 10) == 0)
        return T_VIEW;
    return T_OTHER;
}

/* A count waiting for its slot, which was prefetched when it was queued. */
struct pend {
    const char *id; /* in the read buffer */
    uint64_t hash;
    uint32_t len;
    int type;
};

/* Lookups in flight: a line's slot is prefetched this many lines before it is counted, so that
 * the slot's cache miss overlaps the parsing of the lines between. */
#define AHEAD 8

struct counter {
    struct table t;
    char *scratch; /* decoded escapes: MAX_LINE bytes */
    uint64_t lines, bad;
    struct pend q[AHEAD];
    unsigned head, n;
};

/* Counts one event of type `type` for the id whose hash is hv. Returns 0, or -1 when out of
 * memory. */
static int count_id(struct counter *c, const char *id, size_t len, uint64_t hv, int type)
{
    struct slot *s = table_get(&c->t, id, len, hv);
    if (!s)
        return -1;
    s->views += type == T_VIEW;
    s->clicks += type == T_CLICK;
    return 0;
}

/* Counts the oldest queued event. */
static int pop(struct counter *c)
{
    const struct pend *e = &c->q[c->head];
    c->head = (c->head + 1) % AHEAD;
    c->n--;
    return count_id(c, e->id, e->len, e->hash, e->type);
}

/* Counts every queued event: before the read buffer's ids move. Returns 0 or -1. */
static int drain(struct counter *c)
{
    while (c->n)
        if (pop(c))
            return -1;
    return 0;
}

/* Hashes the id, prefetches its slot and queues the event; counts the oldest one when the
 * queue is full. Returns 0 or -1. */
static inline int queue(struct counter *c, const char *id, size_t len, int type)
{
    const uint64_t hv = hash_bytes(id, len);
    __builtin_prefetch(&c->t.s[hv & c->t.mask]);
    int rc = c->n == AHEAD ? pop(c) : 0;
    c->q[(c->head + c->n) % AHEAD] = (struct pend){id, hv, (uint32_t)len, type};
    c->n++;
    return rc;
}

/* Counts the line p[0..end) (no '\n'). Returns 0, or -1 when out of memory. */
static int count_line(struct counter *c, const char *p, const char *end)
{
    p = skip_ws(p, end);
    if (p == end)
        return 0; /* blank */
    c->lines++;
    const char *id = NULL, *ty = NULL;
    size_t idlen = 0, tylen = 0;
    int idesc = 0, tyesc = 0;
    if (*p++ != '{')
        goto bad;
    while (!id || !ty) {
        p = skip_ws(p, end);
        if (p == end || *p != '"')
            goto bad;
        const char *k = p + 1, *ke = string_end(k, end);
        if (!ke)
            goto bad;
        p = skip_ws(ke + 1, end);
        if (p == end || *p != ':')
            goto bad;
        p = skip_ws(p + 1, end);
        if (p == end)
            goto bad;
        const size_t kl = (size_t)(ke - k);
        int which = 0; /* 1: ad_id, 2: event_type */
        if (kl == 5 && memcmp(k, "ad_id", 5) == 0) {
            which = 1;
        } else if (kl == 10 && memcmp(k, "event_type", 10) == 0) {
            which = 2;
        } else if (has_escape(k, ke)) {
            long dl = unescape(k, ke, c->scratch);
            if (dl == 5 && memcmp(c->scratch, "ad_id", 5) == 0)
                which = 1;
            else if (dl == 10 && memcmp(c->scratch, "event_type", 10) == 0)
                which = 2;
        }
        if ((which == 1 && id) || (which == 2 && ty))
            goto bad; /* a duplicate field, as sluice's reader says */
        if (which == 1 && (*p == '-' || (*p >= '0' && *p <= '9'))) {
            /* a number is an id: its text as written */
            const char *v = p;
            if (!(p = skip_value(p, end)))
                goto bad;
            const char *ve = p;
            while (ve > v && is_ws(ve[-1]))
                ve--;
            id = v;
            idlen = (size_t)(ve - v);
        } else if (which) {
            if (*p != '"')
                goto bad;
            const char *v = p + 1, *ve = string_end(v, end);
            if (!ve)
                goto bad;
            const int esc = has_escape(v, ve);
            if (which == 1) {
                id = v;
                idlen = (size_t)(ve - v);
                idesc = esc;
            } else {
                ty = v;
                tylen = (size_t)(ve - v);
                tyesc = esc;
            }
            p = ve + 1;
        } else if (!(p = skip_value(p, end))) {
            goto bad;
        }
        if (id && ty)
            break;
        p = skip_ws(p, end);
        if (p == end || *p != ',')
            goto bad;
        p++;
    }
    int type;
    if (tyesc) {
        long l = unescape(ty, ty + tylen, c->scratch);
        if (l < 0)
            goto bad;
        type = type_of(c->scratch, (size_t)l);
    } else {
        type = type_of(ty, tylen);
    }
    if (idesc) {
        long l = unescape(id, id + idlen, c->scratch);
        if (l < 0)
            goto bad;
        id = c->scratch;
        idlen = (size_t)l;
    }
    return count_id(c, id, idlen, hash_bytes(id, idlen), type);
bad:
    c->bad++;
    return 0;
}

#ifdef __SSE2__
/* The names compared as words: k holds at least 5 (10) bytes. */
static inline int is_ad_id(const char *k)
{
    uint32_t w;
    memcpy(&w, k, 4);
    return memcmp(&w, "ad_i", 4) == 0 && k[4] == 'd';
}

static inline int is_event_type(const char *k)
{
    uint64_t w;
    memcpy(&w, k, 8);
    return memcmp(&w, "event_ty", 8) == 0 && k[8] == 'p' && k[9] == 'e';
}

/* A structural index of a line made 64 bytes at a time, as it is walked: the quotes of the
 * current block not yet taken, and its newlines. */
struct scan {
    const char *blk, *end;
    uint64_t q, nl;
};

/* Indexes the block at s->blk (64 bytes are read; those at or past s->end do not count).
 * Returns 1 when it holds a backslash before the line's end (then count_line decides). */
static inline int scan_block(struct scan *s)
{
    const __m128i vq = _mm_set1_epi8('"'), vn = _mm_set1_epi8('\n'), vb = _mm_set1_epi8('\\');
    uint64_t q = 0, nl = 0, bs = 0;
    for (int j = 0; j < 4; j++) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s->blk + 16 * j));
        q |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vq)) << (16 * j);
        nl |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vn)) << (16 * j);
        bs |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vb)) << (16 * j);
    }
    if (s->end - s->blk < 64) {
        const uint64_t lim = (UINT64_C(1) << (s->end - s->blk)) - 1;
        q &= lim;
        nl &= lim;
        bs &= lim;
    }
    if (nl) {
        const uint64_t before = (nl & (0 - nl)) - 1;
        q &= before;
        bs &= before;
    }
    s->q = q;
    s->nl = nl;
    return bs != 0;
}

/* The line's next quote, or NULL when the line (or the data) ends first or a backslash comes. */
static inline const char *next_quote(struct scan *s)
{
    while (!s->q) {
        if (s->nl || s->blk + 64 >= s->end)
            return NULL;
        s->blk += 64;
        if (scan_block(s))
            return NULL;
    }
    const char *r = s->blk + __builtin_ctzll(s->q);
    s->q &= s->q - 1;
    return r;
}

/* Past the blanks (space, tab, CR) at p; the NUL count_fd puts at end stops it. */
static inline const char *skip_sp(const char *p)
{
    static const unsigned char blank[256] = {[' '] = 1, ['\t'] = 1, ['\r'] = 1};
    while (blank[(unsigned char)*p])
        p++;
    return p;
}

/* The fast path for the line at p (up to 63 bytes past end are read; they are NULs). Its members
 * are walked along the quotes of a structural index made as the walk goes, the two values are taken
 * as they are, and the walk stops as soon as it has both; the line's end is then the index's next
 * newline, or memchr's. Counts the line, sets *nl and returns 0; or returns 1 to leave the line to
 * count_line, the scanner that decides (a backslash, a nested value, a blank line, anything but a
 * plain object: count_line then counts it or calls it malformed), or -1 when out of memory. */
static int fast_line(struct counter *c, const char *p, const char *end, const char **nl)
{
    struct scan s = {.blk = p, .end = end};
    if (scan_block(&s))
        return 1;
    const char *cur = skip_sp(p), *id = NULL, *ty = NULL;
    size_t idlen = 0, tylen = 0;
    if (cur == end || *cur != '{')
        return 1;
    cur++;
    for (;;) {
        cur = skip_sp(cur);
        const char *k0 = next_quote(&s), *k1 = k0 == cur ? next_quote(&s) : NULL;
        if (!k1)
            return 1;
        const size_t kl = (size_t)(k1 - k0 - 1);
        cur = skip_sp(k1 + 1);
        if (cur == end || *cur != ':')
            return 1;
        cur = skip_sp(cur + 1);
        if (cur == end)
            return 1;
        int which = 0; /* 1: ad_id, 2: event_type */
        if (kl == 5 && is_ad_id(k0 + 1))
            which = 1;
        else if (kl == 10 && is_event_type(k0 + 1))
            which = 2;
        if ((which == 1 && id) || (which == 2 && ty))
            return 1; /* a duplicate */
        if (*cur == '"') {
            const char *v0 = next_quote(&s), *v1 = v0 == cur ? next_quote(&s) : NULL;
            if (!v1)
                return 1;
            if (which == 1) {
                id = v0 + 1;
                idlen = (size_t)(v1 - id);
            } else if (which == 2) {
                ty = v0 + 1;
                tylen = (size_t)(v1 - ty);
            }
            cur = v1 + 1;
        } else {
            if (which)
                return 1;
            for (; cur < end && *cur != ',' && *cur != '}'; cur++)
                if (*cur == '{' || *cur == '[' || *cur == '"' || *cur == '\n')
                    return 1;
        }
        if (id && ty)
            break;
        cur = skip_sp(cur);
        if (cur == end || *cur != ',')
            return 1;
        cur++;
    }
    if (s.nl)
        *nl = s.blk + __builtin_ctzll(s.nl);
    else if (s.blk + 64 < end)
        *nl = memchr(s.blk + 64, '\n', (size_t)(end - s.blk - 64));
    if (!*nl || (size_t)(*nl - p) > MAX_LINE)
        return 1; /* the line goes on past the data read so far, or is too long */
    c->lines++;
    return queue(c, id, idlen, type_of(ty, tylen));
}
#else
/* Without SSE2 every line goes to count_line. */
static int fast_line(struct counter *c, const char *p, const char *end, const char **nl)
{
    (void)c;
    (void)p;
    (void)end;
    (void)nl;
    return 1;
}
#endif

/* Reads the whole of fd and counts every line. Returns 0, or -1 with errno (or ENOMEM). */
static int count_fd(struct counter *c, int fd)
{
    char *buf = malloc(BLOCK + MAX_LINE + PAD);
    if (!buf)
        return -1;
    size_t have = 0; /* bytes in buf not yet counted */
    int first = 1, rc = 0, skipping = 0;
    for (;;) {
        ssize_t got = read(fd, buf + have, BLOCK + MAX_LINE - have);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            rc = -1;
            break;
        }
        have += (size_t)got;
        memset(buf + have, 0, PAD); /* a NUL at the end stops skip_sp */
        const char *p = buf, *end = buf + have;
        if (first && have >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
            p += 3; /* a UTF-8 byte order mark */
        if (have >= 3 || got == 0)
            first = 0;
        for (;;) {
            const char *nl;
            if (skipping) { /* the rest of a line longer than MAX_LINE */
                if (!(nl = memchr(p, '\n', (size_t)(end - p))))
                    break;
                skipping = 0;
                p = nl + 1;
                continue;
            }
            nl = NULL;
            int r = fast_line(c, p, end, &nl);
            if (r == 1) {
                if (!(nl = memchr(p, '\n', (size_t)(end - p))))
                    break;
                if ((size_t)(nl - p) > MAX_LINE) { /* too long, as sluice's reader says */
                    c->lines++;
                    c->bad++;
                    r = 0;
                } else {
                    r = count_line(c, p, nl);
                }
            }
            if (r) {
                rc = -1;
                errno = ENOMEM;
                break;
            }
            p = nl + 1;
        }
        if (rc || (rc = drain(c)) != 0) { /* the queued ids are in buf: count them now */
            errno = ENOMEM;
            break;
        }
        have = (size_t)(end - p);
        if (got == 0) { /* the end: a last line without '\n' */
            if (have && !skipping && count_line(c, p, end)) {
                rc = -1;
                errno = ENOMEM;
            }
            break;
        }
        if (have >= MAX_LINE) { /* too long: skip to its end */
            if (!skipping) {
                c->lines++;
                c->bad++;
            }
            skipping = 1;
            have = 0;
        } else {
            memmove(buf, p, have);
        }
    }
    free(buf);
    return rc;
}

/* ---- output ---- */

static const struct table *sort_table; /* qsort has no user argument */

static int cmp_id(const void *a, const void *b)
{
    const struct slot *x = *(const struct slot *const *)a, *y = *(const struct slot *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int d = memcmp(slot_id(sort_table, x), slot_id(sort_table, y), n);
    if (d)
        return d;
    return (x->len > y->len) - (x->len < y->len);
}

static void put_id(FILE *f, const char *id, size_t len)
{
    size_t plain = 0;
    while (plain < len && id[plain] != ',' && id[plain] != '"' && id[plain] != '\r' &&
           id[plain] != '\n')
        plain++;
    if (plain == len) {
        fwrite(id, 1, len, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        if (id[i] == '"')
            fputc('"', f);
        fputc(id[i], f);
    }
    fputc('"', f);
}

/* v in decimal at o; returns the end. */
static char *put_u64(char *o, uint64_t v)
{
    char t[20];
    int n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while (v /= 10);
    while (n)
        *o++ = t[--n];
    return o;
}

/* c / v (v > 0) in decimal at o: the exact quotient's integer part, then fraction digits up to
 * 17 significant ones in all (cut, not rounded: under 1e-16 relative off the quotient, so it
 * reads back as clicks / impressions within an ulp or two). printf("%.17g") of the double gives
 * the same value but costs ten times as much, a tenth of the run at 100,000 ads. Returns the
 * end (at most 40 bytes). */
static char *put_ratio(char *o, uint64_t c, uint64_t v)
{
    if (v > UINT64_MAX / 10)
        return o + snprintf(o, 40, "%.17g", (double)c / (double)v);
    uint64_t r = c % v, ip = c / v;
    int sig = 0;
    for (uint64_t x = ip; x; x /= 10)
        sig++;
    o = put_u64(o, ip);
    if (r)
        *o++ = '.';
    while (r && sig < 17) {
        r *= 10;
        const uint64_t d = r / v;
        r %= v;
        *o++ = (char)('0' + d);
        if (sig || d)
            sig++;
    }
    return o;
}

/* Writes the CSV to path. Returns 0, or -1 with errno. */
static int write_csv(const struct table *t, const char *path)
{
    const struct slot **v = malloc((t->fill + 1) * sizeof *v);
    if (!v)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i <= t->mask; i++)
        if (t->s[i].hash)
            v[n++] = &t->s[i];
    sort_table = t;
    qsort(v, n, sizeof *v, cmp_id);
    FILE *f = fopen(path, "w");
    if (!f) {
        free(v);
        return -1;
    }
    static char obuf[1 << 20];
    setvbuf(f, obuf, _IOFBF, sizeof obuf);
    fputs("ad_id,impressions,clicks,ctr\n", f);
    for (size_t i = 0; i < n; i++) {
        const struct slot *s = v[i];
        char line[128], *o = line;
        put_id(f, slot_id(t, s), s->len);
        *o++ = ',';
        o = put_u64(o, s->views);
        *o++ = ',';
        o = put_u64(o, s->clicks);
        *o++ = ',';
        o = s->views ? put_ratio(o, s->clicks, s->views) : put_u64(o, 0);
        *o++ = '\n';
        fwrite(line, 1, (size_t)(o - line), f);
    }
    free(v);
    int err = ferror(f);
    if (fclose(f) || err)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 || argv[1][0] == '-') {
        fprintf(stderr, "usage: ndjson_ctr FILE OUT.csv\n");
        return 2;
    }
    struct counter c = {0};
    int status = 1;
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "ndjson_ctr: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    if (table_init(&c.t, 1 << 16) || !(c.scratch = malloc(MAX_LINE + 8))) {
        fprintf(stderr, "ndjson_ctr: out of memory\n");
        goto out;
    }
    if (count_fd(&c, fd)) {
        fprintf(stderr, "ndjson_ctr: %s: %s\n", argv[1], strerror(errno));
        goto out;
    }
    if (write_csv(&c.t, argv[2])) {
        fprintf(stderr, "ndjson_ctr: %s: %s\n", argv[2], strerror(errno));
        goto out;
    }
    if (c.bad)
        fprintf(stderr, "ndjson_ctr: %llu of %llu lines malformed, skipped\n",
                (unsigned long long)c.bad, (unsigned long long)c.lines);
    status = 0;
out:
    close(fd);
    table_free(&c.t);
    free(c.scratch);
    return status;
}
