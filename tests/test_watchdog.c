/* The kernel watchdog (host/watchdog.h): a user kernel that never returns fails the run after
 * pe.timeout_ms (or --timeout-ms) instead of hanging it, a cancel flag stops a wait at once, a
 * kernel that writes far out of bounds leaves a line saying so before the process dies of
 * SIGSEGV, and `kernel check --deep` finds a small out-of-bounds read under Oclgrind. Also the
 * window arithmetic at the extremes the config accepts (run it in the sanitizer build: UBSan
 * aborts on a signed overflow).
 *
 * The end-to-end tests run the sluice binary with a hard limit and kill it past that, so that a
 * hang fails the test (with the time it took) instead of stalling the suite. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "config.h"
#include "deepcheck.h"
#include "device.h"
#include "engine.h"
#include "err.h"
#include "harness.h"
#include "multidev.h"
#include "reference.h"
#include "watchdog.h"

extern char **environ;

/* ---- files and processes ------------------------------------------------------------------ */

static char tmpdir[512];

static void make_tmpdir(void)
{
    tu_mkdtemp(tmpdir, sizeof tmpdir, "watchdog");
}

static const char *in_tmp(const char *name)
{
    static char buf[8][700];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "open %s", path);
    cr_assert_geq(fputs(text, f), 0);
    cr_assert_eq(fclose(f), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_not_null(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct proc {
    int status; /* waitpid's */
    int killed; /* ran past the limit and was killed */
    double secs;
    char *out, *err;
};

/* Runs SLUICE_BIN with args (NULL-terminated) in tmpdir, environment plus `env` (NULL or
 * NULL-terminated "NAME=value" entries, which replace ours), stdout and stderr captured; kills
 * it (SIGKILL) after limit_s seconds. */
static struct proc run_bin(const char *const *args, const char *const *env, double limit_s)
{
    const char *argv[32] = {"sluice"};
    int na = 1;
    for (; args[na - 1]; na++)
        argv[na] = args[na - 1];
    argv[na] = NULL;
    size_t ne = 0, nx = 0;
    while (environ[ne])
        ne++;
    while (env && env[nx])
        nx++;
    char **envp = calloc(ne + nx + 1, sizeof *envp);
    cr_assert_not_null(envp);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++) {
        int replaced = 0;
        for (size_t j = 0; j < nx; j++) {
            size_t l = strcspn(env[j], "=") + 1;
            replaced |= strncmp(environ[i], env[j], l) == 0;
        }
        if (!replaced)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < nx; j++)
        envp[k++] = (char *)env[j];
    envp[k] = NULL;
    const char *out = in_tmp("stdout"), *err = in_tmp("stderr");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    /* relative paths in args are relative to tmpdir: change there around the spawn */
    char cwd[4096];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(tmpdir), 0);
    pid_t pid;
    double t0 = now_s();
    int e = posix_spawn(&pid, SLUICE_BIN, &fa, NULL, (char *const *)argv, envp);
    cr_assert_eq(chdir(cwd), 0);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    cr_assert_eq(e, 0, "spawn %s: %s", SLUICE_BIN, strerror(e));
    struct proc p = {0, 0, 0.0, NULL, NULL};
    for (;;) {
        pid_t r = waitpid(pid, &p.status, WNOHANG);
        if (r == pid)
            break;
        cr_assert(r == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
        if (!p.killed && now_s() - t0 > limit_s) {
            kill(pid, SIGKILL);
            p.killed = 1;
        }
        usleep(5000);
    }
    p.secs = now_s() - t0;
    p.out = slurp(out);
    p.err = slurp(err);
    return p;
}

static void proc_free(struct proc *p)
{
    free(p->out);
    free(p->err);
}

static int exit_code(const struct proc *p)
{
    return WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
}

/* ---- kernels ---------------------------------------------------------------------------- */

/* Writes 2^40 states past its own slot: far outside any buffer, in unmapped memory. */
static const char oob_write_cl[] = "#include \"sluice.h\"\n"
                                   "#define SL_PE_REDUCE\n"
                                   "#define SL_COLUMNS \"n:int\"\n"
                                   "typedef struct { ulong n; } sl_state;\n"
                                   "void sl_init(__global sl_state *s) { s->n = 0; }\n"
                                   "void sl_add(__global sl_state *s, const sl_record *r)\n"
                                   "{\n"
                                   "    s->n += 1;\n"
                                   "    s[(1L << 40) + r->type].n = 7;\n"
                                   "}\n"
                                   "void sl_merge(__global sl_state *d, __global const sl_state "
                                   "*s) { d->n += s->n; }\n"
                                   "void sl_emit(__global const sl_state *s, sl_out *o)\n"
                                   "{ o->v[0] = (double)s->n; }\n";

/* Reads one float past a 4-entry table for purchases (type 2): line 11. */
static const char oob_read_cl[] = "#include \"sluice.h\"\n"
                                  "#define SL_PE_REDUCE\n"
                                  "#define SL_COLUMNS \"n:int,w:g\"\n"
                                  "__constant float weights[4] = {1.0f, 2.0f, 0.5f, 0.25f};\n"
                                  "typedef struct { ulong n; double w; } sl_state;\n"
                                  "void sl_init(__global sl_state *s) { s->n = 0; s->w = 0.0; }\n"
                                  "void sl_add(__global sl_state *s, const sl_record *r)\n"
                                  "{\n"
                                  "    s->n += 1;\n"
                                  "    /* off by two: a purchase reads weights[4] */\n"
                                  "    s->w += weights[r->type + 2];\n"
                                  "}\n"
                                  "void sl_merge(__global sl_state *d, __global const sl_state "
                                  "*s)\n"
                                  "{ d->n += s->n; d->w += s->w; }\n"
                                  "void sl_emit(__global const sl_state *s, sl_out *o)\n"
                                  "{ o->v[0] = (double)s->n; o->v[1] = s->w; }\n";

static void write_events(const char *name, int n)
{
    FILE *f = fopen(in_tmp(name), "w");
    cr_assert_not_null(f);
    static const char *const types[] = {"view", "click", "purchase"};
    for (int i = 0; i < n; i++)
        fprintf(f, "{\"ad_id\": \"ad-%d\", \"event_type\": \"%s\", \"event_time\": %d}\n", i % 7,
                types[i % 3], 1000 + i);
    cr_assert_eq(fclose(f), 0);
}

/* ---- timeouts, end to end --------------------------------------------------------------- */

/* An endless kernel keeps every PoCL worker thread busy until its process exits. The runs here
 * get one worker (and the engine then one table copy, one work-item): the tests around them,
 * two at a time, keep a core for their own timing. */
static const char *const one_worker[] = {"POCL_MAX_PTHREAD_COUNT=1", NULL};

/* `sluice kernel run` of a kernel that returns at once: the start-up cost (device, compiler)
 * that a timed-out run pays before its limit starts. */
static double startup_secs(void)
{
    write_file(in_tmp("quick.cl"), "#include \"sluice.h\"\n#define SL_PE_REDUCE\n"
                                   "#define SL_COLUMNS \"n:int\"\n"
                                   "typedef struct { ulong n; } sl_state;\n"
                                   "void sl_init(__global sl_state *s) { s->n = 0; }\n"
                                   "void sl_add(__global sl_state *s, const sl_record *r)\n"
                                   "{ s->n += 1 + 0 * r->type; }\n"
                                   "void sl_merge(__global sl_state *d, __global const sl_state "
                                   "*s) { d->n += s->n; }\n"
                                   "void sl_emit(__global const sl_state *s, sl_out *o)\n"
                                   "{ o->v[0] = (double)s->n; }\n");
    const char *args[] = {"kernel", "run", "quick.cl", "--input", "ev.ndjson", "--quiet", NULL};
    struct proc p = run_bin(args, one_worker, 120);
    cr_assert_eq(exit_code(&p), 0, "the quick kernel failed: %s", p.err);
    cr_assert(strstr(p.out, "ad_id,n\n") != NULL, "%s", p.out);
    double s = p.secs;
    proc_free(&p);
    return s;
}

/* The start of each run of the endless kernel: a fresh tmpdir with 50 events in ev.ndjson and
 * the endless kernel in spin.cl. Returns the start-up cost (startup_secs). */
static double endless_setup(void)
{
    make_tmpdir();
    write_events("ev.ndjson", 50);
    double base = startup_secs();
    write_file(in_tmp("spin.cl"), tu_spin_cl);
    return base;
}

/* After endless_setup (its result in *base), `sluice run topo.yaml` of a topology from the events
 * in ev.ndjson through the PEs `pes` (YAML lines, one of them running the endless kernel) to
 * out.csv, killed after *base + 30 s; asserts that it was not killed and exited 1. */
static struct proc run_endless_topology(const char *pes, const char *what, double *base)
{
    *base = endless_setup();
    char topo[1024];
    snprintf(topo, sizeof topo, "source: {type: file, path: ev.ndjson}\n%ssink: {path: out.csv}\n",
             pes);
    write_file(in_tmp("topo.yaml"), topo);
    const char *args[] = {"run", "topo.yaml", "--quiet", NULL};
    struct proc p = run_bin(args, one_worker, *base + 30);
    fprintf(stderr, "watchdog: %s: %.2f s\n", what, p.secs);
    cr_assert(!p.killed, "still running after %.1f s: no watchdog", p.secs);
    cr_assert_eq(exit_code(&p), 1, "exit status %d; stderr:\n%s", exit_code(&p), p.err);
    return p;
}

Test(watchdog, kernel_run_timeout_fails_an_endless_kernel, .timeout = 180)
{
    double base = endless_setup();
    const char *args[] = {"kernel",       "run",  "spin.cl", "--input", "ev.ndjson",
                          "--timeout-ms", "1000", "--quiet", NULL};
    struct proc p = run_bin(args, one_worker, base + 30);
    fprintf(stderr,
            "watchdog: kernel run --timeout-ms 1000 of an endless kernel: %.2f s (a "
            "quick kernel: %.2f s)\n",
            p.secs, base);
    cr_assert(!p.killed, "still running after %.1f s (a quick kernel took %.2f s): no watchdog",
              p.secs, base);
    cr_assert_eq(exit_code(&p), 1, "exit status %d (signal %d); stderr:\n%s", exit_code(&p),
                 WIFSIGNALED(p.status) ? WTERMSIG(p.status) : 0, p.err);
    cr_assert(strstr(p.err, "kernel sl_aggregate of PE spin.cl did not finish within 1000 ms "
                            "(pe.timeout_ms") != NULL,
              "stderr:\n%s", p.err);
    cr_assert(strstr(p.err, "the process must exit") != NULL, "%s", p.err);
    /* the limit, plus start-up (measured, noisy on a shared machine), plus 1.5 s of slack */
    cr_assert_geq(p.secs, 1.0, "failed after %.2f s, before its limit of 1 s", p.secs);
    cr_assert_leq(p.secs, base + 1.0 + 1.5,
                  "took %.2f s: over the limit (1 s) + start-up (%.2f s) + 1.5 s", p.secs, base);
    cr_assert_eq(p.out[0], '\0', "no rows from a failed run: %s", p.out);
    proc_free(&p);
}

Test(watchdog, run_with_pe_timeout_ms_fails_an_endless_kernel, .timeout = 180)
{
    double base;
    struct proc p =
        run_endless_topology("pe: {name: spinner, kind: user, source: spin.cl, timeout_ms: 800}\n",
                             "run with pe.timeout_ms 800 of an endless kernel", &base);
    cr_assert(strstr(p.err, "kernel sl_aggregate of PE spinner (") != NULL, "%s", p.err);
    cr_assert(strstr(p.err, "spin.cl) did not finish within 800 ms (pe.timeout_ms") != NULL, "%s",
              p.err);
    cr_assert_geq(p.secs, 0.8, "failed after %.2f s, before its limit", p.secs);
    cr_assert_leq(p.secs, base + 0.8 + 1.5, "took %.2f s (start-up %.2f s)", p.secs, base);
    proc_free(&p);
}

/* The endless kernel in the second stage: the first stage's engine shares the device, and the
 * teardown must not wait for it either. */
Test(watchdog, endless_next_stage_fails_without_hanging_the_teardown, .timeout = 180)
{
    double base;
    struct proc p = run_endless_topology("pe: {kind: count}\n"
                                         "next:\n"
                                         "  - {name: spinner, kind: user, source: spin.cl, "
                                         "timeout_ms: 700}\n",
                                         "endless second stage, timeout_ms 700", &base);
    cr_assert(strstr(p.err, "did not finish within 700 ms (pe.timeout_ms") != NULL, "%s", p.err);
    cr_assert_leq(p.secs, base + 0.7 + 1.5, "took %.2f s (start-up %.2f s)", p.secs, base);
    proc_free(&p);
}

/* ---- cancel and timeout, in the engine ---------------------------------------------------- */

static volatile sig_atomic_t cancel_flag;
static double cancel_set_at;

static void *set_cancel_later(void *arg)
{
    usleep((useconds_t)(*(const int *)arg) * 1000);
    cancel_set_at = now_s();
    cancel_flag = 1;
    return NULL;
}

/* Starts a thread that sets cancel_flag `ms` ms from now (set_cancel_later). */
static pthread_t cancel_later(int ms)
{
    static int after_ms;
    after_ms = ms;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, set_cancel_later, &after_ms), 0);
    return th;
}

