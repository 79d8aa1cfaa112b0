/* From a line's field values to an event, by the schema (evbuild.h).
 *
 * Every declared field that a line holds is checked against its type, whether or not a role
 * uses it, so that "a line that does not match the schema" means the same in NDJSON and CSV.
 * Numbers are converted once (strtod on a bounded copy; sluice leaves LC_NUMERIC at "C");
 * integers of up to 16 digits without a sign, the usual millisecond times and numeric ids,
 * are read without a branch per digit (9 to 16 of them 8 digits at a time, fast_uint), anything
 * else by sl_parse_i64, which also words every error. When a line's fields are all text and
 * none is missing (the parser's sl_fseen says so), only the fields of other types are looked
 * at. */
#include "evbuild.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "numtext.h"
#include "timetext.h"
#include "utf8.h"

#define MAX_NUMBER 63 /* longest numeric text converted */

/* How many pairs of the plan's names fall in one slot with multiplier mul. */
static int collisions(const sl_evplan *p, uint32_t mul)
{
    unsigned h[SL_SCHEMA_FIELDS];
    int n = 0;
    for (uint32_t i = 0; i < p->s.nfields; i++) {
        const char *name = p->s.field[i].name;
        size_t len = p->nlen[i];
        if (len == 0) {
            h[i] = SL_EVPLAN_SLOTS; /* never looked up */
            continue;
        }
        h[i] = sl_evplan_hash(mul, len, (unsigned char)name[0], (unsigned char)name[len - 1]);
        for (uint32_t j = 0; j < i; j++)
            n += h[j] == h[i];
    }
    return n;
}

void sl_evplan_init(sl_evplan *p, const sl_schema *s)
{
    memset(p, 0, sizeof *p);
    p->s = *s;
    if (p->s.nfields > SL_SCHEMA_FIELDS)
        p->s.nfields = SL_SCHEMA_FIELDS;
    memset(p->slot, -1, sizeof p->slot);
    for (uint32_t i = 0; i < p->s.nfields; i++) {
        const char *name = p->s.field[i].name;
        size_t n = strnlen(name, SL_SCHEMA_NAME - 1);
        if (!s->field[i].optional)
            p->required |= 1u << i;
        switch (s->field[i].type) {
        case SL_FT_INT64:
            p->check[i] = SL_CHK_INT64;
            break;
        case SL_FT_DOUBLE:
            p->check[i] = SL_CHK_DOUBLE;
            break;
        case SL_FT_BOOL:
            p->check[i] = SL_CHK_BOOL;
            break;
        case SL_FT_TIME:
            p->check[i] = s->time_format == SL_TIME_MS ? SL_CHK_TIME_MS : SL_CHK_TIME;
            break;
        default:
            p->check[i] = SL_CHK_TEXT;
            break;
        }
        if (p->check[i] != SL_CHK_TEXT)
            p->checked |= 1u << i;
        p->next[i] = -1;
        p->nlen[i] = (uint8_t)n;
        size_t h = n < 8 ? n : 8;
        memcpy(&p->head[i], name, h);
        memset(&p->hmask[i], 0xff, h);
        if (n >= 8)
            memcpy(&p->tail[i], name + n - 8, 8);
    }
    /* The first of a few odd multipliers that separates all the names (with up to 32 names in
     * 256 slots one of 64 nearly always does), else the one with the fewest pairs together. */
    uint32_t mul = UINT32_C(0x9E3779B1);
    int best = collisions(p, mul);
    p->mul = mul;
    for (int k = 1; k < 64 && best > 0; k++) {
        mul = mul * UINT32_C(0x2C1B3C6D) + UINT32_C(0x297A2D39);
        mul |= 1;
        int c = collisions(p, mul);
        if (c < best) {
            best = c;
            p->mul = mul;
        }
    }
    /* Chains in declared order, so that a lookup finds the first of equal names (none: the
     * schema refuses a name declared twice). */
    for (int i = (int)p->s.nfields - 1; i >= 0; i--) {
        size_t n = p->nlen[i];
        if (n == 0)
            continue;
        const char *name = p->s.field[i].name;
        unsigned h = sl_evplan_hash(p->mul, n, (unsigned char)name[0], (unsigned char)name[n - 1]);
        p->next[i] = p->slot[h];
        p->slot[h] = (int8_t)i;
    }
    memset(p->by_first, -1, sizeof p->by_first);
    for (int i = (int)p->s.nfields - 1; i >= 0; i--) {
        const unsigned char *name = (const unsigned char *)p->s.field[i].name;
        size_t n = p->nlen[i], k = 0;
        while (k < n && name[k] >= 0x20 && name[k] != '"' && name[k] != '\\')
            k++;
        p->next_first[i] = -1;
        if (n == 0 || k < n)
            continue; /* found only through the scanned (unescaped) name */
        p->next_first[i] = p->by_first[name[0]];
        p->by_first[name[0]] = (int8_t)i;
    }
    for (uint32_t k = 0; k < s->nattrs && k < SL_SCHEMA_ATTRS; k++)
        p->value_wide |= s->value_field >= 0 && s->attr[k] == s->value_field;
    p->max_events = sl_schema_max_events(s);
}

