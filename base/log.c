#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* Parsed once per process; a racy double parse is harmless (same result). */
static int cfg_ready;
static int cfg_level = SL_LOG_WARN;
static char cfg_cats[256];

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
    fprintf(stderr, "sluice[%s] %s: %s\n", cat, level_names[level], buf);
}

void sl_check_failed(const char *what, const char *file, int line)
{
    fprintf(stderr, "sluice: invariant failed at %s:%d: %s\n", file, line, what);
    abort();
}
