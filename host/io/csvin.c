/* CSV event lines (RFC 4180 quoting, any one-byte delimiter), read by the schema.
 *
 * Fields are scanned in place: an unquoted field, or a quoted one without doubled quotes, is
 * returned as a pointer into the line; a quoted field with doubled quotes is unescaped into the
 * caller's scratch at the offset it has in the line (unescaping only shortens, so `len` bytes of
 * scratch suffice). A quoted field may hold newlines when the line reader hands over the whole
 * record (host/io/reader.c finds a CSV record's end outside quotes).
 *
 * Data fields are taken exactly as written: " 123" is not an integer. */
#include "csvin.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "evbuild.h"
#include "err.h"

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
    char delim;
};

/* The delimiter as a message names it. */
static const char *delim_name(char d, char *buf)
{
    if (d == '\t')
        return "a tab";
    if ((unsigned char)d < 0x20 || (unsigned char)d >= 0x7f) {
        snprintf(buf, 8, "0x%02x", (unsigned char)d);
        return buf;
    }
    snprintf(buf, 8, "'%c'", d);
    return buf;
}

/* Records `reason` at the column of `at` and returns SL_EPARSE. */
#define fail(c, at, ...) sl_perr_set((c)->err, (c)->line, (at), __VA_ARGS__)

/* Scans the field starting at *pp into *f and leaves *pp at the delimiter after it or at the end of
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
        if (p < end && *p != c->delim) {
            char dn[8];
            return fail(c, p, "expected %s after closing quote", delim_name(c->delim, dn));
        }
    } else {
        const char *s = p;
        while (p < end && *p != c->delim) {
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

void sl_csv_cols_init(sl_csv_cols *cols, const sl_evplan *plan)
{
    const sl_schema *sc = &plan->s;
    memset(cols, 0, sizeof *cols);
    cols->plan = plan;
    cols->delim = sc->delimiter ? (char)sc->delimiter : ',';
    for (int i = 0; i < SL_CSV_COLS; i++)
        cols->field[i] = -1;
    /* Without a header the columns are the declared fields in order; trailing optional ones
     * may be left out. The default schema's user_id comes only through a header, as it always
     * has. */
    int most = (int)sc->nfields;
    if (!sc->declared && most > 4)
        most = 4;
    cols->need = 0;
    for (int i = 0; i < most; i++) {
        cols->col[i] = i;
        cols->field[i] = (int8_t)i;
        if (!sc->field[i].optional)
            cols->need = i + 1;
    }
    for (int i = most; i < (int)sc->nfields; i++)
        cols->col[i] = -1;
    cols->most = most;
    cols->ncols = 0;
}

void sl_csv_default_cols(sl_csv_cols *cols)
{
    sl_csv_cols_init(cols, sl_evplan_default());
}

int sl_csv_header(const char *line, size_t len, sl_csv_cols *cols, sl_perr *err)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    const sl_evplan *plan = cols->plan ? cols->plan : sl_evplan_default();
    const sl_schema *sc = &plan->s;
    const char delim = sc->delimiter ? (char)sc->delimiter : ',';
    const struct ctx cx = {line, line + len, NULL, err, delim};
    int idx[SL_SCHEMA_FIELDS];
    const char *dup = NULL;
    int dup_name = 0, names_key = 0;
    const char *p = line;
    sl_perr ignored;
    const struct ctx quiet = {line, line + len, NULL, &ignored, delim};
    long n = 0;

    for (uint32_t i = 0; i < sc->nfields; i++)
        idx[i] = -1;
    for (;;) {
        struct field f = {0};
        /* A line that is not valid CSV is not a header; sl_csv_parse will say why. */
        if (next_field(&quiet, &p, &f)) {
            if (sc->header == SL_HEADER_YES)
                return fail(&cx, line, "the first line is not a valid CSV header");
            return 0;
        }
        if (n == INT_MAX)
            return 0;
        int i = f.n ? sl_evplan_field(plan, f.s, f.n) : -1;
        if (i >= 0) {
            if (idx[i] >= 0 && !dup) {
                dup = f.at;
                dup_name = i;
            }
            idx[i] = (int)n;
            names_key |= i == sc->key[0];
        }
        n++;
        if (p == cx.end)
            break;
        p++;
    }
    if (sc->header == SL_HEADER_NO || (sc->header == SL_HEADER_AUTO && !names_key))
        return 0;
    if (dup)
        return fail(&cx, dup, "duplicate column \"%s\" in header", sc->field[dup_name].name);
    for (uint32_t i = 0; i < sc->nfields; i++) {
        if (idx[i] < 0 && !sc->field[i].optional)
            return fail(&cx, line, "header has no \"%s\" column", sc->field[i].name);
        if (idx[i] >= SL_CSV_COLS)
            return fail(&cx, line, "column \"%s\" is column %d; at most %d columns are read",
                        sc->field[i].name, idx[i] + 1, SL_CSV_COLS);
    }
    for (int i = 0; i < SL_CSV_COLS; i++)
        cols->field[i] = -1;
    for (uint32_t i = 0; i < sc->nfields; i++) {
        cols->col[i] = idx[i];
        if (idx[i] >= 0)
            cols->field[idx[i]] = (int8_t)i;
    }
    cols->plan = plan;
    cols->delim = delim;
    cols->ncols = (int)n;
    cols->need = cols->most = (int)n;
    return 1;
}

int sl_csv_parse(const char *line, size_t len, const sl_csv_cols *cols, char *scratch, sl_rawev *ev,
                 sl_perr *err)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    const sl_evplan *plan = cols->plan ? cols->plan : sl_evplan_default();
    const struct ctx cx = {line, line + len, scratch, err, cols->delim ? cols->delim : ','};
    const struct ctx *c = &cx;
    sl_fval vals[SL_SCHEMA_FIELDS];
    const char *extra = NULL; /* the delimiter before the first field past the most allowed */
    const char *p = line;
    long n = 0, need = cols->need, most = cols->most;
    int rc;

    sl_fseen fs = {0, 0};
    for (;;) {
        struct field f = {0};
        if ((rc = next_field(c, &p, &f)))
            return rc;
        if (n < SL_CSV_COLS && cols->field[n] >= 0) {
            int i = cols->field[n];
            sl_fval *v = &vals[i];
            fs.seen |= 1u << i;
            v->s = f.s;
            v->n = f.n;
            v->at = f.at;
            /* An empty field is an optional field's "absent" (a required one is checked). */
            v->kind = f.n == 0 && plan->s.field[i].optional ? SL_FV_ABSENT : SL_FV_STR;
            fs.text |= (uint32_t)(v->kind == SL_FV_STR) << i;
            v->raw = NULL;
            v->raw_n = 0;
            if (f.s < line || f.s >= cx.end) { /* unescaped: the text between the quotes */
                v->raw = f.at + 1;
                v->raw_n = (size_t)(p - v->raw) - 1; /* p: past the closing quote */
            }
        }
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
    return sl_evbuild(plan, vals, fs, line, len, cx.end, ev, err);
}
