/* Local node processes: `sluice cluster up` and `sluice ctr --nodes N` start one `sluice node`
 * process per node of a cluster file that lives on this machine (their children), wait until
 * every node of the file answers, and stop them cleanly: SIGTERM, which lets a node finish its
 * job and deliver what it has queued, then SIGKILL only past a timeout (reported). Children get
 * SIGTERM if the launching process dies (PR_SET_PDEATHSIG); started with exit_with_parent (as
 * `--nodes` does) they then abort their job at once, exit and remove the launcher's temporary
 * folder, so no node outlives a client killed with SIGKILL.
 *
 * One thread owns a launch. */
#ifndef SL_LAUNCH_H
#define SL_LAUNCH_H

#include <stddef.h>
#include <stdint.h>

#include "topology.h"

typedef struct sl_launch sl_launch;

/* 1 when `host` names this machine's loopback ("127.0.0.1", "localhost", "::1", 127.x.y.z) or
 * one of its interface addresses. */
int sl_host_is_local(const char *host);

/* Starts `exe node --config cluster_path --id i` for every local node of `cl` (quiet: with
 * --quiet; temp_dir: with --exit-with-parent and --cleanup-dir temp_dir, for nodes that belong to
 * this process alone). Returns 0 with *out, or an sl_err with msg (nothing is left running). */
int sl_launch_start(const char *exe, const char *cluster_path, const sl_cluster_cfg *cl, int quiet,
                    const char *temp_dir, sl_launch **out, char *msg, size_t msglen);

/* Starts again every node process that exited (cluster up keeps the cluster whole). Returns the
 * number restarted, with a line per node in msg ("" when none). */
int sl_launch_restart_dead(sl_launch *l, char *msg, size_t msglen);

/* Number of node processes (not retired) that were killed by a signal (SIGKILL, a crash). */
int sl_launch_killed(sl_launch *l);

/* Fences the node processes that did not answer (answered[id] == 0; a paused or hung one): each
 * gets SIGKILL and is reaped, so that it can never act again and sl_launch_restart_dead starts
 * a new one. Returns the number killed. */
int sl_launch_fence(sl_launch *l, const int *answered);

/* Marks every node process that exited as retired: its partitions go to survivors, so it is not
 * started again, and it no longer counts as a failure (sl_launch_alive, sl_launch_stop).
 * alive[id] says which node processes still run. When none does, none is retired (they are all
 * to be started again). Returns the number retired now. */
int sl_launch_retire_dead(sl_launch *l, int *alive);

/* 1 when every port in [base, base + count) can be bound on 127.0.0.1 right now (another
 * process may still take one before it is used). */
int sl_ports_free(unsigned base, unsigned count);

/* Number of node processes started. */
uint32_t sl_launch_count(const sl_launch *l);

/* Waits until every node of the cluster answers (sl_client_ping) and every local node answers
 * from the process started for it. Returns 0; SL_ECONFLICT when another process (of another
 * cluster, or one that took a port first) answers at a local node's address; SL_EIO when a child
 * exited or a node did not answer in time; msg says which. */
int sl_launch_wait_ready(sl_launch *l, const sl_cluster_cfg *cl, int timeout_ms, char *msg,
                         size_t msglen);

/* An sl_client_alive_fn: `ud` is the launch. Nonzero with msg when a node process exited: 2
 * when it exited because a port was in use (SL_NODE_EXIT_CONFLICT), 1 otherwise. */
int sl_launch_alive(void *ud, char *msg, size_t msglen);

/* Stops every node (SIGTERM, then SIGKILL after timeout_ms) and reaps them. Returns 0 when all
 * exited with status 0 after SIGTERM, else SL_EIO with msg saying which did not. *lp is freed
 * and set to NULL either way. */
int sl_launch_stop(sl_launch **lp, int timeout_ms, char *msg, size_t msglen);

/* Makes a new temporary folder (its path to dir) holding a fresh CURVE key pair and a cluster
 * file for n nodes on 127.0.0.1 with free ports and those keys, using OpenCL device `device` (""
 * for the default); with metrics > 0, node i serves its metrics at port metrics + i. The file's
 * path goes to path. Returns 0 or SL_EIO with msg (nothing left). */
int sl_launch_local_cluster(uint32_t n, const char *device, uint32_t metrics, char *dir,
                            size_t dirlen, char *path, size_t pathlen, char *msg, size_t msglen);

/* Removes a folder made by sl_launch_local_cluster and what it holds. */
void sl_launch_remove_local(const char *dir);

#endif
