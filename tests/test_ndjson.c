#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addict.h"
#include "err.h"
#include "keyhash.h"
#include "lineparse.h"
#include "ndjson.h"

static int ndjson(const void *ctx, const char *line, size_t len, char *scratch, sl_rawev *ev,
                  sl_perr *err)
{
    (void)ctx;
    return sl_ndjson_parse(line, len, scratch, ev, err);
}

static struct tp_res parse_n(const char *line, size_t len)
{
    return tp_parse(ndjson, NULL, line, len);
}

static struct tp_res parse(const char *line)
{
    return parse_n(line, strlen(line));
}

static struct tp_res parse_ok(const char *line)
{
    return tp_parse_ok(ndjson, NULL, line, strlen(line));
}

static void expect_err(const char *line, size_t column, const char *reason)
{
    tp_expect_err(ndjson, NULL, line, column, reason);
}

/* parse_ok, asserting that the line's ad id is `id` (tp_expect_id). */
static struct tp_res parse_ok_id(const char *line, const char *id)
{
    struct tp_res r = parse_ok(line);
    tp_expect_id(&r, id);
    return r;
}

/* parse_ok_id, and nothing else checked. */
static void expect_id(const char *line, const char *id)
{
    struct tp_res r = parse_ok_id(line, id);
    tp_done(&r);
}

/* Lines the parser must refuse, by the test that checks them (see struct tp_bad). AT_TIME and
 * AT_VALUE start a line whose other fields are fine: event_time, or value, comes next. */
