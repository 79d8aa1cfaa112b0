/* Running a topology here or on a cluster, with its input, output and reports (execute.h). */
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "cli.h"
#include "client.h"
#include "config.h"
#include "err.h"
#include "execute.h"
#include "monitor.h"
#include "launch.h"
#include "outfile.h"
#include "pipeline.h"
#include "ingestlog.h"
#include "resume.h"
#include "proc.h"

/* Runs the topology on a cluster (a running one, or local nodes started here). Returns 0 or an
 * SL_E* code with the reason in msg. */
#define RECOVERIES 10 /* node failures a --nodes run with checkpoints recovers from */

#define ANSWER_MS 3000 /* how long a node has to answer after a failure before it is replaced */

/* After a node failure: which nodes play which in the next attempt. With --nodes (launch), a
 * node that does not answer within ANSWER_MS (paused, hung) is fenced (SIGKILL: it can never act
 * again) and every dead node is started again. On a cluster file's nodes (cluster up restarts a
 * dead one), a node that does not answer within ANSWER_MS is replaced: a survivor takes over its
 * partitions and loads its state from the checkpoint (rec->host), while the epoch's new job id
 * fences it off should it come back. Returns 0 or an sl_err with msg. */
/* Gives each node that is not alive (alive[d] == 0) to the survivors in turn: the survivor plays
 * it in the next attempt (rec->host). A node already played by a survivor stays with it while
 * that survivor lives. Returns 0. */
static int relocate_to(const sl_cluster_cfg *cl, sl_client_recovery *rec, const int *alive)
{
    uint32_t live[SL_NODES_MAX], nlive = 0, next = 0;
    for (uint32_t d = 0; d < cl->nnodes; d++)
        if (alive[d])
            live[nlive++] = d;
    if (!rec->host_set)
        for (uint32_t d = 0; d < cl->nnodes; d++)
            rec->host[d] = d;
    rec->host_set = 1;
    for (uint32_t d = 0; d < cl->nnodes; d++) {
        if (alive[rec->host[d]])
            continue;
        rec->host[d] = alive[d] ? d : live[next++ % nlive];
        if (rec->host[d] == d)
            fprintf(stderr, "%s: node %u plays its own partitions again\n", cli_prog, d);
        else
            fprintf(stderr, "%s: node %u does not answer: node %u takes over its partitions\n",
                    cli_prog, d, rec->host[d]);
    }
    return 0;
}

static int failover(sl_launch *launch, const sl_cluster_cfg *cl, const sl_topology *t,
                    sl_client_recovery *rec, char *msg, size_t msglen)
{
    int answered[SL_NODES_MAX] = {0};
    char why[1024];
    int rc;
    /* a survivor can play a failed node only in a one-stage job fed by the client; else the
     * job waits for the node to answer again (started again here, or by cluster up) */
    int relocate = !t->nnext && t->source.ingest != SL_INGEST_NODES;
    if (launch) {
        /* a child that died is known at once; one that is silent (paused, hung) and does not
         * answer now is fenced */
        if (!sl_launch_alive(launch, why, sizeof why)) {
            if ((rc = sl_client_ping_some(cl, ANSWER_MS, NULL, answered, why, sizeof why)) &&
                rc != SL_EIO) {
                snprintf(msg, msglen, "%s", why);
                return rc;
            }
            int fenced = sl_launch_fence(launch, answered);
            if (fenced)
                fprintf(stderr, "%s: %d node process%s did not answer within %d ms: killed\n",
                        cli_prog, fenced, fenced == 1 ? "" : "es", ANSWER_MS);
        }
        /* a survivor takes over at once (starting a process, opening its device and building
         * its kernels would take a second or more); only when none is left are they started
         * again */
        int alive[SL_NODES_MAX] = {0}, nalive = 0;
        if (relocate) {
            sl_launch_retire_dead(launch, alive);
            for (uint32_t d = 0; d < cl->nnodes; d++)
                nalive += alive[d];
        }
        if (nalive)
            return relocate_to(cl, rec, alive);
        if ((rc = sl_launch_restart_dead(launch, msg, msglen)) < 0)
            return rc;
        if (rc > 0)
            fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return sl_launch_wait_ready(launch, cl, 60000, msg, msglen);
    }
    if ((rc = sl_client_ping_some(cl, relocate ? ANSWER_MS : 60000, NULL, answered, why,
                                  sizeof why)) &&
        rc != SL_EIO) {
        snprintf(msg, msglen, "%s", why);
        return rc;
    }
    if (rc && !relocate) {
        snprintf(msg, msglen, "%s", why);
        return rc;
    }
    uint32_t nalive = 0;
    for (uint32_t d = 0; d < cl->nnodes; d++)
        nalive += answered[d] != 0;
    if (!nalive) {
        snprintf(msg, msglen, "no node answers: %s", why);
        return SL_EIO;
    }
    return relocate_to(cl, rec, answered);
}

