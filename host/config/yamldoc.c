/* Loading a config document (yamlmap.h): the file read, the size and nesting limits checked
 * before and while libyaml parses, libyaml's own errors as "NAME:LINE:COLUMN: ..." messages,
 * and the single document handed to the parser's root function. */
#include "yamlmap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "textfile.h"

#define CONFIG_FILE_MAX ((size_t)1 << 20) /* 1 MiB; a topology is a few hundred bytes */
#define CONFIG_DEPTH_MAX 64               /* nested collections, the root included */

/* Reports a libyaml failure of `p` on `text`. Returns SL_ENOMEM or SL_ECONFIG. */
static int syntax_error(const sl_ym_ctx *c, const yaml_parser_t *p, const char *text, size_t len)
{
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_MEMORY_ERROR) {
        sl_set_msg(c->err, c->errlen, "%s: out of memory while parsing", c->name);
        return SL_ENOMEM;
    }
    if (p->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark: count lines up to it. */
        yaml_mark_t m = {0, 0, 0};
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            if (text[i] == '\n') {
                m.line++;
                m.column = 0;
            } else {
                m.column++;
            }
        }
        if (p->problem_value >= 0)
            return sl_ym_fail(c, m, "%s (byte 0x%02x at offset %zu)", problem,
                              (unsigned)p->problem_value, p->problem_offset);
        return sl_ym_fail(c, m, "%s (at offset %zu)", problem, p->problem_offset);
    }
    if (p->context)
        return sl_ym_fail(c, p->problem_mark, "%s (%s at line %zu, column %zu)", problem,
                          p->context, p->context_mark.line + 1, p->context_mark.column + 1);
    return sl_ym_fail(c, p->problem_mark, "%s", problem);
}

/* ---- limits checked before and while libyaml parses --------------------------------------- */

/* libyaml's scanner keeps one simple-key slot per open flow collection and walks all of them
 * for every token, so deep flow nesting costs time quadratic in the depth (250,000 '[' take
 * about 95 s). Text that goes to libyaml is therefore limited in size, pre-scanned for flow
 * nesting, and walked event by event (stopping at the first collection too deep) before the
 * document is loaded. */

static int is_space_or_break(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Refuses text over CONFIG_FILE_MAX bytes. Returns 0 or SL_ECONFIG. */
static int check_size(const sl_ym_ctx *c, size_t len)
{
    yaml_mark_t start = {0, 0, 0};
    if (len <= CONFIG_FILE_MAX)
        return 0;
    return sl_ym_fail(c, start, "config file is %zu bytes; the limit is %zu MiB", len,
                      CONFIG_FILE_MAX >> 20);
}

/* The mark of text[i]; line_off is the offset of its line's first byte. Columns count
 * characters (UTF-8 lead bytes), as libyaml's do. */
static yaml_mark_t mark_at(const char *text, size_t i, size_t line, size_t line_off)
{
    yaml_mark_t m = {i, line, 0};
    for (size_t k = line_off; k < i; k++)
        if (((unsigned char)text[k] & 0xC0) != 0x80)
            m.column++;
    return m;
}

/* Counts the flow nesting ('[' and '{' that open a collection) of text without parsing it,
 * skipping comments, quoted scalars and the lines of block scalars, and refuses text nested
 * deeper than CONFIG_DEPTH_MAX at the bracket that goes one level too deep. A bracket is an
 * indicator anywhere inside a flow collection, outside one only where a value starts (after
 * whitespace or at the start of a line). The scan errs towards counting less: whatever it
 * misses, the event walk (check_depth_events) still refuses. Returns 0 or SL_ECONFIG. */
static int check_flow_depth(const sl_ym_ctx *c, const char *text, size_t len)
{
    size_t line = 0, line_off = 0;
    size_t indent = 0;       /* leading spaces of the current line */
    int at_line_start = 1;   /* nothing but spaces yet on this line */
    int in_block = 0;        /* inside a block scalar */
    int block_any = 0;       /* ... whose content may be at any indentation (header on "---") */
    size_t block_indent = 0; /* ... else indented deeper than this (its header line's) */
    int flow = 0, prev = '\n';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (at_line_start && ch == ' ') {
            indent++;
            continue;
        }
        if (at_line_start) {
            at_line_start = 0;
            if (in_block) {
                int marker = indent == 0 && len - i >= 3 &&
                             (memcmp(text + i, "---", 3) == 0 || memcmp(text + i, "...", 3) == 0);
                if (ch == '\n' || ch == '\r' || (block_any ? !marker : indent > block_indent)) {
                    while (i < len && text[i] != '\n') /* a line of the scalar */
                        i++;
                    if (i == len)
                        break;
                    ch = '\n';
                } else {
                    in_block = 0;
                }
            }
        }
        if (ch == '\n') {
            line++;
            line_off = i + 1;
            indent = 0;
            at_line_start = 1;
            prev = '\n';
            continue;
        }
        int value_start = is_space_or_break(prev);
        if (ch == '#' && value_start) {
            while (i + 1 < len && text[i + 1] != '\n') /* a comment */
                i++;
        } else if ((ch == '\'' || ch == '"') &&
                   (value_start || (flow > 0 && strchr("[{,:", prev) != NULL))) {
            /* A quoted scalar, which may span lines: '' escapes a quote in single quotes, a
             * backslash escapes the next byte in double quotes. */
            for (i++; i < len; i++) {
                if (text[i] == '\n') {
                    line++;
                    line_off = i + 1;
                } else if (ch == '\'' && text[i] == '\'') {
                    if (i + 1 < len && text[i + 1] == '\'')
                        i++;
                    else
                        break;
                } else if (ch == '"' && text[i] == '\\' && i + 1 < len && text[i + 1] != '\n') {
                    i++;
                } else if (ch == '"' && text[i] == '"') {
                    break;
                }
            }
            if (i == len)
                break; /* unterminated: libyaml reports it */
        } else if ((ch == '[' || ch == '{') && (flow > 0 || value_start)) {
            if (++flow > CONFIG_DEPTH_MAX)
                return sl_ym_fail(c, mark_at(text, i, line, line_off),
                                  "nesting deeper than %d levels", CONFIG_DEPTH_MAX);
        } else if ((ch == ']' || ch == '}') && flow > 0) {
            flow--;
        } else if ((ch == '|' || ch == '>') && flow == 0 && value_start) {
            /* A block scalar header: the content is on the lines after it. */
            in_block = 1;
            block_any = indent == 0 && i - line_off >= 3 && memcmp(text + line_off, "---", 3) == 0;
            block_indent = indent;
            while (i + 1 < len && text[i + 1] != '\n')
                i++;
        }
        prev = ch;
    }
    return 0;
}

