#include "columns.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static int is_name_char(char ch, int first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           (!first && ch >= '0' && ch <= '9');
}

int sl_columns_parse(const char *spec, sl_columns *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    const char *p = spec;
    if (!*p) {
        snprintf(err, errlen, "SL_COLUMNS is empty");
        return SL_EINVAL;
    }
    for (;;) {
        if (c->n == SL_COLUMNS_MAX) {
            snprintf(err, errlen, "SL_COLUMNS names more than %d columns", SL_COLUMNS_MAX);
            return SL_EINVAL;
        }
        size_t len = 0;
        while (is_name_char(p[len], len == 0))
            len++;
        if (len == 0 || len >= sizeof c->name[0]) {
            snprintf(err, errlen,
                     "SL_COLUMNS: column %d: expected a name of 1 to %zu letters, "
                     "digits or '_' (not starting with a digit) at \"%.20s\"",
                     c->n + 1, sizeof c->name[0] - 1, p);
            return SL_EINVAL;
        }
        memcpy(c->name[c->n], p, len);
        c->name[c->n][len] = '\0';
        static const char *const reserved[] = {"ad_id", "window_start", "emit"};
        for (int r = 0; r < 3; r++)
            if (strcmp(c->name[c->n], reserved[r]) == 0) {
                snprintf(err, errlen, "SL_COLUMNS: \"%s\" is reserved", reserved[r]);
                return SL_EINVAL;
            }
        if (sl_columns_find(c, c->name[c->n]) >= 0) {
            snprintf(err, errlen, "SL_COLUMNS: \"%s\" appears twice", c->name[c->n]);
            return SL_EINVAL;
        }
        p += len;
        c->fmt[c->n] = SL_COLFMT_G;
        if (*p == ':') {
            p++;
            if (strncmp(p, "int", 3) == 0) {
                c->fmt[c->n] = SL_COLFMT_INT;
                p += 3;
            } else if (strncmp(p, "key", 3) == 0) {
                c->fmt[c->n] = SL_COLFMT_KEY;
                p += 3;
            } else if (*p == 'g') {
                p++;
            } else if (*p == 'f' && p[1] >= '0' && p[1] <= '9') {
                c->fmt[c->n] = SL_COLFMT_FIXED;
                c->decimals[c->n] = p[1] - '0';
                p += 2;
            } else {
                snprintf(err, errlen,
                         "SL_COLUMNS: column \"%s\": unknown format at \"%.10s\" "
                         "(expected int, f0..f9, g or key)",
                         c->name[c->n], p);
                return SL_EINVAL;
            }
        }
        c->n++;
        if (*p == '\0')
            return 0;
        if (*p != ',') {
            snprintf(err, errlen,
                     "SL_COLUMNS: expected ',' or the end after column \"%s\", got "
                     "\"%.10s\"",
                     c->name[c->n - 1], p);
            return SL_EINVAL;
        }
        p++;
    }
}

int sl_columns_find(const sl_columns *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->name[i], name) == 0)
            return i;
    return -1;
}

uint64_t sl_columns_key(double v)
{
    uint64_t k;
    memcpy(&k, &v, sizeof k);
    return k;
}

/* Copies t (n bytes) into buf (len bytes) as snprintf would: cut to len - 1, NUL-ended. */
static void put_text(const char *t, size_t n, char *buf, size_t len)
{
    if (!len)
        return;
    if (n > len - 1)
        n = len - 1;
    memcpy(buf, t, n);
    buf[n] = '\0';
}

