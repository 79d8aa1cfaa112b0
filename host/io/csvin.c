/* CSV event lines (RFC 4180 quoting, one record per line).
 *
 * Fields are scanned in place: an unquoted field, or a quoted one without doubled quotes, is
 * returned as a pointer into the line; a quoted field with doubled quotes is unescaped into the
 * caller's scratch at the offset it has in the line (unescaping only shortens, so `len` bytes of
 * scratch suffice). A quoted field may hold '\r' and '\n' (RFC 4180): the line reader ends a
 * CSV record at the first '\n' outside quotes, so such a record reaches here whole.
 *
 * Data fields are taken exactly as written: " 123" is not an integer. */
#include "csvin.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addict.h"
#include "err.h"
#include "numtext.h"
#include "utf8.h"

#define MAX_NUMBER 63 /* longest numeric text converted for `value` */

/* One field of a line: content, and where its raw text starts in the line. */
struct field {
    const char *s;
    size_t n;
    const char *at;
};

struct ctx {
    const char *line;
    const char *end;
    char *scratch; /* NULL: doubled quotes are left as they are (header names) */
    sl_perr *err;
};

/* Records `reason` at the column of `at` and returns SL_EPARSE. */
#define fail(c, at, ...) sl_perr_set((c)->err, (c)->line, (at), __VA_ARGS__)

/* Scans the field starting at *pp into *f and leaves *pp at the ',' after it or at the end of
 * the line. Returns 0 or SL_EPARSE. */
static int next_field(const struct ctx *c, const char **pp, struct field *f)
{
    const char *p = *pp, *end = c->end;
    f->at = p;
    if (p < end && *p == '"') {
        const char *s = ++p;
        char *d = NULL;
        for (;;) {
            const char *q = memchr(p, '"', (size_t)(end - p));
            if (!q)
                return fail(c, f->at, "unterminated quoted field");
            if (q + 1 < end && q[1] == '"') { /* doubled quote: one '"' of content */
                if (c->scratch) {
                    if (!d)
                        d = c->scratch + (s - c->line);
                    memcpy(d, p, (size_t)(q + 1 - p));
                    d += q + 1 - p;
                }
                p = q + 2;
                continue;
            }
            if (d) {
                memcpy(d, p, (size_t)(q - p));
                d += q - p;
                f->s = c->scratch + (s - c->line);
                f->n = (size_t)(d - f->s);
            } else {
                f->s = s;
                f->n = (size_t)(q - s);
            }
            p = q + 1;
            break;
        }
        if (p < end && *p != ',')
            return fail(c, p, "expected ',' after closing quote");
    } else {
        const char *s = p;
        while (p < end && *p != ',') {
            if (*p == '"')
                return fail(c, p, "quote inside unquoted field");
            p++;
        }
        f->s = s;
        f->n = (size_t)(p - s);
    }
    *pp = p;
    return 0;
}

static int eq(const struct field *f, const char *name)
{
    size_t n = strlen(name);
    return f->n == n && memcmp(f->s, name, n) == 0;
}

void sl_csv_default_cols(sl_csv_cols *cols)
{
    cols->ad_id = 0;
    cols->event_type = 1;
    cols->event_time = 2;
    cols->value = 3;
    cols->user_id = -1;
    cols->ncols = 0;
}

int sl_csv_header(const char *line, size_t len, sl_csv_cols *cols, sl_perr *err)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    const struct ctx cx = {line, line + len, NULL, err};
    static const char *const names[] = {"ad_id", "event_type", "event_time", "value", "user_id"};
    int idx[5] = {-1, -1, -1, -1, -1};
    const char *dup = NULL;
    int dup_name = 0;
    const char *p = line;
    sl_perr ignored;
    const struct ctx quiet = {line, line + len, NULL, &ignored};
    long n = 0;

    for (;;) {
        struct field f = {0};
        /* A line that is not valid CSV is not a header; sl_csv_parse will say why. */
        if (next_field(&quiet, &p, &f))
            return 0;
        if (n == INT_MAX)
            return 0;
        for (int i = 0; i < 5; i++) {
            if (!eq(&f, names[i]))
                continue;
            if (idx[i] >= 0 && !dup) {
                dup = f.at;
                dup_name = i;
            }
            idx[i] = (int)n;
        }
        n++;
        if (p == cx.end)
            break;
        p++;
    }
    if (idx[0] < 0)
        return 0;
    if (dup)
        return fail(&cx, dup, "duplicate column \"%s\" in header", names[dup_name]);
    for (int i = 1; i < 3; i++)
        if (idx[i] < 0)
            return fail(&cx, line, "header has no \"%s\" column", names[i]);
    cols->ad_id = idx[0];
    cols->event_type = idx[1];
    cols->event_time = idx[2];
    cols->value = idx[3];
    cols->user_id = idx[4];
    cols->ncols = (int)n;
    return 1;
}

/* Column of byte i of field f: exact when the field was not unescaped, its start otherwise. */
static const char *at_byte(const struct ctx *c, const struct field *f, size_t i)
{
    if (f->s >= c->line && f->s < c->end)
        return f->s + i;
    return f->at;
}

