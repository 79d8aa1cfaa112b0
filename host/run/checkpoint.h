/* Checkpoints of a one-process run (topology `checkpoint: {every_ms, dir, keep}`,
 * `--checkpoint-ms`) and resuming from one (`--from`): what a run needs to go on exactly where a
 * checkpoint was taken, so that a run killed at any moment and resumed ends with the output of a
 * run that was never stopped (docs/fault-tolerance.md).
 *
 * A checkpoint is taken between two reads, when every record read so far has been pushed: the
 * chain's state tables (sl_chain_save; windowed PEs' open windows and watermarks), the sink's
 * commit (sl_sink_commit, sl_sink_save: what it wrote so far made durable, with its length), the
 * ad ids seen (for the output's names), the source's counters with its byte offset, and what the
 * run was reading. It is written with host/io/ckptfile.h (temporary name, fsync, rename) on the
 * checkpoint writer's thread, then older ones beyond `keep` are removed.
 * A checkpoint that cannot be written is reported and counted; the run goes on and the previous
 * checkpoint stays usable.
 *
 * Supported: file sources read once (their offset is the replay position); stdin, zmq and tcp,
 * whose records the run appends to a write-ahead ingest log (host/io/ingestlog.h, in
 * checkpoint.dir/ingest) before it pushes them: checkpoint N rolls the log to segment N (its
 * "log" section says so), a resume replays the log from there, and segments below the oldest
 * checkpoint kept are removed once a checkpoint is written; one device. Others are refused when
 * the run starts, saying why.
 *
 * Belongs to the run's thread. */
#ifndef SL_CHECKPOINT_H
#define SL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addict.h"
#include "chain.h"
#include "sink.h"
#include "ingestlog.h"
#include "source.h"
#include "topology.h"

typedef struct sl_ckpt_stats {
    uint64_t written;    /* checkpoints written */
    uint64_t failed;     /* checkpoints that could not be written (reported) */
    uint64_t last_bytes; /* size of the last one written */
    double total_s;      /* time the run's thread spent taking them (the state read back) */
    double max_s;        /* the longest one, on the run's thread */
    double write_s;      /* time the writer's thread spent writing them (checksums, fsyncs) */
    double write_max_s;  /* the longest write */
    uint64_t deferred;   /* due while the previous one was still being written: taken later */
    uint64_t resumed_id; /* the checkpoint the run resumed from (0: none) */
    uint64_t replayed;   /* records replayed from the ingest log after it (a live source) */
    uint64_t recoveries; /* cluster: node failures recovered from */
} sl_ckpt_stats;

typedef struct sl_ckpt_run sl_ckpt_run;

/* Checks that t's checkpoints can be taken with `ndev` devices over `ch` (NULL while the chain
 * is not built yet). Returns 0, or SL_EUNSUPPORTED with msg. */
int sl_ckpt_supported(const sl_topology *t, uint32_t ndev, const sl_chain *ch, char *msg,
                      size_t msglen);

/* Periodic checkpoints of t->checkpoint for the run reading t's source. log: a live source's
 * ingest log, which the caller appends to, owns and closes after sl_ckpt_run_destroy (NULL for a
 * file): checkpoints roll it, sync it every 100 ms and prune it. Returns 0 with *out, or an
 * sl_err with msg. */
int sl_ckpt_run_new(const sl_topology *t, const sl_chain *ch, sl_ingestlog *log, sl_ckpt_run **out,
                    char *msg, size_t msglen);

/* Takes a checkpoint when t->checkpoint.every_ms has passed since the last one (or the run's
 * start): reads the chain's state on this thread, commits `sink` (the chain's output), so that
 * the checkpoint holds what the output held at that moment, and hands the image to the
 * checkpoint writer's thread (host/io/ckptwriter.h), which writes it while the run goes on; one
 * due while the previous one is still being written is taken at the first tick after it is
 * done. A failure to write is reported on stderr and counted (at a later tick, or
 * sl_ckpt_run_finish), not returned; a failure of the engines (their state could not be read)
 * or of the sink's commit is returned as an sl_err with msg. */
int sl_ckpt_run_tick(sl_ckpt_run *c, sl_chain *ch, const sl_source *src, const sl_addict *dict,
                     sl_sink *sink, char *msg, size_t msglen);

/* The next checkpoint's id (after a resume: the resumed one's + 1). */
void sl_ckpt_run_set_next(sl_ckpt_run *c, uint64_t id);

/* Waits for the checkpoint being written, if any, and counts it, and syncs the ingest log (the
 * end of the run). */
void sl_ckpt_run_finish(sl_ckpt_run *c);

void sl_ckpt_run_stats(const sl_ckpt_run *c, sl_ckpt_stats *st);
void sl_ckpt_run_destroy(sl_ckpt_run **cp);

/* Resumes from `from` (a checkpoint file, or a directory: its newest usable checkpoint): loads
 * the chain's state, the ids and the sink's counters into ch, dict and sink, checks that the run
 * reads the same input as the checkpoint did, positions `in` at the checkpoint's offset (a file
 * source), and, once all of that succeeded, takes the sink's output back to the length it had
 * committed (sl_sink_rewind: an output that cannot be truncated, a pipe, is said on stderr; one
 * shorter than that length is refused). Nothing was emitted into `sink` yet. *st gets the
 * source's counters for sl_source_resume, *id the checkpoint's id, *log_from the ingest log's
 * segment that follows it (a live source: replay the log from there; 0 for a file). Returns 0,
 * or an sl_err with msg (SL_EINVAL: a topology or input that does not match, or a live source's
 * checkpoint without a log; SL_EPARSE: a corrupted checkpoint). */
int sl_ckpt_resume(const char *from, const sl_topology *t, sl_chain *ch, sl_addict *dict,
                   sl_sink *sink, FILE *in, sl_source_stats *st, uint64_t *id, uint64_t *log_from,
                   char *msg, size_t msglen);

/* The ingest log's directory of a run with a live source: DIR/ingest of checkpoint.dir, or of
 * `from` (a checkpoint directory, or a checkpoint file's directory) when the run takes no
 * checkpoints. Returns 0, or SL_EINVAL with msg when `from` is not in checkpoint.dir (its log
 * would not be the one the run appends to). */
int sl_ckpt_log_dir(const sl_topology *t, const char *from, char *buf, size_t len, char *msg,
                    size_t msglen);

#endif
