/* schema.attributes: declared numeric fields reach the kernels by name (sl_record.bid, .qty),
 * 64 bits wide. The reader's attribute words are checked against the values written (an int64
 * past 2^53, a double, a bool, a time, an absent optional field, a line that gives two events);
 * a user PE that reads them by name is run on the engine in both dispatch modes, while its
 * table grows, and with windows and late events, against a plain C reference; `sluice run`
 * carries them from an NDJSON file through the keyless filter; the built-in sum reads its
 * value field at full width when it is an attribute; a live source's ingest log keeps them
 * through a SIGKILL and a resume, in one process and on a cluster; every node of a cluster
 * ingesting its part routes them with its records (also through a node killed with
 * checkpoints); and a wrong declaration (a string, a reserved name, a field twice or unknown)
 * is refused naming the file and line. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>

#include "config.h"
#include "deepcheck.h"
#include "harness.h"
#include "proc.h"
#include "reader.h"
#include "util.h"
#include "watermark.h"

#define TWO53 9007199254740992.0

/* ---- the reader ------------------------------------------------------------------------------ */

Test(attrs, reader_carries_declared_fields_exactly)
{
    static const char yaml[] =
        "schema:\n"
        "  fields: {ad: string, t: time, bid: double, qty: int64, vip: bool,\n"
        "           seen: time, tip: {type: double, optional: true}, click: int64}\n"
        "  key: ad\n"
        "  time: t\n"
        "  impression: all\n"
        "  click: {field: click, equals: 1}\n"
        "  attributes: [bid, qty, vip, seen, tip]\n"
        "pe: {kind: ctr}\n";
    sl_topology t;
    char err[512];
    cr_assert_eq(sl_config_parse(yaml, sizeof yaml - 1, "a.yaml", &t, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(t.schema.nattrs, 5);
    cr_assert_eq(t.pe.nattrs, 5);
    cr_assert_str_eq(t.pe.attr[1].name, "qty");
    cr_assert(t.pe.attr[0].is_double && !t.pe.attr[1].is_double && !t.pe.attr[2].is_double);
    static const char text[] =
        "{\"ad\":\"a\",\"t\":5,\"bid\":0.1,\"qty\":9007199254740993,\"vip\":true,"
        "\"seen\":1700000000123,\"tip\":2.5,\"click\":0}\n"
        "{\"ad\":\"b\",\"t\":6,\"bid\":-1e300,\"qty\":-9223372036854775808,\"vip\":false,"
        "\"seen\":7,\"click\":1}\n"
        "{\"ad\":\"c\",\"t\":7,\"bid\":3,\"qty\":1,\"vip\":1,\"seen\":8,\"tip\":null,\"click\":0}"
        "\n";
    FILE *in = fmemopen((void *)text, sizeof text - 1, "r");
    cr_assert_not_null(in);
    sl_addict *dict = sl_addict_new();
    sl_reader *r = sl_reader_new(in, SL_FMT_NDJSON, dict, 0);
    sl_reader_set_schema(r, &t.schema);
    double d0 = 0.1, d1 = -1e300, d2 = 3.0, tip = 2.5;
    uint64_t b0, b1, b2, btip;
    memcpy(&b0, &d0, 8);
    memcpy(&b1, &d1, 8);
    memcpy(&b2, &d2, 8);
    memcpy(&btip, &tip, 8);
    /* line 2 gives an impression and a click: both carry its attributes */
    const uint64_t want[4][5] = {
        {b0, UINT64_C(9007199254740993), 1, UINT64_C(1700000000123), btip},
        {b1, UINT64_C(1) << 63, 0, 7, 0},
        {b1, UINT64_C(1) << 63, 0, 7, 0},
        {b2, 1, 1, 8, 0},
    };
    /* one record a read, so that line 2's click waits in the stash for the next read */
    for (int i = 0; i < 4; i++) {
        sl_rec rec;
        cr_assert_eq(sl_reader_read(r, &rec, 1), 1, "record %d", i);
        const uint64_t *a = sl_reader_attrs(r);
        cr_assert_not_null(a);
        for (int k = 0; k < 5; k++)
            cr_assert_eq(a[k], want[i][k], "record %d attribute %s: %#llx, want %#llx", i,
                         t.pe.attr[k].name, (unsigned long long)a[k],
                         (unsigned long long)want[i][k]);
    }
    sl_rec rest[4];
    cr_assert_eq(sl_reader_read(r, rest, 4), 0);
    sl_reader_destroy(&r);
    fclose(in);
    sl_addict_destroy(&dict);
}

/* ---- the engine ------------------------------------------------------------------------------ */

/* Reads its three attributes by name: sums of bid and of qty's last three digits, the largest
 * qty (less 2^53, which a double holds exactly), and how many were vip. */
static const char ATTR_PE[] =
    "#include \"sluice.h\"\n"
    "#define SL_PE_REDUCE\n"
    "#define SL_COLUMNS \"n:int,bid:g,qty_low:int,qty_max:int,vip:int\"\n"
    "typedef struct { ulong n; double bid; long low, max; ulong vip; } sl_state;\n"
    "void sl_init(__global sl_state *s)\n"
    "{ s->n = 0; s->bid = 0; s->low = 0; s->max = LONG_MIN; s->vip = 0; }\n"
    "void sl_add(__global sl_state *s, const sl_record *r)\n"
    "{\n"
    "    s->n += 1;\n"
    "    s->bid += r->bid;\n"
    "    s->low += r->qty % 1000;\n"
    "    s->max = max(s->max, r->qty);\n"
    "    s->vip += r->vip;\n"
    "}\n"
    "void sl_merge(__global sl_state *d, __global const sl_state *s)\n"
    "{ d->n += s->n; d->bid += s->bid; d->low += s->low; d->max = max(d->max, s->max);\n"
    "  d->vip += s->vip; }\n"
    "void sl_emit(__global const sl_state *s, sl_out *o)\n"
    "{ o->v[0] = (double)s->n; o->v[1] = s->bid; o->v[2] = (double)s->low;\n"
    "  o->v[3] = (double)(s->max - 9007199254740992L); o->v[4] = (double)s->vip; }\n";

#define NATTR 3

static const char *write_file(const char *name, const char *text)
{
    tu_write_file(tpath(name), text);
    return tpath(name);
}

static sl_engine_cfg attr_cfg(const char *source)
{
    static const char *const names[NATTR] = {"bid", "qty", "vip"};
    return th_attr_cfg(source, names, NATTR, 1u << 0, 8192);
}

/* Attributes for n records: bid a multiple of 1/4 under 1000 (sums exact in any order), qty
 * 2^53 and more (not a double's), vip every third. */
static uint64_t *make_attrs(uint64_t seed, size_t n)
{
    uint64_t *a = malloc(n * NATTR * sizeof *a);
    cr_assert_not_null(a);
    for (size_t i = 0; i < n; i++) {
        double bid = (double)(splitmix64(&seed) % 4000) * 0.25;
        memcpy(&a[i * NATTR], &bid, 8);
        a[i * NATTR + 1] = (UINT64_C(1) << 53) + splitmix64(&seed) % (UINT64_C(1) << 40);
        a[i * NATTR + 2] = i % 3 == 0;
    }
    return a;
}

struct keyed {
    uint64_t key;
    int64_t ws;
    size_t i;
};

static int cmp_keyed(const void *pa, const void *pb)
{
    const struct keyed *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->ws != b->ws)
        return a->ws < b->ws ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* The plain C reference of ATTR_PE: per key (and window, window_ms > 0, after the late rule of
 * watermark.h in arrival order). *late gets the records refused. Rows sorted as the engine's. */
static sl_row *ref_attrs(const sl_rec *recs, const uint64_t *a, size_t n, int64_t window_ms,
                         int64_t lateness_ms, size_t *nrows, uint64_t *late)
{
    struct keyed *k = malloc((n ? n : 1) * sizeof *k);
    sl_row *rows = calloc(n ? n : 1, sizeof *rows);
    cr_assert(k && rows);
    sl_watermark wm = {0, 0};
    size_t m = 0;
    *late = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t ws = 0;
        if (window_ms) {
            if (sl_watermark_admit(&wm, recs[i].time_ms, window_ms, lateness_ms) != SL_ADMIT_OK) {
                (*late)++;
                continue;
            }
            ws = recs[i].time_ms - ((recs[i].time_ms % window_ms) + window_ms) % window_ms;
        }
        k[m++] = (struct keyed){recs[i].key, ws, i};
    }
    qsort(k, m, sizeof *k, cmp_keyed);
    size_t r = 0;
    int64_t max = 0;
    for (size_t j = 0; j < m; j++) {
        const uint64_t *x = a + k[j].i * NATTR;
        if (j == 0 || k[j].key != k[j - 1].key || k[j].ws != k[j - 1].ws) {
            rows[r].key = k[j].key;
            rows[r].window_start = k[j].ws;
            max = INT64_MIN;
            r++;
        }
        sl_row *w = &rows[r - 1];
        double bid;
        memcpy(&bid, &x[0], 8);
        w->v[0] += 1;
        w->v[1] += bid;
        w->v[2] += (double)((int64_t)x[1] % 1000);
        max = (int64_t)x[1] > max ? (int64_t)x[1] : max;
        w->v[3] = (double)(max - (INT64_C(1) << 53));
        w->v[4] += (double)x[2];
    }
    free(k);
    *nrows = r;
    return rows;
}

Test(attrs, user_pe_reads_them_by_name_in_both_modes_while_the_table_grows, .init = setup,
     .fini = finish, .timeout = 240)
{
    const char *path = write_file("attrs.cl", ATTR_PE);
    size_t n = 120000;
    sl_rec *recs = th_records_new(11, n, 30000, 0.8, 0, 0);
    uint64_t *a = make_attrs(12, n);
    size_t nref;
    uint64_t late;
    sl_row *ref = ref_attrs(recs, a, n, 0, 0, &nref, &late);
    for (int mode = SL_DISPATCH_GROUPED; mode <= SL_DISPATCH_CHUNKED; mode++) {
        sl_engine_cfg cfg = attr_cfg(path);
        cfg.mode = (enum sl_dispatch_mode)mode;
        th_result res;
        cr_assert_eq(th_run_attrs(&cfg, recs, a, n, 5003, &res), 0, "mode %d: %s", mode, res.msg);
        cr_assert_gt(res.stats.table_grows, 0, "mode %d: the table grew", mode);
        th_assert_rows(res.final_rows, res.nfinal, ref, nref, 0.0);
        th_result_free(&res);
    }
    free(ref);
    free(a);
    free(recs);
}

Test(attrs, windowed_user_pe_keeps_attributes_with_their_records, .init = setup, .fini = finish,
     .timeout = 180)
{
    const char *path = write_file("attrs.cl", ATTR_PE);
    size_t n = 60000;
    /* times from 100 ms with jitter up to 400 ms: some arrive after their window closed */
    sl_rec *recs = th_records_new(5, n, 300, 1.0, 100, 400);
    uint64_t *a = make_attrs(6, n);
    size_t nref;
    uint64_t late;
    sl_row *ref = ref_attrs(recs, a, n, 2000, 100, &nref, &late);
    cr_assert_gt(late, 0, "the input has late records");
    sl_engine_cfg cfg = attr_cfg(path);
    cfg.pe.window_ms = 2000;
    cfg.pe.lateness_ms = 100;
    th_result res;
    cr_assert_eq(th_run_attrs(&cfg, recs, a, n, 997, &res), 0, "%s", res.msg);
    cr_assert_eq(res.stats.events_late, late);
    th_assert_rows(res.final_rows, res.nfinal, ref, nref, 0.0);
    th_result_free(&res);
    free(ref);
    free(a);
    free(recs);
}

/* ---- end to end ------------------------------------------------------------------------------ */

#define ADS 150

/* The per-ad reference of ATTR_PE over the file write_input writes. */
struct per_ad {
    double bid[ADS];
    uint64_t n[ADS], low[ADS], vip[ADS];
    int64_t max[ADS];
};

/* The topology of write_input's file, less its source and sink. */
#define ATTR_TOPO                                                                                  \
    "schema:\n"                                                                                    \
    "  fields: {ad: string, type: string, t: time, bid: double, qty: int64, vip: bool}\n"          \
    "  key: ad\n"                                                                                  \
    "  time: t\n"                                                                                  \
    "  type: {field: type}\n"                                                                      \
    "  attributes: [bid, qty, vip]\n"                                                              \
    "filter: {event_types: [view, click]}\n"                                                       \
    "pe: {kind: user, source: attrs.cl}\n"

/* Writes attrs.cl, ev.ndjson (views, clicks and purchases with a bid, a qty past 2^53 and a
 * vip flag) and topo.yaml (attributes [bid, qty, vip], purchases filtered out: the reference
 * skips them), and fills *ref with what the PE must give per ad. */
static void write_input(struct per_ad *ref)
{
    write_file("attrs.cl", ATTR_PE);
    memset(ref, 0, sizeof *ref);
    double *bid = ref->bid;
    uint64_t *n = ref->n, *low = ref->low, *vip = ref->vip;
    int64_t *max = ref->max;
    for (int i = 0; i < ADS; i++)
        max[i] = INT64_MIN;
    uint64_t seed = 21;
    FILE *f = create("ev.ndjson");
    static const char *const types[3] = {"view", "click", "purchase"};
    for (int i = 0; i < 40000; i++) {
        unsigned ad = (unsigned)(splitmix64(&seed) % ADS);
        int ty = (int)(splitmix64(&seed) % 3);
        double b = (double)(splitmix64(&seed) % 4000) * 0.25;
        int64_t q = (INT64_C(1) << 53) + (int64_t)(splitmix64(&seed) % (UINT64_C(1) << 40));
        int v = splitmix64(&seed) % 4 == 0;
        fprintf(f,
                "{\"ad\":\"ad-%u\",\"type\":\"%s\",\"t\":%d,\"bid\":%.2f,\"qty\":%lld,"
                "\"vip\":%s}\n",
                ad, types[ty], 1000 + i, b, (long long)q, v ? "true" : "false");
        if (ty == 2)
            continue;
        n[ad]++;
        bid[ad] += b;
        low[ad] += (uint64_t)(q % 1000);
        max[ad] = q > max[ad] ? q : max[ad];
        vip[ad] += (uint64_t)v;
    }
    fclose(f);
    write_file("topo.yaml", "source: {path: ev.ndjson}\n" ATTR_TOPO "sink: {path: out.csv}\n");
}

/* Checks name (a CSV of ATTR_PE's rows) against the reference. */
static void check_output(const char *name, const struct per_ad *ref)
{
    const double *bid = ref->bid;
    const uint64_t *n = ref->n, *low = ref->low, *vip = ref->vip;
    const int64_t *max = ref->max;
    char *out = slurp(name, NULL);
    cr_assert(strncmp(out, "ad,n,bid,qty_low,qty_max,vip\n", 29) == 0, "%.80s", out);
    size_t rows = 0;
    for (char *line = strchr(out, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        unsigned ad;
        unsigned long long cn, cl, cv;
        double cb, cm;
        cr_assert_eq(sscanf(line, "ad-%u,%llu,%lf,%llu,%lf,%llu", &ad, &cn, &cb, &cl, &cm, &cv), 6,
                     "%.80s", line);
        cr_assert_lt(ad, ADS);
        cr_assert_eq(cn, n[ad], "ad %u events", ad);
        cr_assert_eq(cb, bid[ad], "ad %u bid %.17g, want %.17g", ad, cb, bid[ad]);
        cr_assert_eq(cl, low[ad], "ad %u qty_low", ad);
        cr_assert_eq(cm, (double)(max[ad] - (INT64_C(1) << 53)), "ad %u qty_max", ad);
        cr_assert_eq(cv, vip[ad], "ad %u vip", ad);
        rows++;
    }
    size_t want = 0;
    for (int i = 0; i < ADS; i++)
        want += n[i] > 0;
    cr_assert_eq(rows, want);
    free(out);
}

Test(attrs, sluice_run_carries_them_from_a_file_through_the_filter, .init = setup, .fini = finish,
     .timeout = 180)
{
    static struct per_ad ref;
    write_input(&ref);
    struct run r = run_sh_status("run topo.yaml -q", 0);
    run_free(&r);
    check_output("out.csv", &ref);

    /* kernel check shows the record they make; without them the PE does not build */
    r = run_sh_status("kernel check attrs.cl --attr bid:double --attr qty:int64 --attr vip:bool",
                      0);
    cr_assert(strstr(r.out, "record:  key, time_ms, value, type, user, bid (double), qty (long), "
                            "vip (long) (56 bytes)"),
              "stdout: %s", r.out);
    run_free(&r);
    r = run_sh_status("kernel check attrs.cl", 1);
    cr_assert(strstr(r.err, "no member named 'bid'"), "stderr: %s", r.err);
    run_free(&r);
}

/* The built-in sum adds its value field in double precision when it is an attribute: amounts of
 * 10^10 and halves, which a 32-bit float rounds to multiples of 1024. */
Test(attrs, sum_reads_its_value_at_full_width, .init = setup, .fini = finish, .timeout = 120)
{
    double sum[ADS] = {0};
    uint64_t seed = 4;
    FILE *f = create("ev.csv");
    fputs("ad,t,amount\n", f);
    for (int i = 0; i < 5000; i++) {
        unsigned ad = (unsigned)(splitmix64(&seed) % ADS);
        double amount = 1e10 + (double)(splitmix64(&seed) % 1000) * 0.5;
        sum[ad] += amount;
        fprintf(f, "ad-%u,%d,%.1f\n", ad, i, amount);
    }
    fclose(f);
    write_file("topo.yaml",
               "source: {path: ev.csv, format: csv}\n"
               "schema: {fields: {ad: string, t: time, amount: double}, key: ad, time: t,\n"
               "         attributes: [amount]}\n"
               "pe: {kind: sum, field: amount}\n"
               "sink: {path: out.csv}\n");
    struct run r = run_sh_status("run topo.yaml -q", 0);
    run_free(&r);
    char *out = slurp("out.csv", NULL);
    size_t rows = 0;
    for (char *line = strchr(out, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        unsigned ad;
        unsigned long long cnt;
        double s;
        cr_assert_eq(sscanf(line, "ad-%u,%llu,%lf", &ad, &cnt, &s), 3, "%.80s", line);
        cr_assert_lt(ad, ADS);
        cr_assert_eq(s, sum[ad], "ad %u: %.17g, want %.17g", ad, s, sum[ad]);
        rows++;
    }
    cr_assert_gt(rows, 0);
    free(out);
}

Test(attrs, wrong_declarations_refused_naming_the_line, .init = setup, .fini = finish,
     .timeout = 120)
{
    static const struct {
        const char *schema, *says;
    } bad[] = {
        {"{fields: {ad: string, t: time}, key: ad, time: t, attributes: [ad]}",
         "\"ad\" is a string"},
        {"{fields: {ad: string, t: time, key: double}, key: ad, time: t, attributes: [key]}",
         "cannot name a member of the kernels' record"},
        {"{fields: {ad: string, t: time, sl_x: double}, key: ad, time: t, attributes: [sl_x]}",
         "cannot name a member"},
        {"{fields: {ad: string, t: time, b: double}, key: ad, time: t, attributes: [b, b]}",
         "\"b\" named twice"},
        {"{fields: {ad: string, t: time}, key: ad, time: t, attributes: [nope]}",
         "no field \"nope\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *y = create("bad.yaml");
        fprintf(y, "schema: %s\npe: {kind: ctr}\n", bad[i].schema);
        fclose(y);
        struct run r = run_sh_status("run bad.yaml", 2);
        cr_assert(strstr(r.err, bad[i].says), "schema %s\nstderr: %s", bad[i].schema, r.err);
        cr_assert(strstr(r.err, "bad.yaml:1:"), "names the file and line: %s", r.err);
        run_free(&r);
    }
}

/* examples/topologies/query_ad_bids.yaml runs as written: per (query, ad) the events, the sum
 * and largest bid and the latest time, computed here from examples/data/query_ad.ndjson. */
Test(attrs, example_topology_runs_as_written, .init = setup, .fini = finish, .timeout = 120)
{
    struct run r =
        run_sh_status("run " SLUICE_SOURCE_DIR "/examples/topologies/query_ad_bids.yaml -q", 0);
    FILE *f = fopen(SLUICE_SOURCE_DIR "/examples/data/query_ad.ndjson", "r");
    cr_assert_not_null(f);
    static const char *const queries[3] = {"rain jacket", "running shoes", "trail map"};
    static const char *const ads[4] = {"1001", "1002", "1003", "2001"};
    unsigned long long n[3][4] = {{0}};
    double sum[3][4] = {{0}}, max[3][4];
    long long last[3][4];
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char q[64], ad[16];
        struct tm tm = {0};
        double bid;
        cr_assert_eq(
            sscanf(line,
                   "{\"query\": \"%63[^\"]\", \"ad_id\": %15[0-9], \"event\": \"%*[^\"]\", "
                   "\"ts\": \"%d-%d-%dT%d:%d:%dZ\", \"bid\": %lf}",
                   q, ad, &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                   &bid),
            9, "%s", line);
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        long long ms = (long long)timegm(&tm) * 1000;
        int qi = -1, ai = -1;
        for (int k = 0; k < 3; k++)
            qi = strcmp(q, queries[k]) == 0 ? k : qi;
        for (int k = 0; k < 4; k++)
            ai = strcmp(ad, ads[k]) == 0 ? k : ai;
        cr_assert(qi >= 0 && ai >= 0, "%s", line);
        if (n[qi][ai]++ == 0) {
            max[qi][ai] = bid;
            last[qi][ai] = ms;
        }
        sum[qi][ai] += bid;
        max[qi][ai] = bid > max[qi][ai] ? bid : max[qi][ai];
        last[qi][ai] = ms > last[qi][ai] ? ms : last[qi][ai];
    }
    fclose(f);
    char want[4096] = "query,ad_id,events,bid_sum,bid_max,last_seen_ms\n";
    for (int q = 0; q < 3; q++)
        for (int a = 0; a < 4; a++) {
            if (!n[q][a])
                continue;
            char row[256], num[64];
            snprintf(row, sizeof row, "%s,%s,%llu,%.2f,%s,%lld\n", queries[q], ads[a], n[q][a],
                     sum[q][a], tu_shortest(max[q][a], num, sizeof num), last[q][a]);
            strcat(want, row);
        }
    assert_same_text(r.out, want, "query_ad_bids.yaml");
    run_free(&r);
}

/* kernel check --deep runs the PE under Oclgrind with the same attributes (the generator's
 * records carry zeros in them): without them the sample's build would fail. */
Test(attrs, deep_check_builds_the_sample_with_them, .init = setup, .fini = finish, .timeout = 300)
{
    char lib[4096];
    if (!sl_deep_find_oclgrind(lib, sizeof lib))
        cr_skip_test("Oclgrind is not installed (liboclgrind-rt-icd.so)");
    write_file("attrs.cl", ATTR_PE);
    struct run r = run_sh_status(
        "kernel check attrs.cl --attr bid:double --attr qty:int64 --attr vip:bool --deep", 0);
    cr_assert(strstr(r.out, "attrs.cl: OK under Oclgrind (4000 generated events"), "stdout: %s",
              r.out);
    run_free(&r);
}

/* A 2-node local cluster: the client's frames carry the attributes to the nodes that own the
 * keys, and the rows equal the reference and the one process's, byte for byte. */
Test(attrs, a_cluster_carries_them_to_the_nodes, .init = setup, .fini = finish, .timeout = 240)
{
    skip_if_sanitized("two nodes and their PoCL builds under ASan are too slow here");
    static struct per_ad ref;
    write_input(&ref);
    struct run r = run_sh_status("run topo.yaml -q --nodes 2 -o cluster.csv", 0);
    run_free(&r);
    check_output("cluster.csv", &ref);
    r = run_sh_status("run topo.yaml -q -o one.csv", 0);
    run_free(&r);
    char *a = slurp("cluster.csv", NULL), *b = slurp("one.csv", NULL);
    assert_same_text(a, b, "the 2-node cluster's rows against one process's");
    free(a);
    free(b);
}

/* ---- the ingest log of a live source (stdin) ----------------------------------------------- */

/* The events of ev.ndjson cut at whole lines: [0, *a), [*a, *b) and [*b, len). */
static char *thirds(size_t *len, size_t *a, size_t *b)
{
    char *all = slurp("ev.ndjson", len);
    *a = *len / 2;
    *b = *len * 3 / 4;
    while (all[*a - 1] != '\n')
        (*a)++;
    while (all[*b - 1] != '\n')
        (*b)++;
    return all;
}

/* A pipe for a run's stdin: the write end non-blocking (write_all). */
static void stdin_pipe(int p[2])
{
    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    cr_assert_eq(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
}

/* Waits (up to 60 s) until the run has read all it was given on its stdin pipe p, then `ms`. */
static void drained(const int p[2], unsigned ms)
{
    int unread = 1;
    for (double end = now_s() + 60; unread > 0 && now_s() < end;)
        if (ioctl(p[0], FIONREAD, &unread) != 0 || unread > 0)
            usleep(5000);
    cr_assert_eq(unread, 0, "the run did not read its stdin");
    usleep(ms * 1000);
}

/* Waits (up to 120 s) until each of the checkpoint directory's parts holds a checkpoint while
 * the run pid lives. */
static void checkpointed(pid_t pid, const char *const *parts, size_t n, const char *err)
{
    for (double end = now_s() + 120;; usleep(10000)) {
        size_t have = 0;
        for (size_t i = 0; i < n; i++)
            have += (size_t)has_checkpoint(parts[i]);
        if (have == n)
            return;
        int st;
        cr_assert_eq(reap(pid, &st), 0, "the run ended (%d) before its checkpoint: %s", st,
                     slurp(err, NULL));
        cr_assert_lt(now_s(), end, "no checkpoint in 120 s");
    }
}

/* stdin, read with checkpoints every 2 s, gets half the events, then a quarter more once its
 * first checkpoint is written; once that quarter is read, logged and pushed (300 ms), before
 * the next checkpoint, the run is SIGKILLed. `--from` replays what the ingest log holds after
 * the checkpoint, attribute words with their records, and reads the last quarter: the rows are
 * the reference's. */
Test(attrs, stdin_checkpoints_log_them_and_a_resume_replays_them, .init = setup, .fini = finish,
     .timeout = 240)
{
    static struct per_ad ref;
    write_input(&ref);
    write_file("stdin.yaml",
               "source: {type: stdin}\n" ATTR_TOPO "checkpoint: {every_ms: 2000, dir: cks}\n");
    size_t len, a, b;
    char *all = thirds(&len, &a, &b);
    int p[2];
    stdin_pipe(p);
    pid_t pid = spawn_in("run stdin.yaml -o -", p[0], "out1.csv", "err1.txt");
    write_all(p[1], all, a, pid, "err1.txt");
    const char *parts[] = {"cks"};
    checkpointed(pid, parts, 1, "err1.txt");
    write_all(p[1], all + a, b - a, pid, "err1.txt");
    drained(p, 300);
    kill(pid, SIGKILL);
    wait_exit(pid, 30, "the killed run");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "grep -rqa SLIA '%s'", tpath("cks"));
    cr_assert_eq(system(cmd), 0, "no block of records with attributes in the ingest log");
    pid = spawn_in("run stdin.yaml -o - --from cks", p[0], "out2.csv", "err2.txt");
    close(p[0]);
    write_all(p[1], all + b, len - b, pid, "err2.txt");
    close(p[1]);
    int st = wait_exit(pid, 120, "the resumed run");
    char *err = slurp("err2.txt", NULL);
    cr_assert_eq(st, 0, "resume failed: %s", err);
    cr_assert(strstr(err, "records from the ingest log"), "nothing was replayed: %s", err);
    check_output("out2.csv", &ref);
    free(err);
    free(all);
}

/* A 2-node cluster whose client reads stdin with checkpoints (every 1.5 s): after the first
 * complete checkpoint and a quarter more of the events read and logged, a node is SIGKILLed; the
 * client sends what its ingest log holds after the checkpoint again, attribute words with their
 * records, to the restored nodes, then the last quarter: the rows are the reference's. */
Test(attrs, a_cluster_with_checkpoints_sends_them_again_after_a_node_dies, .init = setup,
     .fini = finish, .timeout = 300)
{
    skip_if_sanitized("two nodes and their PoCL builds under ASan are too slow here");
    static struct per_ad ref;
    write_input(&ref);
    write_file("stdin.yaml",
               "source: {type: stdin}\n" ATTR_TOPO "checkpoint: {every_ms: 1500, dir: cks}\n");
    size_t len, a, b;
    char *all = thirds(&len, &a, &b);
    int p[2];
    stdin_pipe(p);
    pid_t pid = spawn_in("run stdin.yaml -o - --nodes 2", p[0], "cl.csv", "err.txt");
    close(p[0]);
    write_all(p[1], all, a, pid, "err.txt");
    const char *parts[] = {"cks/node-0", "cks/node-1", "cks/client"};
    checkpointed(pid, parts, 3, "err.txt");
    write_all(p[1], all + a, b - a, pid, "err.txt");
    usleep(300000);
    pid_t kids[4];
    int n = children(pid, kids, 4);
    cr_assert_eq(n, 2, "the run's node processes");
    kill_child(pid, kids[1], SIGKILL);
    write_all(p[1], all + b, len - b, pid, "err.txt");
    close(p[1]);
    int st = wait_exit(pid, 240, "the run with a killed node");
    char *err = slurp("err.txt", NULL);
    cr_assert_eq(st, 0, "node 1 killed 300 ms after the second part was written: %s", err);
    cr_assert(strstr(err, "recovering (epoch 1)"), "no recovery: %s", err);
    cr_assert(strstr(err, "records sent again from the ingest log"), "no replay: %s", err);
    check_output("cl.csv", &ref);
    free(err);
    free(all);
}

/* A followed file (a live source: its reader's reads are gathered into one) carries them too.
 * The file is whole before the run starts and SIGTERM reads it to its current end, so the rows
 * are the reference's whatever the timing. */
Test(attrs, a_followed_file_carries_them, .init = setup, .fini = finish, .timeout = 120)
{
    static struct per_ad ref;
    write_input(&ref);
    write_file("live.yaml", "source: {path: ev.ndjson, follow: true, poll_ms: 20}\n" ATTR_TOPO
                            "sink: {path: live.csv}\n");
    pid_t pid = spawn("run live.yaml --metrics 127.0.0.1:0", NULL, "err.txt");
    /* the stop signals are caught before the metrics endpoint says where it is */
    double end = now_s() + 60;
    for (;;) {
        int up = 0;
        if (exists("err.txt")) {
            char *err = slurp("err.txt", NULL);
            up = strstr(err, "metrics at http://") != NULL;
            free(err);
        }
        if (up)
            break;
        cr_assert_lt(now_s(), end, "the run never started serving its metrics");
        usleep(20000);
    }
    kill(pid, SIGTERM);
    cr_assert_eq(wait_exit(pid, 60, "sluice run of a followed file after SIGTERM"), 0);
    check_output("live.csv", &ref);
}

/* ---- ingest on the nodes (source.ingest: nodes) ---------------------------------------------- */

/* Writes wide.ndjson (`lines` events over ADS ads, seeded) and wide.yaml (ATTR_TOPO over it),
 * and fills *ref as write_input does. Bids are 2^20 plus a multiple of 2^-10, which a float
 * rounds (it keeps 24 bits) and a double holds with every sum exactly, in any order; qty is past
 * 2^53. Each line's words differ, so one lost, shifted or misrouted shows in its ad's row. */
static void write_wide_input(unsigned lines, uint64_t seed, struct per_ad *ref)
{
    write_file("attrs.cl", ATTR_PE);
    memset(ref, 0, sizeof *ref);
    for (int i = 0; i < ADS; i++)
        ref->max[i] = INT64_MIN;
    FILE *f = create("wide.ndjson");
    static const char *const types[3] = {"view", "click", "purchase"};
    for (unsigned i = 0; i < lines; i++) {
        unsigned ad = (unsigned)(splitmix64(&seed) % ADS);
        int ty = (int)(splitmix64(&seed) % 3);
        double b = 1048576.0 + (double)(splitmix64(&seed) % (UINT64_C(1) << 20)) / 1024.0;
        int64_t q = (INT64_C(1) << 53) + (int64_t)(splitmix64(&seed) % (UINT64_C(1) << 40));
        int v = splitmix64(&seed) % 4 == 0;
        /* %.10f: a multiple of 2^-10 has at most ten decimals, so the text is the double */
        fprintf(f,
                "{\"ad\":\"ad-%u\",\"type\":\"%s\",\"t\":%u,\"bid\":%.10f,\"qty\":%lld,"
                "\"vip\":%s}\n",
                ad, types[ty], 1000 + i, b, (long long)q, v ? "true" : "false");
        if (ty == 2)
            continue;
        ref->n[ad]++;
        ref->bid[ad] += b;
        ref->low[ad] += (uint64_t)(q % 1000);
        ref->max[ad] = q > ref->max[ad] ? q : ref->max[ad];
        ref->vip[ad] += (uint64_t)v;
    }
    fclose(f);
    float rounded = (float)(1048576.0 + 1.0 / 1024.0);
    cr_assert_neq((double)rounded, 1048576.0 + 1.0 / 1024.0, "a float rounds these bids");
    write_file("wide.yaml", "source: {path: wide.ndjson}\n" ATTR_TOPO "sink: {path: out.csv}\n");
}

/* Every node reads its part of the file and routes each record with its words to the key's
 * owner (its own first stage, or a peer in a frame of schema 16 + n): the rows equal the
 * reference and the one process's, byte for byte, on 2 and on 3 nodes. */
Test(attrs, ingest_on_the_nodes_routes_them_with_their_records, .init = setup, .fini = finish,
     .timeout = 300)
{
    skip_if_sanitized("several nodes and their PoCL builds under ASan are too slow here");
    static struct per_ad ref;
    write_wide_input(60000, 31, &ref);
    struct run r = run_sh_status("run wide.yaml -q -o one.csv", 0);
    run_free(&r);
    check_output("one.csv", &ref);
    char *one = slurp("one.csv", NULL);
    for (int nodes = 2; nodes <= 3; nodes++) {
        char args[128], name[32], what[96];
        snprintf(name, sizeof name, "nodes%d.csv", nodes);
        snprintf(args, sizeof args, "run wide.yaml -q --nodes %d --ingest-on-nodes -o %s", nodes,
                 name);
        r = run_sh_status(args, 0);
        run_free(&r);
        check_output(name, &ref);
        char *got = slurp(name, NULL);
        snprintf(what, sizeof what, "%d nodes ingesting against one process", nodes);
        assert_same_text(got, one, what);
        free(got);
    }
    free(one);
}

/* Checkpoints with ingest on the nodes (an NDJSON file): each node's checkpoint holds its state
 * and its reading position, with barriers aligned over every node's stream (a peer's records
 * held meanwhile keep their words). A node killed at a random moment after a complete
 * checkpoint: every node goes back to it, reads on from its own position, and the rows equal
 * the reference and the one process's byte for byte. SLUICE_TEST_SEED=N picks the moment and
 * the node. */
Test(attrs, ingest_on_the_nodes_with_checkpoints_survives_a_killed_node, .init = setup,
     .fini = finish, .timeout = 600)
{
    skip_if_sanitized("a slow failure test of processes: run in the Release build");
    static struct per_ad ref;
    write_wide_input(3000000, 37, &ref);
    struct run r = run_sh_status("run wide.yaml -q -o one.csv", 0);
    run_free(&r);
    check_output("one.csv", &ref);
    const char *env = getenv("SLUICE_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL), s = seed;
    unsigned delay_ms = (unsigned)(splitmix64(&s) % 250), victim = (unsigned)(splitmix64(&s) % 3);
    fprintf(stderr,
            "attrs::ingest_on_the_nodes_with_checkpoints_survives_a_killed_node: seed %llu\n",
            (unsigned long long)seed);
    pid_t pid = spawn("run wide.yaml --nodes 3 --ingest-on-nodes --checkpoint-ms 150 "
                      "--checkpoint-dir ck -o killed.csv",
                      NULL, "err.txt");
    /* a complete checkpoint: every node's and the client's part */
    const char *parts[] = {"ck/node-0", "ck/node-1", "ck/node-2", "ck/client"};
    checkpointed(pid, parts, 4, "err.txt");
    usleep(delay_ms * 1000);
    pid_t kids[8];
    int n = children(pid, kids, 8);
    cr_assert_gt(n, 0, "seed %llu: no node left to kill %u ms after the checkpoint",
                 (unsigned long long)seed, delay_ms);
    if (n > 0) /* (a division by 0 below is no assertion failure) */
        kill_child(pid, kids[victim % (unsigned)n], SIGKILL);
    int st = wait_exit(pid, 300, "the run with ingest on the nodes, attributes and a killed node");
    char *err = slurp("err.txt", NULL);
    cr_assert_eq(st, 0, "seed %llu (node %u killed %u ms after a complete checkpoint): %s",
                 (unsigned long long)seed, victim, delay_ms, err);
    cr_assert(strstr(err, "recovering (epoch 1)"),
              "seed %llu: the killed node was not recovered from: %s", (unsigned long long)seed,
              err);
    cr_assert(strstr(err, "resuming from checkpoint"), "seed %llu: %s", (unsigned long long)seed,
              err);
    check_output("killed.csv", &ref);
    char *got = slurp("killed.csv", NULL), *one = slurp("one.csv", NULL);
    char what[128];
    snprintf(what, sizeof what, "seed %llu: ingest on the nodes after a killed node",
             (unsigned long long)seed);
    assert_same_text(got, one, what);
    free(got);
    free(one);
    free(err);
}
