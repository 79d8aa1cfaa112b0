/* Process helpers for the end-to-end cluster tests; see proc.h. */
#include "proc.h"

#include "launch.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/new/assert.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char tmpdir[512];
static pid_t kids[MAX_KIDS];

/* ---- files ----------------------------------------------------------------------------------- */

void setup(void)
{
#if SANITIZED
    /* The sluice processes run under ASan too. With 3 node processes (PoCL dlopen()s its
     * drivers, which use dynamic TLS) LeakSanitizer's exit check crashed in every node ("Tracer
     * caught signal 11", a bogus DTLS range: gcc 12's libasan takes glibc 2.36's DTLS layout for
     * 2.19's when an address happens to line up, google/sanitizers#1322), so every node exited 1.
     * The workaround from that issue: do not track DTLS; leaks are still checked everywhere else.
     * Set here, for the children only (this process read its options at startup). */
    const char *ao = getenv("ASAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof opts, "%s%sintercept_tls_get_addr=0", ao ? ao : "", ao && *ao ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
#endif
    tu_mkdtemp(tmpdir, sizeof tmpdir, program_invocation_short_name);
}

void skip_if_sanitized(const char *why)
{
    if (SANITIZED)
        cr_skip_test("%s", why);
}

const char *tpath(const char *name)
{
    static char buf[8][700];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

/* The whole file `name` of the test directory, NUL-terminated; its length in *len if asked. */
char *slurp(const char *name, size_t *len)
{
    char *s = tu_read_file(tpath(name), len);
    cr_assert_not_null(s, "open %s: %s", tpath(name), strerror(errno));
    return s;
}

FILE *create(const char *name)
{
    FILE *f = fopen(tpath(name), "w");
    cr_assert_not_null(f, "create %s: %s", tpath(name), strerror(errno));
    return f;
}

int exists(const char *name)
{
    return access(tpath(name), F_OK) == 0;
}

int hidden_files(void)
{
    DIR *d = opendir(tmpdir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

int has_checkpoint(const char *dir)
{
    DIR *d = opendir(tpath(dir));
    int found = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        found |= strncmp(e->d_name, "ckpt-", 5) == 0;
    if (d)
        closedir(d);
    return found;
}

size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Occurrences of `needle` in `s`. */
size_t count_str(const char *s, const char *needle)
{
    size_t n = 0, l = strlen(needle);
    for (const char *p = strstr(s, needle); p; p = strstr(p + l, needle))
        n++;
    return n;
}

/* Asserts that texts `got` and `want` are equal, naming the first line that differs (the texts
 * are megabytes: printing them whole would bury the difference). */
void assert_same_text(const char *got, const char *want, const char *what)
{
    if (strcmp(got, want) == 0)
        return;
    size_t line = 1, i = 0, start = 0;
    while (got[i] && got[i] == want[i]) {
        if (got[i] == '\n') {
            line++;
            start = i + 1;
        }
        i++;
    }
    int lg = (int)strcspn(got + start, "\n"), lw = (int)strcspn(want + start, "\n");
    cr_fatal("%s: line %zu differs (%zu vs %zu lines)\n  got:  %.*s\n  want: %.*s", what, line,
             count_lines(got), count_lines(want), lg, got + start, lw, want + start);
}

/* The line of `text` that starts with `prefix` (a copy in buf), or asserts. */
const char *line_starting(const char *text, const char *prefix, char *buf, size_t len)
{
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, prefix, pl) == 0) {
            snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
            return buf;
        }
    }
    cr_fatal("no line starting with \"%s\" in:\n%s", prefix, text);
    return NULL;
}

/* ---- processes ------------------------------------------------------------------------------- */

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void kids_add(pid_t p)
{
    for (int i = 0; i < MAX_KIDS; i++)
        if (kids[i] == 0) {
            kids[i] = p;
            return;
        }
    kill(-p, SIGKILL);
    cr_fatal("more than %d processes at once", MAX_KIDS);
}

static void kids_forget(pid_t p)
{
    for (int i = 0; i < MAX_KIDS; i++)
        if (kids[i] == p)
            kids[i] = 0;
}

/* .fini of every test: kills and reaps what the test started and did not stop, whether it
 * passed or not. SIGCONT first: a test may have stopped a node. */
void teardown(void)
{
    for (int i = 0; i < MAX_KIDS; i++) {
        if (kids[i] <= 0)
            continue;
        kill(-kids[i], SIGCONT);
        kill(-kids[i], SIGKILL);
        kill(kids[i], SIGKILL);
        waitpid(kids[i], NULL, 0);
        /* its nodes, orphaned now, are reaped by init: give that a moment */
        for (int t = 0; t < 500 && kill(-kids[i], 0) == 0; t++)
            usleep(10000);
        kids[i] = 0;
    }
}

/* Starts `sluice ARGS` (ARGS split at spaces) in the test directory, stdin from /dev/null,
 * stdout and stderr to the files `out` and `err` there (NULL: /dev/null). Returns its pid. */
pid_t spawn_in(const char *args, int in_fd, const char *out, const char *err)
{
    char buf[2048], outp[700], errp[700];
    char *argv[64];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", args);
    argv[argc++] = (char *)SLUICE_BIN;
    for (char *t = strtok(buf, " "); t && argc < 63; t = strtok(NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    snprintf(outp, sizeof outp, "%s", out ? tpath(out) : "/dev/null");
    snprintf(errp, sizeof errp, "%s", err ? tpath(err) : "/dev/null");
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(ne(int, pid, -1), "fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        int fi = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY);
        int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fi < 0 || fo < 0 || fe < 0 || chdir(tmpdir) != 0 || dup2(fi, 0) < 0 ||
            dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(127);
        close(fi);
        close(fo);
        close(fe);
        execv(SLUICE_BIN, argv);
        _exit(127);
    }
    setpgid(pid, pid); /* as the child does: whichever runs first */
    kids_add(pid);
    return pid;
}

pid_t spawn(const char *args, const char *out, const char *err)
{
    return spawn_in(args, -1, out, err);
}

long last_maxrss_kib;

/* Reaps `pid` if it has exited: returns 1 with *status (its exit code, 128 + the signal that
 * ended it) and its peak RSS in last_maxrss_kib, else 0. */
int reap(pid_t pid, int *status)
{
    int st;
    struct rusage ru;
    pid_t r = wait4(pid, &st, WNOHANG, &ru);
    if (r == 0)
        return 0;
    cr_assert(eq(int, r, pid), "wait4 %d: %s", (int)pid, strerror(errno));
    kids_forget(pid);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    last_maxrss_kib = ru.ru_maxrss; /* KiB on Linux */
    return 1;
}

int wait_exit(pid_t pid, double timeout_s, const char *what)
{
    double end = now_s() + timeout_s;
    int st;
    while (!reap(pid, &st)) {
        cr_assert(now_s() < end, "%s: not finished after %.0f s", what, timeout_s);
        usleep(10000);
    }
    return st;
}

/* Runs `sluice ARGS` to completion (at most timeout_s) and returns its status and output. */
struct run run_sluice(const char *args, double timeout_s)
{
    pid_t p = spawn(args, "stdout", "stderr");
    struct run r;
    r.status = wait_exit(p, timeout_s, args);
    r.out = slurp("stdout", NULL);
    r.err = slurp("stderr", NULL);
    return r;
}

/* Runs `cd TMPDIR && sluice ARGS` through /bin/sh (ARGS may redirect), with stdout and stderr
 * captured outside the directory (TMPDIR.stdout, TMPDIR.stderr, removed after). */
struct run run_sh(const char *args)
{
    char cmd[4096], o[600], e[600];
    snprintf(o, sizeof o, "%s.stdout", tmpdir);
    snprintf(e, sizeof e, "%s.stderr", tmpdir);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >'%s' 2>'%s'", tmpdir, SLUICE_BIN, args, o, e);
    int st = system(cmd);
    cr_assert(ne(int, st, -1));
    struct run r = {WIFEXITED(st) ? WEXITSTATUS(st) : 128, tu_read_file(o, NULL),
                    tu_read_file(e, NULL)};
    cr_assert(r.out && r.err, "no output of `%s`", cmd);
    unlink(o);
    unlink(e);
    return r;
}

struct run run_sh_status(const char *args, int status)
{
    struct run r = run_sh(args);
    cr_assert(eq(int, r.status, status), "`sluice %s` exited with %d; stderr: %s", args, r.status,
              r.err);
    return r;
}

/* Live processes whose working directory is the test directory: every sluice process a test
 * started (nodes included) runs there, so none may be left when the test ends. Zombies have no
 * readable cwd and are not counted. */
int procs_in_tmpdir(void)
{
    char real[PATH_MAX];
    cr_assert_not_null(realpath(tmpdir, real));
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char link[64], cwd[PATH_MAX];
        snprintf(link, sizeof link, "/proc/%d/cwd", pid);
        ssize_t l = readlink(link, cwd, sizeof cwd - 1);
        if (l <= 0)
            continue;
        cwd[l] = '\0';
        n += strcmp(cwd, real) == 0;
    }
    closedir(d);
    return n;
}

void assert_nothing_running(void)
{
    /* a node may take a moment to go after its parent was reaped */
    double end = now_s() + 10;
    int n;
    while ((n = procs_in_tmpdir()) > 0 && now_s() < end)
        usleep(20000);
    cr_assert(eq(int, n, 0), "processes still running in %s", tmpdir);
}

/* The end of every test: nothing it started still runs; then, since it passed, its directory
 * goes (tens of MB of events and results; a failed test keeps its own for a look). */
void finish(void)
{
    assert_nothing_running();
    DIR *d = opendir(tmpdir);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlink(path);
    }
    closedir(d);
    rmdir(tmpdir);
}

/* The resident set of `pid` in KiB (VmRSS), or -1 when it has gone. */
long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* ---- clusters -------------------------------------------------------------------------------- */

/* The last cluster file written, so that cluster_up can write it again at other ports. */
static struct {
    char name[128], extra[2048];
    unsigned n, lo;
    int set;
} last_file;

/* Writes cluster file `name`: n nodes on 127.0.0.1 at free ports in [lo, lo + 1500), and
 * `extra` lines. Each test passes its own window, best above Linux's ephemeral ports
 * (32768-60999 by default) and above the range `--nodes` draws from (host/launch.c:
 * 10000-32767): a free port is checked before the node binds it, and meanwhile an outgoing
 * connection, another launch or a concurrent test's nodes (whose windows overlap) could take
 * it; cluster_up then writes the file again at other ports. */
void write_cluster(const char *name, unsigned n, const char *extra, unsigned lo)
{
    snprintf(last_file.name, sizeof last_file.name, "%s", name);
    snprintf(last_file.extra, sizeof last_file.extra, "%s", extra ? extra : "");
    last_file.n = n;
    last_file.lo = lo;
    last_file.set = 1;
    static uint64_t s;
    if (!s)
        s = ((uint64_t)getpid() << 32) ^ (uint64_t)(now_s() * 1e9);
    unsigned span = n * SL_NODE_SPAN, base = 0;
    cr_assert(le(u32, lo + 1500, 65535));
    for (int tries = 0; tries < 500 && !base; tries++) {
        unsigned b = lo + (unsigned)(splitmix64(&s) % (1500 - span));
        if (sl_ports_free(b, span))
            base = b;
    }
    cr_assert(ne(u32, base, 0), "no %u free ports", span);
    FILE *f = create(name);
    fprintf(f, "# a test cluster on loopback\n%s", extra ? extra : "");
    fprintf(f, "nodes:\n");
    for (unsigned i = 0; i < n; i++)
        fprintf(f, "  - {id: %u, host: 127.0.0.1, port: %u}\n", i, base + i * SL_NODE_SPAN);
    fclose(f);
}

unsigned free_port_high(uint64_t *s)
{
    for (int tries = 0; tries < 200; tries++) {
        unsigned p = 61000 + (unsigned)(splitmix64(s) % 4535);
        if (sl_ports_free(p, 1))
            return p;
    }
    cr_assert(0, "no free port in 61000-65534");
    return 0;
}

unsigned first_port(const char *name, unsigned id)
{
    char *s = slurp(name, NULL), pat[64];
    snprintf(pat, sizeof pat, "{id: %u, host: 127.0.0.1, port: ", id);
    const char *p = strstr(s, pat);
    cr_assert_not_null(p);
    unsigned port = (unsigned)strtoul(p + strlen(pat), NULL, 10);
    free(s);
    return port;
}

/* The node processes of `cluster up` (its children), by the --id on their command line. */
unsigned find_nodes(struct cluster *c)
{
    unsigned found = 0;
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], buf[4096];
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t l = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[l] = '\0';
        const char *rp = strrchr(buf, ')'); /* the command name may hold spaces and parens */
        char state;
        int ppid;
        if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2 || ppid != c->up)
            continue;
        snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
        f = fopen(path, "r");
        if (!f)
            continue;
        l = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[l] = '\0';
        for (size_t i = 0; i < l; i += strlen(buf + i) + 1)
            if (strcmp(buf + i, "--id") == 0 && i + 5 < l) {
                unsigned id = (unsigned)atoi(buf + i + 5);
                if (id < c->n && !c->node[id]) {
                    c->node[id] = pid;
                    found++;
                }
            }
    }
    closedir(d);
    return found;
}

