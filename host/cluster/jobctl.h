/* The job commands of `sluice job` (docs/cluster.md, "Jobs that live on the cluster"): their
 * wire format and the command side's round trip to node 0, which keeps the cluster's job
 * registry (registry.h).
 *
 * A command is one untracked SL_MSG_JOBCTL frame to node 0's control port (read whatever the
 * data ports' back-pressure), answered once with an SL_MSG_JOBCTL_REPLY frame at the endpoint
 * it names, as HELLO is: the endpoint must be on the address the command came from.
 *
 * Payload of a command, every field a little-endian u32 length and that many bytes: the reply
 * endpoint, the verb ("submit", "list", "status", "stop", "cancel", "savepoint"), its argument (a
 * job id, or for submit the topology's file name), then for submit the savepoint to start from
 * ("" for none), the topology's YAML text and any number
 * of (relative file name, text) pairs: join tables to write next to it. A reply is one byte,
 * '0' (done) or '1' (refused), then the text to show.
 *
 * Any thread. */
#ifndef SL_JOBCTL_H
#define SL_JOBCTL_H

#include <stddef.h>
#include <stdint.h>

#include "topology.h"

#define SL_JOBCTL_FILES 8 /* files shipped with a submitted topology, at most */

typedef struct sl_jobctl_req {
    char endpoint[512];
    char verb[16];
    char arg[256];
    char from[1024];  /* submit: --from SAVEPOINT, a folder on node 0's machine ("": none) */
    const char *topo; /* submit: the topology's text (not NUL-terminated), topo_len bytes */
    size_t topo_len;
    uint32_t nfiles;
    char fname[SL_JOBCTL_FILES][256];
    const char *ftext[SL_JOBCTL_FILES];
    size_t flen[SL_JOBCTL_FILES];
} sl_jobctl_req;

/* Encodes a command into *buf (malloc'd, caller frees). Returns 0 or SL_ENOMEM. */
int sl_jobctl_encode(const sl_jobctl_req *r, unsigned char **buf, size_t *len);

/* Decodes a command; topo and ftext point into p. Every length is checked against what is
 * left, strings against their fields. Returns 0 or SL_EPARSE with the reason in err. */
int sl_jobctl_decode(const unsigned char *p, size_t len, sl_jobctl_req *r, char *err,
                     size_t errlen);

/* Sends the command `r` (its endpoint is filled here) to node `node` of `cl` (the coordinator:
 * node 0, or the one ZooKeeper elected, coord.h) and waits up to timeout_ms for the answer.
 * Returns 0 with the answer's text in out (refused: *refused = 1), or SL_EIO when the node did
 * not answer, with msg saying so. */
int sl_jobctl_call(const sl_cluster_cfg *cl, uint32_t node, sl_jobctl_req *r, int timeout_ms,
                   int *refused, char *out, size_t outlen, char *msg, size_t msglen);

#endif
