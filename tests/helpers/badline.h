/* One report of the line reader's malformed-line callback (sl_bad_fn, host/io/reader.h) as the
 * reader tests keep it. Header-only, without Criterion: the fuzz harnesses (tests/fuzz) include it
 * too. */
#ifndef SL_TEST_BADLINE_H
#define SL_TEST_BADLINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct bad_line {
    uint64_t line;
    size_t column;
    uint64_t offset;
    char reason[192]; /* cut short when longer */
};

/* Stores the callback's arguments in *b. */
static inline void bad_line_set(struct bad_line *b, uint64_t line, size_t column, uint64_t offset,
                                const char *reason)
{
    b->line = line;
    b->column = column;
    b->offset = offset;
    snprintf(b->reason, sizeof b->reason, "%s", reason);
}

#endif
