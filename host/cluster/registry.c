/* Node 0's job registry; see registry.h. */
#include "registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

#include "config.h"
#include "err.h"
#include "sock.h"
#include "zk.h"

#define JOBS_MAX 64                       /* jobs remembered; the oldest ended one makes room */
#define CANCEL_GRACE_US UINT64_C(5000000) /* a cancelled driver still there then gets SIGKILL */

enum state { RUNNING, STOPPING, CANCELLING, DONE, FAILED, CANCELLED, LOST, NSTATES };
static const char *const state_name[] = {"running", "stopping",  "cancelling", "done",
                                         "failed",  "cancelled", "lost"};

struct rjob {
    uint32_t id;
    pid_t pid;
    enum state st;
    int status; /* exit status (128 + signal when killed), once ended */
    time_t started, ended;
    uint64_t cancel_at_us;
    char topo[256];
    char dir[4352];
    int zk_dirty; /* its record in ZooKeeper is behind (written again by sl_registry_poll) */
    uint64_t restart_at_us; /* pid 0: its driver starts again (--resume) then */
};

struct sl_registry {
    char exe[4096];
    char cluster[4096];
    char state[4200]; /* cluster + ".jobs" */
    int quiet;
    uint32_t node;             /* the node keeping this registry (0 without ZooKeeper) */
    sl_zk *zk;                 /* with ZooKeeper: records in ZROOT/jobs/ID too; NULL without */
    char zroot[300];           /* the cluster's root znode */
    uint32_t restart_delay_ms; /* a new coordinator's wait before it starts drivers again */
    uint64_t epoch;            /* with ZooKeeper: the coordinator's, given to its drivers */
    uint32_t next_seed;
    struct rjob job[JOBS_MAX];
    int n;
};

static void load_jobs(sl_registry *r);
static void load_jobs_zk(sl_registry *r);
static int start_driver(sl_registry *r, struct rjob *j, int resume, const char *from, char *out,
                        size_t outlen);
static int restore_folder(const sl_registry *r, const struct rjob *j);

static sl_registry *make(const char *exe, const char *cluster_path, int quiet)
{
    sl_registry *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->exe, sizeof r->exe, "%s", exe);
    snprintf(r->cluster, sizeof r->cluster, "%s", cluster_path);
    snprintf(r->state, sizeof r->state, "%s.jobs", cluster_path);
    r->quiet = quiet;
    r->next_seed = (uint32_t)getpid() * 2654435761u ^ (uint32_t)sl_net_now_us();
    return r;
}

int sl_registry_new(const char *exe, const char *cluster_path, int quiet, sl_registry **out)
{
    sl_registry *r = make(exe, cluster_path, quiet);
    if (!r)
        return SL_ENOMEM;
    load_jobs(r);
    *out = r;
    return 0;
}

int sl_registry_new_zk(const char *exe, const char *cluster_path, int quiet, uint32_t node,
                       sl_zk *zk, const char *root, uint32_t restart_delay_ms, uint64_t epoch,
                       sl_registry **out)
{
    sl_registry *r = make(exe, cluster_path, quiet);
    if (!r)
        return SL_ENOMEM;
    r->restart_delay_ms = restart_delay_ms;
    r->epoch = epoch;
    r->node = node;
    r->zk = zk;
    snprintf(r->zroot, sizeof r->zroot, "%s", root);
    r->next_seed ^= node * 0x9e3779b9u;
    load_jobs_zk(r);
    *out = r;
    return 0;
}

static int alive_state(enum state st)
{
    return st == RUNNING || st == STOPPING || st == CANCELLING;
}