/* `sluice cluster up FILE` in the background, waiting for FILE.pid (written once every node
 * answers), then finds the node processes. Nodes log to `errfile` unless quiet. */
void cluster_up(struct cluster *c, const char *file, unsigned n, int quiet, const char *errfile)
{
    memset(c, 0, sizeof *c);
    snprintf(c->file, sizeof c->file, "%s", file);
    snprintf(c->errfile, sizeof c->errfile, "%s", errfile);
    c->n = n;
    char args[256], pidfile[96];
    snprintf(args, sizeof args, "cluster up %s%s", file, quiet ? " --quiet" : "");
    snprintf(pidfile, sizeof pidfile, "%s.pid", file);
    double t0 = now_s();
    c->up = spawn(args, NULL, errfile);
    long pid = 0;
    for (int again = 0;;) {
        FILE *f = fopen(tpath(pidfile), "r");
        if (f) {
            int ok = fscanf(f, "%ld", &pid) == 1;
            fclose(f);
            if (ok)
                break; /* else caught while being written */
        }
        int st;
        if (reap(c->up, &st)) {
            char *err = slurp(errfile, NULL);
            /* a port taken after write_cluster found it free: the file again, elsewhere */
            int taken = err && strstr(err, "ports is in use") && last_file.set &&
                        strcmp(last_file.name, file) == 0 && again < 5;
            if (taken) {
                cr_log_info("cluster up: a port was taken meanwhile (%s); other ports", err);
                free(err);
                char nm[sizeof last_file.name], ex[sizeof last_file.extra];
                memcpy(nm, last_file.name, sizeof nm); /* write_cluster writes last_file */
                memcpy(ex, last_file.extra, sizeof ex);
                write_cluster(nm, last_file.n, ex[0] ? ex : NULL, last_file.lo);
                again++;
                c->up = spawn(args, NULL, errfile);
                continue;
            }
            cr_assert(0, "cluster up exited with %d: %s", st, err);
        }
        cr_assert(now_s() < t0 + 120, "cluster up: not ready after 120 s");
        usleep(20000);
    }
    cr_assert(eq(long, pid, (long)c->up), "%s holds the pid of cluster up", pidfile);
    cr_assert(eq(u32, find_nodes(c), n), "node processes of cluster up (pid %d)", (int)c->up);
    cr_log_info("%s up in %.2f s: nodes %d %d %d", file, now_s() - t0, (int)c->node[0],
                (int)c->node[1], n > 2 ? (int)c->node[2] : 0);
}

