/* The sluice command line: run, ctr, devices. Exit status: 0 success, 1 runtime failure
 * (device, build, table full, I/O), 2 usage or configuration error, or a malformed line under
 * --strict. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <signal.h>

#include "auth.h"
#include "cli.h"
#include "client.h"
#include "config.h"
#include "deepcheck.h"
#include "device.h"
#include "engine.h"
#include "err.h"
#include "execute.h"
#include "launch.h"
#include "node.h"
#include "pipeline.h"
#include "placement.h"
#include "proc.h"

const char cli_prog[] = "sluice";

static void usage_main(FILE *o)
{
    fprintf(o, "usage: sluice [--version] [--help] COMMAND [ARGS]\n"
               "\n"
               "A stream processor that runs keyed aggregation PEs as OpenCL kernels.\n"
               "\n"
               "commands:\n"
               "  ctr       click-through rate per ad from NDJSON/CSV events (or the generator)\n"
               "  run       run a topology from a YAML file\n"
               "  devices   list OpenCL platforms and devices\n"
               "  kernel    check, build or run a PE written in OpenCL C (docs/kernel-abi.md)\n"
               "  node      run one cluster node (docs/cluster.md)\n"
               "  cluster   start (up) or stop (down) the local nodes of a cluster file\n"
               "  keygen    make a cluster's CURVE key pair in a folder (docs/cluster.md)\n"
               "\n"
               "'sluice COMMAND --help' describes each command.\n");
}

static void usage_ctr(FILE *o)
{
    fprintf(o,
            "usage: sluice ctr [--input PATH|-] [--output PATH|-] [--format ndjson|csv]\n"
            "                  [--device NAME] [--prior A,B] [--strict] [options]\n"
            "\n"
            "Counts impressions (event_type view or impression) and clicks per ad id and writes\n"
            "CSV 'ad_id,impressions,clicks,ctr' sorted by ad id (byte order). ctr is\n"
            "clicks/impressions (0 without impressions), or (clicks+A)/(impressions+A+B) with\n"
            "--prior A,B. Without --input it runs the built-in generator and prints the top ads.\n"
            "\n"
            "  -i, --input PATH       events file, '-' for stdin (default: built-in generator)\n"
            "  -o, --output PATH      CSV output, '-' for stdout (default: stdout with --input,\n"
            "                         else a top-ads table only)\n"
            "  -f, --format FMT       ndjson (default) or csv\n"
            "  -d, --device NAME      OpenCL platform/device name substring (or SLUICE_DEVICE)\n"
            "      --prior A,B        smooth CTR with a Beta(A, B) prior (A, B > 0)\n"
            "      --strict           stop at the first malformed line, exit status 2\n"
            "      --capacity N       most distinct ads the device table holds (default 1048576)\n"
            "      --batch N          events per device batch (default 262144)\n"
            "      --top N            rows in the top-ads table (default 10)\n"
            "      --min-impressions N  ads in the top table need this many (default 1000)\n"
            "      --progress         live progress line on stderr even when it is not a terminal\n"
            "  -q, --quiet            no progress line and no summary\n"
            "      --nodes N          run across N local node processes on loopback (the output\n"
            "                         is the same as in one process)\n"
            "      --cluster FILE     run on the running cluster of FILE (sluice cluster up)\n"
            "      --devices N|all    spread the ads over the first N devices --device selects\n"
            "                         (or all of them); the output is the same as on one\n"
            "generator (without --input):\n"
            "      --events N         events to generate (default 10000000)\n"
            "      --keys N           distinct ads (default 100000)\n"
            "      --skew S           Zipf exponent of ad popularity, 0 = uniform (default 1.0)\n"
            "      --click-rate P     mean per-ad click probability (default 0.1)\n"
            "      --seed N           generator seed (default 42)\n"
            "  -h, --help             this text\n");
}

static void usage_run(FILE *o)
{
    fprintf(o,
            "usage: sluice run CONFIG.yaml [--device NAME] [--output PATH|-] [--strict]\n"
            "                  [--cluster CLUSTER.yaml | --nodes N]\n"
            "\n"
            "Runs the topology in CONFIG.yaml (source, keyless filter, keyed PE, sink); see\n"
            "docs/config.md. An invalid file fails with FILE:LINE:COLUMN and what was expected.\n"
            "\n"
            "  -d, --device NAME   override the config's device\n"
            "  -o, --output PATH   override the config's sink path ('-' for stdout)\n"
            "      --strict        stop at the first malformed input line, exit status 2\n"
            "      --cluster FILE  run on the running cluster of FILE (sluice cluster up)\n"
            "      --nodes N       run on N local node processes started for this run\n"
            "      --devices N|all spread the keys over N devices (one-stage topologies)\n"
            "      --progress      live progress line on stderr even when not a terminal\n"
            "  -q, --quiet         no progress line and no summary\n"
            "  -h, --help          this text\n");
}

static void usage_kernel(FILE *o)
{
    fprintf(
        o, "usage: sluice kernel check FILE.cl [--deep] [--device NAME] [--window-ms N]\n"
           "       sluice kernel build FILE.cl -o FILE.bin [--device NAME] [--window-ms N]\n"
           "       sluice kernel run FILE [--binary] --input EVENTS|- [--format ndjson|csv]\n"
           "                         [--output PATH|-] [--window-ms N] [--lateness-ms N]\n"
           "                         [--capacity N] [--timeout-ms MS] [--device NAME]\n"
           "                         [--strict] [--quiet]\n"
           "\n"
           "A PE in OpenCL C includes sluice.h and declares its shape and columns (see\n"
           "docs/kernel-abi.md).\n"
           "  check  compiles FILE.cl for the device, reports compile errors (with lines in\n"
           "         FILE.cl) and ABI problems, and prints the PE's shape, state size and columns\n"
           "         --deep: then runs it on a small generated sample under Oclgrind and reports\n"
           "         out-of-bounds accesses, data races and uninitialized values with their line\n"
           "         (--timeout-ms MS bounds each batch there; default 60000: it is slow)\n"
           "  build  writes the device's program binary, loadable with pe.binary or --binary\n"
           "         (the path an FPGA's aocx/xclbin takes)\n"
           "  run    runs the PE over an events file and prints one CSV row per key, sorted\n"
           "         by ad id; --timeout-ms MS: a batch or an emission that takes longer fails\n"
           "         the run (default 10000, 0 = no limit; pe.timeout_ms in a topology)\n"
           "Exit status: 0 success, 1 a build, ABI or run failure, or problems found by --deep,\n"
           "2 a usage error, 3 --deep without Oclgrind installed (the normal check passed).\n");
}

static void usage_devices(FILE *o)
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

/* ---- argument parsing helpers ---- */

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
        fprintf(stderr, "%s: %s expects an integer in %" PRIu64 "..%" PRIu64 ", got \"%s\"\n",
                cli_prog, opt, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_double(const char *opt, const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || v > max) {
        fprintf(stderr, "%s: %s expects a number in %g..%g, got \"%s\"\n", cli_prog, opt, min, max,
                s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_prior(const char *s, double *a, double *b)
{
    char *end;
    errno = 0;
    *a = strtod(s, &end);
    if (errno == 0 && end != s && *end == ',') {
        const char *s2 = end + 1;
        *b = strtod(s2, &end);
        if (errno == 0 && end != s2 && *end == '\0' && *a > 0 && *b > 0 && isfinite(*a) &&
            isfinite(*b))
            return 0;
    }
    fprintf(stderr, "%s: --prior expects two positive numbers A,B (for example 1,10), got \"%s\"\n",
            cli_prog, s);
    return -1;
}

static int copy_str(char *dst, size_t len, const char *src, const char *what)
{
    if (strlen(src) >= len) {
        fprintf(stderr, "%s: %s is too long\n", cli_prog, what);
        return -1;
    }
    strcpy(dst, src);
    return 0;
}

enum {
    OPT_PRIOR = 256,
    OPT_STRICT,
    OPT_CAPACITY,
    OPT_BATCH,
    OPT_TOP,
    OPT_MIN_IMPR,
    OPT_EVENTS,
    OPT_KEYS,
    OPT_SKEW,
    OPT_CLICK,
    OPT_SEED,
    OPT_PROGRESS,
    OPT_WINDOW,
    OPT_LATENESS,
    OPT_BINARY,
    OPT_NODES,
    OPT_CLUSTER,
    OPT_DEVICES,
    OPT_TIMEOUT,
    OPT_DEEP,
};

static int cmd_ctr(int argc, char **argv)
{
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"device", required_argument, NULL, 'd'},
        {"prior", required_argument, NULL, OPT_PRIOR},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"capacity", required_argument, NULL, OPT_CAPACITY},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"top", required_argument, NULL, OPT_TOP},
        {"min-impressions", required_argument, NULL, OPT_MIN_IMPR},
        {"events", required_argument, NULL, OPT_EVENTS},
        {"keys", required_argument, NULL, OPT_KEYS},
        {"skew", required_argument, NULL, OPT_SKEW},
        {"click-rate", required_argument, NULL, OPT_CLICK},
        {"seed", required_argument, NULL, OPT_SEED},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"nodes", required_argument, NULL, OPT_NODES},
        {"devices", required_argument, NULL, OPT_DEVICES},
        {"cluster", required_argument, NULL, OPT_CLUSTER},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli_target tg = {NULL, 0, 0};
    sl_topology t;
    sl_topology_defaults(&t);
    sl_pe_defaults(&t.pe, SL_PE_CTR);
    snprintf(t.pe.name, sizeof t.pe.name, "ctr");
    t.source.kind = SL_SRC_GENERATOR;
    struct report_ctx rc = {0};
    int have_input = 0, have_output = 0, force_progress = 0;
    uint64_t top = 10, min_impressions = 1000, v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:o:f:d:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (copy_str(t.source.path, sizeof t.source.path, optarg, "--input"))
                return 2;
            t.source.kind = strcmp(optarg, "-") == 0 ? SL_SRC_STDIN : SL_SRC_FILE;
            have_input = 1;
            break;
        case 'o':
            if (copy_str(t.sink.path, sizeof t.sink.path, optarg, "--output"))
                return 2;
            have_output = 1;
            break;
        case 'f':
            if (sl_format_parse(optarg, &t.source.format)) {
                fprintf(stderr, "%s: --format expects ndjson or csv, got \"%s\"\n", cli_prog,
                        optarg);
                return 2;
            }
            break;
        case 'd':
            if (copy_str(t.device, sizeof t.device, optarg, "--device"))
                return 2;
            break;
        case OPT_PRIOR:
            if (parse_prior(optarg, &t.pe.prior_a, &t.pe.prior_b))
                return 2;
            t.pe.has_prior = 1;
            break;
        case OPT_STRICT:
            rc.strict = 1;
            break;
        case OPT_CAPACITY:
            if (parse_u64("--capacity", optarg, 1, UINT64_C(1) << 31, &t.pe.capacity))
                return 2;
            break;
        case OPT_BATCH:
            if (parse_u64("--batch", optarg, 1, UINT64_C(1) << 26, &v))
                return 2;
            t.batch_events = (uint32_t)v;
            break;
        case OPT_TOP:
            if (parse_u64("--top", optarg, 1, 1000000, &top))
                return 2;
            break;
        case OPT_MIN_IMPR:
            if (parse_u64("--min-impressions", optarg, 0, UINT64_MAX, &min_impressions))
                return 2;
            break;
        case OPT_EVENTS:
            if (parse_u64("--events", optarg, 0, UINT64_MAX, &t.source.gen.events))
                return 2;
            break;
        case OPT_KEYS:
            if (parse_u64("--keys", optarg, 1, UINT32_MAX, &v))
                return 2;
            t.source.gen.keys = (uint32_t)v;
            break;
        case OPT_SKEW:
            if (parse_double("--skew", optarg, 0, 10, &t.source.gen.skew))
                return 2;
            break;
        case OPT_CLICK:
            if (parse_double("--click-rate", optarg, 0, 1, &t.source.gen.click_rate))
                return 2;
            break;
        case OPT_SEED:
            if (parse_u64("--seed", optarg, 0, UINT64_MAX, &t.source.gen.seed))
                return 2;
            break;
        case OPT_NODES:
            if (parse_u64("--nodes", optarg, 1, SL_NODES_MAX, &v))
                return 2;
            tg.nodes = (uint32_t)v;
            break;
        case OPT_CLUSTER:
            tg.cluster_file = optarg;
            break;
        case OPT_DEVICES:
            if (strcmp(optarg, "all") == 0)
                tg.devices = SL_DEVICES_ALL;
            else if (parse_u64("--devices", optarg, 1, SL_MULTI_MAX, &v))
                return 2;
            else
                tg.devices = (uint32_t)v;
            break;
        case OPT_PROGRESS:
            force_progress = 1;
            break;
        case 'q':
            rc.quiet = 1;
            break;
        case 'h':
            usage_ctr(stdout);
            return 0;
        default:
            usage_ctr(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s ctr: unexpected argument \"%s\"\n", cli_prog, argv[optind]);
        usage_ctr(stderr);
        return 2;
    }
    if (have_input && !have_output)
        snprintf(t.sink.path, sizeof t.sink.path, "-");
    rc.progress = force_progress && !rc.quiet;
    /* The demo (generator, no --output) shows a top-ads table instead of 100k CSV rows. */
    int show_top = !have_input && !have_output;
    if (tg.nodes && tg.cluster_file) {
        fprintf(stderr, "%s ctr: --nodes and --cluster exclude each other\n", cli_prog);
        return 2;
    }
    if (tg.devices && (tg.nodes || tg.cluster_file)) {
        fprintf(stderr,
                "%s ctr: --devices runs in one process; cluster nodes use one device each\n",
                cli_prog);
        return 2;
    }
    return cli_execute(&t, &rc, show_top ? top : 0, min_impressions, &tg);
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"device", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"nodes", required_argument, NULL, OPT_NODES},
        {"devices", required_argument, NULL, OPT_DEVICES},
        {"cluster", required_argument, NULL, OPT_CLUSTER},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli_target tg = {NULL, 0, 0};
    uint64_t v;
    const char *device = NULL, *output = NULL;
    struct report_ctx rc = {0};
    int force_progress = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            device = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_STRICT:
            rc.strict = 1;
            break;
        case OPT_NODES:
            if (parse_u64("--nodes", optarg, 1, SL_NODES_MAX, &v))
                return 2;
            tg.nodes = (uint32_t)v;
            break;
        case OPT_CLUSTER:
            tg.cluster_file = optarg;
            break;
        case OPT_DEVICES:
            if (strcmp(optarg, "all") == 0)
                tg.devices = SL_DEVICES_ALL;
            else if (parse_u64("--devices", optarg, 1, SL_MULTI_MAX, &v))
                return 2;
            else
                tg.devices = (uint32_t)v;
            break;
        case OPT_PROGRESS:
            force_progress = 1;
            break;
        case 'q':
            rc.quiet = 1;
            break;
        case 'h':
            usage_run(stdout);
            return 0;
        default:
            usage_run(stderr);
            return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "%s run: expected one CONFIG.yaml argument\n", cli_prog);
        usage_run(stderr);
        return 2;
    }
    sl_topology t;
    char err[2048];
    int rcode = sl_config_load(argv[optind], &t, err, sizeof err);
    if (rcode) {
        fprintf(stderr, "%s: %s\n", cli_prog, err);
        return 2;
    }
    if (device && copy_str(t.device, sizeof t.device, device, "--device"))
        return 2;
    if (output && copy_str(t.sink.path, sizeof t.sink.path, output, "--output"))
        return 2;
    rc.progress = force_progress && !rc.quiet;
    if (tg.nodes && tg.cluster_file) {
        fprintf(stderr, "%s run: --nodes and --cluster exclude each other\n", cli_prog);
        return 2;
    }
    if (tg.devices && (tg.nodes || tg.cluster_file)) {
        fprintf(stderr,
                "%s run: --devices runs in one process; cluster nodes use one device each\n",
                cli_prog);
        return 2;
    }
    return cli_execute(&t, &rc, 0, 0, &tg);
}

