/* Running a topology from the command line (ctr, run and kernel run): where it goes (this
 * process, local nodes started for it, or a running cluster), its input and output files, and
 * its reports. */
#ifndef SLUICE_CLI_EXECUTE_H
#define SLUICE_CLI_EXECUTE_H

#include <stdint.h>

#include "report.h"
#include "topology.h"

/* Where a run goes: one process (both empty), a running cluster (file), or n local nodes
 * started for the run. */
struct cli_target {
    const char *cluster_file;
    uint32_t nodes;
    uint32_t devices;        /* --devices: 0 = one, SL_DEVICES_ALL = all */
    uint32_t job_id;         /* --job-id: the cluster job's id (1..2^24-1; 0: drawn at random) */
    uint64_t driver_epoch;   /* --driver-epoch: the coordinator's epoch (set by the registry) */
    int ingest_nodes;        /* --ingest-on-nodes: every node reads its part of the input */
    const char *resume_from; /* --from: a checkpoint file or directory to resume from */
    int resume;          /* --resume (cluster): go on from the newest complete checkpoint, if any */
    const char *metrics; /* --metrics HOST:PORT: serve metrics and the web UI (NULL: no) */
    const char *job_name; /* the job's name in the metrics: the topology file's, or the command */
};

/* Opens the topology's input and output, runs it where tg says (NULL: in this process), reports
 * on stderr. With top > 0 there is no CSV output: the top `top` ads with min_impressions or more
 * go to stdout as a table. A file output goes through an sl_outfile: it replaces an existing
 * file only when the run succeeds. A run whose input was more malformed than
 * t->source.max_malformed allows (report_too_malformed: summed over the nodes on a cluster)
 * fails with REPORT_TOO_MALFORMED. Returns the exit status. */
int cli_execute(sl_topology *t, struct report_ctx *rc, uint64_t top, uint64_t min_impressions,
                const struct cli_target *tg);

#endif
