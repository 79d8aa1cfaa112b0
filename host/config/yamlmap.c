/* Typed YAML getters with line/column marks (yamlmap.h): messages, scalars, mappings, lists and
 * the rule tables that read a mapping's keys into a struct. */
#include "yamlmap.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* ---- messages ----------------------------------------------------------------------------- */

int sl_ym_fail(const sl_ym_ctx *c, yaml_mark_t m, const char *fmt, ...)
{
    if (!c->err || c->errlen == 0)
        return SL_ECONFIG;
    int n = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->name, m.line + 1, m.column + 1);
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return SL_ECONFIG;
}

/* Writes s (len bytes) into out as a double-quoted string, escaping quotes, backslashes and
 * control bytes and cutting it after 48 bytes. Returns out. */
static const char *quote(char *out, size_t outsz, const char *s, size_t len)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len && o + 8 < outsz; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (i == 48) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

#define QUOTE_MAX 256 /* 48 bytes, each escaped to at most 4, plus quotes and "..." */

/* The text of scalar node n. */
static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* 1 when scalar n holds a NUL byte. */
static int has_nul(const yaml_node_t *n)
{
    return strlen(scalar(n)) != n->data.scalar.length;
}

/* 1 for a plain empty, "~" or "null" scalar: YAML's null. */
static int is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = scalar(n);
    return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* Describes node n for "got ..." (a quoted scalar, "a mapping", "a list of 3 items",
 * "nothing"). Returns the text, in out or static. */
static const char *describe(char *out, size_t outsz, const yaml_node_t *n)
{
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE) {
        size_t count = sl_ym_len(n);
        if (count == 0)
            return "an empty list";
        snprintf(out, outsz, "a list of %zu item%s", count, count == 1 ? "" : "s");
        return out;
    }
    if (is_null(n) && *scalar(n) == '\0')
        return "nothing";
    return quote(out, outsz, scalar(n), n->data.scalar.length);
}

int sl_ym_expected(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, const char *want)
{
    char q[QUOTE_MAX];
    return sl_ym_fail(c, n->start_mark, "%s: expected %s, got %s", path, want,
                      describe(q, sizeof q, n));
}

int sl_ym_missing(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, const char *key,
                  const char *why)
{
    const yaml_mark_t start = {0, 0, 0};
    return sl_ym_fail(c, n ? n->start_mark : start, "%s%smissing required key \"%s\"%s", path,
                      *path ? ": " : "", key, why);
}

const char *sl_ym_join(char *out, size_t outsz, const char *pfx, const char *key)
{
    snprintf(out, outsz, "%s%s%s", pfx, *pfx ? "." : "", key);
    return out;
}

/* Writes names[0..count) into out as "a, b, c" after `lead`. Returns out. */
static const char *name_list(char *out, size_t outsz, const char *lead, const char *const *names,
                             size_t count)
{
    snprintf(out, outsz, "%s", lead);
    for (size_t i = 0; i < count; i++) {
        size_t o = strlen(out);
        snprintf(out + o, outsz - o, "%s%s", i ? ", " : "", names[i]);
    }
    return out;
}

/* ---- scalars ------------------------------------------------------------------------------ */

/* Parses decimal digits with optional '_' between digits and an optional leading '+'.
 * Returns 0, -1 when s is not of that form, -2 when it does not fit in 64 bits. */
static int parse_digits(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0, over = 0;
    if (*s == '+')
        s++;
    for (; *s; s++) {
        if (*s == '_' && digits > 0 && s[1] >= '0' && s[1] <= '9')
            continue;
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            over = 1;
        else
            v = v * 10 + d;
        digits++;
    }
    if (digits == 0)
        return -1;
    *out = v;
    return over ? -2 : 0;
}

/* Text that is not a non-negative integer fails with "expected a positive integer" (lo >= 1)
 * or "a non-negative integer"; a value out of range with "expected an integer in LO..HI". */
int sl_ym_u64(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, uint64_t lo, uint64_t hi,
              uint64_t *out)
{
    const char *want = lo >= 1 ? "a positive integer" : "a non-negative integer";
    if (n->type != YAML_SCALAR_NODE || has_nul(n))
        return sl_ym_expected(c, n, path, want);
    uint64_t v;
    int r = parse_digits(scalar(n), &v);
    if (r == -1)
        return sl_ym_expected(c, n, path, want);
    if (r == -2 || v < lo || v > hi) {
        char range[64];
        snprintf(range, sizeof range, "an integer in %" PRIu64 "..%" PRIu64, lo, hi);
        return sl_ym_expected(c, n, path, range);
    }
    *out = v;
    return 0;
}

