/* A small client of ZooKeeper (Debian's libzookeeper-mt, 3.8) for the cluster's shared state
 * (docs/cluster.md, "Cluster state in ZooKeeper"): one session, its znodes created, read,
 * written with versions, listed and deleted, synchronously.
 *
 * Session: sl_zk_new connects and waits until the server has given the session. The library
 * reconnects by itself after a lost connection (a ZooKeeper restarted, a network cut) and keeps
 * the session, and with it this client's ephemeral znodes, as long as the server has not
 * expired it (no contact for the session timeout). An expired session is final: sl_zk_state
 * says SL_ZK_EXPIRED, every call fails, and sl_zk_renew opens a new session, whose number
 * sl_zk_generation counts, so that a caller that sees it change knows that its ephemeral
 * znodes are gone and registers again.
 *
 * Watches: a call with watch = 1 asks the server to say when that znode (or its list of
 * children) changes; the library's thread then only bumps a counter (sl_zk_events), which also
 * moves with every change of the session's state. A caller compares it with the value it saw
 * and reads again. A watch fires once; a caller that wants to go on watching passes watch = 1
 * again when it reads.
 *
 * Costs: every call is one round trip to the server (well under a millisecond on loopback).
 * While the connection is down a call fails at once or when the library's next connection
 * attempt fails (a refused connection: at once); only a server that goes silent in the middle
 * of a call (a network cut, not a stopped server) holds the caller up to two thirds of the
 * session timeout. Callers on a latency-sensitive loop check sl_zk_state first and call only
 * while connected.
 *
 * Errors: 0 or an sl_err with msg saying which znode and why: SL_ENOENT (no such znode),
 * SL_EEXIST (it exists already, or still has children), SL_ESTALE (its version is not the one
 * given), SL_EIO (no connection, session expired, any other failure of ZooKeeper).
 *
 * Threads: one thread uses an sl_zk at a time (the library's own threads are hidden);
 * sl_zk_state, sl_zk_generation and sl_zk_events may be read from any thread. */
#ifndef SL_ZK_H
#define SL_ZK_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_zk sl_zk;

/* sl_zk_create flags */
enum {
    SL_ZK_EPHEMERAL = 1,  /* gone when the session ends (closed, expired, process killed) */
    SL_ZK_SEQUENTIAL = 2, /* the server appends a 10-digit number, growing per parent */
    SL_ZK_PARENTS = 4,    /* missing parents are made (persistent, empty) */
};

enum sl_zk_state { SL_ZK_CONNECTING, SL_ZK_CONNECTED, SL_ZK_EXPIRED };

typedef struct sl_zk_stat {
    int32_t version;  /* the data's version: 0 when made, +1 at every write */
    int64_t owner;    /* the session owning an ephemeral znode; 0 for a persistent one */
    int64_t ctime_ms; /* when it was made (server's clock) */
    int32_t children; /* number of children */
    int32_t length;   /* data length in bytes */
} sl_zk_stat;

typedef struct sl_zk_names {
    int n;
    char **name; /* sorted (strcmp), each malloc'd */
} sl_zk_names;

/* Connects to `connect` ("host:port[,host:port...]") with a session timeout of session_ms (the
 * server bounds it: tests/zk.sh allows 1 s to 60 s) and waits up to wait_ms for the session.
 * Returns 0 with *out, or SL_EIO (no server answered in time; nothing is left behind),
 * SL_EINVAL or SL_ENOMEM. */
int sl_zk_new(const char *connect, uint32_t session_ms, uint32_t wait_ms, sl_zk **out, char *msg,
              size_t msglen);

/* Closes the session (its ephemeral znodes go at once), frees z and sets *zp to NULL. */
void sl_zk_destroy(sl_zk **zp);

enum sl_zk_state sl_zk_state(const sl_zk *z);

/* The number of sessions opened so far (1 after sl_zk_new, +1 per sl_zk_renew). */
uint32_t sl_zk_generation(const sl_zk *z);

