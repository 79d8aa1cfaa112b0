/* The job commands' wire format and round trip; see jobctl.h. */
#include "jobctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "inbox.h"
#include "job.h"
#include "node.h"
#include "outbox.h"
#include "poller.h"
#include "proto.h"

struct wbuf {
    unsigned char *p;
    size_t n, cap;
    int oom;
};

static void put(struct wbuf *w, const void *s, size_t len)
{
    if (w->oom)
        return;
    if (w->n + 4 + len > w->cap) {
        size_t cap = w->cap ? w->cap : 1024;
        while (cap < w->n + 4 + len)
            cap *= 2;
        unsigned char *np = realloc(w->p, cap);
        if (!np) {
            w->oom = 1;
            return;
        }
        w->p = np;
        w->cap = cap;
    }
    uint32_t l = (uint32_t)len;
    for (int i = 0; i < 4; i++)
        w->p[w->n++] = (unsigned char)(l >> (8 * i));
    if (len)
        memcpy(w->p + w->n, s, len);
    w->n += len;
}

static void put_str(struct wbuf *w, const char *s)
{
    put(w, s, strlen(s));
}

int sl_jobctl_encode(const sl_jobctl_req *r, unsigned char **buf, size_t *len)
{
    struct wbuf w = {0};
    put_str(&w, r->endpoint);
    put_str(&w, r->verb);
    put_str(&w, r->arg);
    if (strcmp(r->verb, "submit") == 0) {
        put_str(&w, r->from);
        put(&w, r->topo, r->topo_len);
        for (uint32_t i = 0; i < r->nfiles && i < SL_JOBCTL_FILES; i++) {
            put_str(&w, r->fname[i]);
            put(&w, r->ftext[i], r->flen[i]);
        }
    }
    if (w.oom) {
        free(w.p);
        return SL_ENOMEM;
    }
    *buf = w.p;
    *len = w.n;
    return 0;
}

/* The next field: *f, *flen. Returns 0, or -1 when the payload ends inside it. */
static int get(const unsigned char *p, size_t len, size_t *off, const char **f, size_t *flen)
{
    if (len - *off < 4)
        return -1;
    uint32_t l = 0;
    for (int i = 0; i < 4; i++)
        l |= (uint32_t)p[*off + (size_t)i] << (8 * i);
    *off += 4;
    if (len - *off < l)
        return -1;
    *f = (const char *)p + *off;
    *flen = l;
    *off += l;
    return 0;
}

/* A field into a string of `size` bytes: no NUL bytes, shorter than size. */
static int get_str(const unsigned char *p, size_t len, size_t *off, char *out, size_t size)
{
    const char *f;
    size_t fl;
    if (get(p, len, off, &f, &fl) || fl >= size || memchr(f, '\0', fl))
        return -1;
    memcpy(out, f, fl);
    out[fl] = '\0';
    return 0;
}

int sl_jobctl_decode(const unsigned char *p, size_t len, sl_jobctl_req *r, char *err, size_t errlen)
{
    size_t off = 0;
    memset(r, 0, sizeof *r);
    if (get_str(p, len, &off, r->endpoint, sizeof r->endpoint) ||
        get_str(p, len, &off, r->verb, sizeof r->verb) ||
        get_str(p, len, &off, r->arg, sizeof r->arg)) {
        snprintf(err, errlen, "a job command that is truncated or has a field out of bounds");
        return SL_EPARSE;
    }
    if (strcmp(r->verb, "submit") == 0) {
        if (get_str(p, len, &off, r->from, sizeof r->from) ||
            get(p, len, &off, &r->topo, &r->topo_len)) {
            snprintf(err, errlen, "a submitted job without its topology");
            return SL_EPARSE;
        }
        while (off < len) {
            if (r->nfiles == SL_JOBCTL_FILES) {
                snprintf(err, errlen, "a submitted job with more than %d files", SL_JOBCTL_FILES);
                return SL_EPARSE;
            }
            uint32_t i = r->nfiles;
            if (get_str(p, len, &off, r->fname[i], sizeof r->fname[i]) ||
                get(p, len, &off, &r->ftext[i], &r->flen[i])) {
                snprintf(err, errlen, "a submitted job with a truncated file");
                return SL_EPARSE;
            }
            r->nfiles++;
        }
    }
    if (off != len) {
        snprintf(err, errlen, "a job command with %zu bytes left over", len - off);
        return SL_EPARSE;
    }
    return 0;
}

