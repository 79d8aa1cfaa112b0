/* Tests of the job payload (host/cluster/job.h): sl_job_encode and sl_job_decode.
 *
 * A job with every field of the topology set, each to a value of its own (no two fields alike, none
 * at its default), goes through encode and decode and must come back byte for byte the same
 * struct; encoding what was decoded gives the same payload again. Then what a node must refuse:
 * every truncation and padding, another tag or format version (with the result endpoint still
 * found, so that the refusal can be sent), strings too long or holding a NUL, lists longer than
 * their arrays, a bad join-table byte, and values a topology file could not hold (the checks a
 * node ran before the format was explicit). Payloads are patched at fields found by marker
 * strings, and a seeded run of random byte changes must be refused or decode to a job that
 * encodes back to the very bytes (the format is canonical). A field added to sl_topology is to be
 * set in fill_job below. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "job.h"
#include "sink.h"
#include "util.h"

/* s filled with `len` characters from `seed` (letters and digits), NUL-terminated. */
static void fill_text(char *s, size_t len, uint64_t seed)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./";
    for (size_t i = 0; i < len; i++)
        s[i] = set[splitmix64(&seed) % (sizeof set - 1)];
    s[len] = '\0';
}

static void fill_pe(sl_pe_cfg *pe, uint64_t k)
{
    snprintf(pe->name, sizeof pe->name, "pe-%llu", (unsigned long long)k);
    pe->kind = (enum sl_pe_kind)(k % (SL_PE_USER + 1));
    pe->capacity = 1000 + k;
    pe->has_prior = 1;
    pe->prior_a = 0.5 + (double)k / 1024;
    pe->prior_b = 7.25e-3 * (double)(k + 1);
    pe->window_ms = 60000 + (int64_t)k;
    pe->lateness_ms = 250 + (int64_t)k;
    fill_text(pe->source, 100 + k, 10 * k + 1);
    fill_text(pe->binary, 50 + k, 10 * k + 2);
    pe->trigger.every_events = 5000 + k;
    pe->trigger.every_ms = 700 + k;
    pe->timeout_ms = 12345 + (uint32_t)k;
    pe->nparams = k % 2 ? SL_PE_PARAMS : 1 + (uint32_t)(k % 5);
    for (uint32_t i = 0; i < pe->nparams; i++) {
        snprintf(pe->param[i].name, sizeof pe->param[i].name, "p%u_%llu", i, (unsigned long long)k);
        snprintf(pe->param[i].value, sizeof pe->param[i].value, "%s%u.%llue-3", i % 2 ? "-" : "", i,
                 (unsigned long long)k);
    }
    fill_text(pe->field, k % (sizeof pe->field - 1), 700 + k);
    snprintf(pe->format, sizeof pe->format, "c%llu:f%llu,*:g", (unsigned long long)k,
             (unsigned long long)(k % 10));
}

/* Every field set, each differently; strings of varied lengths, some of the longest their field
 * takes; both lists full. */
