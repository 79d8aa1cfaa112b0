/* Topology files: YAML -> sl_topology (config.h), the rules of each section. The document is
 * loaded whole (yamlmap.h) and walked section by section against fixed key tables, so that a
 * section can check keys that depend on each other (pe.prior needs pe.kind, wherever kind
 * appears) and every message can point at the node at fault. docs/config.md is the reference
 * of the keys. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "columns.h"
#include "err.h"
#include "event.h"
#include "pes.h"
#include "schema_yaml.h"
#include "sink.h"
#include "source.h"
#include "yamlmap.h"

#define CAPACITY_MAX (UINT64_C(1) << 31)
#define BATCH_MAX (UINT64_C(1) << 26)
#define PLACE_NUMA_MAX 4095u /* far above any machine; hwloc checks the real count */
#define PLACE_CPU_MAX 65535u

/* ---- source ------------------------------------------------------------------------------- */

enum {
    SRC_TYPE,
    SRC_PATH,
    SRC_FORMAT,
    SRC_DELIMITER,
    SRC_HEADER,
    SRC_EVENTS, /* from here on the generator's */
    SRC_KEYS,
    SRC_SKEW,
    SRC_CLICK_RATE,
    SRC_PURCHASE_RATE,
    SRC_SEED,
    SRC_START_MS,
    SRC_EVENTS_PER_MS,
    SRC_USERS,
    SRC_INGEST,
    SRC_MAX_MALFORMED,
    SRC_NKEYS
};

static const char *const source_keys[SRC_NKEYS] = {
    [SRC_TYPE] = "type",
    [SRC_PATH] = "path",
    [SRC_FORMAT] = "format",
    [SRC_DELIMITER] = "delimiter",
    [SRC_HEADER] = "header",
    [SRC_EVENTS] = "events",
    [SRC_KEYS] = "keys",
    [SRC_SKEW] = "skew",
    [SRC_CLICK_RATE] = "click_rate",
    [SRC_PURCHASE_RATE] = "purchase_rate",
    [SRC_SEED] = "seed",
    [SRC_START_MS] = "start_ms",
    [SRC_EVENTS_PER_MS] = "events_per_ms",
    [SRC_USERS] = "users",
    [SRC_INGEST] = "ingest",
    [SRC_MAX_MALFORMED] = "max_malformed",
};

static const sl_ym_rule generator_rules[] = {
    SL_YM_UINT(SRC_EVENTS, sl_gen_cfg, events, 0, UINT64_MAX),
    SL_YM_UINT(SRC_KEYS, sl_gen_cfg, keys, 1, UINT32_MAX),
    SL_YM_REAL(SRC_SKEW, sl_gen_cfg, skew, SL_YM_NONNEG),
    SL_YM_REAL(SRC_CLICK_RATE, sl_gen_cfg, click_rate, SL_YM_UNIT),
    SL_YM_REAL(SRC_PURCHASE_RATE, sl_gen_cfg, purchase_rate, SL_YM_UNIT),
    SL_YM_UINT(SRC_SEED, sl_gen_cfg, seed, 0, UINT64_MAX),
    SL_YM_INT(SRC_START_MS, sl_gen_cfg, start_ms),
    SL_YM_UINT(SRC_EVENTS_PER_MS, sl_gen_cfg, events_per_ms, 1, UINT32_MAX),
    SL_YM_UINT(SRC_USERS, sl_gen_cfg, users, 1, UINT32_MAX),
};

/* Fails with "PATH: expected one of NAMES, got X" for a kind name the table lacks. */
static int kind_of(const sl_ym_ctx *c, const yaml_node_t *n, const char *path,
                   const char *(*name_of)(int))
{
    const char *names[32];
    size_t count = 0;
    while (count < SL_YM_COUNT(names) && name_of((int)count))
        names[count] = name_of((int)count), count++;
    return sl_ym_choice(c, n, path, names, count);
}

/* source.delimiter (one byte, or "\t"/"tab") and source.header (true, false or auto): CSV
 * only. Returns 0 or SL_ECONFIG. */
