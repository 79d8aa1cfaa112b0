/* Plain C baselines; see baselines.h. */
#include "baselines.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "keyhash.h"
#include "ndjson.h"
#include "reader.h"
#include "reference.h"

#define MAX_THREADS 64

int64_t bl_window_start(int64_t t, int64_t w)
{
    int64_t q = t / w;
    if (t % w < 0)
        q -= 1;
    return q * w;
}

/* A buffer kept across runs in a workspace: allocated (and first touched) once, reused. */
struct buf {
    void *p;
    size_t bytes;
};

struct bl_ws {
    struct buf tab[MAX_THREADS], local[MAX_THREADS], scratch[MAX_THREADS], items, lean;
};

bl_ws *bl_ws_new(void)
{
    return calloc(1, sizeof(bl_ws));
}

void bl_ws_destroy(bl_ws **wp)
{
    if (!wp || !*wp)
        return;
    for (int i = 0; i < MAX_THREADS; i++) {
        free((*wp)->tab[i].p);
        free((*wp)->local[i].p);
        free((*wp)->scratch[i].p);
    }
    free((*wp)->items.p);
    free((*wp)->lean.p);
    free(*wp);
    *wp = NULL;
}

/* At least `bytes` bytes of b (contents undefined), or NULL. */
static void *buf_get(struct buf *b, size_t bytes)
{
    if (b->bytes < bytes) {
        free(b->p);
        b->p = malloc(bytes);
        b->bytes = b->p ? bytes : 0;
    }
    return b->p;
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 1024;
    while (c < n)
        c <<= 1;
    return c;
}

/* ---- an open-addressing table, linear probing, at most half full (it doubles past that): the
 * CTR table and the window table below. Its slots (struct cslot, struct yslot) start with a
 * uint64_t key, 0 for an empty slot. ---- */

struct tab {
    void *s; /* the slots */
    size_t mask, fill;
    struct buf *b; /* where the slots live, kept for the next run */
};

/* A cleared table of at least 2 * hint slots of `size` bytes in b (as large as b already is: a
 * table that grew in an earlier run starts at that size, as a program that kept its table
 * would). */
static int tab_init(struct tab *t, size_t hint, size_t size, struct buf *b)
{
    size_t cap = pow2_at_least(hint * 2);
    while (cap * 2 * size <= b->bytes)
        cap *= 2;
    t->s = buf_get(b, cap * size);
    if (!t->s)
        return SL_ENOMEM;
    memset(t->s, 0, cap * size);
    t->mask = cap - 1;
    t->fill = 0;
    t->b = b;
    return 0;
}

static uint64_t slot_key(const unsigned char *slot)
{
    uint64_t k;
    memcpy(&k, slot, sizeof k);
    return k;
}

/* Moves the slots into an array twice the size, placed by hash(slot). */
static int tab_grow(struct tab *t, size_t size, size_t (*hash)(const void *slot))
{
    size_t cap = (t->mask + 1) * 2;
    unsigned char *n = calloc(cap, size), *old = t->s;
    if (!n)
        return SL_ENOMEM;
    for (size_t i = 0; i <= t->mask; i++) {
        const unsigned char *o = old + i * size;
        if (!slot_key(o))
            continue;
        size_t h = hash(o) & (cap - 1);
        while (slot_key(n + h * size))
            h = (h + 1) & (cap - 1);
        memcpy(n + h * size, o, size);
    }
    free(old);
    t->s = n;
    t->b->p = n;
    t->b->bytes = cap * size;
    t->mask = cap - 1;
    return 0;
}

/* The rows of the threads' tables tabs[0..threads) (rows_of writes a table's fill rows), all
 * together and sorted by key (malloc'd). */
