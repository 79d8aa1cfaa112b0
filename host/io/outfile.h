/* An output file that appears only when the run that writes it succeeds.
 *
 * A regular file (or a path that does not exist yet) is written through a temporary file in the
 * same folder, named ".NAME.XXXXXX"; sl_outfile_commit flushes it, fsyncs it and renames it over
 * the output, so a failed or interrupted run leaves an existing output as it was and no
 * temporary file behind. The temporary file gets the mode the output would get from fopen: an
 * existing output's mode, else 0666 less the umask. Anything else (a device such as /dev/null
 * or /dev/full, a FIFO, paths under /dev and /proc such as /dev/stdout) is written directly, as
 * fopen(path, "w") would.
 *
 * Writes go through a stdio stream whose first failed write(2) is remembered
 * (sl_outfile_error), so a failure can be reported with its errno text rather than "I/O
 * error". One thread at a time; sl_outfile_open reads the umask (umask(2) is process-wide), so
 * call it before starting threads. */
#ifndef SL_OUTFILE_H
#define SL_OUTFILE_H

#include <stdio.h>

typedef struct sl_outfile sl_outfile;

/* Fails when writing `out_path` would overwrite the input: the file open as `in_fd` (-1: none;
 * compared by device and inode when out_path exists) or `in_path` (NULL: none; compared after
 * resolving both folders when out_path does not exist). Opens nothing for writing. Returns 0,
 * or SL_EINVAL with a message naming the file. */
int sl_outfile_check_not_input(const char *out_path, int in_fd, const char *in_path, char *msg,
                               size_t msglen);

/* Opens `path` for writing as described above. A folder of path that does not exist is made
 * first, as mkdir -p would (mode 0777 less the umask; it stays should the run fail). Returns 0
 * with *of set, or SL_EIO (the message names the file, or the folder that could not be made,
 * and the errno text) or SL_ENOMEM. */
int sl_outfile_open(const char *path, sl_outfile **of, char *msg, size_t msglen);

/* Makes the folders of the file path `path` that do not exist yet, as mkdir -p would (each
 * with mode 0777 less the umask); nothing when path has no folder or ends in '/'. Returns 0, or
 * SL_EIO ("cannot create folder DIR for output PATH: REASON", DIR the first one that could not
 * be made, or is no folder) or SL_ENOMEM. Any thread. */
int sl_outfile_make_folder(const char *path, char *msg, size_t msglen);

/* How sl_outfile_open_mode writes. */
enum sl_outfile_mode {
    SL_OUTFILE_RENAME = 0,   /* a temporary file renamed at commit (sl_outfile_open) */
    SL_OUTFILE_IN_PLACE = 1, /* the file itself, truncated and written as rows come (no
                                temporary file, no rename): for result streams (snapshots) that
                                a program follows while the job runs, and runs with checkpoints,
                                whose output must outlive a crash */
    SL_OUTFILE_KEEP = 2      /* in place, kept as it is (created when missing), written from its
                                start: a run resumed from a checkpoint, which takes the file back
                                to its committed length (sl_sink_rewind) before writing */
};

/* sl_outfile_open, writing as `how` (enum sl_outfile_mode) says. */
int sl_outfile_open_mode(const char *path, int how, sl_outfile **of, char *msg, size_t msglen);

/* The descriptor the stream writes to (its stream has none of its own: fileno gives -1), for
 * fsync and truncation by a checkpoint's commit (sl_sink_set_output_fd). Writes go at the
 * descriptor's offset. Valid until commit or abort. */
int sl_outfile_fd(const sl_outfile *of);

/* The stream to write to; valid until commit or abort. */
FILE *sl_outfile_stream(const sl_outfile *of);

/* The errno of the first write that failed, 0 when none has. */
int sl_outfile_error(const sl_outfile *of);

/* Flushes, fsyncs and renames the temporary file over the output (or flushes and closes a
 * direct one), frees the outfile and sets *of to NULL. Returns 0, or SL_EIO with "writing PATH
 * failed: REASON" (the temporary file is then removed and an existing output left alone). */
int sl_outfile_commit(sl_outfile **of, char *msg, size_t msglen);

/* Drops what was written: closes and removes the temporary file (a direct output keeps what
 * already reached it), frees the outfile and sets *of to NULL. Accepts NULL and *of == NULL. */
void sl_outfile_abort(sl_outfile **of);

#endif
