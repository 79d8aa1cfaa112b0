#include "harness.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "device.h"
#include "keyhash.h"
#include "reference.h"
#include "util.h"

uint64_t th_user(uint32_t u)
{
    char id[32];
    int n = snprintf(id, sizeof id, "test-user-%u", u);
    return sl_key_hash(id, (size_t)n);
}

uint64_t th_key(uint32_t r)
{
    char id[32];
    int n = snprintf(id, sizeof id, "test-ad-%u", r);
    return sl_key_hash(id, (size_t)n);
}

void th_records(uint64_t seed, sl_rec *out, size_t n, uint32_t keys, double skew, int64_t start_ms,
                int64_t jitter_ms)
{
    uint64_t s = seed * 7919 + 17;
    double *cdf = NULL;
    if (skew > 0) {
        cdf = malloc(keys * sizeof *cdf);
        cr_assert_not_null(cdf);
        double acc = 0;
        for (uint32_t r = 0; r < keys; r++)
            cdf[r] = (acc += 1.0 / pow((double)r + 1, skew));
        for (uint32_t r = 0; r < keys; r++)
            cdf[r] /= acc;
    }
    uint64_t *kt = malloc(keys * sizeof *kt);
    cr_assert_not_null(kt);
    for (uint32_t r = 0; r < keys; r++)
        kt[r] = th_key(r);
    for (size_t i = 0; i < n; i++) {
        uint32_t rank;
        if (cdf) {
            double u = tu_unit(&s);
            uint32_t lo = 0, hi = keys - 1;
            while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;
                if (cdf[mid] < u)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            rank = lo;
        } else {
            rank = (uint32_t)(splitmix64(&s) % keys);
        }
        double t = tu_unit(&s);
        uint32_t type = t < 0.70   ? SL_EV_VIEW
                        : t < 0.90 ? SL_EV_CLICK
                        : t < 0.95 ? SL_EV_PURCHASE
                                   : SL_EV_OTHER;
        int64_t jitter = jitter_ms ? (int64_t)(splitmix64(&s) % (uint64_t)(jitter_ms + 1)) : 0;
        out[i].key = kt[rank];
        out[i].user = th_user((uint32_t)(splitmix64(&s) % TH_USERS));
        out[i].type = type;
        out[i].value = (float)((double)(int64_t)(splitmix64(&s) % 200001 - 100000) / 64.0);
        out[i].time_ms = start_ms + (int64_t)i - jitter;
    }
    free(kt);
    free(cdf);
}

sl_rec *th_alloc(size_t n)
{
    sl_rec *r = malloc((n ? n : 1) * sizeof *r);
    cr_assert_not_null(r);
    return r;
}

sl_rec *th_records_new(uint64_t seed, size_t n, uint32_t keys, double skew, int64_t start_ms,
                       int64_t jitter_ms)
{
    sl_rec *r = th_alloc(n);
    th_records(seed, r, n, keys, skew, start_ms, jitter_ms);
    return r;
}

sl_engine_cfg th_cfg(enum sl_pe_kind kind, uint64_t capacity, uint32_t batch)
{
    sl_engine_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    sl_pe_defaults(&cfg.pe, kind);
    cfg.pe.capacity = capacity;
    cfg.batch_events = batch;
    return cfg;
}

sl_engine_cfg th_attr_cfg(const char *source, const char *const *names, uint32_t n,
                          uint32_t doubles, uint32_t batch)
{
    sl_engine_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    sl_pe_defaults(&cfg.pe, SL_PE_USER);
    snprintf(cfg.pe.source, sizeof cfg.pe.source, "%s", source);
    cr_assert(n <= SL_SCHEMA_ATTRS);
    for (uint32_t k = 0; k < n; k++) {
        snprintf(cfg.pe.attr[k].name, sizeof cfg.pe.attr[k].name, "%s", names[k]);
        cfg.pe.attr[k].is_double = (doubles >> k) & 1;
    }
    cfg.pe.nattrs = n;
    cfg.batch_events = batch;
    return cfg;
}

struct ev {
    uint64_t key;
    size_t i; /* arrival index */
};

