/* One keyed PE over several devices; see multidev.h. */
#include "multidev.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "partmap.h"
#include "watermark.h"

#define CHUNK 65536 /* records handed to a device at once */
#define QDEPTH 3    /* chunks queued per device, the one its thread works on included */

struct devq {
    sl_multi *m;
    uint32_t index;
    sl_device *dev;
    sl_engine *eng; /* owned by the thread */
    pthread_t th;
    int started;

    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* the thread waits: a chunk, finish or quit */
    pthread_cond_t cv_done; /* the caller waits: a slot came free, built, finished */
    sl_rec *slot[QDEPTH];
    uint64_t *slot_attrs[QDEPTH]; /* nattrs words per record of slot[] (NULL: no attributes) */
    size_t slot_n[QDEPTH];
    /* Read by the thread once the slot's records are pushed: the whole stream's watermark to
     * raise the engine's to (windowed PEs; slot_has_wm 0: none), and slot_flush 1 when the
     * records waited the batch wait already (the caller's timer): dispatch them at once. */
    int64_t slot_wm[QDEPTH];
    int slot_has_wm[QDEPTH], slot_flush[QDEPTH];
    unsigned head, count;
    int built, finish, finished, quit;
    int tick; /* sl_multi_tick asks for sl_engine_tick(tick_wait_ms) */
    uint32_t tick_wait_ms;
    int idle_has_wm; /* a watermark for an empty queue (every chunk before it is pushed) */
    int64_t idle_wm;
    int rc;
    sl_engine_stats stats; /* copied by the thread after each engine call */

    /* The caller's own: the chunk being filled (with its records' attribute words), when its
     * first record came, and the last watermark handed to the thread. */
    sl_rec *fill;
    uint64_t *fill_attrs;
    size_t nfill;
    double fill_at;
    int sent_has_wm;
    int64_t sent_wm;
};

struct sl_multi {
    uint32_t ndev;
    struct devq q[SL_MULTI_MAX];
    sl_engine_cfg cfg;
    sl_multi_thread_fn on_thread;
    void *thread_ud;
    sl_emit_fn on_emit;
    void *ud;
    const sl_columns *cols;
    int windowed;
    uint32_t nattrs; /* schema.attributes: words per record (cfg.pe.nattrs) */

    atomic_int failed;
    _Atomic(const volatile sig_atomic_t *) cancel; /* sl_multi_set_cancel */
    pthread_mutex_t mu; /* failure message, final rows, window emissions */
    int rc;
    char msg[2048];
    sl_row *final;
    size_t nfinal, capfinal;

    sl_watermark wm; /* the late rule of windowed PEs, on the whole stream */
    uint64_t late, bad_time, dropped_types[SL_EV_NTYPES];
    sl_late_log late_log; /* the last few of them */
    uint64_t events_in;
    double t_wait;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint32_t sl_multi_device_of(uint64_t key, uint32_t ndev)
{
    return sl_part_of(key, ndev);
}

/* Records the first failure; later ones keep the first message. */
static void fail(sl_multi *m, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(sl_multi *m, int rc, const char *fmt, ...)
{
    pthread_mutex_lock(&m->mu);
    if (!m->rc) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->msg, sizeof m->msg, fmt, ap);
        va_end(ap);
        m->rc = rc;
    }
    pthread_mutex_unlock(&m->mu);
    atomic_store(&m->failed, 1);
}

/* The engines' sl_emit_fn: final rows are gathered (one emission at the end), windows go to the
 * caller's callback one device at a time. */
