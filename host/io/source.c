/* Source and keyless filter; see source.h. The kinds of source are rows of `kinds` below, each
 * an ops table over one backend: a new kind is a backend file in host/io and one row here. */
#include "source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "generator.h"
#include "lebytes.h"
#include "srcbe.h"

/* ---- line sources: a reader over a file, a pipe or stdin ---------------------------------- */

static int lines_open(const sl_topology *t, FILE *in, sl_addict *dict, sl_bad_fn on_bad,
                      void *bad_ud, void **be, char *msg, size_t msglen)
{
    sl_reader *rd = sl_reader_new(in, t->source.format, dict, 0);
    if (!rd) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    sl_reader_set_schema(rd, &t->schema);
    sl_reader_on_bad(rd, on_bad, bad_ud);
    *be = rd;
    return 0;
}

static long lines_read(void *be, sl_rec *buf, size_t cap, int *end)
{
    long n = sl_reader_read(be, buf, cap);
    *end = n == 0 && sl_reader_at_end(be);
    return n;
}

static int lines_fd(const void *be)
{
    return sl_reader_fd(be);
}

static void lines_stats(const void *be, sl_source_stats *st)
{
    sl_reader_stats(be, &st->input);
}

static void lines_close(void **be)
{
    sl_reader_destroy((sl_reader **)be);
}

static void lines_set_wait(void *be, int ms)
{
    sl_reader_set_wait(be, ms);
}

static uint64_t *lines_attrs(void *be)
{
    return sl_reader_attrs(be);
}

static int lines_resume(void *be, const struct sl_reader_stats *st)
{
    return sl_reader_resume(be, st);
}

static const struct source_ops lines_ops = {
    .open = lines_open,
    .read = lines_read,
    .fd = lines_fd,
    .stats = lines_stats,
    .close = lines_close,
    .set_wait = lines_set_wait,
    .attrs = lines_attrs,
};

/* ---- files: read once by one reader or by threads (src_par.c), or followed (src_follow.c) -- */

/* follow (bool), poll_ms (with follow only), threads and chunk_bytes. */
static int file_check(const sl_topology *t, char *msg, size_t msglen)
{
    static const char *const known[] = {"follow", "poll_ms", "threads", "chunk_bytes"};
    const sl_opts *o = &t->source.opts;
    int rc = sl_opts_known(o, "source", "source type file", known, 4, msg, msglen);
    if (rc)
        return rc;
    int follow = 0;
    if ((rc = sl_opts_bool(o, "source", "follow", &follow, msg, msglen)))
        return rc;
    if (!follow && sl_opts_get(o, "poll_ms"))
        return sl_opts_fail(o, "source", "poll_ms", msg, msglen, "needs follow: true");
    uint64_t poll_ms = 0;
    unsigned threads;
    if ((rc = sl_opts_u64(o, "source", "poll_ms", 1, 60000, &poll_ms, msg, msglen)))
        return rc;
    return sl_src_par_threads(t, &threads, NULL, msg, msglen);
}

/* A followed file has its backend; a file read once is parsed by threads when it is NDJSON and
 * more than one thread is asked for (or automatic on a machine with several CPUs). CSV is read
 * by one reader: a quoted field may hold newlines, so a chunk cut at a raw '\n' could start
 * inside a record. src_par.c also falls back to one reader for input that is not a plain
 * regular file (compressed, a pipe); a cluster node's part of a file it reads as a file. */
static const struct source_ops *file_variant(const sl_topology *t)
{
    int follow = 0;
    unsigned threads = 1;
    char msg[8];
    sl_opts_bool(&t->source.opts, "source", "follow", &follow, msg, sizeof msg);
    if (follow)
        return &sl_src_follow_ops;
    if (t->source.format == SL_FMT_NDJSON &&
        sl_src_par_threads(t, &threads, NULL, msg, sizeof msg) == 0 && threads > 1)
        return &sl_src_par_ops;
    return NULL;
}

