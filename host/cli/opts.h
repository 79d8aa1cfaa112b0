/* The options of the commands that run a PE over events (ctr, run, kernel): one table of every
 * such option, which commands take it and how it is applied, one parser over it, and the number
 * and string helpers every command's parsing uses. */
#ifndef SLUICE_CLI_OPTS_H
#define SLUICE_CLI_OPTS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "execute.h"
#include "topology.h"

/* The commands of the option table: an option lists those that take it. */
enum { CLI_CTR = 1, CLI_RUN = 2, CLI_KERNEL = 4 };

/* What cli_parse returns when the command goes on (no --help, no usage error). */
#define CLI_GO_ON (-1)

/* The options as parsed. Numbers and the settings of the PE, the source and the batch go into
 * t at once; so does --device when t is set, and --input and --output with set_io. */
struct cli_args {
    sl_topology *t; /* NULL: the topology comes after the options (run reads it from a file) */
    int set_io;     /* --input and --output go into t as they come (ctr) */
    const char *device, *input, *output; /* as given; NULL when absent */
    int strict, quiet, progress;         /* --strict, --quiet, --progress */
    const char *progress_file;           /* --progress-file (internal: a job's driver) */
    int binary, deep, timeout_set;       /* --binary, --deep, --timeout-ms */
    uint64_t top, min_impressions;       /* --top, --min-impressions */
    struct cli_target tg;                /* --nodes, --cluster, --devices */
    uint64_t checkpoint_ms;              /* --checkpoint-ms (0: as the topology says) */
    const char *checkpoint_dir;          /* --checkpoint-dir (NULL: as the topology says) */
    int max_malformed_set;               /* --max-malformed was given: */
    double max_malformed;                /*   its share, 0..1 */
    int decimals;                        /* --decimals N: N + 1; 0 when not given */
};

/* Applies --max-malformed (source.max_malformed) and --decimals (every float column of the
 * last PE printed with N decimals: "*:fN" after its pe.format) to t. Returns 0, or 2 after a
 * usage error (said). */
int cli_apply_output(const struct cli_args *a, sl_topology *t);

/* Applies --checkpoint-ms and --checkpoint-dir to t (a directory "checkpoints" when neither
 * they nor t name one). Returns 0, or 2 after a usage error (said). */
int cli_apply_checkpoint(const struct cli_args *a, sl_topology *t);

/* Parses the options of command `cmd` (CLI_CTR, CLI_RUN or CLI_KERNEL) from argv (argv[0] is
 * the command's name; the operands move to argv[optind..]) into *a. `name` (ctr, run, kernel)
 * names the command in messages; usage writes the command's help. Returns CLI_GO_ON, or the exit
 * status: 0 when --help wrote the help to stdout, 2 after a usage error (said on stderr). */
int cli_parse(int argc, char **argv, unsigned cmd, const char *name, cli_usage *usage,
              struct cli_args *a);

/* Says on stderr, in one line that points at `sluice NAME --help`, what is wrong with the
 * option getopt_long just refused with c ('?', or ':' for a missing argument: the option
 * string must start with ':'). */
void cli_option_error(const char *name, int c, char **argv, const struct option *lo);

/* How a run reports, from --strict, --quiet and --progress. Returns it. */
struct report_ctx cli_report_ctx(const struct cli_args *a);

/* Refuses what --nodes, --cluster and --devices cannot do together. Returns 0, or 2 (said). */
int cli_check_target(const char *name, const struct cli_target *tg);

/* Parses the integer s of option opt (for messages) within min..max into *out. Returns 0, or
 * -1 (said on stderr). */
int cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parses the number s of option opt within min..max into *out. Returns 0, or -1 (said). */
int cli_parse_double(const char *opt, const char *s, double min, double max, double *out);

/* Copies src into dst (len bytes). Returns 0, or -1 when it does not fit ("WHAT is too
 * long" said on stderr). */
int cli_copy(char *dst, size_t len, const char *src, const char *what);

/* Makes path ('-' for stdin) the topology's input. Returns 0, or -1 (too long: said). */
int cli_set_input(sl_topology *t, const char *path);

#endif
