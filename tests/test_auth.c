/* Tests of netio/auth.h: the cluster's CURVE key pair (sl_keys_generate, sl_keys_load) and the
 * ZAP handler (sl_zap_*), with real outboxes and inboxes over 127.0.0.1.
 *
 * Independence: key files are read here line by line from the layout auth.h documents, and a
 * public key is checked against the one libzmq derives from the secret (zmq_curve_public). The
 * refused peers are plain ZeroMQ sockets configured here, or outboxes with another cluster's
 * keys or none, and their refusal is seen from three sides: nothing delivered, the ZAP
 * handler's count, and the sockets' monitors.
 *
 * Every test makes its own ZeroMQ context and its own key folders under $SLUICE_TEST_TMP. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "auth.h"
#include "frame.h"
#include "inbox.h"
#include "outbox.h"
#include "sock.h"
#include "loopback.h"

/* Two application kinds (frame.h), one tracked and one not: netio carries them unread. */
enum { APP_TRACKED = SL_FRAME_APP_KIND(0, 1), APP_UNTRACKED = SL_FRAME_APP_KIND(1, 0) };

/* ---- files ----------------------------------------------------------------------------------- */

/* Makes a fresh directory under $SLUICE_TEST_TMP (or /tmp) into dir. */
static void make_tmpdir(char *dir, size_t size)
{
    const char *base = getenv("SLUICE_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    cr_assert(mkdir(base, 0777) == 0 || errno == EEXIST, "mkdir %s: %s", base, strerror(errno));
    snprintf(dir, size, "%s/auth-XXXXXX", base);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
}

/* Removes the files a key folder may hold, then the folder. */
static void remove_keys(const char *dir)
{
    const char *names[] = {"cluster.key", "cluster.pub", "cluster.key.tmp"};
    char path[1200];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert(ge(int, fputs(text, f), 0));
    cr_assert(eq(int, fclose(f), 0));
    cr_assert(eq(int, chmod(path, mode), 0));
}

/* Reads the whole file (at most size - 1 bytes) into buf. */
static void read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* The value of the "name = VALUE" line of a key file, as auth.h describes it. */
static void key_line(const char *text, const char *name, char out[41])
{
    char pat[32];
    snprintf(pat, sizeof pat, "\n%s = ", name);
    const char *p = strstr(text, pat);
    cr_assert_not_null(p, "no \"%s = \" line in:\n%s", name, text);
    p += strlen(pat);
    size_t n = strcspn(p, "\n");
    cr_assert(eq(sz, n, 40), "%s key of %zu characters", name, n);
    memcpy(out, p, 40);
    out[40] = '\0';
}

/* Generates keys into dir/name (a folder that does not exist yet) and returns the folder in out
 * and the key pair read back from the file. */
static void keygen(const char *dir, const char *name, char *out, size_t outlen, char pub[41],
                   char sec[41])
{
    char err[512] = "", path[1200], text[1024];
    snprintf(out, outlen, "%s/%s", dir, name);
    cr_assert(eq(int, sl_keys_generate(out, 0, err, sizeof err), 0), "keygen %s: %s", out, err);
    snprintf(path, sizeof path, "%s/cluster.key", out);
    read_file(path, text + 1, sizeof text - 1);
    text[0] = '\n'; /* so that the first line matches "\nname = " too */
    key_line(text, "public", pub);
    key_line(text, "secret", sec);
}

/* Skips the test when this libzmq has no CURVE. */
static void need_curve(void)
{
    if (zmq_has("curve") != 1)
        cr_skip_test("libzmq without CURVE");
}

static int contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* ---- keys ------------------------------------------------------------------------------------ */

/* keygen makes the folder (0700) and cluster.key (0600) whose public key is the one libzmq
 * derives from its secret key, and cluster.pub with the public key; it refuses to replace keys
 * without force (naming the file, leaving it as it was) and makes a new pair with force; load
 * reads back exactly the pair in the file. */
Test(auth, keygen)
{
    need_curve();
    char base[1024], dir[1100], pub[41], sec[41], derived[41], path[1200], text[1024];
    make_tmpdir(base, sizeof base);
    keygen(base, "keys", dir, sizeof dir, pub, sec);

    struct stat st;
    cr_assert(eq(int, stat(dir, &st), 0));
    cr_assert(eq(u32, (unsigned)(st.st_mode & 0777), 0700), "folder mode %03o",
              (unsigned)(st.st_mode & 0777));
    snprintf(path, sizeof path, "%s/cluster.key", dir);
    cr_assert(eq(int, stat(path, &st), 0));
    cr_assert(eq(u32, (unsigned)(st.st_mode & 0777), 0600), "key file mode %03o",
              (unsigned)(st.st_mode & 0777));
    cr_assert(eq(int, zmq_curve_public(derived, sec), 0));
    cr_assert(eq(str, derived, pub), "the public key is not the secret key's");
    cr_assert(ne(str, pub, sec));
    uint8_t bin[32];
    cr_assert_not_null(zmq_z85_decode(bin, pub));
    cr_assert_not_null(zmq_z85_decode(bin, sec));
    char pubfile[1200];
    snprintf(pubfile, sizeof pubfile, "%s/cluster.pub", dir);
    read_file(pubfile, text, sizeof text);
    cr_assert(eq(int, strncmp(text, pub, 40), 0), "cluster.pub: %s", text);
    cr_assert(eq(sz, strcspn(text, "\n"), 40));

    sl_net_opts o;
    sl_net_opts_defaults(&o);
    char err[512] = "";
    cr_assert(eq(int, sl_keys_load(dir, &o, err, sizeof err), 0), "%s", err);
    cr_assert(eq(int, o.curve, 1));
    cr_assert(eq(str, o.curve_public, pub));
    cr_assert(eq(str, o.curve_secret, sec));

    /* no replacement without force */
    char before[1024], after[1024];
    read_file(path, before, sizeof before);
    err[0] = '\0';
    cr_assert(eq(int, sl_keys_generate(dir, 0, err, sizeof err), SL_EEXIST));
    cr_assert(contains(err, path), "message does not name %s: %s", path, err);
    read_file(path, after, sizeof after);
    cr_assert(eq(str, after, before), "the key file changed");

    /* with force: a new pair, as private and as consistent */
    cr_assert(eq(int, sl_keys_generate(dir, 1, err, sizeof err), 0), "%s", err);
    read_file(path, text + 1, sizeof text - 1);
    text[0] = '\n';
    char pub2[41], sec2[41];
    key_line(text, "public", pub2);
    key_line(text, "secret", sec2);
    cr_assert(ne(str, pub2, pub), "force made the same key");
    cr_assert(eq(int, zmq_curve_public(derived, sec2), 0));
    cr_assert(eq(str, derived, pub2));
    cr_assert(eq(int, stat(path, &st), 0));
    cr_assert(eq(u32, (unsigned)(st.st_mode & 0777), 0600));
    read_file(pubfile, text, sizeof text);
    cr_assert(eq(int, strncmp(text, pub2, 40), 0));

    remove_keys(dir);
    rmdir(base);
}

/* load refuses, each time with a message that names the key file: a missing file, a key file
 * others may read (world or group; the same file loads once it is 0600), a public key that is
 * not the secret key's (two valid keys of different pairs), and malformed files. */
Test(auth, load_refuses)
{
    need_curve();
    char base[1024], d1[1100], d2[1100], p1[41], s1[41], p2[41], s2[41], path[1200];
    char err[512], text[1024];
    make_tmpdir(base, sizeof base);
    keygen(base, "one", d1, sizeof d1, p1, s1);
    keygen(base, "two", d2, sizeof d2, p2, s2);
    snprintf(path, sizeof path, "%s/cluster.key", d1);
    sl_net_opts o;
    sl_net_opts_defaults(&o);

    /* missing */
    char nodir[1200], nopath[1300];
    snprintf(nodir, sizeof nodir, "%s/none", base);
    snprintf(nopath, sizeof nopath, "%s/cluster.key", nodir);
    err[0] = '\0';
    cr_assert(eq(int, sl_keys_load(nodir, &o, err, sizeof err), SL_EIO));
    cr_assert(contains(err, nopath), "missing file: %s", err);

    /* readable by others: refused; the same file at 0600 loads */
    mode_t modes[] = {0644, 0640, 0604, 0660};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        cr_assert(eq(int, chmod(path, modes[i]), 0));
        err[0] = '\0';
        cr_assert(eq(int, sl_keys_load(d1, &o, err, sizeof err), SL_ECONFIG), "mode %03o loaded",
                  (unsigned)modes[i]);
        cr_assert(contains(err, path), "mode %03o: %s", (unsigned)modes[i], err);
    }
    cr_assert(eq(int, chmod(path, 0600), 0));
    cr_assert(eq(int, sl_keys_load(d1, &o, err, sizeof err), 0), "%s", err);
    cr_assert(eq(str, o.curve_public, p1));

    /* each file below is 0600, so that its content is the only fault */
    struct {
        const char *what;
        char text[512];
    } bad[10];
    size_t nb = 0;
    bad[nb].what = "public key of another pair";
    snprintf(bad[nb++].text, 512, "public = %s\nsecret = %s\n", p2, s1);
    bad[nb].what = "secret key of another pair";
    snprintf(bad[nb++].text, 512, "public = %s\nsecret = %s\n", p1, s2);
    bad[nb].what = "public and secret swapped";
    snprintf(bad[nb++].text, 512, "public = %s\nsecret = %s\n", s1, p1);
    bad[nb].what = "no secret line";
    snprintf(bad[nb++].text, 512, "public = %s\n", p1);
    bad[nb].what = "no public line";
    snprintf(bad[nb++].text, 512, "secret = %s\n", s1);
    bad[nb].what = "empty file";
    bad[nb++].text[0] = '\0';
    bad[nb].what = "public key one character short";
    snprintf(bad[nb++].text, 512, "public = %.39s\nsecret = %s\n", p1, s1);
    bad[nb].what = "secret key one character long";
    snprintf(bad[nb++].text, 512, "public = %s\nsecret = %s0\n", p1, s1);
    bad[nb].what = "a character outside Z85";
    snprintf(bad[nb].text, 512, "public = %s\nsecret = %s\n", p1, s1);
    bad[nb++].text[9 + 17] = '~';
    bad[nb].what = "garbage";
    snprintf(bad[nb++].text, 512, "this is not a key file\n\x01\x02\xff\n");
    for (size_t i = 0; i < nb; i++) {
        write_file(path, bad[i].text, 0600);
        sl_net_opts q;
        sl_net_opts_defaults(&q);
        err[0] = '\0';
        cr_assert(eq(int, sl_keys_load(d1, &q, err, sizeof err), SL_EPARSE), "%s: loaded",
                  bad[i].what);
        cr_assert(contains(err, path), "%s: message does not name the file: %s", bad[i].what, err);
    }
    /* and the good pair, written the same way, loads (comments and all) */
    snprintf(text, sizeof text, "# a comment\npublic = %s\nsecret = %s\n", p2, s2);
    write_file(path, text, 0600);
    cr_assert(eq(int, sl_keys_load(d1, &o, err, sizeof err), 0), "%s", err);
    cr_assert(eq(str, o.curve_public, p2));
    cr_assert(eq(str, o.curve_secret, s2));

    remove_keys(d1);
    remove_keys(d2);
    rmdir(base);
}

