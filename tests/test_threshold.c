/* The failure threshold for malformed input (source.max_malformed, --max-malformed: exit status
 * 4, an existing output left byte for byte as it was), output folders made as mkdir -p, and the
 * precision of float columns (the shortest text that reads back exactly, pe.format and
 * --decimals for fixed decimals). Each runs the `sluice` binary and checks what it wrote against
 * counts and numbers worked out here, in C doubles. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "columns.h"
#include "err.h"
#include "proc.h"

/* ---- inputs and what they must give ----------------------------------------------------- */

/* Writes `name`: `good` NDJSON views of ad "a" (each tenth one a click of "b", so that there are
 * two rows), `bad` malformed lines of assorted kinds and `blank` blank or whitespace-only lines,
 * dealt so that every kind is spread through the file. Returns the CSV an independent count of
 * the good lines gives (caller frees). */
static char *write_mixed(const char *name, unsigned good, unsigned bad, unsigned blank)
{
    static const char *const bads[] = {"not json", "{\"ad_id\": \"a\", \"event_type\": \"view\"}",
                                       "{\"ad_id\": \"a\", \"event_type\": \"view\", "
                                       "\"event_time\": 1.5}",
                                       "[1, 2, 3]"};
    static const char *const blanks[] = {"", "   ", "\t", " \t "};
    FILE *f = create(name);
    unsigned g = 0, b = 0, w = 0, views = 0, clicks = 0;
    while (g < good || b < bad || w < blank) {
        if (g < good) {
            int click = g % 10 == 9;
            fprintf(f, "{\"ad_id\": \"%s\", \"event_type\": \"%s\", \"event_time\": %u}\n",
                    click ? "b" : "a", click ? "click" : "view", 1000 + g);
            views += !click;
            clicks += click;
            g++;
        }
        if (b < bad)
            fprintf(f, "%s\n", bads[b++ % 4]);
        if (w < blank)
            fprintf(f, "%s\n", blanks[w++ % 4]);
    }
    fclose(f);
    char *want = malloc(256);
    cr_assert_not_null(want);
    int n = snprintf(want, 256, "ad_id,impressions,clicks,ctr\n");
    if (views)
        n += snprintf(want + n, 256 - (size_t)n, "a,%u,0,0\n", views);
    if (clicks)
        snprintf(want + n, 256 - (size_t)n, "b,0,%u,0\n", clicks);
    return want;
}

/* Asserts that file `name` holds exactly the len bytes at want. */
static void assert_bytes(const char *name, const char *want, size_t len)
{
    size_t got_len = 0;
    char *got = slurp(name, &got_len);
    cr_assert_eq(got_len, len, "%s: %zu bytes, expected %zu", name, got_len, len);
    cr_assert_eq(memcmp(got, want, len), 0, "%s changed", name);
    free(got);
}

/* An earlier output, with bytes a text editor would not write, that a failed run must keep. */
static const char old_output[] = "an earlier result\r\n\0with a NUL,\xff\xfe and no newline";
#define OLD_LEN (sizeof old_output - 1)

/* Runs `sluice ARGS`, asserting its exit status, and returns its stderr (caller frees). */
static char *run_err(const char *args, int status)
{
    struct run r = run_sh_status(args, status);
    free(r.out);
    return r.err;
}

/* Asserts that stderr holds the threshold's line with "BAD of READ". */
static void assert_says_over(const char *err, unsigned bad, unsigned read)
{
    char want[128];
    snprintf(want, sizeof want, "sluice: %u of %u non-blank input lines were malformed", bad, read);
    cr_assert_not_null(strstr(err, want), "want \"%s\" in: %s", want, err);
    cr_assert_not_null(strstr(err, "the run failed (exit status 4)"), "%s", err);
    cr_assert_not_null(strstr(err, "--max-malformed"), "%s", err);
}

/* ---- the threshold -------------------------------------------------------------------------- */