static void fill_job(sl_job *job)
{
    memset(job, 0, sizeof *job);
    sl_topology *t = &job->topo;
    fill_text(t->device, sizeof t->device - 1, 1);
    t->source.kind = SL_SRC_GENERATOR;
    fill_text(t->source.path, sizeof t->source.path - 1, 2);
    t->source.format = SL_FMT_CSV;
    t->source.gen = (sl_gen_cfg){.events = UINT64_C(0x0123456789abcdef),
                                 .keys = 77777,
                                 .skew = 1.375,
                                 .click_rate = 0.0625,
                                 .purchase_rate = 1e-9,
                                 .seed = UINT64_MAX - 5,
                                 .start_ms = INT64_C(-1234567890123),
                                 .events_per_ms = 31,
                                 .users = 4242};
    t->source.ingest = SL_INGEST_NODES;
    /* A declared schema with every list full and every member away from its default. */
    sl_schema *s = &t->schema;
    s->declared = 1;
    s->nfields = SL_SCHEMA_FIELDS;
    for (uint32_t i = 0; i < SL_SCHEMA_FIELDS; i++) {
        snprintf(s->field[i].name, sizeof s->field[i].name, "f%u_%0*u", i, (int)(i % 30), i);
        s->field[i].type = (int32_t)(i % SL_FT_N);
        s->field[i].optional = i > 16 && i % 2;
    }
    s->nkey = SL_SCHEMA_KEYS;
    for (uint32_t i = 0; i < SL_SCHEMA_KEYS; i++)
        s->key[i] = (int32_t)(5 * i); /* strings, required */
    s->time_field = 4;                /* a time */
    s->time_format = SL_TIME_PATTERN;
    snprintf(s->time_pattern, sizeof s->time_pattern, "%%y%%m%%d%%H");
    s->value_field = 7;
    s->user_field = 10;
    s->type_mode = SL_TYPE_PREDICATES;
    s->type_field = 3;
    s->type_nocase = 1;
    s->nmap = SL_SCHEMA_MAP;
    for (uint32_t i = 0; i < SL_SCHEMA_MAP; i++) {
        fill_text(s->map[i].text, sizeof s->map[i].text - 1 - i, 500 + i);
        s->map[i].type = (int32_t)(i % 4);
    }
    s->pred[0] = (sl_type_pred){.on = 1, .all = 1};
    s->pred[1] = (sl_type_pred){.on = 1, .field = 6};
    fill_text(s->pred[1].equals, sizeof s->pred[1].equals - 1, 600);
    s->pred[3] = (sl_type_pred){.on = 1, .field = 31};
    s->delimiter = '\t';
    s->header = SL_HEADER_NO;
    static const int32_t attrs[SL_SCHEMA_ATTRS] = {1, 2, 3, 6, 7, 8, 11, 12}; /* numeric fields */
    s->nattrs = SL_SCHEMA_ATTRS;
    memcpy(s->attr, attrs, sizeof attrs);
    sl_topology_bind_attrs(t); /* as a topology file's load does */
    t->source.max_malformed = 0.125;
    t->checkpoint.every_ms = 1234;
    t->checkpoint.keep = 7;
    fill_text(t->checkpoint.dir, 200, 9);
    t->filter_types = 0x5;
    for (uint32_t i = 0; i < SL_OPTS_MAX; i++) { /* kind options, both lists full */
        char k[16], v[16];
        snprintf(k, sizeof k, "key%u", i);
        snprintf(v, sizeof v, "value-%u", 3 * i);
        cr_assert(eq(int, sl_opts_set(&t->source.opts, k, v, i + 1, i + 2), 0));
        cr_assert(eq(int, sl_opts_set(&t->sink.opts, v, k, i + 3, i + 4), 0));
    }
    fill_text(t->source.opts.name, sizeof t->source.opts.name - 1, 7);
    fill_text(t->sink.opts.common, 90, 8);
    t->batch_wait_ms = 17;
    t->sink.kind = SL_SINK_REDIS;
    t->sink.format = SL_SINK_NDJSON;
    t->sink.mode = SL_SINK_CHANGES;
    fill_pe(&t->pe, 3);
    t->nnext = SL_STAGES_MAX - 1;
    for (uint32_t i = 0; i < t->nnext; i++) {
        fill_pe(&t->next[i].pe, 20 + i);
        fill_text(t->next[i].join, 30 + i, 100 + i);
        fill_text(t->next[i].value, sizeof t->next[i].value - 1 - i, 200 + i);
    }
    t->batch_events = 65536 + 17;
    fill_text(t->sink.path, 3000, 3);
    t->sink.snapshots = 1;
    t->nplacement = SL_PLACEMENT_MAX;
    for (uint32_t i = 0; i < t->nplacement; i++) {
        fill_text(t->placement[i].device, 5 + i, 300 + i);
        t->placement[i].numa = (int)i - 1; /* -1: not given, for the first */
        fill_text(t->placement[i].cpus, i % 3 ? 8 + i : 0, 400 + i);
    }
    fill_text(job->result_endpoint, 40, 4);
    job->restore_id = UINT64_C(0x1122334455667788);
    fill_text(job->restore_dir, sizeof job->restore_dir - 1, 6);
    job->self = 3;
    job->epoch = 0xabcdef12u;
    job->registry_id = 0x00fedcbau;
    job->driver_epoch = UINT64_C(0x1234567890abcdef);
    fill_text(job->control_endpoint, sizeof job->control_endpoint - 1, 5);
    job->cluster_id = UINT64_C(0xfeedfacecafebeef);
    static char join1[] = "ad_id,campaign_id\nad-1,c-1\n", join3[] = "a\0b,\xff\n";
    job->join_text[1] = join1;
    job->join_len[1] = strlen(join1);
    job->join_text[3] = join3;
    job->join_len[3] = sizeof join3 - 1; /* binary, a NUL included */
}

