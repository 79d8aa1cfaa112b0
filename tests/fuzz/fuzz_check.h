/* Small helpers shared by the libFuzzer harnesses in tests/fuzz. */
#ifndef SL_FUZZ_CHECK_H
#define SL_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "sink.h"
#include "source.h"

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

/* Kind options: a count within the array, NUL-terminated keys and values. */
static inline void fuzz_check_opts_shape(const sl_opts *o)
{
    FUZZ_TERMINATED(o->name);
    FUZZ_TERMINATED(o->common);
    FUZZ_REQUIRE(o->n <= SL_OPTS_MAX);
    for (uint32_t i = 0; i < o->n; i++) {
        FUZZ_TERMINATED(o->item[i].key);
        FUZZ_TERMINATED(o->item[i].val);
    }
}

static inline void fuzz_check_topology_shape(const sl_topology *t)
{
    FUZZ_TERMINATED(t->device);
    FUZZ_TERMINATED(t->source.path);
    FUZZ_REQUIRE(sl_source_kind_name(t->source.kind) != NULL); /* a row of host/io's table */
    FUZZ_REQUIRE((unsigned)t->source.format <= SL_FMT_CSV);
    fuzz_check_opts_shape(&t->source.opts);
    FUZZ_REQUIRE(sl_sink_kind_name(t->sink.kind) != NULL);
    FUZZ_REQUIRE((unsigned)t->sink.format <= SL_SINK_NDJSON);
    FUZZ_REQUIRE((unsigned)t->sink.mode <= SL_SINK_CHANGES);
    fuzz_check_opts_shape(&t->sink.opts);
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
