/* The cluster client; see client.h and host/job.h. */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addict.h"
#include "coord.h"
#include "err.h"
#include "hugemem.h"
#include "resume.h"
#include "inbox.h"
#include "ingest.h"
#include "jointab.h"
#include "lebytes.h"
#include "memtrim.h"
#include "node.h"
#include "outbox.h"
#include "partmap.h"
#include "pes.h"
#include "poller.h"
#include "proto.h"
#include "sink.h"
#include "source.h"

#define CHUNK 65536
#define FINAL_RESERVE_MAX ((size_t)1 << 24) /* final rows sized at once by the ids at most */
#define SEND_LIMIT ((size_t)8 << 20)        /* queued bytes per node before the input waits */
#define FULL_ACK_US UINT64_C(200000)        /* every acknowledgement is repeated this often */
#define STALL_US UINT64_C(1000000)          /* a loop turn this late means the client stalled */
/* A node's new snapshot waits at most this long for the other nodes' of the same moment before
 * the client writes what it has (their every_ms triggers fire together: tick_jobs, node.c). */
#define SNAP_HOLD_US UINT64_C(10000)
#define SNAP_WAIT_MS 5  /* the longest a read waits with snapshots on: the client's turns */
#define ZK_WAIT_MS 1000 /* the longest an attempt waits for ZooKeeper to record its players */

struct rows {
    sl_row *r;
    size_t n, cap;
    uint32_t *from; /* window rows with checkpoints: the node each came from (KEPT: committed) */
    size_t capfrom;
};
#define KEPT UINT32_MAX

/* Snapshots (sink.snapshots): keys are partitioned, so the union of every node's latest
 * complete snapshot is the state of the whole job, which the client writes as one emission. */
struct snapnode {
    struct rows pending; /* rows of the snapshot on its way (before its SL_MSG_SNAPSHOT_END) */
    struct rows latest;  /* the node's latest complete snapshot */
    int have, fresh;     /* latest holds one; it came after the last emission */
    int32_t have_watermark;
    int64_t watermark_ms; /* the node's watermark at that snapshot */
};

struct snaps {
    struct snapnode node[SL_NODES_MAX];
    int layout;              /* the sink has its columns (from the first snapshot's end) */
    uint64_t fresh_since_us; /* when the first snapshot since the last emission came; 0: none */
    uint64_t expect;         /* bit d: the next emission waits for node d (0: for every node) */
    struct rows all;         /* the union handed to the sink */
};

struct client {
    const sl_client_opts *o;
    uint32_t n, job_id;
    /* node d's job instance runs on node host[d] under job id jid[d]: d and job_id, or, once
     * node d failed and a survivor plays it (sl_client_recovery.host), that survivor and an id
     * of its own, so that the survivor tells its two instances apart */
    uint32_t host[SL_NODES_MAX], jid[SL_NODES_MAX];
    sl_netctx *net;
    void *zctx; /* sl_netctx_zmq(net) */
    sl_poller *poller;
    sl_inbox *results, *ctl;
    sl_outbox *to[SL_NODES_MAX], *ctl_to[SL_NODES_MAX];
    struct rows final, windows;
    uint32_t done;
    int done_from[SL_NODES_MAX];
    uint64_t heard_us[SL_NODES_MAX]; /* when each node was last heard from */
    uint64_t last_lease_us, last_full_ack_us, last_turn_us;
    sl_client_report *crep;
    uint64_t stale;
    char *msg;
    size_t msglen;
    /* ingest: records are partitioned by owner, then queued per node */
    const sl_partmap *map;
    sl_rec *part;
    size_t *npart;
    uint32_t nattr;      /* schema.attributes: words per record (0: none) */
    uint64_t *part_attr; /* nattr words for each record of part */
    unsigned char *wide; /* one node's records with their attributes, as the frames carry them */
    sl_pipeline_report *rep;
    uint64_t polls;
    sl_addict *dict; /* ids for the sink; filled by the nodes (SL_MSG_DICT) when they ingest */
    /* checkpoints (o->rec): barriers sent and not yet written by every node */
    sl_source *src;
    uint64_t last_barrier_us;
    int logging, replaying; /* the ingest log is written (a source that cannot be read again) */
    char ckpt_dir[4096];    /* the job's checkpoint.dir, absolute */
    struct barrier {
        uint64_t id, acked;        /* acked: bit d, node d wrote it */
        size_t wpos[SL_NODES_MAX]; /* window rows received when node d took the barrier */
        uint64_t cut;              /* bit d: node d said where it took it (status 3) */
        uint64_t answered;         /* bit d: node d said how it ended (written, failed, ended) */
        int dropped;               /* a node failed it or had ended: it will not be complete */
        int savepoint;             /* asked for by a savepoint request: copied once complete */
        sl_source_stats at;
        uint64_t types[4];
    } pend[8];
    uint32_t npend;
    sl_sink *sink; /* for snapshots while the job runs */
    struct snaps snap;
    int acked_once[SL_NODES_MAX];       /* node d acknowledged something of this attempt */
    uint64_t restored_us, caught_up_us; /* recovery timing (recovery_progress) */
    uint64_t catch_frames[SL_NODES_MAX];
    int catch_set;
    uint64_t again_bytes; /* input read again after a failure (from the checkpoint's offset) */
    int input_ended;      /* the EOS went out: no more barriers */
    int on_nodes;         /* source.ingest: nodes: each node reads (and checkpoints) its part */
};

/* Appends n rows copied from `r` (any alignment: a frame's payload). */
/* Node d's stream of the first stage. */
static uint32_t stream_of(const struct client *c, uint32_t d)
{
    return sl_job_stream(c->jid[d], 0);
}

/* The node whose job instance runs under job id `job` on node `source` (a lease's sender), or
 * UINT32_MAX. */
static uint32_t node_of(const struct client *c, uint32_t source, uint32_t job)
{
    if (source < c->n && c->jid[source] == job && c->host[source] == source)
        return source;
    for (uint32_t d = 0; d < c->n; d++)
        if (c->jid[d] == job && c->host[d] == source)
            return d;
    return UINT32_MAX;
}

/* Notes that the last n rows of v came from node `from`. Returns 0 or SL_ENOMEM. */
static int rows_from(struct rows *v, size_t n, uint32_t from)
{
    if (v->n > v->capfrom) {
        size_t cap = v->capfrom ? v->capfrom : 4096;
        while (cap < v->n)
            cap *= 2;
        uint32_t *nf = realloc(v->from, cap * sizeof *nf);
        if (!nf)
            return SL_ENOMEM;
        v->from = nf;
        v->capfrom = cap;
    }
    for (size_t i = v->n - n; i < v->n; i++)
        v->from[i] = from;
    return 0;
}

/* Checkpoint b is complete: the window rows each node sent before it took the barrier (they came
 * before its cut, status 3, on the same stream) are kept in rec->win for the attempts after a
 * failure. */
static int commit_windows(struct client *c, const struct barrier *b)
{
    sl_client_recovery *rec = c->o->rec;
    struct rows *v = &c->windows;
    size_t k = 0;
    for (size_t i = 0; i < v->n; i++)
        if (v->from[i] == KEPT || i < b->wpos[v->from[i]]) {
            v->from[i] = KEPT;
            k++;
        }
    sl_row *w = k ? malloc(k * sizeof *w) : NULL;
    if (k && !w)
        return SL_ENOMEM;
    k = 0;
    for (size_t i = 0; i < v->n; i++)
        if (v->from[i] == KEPT)
            w[k++] = v->r[i];
    free(rec->win);
    rec->win = w;
    rec->nwin = k;
    return 0;
}

/* Makes room for `want` rows in all, the rows kept. 0 or SL_ENOMEM (v as it was). A fresh
 * array in huge pages once large (hugemem.h): the rows are written into fresh memory either
 * way, and the first touch of small pages is what costs here. */
static int rows_reserve(struct rows *v, size_t want)
{
    if (v->cap >= want)
        return 0;
    sl_row *nr = sl_huge_alloc(want * sizeof *nr);
    if (!nr)
        return SL_ENOMEM;
    if (v->n)
        memcpy(nr, v->r, v->n * sizeof *nr);
    sl_huge_free(v->r);
    v->r = nr;
    v->cap = want;
    return 0;
}

static int rows_add(struct rows *v, const void *r, size_t n)
{
    if (n == 0)
        return 0; /* r and v->r may be NULL */
    if (v->n + n > v->cap) {
        size_t cap = v->cap ? v->cap : 4096;
        while (cap < v->n + n)
            cap *= 2;
        if (rows_reserve(v, cap))
            return SL_ENOMEM;
    }
    memcpy(v->r + v->n, r, n * sizeof(sl_row));
    v->n += n;
    return 0;
}

