/* The file workload of the benchmark suite: an NDJSON event file to a per-ad CTR CSV, each
 * system a whole process started by the bench and timed from its start to its exit:
 *
 *   sluice ctr          `sluice ctr --input FILE --output OUT.csv -q`
 *   C counter 1 thread  bench/ndjson_ctr.c, `ndjson_ctr FILE OUT.csv`
 *   DuckDB T threads    `node bench/duckdb_ctr.cjs PREFIX FILE OUT.csv T` (SET threads=T), only
 *                       when its npm package is installed in PREFIX (bench/peers-setup.sh)
 *   sluice 3 nodes      `sluice ctr --input FILE --cluster C --ingest-on-nodes --output OUT.csv
 *                       -q` on a local cluster of 3 `sluice node` processes started once before
 *                       the repetitions; its CPU seconds are the client's and the nodes'
 *                       (/proc/PID/stat around each run)
 *
 * The file is written once, before the runs, by gen_events (the generator of the ctr workload:
 * YSB-shaped NDJSON, Zipf ad popularity), and removed afterwards. The answer to check against
 * comes from the same generator's records in memory, counted by bl_ctr_single (plain C 1
 * thread). Every CSV of every repetition is parsed and compared with it: ad ids (by their
 * sl_key_hash), impressions and clicks exactly, ctr within 1e-12 relative; so all outputs agree
 * with one another.
 *
 * Per run: wall seconds, user + system CPU seconds of the process and its threads (wait4's
 * rusage) and its peak resident memory (VmHWM, read every 20 ms while it runs). One thread. */
#ifndef BENCH_FILERUN_H
#define BENCH_FILERUN_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

typedef struct fr_opts {
    int quick;
    int reps;
    uint64_t events, seed; /* the generated file */
    uint32_t keys;
    double skew;
    unsigned threads;      /* DuckDB's threads */
    const char *device;    /* sluice's --device, or NULL */
    const char *out;       /* where the file, the CSVs and the processes' stderr go */
    const char *peers_dir; /* DuckDB's npm prefix */
    int install;           /* --peers: run bench/peers-setup.sh when DuckDB is missing */
} fr_opts;

/* Runs the file case into r (its systems' series and the check) and fills r->m.duckdb. Returns
 * 0 (results that differ mark the case, not the return), or an sl_err with msg when a process
 * failed, a CSV could not be read, or --peers could not install DuckDB. */
int fr_run(const fr_opts *o, rp_report *r, char *msg, size_t msglen);

#endif
