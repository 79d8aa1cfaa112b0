/* The sluice side of the suite; see sluicerun.h. */
#include "sluicerun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addict.h"
#include "common.h"
#include "config.h"
#include "err.h"
#include "reference.h"
#include "source.h"

#define CHUNK 65536

static int64_t wstart(int64_t t, int64_t w)
{
    int64_t q = t / w;
    if (t % w < 0)
        q -= 1;
    return q * w;
}

/* ---- window latency ---- */

struct lat {
    int64_t w, base;
    int have_base, oom;
    size_t cap, next_close;
    struct lat_win {
        double t_close, t_first; /* wall seconds; 0 = not yet */
    } * win;
};

static int lat_reserve(struct lat *l, size_t idx)
{
    if (idx < l->cap)
        return 0;
    size_t cap = (idx + 1) * 2 + 64;
    struct lat_win *w = realloc(l->win, cap * sizeof *w);
    if (!w) {
        l->oom = 1;
        return SL_ENOMEM;
    }
    memset(w + l->cap, 0, (cap - l->cap) * sizeof *w);
    l->win = w;
    l->cap = cap;
    return 0;
}

/* Records handed over at `now`: every window whose end they reach may close from now on. */
static void lat_ingest(struct lat *l, const sl_rec *recs, size_t n, double now)
{
    if (n == 0)
        return;
    int64_t mx = recs[0].time_ms, mn = recs[0].time_ms;
    for (size_t i = 1; i < n; i++) {
        if (recs[i].time_ms > mx)
            mx = recs[i].time_ms;
        if (recs[i].time_ms < mn)
            mn = recs[i].time_ms;
    }
    if (!l->have_base) {
        l->base = wstart(mn, l->w);
        l->have_base = 1;
    }
    while (l->base + (int64_t)(l->next_close + 1) * l->w <= mx) {
        if (lat_reserve(l, l->next_close))
            return;
        l->win[l->next_close++].t_close = now;
    }
}

static void lat_rows(struct lat *l, const sl_row *rows, size_t n, double now)
{
    for (size_t i = 0; i < n && l->have_base; i++) {
        int64_t off = rows[i].window_start - l->base;
        if (off < 0 || off % l->w)
            continue;
        size_t k = (size_t)(off / l->w);
        if (lat_reserve(l, k))
            return;
        if (l->win[k].t_first == 0)
            l->win[k].t_first = now;
    }
}

static int lat_figures(const struct lat *l, sr_stats *st)
{
    double *v = malloc((l->next_close + 1) * sizeof *v);
    size_t n = 0;
    if (!v)
        return SL_ENOMEM;
    for (size_t i = 0; i < l->next_close && i < l->cap; i++)
        if (l->win[i].t_close > 0 && l->win[i].t_first > 0)
            v[n++] = (l->win[i].t_first - l->win[i].t_close) * 1e3;
    st->windows = n;
    if (n) {
        qsort(v, n, sizeof *v, bc_cmp_double);
        st->p50 = bc_pct(v, n, 0.50);
        st->p99 = bc_pct(v, n, 0.99);
        st->p999 = bc_pct(v, n, 0.999);
        st->max = v[n - 1];
    }
    free(v);
    return 0;
}

/* ---- the engine and its collector ---- */

struct sr_engine {
    sl_engine *e;
    bc_rows *rows;   /* where window and final rows go during a run */
    struct lat *lat; /* latency stamps during a run, or NULL */
    int oom;
};

static int on_emit(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    sr_engine *x = ud;
    if (kind == SL_EMIT_SNAPSHOT)
        return 0;
    if (x->lat && kind == SL_EMIT_WINDOWS)
        lat_rows(x->lat, rows, n, bc_now_s());
    if (x->rows && bc_rows_append(x->rows, rows, n))
        return SL_ENOMEM;
    return 0;
}

