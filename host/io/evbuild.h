/* From a line's field values to an event, by the schema (host/model/schema.h): the part of
 * reading that the NDJSON and CSV parsers share. A parser finds the declared fields in its line
 * (sl_evplan_field) and hands their raw values here; sl_evbuild checks each against its declared
 * type, then makes the key (joining a composite one), the event time in its format, the type or
 * types, the value and the user.
 *
 * A plan is made once per reader from its schema and only read afterwards: any number of
 * threads may use one plan. */
#ifndef SL_EVBUILD_H
#define SL_EVBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "rawev.h"
#include "schema.h"

/* What a field's raw value was. */
enum sl_fv_kind {
    SL_FV_ABSENT = 0, /* not in the line */
    SL_FV_STR = 1,    /* a JSON string or any CSV field */
    SL_FV_NUM = 2,    /* a JSON number (its text as written) */
    SL_FV_LIT = 3,    /* a JSON true or false (text "true"/"false") */
    SL_FV_NULL = 4    /* a JSON null */
};

typedef struct sl_fval {
    const char *s; /* content: in the line, or in the parser's scratch when unescaped */
    size_t n;
    const char *at;  /* where the raw value starts in the line (its quote, for a string) */
    const char *raw; /* a string's bytes as written (between its quotes), escapes and all */
    size_t raw_n;
    int kind; /* enum sl_fv_kind */
} sl_fval;

typedef struct sl_evplan {
    sl_schema s;
    uint32_t required; /* bit i: field i must be in every line */
    int max_events;    /* sl_schema_max_events */
    /* The name lookup of the parsers (sl_evplan_field), on the hot path: the fields of each
     * name length chained in declared order, and the first and last 8 bytes of names of 8 or
     * more bytes, so that a match costs two loads and compares instead of a memcmp call. */
    int8_t by_len[SL_SCHEMA_NAME];
    int8_t next_len[SL_SCHEMA_FIELDS];
    uint64_t head[SL_SCHEMA_FIELDS], tail[SL_SCHEMA_FIELDS];
} sl_evplan;

/* Makes the plan of schema s (checked by sl_schema_check first). */
void sl_evplan_init(sl_evplan *p, const sl_schema *s);

/* The plan of sl_schema_defaults, made on first use. Any thread. */
const sl_evplan *sl_evplan_default(void);

/* Index of the declared field called name[0..len) (len > 0), or -1. Measured on 200,000 YSB
 * lines under callgrind (2026-12-06): about 15 instructions per JSON member, against 65 for a
 * loop over the fields with memcmp. */
static inline int sl_evplan_field(const sl_evplan *p, const char *name, size_t len)
{
    if (len >= SL_SCHEMA_NAME)
        return -1;
    for (int i = p->by_len[len]; i >= 0; i = p->next_len[i]) {
        const char *f = p->s.field[i].name;
        if (f[0] != name[0] || f[len - 1] != name[len - 1])
            continue;
        if (len >= 8) {
            uint64_t a, b;
            __builtin_memcpy(&a, name, 8);
            __builtin_memcpy(&b, name + len - 8, 8);
            if (a == p->head[i] && b == p->tail[i])
                return i;
            continue;
        }
        size_t k = 1;
        while (k + 1 < len && f[k] == name[k])
            k++;
        if (k + 1 >= len)
            return i;
    }
    return -1;
}

/* What a value of field f must be, for messages: "an integer", "a number", "a boolean", "a
 * time" or "a string or a number". */
const char *sl_evplan_want(const sl_evplan *p, int f);

/* Builds *ev from vals[0..p->s.nfields) of `line` (len bytes, for error columns). `missing_at`
 * is where to report a required field the line lacks (NDJSON: the closing brace). Returns 0, or
 * SL_EPARSE with err set (its column the offending byte's, or the value's start when the value
 * was unescaped). */
int sl_evbuild(const sl_evplan *p, const sl_fval *vals, const char *line, size_t len,
               const char *missing_at, sl_rawev *ev, sl_perr *err);

#endif
