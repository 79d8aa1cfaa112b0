/* Output columns: the SL_COLUMNS grammar and how values print. */
#include <criterion/criterion.h>
#include <math.h>
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
