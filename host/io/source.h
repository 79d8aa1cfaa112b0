/* A topology's source and keyless filter: records from the generator, from a reader over a
 * file or stdin, from a followed file (file with follow: true), or from live sockets (zmq: a
 * ZeroMQ PULL socket; tcp: newline-delimited lines from several TCP clients), with the event types
 * the topology does not want removed (and counted). Used by the one-process pipeline and by the
 * cluster client alike (through host/run/ingest.h).
 *
 * Kinds of source are backends behind one ops table (source.c: open, a read that returns what is
 * available without waiting long, a descriptor to poll, stats, close), registered in one table
 * there: adding a kind is a backend in host/io and a row in that table (docs/architecture.md).
 *
 * Belongs to one thread. */
#ifndef SL_SOURCE_H
#define SL_SOURCE_H

#include <stdint.h>
#include <stdio.h>

#include "addict.h"
#include "topology.h"
#include "event.h"
#include "reader.h"
#include "slice.h"

typedef struct sl_source sl_source;

/* The name of source kind `kind` (its source.type), or NULL past the last kind. */
const char *sl_source_kind_name(int kind);

/* Checks the source's kind-specific keys (t->source.opts) as the kind's backend reads them.
 * Returns 0, or SL_ECONFIG with a message naming the key's line and column. */
int sl_source_check(const sl_topology *t, char *msg, size_t msglen);

/* Whether t's source carries schema.attributes to the kernels: every kind whose backend offers
 * them (all of today's; a file on several threads falls back to one reader for them), and the
 * generator, which has none to carry. Returns 0, or SL_EUNSUPPORTED with msg naming the
 * source. */
int sl_source_carries_attrs(const sl_topology *t, char *msg, size_t msglen);

/* Whether every node of a cluster can read its own part of t's source (source.ingest: nodes):
 * a file read once (its lines are dealt into parts), or a zmq or tcp source (each node binds its
 * own endpoint). Returns 0, or SL_EUNSUPPORTED with the reason (stdin and a followed file have
 * one reader; the generator would make the same events on every node; a compressed file, looked
 * at when it can be opened, cannot be cut: sl_slice_check). */
int sl_source_splittable(const sl_topology *t, char *msg, size_t msglen);

/* Makes t's source part `part` of `nparts` (part = a node's id): a zmq or tcp source binds the
 * port of source.bind plus `part` (port 0 or "*" stays: the system picks); a file's part is
 * opened into *in (sl_slice_open, its bytes in *info) to be read as stdin would be. *in stays
 * NULL and *info zero for zmq and tcp. Returns 0, or an sl_err with msg. */
int sl_source_part(sl_topology *t, uint32_t part, uint32_t nparts, FILE **in, sl_slice_info *info,
                   char *msg, size_t msglen);

/* Opens the topology's source: the generator, or a reader of `in` (opened by the caller).
 * Keys are interned in `dict`. Returns 0 with *out, or an sl_err with msg. */
int sl_source_new(const sl_topology *t, FILE *in, sl_addict *dict, sl_bad_fn on_bad, void *bad_ud,
                  sl_source **out, char *msg, size_t msglen);

/* Reads up to `cap` records into buf, after the filter: what is available now, never waiting
 * to fill buf (a pipe or socket with nothing to read returns 0 after at most the wait time,
 * sl_source_set_wait). Returns the number (0 at the end
 * of input, or when nothing was available, or when the filter removed all of it: callers loop
 * on sl_source_done), or a negative sl_err: SL_EIO, or SL_EPARSE when on_bad asked to stop. */
long sl_source_read(sl_source *s, sl_rec *buf, size_t cap);

/* schema.attributes: those of the records the last sl_source_read returned (after the
 * filter), t->schema.nattrs words each in the same order (sl_reader_attrs); NULL when the
 * schema declares none. Valid until the next read. */
const uint64_t *sl_source_attrs(const sl_source *s);

/* 1 once the input is exhausted. Live sources (zmq, tcp, a followed file) run until
 * sl_source_close_input. */
int sl_source_done(const sl_source *s);

/* The longest one sl_source_read waits when nothing is available (ms, 0 = not at all; default
 * SL_READER_WAIT_MS). Sources that never wait (a regular file, the generator) ignore it. */
void sl_source_set_wait(sl_source *s, int ms);

/* Stops taking new input: a tcp source closes its listening socket, a zmq source unbinds, a
 * followed file stops following. Later reads return what was already taken (bytes the kernel
 * or ZeroMQ had received, lines buffered, the followed file up to its current end) without
 * waiting, then the source is done; a line without its newline is then parsed as a line, as at
 * the end of a file. Other kinds are done at once. For SIGINT. Returns 0 or an sl_err. */
int sl_source_close_input(sl_source *s);

/* The address a zmq or tcp source listens on, with the port the system chose when the topology
 * asked for port 0 (tcp) or "*" (zmq): "tcp://127.0.0.1:5600", "127.0.0.1:5601". NULL for
 * other kinds, and after sl_source_close_input for tcp. */
const char *sl_source_endpoint(const sl_source *s);

/* A descriptor that becomes readable when the source may have more: a pipe, terminal or socket;
 * for tcp an epoll descriptor (level-triggered) over the listening socket and connections; for
 * zmq ZeroMQ's ZMQ_FD, edge-triggered: it fires once after a read returned fewer than cap
 * records (read again at once when one returned cap). -1 where there is none (files, followed
 * files, the generator): call sl_source_read in a loop; it waits at most the wait time. */
int sl_source_fd(const sl_source *s);

typedef struct sl_source_stats {
    struct sl_reader_stats input; /* zero for the generator */
    uint64_t generated;
    uint64_t filtered;
    uint64_t passed;
    uint64_t messages;    /* zmq: messages received */
    uint64_t oversized;   /* zmq: messages over max_message, skipped (in input.bad too) */
    uint64_t connections; /* tcp: connections accepted */
    uint64_t refused;     /* tcp: connections closed at once, max_clients being open */
    uint64_t rotations;   /* followed file: new files at the path, and truncations */
} sl_source_stats;

void sl_source_get_stats(const sl_source *s, sl_source_stats *st);

/* The counters a resume needs (the reader's five, filtered, passed) in a portable form:
 * SL_SOURCE_STATS_BYTES little-endian bytes. get fills the rest of *st with zeros. */
#define SL_SOURCE_STATS_BYTES 56
void sl_source_stats_put(const sl_source_stats *st, unsigned char *out);
void sl_source_stats_get(const unsigned char *p, sl_source_stats *st);

/* 1 when the topology's source can be read again from an offset (a checkpoint's): a file that is
 * not followed. Others (stdin, zmq, tcp, a followed file, the generator) cannot yet: their events
 * would need a write-ahead log. */
int sl_source_replayable(const sl_topology *t);

/* 1 when the topology's source is live and cannot be read again (stdin, zmq, tcp): a checkpoint
 * needs its accepted records in a write-ahead ingest log (host/io/ingestlog.h). */
int sl_source_loggable(const sl_topology *t);

/* Resumes a file source whose input the caller positioned at st->input.bytes (the offset
 * sl_source_get_stats gave when the checkpoint was taken): its counters become st's
 * (sl_reader_resume). Returns 0, SL_EUNSUPPORTED for another kind, or SL_EIO. */
int sl_source_resume(sl_source *s, const sl_source_stats *st);

void sl_source_destroy(sl_source **sp);

#endif
