/* End-to-end tests: run the `sluice` binary on files and compare its CSV with an independent
 * computation over the same generated input (a plain per-ad-id count written in this file). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device.h"
#include "proc.h"

struct ad {
    char id[48];
    unsigned long long views, clicks;
};

static int cmp_ad(const void *a, const void *b)
{
    const struct ad *x = a, *y = b;
    size_t lx = strlen(x->id), ly = strlen(y->id), n = lx < ly ? lx : ly;
    int c = memcmp(x->id, y->id, n);
    return c ? c : (lx > ly) - (lx < ly);
}

static void csv_field(char *dst, size_t len, const char *id)
{
    if (strcspn(id, ",\"\r\n") == strlen(id)) {
        snprintf(dst, len, "%s", id);
        return;
    }
    size_t k = 0;
    dst[k++] = '"';
    for (; *id && k + 3 < len; id++) {
        if (*id == '"')
            dst[k++] = '"';
        dst[k++] = *id;
    }
    dst[k++] = '"';
    dst[k] = '\0';
}

/* The expected CSV for ads[0..n), sorted here; prior a, b when a > 0. Every ad seen has a row,
 * also one seen only with purchases or other types (0 impressions, 0 clicks). */
static char *expected_csv(struct ad *ads, size_t n, double a, double b)
{
    qsort(ads, n, sizeof *ads, cmp_ad);
    size_t cap = 64 + n * 128, k = 0;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    k += (size_t)snprintf(s + k, cap - k, "ad_id,impressions,clicks,ctr\n");
    for (size_t i = 0; i < n; i++) {
        char f[128];
        csv_field(f, sizeof f, ads[i].id);
        double v = (double)ads[i].views, c = (double)ads[i].clicks;
        double ctr = a > 0 ? (c + a) / (v + a + b) : (ads[i].views ? c / v : 0.0);
        char num[32];
        k += (size_t)snprintf(s + k, cap - k, "%s,%llu,%llu,%s\n", f, ads[i].views, ads[i].clicks,
                              tu_shortest(ctr, num, sizeof num));
    }
    return s;
}

/* Asserts that `got` (`what`: stdout, or a file) is the CSV expected for ads[0..n). */
static void assert_csv(const char *got, const char *what, struct ad *ads, size_t n, double a,
                       double b)
{
    char *want = expected_csv(ads, n, a, b);
    cr_assert_str_eq(got, want, "%s", what);
    free(want);
}

/* The same for the file `name` of the test directory. */
static void assert_csv_file(const char *name, struct ad *ads, size_t n)
{
    char *got = slurp(name, NULL);
    assert_csv(got, name, ads, n, 0, 0);
    free(got);
}

struct gen {
    size_t nads, lines, bad;
    struct ad *ads;
};

static const char *const types[] = {"view", "impression", "click", "purchase", "bounce"};

/* Writes events.ndjson: `lines` events over `nads` ads, with a malformed line every
 * `bad_every` lines (0 = none) of assorted kinds, and fills g->ads with the true counts. */
static void write_ndjson(struct gen *g, size_t nads, size_t lines, size_t bad_every, uint64_t seed)
{
    FILE *f = create("events.ndjson");
    g->nads = nads;
    g->lines = lines;
    g->bad = 0;
    g->ads = calloc(nads, sizeof *g->ads);
    cr_assert_not_null(g->ads);
    for (size_t i = 0; i < nads; i++)
        tu_ad_id((unsigned)i, 5, g->ads[i].id, sizeof g->ads[i].id);
    uint64_t s = seed;
    static const char *const bad[] = {
        "{\"ad_id\": \"ad-1\", \"event_type\": \"view\"}",                      /* no time */
        "{\"ad_id\": \"ad-1\", \"event_type\": \"view\", \"event_time\": 1.5}", /* fraction */
        "not json at all",
        "{\"ad_id\": \"ad-1\", \"event_type\": \"view\", \"event_time\": \"12\"",
        "{\"ad_id\": true, \"event_type\": \"view\", \"event_time\": \"12\"}", /* no id */
    };
    size_t used = 0;
    for (size_t i = 0; i < lines; i++) {
        if (bad_every && i % bad_every == bad_every - 1) {
            fprintf(f, "%s\n", bad[g->bad++ % 5]);
            continue;
        }
        size_t a = (size_t)(splitmix64(&s) % nads);
        if (a >= used)
            a = used < nads ? used++ : a; /* introduce ads in order, then reuse */
        const char *t = types[splitmix64(&s) % 5];
        if (t[0] == 'v' || t[0] == 'i')
            g->ads[a].views++;
        else if (t[0] == 'c')
            g->ads[a].clicks++;
        fprintf(f, "{\"user_id\": \"u%llu\", \"page_id\": \"p\", \"ad_id\": \"",
                (unsigned long long)(splitmix64(&s) % 1000));
        tu_json_str(f, g->ads[a].id, (int)(i & 1));
        fprintf(f,
                "\", \"ad_type\": \"banner\", \"event_type\": \"%s\", \"event_time\": \"%llu\", "
                "\"ip_address\": \"1.2.3.4\", \"extra\": {\"nested\": [1, {\"x\": null}]}}\n",
                t, 1700000000000ULL + i);
    }
    fclose(f);
    g->nads = used;
}

