/* Node 0's job registry; see registry.h. */
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "sock.h"

#define JOBS_MAX 64                       /* jobs remembered; the oldest ended one makes room */
#define CANCEL_GRACE_US UINT64_C(5000000) /* a cancelled driver still there then gets SIGKILL */

enum state { RUNNING, STOPPING, CANCELLING, DONE, FAILED, CANCELLED };
static const char *const state_name[] = {"running", "stopping", "cancelling",
                                         "done",    "failed",   "cancelled"};

struct rjob {
    uint32_t id;
    pid_t pid;
    enum state st;
    int status; /* exit status (128 + signal when killed), once ended */
    time_t started, ended;
    uint64_t cancel_at_us;
    char topo[256];
    char dir[4352];
};

struct sl_registry {
    char exe[4096];
    char cluster[4096];
    char state[4200]; /* cluster + ".jobs" */
    int quiet;
    uint32_t next_seed;
    struct rjob job[JOBS_MAX];
    int n;
};

int sl_registry_new(const char *exe, const char *cluster_path, int quiet, sl_registry **out)
{
    sl_registry *r = calloc(1, sizeof *r);
    if (!r)
        return SL_ENOMEM;
    snprintf(r->exe, sizeof r->exe, "%s", exe);
    snprintf(r->cluster, sizeof r->cluster, "%s", cluster_path);
    snprintf(r->state, sizeof r->state, "%s.jobs", cluster_path);
    r->quiet = quiet;
    r->next_seed = (uint32_t)getpid() * 2654435761u ^ (uint32_t)sl_net_now_us();
    *out = r;
    return 0;
}

static int alive(const struct rjob *j)
{
    return j->st == RUNNING || j->st == STOPPING || j->st == CANCELLING;
}

int sl_registry_running(const sl_registry *r)
{
    int k = 0;
    for (int i = 0; r && i < r->n; i++)
        k += alive(&r->job[i]);
    return k;
}

