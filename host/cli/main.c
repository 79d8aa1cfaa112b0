/* The sluice command line: the table of commands and the dispatch to them. Each command lives
 * in its family's file (cmd_*.c, declared in cli.h); exit statuses are listed there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "proc.h"

const char cli_prog[] = "sluice";

/* A command: its name, the line `sluice --help` says of it, what runs it, and its help. */
struct cli_command {
    const char *name;
    const char *summary;
    cli_handler *run;
    cli_usage *usage;
};

static const struct cli_command commands[] = {
    {"ctr", "click-through rate per ad from NDJSON/CSV events (or the generator)", cmd_ctr,
     usage_ctr},
    {"run", "run a topology from a YAML file", cmd_run, usage_run},
    {"devices", "list OpenCL platforms and devices", cmd_devices, usage_devices},
    {"kernel", "check, build or run a PE written in OpenCL C (docs/kernel-abi.md)", cmd_kernel,
     usage_kernel},
    {"node", "run one cluster node (docs/cluster.md)", cmd_node, usage_node},
    {"cluster", "start (up) or stop (down) the local nodes of a cluster file", cmd_cluster,
     usage_cluster},
    {"job", "submit, list, stop or cancel jobs that live on a running cluster", cmd_job, usage_job},
    {"keygen", "make a cluster's CURVE key pair in a folder (docs/cluster.md)", cmd_keygen,
     usage_keygen},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage_main(FILE *o)
{
    fprintf(o, "usage: sluice [--version] [--help] [--log-format text|logfmt|json] COMMAND [ARGS]\n"
               "\n"
               "A stream processor that runs keyed aggregation PEs as OpenCL kernels.\n"
               "\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(o, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(
        o,
        "\n'sluice help COMMAND' (or 'sluice COMMAND --help') describes each command.\n"
        "--log-format: the log lines on stderr as today's text, logfmt (ts=... level=...\n"
        "node=... cat=... msg=...) or one JSON object each; also SLUICE_LOG_FORMAT, which\n"
        "the nodes a run starts inherit. SLUICE_LOG=level[,category...] picks what is logged.\n");
}

/* The command called `name`, or NULL after saying on stderr that there is none. */
static const struct cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    fprintf(stderr, "%s: unknown %s \"%s\" (see 'sluice --help')\n", cli_prog,
            name[0] == '-' ? "option" : "command", name);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage_main(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--log-format") == 0 || strncmp(argv[1], "--log-format=", 13) == 0) {
        const char *v = argv[1][12] == '=' ? argv[1] + 13 : argc > 2 ? argv[2] : "";
        enum sl_log_format fmt;
        if (sl_log_format_parse(v, &fmt)) {
            fprintf(stderr, "%s: --log-format: expected text, logfmt or json, got \"%s\"\n",
                    cli_prog, v);
            return 2;
        }
        sl_log_set_format(fmt);
        setenv("SLUICE_LOG_FORMAT", v, 1); /* for the nodes this run starts */
        int used = argv[1][12] == '=' ? 1 : 2;
        argc -= used;
        argv += used;
        if (argc < 2) {
            usage_main(stderr);
            return 2;
        }
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("sluice %s\n", SLUICE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        /* sluice help: the commands; sluice help COMMAND: that command's help */
        const struct cli_command *c = argc > 2 ? find_command(argv[2]) : NULL;
        if (argc > 2 && !c)
            return 2;
        if (c)
            c->usage(stdout);
        else
            usage_main(stdout);
        return 0;
    }
    const struct cli_command *c = find_command(cmd);
    if (!c)
        return 2;
    /* A kernel that writes out of bounds kills the process in a driver thread: say which */
    cli_install_crash_report();
    return c->run(argc - 1, argv + 1);
}