static int gather_rows(const struct tab *tabs, unsigned threads,
                       void (*rows_of)(const struct tab *t, sl_row *out), sl_row **rows,
                       size_t *nrows)
{
    size_t total = 0, at = 0;
    for (unsigned t = 0; t < threads; t++)
        total += tabs[t].fill;
    if (!(*rows = malloc((total + 1) * sizeof **rows)))
        return SL_ENOMEM;
    for (unsigned t = 0; t < threads; t++) {
        rows_of(&tabs[t], *rows + at);
        at += tabs[t].fill;
    }
    *nrows = total;
    qsort(*rows, total, sizeof **rows, sl_row_cmp_key);
    return 0;
}

/* ---- the CTR table: key -> impressions, clicks ---- */

struct cslot {
    uint64_t key, views, clicks;
};

static size_t chash(const void *slot)
{
    const uint64_t k = ((const struct cslot *)slot)->key;
    return (size_t)(k ^ (k >> 32));
}

/* The slot of key k (never 0), inserted when new; NULL when out of memory. */
static inline struct cslot *ctab_get(struct tab *t, uint64_t k)
{
    size_t h = (size_t)(k ^ (k >> 32)) & t->mask;
    for (;;) {
        struct cslot *s = (struct cslot *)t->s + h;
        if (s->key == k)
            return s;
        if (s->key == 0) {
            if ((t->fill + 1) * 2 > t->mask + 1)
                return tab_grow(t, sizeof *s, chash) ? NULL : ctab_get(t, k);
            s->key = k;
            t->fill++;
            return s;
        }
        h = (h + 1) & t->mask;
    }
}

static void ctab_rows(const struct tab *t, sl_row *out)
{
    size_t m = 0;
    for (size_t h = 0; h <= t->mask; h++) {
        const struct cslot *s = (const struct cslot *)t->s + h;
        if (!s->key)
            continue;
        sl_row r = {.key = s->key, .v = {(double)s->views, (double)s->clicks}};
        r.v[2] = s->views ? (double)s->clicks / (double)s->views : 0.0;
        out[m++] = r;
    }
}

int bl_ctr_single(bl_ws *ws, const sl_rec *recs, size_t n, size_t keys_hint, sl_row **rows,
                  size_t *nrows)
{
    struct tab t;
    if (tab_init(&t, keys_hint, sizeof(struct cslot), &ws->tab[0]))
        return SL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct cslot *s = ctab_get(&t, recs[i].key);
        if (!s)
            return SL_ENOMEM;
        s->views += recs[i].type == SL_EV_VIEW;
        s->clicks += recs[i].type == SL_EV_CLICK;
    }
    *rows = malloc((t.fill + 1) * sizeof **rows);
    if (!*rows)
        return SL_ENOMEM;
    ctab_rows(&t, *rows);
    *nrows = t.fill;
    qsort(*rows, *nrows, sizeof **rows, sl_row_cmp_key);
    return 0;
}

/* ---- the lean CTR counter: 16-byte records, 16-byte slots ---- */

struct lslot {
    uint64_t key;
    uint32_t views, clicks;
};

static size_t lhash(const void *slot)
{
    const uint64_t k = ((const struct lslot *)slot)->key;
    return (size_t)(k ^ (k >> 32));
}

bl_rec16 *bl_rec16_from(const sl_rec *recs, size_t n)
{
    bl_rec16 *r = malloc((n + 1) * sizeof *r);
    for (size_t i = 0; r && i < n; i++)
        r[i] = (bl_rec16){.key = recs[i].key, .type = recs[i].type};
    return r;
}

