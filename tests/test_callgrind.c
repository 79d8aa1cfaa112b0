/* bench/callgrind.c: callgrind profile dumps read into self costs per function, checked against
 * profiles written here (known answers, computed by hand) and against a real valgrind run of a
 * loop whose instruction count is known (tests/cg_spin.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bench/callgrind.c"

/* Writes text to a new file under the test's temporary folder; returns its path (static). */
static const char *write_profile(const char *name, const char *text)
{
    static char path[4096];
    const char *dir = getenv("SLUICE_TEST_TMP");
    snprintf(path, sizeof path, "%s/cg-%d-%s", dir && *dir ? dir : "/tmp", (int)getpid(), name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

/* main: 10 + 4 (self, relative positions); f: 20 + 1; g in another object: 7. The calls' lines
 * carry inclusive costs (28, 7), which are not self costs. 42 in all. */
static const char known[] = "# callgrind format\n"
                            "version: 1\n"
                            "creator: callgrind-3.19.0\n"
                            "positions: line\n"
                            "events: Ir\n"
                            "desc: Trigger: Client Request: measured\n"
                            "summary: 42\n"
                            "\n"
                            "ob=(1) /usr/bin/prog\n"
                            "fl=(1) prog.c\n"
                            "fn=(1) main\n"
                            "10 10\n"
                            "+2 4\n"
                            "cfn=(2) f\n"
                            "calls=1 30\n"
                            "* 28\n"
                            "\n"
                            "fn=(2)\n"
                            "30 20\n"
                            "cob=(2) /lib/libg.so\n"
                            "cfi=(2) g.c\n"
                            "cfn=(3) g\n"
                            "calls=2 5\n"
                            "-1 7\n"
                            "31 1\n"
                            "\n"
                            "ob=(2)\n"
                            "fl=(2)\n"
                            "fn=(3)\n"
                            "5 7\n"
                            "\n"
                            "totals: 42\n";

Test(callgrind, reads_self_costs_of_a_known_profile)
{
    cg_profile p;
    char msg[512] = "";
    int rc = cg_load(write_profile("known", known), &p, msg, sizeof msg);
    cr_assert_eq(rc, 0, "cg_load: %s", msg);
    cr_assert_eq(p.total, 42);
    cr_assert_eq(p.n, 3);
    /* by decreasing cost */
    cr_assert_str_eq(p.costs[0].fn, "f");
    cr_assert_eq(p.costs[0].ir, 21);
    cr_assert_str_eq(p.costs[1].fn, "main");
    cr_assert_eq(p.costs[1].ir, 14);
    cr_assert_str_eq(p.costs[2].fn, "g");
    cr_assert_str_eq(p.costs[2].obj, "/lib/libg.so");
    cr_assert_eq(p.costs[2].ir, 7);
    cr_assert_eq(cg_sum(&p, "/usr/bin/prog", NULL), 35);
    cr_assert_eq(cg_sum(&p, NULL, "g"), 7);
    cr_assert_eq(cg_sum(&p, NULL, NULL), 42);
    cr_assert_str_eq(p.desc, "Client Request: measured");
    cg_free(&p);
}

Test(callgrind, refuses_costs_that_do_not_add_up_to_the_total)
{
    char *bad = strdup(known);
    cr_assert_not_null(bad);
    char *t = strstr(bad, "totals: 42");
    cr_assert_not_null(t);
    memcpy(t, "totals: 43", 10);
    cg_profile p;
    char msg[512] = "";
    cr_assert_eq(cg_load(write_profile("sum", bad), &p, msg, sizeof msg), SL_EPARSE);
    cr_assert(strstr(msg, "add up to 42 instructions, its total says 43"), "%s", msg);
    cg_free(&p);
    free(bad);
}

Test(callgrind, refuses_what_is_not_a_profile_naming_the_line)
{
    cg_profile p;
    char msg[512] = "";
    cr_assert_eq(cg_load(write_profile("text", "events: Ir\nfn=(1) main\n3 4\nhello world\n"), &p,
                         msg, sizeof msg),
                 SL_EPARSE);
    cr_assert(strstr(msg, "line 4: neither a cost line"), "%s", msg);
    cg_free(&p);
    cr_assert_eq(
        cg_load(write_profile("ref", "events: Ir\nfn=(7)\n3 4\ntotals: 4\n"), &p, msg, sizeof msg),
        SL_EPARSE);
    cr_assert(strstr(msg, "line 2: a compressed name's id is used before it is defined"), "%s",
              msg);
    cg_free(&p);
    cr_assert_eq(cg_load(write_profile("ev", "events: Dr Ir\nfn=(1) m\n3 4\ntotals: 4\n"), &p, msg,
                         sizeof msg),
                 SL_EPARSE);
    cr_assert(strstr(msg, "line 1: the first event is not Ir"), "%s", msg);
    cg_free(&p);
    cr_assert_eq(cg_load(write_profile("none", "just text\n"), &p, msg, sizeof msg), SL_EPARSE);
    cg_free(&p);
    cr_assert_eq(cg_load("/nonexistent/profile", &p, msg, sizeof msg), SL_EIO);
    cg_free(&p);
}

#ifdef CG_SPIN_BIN
/* Runs cg_spin n under callgrind; returns the instructions callgrind counted in spin(). */
static uint64_t spin_count(unsigned long n, uint64_t *total)
{
    char prof[4096], cmd[9000];
    snprintf(prof, sizeof prof, "%s", write_profile("spin", ""));
    snprintf(cmd, sizeof cmd,
             "valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file='%s' '%s' %lu "
             ">'%s.log' 2>&1",
             prof, CG_SPIN_BIN, n, prof);
    int st = system(cmd);
    cr_assert_eq(st, 0, "%s: status %d (log in %s.log)", cmd, st, prof);
    char dump[4200], msg[512] = "";
    snprintf(dump, sizeof dump, "%s.1", prof);
    cg_profile p;
    int rc = cg_load(dump, &p, msg, sizeof msg);
    cr_assert_eq(rc, 0, "cg_load: %s", msg);
    cr_assert(strstr(p.desc, "spin"), "the dump is not the one asked for: %s", p.desc);
    uint64_t s = cg_sum(&p, "cg_spin", "spin");
    *total = p.total;
    cg_free(&p);
    remove(dump);
    return s;
}

#endif

/* One Test in both builds: without cg_spin (no valgrind header at build time) it is skipped. */
Test(callgrind, counts_a_loop_of_known_length_exactly, .timeout = 120)
{
#ifndef CG_SPIN_BIN
    cr_skip_test("built without valgrind/callgrind.h (Debian's valgrind package)");
#else
    if (system("valgrind --version >/dev/null 2>&1") != 0)
        cr_skip_test("valgrind is not installed (.ci/install-deps installs it)");
    uint64_t t1, t2;
    const uint64_t a = spin_count(100000, &t1), b = spin_count(300000, &t2);
    cr_assert(a >= 100000 && t1 >= a, "spin: %llu of %llu", (unsigned long long)a,
              (unsigned long long)t1);
#if defined(__x86_64__)
    /* two instructions per iteration, and a few around the loop, the same in both runs */
    cr_assert_eq(b - a, 2 * 200000, "spin(300000) - spin(100000) = %llu instructions",
                 (unsigned long long)(b - a));
    cr_assert(a >= 200000 && a < 200000 + 16, "spin(100000) = %llu", (unsigned long long)a);
#else
    cr_assert(b > 2 * a, "spin(300000) = %llu, spin(100000) = %llu", (unsigned long long)b,
              (unsigned long long)a);
#endif
    /* the dump holds the measured region only: little besides spin() */
    cr_assert(t1 - a < 5000, "%llu instructions outside spin()", (unsigned long long)(t1 - a));
#endif
}
