/* Job payloads; see job.h. */
#include "job.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "engine.h"
#include "err.h"
#include "event.h"

#define JOB_MAGIC "SLJOB003"

size_t sl_schema_recsize(uint32_t schema)
{
    switch (schema) {
    case SL_SCHEMA_REC:
        return sizeof(sl_rec);
    case SL_SCHEMA_ROW_FINAL:
    case SL_SCHEMA_ROW_WINDOWS:
        return sizeof(sl_row);
    default:
        return 0;
    }
}

uint64_t sl_cluster_id(const sl_cluster_cfg *cl)
{
    XXH3_state_t *st = XXH3_createState();
    uint64_t h = 0;
    if (!st)
        return 0;
    XXH3_64bits_reset(st);
    uint32_t head[2] = {cl->nnodes, cl->partitions};
    XXH3_64bits_update(st, head, sizeof head);
    for (uint32_t i = 0; i < cl->nnodes; i++) {
        XXH3_64bits_update(st, cl->nodes[i].host, strlen(cl->nodes[i].host) + 1);
        XXH3_64bits_update(st, &cl->nodes[i].port, sizeof cl->nodes[i].port);
    }
    h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

int sl_hello_format(char *buf, size_t len, uint32_t node, long pid, uint64_t cluster_id)
{
    return snprintf(buf, len, "node %" PRIu32 " ready pid %ld cluster %016" PRIx64, node, pid,
                    cluster_id);
}

int sl_hello_parse(const void *p, size_t len, uint32_t *node, long *pid, uint64_t *cluster_id)
{
    char t[128];
    if (len >= sizeof t)
        return -1;
    memcpy(t, p, len);
    t[len] = '\0';
    int end = 0;
    if (sscanf(t, "node %" SCNu32 " ready pid %ld cluster %" SCNx64 "%n", node, pid, cluster_id,
               &end) != 3 ||
        (size_t)end != len)
        return -1;
    return 0;
}

/* 1 when the char array at s (n bytes) holds a NUL. */
static int terminated(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

#define STR_OK(field) terminated((field), sizeof(field))

/* Bounds of a topology as sl_config_parse would have made it (host/config). */
static int check_pe(const sl_pe_cfg *pe, int stage, char *err, size_t errlen)
{
    const char *why = NULL;
    if (!STR_OK(pe->name) || !STR_OK(pe->source) || !STR_OK(pe->binary))
        why = "a string is not terminated";
    else if ((unsigned)pe->kind > SL_PE_USER)
        why = "unknown PE kind";
    else if (pe->capacity < 1 || pe->capacity > (UINT64_C(1) << 31))
        why = "capacity out of range";
    else if (pe->has_prior != 0 && pe->has_prior != 1)
        why = "bad prior flag";
    else if (pe->has_prior &&
             !(pe->prior_a > 0 && pe->prior_b > 0 && pe->prior_a < 1e300 && pe->prior_b < 1e300))
        why = "prior out of range";
    else if (pe->window_ms < 0 || pe->lateness_ms < 0)
        why = "negative window or lateness";
    if (!why)
        return 0;
    snprintf(err, errlen, "job refused: stage %d: %s", stage, why);
    return -1;
}

static int check_topology(sl_topology *t, char *err, size_t errlen)
{
    if (t->nnext > SL_STAGES_MAX - 1) {
        snprintf(err, errlen, "job refused: %" PRIu32 " further stages (at most %d)", t->nnext,
                 SL_STAGES_MAX - 1);
        return -1;
    }
    if (!STR_OK(t->device) || !STR_OK(t->source.path) || !STR_OK(t->sink.path)) {
        snprintf(err, errlen, "job refused: a string is not terminated");
        return -1;
    }
    if ((unsigned)t->source.kind > SL_SRC_GENERATOR || (unsigned)t->source.format > SL_FMT_CSV) {
        snprintf(err, errlen, "job refused: unknown source kind or format");
        return -1;
    }
    if (t->batch_events < 1 || t->batch_events > (UINT32_C(1) << 26)) {
        snprintf(err, errlen, "job refused: batch.events out of range");
        return -1;
    }
    if (t->nplacement > SL_PLACEMENT_MAX) {
        snprintf(err, errlen, "job refused: too many placement entries");
        return -1;
    }
    for (uint32_t i = 0; i < t->nplacement; i++)
        if (!STR_OK(t->placement[i].device) || !STR_OK(t->placement[i].cpus)) {
            snprintf(err, errlen, "job refused: placement %u: a string is not terminated", i);
            return -1;
        }
    if (check_pe(&t->pe, 0, err, errlen))
        return -1;
    for (uint32_t i = 0; i < t->nnext; i++) {
        if (!STR_OK(t->next[i].join) || !STR_OK(t->next[i].value)) {
            snprintf(err, errlen, "job refused: stage %u: a string is not terminated", i + 1);
            return -1;
        }
        if (check_pe(&t->next[i].pe, (int)i + 1, err, errlen))
            return -1;
    }
    return 0;
}

int sl_job_check_endpoint(const char *ep, const char *peer, char *err, size_t errlen)
{
    const char *host = strncmp(ep, "tcp://", 6) == 0 ? ep + 6 : NULL;
    const char *colon = host ? strrchr(host, ':') : NULL;
    size_t hl = colon ? (size_t)(colon - host) : 0;
    char *endp = NULL;
    long port = colon ? strtol(colon + 1, &endp, 10) : 0;
    if (!host || !colon || hl == 0 || !endp || *endp || port < 1 || port > 65535) {
        snprintf(err, errlen, "job refused: the endpoint \"%.80s\" is not tcp://ADDRESS:PORT", ep);
        return SL_EPARSE;
    }
    if (!peer || !*peer || strlen(peer) != hl || memcmp(host, peer, hl) != 0) {
        snprintf(err, errlen,
                 "job refused: it names the endpoint %.80s, but came from %.64s: results go "
                 "only to the address a job comes from",
                 ep, peer && *peer ? peer : "an unknown address");
        return SL_EPARSE;
    }
    return 0;
}

/* Layout: magic[8], endpoint[512] (first, so that a node of another build can still say why it
 * refuses the job), control endpoint[512], u64 sizeof(sl_topology), u64 version length, version,
 * u64 cluster id, topology bytes, then per stage u64 join length (UINT64_MAX: none) and the bytes.
 */
int sl_job_encode(const sl_job *job, unsigned char **buf, size_t *len)
{
    const char *ver = SLUICE_VERSION;
    uint64_t vlen = strlen(ver), tsz = sizeof(sl_topology);
    size_t n = 8 + sizeof job->result_endpoint + sizeof job->control_endpoint + 8 + 8 + vlen + 8 +
               sizeof(sl_topology);
    for (int i = 0; i < SL_STAGES_MAX; i++)
        n += 8 + (job->join_text[i] ? job->join_len[i] : 0);
    unsigned char *p = malloc(n), *o = p;
    if (!p)
        return SL_ENOMEM;
    memcpy(o, JOB_MAGIC, 8);
    o += 8;
    memcpy(o, job->result_endpoint, sizeof job->result_endpoint);
    o += sizeof job->result_endpoint;
    memcpy(o, job->control_endpoint, sizeof job->control_endpoint);
    o += sizeof job->control_endpoint;
    memcpy(o, &tsz, 8);
    o += 8;
    memcpy(o, &vlen, 8);
    o += 8;
    memcpy(o, ver, vlen);
    o += vlen;
    memcpy(o, &job->cluster_id, 8);
    o += 8;
    memcpy(o, &job->topo, sizeof job->topo);
    o += sizeof job->topo;
    for (int i = 0; i < SL_STAGES_MAX; i++) {
        uint64_t l = job->join_text[i] ? job->join_len[i] : UINT64_MAX;
        memcpy(o, &l, 8);
        o += 8;
        if (job->join_text[i]) {
            memcpy(o, job->join_text[i], job->join_len[i]);
            o += job->join_len[i];
        }
    }
    *buf = p;
    *len = n;
    return 0;
}

int sl_job_decode(const unsigned char *p, size_t len, sl_job *job, char *err, size_t errlen)
{
    const unsigned char *end = p + len;
    uint64_t tsz, vlen;
    memset(job, 0, sizeof *job);
    if (len < 8 + sizeof job->result_endpoint + sizeof job->control_endpoint + 16 ||
        memcmp(p, JOB_MAGIC, 8) != 0) {
        snprintf(err, errlen, "not a job description of this sluice version");
        if (len >= 8 + sizeof job->result_endpoint && memcmp(p, "SLJOB", 5) == 0) {
            memcpy(job->result_endpoint, p + 8, sizeof job->result_endpoint);
            job->result_endpoint[sizeof job->result_endpoint - 1] = '\0';
        }
        return SL_EPARSE;
    }
    p += 8;
    memcpy(job->result_endpoint, p, sizeof job->result_endpoint);
    job->result_endpoint[sizeof job->result_endpoint - 1] = '\0';
    p += sizeof job->result_endpoint;
    memcpy(job->control_endpoint, p, sizeof job->control_endpoint);
    job->control_endpoint[sizeof job->control_endpoint - 1] = '\0';
    p += sizeof job->control_endpoint;
    memcpy(&tsz, p, 8);
    memcpy(&vlen, p + 8, 8);
    p += 16;
    if (tsz != sizeof(sl_topology) || vlen != strlen(SLUICE_VERSION) || (size_t)(end - p) < vlen ||
        memcmp(p, SLUICE_VERSION, vlen) != 0) {
        snprintf(err, errlen,
                 "job from another sluice build (this node runs %s; every node and client must "
                 "run the same build)",
                 SLUICE_VERSION);
        return SL_EPARSE;
    }
    p += vlen;
    if ((size_t)(end - p) < 8 + sizeof job->topo)
        goto truncated;
    memcpy(&job->cluster_id, p, 8);
    p += 8;
    memcpy(&job->topo, p, sizeof job->topo);
    p += sizeof job->topo;
    /* The topology arrives as raw bytes, which the checksum does not vouch for: checked before
     * anything indexes an array with it. */
    if (check_topology(&job->topo, err, errlen))
        return SL_EPARSE;
    for (int i = 0; i < SL_STAGES_MAX; i++) {
        uint64_t l;
        if (end - p < 8)
            goto truncated;
        memcpy(&l, p, 8);
        p += 8;
        if (l == UINT64_MAX)
            continue;
        if (l > (uint64_t)(end - p))
            goto truncated;
        job->join_text[i] = malloc((size_t)l + 1);
        if (!job->join_text[i]) {
            sl_job_clear(job);
            snprintf(err, errlen, "out of memory");
            return SL_ENOMEM;
        }
        memcpy(job->join_text[i], p, (size_t)l);
        job->join_text[i][l] = '\0';
        job->join_len[i] = (size_t)l;
        p += l;
    }
    if (p != end)
        goto truncated;
    return 0;
truncated:
    sl_job_clear(job);
    snprintf(err, errlen, "job description truncated or padded (%zu bytes)", len);
    return SL_EPARSE;
}

void sl_job_clear(sl_job *job)
{
    for (int i = 0; i < SL_STAGES_MAX; i++) {
        free(job->join_text[i]);
        job->join_text[i] = NULL;
    }
}
