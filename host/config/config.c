/* Topology configuration: YAML (libyaml's document API) -> sl_topology.
 *
 * The whole document is loaded into libyaml's node tree first, then walked section by section
 * against fixed key tables, so a section can check keys that depend on each other (pe.prior
 * needs pe.kind, wherever kind appears) and every message can point at the node at fault.
 * Messages are "NAME:LINE:COLUMN: PATH: what was expected, got WHAT" with 1-based line and
 * column taken from libyaml's marks (column counts characters). docs/config.md is the
 * reference of the keys. */
#include "config.h"

#include "auth.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "err.h"
#include "event.h"

#define CAPACITY_MAX (UINT64_C(1) << 31)
#define BATCH_MAX (UINT64_C(1) << 26)
#define CONFIG_FILE_MAX ((size_t)1 << 20) /* 1 MiB; a topology is a few hundred bytes */
#define CONFIG_DEPTH_MAX 64               /* nested collections, the root included */
#define ALL_TYPES ((1u << SL_EV_NTYPES) - 1)

/* ---- messages ---------------------------------------------------------------------------- */

struct ctx {
    const char *name; /* for messages and for resolving relative paths */
    yaml_document_t *doc;
    char *err; /* NULL or errlen 0: no message */
    size_t errlen;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Writes "NAME:LINE:COLUMN: " and the message for mark m. Returns SL_ECONFIG. */
static int fail(const struct ctx *c, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const struct ctx *c, yaml_mark_t m, const char *fmt, ...)
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

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* A plain empty, "~" or "null" scalar: YAML's null. */
static int is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = scalar(n);
    return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* Describes node n for "got ..." (a quoted scalar, "a mapping", "a list of 3 items",
 * "nothing"); the result lives in out or is static. */
static const char *describe(char *out, size_t outsz, const yaml_node_t *n)
{
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE) {
        size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (count == 0)
            return "an empty list";
        snprintf(out, outsz, "a list of %zu item%s", count, count == 1 ? "" : "s");
        return out;
    }
    if (is_null(n) && *scalar(n) == '\0')
        return "nothing";
    return quote(out, outsz, scalar(n), n->data.scalar.length);
}

/* Fails at n with "PATH: expected WANT, got <n>". Returns SL_ECONFIG. */
static int expected(const struct ctx *c, const yaml_node_t *n, const char *path, const char *want)
{
    char q[QUOTE_MAX];
    return fail(c, n->start_mark, "%s: expected %s, got %s", path, want, describe(q, sizeof q, n));
}

/* ---- scalars ----------------------------------------------------------------------------- */

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

/* Reads an unsigned integer in lo..hi from scalar node n. Text that is not a non-negative
 * integer fails with "expected a positive integer" (lo >= 1) or "a non-negative integer";
 * a value out of range with "expected an integer in LO..HI". Returns 0 or SL_ECONFIG. */
static int get_u64(const struct ctx *c, const yaml_node_t *n, const char *path, uint64_t lo,
                   uint64_t hi, uint64_t *out)
{
    const char *want = lo >= 1 ? "a positive integer" : "a non-negative integer";
    if (n->type != YAML_SCALAR_NODE || strlen(scalar(n)) != n->data.scalar.length)
        return expected(c, n, path, want);
    uint64_t v;
    int r = parse_digits(scalar(n), &v);
    if (r == -1)
        return expected(c, n, path, want);
    if (r == -2 || v < lo || v > hi) {
        char range[64];
        snprintf(range, sizeof range, "an integer in %" PRIu64 "..%" PRIu64, lo, hi);
        return expected(c, n, path, range);
    }
    *out = v;
    return 0;
}

/* Reads a signed 64-bit integer (optional '+' or '-'). Returns 0 or SL_ECONFIG. */
static int get_i64(const struct ctx *c, const yaml_node_t *n, const char *path, int64_t *out)
{
    if (n->type != YAML_SCALAR_NODE || strlen(scalar(n)) != n->data.scalar.length)
        return expected(c, n, path, "an integer");
    const char *s = scalar(n);
    int neg = *s == '-';
    uint64_t mag;
    int r = parse_digits(s + neg, &mag);
    if (r == -1 || (neg && s[1] == '+'))
        return expected(c, n, path, "an integer");
    if (r == -2 || mag > (uint64_t)INT64_MAX + (uint64_t)neg)
        return expected(c, n, path, "an integer in -9223372036854775808..9223372036854775807");
    if (!neg)
        *out = (int64_t)mag;
    else
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    return 0;
}

enum drange { D_POSITIVE, D_NONNEG, D_UNIT };

/* Reads a finite decimal number (digits, '.', exponent; no hex, inf or nan) in range `r`.
 * strtod follows LC_NUMERIC, which is "C" unless the program calls setlocale (sluice does
 * not). Returns 0 or SL_ECONFIG. */
