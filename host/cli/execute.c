/* Running a topology here or on a cluster, with its input, output and reports (execute.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "cli.h"
#include "client.h"
#include "config.h"
#include "err.h"
#include "execute.h"
#include "launch.h"
#include "outfile.h"
#include "pipeline.h"
#include "proc.h"

/* Runs the topology on a cluster (a running one, or local nodes started here). Returns 0 or an
 * SL_E* code with the reason in msg. */
#define RECOVERIES 10 /* node failures a --nodes run with checkpoints recovers from */

static int run_cluster(const struct cli_target *tg, sl_topology *t, const sl_pipeline_opts *o,
                       sl_pipeline_report *rep, sl_client_report *crep, char *msg, size_t msglen)
{
    char path[4096], dir[4096] = "";
    static sl_cluster_cfg cl;
    sl_launch *launch = NULL;
    int rc;
    /* Local nodes take free ports found just before they start; another launch can take them
     * first (the node then exits, or another cluster answers there). Such a start is retried on
     * other ports. */
    for (int attempt = 1;; attempt++) {
        if (tg->nodes) {
            if ((rc = sl_launch_local_cluster(tg->nodes, t->device, dir, sizeof dir, path,
                                              sizeof path, msg, msglen)))
                return rc;
        } else {
            snprintf(path, sizeof path, "%s", tg->cluster_file);
        }
        if ((rc = sl_cluster_load(path, &cl, msg, msglen)))
            goto out;
        if (!tg->nodes) {
            if ((rc = sl_client_ping(&cl, 5000, NULL, msg, msglen)))
                goto out;
            break;
        }
        char exe[4096];
        if (cli_self_exe(exe, sizeof exe, msg, msglen)) {
            rc = SL_EIO;
            goto out;
        }
        if ((rc = sl_launch_start(exe, path, &cl, 1, dir, &launch, msg, msglen)) == 0 &&
            (rc = sl_launch_wait_ready(launch, &cl, 60000, msg, msglen)) == 0)
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
                         .rec = &rec};
    if (!(rec.dict = sl_addict_new())) {
        rc = SL_ENOMEM;
        goto out;
    }
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
        fprintf(stderr, "%s: %s\n%s: %s and resuming from %s\n", cli_prog, msg, cli_prog,
                launch ? "starting the node again"
                       : "waiting until every node answers (cluster up restarts a dead one)",
                from);
        if (launch) {
            if ((rc = sl_launch_restart_dead(launch, msg, msglen)) < 0 ||
                (rc = sl_launch_wait_ready(launch, &cl, 60000, msg, msglen)))
                break;
        } else if ((rc = sl_client_ping(&cl, 60000, NULL, msg, msglen))) {
            break;
        }
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
            /* A result stream (snapshots) is written in place, so that it can be followed. */
            if (sl_outfile_open_mode(t->sink.path, t->sink.snapshots, &of, msg, sizeof msg)) {
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
    int err = clustered ? run_cluster(tg, t, &o, &rep, &crep, msg, sizeof msg)
                        : sl_pipeline_run(&o, &rep, msg, sizeof msg);
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
