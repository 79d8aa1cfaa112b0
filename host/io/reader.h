/* Line readers for NDJSON and CSV event files: turn text into records, hash ad ids through the
 * dictionary, and skip, count and report malformed lines without losing the lines around them.
 *
 * Input a FILE reader takes as it is: plain text, or gzip or zstd compressed (recognised by the
 * first bytes, 1f 8b or 28 b5 2f fd, whatever the file is called; concatenated members or frames
 * are all read). A UTF-8 byte order mark (EF BB BF) at the start of the text is skipped: it is
 * not part of the first line, but its 3 bytes count in byte offsets. In CSV a record ends at the
 * first '\n' outside a double-quoted field (RFC 4180), so a quoted field may hold newlines; a
 * "line" below is then such a record, numbered by the line it starts on.
 *
 * Byte offsets (of malformed lines, in sl_reader_stats, and for sl_reader_resume) count bytes of
 * the text: for compressed input, of the decompressed text. Line numbers count '\n's of the
 * text, newlines inside quoted CSV fields included.
 *
 * A reader and its dictionary belong to one thread. */
#ifndef SL_READER_H
#define SL_READER_H

#include <stdint.h>
#include <stdio.h>

#include "addict.h"
#include "event.h"
#include "topology.h"

#define SL_READER_MAX_LINE_DEFAULT (1u << 20)

typedef struct sl_reader sl_reader;

/* Called for each malformed line with its 1-based line number (for a CSV record spanning lines,
 * the line it starts on), 1-based column (counted from the start of the record), the byte
 * offset of the offending byte from the start of the text (decompressed), and the reason.
 * Returns nonzero to stop: sl_reader_read then returns SL_EPARSE. */
typedef int (*sl_bad_fn)(void *ud, uint64_t line, size_t column, uint64_t byte_offset,
                         const char *reason);

struct sl_reader_stats {
    uint64_t lines;   /* lines seen, blank ones and those inside quoted CSV fields included */
    uint64_t records; /* records produced */
    uint64_t bad;     /* malformed lines (CSV: records) skipped */
    uint64_t blank;   /* empty or whitespace-only lines skipped */
    uint64_t bytes;   /* bytes of the text consumed (decompressed, byte order mark included) */
};

/* Returns a reader of `in` (not closed by the reader), or NULL when out of memory (or in is NULL).
 * Lines (CSV: records) longer than max_line bytes of text are malformed (0 selects
 * SL_READER_MAX_LINE_DEFAULT). Whether `in` is compressed is found at the first read. */
sl_reader *sl_reader_new(FILE *in, sl_format fmt, sl_addict *dict, size_t max_line);

/* A reader without a FILE, for input that arrives in chunks (a socket's reads, a message, a
 * followed file): the caller puts bytes into the reader's buffer (sl_reader_room and
 * sl_reader_commit, or sl_reader_feed) and calls sl_reader_read, which parses every complete
 * line and returns fewer than `max` records when it needs more input; a line may be split across
 * chunks. sl_reader_end says no more input comes: a last line without a newline is then parsed
 * as a line (as at the end of a file). The buffer starts at 16 KiB and grows, as a FILE
 * reader's, up to max_line + 2 bytes; lines longer than max_line are reported and skipped.
 * Line numbers and byte offsets count from the first byte handed in, a byte order mark there
 * is skipped, and a quoted CSV field may be split across chunks anywhere; chunks are never
 * decompressed. NULL when out of memory. */
sl_reader *sl_reader_new_chunked(sl_format fmt, sl_addict *dict, size_t max_line);

/* Free space at the end of a chunked reader's buffer: a pointer to *room bytes, to be filled
 * and then announced with sl_reader_commit. *room is 0 (and NULL returned) after sl_reader_end,
 * after a sticky error, or when the buffer holds unparsed lines (call sl_reader_read first). */
char *sl_reader_room(sl_reader *r, size_t *room);
void sl_reader_commit(sl_reader *r, size_t n);

/* Copies as much of data as fits (sl_reader_room) and returns the number of bytes taken. */
size_t sl_reader_feed(sl_reader *r, const void *data, size_t len);

/* No more input for a chunked reader. */
void sl_reader_end(sl_reader *r);

/* Bytes handed in and not consumed yet (a partial line, or lines not read yet). */
size_t sl_reader_pending(const sl_reader *r);

