/* Topology configuration: a YAML file naming a source, keyless host PEs, one keyed PE and a
 * sink. Parsed with libyaml; every error names the file, line and column and what was expected.
 * topology_yaml.c and cluster_yaml.c hold the rules of each file, on the typed-YAML helpers of
 * yamlmap.h (yamlmap.c, yamldoc.c).
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
 *     capacity: 1000000          # optional cap on keys (default: the table grows)
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

#include "topology.h"

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

/* Parses a cluster file like sl_config_parse. Returns 0, SL_ECONFIG or SL_ENOMEM; on error *c
 * is unchanged. */
int sl_cluster_parse(const char *text, size_t len, const char *name, sl_cluster_cfg *c, char *err,
                     size_t errlen);

/* Reads and parses the cluster file at `path`. Also SL_EIO. */
int sl_cluster_load(const char *path, sl_cluster_cfg *c, char *err, size_t errlen);

#endif
