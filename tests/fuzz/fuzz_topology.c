/* libFuzzer harness: the topology parser, sl_config_parse (host/config.h). Inputs are topology
 * YAML files.
 *
 * Checks: the result is 0, SL_ECONFIG or SL_ENOMEM; on error the topology is untouched and the
 * message is "NAME:..." (SL_ECONFIG); on success the topology has the shape fuzz_check.h
 * describes and what the parser promises besides. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "event.h"
#include "err.h"
#include "fuzz_check.h"

#define FUZZ_NAME "fuzz/topology.yaml" /* relative paths get "fuzz/" in front */

/* What the parser promises beyond the shape (docs/config.md). */
static void check_pe(const sl_pe_cfg *pe)
{
    FUZZ_REQUIRE(pe->lateness_ms >= 0);
    if (pe->has_prior)
        FUZZ_REQUIRE(pe->prior_a > 0 && pe->prior_b > 0);
}

static void check_topology(const sl_topology *t)
{
    fuzz_check_topology_shape(t);
    FUZZ_REQUIRE(t->filter_types != 0 && t->filter_types < (1u << SL_EV_NTYPES));
    check_pe(&t->pe);
    for (uint32_t i = 0; i < t->nnext; i++)
        check_pe(&t->next[i].pe);
    FUZZ_REQUIRE(t->batch_events > 0);
    FUZZ_REQUIRE(t->sink.path[0] != '\0');
    for (uint32_t i = 0; i < t->nplacement; i++) {
        const sl_place_override *o = &t->placement[i];
        FUZZ_REQUIRE(o->numa >= -1 && (o->numa >= 0 || o->cpus[0] != '\0'));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sl_topology t, before;
    char err[1024];

    memset(&t, 0xa5, sizeof t);
    memcpy(&before, &t, sizeof t);
    int rc = sl_config_parse((const char *)data, size, FUZZ_NAME, &t, err, sizeof err);
    if (rc == 0) {
        check_topology(&t);
        return 0;
    }
    FUZZ_REQUIRE(rc == SL_ECONFIG || rc == SL_ENOMEM);
    FUZZ_REQUIRE(memcmp(&t, &before, sizeof t) == 0);
    FUZZ_TERMINATED(err);
    if (rc == SL_ECONFIG)
        FUZZ_REQUIRE(strncmp(err, FUZZ_NAME ":", sizeof FUZZ_NAME) == 0);
    return 0;
}