Test(threshold, all_malformed_exits_4_and_keeps_the_output, .init = setup, .timeout = 120)
{
    char *want = write_mixed("bad.ndjson", 0, 7, 3);
    FILE *f = create("out.csv");
    cr_assert_eq(fwrite(old_output, 1, OLD_LEN, f), OLD_LEN);
    fclose(f);
    char *err = run_err("ctr --input bad.ndjson --output out.csv -q", 4);
    cr_assert_not_null(strstr(err, "sluice: all 7 input lines were malformed, none could be read"),
                       "%s", err);
    cr_assert_not_null(strstr(err, "the run failed (exit status 4)"), "%s", err);
    assert_bytes("out.csv", old_output, OLD_LEN);
    cr_assert_eq(hidden_files(), 0, "a temporary output was left behind");
    free(err);

    /* --max-malformed 1 allows any share, but not an input of which nothing could be read */
    err = run_err("ctr --input bad.ndjson --output out.csv -q --max-malformed 1", 4);
    assert_bytes("out.csv", old_output, OLD_LEN);
    free(err);
    /* and through a topology file, with no output there before */
    tu_write_file(tpath("t.yaml"), "source: {path: bad.ndjson, max_malformed: 1}\n"
                                   "pe: {kind: ctr}\nsink: {path: fresh.csv}\n");
    free(run_err("run t.yaml -q", 4));
    cr_assert_not(exists("fresh.csv"));
    cr_assert_eq(hidden_files(), 0);
    free(want);
}

Test(threshold, more_than_half_fails_by_default, .init = setup, .timeout = 120)
{
    /* 60 of 100 malformed: over half */
    char *w60 = write_mixed("m60.ndjson", 40, 60, 0);
    tu_write_file(tpath("out.csv"), "kept\n");
    char *err = run_err("ctr --input m60.ndjson --output out.csv -q", 4);
    assert_says_over(err, 60, 100);
    cr_assert_not_null(strstr(err, "(60.0%), more than the 50% allowed"), "%s", err);
    assert_bytes("out.csv", "kept\n", 5);
    free(err);

    /* 40 of 100: a success, with the good lines' count */
    char *w40 = write_mixed("m40.ndjson", 60, 40, 0);
    free(run_err("ctr --input m40.ndjson --output out.csv -q", 0));
    char *got = slurp("out.csv", NULL);
    cr_assert_str_eq(got, w40);
    free(got);

    /* exactly half is not more than half */
    char *w50 = write_mixed("m50.ndjson", 50, 50, 0);
    free(run_err("ctr --input m50.ndjson --output - -q", 0));

    /* the option moves the line both ways */
    free(run_err("ctr --input m60.ndjson --output out60.csv -q --max-malformed 0.6", 0));
    got = slurp("out60.csv", NULL);
    cr_assert_str_eq(got, w60);
    free(got);
    err = run_err("ctr --input m40.ndjson --output out.csv -q --max-malformed 0.39", 4);
    assert_says_over(err, 40, 100);
    free(err);
    err = run_err("ctr --input m50.ndjson --output - -q --max-malformed 0", 4);
    assert_says_over(err, 50, 100);
    cr_assert_not_null(strstr(err, "more than the 0% allowed"), "%s", err);
    free(err);
    /* --max-malformed 1: any share but all */
    free(run_err("ctr --input m60.ndjson --output - -q --max-malformed 1", 0));

    /* --strict is as before: status 2 at the first malformed line */
    err = run_err("ctr --input m40.ndjson --output out.csv -q --strict --max-malformed 1", 2);
    cr_assert_not_null(strstr(err, "stopped at the first malformed line (--strict)"), "%s", err);
    free(err);
    got = slurp("out.csv", NULL);
    cr_assert_str_eq(got, w40, "the last successful run's output stays");
    free(got);

    /* out of range */
    err = run_err("ctr --input m40.ndjson -q --max-malformed 1.5", 2);
    cr_assert_not_null(strstr(err, "--max-malformed expects a number in 0..1"), "%s", err);
    free(err);
    free(w40);
    free(w50);
    free(w60);
}

