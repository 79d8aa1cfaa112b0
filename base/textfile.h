/* Reading a whole file into memory, for every module that does: a config file (host/config's
 * yamldoc.c), a join table (host/io's jointab.c), a PE's OpenCL C source or program binary
 * (host/device's peprog.c), a source to quote findings from (deepcheck.c). Any thread. */
#ifndef SL_TEXTFILE_H
#define SL_TEXTFILE_H

#include <stddef.h>

/* Reads the file at `path`, at most `max` bytes (max < SIZE_MAX), into a malloc'd buffer with a
 * NUL after its bytes (caller frees). A regular file larger than `max` is refused before
 * anything is read; a pipe, or a file that grows while read, as soon as it passes `max`.
 * Returns 0 with *text and *len (bytes, the NUL not counted) set, or, with *text NULL and a
 * message in `msg` (which may be NULL when msglen is 0):
 *   SL_EIO     "PATH: cannot open: REASON" or "PATH: cannot read: REASON" (strerror);
 *   SL_ERANGE  "PATH: larger than MAX bytes", with *len the file's size when it was known before
 *              reading (a regular file), 0 when not (a pipe, a file that grew);
 *   SL_ENOMEM  "PATH: out of memory". */
int sl_read_file(const char *path, size_t max, char **text, size_t *len, char *msg, size_t msglen);

#endif
