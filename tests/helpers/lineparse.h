/* Helpers for the tests of the line parsers (tests/test_csvin.c, tests/test_ndjson.c): one parse
 * with its own scratch, and the checks both files make of its result. Asserts with Criterion. */
#ifndef SL_TEST_LINEPARSE_H
#define SL_TEST_LINEPARSE_H

#include <stddef.h>

#include "rawev.h"

/* A line parser: sl_ndjson_parse, or sl_csv_parse with its columns in ctx. */
typedef int (*tp_parse_fn)(const void *ctx, const char *line, size_t len, char *scratch,
                           sl_rawev *ev, sl_perr *err);

/* One parse; the scratch (which ev may point into) stays alive until tp_done(). */
struct tp_res {
    int rc;
    sl_rawev ev;
    sl_perr err;
    char *scratch;
};

struct tp_res tp_parse(tp_parse_fn fn, const void *ctx, const char *line, size_t len);
void tp_done(struct tp_res *r);

/* tp_parse, asserting that the line is accepted (the message names the line and the reason). */
struct tp_res tp_parse_ok(tp_parse_fn fn, const void *ctx, const char *line, size_t len);

/* 1-based column of the first occurrence of `needle` in `line` (asserts there is one). */
size_t tp_col_of(const char *line, const char *needle);

/* Asserts the parsed ad_id is `id`, byte for byte. */
void tp_expect_id(const struct tp_res *r, const char *id);

/* Asserts that `line` is refused with SL_EPARSE, `reason` and 1-based `column`. */
void tp_expect_err(tp_parse_fn fn, const void *ctx, const char *line, size_t column,
                   const char *reason);

/* A line the parser must refuse with `reason`, at a column given as: the column of the first
 * `at` in the line plus `off`; or, when at is NULL, column `off` when it is positive, else
 * strlen(line) + 1 + off (0: just past the end). `group` names the test that checks it. */
struct tp_bad {
    const char *group, *line, *at;
    int off;
    const char *reason;
};

/* tp_expect_err for each line of bad[0..n) in `group` (asserts there is one). */
void tp_expect_errs(tp_parse_fn fn, const void *ctx, const struct tp_bad *bad, size_t n,
                    const char *group);

#endif
