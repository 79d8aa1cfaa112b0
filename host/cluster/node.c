/* A cluster node; see node.h and host/job.h for the protocol. */
#include "node.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <poll.h>
#include <time.h>
#include <sched.h>
#include <unistd.h>

#include "chain.h"
#include "device.h"
#include "err.h"
#include "hugemem.h"
#include "inbox.h"
#include "job.h"
#include "jointab.h"
#include "lebytes.h"
#include "log.h"
#include "outbox.h"
#include "partmap.h"
#include "poller.h"
#include "proto.h"
#include "placement.h"
#include "jobctl.h"
#include "registry.h"
#include "coord.h"
#include "source.h"
#include "ckptfile.h"
#include "ckptwriter.h"
#include "nodelog.h"
#include "webui.h"

#define FRAMES_PER_POLL 64
#define OUT_LIMIT ((size_t)8 << 20) /* held bytes per stage's outputs before reading stops */
#define LOCAL_CHUNK 4096
#define MAX_REPLIES 16                     /* one-off replies in flight (HELLO answers, refusals) */
#define REPLY_TIMEOUT_US UINT64_C(2000000) /* a reply not handed to ZeroMQ by then is dropped */
#define FULL_ACK_US UINT64_C(200000)       /* every acknowledgement is repeated this often */
#define STALL_US UINT64_C(1000000) /* a loop turn this late means this node stalled, not others */
#define COURTESY_MAX 64
#define ENDED_MAX 16  /* jobs that ended, remembered for courtesy acknowledgements */
#define FENCES_MAX 64 /* submitted jobs whose newest driver's epoch is remembered */
#define ENDED_FORGET_US UINT64_C(30000000) /* held frames of an ended job kept this long */
#define INGEST_CHUNK 16384 /* records one read of a node's own source takes at most */
#define INGEST_READS 4     /* reads of its source per loop turn */
#define DICT_FRAME 65536   /* bytes of ids per SL_MSG_DICT frame */
/* The fewest records read straight into a batch buffer: the one-process pipeline's
 * SL_INGEST_DIRECT_MIN (src_par's cut points). */
#define DIRECT_MIN 4096

/* A reply to a one-off endpoint, pumped by the poll loop until ZeroMQ has it, so that a client
 * that pinged and left (or never listened) costs the node nothing but this slot. */
struct reply {
    sl_outbox *ob;
    uint64_t deadline_us;
};

/* The lease thread: reads stop signals, notices a parent that is gone, and sends the job's
 * leases to its client with a socket of its own. */
struct agent {
    pthread_t th;
    int started;
    atomic_int quit;
    atomic_int signals;           /* stop signals read from sig_fd */
    atomic_int orphaned;          /* exit_with_parent and the parent is gone */
    volatile sig_atomic_t cancel; /* set with a second stop or an orphan: device waits give up */
    int sig_fd;
    int exit_with_parent;
    pid_t parent;
    void *zctx;
    const sl_net_opts *net;
    uint32_t node;
    pthread_mutex_t mu; /* guards lease[] */
    struct lease {
        char ep[512];
        uint32_t stream;
        int want;
    } lease[SL_NODE_JOBS]; /* one per job slot */
};

struct admit_ctx {
    struct node *nd;
    uint32_t port;
};

/* One job in progress on this node. */
struct slot {
    struct node *nd;
    int active, finishing;
    uint32_t job_id, stages;
    uint32_t self; /* the node this job instance plays: nd->id, or a failed node's (job.self) */
    sl_job job;
    sl_jointab *joins[SL_STAGES_MAX];
    sl_chain *chain;
    sl_outbox *client, *client_ctl;
    uint64_t eos_mask[SL_STAGES_MAX]; /* bit i: node i's EOS arrived (stage 0: bit 0, client) */
    int finished[SL_STAGES_MAX];
    sl_rec local[SL_STAGES_MAX][LOCAL_CHUNK]; /* records for this node's own next stages */
    size_t nlocal[SL_STAGES_MAX];
    sl_node_report rep;
    uint64_t t0_us, last_lease_us;
    char msg[2048];

    /* ingest on this node (source.ingest: nodes): its part of the source, parsed here and routed
     * to the owners of the keys; its ids go to the client (SL_MSG_DICT) */
    sl_source *src;
    sl_addict *dict;
    FILE *src_in; /* a file's part (sl_slice_open), NULL for zmq and tcp */
    sl_slice_info part;
    uint64_t line0; /* lines of the file before the part (counted at the first bad line) */
    int line0_known;
    size_t dict_cursor;
    int go, ingest_done, stop_asked, input_closed, read_full;
    uint64_t bad_seen;
    sl_rec *ibuf; /* INGEST_CHUNK records */
    /* combining (docs/cluster.md, "Ingest on every node"): this node aggregates every record it
     * reads, whatever node owns its key, and at the end of its input sends each owner the
     * partial states of its keys instead of the records; the states the peers sent wait in
     * `foreign` (slot_size bytes each) until every peer's end of stream is in, then fold into
     * the first stage, whose final rows this node sends only for the keys it owns */
    int combine;
    size_t slot_size;
    sl_bytebuf foreign;
    uint64_t states_out, states_in;
    /* a zmq or tcp source with checkpoints: what is read is logged before it is routed
     * (host/cluster/nodelog.h); in_base counts what earlier instances of this node read (the
     * checkpoint's counters and the records sent again from the log) */
    sl_nodelog *ilog;
    sl_source_stats in_base;
    /* schema.attributes (nattr words a record, 0: none): the words of the first stage's local
     * records beside sl->local[0] (LOCAL_CHUNK x nattr), and one record with its words as the
     * frames to peers carry it (SL_SCHEMA_REC_ATTRS + nattr); made by open_ingest */
    uint32_t nattr;
    uint64_t *local_attr;
    unsigned char *wide;
    /* checkpoints: barriers aligned over a stage's senders, al[s] for stage s. Stage 0 with
     * ingest on every node (every node feeds it), and each later stage of a job with several
     * (every node's previous stage feeds it). While aligning, what a sender sent after its
     * barrier is held (and, at stage 0, this node's own reading waits) until every sender's
     * barrier is in. */
    struct align {
        int active;
        uint64_t id, complete; /* the barrier, and the newest complete checkpoint it names */
        uint64_t arrived;      /* bit d: node d's barrier (or its end of stream) is in */
        sl_source_stats at;    /* this node's source when it took its own barrier */
        uint64_t types[4];     /* records read by type then */
        struct held {
            uint32_t from, kind; /* kind: SL_FRAME_DATA (recs), SL_MSG_BARRIER, SL_FRAME_EOS */
            uint32_t na;         /* the records' attribute words each (after its 32 bytes) */
            uint64_t id, complete;
            unsigned char *recs; /* n records of 32 + 8 na bytes, as their frame had them */
            size_t n;
        } * held;
        size_t nheld, capheld, heldbytes;
    } al[SL_STAGES_MAX];
    uint64_t last_barrier[SL_STAGES_MAX]; /* the newest barrier each stage took (aligned) */
    /* the checkpoint whose state is being read into ckbuf stage by stage: ck_id, and the stages
     * in it so far (0: none being taken) */
    uint64_t ck_id;
    uint32_t ck_stages;
    int have_resume; /* restored: the source goes on from resume_at */
    sl_source_stats resume_at;
    uint64_t resume_types[4];
    struct slot_snap {    /* snapshots to the client and the chain's timers; zeroed by end_job */
        int aligned;      /* every_ms aligned to the wall clock (tick_jobs) */
        uint64_t seq;     /* snapshots sent */
        uint64_t skipped; /* snapshots not sent: the client's queue was over OUT_LIMIT */
    } snap;
    /* checkpoints: written on a thread of their own (host/io/ckptwriter.h) from the state read
     * into ckbuf at the barrier (kept from one to the next); SL_MSG_CKPT_DONE goes once the file
     * is durable (ckpt_settle). Made at the first barrier, freed by end_job. */
    sl_ckptw *ckw;
    sl_bytebuf ckbuf;
    unsigned char cksrc[SL_SOURCE_STATS_BYTES + 32]; /* the "source" section (ingest on nodes) */
};

struct node {
    const sl_cluster_cfg *cl;
    const sl_node_opts *o;
    uint32_t id, n;
    int quiet;
    sl_netctx *net;
    void *zctx; /* sl_netctx_zmq(net) */
    sl_poller *poller;
    sl_device *dev;
    sl_partmap *map;
    sl_inbox *in[SL_NODE_PORTS];
    sl_inbox *ctl;
    struct admit_ctx admit[SL_NODE_PORTS];
    sl_outbox *peer[SL_NODES_MAX][SL_NODE_PORTS]; /* [node][stage], not self */
    sl_outbox *ctl_to[SL_NODES_MAX];              /* peers' control ports (ACK) */
    struct agent agent;

    struct slot slot[SL_NODE_JOBS]; /* the jobs in progress */
    sl_rec aligned[LOCAL_CHUNK];    /* a received frame's records, copied to aligned memory */
    uint64_t aligned_attr[LOCAL_CHUNK * SL_SCHEMA_ATTRS]; /* ... and their attributes */
    unsigned char dictbuf[DICT_FRAME];                    /* an SL_MSG_DICT payload being filled */
    uint64_t last_loop_us, last_full_ack_us;

    /* jobs that ended lately: their senders may resend what this node took before the end
     * (acknowledged as a courtesy, so that they do not hold it for ever), and what this node
     * still holds for peers of a job that ended well is dropped once it is old */
    struct ended {
        uint32_t job;
        uint64_t at_us;
    } ended[ENDED_MAX];
    uint32_t nended_next;
    /* submitted jobs (registry ids) and the newest coordinator epoch of a driver that sent this
     * node their JOB: an older driver of the job is fenced (docs/fault-tolerance.md, "Two
     * drivers of one job"); the oldest entry makes room */
    struct fence {
        uint32_t job;
        uint64_t epoch;
    } fence[FENCES_MAX];
    uint32_t nfence_next;
    sl_ack courtesy[COURTESY_MAX];
    uint32_t ncourtesy;
    sl_registry *reg; /* node 0: the submitted jobs' drivers (registry.h); NULL elsewhere */
    sl_coord *coord;  /* with zookeeper: membership and the coordinator's seat (coord.h) */

    uint64_t cluster_id; /* sl_cluster_id of this node's cluster file */
    sl_webui *ui;        /* nodes[id].metrics: its jobs' figures and its own (NULL: none) */
    uint64_t ui_at_us;   /* when they were last published */
    struct reply replies[MAX_REPLIES];
    uint32_t nreplies;
    uint64_t replies_dropped;
};

static void logf_(struct node *nd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line on stderr, "node N: " first, written at once: the nodes of a local cluster share their
 * stderr, and a line written in pieces would interleave with another node's (a longer line is
 * cut, ending in "..."). */
static void logf_(struct node *nd, const char *fmt, ...)
{
    if (nd->quiet)
        return;
    char line[4096];
    const size_t room = sizeof line - 4; /* "...\n" */
    int n = snprintf(line, room, "node %u: ", nd->id);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, room - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len >= room) {
        len = room - 1;
        memcpy(line + len, "...", 3);
        len += 3;
    }
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

static void endpoint(char *buf, size_t len, const sl_node_addr *a, uint32_t off)
{
    snprintf(buf, len, "tcp://%s:%u", a->host, a->port + off);
}

/* ---- the lease thread --------------------------------------------------------------------- */

/* Removes the temporary folder of a parent that is gone: its cluster file and keys. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void *agent_main(void *arg)
{
    struct agent *a = arg;
    sl_outbox *ob[SL_NODE_JOBS] = {NULL};
    char cur[SL_NODE_JOBS][512];
    uint64_t last[SL_NODE_JOBS] = {0};
    memset(cur, 0, sizeof cur);
    while (!atomic_load(&a->quit)) {
        struct pollfd p = {.fd = a->sig_fd, .events = POLLIN};
        if (a->sig_fd >= 0) {
            if (poll(&p, 1, 50) > 0 && (p.revents & POLLIN)) {
                struct signalfd_siginfo si;
                while (read(a->sig_fd, &si, sizeof si) == (ssize_t)sizeof si)
                    atomic_fetch_add(&a->signals, 1);
            }
        } else {
            usleep(50000);
        }
        if (a->exit_with_parent && getppid() != a->parent)
            atomic_store(&a->orphaned, 1);
        if (atomic_load(&a->signals) > 1 || atomic_load(&a->orphaned))
            a->cancel = 1; /* the main thread may be waiting for a kernel: let it go */
        /* every active job's client gets a lease, each through a socket of its own */
        for (int i = 0; i < SL_NODE_JOBS; i++) {
            pthread_mutex_lock(&a->mu);
            int want = a->lease[i].want;
            uint32_t stream = a->lease[i].stream;
            if (want && strcmp(cur[i], a->lease[i].ep) != 0) {
                sl_outbox_destroy(&ob[i]);
                char err[256];
                snprintf(cur[i], sizeof cur[i], "%s", a->lease[i].ep);
                sl_outbox_new(a->zctx, cur[i], a->node, a->net, &ob[i], err, sizeof err);
                last[i] = 0;
            }
            pthread_mutex_unlock(&a->mu);
            if (!want && ob[i]) {
                sl_outbox_close_now(&ob[i]);
                cur[i][0] = '\0';
            }
            uint64_t now = sl_net_now_us();
            if (want && ob[i] && now - last[i] >= (uint64_t)SL_LEASE_EVERY_MS * 1000) {
                if (sl_outbox_send_now(ob[i], SL_MSG_LEASE, stream, NULL, 0) == 0)
                    last[i] = now;
            }
        }
    }
    for (int i = 0; i < SL_NODE_JOBS; i++)
        sl_outbox_close_now(&ob[i]);
    return NULL;
}

/* Leases slot i's job to its client (ep), or stops (ep NULL). */
static void agent_lease(struct node *nd, int i, const char *ep, uint32_t stream)
{
    struct agent *a = &nd->agent;
    pthread_mutex_lock(&a->mu);
    a->lease[i].want = ep != NULL;
    if (ep)
        snprintf(a->lease[i].ep, sizeof a->lease[i].ep, "%s", ep);
    a->lease[i].stream = stream;
    pthread_mutex_unlock(&a->mu);
}

/* Stops requested so far: signals read by the lease thread, or *stop from a handler; an orphan
 * counts as two (abort the job). */
static int stops(const struct node *nd)
{
    int s = atomic_load(&((struct node *)nd)->agent.signals);
    if (nd->o->stop && *nd->o->stop > s)
        s = *nd->o->stop;
    if (atomic_load(&((struct node *)nd)->agent.orphaned))
        s = 2;
    return s;
}

/* ---- replies and acknowledgements --------------------------------------------------------- */

static void on_reject(void *ud, int verdict, const sl_frame_hdr *h, size_t len, int64_t detail)
{
    struct node *nd = ud;
    if (verdict == -2)
        logf_(nd,
              "frame seq %" PRIu64 " of stream %u from %u is ahead by %" PRId64
              ": dropped until the sender resends what is missing",
              h->seq, h->stream, h->source, detail);
    else if (verdict == -1)
        ; /* duplicates are expected after a resend */
    else if (verdict == -3)
        logf_(nd, "too many streams tracked: a frame of stream %u from %u dropped", h->stream,
              h->source);
    else
        logf_(nd, "rejected a %zu-byte frame: %s (counted)", len, sl_frame_verdict_name(verdict));
}

