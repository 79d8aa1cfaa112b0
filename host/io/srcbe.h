/* The interface between source.c and its backends (one file each: src_zmq.c, src_tcp.c,
 * src_follow.c; the file/stdin reader and the generator live in source.c), and small helpers
 * the live backends share. Internal to host/io. */
#ifndef SL_SRCBE_H
#define SL_SRCBE_H

#include <stdint.h>
#include <stdio.h>

#include "source.h"

/* A source backend. Threading: the source's thread only. */
struct source_ops {
    /* Checks the kind's own keys (t->source.opts) when the topology is loaded: unknown keys and
     * wrong values fail with their line and column (opts.h). NULL: the kind takes none. */
    int (*check)(const sl_topology *t, char *msg, size_t msglen);
    /* Opens the backend for topology t (stdin or the caller's FILE for line sources). Returns
     * 0 with *be, or an sl_err with msg. */
    int (*open)(const sl_topology *t, FILE *in, sl_addict *dict, sl_bad_fn on_bad, void *bad_ud,
                void **be, char *msg, size_t msglen);
    /* Up to cap records: what is available now, waiting at most the wait time (set_wait) when
     * nothing is; 0 with *end set at the end of input. */
    long (*read)(void *be, sl_rec *buf, size_t cap, int *end);
    /* A descriptor to poll for input, or -1 when there is none. */
    int (*fd)(const void *be);
    void (*stats)(const void *be, sl_source_stats *st);
    void (*close)(void **be);
    /* Optional (NULL: not offered). The longest a read waits when nothing is available. */
    void (*set_wait)(void *be, int ms);
    /* Stops taking new input; later reads drain what was taken, then end. Returns 0 or an
     * sl_err. NULL: the source ends at once. */
    int (*close_input)(void *be);
    /* The address listened on, or NULL. */
    const char *(*endpoint)(const void *be);
    /* The backend that serves topology t when the kind has several (file: followed, parsed
     * by several threads, or read by one reader); NULL: this one. */
    const struct source_ops *(*variant)(const sl_topology *t);
    /* Optional (NULL: the kind cannot resume). Goes on from a checkpoint's counters st, the
     * caller having put the input at st->bytes (sl_source_resume); before the first read.
     * Returns 0 or an sl_err. */
    int (*resume)(void *be, const struct sl_reader_stats *st);
    /* Optional (NULL: the kind does not carry schema.attributes). The attributes of the records
     * the last read returned (sl_reader_attrs), which the filter may compact in place. */
    uint64_t *(*attrs)(void *be);
};

extern const struct source_ops sl_src_zmq_ops;
extern const struct source_ops sl_src_tcp_ops;
extern const struct source_ops sl_src_follow_ops;
extern const struct source_ops sl_src_par_ops; /* a plain NDJSON file on threads (src_par.c) */

/* The parse threads of a file source (source.threads: 0 takes the online CPUs, at most 8) and
 * its chunk size in bytes (source.chunk_bytes; chunk_bytes may be NULL). Returns 0, or
 * SL_ECONFIG with msg for a value out of range. */
int sl_src_par_threads(const sl_topology *t, unsigned *threads, uint64_t *chunk_bytes, char *msg,
                       size_t msglen);

/* Tests only: from now on in this process, a parallel source gives way to one reader at chunk
 * `chunk` (UINT64_MAX: never), as it does when two threads' ids share a key, which no test can
 * make happen. */
void sl_src_par_test_give_way(uint64_t chunk);

/* Where a chunked reader's lines come from, for malformed-line reports: the caller's callback
 * gets line and byte offset counted from the origin's first byte and the reason prefixed with
 * `what` ("connection 127.0.0.1:5123", "message 7 from 127.0.0.1:5123", "file x.log"). */
typedef struct sl_src_origin {
    char what[160];
    uint64_t line0, byte0; /* the reader's counts when the origin began */
    sl_bad_fn fn;
    void *ud;
} sl_src_origin;

/* An sl_bad_fn over an sl_src_origin (ud). */
int sl_src_origin_bad(void *ud, uint64_t line, size_t column, uint64_t byte_offset,
                      const char *reason);

/* Milliseconds on the monotonic clock. */
int64_t sl_src_now_ms(void);

/* Adds b's reader counts to a. */
void sl_src_add_input(struct sl_reader_stats *a, const struct sl_reader_stats *b);

/* schema.attributes of a backend whose one read gathers several sl_reader_read calls (a
 * followed file's, a zmq message's, several connections'): na words per record of the read
 * being gathered, in buf. {0} until set up with na. */
typedef struct sl_src_attrs {
    uint32_t na;
    uint64_t *buf;
    size_t cap; /* records buf holds */
} sl_src_attrs;

/* After sl_reader_read(rd, out + at, ...) gave k records of a read of up to cap: copies their
 * attributes to records at..at+k of the gathered read. Nothing without attributes. Returns 0 or
 * SL_ENOMEM. */
int sl_src_attrs_take(sl_src_attrs *a, sl_reader *rd, size_t at, size_t k, size_t cap);

/* The gathered read's attributes (NULL without them); frees them. */
uint64_t *sl_src_attrs_get(sl_src_attrs *a);
void sl_src_attrs_free(sl_src_attrs *a);

#endif
