/* The topology's `schema:` section; see schema_yaml.h and docs/config.md "Schemas".
 *
 *   schema:
 *     fields: {query: string, ad_id: string, hour: time, click: int64,
 *              bid: {type: double, optional: true}}
 *     key: [query, ad_id]                   # or one name
 *     time: {field: hour, format: "%y%m%d%H"} # or a name (format ms)
 *     type: {impression: all, click: {field: click, equals: 1}}
 *       # or {field: event_type, map: {VIEW: view, clk: click}, case_insensitive: true}
 *     value: bid                            # the record's value (optional)
 *     user: user_id                         # hashed into the record's user (optional)
 */
#include "schema_yaml.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "event.h"

static const char *text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* 1 when name is [A-Za-z_][A-Za-z0-9_]*. */
static int name_ok(const char *name)
{
    for (const char *q = name; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '_' ||
              (q > name && *q >= '0' && *q <= '9')))
            return 0;
    return *name != '\0';
}

int sl_schema_yaml_field(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, sl_schema *s,
                         int type)
{
    char name[SL_SCHEMA_NAME];
    if (sl_ym_str(c, n, path, 0, name, sizeof name) < 0)
        return -1;
    int i = sl_schema_find(s, name, strlen(name));
    if (i >= 0)
        return i;
    if (s->implied && type >= 0) { /* no fields: list: the field is declared by its use */
        if (!name_ok(name)) {
            sl_ym_fail(c, n->start_mark, "%s: \"%s\" is not a field name ([A-Za-z_][A-Za-z0-9_]*)",
                       path, name);
            return -1;
        }
        if (s->nfields == SL_SCHEMA_FIELDS) {
            sl_ym_fail(c, n->start_mark, "%s: at most %d fields", path, SL_SCHEMA_FIELDS);
            return -1;
        }
        sl_schema_field *f = &s->field[s->nfields];
        snprintf(f->name, sizeof f->name, "%s", name);
        f->type = type;
        f->optional = 0;
        return (int)s->nfields++;
    }
    char list[512] = "";
    size_t at = 0;
    for (uint32_t k = 0; k < s->nfields && at < sizeof list; k++) {
        int w = snprintf(list + at, sizeof list - at, "%s%s", k ? ", " : "", s->field[k].name);
        if (w < 0)
            break;
        at += (size_t)w;
    }
    sl_ym_fail(c, n->start_mark, "%s: no field \"%s\" in schema.fields (declared: %s)", path, name,
               list);
    return -1;
}

/* fields: a mapping of name -> type, or name -> {type, optional}. */
static int read_fields(const sl_ym_ctx *c, const yaml_node_t *n, sl_schema *s)
{
    if (n->type != YAML_MAPPING_NODE || n->data.mapping.pairs.start == n->data.mapping.pairs.top)
        return sl_ym_expected(c, n, "schema.fields", "a mapping of field names to types");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (s->nfields == SL_SCHEMA_FIELDS)
            return sl_ym_fail(c, k->start_mark, "schema.fields: at most %d fields",
                              SL_SCHEMA_FIELDS);
        sl_schema_field *f = &s->field[s->nfields];
        if (sl_ym_str(c, k, "schema.fields", 0, f->name, sizeof f->name) < 0)
            return SL_ECONFIG;
        if (!name_ok(f->name))
            return sl_ym_fail(c, k->start_mark,
                              "schema.fields: \"%s\" is not a name ([A-Za-z_][A-Za-z0-9_]*)",
                              f->name);
        if (sl_schema_find(s, f->name, strlen(f->name)) >= 0)
            return sl_ym_fail(c, k->start_mark, "schema.fields: \"%s\" declared twice", f->name);
        char path[96];
        snprintf(path, sizeof path, "schema.fields.%s", f->name);
        const yaml_node_t *tn = v;
        f->optional = 0;
        if (v->type == YAML_MAPPING_NODE) {
            static const char *const keys[] = {"type", "optional"};
            sl_ym_field g[2];
            if (sl_ym_scan(c, v, path, keys, 2, g) < 0)
                return SL_ECONFIG;
            if (!g[0].v)
                return sl_ym_missing(c, v, path, "type", "");
            if (g[1].v && sl_ym_bool(c, g[1].v, "optional", &f->optional) < 0)
                return SL_ECONFIG;
            tn = g[0].v;
        }
        static const char *const types[SL_FT_N] = {"string", "int64", "double", "bool", "time"};
        int t = sl_ym_choice(c, tn, path, types, SL_FT_N);
        if (t < 0)
            return SL_ECONFIG;
        f->type = t;
        s->nfields++;
    }
    return 0;
}