Test(threshold, topology_key_and_option, .init = setup, .timeout = 120)
{
    char *w60 = write_mixed("m60.ndjson", 40, 60, 0);
    tu_write_file(tpath("lax.yaml"), "source: {path: m60.ndjson, max_malformed: 0.75}\n"
                                     "pe: {kind: ctr}\nsink: {path: lax.csv}\n");
    tu_write_file(tpath("plain.yaml"), "source: {path: m60.ndjson}\n"
                                       "pe: {kind: ctr}\nsink: {path: plain.csv}\n");
    free(run_err("run lax.yaml -q", 0));
    char *got = slurp("lax.csv", NULL);
    cr_assert_str_eq(got, w60);
    free(got);
    char *err = run_err("run plain.yaml -q", 4);
    assert_says_over(err, 60, 100);
    free(err);
    cr_assert_not(exists("plain.csv"));
    /* the option overrides the file, both ways */
    err = run_err("run lax.yaml -q --max-malformed 0.5 --output strictish.csv", 4);
    assert_says_over(err, 60, 100);
    free(err);
    cr_assert_not(exists("strictish.csv"));
    free(run_err("run plain.yaml -q --max-malformed 0.6", 0));
    got = slurp("plain.csv", NULL);
    cr_assert_str_eq(got, w60);
    free(got);

    /* checked where it is written */
    tu_write_file(tpath("bad1.yaml"), "source: {path: m60.ndjson, max_malformed: 2}\n"
                                      "pe: {kind: ctr}\n");
    err = run_err("run bad1.yaml", 2);
    cr_assert_not_null(strstr(err, "bad1.yaml:1:43: source.max_malformed: expected a number in "
                                   "[0, 1], got \"2\""),
                       "%s", err);
    free(err);
    tu_write_file(tpath("bad2.yaml"), "source: {type: generator, max_malformed: 0.1}\n"
                                      "pe: {kind: ctr}\n");
    err = run_err("run bad2.yaml", 2);
    cr_assert_not_null(strstr(err, "bad2.yaml:1:27: source.max_malformed: only allowed when the "
                                   "source reads lines"),
                       "%s", err);
    free(err);
    free(w60);
}

Test(threshold, blank_lines_and_a_csv_header_do_not_count, .init = setup, .timeout = 120)
{
    /* 5 malformed, 4 good: over half, however many blank lines come between (with them counted
     * it would be 5 of 49) */
    char *w = write_mixed("blanks.ndjson", 4, 5, 40);
    char *err = run_err("ctr --input blanks.ndjson --output out.csv -q", 4);
    assert_says_over(err, 5, 9);
    free(err);
    /* 4 malformed, 5 good: under half (with the blank lines as malformed, 44 of 49) */
    char *w2 = write_mixed("blanks2.ndjson", 5, 4, 40);
    free(run_err("ctr --input blanks2.ndjson --output out.csv -q", 0));
    char *got = slurp("out.csv", NULL);
    cr_assert_str_eq(got, w2);
    free(got);

    /* A CSV header is neither: 2 malformed of 3 fails (as 2 of 4, it would not) */
    tu_write_file(tpath("h.csv"), "ad_id,event_type,event_time\n"
                                  "a,view,1\n"
                                  "a,view\n"
                                  "a,view,x\n");
    err = run_err("ctr --input h.csv --format csv --output - -q", 4);
    assert_says_over(err, 2, 3);
    free(err);
    free(w);
    free(w2);
}

Test(threshold, empty_inputs_do_not_fail, .init = setup, .timeout = 120)
{
    /* nothing to read is no malformed input: a header-only output, status 0 */
    tu_write_file(tpath("empty.ndjson"), "");
    tu_write_file(tpath("blank.ndjson"), "\n   \n\t\n\n");
    tu_write_file(tpath("header.csv"), "ad_id,event_type,event_time\n\n");
    const char *const runs[] = {"ctr --input empty.ndjson --output e.csv -q --max-malformed 0",
                                "ctr --input blank.ndjson --output e.csv -q --max-malformed 0",
                                "ctr --input header.csv --format csv --output e.csv -q "
                                "--max-malformed 0",
                                "ctr --input - --output e.csv -q </dev/null"};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        unlink(tpath("e.csv"));
        free(run_err(runs[i], 0));
        char *got = slurp("e.csv", NULL);
        cr_assert_str_eq(got, "ad_id,impressions,clicks,ctr\n", "%s", runs[i]);
        free(got);
    }
}

