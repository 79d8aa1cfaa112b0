/* The executor interface and its three implementations; see executor.h. */
#include "executor.h"

#include <string.h>

#include "err.h"

/* Stats of an executor with one stage: `first` is also the chain's only stage. */
static void one_stage(sl_executor_stats *st)
{
    st->chain.stages = 1;
    st->chain.engine[0] = st->first;
}

/* ---- the operations of each implementation: a single engine, several devices (multi) and
 * a chain of stages ---- */

/* The last stage's engine: its rows are the ones that leave the chain. */
static const sl_engine *chain_tail(const void *p)
{
    return sl_chain_engine(p, sl_chain_stages(p) - 1);
}

static int engine_push(void *p, const sl_rec *recs, const uint64_t *attrs, size_t n)
{
    return sl_engine_push_attrs(p, recs, attrs, n);
}

static int multi_push(void *p, const sl_rec *recs, const uint64_t *attrs, size_t n)
{
    return sl_multi_push_attrs(p, recs, attrs, n);
}

static int chain_push(void *p, const sl_rec *recs, const uint64_t *attrs, size_t n)
{
    return sl_chain_push_attrs(p, 0, recs, attrs, n);
}

static int engine_finish(void *p)
{
    return sl_engine_finish(p);
}

static int multi_finish(void *p)
{
    return sl_multi_finish(p);
}

static int chain_finish(void *p)
{
    return sl_chain_finish_all(p);
}

static int engine_tick(void *p, uint32_t max_wait_ms)
{
    return sl_engine_tick(p, max_wait_ms);
}

static int multi_tick(void *p, uint32_t max_wait_ms)
{
    return sl_multi_tick(p, max_wait_ms);
}

static int chain_tick(void *p, uint32_t max_wait_ms)
{
    return sl_chain_tick(p, max_wait_ms);
}

static int engine_reset(void *p)
{
    return sl_engine_reset(p);
}

static int chain_reset(void *p)
{
    return sl_chain_reset(p);
}

static void engine_stats(const void *p, sl_executor_stats *st)
{
    memset(st, 0, sizeof *st);
    sl_engine_get_stats(p, &st->first);
    one_stage(st);
}

static void multi_stats(const void *p, sl_executor_stats *st)
{
    memset(st, 0, sizeof *st);
    sl_multi_get_stats(p, &st->multi);
    st->first = st->multi.total;
    one_stage(st);
}

static void chain_stats(const void *p, sl_executor_stats *st)
{
    memset(st, 0, sizeof *st);
    sl_chain_get_stats(p, &st->chain);
    st->first = st->chain.engine[0];
}

static const sl_columns *engine_columns(const void *p)
{
    return sl_engine_columns(p);
}

static const sl_columns *multi_columns(const void *p)
{
    return sl_multi_columns(p);
}

static const sl_columns *chain_columns(const void *p)
{
    return sl_engine_columns(chain_tail(p));
}

static int engine_windowed(const void *p)
{
    return sl_engine_windowed(p);
}

static int multi_windowed(const void *p)
{
    return sl_multi_windowed(p);
}

static int chain_windowed(const void *p)
{
    return sl_engine_windowed(chain_tail(p));
}

static void engine_set_cancel(void *p, const volatile sig_atomic_t *flag)
{
    sl_engine_set_cancel(p, flag);
}

static void multi_set_cancel(void *p, const volatile sig_atomic_t *flag)
{
    sl_multi_set_cancel(p, flag);
}

static void chain_set_cancel(void *p, const volatile sig_atomic_t *flag)
{
    sl_chain_set_cancel(p, flag);
}

static const char *engine_message(const void *p)
{
    return sl_engine_message(p);
}

static const char *multi_message(const void *p)
{
    return sl_multi_message(p);
}

static const char *chain_message(const void *p)
{
    return sl_chain_message(p);
}

static void engine_destroy(void *p)
{
    sl_engine *e = p;
    sl_engine_destroy(&e);
}

static void multi_destroy(void *p)
{
    sl_multi *m = p;
    sl_multi_destroy(&m);
}

static void chain_destroy(void *p)
{
    sl_chain *ch = p;
    sl_chain_destroy(&ch);
}

static sl_rec *engine_stage_area(void *p, size_t *room)
{
    return sl_engine_stage_area(p, room);
}

static sl_rec *chain_stage_area(void *p, size_t *room)
{
    return sl_engine_stage_area(sl_chain_engine(p, 0), room);
}

/* ---- the tables ---- */

static const sl_executor_ops engine_ops = {
    "engine",          engine_push,    engine_finish,  engine_tick,
    engine_reset,      engine_stats,   engine_columns, engine_windowed,
    engine_set_cancel, engine_message, engine_destroy, engine_stage_area,
};

sl_executor sl_executor_of_engine(sl_engine *e)
{
    return (sl_executor){e ? &engine_ops : NULL, e};
}

static const sl_executor_ops multi_ops = {
    "devices",     multi_push,     multi_finish,     multi_tick,    NULL,          multi_stats,
    multi_columns, multi_windowed, multi_set_cancel, multi_message, multi_destroy, NULL,
};

sl_executor sl_executor_of_multi(sl_multi *m)
{
    return (sl_executor){m ? &multi_ops : NULL, m};
}

static const sl_executor_ops chain_ops = {
    "chain",       chain_push,     chain_finish,     chain_tick,    chain_reset,   chain_stats,
    chain_columns, chain_windowed, chain_set_cancel, chain_message, chain_destroy, chain_stage_area,
};

sl_executor sl_executor_of_chain(sl_chain *ch)
{
    return (sl_executor){ch ? &chain_ops : NULL, ch};
}

/* ---- the interface ---- */

int sl_executor_tick(sl_executor *x, uint32_t max_wait_ms)
{
    return x->ops->tick ? x->ops->tick(x->impl, max_wait_ms) : 0;
}

int sl_executor_push(sl_executor *x, const sl_rec *recs, size_t n)
{
    return x->ops->push(x->impl, recs, NULL, n);
}

int sl_executor_push_attrs(sl_executor *x, const sl_rec *recs, const uint64_t *attrs, size_t n)
{
    return x->ops->push(x->impl, recs, attrs, n);
}

sl_rec *sl_executor_stage_area(sl_executor *x, size_t *room)
{
    *room = 0;
    return x->ops->stage_area ? x->ops->stage_area(x->impl, room) : NULL;
}

int sl_executor_finish(sl_executor *x)
{
    return x->ops->finish(x->impl);
}

int sl_executor_reset(sl_executor *x)
{
    return x->ops->reset ? x->ops->reset(x->impl) : SL_EUNSUPPORTED;
}

void sl_executor_get_stats(const sl_executor *x, sl_executor_stats *st)
{
    x->ops->stats(x->impl, st);
}

const sl_columns *sl_executor_columns(const sl_executor *x)
{
    return x->ops->columns(x->impl);
}

int sl_executor_windowed(const sl_executor *x)
{
    return x->ops->windowed(x->impl);
}

void sl_executor_set_cancel(sl_executor *x, const volatile sig_atomic_t *flag)
{
    x->ops->set_cancel(x->impl, flag);
}

const char *sl_executor_message(const sl_executor *x)
{
    return x->ops->message(x->impl);
}

const char *sl_executor_name(const sl_executor *x)
{
    return x->ops->name;
}

void sl_executor_destroy(sl_executor *x)
{
    if (x->ops)
        x->ops->destroy(x->impl);
    *x = (sl_executor){NULL, NULL};
}
