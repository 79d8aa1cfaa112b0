/* Callgrind profile dumps; see callgrind.h. */
#include "callgrind.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Compressed names: "(id) name" defines id in its namespace (objects, functions; files are not
 * kept), "(id)" refers to it. map[id] is the name's index in p->names, plus 1 (0: undefined). */
struct idmap {
    size_t *v;
    size_t n;
};

/* Self costs by (object, function), names as indices into p->names: open addressing. */
#define NO_OB ((size_t)0xfffffffe) /* costs before any ob= line */

struct slot {
    uint64_t key; /* (obj + 1) << 32 | (fn + 1); 0: empty */
    uint64_t ir;
};

struct parse {
    cg_profile *p;
    struct idmap obs, fns;
    struct slot *t;
    size_t cap, used;
    char *msg;
    size_t msglen;
    long line;
};

static int fail(struct parse *s, const char *what)
{
    snprintf(s->msg, s->msglen, "line %ld: %s", s->line, what);
    return SL_EPARSE;
}

/* A new name in p->names; its index in *idx. */
static int add_name(cg_profile *p, const char *name, size_t len, size_t *idx)
{
    if (p->nnames == p->cap_names) {
        size_t cap = p->cap_names ? p->cap_names * 2 : 256;
        char **v = realloc(p->names, cap * sizeof *v);
        if (!v)
            return SL_ENOMEM;
        p->names = v;
        p->cap_names = cap;
    }
    char *s = malloc(len + 1);
    if (!s)
        return SL_ENOMEM;
    memcpy(s, name, len);
    s[len] = '\0';
    p->names[p->nnames] = s;
    *idx = p->nnames++;
    return 0;
}

/* The name a specification's value gives ("(id) name", "(id)" or "name"), as an index in
 * p->names. An uncompressed name is looked up among the names seen so far (slow, but callgrind
 * compresses by default). */
static int resolve(struct parse *s, struct idmap *m, const char *val, size_t *idx)
{
    cg_profile *p = s->p;
    if (*val != '(') {
        for (size_t i = 0; i < p->nnames; i++)
            if (strcmp(p->names[i], val) == 0) {
                *idx = i;
                return 0;
            }
        return add_name(p, val, strlen(val), idx);
    }
    char *end;
    errno = 0;
    unsigned long id = strtoul(val + 1, &end, 10);
    if (errno || end == val + 1 || *end != ')' || id > (1ul << 26))
        return fail(s, "a compressed name's id is not a number in parentheses");
    const char *name = end + 1;
    while (*name == ' ')
        name++;
    if (id >= m->n) {
        size_t n = m->n ? m->n : 64;
        while (n <= id)
            n *= 2;
        size_t *v = realloc(m->v, n * sizeof *v);
        if (!v)
            return SL_ENOMEM;
        memset(v + m->n, 0, (n - m->n) * sizeof *v);
        m->v = v;
        m->n = n;
    }
    if (*name) { /* a definition (callgrind defines each id once; a repeat must agree) */
        if (m->v[id] && strcmp(p->names[m->v[id] - 1], name) != 0)
            return fail(s, "a compressed name's id is defined twice, differently");
        if (!m->v[id]) {
            int rc = add_name(p, name, strlen(name), idx);
            if (rc)
                return rc;
            m->v[id] = *idx + 1;
        }
    } else if (!m->v[id]) {
        return fail(s, "a compressed name's id is used before it is defined");
    }
    *idx = m->v[id] - 1;
    return 0;
}

static uint64_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    return k ^ (k >> 33);
}

