/* One cluster node: listens on its ports, runs each job it is sent (host/job.h) on its OpenCL
 * device through a chain of engines, routes the rows of one stage to the owners of the next
 * stage's keys, and sends the last stage's rows to the client. Symmetric: every node runs this.
 *
 * Flow control: a node reads a stage's input only while what it has queued for that stage's
 * outputs is under a bound, so a slow peer slows its senders down (back to the client's
 * source) instead of growing memory. The stages form a chain and the client always drains the
 * last one, so the waits cannot form a cycle.
 *
 * Runs on the calling thread until *stop becomes nonzero; a job in progress is finished first
 * (a second stop aborts it), then queued frames are delivered (linger) and the sockets closed.
 * *stop is raised by a signal handler, or by the node itself for each signal read from sig_fd
 * (a signalfd; -1 for none): `sluice node` blocks SIGINT and SIGTERM in every thread and reads
 * them there, so that a signal never interrupts the OpenCL compiler (LLVM installs handlers of
 * its own) and only ever stops the node between frames. */
#ifndef SL_NODE_H
#define SL_NODE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SL_CLIENT_SOURCE UINT32_C(0xfffffffe) /* the source id of clients' frames */

/* `sluice node` exits with this status when one of its ports is in use (SL_ECONFLICT). */
#define SL_NODE_EXIT_CONFLICT 3

/* Logs one line per job and every rejected frame to stderr unless quiet. Returns 0 after a
 * stop, or an sl_err when the node cannot start (SL_ECONFLICT: a port is in use; no device) with
 * msg saying why. */
int sl_node_run(const sl_cluster_cfg *cl, uint32_t id, volatile sig_atomic_t *stop, int sig_fd,
                int quiet, char *msg, size_t msglen);

#endif