static int ev_cmp(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

size_t *th_by_key(const sl_rec *recs, size_t n)
{
    struct ev *evs = malloc((n ? n : 1) * sizeof *evs);
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    cr_assert(evs && idx);
    for (size_t i = 0; i < n; i++)
        evs[i] = (struct ev){recs[i].key, i};
    qsort(evs, n, sizeof *evs, ev_cmp);
    for (size_t i = 0; i < n; i++)
        idx[i] = evs[i].i;
    free(evs);
    return idx;
}

struct collect {
    th_result *res;
    bc_rows fin; /* final_rows as they come */
};

static int on_emit(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    struct collect *c = ud;
    th_result *r = c->res;
    if (kind == SL_EMIT_SNAPSHOT) {
        free(r->snap_rows);
        r->snap_rows = malloc((n ? n : 1) * sizeof *rows);
        cr_assert_not_null(r->snap_rows);
        memcpy(r->snap_rows, rows, n * sizeof *rows);
        r->nsnap = n;
        r->nsnapshots++;
        qsort(r->snap_rows, n, sizeof *rows, sl_row_cmp_key);
        return 0;
    }
    cr_assert_eq(bc_rows_append(&c->fin, rows, n), 0, "out of memory");
    return 0;
}

int th_run(const sl_engine_cfg *cfg, const sl_rec *recs, size_t n, size_t chunk, th_result *res)
{
    return th_run_attrs(cfg, recs, NULL, n, chunk, res);
}

/* Pushes recs in pieces of chunk records, each written into the engine's staging area when it
 * offers one (as much of the piece as its room takes) and pushed from there, else pushed from
 * recs. Counts the records written in place into res->in_place. */
static int feed_in_place(sl_engine *e, const sl_rec *recs, size_t n, size_t chunk, th_result *res)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        size_t k = n - i < chunk ? n - i : chunk, room = 0;
        sl_rec *area = sl_engine_stage_area(e, &room);
        if (area) {
            cr_assert(room > 0, "an area comes with room");
            k = k < room ? k : room;
            memcpy(area, recs + i, k * sizeof *recs);
            rc = sl_engine_push(e, area, k);
            res->in_place += k;
        } else {
            rc = sl_engine_push(e, recs + i, k);
        }
        i += k;
    }
    return rc ? rc : sl_engine_finish(e);
}

/* Pushes recs in pieces of chunk records, every third piece with sl_engine_push (so that lent
 * batches follow staged records and the other way round) and the others lent
 * (sl_engine_push_lent), whose records res->lent counts. */
static int feed_lent(sl_engine *e, const sl_rec *recs, size_t n, size_t chunk, th_result *res)
{
    int rc = 0;
    for (size_t i = 0, piece = 0; i < n && rc == 0; i += chunk, piece++) {
        size_t k = n - i < chunk ? n - i : chunk;
        if (piece % 3 == 2) {
            rc = sl_engine_push(e, recs + i, k);
        } else {
            rc = sl_engine_push_lent(e, recs + i, k);
            res->lent += k;
        }
    }
    return rc ? rc : sl_engine_finish(e);
}

enum feed { FEED_PUSH, FEED_IN_PLACE, FEED_LENT };