static sl_evplan default_plan;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void)
{
    sl_schema s;
    sl_schema_defaults(&s);
    sl_evplan_init(&default_plan, &s);
}

const sl_evplan *sl_evplan_default(void)
{
    pthread_once(&default_once, default_init);
    return &default_plan;
}

struct ctx {
    const sl_evplan *p;
    const char *line;
    size_t len;
    sl_perr *err;
};

#define fail(c, at, ...) sl_perr_set((c)->err, (c)->line, (at), __VA_ARGS__)

static const char *name_of(const struct ctx *c, int i)
{
    return c->p->s.field[i].name;
}

/* Where byte i of v's content stands in the line: exact when the content is the line's own
 * bytes, the value's start when it was unescaped into scratch. */
static const char *at_byte(const struct ctx *c, const sl_fval *v, size_t i)
{
    if (v->s >= c->line && v->s < c->line + c->len)
        return v->s + i;
    return v->at;
}

const char *sl_evplan_want(const sl_evplan *p, int f)
{
    switch (p->s.field[f].type) {
    case SL_FT_INT64:
        return "an integer";
    case SL_FT_DOUBLE:
        return "a number";
    case SL_FT_BOOL:
        return "a boolean";
    case SL_FT_TIME:
        return p->s.time_format == SL_TIME_MS ? "an integer" : "a time";
    default:
        return "a string or a number";
    }
}

static int is_text(const sl_fval *v)
{
    return v->kind == SL_FV_STR || v->kind == SL_FV_NUM;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define DIGITS8 UINT64_C(0x3030303030303030)
#define HIGH4 UINT64_C(0xF0F0F0F0F0F0F0F0)

/* Whether the 8 bytes of w (in memory order, little-endian) are all ASCII digits. */
static inline int all_digits8(uint64_t w)
{
    /* 0x30..0x3f in every byte, and then no carry: 0x30..0x39 */
    return (w & HIGH4) == DIGITS8 && ((w + UINT64_C(0x0606060606060606)) & HIGH4) == DIGITS8;
}

/* The value of 8 ASCII digits, the first byte in memory the most significant: pairs, then
 * quads, then the whole, each step one multiply. */
static inline uint64_t value8(uint64_t w)
{
    w -= DIGITS8;
    w = (w * 10 + (w >> 8)) & UINT64_C(0x00FF00FF00FF00FF);
    w = (w * 100 + (w >> 16)) & UINT64_C(0x0000FFFF0000FFFF);
    return (w * 10000 + (w >> 32)) & UINT64_C(0xFFFFFFFF);
}
#endif

/* The common integer, 1 to 16 digits without a sign, without branching per digit: *out and 1,
 * or 0 for anything else (sl_parse_i64 then reads it and says what is wrong). */
static inline int fast_uint(const char *s, size_t n, int64_t *out)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n > 8 && n <= 16) {
        uint64_t hi, lo;
        memcpy(&hi, s, 8);
        memcpy(&lo, s + n - 8, 8);
        /* hi's first n - 8 bytes lead, the rest (lo's) become leading '0's */
        unsigned drop = (unsigned)(16 - n) * 8;
        if (drop)
            hi = (hi << drop) | (DIGITS8 >> (64 - drop));
        if (!all_digits8(hi) || !all_digits8(lo))
            return 0;
        *out = (int64_t)(value8(hi) * 100000000 + value8(lo));
        return 1;
    }
