/* A small ZooKeeper client over libzookeeper-mt; see zk.h. */
#define THREADED /* libzookeeper-mt: the synchronous API */
#include "zk.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zookeeper/zookeeper.h>

#include "err.h"
#include "log.h"

#define DATA_MAX 1000000 /* ZooKeeper's default jute.maxbuffer is 1 MiB less one byte */
#define PATH_MAX_ 1024
#define INCR_TRIES 1000

struct sl_zk {
    zhandle_t *zh;
    char connect[1024];
    uint32_t session_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic int state; /* enum sl_zk_state */
    _Atomic uint32_t gen;
    _Atomic uint64_t events;
    _Atomic int64_t session;
};

/* The library's log lines (connection refused while a server restarts, and the like) go to
 * sluice's logger at debug level, category "zk": this module reports what matters itself. */
static void zk_log(const char *message)
{
    SL_DEBUG("zk", "%s", message);
}

static pthread_once_t level_once = PTHREAD_ONCE_INIT;

static void set_level(void)
{
    zoo_set_debug_level(sl_log_enabled(SL_LOG_DEBUG, "zk") ? ZOO_LOG_LEVEL_DEBUG
                                                           : ZOO_LOG_LEVEL_WARN);
}

/* Runs on the library's completion thread: session events set the state (and wake
 * open_session), every event moves the counter. */
static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)path;
    sl_zk *z = ctx;
    if (type == ZOO_SESSION_EVENT) {
        pthread_mutex_lock(&z->mu);
        if (state == ZOO_CONNECTED_STATE) {
            atomic_store(&z->state, SL_ZK_CONNECTED);
            const clientid_t *id = zoo_client_id(zh);
            atomic_store(&z->session, id ? id->client_id : 0);
        } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
            atomic_store(&z->state, SL_ZK_EXPIRED);
        } else {
            atomic_store(&z->state, SL_ZK_CONNECTING);
        }
        pthread_cond_broadcast(&z->cv);
        pthread_mutex_unlock(&z->mu);
    }
    atomic_fetch_add(&z->events, 1);
}

