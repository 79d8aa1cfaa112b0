/* sluice kernel check|build|run: a PE written in OpenCL C (docs/kernel-abi.md). check compiles it
 * and prints its shape (with --deep, runs it under Oclgrind too), build writes the device's
 * program binary, run runs it over events with the options of ctr and run (opts.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "deepcheck.h"
#include "device.h"
#include "engine.h"
#include "err.h"
#include "execute.h"
#include "opts.h"
#include "outfile.h"
#include "proc.h"

void usage_kernel(FILE *o)
{
    fprintf(
        o, "usage: sluice kernel check FILE.cl [--deep] [--device NAME] [--window-ms N]\n"
           "                         [--param NAME=NUMBER]... [--attr NAME:TYPE]...\n"
           "       sluice kernel build FILE.cl -o FILE.bin [--device NAME] [--window-ms N]\n"
           "       sluice kernel run FILE [--binary] --input EVENTS|- [--format ndjson|csv]\n"
           "                         [--output PATH|-] [--window-ms N] [--lateness-ms N]\n"
           "                         [--capacity N] [--timeout-ms MS] [--device NAME]\n"
           "                         [--strict] [--max-malformed SHARE] [--decimals N]\n"
           "                         [--quiet]\n"
           "\n"
           "A PE in OpenCL C includes sluice.h and declares its shape and columns (see\n"
           "docs/kernel-abi.md).\n"
           "  check  compiles FILE.cl for the device, reports compile errors (with lines in\n"
           "         FILE.cl) and ABI problems, and prints the PE's shape, state size and columns\n"
           "         --deep: then runs it on a small generated sample under Oclgrind and reports\n"
           "         out-of-bounds accesses, data races and uninitialized values with their line\n"
           "         (--timeout-ms MS bounds each batch there; default 60000: it is slow)\n"
           "         --param NAME=NUMBER: a compile-time constant NAME (upper-cased), as a\n"
           "         topology's pe.params gives it (check, build and run)\n"
           "         --attr NAME:TYPE: a member of sl_record after `user`, as a topology's\n"
           "         schema.attributes gives it (TYPE double, int64, bool or time; check,\n"
           "         --deep, whose sample carries zeros in them, and build)\n"
           "  build  writes the device's program binary, loadable with pe.binary or --binary\n"
           "         (the path an FPGA's aocx/xclbin takes)\n"
           "  run    runs the PE over an events file and prints one CSV row per key, sorted\n"
           "         by ad id; --timeout-ms MS: a batch or an emission that takes longer fails\n"
           "         the run (default 10000, 0 = no limit; pe.timeout_ms in a topology);\n"
           "         --max-malformed SHARE and --decimals N as for sluice run\n"
           "Exit status: 0 success, 1 a build, ABI or run failure, or problems found by --deep,\n"
           "2 a usage error, 3 --deep without Oclgrind installed (the normal check passed), 4\n"
           "run: too many malformed lines (--max-malformed).\n");
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

/* kernel check: what the compiled PE is (device, shape, state size, columns), on stdout. */
static void print_pe_summary(const char *file, const sl_pe_cfg *pe, const sl_device *dev,
                             const sl_engine *eng)
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
    printf("  record:  key, time_ms, value, type, user");
    for (uint32_t k = 0; k < pe->nattrs; k++)
        printf(", %s (%s)", pe->attr[k].name, pe->attr[k].is_double ? "double" : "long");
    printf(" (%zu bytes)\n", sizeof(sl_rec) + 8u * pe->nattrs);
    if (pe->nparams) {
        printf("  params: ");
        for (uint32_t i = 0; i < pe->nparams; i++) {
            char d[SL_SCHEMA_NAME + SL_SCHEMA_TEXT + 8];
            sl_pe_param_define(&pe->param[i], d, sizeof d);
            printf("%s%s", i ? " " : "", d + 2); /* NAME=VALUE, without -D */
        }
        printf("\n");
    }
}

/* kernel check --deep, after the normal check passed: the PE under Oclgrind. Returns the exit
 * status: 0 clean, 1 problems (or the run failed), 3 Oclgrind is not installed. */
