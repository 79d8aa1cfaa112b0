/* The job's HTTP endpoint; see webui.h. */
#include "webui.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "webfiles.h"

/* One job's latest snapshot and what its interval figures need. */
struct entry {
    int used;
    sl_obs_job job; /* with the interval figures filled in */
    /* events and kernel seconds at the interval's start (base_at, monotonic seconds), and the
     * rates over the last whole interval */
    double base_at;
    uint64_t base_in;
    double base_kernel[SL_STAGES_MAX];
    double rate, busy[SL_STAGES_MAX];
    uint64_t ckpt_written; /* checkpoints seen written, and when the count last went up */
    double ckpt_at;        /* (< 0: never) */
    uint32_t nbad;         /* malformed lines' reasons, oldest first */
    sl_obs_bad bad[SL_OBS_REASONS];
};

struct sl_webui {
    struct MHD_Daemon *d;
    uint16_t port;
    pthread_mutex_t mu;
    pthread_mutex_t render_mu;          /* one Prometheus rendering at a time */
    struct entry jobs[SL_OBS_JOBS_MAX]; /* in the order they were first published */
    int have_node;
    sl_obs_node node;
    volatile sig_atomic_t *stop, *cancel;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The content type of a UI file by its extension. */
static const char *mime(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (dot && strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (dot && strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    return "application/octet-stream";
}

/* Queues a response of len bytes (copied) with status and type. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const void *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return reply(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* Copies every job's latest snapshot into jobs (SL_OBS_JOBS_MAX) and the node's into node
 * (when not NULL). Returns the number of jobs; *have_node says whether node was set. */
static size_t snapshot(sl_webui *w, sl_obs_job *jobs, sl_obs_node *node, int *have_node)
{
    size_t n = 0;
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < SL_OBS_JOBS_MAX; i++) {
        const struct entry *e = &w->jobs[i];
        if (!e->used)
            continue;
        jobs[n] = e->job;
        jobs[n].nbad = e->nbad;
        memcpy(jobs[n].bad, e->bad, sizeof jobs[n].bad);
        n++;
    }
    *have_node = w->have_node;
    if (node && w->have_node)
        *node = w->node;
    pthread_mutex_unlock(&w->mu);
    return n;
}

/* The entry of job `name` (len bytes), or NULL. Under mu. */
static struct entry *find(sl_webui *w, const char *name, size_t len)
{
    for (size_t i = 0; i < SL_OBS_JOBS_MAX; i++)
        if (w->jobs[i].used && strlen(w->jobs[i].job.name) == len &&
            strncmp(w->jobs[i].job.name, name, len) == 0)
            return &w->jobs[i];
    return NULL;
}

/* POST /api/jobs/NAME/stop or /cancel. */
static enum MHD_Result control(sl_webui *w, struct MHD_Connection *c, const char *rest)
{
    const char *slash = strrchr(rest, '/');
    if (!slash)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "no such job action\n");
    pthread_mutex_lock(&w->mu);
    int known = find(w, rest, (size_t)(slash - rest)) != NULL;
    volatile sig_atomic_t *stop = w->stop, *cancel = w->cancel;
    pthread_mutex_unlock(&w->mu);
    if (!known)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "no such job\n");
    volatile sig_atomic_t *flag = NULL;
    if (strcmp(slash + 1, "stop") == 0)
        flag = stop;
    else if (strcmp(slash + 1, "cancel") == 0)
        flag = cancel;
    else
        return reply_text(c, MHD_HTTP_NOT_FOUND, "no such job action\n");
    if (!flag)
        return reply_text(c, MHD_HTTP_CONFLICT,
                          "this endpoint shows a node's part of the job: stop or cancel it where "
                          "it was submitted (its client, or sluice job stop|cancel ID)\n");
    /* The run reads these flags between reads, as it does after SIGINT and SIGTERM. A stop
     * ends the input and writes the final rows; a cancel gives the run up. */
    if (flag == cancel && stop)
        *stop = 1;
    *flag = 1;
    const char ok[] = "{\"ok\":true}";
    return reply(c, MHD_HTTP_ACCEPTED, "application/json", ok, sizeof ok - 1);
}

