/* NDJSON event lines: a hand-written scanner for one JSON object per line.
 *
 * No DOM and no allocation: the scanner walks the line once, picks out the schema's declared
 * fields (sl_evbuild then checks and converts them) and validates (then forgets) everything
 * else. A member's name is first compared, as written, with the declared names that start with
 * its first byte (raw_name): a declared member then needs no scan of its name and no lookup,
 * and an undeclared name without escapes is known undeclared once scanned; a name with escapes
 * is decoded and looked up (sl_evplan_field_at). The one space that usually follows ':' and ','
 * is stepped over without a whitespace loop. Strings without escapes are returned as pointers
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

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "evbuild.h"
#include "err.h"

#define MAX_DEPTH 512 /* nesting limit of skipped values */

struct ctx {
    const char *line;
    const char *end;
    char *scratch;
    sl_perr *err;
};

/* Records `reason` at the column of `at` and returns SL_EPARSE. */
#define fail(c, at, ...) sl_perr_set((c)->err, (c)->line, (at), __VA_ARGS__)

/* JSON's whitespace: ' ', '\t', '\r', '\n'. Any other byte is out with one compare (a byte
 * above ' '), the rest with a bit test. */
#define WS_BITS                                                                                    \
    ((UINT64_C(1) << ' ') | (UINT64_C(1) << '\t') | (UINT64_C(1) << '\r') | (UINT64_C(1) << '\n'))

static inline int is_ws(char ch)
{
    unsigned char u = (unsigned char)ch;
    return u <= ' ' && (WS_BITS >> u & 1);
}

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

/* After a ':' or ',' at p (p + 2 < end): past it, the one space that usually follows and any
 * other whitespace. */
