/* A write-ahead ingest log: the records a source that cannot be read again (stdin, zmq, tcp, a
 * followed file) gave, appended before they go anywhere, so that a run or a cluster client can
 * send them again after a checkpoint (docs/fault-tolerance.md). Used by the one-process run
 * (host/run/checkpoint.c) and the cluster client (host/cluster/client.c).
 *
 * The log is a directory of segments, DIR/log-SEG (SEG in 20 decimal digits). The caller numbers
 * them: a checkpoint or barrier N rolls the log to segment N, so that segment N holds what
 * came after it, and segments below the oldest checkpoint still kept can be removed.
 *
 * A segment (little-endian):
 *   "SLILOG02"          8 bytes: magic and format version (01, without attribute blocks, is
 *                       read too)
 *   u32 record size     32 (sizeof(sl_rec)): the records are this machine's sl_rec, as the
 *   u32 byte order      engine takes them; 0x01020304 as written here. A log is read back by
 *                       the machine that wrote it, soon after: a field-by-field encoding would
 *                       cost a pass over every record for no reader that needs it.
 *   blocks:             u32 "SLIB", u32 count (1..SL_INGESTLOG_BLOCK), u64 XXH3 of the count
 *                       records (seeded with count), the records; or
 *                       u32 "SLIA", u32 count (1..SL_INGESTLOG_BLOCK), u64 XXH3 of what follows
 *                       (seeded with count): u64 nattr (1..SL_SCHEMA_ATTRS), the count records,
 *                       then their schema.attributes, nattr words each, record by record; or
 *                       u32 "SLIY", u32 length (1..SL_INGESTLOG_BYTES), u64 XXH3 of the bytes
 *                       (seeded with length), the caller's bytes (the run logs the ad ids it
 *                       learnt with them: the records hold only their keys)
 *
 * Appends write whole blocks; a crash (SIGKILL, power loss) can leave the last segment's last
 * block cut short or, after a power loss, with bytes that were never written: opening the log
 * to go on (SL_INGESTLOG_RESUME) finds such a tail by its length and checksum and cuts it, so
 * that appends go on after the last whole block. Those records were never acknowledged (a
 * caller appends before it hands records on). What was appended but not yet synced survives the
 * death of the process (it is in the page cache), not a power loss: sl_ingestlog_sync is the
 * group commit, and sl_ingestlog_roll syncs the segment it ends.
 *
 * One thread owns a log. */
#ifndef SL_INGESTLOG_H
#define SL_INGESTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "addict.h"
#include "event.h"

#define SL_INGESTLOG_BLOCK 4096   /* records in a block at most */
#define SL_INGESTLOG_BYTES 131072 /* bytes in a block of bytes at most */

typedef struct sl_ingestlog sl_ingestlog;

enum sl_ingestlog_mode {
    SL_INGESTLOG_FRESH,  /* a new run: every segment there is removed first */
    SL_INGESTLOG_RESUME, /* go on: the last segment's torn tail is cut, appends follow it */
    SL_INGESTLOG_READ,   /* only sl_ingestlog_replay, changing nothing (another process may be
                          * appending: a torn tail is where its reading stops) */
};

/* Opens the log in dir (made if missing, except to READ). Returns 0 with *out; SL_EIO (the
 * directory cannot be made or listed, a segment cannot be read or cut) or SL_EPARSE (a file
 * named as a segment that is not one) with msg. */
int sl_ingestlog_open(const char *dir, enum sl_ingestlog_mode mode, sl_ingestlog **out, char *msg,
                      size_t msglen);

/* The segment appends go to: the newest there when opened (0 in an empty log), then the last
 * sl_ingestlog_roll's. */
uint64_t sl_ingestlog_segment(const sl_ingestlog *l);

/* The lowest segment there (the current one when there is none), or UINT64_MAX when the
 * directory cannot be listed. */
uint64_t sl_ingestlog_first(const sl_ingestlog *l);

/* Bytes cut from the last segment when it was opened (a torn tail; 0: none). */
uint64_t sl_ingestlog_cut(const sl_ingestlog *l);

