/* `--metrics HOST:PORT` for a run in this process: starts the job's HTTP endpoint
 * (host/obs/webui.h), turns the pipeline's figures into its snapshots, and says where it is. */
#ifndef SLUICE_CLI_MONITOR_H
#define SLUICE_CLI_MONITOR_H

#include "pipeline.h"
#include "topology.h"
#include "webui.h"

struct cli_monitor {
    sl_webui *ui;
    const sl_topology *t;
    const char *name;
    double start_unix;
};

/* Starts serving on addr for topology t, run as job `name`; the page's Stop and Cancel set the
 * CLI's stop and cancel flags. Says the URLs on stderr unless quiet. Returns 0, or 1 (said). */
int cli_monitor_start(struct cli_monitor *m, const char *addr, const sl_topology *t,
                      const char *name, int quiet);

/* The pipeline's on_stats: publishes the figures so far as a running job's. */
void cli_monitor_stats(void *ud, const sl_pipeline_report *live);

/* Publishes the run's last figures (finished, or failed), then stops serving. */
void cli_monitor_finish(struct cli_monitor *m, const sl_pipeline_report *rep, int failed);

#endif