/* Loads the complete checkpoint a clustered run starts from: --from's (a savepoint folder, or
 * a checkpoint.dir) or, with --resume, checkpoint.dir's newest (none: the run starts afresh).
 * Returns 0 or an sl_err with msg. */
static int load_point(const struct cli_target *tg, const sl_topology *t, const sl_cluster_cfg *cl,
                      sl_client_recovery *rec, char *msg, size_t msglen)
{
    if (!t->checkpoint.every_ms) {
        snprintf(msg, msglen, "%s on a cluster needs checkpoints (checkpoint.every_ms)",
                 tg->resume_from ? "--from" : "--resume");
        return SL_EINVAL;
    }
    const char *dir = tg->resume_from ? tg->resume_from : t->checkpoint.dir;
    int r = sl_resume_load(dir, t, cl->nnodes, rec, msg, msglen);
    if (r < 0)
        return r;
    if (r == 0) {
        if (!tg->resume_from)
            return 0;
        snprintf(msg, msglen, "--from %s: no complete checkpoint there (client/ckpt-*)", dir);
        return SL_EINVAL;
    }
    if (tg->resume_from) {
        char abs[PATH_MAX];
        if (!realpath(dir, abs) || strlen(abs) >= sizeof rec->restore_dir) {
            snprintf(msg, msglen, "--from %s: %s", dir, strerror(errno));
            return SL_EIO;
        }
        snprintf(rec->restore_dir, sizeof rec->restore_dir, "%s", abs);
        sl_resume_drop_logs(t->checkpoint.dir); /* a new run: its own ingest log */
    } else if (!sl_source_replayable(t)) {
        /* --resume of a live source: the log goes on, and what follows the checkpoint in it is
         * sent again */
        char logdir[4200];
        snprintf(logdir, sizeof logdir, "%s/client", t->checkpoint.dir);
        int rc = sl_ingestlog_open(logdir, SL_INGESTLOG_RESUME, &rec->log, msg, msglen);
        if (rc)
            return rc;
    }
    /* barriers numbered above any the killed client took (a segment of the ingest log, or a
     * node's file, of a barrier that never completed) */
    uint64_t top = sl_resume_highest(t->checkpoint.dir);
    if (rec->next_id <= top)
        rec->next_id = top + 1;
    rec->node_failed = 1; /* read the input again from the checkpoint's offset */
    if (!tg->resume_from)
        rec->epoch = 1; /* a later attempt of the run: a job id of its own, so that the nodes
                         * never take it for the killed client's job (same --job-id) */
    fprintf(stderr, "%s: resuming from checkpoint %" PRIu64 " of %s\n", cli_prog, rec->ckpt_id,
            dir);
    return 0;
}

