/* The insns workload of sluice-bench: instructions per event of the ctr systems, counted by
 * callgrind, with where sluice's go.
 *
 * Each system (sluice's OpenCL engine, the lean C loop with 16-byte records and slots, plain C
 * 1 thread) runs as its own process, bench_insns (bench/insns.c), under
 *   valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=OUT/insns-SYS.callgrind
 * over the ctr workload's generated input (same events, keys, skew and seed). bench_insns
 * switches callgrind's instrumentation on for one run of the system after a warm-up run, and
 * dumps the counts of that run alone; both runs' rows must equal the plain C reference's.
 * Callgrind counts instructions on every thread, PoCL's workers included: the count does not
 * depend on timing, so one run per system suffices (callgrind makes it 20-100 times slower).
 *
 * Figures per system (series of the case, one value each): ir_ev, instructions per event (the
 * measured run's total over its events), and its parts by where they ran: ir_kernel (the
 * OpenCL kernels: code PoCL compiled into its kernel cache), ir_fill (PoCL's buffer fills: the
 * state table cleared at reset), ir_runtime (the rest of PoCL and the OpenCL loader), ir_host
 * (bench_insns itself: sluice's host code, or the C loop), ir_sort (sorting the result rows by
 * key, which every system does once per run), ir_libc (the rest of libc: memcpy, memset) and
 * ir_other (every other library). For sluice also one series per kernel, "k:NAME". */
#ifndef BENCH_INSNSRUN_H
#define BENCH_INSNSRUN_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

typedef struct ir_opts {
    uint64_t events, seed;
    uint32_t keys;
    double skew;
    const char *device; /* NULL: the default device */
    const char *out;    /* where the profiles and logs go */
} ir_opts;

/* Runs the insns case into r and fills r->m.valgrind. Without valgrind on PATH it adds no case,
 * says so on stderr and returns 0. Returns 0, or an sl_err with msg (a run failed, its rows
 * differed, a profile could not be read). */
int ir_run(const ir_opts *o, rp_report *r, char *msg, size_t msglen);

#endif