#define AT_TIME "{\"ad_id\":\"a\",\"event_type\":\"v\",\"event_time\":"
#define AT_VALUE AT_TIME "1,\"value\":"
static const struct tp_bad bad_lines[] = {
    {"structure", "", NULL, 1, "expected '{' at start of line"},
    {"structure", "  [1]", NULL, 3, "expected '{' at start of line"},
    {"structure", "{\"ad_id\" \"x\"}", NULL, 10, "expected ':' after field name"},
    {"structure", "{ad_id:1}", NULL, 2, "expected field name"},
    {"structure", "{\"ad_id\":\"a\",}", NULL, 14, "expected field name"},
    {"structure", "{\"ad_id\":\"a\" \"event_type\":\"v\"}", "\"event_type", 0,
     "expected ',' or '}' after value"},
    {"structure", AT_TIME "1} x", " x", 1, "trailing characters after object"},
    {"structure", AT_TIME "1}{}", NULL, -2, "trailing characters after object"},
    {"structure", AT_TIME "1", NULL, 0, "expected ',' or '}' after value"},
    {"structure", "{\"ad_id\":", NULL, 10, "expected a value"},
    {"structure", "{\"x\":tru,\"ad_id\":\"a\"}", "tru", 0, "expected a value"},
    {"structure", "{\"x\":[1,2},\"ad_id\":\"a\"}", "},", 0, "expected ',' or ']' in array"},
    {"structure", "{\"x\":{\"a\" 1}}", " 1", 1, "expected ':' after field name"},
    {"structure", "{\"x\":{\"a\":1 \"b\":2}}", "\"b", 0, "expected ',' or '}' in object"},
    {"structure", "{\"x\":{1:2}}", "1:", 0, "expected field name"},
    {"structure", "{\"x\":{\"a\":1,}}", "}}", 0, "expected field name"},
    {"structure", "{\"x\":[1,]}", "]}", 0, "expected a value"},
    {"structure", "{\"x\":[1,2,", NULL, 0, "expected a value"},
    {"structure", "{\"x\":{\"a\":1}", NULL, 0, "expected ',' or '}' after value"},
    {"structure", "{\"x\":01}", "1}", 0, "invalid number (leading zero)"},
    {"structure", "{\"x\":1.}", "}", 0, "invalid number (no digit after '.')"},
    {"structure", "{\"x\":1e+}", "}", 0, "invalid number (no digit in exponent)"},
    {"structure", "{\"x\":-}", "}", 0, "invalid number"},
    {"fields", "{\"event_type\":\"v\",\"event_time\":1}", NULL, -1, "missing field \"ad_id\""},
    {"fields", "{\"ad_id\":\"a\",\"event_time\":1}", NULL, -1, "missing field \"event_type\""},
    {"fields", "{\"ad_id\":\"a\",\"event_type\":\"v\", \"value\": 1 } ", NULL, -2,
     "missing field \"event_time\""},
    {"fields", "{}", NULL, 2, "missing field \"ad_id\""},
    {"fields", AT_TIME "1,\"ad_id\":\"b\"}", "\"ad_id\":\"b", 0, "duplicate field \"ad_id\""},
    {"fields", "{\"ad_id\":\"a\",\"event_time\":1,\"event_type\":\"v\",\"event_time\":1}",
     "\"event_time\":1}", 0, "duplicate field \"event_time\""},
    {"fields", "{\"value\":1,\"ad_id\":\"a\",\"event_time\":1,\"event_type\":\"v\",\"value\":2}",
     "\"value\":2", 0, "duplicate field \"value\""},
    {"string", "{\"ad_id\":\"abc", NULL, 0, "unterminated string"},
    {"string", "{\"ad_id\":\"a\\u00e9bc", NULL, 0, "unterminated string"},
    {"string", "{\"ad_id\":\"a\\", NULL, 0, "unterminated string"},
    {"string", "{\"ad_id\":\"a\\x\"}", "\\x", 0, "invalid escape '\\x' in string"},
    {"string", "{\"ad_id\":\"a\\u00g9\"}", "\\u", 0, "invalid \\u escape (expected 4 hex digits)"},
    {"string", "{\"ad_id\":\"a\\u00\"}", "\\u", 0, "invalid \\u escape (expected 4 hex digits)"},
    {"string", "{\"ad_id\":\"a\\ud83d\",\"event_type\":\"v\",\"event_time\":1}", "\\u", 0,
     "unpaired high surrogate in \\u escape"},
    {"string", "{\"ad_id\":\"a\\ud83d\\u0041\",\"event_type\":\"v\",\"event_time\":1}", "\\u", 0,
     "unpaired high surrogate in \\u escape"},
    {"string", "{\"ad_id\":\"a\\ude00\",\"event_type\":\"v\",\"event_time\":1}", "\\u", 0,
     "unpaired low surrogate in \\u escape"},
    {"string", "{\"ad_id\":\"abcdefghijkl\tm\"}", "\t", 0, "control character in string"},
    {"string", "{\"ad_id\":\"a\\n\tm\"}", "\t", 0, "control character in string"},
    {"string", "{\"skip\":\"xx\\q\"}", "\\q", 0, "invalid escape '\\q' in string"},
    {"event_time", AT_TIME "1.5}", ".5", 0, "event_time is not an integer"},
    {"event_time", AT_TIME "15e2}", "e2", 0, "event_time is not an integer"},
    {"event_time", AT_TIME "\"12a4\"}", "a4", 0, "event_time is not an integer"},
    {"event_time", AT_TIME "\"\"}", "\"}", 0, "event_time is not an integer"},
    {"event_time", AT_TIME "\"-\"}", "\"}", 0, "event_time is not an integer"},
    {"event_time", AT_TIME "\"1.0\"}", ".0", 0, "event_time is not an integer"},
    {"event_time", AT_TIME "true}", "true", 0, "event_time is not an integer"},
    {"event_time", AT_TIME "9223372036854775808}", "9223", 0, "event_time out of range for int64"},
    {"event_time", AT_TIME "\"-9223372036854775809\"}", "\"-9", 0,
     "event_time out of range for int64"},
    {"event_time", AT_TIME "99999999999999999999999}", "9999", 0,
     "event_time out of range for int64"},
    {"value", AT_VALUE "\"abc\"}", "abc", 0, "value is not a number"},
    {"value", AT_VALUE "\"1.5x\"}", "x\"", 0, "value is not a number"},
    {"value", AT_VALUE "\"inf\"}", "inf", 0, "value is not a number"},
    {"value", AT_VALUE "\"0x10\"}", "x10", 0, "value is not a number"},
    {"value", AT_VALUE "\"\"}", "\"\"", 1, "value is not a number"},
    {"value", AT_VALUE "\"1e+\"}", "\"}", 0, "value is not a number"},
    {"value", AT_VALUE "\".\"}", ".\"", 1, "value is not a number"},
    {"value", AT_VALUE "\"\\u0031x\"}", "\"\\u", 0, "value is not a number"},
    {"value", AT_VALUE "1e39}", "1e39", 0, "value out of range for float"},
    {"value", AT_VALUE "\"-1e400\"}", "\"-1e400", 0, "value out of range for float"},
    {"value", AT_VALUE "[1]}", "[1]", 0, "value is not a number"},
    {"value", AT_VALUE "1.00000000000000000000000000000000000000000000000000000000000000000}",
     "1.0", 0, "value longer than 63 characters"},
};

