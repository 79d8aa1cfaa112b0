/* Declared schemas (host/model/schema.h, host/io/evbuild.h, base/timetext.h): times in every
 * format against the C library's timegm, lines read by declared fields, and whole runs over
 * the inputs CTR users have (one CSV row per impression with a click label, composite keys,
 * numeric ids, ISO times) against counts the test makes itself. */
/* timegm: _GNU_SOURCE comes from the build */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csvin.h"
#include "err.h"
#include "evbuild.h"
#include "keyhash.h"
#include "ndjson.h"
#include "proc.h"
#include "reader.h"
#include "schema.h"
#include "timetext.h"
#include "util.h"

/* ---- times -------------------------------------------------------------------------------- */

/* Milliseconds of a UTC civil time by glibc's timegm: the independent reference. */
static int64_t ref_ms(int y, int mo, int d, int h, int mi, int s, int ms)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

Test(schema, iso8601_and_patterns_match_timegm)
{
    uint64_t rng = 20261206;
    for (int i = 0; i < 20000; i++) {
        int y = 1900 + (int)(splitmix64(&rng) % 300), mo = 1 + (int)(splitmix64(&rng) % 12);
        int d = 1 + (int)(splitmix64(&rng) % 28), h = (int)(splitmix64(&rng) % 24);
        int mi = (int)(splitmix64(&rng) % 60), s = (int)(splitmix64(&rng) % 60);
        int ms = (int)(splitmix64(&rng) % 1000);
        int64_t want = ref_ms(y, mo, d, h, mi, s, ms), got = 0;
        char t[64];
        size_t bad;
        const char *why;
        snprintf(t, sizeof t, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo, d, h, mi, s, ms);
        cr_assert_eq(sl_time_parse_iso8601(t, strlen(t), &got, &bad, &why), 0, "%s", t);
        cr_assert_eq(got, want, "%s: %lld, timegm %lld (seed 20261206, round %d)", t,
                     (long long)got, (long long)want, i);
        /* An offset moves the instant the other way. */
        snprintf(t, sizeof t, "%04d-%02d-%02d %02d:%02d:%02d.%03d+05:30", y, mo, d, h, mi, s, ms);
        cr_assert_eq(sl_time_parse_iso8601(t, strlen(t), &got, &bad, &why), 0, "%s", t);
        cr_assert_eq(got, want - (5 * 3600 + 30 * 60) * 1000, "%s", t);
        if (y >= 1969 && y < 2069) {
            snprintf(t, sizeof t, "%02d%02d%02d%02d", y % 100, mo, d, h);
            cr_assert_eq(sl_time_parse_pattern("%y%m%d%H", t, strlen(t), &got, &bad, &why), 0,
                         "%s: %s", t, why);
            cr_assert_eq(got, ref_ms(y, mo, d, h, 0, 0, 0), "%s", t);
        }
        snprintf(t, sizeof t, "%02d/%02d/%04d %02d:%02d:%02d", d, mo, y, h, mi, s);
        cr_assert_eq(sl_time_parse_pattern("%d/%m/%Y %H:%M:%S", t, strlen(t), &got, &bad, &why), 0,
                     "%s", t);
        cr_assert_eq(got, want - ms, "%s", t);
        /* Seconds with a fraction (negative ones are tested on their own below). */
        if (want >= 0) {
            snprintf(t, sizeof t, "%lld.%03d", (long long)((want - ms) / 1000), ms);
            cr_assert_eq(sl_time_parse_s(t, strlen(t), &got, &bad, &why), 0, "%s", t);
            cr_assert_eq(got, want, "%s", t);
        }
    }
}

