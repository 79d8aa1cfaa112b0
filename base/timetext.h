/* Event times written as text: seconds with a fraction, ISO 8601, strftime-style patterns. Each
 * parser takes exactly the text given (no surrounding spaces) and returns milliseconds since the
 * Unix epoch, UTC, dropping digits past the millisecond. Any thread; no locale,
 * no time zone database (mktime and strptime are neither). */
#ifndef SL_TIMETEXT_H
#define SL_TIMETEXT_H

#include <stddef.h>
#include <stdint.h>

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian; m 1..12, d 1..31). */
int64_t sl_days_from_civil(int64_t y, int m, int d);

/* Each returns 0 with *ms, or 1 with *bad the index of the first byte that does not fit (n when
 * the text ends too early) and *why a short reason ("expected a digit", "month out of range"),
 * or 2 when the time does not fit an int64 of milliseconds. */

/* [-]digits[.digits] seconds. */
int sl_time_parse_s(const char *s, size_t n, int64_t *ms, size_t *bad, const char **why);

/* YYYY-MM-DD, optionally followed by 'T' or ' ' and HH:MM[:SS[.fraction]], optionally
 * followed by 'Z' or a +HH:MM, +HHMM or +HH offset (- likewise). Without an offset: UTC. */
int sl_time_parse_iso8601(const char *s, size_t n, int64_t *ms, size_t *bad, const char **why);

/* A strftime-style pattern: %Y (4 digits, or a sign and more), %y (2 digits: 69-99 are 19xx,
 * 00-68 20xx), %m %d %H %M %S (2 digits), %j (3-digit day of the year), %f (1 to 9 fraction
 * digits), %s (seconds since the epoch), %% a '%'; every other byte must match itself. Fields
 * not in the pattern default to January 1st, 00:00:00. The pattern was checked with
 * sl_time_pattern_check (host/model/schema.h). */
int sl_time_parse_pattern(const char *pattern, const char *s, size_t n, int64_t *ms, size_t *bad,
                          const char **why);

#endif