/* ---- sockets --------------------------------------------------------------------------------- */

static size_t recsize_fn(uint32_t schema)
{
    return schema == 1 ? 16 : 0;
}

/* Receives the next frame within ms milliseconds: 1 with *f, or 0. */
static int recv_one(sl_inbox *ib, sl_frame *f, int ms)
{
    uint64_t deadline = sl_net_now_us() + (uint64_t)ms * 1000;
    int rc;
    while ((rc = sl_inbox_recv(ib, f)) == 0 && sl_net_now_us() < deadline) {
        zmq_pollitem_t it = {.socket = sl_inbox_socket(ib), .events = ZMQ_POLLIN};
        zmq_poll(&it, 1, 10);
    }
    cr_assert(ge(int, rc, 0));
    return rc;
}

/* A plain ZeroMQ PUSH socket (linger 0), not yet connected. */
static void *raw_push(void *ctx)
{
    void *raw = zmq_socket(ctx, ZMQ_PUSH);
    cr_assert_not_null(raw);
    int zero = 0;
    cr_assert(eq(int, zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof zero), 0));
    return raw;
}

/* Sends a well-formed frame of a stranger's (source 66) without waiting. */
static void send_evil(void *raw)
{
    unsigned char frame[SL_FRAME_HDR + 4];
    sl_frame_hdr h = {.kind = APP_TRACKED, .source = 66, .stream = 1, .payload_len = 4};
    memcpy(frame + SL_FRAME_HDR, "evil", 4);
    sl_frame_encode(&h, frame + SL_FRAME_HDR, frame);
    cr_assert(eq(int, zmq_send(raw, frame, sizeof frame, ZMQ_DONTWAIT), (int)sizeof frame));
}

