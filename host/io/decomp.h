/* Compressed input recognised by its content: gzip (RFC 1952, through zlib) and zstd (RFC 8878,
 * through libzstd), decompressed incrementally, so that a reader can hand in whatever compressed
 * bytes arrived (a block of a file, one read of a pipe) and take out whatever they decode to.
 *
 * A stream may hold several gzip members or zstd frames one after the other (as `cat a.gz b.gz`
 * makes): all of them are decoded, in order, into one output. Anything after a member or frame
 * that does not start another of the same kind is corrupt data, not ignored.
 *
 * A decompressor belongs to one thread; sl_decomp_sniff and sl_decomp_fd_kind are pure and may
 * be called from any thread. */
#ifndef SL_DECOMP_H
#define SL_DECOMP_H

#include <stddef.h>
#include <stdint.h>

enum sl_decomp_kind {
    SL_DECOMP_NONE = 0, /* not compressed: the bytes are the text */
    SL_DECOMP_GZIP = 1, /* starts with 1f 8b */
    SL_DECOMP_ZSTD = 2, /* starts with 28 b5 2f fd */
};

/* Bytes sl_decomp_sniff needs at most to decide. */
#define SL_DECOMP_MAGIC_MAX 4

/* The kind of a stream whose first n bytes are head: SL_DECOMP_GZIP, SL_DECOMP_ZSTD or
 * SL_DECOMP_NONE, or -1 when head is shorter than a magic number that it begins and more bytes
 * are needed to tell (at_end nonzero: no more bytes come, so such a head is SL_DECOMP_NONE). */
int sl_decomp_sniff(const void *head, size_t n, int at_end);

/* The kind of the file open at descriptor fd, from its first bytes (read with pread, so the
 * descriptor's offset does not move). SL_DECOMP_NONE when fd is negative or cannot be read. */
int sl_decomp_fd_kind(int fd);

/* "gzip", "zstd" or "plain". */
const char *sl_decomp_name(int kind);

typedef struct sl_decomp sl_decomp;

/* A decompressor for streams of `kind` (SL_DECOMP_GZIP or SL_DECOMP_ZSTD), or NULL when out of
 * memory or kind is neither. */
sl_decomp *sl_decomp_new(int kind);

/* Decodes compressed bytes in[0..*in_len) into out[0..*out_len): on return *in_len holds the
 * bytes taken from in and *out_len the bytes written to out. Call it again with no input to take
 * output the decompressor still holds (when out was filled). Both counts 0: it needs more input
 * (or, between members, has nothing to do). Returns 0, SL_ENOMEM, or SL_EIO for corrupt data,
 * with a message in msg naming the offset in the compressed stream where it was found; every
 * later call returns the same error. */
int sl_decomp_run(sl_decomp *d, const void *in, size_t *in_len, void *out, size_t *out_len,
                  char *msg, size_t msglen);

/* Says that the compressed stream ended (every byte handed to sl_decomp_run and all its output
 * taken). Returns 0 when it ended after a complete member or frame, else SL_EIO (the stream is
 * truncated) with msg, or the error sl_decomp_run returned. */
int sl_decomp_end(sl_decomp *d, char *msg, size_t msglen);

/* Compressed bytes taken so far. */
uint64_t sl_decomp_in_bytes(const sl_decomp *d);

/* Frees d and sets *dp to NULL (NULL and *dp NULL are fine). */
void sl_decomp_destroy(sl_decomp **dp);

#endif