/* Joins th (cancel_later) once `what`'s finish has returned rc with message msg, and asserts
 * that it returned SL_ECANCELED within 200 ms of the flag. */
static void expect_cancelled(pthread_t th, const char *what, int rc, const char *msg)
{
    double lag = now_s() - cancel_set_at;
    pthread_join(th, NULL);
    fprintf(stderr, "watchdog: %s finish returned %.1f ms after the flag\n", what, lag * 1e3);
    cr_assert_eq(rc, SL_ECANCELED, "%s: %s", sl_strerror(rc), msg);
    cr_assert_lt(lag, 0.2, "%.1f ms", lag * 1e3);
}

/* An engine running the endless kernel from a file in tmpdir (one PoCL worker, as above). */
static sl_engine *spin_engine(sl_device **dev, uint32_t timeout_ms)
{
    setenv("POCL_MAX_PTHREAD_COUNT", "1", 1);
    write_file(in_tmp("spin.cl"), tu_spin_cl);
    char msg[8192];
    cr_assert_eq(sl_device_open(NULL, dev, msg, sizeof msg), 0, "%s", msg);
    sl_engine_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    sl_pe_defaults(&cfg.pe, SL_PE_USER);
    snprintf(cfg.pe.name, sizeof cfg.pe.name, "spinner");
    snprintf(cfg.pe.source, sizeof cfg.pe.source, "%s", in_tmp("spin.cl"));
    cfg.pe.capacity = 1000;
    cfg.pe.timeout_ms = timeout_ms;
    cfg.batch_events = 64;
    sl_engine *e = NULL;
    int rc = sl_engine_new(*dev, &cfg, NULL, NULL, &e, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s: %s", sl_strerror(rc), msg);
    return e;
}

Test(watchdog, cancel_flag_stops_a_wait_promptly, .timeout = 60)
{
    make_tmpdir();
    sl_device *dev = NULL;
    sl_engine *e = spin_engine(&dev, 0); /* no time limit: only the flag ends the wait */
    sl_engine_set_cancel(e, &cancel_flag);
    sl_rec recs[10];
    th_records(1, recs, 10, 3, 0.0, 1000, 0);
    cr_assert_eq(sl_engine_push(e, recs, 10), 0, "%s", sl_engine_message(e));
    pthread_t th = cancel_later(300);
    int rc = sl_engine_finish(e);
    double returned = now_s();
    pthread_join(th, NULL);
    double lag = returned - cancel_set_at;
    fprintf(stderr, "watchdog: finish returned %.1f ms after the cancel flag was set\n", lag * 1e3);
    cr_assert_eq(rc, SL_ECANCELED, "finish returned %s: %s", sl_strerror(rc), sl_engine_message(e));
    cr_assert_lt(lag, 0.2, "returned %.1f ms after the flag was set, over 200 ms", lag * 1e3);
    cr_assert(strstr(sl_engine_message(e), "cancelled on request") != NULL, "%s",
              sl_engine_message(e));
    cr_assert(sl_device_wedged(dev), "the kernel still runs: the device is wedged");
    cr_assert_eq(sl_engine_push(e, recs, 1), SL_ECANCELED, "a failed engine refuses work");
    double t0 = now_s();
    sl_engine_destroy(&e);
    sl_device_close(&dev);
    double td = now_s() - t0;
    fprintf(stderr, "watchdog: teardown after cancel: %.1f ms\n", td * 1e3);
    cr_assert_null(e);
    cr_assert_null(dev);
    cr_assert_lt(td, 0.5, "destroy and close took %.1f ms with a kernel still running", td * 1e3);
}

Test(watchdog, engine_timeout_fails_the_call_and_the_engine, .timeout = 60)
{
    make_tmpdir();
    sl_device *dev = NULL;
    sl_engine *e = spin_engine(&dev, 300);
    sl_rec recs[10];
    th_records(2, recs, 10, 3, 0.0, 1000, 0);
    cr_assert_eq(sl_engine_push(e, recs, 10), 0, "%s", sl_engine_message(e));
    double t0 = now_s();
    int rc = sl_engine_finish(e);
    double took = now_s() - t0;
    fprintf(stderr, "watchdog: finish with pe.timeout_ms 300 returned after %.1f ms\n", took * 1e3);
    cr_assert_eq(rc, SL_ETIMEOUT, "finish returned %s: %s", sl_strerror(rc), sl_engine_message(e));
    cr_assert(took >= 0.3 && took < 0.3 + 0.3, "returned after %.1f ms, limit 300 ms", took * 1e3);
    cr_assert(strstr(sl_engine_message(e), "kernel sl_aggregate of PE spinner (") != NULL, "%s",
              sl_engine_message(e));
    cr_assert(strstr(sl_engine_message(e), "did not finish within 300 ms (pe.timeout_ms") != NULL,
              "%s", sl_engine_message(e));
    cr_assert_eq(sl_engine_push(e, recs, 10), SL_ETIMEOUT);
    cr_assert_eq(sl_engine_reset(e), SL_ETIMEOUT, "a wedged engine cannot be reset");
    t0 = now_s();
    sl_engine_destroy(&e);
    sl_device_close(&dev);
    double td = now_s() - t0;
    cr_assert_lt(td, 0.2, "destroy and close took %.1f ms with a kernel still running", td * 1e3);
}

struct rows {
    sl_row *v;
    size_t n;
};

static int collect_final(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    struct rows *r = ud;
    if (kind != SL_EMIT_FINAL)
        return 0;
    r->v = realloc(r->v, (r->n + n + 1) * sizeof *r->v);
    cr_assert_not_null(r->v);
    memcpy(r->v + r->n, rows, n * sizeof *rows);
    r->n += n;
    return 0;
}

/* The endless PE as a topology's next stage, the time limit off, written to spin.cl in tmpdir
 * (for one PoCL worker, as above); 10 records for it in recs. */
static void spin_topology(sl_topology *t, sl_rec recs[10])
{
    setenv("POCL_MAX_PTHREAD_COUNT", "1", 1);
    write_file(in_tmp("spin.cl"), tu_spin_cl);
    th_records(4, recs, 10, 5, 0.0, 1000, 0);
    sl_topology_defaults(t);
    sl_pe_defaults(&t->pe, SL_PE_COUNT);
    t->pe.capacity = 100;
    t->nnext = 1;
    sl_pe_defaults(&t->next[0].pe, SL_PE_USER);
    snprintf(t->next[0].pe.source, sizeof t->next[0].pe.source, "%s", in_tmp("spin.cl"));
    t->next[0].pe.capacity = 100;
    t->next[0].pe.timeout_ms = 0;
    t->batch_events = 64;
}

/* The pass-throughs: a chain's stages see the flag. (One test per process: PoCL's CPU devices
 * share their worker threads, so a kernel that never ends stalls every device of the process.) */
Test(watchdog, chain_passes_the_cancel_flag_on, .timeout = 60)
{
    make_tmpdir();
    char msg[8192];
    sl_rec recs[10];
    static sl_topology t;
    spin_topology(&t, recs);
    /* a count stage, then the endless one */
    sl_device *dev = NULL;
    cr_assert_eq(sl_device_open(NULL, &dev, msg, sizeof msg), 0, "%s", msg);
    sl_chain *ch = NULL;
    int rc = sl_chain_new(dev, &t, NULL, NULL, NULL, NULL, NULL, &ch, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s", msg);
    cancel_flag = 0;
    sl_chain_set_cancel(ch, &cancel_flag);
    cr_assert_eq(sl_chain_push(ch, 0, recs, 10), 0, "%s", sl_chain_message(ch));
    pthread_t th = cancel_later(250);
    rc = sl_chain_finish_all(ch);
    expect_cancelled(th, "chain", rc, sl_chain_message(ch));
    double t0 = now_s();
    sl_chain_destroy(&ch);
    sl_device_close(&dev);
    cr_assert_lt(now_s() - t0, 0.5, "teardown took %.1f ms", (now_s() - t0) * 1e3);
}

/* ... and each device of a multi. */
Test(watchdog, multi_passes_the_cancel_flag_on, .timeout = 60)
{
    make_tmpdir();
    setenv("POCL_DEVICES", "pthread pthread", 0); /* two CPU devices, before OpenCL starts */
    char msg[8192];
    sl_rec recs[10];
    static sl_topology t;
    spin_topology(&t, recs);
    sl_device *devs[2] = {NULL, NULL};
    for (unsigned i = 0; i < 2; i++)
        cr_assert_eq(sl_device_open_nth(NULL, i, &devs[i], msg, sizeof msg), 0, "%s", msg);
    sl_engine_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.pe = t.next[0].pe;
    cfg.batch_events = 64;
    sl_multi *m = NULL;
    struct rows got = {NULL, 0};
    int rc = sl_multi_new(devs, 2, &cfg, NULL, NULL, collect_final, &got, &m, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s", msg);
    cancel_flag = 0;
    sl_multi_set_cancel(m, &cancel_flag);
    cr_assert_eq(sl_multi_push(m, recs, 10), 0, "%s", sl_multi_message(m));
    pthread_t th = cancel_later(250);
    rc = sl_multi_finish(m);
    expect_cancelled(th, "multi", rc, sl_multi_message(m));
    double t0 = now_s();
    sl_multi_destroy(&m);
    for (unsigned i = 0; i < 2; i++)
        sl_device_close(&devs[i]);
    cr_assert_lt(now_s() - t0, 0.5, "teardown took %.1f ms", (now_s() - t0) * 1e3);
    cr_assert_eq(got.n, 0, "no final rows from a cancelled run");
    free(got.v);
}

/* The bounded wait itself, on a user event that completes from another thread. */
static cl_event user_ev;
static void *complete_later(void *arg)
{
    (void)arg;
    usleep(150000);
    clSetUserEventStatus(user_ev, CL_COMPLETE);
    return NULL;
}

Test(watchdog, bounded_wait_returns_on_completion_timeout_and_cancel, .timeout = 30)
{
    sl_device *dev = NULL;
    char msg[4096];
    cr_assert_eq(sl_device_open(NULL, &dev, msg, sizeof msg), 0, "%s", msg);
    cl_int st;
    /* completes after 150 ms: the wait returns then, not at a slice boundary or the limit */
    user_ev = clCreateUserEvent(sl_device_context(dev), &st);
    cr_assert_eq(st, CL_SUCCESS);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, complete_later, NULL), 0);
    double t0 = now_s();
    int rc = sl_cl_wait(user_ev, 5000, NULL, &st);
    double took = now_s() - t0;
    pthread_join(th, NULL);
    cr_assert_eq(rc, 0, "%s (%d)", sl_strerror(rc), (int)st);
    cr_assert(took >= 0.14 && took < 1.0, "completion after 150 ms seen after %.1f ms (limit 5 s)",
              took * 1e3);
    /* already complete: at once */
    t0 = now_s();
    cr_assert_eq(sl_cl_wait(user_ev, 1, NULL, &st), 0);
    cr_assert_lt(now_s() - t0, 0.1);
    clReleaseEvent(user_ev);
    /* never completes: the limit */
    cl_event never = clCreateUserEvent(sl_device_context(dev), &st);
    t0 = now_s();
    rc = sl_cl_wait(never, 120, NULL, &st);
    took = now_s() - t0;
    cr_assert_eq(rc, SL_ETIMEOUT, "%s", sl_strerror(rc));
    cr_assert(took >= 0.12 && took < 0.4, "limit 120 ms, returned after %.1f ms", took * 1e3);
    /* never completes, the flag already set: at once */
    static volatile sig_atomic_t flag = 1;
    t0 = now_s();
    rc = sl_cl_wait(never, 0, &flag, &st);
    took = now_s() - t0;
    cr_assert_eq(rc, SL_ECANCELED, "%s", sl_strerror(rc));
    cr_assert_lt(took, 0.1, "cancelled after %.1f ms", took * 1e3);
    /* failed: the command's status */
    clSetUserEventStatus(never, -5);
    cr_assert_eq(sl_cl_wait(never, 100, NULL, &st), SL_ECL);
    cr_assert_eq(st, -5);
    clReleaseEvent(never);
    sl_device_close(&dev);
}

/* A healthy engine with a cancel flag that stays 0 gives the reference's rows, and resets. */
Test(watchdog, an_unset_cancel_flag_changes_nothing, .timeout = 60)
{
    static volatile sig_atomic_t zero;
    size_t n = 50000;
    sl_rec *recs = malloc(n * sizeof *recs);
    cr_assert_not_null(recs);
    th_records(3, recs, n, 500, 1.0, 1700000000000, 0);
    sl_device *dev = NULL;
    char msg[4096];
    cr_assert_eq(sl_device_open(NULL, &dev, msg, sizeof msg), 0, "%s", msg);
    sl_engine_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    sl_pe_defaults(&cfg.pe, SL_PE_COUNT);
    cfg.pe.capacity = 1000;
    cfg.pe.timeout_ms = 5000;
    cfg.batch_events = 4096;
    sl_engine *e = NULL;
    struct rows got = {NULL, 0};
    cr_assert_eq(sl_engine_new(dev, &cfg, collect_final, &got, &e, msg, sizeof msg), 0, "%s", msg);
    sl_engine_set_cancel(e, &zero);
    cr_assert_eq(sl_engine_push(e, recs, n), 0, "%s", sl_engine_message(e));
    cr_assert_eq(sl_engine_finish(e), 0, "%s", sl_engine_message(e));
    sl_row *ref;
    size_t nref;
    uint64_t late;
    th_reference(&cfg.pe, recs, n, &ref, &nref, &late);
    qsort(got.v, got.n, sizeof *got.v, sl_row_cmp_key);
    th_assert_rows(got.v, got.n, ref, nref, 0.0);
    cr_assert_eq(sl_engine_reset(e), 0, "%s", sl_engine_message(e));
    got.n = 0;
    cr_assert_eq(sl_engine_push(e, recs, n), 0, "%s", sl_engine_message(e));
    cr_assert_eq(sl_engine_finish(e), 0, "%s", sl_engine_message(e));
    qsort(got.v, got.n, sizeof *got.v, sl_row_cmp_key);
    th_assert_rows(got.v, got.n, ref, nref, 0.0);
    free(got.v);
    sl_engine_destroy(&e);
    sl_device_close(&dev);
    free(ref);
    free(recs);
}

/* ---- crash line ------------------------------------------------------------------------- */

Test(watchdog, out_of_bounds_write_prints_the_crash_line_and_dies_of_sigsegv, .timeout = 120)
{
    make_tmpdir();
    write_events("ev.ndjson", 20);
    write_file(in_tmp("oob.cl"), oob_write_cl);
    const char *args[] = {"kernel", "run", "oob.cl", "--input", "ev.ndjson", "--quiet", NULL};
    struct proc p = run_bin(args, NULL, 60);
    fprintf(stderr, "watchdog: out-of-bounds kernel: %.2f s, status %#x\n", p.secs, p.status);
    cr_assert(!p.killed, "still running after %.1f s", p.secs);
#ifdef __SANITIZE_ADDRESS__
    /* the sanitizer build: the line, then AddressSanitizer's own report of the SEGV */
    cr_assert(!WIFEXITED(p.status) || WEXITSTATUS(p.status) != 0, "status %#x", p.status);
    cr_assert(strstr(p.err, "AddressSanitizer: SEGV") != NULL, "stderr:\n%s", p.err);
#else
    cr_assert(WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGSEGV,
              "expected death by SIGSEGV, got status %#x; stderr:\n%s", p.status, p.err);
#endif
    cr_assert(strstr(p.err, "sluice: crashed (SIGSEGV) while running the kernels of oob.cl; a "
                            "kernel writing out of bounds does this: run `sluice kernel check "
                            "--deep oob.cl`\n") != NULL,
              "stderr:\n%s", p.err);
    proc_free(&p);
}

Test(watchdog, crash_line_names_the_user_pe_over_built_ins)
{
    char line[2048];
    sl_crash_line(SIGBUS, line, sizeof line);
    cr_assert(strncmp(line, "sluice: crashed (SIGBUS)", 24) == 0, "%s", line);
    sl_crash_note_pe("ctr", NULL, 0, 0);
    sl_crash_line(SIGSEGV, line, sizeof line);
    cr_assert_str_eq(line, "sluice: crashed (SIGSEGV) while running the built-in PE ctr");
    sl_crash_note_pe("revenue", "pe/rev.cl", 1, 0);
    sl_crash_note_pe("count", NULL, 0, 0); /* a built-in stage after it: the user PE stays */
    sl_crash_line(SIGSEGV, line, sizeof line);
    cr_assert_str_eq(line, "sluice: crashed (SIGSEGV) while running the kernels of PE revenue "
                           "(pe/rev.cl); a kernel writing out of bounds does this: run `sluice "
                           "kernel check --deep pe/rev.cl`");
    sl_crash_note_pe("rev.bin", "rev.bin", 1, 1);
    sl_crash_line(SIGSEGV, line, sizeof line);
    cr_assert(strstr(line, "of rev.bin, a program binary;") != NULL, "%s", line);
    sl_crash_line(SIGSEGV, line, 20);
    cr_assert_eq(strlen(line), 19, "truncated, terminated");
}

/* ---- kernel check --deep ----------------------------------------------------------------- */

static void need_oclgrind(void)
{
    char lib[4096];
    if (!sl_deep_find_oclgrind(lib, sizeof lib))
        cr_skip_test("Oclgrind is not installed (liboclgrind-rt-icd.so)");
}

Test(watchdog, deep_check_reports_an_out_of_bounds_read_with_its_line, .timeout = 300)
{
    need_oclgrind();
    make_tmpdir();
    write_file(in_tmp("oobread.cl"), oob_read_cl);
    const char *args[] = {"kernel", "check", "--deep", "oobread.cl", NULL};
    struct proc p = run_bin(args, NULL, 240);
    fprintf(stderr, "watchdog: kernel check --deep of an out-of-bounds read: %.2f s\n", p.secs);
    cr_assert(!p.killed);
    cr_assert_eq(exit_code(&p), 1, "exit status %d; stdout:\n%s\nstderr:\n%s", exit_code(&p), p.out,
                 p.err);
    cr_assert(strstr(p.out, "oobread.cl: OK for ") != NULL, "the normal check passes:\n%s", p.out);
    cr_assert(strstr(p.out, "oobread.cl:11:") != NULL, "no report at line 11:\n%s", p.out);
    cr_assert(strstr(p.out, "Invalid read of size 4") != NULL, "%s", p.out);
    cr_assert(strstr(p.out, "(kernel sl_aggregate_chunked;") != NULL, "%s", p.out);
    cr_assert(strstr(p.out, "   11 |     s->w += weights[r->type + 2];") != NULL,
              "the line's text from the file:\n%s", p.out);
    cr_assert(strstr(p.out, " out-of-bounds, 0 data race, 0 uninitialized value") != NULL, "%s",
              p.out);
    proc_free(&p);
}

Test(watchdog, deep_check_passes_a_clean_example_kernel, .timeout = 300)
{
    need_oclgrind();
    make_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/kernels/revenue.cl", SLUICE_SOURCE_DIR);
    const char *args[] = {"kernel", "check", "--deep", path, NULL};
    struct proc p = run_bin(args, NULL, 240);
    fprintf(stderr, "watchdog: kernel check --deep of revenue.cl: %.2f s\n", p.secs);
    cr_assert_eq(exit_code(&p), 0, "exit status %d; stdout:\n%s\nstderr:\n%s", exit_code(&p), p.out,
                 p.err);
    cr_assert(strstr(p.out, "revenue.cl: OK under Oclgrind (4000 generated events") != NULL, "%s",
              p.out);
    proc_free(&p);
}

Test(watchdog, deep_check_without_oclgrind_says_so_with_status_3, .timeout = 120)
{
    make_tmpdir();
    write_file(in_tmp("oobread.cl"), oob_read_cl);
    const char *args[] = {"kernel", "check", "--deep", "oobread.cl", NULL};
    const char *env[] = {"SLUICE_OCLGRIND_ICD=/nonexistent/liboclgrind-rt-icd.so", NULL};
    struct proc p = run_bin(args, env, 60);
    cr_assert_eq(exit_code(&p), 3, "exit status %d; stderr:\n%s", exit_code(&p), p.err);
    cr_assert(strstr(p.out, "oobread.cl: OK for ") != NULL, "%s", p.out);
    cr_assert(strstr(p.err, "Oclgrind is not installed") != NULL, "%s", p.err);
    proc_free(&p);
}

/* ---- window arithmetic at the extremes ------------------------------------------------------ */

static void check_window(int64_t window_ms, int64_t lateness_ms, const int64_t *times, size_t nt)
{
    sl_rec recs[64];
    cr_assert_leq(nt, 64);
    for (size_t i = 0; i < nt; i++)
        recs[i] =
            (sl_rec){.key = th_key((uint32_t)(i % 3)), .time_ms = times[i], .type = SL_EV_VIEW};
    sl_engine_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    sl_pe_defaults(&cfg.pe, SL_PE_WINDOW);
    cfg.pe.capacity = 100;
    cfg.pe.window_ms = window_ms;
    cfg.pe.lateness_ms = lateness_ms;
    cfg.batch_events = 2; /* windows close after every second record */
    th_result res;
    int rc = th_run(&cfg, recs, nt, 1, &res);
    cr_assert_eq(rc, 0, "window %lld lateness %lld: %s", (long long)window_ms,
                 (long long)lateness_ms, res.msg);
    sl_row *ref;
    size_t nref;
    uint64_t late;
    th_reference(&cfg.pe, recs, nt, &ref, &nref, &late);
    if (res.nfinal != nref)
        fprintf(stderr, "window_ms %lld, lateness_ms %lld: %zu rows, the reference %zu\n",
                (long long)window_ms, (long long)lateness_ms, res.nfinal, nref);
    th_assert_rows(res.final_rows, res.nfinal, ref, nref, 0.0);
    cr_assert_eq(res.stats.events_late, late, "window %lld lateness %lld: late %llu, ref %llu",
                 (long long)window_ms, (long long)lateness_ms,
                 (unsigned long long)res.stats.events_late, (unsigned long long)late);
    free(ref);
    th_result_free(&res);
}

/* lateness_ms and window_ms up to INT64_MAX (what the config accepts) with event times up to
 * the window limit and beyond: no signed overflow (the sanitizer build aborts on one), and the
 * same rows and late counts as the reference. */
Test(watchdog, extreme_window_and_lateness_do_not_overflow, .timeout = 120)
{
    const int64_t L = SL_WINDOW_TIME_LIMIT;
    const int64_t times[] = {0,    5,     -5,    L,      -L, L - 1, -L + 1, INT64_MAX, INT64_MIN,
                             1000, -1000, L / 2, -L / 2, 7,  -7,    L - 7,  -(L - 7),  3};
    const size_t nt = sizeof times / sizeof times[0];
    const int64_t windows[] = {1, 7, 10000, L, INT64_MAX - 1, INT64_MAX};
    const int64_t latenesses[] = {0, 1, L, INT64_MAX - 1, INT64_MAX};
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++)
        for (size_t l = 0; l < sizeof latenesses / sizeof latenesses[0]; l++) {
            check_window(windows[w], latenesses[l], times, nt);
            /* watermark at the bottom: only negative times */
            const int64_t low[] = {-L, -L + 3, -5, -L, -1};
            check_window(windows[w], latenesses[l], low, 5);
        }
    sl_watermark wm = {0, 0};
    cr_assert_eq(sl_watermark_admit(&wm, -L, 7, INT64_MAX), SL_ADMIT_OK);
    cr_assert_eq(sl_watermark_admit(&wm, L, INT64_MAX, INT64_MAX), SL_ADMIT_OK);
    cr_assert_eq(sl_watermark_admit(&wm, -L, INT64_MAX, 0), SL_ADMIT_LATE);
    cr_assert_eq(sl_watermark_admit(&wm, INT64_MIN, 1, 0), SL_ADMIT_BAD_TIME);
}

