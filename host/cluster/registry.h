/* Node 0's job registry: the jobs submitted with `sluice job submit` (docs/cluster.md, "Jobs
 * that live on the cluster"). Each runs as a driver process, node 0's own child: `sluice run
 * topology.yaml --cluster FILE --job-id ID` in the job's folder STATE/ID (STATE: the cluster
 * file's path + ".jobs"), with the topology and its join tables written there, stdout to
 * STATE/ID/stdout and stderr to STATE/ID/log. A driver is an ordinary cluster client: it reads
 * the input, feeds every node and writes the sink next to the cluster, whatever becomes of the
 * command that submitted it. It gets SIGKILL when node 0 dies (PR_SET_PDEATHSIG). It keeps its
 * progress in STATE/ID/progress (`--progress-file`, host/cli/report.h: events so far, malformed
 * lines, rate), which list and status show.
 *
 * Stop drains (SIGINT: the driver ends its input, the final rows are written, it exits 0);
 * cancel drops (SIGINT and SIGTERM at once, which the driver counts as two stops: it tells the
 * nodes to drop the job and exits non-zero; SIGKILL if it is still there 5 s later).
 *
 * Each job's state is also kept in STATE/ID/state ("KEY VALUE" lines: id, state, exit_status,
 * started, ended, topology; written to state.tmp, synced and renamed at every change), so that a
 * restarted node 0 (sl_registry_new) lists the jobs of the ones before it: a job recorded as
 * running, stopping or cancelling was alive when that node 0 died, and its driver died with it,
 * so it becomes `lost`; ended jobs keep their state. A new job's id is one no folder in STATE has
 * (its folder is made exclusively), so ids are not used again across restarts. Only the node's
 * main thread uses the registry. */
#ifndef SL_REGISTRY_H
#define SL_REGISTRY_H

#include <stddef.h>

#include "jobctl.h"
#include "zk.h"

typedef struct sl_registry sl_registry;

/* exe: the sluice executable; cluster_path: the cluster file (absolute). quiet: no log lines.
 * Reads the jobs recorded in STATE (the JOBS_MAX newest; see above). Returns 0 or SL_ENOMEM. */
int sl_registry_new(const char *exe, const char *cluster_path, int quiet, sl_registry **out);

/* The registry of the job coordinator elected through ZooKeeper (coord.h), node `node`: every
 * change of a job's state is also recorded in ROOT/jobs/ID (the state file's lines, "dir" and
 * "node"; written again by sl_registry_poll when ZooKeeper was unreachable), with the topology
 * in ROOT/jobs/ID/topology and its files in ROOT/jobs/ID/file-K. Reads the jobs recorded there
 * (the JOBS_MAX newest): those recorded as running lost their driver with the coordinator
 * before and are started again here (with --resume when their topology takes checkpoints: from
 * the newest complete one; else from their beginning), restart_delay_ms later (the nodes drop the
 * old driver's job after net.liveness_ms; pass at least that), their folder written again from
 * ZooKeeper when this machine has none; stopping ones are lost, cancelling ones cancelled. A new
 * job's id is also one no record in ROOT/jobs has. zk stays the caller's. Every driver it starts
 * carries `epoch`, the coordinator's (--driver-epoch): the nodes refuse an older coordinator's
 * drivers once they saw a newer one's (docs/fault-tolerance.md, "Two drivers of one job").
 * Returns 0 or SL_ENOMEM. */
int sl_registry_new_zk(const char *exe, const char *cluster_path, int quiet, uint32_t node,
                       sl_zk *zk, const char *root, uint32_t restart_delay_ms, uint64_t epoch,
                       sl_registry **out);

/* A coordinator that lost its seat: kills (SIGKILL) and reaps the drivers still running and
 * frees the registry, leaving the jobs' records as they are (the next coordinator starts them
 * again). */
void sl_registry_abandon(sl_registry **r);

/* Kills (SIGKILL) and reaps the drivers still running, and frees the registry. */
void sl_registry_destroy(sl_registry **r);

/* Reaps the drivers that exited and settles their jobs' states; kills a cancelled driver that
 * outlived its grace. Call it often. */
void sl_registry_poll(sl_registry *r);

/* Number of drivers still running. */
int sl_registry_running(const sl_registry *r);

/* Stops (cancel 0: drain) or cancels every running job. */
void sl_registry_stop_all(sl_registry *r, int cancel);

/* Carries out a job command. Returns 0 with the answer in out, or an sl_err with the reason
 * in out (the command is refused). */
int sl_registry_request(sl_registry *r, const sl_jobctl_req *req, char *out, size_t outlen);

#endif