#endif
    if (n == 0 || n > 16)
        return 0;
    uint64_t acc = 0;
    unsigned bad = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned d = (unsigned)(unsigned char)s[k] - '0';
        bad |= d > 9;
        acc = acc * 10 + d;
    }
    *out = (int64_t)acc;
    return !bad;
}

static int get_int(const struct ctx *c, int i, const sl_fval *v, int64_t *out)
{
    size_t bad;
    if ((v->kind == SL_FV_STR || v->kind == SL_FV_NUM) && fast_uint(v->s, v->n, out))
        return 0;
    if (v->kind == SL_FV_NUM) {
        const char *frac = NULL;
        for (size_t k = 0; k < v->n && !frac; k++)
            if (v->s[k] == '.' || v->s[k] == 'e' || v->s[k] == 'E')
                frac = v->s + k;
        if (frac)
            return fail(c, frac, "%s is not an integer", name_of(c, i));
    } else if (v->kind != SL_FV_STR) {
        return fail(c, v->at, "%s is not an integer", name_of(c, i));
    }
    int rc = sl_parse_i64(v->s, v->n, out, &bad);
    if (rc == 1)
        return fail(c, at_byte(c, v, bad), "%s is not an integer", name_of(c, i));
    if (rc == 2)
        return fail(c, v->at, "%s out of range for int64", name_of(c, i));
    return 0;
}

static int get_double(const struct ctx *c, int i, const sl_fval *v, double *out)
{
    char buf[MAX_NUMBER + 1];
    size_t bad;
    if (!is_text(v))
        return fail(c, v->at, "%s is not a number", name_of(c, i));
    if (v->kind == SL_FV_STR && !sl_check_decimal(v->s, v->n, &bad))
        return fail(c, at_byte(c, v, bad), "%s is not a number", name_of(c, i));
    if (v->n > MAX_NUMBER)
        return fail(c, v->at, "%s longer than %d characters", name_of(c, i), MAX_NUMBER);
    memcpy(buf, v->s, v->n);
    buf[v->n] = '\0';
    double d = strtod(buf, NULL);
    if (!isfinite(d))
        return fail(c, v->at, "%s out of range for %s", name_of(c, i),
                    i == c->p->s.value_field ? "float" : "double");
    *out = d;
    return 0;
}

static int text_is(const sl_fval *v, const char *lit)
{
    size_t n = strlen(lit);
    return v->n == n && strncasecmp(v->s, lit, n) == 0;
}

static int get_bool(const struct ctx *c, int i, const sl_fval *v, double *out)
{
    if (is_text(v) || v->kind == SL_FV_LIT) {
        if (text_is(v, "true") || text_is(v, "1")) {
            *out = 1;
            return 0;
        }
        if (text_is(v, "false") || text_is(v, "0")) {
            *out = 0;
            return 0;
        }
    }
    return fail(c, v->at, "%s is not a boolean (true, false, 1 or 0)", name_of(c, i));
}

