/* User PEs in OpenCL C: loading, compile errors mapped to the user's lines, ABI mismatches,
 * both shapes against plain C references, windows, and the program-binary path. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "err.h"
#include "harness.h"
#include "kernsrc.h"
#include "pebin.h"
#include "reference.h"

static char dir[512];

static void make_dir(void)
{
    tu_mkdtemp(dir, sizeof dir, "userpe");
}

/* Writes `text` to DIR/name and returns the path (static buffer, one of four). */
static const char *write_pe(const char *name, const char *text)
{
    static char paths[4][640];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fputs(text, f);
    fclose(f);
    return p;
}

/* views and the largest value per key: a reduce PE with a float max (order-free). */
static const char *const VIEWS_MAX =
    "#include \"sluice.h\"\n"                                           /* 1 */
    "#define SL_PE_REDUCE\n"                                            /* 2 */
    "#define SL_COLUMNS \"views:int,max_value:f2\"\n"                   /* 3 */
    "typedef struct { ulong views; float max_value; } sl_state;\n"      /* 4 */
    "void sl_init(__global sl_state *s)\n"                              /* 5 */
    "{ s->views = 0; s->max_value = -INFINITY; }\n"                     /* 6 */
    "void sl_add(__global sl_state *s, const sl_record *r)\n"           /* 7 */
    "{\n"                                                               /* 8 */
    "    s->views += r->type == SL_EV_VIEW;\n"                          /* 9 */
    "    s->max_value = fmax(s->max_value, r->value);\n"                /* 10 */
    "}\n"                                                               /* 11 */
    "void sl_merge(__global sl_state *d, __global const sl_state *s)\n" /* 12 */
    "{ d->views += s->views; d->max_value = fmax(d->max_value, s->max_value); }\n"
    "void sl_emit(__global const sl_state *s, sl_out *out)\n"
    "{ out->v[0] = (double)s->views; out->v[1] = s->max_value; }\n";

/* How often a key's value went down from its previous event, in arrival order: only correct when
 * each key's events are applied one at a time, in order (a sequential PE). */
static const char *const DROPS =
    "#include \"sluice.h\"\n"
    "#define SL_PE_SEQUENTIAL\n"
    "#define SL_COLUMNS \"events:int,drops:int,last:g\"\n"
    "typedef struct { ulong n, drops; float last; } sl_state;\n"
    "void sl_init(__global sl_state *s) { s->n = 0; s->drops = 0; s->last = 0.0f; }\n"
    "void sl_process(__global sl_state *s, const sl_record *r)\n"
    "{\n"
    "    if (s->n > 0 && r->value < s->last)\n"
    "        s->drops += 1;\n"
    "    s->last = r->value;\n"
    "    s->n += 1;\n"
    "}\n"
    "void sl_emit(__global const sl_state *s, sl_out *out)\n"
    "{ out->v[0] = (double)s->n; out->v[1] = (double)s->drops; out->v[2] = s->last; }\n";

static sl_engine_cfg user_cfg(const char *source, uint64_t capacity)
{
    sl_engine_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    sl_pe_defaults(&cfg.pe, SL_PE_USER);
    snprintf(cfg.pe.source, sizeof cfg.pe.source, "%s", source);
    cfg.pe.capacity = capacity;
    cfg.batch_events = 8192;
    return cfg;
}

static int cmp_key_ws(const void *a, const void *b)
{
    return sl_row_cmp_key(a, b);
}

/* Plain C reference of VIEWS_MAX. */
static sl_row *ref_views_max(const sl_rec *recs, size_t n, size_t *nrows)
{
    sl_row *rows = calloc(n ? n : 1, sizeof *rows);
    cr_assert_not_null(rows);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < m && rows[j].key != recs[i].key)
            j++;
        if (j == m) {
            rows[m].key = recs[i].key;
            rows[m].v[1] = (double)-INFINITY;
            m++;
        }
        rows[j].v[0] += recs[i].type == SL_EV_VIEW;
        if ((double)recs[i].value > rows[j].v[1])
            rows[j].v[1] = (double)recs[i].value;
    }
    qsort(rows, m, sizeof *rows, cmp_key_ws);
    *nrows = m;
    return rows;
}

