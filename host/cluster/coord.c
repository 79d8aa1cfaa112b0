/* A node's part in the cluster state kept in ZooKeeper; see coord.h. */
#include "coord.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "partmap.h"
#include "poller.h"
#include "sock.h"

#define CHECK_EVERY_US UINT64_C(1000000) /* a look at ZooKeeper at least this often */
#define RENEW_EVERY_US UINT64_C(1000000) /* a new session is tried at most this often */
#define RENEW_WAIT_MS 1000               /* and waited for this long (the node's loop waits) */
#define PATH_LEN 600

struct sl_coord {
    const sl_cluster_cfg *cl;
    uint32_t id;
    int quiet;
    sl_zk *zk;
    char root[256];
    uint32_t gen;            /* the session generation this state belongs to */
    uint64_t seen_events;    /* sl_zk_events at the last look */
    uint64_t next_check_us;  /* the next look, events or not */
    uint64_t next_renew_us;  /* the next try at a new session after an expiry */
    int member;              /* R/members/ID is ours */
    uint64_t member_epoch;   /* our incarnation's epoch */
    char cand[PATH_LEN];     /* our candidate's znode; "" = not standing */
    int leader;              /* we hold the seat */
    uint64_t leader_epoch;   /* R/leader_epoch when we took it */
    int warned_stale_member; /* said once that an old incarnation's znode is still there */
};