int bl_ctr_lean(bl_ws *ws, const bl_rec16 *recs, size_t n, size_t keys_hint, sl_row **rows,
                size_t *nrows)
{
    if (n > UINT32_MAX)
        return SL_EINVAL;
    struct tab t;
    if (tab_init(&t, keys_hint, sizeof(struct lslot), &ws->lean))
        return SL_ENOMEM;
    struct lslot *s = t.s;
    size_t mask = t.mask;
    for (size_t i = 0; i < n; i++) {
        const uint64_t k = recs[i].key;
        size_t h = (size_t)(k ^ (k >> 32)) & mask;
        while (s[h].key != k) {
            if (s[h].key == 0) {
                if ((t.fill + 1) * 2 > mask + 1) {
                    if (tab_grow(&t, sizeof *s, lhash))
                        return SL_ENOMEM;
                    s = t.s;
                    mask = t.mask;
                    h = (size_t)(k ^ (k >> 32)) & mask;
                    continue;
                }
                s[h].key = k;
                t.fill++;
                break;
            }
            h = (h + 1) & mask;
        }
        s[h].views += recs[i].type == SL_EV_VIEW;
        s[h].clicks += recs[i].type == SL_EV_CLICK;
    }
    if (!(*rows = malloc((t.fill + 1) * sizeof **rows)))
        return SL_ENOMEM;
    size_t m = 0;
    for (size_t h = 0; h <= mask; h++) {
        if (!s[h].key)
            continue;
        sl_row r = {.key = s[h].key, .v = {(double)s[h].views, (double)s[h].clicks}};
        r.v[2] = s[h].views ? (double)s[h].clicks / (double)s[h].views : 0.0;
        (*rows)[m++] = r;
    }
    *nrows = m;
    qsort(*rows, m, sizeof **rows, sl_row_cmp_key);
    return 0;
}

/* Owner thread of a key among T: the key's high half, range-reduced (the tables index by the
 * low bits, so owner and slot stay independent). */
static inline unsigned owner_of(uint64_t k, unsigned T)
{
    return (unsigned)(((k >> 32) * T) >> 32);
}

/* ---- partitioned (multi-threaded) aggregation, shared by ctr and ysb ---- */

struct item {
    uint64_t key;
    int64_t x; /* ctr: event type; ysb: window start */
};

struct mt {
    bl_ws *ws;
    unsigned T;
    pthread_barrier_t bar;
    size_t counts[MAX_THREADS][MAX_THREADS]; /* [producer][owner] */
    size_t offs[MAX_THREADS][MAX_THREADS];   /* where producer p's items for owner o start */
    size_t own_lo[MAX_THREADS], own_n[MAX_THREADS];
    struct item *all;
    int err[MAX_THREADS];
    /* ctr */
    const sl_rec *recs;
    size_t n, hint;
    struct tab ctabs[MAX_THREADS];
    /* ysb */
    const char *text;
    size_t len;
    const bl_join *join;
    int64_t w;
    struct item *local[MAX_THREADS]; /* each range's kept events: campaign, time -> window */
    size_t nlocal[MAX_THREADS];
    int64_t maxt[MAX_THREADS];
    int hast[MAX_THREADS];
    bl_ysb_stats yst[MAX_THREADS];
    struct tab *ytabs;
};

/* After every producer filled counts[p][*]: owner-major offsets, so that each owner's items
 * are contiguous. Called by thread 0 between barriers. */
static void mt_offsets(struct mt *m)
{
    size_t pos = 0;
    for (unsigned o = 0; o < m->T; o++) {
        m->own_lo[o] = pos;
        for (unsigned p = 0; p < m->T; p++) {
            m->offs[p][o] = pos;
            pos += m->counts[p][o];
        }
        m->own_n[o] = pos - m->own_lo[o];
    }
}

struct mt_arg {
    struct mt *m;
    unsigned t;
};

