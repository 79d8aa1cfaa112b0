/* host/cluster/zk.h against a real ZooKeeper (Debian's, started by tests/zk.sh on a free
 * loopback port, tests/helpers/zkserver.h): znodes made with their parents, versions, sorted
 * children, sequential names and counters; an ephemeral znode gone when its session closes and
 * when its process is killed (SIGKILL) after the session timeout; the election recipe of
 * host/cluster/coord.c (lowest ephemeral sequential znode wins) handing over; an expired session
 * (its process stopped with SIGSTOP past the timeout) reported, renewed and registered again;
 * and a session that outlives a restart of the server. Timings are logged. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/new/assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "zk.h"
#include "zkserver.h"

#define SESSION_MS 2000

static struct zkserver srv;

static void up(void)
{
    zks_start(&srv);
}

static void down(void)
{
    zks_destroy(&srv);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static sl_zk *connect_zk(void)
{
    sl_zk *z = NULL;
    char msg[512];
    int rc = sl_zk_new(srv.connect, SESSION_MS, 10000, &z, msg, sizeof msg);
    cr_assert(eq(int, rc, 0), "%s", msg);
    return z;
}

/* Waits up to timeout_s until `path` exists (want 1) or not (want 0); returns the seconds. */
static double wait_exists(sl_zk *z, const char *path, int want, double timeout_s)
{
    double t0 = now();
    char msg[512];
    for (;;) {
        int rc = sl_zk_exists(z, path, 0, NULL, msg, sizeof msg);
        cr_assert(rc == 0 || rc == SL_ENOENT, "%s", msg);
        if ((rc == 0) == want)
            return now() - t0;
        cr_assert(lt(dbl, now() - t0, timeout_s), "%s still %s after %.1f s", path,
                  want ? "missing" : "there", timeout_s);
        usleep(20000);
    }
}

