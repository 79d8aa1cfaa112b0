/* A growable byte buffer kept across uses: checkpoints read the state tables into one and hand
 * it to their writer, every time, and fresh memory is slow to touch the first time (page faults
 * cost about 35 us a page on the 2-core VM of bench/README.md), so the buffer keeps its capacity
 * between checkpoints instead of being malloc'd and freed each time.
 *
 * Not thread-safe: one owner at a time (a checkpoint hands it to its writer thread and takes it
 * back once written). */
#ifndef SL_BYTEBUF_H
#define SL_BYTEBUF_H

#include <stddef.h>

typedef struct sl_bytebuf {
    unsigned char *p;
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
} sl_bytebuf;

/* Makes room for `more` bytes after len (growing by at least half). Returns a pointer to
 * p + len, or NULL (out of memory: the buffer is unchanged). */
unsigned char *sl_bytebuf_reserve(sl_bytebuf *b, size_t more);

/* Appends n bytes. Returns 0 or SL_ENOMEM (the buffer unchanged). */
int sl_bytebuf_append(sl_bytebuf *b, const void *data, size_t n);

/* Frees the bytes and zeroes the buffer. */
void sl_bytebuf_free(sl_bytebuf *b);

#endif
