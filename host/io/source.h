/* A topology's source and keyless filter: records from the generator, or from a reader over a
 * file or stdin, with the event types the topology does not want removed (and counted). Used by
 * the one-process pipeline and by the cluster client alike (through host/run/ingest.h).
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

typedef struct sl_source sl_source;

/* The name of source kind `kind` (its source.type), or NULL past the last kind. */
const char *sl_source_kind_name(int kind);

/* Checks the source's kind-specific keys (t->source.opts) as the kind's backend reads them.
 * Returns 0, or SL_ECONFIG with a message naming the key's line and column. */
int sl_source_check(const sl_topology *t, char *msg, size_t msglen);

/* Opens the topology's source: the generator, or a reader of `in` (opened by the caller).
 * Keys are interned in `dict`. Returns 0 with *out, or an sl_err with msg. */
int sl_source_new(const sl_topology *t, FILE *in, sl_addict *dict, sl_bad_fn on_bad, void *bad_ud,
                  sl_source **out, char *msg, size_t msglen);

/* Reads up to `cap` records into buf, after the filter: what is available now (a pipe with
 * nothing to read returns 0 after at most SL_READER_WAIT_MS). Returns the number (0 at the end
 * of input, or when nothing was available, or when the filter removed all of it: callers loop
 * on sl_source_done), or a negative sl_err: SL_EIO, or SL_EPARSE when on_bad asked to stop. */
long sl_source_read(sl_source *s, sl_rec *buf, size_t cap);

/* 1 once the input is exhausted. */
int sl_source_done(const sl_source *s);

/* A descriptor that becomes readable when the source has more (a pipe, a socket, a terminal),
 * or -1 when reads never wait (files, the generator). */
int sl_source_fd(const sl_source *s);

typedef struct sl_source_stats {
    struct sl_reader_stats input; /* zero for the generator */
    uint64_t generated;
    uint64_t filtered;
    uint64_t passed;
} sl_source_stats;

void sl_source_get_stats(const sl_source *s, sl_source_stats *st);

void sl_source_destroy(sl_source **sp);

#endif
