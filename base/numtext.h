/* Strict decimal text for the event readers (NDJSON and CSV): what each accepts as a number.
 * Any thread. */
#ifndef SL_NUMTEXT_H
#define SL_NUMTEXT_H

#include <stddef.h>
#include <stdint.h>

/* Parses [-]digits in s[0..n). Returns 0 with *v, 1 when a byte is not a digit (*bad = its
 * index, n when the digits are missing), 2 when the number does not fit an int64. */
int sl_parse_i64(const char *s, size_t n, int64_t *v, size_t *bad);

/* Checks that s[0..n) is a decimal number: [+-] (digits [. digits] | . digits) [e [+-] digits].
 * Returns 1 when it is, else 0 with *bad the index of the first offending byte (n when the text
 * ends too early). Hex, "inf" and "nan", which strtod would take, are refused. */
int sl_check_decimal(const char *s, size_t n, size_t *bad);

#endif
