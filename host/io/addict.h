/* The ad-id dictionary: maps 64-bit keys back to the original id strings for output, and
 * catches the (astronomically rare) case of two different ids with one hash, which would
 * otherwise merge two ads silently.
 *
 * Not thread-safe: one thread owns a dictionary (the ingest thread, then the sink). */
#ifndef SL_ADDICT_H
#define SL_ADDICT_H

#include <stddef.h>
#include <stdint.h>

#define SL_ADID_MAX 1024 /* longest accepted id, bytes */

typedef struct sl_addict sl_addict;

/* Returns a new empty dictionary, or NULL when out of memory. */
sl_addict *sl_addict_new(void);

/* Frees the dictionary and sets *dp to NULL. Accepts NULL and *dp == NULL. */
void sl_addict_destroy(sl_addict **dp);

/* Hashes `id` (len bytes, any bytes) with sl_key_hash, records it if new, and stores its key
 * in *key. Returns 0; SL_ERANGE when len is 0 or over SL_ADID_MAX; SL_ECOLLISION when the key
 * is already taken by a different id (that id is then readable with sl_addict_get); SL_ENOMEM.
 * On error nothing is recorded. */
int sl_addict_intern(sl_addict *d, const char *id, size_t len, uint64_t *key);

/* A lookup started early: sl_addict_prefetch hashes the id, asks the CPU to bring in its slot
 * and returns the key, so that work done meanwhile (the rest of the line's parse) hides the
 * slot's cache miss; sl_addict_intern_key then interns the id with that key, as sl_addict_intern
 * would (key must be sl_key_hash(id, len)). */
uint64_t sl_addict_prefetch(const sl_addict *d, const char *id, size_t len);
int sl_addict_intern_key(sl_addict *d, const char *id, size_t len, uint64_t k, uint64_t *key);

/* Returns the id of `key` (NUL-terminated, length in *len when len is not NULL), or NULL when
 * unknown. The pointer stays valid until the next sl_addict_intern. */
const char *sl_addict_get(const sl_addict *d, uint64_t key, size_t *len);

/* Returns the number of distinct ids recorded. */
size_t sl_addict_count(const sl_addict *d);

/* Walks the ids in the order they were recorded: *cursor starts at 0; each call that returns 1
 * gives the next id after *cursor (its key, bytes and length; valid until the next
 * sl_addict_intern) and moves *cursor past it; 0 when none was recorded since. Keeping the
 * cursor and calling again later yields only the ids recorded meanwhile (a cluster node ships
 * the ids it read to the client this way). */
int sl_addict_next(const sl_addict *d, size_t *cursor, uint64_t *key, const char **id, size_t *len);

/* A portable form of ids, for sending them (a cluster node's SL_MSG_DICT) and keeping them (a
 * checkpoint): entries of a u64 key, a u32 length and the id's bytes, little-endian.
 * sl_addict_entry_put appends (key, id) at buf[*at] when it fits in cap and returns 1 (moving
 * *at past it), else 0. sl_addict_entry_get reads the entry at p[*at]: 1 with its key, bytes
 * and length (moving *at past it), 0 at the end of the payload, -1 when the payload is
 * malformed (an entry cut short, empty, or longer than SL_ADID_MAX). */
int sl_addict_entry_put(unsigned char *buf, size_t cap, size_t *at, uint64_t key, const char *id,
                        size_t len);
int sl_addict_entry_get(const unsigned char *p, size_t len, size_t *at, uint64_t *key,
                        const char **id, size_t *idlen);

/* Every id of d as sl_addict_entry_put entries into *out (malloc'd, caller frees). Returns 0 or
 * SL_ENOMEM. */
int sl_addict_image(const sl_addict *d, unsigned char **out, size_t *len);

/* Interns the ids of an sl_addict_image into d. Returns 0, or an sl_err with msg (SL_EPARSE: the
 * image is cut short, or an id does not hash to its key). */
int sl_addict_load_image(sl_addict *d, const unsigned char *p, size_t len, char *msg,
                         size_t msglen);

#endif
