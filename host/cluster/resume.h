/* The client's part of a clustered run's checkpoint (docs/fault-tolerance.md): once every node has
 * written checkpoint N, the client writes DIR/client/ckpt-N (host/io/ckptfile.h: temporary name,
 * fsync, rename) with what it needs to go on from there: the source's counters and offset at the
 * barrier, the records sent by type, and the ids read so far. Its presence says checkpoint N is
 * complete, so a new client can take over the run from it:
 *
 *   - a driver started again by a new coordinator (`sluice run --resume`): the newest complete
 *     checkpoint of the topology's checkpoint.dir;
 *   - a savepoint (`sluice job savepoint ID`, `--from SAVEPOINT`): a folder holding one complete
 *     checkpoint (client/ and node-ID/ files), kept until the user removes it.
 *
 * Any thread; the functions keep nothing. */
#ifndef SL_RESUME_H
#define SL_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "topology.h"

/* Writes the client's part of complete checkpoint rec->ckpt_id of topology t on nnodes nodes
 * into dir/client, and removes the client's older parts. Returns 0, or an sl_err with msg. */
int sl_resume_write(const char *dir, const sl_topology *t, uint32_t nnodes,
                    const sl_client_recovery *rec, char *msg, size_t msglen);

/* Loads the newest client part in dir/client into rec (ckpt_id, at, types, next_id, the ids into
 * rec->dict, the window rows kept) after checking that it was taken by a run of the same input,
 * format and node count. Returns 1 when one was loaded, 0 when dir
 * has none, or an sl_err with msg (SL_EINVAL: another run's; SL_EPARSE: damaged). */
int sl_resume_load(const char *dir, const sl_topology *t, uint32_t nnodes, sl_client_recovery *rec,
                   char *msg, size_t msglen);

/* The highest number among the checkpoints and ingest log segments of dir/client and every
 * dir/node-K (ckpt-N, log-N; 0 when none). A client that goes on from a checkpoint numbers its
 * barriers above it: a barrier taken but never completed before the old client died left a
 * segment (and node files) of its number, which a new barrier must not reuse. */
uint64_t sl_resume_highest(const char *dir);

/* Removes the ingest log segments of dir/client (a run started from a savepoint begins a log of
 * its own). */
void sl_resume_drop_logs(const char *dir);

/* Copies complete checkpoint `id` of dir (dir/client/ckpt-id and every dir/node-K/ckpt-id, K <
 * nnodes) into the folder `to` (made; it must not exist), syncing each file and the folders, so
 * that it can be loaded with `--from to` whatever becomes of dir. Returns 0, or an sl_err with
 * msg. */
int sl_resume_copy(const char *dir, uint64_t id, uint32_t nnodes, const char *to, char *msg,
                   size_t msglen);

#endif
