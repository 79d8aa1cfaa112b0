/* The declared shape of input events (the topology's `schema:`, docs/config.md "Schemas"): the
 * fields an event has and their types, which field or fields form the key, which is the event
 * time and how it is written, how an event's type is found, and which fields feed the record's
 * value and user. The readers (host/io/evbuild.h) turn a parsed line into records by it.
 *
 * The defaults (sl_schema_defaults) are the Yahoo Streaming Benchmark's shape that every earlier
 * release read: key ad_id, type from event_type, time event_time in integer milliseconds,
 * optional value and user_id.
 *
 * Plain data: copied with the topology, sent to nodes with it (host/cluster/job.c). Any thread. */
#ifndef SL_SCHEMA_H
#define SL_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#define SL_SCHEMA_FIELDS 32 /* declared fields */
#define SL_SCHEMA_KEYS 4    /* fields of a composite key */
#define SL_SCHEMA_MAP 16    /* entries of a type mapping */
#define SL_SCHEMA_NAME 48   /* bytes of a field name, with the NUL */
#define SL_SCHEMA_TEXT 64   /* bytes of a mapped or compared value, with the NUL */
#define SL_SCHEMA_ATTRS 8   /* attributes that reach the kernels (schema.attributes) */

/* Joins the parts of a composite key's id ("q1" and "ad7" -> "q1\x1f" "ad7"): the dictionary
 * keeps the joined text, sinks print one column per part. Never in a single key's id. */
#define SL_KEY_SEP '\x1f'

enum sl_ftype {
    SL_FT_STRING = 0, /* any text; a JSON number's text as written */
    SL_FT_INT64 = 1,  /* [-]digits that fit an int64 */
    SL_FT_DOUBLE = 2, /* a finite decimal number */
    SL_FT_BOOL = 3,   /* true/false (any case) or 1/0 */
    SL_FT_TIME = 4    /* a point in time, written as the schema's time format says */
};
#define SL_FT_N 5

enum sl_timefmt {
    SL_TIME_MS = 0,      /* integer milliseconds since the Unix epoch */
    SL_TIME_S = 1,       /* seconds since the epoch, with or without a fraction */
    SL_TIME_ISO8601 = 2, /* 2026-01-31T12:00:00[.123][Z|+01:00]; no zone = UTC */
    SL_TIME_PATTERN = 3  /* a strftime-style pattern (time_pattern), UTC */
};

enum sl_typemode {
    SL_TYPE_FIELD = 0,     /* one field's value, through map[] (or the built-in names) */
    SL_TYPE_PREDICATES = 1 /* each type has a predicate; a row gives one event per match */
};

enum sl_header { SL_HEADER_AUTO = 0, SL_HEADER_YES = 1, SL_HEADER_NO = 2 };

typedef struct sl_schema_field {
    char name[SL_SCHEMA_NAME];
    int32_t type;     /* enum sl_ftype */
    int32_t optional; /* 1: a line may lack it (absent, JSON null, or an empty CSV field) */
} sl_schema_field;

/* "The row's type is T when field F equals TEXT" (or for every row when all). */
typedef struct sl_type_pred {
    int32_t on;    /* this type has a predicate */
    int32_t all;   /* every row */
    int32_t field; /* index into fields, when !all */
    char equals[SL_SCHEMA_TEXT];
} sl_type_pred;

typedef struct sl_type_map {
    char text[SL_SCHEMA_TEXT];
    int32_t type; /* enum sl_evtype */
} sl_type_map;

typedef struct sl_schema {
    int32_t declared; /* 0: the defaults; 1: from a topology's schema: */
    uint32_t nfields;
    sl_schema_field field[SL_SCHEMA_FIELDS];
    uint32_t nkey;
    int32_t key[SL_SCHEMA_KEYS]; /* field indexes, in the order the key prints */
    int32_t time_field;          /* field index */
    int32_t time_format;         /* enum sl_timefmt */
    char time_pattern[SL_SCHEMA_TEXT];
    int32_t value_field; /* -1: none (records carry value 0) */
    int32_t user_field;  /* -1: none */
    int32_t type_mode;   /* enum sl_typemode */
    int32_t type_field;  /* SL_TYPE_FIELD: field index */
    int32_t type_nocase; /* compare type values ASCII case-insensitively (also predicates) */
    uint32_t nmap;       /* 0: the built-in names (view|impression, click, purchase) */
    sl_type_map map[SL_SCHEMA_MAP];
    sl_type_pred pred[4]; /* SL_TYPE_PREDICATES: by enum sl_evtype */
    int32_t delimiter;    /* CSV field separator, a byte 1..255 (',' by default, '\t' for TSV) */
    int32_t header;       /* enum sl_header: whether a CSV's first line names the columns */
    int32_t implied;      /* 1: no fields: list; each field is declared where a key names it */
    /* schema.attributes: numeric fields that travel with each record to the kernels, under
     * their own names (sl_record.NAME): 8 bytes each, a long (int64, bool as 0/1, time in ms)
     * or a double; 0 when a line lacks an optional one */
    uint32_t nattrs;
    int32_t attr[SL_SCHEMA_ATTRS]; /* field indexes, in the record's order */
} sl_schema;

/* The YSB defaults described above: fields ad_id (string), event_type (string), event_time
 * (time, ms), value (double, optional), user_id (string, optional). */
void sl_schema_defaults(sl_schema *s);

/* Index of the field called name[0..len), or -1. */
int sl_schema_find(const sl_schema *s, const char *name, size_t len);

/* "string", "int64", "double", "bool", "time" -> enum sl_ftype; -1 when unknown. */
int sl_ftype_parse(const char *s);
const char *sl_ftype_name(int t);

/* "ms", "s", "iso8601" -> enum sl_timefmt, anything holding a '%' -> SL_TIME_PATTERN; -1 when
 * none of these. */
int sl_timefmt_parse(const char *s);

/* Checks the pattern's conversions: %Y %y %m %d %H %M %S %f %j %s %%, others refused. Returns
 * 0, or SL_EINVAL with `err` naming the offending conversion. */
int sl_time_pattern_check(const char *pattern, char *err, size_t errlen);

/* Checks that a schema holds together (a key, a time field, indexes in range, a type source,
 * a value field of a numeric type) and writes the first problem into err. Returns 0 or
 * SL_EINVAL. */
int sl_schema_check(const sl_schema *s, char *err, size_t errlen);

/* Checks attribute k: a declared field, not a string, a name the kernels' record can take, not
 * named before. Returns 0, or SL_EINVAL with err (without the key's path). */
int sl_schema_check_attr(const sl_schema *s, uint32_t k, char *err, size_t errlen);

/* Whether name can be a member of the kernels' record: a C identifier that is not one of its
 * own members (key, time_ms, value, type, user), not a C or OpenCL C keyword or type, and not
 * starting with sl_ (any case) or __. */
int sl_schema_attr_name_ok(const char *name);

/* Whether attribute k is carried as a double (a double field) rather than a long. */
int sl_schema_attr_is_double(const sl_schema *s, uint32_t k);

/* Writes the key's column names, comma-separated ("query,ad_id"), into out. */
void sl_schema_key_names(const sl_schema *s, char *out, size_t outsz);

/* Events one line can give: 1, or the number of types with a predicate. */
int sl_schema_max_events(const sl_schema *s);

#endif