Test(schema, bad_times_name_the_byte)
{
    static const struct {
        const char *fmt, *text;
        size_t bad;
        const char *why;
    } cases[] = {
        {"iso", "2026-13-01", 0, "month out of range"},
        {"iso", "2026-04-31T00:00", 0, "day out of range"},
        {"iso", "2025-02-29", 0, "day out of range"},
        {"iso", "2026-01-0x", 9, "expected a digit"},
        {"iso", "2026/01/01", 4, "expected '-' after the year"},
        {"iso", "2026-01-01T10:00Zjunk", 17, "unexpected text after the time"},
        {"iso", "2026-01-01T25:00", 0, "hour out of range"},
        {"%y%m%d%H", "1410210", 7, "expected a digit"},
        {"%y%m%d%H", "14102124", 0, "hour out of range"},
        {"%Y-%j", "2025-366", 0, "day of the year out of range"},
        {"s", "12.", 3, "expected a digit after the point"},
        {"s", "1e3", 1, "expected a digit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms;
        size_t bad = 999;
        const char *why = "", *t = cases[i].text;
        int rc;
        if (strcmp(cases[i].fmt, "iso") == 0)
            rc = sl_time_parse_iso8601(t, strlen(t), &ms, &bad, &why);
        else if (strcmp(cases[i].fmt, "s") == 0)
            rc = sl_time_parse_s(t, strlen(t), &ms, &bad, &why);
        else
            rc = sl_time_parse_pattern(cases[i].fmt, t, strlen(t), &ms, &bad, &why);
        cr_assert_eq(rc, 1, "%s accepted", t);
        cr_assert_eq(bad, cases[i].bad, "%s: byte %zu, want %zu", t, bad, cases[i].bad);
        cr_assert_str_eq(why, cases[i].why, "%s", t);
    }
    int64_t ms;
    size_t bad;
    const char *why;
    cr_assert_eq(sl_time_parse_s("9223372036854775807", 19, &ms, &bad, &why), 2, "overflow");
    char err[256];
    cr_assert_eq(sl_time_pattern_check("%y%q", err, sizeof err), SL_EINVAL);
    cr_assert(strstr(err, "%q is not supported"), "%s", err);
    cr_assert_eq(sl_time_pattern_check("%H:%M", err, sizeof err), SL_EINVAL, "no year");
}

/* ---- lines by a schema -------------------------------------------------------------------- */

/* A schema for the tests below: query (string), ad (string), t (time), click (int64), bid
 * (double, optional), u (string, optional); key [query, ad]; the rest as each test sets it. */
static void test_schema(sl_schema *s)
{
    memset(s, 0, sizeof *s);
    static const struct {
        const char *name;
        int type, optional;
    } f[] = {{"query", SL_FT_STRING, 0}, {"ad", SL_FT_STRING, 0},  {"t", SL_FT_TIME, 0},
             {"click", SL_FT_INT64, 0},  {"bid", SL_FT_DOUBLE, 1}, {"u", SL_FT_STRING, 1}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        snprintf(s->field[i].name, sizeof s->field[i].name, "%s", f[i].name);
        s->field[i].type = f[i].type;
        s->field[i].optional = f[i].optional;
    }
    s->declared = 1;
    s->nfields = 6;
    s->nkey = 2;
    s->key[0] = 0;
    s->key[1] = 1;
    s->time_field = 2;
    s->time_format = SL_TIME_ISO8601;
    s->value_field = 4;
    s->user_field = 5;
    s->type_mode = SL_TYPE_PREDICATES;
    s->pred[SL_EV_VIEW] = (sl_type_pred){.on = 1, .all = 1};
    s->pred[SL_EV_CLICK] = (sl_type_pred){.on = 1, .field = 3, .equals = "1"};
    s->delimiter = ',';
    char err[256];
    cr_assert_eq(sl_schema_check(s, err, sizeof err), 0, "%s", err);
}

static int parse_json(const sl_evplan *p, const char *line, sl_rawev *ev, sl_perr *e)
{
    static char scratch[4096];
    return sl_ndjson_parse_plan(p, line, strlen(line), scratch, ev, e);
}

Test(schema, ndjson_by_declared_fields)
{
    sl_schema s;
    test_schema(&s);
    sl_evplan p;
    sl_evplan_init(&p, &s);
    sl_rawev ev;
    sl_perr e;
    const char *l = "{\"ad\":17,\"query\":\"shoes\",\"t\":\"2026-01-31T12:00:00.5Z\",\"click\":1,"
                    "\"bid\":\"2.5\",\"extra\":[1,{\"a\":2}]}";
    cr_assert_eq(parse_json(&p, l, &ev, &e), 0, "%s", e.reason);
    cr_assert_eq(ev.ad_id_len, 8);
    {
        /* a composite key is joined after the parse: no lookup is started early */
        sl_addict *d = sl_addict_new();
        static char scratch[4096];
        const char *hs = (const char *)1;
        size_t hn = 0;
        uint64_t hk = 0;
        sl_rawev ev2;
        cr_assert_eq(sl_ndjson_parse_hinted(&p, l, strlen(l), scratch, &ev2, &e, d, &hs, &hn, &hk),
                     0, "%s", e.reason);
        cr_assert_null(hs);
        cr_assert_eq(ev2.ad_id_len, ev.ad_id_len);
        sl_addict_destroy(&d);
    }
    cr_assert_eq(memcmp(ev.ad_id,
                        "shoes\x1f"
                        "17",
                        8),
                 0, "composite key, parts in key order");
    cr_assert_eq(ev.time_ms, ref_ms(2026, 1, 31, 12, 0, 0, 500));
    cr_assert_eq(ev.types, (1u << SL_EV_VIEW) | (1u << SL_EV_CLICK), "an impression and a click");
    cr_assert_eq(ev.value, 2.5);
    cr_assert_null(ev.user_id);

    l = "{\"ad\":\"a\",\"query\":\"q\",\"t\":\"2026-01-31\",\"click\":0,\"bid\":null,\"u\":7}";
    cr_assert_eq(parse_json(&p, l, &ev, &e), 0, "%s", e.reason);
    cr_assert_eq(ev.types, 1u << SL_EV_VIEW, "no click");
    cr_assert_eq(ev.value, 0.0, "null: no value");
    cr_assert_eq(ev.user_id_len, 1);

    /* Errors name the field and the byte. */
    static const struct {
        const char *line, *at, *reason;
    } bad[] = {
        {"{\"ad\":\"a\",\"query\":\"q\",\"t\":\"2026-01-31\",\"click\":1.5}", ".5",
         "click is not an integer"},
        {"{\"ad\":\"a\",\"query\":\"q\",\"t\":\"2026-02-30\",\"click\":1}", "2026-02",
         "t is not an ISO 8601 time (day out of range)"},
        {"{\"ad\":\"a\",\"query\":\"q\",\"click\":1}", "}", "missing field \"t\""},
        {"{\"ad\":\"a\",\"query\":\"\",\"t\":\"2026-01-31\",\"click\":1}", "\"\"",
         "query is empty"},
        {"{\"ad\":\"a\",\"query\":\"q\",\"t\":\"2026-01-31\",\"click\":1,\"bid\":\"x1\"}", "x1",
         "bid is not a number"},
        {"{\"ad\":\"a\",\"query\":\"q\\u001fr\",\"t\":\"2026-01-31\",\"click\":1}", "\"q\\u",
         "query holds the byte 0x1f, which joins the parts of a composite key"},
        {"{\"ad\":true,\"query\":\"q\",\"t\":\"2026-01-31\",\"click\":1}", "true",
         "ad is not a string or a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(parse_json(&p, bad[i].line, &ev, &e), SL_EPARSE, "%s", bad[i].line);
        cr_assert_str_eq(e.reason, bad[i].reason, "%s", bad[i].line);
        size_t col = (size_t)(strstr(bad[i].line, bad[i].at) - bad[i].line) + 1;
        cr_assert_eq(e.column, col, "%s: column %zu, want %zu", bad[i].line, e.column, col);
    }
}

Test(schema, type_map_case_insensitive_and_seconds)
{
    sl_schema s;
    test_schema(&s);
    s.time_format = SL_TIME_S;
    s.type_mode = SL_TYPE_FIELD;
    s.type_field = 1; /* ad's text names the type: a test of the mapping, not of good sense */
    s.type_nocase = 1;
    s.nmap = 2;
    snprintf(s.map[0].text, sizeof s.map[0].text, "imp");
    s.map[0].type = SL_EV_VIEW;
    snprintf(s.map[1].text, sizeof s.map[1].text, "clk");
    s.map[1].type = SL_EV_CLICK;
    sl_evplan p;
    sl_evplan_init(&p, &s);
    sl_rawev ev;
    sl_perr e;
    cr_assert_eq(
        parse_json(&p, "{\"ad\":\"IMP\",\"query\":\"q\",\"t\":1700000000.25,\"click\":0}", &ev, &e),
        0, "%s", e.reason);
    cr_assert_eq(ev.type, SL_EV_VIEW);
    cr_assert_eq(ev.time_ms, INT64_C(1700000000250));
    cr_assert_eq(
        parse_json(&p, "{\"ad\":\"Clk\",\"query\":\"q\",\"t\":\"-1.5\",\"click\":0}", &ev, &e), 0,
        "%s", e.reason);
    cr_assert_eq(ev.type, SL_EV_CLICK);
    cr_assert_eq(ev.time_ms, -1500);
    cr_assert_eq(parse_json(&p, "{\"ad\":\"view\",\"query\":\"q\",\"t\":1,\"click\":0}", &ev, &e),
                 0);
    cr_assert_eq(ev.type, SL_EV_OTHER, "a map replaces the built-in names");

    /* The default schema, asked to ignore case, takes VIEW and Click. */
    sl_schema d;
    sl_schema_defaults(&d);
    d.type_nocase = 1;
    sl_evplan_init(&p, &d);
    cr_assert_eq(parse_json(&p, "{\"ad_id\":5,\"event_type\":\"VIEW\",\"event_time\":1}", &ev, &e),
                 0);
    cr_assert_eq(ev.type, SL_EV_VIEW);
    cr_assert_eq(parse_json(&p, "{\"ad_id\":5,\"event_type\":\"Click\",\"event_time\":1}", &ev, &e),
                 0);
    cr_assert_eq(ev.type, SL_EV_CLICK);
}

Test(schema, csv_header_by_name_tab_delimited)
{
    sl_schema s;
    test_schema(&s);
    s.delimiter = '\t';
    sl_evplan p;
    sl_evplan_init(&p, &s);
    sl_csv_cols cols;
    sl_csv_cols_init(&cols, &p);
    sl_perr e;
    const char *h = "x\tad\tclick\tt\tquery\tbid";
    cr_assert_eq(sl_csv_header(h, strlen(h), &cols, &e), 1);
    cr_assert_eq(cols.col[0], 4);
    cr_assert_eq(cols.col[5], -1, "u is optional and absent");
    char scratch[256];
    sl_rawev ev;
    const char *l = "zz\t\"a,d\"\t1\t2026-01-01T00:00:00Z\tq\t";
    cr_assert_eq(sl_csv_parse(l, strlen(l), &cols, scratch, &ev, &e), 0, "%s", e.reason);
    cr_assert_eq(ev.ad_id_len, 5);
    cr_assert_eq(memcmp(ev.ad_id,
                        "q\x1f"
                        "a,d",
                        5),
                 0);
    cr_assert_eq(ev.value, 0.0, "an empty optional field");
    l = "zz\ta\tyes\t2026-01-01\tq\t1";
    cr_assert_eq(sl_csv_parse(l, strlen(l), &cols, scratch, &ev, &e), SL_EPARSE);
    cr_assert_str_eq(e.reason, "click is not an integer");
    cr_assert_eq(e.column, 6);
    h = "ad\tclick\tt";
    cr_assert_eq(sl_csv_header(h, strlen(h), &cols, &e), 0, "names no query: not a header");
    s.header = SL_HEADER_YES;
    sl_evplan_init(&p, &s);
    sl_csv_cols_init(&cols, &p);
    cr_assert_eq(sl_csv_header(h, strlen(h), &cols, &e), SL_EPARSE);
    cr_assert_str_eq(e.reason, "header has no \"query\" column");
}

/* Names made to meet in the plan's lookup (evbuild.h): the same length, first and last bytes;
 * the same first and last 8 bytes with other bytes between; the longest a name may be; names
 * that JSON must escape. Field 0 (k) is the key, 1 (t) the time; the rest are optional int64s
 * that the test reads one at a time as the value. */
static const char *const dispatch_names[] = {
    "k",
    "t",
    "ab_1z",
    "ab_2z",
    "ab_3z",
    "abcdefgh1234ijklmnop",
    "abcdefgh5678ijklmnop",
    "exactly8",
    "sixteen_bytes_ok",
    "a_name_of_forty_seven_bytes_the_longest_allowed", /* SL_SCHEMA_NAME - 1 */
    "q\"t",
    "b\\s",
};
#define NDISPATCH (sizeof dispatch_names / sizeof dispatch_names[0])

static void dispatch_schema(sl_schema *s, int value)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < NDISPATCH; i++) {
        cr_assert_lt(strlen(dispatch_names[i]), sizeof s->field[i].name);
        snprintf(s->field[i].name, sizeof s->field[i].name, "%s", dispatch_names[i]);
        s->field[i].type = i == 0 ? SL_FT_STRING : i == 1 ? SL_FT_TIME : SL_FT_INT64;
        s->field[i].optional = i >= 2;
    }
    s->declared = 1;
    s->nfields = NDISPATCH;
    s->nkey = 1;
    s->time_field = 1;
    s->time_format = SL_TIME_MS;
    s->value_field = value;
    s->user_field = -1;
    s->type_mode = SL_TYPE_PREDICATES;
    s->pred[SL_EV_VIEW] = (sl_type_pred){.on = 1, .all = 1};
    s->delimiter = ',';
    char err[256];
    cr_assert_eq(sl_schema_check(s, err, sizeof err), 0, "%s", err);
}

