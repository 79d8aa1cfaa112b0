/* The job commands (docs/cluster.md, "Jobs that live on the cluster"): sluice job submit, list,
 * status, stop and cancel, sent to node 0 of a running cluster, which keeps the registry of
 * submitted jobs and runs each one's driver (host/cluster/registry.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "coord.h"
#include "err.h"
#include "jobctl.h"
#include "poller.h"

#define FILE_MAX ((size_t)1 << 20) /* a topology or join table shipped with a job, at most */
#define ANSWER_MS 10000            /* how long node 0 has to answer */

void usage_job(FILE *o)
{
    fprintf(o,
            "usage: sluice job submit TOPOLOGY.yaml --cluster CLUSTER.yaml [--from SAVEPOINT]\n"
            "       sluice job list --cluster CLUSTER.yaml\n"
            "       sluice job status|stop|cancel|savepoint ID --cluster CLUSTER.yaml\n"
            "\n"
            "Jobs that live on a running cluster (sluice cluster up), whatever becomes of the\n"
            "command that submitted them. Node 0 keeps their registry and runs each job's\n"
            "driver, its own child: 'sluice run' of the topology in CLUSTER.yaml.jobs/ID on\n"
            "node 0's machine, where its log (log) and standard output (stdout) go.\n"
            "\n"
            "submit  sends the topology (and its join tables named relative to it) to node 0\n"
            "        and starts it; prints the job id as the last word. The source and sink run\n"
            "        on node 0's machine: zmq, tcp, a followed file, the generator or an\n"
            "        absolute file path (stdin is refused); relative paths are taken in the\n"
            "        job's folder there. The job runs until its input ends or it is stopped.\n"
            "list    every job node 0 knows: id, state (running, stopping, cancelling, done,\n"
            "        failed, cancelled, lost), start time, events so far and events/s (of the\n"
            "        last quarter second while it runs, of the whole run once ended), topology\n"
            "status  one job: its state, exit status, events so far and the last line of its\n"
            "        log\n"
            "stop    drains: the input ends, the final rows are written, the job is done\n"
            "cancel  drops: the job ends at once, every node lets go of it\n"
            "savepoint  (a job with checkpoint.every_ms) takes a checkpoint now and copies it\n"
            "        to checkpoint.dir/savepoints/sp-N on node 0's machine, kept until removed;\n"
            "        prints where once it is written\n"
            "--from SAVEPOINT  (submit) starts the job from a savepoint (its absolute path on\n"
            "        node 0's machine): the state, the ids and the input offset it holds; the\n"
            "        kernels may differ if their state type does not (docs/fault-tolerance.md)\n"
            "\n"
            "The commands travel over the cluster's authenticated ZeroMQ (its CURVE keys).\n"
            "Submitted jobs die with node 0; a restarted node 0 lists them as lost, and the\n"
            "jobs that ended with their states. See docs/cluster.md.\n");
}

/* Reads a whole file (at most FILE_MAX bytes) into *text. Returns 0, or -1 (said). */
static int read_text(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b = malloc(FILE_MAX + 1);
    size_t n = 0;
    if (!f || !b) {
        fprintf(stderr, "%s job: cannot read %s: %s\n", cli_prog, path, strerror(errno));
        if (f)
            fclose(f);
        free(b);
        return -1;
    }
    n = fread(b, 1, FILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > FILE_MAX) {
        fprintf(stderr, "%s job: %s: %s\n", cli_prog, path,
                bad ? "read error" : "larger than 1 MiB: not shipped");
        free(b);
        return -1;
    }
    *text = b;
    *len = n;
    return 0;
}

/* Fills the submit command for topology file `path`: checks the topology here, its text and
 * the join tables named relative to it. Returns 0, or an exit status (said). Caller frees
 * *texts (up to 1 + SL_JOBCTL_FILES). */