/* `sluice cluster down FILE`: it and `cluster up` must exit 0, the pid file must be gone and so
 * must every node. `cluster up` is this process's child, so it is reaped here while `down`
 * waits for it (`down` takes a zombie for gone, but reaping it is this process's job). */
void cluster_down(struct cluster *c)
{
    int up_st = cluster_down_status(c);
    if (up_st != 0) {
        char *up_err = slurp(c->errfile, NULL);
        size_t l = up_err ? strlen(up_err) : 0;
        cr_assert(eq(int, up_st, 0), "cluster up's exit status; the end of %s:\n%s", c->errfile,
                  up_err ? up_err + (l > 6000 ? l - 6000 : 0) : "(none)");
    }
}

int cluster_down_status(struct cluster *c)
{
    char args[256], pidfile[96];
    snprintf(args, sizeof args, "cluster down %s", c->file);
    snprintf(pidfile, sizeof pidfile, "%s.pid", c->file);
    pid_t down = spawn(args, NULL, "down.err");
    int up_st = -1, down_st = -1;
    double end = now_s() + 120;
    while (up_st < 0 || down_st < 0) {
        int st;
        if (up_st < 0 && reap(c->up, &st))
            up_st = st;
        if (down_st < 0 && reap(down, &st))
            down_st = st;
        cr_assert(now_s() < end, "cluster down: not finished after 120 s");
        usleep(10000);
    }
    char *err = slurp("down.err", NULL);
    cr_assert(eq(int, down_st, 0), "cluster down: %s", err);
    cr_assert_not_null(strstr(err, "is down"), "%s", err);
    free(err);
    cr_assert(eq(int, exists(pidfile), 0), "%s is removed", pidfile);
    for (unsigned i = 0; i < c->n; i++) {
        errno = 0;
        cr_assert(eq(int, kill(c->node[i], 0), -1), "node %u (pid %d) is gone", i, (int)c->node[i]);
        cr_assert(eq(int, errno, ESRCH));
    }
    return up_st;
}

