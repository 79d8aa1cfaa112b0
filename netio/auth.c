/* CURVE keys and the ZAP handler; see auth.h. */
#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

int sl_keys_generate(const char *dir, int force, char *err, size_t errlen)
{
    char pub[41], sec[41], path[4200], pubpath[4200];
    if (zmq_has("curve") != 1) {
        snprintf(err, errlen, "this libzmq was built without CURVE support");
        return SL_EUNSUPPORTED;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return SL_EIO;
    }
    snprintf(path, sizeof path, "%s/cluster.key", dir);
    snprintf(pubpath, sizeof pubpath, "%s/cluster.pub", dir);
    struct stat st;
    if (!force && stat(path, &st) == 0) {
        snprintf(err, errlen,
                 "%s exists: keys are not replaced (members holding them would be "
                 "locked out); remove it first or pass --force",
                 path);
        return SL_EEXIST;
    }
    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errlen, "cannot make a key pair: %s", zmq_strerror(zmq_errno()));
        return SL_EUNSUPPORTED;
    }
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = NULL;
    int fd = -1;
    unlink(tmp);
    mode_t old = umask(077);
    f = fopen(tmp, "w");
    umask(old);
    if (!f)
        goto io;
    fd = fileno(f);
    if (fchmod(fd, 0600) != 0 ||
        fprintf(f,
                "# sluice cluster key pair (CURVE, Z85): every node and client of the "
                "cluster holds it; keep it secret\npublic = %s\nsecret = %s\n",
                pub, sec) < 0 ||
        fflush(f) != 0 || fsync(fd) != 0) {
        fclose(f);
        goto io;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        goto io;
    f = fopen(pubpath, "w");
    if (!f || fprintf(f, "%s\n", pub) < 0 || fclose(f) != 0)
        goto io;
    memset(sec, 0, sizeof sec);
    return 0;
io:
    snprintf(err, errlen, "cannot write the keys in %s: %s", dir, strerror(errno));
    unlink(tmp);
    return SL_EIO;
}

static int z85_key(const char *s)
{
    if (strlen(s) != 40)
        return 0;
    uint8_t bin[32];
    return zmq_z85_decode(bin, s) != NULL;
}

int sl_keys_load(const char *dir, sl_net_opts *o, char *err, size_t errlen)
{
    char path[4200], line[256], pub[64] = "", sec[64] = "";
    snprintf(path, sizeof path, "%s/cluster.key", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen,
                 "cannot read the cluster key %s: %s (make one with 'sluice keygen %s')", path,
                 strerror(errno), dir);
        return SL_EIO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
        fclose(f);
        snprintf(err, errlen, "%s may be read by others (mode %03o): chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        return SL_ECONFIG;
    }
    while (fgets(line, sizeof line, f)) {
        char key[16], val[64];
        if (line[0] == '#')
            continue;
        if (sscanf(line, " %15[a-z] = %63s", key, val) != 2)
            continue;
        if (strcmp(key, "public") == 0)
            snprintf(pub, sizeof pub, "%s", val);
        else if (strcmp(key, "secret") == 0)
            snprintf(sec, sizeof sec, "%s", val);
    }
    fclose(f);
    if (!z85_key(pub) || !z85_key(sec)) {
        snprintf(err, errlen,
                 "%s: expected \"public = KEY\" and \"secret = KEY\" lines with "
                 "40-character Z85 keys",
                 path);
        return SL_EPARSE;
    }
    char derived[41];
    if (zmq_curve_public(derived, sec) != 0 || strcmp(derived, pub) != 0) {
        snprintf(err, errlen, "%s: the public key does not belong to the secret key", path);
        return SL_EPARSE;
    }
    o->curve = 1;
    memcpy(o->curve_public, pub, 41);
    memcpy(o->curve_secret, sec, 41);
    memset(sec, 0, sizeof sec);
    return 0;
}

struct sl_zap {
    void *zctx;
    pthread_t thread;
    atomic_int stop;
    atomic_uint_fast64_t refused;
    uint8_t allowed[32];
    void *sock; /* bound by sl_zap_new, used by the thread only afterwards */
};