/* A list under `key` (at most max items) of field names into out[] as field indexes (an implied
 * field is declared `type`), each named once. Returns 0 with *count set, or SL_ECONFIG. */
static int read_field_list(const sl_ym_ctx *c, const yaml_node_t *n, const char *key,
                           const char *what, size_t max, int type, sl_schema *s, int32_t *out,
                           size_t *count)
{
    if (sl_ym_list(c, n, key, what, max, "fields", count) < 0)
        return SL_ECONFIG;
    for (size_t i = 0; i < *count; i++) {
        char path[48];
        snprintf(path, sizeof path, "%s[%zu]", key, i);
        int f = sl_schema_yaml_field(c, sl_ym_item(c, n, i), path, s, type);
        if (f < 0)
            return SL_ECONFIG;
        for (size_t j = 0; j < i; j++)
            if (out[j] == f)
                return sl_ym_fail(c, sl_ym_item(c, n, i)->start_mark, "%s: \"%s\" named twice",
                                  path, s->field[f].name);
        out[i] = f;
    }
    return 0;
}

static int read_key(const sl_ym_ctx *c, const yaml_node_t *n, sl_schema *s)
{
    if (n->type == YAML_SCALAR_NODE) {
        s->nkey = 1;
        return (s->key[0] = sl_schema_yaml_field(c, n, "schema.key", s, SL_FT_STRING)) < 0
                   ? SL_ECONFIG
                   : 0;
    }
    size_t count;
    if (read_field_list(c, n, "schema.key", "a field name or a list of them", SL_SCHEMA_KEYS,
                        SL_FT_STRING, s, s->key, &count))
        return SL_ECONFIG;
    s->nkey = (uint32_t)count;
    return 0;
}

/* schema.attributes: a list of numeric fields (an implied one is declared a double). */
static int read_attrs(const sl_ym_ctx *c, const yaml_node_t *n, sl_schema *s)
{
    size_t count;
    if (read_field_list(c, n, "schema.attributes", "a list of field names", SL_SCHEMA_ATTRS,
                        SL_FT_DOUBLE, s, s->attr, &count))
        return SL_ECONFIG;
    s->nattrs = (uint32_t)count;
    for (uint32_t i = 0; i < s->nattrs; i++) {
        char err[256];
        if (sl_schema_check_attr(s, i, err, sizeof err))
            return sl_ym_fail(c, sl_ym_item(c, n, i)->start_mark, "schema.attributes[%u]: %s", i,
                              err);
    }
    return 0;
}

static int read_time(const sl_ym_ctx *c, const yaml_node_t *n, sl_schema *s)
{
    const yaml_node_t *fn = n, *fmt = NULL;
    if (n->type == YAML_MAPPING_NODE) {
        static const char *const keys[] = {"field", "format", "unit"};
        sl_ym_field g[3];
        if (sl_ym_scan(c, n, "schema.time", keys, 3, g) < 0)
            return SL_ECONFIG;
        if (!g[0].v)
            return sl_ym_missing(c, n, "schema.time", "field", "");
        if (g[1].v && g[2].v)
            return sl_ym_fail(c, g[2].k->start_mark,
                              "schema.time: format and unit say the same; give one");
        fn = g[0].v;
        fmt = g[1].v ? g[1].v : g[2].v;
    }
    if ((s->time_field = sl_schema_yaml_field(c, fn, "schema.time.field", s, SL_FT_TIME)) < 0)
        return SL_ECONFIG;
    if (s->field[s->time_field].type != SL_FT_TIME)
        return sl_ym_fail(
            c, fn->start_mark, "schema.time.field: \"%s\" is declared %s; declare it time",
            s->field[s->time_field].name, sl_ftype_name(s->field[s->time_field].type));
    s->time_format = SL_TIME_MS;
    if (!fmt)
        return 0;
    char f[SL_SCHEMA_TEXT], err[256];
    if (sl_ym_str(c, fmt, "schema.time.format", 0, f, sizeof f) < 0)
        return SL_ECONFIG;
    int k = sl_timefmt_parse(f);
    if (k < 0)
        return sl_ym_fail(c, fmt->start_mark,
                          "schema.time.format: expected ms, s, iso8601 or a pattern such as "
                          "\"%%Y-%%m-%%d %%H:%%M:%%S\", got \"%s\"",
                          f);
    if (k == SL_TIME_PATTERN && sl_time_pattern_check(f, err, sizeof err) < 0)
        return sl_ym_fail(c, fmt->start_mark, "schema.time.format: %s", err);
    s->time_format = k;
    memcpy(s->time_pattern, f, sizeof f);
    return 0;
}