static int get_double(const struct ctx *c, const yaml_node_t *n, const char *path, enum drange r,
                      double *out)
{
    static const char *const want[] = {"a positive number", "a non-negative number",
                                       "a number in [0, 1]"};
    if (n->type != YAML_SCALAR_NODE || strlen(scalar(n)) != n->data.scalar.length)
        return expected(c, n, path, want[r]);
    const char *s = scalar(n);
    if (*s == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
        return expected(c, n, path, want[r]);
    char *end;
    double v = strtod(s, &end); /* overflow gives inf, refused below; underflow gives ~0 */
    if (end == s || *end != '\0' || !isfinite(v))
        return expected(c, n, path, want[r]);
    int ok = r == D_POSITIVE ? v > 0.0 : r == D_NONNEG ? v >= 0.0 : v >= 0.0 && v <= 1.0;
    if (!ok)
        return expected(c, n, path, want[r]);
    *out = v;
    return 0;
}

/* Reads true/false (also yes/no, on/off, any of the three usual cases). Returns 0 or
 * SL_ECONFIG. */
static int get_bool(const struct ctx *c, const yaml_node_t *n, const char *path, int *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                      "YES",  "on",   "On",   "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No",
                                     "NO",    "off",   "Off",   "OFF"};
    if (n->type == YAML_SCALAR_NODE) {
        for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
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
    return expected(c, n, path, "true or false");
}

/* Copies a string scalar into out (outsz bytes with the NUL). Returns 0 or SL_ECONFIG when n
 * is not a scalar, is null, is empty and !allow_empty, holds a NUL byte or does not fit. */
static int get_str(const struct ctx *c, const yaml_node_t *n, const char *path, int allow_empty,
                   char *out, size_t outsz)
{
    if (n->type != YAML_SCALAR_NODE || (is_null(n) && !(allow_empty && *scalar(n) == '\0')))
        return expected(c, n, path, allow_empty ? "a string" : "a non-empty string");
    size_t len = n->data.scalar.length;
    if (len == 0 && !allow_empty)
        return expected(c, n, path, "a non-empty string");
    if (strlen(scalar(n)) != len)
        return fail(c, n->start_mark, "%s: expected a string without NUL bytes", path);
    if (len >= outsz)
        return fail(c, n->start_mark, "%s: expected a string of at most %zu bytes, got %zu bytes",
                    path, outsz - 1, len);
    memcpy(out, scalar(n), len + 1);
    return 0;
}

/* Reads a path scalar into out (outsz bytes). "-" and absolute paths are kept; a relative path
 * is prefixed with the directory part of c->name, if it has one. Returns 0 or SL_ECONFIG. */
static int get_path(const struct ctx *c, const yaml_node_t *n, const char *path, char *out,
                    size_t outsz)
{
    if (n->type != YAML_SCALAR_NODE || is_null(n) || n->data.scalar.length == 0)
        return expected(c, n, path, "a non-empty path");
    const char *s = scalar(n);
    size_t len = n->data.scalar.length;
    if (strlen(s) != len)
        return fail(c, n->start_mark, "%s: expected a path without NUL bytes", path);
    const char *slash = strrchr(c->name, '/');
    size_t dirlen = 0; /* bytes of c->name kept, the slash included */
    if (strcmp(s, "-") != 0 && s[0] != '/' && slash)
        dirlen = (size_t)(slash - c->name) + 1;
    if (dirlen + len >= outsz) {
        if (dirlen > 0)
            return fail(c, n->start_mark,
                        "%s: expected a path of at most %zu bytes, got %zu bytes after "
                        "prefixing the directory of %s",
                        path, outsz - 1, dirlen + len, c->name);
        return fail(c, n->start_mark, "%s: expected a path of at most %zu bytes, got %zu bytes",
                    path, outsz - 1, len);
    }
    memcpy(out, c->name, dirlen);
    memcpy(out + dirlen, s, len + 1);
    return 0;
}

/* Matches scalar n against names[0..count). Returns the index, or -1 after failing with
 * "PATH: expected one of a, b, c, got X". */
static int get_choice(const struct ctx *c, const yaml_node_t *n, const char *path,
                      const char *const *names, size_t count)
{
    if (n->type == YAML_SCALAR_NODE) {
        for (size_t i = 0; i < count; i++)
            if (strlen(names[i]) == n->data.scalar.length && strcmp(scalar(n), names[i]) == 0)
                return (int)i;
    }
    char want[256] = "one of ";
    for (size_t i = 0; i < count; i++) {
        size_t o = strlen(want);
        snprintf(want + o, sizeof want - o, "%s%s", i ? ", " : "", names[i]);
    }
    expected(c, n, path, want);
    return -1;
}

/* ---- mappings ---------------------------------------------------------------------------- */

struct field {
    const char *key;
    yaml_node_t *k; /* the key node, NULL when absent */
    yaml_node_t *v; /* its value */
};

/* Checks that n is a mapping whose keys are all among f[0..nf).key, each at most once, and
 * points f[i].k and f[i].v at them (NULL when absent). path names the mapping ("" for the top
 * level). Returns 0 or SL_ECONFIG. */
static int scan_map(const struct ctx *c, const yaml_node_t *n, const char *path, struct field *f,
                    size_t nf)
{
    const char *sep = *path ? ": " : "";
    char q[QUOTE_MAX];
    if (n->type != YAML_MAPPING_NODE) {
        if (!*path)
            return fail(c, n->start_mark, "expected a mapping at the top level, got %s",
                        describe(q, sizeof q, n));
        return expected(c, n, path, "a mapping");
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return fail(c, k->start_mark, "%s%sexpected a string key, got %s", path, sep,
                        describe(q, sizeof q, k));
        size_t i = 0;
        while (i < nf &&
               !(strlen(f[i].key) == k->data.scalar.length && strcmp(f[i].key, scalar(k)) == 0))
            i++;
        if (i == nf) {
            char list[256] = "";
            for (size_t j = 0; j < nf; j++) {
                size_t o = strlen(list);
                snprintf(list + o, sizeof list - o, "%s%s", j ? ", " : "", f[j].key);
            }
            return fail(c, k->start_mark, "%s%sunknown key %s (expected one of: %s)", path, sep,
                        quote(q, sizeof q, scalar(k), k->data.scalar.length), list);
        }
        if (f[i].k)
            return fail(c, k->start_mark, "%s%sduplicate key \"%s\" (first at line %zu)", path, sep,
                        f[i].key, f[i].k->start_mark.line + 1);
        f[i].k = k;
        f[i].v = v;
    }
    return 0;
}

/* Fails at the mapping n: "PATH: missing required key "KEY"" plus why. Returns SL_ECONFIG. */
static int missing(const struct ctx *c, const yaml_node_t *n, const char *path, const char *key,
                   const char *why)
{
    return fail(c, n->start_mark, "%s%smissing required key \"%s\"%s", path, *path ? ": " : "", key,
                why);
}

/* Fails at key node k: "PATH: only allowed when COND". Returns SL_ECONFIG. */
static int not_allowed(const struct ctx *c, const yaml_node_t *k, const char *path,
                       const char *cond)
{
    return fail(c, k->start_mark, "%s: only allowed when %s", path, cond);
}

/* ---- sections ---------------------------------------------------------------------------- */

enum {
    SRC_TYPE,
    SRC_PATH,
    SRC_FORMAT,
    SRC_EVENTS,
    SRC_KEYS,
    SRC_SKEW,
    SRC_CLICK_RATE,
    SRC_PURCHASE_RATE,
    SRC_SEED,
    SRC_START_MS,
    SRC_EVENTS_PER_MS,
    SRC_USERS,
    SRC_NKEYS
};

static int parse_source(const struct ctx *c, const yaml_node_t *n, sl_topology *t)
{
    struct field f[SRC_NKEYS] = {
        {"type", NULL, NULL},       {"path", NULL, NULL},          {"format", NULL, NULL},
        {"events", NULL, NULL},     {"keys", NULL, NULL},          {"skew", NULL, NULL},
        {"click_rate", NULL, NULL}, {"purchase_rate", NULL, NULL}, {"seed", NULL, NULL},
        {"start_ms", NULL, NULL},   {"events_per_ms", NULL, NULL}, {"users", NULL, NULL},
    };
    static const char *const types[] = {"file", "stdin", "generator"};
    static const char *const formats[] = {"ndjson", "json", "csv"};
    static const sl_format format_of[] = {SL_FMT_NDJSON, SL_FMT_NDJSON, SL_FMT_CSV};
    int rc = scan_map(c, n, "source", f, SRC_NKEYS);
    if (rc < 0)
        return rc;

    if (f[SRC_TYPE].v) {
        int k = get_choice(c, f[SRC_TYPE].v, "source.type", types, 3);
        if (k < 0)
            return SL_ECONFIG;
        t->source.kind = (enum sl_source_kind)k;
    } else {
        t->source.kind = f[SRC_PATH].v ? SL_SRC_FILE : SL_SRC_STDIN;
    }

    if (t->source.kind == SL_SRC_FILE) {
        if (!f[SRC_PATH].v)
            return missing(c, n, "source", "path", " (source.type is file)");
        rc = get_path(c, f[SRC_PATH].v, "source.path", t->source.path, sizeof t->source.path);
        if (rc < 0)
            return rc;
    } else if (f[SRC_PATH].k) {
        return not_allowed(c, f[SRC_PATH].k, "source.path", "source.type is file");
    }

    if (f[SRC_FORMAT].v) {
        if (t->source.kind == SL_SRC_GENERATOR)
            return not_allowed(c, f[SRC_FORMAT].k, "source.format", "source.type is file or stdin");
        int k = get_choice(c, f[SRC_FORMAT].v, "source.format", formats, 3);
        if (k < 0)
            return SL_ECONFIG;
        t->source.format = format_of[k];
    }

    if (t->source.kind != SL_SRC_GENERATOR) {
        for (int i = SRC_EVENTS; i < SRC_NKEYS; i++) {
            if (f[i].k) {
                char path[64];
                snprintf(path, sizeof path, "source.%s", f[i].key);
                return not_allowed(c, f[i].k, path, "source.type is generator");
            }
        }
        return 0;
    }

    sl_gen_cfg *g = &t->source.gen;
    uint64_t u;
    if (f[SRC_EVENTS].v) {
        if ((rc = get_u64(c, f[SRC_EVENTS].v, "source.events", 0, UINT64_MAX, &g->events)) < 0)
            return rc;
    }
    if (f[SRC_KEYS].v) {
        if ((rc = get_u64(c, f[SRC_KEYS].v, "source.keys", 1, UINT32_MAX, &u)) < 0)
            return rc;
        g->keys = (uint32_t)u;
    }
    if (f[SRC_SKEW].v) {
        if ((rc = get_double(c, f[SRC_SKEW].v, "source.skew", D_NONNEG, &g->skew)) < 0)
            return rc;
    }
    if (f[SRC_CLICK_RATE].v) {
        rc = get_double(c, f[SRC_CLICK_RATE].v, "source.click_rate", D_UNIT, &g->click_rate);
        if (rc < 0)
            return rc;
    }
    if (f[SRC_PURCHASE_RATE].v) {
        rc = get_double(c, f[SRC_PURCHASE_RATE].v, "source.purchase_rate", D_UNIT,
                        &g->purchase_rate);
        if (rc < 0)
            return rc;
    }
    if (f[SRC_SEED].v) {
        if ((rc = get_u64(c, f[SRC_SEED].v, "source.seed", 0, UINT64_MAX, &g->seed)) < 0)
            return rc;
    }
    if (f[SRC_START_MS].v) {
        if ((rc = get_i64(c, f[SRC_START_MS].v, "source.start_ms", &g->start_ms)) < 0)
            return rc;
    }
    if (f[SRC_EVENTS_PER_MS].v) {
        rc = get_u64(c, f[SRC_EVENTS_PER_MS].v, "source.events_per_ms", 1, UINT32_MAX, &u);
        if (rc < 0)
            return rc;
        g->events_per_ms = (uint32_t)u;
    }
    if (f[SRC_USERS].v) {
        if ((rc = get_u64(c, f[SRC_USERS].v, "source.users", 1, UINT32_MAX, &u)) < 0)
            return rc;
        g->users = (uint32_t)u;
    }
    return 0;
}

static int parse_filter(const struct ctx *c, const yaml_node_t *n, sl_topology *t)
{
    static const char *const names[] = {"view", "impression", "click", "purchase", "other"};
    static const unsigned bits[] = {1u << SL_EV_VIEW, 1u << SL_EV_VIEW, 1u << SL_EV_CLICK,
                                    1u << SL_EV_PURCHASE, 1u << SL_EV_OTHER};
    const char *want = "a non-empty list of view, impression, click, purchase, other";
    struct field f[] = {{"event_types", NULL, NULL}};
    int rc = scan_map(c, n, "filter", f, 1);
    if (rc < 0)
        return rc;
    if (!f[0].v)
        return missing(c, n, "filter", "event_types", "");
    const yaml_node_t *seq = f[0].v;
    if (seq->type != YAML_SEQUENCE_NODE ||
        seq->data.sequence.items.start == seq->data.sequence.items.top)
        return expected(c, seq, "filter.event_types", want);
    uint32_t mask = 0;
    size_t i = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++, i++) {
        char path[64];
        snprintf(path, sizeof path, "filter.event_types[%zu]", i);
        int k = get_choice(c, yaml_document_get_node(c->doc, *it), path, names, 5);
        if (k < 0)
            return SL_ECONFIG;
        mask |= bits[k];
    }
    t->filter_types = mask;
    return 0;
}