/* Queues a control frame to a one-off endpoint (replies to HELLO, refusals); pump_replies sends
 * it from the poll loop. Never blocks: with every slot taken the reply is dropped and counted. */
static void reply(struct node *nd, const char *ep, unsigned kind, uint32_t stream, const void *p,
                  size_t len)
{
    char err[256];
    sl_outbox *ob = NULL;
    int rc;
    if (nd->nreplies == MAX_REPLIES) {
        nd->replies_dropped++;
        logf_(nd, "reply to %s dropped: %d replies already waiting (%" PRIu64 " dropped)", ep,
              MAX_REPLIES, nd->replies_dropped);
        return;
    }
    if (sl_outbox_new(nd->zctx, ep, nd->id, &nd->cl->net, &ob, err, sizeof err)) {
        logf_(nd, "cannot reply to %s: %s", ep, err);
        return;
    }
    if ((rc = sl_outbox_control(ob, kind, stream, p, len))) {
        logf_(nd, "reply to %s: %s", ep, sl_strerror(rc));
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
        if (sent) {
            sl_outbox_destroy(&r->ob);
        } else {
            nd->replies_dropped++;
            logf_(nd, "a reply was not taken within %d ms: dropped (%" PRIu64 " dropped)",
                  (int)(REPLY_TIMEOUT_US / 1000), nd->replies_dropped);
            sl_outbox_close_now(&r->ob);
        }
        nd->replies[i] = nd->replies[--nd->nreplies];
    }
}

/* The slot of job `job` in progress, or NULL. */
static uint64_t all_nodes(const struct node *nd)
{
    return nd->n == 64 ? UINT64_MAX : (UINT64_C(1) << nd->n) - 1;
}

/* 1 when the nodes read the job's source (source.ingest: nodes), not its client. */
static int nodes_ingest(const struct slot *sl)
{
    return sl->job.topo.source.ingest == SL_INGEST_NODES;
}

static struct slot *slot_of(struct node *nd, uint32_t job)
{
    for (int i = 0; i < SL_NODE_JOBS; i++)
        if (nd->slot[i].active && nd->slot[i].job_id == job)
            return &nd->slot[i];
    return NULL;
}

static int nactive(const struct node *nd)
{
    int k = 0;
    for (int i = 0; i < SL_NODE_JOBS; i++)
        k += nd->slot[i].active;
    return k;
}

/* Sends the acknowledgements in a[0..n) owed to `source` (a node, or with SL_CLIENT_SOURCE the
 * client of job `job`) on socket ob. Returns 0 when sent or nothing was owed, 1 when the socket
 * could not take them now. */
static int send_acks_on(sl_outbox *ob, uint32_t source, uint32_t job, const sl_ack *a, size_t n)
{
    sl_ack mine[SL_ACK_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n && k < SL_ACK_MAX; i++)
        if (a[i].source == source &&
            (source != SL_CLIENT_SOURCE || sl_stream_job(a[i].stream) == job))
            mine[k++] = a[i];
    if (!k || !ob)
        return 0;
    unsigned char buf[4 + SL_ACK_MAX * SL_ACK_BYTES];
    size_t len = sl_ack_encode(mine, k, buf);
    return sl_outbox_send_now(ob, SL_FRAME_ACK, 0, buf, len) == 0 ? 0 : 1;
}

static int send_acks_to(struct node *nd, uint32_t source, const sl_ack *a, size_t n)
{
    if (source == SL_CLIENT_SOURCE) {
        int missed = 0;
        for (int i = 0; i < SL_NODE_JOBS; i++)
            if (nd->slot[i].active)
                missed |= send_acks_on(nd->slot[i].client_ctl, source, nd->slot[i].job_id, a, n);
        return missed;
    }
    return source < nd->n ? send_acks_on(nd->ctl_to[source], source, 0, a, n) : 0;
}

/* Acknowledges what the data ports delivered: what changed, and everything every FULL_ACK_US
 * (an ACK frame may be lost: it is never resent, only repeated). */
static void send_acks(struct node *nd, uint64_t now)
{
    int all = now - nd->last_full_ack_us >= FULL_ACK_US;
    if (all)
        nd->last_full_ack_us = now;
    for (uint32_t s = 0; s < SL_NODE_PORTS; s++) {
        sl_ack a[SL_ACK_MAX];
        size_t n = sl_inbox_take_acks(nd->in[s], a, SL_ACK_MAX, all);
        int missed = 0;
        if (s == 0)
            missed |= send_acks_to(nd, SL_CLIENT_SOURCE, a, n);
        for (uint32_t d = 0; d < nd->n; d++)
            missed |= send_acks_to(nd, d, a, n);
        if (missed)
            nd->last_full_ack_us = 0; /* try everything again on the next turn */
    }
    if (nd->ncourtesy) {
        for (uint32_t d = 0; d < nd->n; d++)
            send_acks_to(nd, d, nd->courtesy, nd->ncourtesy);
        nd->ncourtesy = 0;
    }
}

/* ---- jobs ------------------------------------------------------------------------------------ */

static int hold(struct slot *sl, uint32_t s, uint32_t from, uint32_t kind, uint64_t id,
                uint64_t complete, const void *recs, uint32_t na, size_t n);
static int align_try(struct slot *sl, uint32_t s);

/* Whether what this node sends its own stage s (s >= 1) now comes after its barrier there, while
 * the stage waits for its peers' barriers: it is held until they are in. */
static int self_held(const struct slot *sl, uint32_t s)
{
    return s > 0 && sl->al[s].active && (sl->al[s].arrived >> sl->nd->id & 1);
}

static int flush_local(struct slot *sl, uint32_t stage)
{
    size_t k = sl->nlocal[stage];
    sl->nlocal[stage] = 0;
    if (!k)
        return 0;
    if (self_held(sl, stage))
        return hold(sl, stage, sl->nd->id, SL_FRAME_DATA, 0, 0, sl->local[stage], 0, k);
    /* the first stage's records read here carry their attributes (ingest on this node) */
    const uint64_t *attrs = stage == 0 && sl->nattr ? sl->local_attr : NULL;
    int rc = sl_chain_push_attrs(sl->chain, stage, sl->local[stage], attrs, k);
    if (rc)
        snprintf(sl->msg, sizeof sl->msg, "%s", sl_chain_message(sl->chain));
    return rc;
}

/* Records for `stage` go to the owner of each key. With sl->nattr (this node's own reading into
 * the first stage, schema.attributes) each record takes its words along: attrs holds nattr a
 * record (NULL: zeros); to a peer they follow its 32 bytes in a frame of schema
 * SL_SCHEMA_REC_ATTRS + nattr, as the client's frames carry them. */
static int route_attrs(struct slot *sl, uint32_t stage, const sl_rec *recs, const uint64_t *attrs,
                       size_t n)
{
    struct node *nd = sl->nd;
    uint32_t stream = sl_job_stream(sl->job_id, stage);
    const size_t na = stage == 0 ? sl->nattr : 0;
    const size_t rsize = sizeof(sl_rec) + 8 * na;
    const uint32_t schema = na ? SL_SCHEMA_REC_ATTRS + (uint32_t)na : SL_SCHEMA_REC;
    if (sl->combine && stage == 0 && (!na || attrs)) { /* all stay here: no barrier holds them */
        int rc = flush_local(sl, 0);
        if (rc == 0 && (rc = sl_chain_push_attrs(sl->chain, 0, recs, na ? attrs : NULL, n)))
            snprintf(sl->msg, sizeof sl->msg, "%s", sl_chain_message(sl->chain));
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t d = sl_partmap_node_of_key(nd->map, recs[i].key);
        if (d == nd->id) {
            size_t at = sl->nlocal[stage]++;
            sl->local[stage][at] = recs[i];
            if (na && attrs)
                memcpy(sl->local_attr + at * na, attrs + i * na, 8 * na);
            else if (na)
                memset(sl->local_attr + at * na, 0, 8 * na);
            if (sl->nlocal[stage] == LOCAL_CHUNK) {
                int rc = flush_local(sl, stage);
                if (rc)
                    return rc;
            }
            continue;
        }
        const void *one = &recs[i];
        if (na) {
            memcpy(sl->wide, &recs[i], sizeof(sl_rec));
            if (attrs)
                memcpy(sl->wide + sizeof(sl_rec), attrs + i * na, 8 * na);
            else
                memset(sl->wide + sizeof(sl_rec), 0, 8 * na);
            one = sl->wide;
        }
        if (sl_outbox_put(nd->peer[d][stage], stream, schema, rsize, one, 1)) {
            snprintf(sl->msg, sizeof sl->msg, "out of memory queueing records for node %u", d);
            return SL_ENOMEM;
        }
    }
    return 0;
}

/* sl_chain_route_fn: records for `stage` go to the owner of each key. */
static int route(void *ud, uint32_t stage, const sl_rec *recs, size_t n)
{
    return route_attrs(ud, stage, recs, NULL, n);
}

/* This node's watermark for the job: the largest event time pushed into stage 0 less the first
 * PE's lateness, as the one-process run's sink clock (host/run/pipeline.c) has it. */
static void slot_watermark(const struct slot *sl, int32_t *have, int64_t *wm)
{
    sl_chain_stats cs;
    sl_chain_get_stats(sl->chain, &cs);
    *have = cs.have_time;
    *wm = cs.have_time ? cs.max_time_ms - sl->job.topo.pe.lateness_ms : 0;
}

/* A snapshot of the last stage goes to the client when the job asks for snapshots: its rows,
 * then SL_MSG_SNAPSHOT_END, on the stream of the final rows, so that it can never overtake
 * them. While the client's queue is over OUT_LIMIT a snapshot is skipped (a later one
 * supersedes it), so that what is queued stays bounded whatever the trigger's pace. */
static int snapshot_to_client(struct slot *sl, const sl_row *rows, size_t n)
{
    if (!sl->job.topo.sink.snapshots || !sl->client || !sl->chain)
        return 0;
    if (sl_outbox_queued_bytes(sl->client) > OUT_LIMIT) {
        sl->snap.skipped++;
        return 0;
    }
    sl_snap_end m;
    memset(&m, 0, sizeof m);
    m.seq = ++sl->snap.seq;
    m.rows = n;
    slot_watermark(sl, &m.have_watermark, &m.watermark_ms);
    sl_engine *tail = sl_chain_engine(sl->chain, sl->stages - 1);
    m.cols = *sl_engine_columns(tail);
    m.windowed = sl_engine_windowed(tail);
    uint32_t stream = sl_job_stream(sl->job_id, sl->stages - 1);
    if ((n && sl_outbox_put(sl->client, stream, SL_SCHEMA_ROW_SNAPSHOT, sizeof(sl_row), rows, n)) ||
        sl_outbox_control(sl->client, SL_MSG_SNAPSHOT_END, stream, &m, sizeof m)) {
        snprintf(sl->msg, sizeof sl->msg, "out of memory queueing a snapshot for the client");
        return SL_ENOMEM;
    }
    return 0;
}

/* sl_emit_fn of the last stage: rows go to the client. */
static int to_client(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    struct slot *sl = ud;
    if (kind == SL_EMIT_SNAPSHOT)
        return snapshot_to_client(sl, rows, n);
    uint32_t schema = kind == SL_EMIT_FINAL ? SL_SCHEMA_ROW_FINAL : SL_SCHEMA_ROW_WINDOWS;
    sl_row *own = NULL;
    if (sl->combine && n) { /* the rows of the keys this node owns: the others' went as states */
        if (!(own = malloc(n * sizeof *own))) {
            snprintf(sl->msg, sizeof sl->msg, "out of memory keeping this node's rows");
            return SL_ENOMEM;
        }
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (sl_partmap_node_of_key(sl->nd->map, rows[i].key) == sl->nd->id)
                own[m++] = rows[i];
        rows = own;
        n = m;
    }
    int rc = n ? sl_outbox_put(sl->client, sl_job_stream(sl->job_id, sl->stages - 1), schema,
                               sizeof(sl_row), rows, n)
               : 0;
    free(own);
    if (rc) {
        snprintf(sl->msg, sizeof sl->msg, "out of memory queueing rows for the client");
        return SL_ENOMEM;
    }
    sl->rep.rows_out += n;
    return 0;
}

/* 1 when `job` ended here lately (its late frames get courtesy acknowledgements). */
static int ended_lately(const struct node *nd, uint32_t job)
{
    for (int i = 0; i < ENDED_MAX; i++)
        if (nd->ended[i].job == job && job != 0)
            return 1;
    return 0;
}

static int ckpt_settle(struct slot *sl, int wait);

/* Ends the job of slot sl. `graceful`: it finished and the client has every frame (or is told
 * by ABORT); what peers have not yet acknowledged is kept for them (it is dropped only once it
 * is old: forget_old). Otherwise (cancelled) every frame of the job still held for peers is
 * dropped. */
/* ---- metrics (nodes[id].metrics; host/obs) ----------------------------------------------- */

/* This node's source counters, with what earlier instances of it read (a restored instance of
 * a logged source: the checkpoint's counters and the records sent again from the log). */
static void source_stats(const struct slot *sl, sl_source_stats *ss)
{
    sl_source_get_stats(sl->src, ss);
    ss->input.lines += sl->in_base.input.lines;
    ss->input.records += sl->in_base.input.records;
    ss->input.bad += sl->in_base.input.bad;
    ss->input.blank += sl->in_base.input.blank;
    ss->input.bytes += sl->in_base.input.bytes;
    ss->filtered += sl->in_base.filtered;
}

/* Publishes this node's part of sl's job, in `state`. */
static void publish_job(struct slot *sl, const char *state)
{
    struct node *nd = sl->nd;
    static sl_obs_job j; /* the node's thread only */
    memset(&j, 0, sizeof j);
    const sl_topology *t = &sl->job.topo;
    snprintf(j.name, sizeof j.name, "job-%u", sl->job_id);
    snprintf(j.node, sizeof j.node, "node-%u", nd->id);
    snprintf(j.state, sizeof j.state, "%s", state);
    double age = (double)(sl_net_now_us() - sl->t0_us) * 1e-6;
    j.start_unix = (double)time(NULL) - age;
    j.elapsed_s = age;
    snprintf(j.source, sizeof j.source, "%s",
             sl->src ? sl_source_kind_name(t->source.kind) : "peers");
    snprintf(j.sink, sizeof j.sink, "client");
    const sl_device_info *di = sl_device_get_info(nd->dev);
    snprintf(j.device, sizeof j.device, "%.120s / %.120s", di->platform, di->name);
    if (sl->chain)
        sl_chain_get_stats(sl->chain, &j.chain);
    j.stages = sl->stages;
    for (uint32_t s = 0; s < j.stages && s < SL_STAGES_MAX; s++) {
        const sl_pe_cfg *pe = s == 0 ? &t->pe : &t->next[s - 1].pe;
        snprintf(j.pe_name[s], sizeof j.pe_name[s], "%s", pe->name);
        snprintf(j.pe_kind[s], sizeof j.pe_kind[s], "%s", sl_pe_kind_name(pe->kind));
        j.pe_capacity[s] = pe->capacity;
    }
    if (sl->src) {
        sl_source_stats ss;
        source_stats(sl, &ss);
        j.input = ss.input;
        j.generated = ss.generated;
        j.filtered = ss.filtered;
    }
    sl_webui_publish(nd->ui, &j);
}

