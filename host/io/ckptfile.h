/* Checkpoint files: named sections of bytes (state tables, source offsets, ...) written so that
 * a crash at any moment leaves either the previous checkpoints or the new one complete, never a
 * torn one, and read back only when every byte checks.
 *
 * A checkpoint of id ID is DIR/ckpt-ID (ID in 20 decimal digits, so names sort by id). It is
 * written to a temporary name in DIR, fsynced, renamed into place and the directory fsynced.
 *
 * Layout (little-endian):
 *   "SLCKPT01"            8 bytes: magic and format version
 *   u64 id, i64 created   the id and the wall-clock time of the write (ms since the epoch)
 *   u32 nsections
 *   per section:          u32 name length, the name, u64 length, u64 XXH3 of the bytes, bytes
 *   u64 XXH3              of everything before it
 *   "SLCKEND!"            8 bytes
 *
 * Any thread; one writer per directory at a time. */
#ifndef SL_CKPTFILE_H
#define SL_CKPTFILE_H

#include <stddef.h>
#include <stdint.h>

#define SL_CKPT_SECTIONS_MAX 64
#define SL_CKPT_NAME_MAX 64

typedef struct sl_ckpt_section {
    const char *name; /* 1..SL_CKPT_NAME_MAX bytes */
    const void *data;
    size_t len;
} sl_ckpt_section;

/* Writes checkpoint `id` of the n sections into dir (made if missing). Returns 0 with its size
 * in *bytes (may be NULL), or SL_EIO (the directory cannot be written, the disk is full, a write
 * or fsync failed: nothing is left under the checkpoint's name and earlier checkpoints are
 * untouched) or SL_EINVAL, with msg naming the path and the reason. */
int sl_ckpt_write(const char *dir, uint64_t id, const sl_ckpt_section *s, size_t n, uint64_t *bytes,
                  char *msg, size_t msglen);

typedef struct sl_ckpt sl_ckpt;

/* Reads and checks the checkpoint file at path whole. Returns 0 with *out, or SL_EIO (cannot
 * read it) or SL_EPARSE (not a checkpoint, another format version, cut short, or a checksum
 * that does not match: a torn or corrupted file), with msg saying which and at what byte. */
int sl_ckpt_open(const char *path, sl_ckpt **out, char *msg, size_t msglen);

uint64_t sl_ckpt_id(const sl_ckpt *c);
int64_t sl_ckpt_created_ms(const sl_ckpt *c);

/* The bytes of section `name` (valid until sl_ckpt_close), its length in *len; NULL when the
 * checkpoint has no such section. */
const void *sl_ckpt_get(const sl_ckpt *c, const char *name, size_t *len);

void sl_ckpt_close(sl_ckpt **cp);

/* The id of the newest checkpoint in dir that reads back whole (sl_ckpt_open): newer ones that
 * do not are skipped, and the first such is named in msg. Returns 1 with *id, 0 when there is
 * none (msg says why when files were skipped, else ""), or SL_EIO when dir cannot be listed. */
int sl_ckpt_latest(const char *dir, uint64_t *id, char *msg, size_t msglen);

/* Removes the checkpoints of dir older than `keep` (their ids lower than it) and temporary files
 * left by writes that did not finish. Returns the number removed, or SL_EIO. */
int sl_ckpt_prune(const char *dir, uint64_t keep);

/* 1 with *n when name is `prefix` followed by 20 decimal digits (the names of numbered files:
 * checkpoints, ingest log segments), else 0. */
int sl_ckpt_numbered_name(const char *name, const char *prefix, uint64_t *n);

/* The path of checkpoint id in dir, into buf. */
void sl_ckpt_path(char *buf, size_t len, const char *dir, uint64_t id);

#endif