/* Every node acknowledged everything sent to it (its queue is empty). */
static int all_sent(const struct client *c)
{
    for (uint32_t d = 0; d < c->n; d++)
        if (c->to[d] && sl_outbox_queued_bytes(c->to[d]))
            return 0;
    return 1;
}

static void on_reject(void *ud, int verdict, const sl_frame_hdr *h, size_t len, int64_t detail)
{
    struct client *c = ud;
    (void)h;
    (void)detail;
    c->crep->rejected++;
    if (!c->o->quiet)
        fprintf(stderr, "sluice: rejected a %zu-byte result frame: %s\n", len,
                verdict >= 0    ? sl_frame_verdict_name(verdict)
                : verdict == -1 ? "duplicate"
                                : "gap before it");
}

/* Checks a column layout a node sent before the sink uses it. */
static int check_layout(const sl_columns *cols, int32_t windowed)
{
    if (cols->n < 1 || cols->n > SL_COLUMNS_MAX || (windowed != 0 && windowed != 1))
        return -1;
    for (int i = 0; i < cols->n; i++) {
        if (!memchr(cols->name[i], '\0', sizeof cols->name[i]) ||
            (unsigned)cols->fmt[i] > SL_COLFMT_KEY || cols->decimals[i] < 0 ||
            cols->decimals[i] > 30)
            return -1;
    }
    return 0;
}

static int log_open(struct client *c, char *msg, size_t msglen);

/* Checkpoint rec->ckpt_id is complete: the client's part goes beside the nodes' (resume.h), and
 * a savepoint's copy is made. A failure is said and counted; the run goes on. */
static void client_point(struct client *c, int savepoint)
{
    sl_client_recovery *rec = c->o->rec;
    char why[1200];
    if (sl_resume_write(c->ckpt_dir, c->o->po->topo, c->n, rec, why, sizeof why)) {
        fprintf(stderr, "sluice: checkpoint %" PRIu64 ": the client's part: %s\n", rec->ckpt_id,
                why);
        rec->failed++;
        return;
    }
    if (!savepoint)
        return;
    char to[4400];
    snprintf(to, sizeof to, "%s/savepoints", c->ckpt_dir);
    mkdir(to, 0755);
    snprintf(to, sizeof to, "%s/savepoints/sp-%" PRIu64, c->ckpt_dir, rec->ckpt_id);
    if (sl_resume_copy(c->ckpt_dir, rec->ckpt_id, c->n, to, why, sizeof why))
        fprintf(stderr, "sluice: savepoint %" PRIu64 " failed: %s\n", rec->ckpt_id, why);
    else
        fprintf(stderr, "sluice: savepoint %" PRIu64 " written to %s\n", rec->ckpt_id, to);
}

/* Node `node` wrote (or could not write) the checkpoint of an SL_MSG_CKPT_DONE payload; once
 * every node has written one, it is the recovery's newest, with the source's offset at its
 * barrier, and the barriers before it are forgotten. */
static void ckpt_done(struct client *c, uint32_t node, const unsigned char *p, size_t len)
{
    sl_client_recovery *rec = c->o->rec;
    if (!rec || len < 12)
        return;
    uint64_t id = sl_le_get(p, 8);
    uint64_t status = sl_le_get(p + 8, 4);
    int ok = status == 1;
    const uint64_t all = c->n == 64 ? UINT64_MAX : (UINT64_C(1) << c->n) - 1;
    /* a job with several stages has one barrier at a time (send_barrier): it is forgotten only
     * once every node has answered, since a node answers once all its stages have taken it */
    const int one_at_a_time = c->o->po->topo->nnext > 0;
    for (uint32_t i = 0; i < c->npend; i++) {
        struct barrier *b = &c->pend[i];
        if (b->id != id)
            continue;
        if (status != 3)
            b->answered |= UINT64_C(1) << node;
        if (status == 2) { /* the node's input had ended: a checkpoint of nothing to go back to */
            b->dropped = 1;
            if (!one_at_a_time || b->answered == all)
                c->pend[i] = c->pend[--c->npend];
            return;
        }
        if (status == 3) { /* the node took the barrier here: its window rows before it count */
            b->wpos[node] = c->windows.n;
            b->cut |= UINT64_C(1) << node;
            return;
        }
        if (!ok) {
            if (!c->o->quiet)
                fprintf(stderr,
                        "sluice: checkpoint %" PRIu64 " failed on node %u: %.*s (the previous "
                        "one stays usable)\n",
                        id, node, (int)(len - 12), (const char *)p + 12);
            rec->failed++;
            b->dropped = 1;
            if (!one_at_a_time || b->answered == all)
                c->pend[i] = c->pend[--c->npend];
            return;
        }
        b->acked |= UINT64_C(1) << node;
        if (b->dropped) {
            if (b->answered == all)
                c->pend[i] = c->pend[--c->npend];
            return;
        }
        if (!(b->cut >> node & 1))
            b->wpos[node] = c->windows.n;
        if (b->acked != all)
            return;
        rec->ckpt_id = id;
        rec->at = b->at;
        rec->restore_dir[0] = '\0';
        if (c->logging && rec->log)
            sl_ingestlog_prune(rec->log, id);
        memcpy(rec->types, b->types, sizeof rec->types);
        rec->written++;
        if (c->windows.from && commit_windows(c, b)) {
            fprintf(stderr, "sluice: checkpoint %" PRIu64 ": out of memory keeping its windows\n",
                    id);
            rec->failed++;
            return;
        }
        client_point(c, b->savepoint);
        uint32_t k = 0; /* keep only the later barriers */
        for (uint32_t j = 0; j < c->npend; j++)
            if (c->pend[j].id > id)
                c->pend[k++] = c->pend[j];
        c->npend = k;
        return;
    }
}

/* Checkpoints: once every_ms has passed, a barrier behind the records sent so far goes to every
 * node (at most 8 in flight), with the source's counters as they are now. */
static int send_barrier(struct client *c)
{
    sl_client_recovery *rec = c->o->rec;
    uint64_t now = sl_net_now_us();
    uint64_t every = (uint64_t)c->o->po->topo->checkpoint.every_ms * 1000;
    /* none while the ingest log is sent again: a checkpoint completed then would remove the
     * segments not yet sent */
    int asked = rec && c->o->savepoint && *c->o->savepoint > rec->savepoints_seen;
    if (asked && c->input_ended) {
        rec->savepoints_seen = *c->o->savepoint;
        fprintf(stderr, "sluice: savepoint not taken: the input has ended\n");
        return 0;
    }
    /* a job with several stages: one barrier at a time (a node's stages take it one after the
     * other, host/cluster/node.c, take_checkpoint) */
    size_t most = c->o->po->topo->nnext ? 1 : sizeof c->pend / sizeof c->pend[0];
    if (!rec || !every || (!c->src && !c->on_nodes) || c->input_ended || c->replaying ||
        (now - c->last_barrier_us < every && !asked) || c->npend >= most)
        return 0;
    if (asked)
        rec->savepoints_seen = *c->o->savepoint;
    c->last_barrier_us = now;
    if (rec->next_id <= rec->ckpt_id)
        rec->next_id = rec->ckpt_id + 1;
    struct barrier *b = &c->pend[c->npend++];
    b->id = rec->next_id++;
    if (c->logging) {
        /* what came before the barrier is on disk before the barrier leaves; what comes after
         * goes to the barrier's own segment */
        int rc = log_open(c, c->msg, c->msglen);
        if (rc || (rc = sl_ingestlog_roll(rec->log, b->id, c->msg, c->msglen)))
            return rc;
    }
    b->acked = 0;
    b->cut = 0;
    b->answered = 0;
    b->dropped = 0;
    b->savepoint = asked;
    memset(&b->at, 0, sizeof b->at);
    if (c->src)
        sl_source_get_stats(c->src, &b->at);
    memcpy(b->types, c->rep->engine.type_counts, sizeof b->types);
    unsigned char id[16];
    sl_le_put(id, b->id, 8);
    sl_le_put(id + 8, rec->ckpt_id, 8); /* the nodes keep it: a recovery loads it */
    for (uint32_t d = 0; d < c->n; d++)
        if (sl_outbox_control(c->to[d], SL_MSG_BARRIER, stream_of(c, d), id, 16))
            return SL_ENOMEM;
    return 0;
}

/* Records the ids of an SL_MSG_DICT payload from node `node` for the sink. Returns 0, or an
 * sl_err with c->msg (two ids with one key: the one-process run would refuse the second id's
 * lines; here the job fails rather than merge two ads). A malformed payload is counted as a
 * rejected frame. */