enum {
    PE_NAME,
    PE_KIND,
    PE_CAPACITY,
    PE_PRIOR,
    PE_WINDOW_MS,
    PE_LATENESS_MS,
    PE_TRIGGER,
    PE_SOURCE,
    PE_BINARY,
    PE_TIMEOUT_MS,
    PE_JOIN,  /* next stages only */
    PE_VALUE, /* next stages only */
    PE_NKEYS
};

static int parse_trigger(const struct ctx *c, const yaml_node_t *n, const char *pfx,
                         sl_trigger_cfg *tr)
{
    struct field f[] = {{"every_events", NULL, NULL}, {"every_ms", NULL, NULL}};
    char path[96], p0[128], p1[128];
    snprintf(path, sizeof path, "%s.trigger", pfx);
    snprintf(p0, sizeof p0, "%s.every_events", path);
    snprintf(p1, sizeof p1, "%s.every_ms", path);
    int rc = scan_map(c, n, path, f, 2);
    if (rc < 0)
        return rc;
    if (f[0].v && (rc = get_u64(c, f[0].v, p0, 0, UINT64_MAX, &tr->every_events)) < 0)
        return rc;
    if (f[1].v && (rc = get_u64(c, f[1].v, p1, 0, UINT64_MAX, &tr->every_ms)) < 0)
        return rc;
    return 0;
}

