/* File parts read through fopencookie; see slice.h. */
#include "slice.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvin.h"
#include "decomp.h"
#include "err.h"

#define SCAN 65536
#define HEADER_MAX ((size_t)1 << 20) /* a CSV header line longer than this is not repeated */
/* The part's FILE buffer: bytes per pread. A cookie stream gets BUFSIZ (8 KiB) otherwise, and
 * glibc reads it through that buffer whatever fread asks for: a node reading a third of a 1.7 GB
 * file made 70,000 preads of 8 KiB (strace, 2026-12-07). */
#define IOBUF ((size_t)1 << 20)

struct part {
    int fd;
    uint64_t lo, pos, end;
    char *prefix;
    size_t nprefix, prefix_off;
    char *iobuf; /* the FILE's buffer (IOBUF bytes), freed with the part */
    FILE *f;     /* the FILE made for it, once made: its entry in the list of open parts */
    struct part *next;
};

/* The open parts, for sl_slice_range: a reader that knows a FILE is a part reads the part's
 * bytes straight from its descriptor (a cookie FILE copies everything through its buffer). */
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static struct part *open_parts;

static void forget_part(struct part *p)
{
    pthread_mutex_lock(&open_mu);
    for (struct part **q = &open_parts; *q; q = &(*q)->next)
        if (*q == p) {
            *q = p->next;
            break;
        }
    pthread_mutex_unlock(&open_mu);
}