/* The child processes of pid (its --nodes node processes), from /proc. Returns how many. */
int children(pid_t pid, pid_t *out, int cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    int n = 0;
    long v;
    while (f && n < cap && fscanf(f, "%ld", &v) == 1)
        out[n++] = (pid_t)v;
    if (f)
        fclose(f);
    return n;
}

int kill_child(pid_t parent, pid_t child, int sig)
{
    int fd = pidfd_open(child, 0);
    if (fd < 0)
        return -1;
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)child);
    FILE *f = fopen(path, "r");
    char *ok = f ? fgets(line, sizeof line, f) : NULL;
    if (f)
        fclose(f);
    const char *rp = ok ? strrchr(line, ')') : NULL; /* the name may hold spaces and parens */
    char state = 0;
    int ppid = -1, rc = -1;
    if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == (int)parent && state != 'Z' &&
        state != 'X')
        rc = pidfd_send_signal(fd, sig, NULL, 0);
    close(fd);
    return rc == 0 ? 0 : -1;
}

/* 1 when process pid has ended and waits to be reaped (or is gone). */
int zombie(pid_t pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    char *ok = fgets(line, sizeof line, f);
    fclose(f);
    const char *p = ok ? strrchr(line, ')') : NULL;
    return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}

/* Writes all of buf to fd (non-blocking) while the run `pid` lives: the test holds the pipe's
 * read end too, so a write to a pipe whose reader died would block for ever. */
void write_all(int fd, const char *buf, size_t len, pid_t pid, const char *err)
{
    double t_end = now_s() + 120;
    while (len) {
        ssize_t k = write(fd, buf, len);
        if (k > 0) {
            buf += k;
            len -= (size_t)k;
            continue;
        }
        int st;
        cr_assert(k < 0 && errno == EAGAIN, "writing to the run's stdin failed: %s",
                  strerror(errno));
        cr_assert(eq(int, reap(pid, &st), 0), "the run ended (%d) before its input: %s", st,
                  slurp(err, NULL));
        cr_assert(lt(dbl, now_s(), t_end), "the run did not read its stdin for 120 s");
        usleep(2000);
    }
}