/* Opens the device and an engine for the user PE in `pe` (a small table: for check and build).
 * Prints the failure and returns 1, or 0 with *dev and *eng set. */
static int open_user_pe(const char *device, const sl_pe_cfg *pe, sl_device **dev, sl_engine **eng)
{
    char msg[16384];
    int rc = sl_device_open(device, dev, msg, sizeof msg);
    if (rc == 0) {
        sl_engine_cfg cfg = {.pe = *pe, .batch_events = 1024};
        rc = sl_engine_new(*dev, &cfg, NULL, NULL, eng, msg, sizeof msg);
    }
    if (rc) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        sl_device_close(dev);
        return 1;
    }
    return 0;
}

static void print_pe_summary(const char *file, const sl_device *dev, const sl_engine *eng)
{
    const sl_device_info *in = sl_device_get_info(dev);
    const sl_columns *c = sl_engine_columns(eng);
    static const char *const fmt_names[] = {"g", "int", "f", "key"};
    printf("%s: OK for %s / %s\n", file, in->platform, in->name);
    printf("  shape:   %s\n", sl_engine_sequential(eng)
                                  ? "sequential (sl_process, in arrival order per key)"
                                  : "reduce (sl_add, sl_merge)");
    printf("  state:   %zu bytes per key\n", sl_engine_state_size(eng));
    printf("  columns: ad_id%s", sl_engine_windowed(eng) ? ", window_start" : "");
    for (int i = 0; i < c->n; i++) {
        printf(", %s (%s", c->name[i], fmt_names[c->fmt[i]]);
        if (c->fmt[i] == SL_COLFMT_FIXED)
            printf("%d", c->decimals[i]);
        printf(")");
    }
    printf("\n");
}