Test(threshold, nodes_sum_what_they_read, .init = setup, .fini = teardown, .timeout = 240)
{
    /* the client parses (--nodes 2), or each node parses its part (--ingest-on-nodes): the
     * malformed lines are summed over them all */
    char *w40 = write_mixed("m40.ndjson", 300, 200, 50);
    free(write_mixed("m60.ndjson", 200, 300, 50));
    FILE *f = create("out.csv");
    cr_assert_eq(fwrite(old_output, 1, OLD_LEN, f), OLD_LEN);
    fclose(f);
    const char *const how[] = {"--nodes 2", "--nodes 2 --ingest-on-nodes"};
    for (int i = 0; i < 2; i++) {
        char args[256];
        snprintf(args, sizeof args, "ctr --input m60.ndjson --output out.csv -q %s", how[i]);
        char *err = run_err(args, 4);
        assert_says_over(err, 300, 500);
        free(err);
        assert_bytes("out.csv", old_output, OLD_LEN);
        snprintf(args, sizeof args, "ctr --input m40.ndjson --output ok%d.csv -q %s", i, how[i]);
        free(run_err(args, 0));
        char name[16];
        snprintf(name, sizeof name, "ok%d.csv", i);
        char *got = slurp(name, NULL);
        cr_assert_str_eq(got, w40, "%s", how[i]);
        free(got);
    }
    cr_assert_eq(hidden_files(), 0);
    free(w40);
    finish();
}

/* ---- output folders ------------------------------------------------------------------------- */

Test(threshold, output_folders_are_made, .init = setup, .timeout = 120)
{
    char *want = write_mixed("ev.ndjson", 30, 0, 0);
    mode_t old = umask(027);
    struct run r = run_sh("ctr --input ev.ndjson --output new/nested/dir/out.csv -q");
    umask(old);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    char *got = slurp("new/nested/dir/out.csv", NULL);
    cr_assert_str_eq(got, want);
    free(got);
    const char *dirs[] = {"new", "new/nested", "new/nested/dir"};
    for (int i = 0; i < 3; i++) {
        struct stat st;
        cr_assert_eq(stat(tpath(dirs[i]), &st), 0, "%s", dirs[i]);
        cr_assert(S_ISDIR(st.st_mode), "%s", dirs[i]);
        cr_assert_eq(st.st_mode & 07777, 0777 & ~027, "%s: mode %o", dirs[i],
                     (unsigned)(st.st_mode & 07777));
    }
    /* a topology's sink too, relative to the file's folder */
    tu_write_file(tpath("t.yaml"), "source: {path: ev.ndjson}\npe: {kind: ctr}\n"
                                   "sink: {path: results/2026/ctr.csv}\n");
    free(run_err("run t.yaml -q", 0));
    got = slurp("results/2026/ctr.csv", NULL);
    cr_assert_str_eq(got, want);
    free(got);
    /* a folder that cannot be made is named */
    char *err = run_err("ctr --input ev.ndjson --output ev.ndjson/sub/out.csv -q", 1);
    cr_assert_str_eq(err, "sluice: cannot create folder ev.ndjson for output "
                          "ev.ndjson/sub/out.csv: Not a directory\n");
    free(err);
    free(want);
}

/* ---- precision ------------------------------------------------------------------------------ */

/* The ctr field of the row of ad `id` in CSV text (a pointer into text, up to its newline). */
static const char *ctr_of(const char *text, const char *id, char *buf, size_t len)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "\n%s,", id);
    const char *row = strstr(text, prefix);
    cr_assert_not_null(row, "no row for %s in: %.300s", id, text);
    row++;
    const char *field = row;
    for (int commas = 0; commas < 3; field++)
        commas += *field == ',';
    size_t n = strcspn(field, "\n");
    cr_assert_lt(n, len);
    memcpy(buf, field, n);
    buf[n] = '\0';
    return buf;
}

Test(threshold, ctr_prints_full_precision, .init = setup, .timeout = 300)
{
    /* 1 click in 3,000,000 impressions (CSV: 9 bytes a line), 1 in 3, 2 in 3 and 1 in 7 */
    FILE *f = create("big.csv");
    for (unsigned i = 0; i < 3000000; i++)
        fputs("a,view,0\n", f);
    fputs("a,click,1\n", f);
    fputs("b,view,0\nb,view,0\nb,view,0\nb,click,1\n", f);
    fputs("c,view,0\nc,view,0\nc,view,0\nc,click,1\nc,click,1\n", f);
    for (int i = 0; i < 7; i++)
        fputs("d,view,0\n", f);
    fputs("d,click,2\n", f);
    fclose(f);
    struct run r = run_sh_status("ctr --input big.csv --format csv --output out.csv -q", 0);
    run_free(&r);
    char *text = slurp("out.csv", NULL);
    const struct {
        const char *id;
        double want;
    } rows[] = {{"a", 1.0 / 3000000.0}, {"b", 1.0 / 3.0}, {"c", 2.0 / 3.0}, {"d", 1.0 / 7.0}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char buf[64], shorter[400];
        const char *s = ctr_of(text, rows[i].id, buf, sizeof buf);
        char *end;
        double v = strtod(s, &end);
        cr_assert_eq(*end, '\0', "%s: \"%s\" is not one number", rows[i].id, s);
        cr_assert_eq(v, rows[i].want, "%s: \"%s\" reads back as %.17g, not %.17g", rows[i].id, s, v,
                     rows[i].want);
        /* and no shorter: one significant digit fewer does not read back */
        int digits = 0;
        for (const char *p = s; *p && *p != 'e'; p++)
            digits += *p >= '0' && *p <= '9';
        for (const char *p = s; *p == '0' || *p == '.'; p++)
            digits -= *p == '0'; /* leading zeros are not significant */
        snprintf(shorter, sizeof shorter, "%.*g", digits - 1, rows[i].want);
        cr_assert_neq(strtod(shorter, NULL), rows[i].want, "%s: \"%s\" is not the shortest",
                      rows[i].id, s);
    }
    cr_assert_str_eq(ctr_of(text, "a", (char[64]){0}, 64), "3.3333333333333335e-07");
    free(text);
}

