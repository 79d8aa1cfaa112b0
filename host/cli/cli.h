/* What every part of the sluice command line shares: the name its messages start with, and the
 * commands, each a handler and a usage text (one file per command family: cmd_*.c). main.c
 * lists them in its command table. Exit status of every command: 0 success, 1 runtime failure
 * (device, build, table full, I/O), 2 usage or configuration error, or a malformed line under
 * --strict; 3 kernel check --deep without Oclgrind; 4 a run with more malformed lines than
 * source.max_malformed (--max-malformed) allows (REPORT_TOO_MALFORMED, report.h). */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdio.h>

/* "sluice": the start of every message. */
extern const char cli_prog[];

/* A command's handler takes its own argv (argv[0] is the command's name) and returns the exit
 * status; its usage function writes its help to `o`. */
typedef int cli_handler(int argc, char **argv);
typedef void cli_usage(FILE *o);

/* cmd_ctr.c: the CTR job and topology files, one option table and one execute() */
cli_handler cmd_ctr, cmd_run;
cli_usage usage_ctr, usage_run;
/* cmd_kernel.c: PEs written in OpenCL C */
cli_handler cmd_kernel;
cli_usage usage_kernel;
/* cmd_devices.c: the OpenCL devices and their placement */
cli_handler cmd_devices;
cli_usage usage_devices;
/* cmd_cluster.c: a node, a cluster's local nodes (up, down) and its keys */
cli_handler cmd_node, cmd_cluster, cmd_keygen;
cli_usage usage_node, usage_cluster, usage_keygen;
/* cmd_job.c: jobs that live on a running cluster (submit, list, status, stop, cancel) */
cli_handler cmd_job;
cli_usage usage_job;

#endif