Test(watchdog, config_takes_timeout_ms_and_extreme_lateness)
{
    sl_topology t;
    char err[1024];
    const char *y1 = "pe: {kind: count}\n";
    cr_assert_eq(sl_config_parse(y1, strlen(y1), "t.yaml", &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(t.pe.timeout_ms, SL_PE_TIMEOUT_MS);
    cr_assert_eq(SL_PE_TIMEOUT_MS, 10000);
    const char *y2 = "pe: {kind: window_count, window_ms: 9223372036854775807, lateness_ms: "
                     "9223372036854775807, timeout_ms: 0}\n"
                     "next:\n  - {kind: count, timeout_ms: 2500}\n";
    cr_assert_eq(sl_config_parse(y2, strlen(y2), "t.yaml", &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(t.pe.timeout_ms, 0);
    cr_assert_eq(t.pe.lateness_ms, INT64_MAX);
    cr_assert_eq(t.pe.window_ms, INT64_MAX);
    cr_assert_eq(t.next[0].pe.timeout_ms, 2500);
    const char *y3 = "pe: {kind: count, timeout_ms: -1}\n";
    cr_assert_eq(sl_config_parse(y3, strlen(y3), "t.yaml", &t, err, sizeof err), SL_ECONFIG);
    cr_assert_str_eq(err, "t.yaml:1:31: pe.timeout_ms: expected a non-negative integer, got "
                          "\"-1\"");
    const char *y4 = "pe: {kind: count, timeout_ms: 4294967296}\n";
    cr_assert_eq(sl_config_parse(y4, strlen(y4), "t.yaml", &t, err, sizeof err), SL_ECONFIG);
    cr_assert(strstr(err, "pe.timeout_ms: expected an integer in 0..4294967295") != NULL, "%s",
              err);
}
