/* One cluster node: listens on its ports, runs each job it is sent (host/job.h) on its OpenCL
 * device through a chain of engines, routes the rows of one stage to the owners of the next
 * stage's keys, and sends the last stage's rows to the client. Symmetric: every node runs this.
 *
 * Flow control: a node reads a stage's input only while what it has queued for that stage's
 * outputs is under a bound, so a slow peer slows its senders down (back to the client's
 * source) instead of growing memory. The stages form a chain and the client always drains the
 * last one, so the waits cannot form a cycle.
 *
 * Runs on the calling thread until *stop becomes nonzero (a signal handler sets it); a job in
 * progress is finished first, then queued frames are delivered (linger) and the sockets
 * closed. */
#ifndef SL_NODE_H
#define SL_NODE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SL_CLIENT_SOURCE UINT32_C(0xfffffffe) /* the source id of clients' frames */

/* Logs one line per job and every rejected frame to stderr unless quiet. Returns 0 after a
 * stop, or an sl_err when the node cannot start (ports in use, no device) with msg saying why. */
int sl_node_run(const sl_cluster_cfg *cl, uint32_t id, volatile sig_atomic_t *stop, int quiet,
                char *msg, size_t msglen);

#endif
