/* Newline-delimited JSON events: one object per line, its members read by the schema
 * (host/model/schema.h, host/io/evbuild.h). A declared field's value is a string, a number
 * (its text as written: a number is a fine id), true, false or null (an optional field's
 * "absent"); undeclared members are validated and skipped, whatever their JSON type. With the
 * default schema that is the Yahoo Streaming Benchmark's shape:
 *   {"user_id": "...", "page_id": "...", "ad_id": "...", "ad_type": "...",
 *    "event_type": "view", "event_time": "1700000000123", "ip_address": "..."}
 * Required: ad_id (non-empty, valid UTF-8), event_type, event_time (integer ms, as a JSON
 * number or a string of digits). Optional: value (a number, a numeric string, or null) and
 * user_id (hashed into the record's user field, empty or absent = 0). */
#ifndef SL_NDJSON_H
#define SL_NDJSON_H

#include "addict.h"
#include "evbuild.h"
#include "rawev.h"

/* Parses one line (without its newline; a trailing '\r' is allowed) into *ev. `scratch` must
 * hold at least `len` bytes: unescaped strings are written there and ev->ad_id may point into
 * it. Returns 0, or SL_EPARSE with err->column and err->reason set. Any thread. */
int sl_ndjson_parse(const char *line, size_t len, char *scratch, sl_rawev *ev, sl_perr *err);

/* sl_ndjson_parse by the schema of `plan`. */
int sl_ndjson_parse_plan(const sl_evplan *plan, const char *line, size_t len, char *scratch,
                         sl_rawev *ev, sl_perr *err);

/* sl_ndjson_parse_plan that, when the schema's key is one field, starts the key's lookup in
 * `dict` as soon as the key's string is read (sl_addict_prefetch), so that parsing the rest of
 * the line hides the slot's cache miss: *hint_s, *hint_n and *hint_key then name the string
 * hashed and its key (*hint_s NULL when none was). The caller interns ev->ad_id with
 * sl_addict_intern_key(..., *hint_key, ...) when ev->ad_id and ev->ad_id_len are *hint_s and
 * *hint_n, else as usual. */
int sl_ndjson_parse_hinted(const sl_evplan *plan, const char *line, size_t len, char *scratch,
                           sl_rawev *ev, sl_perr *err, const sl_addict *dict, const char **hint_s,
                           size_t *hint_n, uint64_t *hint_key);

#endif
