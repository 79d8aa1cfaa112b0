#include "pipeline.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "addict.h"
#include "device.h"
#include "err.h"
#include "chain.h"
#include "ckptfile.h"
#include "executor.h"
#include "generator.h"
#include "ingest.h"
#include "ingestlog.h"
#include "jointab.h"
#include "log.h"
#include "sink.h"
#include "source.h"

#define CHUNK 65536

/* Opens the devices the options ask for. Returns 0 with *n set, or an sl_err with msg. */
static int open_devices(const sl_pipeline_opts *o, sl_device **devs, uint32_t *n, char *msg,
                        size_t msglen)
{
    const sl_topology *t = o->topo;
    uint32_t want = o->devices ? o->devices : 1;
    *n = 0;
    if (want == SL_DEVICES_ALL) {
        int c = sl_device_count(t->device);
        want = c <= 1 ? 1 : (uint32_t)c < SL_MULTI_MAX ? (uint32_t)c : SL_MULTI_MAX;
    }
    if (want > SL_MULTI_MAX) {
        snprintf(msg, msglen, "at most %d devices, not %u", SL_MULTI_MAX, want);
        return SL_EINVAL;
    }
    if (want > 1 && t->nnext) {
        snprintf(msg, msglen,
                 "several devices run one-stage topologies only (this one has %u next stage%s)",
                 t->nnext, t->nnext == 1 ? "" : "s");
        return SL_EUNSUPPORTED;
    }
    for (uint32_t i = 0; i < want; i++) {
        int rc = sl_device_open_nth(t->device, i, &devs[i], msg, msglen);
        if (rc)
            return rc;
        *n = i + 1;
    }
    return 0;
}

/* sl_ingest's push and events, on the executor (several devices, or the chain of stages). */
static int push_records(void *ud, const sl_rec *recs, const uint64_t *attrs, size_t n, char *msg,
                        size_t msglen)
{
    sl_executor *x = ud;
    int rc = sl_executor_push_attrs(x, recs, attrs, n);
    if (rc)
        snprintf(msg, msglen, "%s", sl_executor_message(x));
    return rc;
}

static uint64_t events_in(void *ud)
{
    sl_executor_stats st;
    sl_executor_get_stats(ud, &st);
    return st.first.events_in;
}

/* The executor and the batch wait, for the timers between reads. */
struct ticking {
    sl_executor *x;
    /* checkpoints (NULL: none): the chain, the source and the ids they save */
    sl_ckpt_run *ck;
    sl_chain *ch;
    const sl_source *src;
    const sl_addict *dict;
    sl_sink *sink;
    sl_ingestlog *log;  /* a live source's records go here before the engine (NULL: none) */
    size_t dict_cursor; /* the ids of dict already in the log */
    sl_addict *wdict;   /* dict, for a resume's replay to learn the logged ids */
    uint32_t nattr;     /* schema.attributes per record (the log keeps them with the records) */
    uint32_t max_wait_ms;
    int64_t lateness_ms;          /* the first PE's */
    const sl_pipeline_opts *o;    /* on_stats */
    double stats_at;              /* when on_stats was last called */
    double stats_t0;              /* when the run started */
    const sl_device_info *device; /* the first device's */
    /* The largest event time pushed (have_time: once there is one). Written by the reading
     * thread, read by the sink's clock, which with several devices runs on a device thread:
     * max_time is stored before have_time. */
    _Atomic int have_time;
    _Atomic int64_t max_time;
};

/* The sink's clock: the largest event time pushed less the first PE's allowed lateness (the
 * watermark of watermark.h, for every PE kind). */
static int64_t watermark_of(void *ud)
{
    struct ticking *tk = ud;
    return atomic_load(&tk->have_time) ? atomic_load(&tk->max_time) - tk->lateness_ms
                                       : SL_SINK_NO_WATERMARK;
}

/* Calls on_stats with the figures so far. */
static void live_stats(struct ticking *tk)
{
    static sl_pipeline_report live; /* large: not on the stack; the run's thread only */
    memset(&live, 0, sizeof live);
    sl_pipeline_report_source(&live, tk->src);
    sl_executor_stats st;
    sl_executor_get_stats(tk->x, &st);
    live.engine = st.first;
    live.chain = st.chain;
    live.multi = st.multi;
    if (tk->ck)
        sl_ckpt_run_stats(tk->ck, &live.ckpt);
    live.elapsed_s = sl_ingest_now() - tk->stats_t0;
    if (tk->device)
        live.device = *tk->device;
    tk->o->on_stats(tk->o->stats_ud, &live);
}

