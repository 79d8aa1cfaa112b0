/* CSV events (RFC 4180 quoting; a quoted field may hold newlines): columns ad_id (valid UTF-8),
 * event_type, event_time and optionally value, and user_id when a header names it.
 * A first line naming the columns sets their order (other columns are skipped); without one
 * the order is ad_id,event_type,event_time[,value]. */
#ifndef SL_CSVIN_H
#define SL_CSVIN_H

#include "rawev.h"

typedef struct sl_csv_cols {
    int ad_id, event_type, event_time, value; /* 0-based column index, -1 when absent */
    int user_id;                              /* optional, only through a header; -1 = absent */
    int ncols;                                /* columns per line, 0 = not fixed */
} sl_csv_cols;

/* Sets the column order used when the input has no header. */
void sl_csv_default_cols(sl_csv_cols *cols);

/* Looks at the first line: returns 1 and fills *cols when it is a header (it names ad_id),
 * 0 when it is not a header (the caller then parses it as data with default columns), or
 * SL_EPARSE when it is a header missing a required column. Any thread. */
int sl_csv_header(const char *line, size_t len, sl_csv_cols *cols, sl_perr *err);

/* Parses one data record (no final newline; trailing '\r' allowed; newlines inside quoted
 * fields are content) like sl_ndjson_parse. */
int sl_csv_parse(const char *line, size_t len, const sl_csv_cols *cols, char *scratch, sl_rawev *ev,
                 sl_perr *err);

#endif
