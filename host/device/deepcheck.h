/* `sluice kernel check --deep`: runs a user PE under Oclgrind, the OpenCL device simulator that
 * checks every memory access of every work-item, and reports out-of-bounds accesses, data races
 * and uses of uninitialized values with the file and line they are at.
 *
 * How: the sluice executable runs itself (`sluice run` of a generated topology: the PE on a small
 * sample of generated events, in batches, with snapshots mid-stream so that sl_merge and sl_emit
 * run too) with Oclgrind as its only OpenCL platform, through the ICD loader: a vendors
 * directory holding only Oclgrind's ICD library (OCL_ICD_VENDORS), SLUICE_DEVICE=oclgrind, and
 * Oclgrind's checks switched on by its OCLGRIND_* variables, its log in a file. The log is then
 * read back. HWLOC_COMPONENTS=-opencl keeps hwloc's OpenCL component from asking the simulator
 * for vendor attributes it lacks (Oclgrind's API checker would report each). The kernels are
 * built with -cl-opt-disable (with optimisation, Oclgrind 21.10's uninitialized-value checker
 * aborts on LLVM's freeze instruction) and __builtin_prefetch as a no-op (the simulator cannot run
 * llvm.prefetch). The engine zeroes its table with writes on Oclgrind (host/engine/engine.c).
 *
 * Oclgrind is found as its ICD library: SLUICE_OCLGRIND_ICD when set (a path; tests point it at
 * a missing file), else the usual install paths (Debian's package `oclgrind` puts it in
 * /usr/lib/oclgrind). Runs on the calling thread; the child's output goes to a temporary
 * directory under TMPDIR (or /tmp), removed afterwards. */
#ifndef SL_DEEPCHECK_H
#define SL_DEEPCHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "topology.h"

typedef struct sl_deep_opts {
    const char *self;    /* the sluice executable to run under Oclgrind */
    const char *source;  /* the PE's OpenCL C file, as the user named it */
    int64_t window_ms;   /* > 0: a windowed PE (as --window-ms) */
    int64_t lateness_ms; /* windowed PEs */
    uint32_t timeout_ms; /* pe.timeout_ms of the run under the simulator; 0 = no limit */
    const sl_pe_cfg *pe; /* NULL, or the PE whose params and attributes the run repeats (the
                            generator's records carry zeros in the attributes) */
} sl_deep_opts;

typedef struct sl_deep_report {
    uint32_t findings; /* distinct problems: (kind, file, line) */
    uint64_t reports;  /* Oclgrind reports in all */
    uint64_t events;   /* events of the sample */
    double seconds;    /* the run under Oclgrind */
} sl_deep_report;

/* Path of Oclgrind's ICD library into buf, or 0 when Oclgrind is not installed (nothing at
 * SLUICE_OCLGRIND_ICD when set, or at the usual paths). Returns 1 when found. Any thread. */
int sl_deep_find_oclgrind(char *buf, size_t len);

/* Runs the PE under Oclgrind and prints each distinct problem to `out` as
 * "FILE:LINE:COLUMN: what Oclgrind saw (kernel K, N reports)" followed by that source line.
 * Returns 0 with *rep filled (rep->findings 0: clean); SL_EUNSUPPORTED when Oclgrind is not
 * installed; SL_ECL when the run under Oclgrind failed without a report to show (msg holds its
 * exit status and last stderr lines); SL_EIO (temporary files, starting the run) or SL_ENOMEM;
 * `msg` explains every error. */
int sl_deep_check(const sl_deep_opts *o, FILE *out, sl_deep_report *rep, char *msg, size_t msglen);

#endif