static int run_cluster(const struct cli_target *tg, sl_topology *t, const sl_pipeline_opts *o,
                       sl_pipeline_report *rep, sl_client_report *crep, char *msg, size_t msglen)
{
    char path[4096], dir[4096] = "";
    static sl_cluster_cfg cl;
    sl_launch *launch = NULL;
    int rc, answered[SL_NODES_MAX] = {0}, without_some = 0;
    /* Local nodes take free ports found just before they start; another launch can take them
     * first (the node then exits, or another cluster answers there). Such a start is retried on
     * other ports. */
    for (int attempt = 1;; attempt++) {
        if (tg->nodes) {
            uint32_t metrics = 0; /* --metrics 127.0.0.1:P: node i serves at P + i */
            const char *colon = tg->metrics ? strrchr(tg->metrics, ':') : NULL;
            if (colon)
                metrics = (uint32_t)strtoul(colon + 1, NULL, 10);
            if ((rc = sl_launch_local_cluster(tg->nodes, t->device, metrics, dir, sizeof dir, path,
                                              sizeof path, msg, msglen)))
                return rc;
        } else {
            snprintf(path, sizeof path, "%s", tg->cluster_file);
        }
        if ((rc = sl_cluster_load(path, &cl, msg, msglen)))
            goto out;
        if (!tg->nodes) {
            /* With checkpoints, a one-stage job fed by this client starts without the nodes
             * that do not answer (stopped, cut off: a driver started again by a new coordinator
             * meets them), survivors playing their partitions as after a failure. */
            rc = sl_client_ping_some(&cl, 5000, NULL, answered, msg, msglen);
            int relocate =
                t->checkpoint.every_ms && !t->nnext && t->source.ingest != SL_INGEST_NODES;
            for (uint32_t d = 0; rc == SL_EIO && relocate && d < cl.nnodes; d++)
                without_some |= answered[d]; /* some did not answer, this one did */
            if (without_some) {
                fprintf(stderr, "%s: %s: the others take over their partitions\n", cli_prog, msg);
                rc = 0;
            }
            if (rc)
                goto out;
            break;
        }
        char exe[4096];
        if (cli_self_exe(exe, sizeof exe, msg, msglen)) {
            rc = SL_EIO;
            goto out;
        }
        if ((rc = sl_launch_start(exe, path, &cl, 1, dir, &launch, msg, msglen)) == 0)
            rc = sl_launch_wait_ready(launch, &cl, 60000, msg, msglen);
        /* A node process killed before every node answered: no job was sent yet, so nothing is
         * lost; it is started again, as after a failure (RECOVERIES times at most). */
        for (int again = 0;
             rc == SL_EIO && launch && again < RECOVERIES && sl_launch_killed(launch); again++) {
            char rmsg[1024];
            if (sl_launch_restart_dead(launch, rmsg, sizeof rmsg) <= 0)
                break;
            fprintf(stderr, "%s: before the nodes were ready: %s\n", cli_prog, rmsg);
            rc = sl_launch_wait_ready(launch, &cl, 60000, msg, msglen);
        }
        if (rc == 0)
            break;
        if (attempt == 3 || rc != SL_ECONFLICT)
            goto out;
        fprintf(stderr, "%s: local nodes could not start (%s); trying other ports\n", cli_prog,
                msg);
        char smsg[1024];
        sl_launch_stop(&launch, 5000, smsg, sizeof smsg);
        sl_launch_remove_local(dir);
        dir[0] = '\0';
    }
    sl_client_recovery rec = {0};
    sl_client_opts co = {.cl = &cl,
                         .po = o,
                         .alive = launch ? sl_launch_alive : NULL,
                         .alive_ud = launch,
                         .quiet = 0,
                         .job_id = tg->job_id,
                         .driver_epoch = tg->driver_epoch,
                         .rec = &rec};
    if (!(rec.dict = sl_addict_new())) {
        rc = SL_ENOMEM;
        goto out;
    }
    /* --from SAVEPOINT, --resume: the first attempt goes on from a complete checkpoint */
    if ((tg->resume_from || tg->resume) && (rc = load_point(tg, t, &cl, &rec, msg, msglen))) {
        sl_addict_destroy(&rec.dict);
        goto out;
    }
    if (without_some)
        relocate_to(&cl, &rec, answered);
    sl_pipeline_opts po = *o;
    po.resume_from = NULL;
    co.po = &po;
    co.savepoint = &cli_savepoint_requested;
    cli_catch_savepoint_signal();
    /* With checkpoints, a node that dies is started again (here for --nodes; by `cluster up` for
     * a cluster file's nodes) and the job resumes from the newest checkpoint every node wrote
     * (at most RECOVERIES times). */
    uint64_t recoveries_done = 0, resumed_from = 0;
    for (int recoveries = 0;; recoveries++) {
        rc = sl_client_run(&co, rep, crep, msg, msglen);
        if (rc == 0 || !t->checkpoint.every_ms || !rec.node_failed || recoveries == RECOVERIES ||
            (o->cancel && *o->cancel))
            break;
        char from[64] = "the start (no checkpoint was complete)";
        if (rec.ckpt_id)
            snprintf(from, sizeof from, "checkpoint %" PRIu64, rec.ckpt_id);
        rec.epoch++;
        fprintf(stderr, "%s: %s\n%s: recovering (epoch %u): resuming from %s\n", cli_prog, msg,
                cli_prog, rec.epoch, from);
        if ((rc = failover(launch, &cl, t, &rec, msg, msglen)))
            break;
        recoveries_done++;
        resumed_from = rec.ckpt_id;
    }
    rep->ckpt.written = rec.written;
    rep->ckpt.failed = rec.failed;
    rep->ckpt.recoveries = recoveries_done;
    rep->ckpt.resumed_id = recoveries_done ? resumed_from : 0;
    sl_client_recovery_end(&rec);
    sl_addict_destroy(&rec.dict);
out:
    if (launch) {
        char smsg[1024];
        int src = sl_launch_stop(&launch, 30000, smsg, sizeof smsg);
        if (src && rc == 0 && t->checkpoint.every_ms) {
            /* every node delivered its final rows: a node lost after that loses nothing */
            fprintf(stderr,
                    "%s: stopping the nodes: %s (after the job ended: the results are "
                    "complete)\n",
                    cli_prog, smsg);
        } else if (src && rc == 0) {
            snprintf(msg, msglen, "stopping the nodes: %s", smsg);
            rc = src;
        }
    }
    if (dir[0])
        sl_launch_remove_local(dir);
    return rc;
}

