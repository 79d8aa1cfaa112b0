/* The cluster commands (docs/cluster.md): sluice node (one node of a cluster file), sluice
 * cluster up|down (this machine's nodes of a cluster file, kept running under a pid file) and
 * sluice keygen (a cluster's CURVE key pair). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "cli.h"
#include "log.h"
#include "config.h"
#include "err.h"
#include "launch.h"
#include "node.h"
#include "opts.h"
#include "proc.h"

void usage_node(FILE *o)
{
    fprintf(o, "usage: sluice node --config CLUSTER.yaml --id N [--quiet]\n"
               "                   [--exit-with-parent [--cleanup-dir DIR]]\n"
               "\n"
               "Runs node N of the cluster file until SIGINT or SIGTERM (a job in progress is\n"
               "finished first; a second signal aborts it). With --exit-with-parent (as nodes\n"
               "started by --nodes run) the node aborts its job and exits as soon as the process\n"
               "that started it is gone, removing DIR. See docs/cluster.md.\n");
}

int cmd_node(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"id", required_argument, NULL, 'n'},
        {"quiet", no_argument, NULL, 'q'},
        {"exit-with-parent", no_argument, NULL, 'P'},
        {"cleanup-dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *cleanup = NULL;
    uint64_t id = UINT64_MAX;
    int quiet = 0, with_parent = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:n:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'P':
            with_parent = 1;
            break;
        case 'D':
            cleanup = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'n':
            if (cli_parse_u64("--id", optarg, 0, SL_NODES_MAX - 1, &id))
                return 2;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage_node(stdout);
            return 0;
        default:
            cli_option_error("node", c, argv, opts);
            return 2;
        }
    }
    if (id != UINT64_MAX) {
        char name[32];
        snprintf(name, sizeof name, "node-%u", (unsigned)id);
        sl_log_set_node(name);
    }
    if (!config || id == UINT64_MAX || optind < argc) {
        usage_node(stderr);
        return 2;
    }
    static sl_cluster_cfg cl;
    char msg[4096];
    if (sl_cluster_load(config, &cl, msg, sizeof msg)) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return 2;
    }
    /* SIGINT and SIGTERM are blocked in every thread (PoCL's included: they inherit the mask)
     * and read from a signalfd by the node's poll loop: never delivered inside the OpenCL
     * compiler, whose LLVM signal handlers would otherwise take them mid-build. */
    int sfd = cli_stop_signal_fd();
    if (sfd < 0) {
        fprintf(stderr, "%s node %u: cannot set up signal handling: %s\n", cli_prog, (unsigned)id,
                strerror(errno));
        return 1;
    }
    sl_node_opts no = {.cl = &cl,
                       .id = (uint32_t)id,
                       .stop = &cli_stop_requested,
                       .sig_fd = sfd,
                       .quiet = quiet,
                       .exit_with_parent = with_parent,
                       .cleanup_dir = cleanup};
    char abs[4096];
    if (realpath(config, abs)) /* node 0's drivers of submitted jobs read the file too */
        no.cluster_path = abs;
    int rc = sl_node_run(&no, msg, sizeof msg);
    close(sfd);
    if (rc) {
        fprintf(stderr, "%s node %u: %s\n", cli_prog, (unsigned)id, msg);
        return rc == SL_ECONFLICT ? SL_NODE_EXIT_CONFLICT : 1;
    }
    return 0;
}

void usage_cluster(FILE *o)
{
    fprintf(o, "usage: sluice cluster up CLUSTER.yaml [--quiet]\n"
               "       sluice cluster down CLUSTER.yaml\n"
               "\n"
               "up    starts a node process for every node of CLUSTER.yaml on this machine (its\n"
               "      children), waits until every node of the file answers, restarts a node\n"
               "      that dies, and runs until Ctrl-C, SIGTERM or 'sluice cluster down'; then\n"
               "      stops the nodes cleanly (each finishes its job and delivers what it\n"
               "      queued). Its pid is kept in CLUSTER.yaml.pid.\n"
               "down  stops the 'cluster up' of CLUSTER.yaml and waits until it has exited.\n"
               "Jobs go to a running cluster with 'sluice run CONFIG --cluster CLUSTER.yaml' or\n"
               "'sluice ctr --cluster CLUSTER.yaml' (several at once), or live on it with\n"
               "'sluice job submit CONFIG --cluster CLUSTER.yaml' (sluice help job).\n");
}

