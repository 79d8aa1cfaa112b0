/* The checkpoint writer's thread; see ckptwriter.h. */
#include "ckptwriter.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

#define DIR_MAX 4096

struct sl_ckptw {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pipe[2]; /* a byte in it: a completion waits */
    /* the checkpoint in flight, under mu; the writer reads the job while `pending` */
    int pending, running, done, quit;
    char dir[DIR_MAX];
    uint64_t id, prune_below;
    sl_ckpt_section sec[SL_CKPT_SECTIONS_MAX];
    size_t n;
    sl_ckptw_done result;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The writer's loop: one checkpoint at a time, written without the lock (the owner does not touch
 * the job while it is in flight). */
static void *writer_main(void *arg)
{
    sl_ckptw *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->pending && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->pending)
            break;
        w->pending = 0;
        w->running = 1;
        pthread_mutex_unlock(&w->mu);

        sl_ckptw_done r = {.id = w->id};
        double t0 = now_s();
        r.rc = sl_ckpt_write(w->dir, w->id, w->sec, w->n, &r.bytes, r.why, sizeof r.why);
        if (r.rc == 0) {
            r.why[0] = '\0';
            if (w->prune_below)
                sl_ckpt_prune(w->dir, w->prune_below);
        }
        r.write_s = now_s() - t0;

        pthread_mutex_lock(&w->mu);
        w->result = r;
        w->running = 0;
        w->done = 1;
        pthread_cond_broadcast(&w->cv);
        ssize_t k;
        do
            k = write(w->pipe[1], "", 1);
        while (k < 0 && errno == EINTR);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int sl_ckptw_new(sl_ckptw **out, char *msg, size_t msglen)
{
    *out = NULL;
    sl_ckptw *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    if (pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(msg, msglen, "checkpoint writer: pipe: %s", strerror(errno));
        free(w);
        return SL_EIO;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int e = pthread_create(&w->thread, NULL, writer_main, w);
    if (e) {
        snprintf(msg, msglen, "checkpoint writer: cannot start its thread: %s", strerror(e));
        close(w->pipe[0]);
        close(w->pipe[1]);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return SL_EIO;
    }
    *out = w;
    return 0;
}

int sl_ckptw_submit(sl_ckptw *w, const char *dir, uint64_t id, const sl_ckpt_section *s, size_t n,
                    uint64_t prune_below)
{
    if (n > SL_CKPT_SECTIONS_MAX || strlen(dir) >= DIR_MAX)
        return SL_EINVAL;
    pthread_mutex_lock(&w->mu);
    if (w->pending || w->running || w->done) {
        pthread_mutex_unlock(&w->mu);
        return SL_EEXIST;
    }
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    w->id = id;
    w->prune_below = prune_below;
    memcpy(w->sec, s, n * sizeof *s);
    w->n = n;
    w->pending = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int sl_ckptw_busy(const sl_ckptw *w)
{
    sl_ckptw *m = (sl_ckptw *)w; /* the lock, not the writer's state, changes */
    pthread_mutex_lock(&m->mu);
    int busy = m->pending || m->running || m->done;
    pthread_mutex_unlock(&m->mu);
    return busy;
}

int sl_ckptw_poll(sl_ckptw *w, int wait, sl_ckptw_done *d)
{
    pthread_mutex_lock(&w->mu);
    while (wait && (w->pending || w->running))
        pthread_cond_wait(&w->cv, &w->mu);
    int got = w->done;
    if (got) {
        *d = w->result;
        w->done = 0;
        char b[16];
        while (read(w->pipe[0], b, sizeof b) > 0)
            ;
    }
    pthread_mutex_unlock(&w->mu);
    return got;
}

int sl_ckptw_fd(const sl_ckptw *w)
{
    return w->pipe[0];
}

void sl_ckptw_destroy(sl_ckptw **wp)
{
    if (!wp || !*wp)
        return;
    sl_ckptw *w = *wp;
    pthread_mutex_lock(&w->mu);
    w->quit = 1; /* a checkpoint still pending is written first */
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    close(w->pipe[0]);
    close(w->pipe[1]);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    *wp = NULL;
}