/* Plain C reference of DROPS, in arrival order per key. */
static sl_row *ref_drops(const sl_rec *recs, size_t n, size_t *nrows)
{
    sl_row *rows = calloc(n ? n : 1, sizeof *rows);
    float *last = calloc(n ? n : 1, sizeof *last);
    cr_assert(rows && last);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < m && rows[j].key != recs[i].key)
            j++;
        if (j == m)
            rows[m++].key = recs[i].key;
        if (rows[j].v[0] > 0 && recs[i].value < last[j])
            rows[j].v[1] += 1;
        last[j] = recs[i].value;
        rows[j].v[0] += 1;
        rows[j].v[2] = (double)recs[i].value;
    }
    free(last);
    qsort(rows, m, sizeof *rows, cmp_key_ws);
    *nrows = m;
    return rows;
}

Test(userpe, reduce_pe_matches_reference_in_both_modes, .init = make_dir, .timeout = 120)
{
    const char *path = write_pe("views_max.cl", VIEWS_MAX);
    size_t n = 60000;
    sl_rec *recs = th_alloc(n);
    for (uint64_t seed = 1; seed <= 2; seed++) {
        th_records(seed, recs, n, 700, 1.0, 0, 0);
        size_t nref;
        sl_row *ref = ref_views_max(recs, n, &nref);
        for (int mode = SL_DISPATCH_GROUPED; mode <= SL_DISPATCH_CHUNKED; mode++) {
            sl_engine_cfg cfg = user_cfg(path, 2000);
            cfg.mode = (enum sl_dispatch_mode)mode;
            th_result res;
            int rc = th_run(&cfg, recs, n, 3001, &res);
            cr_assert_eq(rc, 0, "%s", res.msg);
            th_assert_rows(res.final_rows, res.nfinal, ref, nref, 0.0);
            th_result_free(&res);
        }
        free(ref);
    }
    free(recs);
}

Test(userpe, sequential_pe_sees_each_key_in_arrival_order, .init = make_dir, .timeout = 120)
{
    const char *path = write_pe("drops.cl", DROPS);
    size_t n = 80000;
    sl_rec *recs = th_records_new(7, n, 900, 1.0, 0, 0);
    size_t nref;
    sl_row *ref = ref_drops(recs, n, &nref);
    /* chunked is asked for, but a sequential PE has no merge: the engine must group instead */
    sl_engine_cfg cfg = user_cfg(path, 2000);
    cfg.mode = SL_DISPATCH_CHUNKED;
    th_result res;
    cr_assert_eq(th_run(&cfg, recs, n, 777, &res), 0, "%s", res.msg);
    th_assert_rows(res.final_rows, res.nfinal, ref, nref, 0.0);
    th_result_free(&res);
    free(ref);
    free(recs);
}

/* The same sequential PE while its table grows: no pe.capacity, and far more keys than the first
 * table holds, so that batches stop for want of room and go on after the table grows (and the
 * batch behind them waits). Every key still sees its events in arrival order: the rows equal a
 * reference computed key by key in arrival order (th_by_key). */