Test(zk, znodes_versions_children_counters, .init = up, .fini = down, .timeout = 60)
{
    sl_zk *z = connect_zk();
    char msg[512], made[256];
    cr_assert(eq(int, sl_zk_state(z), SL_ZK_CONNECTED));
    cr_assert(eq(u32, sl_zk_generation(z), 1));
    cr_assert(ne(i64, sl_zk_session(z), 0));
    /* parents made on request only */
    cr_assert(eq(int, sl_zk_create(z, "/a/b/c", "x", 1, 0, NULL, 0, msg, sizeof msg), SL_ENOENT));
    cr_assert(
        eq(int,
           sl_zk_create(z, "/a/b/c", "hello", 5, SL_ZK_PARENTS, made, sizeof made, msg, sizeof msg),
           0),
        "%s", msg);
    cr_assert(eq(str, made, "/a/b/c"));
    cr_assert(eq(int, sl_zk_create(z, "/a/b/c", "x", 1, 0, NULL, 0, msg, sizeof msg), SL_EEXIST));
    char *d;
    size_t len;
    sl_zk_stat st;
    cr_assert(eq(int, sl_zk_get(z, "/a/b/c", 0, &d, &len, &st, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(str, d, "hello"));
    cr_assert(eq(sz, len, 5));
    cr_assert(eq(i32, st.version, 0));
    cr_assert(eq(i64, st.owner, 0), "persistent: no owner");
    free(d);
    /* versions: a write with the old one is refused */
    int32_t v;
    cr_assert(eq(int, sl_zk_set(z, "/a/b/c", "two", 3, 0, &v, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(i32, v, 1));
    cr_assert(eq(int, sl_zk_set(z, "/a/b/c", "three", 5, 0, NULL, msg, sizeof msg), SL_ESTALE));
    cr_assert(eq(int, sl_zk_delete(z, "/a/b/c", 0, msg, sizeof msg), SL_ESTALE));
    cr_assert(eq(int, sl_zk_set(z, "/nope", "x", 1, -1, NULL, msg, sizeof msg), SL_ENOENT));
    cr_assert(eq(int, sl_zk_get(z, "/nope", 0, &d, &len, NULL, msg, sizeof msg), SL_ENOENT));
    cr_assert_null(d);
    /* a big value (a topology's text) */
    size_t big = 300000;
    char *b = malloc(big);
    for (size_t i = 0; i < big; i++)
        b[i] = (char)('a' + i % 26);
    cr_assert(eq(int, sl_zk_put(z, "/a/big", b, big, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(int, sl_zk_get(z, "/a/big", 0, &d, &len, NULL, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(sz, len, big));
    cr_assert(eq(int, memcmp(d, b, big), 0));
    free(d);
    free(b);
    /* sequential names grow; children come sorted */
    char first[256], second[256];
    cr_assert(eq(int,
                 sl_zk_create(z, "/a/q/n-", "", 0, SL_ZK_SEQUENTIAL | SL_ZK_PARENTS, first,
                              sizeof first, msg, sizeof msg),
                 0),
              "%s", msg);
    cr_assert(eq(int,
                 sl_zk_create(z, "/a/q/n-", "", 0, SL_ZK_SEQUENTIAL, second, sizeof second, msg,
                              sizeof msg),
                 0),
              "%s", msg);
    cr_assert(lt(str, first, second));
    cr_assert(eq(sz, strlen(first), strlen("/a/q/n-") + 10), "%s", first);
    sl_zk_names n;
    cr_assert(eq(int, sl_zk_children(z, "/a", 0, &n, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(int, n.n, 3));
    cr_assert(eq(str, n.name[0], "b"));
    cr_assert(eq(str, n.name[1], "big"));
    cr_assert(eq(str, n.name[2], "q"));
    sl_zk_names_free(&n);
    cr_assert(eq(int, sl_zk_delete(z, "/a/q", -1, msg, sizeof msg), SL_EEXIST), "not empty");
    /* counters: every increment its own value */
    uint64_t c = 0;
    for (uint64_t i = 1; i <= 5; i++) {
        cr_assert(eq(int, sl_zk_incr(z, "/a/counter/x", &c, msg, sizeof msg), 0), "%s", msg);
        cr_assert(eq(u64, c, i));
    }
    cr_assert(eq(int, sl_zk_delete_tree(z, "/a", msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(int, sl_zk_exists(z, "/a", 0, NULL, msg, sizeof msg), SL_ENOENT));
    sl_zk_destroy(&z);
    cr_assert_null(z);
}

Test(zk, no_server_is_an_error_in_time, .timeout = 30)
{
    sl_zk *z = NULL;
    char msg[512];
    double t0 = now();
    int rc = sl_zk_new("127.0.0.1:1", SESSION_MS, 1000, &z, msg, sizeof msg);
    cr_assert(eq(int, rc, SL_EIO));
    cr_assert_null(z);
    cr_assert(lt(dbl, now() - t0, 5.0));
    cr_assert_not_null(strstr(msg, "did not answer within 1000 ms"), "%s", msg);
    cr_assert(eq(int, sl_zk_new("", SESSION_MS, 1000, &z, msg, sizeof msg), SL_EINVAL));
}

Test(zk, ephemeral_gone_when_session_closes, .init = up, .fini = down, .timeout = 60)
{
    sl_zk *a = connect_zk(), *b = connect_zk();
    char msg[512];
    sl_zk_stat st;
    cr_assert(eq(int,
                 sl_zk_create(a, "/m/x", "1", 1, SL_ZK_EPHEMERAL | SL_ZK_PARENTS, NULL, 0, msg,
                              sizeof msg),
                 0),
              "%s", msg);
    cr_assert(eq(int, sl_zk_exists(b, "/m/x", 1, &st, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(i64, st.owner, sl_zk_session(a)));
    uint64_t ev = sl_zk_events(b);
    sl_zk_destroy(&a);
    double s = wait_exists(b, "/m/x", 0, 5);
    cr_log_info("ephemeral znode gone %.3f s after its session closed", s);
    for (int i = 0; i < 200 && sl_zk_events(b) == ev; i++)
        usleep(10000);
    cr_assert(gt(u64, sl_zk_events(b), ev), "the watch on /m/x fired");
    sl_zk_destroy(&b);
}

/* A child process with a session of its own: makes ephemeral `path`, says so on fd, and then
 * watches its session: after an expiry it renews it, makes `path` again and says "again"; it
 * never exits by itself. */
static void child_session(const char *path, int fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sl_zk *z = NULL;
    char msg[512];
    if (sl_zk_new(srv.connect, SESSION_MS, 10000, &z, msg, sizeof msg) ||
        sl_zk_create(z, path, "c", 1, SL_ZK_EPHEMERAL | SL_ZK_PARENTS, NULL, 0, msg, sizeof msg))
        _exit(3);
    if (write(fd, "up", 2) != 2)
        _exit(4);
    for (;;) {
        usleep(20000);
        if (sl_zk_state(z) != SL_ZK_EXPIRED)
            continue;
        if (sl_zk_renew(z, 10000, msg, sizeof msg) ||
            sl_zk_create(z, path, "c", 1, SL_ZK_EPHEMERAL | SL_ZK_PARENTS, NULL, 0, msg,
                         sizeof msg))
            _exit(5);
        char g[16];
        int n = snprintf(g, sizeof g, "again%u", sl_zk_generation(z));
        if (write(fd, g, (size_t)n) != n)
            _exit(6);
    }
}

static pid_t start_child(const char *path, int *rfd)
{
    int p[2];
    cr_assert(eq(int, pipe(p), 0));
    pid_t pid = fork();
    cr_assert(ge(int, pid, 0));
    if (pid == 0) {
        close(p[0]);
        child_session(path, p[1]);
    }
    close(p[1]);
    char buf[8] = "";
    cr_assert(eq(long, (long)read(p[0], buf, 2), 2L), "the child's session");
    *rfd = p[0];
    return pid;
}

Test(zk, ephemeral_gone_after_sigkill_and_expiry_renewed, .init = up, .fini = down, .timeout = 60)
{
    int fd1, fd2;
    pid_t k = start_child("/m/killed", &fd1); /* before this process has ZooKeeper threads */
    pid_t s = start_child("/m/stopped", &fd2);
    sl_zk *z = connect_zk();
    wait_exists(z, "/m/killed", 1, 5);
    kill(k, SIGKILL);
    double t0 = now();
    waitpid(k, NULL, 0);
    double gone = wait_exists(z, "/m/killed", 0, 4.0 * SESSION_MS / 1000);
    cr_log_info("after SIGKILL the ephemeral znode went in %.2f s (session %d ms)", now() - t0,
                SESSION_MS);
    cr_assert(ge(dbl, gone, 0.5 * SESSION_MS / 1000), "not before the session timeout");

    /* stopped past its session timeout: the server expires it; resumed, the child is told,
     * renews it and registers again */
    kill(s, SIGSTOP);
    t0 = now();
    wait_exists(z, "/m/stopped", 0, 4.0 * SESSION_MS / 1000);
    cr_log_info("stopped process: its znode went after %.2f s", now() - t0);
    kill(s, SIGCONT);
    char buf[16] = "";
    cr_assert(gt(long, (long)read(fd2, buf, sizeof buf - 1), 0L), "the child's renewal");
    cr_assert(eq(str, buf, "again2"), "the child saw the expiry and renewed (generation 2)");
    wait_exists(z, "/m/stopped", 1, 5);
    cr_log_info("renewed and registered again %.2f s after SIGCONT", now() - t0);
    kill(s, SIGKILL);
    waitpid(s, NULL, 0);
    close(fd1);
    close(fd2);
    sl_zk_destroy(&z);
}

/* The recipe of host/cluster/coord.c: candidates are ephemeral sequential znodes, the lowest
 * leads, and the next one leads once the leader's session ends. */
Test(zk, election_hands_over, .init = up, .fini = down, .timeout = 60)
{
    sl_zk *c[3];
    char mine[3][256], msg[512];
    for (int i = 0; i < 3; i++) {
        c[i] = connect_zk();
        char id[4];
        snprintf(id, sizeof id, "%d", i);
        cr_assert(eq(int,
                     sl_zk_create(c[i], "/e/cand-", id, 1,
                                  SL_ZK_EPHEMERAL | SL_ZK_SEQUENTIAL | SL_ZK_PARENTS, mine[i],
                                  sizeof mine[i], msg, sizeof msg),
                     0),
                  "%s", msg);
    }
    for (int round = 0; round < 3; round++) {
        sl_zk_names n;
        cr_assert(eq(int, sl_zk_children(c[2], "/e", 1, &n, msg, sizeof msg), 0), "%s", msg);
        cr_assert(eq(int, n.n, 3 - round));
        char *d;
        size_t len;
        char p[300];
        snprintf(p, sizeof p, "/e/%s", n.name[0]);
        cr_assert(eq(str, p, mine[round]), "candidate %d leads in round %d", round, round);
        cr_assert(eq(int, sl_zk_get(c[2], p, 0, &d, &len, NULL, msg, sizeof msg), 0));
        cr_assert(eq(int, atoi(d), round));
        free(d);
        sl_zk_names_free(&n);
        if (round == 2)
            break;
        uint64_t ev = sl_zk_events(c[2]);
        double t0 = now();
        sl_zk_destroy(&c[round]); /* the leader's session ends */
        while (sl_zk_events(c[2]) == ev) {
            cr_assert(lt(dbl, now() - t0, 5.0), "no watch event for the handover");
            usleep(5000);
        }
        cr_log_info("handover %d: watch fired %.3f s after the leader left", round, now() - t0);
    }
    sl_zk_destroy(&c[2]);
}

Test(zk, session_outlives_a_server_restart, .init = up, .fini = down, .timeout = 60)
{
    sl_zk *z = connect_zk();
    char msg[512];
    cr_assert(eq(int,
                 sl_zk_create(z, "/r/e", "1", 1, SL_ZK_EPHEMERAL | SL_ZK_PARENTS, NULL, 0, msg,
                              sizeof msg),
                 0),
              "%s", msg);
    int64_t sid = sl_zk_session(z);
    double t0 = now();
    zks_stop(&srv);
    for (int i = 0; i < 300 && sl_zk_state(z) == SL_ZK_CONNECTED; i++)
        usleep(10000);
    cr_assert(eq(int, sl_zk_state(z), SL_ZK_CONNECTING), "the client saw the server go");
    cr_assert(ne(int, sl_zk_exists(z, "/r/e", 0, NULL, msg, sizeof msg), 0), "no server");
    sleep(3); /* longer than the session timeout */
    zks_restart(&srv);
    double t1 = now();
    while (sl_zk_state(z) != SL_ZK_CONNECTED) {
        cr_assert(lt(dbl, now() - t1, 10.0), "not connected again (state %d)", sl_zk_state(z));
        usleep(10000);
    }
    cr_log_info("down %.2f s; connected again %.2f s after the restart", t1 - t0, now() - t1);
    cr_assert(eq(u32, sl_zk_generation(z), 1), "the same session");
    cr_assert(eq(i64, sl_zk_session(z), sid));
    sl_zk_stat st;
    cr_assert(eq(int, sl_zk_exists(z, "/r/e", 0, &st, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(i64, st.owner, sid), "the ephemeral znode survived the restart");
    sl_zk_destroy(&z);
}
