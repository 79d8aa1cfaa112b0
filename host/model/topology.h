/* The model: plain structs for what a topology file and a cluster file say (host/config parses
 * them into these), their defaults, and the names of their enumerations. No I/O, no devices, no
 * sockets here: every layer above may include it. Any thread. */
#ifndef SL_TOPOLOGY_H
#define SL_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include "opts.h"
#include "schema.h"
#include "sock.h"

typedef enum sl_format { SL_FMT_NDJSON = 0, SL_FMT_CSV = 1 } sl_format;

/* "ndjson"/"json" or "csv" -> *out. Returns 0 or SL_EINVAL. */
int sl_format_parse(const char *s, sl_format *out);

typedef struct sl_gen_cfg {
    uint64_t events;      /* total events to produce */
    uint32_t keys;        /* distinct ad ids: "ad-00000000" .. */
    double skew;          /* Zipf exponent; 0 = uniform */
    double click_rate;    /* mean per-ad click probability (0..1) */
    double purchase_rate; /* probability of a purchase event (0..1), counted as "other" by CTR */
    uint64_t seed;
    int64_t start_ms;       /* event time of the first event */
    uint32_t events_per_ms; /* event-time rate: time advances 1 ms every this many events */
    uint32_t users;         /* distinct user ids, SL_GEN_USER_FMT of 0..users-1, uniform */
} sl_gen_cfg;

/* Fills *cfg with the demo defaults: 10,000,000 events, 100,000 keys, Zipf 1.0, 10% clicks,
 * 0.5% purchases, seed 42, start 2026-01-01T00:00:00Z, 1000 events per ms, 100,000 users. */
void sl_gen_defaults(sl_gen_cfg *cfg);

/* One entry of the topology file's `placement:` list (docs/config.md). */
typedef struct sl_place_override {
    char device[128]; /* substring of "platform / device" (ASCII case-insensitive) */
    int numa;         /* NUMA node, hwloc logical index; -1 = not given */
    char cpus[256];   /* PU list of OS indices, e.g. "0-3,8"; "" = not given */
} sl_place_override;

/* The built-in kinds, one per row of kernels/pes.def (SL_PE_COUNT, SL_PE_SUM, SL_PE_CTR,
 * SL_PE_WINDOW, ...), then user PEs. */
enum sl_pe_kind {
#define SL_PE_ROW(id, ...) SL_PE_##id,
#include "pes.def"
#undef SL_PE_ROW
    SL_PE_USER,               /* a user's OpenCL C file (pe.source) or program binary (pe.binary) */
    SL_PE_NKINDS = SL_PE_USER /* built-in kinds */
};

/* "count", "sum", "ctr", "window_count" -> *out. Returns 0 or SL_EINVAL. */
int sl_pe_kind_parse(const char *s, enum sl_pe_kind *out);
const char *sl_pe_kind_name(enum sl_pe_kind k);

/* The names of the kinds, built-in ones and "user", indexed by kind. */
extern const char *const sl_pe_kind_names[SL_PE_NKINDS + 1];

/* The source kinds of host/io's table (source.c), in its order: the first three are built in,
 * further kinds are rows there (sl_source_kind_find). */
enum sl_source_kind { SL_SRC_FILE = 0, SL_SRC_STDIN = 1, SL_SRC_GENERATOR = 2 };

/* Where a clustered run reads its source: on the client (it parses and sends each event to the
 * node owning its key), or on every node (each reads its own part: a file's lines dealt into
 * parts, or its own zmq/tcp endpoint; parses, and routes each event to its owner itself). */
enum sl_ingest_at { SL_INGEST_CLIENT = 0, SL_INGEST_NODES = 1 };

/* Sink kinds of host/io's sink table (sink.c), in its order: a file (or stdout) first. */
enum sl_sink_kind { SL_SINK_FILE = 0 };

/* How a sink writes rows: CSV with a header, or one JSON object per line. */
enum sl_sink_format { SL_SINK_CSV = 0, SL_SINK_NDJSON = 1 };

/* What an emission holds: every key's current result (full), or only the keys whose result
 * changed since the previous emission (changes, an upsert stream). */
enum sl_sink_mode { SL_SINK_FULL = 0, SL_SINK_CHANGES = 1 };