int sl_jobctl_call(const sl_cluster_cfg *cl, uint32_t node, sl_jobctl_req *r, int timeout_ms,
                   int *refused, char *out, size_t outlen, char *msg, size_t msglen)
{
    sl_netctx *net = NULL;
    sl_inbox *ib = NULL;
    sl_outbox *ob = NULL;
    sl_poller *pl = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc;
    char want[300], ep[512];
    *refused = 0;
    out[0] = '\0';
    if ((rc = sl_poller_new(2, &pl, msg, msglen)) ||
        (rc = sl_netctx_new(&cl->net, &net, msg, msglen)))
        goto out;
    snprintf(want, sizeof want, "tcp://%s:*", cl->client_host);
    if ((rc = sl_inbox_new(sl_netctx_zmq(net), want, &cl->net, sl_payload_recsize, &ib, msg,
                           msglen)))
        goto out;
    if (sl_inbox_endpoint(ib, r->endpoint, sizeof r->endpoint)) {
        snprintf(msg, msglen, "cannot read the endpoint of %s: %s", want, strerror(errno));
        rc = SL_EIO;
        goto out;
    }
    if (node >= cl->nnodes) {
        snprintf(msg, msglen, "node %u is not in the cluster file", node);
        rc = SL_EINVAL;
        goto out;
    }
    snprintf(ep, sizeof ep, "tcp://%s:%u", cl->nodes[node].host,
             cl->nodes[node].port + SL_NODE_CTL);
    if ((rc = sl_outbox_new(sl_netctx_zmq(net), ep, SL_CLIENT_SOURCE, &cl->net, &ob, msg, msglen)))
        goto out;
    if ((rc = sl_jobctl_encode(r, &buf, &len)))
        goto out;
    if (len > cl->net.max_payload) {
        snprintf(msg, msglen,
                 "the job command (%zu bytes, files included) exceeds net.max_frame "
                 "(%zu)",
                 len, cl->net.max_payload);
        rc = SL_ERANGE;
        goto out;
    }
    if ((rc = sl_outbox_control(ob, SL_MSG_JOBCTL, 0, buf, len)))
        goto out;
    uint64_t deadline = sl_net_now_us() + (uint64_t)timeout_ms * 1000;
    rc = SL_EIO;
    while (sl_net_now_us() < deadline) {
        sl_outbox_pump(ob);
        sl_poller_clear(pl);
        sl_poller_add_inbox(pl, ib);
        if (sl_outbox_queued_frames(ob))
            sl_poller_add_outbox(pl, ob);
        sl_poller_wait(pl, 50);
        sl_frame f;
        while (sl_inbox_recv(ib, &f) == 1) {
            if (f.h.kind != SL_MSG_JOBCTL_REPLY || f.h.source != node || f.h.payload_len < 1)
                continue;
            *refused = f.payload[0] != '0';
            size_t l = f.h.payload_len - 1 < outlen - 1 ? f.h.payload_len - 1 : outlen - 1;
            memcpy(out, f.payload + 1, l);
            out[l] = '\0';
            rc = 0;
            goto out;
        }
    }
    snprintf(msg, msglen,
             "node %u (%s:%u) did not answer within %d ms: is the cluster up (sluice cluster "
             "up)%s?",
             node, cl->nodes[node].host, cl->nodes[node].port, timeout_ms,
             cl->net.curve ? ", and does this command read the cluster's key" : "");
out:
    free(buf);
    sl_outbox_close_now(&ob);
    sl_inbox_destroy(&ib);
    sl_netctx_destroy(&net);
    sl_poller_destroy(&pl);
    return rc;
}
