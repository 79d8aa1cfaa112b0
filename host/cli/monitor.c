/* The one-process run's metrics endpoint; see monitor.h. */
#include "monitor.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "proc.h"
#include "sink.h"
#include "source.h"

int cli_monitor_start(struct cli_monitor *m, const char *addr, const sl_topology *t,
                      const char *name, int quiet)
{
    char msg[512];
    memset(m, 0, sizeof *m);
    if (sl_webui_start(addr, &m->ui, msg, sizeof msg)) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return 1;
    }
    m->t = t;
    m->name = name;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m->start_unix = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    sl_webui_set_controls(m->ui, &cli_stop_requested, &cli_cancel_requested);
    static sl_pipeline_report none; /* the job is listed (running) before its first figures */
    cli_monitor_stats(m, &none);
    if (!quiet) {
        const char *colon = strrchr(addr, ':');
        fprintf(stderr, "%s: metrics at http://%.*s:%u/metrics, web UI at http://%.*s:%u/\n",
                cli_prog, (int)(colon - addr), addr, (unsigned)sl_webui_port(m->ui),
                (int)(colon - addr), addr, (unsigned)sl_webui_port(m->ui));
    }
    return 0;
}

/* The snapshot of the run's figures in rep, in state `state`. */
static void publish(struct cli_monitor *m, const sl_pipeline_report *rep, const char *state)
{
    static sl_obs_job j; /* large: not on the stack; the run's thread only */
    memset(&j, 0, sizeof j);
    const sl_topology *t = m->t;
    snprintf(j.name, sizeof j.name, "%s", m->name);
    snprintf(j.state, sizeof j.state, "%s", state);
    j.start_unix = m->start_unix;
    j.elapsed_s = rep->elapsed_s;
    snprintf(j.source, sizeof j.source, "%s", sl_source_kind_name(t->source.kind));
    snprintf(j.sink, sizeof j.sink, "%s",
             t->sink.kind != SL_SINK_FILE       ? sl_sink_kind_name(t->sink.kind)
             : t->sink.format == SL_SINK_NDJSON ? "ndjson"
                                                : "csv");
    snprintf(j.device, sizeof j.device, "%.120s / %.120s", rep->device.platform, rep->device.name);
    j.chain = rep->chain;
    j.stages = rep->chain.stages ? rep->chain.stages : 1;
    if (!rep->chain.stages)
        j.chain.engine[0] = rep->engine;
    for (uint32_t s = 0; s < j.stages && s < SL_STAGES_MAX; s++) {
        const sl_pe_cfg *pe = s == 0 ? &t->pe : &t->next[s - 1].pe;
        snprintf(j.pe_name[s], sizeof j.pe_name[s], "%s", pe->name);
        snprintf(j.pe_kind[s], sizeof j.pe_kind[s], "%s", sl_pe_kind_name(pe->kind));
        j.pe_capacity[s] = pe->capacity;
    }
    j.input = rep->input;
    j.generated = rep->generated;
    j.filtered = rep->filtered;
    j.checkpoints = t->checkpoint.every_ms > 0;
    j.ckpt = rep->ckpt;
    sl_webui_publish(m->ui, &j);
}

void cli_monitor_stats(void *ud, const sl_pipeline_report *live)
{
    struct cli_monitor *m = ud;
    publish(m, live, cli_stop_requested ? "stopping" : "running");
}

void cli_monitor_finish(struct cli_monitor *m, const sl_pipeline_report *rep, int failed)
{
    if (!m->ui)
        return;
    publish(m, rep, failed ? "failed" : "finished");
    sl_webui_stop(&m->ui);
}
