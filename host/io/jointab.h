/* A small join table loaded at start: ad id -> campaign id, from a CSV file with one
 * "ad_id,campaign_id" pair per line (an optional header line naming exactly those two columns;
 * RFC 4180 quoting; empty lines skipped). A multi-stage topology re-keys the rows of one PE by
 * this table before the next PE (the ad-to-campaign join of the Yahoo Streaming Benchmark).
 *
 * Keys are sl_key_hash of the ids, as everywhere. Errors name the file, line and column. An ad
 * listed twice with two different campaigns is an error; listed twice with the same campaign is
 * accepted.
 *
 * A table is read-only after loading: any thread may look up. */
#ifndef SL_JOINTAB_H
#define SL_JOINTAB_H

#include <stddef.h>
#include <stdint.h>

#include "addict.h"

#define SL_JOINTAB_MAX (UINT32_C(1) << 24) /* most pairs in one table */

typedef struct sl_jointab sl_jointab;

/* Parses `len` bytes of CSV text named `name` (for messages). When `dict` is not NULL the
 * campaign ids are interned there, so that a sink can print them. Returns 0 with *out set, or
 * SL_EPARSE (message "NAME:LINE:COLUMN: what"), SL_ERANGE (too many pairs), SL_ECOLLISION (two
 * ids with one hash), SL_ENOMEM. Any thread. */
int sl_jointab_parse(const char *text, size_t len, const char *name, sl_addict *dict,
                     sl_jointab **out, char *err, size_t errlen);

/* Reads the file at `path` and parses it. Also SL_EIO. When `text` is not NULL the file's
 * bytes are handed over in *text (malloc'd, NUL-terminated, caller frees) and *len. */
int sl_jointab_load(const char *path, sl_addict *dict, sl_jointab **out, char **text, size_t *len,
                    char *err, size_t errlen);

/* Looks up an ad's key: returns 1 with *campaign set, or 0 when the ad is not in the table. */
int sl_jointab_get(const sl_jointab *t, uint64_t ad, uint64_t *campaign);

/* Number of distinct ads in the table. */
size_t sl_jointab_count(const sl_jointab *t);

void sl_jointab_destroy(sl_jointab **tp);

#endif