Test(userpe, sequential_pe_keeps_order_while_the_table_grows, .init = make_dir, .timeout = 180)
{
    const char *path = write_pe("drops.cl", DROPS);
    size_t n = 400000;
    sl_rec *recs = th_records_new(8, n, 120000, 0.5, 0, 0);
    size_t *idx = th_by_key(recs, n);
    sl_row *ref = calloc(n, sizeof *ref);
    cr_assert_not_null(ref);
    size_t nref = 0;
    float last = 0.0f;
    for (size_t j = 0; j < n; j++) {
        const sl_rec *r = &recs[idx[j]];
        if (nref == 0 || ref[nref - 1].key != r->key) {
            ref[nref++].key = r->key;
        } else if (r->value < last) {
            ref[nref - 1].v[1] += 1;
        }
        last = r->value;
        ref[nref - 1].v[0] += 1;
        ref[nref - 1].v[2] = (double)r->value;
    }
    sl_engine_cfg cfg = user_cfg(path, 0);
    cfg.batch_events = 65536;
    th_result res;
    cr_assert_eq(th_run(&cfg, recs, n, 50000, &res), 0, "%s", res.msg);
    cr_assert_gt(res.stats.table_grows, 0, "the table grew");
    th_assert_rows(res.final_rows, res.nfinal, ref, nref, 0.0);
    th_result_free(&res);
    free(ref);
    free(idx);
    free(recs);
}

Test(userpe, windowed_user_pe_matches_reference, .init = make_dir, .timeout = 120)
{
    /* count per (key, window) through a user file equals the built-in window_count reference */
    const char *path =
        write_pe("count.cl", "#include \"sluice.h\"\n#define SL_PE_REDUCE\n"
                             "#define SL_COLUMNS \"count:int\"\n"
                             "typedef struct { ulong n; } sl_state;\n"
                             "void sl_init(__global sl_state *s) { s->n = 0; }\n"
                             "void sl_add(__global sl_state *s, const sl_record *r) { s->n++; }\n"
                             "void sl_merge(__global sl_state *d, __global const sl_state *s)\n"
                             "{ d->n += s->n; }\n"
                             "void sl_emit(__global const sl_state *s, sl_out *o)\n"
                             "{ o->v[0] = (double)s->n; }\n");
    size_t n = 50000;
    sl_rec *recs = th_records_new(3, n, 200, 1.0, 100, 400);
    sl_engine_cfg cfg = user_cfg(path, 50000);
    cfg.pe.window_ms = 2000;
    cfg.pe.lateness_ms = 100;
    th_result res;
    cr_assert_eq(th_run(&cfg, recs, n, 999, &res), 0, "%s", res.msg);
    sl_pe_cfg wpe;
    sl_pe_defaults(&wpe, SL_PE_WINDOW);
    wpe.window_ms = 2000;
    wpe.lateness_ms = 100;
    uint64_t late = th_assert_reference(&wpe, recs, n, res.final_rows, res.nfinal);
    cr_assert_eq(res.stats.events_late, late);
    th_result_free(&res);
    free(recs);
}

/* Builds `text` as a user PE and returns the engine's status and message. */
static int try_build(const char *name, const char *text, char *msg, size_t msglen)
{
    sl_device *dev = NULL;
    int rc = sl_device_open(NULL, &dev, msg, msglen);
    cr_assert_eq(rc, 0, "%s", msg);
    sl_engine_cfg cfg = user_cfg(write_pe(name, text), 100);
    sl_engine *e = NULL;
    rc = sl_engine_new(dev, &cfg, NULL, NULL, &e, msg, msglen);
    sl_engine_destroy(&e);
    sl_device_close(&dev);
    return rc;
}

/* Replaces the first `from` in VIEWS_MAX with `to`. */
static char *variant(const char *from, const char *to)
{
    const char *at = strstr(VIEWS_MAX, from);
    cr_assert_not_null(at, "%s", from);
    size_t n = strlen(VIEWS_MAX) + strlen(to) + 1;
    char *s = malloc(n);
    cr_assert_not_null(s);
    snprintf(s, n, "%.*s%s%s", (int)(at - VIEWS_MAX), VIEWS_MAX, to, at + strlen(from));
    return s;
}

