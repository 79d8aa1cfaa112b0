/* A node's part in the cluster state kept in ZooKeeper (docs/cluster.md, "Cluster state in
 * ZooKeeper"), when the cluster file has `zookeeper: {connect, root, session_ms}`: membership,
 * the election of the job coordinator, and the partition map the coordinator publishes. The job
 * registry's records (registry.h) live beside them. Under the root R:
 *
 *   R/members/ID    ephemeral: the live incarnation of node ID ("id", "pid", "address",
 *                   "epoch", "session" lines); gone when its session ends
 *   R/epochs/ID     persistent counter: node ID's epoch, +1 at every registration, so a node
 *                   that comes back is a new incarnation with a larger number
 *   R/election/cand-NNNNNNNNNN   ephemeral sequential, data: the node id. The lowest leads.
 *   R/leader        ephemeral, written by the coordinator once elected: "id", "pid",
 *                   "address" (its first port), "epoch" (R/leader_epoch's value)
 *   R/leader_epoch  persistent counter: +1 at every takeover
 *   R/partmap       persistent, written by the coordinator: "partitions", "nodes", "epoch" and
 *                   "owners" (the node of partition 0, 1, ... separated by spaces)
 *   R/jobs/ID       the job registry (registry.h)
 *   R/jobs/ID/partmap  persistent, written by the job's driver at each attempt: "job",
 *                   "driver_epoch", "attempt", "nodes", "players" (the node that plays node 0,
 *                   1, ...: itself, or a survivor in its place), "partitions" and "owners" (the
 *                   node serving partition 0, 1, ...: the player of its node in R/partmap)
 *
 * Every node of the cluster file that runs with it (cluster up, sluice node --config) is a
 * candidate. A coordinator keeps its seat as long as its session lives: while ZooKeeper is
 * unreachable (restarting, cut off) it goes on, because the server keeps the session for a
 * restart; once its session has expired it is no longer the coordinator (another node may be),
 * and it registers again as a new candidate.
 *
 * Only the node's main thread uses an sl_coord. */
#ifndef SL_COORD_H
#define SL_COORD_H

#include <stddef.h>
#include <stdint.h>

#include "partmap.h"
#include "topology.h"
#include "zk.h"

typedef struct sl_coord sl_coord;

/* Connects node `id` of cl (cl->zk.connect must be set) to ZooKeeper, waiting up to
 * cl->zk.session_ms for the session; registration and candidacy follow in sl_coord_poll.
 * quiet: no log lines. Returns 0, or SL_EIO (ZooKeeper did not answer) / SL_ENOMEM with msg. */
int sl_coord_new(const sl_cluster_cfg *cl, uint32_t id, int quiet, sl_coord **out, char *msg,
                 size_t msglen);

/* Leaves (the session closes: membership and candidacy go at once) and frees *cp. */
void sl_coord_destroy(sl_coord **cp);

/* One step, for every turn of the node's loop: cheap unless a watch fired, the session changed
 * or a second passed; then (connected only) registers this node, stands for election, and,
 * when elected, takes the seat (R/leader, R/partmap). withdraw: the node is stopping: it
 * leaves the election and gives up the seat. Returns 1 while this node is the coordinator. */
int sl_coord_poll(sl_coord *c, int withdraw);

/* The session, for the job registry's records (registry.h). */
sl_zk *sl_coord_zk(sl_coord *c);
const char *sl_coord_root(const sl_coord *c);

/* The coordinator's epoch (R/leader_epoch when this node took the seat); 0 when not leading. */
uint64_t sl_coord_epoch(const sl_coord *c);

/* For the job commands: the id of the node that coordinates cl now (R/leader). Waits up to
 * wait_ms for a coordinator to be elected. Returns 0 with *id, or SL_ENOENT (none elected
 * in time), SL_EIO (ZooKeeper did not answer) with msg. */
int sl_coord_find_leader(const sl_cluster_cfg *cl, uint32_t wait_ms, uint32_t *id, char *msg,
                         size_t msglen);

/* For the driver of submitted job `job`: writes R/jobs/JOB/partmap (above) for the attempt it
 * starts, in which node host[d] plays node d of map (nodes: cl->nnodes), through a session of
 * its own (waiting up to wait_ms for it). A record written by a newer driver (a larger
 * driver_epoch, or the same with a later attempt) is left as it is: a fenced driver cannot
 * write over its successor's (a versioned write, tried again when another writer came
 * between). Returns 0, or SL_EIO / SL_ENOMEM with msg. */
int sl_coord_publish_job_map(const sl_cluster_cfg *cl, uint32_t job, uint64_t driver_epoch,
                             uint64_t attempt, const sl_partmap *map, const uint32_t *host,
                             uint32_t wait_ms, char *msg, size_t msglen);

#endif
