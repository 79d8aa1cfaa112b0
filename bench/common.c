/* Shared by the bench programs and the tests; see common.h. */
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "reference.h"

/* ---- time and order statistics ---- */

double bc_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int bc_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bc_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, bc_cmp_double);
    return v[n / 2];
}

double bc_pct(const double *v, size_t n, double q)
{
    size_t k = (size_t)(q * (double)n + 0.999999);
    return v[k == 0 ? 0 : k > n ? n - 1 : k - 1];
}

/* ---- result rows ---- */

int bc_rows_append(bc_rows *r, const sl_row *rows, size_t n)
{
    if (r->n + n > r->cap) {
        size_t cap = (r->n + n) * 2 + 64;
        sl_row *g = realloc(r->rows, cap * sizeof *g);
        if (!g)
            return SL_ENOMEM;
        r->rows = g;
        r->cap = cap;
    }
    if (n)
        memcpy(r->rows + r->n, rows, n * sizeof *rows);
    r->n += n;
    return 0;
}

void bc_rows_free(bc_rows *r)
{
    free(r->rows);
    memset(r, 0, sizeof *r);
}

int bc_collect(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    return kind == SL_EMIT_SNAPSHOT ? 0 : bc_rows_append(ud, rows, n);
}

/* ---- feeding records ---- */

int bc_feed(enum bc_target t, void *h, const sl_rec *recs, size_t n, size_t chunk)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        rc = t == BC_ENGINE  ? sl_engine_push(h, recs + i, k)
             : t == BC_LENT  ? sl_engine_push_lent(h, recs + i, k)
             : t == BC_MULTI ? sl_multi_push(h, recs + i, k)
                             : sl_ref_push(h, recs + i, k);
    }
    if (rc == 0 && t != BC_REF)
        rc = t == BC_MULTI ? sl_multi_finish(h) : sl_engine_finish(h);
    return rc;
}

void bc_ctr_input(sl_gen_cfg *g)
{
    sl_gen_defaults(g);
    g->events = 16777216;
    g->keys = 100000;
    g->skew = 1.0;
    g->click_rate = 0.1;
}

int bc_gen_records(const sl_gen_cfg *g, sl_rec **out)
{
    int rc = 0;
    sl_gen *gen = sl_gen_new(g, NULL, &rc);
    if (!gen)
        return rc ? rc : SL_ENOMEM;
    /* page-aligned, so that a device reading them in place (sl_engine_push_lent) can use the
     * memory as it is: a runtime may copy a host pointer that is not aligned to the device's
     * CL_DEVICE_MEM_BASE_ADDR_ALIGN */
    size_t bytes = ((g->events + 1) * sizeof(sl_rec) + 4095) & ~(size_t)4095;
    sl_rec *r = aligned_alloc(4096, bytes);
    uint64_t got = r ? sl_gen_next(gen, r, g->events) : 0;
    sl_gen_destroy(&gen);
    if (!r)
        return SL_ENOMEM;
    if (got != g->events) {
        free(r);
        return SL_EIO;
    }
    *out = r;
    return 0;
}

/* ---- temporary files ---- */

FILE *bc_tmp_file(const char *prefix, const char *tag, char *path, size_t len)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, len, "%s/%s-%s-XXXXXX", dir && dir[0] ? dir : "/tmp", prefix, tag);
    int fd = mkstemp(path);
    if (fd < 0) {
        path[0] = '\0';
        return NULL;
    }
    FILE *f = fdopen(fd, "w+");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(path);
        path[0] = '\0';
        errno = e;
    }
    return f;
}

void bc_tmp_close(FILE **f, const char *path)
{
    if (*f)
        fclose(*f);
    *f = NULL;
    if (path[0])
        unlink(path);
}

int bc_truncate(FILE *f)
{
    fflush(f);
    rewind(f);
    return ftruncate(fileno(f), 0) == 0 ? 0 : SL_EIO;
}

int bc_same_bytes(FILE *a, FILE *b, long *bytes)
{
    static char x[65536], y[65536];
    size_t na, nb;
    long total = 0;
    fflush(a);
    fflush(b);
    rewind(a);
    rewind(b);
    do {
        na = fread(x, 1, sizeof x, a);
        nb = fread(y, 1, sizeof y, b);
        if (na != nb || memcmp(x, y, na) != 0)
            return 0;
        total += (long)na;
    } while (na == sizeof x);
    *bytes = total;
    return 1;
}

/* ---- command-line options ---- */