struct cluster {
    char base[1024], dir[1100], other[1100];
    char pub[41], sec[41], opub[41], osec[41];
    sl_net_opts o;  /* the cluster's keys */
    sl_net_opts oo; /* another cluster's */
    void *ctx;
    sl_zap *zap;
    sl_inbox *ib;
    char ep[128];
};

/* Two key folders, a context with the ZAP handler for the first, and an inbox (a CURVE server
 * with the first) on an ephemeral port. Skips the test without CURVE. */
static void cluster_up(struct cluster *c)
{
    need_curve();
    make_tmpdir(c->base, sizeof c->base);
    keygen(c->base, "keys", c->dir, sizeof c->dir, c->pub, c->sec);
    keygen(c->base, "other", c->other, sizeof c->other, c->opub, c->osec);
    char err[512] = "";
    c->o = c->oo = tu_net_opts();
    cr_assert(eq(int, sl_keys_load(c->dir, &c->o, err, sizeof err), 0), "%s", err);
    cr_assert(eq(int, sl_keys_load(c->other, &c->oo, err, sizeof err), 0), "%s", err);
    c->ctx = zmq_ctx_new();
    cr_assert_not_null(c->ctx);
    cr_assert(eq(int, sl_zap_new(c->ctx, &c->o, &c->zap, err, sizeof err), 0), "%s", err);
    cr_assert_not_null(c->zap);
    c->ib = tu_bind_inbox(c->ctx, &c->o, recsize_fn, c->ep, sizeof c->ep);
}