Test(userpe, compile_error_names_the_users_file_and_line, .init = make_dir, .timeout = 60)
{
    char msg[16384];
    char *src = variant("    s->views += r->type == SL_EV_VIEW;\n",
                        "    s->views += r->type == SL_EV_VIEW\n"); /* line 9: no ';' */
    cr_assert_eq(try_build("typo.cl", src, msg, sizeof msg), SL_EBUILD);
    cr_assert_not_null(strstr(msg, "typo.cl:9:"), "the log points at line 9: %s", msg);
    free(src);
}

Test(userpe, abi_mismatches_are_clear_errors, .init = make_dir, .timeout = 120)
{
    char msg[16384];
    static const struct {
        const char *what, *from, *to, *file;
        int rc;
        const char *says; /* in the message; NULL: not checked */
    } bad[] = {
        {"a missing function",
         "void sl_merge(__global sl_state *d, __global const sl_state *s)\n"
         "{ d->views += s->views; d->max_value = fmax(d->max_value, s->max_value); }\n",
         "", "nomerge.cl", SL_EBUILD, "sluice ABI: sl_merge is missing"},
        {"a wrong signature", "void sl_add(__global sl_state *s, const sl_record *r)",
         "void sl_add(__global sl_state *s, sl_record *r)", "sig.cl", SL_EBUILD,
         "sluice ABI: sl_add is declared with another signature"},
        {"no shape", "#define SL_PE_REDUCE\n", "", "noshape.cl", SL_EBUILD,
         "define exactly one of SL_PE_REDUCE and SL_PE_SEQUENTIAL"},
        {"both shapes", "#define SL_PE_REDUCE\n",
         "#define SL_PE_REDUCE\n#define SL_PE_SEQUENTIAL\n", "twoshapes.cl", SL_EBUILD, NULL},
        {"no columns", "#define SL_COLUMNS \"views:int,max_value:f2\"\n", "", "nocols.cl",
         SL_EBUILD, "define SL_COLUMNS"},
        {"bad columns", "views:int,max_value:f2", "views:int,max_value:x2", "badcols.cl", SL_EINVAL,
         "unknown format"},
        {"a state over the limit", "typedef struct { ulong views; float max_value; } sl_state;",
         "typedef struct { ulong views; float max_value; char pad[5000]; } sl_state;", "big.cl",
         SL_EINVAL, "over the limit of 4096"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *src = variant(bad[i].from, bad[i].to);
        cr_assert_eq(try_build(bad[i].file, src, msg, sizeof msg), bad[i].rc, "%s: %s", bad[i].what,
                     msg);
        if (bad[i].says)
            cr_assert_not_null(strstr(msg, bad[i].says), "%s: %s", bad[i].what, msg);
        free(src);
    }
    /* a missing file */
    sl_device *dev = NULL;
    cr_assert_eq(sl_device_open(NULL, &dev, msg, sizeof msg), 0);
    sl_engine_cfg cfg = user_cfg("/nonexistent/pe.cl", 100);
    sl_engine *e = NULL;
    cr_assert_eq(sl_engine_new(dev, &cfg, NULL, NULL, &e, msg, sizeof msg), SL_EIO);
    cr_assert_not_null(strstr(msg, "/nonexistent/pe.cl: cannot open"), "%s", msg);
    sl_device_close(&dev);
}

/* Builds VIEWS_MAX, writes its binary, and returns the path. */
static const char *built_binary(const char *name, int64_t window_ms)
{
    char msg[16384];
    sl_device *dev = NULL;
    cr_assert_eq(sl_device_open(NULL, &dev, msg, sizeof msg), 0, "%s", msg);
    sl_engine_cfg cfg = user_cfg(write_pe("vm.cl", VIEWS_MAX), 100);
    cfg.pe.window_ms = window_ms;
    sl_engine *e = NULL;
    cr_assert_eq(sl_engine_new(dev, &cfg, NULL, NULL, &e, msg, sizeof msg), 0, "%s", msg);
    unsigned char *bin = NULL;
    size_t len = 0;
    cr_assert_eq(sl_engine_program_binary(e, &bin, &len), 0);
    cr_assert_gt(len, SL_PEBIN_HEADER);
    static char path[640];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(bin, 1, len, f), len);
    fclose(f);
    free(bin);
    sl_engine_destroy(&e);
    sl_device_close(&dev);
    return path;
}