/* Publishes the node's own figures and each job's part, every 250 ms. */
static void publish_metrics(struct node *nd, uint64_t now)
{
    if (!nd->ui || now - nd->ui_at_us < 250000)
        return;
    nd->ui_at_us = now;
    static sl_obs_node o; /* the node's thread only */
    memset(&o, 0, sizeof o);
    snprintf(o.node, sizeof o.node, "node-%u", nd->id);
    for (uint32_t d = 0; d < nd->n; d++)
        for (int s = -1; s < SL_NODE_PORTS && o.ndests < SL_OBS_DESTS; s++) {
            sl_outbox *ob = s < 0 ? nd->ctl_to[d] : nd->peer[d][s];
            if (!ob)
                continue;
            sl_obs_dest *x = &o.dest[o.ndests++];
            x->node = d;
            x->port = s;
            x->queued_frames = sl_outbox_queued_frames(ob);
            x->queued_bytes = sl_outbox_queued_bytes(ob);
            x->unacked_frames = sl_outbox_unacked_frames(ob);
            sl_outbox_get_stats(ob, &x->st);
        }
    for (int s = 0; s <= SL_NODE_PORTS; s++) {
        sl_inbox *ib = s < SL_NODE_PORTS ? nd->in[s] : nd->ctl;
        if (!ib)
            continue;
        sl_inbox_stats st;
        sl_inbox_get_stats(ib, &st);
        for (int v = 1; v < SL_FRAME_NVERDICTS; v++)
            o.rejected[v] += st.rejected[v];
    }
    sl_webui_publish_node(nd->ui, &o);
    for (int i = 0; i < SL_NODE_JOBS; i++)
        if (nd->slot[i].active)
            publish_job(&nd->slot[i], nd->slot[i].finishing ? "finishing" : "running");
}

static void drain_to_log(struct slot *sl);

static void end_job(struct slot *sl, int graceful)
{
    struct node *nd = sl->nd;
    if (nd->ui)
        publish_job(sl, graceful ? "finished" : "failed");
    uint32_t mask = 0xffffff00u, value = sl_job_stream(sl->job_id, 0);
    if (graceful)
        ckpt_settle(sl, 1);     /* the client hears of a checkpoint written as the job ended */
    sl_ckptw_destroy(&sl->ckw); /* waits for a write in flight */
    sl_bytebuf_free(&sl->ckbuf);
    if (sl->client) {
        if (graceful && sl_outbox_drain(sl->client, 1000) != 0)
            logf_(nd, "job %u: the client did not take every result within 1 s", sl->job_id);
        sl_outbox_close_now(&sl->client);
    }
    sl_outbox_close_now(&sl->client_ctl);
    agent_lease(nd, (int)(sl - nd->slot), NULL, 0);
    if (!graceful)
        for (uint32_t d = 0; d < nd->n; d++)
            for (uint32_t s = 0; s < SL_NODE_PORTS; s++)
                if (nd->peer[d][s])
                    sl_outbox_forget(nd->peer[d][s], mask, value);
    if (!graceful)
        drain_to_log(sl);
    sl_nodelog_close(&sl->ilog);
    memset(&sl->in_base, 0, sizeof sl->in_base);
    sl_chain_destroy(&sl->chain);
    sl_source_destroy(&sl->src);
    if (sl->src_in)
        fclose(sl->src_in);
    sl->src_in = NULL;
    sl_addict_destroy(&sl->dict);
    free(sl->ibuf);
    sl->ibuf = NULL;
    sl_bytebuf_free(&sl->foreign);
    sl->combine = 0;
    sl->states_out = sl->states_in = 0;
    free(sl->local_attr);
    sl->local_attr = NULL;
    free(sl->wide);
    sl->wide = NULL;
    sl->nattr = 0;
    for (int st = 0; st < SL_STAGES_MAX; st++) {
        for (size_t i = 0; i < sl->al[st].nheld; i++)
            free(sl->al[st].held[i].recs);
        free(sl->al[st].held);
    }
    memset(sl->al, 0, sizeof sl->al);
    memset(sl->last_barrier, 0, sizeof sl->last_barrier);
    sl->ck_id = 0;
    sl->ck_stages = 0;
    sl->have_resume = 0;
    for (int i = 0; i < SL_STAGES_MAX; i++)
        sl_jointab_destroy(&sl->joins[i]);
    sl_job_clear(&sl->job);
    for (int s = 0; s < SL_NODE_PORTS; s++)
        sl_inbox_forget(nd->in[s], mask, value);
    nd->ended[nd->nended_next] = (struct ended){sl->job_id, sl_net_now_us()};
    nd->nended_next = (nd->nended_next + 1) % ENDED_MAX;
    sl->active = 0;
    sl->finishing = 0;
    memset(&sl->snap, 0, sizeof sl->snap);
}

/* Drops what this node still holds for peers of jobs that ended more than 2 x net.liveness_ms
 * ago: a peer that has not acknowledged it by then is gone, and the job with it. */
static void forget_old(struct node *nd, uint64_t now)
{
    uint64_t age = 2 * (uint64_t)nd->cl->net.liveness_ms * 1000;
    for (int i = 0; i < ENDED_MAX; i++) {
        struct ended *e = &nd->ended[i];
        if (!e->job || !e->at_us || now - e->at_us < age)
            continue;
        for (uint32_t d = 0; d < nd->n; d++)
            for (uint32_t s = 0; s < SL_NODE_PORTS; s++)
                if (nd->peer[d][s])
                    sl_outbox_forget(nd->peer[d][s], 0xffffff00u, sl_job_stream(e->job, 0));
        e->at_us = 0; /* forgotten; still remembered for courtesy acknowledgements */
    }
}

/* 1 when this node should stop without waiting on peers: its parent is gone, or a kernel that
 * never returns holds its device (its threads then starve ZeroMQ's, and waiting helps nobody). */
static int hurried(const struct node *nd)
{
    return atomic_load(&((struct node *)nd)->agent.orphaned) || sl_device_wedged(nd->dev);
}

/* Reports a failure to the job's client and drops the job. */
static void abort_job(struct slot *sl, const char *why)
{
    struct node *nd = sl->nd;
    char m[2200];
    snprintf(m, sizeof m, "node %u: %s", nd->id, why);
    logf_(nd, "job %u failed: %s", sl->job_id, why);
    if (sl->client)
        sl_outbox_control(sl->client, SL_MSG_ABORT, sl_job_stream(sl->job_id, 0), m, strlen(m));
    if (sl->client && !atomic_load(&nd->agent.orphaned) && sl_outbox_drain(sl->client, 1000) != 0)
        logf_(nd, "job %u: the client did not take the failure report within 1 s", sl->job_id);
    end_job(sl, 0);
}

/* The JOB of a submitted job's driver started by the coordinator of `epoch`: 0 when it may run,
 * else -1 with the refusal in err (a newer coordinator's driver was here). A newer epoch than any
 * seen for the job is remembered, and what older drivers of the job run here is ended: they
 * learn it from the failure report, and their frames find no job any more. */
static int fence_driver(struct node *nd, uint32_t job, uint64_t epoch, char *err, size_t errlen)
{
    struct fence *f = NULL;
    for (int i = 0; i < FENCES_MAX && !f; i++)
        if (nd->fence[i].job == job && nd->fence[i].epoch)
            f = &nd->fence[i];
    if (f && epoch < f->epoch) {
        snprintf(err, errlen,
                 "fenced: submitted job %u is driven by the driver of a newer coordinator (epoch "
                 "%" PRIu64 "; this driver's is %" PRIu64 ")",
                 job, f->epoch, epoch);
        return -1;
    }
    if (f && epoch == f->epoch)
        return 0;
    if (!f) {
        f = &nd->fence[nd->nfence_next];
        nd->nfence_next = (nd->nfence_next + 1) % FENCES_MAX;
    }
    *f = (struct fence){job, epoch};
    for (int i = 0; i < SL_NODE_JOBS; i++) {
        struct slot *sl = &nd->slot[i];
        if (sl->active && sl->job.registry_id == job && sl->job.driver_epoch < epoch) {
            char why[256];
            snprintf(why, sizeof why,
                     "fenced: the driver of a newer coordinator (epoch %" PRIu64
                     ") took submitted job %u over from this one (epoch %" PRIu64 ")",
                     epoch, job, sl->job.driver_epoch);
            abort_job(sl, why);
        }
    }
    return 0;
}

/* Refuses the JOB frame f with "node N: why" sent to its result endpoint (when it has a valid
 * one), and forgets its stream. */
static void refuse_job(struct node *nd, const sl_frame *f, const char *why)
{
    sl_job other;
    char err[1024];
    if (sl_job_decode(f->payload, f->h.payload_len, &other, err, sizeof err) == 0 &&
        sl_job_check_endpoint(other.result_endpoint, f->peer, err, sizeof err) == 0) {
        char m[512];
        snprintf(m, sizeof m, "node %u: %s", nd->id, why);
        reply(nd, other.result_endpoint, SL_MSG_ABORT, f->h.stream, m, strlen(m));
    }
    sl_job_clear(&other);
    sl_inbox_forget(nd->in[0], 0xffffff00u, f->h.stream);
}

/* This node's share of a PE's capacity: the keys of the partitions it owns (a key's partition is
 * a hash of it), with six standard deviations of hashing imbalance and 1,024 keys of room, never
 * more than the whole. Each node's state table then holds about its share, so a cluster's memory
 * per node (and the time to clear a fresh table, which dominates a small job's start) falls as
 * nodes are added. */
static uint64_t node_capacity(const struct node *nd, uint32_t self, uint64_t cap)
{
    double p = (double)sl_partmap_owned(nd->map, self) / (double)sl_partmap_nparts(nd->map);
    double mean = (double)cap * p;
    double v = mean + 6.0 * sqrt(mean * (1.0 - p)) + 1024.0;
    return v >= (double)cap ? cap : (uint64_t)v;
}

/* ---- checkpoints (topo.checkpoint, the client's barriers) ------------------------------------ */

/* The checkpoint directory of the node this job instance plays: DIR/node-ID (DIR: root, or the
 * job's checkpoint.dir when NULL). */
static void ckpt_dir(const struct slot *sl, const char *root, char *buf, size_t len)
{
    snprintf(buf, len, "%s/node-%u", root ? root : sl->job.topo.checkpoint.dir, sl->self);
}

/* Loads checkpoint job.restore_id of this node into the chain. Returns 0 or an sl_err with err. */
static int restore_state(struct slot *sl, char *err, size_t errlen)
{
    char dir[4200], path[4400], why[1200];
    ckpt_dir(sl, sl->job.restore_dir[0] ? sl->job.restore_dir : NULL, dir, sizeof dir);
    sl_ckpt_path(path, sizeof path, dir, sl->job.restore_id);
    sl_ckpt *c = NULL;
    int rc = sl_ckpt_open(path, &c, err, errlen);
    if (rc)
        return rc;
    size_t len = 0, slen = 0;
    const unsigned char *state = sl_ckpt_get(c, "state", &len);
    const unsigned char *src = sl_ckpt_get(c, "source", &slen);
    if (src && slen == SL_SOURCE_STATS_BYTES + 32) {
        /* ingest on every node: where this node's own reading goes on */
        sl_source_stats_get(src, &sl->resume_at);
        for (int i = 0; i < 4; i++)
            sl->resume_types[i] = sl_le_get(src + SL_SOURCE_STATS_BYTES + 8 * i, 8);
        sl->have_resume = 1;
    }
    if (!state) {
        snprintf(err, errlen, "%.500s has no state section", path);
        rc = SL_EPARSE;
    } else if ((rc = sl_chain_load(sl->chain, state, len, why, sizeof why))) {
        snprintf(err, errlen, "%.500s: %.400s", path, why);
    }
    sl_ckpt_close(&c);
    if (rc == 0)
        logf_(sl->nd, "job %u: state of node %u restored from checkpoint %" PRIu64, sl->job_id,
              sl->self, sl->job.restore_id);
    return rc;
}

/* Tells the client how checkpoint `id` went: SL_MSG_CKPT_DONE with ok, or the reason. Returns 0
 * or SL_ENOMEM (sl->msg). */
static int ckpt_reply(struct slot *sl, uint64_t id, const char *why)
{
    unsigned char reply[8 + 4 + 1024];
    size_t rlen = 12;
    if (why)
        logf_(sl->nd, "job %u: %s", sl->job_id, why);
    sl_le_put(reply, id, 8);
    sl_le_put(reply + 8, why ? 0 : 1, 4);
    if (why) {
        size_t w = strnlen(why, 1024);
        memcpy(reply + 12, why, w);
        rlen += w;
    }
    if (sl_outbox_control(sl->client, SL_MSG_CKPT_DONE, sl_job_stream(sl->job_id, sl->stages - 1),
                          reply, rlen)) {
        snprintf(sl->msg, sizeof sl->msg, "out of memory");
        return SL_ENOMEM;
    }
    return 0;
}

/* Takes the completion of the checkpoint being written, if it is done (wait: blocks until it
 * is), and answers the client. Returns 0 or SL_ENOMEM (sl->msg). */
static int ckpt_settle(struct slot *sl, int wait)
{
    sl_ckptw_done d;
    if (!sl->ckw || !sl_ckptw_poll(sl->ckw, wait, &d) || !sl->client)
        return 0;
    return ckpt_reply(sl, d.id, d.rc ? d.why : NULL);
}

static int barrier_in(struct slot *sl, uint32_t s, uint32_t from, uint64_t id, uint64_t complete);

/* Stage s took barrier `id`: it follows the rows stage s sent every peer's stage s + 1 (none once
 * stage s has ended: its end of stream went instead). Returns 0 or SL_ENOMEM (sl->msg). */
static int pass_barrier(struct slot *sl, uint32_t s, uint64_t id, uint64_t complete)
{
    struct node *nd = sl->nd;
    if (sl->finished[s])
        return 0;
    unsigned char p[16];
    sl_le_put(p, id, 8);
    sl_le_put(p + 8, complete, 8);
    uint32_t stream = sl_job_stream(sl->job_id, s + 1);
    for (uint32_t d = 0; d < nd->n; d++)
        if (d != nd->id && sl_outbox_control(nd->peer[d][s + 1], SL_MSG_BARRIER, stream, p, 16)) {
            snprintf(sl->msg, sizeof sl->msg, "out of memory");
            return SL_ENOMEM;
        }
    return 0;
}

/* Barrier `id` reached stage s (s = 0: the first stage, from the client or aligned over the
 * nodes; s >= 1: aligned over the nodes' previous stages): every record before it is in that
 * stage. Reads the stage's state into sl->ckbuf (the first stage starts the image, each later
 * one appends to it: sl_chain_save_stage) and, before the last stage, sends the barrier on to
 * every peer's next stage behind the rows this one sent them, and to its own (barrier_in); the
 * next stage takes it once every peer's is in. At the last stage the image is whole: checkpoint
 * `id` goes to the writer and the client is told once it is durable (ckpt_settle, from the poll
 * loop). A checkpoint still being written is waited for at the first stage: at most one in
 * flight, and the barrier's state must be read now. `complete` is the newest checkpoint every
 * node has written (0: none), which must stay. Returns 0 or an sl_err (the job fails: its state
 * cannot be read). */
