#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const format_names[] = {"text", "logfmt", "json"};

/* Parsed once per process; a racy double parse is harmless (same result). */
static int cfg_ready;
static int cfg_level = SL_LOG_WARN;
static char cfg_cats[256];
static int cfg_format = -1; /* enum sl_log_format; -1: SLUICE_LOG_FORMAT, else text */
static char node_name[64] = "local";

int sl_log_format_parse(const char *s, enum sl_log_format *fmt)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, format_names[i]) == 0) {
            *fmt = (enum sl_log_format)i;
            return 0;
        }
    return -1;
}

void sl_log_set_format(enum sl_log_format fmt)
{
    cfg_format = (int)fmt;
}

void sl_log_set_node(const char *name)
{
    snprintf(node_name, sizeof node_name, "%s", name);
}

static void load_config(void)
{
    const char *env = getenv("SLUICE_LOG");
    cfg_cats[0] = '\0';
    if (env && *env) {
        size_t n = strcspn(env, ",");
        for (int i = 0; i < 4; i++)
            if (strlen(level_names[i]) == n && strncmp(env, level_names[i], n) == 0)
                cfg_level = i;
        if (env[n] == ',')
            snprintf(cfg_cats, sizeof cfg_cats, ",%s,", env + n + 1);
    }
    const char *f = getenv("SLUICE_LOG_FORMAT");
    enum sl_log_format fmt = SL_LOG_TEXT;
    if (cfg_format < 0)
        cfg_format = f && sl_log_format_parse(f, &fmt) == 0 ? (int)fmt : SL_LOG_TEXT;
    cfg_ready = 1;
}

int sl_log_enabled(enum sl_log_level level, const char *cat)
{
    if (!cfg_ready)
        load_config();
    if ((int)level > cfg_level)
        return 0;
    if (level <= SL_LOG_WARN || cfg_cats[0] == '\0')
        return 1;
    char needle[64];
    snprintf(needle, sizeof needle, ",%s,", cat);
    return strstr(cfg_cats, needle) != NULL;
}

void sl_log(enum sl_log_level level, const char *cat, const char *fmt, ...)
{
    if (!sl_log_enabled(level, cat))
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (cfg_format == SL_LOG_TEXT) {
        fprintf(stderr, "sluice[%s] %s: %s\n", cat, level_names[level], buf);
        return;
    }
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[96];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    /* the message, quoted: backslash and double quote escaped, control bytes as \n, \t or
     * \u00XX (JSON) and \xXX (logfmt) */
    char q[2200];
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)buf; *p && j + 8 < sizeof q; p++) {
        if (*p == '"' || *p == '\\') {
            q[j++] = '\\';
            q[j++] = (char)*p;
        } else if (*p == '\n') {
            q[j++] = '\\';
            q[j++] = 'n';
        } else if (*p == '\t') {
            q[j++] = '\\';
            q[j++] = 't';
        } else if (*p < 0x20) {
            j += (size_t)snprintf(q + j, sizeof q - j,
                                  cfg_format == SL_LOG_JSON ? "\\u%04x" : "\\x%02x", *p);
        } else {
            q[j++] = (char)*p;
        }
    }
    q[j] = '\0';
    if (cfg_format == SL_LOG_JSON)
        fprintf(stderr,
                "{\"ts\":\"%s\",\"level\":\"%s\",\"node\":\"%s\",\"cat\":\"%s\",\"msg\":\"%s\"}\n",
                when, level_names[level], node_name, cat, q);
    else
        fprintf(stderr, "ts=%s level=%s node=%s cat=%s msg=\"%s\"\n", when, level_names[level],
                node_name, cat, q);
}

void sl_check_failed(const char *what, const char *file, int line)
{
    fprintf(stderr, "sluice: invariant failed at %s:%d: %s\n", file, line, what);
    abort();
}