Test(userpe, binary_gives_the_same_results_as_source, .init = make_dir, .timeout = 120)
{
    const char *bin = built_binary("vm.bin", 0);
    size_t n = 30000;
    sl_rec *recs = th_records_new(5, n, 300, 0.0, 0, 0);
    sl_engine_cfg cfg = user_cfg("", 1000);
    snprintf(cfg.pe.binary, sizeof cfg.pe.binary, "%s", bin);
    th_result res;
    cr_assert_eq(th_run(&cfg, recs, n, 4096, &res), 0, "%s", res.msg);
    size_t nref;
    sl_row *ref = ref_views_max(recs, n, &nref);
    th_assert_rows(res.final_rows, res.nfinal, ref, nref, 0.0);
    free(ref);
    th_result_free(&res);
    free(recs);
}

/* The aggregation kernels as they were before they counted records by type: ten arguments, no
 * `types` (docs/kernel-abi.md, "Program binaries"). Appended to the framework's source, whose own
 * two kernels are renamed, they make a program like a pe.binary built by that sluice. */
static const char *const OLD_KERNELS =
    "\n__kernel void sl_aggregate_grouped(__global const sl_record *recs,\n"
    "    __global const uint *bounds, __global uint *prog, __global sl_slot *slots,\n"
    "    __global uint *fill, uint region_slots, uint region_max, uint pbits, uint copies,\n"
    "    __global uint *status)\n"
    "{\n"
    "    const uint i0 = get_global_id(0);\n"
    "    uint i = prog[i0];\n"
    "    if (i >= bounds[i0 + 1] || status[0] != 0)\n"
    "        return;\n"
    "    for (; i < bounds[i0 + 1]; i++) {\n"
    "        const sl_record r = recs[i];\n"
    "        if (sl_apply_one(&r, slots + (size_t)i0 * region_slots, fill + i0, region_slots,\n"
    "                         region_max, 63 - pbits, 0, i0, status))\n"
    "            break;\n"
    "    }\n"
    "    prog[i0] = i;\n"
    "}\n"
    "#ifdef SL_PE_REDUCE\n"
    "__kernel void sl_aggregate_chunked(__global const sl_record *recs,\n"
    "    __global const uint *bounds, __global uint *prog, __global sl_slot *slots,\n"
    "    __global uint *fill, uint region_slots, uint region_max, uint pbits, uint copies,\n"
    "    __global uint *status)\n"
    "{\n"
    "    const uint i0 = get_global_id(0), per = 1u << pbits;\n"
    "    uint i = prog[i0];\n"
    "    if (i >= bounds[i0 + 1] || status[0] != 0)\n"
    "        return;\n"
    "    for (; i < bounds[i0 + 1]; i++) {\n"
    "        const sl_record r = recs[i];\n"
    "        if (sl_apply_one(&r, slots + (size_t)i0 * per * region_slots, fill + i0 * per,\n"
    "                         region_slots, region_max, 63 - pbits, 1, i0, status))\n"
    "            break;\n"
    "    }\n"
    "    prog[i0] = i;\n"
    "}\n"
    "#endif\n";

/* `text` with every `from` replaced by `to` (malloc'd); asserts that there was at least one. */
static char *replace_all(const char *text, const char *from, const char *to)
{
    size_t nf = strlen(from), nt = strlen(to), count = 0;
    for (const char *p = strstr(text, from); p; p = strstr(p + nf, from))
        count++;
    cr_assert_gt(count, 0, "%s not in the framework's source", from);
    char *out = malloc(strlen(text) + count * nt + 1), *o = out;
    cr_assert_not_null(out);
    for (const char *p = text, *q; (q = strstr(p, from)); p = q + nf) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, nt);
        o += nt;
        text = q + nf;
    }
    strcpy(o, text);
    return out;
}

