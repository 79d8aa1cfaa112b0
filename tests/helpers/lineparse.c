/* Helpers for the line parser tests; see lineparse.h. */
#include "lineparse.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct tp_res tp_parse(tp_parse_fn fn, const void *ctx, const char *line, size_t len)
{
    struct tp_res r;
    memset(&r, 0, sizeof r);
    r.scratch = malloc(len ? len : 1);
    cr_assert_not_null(r.scratch);
    r.rc = fn(ctx, line, len, r.scratch, &r.ev, &r.err);
    return r;
}

struct tp_res tp_parse_ok(tp_parse_fn fn, const void *ctx, const char *line, size_t len)
{
    struct tp_res r = tp_parse(fn, ctx, line, len);
    cr_assert_eq(r.rc, 0, "rc %d: %s at %zu, for %.*s", r.rc, r.err.reason, r.err.column, (int)len,
                 line);
    return r;
}

void tp_done(struct tp_res *r)
{
    free(r->scratch);
    r->scratch = NULL;
}

size_t tp_col_of(const char *line, const char *needle)
{
    const char *p = strstr(line, needle);
    cr_assert_not_null(p, "test bug: \"%s\" not in \"%s\"", needle, line);
    return (size_t)(p - line) + 1;
}

void tp_expect_id(const struct tp_res *r, const char *id)
{
    cr_assert_eq(r->ev.ad_id_len, strlen(id), "ad_id length %zu, expected %zu", r->ev.ad_id_len,
                 strlen(id));
    cr_assert_eq(memcmp(r->ev.ad_id, id, strlen(id)), 0, "ad_id \"%.*s\", expected \"%s\"",
                 (int)r->ev.ad_id_len, r->ev.ad_id, id);
}

void tp_expect_err(tp_parse_fn fn, const void *ctx, const char *line, size_t column,
                   const char *reason)
{
    struct tp_res r = tp_parse(fn, ctx, line, strlen(line));
    cr_assert_eq(r.rc, SL_EPARSE, "rc %d for %s", r.rc, line);
    cr_assert_str_eq(r.err.reason, reason, "line %s", line);
    cr_assert_eq(r.err.column, column, "column %zu, expected %zu (%s) for %s", r.err.column, column,
                 r.err.reason, line);
    tp_done(&r);
}

void tp_expect_errs(tp_parse_fn fn, const void *ctx, const struct tp_bad *bad, size_t n,
                    const char *group)
{
    size_t checked = 0;
    for (size_t i = 0; i < n; i++) {
        const struct tp_bad *b = &bad[i];
        if (strcmp(b->group, group) != 0)
            continue;
        checked++;
        long col = b->at        ? (long)tp_col_of(b->line, b->at) + b->off
                   : b->off > 0 ? b->off
                                : (long)strlen(b->line) + 1 + b->off;
        tp_expect_err(fn, ctx, b->line, (size_t)col, b->reason);
    }
    cr_assert_gt(checked, 0, "test bug: no bad line in group \"%s\"", group);
}
