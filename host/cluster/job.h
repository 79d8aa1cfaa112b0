/* What nodes and clients say to each other about a job, on top of netio's frames (the message
 * kinds are in proto.h).
 *
 * A job is one run of a topology across the cluster. The client sends a JOB frame to every
 * node's first port; its payload is the topology (encoded field by field with a format version,
 * job.c), the endpoint the results go to and the text of each stage's join table. Then it streams
 * the source's records, keyed, to their owners (stage 0, schema SL_SCHEMA_REC) and an EOS to every
 * node. Each node finishes a stage once it has the EOS of every upstream sender, forwards the rows
 * as records to the owners of the next stage's keys, and sends EOS downstream; the last stage's
 * rows go to the client (SL_SCHEMA_ROW_*), then a DONE frame with the node's counters. With
 * sink.snapshots, every snapshot of the last stage goes to the client on the same stream while
 * the job runs: its rows (SL_SCHEMA_ROW_SNAPSHOT), then an SL_MSG_SNAPSHOT_END frame.
 *
 * Streams are (job id << 8) | stage, so frames of an old job are never taken for a new one's.
 * Any thread. */
#ifndef SL_JOB_H
#define SL_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "columns.h"
#include "frame.h"
#include "proto.h"
#include "topology.h"

enum sl_payload {
    SL_SCHEMA_REC = 1,          /* sl_rec, 32 bytes: a stage's input */
    SL_SCHEMA_ROW_FINAL = 2,    /* sl_row, 80 bytes: final rows of the last stage */
    SL_SCHEMA_ROW_WINDOWS = 3,  /* sl_row: rows of closed windows of the last stage */
    SL_SCHEMA_ROW_SNAPSHOT = 4, /* sl_row: a snapshot's rows of the last stage (sink.snapshots) */
    /* SL_SCHEMA_REC_ATTRS + n, n = 1..SL_SCHEMA_ATTRS: a first stage's input with n attributes
     * (schema.attributes): each record's 32 bytes, then its n 64-bit words */
    SL_SCHEMA_REC_ATTRS = 16,
    /* SL_SCHEMA_STATE + size, size = 16..SL_STATE_SLOT_MAX and a multiple of 8: slots of a
     * first stage's state table, key and state (sl_engine_export_states), that a node combining
     * its input sends the owner of their keys at the end of its input (docs/cluster.md) */
    SL_SCHEMA_STATE = 1 << 16,
};
#define SL_STATE_SLOT_MAX 4096 /* bytes of one slot in an SL_SCHEMA_STATE frame, at most */

/* Record size of a payload schema (an sl_frame_recsize_fn): 0 for an unknown one. */
size_t sl_payload_recsize(uint32_t schema);

static inline uint32_t sl_job_stream(uint32_t job, uint32_t stage)
{
    return (job << 8) | (stage & 0xffu);
}
static inline uint32_t sl_stream_job(uint32_t stream)
{
    return stream >> 8;
}
static inline uint32_t sl_stream_stage(uint32_t stream)
{
    return stream & 0xffu;
}

typedef struct sl_job {
    sl_topology topo;
    char result_endpoint[512];  /* the client's result socket: tcp://ADDR:PORT */
    char control_endpoint[512]; /* the client's control socket (ACK, LEASE): tcp://ADDR:PORT */
    uint64_t cluster_id;        /* sl_cluster_id of the client's cluster file */
    /* checkpoints (topo.checkpoint.every_ms > 0): each node writes its state at each barrier to
     * topo.checkpoint.dir/node-ID/; restore_id > 0: load that checkpoint's state first */
    uint64_t restore_id;
    /* where restore_id is read from: DIR/node-ID/ckpt-N with DIR this (a savepoint's folder), or
     * topo.checkpoint.dir when empty */
    char restore_dir[4096];
    /* the node this job instance plays: 0 = the receiving node itself; k + 1 = node k, whose
     * partitions it took over after node k failed (docs/fault-tolerance.md, "Failover") */
    uint32_t self;
    /* the attempt of the run this job belongs to (0, then one more after each recovery): each
     * attempt runs under its own job id, so frames of an earlier attempt (a node back from a
     * pause) are rejected; said in the node's log lines */
    uint32_t epoch;
    /* a job submitted with `sluice job submit`: its id in the registry (0: a run of its own)
     * and the epoch of the elected coordinator that started its driver (0: none, no ZooKeeper).
     * A node refuses the JOB of a driver older than one it has seen for that job, and ends what
     * an older driver runs when a newer one's JOB comes (docs/fault-tolerance.md, "Two drivers
     * of one job") */
    uint32_t registry_id;
    uint64_t driver_epoch;
    char *join_text[SL_STAGES_MAX]; /* malloc'd, NUL-terminated; NULL when the stage has none */
    size_t join_len[SL_STAGES_MAX];
} sl_job;

/* The identity of a cluster file: XXH3 of its node addresses (host, first port, in order) and
 * partition count, the facts every node and client must agree on. A node refuses a job, and its
 * HELLO answer tells a client, when the identities differ: a process of another cluster listening
 * on a port of this file (another local launch that picked overlapping ports, a stale node) is
 * found instead of taking part in the job. */
uint64_t sl_cluster_id(const sl_cluster_cfg *cl);

/* A node's answer to HELLO: "node N ready pid P cluster HEX". sl_hello_parse reads one back;
 * returns 0, or -1 when the text is not such an answer. */
