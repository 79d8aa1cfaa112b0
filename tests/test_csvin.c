#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addict.h"
#include "csvin.h"
#include "err.h"
#include "lineparse.h"

static int csv(const void *cols, const char *line, size_t len, char *scratch, sl_rawev *ev,
               sl_perr *err)
{
    return sl_csv_parse(line, len, cols, scratch, ev, err);
}

static struct tp_res parse_cols(const char *line, const sl_csv_cols *cols)
{
    return tp_parse(csv, cols, line, strlen(line));
}

static struct tp_res parse(const char *line)
{
    sl_csv_cols cols;
    sl_csv_default_cols(&cols);
    return parse_cols(line, &cols);
}

static void expect_err_cols(const char *line, const sl_csv_cols *cols, size_t column,
                            const char *reason)
{
    tp_expect_err(csv, cols, line, column, reason);
}

static struct tp_res parse_ok(const char *line)
{
    sl_csv_cols cols;
    sl_csv_default_cols(&cols);
    return tp_parse_ok(csv, &cols, line, strlen(line));
}

static void expect_err(const char *line, size_t column, const char *reason)
{
    sl_csv_cols cols;
    sl_csv_default_cols(&cols);
    expect_err_cols(line, &cols, column, reason);
}

/* Lines the parser must refuse, by the test that checks them (see struct tp_bad). */
static const struct tp_bad bad_lines[] = {
    {"quote", "\"abc,view,1", NULL, 1, "unterminated quoted field"},
    {"quote", "a,\"vi\"ew,1", "ew", 0, "expected ',' after closing quote"},
    {"quote", "ab\"c,view,1", NULL, 3, "quote inside unquoted field"},
    {"quote", "a,view,\"1\" ", NULL, -1, "expected ',' after closing quote"},
    {"column_counts", "a,view", NULL, 0, "expected 3 to 4 columns, got 2"},
    {"column_counts", "a,view,1,2,x,y", NULL, 11, "expected 3 to 4 columns, got 6"},
    {"column_counts", "", NULL, 1, "expected 3 to 4 columns, got 1"},
    {"field", ",view,1", NULL, 1, "ad_id is empty"},
    {"field", "a,view,1.5", ".5", 0, "event_time is not an integer"},
    {"field", "a,view, 15", " 15", 0, "event_time is not an integer"},
    {"field", "a,view,", NULL, 0, "event_time is not an integer"},
    {"field", "a,view,9223372036854775808", "9223", 0, "event_time out of range for int64"},
    {"field", "a,view,\"1\"\"2\"", "\"1", 0, "event_time is not an integer"},
    {"field", "a,view,1,abc", "abc", 0, "value is not a number"},
    {"field", "a,view,1,nan", "nan", 0, "value is not a number"},
    {"field", "a,view,1,1e39", "1e39", 0, "value out of range for float"},
    {"field", "a,view,1,1.000000000000000000000000000000000000000000000000000000000000000", "1.0",
     0, "value longer than 63 characters"},
    {"field", "a,view,1,1e", NULL, 0, "value is not a number"},
};

static void expect_errs(const char *group)
{
    sl_csv_cols cols;
    sl_csv_default_cols(&cols);
    tp_expect_errs(csv, &cols, bad_lines, sizeof bad_lines / sizeof bad_lines[0], group);
}

Test(csvin, default_cols)
{
    sl_csv_cols c;
    sl_csv_default_cols(&c);
    cr_assert_eq(c.col[0], 0);
    cr_assert_eq(c.col[1], 1);
    cr_assert_eq(c.col[2], 2);
    cr_assert_eq(c.col[3], 3);
    cr_assert_eq(c.ncols, 0);
}

