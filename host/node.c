/* A cluster node; see node.h and host/job.h for the protocol. */
#include "node.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <zmq.h>

#include "chain.h"
#include "device.h"
#include "err.h"
#include "inbox.h"
#include "job.h"
#include "jointab.h"
#include "outbox.h"
#include "partmap.h"
#include "placement.h"

#define FRAMES_PER_POLL 64
#define OUT_LIMIT ((size_t)8 << 20) /* queued bytes per stage's outputs before reading stops */
#define LOCAL_CHUNK 4096
#define MAX_REPLIES 16                     /* one-off replies in flight (HELLO answers, refusals) */
#define REPLY_TIMEOUT_US UINT64_C(2000000) /* a reply not handed to ZeroMQ by then is dropped */

/* A reply to a one-off endpoint, pumped by the poll loop until ZeroMQ has it, so that a client
 * that pinged and left (or never listened) costs the node nothing but this slot. */
struct reply {
    sl_outbox *ob;
    uint64_t deadline_us;
};

struct node {
    const sl_cluster_cfg *cl;
    uint32_t id, n;
    int quiet;
    void *zctx;
    sl_device *dev;
    sl_partmap *map;
    sl_inbox *in[SL_NODE_PORTS];
    sl_outbox *peer[SL_NODES_MAX][SL_NODE_PORTS]; /* [node][stage], stage >= 1, not self */

    /* the job in progress */
    int active;
    uint32_t job_id, stages;
    sl_job job;
    sl_jointab *joins[SL_STAGES_MAX];
    sl_chain *chain;
    sl_outbox *client;
    uint64_t eos_mask[SL_STAGES_MAX]; /* bit i: node i's EOS arrived (stage 0: bit 0, client) */
    int finished[SL_STAGES_MAX];
    sl_rec local[SL_STAGES_MAX][LOCAL_CHUNK]; /* records for this node's own next stages */
    size_t nlocal[SL_STAGES_MAX];
    sl_rec aligned[LOCAL_CHUNK]; /* a received frame's records, copied to aligned memory */
    sl_node_report rep;
    uint64_t t0_us;
    int failed;
    char msg[2048];

    uint64_t stale;
    uint64_t frames_at_start, bytes_at_start;

    uint64_t cluster_id; /* sl_cluster_id of this node's cluster file */
    struct reply replies[MAX_REPLIES];
    uint32_t nreplies;
    uint64_t replies_dropped;
};

