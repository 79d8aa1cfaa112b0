/* Declared event shapes: defaults, names and checks (schema.h). */
#include "schema.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "event.h"

static void add_field(sl_schema *s, const char *name, int type, int optional)
{
    sl_schema_field *f = &s->field[s->nfields++];
    snprintf(f->name, sizeof f->name, "%s", name);
    f->type = type;
    f->optional = optional;
}

void sl_schema_defaults(sl_schema *s)
{
    memset(s, 0, sizeof *s);
    add_field(s, "ad_id", SL_FT_STRING, 0);
    add_field(s, "event_type", SL_FT_STRING, 0);
    add_field(s, "event_time", SL_FT_TIME, 0);
    add_field(s, "value", SL_FT_DOUBLE, 1);
    add_field(s, "user_id", SL_FT_STRING, 1);
    s->nkey = 1;
    s->key[0] = 0;
    s->time_field = 2;
    s->time_format = SL_TIME_MS;
    s->value_field = 3;
    s->user_field = 4;
    s->type_mode = SL_TYPE_FIELD;
    s->type_field = 1;
    s->delimiter = ',';
    s->header = SL_HEADER_AUTO;
}

int sl_schema_find(const sl_schema *s, const char *name, size_t len)
{
    for (uint32_t i = 0; i < s->nfields && i < SL_SCHEMA_FIELDS; i++)
        if (strlen(s->field[i].name) == len && memcmp(s->field[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static const char *const ftype_names[SL_FT_N] = {"string", "int64", "double", "bool", "time"};

int sl_ftype_parse(const char *s)
{
    for (int i = 0; i < SL_FT_N; i++)
        if (strcmp(s, ftype_names[i]) == 0)
            return i;
    return -1;
}

const char *sl_ftype_name(int t)
{
    return t >= 0 && t < SL_FT_N ? ftype_names[t] : "?";
}

int sl_timefmt_parse(const char *s)
{
    if (strcmp(s, "ms") == 0)
        return SL_TIME_MS;
    if (strcmp(s, "s") == 0)
        return SL_TIME_S;
    if (strcmp(s, "iso8601") == 0)
        return SL_TIME_ISO8601;
    if (strchr(s, '%'))
        return SL_TIME_PATTERN;
    return -1;
}

int sl_time_pattern_check(const char *pattern, char *err, size_t errlen)
{
    int date = 0;
    for (const char *p = pattern; *p; p++) {
        if (*p != '%')
            continue;
        p++;
        if (*p && strchr("YymdjHMSfs%", *p)) {
            date |= *p == 'Y' || *p == 'y' || *p == 's';
            continue;
        }
        if (!*p)
            snprintf(err, errlen, "time pattern \"%s\" ends with a lone '%%'", pattern);
        else
            snprintf(err, errlen,
                     "time pattern \"%s\": %%%c is not supported (use %%Y %%y %%m %%d %%j %%H "
                     "%%M %%S %%f %%s %%%%)",
                     pattern, *p);
        return SL_EINVAL;
    }
    if (!date) {
        snprintf(err, errlen, "time pattern \"%s\" has no year (%%Y or %%y) and no %%s", pattern);
        return SL_EINVAL;
    }
    return 0;
}

static int numeric(int type)
{
    return type == SL_FT_INT64 || type == SL_FT_DOUBLE || type == SL_FT_BOOL;
}

static int field_ok(const sl_schema *s, int32_t i)
{
    return i >= 0 && (uint32_t)i < s->nfields;
}

int sl_schema_attr_name_ok(const char *name)
{
    static const char *const taken[] = {
        "key",      "time_ms",   "value",      "type",     "user",     "auto",     "break",
        "case",     "char",      "const",      "continue", "default",  "do",       "double",
        "else",     "enum",      "extern",     "float",    "for",      "goto",     "if",
        "inline",   "int",       "long",       "register", "restrict", "return",   "short",
        "signed",   "sizeof",    "static",     "struct",   "switch",   "typedef",  "union",
        "unsigned", "void",      "volatile",   "while",    "uchar",    "ushort",   "uint",
        "ulong",    "half",      "bool",       "global",   "local",    "constant", "private",
        "kernel",   "read_only", "write_only", "true",     "false"};
    if (!((*name >= 'A' && *name <= 'Z') || (*name >= 'a' && *name <= 'z') || *name == '_'))
        return 0;
    for (const char *q = name; *q; q++)
        if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
              *q == '_'))
            return 0;
    if ((name[0] == 's' || name[0] == 'S') && (name[1] == 'l' || name[1] == 'L') && name[2] == '_')
        return 0;
    if (name[0] == '_' && name[1] == '_')
        return 0;
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++)
        if (strcmp(name, taken[i]) == 0)
            return 0;
    return 1;
}

int sl_schema_check_attr(const sl_schema *s, uint32_t k, char *err, size_t errlen)
{
    if (!field_ok(s, s->attr[k])) {
        snprintf(err, errlen, "the field is not declared");
        return SL_EINVAL;
    }
    const sl_schema_field *f = &s->field[s->attr[k]];
    if (f->type == SL_FT_STRING) {
        snprintf(err, errlen, "\"%s\" is a string; attributes are int64, double, bool or time",
                 f->name);
        return SL_EINVAL;
    }
    if (!sl_schema_attr_name_ok(f->name)) {
        snprintf(err, errlen,
                 "\"%s\" cannot name a member of the kernels' record (a C identifier that is "
                 "not key, time_ms, value, type, user, a keyword, or starting with sl_ or __)",
                 f->name);
        return SL_EINVAL;
    }
    for (uint32_t j = 0; j < k; j++)
        if (s->attr[j] == s->attr[k]) {
            snprintf(err, errlen, "\"%s\" named twice", f->name);
            return SL_EINVAL;
        }
    return 0;
}

int sl_schema_attr_is_double(const sl_schema *s, uint32_t k)
{
    return s->field[s->attr[k]].type == SL_FT_DOUBLE;
}

int sl_schema_check(const sl_schema *s, char *err, size_t errlen)
{
    if (s->nfields == 0 || s->nfields > SL_SCHEMA_FIELDS) {
        snprintf(err, errlen, "schema: 1 to %d fields, got %u", SL_SCHEMA_FIELDS, s->nfields);
        return SL_EINVAL;
    }
    for (uint32_t i = 0; i < s->nfields; i++) {
        const sl_schema_field *f = &s->field[i];
        if (!f->name[0] || !memchr(f->name, '\0', sizeof f->name) || f->type < 0 ||
            f->type >= SL_FT_N) {
            snprintf(err, errlen, "schema: field %u is not valid", i + 1);
            return SL_EINVAL;
        }
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(s->field[j].name, f->name) == 0) {
                snprintf(err, errlen, "schema: field \"%s\" declared twice", f->name);
                return SL_EINVAL;
            }
    }
    if (s->nkey == 0 || s->nkey > SL_SCHEMA_KEYS) {
        snprintf(err, errlen, "schema.key: 1 to %d fields, got %u", SL_SCHEMA_KEYS, s->nkey);
        return SL_EINVAL;
    }
    for (uint32_t i = 0; i < s->nkey; i++) {
        if (!field_ok(s, s->key[i])) {
            snprintf(err, errlen, "schema.key: field %u is not declared", i + 1);
            return SL_EINVAL;
        }
        const sl_schema_field *f = &s->field[s->key[i]];
        if (f->optional) {
            snprintf(err, errlen, "schema.key: field \"%s\" is optional; a key must be there",
                     f->name);
            return SL_EINVAL;
        }
        for (uint32_t j = 0; j < i; j++)
            if (s->key[j] == s->key[i]) {
                snprintf(err, errlen, "schema.key: field \"%s\" named twice", f->name);
                return SL_EINVAL;
            }
    }
    if (!field_ok(s, s->time_field)) {
        snprintf(err, errlen, "schema.time: no time field");
        return SL_EINVAL;
    }
    if (s->field[s->time_field].type != SL_FT_TIME) {
        snprintf(err, errlen, "schema.time: field \"%s\" is declared %s, not time",
                 s->field[s->time_field].name, sl_ftype_name(s->field[s->time_field].type));
        return SL_EINVAL;
    }
    if (s->field[s->time_field].optional) {
        snprintf(err, errlen, "schema.time: field \"%s\" is optional; the time must be there",
                 s->field[s->time_field].name);
        return SL_EINVAL;
    }
    if (s->time_format < SL_TIME_MS || s->time_format > SL_TIME_PATTERN) {
        snprintf(err, errlen, "schema.time.format is not valid");
        return SL_EINVAL;
    }
    if (s->time_format == SL_TIME_PATTERN &&
        sl_time_pattern_check(s->time_pattern, err, errlen) != 0)
        return SL_EINVAL;
    if (s->value_field >= 0 &&
        (!field_ok(s, s->value_field) || !numeric(s->field[s->value_field].type))) {
        snprintf(err, errlen, "schema.value: field \"%s\" is not numeric (int64, double, bool)",
                 field_ok(s, s->value_field) ? s->field[s->value_field].name : "?");
        return SL_EINVAL;
    }
    if (s->nattrs > SL_SCHEMA_ATTRS) {
        snprintf(err, errlen, "schema.attributes: at most %d fields", SL_SCHEMA_ATTRS);
        return SL_EINVAL;
    }
    for (uint32_t k = 0; k < s->nattrs; k++) {
        char why[200];
        if (sl_schema_check_attr(s, k, why, sizeof why)) {
            snprintf(err, errlen, "schema.attributes[%u]: %s", k, why);
            return SL_EINVAL;
        }
    }
    if (s->user_field >= 0 && !field_ok(s, s->user_field)) {
        snprintf(err, errlen, "schema.user: field is not declared");
        return SL_EINVAL;
    }
    if (s->type_mode == SL_TYPE_FIELD) {
        if (!field_ok(s, s->type_field)) {
            snprintf(err, errlen, "schema.type: field is not declared");
            return SL_EINVAL;
        }
        if (s->nmap > SL_SCHEMA_MAP) {
            snprintf(err, errlen, "schema.type.map: at most %d entries", SL_SCHEMA_MAP);
            return SL_EINVAL;
        }
        for (uint32_t i = 0; i < s->nmap; i++)
            if ((unsigned)s->map[i].type >= SL_EV_NTYPES) {
                snprintf(err, errlen, "schema.type.map: entry %u has no valid type", i + 1);
                return SL_EINVAL;
            }
    } else if (s->type_mode == SL_TYPE_PREDICATES) {
        int any = 0;
        for (int t = 0; t < SL_EV_NTYPES; t++) {
            const sl_type_pred *p = &s->pred[t];
            if (!p->on)
                continue;
            any = 1;
            if (!p->all && !field_ok(s, p->field)) {
                snprintf(err, errlen, "schema.type.%s: field is not declared",
                         sl_evtype_name((enum sl_evtype)t));
                return SL_EINVAL;
            }
        }
        if (!any) {
            snprintf(err, errlen, "schema.type: no predicate");
            return SL_EINVAL;
        }
    } else {
        snprintf(err, errlen, "schema.type is not valid");
        return SL_EINVAL;
    }
    if (s->delimiter < 1 || s->delimiter > 255 || s->delimiter == '"' || s->delimiter == '\n' ||
        s->delimiter == '\r') {
        snprintf(err, errlen, "source.delimiter must be one byte, not a quote, a newline or NUL");
        return SL_EINVAL;
    }
    if (s->header < SL_HEADER_AUTO || s->header > SL_HEADER_NO) {
        snprintf(err, errlen, "source.header is not valid");
        return SL_EINVAL;
    }
    return 0;
}

void sl_schema_key_names(const sl_schema *s, char *out, size_t outsz)
{
    size_t at = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < s->nkey && i < SL_SCHEMA_KEYS; i++) {
        if ((uint32_t)s->key[i] >= s->nfields)
            continue;
        int w = snprintf(out + at, outsz - at, "%s%s", i ? "," : "", s->field[s->key[i]].name);
        if (w < 0 || (size_t)w >= outsz - at)
            break;
        at += (size_t)w;
    }
}

int sl_schema_max_events(const sl_schema *s)
{
    if (s->type_mode != SL_TYPE_PREDICATES)
        return 1;
    int n = 0;
    for (int t = 0; t < SL_EV_NTYPES; t++)
        n += s->pred[t].on != 0;
    return n ? n : 1;
}
