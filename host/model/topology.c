/* The model's defaults and names; see topology.h. */
#include "topology.h"

#include <stdio.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "event.h"

#define DEFAULT_BATCH 262144u
#define ALL_TYPES ((1u << SL_EV_NTYPES) - 1)
#define GEN_DEFAULT_START_MS INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */

int sl_format_parse(const char *s, sl_format *out)
{
    if (!s)
        return SL_EINVAL;
    if (strcasecmp(s, "ndjson") == 0 || strcasecmp(s, "json") == 0) {
        *out = SL_FMT_NDJSON;
        return 0;
    }
    if (strcasecmp(s, "csv") == 0) {
        *out = SL_FMT_CSV;
        return 0;
    }
    return SL_EINVAL;
}

void sl_gen_defaults(sl_gen_cfg *cfg)
{
    cfg->events = 10000000;
    cfg->keys = 100000;
    cfg->skew = 1.0;
    cfg->click_rate = 0.10;
    cfg->purchase_rate = 0.005;
    cfg->seed = 42;
    cfg->start_ms = GEN_DEFAULT_START_MS;
    cfg->events_per_ms = 1000;
    cfg->users = 100000;
}

const char *const sl_pe_kind_names[SL_PE_NKINDS + 1] = {
#define SL_PE_ROW(id, name, ...) [SL_PE_##id] = name,
#include "pes.def"
#undef SL_PE_ROW
    [SL_PE_USER] = "user",
};

int sl_pe_kind_parse(const char *s, enum sl_pe_kind *out)
{
    if (!s)
        return SL_EINVAL;
    for (int k = 0; k <= SL_PE_NKINDS; k++) {
        if (strcmp(s, sl_pe_kind_names[k]) == 0) {
            *out = (enum sl_pe_kind)k;
            return 0;
        }
    }
    return SL_EINVAL;
}

const char *sl_pe_kind_name(enum sl_pe_kind k)
{
    return (unsigned)k <= SL_PE_NKINDS ? sl_pe_kind_names[k] : "unknown";
}

void sl_pe_defaults(sl_pe_cfg *pe, enum sl_pe_kind kind)
{
    memset(pe, 0, sizeof *pe);
    snprintf(pe->name, sizeof pe->name, "%s", sl_pe_kind_name(kind));
    pe->kind = kind;
    pe->capacity = 0; /* no cap: the table grows as keys arrive */
    pe->has_prior = 0;
    pe->window_ms = kind == SL_PE_USER ? 0 : 10000; /* a user PE has a window only when asked */
    pe->lateness_ms = 0;
    pe->trigger.every_events = 0;
    pe->trigger.every_ms = 0;
    pe->timeout_ms = SL_PE_TIMEOUT_MS;
}

void sl_topology_defaults(sl_topology *t)
{
    memset(t, 0, sizeof *t);
    t->source.kind = SL_SRC_STDIN;
    t->source.format = SL_FMT_NDJSON;
    sl_gen_defaults(&t->source.gen);
    t->filter_types = ALL_TYPES;
    sl_pe_defaults(&t->pe, SL_PE_CTR);
    t->batch_events = DEFAULT_BATCH;
    t->batch_wait_ms = SL_BATCH_WAIT_MS;
    snprintf(t->sink.path, sizeof t->sink.path, "-");
    t->sink.snapshots = 0;
    t->checkpoint.keep = 3;
    t->source.max_malformed = SL_MAX_MALFORMED_DEFAULT;
    sl_schema_defaults(&t->schema);
}

int sl_pe_param_check(const sl_pe_param *p, char *err, size_t errlen)
{
    const char *n = p->name, *v = p->value;
    if (!memchr(n, '\0', sizeof p->name) || !memchr(v, '\0', sizeof p->value) || !n[0]) {
        snprintf(err, errlen, "a param name or value is not valid");
        return SL_EINVAL;
    }
    for (const char *q = n; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
              (q > n && ((*q >= '0' && *q <= '9') || *q == '_')))) {
            snprintf(err, errlen, "param \"%s\": a name is a letter then letters, digits and '_'",
                     n);
            return SL_EINVAL;
        }
    if (strncasecmp(n, "sl_", 3) == 0) {
        snprintf(err, errlen, "param \"%s\": names starting with SL_ are sluice's own", n);
        return SL_EINVAL;
    }
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
        return 0;
    /* [-]digits[.digits][e[+-]digits]: what C reads as the same number */
    const char *q = v;
    q += *q == '-';
    int digits = 0;
    while (*q >= '0' && *q <= '9')
        q++, digits++;
    if (*q == '.')
        for (q++; *q >= '0' && *q <= '9'; q++)
            digits++;
    if (digits && (*q == 'e' || *q == 'E')) {
        q++;
        q += *q == '+' || *q == '-';
        if (!(*q >= '0' && *q <= '9'))
            digits = 0;
        while (*q >= '0' && *q <= '9')
            q++;
    }
    if (!digits || *q) {
        snprintf(err, errlen, "param \"%s\": expected a number or true/false, got \"%s\"", n, v);
        return SL_EINVAL;
    }
    return 0;
}

void sl_pe_param_define(const sl_pe_param *p, char *out, size_t outsz)
{
    char name[SL_SCHEMA_NAME];
    size_t i = 0;
    for (; p->name[i] && i + 1 < sizeof name; i++)
        name[i] = (char)toupper((unsigned char)p->name[i]);
    name[i] = '\0';
    const char *v = p->value;
    if (strcmp(v, "true") == 0)
        v = "1";
    else if (strcmp(v, "false") == 0)
        v = "0";
    int integral = strpbrk(v, ".eE") == NULL;
    /* A decimal stays a double literal; a large integer gets L, as int would not hold it. */
    int wide = integral && (strlen(v) > 9 + (v[0] == '-'));
    snprintf(out, outsz, "-D%s=%s%s", name, v, wide ? "L" : "");
}

int sl_topology_rekeyed(const sl_topology *t)
{
    for (uint32_t i = 0; i < t->nnext; i++)
        if (t->next[i].join[0])
            return 1;
    return 0;
}

void sl_cluster_defaults(sl_cluster_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->partitions = 256;
    snprintf(c->client_host, sizeof c->client_host, "127.0.0.1");
    sl_net_opts_defaults(&c->net);
    snprintf(c->zk.root, sizeof c->zk.root, "/sluice");
    c->zk.session_ms = 4000;
}

void sl_topology_bind_attrs(sl_topology *t)
{
    const sl_schema *s = &t->schema;
    t->pe.nattrs = s->nattrs;
    t->pe.value_attr = 0;
    for (uint32_t k = 0; k < s->nattrs && k < SL_SCHEMA_ATTRS; k++) {
        snprintf(t->pe.attr[k].name, sizeof t->pe.attr[k].name, "%s", s->field[s->attr[k]].name);
        t->pe.attr[k].is_double = sl_schema_attr_is_double(s, k);
        if (s->attr[k] == s->value_field)
            t->pe.value_attr = (int32_t)k + 1;
    }
}
