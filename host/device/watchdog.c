/* Bounded waits on OpenCL work and the crash line; see watchdog.h. */
#include "watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

/* ---- bounded waits -------------------------------------------------------------------------- */

/* Shared by the waiting thread and the completion callback; whichever lets go last frees it. When
 * a wait ends early and the command never completes, it stays allocated, referenced from the
 * driver's event. */
struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    int done;
    cl_int status;
    atomic_int refs;
};

static void waiter_release(struct waiter *w)
{
    if (atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static void CL_CALLBACK on_complete(cl_event ev, cl_int status, void *ud)
{
    (void)ev;
    struct waiter *w = ud;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    w->status = status;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    waiter_release(w);
}

static struct waiter *waiter_new(void)
{
    struct waiter *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    if (ok) {
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
             pthread_cond_init(&w->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!ok) {
        free(w);
        return NULL;
    }
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        pthread_cond_destroy(&w->cv);
        free(w);
        return NULL;
    }
    atomic_init(&w->refs, 2);
    return w;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Returns 0 when ev completed, 1 when it has not yet, or SL_ECL with *cl_status. */
static int event_state(cl_event ev, cl_int *cl_status)
{
    cl_int es = CL_QUEUED;
    cl_int st = clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof es, &es, NULL);
    if (st != CL_SUCCESS) {
        *cl_status = st;
        return SL_ECL;
    }
    if (es < 0) {
        *cl_status = es;
        return SL_ECL;
    }
    return es == CL_COMPLETE ? 0 : 1;
}

int sl_cl_wait(cl_event ev, uint32_t timeout_ms, const volatile sig_atomic_t *cancel,
               cl_int *cl_status)
{
    *cl_status = CL_SUCCESS;
    int rc = event_state(ev, cl_status);
    if (rc <= 0)
        return rc;
    const int64_t t0 = mono_ns();
    int64_t deadline = timeout_ms ? t0 + (int64_t)timeout_ms * 1000000 : INT64_MAX;
    cl_command_queue q = NULL;
    if (clGetEventInfo(ev, CL_EVENT_COMMAND_QUEUE, sizeof q, &q, NULL) == CL_SUCCESS && q)
        clFlush(q);
    /* Some implementations run the commands inside clFlush (Oclgrind) and never call a callback
     * registered after that: look again before registering one, and at every slice. */
    if ((rc = event_state(ev, cl_status)) <= 0)
        return rc;
    struct waiter *w = waiter_new();
    if (!w) {
        *cl_status = CL_OUT_OF_HOST_MEMORY;
        return SL_ENOMEM;
    }
    /* The callback may run on this thread, inside clSetEventCallback, when ev has completed
     * meanwhile: w->mu is not held here. */
    cl_int st = clSetEventCallback(ev, CL_COMPLETE, on_complete, w);
    if (st != CL_SUCCESS) {
        waiter_release(w);
        waiter_release(w);
        *cl_status = st;
        return SL_ECL;
    }
    rc = 0;
    int64_t prev = t0;
    for (;;) {
        if (cancel && *cancel) {
            rc = SL_ECANCELED;
            break;
        }
        int64_t now = mono_ns();
        /* A slice that ends far later than it should means this process was not running (it
         * was stopped, as a node paused by SIGSTOP, or starved): the kernel was not either, and
         * that time does not count against it. */
        if (deadline != INT64_MAX && now - prev > (int64_t)(SL_WAIT_SLICE_MS + 1000) * 1000000)
            deadline += now - prev - (int64_t)SL_WAIT_SLICE_MS * 1000000;
        prev = now;
        if (now >= deadline) {
            rc = SL_ETIMEOUT;
            break;
        }
        int64_t until = now + (int64_t)SL_WAIT_SLICE_MS * 1000000;
        if (until > deadline)
            until = deadline;
        struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
        pthread_mutex_lock(&w->mu);
        while (!w->done) {
            int e = pthread_cond_timedwait(&w->cv, &w->mu, &ts);
            if (e == ETIMEDOUT || (e != 0 && e != EINTR))
                break;
        }
        int done = w->done;
        cl_int status = w->status;
        pthread_mutex_unlock(&w->mu);
        if (done) {
            if (status < 0) {
                *cl_status = status;
                rc = SL_ECL;
            }
            break;
        }
        /* The driver's own state, without w->mu held: a driver may hold the event's lock while
         * it calls on_complete, which takes w->mu. */
        int s = event_state(ev, cl_status);
        if (s <= 0) {
            rc = s;
            break;
        }
    }
    waiter_release(w);
    return rc;
}

int sl_cl_finish(cl_command_queue q, uint32_t timeout_ms, const volatile sig_atomic_t *cancel,
                 cl_int *cl_status)
{
    cl_event marker = NULL;
    cl_int st = clEnqueueMarkerWithWaitList(q, 0, NULL, &marker);
    if (st != CL_SUCCESS) {
        *cl_status = st;
        return SL_ECL;
    }
    int rc = sl_cl_wait(marker, timeout_ms, cancel, cl_status);
    clReleaseEvent(marker);
    return rc;
}

/* ---- crash line ----------------------------------------------------------------------------- */

#define NOTE_MAX 1536

/* Two buffers: a writer fills the one the handler is not told to read, then flips `note_cur`. */
static char notes[2][NOTE_MAX];
static volatile sig_atomic_t note_cur;
static int note_user; /* a user PE's note is in place; under note_mu */
static pthread_mutex_t note_mu = PTHREAD_MUTEX_INITIALIZER;
static char crash_prog[64] = "sluice";
/* What SIGSEGV and SIGBUS did before: a sanitizer's handler, which the crash line then hands the
 * signal to (its report says more about a crash in host code); SIG_DFL otherwise. */
static struct sigaction prev_segv, prev_bus;

void sl_crash_note_pe(const char *name, const char *path, int user, int binary)
{
    if (!path)
        path = "";
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char pe[400]; /* "PE revenue (rev.cl)", or "rev.cl" when the PE is named after its file */
    if (strcmp(base, name) == 0)
        snprintf(pe, sizeof pe, "%s", path);
    else
        snprintf(pe, sizeof pe, "PE %s (%s)", name, path);
    pthread_mutex_lock(&note_mu);
    if (user || !note_user) {
        char *n = notes[1 - note_cur];
        if (!user)
            snprintf(n, NOTE_MAX, " while running the built-in PE %s", name);
        else if (binary)
            snprintf(n, NOTE_MAX,
                     " while running the kernels of %s, a program binary; a kernel writing out of "
                     "bounds does this: run `sluice kernel check --deep` on its source",
                     pe);
        else
            snprintf(n, NOTE_MAX,
                     " while running the kernels of %s; a kernel writing out of bounds does this: "
                     "run `sluice kernel check --deep %s`",
                     pe, path);
        note_cur = 1 - note_cur;
        note_user |= user;
    }
    pthread_mutex_unlock(&note_mu);
}

static const char *sig_name(int sig)
{
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGBUS:
        return "SIGBUS";
    default:
        return "signal";
    }
}

/* Appends s to buf[*n..len - 1) and keeps it terminated; async-signal-safe. */
static void put(char *buf, size_t len, size_t *n, const char *s)
{
    while (*s && *n + 1 < len)
        buf[(*n)++] = *s++;
    buf[*n] = '\0';
}

/* Builds the line; async-signal-safe (no stdio, no locks). Returns its length. */
static size_t build_line(int sig, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    put(buf, len, &n, crash_prog);
    put(buf, len, &n, ": crashed (");
    put(buf, len, &n, sig_name(sig));
    put(buf, len, &n, ")");
    put(buf, len, &n, notes[note_cur]);
    return n;
}

void sl_crash_line(int sig, char *buf, size_t len)
{
    if (len == 0)
        return;
    pthread_mutex_lock(&note_mu);
    build_line(sig, buf, len);
    pthread_mutex_unlock(&note_mu);
}

/* Set by the first thread that faults: it alone writes the line. */
static atomic_flag crashing = ATOMIC_FLAG_INIT;

static void on_crash(int sig)
{
    /* Several device threads can fault at once (a kernel writing out of bounds runs on all of
     * them). A second one must not reach the default action (which kills the process) before
     * the first has written the line: it waits here, and the first one's signal ends the process.
     */
    if (atomic_flag_test_and_set(&crashing))
        for (;;)
            pause();
    char line[NOTE_MAX + 128];
    size_t n = build_line(sig, line, sizeof line - 1);
    line[n++] = '\n';
    for (size_t off = 0; off < n;) {
        ssize_t w = write(STDERR_FILENO, line + off, n - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    /* Back to the previous handler (a sanitizer's) or the default action, then the signal again:
     * blocked until this returns, it is delivered then (and a fault repeats when the instruction
     * runs again), so the process ends as it would have without this handler. */
    const struct sigaction *prev = sig == SIGSEGV ? &prev_segv : &prev_bus;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    if ((prev->sa_flags & SA_SIGINFO) ||
        (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN))
        sigaction(sig, prev, NULL);
    else
        sigaction(sig, &dfl, NULL);
    raise(sig);
}

int sl_crash_report_install(const char *prog)
{
    static char altstack[1 << 16];
    if (prog && *prog)
        snprintf(crash_prog, sizeof crash_prog, "%s", prog);
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL); /* the main thread's overflow; other threads use their own stacks */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_ONSTACK; /* not SA_RESETHAND: see on_crash */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &prev_segv) != 0 || sigaction(SIGBUS, &sa, &prev_bus) != 0)
        return SL_EINVAL;
    return 0;
}