/* kernel check --deep, after the normal check passed: the PE under Oclgrind. Returns the exit
 * status: 0 clean, 1 problems (or the run failed), 3 Oclgrind is not installed. */
static int deep_check(const char *file, const sl_pe_cfg *pe, int timeout_set)
{
    char self[4096], msg[4096];
    ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
    if (l <= 0) {
        fprintf(stderr, "%s: cannot find the sluice executable: %s\n", cli_prog, strerror(errno));
        return 1;
    }
    self[l] = '\0';
    /* the simulator is slow: a minute per batch unless --timeout-ms says otherwise */
    sl_deep_opts o = {.self = self,
                      .source = file,
                      .window_ms = pe->window_ms,
                      .lateness_ms = pe->lateness_ms,
                      .timeout_ms = timeout_set ? pe->timeout_ms : 60000};
    sl_deep_report rep;
    printf("%s: running it under Oclgrind (out-of-bounds accesses, data races, uninitialized "
           "values)...\n",
           file);
    fflush(stdout);
    int rc = sl_deep_check(&o, stdout, &rep, msg, sizeof msg);
    fflush(stdout);
    if (rc == SL_EUNSUPPORTED) {
        fprintf(stderr, "%s: %s; the deep check did not run\n", cli_prog, msg);
        return 3;
    }
    if (rc) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return 1;
    }
    return rep.findings ? 1 : 0;
}