Test(threshold, fixed_decimals_when_asked, .init = setup, .fini = teardown, .timeout = 240)
{
    tu_write_file(tpath("ev.csv"), "a,view,0\na,view,0\na,view,0\na,click,1\nb,view,0\n"
                                   "b,view,0\nb,click,1\n");
    /* pe.format: ctr with 6 decimals; in one process and on 2 nodes (the job carries it) */
    tu_write_file(tpath("f6.yaml"), "source: {path: ev.csv, format: csv}\n"
                                    "pe: {kind: ctr, format: {ctr: f6}}\nsink: {path: -}\n");
    const char *want6 = "ad_id,impressions,clicks,ctr\na,3,1,0.333333\nb,2,1,0.500000\n";
    struct run r = run_sh_status("run f6.yaml -q", 0);
    cr_assert_str_eq(r.out, want6);
    run_free(&r);
    r = run_sh_status("run f6.yaml -q --nodes 2", 0);
    cr_assert_str_eq(r.out, want6);
    run_free(&r);
    /* --decimals N: every float column, over the file's format */
    r = run_sh_status("run f6.yaml -q --decimals 2", 0);
    cr_assert_str_eq(r.out, "ad_id,impressions,clicks,ctr\na,3,1,0.33\nb,2,1,0.50\n");
    run_free(&r);
    r = run_sh_status("ctr --input ev.csv --format csv -q --decimals 6", 0);
    cr_assert_str_eq(r.out, want6);
    run_free(&r);
    /* without either: full precision */
    r = run_sh_status("ctr --input ev.csv --format csv -q", 0);
    cr_assert_str_eq(r.out, "ad_id,impressions,clicks,ctr\na,3,1,0.3333333333333333\nb,2,1,0.5\n");
    run_free(&r);
    /* a sum PE's sum, and every float column at once */
    tu_write_file(tpath("sum.yaml"), "source: {path: ev.csv, format: csv}\n"
                                     "pe: {kind: sum, format: {\"*\": f1}}\n");
    r = run_sh_status("run sum.yaml -q", 0);
    cr_assert_str_eq(r.out, "ad_id,count,sum\na,4,0.0\nb,3,0.0\n");
    run_free(&r);

    /* what is refused, where it is written */
    static const struct {
        const char *yaml, *says;
    } bad[] = {
        {"pe: {kind: ctr, format: {ctrs: f6}}\n",
         "t.yaml:1:26: pe.format: no column \"ctrs\" (the columns are impressions, clicks, ctr)"},
        {"pe: {kind: ctr, format: {ctr: f10}}\n",
         "t.yaml:1:31: pe.format.ctr: expected one of g, int, f0, f1, f2, f3, f4, f5, f6, f7, "
         "f8, f9, got \"f10\""},
        {"pe: {kind: ctr, format: {ctr: g, ctr: f2}}\n",
         "t.yaml:1:34: pe.format: duplicate key \"ctr\""},
        {"pe: {kind: ctr, format: f6}\n", "t.yaml:1:25: pe.format: expected a mapping"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tu_write_file(tpath("t.yaml"), bad[i].yaml);
        char *err = run_err("run t.yaml", 2);
        cr_assert_not_null(strstr(err, bad[i].says), "want \"%s\" in: %s", bad[i].says, err);
        free(err);
    }
    r = run_sh_status("ctr --input ev.csv --format csv -q --decimals 10", 2);
    run_free(&r);
    finish();
}

Test(threshold, user_pe_columns_take_a_format, .init = setup, .timeout = 240)
{
    /* revenue.cl declares purchases:int,revenue:f2,max_value:f2 */
    tu_write_file(tpath("ev.ndjson"),
                  "{\"ad_id\": \"a\", \"event_type\": \"purchase\", \"event_time\": 1, "
                  "\"value\": 0.1}\n"
                  "{\"ad_id\": \"a\", \"event_type\": \"purchase\", \"event_time\": 2, "
                  "\"value\": 0.2}\n");
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "source: {path: ev.ndjson}\n"
             "pe: {kind: user, source: %s/examples/kernels/revenue.cl, format: {revenue: g}}\n",
             SLUICE_SOURCE_DIR);
    tu_write_file(tpath("t.yaml"), yaml);
    struct run r = run_sh_status("run t.yaml -q", 0);
    /* the values are 32-bit floats widened to double, as the kernel sums them */
    char want[256], num[32];
    snprintf(want, sizeof want, "ad_id,purchases,revenue,max_value\na,2,%s,0.20\n",
             tu_shortest((double)0.1f + (double)0.2f, num, sizeof num));
    cr_assert_str_eq(r.out, want);
    run_free(&r);
    /* a column the PE does not declare: said when its program is built */
    snprintf(yaml, sizeof yaml,
             "source: {path: ev.ndjson}\n"
             "pe: {kind: user, source: %s/examples/kernels/revenue.cl, format: {nope: g}}\n",
             SLUICE_SOURCE_DIR);
    tu_write_file(tpath("t.yaml"), yaml);
    r = run_sh_status("run t.yaml -q", 1);
    cr_assert_not_null(strstr(r.err, "pe.format: no column \"nope\" (the columns are purchases, "
                                     "revenue, max_value)"),
                       "%s", r.err);
    run_free(&r);
}

