/* NDJSON event lines: a hand-written scanner for one JSON object per line.
 *
 * No DOM and no allocation: the scanner walks the line once, picks out the four fields it knows
 * and validates (then forgets) everything else. Strings without escapes are returned as pointers
 * into the line; a string with escapes is decoded into the caller's scratch at the same offset
 * it has in the line. Decoding never lengthens a string (an escape of 2, 6 or 12 bytes becomes at
 * most 1, 3 or 4 bytes), so decoded strings never overlap and `len` bytes of scratch always
 * suffice, however many strings a line holds.
 *
 * Trade-off: strings dominate YSB-shaped lines (36-byte UUIDs), so the string scan looks for
 * '"', '\\' and control bytes 16 bytes per step with SSE2 (baseline on x86-64), then 8 bytes per
 * step with plain 64-bit arithmetic (SWAR, the path other targets build), then byte by byte; it
 * never reads past the end of the line. Parse-only throughput on 1M YSB lines of 255 bytes in
 * memory, gcc -O2, best of 9, dev VM (2-core AMD EPYC), 2026-11-21: SSE2 8.2-8.6 M lines/s,
 * SWAR only 6.7-6.9 M lines/s. */
#include "ndjson.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "addict.h"
#include "err.h"
#include "numtext.h"
#include "utf8.h"

#define MAX_DEPTH 512 /* nesting limit of skipped values */
#define MAX_NUMBER 63 /* longest numeric text converted for `value` */

enum { F_AD_ID = 1, F_EVENT_TYPE = 2, F_EVENT_TIME = 4, F_VALUE = 8, F_USER_ID = 16 };

struct ctx {
    const char *line;
    const char *end;
    char *scratch;
    sl_perr *err;
};

/* Records `reason` at the column of `at` and returns SL_EPARSE. */
#define fail(c, at, ...) sl_perr_set((c)->err, (c)->line, (at), __VA_ARGS__)

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Bit 7 of each byte of the result is set where `w` holds '"', '\\' or a byte below 0x20. The
 * lowest set bit is exact (higher ones may be false positives, which the caller never uses). */
static inline uint64_t special_bytes(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"');
    uint64_t b = w ^ (ONES * '\\');
    uint64_t zq = (q - ONES) & ~q;
    uint64_t zb = (b - ONES) & ~b;
    uint64_t lt = (w - ONES * 0x20) & ~w;
    return (zq | zb | lt) & HIGHS;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at p (the caller checked that they are in the line); returns the code unit
 * or -1. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static char *put_utf8(char *d, unsigned long cp)
{
    if (cp < 0x80) {
        *d++ = (char)cp;
    } else if (cp < 0x800) {
        *d++ = (char)(0xC0 | (cp >> 6));
        *d++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *d++ = (char)(0xE0 | (cp >> 12));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *d++ = (char)(0xF0 | (cp >> 18));
        *d++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char)(0x80 | (cp & 0x3F));
    }
    return d;
}

/* Decodes the rest of a string whose first escape is at p; s is the first content byte. Returns
 * the byte after the closing quote, or NULL with the error set. */
static const char *decode_string(const struct ctx *c, const char *s, const char *p,
                                 const char **out, size_t *outlen)
{
    const char *end = c->end;
    char *d0 = c->scratch + (s - c->line);
    char *d = d0;
    memcpy(d, s, (size_t)(p - s));
    d += p - s;
    while (p < end) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"') {
            *out = d0;
            *outlen = (size_t)(d - d0);
            return p + 1;
        }
        if (ch < 0x20) {
            fail(c, p, "control character in string");
            return NULL;
        }
        if (ch != '\\') {
            *d++ = (char)ch;
            p++;
            continue;
        }
        if (end - p < 2)
            break;
        switch (p[1]) {
        case '"':
        case '\\':
        case '/':
            *d++ = p[1];
            p += 2;
            continue;
        case 'b':
            *d++ = '\b';
            p += 2;
            continue;
        case 'f':
            *d++ = '\f';
            p += 2;
            continue;
        case 'n':
            *d++ = '\n';
            p += 2;
            continue;
        case 'r':
            *d++ = '\r';
            p += 2;
            continue;
        case 't':
            *d++ = '\t';
            p += 2;
            continue;
        case 'u':
            break;
        default:
            fail(c, p, "invalid escape '\\%c' in string", p[1]);
            return NULL;
        }
        long cp = end - p >= 6 ? hex4(p + 2) : -1;
        if (cp < 0) {
            fail(c, p, "invalid \\u escape (expected 4 hex digits)");
            return NULL;
        }
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail(c, p, "unpaired low surrogate in \\u escape");
            return NULL;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            long lo = -1;
            if (end - p >= 12 && p[6] == '\\' && p[7] == 'u')
                lo = hex4(p + 8);
            if (lo < 0xDC00 || lo > 0xDFFF) {
                fail(c, p, "unpaired high surrogate in \\u escape");
                return NULL;
            }
            d = put_utf8(d, 0x10000 + (((unsigned long)cp - 0xD800) << 10) +
                                ((unsigned long)lo - 0xDC00));
            p += 12;
        } else {
            d = put_utf8(d, (unsigned long)cp);
            p += 6;
        }
    }
    fail(c, end, "unterminated string");
    return NULL;
}

