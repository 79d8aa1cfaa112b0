/* The write-ahead ingest log; see ingestlog.h. */
#include "ingestlog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "ckptfile.h"
#include "err.h"
#include "lebytes.h"
#include "schema.h"

#define MAGIC "SLILOG02"
#define MAGIC_V1 "SLILOG01"     /* the same without attribute blocks */
#define BLOCK_MAGIC 0x42494c53u /* "SLIB" */
#define ATTR_MAGIC 0x41494c53u  /* "SLIA" */
#define BYTES_MAGIC 0x59494c53u /* "SLIY" */
#define BYTE_ORDER_MARK 0x01020304u
#define SEG_HDR 16
#define BLK_HDR 16
#define PREFIX "log-"
#define DIR_MAX 4096
#define IOV_BLOCKS 16

_Static_assert(sizeof(sl_rec) == 32, "the log's records are 32 bytes");
/* the largest block: an attribute block of full records */
#define BLK_MAX (8 + (size_t)SL_INGESTLOG_BLOCK * (sizeof(sl_rec) + 8 * SL_SCHEMA_ATTRS))
_Static_assert(SL_INGESTLOG_BYTES <= BLK_MAX, "one block buffer");

struct sl_ingestlog {
    char dir[DIR_MAX];
    enum sl_ingestlog_mode mode;
    uint64_t seg;  /* the segment appends go to */
    int fd;        /* it, open (-1: not yet) */
    uint64_t size; /* its bytes */
    int dirty;     /* appended since the last sync */
    int made;      /* its file was made since the last sync: the directory is synced too */
    uint64_t cut;
    uint64_t *blk;      /* a block read back, BLK_MAX bytes (8-aligned for records and words) */
    unsigned char *ids; /* ids being put into a block of bytes (SL_INGESTLOG_BYTES), made at need */
};

static void seg_path(const sl_ingestlog *l, uint64_t seg, char *buf, size_t len)
{
    snprintf(buf, len, "%s/" PREFIX "%020" PRIu64, l->dir, seg);
}

/* 1 with *seg when name is a segment's ("log-" and 20 digits). */
static int seg_name(const char *name, uint64_t *seg)
{
    return sl_ckpt_numbered_name(name, PREFIX, seg);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The segments of the log, ascending, into *out (malloc'd; caller frees). A directory that does
 * not exist has none. Returns 0 or SL_EIO / SL_ENOMEM with msg. */
static int list_segments(const char *dir, uint64_t **out, size_t *n, char *msg, size_t msglen)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        snprintf(msg, msglen, "ingest log %.600s: %s", dir, strerror(errno));
        return SL_EIO;
    }
    size_t cap = 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        uint64_t v;
        if (!seg_name(e->d_name, &v))
            continue;
        if (*n == cap) {
            uint64_t *ni = realloc(*out, (cap = cap ? 2 * cap : 16) * sizeof *ni);
            if (!ni) {
                snprintf(msg, msglen, "out of memory");
                rc = SL_ENOMEM;
                break;
            }
            *out = ni;
        }
        (*out)[(*n)++] = v;
    }
    closedir(d);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
        return rc;
    }
    if (*n > 1)
        qsort(*out, *n, sizeof **out, cmp_u64);
    return 0;
}

/* Reads exactly len bytes at the file's position. Returns len, fewer at its end, or -1. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t k = read(fd, (char *)buf + got, len - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* Walks the blocks of the segment open at fd (read from its start): checks its header, then
 * each block's length and checksum, handing the records of each whole block to fn (NULL: none).
 * *good gets the end of the last whole block (0 when even the header is not whole), *torn 1 when
 * bytes follow it that are not a whole block. Returns 0, SL_EIO (read failed), SL_EPARSE (not a
 * segment of this format: another magic, record size or byte order) or what fn returned. */
