/* Checkpoints of a one-process run; see checkpoint.h. */
#include "checkpoint.h"

#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckptfile.h"
#include "ckptwriter.h"
#include "decomp.h"
#include "engine.h"
#include "err.h"
#include "ingest.h"
#include "ingestlog.h"
#include "lebytes.h"
#include "log.h"
#include "sink.h"

#define INPUT_FIELDS 7
/* The ingest log's group commit: what a live source gave is fdatasync'd this often (and at each
 * checkpoint), so a power loss loses at most this long of accepted events; a killed process
 * loses none of them (they are in the page cache once appended). */
#define LOG_SYNC_S 0.1

struct sl_ckpt_run {
    const sl_topology *t;
    double every_s, last_s;
    uint64_t next_id;
    sl_ckpt_stats st;
    sl_ckptw *w; /* writes, fsyncs, renames and prunes on a thread of its own */
    int waiting; /* a checkpoint is due while the previous one is still being written */
    /* What the checkpoint in flight is made of, kept from one to the next (fresh memory is slow
     * to touch): the writer reads them until its completion is taken. */
    sl_bytebuf state, ids;
    unsigned char input[INPUT_FIELDS * 8];
    char meta[4400];
    unsigned char logseg[8]; /* the "log" section: the ingest log's segment after it */
    sl_ingestlog *log;       /* a live source's (the caller's), or NULL */
    double log_synced_s;
    unsigned char *sink_img; /* the "sink" section (sl_sink_save), malloc'd */
    size_t sink_len;
};

int sl_ckpt_supported(const sl_topology *t, uint32_t ndev, const sl_chain *ch, char *msg,
                      size_t msglen)
{
    if (!sl_source_replayable(t) && !sl_source_loggable(t)) {
        snprintf(msg, msglen,
                 "checkpoints need a source that can be read again from an offset (a file, not "
                 "followed) or whose events go through the ingest log (stdin, zmq, tcp); a %s "
                 "source is not supported yet",
                 t->source.kind == SL_SRC_FILE ? "followed file"
                                               : sl_source_kind_name(t->source.kind));
        return SL_EUNSUPPORTED;
    }
    if (ndev > 1) {
        snprintf(msg, msglen, "checkpoints with several devices (--devices) are not supported yet");
        return SL_EUNSUPPORTED;
    }
    (void)ch; /* windowed PEs too: their open windows are in the state, the emitted ones in the
                 sink's committed output */
    return 0;
}

int sl_ckpt_run_new(const sl_topology *t, const sl_chain *ch, sl_ingestlog *log, sl_ckpt_run **out,
                    char *msg, size_t msglen)
{
    *out = NULL;
    int rc = sl_ckpt_supported(t, 1, ch, msg, msglen);
    if (rc)
        return rc;
    if (!t->checkpoint.dir[0]) {
        snprintf(msg, msglen, "checkpoints need a directory (checkpoint.dir, --checkpoint-dir)");
        return SL_EINVAL;
    }
    sl_ckpt_run *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    if ((rc = sl_ckptw_new(&c->w, msg, msglen))) {
        free(c);
        return rc;
    }
    c->t = t;
    c->every_s = t->checkpoint.every_ms / 1000.0;
    c->last_s = c->log_synced_s = sl_ingest_now();
    c->next_id = 1;
    c->log = log;
    /* a checkpoint rolls the log to a segment of its own id: above every segment there */
    if (log)
        c->next_id = sl_ingestlog_segment(log) + 1;
    /* go on after the checkpoints already there, so that a newer one is never shadowed */
    uint64_t latest = 0;
    char why[1024];
    if (sl_ckpt_latest(t->checkpoint.dir, &latest, why, sizeof why) == 1 && latest >= c->next_id)
        c->next_id = latest + 1;
    *out = c;
    return 0;
}

void sl_ckpt_run_set_next(sl_ckpt_run *c, uint64_t id)
{
    if (id > c->next_id)
        c->next_id = id;
}

/* The "meta" section: what the run reads, as text. */
static int meta_text(const sl_topology *t, uint32_t stages, char *buf, size_t len)
{
    return snprintf(buf, len, "sluice checkpoint\nsource %s\nformat %s\nstages %u\n",
                    t->source.path, t->source.format == SL_FMT_CSV ? "csv" : "ndjson", stages);
}

static uint32_t nstages(const sl_chain *ch)
{
    uint32_t n = 0;
    while (sl_chain_engine(ch, n))
        n++;
    return n;
}