static const struct source_ops file_ops = {
    .check = file_check,
    .open = lines_open,
    .read = lines_read,
    .fd = lines_fd,
    .stats = lines_stats,
    .close = lines_close,
    .set_wait = lines_set_wait,
    .variant = file_variant,
    .resume = lines_resume,
    .attrs = lines_attrs,
};

/* ---- the generator ------------------------------------------------------------------------ */

static int gen_open(const sl_topology *t, FILE *in, sl_addict *dict, sl_bad_fn on_bad, void *bad_ud,
                    void **be, char *msg, size_t msglen)
{
    (void)in;
    (void)on_bad;
    (void)bad_ud;
    int rc = 0;
    sl_gen *g = sl_gen_new(&t->source.gen, dict, &rc);
    if (!g) {
        snprintf(msg, msglen, "invalid generator settings: %s", sl_strerror(rc));
        return rc;
    }
    *be = g;
    return 0;
}

static long gen_read(void *be, sl_rec *buf, size_t cap, int *end)
{
    long n = (long)sl_gen_next(be, buf, cap);
    *end = n == 0;
    return n;
}

static int gen_fd(const void *be)
{
    (void)be;
    return -1;
}

static void gen_stats(const void *be, sl_source_stats *st)
{
    (void)be;
    (void)st;
}

static void gen_close(void **be)
{
    sl_gen_destroy((sl_gen **)be);
}

static const struct source_ops gen_ops = {
    .open = gen_open, .read = gen_read, .fd = gen_fd, .stats = gen_stats, .close = gen_close};

/* ---- helpers of the live backends (srcbe.h) ----------------------------------------------- */

int sl_src_origin_bad(void *ud, uint64_t line, size_t column, uint64_t byte_offset,
                      const char *reason)
{
    sl_src_origin *o = ud;
    if (!o->fn)
        return 0;
    char r[512];
    snprintf(r, sizeof r, "%s: %s", o->what, reason);
    return o->fn(o->ud, line - o->line0, column, byte_offset - o->byte0, r);
}

int64_t sl_src_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sl_src_attrs_take(sl_src_attrs *a, sl_reader *rd, size_t at, size_t k, size_t cap)
{
    if (!a->na || k == 0)
        return 0;
    if (a->cap < cap) {
        uint64_t *p = realloc(a->buf, cap * a->na * sizeof *p);
        if (!p)
            return SL_ENOMEM;
        a->buf = p;
        a->cap = cap;
    }
    memcpy(a->buf + at * a->na, sl_reader_attrs(rd), k * a->na * sizeof *a->buf);
    return 0;
}

uint64_t *sl_src_attrs_get(sl_src_attrs *a)
{
    return a->na ? a->buf : NULL;
}

void sl_src_attrs_free(sl_src_attrs *a)
{
    free(a->buf);
    *a = (sl_src_attrs){0};
}

void sl_src_add_input(struct sl_reader_stats *a, const struct sl_reader_stats *b)
{
    a->lines += b->lines;
    a->records += b->records;
    a->bad += b->bad;
    a->blank += b->blank;
    a->bytes += b->bytes;
}

/* ---- the kinds ---------------------------------------------------------------------------- */

/* Indexed by kind: the enum sl_source_kind values first, in their order. */
static const struct {
    const char *name;
    const struct source_ops *ops;
} kinds[] = {
    [SL_SRC_FILE] = {"file", &file_ops},
    [SL_SRC_STDIN] = {"stdin", &lines_ops},
    [SL_SRC_GENERATOR] = {"generator", &gen_ops},
    {"zmq", &sl_src_zmq_ops},
    {"tcp", &sl_src_tcp_ops},
};
#define NKINDS (int)(sizeof kinds / sizeof *kinds)

const char *sl_source_kind_name(int kind)
{
    return kind >= 0 && kind < NKINDS ? kinds[kind].name : NULL;
}

int sl_source_replayable(const sl_topology *t)
{
    return t->source.kind == SL_SRC_FILE && file_variant(t) != &sl_src_follow_ops;
}

int sl_source_loggable(const sl_topology *t)
{
    int k = t->source.kind;
    return k == SL_SRC_STDIN ||
           (k >= 0 && k < NKINDS &&
            (kinds[k].ops == &sl_src_zmq_ops || kinds[k].ops == &sl_src_tcp_ops));
}

