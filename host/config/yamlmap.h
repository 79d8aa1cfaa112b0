/* Typed YAML for the config parsers (topology_yaml.c, cluster_yaml.c): a document loaded into
 * libyaml's node tree within size and nesting limits, then read key by key with getters that
 * check the type and range of each value and, when it is wrong, say so at its line and column.
 *
 * Every message is "NAME:LINE:COLUMN: PATH: what was expected, got WHAT", 1-based, from
 * libyaml's marks (columns count characters). PATH names the value ("pe.capacity",
 * "next[1].trigger.every_ms"); a getter writes its output only on success. Any thread.
 *
 * yamldoc.c loads documents (sl_ym_parse, sl_ym_load); yamlmap.c holds the rest. Used only by
 * the files of host/config. */
#ifndef SL_YAMLMAP_H
#define SL_YAMLMAP_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "opts.h"

/* One parse: the document's name (for messages and for resolving relative paths), its node
 * tree and where messages go (err NULL or errlen 0: nowhere). */
typedef struct sl_ym_ctx {
    const char *name;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
} sl_ym_ctx;

/* ---- documents (yamldoc.c) ---------------------------------------------------------------- */

/* Reads the root node of a document (NULL for an empty one) into out. Returns 0 or a negative
 * sl_err with the message in c->err. */
typedef int (*sl_ym_root_fn)(const sl_ym_ctx *c, const yaml_node_t *root, void *out);

/* Loads YAML `text` (len bytes; NULL is empty) named `name` (NULL: "<config>") and hands its
 * root to fn. Text over 1 MiB, nested deeper than 64 collections, malformed or holding a second
 * document is refused first. Returns fn's result, SL_ECONFIG or SL_ENOMEM. */
int sl_ym_parse(const char *text, size_t len, const char *name, sl_ym_root_fn fn, void *out,
                char *err, size_t errlen);

/* Reads the file at `path` (refusing one over 1 MiB before parsing) and parses it as
 * sl_ym_parse with `path` as its name. Returns 0, SL_EIO, SL_ENOMEM or SL_ECONFIG. */
int sl_ym_load(const char *path, sl_ym_root_fn fn, void *out, char *err, size_t errlen);

/* ---- messages ----------------------------------------------------------------------------- */