/* sl_ingest's turn: runs the executor's timers (partial batches, every_ms triggers), so that
 * results keep flowing while input is slow or silent. */
static int tick(void *ud, char *msg, size_t msglen)
{
    struct ticking *tk = ud;
    const sl_pipeline_opts *o = tk->o;
    if (o && o->on_stats && o->stats_every_s > 0) {
        double now = sl_ingest_now();
        if (now - tk->stats_at >= o->stats_every_s) {
            tk->stats_at = now;
            live_stats(tk);
        }
    }
    int rc = sl_executor_tick(tk->x, tk->max_wait_ms);
    if (rc)
        snprintf(msg, msglen, "%s", sl_executor_message(tk->x));
    else if (tk->ck)
        rc = sl_ckpt_run_tick(tk->ck, tk->ch, tk->src, tk->dict, tk->sink, msg, msglen);
    return rc;
}

/* Pushes records (and their schema attributes, or NULL) into the engine, keeping the largest
 * event time for the watermark. */
static int push_engine(void *ud, const sl_rec *recs, const uint64_t *attrs, size_t n, char *msg,
                       size_t msglen)
{
    struct ticking *tk = ud;
    int have = atomic_load(&tk->have_time);
    int64_t m = have ? atomic_load(&tk->max_time) : INT64_MIN;
    for (size_t i = 0; i < n; i++)
        m = recs[i].time_ms > m ? recs[i].time_ms : m;
    atomic_store(&tk->max_time, m);
    if (n > 0 && !have)
        atomic_store(&tk->have_time, 1);
    return push_records(tk->x, recs, attrs, n, msg, msglen);
}

/* sl_ingest's push: a live source's records are appended to the ingest log first (accepted),
 * after the ids learnt since the last push (the records hold only keys, and the output names
 * them by their ids), then pushed. */
static int push_ticking(void *ud, const sl_rec *recs, size_t n, char *msg, size_t msglen)
{
    struct ticking *tk = ud;
    int rc = 0;
    /* recs is the whole of the source's last read (sl_ingest_run), so its attributes are the
     * source's */
    const uint64_t *attrs = sl_source_attrs(tk->src);
    if (tk->log &&
        ((rc = sl_ingestlog_append_ids(tk->log, tk->dict, &tk->dict_cursor, msg, msglen)) ||
         (rc = sl_ingestlog_append_attrs(tk->log, recs, attrs, attrs ? tk->nattr : 0, n, msg,
                                         msglen))))
        return rc;
    return push_engine(ud, recs, attrs, n, msg, msglen);
}

/* sl_ingest's reserve: the first PE's staging area, so that the source reads straight into the
 * pinned batch buffer (sl_engine_stage_area). */
static sl_rec *reserve_ticking(void *ud, size_t *room)
{
    struct ticking *tk = ud;
    return sl_executor_stage_area(tk->x, room);
}

/* sl_ingestlog_bytes_fn of a resume: the ids logged after the checkpoint, into the dict. */
static int replay_ids(void *ud, const unsigned char *p, size_t len, char *msg, size_t msglen)
{
    const struct ticking *tk = ud;
    return sl_addict_load_image(tk->wdict, p, len, msg, msglen);
}

/* sl_ingestlog_fn of a resume: the log's records after the checkpoint into the engine (not
 * appended again), with the executor's timers between blocks. */
static int replay_push(void *ud, const sl_rec *recs, const uint64_t *attrs, uint32_t nattr,
                       size_t n, char *msg, size_t msglen)
{
    struct ticking *tk = ud;
    if (nattr != tk->nattr) {
        snprintf(msg, msglen,
                 "the ingest log's records carry %u schema.attributes, the topology declares %u: "
                 "resume with the topology that wrote it",
                 nattr, tk->nattr);
        return SL_EPARSE;
    }
    int rc = push_engine(ud, recs, attrs, n, msg, msglen);
    if (rc == 0 && (rc = sl_executor_tick(tk->x, tk->max_wait_ms)))
        snprintf(msg, msglen, "%s", sl_executor_message(tk->x));
    return rc;
}

/* Opens a live source's ingest log when the run checkpoints or resumes: anew, or to go on after
 * the checkpoint resumed from. NULL *log for a file source. Returns 0 or an sl_err with msg. */
