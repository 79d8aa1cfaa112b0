/* One node's pipeline for a topology: source (file, stdin or generator) -> keyless filter on the
 * host -> keyed PE on the OpenCL device -> CSV sink. `sluice run` and `sluice ctr` both go
 * through here, so the quickstart and YAML topologies share one engine.
 *
 * Runs on the calling thread; callbacks are called from it. */
#ifndef SL_PIPELINE_H
#define SL_PIPELINE_H

#include <stdint.h>
#include <stdio.h>

#include "chain.h"
#include "topology.h"
#include "engine.h"
#include "ingest.h"
#include "multidev.h"
#include "outfile.h"
#include "placement.h"
#include "reader.h"
#include "source.h"
#include "checkpoint.h"

#define SL_DEVICES_ALL UINT32_MAX

struct sl_pipeline_report;

typedef struct sl_pipeline_opts {
    const sl_topology *topo;
    FILE *in;  /* for SL_SRC_FILE / SL_SRC_STDIN: opened by the caller */
    FILE *out; /* CSV output, or NULL to keep results only (for the top table) */
    /* out's sl_outfile when it is one (NULL: a plain stream such as stdout): its descriptor is
     * the one checkpoints fsync and a resumed run truncates (sl_sink_set_output_fd). A run with
     * checkpoints needs it opened in place (SL_OUTFILE_IN_PLACE, SL_OUTFILE_KEEP to resume). */
    const sl_outfile *outfile;
    uint64_t top; /* > 0: after the run, print the top ads by CTR to top_out */
    uint64_t top_min_impressions;
    FILE *top_out;
    sl_bad_fn on_bad; /* malformed lines; return nonzero to stop (strict mode) */
    int strict;       /* on_bad stops at the first one: only used for the message */
    void *bad_ud;
    void (*on_progress)(void *ud, const sl_progress *p); /* p NULL: the run is over, clear */
    void *progress_ud;
    double progress_every_s; /* 0 = no progress callbacks */
    /* Devices: 0 or 1 = the one topo->device selects; N > 1 = the first N it selects, with the
     * keys spread over them (host/multidev.h; one-stage topologies); SL_DEVICES_ALL = all. */
    uint32_t devices;
    /* Each device is placed with hwloc (host/placement.h; topo->placement overrides) and each
     * device's thread is bound to its placement before its engine is built: with one device
     * the calling thread (which also ingests), with several each device's own thread. This
     * hook is called right after that binding, on the same thread. */
    sl_multi_thread_fn on_device_thread;
    void *device_thread_ud;
    /* Once *stop is nonzero (SIGINT, SIGTERM), input stops; what was read is processed and the
     * final rows are written as at the end of input. NULL: runs to the end of input. */
    const volatile sig_atomic_t *stop;
    /* Once *cancel is nonzero, waits for devices end and the run fails with SL_ECANCELED
     * (sl_executor_set_cancel). NULL: never. */
    const volatile sig_atomic_t *cancel;
    /* A checkpoint file or directory to resume from (host/run/checkpoint.h); NULL: none. */
    const char *resume_from;
    /* While the run goes on, every stats_every_s seconds (between reads; 0: never): the
     * figures so far, in a report whose source, engine, chain and ckpt fields are filled
     * (the metrics endpoint's snapshots). Called on the run's thread. */
    void (*on_stats)(void *ud, const struct sl_pipeline_report *live);
    void *stats_ud;
    double stats_every_s;
} sl_pipeline_opts;

typedef struct sl_pipeline_report {
    struct sl_reader_stats input; /* zero for the generator */
    uint64_t generated;           /* events from the generator */
    uint64_t filtered;            /* dropped by the keyless filter (counted, by design) */
    sl_engine_stats engine;       /* the first PE's */
    sl_chain_stats chain;         /* every PE's, and what passed between them */
    sl_device_info device;        /* the first device's */
    uint32_t ndevices;
    sl_device_info devices[SL_MULTI_MAX];
    sl_multi_stats multi; /* several devices: each device's engine (engine holds the total) */
    int placed;           /* 1 when placement[] holds each device's placement (hwloc loaded) */
    sl_placement placement[SL_MULTI_MAX];
    sl_ckpt_stats ckpt; /* checkpoints taken, and the one resumed from */
    double elapsed_s;
} sl_pipeline_report;

/* The ingest loop's settings that come from o (progress, strictness) around src, push, turn,
 * events and ud (host/run/ingest.h), for the pipeline and the cluster client alike. */
sl_ingest sl_pipeline_ingest(const sl_pipeline_opts *o, sl_source *src,
                             int (*push)(void *, const sl_rec *, size_t, char *, size_t),
                             int (*turn)(void *, char *, size_t), uint64_t (*events)(void *),
                             void *ud);

/* Fills the report's input counts (lines, generated, filtered) from the source. */
void sl_pipeline_report_source(sl_pipeline_report *rep, const sl_source *src);

/* Runs the topology to the end of its input. Returns 0; SL_EPARSE when on_bad asked to stop;
 * or another negative sl_err with `msg` explaining (device, build, table full, I/O). The report
 * is filled as far as the run got. */
int sl_pipeline_run(const sl_pipeline_opts *o, sl_pipeline_report *rep, char *msg, size_t msglen);

#endif
