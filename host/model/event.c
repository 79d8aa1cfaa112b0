#include "event.h"

#include <string.h>

static int eq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

enum sl_evtype sl_evtype_parse(const char *s, size_t len)
{
    if (eq(s, len, "view") || eq(s, len, "impression"))
        return SL_EV_VIEW;
    if (eq(s, len, "click"))
        return SL_EV_CLICK;
    if (eq(s, len, "purchase"))
        return SL_EV_PURCHASE;
    return SL_EV_OTHER;
}

const char *sl_evtype_name(enum sl_evtype t)
{
    static const char *const names[] = {"view", "click", "purchase", "other"};
    return (unsigned)t < SL_EV_NTYPES ? names[t] : "other";
}