static int prepare_submit(const char *path, sl_jobctl_req *q, char **texts)
{
    static sl_topology t;
    char err[4096];
    if (sl_config_load(path, &t, err, sizeof err)) {
        fprintf(stderr, "%s job: %s\n", cli_prog, err);
        return 2;
    }
    if (t.source.kind == SL_SRC_STDIN || strcmp(t.source.path, "-") == 0) {
        fprintf(stderr,
                "%s job: %s reads stdin: a submitted job's input must live next to the cluster "
                "(zmq, tcp, a followed file, the generator or a file path on node 0's machine)\n",
                cli_prog, path);
        return 2;
    }
    if (read_text(path, &texts[0], &q->topo_len))
        return 1;
    q->topo = texts[0];
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    snprintf(q->arg, sizeof q->arg, "%s", slash ? slash + 1 : path);
    for (uint32_t i = 0; i < t.nnext; i++) {
        const char *j = t.next[i].join;
        if (!j[0])
            continue;
        /* a join named relative to the topology travels with it; an absolute one is read on
         * node 0's machine */
        if (j[0] == '/' && (dirlen == 0 || strncmp(j, path, dirlen) != 0))
            continue;
        const char *rel = j + dirlen;
        if (q->nfiles == SL_JOBCTL_FILES)
            break;
        uint32_t k = q->nfiles;
        snprintf(q->fname[k], sizeof q->fname[k], "%s", rel);
        if (read_text(j, &texts[1 + k], &q->flen[k]))
            return 1;
        q->ftext[k] = texts[1 + k];
        q->nfiles++;
    }
    return 0;
}

/* Sends the command to the job coordinator: node 0, or with zookeeper the node elected there.
 * With zookeeper a node that does not answer (it may have died: ZooKeeper names it until its
 * session ends) or that answers it is not the coordinator (the seat just changed) is not the
 * end: the coordinator is looked up again, up to 3 times. Returns 0 or an sl_err (said in
 * msg). */
static int call(const sl_cluster_cfg *cl, sl_jobctl_req *q, int *refused, char *out, size_t outlen,
                char *msg, size_t msglen)
{
    if (!cl->zk.connect[0])
        return sl_jobctl_call(cl, 0, q, ANSWER_MS, refused, out, outlen, msg, msglen);
    int rc = SL_EIO;
    for (int attempt = 0; attempt < 3; attempt++) {
        uint32_t node;
        if (attempt)
            sl_net_sleep_ms(cl->zk.session_ms / 2);
        if ((rc = sl_coord_find_leader(cl, ANSWER_MS, &node, msg, msglen)))
            return rc;
        rc = sl_jobctl_call(cl, node, q, ANSWER_MS, refused, out, outlen, msg, msglen);
        if (rc == 0 && *refused && strstr(out, "is not the job coordinator")) {
            sl_set_msg(msg, msglen, "%.1000s", out);
            rc = SL_EIO;
            continue;
        }
        if (rc != SL_EIO)
            return rc;
    }
    return rc;
}

/* The "last savepoint:" line of job id's status into buf ("" when none or no answer). Returns
 * 1 while the job runs (or did not answer), else 0. */
#define SAVEPOINT_MS 60000
static int savepoint_line(const sl_cluster_cfg *cl, const char *id, char *buf, size_t len)
{
    static sl_jobctl_req q;
    static char out[65536];
    char msg[1024];
    int refused = 0;
    memset(&q, 0, sizeof q);
    snprintf(q.verb, sizeof q.verb, "status");
    snprintf(q.arg, sizeof q.arg, "%s", id);
    buf[0] = '\0';
    if (call(cl, &q, &refused, out, sizeof out, msg, sizeof msg) || refused)
        return 1; /* no answer now: ask again */
    const char *l = strstr(out, "last savepoint: ");
    if (l) {
        l += strlen("last savepoint: ");
        const char *e = strchr(l, '\n');
        snprintf(buf, len, "%.*s", e ? (int)(e - l) : (int)strlen(l), l);
    }
    return strstr(out, ": running\n") != NULL;
}

/* After `job savepoint ID`: asks for the job's status until its driver's log says where a
 * savepoint newer than `before` went (or that it failed), for up to SAVEPOINT_MS; prints that
 * line. Returns the exit status. */
