/* Writes the binary seeds of the frame and job harnesses for this build:
 *   fuzz_seeds FRAME_DIR JOB_DIR
 * Frame seeds are fuzz_frame.c inputs (a flags byte, then 16-bit length-prefixed messages);
 * job seeds are sl_job_encode payloads, which depend on the job format's version, so
 * tests/fuzz/run.sh writes them again into its corpus copy on every run. The repository's corpus
 * keeps them all (a few hundred bytes each). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "engine.h"
#include "event.h"
#include "frame.h"
#include "job.h"

struct out {
    unsigned char buf[4096];
    size_t len;
};

static void put_bytes(struct out *o, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (o->len + n > sizeof o->buf) {
        fprintf(stderr, "fuzz_seeds: seed too large\n");
        exit(1);
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

/* Appends one message holding a frame of `kind` with `payload` (n bytes). */
static void put_frame(struct out *o, uint16_t kind, uint32_t schema, uint32_t source,
                      uint32_t stream, uint32_t count, uint64_t seq, const void *payload, size_t n)
{
    sl_frame_hdr h = {SL_FRAME_VERSION, kind, schema, source, stream, count, seq, n, 0};
    unsigned char hdr[SL_FRAME_HDR];
    sl_frame_encode(&h, payload, hdr);
    size_t len = SL_FRAME_HDR + n;
    unsigned char pre[2] = {(unsigned char)len, (unsigned char)(len >> 8)};
    put_bytes(o, pre, 2);
    put_bytes(o, hdr, SL_FRAME_HDR);
    put_bytes(o, payload, n);
}

static void put_raw(struct out *o, const void *p, size_t n)
{
    unsigned char pre[2] = {(unsigned char)n, (unsigned char)(n >> 8)};
    put_bytes(o, pre, 2);
    put_bytes(o, p, n);
}

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static void frame_seeds(const char *dir)
{
    sl_rec recs[2] = {{UINT64_C(0x1234567890abcdef), 1700000000000, 1.5f, SL_EV_CLICK, 42},
                      {UINT64_C(0x0fedcba987654321), 1700000000001, 0.0f, SL_EV_VIEW, 0}};
    sl_row row = {UINT64_C(0x1234567890abcdef), 0, {0.25, 3, 12, 0, 0, 0, 0, 0}};
    uint32_t s0 = sl_job_stream(1, 0), s1 = sl_job_stream(1, 1), s2 = sl_job_stream(2, 0);
    struct out o;

    /* One DATA frame of two records. */
    o.len = 0;
    put_bytes(&o, "\0", 1);
    put_frame(&o, SL_FRAME_DATA, SL_SCHEMA_REC, 0, s0, 2, 0, recs, sizeof recs);
    write_file(dir, "data-recs", o.buf, o.len);

    /* A stream in order, a gap, a duplicate, an EOS and a stream of the next job; checksums are
     * repaired (flag bit 0). */
    o.len = 0;
    put_bytes(&o, "\1", 1);
    put_frame(&o, SL_FRAME_DATA, SL_SCHEMA_REC, 1, s0, 1, 0, recs, sizeof recs[0]);
    put_frame(&o, SL_FRAME_DATA, SL_SCHEMA_REC, 1, s0, 1, 1, recs + 1, sizeof recs[0]);
    put_frame(&o, SL_FRAME_DATA, SL_SCHEMA_REC, 1, s0, 2, 5, recs, sizeof recs);
    put_frame(&o, SL_FRAME_DATA, SL_SCHEMA_REC, 1, s0, 1, 1, recs, sizeof recs[0]);
    put_frame(&o, SL_FRAME_DATA, SL_SCHEMA_ROW_FINAL, 2, s1, 1, 0, &row, sizeof row);
    put_frame(&o, SL_FRAME_EOS, 0, 1, s0, 0, 6, NULL, 0);
    put_frame(&o, SL_FRAME_DATA, SL_SCHEMA_REC, 1, s0, 1, 0, recs, sizeof recs[0]);
    put_frame(&o, SL_FRAME_DATA, SL_SCHEMA_ROW_WINDOWS, 1, s2, 1, UINT64_MAX, &row, sizeof row);
    write_file(dir, "stream-gap-dup-eos", o.buf, o.len);

    /* Control frames with opaque payloads. */
    char hello[96];
    int n = sl_hello_format(hello, sizeof hello, 2, 4242, UINT64_C(0x0123456789abcdef));
    const char *abort_msg = "node 1 refused the job: job description of format version 6";
    const unsigned char job_start[16] = "SLJOB006\x14\0\0\0tcp:";
    o.len = 0;
    put_bytes(&o, "\0", 1);
    put_frame(&o, SL_MSG_HELLO, 0, 3, 0, 0, 0, hello, (size_t)n);
    put_frame(&o, SL_MSG_JOB, 0, 0, s0, 0, 0, job_start, sizeof job_start);
    put_frame(&o, SL_MSG_ABORT, 0, 2, s0, 0, 1, abort_msg, strlen(abort_msg));
    put_frame(&o, SL_MSG_DONE, 0, 2, s0, 0, 2, "done", 4);
    write_file(dir, "control", o.buf, o.len);

    /* Rejects, with at most 64 payload bytes accepted (flags 2): an 80-byte payload, a
     * truncated header, a truncated payload, a bad checksum, DATA whose count disagrees with
     * its length, a bad magic, another version, an unknown kind. */
    unsigned char frame[SL_FRAME_HDR + sizeof recs];
    sl_frame_hdr h = {SL_FRAME_VERSION, SL_FRAME_DATA, SL_SCHEMA_REC, 0, s0, 2, 0, sizeof recs, 0};
    sl_frame_encode(&h, recs, frame);
    memcpy(frame + SL_FRAME_HDR, recs, sizeof recs);
    o.len = 0;
    put_bytes(&o, "\2", 1);
    put_frame(&o, SL_FRAME_DATA, SL_SCHEMA_ROW_FINAL, 2, s1, 1, 0, &row, sizeof row);
    put_raw(&o, frame, SL_FRAME_HDR - 1);
    put_raw(&o, frame, sizeof frame - 1);
    frame[SL_FRAME_HDR] ^= 1;
    put_raw(&o, frame, sizeof frame);
    frame[SL_FRAME_HDR] ^= 1;
    put_frame(&o, SL_FRAME_DATA, SL_SCHEMA_REC, 0, s0, 3, 1, recs, sizeof recs);
    frame[0] ^= 0xff;
    put_raw(&o, frame, sizeof frame);
    frame[0] ^= 0xff;
    h.version = 2;
    sl_frame_encode(&h, recs, frame);
    put_raw(&o, frame, sizeof frame);
    h.version = SL_FRAME_VERSION;
    h.kind = SL_FRAME_APP - 1; /* a netio kind number that is not defined */
    sl_frame_encode(&h, recs, frame);
    put_raw(&o, frame, sizeof frame);
    write_file(dir, "rejects", o.buf, o.len);

    /* DATA checked without a record-size function (flag bit 3). */
    o.len = 0;
    put_bytes(&o, "\x08", 1);
    put_frame(&o, SL_FRAME_DATA, SL_SCHEMA_REC, 0, s0, 2, 0, recs, sizeof recs);
    put_frame(&o, SL_FRAME_EOS, 0, 0, s0, 0, 1, NULL, 0);
    write_file(dir, "no-recsize", o.buf, o.len);
}

