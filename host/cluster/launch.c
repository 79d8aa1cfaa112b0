/* Local node processes; see launch.h. */
#include "launch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
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

#include "auth.h"
#include "client.h"
#include "err.h"
#include "node.h"

struct child {
    pid_t pid;
    uint32_t id;
    int exited, status;
    int retired; /* dead, and its partitions went to survivors: not started again */
};

struct sl_launch {
    struct child c[SL_NODES_MAX];
    uint32_t n;
    char exe[4096], path[4096], temp_dir[4096];
    int quiet;
    pid_t parent;
};

int sl_host_is_local(const char *host)
{
    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
        strncmp(host, "127.", 4) == 0 || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
        return 1;
    struct ifaddrs *ifs, *i;
    int local = 0;
    if (getifaddrs(&ifs) != 0)
        return 0;
    for (i = ifs; i && !local; i = i->ifa_next) {
        char buf[INET6_ADDRSTRLEN];
        if (!i->ifa_addr)
            continue;
        if (i->ifa_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, buf,
                      sizeof buf);
        else if (i->ifa_addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, buf,
                      sizeof buf);
        else
            continue;
        local = strcmp(buf, host) == 0;
    }
    freeifaddrs(ifs);
    return local;
}

static void reap(sl_launch *l, int block)
{
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->c[i].exited)
            continue;
        int st;
        pid_t r = waitpid(l->c[i].pid, &st, block ? 0 : WNOHANG);
        if (r == l->c[i].pid || (r < 0 && errno == ECHILD)) {
            l->c[i].exited = 1;
            l->c[i].status = r == l->c[i].pid ? st : 0;
        }
    }
}

/* Forks and execs node `id`. Returns its pid, or -1 (errno). */
static pid_t spawn(const sl_launch *l, uint32_t id)
{
    char ids[16];
    snprintf(ids, sizeof ids, "%u", id);
    const char *argv[12];
    int a = 0;
    argv[a++] = l->exe;
    argv[a++] = "node";
    argv[a++] = "--config";
    argv[a++] = l->path;
    argv[a++] = "--id";
    argv[a++] = ids;
    if (l->quiet)
        argv[a++] = "--quiet";
    if (l->temp_dir[0]) {
        argv[a++] = "--exit-with-parent";
        argv[a++] = "--cleanup-dir";
        argv[a++] = l->temp_dir;
    }
    argv[a] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != l->parent)
        _exit(1);
    sigset_t none; /* a blocked mask survives exec: the node sets its own */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(l->exe, (char *const *)argv);
    fprintf(stderr, "sluice: cannot run %s: %s\n", l->exe, strerror(errno));
    _exit(127);
}

int sl_launch_start(const char *exe, const char *cluster_path, const sl_cluster_cfg *cl, int quiet,
                    const char *temp_dir, sl_launch **out, char *msg, size_t msglen)
{
    sl_launch *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    snprintf(l->exe, sizeof l->exe, "%s", exe);
    snprintf(l->path, sizeof l->path, "%s", cluster_path);
    snprintf(l->temp_dir, sizeof l->temp_dir, "%s", temp_dir ? temp_dir : "");
    l->quiet = quiet;
    l->parent = getpid();
    for (uint32_t i = 0; i < cl->nnodes; i++) {
        if (!sl_host_is_local(cl->nodes[i].host))
            continue;
        pid_t pid = spawn(l, i);
        if (pid < 0) {
            snprintf(msg, msglen, "fork failed: %s", strerror(errno));
            sl_launch_stop(&l, 5000, NULL, 0);
            return SL_EIO;
        }
        l->c[l->n].pid = pid;
        l->c[l->n].id = i;
        l->n++;
    }
    *out = l;
    return 0;
}

int sl_launch_restart_dead(sl_launch *l, char *msg, size_t msglen)
{
    int restarted = 0;
    size_t o = 0;
    msg[0] = '\0';
    reap(l, 0);
    for (uint32_t i = 0; i < l->n; i++) {
        if (!l->c[i].exited || l->c[i].retired)
            continue;
        int st = l->c[i].status;
        pid_t pid = spawn(l, l->c[i].id);
        if (pid < 0)
            continue;
        if (o < msglen)
            o += (size_t)snprintf(msg + o, msglen - o,
                                  "%snode %u (pid %d) %s %d; restarted as pid %d", o ? "; " : "",
                                  l->c[i].id, (int)l->c[i].pid,
                                  WIFSIGNALED(st) ? "was killed by signal" : "exited with status",
                                  WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), (int)pid);
        l->c[i].pid = pid;
        l->c[i].exited = 0;
        l->c[i].status = 0;
        restarted++;
    }
    return restarted;
}

