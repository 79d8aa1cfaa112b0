/* The Redis baseline: Debian's redis-server, started by the bench as a child process on
 * 127.0.0.1 at a free port with persistence off (--save "" --appendonly no --daemonize no),
 * counted into with pipelined HINCRBY through hiredis (one command per event, no client-side
 * pre-aggregation: what live CTR counters in Redis do), read back with HGETALL, and stopped with
 * SIGTERM (then waited for; SIGKILL only past a timeout, reported).
 *
 *   ctr: HINCRBY v <key as 16 hex digits> 1 for a view, HINCRBY c <key> 1 for a click, and
 *        HINCRBY v <key> 0 for any other type (so that every ad seen has a row, as in sluice).
 *   ysb: the client parses, filters, joins and applies the late rule (bl_ysb_each); each counted
 *        event is HINCRBY ysb:<campaign key> <window start> 1.
 *
 * A server handle belongs to one thread. */
#ifndef BENCH_REDISBASE_H
#define BENCH_REDISBASE_H

#include <stddef.h>
#include <stdint.h>

#include "baselines.h"
#include "engine.h"
#include "event.h"

typedef struct rb_server rb_server;

/* Starts `exe` (e.g. "redis-server") with its log in `log_path`, waits until it answers PING
 * (up to 10 s). Returns 0 with *out, or SL_EIO with msg (nothing is left running). */
int rb_start(const char *exe, const char *log_path, rb_server **out, char *msg, size_t msglen);

/* SIGTERM, wait up to 10 s, then SIGKILL. Returns 0 when it exited on SIGTERM, else SL_EIO
 * with msg. *sp is freed and NULLed either way. */
int rb_stop(rb_server **sp, char *msg, size_t msglen);

/* The server's redis_version (INFO server). */
const char *rb_version(const rb_server *s);
int rb_port(const rb_server *s);

/* CPU seconds (user + system) the server process has used so far; -1 when unreadable. */
double rb_cpu_s(const rb_server *s);

/* The server process's peak resident memory (VmHWM), MiB; -1 when unreadable. */
double rb_peak_mb(const rb_server *s);

/* FLUSHALL. Returns 0 or SL_EIO with msg. */
int rb_flush(rb_server *s, char *msg, size_t msglen);

/* Counts CTR over n records (batches of `pipeline` commands, two batches in flight), reads the
 * counters back and returns rows as bl_ctr_single does. *t_count gets the seconds spent sending
 * and counting, *t_read those spent reading back. Returns 0, SL_EIO (msg) or SL_ENOMEM. */
int rb_ctr(rb_server *s, const sl_rec *recs, size_t n, size_t pipeline, sl_row **rows,
           size_t *nrows, double *t_count, double *t_read, char *msg, size_t msglen);

/* ysb over NDJSON text, as bl_ysb_single computes it; `campaigns` (ncamp, duplicates allowed)
 * name the hashes read back. */
int rb_ysb(rb_server *s, bl_ws *ws, const char *text, size_t len, const bl_join *join,
           const uint64_t *campaigns, size_t ncamp, int64_t window_ms, size_t pipeline,
           sl_row **rows, size_t *nrows, double *t_count, double *t_read, char *msg, size_t msglen);

#endif
