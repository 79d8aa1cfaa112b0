/* Checkpoint files; see ckptfile.h. */
#include "ckptfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "err.h"
#include "lebytes.h"

#define MAGIC "SLCKPT01"
#define TRAILER "SLCKEND!"
#define PREFIX "ckpt-"
#define TMP_PREFIX ".ckpt-tmp-"

struct sl_ckpt {
    unsigned char *img;
    size_t len;
    uint64_t id;
    int64_t created_ms;
    uint32_t n;
    struct {
        char name[SL_CKPT_NAME_MAX + 1];
        const unsigned char *data;
        size_t len;
    } sec[SL_CKPT_SECTIONS_MAX];
};

void sl_ckpt_path(char *buf, size_t len, const char *dir, uint64_t id)
{
    snprintf(buf, len, "%s/" PREFIX "%020" PRIu64, dir, id);
}

/* ---- writing ------------------------------------------------------------------------------ */

struct writer {
    int fd;
    XXH3_state_t *h;
    uint64_t bytes;
    int err; /* errno of the first failure */
};

static void put(struct writer *w, const void *p, size_t len, int hashed)
{
    if (w->err)
        return;
    if (hashed)
        XXH3_64bits_update(w->h, p, len);
    const char *c = p;
    while (len) {
        ssize_t k = write(w->fd, c, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            w->err = k < 0 ? errno : EIO;
            return;
        }
        c += k;
        len -= (size_t)k;
        w->bytes += (uint64_t)k;
    }
}

