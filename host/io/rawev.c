/* Rejected lines; see rawev.h. */
#include "rawev.h"

#include <stdarg.h>
#include <stdio.h>

#include "err.h"

int sl_perr_set(sl_perr *e, const char *line, const char *at, const char *fmt, ...)
{
    va_list ap;
    e->column = (size_t)(at - line) + 1;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    return SL_EPARSE;
}
