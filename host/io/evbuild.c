/* From a line's field values to an event, by the schema (evbuild.h).
 *
 * Every declared field that a line holds is checked against its type, whether or not a role
 * uses it, so that "a line that does not match the schema" means the same in NDJSON and CSV.
 * Numbers are converted once (strtod on a bounded copy; sluice leaves LC_NUMERIC at "C"). */
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

void sl_evplan_init(sl_evplan *p, const sl_schema *s)
{
    memset(p, 0, sizeof *p);
    p->s = *s;
    memset(p->by_len, -1, sizeof p->by_len);
    int8_t *last[SL_SCHEMA_NAME];
    for (int n = 0; n < SL_SCHEMA_NAME; n++)
        last[n] = &p->by_len[n];
    for (uint32_t i = 0; i < s->nfields && i < SL_SCHEMA_FIELDS; i++) {
        const char *name = s->field[i].name;
        size_t n = strnlen(name, SL_SCHEMA_NAME - 1);
        if (!s->field[i].optional)
            p->required |= 1u << i;
        p->next_len[i] = -1;
        if (n == 0)
            continue;
        *last[n] = (int8_t)i;
        last[n] = &p->next_len[i];
        if (n >= 8) {
            memcpy(&p->head[i], name, 8);
            memcpy(&p->tail[i], name + n - 8, 8);
        }
    }
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

static int get_int(const struct ctx *c, int i, const sl_fval *v, int64_t *out)
{
    size_t bad;
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

int sl_evbuild(const sl_evplan *p, const sl_fval *vals, const char *line, size_t len,
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

    for (uint32_t i = 0; i < s->nfields; i++) {
        const sl_fval *v = &vals[i];
        int optional = s->field[i].optional;
        if (v->kind == SL_FV_ABSENT || v->kind == SL_FV_NULL) {
            if (optional)
                continue;
            if (v->kind == SL_FV_NULL)
                return fail(c, v->at, "%s is null", s->field[i].name);
            return fail(c, missing_at, "missing field \"%s\"", s->field[i].name);
        }
        present |= 1u << i;
        switch (s->field[i].type) {
        case SL_FT_STRING:
            if (!is_text(v))
                return fail(c, v->at, "%s is not a string or a number", s->field[i].name);
            break;
        case SL_FT_INT64: {
            int64_t x;
            if ((rc = get_int(c, (int)i, v, &x)))
                return rc;
            num[i] = (double)x;
            whole[i] = x;
            has_num |= 1u << i;
            break;
        }
        case SL_FT_DOUBLE:
            if ((rc = get_double(c, (int)i, v, &num[i])))
                return rc;
            has_num |= 1u << i;
            break;
        case SL_FT_BOOL:
            if ((rc = get_bool(c, (int)i, v, &num[i])))
                return rc;
            has_num |= 1u << i;
            break;
        default: { /* SL_FT_TIME */
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
        if ((rc = get_id(c, s->key[0], v, 1)))
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
        if ((rc = get_id(c, s->user_field, v, 0)))
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
        int wide = 0;
        for (uint32_t k = 0; k < s->nattrs; k++)
            wide |= s->attr[k] == s->value_field;
        if (!wide && fabs(num[s->value_field]) > FLT_MAX)
            return fail(c, vals[s->value_field].at, "%s out of range for float",
                        name_of(c, s->value_field));
        ev->value = num[s->value_field];
    }

    if (s->type_mode == SL_TYPE_FIELD) {
        ev->type = map_type(s, &vals[s->type_field]);
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