static int take_checkpoint(struct slot *sl, uint32_t s, uint64_t id, uint64_t complete)
{
    struct node *nd = sl->nd;
    int rc;
    if (s == 0) {
        if ((rc = ckpt_settle(sl, 1)))
            return rc;
        if (nodes_ingest(sl) && sl->finished[0]) {
            /* the input ended and the first stage is done: nothing to go back to (status 2) */
            unsigned char reply[12];
            sl_le_put(reply, id, 8);
            sl_le_put(reply + 8, 2, 4);
            return sl_outbox_control(sl->client, SL_MSG_CKPT_DONE,
                                     sl_job_stream(sl->job_id, sl->stages - 1), reply, sizeof reply)
                       ? SL_ENOMEM
                       : 0;
        }
        if (sl->ck_stages) {
            /* the client sends a job with several stages its next barrier only once every
             * node answered the previous one */
            snprintf(sl->msg, sizeof sl->msg,
                     "checkpoint %" PRIu64 " reached the first stage while checkpoint %" PRIu64
                     " was still being taken by stage %u",
                     id, sl->ck_id, sl->ck_stages);
            return SL_EINVAL;
        }
        sl->ck_id = id;
    } else if (sl->ck_stages == 0) {
        /* this node's first stage had ended and answered that there is nothing to go back to:
         * its later stages pass the barrier on, so that the peers' next stages need not wait
         * for its end of stream */
        if (s + 1 == sl->stages)
            return 0;
        if ((rc = flush_local(sl, s + 1)) || (rc = pass_barrier(sl, s, id, complete)))
            return rc;
        return barrier_in(sl, s + 1, nd->id, id, complete);
    } else if (sl->ck_stages != s || sl->ck_id != id) {
        snprintf(sl->msg, sizeof sl->msg,
                 "checkpoint %" PRIu64 " reached stage %u, which expected checkpoint %" PRIu64
                 " after %u stage(s)",
                 id, s, sl->ck_id, sl->ck_stages);
        return SL_EINVAL;
    }
    if ((rc = sl_chain_save_stage(sl->chain, s, &sl->ckbuf))) {
        sl->ck_stages = 0;
        snprintf(sl->msg, sizeof sl->msg, "checkpoint %" PRIu64 ": %s", id,
                 sl_chain_message(sl->chain));
        return rc;
    }
    sl->ck_stages = s + 1;
    if (s + 1 < sl->stages) {
        /* the rows this stage made for this node's own next stage before the barrier go in
         * before it; to every peer the barrier follows the rows sent so far */
        if ((rc = flush_local(sl, s + 1)) || (rc = pass_barrier(sl, s, id, complete)))
            return rc;
        return barrier_in(sl, s + 1, nd->id, id, complete);
    }
    sl->ck_stages = 0;
    /* the cut in the result stream (status 3): rows sent before this are in the checkpoint's
     * state as emitted, the later ones are not; the answer comes once the file is durable */
    unsigned char cut[12];
    sl_le_put(cut, id, 8);
    sl_le_put(cut + 8, 3, 4);
    if (sl_outbox_control(sl->client, SL_MSG_CKPT_DONE, sl_job_stream(sl->job_id, sl->stages - 1),
                          cut, sizeof cut)) {
        snprintf(sl->msg, sizeof sl->msg, "out of memory");
        return SL_ENOMEM;
    }
    char dir[4200], why[1024];
    ckpt_dir(sl, NULL, dir, sizeof dir);
    if (mkdir(sl->job.topo.checkpoint.dir, 0755) != 0 && errno != EEXIST) {
        snprintf(why, sizeof why, "cannot make %.700s: %s", sl->job.topo.checkpoint.dir,
                 strerror(errno));
        return ckpt_reply(sl, id, why);
    }
    if (!sl->ckw && sl_ckptw_new(&sl->ckw, why, sizeof why))
        return ckpt_reply(sl, id, why);
    /* Older ones go only once a later one is complete on every node (the client says which):
     * that is the one a recovery loads. `keep` of the newest stay as well. */
    uint64_t keep = sl->job.topo.checkpoint.keep;
    uint64_t below = id >= keep ? id - keep + 1 : 0;
    /* with ingest on every node, where its own reading was at the barrier (bytes kept in the
     * slot until the write is done) */
    sl_ckpt_section sec[] = {{"state", sl->ckbuf.p, sl->ckbuf.len},
                             {"source", sl->cksrc, sizeof sl->cksrc}};
    size_t nsec = 1;
    if (nodes_ingest(sl)) {
        sl_source_stats_put(&sl->al[0].at, sl->cksrc);
        for (int i = 0; i < 4; i++)
            sl_le_put(sl->cksrc + SL_SOURCE_STATS_BYTES + 8 * i, sl->al[0].types[i], 8);
        nsec = 2;
    }
    if (sl_ckptw_submit(sl->ckw, dir, id, sec, nsec,
                        complete && below ? complete < below ? complete : below : 0)) {
        snprintf(why, sizeof why, "checkpoint %" PRIu64 ": the writer refused it", id);
        return ckpt_reply(sl, id, why);
    }
    return 0;
}

/* ---- ingest on this node (source.ingest: nodes) -------------------------------------------- */

static int advance(struct slot *sl);

/* sl_bad_fn of a node's own source: the first SL_BADLINES_SENT malformed lines go to the client
 * (which reports them as a one-process run would), numbered as in the whole file. */
static int ingest_bad(void *ud, uint64_t line, size_t column, uint64_t byte_offset,
                      const char *reason)
{
    struct slot *sl = ud;
    if (++sl->bad_seen > SL_BADLINES_SENT || !sl->client)
        return 0;
    sl_badline b = {.line = line, .byte_offset = byte_offset, .column = (uint32_t)column};
    if (sl->src_in) {
        /* the part's line numbers and offsets count its repeated CSV header first */
        uint64_t hdr_lines = sl->part.prefix ? 1 : 0;
        if (!sl->line0_known) {
            sl->line0_known = 1;
            if (sl_slice_lines_before(sl->job.topo.source.path, sl->part.lo, &sl->line0))
                sl->line0 = 0;
        }
        b.line = sl->line0 + (line > hdr_lines ? line - hdr_lines : line);
        b.byte_offset =
            sl->part.lo +
            (byte_offset >= sl->part.prefix ? byte_offset - sl->part.prefix : byte_offset);
        snprintf(b.reason, sizeof b.reason, "%s", reason);
    } else {
        snprintf(b.reason, sizeof b.reason, "node %u: %s", sl->nd->id, reason);
    }
    unsigned char buf[SL_BADLINE_MAX];
    size_t len = sl_badline_encode(&b, buf);
    sl_outbox_control(sl->client, SL_MSG_BADLINE, sl_job_stream(sl->job_id, sl->stages - 1), buf,
                      len);
    return 0;
}

/* The CPUs the calling thread may run on (*cpus, at least 1) and the number of nodes the cluster
 * file puts at this node's host, the same string, this one included (*here): a local cluster's
 * nodes share one machine's CPUs. */
static void host_share(const struct node *nd, long *cpus, uint32_t *here)
{
    const sl_cluster_cfg *cl = nd->cl;
    *here = 0;
    for (uint32_t d = 0; d < cl->nnodes; d++)
        *here += strcmp(cl->nodes[d].host, cl->nodes[nd->id].host) == 0;
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                         : sysconf(_SC_NPROCESSORS_ONLN);
    *cpus = n < 1 ? 1 : n;
}

/* PoCL's CPU device runs kernels on a thread per CPU the process may use, and every node at a
 * host opens that device: the nodes of a local cluster would each start a thread per CPU, and
 * their kernels would wait for one another. 3 local nodes on the 2-CPU development VM took
 * 1.03-1.05x one process's time with two kernel threads each and 0.95-1.02x with one (the
 * 10M-event file, farm-bench -n 12-15, 4 and 3 series, 2026-12-08). So, unless the environment
 * sets it, POCL_MAX_PTHREAD_COUNT (read by PoCL's pthread device when the platform starts;
 * other drivers ignore it) is set to the CPUs divided by the nodes at this host, at least 1.
 * Returns that count, or 0 when it left the environment as it was. Called before the
 * process's first OpenCL call, while the node is its only thread. */
static long share_device(const struct node *nd)
{
    long cpus;
    uint32_t here;
    host_share(nd, &cpus, &here);
    if (here < 2 || getenv("POCL_MAX_PTHREAD_COUNT"))
        return 0;
    long n = cpus / (long)here;
    n = n < 1 ? 1 : n;
    char v[24];
    snprintf(v, sizeof v, "%ld", n);
    return setenv("POCL_MAX_PTHREAD_COUNT", v, 0) == 0 ? n : 0;
}

/* The parse threads of this node's part of a file when the job leaves source.threads to the
 * machine: the CPUs this thread may run on (its placement's) shared by the nodes at this node's
 * host (host_share; a thread per CPU in each would only make them wait for each other), at
 * most 8 as src_par.c takes them. Sets the job's source.threads. */
static void share_threads(struct slot *sl, sl_topology *t)
{
    struct node *nd = sl->nd;
    const sl_cluster_cfg *cl = nd->cl;
    if (t->source.kind != SL_SRC_FILE || sl_opts_get(&t->source.opts, "threads"))
        return;
    long cpus;
    uint32_t here;
    host_share(nd, &cpus, &here);
    long n = here > 1 ? cpus / (long)here : cpus;
    n = n < 1 ? 1 : n > 8 ? 8 : n;
    char v[24];
    snprintf(v, sizeof v, "%ld", n);
    if (here > 1 && sl_opts_set(&t->source.opts, "threads", v, 0, 0) == 0)
        logf_(nd, "job %u: %ld parse thread%s: %ld CPUs shared by the %u nodes at %s", sl->job_id,
              n, n == 1 ? "" : "s", cpus, here, cl->nodes[nd->id].host);
}

/* Opens this node's part of the job's source. Returns 0 or an sl_err with err. */
static int open_ingest(struct slot *sl, char *err, size_t errlen)
{
    struct node *nd = sl->nd;
    sl_topology *t = &sl->job.topo;
    sl->go = sl->ingest_done = sl->stop_asked = sl->input_closed = sl->read_full = 0;
    sl->line0_known = 0;
    sl->dict_cursor = 0;
    sl->bad_seen = 0;
    int rc = sl_source_part(t, nd->id, nd->n, &sl->src_in, &sl->part, err, errlen);
    if (rc)
        return rc;
    sl->dict = sl_addict_new();
    sl->ibuf = malloc(INGEST_CHUNK * sizeof *sl->ibuf);
    /* schema.attributes: the first PE reads them (the job bound them to it), and they travel
     * with the records this node routes */
    sl->nattr = t->schema.nattrs;
    if (sl->nattr != t->pe.nattrs || sl->nattr > SL_SCHEMA_ATTRS) {
        snprintf(err, errlen, "the schema's %u attributes are not the first PE's %u", sl->nattr,
                 t->pe.nattrs);
        return SL_EINVAL;
    }
    if (sl->nattr) {
        sl->local_attr = malloc((size_t)LOCAL_CHUNK * sl->nattr * sizeof *sl->local_attr);
        sl->wide = malloc(sizeof(sl_rec) + 8u * sl->nattr);
    }
    if (!sl->dict || !sl->ibuf || (sl->nattr && (!sl->local_attr || !sl->wide))) {
        snprintf(err, errlen, "out of memory");
        return SL_ENOMEM;
    }
    char dir[4200];
    int logged = t->checkpoint.every_ms && sl_source_loggable(t);
    if (logged) {
        /* an older attempt of this job still here (its cancel not in yet) holds the source's
         * address and this node's ingest log: it ends first, logging what it had received (a
         * job given the same checkpoint.dir by mistake is ended too: the two would write over
         * each other's checkpoints and log) */
        ckpt_dir(sl, NULL, dir, sizeof dir);
        for (int i = 0; i < SL_NODE_JOBS; i++) {
            struct slot *o = &nd->slot[i];
            if (o != sl && o->active && o->ilog && strcmp(sl_nodelog_dir(o->ilog), dir) == 0) {
                char why[256];
                snprintf(why, sizeof why,
                         "superseded by job %u, which uses the same checkpoint directory (a later "
                         "attempt of this job, or another job given the same checkpoint.dir): it "
                         "takes the input and the ingest log over",
                         sl->job_id);
                abort_job(o, why);
            }
        }
    }
    if (sl->src_in)
        share_threads(sl, t);
    if ((rc = sl_source_new(t, sl->src_in, sl->dict, ingest_bad, sl, &sl->src, err, errlen)))
        return rc;
    sl_source_set_wait(sl->src, 0);
    if (logged) {
        /* a later attempt (a recovery, --resume) goes on with the log and sends what it holds
         * after its checkpoint again; a first attempt, or one from a savepoint, starts it anew */
        int resume = sl->job.epoch > 0 && !sl->job.restore_dir[0];
        if ((rc = sl_nodelog_open(dir, resume, sl->job.restore_id, &sl->ilog, err, errlen)))
            return rc;
        logf_(nd, "job %u: ingest log in %s%s", sl->job_id, dir,
              resume ? " (going on: what it holds after the checkpoint is sent again)" : "");
    }
    const char *ep = sl_source_endpoint(sl->src);
    if (ep)
        logf_(nd, "job %u: takes input at %s", sl->job_id, ep);
    else
        logf_(nd, "job %u: reads bytes %" PRIu64 "..%" PRIu64 " of %s (%" PRIu64 " bytes)",
              sl->job_id, sl->part.lo, sl->part.hi, t->source.path, sl->part.size);
    return 0;
}

static int send_dict(struct slot *sl);

/* sl_nodelog_fn: records of the ingest log sent again, as if read now. */
static int replay_fn(void *ud, const sl_rec *recs, const uint64_t *attrs, uint32_t nattr, size_t n,
                     char *msg, size_t msglen)
{
    struct slot *sl = ud;
    if (nattr != sl->nattr) {
        snprintf(msg, msglen,
                 "the ingest log's records carry %u schema.attributes, the job declares %u", nattr,
                 sl->nattr);
        return SL_EPARSE;
    }
    for (size_t i = 0; i < n; i++)
        sl->rep.in_types[recs[i].type & 3]++;
    sl->in_base.input.lines += n;
    sl->in_base.input.records += n;
    int rc = send_dict(sl);
    if (!rc)
        rc = route_attrs(sl, 0, recs, attrs, n);
    if (rc)
        snprintf(msg, msglen, "%s", sl->msg[0] ? sl->msg : "out of memory");
    return rc;
}

/* A restored instance with a logged source: before it reads on, and before it takes a barrier,
 * what its log holds after the checkpoint goes to the owners of the keys again. Returns 0 or an
 * sl_err with sl->msg. */
static int replay_log(struct slot *sl)
{
    if (!sl_nodelog_replay_pending(sl->ilog))
        return 0;
    uint64_t n = 0;
    char why[1024];
    int rc = sl_nodelog_replay(sl->ilog, sl->dict, replay_fn, sl, &n, why, sizeof why);
    if (!rc && (rc = send_dict(sl)) == 0)
        rc = flush_local(sl, 0);
    if (rc) {
        char m[1024];
        snprintf(m, sizeof m, "%.1000s", sl->msg[0] ? sl->msg : why);
        snprintf(sl->msg, sizeof sl->msg, "sending the ingest log again: %s", m);
        return rc;
    }
    logf_(sl->nd, "job %u: %" PRIu64 " records sent again from this node's ingest log", sl->job_id,
          n);
    return 0;
}

