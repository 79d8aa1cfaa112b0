/* Trigger bookkeeping; see trigger.h. */
#include "trigger.h"

#include <math.h>

void sl_trigger_init(sl_trigger *t, const sl_trigger_cfg *cfg, double now_s)
{
    t->cfg = *cfg;
    t->next_events = cfg->every_events;
    t->last_s = now_s;
    t->aligned = 0;
    t->offset_s = 0;
    t->next_s = 0;
}

/* The first multiple of every_ms on the shared clock after now_s, on now_s's clock. */
static double next_point(const sl_trigger *t, double now_s)
{
    double period = (double)t->cfg.every_ms / 1000.0;
    return (floor((now_s + t->offset_s) / period) + 1.0) * period - t->offset_s;
}

void sl_trigger_align(sl_trigger *t, double offset_s, double now_s)
{
    if (!t->cfg.every_ms)
        return;
    t->aligned = 1;
    t->offset_s = offset_s;
    t->next_s = next_point(t, now_s);
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
    if (t->aligned) {
        if (now_s >= t->next_s) {
            t->next_s = next_point(t, now_s);
            due = 1;
        }
    } else if (t->cfg.every_ms && (now_s - t->last_s) * 1000.0 >= (double)t->cfg.every_ms) {
        due = 1;
    }
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
    double left = t->aligned ? (t->next_s - now_s) * 1000.0
                             : (double)t->cfg.every_ms - (now_s - t->last_s) * 1000.0;
    if (left <= 0)
        return 0;
    return left >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)left;
}