int sl_ym_i64(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, int64_t *out)
{
    if (n->type != YAML_SCALAR_NODE || has_nul(n))
        return sl_ym_expected(c, n, path, "an integer");
    const char *s = scalar(n);
    int neg = *s == '-';
    uint64_t mag;
    int r = parse_digits(s + neg, &mag);
    if (r == -1 || (neg && s[1] == '+'))
        return sl_ym_expected(c, n, path, "an integer");
    if (r == -2 || mag > (uint64_t)INT64_MAX + (uint64_t)neg)
        return sl_ym_expected(c, n, path,
                              "an integer in -9223372036854775808..9223372036854775807");
    if (!neg)
        *out = (int64_t)mag;
    else
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    return 0;
}

/* strtod follows LC_NUMERIC, which is "C" unless the program calls setlocale (sluice does
 * not). */
int sl_ym_double(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, enum sl_ym_range r,
                 double *out)
{
    static const char *const want[] = {"a positive number", "a non-negative number",
                                       "a number in [0, 1]"};
    if (n->type != YAML_SCALAR_NODE || has_nul(n))
        return sl_ym_expected(c, n, path, want[r]);
    const char *s = scalar(n);
    if (*s == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
        return sl_ym_expected(c, n, path, want[r]);
    char *end;
    double v = strtod(s, &end); /* overflow gives inf, refused below; underflow gives ~0 */
    if (end == s || *end != '\0' || !isfinite(v))
        return sl_ym_expected(c, n, path, want[r]);
    int ok = r == SL_YM_POSITIVE ? v > 0.0 : r == SL_YM_NONNEG ? v >= 0.0 : v >= 0.0 && v <= 1.0;
    if (!ok)
        return sl_ym_expected(c, n, path, want[r]);
    *out = v;
    return 0;
}

int sl_ym_bool(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, int *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                      "YES",  "on",   "On",   "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No",
                                     "NO",    "off",   "Off",   "OFF"};
    if (n->type == YAML_SCALAR_NODE) {
        for (size_t i = 0; i < SL_YM_COUNT(yes); i++) {
            if (strcmp(scalar(n), yes[i]) == 0) {
                *out = 1;
                return 0;
            }
            if (strcmp(scalar(n), no[i]) == 0) {
                *out = 0;
                return 0;
            }
        }
    }
    return sl_ym_expected(c, n, path, "true or false");
}

/* Fails with "holds a NUL byte" or "is too long" for a string that does not fit. */
int sl_ym_str(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, int allow_empty,
              char *out, size_t outsz)
{
    if (n->type != YAML_SCALAR_NODE || (is_null(n) && !(allow_empty && *scalar(n) == '\0')))
        return sl_ym_expected(c, n, path, allow_empty ? "a string" : "a non-empty string");
    size_t len = n->data.scalar.length;
    if (len == 0 && !allow_empty)
        return sl_ym_expected(c, n, path, "a non-empty string");
    if (has_nul(n))
        return sl_ym_fail(c, n->start_mark, "%s: expected a string without NUL bytes", path);
    if (len >= outsz)
        return sl_ym_fail(c, n->start_mark,
                          "%s: expected a string of at most %zu bytes, got %zu bytes", path,
                          outsz - 1, len);
    memcpy(out, scalar(n), len + 1);
    return 0;
}

/* "-" and absolute paths are kept; a relative path is prefixed with the directory part of
 * c->name, if it has one. */