/* The pid in a `cluster up` pid file: > 0, 0 when the file has none, -1 (errno) when it cannot
 * be read. */
static long read_pidfile(const char *path)
{
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (!f)
        return -1;
    if (fscanf(f, "%ld", &pid) != 1 || pid <= 0)
        pid = 0;
    fclose(f);
    return pid;
}

/* Writes this process's pid to a new pid file (O_EXCL: two racing starts cannot both own it).
 * Returns 0, or -1 with errno set (and no file left behind). */
static int write_pidfile(const char *path)
{
    char pidtext[32];
    int pl = snprintf(pidtext, sizeof pidtext, "%ld\n", (long)getpid());
    int pfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (pfd < 0 || write(pfd, pidtext, (size_t)pl) != pl || close(pfd) != 0) {
        int e = errno;
        if (pfd >= 0)
            unlink(path);
        errno = e;
        return -1;
    }
    return 0;
}

/* Removes the pid file only if it still names this process. */
static void remove_own_pidfile(const char *path)
{
    if (read_pidfile(path) == (long)getpid())
        unlink(path);
}

/* 1 when process `pid` exists and has not exited: a zombie (exited, not yet reaped by its
 * parent) counts as gone. */
static int process_alive(long pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')'); /* "pid (comm) S ...": comm may hold spaces */
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

/* cluster down: stops the `cluster up` named in the pid file and waits for it (60 s at most).
 * Returns the exit status. */
static int cluster_down(const char *file, const char *pidfile)
{
    long pid = read_pidfile(pidfile);
    if (pid <= 0) {
        fprintf(stderr, "%s: no running cluster for %s (%s: %s)\n", cli_prog, file, pidfile,
                pid == 0 ? "no pid in it" : strerror(errno));
        return 1;
    }
    if (!process_alive(pid) || kill((pid_t)pid, SIGTERM) != 0) {
        fprintf(stderr, "%s: cluster process %ld is not running (removing the stale %s)\n",
                cli_prog, pid, pidfile);
        unlink(pidfile);
        return 1;
    }
    /* down once the process is gone, or once it removed its pid file (it does that after its
     * nodes stopped): the pid alone can be another process's by then on a machine whose pids
     * wrap around (pid_max 32768 here) */
    for (int i = 0; i < 6000 && process_alive(pid) && read_pidfile(pidfile) == pid; i++)
        usleep(10000);
    if (process_alive(pid) && read_pidfile(pidfile) == pid) {
        fprintf(stderr, "%s: cluster process %ld still running after 60 s\n", cli_prog, pid);
        return 1;
    }
    fprintf(stderr, "%s: cluster of %s is down\n", cli_prog, file);
    return 0;
}

/* cluster up: starts this machine's nodes of `file`, writes the pid file once every node
 * answers, restarts nodes that die until a stop signal, then stops them and removes the pid
 * file. Returns the exit status. */