/* Runs `sluice ARGS` (run_sh_status: asserts its exit status) and checks nothing else. */
static void run_status(const char *args, int status)
{
    struct run r = run_sh_status(args, status);
    run_free(&r);
}

/* `sluice ARGS` run (run_sh_status, exit status `status`) after write_ndjson wrote its input. */
struct gen_run {
    struct gen g;
    struct run r;
};

static struct gen_run run_on_ndjson(size_t nads, size_t lines, size_t bad_every, uint64_t seed,
                                    const char *args, int status)
{
    struct gen_run x;
    write_ndjson(&x.g, nads, lines, bad_every, seed);
    x.r = run_sh_status(args, status);
    return x;
}

static void gen_run_free(struct gen_run *x)
{
    free(x->g.ads);
    run_free(&x->r);
}

Test(cli, ctr_on_ndjson_matches_independent_count, .init = setup, .timeout = 120)
{
    struct gen_run x =
        run_on_ndjson(3000, 60000, 0, 1, "ctr --input events.ndjson --output out.csv --quiet", 0);
    assert_csv_file("out.csv", x.g.ads, x.g.nads);
    gen_run_free(&x);
}

Test(cli, malformed_lines_are_skipped_counted_and_reported, .init = setup, .timeout = 120)
{
    struct gen_run x = run_on_ndjson(500, 20000, 97, 2, "ctr --input events.ndjson --quiet", 0);
    assert_csv(x.r.out, "valid lines around bad ones are all counted", x.g.ads, x.g.nads, 0, 0);
    /* the first ten are reported with their line numbers, then a total */
    cr_assert_not_null(strstr(x.r.err, "line 97: "), "stderr: %s", x.r.err);
    cr_assert_not_null(strstr(x.r.err, "line 194: "), "stderr: %s", x.r.err);
    cr_assert_not_null(strstr(x.r.err, "line 970: "), "stderr: %s", x.r.err);
    cr_assert_null(strstr(x.r.err, "line 1067: "), "only the first ten: %s", x.r.err);
    char total[96];
    snprintf(total, sizeof total, "%zu malformed lines skipped in all", x.g.bad);
    cr_assert_not_null(strstr(x.r.err, total), "want \"%s\" in: %s", total, x.r.err);
    gen_run_free(&x);
}

Test(cli, strict_stops_at_the_first_malformed_line, .init = setup, .timeout = 120)
{
    struct gen_run x =
        run_on_ndjson(50, 1000, 300, 3, "ctr --input events.ndjson --strict --quiet", 2);
    cr_assert_not_null(strstr(x.r.err, "line 300: missing field \"event_time\""), "stderr: %s",
                       x.r.err);
    cr_assert_null(strstr(x.r.err, "line 600:"), "stopped at the first: %s", x.r.err);
    gen_run_free(&x);
}

Test(cli, prior_smooths_ctr, .init = setup, .timeout = 120)
{
    struct gen_run x =
        run_on_ndjson(800, 30000, 0, 4, "ctr --input events.ndjson --prior 2,38.5 --quiet", 0);
    assert_csv(x.r.out, "stdout", x.g.ads, x.g.nads, 2, 38.5);
    gen_run_free(&x);
}

