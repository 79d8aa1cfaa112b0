/* CSV events (RFC 4180 quoting; the schema's delimiter, ',' by default), read by the schema
 * (host/model/schema.h, host/io/evbuild.h). A first line that names the first key field is a
 * header (schema.header can force it either way): it maps columns to declared fields by name,
 * other columns are skipped. Without one, the columns are the declared fields in order, and
 * trailing optional ones may be left out; with the default schema that is
 * ad_id,event_type,event_time[,value], user_id only through a header. A quoted field may hold
 * newlines: the line reader hands over whole records. */
#ifndef SL_CSVIN_H
#define SL_CSVIN_H

#include <stdint.h>

#include "evbuild.h"
#include "rawev.h"

#define SL_CSV_COLS 512 /* columns a header may place a declared field in */

typedef struct sl_csv_cols {
    const sl_evplan *plan;     /* the schema; NULL reads as sl_evplan_default() */
    int col[SL_SCHEMA_FIELDS]; /* 0-based column of each declared field, -1 when absent */
    int8_t field[SL_CSV_COLS]; /* the declared field in each column, -1 for none */
    int need, most;            /* columns a line must have: need..most */
    int ncols;                 /* columns the header named, 0 without a header */
    char delim;
} sl_csv_cols;

/* Sets the columns used when the input has no header: plan's fields in order. */
void sl_csv_cols_init(sl_csv_cols *cols, const sl_evplan *plan);

/* sl_csv_cols_init with the default schema. */
void sl_csv_default_cols(sl_csv_cols *cols);

/* Looks at the first line by cols->plan (set with sl_csv_cols_init): returns 1 and fills *cols
 * when it is a header, 0 when it is not (the caller then parses it as data with the columns
 * cols holds), or SL_EPARSE when it is a header missing a required column, naming one twice, or
 * placing one past column SL_CSV_COLS. Any thread. */
int sl_csv_header(const char *line, size_t len, sl_csv_cols *cols, sl_perr *err);

/* Parses one data record (no final newline; trailing '\r' allowed; newlines inside quoted
 * fields are content) like sl_ndjson_parse. */
int sl_csv_parse(const char *line, size_t len, const sl_csv_cols *cols, char *scratch, sl_rawev *ev,
                 sl_perr *err);

#endif