static int cluster_up(const char *file, const char *pidfile, int quiet)
{
    static sl_cluster_cfg cl;
    char msg[4096];
    if (sl_cluster_load(file, &cl, msg, sizeof msg)) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return 2;
    }
    char exe[4096];
    if (cli_self_exe(exe, sizeof exe, msg, sizeof msg)) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return 1;
    }
    /* A second `cluster up` of a file whose cluster runs is refused before it starts anything;
     * a pid file left by a process that is gone is replaced. The pid file is written (O_EXCL,
     * so two racing starts cannot both own it) once every node answers: its presence means up. */
    long other = read_pidfile(pidfile);
    if (other > 0 && process_alive(other)) {
        fprintf(stderr,
                "%s: the cluster of %s is already up (pid %ld, in %s); 'sluice cluster down %s' "
                "stops it\n",
                cli_prog, file, other, pidfile, file);
        return 1;
    }
    if (other >= 0)
        unlink(pidfile); /* stale */
    cli_catch_stop_signals();
    sl_launch *launch = NULL;
    int rc = sl_launch_start(exe, file, &cl, quiet, NULL, &launch, msg, sizeof msg);
    if (rc == 0)
        rc = sl_launch_wait_ready(launch, &cl, 60000, msg, sizeof msg);
    if (rc) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        sl_launch_stop(&launch, 30000, msg, sizeof msg);
        return 1;
    }
    if (write_pidfile(pidfile)) {
        fprintf(stderr, "%s: cannot write %s: %s\n", cli_prog, pidfile, strerror(errno));
        sl_launch_stop(&launch, 30000, msg, sizeof msg);
        return 1;
    }
    fprintf(stderr, "%s: cluster up: %u local node process%s, all %u node%s answering\n", cli_prog,
            sl_launch_count(launch), sl_launch_count(launch) == 1 ? "" : "es", cl.nnodes,
            cl.nnodes == 1 ? "" : "s");
    /* A node that dies is started again; the others keep running (and fail, or with fault
     * tolerance recover, the jobs it took part in). A node that keeps dying is restarted at most
     * once a second. */
    while (!cli_stop_requested) {
        if (sl_launch_alive(launch, msg, sizeof msg)) {
            fprintf(stderr, "%s: %s\n", cli_prog, msg);
            if (sl_launch_restart_dead(launch, msg, sizeof msg) > 0)
                fprintf(stderr, "%s: %s\n", cli_prog, msg);
            usleep(1000000);
            continue;
        }
        usleep(100000);
    }
    rc = sl_launch_stop(&launch, 30000, msg, sizeof msg);
    remove_own_pidfile(pidfile);
    if (rc) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return 1;
    }
    fprintf(stderr, "%s: cluster down, every node stopped cleanly\n", cli_prog);
    return 0;
}

int cmd_cluster(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage_cluster(stdout);
        return 0;
    }
    int quiet = argc == 4 && strcmp(argv[3], "--quiet") == 0;
    if ((argc != 3 && !quiet) || (strcmp(argv[1], "up") != 0 && strcmp(argv[1], "down") != 0)) {
        usage_cluster(stderr);
        return 2;
    }
    const char *file = argv[2];
    char pidfile[4200];
    snprintf(pidfile, sizeof pidfile, "%s.pid", file);
    if (strcmp(argv[1], "down") == 0)
        return cluster_down(file, pidfile);
    return cluster_up(file, pidfile, quiet);
}

void usage_keygen(FILE *o)
{
    fprintf(o,
            "usage: sluice keygen DIR [--force]\n"
            "\n"
            "Makes a CURVE key pair for a cluster in DIR (created with mode 0700 when missing):\n"
            "DIR/cluster.key (mode 0600) and DIR/cluster.pub. Name DIR in the cluster file as\n"
            "'curve: {keys: DIR}': every node and client then encrypts its traffic and admits\n"
            "only peers holding this key. Existing keys are kept unless --force.\n");
}

int cmd_keygen(int argc, char **argv)
{
    const char *dir = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage_keygen(stdout);
            return 0;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = 1;
        } else if (argv[i][0] == '-' || dir) {
            fprintf(stderr, "%s keygen: unexpected argument \"%s\" (see sluice keygen --help)\n",
                    cli_prog, argv[i]);
            return 2;
        } else {
            dir = argv[i];
        }
    }
    if (!dir) {
        usage_keygen(stderr);
        return 2;
    }
    char msg[4600];
    if (sl_keys_generate(dir, force, msg, sizeof msg)) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return 1;
    }
    fprintf(stderr, "%s: wrote %s/cluster.key (keep it secret) and %s/cluster.pub\n", cli_prog, dir,
            dir);
    return 0;
}