static int take_dict(struct client *c, uint32_t node, const unsigned char *p, size_t len)
{
    size_t at = 0, idlen;
    uint64_t key, k;
    const char *id;
    int r;
    while ((r = sl_addict_entry_get(p, len, &at, &key, &id, &idlen)) == 1) {
        int rc = sl_addict_intern(c->dict, id, idlen, &k);
        if (rc == SL_ENOMEM) {
            snprintf(c->msg, c->msglen, "out of memory keeping ad ids");
            return rc;
        }
        if (rc == SL_ECOLLISION) {
            snprintf(c->msg, c->msglen,
                     "node %u read an ad id (%zu bytes) whose 64-bit key another id has: the two "
                     "ads cannot be told apart",
                     node, idlen);
            return SL_ECOLLISION;
        }
        if (rc || k != key) {
            c->crep->rejected++; /* an id that does not hash to its key: a broken frame */
            return 0;
        }
    }
    if (r < 0)
        c->crep->rejected++;
    return 0;
}

/* Checks what the sink will use from a node's report: its stage count and column layout. */
static int check_report(sl_node_report *r, uint32_t node)
{
    if (r->node != node || r->stages < 1 || r->stages > SL_STAGES_MAX ||
        (r->have_watermark != 0 && r->have_watermark != 1))
        return -1;
    return check_layout(&r->cols, r->windowed);
}

/* The sink's clock on a cluster (sl_sink_set_clock). While the job runs (snapshots): the
 * smallest watermark of the nodes' snapshots in the emission, each the largest event time that
 * node had taken less the first PE's lateness, so that every node's part has seen at least
 * that far (nodes that took no event yet are left out). Once every node is done (the windows and
 * final emissions): the largest, i.e. the largest event time of the whole input less the
 * lateness, the one-process run's watermark. */
static int64_t cluster_watermark(void *ud)
{
    const struct client *c = ud;
    int have = 0, end = c->done == c->n;
    int64_t w = 0;
    for (uint32_t d = 0; d < c->n; d++) {
        const struct snapnode *sn = &c->snap.node[d];
        const sl_node_report *r = &c->crep->node[d];
        int h = end ? r->have_watermark : sn->have && sn->have_watermark;
        int64_t v = end ? r->watermark_ms : sn->watermark_ms;
        if (h && (!have || (end ? v > w : v < w)))
            w = v;
        have |= h;
    }
    return have ? w : SL_SINK_NO_WATERMARK;
}

/* A node's SL_MSG_SNAPSHOT_END: the rows received since its last one become its latest
 * snapshot. Returns 0, or SL_EPARSE when the marker is malformed or disagrees with the rows. */
static int snap_end(struct client *c, uint32_t node, const void *payload, uint64_t len)
{
    struct snapnode *sn = &c->snap.node[node];
    sl_snap_end m;
    if (len != sizeof m) {
        snprintf(c->msg, c->msglen, "node %u sent a snapshot end of %" PRIu64 " bytes, not %zu",
                 node, len, sizeof m);
        return SL_EPARSE;
    }
    memcpy(&m, payload, sizeof m);
    if (m.rows != sn->pending.n || check_layout(&m.cols, m.windowed) ||
        (m.have_watermark != 0 && m.have_watermark != 1)) {
        snprintf(c->msg, c->msglen,
                 "node %u sent snapshot %" PRIu64
                 " out of bounds (%zu rows came, its end says %" PRIu64 ")",
                 node, m.seq, sn->pending.n, m.rows);
        return SL_EPARSE;
    }
    struct rows t = sn->latest;
    sn->latest = sn->pending;
    sn->pending = t;
    sn->pending.n = 0;
    sn->have = sn->fresh = 1;
    sn->have_watermark = m.have_watermark;
    sn->watermark_ms = m.watermark_ms;
    if (!c->snap.layout) {
        sl_sink_set_layout(c->sink, &m.cols, m.windowed);
        if (sl_topology_rekeyed(c->o->po->topo))
            sl_sink_set_key_name(c->sink, "campaign_id");
        c->snap.layout = 1;
    }
    if (!c->snap.fresh_since_us)
        c->snap.fresh_since_us = sl_net_now_us();
    return 0;
}

/* Writes the union of the nodes' latest snapshots as one SL_EMIT_SNAPSHOT emission when it is
 * due: every node the emission waits for has sent one since the last emission (a round: the
 * nodes' every_ms triggers fire together), or the first of them has waited SNAP_HOLD_US (a node
 * that is late, or triggers that fire per node: every_events). After a round the next emission
 * waits for every node; after a wait cut short, only for the nodes that were missing, so that a
 * late node's snapshot is written as soon as it comes rather than held again. Once every node is
 * done, the final emission supersedes what is left. Returns 0 or the sink's error. */
static int snap_emit(struct client *c)
{
    struct snaps *sp = &c->snap;
    if (!sp->fresh_since_us || c->done == c->n || !c->sink)
        return 0;
    uint64_t expect = sp->expect ? sp->expect : UINT64_MAX, missing = 0;
    for (uint32_t d = 0; d < c->n; d++)
        if (((expect >> d) & 1) && !c->done_from[d] && !sp->node[d].fresh)
            missing |= UINT64_C(1) << d;
    if (missing && sl_net_now_us() - sp->fresh_since_us < SNAP_HOLD_US)
        return 0;
    sp->expect = missing;
    sp->all.n = 0;
    for (uint32_t d = 0; d < c->n; d++) {
        struct snapnode *sn = &sp->node[d];
        if (sn->latest.n && rows_add(&sp->all, sn->latest.r, sn->latest.n)) {
            snprintf(c->msg, c->msglen, "out of memory gathering a snapshot");
            return SL_ENOMEM;
        }
        sn->fresh = 0;
    }
    sp->fresh_since_us = 0;
    int rc = sl_sink_emit(c->sink, SL_EMIT_SNAPSHOT, sp->all.r, sp->all.n);
    if (rc)
        snprintf(c->msg, c->msglen, "%s",
                 sl_sink_message(c->sink)[0] ? sl_sink_message(c->sink) : sl_strerror(rc));
    return rc;
}

/* How long service may wait: not past the moment a held snapshot is due (SNAP_HOLD_US). */
static int snap_wait_ms(const struct client *c, int wait_ms)
{
    if (!c->snap.fresh_since_us)
        return wait_ms;
    uint64_t now = sl_net_now_us(), due = c->snap.fresh_since_us + SNAP_HOLD_US;
    int left = now >= due ? 0 : (int)((due - now + 999) / 1000);
    return left < wait_ms ? (left < 1 ? 1 : left) : wait_ms;
}

static void snap_free(struct snaps *sp)
{
    for (uint32_t d = 0; d < SL_NODES_MAX; d++) {
        free(sp->node[d].pending.r);
        free(sp->node[d].latest.r);
    }
    free(sp->all.r);
}