typedef struct sl_trigger_cfg {
    uint64_t every_events; /* 0 = off */
    uint64_t every_ms;     /* 0 = off (wall-clock milliseconds) */
} sl_trigger_cfg;

#define SL_PE_PARAMS 16 /* params of one PE */

/* One of a PE's params: a name ([A-Za-z][A-Za-z0-9_]*, not starting with SL_) and a number as
 * the topology wrote it (an integer, a decimal, or true/false read as 1/0). */
typedef struct sl_pe_param {
    char name[SL_SCHEMA_NAME];
    char value[SL_SCHEMA_TEXT];
} sl_pe_param;

/* One of the members schema.attributes adds to a PE's sl_record (after `user`): 8 bytes each,
 * a double or a long. */
typedef struct sl_pe_attr {
    char name[SL_SCHEMA_NAME];
    int32_t is_double;
} sl_pe_attr;

/* Checks a param's name and value; writes why not into err. Returns 0 or SL_EINVAL. */
int sl_pe_param_check(const sl_pe_param *p, char *err, size_t errlen);

/* The build option of a checked param: "-DNAME=VALUE" with NAME upper-cased and an integer
 * that does not fit 32 bits suffixed L, into out. */
void sl_pe_param_define(const sl_pe_param *p, char *out, size_t outsz);

typedef struct sl_pe_cfg {
    char name[64];
    enum sl_pe_kind kind;
    uint64_t capacity;       /* most distinct keys in the state table; 0: no cap (it grows) */
    int has_prior;           /* ctr: smooth with Beta(prior_a, prior_b) */
    double prior_a, prior_b; /* ctr: > 0 when has_prior */
    int64_t window_ms;       /* window_count (and optionally user): window length, > 0 */
    int64_t lateness_ms;     /* windowed PEs: allowed lateness, >= 0 */
    char source[4096];       /* user: path of the PE's OpenCL C file */
    char binary[4096];       /* user: path of a program binary (sluice kernel build) */
    sl_trigger_cfg trigger;
    uint32_t timeout_ms; /* longest wait for one dispatch (a batch, an emission); 0 = no limit */
    /* params: compile-time constants of the PE's kernel, -DNAME=VALUE (NAME upper-cased). */
    uint32_t nparams;
    sl_pe_param param[SL_PE_PARAMS];
    char field[SL_SCHEMA_NAME]; /* the first PE: the schema field fed as the value ("" none) */
    /* The first PE: schema.attributes, the members its records carry after `user`
     * (sl_topology_bind_attrs); value_attr is 1 + the one the value field is (0: none), which
     * the built-in PEs then read at full width (SL_VALUE in kernels/sluice.h). */
    uint32_t nattrs;
    sl_pe_attr attr[SL_SCHEMA_ATTRS];
    int32_t value_attr;
    /* pe.format: overrides of its columns' formats, "NAME:FMT,..." as sl_columns_override
     * (columns.h) reads them; "" = as the PE declares (SL_COLUMNS) */
    char format[512];
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
        int kind; /* enum sl_source_kind or a further row of host/io's table */
        char path[4096];
        sl_format format;
        sl_gen_cfg gen;
        sl_opts opts; /* the kind's own keys, read by its backend */
        int ingest;   /* enum sl_ingest_at; one process ignores it */
        /* source.max_malformed (--max-malformed): the largest share, 0..1, of the input's
         * lines (those not blank, a CSV header aside) that may be malformed; a run over it
         * fails (exit status 4), as does one whose every line is (SL_MAX_MALFORMED_DEFAULT) */
        double max_malformed;
    } source;
    uint32_t filter_types; /* bit (1 << sl_evtype) set = keep; all four bits set = no filter */
    sl_pe_cfg pe;          /* the first keyed PE, fed by the source */
    uint32_t nnext;        /* further PEs, each fed by the one before */
    sl_stage_cfg next[SL_STAGES_MAX - 1];
    uint32_t batch_events;  /* events per device batch */
    uint32_t batch_wait_ms; /* longest an event waits in a partial batch before dispatch */
    struct {
        int kind;        /* enum sl_sink_kind or a further row of host/io's sink table */
        char path[4096]; /* "-" = stdout */
        int snapshots;
        int format;   /* enum sl_sink_format */
        int mode;     /* enum sl_sink_mode */
        sl_opts opts; /* the kind's own keys, read by its backend */
    } sink;
    /* Per-device placement overrides, in file order; the first whose device matches wins
     * (sl_place_override_find). numa is -1 and cpus "" where the entry leaves them out; at
     * least one is set. Checked against the machine only when placed (sl_topo_place). */
    uint32_t nplacement;
    sl_place_override placement[SL_PLACEMENT_MAX];
    /* Checkpoints of a one-process run (docs/fault-tolerance.md): every every_ms (0: none) the
     * PEs' state, the ids and the source's offset go to a file in dir; the newest `keep` stay. */
    struct {
        uint32_t every_ms;
        uint32_t keep;
        char dir[4096];
    } checkpoint;
    /* The input's declared shape (schema.h; docs/config.md "Schemas"): the YSB defaults unless
     * the topology has a schema: section. Read by file, stdin and network sources alike. */
    sl_schema schema;
} sl_topology;

