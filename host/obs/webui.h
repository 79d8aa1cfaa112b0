/* The HTTP endpoint of a running job (libmicrohttpd, its own thread): Prometheus metrics at
 * /metrics, the web UI at / (files embedded from host/obs/ui/), the job list as JSON at
 * /api/jobs, and POST /api/jobs/NAME/stop or /cancel, which set the run's stop or cancel flag
 * (as SIGINT once, or twice, would). The run publishes snapshots (sl_webui_publish); requests
 * read the latest one under a lock. */
#ifndef SL_WEBUI_H
#define SL_WEBUI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

typedef struct sl_webui sl_webui;

/* Serves on addr, "HOST:PORT" (HOST an IPv4 address or "localhost"; PORT 0 takes a free one).
 * Returns 0 with *out set, or SL_EINVAL (a bad address) or SL_EIO (cannot listen) with msg. */
int sl_webui_start(const char *addr, sl_webui **out, char *msg, size_t msglen);

/* The port it listens on. */
uint16_t sl_webui_port(const sl_webui *w);

/* The flags that the page's Stop and Cancel buttons set (the run's own; NULL: the buttons are
 * refused, as on a cluster node, which shows its part of jobs submitted elsewhere). */
void sl_webui_set_controls(sl_webui *w, volatile sig_atomic_t *stop, volatile sig_atomic_t *cancel);

/* Replaces job j's snapshot (by j->name; up to SL_OBS_JOBS_MAX jobs, a finished one giving way to
 * a new one). The figures over an interval (rate_in, busy_ratio) and the
 * checkpoint's age come from the previous snapshot; the last malformed lines' reasons from
 * sl_webui_note_bad. Any thread. */
void sl_webui_publish(sl_webui *w, const sl_obs_job *j);

/* Replaces the node's own figures (outboxes, rejected frames): a cluster node's endpoint. Any
 * thread. */
void sl_webui_publish_node(sl_webui *w, const sl_obs_node *n);

/* Keeps a malformed line's place and reason for job `job`'s page (its last SL_OBS_REASONS; a
 * job not published yet keeps none). Any thread. */
void sl_webui_note_bad(sl_webui *w, const char *job, uint64_t line, uint64_t column, uint64_t byte,
                       const char *reason);

/* Stops serving (requests in flight end first) and frees w. */
void sl_webui_stop(sl_webui **w);

#endif