static int parse_prior(const struct ctx *c, const yaml_node_t *n, const char *pfx, sl_pe_cfg *pe)
{
    char ppath[96];
    snprintf(ppath, sizeof ppath, "%s.prior", pfx);
    if (n->type != YAML_SEQUENCE_NODE ||
        n->data.sequence.items.top - n->data.sequence.items.start != 2)
        return expected(c, n, ppath, "a list of two positive numbers [a, b]");
    double ab[2];
    for (int i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s[%d]", ppath, i);
        yaml_node_t *item = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
        int rc = get_double(c, item, path, D_POSITIVE, &ab[i]);
        if (rc < 0)
            return rc;
    }
    pe->has_prior = 1;
    pe->prior_a = ab[0];
    pe->prior_b = ab[1];
    return 0;
}

/* Parses a PE mapping at `pfx` ("pe" or "next[i]") into *pe; for a next stage (st not NULL)
 * also its join and value. */
static int parse_pe(const struct ctx *c, const yaml_node_t *n, const char *pfx, sl_pe_cfg *pe,
                    sl_stage_cfg *st)
{
    struct field f[PE_NKEYS] = {
        {"name", NULL, NULL},       {"kind", NULL, NULL},      {"capacity", NULL, NULL},
        {"prior", NULL, NULL},      {"window_ms", NULL, NULL}, {"lateness_ms", NULL, NULL},
        {"trigger", NULL, NULL},    {"source", NULL, NULL},    {"binary", NULL, NULL},
        {"timeout_ms", NULL, NULL}, {"join", NULL, NULL},      {"value", NULL, NULL},
    };
    char path[128];
#define PATH(key) (snprintf(path, sizeof path, "%s.%s", pfx, key), path)
    int rc = scan_map(c, n, pfx, f, st ? PE_NKEYS : PE_NKEYS - 2);
    if (rc < 0)
        return rc;
    if (!f[PE_KIND].v)
        return missing(c, n, pfx, "kind", "");
    int k = get_choice(c, f[PE_KIND].v, PATH("kind"), sl_pe_kind_names, SL_PE_NKINDS + 1);
    if (k < 0)
        return SL_ECONFIG;
    sl_pe_defaults(pe, (enum sl_pe_kind)k);
    if (st) {
        if (f[PE_JOIN].v &&
            (rc = get_path(c, f[PE_JOIN].v, PATH("join"), st->join, sizeof st->join)) < 0)
            return rc;
        if (f[PE_VALUE].v &&
            (rc = get_str(c, f[PE_VALUE].v, PATH("value"), 0, st->value, sizeof st->value)) < 0)
            return rc;
    }

    if (f[PE_NAME].v &&
        (rc = get_str(c, f[PE_NAME].v, PATH("name"), 0, pe->name, sizeof pe->name)) < 0)
        return rc;
    if (f[PE_CAPACITY].v &&
        (rc = get_u64(c, f[PE_CAPACITY].v, PATH("capacity"), 1, CAPACITY_MAX, &pe->capacity)) < 0)
        return rc;
    char cond[128];
    if (f[PE_PRIOR].k) {
        snprintf(cond, sizeof cond, "%s.kind is ctr", pfx);
        if (pe->kind != SL_PE_CTR)
            return not_allowed(c, f[PE_PRIOR].k, PATH("prior"), cond);
        if ((rc = parse_prior(c, f[PE_PRIOR].v, pfx, pe)) < 0)
            return rc;
    }
    const int windowable = pe->kind == SL_PE_WINDOW || pe->kind == SL_PE_USER;
    for (int i = PE_SOURCE; i <= PE_BINARY; i++) {
        if (!f[i].k)
            continue;
        snprintf(cond, sizeof cond, "%s.kind is user", pfx);
        if (pe->kind != SL_PE_USER)
            return not_allowed(c, f[i].k, PATH(f[i].key), cond);
        char *dst = i == PE_SOURCE ? pe->source : pe->binary;
        if ((rc = get_path(c, f[i].v, PATH(f[i].key), dst, sizeof pe->source)) < 0)
            return rc;
    }
    if (pe->kind == SL_PE_USER && !f[PE_SOURCE].k == !f[PE_BINARY].k) {
        snprintf(cond, sizeof cond, "%s.source is absent", pfx);
        if (f[PE_SOURCE].k)
            return not_allowed(c, f[PE_BINARY].k, PATH("binary"), cond);
        snprintf(cond, sizeof cond, " (or %s.binary) for a user PE", pfx);
        return missing(c, n, pfx, "source", cond);
    }
    uint64_t u;
    snprintf(cond, sizeof cond, "%s.kind is window_count or user", pfx);
    if (f[PE_WINDOW_MS].k) {
        if (!windowable)
            return not_allowed(c, f[PE_WINDOW_MS].k, PATH("window_ms"), cond);
        if ((rc = get_u64(c, f[PE_WINDOW_MS].v, PATH("window_ms"), 1, INT64_MAX, &u)) < 0)
            return rc;
        pe->window_ms = (int64_t)u;
    }
    if (f[PE_LATENESS_MS].k) {
        if (!windowable)
            return not_allowed(c, f[PE_LATENESS_MS].k, PATH("lateness_ms"), cond);
        if ((rc = get_u64(c, f[PE_LATENESS_MS].v, PATH("lateness_ms"), 0, INT64_MAX, &u)) < 0)
            return rc;
        pe->lateness_ms = (int64_t)u;
    }
    if (f[PE_TRIGGER].v && (rc = parse_trigger(c, f[PE_TRIGGER].v, pfx, &pe->trigger)) < 0)
        return rc;
    if (f[PE_TIMEOUT_MS].v) {
        if ((rc = get_u64(c, f[PE_TIMEOUT_MS].v, PATH("timeout_ms"), 0, UINT32_MAX, &u)) < 0)
            return rc;
        pe->timeout_ms = (uint32_t)u;
    }
#undef PATH
    return 0;
}

static int parse_next(const struct ctx *c, const yaml_node_t *n, sl_topology *t)
{
    if (n->type != YAML_SEQUENCE_NODE || n->data.sequence.items.top == n->data.sequence.items.start)
        return expected(c, n, "next", "a non-empty list of PE mappings");
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count > SL_STAGES_MAX - 1) {
        char want[64];
        snprintf(want, sizeof want, "at most %d PEs", SL_STAGES_MAX - 1);
        return expected(c, n, "next", want);
    }
    for (size_t i = 0; i < count; i++) {
        char pfx[32];
        snprintf(pfx, sizeof pfx, "next[%zu]", i);
        yaml_node_t *item = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
        sl_stage_cfg *st = &t->next[i];
        memset(st, 0, sizeof *st);
        int rc = parse_pe(c, item, pfx, &st->pe, st);
        if (rc < 0)
            return rc;
    }
    t->nnext = (uint32_t)count;
    return 0;
}

