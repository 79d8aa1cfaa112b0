/* The insns workload; see insnsrun.h. */
#include "insnsrun.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callgrind.h"
#include "err.h"
#include "procrun.h"

#ifndef BENCH_INSNS_BIN
#error "BENCH_INSNS_BIN names the bench_insns executable (bench/bench.cmake)"
#endif

#define KERNEL_SERIES_MAX 6 /* "k:NAME" series of sluice's costliest kernels */

static const struct {
    const char *arg, *name; /* bench_insns --system, the system's name in the report */
} systems[] = {
    {"plain", "plain C 1 thread"}, /* first: the reference of the case (rp_print_table) */
    {"sluice", "sluice (OpenCL)"},
    {"lean", "lean C 1 thread (16 B)"},
};

/* The object file holds kernels that PoCL compiled: they live in its kernel cache (cache, the
 * real path of POCL_CACHE_DIR, as valgrind names objects; or PoCL's default, a "kcache"
 * folder). */
static int is_kernel_obj(const char *obj, const char *cache)
{
    size_t n = cache ? strlen(cache) : 0;
    return (n && strncmp(obj, cache, n) == 0 && obj[n] == '/') || strstr(obj, "/kcache/");
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* The kernel's name in a function name of PoCL's compiled code: PoCL wraps a kernel K in
 * functions such as _pocl_kernel_K_workgroup; the name is left whole when it has no such form. */
static void kernel_name(const char *fn, char *out, size_t len)
{
    const char *k = strstr(fn, "_pocl_kernel_");
    k = k ? k + 13 : fn;
    size_t n = strlen(k);
    static const char *const suffix[] = {"_workgroup_fast", "_workgroup"};
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        size_t s = strlen(suffix[i]);
        if (n > s && strcmp(k + n - s, suffix[i]) == 0) {
            n -= s;
            break;
        }
    }
    snprintf(out, len, "%.*s", (int)n, k);
}

/* Sorting the result rows by key (libc's qsort and the comparators): every system does it once
 * per run, per key and not per event. */
static int is_sort_fn(const char *fn)
{
    return strstr(fn, "msort") || strstr(fn, "qsort") || strstr(fn, "cmp_key");
}

/* The profile's figures into the system's series. */
static void add_figures(rp_system *s, const cg_profile *p, uint64_t events, int per_kernel)
{
    const char *env = getenv("POCL_CACHE_DIR");
    char cache[PATH_MAX] = "";
    if (env && *env && !realpath(env, cache))
        cache[0] = '\0';
    uint64_t kernel = 0, fill = 0, runtime = 0, host = 0, sort = 0, libc = 0, other = 0;
    const double ev = (double)events;
    struct {
        char name[24];
        uint64_t ir;
    } k[KERNEL_SERIES_MAX * 4];
    size_t nk = 0;
    for (size_t i = 0; i < p->n; i++) {
        const cg_cost *c = &p->costs[i];
        const char *b = base_name(c->obj);
        if (is_kernel_obj(c->obj, cache)) {
            kernel += c->ir;
            char name[24];
            kernel_name(c->fn, name, sizeof name);
            size_t j = 0;
            while (j < nk && strcmp(k[j].name, name) != 0)
                j++;
            if (j == nk && nk < sizeof k / sizeof *k) {
                snprintf(k[nk].name, sizeof k[nk].name, "%s", name);
                k[nk++].ir = 0;
            }
            if (j < nk)
                k[j].ir += c->ir;
        } else if (is_sort_fn(c->fn)) {
            sort += c->ir;
        } else if (strncmp(b, "libpocl", 7) == 0 || strncmp(b, "libOpenCL", 9) == 0) {
            /* clEnqueueFillBuffer, the state table's clearing at reset: PoCL fills on the host */
            if (strstr(c->fn, "fill"))
                fill += c->ir;
            else
                runtime += c->ir;
        } else if (strcmp(c->obj, BENCH_INSNS_BIN) == 0) {
            host += c->ir;
        } else if (strncmp(b, "libc.so", 7) == 0 || strncmp(b, "libc-", 5) == 0) {
            libc += c->ir;
        } else {
            other += c->ir;
        }
    }
    rp_add(s, "ir_ev", "instr/event", (double)p->total / ev);
    rp_add(s, "ir_kernel", "instr/event", (double)kernel / ev);
    rp_add(s, "ir_fill", "instr/event", (double)fill / ev);
    rp_add(s, "ir_runtime", "instr/event", (double)runtime / ev);
    rp_add(s, "ir_host", "instr/event", (double)host / ev);
    rp_add(s, "ir_sort", "instr/event", (double)sort / ev);
    rp_add(s, "ir_libc", "instr/event", (double)libc / ev);
    rp_add(s, "ir_other", "instr/event", (double)other / ev);
    if (!per_kernel)
        return;
    for (size_t shown = 0; shown < KERNEL_SERIES_MAX && shown < nk; shown++) {
        size_t m = shown; /* the costliest kernel not shown yet */
        for (size_t j = shown + 1; j < nk; j++)
            if (k[j].ir > k[m].ir)
                m = j;
        char name[32];
        snprintf(name, sizeof name, "k:%s", k[m].name);
        rp_add(s, name, "instr/event", (double)k[m].ir / ev);
        k[m] = k[shown];
    }
}