static ssize_t part_read(void *cookie, char *buf, size_t size)
{
    struct part *p = cookie;
    size_t got = 0;
    if (p->prefix_off < p->nprefix) {
        size_t k = p->nprefix - p->prefix_off < size ? p->nprefix - p->prefix_off : size;
        memcpy(buf, p->prefix + p->prefix_off, k);
        p->prefix_off += k;
        got = k;
    }
    while (got < size && p->pos < p->end) {
        size_t want = size - got;
        if (want > p->end - p->pos)
            want = (size_t)(p->end - p->pos);
        ssize_t r = pread(p->fd, buf + got, want, (off_t)p->pos);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return got ? (ssize_t)got : -1;
        }
        if (r == 0) { /* the file shrank: the part ends here */
            p->end = p->pos;
            break;
        }
        p->pos += (uint64_t)r;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Seeks within the part as its reader sees it (the repeated header, then the part's bytes):
 * SEEK_SET only, for resuming at a checkpoint's offset. */
static int part_seek(void *cookie, off64_t *offset, int whence)
{
    struct part *p = cookie;
    if (whence != SEEK_SET || *offset < 0) {
        errno = EINVAL;
        return -1;
    }
    uint64_t off = (uint64_t)*offset;
    if (off <= p->nprefix) {
        p->prefix_off = (size_t)off;
        p->pos = p->lo;
    } else {
        p->prefix_off = p->nprefix;
        p->pos = p->lo + (off - p->nprefix);
        if (p->pos > p->end)
            p->pos = p->end;
    }
    return 0;
}

static int part_close(void *cookie)
{
    struct part *p = cookie;
    if (p->f)
        forget_part(p);
    int rc = close(p->fd);
    free(p->prefix);
    free(p->iobuf);
    free(p);
    return rc;
}

/* The first line start at or after byte b: 0, or one past the first '\n' at or after b - 1.
 * Returns size when there is none. -1 on a read error. */
static int64_t line_start(int fd, uint64_t b, uint64_t size)
{
    if (b == 0)
        return 0;
    char buf[SCAN];
    for (uint64_t at = b - 1; at < size;) {
        size_t want = size - at < SCAN ? (size_t)(size - at) : SCAN;
        ssize_t r = pread(fd, buf, want, (off_t)at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -1 : (int64_t)size;
        const char *nl = memchr(buf, '\n', (size_t)r);
        if (nl)
            return (int64_t)(at + (uint64_t)(nl - buf) + 1);
        at += (uint64_t)r;
    }
    return (int64_t)size;
}

/* The file's first line with its '\n' into p->prefix when it is a CSV header. */
static int read_header(struct part *p, uint64_t size, const sl_schema *schema)
{
    size_t cap = size < HEADER_MAX ? (size_t)size : HEADER_MAX;
    char *buf = malloc(cap + 1);
    if (!buf)
        return SL_ENOMEM;
    size_t got = 0;
    while (got < cap) {
        ssize_t r = pread(p->fd, buf + got, cap - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    char *nl = memchr(buf, '\n', got);
    size_t len = nl ? (size_t)(nl - buf) : 0;
    sl_evplan plan;
    sl_evplan_init(&plan, schema);
    sl_csv_cols cols;
    sl_csv_cols_init(&cols, &plan);
    sl_perr perr;
    if (nl && sl_csv_header(buf, len && buf[len - 1] == '\r' ? len - 1 : len, &cols, &perr) == 1) {
        p->prefix = buf;
        p->nprefix = len + 1;
        return 0;
    }
    free(buf);
    return 0;
}

/* SL_EUNSUPPORTED with msg when the file open at fd (path) is compressed, else 0. */
static int refuse_compressed(int fd, const char *path, char *msg, size_t msglen)
{
    int kind = sl_decomp_fd_kind(fd);
    if (kind == SL_DECOMP_NONE)
        return 0;
    snprintf(msg, msglen,
             "%s is %s-compressed: it cannot be cut into parts for the nodes to read; read it "
             "on the client (source.ingest: client)",
             path, sl_decomp_name(kind));
    return SL_EUNSUPPORTED;
}

int sl_slice_check(const char *path, char *msg, size_t msglen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int rc = refuse_compressed(fd, path, msg, msglen);
    close(fd);
    return rc;
}

int sl_slice_open(const char *path, uint32_t part, uint32_t nparts, const sl_schema *csv,
                  FILE **out, sl_slice_info *info, char *msg, size_t msglen)
{
    *out = NULL;
    memset(info, 0, sizeof *info);
    if (nparts == 0 || part >= nparts) {
        snprintf(msg, msglen, "part %u of %u does not exist", part, nparts);
        return SL_EINVAL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(msg, msglen, "cannot open %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return SL_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(msg, msglen, "%s is not a regular file: it cannot be split between nodes", path);
        close(fd);
        return SL_EIO;
    }
    int rc = refuse_compressed(fd, path, msg, msglen);
    if (rc) {
        close(fd);
        return rc;
    }
    uint64_t size = (uint64_t)st.st_size;
    /* size * part / nparts without overflow for any size below 2^64 / 2^16 parts */
    uint64_t b0 = (uint64_t)((unsigned __int128)size * part / nparts);
    uint64_t b1 = (uint64_t)((unsigned __int128)size * (part + 1) / nparts);
    int64_t lo = line_start(fd, b0, size), hi = line_start(fd, b1, size);
    struct part *p = calloc(1, sizeof *p);
    if (lo < 0 || hi < 0 || !p) {
        int e = errno;
        free(p);
        close(fd);
        snprintf(msg, msglen, "reading %s failed: %s", path,
                 lo < 0 || hi < 0 ? strerror(e) : "out of memory");
        return lo < 0 || hi < 0 ? SL_EIO : SL_ENOMEM;
    }
    if (hi < lo)
        hi = lo;
    p->fd = fd;
    p->lo = p->pos = (uint64_t)lo;
    p->end = (uint64_t)hi;
    if (csv && lo > 0 && hi > lo && read_header(p, size, csv)) {
        part_close(p);
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    cookie_io_functions_t io = {.read = part_read, .seek = part_seek, .close = part_close};
    p->iobuf = malloc(IOBUF);
    FILE *f = p->iobuf ? fopencookie(p, "r", io) : NULL;
    if (!f) {
        part_close(p);
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    setvbuf(f, p->iobuf, _IOFBF, IOBUF);
    p->f = f;
    pthread_mutex_lock(&open_mu);
    p->next = open_parts;
    open_parts = p;
    pthread_mutex_unlock(&open_mu);
    *out = f;
    *info =
        (sl_slice_info){.lo = (uint64_t)lo, .hi = (uint64_t)hi, .size = size, .prefix = p->nprefix};
    return 0;
}

int sl_slice_range(FILE *f, int *fd, uint64_t *lo, uint64_t *len, uint64_t *at)
{
    int found = 0;
    pthread_mutex_lock(&open_mu);
    for (const struct part *p = open_parts; p; p = p->next)
        if (p->f == f && p->nprefix == 0) {
            *fd = p->fd;
            *lo = p->lo;
            *len = p->end - p->lo;
            *at = p->pos - p->lo;
            found = 1;
            break;
        }
    pthread_mutex_unlock(&open_mu);
    return found;
}

int sl_slice_lines_before(const char *path, uint64_t lo, uint64_t *lines)
{
    *lines = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return SL_EIO;
    char *buf = malloc(SCAN);
    if (!buf) {
        close(fd);
        return SL_EIO;
    }
    uint64_t at = 0, n = 0;
    int rc = 0;
    while (at < lo) {
        size_t want = lo - at < SCAN ? (size_t)(lo - at) : SCAN;
        ssize_t r = pread(fd, buf, want, (off_t)at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = SL_EIO;
            break;
        }
        for (const char *p = buf, *e = buf + r; (p = memchr(p, '\n', (size_t)(e - p))); p++)
            n++;
        at += (uint64_t)r;
    }
    free(buf);
    close(fd);
    *lines = n;
    return rc;
}
