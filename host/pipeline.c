#include "pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addict.h"
#include "device.h"
#include "err.h"
#include "chain.h"
#include "generator.h"
#include "jointab.h"
#include "log.h"
#include "sink.h"
#include "source.h"

#define CHUNK 65536

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int sl_pipeline_run(const sl_pipeline_opts *o, sl_pipeline_report *rep, char *msg, size_t msglen)
{
    const sl_topology *t = o->topo;
    int rc = 0;
    sl_device *dev = NULL;
    sl_addict *dict = NULL;
    sl_sink *sink = NULL;
    sl_chain *ch = NULL;
    sl_engine *eng = NULL; /* stage 0's, owned by ch */
    sl_jointab *joins[SL_STAGES_MAX] = {NULL};
    sl_source *src = NULL;
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
    for (uint32_t i = 0; i < t->nnext; i++) {
        if (t->next[i].join[0] &&
            (rc = sl_jointab_load(t->next[i].join, dict, &joins[i + 1], NULL, NULL, msg, msglen)))
            goto out;
    }
    if ((rc = sl_chain_new(dev, t, joins, NULL, NULL, sl_sink_emit, sink, &ch, msg, msglen)))
        goto out;
    eng = sl_chain_engine(ch, 0);
    sl_engine *tail = sl_chain_engine(ch, t->nnext);
    sl_sink_set_layout(sink, sl_engine_columns(tail), sl_engine_windowed(tail));
    if (sl_topology_rekeyed(t))
        sl_sink_set_key_name(sink, "campaign_id");
    if ((rc = sl_source_new(t, o->in, dict, o->on_bad, o->bad_ud, &src, msg, msglen)))
        goto out;

    double t0 = now_s(), last = t0;
    uint64_t last_events = 0;
    while (!sl_source_done(src)) {
        long n = sl_source_read(src, buf, CHUNK);
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
        if (n > 0 && (rc = sl_chain_push(ch, 0, buf, (size_t)n))) {
            snprintf(msg, msglen, "%s", sl_chain_message(ch));
            goto out;
        }
        if (o->on_progress && o->progress_every_s > 0) {
            double now = now_s();
            if (now - last >= o->progress_every_s) {
                sl_engine_stats es;
                sl_engine_get_stats(eng, &es);
                sl_progress p = {.events = es.events_in, .elapsed_s = now - t0};
                p.rate = (double)(es.events_in - last_events) / (now - last);
                sl_source_stats ss;
                sl_source_get_stats(src, &ss);
                p.bad = ss.input.bad;
                o->on_progress(o->progress_ud, &p);
                last = now;
                last_events = es.events_in;
            }
        }
    }
    if ((rc = sl_chain_finish_all(ch))) {
        snprintf(msg, msglen, "%s", sl_chain_message(ch));
        goto out;
    }
    rep->elapsed_s = now_s() - t0;
    if (o->top && o->top_out) {
        if (o->on_progress)
            o->on_progress(o->progress_ud, NULL); /* the progress line ends before the table */
        rc = sl_sink_print_top(sink, o->top_out, o->top, o->top_min_impressions);
    }
out:
    if (src) {
        sl_source_stats ss;
        sl_source_get_stats(src, &ss);
        rep->input = ss.input;
        rep->generated = ss.generated;
        rep->filtered = ss.filtered;
    }
    if (eng)
        sl_engine_get_stats(eng, &rep->engine);
    if (ch)
        sl_chain_get_stats(ch, &rep->chain);
    if (rc && !msg[0])
        snprintf(msg, msglen, "%s", sl_strerror(rc));
    sl_source_destroy(&src);
    sl_chain_destroy(&ch);
    for (int i = 0; i < SL_STAGES_MAX; i++)
        sl_jointab_destroy(&joins[i]);
    sl_sink_destroy(&sink);
    sl_addict_destroy(&dict);
    sl_device_close(&dev);
    free(buf);
    return rc;
}