static void cluster_down(struct cluster *c)
{
    sl_inbox_destroy(&c->ib);
    sl_zap_destroy(&c->zap);
    cr_assert_null(c->zap);
    cr_assert(eq(int, zmq_ctx_term(c->ctx), 0));
    remove_keys(c->dir);
    remove_keys(c->other);
    rmdir(c->base);
}

static sl_outbox *outbox(struct cluster *c, const sl_net_opts *o, uint32_t source)
{
    char err[512] = "";
    sl_outbox *ob = NULL;
    cr_assert(eq(int, sl_outbox_new(c->ctx, c->ep, source, o, &ob, err, sizeof err), 0),
              "sl_outbox_new: %s", err);
    return ob;
}

/* Receives for up to ms milliseconds; returns the frames delivered (at most max, into f's
 * kinds). */
static size_t receive_for(sl_inbox *ib, int ms, uint16_t *kinds, size_t max)
{
    uint64_t deadline = sl_net_now_us() + (uint64_t)ms * 1000;
    size_t n = 0;
    while (sl_net_now_us() < deadline) {
        sl_frame f;
        int r;
        while ((r = sl_inbox_recv(ib, &f)) == 1) {
            if (n < max)
                kinds[n] = f.h.kind;
            n++;
        }
        cr_assert(eq(int, r, 0));
        zmq_pollitem_t it = {.socket = sl_inbox_socket(ib), .events = ZMQ_POLLIN};
        zmq_poll(&it, 1, 10);
    }
    return n;
}

