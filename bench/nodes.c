/* Node-count sweep; see nodes.h. */
#include "nodes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "common.h"
#include "config.h"
#include "err.h"
#include "launch.h"
#include "pipeline.h"

#ifndef SLUICE_BIN
#error "SLUICE_BIN must name the sluice executable (bench/bench.cmake sets it)"
#endif

static const uint32_t full_nodes[] = {1, 2, 3};
static const uint32_t quick_nodes[] = {2};

int nodes_cases(int quick)
{
    return quick ? 1 : 3;
}

static void topo(sl_topology *t, const nodes_opts *o, uint64_t events)
{
    sl_topology_defaults(t);
    if (o->device)
        snprintf(t->device, sizeof t->device, "%s", o->device);
    t->source.kind = SL_SRC_GENERATOR;
    t->source.gen.events = events;
    t->source.gen.keys = 100000;
    t->source.gen.skew = 1.0;
    t->source.gen.click_rate = 0.1;
    t->source.gen.seed = o->seed;
    sl_pe_defaults(&t->pe, SL_PE_CTR);
    t->pe.capacity = 100000 + 100000 / 4 + 1024;
}

static int one_case(const nodes_opts *o, uint32_t n, rp_report *r, char *msg, size_t msglen)
{
    char cl_path[4096] = "", cl_dir[4096] = "", pa[1024] = "", pb[1024] = "", label[128];
    sl_cluster_cfg cfg;
    sl_launch *launch = NULL;
    FILE *fa = bc_tmp_file("sluice-bench", "cluster", pa, sizeof pa),
         *fb = bc_tmp_file("sluice-bench", "local", pb, sizeof pb);
    int rc = 0, made = 0;
    long bytes = 0;
    snprintf(label, sizeof label,
             "ctr on %u local node process%s vs 1 process, %llu generated events, 100000 ads, "
             "Zipf 1.0",
             n, n == 1 ? "" : "es", (unsigned long long)o->events);
    rp_case *k = rp_case_add(r, "sweep_nodes", label, n, o->events);
    if (!k || !fa || !fb) {
        snprintf(msg, msglen, "out of memory or no temporary file: %s", strerror(errno));
        rc = SL_EIO;
        goto out;
    }
    rp_system *sc = rp_sys(k, "sluice cluster"), *s1 = rp_sys(k, "sluice 1 process");
    if ((rc = sl_launch_local_cluster(n, o->device ? o->device : "", 0, cl_dir, sizeof cl_dir,
                                      cl_path, sizeof cl_path, msg, msglen)))
        goto out;
    made = 1;
    if ((rc = sl_cluster_load(cl_path, &cfg, msg, msglen)) ||
        (rc = sl_launch_start(SLUICE_BIN, cl_path, &cfg, 1, cl_dir, &launch, msg, msglen)) ||
        (rc = sl_launch_wait_ready(launch, &cfg, 60000, msg, msglen)))
        goto out;
    sl_topology t, warm;
    topo(&t, o, o->events);
    topo(&warm, o, o->events / 16 + 1);
    for (int rep = -1; rep < o->reps && rc == 0; rep++) {
        const sl_topology *tt = rep < 0 ? &warm : &t; /* rep -1: warm-up, not reported */
        if ((rc = bc_truncate(fa)) || (rc = bc_truncate(fb))) {
            snprintf(msg, msglen, "cannot truncate temporary files");
            break;
        }
        for (int side = 0; side < 2 && rc == 0; side++) {
            int cluster = (side ^ (rep & 1)) == 0;
            sl_pipeline_opts po = {.topo = tt, .out = cluster ? fa : fb};
            sl_pipeline_report prep;
            sl_client_report crep;
            if (cluster) {
                sl_client_opts co = {.cl = &cfg,
                                     .po = &po,
                                     .alive = sl_launch_alive,
                                     .alive_ud = launch,
                                     .quiet = 1};
                rc = sl_client_run(&co, &prep, &crep, msg, msglen);
            } else {
                rc = sl_pipeline_run(&po, &prep, msg, msglen);
            }
            if (rc == 0 && rep >= 0)
                rp_add(cluster ? sc : s1, "eps", "events/s", (double)o->events / prep.elapsed_s);
        }
        if (rc == 0 && !bc_same_bytes(fa, fb, &bytes)) {
            k->equal = 0;
            snprintf(
                k->check, sizeof k->check,
                "DIFFER: the CSV of %u nodes (%.200s) and of one process (%.200s), repetition %d",
                n, pa, pb, rep + 1);
            pa[0] = pb[0] = '\0'; /* kept for inspection */
            break;
        }
    }
    if (rc == 0 && k->equal)
        snprintf(k->check, sizeof k->check,
                 "equal: the same CSV (%ld bytes) from %u nodes and one process on every "
                 "repetition",
                 bytes, n);
out:
    if (launch) {
        char smsg[512];
        if (sl_launch_stop(&launch, 30000, smsg, sizeof smsg) && rc == 0) {
            snprintf(msg, msglen, "stopping the nodes: %s", smsg);
            rc = SL_EIO;
        }
    }
    if (made)
        sl_launch_remove_local(cl_dir);
    bc_tmp_close(&fa, pa);
    bc_tmp_close(&fb, pb);
    return rc;
}

int nodes_run(const nodes_opts *o, rp_report *r, int *done, char *msg, size_t msglen)
{
    const uint32_t *ns = o->quick ? quick_nodes : full_nodes;
    int n = nodes_cases(o->quick), rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = one_case(o, ns[i], r, msg, msglen);
        (*done)++;
    }
    return rc;
}