/* The ids recorded in dict, as sl_addict_entry_put entries, into b (its memory kept). */
static int dict_image(const sl_addict *dict, sl_bytebuf *b)
{
    size_t cursor = 0, idlen;
    uint64_t key;
    const char *id;
    b->len = 0;
    while (sl_addict_next(dict, &cursor, &key, &id, &idlen)) {
        while (!sl_addict_entry_put(b->p, b->cap, &b->len, key, id, idlen))
            if (!sl_bytebuf_reserve(b, b->cap - b->len + 65536))
                return SL_ENOMEM;
    }
    return 0;
}

/* Takes the completion of the checkpoint in flight, if there is one and it is done (wait: blocks
 * until it is), into the counts; a failure is said on stderr. */
static void collect(sl_ckpt_run *c, int wait)
{
    sl_ckptw_done d;
    if (!sl_ckptw_poll(c->w, wait, &d))
        return;
    c->st.write_s += d.write_s;
    if (d.write_s > c->st.write_max_s)
        c->st.write_max_s = d.write_s;
    if (d.rc) {
        c->st.failed++;
        fprintf(stderr, "sluice: %s (the run goes on; the previous checkpoint stays usable)\n",
                d.why);
        return;
    }
    c->st.written++;
    c->st.last_bytes = d.bytes;
    /* the log from the oldest checkpoint kept on is what a resume may need */
    uint64_t keep = c->t->checkpoint.keep;
    if (c->log && d.id >= keep)
        sl_ingestlog_prune(c->log, d.id - keep + 1);
    SL_DEBUG("checkpoint", "checkpoint %" PRIu64 ": %" PRIu64 " bytes written in %.1f ms", d.id,
             d.bytes, d.write_s * 1e3);
}

/* A checkpoint is read on the run's thread (the state tables into c->state, the ids, the
 * source's counters) and handed to the writer; the run goes on while it is written. When one is
 * due while the previous is still being written, it waits, without blocking the run, for the
 * first tick after that one is done: at most one is in flight, and the interval is never shorter
 * than a write. */
int sl_ckpt_run_tick(sl_ckpt_run *c, sl_chain *ch, const sl_source *src, const sl_addict *dict,
                     sl_sink *sink, char *msg, size_t msglen)
{
    collect(c, 0);
    double t0 = sl_ingest_now();
    int rc;
    if (c->log && t0 - c->log_synced_s >= LOG_SYNC_S) {
        if ((rc = sl_ingestlog_sync(c->log, msg, msglen)))
            return rc;
        c->log_synced_s = t0;
    }
    if (t0 - c->last_s < c->every_s)
        return 0;
    if (sl_ckptw_busy(c->w)) {
        if (!c->waiting)
            c->st.deferred++;
        c->waiting = 1;
        return 0;
    }
    c->waiting = 0;
    uint64_t id = c->next_id++, keep = c->t->checkpoint.keep;
    /* what the source gives from now on follows this checkpoint: segment `id` of the log */
    if (c->log && (rc = sl_ingestlog_roll(c->log, id, msg, msglen)))
        return rc;
    c->log_synced_s = t0;
    sl_le_put(c->logseg, id, 8);
    rc = sl_chain_save_into(ch, &c->state);
    if (rc) {
        snprintf(msg, msglen, "checkpoint: %s", sl_chain_message(ch));
        return rc;
    }
    /* ---- the sink's commit: what it wrote up to this state (windows, snapshots) ---- */
    uint64_t committed = 0;
    if ((rc = sl_sink_commit(sink, &committed))) {
        snprintf(msg, msglen, "checkpoint: %s", sl_sink_message(sink));
        return rc;
    }
    free(c->sink_img); /* the writer is done with the previous one */
    c->sink_img = NULL;
    c->sink_len = 0;
    if ((rc = sl_sink_save(sink, &c->sink_img, &c->sink_len)) || (rc = dict_image(dict, &c->ids))) {
        snprintf(msg, msglen, "checkpoint: out of memory");
        return rc;
    }
    /* ---- */
    sl_source_stats ss;
    sl_source_get_stats(src, &ss);
    const uint64_t in[INPUT_FIELDS] = {ss.input.lines, ss.input.records, ss.input.bad,
                                       ss.input.blank, ss.input.bytes,   ss.filtered,
                                       ss.passed};
    for (int i = 0; i < INPUT_FIELDS; i++)
        sl_le_put(c->input + 8 * i, in[i], 8);
    int mlen = meta_text(c->t, nstages(ch), c->meta, sizeof c->meta);
    sl_ckpt_section sec[] = {
        {"meta", c->meta, (size_t)mlen},    {"input", c->input, sizeof c->input},
        {"dict", c->ids.p, c->ids.len},     {"state", c->state.p, c->state.len},
        {"sink", c->sink_img, c->sink_len}, {"log", c->logseg, sizeof c->logseg}};
    rc = sl_ckptw_submit(c->w, c->t->checkpoint.dir, id, sec,
                         sizeof sec / sizeof sec[0] - (c->log ? 0 : 1),
                         id >= keep ? id - keep + 1 : 0);
    if (rc) {
        snprintf(msg, msglen, "checkpoint %" PRIu64 ": %s", id, sl_strerror(rc));
        return rc;
    }
    SL_DEBUG("checkpoint",
             "checkpoint %" PRIu64 ": %zu bytes of state at input byte %" PRIu64
             ", output committed at byte %" PRIu64,
             id, c->state.len, ss.input.bytes, committed);
    double took = sl_ingest_now() - t0;
    c->st.total_s += took;
    if (took > c->st.max_s)
        c->st.max_s = took;
    c->last_s = sl_ingest_now(); /* the interval runs from the end of this one's reading */
    return 0;
}

