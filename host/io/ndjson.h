/* Newline-delimited JSON events in the Yahoo Streaming Benchmark's shape:
 *   {"user_id": "...", "page_id": "...", "ad_id": "...", "ad_type": "...",
 *    "event_type": "view", "event_time": "1700000000123", "ip_address": "..."}
 * Required: ad_id (non-empty string, valid UTF-8 as written), event_type (string), event_time
 * (integer ms, as a JSON number or a string of digits). Optional: value (JSON number, numeric
 * string, or null) and user_id (string; hashed into the record's user field, empty or absent = 0).
 * Other fields are skipped, whatever their JSON type. */
#ifndef SL_NDJSON_H
#define SL_NDJSON_H

#include "rawev.h"

/* Parses one line (without its newline; a trailing '\r' is allowed) into *ev. `scratch` must
 * hold at least `len` bytes: unescaped strings are written there and ev->ad_id may point into
 * it. Returns 0, or SL_EPARSE with err->column and err->reason set. Any thread. */
int sl_ndjson_parse(const char *line, size_t len, char *scratch, sl_rawev *ev, sl_perr *err);

#endif
