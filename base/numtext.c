#include "numtext.h"

static int isdig(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Parses [-]digits in s[0..n). Returns 0 with *v, 1 when a byte is not a digit (*bad = its
 * index, n when the digits are missing), 2 when the number does not fit an int64. */
int sl_parse_i64(const char *s, size_t n, int64_t *v, size_t *bad)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && s[i] == '-') {
        neg = 1;
        i++;
    }
    if (i == n) {
        *bad = n;
        return 1;
    }
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t acc = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9) {
            *bad = i;
            return 1;
        }
        /* 18 digits always fit; only longer numbers pay for the overflow check. */
        if (acc >= UINT64_C(100000000000000000) && acc > (lim - d) / 10)
            return 2;
        acc = acc * 10 + d;
    }
    if (!neg)
        *v = (int64_t)acc;
    else if (acc == (uint64_t)INT64_MAX + 1)
        *v = INT64_MIN;
    else
        *v = -(int64_t)acc;
    return 0;
}

/* Checks that s[0..n) is a decimal number: [+-] (digits [. digits] | . digits) [e [+-] digits].
 * Returns 1 when it is, else 0 with *bad the index of the first offending byte (n when the text
 * ends too early). Hex, "inf" and "nan", which strtod would take, are refused. */
int sl_check_decimal(const char *s, size_t n, size_t *bad)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    for (; i < n && isdig(s[i]); i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && isdig(s[i]); i++)
            digits++;
    if (digits == 0)
        goto bad;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !isdig(s[i]))
            goto bad;
        while (i < n && isdig(s[i]))
            i++;
    }
    if (i == n)
        return 1;
bad:
    *bad = i;
    return 0;
}
