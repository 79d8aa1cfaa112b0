/* The result sink: the common part (ids, order, kept rows, changes, emission metadata), the
 * table of kinds and the file backend; see sink.h. */
#include "sink.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "hugemem.h"
#include "idsort.h"
#include "lebytes.h"
#include "log.h"
#include "sinkbe.h"
#include "utf8.h"

/* ---- the table of kinds ------------------------------------------------------------------- */

static const sl_sink_ops file_ops;

/* Sink kinds, indexed by enum sl_sink_kind and SL_SINK_ZMQ, SL_SINK_REDIS: a name, the check of
 * the kind's own keys and its backend. */
static const struct {
    const char *name;
    int (*check)(const sl_topology *t, char *msg, size_t msglen); /* NULL: takes none */
    const sl_sink_ops *ops;
} kinds[] = {
    [SL_SINK_FILE] = {"file", NULL, &file_ops},
    [SL_SINK_ZMQ] = {"zmq", sl_sink_zmq_check, &sl_sink_zmq_ops},
    [SL_SINK_REDIS] = {"redis", sl_sink_redis_check, &sl_sink_redis_ops},
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

/* ---- text --------------------------------------------------------------------------------- */

static int tb_reserve(sl_tbuf *b, size_t more)
{
    if (b->oom)
        return -1;
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap < b->len + more + 1)
        ncap *= 2;
    char *np = realloc(b->p, ncap);
    if (!np) {
        b->oom = 1;
        return -1;
    }
    b->p = np;
    b->cap = ncap;
    return 0;
}