/* Checks that field f is valid UTF-8, as written in the line (doubled quotes are ASCII, so
 * that is the same as its content), and fails at the first bad byte. Returns 0 or SL_EPARSE. */
static int check_utf8(const struct ctx *c, const struct field *f)
{
    const char *raw = f->s, *end = f->s + f->n;
    if (!(f->s >= c->line && f->s < c->end)) { /* unescaped into scratch: find the closing quote */
        raw = end = f->at + 1;
        while ((end = memchr(end, '"', (size_t)(c->end - end))) && end + 1 < c->end &&
               end[1] == '"')
            end += 2;
        if (!end)
            return 0; /* cannot happen: next_field found it */
    }
    size_t n = (size_t)(end - raw), bad = sl_utf8_check(raw, n);
    if (bad < n)
        return fail(c, raw + bad, "ad_id is not valid UTF-8 (byte 0x%02x)",
                    (unsigned char)raw[bad]);
    return 0;
}

static int parse_time(const struct ctx *c, const struct field *f, int64_t *out)
{
    size_t bad;
    int rc = sl_parse_i64(f->s, f->n, out, &bad);
    if (rc == 1)
        return fail(c, at_byte(c, f, bad), "event_time is not an integer");
    if (rc == 2)
        return fail(c, f->at, "event_time out of range for int64");
    return 0;
}

/* An empty value field reads as 0; otherwise a decimal number that fits a float. strtod runs on
 * a bounded, NUL-terminated copy and follows LC_NUMERIC, which sluice leaves at "C". */
static int parse_value(const struct ctx *c, const struct field *f, float *out)
{
    char buf[MAX_NUMBER + 1];
    *out = 0;
    if (f->n == 0)
        return 0;
    size_t i;
    if (!sl_check_decimal(f->s, f->n, &i))
        return fail(c, at_byte(c, f, i), "value is not a number");
    if (f->n > MAX_NUMBER)
        return fail(c, f->at, "value longer than %d characters", MAX_NUMBER);
    memcpy(buf, f->s, f->n);
    buf[f->n] = '\0';
    double d = strtod(buf, NULL);
    if (!isfinite(d) || fabs(d) > FLT_MAX)
        return fail(c, f->at, "value out of range for float");
    *out = (float)d;
    return 0;
}

int sl_csv_parse(const char *line, size_t len, const sl_csv_cols *cols, char *scratch, sl_rawev *ev,
                 sl_perr *err)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    const struct ctx cx = {line, line + len, scratch, err};
    const struct ctx *c = &cx;
    struct field ad = {0}, ty = {0}, tm = {0}, va = {0}, us = {0};
    const char *extra = NULL; /* the ',' before the first field past the most allowed */
    const char *p = line;
    long n = 0;
    int rc;

    /* Columns allowed: exactly ncols, or without a fixed count every required column and at
     * most up to the value column. */
    long need = cols->ncols, most = cols->ncols;
    if (need <= 0) {
        need = cols->ad_id;
        if (cols->event_type > need)
            need = cols->event_type;
        if (cols->event_time > need)
            need = cols->event_time;
        need++;
        most = cols->value >= need ? cols->value + 1 : need;
    }

    for (;;) {
        struct field f = {0};
        if ((rc = next_field(c, &p, &f)))
            return rc;
        if (n == cols->ad_id)
            ad = f;
        if (n == cols->event_type)
            ty = f;
        if (n == cols->event_time)
            tm = f;
        if (n == cols->value)
            va = f;
        if (n == cols->user_id)
            us = f;
        if (n == most)
            extra = f.at - 1;
        n++;
        if (p == cx.end)
            break;
        p++;
    }
    if (n < need || n > most) {
        const char *at = n > most ? extra : cx.end;
        if (need == most)
            return fail(c, at, "expected %ld columns, got %ld", need, n);
        return fail(c, at, "expected %ld to %ld columns, got %ld", need, most, n);
    }

    if (ad.n == 0)
        return fail(c, ad.at, "ad_id is empty");
    if (ad.n > SL_ADID_MAX)
        return fail(c, ad.at, "ad_id longer than %d bytes", SL_ADID_MAX);
    /* Ids are written to the output as they are, so they must be valid UTF-8. */
    if (!sl_utf8_is_ascii(ad.s, ad.n) && (rc = check_utf8(c, &ad)))
        return rc;
    if ((rc = parse_time(c, &tm, &ev->time_ms)))
        return rc;
    ev->value = 0;
    if (va.at && (rc = parse_value(c, &va, &ev->value)))
        return rc;
    if (us.n > SL_ADID_MAX)
        return fail(c, us.at, "user_id longer than %d bytes", SL_ADID_MAX);
    ev->ad_id = ad.s;
    ev->ad_id_len = ad.n;
    ev->user_id = us.n ? us.s : NULL;
    ev->user_id_len = us.n;
    ev->type = sl_evtype_parse(ty.s, ty.n);
    return 0;
}
