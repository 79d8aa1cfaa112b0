/* The Redis baseline; see redisbase.h. */
#include "redisbase.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "err.h"
#include "reference.h"

struct rb_server {
    pid_t pid;
    int port;
    redisContext *c;
    char version[32];
    char log_path[1024];
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick for port 0). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t al = sizeof a;
    int port = -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Waits for the child up to ms; returns 1 when it was reaped (status in *st). */
static int reap(pid_t pid, int ms, int *st)
{
    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid(pid, st, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return 1;
        if (waited >= ms)
            return 0;
        sleep_ms(10);
    }
}

/* The last line of the server's log, for error messages. */
static void log_tail(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    char line[512];
    snprintf(out, len, "(no log)");
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        if (line[0] != '\n') {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, len, "%s", line);
        }
    fclose(f);
}

int rb_start(const char *exe, const char *log_path, rb_server **out, char *msg, size_t msglen)
{
    rb_server *s = calloc(1, sizeof *s);
    char port[16], tail[512];
    if (!s) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    snprintf(s->log_path, sizeof s->log_path, "%s", log_path);
    s->port = free_port();
    if (s->port <= 0) {
        snprintf(msg, msglen, "no free TCP port on 127.0.0.1: %s", strerror(errno));
        free(s);
        return SL_EIO;
    }
    snprintf(port, sizeof port, "%d", s->port);
    const char *dir = getenv("TMPDIR");
    dir = dir && dir[0] ? dir : "/tmp";
    pid_t parent = getpid();
    s->pid = fork();
    if (s->pid < 0) {
        snprintf(msg, msglen, "fork: %s", strerror(errno));
        free(s);
        return SL_EIO;
    }
    if (s->pid == 0) {
        /* the child: never outlive the bench; log to the file; exec the server */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int nul = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        if (nul >= 0)
            dup2(nul, STDIN_FILENO);
        execlp(exe, exe, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--daemonize", "no", "--dir", dir, (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    /* wait until it answers PING */
    double deadline = bc_now_s() + 10;
    while (bc_now_s() < deadline) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            log_tail(log_path, tail, sizeof tail);
            snprintf(msg, msglen, "%s exited before answering (port %d): %s", exe, s->port, tail);
            free(s);
            return SL_EIO;
        }
        struct timeval tv = {1, 0};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS;
            freeReplyObject(r);
            if (ok) {
                s->c = c;
                break;
            }
        }
        if (c)
            redisFree(c);
        sleep_ms(20);
    }
    if (!s->c) {
        log_tail(log_path, tail, sizeof tail);
        snprintf(msg, msglen, "%s on port %d did not answer PING within 10 s: %s", exe, s->port,
                 tail);
        rb_stop(&s, tail, sizeof tail);
        return SL_EIO;
    }
    struct timeval tv = {60, 0};
    redisSetTimeout(s->c, tv);
    redisReply *r = redisCommand(s->c, "INFO server");
    snprintf(s->version, sizeof s->version, "unknown");
    if (r && r->type == REDIS_REPLY_STRING && r->str) {
        const char *v = strstr(r->str, "redis_version:");
        if (v)
            snprintf(s->version, sizeof s->version, "%.*s", (int)strcspn(v + 14, "\r\n"), v + 14);
    }
    freeReplyObject(r);
    *out = s;
    return 0;
}

int rb_stop(rb_server **sp, char *msg, size_t msglen)
{
    if (!sp || !*sp)
        return 0;
    rb_server *s = *sp;
    int rc = 0, st = 0;
    if (s->c)
        redisFree(s->c);
    kill(s->pid, SIGTERM);
    if (!reap(s->pid, 10000, &st)) {
        kill(s->pid, SIGKILL);
        reap(s->pid, 5000, &st);
        snprintf(msg, msglen, "redis-server (pid %ld) ignored SIGTERM for 10 s: killed",
                 (long)s->pid);
        rc = SL_EIO;
    } else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) &&
               !(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)) {
        snprintf(msg, msglen, "redis-server (pid %ld) ended with status %d", (long)s->pid, st);
        rc = SL_EIO;
    }
    free(s);
    *sp = NULL;
    return rc;
}

const char *rb_version(const rb_server *s)
{
    return s->version;
}

int rb_port(const rb_server *s)
{
    return s->port;
}

double rb_cpu_s(const rb_server *s)
{
    return bc_proc_cpu_s((long)s->pid);
}

double rb_peak_mb(const rb_server *s)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)s->pid);
    FILE *f = fopen(path, "r");
    double mb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            mb = strtod(line + 6, NULL) / 1024.0;
    fclose(f);
    return mb;
}

static int reply_err(rb_server *s, redisReply *r, const char *what, char *msg, size_t msglen)
{
    snprintf(msg, msglen, "redis: %s: %s", what,
             s->c->err     ? s->c->errstr
             : r && r->str ? r->str
                           : "unexpected reply");
    freeReplyObject(r);
    return SL_EIO;
}

int rb_flush(rb_server *s, char *msg, size_t msglen)
{
    redisReply *r = redisCommand(s->c, "FLUSHALL");
    if (!r || r->type != REDIS_REPLY_STATUS)
        return reply_err(s, r, "FLUSHALL", msg, msglen);
    freeReplyObject(r);
    return 0;
}