static int deep_check(const char *file, const sl_pe_cfg *pe, int timeout_set)
{
    char self[4096], msg[4096];
    if (cli_self_exe(self, sizeof self, msg, sizeof msg)) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        return 1;
    }
    /* the simulator is slow: a minute per batch unless --timeout-ms says otherwise */
    sl_deep_opts o = {.self = self,
                      .source = file,
                      .window_ms = pe->window_ms,
                      .lateness_ms = pe->lateness_ms,
                      .timeout_ms = timeout_set ? pe->timeout_ms : 60000,
                      .pe = pe};
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

/* kernel build: writes the program binary of the compiled PE to `output`. Returns the exit
 * status. */
static int write_binary(const char *output, const sl_device *dev, sl_engine *eng)
{
    unsigned char *bin = NULL;
    size_t len = 0;
    int status = 0;
    char msg[8400];
    int err = sl_engine_program_binary(eng, &bin, &len);
    if (!err && sl_outfile_make_folder(output, msg, sizeof msg)) {
        fprintf(stderr, "%s: %s\n", cli_prog, msg);
        free(bin);
        return 1;
    }
    FILE *f = err ? NULL : fopen(output, "wb");
    if (err || !f || fwrite(bin, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "%s: writing the program binary to %s failed: %s\n", cli_prog, output,
                err ? sl_strerror(err) : strerror(errno));
        status = 1;
    } else {
        printf("%s: wrote %zu bytes for %s\n", output, len, sl_device_get_info(dev)->name);
    }
    free(bin);
    return status;
}

/* kernel run: the PE in a topology from the options, over --input. Returns the exit status. */
static int kernel_run(sl_topology *t, const struct cli_args *a)
{
    if (!a->input) {
        fprintf(stderr, "%s kernel run: --input EVENTS (or - for stdin) is required\n", cli_prog);
        return 2;
    }
    if (cli_set_input(t, a->input) ||
        cli_copy(t->sink.path, sizeof t->sink.path, a->output ? a->output : "-", "--output") ||
        cli_apply_output(a, t))
        return 2;
    struct report_ctx rc = cli_report_ctx(a);
    return cli_execute(t, &rc, 0, 0, NULL);
}

int cmd_kernel(int argc, char **argv)
{
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
    struct cli_args a = {.t = &t}; /* --input and --output are the subcommand's */
    int st = cli_parse(argc - 1, argv + 1, CLI_KERNEL, "kernel", usage_kernel, &a);
    if (st != CLI_GO_ON)
        return st;
    if (argc - 1 - optind != 1) {
        fprintf(stderr, "%s kernel %s: expected one FILE argument\n", cli_prog, sub);
        usage_kernel(stderr);
        return 2;
    }
    const char *file = argv[1 + optind];
    char *dst = a.binary ? t.pe.binary : t.pe.source;
    if (cli_copy(dst, sizeof t.pe.source, file, "FILE"))
        return 2;
    const char *base = strrchr(file, '/');
    snprintf(t.pe.name, sizeof t.pe.name, "%s", base ? base + 1 : file);

    if (a.deep && strcmp(sub, "check") != 0) {
        fprintf(stderr, "%s kernel %s: --deep belongs to kernel check\n", cli_prog, sub);
        return 2;
    }
    if (strcmp(sub, "run") == 0)
        return kernel_run(&t, &a);
    if (a.binary) {
        fprintf(stderr, "%s kernel %s: takes an OpenCL C source, not --binary\n", cli_prog, sub);
        return 2;
    }
    if (strcmp(sub, "build") == 0 && !a.output) {
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
        print_pe_summary(file, &t.pe, dev, eng);
        if (a.deep) {
            fflush(stdout);
            sl_engine_destroy(&eng);
            sl_device_close(&dev);
            return deep_check(file, &t.pe, a.timeout_set);
        }
    } else {
        status = write_binary(a.output, dev, eng);
    }
    sl_engine_destroy(&eng);
    sl_device_close(&dev);
    return status;
}