int sl_hello_format(char *buf, size_t len, uint32_t node, long pid, uint64_t cluster_id);
int sl_hello_parse(const void *p, size_t len, uint32_t *node, long *pid, uint64_t *cluster_id);

/* Checks that `ep` is "tcp://PEER:PORT" with PEER the address a frame came from (sl_frame.peer),
 * so that a job's results and replies go back to whoever sent it and nowhere else. Returns 0, or
 * SL_EPARSE with the reason in err. */
int sl_job_check_endpoint(const char *ep, const char *peer, char *err, size_t errlen);

/* Encodes `job` into *buf (malloc'd, caller frees): little-endian fixed-width integers,
 * length-prefixed strings, a format version (the layout is in job.c). A count over its array is
 * sent as it is (the receiver refuses it) and only the array's elements with it. Returns 0 or
 * SL_ENOMEM. */
int sl_job_encode(const sl_job *job, unsigned char **buf, size_t *len);

/* Decodes a JOB payload into *job (join texts malloc'd: sl_job_clear frees them). Every field is
 * bounds-checked as it is read (a string shorter than its field and without NUL bytes, a list no
 * longer than its array, a join text within the payload, nothing left over), then the topology
 * is checked as a topology file's would be (kinds, capacities, windows, batch sizes). Returns 0,
 * or SL_EPARSE with the reason in err (not a job, another format version, truncated, a field out
 * of range) or SL_ENOMEM; job->result_endpoint is then still filled when the payload had one
 * ("" otherwise), so that the refusal can be sent. */
int sl_job_decode(const unsigned char *p, size_t len, sl_job *job, char *err, size_t errlen);

void sl_job_clear(sl_job *job);

/* A node's counters for one job, sent in its DONE frame. */
typedef struct sl_node_report {
    uint32_t node;
    uint32_t stages;
    uint64_t events_in[SL_STAGES_MAX];     /* records pushed into each stage's engine here */
    uint64_t forwarded[SL_STAGES_MAX];     /* records made from each stage's rows */
    uint64_t unjoined[SL_STAGES_MAX];      /* rows whose key the next stage's join lacks */
    uint64_t late[SL_STAGES_MAX];          /* late events dropped by windowed PEs */
    uint64_t rows_out;                     /* rows sent to the client */
    uint64_t frames_in, bytes_in;          /* frames received for this job */
    uint64_t rejected[SL_FRAME_NVERDICTS]; /* since the node started, by verdict */
    uint64_t duplicates, gaps, stale;      /* since the node started */
    uint64_t resent;                       /* frames resent to peers after a reconnect */
    uint64_t dropped_connections;          /* since the node started */
    uint64_t send_blocked;                 /* pumps that found a peer's queue full */
    double busy_s;                         /* time from JOB to DONE */
    sl_columns cols;                       /* the last stage's output columns */
    int32_t windowed;                      /* rows carry a window start */
    /* when the nodes ingest (source.ingest: nodes): what this node's source read */
    int32_t ingested; /* 1: the fields below are this node's source's */
    uint64_t in_lines, in_records, in_bad, in_blank, in_bytes; /* struct sl_reader_stats */
    uint64_t in_filtered;                                      /* removed by the keyless filter */
    uint64_t in_types[4];                 /* records passed on, by event type */
    uint64_t in_messages, in_connections; /* zmq messages, tcp connections */
    int32_t have_watermark;               /* watermark_ms is known (stage 0 had a record) */
    int64_t watermark_ms; /* the largest event time into stage 0 less the first PE's lateness */
    /* combining (docs/cluster.md): partial states this node sent the owners of their keys, and
     * those it took from the other nodes */
    int32_t combined;
    uint64_t states_out, states_in;
} sl_node_report;

/* A malformed line a node's source read (SL_MSG_BADLINE), where the whole input would number
 * it: line and byte offset in the file (for a file's part), or as the source names it (zmq and
 * tcp sources say the message or connection in the reason). */
typedef struct sl_badline {
    uint64_t line, byte_offset;
    uint32_t column;
    char reason[512];
} sl_badline;

/* Encodes b into buf (at least SL_BADLINE_MAX bytes): u64 line, u64 byte offset, u32 column,
 * then the reason's bytes (truncated to fit). Returns the length. */
#define SL_BADLINE_MAX (20 + 511)
size_t sl_badline_encode(const sl_badline *b, unsigned char *buf);

/* Decodes p[0..len) into *b (reason NUL-terminated). Returns 0, or -1 when it is not one. */
int sl_badline_decode(const unsigned char *p, size_t len, sl_badline *b);

/* The payload of SL_MSG_SNAPSHOT_END: a node's snapshot of the last stage is complete. Sent as
 * this build's struct, like sl_node_report. */
typedef struct sl_snap_end {
    uint64_t seq;           /* the node's snapshots of this job, from 1 (a skipped one, when the
                               client's queue was full, takes no number) */
    uint64_t rows;          /* SL_SCHEMA_ROW_SNAPSHOT rows since the previous snapshot's end */
    int32_t have_watermark; /* as in sl_node_report, at the snapshot */
    int32_t windowed;       /* rows carry a window start */
    int64_t watermark_ms;
    sl_columns cols; /* the last stage's output columns: the client writes snapshots before any
                        DONE tells it the layout */
} sl_snap_end;

#endif