/* Scans the string whose opening quote is at p. Sets *out and *outlen to its content (in the line,
 * or in scratch when it has escapes) and returns the byte after the closing quote, or NULL with
 * the error set. */
__attribute__((always_inline)) static inline const char *
scan_string(const struct ctx *c, const char *p, const char **out, size_t *outlen)
{
    const char *end = c->end;
    const char *s = ++p;
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i ctl = _mm_set1_epi8(0x1f);
    while (end - p >= 16) {
        __m128i w = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i hit =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, bslash)),
                         _mm_cmpeq_epi8(_mm_min_epu8(w, ctl), w)); /* w <= 0x1f */
        unsigned m = (unsigned)_mm_movemask_epi8(hit);
        if (m) {
            p += __builtin_ctz(m);
            goto special;
        }
        p += 16;
    }
#endif
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t m = special_bytes(w);
        if (m) {
            p += __builtin_ctzll(m) >> 3; /* little-endian: lowest byte first */
            goto special;
        }
        p += 8;
    }
    while (p < end) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\' || ch < 0x20)
            goto special;
        p++;
    }
    fail(c, end, "unterminated string");
    return NULL;
special:
    if (*p == '"') {
        *out = s;
        *outlen = (size_t)(p - s);
        return p + 1;
    }
    if (*p == '\\')
        return decode_string(c, s, p, out, outlen);
    fail(c, p, "control character in string");
    return NULL;
}

static inline int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Scans a JSON number at p. Returns its end, or NULL with the error set. *frac is set to the
 * first '.', 'e' or 'E' of the number, or NULL for an integer. */
static const char *scan_number(const struct ctx *c, const char *p, const char **frac)
{
    const char *end = c->end;
    *frac = NULL;
    if (p < end && *p == '-')
        p++;
    if (p >= end || !is_digit(*p)) {
        fail(c, p, "invalid number");
        return NULL;
    }
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p)) {
            fail(c, p, "invalid number (leading zero)");
            return NULL;
        }
    } else {
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && *p == '.') {
        *frac = p++;
        if (p >= end || !is_digit(*p)) {
            fail(c, p, "invalid number (no digit after '.')");
            return NULL;
        }
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        if (!*frac)
            *frac = p;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p)) {
            fail(c, p, "invalid number (no digit in exponent)");
            return NULL;
        }
        while (p < end && is_digit(*p))
            p++;
    }
    return p;
}

/* Scans one of the literals true, false, null at p. Returns its end or NULL. */
static const char *scan_literal(const struct ctx *c, const char *p)
{
    static const char *const lits[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(lits[i]);
        if (*p == lits[i][0]) {
            if ((size_t)(c->end - p) >= n && memcmp(p, lits[i], n) == 0)
                return p + n;
            break;
        }
    }
    fail(c, p, "expected a value");
    return NULL;
}

/* Scans `"name"` ws ':' ws inside a skipped object (p at the quote). Returns the byte where the
 * member's value starts, or NULL. */
static const char *scan_member_name(const struct ctx *c, const char *p)
{
    const char *s;
    size_t n;
    if (p >= c->end || *p != '"') {
        fail(c, p, "expected field name");
        return NULL;
    }
    p = scan_string(c, p, &s, &n);
    if (!p)
        return NULL;
    p = skip_ws(p, c->end);
    if (p >= c->end || *p != ':') {
        fail(c, p, "expected ':' after field name");
        return NULL;
    }
    return skip_ws(p + 1, c->end);
}

/* Validates and skips any JSON value at p (p < end). Nesting is tracked with a bit stack
 * (1 = object, 0 = array), so there is no recursion. Returns the end of the value or NULL. */
