/* The table of PE kinds: one row per built-in PE (and a last one for user PEs) with what every
 * layer needs to know about a kind without switching on it: its name in topology files, the
 * kernels/ file that implements it, constant build defines, which pe.* settings it takes (the
 * YAML rules, from its flags) and its output columns. The built-in rows are those of
 * kernels/pes.def, which also make the enum and the names (topology.h) and the C reference
 * (kernels/reference.c): adding a built-in PE is a change in kernels/ alone.
 *
 * Plain data, no OpenCL: host/device turns a row and a sl_pe_cfg into build options
 * (peprog.h), the engine reads windowing from it, host/config can read its YAML rules. The
 * table is constant: any thread. */
#ifndef SL_PES_H
#define SL_PES_H

#include <stddef.h>

#include "topology.h"

/* What a kind takes and does (sl_pe_def.flags). */
enum sl_pe_flag {
    SL_PEF_WINDOW = 1u << 0,     /* always windowed: needs window_ms > 0 (window_ms and
                                    lateness_ms are allowed) */
    SL_PEF_WINDOW_OPT = 1u << 1, /* windowed when window_ms > 0 (both are allowed) */
    SL_PEF_PRIOR = 1u << 2,      /* takes prior: [a, b] (has_prior, prior_a, prior_b), built
                                    with -DSL_PRIOR_A=a -DSL_PRIOR_B=b when given */
    SL_PEF_USER = 1u << 3        /* code from pe.source or pe.binary, not from kernels/ */
};

typedef struct sl_pe_def {
    enum sl_pe_kind kind;
    const char *name;    /* the topology file's pe.kind, e.g. "window_count" */
    const char *kernel;  /* its file in kernels/ (embedded in the binary), e.g. "pe_count.cl";
                            NULL for user PEs */
    const char *defines; /* build options the kind always gets, e.g. "-DSL_MAX"; "" or NULL: none */
    unsigned flags;      /* enum sl_pe_flag */
    const char *columns; /* its SL_COLUMNS text, e.g. "count:int,sum:g" (the engine checks it
                            against what the program declares); NULL for user PEs */
} sl_pe_def;

/* Returns kind k's row, or NULL when k is no kind. */
const sl_pe_def *sl_pe_def_of(enum sl_pe_kind k);

/* Returns the row whose name is `name` (case-sensitive), or NULL. */
const sl_pe_def *sl_pe_def_named(const char *name);

/* 1 when pe's rows are per (key, window): its kind is SL_PEF_WINDOW, or SL_PEF_WINDOW_OPT with
 * window_ms > 0; else 0 (also for an unknown kind). */
int sl_pe_windowed(const sl_pe_cfg *pe);

/* Writes the names of the kinds whose flags include any of `flags`, in table order, as
 * "a", "a or b", "a, b or c", into buf (for messages such as "pe.kind is window_count or
 * user"). Returns the length the whole text needs, as snprintf. */
size_t sl_pe_kinds_with(unsigned flags, char *buf, size_t len);

#endif