Test(cli, stdin_and_csv_input_give_the_same_result, .init = setup, .timeout = 120)
{
    /* the same events as CSV (with a header in another column order), read from stdin */
    FILE *f = fopen(tpath("events.csv"), "w");
    cr_assert_not_null(f);
    fprintf(f, "event_time,event_type,ad_id,user\n");
    struct ad ads[40];
    memset(ads, 0, sizeof ads);
    uint64_t s = 5;
    for (unsigned i = 0; i < 40; i++)
        tu_ad_id(i, 5, ads[i].id, sizeof ads[i].id);
    for (unsigned i = 0; i < 5000; i++) {
        unsigned a = (unsigned)(splitmix64(&s) % 40);
        const char *t = types[splitmix64(&s) % 5];
        ads[a].views += t[0] == 'v' || t[0] == 'i';
        ads[a].clicks += t[0] == 'c';
        char field[128];
        csv_field(field, sizeof field, ads[a].id);
        fprintf(f, "%u,%s,%s,u%u\r\n", 1000 + i, t, field, i);
    }
    fclose(f);
    struct run r = run_sh_status("ctr --input - --format csv --quiet <events.csv", 0);
    /* 5000 events over 40 ads: every ad appears (each misses with probability ~1e-55) */
    assert_csv(r.out, "stdout", ads, 40, 0, 0);
    run_free(&r);
}

Test(cli, run_topology_from_yaml, .init = setup, .timeout = 120)
{
    tu_write_file(tpath("topo.yaml"), "# a CTR topology\n"
                                      "source:\n"
                                      "  type: file\n"
                                      "  path: events.ndjson\n"
                                      "  format: ndjson\n"
                                      "pe:\n"
                                      "  name: ctr_per_ad\n"
                                      "  kind: ctr\n"
                                      "  capacity: 5000\n"
                                      "sink:\n"
                                      "  path: result.csv\n");
    struct gen_run x = run_on_ndjson(1000, 20000, 0, 6, "run topo.yaml --quiet", 0);
    assert_csv_file("result.csv", x.g.ads, x.g.nads);
    gen_run_free(&x);
}

Test(cli, invalid_yaml_names_file_line_and_column, .init = setup)
{
    tu_write_file(tpath("bad.yaml"),
                  "source:\n  type: generator\npe:\n  kind: ctr\n  capacity: lots\n");
    struct run r = run_sh_status("run bad.yaml", 2);
    cr_assert_not_null(strstr(r.err, "bad.yaml:5:13:"), "stderr: %s", r.err);
    cr_assert_not_null(strstr(r.err, "capacity"), "stderr: %s", r.err);
    run_free(&r);
}

Test(cli, full_table_is_a_clear_error, .init = setup, .timeout = 120)
{
    struct gen_run x =
        run_on_ndjson(3000, 20000, 0, 7, "ctr --input events.ndjson --capacity 100 --quiet", 1);
    cr_assert_not_null(strstr(x.r.err, "state table full"), "stderr: %s", x.r.err);
    cr_assert_not_null(strstr(x.r.err, "100"), "names the capacity: %s", x.r.err);
    gen_run_free(&x);
}

Test(cli, devices_and_device_selection, .init = setup, .timeout = 60)
{
    struct run r = run_sh_status("devices", 0);
    cr_assert_not_null(strstr(r.out, "compute units"), "stdout: %s", r.out);
    cr_assert_not_null(strstr(r.out, "placement (hwloc "), "stdout: %s", r.out);
    cr_assert_not_null(strstr(r.out, "cpus "), "stdout: %s", r.out);
    run_free(&r);
    r = run_sh_status("ctr --device no-such-device-xyz --events 10 --quiet", 1);
    cr_assert_not_null(strstr(r.err, "no OpenCL device matches \"no-such-device-xyz\""), "%s",
                       r.err);
    cr_assert_not_null(strstr(r.err, "devices present:"), "lists what exists: %s", r.err);
    run_free(&r);
}

/* A topology's placement: override reaches the run (the summary names it and its cpus, and the
 * results are unchanged) and `sluice devices CONFIG`; one naming a NUMA node this machine lacks
 * stops the run before anything runs. The device is matched by its own name, read here. */