/* Takes every result frame waiting. Returns 0, or an sl_err when a node aborted the job. */
static int receive(struct client *c)
{
    sl_frame f;
    int r;
    while ((r = sl_inbox_recv(c->results, &f)) == 1) {
        const sl_frame_hdr *h = &f.h;
        if (h->source >= c->n || sl_stream_job(h->stream) != c->jid[h->source]) {
            c->stale++;
            continue;
        }
        c->heard_us[h->source] = sl_net_now_us();
        if (h->kind == SL_FRAME_DATA && h->schema == SL_SCHEMA_ROW_SNAPSHOT) {
            if (rows_add(&c->snap.node[h->source].pending, f.payload, h->count)) {
                snprintf(c->msg, c->msglen, "out of memory keeping a snapshot");
                return SL_ENOMEM;
            }
        } else if (h->kind == SL_MSG_SNAPSHOT_END) {
            int rc = snap_end(c, h->source, f.payload, h->payload_len);
            if (rc)
                return rc;
        } else if (h->kind == SL_FRAME_DATA) {
            struct rows *v = h->schema == SL_SCHEMA_ROW_FINAL     ? &c->final
                             : h->schema == SL_SCHEMA_ROW_WINDOWS ? &c->windows
                                                                  : NULL;
            if (!v) {
                c->stale++;
                continue;
            }
            /* the final rows: about one a key, and the ids (ahead of them) say how many keys
             * there are; sized once, the array is not copied and touched afresh as it doubles */
            size_t keys = c->dict ? sl_addict_count(c->dict) : 0;
            if (v == &c->final && v->cap == 0 && keys > h->count && keys <= FINAL_RESERVE_MAX &&
                rows_reserve(v, keys)) {
                snprintf(c->msg, c->msglen, "out of memory keeping results");
                return SL_ENOMEM;
            }
            if (rows_add(v, f.payload, h->count) ||
                (v == &c->windows && c->o->rec && rows_from(v, h->count, h->source))) {
                snprintf(c->msg, c->msglen, "out of memory keeping results");
                return SL_ENOMEM;
            }
            /* The hook gets the aligned copy: a frame's payload need not be aligned. */
            if (c->o->on_rows)
                c->o->on_rows(c->o->rows_ud, v == &c->final ? SL_EMIT_FINAL : SL_EMIT_WINDOWS,
                              v->r + v->n - h->count, h->count, sl_net_now_us());
        } else if (h->kind == SL_MSG_DONE) {
            sl_node_report nr;
            if (h->payload_len != sizeof nr || c->done_from[h->source]) {
                c->stale++;
                continue;
            }
            memcpy(&nr, f.payload, sizeof nr);
            if (check_report(&nr, h->source)) {
                snprintf(c->msg, c->msglen, "node %u sent a report out of bounds", h->source);
                return SL_EPARSE;
            }
            c->crep->node[h->source] = nr;
            c->done_from[h->source] = 1;
            c->done++;
        } else if (h->kind == SL_MSG_CKPT_DONE) {
            ckpt_done(c, h->source, f.payload, h->payload_len);
        } else if (h->kind == SL_MSG_DICT) {
            int rc = take_dict(c, h->source, f.payload, h->payload_len);
            if (rc)
                return rc;
        } else if (h->kind == SL_MSG_BADLINE) {
            const sl_pipeline_opts *po = c->o->po;
            sl_badline b;
            if (sl_badline_decode(f.payload, h->payload_len, &b)) {
                c->crep->rejected++;
                continue;
            }
            if (po && po->on_bad &&
                po->on_bad(po->bad_ud, b.line, b.column, b.byte_offset, b.reason)) {
                snprintf(c->msg, c->msglen, "stopped at the first malformed line (--strict)");
                return SL_EPARSE;
            }
        } else if (h->kind == SL_MSG_ABORT) {
            size_t l = h->payload_len < c->msglen - 1 ? (size_t)h->payload_len : c->msglen - 1;
            memcpy(c->msg, f.payload, l);
            c->msg[l] = '\0';
            return SL_EIO;
        }
    }
    if (r < 0) {
        snprintf(c->msg, c->msglen, "receiving results failed: %s", strerror(errno));
        return SL_EIO;
    }
    return 0;
}

/* Control frames from nodes: acknowledgements of what this client sent, and nodes' leases. */
static void receive_ctl(struct client *c)
{
    sl_frame f;
    uint64_t now = sl_net_now_us();
    for (int k = 0; k < 1024 && sl_inbox_recv(c->ctl, &f) == 1; k++) {
        const sl_frame_hdr *h = &f.h;
        if (h->kind == SL_MSG_LEASE) { /* from a node's agent: its own id, the instance's job */
            uint32_t d = node_of(c, h->source, sl_stream_job(h->stream));
            if (d < c->n)
                c->heard_us[d] = now;
            continue;
        }
        if (h->source >= c->n)
            continue;
        if (h->kind == SL_FRAME_ACK) {
            sl_ack a[SL_ACK_MAX];
            long n = sl_ack_decode(f.payload, h->payload_len, a);
            for (long i = 0; i < n; i++)
                if (sl_stream_job(a[i].stream) == c->jid[h->source])
                    sl_outbox_ack(c->to[h->source], a[i].stream, a[i].next);
            if (n > 0) {
                c->heard_us[h->source] = now;
                c->acked_once[h->source] = 1;
            }
        }
    }
}

/* Acknowledges the result frames received: what changed, and everything every FULL_ACK_US.
 * Returns 1 when some node's control socket could not take its ACK now. */
static int send_acks(struct client *c, uint64_t now)
{
    int all = now - c->last_full_ack_us >= FULL_ACK_US, missed = 0;
    if (all)
        c->last_full_ack_us = now;
    sl_ack a[SL_ACK_MAX], mine[SL_ACK_MAX];
    size_t n = sl_inbox_take_acks(c->results, a, SL_ACK_MAX, all);
    for (uint32_t d = 0; d < c->n && n; d++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (a[i].source == d)
                mine[k++] = a[i];
        if (!k)
            continue;
        unsigned char buf[4 + SL_ACK_MAX * SL_ACK_BYTES];
        size_t len = sl_ack_encode(mine, k, buf);
        if (sl_outbox_send_now(c->ctl_to[d], SL_FRAME_ACK, 0, buf, len) != 0)
            missed = 1;
    }
    if (missed)
        c->last_full_ack_us = 0;
    return missed;
}

/* sl_inbox_admit_fn of the result socket: frames of this client's job from its nodes. */
static int admit_results(void *ud, const sl_frame_hdr *h)
{
    struct client *c = ud;
    return c->job_id && h->source < c->n && sl_stream_job(h->stream) == c->jid[h->source];
}

static int admit_none(void *ud, const sl_frame_hdr *h)
{
    (void)ud;
    (void)h;
    return 0;
}

/* Sends what can be sent and waits (receiving results) up to `wait_ms` for progress. */
static int service(struct client *c, int wait_ms)
{
    sl_poller *p = c->poller;
    uint64_t now = sl_net_now_us();
    sl_poller_clear(p);
    for (uint32_t d = 0; d < c->n; d++) {
        if (sl_outbox_tick(c->to[d], now) || sl_outbox_pump(c->to[d])) {
            snprintf(c->msg, c->msglen, "sending to node %u failed: %s", d, strerror(errno));
            return SL_EIO;
        }
        if (sl_outbox_queued_frames(c->to[d]))
            sl_poller_add_outbox(p, c->to[d]);
    }
    sl_poller_add_inbox(p, c->results);
    sl_poller_add_inbox(p, c->ctl);
    if (wait_ms > 0 && sl_poller_wait(p, snap_wait_ms(c, wait_ms)) < 0) {
        snprintf(c->msg, c->msglen, "waiting on the client's sockets failed: %s", strerror(errno));
        return SL_EIO;
    }
    receive_ctl(c);
    int rc = receive(c);
    if (!rc)
        rc = snap_emit(c);
    now = sl_net_now_us();
    send_acks(c, now);
    if (now - c->last_lease_us >= (uint64_t)SL_LEASE_EVERY_MS * 1000) {
        c->last_lease_us = now;
        for (uint32_t d = 0; d < c->n; d++)
            sl_outbox_send_now(c->ctl_to[d], SL_MSG_LEASE, stream_of(c, d), NULL, 0);
    }
    return rc;
}

static int check_alive_(struct client *c);

/* Fails the job when a node process died, or when a node has been silent (no lease, no
 * acknowledgement, no result) for net.liveness_ms: dead, hung, paused or cut off, it cannot be
 * told apart from here, and waiting longer would only hide it. */
static int check_alive(struct client *c)
{
    int rc = check_alive_(c);
    if (rc && c->o->rec) {
        sl_client_recovery *rec = c->o->rec;
        rec->node_failed = 1;
        rec->fail_us = sl_net_now_us();
        sl_source_stats ss;
        if (c->src)
            sl_source_get_stats(c->src, &ss);
        rec->fail_bytes = c->src ? ss.input.bytes : 0;
    }
    return rc;
}

/* After a recovery: once every node has acknowledged something of this attempt (it holds the
 * job and its state is loaded), and once the source has been read again as far as it had been
 * when the failure was seen, says how long each took. */
static void recovery_progress(struct client *c)
{
    sl_client_recovery *rec = c->o->rec;
    if (!rec || !rec->fail_us || c->caught_up_us)
        return;
    uint64_t now = sl_net_now_us();
    if (!c->restored_us) {
        for (uint32_t d = 0; d < c->n; d++)
            if (!c->acked_once[d])
                return;
        c->restored_us = now;
    }
    sl_source_stats ss;
    if (c->src)
        sl_source_get_stats(c->src, &ss);
    if (!c->catch_set) {
        if (c->replaying || (c->src && !c->logging && ss.input.bytes < rec->fail_bytes))
            return;
        /* read again as far as before: caught up once the nodes took all of it */
        for (uint32_t d = 0; d < c->n; d++) {
            sl_outbox_stats os;
            sl_outbox_get_stats(c->to[d], &os);
            c->catch_frames[d] = os.frames + sl_outbox_queued_frames(c->to[d]);
        }
        c->catch_set = 1;
    }
    for (uint32_t d = 0; d < c->n; d++) {
        sl_outbox_stats os;
        sl_outbox_get_stats(c->to[d], &os);
        if (os.frames - sl_outbox_unacked_frames(c->to[d]) < c->catch_frames[d])
            return;
    }
    c->caught_up_us = now;
    if (!c->o->quiet)
        fprintf(stderr,
                "sluice: recovered: the nodes held the job and their state %.3f s after the "
                "failure was seen, and had taken the input again up to where it was %.3f s after "
                "that (%.1f MB again)\n",
                (double)(c->restored_us - rec->fail_us) / 1e6,
                (double)(c->caught_up_us - c->restored_us) / 1e6, (double)c->again_bytes / 1e6);
    rec->fail_us = 0;
}