/* An instance that ends before its input did (cancelled for a recovery, superseded, failed):
 * what its source had already received goes to the log (not routed), so that the next attempt
 * sends it with the rest; the sender counts it delivered. */
static void drain_to_log(struct slot *sl)
{
    if (!sl->ilog || !sl->src || !sl->ibuf || sl->ingest_done)
        return;
    uint64_t kept = 0;
    char why[1024];
    for (int k = 0; k < 1024; k++) {
        long n = sl_source_read(sl->src, sl->ibuf, INGEST_CHUNK);
        if (n <= 0)
            break;
        const uint64_t *attrs = sl->nattr ? sl_source_attrs(sl->src) : NULL;
        if (sl_nodelog_append(sl->ilog, sl->dict, sl->ibuf, attrs, sl->nattr, (size_t)n, why,
                              sizeof why)) {
            logf_(sl->nd, "job %u: logging what the source still held failed: %s", sl->job_id, why);
            break;
        }
        kept += (uint64_t)n;
    }
    if (kept)
        logf_(sl->nd,
              "job %u: %" PRIu64 " records its source had received went to the ingest log for "
              "the next attempt",
              sl->job_id, kept);
}

/* What this node holds for its peers' first stage: its own source's output. */
static size_t ingest_queued(struct node *nd)
{
    size_t q = 0;
    for (uint32_t d = 0; d < nd->n; d++)
        if (nd->peer[d][0])
            q += sl_outbox_queued_bytes(nd->peer[d][0]);
    return q;
}

/* Sends the client the ids this node read since the last call. Returns 0 or SL_ENOMEM. */
static int send_dict(struct slot *sl)
{
    struct node *nd = sl->nd;
    size_t cap = nd->cl->net.max_payload < DICT_FRAME ? nd->cl->net.max_payload : DICT_FRAME;
    size_t at = 0;
    uint64_t key;
    const char *id;
    size_t len;
    uint32_t stream = sl_job_stream(sl->job_id, sl->stages - 1);
    while (sl_addict_next(sl->dict, &sl->dict_cursor, &key, &id, &len)) {
        if (!sl_addict_entry_put(nd->dictbuf, cap, &at, key, id, len)) {
            if (sl_outbox_control(sl->client, SL_MSG_DICT, stream, nd->dictbuf, at))
                return SL_ENOMEM;
            at = 0;
            sl_addict_entry_put(nd->dictbuf, cap, &at, key, id, len);
        }
    }
    if (at && sl_outbox_control(sl->client, SL_MSG_DICT, stream, nd->dictbuf, at))
        return SL_ENOMEM;
    return 0;
}

/* sl_engine_export_states's test: a key another node owns. */
static int foreign_key(void *ud, uint64_t key)
{
    const struct slot *sl = ud;
    return sl_partmap_node_of_key(sl->nd->map, key) != sl->nd->id;
}

/* Combining, at the end of this node's input: the partial states of the keys other nodes own
 * go to their owners, ahead of this node's end of stream. Returns 0 or an sl_err with sl->msg. */
static int send_states(struct slot *sl)
{
    struct node *nd = sl->nd;
    sl_engine *e = sl_chain_engine(sl->chain, 0);
    sl_bytebuf b = {0};
    size_t n = 0, ss = sl->slot_size;
    int rc = sl_engine_export_states(e, foreign_key, sl, &b, &n);
    if (rc)
        snprintf(sl->msg, sizeof sl->msg, "%s", sl_engine_message(e));
    const uint32_t stream = sl_job_stream(sl->job_id, 0);
    const uint32_t schema = SL_SCHEMA_STATE + (uint32_t)ss;
    for (size_t i = 0; i < n && !rc; i++) {
        uint64_t key;
        memcpy(&key, b.p + i * ss, 8);
        uint32_t d = sl_partmap_node_of_key(nd->map, key);
        if (sl_outbox_put(nd->peer[d][0], stream, schema, ss, b.p + i * ss, 1)) {
            snprintf(sl->msg, sizeof sl->msg, "out of memory queueing states for node %u", d);
            rc = SL_ENOMEM;
        }
    }
    sl_bytebuf_free(&b);
    if (rc == 0) {
        sl->states_out = n;
        logf_(nd, "job %u: combined its input: %zu partial states sent to the keys' owners",
              sl->job_id, n);
    }
    return rc;
}

/* Combining, once every peer's end of stream is in: their states fold into the first stage. */
static int merge_foreign(struct slot *sl)
{
    sl_engine *e = sl_chain_engine(sl->chain, 0);
    size_t n = sl->foreign.len / sl->slot_size;
    int rc = sl_engine_merge_states(e, sl->foreign.p, n);
    if (rc)
        snprintf(sl->msg, sizeof sl->msg, "%s", sl_engine_message(e));
    else
        logf_(sl->nd, "job %u: merged %zu partial states from the other nodes", sl->job_id, n);
    sl_bytebuf_free(&sl->foreign);
    return rc;
}

/* Reads what this node's source has (a few chunks at most, while its peers take what it sends),
 * routes each record to the owner of its key, and at the end of its input ends the first stage
 * for every node. */
static void ingest_step(struct slot *sl)
{
    struct node *nd = sl->nd;
    if (!sl->src || !sl->go || sl->ingest_done || sl->finishing || sl->al[0].active)
        return; /* (aligning a barrier: what this node reads now belongs after it) */
    if (sl->stop_asked && !sl->input_closed) {
        sl->input_closed = 1;
        if (sl_source_close_input(sl->src)) {
            abort_job(sl, "closing the input failed");
            return;
        }
    }
    if (replay_log(sl)) {
        abort_job(sl, sl->msg);
        return;
    }
    sl->read_full = 0;
    for (int k = 0; k < INGEST_READS && !sl_source_done(sl->src); k++) {
        if (ingest_queued(nd) > OUT_LIMIT)
            return; /* back-pressure: the peers take what was sent first */
        sl_rec *recs = sl->ibuf;
        size_t cap = INGEST_CHUNK;
        if (sl->combine && !sl->ilog && !sl->nattr && sl->nlocal[0] == 0) {
            /* combining keeps every record here: the source reads straight into the first PE's
             * batch buffer (sl_engine_stage_area), which route_attrs then pushes without a
             * copy, as the one-process pipeline does */
            size_t room = 0;
            sl_rec *area = sl_engine_stage_area(sl_chain_engine(sl->chain, 0), &room);
            if (area && room >= DIRECT_MIN) {
                recs = area;
                cap = room < INGEST_CHUNK ? room : INGEST_CHUNK;
            }
        }
        long n = sl_source_read(sl->src, recs, cap);
        if (n < 0) {
            abort_job(sl, n == SL_EIO ? "reading the input failed"
                                      : "the input cannot be read past a malformed line");
            return;
        }
        if (n == 0)
            break;
        /* counted in registers: an array indexed by type chains every count through memory */
        uint64_t t1 = 0, t2 = 0, t3 = 0;
        for (long i = 0; i < n; i++) {
            uint32_t t = recs[i].type & 3;
            t1 += t == 1;
            t2 += t == 2;
            t3 += t == 3;
        }
        sl->rep.in_types[0] += (uint64_t)n - t1 - t2 - t3;
        sl->rep.in_types[1] += t1;
        sl->rep.in_types[2] += t2;
        sl->rep.in_types[3] += t3;
        /* this read's attribute words (valid until the next read): copied as they are routed */
        const uint64_t *attrs = sl->nattr ? sl_source_attrs(sl->src) : NULL;
        /* a logged source: on disk before anything is routed */
        if (sl->ilog && sl_nodelog_append(sl->ilog, sl->dict, recs, attrs, sl->nattr, (size_t)n,
                                          sl->msg, sizeof sl->msg)) {
            abort_job(sl, sl->msg);
            return;
        }
        if (send_dict(sl) || route_attrs(sl, 0, recs, attrs, (size_t)n) || flush_local(sl, 0)) {
            abort_job(sl, sl->msg[0] ? sl->msg : "out of memory");
            return;
        }
        if ((size_t)n == cap)
            sl->read_full = 1;
    }
    if (!sl_source_done(sl->src))
        return;
    if (send_dict(sl) || flush_local(sl, 0)) {
        abort_job(sl, sl->msg[0] ? sl->msg : "out of memory");
        return;
    }
    sl->ingest_done = 1;
    if (sl->combine && send_states(sl)) {
        abort_job(sl, sl->msg);
        return;
    }
    uint32_t stream = sl_job_stream(sl->job_id, 0);
    for (uint32_t d = 0; d < nd->n; d++) {
        if (d == nd->id)
            sl->eos_mask[0] |= UINT64_C(1) << d;
        else if (sl_outbox_control(nd->peer[d][0], SL_FRAME_EOS, stream, NULL, 0)) {
            abort_job(sl, "out of memory");
            return;
        }
    }
    /* what this node sends the peers (the partial states, the ends of stream) leaves now, not
     * after its own first stage has ended below (a merge and the final rows: tens of ms in
     * which the peers would wait for it) */
    for (uint32_t d = 0; d < nd->n; d++)
        if (d != nd->id && nd->peer[d][0])
            sl_outbox_pump(nd->peer[d][0]);
    sl_source_stats ss;
    source_stats(sl, &ss);
    logf_(nd, "job %u: input ended: %" PRIu64 " records, %" PRIu64 " malformed", sl->job_id,
          ss.input.records, ss.input.bad);
    if (advance(sl))
        abort_job(sl, sl->msg[0] ? sl->msg : "stage failed");
}

static void start_job(struct node *nd, const sl_frame *f)
{
    char err[1024];
    uint32_t stream0 = f->h.stream;
    if (slot_of(nd, sl_stream_job(stream0)))
        return; /* a JOB frame again (resent): the job runs already */
    if (stops(nd)) {
        refuse_job(nd, f, "stopping: it takes no new job");
        return;
    }
    struct slot *sl = NULL;
    for (int i = 0; i < SL_NODE_JOBS && !sl; i++)
        if (!nd->slot[i].active)
            sl = &nd->slot[i];
    if (!sl) {
        char m[128];
        snprintf(m, sizeof m, "busy: %d jobs running (at most %d at once)", SL_NODE_JOBS,
                 SL_NODE_JOBS);
        refuse_job(nd, f, m);
        return;
    }
    sl_job *job = &sl->job;
    int rc = sl_job_decode(f->payload, f->h.payload_len, job, err, sizeof err);
    char eperr[512];
    int ep_ok = job->result_endpoint[0] &&
                sl_job_check_endpoint(job->result_endpoint, f->peer, eperr, sizeof eperr) == 0;
    if (rc == 0 && !ep_ok) {
        snprintf(err, sizeof err, "%s", eperr);
        rc = SL_EPARSE;
    }
    if (rc == 0 && sl_job_check_endpoint(job->control_endpoint, f->peer, err, sizeof err))
        rc = SL_EPARSE;
    if (rc == 0 && job->cluster_id != nd->cluster_id) {
        snprintf(err, sizeof err,
                 "it is for another cluster (cluster file identity %016" PRIx64
                 ", this node's is %016" PRIx64
                 "): a process of another cluster listens on this node's port, or the files differ",
                 job->cluster_id, nd->cluster_id);
        rc = SL_EPARSE;
    }
    if (rc == 0 && job->self &&
        (job->self > nd->n || job->topo.nnext || job->topo.source.ingest == SL_INGEST_NODES)) {
        snprintf(err, sizeof err,
                 "it asks this node to play node %u: possible for a one-stage job fed by its "
                 "client, among %u nodes",
                 job->self - 1, nd->n);
        rc = SL_EPARSE;
    }
    if (rc == 0 && job->registry_id && job->driver_epoch &&
        fence_driver(nd, job->registry_id, job->driver_epoch, err, sizeof err))
        rc = SL_EPARSE;
    if (rc) {
        logf_(nd, "refused a job from %s: %s", f->peer && *f->peer ? f->peer : "?", err);
        if (ep_ok) {
            char m[1200];
            snprintf(m, sizeof m, "node %u refused the job: %s", nd->id, err);
            reply(nd, job->result_endpoint, SL_MSG_ABORT, stream0, m, strlen(m));
        }
        sl_job_clear(job);
        sl_inbox_forget(nd->in[0], 0xffffff00u, stream0);
        return;
    }
    sl->nd = nd;
    sl->active = 1;
    sl->finishing = 0;
    sl->job_id = sl_stream_job(stream0);
    sl->self = job->self ? job->self - 1 : nd->id;
    sl->stages = 1 + job->topo.nnext;
    memset(sl->eos_mask, 0, sizeof sl->eos_mask);
    memset(sl->finished, 0, sizeof sl->finished);
    memset(sl->nlocal, 0, sizeof sl->nlocal);
    memset(&sl->rep, 0, sizeof sl->rep);
    sl->msg[0] = '\0';
    sl->t0_us = sl->last_lease_us = sl_net_now_us();
    if (sl_outbox_new(nd->zctx, job->result_endpoint, sl->self, &nd->cl->net, &sl->client, err,
                      sizeof err) ||
        sl_outbox_new(nd->zctx, job->control_endpoint, sl->self, &nd->cl->net, &sl->client_ctl, err,
                      sizeof err)) {
        logf_(nd, "job %u: %s", sl->job_id, err);
        end_job(sl, 0);
        return;
    }
    agent_lease(nd, (int)(sl - nd->slot), job->control_endpoint, sl_job_stream(sl->job_id, 0));
    for (uint32_t i = 1; i < sl->stages; i++) {
        if (!job->join_text[i])
            continue;
        rc = sl_jointab_parse(job->join_text[i], job->join_len[i], job->topo.next[i - 1].join, NULL,
                              &sl->joins[i], err, sizeof err);
        if (rc) {
            abort_job(sl, err);
            return;
        }
    }
    /* combining: a one-stage job reading a file on every node whose PE emits only at the end,
     * without checkpoints (whose cut it would change); on once the engine says its PE can. Such
     * a node holds the keys of its whole part: its table is not cut to its share. */
    const sl_topology *tp = &job->topo;
    int combine = tp->source.ingest == SL_INGEST_NODES && tp->nnext == 0 &&
                  tp->source.kind == SL_SRC_FILE && !tp->checkpoint.every_ms && !job->restore_id &&
                  !tp->sink.snapshots && !tp->pe.trigger.every_events && !tp->pe.trigger.every_ms;
    if (!combine)
        job->topo.pe.capacity = node_capacity(nd, sl->self, job->topo.pe.capacity);
    for (uint32_t i = 0; i < job->topo.nnext; i++)
        job->topo.next[i].pe.capacity = node_capacity(nd, sl->self, job->topo.next[i].pe.capacity);
    rc = sl_chain_new(nd->dev, &job->topo, sl->joins, route, sl, to_client, sl, &sl->chain, err,
                      sizeof err);
    if (rc) {
        abort_job(sl, err);
        return;
    }
    sl_chain_set_cancel(sl->chain, &nd->agent.cancel);
    /* the client keeps the window rows sent before each checkpoint's barrier */
    if (job->topo.checkpoint.every_ms)
        sl_chain_commit_windows(sl->chain, 1);
    if (job->restore_id && (rc = restore_state(sl, err, sizeof err))) {
        abort_job(sl, err);
        return;
    }
    if (nodes_ingest(sl) && (rc = open_ingest(sl, err, sizeof err))) {
        abort_job(sl, err);
        return;
    }
    const sl_engine *e0 = sl_chain_engine(sl->chain, 0);
    if (combine && sl->src_in && sl_engine_combinable(e0) &&
        sl_engine_slot_size(e0) <= SL_STATE_SLOT_MAX) {
        sl->combine = 1;
        sl->slot_size = sl_engine_slot_size(e0);
    }
    if (nodes_ingest(sl) && sl->have_resume && sl->ilog) {
        /* a live source goes on with what comes next; its counters from the checkpoint's */
        sl->in_base = sl->resume_at;
        memcpy(sl->rep.in_types, sl->resume_types, sizeof sl->resume_types);
    } else if (nodes_ingest(sl) && sl->have_resume) {
        /* this node's reading goes on where its checkpoint was taken */
        if (!sl->src_in || fseeko(sl->src_in, (off_t)sl->resume_at.input.bytes, SEEK_SET) != 0 ||
            sl_source_resume(sl->src, &sl->resume_at)) {
            abort_job(sl, "cannot resume this node's part of the input at its checkpoint");
            return;
        }
        memcpy(sl->rep.in_types, sl->resume_types, sizeof sl->resume_types);
    }
    char driver[96] = "";
    if (job->registry_id && job->driver_epoch)
        snprintf(driver, sizeof driver, ", submitted job %u, driver epoch %" PRIu64,
                 job->registry_id, job->driver_epoch);
    logf_(nd, "job %u: %u stage(s), epoch %u%s, results to %s (%d job%s running)%s", sl->job_id,
          sl->stages, job->epoch, driver, job->result_endpoint, nactive(nd),
          nactive(nd) == 1 ? "" : "s", sl->self != nd->id ? " (playing a failed node)" : "");
    if (sl->combine)
        logf_(nd,
              "job %u: combining: records of other nodes' keys are aggregated here and sent "
              "to their owners as partial states at the end",
              sl->job_id);
}

