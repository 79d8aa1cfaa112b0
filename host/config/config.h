/* Topology configuration: a YAML file naming a source, keyless host PEs, one keyed PE and a
 * sink. Parsed with libyaml; every error names the file, line and column and what was expected.
 *
 * Example (docs/config.md lists every key):
 *   device: pthread              # optional: platform/device name substring
 *   source:
 *     type: file                 # file | stdin | generator
 *     path: events.ndjson
 *     format: ndjson             # ndjson | csv
 *   filter:
 *     event_types: [view, click] # keyless host PE: keep only these types
 *   pe:
 *     name: ctr_per_ad
 *     kind: ctr                  # count | sum | ctr | window_count
 *     capacity: 1000000          # most keys the device table holds
 *     prior: [1.0, 10.0]         # ctr only: Beta(a, b) smoothing
 *     window_ms: 10000           # window_count only
 *     lateness_ms: 0             # window_count only
 *     trigger: {every_events: 1000000, every_ms: 1000}
 *     timeout_ms: 10000          # longest wait for one batch or emission; 0 = no limit
 *   batch:
 *     events: 262144
 *   next:                        # optional further PEs, each fed by the previous one's rows
 *     - name: top_ads_per_campaign
 *       join: campaigns.csv      # re-key rows by campaign (CSV ad_id,campaign_id)
 *       value: ctr               # the upstream column carried as the record's value
 *       kind: user
 *       source: topk_ctr.cl
 *   sink:
 *     path: out.csv              # "-" for stdout; the last PE's rows
 *     snapshots: false           # also write each trigger's snapshot
 *   placement:                   # optional per-device placement overrides (docs/placement.md)
 *     - device: pthread          # substring of "platform / device", as device: matches
 *       numa: 0                  # NUMA node (hwloc logical index)
 *       cpus: "0-3"              # PUs (OS indices); numa, cpus or both
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "generator.h"
#include "placement.h"
#include "reader.h"
#include "sock.h"

enum sl_pe_kind {
    SL_PE_COUNT = 0,
    SL_PE_SUM = 1,
    SL_PE_CTR = 2,
    SL_PE_WINDOW = 3, /* the count PE per event-time window */
    SL_PE_USER = 4    /* a user's OpenCL C file (pe.source) or program binary (pe.binary) */
};
#define SL_PE_NKINDS 4 /* built-in kinds */

/* "count", "sum", "ctr", "window_count" -> *out. Returns 0 or SL_EINVAL. */
int sl_pe_kind_parse(const char *s, enum sl_pe_kind *out);
const char *sl_pe_kind_name(enum sl_pe_kind k);

enum sl_source_kind { SL_SRC_FILE = 0, SL_SRC_STDIN = 1, SL_SRC_GENERATOR = 2 };

typedef struct sl_trigger_cfg {
    uint64_t every_events; /* 0 = off */
    uint64_t every_ms;     /* 0 = off (wall-clock milliseconds) */
} sl_trigger_cfg;

typedef struct sl_pe_cfg {
    char name[64];
    enum sl_pe_kind kind;
    uint64_t capacity;       /* most distinct keys in the state table */
    int has_prior;           /* ctr: smooth with Beta(prior_a, prior_b) */
    double prior_a, prior_b; /* ctr: > 0 when has_prior */
    int64_t window_ms;       /* window_count (and optionally user): window length, > 0 */
    int64_t lateness_ms;     /* windowed PEs: allowed lateness, >= 0 */
    char source[4096];       /* user: path of the PE's OpenCL C file */
    char binary[4096];       /* user: path of a program binary (sluice kernel build) */
    sl_trigger_cfg trigger;
    uint32_t timeout_ms; /* longest wait for one dispatch (a batch, an emission); 0 = no limit */
} sl_pe_cfg;

#define SL_STAGES_MAX 4     /* keyed PEs in one topology: pe and up to three in next */
#define SL_PLACEMENT_MAX 16 /* entries of the placement: list */

/* A keyed PE fed by the previous PE's results (a multi-stage topology): each final or window
 * row of the previous PE becomes one record with key = the row's key, re-keyed through the
 * join table when there is one, user = the row's key (the upstream key), value = the row's
 * column `value` (as a 32-bit float), time_ms = the row's window start (0 without a window)
 * and type view. Rows whose key the join table lacks are counted and not forwarded. */
typedef struct sl_stage_cfg {
    sl_pe_cfg pe;
    char join[4096]; /* CSV of ad_id,campaign_id (host/jointab.h); "" = keep the row's key */
    char value[48];  /* upstream column; "" = the first column */
} sl_stage_cfg;