static int parse_csv_keys(const sl_ym_ctx *c, const sl_ym_field *f, sl_topology *t)
{
    if ((f[SRC_DELIMITER].v || f[SRC_HEADER].v) && t->source.format != SL_FMT_CSV)
        return sl_ym_refuse(c, f, SRC_DELIMITER, SRC_HEADER + 1, "source",
                            "source.format is csv or tsv");
    if (f[SRC_DELIMITER].v) {
        char d[8];
        if (sl_ym_str(c, f[SRC_DELIMITER].v, "source.delimiter", 0, d, sizeof d) < 0)
            return SL_ECONFIG;
        if (strcmp(d, "\\t") == 0 || strcmp(d, "tab") == 0)
            d[0] = '\t', d[1] = '\0';
        if (strlen(d) != 1 || d[0] == '"' || d[0] == '\n' || d[0] == '\r')
            return sl_ym_fail(c, f[SRC_DELIMITER].v->start_mark,
                              "source.delimiter: expected one byte other than a quote or a "
                              "newline (\"\\t\" or tab for a tab), got \"%s\"",
                              d);
        t->schema.delimiter = (unsigned char)d[0];
    }
    if (f[SRC_HEADER].v) {
        const yaml_node_t *h = f[SRC_HEADER].v;
        int yes;
        if (h->type == YAML_SCALAR_NODE && strcmp((const char *)h->data.scalar.value, "auto") == 0)
            t->schema.header = SL_HEADER_AUTO;
        else if (sl_ym_bool(c, h, "source.header", &yes) < 0)
            return SL_ECONFIG;
        else
            t->schema.header = yes ? SL_HEADER_YES : SL_HEADER_NO;
    }
    return 0;
}

/* source: type (file when there is a path, else stdin), path and format, the generator's
 * settings, and the keys of other kinds (into source.opts, checked by the kind's backend in
 * host/io). Returns 0 or SL_ECONFIG. */
static int parse_source(const sl_ym_ctx *c, const yaml_node_t *n, sl_topology *t, char *err,
                        size_t errlen)
{
    static const char *const formats[] = {"ndjson", "json", "csv", "tsv"};
    static const sl_format format_of[] = {SL_FMT_NDJSON, SL_FMT_NDJSON, SL_FMT_CSV, SL_FMT_CSV};
    sl_ym_field f[SRC_NKEYS];
    int rc = sl_ym_scan_rest(c, n, "source", source_keys, SRC_NKEYS, f, &t->source.opts);
    if (rc < 0)
        return rc;

    if (f[SRC_TYPE].v) {
        int k = kind_of(c, f[SRC_TYPE].v, "source.type", sl_source_kind_name);
        if (k < 0)
            return SL_ECONFIG;
        t->source.kind = k;
    } else {
        t->source.kind = f[SRC_PATH].v ? SL_SRC_FILE : SL_SRC_STDIN;
    }
    if (sl_source_check(t, err, errlen) < 0)
        return SL_ECONFIG;

    if (t->source.kind == SL_SRC_FILE) {
        if (!f[SRC_PATH].v)
            return sl_ym_missing(c, n, "source", "path", " (source.type is file)");
        rc = sl_ym_path(c, f[SRC_PATH].v, "source.path", t->source.path, sizeof t->source.path);
    } else {
        rc = sl_ym_refuse(c, f, SRC_PATH, SRC_PATH + 1, "source", "source.type is file");
    }
    if (rc < 0)
        return rc;

    if (f[SRC_FORMAT].v) {
        if (t->source.kind == SL_SRC_GENERATOR)
            return sl_ym_refuse(c, f, SRC_FORMAT, SRC_FORMAT + 1, "source",
                                "source.type is file or stdin");
        int k = sl_ym_choice(c, f[SRC_FORMAT].v, "source.format", formats, SL_YM_COUNT(formats));
        if (k < 0)
            return SL_ECONFIG;
        t->source.format = format_of[k];
        if (k == 3)
            t->schema.delimiter = '\t';
    }
    if ((rc = parse_csv_keys(c, f, t)) < 0)
        return rc;

    if (f[SRC_INGEST].v) {
        static const char *const at[] = {"client", "nodes"};
        int k = sl_ym_choice(c, f[SRC_INGEST].v, "source.ingest", at, SL_YM_COUNT(at));
        if (k < 0)
            return SL_ECONFIG;
        t->source.ingest = k;
        char why[512];
        if (k == SL_INGEST_NODES && sl_source_splittable(t, why, sizeof why)) {
            sl_ym_fail(c, f[SRC_INGEST].v->start_mark, "source.ingest: nodes: %s", why);
            return SL_ECONFIG;
        }
    }

    /* max_malformed: the share of malformed lines a run accepts (0..1) */
    if (f[SRC_MAX_MALFORMED].v) {
        if (t->source.kind == SL_SRC_GENERATOR)
            return sl_ym_refuse(c, f, SRC_MAX_MALFORMED, SRC_MAX_MALFORMED + 1, "source",
                                "the source reads lines (source.type is not generator)");
        if ((rc = sl_ym_double(c, f[SRC_MAX_MALFORMED].v, "source.max_malformed", SL_YM_UNIT,
                               &t->source.max_malformed)) < 0)
            return rc;
    }

    if (t->source.kind != SL_SRC_GENERATOR)
        rc = sl_ym_refuse(c, f, SRC_EVENTS, SRC_INGEST, "source", "source.type is generator");
    else
        rc = sl_ym_read(c, f, "source", generator_rules, SL_YM_COUNT(generator_rules),
                        &t->source.gen);
    return rc;
}