static int open_log(const sl_pipeline_opts *o, sl_ingestlog **log, char *msg, size_t msglen)
{
    const sl_topology *t = o->topo;
    *log = NULL;
    if (!sl_source_loggable(t) || !(t->checkpoint.every_ms > 0 || o->resume_from))
        return 0;
    char dir[4500];
    int rc = sl_ckpt_log_dir(t, o->resume_from, dir, sizeof dir, msg, msglen);
    if (rc)
        return rc;
    if (t->checkpoint.dir[0] && mkdir(t->checkpoint.dir, 0755) != 0 && errno != EEXIST) {
        snprintf(msg, msglen, "cannot make the checkpoint directory %s: %s", t->checkpoint.dir,
                 strerror(errno));
        return SL_EIO;
    }
    rc = sl_ingestlog_open(dir, o->resume_from ? SL_INGESTLOG_RESUME : SL_INGESTLOG_FRESH, log, msg,
                           msglen);
    if (rc == 0 && sl_ingestlog_cut(*log))
        fprintf(stderr,
                "sluice: the ingest log's last %" PRIu64 " bytes were a torn block (cut): "
                "records read but never accepted\n",
                sl_ingestlog_cut(*log));
    return rc;
}

static uint64_t events_ticking(void *ud)
{
    return events_in(((struct ticking *)ud)->x);
}

/* Placement of the run's devices, shared read-only by their threads. */
struct placing {
    sl_topo *topo; /* NULL: hwloc could not load the topology; threads stay unbound */
    const sl_placement *pl;
    const sl_pipeline_opts *o;
};

/* An sl_multi_thread_fn: binds the calling thread to device `index`'s placement, then calls
 * the caller's own hook. A binding the OS refuses is a warning, not a failure. */
static int bind_device_thread(void *ud, uint32_t index, char *msg, size_t msglen)
{
    const struct placing *p = ud;
    if (p->topo) {
        char note[512];
        int rc = sl_placement_bind_thread(p->topo, &p->pl[index], note, sizeof note);
        if (rc)
            SL_WARN("placement", "device %u: thread left unbound: %s", index, note);
        else
            SL_DEBUG("placement", "device %u: thread bound to cpus %s%s%s", index,
                     p->pl[index].cpus, note[0] ? "; " : "", note);
    }
    if (p->o->on_device_thread)
        return p->o->on_device_thread(p->o->device_thread_ud, index, msg, msglen);
    return 0;
}

/* Places every device (the topology's overrides first). Returns 0, or SL_ECONFIG for an
 * override that names what this machine lacks. */
static int place_devices(const sl_topology *t, sl_device **devs, uint32_t ndev, struct placing *pc,
                         sl_pipeline_report *rep, char *msg, size_t msglen)
{
    char pmsg[1024];
    if (sl_topo_load(&pc->topo, NULL, pmsg, sizeof pmsg)) {
        pc->topo = NULL;
        if (t->nplacement) {
            snprintf(msg, msglen, "the config's placement: needs hwloc's topology: %s", pmsg);
            return SL_ECONFIG;
        }
        SL_WARN("placement", "no hwloc topology (%s): device threads are not bound", pmsg);
        return 0;
    }
    for (uint32_t i = 0; i < ndev; i++) {
        int rc = sl_place_device(pc->topo, sl_device_id(devs[i]), t->placement, t->nplacement,
                                 &rep->placement[i], msg, msglen);
        if (rc)
            return rc;
        char buf[1200];
        SL_INFO("placement", "device %u (%s): %s", i, sl_device_get_info(devs[i])->name,
                sl_placement_str(&rep->placement[i], buf, sizeof buf));
    }
    rep->placed = 1;
    return 0;
}

sl_ingest sl_pipeline_ingest(const sl_pipeline_opts *o, sl_source *src,
                             int (*push)(void *, const sl_rec *, size_t, char *, size_t),
                             int (*turn)(void *, char *, size_t), uint64_t (*events)(void *),
                             void *ud)
{
    return (sl_ingest){.src = src,
                       .push = push,
                       .turn = turn,
                       .events = events,
                       .ud = ud,
                       .on_progress = o->on_progress,
                       .progress_ud = o->progress_ud,
                       .progress_every_s = o->progress_every_s,
                       .strict = o->strict,
                       .stop = o->stop};
}

void sl_pipeline_report_source(sl_pipeline_report *rep, const sl_source *src)
{
    sl_source_stats ss;
    sl_source_get_stats(src, &ss);
    rep->input = ss.input;
    rep->generated = ss.generated;
    rep->filtered = ss.filtered;
}

