/* Reading a whole file into memory: a PE's OpenCL C source or program binary (peprog.c), a
 * source to quote findings from (deepcheck.c). Any thread. */
#ifndef SL_TEXTFILE_H
#define SL_TEXTFILE_H

#include <stddef.h>

#define SL_TEXTFILE_MAX (64u << 20) /* largest file read, bytes */

/* Reads the file at `path` into a malloc'd buffer with a NUL after its bytes (caller frees).
 * Returns 0 with *text and *len (bytes, the NUL not counted) set, or SL_EIO (it cannot be
 * opened or read) or SL_ENOMEM (over SL_TEXTFILE_MAX, or memory ran out), with `msg` naming the
 * file and the cause. */
int sl_read_file(const char *path, char **text, size_t *len, char *msg, size_t msglen);

#endif