int sl_ym_path(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, char *out, size_t outsz)
{
    if (n->type != YAML_SCALAR_NODE || is_null(n) || n->data.scalar.length == 0)
        return sl_ym_expected(c, n, path, "a non-empty path");
    const char *s = scalar(n);
    size_t len = n->data.scalar.length;
    if (has_nul(n))
        return sl_ym_fail(c, n->start_mark, "%s: expected a path without NUL bytes", path);
    const char *slash = strrchr(c->name, '/');
    size_t dirlen = 0; /* bytes of c->name kept, the slash included */
    if (strcmp(s, "-") != 0 && s[0] != '/' && slash)
        dirlen = (size_t)(slash - c->name) + 1;
    if (dirlen + len >= outsz) {
        if (dirlen > 0)
            return sl_ym_fail(c, n->start_mark,
                              "%s: expected a path of at most %zu bytes, got %zu bytes after "
                              "prefixing the directory of %s",
                              path, outsz - 1, dirlen + len, c->name);
        return sl_ym_fail(c, n->start_mark,
                          "%s: expected a path of at most %zu bytes, got %zu bytes", path,
                          outsz - 1, len);
    }
    memcpy(out, c->name, dirlen);
    memcpy(out + dirlen, s, len + 1);
    return 0;
}

int sl_ym_choice(const sl_ym_ctx *c, const yaml_node_t *n, const char *path,
                 const char *const *names, size_t count)
{
    if (n->type == YAML_SCALAR_NODE) {
        for (size_t i = 0; i < count; i++)
            if (strlen(names[i]) == n->data.scalar.length && strcmp(scalar(n), names[i]) == 0)
                return (int)i;
    }
    char want[256];
    sl_ym_expected(c, n, path, name_list(want, sizeof want, "one of ", names, count));
    return -1;
}

/* ---- collections -------------------------------------------------------------------------- */

/* sl_ym_scan, and with `rest` the keys not in keys[] go there (scalars only). */
static int scan(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, const char *const *keys,
                size_t nkeys, sl_ym_field *f, sl_opts *rest)
{
    const char *sep = *path ? ": " : "";
    char q[QUOTE_MAX];
    for (size_t i = 0; i < nkeys; i++)
        f[i] = (sl_ym_field){keys[i], NULL, NULL};
    if (!n)
        return 0;
    if (n->type != YAML_MAPPING_NODE) {
        if (!*path)
            return sl_ym_fail(c, n->start_mark, "expected a mapping at the top level, got %s",
                              describe(q, sizeof q, n));
        return sl_ym_expected(c, n, path, "a mapping");
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return sl_ym_fail(c, k->start_mark, "%s%sexpected a string key, got %s", path, sep,
                              describe(q, sizeof q, k));
        size_t i = 0;
        while (i < nkeys &&
               !(strlen(keys[i]) == k->data.scalar.length && strcmp(keys[i], scalar(k)) == 0))
            i++;
        if (i == nkeys && rest) {
            char kp[160];
            sl_ym_join(kp, sizeof kp, path, scalar(k));
            if (v->type != YAML_SCALAR_NODE)
                return sl_ym_expected(c, v, kp, "a scalar");
            if (sl_opts_get(rest, scalar(k)))
                return sl_ym_fail(c, k->start_mark, "%s%sduplicate key \"%s\"", path, sep,
                                  scalar(k));
            if (strlen(scalar(k)) != k->data.scalar.length ||
                strlen(scalar(v)) != v->data.scalar.length ||
                sl_opts_set(rest, scalar(k), scalar(v), (uint32_t)v->start_mark.line + 1,
                            (uint32_t)v->start_mark.column + 1) < 0)
                return sl_ym_fail(c, k->start_mark,
                                  "%s%stoo many keys, or a key or value too long (at most %d "
                                  "keys, values of %d bytes)",
                                  path, sep, SL_OPTS_MAX, SL_OPT_VAL_MAX - 1);
            sl_opts_key_at(rest, scalar(k), (uint32_t)k->start_mark.line + 1,
                           (uint32_t)k->start_mark.column + 1);
            continue;
        }
        if (i == nkeys) {
            char list[256];
            return sl_ym_fail(c, k->start_mark, "%s%sunknown key %s (expected one of: %s)", path,
                              sep, quote(q, sizeof q, scalar(k), k->data.scalar.length),
                              name_list(list, sizeof list, "", keys, nkeys));
        }
        if (f[i].k)
            return sl_ym_fail(c, k->start_mark, "%s%sduplicate key \"%s\" (first at line %zu)",
                              path, sep, keys[i], f[i].k->start_mark.line + 1);
        f[i].k = k;
        f[i].v = v;
    }
    return 0;
}

int sl_ym_scan(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, const char *const *keys,
               size_t nkeys, sl_ym_field *f)
{
    return scan(c, n, path, keys, nkeys, f, NULL);
}