int sl_source_splittable(const sl_topology *t, char *msg, size_t msglen)
{
    int k = t->source.kind;
    if (sl_source_replayable(t)) /* a file read once: its lines are dealt into parts */
        return sl_slice_check(t->source.path, msg, msglen);
    if (k >= 0 && k < NKINDS &&
        (kinds[k].ops == &sl_src_zmq_ops || kinds[k].ops == &sl_src_tcp_ops))
        return 0;
    snprintf(msg, msglen, "%s",
             k == SL_SRC_FILE        ? "a followed file has one reader: ingest it on the client"
             : k == SL_SRC_GENERATOR ? "every node would generate the same events"
                                     : "it has one reader: only a file (not followed), zmq or "
                                       "tcp source is read on every node");
    return SL_EUNSUPPORTED;
}

/* Adds `add` to the port at the end of a bind address ("tcp://H:P", "H:P"). */
static int shift_port(sl_opt *o, uint32_t add, char *msg, size_t msglen)
{
    char *colon = strrchr(o->val, ':');
    char *end = NULL;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (!colon || colon[1] == '*' || (end && *end == '\0' && port == 0 && end != colon + 1))
        return 0; /* the system picks a port for each node */
    if (!end || end == colon + 1 || *end != '\0' || port + add > 65535) {
        snprintf(msg, msglen, "source.bind %s: cannot give node %u port %lu + %u", o->val, add,
                 port, add);
        return SL_ECONFIG;
    }
    snprintf(colon + 1, sizeof o->val - (size_t)(colon + 1 - o->val), "%lu", port + add);
    return 0;
}

int sl_source_part(sl_topology *t, uint32_t part, uint32_t nparts, FILE **in, sl_slice_info *info,
                   char *msg, size_t msglen)
{
    *in = NULL;
    memset(info, 0, sizeof *info);
    int rc = sl_source_splittable(t, msg, msglen);
    if (rc)
        return rc;
    if (t->source.kind == SL_SRC_FILE)
        return sl_slice_open(t->source.path, part, nparts,
                             t->source.format == SL_FMT_CSV ? &t->schema : NULL, in, info, msg,
                             msglen);
    for (uint32_t i = 0; i < t->source.opts.n; i++)
        if (strcmp(t->source.opts.item[i].key, "bind") == 0)
            return shift_port(&t->source.opts.item[i], part, msg, msglen);
    return 0;
}

int sl_source_check(const sl_topology *t, char *msg, size_t msglen)
{
    int k = t->source.kind;
    if (k < 0 || k >= NKINDS) {
        snprintf(msg, msglen, "source.type: unknown source kind %d", k);
        return SL_ECONFIG;
    }
    if (kinds[k].ops->check)
        return kinds[k].ops->check(t, msg, msglen);
    char what[64];
    snprintf(what, sizeof what, "source type %s", kinds[k].name);
    return sl_opts_known(&t->source.opts, "source", what, NULL, 0, msg, msglen);
}

int sl_source_carries_attrs(const sl_topology *t, char *msg, size_t msglen)
{
    int k = t->source.kind;
    if (k < 0 || k >= NKINDS || t->schema.nattrs == 0)
        return 0;
    const struct source_ops *ops = kinds[k].ops;
    if (ops->variant && ops->variant(t))
        ops = ops->variant(t);
    if (ops->attrs || ops == &gen_ops) /* the generator makes records without a schema */
        return 0;
    snprintf(msg, msglen,
             "schema.attributes: a %s source%s does not carry attributes to the kernels yet",
             kinds[k].name, ops == &sl_src_follow_ops ? " with follow: true" : "");
    return SL_EUNSUPPORTED;
}

struct sl_source {
    const struct source_ops *ops;
    void *be;
    int generator;
    uint32_t mask;
    int done;
    uint32_t nattr;  /* schema.attributes per record (0: none) */
    uint64_t *attrs; /* those of the last read's records, after the filter */
    sl_source_stats st;
};

