/* The run's reports on stderr: malformed lines, progress, summaries (report.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "placement.h"
#include "report.h"
#include "webui.h"

#define MAX_SHOWN_BAD 10

void report_clear_line(void)
{
    fputs("\r\033[K", stderr);
}

int report_on_bad(void *ud, uint64_t line, size_t column, uint64_t byte_offset, const char *reason)
{
    struct report_ctx *rc = ud;
    if (rc->shown < MAX_SHOWN_BAD || rc->strict) {
        if (rc->progress)
            report_clear_line();
        fprintf(stderr, "line %" PRIu64 ": %s (column %zu, byte %" PRIu64 ")\n", line, reason,
                column, byte_offset);
    }
    rc->shown++;
    if (rc->ui)
        sl_webui_note_bad(rc->ui, rc->ui_job, line, column, byte_offset, reason);
    return rc->strict;
}

void report_progress_file(struct report_ctx *rc, const sl_progress *p, int final)
{
    if (!rc->progress_file || rc->progress_file_failed)
        return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", rc->progress_file);
    FILE *f = fopen(tmp, "w");
    int ok = f != NULL;
    if (ok) {
        fprintf(f,
                "events %" PRIu64 "\nmalformed %" PRIu64 "\nrate %.1f\nelapsed_s %.3f\ntime %lld\n"
                "final %d\n",
                p->events, p->bad, p->rate, p->elapsed_s, (long long)time(NULL), final);
        ok = fflush(f) == 0 && !ferror(f);
        ok = fclose(f) == 0 && ok;
    }
    if (ok && rename(tmp, rc->progress_file) == 0) {
        rc->last = *p;
        return;
    }
    if (rc->progress)
        report_clear_line();
    fprintf(stderr, "%s: cannot write the progress file %s: %s (not tried again)\n", cli_prog,
            rc->progress_file, strerror(errno));
    remove(tmp);
    rc->progress_file_failed = 1;
}

void report_on_progress(void *ud, const sl_progress *p)
{
    struct report_ctx *rc = ud;
    if (p)
        report_progress_file(rc, p, 0);
    if (!rc->progress) /* no progress line (or it was cleared for good) */
        return;
    report_clear_line();
    if (!p) {
        fflush(stderr);
        rc->progress = 0; /* cleared: the summary need not clear it again */
        return;
    }
    fprintf(stderr, "%12" PRIu64 " events  %8.2f M events/s  %6.1f s", p->events, p->rate / 1e6,
            p->elapsed_s);
    if (p->bad)
        fprintf(stderr, "  %" PRIu64 " malformed", p->bad);
    fflush(stderr);
}

