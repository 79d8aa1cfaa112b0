/* Cluster files: YAML -> sl_cluster_cfg (config.h), the rules of the file: nodes, partitions,
 * client_host, device, net, curve, insecure and zookeeper (docs/cluster.md). Loaded and read with
 * the typed getters of yamlmap.h, so messages are "NAME:LINE:COLUMN: ..." as for topologies. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "err.h"
#include "yamlmap.h"

/* Returns 1 for 127.x.y.z, ::1 and localhost. */
static int host_is_loopback(const char *h)
{
    return strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0 || strcmp(h, "localhost") == 0;
}

/* net: the socket options. max_frame is read first: it bounds batch_bytes. Returns 0 or
 * SL_ECONFIG. */
static int parse_net(const sl_ym_ctx *c, const yaml_node_t *n, sl_net_opts *o)
{
    enum { N_BATCH, N_FLUSH, N_MAXF, N_HWM, N_LINGER, N_HB, N_LIVE, N_N };
    static const char *const keys[N_N] = {
        [N_BATCH] = "batch_bytes", [N_FLUSH] = "flush_us",   [N_MAXF] = "max_frame",
        [N_HWM] = "hwm",           [N_LINGER] = "linger_ms", [N_HB] = "heartbeat_ms",
        [N_LIVE] = "liveness_ms",
    };
    static const sl_ym_rule frame_rule[] = {
        SL_YM_UINT(N_MAXF, sl_net_opts, max_payload, 4096, UINT64_C(1) << 30),
    };
    sl_ym_field f[N_N];
    int rc = sl_ym_scan(c, n, "net", keys, N_N, f);
    if (rc < 0 || (rc = sl_ym_read(c, f, "net", frame_rule, 1, o)) < 0)
        return rc;
    const sl_ym_rule rules[] = {
        SL_YM_UINT(N_BATCH, sl_net_opts, batch_bytes, 64, o->max_payload),
        SL_YM_UINT(N_FLUSH, sl_net_opts, flush_us, 0, UINT64_C(60000000)),
        SL_YM_UINT(N_HWM, sl_net_opts, hwm, 1, 1000000),
        SL_YM_UINT(N_LINGER, sl_net_opts, linger_ms, 0, 3600000),
        SL_YM_UINT(N_HB, sl_net_opts, heartbeat_ms, 100, 3600000),
        SL_YM_UINT(N_LIVE, sl_net_opts, liveness_ms, 500, 3600000),
    };
    return sl_ym_read(c, f, "net", rules, SL_YM_COUNT(rules), o);
}

/* nodes: a list of {id, host, port}, ids 0..N-1 in order. Returns 0 or SL_ECONFIG. */
static int parse_nodes(const sl_ym_ctx *c, const yaml_node_t *n, sl_cluster_cfg *cl)
{
    static const char *const keys[] = {"id", "host", "port", "metrics"};
    static const sl_ym_rule rules[] = {
        SL_YM_STR(1, sl_node_addr, host, 0),
        SL_YM_UINT(2, sl_node_addr, port, 1, 65536 - SL_NODE_SPAN),
        SL_YM_UINT(3, sl_node_addr, metrics, 1, 65535),
    };
    size_t count;
    int rc = sl_ym_list(c, n, "nodes", "a non-empty list of {id, host, port}", SL_NODES_MAX,
                        "nodes", &count);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = sl_ym_item(c, n, i);
        sl_ym_field f[4];
        char pfx[32], path[64];
        uint64_t id;
        snprintf(pfx, sizeof pfx, "nodes[%zu]", i);
        if ((rc = sl_ym_scan(c, item, pfx, keys, 4, f)) < 0)
            return rc;
        for (int k = 0; k < 3; k++)
            if (!f[k].v)
                return sl_ym_missing(c, item, pfx, f[k].key, "");
        sl_ym_join(path, sizeof path, pfx, "id");
        if (sl_ym_u64(c, f[0].v, path, i, i, &id) < 0)
            return sl_ym_fail(c, f[0].v->start_mark,
                              "%s: node ids must be 0..N-1 in order: expected %zu", path, i);
        if ((rc = sl_ym_read(c, f, pfx, rules, SL_YM_COUNT(rules), &cl->nodes[i])) < 0)
            return rc;
    }
    cl->nnodes = (uint32_t)count;
    return 0;
}