static unsigned char *encode(const sl_job *job, size_t *len)
{
    unsigned char *p = NULL;
    cr_assert(eq(int, sl_job_encode(job, &p, len), 0));
    cr_assert_not_null(p);
    return p;
}

/* Decodes the len bytes at p (copied to a buffer of exactly len bytes, so that a read past the
 * end is one under ASan), which must be refused with a message containing `says`; nothing stays
 * allocated. Returns the decoded job's result endpoint in ep (ep_len bytes). */
static void refused(const unsigned char *p, size_t len, const char *says, char *ep, size_t ep_len)
{
    unsigned char *d = malloc(len ? len : 1);
    cr_assert_not_null(d);
    memcpy(d, p, len);
    static sl_job job;
    char err[512] = "";
    cr_assert(eq(int, sl_job_decode(d, len, &job, err, sizeof err), SL_EPARSE),
              "%zu bytes accepted (want \"%s\")", len, says);
    cr_assert(not(eq(ptr, strstr(err, says), NULL)), "%zu bytes: \"%s\", want \"%s\"", len, err,
              says);
    for (int i = 0; i < SL_STAGES_MAX; i++)
        cr_assert_null(job.join_text[i], "%zu bytes: join text %d left allocated", len, i);
    cr_assert(not(eq(ptr, memchr(job.result_endpoint, '\0', sizeof job.result_endpoint), NULL)));
    if (ep)
        snprintf(ep, ep_len, "%s", job.result_endpoint);
    free(d);
}

/* The offset of the first occurrence of the text of `marker` in p[0..len). */
static size_t find(const unsigned char *p, size_t len, const char *marker)
{
    const unsigned char *at = memmem(p, len, marker, strlen(marker));
    cr_assert_not_null(at, "\"%s\" not in the payload", marker);
    return (size_t)(at - p);
}

Test(job, round_trip_every_field)
{
    static sl_job in, out;
    fill_job(&in);
    size_t len;
    unsigned char *p = encode(&in, &len);
    cr_assert(eq(int, memcmp(p, "SLJOB010", 8), 0));
    char err[512] = "";
    cr_assert(eq(int, sl_job_decode(p, len, &out, err, sizeof err), 0), "%s", err);
    cr_assert(eq(int, memcmp(&out.topo, &in.topo, sizeof in.topo), 0), "the topology changed");
    cr_assert(eq(str, out.result_endpoint, in.result_endpoint));
    cr_assert(eq(str, out.control_endpoint, in.control_endpoint));
    cr_assert(eq(u64, out.cluster_id, in.cluster_id));
    cr_assert(eq(u64, out.restore_id, in.restore_id));
    cr_assert(eq(str, out.restore_dir, in.restore_dir));
    cr_assert(eq(u32, out.self, in.self));
    cr_assert(eq(u32, out.epoch, in.epoch));
    cr_assert(eq(u32, out.registry_id, in.registry_id));
    cr_assert(eq(u64, out.driver_epoch, in.driver_epoch));
    for (int i = 0; i < SL_STAGES_MAX; i++) {
        if (!in.join_text[i]) {
            cr_assert_null(out.join_text[i], "join %d", i);
            continue;
        }
        cr_assert_not_null(out.join_text[i], "join %d", i);
        cr_assert(eq(sz, out.join_len[i], in.join_len[i]), "join %d", i);
        cr_assert(eq(int, memcmp(out.join_text[i], in.join_text[i], in.join_len[i]), 0), "join %d",
                  i);
        cr_assert(eq(chr, out.join_text[i][out.join_len[i]], '\0'), "join %d", i);
    }
    size_t len2;
    unsigned char *p2 = encode(&out, &len2);
    cr_assert(eq(sz, len2, len));
    cr_assert(eq(int, memcmp(p2, p, len), 0), "decoded and encoded again, the bytes differ");
    sl_job_clear(&out);
    for (int i = 0; i < SL_STAGES_MAX; i++)
        cr_assert_null(out.join_text[i]);
    free(p);
    free(p2);

    /* the defaults, with no join and no further stage, too */
    memset(&in, 0, sizeof in);
    sl_topology_defaults(&in.topo);
    p = encode(&in, &len);
    cr_assert(eq(int, sl_job_decode(p, len, &out, err, sizeof err), 0), "%s", err);
    cr_assert(eq(int, memcmp(&out.topo, &in.topo, sizeof in.topo), 0));
    free(p);
}

