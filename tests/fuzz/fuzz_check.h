/* Small helpers shared by the libFuzzer harnesses in tests/fuzz. */
#ifndef SL_FUZZ_CHECK_H
#define SL_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

/* An invariant of the code under test: a violation stops the fuzzer with a crash. */
#define FUZZ_REQUIRE(cond)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

/* A char array field holds a NUL-terminated string. */
#define FUZZ_TERMINATED(field) FUZZ_REQUIRE(memchr((field), '\0', sizeof(field)) != NULL)

/* The shape every topology a node or engine is given must have, whatever its source: counts
 * within their arrays, known enumeration values and NUL-terminated strings. */
static inline void fuzz_check_pe_shape(const sl_pe_cfg *pe)
{
    FUZZ_TERMINATED(pe->name);
    FUZZ_TERMINATED(pe->source);
    FUZZ_TERMINATED(pe->binary);
    FUZZ_REQUIRE((unsigned)pe->kind <= SL_PE_USER);
}

static inline void fuzz_check_topology_shape(const sl_topology *t)
{
    FUZZ_TERMINATED(t->device);
    FUZZ_TERMINATED(t->source.path);
    FUZZ_REQUIRE((unsigned)t->source.kind <= SL_SRC_GENERATOR);
    FUZZ_REQUIRE((unsigned)t->source.format <= SL_FMT_CSV);
    fuzz_check_pe_shape(&t->pe);
    FUZZ_REQUIRE(t->nnext < SL_STAGES_MAX);
    for (uint32_t i = 0; i < t->nnext; i++) {
        fuzz_check_pe_shape(&t->next[i].pe);
        FUZZ_TERMINATED(t->next[i].join);
        FUZZ_TERMINATED(t->next[i].value);
    }
    FUZZ_TERMINATED(t->sink.path);
    FUZZ_REQUIRE(t->nplacement <= SL_PLACEMENT_MAX);
    for (uint32_t i = 0; i < t->nplacement; i++) {
        FUZZ_TERMINATED(t->placement[i].device);
        FUZZ_TERMINATED(t->placement[i].cpus);
    }
}

#endif