/* ---- filter ------------------------------------------------------------------------------- */

/* filter: event_types, a non-empty list of type names. Returns 0 or SL_ECONFIG. */
static int parse_filter(const sl_ym_ctx *c, const yaml_node_t *n, sl_topology *t)
{
    static const char *const keys[] = {"event_types"};
    static const char *const names[] = {"view", "impression", "click", "purchase", "other"};
    static const unsigned bits[] = {1u << SL_EV_VIEW, 1u << SL_EV_VIEW, 1u << SL_EV_CLICK,
                                    1u << SL_EV_PURCHASE, 1u << SL_EV_OTHER};
    sl_ym_field f[1];
    size_t count;
    int rc = sl_ym_scan(c, n, "filter", keys, 1, f);
    if (rc < 0)
        return rc;
    if (!f[0].v)
        return sl_ym_missing(c, n, "filter", "event_types", "");
    if ((rc = sl_ym_list(c, f[0].v, "filter.event_types",
                         "a non-empty list of view, impression, click, purchase, other", SIZE_MAX,
                         NULL, &count)) < 0)
        return rc;
    uint32_t mask = 0;
    for (size_t i = 0; i < count; i++) {
        char path[64];
        snprintf(path, sizeof path, "filter.event_types[%zu]", i);
        int k = sl_ym_choice(c, sl_ym_item(c, f[0].v, i), path, names, SL_YM_COUNT(names));
        if (k < 0)
            return SL_ECONFIG;
        mask |= bits[k];
    }
    t->filter_types = mask;
    return 0;
}

/* ---- pe and next -------------------------------------------------------------------------- */

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
    PE_PARAMS,
    PE_FIELD, /* the first PE only */
    PE_FORMAT,
    PE_JOIN,  /* next stages only */
    PE_VALUE, /* next stages only */
    PE_NKEYS
};

static const char *const pe_keys[PE_NKEYS] = {
    [PE_NAME] = "name",           [PE_KIND] = "kind",
    [PE_CAPACITY] = "capacity",   [PE_PRIOR] = "prior",
    [PE_WINDOW_MS] = "window_ms", [PE_LATENESS_MS] = "lateness_ms",
    [PE_TRIGGER] = "trigger",     [PE_SOURCE] = "source",
    [PE_BINARY] = "binary",       [PE_TIMEOUT_MS] = "timeout_ms",
    [PE_PARAMS] = "params",       [PE_FIELD] = "field",
    [PE_JOIN] = "join",           [PE_VALUE] = "value",
    [PE_FORMAT] = "format",
};

static const sl_ym_rule stage_rules[] = {
    SL_YM_PATH(PE_JOIN, sl_stage_cfg, join),
    SL_YM_STR(PE_VALUE, sl_stage_cfg, value, 0),
};
static const sl_ym_rule pe_rules[] = {
    SL_YM_STR(PE_NAME, sl_pe_cfg, name, 0),
    SL_YM_UINT(PE_CAPACITY, sl_pe_cfg, capacity, 1, CAPACITY_MAX),
};
static const sl_ym_rule user_rules[] = {
    SL_YM_PATH(PE_SOURCE, sl_pe_cfg, source),
    SL_YM_PATH(PE_BINARY, sl_pe_cfg, binary),
};
static const sl_ym_rule window_rules[] = {
    SL_YM_UINT(PE_WINDOW_MS, sl_pe_cfg, window_ms, 1, INT64_MAX),
    SL_YM_UINT(PE_LATENESS_MS, sl_pe_cfg, lateness_ms, 0, INT64_MAX),
};
static const sl_ym_rule timeout_rules[] = {
    SL_YM_UINT(PE_TIMEOUT_MS, sl_pe_cfg, timeout_ms, 0, UINT32_MAX),
};

/* PFX.trigger: every_events and every_ms. Returns 0 or SL_ECONFIG. */
static int parse_trigger(const sl_ym_ctx *c, const yaml_node_t *n, const char *pfx,
                         sl_trigger_cfg *tr)
{
    static const char *const keys[] = {"every_events", "every_ms"};
    static const sl_ym_rule rules[] = {
        SL_YM_UINT(0, sl_trigger_cfg, every_events, 0, UINT64_MAX),
        SL_YM_UINT(1, sl_trigger_cfg, every_ms, 0, UINT64_MAX),
    };
    char path[96];
    return sl_ym_plain(c, n, sl_ym_join(path, sizeof path, pfx, "trigger"), keys, 2, rules, 2, tr);
}