static int check_alive_(struct client *c)
{
    if (c->o->alive && c->o->alive(c->o->alive_ud, c->msg, c->msglen))
        return SL_EIO;
    uint64_t now = sl_net_now_us();
    if (now - c->last_turn_us > STALL_US) /* this process stalled, not the nodes */
        for (uint32_t d = 0; d < c->n; d++)
            c->heard_us[d] = now;
    c->last_turn_us = now;
    uint64_t limit = (uint64_t)c->o->cl->net.liveness_ms * 1000;
    for (uint32_t d = 0; d < c->n; d++) {
        if (c->done_from[d] || now - c->heard_us[d] <= limit)
            continue;
        const sl_node_addr *a = &c->o->cl->nodes[c->host[d]];
        snprintf(c->msg, c->msglen,
                 "node %u (%s:%u) has been silent for %.1f s (net.liveness_ms %d): it died, hung "
                 "or was cut off; the job failed",
                 d, a->host, a->port, (double)(now - c->heard_us[d]) / 1e6,
                 c->o->cl->net.liveness_ms);
        return SL_EIO;
    }
    return 0;
}

/* SL_ECANCELED once the run is given up (a second stop signal: *po->cancel). */
static int check_cancel(struct client *c)
{
    if (!c->o->po || !c->o->po->cancel || !*c->o->po->cancel)
        return 0;
    snprintf(c->msg, c->msglen, "job %u cancelled (a second stop signal): the nodes drop it",
             c->job_id);
    return SL_ECANCELED;
}

/* An sl_ingest push: each record to the node owning its key. */
/* Opens the ingest log in checkpoint.dir/client, anew, unless it is open (it lives across the
 * attempts of a recovery). */
static int log_open(struct client *c, char *msg, size_t msglen)
{
    sl_client_recovery *rec = c->o->rec;
    if (rec->log)
        return 0;
    char path[4400];
    if (mkdir(c->ckpt_dir, 0755) != 0 && errno != EEXIST) {
        snprintf(msg, msglen, "ingest log %.600s: %s", c->ckpt_dir, strerror(errno));
        return SL_EIO;
    }
    snprintf(path, sizeof path, "%s/client", c->ckpt_dir);
    return sl_ingestlog_open(path, SL_INGESTLOG_FRESH, &rec->log, msg, msglen);
}

/* Appends records, with their attributes (NULL: none), to the ingest log (opened first). */
static int log_records(struct client *c, const sl_rec *recs, const uint64_t *attrs, size_t n,
                       char *msg, size_t msglen)
{
    int rc = log_open(c, msg, msglen);
    return rc ? rc
              : sl_ingestlog_append_attrs(c->o->rec->log, recs, attrs, attrs ? c->nattr : 0, n, msg,
                                          msglen);
}

/* Logs (unless replaying) and sends records with their attributes (c->nattr words each; NULL
 * with none, sent as zeros when the job declares some). */
static int send_records(struct client *c, const sl_rec *recs, const uint64_t *attrs, size_t n,
                        char *msg, size_t msglen)
{
    if (c->logging && !c->replaying) {
        int rc = log_records(c, recs, attrs, n, msg, msglen);
        if (rc)
            return rc;
    }
    const size_t na = c->nattr;
    for (size_t i = 0; i < n; i++) {
        uint32_t d = sl_partmap_node_of_key(c->map, recs[i].key);
        size_t at = (size_t)d * CHUNK + c->npart[d]++;
        c->part[at] = recs[i];
        if (na) {
            if (attrs)
                memcpy(c->part_attr + at * na, attrs + i * na, na * sizeof *attrs);
            else
                memset(c->part_attr + at * na, 0, na * sizeof *attrs);
        }
        c->rep->engine.type_counts[recs[i].type & 3]++;
    }
    for (uint32_t d = 0; d < c->n; d++) {
        const void *payload = c->part + (size_t)d * CHUNK;
        uint32_t schema = SL_SCHEMA_REC;
        size_t rsize = sizeof(sl_rec);
        if (na && c->npart[d]) {
            rsize = sizeof(sl_rec) + 8 * na;
            schema = SL_SCHEMA_REC_ATTRS + (uint32_t)na;
            for (size_t i = 0; i < c->npart[d]; i++) {
                size_t at = (size_t)d * CHUNK + i;
                memcpy(c->wide + i * rsize, &c->part[at], sizeof(sl_rec));
                memcpy(c->wide + i * rsize + sizeof(sl_rec), c->part_attr + at * na, 8 * na);
            }
            payload = c->wide;
        }
        if (c->npart[d] &&
            sl_outbox_put(c->to[d], stream_of(c, d), schema, rsize, payload, c->npart[d])) {
            snprintf(msg, msglen, "out of memory queueing records for node %u", d);
            return SL_ENOMEM;
        }
        c->npart[d] = 0;
    }
    if (c->o->on_sent)
        c->o->on_sent(c->o->sent_ud, recs, n, sl_net_now_us());
    return 0;
}

/* sl_ingest's push: recs is the source's last read (sl_ingest_run), so its attributes are the
 * source's. */
static int push_records(void *ud, const sl_rec *recs, size_t n, char *msg, size_t msglen)
{
    struct client *c = ud;
    const uint64_t *attrs = c->nattr && c->src ? sl_source_attrs(c->src) : NULL;
    return send_records(c, recs, attrs, n, msg, msglen);
}

/* An sl_ingest turn: sockets, leases and liveness, and back-pressure: while any node holds too
 * much unacknowledged, wait here (results keep flowing in) instead of reading on. */
static int turn(void *ud, char *msg, size_t msglen)
{
    struct client *c = ud;
    (void)msg; /* c->msg is the same buffer */
    (void)msglen;
    int rc;
    if ((rc = service(c, 0)) || (rc = check_alive(c)) || (rc = check_cancel(c)) ||
        (rc = send_barrier(c)))
        return rc;
    recovery_progress(c);
    for (;;) {
        int full = 0;
        for (uint32_t d = 0; d < c->n; d++)
            if (sl_outbox_queued_bytes(c->to[d]) > SEND_LIMIT)
                full = 1;
        if (!full)
            return 0;
        if ((rc = service(c, 20)))
            return rc;
        if ((++c->polls % 5) == 0 && ((rc = check_alive(c)) || (rc = check_cancel(c))))
            return rc;
    }
}

/* The job's life when the nodes read its input (source.ingest: nodes): once every node has
 * taken the JOB frame (acknowledged it), GO tells them to start reading; on a stop signal STOP
 * tells them to close their inputs and finish. Both are repeated with the leases. Returns when
 * every node is done, or an sl_err. */
static int run_on_nodes(struct client *c)
{
    const sl_pipeline_opts *po = c->o->po;
    uint32_t stream0 = sl_job_stream(c->job_id, 0);
    uint64_t last_sent = 0;
    int go = 0, stop_sent = 0;
    while (c->done < c->n) {
        int rc;
        if ((rc = service(c, 20)) || (rc = check_alive(c)) || (rc = check_cancel(c)))
            return rc;
        uint64_t now = sl_net_now_us();
        if (!go) {
            go = 1;
            for (uint32_t d = 0; d < c->n; d++)
                if (sl_outbox_queued_bytes(c->to[d]))
                    go = 0; /* its JOB frame is not acknowledged yet */
            if (go) {
                last_sent = 0;
                /* the first checkpoint every_ms after the nodes took the job: one at once would
                 * hold nothing worth keeping */
                c->last_barrier_us = now;
            }
        }
        int stopping = po && po->stop && *po->stop;
        if (!go ||
            (now - last_sent < (uint64_t)SL_LEASE_EVERY_MS * 1000 && !(stopping && !stop_sent)))
            continue;
        last_sent = now;
        for (uint32_t d = 0; d < c->n; d++) {
            sl_outbox_send_now(c->ctl_to[d], SL_MSG_GO, stream0, NULL, 0);
            if (stopping)
                sl_outbox_send_now(c->ctl_to[d], SL_MSG_STOP, stream0, NULL, 0);
        }
        stop_sent |= stopping;
        if (go && (rc = send_barrier(c)))
            return rc;
    }
    return 0;
}