static const char *const type_names[] = {"view", "impression", "click", "purchase", "other"};
static const int type_of[] = {SL_EV_VIEW, SL_EV_VIEW, SL_EV_CLICK, SL_EV_PURCHASE, SL_EV_OTHER};

/* type: {field, map, case_insensitive}: one field's value names the type. */
static int read_type_field(const sl_ym_ctx *c, const sl_ym_field *g, sl_schema *s)
{
    s->type_mode = SL_TYPE_FIELD;
    if ((s->type_field = sl_schema_yaml_field(c, g[0].v, "schema.type.field", s, SL_FT_STRING)) < 0)
        return SL_ECONFIG;
    const yaml_node_t *m = g[1].v;
    if (!m)
        return 0;
    if (m->type != YAML_MAPPING_NODE || m->data.mapping.pairs.start == m->data.mapping.pairs.top)
        return sl_ym_expected(c, m, "schema.type.map", "a mapping of values to event types");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (s->nmap == SL_SCHEMA_MAP)
            return sl_ym_fail(c, k->start_mark, "schema.type.map: at most %d entries",
                              SL_SCHEMA_MAP);
        sl_type_map *e = &s->map[s->nmap];
        if (sl_ym_str(c, k, "schema.type.map", 0, e->text, sizeof e->text) < 0)
            return SL_ECONFIG;
        char path[96];
        snprintf(path, sizeof path, "schema.type.map.%s", e->text);
        int t = sl_ym_choice(c, v, path, type_names, SL_YM_COUNT(type_names));
        if (t < 0)
            return SL_ECONFIG;
        e->type = type_of[t];
        s->nmap++;
    }
    return 0;
}

/* Predicates, {impression: all, click: {field: click, equals: 1}, ...}: g[i] is the node of
 * type_names[i] (NULL when absent), under pfx ("schema" or "schema.type"). */
static int read_type_preds(const sl_ym_ctx *c, const sl_ym_field *g, const char *pfx, sl_schema *s)
{
    s->type_mode = SL_TYPE_PREDICATES;
    for (size_t i = 0; i < SL_YM_COUNT(type_names); i++) {
        const yaml_node_t *v = g[i].v;
        if (!v)
            continue;
        char path[48];
        snprintf(path, sizeof path, "%s.%s", pfx, type_names[i]);
        sl_type_pred *pr = &s->pred[type_of[i]];
        if (pr->on)
            return sl_ym_fail(c, v->start_mark, "%s: that type has a predicate already", path);
        pr->on = 1;
        if (v->type == YAML_SCALAR_NODE && strcmp(text(v), "all") == 0) {
            pr->all = 1;
            continue;
        }
        static const char *const keys[] = {"field", "equals"};
        sl_ym_field h[2];
        if (v->type != YAML_MAPPING_NODE)
            return sl_ym_expected(c, v, path, "all or {field: NAME, equals: VALUE}");
        if (sl_ym_scan(c, v, path, keys, 2, h) < 0)
            return SL_ECONFIG;
        if (!h[0].v)
            return sl_ym_missing(c, v, path, "field", "");
        if (!h[1].v)
            return sl_ym_missing(c, v, path, "equals", "");
        char fp[64], ep[64];
        snprintf(fp, sizeof fp, "%s.field", path);
        snprintf(ep, sizeof ep, "%s.equals", path);
        if ((pr->field = sl_schema_yaml_field(c, h[0].v, fp, s, SL_FT_STRING)) < 0)
            return SL_ECONFIG;
        if (sl_ym_str(c, h[1].v, ep, 1, pr->equals, sizeof pr->equals) < 0)
            return SL_ECONFIG;
    }
    return 0;
}

