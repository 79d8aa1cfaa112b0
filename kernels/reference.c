/* The C reference of the built-in PEs; see reference.h. */
#include "reference.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pes.h"

struct ref_pe;

/* A table entry is a result row under construction: key == 0 marks an empty entry (record keys
 * are never 0). For windows an entry is identified by (key, window_start). */
struct sl_ref {
    sl_pe_cfg pe;
    const struct ref_pe *fn; /* the kind's reference (refs below) */
    int windowed;            /* sl_pe_windowed(pe) */
    sl_row *tab;
    size_t cap, count;
    uint64_t late;
    uint64_t bad_time;
    int have_time;
    int64_t max_time;
};

static size_t slot_of(uint64_t key, int64_t ws, size_t cap)
{
    uint64_t h = key ^ ((uint64_t)ws * UINT64_C(0xbf58476d1ce4e5b9));
    h ^= h >> 31;
    return (size_t)h & (cap - 1);
}

static sl_row *find(sl_row *tab, size_t cap, uint64_t key, int64_t ws)
{
    size_t i = slot_of(key, ws, cap);
    while (tab[i].key != 0 && (tab[i].key != key || tab[i].window_start != ws))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static int grow(sl_ref *r)
{
    size_t ncap = r->cap * 2;
    sl_row *nt = calloc(ncap, sizeof *nt);
    if (!nt)
        return SL_ENOMEM;
    for (size_t i = 0; i < r->cap; i++)
        if (r->tab[i].key != 0)
            *find(nt, ncap, r->tab[i].key, r->tab[i].window_start) = r->tab[i];
    free(r->tab);
    r->tab = nt;
    r->cap = ncap;
    return 0;
}

/* Returns the entry for (key, ws), created zeroed when new, or NULL when out of memory. Inlined
 * into each kind's push loop, as it was into the one loop before there was one per kind. */
static inline __attribute__((always_inline)) sl_row *entry(sl_ref *r, uint64_t key, int64_t ws)
{
    sl_row *e = find(r->tab, r->cap, key, ws);
    if (e->key != 0)
        return e;
    if ((r->count + 1) * 2 > r->cap) {
        if (grow(r))
            return NULL;
        e = find(r->tab, r->cap, key, ws);
    }
    memset(e, 0, sizeof *e);
    e->key = key;
    e->window_start = ws;
    r->count++;
    return e;
}

static int64_t floor_window(int64_t t, int64_t w)
{
    int64_t q = t / w;
    if (t % w < 0)
        q--;
    return q * w;
}

/* Window rule, stated on its own: an event is late, and dropped, when the end of its window is
 * at or before (largest event time seen before it) - lateness_ms. */
static int late(sl_ref *r, int64_t t)
{
    if (!r->have_time || r->max_time < INT64_MIN + r->pe.lateness_ms)
        return 0;
    int64_t ws = floor_window(t, r->pe.window_ms), end;
    if (__builtin_add_overflow(ws, r->pe.window_ms, &end))
        return 0;
    return end <= r->max_time - r->pe.lateness_ms;
}

/* Applies n records in order, folding each into its row with `add`. Always inlined into one
 * push function per kind (REF_PUSH), so that `add` is a direct call the compiler inlines: a call
 * through a pointer per record, or entry() out of line, cost the reference 10-20% of its speed
 * (a micro-benchmark on the 2-core VM, 2026). */
static inline __attribute__((always_inline)) int push_with(sl_ref *r, const sl_rec *recs, size_t n,
                                                           void (*add)(sl_row *, const sl_rec *))
{
    for (size_t i = 0; i < n; i++) {
        const sl_rec *ev = &recs[i];
        int64_t ws = 0;
        if (r->windowed) {
            if (ev->time_ms < -SL_WINDOW_TIME_LIMIT || ev->time_ms > SL_WINDOW_TIME_LIMIT) {
                r->bad_time++;
                continue;
            }
            if (late(r, ev->time_ms)) {
                r->late++;
                continue;
            }
            if (!r->have_time || ev->time_ms > r->max_time)
                r->max_time = ev->time_ms;
            r->have_time = 1;
            ws = floor_window(ev->time_ms, r->pe.window_ms);
        }
        sl_row *e = entry(r, ev->key, ws);
        if (!e)
            return SL_ENOMEM;
        add(e, ev);
    }
    return 0;
}

/* push_add_X: push_with specialised for add_X. */
#define REF_PUSH(add)                                                                              \
    static int push_##add(sl_ref *r, const sl_rec *recs, size_t n)                                 \
    {                                                                                              \
        return push_with(r, recs, n, add);                                                         \
    }

/* The built-in PEs, each written from its description (reference.h), not from its kernel:
 * add_X folds record ev into row e (zeroed when new); done_X completes a copy of a row before it
 * is returned. */
static void add_count(sl_row *e, const sl_rec *ev)
{
    (void)ev;
    e->v[0] += 1;
}
REF_PUSH(add_count)

static void add_sum(sl_row *e, const sl_rec *ev)
{
    e->v[0] += 1;
    e->v[1] += (double)ev->value;
}
REF_PUSH(add_sum)

static void add_ctr(sl_row *e, const sl_rec *ev)
{
    e->v[0] += ev->type == SL_EV_VIEW;
    e->v[1] += ev->type == SL_EV_CLICK;
}
REF_PUSH(add_ctr)

static void done_ctr(sl_row *row, const sl_pe_cfg *pe)
{
    double v = row->v[0], c = row->v[1];
    if (pe->has_prior)
        row->v[2] = (c + pe->prior_a) / (v + pe->prior_a + pe->prior_b);
    else
        row->v[2] = v > 0 ? c / v : 0.0;
}

/* The reference of each built-in kind (its row in pes.def names its functions): `push` applies
 * records, `done`, when set, completes each row sl_ref_rows returns. Windowing is the kind's
 * (pes.h). */
struct ref_pe {
    int (*push)(sl_ref *r, const sl_rec *recs, size_t n);
    void (*done)(sl_row *row, const sl_pe_cfg *pe);
};

static const struct ref_pe refs[SL_PE_NKINDS] = {
#define SL_PE_ROW(id, name, kernel, defines, flags, columns, add, done)                            \
    [SL_PE_##id] = {push_##add, done},
#include "pes.def"
#undef SL_PE_ROW
};

sl_ref *sl_ref_new(const sl_pe_cfg *pe)
{
    int windowed = sl_pe_windowed(pe);
    if ((unsigned)pe->kind >= SL_PE_NKINDS || !refs[pe->kind].push ||
        (windowed && (pe->window_ms <= 0 || pe->lateness_ms < 0)))
        return NULL;
    sl_ref *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->pe = *pe;
    r->fn = &refs[pe->kind];
    r->windowed = windowed;
    r->cap = 1024;
    r->tab = calloc(r->cap, sizeof *r->tab);
    if (!r->tab) {
        free(r);
        return NULL;
    }
    return r;
}

void sl_ref_destroy(sl_ref **rp)
{
    if (!rp || !*rp)
        return;
    free((*rp)->tab);
    free(*rp);
    *rp = NULL;
}

int sl_ref_push(sl_ref *r, const sl_rec *recs, size_t n)
{
    return r->fn->push(r, recs, n);
}

int sl_row_cmp_key(const void *a, const void *b)
{
    const sl_row *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->window_start != y->window_start)
        return x->window_start < y->window_start ? -1 : 1;
    return 0;
}

int sl_ref_rows(const sl_ref *r, sl_row **rows, size_t *n)
{
    sl_row *out = malloc((r->count ? r->count : 1) * sizeof *out);
    if (!out)
        return SL_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < r->cap; i++) {
        if (r->tab[i].key == 0)
            continue;
        sl_row row = r->tab[i];
        if (r->fn->done)
            r->fn->done(&row, &r->pe);
        out[k++] = row;
    }
    qsort(out, k, sizeof *out, sl_row_cmp_key);
    *rows = out;
    *n = k;
    return 0;
}

uint64_t sl_ref_late(const sl_ref *r)
{
    return r->late;
}

uint64_t sl_ref_bad_time(const sl_ref *r)
{
    return r->bad_time;
}

size_t sl_ref_count(const sl_ref *r)
{
    return r->count;
}