/* Adds what the nodes' own sources read (their DONE reports) to the run's report. */
static void report_node_input(struct client *c)
{
    sl_pipeline_report *rep = c->rep;
    for (uint32_t d = 0; d < c->n; d++) {
        const sl_node_report *r = &c->crep->node[d];
        if (!r->ingested)
            continue;
        rep->input.lines += r->in_lines;
        rep->input.records += r->in_records;
        rep->input.bad += r->in_bad;
        rep->input.blank += r->in_blank;
        rep->input.bytes += r->in_bytes;
        rep->filtered += r->in_filtered;
        for (int i = 0; i < 4; i++)
            rep->engine.type_counts[i] += r->in_types[i];
    }
}

/* sl_ingestlog_fn of replay_log: the records to their nodes, then a turn of the loop. */
static int replay_push(void *ud, const sl_rec *recs, const uint64_t *attrs, uint32_t nattr,
                       size_t n, char *msg, size_t msglen)
{
    struct client *c = ud;
    if (nattr != c->nattr) {
        snprintf(msg, msglen,
                 "the ingest log's records carry %u schema.attributes, the job declares %u", nattr,
                 c->nattr);
        return SL_EPARSE;
    }
    int rc = send_records(c, recs, attrs, n, msg, msglen);
    return rc ? rc : turn(c, msg, msglen);
}

/* A recovery with a source that cannot be read again: sends the records of the ingest log from
 * the newest complete checkpoint on (its segment and every later one, in order) again, with the
 * usual back-pressure, without logging them twice. */
static int replay_log(struct client *c)
{
    sl_client_recovery *rec = c->o->rec;
    uint64_t sent = 0;
    int rc = log_open(c, c->msg, c->msglen);
    c->replaying = 1;
    if (rc == 0)
        rc = sl_ingestlog_replay(rec->log, rec->ckpt_id, replay_push, NULL, c, &sent, c->msg,
                                 c->msglen);
    c->replaying = 0;
    if (rc == 0 && !c->o->quiet)
        fprintf(stderr, "sluice: %" PRIu64 " records sent again from the ingest log\n", sent);
    return rc;
}

void sl_client_recovery_end(sl_client_recovery *rec)
{
    sl_source_destroy(&rec->src);
    sl_ingestlog_close(&rec->log);
    free(rec->win);
    rec->win = NULL;
    rec->nwin = 0;
}

static int bind_any(struct client *c, sl_inbox **ib, char *ep, size_t eplen)
{
    char want[300];
    snprintf(want, sizeof want, "tcp://%s:*", c->o->cl->client_host);
    int rc = sl_inbox_new(c->zctx, want, &c->o->cl->net, sl_payload_recsize, ib, c->msg, c->msglen);
    if (rc)
        return rc;
    if (sl_inbox_endpoint(*ib, ep, eplen)) {
        snprintf(c->msg, c->msglen, "cannot read the endpoint of %s: %s", want, strerror(errno));
        return SL_EIO;
    }
    sl_inbox_on_reject(*ib, on_reject, c);
    return 0;
}

/* The context (with its ZAP handler) and the poller. Returns 0 or an sl_err with c->msg. */
static int open_net(struct client *c)
{
    int rc = sl_poller_new(SL_NODES_MAX + 2, &c->poller, c->msg, c->msglen);
    if (rc || (rc = sl_netctx_new(&c->o->cl->net, &c->net, c->msg, c->msglen)))
        return rc;
    c->zctx = sl_netctx_zmq(c->net);
    return 0;
}

/* The result socket, and the control socket (ctl_ep NULL: none, for pings). */
static int bind_results(struct client *c, char *ep, size_t eplen, char *ctl_ep, size_t ctl_len)
{
    int rc = bind_any(c, &c->results, ep, eplen);
    if (rc)
        return rc;
    sl_inbox_on_admit(c->results, admit_results, c);
    if (!ctl_ep)
        return 0;
    if ((rc = bind_any(c, &c->ctl, ctl_ep, ctl_len)))
        return rc;
    sl_inbox_on_admit(c->ctl, admit_none, NULL);
    return 0;
}

/* Connects to every node's first port, and (ctl) to its control port. */
static int connect_nodes(struct client *c, int ctl)
{
    for (uint32_t d = 0; d < c->n; d++) {
        char ep[300];
        const sl_node_addr *a = &c->o->cl->nodes[c->host[d]];
        snprintf(ep, sizeof ep, "tcp://%s:%u", a->host, a->port);
        int rc = sl_outbox_new(c->zctx, ep, SL_CLIENT_SOURCE, &c->o->cl->net, &c->to[d], c->msg,
                               c->msglen);
        if (rc)
            return rc;
        if (!ctl)
            continue;
        snprintf(ep, sizeof ep, "tcp://%s:%u", a->host, a->port + SL_NODE_CTL);
        if ((rc = sl_outbox_new(c->zctx, ep, SL_CLIENT_SOURCE, &c->o->cl->net, &c->ctl_to[d],
                                c->msg, c->msglen)))
            return rc;
    }
    return 0;
}

/* Closes every socket at once (nothing left is worth delivering) and ends the context. */
static void teardown(struct client *c)
{
    for (uint32_t d = 0; d < SL_NODES_MAX; d++) {
        sl_outbox_close_now(&c->to[d]);
        sl_outbox_close_now(&c->ctl_to[d]);
    }
    sl_inbox_destroy(&c->results);
    sl_inbox_destroy(&c->ctl);
    sl_netctx_destroy(&c->net);
    sl_poller_destroy(&c->poller);
    c->zctx = NULL;
}

/* Tells every node to drop the job (CANCEL on the control ports), trying for up to 300 ms to
 * hand it to each, or 30 ms once the others have it (a dead node never takes it); a node that
 * misses it drops the job when the client's lease runs out. */
static void cancel_job(struct client *c)
{
    int sent[SL_NODES_MAX] = {0};
    uint32_t left = c->n;
    for (int tries = 0, stuck = 0; tries < 30 && left && stuck < 3; tries++) {
        uint32_t before = left;
        for (uint32_t d = 0; d < c->n; d++)
            if (!sent[d] && c->ctl_to[d] &&
                sl_outbox_send_now(c->ctl_to[d], SL_MSG_CANCEL, stream_of(c, d), NULL, 0) == 0) {
                sent[d] = 1;
                left--;
            }
        stuck = left == before && left < c->n ? stuck + 1 : 0;
        if (left)
            sl_net_sleep_ms(10);
    }
}

int sl_client_ping(const sl_cluster_cfg *cl, int timeout_ms, long *pids, char *msg, size_t msglen)
{
    return sl_client_ping_some(cl, timeout_ms, pids, NULL, msg, msglen);
}