static inline const char *past_sep(const char *p, const char *end)
{
    p += 1 + (p[1] == ' ');
    if ((unsigned char)*p <= ' ')
        p = skip_ws(p, end);
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

/* Whether s[0..n) (n > 8, the first 8 bytes already compared) is field i's name. */
static inline int long_name_is(const sl_evplan *plan, int i, const char *s, size_t n)
{
    uint64_t b;
    memcpy(&b, s + n - 8, 8);
    return b == plan->tail[i] && (n <= 16 || memcmp(s + 8, plan->s.field[i].name + 8, n - 16) == 0);
}

/* The declared field whose name, as written, starts the member at p (its opening quote), by
 * sl_evplan.by_first: the name's bytes and a closing quote right after them, so that neither a
 * scan of the name nor a lookup is needed. Sets *after past the closing quote. -1 when none
 * matches: a name without escapes is then no declared one (a declared name that JSON writes as
 * it is would have matched; one that needs escapes cannot be written without them). -2 when
 * the line ends too soon to look (the name is then scanned and looked up). */
static inline int raw_name(const sl_evplan *plan, const char *p, const char *end,
                           const char **after)
{
    const char *s = p + 1;
    const size_t room = (size_t)(end - s);
    if (room < 9)
        return -2;
    int i = plan->by_first[(unsigned char)*s];
    if (i < 0)
        return -1;
    uint64_t a;
    memcpy(&a, s, 8);
    do {
        const size_t n = plan->nlen[i];
        if (n < room && s[n] == '"' && (a & plan->hmask[i]) == plan->head[i] &&
            (n <= 8 || long_name_is(plan, i, s, n))) {
            *after = s + n + 1;
            return i;
        }
        i = plan->next_first[i];
    } while (i >= 0);
    return -1;
}

/* Scans the value of declared field f at p into vals[f] when it is not a string (the caller
 * scans those): a number, true, false or null (an object or array is not a field's value).
 * Returns its end or NULL. */
static const char *scan_field(const struct ctx *c, const char *p, const sl_evplan *plan, int f,
                              sl_fval *v)
{
    const char *q, *frac;
    v->at = p;
    switch (*p) {
    case '{':
    case '[':
        fail(c, p, "%s is not %s", plan->s.field[f].name, sl_evplan_want(plan, f));
        return NULL;
    case 't':
    case 'f':
    case 'n':
        if (!(q = scan_literal(c, p)))
            return NULL;
        v->kind = *p == 'n' ? SL_FV_NULL : SL_FV_LIT;
        v->s = p;
        v->n = (size_t)(q - p);
        v->raw = NULL;
        v->raw_n = 0;
        return q;
    default:
        if (*p != '-' && !is_digit(*p)) {
            fail(c, p, "%s is not %s", plan->s.field[f].name, sl_evplan_want(plan, f));
            return NULL;
        }
        if (!(q = scan_number(c, p, &frac)))
            return NULL;
        v->kind = SL_FV_NUM;
        v->s = p;
        v->n = (size_t)(q - p);
        v->raw = NULL;
        v->raw_n = 0;
        return q;
    }
}

int sl_ndjson_parse(const char *line, size_t len, char *scratch, sl_rawev *ev, sl_perr *err)
{
    return sl_ndjson_parse_plan(sl_evplan_default(), line, len, scratch, ev, err);
}

/* The parse of sl_ndjson_parse_plan and sl_ndjson_parse_hinted (dict NULL: no lookup started). */
__attribute__((always_inline)) static inline int parse_plan(const sl_evplan *plan, const char *line,
                                                            size_t len, char *scratch, sl_rawev *ev,
                                                            sl_perr *err, const sl_addict *dict,
                                                            const char **hint_s, size_t *hint_n,
                                                            uint64_t *hint_key)
{
    const int keyf = dict && plan->s.nkey == 1 ? plan->s.key[0] : -1;
    const struct ctx cx = {line, line + len, scratch, err};
    const struct ctx *c = &cx;
    const char *end = line + len;
    const char *p = skip_ws(line, end);
    sl_fval vals[SL_SCHEMA_FIELDS]; /* vals[f] is set when bit f of fs.seen is */
    sl_fseen fs = {0, 0};

    if (p >= end || *p != '{')
        return fail(c, p, "expected '{' at start of line");
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
        int f = raw_name(plan, p, end, &p);
        if (f < 0) {
            p = scan_string(c, p, &k, &kn);
            if (!p)
                return SL_EPARSE;
            /* A decoded name lies in scratch at the offset of its text in the line, so 8 bytes
             * from it can be read when 8 bytes from its text can. */
            if (f == -2 || k != name + 1)
                f = kn > 0 ? sl_evplan_field_at(plan, k, kn, end - name > 8) : -1;
        }
        if (end - p >= 3 && *p == ':') { /* the common case: ':' right after the name */
            p = past_sep(p, end);
        } else {
            p = skip_ws(p, end);
            if (p >= end || *p != ':')
                return fail(c, p, "expected ':' after field name");
            p = skip_ws(p + 1, end);
        }
        if (p >= end)
            return fail(c, p, "expected a value");
        if (f >= 0) {
            const uint32_t bit = 1u << f;
            if (fs.seen & bit)
                return fail(c, name, "duplicate field \"%s\"", plan->s.field[f].name);
            fs.seen |= bit;
            sl_fval *v = &vals[f];
            if (*p == '"') {
                const char *q = scan_string(c, p, &v->s, &v->n);
                if (!q)
                    return SL_EPARSE;
                v->at = p;
                v->kind = SL_FV_STR;
                v->raw = p + 1;
                v->raw_n = (size_t)(q - p) - 2;
                fs.text |= bit;
                p = q;
                if (f == keyf && v->n > 0 && v->n <= SL_ADID_MAX) {
                    *hint_key = sl_addict_prefetch(dict, v->s, v->n);
                    *hint_s = v->s;
                    *hint_n = v->n;
                }
            } else {
                p = scan_field(c, p, plan, f, v);
                if (!p)
                    return SL_EPARSE;
                fs.text |= v->kind == SL_FV_NUM ? bit : 0;
            }
        } else if (*p == '"') { /* an undeclared string: only checked */
            const char *s;
            size_t n;
            p = scan_string(c, p, &s, &n);
        } else {
            p = skip_value(c, p);
        }
        if (!p)
            return SL_EPARSE;
        if (end - p >= 3 && *p == ',') { /* the common case: ',' right after the value */
            p = past_sep(p, end);
            continue;
        }
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
    return sl_evbuild(plan, vals, fs, line, len, close, ev, err);
}

int sl_ndjson_parse_plan(const sl_evplan *plan, const char *line, size_t len, char *scratch,
                         sl_rawev *ev, sl_perr *err)
{
    return parse_plan(plan, line, len, scratch, ev, err, NULL, NULL, NULL, NULL);
}

int sl_ndjson_parse_hinted(const sl_evplan *plan, const char *line, size_t len, char *scratch,
                           sl_rawev *ev, sl_perr *err, const sl_addict *dict, const char **hint_s,
                           size_t *hint_n, uint64_t *hint_key)
{
    *hint_s = NULL;
    return parse_plan(plan, line, len, scratch, ev, err, dict, hint_s, hint_n, hint_key);
}