/* PFX.prior: [a, b], two positive numbers. Returns 0 or SL_ECONFIG. */
static int parse_prior(const sl_ym_ctx *c, const yaml_node_t *n, const char *pfx, sl_pe_cfg *pe)
{
    char ppath[96];
    sl_ym_join(ppath, sizeof ppath, pfx, "prior");
    if (sl_ym_len(n) != 2)
        return sl_ym_expected(c, n, ppath, "a list of two positive numbers [a, b]");
    double ab[2];
    for (size_t i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s[%zu]", ppath, i);
        int rc = sl_ym_double(c, sl_ym_item(c, n, i), path, SL_YM_POSITIVE, &ab[i]);
        if (rc < 0)
            return rc;
    }
    pe->has_prior = 1;
    pe->prior_a = ab[0];
    pe->prior_b = ab[1];
    return 0;
}

/* PFX.params: a mapping of names to numbers (sl_pe_param_check). Returns 0 or SL_ECONFIG. */
static int parse_params(const sl_ym_ctx *c, const yaml_node_t *n, const char *pfx, sl_pe_cfg *pe)
{
    char path[128], err[256];
    sl_ym_join(path, sizeof path, pfx, "params");
    if (n->type != YAML_MAPPING_NODE || n->data.mapping.pairs.start == n->data.mapping.pairs.top)
        return sl_ym_expected(c, n, path, "a mapping of names to numbers");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (pe->nparams == SL_PE_PARAMS)
            return sl_ym_fail(c, k->start_mark, "%s: at most %d params", path, SL_PE_PARAMS);
        sl_pe_param *pa = &pe->param[pe->nparams];
        if (sl_ym_str(c, k, path, 0, pa->name, sizeof pa->name) < 0)
            return SL_ECONFIG;
        char vpath[192];
        snprintf(vpath, sizeof vpath, "%s.%s", path, pa->name);
        if (sl_ym_str(c, v, vpath, 0, pa->value, sizeof pa->value) < 0)
            return SL_ECONFIG;
        if (sl_pe_param_check(pa, err, sizeof err) < 0)
            return sl_ym_fail(c, k->start_mark, "%s: %s", path, err);
        for (uint32_t i = 0; i < pe->nparams; i++)
            if (strcasecmp(pe->param[i].name, pa->name) == 0)
                return sl_ym_fail(c, k->start_mark,
                                  "%s: \"%s\" given twice (names are not "
                                  "case-sensitive: both become one constant)",
                                  path, pa->name);
        pe->nparams++;
    }
    return 0;
}

