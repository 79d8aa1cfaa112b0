/* A followed file (source type file with follow: true), as `tail -F`: read from its start, then
 * whatever is appended; at the end of the data, at most every poll_ms (default 100), the path is
 * checked: a different file there (rotation: the old one renamed or removed and a new one
 * created) is opened and read from its start, and a file shorter than what was read (truncation,
 * as copytruncate does) is read again from its start. Before either, a last line without its
 * newline is parsed as a line. While the path is missing (removed, not yet created), the open
 * file is kept and the path checked again. Runs until sl_source_close_input, after which reads
 * take the file up to its current end and then end.
 *
 * Limits (as tail's): bytes appended to a renamed file after the switch are not read, and a
 * truncation followed by writes past the old size before the next check goes unnoticed.
 * Malformed lines are reported with "file PATH: " before the reason and line numbers counted
 * from the start of the current file (rotations count in stats.rotations). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "srcbe.h"

#define FOLLOW_POLL_MS_DEFAULT 100

struct fsrc {
    sl_src_attrs attrs; /* schema.attributes of the read being gathered */
    char path[4096];
    int fd;
    dev_t dev;
    ino_t ino;
    uint64_t off; /* bytes read from the current file */
    int last_nl;  /* the last byte handed to the reader was a newline (or none was) */
    int reopen;   /* switch files once the reader has parsed the old one's last line */
    int rewind;   /* ... or read the same file again from its start */
    sl_reader *rd;
    sl_src_origin org;
    int poll_ms, wait_ms;
    int64_t checked; /* when the path was last checked */
    int closing, ended;
    uint64_t rotations, added;
};

static void follow_close(void **be);

static void mark_origin(struct fsrc *f)
{
    struct sl_reader_stats st;
    sl_reader_stats(f->rd, &st);
    f->org.line0 = st.lines;
    f->org.byte0 = st.bytes;
}

/* Opens the path (when it exists) as the current file. */
static void open_path(struct fsrc *f)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) || S_ISDIR(st.st_mode)) {
        close(fd);
        return;
    }
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->off = 0;
    mark_origin(f);
}

