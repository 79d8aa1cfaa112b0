/* Output columns: the SL_COLUMNS grammar and how values print. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "columns.h"
#include "err.h"

static void parse_err(const char *spec, const char *needle)
{
    sl_columns c;
    char err[256];
    cr_assert_eq(sl_columns_parse(spec, &c, err, sizeof err), SL_EINVAL, "%s", spec);
    cr_assert_not_null(strstr(err, needle), "for \"%s\": %s", spec, err);
}

Test(columns, parses_names_and_formats)
{
    sl_columns c;
    char err[256];
    cr_assert_eq(sl_columns_parse("count:int,ctr:f6,x,_y2:g", &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.n, 4);
    cr_assert_str_eq(c.name[0], "count");
    cr_assert_eq(c.fmt[0], SL_COLFMT_INT);
    cr_assert_eq(c.fmt[1], SL_COLFMT_FIXED);
    cr_assert_eq(c.decimals[1], 6);
    cr_assert_eq(c.fmt[2], SL_COLFMT_G);
    cr_assert_eq(c.fmt[3], SL_COLFMT_G);
    cr_assert_eq(sl_columns_find(&c, "x"), 2);
    cr_assert_eq(sl_columns_find(&c, "nope"), -1);
    cr_assert_eq(sl_columns_find(&c, ""), -1);
}

Test(columns, rejects_bad_specs)
{
    parse_err("", "empty");
    parse_err("a,b,c,d,e,f,g,h,i", "more than 8");
    parse_err("9lives", "expected a name");
    parse_err("a,,b", "expected a name");
    parse_err("a:x2", "unknown format");
    parse_err("a b", "expected ','");
    parse_err("a,a", "appears twice");
    parse_err("ad_id", "reserved");
    parse_err("window_start:int", "reserved");
}

Test(columns, formats_values)
{
    sl_columns c;
    char err[256], buf[400];
    cr_assert_eq(sl_columns_parse("n:int,f:f2,g", &c, err, sizeof err), 0);
    sl_columns_format(&c, 0, 9007199254740992.0, buf, sizeof buf);
    cr_assert_str_eq(buf, "9007199254740992");
    sl_columns_format(&c, 0, 2.5, buf, sizeof buf); /* not integral: exact shortest form */
    cr_assert_str_eq(buf, "2.5");
    sl_columns_format(&c, 1, 61.5, buf, sizeof buf);
    cr_assert_str_eq(buf, "61.50");
    sl_columns_format(&c, 2, 0.1, buf, sizeof buf);
    cr_assert_str_eq(buf, "0.1");
    sl_columns_format(&c, 2, 1.0 / 3.0, buf, sizeof buf);
    cr_assert_eq(strtod(buf, NULL), 1.0 / 3.0, "%s reads back exactly", buf);
    /* a fixed format that does not fit the buffer falls back to the exact form, never a cut */
    char small[40];
    sl_columns_format(&c, 1, 1e70, small, sizeof small);
    cr_assert_eq(strtod(small, NULL), 1e70, "got \"%s\"", small);
    sl_columns_format(&c, 1, 1e70, buf, sizeof buf); /* 400 bytes hold it in full */
    cr_assert_eq(strlen(buf), 74, "71 digits, '.', 2 decimals: \"%s\"", buf);
}

/* Integral values take a path of their own (no printf): the text must be what printf writes,
 * "%lld" for int and "%.15g" for g, over values of every magnitude and sign; a seed prints. */