/* A pe.binary whose aggregation kernels take no `types` (built before the kernels counted
 * records by type) still runs: the host counts the types as it batches, and the rows and the
 * counts by type equal the reference's, in both dispatch modes and across table growths. */
Test(userpe, binary_without_type_counts_is_counted_by_the_host, .init = make_dir, .timeout = 180)
{
    char msg[16384], inc[512], opts[700];
    sl_device *dev = NULL;
    cr_assert_eq(sl_device_open(NULL, &dev, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(sl_kernel_include_dir(inc, sizeof inc), 0);
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 -I%s", inc);
    char *a = replace_all(sl_kernel_source("sl_engine.cl"), "void sl_aggregate_grouped(",
                          "void sl_aggregate_grouped_now(");
    char *b = replace_all(a, "void sl_aggregate_chunked(", "void sl_aggregate_chunked_now(");
    char *framework = malloc(strlen(b) + strlen(OLD_KERNELS) + 1);
    cr_assert_not_null(framework);
    strcpy(framework, b);
    strcat(framework, OLD_KERNELS);
    const sl_source srcs[2] = {{"vm.cl", VIEWS_MAX}, {"old_sl_engine.cl", framework}};
    cl_program prog = NULL;
    char *log = NULL;
    int rc = sl_device_build(dev, srcs, 2, opts, &prog, &log);
    cr_assert_eq(rc, 0, "%s", log ? log : "build failed");
    free(log);
    unsigned char *raw = NULL, *bin = NULL;
    size_t nraw = 0, nbin = 0;
    cr_assert_eq(sl_device_program_binary(dev, prog, &raw, &nraw), 0);
    cr_assert_eq(sl_pebin_wrap(sl_device_get_info(dev), raw, nraw, &bin, &nbin), 0);
    const char *path = write_pe("old.bin", "");
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(bin, 1, nbin, f), nbin);
    fclose(f);
    clReleaseProgram(prog);
    free(raw);
    free(bin);
    free(framework);
    free(b);
    free(a);
    sl_device_close(&dev);

    size_t n = 40000;
    sl_rec *recs = th_records_new(31, n, 6000, 0.5, 0, 0);
    uint64_t want[SL_EV_NTYPES] = {0};
    for (size_t i = 0; i < n; i++)
        want[recs[i].type & 3]++;
    size_t nref;
    sl_row *ref = ref_views_max(recs, n, &nref);
    static const enum sl_dispatch_mode modes[] = {SL_DISPATCH_CHUNKED, SL_DISPATCH_GROUPED};
    for (size_t m = 0; m < 2; m++) {
        sl_engine_cfg cfg = user_cfg("", 0);
        snprintf(cfg.pe.binary, sizeof cfg.pe.binary, "%s", path);
        cfg.mode = modes[m];
        th_result res;
        cr_assert_eq(th_run(&cfg, recs, n, 3000, &res), 0, "mode %zu: %s", m, res.msg);
        cr_assert_gt(res.stats.table_slots, 4096, "mode %zu: the table never grew", m);
        th_assert_rows(res.final_rows, res.nfinal, ref, nref, 0.0);
        for (int t = 0; t < SL_EV_NTYPES; t++)
            cr_assert_eq(res.stats.type_counts[t], want[t], "mode %zu, type %d", m, t);
        th_result_free(&res);
    }
    free(ref);
    free(recs);
}

/* Loads the binary at `path` (after `mutate` changed its bytes) and returns the status. */
static int load_mutated(const char *path, void (*mutate)(unsigned char *, size_t *), char *msg,
                        size_t msglen)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    unsigned char *b = malloc(1 << 22);
    cr_assert_not_null(b);
    size_t len = fread(b, 1, 1 << 22, f);
    fclose(f);
    mutate(b, &len);
    char out[700];
    snprintf(out, sizeof out, "%s.mut", path);
    f = fopen(out, "wb");
    cr_assert_not_null(f);
    fwrite(b, 1, len, f);
    fclose(f);
    free(b);
    sl_device *dev = NULL;
    cr_assert_eq(sl_device_open(NULL, &dev, msg, msglen), 0);
    sl_engine_cfg cfg = user_cfg("", 100);
    snprintf(cfg.pe.binary, sizeof cfg.pe.binary, "%s", out);
    sl_engine *e = NULL;
    int rc = sl_engine_new(dev, &cfg, NULL, NULL, &e, msg, msglen);
    sl_engine_destroy(&e);
    sl_device_close(&dev);
    return rc;
}