static int add_cost(struct parse *s, size_t ob, size_t fn, uint64_t ir)
{
    if (2 * (s->used + 1) > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        struct slot *t = calloc(cap, sizeof *t);
        if (!t)
            return SL_ENOMEM;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->t[i].key)
                continue;
            size_t h = mix(s->t[i].key) & (cap - 1);
            while (t[h].key)
                h = (h + 1) & (cap - 1);
            t[h] = s->t[i];
        }
        free(s->t);
        s->t = t;
        s->cap = cap;
    }
    const uint64_t key = (uint64_t)(ob + 1) << 32 | (uint64_t)(fn + 1);
    size_t h = mix(key) & (s->cap - 1);
    while (s->t[h].key && s->t[h].key != key)
        h = (h + 1) & (s->cap - 1);
    if (!s->t[h].key) {
        s->t[h].key = key;
        s->used++;
    }
    s->t[h].ir += ir;
    return 0;
}

static int by_ir_desc(const void *a, const void *b)
{
    const uint64_t x = ((const cg_cost *)a)->ir, y = ((const cg_cost *)b)->ir;
    return (x < y) - (x > y);
}

/* Starts with `key` followed by '='. */
static const char *spec(const char *line, const char *key)
{
    size_t n = strlen(key);
    return strncmp(line, key, n) == 0 && line[n] == '=' ? line + n + 1 : NULL;
}

/* The body of cg_load, over an open file. */
static int parse_file(struct parse *s, FILE *f)
{
    cg_profile *p = s->p;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0, have_total = 0, have_events = 0, after_calls = 0, positions = 1;
    size_t ob = 0, fn = 0;
    int have_ob = 0, have_fn = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        s->line++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        const char *v;
        const unsigned char c0 = (unsigned char)line[0];
        if (len == 0 || c0 == '#')
            continue;
        if (isdigit(c0) || c0 == '+' || c0 == '-' || c0 == '*') {
            /* a cost line: `positions` position tokens, then the events' counts */
            char *q = line;
            for (int i = 0; i < positions; i++) {
                q += strcspn(q, " ");
                q += strspn(q, " ");
            }
            uint64_t ir = 0;
            if (*q) {
                char *end;
                errno = 0;
                ir = strtoull(q, &end, 10);
                if (errno || end == q || (*end && *end != ' '))
                    rc = fail(s, "a cost line's count is not a number");
            }
            if (rc == 0 && after_calls) /* the inclusive cost of a call: not this function's */
                after_calls = 0;
            else if (rc == 0 && !have_fn)
                rc = fail(s, "a cost line before any fn=");
            else if (rc == 0 && ir)
                rc = add_cost(s, have_ob ? ob : NO_OB, fn, ir);
        } else if ((v = spec(line, "ob"))) {
            rc = resolve(s, &s->obs, v, &ob);
            have_ob = 1;
        } else if ((v = spec(line, "fn"))) {
            rc = resolve(s, &s->fns, v, &fn);
            have_fn = 1;
        } else if ((v = spec(line, "cob"))) {
            size_t ignored;
            rc = resolve(s, &s->obs, v, &ignored);
        } else if ((v = spec(line, "cfn"))) {
            size_t ignored;
            rc = resolve(s, &s->fns, v, &ignored);
        } else if (spec(line, "calls") || spec(line, "jump") || spec(line, "jcnd")) {
            after_calls = 1; /* the next line is the call's (or jump's) cost, not a self cost */
        } else if (spec(line, "fl") || spec(line, "fi") || spec(line, "fe") || spec(line, "cfi") ||
                   spec(line, "cfl")) {
            continue; /* source files: not kept */
        } else if (strncmp(line, "totals:", 7) == 0 || strncmp(line, "summary:", 8) == 0) {
            const char *q = line + strcspn(line, ":") + 1;
            char *end;
            errno = 0;
            uint64_t t = strtoull(q, &end, 10);
            if (errno || end == q)
                rc = fail(s, "a totals line without a number");
            else if (!have_total || strncmp(line, "totals:", 7) == 0)
                p->total = t; /* totals: wins over summary: */
            have_total = 1;
        } else if (strncmp(line, "events:", 7) == 0) {
            const char *q = line + 7;
            q += strspn(q, " ");
            if (strncmp(q, "Ir", 2) != 0 || (q[2] && q[2] != ' '))
                rc = fail(s, "the first event is not Ir (instructions executed)");
            have_events = 1;
        } else if (strncmp(line, "positions:", 10) == 0) {
            positions = 0;
            for (const char *q = line + 10; *q;) {
                q += strspn(q, " ");
                if (*q)
                    positions++;
                q += strcspn(q, " ");
            }
            if (positions < 1 || positions > 2)
                rc = fail(s, "positions: expected line, or instr and line");
        } else if (strncmp(line, "desc: Trigger:", 14) == 0) {
            snprintf(p->desc, sizeof p->desc, "%s", line + 14 + strspn(line + 14, " "));
        } else if (!strchr(line, ':')) {
            rc = fail(s, "neither a cost line, a name specification nor a header");
        }
    }
    free(line);
    if (rc == 0 && ferror(f)) {
        snprintf(s->msg, s->msglen, "read error: %s", strerror(errno));
        return SL_EIO;
    }
    if (rc == 0 && (!have_events || !have_total)) {
        s->line = 0;
        return fail(s, "not a callgrind profile (no events: or totals: line)");
    }
    return rc;
}