static void send_done(struct slot *sl)
{
    struct node *nd = sl->nd;
    sl_chain_stats cs;
    sl_chain_get_stats(sl->chain, &cs);
    sl_node_report *r = &sl->rep;
    r->node = sl->self;
    r->stages = sl->stages;
    for (uint32_t s = 0; s < sl->stages; s++) {
        r->events_in[s] = cs.engine[s].events_in;
        r->forwarded[s] = cs.forwarded[s];
        r->unjoined[s] = cs.unjoined[s];
        r->late[s] = cs.engine[s].events_late;
    }
    sl_engine *tail = sl_chain_engine(sl->chain, sl->stages - 1);
    r->cols = *sl_engine_columns(tail);
    r->windowed = sl_engine_windowed(tail);
    slot_watermark(sl, &r->have_watermark, &r->watermark_ms);
    for (int s = 0; s < SL_NODE_PORTS; s++) {
        sl_inbox_stats is;
        sl_inbox_poll_monitor(nd->in[s]);
        sl_inbox_get_stats(nd->in[s], &is);
        for (int v = 1; v < SL_FRAME_NVERDICTS; v++)
            r->rejected[v] += is.rejected[v];
        r->duplicates += is.duplicates;
        r->gaps += is.gaps;
        r->stale += is.stale + is.overflow;
        r->dropped_connections += is.handshake_failed;
    }
    /* frames_in and bytes_in were counted as this job's frames arrived (handle) */
    for (uint32_t d = 0; d < nd->n; d++)
        for (uint32_t s = 0; s < sl->stages; s++)
            if (nd->peer[d][s]) {
                sl_outbox_stats os;
                sl_outbox_get_stats(nd->peer[d][s], &os);
                r->send_blocked += os.blocked;
                r->resent += os.resent;
            }
    if (sl->src) {
        sl_source_stats ss;
        source_stats(sl, &ss);
        r->ingested = 1;
        r->in_lines = ss.input.lines;
        r->in_records = ss.input.records;
        r->in_bad = ss.input.bad;
        r->in_blank = ss.input.blank;
        r->in_bytes = ss.input.bytes;
        r->in_filtered = ss.filtered;
        r->in_messages = ss.messages;
        r->in_connections = ss.connections;
    }
    r->combined = sl->combine;
    r->states_out = sl->states_out;
    r->states_in = sl->states_in;
    r->busy_s = (double)(sl_net_now_us() - sl->t0_us) / 1e6;
    uint32_t stream = sl_job_stream(sl->job_id, sl->stages - 1);
    sl_outbox_control(sl->client, SL_FRAME_EOS, stream, NULL, 0);
    sl_outbox_control(sl->client, SL_MSG_DONE, stream, r, sizeof *r);
    logf_(nd, "job %u done: %" PRIu64 " events in, %" PRIu64 " rows out, %.3f s", sl->job_id,
          r->events_in[0], r->rows_out, r->busy_s);
    if (sl->snap.seq || sl->snap.skipped)
        logf_(nd, "job %u: %" PRIu64 " snapshots sent, %" PRIu64 " skipped (the client was behind)",
              sl->job_id, sl->snap.seq, sl->snap.skipped);
}

/* Finishes every stage whose inputs are complete, in order. Returns 0 or an sl_err. */
static int advance(struct slot *sl)
{
    struct node *nd = sl->nd;
    for (uint32_t s = 0; s < sl->stages; s++) {
        if (sl->finished[s])
            continue;
        uint64_t want = s == 0 && !nodes_ingest(sl) ? 1 : all_nodes(nd);
        if (sl->eos_mask[s] != want)
            return 0;
        int rc = flush_local(sl, s);
        if (rc)
            return rc;
        if (s == 0 && sl->combine && (rc = merge_foreign(sl)))
            return rc;
        if ((rc = sl_chain_finish(sl->chain, s))) {
            snprintf(sl->msg, sizeof sl->msg, "%s", sl_chain_message(sl->chain));
            return rc;
        }
        sl->finished[s] = 1;
        if (s + 1 < sl->stages) {
            if ((rc = flush_local(sl, s + 1)))
                return rc;
            uint32_t stream = sl_job_stream(sl->job_id, s + 1);
            for (uint32_t d = 0; d < nd->n; d++) {
                if (d != nd->id &&
                    sl_outbox_control(nd->peer[d][s + 1], SL_FRAME_EOS, stream, NULL, 0))
                    return SL_ENOMEM;
            }
            /* this node's own end of stream: after its barrier there, held like its rows */
            if (self_held(sl, s + 1)) {
                if ((rc = hold(sl, s + 1, nd->id, SL_FRAME_EOS, 0, 0, NULL, 0, 0)))
                    return rc;
            } else {
                sl->eos_mask[s + 1] |= UINT64_C(1) << nd->id;
                if (sl->al[s + 1].active) {
                    sl->al[s + 1].arrived |= UINT64_C(1) << nd->id;
                    if ((rc = align_try(sl, s + 1)))
                        return rc;
                }
            }
        } else {
            /* a checkpoint still being written is answered before DONE: the client stops
             * listening once every node's DONE is in (the answer after it went unacknowledged,
             * and the node waited a second for it at the end) */
            if ((rc = ckpt_settle(sl, 1)))
                return rc;
            send_done(sl);
            sl->finishing = 1; /* ends once the client has acknowledged every frame */
            return 0;
        }
    }
    return 0;
}

/* sl_inbox_admit_fn of data port p: only the frames of the jobs in progress, from the senders
 * that feed that stage, are tracked; a JOB on port 0 always is (to be refused when busy). */
static int admit(void *ud, const sl_frame_hdr *h)
{
    struct admit_ctx *ac = ud;
    struct node *nd = ac->nd;
    uint32_t stage = sl_stream_stage(h->stream), job = sl_stream_job(h->stream);
    if (h->kind == SL_MSG_JOB)
        return ac->port == 0 && h->source == SL_CLIENT_SOURCE && stage == 0 && h->seq == 0 &&
               job != 0;
    struct slot *sl = slot_of(nd, job);
    int from_node = h->source < nd->n && h->source != nd->id;
    if (sl && stage == ac->port && stage < sl->stages &&
        (stage == 0 && !nodes_ingest(sl) ? h->source == SL_CLIENT_SOURCE : from_node))
        return 1;
    if (sl && stage == 0 && ac->port == 0 && nodes_ingest(sl) && h->source == SL_CLIENT_SOURCE &&
        h->kind == SL_MSG_BARRIER)
        return 1; /* with ingest on every node, only the client's barriers come that way */
    if (!sl && ended_lately(nd, job) && h->source < nd->n && nd->ncourtesy < COURTESY_MAX)
        nd->courtesy[nd->ncourtesy++] =
            (sl_ack){.source = h->source, .stream = h->stream, .next = h->seq + 1};
    return 0;
}

/* The control port tracks nothing: its kinds are untracked, and tracked frames sent there are
 * strangers' or mistakes. */
static int admit_none(void *ud, const sl_frame_hdr *h)
{
    (void)ud;
    (void)h;
    return 0;
}

/* ---- barriers aligned over every node -------------------------------------------------------- */

/* A stage fed by every node must cut all those streams at once (asynchronous barrier
 * snapshotting). Stage 0 with ingest on every node: the client's barrier, or the first peer's
 * marker of it, makes this node note where its own reading is and send the marker on to every
 * peer behind what it sent them. Stage s >= 1 of a job with several stages: each node's stage
 * s - 1, once it took the barrier, sends it on to every peer's stage s behind the rows it sent
 * them (take_checkpoint). Either way a peer's stream after its marker is held until every peer's
 * marker (or end of stream) is in, and so is what this node sends its own stage s after its own
 * (flush_local, advance); then the stage's state holds exactly what came before the markers and
 * is read (with, at stage 0, this node's reading position: "source"), and what was held goes in.
 * Held data is bounded: a checkpoint that would hold more fails the job, saying so. */
#define HOLD_MAX ((size_t)256 << 20)
#define FROM_CLIENT UINT32_MAX

static int stage_item(struct slot *sl, uint32_t s, uint32_t from, uint32_t kind, uint64_t id,
                      uint64_t complete, const void *recs, uint32_t na, size_t n);

static int hold(struct slot *sl, uint32_t s, uint32_t from, uint32_t kind, uint64_t id,
                uint64_t complete, const void *recs, uint32_t na, size_t n)
{
    struct align *al = &sl->al[s];
    const size_t bytes = n * (sizeof(sl_rec) + 8u * na);
    if (al->heldbytes + bytes > HOLD_MAX) {
        snprintf(sl->msg, sizeof sl->msg,
                 "checkpoint %" PRIu64 ": more than %zu MiB came to stage %u from the nodes whose "
                 "barrier was in while waiting for the others'",
                 al->id, HOLD_MAX >> 20, s);
        return SL_ERANGE;
    }
    if (al->nheld == al->capheld) {
        size_t cap = al->capheld ? 2 * al->capheld : 64;
        struct held *h = realloc(al->held, cap * sizeof *h);
        if (!h)
            return SL_ENOMEM;
        al->held = h;
        al->capheld = cap;
    }
    struct held *h = &al->held[al->nheld];
    *h =
        (struct held){.from = from, .kind = kind, .na = na, .id = id, .complete = complete, .n = n};
    if (n) {
        if (!(h->recs = malloc(bytes)))
            return SL_ENOMEM;
        memcpy(h->recs, recs, bytes);
    }
    al->nheld++;
    al->heldbytes += bytes;
    return 0;
}

/* Once every sender's marker is in at stage s: the stage's part of the checkpoint, then what was
 * held, in order (which may start the next alignment). Returns 0 or an sl_err with sl->msg. */
static int align_try(struct slot *sl, uint32_t s)
{
    struct align *al = &sl->al[s];
    if (!al->active || al->arrived != all_nodes(sl->nd))
        return 0;
    int rc = take_checkpoint(sl, s, al->id, al->complete);
    sl->last_barrier[s] = al->id;
    al->active = 0;
    struct held *h = al->held;
    size_t n = al->nheld;
    al->held = NULL;
    al->nheld = al->capheld = al->heldbytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = stage_item(sl, s, h[i].from, h[i].kind, h[i].id, h[i].complete, h[i].recs, h[i].na,
                            h[i].n);
        free(h[i].recs);
    }
    free(h);
    return rc;
}

/* Barrier `id` at stage s: from the client (FROM_CLIENT, stage 0), a peer's marker of it, or
 * (s >= 1) this node's own previous stage's. */
static int barrier_in(struct slot *sl, uint32_t s, uint32_t from, uint64_t id, uint64_t complete)
{
    struct node *nd = sl->nd;
    struct align *al = &sl->al[s];
    if (id <= sl->last_barrier[s])
        return 0; /* taken already: the client's, after the peers' markers */
    int rc;
    if (s > 0) {
        if (al->active && id != al->id) {
            snprintf(sl->msg, sizeof sl->msg,
                     "checkpoint %" PRIu64 " reached stage %u while it aligned checkpoint %" PRIu64,
                     id, s, al->id);
            return SL_EINVAL;
        }
        if (!al->active) {
            al->active = 1;
            al->id = id;
            al->complete = complete;
            al->arrived = sl->eos_mask[s] & all_nodes(nd); /* ended streams send no marker */
        }
        al->arrived |= UINT64_C(1) << from;
        return align_try(sl, s);
    }
    /* a restored instance's log goes out again before its first barrier (the barrier's state
     * must hold it; GO may come after a barrier) */
    rc = al->active ? 0 : replay_log(sl);
    if (rc)
        return rc;
    if (!al->active) {
        al->active = 1;
        al->id = id;
        al->complete = complete;
        al->arrived = UINT64_C(1) << nd->id;
        /* every record this node read so far has been routed: its reading position is here */
        memset(&al->at, 0, sizeof al->at);
        if (sl->src)
            source_stats(sl, &al->at);
        memcpy(al->types, sl->rep.in_types, sizeof al->types);
        /* what it reads from now on goes to the log's segment of this barrier */
        if (sl->ilog && (rc = sl_nodelog_barrier(sl->ilog, id, complete, sl->msg, sizeof sl->msg)))
            return rc;
        if (!sl->ingest_done) {
            unsigned char p[16];
            sl_le_put(p, id, 8);
            sl_le_put(p + 8, complete, 8);
            uint32_t stream = sl_job_stream(sl->job_id, 0);
            for (uint32_t d = 0; d < nd->n; d++)
                if (d != nd->id && sl_outbox_control(nd->peer[d][0], SL_MSG_BARRIER, stream, p, 16))
                    return SL_ENOMEM;
        }
        al->arrived |= sl->eos_mask[0] & all_nodes(nd); /* ended streams send no marker */
    }
    if (from != FROM_CLIENT)
        al->arrived |= UINT64_C(1) << from;
    return align_try(sl, 0);
}

/* Pushes n records of a frame's payload (each 32 bytes, then na attribute words) into stage
 * `stage`, copied in aligned chunks (a payload need not be aligned for sl_rec). Returns 0 or
 * SL_EIO with the chain's message in sl->msg. */
static int push_payload(struct slot *sl, uint32_t stage, const unsigned char *p, uint32_t na,
                        size_t n)
{
    struct node *nd = sl->nd;
    const size_t rsize = sizeof(sl_rec) + 8u * na;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < LOCAL_CHUNK ? n - done : LOCAL_CHUNK;
        if (!na) {
            memcpy(nd->aligned, p + done * rsize, k * sizeof(sl_rec));
        } else {
            for (size_t i = 0; i < k; i++) {
                const unsigned char *r = p + (done + i) * rsize;
                memcpy(&nd->aligned[i], r, sizeof(sl_rec));
                memcpy(&nd->aligned_attr[i * na], r + sizeof(sl_rec), 8u * na);
            }
        }
        if (sl_chain_push_attrs(sl->chain, stage, nd->aligned, na ? nd->aligned_attr : NULL, k)) {
            snprintf(sl->msg, sizeof sl->msg, "%s", sl_chain_message(sl->chain));
            return SL_EIO;
        }
        done += k;
    }
    return 0;
}

