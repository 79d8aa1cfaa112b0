/* What a running job shows to the outside: one snapshot of its figures (sl_obs_job), and that
 * snapshot written as Prometheus's text exposition format (version 0.0.4) or as the JSON the
 * web UI reads. Pure functions over plain data: any thread, no locks. */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"
#include "chain.h"
#include "frame.h"
#include "outbox.h"
#include "checkpoint.h"
#include "reader.h"
#include "topology.h"

#define SL_OBS_REASONS 5   /* malformed lines whose reasons a snapshot keeps: the latest */
#define SL_OBS_JOBS_MAX 16 /* jobs one endpoint shows */
#define SL_OBS_DESTS (SL_NODES_MAX * 2) /* a node's outboxes it shows */

typedef struct sl_obs_bad {
    uint64_t line;
    uint64_t column;
    uint64_t byte;
    char reason[200];
} sl_obs_bad;

typedef struct sl_obs_job {
    char name[128];    /* the job: the topology file's base name, or the command ("ctr") */
    char node[32];     /* the cluster node showing its part of the job ("node-2"); "" alone */
    char state[16];    /* running, stopping, finished, failed */
    double start_unix; /* wall clock when it started, seconds */
    double elapsed_s;
    char source[16]; /* the source's kind: file, stdin, generator, zmq, tcp */
    char sink[16];   /* csv, ndjson, redis, zmq */
    char device[256];
    uint32_t stages;
    char pe_name[SL_STAGES_MAX][64];
    char pe_kind[SL_STAGES_MAX][16];
    uint64_t pe_capacity[SL_STAGES_MAX]; /* 0: no cap */
    sl_chain_stats chain;                /* each stage's engine, and what passed between them */
    struct sl_reader_stats input;        /* zero for the generator */
    uint64_t generated, filtered;
    int checkpoints; /* 1: the job takes checkpoints (ckpt is meaningful) */
    sl_ckpt_stats ckpt;
    double ckpt_age_s; /* since the last one was written (< 0: none yet) */
    /* over the last interval between two snapshots */
    double rate_in;                   /* events into the first PE per second */
    double busy_ratio[SL_STAGES_MAX]; /* kernel seconds per wall second, per stage */
    uint32_t nbad;                    /* reasons held in bad[], oldest first */
    sl_obs_bad bad[SL_OBS_REASONS];
} sl_obs_job;

/* A cluster node's own figures: what waits in each outbox to a peer (the buffers ZeroMQ does
 * not show), how often a peer's full queue stopped sending (back-pressure), and the frames its
 * inboxes rejected, by reason. */
typedef struct sl_obs_dest {
    uint32_t node; /* the peer */
    int32_t port;  /* its data port (the stage it feeds), or -1 for its control port */
    uint64_t queued_frames, queued_bytes, unacked_frames;
    sl_outbox_stats st;
} sl_obs_dest;

typedef struct sl_obs_node {
    char node[32]; /* "node-2" */
    uint32_t ndests;
    sl_obs_dest dest[SL_OBS_DESTS];
    uint64_t rejected[SL_FRAME_NVERDICTS]; /* by sl_frame_verdict; [SL_FRAME_OK] unused */
} sl_obs_node;

/* Appends jobs[0..njobs) and, when node is not NULL, the node's own figures as Prometheus text:
 * each family's HELP and TYPE once, counters end in _total, durations are in seconds, every
 * job series has a job label (and node on a cluster; pe, stage, type where they apply).
 * Returns 0 or SL_ENOMEM. One thread at a time. */
int sl_metrics_prometheus(const sl_obs_job *jobs, size_t njobs, const sl_obs_node *node,
                          sl_bytebuf *out);

/* Appends j as one JSON object (the web UI's /api/jobs holds a list of them). Returns 0 or
 * SL_ENOMEM. */
int sl_metrics_json(const sl_obs_job *j, sl_bytebuf *out);

/* Appends ,"outboxes":[...],"rejected":{...} for a node's own figures (inside the object of
 * /api/jobs). Returns 0 or SL_ENOMEM. */
int sl_metrics_json_node(const sl_obs_node *n, sl_bytebuf *out);

/* Appends s as a JSON string literal, quotes included. Returns 0 or SL_ENOMEM. */
int sl_metrics_json_string(sl_bytebuf *out, const char *s);

#endif