static void *ctr_worker(void *argp)
{
    struct mt_arg *a = argp;
    struct mt *m = a->m;
    const unsigned t = a->t, T = m->T;
    const size_t lo = m->n * t / T, hi = m->n * (t + 1) / T;
    for (size_t i = lo; i < hi; i++)
        m->counts[t][owner_of(m->recs[i].key, T)]++;
    pthread_barrier_wait(&m->bar);
    if (t == 0)
        mt_offsets(m);
    pthread_barrier_wait(&m->bar);
    size_t pos[MAX_THREADS];
    memcpy(pos, m->offs[t], T * sizeof *pos);
    for (size_t i = lo; i < hi; i++) {
        const sl_rec *r = &m->recs[i];
        m->all[pos[owner_of(r->key, T)]++] = (struct item){r->key, r->type};
    }
    pthread_barrier_wait(&m->bar);
    struct tab *tab = &m->ctabs[t];
    if (tab_init(tab, m->hint / T + 1, sizeof(struct cslot), &m->ws->tab[t])) {
        m->err[t] = SL_ENOMEM;
        return NULL;
    }
    const struct item *it = m->all + m->own_lo[t];
    for (size_t i = 0, n = m->own_n[t]; i < n; i++) {
        struct cslot *s = ctab_get(tab, it[i].key);
        if (!s) {
            m->err[t] = SL_ENOMEM;
            return NULL;
        }
        s->views += it[i].x == SL_EV_VIEW;
        s->clicks += it[i].x == SL_EV_CLICK;
    }
    return NULL;
}

/* Starts T workers on m and joins them. Returns 0 or the first worker's error. */
static int mt_run(struct mt *m, void *(*fn)(void *))
{
    pthread_t th[MAX_THREADS];
    struct mt_arg args[MAX_THREADS];
    unsigned started = 0;
    int rc = 0;
    if (pthread_barrier_init(&m->bar, NULL, m->T))
        return SL_ENOMEM;
    for (unsigned t = 1; t < m->T; t++) {
        args[t] = (struct mt_arg){m, t};
        if (pthread_create(&th[t], NULL, fn, &args[t])) {
            /* Without every thread the barriers would never open: give up before any wait. */
            fprintf(stderr, "sluice-bench: cannot start a baseline thread\n");
            abort();
        }
        started++;
    }
    args[0] = (struct mt_arg){m, 0};
    fn(&args[0]);
    for (unsigned t = 1; t <= started; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&m->bar);
    for (unsigned t = 0; t < m->T && !rc; t++)
        rc = m->err[t];
    return rc;
}

int bl_ctr_multi(bl_ws *ws, const sl_rec *recs, size_t n, size_t keys_hint, unsigned threads,
                 sl_row **rows, size_t *nrows)
{
    if (threads == 0 || threads > MAX_THREADS)
        return SL_EINVAL;
    struct mt *m = calloc(1, sizeof *m);
    if (!m)
        return SL_ENOMEM;
    m->ws = ws;
    m->T = threads;
    m->recs = recs;
    m->n = n;
    m->hint = keys_hint;
    m->all = buf_get(&ws->items, (n + 1) * sizeof *m->all);
    int rc = m->all ? mt_run(m, ctr_worker) : SL_ENOMEM;
    if (rc == 0)
        rc = gather_rows(m->ctabs, threads, ctab_rows, rows, nrows);
    free(m);
    return rc;
}

/* ---- the join: ad key -> campaign key ---- */

struct bl_join {
    uint64_t *ad, *camp;
    size_t mask;
};

bl_join *bl_join_new(const uint64_t *ads, const uint64_t *campaigns, size_t n)
{
    bl_join *j = calloc(1, sizeof *j);
    size_t cap = pow2_at_least(n * 2);
    if (!j)
        return NULL;
    j->ad = calloc(cap, sizeof *j->ad);
    j->camp = calloc(cap, sizeof *j->camp);
    j->mask = cap - 1;
    if (!j->ad || !j->camp) {
        bl_join_destroy(&j);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        size_t h = (size_t)(ads[i] ^ (ads[i] >> 32)) & j->mask;
        while (j->ad[h] && j->ad[h] != ads[i])
            h = (h + 1) & j->mask;
        j->ad[h] = ads[i];
        j->camp[h] = campaigns[i];
    }
    return j;
}

void bl_join_destroy(bl_join **jp)
{
    if (!jp || !*jp)
        return;
    free((*jp)->ad);
    free((*jp)->camp);
    free(*jp);
    *jp = NULL;
}

