/* Shared helpers for the engine tests: random inputs, running the engine, comparing rows. */
#ifndef SL_TEST_HARNESS_H
#define SL_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "event.h"
#include "util.h"

/* Fills out[0..n) with records over `keys` distinct keys, Zipf(skew) (0 = uniform), random
 * types (about 70% views, 20% clicks, 5% purchases, 5% other), values with fractional parts,
 * users drawn uniformly from TH_USERS,
 * and event times that start at start_ms, advance by about one ms per record and jitter back by
 * up to `jitter_ms`. Deterministic per seed; independent of the generator module. */
void th_records(uint64_t seed, sl_rec *out, size_t n, uint32_t keys, double skew, int64_t start_ms,
                int64_t jitter_ms);

/* A new array of n records (caller frees); asserts on allocation. */
sl_rec *th_alloc(size_t n);

/* th_alloc(n) filled by th_records. */
sl_rec *th_records_new(uint64_t seed, size_t n, uint32_t keys, double skew, int64_t start_ms,
                       int64_t jitter_ms);

/* An engine configuration with the defaults of PE `kind`, `capacity` keys and batches of `batch`
 * events. */
sl_engine_cfg th_cfg(enum sl_pe_kind kind, uint64_t capacity, uint32_t batch);

/* A user PE's configuration: its source file `source`, schema attributes names[0..n) (bit k of
 * `doubles` set: names[k] is a double, else a long; n at most SL_SCHEMA_ATTRS) and batches of
 * `batch` events; the rest the defaults. */
sl_engine_cfg th_attr_cfg(const char *source, const char *const *names, uint32_t n,
                          uint32_t doubles, uint32_t batch);

/* The indices of recs[0..n) grouped by key in arrival order: sorted by key, then index
 * (malloc'd, caller frees). */
size_t *th_by_key(const sl_rec *recs, size_t n);

/* The key of rank r as th_records makes it. */
uint64_t th_key(uint32_t r);

/* The user key of user u as th_records makes it; th_records draws users uniformly from
 * 0..TH_USERS-1. */
#define TH_USERS 10000u
uint64_t th_user(uint32_t u);

typedef struct th_result {
    sl_row *final_rows; /* rows of the final emission plus every SL_EMIT_WINDOWS emission */
    size_t nfinal;
    size_t nsnapshots; /* SL_EMIT_SNAPSHOT emissions seen */
    sl_row *snap_rows; /* rows of the last snapshot */
    size_t nsnap;
    sl_engine_stats stats;
    size_t in_place; /* th_run_in_place: records written into the engine's staging area */
    size_t lent;     /* th_run_lent: records pushed with sl_engine_push_lent */
    char msg[1024];
} th_result;

/* Opens the default device, runs an engine with `cfg` over recs, pushing `chunk` records at a
 * time, and collects the results sorted by key and window. Returns the engine's status (0 or a
 * negative sl_err, with res->msg); asserts on device problems. */
int th_run(const sl_engine_cfg *cfg, const sl_rec *recs, size_t n, size_t chunk, th_result *res);

/* th_run with each record's schema attributes (cfg->pe.nattrs words per record), pushed with
 * sl_engine_push_attrs. */
int th_run_attrs(const sl_engine_cfg *cfg, const sl_rec *recs, const uint64_t *attrs, size_t n,
                 size_t chunk, th_result *res);

/* th_run writing each piece into the engine's staging area (sl_engine_stage_area) where it
 * offers one, cut to its room, and pushing it from there; res->in_place counts those records. */
int th_run_in_place(const sl_engine_cfg *cfg, const sl_rec *recs, size_t n, size_t chunk,
                    th_result *res);

/* th_run pushing two pieces of every three with sl_engine_push_lent and the third with
 * sl_engine_push; res->lent counts the lent records. */
int th_run_lent(const sl_engine_cfg *cfg, const sl_rec *recs, size_t n, size_t chunk,
                th_result *res);

void th_result_free(th_result *res);

/* Runs the reference over recs and returns its sorted rows. */
void th_reference(const sl_pe_cfg *pe, const sl_rec *recs, size_t n, sl_row **rows, size_t *nrows,
                  uint64_t *late);

/* Asserts that rows[0..nrows) are, exactly (th_assert_rows with tol 0), the reference's rows of
 * recs[0..n) under pe; returns the reference's count of late events. */
uint64_t th_assert_reference(const sl_pe_cfg *pe, const sl_rec *recs, size_t n, const sl_row *rows,
                             size_t nrows);

/* Asserts a and b are equal row for row: keys and windows exactly, every column exactly
 * (doubles from the same sequence of IEEE operations) unless tol > 0, then
 * |a - b| <= tol * max(1, |b|). */
void th_assert_rows(const sl_row *a, size_t na, const sl_row *b, size_t nb, double tol);

#endif