/* Writes u in decimal at t; returns the digits written (at most 20). */
static size_t put_digits(uint64_t u, char *t)
{
    char d[20];
    size_t nd = 0, n = 0;
    do {
        d[nd++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (nd)
        t[n++] = d[--nd];
    return n;
}

/* Writes the integer m (|m| < 2^63) in decimal into buf (len bytes), as "%lld" would. */
static void put_int(int64_t m, char *buf, size_t len)
{
    char t[24];
    size_t n = 0;
    if (m < 0)
        t[n++] = '-';
    n += put_digits(m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m, t + n);
    put_text(t, n, buf, len);
}

__extension__ typedef unsigned __int128 u128;

/* 10^k as an integer, k <= 38. */
static u128 pow10_int(int k)
{
    u128 p = 1;
    while (k-- > 0)
        p *= 10;
    return p;
}

/* v as "%.*g" with precision prec (15, 16 or 17) writes it, when that reads back as v, without
 * printf: v finite, not integral, 1e-4 <= |v| < 1e15. Exact in 128-bit integers: |v| = M * 2^-s
 * (M below 2^53, s at most 66), its prec significant digits N = M * 10^k * 2^-s rounded half to
 * even (as glibc's printf rounds the exact value), and N * 10^-k reads back when it lies within
 * half an ulp of |v| (a quarter below a power of two; a tie goes to the even M, as strtod's).
 * Returns 1 when written, 0 when these digits do not read back. */
static int put_exact(double v, int prec, char *buf, size_t len)
{
    int ex;
    double f = frexp(fabs(v), &ex);
    uint64_t m = (uint64_t)ldexp(f, 53);
    int s = 53 - ex; /* |v| = m * 2^-s, s >= 3 here (|v| < 2^50) */
    int e = (int)floor(log10(fabs(v)));
    u128 n = 0, lo = pow10_int(prec - 1), hi = pow10_int(prec);
    int k = 0;
    for (int tries = 0; tries < 3; tries++) { /* log10 may be one off near a power of ten */
        k = prec - 1 - e;
        u128 x = (u128)m * pow10_int(k), half = (u128)1 << (s - 1);
        n = x >> s;
        u128 r = x & (((u128)1 << s) - 1);
        if (r > half || (r == half && (n & 1)))
            n++;
        if (n >= hi)
            e++;
        else if (n < lo)
            e--;
        else
            break;
    }
    if (n < lo || n >= hi)
        return 0;
    /* does n * 10^-k read back as |v|? Both times 10^k * 2^s: n * 2^s against m * 10^k, whose
     * half ulp is 10^k / 2 */
    u128 d = n << s, x = (u128)m * pow10_int(k), p = pow10_int(k);
    u128 diff = d > x ? d - x : x - d;
    int below = d < x, pow2 = m == (UINT64_C(1) << 52);
    u128 twice = diff * (below && pow2 ? 4 : 2);
    if (twice > p || (twice == p && (m & 1)))
        return 0;
    char digits[40], t[64];
    size_t nd = 0, o = 0;
    for (u128 q = n; q; q /= 10)
        digits[nd++] = (char)('0' + (int)(q % 10));
    /* digits[nd - 1] is the first; the point comes after e + 1 of them (e < 0: "0." and -e - 1
     * zeros first) */
    if (v < 0)
        t[o++] = '-';
    if (e < 0) {
        t[o++] = '0';
        t[o++] = '.';
        for (int z = 0; z < -e - 1; z++)
            t[o++] = '0';
        while (nd)
            t[o++] = digits[--nd];
    } else {
        for (int j = 0; j <= e; j++)
            t[o++] = digits[--nd];
        t[o++] = '.';
        while (nd)
            t[o++] = digits[--nd];
    }
    while (t[o - 1] == '0') /* %g drops trailing zeros, and a point with nothing after it */
        o--;
    if (t[o - 1] == '.')
        o--;
    put_text(t, o, buf, len);
    return 1;
}

void sl_columns_format(const sl_columns *c, int i, double v, char *buf, size_t len)
{
    if (c->fmt[i] == SL_COLFMT_KEY) {
        snprintf(buf, len, "#%016llx", (unsigned long long)sl_columns_key(v));
        return;
    }
    if (c->fmt[i] == SL_COLFMT_FIXED) {
        int w = snprintf(buf, len, "%.*f", c->decimals[i], v);
        if (w >= 0 && (size_t)w < len)
            return; /* else too long for buf: the exact shortest form below */
    }
    if (c->fmt[i] == SL_COLFMT_INT && isfinite(v) && v == floor(v) && fabs(v) < 0x1p63) {
        put_int((int64_t)v, buf, len);
        return;
    }
    /* an integral value below 10^15 in magnitude: %.15g writes its digits, and they read back
     * exactly (-0 is left to printf, which writes "-0") */
    if (v == floor(v) && fabs(v) < 1e15 && (v != 0 || !signbit(v))) {
        put_int((int64_t)v, buf, len);
        return;
    }
    /* the same shortest of 15, 16 and 17 digits, without printf where %g writes no exponent */
    if (isfinite(v) && fabs(v) >= 1e-4 && fabs(v) < 1e15 && v != floor(v) &&
        (put_exact(v, 15, buf, len) || put_exact(v, 16, buf, len) || put_exact(v, 17, buf, len)))
        return;
    /* shortest of %.15g, %.16g, %.17g that reads back exactly */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v || !isfinite(v))
            return;
    }
}

int sl_colfmt_parse(const char *s, size_t len, enum sl_colfmt *fmt, int *decimals)
{
    if (len == 3 && strncmp(s, "int", 3) == 0) {
        *fmt = SL_COLFMT_INT;
        *decimals = 0;
    } else if (len == 1 && s[0] == 'g') {
        *fmt = SL_COLFMT_G;
        *decimals = 0;
    } else if (len == 2 && s[0] == 'f' && s[1] >= '0' && s[1] <= '9') {
        *fmt = SL_COLFMT_FIXED;
        *decimals = s[1] - '0';
    } else {
        return SL_EINVAL;
    }
    return 0;
}

/* Writes c's column names, comma-separated, into buf. */
static void list_names(const sl_columns *c, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", c->name[i]);
}

int sl_columns_override(sl_columns *c, const char *spec, char *err, size_t errlen)
{
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ","), nlen = strcspn(p, ":");
        if (nlen >= len) {
            snprintf(err, errlen, "\"%.*s\": expected COLUMN:FORMAT", (int)len, p);
            return SL_EINVAL;
        }
        enum sl_colfmt fmt;
        int dec;
        if (sl_colfmt_parse(p + nlen + 1, len - nlen - 1, &fmt, &dec)) {
            snprintf(err, errlen, "column \"%.*s\": expected int, g or f0..f9, got \"%.*s\"",
                     (int)nlen, p, (int)(len - nlen - 1), p + nlen + 1);
            return SL_EINVAL;
        }
        if (nlen == 1 && p[0] == '*') {
            for (int i = 0; i < c->n; i++)
                if (c->fmt[i] == SL_COLFMT_G || c->fmt[i] == SL_COLFMT_FIXED) {
                    c->fmt[i] = fmt;
                    c->decimals[i] = dec;
                }
        } else {
            int i = -1;
            for (int k = 0; k < c->n && i < 0; k++)
                if (strlen(c->name[k]) == nlen && strncmp(c->name[k], p, nlen) == 0)
                    i = k;
            if (i < 0) {
                char names[SL_COLUMNS_MAX * 50];
                list_names(c, names, sizeof names);
                snprintf(err, errlen, "no column \"%.*s\" (the columns are %s)", (int)nlen, p,
                         names);
                return SL_EINVAL;
            }
            if (c->fmt[i] == SL_COLFMT_KEY) {
                snprintf(err, errlen, "column \"%s\" holds keys: its format stays", c->name[i]);
                return SL_EINVAL;
            }
            c->fmt[i] = fmt;
            c->decimals[i] = dec;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}