Test(schema, member_names_found_exactly)
{
    static const char *const decoys[] = {"ab_4z",
                                         "ab_1",
                                         "b_1z",
                                         "abcdefgh9999ijklmnop",
                                         "abcdefgh1234ijklmnopq",
                                         "exactly9",
                                         "exactly",
                                         "sixteen_bytes_oK",
                                         "a_name_of_forty_seven_bytes_the_longest_allowex",
                                         "q",
                                         "kk",
                                         "T"};
    sl_schema s;
    dispatch_schema(&s, -1);
    sl_evplan p;
    sl_evplan_init(&p, &s);
    for (size_t i = 0; i < NDISPATCH; i++)
        cr_assert_eq(sl_evplan_field(&p, dispatch_names[i], strlen(dispatch_names[i])), (int)i,
                     "%s", dispatch_names[i]);
    for (size_t i = 0; i < sizeof decoys / sizeof decoys[0]; i++)
        cr_assert_eq(sl_evplan_field(&p, decoys[i], strlen(decoys[i])), -1, "%s", decoys[i]);

    /* One line holds every field (field i = 1000 + i; escaped names written escaped, and ab_2z
     * with an escape it need not have) and every decoy (= 7); the time comes last, so that its
     * name is near the end of the line. Each field in turn is the value. */
    char line[2048];
    size_t at = (size_t)snprintf(line, sizeof line, "{\"k\": \"key\"");
    for (size_t i = 0; i < sizeof decoys / sizeof decoys[0]; i++)
        at += (size_t)snprintf(line + at, sizeof line - at, ", \"%s\": 7", decoys[i]);
    for (size_t i = NDISPATCH; i-- > 2;) {
        const char *name = dispatch_names[i];
        if (strcmp(name, "q\"t") == 0)
            name = "q\\\"t";
        else if (strcmp(name, "b\\s") == 0)
            name = "b\\\\s";
        else if (strcmp(name, "ab_2z") == 0)
            name = "ab_\\u0032z";
        at += (size_t)snprintf(line + at, sizeof line - at, ",\"%s\":\"%zu\"", name, 1000 + i);
    }
    snprintf(line + at, sizeof line - at, ",\"t\":1001}");
    for (size_t v = 2; v < NDISPATCH; v++) {
        dispatch_schema(&s, (int)v);
        sl_evplan_init(&p, &s);
        sl_rawev ev;
        sl_perr e;
        cr_assert_eq(parse_json(&p, line, &ev, &e), 0, "%s: %s", line, e.reason);
        cr_assert_eq(ev.value, (double)(1000 + v), "%s read %g", dispatch_names[v], ev.value);
        cr_assert_eq(ev.time_ms, 1001);
        cr_assert_eq(ev.ad_id_len, 3);
    }

    /* The same in CSV, by a header (which names a column as it is written, without undoing
     * doubled quotes: q"t is left out). */
    char head[1024], row[1024];
    size_t ha = 0, ra = 0;
    for (size_t i = 0; i < NDISPATCH; i++) {
        const char *name = strcmp(dispatch_names[i], "q\"t") == 0 ? "qt" : dispatch_names[i];
        ha += (size_t)snprintf(head + ha, sizeof head - ha, "%s%s,%s", i ? "," : "", decoys[i % 12],
                               name);
        ra += (size_t)snprintf(row + ra, sizeof row - ra, "%s7,%s", i ? "," : "",
                               i == 0   ? "key"
                               : i == 1 ? "1001"
                                        : "");
        if (i >= 2)
            ra += (size_t)snprintf(row + ra, sizeof row - ra, "%zu", 1000 + i);
    }
    for (size_t v = 2; v < NDISPATCH; v++) {
        dispatch_schema(&s, (int)v);
        sl_evplan_init(&p, &s);
        sl_csv_cols cols;
        sl_csv_cols_init(&cols, &p);
        sl_perr e;
        cr_assert_eq(sl_csv_header(head, strlen(head), &cols, &e), 1, "%s: %s", head, e.reason);
        char scratch[1024];
        sl_rawev ev;
        cr_assert_eq(sl_csv_parse(row, strlen(row), &cols, scratch, &ev, &e), 0, "%s", e.reason);
        double want = strcmp(dispatch_names[v], "q\"t") == 0 ? 0 : (double)(1000 + v);
        cr_assert_eq(ev.value, want, "%s read %g", dispatch_names[v], ev.value);
    }

    /* A name met twice, once escaped, is a duplicate; reported at the second. */
    const char *dup = "{\"k\":\"a\",\"t\":1,\"ab_2z\":1,\"ab_\\u0032z\":2}";
    sl_rawev ev;
    sl_perr e;
    cr_assert_eq(parse_json(&p, dup, &ev, &e), SL_EPARSE);
    cr_assert_str_eq(e.reason, "duplicate field \"ab_2z\"");
    cr_assert_eq(e.column, (size_t)(strstr(dup, "\"ab_\\") - dup) + 1);
}