/* 1 when the len bytes at s are a column name ([A-Za-z_][A-Za-z0-9_]*, under 48 bytes) or "*". */
static int column_name_ok(const char *s, size_t len)
{
    if (len == 1 && s[0] == '*')
        return 1;
    if (len == 0 || len >= sizeof((sl_columns *)0)->name[0] || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* PFX.format: a mapping of column names ("*": every float column) to formats, into
 * pe->format as "NAME:FMT,...". A built-in kind's columns are known: a name that is not one of
 * them, or a key column, is refused here; a user PE's are checked when its program is built
 * (peprog.c). Returns 0 or SL_ECONFIG. */
static int parse_format(const sl_ym_ctx *c, const yaml_node_t *n, const char *pfx, sl_pe_cfg *pe)
{
    static const char *const fmts[] = {"g",  "int", "f0", "f1", "f2", "f3",
                                       "f4", "f5",  "f6", "f7", "f8", "f9"};
    char path[128], vpath[192], err[512];
    sl_ym_join(path, sizeof path, pfx, "format");
    if (n->type != YAML_MAPPING_NODE)
        return sl_ym_expected(c, n, path, "a mapping of column names to formats ({ctr: f6})");
    const sl_pe_def *def = sl_pe_def_of(pe->kind);
    sl_columns cols;
    if (def->columns && sl_columns_parse(def->columns, &cols, err, sizeof err))
        return sl_ym_fail(c, n->start_mark, "%s: %s", path, err);
    size_t used = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *name = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
        size_t len = k->type == YAML_SCALAR_NODE ? k->data.scalar.length : 0;
        if (!column_name_ok(name, len))
            return sl_ym_expected(c, k, path, "a column name or \"*\" as a key");
        char entry[64], seen[sizeof pe->format + 1];
        snprintf(entry, sizeof entry, ",%s:", name);
        snprintf(seen, sizeof seen, ",%s", pe->format);
        if (strstr(seen, entry))
            return sl_ym_fail(c, k->start_mark, "%s: duplicate key \"%s\"", path, name);
        snprintf(vpath, sizeof vpath, "%s.%s", path, name);
        int f = sl_ym_choice(c, v, vpath, fmts, SL_YM_COUNT(fmts));
        if (f < 0)
            return SL_ECONFIG;
        snprintf(entry, sizeof entry, "%s:%s", name, fmts[f]);
        if (def->columns && sl_columns_override(&cols, entry, err, sizeof err))
            return sl_ym_fail(c, k->start_mark, "%s: %s", path, err);
        int w =
            snprintf(pe->format + used, sizeof pe->format - used, "%s%s", used ? "," : "", entry);
        if (w < 0 || (size_t)w >= sizeof pe->format - used)
            return sl_ym_fail(c, k->start_mark, "%s: too many columns", path);
        used += (size_t)w;
    }
    return 0;
}

/* Writes "PFX.kind is A or B" for the kinds with any of `flags`. */
static void kind_cond(char *cond, size_t len, const char *pfx, unsigned flags)
{
    char kinds[96];
    sl_pe_kinds_with(flags, kinds, sizeof kinds);
    snprintf(cond, len, "%s.kind is %s", pfx, kinds);
}

/* Parses a PE mapping at `pfx` ("pe" or "next[i]") into *pe; for a next stage (st not NULL)
 * also its join and value. Returns 0 or SL_ECONFIG. */
static int parse_pe(const sl_ym_ctx *c, const yaml_node_t *n, const char *pfx, sl_pe_cfg *pe,
                    sl_stage_cfg *st)
{
    sl_ym_field f[PE_NKEYS];
    char path[128], cond[128];
    int rc = sl_ym_scan(c, n, pfx, pe_keys, st ? PE_NKEYS : PE_NKEYS - 2, f);
    if (rc < 0)
        return rc;
    if (!f[PE_KIND].v)
        return sl_ym_missing(c, n, pfx, "kind", "");
    int k = sl_ym_choice(c, f[PE_KIND].v, sl_ym_join(path, sizeof path, pfx, "kind"),
                         sl_pe_kind_names, SL_PE_NKINDS + 1);
    if (k < 0)
        return SL_ECONFIG;
    sl_pe_defaults(pe, (enum sl_pe_kind)k);
    if (st && (rc = sl_ym_read(c, f, pfx, stage_rules, SL_YM_COUNT(stage_rules), st)) < 0)
        return rc;
    if ((rc = sl_ym_read(c, f, pfx, pe_rules, SL_YM_COUNT(pe_rules), pe)) < 0)
        return rc;

    /* Which keys a kind takes comes from its flags in the PE table (pes.h). */
    unsigned flags = sl_pe_def_of(pe->kind)->flags;
    if (f[PE_PRIOR].k) {
        kind_cond(cond, sizeof cond, pfx, SL_PEF_PRIOR);
        if (!(flags & SL_PEF_PRIOR))
            return sl_ym_refuse(c, f, PE_PRIOR, PE_PRIOR + 1, pfx, cond);
        if ((rc = parse_prior(c, f[PE_PRIOR].v, pfx, pe)) < 0)
            return rc;
    }

    kind_cond(cond, sizeof cond, pfx, SL_PEF_USER);
    if (!(flags & SL_PEF_USER))
        rc = sl_ym_refuse(c, f, PE_SOURCE, PE_BINARY + 1, pfx, cond);
    else
        rc = sl_ym_read(c, f, pfx, user_rules, SL_YM_COUNT(user_rules), pe);
    if (rc < 0)
        return rc;
    if ((flags & SL_PEF_USER) && !f[PE_SOURCE].k == !f[PE_BINARY].k) {
        snprintf(cond, sizeof cond, "%s.source is absent", pfx);
        if (f[PE_SOURCE].k)
            return sl_ym_refuse(c, f, PE_BINARY, PE_BINARY + 1, pfx, cond);
        snprintf(cond, sizeof cond, " (or %s.binary) for a user PE", pfx);
        return sl_ym_missing(c, n, pfx, "source", cond);
    }

    kind_cond(cond, sizeof cond, pfx, SL_PEF_WINDOW | SL_PEF_WINDOW_OPT);
    if (!(flags & (SL_PEF_WINDOW | SL_PEF_WINDOW_OPT)))
        rc = sl_ym_refuse(c, f, PE_WINDOW_MS, PE_LATENESS_MS + 1, pfx, cond);
    else
        rc = sl_ym_read(c, f, pfx, window_rules, SL_YM_COUNT(window_rules), pe);
    if (rc < 0)
        return rc;

    if (f[PE_TRIGGER].v && (rc = parse_trigger(c, f[PE_TRIGGER].v, pfx, &pe->trigger)) < 0)
        return rc;
    if (f[PE_PARAMS].v && (rc = parse_params(c, f[PE_PARAMS].v, pfx, pe)) < 0)
        return rc;
    if (st && f[PE_FIELD].k)
        return sl_ym_refuse(c, f, PE_FIELD, PE_FIELD + 1, pfx,
                            "the first PE (pe:): a next stage takes its value from value:");
    if (f[PE_FIELD].v &&
        (rc = sl_ym_str(c, f[PE_FIELD].v, sl_ym_join(path, sizeof path, pfx, "field"), 0, pe->field,
                        sizeof pe->field)) < 0)
        return rc;
    if (f[PE_FORMAT].v && (rc = parse_format(c, f[PE_FORMAT].v, pfx, pe)) < 0)
        return rc;
    return sl_ym_read(c, f, pfx, timeout_rules, SL_YM_COUNT(timeout_rules), pe);
}

/* next: a list of up to SL_STAGES_MAX - 1 further PEs. Returns 0 or SL_ECONFIG. */
static int parse_next(const sl_ym_ctx *c, const yaml_node_t *n, sl_topology *t)
{
    size_t count;
    int rc = sl_ym_list(c, n, "next", "a non-empty list of PE mappings", SL_STAGES_MAX - 1, "PEs",
                        &count);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < count; i++) {
        char pfx[32];
        snprintf(pfx, sizeof pfx, "next[%zu]", i);
        sl_stage_cfg *st = &t->next[i];
        memset(st, 0, sizeof *st);
        if ((rc = parse_pe(c, sl_ym_item(c, n, i), pfx, &st->pe, st)) < 0)
            return rc;
    }
    t->nnext = (uint32_t)count;
    return 0;
}

