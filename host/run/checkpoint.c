/* Checkpoints of a one-process run; see checkpoint.h. */
#include "checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckptfile.h"
#include "engine.h"
#include "err.h"
#include "ingest.h"
#include "lebytes.h"
#include "log.h"
#include "sink.h"

#define INPUT_FIELDS 7

struct sl_ckpt_run {
    const sl_topology *t;
    double every_s, last_s;
    uint64_t next_id;
    sl_ckpt_stats st;
};

int sl_ckpt_supported(const sl_topology *t, uint32_t ndev, const sl_chain *ch, char *msg,
                      size_t msglen)
{
    if (!sl_source_replayable(t)) {
        snprintf(msg, msglen,
                 "checkpoints need a source that can be read again from an offset (a file, not "
                 "followed); a %s source's events would need a write-ahead log, not built yet",
                 sl_source_kind_name(t->source.kind));
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

int sl_ckpt_run_new(const sl_topology *t, const sl_chain *ch, sl_ckpt_run **out, char *msg,
                    size_t msglen)
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
    c->t = t;
    c->every_s = t->checkpoint.every_ms / 1000.0;
    c->last_s = sl_ingest_now();
    c->next_id = 1;
    /* go on after the checkpoints already there, so that a newer one is never shadowed */
    uint64_t latest = 0;
    char why[1024];
    if (sl_ckpt_latest(t->checkpoint.dir, &latest, why, sizeof why) == 1)
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

/* The ids recorded in dict, as sl_addict_entry_put entries, into *out (malloc'd). */
static int dict_image(const sl_addict *dict, unsigned char **out, size_t *len)
{
    size_t cap = 65536, at = 0, cursor = 0, idlen;
    uint64_t key;
    const char *id;
    unsigned char *p = malloc(cap);
    if (!p)
        return SL_ENOMEM;
    while (sl_addict_next(dict, &cursor, &key, &id, &idlen)) {
        while (!sl_addict_entry_put(p, cap, &at, key, id, idlen)) {
            unsigned char *np = realloc(p, cap *= 2);
            if (!np) {
                free(p);
                return SL_ENOMEM;
            }
            p = np;
        }
    }
    *out = p;
    *len = at;
    return 0;
}

int sl_ckpt_run_tick(sl_ckpt_run *c, sl_chain *ch, const sl_source *src, const sl_addict *dict,
                     sl_sink *sink, char *msg, size_t msglen)
{
    double t0 = sl_ingest_now();
    if (t0 - c->last_s < c->every_s)
        return 0;
    c->last_s = t0;
    unsigned char *state = NULL, *ids = NULL;
    size_t state_len = 0, ids_len = 0;
    int rc = sl_chain_save(ch, &state, &state_len);
    if (rc) {
        snprintf(msg, msglen, "checkpoint: %s", sl_chain_message(ch));
        return rc;
    }
    /* ---- the sink's commit: what it wrote up to this state (windows, snapshots) ---- */
    unsigned char *out_img = NULL;
    size_t out_len = 0;
    uint64_t committed = 0;
    if ((rc = sl_sink_commit(sink, &committed))) {
        free(state);
        snprintf(msg, msglen, "checkpoint: %s", sl_sink_message(sink));
        return rc;
    }
    if ((rc = sl_sink_save(sink, &out_img, &out_len)) || (rc = dict_image(dict, &ids, &ids_len))) {
        free(state);
        free(out_img);
        snprintf(msg, msglen, "checkpoint: out of memory");
        return rc;
    }
    /* ---- */
    sl_source_stats ss;
    sl_source_get_stats(src, &ss);
    unsigned char input[INPUT_FIELDS * 8];
    const uint64_t in[INPUT_FIELDS] = {ss.input.lines, ss.input.records, ss.input.bad,
                                       ss.input.blank, ss.input.bytes,   ss.filtered,
                                       ss.passed};
    for (int i = 0; i < INPUT_FIELDS; i++)
        sl_le_put(input + 8 * i, in[i], 8);
    char meta[4400];
    int mlen = meta_text(c->t, nstages(ch), meta, sizeof meta);
    sl_ckpt_section sec[] = {{"meta", meta, (size_t)mlen},
                             {"input", input, sizeof input},
                             {"dict", ids, ids_len},
                             {"state", state, state_len},
                             {"sink", out_img, out_len}};
    uint64_t bytes = 0;
    char why[1200];
    uint64_t id = c->next_id;
    if (sl_ckpt_write(c->t->checkpoint.dir, id, sec, sizeof sec / sizeof *sec, &bytes, why,
                      sizeof why)) {
        c->st.failed++;
        fprintf(stderr, "sluice: %s (the run goes on; the previous checkpoint stays usable)\n",
                why);
    } else {
        c->next_id++;
        c->st.written++;
        c->st.last_bytes = bytes;
        if (id >= c->t->checkpoint.keep)
            sl_ckpt_prune(c->t->checkpoint.dir, id - c->t->checkpoint.keep + 1);
        SL_DEBUG("checkpoint",
                 "checkpoint %" PRIu64 ": %" PRIu64 " bytes at input byte %" PRIu64
                 ", output committed at byte %" PRIu64,
                 id, bytes, ss.input.bytes, committed);
    }
    free(state);
    free(out_img);
    free(ids);
    double took = sl_ingest_now() - t0;
    c->st.total_s += took;
    if (took > c->st.max_s)
        c->st.max_s = took;
    c->last_s = sl_ingest_now(); /* the interval runs from the end of this one */
    return 0;
}

void sl_ckpt_run_stats(const sl_ckpt_run *c, sl_ckpt_stats *st)
{
    *st = c->st;
}

void sl_ckpt_run_destroy(sl_ckpt_run **cp)
{
    if (!cp || !*cp)
        return;
    free(*cp);
    *cp = NULL;
}

/* ---- resuming ----------------------------------------------------------------------------- */

static int load_dict(sl_addict *dict, const unsigned char *p, size_t len, char *msg, size_t msglen)
{
    size_t at = 0, idlen;
    uint64_t key, k;
    const char *id;
    int r;
    while ((r = sl_addict_entry_get(p, len, &at, &key, &id, &idlen)) == 1) {
        int rc = sl_addict_intern(dict, id, idlen, &k);
        if (rc || k != key) {
            snprintf(msg, msglen, "the checkpoint's ids do not hash to their keys");
            return rc ? rc : SL_EPARSE;
        }
    }
    if (r < 0) {
        snprintf(msg, msglen, "the checkpoint's ids are cut short");
        return SL_EPARSE;
    }
    return 0;
}

int sl_ckpt_resume(const char *from, const sl_topology *t, sl_chain *ch, sl_addict *dict,
                   sl_sink *sink, FILE *in, sl_source_stats *st, uint64_t *id, char *msg,
                   size_t msglen)
{
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
    } else if ((rc = sl_chain_load(ch, state, slen, why, sizeof why))) {
        snprintf(msg, msglen, "%s: %s", path, why);
    } else if ((rc = load_dict(dict, ids, dlen, why, sizeof why))) {
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
        if (fstat(fileno(in), &is) == 0 && S_ISREG(is.st_mode) &&
            (uint64_t)is.st_size < st->input.bytes) {
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