int cg_load(const char *path, cg_profile *p, char *msg, size_t msglen)
{
    memset(p, 0, sizeof *p);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(msg, msglen, "%s: cannot open: %s", path, strerror(errno));
        return SL_EIO;
    }
    char why[512];
    struct parse s = {.p = p, .msg = why, .msglen = sizeof why};
    int rc = parse_file(&s, f);
    fclose(f);
    static const char no_ob[] = "(no object)";
    size_t no_ob_idx = 0;
    int have_no_ob = 0;
    if (rc == 0 && (p->costs = malloc((s.used ? s.used : 1) * sizeof *p->costs)) == NULL)
        rc = SL_ENOMEM;
    uint64_t sum = 0;
    for (size_t i = 0; rc == 0 && i < s.cap; i++) {
        if (!s.t[i].key)
            continue;
        size_t ob = (size_t)(s.t[i].key >> 32) - 1, fn = (size_t)(s.t[i].key & 0xffffffffu) - 1;
        if (ob == NO_OB && !have_no_ob) {
            if ((rc = add_name(p, no_ob, sizeof no_ob - 1, &no_ob_idx)))
                break;
            have_no_ob = 1;
        }
        cg_cost *c = &p->costs[p->n++];
        c->obj = p->names[ob == NO_OB ? no_ob_idx : ob];
        c->fn = p->names[fn];
        c->ir = s.t[i].ir;
        sum += c->ir;
    }
    if (rc == 0 && sum != p->total) {
        snprintf(why, sizeof why,
                 "its functions' costs add up to %llu instructions, its total says %llu",
                 (unsigned long long)sum, (unsigned long long)p->total);
        rc = SL_EPARSE;
    }
    if (rc == 0 && p->total == 0) {
        snprintf(why, sizeof why, "it counts no instructions");
        rc = SL_EPARSE;
    }
    if (rc == 0)
        qsort(p->costs, p->n, sizeof *p->costs, by_ir_desc);
    else if (rc == SL_ENOMEM)
        snprintf(msg, msglen, "%s: out of memory", path);
    else
        snprintf(msg, msglen, "%s: %s", path, why);
    free(s.t);
    free(s.obs.v);
    free(s.fns.v);
    return rc;
}

uint64_t cg_sum(const cg_profile *p, const char *obj_part, const char *fn_part)
{
    uint64_t t = 0;
    for (size_t i = 0; i < p->n; i++)
        if ((!obj_part || strstr(p->costs[i].obj, obj_part)) &&
            (!fn_part || strstr(p->costs[i].fn, fn_part)))
            t += p->costs[i].ir;
    return t;
}

void cg_free(cg_profile *p)
{
    for (size_t i = 0; i < p->nnames; i++)
        free(p->names[i]);
    free(p->names);
    free(p->costs);
    memset(p, 0, sizeof *p);
}