int cli_execute(sl_topology *t, struct report_ctx *rc, uint64_t top, uint64_t min_impressions,
                const struct cli_target *tg)
{
    FILE *in = NULL, *out = NULL;
    sl_outfile *of = NULL;
    int status = 0;
    const char *in_path = NULL; /* the input file's name, NULL for stdin or the generator */
    char msg[8192];
    if (t->source.kind == SL_SRC_STDIN || strcmp(t->source.path, "-") == 0) {
        in = stdin;
    } else if (t->source.kind == SL_SRC_FILE) {
        in_path = t->source.path;
        in = fopen(in_path, "rb");
        struct stat st;
        int e = 0;
        if (!in)
            e = errno;
        else if (fstat(fileno(in), &st) == 0 && S_ISDIR(st.st_mode))
            e = EISDIR; /* fopen opens a folder; reading it would fail with EISDIR */
        if (e) {
            fprintf(stderr, "%s: cannot %s input %s: %s\n", cli_prog, in ? "read" : "open", in_path,
                    strerror(e));
            if (in)
                fclose(in);
            return 1;
        }
    }
    if (!top) {
        if (strcmp(t->sink.path, "-") == 0) {
            out = stdout;
        } else {
            if (sl_outfile_check_not_input(t->sink.path, in ? fileno(in) : -1, in_path, msg,
                                           sizeof msg)) {
                fprintf(stderr, "%s: %s\n", cli_prog, msg);
                if (in && in != stdin)
                    fclose(in);
                return 2;
            }
            /* A result stream (snapshots) is written in place, so that it can be followed; so is
             * the output of a one-process run with checkpoints, which must outlive a crash, and
             * a resumed one keeps it (the checkpoint takes it back to its committed length). A
             * cluster's client does not commit its output yet: renamed at the end, as before. */
            int local = !(tg && (tg->cluster_file || tg->nodes));
            int mode = local && tg && tg->resume_from ? SL_OUTFILE_KEEP
                       : (local && t->checkpoint.every_ms > 0) || t->sink.snapshots
                           ? SL_OUTFILE_IN_PLACE
                           : SL_OUTFILE_RENAME;
            if (sl_outfile_open_mode(t->sink.path, mode, &of, msg, sizeof msg)) {
                fprintf(stderr, "%s: %s\n", cli_prog, msg);
                if (in && in != stdin)
                    fclose(in);
                return 1;
            }
            out = sl_outfile_stream(of);
        }
    }
    if (!rc->quiet && isatty(STDERR_FILENO))
        rc->progress = 1;
    sl_pipeline_opts o = {
        .topo = t,
        .in = in,
        .out = out,
        .outfile = of,
        .top = top,
        .top_min_impressions = min_impressions,
        .top_out = stdout,
        .on_bad = report_on_bad,
        .bad_ud = rc,
        .strict = rc->strict,
        .on_progress =
            (rc->progress && !rc->quiet) || rc->progress_file ? report_on_progress : NULL,
        .progress_ud = rc,
        .progress_every_s = 0.25,
        .devices = tg ? tg->devices : 0,
        .resume_from = tg ? tg->resume_from : NULL,
    };
    sl_pipeline_report rep;
    static sl_client_report crep;
    int clustered = tg && (tg->cluster_file || tg->nodes);
    /* SIGINT, SIGTERM: stop reading, finish what was read (on a cluster: send it, end the
     * stream and wait for the nodes' final rows), write the final rows, exit 0; a second one
     * gives the run up (a cluster's nodes are told to drop the job). */
    cli_catch_stop_signals();
    o.stop = &cli_stop_requested;
    o.cancel = &cli_cancel_requested;
    struct cli_monitor mon = {0};
    if (tg && tg->metrics) {
        const char *colon = strrchr(tg->metrics, ':');
        unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : 0;
        int loopback =
            colon && ((colon - tg->metrics == 9 && !strncmp(tg->metrics, "127.0.0.1", 9)) ||
                      (colon - tg->metrics == 9 && !strncmp(tg->metrics, "localhost", 9)));
        if (tg->cluster_file) {
            fprintf(stderr,
                    "%s: --metrics: a running cluster's nodes serve metrics where its file says "
                    "(nodes[i].metrics, docs/metrics.md)\n",
                    cli_prog);
            status = 2;
        } else if (tg->nodes && (!loopback || port == 0 || port + tg->nodes > 65536)) {
            fprintf(stderr,
                    "%s: --metrics with --nodes N: 127.0.0.1:PORT, node i then serves at PORT + i "
                    "(PORT 1..%lu)\n",
                    cli_prog, 65536UL - tg->nodes);
            status = 2;
        } else if (tg->nodes) {
            if (!rc->quiet)
                for (uint32_t i = 0; i < tg->nodes; i++)
                    fprintf(stderr,
                            "%s: node %u: metrics at http://127.0.0.1:%lu/metrics, web UI at "
                            "http://127.0.0.1:%lu/\n",
                            cli_prog, i, port + i, port + i);
        } else if (cli_monitor_start(&mon, tg->metrics, t, tg->job_name ? tg->job_name : "job",
                                     rc->quiet)) {
            status = 1;
        }
        if (status) {
            if (in && in != stdin)
                fclose(in);
            if (of)
                sl_outfile_abort(&of);
            return status;
        }
        if (mon.ui) {
            rc->ui = mon.ui;
            rc->ui_job = mon.name;
            o.on_stats = cli_monitor_stats;
            o.stats_ud = &mon;
            o.stats_every_s = 0.25;
        }
    }
    int err = clustered ? run_cluster(tg, t, &o, &rep, &crep, msg, sizeof msg)
                        : sl_pipeline_run(&o, &rep, msg, sizeof msg);
    rc->ui = NULL;
    cli_monitor_finish(&mon, &rep, err != 0);
    if (err && rc->progress)
        report_clear_line();
    if (rc->progress_file) {
        /* the last word: the whole run's count (the nodes' on a cluster) when it ended well,
         * else the last count seen */
        sl_progress p = rc->last;
        if (!err) {
            p.events = rep.engine.events_in;
            p.bad = rep.input.bad;
            p.elapsed_s = rep.elapsed_s;
        }
        p.rate = p.elapsed_s > 0 ? (double)p.events / p.elapsed_s : 0.0;
        report_progress_file(rc, &p, 1);
    }
    if (err && of && sl_outfile_error(of)) {
        /* The run failed because the output could not be written: say why. */
        fprintf(stderr, "%s: writing %s failed: %s\n", cli_prog, t->sink.path,
                strerror(sl_outfile_error(of)));
        status = 1;
    } else if (err) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        status = err == SL_EPARSE ? 2 : 1;
    } else {
        if (!rc->quiet) {
            report_summary(&rep, rc);
            if (clustered)
                report_cluster(&crep);
        }
        report_bad_total(&rep, rc);
        /* too many malformed lines: a failed run, whose file output is not committed */
        if (report_too_malformed(&rep, t->source.max_malformed))
            status = REPORT_TOO_MALFORMED;
    }
    if (in && in != stdin)
        fclose(in);
    if (of && status == 0) {
        if (sl_outfile_commit(&of, msg, sizeof msg) != 0) {
            fprintf(stderr, "%s: %s\n", cli_prog, msg);
            status = 1;
        }
    } else if (of) {
        sl_outfile_abort(&of); /* an existing output stays as it was */
    } else if (out == stdout && fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "%s: writing to stdout failed: %s\n", cli_prog, strerror(errno));
        status = 1;
    }
    return status;
}