static int cmd_kernel(int argc, char **argv)
{
    static const struct option opts[] = {
        {"device", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"input", required_argument, NULL, 'i'},
        {"format", required_argument, NULL, 'f'},
        {"window-ms", required_argument, NULL, OPT_WINDOW},
        {"lateness-ms", required_argument, NULL, OPT_LATENESS},
        {"capacity", required_argument, NULL, OPT_CAPACITY},
        {"binary", no_argument, NULL, OPT_BINARY},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
        {"deep", no_argument, NULL, OPT_DEEP},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage_kernel(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "check") != 0 && strcmp(sub, "build") != 0 && strcmp(sub, "run") != 0) {
        fprintf(stderr, "%s kernel: unknown subcommand \"%s\"\n", cli_prog, sub);
        usage_kernel(stderr);
        return 2;
    }
    sl_topology t;
    sl_topology_defaults(&t);
    sl_pe_defaults(&t.pe, SL_PE_USER);
    t.pe.capacity = 1u << 20;
    const char *output = NULL, *input = NULL;
    struct report_ctx rc = {0};
    int binary = 0, force_progress = 0, deep = 0, timeout_set = 0, c;
    uint64_t v;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "d:o:i:f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (copy_str(t.device, sizeof t.device, optarg, "--device"))
                return 2;
            break;
        case 'o':
            output = optarg;
            break;
        case 'i':
            input = optarg;
            break;
        case 'f':
            if (sl_format_parse(optarg, &t.source.format)) {
                fprintf(stderr, "%s: --format expects ndjson or csv, got \"%s\"\n", cli_prog,
                        optarg);
                return 2;
            }
            break;
        case OPT_WINDOW:
            if (parse_u64("--window-ms", optarg, 1, INT64_MAX, &v))
                return 2;
            t.pe.window_ms = (int64_t)v;
            break;
        case OPT_LATENESS:
            if (parse_u64("--lateness-ms", optarg, 0, INT64_MAX, &v))
                return 2;
            t.pe.lateness_ms = (int64_t)v;
            break;
        case OPT_CAPACITY:
            if (parse_u64("--capacity", optarg, 1, UINT64_C(1) << 31, &t.pe.capacity))
                return 2;
            break;
        case OPT_BINARY:
            binary = 1;
            break;
        case OPT_STRICT:
            rc.strict = 1;
            break;
        case OPT_PROGRESS:
            force_progress = 1;
            break;
        case OPT_TIMEOUT:
            if (parse_u64("--timeout-ms", optarg, 0, UINT32_MAX, &v))
                return 2;
            t.pe.timeout_ms = (uint32_t)v;
            timeout_set = 1;
            break;
        case OPT_DEEP:
            deep = 1;
            break;
        case 'q':
            rc.quiet = 1;
            break;
        case 'h':
            usage_kernel(stdout);
            return 0;
        default:
            usage_kernel(stderr);
            return 2;
        }
    }
    if (argc - 1 - optind != 1) {
        fprintf(stderr, "%s kernel %s: expected one FILE argument\n", cli_prog, sub);
        usage_kernel(stderr);
        return 2;
    }
    const char *file = argv[1 + optind];
    char *dst = binary ? t.pe.binary : t.pe.source;
    if (copy_str(dst, sizeof t.pe.source, file, "FILE"))
        return 2;
    const char *base = strrchr(file, '/');
    snprintf(t.pe.name, sizeof t.pe.name, "%s", base ? base + 1 : file);

    if (deep && strcmp(sub, "check") != 0) {
        fprintf(stderr, "%s kernel %s: --deep belongs to kernel check\n", cli_prog, sub);
        return 2;
    }
    if (strcmp(sub, "run") == 0) {
        if (!input) {
            fprintf(stderr, "%s kernel run: --input EVENTS (or - for stdin) is required\n",
                    cli_prog);
            return 2;
        }
        if (copy_str(t.source.path, sizeof t.source.path, input, "--input") ||
            copy_str(t.sink.path, sizeof t.sink.path, output ? output : "-", "--output"))
            return 2;
        t.source.kind = strcmp(input, "-") == 0 ? SL_SRC_STDIN : SL_SRC_FILE;
        rc.progress = force_progress && !rc.quiet;
        return cli_execute(&t, &rc, 0, 0, NULL);
    }
    if (binary) {
        fprintf(stderr, "%s kernel %s: takes an OpenCL C source, not --binary\n", cli_prog, sub);
        return 2;
    }
    if (strcmp(sub, "build") == 0 && !output) {
        fprintf(stderr, "%s kernel build: -o FILE.bin is required\n", cli_prog);
        return 2;
    }
    t.pe.capacity = 1024;
    sl_device *dev = NULL;
    sl_engine *eng = NULL;
    if (open_user_pe(t.device, &t.pe, &dev, &eng))
        return 1;
    int status = 0;
    if (strcmp(sub, "check") == 0) {
        print_pe_summary(file, dev, eng);
        if (deep) {
            fflush(stdout);
            sl_engine_destroy(&eng);
            sl_device_close(&dev);
            return deep_check(file, &t.pe, timeout_set);
        }
    } else {
        unsigned char *bin = NULL;
        size_t len = 0;
        int err = sl_engine_program_binary(eng, &bin, &len);
        FILE *f = err ? NULL : fopen(output, "wb");
        if (err || !f || fwrite(bin, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "%s: writing the program binary to %s failed: %s\n", cli_prog, output,
                    err ? sl_strerror(err) : strerror(errno));
            status = 1;
        } else {
            printf("%s: wrote %zu bytes for %s\n", output, len, sl_device_get_info(dev)->name);
        }
        free(bin);
    }
    sl_engine_destroy(&eng);
    sl_device_close(&dev);
    return status;
}