/* One turn of waiting for an outbox to be refused: pumps ob, receives on the cluster's inbox
 * for 20 ms (returns the frames delivered) and reads both sides' counts into *is and *os. */
static size_t refusal_turn(struct cluster *c, sl_outbox *ob, sl_inbox_stats *is,
                           sl_outbox_stats *os)
{
    uint16_t kinds[8];
    cr_assert(eq(int, sl_outbox_pump(ob), 0));
    size_t got = receive_for(c->ib, 20, kinds, 8);
    sl_inbox_poll_monitor(c->ib);
    sl_inbox_get_stats(c->ib, is);
    sl_outbox_get_stats(ob, os);
    return got;
}

/* Once refused, `who` (which had `got` frames delivered so far) stays out: nothing arrives in
 * another 200 ms, and its outbox ob never connected nor sent, its frame still queued. Leaves the
 * last counts in *is and *os. */
static void kept_out(struct cluster *c, sl_outbox *ob, size_t got, sl_inbox_stats *is,
                     sl_outbox_stats *os, const char *who)
{
    uint16_t kinds[8];
    got += receive_for(c->ib, 200, kinds, 8);
    got += refusal_turn(c, ob, is, os);
    cr_assert(eq(sz, got, 0), "%s's frame arrived", who);
    cr_assert(eq(u64, os->connects, 0), "%s", who);
    cr_assert(eq(u64, os->frames, 0), "%s", who);
    cr_assert(eq(sz, sl_outbox_queued_frames(ob), 1), "%s", who);
}

/* The cluster's outbox and inbox, both with its keys: frames go through intact (DATA, a control
 * frame and an untracked one), the handshake succeeds once, and the ZAP handler refuses nobody. */
Test(auth, curve_delivers)
{
    struct cluster c;
    cluster_up(&c);
    sl_outbox *ob = outbox(&c, &c.o, 3);
    unsigned char recs[10 * 16];
    for (size_t i = 0; i < sizeof recs; i++)
        recs[i] = (unsigned char)(i * 7 + 1);
    cr_assert(eq(int, sl_outbox_put(ob, 5, 1, 16, recs, 10), 0));
    cr_assert(eq(int, sl_outbox_control(ob, SL_FRAME_EOS, 5, "end", 3), 0));
    cr_assert(eq(int, sl_outbox_drain(ob, 5000), 0), "not connected within 5 s");
    uint64_t deadline = sl_net_now_us() + 5000000;
    int rc;
    while ((rc = sl_outbox_send_now(ob, APP_UNTRACKED, 5, "alive", 5)) == 1 &&
           sl_net_now_us() < deadline)
        sl_outbox_pump(ob);
    cr_assert(eq(int, rc, 0));

    sl_frame f;
    uint16_t want[] = {SL_FRAME_DATA, SL_FRAME_EOS, APP_UNTRACKED};
    for (size_t i = 0; i < 3; i++) {
        cr_assert(eq(int, recv_one(c.ib, &f, 5000), 1), "frame %zu not delivered", i);
        cr_assert(eq(u16, f.h.kind, want[i]));
        cr_assert(eq(u32, f.h.source, 3));
        if (i == 0) {
            cr_assert(eq(u32, f.h.count, 10));
            cr_assert(eq(int, memcmp(f.payload, recs, sizeof recs), 0));
        } else if (i == 1) {
            cr_assert(eq(u64, f.h.seq, 1));
            cr_assert(eq(int, memcmp(f.payload, "end", 3), 0));
        } else {
            cr_assert(eq(int, memcmp(f.payload, "alive", 5), 0));
        }
    }
    sl_outbox_pump(ob);
    sl_outbox_stats os;
    sl_outbox_get_stats(ob, &os);
    cr_assert(eq(u64, os.connects, 1));
    cr_assert(eq(u64, os.auth_failed, 0));
    sl_inbox_poll_monitor(c.ib);
    sl_inbox_stats is;
    sl_inbox_get_stats(c.ib, &is);
    cr_assert(eq(u64, is.handshake_failed, 0));
    cr_assert(eq(u64, is.accepted, 1));
    cr_assert(eq(u64, sl_zap_refused(c.zap), 0));

    sl_outbox_destroy(&ob);
    cluster_down(&c);
}