static void deadline_in(struct timespec *ts, uint32_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Opens a session and waits up to wait_ms for it. Returns 0 or SL_EIO (z->zh NULL then). */
static int open_session(sl_zk *z, uint32_t wait_ms, char *msg, size_t msglen)
{
    atomic_store(&z->state, SL_ZK_CONNECTING);
    atomic_store(&z->session, 0);
    z->zh = zookeeper_init2(z->connect, watcher, (int)z->session_ms, NULL, z, 0, zk_log);
    if (!z->zh) {
        sl_set_msg(msg, msglen, "ZooKeeper %s: cannot start a session: %s", z->connect,
                   strerror(errno));
        atomic_store(&z->state, SL_ZK_EXPIRED);
        return SL_EIO;
    }
    struct timespec ts;
    deadline_in(&ts, wait_ms);
    pthread_mutex_lock(&z->mu);
    while (atomic_load(&z->state) == SL_ZK_CONNECTING)
        if (pthread_cond_timedwait(&z->cv, &z->mu, &ts) == ETIMEDOUT)
            break;
    int st = atomic_load(&z->state);
    pthread_mutex_unlock(&z->mu);
    if (st != SL_ZK_CONNECTED) {
        zookeeper_close(z->zh);
        z->zh = NULL;
        atomic_store(&z->state, SL_ZK_EXPIRED);
        sl_set_msg(msg, msglen, "ZooKeeper %s did not answer within %u ms%s", z->connect, wait_ms,
                   st == SL_ZK_EXPIRED ? " (session refused)" : "");
        return SL_EIO;
    }
    atomic_fetch_add(&z->gen, 1);
    SL_INFO("zk", "session 0x%" PRIx64 " on %s, timeout %d ms", (uint64_t)atomic_load(&z->session),
            z->connect, zoo_recv_timeout(z->zh));
    return 0;
}

int sl_zk_new(const char *connect, uint32_t session_ms, uint32_t wait_ms, sl_zk **out, char *msg,
              size_t msglen)
{
    *out = NULL;
    if (!connect || !*connect || strlen(connect) >= sizeof((sl_zk *)0)->connect) {
        sl_set_msg(msg, msglen, "ZooKeeper: no server address (host:port) given");
        return SL_EINVAL;
    }
    pthread_once(&level_once, set_level);
    sl_zk *z = calloc(1, sizeof *z);
    if (!z) {
        sl_set_msg(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    snprintf(z->connect, sizeof z->connect, "%s", connect);
    z->session_ms = session_ms;
    pthread_mutex_init(&z->mu, NULL);
    pthread_cond_init(&z->cv, NULL);
    int rc = open_session(z, wait_ms, msg, msglen);
    if (rc) {
        sl_zk_destroy(&z);
        return rc;
    }
    *out = z;
    return 0;
}

void sl_zk_destroy(sl_zk **zp)
{
    sl_zk *z = *zp;
    if (!z)
        return;
    if (z->zh)
        zookeeper_close(z->zh);
    pthread_cond_destroy(&z->cv);
    pthread_mutex_destroy(&z->mu);
    free(z);
    *zp = NULL;
}

enum sl_zk_state sl_zk_state(const sl_zk *z)
{
    return (enum sl_zk_state)atomic_load(&((sl_zk *)z)->state);
}

uint32_t sl_zk_generation(const sl_zk *z)
{
    return atomic_load(&((sl_zk *)z)->gen);
}

uint64_t sl_zk_events(const sl_zk *z)
{
    return atomic_load(&((sl_zk *)z)->events);
}

int64_t sl_zk_session(const sl_zk *z)
{
    return atomic_load(&((sl_zk *)z)->session);
}

uint32_t sl_zk_session_ms(const sl_zk *z)
{
    return z->zh ? (uint32_t)zoo_recv_timeout(z->zh) : z->session_ms;
}

int sl_zk_renew(sl_zk *z, uint32_t wait_ms, char *msg, size_t msglen)
{
    if (z->zh)
        zookeeper_close(z->zh);
    z->zh = NULL;
    atomic_fetch_add(&z->events, 1);
    return open_session(z, wait_ms, msg, msglen);
}

/* ZooKeeper's error rc on `what` of `path` as an sl_err, with msg saying so. */
static int fail(const char *what, const char *path, int rc, char *msg, size_t msglen)
{
    sl_set_msg(msg, msglen, "ZooKeeper %s %s: %s", what, path, zerror(rc));
    switch (rc) {
    case ZNONODE:
        return SL_ENOENT;
    case ZNODEEXISTS:
    case ZNOTEMPTY:
        return SL_EEXIST;
    case ZBADVERSION:
        return SL_ESTALE;
    default:
        return SL_EIO;
    }
}

static int ready(const sl_zk *z, const char *what, const char *path, char *msg, size_t msglen)
{
    if (z->zh && atomic_load(&((sl_zk *)z)->state) != SL_ZK_EXPIRED)
        return 0;
    sl_set_msg(msg, msglen, "ZooKeeper %s %s: the session has expired", what, path);
    return SL_EIO;
}

static int mode_of(int flags)
{
    if (flags & SL_ZK_EPHEMERAL)
        return flags & SL_ZK_SEQUENTIAL ? ZOO_EPHEMERAL_SEQUENTIAL : ZOO_EPHEMERAL;
    return flags & SL_ZK_SEQUENTIAL ? ZOO_PERSISTENT_SEQUENTIAL : ZOO_PERSISTENT;
}

/* Makes every missing parent of path (persistent, empty). Returns 0 or an sl_err. */
static int make_parents(sl_zk *z, const char *path, char *msg, size_t msglen)
{
    char p[PATH_MAX_];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        int rc = zoo_create(z->zh, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
        *s = '/';
        if (rc != ZOK && rc != ZNODEEXISTS)
            return fail("create", p, rc, msg, msglen);
    }
    return 0;
}

int sl_zk_create(sl_zk *z, const char *path, const void *data, size_t len, int flags, char *made,
                 size_t madelen, char *msg, size_t msglen)
{
    int rc = ready(z, "create", path, msg, msglen);
    if (rc)
        return rc;
    if (strlen(path) >= PATH_MAX_ - 16 || path[0] != '/') {
        sl_set_msg(msg, msglen, "ZooKeeper create: bad path \"%s\"", path);
        return SL_EINVAL;
    }
    if (len > DATA_MAX) {
        sl_set_msg(msg, msglen, "ZooKeeper create %s: %zu bytes exceed %d", path, len, DATA_MAX);
        return SL_ERANGE;
    }
    char buf[PATH_MAX_];
    for (int attempt = 0; attempt < 2; attempt++) {
        int zr = zoo_create(z->zh, path, data, data ? (int)len : -1, &ZOO_OPEN_ACL_UNSAFE,
                            mode_of(flags), buf, sizeof buf);
        if (zr == ZOK) {
            if (made && madelen)
                snprintf(made, madelen, "%s", buf);
            return 0;
        }
        if (zr != ZNONODE || !(flags & SL_ZK_PARENTS) || attempt)
            return fail("create", path, zr, msg, msglen);
        if ((rc = make_parents(z, path, msg, msglen)))
            return rc;
    }
    return SL_EIO; /* not reached */
}

static void copy_stat(sl_zk_stat *o, const struct Stat *s)
{
    if (!o)
        return;
    o->version = s->version;
    o->owner = s->ephemeralOwner;
    o->ctime_ms = s->ctime;
    o->children = s->numChildren;
    o->length = s->dataLength;
}

int sl_zk_get(sl_zk *z, const char *path, int watch, char **data, size_t *len, sl_zk_stat *st,
              char *msg, size_t msglen)
{
    *data = NULL;
    *len = 0;
    int rc = ready(z, "get", path, msg, msglen);
    if (rc)
        return rc;
    size_t cap = 4096;
    for (;;) {
        char *buf = malloc(cap + 1);
        if (!buf) {
            sl_set_msg(msg, msglen, "out of memory");
            return SL_ENOMEM;
        }
        int blen = (int)cap;
        struct Stat s;
        int zr = zoo_get(z->zh, path, watch, buf, &blen, &s);
        if (zr != ZOK) {
            free(buf);
            return fail("get", path, zr, msg, msglen);
        }
        if (s.dataLength > (int)cap) { /* grew, or bigger than the first guess: again */
            free(buf);
            cap = (size_t)s.dataLength;
            continue;
        }
        if (blen < 0) /* a znode made without data */
            blen = 0;
        buf[blen] = '\0';
        *data = buf;
        *len = (size_t)blen;
        copy_stat(st, &s);
        return 0;
    }
}

int sl_zk_set(sl_zk *z, const char *path, const void *data, size_t len, int32_t version,
              int32_t *newversion, char *msg, size_t msglen)
{
    int rc = ready(z, "set", path, msg, msglen);
    if (rc)
        return rc;
    if (len > DATA_MAX) {
        sl_set_msg(msg, msglen, "ZooKeeper set %s: %zu bytes exceed %d", path, len, DATA_MAX);
        return SL_ERANGE;
    }
    struct Stat s;
    int zr = zoo_set2(z->zh, path, data, data ? (int)len : -1, version, &s);
    if (zr != ZOK)
        return fail("set", path, zr, msg, msglen);
    if (newversion)
        *newversion = s.version;
    return 0;
}

int sl_zk_put(sl_zk *z, const char *path, const void *data, size_t len, char *msg, size_t msglen)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        int rc = sl_zk_set(z, path, data, len, -1, NULL, msg, msglen);
        if (rc != SL_ENOENT)
            return rc;
        rc = sl_zk_create(z, path, data, len, SL_ZK_PARENTS, NULL, 0, msg, msglen);
        if (rc != SL_EEXIST) /* made, or failed; exists: someone made it meanwhile, set again */
            return rc;
    }
    return SL_EIO;
}

int sl_zk_exists(sl_zk *z, const char *path, int watch, sl_zk_stat *st, char *msg, size_t msglen)
{
    int rc = ready(z, "exists", path, msg, msglen);
    if (rc)
        return rc;
    struct Stat s;
    int zr = zoo_exists(z->zh, path, watch, &s);
    if (zr != ZOK)
        return fail("exists", path, zr, msg, msglen);
    copy_stat(st, &s);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sl_zk_children(sl_zk *z, const char *path, int watch, sl_zk_names *out, char *msg,
                   size_t msglen)
{
    memset(out, 0, sizeof *out);
    int rc = ready(z, "list", path, msg, msglen);
    if (rc)
        return rc;
    struct String_vector sv = {0, NULL};
    int zr = zoo_get_children(z->zh, path, watch, &sv);
    if (zr != ZOK)
        return fail("list", path, zr, msg, msglen);
    if (sv.count > 0) {
        out->name = calloc((size_t)sv.count, sizeof *out->name);
        for (int i = 0; out->name && i < sv.count; i++) {
            if (!(out->name[i] = strdup(sv.data[i]))) {
                out->n = i;
                sl_zk_names_free(out);
                break;
            }
        }
        if (!out->name) {
            deallocate_String_vector(&sv);
            sl_set_msg(msg, msglen, "out of memory");
            return SL_ENOMEM;
        }
        out->n = sv.count;
        qsort(out->name, (size_t)out->n, sizeof *out->name, by_name);
    }
    deallocate_String_vector(&sv);
    return 0;
}

void sl_zk_names_free(sl_zk_names *n)
{
    for (int i = 0; n->name && i < n->n; i++)
        free(n->name[i]);
    free(n->name);
    n->name = NULL;
    n->n = 0;
}

int sl_zk_delete(sl_zk *z, const char *path, int32_t version, char *msg, size_t msglen)
{
    int rc = ready(z, "delete", path, msg, msglen);
    if (rc)
        return rc;
    int zr = zoo_delete(z->zh, path, version);
    return zr == ZOK ? 0 : fail("delete", path, zr, msg, msglen);
}

int sl_zk_delete_tree(sl_zk *z, const char *path, char *msg, size_t msglen)
{
    sl_zk_names kids;
    int rc = sl_zk_children(z, path, 0, &kids, msg, msglen);
    if (rc == SL_ENOENT)
        return 0;
    if (rc)
        return rc;
    for (int i = 0; i < kids.n && !rc; i++) {
        char p[PATH_MAX_];
        snprintf(p, sizeof p, "%s/%s", strcmp(path, "/") ? path : "", kids.name[i]);
        rc = sl_zk_delete_tree(z, p, msg, msglen);
    }
    sl_zk_names_free(&kids);
    if (!rc && (rc = sl_zk_delete(z, path, -1, msg, msglen)) == SL_ENOENT)
        rc = 0;
    return rc;
}

int sl_zk_incr(sl_zk *z, const char *path, uint64_t *out, char *msg, size_t msglen)
{
    for (int i = 0; i < INCR_TRIES; i++) {
        char *d;
        size_t len;
        sl_zk_stat st;
        int rc = sl_zk_get(z, path, 0, &d, &len, &st, msg, msglen);
        if (rc == SL_ENOENT) {
            rc = sl_zk_create(z, path, "0", 1, SL_ZK_PARENTS, NULL, 0, msg, msglen);
            if (rc && rc != SL_EEXIST)
                return rc;
            continue;
        }
        if (rc)
            return rc;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(d, &end, 10);
        int bad = errno || end == d || *end;
        free(d);
        if (bad) {
            sl_set_msg(msg, msglen, "ZooKeeper counter %s does not hold a number", path);
            return SL_EIO;
        }
        char text[32];
        int n = snprintf(text, sizeof text, "%llu", v + 1);
        rc = sl_zk_set(z, path, text, (size_t)n, st.version, NULL, msg, msglen);
        if (rc == 0) {
            *out = v + 1;
            return 0;
        }
        if (rc != SL_ESTALE)
            return rc;
    }
    sl_set_msg(msg, msglen, "ZooKeeper counter %s: %d writers got there first", path, INCR_TRIES);
    return SL_EIO;
}

int sl_zk_field(const char *text, const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, key, kl) == 0 && l[kl] == ' ') {
            size_t n = strcspn(l + kl + 1, "\n");
            snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), l + kl + 1);
            return 0;
        }
    }
    return -1;
}
