/* The command line's own process: stop signals, the crash report and its executable (proc.h). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "proc.h"
#include "watchdog.h"

volatile sig_atomic_t cli_stop_requested;
volatile sig_atomic_t cli_cancel_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    if (cli_stop_requested++)
        cli_cancel_requested = 1;
}

void cli_catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

volatile sig_atomic_t cli_savepoint_requested;

static void on_savepoint_signal(int sig)
{
    (void)sig;
    cli_savepoint_requested++;
}

void cli_catch_savepoint_signal(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_savepoint_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL); /* a job's driver starts with it blocked */
}

int cli_stop_signal_fd(void)
{
    sigset_t stopset;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGINT);
    sigaddset(&stopset, SIGTERM);
    int e = pthread_sigmask(SIG_BLOCK, &stopset, NULL);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return signalfd(-1, &stopset, SFD_NONBLOCK | SFD_CLOEXEC);
}

int cli_install_crash_report(void)
{
    return sl_crash_report_install(cli_prog);
}

int cli_self_exe(char *exe, size_t len, char *msg, size_t msglen)
{
    ssize_t l = readlink("/proc/self/exe", exe, len - 1);
    if (l <= 0) {
        snprintf(msg, msglen, "cannot find the sluice executable: %s", strerror(errno));
        return -1;
    }
    exe[l] = '\0';
    return 0;
}