static inline int join_get(const bl_join *j, uint64_t ad, uint64_t *camp)
{
    size_t h = (size_t)(ad ^ (ad >> 32)) & j->mask;
    while (j->ad[h]) {
        if (j->ad[h] == ad) {
            *camp = j->camp[h];
            return 1;
        }
        h = (h + 1) & j->mask;
    }
    return 0;
}

/* ---- the window table: (campaign, window start) -> count ---- */

struct yslot {
    uint64_t key;
    int64_t win;
    uint64_t count;
};

static inline size_t yhash(uint64_t k, int64_t w)
{
    uint64_t h = k ^ ((uint64_t)w * UINT64_C(0x9e3779b97f4a7c15));
    return (size_t)(h ^ (h >> 29));
}

static size_t yhash_slot(const void *slot)
{
    const struct yslot *y = slot;
    return yhash(y->key, y->win);
}

static int ytab_add(struct tab *t, uint64_t k, int64_t w)
{
    size_t h = yhash(k, w) & t->mask;
    for (;;) {
        struct yslot *s = (struct yslot *)t->s + h;
        if (s->key == k && s->win == w) {
            s->count++;
            return 0;
        }
        if (s->key == 0) {
            if ((t->fill + 1) * 2 > t->mask + 1)
                return tab_grow(t, sizeof *s, yhash_slot) ? SL_ENOMEM : ytab_add(t, k, w);
            *s = (struct yslot){k, w, 1};
            t->fill++;
            return 0;
        }
        h = (h + 1) & t->mask;
    }
}

static void ytab_rows(const struct tab *t, sl_row *out)
{
    const struct yslot *s = t->s;
    size_t m = 0;
    for (size_t h = 0; h <= t->mask; h++)
        if (s[h].key)
            out[m++] =
                (sl_row){.key = s[h].key, .window_start = s[h].win, .v = {(double)s[h].count}};
}

/* Parses one line and keeps it when it is a view of a known ad with a time in range: returns 1
 * with *camp and *t set, 0 when dropped (counted in st). */
static int ysb_line(const char *line, size_t l, char *scratch, const bl_join *join, uint64_t *camp,
                    int64_t *t, bl_ysb_stats *st)
{
    sl_rawev ev;
    sl_perr perr;
    size_t i = 0;
    while (i < l && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i == l)
        return 0; /* blank, as the reader skips it */
    st->lines++;
    if (l > SL_READER_MAX_LINE_DEFAULT || sl_ndjson_parse(line, l, scratch, &ev, &perr) != 0) {
        st->bad++;
        return 0;
    }
    if (ev.type != SL_EV_VIEW)
        return 0;
    st->views++;
    if (!join_get(join, sl_key_hash(ev.ad_id, ev.ad_id_len), camp)) {
        st->unjoined++;
        return 0;
    }
    if (ev.time_ms < -SL_WINDOW_TIME_LIMIT || ev.time_ms > SL_WINDOW_TIME_LIMIT)
        return 0;
    *t = ev.time_ms;
    return 1;
}

/* The late rule: 1 when an event at t is late after the largest earlier time *maxt. */
static inline int late(int64_t t, int64_t w, int64_t *maxt, int *have)
{
    if (*have && bl_window_start(t, w) + w <= *maxt)
        return 1;
    if (!*have || t > *maxt) {
        *maxt = t;
        *have = 1;
    }
    return 0;
}

int bl_ysb_each(bl_ws *ws, const char *text, size_t len, const bl_join *join, int64_t window_ms,
                bl_ysb_fn fn, void *ud, bl_ysb_stats *st)
{
    char *scratch = buf_get(&ws->scratch[0], SL_READER_MAX_LINE_DEFAULT + 1);
    int rc = 0, have = 0;
    int64_t maxt = 0;
    memset(st, 0, sizeof *st);
    if (!scratch)
        return SL_ENOMEM;
    for (const char *p = text, *end = text + len; p < end && rc == 0;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        uint64_t camp;
        int64_t tm;
        if (ysb_line(p, l, scratch, join, &camp, &tm, st)) {
            if (late(tm, window_ms, &maxt, &have))
                st->late++;
            else
                rc = fn(ud, camp, bl_window_start(tm, window_ms));
        }
        p += l + 1;
    }
    return rc;
}