static int run(const sl_engine_cfg *cfg, const sl_rec *recs, const uint64_t *attrs, size_t n,
               size_t chunk, enum feed how, th_result *res)
{
    memset(res, 0, sizeof *res);
    sl_device *dev = NULL;
    char msg[4096];
    int rc = sl_device_open(NULL, &dev, msg, sizeof msg);
    cr_assert_eq(rc, 0, "device: %s", msg);
    struct collect c = {res, {0}};
    sl_engine *e = NULL;
    rc = sl_engine_new(dev, cfg, on_emit, &c, &e, msg, sizeof msg);
    if (rc) {
        snprintf(res->msg, sizeof res->msg, "%.1000s", msg);
        sl_device_close(&dev);
        return rc;
    }
    if (attrs) {
        for (size_t i = 0; i < n && rc == 0; i += chunk) {
            size_t k = n - i < chunk ? n - i : chunk;
            rc = sl_engine_push_attrs(e, recs + i, attrs + i * cfg->pe.nattrs, k);
        }
        if (rc == 0)
            rc = sl_engine_finish(e);
    } else if (how == FEED_IN_PLACE) {
        rc = feed_in_place(e, recs, n, chunk, res);
    } else if (how == FEED_LENT) {
        rc = feed_lent(e, recs, n, chunk, res);
    } else {
        rc = bc_feed(BC_ENGINE, e, recs, n, chunk);
    }
    snprintf(res->msg, sizeof res->msg, "%s", sl_engine_message(e));
    sl_engine_get_stats(e, &res->stats);
    sl_engine_destroy(&e);
    cr_assert_null(e);
    res->final_rows = c.fin.rows;
    res->nfinal = c.fin.n;
    sl_device_close(&dev);
    if (res->final_rows)
        qsort(res->final_rows, res->nfinal, sizeof *res->final_rows, sl_row_cmp_key);
    return rc;
}

int th_run_attrs(const sl_engine_cfg *cfg, const sl_rec *recs, const uint64_t *attrs, size_t n,
                 size_t chunk, th_result *res)
{
    return run(cfg, recs, attrs, n, chunk, FEED_PUSH, res);
}

int th_run_in_place(const sl_engine_cfg *cfg, const sl_rec *recs, size_t n, size_t chunk,
                    th_result *res)
{
    return run(cfg, recs, NULL, n, chunk, FEED_IN_PLACE, res);
}

int th_run_lent(const sl_engine_cfg *cfg, const sl_rec *recs, size_t n, size_t chunk,
                th_result *res)
{
    return run(cfg, recs, NULL, n, chunk, FEED_LENT, res);
}

void th_result_free(th_result *res)
{
    free(res->final_rows);
    free(res->snap_rows);
    memset(res, 0, sizeof *res);
}

void th_reference(const sl_pe_cfg *pe, const sl_rec *recs, size_t n, sl_row **rows, size_t *nrows,
                  uint64_t *late)
{
    sl_ref *r = sl_ref_new(pe);
    cr_assert_not_null(r);
    cr_assert_eq(sl_ref_push(r, recs, n), 0);
    cr_assert_eq(sl_ref_rows(r, rows, nrows), 0);
    if (late)
        *late = sl_ref_late(r);
    sl_ref_destroy(&r);
}

uint64_t th_assert_reference(const sl_pe_cfg *pe, const sl_rec *recs, size_t n, const sl_row *rows,
                             size_t nrows)
{
    sl_row *ref;
    size_t nref;
    uint64_t late;
    th_reference(pe, recs, n, &ref, &nref, &late);
    th_assert_rows(rows, nrows, ref, nref, 0.0);
    free(ref);
    return late;
}

void th_assert_rows(const sl_row *a, size_t na, const sl_row *b, size_t nb, double tol)
{
    cr_assert_eq(na, nb, "row count: engine %zu, reference %zu", na, nb);
    for (size_t i = 0; i < na; i++) {
        cr_assert_eq(a[i].key, b[i].key, "row %zu key %016llx vs %016llx", i,
                     (unsigned long long)a[i].key, (unsigned long long)b[i].key);
        cr_assert_eq(a[i].window_start, b[i].window_start, "row %zu window %lld vs %lld", i,
                     (long long)a[i].window_start, (long long)b[i].window_start);
        for (int c = 0; c < SL_COLUMNS_MAX; c++) {
            if (tol > 0)
                cr_assert_leq(fabs(a[i].v[c] - b[i].v[c]), tol * fmax(1.0, fabs(b[i].v[c])),
                              "row %zu (key %016llx) column %d: %.17g vs %.17g", i,
                              (unsigned long long)a[i].key, c, a[i].v[c], b[i].v[c]);
            else
                cr_assert_eq(a[i].v[c], b[i].v[c],
                             "row %zu (key %016llx) column %d: %.17g vs %.17g", i,
                             (unsigned long long)a[i].key, c, a[i].v[c], b[i].v[c]);
        }
    }
}