/* Appends n records to the current segment (made at its first append), in blocks. Not synced
 * (sl_ingestlog_sync). Returns 0, or SL_EIO with msg (the disk is full, a write failed: what
 * was written of a block is a torn tail that the next RESUME cuts); SL_EINVAL on a READ log. */
int sl_ingestlog_append(sl_ingestlog *l, const sl_rec *recs, size_t n, char *msg, size_t msglen);

/* Appends n records with their schema.attributes: nattr (1..SL_SCHEMA_ATTRS) 64-bit words each,
 * record i's at attrs[i * nattr]; nattr 0 (attrs unused) is sl_ingestlog_append. Returns as
 * sl_ingestlog_append, or SL_EINVAL for nattr out of range. */
int sl_ingestlog_append_attrs(sl_ingestlog *l, const sl_rec *recs, const uint64_t *attrs,
                              uint32_t nattr, size_t n, char *msg, size_t msglen);

/* Appends a block of len (1..SL_INGESTLOG_BYTES) bytes of the caller's, handed back in order
 * with the records by sl_ingestlog_replay. Returns as sl_ingestlog_append, or SL_EINVAL for a
 * length out of range. */
int sl_ingestlog_append_bytes(sl_ingestlog *l, const void *p, size_t len, char *msg, size_t msglen);

/* Appends the ids dict recorded after *cursor (sl_addict_next) as blocks of bytes of
 * sl_addict_entry_put entries, and moves *cursor past them; a replay hands them to its bytes_fn
 * (sl_addict_load_image interns them). Returns as sl_ingestlog_append_bytes (0 when there are
 * none). */
int sl_ingestlog_append_ids(sl_ingestlog *l, const sl_addict *dict, size_t *cursor, char *msg,
                            size_t msglen);

/* Makes what was appended since the last sync durable (fdatasync). Returns 0 (at once when
 * there is nothing to sync), or SL_EIO with msg. */
int sl_ingestlog_sync(sl_ingestlog *l, char *msg, size_t msglen);

/* Ends the current segment (synced and closed) and makes seg, which must be above it, the one
 * appends go to. Returns 0, SL_EINVAL (seg not above the current one) or SL_EIO, with msg. */
int sl_ingestlog_roll(sl_ingestlog *l, uint64_t seg, char *msg, size_t msglen);

/* Removes the segments below `below` (never the current one). Returns how many were removed. */
int sl_ingestlog_prune(sl_ingestlog *l, uint64_t below);

/* Called with the records of the log in order, at most SL_INGESTLOG_BLOCK at a time (valid
 * during the call), with their schema.attributes: nattr words per record (attrs NULL and nattr 0
 * for records appended without them). Returns 0 to go on, or an sl_err (with msg) that stops
 * the replay. */
typedef int (*sl_ingestlog_fn)(void *ud, const sl_rec *recs, const uint64_t *attrs, uint32_t nattr,
                               size_t n, char *msg, size_t msglen);

/* Called with a block of bytes (sl_ingestlog_append_bytes), valid during the call. */
typedef int (*sl_ingestlog_bytes_fn)(void *ud, const unsigned char *p, size_t len, char *msg,
                                     size_t msglen);

/* Hands every record of the segments from `from` on (every one at or above it, in order) to fn,
 * and every block of bytes to bytes_fn (NULL: skipped) where it was appended among them, each
 * block only once its checksum matched. *count (may be NULL) gets the records handed over.
 * Returns 0; what fn returned; SL_EIO (a segment cannot be read); or SL_EPARSE with msg naming
 * the segment and byte (a block cut short or corrupted anywhere but the tail of a READ log's
 * last segment, where reading stops). */
int sl_ingestlog_replay(sl_ingestlog *l, uint64_t from, sl_ingestlog_fn fn,
                        sl_ingestlog_bytes_fn bytes_fn, void *ud, uint64_t *count, char *msg,
                        size_t msglen);

/* Syncs and closes the current segment, frees the log and sets *lp NULL. */
void sl_ingestlog_close(sl_ingestlog **lp);

#endif
