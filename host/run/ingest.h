/* The ingest loop of one process, shared by the one-process pipeline (host/run/pipeline.c) and
 * the cluster client (host/cluster/client.c): read what the source has, hand it on, let the
 * caller do its periodic work (a client's sockets and leases), report progress on a timer, and
 * turn read failures into one set of messages.
 *
 * Runs on the calling thread; every callback is called from it. */
#ifndef SL_INGEST_H
#define SL_INGEST_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "source.h"

/* The fewest records a read into push's own area (sl_ingest.reserve) may ask for: a parallel
 * file source gives exact counters at cut points about a thousand records apart (src_par.c), and
 * a read that asked for fewer would return between them. */
#define SL_INGEST_DIRECT_MIN 4096

typedef struct sl_progress {
    uint64_t events;  /* records handed on so far (or what events() says) */
    uint64_t bad;     /* malformed lines so far */
    double elapsed_s; /* since the source started */
    double rate;      /* events/s over the last interval */
} sl_progress;

typedef void (*sl_progress_fn)(void *ud, const sl_progress *p); /* p NULL: the run is over */

typedef struct sl_ingest {
    sl_source *src;
    /* Hands n (> 0) records on. Returns 0, or an sl_err with msg filled. */
    int (*push)(void *ud, const sl_rec *recs, size_t n, char *msg, size_t msglen);
    /* Where push would put the next records, for the source to read into in place
     * (sl_engine_stage_area): a pointer with room for *room records, or NULL. A read goes
     * there when the room holds at least SL_INGEST_DIRECT_MIN records, and push then gets that
     * pointer; else it goes to the loop's buffer. NULL: always the buffer. */
    sl_rec *(*reserve)(void *ud, size_t *room);
    /* Called after every read, empty ones included (at least every SL_READER_WAIT_MS while a
     * pipe is silent). Returns 0, or an sl_err with msg filled. NULL: none. */
    int (*turn)(void *ud, char *msg, size_t msglen);
    /* Events counted for progress; NULL: the records pushed. */
    uint64_t (*events)(void *ud);
    void *ud;
    sl_progress_fn on_progress; /* NULL: none */
    void *progress_ud;
    double progress_every_s; /* 0: no progress */
    int strict;              /* the bad-line callback stops at the first one (message only) */
    /* Once *stop is nonzero (a signal handler sets it), the loop stops taking input: what was
     * read is handed on and the loop returns 0 as at the end of input. NULL: never. */
    const volatile sig_atomic_t *stop;
    /* The longest a read waits when nothing is available (ms; 0: SL_READER_WAIT_MS), so that
     * turn runs that often while input is silent. */
    int wait_ms;
} sl_ingest;

/* Runs `in` until the source is exhausted; once *in->stop is set, the source stops taking input
 * (sl_source_close_input) and what it had already taken is read to its end, reading into buf (cap
 * records). Returns 0, or the first failure (SL_EIO or SL_EPARSE from the source, or what push/turn
 * returned) with msg filled. *elapsed_s (may be NULL) gets the seconds from the first read to the
 * end. */
int sl_ingest_run(const sl_ingest *in, sl_rec *buf, size_t cap, double *elapsed_s, char *msg,
                  size_t msglen);

/* Seconds on the monotonic clock. Any thread. */
double sl_ingest_now(void);

#endif
