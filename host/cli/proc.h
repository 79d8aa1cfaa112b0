/* What the command line does about its own process: the stop signals (SIGINT, SIGTERM), the
 * crash report of a kernel that kills it, and the path of its own executable (to start nodes
 * and the deep check). */
#ifndef SLUICE_CLI_PROC_H
#define SLUICE_CLI_PROC_H

#include <signal.h>
#include <stddef.h>

/* How many stop signals arrived: set by the handler of cli_catch_stop_signals, and the flag a
 * node is handed (with the signalfd of cli_stop_signal_fd) to count them in. */
extern volatile sig_atomic_t cli_stop_requested;

/* Set by the same handler at the second stop signal: stop waiting, give up the run. */
extern volatile sig_atomic_t cli_cancel_requested;

/* Savepoint requests: SIGUSR1 counted by cli_catch_savepoint_signal's handler (a job's driver
 * gets one from `sluice job savepoint`). */
extern volatile sig_atomic_t cli_savepoint_requested;
void cli_catch_savepoint_signal(void);

/* Counts SIGINT and SIGTERM in cli_stop_requested instead of dying of them. */
void cli_catch_stop_signals(void);

/* Blocks SIGINT and SIGTERM in this thread (and so in every thread it starts after: PoCL's
 * included) and returns a non-blocking signalfd that reads them, or -1 with errno set. */
int cli_stop_signal_fd(void);

/* Installs the handler that names the kernel when one crashes the process (in a driver
 * thread: out-of-bounds writes do that). Returns 0 or an SL_E* code. */
int cli_install_crash_report(void);

/* The path of this executable into exe (len bytes). Returns 0, or -1 with the reason in msg. */
int cli_self_exe(char *exe, size_t len, char *msg, size_t msglen);

#endif
