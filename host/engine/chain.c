/* A topology's keyed PEs in order; see chain.h. */
#include "chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "lebytes.h"

#define CONVERT_CHUNK 8192

struct stage {
    sl_chain *ch;
    uint32_t idx;
    sl_engine *eng;
    int value_col;          /* for stage idx + 1: column of this stage's rows carried */
    const sl_jointab *join; /* stage idx + 1's join, or NULL */
};

struct sl_chain {
    uint32_t n;
    struct stage st[SL_STAGES_MAX];
    sl_chain_route_fn route;
    void *route_ud;
    sl_emit_fn out;
    void *out_ud;
    sl_rec *conv; /* CONVERT_CHUNK records */
    uint64_t forwarded[SL_STAGES_MAX], unjoined[SL_STAGES_MAX];
    int have_time;
    int64_t max_time_ms; /* the largest event time pushed into stage 0 */
    int commits_windows; /* sl_chain_commit_windows: windowed stages may be saved */
    char msg[1024];
};

static int deliver(sl_chain *ch, uint32_t stage, const sl_rec *recs, size_t n)
{
    if (ch->route)
        return ch->route(ch->route_ud, stage, recs, n);
    int rc = sl_engine_push(ch->st[stage].eng, recs, n);
    if (rc)
        snprintf(ch->msg, sizeof ch->msg, "%s", sl_engine_message(ch->st[stage].eng));
    return rc;
}

/* sl_emit_fn of every stage: the last one's rows go out, the others' become records. */
static int on_emit(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    struct stage *s = ud;
    sl_chain *ch = s->ch;
    if (s->idx + 1 == ch->n)
        return ch->out ? ch->out(ch->out_ud, kind, rows, n) : 0;
    if (kind == SL_EMIT_SNAPSHOT)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t key = rows[i].key;
        if (s->join && !sl_jointab_get(s->join, rows[i].key, &key)) {
            ch->unjoined[s->idx]++;
            continue;
        }
        ch->conv[k] = (sl_rec){
            .key = key,
            .time_ms = rows[i].window_start,
            .value = (float)rows[i].v[s->value_col],
            .type = SL_EV_VIEW,
            .user = rows[i].key,
        };
        if (++k == CONVERT_CHUNK) {
            ch->forwarded[s->idx] += k;
            int rc = deliver(ch, s->idx + 1, ch->conv, k);
            if (rc)
                return rc;
            k = 0;
        }
    }
    ch->forwarded[s->idx] += k;
    return k ? deliver(ch, s->idx + 1, ch->conv, k) : 0;
}

int sl_chain_tick(sl_chain *ch, uint32_t max_wait_ms)
{
    for (uint32_t i = 0; i < ch->n; i++) {
        int rc = sl_engine_tick(ch->st[i].eng, max_wait_ms);
        if (rc) {
            snprintf(ch->msg, sizeof ch->msg, "%s", sl_engine_message(ch->st[i].eng));
            return rc;
        }
    }
    return 0;
}