static void expect_errs(const char *group)
{
    tp_expect_errs(ndjson, NULL, bad_lines, sizeof bad_lines / sizeof bad_lines[0], group);
}

Test(ndjson, ysb_line)
{
    const char *line =
        "{\"user_id\": \"2b8d5f3a-6d2b-4c43-9f2e-0b1c1e0d7a11\", \"page_id\": "
        "\"4c0f5e5e-1a4b-4d7b-8a3c-5f9e7d6c5b4a\", \"ad_id\": "
        "\"9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d\", \"ad_type\": \"banner\", \"event_type\": "
        "\"click\", \"event_time\": \"1700000000123\", \"ip_address\": \"1.2.3.4\"}";
    struct tp_res r = parse_ok_id(line, "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d");
    cr_assert_eq(r.ev.ad_id, strstr(line, "9a1b"), "an unescaped id points into the line");
    cr_assert_eq(r.ev.type, SL_EV_CLICK, "type %d", r.ev.type);
    cr_assert_eq(r.ev.time_ms, INT64_C(1700000000123), "time %lld", (long long)r.ev.time_ms);
    cr_assert_float_eq(r.ev.value, 0.0f, 0.0, "no value field gives 0, got %g", r.ev.value);
    tp_done(&r);
}

/* The parse that starts the key's lookup (sl_ndjson_parse_hinted): the same event as
 * sl_ndjson_parse_plan, and a hint naming the id it hashed with sl_key_hash's key, for a plain id
 * and an escaped one (decoded into scratch); a line without its id gives no hint. Interning with
 * the hint records the same key and id as sl_addict_intern. */
Test(ndjson, hinted_parse_starts_the_key_lookup)
{
    const char *lines[] = {
        "{\"ad_id\": \"ad-00001234\", \"event_type\": \"view\", \"event_time\": 5}",
        "{\"event_type\": \"click\", \"ad_id\": \"caf\\u00e9-\\\"7\\\"\", \"event_time\": 6}",
        "{\"ad_id\": \"a-very-long-ad-identifier-of-40-bytes-xx\", \"event_type\": \"view\", "
        "\"event_time\": 7}",
        "{\"event_type\": \"view\", \"event_time\": 8}",
    };
    sl_addict *d = sl_addict_new(), *ref = sl_addict_new();
    cr_assert(d && ref);
    static char scratch[512], scratch2[512];
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        sl_rawev a, b;
        sl_perr ea, eb;
        const char *hs = (const char *)1;
        size_t hn = 0;
        uint64_t hk = 0;
        size_t len = strlen(lines[i]);
        int ra = sl_ndjson_parse_plan(sl_evplan_default(), lines[i], len, scratch, &a, &ea);
        int rb = sl_ndjson_parse_hinted(sl_evplan_default(), lines[i], len, scratch2, &b, &eb, d,
                                        &hs, &hn, &hk);
        cr_assert_eq(ra, rb, "line %zu", i);
        if (ra) {
            cr_assert_null(hs, "line %zu: no id, no hint", i);
            cr_assert_str_eq(ea.reason, eb.reason);
            continue;
        }
        cr_assert_eq(a.ad_id_len, b.ad_id_len);
        cr_assert_eq(memcmp(a.ad_id, b.ad_id, a.ad_id_len), 0, "line %zu", i);
        cr_assert_eq(a.time_ms, b.time_ms);
        cr_assert_eq(a.type, b.type);
        cr_assert_eq(hs, b.ad_id, "line %zu: the hint names the event's id", i);
        cr_assert_eq(hn, b.ad_id_len);
        cr_assert_eq(hk, sl_key_hash(b.ad_id, b.ad_id_len), "line %zu", i);
        uint64_t k1 = 0, k2 = 0;
        cr_assert_eq(sl_addict_intern_key(d, b.ad_id, b.ad_id_len, hk, &k1), 0);
        cr_assert_eq(sl_addict_intern(ref, a.ad_id, a.ad_id_len, &k2), 0);
        cr_assert_eq(k1, k2, "line %zu", i);
        size_t l1 = 0, l2 = 0;
        const char *s1 = sl_addict_get(d, k1, &l1), *s2 = sl_addict_get(ref, k2, &l2);
        cr_assert(s1 && s2 && l1 == l2 && memcmp(s1, s2, l1) == 0, "line %zu", i);
    }
    cr_assert_eq(sl_addict_count(d), 3);
    sl_addict_destroy(&d);
    sl_addict_destroy(&ref);
}