static int parse_batch(const struct ctx *c, const yaml_node_t *n, sl_topology *t)
{
    struct field f[] = {{"events", NULL, NULL}};
    int rc = scan_map(c, n, "batch", f, 1);
    uint64_t u;
    if (rc < 0)
        return rc;
    if (f[0].v) {
        if ((rc = get_u64(c, f[0].v, "batch.events", 1, BATCH_MAX, &u)) < 0)
            return rc;
        t->batch_events = (uint32_t)u;
    }
    return 0;
}

static int parse_sink(const struct ctx *c, const yaml_node_t *n, sl_topology *t)
{
    struct field f[] = {{"path", NULL, NULL}, {"snapshots", NULL, NULL}};
    int rc = scan_map(c, n, "sink", f, 2);
    if (rc < 0)
        return rc;
    if (f[0].v && (rc = get_path(c, f[0].v, "sink.path", t->sink.path, sizeof t->sink.path)) < 0)
        return rc;
    if (f[1].v && (rc = get_bool(c, f[1].v, "sink.snapshots", &t->sink.snapshots)) < 0)
        return rc;
    return 0;
}

#define PLACE_NUMA_MAX 4095u /* far above any machine; hwloc checks the real count */
#define PLACE_CPU_MAX 65535u

/* Checks that s is a cpu list: items "N" or "N-M" (N <= M <= PLACE_CPU_MAX, decimal)
 * separated by commas. Whether the machine has those cpus is checked when placing. */
static int cpu_list_ok(const char *s)
{
    for (;;) {
        uint64_t lo = 0, hi;
        int digits = 0;
        for (; *s >= '0' && *s <= '9' && lo <= PLACE_CPU_MAX; s++, digits++)
            lo = lo * 10 + (uint64_t)(*s - '0');
        if (!digits || lo > PLACE_CPU_MAX)
            return 0;
        hi = lo;
        if (*s == '-') {
            s++;
            hi = 0;
            digits = 0;
            for (; *s >= '0' && *s <= '9' && hi <= PLACE_CPU_MAX; s++, digits++)
                hi = hi * 10 + (uint64_t)(*s - '0');
            if (!digits || hi > PLACE_CPU_MAX || hi < lo)
                return 0;
        }
        if (*s == '\0')
            return 1;
        if (*s++ != ',')
            return 0;
    }
}

/* placement: a list of {device, numa, cpus}, each with device and at least one of the
 * others. */
static int parse_placement(const struct ctx *c, const yaml_node_t *n, sl_topology *t)
{
    if (n->type != YAML_SEQUENCE_NODE || n->data.sequence.items.top == n->data.sequence.items.start)
        return expected(c, n, "placement", "a non-empty list of {device, numa, cpus}");
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count > SL_PLACEMENT_MAX) {
        char want[64];
        snprintf(want, sizeof want, "at most %d entries", SL_PLACEMENT_MAX);
        return expected(c, n, "placement", want);
    }
    for (size_t i = 0; i < count; i++) {
        enum { PL_DEVICE, PL_NUMA, PL_CPUS, PL_N };
        struct field f[PL_N] = {{"device", NULL, NULL}, {"numa", NULL, NULL}, {"cpus", NULL, NULL}};
        yaml_node_t *item = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
        sl_place_override *o = &t->placement[i];
        char pfx[32], path[64];
        uint64_t u;
        snprintf(pfx, sizeof pfx, "placement[%zu]", i);
        int rc = scan_map(c, item, pfx, f, PL_N);
        if (rc < 0)
            return rc;
        if (!f[PL_DEVICE].v)
            return missing(c, item, pfx, "device", "");
        if (!f[PL_NUMA].v && !f[PL_CPUS].v)
            return missing(c, item, pfx, "numa", " (or cpus)");
        memset(o, 0, sizeof *o);
        o->numa = -1;
        snprintf(path, sizeof path, "%s.device", pfx);
        if ((rc = get_str(c, f[PL_DEVICE].v, path, 0, o->device, sizeof o->device)) < 0)
            return rc;
        if (f[PL_NUMA].v) {
            snprintf(path, sizeof path, "%s.numa", pfx);
            if ((rc = get_u64(c, f[PL_NUMA].v, path, 0, PLACE_NUMA_MAX, &u)) < 0)
                return rc;
            o->numa = (int)u;
        }
        if (f[PL_CPUS].v) {
            snprintf(path, sizeof path, "%s.cpus", pfx);
            if ((rc = get_str(c, f[PL_CPUS].v, path, 0, o->cpus, sizeof o->cpus)) < 0)
                return rc;
            if (!cpu_list_ok(o->cpus))
                return expected(c, f[PL_CPUS].v, path,
                                "a cpu list such as \"0-3,8\" (cpus 0..65535)");
        }
    }
    t->nplacement = (uint32_t)count;
    return 0;
}

enum {
    TOP_DEVICE,
    TOP_SOURCE,
    TOP_FILTER,
    TOP_PE,
    TOP_NEXT,
    TOP_BATCH,
    TOP_SINK,
    TOP_PLACEMENT,
    TOP_NKEYS
};

/* Walks the document root (NULL for an empty stream) into *t. Returns 0 or SL_ECONFIG. */
static int parse_root(const struct ctx *c, const yaml_node_t *root, sl_topology *t)
{
    struct field f[TOP_NKEYS] = {
        {"device", NULL, NULL}, {"source", NULL, NULL},    {"filter", NULL, NULL},
        {"pe", NULL, NULL},     {"next", NULL, NULL},      {"batch", NULL, NULL},
        {"sink", NULL, NULL},   {"placement", NULL, NULL},
    };
    yaml_mark_t start = {0, 0, 0};
    int rc;
    if (!root)
        return fail(c, start, "missing required key \"pe\"");
    if ((rc = scan_map(c, root, "", f, TOP_NKEYS)) < 0)
        return rc;
    if (!f[TOP_PE].v)
        return missing(c, root, "", "pe", "");
    if (f[TOP_DEVICE].v &&
        (rc = get_str(c, f[TOP_DEVICE].v, "device", 1, t->device, sizeof t->device)) < 0)
        return rc;
    if (f[TOP_SOURCE].v && (rc = parse_source(c, f[TOP_SOURCE].v, t)) < 0)
        return rc;
    if (f[TOP_FILTER].v && (rc = parse_filter(c, f[TOP_FILTER].v, t)) < 0)
        return rc;
    if ((rc = parse_pe(c, f[TOP_PE].v, "pe", &t->pe, NULL)) < 0)
        return rc;
    if (f[TOP_NEXT].v && (rc = parse_next(c, f[TOP_NEXT].v, t)) < 0)
        return rc;
    if (f[TOP_BATCH].v && (rc = parse_batch(c, f[TOP_BATCH].v, t)) < 0)
        return rc;
    if (f[TOP_SINK].v && (rc = parse_sink(c, f[TOP_SINK].v, t)) < 0)
        return rc;
    if (f[TOP_PLACEMENT].v && (rc = parse_placement(c, f[TOP_PLACEMENT].v, t)) < 0)
        return rc;
    return 0;
}