/* One item of an aligned stage's input: records (na attribute words after each), a marker or an
 * end of stream from `from`, held while `from`'s marker is in and others' are not. Stage 0 with
 * ingest on every node; every later stage of a job with several. */
static int stage_item(struct slot *sl, uint32_t s, uint32_t from, uint32_t kind, uint64_t id,
                      uint64_t complete, const void *recs, uint32_t na, size_t n)
{
    struct node *nd = sl->nd;
    struct align *al = &sl->al[s];
    if (al->active &&
        ((from != FROM_CLIENT && (s > 0 || from != nd->id) && (al->arrived >> from & 1)) ||
         (from == FROM_CLIENT && id != al->id)))
        return hold(sl, s, from, kind, id, complete, recs, na, n);
    if (kind == SL_MSG_BARRIER)
        return barrier_in(sl, s, from, id, complete);
    if (kind == SL_FRAME_EOS) {
        sl->eos_mask[s] |= UINT64_C(1) << from;
        if (al->active) {
            al->arrived |= UINT64_C(1) << from;
            int rc = align_try(sl, s);
            if (rc)
                return rc;
        }
        return advance(sl);
    }
    return push_payload(sl, s, recs, na, n);
}

static void handle(struct node *nd, uint32_t port, const sl_frame *f)
{
    const sl_frame_hdr *h = &f->h;
    if (h->kind == SL_MSG_HELLO) {
        char ep[512], err[512];
        size_t l = h->payload_len < sizeof ep - 1 ? h->payload_len : sizeof ep - 1;
        memcpy(ep, f->payload, l);
        ep[l] = '\0';
        if (sl_job_check_endpoint(ep, f->peer, err, sizeof err)) {
            logf_(nd, "HELLO not answered: %s", err + strlen("job refused: "));
            return;
        }
        char m[128];
        sl_hello_format(m, sizeof m, nd->id, (long)getpid(), nd->cluster_id);
        reply(nd, ep, SL_MSG_HELLO, h->stream, m, strlen(m));
        return;
    }
    if (h->kind == SL_MSG_JOB) {
        start_job(nd, f);
        return;
    }
    struct slot *sl = slot_of(nd, sl_stream_job(h->stream));
    if (!sl || sl->finishing)
        return; /* admitted only for a job in progress; a duplicate EOS after the end */
    uint32_t stage = sl_stream_stage(h->stream);
    if (h->kind == SL_MSG_ABORT) {
        logf_(nd, "job %u aborted by the client", sl->job_id);
        end_job(sl, 0);
        return;
    }
    sl->rep.frames_in++;
    sl->rep.bytes_in += SL_FRAME_HDR + h->payload_len;
    if (h->kind == SL_FRAME_DATA && h->schema >= SL_SCHEMA_STATE) { /* a peer's partial states */
        if (!sl->combine || stage != 0 || h->source >= nd->n || h->source == nd->id ||
            h->schema != SL_SCHEMA_STATE + sl->slot_size) {
            abort_job(sl, "a node sent partial states that this node does not take (the nodes "
                          "disagree about combining: another sluice, or another PE program)");
            return;
        }
        for (uint32_t i = 0; i < h->count; i++) {
            uint64_t key;
            memcpy(&key, f->payload + (size_t)i * sl->slot_size, 8);
            if (sl_partmap_node_of_key(nd->map, key) != nd->id) {
                abort_job(sl, "a node sent the partial state of a key this node does not own "
                              "(the nodes disagree about the partition map)");
                return;
            }
        }
        if (sl_bytebuf_append(&sl->foreign, f->payload, h->payload_len)) {
            abort_job(sl, "out of memory keeping the other nodes' partial states");
            return;
        }
        sl->states_in += h->count;
        return;
    }
    /* records with their schema.attributes (the client's, or with ingest on every node a
     * peer's): each record's 32 bytes, then its na words, for the first stage only */
    const int with_attrs = h->kind == SL_FRAME_DATA && h->schema > SL_SCHEMA_REC_ATTRS &&
                           h->schema <= SL_SCHEMA_REC_ATTRS + SL_SCHEMA_ATTRS;
    const uint32_t na = with_attrs ? h->schema - SL_SCHEMA_REC_ATTRS : 0;
    if (with_attrs && (stage != 0 || na != sl->job.topo.pe.nattrs)) {
        abort_job(sl, "records with attributes the job's first PE does not declare");
        return;
    }
    /* the aligned stages: the first with ingest on every node, every later one */
    if ((stage > 0 || nodes_ingest(sl)) &&
        (h->kind == SL_MSG_BARRIER || h->kind == SL_FRAME_EOS ||
         (h->kind == SL_FRAME_DATA && (h->schema == SL_SCHEMA_REC || with_attrs)))) {
        uint32_t from = h->source == SL_CLIENT_SOURCE ? FROM_CLIENT : h->source;
        int barrier = h->kind == SL_MSG_BARRIER;
        if ((barrier && h->payload_len != 16) || (!barrier && from == FROM_CLIENT) ||
            (stage > 0 && (from == FROM_CLIENT || from == nd->id)))
            return;
        if (h->kind == SL_FRAME_DATA && na != sl->job.topo.pe.nattrs) {
            abort_job(sl, "a node sent records without the attributes the job's first PE "
                          "declares");
            return;
        }
        uint32_t kind = barrier ? SL_MSG_BARRIER : h->kind;
        if (stage_item(sl, stage, from, kind, barrier ? sl_le_get(f->payload, 8) : 0,
                       barrier ? sl_le_get(f->payload + 8, 8) : 0, f->payload, na,
                       h->kind == SL_FRAME_DATA ? h->count : 0))
            abort_job(sl, sl->msg[0] ? sl->msg : "out of memory");
        return;
    }
    if (h->kind == SL_FRAME_DATA && (h->schema == SL_SCHEMA_REC || with_attrs)) {
        if (push_payload(sl, stage, f->payload, na, h->count)) {
            abort_job(sl, sl->msg);
            return;
        }
    } else if (h->kind == SL_MSG_BARRIER) {
        if (stage != 0 || h->payload_len != 16 || h->source != SL_CLIENT_SOURCE)
            return;
        if (take_checkpoint(sl, 0, sl_le_get(f->payload, 8), sl_le_get(f->payload + 8, 8))) {
            abort_job(sl, sl->msg);
            return;
        }
        return;
    } else if (h->kind == SL_FRAME_EOS) {
        if (stage == 0)
            sl->eos_mask[0] |= 1;
    } else {
        return;
    }
    (void)port;
    if (advance(sl))
        abort_job(sl, sl->msg[0] ? sl->msg : "stage failed");
}

/* A `sluice job` command (node 0): carried out by the registry, answered at its endpoint. */
static void handle_jobctl(struct node *nd, const sl_frame *f)
{
    sl_jobctl_req *q = malloc(sizeof *q);
    char err[1024], *out = malloc(65536);
    if (!q || !out) {
        free(q);
        free(out);
        return;
    }
    if (sl_jobctl_decode(f->payload, f->h.payload_len, q, err, sizeof err)) {
        logf_(nd, "job command from %s refused: %s", f->peer && *f->peer ? f->peer : "?", err);
    } else if (sl_job_check_endpoint(q->endpoint, f->peer, err, sizeof err)) {
        logf_(nd, "job command not answered: %s", err);
    } else {
        int rc;
        if (!nd->reg && nd->coord) {
            snprintf(out + 1, 65535,
                     "node %u is not the job coordinator (ZooKeeper elects it; sluice job "
                     "finds it there): ask again",
                     nd->id);
            rc = SL_EINVAL;
        } else if (!nd->reg) {
            snprintf(out + 1, 65535,
                     "node %u keeps no job registry: job commands go to node 0 of the cluster "
                     "file, started by 'sluice cluster up' or 'sluice node --config FILE --id 0'",
                     nd->id);
            rc = SL_EINVAL;
        } else {
            rc = sl_registry_request(nd->reg, q, out + 1, 65535);
        }
        out[0] = rc ? '1' : '0';
        reply(nd, q->endpoint, SL_MSG_JOBCTL_REPLY, 0, out, 1 + strlen(out + 1));
    }
    free(q);
    free(out);
}

/* Control frames: acknowledgements of what this node sent, the clients' leases and cancels,
 * and (node 0) the job commands of `sluice job`. */
static void handle_ctl(struct node *nd, const sl_frame *f, uint64_t now)
{
    const sl_frame_hdr *h = &f->h;
    if (h->kind == SL_FRAME_ACK) {
        sl_ack a[SL_ACK_MAX];
        long n = sl_ack_decode(f->payload, h->payload_len, a);
        for (long i = 0; i < n; i++) {
            if (h->source == SL_CLIENT_SOURCE) {
                struct slot *sl = slot_of(nd, sl_stream_job(a[i].stream));
                if (sl && sl->client)
                    sl_outbox_ack(sl->client, a[i].stream, a[i].next);
            } else if (h->source < nd->n && h->source != nd->id) {
                uint32_t s = sl_stream_stage(a[i].stream);
                if (s < SL_NODE_PORTS && nd->peer[h->source][s])
                    sl_outbox_ack(nd->peer[h->source][s], a[i].stream, a[i].next);
            }
        }
        return;
    }
    if (h->kind == SL_MSG_JOBCTL) {
        handle_jobctl(nd, f);
        return;
    }
    if (h->source != SL_CLIENT_SOURCE)
        return;
    struct slot *sl = slot_of(nd, sl_stream_job(h->stream));
    if (!sl)
        return;
    if (h->kind == SL_MSG_LEASE) {
        sl->last_lease_us = now;
    } else if (h->kind == SL_MSG_GO) {
        sl->last_lease_us = now;
        sl->go = 1;
    } else if (h->kind == SL_MSG_STOP) {
        sl->last_lease_us = now;
        if (sl->src && !sl->stop_asked)
            logf_(nd, "job %u: its client asked to stop reading the input", sl->job_id);
        sl->stop_asked = 1;
    } else if (h->kind == SL_MSG_CANCEL) {
        logf_(nd, "job %u cancelled by its client", sl->job_id);
        end_job(sl, 0);
    }
}

/* What this node holds (queued or not yet acknowledged) for the outputs of stage `stage`, over
 * every job: the peers' inputs of stage + 1, and the clients of the jobs whose last stage it
 * is. A port is read only while this is under OUT_LIMIT; since the outputs of a stage are the
 * inputs of a later one (or a client, which always drains), the waits form no cycle. */
static size_t stage_out_queued(struct node *nd, uint32_t stage)
{
    size_t q = 0;
    for (int i = 0; i < SL_NODE_JOBS; i++)
        if (nd->slot[i].active && stage + 1 == nd->slot[i].stages && nd->slot[i].client)
            q += sl_outbox_queued_bytes(nd->slot[i].client);
    if (stage + 1 < SL_NODE_PORTS)
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

/* Fails or finishes the jobs as time passes: a client silent past net.liveness_ms cancels its
 * job; a finished job ends once its client holds every frame. */
static void check_jobs(struct node *nd, uint64_t now)
{
    int stalled = now - nd->last_loop_us > STALL_US;
    for (int i = 0; i < SL_NODE_JOBS; i++) {
        struct slot *sl = &nd->slot[i];
        if (!sl->active)
            continue;
        if (stalled)
            sl->last_lease_us = now; /* this node stalled: the client may have leased meanwhile */
        uint64_t silent = now - sl->last_lease_us;
        if (silent > (uint64_t)nd->cl->net.liveness_ms * 1000) {
            logf_(nd,
                  "job %u cancelled: its client has been silent for %.1f s (net.liveness_ms %d)",
                  sl->job_id, (double)silent / 1e6, nd->cl->net.liveness_ms);
            end_job(sl, 0);
            continue;
        }
        if (sl->finishing && sl->client && sl_outbox_queued_bytes(sl->client) == 0)
            end_job(sl, 1);
    }
    forget_old(nd, now);
}

static int open_sockets(struct node *nd, char *msg, size_t msglen)
{
    const sl_cluster_cfg *cl = nd->cl;
    for (uint32_t s = 0; s <= SL_NODE_PORTS; s++) {
        char ep[512];
        endpoint(ep, sizeof ep, &cl->nodes[nd->id], s);
        sl_inbox *ib = NULL;
        int rc = sl_inbox_new(nd->zctx, ep, &cl->net, sl_payload_recsize, &ib, msg, msglen);
        if (rc)
            return rc;
        sl_inbox_on_reject(ib, on_reject, nd);
        if (s < SL_NODE_PORTS) {
            nd->admit[s] = (struct admit_ctx){nd, s};
            sl_inbox_on_admit(ib, admit, &nd->admit[s]);
            nd->in[s] = ib;
        } else {
            sl_inbox_on_admit(ib, admit_none, NULL);
            nd->ctl = ib;
        }
    }
    for (uint32_t d = 0; d < cl->nnodes; d++) {
        if (d == nd->id)
            continue;
        for (uint32_t s = 0; s <= SL_NODE_PORTS; s++) {
            char ep[512];
            endpoint(ep, sizeof ep, &cl->nodes[d], s);
            sl_outbox *ob = NULL;
            int rc = sl_outbox_new(nd->zctx, ep, nd->id, &cl->net, &ob, msg, msglen);
            if (rc)
                return rc;
            if (s < SL_NODE_PORTS)
                nd->peer[d][s] = ob;
            else
                nd->ctl_to[d] = ob;
        }
    }
    return 0;
}

/* CLOCK_REALTIME less CLOCK_MONOTONIC, in seconds: the engines' timers run on the latter, and
 * the nodes of a cluster share the former (as far as their clocks are synchronised). */
static double wall_offset_s(void)
{
    struct timespec m, r;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &r);
    return ((double)r.tv_sec - (double)m.tv_sec) + ((double)r.tv_nsec - (double)m.tv_nsec) * 1e-9;
}

/* The longest the poll loop may wait while jobs run: their batch wait, clamped to 1..50 ms as the
 * one-process ingest loop clamps its reads (host/run/pipeline.c), so that their timers run that
 * often. LONG_MAX without a running job. */
static long tick_wait_ms(const struct node *nd)
{
    long w = LONG_MAX;
    for (int i = 0; i < SL_NODE_JOBS; i++) {
        const struct slot *sl = &nd->slot[i];
        if (!sl->active || sl->finishing || !sl->chain)
            continue;
        uint32_t b = sl->job.topo.batch_wait_ms;
        long t = b < 1 ? 1 : b > 50 ? 50 : (long)b;
        w = t < w ? t : w;
    }
    return w;
}

/* Runs the timers of every job in progress, as the one-process ingest loop does between reads:
 * records this node routed to itself go into their stages, partial batches older than the job's
 * batch_wait_ms are dispatched, and triggers fire while input is slow or silent (every_ms; a
 * snapshot goes to the client: to_client). A job's every_ms is aligned to the wall clock on its
 * first tick (sl_chain_align_timers), so that every node takes the job's snapshots at the same
 * moments and the client can write them together; every_events counts this node's events. */
