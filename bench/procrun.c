/* Whole processes for the benchmark suite; see procrun.h. */
#include "procrun.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "err.h"
#include "ysb.h" /* ysb_read_file */

extern char **environ;

static double tv_s(struct timeval t)
{
    return (double)t.tv_sec + (double)t.tv_usec * 1e-6;
}

void pr_last_line(const char *path, char *out, size_t len)
{
    char *text = NULL;
    size_t n = 0;
    out[0] = '\0';
    if (ysb_read_file(path, &text, &n))
        return;
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    size_t b = n;
    while (b && text[b - 1] != '\n')
        b--;
    snprintf(out, len, "%.*s", (int)(n - b), text + b);
    free(text);
}

/* VmHWM of process pid in MiB, or 0 when it cannot be read (the process has ended). */
static double hwm_mb(pid_t pid)
{
    char path[64], line[256];
    double mb = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            mb = strtod(line + 6, NULL) / 1024.0;
    if (f)
        fclose(f);
    return mb;
}

/* Waits until pid has ended (not reaped), reading its VmHWM every 20 ms; returns the last value
 * read. wait4's ru_maxrss cannot serve: exec counts the spawning process's own peak into it.
 * Through a pidfd, so that the end is seen at once; without one (Linux before 5.3), 0. */
static double watch_peak(pid_t pid)
{
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    double peak = 0;
    if (fd < 0)
        return 0;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    for (;;) {
        double h = hwm_mb(pid);
        if (h > peak)
            peak = h;
        int n = poll(&pf, 1, 20);
        if (n > 0 || (n < 0 && errno != EINTR))
            break;
    }
    close(fd);
    return peak;
#else
    (void)pid;
    return 0;
#endif
}

int pr_run(char *const argv[], const char *out_path, const char *err_path, pr_proc *p, char *msg,
           size_t msglen)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa)) {
        snprintf(msg, msglen, "%s: cannot start: out of memory", argv[0]);
        return SL_ENOMEM;
    }
    int e = posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!e)
        e = posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    const double t0 = bc_now_s();
    if (!e)
        e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e) {
        snprintf(msg, msglen, "%s: cannot start: %s", argv[0], strerror(e));
        return SL_EIO;
    }
    int st = 0;
    struct rusage ru;
    p->peak_mb = watch_peak(pid);
    while (wait4(pid, &st, 0, &ru) < 0) {
        if (errno != EINTR) {
            snprintf(msg, msglen, "%s: wait: %s", argv[0], strerror(errno));
            return SL_EIO;
        }
    }
    p->wall = bc_now_s() - t0;
    p->cpu = tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    char last[512];
    pr_last_line(err_path, last, sizeof last);
    snprintf(msg, msglen, "%s exited with %s %d (stderr in %s): %s", argv[0],
             WIFEXITED(st) ? "status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
             err_path, last);
    return SL_EIO;
}