static void coord_log(const sl_coord *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void coord_log(const sl_coord *c, const char *fmt, ...)
{
    if (c->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "node %u: ", c->id);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int sl_coord_new(const sl_cluster_cfg *cl, uint32_t id, int quiet, sl_coord **out, char *msg,
                 size_t msglen)
{
    *out = NULL;
    sl_coord *c = calloc(1, sizeof *c);
    if (!c) {
        sl_set_msg(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    c->cl = cl;
    c->id = id;
    c->quiet = quiet;
    snprintf(c->root, sizeof c->root, "%s", cl->zk.root);
    int rc = sl_zk_new(cl->zk.connect, cl->zk.session_ms, cl->zk.session_ms, &c->zk, msg, msglen);
    if (rc) {
        free(c);
        return rc;
    }
    c->gen = sl_zk_generation(c->zk);
    coord_log(c, "ZooKeeper %s, root %s, session timeout %u ms", cl->zk.connect, c->root,
              sl_zk_session_ms(c->zk));
    *out = c;
    return 0;
}

void sl_coord_destroy(sl_coord **cp)
{
    sl_coord *c = *cp;
    if (!c)
        return;
    sl_zk_destroy(&c->zk); /* ephemeral znodes go with the session */
    free(c);
    *cp = NULL;
}

sl_zk *sl_coord_zk(sl_coord *c)
{
    return c->zk;
}

const char *sl_coord_root(const sl_coord *c)
{
    return c->root;
}

uint64_t sl_coord_epoch(const sl_coord *c)
{
    return c->leader ? c->leader_epoch : 0;
}

/* R/members/ID with this incarnation's epoch. An old incarnation's znode (its session not yet
 * expired: the node was killed and started again) blocks it until it goes. Returns 0 when
 * registered. */
static int register_member(sl_coord *c)
{
    char path[PATH_LEN], epath[PATH_LEN], msg[512], text[512];
    snprintf(path, sizeof path, "%s/members/%u", c->root, c->id);
    snprintf(epath, sizeof epath, "%s/epochs/%u", c->root, c->id);
    sl_zk_stat st;
    int rc = sl_zk_exists(c->zk, path, 1, &st, msg, sizeof msg);
    if (rc == 0 && st.owner == sl_zk_session(c->zk))
        return 0;
    if (rc == 0) {
        if (!c->warned_stale_member++)
            coord_log(c,
                      "ZooKeeper: %s still names an earlier incarnation of this node (its session "
                      "ends within %u ms); registering after it",
                      path, c->cl->zk.session_ms);
        return -1;
    }
    if (rc != SL_ENOENT)
        return -1;
    if (!c->member_epoch && sl_zk_incr(c->zk, epath, &c->member_epoch, msg, sizeof msg)) {
        coord_log(c, "%s", msg);
        return -1;
    }
    const sl_node_addr *a = &c->cl->nodes[c->id];
    int n =
        snprintf(text, sizeof text,
                 "id %u\npid %ld\naddress %s:%u\nepoch %" PRIu64 "\nsession 0x%" PRIx64 "\n", c->id,
                 (long)getpid(), a->host, a->port, c->member_epoch, (uint64_t)sl_zk_session(c->zk));
    rc = sl_zk_create(c->zk, path, text, (size_t)n, SL_ZK_EPHEMERAL | SL_ZK_PARENTS, NULL, 0, msg,
                      sizeof msg);
    if (rc) {
        if (rc != SL_EEXIST)
            coord_log(c, "%s", msg);
        return -1;
    }
    c->warned_stale_member = 0;
    coord_log(c, "ZooKeeper: member %s, epoch %" PRIu64, path, c->member_epoch);
    return 0;
}

/* R/partmap: the static dealing of the cluster file (partition p on node p % N) for now;
 * recovery will move partitions and write it again. */
static void publish_partmap(sl_coord *c)
{
    sl_partmap *m = NULL;
    char msg[512], path[PATH_LEN];
    if (sl_partmap_new(c->cl->partitions, c->cl->nnodes, &m, msg, sizeof msg)) {
        coord_log(c, "partition map: %s", msg);
        return;
    }
    uint32_t np = sl_partmap_nparts(m);
    size_t cap = 128 + (size_t)np * 6, k = 0;
    char *text = malloc(cap);
    if (text) {
        k += (size_t)snprintf(text, cap, "partitions %u\nnodes %u\nepoch %" PRIu64 "\nowners", np,
                              c->cl->nnodes, c->leader_epoch);
        for (uint32_t p = 0; p < np; p++)
            k += (size_t)snprintf(text + k, cap - k, " %u", sl_partmap_node(m, p));
        k += (size_t)snprintf(text + k, cap - k, "\n");
        snprintf(path, sizeof path, "%s/partmap", c->root);
        if (sl_zk_put(c->zk, path, text, k, msg, sizeof msg))
            coord_log(c, "partition map not published: %s", msg);
        free(text);
    }
    sl_partmap_destroy(&m);
}

/* Our candidate leads: take the seat (R/leader, the epoch, the partition map). Returns 0 when
 * taken; -1 to try again at the next look. */
static int take_seat(sl_coord *c)
{
    char path[PATH_LEN], epath[PATH_LEN], msg[512], text[512];
    snprintf(path, sizeof path, "%s/leader", c->root);
    snprintf(epath, sizeof epath, "%s/leader_epoch", c->root);
    sl_zk_stat st;
    int rc = sl_zk_exists(c->zk, path, 0, &st, msg, sizeof msg);
    if (rc == 0 && st.owner != sl_zk_session(c->zk))
        return -1; /* the previous coordinator's, about to go with its session */
    if (rc == 0) { /* ours already (a seat taken before a look that failed half way) */
        c->leader = 1;
        return 0;
    }
    if (rc != SL_ENOENT || sl_zk_incr(c->zk, epath, &c->leader_epoch, msg, sizeof msg))
        return -1;
    const sl_node_addr *a = &c->cl->nodes[c->id];
    int n = snprintf(text, sizeof text, "id %u\npid %ld\naddress %s:%u\nepoch %" PRIu64 "\n", c->id,
                     (long)getpid(), a->host, a->port, c->leader_epoch);
    rc = sl_zk_create(c->zk, path, text, (size_t)n, SL_ZK_EPHEMERAL | SL_ZK_PARENTS, NULL, 0, msg,
                      sizeof msg);
    if (rc) {
        coord_log(c, "%s", msg);
        return -1;
    }
    c->leader = 1;
    publish_partmap(c);
    coord_log(c, "ZooKeeper: elected job coordinator (epoch %" PRIu64 ")", c->leader_epoch);
    return 0;
}

/* Leaves the election (and the seat). */
static void withdraw(sl_coord *c)
{
    char msg[512], path[PATH_LEN];
    if (c->leader) {
        snprintf(path, sizeof path, "%s/leader", c->root);
        sl_zk_delete(c->zk, path, -1, msg, sizeof msg);
        c->leader = 0;
        coord_log(c, "ZooKeeper: gave up the coordinator's seat");
    }
    if (c->cand[0]) {
        sl_zk_delete(c->zk, c->cand, -1, msg, sizeof msg);
        c->cand[0] = '\0';
    }
}

/* Stands for election if not yet, and looks who leads (watching the candidates). */
static void elect(sl_coord *c)
{
    char path[PATH_LEN], prefix[PATH_LEN + 8], msg[512], idtext[16];
    snprintf(path, sizeof path, "%s/election", c->root);
    if (!c->cand[0]) {
        snprintf(prefix, sizeof prefix, "%s/cand-", path);
        int n = snprintf(idtext, sizeof idtext, "%u", c->id);
        if (sl_zk_create(c->zk, prefix, idtext, (size_t)n,
                         SL_ZK_EPHEMERAL | SL_ZK_SEQUENTIAL | SL_ZK_PARENTS, c->cand,
                         sizeof c->cand, msg, sizeof msg)) {
            coord_log(c, "%s", msg);
            c->cand[0] = '\0';
            return;
        }
    }
    sl_zk_names n;
    if (sl_zk_children(c->zk, path, 1, &n, msg, sizeof msg)) {
        coord_log(c, "%s", msg);
        return;
    }
    const char *mine = strrchr(c->cand, '/') + 1;
    int present = 0;
    for (int i = 0; i < n.n; i++)
        present |= strcmp(n.name[i], mine) == 0;
    if (!present) { /* gone (deleted by hand): stand again at the next look */
        c->cand[0] = '\0';
        if (c->leader)
            coord_log(c, "ZooKeeper: this node's candidacy vanished: no longer coordinator");
        c->leader = 0;
    } else if (strcmp(n.name[0], mine) == 0) {
        if (!c->leader)
            take_seat(c);
    } else if (c->leader) {
        coord_log(c, "ZooKeeper: another candidate leads: no longer coordinator");
        c->leader = 0;
    }
    sl_zk_names_free(&n);
}

int sl_coord_poll(sl_coord *c, int withdrawing)
{
    uint64_t now = sl_net_now_us();
    enum sl_zk_state st = sl_zk_state(c->zk);
    if (st == SL_ZK_EXPIRED) {
        if (c->leader || c->member)
            coord_log(c, "ZooKeeper: session expired: %s; registering again",
                      c->leader ? "no longer the job coordinator" : "membership lost");
        c->leader = c->member = 0;
        c->cand[0] = '\0';
        if (now < c->next_renew_us || withdrawing)
            return 0;
        c->next_renew_us = now + RENEW_EVERY_US;
        char msg[512];
        if (sl_zk_renew(c->zk, RENEW_WAIT_MS, msg, sizeof msg))
            return 0;
        st = sl_zk_state(c->zk);
    }
    if (st != SL_ZK_CONNECTED)
        return c->leader; /* the session may well live on: keep the seat meanwhile */
    if (sl_zk_generation(c->zk) != c->gen) { /* a new session: our ephemeral znodes are gone */
        c->gen = sl_zk_generation(c->zk);
        c->leader = c->member = 0;
        c->member_epoch = 0;
        c->cand[0] = '\0';
        c->next_check_us = 0;
    }
    uint64_t ev = sl_zk_events(c->zk);
    if (ev == c->seen_events && now < c->next_check_us && !(withdrawing && c->cand[0]))
        return c->leader;
    c->seen_events = ev;
    c->next_check_us = now + CHECK_EVERY_US;
    if (!c->member)
        c->member = register_member(c) == 0;
    if (withdrawing) {
        withdraw(c);
        return 0;
    }
    if (c->member)
        elect(c);
    return c->leader;
}

/* The "id N" line of R/leader's text. Returns 0 or -1. */
static int leader_id(const char *text, uint32_t nnodes, uint32_t *id)
{
    if (strncmp(text, "id ", 3) != 0)
        return -1;
    char *end;
    unsigned long v = strtoul(text + 3, &end, 10);
    if (end == text + 3 || *end != '\n' || v >= nnodes)
        return -1;
    *id = (uint32_t)v;
    return 0;
}

int sl_coord_find_leader(const sl_cluster_cfg *cl, uint32_t wait_ms, uint32_t *id, char *msg,
                         size_t msglen)
{
    sl_zk *z = NULL;
    int rc = sl_zk_new(cl->zk.connect, cl->zk.session_ms, wait_ms, &z, msg, msglen);
    if (rc)
        return rc;
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/leader", cl->zk.root);
    uint64_t deadline = sl_net_now_us() + (uint64_t)wait_ms * 1000;
    for (;;) {
        char *text;
        size_t len;
        rc = sl_zk_get(z, path, 0, &text, &len, NULL, msg, msglen);
        if (rc == 0) {
            int bad = leader_id(text, cl->nnodes, id);
            free(text);
            if (!bad)
                break;
            sl_set_msg(msg, msglen, "ZooKeeper %s does not name a node of this cluster file", path);
            rc = SL_EIO;
            break;
        }
        if (rc != SL_ENOENT || sl_net_now_us() >= deadline) {
            if (rc == SL_ENOENT)
                sl_set_msg(msg, msglen,
                           "no job coordinator in ZooKeeper %s (%s) after %u ms: is the cluster "
                           "up (sluice cluster up)?",
                           cl->zk.connect, path, wait_ms);
            break;
        }
        sl_net_sleep_ms(100);
    }
    sl_zk_destroy(&z);
    return rc;
}

/* The number of line `name` in a record's text; 0 when absent. */
static uint64_t record_num(const char *text, const char *name)
{
    char v[32];
    return sl_zk_field(text, name, v, sizeof v) ? 0 : strtoull(v, NULL, 10);
}

int sl_coord_publish_job_map(const sl_cluster_cfg *cl, uint32_t job, uint64_t driver_epoch,
                             uint64_t attempt, const sl_partmap *map, const uint32_t *host,
                             uint32_t wait_ms, char *msg, size_t msglen)
{
    uint32_t np = sl_partmap_nparts(map), n = cl->nnodes;
    size_t cap = 256 + (size_t)(np + n) * 7, k = 0;
    char *text = malloc(cap), path[PATH_LEN];
    if (!text) {
        sl_set_msg(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    k += (size_t)snprintf(
        text, cap, "job %u\ndriver_epoch %" PRIu64 "\nattempt %" PRIu64 "\nnodes %u\nplayers", job,
        driver_epoch, attempt, n);
    for (uint32_t d = 0; d < n; d++)
        k += (size_t)snprintf(text + k, cap - k, " %u", host[d]);
    k += (size_t)snprintf(text + k, cap - k, "\npartitions %u\nowners", np);
    for (uint32_t p = 0; p < np; p++)
        k += (size_t)snprintf(text + k, cap - k, " %u", host[sl_partmap_node(map, p)]);
    k += (size_t)snprintf(text + k, cap - k, "\n");
    snprintf(path, sizeof path, "%s/jobs/%u/partmap", cl->zk.root, job);
    sl_zk *z = NULL;
    int rc = sl_zk_new(cl->zk.connect, cl->zk.session_ms, wait_ms, &z, msg, msglen);
    for (int tries = 0; rc == 0 && tries < 16; tries++) {
        char *old = NULL;
        size_t len;
        sl_zk_stat st;
        rc = sl_zk_get(z, path, 0, &old, &len, &st, msg, msglen);
        if (rc == SL_ENOENT) {
            rc = sl_zk_create(z, path, text, k, SL_ZK_PARENTS, NULL, 0, msg, msglen);
            if (rc != SL_EEXIST)
                break;
            rc = 0; /* another driver made it first: read it */
            continue;
        }
        if (rc)
            break;
        uint64_t de = record_num(old, "driver_epoch"), at = record_num(old, "attempt");
        free(old);
        if (de > driver_epoch || (de == driver_epoch && at > attempt))
            break; /* a newer driver's record */
        rc = sl_zk_set(z, path, text, k, st.version, NULL, msg, msglen);
        if (rc != SL_ESTALE)
            break;
        rc = 0; /* written by another in between: look again */
    }
    sl_zk_destroy(&z);
    free(text);
    return rc;
}