void sl_ckpt_run_finish(sl_ckpt_run *c)
{
    collect(c, 1);
    char why[1200];
    if (c->log && sl_ingestlog_sync(c->log, why, sizeof why))
        fprintf(stderr, "sluice: %s\n", why);
}

void sl_ckpt_run_stats(const sl_ckpt_run *c, sl_ckpt_stats *st)
{
    *st = c->st;
}

void sl_ckpt_run_destroy(sl_ckpt_run **cp)
{
    if (!cp || !*cp)
        return;
    sl_ckptw_destroy(&(*cp)->w);
    sl_bytebuf_free(&(*cp)->state);
    sl_bytebuf_free(&(*cp)->ids);
    free((*cp)->sink_img);
    free(*cp);
    *cp = NULL;
}

/* ---- resuming ----------------------------------------------------------------------------- */

int sl_ckpt_log_dir(const sl_topology *t, const char *from, char *buf, size_t len, char *msg,
                    size_t msglen)
{
    char fdir[4400] = "";
    if (from) {
        struct stat sb;
        snprintf(fdir, sizeof fdir, "%s", from);
        if (stat(from, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
            char *slash = strrchr(fdir, '/');
            if (slash)
                *slash = '\0';
            else
                snprintf(fdir, sizeof fdir, ".");
        }
    }
    const char *dir = t->checkpoint.dir[0] ? t->checkpoint.dir : fdir;
    if (from && t->checkpoint.dir[0]) {
        char a[PATH_MAX], b[PATH_MAX];
        if (!realpath(fdir, a) || !realpath(t->checkpoint.dir, b) || strcmp(a, b) != 0) {
            snprintf(msg, msglen,
                     "--from %.1000s is not in the checkpoint directory %.1000s: a %s source "
                     "resumes from the checkpoints beside its ingest log",
                     from, t->checkpoint.dir, sl_source_kind_name(t->source.kind));
            return SL_EINVAL;
        }
    }
    if ((size_t)snprintf(buf, len, "%s/ingest", dir) >= len) {
        snprintf(msg, msglen, "the checkpoint directory's name is too long");
        return SL_EINVAL;
    }
    return 0;
}

int sl_ckpt_resume(const char *from, const sl_topology *t, sl_chain *ch, sl_addict *dict,
                   sl_sink *sink, FILE *in, sl_source_stats *st, uint64_t *id, uint64_t *log_from,
                   char *msg, size_t msglen)
{
    int live = sl_source_loggable(t);
    char path[4400], why[1200] = "";
    struct stat sb;
    if (stat(from, &sb) != 0) {
        snprintf(msg, msglen, "--from %s: %s", from, strerror(errno));
        return SL_EIO;
    }
    if (S_ISDIR(sb.st_mode)) {
        uint64_t latest;
        int r = sl_ckpt_latest(from, &latest, why, sizeof why);
        if (r < 0) {
            snprintf(msg, msglen, "--from: %s", why);
            return r;
        }
        if (r == 0) {
            snprintf(msg, msglen, "--from %s: no usable checkpoint there%s%s", from,
                     why[0] ? ": " : "", why);
            return SL_EINVAL;
        }
        if (why[0])
            fprintf(stderr, "sluice: --from %s: %s; resuming from an older one\n", from, why);
        sl_ckpt_path(path, sizeof path, from, latest);
    } else {
        snprintf(path, sizeof path, "%s", from);
    }
    sl_ckpt *c = NULL;
    int rc = sl_ckpt_open(path, &c, msg, msglen);
    if (rc)
        return rc;
    size_t mlen, ilen, dlen, slen, olen;
    const char *meta = sl_ckpt_get(c, "meta", &mlen);
    const unsigned char *input = sl_ckpt_get(c, "input", &ilen);
    const unsigned char *ids = sl_ckpt_get(c, "dict", &dlen);
    const unsigned char *state = sl_ckpt_get(c, "state", &slen);
    const unsigned char *out_img = sl_ckpt_get(c, "sink", &olen);
    uint64_t committed = 0;
    size_t llen = 0;
    const unsigned char *logseg = sl_ckpt_get(c, "log", &llen);
    char want[4400];
    int wlen = meta_text(t, nstages(ch), want, sizeof want);
    if (!meta || !input || !ids || !state || ilen != INPUT_FIELDS * 8) {
        snprintf(msg, msglen, "%s is not a checkpoint of a run (a section is missing)", path);
        rc = SL_EPARSE;
    } else if (mlen != (size_t)wlen || memcmp(meta, want, mlen) != 0) {
        snprintf(msg, msglen,
                 "%s was taken by a run of another input or topology:\n%.*sthis run:\n%s", path,
                 (int)mlen, meta, want);
        rc = SL_EINVAL;
    } else if (live && (!logseg || llen != 8)) {
        snprintf(msg, msglen,
                 "%s was taken without an ingest log: a %s source cannot resume from it", path,
                 sl_source_kind_name(t->source.kind));
        rc = SL_EINVAL;
    } else if ((rc = sl_chain_load(ch, state, slen, why, sizeof why))) {
        snprintf(msg, msglen, "%s: %s", path, why);
    } else if ((rc = sl_addict_load_image(dict, ids, dlen, why, sizeof why))) {
        snprintf(msg, msglen, "%s: %s", path, why);
    } else if (!out_img) {
        snprintf(msg, msglen, "%s was written by an older sluice (it has no sink section)", path);
        rc = SL_EINVAL;
    } else if ((rc = sl_sink_restore(sink, out_img, olen, &committed, why, sizeof why))) {
        snprintf(msg, msglen, "%s: %s", path, why);
    }
    if (rc == 0) {
        memset(st, 0, sizeof *st);
        uint64_t v[INPUT_FIELDS];
        for (int i = 0; i < INPUT_FIELDS; i++)
            v[i] = sl_le_get(input + 8 * i, 8);
        st->input = (struct sl_reader_stats){v[0], v[1], v[2], v[3], v[4]};
        st->filtered = v[5];
        st->passed = v[6];
        struct stat is;
        *log_from = live ? sl_le_get(logseg, 8) : 0;
        if (live) {
            /* nothing to seek: the ingest log holds what came after the checkpoint */
        } else if (fstat(fileno(in), &is) == 0 && S_ISREG(is.st_mode) &&
                   (uint64_t)is.st_size < st->input.bytes &&
                   /* a compressed input's offset is one of its decompressed text */
                   sl_decomp_fd_kind(fileno(in)) == SL_DECOMP_NONE) {
            snprintf(msg, msglen,
                     "%s was taken at byte %" PRIu64 " of %s, which now has %lld bytes: another "
                     "file",
                     path, st->input.bytes, t->source.path, (long long)is.st_size);
            rc = SL_EINVAL;
        } else if (fseeko(in, (off_t)st->input.bytes, SEEK_SET) != 0) {
            snprintf(msg, msglen, "cannot go to byte %" PRIu64 " of the input to resume: %s",
                     st->input.bytes, strerror(errno));
            rc = SL_EIO;
        }
        *id = sl_ckpt_id(c);
    }
    /* ---- the output back to the checkpoint's committed length, once all else is loaded ---- */
    if (rc == 0) {
        int r = sl_sink_rewind(sink, committed, why, sizeof why);
        if (r == SL_EUNSUPPORTED) {
            fprintf(stderr, "sluice: --from: %s\n", why);
        } else if (r) {
            snprintf(msg, msglen, "--from %s: %s", path, why);
            rc = r;
        }
    }
    /* ---- */
    sl_ckpt_close(&c);
    return rc;
}
