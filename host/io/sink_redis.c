/* The redis sink: one Redis hash per key (and window), written through hiredis with HSET,
 * pipelined: up to sink.batch commands go out before their replies are read and checked.
 *
 * The hash's name is sink.key with {ad_id} (or {campaign_id}: either stands for the key
 * column's id) replaced by the row's id (a composite key's parts joined with ':') and
 * {window_start} by the row's window start; for a
 * windowed PE whose key has no {window_start}, ":" and the window start are appended, so that
 * windows never overwrite each other. The fields are the PE's columns as the CSV prints them
 * (a key column: its id, "" for none), window_start for windowed PEs, and, when the sink writes
 * emission metadata (snapshots on or mode changes), emit, emit_seq, emit_time_ms and
 * emit_watermark_ms (left out while no watermark is known).
 *
 * A server that cannot be reached fails the open, a Redis error (a reply of type error, a lost
 * connection, a timeout of sink.timeout_ms) fails the emission; both messages name the address. */
#include <errno.h>
#include <inttypes.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sinkbe.h"

#define PFX "sink"
#define NFIELDS (SL_COLUMNS_MAX + 5)

static const char *const keys[] = {"address", "key", "batch", "timeout_ms", "db"};

struct rcfg {
    char address[SL_OPT_VAL_MAX];
    char host[SL_OPT_VAL_MAX];
    int port;
    char key[SL_OPT_VAL_MAX];
    uint64_t batch, timeout_ms, db;
};

struct rsink {
    redisContext *c;
    struct rcfg cfg;
    size_t pending; /* commands sent whose replies are not read yet */
    sl_tbuf key;
};

/* Checks the key template: {ad_id}, {campaign_id} and {window_start} only, one id at least. */
static int check_template(const sl_opts *o, const char *tpl, char *msg, size_t msglen)
{
    int ids = 0;
    for (const char *p = tpl; (p = strchr(p, '{')) != NULL; p++) {
        if (strncmp(p, "{ad_id}", 7) == 0 || strncmp(p, "{campaign_id}", 13) == 0)
            ids++;
        else if (strncmp(p, "{window_start}", 14) != 0)
            return sl_opts_fail(o, PFX, "key", msg, msglen,
                                "unknown placeholder at \"%.20s\" (expected {ad_id}, "
                                "{campaign_id} or {window_start})",
                                p);
    }
    if (!ids)
        return sl_opts_fail(o, PFX, "key", msg, msglen,
                            "expected {ad_id} (or {campaign_id}) in the key, got \"%s\"", tpl);
    return 0;
}

static int read_cfg(const sl_topology *t, struct rcfg *r, char *msg, size_t msglen)
{
    const sl_opts *o = &t->sink.opts;
    *r = (struct rcfg){
        .address = "127.0.0.1:6379", .key = "sluice:{ad_id}", .batch = 1000, .timeout_ms = 5000};
    int rc =
        sl_opts_known(o, PFX, "sink type redis", keys, sizeof keys / sizeof *keys, msg, msglen);
    if (rc || (rc = sl_opts_str(o, PFX, "address", r->address, sizeof r->address, msg, msglen)) ||
        (rc = sl_opts_str(o, PFX, "key", r->key, sizeof r->key, msg, msglen)) ||
        (rc = sl_opts_u64(o, PFX, "batch", 1, 1000000, &r->batch, msg, msglen)) ||
        (rc = sl_opts_u64(o, PFX, "timeout_ms", 1, 3600000, &r->timeout_ms, msg, msglen)) ||
        (rc = sl_opts_u64(o, PFX, "db", 0, 1000000, &r->db, msg, msglen)))
        return rc;
    const char *colon = strrchr(r->address, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == r->address || !end || *end || end == colon + 1 || port < 1 ||
        port > 65535)
        return sl_opts_fail(o, PFX, "address", msg, msglen, "expected HOST:PORT, got \"%s\"",
                            r->address);
    snprintf(r->host, sizeof r->host, "%.*s", (int)(colon - r->address), r->address);
    if (r->host[0] == '[' && r->host[strlen(r->host) - 1] == ']') { /* [::1]:6379 */
        memmove(r->host, r->host + 1, strlen(r->host));
        r->host[strlen(r->host) - 1] = '\0';
    }
    r->port = (int)port;
    return check_template(o, r->key, msg, msglen);
}