static int follow_open(const sl_topology *t, FILE *in, sl_addict *dict, sl_bad_fn on_bad,
                       void *bad_ud, void **be, char *msg, size_t msglen)
{
    (void)in; /* the path is opened again at each rotation; the caller's FILE is left alone */
    uint64_t poll_ms = FOLLOW_POLL_MS_DEFAULT;
    int rc = sl_opts_u64(&t->source.opts, "source", "poll_ms", 1, 60000, &poll_ms, msg, msglen);
    if (rc)
        return rc;
    struct fsrc *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    f->fd = -1;
    f->last_nl = 1;
    f->poll_ms = (int)poll_ms;
    f->wait_ms = SL_READER_WAIT_MS;
    snprintf(f->path, sizeof f->path, "%s", t->source.path);
    snprintf(f->org.what, sizeof f->org.what, "file %.140s", t->source.path);
    f->org.fn = on_bad;
    f->org.ud = bad_ud;
    f->rd = sl_reader_new_chunked(t->source.format, dict, 0);
    if (!f->rd) {
        free(f);
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    sl_reader_set_schema(f->rd, &t->schema);
    sl_reader_on_bad(f->rd, sl_src_origin_bad, &f->org);
    f->attrs.na = t->schema.nattrs;
    open_path(f);
    if (f->fd < 0)
        SL_WARN("source", "follow: %s: %s; waiting for it", f->path, strerror(errno));
    f->checked = sl_src_now_ms();
    *be = f;
    return 0;
}

/* Looks at the path after the current file's end was reached: sets reopen or rewind. */
static void check_path(struct fsrc *f)
{
    struct stat st;
    if (stat(f->path, &st) || S_ISDIR(st.st_mode))
        return; /* missing for now: keep what is open */
    if (f->fd < 0 || st.st_dev != f->dev || st.st_ino != f->ino) {
        f->reopen = 1;
        return;
    }
    if ((uint64_t)st.st_size < f->off)
        f->rewind = 1;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long follow_read(void *be, sl_rec *buf, size_t cap, int *end)
{
    struct fsrc *f = be;
    size_t n = 0;
    int64_t deadline = -1;
    for (;;) {
        long k = sl_reader_read(f->rd, buf + n, cap - n);
        if (k < 0)
            return k;
        if (sl_src_attrs_take(&f->attrs, f->rd, n, (size_t)k, cap))
            return SL_ENOMEM;
        n += (size_t)k;
        if (n == cap)
            return (long)n;
        if (f->ended) {
            *end = n == 0;
            return (long)n;
        }
        if (f->reopen || f->rewind) {
            if (!f->last_nl) {
                /* The old file's last line ends with it. */
                if (sl_reader_feed(f->rd, "\n", 1) == 1) {
                    f->added++;
                    f->last_nl = 1;
                }
                continue;
            }
            f->rotations++;
            if (f->reopen) {
                SL_INFO("source", "follow: %s: a new file", f->path);
                if (f->fd >= 0)
                    close(f->fd);
                f->fd = -1;
                open_path(f);
            } else {
                SL_INFO("source", "follow: %s: truncated, reading from its start", f->path);
                lseek(f->fd, 0, SEEK_SET);
                f->off = 0;
                mark_origin(f);
            }
            f->reopen = f->rewind = 0;
            continue;
        }
        if (f->fd >= 0) {
            size_t room = 0;
            char *p = sl_reader_room(f->rd, &room);
            if (!p) {
                SL_ERROR("source", "follow: %s: the reader took no input", f->path);
                return SL_EIO;
            }
            ssize_t r = read(f->fd, p, room);
            if (r > 0) {
                sl_reader_commit(f->rd, (size_t)r);
                f->off += (uint64_t)r;
                f->last_nl = p[r - 1] == '\n';
                continue;
            }
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                SL_ERROR("source", "follow: %s: %s", f->path, strerror(errno));
                return SL_EIO;
            }
        }
        /* At the end of the current file (or none is open). */
        if (f->closing) {
            sl_reader_end(f->rd);
            f->ended = 1;
            continue;
        }
        int64_t now = sl_src_now_ms();
        if (now - f->checked >= f->poll_ms || f->fd < 0) {
            f->checked = now;
            check_path(f);
            if (f->reopen || f->rewind)
                continue;
        }
        if (n > 0)
            return (long)n;
        if (deadline < 0)
            deadline = now + f->wait_ms;
        if (now >= deadline)
            return 0;
        int64_t nap = deadline - now;
        if (nap > f->poll_ms)
            nap = f->poll_ms;
        if (nap > 10)
            nap = 10; /* appends show up within 10 ms; the path is still checked per poll_ms */
        nap_ms((int)nap);
    }
}

static int follow_fd(const void *be)
{
    (void)be;
    return -1;
}

static void follow_stats(const void *be, sl_source_stats *st)
{
    const struct fsrc *f = be;
    sl_reader_stats(f->rd, &st->input);
    st->input.bytes -= f->added;
    st->rotations = f->rotations;
}

static void follow_set_wait(void *be, int ms)
{
    ((struct fsrc *)be)->wait_ms = ms;
}

static int follow_close_input(void *be)
{
    ((struct fsrc *)be)->closing = 1;
    return 0;
}

static void follow_close(void **be)
{
    struct fsrc *f = *be;
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    sl_reader_destroy(&f->rd);
    sl_src_attrs_free(&f->attrs);
    free(f);
    *be = NULL;
}

static uint64_t *follow_attrs(void *be)
{
    return sl_src_attrs_get(&((struct fsrc *)be)->attrs);
}

const struct source_ops sl_src_follow_ops = {
    .open = follow_open,
    .read = follow_read,
    .fd = follow_fd,
    .stats = follow_stats,
    .close = follow_close,
    .set_wait = follow_set_wait,
    .close_input = follow_close_input,
    .attrs = follow_attrs,
};