/* ---- pipelining: commands gathered into batches; batch k is sent before the replies of
 * batch k - 1 are read, so the server always has work queued ---- */

struct pipe {
    rb_server *s;
    char *buf;
    size_t len, cap;
    size_t cmds, pipeline, inflight;
    char *msg;
    size_t msglen;
};

static int pipe_read(struct pipe *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        void *rv = NULL;
        if (redisGetReply(p->s->c, &rv) != REDIS_OK)
            return reply_err(p->s, NULL, "HINCRBY", p->msg, p->msglen);
        redisReply *r = rv;
        if (r->type != REDIS_REPLY_INTEGER)
            return reply_err(p->s, r, "HINCRBY", p->msg, p->msglen);
        freeReplyObject(r);
    }
    return 0;
}

static int pipe_send(struct pipe *p)
{
    if (p->cmds == 0)
        return 0;
    if (redisAppendFormattedCommand(p->s->c, p->buf, p->len) != REDIS_OK)
        return reply_err(p->s, NULL, "append", p->msg, p->msglen);
    int rc = pipe_read(p, p->inflight);
    p->inflight = p->cmds;
    p->cmds = 0;
    p->len = 0;
    return rc;
}

static int pipe_drain(struct pipe *p)
{
    int rc = pipe_send(p);
    if (rc == 0)
        rc = pipe_read(p, p->inflight);
    p->inflight = 0;
    return rc;
}

static const char hexd[] = "0123456789abcdef";

static char *put_hex16(char *o, uint64_t k)
{
    for (int i = 15; i >= 0; i--) {
        o[i] = hexd[k & 15];
        k >>= 4;
    }
    return o + 16;
}

/* HINCRBY <name> <16 hex of key> <by>, RESP-encoded into the batch (names are 1 byte). */
static int pipe_hincr(struct pipe *p, char name, uint64_t key, int by)
{
    char *o = p->buf + p->len;
    memcpy(o, "*4\r\n$7\r\nHINCRBY\r\n$1\r\n", 21);
    o += 21;
    *o++ = name;
    memcpy(o, "\r\n$16\r\n", 7);
    o += 7;
    o = put_hex16(o, key);
    memcpy(o, by ? "\r\n$1\r\n1\r\n" : "\r\n$1\r\n0\r\n", 9);
    o += 9;
    p->len = (size_t)(o - p->buf);
    return ++p->cmds == p->pipeline ? pipe_send(p) : 0;
}

static int pipe_init(struct pipe *p, rb_server *s, size_t pipeline, size_t cmd_max, char *msg,
                     size_t msglen)
{
    memset(p, 0, sizeof *p);
    p->s = s;
    p->pipeline = pipeline ? pipeline : 1;
    p->cap = p->pipeline * cmd_max;
    p->buf = malloc(p->cap);
    p->msg = msg;
    p->msglen = msglen;
    if (!p->buf) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    return 0;
}

/* HGETALL `name`: field (hex key, or decimal when dec) -> integer, into growing arrays. */
static int hgetall(rb_server *s, const char *name, int dec, uint64_t **keys, int64_t **vals,
                   size_t *n, char *msg, size_t msglen)
{
    redisReply *r = redisCommand(s->c, "HGETALL %s", name);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return reply_err(s, r, "HGETALL", msg, msglen);
    size_t m = r->elements / 2;
    uint64_t *k = realloc(*keys, (*n + m + 1) * sizeof *k);
    if (k)
        *keys = k;
    int64_t *v = realloc(*vals, (*n + m + 1) * sizeof *v);
    if (v)
        *vals = v;
    if (!k || !v) {
        freeReplyObject(r);
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < m; i++) {
        const redisReply *f = r->element[2 * i], *x = r->element[2 * i + 1];
        if (f->type != REDIS_REPLY_STRING || x->type != REDIS_REPLY_STRING) {
            freeReplyObject(r);
            snprintf(msg, msglen, "redis: HGETALL %s: unexpected element types", name);
            return SL_EIO;
        }
        k[*n] = dec ? (uint64_t)strtoll(f->str, NULL, 10) : strtoull(f->str, NULL, 16);
        v[*n] = strtoll(x->str, NULL, 10);
        (*n)++;
    }
    freeReplyObject(r);
    return 0;
}

struct kv {
    uint64_t key;
    int64_t v;
    int which;
};

