/* The shared ingest loop; see ingest.h. */
#include "ingest.h"

#include <stdio.h>
#include <time.h>

#include "err.h"

double sl_ingest_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int sl_ingest_run(const sl_ingest *in, sl_rec *buf, size_t cap, double *elapsed_s, char *msg,
                  size_t msglen)
{
    double t0 = sl_ingest_now(), last = t0;
    uint64_t pushed = 0, last_events = 0;
    int rc = 0;
    int closed = 0;
    if (in->wait_ms > 0)
        sl_source_set_wait(in->src, in->wait_ms);
    while (!sl_source_done(in->src)) {
        if (!closed && in->stop && *in->stop) {
            closed = 1;
            if ((rc = sl_source_close_input(in->src))) {
                snprintf(msg, msglen, "closing the input failed");
                break;
            }
            continue;
        }
        sl_rec *dst = buf;
        size_t want = cap;
        if (in->reserve) {
            size_t room = 0;
            sl_rec *area = in->reserve(in->ud, &room);
            if (area && room >= SL_INGEST_DIRECT_MIN) {
                dst = area;
                want = room < cap ? room : cap;
            }
        }
        long n = sl_source_read(in->src, dst, want);
        if (n < 0) {
            rc = (int)n;
            snprintf(msg, msglen, "%s",
                     rc == SL_EIO ? "reading input failed"
                     : in->strict ? "stopped at the first malformed line (--strict)"
                                  : "the input cannot be read past the error above");
            break;
        }
        if (n > 0 && (rc = in->push(in->ud, dst, (size_t)n, msg, msglen)))
            break;
        pushed += (uint64_t)n;
        if (in->turn && (rc = in->turn(in->ud, msg, msglen)))
            break;
        if (in->on_progress && in->progress_every_s > 0) {
            double now = sl_ingest_now();
            if (now - last >= in->progress_every_s) {
                uint64_t ev = in->events ? in->events(in->ud) : pushed;
                sl_source_stats ss;
                sl_source_get_stats(in->src, &ss);
                sl_progress p = {.events = ev, .bad = ss.input.bad, .elapsed_s = now - t0};
                p.rate = (double)(ev - last_events) / (now - last);
                in->on_progress(in->progress_ud, &p);
                last = now;
                last_events = ev;
            }
        }
    }
    if (elapsed_s)
        *elapsed_s = sl_ingest_now() - t0;
    return rc;
}