/* valgrind's version into ver; 0 when it runs, else SL_EIO. */
static int valgrind_probe(const char *dir, char *ver, size_t len)
{
    char out[4096], err[4096], m[512];
    pr_proc p;
    snprintf(out, sizeof out, "%s/insns-valgrind-version.txt", dir);
    snprintf(err, sizeof err, "%s/insns-valgrind-version.log", dir);
    char *argv[] = {"valgrind", "--version", NULL};
    int rc = pr_run(argv, out, err, &p, m, sizeof m);
    if (rc == 0)
        pr_last_line(out, ver, len);
    remove(out);
    remove(err);
    return rc == 0 && strncmp(ver, "valgrind", 8) == 0 ? 0 : SL_EIO;
}

int ir_run(const ir_opts *o, rp_report *r, char *msg, size_t msglen)
{
    if (valgrind_probe(o->out, r->m.valgrind, sizeof r->m.valgrind)) {
        snprintf(r->m.valgrind, sizeof r->m.valgrind, "not installed");
        fprintf(stderr, "sluice-bench: insns: skipped: valgrind is not installed (apt-get install "
                        "valgrind; .ci/install-deps installs it)\n");
        return 0;
    }
    char label[128];
    snprintf(label, sizeof label,
             "%llu events in memory (sl_gen, seed %llu), %u ads, Zipf %.2f: instructions per "
             "event (callgrind)",
             (unsigned long long)o->events, (unsigned long long)o->seed, o->keys, o->skew);
    rp_case *k = rp_case_add(r, "insns", label, (double)o->keys, o->events);
    if (!k) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof systems / sizeof *systems; i++) {
        char prof[4096], dump[4200], out[4096], err[4096], profarg[4200], ev[32], keys[32],
            skew[32], seed[32];
        snprintf(prof, sizeof prof, "%s/insns-%s.callgrind", o->out, systems[i].arg);
        snprintf(profarg, sizeof profarg, "--callgrind-out-file=%s", prof);
        snprintf(out, sizeof out, "%s/insns-%s.out", o->out, systems[i].arg);
        snprintf(err, sizeof err, "%s/insns-%s.log", o->out, systems[i].arg);
        snprintf(ev, sizeof ev, "%llu", (unsigned long long)o->events);
        snprintf(keys, sizeof keys, "%u", o->keys);
        snprintf(skew, sizeof skew, "%.17g", o->skew);
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
        /* the measured run's dump is the first (".1"); the one at exit holds nothing */
        snprintf(dump, sizeof dump, "%s.1", prof);
        remove(dump);
        char *argv[24];
        int a = 0;
        argv[a++] = "valgrind";
        argv[a++] = "--tool=callgrind";
        argv[a++] = "--instr-atstart=no";
        argv[a++] = profarg;
        argv[a++] = BENCH_INSNS_BIN;
        argv[a++] = "--system";
        argv[a++] = (char *)systems[i].arg;
        argv[a++] = "--events";
        argv[a++] = ev;
        argv[a++] = "--keys";
        argv[a++] = keys;
        argv[a++] = "--skew";
        argv[a++] = skew;
        argv[a++] = "--seed";
        argv[a++] = seed;
        if (o->device) {
            argv[a++] = "--device";
            argv[a++] = (char *)o->device;
        }
        argv[a] = NULL;
        pr_proc p;
        if ((rc = pr_run(argv, out, err, &p, msg, msglen)))
            break;
        cg_profile prof_data;
        rc = cg_load(dump, &prof_data, msg, msglen);
        if (rc == 0 && strstr(prof_data.desc, "measured") == NULL) {
            snprintf(msg, msglen, "%s: not the dump of the measured run (%s)", dump,
                     prof_data.desc);
            rc = SL_EPARSE;
        }
        if (rc == 0) {
            rp_system *s = rp_sys(k, systems[i].name);
            if (s) {
                add_figures(s, &prof_data, o->events, strcmp(systems[i].arg, "sluice") == 0);
                rp_add(s, "wall_s", "s", p.wall); /* under callgrind: not a speed */
            }
        }
        cg_free(&prof_data);
    }
    if (rc == 0) {
        k->equal = 1;
        snprintf(
            k->check, sizeof k->check,
            "equal: each system's rows (ad, impressions, clicks, ctr, exactly) equal plain C's "
            "in its warm-up and measured runs (bench_insns checks them)");
    }
    return rc;
}
