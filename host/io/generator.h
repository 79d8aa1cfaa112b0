/* The built-in event generator: seeded, ad ids Zipf-distributed over a chosen key count, a
 * per-ad click probability. Deterministic for a given configuration on every machine.
 * A generator belongs to one thread. */
#ifndef SL_GENERATOR_H
#define SL_GENERATOR_H

#include <stdint.h>

#include "addict.h"
#include "event.h"
#include "topology.h"

/* The user id of user index i (printf format, one unsigned argument). */
#define SL_GEN_USER_FMT "u-%08u"

typedef struct sl_gen sl_gen;

/* Returns a generator (registering every ad id in `dict` when dict is not NULL; the generator
 * keeps no pointer to it), or NULL with *err set: SL_EINVAL for keys == 0, rates outside 0..1,
 * skew < 0, events_per_ms == 0, non-finite values, or a last event time past int64;
 * SL_ECOLLISION from the dictionary; SL_ENOMEM. */
sl_gen *sl_gen_new(const sl_gen_cfg *cfg, sl_addict *dict, int *err);

/* Writes up to max next events into out; returns how many (0 when all were produced). */
uint64_t sl_gen_next(sl_gen *g, sl_rec *out, uint64_t max);

/* The key of ad `rank` (0-based; rank 0 is the most frequent); rank must be < keys. */
uint64_t sl_gen_key(const sl_gen *g, uint32_t rank);

/* The click probability given to ad `rank`; rank must be < keys. */
double sl_gen_click_prob(const sl_gen *g, uint32_t rank);

void sl_gen_destroy(sl_gen **gp);

#endif
