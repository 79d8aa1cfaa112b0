/* A small logger with levels and categories, switched at run time by SLUICE_LOG.
 *
 * SLUICE_LOG=level[,category...]  e.g. "debug" or "info,engine,device".
 * Levels: error, warn (default), info, debug. With categories listed, info and debug
 * messages are printed only for those categories; errors and warnings always are.
 * SLUICE_LOG_FORMAT (or sl_log_set_format) picks one line per message as
 *   text    sluice[engine] warn: message                                   (the default)
 *   logfmt  ts=2026-12-06T21:55:01.123Z level=warn node=local cat=engine msg="message"
 *   json    {"ts":"2026-12-06T21:55:01.123Z","level":"warn","node":"local","cat":"engine",
 *            "msg":"message"}
 * Library code logs through this and never printf's. Any thread may log. */
#ifndef SL_LOG_H
#define SL_LOG_H

enum sl_log_level { SL_LOG_ERROR = 0, SL_LOG_WARN = 1, SL_LOG_INFO = 2, SL_LOG_DEBUG = 3 };

enum sl_log_format { SL_LOG_TEXT = 0, SL_LOG_LOGFMT = 1, SL_LOG_JSON = 2 };

/* Parses "text", "logfmt" or "json". Returns 0 with *fmt set, or -1. */
int sl_log_format_parse(const char *s, enum sl_log_format *fmt);

/* Sets the format of every later message (before other threads log). */
void sl_log_set_format(enum sl_log_format fmt);

/* Names the process in logfmt and JSON lines (node=...; "local" until set), e.g. "node-2". */
void sl_log_set_node(const char *name);

/* Returns nonzero when a message of `level` in `cat` would be printed. */
int sl_log_enabled(enum sl_log_level level, const char *cat);

/* Prints "sluice[cat] level: message" on stderr when enabled. */
void sl_log(enum sl_log_level level, const char *cat, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define SL_ERROR(cat, ...) sl_log(SL_LOG_ERROR, cat, __VA_ARGS__)
#define SL_WARN(cat, ...) sl_log(SL_LOG_WARN, cat, __VA_ARGS__)
#define SL_INFO(cat, ...) sl_log(SL_LOG_INFO, cat, __VA_ARGS__)
#define SL_DEBUG(cat, ...) sl_log(SL_LOG_DEBUG, cat, __VA_ARGS__)

/* Always-on invariant check (also in release builds): prints file:line and aborts. */
#define SL_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            sl_check_failed(#cond, __FILE__, __LINE__);                                            \
    } while (0)
_Noreturn void sl_check_failed(const char *what, const char *file, int line);

#endif