int sl_sink_redis_check(const sl_topology *t, char *msg, size_t msglen)
{
    struct rcfg r;
    return read_cfg(t, &r, msg, msglen);
}

/* Sends one command and reads its reply; fails with "WHAT: reason". */
static int command(struct rsink *rs, char *msg, size_t msglen, const char *what, int argc,
                   const char **argv)
{
    redisReply *rep = redisCommandArgv(rs->c, argc, argv, NULL);
    if (!rep) {
        snprintf(msg, msglen, "sink redis at %s: %s: %s", rs->cfg.address, what,
                 rs->c->errstr[0] ? rs->c->errstr : "no reply");
        return SL_EIO;
    }
    int rc = 0;
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(msg, msglen, "sink redis at %s: %s: %s", rs->cfg.address, what, rep->str);
        rc = SL_EIO;
    }
    freeReplyObject(rep);
    return rc;
}

static int rsink_open(sl_sink *s, const sl_topology *t, FILE *out, char *msg, size_t msglen)
{
    (void)out;
    struct rsink *rs = calloc(1, sizeof *rs);
    if (!rs)
        return SL_ENOMEM;
    s->be = rs;
    int rc = read_cfg(t, &rs->cfg, msg, msglen);
    if (rc)
        return rc;
    struct timeval tv = {.tv_sec = (time_t)(rs->cfg.timeout_ms / 1000),
                         .tv_usec = (suseconds_t)(rs->cfg.timeout_ms % 1000) * 1000};
    rs->c = redisConnectWithTimeout(rs->cfg.host, rs->cfg.port, tv);
    if (!rs->c || rs->c->err) {
        snprintf(msg, msglen, "sink redis: cannot connect to %s: %s", rs->cfg.address,
                 rs->c ? rs->c->errstr : "out of memory");
        return SL_EIO;
    }
    if (redisSetTimeout(rs->c, tv) != REDIS_OK) {
        snprintf(msg, msglen, "sink redis at %s: cannot set a timeout: %s", rs->cfg.address,
                 rs->c->errstr);
        return SL_EIO;
    }
    const char *ping[] = {"PING"};
    if ((rc = command(rs, msg, msglen, "PING", 1, ping)))
        return rc;
    if (rs->cfg.db) {
        char db[24];
        snprintf(db, sizeof db, "%" PRIu64, rs->cfg.db);
        const char *sel[] = {"SELECT", db};
        if ((rc = command(rs, msg, msglen, "SELECT (sink.db)", 2, sel)))
            return rc;
    }
    return 0;
}

/* Reads and checks the replies of every command sent. */
static int drain(sl_sink *s, struct rsink *rs)
{
    int rc = 0;
    for (; rs->pending > 0; rs->pending--) {
        void *r = NULL;
        if (redisGetReply(rs->c, &r) != REDIS_OK || !r) {
            snprintf(s->msg, sizeof s->msg, "sink redis at %s: HSET: %s", rs->cfg.address,
                     rs->c->errstr[0] ? rs->c->errstr : "no reply");
            rs->pending = 0;
            return SL_EIO;
        }
        redisReply *rep = r;
        if (rep->type == REDIS_REPLY_ERROR && !rc) {
            snprintf(s->msg, sizeof s->msg, "sink redis at %s: HSET: %s", rs->cfg.address,
                     rep->str);
            rc = SL_EIO;
        }
        freeReplyObject(rep);
    }
    return rc;
}