static int cmd_devices(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage_devices(stdout);
            return 0;
        }
        usage_devices(stderr);
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

static void usage_node(FILE *o)
{
    fprintf(o, "usage: sluice node --config CLUSTER.yaml --id N [--quiet]\n"
               "                   [--exit-with-parent [--cleanup-dir DIR]]\n"
               "\n"
               "Runs node N of the cluster file until SIGINT or SIGTERM (a job in progress is\n"
               "finished first; a second signal aborts it). With --exit-with-parent (as nodes\n"
               "started by --nodes run) the node aborts its job and exits as soon as the process\n"
               "that started it is gone, removing DIR. See docs/cluster.md.\n");
}

static int cmd_node(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"id", required_argument, NULL, 'n'},
        {"quiet", no_argument, NULL, 'q'},
        {"exit-with-parent", no_argument, NULL, 'P'},
        {"cleanup-dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *cleanup = NULL;
    uint64_t id = UINT64_MAX;
    int quiet = 0, with_parent = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:n:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'P':
            with_parent = 1;
            break;
        case 'D':
            cleanup = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'n':
            if (parse_u64("--id", optarg, 0, SL_NODES_MAX - 1, &id))
                return 2;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage_node(stdout);
            return 0;
        default:
            usage_node(stderr);
            return 2;
        }
    }
    if (!config || id == UINT64_MAX || optind < argc) {
        usage_node(stderr);
        return 2;
    }
    static sl_cluster_cfg cl;
    char msg[4096];
    if (sl_cluster_load(config, &cl, msg, sizeof msg)) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return 2;
    }
    /* SIGINT and SIGTERM are blocked in every thread (PoCL's included: they inherit the mask)
     * and read from a signalfd by the node's poll loop: never delivered inside the OpenCL
     * compiler, whose LLVM signal handlers would otherwise take them mid-build. */
    int sfd = cli_stop_signal_fd();
    if (sfd < 0) {
        fprintf(stderr, "%s node %u: cannot set up signal handling: %s\n", cli_prog, (unsigned)id,
                strerror(errno));
        return 1;
    }
    sl_node_opts no = {.cl = &cl,
                       .id = (uint32_t)id,
                       .stop = &cli_stop_requested,
                       .sig_fd = sfd,
                       .quiet = quiet,
                       .exit_with_parent = with_parent,
                       .cleanup_dir = cleanup};
    int rc = sl_node_run(&no, msg, sizeof msg);
    close(sfd);
    if (rc) {
        fprintf(stderr, "%s node %u: %s\n", cli_prog, (unsigned)id, msg);
        return rc == SL_ECONFLICT ? SL_NODE_EXIT_CONFLICT : 1;
    }
    return 0;
}

