/* What a run tells on stderr: malformed lines as they come (the first ten, or the one that stops
 * a --strict run), the live progress line, and at the end the run's summary, the total of
 * malformed lines and, on a cluster, a line per node. (The top-ads table of the ctr demo is the
 * CSV sink's, in host/io/sink.c.) */
#ifndef SLUICE_CLI_REPORT_H
#define SLUICE_CLI_REPORT_H

#include <stdint.h>

#include "client.h"
#include "pipeline.h"

/* How a run reports: the on_bad and on_progress callbacks' user data. */
struct report_ctx {
    int strict;     /* the first malformed line stops the run */
    int quiet;      /* no progress line and no summary */
    int progress;   /* a progress line is on the terminal: clear it before writing */
    uint64_t shown; /* malformed lines so far */
    /* --progress-file: where the run's progress is kept, for node 0's `sluice job list` (NULL:
     * nowhere); whatever quiet says. */
    const char *progress_file;
    int progress_file_failed; /* a write failed: said once, not tried again */
    sl_progress last;         /* the last progress written there */
    struct sl_webui *ui;      /* --metrics: malformed lines are noted there too (NULL: no), */
    const char *ui_job;       /* as this job's */
};

/* Clears the progress line (the cursor goes back to the start of an empty line). */
void report_clear_line(void);

/* sl_bad_fn: writes the malformed line's place and reason (the first ten, or every one under
 * --strict). Returns nonzero to stop the run: under --strict. */
int report_on_bad(void *ud, uint64_t line, size_t column, uint64_t byte_offset, const char *reason);

/* The pipeline's progress callback: rewrites the progress line, or clears it for good when p is
 * NULL (the run is over); and with a progress file, rewrites that. */
void report_on_progress(void *ud, const sl_progress *p);

/* The progress file (host/cluster/registry.h reads it): lines "KEY VALUE" of events (records
 * handed on so far), malformed, rate (events/s over the last interval; for the final one, over
 * the whole run), elapsed_s, time (Unix seconds of the write) and final (1 once the run is
 * over), written to PATH.tmp and renamed over PATH, so that a reader sees a whole one. A
 * failure is said once on stderr and the file is left as it was. */
void report_progress_file(struct report_ctx *rc, const sl_progress *p, int final);

/* The summary of a finished run: events, rate, device, counts by type, timings per device,
 * placement, and what was dropped or filtered. */
void report_summary(const sl_pipeline_report *r, const struct report_ctx *rc);

/* The count of malformed lines skipped, when there were any (not the one that stopped a
 * --strict run). */
void report_bad_total(const sl_pipeline_report *r, const struct report_ctx *rc);

/* The exit status of a run that read more malformed lines than its source allows. */
#define REPORT_TOO_MALFORMED 4

/* Whether the input was too malformed for the run to count as a success: some line was
 * malformed and either none gave a record, or more than `max_share` (0..1) of the lines read
 * were malformed (lines read: records and malformed lines; blank lines and a CSV header count
 * in neither). When it was, says so on stderr in one line (how many of how many, the limit and
 * how to change it) and returns 1; else 0. */
int report_too_malformed(const sl_pipeline_report *r, double max_share);

/* A line per node of a clustered run (events per stage, frames, rejections, recoveries) and
 * what the client sent. */
void report_cluster(const sl_client_report *cr);

#endif