Test(csvin, plain_lines)
{
    const char *line = "ad-17,click,1700000000123";
    struct tp_res r = parse_ok(line);
    tp_expect_id(&r, "ad-17");
    cr_assert_eq(r.ev.ad_id, line, "an unquoted id points into the line");
    cr_assert_eq(r.ev.type, SL_EV_CLICK);
    cr_assert_eq(r.ev.time_ms, INT64_C(1700000000123), "time %lld", (long long)r.ev.time_ms);
    cr_assert_float_eq(r.ev.value, 0.0f, 0.0);
    tp_done(&r);

    r = parse_ok("b,view,-5,2.5\r");
    tp_expect_id(&r, "b");
    cr_assert_eq(r.ev.type, SL_EV_VIEW);
    cr_assert_eq(r.ev.time_ms, -5);
    cr_assert_float_eq(r.ev.value, 2.5f, 1e-9, "value %g", r.ev.value);
    tp_done(&r);

    r = parse("b,purchase,9223372036854775807,");
    cr_assert_eq(r.rc, 0, "empty value reads as 0: %s", r.err.reason);
    cr_assert_eq(r.ev.time_ms, INT64_MAX);
    cr_assert_eq(r.ev.type, SL_EV_PURCHASE);
    cr_assert_float_eq(r.ev.value, 0.0f, 0.0);
    tp_done(&r);

    r = parse_ok("b,,1,-.5e1");
    cr_assert_eq(r.ev.type, SL_EV_OTHER, "empty type is other");
    cr_assert_float_eq(r.ev.value, -5.0f, 1e-9, "value %g", r.ev.value);
    tp_done(&r);

    r = parse_ok("b,x,-9223372036854775808,1e-3");
    cr_assert_eq(r.ev.time_ms, INT64_MIN);
    cr_assert_float_eq(r.ev.value, 0.001f, 1e-9, "value %g", r.ev.value);
    tp_done(&r);

    r = parse_ok("b,x,1,+3");
    cr_assert_float_eq(r.ev.value, 3.0f, 1e-9, "value %g", r.ev.value);
    tp_done(&r);
}

Test(csvin, quoting)
{
    const char *line = "\"a,\"\"b\"\"\",\"click\",\"42\",\"1.25\"";
    struct tp_res r = parse_ok(line);
    tp_expect_id(&r, "a,\"b\"");
    cr_assert(r.ev.ad_id >= r.scratch && r.ev.ad_id < r.scratch + strlen(line),
              "an id with doubled quotes is unescaped into scratch");
    cr_assert_eq(r.ev.type, SL_EV_CLICK);
    cr_assert_eq(r.ev.time_ms, 42);
    cr_assert_float_eq(r.ev.value, 1.25f, 1e-9);
    tp_done(&r);

    /* A quoted field without doubled quotes points into the line. */
    line = "\"x y\",\"vi\"\"ew\",7";
    r = parse_ok(line);
    tp_expect_id(&r, "x y");
    cr_assert_eq(r.ev.ad_id, line + 1);
    cr_assert_eq(r.ev.type, SL_EV_OTHER, "vi\"ew is not view");
    tp_done(&r);

    /* "" is an empty quoted field; """" is one quote. */
    r = parse_ok("\"\"\"\",\"\",1");
    tp_expect_id(&r, "\"");
    cr_assert_eq(r.ev.type, SL_EV_OTHER);
    tp_done(&r);
}

Test(csvin, quote_errors)
{
    expect_errs("quote");
}