static int ytab_fn(void *ud, uint64_t campaign, int64_t window_start)
{
    return ytab_add(ud, campaign, window_start);
}

int bl_ysb_single(bl_ws *ws, const char *text, size_t len, const bl_join *join, int64_t window_ms,
                  sl_row **rows, size_t *nrows, bl_ysb_stats *st)
{
    struct tab t;
    if (tab_init(&t, 4096, sizeof(struct yslot), &ws->tab[0]))
        return SL_ENOMEM;
    int rc = bl_ysb_each(ws, text, len, join, window_ms, ytab_fn, &t, st);
    if (rc == 0 && !(*rows = malloc((t.fill + 1) * sizeof **rows)))
        rc = SL_ENOMEM;
    if (rc == 0) {
        ytab_rows(&t, *rows);
        *nrows = t.fill;
        qsort(*rows, *nrows, sizeof **rows, sl_row_cmp_key);
    }
    return rc;
}

/* Start of thread t's range of lines: the first line that starts at or after t*len/T. */
static size_t range_start(const char *text, size_t len, unsigned t, unsigned T)
{
    if (t == 0)
        return 0;
    if (t >= T)
        return len;
    size_t at = len * t / T;
    if (text[at - 1] == '\n')
        return at;
    const char *nl = memchr(text + at, '\n', len - at);
    return nl ? (size_t)(nl - text) + 1 : len;
}

static void *ysb_worker(void *argp)
{
    struct mt_arg *a = argp;
    struct mt *m = a->m;
    const unsigned t = a->t, T = m->T;
    /* 1: parse this range, keep joined views in arrival order */
    size_t lo = range_start(m->text, m->len, t, T), hi = range_start(m->text, m->len, t + 1, T);
    struct buf *lb = &m->ws->local[t];
    size_t cap = (hi - lo) / 64 + 1024, n = 0;
    if (lb->bytes / sizeof(struct item) > cap)
        cap = lb->bytes / sizeof(struct item);
    struct item *it = buf_get(lb, cap * sizeof *it);
    char *scratch = buf_get(&m->ws->scratch[t], SL_READER_MAX_LINE_DEFAULT + 1);
    int64_t maxt = 0;
    int have = 0;
    if (!it || !scratch)
        m->err[t] = SL_ENOMEM;
    for (const char *p = m->text + lo, *end = m->text + hi; p < end && !m->err[t];) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        uint64_t camp;
        int64_t tm;
        if (ysb_line(p, l, scratch, m->join, &camp, &tm, &m->yst[t])) {
            if (n == cap) {
                struct item *g = realloc(it, cap * 2 * sizeof *it);
                if (!g) {
                    m->err[t] = SL_ENOMEM;
                    break;
                }
                it = g;
                cap *= 2;
                lb->p = g;
                lb->bytes = cap * sizeof *g;
            }
            it[n++] = (struct item){camp, tm};
            if (!have || tm > maxt) {
                maxt = tm;
                have = 1;
            }
        }
        p += l + 1;
    }
    m->local[t] = it;
    m->nlocal[t] = n;
    m->maxt[t] = maxt;
    m->hast[t] = have;
    pthread_barrier_wait(&m->bar);
    /* 2: the late rule, with the largest time of the earlier ranges carried in */
    int err = 0;
    for (unsigned u = 0; u < T; u++)
        err |= m->err[u];
    have = 0;
    for (unsigned u = 0; u < t; u++)
        if (m->hast[u] && (!have || m->maxt[u] > maxt)) {
            maxt = m->maxt[u];
            have = 1;
        }
    size_t kept = 0;
    for (size_t i = 0; i < n && !err; i++) {
        if (late(it[i].x, m->w, &maxt, &have)) {
            m->yst[t].late++;
            continue;
        }
        it[kept] = (struct item){it[i].key, bl_window_start(it[i].x, m->w)};
        m->counts[t][owner_of(it[kept].key, T)]++;
        kept++;
    }
    pthread_barrier_wait(&m->bar);
    if (t == 0) {
        mt_offsets(m);
        size_t total = 0;
        for (unsigned o = 0; o < T; o++)
            total += m->own_n[o];
        if (!err && !(m->all = buf_get(&m->ws->items, (total + 1) * sizeof *m->all)))
            m->err[0] = SL_ENOMEM;
    }
    pthread_barrier_wait(&m->bar);
    /* 3: scatter by owner, then aggregate what this thread owns */
    err = 0;
    for (unsigned u = 0; u < T; u++)
        err |= m->err[u];
    if (!err) {
        size_t pos[MAX_THREADS];
        memcpy(pos, m->offs[t], T * sizeof *pos);
        for (size_t i = 0; i < kept; i++)
            m->all[pos[owner_of(it[i].key, T)]++] = it[i];
    }
    pthread_barrier_wait(&m->bar);
    if (err)
        return NULL;
    if (tab_init(&m->ytabs[t], 1024, sizeof(struct yslot), &m->ws->tab[t])) {
        m->err[t] = SL_ENOMEM;
        return NULL;
    }
    const struct item *own = m->all + m->own_lo[t];
    for (size_t i = 0, k = m->own_n[t]; i < k; i++)
        if (ytab_add(&m->ytabs[t], own[i].key, own[i].x)) {
            m->err[t] = SL_ENOMEM;
            return NULL;
        }
    return NULL;
}