int sl_pipeline_run(const sl_pipeline_opts *o, sl_pipeline_report *rep, char *msg, size_t msglen)
{
    const sl_topology *t = o->topo;
    int rc = 0;
    sl_device *devs[SL_MULTI_MAX] = {NULL};
    uint32_t ndev = 0;
    sl_executor x = {0}; /* several devices, or the chain of stages */
    struct placing pc = {.topo = NULL, .pl = rep->placement, .o = o};
    sl_device *dev = NULL;
    sl_addict *dict = NULL;
    sl_sink *sink = NULL;
    sl_jointab *joins[SL_STAGES_MAX] = {NULL};
    sl_source *src = NULL;
    sl_rec *buf = NULL;
    sl_chain *ch = NULL; /* one device: the chain the executor wraps */
    sl_ckpt_run *ck = NULL;
    sl_ingestlog *log = NULL;
    uint64_t log_from = 0;
    memset(rep, 0, sizeof *rep);
    msg[0] = '\0';

    if ((rc = open_devices(o, devs, &ndev, msg, msglen)))
        goto out;
    dev = devs[0];
    rep->device = *sl_device_get_info(dev);
    rep->ndevices = ndev;
    for (uint32_t i = 0; i < ndev; i++)
        rep->devices[i] = *sl_device_get_info(devs[i]);
    if ((rc = place_devices(t, devs, ndev, &pc, rep, msg, msglen)))
        goto out;
    dict = sl_addict_new();
    buf = malloc(CHUNK * sizeof *buf);
    if (!dict || !buf) {
        rc = SL_ENOMEM;
        goto out;
    }
    if ((rc = sl_sink_open(t, o->out, dict, o->top > 0, &sink, msg, msglen)))
        goto out;
    if (o->outfile)
        sl_sink_set_output_fd(sink, sl_outfile_fd(o->outfile));
    for (uint32_t i = 0; i < t->nnext; i++) {
        if (t->next[i].join[0] &&
            (rc = sl_jointab_load(t->next[i].join, dict, &joins[i + 1], NULL, NULL, msg, msglen)))
            goto out;
    }
    if (ndev > 1) {
        sl_engine_cfg ec = {.pe = t->pe, .batch_events = t->batch_events};
        sl_multi *multi = NULL;
        if ((rc = sl_multi_new(devs, ndev, &ec, bind_device_thread, &pc, sl_sink_emit, sink, &multi,
                               msg, msglen)))
            goto out;
        x = sl_executor_of_multi(multi);
    } else {
        if (o->on_device_thread && o->on_device_thread(o->device_thread_ud, 0, msg, msglen) != 0) {
            rc = SL_EINVAL;
            goto out;
        }
        if ((rc = sl_chain_new(dev, t, joins, NULL, NULL, sl_sink_emit, sink, &ch, msg, msglen)))
            goto out;
        x = sl_executor_of_chain(ch);
    }
    int checkpoints = t->checkpoint.every_ms > 0;
    sl_source_stats resumed;
    if ((checkpoints || o->resume_from) &&
        (rc = sl_ckpt_supported(t, ndev, ndev > 1 ? NULL : ch, msg, msglen)))
        goto out;
    sl_sink_set_layout(sink, sl_executor_columns(&x), sl_executor_windowed(&x));
    if ((rc = open_log(o, &log, msg, msglen)))
        goto out;
    int from_start = 0; /* a live source killed before its first checkpoint: the whole log */
    if (o->resume_from && log && sl_ingestlog_first(log) == 0) {
        uint64_t latest;
        char why[1200];
        struct stat sb;
        from_start = stat(o->resume_from, &sb) == 0 && S_ISDIR(sb.st_mode) &&
                     sl_ckpt_latest(o->resume_from, &latest, why, sizeof why) == 0;
    }
    if (o->resume_from && !from_start &&
        (rc = sl_ckpt_resume(o->resume_from, t, ch, dict, sink, o->in, &resumed,
                             &rep->ckpt.resumed_id, &log_from, msg, msglen)))
        goto out;
    if (from_start) { /* the whole log again: the output from its start */
        char why[1200];
        int r = sl_sink_rewind(sink, 0, why, sizeof why);
        if (r == SL_EUNSUPPORTED) {
            fprintf(stderr, "sluice: --from: %s\n", why);
        } else if (r) {
            snprintf(msg, msglen, "--from %s: %s", o->resume_from, why);
            rc = r;
            goto out;
        }
    }
    if (o->cancel)
        sl_executor_set_cancel(&x, o->cancel);
    if (sl_topology_rekeyed(t))
        sl_sink_set_key_name(sink, "campaign_id");
    if ((rc = sl_source_new(t, o->in, dict, o->on_bad, o->bad_ud, &src, msg, msglen)))
        goto out;
    if (o->resume_from && !log && (rc = sl_source_resume(src, &resumed))) {
        snprintf(msg, msglen, "cannot resume the source: %s", sl_strerror(rc));
        goto out;
    }
    if (checkpoints) {
        sl_chain_commit_windows(ch, 1); /* the sink commits with every checkpoint */
        if ((rc = sl_ckpt_run_new(t, ch, log, &ck, msg, msglen)))
            goto out;
        sl_ckpt_run_set_next(ck, rep->ckpt.resumed_id + 1);
    }

    struct ticking tk = {.x = &x,
                         .ck = ck,
                         .ch = ch,
                         .src = src,
                         .dict = dict,
                         .sink = sink,
                         .max_wait_ms = t->batch_wait_ms,
                         .lateness_ms = t->pe.lateness_ms,
                         .o = o,
                         .stats_t0 = sl_ingest_now(),
                         .device = &rep->device};
    if (o->resume_from) { /* the sink's watermark goes on from the checkpoint's */
        sl_chain_stats cs;
        sl_chain_get_stats(ch, &cs);
        atomic_store(&tk.max_time, cs.max_time_ms);
        atomic_store(&tk.have_time, cs.have_time);
    }
    sl_sink_set_clock(sink, watermark_of, &tk);
    /* a live source: what it gave after the checkpoint, from the ingest log, then the source */
    tk.wdict = dict;
    tk.nattr = t->schema.nattrs;
    if (o->resume_from && log &&
        (rc = sl_ingestlog_replay(log, log_from, replay_push, replay_ids, &tk, &rep->ckpt.replayed,
                                  msg, msglen)))
        goto out;
    tk.log = checkpoints ? log : NULL; /* appended to while checkpoints are taken */
    {
        uint64_t key; /* the ids known now are in the checkpoint or the log already */
        const char *id;
        size_t len;
        while (sl_addict_next(dict, &tk.dict_cursor, &key, &id, &len))
            ;
    }
    sl_ingest in = sl_pipeline_ingest(o, src, push_ticking, tick, events_ticking, &tk);
    in.reserve = reserve_ticking;
    /* Reads wait at most the batch wait (1..50 ms), so the timers run that often. */
    in.wait_ms = t->batch_wait_ms < 1 ? 1 : t->batch_wait_ms > 50 ? 50 : (int)t->batch_wait_ms;
    double t0 = sl_ingest_now();
    if ((rc = sl_ingest_run(&in, buf, CHUNK, NULL, msg, msglen)))
        goto out;
    if ((rc = sl_executor_finish(&x))) {
        snprintf(msg, msglen, "%s", sl_executor_message(&x));
        goto out;
    }
    rep->elapsed_s = sl_ingest_now() - t0;
    if (o->top && o->top_out) {
        if (o->on_progress)
            o->on_progress(o->progress_ud, NULL); /* the progress line ends before the table */
        rc = sl_sink_print_top(sink, o->top_out, o->top, o->top_min_impressions);
    }
out:
    if (src)
        sl_pipeline_report_source(rep, src);
    if (ck) {
        uint64_t resumed_id = rep->ckpt.resumed_id, replayed = rep->ckpt.replayed;
        sl_ckpt_run_finish(ck);
        sl_ckpt_run_stats(ck, &rep->ckpt);
        rep->ckpt.resumed_id = resumed_id;
        rep->ckpt.replayed = replayed;
    }
    sl_ckpt_run_destroy(&ck);
    sl_ingestlog_close(&log);
    if (x.ops) {
        sl_executor_stats st;
        sl_executor_get_stats(&x, &st);
        rep->engine = st.first;
        rep->chain = st.chain;
        rep->multi = st.multi;
    }
    if (rc && sink && sl_sink_message(sink)[0]) /* the sink's own words over "sink failed" */
        snprintf(msg, msglen, "%s", sl_sink_message(sink));
    if (rc && !msg[0])
        snprintf(msg, msglen, "%s", sl_strerror(rc));
    sl_source_destroy(&src);
    sl_executor_destroy(&x);
    for (int i = 0; i < SL_STAGES_MAX; i++)
        sl_jointab_destroy(&joins[i]);
    sl_sink_destroy(&sink);
    sl_addict_destroy(&dict);
    for (uint32_t i = 0; i < ndev; i++)
        sl_device_close(&devs[i]);
    sl_topo_free(&pc.topo);
    free(buf);
    return rc;
}
