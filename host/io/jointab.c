/* The ad -> campaign join table; see jointab.h. */
#include "jointab.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "keyhash.h"
#include "textfile.h"

#define FILE_MAX ((size_t)1 << 30)

struct entry {
    uint64_t ad; /* 0 = empty slot */
    uint64_t campaign;
    uint32_t line;
};

struct sl_jointab {
    struct entry *slots;
    size_t mask; /* capacity - 1, a power of two */
    size_t n;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int grow(sl_jointab *t)
{
    size_t cap = t->slots ? (t->mask + 1) * 2 : 1024;
    struct entry *s = calloc(cap, sizeof *s);
    if (!s)
        return SL_ENOMEM;
    for (size_t i = 0; t->slots && i <= t->mask; i++) {
        if (!t->slots[i].ad)
            continue;
        size_t j = (size_t)t->slots[i].ad & (cap - 1);
        while (s[j].ad)
            j = (j + 1) & (cap - 1);
        s[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = s;
    t->mask = cap - 1;
    return 0;
}

static struct entry *find(const sl_jointab *t, uint64_t ad)
{
    size_t j = (size_t)ad & t->mask;
    while (t->slots[j].ad && t->slots[j].ad != ad)
        j = (j + 1) & t->mask;
    return &t->slots[j];
}

/* Splits one line (no newline) into at most `max` fields, unquoting RFC 4180 quotes into
 * scratch. Returns the number of fields, or -1 with *col at the offending byte (0-based). */
static int split(const char *s, size_t n, char *scratch, const char **f, size_t *flen, size_t *fcol,
                 int max, size_t *col)
{
    int nf = 0;
    size_t i = 0, o = 0;
    for (;;) {
        if (nf == max) {
            *col = i;
            return -1;
        }
        fcol[nf] = i;
        f[nf] = scratch + o;
        size_t start = o;
        if (i < n && s[i] == '"') {
            i++;
            for (;;) {
                if (i >= n) {
                    *col = n;
                    return -1;
                }
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        scratch[o++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                scratch[o++] = s[i++];
            }
            if (i < n && s[i] != ',') {
                *col = i;
                return -1;
            }
        } else {
            while (i < n && s[i] != ',') {
                if (s[i] == '"') {
                    *col = i;
                    return -1;
                }
                scratch[o++] = s[i++];
            }
        }
        flen[nf++] = o - start;
        if (i >= n)
            return nf;
        i++; /* the comma */
    }
}

int sl_jointab_parse(const char *text, size_t len, const char *name, sl_addict *dict,
                     sl_jointab **out, char *err, size_t errlen)
{
    sl_jointab *t = calloc(1, sizeof *t);
    char *scratch = NULL;
    int rc = 0;
    if (!t || grow(t)) {
        free(t);
        set_err(err, errlen, "%s: out of memory", name);
        return SL_ENOMEM;
    }
    size_t pos = 0;
    uint32_t line = 0;
    while (pos < len) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        line++;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        if (n == 0)
            continue;
        char *ns = realloc(scratch, n + 1);
        if (!ns) {
            rc = SL_ENOMEM;
            set_err(err, errlen, "%s: out of memory", name);
            goto fail;
        }
        scratch = ns;
        const char *f[2];
        size_t flen[2], fcol[2], col = 0;
        int nf = split(s, n, scratch, f, flen, fcol, 2, &col);
        if (nf != 2) {
            rc = SL_EPARSE;
            set_err(err, errlen, "%s:%u:%zu: expected two fields ad_id,campaign_id%s", name, line,
                    (nf < 0 ? col : n) + 1,
                    nf < 0 ? " (a third field or a broken quote here)" : ", found one");
            goto fail;
        }
        if (line == 1 && flen[0] == 5 && memcmp(f[0], "ad_id", 5) == 0 && flen[1] == 11 &&
            memcmp(f[1], "campaign_id", 11) == 0)
            continue; /* the header */
        for (int k = 0; k < 2; k++) {
            if (flen[k] == 0 || flen[k] > SL_ADID_MAX) {
                rc = SL_EPARSE;
                set_err(err, errlen, "%s:%u:%zu: %s must be 1..%d bytes, got %zu", name, line,
                        fcol[k] + 1, k ? "campaign_id" : "ad_id", SL_ADID_MAX, flen[k]);
                goto fail;
            }
        }
        uint64_t ad = sl_key_hash(f[0], flen[0]), campaign;
        if (dict) {
            rc = sl_addict_intern(dict, f[1], flen[1], &campaign);
            if (rc) {
                set_err(err, errlen, "%s:%u:%zu: campaign_id: %s", name, line, fcol[1] + 1,
                        sl_strerror(rc));
                goto fail;
            }
        } else {
            campaign = sl_key_hash(f[1], flen[1]);
        }
        struct entry *e = find(t, ad);
        if (e->ad) {
            if (e->campaign != campaign) {
                rc = SL_EPARSE;
                set_err(err, errlen,
                        "%s:%u:1: ad_id listed again with another campaign_id (first at line %u)",
                        name, line, e->line);
                goto fail;
            }
            continue;
        }
        if (t->n >= SL_JOINTAB_MAX) {
            rc = SL_ERANGE;
            set_err(err, errlen, "%s:%u: more than %u ads", name, line, (unsigned)SL_JOINTAB_MAX);
            goto fail;
        }
        e->ad = ad;
        e->campaign = campaign;
        e->line = line;
        t->n++;
        if (t->n * 2 > t->mask + 1 && grow(t)) {
            rc = SL_ENOMEM;
            set_err(err, errlen, "%s: out of memory", name);
            goto fail;
        }
    }
    free(scratch);
    *out = t;
    return 0;
fail:
    free(scratch);
    sl_jointab_destroy(&t);
    return rc;
}

int sl_jointab_load(const char *path, sl_addict *dict, sl_jointab **out, char **text,
                    size_t *textlen, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = sl_read_file(path, FILE_MAX, &buf, &len, err, errlen);
    if (rc)
        return rc;
    rc = sl_jointab_parse(buf, len, path, dict, out, err, errlen);
    if (rc == 0 && text) {
        *text = buf;
        *textlen = len;
        buf = NULL;
    }
    free(buf);
    return rc;
}

int sl_jointab_get(const sl_jointab *t, uint64_t ad, uint64_t *campaign)
{
    const struct entry *e = find(t, ad);
    if (!e->ad)
        return 0;
    *campaign = e->campaign;
    return 1;
}

size_t sl_jointab_count(const sl_jointab *t)
{
    return t->n;
}

void sl_jointab_destroy(sl_jointab **tp)
{
    if (!tp || !*tp)
        return;
    free((*tp)->slots);
    free(*tp);
    *tp = NULL;
}
