/* The keyed PEs of one topology, in order: stage 0 is fed by the source, stage i + 1 by the
 * final and window rows of stage i (config.h, sl_stage_cfg, says how a row becomes a record),
 * and the last stage's rows go to an output callback (a sink, or a socket to one).
 *
 * Where records for the next stage go is the caller's choice: with no route callback they are
 * pushed into this chain's next engine (one process), with one they are handed to it (the
 * cluster sends them to the node that owns each key, which pushes them into its own chain with
 * sl_chain_push).
 *
 * Snapshot rows of intermediate stages are not forwarded (a later PE would count them twice);
 * the last stage's snapshots reach the output callback.
 *
 * A chain belongs to one thread, like its engines. */
#ifndef SL_CHAIN_H
#define SL_CHAIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "topology.h"
#include "engine.h"
#include "jointab.h"

typedef struct sl_chain sl_chain;

/* Receives n records for `stage` (>= 1). Returns 0 or a negative sl_err to stop. */
typedef int (*sl_chain_route_fn)(void *ud, uint32_t stage, const sl_rec *recs, size_t n);

typedef struct sl_chain_stats {
    uint32_t stages;
    sl_engine_stats engine[SL_STAGES_MAX];
    uint64_t forwarded[SL_STAGES_MAX]; /* records made from stage i's rows for stage i + 1 */
    uint64_t unjoined[SL_STAGES_MAX];  /* stage i's rows whose key stage i + 1's join lacks */
    int have_time;                     /* stage 0 was pushed a record */
    int64_t max_time_ms;               /* the largest event time pushed into stage 0 */
} sl_chain_stats;

/* Builds an engine per stage of `t` on `dev`, and checks each next stage's value column
 * against the previous PE's columns. joins[i] (i >= 1) is stage i's join table when its
 * config names one (owned by the caller, outliving the chain); joins may be NULL when no stage
 * has a join. Returns 0 with *out set, or an sl_err with `msg` naming the stage. */
int sl_chain_new(sl_device *dev, const sl_topology *t, sl_jointab *const *joins,
                 sl_chain_route_fn route, void *route_ud, sl_emit_fn out, void *out_ud,
                 sl_chain **outp, char *msg, size_t msglen);

uint32_t sl_chain_stages(const sl_chain *ch);

/* Pushes records into stage `stage`'s engine. Returns 0 or a negative sl_err (message in
 * sl_chain_message). */
int sl_chain_push(sl_chain *ch, uint32_t stage, const sl_rec *recs, size_t n);

/* As sl_chain_push, with the records' schema attributes (sl_engine_push_attrs; NULL: none). */
int sl_chain_push_attrs(sl_chain *ch, uint32_t stage, const sl_rec *recs, const uint64_t *attrs,
                        size_t n);

/* Finishes stage `stage`: its final rows go to the next stage (or the output). Returns 0 or a
 * negative sl_err. */
int sl_chain_finish(sl_chain *ch, uint32_t stage);

/* Finishes every stage in order (the one-process case). */
int sl_chain_finish_all(sl_chain *ch);

/* sl_engine_tick of every stage, in order (what a stage emits goes on to the next as push
 * would send it). Returns 0 or a negative sl_err (sl_chain_message explains). */
int sl_chain_tick(sl_chain *ch, uint32_t max_wait_ms);

/* sl_engine_align_timer of every stage: their every_ms triggers fire at the multiples of
 * every_ms of a clock that is offset_s ahead of CLOCK_MONOTONIC (a cluster node: the wall
 * clock), so that every node of a job takes its snapshots at the same moments. */
void sl_chain_align_timers(sl_chain *ch, double offset_s);

sl_engine *sl_chain_engine(const sl_chain *ch, uint32_t stage);

/* Hands the cancel flag to every stage's engine (sl_engine_set_cancel, host/engine.h): once
 * *flag is nonzero, a call that waits for the device fails with SL_ECANCELED within about
 * 50 ms. NULL removes it. The chain's thread. */
void sl_chain_set_cancel(sl_chain *ch, const volatile sig_atomic_t *flag);

/* Discards every stage's state (sl_engine_reset) for a new stream; keeps programs. */
int sl_chain_reset(sl_chain *ch);

const char *sl_chain_message(const sl_chain *ch);

void sl_chain_get_stats(const sl_chain *ch, sl_chain_stats *st);

void sl_chain_destroy(sl_chain **chp);

/* Checkpoints of every stage (sl_engine_save of each, in order: windowed stages included, with
 * their open windows and watermarks), the counters of rows forwarded and unjoined, and the
 * largest event time pushed into stage 0, into *img (malloc'd, *len bytes), and back into a
 * chain of the same topology that has taken no records yet. A chain's stages pass rows to each
 * other synchronously and saving emits nothing, so between two pushes nothing is in flight
 * between them, and what the chain emitted before the save is exactly what reached the output
 * callback. Return 0 or a negative sl_err (sl_chain_message, or msg for load: SL_EINVAL for a
 * layout that does not match, naming the stage and the field; SL_EPARSE for a damaged image). */
int sl_chain_save(sl_chain *ch, unsigned char **img, size_t *len);

/* Whether the chain's owner commits its output with each checkpoint (sl_sink_commit after
 * sl_chain_save, as a one-process run does): only then does sl_chain_save take windowed stages,
 * whose emitted windows are no longer in the state. Off by default: sl_chain_save then refuses a
 * chain with a windowed stage (SL_EUNSUPPORTED, sl_chain_message says so), because a recovery
 * from that state would lose the windows emitted before it that the output did not keep. */
void sl_chain_commit_windows(sl_chain *ch, int on);

/* sl_chain_save's image into b (b->len reset first; b keeps its memory for the next one, so
 * that a checkpoint touches no fresh memory). On failure b->len is unspecified. */
int sl_chain_save_into(sl_chain *ch, sl_bytebuf *b);

/* sl_chain_save_into one stage at a time, for a cluster node whose stages take a checkpoint's
 * barrier at different moments (barriers aligned stage by stage): stage 0 starts the image in b
 * (b->len reset), each later stage appends its part, in order; once the last stage is in, b
 * holds what sl_chain_save_into would have written had every stage been saved at its moment.
 * The first stage's part carries the chain's event time. Returns 0 or a negative sl_err
 * (SL_EINVAL: a stage out of order; sl_chain_message explains). */
int sl_chain_save_stage(sl_chain *ch, uint32_t stage, sl_bytebuf *b);
int sl_chain_load(sl_chain *ch, const unsigned char *img, size_t len, char *msg, size_t msglen);

#endif