static int await_savepoint(const sl_cluster_cfg *cl, const char *id, const char *before)
{
    char line[1024];
    for (int waited = 0; waited < SAVEPOINT_MS; waited += 250) {
        int running = savepoint_line(cl, id, line, sizeof line);
        if (line[0] && strcmp(line, before) != 0) {
            printf("%s\n", line);
            return strstr(line, " written to ") ? 0 : 1;
        }
        if (!running) {
            fprintf(stderr, "%s job savepoint: the job ended before its savepoint\n", cli_prog);
            return 1;
        }
        struct timespec ts = {0, 250000000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "%s job savepoint: no savepoint within %d s (see `sluice job status %s`)\n",
            cli_prog, SAVEPOINT_MS / 1000, id);
    return 1;
}

int cmd_job(int argc, char **argv)
{
    const char *cluster = NULL, *verb = NULL, *arg = NULL, *from = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage_job(stdout);
            return 0;
        } else if (strcmp(argv[i], "--cluster") == 0 && i + 1 < argc) {
            cluster = argv[++i];
        } else if (strncmp(argv[i], "--cluster=", 10) == 0) {
            cluster = argv[i] + 10;
        } else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
            from = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "%s job: unknown option \"%s\" (see sluice job --help)\n", cli_prog,
                    argv[i]);
            return 2;
        } else if (!verb) {
            verb = argv[i];
        } else if (!arg) {
            arg = argv[i];
        } else {
            fprintf(stderr, "%s job: unexpected argument \"%s\" (see sluice job --help)\n",
                    cli_prog, argv[i]);
            return 2;
        }
    }
    int needs_arg = verb && strcmp(verb, "list") != 0;
    if (!verb || !cluster || (needs_arg && !arg) || (!needs_arg && arg) ||
        (strcmp(verb, "submit") && strcmp(verb, "list") && strcmp(verb, "status") &&
         strcmp(verb, "stop") && strcmp(verb, "cancel") && strcmp(verb, "savepoint")) ||
        (from && strcmp(verb, "submit"))) {
        usage_job(stderr);
        return 2;
    }
    static sl_cluster_cfg cl;
    static sl_jobctl_req q;
    char msg[4096];
    if (sl_cluster_load(cluster, &cl, msg, sizeof msg)) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return 2;
    }
    snprintf(q.verb, sizeof q.verb, "%s", verb);
    char *texts[1 + SL_JOBCTL_FILES] = {NULL};
    int status = 0;
    if (strcmp(verb, "submit") == 0)
        status = prepare_submit(arg, &q, texts);
    if (status == 0 && from && from[0] != '/') {
        fprintf(stderr,
                "%s job submit: --from %s: give the savepoint's absolute path on node 0's "
                "machine\n",
                cli_prog, from);
        status = 2;
    } else if (status == 0 && from && strlen(from) >= sizeof q.from) {
        fprintf(stderr, "%s job submit: --from: path too long\n", cli_prog);
        status = 2;
    } else if (from) {
        snprintf(q.from, sizeof q.from, "%s", from);
    } else if (arg)
        snprintf(q.arg, sizeof q.arg, "%s", arg);
    char before[1024] = "";
    if (status == 0 && strcmp(verb, "savepoint") == 0)
        savepoint_line(&cl, arg, before, sizeof before);
    if (status == 0) {
        static char out[65536];
        int refused = 0;
        if (call(&cl, &q, &refused, out, sizeof out, msg, sizeof msg)) {
            fprintf(stderr, "%s job %s: %s\n", cli_prog, verb, msg);
            status = 1;
        } else if (refused) {
            fprintf(stderr, "%s job %s: %s\n", cli_prog, verb, out);
            status = 1;
        } else {
            size_t l = strlen(out);
            fputs(out, stdout);
            if (l && out[l - 1] != '\n')
                fputc('\n', stdout);
            if (strcmp(verb, "savepoint") == 0)
                status = await_savepoint(&cl, arg, before);
        }
    }
    for (int i = 0; i < 1 + SL_JOBCTL_FILES; i++)
        free(texts[i]);
    return status;
}