static const char *skip_value(const struct ctx *c, const char *p)
{
    const char *end = c->end;
    uint64_t stack[MAX_DEPTH / 64];
    int depth = 0;
    for (;;) {
        /* One value starts at p. */
        if (p >= end) {
            fail(c, p, "expected a value");
            return NULL;
        }
        const char *s;
        size_t n;
        switch (*p) {
        case '"':
            p = scan_string(c, p, &s, &n);
            break;
        case '{':
        case '[': {
            int obj = *p == '{';
            p = skip_ws(p + 1, end);
            if (p < end && *p == (obj ? '}' : ']')) {
                p++;
                break;
            }
            if (depth == MAX_DEPTH) {
                fail(c, p, "nesting deeper than %d levels", MAX_DEPTH);
                return NULL;
            }
            if (obj)
                stack[depth / 64] |= UINT64_C(1) << (depth % 64);
            else
                stack[depth / 64] &= ~(UINT64_C(1) << (depth % 64));
            depth++;
            if (obj && !(p = scan_member_name(c, p)))
                return NULL;
            continue;
        }
        case '-':
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
        case '8':
        case '9':
            p = scan_number(c, p, &s);
            break;
        default:
            p = scan_literal(c, p);
            break;
        }
        if (!p)
            return NULL;
        /* A value ended: close containers until one has another element. */
        for (;;) {
            if (depth == 0)
                return p;
            int obj = (stack[(depth - 1) / 64] >> ((depth - 1) % 64)) & 1;
            p = skip_ws(p, end);
            if (p < end && *p == ',') {
                p = skip_ws(p + 1, end);
                if (obj && !(p = scan_member_name(c, p)))
                    return NULL;
                break;
            }
            if (p < end && *p == (obj ? '}' : ']')) {
                p++;
                depth--;
                continue;
            }
            fail(c, p, obj ? "expected ',' or '}' in object" : "expected ',' or ']' in array");
            return NULL;
        }
    }
}

/* Converts the checked decimal text s[0..n) to a finite float (strtod on a bounded,
 * NUL-terminated copy; strtod follows LC_NUMERIC, which sluice leaves at "C"). */
static int to_float(const struct ctx *c, const char *at, const char *s, size_t n, float *out)
{
    char buf[MAX_NUMBER + 1];
    if (n > MAX_NUMBER)
        return fail(c, at, "value longer than %d characters", MAX_NUMBER);
    memcpy(buf, s, n);
    buf[n] = '\0';
    double d = strtod(buf, NULL);
    if (!isfinite(d) || fabs(d) > FLT_MAX)
        return fail(c, at, "value out of range for float");
    *out = (float)d;
    return 0;
}

static int field_of(const char *k, size_t n)
{
    if (n == 5) {
        if (memcmp(k, "ad_id", 5) == 0)
            return F_AD_ID;
        if (memcmp(k, "value", 5) == 0)
            return F_VALUE;
    } else if (n == 7 && memcmp(k, "user_id", 7) == 0) {
        return F_USER_ID;
    } else if (n == 10 && memcmp(k, "event_", 6) == 0) {
        if (memcmp(k + 6, "type", 4) == 0)
            return F_EVENT_TYPE;
        if (memcmp(k + 6, "time", 4) == 0)
            return F_EVENT_TIME;
    }
    return 0;
}

static const char *field_name(int f)
{
    switch (f) {
    case F_AD_ID:
        return "ad_id";
    case F_EVENT_TYPE:
        return "event_type";
    case F_EVENT_TIME:
        return "event_time";
    case F_USER_ID:
        return "user_id";
    default:
        return "value";
    }
}

/* Parses the event_time value at p (a JSON integer or a string of digits) into ev->time_ms.
 * Returns its end or NULL. */
static const char *parse_time(const struct ctx *c, const char *p, sl_rawev *ev)
{
    const char *s, *q, *frac;
    size_t n, bad;
    int rc;
    if (*p == '"') {
        q = scan_string(c, p, &s, &n);
        if (!q)
            return NULL;
        rc = sl_parse_i64(s, n, &ev->time_ms, &bad);
        if (rc == 1) {
            /* Exact column when the string had no escapes, the string's start otherwise. */
            fail(c, s == p + 1 ? s + bad : p, "event_time is not an integer");
            return NULL;
        }
    } else if (*p == '-' || is_digit(*p)) {
        q = scan_number(c, p, &frac);
        if (!q)
            return NULL;
        if (frac) {
            fail(c, frac, "event_time is not an integer");
            return NULL;
        }
        rc = sl_parse_i64(p, (size_t)(q - p), &ev->time_ms, &bad);
    } else {
        fail(c, p, "event_time is not an integer");
        return NULL;
    }
    if (rc == 2) {
        fail(c, p, "event_time out of range for int64");
        return NULL;
    }
    return q;
}

