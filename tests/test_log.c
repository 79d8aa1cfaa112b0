/* Log lines (base/log.c) in each format: text as before, logfmt and JSON with a timestamp, the
 * level, the node and the category, and the message escaped so that one message is one line
 * that parses back to the same text; and `sluice --log-format` end to end. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

/* Logs one error with message `msg` in format fmt and returns what stderr got (malloc'd). */
static char *logged(enum sl_log_format fmt, const char *msg)
{
    char path[] = "/tmp/sluice-log-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(ge(int, fd, 0));
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    sl_log_set_format(fmt);
    sl_log_set_node("node-7");
    SL_ERROR("engine", "%s", msg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fdopen(fd, "r");
    cr_assert_not_null(f);
    rewind(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    return strdup(buf);
}

/* Undoes the escapes of a quoted message (\" \\ \n \t, \u00XX or \xXX) from p (after the opening
 * quote) up to the closing quote, into out. Returns a pointer after the closing quote. */
static const char *unquote(const char *p, char *out)
{
    while (*p != '"') {
        cr_assert(ne(chr, *p, '\0'), "unterminated quote");
        if (*p != '\\') {
            *out++ = *p++;
            continue;
        }
        p++;
        if (*p == 'n')
            *out++ = '\n', p++;
        else if (*p == 't')
            *out++ = '\t', p++;
        else if (*p == 'u')
            *out++ = (char)strtol((char[]){p[3], p[4], 0}, NULL, 16), p += 5;
        else if (*p == 'x')
            *out++ = (char)strtol((char[]){p[1], p[2], 0}, NULL, 16), p += 3;
        else
            *out++ = *p++;
    }
    *out = '\0';
    return p + 1;
}

static const char tricky[] = "table \"ads\" full: a\\b\nsecond\tline \x01 end";

Test(log, logfmt_is_one_line_that_reads_back)
{
    char *s = logged(SL_LOG_LOGFMT, tricky);
    cr_assert(eq(sz, count_lines(s), 1), "one line: %s", s);
    int y, mo, d, h, mi, sec, ms;
    cr_assert(
        eq(int, sscanf(s, "ts=%4d-%2d-%2dT%2d:%2d:%2d.%3dZ ", &y, &mo, &d, &h, &mi, &sec, &ms), 7),
        "%s", s);
    const char *rest = strstr(s, "Z level=error node=node-7 cat=engine msg=\"");
    cr_assert_not_null(rest, "%s", s);
    char back[512];
    const char *end = unquote(rest + strlen("Z level=error node=node-7 cat=engine msg=\""), back);
    cr_assert(eq(str, back, (char *)tricky));
    cr_assert(eq(str, (char *)end, "\n"));
    free(s);
}

Test(log, json_is_one_object_that_reads_back)
{
    char *s = logged(SL_LOG_JSON, tricky);
    cr_assert(eq(sz, count_lines(s), 1), "one line: %s", s);
    cr_assert(eq(int, strncmp(s, "{\"ts\":\"", 7), 0), "%s", s);
    const char *rest =
        strstr(s, "Z\",\"level\":\"error\",\"node\":\"node-7\",\"cat\":\"engine\",\"msg\":\"");
    cr_assert_not_null(rest, "%s", s);
    char back[512];
    const char *end = unquote(
        rest + strlen("Z\",\"level\":\"error\",\"node\":\"node-7\",\"cat\":\"engine\",\"msg\":\""),
        back);
    cr_assert(eq(str, back, (char *)tricky));
    cr_assert(eq(str, (char *)end, "}\n"));
    free(s);
}

Test(log, text_is_as_before)
{
    char *s = logged(SL_LOG_TEXT, "plain words");
    cr_assert(eq(str, s, "sluice[engine] error: plain words\n"));
    free(s);
}

TestSuite(log_cli, .init = setup, .fini = finish, .timeout = 120);

Test(log_cli, log_format_option)
{
    struct run r = run_sluice("--log-format json ctr --events 2000 --capacity 5 -q", 120);
    cr_assert(ne(int, r.status, 0));
    const char *line = strstr(r.err, "{\"ts\":\"");
    cr_assert_not_null(line, "%s", r.err);
    cr_assert_not_null(strstr(line,
                              "\"level\":\"error\",\"node\":\"local\",\"cat\":\"engine\",\"msg\":"
                              "\"state table full"),
                       "%s", r.err);
    run_free(&r);
    r = run_sluice("--log-format yaml ctr", 30);
    cr_assert(eq(int, r.status, 2));
    cr_assert_not_null(strstr(r.err, "expected text, logfmt or json"), "%s", r.err);
    run_free(&r);
}