void sl_tb_put(sl_tbuf *b, const void *data, size_t n)
{
    if (tb_reserve(b, n))
        return;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sl_tb_puts(sl_tbuf *b, const char *s)
{
    sl_tb_put(b, s, strlen(s));
}

void sl_tb_printf(sl_tbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        sl_tb_put(b, small, (size_t)n);
        return;
    }
    if (tb_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sl_tb_free(sl_tbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* RFC 4180 quoting, as sl_csv_write_field. */
static void tb_csv_field(sl_tbuf *b, const char *id, size_t len)
{
    size_t plain = 0;
    while (plain < len && id[plain] != ',' && id[plain] != '"' && id[plain] != '\r' &&
           id[plain] != '\n')
        plain++;
    if (plain == len) {
        sl_tb_put(b, id, len);
        return;
    }
    sl_tb_put(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        if (id[i] == '"')
            sl_tb_put(b, "\"", 1);
        sl_tb_put(b, &id[i], 1);
    }
    sl_tb_put(b, "\"", 1);
}

/* A JSON string: quotes, backslashes and control bytes escaped; a byte that is not part of
 * valid UTF-8 becomes the code point of the same value (\u00XX), so that the line stays JSON. */
static void tb_json_str(sl_tbuf *b, const char *s, size_t len)
{
    sl_tb_put(b, "\"", 1);
    size_t i = 0;
    while (i < len) {
        size_t good = i + sl_utf8_check(s + i, len - i); /* s[i..good) is valid UTF-8 */
        for (; i < good; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '"' || c == '\\')
                sl_tb_printf(b, "\\%c", c);
            else if (c < 0x20 || c == 0x7f)
                sl_tb_printf(b, "\\u%04x", c);
            else
                sl_tb_put(b, &s[i], 1);
        }
        if (i < len)
            sl_tb_printf(b, "\\u%04x", (unsigned char)s[i++]);
    }
    sl_tb_put(b, "\"", 1);
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

/* ---- rows as text ------------------------------------------------------------------------- */

static const char *key_name(const sl_sink *s)
{
    return s->key_name[0] ? s->key_name : "ad_id";
}

void sl_sink_header(const sl_sink *s, sl_tbuf *b)
{
    if (s->meta)
        sl_tb_puts(b, "emit,emit_seq,emit_time_ms,emit_watermark_ms,");
    else if (s->snapshots)
        sl_tb_puts(b, "emit,");
    sl_tb_puts(b, key_name(s));
    if (s->windowed)
        sl_tb_puts(b, ",window_start");
    for (int c = 0; c < s->cols.n; c++)
        sl_tb_printf(b, ",%s", s->cols.name[c]);
}

const char *sl_sink_key_text(const sl_sink *s, double v, char *buf, size_t buflen, size_t *len)
{
    const uint64_t k = sl_columns_key(v);
    *len = 0;
    if (k == 0)
        return "";
    const char *id = sl_addict_get(s->dict, k, len);
    if (id)
        return id;
    snprintf(buf, buflen, "#%016" PRIx64, k);
    *len = strlen(buf);
    return buf;
}

/* Writes a key's id as its columns: a composite key's parts (SL_KEY_SEP between them) each as
 * a CSV field. */
static void tb_csv_key(sl_tbuf *b, const char *id, size_t len)
{
    const char *sep;
    while ((sep = memchr(id, SL_KEY_SEP, len))) {
        tb_csv_field(b, id, (size_t)(sep - id));
        sl_tb_put(b, ",", 1);
        len -= (size_t)(sep - id) + 1;
        id = sep + 1;
    }
    tb_csv_field(b, id, len);
}

/* Writes a key's id as JSON members: "name":"part" for each of the key's columns. */
static void tb_json_key(const sl_sink *s, sl_tbuf *b, const char *id, size_t len)
{
    const char *names = key_name(s);
    for (;;) {
        const char *comma = strchr(names, ',');
        size_t nl = comma ? (size_t)(comma - names) : strlen(names);
        const char *sep = comma ? memchr(id, SL_KEY_SEP, len) : NULL;
        size_t pl = sep ? (size_t)(sep - id) : len;
        sl_tb_printf(b, ",\"%.*s\":", (int)nl, names);
        tb_json_str(b, id, pl);
        if (!comma)
            return;
        names = comma + 1;
        if (sep) {
            len -= pl + 1;
            id = sep + 1;
        } else {
            id += len, len = 0; /* fewer parts than names: the rest print empty */
        }
    }
}

static void csv_row(const sl_sink *s, const sl_emission *em, const struct sl_named *nm, sl_tbuf *b)
{
    const sl_row *r = nm->row;
    char buf[400];
    if (s->meta) {
        sl_tb_printf(b, "%s,%" PRIu64 ",%" PRId64 ",", em->label, em->seq, em->time_ms);
        if (em->has_watermark)
            sl_tb_printf(b, "%" PRId64, em->watermark_ms);
        sl_tb_put(b, ",", 1);
    } else if (s->snapshots) {
        sl_tb_printf(b, "%s,", em->label);
    }
    tb_csv_key(b, nm->id, nm->len);
    if (s->windowed)
        sl_tb_printf(b, ",%" PRId64, r->window_start);
    for (int c = 0; c < s->cols.n; c++) {
        sl_tb_put(b, ",", 1);
        if (s->cols.fmt[c] == SL_COLFMT_KEY) {
            size_t len;
            const char *id = sl_sink_key_text(s, r->v[c], buf, sizeof buf, &len);
            if (id == buf) /* '#' and hex digits */
                sl_tb_put(b, id, len);
            else
                tb_csv_field(b, id, len);
            continue;
        }
        sl_columns_format(&s->cols, c, r->v[c], buf, sizeof buf);
        sl_tb_puts(b, buf);
    }
    sl_tb_put(b, "\n", 1);
}

static void json_row(const sl_sink *s, const sl_emission *em, const struct sl_named *nm, sl_tbuf *b)
{
    const sl_row *r = nm->row;
    char buf[400];
    sl_tb_printf(b,
                 "{\"emit\":\"%s\",\"emit_seq\":%" PRIu64 ",\"emit_time_ms\":%" PRId64
                 ",\"emit_watermark_ms\":",
                 em->label, em->seq, em->time_ms);
    if (em->has_watermark)
        sl_tb_printf(b, "%" PRId64, em->watermark_ms);
    else
        sl_tb_puts(b, "null");
    tb_json_key(s, b, nm->id, nm->len);
    if (s->windowed)
        sl_tb_printf(b, ",\"window_start\":%" PRId64, r->window_start);
    for (int c = 0; c < s->cols.n; c++) {
        sl_tb_printf(b, ",\"%s\":", s->cols.name[c]);
        if (s->cols.fmt[c] == SL_COLFMT_KEY) {
            size_t len;
            const char *id = sl_sink_key_text(s, r->v[c], buf, sizeof buf, &len);
            if (len == 0 && sl_columns_key(r->v[c]) == 0)
                sl_tb_puts(b, "null");
            else
                tb_json_str(b, id, len);
        } else if (!isfinite(r->v[c])) {
            sl_tb_puts(b, "null");
        } else {
            sl_columns_format(&s->cols, c, r->v[c], buf, sizeof buf);
            sl_tb_puts(b, buf);
        }
    }
    sl_tb_puts(b, "}\n");
}

void sl_sink_format_row(const sl_sink *s, const sl_emission *em, const struct sl_named *nm,
                        sl_tbuf *b)
{
    if (s->format == SL_SINK_NDJSON)
        json_row(s, em, nm, b);
    else
        csv_row(s, em, nm, b);
}

/* ---- the file backend --------------------------------------------------------------------- */

static int file_open(sl_sink *s, const sl_topology *t, FILE *out, char *msg, size_t msglen)
{
    (void)t, (void)msg, (void)msglen;
    s->out = out;
    return 0;
}

static int file_write(sl_sink *s, const sl_emission *em)
{
    if (!s->out)
        return 0;
    sl_tbuf b = {0};
    if (!s->header_done && s->format == SL_SINK_CSV) {
        sl_sink_header(s, &b);
        sl_tb_put(&b, "\n", 1);
    }
    s->header_done = 1;
    int rc = 0;
    for (size_t i = 0; i < em->n; i++) {
        sl_sink_format_row(s, em, &em->rows[i], &b);
        if (b.len >= 1 << 16 || i + 1 == em->n) {
            if (b.oom) {
                rc = SL_ENOMEM;
                break;
            }
            if (fwrite(b.p, 1, b.len, s->out) != b.len) {
                rc = SL_EIO;
                break;
            }
            s->bytes += b.len;
            b.len = 0;
        }
    }
    if (!rc && b.len) { /* a header alone */
        if (fwrite(b.p, 1, b.len, s->out) != b.len)
            rc = SL_EIO;
        else
            s->bytes += b.len;
    }
    sl_tb_free(&b);
    if (rc == SL_EIO)
        snprintf(s->msg, sizeof s->msg, "writing the results failed: %s", strerror(errno));
    return rc;
}

static int file_flush(sl_sink *s)
{
    if (s->out && (fflush(s->out) != 0 || ferror(s->out))) {
        snprintf(s->msg, sizeof s->msg, "writing the results failed: %s", strerror(errno));
        return SL_EIO;
    }
    return 0;
}

static void file_close(sl_sink *s)
{
    s->out = NULL; /* the caller's stream */
}

static const sl_sink_ops file_ops = {file_open, file_write, file_flush, file_close};

/* ---- changes: the last row written per (key, window) -------------------------------------- */

struct slot {
    int used;
    uint64_t key;
    int64_t ws;
    double v[SL_COLUMNS_MAX];
};

struct sl_lastmap {
    struct slot *slot;
    size_t cap, n; /* cap a power of two */
};

static size_t slot_of(const struct sl_lastmap *m, uint64_t key, int64_t ws)
{
    uint64_t h = key ^ ((uint64_t)ws * UINT64_C(0x9e3779b97f4a7c15));
    h ^= h >> 31;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 29;
    size_t i = (size_t)h & (m->cap - 1);
    while (m->slot[i].used && (m->slot[i].key != key || m->slot[i].ws != ws))
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int map_grow(struct sl_lastmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    struct slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return SL_ENOMEM;
    struct sl_lastmap nm = {ns, ncap, 0};
    for (size_t i = 0; i < m->cap; i++)
        if (m->slot[i].used) {
            nm.slot[slot_of(&nm, m->slot[i].key, m->slot[i].ws)] = m->slot[i];
            nm.n++;
        }
    free(m->slot);
    *m = nm;
    return 0;
}

/* Removes slot i, moving later slots of its probe run back (no tombstones). */
static void map_remove(struct sl_lastmap *m, size_t i)
{
    size_t j = i;
    m->slot[i].used = 0;
    m->n--;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (!m->slot[j].used)
            return;
        struct slot moved = m->slot[j];
        m->slot[j].used = 0;
        m->slot[slot_of(m, moved.key, moved.ws)] = moved;
    }
}

/* Whether row r differs from the last one written for its (key, window), remembering r as
 * written. Closed windows (closing) are forgotten: they never come again. Returns 1, 0 or
 * SL_ENOMEM. */
static int changed(sl_sink *s, const sl_row *r, int closing)
{
    struct sl_lastmap *m = s->last;
    if ((m->n + 1) * 4 > m->cap * 3 && map_grow(m))
        return SL_ENOMEM;
    size_t i = slot_of(m, r->key, r->window_start);
    size_t bytes = (size_t)s->cols.n * sizeof(double);
    struct slot *sl = &m->slot[i];
    int differs = !sl->used || memcmp(sl->v, r->v, bytes) != 0; /* bits: NaN and keys too */
    if (closing) {
        if (sl->used)
            map_remove(m, i);
        return differs;
    }
    if (!sl->used) {
        sl->used = 1;
        sl->key = r->key;
        sl->ws = r->window_start;
        m->n++;
    }
    memcpy(sl->v, r->v, bytes);
    return differs;
}

/* ---- the common part ---------------------------------------------------------------------- */

static sl_sink *alloc_sink(const sl_addict *dict, int snapshots, int keep)
{
    sl_sink *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->keep = keep;
    s->dict = dict;
    s->snapshots = snapshots;
    s->out_fd = -1;
    return s;
}

sl_sink *sl_sink_new(FILE *out, const sl_addict *dict, int snapshots, int keep)
{
    sl_sink *s = alloc_sink(dict, snapshots, keep);
    if (s) {
        s->ops = &file_ops;
        s->out = out;
    }
    return s;
}

int sl_sink_open(const sl_topology *t, FILE *out, const sl_addict *dict, int keep, sl_sink **sp,
                 char *msg, size_t msglen)
{
    *sp = NULL;
    int rc = sl_sink_check(t, msg, msglen);
    if (rc)
        return rc;
    sl_sink *s = alloc_sink(dict, t->sink.snapshots, keep);
    if (!s)
        return SL_ENOMEM;
    s->format = t->sink.format == SL_SINK_NDJSON ? SL_SINK_NDJSON : SL_SINK_CSV;
    s->mode = t->sink.mode == SL_SINK_CHANGES ? SL_SINK_CHANGES : SL_SINK_FULL;
    s->meta = s->snapshots || s->mode == SL_SINK_CHANGES || s->format == SL_SINK_NDJSON;
    if (s->mode == SL_SINK_CHANGES && !(s->last = calloc(1, sizeof *s->last))) {
        sl_sink_destroy(&s);
        return SL_ENOMEM;
    }
    if (t->schema.declared)
        sl_schema_key_names(&t->schema, s->key_name, sizeof s->key_name);
    s->ops = kinds[t->sink.kind].ops;
    msg[0] = '\0';
    if ((rc = s->ops->open(s, t, out, msg, msglen))) {
        if (!msg[0])
            snprintf(msg, msglen, "sink %s: %s", kinds[t->sink.kind].name, sl_strerror(rc));
        sl_sink_destroy(&s);
        return rc;
    }
    *sp = s;
    return 0;
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

void sl_sink_set_clock(sl_sink *s, int64_t (*watermark)(void *ud), void *ud)
{
    s->watermark = watermark;
    s->wm_ud = ud;
}

const char *sl_sink_message(const sl_sink *s)
{
    return s->msg;
}

int sl_sink_flush(sl_sink *s)
{
    return s->ops && s->ops->flush ? s->ops->flush(s) : 0;
}

void sl_sink_destroy(sl_sink **sp)
{
    if (!sp || !*sp)
        return;
    sl_sink *s = *sp;
    if (s->ops && s->ops->close)
        s->ops->close(s);
    if (s->last)
        free(s->last->slot);
    free(s->last);
    sl_huge_free(s->pick);
    free(s->kept);
    sl_huge_free(s->order);
    sl_huge_free(s->keys);
    free(s);
    *sp = NULL;
}

static void name_row(const sl_sink *s, const sl_row *r, struct sl_named *nm, int warn)
{
    nm->row = r;
    nm->is_hex = 0;
    nm->id = sl_addict_get(s->dict, r->key, &nm->len);
    if (!nm->id) { /* every key comes through the dictionary: this is a bug, but show it */
        if (warn)
            SL_WARN("sink", "no ad id for key %016" PRIx64, r->key);
        sl_id_hex(r->key, nm->hex);
        nm->id = nm->hex;
        nm->len = strlen(nm->hex);
        nm->is_hex = 1;
    }
    sl_id_prefix(nm->id, nm->len, nm->pre);
}

/* After rows were moved (sorted): a hex id points at its row's own hex again. */
static void hex_ids_moved(struct sl_named *nm, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (nm[i].is_hex)
            nm[i].id = nm[i].hex;
}

/* Fills s->order with rows pick[0..n) (rows[0..n) when pick is NULL) and their ids, sorted by
 * id then window (idsort.h): the rows' keys are sorted, then laid out. Returns 0, SL_ENOMEM or
 * SL_ERANGE (more than 2^32 - 1 rows in one emission). */
static int sort_rows(sl_sink *s, const sl_row *rows, const sl_row *const *pick, size_t n)
{
    if (n == 0)
        return 0;
    if (n > UINT32_MAX)
        return SL_ERANGE;
    /* both are written whole below: fresh arrays (in huge pages when large) instead of realloc */
    if (n > s->order_cap) {
        sl_huge_free(s->order);
        s->order_cap = 0;
        if (!(s->order = sl_huge_alloc(n * sizeof *s->order)))
            return SL_ENOMEM;
        s->order_cap = n;
    }
    if (n > s->keys_cap) {
        sl_huge_free(s->keys);
        s->keys_cap = 0;
        if (!(s->keys = sl_huge_alloc(n * sizeof *s->keys)))
            return SL_ENOMEM;
        s->keys_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        struct sl_named nm;
        name_row(s, pick ? pick[i] : &rows[i], &nm, 1);
        s->keys[i] = (struct sl_idkey){
            {nm.pre[0], nm.pre[1]}, nm.is_hex ? NULL : nm.id, (uint32_t)nm.len, (uint32_t)i};
    }
    int rc = sl_idkey_sort(s->keys, n, rows, pick);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const struct sl_idkey *k = &s->keys[i];
        struct sl_named *nm = &s->order[i];
        const sl_row *r = pick ? pick[k->at] : &rows[k->at];
        if (!k->id) { /* its hex text again, at its new place (warned above) */
            name_row(s, r, nm, 0);
            continue;
        }
        *nm =
            (struct sl_named){.row = r, .id = k->id, .len = k->len, .pre = {k->pre[0], k->pre[1]}};
    }
    return 0;
}

/* The rows of this emission that changed (into s->pick). Returns the count or SL_ENOMEM. */
static long pick_changed(sl_sink *s, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    if (n > s->pick_cap) { /* written whole below */
        sl_huge_free(s->pick);
        s->pick_cap = 0;
        if (!(s->pick = sl_huge_alloc(n * sizeof *s->pick)))
            return SL_ENOMEM;
        s->pick_cap = n;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int c = changed(s, &rows[i], kind == SL_EMIT_WINDOWS);
        if (c < 0)
            return c;
        if (c)
            s->pick[m++] = &rows[i];
    }
    return (long)m;
}

static int keep_rows(sl_sink *s, const sl_row *rows, size_t n)
{
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
    return 0;
}

int sl_sink_emit(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    sl_sink *s = ud;
    int rc;
    if (s->keep && kind != SL_EMIT_SNAPSHOT && n > 0 && (rc = keep_rows(s, rows, n)))
        return rc;
    if ((s->ops == &file_ops && !s->out) || (kind == SL_EMIT_SNAPSHOT && !s->snapshots))
        return 0;
    sl_emission em = {.kind = kind, .label = "final", .seq = ++s->seq};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    em.time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (s->watermark) {
        int64_t wm = s->watermark(s->wm_ud);
        if (wm != SL_SINK_NO_WATERMARK) {
            em.has_watermark = 1;
            em.watermark_ms = wm;
        }
    }
    if (kind == SL_EMIT_SNAPSHOT)
        snprintf(em.label, sizeof em.label, "snapshot-%" PRIu64, ++s->nsnap);
    else if (kind == SL_EMIT_WINDOWS)
        snprintf(em.label, sizeof em.label, "windows-%" PRIu64, ++s->nwin);
    const sl_row *const *pick = NULL;
    if (s->mode == SL_SINK_CHANGES) {
        long m = pick_changed(s, kind, rows, n);
        if (m < 0)
            return (int)m;
        n = (size_t)m;
        pick = s->pick;
    }
    if ((rc = sort_rows(s, rows, pick, n)))
        return rc;
    em.rows = s->order;
    em.n = n;
    s->msg[0] = '\0';
    if (!(rc = s->ops->write(s, &em)) && s->ops->flush)
        rc = s->ops->flush(s);
    if (rc && s->msg[0])
        SL_ERROR("sink", "%s", s->msg);
    return rc;
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
    const struct sl_named *x = a, *y = b;
    double cx = x->row->v[ctr_cols[2]], cy = y->row->v[ctr_cols[2]];
    double ix = x->row->v[ctr_cols[0]], iy = y->row->v[ctr_cols[0]];
    if (cx != cy)
        return cx > cy ? -1 : 1;
    if (ix != iy)
        return ix > iy ? -1 : 1;
    return sl_named_cmp(x, y);
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
    struct sl_named *list = malloc((s->nkept ? s->nkept : 1) * sizeof *list);
    if (!list)
        return SL_ENOMEM;
    for (size_t i = 0; i < s->nkept; i++) {
        if (s->kept[i].v[ctr_cols[0]] < (double)min_impressions)
            continue;
        name_row(s, &s->kept[i], &list[m], 0);
        m++;
    }
    qsort_r(list, m, sizeof *list, cmp_ctr, ctr_cols);
    hex_ids_moved(list, m);
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

/* ---- commits ------------------------------------------------------------------------------ */

/* A sink image (sl_sink_save): the magic, then u64 committed, u32 truncatable, u32 header_done,
 * u64 seq, u64 nsnap, u64 nwin, u32 kind, u32 format, u32 mode, u32 windowed, u32 columns, u64
 * count of changes entries, and each entry as u64 key, i64 window start and the columns' doubles
 * as u64 bits. */
#define SINK_MAGIC "SLSINK01"
#define SINK_HDR (8 + 8 + 4 + 4 + 3 * 8 + 5 * 4 + 8)

void sl_sink_set_output_fd(sl_sink *s, int fd)
{
    s->out_fd = fd;
}

/* The file kind's descriptor: the one set, else the stream's own (-1 when it has none). */
static int output_fd(const sl_sink *s)
{
    if (s->out_fd >= 0)
        return s->out_fd;
    return s->out ? fileno(s->out) : -1;
}

/* Whether fd is a regular file (one that can be fsynced and truncated). */
static int regular_fd(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

int sl_sink_commit(sl_sink *s, uint64_t *len)
{
    *len = 0;
    s->msg[0] = '\0';
    int rc = sl_sink_flush(s);
    if (rc)
        return rc;
    s->committed = 0;
    s->truncatable = 0;
    if (s->ops != &file_ops || !s->out)
        return 0;
    int fd = output_fd(s);
    if (!regular_fd(fd)) {
        s->committed = *len = s->bytes;
        return 0;
    }
    off_t off;
    if (fsync(fd) != 0 || (off = lseek(fd, 0, SEEK_CUR)) < 0) {
        snprintf(s->msg, sizeof s->msg, "committing the results failed: %s", strerror(errno));
        return SL_EIO;
    }
    s->committed = *len = (uint64_t)off;
    s->truncatable = 1;
    return 0;
}

/* The index of s's kind in kinds[]. */
static int kind_of(const sl_sink *s)
{
    for (int k = 0; k < NKINDS; k++)
        if (kinds[k].ops == s->ops)
            return k;
    return -1;
}

int sl_sink_save(const sl_sink *s, unsigned char **img, size_t *len)
{
    size_t n = 0, cols = (size_t)s->cols.n;
    if (s->last)
        n = s->last->n;
    size_t total = SINK_HDR + n * (16 + 8 * cols);
    unsigned char *p = malloc(total);
    if (!p)
        return SL_ENOMEM;
    memcpy(p, SINK_MAGIC, 8);
    size_t at = 8;
    const uint64_t v[] = {s->committed,
                          (uint64_t)s->truncatable,
                          (uint64_t)s->header_done,
                          s->seq,
                          s->nsnap,
                          s->nwin,
                          (uint64_t)kind_of(s),
                          (uint64_t)s->format,
                          (uint64_t)s->mode,
                          (uint64_t)s->windowed,
                          cols,
                          n};
    static const unsigned width[] = {8, 4, 4, 8, 8, 8, 4, 4, 4, 4, 4, 8};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        sl_le_put(p + at, v[i], width[i]);
        at += width[i];
    }
    for (size_t i = 0; s->last && i < s->last->cap; i++) {
        const struct slot *sl = &s->last->slot[i];
        if (!sl->used)
            continue;
        sl_le_put(p + at, sl->key, 8);
        sl_le_put(p + at + 8, (uint64_t)sl->ws, 8);
        at += 16;
        for (size_t c = 0; c < cols; c++, at += 8) {
            uint64_t bits;
            memcpy(&bits, &sl->v[c], 8);
            sl_le_put(p + at, bits, 8);
        }
    }
    *img = p;
    *len = total;
    return 0;
}

int sl_sink_restore(sl_sink *s, const unsigned char *img, size_t len, uint64_t *committed,
                    char *msg, size_t msglen)
{
    *committed = 0;
    if (len < SINK_HDR || memcmp(img, SINK_MAGIC, 8) != 0) {
        snprintf(msg, msglen, "not a sink image of this version");
        return SL_EPARSE;
    }
    static const unsigned width[] = {8, 4, 4, 8, 8, 8, 4, 4, 4, 4, 4, 8};
    uint64_t v[12];
    size_t at = 8;
    for (int i = 0; i < 12; i++) {
        v[i] = sl_le_get(img + at, width[i]);
        at += width[i];
    }
    static const char *const what[] = {"sink type", "sink format", "sink mode", "windowed",
                                       "columns"};
    const uint64_t mine[] = {(uint64_t)kind_of(s), (uint64_t)s->format, (uint64_t)s->mode,
                             (uint64_t)s->windowed, (uint64_t)s->cols.n};
    for (int i = 0; i < 5; i++)
        if (v[6 + i] != mine[i]) {
            snprintf(msg, msglen,
                     "the saved output does not fit this sink: %s %llu in the checkpoint, %llu "
                     "here",
                     what[i], (unsigned long long)v[6 + i], (unsigned long long)mine[i]);
            return SL_EINVAL;
        }
    size_t cols = (size_t)s->cols.n, entry = 16 + 8 * cols;
    uint64_t n = v[11];
    if (v[1] > 1 || v[2] > 1 || (n && !s->last) || n > (len - at) / entry ||
        n * entry != len - at) {
        snprintf(msg, msglen, "sink image: %s",
                 n && !s->last ? "changes saved for a sink not in changes mode" : "damaged");
        return SL_EPARSE;
    }
    for (uint64_t i = 0; i < n; i++, at += entry) {
        struct sl_lastmap *m = s->last;
        if ((m->n + 1) * 4 > m->cap * 3 && map_grow(m)) {
            snprintf(msg, msglen, "out of memory loading the sink's changes");
            return SL_ENOMEM;
        }
        uint64_t key = sl_le_get(img + at, 8);
        int64_t ws = (int64_t)sl_le_get(img + at + 8, 8);
        struct slot *sl = &m->slot[slot_of(m, key, ws)];
        if (sl->used) {
            snprintf(msg, msglen, "sink image: a (key, window) saved twice");
            return SL_EPARSE;
        }
        sl->used = 1;
        sl->key = key;
        sl->ws = ws;
        for (size_t c = 0; c < cols; c++) {
            uint64_t bits = sl_le_get(img + at + 16 + 8 * c, 8);
            memcpy(&sl->v[c], &bits, 8);
        }
        m->n++;
    }
    s->committed = *committed = v[0];
    s->truncatable = (int)v[1];
    s->header_done = (int)v[2];
    s->seq = v[3];
    s->nsnap = v[4];
    s->nwin = v[5];
    s->bytes = v[0];
    return 0;
}

int sl_sink_rewind(sl_sink *s, uint64_t len, char *msg, size_t msglen)
{
    if (s->ops != &file_ops || !s->out)
        return 0;
    if (fflush(s->out) != 0) {
        snprintf(msg, msglen, "writing the results failed: %s", strerror(errno));
        return SL_EIO;
    }
    int fd = output_fd(s);
    struct stat st;
    if (!regular_fd(fd) || fstat(fd, &st) != 0) {
        if (len == 0)
            return 0;
        snprintf(msg, msglen,
                 "the output is not a regular file (a pipe or a terminal): it cannot be taken "
                 "back to the %llu bytes the checkpoint committed, so the rows emitted after the "
                 "checkpoint are written again after what it already received",
                 (unsigned long long)len);
        return SL_EUNSUPPORTED;
    }
    if ((uint64_t)st.st_size < len) {
        snprintf(msg, msglen,
                 "the output has %lld bytes, fewer than the %llu the checkpoint committed: it is "
                 "not the output the checkpointed run wrote (resume with the same --output or "
                 "sink.path, or append standard output to the same file with >>)",
                 (long long)st.st_size, (unsigned long long)len);
        return SL_EINVAL;
    }
    if (ftruncate(fd, (off_t)len) != 0 || lseek(fd, (off_t)len, SEEK_SET) < 0 || fsync(fd) != 0) {
        snprintf(msg, msglen, "cannot take the output back to %llu bytes: %s",
                 (unsigned long long)len, strerror(errno));
        return SL_EIO;
    }
    return 0;
}