int sl_client_ping_some(const sl_cluster_cfg *cl, int timeout_ms, long *pids, int *answered,
                        char *msg, size_t msglen)
{
    sl_client_opts o = {.cl = cl, .quiet = 1};
    sl_client_report crep;
    struct client c = {.o = &o, .n = cl->nnodes, .crep = &crep, .msg = msg, .msglen = msglen};
    for (uint32_t d = 0; d < c.n; d++)
        c.host[d] = d;
    char ep[512];
    int rc = SL_ENOMEM, ready[SL_NODES_MAX] = {0};
    long pid_of[SL_NODES_MAX] = {0}, foreign_pid = 0;
    uint32_t nready = 0, foreign = UINT32_MAX;
    uint64_t want = sl_cluster_id(cl), foreign_id = 0;
    if ((rc = open_net(&c)) || (rc = bind_results(&c, ep, sizeof ep, NULL, 0)) ||
        (rc = connect_nodes(&c, 0)))
        goto out;
    uint64_t deadline = sl_net_now_us() + (uint64_t)timeout_ms * 1000;
    uint64_t next_hello = 0;
    while (nready < c.n && foreign == UINT32_MAX) {
        uint64_t now = sl_net_now_us();
        if (now >= deadline)
            break;
        if (now >= next_hello) { /* a node not yet listening never saw the first one */
            for (uint32_t d = 0; d < c.n; d++)
                if (!ready[d] && sl_outbox_queued_frames(c.to[d]) == 0)
                    sl_outbox_control(c.to[d], SL_MSG_HELLO, 0, ep, strlen(ep));
            next_hello = now + 500000;
        }
        for (uint32_t d = 0; d < c.n; d++)
            sl_outbox_pump(c.to[d]);
        sl_poller_clear(c.poller);
        sl_poller_add_inbox(c.poller, c.results);
        /* a HELLO still queued (its connection's handshake was not done at the pump) goes as
         * soon as the socket takes it, not after the wait */
        for (uint32_t d = 0; d < c.n; d++)
            if (sl_outbox_queued_frames(c.to[d]))
                sl_poller_add_outbox(c.poller, c.to[d]);
        sl_poller_wait(c.poller, 50);
        sl_frame f;
        while (sl_inbox_recv(c.results, &f) == 1) {
            uint32_t node;
            long pid;
            uint64_t id;
            if (f.h.kind != SL_MSG_HELLO || f.h.source >= c.n || ready[f.h.source])
                continue;
            int parsed = sl_hello_parse(f.payload, f.h.payload_len, &node, &pid, &id) == 0;
            if (!parsed || node != f.h.source || id != want) {
                /* Answered from this file's address, but not as this file's node. */
                foreign = f.h.source;
                foreign_pid = parsed ? pid : 0;
                foreign_id = parsed ? id : 0;
                break;
            }
            ready[f.h.source] = 1;
            pid_of[f.h.source] = pid;
            nready++;
        }
    }
    rc = 0;
    if (foreign != UINT32_MAX) {
        snprintf(msg, msglen,
                 "%s:%u (node %u of the cluster file) is served by a process of another cluster "
                 "(pid %ld, cluster identity %016" PRIx64 ", this file's is %016" PRIx64 ")",
                 cl->nodes[foreign].host, cl->nodes[foreign].port, foreign, foreign_pid, foreign_id,
                 want);
        rc = SL_ECONFLICT;
    } else if (nready < c.n) {
        size_t o2 = (size_t)snprintf(msg, msglen, "no answer within %d ms from node", timeout_ms);
        for (uint32_t d = 0; d < c.n && o2 < msglen; d++)
            if (!ready[d])
                o2 += (size_t)snprintf(msg + o2, msglen - o2, " %u (%s:%u)", d, cl->nodes[d].host,
                                       cl->nodes[d].port);
        if (cl->net.curve && o2 < msglen)
            snprintf(msg + o2, msglen - o2,
                     "; with CURVE on, a node that runs with other keys never answers: check that "
                     "it and this client read the same cluster.key");
        rc = SL_EIO;
    }
    if (pids)
        memcpy(pids, pid_of, (size_t)c.n * sizeof *pids);
    if (answered)
        memcpy(answered, ready, (size_t)c.n * sizeof *answered);
out:
    teardown(&c); /* unsent HELLOs to absent nodes are dropped, not lingered on */
    return rc;
}

