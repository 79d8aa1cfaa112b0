/* The node-count sweep of the benchmark suite: per-ad CTR over the generator on N local
 * `sluice node` processes (sl_launch, sl_client_run over ZeroMQ on loopback), against the same
 * topology in this one process (sl_pipeline_run), in the same run. Both write CSV through the
 * same sink; the files must be equal byte for byte on every repetition.
 *
 * Runs on the calling thread; starts and stops its node processes (also on errors). */
#ifndef BENCH_NODES_H
#define BENCH_NODES_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

typedef struct nodes_opts {
    int quick, reps;
    uint64_t seed, events;
    const char *device;
} nodes_opts;

/* Number of cases nodes_run adds (one per node count). */
int nodes_cases(int quick);

/* Adds one "sweep_nodes" case per node count to r (x = nodes), each with the systems
 * "sluice cluster" and "sluice 1 process"; *done is incremented per case. A case whose files
 * differ has equal = 0. Returns 0, or an sl_err with msg (a node failed, a port clash...). */
int nodes_run(const nodes_opts *o, rp_report *r, int *done, char *msg, size_t msglen);

#endif