/* ---- batch, sink -------------------------------------------------------------------------- */

static const char *const batch_keys[] = {"events", "max_wait_ms"};
static const sl_ym_rule batch_rules[] = {
    SL_YM_UINT(0, sl_topology, batch_events, 1, BATCH_MAX),
    SL_YM_UINT(1, sl_topology, batch_wait_ms, 0, 60000),
};

enum { SINK_TYPE, SINK_PATH, SINK_SNAPSHOTS, SINK_FORMAT, SINK_MODE, SINK_NKEYS };

/* sink: type (a file by default), path, snapshots, format and mode, and the keys of other
 * kinds (into sink.opts, checked by the kind's backend in host/io). Returns 0 or SL_ECONFIG. */
static int parse_sink(const sl_ym_ctx *c, const yaml_node_t *n, sl_topology *t, char *err,
                      size_t errlen)
{
    static const char *const keys[SINK_NKEYS] = {"type", "path", "snapshots", "format", "mode"};
    static const sl_ym_rule rules[] = {
        SL_YM_PATH(SINK_PATH, sl_topology, sink.path),
        SL_YM_BOOL(SINK_SNAPSHOTS, sl_topology, sink.snapshots),
    };
    static const char *const formats[] = {"csv", "ndjson"};
    static const char *const modes[] = {"full", "changes"};
    sl_ym_field f[SINK_NKEYS];
    int rc = sl_ym_scan_rest(c, n, "sink", keys, SINK_NKEYS, f, &t->sink.opts);
    if (rc < 0 || (rc = sl_ym_read(c, f, "sink", rules, SL_YM_COUNT(rules), t)) < 0)
        return rc;
    if (f[SINK_TYPE].v &&
        (t->sink.kind = kind_of(c, f[SINK_TYPE].v, "sink.type", sl_sink_kind_name)) < 0)
        return SL_ECONFIG;
    if (t->sink.kind != SL_SINK_FILE &&
        (rc = sl_ym_refuse(c, f, SINK_PATH, SINK_PATH + 1, "sink", "sink.type is file")) < 0)
        return rc;
    if (f[SINK_FORMAT].v &&
        (t->sink.format = sl_ym_choice(c, f[SINK_FORMAT].v, "sink.format", formats, 2)) < 0)
        return SL_ECONFIG;
    if (f[SINK_MODE].v &&
        (t->sink.mode = sl_ym_choice(c, f[SINK_MODE].v, "sink.mode", modes, 2)) < 0)
        return SL_ECONFIG;
    return sl_sink_check(t, err, errlen) < 0 ? SL_ECONFIG : 0;
}

/* ---- placement ---------------------------------------------------------------------------- */

