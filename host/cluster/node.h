/* One cluster node: listens on its ports, runs each job it is sent (host/job.h) on its OpenCL
 * device through a chain of engines, routes the rows of one stage to the owners of the next
 * stage's keys, and sends the last stage's rows to the client. Symmetric: every node runs this.
 *
 * Ports: port + s (s < SL_NODE_PORTS) takes stage s's records (port 0 also JOB and HELLO);
 * port + SL_NODE_CTL takes control frames (ACK, LEASE, CANCEL), and is read whatever the data
 * ports' back-pressure, so that acknowledgements always get through.
 *
 * Delivery: records, rows and end-of-stream marks are acknowledged and resent after a lost
 * connection (netio/outbox.h), so a peer paused past ZeroMQ's heartbeat loses nothing.
 * Liveness: the client leases the job (LEASE every SL_LEASE_EVERY_MS); a job whose client has
 * been silent for net.liveness_ms is cancelled, so a dead client never leaves the node busy. The
 * node's own leases to the client come from a thread of their own, which also reads the stop
 * signals, so they flow while the main thread compiles or waits for a kernel.
 *
 * Flow control: a node reads a stage's input only while what it holds (queued or not yet
 * acknowledged) for that stage's outputs is under a bound, so a slow peer slows its senders
 * down (back to the client's source) instead of growing memory.
 *
 * Several jobs (up to SL_NODE_JOBS) run at once, each in a slot of its own: frames, acks, leases
 * and cancels go to the slot of the job in their stream (job.h's sl_stream_job). Node 0 also
 * keeps the registry of submitted jobs (registry.h) and answers `sluice job` commands.
 *
 * Runs on the calling thread until a stop; the jobs in progress are finished first (a second stop
 * aborts it), then queued frames are delivered (linger) and the sockets closed. Stops come from
 * *stop (a signal handler's flag) or from sig_fd (a signalfd; -1 for none), read by the lease
 * thread: `sluice node` blocks SIGINT and SIGTERM in every thread so that a signal never
 * interrupts the OpenCL compiler (LLVM installs handlers of its own). */
#ifndef SL_NODE_H
#define SL_NODE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "topology.h"

#define SL_CLIENT_SOURCE UINT32_C(0xfffffffe) /* the source id of clients' frames */
#define SL_LEASE_EVERY_MS 250                 /* how often leases are sent */
#define SL_NODE_JOBS 4 /* jobs a node runs at once; one more is refused ("busy") */

/* `sluice node` exits with this status when one of its ports is in use (SL_ECONFLICT). */
#define SL_NODE_EXIT_CONFLICT 3

typedef struct sl_node_opts {
    const sl_cluster_cfg *cl;
    uint32_t id;
    volatile sig_atomic_t *stop; /* raised by a signal handler; may be NULL */
    int sig_fd;                  /* signalfd of SIGINT/SIGTERM, or -1 */
    int quiet;                   /* no log lines on stderr */
    int exit_with_parent;        /* abort the job and stop when the parent process is gone */
    const char *cleanup_dir;     /* with exit_with_parent: the parent's temporary folder of the
                                    cluster file and keys, removed when the parent is gone */
    const char *cluster_path;    /* node 0: the cluster file's absolute path, for the drivers of
                                    submitted jobs (registry.h); NULL: no `sluice job` here */
} sl_node_opts;

/* Logs one line per job and every rejected frame to stderr unless quiet. Returns 0 after a
 * stop, or an sl_err when the node cannot start (SL_ECONFLICT: a port is in use; no device) with
 * msg saying why. */
int sl_node_run(const sl_node_opts *o, char *msg, size_t msglen);

#endif