Test(ndjson, numbers_and_types)
{
    struct tp_res r = parse_ok("{\"ad_id\":\"a\",\"event_type\":\"view\",\"event_time\":-42,"
                               "\"value\":2.5e1}");
    cr_assert_eq(r.ev.time_ms, -42, "time %lld", (long long)r.ev.time_ms);
    cr_assert_float_eq(r.ev.value, 25.0f, 1e-6, "value %g", r.ev.value);
    cr_assert_eq(r.ev.type, SL_EV_VIEW);
    tp_done(&r);

    r = parse_ok("{\"value\":\"-0.125\",\"event_time\":\"0\",\"event_type\":\"purchase\","
                 "\"ad_id\":\"b\"}");
    cr_assert_float_eq(r.ev.value, -0.125f, 1e-9, "numeric string value %g", r.ev.value);
    cr_assert_eq(r.ev.time_ms, 0);
    cr_assert_eq(r.ev.type, SL_EV_PURCHASE);
    tp_done(&r);

    r = parse("{\"ad_id\":\"c\",\"event_type\":\"v\",\"event_time\":\"\\u0031\\u0032\","
              "\"value\":\"\\u0033\"}");
    cr_assert_eq(r.rc, 0, "escaped digits decode: %s", r.err.reason);
    cr_assert_eq(r.ev.time_ms, 12, "time %lld", (long long)r.ev.time_ms);
    cr_assert_float_eq(r.ev.value, 3.0f, 0.0, "value %g", r.ev.value);
    tp_done(&r);

    r = parse_ok("{\"ad_id\":\"c\",\"event_type\":\"impression\",\"event_time\":0,\"value\":null}");
    cr_assert_eq(r.ev.type, SL_EV_VIEW, "impression counts as a view");
    cr_assert_float_eq(r.ev.value, 0.0f, 0.0, "null value reads as absent");
    tp_done(&r);

    r = parse_ok("{\"ad_id\":\"c\",\"event_type\":\"View\",\"event_time\":9223372036854775807}");
    cr_assert_eq(r.ev.type, SL_EV_OTHER, "types are case-sensitive");
    cr_assert_eq(r.ev.time_ms, INT64_MAX, "time %lld", (long long)r.ev.time_ms);
    tp_done(&r);

    r = parse_ok("{\"ad_id\":\"c\",\"event_type\":\"\",\"event_time\":\"-9223372036854775808\"}");
    cr_assert_eq(r.ev.time_ms, INT64_MIN, "time %lld", (long long)r.ev.time_ms);
    cr_assert_eq(r.ev.type, SL_EV_OTHER);
    tp_done(&r);
}

Test(ndjson, whitespace_and_crlf)
{
    struct tp_res r = parse_ok_id(" \t{ \"ad_id\" :\t\"x\" , \"event_type\" : \"view\" ,\r\n"
                                  "\"event_time\" : 7 } \t\r",
                                  "x");
    cr_assert_eq(r.ev.time_ms, 7);
    tp_done(&r);
}

Test(ndjson, escapes)
{
    /* a"b\c/ then e-acute, then U+1F600 as a surrogate pair, then a tab. */
    const char *line = "{\"ad_id\":\"a\\\"b\\\\c\\/\\u00e9\\ud83d\\ude00\\t\","
                       "\"event_type\":\"vi\\u0065w\",\"event_time\":1}";
    struct tp_res r = parse_ok_id(line, "a\"b\\c/\xc3\xa9\xf0\x9f\x98\x80\t");
    cr_assert(r.ev.ad_id >= r.scratch && r.ev.ad_id < r.scratch + strlen(line),
              "an unescaped id lives in scratch");
    cr_assert_eq(r.ev.type, SL_EV_VIEW, "escaped event_type decoded, got %d", r.ev.type);
    tp_done(&r);

    /* Every short escape, and a 3-byte UTF-8 character. */
    expect_id("{\"ad_id\":\"\\b\\f\\n\\r\\u20AC\",\"event_type\":\"v\",\"event_time\":1}",
              "\b\f\n\r\xe2\x82\xac");

    /* A field name written with an escape is still the field. */
    expect_id("{\"ad\\u005fid\":\"k\",\"event_type\":\"v\",\"event_time\":1}", "k");

    /* Raw UTF-8 passes through untouched. */
    expect_id("{\"ad_id\":\"caf\xc3\xa9\",\"event_type\":\"v\",\"event_time\":1}", "caf\xc3\xa9");
}

