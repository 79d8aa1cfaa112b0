/* The client's part of a clustered run's checkpoint, and savepoint copies (resume.h). */
#include "resume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "ckptfile.h"
#include "err.h"
#include "lebytes.h"

/* The "meta" section: what the run reads and on how many nodes, as text. */
static int meta_text(const sl_topology *t, uint32_t nnodes, char *buf, size_t len)
{
    return snprintf(buf, len, "sluice cluster checkpoint\nsource %s\nformat %s\nnodes %u\n",
                    t->source.path, t->source.format == SL_FMT_CSV ? "csv" : "ndjson", nnodes);
}

int sl_resume_write(const char *dir, const sl_topology *t, uint32_t nnodes,
                    const sl_client_recovery *rec, char *msg, size_t msglen)
{
    char sub[4200], meta[4400];
    unsigned char input[SL_SOURCE_STATS_BYTES], types[32];
    unsigned char *ids = NULL;
    size_t ids_len = 0;
    snprintf(sub, sizeof sub, "%s/client", dir);
    if (sl_addict_image(rec->dict, &ids, &ids_len)) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    sl_source_stats_put(&rec->at, input);
    for (int i = 0; i < 4; i++)
        sl_le_put(types + 8 * i, rec->types[i], 8);
    int mlen = meta_text(t, nnodes, meta, sizeof meta);
    sl_ckpt_section sec[] = {{"meta", meta, (size_t)mlen},
                             {"input", input, sizeof input},
                             {"types", types, sizeof types},
                             {"dict", ids, ids_len},
                             {"windows", rec->win, rec->nwin * sizeof(sl_row)}};
    int rc = sl_ckpt_write(sub, rec->ckpt_id, sec, 5, NULL, msg, msglen);
    free(ids);
    if (rc == 0)
        sl_ckpt_prune(sub, rec->ckpt_id);
    return rc;
}

uint64_t sl_resume_highest(const char *dir)
{
    uint64_t top = 0, n;
    char sub[4400];
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strcmp(e->d_name, "client") != 0 && strncmp(e->d_name, "node-", 5) != 0)
            continue;
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        DIR *s = opendir(sub);
        for (struct dirent *f; s && (f = readdir(s));)
            if ((sl_ckpt_numbered_name(f->d_name, "ckpt-", &n) ||
                 sl_ckpt_numbered_name(f->d_name, "log-", &n)) &&
                n > top)
                top = n;
        if (s)
            closedir(s);
    }
    if (d)
        closedir(d);
    return top;
}

void sl_resume_drop_logs(const char *dir)
{
    char sub[4200], path[4500];
    snprintf(sub, sizeof sub, "%s/client", dir);
    DIR *d = opendir(sub);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, "log-", 4) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", sub, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
}