void report_summary(const sl_pipeline_report *r, const struct report_ctx *rc)
{
    const sl_engine_stats *e = &r->engine;
    if (rc->progress)
        report_clear_line();
    fprintf(stderr, "sluice: %" PRIu64 " events in %.3f s (%.2f M events/s) on %s / %s\n",
            e->events_in, r->elapsed_s,
            r->elapsed_s > 0 ? (double)e->events_in / r->elapsed_s / 1e6 : 0.0, r->device.platform,
            r->device.name);
    fprintf(stderr,
            "  by type: view %" PRIu64 ", click %" PRIu64 ", purchase %" PRIu64 ", other %" PRIu64
            "\n",
            e->type_counts[0], e->type_counts[1], e->type_counts[2], e->type_counts[3]);
    char in_place[64] = "";
    if (e->events_in_place)
        snprintf(in_place, sizeof in_place, " (%" PRIu64 " events read straight into them)",
                 e->events_in_place);
    fprintf(
        stderr,
        "  rows %" PRIu64 ", batches %" PRIu64 "%s; host batching %.3f s, transfer %.3f s, kernels "
        "%.3f s, emit %.3f s\n",
        e->rows_emitted, e->batches, in_place, e->t_batch, e->t_transfer, e->t_kernel, e->t_emit);
    for (uint32_t i = 0; r->ndevices > 1 && i < r->ndevices; i++) {
        const sl_engine_stats *d = &r->multi.dev[i];
        fprintf(stderr,
                "  device %u (%s): %" PRIu64 " events, %" PRIu64 " keys, batching %.3f s, "
                "transfer %.3f s, kernels %.3f s, emit %.3f s\n",
                i, r->devices[i].name, d->events_in, d->keys, d->t_batch, d->t_transfer,
                d->t_kernel, d->t_emit);
    }
    for (uint32_t i = 0; r->placed && i < (r->ndevices ? r->ndevices : 1); i++) {
        char buf[1200];
        sl_placement_str(&r->placement[i], buf, sizeof buf);
        if (r->ndevices > 1)
            fprintf(stderr, "  placement of device %u: %s\n", i, buf);
        else
            fprintf(stderr, "  placement: %s\n", buf);
    }
    if (r->ndevices > 1 && r->multi.t_wait > 0.001)
        fprintf(stderr, "  waited %.3f s for full device queues\n", r->multi.t_wait);
    if (r->filtered)
        fprintf(stderr, "  filtered out by event type: %" PRIu64 "\n", r->filtered);
    if (r->ckpt.recoveries)
        fprintf(stderr,
                "  recovered from %" PRIu64 " node failure%s (the last from checkpoint %" PRIu64
                ")\n",
                r->ckpt.recoveries, r->ckpt.recoveries == 1 ? "" : "s", r->ckpt.resumed_id);
    else if (r->ckpt.resumed_id && r->ckpt.replayed)
        fprintf(stderr,
                "  resumed from checkpoint %" PRIu64 ", then %" PRIu64
                " records from the ingest log\n",
                r->ckpt.resumed_id, r->ckpt.replayed);
    else if (r->ckpt.resumed_id)
        fprintf(stderr, "  resumed from checkpoint %" PRIu64 "\n", r->ckpt.resumed_id);
    uint64_t taken = r->ckpt.written + r->ckpt.failed;
    if (taken && r->ckpt.total_s == 0) /* a cluster's: the nodes take them */
        fprintf(stderr,
                "  checkpoints: %" PRIu64 " written by every node, %" PRIu64 " failed on one\n",
                r->ckpt.written, r->ckpt.failed);
    else if (taken)
        fprintf(stderr,
                "  checkpoints: %" PRIu64 " written (the last %.1f MB), %.1f ms each on the run's "
                "thread on average (%.1f ms at most), then %.1f ms writing on the writer's "
                "(%.1f at most); %" PRIu64 " waited for the previous one; %" PRIu64 " failed\n",
                r->ckpt.written, (double)r->ckpt.last_bytes / 1e6,
                r->ckpt.total_s * 1e3 / (double)taken, r->ckpt.max_s * 1e3,
                r->ckpt.write_s * 1e3 / (double)taken, r->ckpt.write_max_s * 1e3, r->ckpt.deferred,
                r->ckpt.failed);
    if (e->events_bad_time)
        fprintf(stderr, "  events dropped for a time beyond +-2^62 ms (windowed PE): %" PRIu64 "\n",
                e->events_bad_time);
    if (e->events_late)
        fprintf(stderr, "  late events dropped (window already closed): %" PRIu64 "\n",
                e->events_late);
    if (r->input.lines)
        fprintf(stderr,
                "  input: %" PRIu64 " lines, %" PRIu64 " records, %" PRIu64 " blank, %" PRIu64
                " malformed\n",
                r->input.lines, r->input.records, r->input.blank, r->input.bad);
}

void report_bad_total(const sl_pipeline_report *r, const struct report_ctx *rc)
{
    if (r->input.bad > MAX_SHOWN_BAD)
        fprintf(stderr, "%s: %" PRIu64 " malformed lines skipped in all (first %d shown)\n",
                cli_prog, r->input.bad, MAX_SHOWN_BAD);
    else if (r->input.bad > 0 && !rc->strict)
        fprintf(stderr, "%s: %" PRIu64 " malformed line%s skipped\n", cli_prog, r->input.bad,
                r->input.bad == 1 ? "" : "s");
}