Test(ndjson, several_escaped_strings_share_scratch)
{
    /* Two escaped strings and an escaped skipped field: each is decoded at its own offset. */
    const char *line = "{\"u\":\"\\u0041\\u0042\",\"ad_id\":\"\\u0078y\\u007a\","
                       "\"event_type\":\"cl\\u0069ck\",\"event_time\":3}";
    struct tp_res r = parse_ok_id(line, "xyz");
    cr_assert_eq(r.ev.type, SL_EV_CLICK);
    tp_done(&r);
}

Test(ndjson, skipped_fields_of_every_type)
{
    const char *line =
        "{\"o\":{\"a\":[1,2,{\"b\":null}],\"c\":\"}]\\\"\",\"d\":{}},\"arr\":[true,false,null,"
        "-1.5e3,0,0.0,1E+2,\"s\\\"]\",[],[[[]]]],\"n\":-0,\"t\":true,\"f\":false,\"z\":null,"
        "\"ad_id\":\"kept\",\"event_type\":\"click\",\"event_time\":5,\"e\":[ { } , [ ] ]}";
    struct tp_res r = parse_ok_id(line, "kept");
    cr_assert_eq(r.ev.type, SL_EV_CLICK);
    cr_assert_eq(r.ev.time_ms, 5);
    tp_done(&r);
}

Test(ndjson, nesting_limit)
{
    char line[2048];
    int depth = 500;
    size_t n =
        (size_t)sprintf(line, "{\"ad_id\":\"a\",\"event_type\":\"v\",\"event_time\":1,\"x\":");
    for (int i = 0; i < depth; i++)
        line[n++] = '[';
    for (int i = 0; i < depth; i++)
        line[n++] = ']';
    line[n++] = '}';
    line[n] = '\0';
    struct tp_res r = parse(line);
    cr_assert_eq(r.rc, 0, "500 levels are fine: %s", r.err.reason);
    tp_done(&r);

    depth = 600;
    n = (size_t)sprintf(line, "{\"x\":");
    for (int i = 0; i < depth; i++)
        line[n++] = '[';
    line[n] = '\0';
    r = parse(line);
    cr_assert_eq(r.rc, SL_EPARSE);
    cr_assert_str_eq(r.err.reason, "nesting deeper than 512 levels");
    cr_assert_eq(r.err.column, (size_t)(6 + 512 + 1), "column %zu", r.err.column);
    tp_done(&r);
}

Test(ndjson, structure_errors)
{
    expect_errs("structure");
}

Test(ndjson, missing_and_duplicate_fields)
{
    expect_errs("fields");
}