static void usage_cluster(FILE *o)
{
    fprintf(o, "usage: sluice cluster up CLUSTER.yaml [--quiet]\n"
               "       sluice cluster down CLUSTER.yaml\n"
               "\n"
               "up    starts a node process for every node of CLUSTER.yaml on this machine (its\n"
               "      children), waits until every node of the file answers, restarts a node\n"
               "      that dies, and runs until Ctrl-C, SIGTERM or 'sluice cluster down'; then\n"
               "      stops the nodes cleanly (each finishes its job and delivers what it\n"
               "      queued). Its pid is kept in CLUSTER.yaml.pid.\n"
               "down  stops the 'cluster up' of CLUSTER.yaml and waits until it has exited.\n"
               "Jobs go to a running cluster with 'sluice run CONFIG --cluster CLUSTER.yaml' or\n"
               "'sluice ctr --cluster CLUSTER.yaml'.\n");
}

/* The pid in a `cluster up` pid file: > 0, 0 when the file has none, -1 (errno) when it cannot
 * be read. */
static long read_pidfile(const char *path)
{
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (!f)
        return -1;
    if (fscanf(f, "%ld", &pid) != 1 || pid <= 0)
        pid = 0;
    fclose(f);
    return pid;
}

/* 1 when process `pid` exists and has not exited: a zombie (exited, not yet reaped by its
 * parent) counts as gone. */
