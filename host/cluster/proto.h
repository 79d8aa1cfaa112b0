/* The job protocol's messages: the application frame kinds (netio/frame.h) that nodes and
 * clients send each other. netio carries them without reading them; whether a kind is
 * sequence-numbered, acknowledged and resent is in its value (SL_FRAME_TRACKED), which is all
 * netio needs to know. What each payload holds is in job.h; how a job runs, docs/cluster.md.
 *
 * The values are part of the wire format: a new message takes the next free number, and a
 * change of meaning a new SL_FRAME_VERSION. Any thread. */
#ifndef SL_PROTO_H
#define SL_PROTO_H

#include "frame.h"

enum sl_msg_kind {
    /* client -> node's first port: a job (sl_job_encode's payload); tracked */
    SL_MSG_JOB = SL_FRAME_APP_KIND(0, 1),
    /* client -> node: "answer to this endpoint" (its text); node -> client: the answer
     * (sl_hello_format). Untracked: any client may ping. */
    SL_MSG_HELLO = SL_FRAME_APP_KIND(1, 0),
    /* node -> client: the job failed; the payload is the message. Tracked */
    SL_MSG_ABORT = SL_FRAME_APP_KIND(2, 1),
    /* node -> client: the node finished the job; the payload is its sl_node_report. Tracked */
    SL_MSG_DONE = SL_FRAME_APP_KIND(3, 1),
    /* either way, on control ports: "I am alive and still want the job of `stream`". Untracked,
     * repeated every SL_LEASE_EVERY_MS (node.h) */
    SL_MSG_LEASE = SL_FRAME_APP_KIND(4, 0),
    /* client -> node's control port: "drop the job of `stream`". Untracked, repeated */
    SL_MSG_CANCEL = SL_FRAME_APP_KIND(5, 0),
    /* `sluice job` -> node 0's control port: a job command (submit, list, status, stop, cancel:
     * jobctl.h's sl_jobctl_encode). Untracked, answered once like HELLO */
    SL_MSG_JOBCTL = SL_FRAME_APP_KIND(6, 0),
    /* node 0 -> the command's endpoint: the answer (jobctl.h). Untracked */
    SL_MSG_JOBCTL_REPLY = SL_FRAME_APP_KIND(7, 0),
    /* node -> client, when the nodes ingest (source.ingest: nodes): ids this node read, so that
     * the client can name keys in its output: entries of a u64 key, a u32 length and the id's
     * bytes (little-endian), each key's id once per node. Tracked, ahead of the node's DONE */
    SL_MSG_DICT = SL_FRAME_APP_KIND(12, 1),
    /* node -> client, when the nodes ingest: a malformed line (sl_badline_encode: line, column,
     * byte offset, reason), the first SL_BADLINES_SENT of each node's job. Tracked */
    SL_MSG_BADLINE = SL_FRAME_APP_KIND(13, 1),
    /* client -> node's control port: "stop reading your input" (a drain, as SIGINT does to a
     * one-process run). Untracked, repeated with the leases */
    SL_MSG_STOP = SL_FRAME_APP_KIND(14, 0),
    /* client -> node's control port, when the nodes ingest: "every node has the job: start
     * reading" (a node's records to a peer that has not yet set the job up would be dropped
     * there). Untracked, repeated with the leases */
    SL_MSG_GO = SL_FRAME_APP_KIND(15, 0),
    /* client -> node, on the first stage's data stream behind the records before it: "write a
     * checkpoint of your state now"; the payload is its id and the newest checkpoint every node
     * has written, which must be kept (u64 each, little-endian). Tracked */
    SL_MSG_BARRIER = SL_FRAME_APP_KIND(16, 1),
    /* node -> client, on the result stream: checkpoint `id` is written (u64 id, u32 1) or could
     * not be (u32 0, then the reason's text); u32 3: the node took the barrier here (the rows
     * before it are in the checkpoint as emitted; the written answer follows once durable);
     * u32 2: its input had ended, nothing to checkpoint. Tracked */
    SL_MSG_CKPT_DONE = SL_FRAME_APP_KIND(17, 1),
    /* node -> client, on the last stage's result stream: the snapshot whose rows
     * (SL_SCHEMA_ROW_SNAPSHOT) came since the previous one is complete; the payload is its
     * sl_snap_end (job.h). Tracked */
    SL_MSG_SNAPSHOT_END = SL_FRAME_APP_KIND(8, 1),
};

#define SL_BADLINES_SENT 100 /* malformed lines a node reports to the client per job */

#endif
