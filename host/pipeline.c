#include "pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addict.h"
#include "device.h"
#include "err.h"
#include "generator.h"
#include "log.h"
#include "sink.h"

#define CHUNK 65536

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Keeps the records whose type is in `mask`, in order; returns how many. */
static size_t filter(sl_rec *recs, size_t n, uint32_t mask)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (mask & (1u << (recs[i].type & 3)))
            recs[k++] = recs[i];
    return k;
}

int sl_pipeline_run(const sl_pipeline_opts *o, sl_pipeline_report *rep, char *msg, size_t msglen)
{
    const sl_topology *t = o->topo;
    int rc = 0;
    sl_device *dev = NULL;
    sl_addict *dict = NULL;
    sl_sink *sink = NULL;
    sl_engine *eng = NULL;
    sl_reader *rd = NULL;
    sl_gen *gen = NULL;
    sl_rec *buf = NULL;
    memset(rep, 0, sizeof *rep);
    msg[0] = '\0';

    if ((rc = sl_device_open(t->device, &dev, msg, msglen)))
        goto out;
    rep->device = *sl_device_get_info(dev);
    dict = sl_addict_new();
    buf = malloc(CHUNK * sizeof *buf);
    if (!dict || !buf) {
        rc = SL_ENOMEM;
        goto out;
    }
    sink = sl_sink_new(o->out, dict, t->sink.snapshots, o->top > 0);
    if (!sink) {
        rc = SL_ENOMEM;
        goto out;
    }
    sl_engine_cfg ecfg = {.pe = t->pe, .batch_events = t->batch_events};
    if ((rc = sl_engine_new(dev, &ecfg, sl_sink_emit, sink, &eng, msg, msglen)))
        goto out;
    sl_sink_set_layout(sink, sl_engine_columns(eng), sl_engine_windowed(eng));
    if (t->source.kind == SL_SRC_GENERATOR) {
        gen = sl_gen_new(&t->source.gen, dict, &rc);
        if (!gen) {
            snprintf(msg, msglen, "invalid generator settings: %s", sl_strerror(rc));
            goto out;
        }
    } else {
        rd = sl_reader_new(o->in, t->source.format, dict, 0);
        if (!rd) {
            rc = SL_ENOMEM;
            goto out;
        }
        sl_reader_on_bad(rd, o->on_bad, o->bad_ud);
    }

    const uint32_t all = (1u << SL_EV_NTYPES) - 1;
    double t0 = now_s(), last = t0;
    uint64_t last_events = 0;
    for (;;) {
        long n;
        if (gen) {
            n = (long)sl_gen_next(gen, buf, CHUNK);
            rep->generated += (uint64_t)n;
        } else {
            n = sl_reader_read(rd, buf, CHUNK);
        }
        if (n < 0) {
            rc = (int)n;
            if (rc == SL_EIO)
                snprintf(msg, msglen, "reading input failed");
            else if (rc == SL_EPARSE)
                snprintf(msg, msglen, "%s",
                         o->strict ? "stopped at the first malformed line (--strict)"
                                   : "the input cannot be read past the error above");
            goto out;
        }
        if (n == 0)
            break;
        size_t k = (size_t)n;
        if ((t->filter_types & all) != all) {
            k = filter(buf, k, t->filter_types);
            rep->filtered += (uint64_t)n - k;
        }
        if ((rc = sl_engine_push(eng, buf, k))) {
            snprintf(msg, msglen, "%s", sl_engine_message(eng));
            goto out;
        }
        if (o->on_progress && o->progress_every_s > 0) {
            double now = now_s();
            if (now - last >= o->progress_every_s) {
                sl_engine_stats es;
                sl_engine_get_stats(eng, &es);
                sl_progress p = {.events = es.events_in, .elapsed_s = now - t0};
                p.rate = (double)(es.events_in - last_events) / (now - last);
                if (rd) {
                    struct sl_reader_stats rs;
                    sl_reader_stats(rd, &rs);
                    p.bad = rs.bad;
                }
                o->on_progress(o->progress_ud, &p);
                last = now;
                last_events = es.events_in;
            }
        }
    }
    if ((rc = sl_engine_finish(eng))) {
        snprintf(msg, msglen, "%s", sl_engine_message(eng));
        goto out;
    }
    rep->elapsed_s = now_s() - t0;
    if (o->top && o->top_out) {
        if (o->on_progress)
            o->on_progress(o->progress_ud, NULL); /* the progress line ends before the table */
        rc = sl_sink_print_top(sink, o->top_out, o->top, o->top_min_impressions);
    }
out:
    if (rd)
        sl_reader_stats(rd, &rep->input);
    if (eng)
        sl_engine_get_stats(eng, &rep->engine);
    if (rc && !msg[0])
        snprintf(msg, msglen, "%s", sl_strerror(rc));
    sl_reader_destroy(&rd);
    sl_gen_destroy(&gen);
    sl_engine_destroy(&eng);
    sl_sink_destroy(&sink);
    sl_addict_destroy(&dict);
    sl_device_close(&dev);
    free(buf);
    return rc;
}
