#include "err.h"

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
