#include "sink.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

struct sl_sink {
    FILE *out;
    sl_columns cols;
    int windowed;
    char key_name[48]; /* the first column's name; "ad_id" unless re-keyed by a join */
    const sl_addict *dict;
    int snapshots;
    int keep; /* keep window and final rows (for the top table) */
    int header_done;
    uint64_t nsnap, nwin;
    sl_row *kept;
    size_t nkept, capkept;
    struct named *order; /* scratch for sorting one emission */
    size_t order_cap;
};

/* Sink kinds, indexed by enum sl_sink_kind: a name and the check of the kind's own keys. */
static const struct {
    const char *name;
    int (*check)(const sl_topology *t, char *msg, size_t msglen); /* NULL: takes none */
} kinds[] = {
    [SL_SINK_FILE] = {"file", NULL},
};
#define NKINDS (int)(sizeof kinds / sizeof *kinds)

const char *sl_sink_kind_name(int kind)
{
    return kind >= 0 && kind < NKINDS ? kinds[kind].name : NULL;
}

int sl_sink_check(const sl_topology *t, char *msg, size_t msglen)
{
    int k = t->sink.kind;
    if (!sl_sink_kind_name(k)) {
        snprintf(msg, msglen, "sink.type: unknown sink kind %d", k);
        return SL_ECONFIG;
    }
    if (kinds[k].check)
        return kinds[k].check(t, msg, msglen);
    char what[64];
    snprintf(what, sizeof what, "sink type %s", kinds[k].name);
    return sl_opts_known(&t->sink.opts, "sink", what, NULL, 0, msg, msglen);
}

struct named {
    const sl_row *row;
    const char *id;
    size_t len;
    char hex[19];
};

sl_sink *sl_sink_new(FILE *out, const sl_addict *dict, int snapshots, int keep)
{
    sl_sink *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->keep = keep;
    s->out = out;
    s->dict = dict;
    s->snapshots = snapshots;
    return s;
}

void sl_sink_set_layout(sl_sink *s, const sl_columns *cols, int windowed)
{
    s->cols = *cols;
    s->windowed = windowed;
}

void sl_sink_set_key_name(sl_sink *s, const char *name)
{
    snprintf(s->key_name, sizeof s->key_name, "%s", name);
}

void sl_sink_destroy(sl_sink **sp)
{
    if (!sp || !*sp)
        return;
    free((*sp)->kept);
    free((*sp)->order);
    free(*sp);
    *sp = NULL;
}

void sl_csv_write_field(FILE *out, const char *id, size_t len)
{
    size_t plain = 0;
    while (plain < len && id[plain] != ',' && id[plain] != '"' && id[plain] != '\r' &&
           id[plain] != '\n')
        plain++;
    if (plain == len) {
        fwrite(id, 1, len, out);
        return;
    }
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        if (id[i] == '"')
            fputc('"', out);
        fputc(id[i], out);
    }
    fputc('"', out);
}

static int cmp_named(const void *a, const void *b)
{
    const struct named *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->id, y->id, n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    if (x->row->window_start != y->row->window_start)
        return x->row->window_start < y->row->window_start ? -1 : 1;
    return 0;
}

/* Fills s->order with the rows and their ad ids, sorted. Returns 0 or SL_ENOMEM. */
static int sort_rows(sl_sink *s, const sl_row *rows, size_t n)
{
    if (n == 0)
        return 0;
    if (n > s->order_cap) {
        struct named *no = realloc(s->order, n * sizeof *no);
        if (!no)
            return SL_ENOMEM;
        s->order = no;
        s->order_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        struct named *nm = &s->order[i];
        nm->row = &rows[i];
        nm->id = sl_addict_get(s->dict, rows[i].key, &nm->len);
        if (!nm->id) { /* every key comes through the dictionary: this is a bug, but show it */
            SL_WARN("sink", "no ad id for key %016" PRIx64, rows[i].key);
            snprintf(nm->hex, sizeof nm->hex, "0x%016" PRIx64, rows[i].key);
            nm->id = nm->hex;
            nm->len = strlen(nm->hex);
        }
    }
    qsort(s->order, n, sizeof *s->order, cmp_named);
    return 0;
}

static void write_header(sl_sink *s)
{
    if (s->snapshots)
        fputs("emit,", s->out);
    fputs(s->key_name[0] ? s->key_name : "ad_id", s->out);
    if (s->windowed)
        fputs(",window_start", s->out);
    for (int c = 0; c < s->cols.n; c++)
        fprintf(s->out, ",%s", s->cols.name[c]);
    fputc('\n', s->out);
}

/* A key column's field: the key's id from the dictionary, CSV-quoted like ad_id; nothing for
 * key 0 (no key, e.g. an empty rank); '#' and 16 hex digits for a key the dictionary lacks (a
 * user key, say: only ad ids are interned). */
static void write_key(sl_sink *s, double v)
{
    const uint64_t k = sl_columns_key(v);
    if (k == 0)
        return;
    size_t len;
    const char *id = sl_addict_get(s->dict, k, &len);
    if (id)
        sl_csv_write_field(s->out, id, len);
    else
        fprintf(s->out, "#%016" PRIx64, k);
}