/* Integer fields (here the default event_time) read as strtoll reads them: random digit
 * strings of 1 to 20 digits, as JSON strings and numbers, signed or not, some with a byte that
 * is not a digit; a bad byte is named by its column, a number past int64 (before any bad byte)
 * is out of range. */
Test(schema, integers_read_as_strtoll)
{
    const sl_evplan *p = sl_evplan_default();
    uint64_t rng = 20261207;
    const char *head = "{\"ad_id\":\"a\",\"event_type\":\"view\",\"event_time\":";
    for (int round = 0; round < 200000; round++) {
        char digits[32], line[128];
        size_t n = 1 + splitmix64(&rng) % 20;
        int quoted = splitmix64(&rng) % 2, neg = splitmix64(&rng) % 8 == 0;
        for (size_t i = 0; i < n; i++)
            digits[i] = (char)('0' + splitmix64(&rng) % 10);
        if (!quoted && digits[0] == '0' && n > 1)
            digits[0] = '1'; /* JSON numbers have no leading zero */
        size_t bad = SIZE_MAX;
        if (quoted && splitmix64(&rng) % 4 == 0) {
            bad = splitmix64(&rng) % n;
            static const char nd[] = "a/:. x";
            digits[bad] = nd[splitmix64(&rng) % (sizeof nd - 1)];
        }
        digits[n] = '\0';
        const char *q = quoted ? "\"" : "";
        snprintf(line, sizeof line, "%s%s%s%s%s}", head, q, neg ? "-" : "", digits, q);
        size_t vcol = strlen(head) + 1; /* the value's first byte (its quote, when quoted) */
        sl_rawev ev;
        sl_perr e;
        int rc = parse_json(p, line, &ev, &e);
        /* The digits are read in order: a number past int64 before the bad byte is out of
         * range. */
        char ref[40];
        snprintf(ref, sizeof ref, "%s%.*s", neg ? "-" : "", (int)(bad == SIZE_MAX ? n : bad),
                 digits);
        errno = 0;
        long long want = strtoll(ref, NULL, 10);
        if (errno == ERANGE) {
            cr_assert_eq(rc, SL_EPARSE, "%s", line);
            cr_assert_str_eq(e.reason, "event_time out of range for int64", "%s", line);
            cr_assert_eq(e.column, vcol, "%s", line);
            continue;
        }
        if (bad != SIZE_MAX) {
            cr_assert_eq(rc, SL_EPARSE, "%s", line);
            cr_assert_str_eq(e.reason, "event_time is not an integer", "%s", line);
            cr_assert_eq(e.column, vcol + 1 + (size_t)neg + bad, "%s: column %zu", line, e.column);
            continue;
        }
        cr_assert_eq(rc, 0, "%s: %s", line, e.reason);
        cr_assert_eq(ev.time_ms, (int64_t)want, "%s: %lld, strtoll %lld", line,
                     (long long)ev.time_ms, want);
    }
}

