/* One input event as parsed from a text line, before its ad id is hashed. */
#ifndef SL_RAWEV_H
#define SL_RAWEV_H

#include <stddef.h>
#include <stdint.h>

#include "addict.h"
#include "event.h"
#include "schema.h"

typedef struct sl_rawev {
    const char *ad_id; /* the key's id: points into the line, into the caller's scratch when
                        * unescaped, or into `joined` for a composite key */
    size_t ad_id_len;
    const char *user_id; /* like ad_id; NULL (len 0) when the line has no user_id */
    size_t user_id_len;
    enum sl_evtype type; /* the first of `types` (SL_EV_OTHER when none) */
    unsigned types;      /* bit (1 << type) for each event the line gives (schema predicates) */
    int64_t time_ms;
    double value;                   /* 0 when the line has no value field */
    uint64_t attr[SL_SCHEMA_ATTRS]; /* schema.attributes: a long's or a double's bits (0: absent) */
    char joined[SL_ADID_MAX + 1];   /* a composite key's parts, SL_KEY_SEP between them */
} sl_rawev;

/* Where and why a line was rejected. */
typedef struct sl_perr {
    size_t column; /* 1-based byte column in the line of the first offending byte */
    char reason[192];
} sl_perr;

/* Records in *e the column of `at` in `line` and the reason, and returns SL_EPARSE: how the
 * line parsers (ndjson.c, csvin.c) reject a line. Cold: only malformed lines get here. */
__attribute__((cold, noinline, format(printf, 4, 5))) int
sl_perr_set(sl_perr *e, const char *line, const char *at, const char *fmt, ...);

#endif