Test(columns, integral_values_as_printf_writes_them)
{
    sl_columns c;
    char err[256], got[400], want[400];
    cr_assert_eq(sl_columns_parse("n:int,g", &c, err, sizeof err), 0);
    const double fixed[] = {0.0,     -0.0,   1.0,     -1.0,     9.0,         10.0, -10.0,
                            99999.0, 1e14,   -1e14,   1e15 - 1, -(1e15 - 1), 1e15, 1e16,
                            0x1p53,  0x1p62, -0x1p62, 0x1p63,   123456789.0};
    const unsigned seed = 20261207u;
    srand(seed);
    for (int t = 0; t < 20000; t++) {
        double v;
        if (t < (int)(sizeof fixed / sizeof fixed[0])) {
            v = fixed[t];
        } else { /* random magnitude: 1 to 19 digits, either sign */
            int digits = 1 + rand() % 19;
            double m = 0;
            for (int d = 0; d < digits; d++)
                m = m * 10 + rand() % 10;
            v = rand() % 2 ? -m : m;
        }
        sl_columns_format(&c, 0, v, got, sizeof got);
        if (isfinite(v) && v == floor(v) && fabs(v) < 0x1p63)
            snprintf(want, sizeof want, "%lld", (long long)v);
        else
            snprintf(want, sizeof want, "%.17g", v); /* not this test's path: read back below */
        if (fabs(v) < 0x1p63)
            cr_assert_str_eq(got, want, "int of %.17g (seed %u)", v, seed);
        sl_columns_format(&c, 1, v, got, sizeof got);
        snprintf(want, sizeof want, "%.15g", v);
        if (strtod(want, NULL) == v) /* else g needs 16 or 17 digits: not an integral path */
            cr_assert_str_eq(got, want, "g of %.17g (seed %u)", v, seed);
        else
            cr_assert_eq(strtod(got, NULL), v, "g of %.17g reads back (seed %u)", v, seed);
    }
    /* a buffer too short cuts the text as snprintf does */
    char small[4];
    sl_columns_format(&c, 0, 123456.0, small, sizeof small);
    cr_assert_str_eq(small, "123");
    sl_columns_format(&c, 1, -98765.0, small, sizeof small);
    cr_assert_str_eq(small, "-98");
}

/* The text the g format had before its printf-free path: the shortest of %.15g, %.16g and %.17g
 * that reads back as v. */
static void g_reference(double v, char *buf, size_t len)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v || !isfinite(v))
            return;
    }
}

static void same_as_reference(const sl_columns *c, double v, unsigned seed)
{
    char got[400], want[400];
    sl_columns_format(c, 0, v, got, sizeof got);
    g_reference(v, want, sizeof want);
    cr_assert_str_eq(got, want, "g of %.17g (bits %016llx, seed %u)", v,
                     (unsigned long long)sl_columns_key(v), seed);
}

/* Non-integral values take a printf-free path too when 15 digits read them back: the text must
 * be the reference's, for click-through rates (ratios of counts), short decimals, random
 * doubles of every magnitude and the edges of the path's range. */
Test(columns, fractions_as_printf_writes_them)
{
    sl_columns c;
    char err[256];
    cr_assert_eq(sl_columns_parse("r", &c, err, sizeof err), 0);
    const unsigned seed = 7u * 20261207u;
    srand(seed);
    static const double edges[] = {1e-4,
                                   1e-4 * (1 + 0x1p-52),
                                   1e-4 * (1 - 0x1p-53),
                                   0.1 + 0.2,
                                   1.0 / 3.0,
                                   2.0 / 3.0,
                                   0.5,
                                   0.999999999999999,
                                   0.9999999999999999,
                                   1e15 - 0.5,
                                   1e14 + 0.5,
                                   123456789012345.6,
                                   12345678901234.56,
                                   -0.25,
                                   -1e-4,
                                   9.5,
                                   0.000123456789012345,
                                   0.0001234567890123456};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        same_as_reference(&c, edges[i], seed);
    for (int t = 0; t < 200000; t++) {
        /* a CTR: clicks over views */
        uint32_t views = 1 + (uint32_t)rand() % 1000000, clicks = (uint32_t)rand() % (views + 1);
        same_as_reference(&c, (double)clicks / (double)views, seed);
        /* a short decimal m * 10^-k, either sign */
        int digits = 1 + rand() % 17, k = rand() % 20;
        double m = 0;
        for (int d = 0; d < digits; d++)
            m = m * 10 + rand() % 10;
        double v = m / pow(10, k);
        same_as_reference(&c, rand() % 2 ? -v : v, seed);
        /* any finite double */
        uint64_t bits = ((uint64_t)rand() << 62) ^ ((uint64_t)rand() << 31) ^ (uint64_t)rand();
        double x;
        memcpy(&x, &bits, sizeof x);
        if (isfinite(x))
            same_as_reference(&c, x, seed);
        /* a double near 10^e for e in -6..16, where the path's range begins and ends */
        double y = ldexp((double)((uint64_t)rand() << 21 ^ (uint64_t)rand()), -52) *
                   pow(10, -6 + rand() % 23);
        same_as_reference(&c, y, seed);
    }
}