static int alive(const struct rjob *j)
{
    return alive_state(j->st);
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
    fprintf(stderr, "node %u: ", r->node);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- the job's record in its folder: STATE/ID/state ---- */

/* Writes text to dir/name through dir/name.tmp and a rename, so that a reader (or a node 0
 * that died while writing) sees the old file or the new one, whole. Returns 0 or -1 (errno). */
static int write_atomic(const char *dir, const char *name, const char *text)
{
    char p[4400], tmp[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok; /* the state outlives a crash of the machine too */
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, p) != 0) {
        int e = errno;
        remove(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

/* j's record in ZooKeeper: ZROOT/jobs/ID holds the state file's lines, the folder and the node
 * keeping it. Returns 0, or -1 (j->zk_dirty set: sl_registry_poll writes it again). */
static int save_zk(const sl_registry *r, struct rjob *j, const char *text)
{
    char path[400], msg[512], rec[1400];
    snprintf(path, sizeof path, "%s/jobs/%u", r->zroot, j->id);
    int n = snprintf(rec, sizeof rec, "%sdir %s\nnode %u\n", text, j->dir, r->node);
    j->zk_dirty = 1;
    if (n < 0 || (size_t)n >= sizeof rec || sl_zk_state(r->zk) != SL_ZK_CONNECTED)
        return -1;
    if (sl_zk_put(r->zk, path, rec, (size_t)n, msg, sizeof msg)) {
        rlog(r, "job %u: its record in ZooKeeper waits: %s", j->id, msg);
        return -1;
    }
    j->zk_dirty = 0;
    return 0;
}

/* Records j's state in its folder, where a restarted node 0 finds it (load_jobs), and with
 * ZooKeeper in ZROOT/jobs/ID, where the next coordinator finds it (load_jobs_zk). */
static void save_state(const sl_registry *r, struct rjob *j)
{
    char topo[sizeof j->topo], text[1024];
    snprintf(topo, sizeof topo, "%s", j->topo);
    for (char *c = topo; *c; c++) /* one line, whatever the file was called */
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    snprintf(text, sizeof text,
             "id %u\nstate %s\nexit_status %d\nstarted %lld\nended %lld\ntopology %s\n", j->id,
             state_name[j->st], j->status, (long long)j->started, (long long)j->ended, topo);
    if (r->zk)
        save_zk(r, j, text);
    if (write_atomic(j->dir, "state", text))
        rlog(r,
             "job %u: cannot record its state in %s/state: %s (a restarted node 0 will not "
             "know it)",
             j->id, j->dir, strerror(errno));
}

/* Whole small file dir/name into buf (NUL-terminated, cut at len - 1). Returns 0 or -1. */
static int read_small(const char *dir, const char *name, char *buf, size_t len)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return 0;
}

static int parse_ll(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* A job's record (the state file's lines) in text into *j, whose id must be `id`. Returns 0
 * or -1. */
static int parse_job(const char *text, long long id, struct rjob *j)
{
    long long st, status, started, ended;
    char v[300];
    if (sl_zk_field(text, "id", v, sizeof v) || parse_ll(v, id, id, &id) ||
        sl_zk_field(text, "state", v, sizeof v))
        return -1;
    for (st = 0; st < NSTATES && strcmp(v, state_name[st]) != 0; st++)
        ;
    if (st == NSTATES || sl_zk_field(text, "exit_status", v, sizeof v) ||
        parse_ll(v, -1, 255, &status) || sl_zk_field(text, "started", v, sizeof v) ||
        parse_ll(v, 0, INT64_MAX, &started) || sl_zk_field(text, "ended", v, sizeof v) ||
        parse_ll(v, 0, INT64_MAX, &ended) || sl_zk_field(text, "topology", j->topo, sizeof j->topo))
        return -1;
    j->id = (uint32_t)id;
    j->st = (enum state)st;
    j->status = (int)status;
    j->started = (time_t)started;
    j->ended = (time_t)ended;
    return 0;
}

/* The job recorded in folder STATE/name, into *j. Returns 0, or -1 when it holds no readable
 * record (not a job's folder, or one made before its record was written). */
static int read_job(const sl_registry *r, const char *name, struct rjob *j)
{
    long long id;
    if (parse_ll(name, 1, 0xffffff, &id))
        return -1;
    memset(j, 0, sizeof *j);
    snprintf(j->dir, sizeof j->dir, "%s/%s", r->state, name);
    char text[2048];
    if (read_small(j->dir, "state", text, sizeof text))
        return -1;
    return parse_job(text, id, j);
}

static int by_start(const void *a, const void *b)
{
    const struct rjob *x = a, *y = b;
    return x->started < y->started ? -1 : x->started > y->started ? 1 : x->id < y->id ? -1 : 1;
}

/* The latest modification time of the driver's files in j's folder (its last sign of life). */
static time_t last_sign(const struct rjob *j)
{
    static const char *const names[] = {"progress", "log", "stdout", "state"};
    time_t t = j->started;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[4400];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", j->dir, names[i]);
        if (stat(p, &sb) == 0 && sb.st_mtime > t)
            t = sb.st_mtime;
    }
    return t;
}

/* A restarted node 0: the jobs recorded in STATE/ (the JOBS_MAX newest). A job recorded as
 * running, stopping or cancelling was alive when the node 0 before this one died, and its
 * driver died with it (PR_SET_PDEATHSIG): it is lost, and recorded so. */
static void load_jobs(sl_registry *r)
{
    DIR *d = opendir(r->state);
    if (!d)
        return;
    struct rjob *all = NULL;
    size_t n = 0, cap = 0, lost = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (n == cap) {
            size_t c = cap ? cap * 2 : 64;
            struct rjob *a = realloc(all, c * sizeof *a);
            if (!a)
                break;
            all = a;
            cap = c;
        }
        if (read_job(r, e->d_name, &all[n]) == 0)
            n++;
    }
    closedir(d);
    qsort(all, n, sizeof *all, by_start);
    size_t from = n > JOBS_MAX ? n - JOBS_MAX : 0;
    for (size_t i = from; i < n; i++) {
        struct rjob *j = &r->job[r->n++];
        *j = all[i];
        if (alive(j)) {
            j->st = LOST;
            j->status = -1;
            j->ended = last_sign(j);
            save_state(r, j);
            lost++;
        }
    }
    free(all);
    if (n)
        rlog(r, "%zu submitted job%s recorded in %s%s", n, n == 1 ? "" : "s", r->state,
             from ? " (only the newest are listed)" : "");
    if (lost)
        rlog(r,
             "%zu of them %s lost: running when the node 0 before this one died, and their "
             "drivers died with it",
             lost, lost == 1 ? "is" : "are");
}

