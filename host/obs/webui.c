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

struct sl_webui {
    struct MHD_Daemon *d;
    uint16_t port;
    pthread_mutex_t mu;
    int have;       /* a snapshot was published */
    sl_obs_job job; /* the latest, with the interval figures filled in */
    /* the interval figures: events and kernel seconds at the interval's start (base_at,
     * monotonic seconds), and the rates over the last whole interval */
    double base_at;
    uint64_t base_in;
    double base_kernel[SL_STAGES_MAX];
    double rate, busy[SL_STAGES_MAX];
    uint64_t ckpt_written; /* checkpoints seen written, and when the count last went up */
    double ckpt_at;        /* (< 0: never) */
    uint32_t nbad;         /* reasons in bad[], oldest first */
    sl_obs_bad bad[SL_OBS_REASONS];
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

/* The latest snapshot, or 0 when none was published yet. */
static int snapshot(sl_webui *w, sl_obs_job *j)
{
    pthread_mutex_lock(&w->mu);
    int have = w->have;
    if (have) {
        *j = w->job;
        j->nbad = w->nbad;
        memcpy(j->bad, w->bad, sizeof j->bad);
    }
    pthread_mutex_unlock(&w->mu);
    return have;
}

/* POST /api/jobs/NAME/stop or /cancel. */
static enum MHD_Result control(sl_webui *w, struct MHD_Connection *c, const char *rest)
{
    const char *slash = strrchr(rest, '/');
    if (!slash)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "no such job action\n");
    sl_obs_job *j = malloc(sizeof *j);
    if (!j)
        return MHD_NO;
    int have = snapshot(w, j);
    size_t nlen = (size_t)(slash - rest);
    int known = have && strlen(j->name) == nlen && strncmp(j->name, rest, nlen) == 0;
    free(j);
    if (!known)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "no such job\n");
    volatile sig_atomic_t *flag = NULL;
    if (strcmp(slash + 1, "stop") == 0)
        flag = w->stop;
    else if (strcmp(slash + 1, "cancel") == 0)
        flag = w->cancel;
    else
        return reply_text(c, MHD_HTTP_NOT_FOUND, "no such job action\n");
    if (!flag)
        return reply_text(c, MHD_HTTP_CONFLICT, "this job cannot be stopped from here\n");
    /* The run reads these flags between reads, as it does after SIGINT and SIGTERM. A stop
     * ends the input and writes the final rows; a cancel gives the run up. */
    if (flag == w->cancel && w->stop)
        *w->stop = 1;
    *flag = 1;
    const char ok[] = "{\"ok\":true}";
    return reply(c, MHD_HTTP_ACCEPTED, "application/json", ok, sizeof ok - 1);
}

static enum MHD_Result get(sl_webui *w, struct MHD_Connection *c, const char *url)
{
    if (strcmp(url, "/metrics") == 0 || strcmp(url, "/api/jobs") == 0) {
        sl_obs_job *j = malloc(sizeof *j);
        sl_bytebuf b = {0};
        if (!j)
            return MHD_NO;
        int have = snapshot(w, j);
        int json = url[1] == 'a';
        int rc = 0;
        if (json) {
            rc = sl_bytebuf_append(&b, "{\"jobs\":[", 9);
            if (!rc && have)
                rc = sl_metrics_json(j, &b);
            if (!rc)
                rc = sl_bytebuf_append(&b, "]}", 2);
        } else if (have) {
            rc = sl_metrics_prometheus(j, &b);
        }
        free(j);
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
    w->ckpt_at = -1;
    w->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, handle, w,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!w->d) {
        snprintf(msg, msglen, "--metrics %s: cannot listen there (in use, or not this host's)",
                 addr);
        pthread_mutex_destroy(&w->mu);
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
    double dt = now - w->base_at;
    if (!w->have || dt >= 0.5) { /* a new interval: rates over the one that ended */
        if (w->have && dt > 0) {
            w->rate = (double)(j->chain.engine[0].events_in - w->base_in) / dt;
            for (uint32_t s = 0; s < j->stages && s < SL_STAGES_MAX; s++) {
                double k = j->chain.engine[s].t_kernel - w->base_kernel[s];
                w->busy[s] = k > 0 ? k / dt : 0.0;
            }
        }
        w->base_at = now;
        w->base_in = j->chain.engine[0].events_in;
        for (uint32_t s = 0; s < j->stages && s < SL_STAGES_MAX; s++)
            w->base_kernel[s] = j->chain.engine[s].t_kernel;
    }
    if (j->checkpoints && j->ckpt.written > w->ckpt_written) {
        w->ckpt_written = j->ckpt.written;
        w->ckpt_at = now;
    }
    w->job = *j;
    w->job.rate_in = w->rate;
    memcpy(w->job.busy_ratio, w->busy, sizeof w->busy);
    w->job.ckpt_age_s = w->ckpt_at < 0 ? -1.0 : now - w->ckpt_at;
    w->have = 1;
    pthread_mutex_unlock(&w->mu);
}

void sl_webui_note_bad(sl_webui *w, uint64_t line, uint64_t column, uint64_t byte,
                       const char *reason)
{
    pthread_mutex_lock(&w->mu);
    if (w->nbad == SL_OBS_REASONS) {
        memmove(w->bad, w->bad + 1, (SL_OBS_REASONS - 1) * sizeof w->bad[0]);
        w->nbad--;
    }
    sl_obs_bad *b = &w->bad[w->nbad++];
    b->line = line;
    b->column = column;
    b->byte = byte;
    snprintf(b->reason, sizeof b->reason, "%s", reason);
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
    free(w);
}
