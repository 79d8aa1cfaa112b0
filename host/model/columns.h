/* Output columns of a PE, from its SL_COLUMNS text ("name[:fmt],..."; fmt is int, f0..f9, g or
 * key), and how each value is printed. The device reports the text (sl_abi_info), so built-in and
 * user PEs describe their output the same way.
 *
 * A key column's double is not a number: it holds the 64 bits of a 64-bit key (an ad's, a
 * user's), bit-cast (as_double on the device). Read it with sl_columns_key, and copy such doubles
 * only bytewise (memcpy, assignment): any arithmetic or conversion may change the bits, since a
 * key can look like a NaN. Key 0 means "no key". */
#ifndef SL_COLUMNS_H
#define SL_COLUMNS_H

#include <stddef.h>
#include <stdint.h>

#define SL_COLUMNS_MAX 8 /* SL_OUT_MAX in kernels/sluice.h */

enum sl_colfmt {
    SL_COLFMT_G = 0,
    SL_COLFMT_INT = 1,
    SL_COLFMT_FIXED = 2,
    SL_COLFMT_KEY = 3 /* a bit-cast 64-bit key; the sink prints the id it stands for */
};

typedef struct sl_columns {
    int n;
    char name[SL_COLUMNS_MAX][48];
    enum sl_colfmt fmt[SL_COLUMNS_MAX];
    int decimals[SL_COLUMNS_MAX]; /* SL_COLFMT_FIXED */
} sl_columns;

/* Parses `spec`. Returns 0, or SL_EINVAL with `err` saying what is wrong: an empty list, more
 * than SL_COLUMNS_MAX columns, a name that is not [A-Za-z_][A-Za-z0-9_]* (at most 47 bytes), a
 * duplicate or reserved name (ad_id, window_start, emit), an unknown format. Any thread. */
int sl_columns_parse(const char *spec, sl_columns *c, char *err, size_t errlen);

/* Returns the index of the column called `name`, or -1. */
int sl_columns_find(const sl_columns *c, const char *name);

/* Formats value v of column i into buf: int prints an integral value exactly (and falls back to
 * g otherwise), fN prints N decimals (falling back to g when that does not fit in len bytes; 330
 * always suffice), g prints the shortest text that reads back as v, key prints the key's bits as
 * '#' and 16 lowercase hex digits (this module has no dictionary; the sink prints ad ids). Any
 * thread. */
void sl_columns_format(const sl_columns *c, int i, double v, char *buf, size_t len);

/* Parses one column format, the `len` bytes at s: "int", "g" or "f0".."f9" ("key" is not one:
 * a column's keyness is its PE's to say). Returns 0 with *fmt and *decimals (0 unless
 * SL_COLFMT_FIXED), or SL_EINVAL. Any thread. */
int sl_colfmt_parse(const char *s, size_t len, enum sl_colfmt *fmt, int *decimals);

/* Overrides formats of c's columns as `spec` says: "NAME:FMT" entries separated by commas
 * (a topology's pe.format), FMT as sl_colfmt_parse reads it, applied in order; NAME "*" stands
 * for every column c declares as g or fN (its float columns: not int, not key). "" changes
 * nothing. Returns 0, or SL_EINVAL with `err` saying what is wrong (c then partly changed): an
 * entry without ':', a NAME that is no column of c (err lists c's columns), a key column, an
 * unknown FMT. Any thread. */
int sl_columns_override(sl_columns *c, const char *spec, char *err, size_t errlen);

/* Returns the 64-bit key held in a key column's value v (its bits, unchanged). Any thread. */
uint64_t sl_columns_key(double v);

#endif