/* Parses the value field at p into ev->value. Returns its end or NULL. */
static const char *parse_value(const struct ctx *c, const char *p, sl_rawev *ev)
{
    const char *s, *q, *frac;
    size_t n;
    if (*p == '"') {
        q = scan_string(c, p, &s, &n);
        if (!q)
            return NULL;
        size_t i;
        if (!sl_check_decimal(s, n, &i)) {
            fail(c, s == p + 1 ? p + 1 + i : p, "value is not a number");
            return NULL;
        }
        return to_float(c, p, s, n, &ev->value) ? NULL : q;
    }
    if (*p == '-' || is_digit(*p)) {
        q = scan_number(c, p, &frac);
        if (!q)
            return NULL;
        return to_float(c, p, p, (size_t)(q - p), &ev->value) ? NULL : q;
    }
    if (c->end - p >= 4 && memcmp(p, "null", 4) == 0) {
        ev->value = 0; /* null reads as an absent value */
        return p + 4;
    }
    fail(c, p, "value is not a number");
    return NULL;
}

/* Parses the string field `f` (ad_id, user_id or event_type) at p. Returns its end or NULL. */
static const char *parse_id(const struct ctx *c, const char *p, int f, sl_rawev *ev)
{
    const char *s;
    size_t n;
    if (*p != '"') {
        fail(c, p, "%s must be a string", field_name(f));
        return NULL;
    }
    const char *q = scan_string(c, p, &s, &n);
    if (!q)
        return NULL;
    if (f == F_EVENT_TYPE) {
        ev->type = sl_evtype_parse(s, n);
        return q;
    }
    if (f == F_USER_ID) { /* optional; an empty one means no user */
        if (n > SL_ADID_MAX) {
            fail(c, p, "user_id longer than %d bytes", SL_ADID_MAX);
            return NULL;
        }
        ev->user_id = s;
        ev->user_id_len = n;
        return q;
    }
    if (n == 0) {
        fail(c, p, "ad_id is empty");
        return NULL;
    }
    if (n > SL_ADID_MAX) {
        fail(c, p, "ad_id longer than %d bytes", SL_ADID_MAX);
        return NULL;
    }
    /* Ids are written to the output as they are, so they must be valid UTF-8. The string as
     * written is checked (its escapes are ASCII and decode to whole sequences, so it is valid
     * exactly when the decoded id is), which gives the column of the bad byte. */
    size_t raw = (size_t)(q - p) - 2, bad;
    if (!sl_utf8_is_ascii(p + 1, raw) && (bad = sl_utf8_check(p + 1, raw)) < raw) {
        fail(c, p + 1 + bad, "ad_id is not valid UTF-8 (byte 0x%02x)", (unsigned char)p[1 + bad]);
        return NULL;
    }
    ev->ad_id = s;
    ev->ad_id_len = n;
    return q;
}

int sl_ndjson_parse(const char *line, size_t len, char *scratch, sl_rawev *ev, sl_perr *err)
{
    const struct ctx cx = {line, line + len, scratch, err};
    const struct ctx *c = &cx;
    const char *end = line + len;
    const char *p = skip_ws(line, end);
    unsigned seen = 0;

    if (p >= end || *p != '{')
        return fail(c, p, "expected '{' at start of line");
    ev->value = 0;
    ev->user_id = NULL;
    ev->user_id_len = 0;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
        goto closed;
    }
    for (;;) {
        const char *name = p, *k;
        size_t kn;
        if (p >= end || *p != '"')
            return fail(c, p, "expected field name");
        p = scan_string(c, p, &k, &kn);
        if (!p)
            return SL_EPARSE;
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return fail(c, p, "expected ':' after field name");
        p = skip_ws(p + 1, end);
        if (p >= end)
            return fail(c, p, "expected a value");
        int f = field_of(k, kn);
        if (f & seen)
            return fail(c, name, "duplicate field \"%s\"", field_name(f));
        seen |= (unsigned)f;
        switch (f) {
        case F_AD_ID:
        case F_EVENT_TYPE:
        case F_USER_ID:
            p = parse_id(c, p, f, ev);
            break;
        case F_EVENT_TIME:
            p = parse_time(c, p, ev);
            break;
        case F_VALUE:
            p = parse_value(c, p, ev);
            break;
        default:
            p = skip_value(c, p);
            break;
        }
        if (!p)
            return SL_EPARSE;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}') {
            p++;
            break;
        }
        return fail(c, p, "expected ',' or '}' after value");
    }
closed:;
    const char *close = p - 1;
    p = skip_ws(p, end);
    if (p != end)
        return fail(c, p, "trailing characters after object");
    static const int required[] = {F_AD_ID, F_EVENT_TYPE, F_EVENT_TIME};
    for (int i = 0; i < 3; i++)
        if (!(seen & (unsigned)required[i]))
            return fail(c, close, "missing field \"%s\"", field_name(required[i]));
    return 0;
}