/* Reads the monitor events of a raw socket until one is `event` or ms milliseconds passed;
 * returns 1 with its value in *value, or 0. */
static int wait_event(void *mon, uint16_t event, int ms, uint32_t *value)
{
    int n = 0;
    uint64_t deadline = sl_net_now_us() + (uint64_t)ms * 1000;
    while (n == 0 && sl_net_now_us() < deadline) {
        zmq_pollitem_t it = {.socket = mon, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 10) <= 0)
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        cr_assert(ge(int, zmq_msg_recv(&m, mon, 0), 0));
        uint16_t id = 0;
        uint32_t v = 0;
        if (zmq_msg_size(&m) >= 6) {
            memcpy(&id, zmq_msg_data(&m), 2);
            memcpy(&v, (char *)zmq_msg_data(&m) + 2, 4);
        }
        int more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        while (more) {
            zmq_msg_init(&m);
            cr_assert(ge(int, zmq_msg_recv(&m, mon, 0), 0));
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        if (id == event) {
            n++;
            *value = v;
        }
    }
    return n;
}

/* A CURVE client that knows the cluster's public key (it is public: cluster.pub) but holds
 * another key pair: the ZAP handler refuses it (its own monitor reports a 400), the inbox counts
 * the failed handshake and delivers nothing. An outbox holding another cluster's keys entirely
 * does not get through either: it never connects, and a failed handshake is counted. Then the
 * cluster's own outbox still gets through. */
Test(auth, other_keys_refused)
{
    struct cluster c;
    cluster_up(&c);

    /* a raw CURVE client: server key right, client key pair wrong */
    void *raw = raw_push(c.ctx);
    int zero = 0;
    cr_assert(eq(int, zmq_setsockopt(raw, ZMQ_CURVE_SERVERKEY, c.pub, 40), 0));
    cr_assert(eq(int, zmq_setsockopt(raw, ZMQ_CURVE_PUBLICKEY, c.opub, 40), 0));
    cr_assert(eq(int, zmq_setsockopt(raw, ZMQ_CURVE_SECRETKEY, c.osec, 40), 0));
    cr_assert(eq(
        int, zmq_socket_monitor(raw, "inproc://auth-raw-mon", ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), 0));
    void *mon = zmq_socket(c.ctx, ZMQ_PAIR);
    cr_assert_not_null(mon);
    cr_assert(eq(int, zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero), 0));
    cr_assert(eq(int, zmq_connect(mon, "inproc://auth-raw-mon"), 0));
    cr_assert(eq(int, zmq_connect(raw, c.ep), 0));
    send_evil(raw);
    uint32_t status = 0;
    cr_assert(eq(int, wait_event(mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 5000, &status), 1),
              "the client was not refused");
    cr_assert(eq(u32, status, 400));
    uint16_t kinds[8];
    cr_assert(eq(sz, receive_for(c.ib, 300, kinds, 8), 0), "a refused client's frame arrived");
    uint64_t refused = sl_zap_refused(c.zap);
    cr_assert(gt(u64, refused, 0));
    sl_inbox_poll_monitor(c.ib);
    sl_inbox_stats is;
    sl_inbox_get_stats(c.ib, &is);
    cr_assert(gt(u64, is.handshake_failed, 0));
    zmq_socket_monitor(raw, NULL, 0);
    zmq_close(mon);
    zmq_close(raw);

    /* an outbox of another cluster: nothing gets through, the handshake fails */
    uint64_t failed_before = is.handshake_failed;
    sl_outbox *rogue = outbox(&c, &c.oo, 67);
    cr_assert(eq(int, sl_outbox_control(rogue, APP_TRACKED, 1, "evil", 4), 0));
    uint64_t deadline = sl_net_now_us() + 1000000;
    sl_outbox_stats os;
    size_t got = 0;
    do
        got += refusal_turn(&c, rogue, &is, &os);
    while (is.handshake_failed == failed_before && os.auth_failed == 0 &&
           sl_net_now_us() < deadline);
    kept_out(&c, rogue, got, &is, &os, "another cluster");
    cr_assert(os.auth_failed > 0 || is.handshake_failed > failed_before,
              "no failed handshake seen (outbox auth_failed %llu, inbox handshake_failed %llu)",
              (unsigned long long)os.auth_failed, (unsigned long long)is.handshake_failed);
    sl_outbox_destroy(&rogue);

    /* the cluster's own outbox is still welcome */
    sl_outbox *ob = outbox(&c, &c.o, 3);
    cr_assert(eq(int, sl_outbox_control(ob, APP_TRACKED, 1, "good", 4), 0));
    cr_assert(eq(int, sl_outbox_drain(ob, 5000), 0));
    sl_frame f;
    cr_assert(eq(int, recv_one(c.ib, &f, 5000), 1));
    cr_assert(eq(u32, f.h.source, 3));
    cr_assert(eq(int, memcmp(f.payload, "good", 4), 0));
    sl_outbox_destroy(&ob);
    cluster_down(&c);
}

