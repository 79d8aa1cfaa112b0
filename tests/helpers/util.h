/* Small helpers every test executable has (tests/helpers is compiled into each): whole files and
 * streams read back, the result of a `sluice` run, seeded random numbers, and a user PE from
 * examples/kernels. Asserts with Criterion. */
#ifndef SL_TEST_UTIL_H
#define SL_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"

/* The whole of stream f (flushed and read from its start), NUL-terminated, caller frees; its
 * length in *len when len is not NULL. */
char *tu_read_stream(FILE *f, size_t *len);

/* The whole file at path as tu_read_stream gives it, or NULL when it cannot be opened. */
char *tu_read_file(const char *path, size_t *len);

/* Writes text to the file at path (created or emptied). */
void tu_write_file(const char *path, const char *text);

/* Makes a fresh directory $SLUICE_TEST_TMP/PREFIX-XXXXXX (/tmp when SLUICE_TEST_TMP is unset or
 * empty; the base made first when missing) into dir, or asserts. */
void tu_mkdtemp(char *dir, size_t size, const char *prefix);

/* Removes dir and everything under it (rm -rf), or asserts. */
void tu_rm_rf(const char *dir);

/* A finished `sluice` run: its exit status (128 + signal when killed) and its output. */
struct run {
    int status;
    char *out, *err;
};

void run_free(struct run *r);

/* Ad id i of those the end-to-end tests write, ids that need care on their way through: by
 * i % kinds (kinds 5 or 6), "ad-I", "ad-I,x" (CSV quoting), "q"I"" (quotes), "caf\xc3\xa9-I"
 * (UTF-8), a bare number (ids that prefix each other: I, or I / 6 when kinds is 6) and, when kinds
 * is 6, "long-" and I in 200 digits. */
void tu_ad_id(unsigned i, unsigned kinds, char *out, size_t len);

/* Writes s as the body of a JSON string: quotes and backslashes escaped, and the UTF-8 e-acute
 * as \u00e9 when use_u. */
void tu_json_str(FILE *f, const char *s, int use_u);

/* splitmix64 (Steele, Lea, Flood 2014): a seeded stream of well-spread 64-bit values. */
uint64_t splitmix64(uint64_t *s);

/* A double uniform in [0, 1) from splitmix64's top 53 bits. */
double tu_unit(uint64_t *s);

/* An engine configuration running the user PE examples/kernels/FILE (a reduce PE without a
 * window) as PE `name`, with `capacity` keys and batches of `batch` events. */
sl_engine_cfg tu_example_pe(const char *file, const char *name, uint64_t capacity, uint32_t batch);

/* Writes into buf the text the sink prints for v in a float column of format g: v with the
 * fewest significant digits P that strtod reads back as exactly v, in printf's %g notation at
 * precision P, or 15 when P is smaller (so that 4660 prints as "4660", not "4.66e+03"; %g drops
 * trailing zeros). Written here on its own, as the tests' reference of host/model/columns.c.
 * Returns buf. */
const char *tu_shortest(double v, char *buf, size_t len);

/* A user PE whose sl_add never returns: its loop waits for a state value that nothing stores,
 * read from global memory on every turn, so the compiler can neither drop the loop nor prove
 * it infinite. For the kernel watchdog's tests. */
extern const char tu_spin_cl[];

#endif