Test(csvin, header_detection)
{
    sl_csv_cols c;
    sl_csv_default_cols(&c);
    sl_perr e;
    const char *h = "ad_id,event_type,event_time";
    cr_assert_eq(sl_csv_header(h, strlen(h), &c, &e), 1);
    cr_assert_eq(c.col[0], 0);
    cr_assert_eq(c.col[1], 1);
    cr_assert_eq(c.col[2], 2);
    cr_assert_eq(c.col[3], -1, "no value column");
    cr_assert_eq(c.ncols, 3);

    h = "event_time,user,\"value\",ad_id,event_type,extra\r";
    cr_assert_eq(sl_csv_header(h, strlen(h), &c, &e), 1);
    cr_assert_eq(c.col[2], 0);
    cr_assert_eq(c.col[3], 2, "quoted column names count");
    cr_assert_eq(c.col[0], 3);
    cr_assert_eq(c.col[1], 4);
    cr_assert_eq(c.ncols, 6);

    struct tp_res r = parse_cols("17,u1,0.5,ad9,click,", &c);
    cr_assert_eq(r.rc, 0, "rc %d: %s", r.rc, r.err.reason);
    tp_expect_id(&r, "ad9");
    cr_assert_eq(r.ev.time_ms, 17);
    cr_assert_eq(r.ev.type, SL_EV_CLICK);
    cr_assert_float_eq(r.ev.value, 0.5f, 1e-9);
    tp_done(&r);

    /* Not headers: data, a header without ad_id, a line that is not valid CSV. */
    c.col[0] = 99;
    h = "ad1,view,123";
    cr_assert_eq(sl_csv_header(h, strlen(h), &c, &e), 0);
    h = "id,event_type,event_time";
    cr_assert_eq(sl_csv_header(h, strlen(h), &c, &e), 0);
    h = "ad_id,\"event_type";
    cr_assert_eq(sl_csv_header(h, strlen(h), &c, &e), 0);
    h = " ad_id,event_type,event_time";
    cr_assert_eq(sl_csv_header(h, strlen(h), &c, &e), 0, "names are matched exactly");
    cr_assert_eq(c.col[0], 99, "cols untouched when the line is not a header");
}

Test(csvin, header_errors)
{
    sl_csv_cols c;
    sl_csv_default_cols(&c);
    sl_perr e;
    const char *h = "ad_id,event_type,value";
    cr_assert_eq(sl_csv_header(h, strlen(h), &c, &e), SL_EPARSE);
    cr_assert_str_eq(e.reason, "header has no \"event_time\" column");
    cr_assert_eq(e.column, (size_t)1);

    h = "event_time,ad_id";
    cr_assert_eq(sl_csv_header(h, strlen(h), &c, &e), SL_EPARSE);
    cr_assert_str_eq(e.reason, "header has no \"event_type\" column");

    h = "ad_id,event_type,event_time,event_type";
    cr_assert_eq(sl_csv_header(h, strlen(h), &c, &e), SL_EPARSE);
    cr_assert_str_eq(e.reason, "duplicate column \"event_type\" in header");
    cr_assert_eq(e.column, (size_t)29, "column %zu", e.column);
}

Test(csvin, column_counts)
{
    sl_csv_cols c;
    sl_csv_default_cols(&c);
    sl_perr e;
    const char *h = "ad_id,event_type,event_time,value";
    cr_assert_eq(sl_csv_header(h, strlen(h), &c, &e), 1);
    const char *l = "a,view,1,2,3";
    expect_err_cols(l, &c, 11, "expected 4 columns, got 5");
    l = "a,view,1";
    expect_err_cols(l, &c, strlen(l) + 1, "expected 4 columns, got 3");

    /* Without a header: 3 or 4 columns. */
    expect_errs("column_counts");
    /* A comma inside quotes is not a separator. */
    struct tp_res r = parse_ok("\"a,b,c,d,e\",view,1");
    tp_expect_id(&r, "a,b,c,d,e");
    tp_done(&r);
}

Test(csvin, field_errors)
{
    expect_errs("field");

    char line[SL_ADID_MAX + 64];
    memset(line, 'z', SL_ADID_MAX + 1);
    strcpy(line + SL_ADID_MAX + 1, ",view,1");
    expect_err(line, 1, "ad_id longer than 1024 bytes");
    memmove(line + SL_ADID_MAX, line + SL_ADID_MAX + 1, strlen(line + SL_ADID_MAX + 1) + 1);
    struct tp_res r = parse(line);
    cr_assert_eq(r.rc, 0, "a %d-byte id is fine: %s", SL_ADID_MAX, r.err.reason);
    cr_assert_eq(r.ev.ad_id_len, (size_t)SL_ADID_MAX);
    tp_done(&r);
}
