/* A node's write-ahead ingest log; see nodelog.h. */
#include "nodelog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "ingestlog.h"

struct sl_nodelog {
    sl_ingestlog *log;
    size_t id_cursor; /* the dictionary's ids up to here are in the log (or came from it) */
    uint64_t replay_from;
    int pending; /* resumed, not replayed yet */
    char dir[4200];
};

int sl_nodelog_open(const char *dir, int resume, uint64_t replay_from, sl_nodelog **out, char *msg,
                    size_t msglen)
{
    *out = NULL;
    sl_nodelog *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    if (strlen(dir) >= sizeof l->dir) {
        free(l);
        snprintf(msg, msglen, "ingest log: the folder's name is too long");
        return SL_EINVAL;
    }
    memcpy(l->dir, dir, strlen(dir) + 1);
    /* the checkpoint folder itself may not exist yet (the first barrier makes it) */
    char parent[sizeof l->dir];
    memcpy(parent, dir, strlen(dir) + 1);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        if (mkdir(parent, 0755) != 0 && errno != EEXIST) {
            snprintf(msg, msglen, "ingest log: cannot make %.600s: %s", parent, strerror(errno));
            free(l);
            return SL_EIO;
        }
    }
    int rc = sl_ingestlog_open(dir, resume ? SL_INGESTLOG_RESUME : SL_INGESTLOG_FRESH, &l->log, msg,
                               msglen);
    if (rc) {
        free(l);
        return rc;
    }
    l->replay_from = replay_from;
    l->pending = resume;
    *out = l;
    return 0;
}

int sl_nodelog_replay_pending(const sl_nodelog *l)
{
    return l && l->pending;
}

int sl_nodelog_append(sl_nodelog *l, const sl_addict *dict, const sl_rec *recs,
                      const uint64_t *attrs, uint32_t nattr, size_t n, char *msg, size_t msglen)
{
    /* the ids first: a replay interns them before the records that name them */
    int rc = sl_ingestlog_append_ids(l->log, dict, &l->id_cursor, msg, msglen);
    if (rc)
        return rc;
    return n ? sl_ingestlog_append_attrs(l->log, recs, attrs, nattr, n, msg, msglen) : 0;
}

int sl_nodelog_barrier(sl_nodelog *l, uint64_t id, uint64_t complete, char *msg, size_t msglen)
{
    int rc = sl_ingestlog_roll(l->log, id, msg, msglen);
    if (rc == 0 && complete)
        sl_ingestlog_prune(l->log, complete);
    return rc;
}

struct replay {
    sl_nodelog_fn fn;
    void *ud;
    sl_addict *dict;
};

static int replay_ids(void *ud, const unsigned char *p, size_t len, char *msg, size_t msglen)
{
    struct replay *r = ud;
    return sl_addict_load_image(r->dict, p, len, msg, msglen);
}

static int replay_recs(void *ud, const sl_rec *recs, const uint64_t *attrs, uint32_t nattr,
                       size_t n, char *msg, size_t msglen)
{
    struct replay *r = ud;
    return r->fn(r->ud, recs, attrs, nattr, n, msg, msglen);
}

int sl_nodelog_replay(sl_nodelog *l, sl_addict *dict, sl_nodelog_fn fn, void *ud, uint64_t *count,
                      char *msg, size_t msglen)
{
    *count = 0;
    if (!l->pending)
        return 0;
    l->pending = 0;
    struct replay r = {fn, ud, dict};
    int rc = sl_ingestlog_replay(l->log, l->replay_from, replay_recs, replay_ids, &r, count, msg,
                                 msglen);
    /* the ids learnt from the log are in it already */
    size_t len;
    uint64_t key;
    const char *id;
    while (sl_addict_next(dict, &l->id_cursor, &key, &id, &len))
        ;
    return rc;
}

const char *sl_nodelog_dir(const sl_nodelog *l)
{
    return l->dir;
}

void sl_nodelog_close(sl_nodelog **lp)
{
    if (!lp || !*lp)
        return;
    sl_ingestlog_close(&(*lp)->log);
    free(*lp);
    *lp = NULL;
}