int bl_ysb_multi(bl_ws *ws, const char *text, size_t len, const bl_join *join, int64_t window_ms,
                 unsigned threads, sl_row **rows, size_t *nrows, bl_ysb_stats *st)
{
    if (threads == 0 || threads > MAX_THREADS)
        return SL_EINVAL;
    struct mt *m = calloc(1, sizeof *m);
    if (!m)
        return SL_ENOMEM;
    m->ytabs = calloc(threads, sizeof *m->ytabs);
    m->ws = ws;
    m->T = threads;
    m->text = text;
    m->len = len;
    m->join = join;
    m->w = window_ms;
    int rc = m->ytabs ? mt_run(m, ysb_worker) : SL_ENOMEM;
    memset(st, 0, sizeof *st);
    for (unsigned t = 0; t < threads; t++) {
        st->lines += m->yst[t].lines;
        st->bad += m->yst[t].bad;
        st->views += m->yst[t].views;
        st->unjoined += m->yst[t].unjoined;
        st->late += m->yst[t].late;
    }
    if (rc == 0)
        rc = gather_rows(m->ytabs, threads, ytab_rows, rows, nrows);
    free(m->ytabs);
    free(m);
    return rc;
}

int bl_rows_equal(const sl_row *a, size_t na, const sl_row *b, size_t nb, int ncols, char *why,
                  size_t whylen)
{
    if (na != nb) {
        snprintf(why, whylen, "%zu rows against %zu", na, nb);
        return 0;
    }
    for (size_t i = 0; i < na; i++) {
        int same = a[i].key == b[i].key && a[i].window_start == b[i].window_start;
        for (int c = 0; c < ncols && same; c++)
            same = a[i].v[c] == b[i].v[c];
        if (!same) {
            snprintf(
                why, whylen,
                "row %zu: key %016llx window %lld values %.17g,%.17g,%.17g against key %016llx "
                "window %lld values %.17g,%.17g,%.17g",
                i, (unsigned long long)a[i].key, (long long)a[i].window_start, a[i].v[0], a[i].v[1],
                a[i].v[2], (unsigned long long)b[i].key, (long long)b[i].window_start, b[i].v[0],
                b[i].v[1], b[i].v[2]);
            return 0;
        }
    }
    return 1;
}