int sl_resume_load(const char *dir, const sl_topology *t, uint32_t nnodes, sl_client_recovery *rec,
                   char *msg, size_t msglen)
{
    char sub[4200], path[4400], why[1200] = "";
    snprintf(sub, sizeof sub, "%s/client", dir);
    uint64_t id;
    int r = sl_ckpt_latest(sub, &id, why, sizeof why);
    if (r < 0) {
        snprintf(msg, msglen, "%s", why);
        return r;
    }
    if (r == 0) {
        if (why[0]) {
            snprintf(msg, msglen, "%s: %s", sub, why);
            return SL_EPARSE;
        }
        return 0;
    }
    if (why[0])
        fprintf(stderr, "sluice: %s: %s; resuming from an older one\n", sub, why);
    sl_ckpt_path(path, sizeof path, sub, id);
    sl_ckpt *c = NULL;
    int rc = sl_ckpt_open(path, &c, msg, msglen);
    if (rc)
        return rc;
    size_t mlen, ilen, tlen, dlen;
    const char *meta = sl_ckpt_get(c, "meta", &mlen);
    const unsigned char *input = sl_ckpt_get(c, "input", &ilen);
    const unsigned char *types = sl_ckpt_get(c, "types", &tlen);
    const unsigned char *ids = sl_ckpt_get(c, "dict", &dlen);
    size_t winlen = 0;
    const void *win = sl_ckpt_get(c, "windows", &winlen);
    char want[4400];
    int wlen = meta_text(t, nnodes, want, sizeof want);
    if (!meta || !input || !types || !ids || ilen != SL_SOURCE_STATS_BYTES || tlen != 32 ||
        winlen % sizeof(sl_row)) {
        snprintf(msg, msglen, "%s is not a cluster checkpoint (a section is missing)", path);
        rc = SL_EPARSE;
    } else if (mlen != (size_t)wlen || memcmp(meta, want, mlen) != 0) {
        snprintf(msg, msglen,
                 "%s was taken by a run of another input or cluster:\n%.*sthis run:\n%s", path,
                 (int)mlen, meta, want);
        rc = SL_EINVAL;
    } else if ((rc = sl_addict_load_image(rec->dict, ids, dlen, why, sizeof why))) {
        snprintf(msg, msglen, "%s: %s", path, why);
    }
    if (rc == 0) {
        rec->ckpt_id = id;
        rec->next_id = id + 1;
        sl_source_stats_get(input, &rec->at);
        for (int i = 0; i < 4; i++)
            rec->types[i] = sl_le_get(types + 8 * i, 8);
        free(rec->win);
        rec->win = NULL;
        rec->nwin = winlen / sizeof(sl_row);
        if (rec->nwin && !(rec->win = malloc(winlen))) {
            rec->nwin = 0;
            snprintf(msg, msglen, "out of memory");
            rc = SL_ENOMEM;
        } else if (rec->nwin) {
            memcpy(rec->win, win, winlen);
        }
    }
    sl_ckpt_close(&c);
    return rc ? rc : 1;
}

/* Copies file `from` to `to` (created exclusively) and syncs it. Returns 0 or SL_EIO with msg. */
static int copy_file(const char *from, const char *to, char *msg, size_t msglen)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int rc = 0;
    if (in < 0 || out < 0) {
        snprintf(msg, msglen, "cannot copy %.1000s to %.1000s: %s", from, to, strerror(errno));
        rc = SL_EIO;
        goto out;
    }
    static _Thread_local char buf[1 << 16];
    for (;;) {
        ssize_t k = read(in, buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k < 0) {
                snprintf(msg, msglen, "reading %.1000s: %s", from, strerror(errno));
                rc = SL_EIO;
            }
            break;
        }
        for (ssize_t off = 0; off < k;) {
            ssize_t w = write(out, buf + off, (size_t)(k - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                snprintf(msg, msglen, "writing %.1000s: %s", to, strerror(errno));
                rc = SL_EIO;
                goto out;
            }
            off += w;
        }
    }
    if (rc == 0 && fsync(out) != 0) {
        snprintf(msg, msglen, "syncing %.1000s: %s", to, strerror(errno));
        rc = SL_EIO;
    }
out:
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0 && rc == 0) {
        snprintf(msg, msglen, "writing %.1000s: %s", to, strerror(errno));
        rc = SL_EIO;
    }
    return rc;
}

static void sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int sl_resume_copy(const char *dir, uint64_t id, uint32_t nnodes, const char *to, char *msg,
                   size_t msglen)
{
    char from[4400], dst[4400], sub[4400];
    if (mkdir(to, 0755) != 0) {
        snprintf(msg, msglen, "cannot make %.1000s: %s", to, strerror(errno));
        return SL_EIO;
    }
    for (uint32_t k = 0; k <= nnodes; k++) {
        /* k < nnodes: node-k; k == nnodes: the client's part, written last */
        char name[32];
        if (k < nnodes)
            snprintf(name, sizeof name, "node-%u", k);
        else
            snprintf(name, sizeof name, "client");
        snprintf(sub, sizeof sub, "%.2000s/%s", to, name);
        if (mkdir(sub, 0755) != 0) {
            snprintf(msg, msglen, "cannot make %.1000s: %s", sub, strerror(errno));
            return SL_EIO;
        }
        char src_dir[4400];
        snprintf(src_dir, sizeof src_dir, "%.2000s/%s", dir, name);
        sl_ckpt_path(from, sizeof from, src_dir, id);
        sl_ckpt_path(dst, sizeof dst, sub, id);
        int rc = copy_file(from, dst, msg, msglen);
        if (rc)
            return rc;
        sync_dir(sub);
    }
    sync_dir(to);
    return 0;
}
