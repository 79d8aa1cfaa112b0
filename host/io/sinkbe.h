/* The inside of a result sink (host/io only): the common part's state, what a backend sees of
 * one emission, and the text helpers every backend formats rows with. sink.c holds the common
 * part, the table of kinds and the file backend; sink_zmq.c and sink_redis.c the others. */
#ifndef SL_SINKBE_H
#define SL_SINKBE_H

#include <stdint.h>
#include <stdio.h>

#include "sink.h"

/* A growing text buffer; on out of memory it stops growing and sets oom. */
typedef struct sl_tbuf {
    char *p;
    size_t len, cap;
    int oom;
} sl_tbuf;

void sl_tb_put(sl_tbuf *b, const void *data, size_t n);
void sl_tb_puts(sl_tbuf *b, const char *s);
void sl_tb_printf(sl_tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl_tb_free(sl_tbuf *b);

struct sl_idkey; /* idsort.h */

/* One row with its key's id (from the dictionary, or "0x" and hex digits when it lacks it).
 * pre is the id's first 16 bytes, big-endian and zero-padded, so that sorting compares most ids
 * without reading them from the dictionary (at 10M keys, reading them made the final emission's
 * sort the longest part of a run). */
struct sl_named {
    const sl_row *row;
    const char *id; /* hex when is_hex (set again after the rows are moved) */
    size_t len;
    uint64_t pre[2];
    int is_hex;
    char hex[19];
};

/* One emission as the backends see it: its metadata and its rows, sorted by id then window
 * start (in changes mode only the changed ones). */
typedef struct sl_emission {
    enum sl_emit_kind kind;
    char label[32]; /* snapshot-N, windows-N or final */
    uint64_t seq;   /* 1, 2, ... over the emissions the sink writes */
    int64_t time_ms;
    int has_watermark;
    int64_t watermark_ms;
    const struct sl_named *rows;
    size_t n;
} sl_emission;

/* A backend: open reads the kind's keys (already checked) and sets s->be; write sends one
 * emission; flush makes what was written visible; close releases s->be (also after a failed
 * open). write and flush return 0 or a negative sl_err with the reason in s->msg. */
typedef struct sl_sink_ops {
    int (*open)(sl_sink *s, const sl_topology *t, FILE *out, char *msg, size_t msglen);
    int (*write)(sl_sink *s, const sl_emission *em);
    int (*flush)(sl_sink *s);
    void (*close)(sl_sink *s);
} sl_sink_ops;

struct sl_sink {
    const sl_sink_ops *ops;
    void *be;  /* the backend's state */
    FILE *out; /* the file kind's stream */
    sl_columns cols;
    int windowed;
    char key_name[256]; /* the key's column names, comma-separated (a composite key has several);
                         * "ad_id" unless the schema or a join names it */
    const sl_addict *dict;
    int snapshots;
    int format; /* enum sl_sink_format */
    int mode;   /* enum sl_sink_mode */
    int meta;   /* rows carry emit, emit_seq, emit_time_ms, emit_watermark_ms */
    int keep;   /* keep window and final rows (for the top table) */
    int header_done;
    uint64_t nsnap, nwin, seq;
    int64_t (*watermark)(void *ud);
    void *wm_ud;
    sl_row *kept;
    size_t nkept, capkept;
    struct sl_named *order; /* one emission's rows in their order */
    size_t order_cap;
    struct sl_idkey *keys; /* scratch for sorting them (idsort.h) */
    size_t keys_cap;
    const sl_row **pick; /* scratch: the rows of one emission that changed */
    size_t pick_cap;
    struct sl_lastmap *last; /* changes mode: the last row written per (key, window) */
    /* commits (sl_sink_commit): the file kind's descriptor (-1: fileno(out)), the bytes the
     * file kind wrote, and the last commit's length and whether it can be truncated back to */
    int out_fd;
    uint64_t bytes;
    uint64_t committed;
    int truncatable;
    char msg[1024];
};

/* The column names of the header line, comma-separated, with the metadata columns when s->meta
 * (no line end). */
void sl_sink_header(const sl_sink *s, sl_tbuf *b);

/* Appends row nm of emission em as one line in the sink's format (CSV or a JSON object), with
 * its line end. */
void sl_sink_format_row(const sl_sink *s, const sl_emission *em, const struct sl_named *nm,
                        sl_tbuf *b);

/* A key column's text (the id it stands for, '#' and hex when the dictionary lacks it, "" for
 * key 0), unquoted; sets *len. Points into buf or the dictionary. */
const char *sl_sink_key_text(const sl_sink *s, double v, char *buf, size_t buflen, size_t *len);

extern const sl_sink_ops sl_sink_zmq_ops, sl_sink_redis_ops;
int sl_sink_zmq_check(const sl_topology *t, char *msg, size_t msglen);
int sl_sink_redis_check(const sl_topology *t, char *msg, size_t msglen);

#endif