static int get_time(const struct ctx *c, int i, const sl_fval *v, int64_t *out)
{
    const sl_schema *s = &c->p->s;
    size_t bad = 0;
    const char *why = "";
    int rc;
    if (s->time_format == SL_TIME_MS)
        return get_int(c, i, v, out);
    if (!is_text(v))
        return fail(c, v->at, "%s is not a time", name_of(c, i));
    switch (s->time_format) {
    case SL_TIME_S:
        rc = sl_time_parse_s(v->s, v->n, out, &bad, &why);
        if (rc == 1)
            return fail(c, at_byte(c, v, bad), "%s is not a time in seconds (%s)", name_of(c, i),
                        why);
        break;
    case SL_TIME_ISO8601:
        rc = sl_time_parse_iso8601(v->s, v->n, out, &bad, &why);
        if (rc == 1)
            return fail(c, at_byte(c, v, bad), "%s is not an ISO 8601 time (%s)", name_of(c, i),
                        why);
        break;
    default:
        rc = sl_time_parse_pattern(s->time_pattern, v->s, v->n, out, &bad, &why);
        if (rc == 1)
            return fail(c, at_byte(c, v, bad), "%s does not match \"%s\" (%s)", name_of(c, i),
                        s->time_pattern, why);
        break;
    }
    if (rc == 2)
        return fail(c, v->at, "%s out of range", name_of(c, i));
    return 0;
}

/* An id (a key part or the user): its text, checked for length and, for a key, UTF-8 (ids are
 * written to the output as they are). */
static int get_id(const struct ctx *c, int i, const sl_fval *v, int key)
{
    if (!is_text(v))
        return fail(c, v->at, "%s is not a string or a number", name_of(c, i));
    if (key && v->n == 0)
        return fail(c, v->at, "%s is empty", name_of(c, i));
    if (v->n > SL_ADID_MAX)
        return fail(c, v->at, "%s longer than %d bytes", name_of(c, i), SL_ADID_MAX);
    /* The text as written is checked when there is one (escapes are ASCII and decode to whole
     * sequences, so it is valid exactly when the content is), which gives the bad byte's
     * column. */
    const char *t = v->raw ? v->raw : v->s;
    size_t tn = v->raw ? v->raw_n : v->n, bad;
    if (key && !sl_utf8_is_ascii(t, tn) && (bad = sl_utf8_check(t, tn)) < tn)
        return fail(c, v->raw ? t + bad : at_byte(c, v, bad), "%s is not valid UTF-8 (byte 0x%02x)",
                    name_of(c, i), (unsigned char)t[bad]);
    if (key && c->p->s.nkey > 1 && memchr(v->s, SL_KEY_SEP, v->n)) {
        const char *sep = memchr(v->s, SL_KEY_SEP, v->n);
        return fail(c, at_byte(c, v, (size_t)(sep - v->s)),
                    "%s holds the byte 0x1f, which joins the parts of a composite key",
                    name_of(c, i));
    }
    return 0;
}

/* Whether get_id would pass v without a word (no call, no error to word): text, an ASCII key of
 * 1 to SL_ADID_MAX bytes, a user of at most SL_ADID_MAX. A single key only (the parts of a
 * composite one are also searched for SL_KEY_SEP). */
static inline int id_fast(const sl_fval *v, int key)
{
    if (v->kind != SL_FV_STR && v->kind != SL_FV_NUM)
        return 0;
    if (!key)
        return v->n <= SL_ADID_MAX;
    return v->n - 1 < SL_ADID_MAX &&
           (v->raw ? sl_utf8_is_ascii(v->raw, v->raw_n) : sl_utf8_is_ascii(v->s, v->n));
}

static int same_text(const char *a, size_t n, const char *b, int nocase)
{
    size_t m = strlen(b);
    if (n != m)
        return 0;
    return nocase ? strncasecmp(a, b, n) == 0 : memcmp(a, b, n) == 0;
}

/* Whether field value v satisfies "equals": the same text, or the same number (a field
 * declared string whose text is a decimal number counts as that number: "1.0" equals 1). */
