/* libFuzzer harness: the cluster file parser, sl_cluster_parse (host/config.h). Inputs are
 * cluster YAML files.
 *
 * Checks: the result is 0, SL_ECONFIG or SL_ENOMEM; on error the configuration is untouched
 * and the message is "NAME:..." (SL_ECONFIG); on success there are 1..SL_NODES_MAX nodes with
 * ports that leave room for SL_NODE_PORTS, 1..65536 partitions, NUL-terminated strings and
 * network options within what the parser promises. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "fuzz_check.h"

#define FUZZ_NAME "fuzz/cluster.yaml"

static void check_cluster(const sl_cluster_cfg *c)
{
    FUZZ_REQUIRE(c->nnodes >= 1 && c->nnodes <= SL_NODES_MAX);
    for (uint32_t i = 0; i < c->nnodes; i++) {
        FUZZ_TERMINATED(c->nodes[i].host);
        FUZZ_REQUIRE(c->nodes[i].host[0] != '\0');
        FUZZ_REQUIRE(c->nodes[i].port >= 1 && c->nodes[i].port + SL_NODE_PORTS <= 65536);
    }
    FUZZ_REQUIRE(c->partitions >= 1 && c->partitions <= 65536);
    FUZZ_TERMINATED(c->client_host);
    FUZZ_TERMINATED(c->device);
    FUZZ_REQUIRE(c->net.batch_bytes >= 1 && c->net.batch_bytes <= c->net.max_payload);
    FUZZ_REQUIRE(c->net.hwm >= 1 && c->net.linger_ms >= 0 && c->net.heartbeat_ms >= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sl_cluster_cfg c, before;
    char err[1024];

    memset(&c, 0x5a, sizeof c);
    memcpy(&before, &c, sizeof c);
    int rc = sl_cluster_parse((const char *)data, size, FUZZ_NAME, &c, err, sizeof err);
    if (rc == 0) {
        check_cluster(&c);
        return 0;
    }
    FUZZ_REQUIRE(rc == SL_ECONFIG || rc == SL_ENOMEM);
    FUZZ_REQUIRE(memcmp(&c, &before, sizeof c) == 0);
    FUZZ_TERMINATED(err);
    if (rc == SL_ECONFIG)
        FUZZ_REQUIRE(strncmp(err, FUZZ_NAME ":", sizeof FUZZ_NAME) == 0);
    return 0;
}