/* ---- whole runs --------------------------------------------------------------------------- */

#define SITES 37
#define APPS 3

/* An Avazu-shaped log: one row per impression, a 0/1 click label, hour as yyMMddHH, the key in
 * site_id (and app_id), 24 columns of which the schema declares five. Writes it to `name` and
 * counts impressions and clicks per (site, app) into imp/clk. */
static void write_avazu(const char *name, uint64_t seed, size_t rows, uint64_t imp[SITES][APPS],
                        uint64_t clk[SITES][APPS])
{
    FILE *f = create(name);
    fputs("id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,"
          "app_domain,app_category,device_id,device_ip,device_model,device_type,"
          "device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21\n",
          f);
    for (size_t i = 0; i < rows; i++) {
        unsigned site = (unsigned)(splitmix64(&seed) % SITES);
        unsigned app = (unsigned)(splitmix64(&seed) % APPS);
        int click = splitmix64(&seed) % 5 == 0;
        imp[site][app]++;
        clk[site][app] += (uint64_t)click;
        fprintf(f,
                "%llu,%d,141021%02u,1005,0,s%04x,dom,cat,%u,ad,ac,dev,ip,model,1,0,15706,320,50,"
                "1722,0,35,-1,79\n",
                (unsigned long long)splitmix64(&seed), click, (unsigned)(i * 24 / rows),
                site * 2654435761u % 65536, app);
    }
    fclose(f);
}

static double ctr_of(uint64_t c, uint64_t i)
{
    return i ? (double)c / (double)i : 0.0;
}