static int pred_match(const sl_type_pred *pr, const sl_fval *v, double num, int has_num, int nocase)
{
    if (v->kind == SL_FV_ABSENT || v->kind == SL_FV_NULL)
        return 0;
    if (same_text(v->s, v->n, pr->equals, nocase))
        return 1;
    if (!has_num) {
        char buf[MAX_NUMBER + 1];
        size_t bad;
        if (!is_text(v) || v->n > MAX_NUMBER || !sl_check_decimal(v->s, v->n, &bad))
            return 0;
        memcpy(buf, v->s, v->n);
        buf[v->n] = '\0';
        num = strtod(buf, NULL);
    }
    char *end;
    double e = strtod(pr->equals, &end);
    if (end == pr->equals || *end)
        return 0;
    return num == e;
}

static enum sl_evtype map_type(const sl_schema *s, const sl_fval *v)
{
    if (v->kind == SL_FV_ABSENT || v->kind == SL_FV_NULL)
        return SL_EV_OTHER;
    if (s->nmap == 0) {
        if (!s->type_nocase)
            return sl_evtype_parse(v->s, v->n);
        if (same_text(v->s, v->n, "view", 1) || same_text(v->s, v->n, "impression", 1))
            return SL_EV_VIEW;
        if (same_text(v->s, v->n, "click", 1))
            return SL_EV_CLICK;
        if (same_text(v->s, v->n, "purchase", 1))
            return SL_EV_PURCHASE;
        return SL_EV_OTHER;
    }
    for (uint32_t i = 0; i < s->nmap; i++)
        if (same_text(v->s, v->n, s->map[i].text, s->type_nocase))
            return (enum sl_evtype)s->map[i].type;
    return SL_EV_OTHER;
}

