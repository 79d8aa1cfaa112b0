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

/* One metric family's header. */
static int family(sl_bytebuf *b, const char *name, const char *type, const char *help)
{
    return put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Per job series: name{job="..."} value. */
static int job_series(sl_bytebuf *b, const char *job, const char *name, const char *type,
                      const char *help, double v)
{
    int rc = family(b, name, type, help);
    return rc ? rc : put(b, "%s{job=\"%s\"} %.17g\n", name, job, v);
}

/* One family with a series per stage: name{job,pe} from f(stage). */
static int pe_series(sl_bytebuf *b, const sl_obs_job *j, const char *job, const char (*pes)[200],
                     const char *name, const char *type, const char *help,
                     double (*f)(const sl_obs_job *, uint32_t))
{
    int rc = family(b, name, type, help);
    for (uint32_t s = 0; s < j->stages && !rc; s++)
        rc = put(b, "%s{job=\"%s\",pe=\"%s\"} %.17g\n", name, job, pes[s], f(j, s));
    return rc;
}

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

int sl_metrics_prometheus(const sl_obs_job *j, sl_bytebuf *b)
{
    char job[300];
    char pes[SL_STAGES_MAX][200];
    label(job, sizeof job, j->name);
    for (uint32_t s = 0; s < j->stages && s < SL_STAGES_MAX; s++)
        label(pes[s], sizeof pes[s], j->pe_name[s]);
    int rc = family(b, "sluice_job_info", "gauge", "The job, its source, sink and device (1).");
    if (!rc)
        rc = put(b, "sluice_job_info{job=\"%s\",state=\"%s\",source=\"%s\",sink=\"%s\"} 1\n", job,
                 j->state, j->source, j->sink);
    if (!rc)
        rc = job_series(b, job, "sluice_job_running", "gauge", "1 while the job takes input.",
                        strcmp(j->state, "running") == 0);
    if (!rc)
        rc = job_series(b, job, "sluice_job_start_time_seconds", "gauge",
                        "When the job started, seconds since the Unix epoch.", j->start_unix);
    if (!rc)
        rc = job_series(b, job, "sluice_job_elapsed_seconds", "gauge",
                        "Seconds since the job started.", j->elapsed_s);
    static const struct {
        const char *name, *help;
        size_t off;
    } input[] = {
        {"sluice_input_lines_total", "Input lines seen (blank ones included).",
         offsetof(struct sl_reader_stats, lines)},
        {"sluice_input_records_total", "Records the input's lines gave.",
         offsetof(struct sl_reader_stats, records)},
        {"sluice_input_malformed_total", "Malformed input lines (reported and skipped).",
         offsetof(struct sl_reader_stats, bad)},
        {"sluice_input_blank_total", "Blank input lines skipped.",
         offsetof(struct sl_reader_stats, blank)},
        {"sluice_input_bytes_total", "Bytes of input text read (decompressed).",
         offsetof(struct sl_reader_stats, bytes)},
    };
    for (size_t i = 0; i < sizeof input / sizeof input[0] && !rc; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&j->input + input[i].off, sizeof v);
        rc = job_series(b, job, input[i].name, "counter", input[i].help, (double)v);
    }
    if (!rc)
        rc = job_series(b, job, "sluice_generated_events_total", "counter",
                        "Events the built-in generator made.", (double)j->generated);
    if (!rc)
        rc = job_series(b, job, "sluice_filtered_events_total", "counter",
                        "Events the keyless filter dropped.", (double)j->filtered);
    for (size_t i = 0; i < sizeof pe_families / sizeof pe_families[0] && !rc; i++)
        rc = pe_series(b, j, job, (const char(*)[200])pes, pe_families[i].name, pe_families[i].type,
                       pe_families[i].help, pe_families[i].f);
    if (!rc)
        rc = family(b, "sluice_events_by_type_total", "counter",
                    "Events pushed into the PE, by event type.");
    static const char *const types[SL_EV_NTYPES] = {"view", "click", "purchase", "other"};
    for (uint32_t s = 0; s < j->stages && !rc; s++)
        for (int t = 0; t < SL_EV_NTYPES && !rc; t++)
            rc = put(b, "sluice_events_by_type_total{job=\"%s\",pe=\"%s\",type=\"%s\"} %llu\n", job,
                     pes[s], types[t], (unsigned long long)j->chain.engine[s].type_counts[t]);
    if (!rc)
        rc = family(b, "sluice_stage_seconds_total", "counter",
                    "Seconds spent per stage: host batching, transfer, kernel, emit.");
    for (uint32_t s = 0; s < j->stages && !rc; s++)
        for (int k = 0; k < 4 && !rc; k++)
            rc = put(b, "sluice_stage_seconds_total{job=\"%s\",pe=\"%s\",stage=\"%s\"} %.17g\n",
                     job, pes[s], stage_names[k], stage_total(&j->chain.engine[s], k));
    if (!rc)
        rc = family(b, "sluice_stage_duration_seconds", "histogram",
                    "Duration of each batch's host batching, transfer and kernel, and of each "
                    "emission.");
    for (uint32_t s = 0; s < j->stages && !rc; s++)
        for (int k = 0; k < 4 && !rc; k++) {
            const sl_hist *h = stage_hist(&j->chain.engine[s], k);
            uint64_t cum = 0;
            for (int i = 0; i < SL_HIST_BUCKETS && !rc; i++) {
                cum += h->bucket[i];
                rc = put(b,
                         "sluice_stage_duration_seconds_bucket{job=\"%s\",pe=\"%s\",stage=\"%s\","
                         "le=\"%g\"} %llu\n",
                         job, pes[s], stage_names[k], sl_hist_bounds[i], (unsigned long long)cum);
            }
            if (!rc)
                rc = put(b,
                         "sluice_stage_duration_seconds_bucket{job=\"%s\",pe=\"%s\",stage=\"%s\","
                         "le=\"+Inf\"} %llu\n"
                         "sluice_stage_duration_seconds_sum{job=\"%s\",pe=\"%s\",stage=\"%s\"} "
                         "%.17g\n"
                         "sluice_stage_duration_seconds_count{job=\"%s\",pe=\"%s\",stage=\"%s\"} "
                         "%llu\n",
                         job, pes[s], stage_names[k], (unsigned long long)h->count, job, pes[s],
                         stage_names[k], h->sum, job, pes[s], stage_names[k],
                         (unsigned long long)h->count);
        }
    if (j->checkpoints && !rc) {
        rc = job_series(b, job, "sluice_checkpoints_total", "counter", "Checkpoints written.",
                        (double)j->ckpt.written);
        if (!rc)
            rc = job_series(b, job, "sluice_checkpoint_failures_total", "counter",
                            "Checkpoints that could not be written.", (double)j->ckpt.failed);
        if (!rc)
            rc = job_series(b, job, "sluice_checkpoint_last_bytes", "gauge",
                            "Size of the last checkpoint written.", (double)j->ckpt.last_bytes);
        if (!rc)
            rc = job_series(b, job, "sluice_checkpoint_seconds_total", "counter",
                            "Seconds the job's thread spent taking checkpoints.", j->ckpt.total_s);
        if (!rc)
            rc = job_series(b, job, "sluice_checkpoint_max_seconds", "gauge",
                            "The longest checkpoint on the job's thread.", j->ckpt.max_s);
        if (!rc && j->ckpt_age_s >= 0)
            rc = job_series(b, job, "sluice_checkpoint_age_seconds", "gauge",
                            "Seconds since the last checkpoint was written.", j->ckpt_age_s);
    }
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
                     "%.17g,\"transfer\":%.17g,\"kernel\":%.17g,\"emit\":%.17g}}",
                     j->pe_kind[s], (unsigned long long)e->events_in,
                     (unsigned long long)e->events_late, (unsigned long long)e->events_bad_time,
                     (unsigned long long)e->rows_emitted, (unsigned long long)e->emissions,
                     (unsigned long long)e->batches, (unsigned long long)e->keys,
                     (unsigned long long)e->table_slots, (unsigned long long)j->pe_capacity[s],
                     (unsigned long long)e->table_grows, fin(j->busy_ratio[s]),
                     (unsigned long long)j->chain.forwarded[s],
                     (unsigned long long)e->type_counts[0], (unsigned long long)e->type_counts[1],
                     (unsigned long long)e->type_counts[2], (unsigned long long)e->type_counts[3],
                     e->t_batch, e->t_transfer, e->t_kernel, e->t_emit);
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