int sl_client_run(const sl_client_opts *o, sl_pipeline_report *rep, sl_client_report *crep,
                  char *msg, size_t msglen)
{
    const sl_pipeline_opts *po = o->po;
    const sl_topology *t = po->topo;
    struct client c = {.o = o, .n = o->cl->nnodes, .crep = crep, .msg = msg, .msglen = msglen};
    sl_addict *dict = NULL;
    sl_sink *sink = NULL;
    sl_source *src = NULL;
    sl_partmap *map = NULL;
    sl_rec *buf = NULL, *part = NULL;
    size_t *npart = NULL;
    sl_job job;
    unsigned char *jobbuf = NULL;
    size_t joblen = 0;
    int rc = 0;
    memset(rep, 0, sizeof *rep);
    memset(crep, 0, sizeof *crep);
    memset(&job, 0, sizeof job);
    crep->nodes = c.n;
    for (uint32_t d = 0; d < c.n; d++)
        c.host[d] = o->rec && o->rec->host_set ? o->rec->host[d] : d;
    msg[0] = '\0';
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t0 = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;

    sl_client_recovery *rec = t->checkpoint.every_ms ? o->rec : NULL;
    if (po->resume_from) {
        snprintf(msg, msglen, "--from on a cluster needs checkpoints (checkpoint.every_ms)");
        return SL_EUNSUPPORTED;
    }
    if (t->checkpoint.every_ms) {
        if (!o->rec) {
            snprintf(msg, msglen,
                     "checkpoints on a cluster need a client that can restart "
                     "nodes (use --nodes, or --cluster with a cluster file)");
            return SL_EUNSUPPORTED;
        }
    }
    dict = rec ? rec->dict : sl_addict_new();
    buf = malloc(CHUNK * sizeof *buf);
    part = malloc((size_t)c.n * CHUNK * sizeof *part);
    npart = calloc(c.n, sizeof *npart);
    c.nattr = t->schema.nattrs;
    if (c.nattr) {
        c.part_attr = malloc((size_t)c.n * CHUNK * c.nattr * sizeof *c.part_attr);
        c.wide = malloc(CHUNK * (sizeof(sl_rec) + 8 * (size_t)c.nattr));
    }
    if (!dict || !buf || !part || !npart || (c.nattr && (!c.part_attr || !c.wide))) {
        rc = SL_ENOMEM;
        goto out;
    }
    if ((rc = sl_partmap_new(o->cl->partitions, c.n, &map, msg, msglen)))
        goto out;
    if ((rc = sl_sink_open(t, po->out, dict, po->top > 0, &sink, msg, msglen)))
        goto out;
    c.sink = sink;
    sl_sink_set_clock(sink, cluster_watermark, &c);
    if ((rc = open_net(&c)))
        goto out;
    job.topo = *t;
    int on_nodes = t->source.ingest == SL_INGEST_NODES;
    if (on_nodes) {
        /* every node reads its own part; a file's path must mean the same to them */
        char why[512];
        if ((rc = sl_source_splittable(t, why, sizeof why))) {
            snprintf(msg, msglen, "source.ingest: nodes: %s", why);
            goto out;
        }
        if (t->source.kind == SL_SRC_FILE && t->source.path[0] != '/') {
            char abs[PATH_MAX];
            if (!realpath(t->source.path, abs) || strlen(abs) >= sizeof job.topo.source.path) {
                snprintf(msg, msglen, "cannot resolve %s: %s", t->source.path, strerror(errno));
                rc = SL_EIO;
                goto out;
            }
            snprintf(job.topo.source.path, sizeof job.topo.source.path, "%s", abs);
        }
    } else if (job.topo.source.kind > SL_SRC_GENERATOR) {
        /* The input is read here: a live source (zmq, tcp, a followed file: kinds of host/io's
         * table that the nodes need not read) travels as stdin. */
        job.topo.source.kind = SL_SRC_STDIN;
        job.topo.source.path[0] = '\0';
    }
    job.cluster_id = sl_cluster_id(o->cl);
    job.registry_id = o->job_id;
    job.driver_epoch = o->job_id ? o->driver_epoch : 0;
    if (rec) {
        /* the nodes write their checkpoints there: a path that means the same to them */
        char abs[PATH_MAX];
        if ((mkdir(t->checkpoint.dir, 0755) != 0 && errno != EEXIST) ||
            !realpath(t->checkpoint.dir, abs) || strlen(abs) >= sizeof job.topo.checkpoint.dir) {
            snprintf(msg, msglen, "checkpoint directory %s: %s", t->checkpoint.dir,
                     strerror(errno));
            rc = SL_EIO;
            goto out;
        }
        snprintf(job.topo.checkpoint.dir, sizeof job.topo.checkpoint.dir, "%s", abs);
        job.restore_id = rec->ckpt_id;
        job.epoch = rec->epoch;
        snprintf(job.restore_dir, sizeof job.restore_dir, "%s", rec->restore_dir);
        snprintf(c.ckpt_dir, sizeof c.ckpt_dir, "%s", abs);
    }
    for (uint32_t i = 0; i < t->nnext; i++) {
        if (!t->next[i].join[0])
            continue;
        sl_jointab *tab = NULL;
        if ((rc = sl_jointab_load(t->next[i].join, dict, &tab, &job.join_text[i + 1],
                                  &job.join_len[i + 1], msg, msglen)))
            goto out;
        sl_jointab_destroy(&tab);
    }
    if ((rc = bind_results(&c, job.result_endpoint, sizeof job.result_endpoint,
                           job.control_endpoint, sizeof job.control_endpoint)) ||
        (rc = connect_nodes(&c, 1)))
        goto out;
    if ((rc = sl_job_encode(&job, &jobbuf, &joblen)))
        goto out;
    if (joblen > o->cl->net.max_payload) {
        snprintf(msg, msglen,
                 "the job description (%zu bytes, join tables included) exceeds "
                 "net.max_frame (%zu)",
                 joblen, o->cl->net.max_payload);
        rc = SL_ERANGE;
        goto out;
    }
    /* Each attempt (epoch) of a recovered run has a job id of its own: what a node of an
     * earlier attempt still sends (back from a pause) is not taken for this one's. So has the
     * driver a later coordinator started (driver_epoch above 1): the driver before it may still
     * run, cut off from ZooKeeper, and the nodes must tell their frames apart. */
    c.job_id =
        o->job_id && !(rec && rec->epoch) && job.driver_epoch <= 1
            ? o->job_id & 0xffffffu
            : ((uint32_t)getpid() * 2654435761u ^ (uint32_t)ts.tv_nsec ^
               (rec ? rec->epoch * 0x9e3779b9u : 0) ^ (uint32_t)job.driver_epoch * 0x85ebca6bu) &
                  0xffffffu;
    if (c.job_id == 0)
        c.job_id = 1;
    uint32_t stream = sl_job_stream(c.job_id, 0);
    for (uint32_t d = 0; d < c.n; d++) {
        if (c.host[d] == d) {
            c.jid[d] = c.job_id;
            if (sl_outbox_control(c.to[d], SL_MSG_JOB, stream, jobbuf, joblen)) {
                rc = SL_ENOMEM;
                goto out;
            }
            continue;
        }
        /* a survivor plays node d: the same job, as node d, under an id of its own */
        unsigned char *own = NULL;
        size_t ownlen = 0;
        c.jid[d] = (c.job_id + 0x10001u * (d + 1)) & 0xffffffu;
        if (c.jid[d] == 0)
            c.jid[d] = 1;
        job.self = d + 1;
        rc = sl_job_encode(&job, &own, &ownlen);
        job.self = 0;
        if (rc == 0 && sl_outbox_control(c.to[d], SL_MSG_JOB, stream_of(&c, d), own, ownlen))
            rc = SL_ENOMEM;
        free(own);
        if (rc)
            goto out;
        if (!o->quiet)
            fprintf(stderr, "sluice: node %u (%s:%u) plays node %u, which failed\n", c.host[d],
                    o->cl->nodes[c.host[d]].host, o->cl->nodes[c.host[d]].port, d);
    }
    if (o->job_id && o->cl->zk.connect[0]) {
        /* a submitted job on a cluster with ZooKeeper: who serves each partition in this
         * attempt goes to R/jobs/ID/partmap (coord.h); the nodes are already restoring */
        char zmsg[512];
        if (sl_coord_publish_job_map(o->cl, o->job_id, job.driver_epoch, rec ? rec->epoch : 0, map,
                                     c.host, ZK_WAIT_MS, zmsg, sizeof zmsg) &&
            !o->quiet)
            fprintf(stderr, "sluice: the job's partition map was not written to ZooKeeper: %s\n",
                    zmsg);
    }
    c.last_turn_us = sl_net_now_us();
    for (uint32_t d = 0; d < c.n; d++)
        c.heard_us[d] = c.last_turn_us;
    c.map = map;
    c.part = part;
    c.npart = npart;
    c.rep = rep;
    c.dict = dict;
    /* the window rows of the checkpoint this attempt starts from: the nodes do not send them
     * again */
    if (rec && rec->ckpt_id && rec->nwin &&
        (rows_add(&c.windows, rec->win, rec->nwin) || rows_from(&c.windows, rec->nwin, KEPT))) {
        rc = SL_ENOMEM;
        goto out;
    }
    if (on_nodes) {
        c.on_nodes = 1;
        if (rec)
            rec->node_failed = 0;
        if ((rc = run_on_nodes(&c)))
            goto out;
    } else {
        int recovering = rec && rec->node_failed, replayable = sl_source_replayable(t);
        if (rec)
            rec->node_failed = 0;
        if (recovering && replayable && rec->fail_bytes > (rec->ckpt_id ? rec->at.input.bytes : 0))
            c.again_bytes = rec->fail_bytes - (rec->ckpt_id ? rec->at.input.bytes : 0);
        c.logging = rec && !replayable;
        if (c.logging && rec->src) {
            src = rec->src; /* a live source goes on where it was: its records are in the log */
        } else {
            /* after a failure: the input again from the newest checkpoint's offset (or its
             * start) */
            if (rec && replayable && (rec->ckpt_id || recovering) &&
                fseeko(po->in, (off_t)(rec->ckpt_id ? rec->at.input.bytes : 0), SEEK_SET) != 0) {
                snprintf(msg, msglen, "cannot read the input again to recover: %s",
                         strerror(errno));
                rc = SL_EIO;
                goto out;
            }
            if ((rc = sl_source_new(t, po->in, dict, po->on_bad, po->bad_ud, &src, msg, msglen)))
                goto out;
            if (c.logging)
                rec->src = src;
            if (rec && replayable && rec->ckpt_id && (rc = sl_source_resume(src, &rec->at))) {
                snprintf(msg, msglen, "cannot resume the input: %s", sl_strerror(rc));
                goto out;
            }
        }
        if (rec && rec->ckpt_id)
            memcpy(rep->engine.type_counts, rec->types, sizeof rec->types);
        if (c.logging && recovering && (rc = replay_log(&c)))
            goto out;
        c.src = src;
        c.last_barrier_us = sl_net_now_us();
        sl_ingest in = sl_pipeline_ingest(po, src, push_records, turn, NULL, &c);
        if (t->sink.snapshots)
            in.wait_ms = SNAP_WAIT_MS; /* snapshots are written from turn: run it that often */
        if ((rc = sl_ingest_run(&in, buf, CHUNK, NULL, msg, msglen)))
            goto out;
        for (uint32_t d = 0; d < c.n; d++)
            if (sl_outbox_control(c.to[d], SL_FRAME_EOS, stream_of(&c, d), NULL, 0)) {
                rc = SL_ENOMEM;
                goto out;
            }
        c.input_ended = 1; /* no barrier after the end of the stream */
        int released = 0;
        while (c.done < c.n) {
            if ((rc = service(&c, 100)) || (rc = check_alive(&c)) || (rc = check_cancel(&c)) ||
                (rc = send_barrier(&c)))
                goto out;
            recovery_progress(&c);
            if (!released && (released = all_sent(&c)))
                sl_mem_release_free(); /* the send queues' memory, before the results come */
        }
    }
    /* Acknowledge the last frames (DONE), so that the nodes end the job now, not when this
     * client's lease runs out. */
    for (int tries = 0; tries < 30; tries++) {
        c.last_full_ack_us = 0;
        if (!send_acks(&c, sl_net_now_us()))
            break;
        sl_net_sleep_ms(10);
    }

    /* Every node is done: write the results as one process would. What was freed goes back
     * first, so that the emission's allocations do not add to the queues' (base/memtrim.h). */
    sl_mem_release_free();
    const sl_node_report *r0 = &crep->node[0];
    sl_sink_set_layout(sink, &r0->cols, r0->windowed);
    if (sl_topology_rekeyed(t))
        sl_sink_set_key_name(sink, "campaign_id");
    if (c.windows.n && (rc = sl_sink_emit(sink, SL_EMIT_WINDOWS, c.windows.r, c.windows.n)))
        goto out;
    if ((rc = sl_sink_emit(sink, SL_EMIT_FINAL, c.final.r, c.final.n)))
        goto out;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    rep->elapsed_s = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 - t0;
    if (po->top && po->top_out) {
        if (po->on_progress)
            po->on_progress(po->progress_ud, NULL);
        rc = sl_sink_print_top(sink, po->top_out, po->top, po->top_min_impressions);
    }
out:
    if (rc && !msg[0])
        snprintf(msg, msglen, "%s", sl_strerror(rc));
    /* On failure, tell the nodes, so that they drop the job instead of waiting for our EOS;
     * either way nothing queued is worth delivering once this client is gone (teardown closes
     * without lingering). */
    if (rc && c.job_id && c.zctx)
        cancel_job(&c);
    for (uint32_t d = 0; d < c.n; d++) {
        const sl_node_report *nr = &crep->node[d];
        rep->engine.events_in += nr->events_in[0];
        rep->engine.events_late += nr->late[0];
        if (c.to[d]) {
            sl_outbox_stats os;
            sl_outbox_get_stats(c.to[d], &os);
            crep->frames_sent += os.frames;
            crep->bytes_sent += os.bytes;
            crep->send_blocked += os.blocked;
        }
    }
    rep->engine.rows_emitted = c.final.n + c.windows.n;
    if (src)
        sl_pipeline_report_source(rep, src);
    else if (c.rep)
        report_node_input(&c);
    snprintf(rep->device.platform, sizeof rep->device.platform, "cluster");
    snprintf(rep->device.name, sizeof rep->device.name, "%u node%s", c.n, c.n == 1 ? "" : "s");
    teardown(&c);
    if (!(rec && rec->src == src))
        sl_source_destroy(&src);
    sl_sink_destroy(&sink);
    if (!rec)
        sl_addict_destroy(&dict);
    sl_partmap_destroy(&map);
    sl_job_clear(&job);
    free(jobbuf);
    free(buf);
    free(part);
    free(npart);
    free(c.part_attr);
    free(c.wide);
    free(c.final.r);
    free(c.windows.r);
    free(c.windows.from);
    snap_free(&c.snap);
    return rc;
}