/* zookeeper: {connect, root, session_ms}. connect is required; root is an absolute znode path
 * without a trailing slash or empty parts. Returns 0 or SL_ECONFIG. */
static int parse_zk(const sl_ym_ctx *c, const yaml_node_t *n, sl_zk_cfg *z)
{
    enum { Z_CONNECT, Z_ROOT, Z_SESSION, Z_N };
    static const char *const keys[Z_N] = {
        [Z_CONNECT] = "connect", [Z_ROOT] = "root", [Z_SESSION] = "session_ms"};
    static const sl_ym_rule rules[] = {
        SL_YM_STR(Z_CONNECT, sl_zk_cfg, connect, 0),
        SL_YM_STR(Z_ROOT, sl_zk_cfg, root, 0),
        SL_YM_UINT(Z_SESSION, sl_zk_cfg, session_ms, 1000, 60000),
    };
    sl_ym_field f[Z_N];
    int rc = sl_ym_scan(c, n, "zookeeper", keys, Z_N, f);
    if (rc < 0)
        return rc;
    if (!f[Z_CONNECT].v)
        return sl_ym_missing(c, n, "zookeeper", "connect", " (host:port[,host:port...])");
    if ((rc = sl_ym_read(c, f, "zookeeper", rules, SL_YM_COUNT(rules), z)) < 0)
        return rc;
    for (const char *s = z->connect; *s; s++)
        if (*s == ' ' || *s == '/' || (unsigned char)*s < 0x20)
            return sl_ym_fail(c, f[Z_CONNECT].v->start_mark,
                              "zookeeper.connect: expected host:port[,host:port...], got \"%s\"",
                              z->connect);
    size_t l = strlen(z->root);
    if (z->root[0] != '/' || l < 2 || z->root[l - 1] == '/' || strstr(z->root, "//"))
        return sl_ym_fail(c, f[Z_ROOT].v ? f[Z_ROOT].v->start_mark : n->start_mark,
                          "zookeeper.root: expected a znode path such as /sluice/prod (a "
                          "leading slash, no trailing one), got \"%s\"",
                          z->root);
    return 0;
}

enum { C_NODES, C_PARTS, C_CLIENT, C_DEVICE, C_NET, C_CURVE, C_INSECURE, C_ZK, C_N };

static const char *const cluster_keys[C_N] = {
    [C_NODES] = "nodes",       [C_PARTS] = "partitions", [C_CLIENT] = "client_host",
    [C_DEVICE] = "device",     [C_NET] = "net",          [C_CURVE] = "curve",
    [C_INSECURE] = "insecure", [C_ZK] = "zookeeper",
};

/* Without keys anyone who reaches a port can drive the cluster: only loopback, unless the file
 * says it means it. Returns 0 or SL_ECONFIG at the first address off loopback. */
static int check_loopback(const sl_ym_ctx *c, const sl_ym_field *f, const sl_cluster_cfg *cl)
{
    if (cl->keys_dir[0] || cl->insecure)
        return 0;
    for (uint32_t i = 0; i < cl->nnodes; i++)
        if (!host_is_loopback(cl->nodes[i].host))
            return sl_ym_fail(c, f[C_NODES].v->start_mark,
                              "nodes[%u].host %s is not a loopback address, and the cluster has "
                              "no CURVE keys: make them with 'sluice keygen DIR' and add "
                              "'curve: {keys: DIR}', or add 'insecure: true' to run "
                              "unauthenticated",
                              i, cl->nodes[i].host);
    if (!host_is_loopback(cl->client_host))
        return sl_ym_fail(c, f[C_CLIENT].v->start_mark,
                          "client_host %s is not a loopback address, and the cluster has no "
                          "CURVE keys: add 'curve: {keys: DIR}' (sluice keygen DIR) or "
                          "'insecure: true'",
                          cl->client_host);
    return 0;
}