/* Walks libyaml's events over text and refuses a collection nested deeper than
 * CONFIG_DEPTH_MAX (block or flow, the root counting as the first level) at its start, before
 * libyaml has read much past it. Syntax errors are reported as sl_ym_parse would. Returns 0,
 * SL_ECONFIG or SL_ENOMEM. */
static int check_depth_events(const sl_ym_ctx *c, const char *text, size_t len)
{
    yaml_parser_t parser;
    int depth = 0, rc = 0;
    if (!yaml_parser_initialize(&parser)) {
        sl_set_msg(c->err, c->errlen, "%s: out of memory", c->name);
        return SL_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = syntax_error(c, &parser, text, len);
            break;
        }
        yaml_event_type_t type = ev.type;
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (++depth > CONFIG_DEPTH_MAX)
                rc =
                    sl_ym_fail(c, ev.start_mark, "nesting deeper than %d levels", CONFIG_DEPTH_MAX);
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
        if (rc || type == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* ---- documents ---------------------------------------------------------------------------- */

int sl_ym_parse(const char *text, size_t len, const char *name, sl_ym_root_fn fn, void *out,
                char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    int have_doc = 0, have_extra = 0, rc;
    sl_ym_ctx c = {name ? name : "<config>", &doc, err, errlen};

    if (errlen > 0 && err)
        err[0] = '\0';
    if (!text) {
        text = "";
        len = 0;
    }
    if ((rc = check_size(&c, len)) < 0 || (rc = check_flow_depth(&c, text, len)) < 0 ||
        (rc = check_depth_events(&c, text, len)) < 0)
        return rc;
    if (!yaml_parser_initialize(&parser)) {
        sl_set_msg(err, errlen, "%s: out of memory", c.name);
        return SL_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = syntax_error(&c, &parser, text, len);
        goto out;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        if (!yaml_parser_load(&parser, &extra)) {
            rc = syntax_error(&c, &parser, text, len);
            goto out;
        }
        have_extra = 1;
        if (yaml_document_get_root_node(&extra)) {
            rc = sl_ym_fail(&c, extra.start_mark,
                            "expected a single YAML document, found a second one");
            goto out;
        }
    }
    rc = fn(&c, root, out);
out:
    if (have_extra)
        yaml_document_delete(&extra);
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

/* Reads at most CONFIG_FILE_MAX bytes: a larger regular file is refused before anything is
 * read, a pipe or a file that grows as soon as it passes the limit. */
int sl_ym_load(const char *path, sl_ym_root_fn fn, void *out, char *err, size_t errlen)
{
    const sl_ym_ctx c = {path, NULL, err, errlen};
    const yaml_mark_t start = {0, 0, 0};
    char *buf = NULL;
    size_t len = 0;
    int rc = sl_read_file(path, CONFIG_FILE_MAX, &buf, &len, err, errlen);
    if (rc == SL_ERANGE && len > 0)
        return sl_ym_fail(&c, start, "config file is %zu bytes; the limit is %zu MiB", len,
                          CONFIG_FILE_MAX >> 20);
    if (rc == SL_ERANGE) /* a pipe, or a file that grew */
        return sl_ym_fail(&c, start, "config file is over %zu bytes; the limit is %zu MiB",
                          CONFIG_FILE_MAX, CONFIG_FILE_MAX >> 20);
    if (rc)
        return rc;
    rc = sl_ym_parse(buf, len, path, fn, out, err, errlen);
    free(buf);
    return rc;
}