static void settle(sl_registry *r, struct rjob *j, int wst)
{
    j->status = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
    j->ended = time(NULL);
    j->st = j->st == CANCELLING ? CANCELLED : j->status == 0 ? DONE : FAILED;
    save_state(r, j);
    rlog(r, "submitted job %u %s (driver exit status %d)", j->id, state_name[j->st], j->status);
}

/* Whether job j's topology takes checkpoints (checkpoint.every_ms): its driver started again
 * then goes on from the newest complete one (--resume); without, it starts afresh. */
static int takes_checkpoints(const struct rjob *j)
{
    sl_topology *t = malloc(sizeof *t);
    char p[4400], err[1024];
    snprintf(p, sizeof p, "%s/topology.yaml", j->dir);
    int yes = t && sl_config_load(p, t, err, sizeof err) == 0 && t->checkpoint.every_ms > 0;
    free(t);
    return yes;
}

void sl_registry_poll(sl_registry *r)
{
    uint64_t now = sl_net_now_us();
    for (int i = 0; i < r->n; i++) {
        struct rjob *j = &r->job[i];
        if (j->zk_dirty && j->id && sl_zk_state(r->zk) == SL_ZK_CONNECTED)
            save_state(r, j);
        if (!alive(j))
            continue;
        if (j->pid == 0) { /* a driver to start again once the nodes dropped the old one */
            char why[512];
            if (now < j->restart_at_us)
                continue;
            j->restart_at_us = 0;
            int resume = 0;
            if (restore_folder(r, j) ||
                start_driver(r, j, resume = takes_checkpoints(j), NULL, why, sizeof why)) {
                j->st = FAILED;
                j->status = -1;
                j->ended = time(NULL);
                rlog(r, "job %u could not be started again", j->id);
            } else {
                rlog(r, "job %u (%s) started again, %s: driver pid %ld", j->id, j->topo,
                     resume ? "from its newest complete checkpoint (--resume)"
                            : "from its beginning (it takes no checkpoints)",
                     (long)j->pid);
            }
            save_state(r, j);
            continue;
        }
        int wst;
        pid_t p = waitpid(j->pid, &wst, WNOHANG);
        if (p == j->pid) {
            settle(r, j, wst);
        } else if (p < 0 && errno == ECHILD) {
            j->status = -1;
            j->ended = time(NULL);
            j->st = j->st == CANCELLING ? CANCELLED : FAILED;
            save_state(r, j);
        } else if (j->st == CANCELLING && now >= j->cancel_at_us) {
            kill(j->pid, SIGKILL);
            j->cancel_at_us = UINT64_MAX;
        }
    }
}