int sl_ym_scan_rest(const sl_ym_ctx *c, const yaml_node_t *n, const char *path,
                    const char *const *keys, size_t nkeys, sl_ym_field *f, sl_opts *rest)
{
    snprintf(rest->name, sizeof rest->name, "%s", c->name ? c->name : "");
    name_list(rest->common, sizeof rest->common, "", keys, nkeys);
    if (n) {
        rest->line = (uint32_t)n->start_mark.line + 1;
        rest->col = (uint32_t)n->start_mark.column + 1;
    }
    return scan(c, n, path, keys, nkeys, f, rest);
}

int sl_ym_refuse(const sl_ym_ctx *c, const sl_ym_field *f, int first, int last, const char *pfx,
                 const char *cond)
{
    for (int i = first; i < last; i++) {
        if (f[i].k) {
            char path[160];
            return sl_ym_fail(c, f[i].k->start_mark, "%s: only allowed when %s",
                              sl_ym_join(path, sizeof path, pfx, f[i].key), cond);
        }
    }
    return 0;
}

size_t sl_ym_len(const yaml_node_t *n)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return 0;
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

yaml_node_t *sl_ym_item(const sl_ym_ctx *c, const yaml_node_t *n, size_t i)
{
    return yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
}

int sl_ym_list(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, const char *want,
               size_t max, const char *what, size_t *count)
{
    size_t len = sl_ym_len(n);
    if (len == 0)
        return sl_ym_expected(c, n, path, want);
    if (len > max) {
        char most[64];
        snprintf(most, sizeof most, "at most %zu %s", max, what);
        return sl_ym_expected(c, n, path, most);
    }
    *count = len;
    return 0;
}

/* ---- rules -------------------------------------------------------------------------------- */

/* Reads node n at `path` by rule r into dst, r->size bytes. Returns 0 or SL_ECONFIG. */
static int read_rule(const sl_ym_ctx *c, const yaml_node_t *n, const char *path,
                     const sl_ym_rule *r, char *dst)
{
    uint64_t u = 0;
    int64_t i = 0;
    double d = 0;
    int b = 0, rc;
    switch (r->type) {
    case SL_YM_UINT:
        if ((rc = sl_ym_u64(c, n, path, r->lo, r->hi, &u)) < 0)
            return rc;
        if (r->size == sizeof(uint32_t)) { /* hi fits: the bytes of an int as well */
            uint32_t u32 = (uint32_t)u;
            memcpy(dst, &u32, sizeof u32);
        } else {
            memcpy(dst, &u, sizeof u);
        }
        return 0;
    case SL_YM_INT:
        if ((rc = sl_ym_i64(c, n, path, &i)) == 0)
            memcpy(dst, &i, sizeof i);
        return rc;
    case SL_YM_REAL:
        if ((rc = sl_ym_double(c, n, path, r->range, &d)) == 0)
            memcpy(dst, &d, sizeof d);
        return rc;
    case SL_YM_BOOL:
        if ((rc = sl_ym_bool(c, n, path, &b)) == 0)
            memcpy(dst, &b, sizeof b);
        return rc;
    case SL_YM_STR:
        return sl_ym_str(c, n, path, r->empty_ok, dst, r->size);
    case SL_YM_PATH:
        return sl_ym_path(c, n, path, dst, r->size);
    }
    abort(); /* a rule of no known type */
}

int sl_ym_read(const sl_ym_ctx *c, const sl_ym_field *f, const char *pfx, const sl_ym_rule *rules,
               size_t nrules, void *obj)
{
    for (size_t i = 0; i < nrules; i++) {
        const sl_ym_rule *r = &rules[i];
        const sl_ym_field *fi = &f[r->key];
        char path[160];
        if (!fi->v)
            continue;
        int rc = read_rule(c, fi->v, sl_ym_join(path, sizeof path, pfx, fi->key), r,
                           (char *)obj + r->off);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int sl_ym_plain(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, const char *const *keys,
                size_t nkeys, const sl_ym_rule *rules, size_t nrules, void *obj)
{
    sl_ym_field f[SL_YM_PLAIN_MAX];
    if (nkeys > SL_YM_PLAIN_MAX)
        abort(); /* a table longer than this helper takes */
    int rc = sl_ym_scan(c, n, path, keys, nkeys, f);
    if (rc < 0)
        return rc;
    return sl_ym_read(c, f, path, rules, nrules, obj);
}