int sr_engine_new(sl_device *dev, const sl_engine_cfg *cfg, sr_engine **out, char *msg,
                  size_t msglen)
{
    sr_engine *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    int rc = sl_engine_new(dev, cfg, on_emit, x, &x->e, msg, msglen);
    if (rc) {
        free(x);
        return rc;
    }
    *out = x;
    return 0;
}

void sr_engine_destroy(sr_engine **ep)
{
    if (!ep || !*ep)
        return;
    sl_engine_destroy(&(*ep)->e);
    free(*ep);
    *ep = NULL;
}

static int engine_fail(sr_engine *x, int rc, char *msg, size_t msglen)
{
    snprintf(msg, msglen, "engine: %s",
             sl_engine_message(x->e)[0] ? sl_engine_message(x->e) : sl_strerror(rc));
    x->rows = NULL;
    x->lat = NULL;
    return rc;
}

int sr_ctr_engine(sr_engine *x, const sl_rec *recs, size_t n, bc_rows *out, sr_stats *st, char *msg,
                  size_t msglen)
{
    memset(st, 0, sizeof *st);
    out->n = 0;
    x->rows = out;
    x->lat = NULL;
    double t0 = bc_now_s();
    int rc = sl_engine_reset(x->e);
    if (rc == 0)
        /* the records stay in memory: all of them lent at once, cut into full batches */
        rc = bc_feed(BC_LENT, x->e, recs, n, n ? n : 1);
    st->wall_s = st->push_s = bc_now_s() - t0;
    if (rc)
        return engine_fail(x, rc, msg, msglen);
    sl_engine_get_stats(x->e, &st->eng);
    st->input_events = n;
    x->rows = NULL;
    qsort(out->rows, out->n, sizeof *out->rows, sl_row_cmp_key);
    return 0;
}

int sr_ctr_ref(const sl_pe_cfg *pe, const sl_rec *recs, size_t n, bc_rows *out, sr_stats *st,
               char *msg, size_t msglen)
{
    memset(st, 0, sizeof *st);
    bc_rows_free(out);
    double t0 = bc_now_s();
    sl_ref *r = sl_ref_new(pe);
    int rc = r ? bc_feed(BC_REF, r, recs, n, CHUNK) : SL_ENOMEM;
    if (rc == 0)
        rc = sl_ref_rows(r, &out->rows, &out->n);
    out->cap = out->n;
    st->wall_s = st->push_s = bc_now_s() - t0;
    st->input_events = n;
    sl_ref_destroy(&r);
    if (rc)
        snprintf(msg, msglen, "reference: %s", sl_strerror(rc));
    return rc;
}

/* ---- ysb ---- */

struct ysb_run {
    sr_engine *x; /* engine, or NULL for the reference */
    sl_ref *ref;
};

static void sleep_until(double t)
{
    double d = t - bc_now_s();
    if (d <= 0)
        return;
    struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
    nanosleep(&ts, NULL);
}

