/* A ZooKeeper server for a test (tests/zk.sh: Debian's zookeeper on 127.0.0.1 only, its data
 * under a folder of its own), on a free loopback port; stopped and started again on the same
 * port and data to test what a restart does. A test that finds no ZooKeeper installed is
 * skipped, saying why. A server left by a test that died is stopped by the script's watcher
 * (it watches the test process). Asserts with Criterion. */
#ifndef SL_TEST_ZKSERVER_H
#define SL_TEST_ZKSERVER_H

struct zkserver {
    char dir[512];    /* its folder: zoo.cfg, data/, zookeeper.log, zk.pid */
    unsigned port;    /* its client port on 127.0.0.1 */
    char connect[64]; /* "127.0.0.1:PORT" */
};

/* Starts a server in a fresh folder under SLUICE_TEST_TMP, waiting until it serves (skips the
 * test when ZooKeeper is not installed). */
void zks_start(struct zkserver *z);
/* Stops it (SIGTERM; waits for the exit). */
void zks_stop(struct zkserver *z);
/* Starts it again on the same port and data. */
void zks_restart(struct zkserver *z);
/* Stops it if it runs and removes its folder. */
void zks_destroy(struct zkserver *z);

#endif
