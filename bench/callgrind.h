/* Instruction counts from callgrind (valgrind --tool=callgrind): reads one profile dump, in
 * callgrind's file format (valgrind's docs, "Callgrind Format Specification"), into its total and
 * the instructions executed in each function of each object file (the function's self cost,
 * on every thread), so that a benchmark can say where the instructions of a run went.
 *
 * Only the first event of the dump is read: Ir, instructions executed, the one event callgrind
 * counts without --cache-sim or --branch-sim. A dump's self costs add up to its total; cg_load
 * checks that, so that a format it does not understand is an error and not a wrong figure. */
#ifndef BENCH_CALLGRIND_H
#define BENCH_CALLGRIND_H

#include <stddef.h>
#include <stdint.h>

typedef struct cg_cost {
    const char *obj; /* the object file's path as callgrind wrote it (points into the profile) */
    const char *fn;  /* the function's name */
    uint64_t ir;     /* instructions executed in it (self) */
} cg_cost;

typedef struct cg_profile {
    uint64_t total; /* the dump's "totals:" (or "summary:") line */
    cg_cost *costs; /* by decreasing ir; functions with none are left out */
    size_t n;
    char **names; /* the names costs point into */
    size_t nnames, cap_names;
    char desc[256]; /* the dump's "desc: Trigger:" reason, e.g. "Client Request: measured" */
} cg_profile;

/* Reads the dump at path into *p (zeroed first). Returns 0; SL_EIO when it cannot be read;
 * SL_EPARSE with msg naming the line when it is not a callgrind profile, its costs do not add
 * up to its total, or it counts no Ir; SL_ENOMEM. cg_free releases *p in every case. */
int cg_load(const char *path, cg_profile *p, char *msg, size_t msglen);

/* Instructions in the functions whose object file's path contains obj_part (NULL: any) and
 * whose name contains fn_part (NULL: any). */
uint64_t cg_sum(const cg_profile *p, const char *obj_part, const char *fn_part);

void cg_free(cg_profile *p);

#endif
