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

#define SL_EVPLAN_SLOTS 256 /* hash slots of the member-name lookup */

/* What sl_evbuild checks a field's value against (its type, with the time format folded in). */
enum sl_evcheck {
    SL_CHK_TEXT = 0,    /* string: a string or a number */
    SL_CHK_INT64 = 1,   /* int64 */
    SL_CHK_DOUBLE = 2,  /* double */
    SL_CHK_BOOL = 3,    /* bool */
    SL_CHK_TIME_MS = 4, /* time in integer milliseconds: read as an int64 */
    SL_CHK_TIME = 5     /* time in another format */
};

typedef struct sl_evplan {
    sl_schema s;
    uint32_t required;               /* bit i: field i must be in every line */
    int max_events;                  /* sl_schema_max_events */
    uint8_t check[SL_SCHEMA_FIELDS]; /* enum sl_evcheck of each field */
    uint32_t checked;                /* bit i: field i is not SL_CHK_TEXT */
    int value_wide;                  /* the value field is also an attribute */
    /* The name lookup of the parsers (sl_evplan_field), on the hot path: a hash of a name's
     * length, first and last bytes (sl_evplan_hash, with a multiplier chosen when the plan is
     * made so that the declared names fall in different slots when they can) picks a slot; the
     * fields of a slot are chained (names that share length, first and last bytes share one).
     * A candidate is confirmed by its length and its first and last 8 bytes as two masked
     * 64-bit compares, the bytes between them (names over 16 bytes) by memcmp. */
    uint32_t mul;
    int8_t slot[SL_EVPLAN_SLOTS];
    int8_t next[SL_SCHEMA_FIELDS];
    uint8_t nlen[SL_SCHEMA_FIELDS];
    uint64_t head[SL_SCHEMA_FIELDS], hmask[SL_SCHEMA_FIELDS]; /* the first min(len, 8) bytes */
    uint64_t tail[SL_SCHEMA_FIELDS];                          /* the last 8 (names over 8) */
    /* The NDJSON parser's first try (ndjson.c), before it scans a member's name: the fields
     * whose names JSON writes as they are (no '"', '\\' or byte below 0x20), chained by their
     * first byte in declared order, to be compared with the bytes as written. */
    int8_t by_first[256];
    int8_t next_first[SL_SCHEMA_FIELDS];
} sl_evplan;

/* Makes the plan of schema s (checked by sl_schema_check first). */
void sl_evplan_init(sl_evplan *p, const sl_schema *s);

/* The plan of sl_schema_defaults, made on first use. Any thread. */
const sl_evplan *sl_evplan_default(void);

/* The slot of a name of len (> 0) bytes whose first and last bytes are b0 and b1. */
static inline unsigned sl_evplan_hash(uint32_t mul, size_t len, unsigned char b0, unsigned char b1)
{
    uint32_t x = (uint32_t)b0 | (uint32_t)b1 << 8 | (uint32_t)(len & 0xff) << 16;
    return (unsigned)((x * mul) >> 24) & (SL_EVPLAN_SLOTS - 1);
}

/* Index of the declared field called name[0..len) (len > 0), or -1. `padded` says that 8 bytes
 * from name may be read even when the name is shorter (the NDJSON parser knows it from the
 * line's length), which makes a short name one load instead of a copy. */
static inline int sl_evplan_field_at(const sl_evplan *p, const char *name, size_t len, int padded)
{
    if (len >= SL_SCHEMA_NAME)
        return -1;
    unsigned h = sl_evplan_hash(p->mul, len, (unsigned char)name[0], (unsigned char)name[len - 1]);
    int i = p->slot[h];
    if (i < 0)
        return -1;
    uint64_t a = 0, b = 0;
    if (len >= 8) {
        __builtin_memcpy(&a, name, 8);
        __builtin_memcpy(&b, name + len - 8, 8);
    } else if (padded) {
        __builtin_memcpy(&a, name, 8);
    } else {
        for (size_t k = 0; k < len; k++) /* byte k of a, in memory order, whatever the endianness */
            ((unsigned char *)&a)[k] = (unsigned char)name[k];
    }
    for (; i >= 0; i = p->next[i]) {
        if (p->nlen[i] != len || (a & p->hmask[i]) != p->head[i])
            continue;
        if (len <= 8)
            return i;
        if (b == p->tail[i] &&
            (len <= 16 || __builtin_memcmp(name + 8, p->s.field[i].name + 8, len - 16) == 0))
            return i;
    }
    return -1;
}

/* sl_evplan_field_at without reading past name[len - 1]. */
static inline int sl_evplan_field(const sl_evplan *p, const char *name, size_t len)
{
    return sl_evplan_field_at(p, name, len, 0);
}

/* What a value of field f must be, for messages: "an integer", "a number", "a boolean", "a
 * time" or "a string or a number". */
const char *sl_evplan_want(const sl_evplan *p, int f);

/* Which of a line's fields the parser found: bit i of `seen` says that the line had field i,
 * with vals[i] its value (whose kind may still be SL_FV_ABSENT, as for an empty optional CSV
 * field); bit i of `text` that its kind is SL_FV_STR or SL_FV_NUM (a subset of seen). vals[i] of
 * a field not in `seen` is not read, so a parser need not clear vals. */
typedef struct sl_fseen {
    uint32_t seen, text;
} sl_fseen;

/* Builds *ev from the fields of `line` (len bytes, for error columns) that `fs` names in vals.
 * `missing_at` is where to report a required field the line lacks (NDJSON: the closing brace).
 * Returns 0, or SL_EPARSE with err set (its column the offending byte's, or the value's start
 * when the value was unescaped). */
int sl_evbuild(const sl_evplan *p, const sl_fval *vals, sl_fseen fs, const char *line, size_t len,
               const char *missing_at, sl_rawev *ev, sl_perr *err);

#endif
