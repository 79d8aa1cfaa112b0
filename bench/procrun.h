/* Whole processes for the benchmark suite: run a program with its stdout and stderr in files,
 * wait for it, and say how long it took, how much CPU it used and its peak memory; and the last
 * line of what it wrote, for error messages and version probes. */
#ifndef BENCH_PROCRUN_H
#define BENCH_PROCRUN_H

#include <stddef.h>

typedef struct pr_proc {
    double wall;    /* seconds from start to exit */
    double cpu;     /* user + system CPU seconds, its threads included */
    double peak_mb; /* peak RSS sampled every 20 ms (0: not measured) */
} pr_proc;

/* Runs argv (argv[0] looked up in PATH when it has no '/') with stdout into out_path and stderr
 * into err_path, and waits for it, filling *p. Returns 0 when it exited with status 0; otherwise
 * SL_EIO with msg naming the program, how it ended and the last line it wrote to stderr. */
int pr_run(char *const argv[], const char *out_path, const char *err_path, pr_proc *p, char *msg,
           size_t msglen);

/* The last non-empty line of the file at path (at most len - 1 bytes of it), or "". */
void pr_last_line(const char *path, char *out, size_t len);

#endif