static void signal_job(const sl_registry *r, struct rjob *j, int cancel)
{
    if (j->pid == 0) { /* not started again yet: it never will be */
        j->st = CANCELLED;
        j->status = -1;
        j->ended = time(NULL);
        j->restart_at_us = 0;
    } else if (cancel) {
        /* two different signals stay pending together: the driver counts two stops */
        kill(j->pid, SIGINT);
        kill(j->pid, SIGTERM);
        j->st = CANCELLING;
        j->cancel_at_us = sl_net_now_us() + CANCEL_GRACE_US;
    } else if (j->st == RUNNING) {
        kill(j->pid, SIGINT);
        j->st = STOPPING;
    }
    save_state(r, j);
}

void sl_registry_stop_all(sl_registry *r, int cancel)
{
    for (int i = 0; i < r->n; i++)
        if (alive(&r->job[i]) && (cancel || r->job[i].st == RUNNING))
            signal_job(r, &r->job[i], cancel);
}

void sl_registry_destroy(sl_registry **rp)
{
    sl_registry *r = *rp;
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) {
        struct rjob *j = &r->job[i];
        if (!alive(j) || j->pid == 0) /* one not started again stays running for the next */
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

void sl_registry_abandon(sl_registry **rp)
{
    sl_registry *r = *rp;
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) {
        struct rjob *j = &r->job[i];
        if (!alive(j) || j->pid == 0)
            continue;
        kill(j->pid, SIGKILL);
        waitpid(j->pid, NULL, 0);
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
    snprintf(out, outlen, "no job %lu in the registry of node %u ('sluice job list' shows them)",
             id, r->node);
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
    static const char *const own[] = {"log",       "stdout",   "state",
                                      "state.tmp", "progress", "progress.tmp"};
    int taken = 0;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        taken |= strcmp(name, own[i]) == 0;
    if (!name[0] || name[0] == '/' || strstr(name, "..") || taken) {
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

/* Starts j's driver in its folder (resume: with --resume, a job started again by a new
 * coordinator; from: --from SAVEPOINT, NULL or "" for none). Returns 0 with j->pid set, or
 * SL_EIO with the reason in out. */
static int start_driver(sl_registry *r, struct rjob *j, int resume, const char *from, char *out,
                        size_t outlen)
{
    char idtext[16], epoch[24], log[4400], so[4400], prog[4400];
    snprintf(idtext, sizeof idtext, "%u", j->id);
    snprintf(epoch, sizeof epoch, "%" PRIu64, r->epoch);
    snprintf(log, sizeof log, "%s/log", j->dir);
    snprintf(so, sizeof so, "%s/stdout", j->dir);
    snprintf(prog, sizeof prog, "%s/progress", j->dir);
    char *argv[16] = {r->exe,     "run",  "topology.yaml",   "--cluster", r->cluster,
                      "--job-id", idtext, "--progress-file", prog};
    int argc = 9;
    if (r->epoch) {
        argv[argc++] = "--driver-epoch";
        argv[argc++] = epoch;
    }
    if (from && from[0]) {
        argv[argc++] = "--from";
        argv[argc++] = (char *)from;
    }
    if (resume)
        argv[argc++] = "--resume";
    argv[argc] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(out, outlen, "cannot start the job's driver: %s", strerror(errno));
        return SL_EIO;
    }
    if (pid == 0) {
        /* the child of a threaded process: async-signal-safe calls only, until exec */
        sigset_t none;
        sigemptyset(&none);
        /* the node blocks SIGINT and SIGTERM; SIGUSR1 (a savepoint) stays blocked until the
         * driver has its handler, so that an early one waits instead of killing it */
        sigaddset(&none, SIGUSR1);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        setpgid(0, 0); /* a Ctrl-C at the node's terminal reaches the node, which stops drivers */
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
    return 0;
}

/* With ZooKeeper: claims id for a new job (ZROOT/jobs/ID made exclusively, so that no two
 * coordinators give it). Returns 0, 1 when it is taken, or -1 (said in out). */
static int claim_zk(const sl_registry *r, uint32_t id, char *out, size_t outlen)
{
    char path[400], msg[512];
    snprintf(path, sizeof path, "%s/jobs/%u", r->zroot, id);
    int rc = sl_zk_create(r->zk, path, NULL, 0, SL_ZK_PARENTS, NULL, 0, msg, sizeof msg);
    if (rc == SL_EEXIST)
        return 1;
    if (rc) {
        snprintf(out, outlen, "cannot record the job in ZooKeeper: %s", msg);
        return -1;
    }
    return 0;
}

/* With ZooKeeper: the job's topology (ZROOT/jobs/ID/topology) and files (file-K: the name, a
 * newline, the text), so that a coordinator on another machine can write its folder again. */
static void keep_files_zk(const sl_registry *r, const struct rjob *j, const sl_jobctl_req *q)
{
    char path[400], msg[512];
    snprintf(path, sizeof path, "%s/jobs/%u/topology", r->zroot, j->id);
    if (sl_zk_put(r->zk, path, q->topo, q->topo_len, msg, sizeof msg))
        rlog(r, "job %u: its topology is not kept in ZooKeeper: %s", j->id, msg);
    for (uint32_t i = 0; i < q->nfiles; i++) {
        size_t nl = strlen(q->fname[i]);
        char *b = malloc(nl + 1 + q->flen[i]);
        if (!b)
            continue;
        memcpy(b, q->fname[i], nl);
        b[nl] = '\n';
        memcpy(b + nl + 1, q->ftext[i], q->flen[i]);
        snprintf(path, sizeof path, "%s/jobs/%u/file-%u", r->zroot, j->id, i);
        if (sl_zk_put(r->zk, path, b, nl + 1 + q->flen[i], msg, sizeof msg))
            rlog(r, "job %u: file %s is not kept in ZooKeeper: %s", j->id, q->fname[i], msg);
        free(b);
    }
}

static int submit(sl_registry *r, const sl_jobctl_req *q, char *out, size_t outlen)
{
    struct rjob *j = new_slot(r);
    if (!j) {
        snprintf(out, outlen, "%d submitted jobs are running: stop one first", JOBS_MAX);
        return SL_ERANGE;
    }
    memset(j, 0, sizeof *j);
    if (mkdir_ok(r->state)) {
        snprintf(out, outlen, "cannot make the jobs' folder %s: %s", r->state, strerror(errno));
        return SL_EIO;
    }
    /* An id is new: not remembered here, no folder of an earlier job (of this coordinator or
     * one before it) has it, and with ZooKeeper no record there has it. */
    uint32_t id;
    for (int tries = 0;; tries++) {
        r->next_seed = r->next_seed * 1664525u + 1013904223u;
        id = (r->next_seed >> 8) & 0xffffffu;
        int used = id == 0;
        for (int i = 0; i < r->n; i++)
            used |= &r->job[i] != j && r->job[i].id == id;
        if (used)
            continue;
        snprintf(j->dir, sizeof j->dir, "%s/%u", r->state, id);
        if (mkdir(j->dir, 0700) == 0) {
            int taken = r->zk ? claim_zk(r, id, out, outlen) : 0;
            if (taken == 0)
                break;
            rmdir(j->dir);
            if (taken < 0)
                return SL_EIO;
            continue;
        }
        if (errno != EEXIST || tries > 1000) {
            snprintf(out, outlen, "cannot make the job's folder %s: %s", j->dir, strerror(errno));
            return SL_EIO;
        }
    }
    j->id = id;
    j->st = FAILED; /* until the driver runs */
    j->status = -1;
    j->started = j->ended = time(NULL);
    snprintf(j->topo, sizeof j->topo, "%s", q->arg);
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
    if (r->zk)
        keep_files_zk(r, j, q);
    if (start_driver(r, j, 0, q->from, out, outlen)) {
        save_state(r, j);
        j->id = 0;
        return SL_EIO;
    }
    j->st = RUNNING;
    save_state(r, j);
    rlog(r, "submitted job %u (%s): driver pid %ld, log %s/log", id, j->topo, (long)j->pid, j->dir);
    snprintf(out, outlen, "submitted job %u (%s; log %s/log on node %u's machine): %u", id, j->topo,
             j->dir, r->node, id);
    return 0;
}

/* With ZooKeeper, a job to start again whose folder is missing here (the coordinator before
 * ran on another machine): writes it from ZROOT/jobs/ID/topology and file-K. Returns 0 or -1. */
static int restore_folder(const sl_registry *r, const struct rjob *j)
{
    char p[4400], path[400], msg[512], err[512];
    snprintf(p, sizeof p, "%s/topology.yaml", j->dir);
    if (access(p, R_OK) == 0)
        return 0;
    if (mkdir_ok(r->state) || mkdir_ok(j->dir))
        return -1;
    snprintf(path, sizeof path, "%s/jobs/%u/topology", r->zroot, j->id);
    char *text;
    size_t len;
    if (sl_zk_get(r->zk, path, 0, &text, &len, NULL, msg, sizeof msg)) {
        rlog(r, "job %u: %s", j->id, msg);
        return -1;
    }
    int rc = write_file(j->dir, "topology.yaml", text, len, err, sizeof err);
    free(text);
    for (uint32_t i = 0; rc == 0 && i < SL_JOBCTL_FILES; i++) {
        snprintf(path, sizeof path, "%s/jobs/%u/file-%u", r->zroot, j->id, i);
        if (sl_zk_get(r->zk, path, 0, &text, &len, NULL, msg, sizeof msg))
            break;
        char *nl = memchr(text, '\n', len);
        if (nl) {
            *nl = '\0';
            rc = write_file(j->dir, text, nl + 1, len - (size_t)(nl + 1 - text), err, sizeof err);
        }
        free(text);
    }
    if (rc)
        rlog(r, "job %u: %s", j->id, err);
    return rc;
}

/* A new coordinator: the jobs recorded in ZROOT/jobs (the JOBS_MAX newest). A job recorded as
 * running lost its driver with the coordinator before (PR_SET_PDEATHSIG): it is started again
 * here with --resume. One recorded as stopping is lost (its drain was cut short), one recorded
 * as cancelling is cancelled. */
static void load_jobs_zk(sl_registry *r)
{
    char path[400], msg[512];
    snprintf(path, sizeof path, "%s/jobs", r->zroot);
    sl_zk_names n;
    int rc = sl_zk_children(r->zk, path, 0, &n, msg, sizeof msg);
    if (rc) {
        if (rc != SL_ENOENT)
            rlog(r, "the job registry in ZooKeeper cannot be read: %s", msg);
        return;
    }
    struct rjob *all = n.n ? calloc((size_t)n.n, sizeof *all) : NULL;
    size_t k = 0, restarted = 0;
    for (int i = 0; all && i < n.n; i++) {
        long long id;
        char p[440], *text;
        size_t len;
        if (parse_ll(n.name[i], 1, 0xffffff, &id))
            continue;
        snprintf(p, sizeof p, "%s/%s", path, n.name[i]);
        if (sl_zk_get(r->zk, p, 0, &text, &len, NULL, msg, sizeof msg))
            continue;
        struct rjob *j = &all[k];
        memset(j, 0, sizeof *j);
        if (parse_job(text, id, j) == 0) {
            if (sl_zk_field(text, "dir", j->dir, sizeof j->dir))
                snprintf(j->dir, sizeof j->dir, "%s/%lld", r->state, id);
            k++;
        }
        free(text);
    }
    sl_zk_names_free(&n);
    qsort(all, k, sizeof *all, by_start);
    size_t from = k > JOBS_MAX ? k - JOBS_MAX : 0;
    for (size_t i = from; i < k; i++) {
        struct rjob *j = &r->job[r->n++];
        *j = all[i];
        if (j->st == RUNNING) {
            /* its driver died with the coordinator before, but the nodes hold the job until
             * its lease runs out (net.liveness_ms): they would take the new driver's JOB for
             * the old one's. Started by sl_registry_poll once they dropped it. */
            j->pid = 0;
            j->restart_at_us = sl_net_now_us() + (uint64_t)r->restart_delay_ms * 1000;
            restarted++;
        } else if (j->st == STOPPING || j->st == CANCELLING) {
            j->st = j->st == STOPPING ? LOST : CANCELLED;
            j->status = -1;
            j->ended = last_sign(j);
            save_state(r, j);
        }
    }
    free(all);
    if (k)
        rlog(r, "%zu submitted job%s recorded in ZooKeeper %s, %zu to start again in %u ms", k,
             k == 1 ? "" : "s", path, restarted, r->restart_delay_ms);
}

/* The last line of the job's log that starts with `prefix` ("": the last non-empty one) into
 * buf ("" when none), from the log's last 64 KiB. */
static void last_line(const struct rjob *j, const char *prefix, char *buf, size_t len)
{
    char p[4400];
    buf[0] = '\0';
    snprintf(p, sizeof p, "%s/log", j->dir);
    FILE *f = fopen(p, "rb");
    if (!f)
        return;
    static char tail[65536];
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    long from = sz > (long)sizeof tail - 1 ? sz - (long)sizeof tail + 1 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(tail, 1, sizeof tail - 1, f);
    fclose(f);
    while (n && (tail[n - 1] == '\n' || tail[n - 1] == '\r' || tail[n - 1] == ' '))
        n--;
    tail[n] = '\0';
    for (;;) {
        char *nl = strrchr(tail, '\n');
        const char *line = nl ? nl + 1 : tail;
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            snprintf(buf, len, "%.1000s", line);
            return;
        }
        if (!nl)
            return;
        *nl = '\0';
    }
}

/* What the driver last wrote to its progress file (the `--progress-file` of sluice run). */
struct progress {
    int have, final;
    uint64_t events, bad;
    double rate;
    long long time;
};

static void read_progress(const struct rjob *j, struct progress *p)
{
    char text[1024], v[64];
    long long ev, bad, fin;
    memset(p, 0, sizeof *p);
    if (read_small(j->dir, "progress", text, sizeof text) ||
        sl_zk_field(text, "events", v, sizeof v) || parse_ll(v, 0, INT64_MAX, &ev) ||
        sl_zk_field(text, "malformed", v, sizeof v) || parse_ll(v, 0, INT64_MAX, &bad) ||
        sl_zk_field(text, "final", v, sizeof v) || parse_ll(v, 0, 1, &fin) ||
        sl_zk_field(text, "rate", v, sizeof v))
        return;
    p->rate = strtod(v, NULL);
    if (sl_zk_field(text, "time", v, sizeof v) || parse_ll(v, 0, INT64_MAX, &p->time))
        return;
    p->events = (uint64_t)ev;
    p->bad = (uint64_t)bad;
    p->final = (int)fin;
    p->have = 1;
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
        size_t o = (size_t)snprintf(out, outlen, "%-9s %-10s %-19s %12s %10s  %s\n", "ID", "STATE",
                                    "STARTED", "EVENTS", "EVENTS/S", "TOPOLOGY");
        for (int i = 0; i < r->n && o < outlen; i++) {
            const struct rjob *j = &r->job[i];
            if (!j->id)
                continue;
            char t[32], ev[24] = "-", rate[24] = "-";
            struct progress p;
            when(j->started, t, sizeof t);
            read_progress(j, &p);
            if (p.have)
                snprintf(ev, sizeof ev, "%" PRIu64, p.events);
            if (p.have && (alive(j) || p.final)) /* a lost job's last rate says nothing */
                snprintf(rate, sizeof rate, "%.0f", p.rate);
            o += (size_t)snprintf(out + o, outlen - o, "%-9u %-10s %-19s %12s %10s  %s\n", j->id,
                                  state_name[j->st], t, ev, rate, j->topo);
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
        char sp[1024];
        last_line(j, "", line, sizeof line);
        last_line(j, "sluice: savepoint ", sp, sizeof sp);
        size_t o = (size_t)snprintf(out, outlen, "job %u: %s\ntopology: %s\nstarted: %s\n", j->id,
                                    state_name[j->st], j->topo, t);
        if (alive(j) && j->pid == 0)
            o += (size_t)snprintf(out + o, outlen - o,
                                  "driver: died with the coordinator before; starts again on "
                                  "node %u once the nodes dropped the old one\n",
                                  r->node);
        else if (alive(j))
            o += (size_t)snprintf(out + o, outlen - o, "driver: pid %ld on node %u's machine\n",
                                  (long)j->pid, r->node);
        else if (j->st == LOST)
            o += (size_t)snprintf(out + o, outlen - o,
                                  "ended: %s or soon after (its driver's last write; it died "
                                  "with node 0)\nexit status: unknown\n",
                                  e);
        else
            o +=
                (size_t)snprintf(out + o, outlen - o, "ended: %s\nexit status: %d\n", e, j->status);
        struct progress p;
        read_progress(j, &p);
        if (o < outlen && p.have) {
            char at[32];
            when((time_t)p.time, at, sizeof at);
            char rate[64] = "";
            if (alive(j) || p.final)
                snprintf(rate, sizeof rate, ", %.0f events/s%s", p.rate,
                         p.final ? " over the whole run" : "");
            o += (size_t)snprintf(out + o, outlen - o,
                                  "events: %" PRIu64 " (%" PRIu64 " malformed lines)%s, as of %s\n",
                                  p.events, p.bad, rate, at);
        } else if (o < outlen) {
            o += (size_t)snprintf(out + o, outlen - o, "events: none counted yet\n");
        }
        if (o < outlen)
            o += (size_t)snprintf(out + o, outlen - o, "folder: %s (log, stdout)\n", j->dir);
        if (o < outlen && sp[0])
            o += (size_t)snprintf(out + o, outlen - o, "last savepoint: %s\n", sp + 7);
        if (o < outlen && line[0])
            snprintf(out + o, outlen - o, "last log line: %s\n", line);
        return 0;
    }
    if (strcmp(q->verb, "savepoint") == 0) {
        if (!alive(j) || j->st != RUNNING || j->pid == 0) {
            snprintf(out, outlen, "job %u is %s: no savepoint", j->id,
                     j->pid == 0 && alive(j) ? "waiting to start again" : state_name[j->st]);
            return SL_ECONFLICT;
        }
        kill(j->pid, SIGUSR1);
        rlog(r, "submitted job %u: savepoint requested", j->id);
        snprintf(out, outlen,
                 "job %u: savepoint requested: its driver takes a checkpoint now and says where "
                 "it copied it in its log\n",
                 j->id);
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
    signal_job(r, j, cancel);
    rlog(r, "submitted job %u: %s", j->id, cancel ? "cancelling" : "stopping (draining)");
    snprintf(out, outlen, "job %u: %s\n", j->id,
             cancel ? "cancelling: the nodes drop it now"
                    : "stopping: its input ends, its final "
                      "rows are written, then it is done");
    return 0;
}
