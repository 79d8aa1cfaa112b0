/* A thread that writes checkpoints (host/io/ckptfile.h) while the run goes on: the run's thread
 * reads its state into buffers of its own, hands their sections over, and goes back to its
 * events; the writer checksums them, writes a temporary file, fsyncs it, renames it into place,
 * fsyncs the directory, prunes the older checkpoints, and then says how it went. What was
 * measured (bench/README.md, "Checkpoints"): of a 10 MB checkpoint's time, the write and the two
 * fsyncs are most of what remains once the state is read into a kept buffer.
 *
 * At most one checkpoint is in flight: a second submit before the first's completion was taken
 * is refused (SL_EEXIST), so that the buffers handed over are never written while being read. The
 * caller decides whether to wait (sl_ckptw_poll with wait) or to come back later.
 *
 * Every function is for the one thread that owns the writer (the run's, or a node's poll loop);
 * the writer's own thread touches only the checkpoint in flight. */
#ifndef SL_CKPTWRITER_H
#define SL_CKPTWRITER_H

#include <stddef.h>
#include <stdint.h>

#include "ckptfile.h"

typedef struct sl_ckptw sl_ckptw;

/* How a checkpoint's write went. */
typedef struct sl_ckptw_done {
    uint64_t id;
    int rc;         /* 0: durable under its name; else sl_ckpt_write's error, with why */
    uint64_t bytes; /* its size when written */
    double write_s; /* seconds on the writer: checksums, write, fsyncs, rename, prune */
    char why[1200]; /* "" when written */
} sl_ckptw_done;

/* Starts the writer's thread. Returns 0 with *out, or SL_ENOMEM / SL_EIO (no thread, no pipe)
 * with msg. */
int sl_ckptw_new(sl_ckptw **out, char *msg, size_t msglen);

/* Hands checkpoint `id` of the n sections to the writer, for dir (sl_ckpt_write). The section
 * names must be string literals (or outlive the write); their bytes belong to the writer until
 * this checkpoint's completion is taken: the caller must not change or free them before.
 * prune_below > 0: once written, checkpoints of dir below it are removed (sl_ckpt_prune).
 * Returns 0; SL_EEXIST when one is already in flight (nothing is handed over); SL_EINVAL for
 * n > SL_CKPT_SECTIONS_MAX or a dir longer than 4,095 bytes. */
int sl_ckptw_submit(sl_ckptw *w, const char *dir, uint64_t id, const sl_ckpt_section *s, size_t n,
                    uint64_t prune_below);

/* 1 while a checkpoint was submitted and its completion not yet taken. */
int sl_ckptw_busy(const sl_ckptw *w);

/* Takes the completion of the checkpoint in flight: 1 with *d once it is written (or failed),
 * after which the sections' bytes are the caller's again; 0 when none is in flight, or (wait 0)
 * it is still being written. With wait nonzero, blocks until it is done. */
int sl_ckptw_poll(sl_ckptw *w, int wait, sl_ckptw_done *d);

/* A descriptor that is readable once a completion waits to be taken (for a poll loop); reading
 * it is sl_ckptw_poll's business. */
int sl_ckptw_fd(const sl_ckptw *w);

/* Waits for the checkpoint in flight (its completion is dropped: take it first to report it),
 * ends the thread and frees the writer. Sets *wp NULL. */
void sl_ckptw_destroy(sl_ckptw **wp);

#endif