int sl_source_new(const sl_topology *t, FILE *in, sl_addict *dict, sl_bad_fn on_bad, void *bad_ud,
                  sl_source **out, char *msg, size_t msglen)
{
    const struct source_ops *ops =
        sl_source_kind_name(t->source.kind) ? kinds[t->source.kind].ops : NULL;
    if (!ops) {
        snprintf(msg, msglen, "unknown source kind %d", (int)t->source.kind);
        return SL_EINVAL;
    }
    sl_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    if (ops->variant && ops->variant(t))
        ops = ops->variant(t);
    s->ops = ops;
    s->generator = ops == &gen_ops;
    s->mask = t->filter_types;
    s->nattr = ops->attrs ? t->schema.nattrs : 0;
    int rc = ops->open(t, in, dict, on_bad, bad_ud, &s->be, msg, msglen);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int sl_source_resume(sl_source *s, const sl_source_stats *st)
{
    if (!s->ops->resume)
        return SL_EUNSUPPORTED;
    int rc = s->ops->resume(s->be, &st->input);
    if (rc == 0) {
        s->st.filtered = st->filtered;
        s->st.passed = st->passed;
    }
    return rc;
}

void sl_source_set_wait(sl_source *s, int ms)
{
    if (s->ops->set_wait)
        s->ops->set_wait(s->be, ms < 0 ? 0 : ms);
}

int sl_source_close_input(sl_source *s)
{
    if (s->ops->close_input)
        return s->ops->close_input(s->be);
    s->done = 1;
    return 0;
}

const char *sl_source_endpoint(const sl_source *s)
{
    return s->ops->endpoint ? s->ops->endpoint(s->be) : NULL;
}

long sl_source_read(sl_source *s, sl_rec *buf, size_t cap)
{
    if (s->done)
        return 0;
    int end = 0;
    long n = s->ops->read(s->be, buf, cap, &end);
    if (n <= 0) {
        s->done = n == 0 && end;
        return n;
    }
    if (s->generator)
        s->st.generated += (uint64_t)n;
    const uint32_t all = (1u << SL_EV_NTYPES) - 1;
    size_t k = (size_t)n;
    uint64_t *a = s->attrs = s->nattr ? s->ops->attrs(s->be) : NULL;
    const size_t na = s->nattr;
    if ((s->mask & all) != all) {
        k = 0;
        for (long i = 0; i < n; i++)
            if (s->mask & (1u << (buf[i].type & 3))) {
                if (a && k != (size_t)i)
                    memmove(a + k * na, a + (size_t)i * na, na * sizeof *a);
                buf[k++] = buf[i];
            }
        s->st.filtered += (uint64_t)n - k;
    }
    s->st.passed += k;
    return (long)k;
}

int sl_source_done(const sl_source *s)
{
    return s->done;
}

int sl_source_fd(const sl_source *s)
{
    return s->ops->fd(s->be);
}

void sl_source_get_stats(const sl_source *s, sl_source_stats *st)
{
    *st = s->st;
    s->ops->stats(s->be, st);
}

void sl_source_destroy(sl_source **sp)
{
    if (!sp || !*sp)
        return;
    (*sp)->ops->close(&(*sp)->be);
    free(*sp);
    *sp = NULL;
}

void sl_source_stats_put(const sl_source_stats *st, unsigned char *out)
{
    const uint64_t v[7] = {st->input.lines, st->input.records, st->input.bad, st->input.blank,
                           st->input.bytes, st->filtered,      st->passed};
    for (int i = 0; i < 7; i++)
        sl_le_put(out + 8 * i, v[i], 8);
}

void sl_source_stats_get(const unsigned char *p, sl_source_stats *st)
{
    uint64_t v[7];
    for (int i = 0; i < 7; i++)
        v[i] = sl_le_get(p + 8 * i, 8);
    memset(st, 0, sizeof *st);
    st->input = (struct sl_reader_stats){v[0], v[1], v[2], v[3], v[4]};
    st->filtered = v[5];
    st->passed = v[6];
}

const uint64_t *sl_source_attrs(const sl_source *s)
{
    return s->attrs;
}