/* Writes "NAME:LINE:COLUMN: " and the message for mark m. Returns SL_ECONFIG. */
int sl_ym_fail(const sl_ym_ctx *c, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fails at n with "PATH: expected WANT, got <n>" (a quoted scalar, "a mapping", "a list of 3
 * items", "nothing"). Returns SL_ECONFIG. */
int sl_ym_expected(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, const char *want);

/* Fails at the mapping n (NULL: the start of an empty document) with "PATH: missing required
 * key "KEY"" and then `why`; PATH "" is the top level. Returns SL_ECONFIG. */
int sl_ym_missing(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, const char *key,
                  const char *why);

/* Writes "PFX.KEY" (just KEY when pfx is "") into out. Returns out. */
const char *sl_ym_join(char *out, size_t outsz, const char *pfx, const char *key);

/* ---- scalars ------------------------------------------------------------------------------ */

/* Each reads scalar n, the value at `path`, into *out. Returns 0 or SL_ECONFIG. */

/* An unsigned decimal integer in lo..hi ('+' and '_' between digits allowed). */
int sl_ym_u64(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, uint64_t lo, uint64_t hi,
              uint64_t *out);

/* A signed 64-bit decimal integer. */
int sl_ym_i64(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, int64_t *out);

enum sl_ym_range { SL_YM_POSITIVE, SL_YM_NONNEG, SL_YM_UNIT /* [0, 1] */ };

/* A finite decimal number in range r (no hex, inf or nan). */
int sl_ym_double(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, enum sl_ym_range r,
                 double *out);

/* true/false, yes/no or on/off, in lower, Title or UPPER case: 1 or 0. */
int sl_ym_bool(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, int *out);

/* A string without NUL bytes that fits out (outsz bytes with the NUL); empty only when
 * allow_empty. */
int sl_ym_str(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, int allow_empty,
              char *out, size_t outsz);

/* A non-empty path; a relative one (not "-") gets the directory of c->name in front. */
int sl_ym_path(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, char *out, size_t outsz);

/* One of names[0..count). Returns its index, or -1 after failing with "PATH: expected one of
 * a, b, c, got X". */
int sl_ym_choice(const sl_ym_ctx *c, const yaml_node_t *n, const char *path,
                 const char *const *names, size_t count);

/* ---- collections -------------------------------------------------------------------------- */

/* A key of a mapping: its name and, once scanned, its key and value nodes (NULL: absent). */
typedef struct sl_ym_field {
    const char *key;
    yaml_node_t *k;
    yaml_node_t *v;
} sl_ym_field;

#define SL_YM_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Checks that n is a mapping whose keys are all among keys[0..nkeys), each at most once, and
 * fills f[0..nkeys) (f[i].key = keys[i], k and v NULL when absent). n NULL (an empty document)
 * counts as an empty mapping. `path` names the mapping ("" for the top level). Returns 0 or
 * SL_ECONFIG ("unknown key", "duplicate key", "expected a mapping"). */
int sl_ym_scan(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, const char *const *keys,
               size_t nkeys, sl_ym_field *f);

/* sl_ym_scan, except that keys not among keys[] are not refused: their values, which must be
 * scalars, are added to `rest` with their marks (rest->name = the document's name), for a
 * backend to check (opts.h). */
int sl_ym_scan_rest(const sl_ym_ctx *c, const yaml_node_t *n, const char *path,
                    const char *const *keys, size_t nkeys, sl_ym_field *f, sl_opts *rest);

/* Fails at the first key of f[first..last) that is present with "PFX.KEY: only allowed when
 * COND". Returns 0 when none is present, else SL_ECONFIG. */
int sl_ym_refuse(const sl_ym_ctx *c, const sl_ym_field *f, int first, int last, const char *pfx,
                 const char *cond);

/* Checks that n is a list of 1..max items: "PATH: expected WANT" when it is not a list or is
 * empty, "PATH: expected at most MAX WHAT" when it is longer. Returns 0 with *count, or
 * SL_ECONFIG. */
int sl_ym_list(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, const char *want,
               size_t max, const char *what, size_t *count);

/* Items of the sequence n (0 when n is not a sequence). */
size_t sl_ym_len(const yaml_node_t *n);

/* Item i (< sl_ym_len(n)) of the sequence n. */
yaml_node_t *sl_ym_item(const sl_ym_ctx *c, const yaml_node_t *n, size_t i);

/* ---- rules: which getter reads a key, and into which member ------------------------------- */

enum sl_ym_type {
    SL_YM_UINT, /* sl_ym_u64 in lo..hi into an integer member of 4 or 8 bytes that holds hi */
    SL_YM_INT,  /* sl_ym_i64 into an int64_t */
    SL_YM_REAL, /* sl_ym_double in `range` into a double */
    SL_YM_BOOL, /* sl_ym_bool into an int */
    SL_YM_STR,  /* sl_ym_str (empty only when empty_ok) into a char array */
    SL_YM_PATH  /* sl_ym_path into a char array */
};

typedef struct sl_ym_rule {
    int key; /* index in the scanned sl_ym_field array */
    enum sl_ym_type type;
    uint64_t lo, hi;
    enum sl_ym_range range;
    int empty_ok;
    size_t off, size; /* the member: offsetof and sizeof */
} sl_ym_rule;

/* A rule for key index k_ read into member m of struct type T: SL_YM_UINT(k, T, m, lo, hi),
 * SL_YM_INT(k, T, m), SL_YM_REAL(k, T, m, range), SL_YM_BOOL(k, T, m),
 * SL_YM_STR(k, T, m, empty_ok), SL_YM_PATH(k, T, m). */
#define SL_YM_RULE_(k_, type_, T, m, lo_, hi_, range_, empty_ok_)                                  \
    {                                                                                              \
        (k_), (type_), (lo_), (hi_), (range_), (empty_ok_), offsetof(T, m), sizeof(((T *)0)->m)    \
    }
#define SL_YM_UINT(k_, T, m, lo_, hi_)                                                             \
    SL_YM_RULE_(k_, SL_YM_UINT, T, m, lo_, hi_, SL_YM_POSITIVE, 0)
#define SL_YM_INT(k_, T, m) SL_YM_RULE_(k_, SL_YM_INT, T, m, 0, 0, SL_YM_POSITIVE, 0)
#define SL_YM_REAL(k_, T, m, range_) SL_YM_RULE_(k_, SL_YM_REAL, T, m, 0, 0, range_, 0)
#define SL_YM_BOOL(k_, T, m) SL_YM_RULE_(k_, SL_YM_BOOL, T, m, 0, 0, SL_YM_POSITIVE, 0)
#define SL_YM_STR(k_, T, m, empty_ok_)                                                             \
    SL_YM_RULE_(k_, SL_YM_STR, T, m, 0, 0, SL_YM_POSITIVE, empty_ok_)
#define SL_YM_PATH(k_, T, m) SL_YM_RULE_(k_, SL_YM_PATH, T, m, 0, 0, SL_YM_POSITIVE, 0)

/* For each rule in order whose key is present in f, reads the value at "PFX.KEY" into the
 * member of obj. Returns 0, or SL_ECONFIG at the first value that is wrong. */
int sl_ym_read(const sl_ym_ctx *c, const sl_ym_field *f, const char *pfx, const sl_ym_rule *rules,
               size_t nrules, void *obj);

#define SL_YM_PLAIN_MAX 16 /* keys of a mapping sl_ym_plain reads */

/* A mapping of plain values: sl_ym_scan of n at `path` with keys[0..nkeys) (at most
 * SL_YM_PLAIN_MAX), then sl_ym_read with the rules. Returns 0 or SL_ECONFIG. */
int sl_ym_plain(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, const char *const *keys,
                size_t nkeys, const sl_ym_rule *rules, size_t nrules, void *obj);

#endif