int sl_evbuild(const sl_evplan *p, const sl_fval *vals, sl_fseen fs, const char *line, size_t len,
               const char *missing_at, sl_rawev *ev, sl_perr *err)
{
    const struct ctx cx = {p, line, len, err};
    const struct ctx *c = &cx;
    const sl_schema *s = &p->s;
    double num[SL_SCHEMA_FIELDS];
    int64_t whole[SL_SCHEMA_FIELDS]; /* int64 and time fields, exactly */
    unsigned present = 0, has_num = 0;
    int64_t t = 0;
    int rc;

    /* The fields the line has and those it must have, in declared order: the first problem in
     * that order is the one reported. When every field the line has is text and none is
     * missing (the usual line), only the fields of other types are looked at; the common
     * values (integers of up to 16 digits) are taken here, anything else, and every problem,
     * goes through get_*. */
    const uint32_t seen = fs.seen;
    uint32_t todo;
    if ((seen | p->required) == fs.text) {
        present = fs.text;
        todo = fs.text & p->checked;
    } else {
        todo = seen | p->required;
    }
    for (; todo; todo &= todo - 1) {
        const unsigned i = (unsigned)__builtin_ctz(todo);
        const sl_fval *v = &vals[i];
        if (!(seen >> i & 1))
            return fail(c, missing_at, "missing field \"%s\"", s->field[i].name);
        const int kind = v->kind;
        if (kind == SL_FV_ABSENT || kind == SL_FV_NULL) {
            if (s->field[i].optional)
                continue;
            if (kind == SL_FV_NULL)
                return fail(c, v->at, "%s is null", s->field[i].name);
            return fail(c, missing_at, "missing field \"%s\"", s->field[i].name);
        }
        const int text = fs.text >> i & 1;
        present |= 1u << i;
        switch (p->check[i]) {
        case SL_CHK_TEXT:
            if (!text)
                return fail(c, v->at, "%s is not a string or a number", s->field[i].name);
            break;
        case SL_CHK_INT64:
        case SL_CHK_TIME_MS: {
            int64_t x;
            if (!(text && fast_uint(v->s, v->n, &x)) && (rc = get_int(c, (int)i, v, &x)))
                return rc;
            whole[i] = x;
            if (p->check[i] == SL_CHK_INT64) {
                num[i] = (double)x;
                has_num |= 1u << i;
            } else if ((int)i == s->time_field) {
                t = x;
            }
            break;
        }
        case SL_CHK_DOUBLE:
            if ((rc = get_double(c, (int)i, v, &num[i])))
                return rc;
            has_num |= 1u << i;
            break;
        case SL_CHK_BOOL:
            if ((rc = get_bool(c, (int)i, v, &num[i])))
                return rc;
            has_num |= 1u << i;
            break;
        default: { /* SL_CHK_TIME */
            int64_t x;
            if ((rc = get_time(c, (int)i, v, &x)))
                return rc;
            whole[i] = x;
            if ((int)i == s->time_field)
                t = x;
            break;
        }
        }
    }

    /* The key: one field's text as it is, or the parts joined. */
    if (s->nkey == 1) {
        const sl_fval *v = &vals[s->key[0]];
        if (!id_fast(v, 1) && (rc = get_id(c, s->key[0], v, 1)))
            return rc;
        ev->ad_id = v->s;
        ev->ad_id_len = v->n;
    } else {
        size_t at = 0;
        for (uint32_t k = 0; k < s->nkey; k++) {
            const sl_fval *v = &vals[s->key[k]];
            if ((rc = get_id(c, s->key[k], v, 1)))
                return rc;
            if (at + (k > 0) + v->n > SL_ADID_MAX)
                return fail(c, v->at, "key longer than %d bytes", SL_ADID_MAX);
            if (k > 0)
                ev->joined[at++] = SL_KEY_SEP;
            memcpy(ev->joined + at, v->s, v->n);
            at += v->n;
        }
        ev->ad_id = ev->joined;
        ev->ad_id_len = at;
    }

    ev->user_id = NULL;
    ev->user_id_len = 0;
    if (s->user_field >= 0 && (present >> s->user_field & 1)) {
        const sl_fval *v = &vals[s->user_field];
        if (!id_fast(v, 0) && (rc = get_id(c, s->user_field, v, 0)))
            return rc;
        ev->user_id = v->n ? v->s : NULL;
        ev->user_id_len = v->n;
    }

    for (uint32_t k = 0; k < s->nattrs; k++) {
        const int f = s->attr[k];
        uint64_t bits = 0;
        if (present >> f & 1) {
            const int ft = s->field[f].type;
            if (ft == SL_FT_DOUBLE)
                memcpy(&bits, &num[f], sizeof bits);
            else if (ft == SL_FT_BOOL)
                bits = num[f] != 0;
            else
                bits = (uint64_t)whole[f];
        }
        ev->attr[k] = bits;
    }
    ev->time_ms = t;
    ev->value = 0;
    if (s->value_field >= 0 && (present >> s->value_field & 1)) {
        /* Records carry the value as a 32-bit float (kernels/sluice.h); when the value field is
         * also an attribute the kernels read it at full width (SL_VALUE), and the float is
         * only what a float holds (an infinity beyond FLT_MAX). */
        if (!p->value_wide && fabs(num[s->value_field]) > FLT_MAX)
            return fail(c, vals[s->value_field].at, "%s out of range for float",
                        name_of(c, s->value_field));
        ev->value = num[s->value_field];
    }

    if (s->type_mode == SL_TYPE_FIELD) {
        ev->type = present >> s->type_field & 1 ? map_type(s, &vals[s->type_field]) : SL_EV_OTHER;
        ev->types = 1u << ev->type;
        return 0;
    }
    unsigned types = 0;
    for (int ty = 0; ty < SL_EV_NTYPES; ty++) {
        const sl_type_pred *pr = &s->pred[ty];
        if (!pr->on)
            continue;
        if (pr->all) {
            types |= 1u << ty;
            continue;
        }
        if (!(present >> pr->field & 1))
            continue; /* absent or null: no match */
        const sl_fval *v = &vals[pr->field];
        int hn = (has_num >> pr->field) & 1;
        if (pred_match(pr, v, hn ? num[pr->field] : 0, hn, s->type_nocase))
            types |= 1u << ty;
    }
    if (!types)
        types = 1u << SL_EV_OTHER;
    ev->types = types;
    ev->type = (enum sl_evtype)__builtin_ctz(types);
    return 0;
}
