/* What the bench programs (bench/) and the tests (tests/, compiled into every test) share
 * instead of copying: the clock and medians, collecting an engine's result rows, feeding
 * records to an engine in chunks, generated records in memory, temporary files compared byte
 * for byte, and a table-driven command-line parser.
 *
 * No Criterion, no OpenCL of its own: functions return 0 or an sl_err. Any thread, unless said. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "event.h"
#include "generator.h"
#include "multidev.h"

/* ---- time and order statistics ---- */

/* Seconds on the monotonic clock. */
double bc_now_s(void);

/* qsort comparison of doubles, ascending. */
int bc_cmp_double(const void *a, const void *b);

/* Sorts v[0..n) and returns its median v[n / 2] (n > 0). */
double bc_median(double *v, size_t n);

/* Nearest-rank percentile q (0..1] of sorted v[0..n), n > 0. */
double bc_pct(const double *v, size_t n, double q);

/* ---- result rows ---- */

/* A growing array of rows. Zero-initialised is empty. */
typedef struct bc_rows {
    sl_row *rows;
    size_t n, cap;
} bc_rows;

/* Appends rows[0..n). Returns 0 or SL_ENOMEM (r unchanged). */
int bc_rows_append(bc_rows *r, const sl_row *rows, size_t n);

void bc_rows_free(bc_rows *r);

/* An sl_emit_fn whose ud is a bc_rows: appends the rows of every emission but snapshots
 * (windows as they close, and the final rows). */
int bc_collect(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n);

/* ---- feeding records ---- */

/* What bc_feed feeds: an sl_engine (BC_LENT: with sl_engine_push_lent, so that the device
 * reads the records where they are), an sl_multi or an sl_ref (host/reference.h). */
enum bc_target { BC_ENGINE, BC_LENT, BC_MULTI, BC_REF };

/* Pushes recs[0..n) into h (a `t`) `chunk` records at a time, then finishes it (sl_engine_finish
 * or sl_multi_finish; an sl_ref has nothing to finish). Stops at the first error and returns
 * it, else 0. */
int bc_feed(enum bc_target t, void *h, const sl_rec *recs, size_t n, size_t chunk);

/* The generated CTR input of bench_ctr and bench_devices: sl_gen_defaults with 16,777,216
 * events, 100,000 keys, Zipf 1.0 and 10% clicks. */
void bc_ctr_input(sl_gen_cfg *g);

/* Generates g->events records with sl_gen (no dictionary) into a new array (caller frees).
 * Returns 0, or an sl_err: the generator's own, SL_ENOMEM, or SL_EIO when it made fewer. */
int bc_gen_records(const sl_gen_cfg *g, sl_rec **out);

/* ---- temporary files ---- */

/* Makes an empty file $TMPDIR/PREFIX-TAG-XXXXXX (TMPDIR unset: /tmp) and opens it w+; its path
 * goes to path (len bytes). Returns NULL with errno, and path "", when it cannot. */
FILE *bc_tmp_file(const char *prefix, const char *tag, char *path, size_t len);

/* Closes *f (when open) and removes the file at path (when path is not ""); then *f is NULL. */
void bc_tmp_close(FILE **f, const char *path);

/* Empties the stream for the next run. Returns 0 or SL_EIO. */
int bc_truncate(FILE *f);

/* User + system CPU seconds of process pid so far (its /proc/PID/stat), or -1 when it cannot be
 * read (the process is gone). */
double bc_proc_cpu_s(long pid);

/* 1 when streams a and b hold the same bytes (both are read from the start); *bytes gets the
 * size. 0 when they differ. */
int bc_same_bytes(FILE *a, FILE *b, long *bytes);

/* ---- command-line options ---- */

enum bc_opt_type {
    BC_SET,   /* no argument: *(int *)dst = 1 */
    BC_CLEAR, /* no argument: *(int *)dst = 0 */
    BC_STR,   /* const char * */
    BC_INT,   /* int */
    BC_U32,   /* uint32_t */
    BC_U64,   /* uint64_t */
    BC_I64,   /* int64_t */
    BC_DBL    /* double, finite */
};

/* One option --NAME (and -LETTER when letter is not 0). A number is decimal (BC_U32 and BC_U64
 * without a sign), the whole argument, within what the type holds and, unless lo == hi == 0,
 * within [lo, hi]. */
typedef struct bc_opt {
    const char *name;
    char letter;
    enum bc_opt_type type;
    void *dst;
    double lo, hi;
} bc_opt;

/* Parses argv[1..argc) with getopt_long against opts[0..n), --help (-h) and, when g is not
 * NULL, the generator options the bench programs share: --events (-e, at least 1), --keys (-k,
 * at least 1) and --skew (-s, at least 0) into g. Returns -1 when every argument was taken;
 * else the program's exit status: 0 after --help (usage on stdout), 2 on an unknown option, a
 * value that is not valid ("PROG: --NAME: invalid value "X"") or an argument that is not an
 * option (usage on stderr). Not thread-safe (getopt). */
int bc_parse_args(int argc, char **argv, sl_gen_cfg *g, const bc_opt *opts, size_t n,
                  const char *prog, const char *usage);

#endif