/* 1 when some next stage joins, so that the last PE is keyed by campaign, not by ad. */
int sl_topology_rekeyed(const sl_topology *t);

/* Defaults: device "", source stdin ndjson with sl_gen_defaults and max_malformed
 * SL_MAX_MALFORMED_DEFAULT, no filter, pe "ctr" kind ctr capacity 0 (no cap) no prior window
 * 10000 lateness 0 no trigger timeout SL_PE_TIMEOUT_MS no format overrides, batch 262,144
 * waiting at most SL_BATCH_WAIT_MS, sink "-" csv full, no placement overrides. */
#define SL_MAX_MALFORMED_DEFAULT 0.5 /* more than half of the lines malformed fails a run */
#define SL_BATCH_WAIT_MS 5u
#define SL_PE_TIMEOUT_MS 10000u
void sl_topology_defaults(sl_topology *t);

/* Gives the first PE (t->pe) the schema's attributes (schema.attributes) and which of them is
 * the value; the other PEs take none (their records come from rows). */
void sl_topology_bind_attrs(sl_topology *t);

/* Fills pe defaults for `kind` (used by the quickstart commands). */
void sl_pe_defaults(sl_pe_cfg *pe, enum sl_pe_kind kind);

#define SL_NODES_MAX 64
#define SL_NODE_PORTS SL_STAGES_MAX      /* data ports per node: one per stage's input */
#define SL_NODE_CTL SL_NODE_PORTS        /* offset of the control port (ACK, LEASE, CANCEL) */
#define SL_NODE_SPAN (SL_NODE_PORTS + 1) /* consecutive ports a node listens on */

typedef struct sl_node_addr {
    char host[256];
    uint32_t port;    /* the first of SL_NODE_SPAN consecutive ports */
    uint32_t metrics; /* the port of its metrics endpoint and web UI at host (0: none) */
} sl_node_addr;

/* zookeeper: in a cluster file (docs/cluster.md, "Cluster state in ZooKeeper"): where the
 * cluster keeps its membership, coordinator election, partition map and job registry. */
typedef struct sl_zk_cfg {
    char connect[512];   /* "host:port[,host:port...]"; "" = no ZooKeeper (the static file) */
    char root[256];      /* the cluster's znode, e.g. /sluice/prod (default /sluice) */
    uint32_t session_ms; /* session timeout, 1000..60000 (default 4000) */
} sl_zk_cfg;

typedef struct sl_cluster_cfg {
    uint32_t nnodes;
    sl_node_addr nodes[SL_NODES_MAX];
    uint32_t partitions; /* 1..65536 */
    char client_host[256];
    char device[128];    /* empty: SLUICE_DEVICE or the first device */
    sl_net_opts net;     /* net.curve and its keys are filled by sl_cluster_load from keys_dir */
    char keys_dir[4096]; /* curve.keys resolved against the file's folder; "" = no keys */
    int insecure;        /* insecure: true: no keys, yet nodes off loopback are allowed */
    sl_zk_cfg zk;        /* zookeeper: {...}; zk.connect "" when absent */
} sl_cluster_cfg;

void sl_cluster_defaults(sl_cluster_cfg *c);

#endif