Test(ndjson, ad_id_rules)
{
    const char *l = "{\"ad_id\":\"\",\"event_type\":\"v\",\"event_time\":1}";
    expect_err(l, 10, "ad_id is empty");
    /* A number is an id: its text as written. */
    l = "{\"ad_id\":17,\"event_type\":\"v\",\"event_time\":1}";
    struct tp_res r = parse_ok(l);
    tp_expect_id(&r, "17");
    tp_done(&r);
    l = "{\"ad_id\":-1.50e3,\"event_type\":\"v\",\"event_time\":1}";
    r = parse_ok(l);
    tp_expect_id(&r, "-1.50e3");
    tp_done(&r);
    l = "{\"ad_id\":true,\"event_type\":\"v\",\"event_time\":1}";
    expect_err(l, 10, "ad_id is not a string or a number");
    l = "{\"ad_id\":{},\"event_type\":\"v\",\"event_time\":1}";
    expect_err(l, 10, "ad_id is not a string or a number");
    l = "{\"ad_id\":\"a\",\"event_type\":null,\"event_time\":1}";
    expect_err(l, tp_col_of(l, "null"), "event_type is null");

    /* SL_ADID_MAX bytes are accepted, one more is not. */
    char line[SL_ADID_MAX + 128];
    char id[SL_ADID_MAX + 2];
    memset(id, 'q', sizeof id - 1);
    id[SL_ADID_MAX] = '\0';
    sprintf(line, "{\"ad_id\":\"%s\",\"event_type\":\"v\",\"event_time\":1}", id);
    r = parse(line);
    cr_assert_eq(r.rc, 0, "%d-byte id: %s", SL_ADID_MAX, r.err.reason);
    cr_assert_eq(r.ev.ad_id_len, (size_t)SL_ADID_MAX);
    tp_done(&r);
    id[SL_ADID_MAX] = 'q';
    id[SL_ADID_MAX + 1] = '\0';
    sprintf(line, "{\"ad_id\":\"%s\",\"event_type\":\"v\",\"event_time\":1}", id);
    expect_err(line, 10, "ad_id longer than 1024 bytes");
}

Test(ndjson, string_errors)
{
    expect_errs("string");
}

Test(ndjson, event_time_errors)
{
    expect_errs("event_time");
}

Test(ndjson, value_errors)
{
    expect_errs("value");
}

Test(ndjson, parse_reads_only_len_bytes)
{
    /* The line is not NUL-terminated where it ends: bytes past len must not be read. */
    const char *full = "{\"ad_id\":\"a\",\"event_type\":\"v\",\"event_time\":12}GARBAGE";
    size_t len = (size_t)(strstr(full, "GARBAGE") - full);
    char *copy = malloc(len);
    cr_assert_not_null(copy);
    memcpy(copy, full, len);
    struct tp_res r = tp_parse_ok(ndjson, NULL, copy, len);
    cr_assert_eq(r.ev.time_ms, 12);
    tp_done(&r);
    /* Cut inside a string: the scan stops at len (ASan checks the bound). */
    r = parse_n(copy, 12);
    cr_assert_eq(r.rc, SL_EPARSE);
    cr_assert_str_eq(r.err.reason, "expected ',' or '}' after value");
    tp_done(&r);
    r = parse_n(copy, 11);
    cr_assert_eq(r.rc, SL_EPARSE);
    cr_assert_str_eq(r.err.reason, "unterminated string");
    cr_assert_eq(r.err.column, (size_t)12);
    tp_done(&r);
    free(copy);
}

Test(ndjson, user_id_is_optional_and_unescaped)
{
    const char *line = "{\"ad_id\": \"a\", \"user_id\": \"u\\u00e9-7\", \"event_type\": \"view\", "
                       "\"event_time\": 5}";
    struct tp_res r = parse(line);
    cr_assert_eq(r.rc, 0, "%s", r.err.reason);
    cr_assert_eq(r.ev.user_id_len, 5, "\"u\\u00e9-7\" is 5 bytes of UTF-8");
    cr_assert_eq(memcmp(r.ev.user_id, "u\xc3\xa9-7", 5), 0);
    tp_expect_id(&r, "a");
    tp_done(&r);
    r = parse("{\"ad_id\": \"a\", \"event_type\": \"view\", \"event_time\": 5}");
    cr_assert_eq(r.rc, 0);
    cr_assert_null(r.ev.user_id);
    cr_assert_eq(r.ev.user_id_len, 0);
    tp_done(&r);
    r = parse("{\"ad_id\": \"a\", \"user_id\": 12, \"event_type\": \"view\", \"event_time\": 5}");
    cr_assert_eq(r.rc, 0, "a number is a user id: %s", r.err.reason);
    cr_assert_eq(r.ev.user_id_len, 2);
    cr_assert_eq(memcmp(r.ev.user_id, "12", 2), 0);
    tp_done(&r);
    expect_err("{\"ad_id\": \"a\", \"user_id\": [1], \"event_type\": \"view\", \"event_time\": 5}",
               27, "user_id is not a string or a number");
    expect_err("{\"ad_id\": \"a\", \"user_id\": \"x\", \"user_id\": \"y\", \"event_type\": \"v\", "
               "\"event_time\": 5}",
               32, "duplicate field \"user_id\"");
}
