/* The Yahoo Streaming Benchmark's input, generated with a seed: NDJSON events in YSB's shape
 *   {"user_id": "<uuid>", "page_id": "<uuid>", "ad_id": "<uuid>", "ad_type": "banner",
 *    "event_type": "view", "event_time": "1767225600000", "ip_address": "1.2.3.4"}
 * as YSB's generator writes them: 100 users and 100 pages, `campaigns` campaigns of
 * `ads_per_campaign` ads (UUIDs), ad type among YSB's five, event type uniform among view, click
 * and purchase. Event time advances by one millisecond every 1000 / events_per_s of events
 * (event i has time start_ms + i * 1000 / events_per_s), so a 10-second window holds
 * 10 * events_per_s events.
 *
 * Also the join table (ad_id,campaign_id CSV, what sl_jointab parses) and the same pairs as keys.
 * A ysb input belongs to one thread while it is made; read-only afterwards. */
#ifndef BENCH_YSB_H
#define BENCH_YSB_H

#include <stddef.h>
#include <stdint.h>

typedef struct ysb_cfg {
    uint64_t events;
    uint32_t campaigns, ads_per_campaign;
    uint64_t seed;
    int64_t start_ms;
    uint32_t events_per_s; /* event-time rate */
} ysb_cfg;

typedef struct ysb_input {
    char *text; /* NDJSON, one event per line, each ending with '\n' */
    size_t len;
    char *join_csv; /* "ad_id,campaign_id\n" then one pair a line */
    size_t join_len;
    uint64_t *ad_keys, *campaign_keys; /* sl_key_hash of the ids, njoin pairs */
    size_t njoin;
    uint64_t events;
} ysb_input;

/* 100 campaigns of 10 ads, seed 42, start 2026-01-01T00:00:00Z, events_per_s 1000. */
void ysb_defaults(ysb_cfg *c, uint64_t events);

/* Generates the events and the join table into *in. Returns 0, SL_EINVAL (zero counts or
 * rate), or SL_ENOMEM (nothing is left allocated). */
int ysb_generate(const ysb_cfg *c, ysb_input *in);

/* Loads a recorded input instead: NDJSON events from `events_path` and the ad_id,campaign_id
 * CSV from `join_path` (parsed with sl_jointab for the keys). Returns 0, SL_EIO, SL_EPARSE or
 * SL_ENOMEM with msg. */
int ysb_load(const char *events_path, const char *join_path, ysb_input *in, char *msg,
             size_t msglen);

/* Writes the input to `events_path` and its join table to `join_path`. Returns 0 or SL_EIO. */
int ysb_save(const ysb_input *in, const char *events_path, const char *join_path);

void ysb_free(ysb_input *in);

/* Reads a whole file into a malloc'd, NUL-terminated buffer. Returns 0, SL_EIO or SL_ENOMEM. */
int ysb_read_file(const char *path, char **text, size_t *len);

#endif