static void rlog(const sl_registry *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rlog(const sl_registry *r, const char *fmt, ...)
{
    if (r->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "node 0: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void settle(sl_registry *r, struct rjob *j, int wst)
{
    j->status = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
    j->ended = time(NULL);
    j->st = j->st == CANCELLING ? CANCELLED : j->status == 0 ? DONE : FAILED;
    rlog(r, "submitted job %u %s (driver exit status %d)", j->id, state_name[j->st], j->status);
}

void sl_registry_poll(sl_registry *r)
{
    uint64_t now = sl_net_now_us();
    for (int i = 0; i < r->n; i++) {
        struct rjob *j = &r->job[i];
        if (!alive(j))
            continue;
        int wst;
        pid_t p = waitpid(j->pid, &wst, WNOHANG);
        if (p == j->pid) {
            settle(r, j, wst);
        } else if (p < 0 && errno == ECHILD) {
            j->status = -1;
            j->st = j->st == CANCELLING ? CANCELLED : FAILED;
        } else if (j->st == CANCELLING && now >= j->cancel_at_us) {
            kill(j->pid, SIGKILL);
            j->cancel_at_us = UINT64_MAX;
        }
    }
}

static void signal_job(struct rjob *j, int cancel)
{
    if (cancel) {
        /* two different signals stay pending together: the driver counts two stops */
        kill(j->pid, SIGINT);
        kill(j->pid, SIGTERM);
        j->st = CANCELLING;
        j->cancel_at_us = sl_net_now_us() + CANCEL_GRACE_US;
    } else if (j->st == RUNNING) {
        kill(j->pid, SIGINT);
        j->st = STOPPING;
    }
}

void sl_registry_stop_all(sl_registry *r, int cancel)
{
    for (int i = 0; i < r->n; i++)
        if (alive(&r->job[i]) && (cancel || r->job[i].st == RUNNING))
            signal_job(&r->job[i], cancel);
}

void sl_registry_destroy(sl_registry **rp)
{
    sl_registry *r = *rp;
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) {
        struct rjob *j = &r->job[i];
        if (!alive(j))
            continue;
        kill(j->pid, SIGKILL);
        int wst;
        if (waitpid(j->pid, &wst, 0) == j->pid) {
            j->st = CANCELLING;
            settle(r, j, wst);
        }
    }
    free(r);
    *rp = NULL;
}

static struct rjob *find(sl_registry *r, const char *arg, char *out, size_t outlen)
{
    char *end;
    errno = 0;
    unsigned long id = strtoul(arg, &end, 10);
    if (errno || end == arg || *end || id == 0 || id > 0xffffff) {
        snprintf(out, outlen, "\"%s\" is not a job id (a number from 'sluice job list')", arg);
        return NULL;
    }
    for (int i = 0; i < r->n; i++)
        if (r->job[i].id == id)
            return &r->job[i];
    snprintf(out, outlen, "no job %lu in the registry of node 0 ('sluice job list' shows them)",
             id);
    return NULL;
}

/* mkdir that accepts an existing folder. */
static int mkdir_ok(const char *p)
{
    return mkdir(p, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* Writes len bytes of text to dir/name (name relative, no "..", subfolders made). Returns 0, or
 * -1 with the reason in out. */
static int write_file(const char *dir, const char *name, const char *text, size_t len, char *out,
                      size_t outlen)
{
    if (!name[0] || name[0] == '/' || strstr(name, "..") || strcmp(name, "log") == 0 ||
        strcmp(name, "stdout") == 0) {
        snprintf(out, outlen,
                 "file name \"%s\" refused: a submitted file must be named relative "
                 "to its topology, without \"..\"",
                 name);
        return -1;
    }
    char p[4800];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    for (char *s = p + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        int e = mkdir_ok(p);
        *s = '/';
        if (e) {
            snprintf(out, outlen, "cannot make a folder for %s: %s", p, strerror(errno));
            return -1;
        }
    }
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        snprintf(out, outlen, "cannot write %s: %s", p, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    return 0;
}

/* A free slot for a new job: a new one, or the oldest ended job's. NULL when every remembered
 * job still runs. */
static struct rjob *new_slot(sl_registry *r)
{
    if (r->n < JOBS_MAX)
        return &r->job[r->n++];
    struct rjob *old = NULL;
    for (int i = 0; i < r->n; i++)
        if (!alive(&r->job[i]) && (!old || r->job[i].ended < old->ended))
            old = &r->job[i];
    return old;
}

static int submit(sl_registry *r, const sl_jobctl_req *q, char *out, size_t outlen)
{
    struct rjob *j = new_slot(r);
    if (!j) {
        snprintf(out, outlen, "%d submitted jobs are running: stop one first", JOBS_MAX);
        return SL_ERANGE;
    }
    memset(j, 0, sizeof *j);
    uint32_t id;
    for (;;) {
        r->next_seed = r->next_seed * 1664525u + 1013904223u;
        id = (r->next_seed >> 8) & 0xffffffu;
        int used = id == 0;
        for (int i = 0; i < r->n; i++)
            used |= &r->job[i] != j && r->job[i].id == id;
        if (!used)
            break;
    }
    j->id = id;
    j->st = FAILED; /* until the driver runs */
    j->status = -1;
    j->started = j->ended = time(NULL);
    snprintf(j->topo, sizeof j->topo, "%s", q->arg);
    snprintf(j->dir, sizeof j->dir, "%s/%u", r->state, id);
    if (mkdir_ok(r->state) || mkdir_ok(j->dir)) {
        snprintf(out, outlen, "cannot make the job's folder %s: %s", j->dir, strerror(errno));
        j->id = 0;
        return SL_EIO;
    }
    if (write_file(j->dir, "topology.yaml", q->topo, q->topo_len, out, outlen)) {
        j->id = 0;
        return SL_EIO;
    }
    for (uint32_t i = 0; i < q->nfiles; i++)
        if (strcmp(q->fname[i], "topology.yaml") == 0 ||
            write_file(j->dir, q->fname[i], q->ftext[i], q->flen[i], out, outlen)) {
            if (strcmp(q->fname[i], "topology.yaml") == 0)
                snprintf(out, outlen, "a join table may not be named topology.yaml");
            j->id = 0;
            return SL_EPARSE;
        }
    char idtext[16], log[4400], so[4400];
    snprintf(idtext, sizeof idtext, "%u", id);
    snprintf(log, sizeof log, "%s/log", j->dir);
    snprintf(so, sizeof so, "%s/stdout", j->dir);
    char *argv[] = {r->exe,     "run",      "topology.yaml", "--cluster",
                    r->cluster, "--job-id", idtext,          NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(out, outlen, "cannot start the job's driver: %s", strerror(errno));
        j->id = 0;
        return SL_EIO;
    }
    if (pid == 0) {
        /* the child of a threaded process: async-signal-safe calls only, until exec */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL); /* the node blocks SIGINT and SIGTERM */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        setpgid(0, 0); /* a Ctrl-C at node 0's terminal reaches node 0, which stops its drivers */
        int in = open("/dev/null", O_RDONLY), lf = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600),
            of = open(so, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in < 0 || lf < 0 || of < 0 || chdir(j->dir) != 0)
            _exit(127);
        dup2(in, 0);
        dup2(of, 1);
        dup2(lf, 2);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        execv(r->exe, argv);
        _exit(127);
    }
    j->pid = pid;
    j->st = RUNNING;
    rlog(r, "submitted job %u (%s): driver pid %ld, log %s", id, j->topo, (long)pid, log);
    snprintf(out, outlen, "submitted job %u (%s; log %s on node 0's machine): %u", id, j->topo, log,
             id);
    return 0;
}

/* The last non-empty line of the job's log into buf ("" when none). */
static void last_line(const struct rjob *j, char *buf, size_t len)
{
    char p[4400];
    buf[0] = '\0';
    snprintf(p, sizeof p, "%s/log", j->dir);
    FILE *f = fopen(p, "rb");
    if (!f)
        return;
    char tail[1000];
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    long from = sz > (long)sizeof tail - 1 ? sz - (long)sizeof tail + 1 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(tail, 1, sizeof tail - 1, f);
    fclose(f);
    while (n && (tail[n - 1] == '\n' || tail[n - 1] == '\r' || tail[n - 1] == ' '))
        n--;
    tail[n] = '\0';
    char *nl = strrchr(tail, '\n');
    snprintf(buf, len, "%s", nl ? nl + 1 : tail);
}

static void when(time_t t, char *buf, size_t len)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

int sl_registry_request(sl_registry *r, const sl_jobctl_req *q, char *out, size_t outlen)
{
    sl_registry_poll(r);
    if (strcmp(q->verb, "submit") == 0)
        return submit(r, q, out, outlen);
    if (strcmp(q->verb, "list") == 0) {
        size_t o = (size_t)snprintf(out, outlen, "%-9s %-10s %-19s %s\n", "ID", "STATE", "STARTED",
                                    "TOPOLOGY");
        for (int i = 0; i < r->n && o < outlen; i++) {
            const struct rjob *j = &r->job[i];
            if (!j->id)
                continue;
            char t[32];
            when(j->started, t, sizeof t);
            o += (size_t)snprintf(out + o, outlen - o, "%-9u %-10s %-19s %s\n", j->id,
                                  state_name[j->st], t, j->topo);
        }
        return 0;
    }
    struct rjob *j = find(r, q->arg, out, outlen);
    if (!j)
        return SL_EINVAL;
    if (strcmp(q->verb, "status") == 0) {
        char t[32], e[32] = "", line[1024];
        when(j->started, t, sizeof t);
        if (!alive(j))
            when(j->ended, e, sizeof e);
        last_line(j, line, sizeof line);
        size_t o = (size_t)snprintf(out, outlen, "job %u: %s\ntopology: %s\nstarted: %s\n", j->id,
                                    state_name[j->st], j->topo, t);
        if (alive(j))
            o += (size_t)snprintf(out + o, outlen - o, "driver: pid %ld on node 0's machine\n",
                                  (long)j->pid);
        else
            o +=
                (size_t)snprintf(out + o, outlen - o, "ended: %s\nexit status: %d\n", e, j->status);
        if (o < outlen)
            o += (size_t)snprintf(out + o, outlen - o, "folder: %s (log, stdout)\n", j->dir);
        if (o < outlen && line[0])
            snprintf(out + o, outlen - o, "last log line: %s\n", line);
        return 0;
    }
    int cancel = strcmp(q->verb, "cancel") == 0;
    if (!cancel && strcmp(q->verb, "stop") != 0) {
        snprintf(out, outlen, "unknown job command \"%s\"", q->verb);
        return SL_EINVAL;
    }
    if (!alive(j) || (!cancel && j->st != RUNNING)) {
        snprintf(out, outlen, "job %u is %s already", j->id, state_name[j->st]);
        return SL_ECONFLICT;
    }
    signal_job(j, cancel);
    rlog(r, "submitted job %u: %s", j->id, cancel ? "cancelling" : "stopping (draining)");
    snprintf(out, outlen, "job %u: %s\n", j->id,
             cancel ? "cancelling: the nodes drop it now"
                    : "stopping: its input ends, its final "
                      "rows are written, then it is done");
    return 0;
}