Test(cli, placement_override_reaches_run_and_devices, .init = setup, .timeout = 120)
{
    sl_device *dev = NULL;
    char msg[1024];
    cr_assert_eq(sl_device_open(NULL, &dev, msg, sizeof msg), 0, "%s", msg);
    char name[160];
    snprintf(name, sizeof name, "%s", sl_device_get_info(dev)->name);
    sl_device_close(&dev);
    struct gen g;
    write_ndjson(&g, 500, 20000, 0, 11);
    for (int bad = 0; bad < 2; bad++) {
        FILE *f = fopen(tpath("topo.yaml"), "w");
        cr_assert_not_null(f);
        fprintf(f,
                "source: {type: file, path: events.ndjson, format: ndjson}\n"
                "pe: {name: ctr_per_ad, kind: ctr, capacity: 5000}\n"
                "sink: {path: result.csv}\n"
                "placement:\n"
                "  - {device: \"%s\", %s}\n",
                name, bad ? "numa: 4095" : "cpus: \"0\"");
        fclose(f);
        struct run r = run_sh("run topo.yaml --progress");
        if (bad) {
            cr_assert_eq(r.status, 1, "exit %d, stderr: %s", r.status, r.err);
            cr_assert_not_null(strstr(r.err, "NUMA node 4095 does not exist"), "%s", r.err);
            run_free(&r);
            r = run_sh("devices topo.yaml");
            cr_assert_not_null(strstr(r.out, "NUMA node 4095 does not exist"), "%s", r.out);
            run_free(&r);
            continue;
        }
        cr_assert_eq(r.status, 0, "exit %d, stderr: %s", r.status, r.err);
        cr_assert_not_null(strstr(r.err, "placement: "), "the summary says where: %s", r.err);
        cr_assert_not_null(strstr(r.err, "cpus 0 [config"), "%s", r.err);
        assert_csv_file("result.csv", g.ads, g.nads);
        run_free(&r);
        r = run_sh_status("devices topo.yaml", 0);
        cr_assert_not_null(strstr(r.out, "cpus 0 [config"), "%s", r.out);
        run_free(&r);
    }
    free(g.ads);
}

Test(cli, demo_prints_top_ads, .init = setup, .timeout = 120)
{
    struct run r = run_sh_status("ctr --events 200000 --keys 1000 --min-impressions 50 --top 5", 0);
    cr_assert_not_null(strstr(r.out, "Top 5 ads by CTR"), "stdout: %s", r.out);
    cr_assert_not_null(strstr(r.err, "200000 events"), "summary: %s", r.err);
    run_free(&r);
}

Test(cli, help_and_version, .init = setup)
{
    static const char *const cmds[] = {"--help", "ctr --help", "run --help", "devices --help",
                                       "kernel --help"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        struct run r = run_sh(cmds[i]);
        cr_assert_eq(r.status, 0, "%s", cmds[i]);
        cr_assert_not_null(strstr(r.out, "usage: sluice"), "%s: %s", cmds[i], r.out);
        run_free(&r);
    }
    struct run r = run_sh_status("--version", 0);
    cr_assert_eq(strncmp(r.out, "sluice ", 7), 0, "%s", r.out);
    run_free(&r);
    run_status("ctr --bogus", 2);
}

/* An empty input is no failure; one whose every line is malformed is (exit status 4), though
 * stdout, which cannot be taken back, has its header. */
Test(cli, empty_input_gives_a_header_only_and_all_malformed_fails, .init = setup, .timeout = 60)
{
    tu_write_file(tpath("empty.ndjson"), "");
    struct run r = run_sh_status("ctr --input empty.ndjson --quiet", 0);
    cr_assert_str_eq(r.out, "ad_id,impressions,clicks,ctr\n");
    run_free(&r);

    tu_write_file(tpath("bad.ndjson"), "{\n[1,2]\n\n   \n{\"ad_id\": \"a\"}\n");
    r = run_sh_status("ctr --input bad.ndjson --quiet", 4);
    cr_assert_str_eq(r.out, "ad_id,impressions,clicks,ctr\n");
    cr_assert_not_null(strstr(r.err, "sluice: all 3 input lines were malformed"), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "line 1: "), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "line 2: "), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "line 5: "), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "3 malformed lines skipped"), "%s", r.err);
    run_free(&r);
}