static int ysb_run(struct ysb_run *y, const sr_ysb_opts *o, struct lat *lat, sr_stats *st,
                   char *msg, size_t msglen)
{
    sl_topology t;
    sl_topology_defaults(&t);
    t.source.kind = SL_SRC_FILE;
    t.source.format = SL_FMT_NDJSON;
    t.filter_types = 1u << SL_EV_VIEW;
    size_t chunk = o->chunk ? o->chunk : 4096;
    FILE *in = fmemopen((void *)o->text, o->len, "r");
    sl_addict *dict = sl_addict_new();
    sl_source *src = NULL;
    sl_rec *buf = malloc(chunk * sizeof *buf);
    int rc = 0;
    if (!in || !dict || !buf) {
        snprintf(msg, msglen, "out of memory");
        rc = SL_ENOMEM;
        goto out;
    }
    if ((rc = sl_source_new(&t, in, dict, NULL, NULL, &src, msg, msglen)))
        goto out;
    double t0 = bc_now_s();
    while (!sl_source_done(src)) {
        if (o->rate > 0) {
            sl_source_stats ss;
            sl_source_get_stats(src, &ss);
            sleep_until(t0 + (double)ss.input.lines / o->rate);
        }
        double a = bc_now_s();
        long n = sl_source_read(src, buf, chunk);
        double b = bc_now_s();
        st->parse_s += b - a;
        if (n < 0) {
            rc = (int)n;
            snprintf(msg, msglen, "source: %s", sl_strerror(rc));
            goto out;
        }
        size_t k = 0;
        for (long i = 0; i < n; i++) {
            uint64_t camp;
            if (sl_jointab_get(o->join, buf[i].key, &camp)) {
                buf[k] = buf[i];
                buf[k++].key = camp;
            }
        }
        st->unjoined += (uint64_t)n - k;
        double c = bc_now_s();
        st->join_s += c - b;
        if (k == 0)
            continue;
        if (lat)
            lat_ingest(lat, buf, k, c);
        rc = y->x ? sl_engine_push(y->x->e, buf, k) : sl_ref_push(y->ref, buf, k);
        st->push_s += bc_now_s() - c;
        if (rc) {
            if (y->x)
                engine_fail(y->x, rc, msg, msglen);
            else
                snprintf(msg, msglen, "reference: %s", sl_strerror(rc));
            goto out;
        }
    }
    double c = bc_now_s();
    if (y->x && (rc = sl_engine_finish(y->x->e))) {
        engine_fail(y->x, rc, msg, msglen);
        goto out;
    }
    st->push_s += bc_now_s() - c;
    st->wall_s = bc_now_s() - t0;
    sl_source_stats ss;
    sl_source_get_stats(src, &ss);
    st->input_events = ss.input.lines;
    if (ss.input.bad) {
        snprintf(msg, msglen, "the input has %llu malformed lines",
                 (unsigned long long)ss.input.bad);
        rc = SL_EPARSE;
    }
out:
    sl_source_destroy(&src);
    sl_addict_destroy(&dict);
    free(buf);
    if (in)
        fclose(in);
    return rc;
}

int sr_ysb_engine(sr_engine *x, const sr_ysb_opts *o, bc_rows *out, sr_stats *st, char *msg,
                  size_t msglen)
{
    memset(st, 0, sizeof *st);
    struct lat lat = {.w = o->window_ms};
    out->n = 0;
    if (o->window_ms <= 0 || !sl_engine_windowed(x->e)) {
        snprintf(msg, msglen, "ysb needs a windowed PE and window_ms > 0");
        return SL_EINVAL;
    }
    int rc = sl_engine_reset(x->e);
    if (rc)
        return engine_fail(x, rc, msg, msglen);
    x->rows = out;
    x->lat = &lat;
    struct ysb_run y = {.x = x};
    rc = ysb_run(&y, o, &lat, st, msg, msglen);
    x->rows = NULL;
    x->lat = NULL;
    if (rc == 0) {
        sl_engine_get_stats(x->e, &st->eng);
        if (lat.oom || lat_figures(&lat, st)) {
            snprintf(msg, msglen, "out of memory");
            rc = SL_ENOMEM;
        }
        qsort(out->rows, out->n, sizeof *out->rows, sl_row_cmp_key);
    }
    free(lat.win);
    return rc;
}

int sr_ysb_ref(const sl_pe_cfg *pe, const sr_ysb_opts *o, bc_rows *out, sr_stats *st, char *msg,
               size_t msglen)
{
    memset(st, 0, sizeof *st);
    bc_rows_free(out);
    struct ysb_run y = {.ref = sl_ref_new(pe)};
    if (!y.ref) {
        snprintf(msg, msglen, "reference: out of memory");
        return SL_ENOMEM;
    }
    int rc = ysb_run(&y, o, NULL, st, msg, msglen);
    if (rc == 0 && (rc = sl_ref_rows(y.ref, &out->rows, &out->n)))
        snprintf(msg, msglen, "reference: %s", sl_strerror(rc));
    out->cap = out->n;
    sl_ref_destroy(&y.ref);
    return rc;
}