int sl_launch_killed(sl_launch *l)
{
    int n = 0;
    reap(l, 0);
    for (uint32_t i = 0; i < l->n; i++)
        n += l->c[i].exited && !l->c[i].retired && WIFSIGNALED(l->c[i].status);
    return n;
}

int sl_launch_fence(sl_launch *l, const int *answered)
{
    int killed = 0;
    reap(l, 0);
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->c[i].exited || answered[l->c[i].id])
            continue;
        kill(l->c[i].pid, SIGKILL);
        int st;
        if (waitpid(l->c[i].pid, &st, 0) == l->c[i].pid) {
            l->c[i].exited = 1;
            l->c[i].status = st;
        }
        killed++;
    }
    return killed;
}

int sl_launch_retire_dead(sl_launch *l, int *alive)
{
    int n = 0, live = 0;
    reap(l, 0);
    for (uint32_t i = 0; i < l->n; i++)
        live += !l->c[i].exited;
    for (uint32_t i = 0; i < l->n; i++) {
        alive[l->c[i].id] = !l->c[i].exited;
        if (live && l->c[i].exited && !l->c[i].retired) {
            l->c[i].retired = 1;
            n++;
        }
    }
    return n;
}

uint32_t sl_launch_count(const sl_launch *l)
{
    return l->n;
}

int sl_launch_alive(void *ud, char *msg, size_t msglen)
{
    sl_launch *l = ud;
    reap(l, 0);
    for (uint32_t i = 0; i < l->n; i++) {
        if (!l->c[i].exited || l->c[i].retired)
            continue;
        int st = l->c[i].status;
        if (WIFSIGNALED(st))
            snprintf(msg, msglen, "node %u (pid %d) was killed by signal %d", l->c[i].id,
                     (int)l->c[i].pid, WTERMSIG(st));
        else if (WEXITSTATUS(st) == SL_NODE_EXIT_CONFLICT)
            snprintf(msg, msglen, "node %u (pid %d) exited: one of its ports is in use", l->c[i].id,
                     (int)l->c[i].pid);
        else
            snprintf(msg, msglen, "node %u (pid %d) exited with status %d", l->c[i].id,
                     (int)l->c[i].pid, WEXITSTATUS(st));
        return WIFEXITED(st) && WEXITSTATUS(st) == SL_NODE_EXIT_CONFLICT ? 2 : 1;
    }
    return 0;
}

int sl_launch_wait_ready(sl_launch *l, const sl_cluster_cfg *cl, int timeout_ms, char *msg,
                         size_t msglen)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double deadline = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + timeout_ms / 1000.0;
    for (;;) {
        int dead = sl_launch_alive(l, msg, msglen);
        if (dead)
            return dead == 2 ? SL_ECONFLICT : SL_EIO;
        long pids[SL_NODES_MAX];
        int rc = sl_client_ping(cl, 1000, pids, msg, msglen);
        if (rc == 0) {
            for (uint32_t i = 0; i < l->n; i++)
                if (pids[l->c[i].id] != (long)l->c[i].pid) {
                    snprintf(msg, msglen,
                             "%s:%u (node %u) is served by pid %ld, not by the node started here "
                             "(pid %d): another process took the port",
                             cl->nodes[l->c[i].id].host, cl->nodes[l->c[i].id].port, l->c[i].id,
                             pids[l->c[i].id], (int)l->c[i].pid);
                    return SL_ECONFLICT;
                }
            return 0;
        }
        if (rc == SL_ECONFLICT)
            return rc; /* waiting will not change who answers there */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 >= deadline)
            return rc;
    }
}