/* Every prefix of a payload and the payload with bytes after it are refused, and leave nothing
 * allocated. */
Test(job, truncated_or_padded_refused)
{
    static sl_job in;
    fill_job(&in);
    size_t len;
    unsigned char *p = encode(&in, &len);
    for (size_t n = 0; n < len; n++)
        refused(p, n, n < 8 ? "not a job description" : "truncated or padded", NULL, 0);
    unsigned char *more = malloc(len + 3);
    cr_assert_not_null(more);
    memcpy(more, p, len);
    memset(more + len, 0, 3);
    refused(more, len + 1, "1 after its end", NULL, 0);
    refused(more, len + 3, "3 after its end", NULL, 0);
    free(more);
    free(p);
}

/* Other tags and versions: refused with a message naming both versions; the result endpoint is
 * found where the version had it (a char[512] up to 3, a string since), so that the node can send
 * the refusal there. */
Test(job, other_versions_refused)
{
    static sl_job in;
    fill_job(&in);
    snprintf(in.result_endpoint, sizeof in.result_endpoint, "tcp://10.1.2.3:7777");
    size_t len;
    unsigned char *p = encode(&in, &len);
    char ep[600];

    unsigned char *q = malloc(len);
    cr_assert_not_null(q);
    memcpy(q, p, len);
    memcpy(q, "SLJOB011", 8); /* a later version: its result endpoint is the first string */
    refused(q, len, "format version 11, and this node reads version 10", ep, sizeof ep);
    cr_assert(eq(str, ep, "tcp://10.1.2.3:7777"));
    memcpy(q, "SLJOB999", 8);
    refused(q, 12, "format version 999", ep, sizeof ep); /* too short for its endpoint */
    cr_assert(eq(str, ep, ""));

    /* version 3: the endpoint in a char[512] right after the tag */
    unsigned char v3[8 + 512 + 100] = "SLJOB003tcp://10.9.8.7:1234";
    refused(v3, sizeof v3, "format version 3", ep, sizeof ep);
    cr_assert(eq(str, ep, "tcp://10.9.8.7:1234"));
    refused(v3, 8 + 100, "format version 3", ep, sizeof ep);
    cr_assert(eq(str, ep, ""));

    const char *tags[] = {"SLJOB04x", "SLJOBabc", "XLJOB006", "sljob006", "SLJOB"};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        memcpy(q, p, len);
        memcpy(q, tags[i], strlen(tags[i]) < 8 ? strlen(tags[i]) : 8);
        if (strlen(tags[i]) < 8)
            memset(q + strlen(tags[i]), ' ', 8 - strlen(tags[i]));
        refused(q, len, "not a job description", NULL, 0);
    }
    free(q);
    free(p);
}

/* Fields out of their bounds, each patched into an otherwise good payload. */
Test(job, bad_fields_refused)
{
    static sl_job in;
    fill_job(&in);
    snprintf(in.topo.device, sizeof in.topo.device, "DEVICE-MARK");
    snprintf(in.topo.next[2].value, sizeof in.topo.next[2].value, "VALUE-MARK");
    in.join_text[3] = NULL;
    size_t len;
    unsigned char *p = encode(&in, &len);
    unsigned char *q = malloc(len);
    cr_assert_not_null(q);

    /* a string as long as its field (no room for the NUL), or much longer */
    size_t dev = find(p, len, "DEVICE-MARK");
    memcpy(q, p, len);
    q[dev - 4] = (unsigned char)sizeof in.topo.device;
    refused(q, len, "device is 128 bytes (at most 127)", NULL, 0);
    memcpy(q, p, len);
    q[dev - 1] = 0x7f;
    refused(q, len, "device is 2130706443 bytes (at most 127)", NULL, 0);
    /* a NUL inside a string */
    memcpy(q, p, len);
    q[dev + 3] = '\0';
    refused(q, len, "device holds a NUL byte", NULL, 0);
    size_t val = find(p, len, "VALUE-MARK");
    memcpy(q, p, len);
    q[val + 9] = '\0';
    refused(q, len, "value holds a NUL byte", NULL, 0);

    /* the last join table's presence byte (the payload's last byte): 0 or 1 only */
    cr_assert(eq(u8, p[len - 1], 0));
    memcpy(q, p, len);
    q[len - 1] = 2;
    refused(q, len, "bad presence byte 2", NULL, 0);
    free(q);
    free(p);

    /* a join table longer than what is left */
    in.join_text[3] = "JOIN-MARK";
    in.join_len[3] = 9;
    p = encode(&in, &len);
    size_t jm = find(p, len, "JOIN-MARK");
    for (int i = 1; i <= 8; i++)
        p[jm - i] = 0xff;
    refused(p, len, "truncated or padded", NULL, 0);
    free(p);

    /* lists longer than their arrays: refused at the count, as a node says it */
    fill_job(&in);
    in.topo.nnext = 200;
    p = encode(&in, &len);
    refused(p, len, "job refused: 200 further stages (at most 3)", NULL, 0);
    free(p);
    fill_job(&in);
    in.topo.nplacement = SL_PLACEMENT_MAX + 1;
    p = encode(&in, &len);
    refused(p, len, "job refused: 17 placement entries (at most 16)", NULL, 0);
    free(p);
}