static int read_type(const sl_ym_ctx *c, const yaml_node_t *n, sl_schema *s)
{
    static const char *const keys[] = {"field",       "map",      "case_insensitive",
                                       "ignore_case", "view",     "impression",
                                       "click",       "purchase", "other"};
    sl_ym_field g[SL_YM_COUNT(keys)];
    if (sl_ym_scan(c, n, "schema.type", keys, SL_YM_COUNT(keys), g) < 0)
        return SL_ECONFIG;
    if (g[2].v && g[3].v)
        return sl_ym_fail(c, g[3].k->start_mark,
                          "schema.type: ignore_case and case_insensitive say the same; give one");
    for (int k = 2; k <= 3; k++)
        if (g[k].v &&
            sl_ym_bool(c, g[k].v,
                       k == 2 ? "schema.type.case_insensitive" : "schema.type.ignore_case",
                       &s->type_nocase) < 0)
            return SL_ECONFIG;
    int preds = 0;
    for (size_t i = 4; i < SL_YM_COUNT(keys); i++)
        preds |= g[i].v != NULL;
    if (g[0].v && preds)
        return sl_ym_fail(c, n->start_mark,
                          "schema.type: either field (with map) or predicates per type "
                          "(impression, click, ...), not both");
    if (g[0].v)
        return read_type_field(c, g, s);
    if (g[1].v)
        return sl_ym_refuse(c, g, 1, 2, "schema.type", "schema.type.field is given");
    if (!preds)
        return sl_ym_fail(c, n->start_mark,
                          "schema.type: expected field: NAME (and map:) or predicates such as "
                          "{impression: all, click: {field: click, equals: 1}}");
    return read_type_preds(c, g + 4, "schema.type", s);
}

enum {
    K_FIELDS,
    K_KEY,
    K_TIME,
    K_TYPE,
    K_VALUE,
    K_USER,
    K_ATTRS,
    K_VIEW, /* predicates at the top level, in type_names' order */
    K_IMPRESSION,
    K_CLICK,
    K_PURCHASE,
    K_OTHER,
    K_N
};

int sl_schema_yaml(const sl_ym_ctx *c, const yaml_node_t *n, sl_schema *s)
{
    static const char *const keys[K_N] = {"fields",     "key",   "time",       "type",
                                          "value",      "user",  "attributes", "view",
                                          "impression", "click", "purchase",   "other"};
    sl_ym_field f[K_N];
    if (sl_ym_scan(c, n, "schema", keys, K_N, f) < 0)
        return SL_ECONFIG;
    for (int k = K_KEY; k <= K_TIME; k++)
        if (!f[k].v)
            return sl_ym_missing(c, n, "schema", keys[k], "");
    int preds = 0;
    for (int k = K_VIEW; k < K_N; k++)
        preds |= f[k].v != NULL;
    if (preds && f[K_TYPE].v)
        return sl_ym_fail(c, f[K_TYPE].k->start_mark,
                          "schema: type and predicates (impression:, click:, ...) both say how "
                          "an event's type is found; give one");
    const int32_t delim = s->delimiter;
    const int header = s->header;
    memset(s, 0, sizeof *s);
    s->declared = 1;
    s->delimiter = delim;
    s->header = header;
    s->value_field = s->user_field = -1;
    s->implied = f[K_FIELDS].v == NULL;
    if ((f[K_FIELDS].v && read_fields(c, f[K_FIELDS].v, s) < 0) || read_key(c, f[K_KEY].v, s) < 0 ||
        read_time(c, f[K_TIME].v, s) < 0)
        return SL_ECONFIG;
    if (f[K_TYPE].v) {
        if (read_type(c, f[K_TYPE].v, s) < 0)
            return SL_ECONFIG;
    } else if (preds) {
        if (read_type_preds(c, f + K_VIEW, "schema", s) < 0)
            return SL_ECONFIG;
    } else { /* every row is an impression */
        s->type_mode = SL_TYPE_PREDICATES;
        s->pred[SL_EV_VIEW].on = 1;
        s->pred[SL_EV_VIEW].all = 1;
    }
    if (f[K_VALUE].v) {
        if ((s->value_field =
                 sl_schema_yaml_field(c, f[K_VALUE].v, "schema.value", s, SL_FT_DOUBLE)) < 0)
            return SL_ECONFIG;
        int t = s->field[s->value_field].type;
        if (t != SL_FT_INT64 && t != SL_FT_DOUBLE && t != SL_FT_BOOL)
            return sl_ym_fail(c, f[K_VALUE].v->start_mark,
                              "schema.value: \"%s\" is declared %s; a value is int64, double or "
                              "bool",
                              s->field[s->value_field].name, sl_ftype_name(t));
    }
    if (f[K_USER].v &&
        (s->user_field = sl_schema_yaml_field(c, f[K_USER].v, "schema.user", s, SL_FT_STRING)) < 0)
        return SL_ECONFIG;
    if (f[K_ATTRS].v && read_attrs(c, f[K_ATTRS].v, s) < 0)
        return SL_ECONFIG;
    char err[256];
    if (sl_schema_check(s, err, sizeof err) < 0)
        return sl_ym_fail(c, n->start_mark, "%s", err);
    return 0;
}