int report_too_malformed(const sl_pipeline_report *r, double max_share)
{
    uint64_t bad = r->input.bad, read = r->input.records + r->input.bad;
    if (bad == 0)
        return 0;
    /* exact for counts below 2^53; a share of 1 never trips this, only "nothing readable" */
    int over = (double)bad > max_share * (double)read;
    if (r->input.records && !over)
        return 0;
    if (!r->input.records)
        fprintf(stderr,
                "%s: all %" PRIu64 " input line%s malformed, none could be read (check the "
                "input and its format); the run failed (exit status %d)\n",
                cli_prog, bad, bad == 1 ? " was" : "s were", REPORT_TOO_MALFORMED);
    else
        fprintf(stderr,
                "%s: %" PRIu64 " of %" PRIu64 " non-blank input lines were malformed "
                "(%.1f%%), more than the %g%% allowed; the run failed (exit status %d): "
                "--max-malformed SHARE (0..1) or source.max_malformed sets the share allowed\n",
                cli_prog, bad, read, 100.0 * (double)bad / (double)read, 100.0 * max_share,
                REPORT_TOO_MALFORMED);
    return 1;
}

/* Writes the kinds of frames node n rejected, when it rejected any. */
static void report_rejected(const sl_node_report *n)
{
    uint64_t rej = 0;
    for (int v = 1; v < SL_FRAME_NVERDICTS; v++)
        rej += n->rejected[v];
    if (!rej)
        return;
    fprintf(stderr, "; rejected frames %" PRIu64 " (", rej);
    int first = 1;
    for (int v = 1; v < SL_FRAME_NVERDICTS; v++)
        if (n->rejected[v]) {
            fprintf(stderr, "%s%" PRIu64 " %s", first ? "" : ", ", n->rejected[v],
                    sl_frame_verdict_name(v));
            first = 0;
        }
    fputc(')', stderr);
}

void report_cluster(const sl_client_report *cr)
{
    for (uint32_t i = 0; i < cr->nodes; i++) {
        const sl_node_report *n = &cr->node[i];
        fprintf(stderr, "  node %u: %" PRIu64 " events", i, n->events_in[0]);
        for (uint32_t s = 1; s < n->stages; s++)
            fprintf(stderr, ", stage %u: %" PRIu64, s, n->events_in[s]);
        fprintf(stderr, "; %" PRIu64 " rows out, %" PRIu64 " frames in, %.3f s", n->rows_out,
                n->frames_in, n->busy_s);
        if (n->combined)
            fprintf(stderr, "; combined: %" PRIu64 " partial states sent, %" PRIu64 " taken in",
                    n->states_out, n->states_in);
        report_rejected(n);
        if (n->stale)
            fprintf(stderr, ", stale %" PRIu64, n->stale);
        if (n->resent || n->duplicates || n->gaps)
            fprintf(stderr,
                    "; recovered: %" PRIu64 " frames resent, %" PRIu64 " duplicates and %" PRIu64
                    " frames ahead of a gap dropped",
                    n->resent, n->duplicates, n->gaps);
        if (n->dropped_connections)
            fprintf(stderr,
                    "; %" PRIu64 " connections refused at the handshake (no key or another "
                    "cluster's, or not ZeroMQ)",
                    n->dropped_connections);
        for (uint32_t s = 0; s + 1 < n->stages; s++)
            if (n->unjoined[s])
                fprintf(stderr, "; %" PRIu64 " rows of stage %u not in the join table",
                        n->unjoined[s], s);
        fputc('\n', stderr);
    }
    fprintf(stderr,
            "  sent %" PRIu64 " frames (%.1f MB); the client waited on full queues %" PRIu64
            " times\n",
            cr->frames_sent, (double)cr->bytes_sent / 1e6, cr->send_blocked);
}