int sl_launch_stop(sl_launch **lp, int timeout_ms, char *msg, size_t msglen)
{
    if (!lp || !*lp)
        return 0;
    sl_launch *l = *lp;
    int rc = 0;
    reap(l, 0);
    for (uint32_t i = 0; i < l->n; i++)
        if (!l->c[i].exited)
            kill(l->c[i].pid, SIGTERM);
    int waited = 0, killed = 0, resent = 0;
    for (;;) {
        reap(l, 0);
        int left = 0;
        for (uint32_t i = 0; i < l->n; i++)
            left += !l->c[i].exited;
        if (!left)
            break;
        if (waited >= timeout_ms / 2 && !resent) { /* a second SIGTERM aborts a running job */
            for (uint32_t i = 0; i < l->n; i++)
                if (!l->c[i].exited)
                    kill(l->c[i].pid, SIGTERM);
            resent = 1;
        }
        if (waited >= timeout_ms && !killed) {
            for (uint32_t i = 0; i < l->n; i++)
                if (!l->c[i].exited)
                    kill(l->c[i].pid, SIGKILL);
            killed = 1;
        }
        usleep(10000);
        waited += 10;
    }
    size_t o = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        int st = l->c[i].status;
        if ((WIFEXITED(st) && WEXITSTATUS(st) == 0) || l->c[i].retired)
            continue;
        rc = SL_EIO;
        if (msg && o < msglen)
            o += (size_t)snprintf(msg + o, msglen - o, "%snode %u %s %d", o ? "; " : "", l->c[i].id,
                                  WIFSIGNALED(st) ? "ended by signal" : "exited with",
                                  WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    }
    free(l);
    *lp = NULL;
    return rc;
}

int sl_ports_free(unsigned base, unsigned count)
{
    for (unsigned p = base; p < base + count; p++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return 0;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (!ok)
            return 0;
    }
    return 1;
}

int sl_launch_local_cluster(uint32_t n, const char *device, uint32_t metrics, char *dir,
                            size_t dirlen, char *path, size_t pathlen, char *msg, size_t msglen)
{
    const char *tmp = getenv("TMPDIR");
    unsigned span = n * SL_NODE_SPAN, base = 0;
    if (n == 0 || n > SL_NODES_MAX) {
        snprintf(msg, msglen, "--nodes must be 1..%d", SL_NODES_MAX);
        return SL_EINVAL;
    }
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    /* 10000..32767, below Linux's ephemeral ports (net.ipv4.ip_local_port_range, 32768-60999
     * by default): a port found free in that range can be taken as the source port of any
     * outgoing connection before the node binds it, which failed `--nodes 3` runs with "Address
     * already in use". The check and the bind still race with other launches. */
    for (int tries = 0; tries < 200 && !base; tries++) {
        unsigned b = 10000 + (unsigned)rand() % (22768 - span);
        if (sl_ports_free(b, span))
            base = b;
    }
    if (!base) {
        snprintf(msg, msglen, "no %u free consecutive ports on 127.0.0.1", span);
        return SL_EIO;
    }
    snprintf(dir, dirlen, "%s/sluice-cluster-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        snprintf(msg, msglen, "cannot create %s: %s", dir, strerror(errno));
        return SL_EIO;
    }
    int krc = sl_keys_generate(dir, 0, msg, msglen);
    if (krc) {
        sl_launch_remove_local(dir);
        return krc;
    }
    snprintf(path, pathlen, "%s/cluster.yaml", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(msg, msglen, "cannot create %s: %s", path, strerror(errno));
        sl_launch_remove_local(dir);
        return SL_EIO;
    }
    fprintf(f, "# written by sluice for %u local nodes, with a key pair of their own\n", n);
    fprintf(f, "curve: {keys: \"%s\"}\n", dir);
    if (device && *device) {
        fputs("device: \"", f);
        for (const char *c = device; *c; c++)
            fprintf(f, *c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
        fputs("\"\n", f);
    }
    fputs("nodes:\n", f);
    for (uint32_t i = 0; i < n; i++)
        if (metrics)
            fprintf(f, "  - {id: %u, host: 127.0.0.1, port: %u, metrics: %u}\n", i,
                    base + i * SL_NODE_SPAN, metrics + i);
        else
            fprintf(f, "  - {id: %u, host: 127.0.0.1, port: %u}\n", i, base + i * SL_NODE_SPAN);
    if (fclose(f) != 0) {
        snprintf(msg, msglen, "cannot write %s: %s", path, strerror(errno));
        sl_launch_remove_local(dir);
        return SL_EIO;
    }
    return 0;
}

void sl_launch_remove_local(const char *dir)
{
    static const char *const files[] = {"cluster.yaml", "cluster.key", "cluster.pub",
                                        "cluster.key.tmp"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}