/* Reports a libyaml failure of `p` on `text`. Returns SL_ENOMEM or SL_ECONFIG. */
static int syntax_error(const struct ctx *c, const yaml_parser_t *p, const char *text, size_t len)
{
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_MEMORY_ERROR) {
        set_err(c->err, c->errlen, "%s: out of memory while parsing", c->name);
        return SL_ENOMEM;
    }
    if (p->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark: count lines up to it. */
        yaml_mark_t m = {0, 0, 0};
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            if (text[i] == '\n') {
                m.line++;
                m.column = 0;
            } else {
                m.column++;
            }
        }
        if (p->problem_value >= 0)
            return fail(c, m, "%s (byte 0x%02x at offset %zu)", problem, (unsigned)p->problem_value,
                        p->problem_offset);
        return fail(c, m, "%s (at offset %zu)", problem, p->problem_offset);
    }
    if (p->context)
        return fail(c, p->problem_mark, "%s (%s at line %zu, column %zu)", problem, p->context,
                    p->context_mark.line + 1, p->context_mark.column + 1);
    return fail(c, p->problem_mark, "%s", problem);
}

/* ---- limits checked before and while libyaml parses -------------------------------------- */

/* libyaml's scanner keeps one simple-key slot per open flow collection and walks all of them
 * for every token, so deep flow nesting costs time quadratic in the depth (250,000 '[' take
 * about 95 s). Text that goes to libyaml is therefore limited in size, pre-scanned for flow
 * nesting, and walked event by event (stopping at the first collection too deep) before the
 * document is loaded. */

static int is_space_or_break(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Refuses text over CONFIG_FILE_MAX bytes. Returns 0 or SL_ECONFIG. */
static int check_size(const struct ctx *c, size_t len)
{
    yaml_mark_t start = {0, 0, 0};
    if (len <= CONFIG_FILE_MAX)
        return 0;
    return fail(c, start, "config file is %zu bytes; the limit is %zu MiB", len,
                CONFIG_FILE_MAX >> 20);
}

/* The mark of text[i]; line_off is the offset of its line's first byte. Columns count
 * characters (UTF-8 lead bytes), as libyaml's do. */
static yaml_mark_t mark_at(const char *text, size_t i, size_t line, size_t line_off)
{
    yaml_mark_t m = {i, line, 0};
    for (size_t k = line_off; k < i; k++)
        if (((unsigned char)text[k] & 0xC0) != 0x80)
            m.column++;
    return m;
}

/* Counts the flow nesting ('[' and '{' that open a collection) of text without parsing it,
 * skipping comments, quoted scalars and the lines of block scalars, and refuses text nested
 * deeper than CONFIG_DEPTH_MAX at the bracket that goes one level too deep. A bracket is an
 * indicator anywhere inside a flow collection, outside one only where a value starts (after
 * whitespace or at the start of a line). The scan errs towards counting less: whatever it
 * misses, the event walk (check_depth_events) still refuses. Returns 0 or SL_ECONFIG. */
static int check_flow_depth(const struct ctx *c, const char *text, size_t len)
{
    size_t line = 0, line_off = 0;
    size_t indent = 0;       /* leading spaces of the current line */
    int at_line_start = 1;   /* nothing but spaces yet on this line */
    int in_block = 0;        /* inside a block scalar */
    int block_any = 0;       /* ... whose content may be at any indentation (header on "---") */
    size_t block_indent = 0; /* ... else indented deeper than this (its header line's) */
    int flow = 0, prev = '\n';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (at_line_start && ch == ' ') {
            indent++;
            continue;
        }
        if (at_line_start) {
            at_line_start = 0;
            if (in_block) {
                int marker = indent == 0 && len - i >= 3 &&
                             (memcmp(text + i, "---", 3) == 0 || memcmp(text + i, "...", 3) == 0);
                if (ch == '\n' || ch == '\r' || (block_any ? !marker : indent > block_indent)) {
                    while (i < len && text[i] != '\n') /* a line of the scalar */
                        i++;
                    if (i == len)
                        break;
                    ch = '\n';
                } else {
                    in_block = 0;
                }
            }
        }
        if (ch == '\n') {
            line++;
            line_off = i + 1;
            indent = 0;
            at_line_start = 1;
            prev = '\n';
            continue;
        }
        int value_start = is_space_or_break(prev);
        if (ch == '#' && value_start) {
            while (i + 1 < len && text[i + 1] != '\n') /* a comment */
                i++;
        } else if ((ch == '\'' || ch == '"') &&
                   (value_start || (flow > 0 && strchr("[{,:", prev) != NULL))) {
            /* A quoted scalar, which may span lines: '' escapes a quote in single quotes, a
             * backslash escapes the next byte in double quotes. */
            for (i++; i < len; i++) {
                if (text[i] == '\n') {
                    line++;
                    line_off = i + 1;
                } else if (ch == '\'' && text[i] == '\'') {
                    if (i + 1 < len && text[i + 1] == '\'')
                        i++;
                    else
                        break;
                } else if (ch == '"' && text[i] == '\\' && i + 1 < len && text[i + 1] != '\n') {
                    i++;
                } else if (ch == '"' && text[i] == '"') {
                    break;
                }
            }
            if (i == len)
                break; /* unterminated: libyaml reports it */
        } else if ((ch == '[' || ch == '{') && (flow > 0 || value_start)) {
            if (++flow > CONFIG_DEPTH_MAX)
                return fail(c, mark_at(text, i, line, line_off), "nesting deeper than %d levels",
                            CONFIG_DEPTH_MAX);
        } else if ((ch == ']' || ch == '}') && flow > 0) {
            flow--;
        } else if ((ch == '|' || ch == '>') && flow == 0 && value_start) {
            /* A block scalar header: the content is on the lines after it. */
            in_block = 1;
            block_any = indent == 0 && i - line_off >= 3 && memcmp(text + line_off, "---", 3) == 0;
            block_indent = indent;
            while (i + 1 < len && text[i + 1] != '\n')
                i++;
        }
        prev = ch;
    }
    return 0;
}

/* Walks libyaml's events over text and refuses a collection nested deeper than
 * CONFIG_DEPTH_MAX (block or flow, the root counting as the first level) at its start, before
 * libyaml has read much past it. Syntax errors are reported as parse_doc would. Returns 0,
 * SL_ECONFIG or SL_ENOMEM. */