/* Receives the parts of one ZAP request (RFC 27): version, request id, domain, address,
 * identity, mechanism, credentials. Returns the number of parts (up to 8 kept), -1 on error. */
static int recv_request(void *s, zmq_msg_t *parts, int max)
{
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            for (int i = 0; i < n && i < max; i++)
                zmq_msg_close(&parts[i]);
            return -1;
        }
        more = zmq_msg_more(&m);
        if (n < max)
            parts[n] = m;
        else
            zmq_msg_close(&m);
        n++;
    }
    return n;
}

static void *zap_main(void *arg)
{
    sl_zap *z = arg;
    while (!atomic_load(&z->stop)) {
        zmq_pollitem_t it = {.socket = z->sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 50) <= 0 || !(it.revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t p[8];
        int n = recv_request(z->sock, p, 8);
        if (n < 0)
            continue;
        int kept = n < 8 ? n : 8;
        int ok = n >= 7 && zmq_msg_size(&p[5]) == 5 &&
                 memcmp(zmq_msg_data(&p[5]), "CURVE", 5) == 0 && zmq_msg_size(&p[6]) == 32 &&
                 memcmp(zmq_msg_data(&p[6]), z->allowed, 32) == 0;
        if (!ok)
            atomic_fetch_add(&z->refused, 1);
        const char *status = ok ? "200" : "400";
        const char *text = ok ? "OK" : "not a key of this cluster";
        zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE);
        if (kept >= 2)
            zmq_send(z->sock, zmq_msg_data(&p[1]), zmq_msg_size(&p[1]), ZMQ_SNDMORE);
        else
            zmq_send(z->sock, "", 0, ZMQ_SNDMORE);
        zmq_send(z->sock, status, 3, ZMQ_SNDMORE);
        zmq_send(z->sock, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(z->sock, ok ? "member" : "", ok ? 6 : 0, ZMQ_SNDMORE);
        zmq_send(z->sock, "", 0, 0);
        for (int i = 0; i < kept; i++)
            zmq_msg_close(&p[i]);
    }
    zmq_close(z->sock);
    return NULL;
}

int sl_zap_new(void *zctx, const sl_net_opts *o, sl_zap **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!o->curve)
        return 0;
    sl_zap *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(err, errlen, "out of memory");
        return SL_ENOMEM;
    }
    z->zctx = zctx;
    if (!zmq_z85_decode(z->allowed, o->curve_public)) {
        snprintf(err, errlen, "the cluster's public key is not Z85 text");
        free(z);
        return SL_EINVAL;
    }
    int zero = 0;
    z->sock = zmq_socket(zctx, ZMQ_REP);
    if (!z->sock || zmq_setsockopt(z->sock, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_bind(z->sock, ZAP_ENDPOINT)) {
        snprintf(err, errlen, "cannot start the ZAP handler: %s", zmq_strerror(zmq_errno()));
        if (z->sock)
            zmq_close(z->sock);
        free(z);
        return SL_EIO;
    }
    if (pthread_create(&z->thread, NULL, zap_main, z) != 0) {
        snprintf(err, errlen, "cannot start the ZAP thread");
        zmq_close(z->sock);
        free(z);
        return SL_EIO;
    }
    *out = z;
    return 0;
}

uint64_t sl_zap_refused(const sl_zap *z)
{
    return z ? (uint64_t)atomic_load(&((sl_zap *)z)->refused) : 0;
}

void sl_zap_destroy(sl_zap **zp)
{
    if (!zp || !*zp)
        return;
    sl_zap *z = *zp;
    atomic_store(&z->stop, 1);
    /* the context is being ended (sl_netctx_destroy): its shutdown ends the thread's poll at
     * once with ETERM, instead of at the end of its 50 ms wait; closed sockets that linger are
     * the reaper's, as they are when zmq_ctx_term alone ends it */
    zmq_ctx_shutdown(z->zctx);
    pthread_join(z->thread, NULL);
    free(z);
    *zp = NULL;
}
