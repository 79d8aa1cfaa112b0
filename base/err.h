/* sluice error codes: every function that can fail returns 0 or one of these. */
#ifndef SL_ERR_H
#define SL_ERR_H

#include <stddef.h>

/* X-macro table: name, value, message. Values are negative and stable. */
#define SL_ERRNO_MAP(X)                                                                            \
    X(NOMEM, -1, "out of memory")                                                                  \
    X(INVAL, -2, "invalid argument")                                                               \
    X(IO, -3, "input/output error")                                                                \
    X(PARSE, -4, "malformed input")                                                                \
    X(CONFIG, -5, "invalid configuration")                                                         \
    X(NODEV, -6, "no matching OpenCL device")                                                      \
    X(CL, -7, "OpenCL call failed")                                                                \
    X(BUILD, -8, "OpenCL program build failed")                                                    \
    X(TABLEFULL, -9, "state table full")                                                           \
    X(COLLISION, -10, "two ad ids hash to the same 64-bit key")                                    \
    X(RANGE, -11, "value out of range")                                                            \
    X(UNSUPPORTED, -12, "not supported")                                                           \
    X(STOPPED, -13, "stopped on request")                                                          \
    X(CONFLICT, -14, "an address is taken by another process")                                     \
    X(TIMEOUT, -15, "device work did not finish in time")                                          \
    X(CANCELED, -16, "cancelled while waiting for the device")                                     \
    X(EXIST, -17, "already exists")                                                                \
    X(NOENT, -18, "no such entry")                                                                 \
    X(STALE, -19, "changed by another writer meanwhile")

enum sl_err {
    SL_OK = 0,
#define SL_ERR_ENUM(name, val, msg) SL_E##name = (val),
    SL_ERRNO_MAP(SL_ERR_ENUM)
#undef SL_ERR_ENUM
};

/* Returns a static string describing code `err` (0 or a negative sl_err). Any thread. */
const char *sl_strerror(int err);

/* Formats a message into msg (msglen bytes, cut to fit), the buffer of the error convention;
 * msg NULL or msglen 0 writes nothing. Any thread. */
void sl_set_msg(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