static void tick_jobs(struct node *nd)
{
    for (int i = 0; i < SL_NODE_JOBS; i++) {
        struct slot *sl = &nd->slot[i];
        if (!sl->active || sl->finishing || !sl->chain)
            continue;
        if (!sl->snap.aligned) {
            sl_chain_align_timers(sl->chain, wall_offset_s());
            sl->snap.aligned = 1;
        }
        int rc = 0;
        for (uint32_t s = 1; s < sl->stages && !rc; s++)
            if (!sl->finished[s])
                rc = flush_local(sl, s);
        if (rc) {
            abort_job(sl, sl->msg[0] ? sl->msg : "stage failed");
        } else if (sl_chain_tick(sl->chain, sl->job.topo.batch_wait_ms)) {
            if (!sl->msg[0])
                snprintf(sl->msg, sizeof sl->msg, "%s", sl_chain_message(sl->chain));
            abort_job(sl, sl->msg);
        }
    }
}

/* One turn of the poll loop. Returns 0 or an sl_err with msg. */
static int turn(struct node *nd, char *msg, size_t msglen)
{
    const sl_cluster_cfg *cl = nd->cl;
    sl_poller *p = nd->poller;
    int in_idx[SL_NODE_PORTS], ctl_idx;
    sl_poller_clear(p);
    for (uint32_t r = 0; r < nd->nreplies; r++)
        if (sl_outbox_queued_frames(nd->replies[r].ob))
            sl_poller_add_outbox(p, nd->replies[r].ob);
    ctl_idx = sl_poller_add_inbox(p, nd->ctl);
    for (uint32_t s = 0; s < SL_NODE_PORTS; s++) {
        in_idx[s] = -1;
        int used = s == 0;
        for (int i = 0; i < SL_NODE_JOBS; i++)
            used |= nd->slot[i].active && s < nd->slot[i].stages;
        if (!used)
            continue;
        if (stage_out_queued(nd, s) > OUT_LIMIT)
            continue; /* back-pressure: let the outputs drain first */
        in_idx[s] = sl_poller_add_inbox(p, nd->in[s]);
    }
    int pending_open = 0;
    for (uint32_t d = 0; d < nd->n; d++)
        for (uint32_t s = 0; s < SL_NODE_PORTS; s++)
            if (nd->peer[d][s]) {
                if (sl_outbox_queued_frames(nd->peer[d][s]))
                    sl_poller_add_outbox(p, nd->peer[d][s]);
                if (sl_outbox_queued_bytes(nd->peer[d][s]))
                    pending_open = 1;
            }
    for (int i = 0; i < SL_NODE_JOBS; i++) {
        sl_outbox *c = nd->slot[i].active ? nd->slot[i].client : NULL;
        if (c && sl_outbox_queued_frames(c))
            sl_poller_add_outbox(p, c);
        if (c && sl_outbox_queued_bytes(c))
            pending_open = 1;
    }
    long timeout = pending_open ? (long)(cl->net.flush_us / 1000) + 1 : nd->nreplies ? 10 : 50;
    /* the jobs' own sources (source.ingest: nodes): a file is read on every turn, a socket when
     * it has something (or at once after a read that filled its chunk) */
    int ingest_now = 0, ingest_live = 0;
    if (ingest_queued(nd) <= OUT_LIMIT)
        for (int i = 0; i < SL_NODE_JOBS; i++) {
            struct slot *sl = &nd->slot[i];
            if (!sl->active || !sl->src || !sl->go || sl->ingest_done || sl->finishing)
                continue;
            int fd = sl_source_fd(sl->src);
            if (fd < 0 || sl->read_full || (sl->stop_asked && !sl->input_closed))
                ingest_now = 1;
            else
                sl_poller_add_fd(p, fd);
            ingest_live = 1;
        }
    for (int i = 0; i < SL_NODE_JOBS; i++) /* checkpoints being written */
        if (nd->slot[i].active && nd->slot[i].ckw && sl_ckptw_busy(nd->slot[i].ckw))
            sl_poller_add_fd(p, sl_ckptw_fd(nd->slot[i].ckw));
    if (ingest_now)
        timeout = 0;
    else if (ingest_live && timeout > 10)
        timeout = 10;
    long tick = tick_wait_ms(nd);
    timeout = tick < timeout ? tick : timeout;
    if (sl_poller_wait(p, timeout) < 0) {
        snprintf(msg, msglen, "waiting on the node's sockets failed: %s", strerror(errno));
        return SL_EIO;
    }
    uint64_t now = sl_net_now_us();
    if (sl_poller_ready(p, ctl_idx)) {
        sl_frame f;
        for (int k = 0; k < 4 * FRAMES_PER_POLL && sl_inbox_recv(nd->ctl, &f) == 1; k++)
            handle_ctl(nd, &f, now);
    }
    for (uint32_t s = 0; s < SL_NODE_PORTS; s++) {
        if (!sl_poller_ready(p, in_idx[s]))
            continue;
        for (int k = 0; k < FRAMES_PER_POLL; k++) {
            sl_frame f;
            if (sl_inbox_recv(nd->in[s], &f) <= 0)
                break;
            int job = f.h.kind == SL_MSG_JOB;
            handle(nd, s, &f);
            if (job)
                break; /* a job's setup takes a while: acknowledge before the next one */
            if (stage_out_queued(nd, s) > OUT_LIMIT)
                break;
        }
    }
    for (int i = 0; i < SL_NODE_JOBS; i++)
        if (nd->slot[i].active && ckpt_settle(&nd->slot[i], 0))
            abort_job(&nd->slot[i], nd->slot[i].msg);
    for (int i = 0; i < SL_NODE_JOBS; i++)
        if (nd->slot[i].active)
            ingest_step(&nd->slot[i]);
    tick_jobs(nd);
    now = sl_net_now_us();
    send_acks(nd, now);
    check_jobs(nd, now);
    if (nd->reg)
        sl_registry_poll(nd->reg);
    nd->last_loop_us = now;
    for (uint32_t d = 0; d < nd->n; d++)
        for (uint32_t s = 0; s < SL_NODE_PORTS; s++)
            if (nd->peer[d][s] &&
                (sl_outbox_tick(nd->peer[d][s], now) || sl_outbox_pump(nd->peer[d][s])))
                logf_(nd, "sending to node %u failed: %s", d, strerror(errno));
    for (int i = 0; i < SL_NODE_JOBS; i++) {
        sl_outbox *c = nd->slot[i].active ? nd->slot[i].client : NULL;
        if (c && (sl_outbox_tick(c, now) || sl_outbox_pump(c)))
            logf_(nd, "sending to the client of job %u failed: %s", nd->slot[i].job_id,
                  strerror(errno));
    }
    pump_replies(nd, now);
    return 0;
}

/* With ZooKeeper (coord.h): follows this node's seat as the job coordinator. Elected, it makes
 * the registry, which starts again the jobs whose driver died with the coordinator before; the
 * seat lost (its session expired), it abandons it: its drivers are killed, and the coordinator
 * now elected starts them again. A stopping node leaves the election once its drivers ended. */
static void coord_step(struct node *nd, int stopping)
{
    int running = nd->reg && sl_registry_running(nd->reg);
    int lead = sl_coord_poll(nd->coord, stopping && !running);
    if (lead && !nd->reg && !stopping) {
        char exe[4096];
        ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (l <= 0) {
            logf_(nd, "cannot find the sluice executable (%s): no job registry", strerror(errno));
            return;
        }
        exe[l] = '\0';
        if (sl_registry_new_zk(exe, nd->o->cluster_path, nd->quiet, nd->id, sl_coord_zk(nd->coord),
                               sl_coord_root(nd->coord), nd->cl->net.liveness_ms + 500,
                               sl_coord_epoch(nd->coord), &nd->reg))
            logf_(nd, "out of memory for the job registry");
    } else if (!lead && nd->reg) {
        if (running)
            sl_registry_abandon(&nd->reg);
        else
            sl_registry_destroy(&nd->reg);
    }
}

int sl_node_run(const sl_node_opts *o, char *msg, size_t msglen)
{
    const sl_cluster_cfg *cl = o->cl;
    struct node *nd = calloc(1, sizeof *nd);
    int rc = 0;
    if (!nd) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    nd->cl = cl;
    nd->o = o;
    nd->id = o->id;
    nd->n = cl->nnodes;
    nd->quiet = o->quiet;
    nd->cluster_id = sl_cluster_id(cl);
    pthread_mutex_init(&nd->agent.mu, NULL);
    if (o->id >= cl->nnodes) {
        snprintf(msg, msglen, "node id %u is not in the cluster file (it lists %u nodes)", o->id,
                 cl->nnodes);
        rc = SL_EINVAL;
        goto out;
    }
    sl_huge_keep(1); /* job after job: large blocks are kept for the next (base/hugemem.h) */
    const long kthreads = share_device(nd);
    if ((rc = sl_device_open(cl->device, &nd->dev, msg, msglen)))
        goto out;
    if (kthreads) {
        const sl_device_info *di = sl_device_get_info(nd->dev);
        logf_(nd,
              "device %s: %u compute unit%s (POCL_MAX_PTHREAD_COUNT=%ld: the CPUs shared by "
              "the nodes at %s)",
              di->name, di->compute_units, di->compute_units == 1 ? "" : "s", kthreads,
              cl->nodes[nd->id].host);
    }
    place_node(nd);
    if ((rc = sl_partmap_new(cl->partitions, cl->nnodes, &nd->map, msg, msglen)))
        goto out;
    if ((rc = sl_poller_new(SL_NODE_PORTS + 1 + SL_NODES_MAX * SL_NODE_PORTS + MAX_REPLIES +
                                2 * SL_NODE_JOBS + 1,
                            &nd->poller, msg, msglen)) ||
        (rc = sl_netctx_new(&cl->net, &nd->net, msg, msglen)))
        goto out;
    nd->zctx = sl_netctx_zmq(nd->net);
    if ((rc = open_sockets(nd, msg, msglen)))
        goto out;
    if (cl->nodes[nd->id].metrics) {
        char addr[300], why[512];
        snprintf(addr, sizeof addr, "%s:%u",
                 strcmp(cl->nodes[nd->id].host, "localhost") == 0 ? "127.0.0.1"
                                                                  : cl->nodes[nd->id].host,
                 cl->nodes[nd->id].metrics);
        if (sl_webui_start(addr, &nd->ui, why, sizeof why) == 0)
            logf_(nd, "metrics at http://%s/metrics, web UI at http://%s/", addr, addr);
        else
            SL_WARN("node", "node %u: no metrics endpoint: %s", nd->id, why);
    }
    if (cl->zk.connect[0] && o->cluster_path &&
        (rc = sl_coord_new(cl, nd->id, nd->quiet, &nd->coord, msg, msglen)))
        goto out;
    if (nd->id == 0 && o->cluster_path && !nd->coord) {
        char exe[4096];
        ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (l > 0) {
            exe[l] = '\0';
            if ((rc = sl_registry_new(exe, o->cluster_path, nd->quiet, &nd->reg))) {
                snprintf(msg, msglen, "out of memory");
                goto out;
            }
        } else {
            logf_(nd, "cannot find the sluice executable (%s): 'sluice job submit' is refused",
                  strerror(errno));
        }
    }
    struct agent *a = &nd->agent;
    a->sig_fd = o->sig_fd;
    a->exit_with_parent = o->exit_with_parent;
    a->parent = getppid();
    a->zctx = nd->zctx;
    a->net = &cl->net;
    a->node = nd->id;
    if (pthread_create(&a->th, NULL, agent_main, a) != 0) {
        snprintf(msg, msglen, "cannot start the lease thread");
        rc = SL_EIO;
        goto out;
    }
    a->started = 1;
    logf_(nd, "listening on %s ports %u-%u, device %s, %s", cl->nodes[nd->id].host,
          cl->nodes[nd->id].port, cl->nodes[nd->id].port + SL_NODE_SPAN - 1,
          sl_device_get_info(nd->dev)->name,
          cl->net.curve ? "CURVE: only holders of the cluster key are admitted"
                        : "UNAUTHENTICATED (no curve keys): anyone who reaches these ports can "
                          "drive this node");
    nd->last_loop_us = sl_net_now_us();
    int drained = 0;
    for (;;) {
        int s = stops(nd);
        if (nd->coord)
            coord_step(nd, s);
        if (s && nd->reg && !drained) {
            /* the submitted jobs' drivers stop reading and finish: their jobs end well */
            sl_registry_stop_all(nd->reg, 0);
            drained = 1;
        }
        if (s && !nactive(nd) && !(nd->reg && sl_registry_running(nd->reg)))
            break;
        if (s > 1) {
            for (int i = 0; i < SL_NODE_JOBS; i++)
                if (nd->slot[i].active)
                    abort_job(&nd->slot[i], atomic_load(&a->orphaned)
                                                ? "the process that started this node is gone"
                                                : "stopped by a second signal");
            break;
        }
        if ((rc = turn(nd, msg, msglen)))
            break;
        publish_metrics(nd, sl_net_now_us());
        if (!stops(nd) && sl_device_wedged(nd->dev)) {
            /* A kernel outlived pe.timeout_ms (that job failed with that message): the device
             * still runs it and cannot be trusted again, so every other job fails too. cluster
             * up starts a fresh node. */
            snprintf(msg, msglen, "the device is wedged by a kernel that did not finish; exiting");
            for (int i = 0; i < SL_NODE_JOBS; i++)
                if (nd->slot[i].active)
                    abort_job(&nd->slot[i], msg);
            rc = SL_EIO;
            break;
        }
    }
out:
    while (nd->nreplies) { /* waits at most REPLY_TIMEOUT_US for them */
        pump_replies(nd, sl_net_now_us());
        if (nd->nreplies)
            sl_net_sleep_ms(10);
    }
    for (int i = 0; i < SL_NODE_JOBS; i++)
        if (nd->slot[i].active)
            end_job(&nd->slot[i], 0);
    sl_webui_stop(&nd->ui);
    sl_registry_destroy(&nd->reg); /* drivers still running are killed */
    sl_coord_destroy(&nd->coord);  /* membership and candidacy go with the session */
    if (nd->agent.started) {
        atomic_store(&nd->agent.quit, 1);
        pthread_join(nd->agent.th, NULL);
    }
    int orphan = atomic_load(&nd->agent.orphaned), hurry = nd->dev && hurried(nd);
    for (uint32_t d = 0; d < SL_NODES_MAX; d++) {
        for (uint32_t s = 0; s < SL_NODE_PORTS; s++)
            if (nd->peer[d][s]) {
                if (!hurry)
                    sl_outbox_drain(nd->peer[d][s], cl->net.linger_ms);
                sl_outbox_close_now(&nd->peer[d][s]);
            }
        sl_outbox_close_now(&nd->ctl_to[d]);
    }
    for (uint32_t s = 0; s < SL_NODE_PORTS; s++)
        sl_inbox_destroy(&nd->in[s]);
    sl_inbox_destroy(&nd->ctl);
    sl_netctx_destroy(&nd->net);
    sl_poller_destroy(&nd->poller);
    sl_partmap_destroy(&nd->map);
    sl_device_close(&nd->dev);
    if (orphan && o->cleanup_dir && *o->cleanup_dir)
        remove_dir(o->cleanup_dir);
    pthread_mutex_destroy(&nd->agent.mu);
    free(nd);
    return rc;
}