/* Checks that s is a cpu list: items "N" or "N-M" (N <= M <= PLACE_CPU_MAX, decimal)
 * separated by commas. Whether the machine has those cpus is checked when placing. Returns 1
 * when it is one. */
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

enum { PL_DEVICE, PL_NUMA, PL_CPUS, PL_NKEYS };
static const char *const placement_keys[PL_NKEYS] = {
    [PL_DEVICE] = "device",
    [PL_NUMA] = "numa",
    [PL_CPUS] = "cpus",
};
static const sl_ym_rule placement_rules[] = {
    SL_YM_STR(PL_DEVICE, sl_place_override, device, 0),
    SL_YM_UINT(PL_NUMA, sl_place_override, numa, 0, PLACE_NUMA_MAX),
    SL_YM_STR(PL_CPUS, sl_place_override, cpus, 0),
};

/* placement: a list of {device, numa, cpus}, each with device and at least one of the
 * others. Returns 0 or SL_ECONFIG. */
static int parse_placement(const sl_ym_ctx *c, const yaml_node_t *n, sl_topology *t)
{
    size_t count;
    int rc = sl_ym_list(c, n, "placement", "a non-empty list of {device, numa, cpus}",
                        SL_PLACEMENT_MAX, "entries", &count);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < count; i++) {
        sl_ym_field f[PL_NKEYS];
        yaml_node_t *item = sl_ym_item(c, n, i);
        sl_place_override *o = &t->placement[i];
        char pfx[32];
        snprintf(pfx, sizeof pfx, "placement[%zu]", i);
        if ((rc = sl_ym_scan(c, item, pfx, placement_keys, PL_NKEYS, f)) < 0)
            return rc;
        if (!f[PL_DEVICE].v)
            return sl_ym_missing(c, item, pfx, "device", "");
        if (!f[PL_NUMA].v && !f[PL_CPUS].v)
            return sl_ym_missing(c, item, pfx, "numa", " (or cpus)");
        memset(o, 0, sizeof *o);
        o->numa = -1;
        rc = sl_ym_read(c, f, pfx, placement_rules, SL_YM_COUNT(placement_rules), o);
        if (rc < 0)
            return rc;
        if (f[PL_CPUS].v && !cpu_list_ok(o->cpus)) {
            char path[64];
            return sl_ym_expected(c, f[PL_CPUS].v, sl_ym_join(path, sizeof path, pfx, "cpus"),
                                  "a cpu list such as \"0-3,8\" (cpus 0..65535)");
        }
    }
    t->nplacement = (uint32_t)count;
    return 0;
}

/* ---- the file ----------------------------------------------------------------------------- */

enum {
    TOP_DEVICE,
    TOP_SOURCE,
    TOP_FILTER,
    TOP_PE,
    TOP_NEXT,
    TOP_BATCH,
    TOP_SINK,
    TOP_PLACEMENT,
    TOP_CHECKPOINT,
    TOP_SCHEMA,
    TOP_NKEYS
};

static const char *const top_keys[TOP_NKEYS] = {
    [TOP_DEVICE] = "device", [TOP_SOURCE] = "source",       [TOP_FILTER] = "filter",
    [TOP_PE] = "pe",         [TOP_NEXT] = "next",           [TOP_BATCH] = "batch",
    [TOP_SINK] = "sink",     [TOP_PLACEMENT] = "placement", [TOP_CHECKPOINT] = "checkpoint",
    [TOP_SCHEMA] = "schema",
};

/* checkpoint: every_ms and dir (both required), keep. Returns 0 or SL_ECONFIG. */
static int parse_checkpoint(const sl_ym_ctx *c, const yaml_node_t *n, sl_topology *t)
{
    static const char *const keys[] = {"every_ms", "dir", "keep"};
    static const sl_ym_rule rules[] = {
        SL_YM_UINT(0, sl_topology, checkpoint.every_ms, 1, 86400000),
        SL_YM_PATH(1, sl_topology, checkpoint.dir),
        SL_YM_UINT(2, sl_topology, checkpoint.keep, 1, 1000),
    };
    sl_ym_field f[3];
    int rc = sl_ym_scan(c, n, "checkpoint", keys, 3, f);
    if (rc < 0)
        return rc;
    if (!f[0].v)
        return sl_ym_missing(c, n, "checkpoint", "every_ms", "");
    if (!f[1].v)
        return sl_ym_missing(c, n, "checkpoint", "dir", "");
    return sl_ym_read(c, f, "checkpoint", rules, SL_YM_COUNT(rules), t);
}

/* pe.field names the schema field the first PE takes as its value: it must be declared and
 * numeric, and agree with schema.value when both are given. Returns 0 or SL_ECONFIG. */