/* A user PE: clicks and the summed value of purchases per ad. */
static const char *const USER_PE =
    "#include \"sluice.h\"\n"
    "#define SL_PE_REDUCE\n"
    "#define SL_COLUMNS \"clicks:int,revenue:f2\"\n"
    "typedef struct { ulong clicks; double revenue; } sl_state;\n"
    "void sl_init(__global sl_state *s)\n"
    "{ s->clicks = 0; s->revenue = 0; }\n"
    "void sl_add(__global sl_state *s, const sl_record *r)\n"
    "{\n"
    "    s->clicks += r->type == SL_EV_CLICK;\n"
    "    if (r->type == SL_EV_PURCHASE) s->revenue += r->value;\n"
    "}\n"
    "void sl_merge(__global sl_state *d, __global const sl_state *s)\n"
    "{ d->clicks += s->clicks; d->revenue += s->revenue; }\n"
    "void sl_emit(__global const sl_state *s, sl_out *o)\n"
    "{ o->v[0] = (double)s->clicks; o->v[1] = s->revenue; }\n";

Test(cli, kernel_check_build_and_run, .init = setup, .timeout = 120)
{
    tu_write_file(tpath("pe.cl"), USER_PE);
    tu_write_file(
        tpath("ev.ndjson"),
        "{\"ad_id\": \"b\", \"event_type\": \"purchase\", \"event_time\": 1, \"value\": 2.5}\n"
        "{\"ad_id\": \"a\", \"event_type\": \"click\", \"event_time\": 2}\n"
        "{\"ad_id\": \"b\", \"event_type\": \"purchase\", \"event_time\": 3, \"value\": 4}\n"
        "{\"ad_id\": \"a\", \"event_type\": \"view\", \"event_time\": 4}\n"
        "{\"ad_id\": \"a\", \"event_type\": \"click\", \"event_time\": 5}\n");
    /* expected by hand: a 2 clicks, no purchase; b 0 clicks, 2.5 + 4 = 6.5 revenue */
    const char *want = "ad_id,clicks,revenue\na,2,0.00\nb,0,6.50\n";

    struct run r = run_sh_status("kernel check pe.cl", 0);
    cr_assert_not_null(strstr(r.out, "pe.cl: OK"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "reduce"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "state:   16 bytes"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "clicks (int), revenue (f2)"), "%s", r.out);
    run_free(&r);

    r = run_sh_status("kernel run pe.cl --input ev.ndjson --quiet", 0);
    cr_assert_str_eq(r.out, want);
    run_free(&r);

    run_status("kernel build pe.cl -o pe.bin", 0);
    r = run_sh_status("kernel run pe.bin --binary --input ev.ndjson --quiet", 0);
    cr_assert_str_eq(r.out, want, "the binary gives what the source gives");
    run_free(&r);

    /* the same PE from a topology file, by source and by binary */
    tu_write_file(
        tpath("topo.yaml"),
        "source: {path: ev.ndjson}\npe: {kind: user, binary: pe.bin}\nsink: {path: o.csv}\n");
    r = run_sh_status("run topo.yaml --quiet", 0);
    char *got = slurp("o.csv", NULL);
    cr_assert_str_eq(got, want);
    free(got);
    run_free(&r);
}

Test(cli, kernel_check_reports_errors_in_the_users_file, .init = setup, .timeout = 60)
{
    FILE *f = fopen(tpath("bad.cl"), "w");
    cr_assert_not_null(f);
    /* line 9 loses its ';' */
    const char *cut = strstr(USER_PE, "    s->clicks += r->type == SL_EV_CLICK;");
    cr_assert_not_null(cut);
    fprintf(f, "%.*s    s->clicks += r->type == SL_EV_CLICK\n%s", (int)(cut - USER_PE), USER_PE,
            strchr(cut, '\n') + 1);
    fclose(f);
    struct run r = run_sh_status("kernel check bad.cl", 1);
    cr_assert_not_null(strstr(r.err, "bad.cl:9:"), "stderr: %s", r.err);
    run_free(&r);
    run_status("kernel run bad.cl", 2); /* --input is required */
    run_status("kernel frobnicate bad.cl", 2);
}

Test(cli, unusable_csv_header_is_not_blamed_on_strict, .init = setup, .timeout = 60)
{
    tu_write_file(tpath("h.csv"), "ad_id,event_time,value\na,1,2\n");
    struct run r = run_sh_status("ctr --input h.csv --format csv --quiet", 2);
    cr_assert_not_null(strstr(r.err, "line 1: header has no \"event_type\" column"), "%s", r.err);
    cr_assert_null(strstr(r.err, "--strict"), "%s", r.err);
    run_free(&r);
}
