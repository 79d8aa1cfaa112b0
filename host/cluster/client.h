/* The client side of a cluster job: the topology's source and keyless filter run here, each
 * record goes to the node that owns its key (the partition map of the cluster file), or, with
 * source.ingest: nodes, every node reads its own part of the source and the client starts and
 * stops them (GO, STOP) and collects the ids they read (SL_MSG_DICT); the
 * last stage's rows come back here, where the sink writes them as the one-process pipeline
 * would: final rows in one emission sorted by ad id, so `sluice ctr --nodes N` prints what
 * `sluice ctr` prints. With sink.snapshots, each node's snapshots come back while the job runs
 * and the client writes the union of the nodes' latest ones (docs/cluster.md, "Snapshots").
 *
 * Back-pressure: when a node's queue is full, the client stops reading its input until the
 * queue drains (it keeps receiving results meanwhile). Nothing is dropped.
 *
 * Runs on the calling thread. */
#ifndef SL_CLIENT_H
#define SL_CLIENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "topology.h"
#include "job.h"
#include "pipeline.h"
#include "addict.h"
#include "source.h"
#include "ingestlog.h"

/* Optional liveness check, called about every 100 ms while waiting: returns 0 when all is
 * well, or nonzero with msg filled (a node process died) to fail the job. */
typedef int (*sl_client_alive_fn)(void *ud, char *msg, size_t msglen);

/* Optional observation hooks, for measurements (bench/bench_cluster.c times ingest and results
 * with them). Both are called on the thread running sl_client_run, must not block (the client
 * neither sends nor receives while one runs) and must not keep the pointers they are given past
 * the call. now_us and recv_us are sl_net_now_us().
 *
 * on_sent: after each chunk of records (after the keyless filter, in input order) has been
 * handed to the per-node outboxes; the records may still be queued in this process. Not called
 * for a chunk the filter emptied.
 *
 * on_rows: for each result DATA frame as it is taken off the result socket, once its rows are
 * kept for the sink: kind is SL_EMIT_WINDOWS or SL_EMIT_FINAL (enum sl_emit_kind), rows are one
 * frame's worth from one node, in no particular order (an aligned copy, valid during the call).
 * Snapshot rows are not passed on. */
typedef void (*sl_client_sent_fn)(void *ud, const sl_rec *recs, size_t n, uint64_t now_us);
typedef void (*sl_client_rows_fn)(void *ud, int kind, const sl_row *rows, size_t n,
                                  uint64_t recv_us);

/* Checkpoints and recovery of a clustered run (topo.checkpoint.every_ms > 0; one stage, the
 * source read by the client): every every_ms the client sends each node a barrier behind the
 * records sent so far; each node writes its state at the barrier (DIR/node-ID/ckpt-N) and says
 * so; once every node has, checkpoint N is complete, with the source's offset at the barrier.
 * When a node dies, the caller restarts it and calls sl_client_run again with the same recovery:
 * the new job's nodes load checkpoint N and the client reads a file again from its offset, or
 * sends a live source's records after it again from its ingest log, so the final rows are those
 * of a run without the failure. Kept by the caller across attempts (log_fd -1 to start). */