/* ---- the column overrides on their own ------------------------------------------------------ */

Test(format, overrides_apply_in_order)
{
    sl_columns c;
    char err[512];
    cr_assert_eq(sl_columns_parse("n:int,top:key,ctr:g,x:f2", &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sl_columns_override(&c, "", err, sizeof err), 0);
    cr_assert_eq(c.fmt[2], SL_COLFMT_G);
    cr_assert_eq(sl_columns_override(&c, "ctr:f6", err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.fmt[2], SL_COLFMT_FIXED);
    cr_assert_eq(c.decimals[2], 6);
    /* "*": the float columns (g or fN), not int or key ones */
    cr_assert_eq(sl_columns_override(&c, "*:f3", err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.fmt[0], SL_COLFMT_INT);
    cr_assert_eq(c.fmt[1], SL_COLFMT_KEY);
    cr_assert_eq(c.decimals[2], 3);
    cr_assert_eq(c.decimals[3], 3);
    /* later entries win */
    cr_assert_eq(sl_columns_override(&c, "x:g,n:f1,x:int", err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.fmt[3], SL_COLFMT_INT);
    cr_assert_eq(c.fmt[0], SL_COLFMT_FIXED);
    cr_assert_eq(c.decimals[0], 1);
    char buf[64];
    sl_columns_format(&c, 0, 2.0, buf, sizeof buf);
    cr_assert_str_eq(buf, "2.0");
}

Test(format, overrides_refused)
{
    static const struct {
        const char *spec, *says;
    } bad[] = {
        {"nope:g", "no column \"nope\" (the columns are n, top, ctr)"},
        {"top:g", "column \"top\" holds keys"},
        {"ctr:key", "column \"ctr\": expected int, g or f0..f9, got \"key\""},
        {"ctr:f10", "got \"f10\""},
        {"ctr", "\"ctr\": expected COLUMN:FORMAT"},
        {"ctr:g,,n:int", "\"\": expected COLUMN:FORMAT"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_columns c;
        char err[512] = "";
        cr_assert_eq(sl_columns_parse("n:int,top:key,ctr:g", &c, err, sizeof err), 0);
        cr_assert_eq(sl_columns_override(&c, bad[i].spec, err, sizeof err), SL_EINVAL, "%s",
                     bad[i].spec);
        cr_assert_not_null(strstr(err, bad[i].says), "%s: \"%s\"", bad[i].spec, err);
    }
}