int sl_chain_new(sl_device *dev, const sl_topology *t, sl_jointab *const *joins,
                 sl_chain_route_fn route, void *route_ud, sl_emit_fn out, void *out_ud,
                 sl_chain **outp, char *msg, size_t msglen)
{
    sl_chain *ch = calloc(1, sizeof *ch);
    int rc = 0;
    if (!ch || !(ch->conv = malloc(CONVERT_CHUNK * sizeof *ch->conv))) {
        free(ch);
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    ch->n = 1 + t->nnext;
    ch->route = route;
    ch->route_ud = route_ud;
    ch->out = out;
    ch->out_ud = out_ud;
    for (uint32_t i = 0; i < ch->n; i++) {
        struct stage *s = &ch->st[i];
        s->ch = ch;
        s->idx = i;
        const sl_pe_cfg *pe = i == 0 ? &t->pe : &t->next[i - 1].pe;
        sl_engine_cfg ecfg = {.pe = *pe, .batch_events = t->batch_events};
        char emsg[4096];
        if ((rc = sl_engine_new(dev, &ecfg, on_emit, s, &s->eng, emsg, sizeof emsg))) {
            if (ch->n > 1)
                snprintf(msg, msglen, "%s (%s): %s", i == 0 ? "pe" : "next", pe->name, emsg);
            else
                snprintf(msg, msglen, "%s", emsg);
            goto fail;
        }
        if (i == 0)
            continue;
        const sl_stage_cfg *sc = &t->next[i - 1];
        struct stage *up = &ch->st[i - 1];
        const sl_columns *cols = sl_engine_columns(up->eng);
        up->value_col = 0;
        if (sc->value[0]) {
            up->value_col = sl_columns_find(cols, sc->value);
            if (up->value_col < 0) {
                char list[512] = "";
                for (int c = 0; c < cols->n; c++) {
                    size_t o = strlen(list);
                    snprintf(list + o, sizeof list - o, "%s%s", c ? ", " : "", cols->name[c]);
                }
                snprintf(msg, msglen, "next[%u].value: PE %s has no column \"%s\" (it has: %s)",
                         i - 1, i == 1 ? t->pe.name : t->next[i - 2].pe.name, sc->value, list);
                rc = SL_ECONFIG;
                goto fail;
            }
        }
        up->join = sc->join[0] && joins ? joins[i] : NULL;
        if (sc->join[0] && !up->join) {
            snprintf(msg, msglen, "next[%u].join: table %s not loaded", i - 1, sc->join);
            rc = SL_EINVAL;
            goto fail;
        }
    }
    *outp = ch;
    return 0;
fail:
    sl_chain_destroy(&ch);
    return rc;
}

uint32_t sl_chain_stages(const sl_chain *ch)
{
    return ch->n;
}

int sl_chain_push(sl_chain *ch, uint32_t stage, const sl_rec *recs, size_t n)
{
    return sl_chain_push_attrs(ch, stage, recs, NULL, n);
}

int sl_chain_push_attrs(sl_chain *ch, uint32_t stage, const sl_rec *recs, const uint64_t *attrs,
                        size_t n)
{
    if (stage >= ch->n) {
        snprintf(ch->msg, sizeof ch->msg, "no stage %u (the topology has %u)", stage, ch->n);
        return SL_EINVAL;
    }
    if (stage == 0 && n) {
        int64_t m = ch->have_time ? ch->max_time_ms : INT64_MIN;
        for (size_t i = 0; i < n; i++)
            m = recs[i].time_ms > m ? recs[i].time_ms : m;
        ch->have_time = 1;
        ch->max_time_ms = m;
    }
    int rc = sl_engine_push_attrs(ch->st[stage].eng, recs, attrs, n);
    if (rc && !ch->msg[0])
        snprintf(ch->msg, sizeof ch->msg, "%s", sl_engine_message(ch->st[stage].eng));
    return rc;
}

int sl_chain_finish(sl_chain *ch, uint32_t stage)
{
    if (stage >= ch->n) {
        snprintf(ch->msg, sizeof ch->msg, "no stage %u (the topology has %u)", stage, ch->n);
        return SL_EINVAL;
    }
    int rc = sl_engine_finish(ch->st[stage].eng);
    if (rc && !ch->msg[0])
        snprintf(ch->msg, sizeof ch->msg, "%s", sl_engine_message(ch->st[stage].eng));
    return rc;
}

int sl_chain_finish_all(sl_chain *ch)
{
    for (uint32_t i = 0; i < ch->n; i++) {
        int rc = sl_chain_finish(ch, i);
        if (rc)
            return rc;
    }
    return 0;
}

sl_engine *sl_chain_engine(const sl_chain *ch, uint32_t stage)
{
    return stage < ch->n ? ch->st[stage].eng : NULL;
}

void sl_chain_align_timers(sl_chain *ch, double offset_s)
{
    for (uint32_t i = 0; i < ch->n; i++)
        sl_engine_align_timer(ch->st[i].eng, offset_s);
}

void sl_chain_set_cancel(sl_chain *ch, const volatile sig_atomic_t *flag)
{
    for (uint32_t i = 0; i < ch->n; i++)
        sl_engine_set_cancel(ch->st[i].eng, flag);
}

int sl_chain_reset(sl_chain *ch)
{
    ch->msg[0] = '\0';
    memset(ch->forwarded, 0, sizeof ch->forwarded);
    ch->have_time = 0;
    ch->max_time_ms = 0;
    memset(ch->unjoined, 0, sizeof ch->unjoined);
    for (uint32_t i = 0; i < ch->n; i++) {
        int rc = sl_engine_reset(ch->st[i].eng);
        if (rc)
            return rc;
    }
    return 0;
}

const char *sl_chain_message(const sl_chain *ch)
{
    return ch->msg;
}

void sl_chain_get_stats(const sl_chain *ch, sl_chain_stats *st)
{
    memset(st, 0, sizeof *st);
    st->stages = ch->n;
    for (uint32_t i = 0; i < ch->n; i++) {
        sl_engine_get_stats(ch->st[i].eng, &st->engine[i]);
        st->forwarded[i] = ch->forwarded[i];
        st->unjoined[i] = ch->unjoined[i];
    }
    st->have_time = ch->have_time;
    st->max_time_ms = ch->max_time_ms;
}

void sl_chain_destroy(sl_chain **chp)
{
    if (!chp || !*chp)
        return;
    sl_chain *ch = *chp;
    for (uint32_t i = 0; i < SL_STAGES_MAX; i++)
        sl_engine_destroy(&ch->st[i].eng);
    free(ch->conv);
    free(ch);
    *chp = NULL;
}

/* A chain's image: the magic, a u32 count of stages, a u32 have_time and an i64 max_time_ms (the
 * largest event time pushed into stage 0, for the sink's watermark), then per stage a u64
 * forwarded, a u64 unjoined, a u64 length and the engine's image (sl_engine_save). */
#define CHAIN_MAGIC "SLCHAIN1"
#define CHAIN_HDR (8 + 4 + 4 + 8)
#define CHAIN_STAGE_HDR (3 * 8)

void sl_chain_commit_windows(sl_chain *ch, int on)
{
    ch->commits_windows = on;
}

int sl_chain_save_stage(sl_chain *ch, uint32_t stage, sl_bytebuf *b)
{
    if (stage == 0) {
        b->len = 0;
        for (uint32_t i = 0; i < ch->n && !ch->commits_windows; i++)
            if (sl_engine_windowed(ch->st[i].eng)) {
                snprintf(ch->msg, sizeof ch->msg,
                         "a checkpoint of a windowed PE (stage %u) is not supported here yet: the "
                         "windows it emitted before the checkpoint are not committed with it",
                         i);
                return SL_EUNSUPPORTED;
            }
        unsigned char *p = sl_bytebuf_reserve(b, CHAIN_HDR);
        if (!p) {
            snprintf(ch->msg, sizeof ch->msg, "out of memory saving the state tables");
            return SL_ENOMEM;
        }
        memcpy(p, CHAIN_MAGIC, 8);
        sl_le_put(p + 8, ch->n, 4);
        sl_le_put(p + 12, (uint64_t)ch->have_time, 4);
        sl_le_put(p + 16, (uint64_t)ch->max_time_ms, 8);
        b->len = CHAIN_HDR;
    }
    if (stage >= ch->n || b->len < CHAIN_HDR) {
        snprintf(ch->msg, sizeof ch->msg, "stage %u saved out of order", stage);
        return SL_EINVAL;
    }
    size_t at = b->len; /* the stage's length goes here once known */
    unsigned char *p = sl_bytebuf_reserve(b, CHAIN_STAGE_HDR);
    if (!p) {
        snprintf(ch->msg, sizeof ch->msg, "out of memory saving the state tables");
        return SL_ENOMEM;
    }
    sl_le_put(p, ch->forwarded[stage], 8);
    sl_le_put(p + 8, ch->unjoined[stage], 8);
    b->len += CHAIN_STAGE_HDR;
    int rc = sl_engine_save_into(ch->st[stage].eng, b);
    if (rc) {
        snprintf(ch->msg, sizeof ch->msg, "%s", sl_engine_message(ch->st[stage].eng));
        return rc;
    }
    sl_le_put(b->p + at + 16, b->len - at - CHAIN_STAGE_HDR, 8);
    return 0;
}

int sl_chain_save_into(sl_chain *ch, sl_bytebuf *b)
{
    for (uint32_t i = 0; i < ch->n; i++) {
        int rc = sl_chain_save_stage(ch, i, b);
        if (rc)
            return rc;
    }
    return 0;
}

int sl_chain_save(sl_chain *ch, unsigned char **img, size_t *len)
{
    sl_bytebuf b = {0};
    *img = NULL;
    *len = 0;
    int rc = sl_chain_save_into(ch, &b);
    if (rc) {
        sl_bytebuf_free(&b);
        return rc;
    }
    *img = b.p;
    *len = b.len;
    return 0;
}

int sl_chain_load(sl_chain *ch, const unsigned char *img, size_t len, char *msg, size_t msglen)
{
    if (len < CHAIN_HDR || memcmp(img, CHAIN_MAGIC, 8) != 0) {
        snprintf(msg, msglen, "the saved state is not a chain image of this version");
        return SL_EPARSE;
    }
    if (sl_le_get(img + 8, 4) != ch->n) {
        snprintf(msg, msglen, "the saved state has %llu stage(s), this topology %u",
                 (unsigned long long)sl_le_get(img + 8, 4), ch->n);
        return SL_EINVAL;
    }
    uint64_t have_time = sl_le_get(img + 12, 4);
    if (have_time > 1) {
        snprintf(msg, msglen, "the saved state's event time flag is %llu",
                 (unsigned long long)have_time);
        return SL_EPARSE;
    }
    uint64_t forwarded[SL_STAGES_MAX], unjoined[SL_STAGES_MAX];
    size_t at = CHAIN_HDR;
    for (uint32_t i = 0; i < ch->n; i++) {
        if (len - at < CHAIN_STAGE_HDR ||
            sl_le_get(img + at + 16, 8) > len - at - CHAIN_STAGE_HDR) {
            snprintf(msg, msglen, "the saved state is cut short in stage %u", i);
            return SL_EPARSE;
        }
        forwarded[i] = sl_le_get(img + at, 8);
        unjoined[i] = sl_le_get(img + at + 8, 8);
        size_t l = (size_t)sl_le_get(img + at + 16, 8);
        char m[1024];
        int rc = sl_engine_load(ch->st[i].eng, img + at + CHAIN_STAGE_HDR, l, m, sizeof m);
        if (rc) {
            snprintf(msg, msglen, "stage %u: %s", i, m);
            return rc;
        }
        at += CHAIN_STAGE_HDR + l;
    }
    if (at != len) {
        snprintf(msg, msglen, "the saved state has %zu bytes after its last stage", len - at);
        return SL_EPARSE;
    }
    for (uint32_t i = 0; i < ch->n; i++) {
        ch->forwarded[i] = forwarded[i];
        ch->unjoined[i] = unjoined[i];
    }
    ch->have_time = (int)have_time;
    ch->max_time_ms = (int64_t)sl_le_get(img + 16, 8);
    return 0;
}
