/* Prometheus text and JSON of a job's snapshot; see metrics.h. */
#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "hist.h"

/* Appends printf-formatted text. Returns 0 or SL_ENOMEM. */
static int put(sl_bytebuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put(sl_bytebuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return SL_EINVAL;
    unsigned char *p = sl_bytebuf_reserve(b, (size_t)n + 1);
    if (!p)
        return SL_ENOMEM;
    va_start(ap, fmt);
    vsnprintf((char *)p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* A label value as Prometheus escapes it: backslash, double quote and newline. */
static void label(char *dst, size_t len, const char *s)
{
    size_t j = 0;
    for (; *s && j + 3 < len; s++) {
        if (*s == '\\' || *s == '"') {
            dst[j++] = '\\';
            dst[j++] = *s;
        } else if (*s == '\n') {
            dst[j++] = '\\';
            dst[j++] = 'n';
        } else {
            dst[j++] = *s;
        }
    }
    dst[j] = '\0';
}

static const char *const stage_names[4] = {"batch", "transfer", "kernel", "emit"};

static const sl_hist *stage_hist(const sl_engine_stats *e, int s)
{
    const sl_hist *h[4] = {&e->h_batch, &e->h_transfer, &e->h_kernel, &e->h_emit};
    return h[s];
}

static double stage_total(const sl_engine_stats *e, int s)
{
    const double t[4] = {e->t_batch, e->t_transfer, e->t_kernel, e->t_emit};
    return t[s];
}

/* One histogram's series (buckets, sum, count) under labels l. */
static int histogram(sl_bytebuf *b, const char *name, const char *l, const sl_hist *h)
{
    int rc = 0;
    uint64_t cum = 0;
    for (int q = 0; q < SL_HIST_BUCKETS && !rc; q++) {
        cum += h->bucket[q];
        rc = put(b, "%s_bucket{%s,le=\"%g\"} %llu\n", name, l, sl_hist_bounds[q],
                 (unsigned long long)cum);
    }
    if (!rc)
        rc = put(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n%s_sum{%s} %.17g\n%s_count{%s} %llu\n", name,
                 l, (unsigned long long)h->count, name, l, h->sum, name, l,
                 (unsigned long long)h->count);
    return rc;
}

/* One metric family's header. */
static int family(sl_bytebuf *b, const char *name, const char *type, const char *help)
{
    return put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The labels every series of job j has: job, and node when it has one, escaped. */
static void job_labels(const sl_obs_job *j, char *buf, size_t len)
{
    char job[300], node[100];
    label(job, sizeof job, j->name);
    label(node, sizeof node, j->node);
    if (j->node[0])
        snprintf(buf, len, "job=\"%s\",node=\"%s\"", job, node);
    else
        snprintf(buf, len, "job=\"%s\"", job);
}

typedef double (*job_fn)(const sl_obs_job *j);
typedef double (*pe_fn)(const sl_obs_job *, uint32_t);

static double f_running(const sl_obs_job *j)
{
    return strcmp(j->state, "running") == 0;
}
static double f_start(const sl_obs_job *j)
{
    return j->start_unix;
}
static double f_elapsed(const sl_obs_job *j)
{
    return j->elapsed_s;
}
static double f_lines(const sl_obs_job *j)
{
    return (double)j->input.lines;
}
static double f_records(const sl_obs_job *j)
{
    return (double)j->input.records;
}
static double f_malformed(const sl_obs_job *j)
{
    return (double)j->input.bad;
}
static double f_blank(const sl_obs_job *j)
{
    return (double)j->input.blank;
}
static double f_bytes(const sl_obs_job *j)
{
    return (double)j->input.bytes;
}
static double f_generated(const sl_obs_job *j)
{
    return (double)j->generated;
}
static double f_filtered(const sl_obs_job *j)
{
    return (double)j->filtered;
}

static const struct job_family {
    const char *name, *type, *help;
    job_fn f;
} job_families[] = {
    {"sluice_job_running", "gauge", "1 while the job takes input.", f_running},
    {"sluice_job_start_time_seconds", "gauge",
     "When the job started, seconds since the Unix epoch.", f_start},
    {"sluice_job_elapsed_seconds", "gauge", "Seconds since the job started.", f_elapsed},
    {"sluice_input_lines_total", "counter", "Input lines seen (blank ones included).", f_lines},
    {"sluice_input_records_total", "counter", "Records the input's lines gave.", f_records},
    {"sluice_input_malformed_total", "counter", "Malformed input lines (reported and skipped).",
     f_malformed},
    {"sluice_input_blank_total", "counter", "Blank input lines skipped.", f_blank},
    {"sluice_input_bytes_total", "counter", "Bytes of input text read (decompressed).", f_bytes},
    {"sluice_generated_events_total", "counter", "Events the built-in generator made.",
     f_generated},
    {"sluice_filtered_events_total", "counter", "Events the keyless filter dropped.", f_filtered},
};

static double f_ck_written(const sl_obs_job *j)
{
    return (double)j->ckpt.written;
}
static double f_ck_failed(const sl_obs_job *j)
{
    return (double)j->ckpt.failed;
}
static double f_ck_bytes(const sl_obs_job *j)
{
    return (double)j->ckpt.last_bytes;
}
static double f_ck_total(const sl_obs_job *j)
{
    return j->ckpt.total_s;
}
static double f_ck_max(const sl_obs_job *j)
{
    return j->ckpt.max_s;
}
static double f_ck_age(const sl_obs_job *j)
{
    return j->ckpt_age_s;
}

static const struct job_family ckpt_families[] = {
    {"sluice_checkpoints_total", "counter", "Checkpoints written.", f_ck_written},
    {"sluice_checkpoint_failures_total", "counter", "Checkpoints that could not be written.",
     f_ck_failed},
    {"sluice_checkpoint_last_bytes", "gauge", "Size of the last checkpoint written.", f_ck_bytes},
    {"sluice_checkpoint_seconds_total", "counter",
     "Seconds the job's thread spent taking checkpoints.", f_ck_total},
    {"sluice_checkpoint_max_seconds", "gauge", "The longest checkpoint on the job's thread.",
     f_ck_max},
    {"sluice_checkpoint_age_seconds", "gauge",
     "Seconds since the last checkpoint was written (-1: none yet).", f_ck_age},
};

static double f_in(const sl_obs_job *j, uint32_t s)
{
    return (double)j->chain.engine[s].events_in;
}
static double f_late(const sl_obs_job *j, uint32_t s)
{
    return (double)j->chain.engine[s].events_late;
}
static double f_bad_time(const sl_obs_job *j, uint32_t s)
{
    return (double)j->chain.engine[s].events_bad_time;
}
static double f_rows(const sl_obs_job *j, uint32_t s)
{
    return (double)j->chain.engine[s].rows_emitted;
}
static double f_emissions(const sl_obs_job *j, uint32_t s)
{
    return (double)j->chain.engine[s].emissions;
}
static double f_batches(const sl_obs_job *j, uint32_t s)
{
    return (double)j->chain.engine[s].batches;
}
static double f_keys(const sl_obs_job *j, uint32_t s)
{
    return (double)j->chain.engine[s].keys;
}
static double f_slots(const sl_obs_job *j, uint32_t s)
{
    return (double)j->chain.engine[s].table_slots;
}
static double f_cap(const sl_obs_job *j, uint32_t s)
{
    return (double)j->pe_capacity[s];
}
static double f_grows(const sl_obs_job *j, uint32_t s)
{
    return (double)j->chain.engine[s].table_grows;
}
static double f_busy(const sl_obs_job *j, uint32_t s)
{
    return j->busy_ratio[s];
}
static double f_forwarded(const sl_obs_job *j, uint32_t s)
{
    return (double)j->chain.forwarded[s];
}
static double f_unjoined(const sl_obs_job *j, uint32_t s)
{
    return (double)j->chain.unjoined[s];
}

static const struct pe_family {
    const char *name, *type, *help;
    double (*f)(const sl_obs_job *, uint32_t);
} pe_families[] = {
    {"sluice_events_in_total", "counter", "Events pushed into the PE.", f_in},
    {"sluice_events_late_total", "counter",
     "Events dropped as late for windows already closed (counted, never applied).", f_late},
    {"sluice_events_bad_time_total", "counter",
     "Events dropped with an event time beyond the window range.", f_bad_time},
    {"sluice_rows_out_total", "counter", "Result rows the PE emitted.", f_rows},
    {"sluice_emissions_total", "counter", "Emissions (snapshots, closed windows, final).",
     f_emissions},
    {"sluice_batches_total", "counter", "Device batches dispatched.", f_batches},
    {"sluice_table_keys", "gauge", "Live keys (windowed PEs: open windows) in the state table.",
     f_keys},
    {"sluice_table_slots", "gauge", "Slots in the state table now (it grows as keys arrive).",
     f_slots},
    {"sluice_table_capacity_keys", "gauge",
     "The cap on keys (pe.capacity); 0 when the table may grow to the device's memory.", f_cap},
    {"sluice_table_grows_total", "counter", "Times the state table grew.", f_grows},
    {"sluice_device_busy_ratio", "gauge",
     "Kernel seconds per wall-clock second over the last interval.", f_busy},
    {"sluice_forwarded_total", "counter", "Records made from the PE's rows for the next stage.",
     f_forwarded},
    {"sluice_unjoined_total", "counter", "The PE's rows whose key the next stage's join lacks.",
     f_unjoined},
};

static const char *const type_names[SL_EV_NTYPES] = {"view", "click", "purchase", "other"};

/* An outbox's port label: the stage its frames feed, or the control channel. */
static void port_label(const sl_obs_dest *d, char *buf, size_t len)
{
    if (d->port < 0)
        snprintf(buf, len, "control");
    else
        snprintf(buf, len, "stage%d", (int)d->port);
}

/* The node's outboxes and rejected frames. */
static int node_metrics(const sl_obs_node *nd, sl_bytebuf *b)
{
    char node[100];
    label(node, sizeof node, nd->node);
    static const struct {
        const char *name, *type, *help;
    } fams[] = {
        {"sluice_outbox_queued_frames", "gauge", "Frames waiting in the outbox to a peer."},
        {"sluice_outbox_queued_bytes", "gauge", "Bytes waiting in the outbox to a peer."},
        {"sluice_outbox_unacked_frames", "gauge", "Frames sent to a peer and not acknowledged."},
        {"sluice_outbox_sent_frames_total", "counter", "Frames handed to ZeroMQ for a peer."},
        {"sluice_outbox_sent_bytes_total", "counter", "Bytes handed to ZeroMQ for a peer."},
        {"sluice_outbox_blocked_total", "counter",
         "Sends that stopped because the peer's queue was full (back-pressure)."},
        {"sluice_outbox_disconnects_total", "counter", "Connections to the peer lost."},
        {"sluice_outbox_resent_frames_total", "counter", "Frames sent again after a reconnect."},
    };
    int rc = 0;
    for (size_t k = 0; k < sizeof fams / sizeof fams[0] && !rc; k++) {
        rc = family(b, fams[k].name, fams[k].type, fams[k].help);
        for (uint32_t i = 0; i < nd->ndests && !rc; i++) {
            const sl_obs_dest *d = &nd->dest[i];
            const uint64_t v[] = {d->queued_frames,  d->queued_bytes, d->unacked_frames,
                                  d->st.frames,      d->st.bytes,     d->st.blocked,
                                  d->st.disconnects, d->st.resent};
            char port[16];
            port_label(d, port, sizeof port);
            rc = put(b, "%s{node=\"%s\",peer=\"node-%u\",port=\"%s\"} %llu\n", fams[k].name, node,
                     (unsigned)d->node, port, (unsigned long long)v[k]);
        }
    }
    if (!rc)
        rc = family(b, "sluice_outbox_blocked_seconds_total", "counter",
                    "Seconds frames waited behind the peer's full queue (back-pressure).");
    for (uint32_t i = 0; i < nd->ndests && !rc; i++) {
        const sl_obs_dest *d = &nd->dest[i];
        char port[16];
        port_label(d, port, sizeof port);
        rc = put(
            b,
            "sluice_outbox_blocked_seconds_total{node=\"%s\",peer=\"node-%u\",port=\"%s\"} %.6f\n",
            node, (unsigned)d->node, port, (double)d->st.blocked_us / 1e6);
    }
    if (!rc)
        rc = family(b, "sluice_frames_rejected_total", "counter",
                    "Frames this node's inboxes rejected, by reason.");
    for (int v = 1; v < SL_FRAME_NVERDICTS && !rc; v++) {
        char reason[100];
        label(reason, sizeof reason, sl_frame_verdict_name(v));
        rc = put(b, "sluice_frames_rejected_total{node=\"%s\",reason=\"%s\"} %llu\n", node, reason,
                 (unsigned long long)nd->rejected[v]);
    }
    return rc;
}

int sl_metrics_prometheus(const sl_obs_job *jobs, size_t njobs, const sl_obs_node *node,
                          sl_bytebuf *b)
{
    static char lab[SL_OBS_JOBS_MAX][512]; /* the run's thread or the server's: one at a */
    static char pes[SL_OBS_JOBS_MAX][SL_STAGES_MAX][200]; /* time (webui's lock) */
    if (njobs > SL_OBS_JOBS_MAX)
        njobs = SL_OBS_JOBS_MAX;
    for (size_t i = 0; i < njobs; i++) {
        job_labels(&jobs[i], lab[i], sizeof lab[i]);
        for (uint32_t s = 0; s < jobs[i].stages && s < SL_STAGES_MAX; s++)
            label(pes[i][s], sizeof pes[i][s], jobs[i].pe_name[s]);
    }
    int rc = family(b, "sluice_job_info", "gauge", "The job, its state, source and sink (1).");
    for (size_t i = 0; i < njobs && !rc; i++)
        rc = put(b, "sluice_job_info{%s,state=\"%s\",source=\"%s\",sink=\"%s\"} 1\n", lab[i],
                 jobs[i].state, jobs[i].source, jobs[i].sink);
    for (size_t k = 0; k < sizeof job_families / sizeof job_families[0] && !rc; k++) {
        const struct job_family *f = &job_families[k];
        rc = family(b, f->name, f->type, f->help);
        for (size_t i = 0; i < njobs && !rc; i++)
            rc = put(b, "%s{%s} %.17g\n", f->name, lab[i], f->f(&jobs[i]));
    }
    for (size_t k = 0; k < sizeof pe_families / sizeof pe_families[0] && !rc; k++) {
        const struct pe_family *f = &pe_families[k];
        rc = family(b, f->name, f->type, f->help);
        for (size_t i = 0; i < njobs && !rc; i++)
            for (uint32_t s = 0; s < jobs[i].stages && !rc; s++)
                rc = put(b, "%s{%s,pe=\"%s\"} %.17g\n", f->name, lab[i], pes[i][s],
                         f->f(&jobs[i], s));
    }
    if (!rc)
        rc = family(b, "sluice_events_by_type_total", "counter",
                    "Events pushed into the PE, by event type.");
    for (size_t i = 0; i < njobs && !rc; i++)
        for (uint32_t s = 0; s < jobs[i].stages && !rc; s++)
            for (int t = 0; t < SL_EV_NTYPES && !rc; t++)
                rc = put(b, "sluice_events_by_type_total{%s,pe=\"%s\",type=\"%s\"} %llu\n", lab[i],
                         pes[i][s], type_names[t],
                         (unsigned long long)jobs[i].chain.engine[s].type_counts[t]);
    if (!rc)
        rc = family(b, "sluice_stage_seconds_total", "counter",
                    "Seconds spent per stage: host batching, transfer, kernel, emit.");
    for (size_t i = 0; i < njobs && !rc; i++)
        for (uint32_t s = 0; s < jobs[i].stages && !rc; s++)
            for (int k = 0; k < 4 && !rc; k++)
                rc = put(b, "sluice_stage_seconds_total{%s,pe=\"%s\",stage=\"%s\"} %.17g\n", lab[i],
                         pes[i][s], stage_names[k], stage_total(&jobs[i].chain.engine[s], k));
    if (!rc)
        rc = family(b, "sluice_stage_duration_seconds", "histogram",
                    "Duration of each batch's host batching, transfer and kernel, and of each "
                    "emission.");
    for (size_t i = 0; i < njobs && !rc; i++)
        for (uint32_t s = 0; s < jobs[i].stages && !rc; s++)
            for (int k = 0; k < 4 && !rc; k++) {
                char l[800];
                snprintf(l, sizeof l, "%s,pe=\"%s\",stage=\"%s\"", lab[i], pes[i][s],
                         stage_names[k]);
                rc = histogram(b, "sluice_stage_duration_seconds", l,
                               stage_hist(&jobs[i].chain.engine[s], k));
            }
    if (!rc)
        rc = family(b, "sluice_batch_wait_seconds", "histogram",
                    "How long each batch waited on the host: from its oldest event's arrival "
                    "until its aggregation was enqueued (filling, batch.max_wait_ms, and a free "
                    "buffer while the device is behind).");
    for (size_t i = 0; i < njobs && !rc; i++)
        for (uint32_t s = 0; s < jobs[i].stages && !rc; s++) {
            char l[800];
            snprintf(l, sizeof l, "%s,pe=\"%s\"", lab[i], pes[i][s]);
            rc = histogram(b, "sluice_batch_wait_seconds", l, &jobs[i].chain.engine[s].h_wait);
        }
    int any_ckpt = 0;
    for (size_t i = 0; i < njobs; i++)
        any_ckpt |= jobs[i].checkpoints;
    for (size_t k = 0; any_ckpt && k < sizeof ckpt_families / sizeof ckpt_families[0] && !rc; k++) {
        const struct job_family *f = &ckpt_families[k];
        rc = family(b, f->name, f->type, f->help);
        for (size_t i = 0; i < njobs && !rc; i++)
            if (jobs[i].checkpoints)
                rc = put(b, "%s{%s} %.17g\n", f->name, lab[i], f->f(&jobs[i]));
    }
    if (node && !rc)
        rc = node_metrics(node, b);
    return rc;
}

int sl_metrics_json_string(sl_bytebuf *b, const char *s)
{
    int rc = put(b, "\"");
    for (; *s && !rc; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rc = put(b, "\\%c", c);
        else if (c < 0x20)
            rc = put(b, "\\u%04x", c);
        else
            rc = sl_bytebuf_append(b, &c, 1);
    }
    return rc ? rc : put(b, "\"");
}

/* A finite number for JSON (NaN and infinities are not JSON): 0 for them. */
static double fin(double v)
{
    return isfinite(v) ? v : 0.0;
}

int sl_metrics_json(const sl_obs_job *j, sl_bytebuf *b)
{
    int rc = put(b, "{\"name\":");
    if (!rc)
        rc = sl_metrics_json_string(b, j->name);
    if (!rc)
        rc = put(b, ",\"node\":");
    if (!rc)
        rc = sl_metrics_json_string(b, j->node);
    if (!rc)
        rc = put(b,
                 ",\"state\":\"%s\",\"start_unix\":%.3f,\"elapsed_s\":%.3f,\"source\":\"%s\","
                 "\"sink\":\"%s\",\"device\":",
                 j->state, j->start_unix, j->elapsed_s, j->source, j->sink);
    if (!rc)
        rc = sl_metrics_json_string(b, j->device);
    if (!rc)
        rc = put(b,
                 ",\"input\":{\"lines\":%llu,\"records\":%llu,\"malformed\":%llu,\"blank\":%llu,"
                 "\"bytes\":%llu},\"generated\":%llu,\"filtered\":%llu,\"rate_in\":%.17g,"
                 "\"stages\":[",
                 (unsigned long long)j->input.lines, (unsigned long long)j->input.records,
                 (unsigned long long)j->input.bad, (unsigned long long)j->input.blank,
                 (unsigned long long)j->input.bytes, (unsigned long long)j->generated,
                 (unsigned long long)j->filtered, fin(j->rate_in));
    for (uint32_t s = 0; s < j->stages && !rc; s++) {
        const sl_engine_stats *e = &j->chain.engine[s];
        rc = put(b, "%s{\"pe\":", s ? "," : "");
        if (!rc)
            rc = sl_metrics_json_string(b, j->pe_name[s]);
        if (!rc)
            rc = put(b,
                     ",\"kind\":\"%s\",\"events_in\":%llu,\"late\":%llu,\"bad_time\":%llu,"
                     "\"rows_out\":%llu,\"emissions\":%llu,\"batches\":%llu,\"keys\":%llu,"
                     "\"slots\":%llu,\"capacity\":%llu,\"grows\":%llu,\"busy_ratio\":%.17g,"
                     "\"forwarded\":%llu,\"types\":[%llu,%llu,%llu,%llu],\"seconds\":{\"batch\":"
                     "%.17g,\"transfer\":%.17g,\"kernel\":%.17g,\"emit\":%.17g,\"wait\":%.17g},"
                     "\"late_recent\":[",
                     j->pe_kind[s], (unsigned long long)e->events_in,
                     (unsigned long long)e->events_late, (unsigned long long)e->events_bad_time,
                     (unsigned long long)e->rows_emitted, (unsigned long long)e->emissions,
                     (unsigned long long)e->batches, (unsigned long long)e->keys,
                     (unsigned long long)e->table_slots, (unsigned long long)j->pe_capacity[s],
                     (unsigned long long)e->table_grows, fin(j->busy_ratio[s]),
                     (unsigned long long)j->chain.forwarded[s],
                     (unsigned long long)e->type_counts[0], (unsigned long long)e->type_counts[1],
                     (unsigned long long)e->type_counts[2], (unsigned long long)e->type_counts[3],
                     e->t_batch, e->t_transfer, e->t_kernel, e->t_emit, e->t_wait);
        for (uint32_t k = 0; k < e->late_log.n && !rc; k++) {
            const sl_late_note *n = sl_late_log_get(&e->late_log, k);
            char why[300];
            sl_late_note_reason(n, why, sizeof why);
            rc = put(b, "%s{\"key\":\"%016llx\",\"time_ms\":%lld,\"late\":%s,\"reason\":",
                     k ? "," : "", (unsigned long long)n->key, (long long)n->time_ms,
                     n->why == SL_ADMIT_LATE ? "true" : "false");
            if (!rc)
                rc = sl_metrics_json_string(b, why);
            if (!rc)
                rc = put(b, "}");
        }
        if (!rc)
            rc = put(b, "]}");
    }
    if (!rc)
        rc = put(b, "],\"bad\":[");
    for (uint32_t i = 0; i < j->nbad && !rc; i++) {
        rc = put(b, "%s{\"line\":%llu,\"column\":%llu,\"byte\":%llu,\"reason\":", i ? "," : "",
                 (unsigned long long)j->bad[i].line, (unsigned long long)j->bad[i].column,
                 (unsigned long long)j->bad[i].byte);
        if (!rc)
            rc = sl_metrics_json_string(b, j->bad[i].reason);
        if (!rc)
            rc = put(b, "}");
    }
    if (!rc)
        rc = put(b, "],\"checkpoints\":");
    if (!rc && j->checkpoints)
        rc = put(b, "{\"written\":%llu,\"failed\":%llu,\"last_bytes\":%llu,\"age_s\":%.3f}",
                 (unsigned long long)j->ckpt.written, (unsigned long long)j->ckpt.failed,
                 (unsigned long long)j->ckpt.last_bytes, j->ckpt_age_s);
    else if (!rc)
        rc = put(b, "null");
    return rc ? rc : put(b, "}");
}

int sl_metrics_json_node(const sl_obs_node *n, sl_bytebuf *b)
{
    int rc = put(b, ",\"outboxes\":[");
    for (uint32_t i = 0; i < n->ndests && !rc; i++) {
        const sl_obs_dest *d = &n->dest[i];
        rc =
            put(b,
                "%s{\"peer\":%u,\"port\":%d,\"queued_frames\":%llu,\"queued_bytes\":%llu,"
                "\"unacked_frames\":%llu,\"sent_frames\":%llu,\"sent_bytes\":%llu,\"blocked\":%llu,"
                "\"blocked_s\":%.6f}",
                i ? "," : "", (unsigned)d->node, (int)d->port, (unsigned long long)d->queued_frames,
                (unsigned long long)d->queued_bytes, (unsigned long long)d->unacked_frames,
                (unsigned long long)d->st.frames, (unsigned long long)d->st.bytes,
                (unsigned long long)d->st.blocked, (double)d->st.blocked_us / 1e6);
    }
    if (!rc)
        rc = put(b, "],\"rejected\":{");
    int first = 1;
    for (int v = 1; v < SL_FRAME_NVERDICTS && !rc; v++) {
        if (!n->rejected[v])
            continue;
        rc = put(b, "%s", first ? "" : ",");
        if (!rc)
            rc = sl_metrics_json_string(b, sl_frame_verdict_name(v));
        if (!rc)
            rc = put(b, ":%llu", (unsigned long long)n->rejected[v]);
        first = 0;
    }
    return rc ? rc : put(b, "}");
}
