/* The built-in event generator: seeded, ad ids Zipf-distributed over a chosen key count, a
 * per-ad click probability. Deterministic for a given configuration on every machine.
 * A generator belongs to one thread. */
#ifndef SL_GENERATOR_H
#define SL_GENERATOR_H

#include <stdint.h>

#include "addict.h"
#include "event.h"

typedef struct sl_gen_cfg {
    uint64_t events;      /* total events to produce */
    uint32_t keys;        /* distinct ad ids: "ad-00000000" .. */
    double skew;          /* Zipf exponent; 0 = uniform */
    double click_rate;    /* mean per-ad click probability (0..1) */
    double purchase_rate; /* probability of a purchase event (0..1), counted as "other" by CTR */
    uint64_t seed;
    int64_t start_ms;       /* event time of the first event */
    uint32_t events_per_ms; /* event-time rate: time advances 1 ms every this many events */
    uint32_t users;         /* distinct user ids, SL_GEN_USER_FMT of 0..users-1, uniform */
} sl_gen_cfg;

/* The user id of user index i (printf format, one unsigned argument). */
#define SL_GEN_USER_FMT "u-%08u"

/* Fills *cfg with the demo defaults: 10,000,000 events, 100,000 keys, Zipf 1.0, 10% clicks,
 * 0.5% purchases, seed 42, start 2026-01-01T00:00:00Z, 1000 events per ms, 100,000 users. */
void sl_gen_defaults(sl_gen_cfg *cfg);

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