static int on_engine_emit(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    struct devq *dq = ud;
    sl_multi *m = dq->m;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    if (kind == SL_EMIT_FINAL) {
        if (m->nfinal + n > m->capfinal) {
            size_t cap = m->capfinal ? m->capfinal : 4096;
            while (cap < m->nfinal + n)
                cap *= 2;
            sl_row *r = realloc(m->final, cap * sizeof *r);
            if (!r) {
                rc = SL_ENOMEM;
                goto out;
            }
            m->final = r;
            m->capfinal = cap;
        }
        if (n) /* a device may have no key: rows (and m->final) can be NULL */
            memcpy(m->final + m->nfinal, rows, n * sizeof *rows);
        m->nfinal += n;
    } else {
        rc = m->on_emit(m->ud, kind, rows, n);
    }
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* On device thread dq, after a push or finish of its engine returned rc, with dq->mu not held:
 * records a failure (the multi's first message, and dq->rc), takes dq->mu and copies the
 * engine's statistics for sl_multi_get_stats. Returns with dq->mu held. */
static void engine_called(struct devq *dq, int rc)
{
    if (rc)
        fail(dq->m, rc, "device %u: %s", dq->index, sl_engine_message(dq->eng));
    pthread_mutex_lock(&dq->mu);
    if (rc)
        dq->rc = rc;
    if (dq->eng)
        sl_engine_get_stats(dq->eng, &dq->stats);
}

/* On device thread dq, after the records of a chunk were pushed (rc: how that went): raises the
 * engine's watermark to the stream's and dispatches the staged records if the chunk asks for
 * it. Returns rc or the first error. */
static int after_chunk(struct devq *dq, int rc, int has_wm, int64_t wm, int flush)
{
    if (!rc && has_wm)
        rc = sl_engine_advance(dq->eng, wm);
    if (!rc && flush)
        rc = sl_engine_tick(dq->eng, 0);
    return rc;
}

static void *device_thread(void *arg)
{
    struct devq *dq = arg;
    sl_multi *m = dq->m;
    char msg[1536];
    int rc = 0;
    msg[0] = '\0';
    if (m->on_thread && m->on_thread(m->thread_ud, dq->index, msg, sizeof msg) != 0)
        rc = SL_EINVAL;
    if (!rc)
        rc = sl_engine_new(dq->dev, &m->cfg, on_engine_emit, dq, &dq->eng, msg, sizeof msg);
    if (rc)
        fail(m, rc, "device %u (%s): %s", dq->index, sl_device_get_info(dq->dev)->name, msg);
    pthread_mutex_lock(&dq->mu);
    dq->built = 1;
    dq->rc = rc;
    pthread_cond_broadcast(&dq->cv_done);
    for (;;) {
        while (!dq->count && !dq->quit && !dq->idle_has_wm && !dq->tick &&
               !(dq->finish && !dq->finished))
            pthread_cond_wait(&dq->cv_work, &dq->mu);
        if (dq->quit)
            break;
        if (dq->eng)
            sl_engine_set_cancel(dq->eng, atomic_load(&m->cancel));
        int skip = dq->rc != 0;
        if (dq->count) {
            unsigned h = dq->head;
            sl_rec *buf = dq->slot[h];
            const uint64_t *attrs = dq->slot_attrs[h];
            size_t n = dq->slot_n[h];
            pthread_mutex_unlock(&dq->mu);
            /* After a failure chunks are still taken (and discarded) so the caller never waits
             * on a queue nobody drains; it sees `failed` at its next push. */
            int prc = skip ? 0 : sl_engine_push_attrs(dq->eng, buf, attrs, n);
            /* The slot's watermark is read once its records are in the engine (the engine
             * copied them: the slot is free), since the caller may raise it until then. */
            pthread_mutex_lock(&dq->mu);
            int has_wm = dq->slot_has_wm[h], flush = dq->slot_flush[h];
            int64_t wm = dq->slot_wm[h];
            dq->head = (h + 1) % QDEPTH;
            dq->count--;
            pthread_cond_broadcast(&dq->cv_done);
            pthread_mutex_unlock(&dq->mu);
            engine_called(dq, skip ? 0 : after_chunk(dq, prc, has_wm, wm, flush));
            continue;
        }
        if (dq->idle_has_wm) { /* every chunk before this watermark is pushed */
            int64_t wm = dq->idle_wm;
            dq->idle_has_wm = 0;
            pthread_mutex_unlock(&dq->mu);
            engine_called(dq, skip ? 0 : sl_engine_advance(dq->eng, wm));
            continue;
        }
        if (dq->tick) {
            uint32_t wait_ms = dq->tick_wait_ms;
            dq->tick = 0;
            pthread_mutex_unlock(&dq->mu);
            engine_called(dq, skip ? 0 : sl_engine_tick(dq->eng, wait_ms));
            continue;
        }
        /* finish, with everything handed over pushed */
        pthread_mutex_unlock(&dq->mu);
        engine_called(dq, skip ? 0 : sl_engine_finish(dq->eng));
        dq->finished = 1;
        pthread_cond_broadcast(&dq->cv_done);
    }
    pthread_mutex_unlock(&dq->mu);
    sl_engine_destroy(&dq->eng);
    return NULL;
}

int sl_multi_new(sl_device *const *devs, uint32_t ndev, const sl_engine_cfg *cfg,
                 sl_multi_thread_fn on_thread, void *thread_ud, sl_emit_fn on_emit, void *ud,
                 sl_multi **out, char *msg, size_t msglen)
{
    *out = NULL;
    if (ndev == 0 || ndev > SL_MULTI_MAX) {
        snprintf(msg, msglen, "a PE runs on 1..%d devices, not %u", SL_MULTI_MAX, ndev);
        return SL_EINVAL;
    }
    if (cfg->pe.trigger.every_events || cfg->pe.trigger.every_ms) {
        snprintf(msg, msglen,
                 "snapshot triggers (trigger.every_events, trigger.every_ms) are not supported "
                 "with several devices: each device would take its snapshot at another moment");
        return SL_EUNSUPPORTED;
    }
    sl_multi *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    m->ndev = ndev;
    m->cfg = *cfg;
    m->on_thread = on_thread;
    m->thread_ud = thread_ud;
    m->on_emit = on_emit;
    m->ud = ud;
    m->nattrs = cfg->pe.nattrs;
    pthread_mutex_init(&m->mu, NULL);
    int rc = 0;
    for (uint32_t i = 0; i < ndev; i++) {
        struct devq *dq = &m->q[i];
        dq->m = m;
        dq->index = i;
        dq->dev = devs[i];
        pthread_mutex_init(&dq->mu, NULL);
        pthread_cond_init(&dq->cv_work, NULL);
        pthread_cond_init(&dq->cv_done, NULL);
        dq->fill = malloc(CHUNK * sizeof(sl_rec));
        for (int s = 0; s < QDEPTH; s++)
            dq->slot[s] = malloc(CHUNK * sizeof(sl_rec));
        int ok = dq->fill != NULL;
        for (int s = 0; s < QDEPTH; s++)
            ok = ok && dq->slot[s];
        if (m->nattrs) { /* the attribute words travel in buffers of their own beside them */
            size_t words = (size_t)CHUNK * m->nattrs * sizeof(uint64_t);
            dq->fill_attrs = malloc(words);
            ok = ok && dq->fill_attrs;
            for (int s = 0; s < QDEPTH; s++) {
                dq->slot_attrs[s] = malloc(words);
                ok = ok && dq->slot_attrs[s];
            }
        }
        if (!ok) {
            snprintf(msg, msglen, "out of memory");
            rc = SL_ENOMEM;
            break;
        }
        if (pthread_create(&dq->th, NULL, device_thread, dq) != 0) {
            snprintf(msg, msglen, "cannot start the thread of device %u", i);
            rc = SL_ENOMEM;
            break;
        }
        dq->started = 1;
    }
    for (uint32_t i = 0; i < ndev; i++) { /* every started thread reports its engine */
        struct devq *dq = &m->q[i];
        if (!dq->started)
            continue;
        pthread_mutex_lock(&dq->mu);
        while (!dq->built)
            pthread_cond_wait(&dq->cv_done, &dq->mu);
        pthread_mutex_unlock(&dq->mu);
    }
    if (!rc && atomic_load(&m->failed)) {
        rc = m->rc;
        snprintf(msg, msglen, "%s", m->msg);
    }
    if (rc) {
        sl_multi_destroy(&m);
        return rc;
    }
    m->cols = sl_engine_columns(m->q[0].eng);
    m->windowed = sl_engine_windowed(m->q[0].eng);
    *out = m;
    return 0;
}

/* Whether the stream's watermark is ahead of what device dq was handed. The caller's thread. */
static int wm_ahead(const sl_multi *m, const struct devq *dq)
{
    return m->windowed && m->wm.have_time && (!dq->sent_has_wm || m->wm.max_time > dq->sent_wm);
}

/* Hands device dq's filled chunk to its thread with the stream's watermark (every record of the
 * device that it admitted is in this chunk or an earlier one), waiting while its queue is full
 * (wait 0: leaves the chunk to the caller instead). flush: the device dispatches its staged
 * records once it has these. Returns 1 when the chunk was handed over. */
static int hand_over(sl_multi *m, struct devq *dq, int wait, int flush)
{
    if (!dq->nfill)
        return 0;
    pthread_mutex_lock(&dq->mu);
    if (dq->count == QDEPTH && !wait) {
        pthread_mutex_unlock(&dq->mu);
        return 0;
    }
    if (dq->count == QDEPTH) {
        double t0 = now_s();
        while (dq->count == QDEPTH)
            pthread_cond_wait(&dq->cv_done, &dq->mu);
        m->t_wait += now_s() - t0;
    }
    unsigned s = (dq->head + dq->count) % QDEPTH;
    sl_rec *free_buf = dq->slot[s];
    uint64_t *free_attrs = dq->slot_attrs[s];
    dq->slot[s] = dq->fill;
    dq->slot_attrs[s] = dq->fill_attrs;
    dq->slot_n[s] = dq->nfill;
    dq->slot_flush[s] = flush;
    dq->slot_has_wm[s] = wm_ahead(m, dq);
    dq->slot_wm[s] = m->wm.max_time;
    if (dq->slot_has_wm[s]) {
        dq->sent_has_wm = 1;
        dq->sent_wm = m->wm.max_time;
    }
    dq->count++;
    pthread_cond_signal(&dq->cv_work);
    pthread_mutex_unlock(&dq->mu);
    dq->fill = free_buf;
    dq->fill_attrs = free_attrs;
    dq->nfill = 0;
    return 1;
}

/* The late rule on the whole stream: 1 to keep record r, else it is counted. */
static int keep_windowed(sl_multi *m, const sl_rec *r)
{
    enum sl_admit a =
        sl_watermark_admit(&m->wm, r->time_ms, m->cfg.pe.window_ms, m->cfg.pe.lateness_ms);
    if (a == SL_ADMIT_OK)
        return 1;
    if (a == SL_ADMIT_LATE)
        m->late++;
    else
        m->bad_time++;
    sl_late_log_add(&m->late_log, &m->wm, a, r->key, r->time_ms, m->cfg.pe.window_ms,
                    m->cfg.pe.lateness_ms);
    m->dropped_types[r->type & 3]++;
    return 0;
}

int sl_multi_push(sl_multi *m, const sl_rec *recs, size_t n)
{
    return sl_multi_push_attrs(m, recs, NULL, n);
}

int sl_multi_push_attrs(sl_multi *m, const sl_rec *recs, const uint64_t *attrs, size_t n)
{
    if (atomic_load(&m->failed))
        return m->rc;
    const uint32_t ndev = m->ndev, na = m->nattrs;
    const size_t wbytes = (size_t)na * sizeof(uint64_t); /* one record's words */
    double now = -1.0; /* read once per call, when a device's chunk gets its first record */
    for (size_t i = 0; i < n; i++) {
        /* a dropped record's words are dropped with it: they are read only for kept ones */
        if (m->windowed && !keep_windowed(m, &recs[i]))
            continue;
        struct devq *dq = &m->q[sl_part_of(recs[i].key, ndev)];
        if (!dq->nfill)
            dq->fill_at = now < 0 ? (now = now_s()) : now;
        if (na) {
            uint64_t *w = dq->fill_attrs + dq->nfill * na;
            if (attrs)
                memcpy(w, attrs + i * na, wbytes);
            else
                memset(w, 0, wbytes);
        }
        dq->fill[dq->nfill++] = recs[i];
        if (dq->nfill == CHUNK) {
            hand_over(m, dq, 1, 0);
            if (atomic_load(&m->failed))
                return m->rc;
        }
    }
    m->events_in += n;
    return 0;
}

int sl_multi_tick(sl_multi *m, uint32_t max_wait_ms)
{
    if (atomic_load(&m->failed))
        return m->rc;
    double now = now_s();
    for (uint32_t i = 0; i < m->ndev; i++) {
        struct devq *dq = &m->q[i];
        /* A chunk whose first record waited the batch wait goes now, and is dispatched at once
         * (a device whose queue is full is busy: it gets the chunk at a later tick). */
        if (dq->nfill && (now - dq->fill_at) * 1000.0 >= (double)max_wait_ms)
            hand_over(m, dq, 0, 1);
        pthread_mutex_lock(&dq->mu);
        /* A device with nothing waiting here gets the stream's watermark without records, so
         * that it closes the windows other devices' records closed. With a chunk being filled
         * the watermark waits for it (records of that chunk may lie before it). */
        if (!dq->nfill && wm_ahead(m, dq)) {
            if (dq->count) { /* after the last queued chunk, which holds the device's last */
                unsigned last = (dq->head + dq->count - 1) % QDEPTH;
                dq->slot_has_wm[last] = 1;
                dq->slot_wm[last] = m->wm.max_time;
            } else {
                dq->idle_has_wm = 1;
                dq->idle_wm = m->wm.max_time;
            }
            dq->sent_has_wm = 1;
            dq->sent_wm = m->wm.max_time;
        }
        dq->tick = 1;
        dq->tick_wait_ms = max_wait_ms;
        pthread_cond_signal(&dq->cv_work);
        pthread_mutex_unlock(&dq->mu);
    }
    return 0;
}

int sl_multi_finish(sl_multi *m)
{
    if (atomic_load(&m->failed))
        return m->rc;
    for (uint32_t i = 0; i < m->ndev; i++) {
        struct devq *dq = &m->q[i];
        hand_over(m, dq, 1, 0);
        pthread_mutex_lock(&dq->mu);
        dq->finish = 1;
        pthread_cond_signal(&dq->cv_work);
        pthread_mutex_unlock(&dq->mu);
    }
    for (uint32_t i = 0; i < m->ndev; i++) {
        struct devq *dq = &m->q[i];
        pthread_mutex_lock(&dq->mu);
        while (!dq->finished)
            pthread_cond_wait(&dq->cv_done, &dq->mu);
        pthread_mutex_unlock(&dq->mu);
    }
    if (atomic_load(&m->failed))
        return m->rc;
    int rc = m->on_emit(m->ud, SL_EMIT_FINAL, m->final, m->nfinal);
    if (rc)
        fail(m, rc, "the final rows were refused (%s)", sl_strerror(rc));
    return rc;
}

void sl_multi_set_cancel(sl_multi *m, const volatile sig_atomic_t *flag)
{
    atomic_store(&m->cancel, flag);
    /* each device thread hands it to its engine before its next chunk (or its finish) */
}

const sl_columns *sl_multi_columns(const sl_multi *m)
{
    return m->cols;
}

int sl_multi_windowed(const sl_multi *m)
{
    return m->windowed;
}

uint32_t sl_multi_devices(const sl_multi *m)
{
    return m->ndev;
}

const char *sl_multi_message(const sl_multi *m)
{
    return m->msg;
}

void sl_multi_get_stats(const sl_multi *m, sl_multi_stats *st)
{
    memset(st, 0, sizeof *st);
    st->ndev = m->ndev;
    sl_engine_stats *t = &st->total;
    for (uint32_t i = 0; i < m->ndev; i++) {
        struct devq *dq = (struct devq *)&m->q[i];
        pthread_mutex_lock(&dq->mu);
        st->dev[i] = dq->stats;
        pthread_mutex_unlock(&dq->mu);
        const sl_engine_stats *d = &st->dev[i];
        t->batches += d->batches;
        for (int k = 0; k < SL_EV_NTYPES; k++)
            t->type_counts[k] += d->type_counts[k];
        t->keys += d->keys;
        t->emissions += d->emissions;
        t->rows_emitted += d->rows_emitted;
        t->t_batch += d->t_batch;
        t->t_transfer += d->t_transfer;
        t->t_kernel += d->t_kernel;
        t->t_emit += d->t_emit;
        t->table_slots += d->table_slots;
        t->table_grows += d->table_grows;
        sl_hist_merge(&t->h_batch, &d->h_batch);
        sl_hist_merge(&t->h_transfer, &d->h_transfer);
        sl_hist_merge(&t->h_kernel, &d->h_kernel);
        sl_hist_merge(&t->h_emit, &d->h_emit);
        sl_hist_merge(&t->h_wait, &d->h_wait);
        t->t_wait += d->t_wait;
    }
    for (int k = 0; k < SL_EV_NTYPES; k++)
        t->type_counts[k] += m->dropped_types[k];
    t->events_in = m->events_in;
    t->events_late = m->late;
    t->late_log = m->late_log;
    t->events_bad_time = m->bad_time;
    st->t_wait = m->t_wait;
}

void sl_multi_destroy(sl_multi **mp)
{
    if (!mp || !*mp)
        return;
    sl_multi *m = *mp;
    for (uint32_t i = 0; i < m->ndev; i++) {
        struct devq *dq = &m->q[i];
        if (dq->started) {
            pthread_mutex_lock(&dq->mu);
            dq->quit = 1;
            pthread_cond_signal(&dq->cv_work);
            pthread_mutex_unlock(&dq->mu);
            pthread_join(dq->th, NULL);
        }
        pthread_mutex_destroy(&dq->mu);
        pthread_cond_destroy(&dq->cv_work);
        pthread_cond_destroy(&dq->cv_done);
        free(dq->fill);
        free(dq->fill_attrs);
        for (int s = 0; s < QDEPTH; s++) {
            free(dq->slot[s]);
            free(dq->slot_attrs[s]);
        }
    }
    pthread_mutex_destroy(&m->mu);
    free(m->final);
    free(m);
    *mp = NULL;
}
