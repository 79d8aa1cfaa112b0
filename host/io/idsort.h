/* Sorting a sink's rows by id, then window start (host/io only). Each row's key is named first:
 * its id's first 16 bytes kept as two big-endian words, its id and the row's place. A radix sort
 * orders these keys by the 16 bytes, passing only over the bytes where the ids differ; keys whose
 * 16 bytes tie are ordered by comparison. The sink then lays its rows out in that order in one
 * sequential pass. At 4M keys the sort takes 0.44 s where qsort of the named rows took 2.85 s
 * (bench/README.md, "The final emission at millions of keys"). */
#ifndef SL_IDSORT_H
#define SL_IDSORT_H

#include <stddef.h>
#include <stdint.h>

#include "sinkbe.h"

/* A row's sort key. id NULL: the row's key has no id (a bug the sink reports); its text is then
 * "0x" and the key's 16 hex digits (len 18). */
struct sl_idkey {
    uint64_t pre[2];
    const char *id;
    uint32_t len;
    uint32_t at; /* the row's index in the emission */
};

/* The first 16 bytes of id (len bytes) as two big-endian words, zero-padded: comparing them
 * compares the ids' first 16 bytes as memcmp does, a shorter id's missing bytes as zeros. */
void sl_id_prefix(const char *id, size_t len, uint64_t pre[2]);

/* Writes the text of a row key without an id ("0x" and 16 hex digits) into buf. */
void sl_id_hex(uint64_t key, char buf[19]);

/* Sorts k[0..n) by id (bytes, then length), then the window start of row k[i].at (of pick when
 * not NULL, else of rows). Keys that compare equal keep no particular order (a sink's rows have
 * distinct (id, window) pairs). Returns 0, or SL_ENOMEM with k unchanged. */
int sl_idkey_sort(struct sl_idkey *k, size_t n, const sl_row *rows, const sl_row *const *pick);

/* Orders two named rows as sl_idkey_sort orders their keys (for the sink's other orders). */
int sl_named_cmp(const struct sl_named *x, const struct sl_named *y);

#endif
