/* The kernel watchdog: bounded waits on OpenCL work, and the line a crash inside a kernel
 * leaves on stderr.
 *
 * Waits. A kernel cannot be stopped once it runs (OpenCL has no call for that, and PoCL runs it
 * on its own threads), so a PE that loops forever would hang every clFinish, clWaitForEvents or
 * blocking read behind it. sl_cl_wait waits for an event with a limit instead: a completion
 * callback (clSetEventCallback, CL_COMPLETE) signals a condition variable, which the caller waits
 * on in slices of SL_WAIT_SLICE_MS, checking the deadline and a cancel flag between slices. When
 * a wait ends early the command is still queued or running: its event and every host buffer it
 * reads or writes must stay allocated (the device may still use them), and the device must not
 * be trusted again; sl_device_set_wedged (device.h) records that.
 *
 * Crash report. A kernel that writes far out of bounds kills the process with SIGSEGV in one of
 * the driver's threads. sl_crash_report_install installs SIGSEGV and SIGBUS handlers that write
 * one line naming the PE whose program the process runs (sl_crash_note_pe, called by the engine
 * when it builds a program) and how to find the bad access, then re-raise the signal with its
 * default action, so that the exit status still says SIGSEGV (or hand it to the handler that was
 * there before, e.g. AddressSanitizer's in a sanitizer build, which then reports and exits). */
#ifndef SL_WATCHDOG_H
#define SL_WATCHDOG_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <CL/cl.h>

#define SL_WAIT_SLICE_MS 50 /* how often a wait looks at its deadline and cancel flag */

/* Waits until `ev` completes, at most timeout_ms milliseconds (0: no limit), and returns early
 * when *cancel (cancel may be NULL) is nonzero. The event's queue is flushed first. An event
 * that is already complete returns at once, whatever the flag says.
 * Returns 0; SL_ETIMEOUT (the deadline passed); SL_ECANCELED (the flag was set); SL_ECL with
 * *cl_status set (the command failed, or an OpenCL call here did). After SL_ETIMEOUT or
 * SL_ECANCELED the command may still run: see above. Any thread; the caller keeps its reference
 * to ev (the callback holds none). */
int sl_cl_wait(cl_event ev, uint32_t timeout_ms, const volatile sig_atomic_t *cancel,
               cl_int *cl_status);

/* clFinish with the same limit and flag: waits for a marker enqueued behind every command on q.
 * Returns as sl_cl_wait. Any thread. */
int sl_cl_finish(cl_command_queue q, uint32_t timeout_ms, const volatile sig_atomic_t *cancel,
                 cl_int *cl_status);

/* Records the PE whose kernels the process is about to run, for the crash line: `name` the PE,
 * `path` its source or binary file (NULL or "" for a built-in PE), binary 1 when `path` is a
 * program binary. A built-in PE does not replace the note of a user PE: user code is what a
 * crash most likely comes from. Any thread (writers are serialised; the handler reads the last
 * complete note). */
void sl_crash_note_pe(const char *name, const char *path, int user, int binary);

/* The crash line as the handler would write it for signal `sig`, without the newline, into buf
 * (always terminated). For tests and logs. Any thread. */
void sl_crash_line(int sig, char *buf, size_t len);

/* Installs the SIGSEGV and SIGBUS handlers (SA_RESETHAND | SA_ONSTACK). `prog` (copied) starts
 * the line. Returns 0, or SL_EINVAL when sigaction fails. Call from main before threads start. */
int sl_crash_report_install(const char *prog);

#endif
