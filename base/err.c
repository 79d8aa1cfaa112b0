#include "err.h"

#include <stdarg.h>
#include <stdio.h>

const char *sl_strerror(int err)
{
    switch (err) {
    case SL_OK:
        return "success";
#define SL_ERR_CASE(name, val, msg)                                                                \
    case SL_E##name:                                                                               \
        return msg;
        SL_ERRNO_MAP(SL_ERR_CASE)
#undef SL_ERR_CASE
    default:
        return "unknown error";
    }
}

void sl_set_msg(char *msg, size_t msglen, const char *fmt, ...)
{
    if (!msg || msglen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
}