/* A counter that moves at every watch that fired and every change of the session's state. */
uint64_t sl_zk_events(const sl_zk *z);

/* The session's id (0 while none). Ephemeral znodes of this session have it as their owner. */
int64_t sl_zk_session(const sl_zk *z);

/* The negotiated session timeout in ms (the server may bound the one asked for). */
uint32_t sl_zk_session_ms(const sl_zk *z);

/* After an expiry (or any time): closes the session and opens a new one, waiting up to wait_ms.
 * Returns 0, or SL_EIO (the old session is closed anyway: sl_zk_state says EXPIRED until a
 * later renew works). */
int sl_zk_renew(sl_zk *z, uint32_t wait_ms, char *msg, size_t msglen);

/* Makes znode `path` holding len bytes of data (flags above). made (madelen bytes; NULL for
 * none) receives the path made, with its sequence number. Returns 0, SL_EEXIST, SL_ENOENT (a
 * parent is missing and SL_ZK_PARENTS was not given) or SL_EIO. */
int sl_zk_create(sl_zk *z, const char *path, const void *data, size_t len, int flags, char *made,
                 size_t madelen, char *msg, size_t msglen);

/* Reads znode `path`: its data into *data (malloc'd, NUL-terminated after *len bytes; the
 * caller frees it) and, when st is not NULL, its stat. watch: also watch its data. Returns 0,
 * SL_ENOENT, SL_ENOMEM or SL_EIO; *data is NULL on error. */
int sl_zk_get(sl_zk *z, const char *path, int watch, char **data, size_t *len, sl_zk_stat *st,
              char *msg, size_t msglen);

/* Writes znode `path`'s data if its version is `version` (-1: whatever it is). *newversion
 * (may be NULL) receives the version written. Returns 0, SL_ENOENT, SL_ESTALE or SL_EIO. */
int sl_zk_set(sl_zk *z, const char *path, const void *data, size_t len, int32_t version,
              int32_t *newversion, char *msg, size_t msglen);

/* Writes `path`'s data, making it (persistent, parents too) when it does not exist. Returns 0
 * or SL_EIO. */
int sl_zk_put(sl_zk *z, const char *path, const void *data, size_t len, char *msg, size_t msglen);

/* Whether znode `path` exists: 0 (st filled when not NULL) or SL_ENOENT; SL_EIO. watch: also
 * watch it being made, changed or deleted. */
int sl_zk_exists(sl_zk *z, const char *path, int watch, sl_zk_stat *st, char *msg, size_t msglen);

/* The names of `path`'s children, sorted, into *out (free with sl_zk_names_free). watch: also
 * watch the list. Returns 0, SL_ENOENT, SL_ENOMEM or SL_EIO. */
int sl_zk_children(sl_zk *z, const char *path, int watch, sl_zk_names *out, char *msg,
                   size_t msglen);

void sl_zk_names_free(sl_zk_names *n);

/* Deletes znode `path` if its version is `version` (-1: any). Returns 0, SL_ENOENT, SL_EEXIST
 * (it has children), SL_ESTALE or SL_EIO. */
int sl_zk_delete(sl_zk *z, const char *path, int32_t version, char *msg, size_t msglen);

/* Deletes `path` and everything under it (absent: 0). Returns 0 or SL_EIO. */
int sl_zk_delete_tree(sl_zk *z, const char *path, char *msg, size_t msglen);

/* A counter in persistent znode `path` (decimal text; made at 0, parents too, when absent):
 * adds 1 with a versioned write, again while another writer got there first, and returns the
 * new value in *out. Every caller gets a value of its own. Returns 0 or SL_EIO. */
int sl_zk_incr(sl_zk *z, const char *path, uint64_t *out, char *msg, size_t msglen);

/* The cluster's records (znodes' data, and the job registry's state files) are "KEY VALUE"
 * lines. The value of line `key` in text goes into out (the rest of the line, cut at len - 1).
 * Returns 0, or -1 when there is no such line. */
int sl_zk_field(const char *text, const char *key, char *out, size_t len);

#endif