/* Peers without CURVE: a plain ZeroMQ PUSH and an outbox without keys fail the handshake (the
 * inbox counts both, the outbox counts its own as refused) and nothing they send is delivered. */
Test(auth, plain_peer_refused)
{
    struct cluster c;
    cluster_up(&c);

    void *raw = raw_push(c.ctx);
    cr_assert(eq(int, zmq_connect(raw, c.ep), 0));
    send_evil(raw);

    sl_net_opts plain = tu_net_opts();
    sl_outbox *ob = outbox(&c, &plain, 68);
    cr_assert(eq(int, sl_outbox_control(ob, APP_TRACKED, 1, "evil", 4), 0));

    /* until both were refused (ZeroMQ does not retry after a mechanism mismatch) */
    size_t got = 0;
    sl_inbox_stats is;
    sl_outbox_stats os;
    uint64_t deadline = sl_net_now_us() + 5000000;
    do
        got += refusal_turn(&c, ob, &is, &os);
    while ((is.handshake_failed < 2 || os.auth_failed == 0) && sl_net_now_us() < deadline);
    kept_out(&c, ob, got, &is, &os, "a plain peer");
    cr_assert(ge(u64, is.handshake_failed, 2), "handshake failures %llu",
              (unsigned long long)is.handshake_failed);
    cr_assert(eq(u64, is.frames, 0));
    cr_assert(ge(u64, os.auth_failed, 1), "the outbox did not count the refusal");

    sl_outbox_destroy(&ob);
    zmq_close(raw);
    cluster_down(&c);
}

/* ---- what goes over the wire ----------------------------------------------------------------- */

/* A TCP relay in a thread of its own between one outbox and one inbox, keeping a copy of the
 * bytes it relays from the outbox (the first 1 MiB). */
struct tap {
    tu_relay r;
    unsigned char *seen;
    size_t nseen;
};

