/* Options of a source or sink kind that the config layer does not know: the scalar keys of the
 * `source:` or `sink:` mapping other than the common ones, kept as text with the line and column
 * they came from. The backend of the kind (host/io) reads and checks them, so that a new kind is
 * a change in host/io alone (docs/architecture.md).
 *
 * Messages are "NAME:LINE:COLUMN: PFX.KEY: what was expected, got "VALUE"" as the config
 * parsers write them (NAME the file; without a file, only "PFX.KEY: ..."). Plain data: copied
 * with the topology, sent to nodes with it. Any thread. */
#ifndef SL_OPTS_H
#define SL_OPTS_H

#include <stddef.h>
#include <stdint.h>

#define SL_OPTS_MAX 16     /* keys per mapping */
#define SL_OPT_KEY_MAX 32  /* bytes of a key, with the NUL */
#define SL_OPT_VAL_MAX 512 /* bytes of a value, with the NUL */

typedef struct sl_opt {
    char key[SL_OPT_KEY_MAX];
    char val[SL_OPT_VAL_MAX];
    uint32_t line, col;   /* of the value, 1-based; 0 when set by a command line, not a file */
    uint32_t kline, kcol; /* of the key */
} sl_opt;

typedef struct sl_opts {
    char name[256];     /* the file the keys came from ("" when none) */
    char common[256];   /* the mapping's other keys, ", "-separated, for unknown-key messages */
    uint32_t line, col; /* where the mapping starts (1-based; 0: not from a file) */
    uint32_t n;
    sl_opt item[SL_OPTS_MAX];
} sl_opts;

/* Adds or replaces key (refusing more than SL_OPTS_MAX keys or over-long text), its value at
 * line:col. Returns 0 or SL_EINVAL. */
int sl_opts_set(sl_opts *o, const char *key, const char *val, uint32_t line, uint32_t col);

/* Sets where key itself stands (for unknown-key messages). */
void sl_opts_key_at(sl_opts *o, const char *key, uint32_t line, uint32_t col);

/* The item for key, or NULL. */
const sl_opt *sl_opts_get(const sl_opts *o, const char *key);

/* Fails at the first key not among known[0..nknown) with "PFX: unknown key "KEY" (expected
 * one of: COMMON, a, b, c)" (COMMON from o->common). `what` names the kind ("source type
 * tcp"), said only when the kind takes keys of its own. Returns 0 or SL_ECONFIG. */
int sl_opts_known(const sl_opts *o, const char *pfx, const char *what, const char *const *known,
                  size_t nknown, char *msg, size_t msglen);

/* Fails at the mapping with "PFX: missing required key "KEY" (WHY)". Returns SL_ECONFIG. */
int sl_opts_missing(const sl_opts *o, const char *pfx, const char *key, const char *why, char *msg,
                    size_t msglen);

/* Typed getters: absent keys leave *out as it is and return 0; a value that is wrong fails
 * with a message at its line and column and returns SL_ECONFIG. */

/* An unsigned decimal integer in lo..hi. */
int sl_opts_u64(const sl_opts *o, const char *pfx, const char *key, uint64_t lo, uint64_t hi,
                uint64_t *out, char *msg, size_t msglen);

/* true/false, yes/no, on/off (any case of those): 1 or 0. */
int sl_opts_bool(const sl_opts *o, const char *pfx, const char *key, int *out, char *msg,
                 size_t msglen);

/* A non-empty string that fits out (outsz bytes with the NUL). */
int sl_opts_str(const sl_opts *o, const char *pfx, const char *key, char *out, size_t outsz,
                char *msg, size_t msglen);

/* One of names[0..count): its index in *out. */
int sl_opts_choice(const sl_opts *o, const char *pfx, const char *key, const char *const *names,
                   size_t count, int *out, char *msg, size_t msglen);

/* Fails at key's value with "PFX.KEY: " and the formatted text. Returns SL_ECONFIG. */
int sl_opts_fail(const sl_opts *o, const char *pfx, const char *key, char *msg, size_t msglen,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
