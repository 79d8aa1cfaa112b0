/* A node's write-ahead ingest log (docs/fault-tolerance.md, "Ingest on every node from a live
 * source"): with source.ingest: nodes, a zmq or tcp source and checkpoints, every record a node
 * reads is appended here, with the ids it learnt, before it is routed. The log lives in the
 * node's checkpoint folder (checkpoint.dir/node-K/log-SEG, host/io/ingestlog.h) and is cut by
 * the same barriers as the node's state:
 *
 *   - at barrier N (when the node notes its reading position) the log rolls to segment N, so that
 *     segment N holds what the node read after barrier N, and the segments below the newest
 *     complete checkpoint are removed;
 *   - a job instance restored from complete checkpoint R (a recovery, or --resume) goes on with
 *     the log as it is and routes the records of segments R and later again before it reads on,
 *     so that whatever the node read after barrier R is counted once;
 *   - a first instance (not a recovery) starts the log afresh.
 *
 * One thread owns a log (the node's loop). */
#ifndef SL_NODELOG_H
#define SL_NODELOG_H

#include <stddef.h>
#include <stdint.h>

#include "addict.h"
#include "event.h"

typedef struct sl_nodelog sl_nodelog;

/* Opens the log in folder dir (made, with its parent, when missing). resume: go on with what is
 * there (a torn tail is cut) and send segments from replay_from on again (sl_nodelog_replay);
 * else every segment there is removed first. Returns 0 with *out, or an sl_err with msg. */
int sl_nodelog_open(const char *dir, int resume, uint64_t replay_from, sl_nodelog **out, char *msg,
                    size_t msglen);

/* 1 while a resumed log's records have not been sent again yet. */
int sl_nodelog_replay_pending(const sl_nodelog *l);

/* Appends the ids dict learnt since the last call (and since the replay), then n records with
 * their schema.attributes (nattr words each; attrs NULL when nattr is 0). Returns 0, or an sl_err
 * with msg (the disk is full, a write failed: the records must not be routed). */
int sl_nodelog_append(sl_nodelog *l, const sl_addict *dict, const sl_rec *recs,
                      const uint64_t *attrs, uint32_t nattr, size_t n, char *msg, size_t msglen);

/* Barrier `id` (the node notes its reading position): what was appended is synced and later
 * appends go to segment id; segments below `complete` (the newest checkpoint complete on every
 * node, 0: none) are removed. Returns 0, or an sl_err with msg (the job cannot go on: records
 * read after the barrier would be replayed from the wrong place). */
int sl_nodelog_barrier(sl_nodelog *l, uint64_t id, uint64_t complete, char *msg, size_t msglen);

/* Called with each block of replayed records (valid during the call) and their attribute words
 * (nattr each, attrs NULL when 0). Returns 0 or an sl_err with msg. */
typedef int (*sl_nodelog_fn)(void *ud, const sl_rec *recs, const uint64_t *attrs, uint32_t nattr,
                             size_t n, char *msg, size_t msglen);

/* Once, for a resumed log: interns the logged ids into dict and hands the records of segments
 * replay_from and later to fn, in order. *count gets the records. Returns 0 (at once when there
 * is nothing pending), what fn returned, or an sl_err with msg (a segment damaged, an id that
 * does not hash to its key or collides with another). */
int sl_nodelog_replay(sl_nodelog *l, sl_addict *dict, sl_nodelog_fn fn, void *ud, uint64_t *count,
                      char *msg, size_t msglen);

/* The log's folder. */
const char *sl_nodelog_dir(const sl_nodelog *l);

/* Syncs and closes the log, frees it and sets *lp NULL. Accepts NULL and *lp == NULL. */
void sl_nodelog_close(sl_nodelog **lp);

#endif