static void write_job(const char *dir, const char *name, const sl_job *job)
{
    unsigned char *buf;
    size_t len;
    if (sl_job_encode(job, &buf, &len) != 0) {
        fprintf(stderr, "fuzz_seeds: sl_job_encode failed\n");
        exit(1);
    }
    write_file(dir, name, buf, len);
    free(buf);
}

static void job_seeds(const char *dir)
{
    static sl_job job;
    static char join[] = "ad_id,campaign_id\nad-00000000,campaign-000\nad-00000001,campaign-000\n";

    /* The defaults: one ctr stage, results to the client. */
    memset(&job, 0, sizeof job);
    sl_topology_defaults(&job.topo);
    snprintf(job.result_endpoint, sizeof job.result_endpoint, "tcp://127.0.0.1:7700");
    job.cluster_id = UINT64_C(0x8badf00d12345678);
    write_job(dir, "job-defaults", &job);

    /* Two stages, the second joined by campaign, with a placement override. */
    sl_pe_defaults(&job.topo.pe, SL_PE_CTR);
    snprintf(job.topo.pe.name, sizeof job.topo.pe.name, "ctr_per_ad");
    job.topo.nnext = 1;
    sl_pe_defaults(&job.topo.next[0].pe, SL_PE_COUNT);
    snprintf(job.topo.next[0].pe.name, sizeof job.topo.next[0].pe.name, "per_campaign");
    snprintf(job.topo.next[0].join, sizeof job.topo.next[0].join, "campaigns.csv");
    snprintf(job.topo.next[0].value, sizeof job.topo.next[0].value, "ctr");
    job.topo.nplacement = 1;
    snprintf(job.topo.placement[0].device, sizeof job.topo.placement[0].device, "pthread");
    job.topo.placement[0].numa = 0;
    job.join_text[1] = join;
    job.join_len[1] = strlen(join);
    write_job(dir, "job-two-stages", &job);

    /* A regression: sl_job_decode took any stage count, and a node indexes its per-stage
     * arrays (SL_STAGES_MAX long) with it. Must be refused. */
    job.join_text[1] = NULL;
    job.join_len[1] = 0;
    job.topo.nnext = 200;
    write_job(dir, "job-bad-stage-count", &job);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fuzz_seeds FRAME_DIR JOB_DIR\n");
        return 2;
    }
    frame_seeds(argv[1]);
    job_seeds(argv[2]);
    return 0;
}