static enum MHD_Result get(sl_webui *w, struct MHD_Connection *c, const char *url)
{
    if (strcmp(url, "/metrics") == 0 || strcmp(url, "/api/jobs") == 0) {
        sl_obs_job *jobs = malloc(SL_OBS_JOBS_MAX * sizeof *jobs);
        sl_obs_node *node = malloc(sizeof *node);
        sl_bytebuf b = {0};
        if (!jobs || !node) {
            free(jobs);
            free(node);
            return MHD_NO;
        }
        int have_node = 0;
        size_t n = snapshot(w, jobs, node, &have_node);
        int json = url[1] == 'a';
        int rc = 0;
        if (json) {
            rc = sl_bytebuf_append(&b, "{\"node\":", 8);
            if (!rc)
                rc = sl_metrics_json_string(&b, have_node ? node->node : "");
            if (!rc)
                rc = sl_bytebuf_append(&b, ",\"jobs\":[", 9);
            for (size_t i = 0; i < n && !rc; i++) {
                if (i)
                    rc = sl_bytebuf_append(&b, ",", 1);
                if (!rc)
                    rc = sl_metrics_json(&jobs[i], &b);
            }
            if (!rc)
                rc = sl_bytebuf_append(&b, "]", 1);
            if (!rc && have_node)
                rc = sl_metrics_json_node(node, &b);
            if (!rc)
                rc = sl_bytebuf_append(&b, "}", 1);
        } else {
            pthread_mutex_lock(&w->render_mu); /* the renderer's label buffers */
            rc = sl_metrics_prometheus(jobs, n, have_node ? node : NULL, &b);
            pthread_mutex_unlock(&w->render_mu);
        }
        free(jobs);
        free(node);
        enum MHD_Result ok =
            rc ? reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n")
               : reply(c, MHD_HTTP_OK,
                       json ? "application/json" : "text/plain; version=0.0.4; charset=utf-8",
                       b.p ? (const char *)b.p : "", b.len);
        sl_bytebuf_free(&b);
        return ok;
    }
    const char *name = strcmp(url, "/") == 0 ? "index.html" : url + 1;
    for (const struct sl_web_file *f = sl_web_files; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return reply(c, MHD_HTTP_OK, mime(f->name), f->text, strlen(f->text));
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req)
{
    (void)version;
    (void)upload;
    static int seen;
    if (*req == NULL) { /* the headers: answer once the whole request is in */
        *req = &seen;
        return MHD_YES;
    }
    if (*upload_size) { /* a body is read and ignored */
        *upload_size = 0;
        return MHD_YES;
    }
    sl_webui *w = cls;
    static const char jobs[] = "/api/jobs/";
    if (strcmp(method, "POST") == 0 && strncmp(url, jobs, sizeof jobs - 1) == 0)
        return control(w, c, url + sizeof jobs - 1);
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return get(w, c, url);
    return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
}

int sl_webui_start(const char *addr, sl_webui **out, char *msg, size_t msglen)
{
    *out = NULL;
    const char *colon = strrchr(addr, ':');
    char host[64];
    char *end = NULL;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host || !colon[1] || *end ||
        port > 65535) {
        snprintf(msg, msglen, "--metrics %s: expected HOST:PORT, such as 127.0.0.1:9464", addr);
        return SL_EINVAL;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (strcmp(host, "localhost") == 0)
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(msg, msglen, "--metrics %s: \"%s\" is not an IPv4 address", addr, host);
        return SL_EINVAL;
    }
    sl_webui *w = calloc(1, sizeof *w);
    if (!w)
        return SL_ENOMEM;
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->render_mu, NULL);
    w->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, handle, w,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!w->d) {
        snprintf(msg, msglen, "--metrics %s: cannot listen there (in use, or not this host's)",
                 addr);
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&w->render_mu);
        free(w);
        return SL_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_BIND_PORT);
    w->port = info ? info->port : (uint16_t)port;
    *out = w;
    return 0;
}