static int resolve_field(const sl_ym_ctx *c, const yaml_node_t *pe, sl_topology *t)
{
    sl_ym_field f[PE_NKEYS];
    if (sl_ym_scan(c, pe, "pe", pe_keys, PE_NKEYS - 2, f) < 0)
        return SL_ECONFIG;
    sl_schema *s = &t->schema;
    int i = sl_schema_yaml_field(c, f[PE_FIELD].v, "pe.field", s, SL_FT_DOUBLE);
    if (i < 0)
        return SL_ECONFIG;
    int type = s->field[i].type;
    if (type != SL_FT_INT64 && type != SL_FT_DOUBLE && type != SL_FT_BOOL)
        return sl_ym_fail(c, f[PE_FIELD].v->start_mark,
                          "pe.field: \"%s\" is declared %s; a PE's input is int64, double or "
                          "bool",
                          s->field[i].name, sl_ftype_name(type));
    if (s->declared && s->value_field >= 0 && s->value_field != i)
        return sl_ym_fail(c, f[PE_FIELD].v->start_mark,
                          "pe.field: \"%s\", but schema.value is \"%s\": name one",
                          s->field[i].name, s->field[s->value_field].name);
    s->value_field = i;
    return 0;
}

/* Walks the document root (NULL for an empty document) into *t. Returns 0 or SL_ECONFIG. */
static int parse_root(const sl_ym_ctx *c, const yaml_node_t *root, sl_topology *t)
{
    static const sl_ym_rule device_rule[] = {SL_YM_STR(TOP_DEVICE, sl_topology, device, 1)};
    sl_ym_field f[TOP_NKEYS];
    int rc;
    if ((rc = sl_ym_scan(c, root, "", top_keys, TOP_NKEYS, f)) < 0)
        return rc;
    if (!f[TOP_PE].v)
        return sl_ym_missing(c, root, "", "pe", "");
    if ((rc = sl_ym_read(c, f, "", device_rule, 1, t)) < 0)
        return rc;
    if (f[TOP_SOURCE].v && (rc = parse_source(c, f[TOP_SOURCE].v, t, c->err, c->errlen)) < 0)
        return rc;
    if (f[TOP_SCHEMA].v && (rc = sl_schema_yaml(c, f[TOP_SCHEMA].v, &t->schema)) < 0)
        return rc;
    if (f[TOP_FILTER].v && (rc = parse_filter(c, f[TOP_FILTER].v, t)) < 0)
        return rc;
    if ((rc = parse_pe(c, f[TOP_PE].v, "pe", &t->pe, NULL)) < 0)
        return rc;
    if (t->pe.field[0] && (rc = resolve_field(c, f[TOP_PE].v, t)) < 0)
        return rc;
    if (f[TOP_NEXT].v && (rc = parse_next(c, f[TOP_NEXT].v, t)) < 0)
        return rc;
    if (f[TOP_BATCH].v &&
        (rc = sl_ym_plain(c, f[TOP_BATCH].v, "batch", batch_keys, 2, batch_rules, 2, t)) < 0)
        return rc;
    if (f[TOP_SINK].v && (rc = parse_sink(c, f[TOP_SINK].v, t, c->err, c->errlen)) < 0)
        return rc;
    if (f[TOP_PLACEMENT].v && (rc = parse_placement(c, f[TOP_PLACEMENT].v, t)) < 0)
        return rc;
    if (f[TOP_CHECKPOINT].v && (rc = parse_checkpoint(c, f[TOP_CHECKPOINT].v, t)) < 0)
        return rc;
    char why[300];
    if (t->schema.nattrs && sl_source_carries_attrs(t, why, sizeof why))
        return sl_ym_fail(c, f[TOP_SCHEMA].v->start_mark, "%s", why);
    return 0;
}

/* Parses into a local topology from the defaults and copies it to out only on success.
 * Returns 0 or SL_ECONFIG. */
static int topology_root(const sl_ym_ctx *c, const yaml_node_t *root, void *out)
{
    sl_topology tmp;
    sl_topology_defaults(&tmp);
    int rc = parse_root(c, root, &tmp);
    if (rc == 0) {
        sl_topology_bind_attrs(&tmp);
        memcpy(out, &tmp, sizeof tmp);
    }
    return rc;
}

int sl_config_parse(const char *text, size_t len, const char *name, sl_topology *t, char *err,
                    size_t errlen)
{
    return sl_ym_parse(text, len, name, topology_root, t, err, errlen);
}

int sl_config_load(const char *path, sl_topology *t, char *err, size_t errlen)
{
    return sl_ym_load(path, topology_root, t, err, errlen);
}