static void truncate_half(unsigned char *b, size_t *len)
{
    (void)b;
    *len /= 2;
}

static void truncate_header(unsigned char *b, size_t *len)
{
    (void)b;
    *len = 100;
}

static void flip_payload_bit(unsigned char *b, size_t *len)
{
    b[*len - 10] ^= 0x20;
}

static void other_device(unsigned char *b, size_t *len)
{
    (void)len;
    memcpy(b + 160, "another-device", 15); /* the device name field of the header */
}

static void raw_bytes(unsigned char *b, size_t *len)
{
    (void)len;
    memcpy(b,
           "\x7f"
           "ELF",
           4); /* a raw driver binary, not a sluice container */
}

Test(userpe, corrupt_foreign_and_truncated_binaries_are_clear_errors, .init = make_dir,
     .timeout = 120)
{
    const char *bin = built_binary("vm.bin", 0);
    char msg[4096];
    cr_assert_eq(load_mutated(bin, truncate_half, msg, sizeof msg), SL_EBUILD);
    cr_assert_not_null(strstr(msg, "truncated or padded"), "%s", msg);
    cr_assert_eq(load_mutated(bin, truncate_header, msg, sizeof msg), SL_EBUILD);
    cr_assert_not_null(strstr(msg, "shorter than the 352-byte header"), "%s", msg);
    cr_assert_eq(load_mutated(bin, flip_payload_bit, msg, sizeof msg), SL_EBUILD);
    cr_assert_not_null(strstr(msg, "checksum"), "%s", msg);
    cr_assert_eq(load_mutated(bin, other_device, msg, sizeof msg), SL_EBUILD);
    cr_assert_not_null(strstr(msg, "built for"), "%s", msg);
    cr_assert_not_null(strstr(msg, "another-device"), "%s", msg);
    cr_assert_eq(load_mutated(bin, raw_bytes, msg, sizeof msg), SL_EBUILD);
    cr_assert_not_null(strstr(msg, "not a sluice PE binary"), "%s", msg);
}

Test(userpe, binary_built_for_another_window_is_refused, .init = make_dir, .timeout = 120)
{
    const char *bin = built_binary("w.bin", 1000);
    char msg[4096];
    sl_device *dev = NULL;
    cr_assert_eq(sl_device_open(NULL, &dev, msg, sizeof msg), 0);
    sl_engine_cfg cfg = user_cfg("", 100);
    snprintf(cfg.pe.binary, sizeof cfg.pe.binary, "%s", bin);
    cfg.pe.window_ms = 5000;
    sl_engine *e = NULL;
    cr_assert_eq(sl_engine_new(dev, &cfg, NULL, NULL, &e, msg, sizeof msg), SL_EINVAL);
    cr_assert_not_null(strstr(msg, "built with window_ms 1000"), "%s", msg);
    cfg.pe.window_ms = 1000;
    cr_assert_eq(sl_engine_new(dev, &cfg, NULL, NULL, &e, msg, sizeof msg), 0, "%s", msg);
    sl_engine_destroy(&e);
    sl_device_close(&dev);
}
