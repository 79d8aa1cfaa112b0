/* Job payloads; see job.h. */
#include "job.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "engine.h"
#include "err.h"
#include "event.h"
#include "lebytes.h"
#include "sink.h"
#include "source.h"

size_t sl_payload_recsize(uint32_t schema)
{
    switch (schema) {
    case SL_SCHEMA_REC:
        return sizeof(sl_rec);
    case SL_SCHEMA_ROW_FINAL:
    case SL_SCHEMA_ROW_WINDOWS:
    case SL_SCHEMA_ROW_SNAPSHOT:
        return sizeof(sl_row);
    default:
        if (schema > SL_SCHEMA_REC_ATTRS && schema <= SL_SCHEMA_REC_ATTRS + SL_SCHEMA_ATTRS)
            return sizeof(sl_rec) + 8u * (schema - SL_SCHEMA_REC_ATTRS);
        if (schema >= SL_SCHEMA_STATE + 16 && schema <= SL_SCHEMA_STATE + SL_STATE_SLOT_MAX &&
            schema % 8 == 0)
            return schema - SL_SCHEMA_STATE;
        return 0;
    }
}

uint64_t sl_cluster_id(const sl_cluster_cfg *cl)
{
    XXH3_state_t *st = XXH3_createState();
    uint64_t h = 0;
    if (!st)
        return 0;
    XXH3_64bits_reset(st);
    uint32_t head[2] = {cl->nnodes, cl->partitions};
    XXH3_64bits_update(st, head, sizeof head);
    for (uint32_t i = 0; i < cl->nnodes; i++) {
        XXH3_64bits_update(st, cl->nodes[i].host, strlen(cl->nodes[i].host) + 1);
        XXH3_64bits_update(st, &cl->nodes[i].port, sizeof cl->nodes[i].port);
    }
    h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

int sl_hello_format(char *buf, size_t len, uint32_t node, long pid, uint64_t cluster_id)
{
    return snprintf(buf, len, "node %" PRIu32 " ready pid %ld cluster %016" PRIx64, node, pid,
                    cluster_id);
}

int sl_hello_parse(const void *p, size_t len, uint32_t *node, long *pid, uint64_t *cluster_id)
{
    char t[128];
    if (len >= sizeof t)
        return -1;
    memcpy(t, p, len);
    t[len] = '\0';
    int end = 0;
    if (sscanf(t, "node %" SCNu32 " ready pid %ld cluster %" SCNx64 "%n", node, pid, cluster_id,
               &end) != 3 ||
        (size_t)end != len)
        return -1;
    return 0;
}

/* 1 when the char array at s (n bytes) holds a NUL. */
static int terminated(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

#define STR_OK(field) terminated((field), sizeof(field))

/* Bounds of a topology as sl_config_parse would have made it (host/config). */
static int check_pe(const sl_pe_cfg *pe, int stage, char *err, size_t errlen)
{
    const char *why = NULL;
    for (uint32_t i = 0; i < pe->nparams; i++) {
        char bad[256];
        if (sl_pe_param_check(&pe->param[i], bad, sizeof bad)) {
            snprintf(err, errlen, "job refused: stage %d: %s", stage, bad);
            return -1;
        }
    }
    if (!STR_OK(pe->name) || !STR_OK(pe->source) || !STR_OK(pe->binary) || !STR_OK(pe->field))
        why = "a string is not terminated";
    else if ((unsigned)pe->kind > SL_PE_USER)
        why = "unknown PE kind";
    else if (pe->capacity > (UINT64_C(1) << 31)) /* 0: the table grows as keys arrive */
        why = "capacity out of range";
    else if (pe->has_prior != 0 && pe->has_prior != 1)
        why = "bad prior flag";
    else if (pe->has_prior &&
             !(pe->prior_a > 0 && pe->prior_b > 0 && pe->prior_a < 1e300 && pe->prior_b < 1e300))
        why = "prior out of range";
    else if (pe->window_ms < 0 || pe->lateness_ms < 0)
        why = "negative window or lateness";
    if (!why)
        return 0;
    snprintf(err, errlen, "job refused: stage %d: %s", stage, why);
    return -1;
}

static int check_topology(sl_topology *t, char *err, size_t errlen)
{
    if (t->nnext > SL_STAGES_MAX - 1) {
        snprintf(err, errlen, "job refused: %" PRIu32 " further stages (at most %d)", t->nnext,
                 SL_STAGES_MAX - 1);
        return -1;
    }
    if (!STR_OK(t->device) || !STR_OK(t->source.path) || !STR_OK(t->sink.path) ||
        !STR_OK(t->checkpoint.dir)) {
        snprintf(err, errlen, "job refused: a string is not terminated");
        return -1;
    }
    if (!sl_source_kind_name(t->source.kind) || (unsigned)t->source.format > SL_FMT_CSV ||
        !sl_sink_kind_name(t->sink.kind) || (unsigned)t->sink.format > SL_SINK_NDJSON ||
        (unsigned)t->sink.mode > SL_SINK_CHANGES || (unsigned)t->source.ingest > SL_INGEST_NODES) {
        snprintf(err, errlen, "job refused: unknown source or sink kind, format or mode");
        return -1;
    }
    if (t->batch_events < 1 || t->batch_events > (UINT32_C(1) << 26)) {
        snprintf(err, errlen, "job refused: batch.events out of range");
        return -1;
    }
    if (t->nplacement > SL_PLACEMENT_MAX) {
        snprintf(err, errlen, "job refused: too many placement entries");
        return -1;
    }
    for (uint32_t i = 0; i < t->nplacement; i++)
        if (!STR_OK(t->placement[i].device) || !STR_OK(t->placement[i].cpus)) {
            snprintf(err, errlen, "job refused: placement %u: a string is not terminated", i);
            return -1;
        }
    char why[256];
    if (sl_schema_check(&t->schema, why, sizeof why)) {
        snprintf(err, errlen, "job refused: %s", why);
        return -1;
    }
    sl_topology_bind_attrs(t); /* the first PE's record members, from the checked schema */
    if (check_pe(&t->pe, 0, err, errlen))
        return -1;
    for (uint32_t i = 0; i < t->nnext; i++) {
        if (!STR_OK(t->next[i].join) || !STR_OK(t->next[i].value)) {
            snprintf(err, errlen, "job refused: stage %u: a string is not terminated", i + 1);
            return -1;
        }
        if (check_pe(&t->next[i].pe, (int)i + 1, err, errlen))
            return -1;
    }
    return 0;
}

int sl_job_check_endpoint(const char *ep, const char *peer, char *err, size_t errlen)
{
    const char *host = strncmp(ep, "tcp://", 6) == 0 ? ep + 6 : NULL;
    const char *colon = host ? strrchr(host, ':') : NULL;
    size_t hl = colon ? (size_t)(colon - host) : 0;
    char *endp = NULL;
    long port = colon ? strtol(colon + 1, &endp, 10) : 0;
    if (!host || !colon || hl == 0 || !endp || *endp || port < 1 || port > 65535) {
        snprintf(err, errlen, "job refused: the endpoint \"%.80s\" is not tcp://ADDRESS:PORT", ep);
        return SL_EPARSE;
    }
    if (!peer || !*peer || strlen(peer) != hl || memcmp(host, peer, hl) != 0) {
        snprintf(err, errlen,
                 "job refused: it names the endpoint %.80s, but came from %.64s: results go "
                 "only to the address a job comes from",
                 ep, peer && *peer ? peer : "an unknown address");
        return SL_EPARSE;
    }
    return 0;
}

/* ---- the payload ------------------------------------------------------------------------- */

/* Layout, format version JOB_VERSION (little-endian, no padding, nothing implied by a build):
 *
 *   tag        8 bytes: "SLJOB" and the version in three decimal digits ("SLJOB004")
 *   string     the result endpoint: first in every version from 4 on, so that a node can still
 *              answer a job it cannot read; versions up to 3 had it as a char[512] right there
 *   fields     job_fields below, in its order: the control endpoint, the cluster id, the
 *              topology field by field, and each stage's join text
 *
 * A string is a u32 byte count and the bytes (no NUL, shorter than its field); an enumeration or
 * int an i32; a double the u64 of its bits; a list a u32 count (at most its array's length) and
 * that many elements; a join text a u8 (1: present) and then a u64 byte count and the bytes.
 *
 * One walk (job_fields and the *_fields it calls) serves both directions, so a field is encoded
 * and decoded by the same line: a new field of the topology is one line in its *_fields function
 * (STR, I32, ENUM, U32, U64, I64, F64, or LIST for an array with its count and an element
 * function, as the placement list has). A payload with a field more is one an older node cannot
 * read, so JOB_VERSION goes up with it (and with any change in what a field means): the older
 * node then refuses the job with a message naming both versions. */
#define JOB_TAG "SLJOB"
#define JOB_VERSION 10

struct codec {
    int decoding;
    unsigned char *out; /* encoding: malloc'd, grows */
    size_t len, cap;
    const unsigned char *in; /* decoding: the payload, its size and the read position */
    size_t size, at;
    int rc; /* the first failure (sticky): SL_EPARSE or SL_ENOMEM; 0 while all is well */
    char *err;
    size_t errlen;
};

static void codec_fail(struct codec *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void codec_fail(struct codec *c, int rc, const char *fmt, ...)
{
    if (c->rc)
        return;
    c->rc = rc;
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
}

/* The field's name for messages: the expression after its last "->". */
static const char *field_name(const char *expr)
{
    const char *arrow = strstr(expr, "->");
    while (arrow && strstr(arrow + 2, "->"))
        arrow = strstr(arrow + 2, "->");
    return arrow ? arrow + 2 : expr;
}

/* Encoding: appends n bytes. Decoding: takes the next n bytes into p (p NULL: returns them
 * unread), or fails as truncated. Returns where the bytes are, NULL after any failure. */
static const unsigned char *codec_raw(struct codec *c, void *p, size_t n, const char *what)
{
    if (c->rc)
        return NULL;
    if (c->decoding) {
        if (c->size - c->at < n) {
            codec_fail(c, SL_EPARSE,
                       "job description truncated or padded (%zu bytes; it ends in %s)", c->size,
                       field_name(what));
            return NULL;
        }
        const unsigned char *at = c->in + c->at;
        if (p && n)
            memcpy(p, at, n);
        c->at += n;
        return at;
    }
    if (c->cap - c->len < n) {
        size_t cap = c->cap ? c->cap : 1024;
        while (cap - c->len < n)
            cap *= 2;
        unsigned char *o = realloc(c->out, cap);
        if (!o) {
            codec_fail(c, SL_ENOMEM, "out of memory");
            return NULL;
        }
        c->out = o;
        c->cap = cap;
    }
    if (n)
        memcpy(c->out + c->len, p, n);
    c->len += n;
    return c->out + c->len - n;
}

/* An unsigned integer of `width` bytes. */
static void codec_uint(struct codec *c, uint64_t *v, unsigned width, const char *what)
{
    unsigned char b[8];
    if (!c->decoding)
        sl_le_put(b, *v, width);
    if (codec_raw(c, b, width, what) && c->decoding)
        *v = sl_le_get(b, width);
}

/* A string of a char[cap] field. Decoding refuses one that would not fit with its NUL, or that
 * holds a NUL (the field would read shorter than it came). */
static void codec_str(struct codec *c, char *s, size_t cap, const char *what)
{
    uint64_t n = c->decoding ? 0 : strnlen(s, cap);
    codec_uint(c, &n, 4, what);
    if (c->rc)
        return;
    if (c->decoding && n >= cap) {
        codec_fail(c, SL_EPARSE, "job refused: %s is %" PRIu64 " bytes (at most %zu)",
                   field_name(what), n, cap - 1);
        return;
    }
    const unsigned char *p = codec_raw(c, c->decoding ? NULL : s, (size_t)n, what);
    if (!p || !c->decoding)
        return;
    if (memchr(p, '\0', (size_t)n)) {
        codec_fail(c, SL_EPARSE, "job refused: %s holds a NUL byte", field_name(what));
        return;
    }
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
}

/* The count of a list of at most `max` elements. Returns how many elements to walk: on
 * encoding at most max (a count over it is sent as it is, and refused by the receiver), on
 * decoding the count, or 0 when it is over max. */
static uint32_t codec_count(struct codec *c, uint32_t *n, uint32_t max, const char *what)
{
    uint64_t v = *n;
    codec_uint(c, &v, 4, what);
    if (c->rc)
        return 0;
    if (!c->decoding)
        return *n < max ? *n : max;
    *n = (uint32_t)v;
    if (*n > max) {
        codec_fail(c, SL_EPARSE, "job refused: %" PRIu32 " %s (at most %" PRIu32 ")", *n, what,
                   max);
        return 0;
    }
    return *n;
}

/* A join text: present or not, and then its bytes (malloc'd on decoding, NUL-terminated). */
static void codec_text(struct codec *c, char **text, size_t *len, const char *what)
{
    uint64_t present = !c->decoding && *text, n = present ? *len : 0;
    codec_uint(c, &present, 1, what);
    if (c->rc || !present)
        return;
    if (present != 1) {
        codec_fail(c, SL_EPARSE, "job refused: %s: bad presence byte %" PRIu64, field_name(what),
                   present);
        return;
    }
    codec_uint(c, &n, 8, what);
    if (c->rc)
        return;
    if (!c->decoding) {
        codec_raw(c, *text, *len, what);
        return;
    }
    if (n > c->size - c->at) {
        codec_raw(c, NULL, c->size - c->at + 1, what); /* fails as truncated */
        return;
    }
    char *t = malloc((size_t)n + 1);
    if (!t) {
        codec_fail(c, SL_ENOMEM, "out of memory");
        return;
    }
    codec_raw(c, t, (size_t)n, what);
    t[n] = '\0';
    *text = t;
    *len = (size_t)n;
}

/* Fields by type: each encodes or decodes lvalue f, whichever the codec does. */
#define STR(c, f) codec_str((c), (f), sizeof(f), #f)
#define UINT_(c, f, width, type)                                                                   \
    do {                                                                                           \
        uint64_t v_ = (uint64_t)(f);                                                               \
        codec_uint((c), &v_, (width), #f);                                                         \
        if ((c)->decoding)                                                                         \
            (f) = (type)v_;                                                                        \
    } while (0)
#define U32(c, f) UINT_(c, f, 4, uint32_t)
#define U64(c, f) UINT_(c, f, 8, uint64_t)
#define I64(c, f) UINT_(c, f, 8, int64_t)
#define I32(c, f) UINT_(c, f, 4, int32_t) /* an int: stored as its 32-bit two's complement */
#define ENUM(c, f) I32(c, f)
#define F64(c, f)                                                                                  \
    do {                                                                                           \
        uint64_t v_;                                                                               \
        memcpy(&v_, &(f), 8);                                                                      \
        codec_uint((c), &v_, 8, #f);                                                               \
        if ((c)->decoding)                                                                         \
            memcpy(&(f), &v_, 8);                                                                  \
    } while (0)
#define LIST(c, n, arr, what, fn)                                                                  \
    do {                                                                                           \
        uint32_t k_ = codec_count((c), &(n), (uint32_t)(sizeof(arr) / sizeof((arr)[0])), (what));  \
        for (uint32_t i_ = 0; i_ < k_; i_++)                                                       \
            fn((c), &(arr)[i_]);                                                                   \
    } while (0)

_Static_assert(sizeof(double) == 8, "doubles travel as 8 bytes");

static void gen_fields(struct codec *c, sl_gen_cfg *g)
{
    U64(c, g->events);
    U32(c, g->keys);
    F64(c, g->skew);
    F64(c, g->click_rate);
    F64(c, g->purchase_rate);
    U64(c, g->seed);
    I64(c, g->start_ms);
    U32(c, g->events_per_ms);
    U32(c, g->users);
}

static void param_fields(struct codec *c, sl_pe_param *p)
{
    STR(c, p->name);
    STR(c, p->value);
}

static void pe_fields(struct codec *c, sl_pe_cfg *pe)
{
    STR(c, pe->name);
    ENUM(c, pe->kind);
    U64(c, pe->capacity);
    I32(c, pe->has_prior);
    F64(c, pe->prior_a);
    F64(c, pe->prior_b);
    I64(c, pe->window_ms);
    I64(c, pe->lateness_ms);
    STR(c, pe->source);
    STR(c, pe->binary);
    U64(c, pe->trigger.every_events);
    U64(c, pe->trigger.every_ms);
    U32(c, pe->timeout_ms);
    LIST(c, pe->nparams, pe->param, "PE params", param_fields);
    STR(c, pe->field);
    STR(c, pe->format);
}

static void stage_fields(struct codec *c, sl_stage_cfg *st)
{
    pe_fields(c, &st->pe);
    STR(c, st->join);
    STR(c, st->value);
}

static void placement_fields(struct codec *c, sl_place_override *pl)
{
    STR(c, pl->device);
    I32(c, pl->numa);
    STR(c, pl->cpus);
}

static void opt_fields(struct codec *c, sl_opt *o)
{
    STR(c, o->key);
    STR(c, o->val);
    U32(c, o->line);
    U32(c, o->col);
    U32(c, o->kline);
    U32(c, o->kcol);
}

static void opts_fields(struct codec *c, sl_opts *o)
{
    STR(c, o->name);
    STR(c, o->common);
    U32(c, o->line);
    U32(c, o->col);
    LIST(c, o->n, o->item, "kind options", opt_fields);
}

static void schema_field_fields(struct codec *c, sl_schema_field *f)
{
    STR(c, f->name);
    I32(c, f->type);
    I32(c, f->optional);
}

static void type_map_fields(struct codec *c, sl_type_map *m)
{
    STR(c, m->text);
    I32(c, m->type);
}

static void schema_fields(struct codec *c, sl_schema *s)
{
    I32(c, s->declared);
    LIST(c, s->nfields, s->field, "schema fields", schema_field_fields);
    U32(c, s->nkey); /* checked by sl_schema_check after decoding */
    for (uint32_t i = 0; i < SL_SCHEMA_KEYS; i++)
        I32(c, s->key[i]);
    I32(c, s->time_field);
    I32(c, s->time_format);
    STR(c, s->time_pattern);
    I32(c, s->value_field);
    I32(c, s->user_field);
    I32(c, s->type_mode);
    I32(c, s->type_field);
    I32(c, s->type_nocase);
    LIST(c, s->nmap, s->map, "type map entries", type_map_fields);
    for (int i = 0; i < 4; i++) {
        I32(c, s->pred[i].on);
        I32(c, s->pred[i].all);
        I32(c, s->pred[i].field);
        STR(c, s->pred[i].equals);
    }
    I32(c, s->delimiter);
    I32(c, s->header);
    I32(c, s->implied);
    U32(c, s->nattrs); /* checked by sl_schema_check; the first PE's members follow from them */
    for (uint32_t i = 0; i < SL_SCHEMA_ATTRS; i++)
        I32(c, s->attr[i]);
}

static void topology_fields(struct codec *c, sl_topology *t)
{
    STR(c, t->device);
    ENUM(c, t->source.kind);
    STR(c, t->source.path);
    ENUM(c, t->source.format);
    gen_fields(c, &t->source.gen);
    opts_fields(c, &t->source.opts);
    ENUM(c, t->source.ingest);
    U32(c, t->filter_types);
    pe_fields(c, &t->pe);
    LIST(c, t->nnext, t->next, "further stages", stage_fields);
    U32(c, t->batch_events);
    U32(c, t->batch_wait_ms);
    ENUM(c, t->sink.kind);
    STR(c, t->sink.path);
    I32(c, t->sink.snapshots);
    ENUM(c, t->sink.format);
    ENUM(c, t->sink.mode);
    opts_fields(c, &t->sink.opts);
    LIST(c, t->nplacement, t->placement, "placement entries", placement_fields);
    U32(c, t->checkpoint.every_ms);
    U32(c, t->checkpoint.keep);
    STR(c, t->checkpoint.dir);
    schema_fields(c, &t->schema);
    F64(c, t->source.max_malformed);
}

/* Everything after the tag and the result endpoint. */
static void job_fields(struct codec *c, sl_job *job)
{
    STR(c, job->control_endpoint);
    U64(c, job->cluster_id);
    U64(c, job->restore_id);
    STR(c, job->restore_dir);
    U32(c, job->self);
    U32(c, job->epoch);
    U32(c, job->registry_id);
    U64(c, job->driver_epoch);
    topology_fields(c, &job->topo);
    for (int i = 0; i < SL_STAGES_MAX; i++)
        codec_text(c, &job->join_text[i], &job->join_len[i], "a join table");
}

int sl_job_encode(const sl_job *job, unsigned char **buf, size_t *len)
{
    /* The walk reads the job and writes nothing to it when encoding. */
    sl_job *j = (sl_job *)job;
    struct codec c = {0};
    char tag[16];
    snprintf(tag, sizeof tag, "%s%03d", JOB_TAG, JOB_VERSION);
    codec_raw(&c, tag, 8, "the tag");
    STR(&c, j->result_endpoint);
    job_fields(&c, j);
    if (c.rc) {
        free(c.out);
        return c.rc;
    }
    *buf = c.out;
    *len = c.len;
    return 0;
}

/* The version in a tag "SLJOBddd", or -1 when p (len bytes) does not start with one. */
static int tag_version(const unsigned char *p, size_t len)
{
    size_t tl = strlen(JOB_TAG);
    if (len < tl + 3 || memcmp(p, JOB_TAG, tl) != 0)
        return -1;
    int v = 0;
    for (size_t i = tl; i < tl + 3; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int sl_job_decode(const unsigned char *p, size_t len, sl_job *job, char *err, size_t errlen)
{
    struct codec c = {.decoding = 1, .in = p, .size = len, .at = 8, .err = err, .errlen = errlen};
    memset(job, 0, sizeof *job);
    int version = tag_version(p, len);
    if (version < 0) {
        snprintf(err, errlen, "not a job description (no \"%s\" tag)", JOB_TAG);
        return SL_EPARSE;
    }
    if (version != JOB_VERSION) {
        /* Still find where the refusal goes: a char[512] up to version 3, a string since. */
        size_t n = sizeof job->result_endpoint;
        if (version <= 3 && len >= 8 + n) {
            memcpy(job->result_endpoint, p + 8, n);
            job->result_endpoint[n - 1] = '\0';
        } else if (version > JOB_VERSION) {
            STR(&c, job->result_endpoint);
            if (c.rc)
                job->result_endpoint[0] = '\0';
        }
        snprintf(err, errlen,
                 "job description of format version %d, and this node reads version %d: every "
                 "node and client of a cluster must run the same sluice release",
                 version, JOB_VERSION);
        return SL_EPARSE;
    }
    STR(&c, job->result_endpoint);
    job_fields(&c, job);
    if (!c.rc && c.at != len)
        codec_fail(&c, SL_EPARSE,
                   "job description truncated or padded (%zu bytes; %zu after its end)", len,
                   len - c.at);
    /* Every field is bounded by now; the values are checked as a topology file's would be,
     * before anything indexes an array with them. */
    if (!c.rc && check_topology(&job->topo, err, errlen))
        c.rc = SL_EPARSE;
    if (c.rc)
        sl_job_clear(job);
    return c.rc;
}

void sl_job_clear(sl_job *job)
{
    for (int i = 0; i < SL_STAGES_MAX; i++) {
        free(job->join_text[i]);
        job->join_text[i] = NULL;
    }
}

/* ---- what ingesting nodes send the client -------------------------------------------------- */

size_t sl_badline_encode(const sl_badline *b, unsigned char *buf)
{
    sl_le_put(buf, b->line, 8);
    sl_le_put(buf + 8, b->byte_offset, 8);
    sl_le_put(buf + 16, b->column, 4);
    size_t r = strnlen(b->reason, sizeof b->reason - 1);
    memcpy(buf + 20, b->reason, r);
    return 20 + r;
}

int sl_badline_decode(const unsigned char *p, size_t len, sl_badline *b)
{
    if (len < 20 || len > SL_BADLINE_MAX)
        return -1;
    b->line = sl_le_get(p, 8);
    b->byte_offset = sl_le_get(p + 8, 8);
    b->column = (uint32_t)sl_le_get(p + 16, 4);
    memcpy(b->reason, p + 20, len - 20);
    b->reason[len - 20] = '\0';
    return 0;
}