Test(schema, avazu_csv_ctr_per_site_and_app, .init = setup, .timeout = 120)
{
    static uint64_t imp[SITES][APPS], clk[SITES][APPS];
    const uint64_t seed = 77;
    write_avazu("train.csv", seed, 20000, imp, clk);
    FILE *y = create("topo.yaml");
    fputs("source: {path: train.csv, format: csv}\n"
          "schema:\n"
          "  fields: {click: int64, hour: time, site_id: string, app_id: int64}\n"
          "  key: [site_id, app_id]\n"
          "  time: {field: hour, format: \"%y%m%d%H\"}\n"
          "  type: {impression: all, click: {field: click, equals: 1}}\n"
          "pe: {kind: ctr}\n"
          "sink: {path: out.csv}\n",
          y);
    fclose(y);
    struct run r = run_sh_status("run topo.yaml", 0);
    cr_assert(strstr(r.err, "input: 20001 lines, ") && strstr(r.err, " 0 malformed"), "stderr: %s",
              r.err);
    run_free(&r);
    size_t len;
    char *out = slurp("out.csv", &len);
    cr_assert(!strncmp(out, "site_id,app_id,impressions,clicks,ctr\n", 38), "%.80s", out);
    size_t rows = 0;
    for (char *line = strchr(out, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        unsigned site_hex, app;
        unsigned long long i, c;
        double ctr;
        cr_assert_eq(sscanf(line, "s%x,%u,%llu,%llu,%lf", &site_hex, &app, &i, &c, &ctr), 5,
                     "%.60s", line);
        unsigned site = SITES;
        for (unsigned k = 0; k < SITES; k++)
            if (k * 2654435761u % 65536 == site_hex)
                site = k;
        cr_assert_lt(site, SITES);
        cr_assert_lt(app, APPS);
        cr_assert_eq(i, imp[site][app], "site %u app %u (seed %llu)", site, app,
                     (unsigned long long)seed);
        cr_assert_eq(c, clk[site][app], "site %u app %u", site, app);
        cr_assert_eq(ctr, ctr_of(c, i), "ctr printed exactly enough to read back: %.40s", line);
        rows++;
    }
    size_t want = 0;
    for (unsigned s = 0; s < SITES; s++)
        for (unsigned a = 0; a < APPS; a++)
            want += imp[s][a] > 0;
    cr_assert_eq(rows, want);

    /* The schema travels with a cluster job: two nodes, each parsing its part of the file. */
    r = run_sh_status("run topo.yaml --nodes 2 --ingest-on-nodes --output two.csv", 0);
    run_free(&r);
    char *two = slurp("two.csv", &len);
    assert_same_text(two, out, "2 nodes, ingest on the nodes, against one process");
    free(two);
    free(out);
    finish();
}

Test(schema, ndjson_numeric_ids_and_iso_times, .init = setup, .timeout = 120)
{
    /* Numeric ad ids, ISO times, VIEW/Click in any case: per-ad counts made here. */
    enum { ADS = 50 };
    uint64_t imp[ADS] = {0}, clk[ADS] = {0}, seed = 5;
    FILE *f = create("ev.ndjson");
    for (int i = 0; i < 5000; i++) {
        unsigned ad = (unsigned)(splitmix64(&seed) % ADS);
        int click = splitmix64(&seed) % 4 == 0;
        (click ? clk : imp)[ad]++;
        fprintf(f, "{\"ad\": %u, \"kind\": \"%s\", \"at\": \"2026-03-%02dT10:%02d:00+01:00\"}\n",
                1000 + ad, click ? (i % 2 ? "Click" : "CLICK") : (i % 2 ? "View" : "vIEW"),
                1 + i % 28, i % 60);
    }
    fclose(f);
    FILE *y = create("topo.yaml");
    fputs("source: {path: ev.ndjson}\n"
          "schema:\n"
          "  fields: {ad: string, kind: string, at: time}\n"
          "  key: ad\n"
          "  time: {field: at, format: iso8601}\n"
          "  type: {field: kind, case_insensitive: true}\n"
          "pe: {kind: ctr}\n"
          "sink: {path: out.csv}\n",
          y);
    fclose(y);
    struct run r = run_sh_status("run topo.yaml", 0);
    run_free(&r);
    size_t len;
    char *out = slurp("out.csv", &len);
    cr_assert(!strncmp(out, "ad,impressions,clicks,ctr\n", 26), "%.60s", out);
    size_t rows = 0;
    for (char *line = strchr(out, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        unsigned ad;
        unsigned long long i, c;
        cr_assert_eq(sscanf(line, "%u,%llu,%llu", &ad, &i, &c), 3, "%.60s", line);
        cr_assert(ad >= 1000 && ad < 1000 + ADS);
        cr_assert_eq(i, imp[ad - 1000], "ad %u", ad);
        cr_assert_eq(c, clk[ad - 1000], "ad %u", ad);
        rows++;
    }
    cr_assert_gt(rows, 0);
    free(out);
    finish();
}

Test(schema, config_errors_point_at_the_key, .init = setup, .timeout = 60)
{
    static const struct {
        const char *schema, *says;
    } cases[] = {
        {"{fields: {a: string, t: time}, key: b, time: t}",
         "schema.key: no field \"b\" in schema.fields (declared: a, t)"},
        {"{fields: {a: string, t: int64}, key: a, time: t}",
         "schema.time.field: \"t\" is declared int64; declare it time"},
        {"{fields: {a: string, t: time}, key: a, time: {field: t, format: \"%H%q\"}}",
         "%q is not supported"},
        {"{fields: {a: texty, t: time}, key: a, time: t}", "schema.fields.a: expected one of"},
        {"{fields: {a: string, t: time}, key: a, time: t, value: a}",
         "schema.value: \"a\" is declared string"},
        {"{fields: {a: string, t: time}, key: a, time: t, type: {field: a, click: all}}",
         "either field (with map) or predicates"},
        {"{fields: {a: {type: string, optional: true}, t: time}, key: a, time: t}",
         "is optional; a key must be there"},
        {"{fields: {a: string}, key: a}", "missing required key \"time\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *y = create("bad.yaml");
        fprintf(y, "schema: %s\npe: {kind: ctr}\n", cases[i].schema);
        fclose(y);
        struct run r = run_sh_status("run bad.yaml", 2);
        cr_assert(strstr(r.err, cases[i].says), "schema %s\nstderr: %s", cases[i].schema, r.err);
        cr_assert(strstr(r.err, "bad.yaml:1:"), "names the file and line: %s", r.err);
        run_free(&r);
    }
    finish();
}

/* A user PE with two params: events whose value is at least THRESHOLD, each counted WEIGHT
 * times. */
static const char threshold_pe[] =
    "#include \"sluice.h\"\n"
    "#define SL_PE_REDUCE\n"
    "#define SL_COLUMNS \"over:int\"\n"
    "typedef struct { ulong n; } sl_state;\n"
    "void sl_init(__global sl_state *s) { s->n = 0; }\n"
    "void sl_add(__global sl_state *s, const sl_record *r)\n"
    "{ s->n += r->value >= THRESHOLD ? WEIGHT : 0; }\n"
    "void sl_merge(__global sl_state *d, __global const sl_state *s) { d->n += s->n; }\n"
    "void sl_emit(__global const sl_state *s, sl_out *o) { o->v[0] = (double)s->n; }\n";

Test(schema, params_reach_the_kernel, .init = setup, .timeout = 120)
{
    enum { ADS = 20 };
    uint64_t over[ADS] = {0}, seed = 9;
    FILE *f = create("ev.csv");
    fputs("bid,ad,t\n", f);
    for (int i = 0; i < 3000; i++) {
        unsigned ad = (unsigned)(splitmix64(&seed) % ADS);
        double bid = (double)(splitmix64(&seed) % 500) / 100.0;
        over[ad] += bid >= 2.5 ? 3 : 0;
        fprintf(f, "%.2f,a%u,%d\n", bid, ad, i);
    }
    fclose(f);
    f = create("over.cl");
    fputs(threshold_pe, f);
    fclose(f);
    f = create("topo.yaml");
    fputs("source: {path: ev.csv, format: csv}\n"
          "schema: {fields: {bid: double, ad: string, t: time}, key: ad, time: t}\n"
          "pe: {kind: user, source: over.cl, field: bid, params: {threshold: 2.5, weight: 3}}\n"
          "sink: {path: out.csv}\n",
          f);
    fclose(f);
    struct run r = run_sh_status("run topo.yaml", 0);
    run_free(&r);
    size_t len;
    char *out = slurp("out.csv", &len);
    size_t rows = 0;
    for (char *line = strchr(out, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        unsigned ad;
        unsigned long long n;
        cr_assert_eq(sscanf(line, "a%u,%llu", &ad, &n), 2, "%.40s", line);
        cr_assert_lt(ad, ADS);
        cr_assert_eq(n, over[ad], "ad %u: %llu, want %llu", ad, n, (unsigned long long)over[ad]);
        rows++;
    }
    cr_assert_gt(rows, 0);
    free(out);

    /* kernel check compiles it with the params and shows them; without them it fails to
     * build, naming the constant. */
    r = run_sh_status("kernel check over.cl --param threshold=2.5 --param weight=3", 0);
    cr_assert(strstr(r.out, "params: THRESHOLD=2.5 WEIGHT=3"), "stdout: %s", r.out);
    run_free(&r);
    r = run_sh_status("kernel check over.cl", 1);
    cr_assert(strstr(r.err, "THRESHOLD"), "stderr: %s", r.err);
    run_free(&r);
    r = run_sh_status("kernel check over.cl --param sl_x=1", 2);
    cr_assert(strstr(r.err, "names starting with SL_ are sluice's own"), "stderr: %s", r.err);
    run_free(&r);
    finish();
}

Test(schema, seconds_in_a_millisecond_field_are_pointed_out, .init = setup, .timeout = 60)
{
    FILE *f = create("s.ndjson");
    fputs("{\"ad_id\":\"a\",\"event_type\":\"view\",\"event_time\":1700000000}\n", f);
    fclose(f);
    struct run r = run_sh_status("ctr --input s.ndjson --output out.csv", 0);
    cr_assert(strstr(r.err, "event_time 1700000000 is before 1973 in milliseconds"), "%s", r.err);
    run_free(&r);
    f = create("ms.ndjson");
    fputs("{\"ad_id\":\"a\",\"event_type\":\"view\",\"event_time\":1700000000000}\n", f);
    fclose(f);
    r = run_sh_status("ctr --input ms.ndjson --output out.csv", 0);
    cr_assert(!strstr(r.err, "before 1973"), "%s", r.err);
    run_free(&r);
    finish();
}

/* The syntax: no fields: list (each field declared by the key that names it), the CTR
 * predicates at the top of schema:, time with unit:, type with ignore_case. The same input
 * through a schema that declares everything gives the same CSV. */
Test(schema, fields_implied_by_their_use, .init = setup, .timeout = 120)
{
    static uint64_t imp[SITES][APPS], clk[SITES][APPS];
    write_avazu("train.csv", 1234, 5000, imp, clk);
    FILE *y = create("short.yaml");
    fputs("source: {path: train.csv, format: csv}\n"
          "schema:\n"
          "  key: site_id\n"
          "  time: {field: hour, format: \"%y%m%d%H\"}\n"
          "  impression: all\n"
          "  click: {field: click, equals: 1}\n"
          "pe: {kind: ctr}\n"
          "sink: {path: short.csv}\n",
          y);
    fclose(y);
    y = create("long.yaml");
    fputs("source: {path: train.csv, format: csv}\n"
          "schema:\n"
          "  fields: {site_id: string, hour: time, click: int64}\n"
          "  key: site_id\n"
          "  time: {field: hour, format: \"%y%m%d%H\"}\n"
          "  type: {impression: all, click: {field: click, equals: 1}}\n"
          "pe: {kind: ctr}\n"
          "sink: {path: long.csv}\n",
          y);
    fclose(y);
    struct run r = run_sh_status("run short.yaml", 0);
    run_free(&r);
    r = run_sh_status("run long.yaml", 0);
    run_free(&r);
    size_t len;
    char *a = slurp("short.csv", &len), *b = slurp("long.csv", &len);
    assert_same_text(a, b, "implied fields against declared ones");
    cr_assert(!strncmp(a, "site_id,impressions,clicks,ctr\n", 31), "%.40s", a);
    uint64_t total_i = 0, want_i = 0;
    for (char *line = strchr(a, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        unsigned long long i, c;
        cr_assert_eq(sscanf(strchr(line, ',') + 1, "%llu,%llu", &i, &c), 2, "%.40s", line);
        total_i += i;
    }
    for (unsigned s = 0; s < SITES; s++)
        for (unsigned p = 0; p < APPS; p++)
            want_i += imp[s][p];
    cr_assert_eq(total_i, want_i);
    free(a);
    free(b);

    /* time {field, unit}, type {field, ignore_case, map} */
    FILE *f = create("typed.csv");
    fputs("ev,t,ad\nVIEW,2026-01-01T00:00:00Z,7\nclick,2026-01-01T00:00:01Z,7\n"
          "Impression,2026-01-01T00:00:02Z,8\nPurchase,2026-01-01T00:00:03Z,8\n",
          f);
    fclose(f);
    y = create("typed.yaml");
    fputs("source: {path: typed.csv, format: csv}\n"
          "schema:\n"
          "  key: ad\n"
          "  time: {field: t, unit: iso8601}\n"
          "  type: {field: ev, ignore_case: true, map: {view: view, impression: view, click: "
          "click, purchase: purchase}}\n"
          "pe: {kind: ctr}\n"
          "sink: {path: typed.out}\n",
          y);
    fclose(y);
    r = run_sh_status("run typed.yaml", 0);
    cr_assert(strstr(r.err, "view 2, click 1, purchase 1, other 0"), "%s", r.err);
    run_free(&r);
    a = slurp("typed.out", &len);
    assert_same_text(a, "ad,impressions,clicks,ctr\n7,1,1,1\n8,1,0,0\n", "typed");
    free(a);

    /* an implied field is a string, yet "1.0" compares with equals: 1 as the number it is */
    f = create("labels.csv");
    fputs("site_id,hour,click\na,14102100,1.0\na,14102100,0\na,14102100,1\nb,14102100,2\n", f);
    fclose(f);
    y = create("labels.yaml");
    fputs("source: {path: labels.csv, format: csv}\n"
          "schema: {key: site_id, time: {field: hour, format: \"%y%m%d%H\"}, impression: all,\n"
          "         click: {field: click, equals: 1}}\n"
          "pe: {kind: ctr}\nsink: {path: labels.out}\n",
          y);
    fclose(y);
    r = run_sh_status("run labels.yaml", 0);
    run_free(&r);
    a = slurp("labels.out", &len);
    char want[128], num[64];
    snprintf(want, sizeof want, "site_id,impressions,clicks,ctr\na,3,2,%s\nb,1,0,0\n",
             tu_shortest(2.0 / 3.0, num, sizeof num));
    assert_same_text(a, want, "labels");
    free(a);
    finish();
}

/* The schema examples in examples/topologies run as written, each against a count made here
 * from its data file. */
Test(schema, example_topologies_run_as_written, .init = setup, .timeout = 120)
{
    /* avazu_ctr.yaml: impressions and clicks per site_id (column 6), label in column 2 */
    struct run r =
        run_sh_status("run " SLUICE_SOURCE_DIR "/examples/topologies/avazu_ctr.yaml -q", 0);
    FILE *f = fopen(SLUICE_SOURCE_DIR "/examples/data/avazu_sample.csv", "r");
    cr_assert_not_null(f);
    char line[512], want[4096] = "site_id,impressions,clicks,ctr\n";
    char site[8][16] = {{0}};
    unsigned long long imp[8] = {0}, clk[8] = {0};
    int nsites = 0;
    cr_assert_not_null(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f)) {
        char *col[12];
        int n = 0;
        for (char *p = strtok(line, ",\n"); p && n < 12; p = strtok(NULL, ",\n"))
            col[n++] = p;
        cr_assert_eq(n, 12);
        int k = 0;
        while (k < nsites && strcmp(site[k], col[5]))
            k++;
        if (k == nsites)
            snprintf(site[nsites++], sizeof site[0], "%s", col[5]);
        imp[k]++;
        clk[k] += strcmp(col[1], "1") == 0;
    }
    fclose(f);
    for (int done = 0; done < nsites; done++) { /* rows sorted by id */
        int k = -1;
        for (int j = 0; j < nsites; j++)
            if (imp[j] && (k < 0 || strcmp(site[j], site[k]) < 0))
                k = j;
        char row[128], num[64];
        snprintf(row, sizeof row, "%s,%llu,%llu,%s\n", site[k], imp[k], clk[k],
                 tu_shortest((double)clk[k] / (double)imp[k], num, sizeof num));
        strcat(want, row);
        imp[k] = 0;
    }
    assert_same_text(r.out, want, "avazu_ctr.yaml");
    run_free(&r);

    /* query_ad_ctr.yaml: per (query, ad_id), event names in any case */
    r = run_sh_status("run " SLUICE_SOURCE_DIR "/examples/topologies/query_ad_ctr.yaml -q", 0);
    f = fopen(SLUICE_SOURCE_DIR "/examples/data/query_ad.ndjson", "r");
    cr_assert_not_null(f);
    unsigned long long qi[3][4] = {{0}}, qc[3][4] = {{0}};
    static const char *const queries[3] = {"rain jacket", "running shoes", "trail map"};
    static const char *const ads[4] = {"1001", "1002", "1003", "2001"};
    while (fgets(line, sizeof line, f)) {
        int q = -1, a = -1;
        for (int k = 0; k < 3; k++)
            if (strstr(line, queries[k]))
                q = k;
        for (int k = 0; k < 4; k++) {
            char needle[32];
            snprintf(needle, sizeof needle, "\"ad_id\": %s,", ads[k]);
            if (strstr(line, needle))
                a = k;
        }
        cr_assert(q >= 0 && a >= 0, "%s", line);
        if (strstr(line, "\"CLICK\""))
            qc[q][a]++;
        else
            qi[q][a]++;
    }
    fclose(f);
    strcpy(want, "query,ad_id,impressions,clicks,ctr\n");
    for (int q = 0; q < 3; q++)
        for (int a = 0; a < 4; a++) {
            if (!qi[q][a] && !qc[q][a])
                continue;
            char row[128], num[64];
            snprintf(
                row, sizeof row, "%s,%s,%llu,%llu,%s\n", queries[q], ads[a], qi[q][a], qc[q][a],
                tu_shortest(qi[q][a] ? (double)qc[q][a] / (double)qi[q][a] : 0, num, sizeof num));
            strcat(want, row);
        }
    assert_same_text(r.out, want, "query_ad_ctr.yaml");
    run_free(&r);

    /* ysb_gzip.yaml: the same CSV as the uncompressed file through sluice ctr */
    r = run_sh_status("run " SLUICE_SOURCE_DIR "/examples/topologies/ysb_gzip.yaml -q", 0);
    struct run plain =
        run_sh_status("ctr --input " SLUICE_SOURCE_DIR "/examples/data/ysb_sample.ndjson "
                      "--output - -q",
                      0);
    assert_same_text(r.out, plain.out, "ysb_gzip.yaml against the plain file");
    run_free(&r);
    run_free(&plain);
    finish();
}