static int process_alive(long pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')'); /* "pid (comm) S ...": comm may hold spaces */
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

/* Removes the pid file only if it still names this process. */
static void remove_own_pidfile(const char *path)
{
    if (read_pidfile(path) == (long)getpid())
        unlink(path);
}

static int cmd_cluster(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage_cluster(stdout);
        return 0;
    }
    int quiet = argc == 4 && strcmp(argv[3], "--quiet") == 0;
    if ((argc != 3 && !quiet) || (strcmp(argv[1], "up") != 0 && strcmp(argv[1], "down") != 0)) {
        usage_cluster(stderr);
        return 2;
    }
    const char *file = argv[2];
    char pidfile[4200], msg[4096];
    snprintf(pidfile, sizeof pidfile, "%s.pid", file);
    if (strcmp(argv[1], "down") == 0) {
        long pid = read_pidfile(pidfile);
        if (pid <= 0) {
            fprintf(stderr, "%s: no running cluster for %s (%s: %s)\n", cli_prog, file, pidfile,
                    pid == 0 ? "no pid in it" : strerror(errno));
            return 1;
        }
        if (!process_alive(pid) || kill((pid_t)pid, SIGTERM) != 0) {
            fprintf(stderr, "%s: cluster process %ld is not running (removing the stale %s)\n",
                    cli_prog, pid, pidfile);
            unlink(pidfile);
            return 1;
        }
        for (int i = 0; i < 6000 && process_alive(pid); i++)
            usleep(10000);
        if (process_alive(pid)) {
            fprintf(stderr, "%s: cluster process %ld still running after 60 s\n", cli_prog, pid);
            return 1;
        }
        fprintf(stderr, "%s: cluster of %s is down\n", cli_prog, file);
        return 0;
    }
    static sl_cluster_cfg cl;
    if (sl_cluster_load(file, &cl, msg, sizeof msg)) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return 2;
    }
    char exe[4096];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l <= 0) {
        fprintf(stderr, "%s: cannot find the sluice executable: %s\n", cli_prog, strerror(errno));
        return 1;
    }
    exe[l] = '\0';
    /* A second `cluster up` of a file whose cluster runs is refused before it starts anything;
     * a pid file left by a process that is gone is replaced. The pid file is written (O_EXCL,
     * so two racing starts cannot both own it) once every node answers: its presence means up. */
    long other = read_pidfile(pidfile);
    if (other > 0 && process_alive(other)) {
        fprintf(stderr,
                "%s: the cluster of %s is already up (pid %ld, in %s); 'sluice cluster down %s' "
                "stops it\n",
                cli_prog, file, other, pidfile, file);
        return 1;
    }
    if (other >= 0)
        unlink(pidfile); /* stale */
    cli_catch_stop_signals();
    sl_launch *launch = NULL;
    int rc = sl_launch_start(exe, file, &cl, quiet, NULL, &launch, msg, sizeof msg);
    if (rc == 0)
        rc = sl_launch_wait_ready(launch, &cl, 60000, msg, sizeof msg);
    if (rc) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        sl_launch_stop(&launch, 30000, msg, sizeof msg);
        return 1;
    }
    char pidtext[32];
    int pl = snprintf(pidtext, sizeof pidtext, "%ld\n", (long)getpid());
    int pfd = open(pidfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (pfd < 0 || write(pfd, pidtext, (size_t)pl) != pl || close(pfd) != 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", cli_prog, pidfile, strerror(errno));
        if (pfd >= 0)
            unlink(pidfile);
        sl_launch_stop(&launch, 30000, msg, sizeof msg);
        return 1;
    }
    fprintf(stderr, "%s: cluster up: %u local node process%s, all %u node%s answering\n", cli_prog,
            sl_launch_count(launch), sl_launch_count(launch) == 1 ? "" : "es", cl.nnodes,
            cl.nnodes == 1 ? "" : "s");
    int status = 0;
    /* A node that dies is started again; the others keep running (and fail, or with fault
     * tolerance recover, the jobs it took part in). A node that keeps dying is restarted at most
     * once a second. */
    while (!cli_stop_requested) {
        if (sl_launch_alive(launch, msg, sizeof msg)) {
            fprintf(stderr, "%s: %s\n", cli_prog, msg);
            if (sl_launch_restart_dead(launch, msg, sizeof msg) > 0)
                fprintf(stderr, "%s: %s\n", cli_prog, msg);
            usleep(1000000);
            continue;
        }
        usleep(100000);
    }
    rc = sl_launch_stop(&launch, 30000, msg, sizeof msg);
    remove_own_pidfile(pidfile);
    if (rc) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return 1;
    }
    fprintf(stderr, "%s: cluster down, every node stopped cleanly\n", cli_prog);
    return status;
}