static int check_depth_events(const struct ctx *c, const char *text, size_t len)
{
    yaml_parser_t parser;
    int depth = 0, rc = 0;
    if (!yaml_parser_initialize(&parser)) {
        set_err(c->err, c->errlen, "%s: out of memory", c->name);
        return SL_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = syntax_error(c, &parser, text, len);
            break;
        }
        yaml_event_type_t type = ev.type;
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (++depth > CONFIG_DEPTH_MAX)
                rc = fail(c, ev.start_mark, "nesting deeper than %d levels", CONFIG_DEPTH_MAX);
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
        if (rc || type == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&parser);
    return rc;
}

typedef int (*root_fn)(const struct ctx *c, const yaml_node_t *root, void *out);

static int topology_root(const struct ctx *c, const yaml_node_t *root, void *out)
{
    sl_topology tmp;
    sl_topology_defaults(&tmp);
    int rc = parse_root(c, root, &tmp);
    if (rc == 0)
        memcpy(out, &tmp, sizeof tmp);
    return rc;
}

static int parse_doc(const char *text, size_t len, const char *name, root_fn fn, void *out,
                     char *err, size_t errlen);

/* Parses into a local topology and copies it to *t only on success: on error *t is unchanged
 * and err holds the message. */
int sl_config_parse(const char *text, size_t len, const char *name, sl_topology *t, char *err,
                    size_t errlen)
{
    return parse_doc(text, len, name, topology_root, t, err, errlen);
}

static int parse_doc(const char *text, size_t len, const char *name, root_fn fn, void *out,
                     char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    int have_doc = 0, have_extra = 0, rc;
    struct ctx c = {name ? name : "<config>", &doc, err, errlen};

    if (errlen > 0 && err)
        err[0] = '\0';
    if (!text) {
        text = "";
        len = 0;
    }
    if ((rc = check_size(&c, len)) < 0 || (rc = check_flow_depth(&c, text, len)) < 0 ||
        (rc = check_depth_events(&c, text, len)) < 0)
        return rc;
    if (!yaml_parser_initialize(&parser)) {
        set_err(err, errlen, "%s: out of memory", c.name);
        return SL_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = syntax_error(&c, &parser, text, len);
        goto out;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        if (!yaml_parser_load(&parser, &extra)) {
            rc = syntax_error(&c, &parser, text, len);
            goto out;
        }
        have_extra = 1;
        if (yaml_document_get_root_node(&extra)) {
            rc = fail(&c, extra.start_mark, "expected a single YAML document, found a second one");
            goto out;
        }
    }
    rc = fn(&c, root, out);
out:
    if (have_extra)
        yaml_document_delete(&extra);
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

static int load_doc(const char *path, root_fn fn, void *out, char *err, size_t errlen);

int sl_config_load(const char *path, sl_topology *t, char *err, size_t errlen)
{
    return load_doc(path, topology_root, t, err, errlen);
}

/* Reads the whole file (at most CONFIG_FILE_MAX bytes: a larger regular file is refused before
 * anything is read) and parses it with `path` as its name. Returns 0, SL_EIO, SL_ENOMEM or
 * SL_ECONFIG; on error the output is unchanged. */
static int load_doc(const char *path, root_fn fn, void *out, char *err, size_t errlen)
{
    const struct ctx c = {path, NULL, err, errlen};
    const yaml_mark_t start = {0, 0, 0};
    char *buf = NULL;
    size_t len = 0, cap = 0;
    struct stat st;
    int rc;
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return SL_EIO;
    }
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > (off_t)CONFIG_FILE_MAX) {
        rc = fail(&c, start, "config file is %jd bytes; the limit is %zu MiB", (intmax_t)st.st_size,
                  CONFIG_FILE_MAX >> 20);
        goto out;
    }
    for (;;) {
        if (len == cap) {
            if (cap > CONFIG_FILE_MAX) { /* a pipe, or a file that grew */
                rc = fail(&c, start, "config file is over %zu bytes; the limit is %zu MiB",
                          CONFIG_FILE_MAX, CONFIG_FILE_MAX >> 20);
                goto out;
            }
            size_t ncap = cap ? cap * 2 : 4096;
            if (ncap > CONFIG_FILE_MAX)
                ncap = CONFIG_FILE_MAX + 1; /* one byte more tells a file over the limit */
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                set_err(err, errlen, "%s: out of memory", path);
                rc = SL_ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
                rc = SL_EIO;
                goto out;
            }
            break;
        }
    }
    rc = parse_doc(buf, len, path, fn, out, err, errlen);
out:
    free(buf);
    fclose(f);
    return rc;
}

/* ---- cluster files ----------------------------------------------------------------------- */

/* 1 for 127.x.y.z, ::1 and localhost. */
static int host_is_loopback(const char *h)
{
    return strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0 || strcmp(h, "localhost") == 0;
}

static int parse_net(const struct ctx *c, const yaml_node_t *n, sl_net_opts *o)
{
    enum { N_BATCH, N_FLUSH, N_MAXF, N_HWM, N_LINGER, N_HB, N_LIVE, N_N };
    struct field f[N_N] = {
        {"batch_bytes", NULL, NULL}, {"flush_us", NULL, NULL},  {"max_frame", NULL, NULL},
        {"hwm", NULL, NULL},         {"linger_ms", NULL, NULL}, {"heartbeat_ms", NULL, NULL},
        {"liveness_ms", NULL, NULL},
    };
    int rc = scan_map(c, n, "net", f, N_N);
    uint64_t u;
    if (rc < 0)
        return rc;
    if (f[N_MAXF].v) {
        if ((rc = get_u64(c, f[N_MAXF].v, "net.max_frame", 4096, UINT64_C(1) << 30, &u)) < 0)
            return rc;
        o->max_payload = (size_t)u;
    }
    if (f[N_BATCH].v) {
        if ((rc = get_u64(c, f[N_BATCH].v, "net.batch_bytes", 64, o->max_payload, &u)) < 0)
            return rc;
        o->batch_bytes = (size_t)u;
    }
    if (f[N_FLUSH].v &&
        (rc = get_u64(c, f[N_FLUSH].v, "net.flush_us", 0, UINT64_C(60000000), &o->flush_us)) < 0)
        return rc;
    if (f[N_HWM].v) {
        if ((rc = get_u64(c, f[N_HWM].v, "net.hwm", 1, 1000000, &u)) < 0)
            return rc;
        o->hwm = (int)u;
    }
    if (f[N_LINGER].v) {
        if ((rc = get_u64(c, f[N_LINGER].v, "net.linger_ms", 0, 3600000, &u)) < 0)
            return rc;
        o->linger_ms = (int)u;
    }
    if (f[N_HB].v) {
        if ((rc = get_u64(c, f[N_HB].v, "net.heartbeat_ms", 100, 3600000, &u)) < 0)
            return rc;
        o->heartbeat_ms = (int)u;
    }
    if (f[N_LIVE].v) {
        if ((rc = get_u64(c, f[N_LIVE].v, "net.liveness_ms", 500, 3600000, &u)) < 0)
            return rc;
        o->liveness_ms = (int)u;
    }
    return 0;
}