static int cmp_kv(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

int rb_ctr(rb_server *s, const sl_rec *recs, size_t n, size_t pipeline, sl_row **rows,
           size_t *nrows, double *t_count, double *t_read, char *msg, size_t msglen)
{
    struct pipe p;
    int rc = pipe_init(&p, s, pipeline, 64, msg, msglen);
    if (rc)
        return rc;
    double t0 = bc_now_s();
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint32_t ty = recs[i].type;
        rc = pipe_hincr(&p, ty == SL_EV_CLICK ? 'c' : 'v', recs[i].key,
                        ty == SL_EV_VIEW || ty == SL_EV_CLICK);
    }
    if (rc == 0)
        rc = pipe_drain(&p);
    free(p.buf);
    double t1 = bc_now_s();
    *t_count = t1 - t0;
    if (rc)
        return rc;
    uint64_t *keys = NULL;
    int64_t *vals = NULL;
    size_t nv = 0, nall = 0;
    if ((rc = hgetall(s, "v", 0, &keys, &vals, &nv, msg, msglen)) == 0) {
        nall = nv;
        rc = hgetall(s, "c", 0, &keys, &vals, &nall, msg, msglen);
    }
    struct kv *kv = rc == 0 ? malloc((nall + 1) * sizeof *kv) : NULL;
    if (rc == 0 && !kv) {
        snprintf(msg, msglen, "out of memory");
        rc = SL_ENOMEM;
    }
    if (rc == 0) {
        for (size_t i = 0; i < nall; i++)
            kv[i] = (struct kv){keys[i], vals[i], i >= nv};
        qsort(kv, nall, sizeof *kv, cmp_kv);
        sl_row *out = malloc((nall + 1) * sizeof *out);
        size_t m = 0;
        if (!out) {
            snprintf(msg, msglen, "out of memory");
            rc = SL_ENOMEM;
        }
        for (size_t i = 0; rc == 0 && i < nall; i++) {
            if (m == 0 || out[m - 1].key != kv[i].key)
                out[m++] = (sl_row){.key = kv[i].key};
            out[m - 1].v[kv[i].which] = (double)kv[i].v;
        }
        for (size_t i = 0; rc == 0 && i < m; i++)
            out[i].v[2] = out[i].v[0] != 0 ? out[i].v[1] / out[i].v[0] : 0.0;
        if (rc == 0) {
            *rows = out;
            *nrows = m;
        }
    }
    free(kv);
    free(keys);
    free(vals);
    *t_read = bc_now_s() - t1;
    return rc;
}

/* HINCRBY ysb:<campaign> <window start> 1 */
static int ysb_cmd(void *ud, uint64_t campaign, int64_t window_start)
{
    struct pipe *p = ud;
    char w[24];
    int wl = snprintf(w, sizeof w, "%lld", (long long)window_start);
    char *o = p->buf + p->len;
    memcpy(o, "*4\r\n$7\r\nHINCRBY\r\n$20\r\nysb:", 26);
    o += 26;
    o = put_hex16(o, campaign);
    o += sprintf(o, "\r\n$%d\r\n%s\r\n$1\r\n1\r\n", wl, w);
    p->len = (size_t)(o - p->buf);
    return ++p->cmds == p->pipeline ? pipe_send(p) : 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int rb_ysb(rb_server *s, bl_ws *ws, const char *text, size_t len, const bl_join *join,
           const uint64_t *campaigns, size_t ncamp, int64_t window_ms, size_t pipeline,
           sl_row **rows, size_t *nrows, double *t_count, double *t_read, char *msg, size_t msglen)
{
    struct pipe p;
    bl_ysb_stats st;
    int rc = pipe_init(&p, s, pipeline, 96, msg, msglen);
    if (rc)
        return rc;
    double t0 = bc_now_s();
    rc = bl_ysb_each(ws, text, len, join, window_ms, ysb_cmd, &p, &st);
    if (rc == 0)
        rc = pipe_drain(&p);
    else if (rc == SL_ENOMEM)
        snprintf(msg, msglen, "out of memory");
    free(p.buf);
    double t1 = bc_now_s();
    *t_count = t1 - t0;
    if (rc)
        return rc;
    /* read back every campaign's hash */
    uint64_t *camps = malloc((ncamp + 1) * sizeof *camps), *keys = NULL;
    int64_t *vals = NULL;
    size_t nc = 0, nk = 0;
    if (!camps) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    memcpy(camps, campaigns, ncamp * sizeof *camps);
    qsort(camps, ncamp, sizeof *camps, cmp_u64);
    for (size_t i = 0; i < ncamp; i++)
        if (nc == 0 || camps[nc - 1] != camps[i])
            camps[nc++] = camps[i];
    sl_row *out = NULL;
    size_t m = 0;
    for (size_t i = 0; i < nc && rc == 0; i++) {
        char name[32] = "ysb:";
        put_hex16(name + 4, camps[i])[0] = '\0';
        size_t before = nk;
        rc = hgetall(s, name, 1, &keys, &vals, &nk, msg, msglen);
        if (rc)
            break;
        sl_row *g = realloc(out, (nk + 1) * sizeof *out);
        if (!g) {
            snprintf(msg, msglen, "out of memory");
            rc = SL_ENOMEM;
            break;
        }
        out = g;
        for (size_t j = before; j < nk; j++)
            out[m++] =
                (sl_row){.key = camps[i], .window_start = (int64_t)keys[j], .v = {(double)vals[j]}};
    }
    free(camps);
    free(keys);
    free(vals);
    if (rc) {
        free(out);
        return rc;
    }
    qsort(out, m, sizeof *out, sl_row_cmp_key);
    *rows = out;
    *nrows = m;
    *t_read = bc_now_s() - t1;
    return 0;
}