/* Walks the document root (NULL for an empty document) into a cluster from the defaults and
 * copies it to out only on success. Returns 0 or SL_ECONFIG. */
static int cluster_root(const sl_ym_ctx *c, const yaml_node_t *root, void *out)
{
    static const sl_ym_rule head_rules[] = {
        SL_YM_UINT(C_PARTS, sl_cluster_cfg, partitions, 1, 65536),
        SL_YM_STR(C_CLIENT, sl_cluster_cfg, client_host, 0),
        SL_YM_STR(C_DEVICE, sl_cluster_cfg, device, 1),
    };
    static const sl_ym_rule insecure_rule[] = {SL_YM_BOOL(C_INSECURE, sl_cluster_cfg, insecure)};
    static const char *const curve_keys[] = {"keys"};
    static const sl_ym_rule curve_rule[] = {SL_YM_PATH(0, sl_cluster_cfg, keys_dir)};
    sl_ym_field f[C_N], k[1];
    sl_cluster_cfg tmp;
    int rc;
    sl_cluster_defaults(&tmp);
    if ((rc = sl_ym_scan(c, root, "", cluster_keys, C_N, f)) < 0)
        return rc;
    if (!f[C_NODES].v)
        return sl_ym_missing(c, root, "", "nodes", "");
    if ((rc = parse_nodes(c, f[C_NODES].v, &tmp)) < 0 ||
        (rc = sl_ym_read(c, f, "", head_rules, SL_YM_COUNT(head_rules), &tmp)) < 0)
        return rc;
    if (f[C_NET].v && (rc = parse_net(c, f[C_NET].v, &tmp.net)) < 0)
        return rc;
    if (tmp.net.batch_bytes > tmp.net.max_payload)
        return sl_ym_fail(c, f[C_NET].k->start_mark,
                          "net.batch_bytes (%zu) exceeds net.max_frame (%zu)", tmp.net.batch_bytes,
                          tmp.net.max_payload);
    if (f[C_CURVE].v) {
        if ((rc = sl_ym_scan(c, f[C_CURVE].v, "curve", curve_keys, 1, k)) < 0)
            return rc;
        if (!k[0].v)
            return sl_ym_missing(c, f[C_CURVE].v, "curve", "keys", "");
        if ((rc = sl_ym_read(c, k, "curve", curve_rule, 1, &tmp)) < 0)
            return rc;
    }
    if (f[C_ZK].v && (rc = parse_zk(c, f[C_ZK].v, &tmp.zk)) < 0)
        return rc;
    if ((rc = sl_ym_read(c, f, "", insecure_rule, 1, &tmp)) < 0 ||
        (rc = check_loopback(c, f, &tmp)) < 0)
        return rc;
    memcpy(out, &tmp, sizeof tmp);
    return 0;
}

int sl_cluster_parse(const char *text, size_t len, const char *name, sl_cluster_cfg *c, char *err,
                     size_t errlen)
{
    return sl_ym_parse(text, len, name, cluster_root, c, err, errlen);
}

/* Parses the file, then loads the CURVE key pair from curve.keys, if the file names one. */
int sl_cluster_load(const char *path, sl_cluster_cfg *c, char *err, size_t errlen)
{
    int rc = sl_ym_load(path, cluster_root, c, err, errlen);
    if (rc)
        return rc;
    if (c->keys_dir[0]) {
        char kerr[4600];
        if (sl_keys_load(c->keys_dir, &c->net, kerr, sizeof kerr)) {
            snprintf(err, errlen, "%s: curve.keys: %s", path, kerr);
            return SL_ECONFIG;
        }
    }
    return 0;
}
