/* Process helpers for the end-to-end tests (tests/test_cluster.c, tests/test_hardening.c, and
 * the command-line tests tests/test_cli.c, tests/test_outfile.c): a test directory per test, sluice
 * processes started there as children that lead their own process groups (their nodes join them),
 * reaped with their exit status and peak RSS, killed and reaped by teardown() whatever the test's
 * outcome, and local clusters on ports of the test's own window.
 *
 * Every process a test starts gets SIGTERM if the test process dies (PR_SET_PDEATHSIG) and is
 * registered until reaped; teardown (each test's .fini) sends SIGCONT and SIGKILL to the groups
 * still registered. finish() checks that no live process has the test directory as its working
 * directory, then removes the directory. Asserts with Criterion. */
#ifndef SL_TEST_PROC_H
#define SL_TEST_PROC_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* In the sanitizer build (SANITIZED), skips the calling test (cr_skip_test), saying why. */
void skip_if_sanitized(const char *why);

#define MAX_KIDS 16

extern char tmpdir[512];     /* this test's directory, made by setup() */
extern long last_maxrss_kib; /* peak RSS (KiB) of the child reap() reaped last */

/* .init of every test: makes the test directory (under SLUICE_TEST_TMP, named after the test
 * program). */
void setup(void);
/* .fini of every test: kills and reaps what the test started and did not stop. */
void teardown(void);
/* The end of a passing test: nothing it started still runs; its directory goes. */
void finish(void);

/* Paths and files of the test directory (slurp: the whole file, NUL-terminated, caller frees). */
const char *tpath(const char *name);
char *slurp(const char *name, size_t *len);
FILE *create(const char *name);
int exists(const char *name);
/* Files of the test directory whose names start with '.' (temporary outputs), "." and ".."
 * aside. */
int hidden_files(void);
/* 1 when directory `dir` of the test directory holds a checkpoint file (ckpt-N). */
int has_checkpoint(const char *dir);

size_t count_lines(const char *s);
size_t count_str(const char *s, const char *needle);
/* Asserts texts are equal, naming the first line that differs. */
void assert_same_text(const char *got, const char *want, const char *what);
/* The line of text starting with prefix (a copy in buf), or asserts. */
const char *line_starting(const char *text, const char *prefix, char *buf, size_t len);

double now_s(void);

/* Starts `sluice ARGS` (split at spaces) in the test directory, stdin /dev/null, stdout and
 * stderr to files there (NULL: /dev/null). Returns its pid. */
pid_t spawn(const char *args, const char *out, const char *err);
/* The same with stdin from descriptor in_fd (the child's copy; the caller keeps and closes its
 * own). */
pid_t spawn_in(const char *args, int in_fd, const char *out, const char *err);
/* 1 with *status (exit code, or 128 + signal) when pid has exited, else 0. */
int reap(pid_t pid, int *status);
int wait_exit(pid_t pid, double timeout_s, const char *what);

/* Runs `sluice ARGS` to completion (at most timeout_s) and returns its status and output
 * (struct run and run_free: util.h). */
struct run run_sluice(const char *args, double timeout_s);
/* Runs `sluice ARGS` through /bin/sh in the test directory (so ARGS may redirect), with stdout
 * and stderr captured outside it; not registered as a child (it has exited on return). */
struct run run_sh(const char *args);
/* run_sh, asserting the exit status (the message names ARGS and holds stderr). */
struct run run_sh_status(const char *args, int status);

int procs_in_tmpdir(void);
void assert_nothing_running(void);
long rss_kib(pid_t pid);

/* The child processes of pid (a --nodes run's node processes), from /proc. Returns how many. */
int children(pid_t pid, pid_t *out, int cap);
/* 1 when process pid has ended and waits to be reaped (or is gone). */
int zombie(pid_t pid);
/* Sends sig to `child` only while it is a live child of `parent` (a run's node process). The pid
 * is pinned (pidfd_open) before its parent is read, so a pid the system gave another process
 * since (pid_max is 32768 here: it wraps within a CI run; a concurrent test's process may hold
 * it) is never signalled. Returns 0 when sent, -1 when child is no longer a live child of
 * parent. */
int kill_child(pid_t parent, pid_t child, int sig);
/* Writes all of buf to fd (non-blocking) while the run `pid` lives (asserts it does; err: its
 * stderr file, shown if it ended). */
void write_all(int fd, const char *buf, size_t len, pid_t pid, const char *err);

/* Cluster file `name`: n nodes on 127.0.0.1 at free ports in [lo, lo + 1500), then `extra`. */
void write_cluster(const char *name, unsigned n, const char *extra, unsigned lo);
unsigned first_port(const char *name, unsigned id);

/* A loopback port nobody listens on now, drawn with seed *s from [61000, 65535): above Linux's
 * ephemeral range, so no outgoing connection takes it, nor a socket that reconnects to it while
 * nothing listens (TCP connects to itself when its source port is the one it dials: a source
 * bound again after its process was killed would then find its port in use). */
unsigned free_port_high(uint64_t *s);

struct cluster {
    char file[64];
    char errfile[64]; /* cluster up's standard error */
    pid_t up;
    unsigned n;
    pid_t node[SL_NODES_MAX];
};

/* The node processes of `cluster up` (its children), by --id. */
unsigned find_nodes(struct cluster *c);
/* `sluice cluster up FILE` in the background, ready once FILE.pid exists; finds its nodes. */
void cluster_up(struct cluster *c, const char *file, unsigned n, int quiet, const char *errfile);
/* `sluice cluster down FILE`; asserts both exit 0 and every node is gone. */
void cluster_down(struct cluster *c);
/* As cluster_down, but returns cluster up's exit status (a wait status) instead of asserting
 * that it is 0. */
int cluster_down_status(struct cluster *c);

#endif