/* The hash's name for row nm into rs->key. */
static void key_of(const sl_sink *s, struct rsink *rs, const struct sl_named *nm)
{
    sl_tbuf *b = &rs->key;
    b->len = 0;
    int has_ws = 0;
    for (const char *p = rs->cfg.key; *p;) {
        if (strncmp(p, "{ad_id}", 7) == 0 || strncmp(p, "{campaign_id}", 13) == 0) {
            /* a composite key's parts joined with ':' */
            const char *id = nm->id, *end = nm->id + nm->len, *sep;
            while ((sep = memchr(id, SL_KEY_SEP, (size_t)(end - id)))) {
                sl_tb_put(b, id, (size_t)(sep - id));
                sl_tb_put(b, ":", 1);
                id = sep + 1;
            }
            sl_tb_put(b, id, (size_t)(end - id));
            p = strchr(p, '}') + 1;
        } else if (strncmp(p, "{window_start}", 14) == 0) {
            sl_tb_printf(b, "%" PRId64, nm->row->window_start);
            has_ws = 1;
            p += 14;
        } else {
            sl_tb_put(b, p++, 1);
        }
    }
    if (s->windowed && !has_ws)
        sl_tb_printf(b, ":%" PRId64, nm->row->window_start);
}

static int rsink_write(sl_sink *s, const sl_emission *em)
{
    struct rsink *rs = s->be;
    char vals[NFIELDS][400];
    size_t lens[2 + 2 * NFIELDS];
    const char *argv[2 + 2 * NFIELDS];
    for (size_t i = 0; i < em->n; i++) {
        const struct sl_named *nm = &em->rows[i];
        const sl_row *r = nm->row;
        int argc = 0;
        key_of(s, rs, nm);
        if (rs->key.oom)
            return SL_ENOMEM;
        argv[argc] = "HSET", lens[argc++] = 4;
        argv[argc] = rs->key.p, lens[argc++] = rs->key.len;
        for (int c = 0; c < s->cols.n; c++) {
            argv[argc] = s->cols.name[c], lens[argc++] = strlen(s->cols.name[c]);
            size_t len;
            if (s->cols.fmt[c] == SL_COLFMT_KEY) {
                argv[argc] = sl_sink_key_text(s, r->v[c], vals[c], sizeof vals[c], &len);
            } else {
                sl_columns_format(&s->cols, c, r->v[c], vals[c], sizeof vals[c]);
                argv[argc] = vals[c];
                len = strlen(vals[c]);
            }
            lens[argc++] = len;
        }
        int f = s->cols.n;
#define FIELD(name, ...)                                                                           \
    do {                                                                                           \
        snprintf(vals[f], sizeof vals[f], __VA_ARGS__);                                            \
        argv[argc] = name, lens[argc++] = strlen(name);                                            \
        argv[argc] = vals[f], lens[argc++] = strlen(vals[f]);                                      \
        f++;                                                                                       \
    } while (0)
        if (s->windowed)
            FIELD("window_start", "%" PRId64, r->window_start);
        if (s->meta) {
            FIELD("emit", "%s", em->label);
            FIELD("emit_seq", "%" PRIu64, em->seq);
            FIELD("emit_time_ms", "%" PRId64, em->time_ms);
            if (em->has_watermark)
                FIELD("emit_watermark_ms", "%" PRId64, em->watermark_ms);
        }
#undef FIELD
        if (redisAppendCommandArgv(rs->c, argc, argv, lens) != REDIS_OK) {
            snprintf(s->msg, sizeof s->msg, "sink redis at %s: HSET: %s", rs->cfg.address,
                     rs->c->errstr[0] ? rs->c->errstr : "out of memory");
            return SL_EIO;
        }
        if (++rs->pending >= rs->cfg.batch) {
            int rc = drain(s, rs);
            if (rc)
                return rc;
        }
    }
    return drain(s, rs);
}

static void rsink_close(sl_sink *s)
{
    struct rsink *rs = s->be;
    if (!rs)
        return;
    if (rs->c)
        redisFree(rs->c);
    sl_tb_free(&rs->key);
    free(rs);
    s->be = NULL;
}

const sl_sink_ops sl_sink_redis_ops = {rsink_open, rsink_write, NULL, rsink_close};
