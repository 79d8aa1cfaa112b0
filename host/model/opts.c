/* Kind options of sources and sinks; see opts.h. */
#include "opts.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"

int sl_opts_set(sl_opts *o, const char *key, const char *val, uint32_t line, uint32_t col)
{
    if (strlen(key) >= SL_OPT_KEY_MAX || strlen(val) >= SL_OPT_VAL_MAX)
        return SL_EINVAL;
    sl_opt *it = (sl_opt *)sl_opts_get(o, key);
    if (!it) {
        if (o->n >= SL_OPTS_MAX)
            return SL_EINVAL;
        it = &o->item[o->n++];
    }
    snprintf(it->key, sizeof it->key, "%s", key);
    snprintf(it->val, sizeof it->val, "%s", val);
    it->line = it->kline = line;
    it->col = it->kcol = col;
    return 0;
}

void sl_opts_key_at(sl_opts *o, const char *key, uint32_t line, uint32_t col)
{
    sl_opt *it = (sl_opt *)sl_opts_get(o, key);
    if (it) {
        it->kline = line;
        it->kcol = col;
    }
}

const sl_opt *sl_opts_get(const sl_opts *o, const char *key)
{
    for (uint32_t i = 0; i < o->n && i < SL_OPTS_MAX; i++)
        if (strcmp(o->item[i].key, key) == 0)
            return &o->item[i];
    return NULL;
}

/* Writes "NAME:LINE:COL: PFX.KEY: " for item it (or "PFX.KEY: " without a place) and the
 * message. Returns SL_ECONFIG. */
static int vfail(const sl_opts *o, const char *pfx, const char *key, const sl_opt *it, char *msg,
                 size_t msglen, const char *fmt, va_list ap) __attribute__((format(printf, 7, 0)));
static int vfail(const sl_opts *o, const char *pfx, const char *key, const sl_opt *it, char *msg,
                 size_t msglen, const char *fmt, va_list ap)
{
    if (!msg || !msglen)
        return SL_ECONFIG;
    int k = 0;
    if (it && it->line && o->name[0])
        k = snprintf(msg, msglen, "%s:%u:%u: ", o->name, it->line, it->col);
    if (k < 0 || (size_t)k >= msglen)
        return SL_ECONFIG;
    int m = snprintf(msg + k, msglen - (size_t)k, "%s.%s: ", pfx, key);
    if (m < 0 || (size_t)(k + m) >= msglen)
        return SL_ECONFIG;
    vsnprintf(msg + k + m, msglen - (size_t)(k + m), fmt, ap);
    return SL_ECONFIG;
}

int sl_opts_fail(const sl_opts *o, const char *pfx, const char *key, char *msg, size_t msglen,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(o, pfx, key, sl_opts_get(o, key), msg, msglen, fmt, ap);
    va_end(ap);
    return rc;
}

int sl_opts_missing(const sl_opts *o, const char *pfx, const char *key, const char *why, char *msg,
                    size_t msglen)
{
    if (!msg || !msglen)
        return SL_ECONFIG;
    int k = 0;
    if (o->line && o->name[0])
        k = snprintf(msg, msglen, "%s:%u:%u: ", o->name, o->line, o->col);
    if (k >= 0 && (size_t)k < msglen)
        snprintf(msg + k, msglen - (size_t)k, "%s: missing required key \"%s\" (%s)", pfx, key,
                 why);
    return SL_ECONFIG;
}

int sl_opts_known(const sl_opts *o, const char *pfx, const char *what, const char *const *known,
                  size_t nknown, char *msg, size_t msglen)
{
    for (uint32_t i = 0; i < o->n && i < SL_OPTS_MAX; i++) {
        size_t j = 0;
        while (j < nknown && strcmp(known[j], o->item[i].key) != 0)
            j++;
        if (j < nknown)
            continue;
        char list[768];
        size_t len = (size_t)snprintf(list, sizeof list, "%s", o->common);
        for (j = 0; j < nknown && len < sizeof list; j++) {
            int w = snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", known[j]);
            if (w < 0)
                break;
            len += (size_t)w;
        }
        const sl_opt *it = &o->item[i];
        if (!msg || !msglen)
            return SL_ECONFIG;
        int k = 0;
        if (it->kline && o->name[0])
            k = snprintf(msg, msglen, "%s:%u:%u: ", o->name, it->kline, it->kcol);
        if (k >= 0 && (size_t)k < msglen)
            snprintf(msg + k, msglen - (size_t)k,
                     "%s: unknown key \"%s\" (%s%sexpected one of: %s)", pfx, it->key,
                     nknown ? what : "", nknown ? ": " : "", list);
        return SL_ECONFIG;
    }
    return 0;
}

int sl_opts_u64(const sl_opts *o, const char *pfx, const char *key, uint64_t lo, uint64_t hi,
                uint64_t *out, char *msg, size_t msglen)
{
    const sl_opt *it = sl_opts_get(o, key);
    if (!it)
        return 0;
    uint64_t v = 0;
    const char *s = it->val;
    int ok = *s != 0;
    for (; *s && ok; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            ok = 0;
        else
            v = v * 10 + d;
    }
    if (!ok || v < lo || v > hi)
        return sl_opts_fail(o, pfx, key, msg, msglen,
                            "expected an integer in %llu..%llu, got \"%s\"", (unsigned long long)lo,
                            (unsigned long long)hi, it->val);
    *out = v;
    return 0;
}

int sl_opts_bool(const sl_opts *o, const char *pfx, const char *key, int *out, char *msg,
                 size_t msglen)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    const sl_opt *it = sl_opts_get(o, key);
    if (!it)
        return 0;
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(it->val, yes[i]) == 0 || strcasecmp(it->val, no[i]) == 0) {
            *out = strcasecmp(it->val, yes[i]) == 0;
            return 0;
        }
    }
    return sl_opts_fail(o, pfx, key, msg, msglen, "expected true or false, got \"%s\"", it->val);
}

int sl_opts_str(const sl_opts *o, const char *pfx, const char *key, char *out, size_t outsz,
                char *msg, size_t msglen)
{
    const sl_opt *it = sl_opts_get(o, key);
    if (!it)
        return 0;
    size_t n = strlen(it->val);
    if (n == 0 || n >= outsz)
        return sl_opts_fail(o, pfx, key, msg, msglen,
                            "expected a non-empty string of at most %zu bytes, got \"%s\"",
                            outsz - 1, it->val);
    memcpy(out, it->val, n + 1);
    return 0;
}

int sl_opts_choice(const sl_opts *o, const char *pfx, const char *key, const char *const *names,
                   size_t count, int *out, char *msg, size_t msglen)
{
    const sl_opt *it = sl_opts_get(o, key);
    if (!it)
        return 0;
    char list[256] = "";
    size_t len = 0;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(names[i], it->val) == 0) {
            *out = (int)i;
            return 0;
        }
        int w = snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
        if (w > 0 && (size_t)w < sizeof list - len)
            len += (size_t)w;
    }
    return sl_opts_fail(o, pfx, key, msg, msglen, "expected one of %s, got \"%s\"", list, it->val);
}
