/* Event times written as text (timetext.h). */
#include "timetext.h"

#include <limits.h>

int64_t sl_days_from_civil(int64_t y, int m, int d)
{
    /* Shift the year to start in March, so that February's leap day is the year's last. */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;                                   /* 0..399 */
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */
    return era * 146097 + doe - 719468;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

struct cur {
    const char *s;
    size_t n, i;
    size_t bad;
    const char *why;
};

static int fail(struct cur *c, const char *why)
{
    c->bad = c->i;
    c->why = why;
    return 1;
}

static int digit(const struct cur *c)
{
    return c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9';
}

/* Exactly k digits into *v. */
static int fixed(struct cur *c, int k, int *v)
{
    int x = 0;
    for (int j = 0; j < k; j++) {
        if (!digit(c))
            return fail(c, "expected a digit");
        x = x * 10 + (c->s[c->i++] - '0');
    }
    *v = x;
    return 0;
}

/* 1 to 18 digits of a fraction after the point: milliseconds (truncated) into *ms. */
static int fraction(struct cur *c, int64_t *ms)
{
    int k = 0, v = 0;
    if (!digit(c))
        return fail(c, "expected a digit after the point");
    while (digit(c)) {
        if (k < 3)
            v = v * 10 + (c->s[c->i] - '0');
        k++;
        c->i++;
    }
    for (; k < 3; k++)
        v *= 10;
    *ms = v;
    return 0;
}

/* Seconds and milliseconds since the epoch from a civil time, checking the overflow. */
static int to_ms(int64_t days, int64_t secs, int64_t frac_ms, int64_t *ms)
{
    int64_t t;
    if (__builtin_mul_overflow(days, 86400, &t) || __builtin_add_overflow(t, secs, &t) ||
        __builtin_mul_overflow(t, 1000, &t) || __builtin_add_overflow(t, frac_ms, &t))
        return 2;
    *ms = t;
    return 0;
}

int sl_time_parse_s(const char *s, size_t n, int64_t *ms, size_t *bad, const char **why)
{
    struct cur c = {s, n, 0, 0, NULL};
    int neg = c.i < n && s[c.i] == '-';
    c.i += (size_t)neg;
    int64_t secs = 0, frac = 0;
    if (!digit(&c)) {
        fail(&c, "expected a digit");
        goto bad;
    }
    while (digit(&c)) {
        if (__builtin_mul_overflow(secs, 10, &secs) ||
            __builtin_add_overflow(secs, s[c.i] - '0', &secs))
            return 2;
        c.i++;
    }
    if (c.i < n && s[c.i] == '.') {
        c.i++;
        if (fraction(&c, &frac))
            goto bad;
    }
    if (c.i != n) {
        fail(&c, "expected a digit");
        goto bad;
    }
    if (neg) { /* -1.5 s is -1500 ms */
        secs = -secs;
        frac = -frac;
    }
    return to_ms(0, secs, frac, ms);
bad:
    *bad = c.bad;
    *why = c.why;
    return 1;
}

/* Checks and combines a civil date and time. */
static int civil(struct cur *c, int64_t y, int mo, int d, int h, int mi, int sec, int64_t frac,
                 int64_t offset_s, int64_t *ms)
{
    if (mo < 1 || mo > 12)
        return fail(c, "month out of range");
    if (d < 1 || d > month_days(y, mo))
        return fail(c, "day out of range");
    if (h > 23)
        return fail(c, "hour out of range");
    if (mi > 59)
        return fail(c, "minute out of range");
    if (sec > 60) /* 60: a leap second, read as the next minute's first */
        return fail(c, "second out of range");
    if (y < -9999999 || y > 9999999)
        return 2;
    return to_ms(sl_days_from_civil(y, mo, d), (int64_t)h * 3600 + mi * 60 + sec - offset_s, frac,
                 ms);
}

int sl_time_parse_iso8601(const char *s, size_t n, int64_t *ms, size_t *bad, const char **why)
{
    struct cur c = {s, n, 0, 0, NULL};
    int y, mo, d, h = 0, mi = 0, sec = 0, rc;
    int64_t frac = 0, off = 0;
    if (fixed(&c, 4, &y))
        goto bad;
    if (c.i >= n || s[c.i] != '-') {
        fail(&c, "expected '-' after the year");
        goto bad;
    }
    c.i++;
    if (fixed(&c, 2, &mo))
        goto bad;
    if (c.i >= n || s[c.i] != '-') {
        fail(&c, "expected '-' after the month");
        goto bad;
    }
    c.i++;
    if (fixed(&c, 2, &d))
        goto bad;
    if (c.i < n && (s[c.i] == 'T' || s[c.i] == 't' || s[c.i] == ' ')) {
        c.i++;
        if (fixed(&c, 2, &h))
            goto bad;
        if (c.i >= n || s[c.i] != ':') {
            fail(&c, "expected ':' after the hour");
            goto bad;
        }
        c.i++;
        if (fixed(&c, 2, &mi))
            goto bad;
        if (c.i < n && s[c.i] == ':') {
            c.i++;
            if (fixed(&c, 2, &sec))
                goto bad;
            if (c.i < n && (s[c.i] == '.' || s[c.i] == ',')) {
                c.i++;
                if (fraction(&c, &frac))
                    goto bad;
            }
        }
        if (c.i < n && (s[c.i] == 'Z' || s[c.i] == 'z')) {
            c.i++;
        } else if (c.i < n && (s[c.i] == '+' || s[c.i] == '-')) {
            int neg = s[c.i] == '-', oh, om = 0;
            c.i++;
            if (fixed(&c, 2, &oh))
                goto bad;
            if (c.i < n && s[c.i] == ':')
                c.i++;
            if (c.i < n && fixed(&c, 2, &om))
                goto bad;
            if (oh > 23 || om > 59) {
                fail(&c, "offset out of range");
                goto bad;
            }
            off = (int64_t)(oh * 3600 + om * 60) * (neg ? -1 : 1);
        }
    }
    if (c.i != n) {
        fail(&c, "unexpected text after the time");
        goto bad;
    }
    c.i = 0; /* a date or time out of range is reported at the start of the text */
    rc = civil(&c, y, mo, d, h, mi, sec, frac, off, ms);
    if (rc == 1)
        goto bad;
    return rc;
bad:
    *bad = c.bad;
    *why = c.why;
    return 1;
}

int sl_time_parse_pattern(const char *pattern, const char *s, size_t n, int64_t *ms, size_t *bad,
                          const char **why)
{
    struct cur c = {s, n, 0, 0, NULL};
    int64_t y = 1970, frac = 0, epoch = 0;
    int mo = 1, d = 1, h = 0, mi = 0, sec = 0, yday = 0, v, has_epoch = 0, rc;
    for (const char *p = pattern; *p; p++) {
        if (*p != '%') {
            if (c.i >= n || s[c.i] != *p) {
                fail(&c, "text does not match the time pattern");
                goto bad;
            }
            c.i++;
            continue;
        }
        switch (*++p) {
        case 'Y': {
            int neg = c.i < n && (s[c.i] == '-' || s[c.i] == '+') ? (s[c.i++] == '-') : 0;
            if (fixed(&c, 4, &v))
                goto bad;
            y = v;
            while (digit(&c) && y < 100000000)
                y = y * 10 + (s[c.i++] - '0');
            if (neg)
                y = -y;
            break;
        }
        case 'y':
            if (fixed(&c, 2, &v))
                goto bad;
            y = v < 69 ? 2000 + v : 1900 + v;
            break;
        case 'm':
            if (fixed(&c, 2, &mo))
                goto bad;
            break;
        case 'd':
            if (fixed(&c, 2, &d))
                goto bad;
            break;
        case 'H':
            if (fixed(&c, 2, &h))
                goto bad;
            break;
        case 'M':
            if (fixed(&c, 2, &mi))
                goto bad;
            break;
        case 'S':
            if (fixed(&c, 2, &sec))
                goto bad;
            break;
        case 'j': {
            size_t at = c.i;
            if (fixed(&c, 3, &yday))
                goto bad;
            if (yday < 1 || yday > 366) {
                c.i = at;
                fail(&c, "day of the year out of range");
                goto bad;
            }
            break;
        }
        case 'f':
            if (fraction(&c, &frac))
                goto bad;
            break;
        case 's': {
            int neg = c.i < n && s[c.i] == '-';
            c.i += (size_t)neg;
            if (!digit(&c)) {
                fail(&c, "expected a digit");
                goto bad;
            }
            epoch = 0;
            while (digit(&c)) {
                if (__builtin_mul_overflow(epoch, 10, &epoch) ||
                    __builtin_add_overflow(epoch, s[c.i] - '0', &epoch))
                    return 2;
                c.i++;
            }
            if (neg)
                epoch = -epoch;
            has_epoch = 1;
            break;
        }
        default: /* '%' (sl_time_pattern_check refused the rest) */
            if (c.i >= n || s[c.i] != '%') {
                fail(&c, "text does not match the time pattern");
                goto bad;
            }
            c.i++;
            break;
        }
    }
    if (c.i != n) {
        fail(&c, "unexpected text after the time");
        goto bad;
    }
    if (has_epoch)
        return to_ms(0, epoch, frac, ms);
    if (yday) {
        c.i = 0; /* out of range: reported at the start of the text */
        if (yday == 366 && !is_leap(y)) {
            fail(&c, "day of the year out of range");
            goto bad;
        }
        if (h > 23 || mi > 59 || sec > 60) {
            fail(&c, "time out of range");
            goto bad;
        }
        if (y < -9999999 || y > 9999999)
            return 2;
        return to_ms(sl_days_from_civil(y, 1, 1) + yday - 1, (int64_t)h * 3600 + mi * 60 + sec,
                     frac, ms);
    }
    c.i = 0; /* a date or time out of range is reported at the start of the text */
    rc = civil(&c, y, mo, d, h, mi, sec, frac, 0, ms);
    if (rc == 1)
        goto bad;
    return rc;
bad:
    *bad = c.bad;
    *why = c.why;
    return 1;
}