static void *tap_main(void *arg)
{
    struct tap *t = arg;
    unsigned char buf[4096];
    int cfd = -1, sfd = -1;
    while (!atomic_load(&t->r.stop) && cfd < 0)
        cfd = tu_relay_accept(&t->r);
    if (cfd >= 0)
        sfd = tu_connect_loopback(t->r.upstream);
    while (!atomic_load(&t->r.stop) && cfd >= 0 && sfd >= 0) {
        struct pollfd pf[2] = {{.fd = cfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        if (poll(pf, 2, 50) <= 0)
            continue;
        int from = pf[0].revents ? cfd : sfd, to = from == cfd ? sfd : cfd;
        ssize_t n = recv(from, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        if (from == cfd) {
            size_t keep = (size_t)n < (1u << 20) - t->nseen ? (size_t)n : (1u << 20) - t->nseen;
            memcpy(t->seen + t->nseen, buf, keep);
            t->nseen += keep;
        }
        /* small writes to loopback: a blocking send is fine */
        if (send(to, buf, (size_t)n, MSG_NOSIGNAL) != n)
            break;
    }
    if (cfd >= 0)
        close(cfd);
    if (sfd >= 0)
        close(sfd);
    return NULL;
}

static void tap_start(struct tap *t, const char *inbox_ep)
{
    t->seen = malloc(1u << 20);
    cr_assert_not_null(t->seen);
    tu_relay_start(&t->r, (uint16_t)atoi(strrchr(inbox_ep, ':') + 1), 4, tap_main, t);
}

static int has_bytes(const unsigned char *hay, size_t n, const unsigned char *needle, size_t k)
{
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return 1;
    return 0;
}

/* Sends 20 records and an EOS through a tap from an outbox to an inbox with options o (and the
 * context's ZAP handler, if any), checks they arrived, and returns whether the tap saw the
 * records' bytes or the EOS text in the clear. */
static int sent_in_clear(void *ctx, const sl_net_opts *o)
{
    char err[512] = "", ep[128], tep[64];
    sl_inbox *ib = tu_bind_inbox(ctx, o, recsize_fn, ep, sizeof ep);
    struct tap t = {0};
    tap_start(&t, ep);
    snprintf(tep, sizeof tep, "tcp://127.0.0.1:%u", t.r.port);
    sl_outbox *ob = NULL;
    cr_assert(eq(int, sl_outbox_new(ctx, tep, 4, o, &ob, err, sizeof err), 0), "%s", err);
    unsigned char recs[20 * 16];
    for (size_t i = 0; i < sizeof recs; i++)
        recs[i] = (unsigned char)("sluice-plaintext"[i % 16] ^ (i / 16));
    const char *eos = "the secret end of the stream";
    cr_assert(eq(int, sl_outbox_put(ob, 5, 1, 16, recs, 20), 0));
    cr_assert(eq(int, sl_outbox_control(ob, SL_FRAME_EOS, 5, eos, strlen(eos)), 0));
    cr_assert(eq(int, sl_outbox_drain(ob, 5000), 0), "not connected through the tap");
    sl_frame f;
    int got = 0;
    uint64_t deadline = sl_net_now_us() + 5000000;
    while (got < 2 && sl_net_now_us() < deadline) {
        int rc = sl_inbox_recv(ib, &f);
        cr_assert(ge(int, rc, 0));
        if (rc == 1) {
            if (got == 0)
                cr_assert(eq(int, memcmp(f.payload, recs, sizeof recs), 0));
            else
                cr_assert(eq(int, memcmp(f.payload, eos, strlen(eos)), 0));
            got++;
            continue;
        }
        zmq_pollitem_t it = {.socket = sl_inbox_socket(ib), .events = ZMQ_POLLIN};
        zmq_poll(&it, 1, 10);
    }
    cr_assert(eq(int, got, 2), "not delivered through the tap");
    sl_outbox_destroy(&ob);
    sl_inbox_destroy(&ib);
    tu_relay_stop(&t.r);
    cr_assert(gt(sz, t.nseen, sizeof recs), "the tap saw %zu bytes", t.nseen);
    int clear = has_bytes(t.seen, t.nseen, recs, sizeof recs) ||
                has_bytes(t.seen, t.nseen, (const unsigned char *)eos, strlen(eos));
    free(t.seen);
    return clear;
}

/* With the cluster's keys, frames cross the wire encrypted: neither the records nor a control
 * frame's text can be read off the TCP stream. Without keys, the same tap does read them (so the
 * tap would see plaintext if there were any). */
Test(auth, traffic_encrypted)
{
    struct cluster c;
    cluster_up(&c);
    cr_assert(eq(int, sent_in_clear(c.ctx, &c.o), 0), "CURVE traffic in the clear");
    cr_assert(eq(u64, sl_zap_refused(c.zap), 0));
    cluster_down(&c);

    void *ctx = zmq_ctx_new();
    cr_assert_not_null(ctx);
    sl_net_opts plain = tu_net_opts();
    cr_assert(eq(int, sent_in_clear(ctx, &plain), 1), "the tap did not see plain traffic");
    cr_assert(eq(int, zmq_ctx_term(ctx), 0));
}