static void usage_keygen(FILE *o)
{
    fprintf(o,
            "usage: sluice keygen DIR [--force]\n"
            "\n"
            "Makes a CURVE key pair for a cluster in DIR (created with mode 0700 when missing):\n"
            "DIR/cluster.key (mode 0600) and DIR/cluster.pub. Name DIR in the cluster file as\n"
            "'curve: {keys: DIR}': every node and client then encrypts its traffic and admits\n"
            "only peers holding this key. Existing keys are kept unless --force.\n");
}

static int cmd_keygen(int argc, char **argv)
{
    const char *dir = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage_keygen(stdout);
            return 0;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = 1;
        } else if (argv[i][0] == '-' || dir) {
            fprintf(stderr, "%s keygen: unexpected argument \"%s\" (see sluice keygen --help)\n",
                    cli_prog, argv[i]);
            return 2;
        } else {
            dir = argv[i];
        }
    }
    if (!dir) {
        usage_keygen(stderr);
        return 2;
    }
    char msg[4600];
    if (sl_keys_generate(dir, force, msg, sizeof msg)) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return 1;
    }
    fprintf(stderr, "%s: wrote %s/cluster.key (keep it secret) and %s/cluster.pub\n", cli_prog, dir,
            dir);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage_main(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("sluice %s\n", SLUICE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage_main(stdout);
        return 0;
    }
    /* A kernel that writes out of bounds kills the process in a driver thread: say which */
    cli_install_crash_report();
    if (strcmp(cmd, "ctr") == 0)
        return cmd_ctr(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "devices") == 0)
        return cmd_devices(argc - 1, argv + 1);
    if (strcmp(cmd, "kernel") == 0)
        return cmd_kernel(argc - 1, argv + 1);
    if (strcmp(cmd, "node") == 0)
        return cmd_node(argc - 1, argv + 1);
    if (strcmp(cmd, "cluster") == 0)
        return cmd_cluster(argc - 1, argv + 1);
    if (strcmp(cmd, "keygen") == 0)
        return cmd_keygen(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command \"%s\"\n\n", cli_prog, cmd);
    usage_main(stderr);
    return 2;
}