static int parse_nodes(const struct ctx *c, const yaml_node_t *n, sl_cluster_cfg *cl)
{
    if (n->type != YAML_SEQUENCE_NODE || n->data.sequence.items.top == n->data.sequence.items.start)
        return expected(c, n, "nodes", "a non-empty list of {id, host, port}");
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count > SL_NODES_MAX) {
        char want[64];
        snprintf(want, sizeof want, "at most %d nodes", SL_NODES_MAX);
        return expected(c, n, "nodes", want);
    }
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
        struct field f[3] = {{"id", NULL, NULL}, {"host", NULL, NULL}, {"port", NULL, NULL}};
        char pfx[32], path[64];
        snprintf(pfx, sizeof pfx, "nodes[%zu]", i);
        int rc = scan_map(c, item, pfx, f, 3);
        if (rc < 0)
            return rc;
        for (int k = 0; k < 3; k++)
            if (!f[k].v)
                return missing(c, item, pfx, f[k].key, "");
        uint64_t id, port;
        snprintf(path, sizeof path, "%s.id", pfx);
        if ((rc = get_u64(c, f[0].v, path, i, i, &id)) < 0)
            return fail(c, f[0].v->start_mark, "%s: node ids must be 0..N-1 in order: expected %zu",
                        path, i);
        snprintf(path, sizeof path, "%s.host", pfx);
        if ((rc = get_str(c, f[1].v, path, 0, cl->nodes[i].host, sizeof cl->nodes[i].host)) < 0)
            return rc;
        snprintf(path, sizeof path, "%s.port", pfx);
        if ((rc = get_u64(c, f[2].v, path, 1, 65536 - SL_NODE_SPAN, &port)) < 0)
            return rc;
        cl->nodes[i].port = (uint32_t)port;
    }
    cl->nnodes = (uint32_t)count;
    return 0;
}

static int cluster_root(const struct ctx *c, const yaml_node_t *root, void *out)
{
    enum { C_NODES, C_PARTS, C_CLIENT, C_DEVICE, C_NET, C_CURVE, C_INSECURE, C_N };
    struct field f[C_N] = {
        {"nodes", NULL, NULL},    {"partitions", NULL, NULL}, {"client_host", NULL, NULL},
        {"device", NULL, NULL},   {"net", NULL, NULL},        {"curve", NULL, NULL},
        {"insecure", NULL, NULL},
    };
    yaml_mark_t start = {0, 0, 0};
    sl_cluster_cfg tmp;
    uint64_t u;
    int rc;
    sl_cluster_defaults(&tmp);
    if (!root)
        return fail(c, start, "missing required key \"nodes\"");
    if ((rc = scan_map(c, root, "", f, C_N)) < 0)
        return rc;
    if (!f[C_NODES].v)
        return missing(c, root, "", "nodes", "");
    if ((rc = parse_nodes(c, f[C_NODES].v, &tmp)) < 0)
        return rc;
    if (f[C_PARTS].v) {
        if ((rc = get_u64(c, f[C_PARTS].v, "partitions", 1, 65536, &u)) < 0)
            return rc;
        tmp.partitions = (uint32_t)u;
    }
    if (f[C_CLIENT].v && (rc = get_str(c, f[C_CLIENT].v, "client_host", 0, tmp.client_host,
                                       sizeof tmp.client_host)) < 0)
        return rc;
    if (f[C_DEVICE].v &&
        (rc = get_str(c, f[C_DEVICE].v, "device", 1, tmp.device, sizeof tmp.device)) < 0)
        return rc;
    if (f[C_NET].v && (rc = parse_net(c, f[C_NET].v, &tmp.net)) < 0)
        return rc;
    if (tmp.net.batch_bytes > tmp.net.max_payload)
        return fail(c, f[C_NET].k->start_mark, "net.batch_bytes (%zu) exceeds net.max_frame (%zu)",
                    tmp.net.batch_bytes, tmp.net.max_payload);
    if (f[C_CURVE].v) {
        struct field k[1] = {{"keys", NULL, NULL}};
        if ((rc = scan_map(c, f[C_CURVE].v, "curve", k, 1)) < 0)
            return rc;
        if (!k[0].v)
            return missing(c, f[C_CURVE].v, "curve", "keys", "");
        if ((rc = get_path(c, k[0].v, "curve.keys", tmp.keys_dir, sizeof tmp.keys_dir)) < 0)
            return rc;
    }
    if (f[C_INSECURE].v && (rc = get_bool(c, f[C_INSECURE].v, "insecure", &tmp.insecure)) < 0)
        return rc;
    /* Without keys anyone who reaches a port can drive the cluster: only loopback, unless the
     * file says it means it. */
    if (!tmp.keys_dir[0] && !tmp.insecure) {
        for (uint32_t i = 0; i < tmp.nnodes; i++)
            if (!host_is_loopback(tmp.nodes[i].host))
                return fail(c, f[C_NODES].v->start_mark,
                            "nodes[%u].host %s is not a loopback address, and the cluster has no "
                            "CURVE keys: make them with 'sluice keygen DIR' and add "
                            "'curve: {keys: DIR}', or add 'insecure: true' to run unauthenticated",
                            i, tmp.nodes[i].host);
        if (!host_is_loopback(tmp.client_host))
            return fail(c, f[C_CLIENT].v->start_mark,
                        "client_host %s is not a loopback address, and the cluster has no CURVE "
                        "keys: add 'curve: {keys: DIR}' (sluice keygen DIR) or 'insecure: true'",
                        tmp.client_host);
    }
    memcpy(out, &tmp, sizeof tmp);
    return 0;
}

int sl_cluster_parse(const char *text, size_t len, const char *name, sl_cluster_cfg *c, char *err,
                     size_t errlen)
{
    return parse_doc(text, len, name, cluster_root, c, err, errlen);
}

int sl_cluster_load(const char *path, sl_cluster_cfg *c, char *err, size_t errlen)
{
    int rc = load_doc(path, cluster_root, c, err, errlen);
    if (rc)
        return rc;
    if (c->keys_dir[0]) {
        char kerr[4600];
        if (sl_keys_load(c->keys_dir, &c->net, kerr, sizeof kerr)) {
            snprintf(err, errlen, "%s: curve.keys: %s", path, kerr);
            return SL_ECONFIG;
        }
    }
    return 0;
}
