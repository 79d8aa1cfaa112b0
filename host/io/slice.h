/* A part of a file, for ingest on every node of a cluster: the file's lines dealt into nparts
 * contiguous parts of about equal size, each line in exactly one part, read through an ordinary
 * FILE so that every reader takes it. The readers that know parts (reader.c, src_par.c) ask
 * sl_slice_range which bytes of which file a FILE is and pread them themselves: a cookie FILE
 * would copy every byte through a buffer of its own first.
 *
 * Part p holds the lines that start in bytes [size * p / nparts, size * (p + 1) / nparts) of
 * the file, so cutting never splits a line and the parts cover every byte once. A CSV file
 * whose first line is a header (by its schema: sl_csv_header) gets that line in front of every
 * later part as well, so that each part's reader knows the columns.
 *
 * One thread per FILE. */
#ifndef SL_SLICE_H
#define SL_SLICE_H

#include <stdint.h>
#include <stdio.h>

#include "schema.h"

typedef struct sl_slice_info {
    uint64_t lo, hi; /* the part's bytes in the file: [lo, hi) */
    uint64_t size;   /* the file's size when it was opened */
    size_t prefix;   /* bytes read before lo: the CSV header repeated (0: none) */
} sl_slice_info;

/* Opens part `part` (< nparts) of the regular file at `path`; csv: the input's schema when it is
 * CSV (a header line is repeated), NULL when it is not. Returns 0 with *out (closed with fclose)
 * and *info, or SL_EIO (cannot open or read it, or it is not a regular file), SL_EUNSUPPORTED
 * (it is compressed: sl_slice_check), SL_EINVAL or SL_ENOMEM, with msg. Bytes the file gains
 * after the open are not read. */
int sl_slice_open(const char *path, uint32_t part, uint32_t nparts, const sl_schema *csv,
                  FILE **out, sl_slice_info *info, char *msg, size_t msglen);

/* Whether the file at path can be cut into parts: SL_EUNSUPPORTED with msg (naming the file and
 * `ingest: client`) when it is gzip or zstd compressed (decomp.h), whose byte ranges are not
 * text; else 0, also when it cannot be opened (sl_slice_open then says why). */
int sl_slice_check(const char *path, char *msg, size_t msglen);

/* Whether f is a part opened by sl_slice_open whose bytes are one range of its file (no repeated
 * CSV header): then *fd is the file's descriptor (the part's own: valid until f is closed),
 * bytes [*lo, *lo + *len) of it are the part, and *at is where the part's next read starts,
 * counted from *lo; which holds only while nothing was read from f through stdio since it was
 * opened or last fseeko'd (the FILE's buffer would hold some). For a reader that preads the
 * range itself, from several threads, instead of reading f (host/io/src_par.c). */
int sl_slice_range(FILE *f, int *fd, uint64_t *lo, uint64_t *len, uint64_t *at);

/* Counts the lines that end before byte `lo` of the file at path (the '\n' bytes in [0, lo)):
 * the number of the line that starts at lo, less one. Returns 0 with *lines, or SL_EIO. */
int sl_slice_lines_before(const char *path, uint64_t lo, uint64_t *lines);

#endif