static int walk(sl_ingestlog *l, int fd, const char *path, sl_ingestlog_fn fn,
                sl_ingestlog_bytes_fn bytes_fn, void *ud, uint64_t *count, uint64_t *good,
                int *torn, char *msg, size_t msglen)
{
    unsigned char h[SEG_HDR];
    *good = 0;
    *torn = 0;
    ssize_t k = read_full(fd, h, SEG_HDR);
    if (k < 0) {
        snprintf(msg, msglen, "reading the ingest log %.600s: %s", path, strerror(errno));
        return SL_EIO;
    }
    if (k < SEG_HDR) {
        *torn = k > 0;
        return 0;
    }
    if ((memcmp(h, MAGIC, 8) != 0 && memcmp(h, MAGIC_V1, 8) != 0) ||
        sl_le_get(h + 8, 4) != sizeof(sl_rec) || sl_le_get(h + 12, 4) != BYTE_ORDER_MARK) {
        snprintf(msg, msglen,
                 "%.600s is not an ingest log segment of this format and machine (magic, record "
                 "size or byte order)",
                 path);
        return SL_EPARSE;
    }
    *good = SEG_HDR;
    for (;;) {
        unsigned char b[BLK_HDR];
        if ((k = read_full(fd, b, BLK_HDR)) < 0) {
            snprintf(msg, msglen, "reading the ingest log %.600s: %s", path, strerror(errno));
            return SL_EIO;
        }
        if (k == 0)
            return 0;
        uint64_t n = k == BLK_HDR ? sl_le_get(b + 4, 4) : 0, magic = sl_le_get(b, 4);
        int recs = magic == BLOCK_MAGIC || magic == ATTR_MAGIC, attr = magic == ATTR_MAGIC;
        if (k < BLK_HDR || (!recs && magic != BYTES_MAGIC) || n == 0 ||
            n > (recs ? SL_INGESTLOG_BLOCK : SL_INGESTLOG_BYTES)) {
            *torn = 1;
            return 0;
        }
        size_t bytes = recs ? (size_t)n * sizeof(sl_rec) : (size_t)n;
        uint32_t nattr = 0;
        if (attr) {
            /* its first word says how many words each record has */
            if ((k = read_full(fd, l->blk, 8)) < 0) {
                snprintf(msg, msglen, "reading the ingest log %.600s: %s", path, strerror(errno));
                return SL_EIO;
            }
            uint64_t na = k == 8 ? sl_le_get((const unsigned char *)l->blk, 8) : 0;
            if (na == 0 || na > SL_SCHEMA_ATTRS) {
                *torn = 1;
                return 0;
            }
            nattr = (uint32_t)na;
            bytes = 8 + (size_t)n * (sizeof(sl_rec) + 8u * nattr);
        }
        size_t at = attr ? 8 : 0;
        if ((k = read_full(fd, (unsigned char *)l->blk + at, bytes - at)) < 0) {
            snprintf(msg, msglen, "reading the ingest log %.600s: %s", path, strerror(errno));
            return SL_EIO;
        }
        if ((size_t)k < bytes - at ||
            XXH3_64bits_withSeed(l->blk, bytes, n) != sl_le_get(b + 8, 8)) {
            *torn = 1;
            return 0;
        }
        int rc = 0;
        const sl_rec *r = (const sl_rec *)((const unsigned char *)l->blk + at);
        if (recs && fn)
            rc = fn(ud, r, attr ? (const uint64_t *)(r + n) : NULL, nattr, (size_t)n, msg, msglen);
        else if (!recs && bytes_fn)
            rc = bytes_fn(ud, (const unsigned char *)l->blk, bytes, msg, msglen);
        if (rc)
            return rc;
        if (count && recs)
            *count += n;
        *good += BLK_HDR + bytes;
    }
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* RESUME: cuts the last segment after its last whole block. */
static int cut_tail(sl_ingestlog *l, char *msg, size_t msglen)
{
    char path[DIR_MAX + 64];
    seg_path(l, l->seg, path, sizeof path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(msg, msglen, "ingest log %.600s: %s", path, strerror(errno));
        return SL_EIO;
    }
    struct stat st;
    uint64_t good;
    int torn, rc = 0;
    if (fstat(fd, &st) != 0) {
        snprintf(msg, msglen, "ingest log %.600s: %s", path, strerror(errno));
        rc = SL_EIO;
    } else {
        rc = walk(l, fd, path, NULL, NULL, NULL, NULL, &good, &torn, msg, msglen);
    }
    if (rc == 0 && (uint64_t)st.st_size > good) {
        if (ftruncate(fd, (off_t)good) != 0 || fsync(fd) != 0) {
            snprintf(msg, msglen, "cutting the torn end of the ingest log %.600s: %s", path,
                     strerror(errno));
            rc = SL_EIO;
        } else {
            l->cut = (uint64_t)st.st_size - good;
        }
    }
    close(fd);
    return rc;
}

int sl_ingestlog_open(const char *dir, enum sl_ingestlog_mode mode, sl_ingestlog **out, char *msg,
                      size_t msglen)
{
    *out = NULL;
    if (strlen(dir) >= DIR_MAX - 64) {
        snprintf(msg, msglen, "ingest log directory name too long");
        return SL_EINVAL;
    }
    sl_ingestlog *l = calloc(1, sizeof *l);
    if (!l || !(l->blk = malloc(BLK_MAX))) {
        free(l);
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    l->mode = mode;
    l->fd = -1;
    int rc = 0;
    if (mode != SL_INGESTLOG_READ && mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(msg, msglen, "cannot make the ingest log's directory %.600s: %s", dir,
                 strerror(errno));
        rc = SL_EIO;
    }
    uint64_t *segs = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = list_segments(dir, &segs, &n, msg, msglen);
    if (rc == 0 && mode == SL_INGESTLOG_FRESH) {
        for (size_t i = 0; i < n; i++) {
            char path[DIR_MAX + 64];
            seg_path(l, segs[i], path, sizeof path);
            if (unlink(path) != 0 && errno != ENOENT) {
                snprintf(msg, msglen, "cannot remove the old ingest log %.600s: %s", path,
                         strerror(errno));
                rc = SL_EIO;
                break;
            }
        }
    } else if (rc == 0 && n > 0) {
        l->seg = segs[n - 1];
        if (mode == SL_INGESTLOG_RESUME)
            rc = cut_tail(l, msg, msglen);
    }
    free(segs);
    if (rc) {
        sl_ingestlog_close(&l);
        return rc;
    }
    *out = l;
    return 0;
}

uint64_t sl_ingestlog_segment(const sl_ingestlog *l)
{
    return l->seg;
}

uint64_t sl_ingestlog_first(const sl_ingestlog *l)
{
    uint64_t *segs = NULL, first = l->seg;
    size_t n = 0;
    char why[256];
    if (list_segments(l->dir, &segs, &n, why, sizeof why))
        return UINT64_MAX;
    if (n > 0 && segs[0] < first)
        first = segs[0];
    free(segs);
    return first;
}

uint64_t sl_ingestlog_cut(const sl_ingestlog *l)
{
    return l->cut;
}

/* Opens the current segment for appending, writing its header when it is new (or empty). */
static int open_current(sl_ingestlog *l, char *msg, size_t msglen)
{
    char path[DIR_MAX + 64];
    seg_path(l, l->seg, path, sizeof path);
    l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat st;
    if (l->fd < 0 || fstat(l->fd, &st) != 0) {
        snprintf(msg, msglen, "ingest log %.600s: %s", path, strerror(errno));
        if (l->fd >= 0)
            close(l->fd);
        l->fd = -1;
        return SL_EIO;
    }
    l->size = (uint64_t)st.st_size;
    if (l->size >= SEG_HDR)
        return 0;
    unsigned char h[SEG_HDR];
    memcpy(h, MAGIC, 8);
    sl_le_put(h + 8, sizeof(sl_rec), 4);
    sl_le_put(h + 12, BYTE_ORDER_MARK, 4);
    if (ftruncate(l->fd, 0) != 0 || write(l->fd, h, SEG_HDR) != SEG_HDR) {
        snprintf(msg, msglen, "writing the ingest log %.600s: %s", path,
                 errno ? strerror(errno) : "short write");
        close(l->fd);
        l->fd = -1;
        return SL_EIO;
    }
    l->size = SEG_HDR;
    l->made = l->dirty = 1;
    return 0;
}

/* Writes every byte of iov[0..cnt) (moving through it on short writes). Returns 0 or errno. */
static int writev_all(int fd, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        ssize_t k = writev(fd, iov, cnt);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return errno;
        if (k == 0)
            return ENOSPC;
        while (cnt > 0 && (size_t)k >= iov->iov_len) {
            k -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + k;
            iov->iov_len -= (size_t)k;
        }
    }
    return 0;
}

int sl_ingestlog_append_attrs(sl_ingestlog *l, const sl_rec *recs, const uint64_t *attrs,
                              uint32_t nattr, size_t n, char *msg, size_t msglen)
{
    if (l->mode == SL_INGESTLOG_READ || nattr > SL_SCHEMA_ATTRS) {
        snprintf(msg, msglen, "ingest log: %u attributes (0..%d), or a log opened to read", nattr,
                 SL_SCHEMA_ATTRS);
        return SL_EINVAL;
    }
    int rc;
    if (l->fd < 0 && (rc = open_current(l, msg, msglen)))
        return rc;
    unsigned char hdr[IOV_BLOCKS][BLK_HDR + 8];
    struct iovec iov[3 * IOV_BLOCKS];
    while (n > 0) {
        int cnt = 0;
        uint64_t bytes = 0;
        for (int b = 0; b < IOV_BLOCKS && n > 0; b++) {
            size_t k = n < SL_INGESTLOG_BLOCK ? n : SL_INGESTLOG_BLOCK;
            size_t len = k * sizeof *recs, wlen = k * nattr * 8u;
            uint64_t h;
            if (nattr) {
                /* the hash runs over the words' count, the records and the words */
                XXH3_state_t st;
                sl_le_put(hdr[b] + BLK_HDR, nattr, 8);
                XXH3_64bits_reset_withSeed(&st, k);
                XXH3_64bits_update(&st, hdr[b] + BLK_HDR, 8);
                XXH3_64bits_update(&st, recs, len);
                XXH3_64bits_update(&st, attrs, wlen);
                h = XXH3_64bits_digest(&st);
            } else {
                h = XXH3_64bits_withSeed(recs, len, k);
            }
            sl_le_put(hdr[b], nattr ? ATTR_MAGIC : BLOCK_MAGIC, 4);
            sl_le_put(hdr[b] + 4, k, 4);
            sl_le_put(hdr[b] + 8, h, 8);
            iov[cnt++] = (struct iovec){hdr[b], nattr ? BLK_HDR + 8 : BLK_HDR};
            iov[cnt++] = (struct iovec){(void *)recs, len};
            if (nattr)
                iov[cnt++] = (struct iovec){(void *)attrs, wlen};
            bytes += BLK_HDR + (nattr ? 8 : 0) + len + wlen;
            recs += k;
            if (nattr)
                attrs += k * nattr;
            n -= k;
        }
        int e = writev_all(l->fd, iov, cnt);
        if (e) {
            /* leave no torn block in the middle of the segment: cut back to the last whole one */
            if (ftruncate(l->fd, (off_t)l->size) != 0)
                e = e ? e : errno;
            snprintf(msg, msglen, "writing the ingest log %.600s failed: %s", l->dir, strerror(e));
            return SL_EIO;
        }
        l->size += bytes;
        l->dirty = 1;
    }
    return 0;
}

int sl_ingestlog_append(sl_ingestlog *l, const sl_rec *recs, size_t n, char *msg, size_t msglen)
{
    return sl_ingestlog_append_attrs(l, recs, NULL, 0, n, msg, msglen);
}

int sl_ingestlog_append_bytes(sl_ingestlog *l, const void *p, size_t len, char *msg, size_t msglen)
{
    if (l->mode == SL_INGESTLOG_READ || len == 0 || len > SL_INGESTLOG_BYTES) {
        snprintf(msg, msglen, "ingest log: a block of %zu bytes (1..%d), or a log opened to read",
                 len, SL_INGESTLOG_BYTES);
        return SL_EINVAL;
    }
    int rc;
    if (l->fd < 0 && (rc = open_current(l, msg, msglen)))
        return rc;
    unsigned char hdr[BLK_HDR];
    sl_le_put(hdr, BYTES_MAGIC, 4);
    sl_le_put(hdr + 4, len, 4);
    sl_le_put(hdr + 8, XXH3_64bits_withSeed(p, len, len), 8);
    struct iovec iov[2] = {{hdr, BLK_HDR}, {(void *)p, len}};
    int e = writev_all(l->fd, iov, 2);
    if (e) {
        if (ftruncate(l->fd, (off_t)l->size) != 0)
            e = e ? e : errno;
        snprintf(msg, msglen, "writing the ingest log %.600s failed: %s", l->dir, strerror(e));
        return SL_EIO;
    }
    l->size += BLK_HDR + len;
    l->dirty = 1;
    return 0;
}

int sl_ingestlog_append_ids(sl_ingestlog *l, const sl_addict *dict, size_t *cursor, char *msg,
                            size_t msglen)
{
    uint64_t key;
    const char *id;
    size_t len, at = 0;
    int rc;
    if (!l->ids && !(l->ids = malloc(SL_INGESTLOG_BYTES))) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    while (sl_addict_next(dict, cursor, &key, &id, &len)) {
        if (!sl_addict_entry_put(l->ids, SL_INGESTLOG_BYTES, &at, key, id, len)) {
            if ((rc = sl_ingestlog_append_bytes(l, l->ids, at, msg, msglen)))
                return rc;
            at = 0;
            sl_addict_entry_put(l->ids, SL_INGESTLOG_BYTES, &at, key, id, len);
        }
    }
    return at ? sl_ingestlog_append_bytes(l, l->ids, at, msg, msglen) : 0;
}

int sl_ingestlog_sync(sl_ingestlog *l, char *msg, size_t msglen)
{
    if (l->fd < 0 || !l->dirty)
        return 0;
    if (fdatasync(l->fd) != 0 || (l->made && fsync_dir(l->dir) != 0)) {
        snprintf(msg, msglen, "syncing the ingest log %.600s failed: %s", l->dir, strerror(errno));
        return SL_EIO;
    }
    l->dirty = l->made = 0;
    return 0;
}

int sl_ingestlog_roll(sl_ingestlog *l, uint64_t seg, char *msg, size_t msglen)
{
    if (seg <= l->seg) {
        snprintf(msg, msglen,
                 "ingest log: segment %" PRIu64 " does not follow the current one (%" PRIu64 ")",
                 seg, l->seg);
        return SL_EINVAL;
    }
    int rc = sl_ingestlog_sync(l, msg, msglen);
    if (rc)
        return rc;
    if (l->fd >= 0 && close(l->fd) != 0) {
        l->fd = -1;
        snprintf(msg, msglen, "closing the ingest log failed: %s", strerror(errno));
        return SL_EIO;
    }
    l->fd = -1;
    l->seg = seg;
    l->size = 0;
    return 0;
}

int sl_ingestlog_prune(sl_ingestlog *l, uint64_t below)
{
    uint64_t *segs = NULL;
    size_t n = 0;
    char why[256];
    if (list_segments(l->dir, &segs, &n, why, sizeof why))
        return 0;
    int removed = 0;
    for (size_t i = 0; i < n && segs[i] < below; i++) {
        char path[DIR_MAX + 64];
        seg_path(l, segs[i], path, sizeof path);
        if (segs[i] != l->seg && unlink(path) == 0)
            removed++;
    }
    free(segs);
    return removed;
}

int sl_ingestlog_replay(sl_ingestlog *l, uint64_t from, sl_ingestlog_fn fn,
                        sl_ingestlog_bytes_fn bytes_fn, void *ud, uint64_t *count, char *msg,
                        size_t msglen)
{
    uint64_t *segs = NULL, got = 0;
    size_t n = 0;
    int rc = list_segments(l->dir, &segs, &n, msg, msglen);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (segs[i] < from)
            continue;
        char path[DIR_MAX + 64];
        seg_path(l, segs[i], path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(msg, msglen, "reading the ingest log %.600s: %s", path, strerror(errno));
            rc = SL_EIO;
            break;
        }
        uint64_t good;
        int torn;
        rc = walk(l, fd, path, fn, bytes_fn, ud, &got, &good, &torn, msg, msglen);
        close(fd);
        if (rc == 0 && torn && !(l->mode == SL_INGESTLOG_READ && i == n - 1)) {
            snprintf(msg, msglen,
                     "the ingest log %.600s is corrupted at byte %" PRIu64
                     " (a block cut short or whose checksum does not match)",
                     path, good);
            rc = SL_EPARSE;
        }
    }
    free(segs);
    if (count)
        *count = got;
    return rc;
}

void sl_ingestlog_close(sl_ingestlog **lp)
{
    if (!lp || !*lp)
        return;
    sl_ingestlog *l = *lp;
    if (l->fd >= 0) {
        char why[256];
        sl_ingestlog_sync(l, why, sizeof why);
        close(l->fd);
    }
    free(l->blk);
    free(l->ids);
    free(l);
    *lp = NULL;
}