/* Makes a chunked reader read another input from its start, as a new one from
 * sl_reader_new_chunked would (no bytes, not ended, counters zero, no sticky error, a CSV header
 * looked for again), keeping its buffers, schema, callback, dictionary and wait: a pool that
 * parses many pieces of one file (src_par.c) allocates nothing per piece. `first` 0 says the
 * input is a later piece of a text whose start another reader reads: the first record's time is
 * then not looked at (the warning about times that look like seconds is the first piece's).
 * Number the piece with sl_reader_resume. */
void sl_reader_restart(sl_reader *r, int first);

/* Grows a chunked reader's buffer to at least `bytes` (never past max_line + 2), so that a
 * caller handing in large pieces needs fewer rounds. Returns 0, or SL_ENOMEM with the buffer as
 * it was. */
int sl_reader_reserve(sl_reader *r, size_t bytes);

/* Reads lines by schema s (host/model/schema.h; checked with sl_schema_check) instead of the
 * default one. Call before the first read. A line may then give several records (a schema's
 * type predicates); stats count records, not lines, in `records`. */
void sl_reader_set_schema(sl_reader *r, const sl_schema *s);

/* Sets the malformed-line callback (default: none; lines are still counted). */
void sl_reader_on_bad(sl_reader *r, sl_bad_fn fn, void *ud);

/* How long one read of a pipe, socket or terminal waits for data (ms). */
#define SL_READER_WAIT_MS 50

/* How long one read of a pipe, socket or terminal waits when nothing has arrived (ms; default
 * SL_READER_WAIT_MS, 0 = not at all). */
void sl_reader_set_wait(sl_reader *r, int ms);

/* Reads up to `max` (> 0) records into out. Returns the number read (0 at the end of input, or
 * when a pipe, socket or terminal had nothing for SL_READER_WAIT_MS: sl_reader_at_end tells),
 * or a negative sl_err: SL_EIO (also for compressed input that is corrupt or truncated),
 * SL_EPARSE when the callback asked to stop (the records of that call are dropped; a later call
 * resumes at the next line), SL_ENOMEM. I/O errors, corrupt compressed input and a CSV header
 * missing a required column (SL_EPARSE whatever the callback returns) are sticky: logged once
 * (SL_ERROR, naming the compressed byte offset of corrupt data) and returned by every later
 * call (an I/O or decompression error found after some records of a call were read returns
 * those records first, and the error from the next call). Two ids sharing one 64-bit key are
 * reported as a malformed line whose reason names both ids. */
long sl_reader_read(sl_reader *r, sl_rec *out, size_t max);

/* schema.attributes (schema.h): the attributes of the records the last sl_reader_read returned,
 * s->nattrs 64-bit words per record (a long's or a double's bits), in the same order; valid,
 * and the caller's to rearrange, until the next read. NULL when the schema declares none. */
uint64_t *sl_reader_attrs(sl_reader *r);

/* 1 once every byte of the input was read and parsed. */
int sl_reader_at_end(const sl_reader *r);

/* The descriptor a pipe, socket or terminal input is read from (poll it for POLLIN), or -1 for a
 * regular file, a stream without one, or compressed input (decoded text may be waiting in the
 * reader while the descriptor has nothing new: read on every turn). */
int sl_reader_fd(const sl_reader *r);

/* The sticky error's message (for corrupt compressed input: what was wrong and at which byte of
 * the compressed file), or "" while there is none. Valid until the next call on r. */
const char *sl_reader_error(const sl_reader *r);

void sl_reader_stats(const sl_reader *r, struct sl_reader_stats *st);

/* Resumes the numbering of an input that the caller positioned at byte st->bytes (a checkpoint's
 * offset, sl_reader_stats then): the counters become st's, so that line numbers and byte offsets
 * of malformed lines, and the stats, go on as if the input had been read from its start. The
 * reader seeks the FILE back to its start (fseeko) to look at the text before the offset: for
 * CSV, the first non-blank record there gives the columns, as at the start; a compressed input,
 * which cannot be sought in, is decompressed from its start and its text up to st->bytes
 * skipped (a cost that grows with the offset). Call before the first read. Returns 0, or SL_EIO
 * (sticky when it comes from the text: corrupt, or shorter than st->bytes; sl_reader_error)
 * when the text before the offset cannot be read back, or for CSV when the FILE cannot seek. */
int sl_reader_resume(sl_reader *r, const struct sl_reader_stats *st);

/* Frees the reader (not its FILE or dictionary) and sets *rp to NULL. */
void sl_reader_destroy(sl_reader **rp);

#endif