static void put_u(struct writer *w, uint64_t v, unsigned n)
{
    unsigned char b[8];
    sl_le_put(b, v, n);
    put(w, b, n, 1);
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

int sl_ckpt_write(const char *dir, uint64_t id, const sl_ckpt_section *s, size_t n, uint64_t *bytes,
                  char *msg, size_t msglen)
{
    if (n > SL_CKPT_SECTIONS_MAX) {
        snprintf(msg, msglen, "a checkpoint holds at most %d sections", SL_CKPT_SECTIONS_MAX);
        return SL_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(s[i].name);
        if (l == 0 || l > SL_CKPT_NAME_MAX) {
            snprintf(msg, msglen, "checkpoint section name of %zu bytes (1..%d)", l,
                     SL_CKPT_NAME_MAX);
            return SL_EINVAL;
        }
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(msg, msglen, "cannot make the checkpoint directory %s: %s", dir, strerror(errno));
        return SL_EIO;
    }
    char tmp[4200], final[4200];
    snprintf(tmp, sizeof tmp, "%s/" TMP_PREFIX "%020" PRIu64 "-%ld", dir, id, (long)getpid());
    sl_ckpt_path(final, sizeof final, dir, id);
    struct writer w = {.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (w.fd < 0) {
        snprintf(msg, msglen, "cannot write a checkpoint in %s: %s", dir, strerror(errno));
        return SL_EIO;
    }
    if (!(w.h = XXH3_createState())) {
        close(w.fd);
        unlink(tmp);
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    XXH3_64bits_reset(w.h);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    put(&w, MAGIC, 8, 1);
    put_u(&w, id, 8);
    put_u(&w, (uint64_t)((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000), 8);
    put_u(&w, n, 4);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(s[i].name);
        put_u(&w, l, 4);
        put(&w, s[i].name, l, 1);
        put_u(&w, s[i].len, 8);
        put_u(&w, XXH3_64bits(s[i].data, s[i].len), 8);
        put(&w, s[i].data, s[i].len, 1);
    }
    put_u(&w, XXH3_64bits_digest(w.h), 8);
    put(&w, TRAILER, 8, 0);
    XXH3_freeState(w.h);
    if (!w.err && fsync(w.fd) != 0)
        w.err = errno;
    if (close(w.fd) != 0 && !w.err)
        w.err = errno;
    if (!w.err && rename(tmp, final) != 0)
        w.err = errno;
    if (w.err) {
        unlink(tmp);
        snprintf(msg, msglen, "writing checkpoint %" PRIu64 " in %s failed: %s", id, dir,
                 strerror(w.err));
        return SL_EIO;
    }
    if (fsync_dir(dir) != 0) {
        snprintf(msg, msglen, "checkpoint %" PRIu64 " written but %s could not be synced: %s", id,
                 dir, strerror(errno));
        return SL_EIO;
    }
    if (bytes)
        *bytes = w.bytes;
    return 0;
}

/* ---- reading ------------------------------------------------------------------------------ */

static int bad(char *msg, size_t msglen, const char *path, const char *what, size_t at)
{
    snprintf(msg, msglen, "%s is not a usable checkpoint: %s (byte %zu)", path, what, at);
    return SL_EPARSE;
}

static int parse(sl_ckpt *c, const char *path, char *msg, size_t msglen)
{
    const unsigned char *p = c->img;
    size_t len = c->len, at = 0;
    if (len < 8 || memcmp(p, "SLCKPT", 6) != 0)
        return bad(msg, msglen, path, "no checkpoint magic", 0);
    if (memcmp(p, MAGIC, 8) != 0)
        return bad(msg, msglen, path, "another checkpoint format version", 6);
    if (len < 8 + 8 + 8 + 4 + 16)
        return bad(msg, msglen, path, "cut short", len);
    if (memcmp(p + len - 8, TRAILER, 8) != 0)
        return bad(msg, msglen, path, "no end marker: cut short or torn", len - 8);
    uint64_t want = sl_le_get(p + len - 16, 8);
    if (XXH3_64bits(p, len - 16) != want)
        return bad(msg, msglen, path, "checksum mismatch: the file is corrupted", len - 16);
    size_t end = len - 16;
    at = 8;
    c->id = sl_le_get(p + at, 8);
    c->created_ms = (int64_t)sl_le_get(p + at + 8, 8);
    uint64_t n = sl_le_get(p + at + 16, 4);
    at += 20;
    if (n > SL_CKPT_SECTIONS_MAX)
        return bad(msg, msglen, path, "too many sections", at - 4);
    for (uint32_t i = 0; i < n; i++) {
        if (end - at < 4)
            return bad(msg, msglen, path, "section cut short", at);
        uint64_t l = sl_le_get(p + at, 4);
        if (l == 0 || l > SL_CKPT_NAME_MAX || end - at - 4 < l + 16)
            return bad(msg, msglen, path, "section name out of bounds", at);
        memcpy(c->sec[i].name, p + at + 4, (size_t)l);
        c->sec[i].name[l] = '\0';
        at += 4 + (size_t)l;
        uint64_t dl = sl_le_get(p + at, 8), h = sl_le_get(p + at + 8, 8);
        at += 16;
        if (dl > end - at)
            return bad(msg, msglen, path, "section data out of bounds", at - 16);
        if (XXH3_64bits(p + at, (size_t)dl) != h)
            return bad(msg, msglen, path, "section checksum mismatch", at);
        c->sec[i].data = p + at;
        c->sec[i].len = (size_t)dl;
        at += (size_t)dl;
    }
    if (at != end)
        return bad(msg, msglen, path, "bytes after the last section", at);
    c->n = (uint32_t)n;
    return 0;
}

int sl_ckpt_open(const char *path, sl_ckpt **out, char *msg, size_t msglen)
{
    *out = NULL;
    sl_ckpt *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(msg, msglen, "cannot read checkpoint %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(c);
        return SL_EIO;
    }
    c->len = (size_t)st.st_size;
    c->img = malloc(c->len ? c->len : 1);
    size_t got = 0;
    while (c->img && got < c->len) {
        ssize_t k = read(fd, c->img + got, c->len - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    int rc = 0;
    if (!c->img) {
        snprintf(msg, msglen, "out of memory reading %s", path);
        rc = SL_ENOMEM;
    } else if (got != c->len) {
        snprintf(msg, msglen, "cannot read checkpoint %s: it shrank while being read", path);
        rc = SL_EIO;
    } else {
        rc = parse(c, path, msg, msglen);
    }
    if (rc) {
        sl_ckpt_close(&c);
        return rc;
    }
    *out = c;
    return 0;
}

uint64_t sl_ckpt_id(const sl_ckpt *c)
{
    return c->id;
}

int64_t sl_ckpt_created_ms(const sl_ckpt *c)
{
    return c->created_ms;
}

const void *sl_ckpt_get(const sl_ckpt *c, const char *name, size_t *len)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (strcmp(c->sec[i].name, name) == 0) {
            if (len)
                *len = c->sec[i].len;
            return c->sec[i].data;
        }
    return NULL;
}

void sl_ckpt_close(sl_ckpt **cp)
{
    if (!cp || !*cp)
        return;
    free((*cp)->img);
    free(*cp);
    *cp = NULL;
}

/* ---- the directory ------------------------------------------------------------------------ */

int sl_ckpt_numbered_name(const char *name, const char *prefix, uint64_t *n)
{
    if (strncmp(name, prefix, strlen(prefix)) != 0)
        return 0;
    const char *d = name + strlen(prefix);
    if (strlen(d) != 20 || strspn(d, "0123456789") != 20)
        return 0;
    *n = strtoull(d, NULL, 10);
    return 1;
}

/* 1 with *id when name is a checkpoint's ("ckpt-" and 20 digits). */
static int ckpt_name(const char *name, uint64_t *id)
{
    return sl_ckpt_numbered_name(name, PREFIX, id);
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

int sl_ckpt_latest(const char *dir, uint64_t *id, char *msg, size_t msglen)
{
    msg[0] = '\0';
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        snprintf(msg, msglen, "cannot list %s: %s", dir, strerror(errno));
        return SL_EIO;
    }
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        uint64_t v;
        if (!ckpt_name(e->d_name, &v))
            continue;
        if (n == cap) {
            uint64_t *ni = realloc(ids, (cap = cap ? 2 * cap : 16) * sizeof *ni);
            if (!ni)
                break;
            ids = ni;
        }
        ids[n++] = v;
    }
    closedir(d);
    if (n > 1) /* ids is NULL when there are none */
        qsort(ids, n, sizeof *ids, cmp_desc);
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) {
        char path[4200], why[1024];
        sl_ckpt_path(path, sizeof path, dir, ids[i]);
        sl_ckpt *c = NULL;
        if (sl_ckpt_open(path, &c, why, sizeof why) == 0 && sl_ckpt_id(c) == ids[i]) {
            *id = ids[i];
            found = 1;
        } else if (!msg[0]) {
            snprintf(msg, msglen, "skipped %s", c ? "a checkpoint whose id differs" : why);
        }
        sl_ckpt_close(&c);
    }
    free(ids);
    return found;
}

int sl_ckpt_prune(const char *dir, uint64_t keep)
{
    DIR *d = opendir(dir);
    if (!d)
        return SL_EIO;
    int removed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        uint64_t v;
        int old = ckpt_name(e->d_name, &v) && v < keep;
        int tmp = strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0;
        if (!old && !tmp)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}
