/* Trigger bookkeeping; see trigger.h. */
#include "trigger.h"

void sl_trigger_init(sl_trigger *t, const sl_trigger_cfg *cfg, double now_s)
{
    t->cfg = *cfg;
    t->next_events = cfg->every_events;
    t->last_s = now_s;
}

uint64_t sl_trigger_room(const sl_trigger *t, uint64_t events_in)
{
    if (!t->cfg.every_events)
        return UINT64_MAX;
    return t->next_events > events_in ? t->next_events - events_in : 0;
}

int sl_trigger_due(sl_trigger *t, uint64_t events_in, double now_s)
{
    int due = 0;
    if (t->cfg.every_events && events_in >= t->next_events) {
        while (t->next_events <= events_in)
            t->next_events += t->cfg.every_events;
        due = 1;
    }
    if (t->cfg.every_ms && (now_s - t->last_s) * 1000.0 >= (double)t->cfg.every_ms)
        due = 1;
    return due;
}

void sl_trigger_emitted(sl_trigger *t, double now_s)
{
    t->last_s = now_s;
}

uint32_t sl_trigger_wait_ms(const sl_trigger *t, double now_s)
{
    if (!t->cfg.every_ms)
        return UINT32_MAX;
    double left = (double)t->cfg.every_ms - (now_s - t->last_s) * 1000.0;
    if (left <= 0)
        return 0;
    return left >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)left;
}