static void write_row(sl_sink *s, const struct named *nm)
{
    const sl_row *r = nm->row;
    char buf[400];
    sl_csv_write_field(s->out, nm->id, nm->len);
    if (s->windowed)
        fprintf(s->out, ",%" PRId64, r->window_start);
    for (int c = 0; c < s->cols.n; c++) {
        fputc(',', s->out);
        if (s->cols.fmt[c] == SL_COLFMT_KEY) {
            write_key(s, r->v[c]);
            continue;
        }
        sl_columns_format(&s->cols, c, r->v[c], buf, sizeof buf);
        fputs(buf, s->out);
    }
    fputc('\n', s->out);
}

int sl_sink_emit(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    sl_sink *s = ud;
    if (s->keep && kind != SL_EMIT_SNAPSHOT && n > 0) {
        if (s->nkept + n > s->capkept) {
            size_t ncap = (s->nkept + n) * 2;
            sl_row *nk = realloc(s->kept, ncap * sizeof *nk);
            if (!nk)
                return SL_ENOMEM;
            s->kept = nk;
            s->capkept = ncap;
        }
        memcpy(s->kept + s->nkept, rows, n * sizeof *rows);
        s->nkept += n;
    }
    if (!s->out || (kind == SL_EMIT_SNAPSHOT && !s->snapshots))
        return 0;
    int rc = sort_rows(s, rows, n);
    if (rc)
        return rc;
    if (!s->header_done) {
        write_header(s);
        s->header_done = 1;
    }
    char label[32] = "final";
    if (kind == SL_EMIT_SNAPSHOT)
        snprintf(label, sizeof label, "snapshot-%" PRIu64, ++s->nsnap);
    else if (kind == SL_EMIT_WINDOWS)
        snprintf(label, sizeof label, "windows-%" PRIu64, ++s->nwin);
    for (size_t i = 0; i < n; i++) {
        if (s->snapshots)
            fprintf(s->out, "%s,", label);
        write_row(s, &s->order[i]);
    }
    if (fflush(s->out) != 0 || ferror(s->out))
        return SL_EIO;
    return 0;
}

const sl_row *sl_sink_rows(const sl_sink *s, size_t *n)
{
    *n = s->nkept;
    return s->kept;
}

/* qsort_r comparator; ctx holds the indices of impressions, clicks and ctr. */
static int cmp_ctr(const void *a, const void *b, void *ctx)
{
    const int *ctr_cols = ctx;
    const struct named *x = a, *y = b;
    double cx = x->row->v[ctr_cols[2]], cy = y->row->v[ctr_cols[2]];
    double ix = x->row->v[ctr_cols[0]], iy = y->row->v[ctr_cols[0]];
    if (cx != cy)
        return cx > cy ? -1 : 1;
    if (ix != iy)
        return ix > iy ? -1 : 1;
    return cmp_named(a, b);
}

int sl_sink_print_top(const sl_sink *s, FILE *out, size_t n, uint64_t min_impressions)
{
    static const char *const names[3] = {"impressions", "clicks", "ctr"};
    int ctr_cols[3];
    for (int i = 0; i < 3; i++) /* a key column holds bits, not a number to rank by */
        if ((ctr_cols[i] = sl_columns_find(&s->cols, names[i])) < 0 ||
            s->cols.fmt[ctr_cols[i]] == SL_COLFMT_KEY)
            return SL_EINVAL;
    size_t m = 0;
    struct named *list = malloc((s->nkept ? s->nkept : 1) * sizeof *list);
    if (!list)
        return SL_ENOMEM;
    for (size_t i = 0; i < s->nkept; i++) {
        if (s->kept[i].v[ctr_cols[0]] < (double)min_impressions)
            continue;
        list[m].row = &s->kept[i];
        list[m].id = sl_addict_get(s->dict, s->kept[i].key, &list[m].len);
        if (!list[m].id) {
            snprintf(list[m].hex, sizeof list[m].hex, "0x%016" PRIx64, s->kept[i].key);
            list[m].id = list[m].hex;
            list[m].len = strlen(list[m].hex);
        }
        m++;
    }
    qsort_r(list, m, sizeof *list, cmp_ctr, ctr_cols);
    fprintf(out, "Top %zu ads by CTR (of %zu with >= %" PRIu64 " impressions, %zu ads in all)\n",
            n < m ? n : m, m, min_impressions, s->nkept);
    fprintf(out, "%4s  %-20s %12s %10s %9s\n", "rank", "ad_id", "impressions", "clicks", "ctr");
    for (size_t i = 0; i < m && i < n; i++)
        fprintf(out, "%4zu  %-20.*s %12.0f %10.0f %9.6f\n", i + 1,
                (int)(list[i].len > 64 ? 64 : list[i].len), list[i].id, list[i].row->v[ctr_cols[0]],
                list[i].row->v[ctr_cols[1]], list[i].row->v[ctr_cols[2]]);
    free(list);
    return fflush(out) != 0 || ferror(out) ? SL_EIO : 0;
}