/* The value of s as o's type, stored in o->dst; -1 when it is not one. */
static int store(const bc_opt *o, const char *s)
{
    static const double type_lo[] = {
        [BC_INT] = INT_MIN, [BC_U32] = 0, [BC_U64] = 0, [BC_I64] = -0x1p63, [BC_DBL] = -HUGE_VAL};
    static const double type_hi[] = {[BC_INT] = INT_MAX,
                                     [BC_U32] = UINT32_MAX,
                                     [BC_U64] = 0x1p64,
                                     [BC_I64] = 0x1p63,
                                     [BC_DBL] = HUGE_VAL};
    char *end;
    errno = 0;
    unsigned long long u = 0;
    long long i = 0;
    double d;
    if (o->type == BC_DBL) {
        d = strtod(s, &end);
        if (!isfinite(d))
            return -1;
    } else if (o->type == BC_U32 || o->type == BC_U64) {
        if (strchr(s, '-'))
            return -1; /* strtoull would negate it */
        u = strtoull(s, &end, 10);
        d = (double)u;
    } else {
        i = strtoll(s, &end, 10);
        d = (double)i;
    }
    if (errno || end == s || *end || d < type_lo[o->type] || d > type_hi[o->type])
        return -1;
    if ((o->lo != 0 || o->hi != 0) && (d < o->lo || d > o->hi))
        return -1;
    switch (o->type) {
    case BC_INT:
        *(int *)o->dst = (int)i;
        break;
    case BC_U32:
        *(uint32_t *)o->dst = (uint32_t)u;
        break;
    case BC_U64:
        *(uint64_t *)o->dst = (uint64_t)u;
        break;
    case BC_I64:
        *(int64_t *)o->dst = (int64_t)i;
        break;
    default:
        *(double *)o->dst = d;
        break;
    }
    return 0;
}

int bc_parse_args(int argc, char **argv, sl_gen_cfg *g, const bc_opt *opts, size_t n,
                  const char *prog, const char *usage)
{
    size_t ng = g ? 3 : 0, nall = ng + n;
    bc_opt *all = calloc(nall + 1, sizeof *all);
    struct option *lo = calloc(nall + 2, sizeof *lo);
    char *shorts = malloc(2 * nall + 3);
    if (!all || !lo || !shorts) {
        free(all);
        free(lo);
        free(shorts);
        fprintf(stderr, "%s: out of memory\n", prog);
        return 2;
    }
    if (g) {
        all[0] = (bc_opt){"events", 'e', BC_U64, &g->events, 1, HUGE_VAL};
        all[1] = (bc_opt){"keys", 'k', BC_U32, &g->keys, 1, UINT32_MAX};
        all[2] = (bc_opt){"skew", 's', BC_DBL, &g->skew, 0, HUGE_VAL};
    }
    if (n)
        memcpy(all + ng, opts, n * sizeof *opts);
    size_t k = 0;
    for (size_t i = 0; i < nall; i++) {
        int arg = all[i].type != BC_SET && all[i].type != BC_CLEAR;
        lo[i] =
            (struct option){all[i].name, arg ? required_argument : no_argument, NULL, 256 + (int)i};
        if (all[i].letter) {
            shorts[k++] = all[i].letter;
            if (arg)
                shorts[k++] = ':';
        }
    }
    lo[nall] = (struct option){"help", no_argument, NULL, 'h'};
    shorts[k++] = 'h';
    shorts[k] = '\0';
    int ch, rc = -1;
    optind = 1;
    while (rc < 0 && (ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        const bc_opt *o = NULL;
        for (size_t i = 0; i < nall && !o; i++)
            if (ch == 256 + (int)i || (all[i].letter && ch == all[i].letter))
                o = &all[i];
        if (ch == 'h' && !o) {
            fputs(usage, stdout);
            rc = 0;
        } else if (!o) {
            fputs(usage, stderr);
            rc = 2;
        } else if (o->type == BC_SET || o->type == BC_CLEAR) {
            *(int *)o->dst = o->type == BC_SET;
        } else if (o->type == BC_STR) {
            *(const char **)o->dst = optarg;
        } else if (store(o, optarg)) {
            fprintf(stderr, "%s: --%s: invalid value \"%s\"\n", prog, o->name, optarg);
            fputs(usage, stderr);
            rc = 2;
        }
    }
    if (rc < 0 && optind < argc) {
        fprintf(stderr, "%s: unexpected argument \"%s\"\n", prog, argv[optind]);
        fputs(usage, stderr);
        rc = 2;
    }
    free(all);
    free(lo);
    free(shorts);
    return rc;
}

double bc_proc_cpu_s(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut, stime;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime */
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stime) != 2)
        return -1;
    return (double)(ut + stime) / (double)sysconf(_SC_CLK_TCK);
}