uint16_t sl_webui_port(const sl_webui *w)
{
    return w->port;
}

void sl_webui_set_controls(sl_webui *w, volatile sig_atomic_t *stop, volatile sig_atomic_t *cancel)
{
    pthread_mutex_lock(&w->mu);
    w->stop = stop;
    w->cancel = cancel;
    pthread_mutex_unlock(&w->mu);
}

void sl_webui_publish(sl_webui *w, const sl_obs_job *j)
{
    double now = mono();
    pthread_mutex_lock(&w->mu);
    struct entry *e = find(w, j->name, strlen(j->name));
    if (!e) { /* a new job: a free entry, else the oldest one that is over */
        for (size_t i = 0; i < SL_OBS_JOBS_MAX && !e; i++)
            if (!w->jobs[i].used)
                e = &w->jobs[i];
        for (size_t i = 0; i < SL_OBS_JOBS_MAX && !e; i++)
            if (strcmp(w->jobs[i].job.state, "running") != 0)
                e = &w->jobs[i];
        if (!e)
            e = &w->jobs[0];
        memset(e, 0, sizeof *e);
        e->ckpt_at = -1;
    }
    double dt = now - e->base_at;
    if (!e->used || dt >= 0.5) { /* a new interval: rates over the one that ended */
        if (e->used && dt > 0) {
            e->rate = (double)(j->chain.engine[0].events_in - e->base_in) / dt;
            for (uint32_t s = 0; s < j->stages && s < SL_STAGES_MAX; s++) {
                double k = j->chain.engine[s].t_kernel - e->base_kernel[s];
                e->busy[s] = k > 0 ? k / dt : 0.0;
            }
        }
        e->base_at = now;
        e->base_in = j->chain.engine[0].events_in;
        for (uint32_t s = 0; s < j->stages && s < SL_STAGES_MAX; s++)
            e->base_kernel[s] = j->chain.engine[s].t_kernel;
    }
    if (j->checkpoints && j->ckpt.written > e->ckpt_written) {
        e->ckpt_written = j->ckpt.written;
        e->ckpt_at = now;
    }
    e->job = *j;
    e->job.rate_in = e->rate;
    memcpy(e->job.busy_ratio, e->busy, sizeof e->busy);
    e->job.ckpt_age_s = e->ckpt_at < 0 ? -1.0 : now - e->ckpt_at;
    e->used = 1;
    pthread_mutex_unlock(&w->mu);
}

void sl_webui_publish_node(sl_webui *w, const sl_obs_node *n)
{
    pthread_mutex_lock(&w->mu);
    w->node = *n;
    w->have_node = 1;
    pthread_mutex_unlock(&w->mu);
}

void sl_webui_note_bad(sl_webui *w, const char *job, uint64_t line, uint64_t column, uint64_t byte,
                       const char *reason)
{
    pthread_mutex_lock(&w->mu);
    struct entry *e = find(w, job, strlen(job));
    if (e) {
        if (e->nbad == SL_OBS_REASONS) {
            memmove(e->bad, e->bad + 1, (SL_OBS_REASONS - 1) * sizeof e->bad[0]);
            e->nbad--;
        }
        sl_obs_bad *b = &e->bad[e->nbad++];
        b->line = line;
        b->column = column;
        b->byte = byte;
        snprintf(b->reason, sizeof b->reason, "%s", reason);
    }
    pthread_mutex_unlock(&w->mu);
}

void sl_webui_stop(sl_webui **wp)
{
    if (!wp || !*wp)
        return;
    sl_webui *w = *wp;
    *wp = NULL;
    MHD_stop_daemon(w->d);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->render_mu);
    free(w);
}