/* Values a topology file could not hold are refused after decoding, as they were when the
 * topology travelled as bytes. */
Test(job, topology_checked)
{
    static sl_job in;
    const struct {
        const char *says;
        int what;
    } bad[] = {
        {"stage 0: unknown PE kind", 0},
        {"stage 2: capacity out of range", 1},
        {"stage 0: bad prior flag", 2},
        {"stage 1: prior out of range", 3},
        {"negative window or lateness", 4},
        {"unknown source or sink kind, format or mode", 5},
        {"unknown source or sink kind, format or mode", 6},
        {"batch.events out of range", 7},
        {"batch.events out of range", 8},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fill_job(&in);
        sl_topology *t = &in.topo;
        switch (bad[i].what) {
        case 0:
            t->pe.kind = (enum sl_pe_kind)(SL_PE_USER + 1);
            break;
        case 1:
            t->next[1].pe.capacity = (UINT64_C(1) << 31) + 1; /* 0 is no cap: fine */
            break;
        case 2:
            t->pe.has_prior = 2;
            break;
        case 3:
            t->next[0].pe.prior_b = -1;
            break;
        case 4:
            t->next[2].pe.lateness_ms = -1;
            break;
        case 5:
            t->source.kind = 99; /* no row of host/io's source table */
            break;
        case 6:
            t->source.format = (sl_format)-1;
            break;
        case 7:
            t->batch_events = 0;
            break;
        case 8:
            t->batch_events = (UINT32_C(1) << 26) + 1;
            break;
        }
        size_t len;
        unsigned char *p = encode(&in, &len);
        refused(p, len, bad[i].says, NULL, 0);
        free(p);
    }
}

/* Random byte changes (seeded): each payload is refused, or decodes to a job that passed the
 * checks and encodes back to exactly the bytes it came from. */
Test(job, garbled_refused_or_canonical)
{
    static sl_job in, out;
    fill_job(&in);
    in.topo.nplacement = 2;
    for (uint32_t i = 0; i < SL_STAGES_MAX - 1; i++)
        in.topo.next[i].join[0] = '\0';
    size_t len;
    unsigned char *p = encode(&in, &len);
    unsigned char *q = malloc(len);
    cr_assert_not_null(q);
    uint64_t rng = 2026;
    size_t accepted = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(q, p, len);
        int changes = 1 + (int)(splitmix64(&rng) % 4);
        for (int k = 0; k < changes; k++)
            q[splitmix64(&rng) % len] = (unsigned char)splitmix64(&rng);
        char err[512] = "";
        int rc = sl_job_decode(q, len, &out, err, sizeof err);
        if (rc != 0) {
            cr_assert(eq(int, rc, SL_EPARSE), "round %d", round);
            cr_assert(ne(chr, err[0], '\0'), "round %d: no message", round);
            for (int i = 0; i < SL_STAGES_MAX; i++)
                cr_assert_null(out.join_text[i]);
            continue;
        }
        accepted++;
        size_t len2;
        unsigned char *q2 = encode(&out, &len2);
        cr_assert(eq(sz, len2, len), "round %d", round);
        cr_assert(eq(int, memcmp(q2, q, len), 0), "round %d: not canonical", round);
        free(q2);
        sl_job_clear(&out);
    }
    cr_log_info("%zu of 20000 garbled payloads were still jobs", accepted);
    free(q);
    free(p);
}