typedef struct sl_client_recovery {
    uint64_t ckpt_id;         /* the newest checkpoint every node wrote (0: none yet) */
    sl_source_stats at;       /* the source's counters when its barrier was sent */
    uint64_t types[4];        /* records sent by event type until then */
    uint64_t next_id;         /* the next barrier's id (0: 1) */
    sl_addict *dict;          /* the ids read in every attempt (the caller makes and frees it) */
    int node_failed;          /* the last attempt failed because a node died or fell silent */
    uint64_t written, failed; /* checkpoints completed, and failed on some node */
    /* A source that cannot be read again (stdin, zmq, tcp, a followed file) lives across the
     * attempts, and every record it gave is appended to an ingest log in checkpoint.dir/client
     * (host/io/ingestlog.h: segment N holds what followed barrier N; synced as each barrier
     * leaves; removed once a later checkpoint is complete); a recovery sends the records after
     * the checkpoint again from it, then reads on. */
    sl_source *src;
    sl_ingestlog *log; /* NULL until the first record or barrier */
    /* Failover (docs/fault-tolerance.md): the attempt (epoch: 0, then one more per recovery; each
     * runs under a job id of its own, which fences off a node of an earlier attempt that comes
     * back), and with host_set, the node that plays each node: host[d] == d, or a survivor that
     * takes over node d's partitions and state (only for one-stage jobs fed by the client) */
    uint32_t epoch;
    int host_set;
    uint32_t host[SL_NODES_MAX];
    /* where the nodes read checkpoint ckpt_id from when it is not in checkpoint.dir (a savepoint
     * given with --from); cleared once a checkpoint of this run is complete */
    char restore_dir[4096];
    int savepoints_seen; /* savepoint requests handled (sl_client_opts.savepoint) */
    /* Recovery timing, said on stderr once a recovered attempt has caught up: when the failure
     * was seen and how far the source had been read then (sl_net_now_us, bytes) */
    uint64_t fail_us, fail_bytes;
    /* windowed PEs: the window rows every node sent before the newest complete checkpoint's
     * barrier (the rows after it are sent again after a recovery); malloc'd, nwin rows */
    sl_row *win;
    size_t nwin;
} sl_client_recovery;

typedef struct sl_client_opts {
    const sl_cluster_cfg *cl;
    const sl_pipeline_opts *po; /* topology, input, output, callbacks as for sl_pipeline_run */
    sl_client_alive_fn alive;
    void *alive_ud;
    int quiet;                 /* no per-node lines on stderr */
    uint32_t job_id;           /* the job's id on the nodes (1..2^24-1); 0: drawn at random */
    uint64_t driver_epoch;     /* the epoch of the coordinator that started this driver (0: none;
                                * sl_job.driver_epoch) */
    sl_client_sent_fn on_sent; /* NULL = none */
    void *sent_ud;
    sl_client_rows_fn on_rows; /* NULL = none */
    void *rows_ud;
    sl_client_recovery *rec; /* checkpoints and recovery; NULL: refused */
    /* savepoint requests (SIGUSR1 of a job's driver, `sluice job savepoint`): each time it grows,
     * a barrier goes out at once, and once every node has written it, the checkpoint is copied
     * to checkpoint.dir/savepoints/sp-ID (resume.h), said on stderr. NULL: none. */
    volatile sig_atomic_t *savepoint;
} sl_client_opts;

typedef struct sl_client_report {
    uint32_t nodes;
    sl_node_report node[SL_NODES_MAX];
    uint64_t frames_sent, bytes_sent, send_blocked;
    uint64_t rejected; /* result frames rejected at the client */
} sl_client_report;

/* Frees what a recovery keeps (the source, the ingest log; not the dict). */
void sl_client_recovery_end(sl_client_recovery *rec);

/* Runs the topology on the cluster. Once *po->stop is set (SIGINT, SIGTERM), the input stops
 * (sl_source_close_input), what was read is sent, the stream ends and the final rows are
 * written: a clean end (0). Once *po->cancel is set, the nodes are told to drop the job (CANCEL)
 * and it fails with SL_ECANCELED. Returns 0 or an sl_err with msg (a node's own message when
 * a node failed). rep->engine carries the events sent and rows received; crep the nodes'
 * reports. */
int sl_client_run(const sl_client_opts *o, sl_pipeline_report *rep, sl_client_report *crep,
                  char *msg, size_t msglen);

/* Sends HELLO to every node and waits up to timeout_ms for all to answer as nodes of this
 * cluster file (sl_cluster_id). Returns 0 when all did, with each node's process id in pids[i]
 * (pids: NULL, or cl->nnodes entries); SL_ECONFLICT when a process of another cluster answered
 * at one of the file's addresses; SL_EIO when some did not answer. msg says which. */
int sl_client_ping(const sl_cluster_cfg *cl, int timeout_ms, long *pids, char *msg, size_t msglen);

/* As sl_client_ping, but also says which nodes answered (answered[i]: 1 or 0, cl->nnodes
 * entries): SL_EIO then means some did not. */
int sl_client_ping_some(const sl_cluster_cfg *cl, int timeout_ms, long *pids, int *answered,
                        char *msg, size_t msglen);

#endif
