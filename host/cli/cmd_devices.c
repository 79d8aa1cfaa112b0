/* sluice devices [CONFIG.yaml]: every OpenCL platform and device, and where each device's
 * threads and buffers go (docs/placement.md). */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "config.h"
#include "device.h"
#include "err.h"
#include "opts.h"
#include "placement.h"

void usage_devices(FILE *o)
{
    fprintf(o, "usage: sluice devices [CONFIG.yaml]\n"
               "\n"
               "Lists every OpenCL platform and device with its key limits, then where each\n"
               "device's threads and buffers go: its NUMA node and cpuset, and how that was\n"
               "found (the config's placement: entry, hwloc's OpenCL or PCI object, or the whole\n"
               "machine); with CONFIG.yaml, its placement: overrides apply. Select a device\n"
               "with --device NAME or SLUICE_DEVICE=NAME (a case-insensitive substring of\n"
               "\"platform / device\"). See docs/placement.md.\n");
}

int cmd_devices(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage_devices(stdout);
            return 0;
        }
        cli_option_error("devices", c, argv, opts);
        return 2;
    }
    if (optind + 1 < argc) {
        usage_devices(stderr);
        return 2;
    }
    static sl_topology t;
    char msg[4096];
    sl_topology_defaults(&t);
    if (optind < argc && sl_config_load(argv[optind], &t, msg, sizeof msg)) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return 2;
    }
    int rc = sl_device_list(stdout);
    if (rc) {
        fprintf(stderr, "%s: %s (is an OpenCL ICD installed? on Debian: pocl-opencl-icd)\n",
                cli_prog, sl_strerror(rc));
        return 1;
    }
    putchar('\n');
    rc = sl_placement_report(stdout, t.placement, t.nplacement, msg, sizeof msg);
    if (rc) {
        fprintf(stderr, "%s: placement: %s\n", cli_prog, msg);
        return 1;
    }
    return 0;
}