typedef struct sl_topology {
    char device[128]; /* empty: SLUICE_DEVICE or the first device */
    struct {
        enum sl_source_kind kind;
        char path[4096];
        sl_format format;
        sl_gen_cfg gen;
    } source;
    uint32_t filter_types; /* bit (1 << sl_evtype) set = keep; all four bits set = no filter */
    sl_pe_cfg pe;          /* the first keyed PE, fed by the source */
    uint32_t nnext;        /* further PEs, each fed by the one before */
    sl_stage_cfg next[SL_STAGES_MAX - 1];
    uint32_t batch_events; /* events per device batch */
    struct {
        char path[4096]; /* "-" = stdout */
        int snapshots;
    } sink;
    /* Per-device placement overrides, in file order; the first whose device matches wins
     * (sl_place_override_find). numa is -1 and cpus "" where the entry leaves them out; at
     * least one is set. Checked against the machine only when placed (sl_topo_place). */
    uint32_t nplacement;
    sl_place_override placement[SL_PLACEMENT_MAX];
} sl_topology;

/* 1 when some next stage joins, so that the last PE is keyed by campaign, not by ad. */
int sl_topology_rekeyed(const sl_topology *t);

/* Defaults: device "", source stdin ndjson with sl_gen_defaults, no filter, pe "ctr" kind ctr
 * capacity 1,048,576 no prior window 10000 lateness 0 no trigger timeout SL_PE_TIMEOUT_MS,
 * batch 262,144, sink "-", no placement overrides. */
#define SL_PE_TIMEOUT_MS 10000u
void sl_topology_defaults(sl_topology *t);

/* Fills pe defaults for `kind` (used by the quickstart commands). */
void sl_pe_defaults(sl_pe_cfg *pe, enum sl_pe_kind kind);

/* Parses YAML `text` (len bytes) named `name` (for messages) into *t, starting from defaults.
 * Returns 0, or SL_ECONFIG with a message "NAME:LINE:COLUMN: what was expected" in err, or
 * SL_ENOMEM; on error *t is unchanged.
 * Relative source/sink paths are resolved against the directory of `name`. Any thread. */
int sl_config_parse(const char *text, size_t len, const char *name, sl_topology *t, char *err,
                    size_t errlen);

/* Reads and parses the file at `path`. Returns 0, SL_EIO (message names the file and errno
 * text), SL_ECONFIG or SL_ENOMEM. Any thread. */
int sl_config_load(const char *path, sl_topology *t, char *err, size_t errlen);

/* A cluster file: the nodes of a cluster and how they talk (docs/cluster.md).
 *   partitions: 256            # key partitions, spread round-robin over the nodes
 *   client_host: 127.0.0.1     # address nodes send results to (the submitting machine)
 *   net: {batch_bytes: 65536, flush_us: 1000, max_frame: 4194304, hwm: 64,
 *         linger_ms: 5000, heartbeat_ms: 1000, liveness_ms: 6000}
 *   curve: {keys: keys/}       # CURVE on every socket (sluice keygen keys/); relative to the file
 *   insecure: false            # without keys, nodes must be on loopback unless this is true
 *   nodes:                     # ids 0..N-1 in order; node i listens on port .. port+4
 *     - {id: 0, host: 127.0.0.1, port: 7600}
 *     - {id: 1, host: 127.0.0.1, port: 7610}
 */
#define SL_NODES_MAX 64
#define SL_NODE_PORTS SL_STAGES_MAX      /* data ports per node: one per stage's input */
#define SL_NODE_CTL SL_NODE_PORTS        /* offset of the control port (ACK, LEASE, CANCEL) */
#define SL_NODE_SPAN (SL_NODE_PORTS + 1) /* consecutive ports a node listens on */

typedef struct sl_node_addr {
    char host[256];
    uint32_t port; /* the first of SL_NODE_SPAN consecutive ports */
} sl_node_addr;

typedef struct sl_cluster_cfg {
    uint32_t nnodes;
    sl_node_addr nodes[SL_NODES_MAX];
    uint32_t partitions; /* 1..65536 */
    char client_host[256];
    char device[128];    /* empty: SLUICE_DEVICE or the first device */
    sl_net_opts net;     /* net.curve and its keys are filled by sl_cluster_load from keys_dir */
    char keys_dir[4096]; /* curve.keys resolved against the file's folder; "" = no keys */
    int insecure;        /* insecure: true: no keys, yet nodes off loopback are allowed */
} sl_cluster_cfg;

void sl_cluster_defaults(sl_cluster_cfg *c);

/* Parses a cluster file like sl_config_parse. Returns 0, SL_ECONFIG or SL_ENOMEM; on error *c
 * is unchanged. */
int sl_cluster_parse(const char *text, size_t len, const char *name, sl_cluster_cfg *c, char *err,
                     size_t errlen);

/* Reads and parses the cluster file at `path`. Also SL_EIO. */
int sl_cluster_load(const char *path, sl_cluster_cfg *c, char *err, size_t errlen);

#endif