static void logf_(struct node *nd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(struct node *nd, const char *fmt, ...)
{
    if (nd->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "node %u: ", nd->id);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void endpoint(char *buf, size_t len, const sl_node_addr *a, uint32_t off)
{
    snprintf(buf, len, "tcp://%s:%u", a->host, a->port + off);
}

static void on_reject(void *ud, int verdict, const sl_frame_hdr *h, size_t len, int64_t detail)
{
    struct node *nd = ud;
    if (verdict == -2)
        logf_(nd,
              "gap: %" PRId64 " frame(s) missing before seq %" PRIu64
              " of stream %u from %u (counted)",
              detail, h->seq, h->stream, h->source);
    else if (verdict == -1)
        logf_(nd, "rejected a duplicate frame (seq %" PRIu64 ", stream %u, source %u)", h->seq,
              h->stream, h->source);
    else
        logf_(nd, "rejected a %zu-byte frame: %s (counted)", len, sl_frame_verdict_name(verdict));
}

/* Queues a control frame to a one-off endpoint (replies to HELLO, refusals); pump_replies sends
 * it from the poll loop. Never blocks: with every slot taken the reply is dropped and counted. */
static void reply(struct node *nd, const char *ep, enum sl_frame_kind kind, uint32_t stream,
                  const void *p, size_t len)
{
    char err[256];
    if (nd->nreplies == MAX_REPLIES) {
        nd->replies_dropped++;
        logf_(nd, "reply to %s dropped: %d replies already waiting (%" PRIu64 " dropped)", ep,
              MAX_REPLIES, nd->replies_dropped);
        return;
    }
    sl_outbox *ob = sl_outbox_new(nd->zctx, ep, nd->id, &nd->cl->net, err, sizeof err);
    if (!ob) {
        logf_(nd, "cannot reply to %s: %s", ep, err);
        return;
    }
    if (sl_outbox_control(ob, kind, stream, p, len)) {
        logf_(nd, "reply to %s: %s", ep, strerror(errno));
        sl_outbox_destroy(&ob);
        return;
    }
    sl_outbox_pump(ob);
    nd->replies[nd->nreplies++] = (struct reply){ob, sl_net_now_us() + REPLY_TIMEOUT_US};
}

/* Sends what the pending replies can send; closes those ZeroMQ has taken (it delivers them
 * within the linger time) and drops those past their deadline. */
static void pump_replies(struct node *nd, uint64_t now)
{
    for (uint32_t i = 0; i < nd->nreplies;) {
        struct reply *r = &nd->replies[i];
        sl_outbox_pump(r->ob);
        int sent = sl_outbox_queued_frames(r->ob) == 0;
        if (!sent && now < r->deadline_us) {
            i++;
            continue;
        }
        if (!sent) {
            int zero = 0;
            zmq_setsockopt(sl_outbox_socket(r->ob), ZMQ_LINGER, &zero, sizeof zero);
            nd->replies_dropped++;
            logf_(nd, "a reply was not taken within %d ms: dropped (%" PRIu64 " dropped)",
                  (int)(REPLY_TIMEOUT_US / 1000), nd->replies_dropped);
        }
        sl_outbox_destroy(&r->ob);
        nd->replies[i] = nd->replies[--nd->nreplies];
    }
}

static int flush_local(struct node *nd, uint32_t stage)
{
    size_t k = nd->nlocal[stage];
    nd->nlocal[stage] = 0;
    if (!k)
        return 0;
    int rc = sl_chain_push(nd->chain, stage, nd->local[stage], k);
    if (rc)
        snprintf(nd->msg, sizeof nd->msg, "%s", sl_chain_message(nd->chain));
    return rc;
}

/* sl_chain_route_fn: records for `stage` go to the owner of each key. */
static int route(void *ud, uint32_t stage, const sl_rec *recs, size_t n)
{
    struct node *nd = ud;
    uint32_t stream = sl_job_stream(nd->job_id, stage);
    for (size_t i = 0; i < n; i++) {
        uint32_t d = sl_partmap_node_of_key(nd->map, recs[i].key);
        if (d == nd->id) {
            nd->local[stage][nd->nlocal[stage]++] = recs[i];
            if (nd->nlocal[stage] == LOCAL_CHUNK) {
                int rc = flush_local(nd, stage);
                if (rc)
                    return rc;
            }
        } else if (sl_outbox_put(nd->peer[d][stage], stream, SL_SCHEMA_REC, sizeof(sl_rec),
                                 &recs[i], 1)) {
            snprintf(nd->msg, sizeof nd->msg, "out of memory queueing records for node %u", d);
            return SL_ENOMEM;
        }
    }
    return 0;
}

/* sl_emit_fn of the last stage: rows go to the client. */
static int to_client(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    struct node *nd = ud;
    if (kind == SL_EMIT_SNAPSHOT)
        return 0; /* refused when the job starts; never produced */
    uint32_t schema = kind == SL_EMIT_FINAL ? SL_SCHEMA_ROW_FINAL : SL_SCHEMA_ROW_WINDOWS;
    if (n && sl_outbox_put(nd->client, sl_job_stream(nd->job_id, nd->stages - 1), schema,
                           sizeof(sl_row), rows, n)) {
        snprintf(nd->msg, sizeof nd->msg, "out of memory queueing rows for the client");
        return SL_ENOMEM;
    }
    nd->rep.rows_out += n;
    return 0;
}

static void end_job(struct node *nd)
{
    if (nd->client) {
        if (sl_outbox_drain(nd->client, nd->cl->net.linger_ms) != 0)
            logf_(nd, "job %u: the client did not take every result within %d ms", nd->job_id,
                  nd->cl->net.linger_ms);
        sl_outbox_destroy(&nd->client);
    }
    sl_chain_destroy(&nd->chain);
    for (int i = 0; i < SL_STAGES_MAX; i++)
        sl_jointab_destroy(&nd->joins[i]);
    sl_job_clear(&nd->job);
    for (int s = 0; s < SL_NODE_PORTS; s++)
        sl_inbox_forget(nd->in[s], 0xffffff00u, sl_job_stream(nd->job_id, 0));
    nd->active = 0;
}

/* Reports a failure to the client and drops the job. */
static void abort_job(struct node *nd, const char *why)
{
    char m[2200];
    snprintf(m, sizeof m, "node %u: %s", nd->id, why);
    logf_(nd, "job %u failed: %s", nd->job_id, why);
    if (nd->client) {
        sl_outbox_control(nd->client, SL_FRAME_ABORT, sl_job_stream(nd->job_id, 0), m, strlen(m));
    }
    end_job(nd);
}

static void start_job(struct node *nd, const sl_frame *f)
{
    char err[1024];
    sl_job *job = &nd->job;
    if (nd->active) {
        sl_job other;
        if (sl_job_decode(f->payload, f->h.payload_len, &other, err, sizeof err) == 0) {
            char m[256];
            snprintf(m, sizeof m, "node %u: busy with job %u", nd->id, nd->job_id);
            reply(nd, other.result_endpoint, SL_FRAME_ABORT, f->h.stream, m, strlen(m));
            sl_job_clear(&other);
        }
        return;
    }
    if (sl_job_decode(f->payload, f->h.payload_len, job, err, sizeof err)) {
        logf_(nd, "refused a job: %s", err);
        if (job->result_endpoint[0] && strncmp(job->result_endpoint, "tcp://", 6) == 0) {
            char m[1200];
            snprintf(m, sizeof m, "node %u refused the job: %s", nd->id, err);
            reply(nd, job->result_endpoint, SL_FRAME_ABORT, f->h.stream, m, strlen(m));
        }
        return;
    }
    if (job->cluster_id != nd->cluster_id) {
        char m[512];
        snprintf(m, sizeof m,
                 "node %u refused the job: it is for another cluster (cluster file identity "
                 "%016" PRIx64 ", this node's is %016" PRIx64
                 "): a process of another cluster listens on this node's port, or the files differ",
                 nd->id, job->cluster_id, nd->cluster_id);
        logf_(nd, "%s", m);
        reply(nd, job->result_endpoint, SL_FRAME_ABORT, f->h.stream, m, strlen(m));
        sl_job_clear(job);
        return;
    }
    nd->active = 1;
    nd->job_id = sl_stream_job(f->h.stream);
    nd->stages = 1 + job->topo.nnext;
    memset(nd->eos_mask, 0, sizeof nd->eos_mask);
    memset(nd->finished, 0, sizeof nd->finished);
    memset(nd->nlocal, 0, sizeof nd->nlocal);
    memset(&nd->rep, 0, sizeof nd->rep);
    nd->msg[0] = '\0';
    nd->t0_us = sl_net_now_us();
    sl_inbox_stats is;
    sl_inbox_get_stats(nd->in[0], &is);
    nd->frames_at_start = is.frames;
    nd->bytes_at_start = is.bytes;
    nd->client =
        sl_outbox_new(nd->zctx, job->result_endpoint, nd->id, &nd->cl->net, err, sizeof err);
    if (!nd->client) {
        logf_(nd, "job %u: %s", nd->job_id, err);
        end_job(nd);
        return;
    }
    if (job->topo.sink.snapshots) {
        abort_job(nd, "snapshots (sink.snapshots) are not supported across nodes");
        return;
    }
    for (uint32_t i = 1; i < nd->stages; i++) {
        if (!job->join_text[i])
            continue;
        int rc = sl_jointab_parse(job->join_text[i], job->join_len[i], job->topo.next[i - 1].join,
                                  NULL, &nd->joins[i], err, sizeof err);
        if (rc) {
            abort_job(nd, err);
            return;
        }
    }
    int rc = sl_chain_new(nd->dev, &job->topo, nd->joins, route, nd, to_client, nd, &nd->chain, err,
                          sizeof err);
    if (rc) {
        abort_job(nd, err);
        return;
    }
    logf_(nd, "job %u: %u stage(s), results to %s", nd->job_id, nd->stages, job->result_endpoint);
}

static uint64_t all_nodes(const struct node *nd)
{
    return nd->n == 64 ? UINT64_MAX : (UINT64_C(1) << nd->n) - 1;
}

static void send_done(struct node *nd)
{
    sl_chain_stats cs;
    sl_chain_get_stats(nd->chain, &cs);
    sl_node_report *r = &nd->rep;
    r->node = nd->id;
    r->stages = nd->stages;
    for (uint32_t s = 0; s < nd->stages; s++) {
        r->events_in[s] = cs.engine[s].events_in;
        r->forwarded[s] = cs.forwarded[s];
        r->unjoined[s] = cs.unjoined[s];
        r->late[s] = cs.engine[s].events_late;
    }
    sl_engine *tail = sl_chain_engine(nd->chain, nd->stages - 1);
    r->cols = *sl_engine_columns(tail);
    r->windowed = sl_engine_windowed(tail);
    for (int s = 0; s < SL_NODE_PORTS; s++) {
        sl_inbox_stats is;
        sl_inbox_poll_monitor(nd->in[s]);
        sl_inbox_get_stats(nd->in[s], &is);
        for (int v = 1; v < SL_FRAME_NVERDICTS; v++)
            r->rejected[v] += is.rejected[v];
        r->duplicates += is.duplicates;
        r->gaps += is.gaps;
        r->frames_in += is.frames;
        r->bytes_in += is.bytes;
        r->dropped_connections += is.handshake_failed;
    }
    r->frames_in -= nd->frames_at_start;
    r->bytes_in -= nd->bytes_at_start;
    r->stale = nd->stale;
    for (uint32_t d = 0; d < nd->n; d++)
        for (uint32_t s = 1; s < nd->stages; s++)
            if (nd->peer[d][s]) {
                sl_outbox_stats os;
                sl_outbox_get_stats(nd->peer[d][s], &os);
                r->send_blocked += os.blocked;
            }
    r->busy_s = (double)(sl_net_now_us() - nd->t0_us) / 1e6;
    uint32_t stream = sl_job_stream(nd->job_id, nd->stages - 1);
    sl_outbox_control(nd->client, SL_FRAME_EOS, stream, NULL, 0);
    sl_outbox_control(nd->client, SL_FRAME_DONE, stream, r, sizeof *r);
    logf_(nd, "job %u done: %" PRIu64 " events in, %" PRIu64 " rows out, %.3f s", nd->job_id,
          r->events_in[0], r->rows_out, r->busy_s);
}

/* Finishes every stage whose inputs are complete, in order. Returns 0 or an sl_err. */
static int advance(struct node *nd)
{
    for (uint32_t s = 0; s < nd->stages; s++) {
        if (nd->finished[s])
            continue;
        uint64_t want = s == 0 ? 1 : all_nodes(nd);
        if (nd->eos_mask[s] != want)
            return 0;
        int rc = flush_local(nd, s);
        if (rc)
            return rc;
        if ((rc = sl_chain_finish(nd->chain, s))) {
            snprintf(nd->msg, sizeof nd->msg, "%s", sl_chain_message(nd->chain));
            return rc;
        }
        nd->finished[s] = 1;
        if (s + 1 < nd->stages) {
            if ((rc = flush_local(nd, s + 1)))
                return rc;
            uint32_t stream = sl_job_stream(nd->job_id, s + 1);
            for (uint32_t d = 0; d < nd->n; d++) {
                if (d == nd->id)
                    nd->eos_mask[s + 1] |= UINT64_C(1) << d;
                else if (sl_outbox_control(nd->peer[d][s + 1], SL_FRAME_EOS, stream, NULL, 0))
                    return SL_ENOMEM;
            }
        } else {
            send_done(nd);
            end_job(nd);
            return 0;
        }
    }
    return 0;
}

static void handle(struct node *nd, uint32_t port, const sl_frame *f)
{
    const sl_frame_hdr *h = &f->h;
    if (h->kind == SL_FRAME_HELLO) {
        char ep[512];
        size_t l = h->payload_len < sizeof ep - 1 ? h->payload_len : sizeof ep - 1;
        memcpy(ep, f->payload, l);
        ep[l] = '\0';
        char m[128];
        sl_hello_format(m, sizeof m, nd->id, (long)getpid(), nd->cluster_id);
        reply(nd, ep, SL_FRAME_HELLO, h->stream, m, strlen(m));
        return;
    }
    if (h->kind == SL_FRAME_JOB) {
        if (port != 0)
            return;
        start_job(nd, f);
        return;
    }
    if (!nd->active || sl_stream_job(h->stream) != nd->job_id) {
        nd->stale++;
        return;
    }
    uint32_t stage = sl_stream_stage(h->stream);
    if (stage != port || stage >= nd->stages) {
        nd->stale++;
        return;
    }
    if (h->kind == SL_FRAME_ABORT) {
        logf_(nd, "job %u aborted by the client", nd->job_id);
        sl_outbox_destroy(&nd->client);
        end_job(nd);
        return;
    }
    if (h->kind == SL_FRAME_DATA && h->schema == SL_SCHEMA_REC) {
        /* A frame's payload need not be aligned for sl_rec: copy it in aligned chunks. */
        for (uint32_t done = 0; done < h->count;) {
            uint32_t k = h->count - done < LOCAL_CHUNK ? h->count - done : LOCAL_CHUNK;
            memcpy(nd->aligned, f->payload + (size_t)done * sizeof(sl_rec), k * sizeof(sl_rec));
            if (sl_chain_push(nd->chain, stage, nd->aligned, k)) {
                abort_job(nd, sl_chain_message(nd->chain));
                return;
            }
            done += k;
        }
    } else if (h->kind == SL_FRAME_EOS) {
        if (stage == 0 && h->source == SL_CLIENT_SOURCE)
            nd->eos_mask[0] |= 1;
        else if (stage > 0 && h->source < nd->n)
            nd->eos_mask[stage] |= UINT64_C(1) << h->source;
        else
            nd->stale++;
    } else {
        nd->stale++;
        return;
    }
    if (advance(nd))
        abort_job(nd, nd->msg[0] ? nd->msg : "stage failed");
}

static size_t stage_out_queued(struct node *nd, uint32_t stage)
{
    size_t q = 0;
    if (stage + 1 >= nd->stages)
        return nd->client ? sl_outbox_queued_bytes(nd->client) : 0;
    for (uint32_t d = 0; d < nd->n; d++)
        if (nd->peer[d][stage + 1])
            q += sl_outbox_queued_bytes(nd->peer[d][stage + 1]);
    return q;
}

/* Binds this thread (the node's only one: it receives, batches and dispatches) to its device's
 * placement (host/placement.h), before any job allocates pinned buffers. */
static void place_node(struct node *nd)
{
    sl_topo *topo = NULL;
    sl_placement pl;
    char pmsg[1024], buf[1200];
    if (sl_topo_load(&topo, NULL, pmsg, sizeof pmsg) ||
        sl_place_device(topo, sl_device_id(nd->dev), NULL, 0, &pl, pmsg, sizeof pmsg)) {
        logf_(nd, "placement unknown (%s): the node's thread is not bound", pmsg);
    } else if (sl_placement_bind_thread(topo, &pl, pmsg, sizeof pmsg)) {
        logf_(nd, "placement %s; thread left unbound: %s", sl_placement_str(&pl, buf, sizeof buf),
              pmsg);
    } else {
        logf_(nd, "placement %s", sl_placement_str(&pl, buf, sizeof buf));
    }
    sl_topo_free(&topo);
}

int sl_node_run(const sl_cluster_cfg *cl, uint32_t id, volatile sig_atomic_t *stop, int sig_fd,
                int quiet, char *msg, size_t msglen)
{
    struct node *nd = calloc(1, sizeof *nd);
    int rc = 0, perr = 0;
    if (!nd) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    nd->cl = cl;
    nd->id = id;
    nd->n = cl->nnodes;
    nd->quiet = quiet;
    nd->cluster_id = sl_cluster_id(cl);
    if (id >= cl->nnodes) {
        snprintf(msg, msglen, "node id %u is not in the cluster file (it lists %u nodes)", id,
                 cl->nnodes);
        rc = SL_EINVAL;
        goto out;
    }
    if ((rc = sl_device_open(cl->device, &nd->dev, msg, msglen)))
        goto out;
    place_node(nd);
    nd->map = sl_partmap_new(cl->partitions, cl->nnodes, &perr);
    nd->zctx = zmq_ctx_new();
    if (!nd->map || !nd->zctx) {
        snprintf(msg, msglen, "cannot create the partition map or the ZeroMQ context");
        rc = SL_ENOMEM;
        goto out;
    }
    for (uint32_t s = 0; s < SL_NODE_PORTS; s++) {
        char ep[512];
        endpoint(ep, sizeof ep, &cl->nodes[id], s);
        nd->in[s] = sl_inbox_new(nd->zctx, ep, &cl->net, sl_schema_recsize, msg, msglen);
        if (!nd->in[s]) {
            rc = errno == EADDRINUSE ? SL_ECONFLICT : SL_EIO;
            goto out;
        }
        sl_inbox_on_reject(nd->in[s], on_reject, nd);
    }
    for (uint32_t d = 0; d < cl->nnodes; d++) {
        if (d == id)
            continue;
        for (uint32_t s = 1; s < SL_NODE_PORTS; s++) {
            char ep[512];
            endpoint(ep, sizeof ep, &cl->nodes[d], s);
            nd->peer[d][s] = sl_outbox_new(nd->zctx, ep, id, &cl->net, msg, msglen);
            if (!nd->peer[d][s]) {
                rc = SL_EIO;
                goto out;
            }
        }
    }
    logf_(nd, "listening on %s ports %u-%u, device %s", cl->nodes[id].host, cl->nodes[id].port,
          cl->nodes[id].port + SL_NODE_PORTS - 1, sl_device_get_info(nd->dev)->name);

    while (!*stop || nd->active) {
        if (*stop > 1 && nd->active) {
            abort_job(nd, "stopped by a second signal");
            break;
        }
        zmq_pollitem_t items[SL_NODE_PORTS + SL_NODES_MAX * SL_NODE_PORTS + MAX_REPLIES + 2];
        int ni = 0, in_idx[SL_NODE_PORTS], sig_idx = -1;
        if (sig_fd >= 0) {
            sig_idx = ni;
            items[ni++] = (zmq_pollitem_t){.fd = sig_fd, .events = ZMQ_POLLIN};
        }
        for (uint32_t r = 0; r < nd->nreplies; r++)
            if (sl_outbox_queued_frames(nd->replies[r].ob))
                items[ni++] = (zmq_pollitem_t){.socket = sl_outbox_socket(nd->replies[r].ob),
                                               .events = ZMQ_POLLOUT};
        for (uint32_t s = 0; s < SL_NODE_PORTS; s++) {
            in_idx[s] = -1;
            if (s > 0 && (!nd->active || s >= nd->stages))
                continue;
            if (nd->active && stage_out_queued(nd, s) > OUT_LIMIT)
                continue; /* back-pressure: let the outputs drain first */
            in_idx[s] = ni;
            items[ni++] =
                (zmq_pollitem_t){.socket = sl_inbox_socket(nd->in[s]), .events = ZMQ_POLLIN};
        }
        int pending_open = 0;
        for (uint32_t d = 0; d < nd->n; d++)
            for (uint32_t s = 1; s < SL_NODE_PORTS; s++)
                if (nd->peer[d][s]) {
                    if (sl_outbox_queued_frames(nd->peer[d][s]))
                        items[ni++] = (zmq_pollitem_t){.socket = sl_outbox_socket(nd->peer[d][s]),
                                                       .events = ZMQ_POLLOUT};
                    if (sl_outbox_queued_bytes(nd->peer[d][s]))
                        pending_open = 1;
                }
        if (nd->client) {
            if (sl_outbox_queued_frames(nd->client))
                items[ni++] =
                    (zmq_pollitem_t){.socket = sl_outbox_socket(nd->client), .events = ZMQ_POLLOUT};
            if (sl_outbox_queued_bytes(nd->client))
                pending_open = 1;
        }
        long timeout = pending_open ? (long)(cl->net.flush_us / 1000) + 1 : nd->nreplies ? 10 : 100;
        if (zmq_poll(items, ni, timeout) < 0 && zmq_errno() != EINTR) {
            snprintf(msg, msglen, "zmq_poll failed: %s", zmq_strerror(zmq_errno()));
            rc = SL_EIO;
            break;
        }
        if (sig_idx >= 0 && (items[sig_idx].revents & ZMQ_POLLIN)) {
            struct signalfd_siginfo si;
            while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si)
                (*stop)++;
        }
        for (uint32_t s = 0; s < SL_NODE_PORTS; s++) {
            if (in_idx[s] < 0 || !(items[in_idx[s]].revents & ZMQ_POLLIN))
                continue;
            for (int k = 0; k < FRAMES_PER_POLL; k++) {
                sl_frame f;
                int r = sl_inbox_recv(nd->in[s], &f);
                if (r <= 0)
                    break;
                handle(nd, s, &f);
                if (nd->active && stage_out_queued(nd, s) > OUT_LIMIT)
                    break;
            }
        }
        uint64_t now = sl_net_now_us();
        for (uint32_t d = 0; d < nd->n; d++)
            for (uint32_t s = 1; s < SL_NODE_PORTS; s++)
                if (nd->peer[d][s] &&
                    (sl_outbox_tick(nd->peer[d][s], now) || sl_outbox_pump(nd->peer[d][s])))
                    logf_(nd, "sending to node %u failed: %s", d, strerror(errno));
        if (nd->client && (sl_outbox_tick(nd->client, now) || sl_outbox_pump(nd->client)))
            logf_(nd, "sending to the client failed: %s", strerror(errno));
        pump_replies(nd, now);
    }
out:
    while (nd->nreplies) { /* waits at most REPLY_TIMEOUT_US for them */
        pump_replies(nd, sl_net_now_us());
        if (nd->nreplies)
            zmq_poll(NULL, 0, 10);
    }
    if (nd->active)
        end_job(nd);
    for (uint32_t d = 0; d < SL_NODES_MAX; d++)
        for (uint32_t s = 0; s < SL_NODE_PORTS; s++)
            if (nd->peer[d][s]) {
                sl_outbox_drain(nd->peer[d][s], cl->net.linger_ms);
                sl_outbox_destroy(&nd->peer[d][s]);
            }
    for (uint32_t s = 0; s < SL_NODE_PORTS; s++)
        sl_inbox_destroy(&nd->in[s]);
    if (nd->zctx)
        zmq_ctx_term(nd->zctx);
    sl_partmap_destroy(&nd->map);
    sl_device_close(&nd->dev);
    free(nd);
    return rc;
}
