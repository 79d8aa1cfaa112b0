/* sluice ctr (click-through rate per ad, from events or the generator) and sluice run (a
 * topology file): the same options (opts.c) and the same execute() (execute.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "execute.h"
#include "opts.h"

void usage_ctr(FILE *o)
{
    fprintf(o,
            "usage: sluice ctr [--input PATH|-] [--output PATH|-] [--format ndjson|csv|tsv]\n"
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
            "  -f, --format FMT       ndjson (default), csv or tsv (CSV with tabs)\n"
            "  -d, --device NAME      OpenCL platform/device name substring (or SLUICE_DEVICE)\n"
            "      --prior A,B        smooth CTR with a Beta(A, B) prior (A, B > 0)\n"
            "      --strict           stop at the first malformed line, exit status 2\n"
            "      --max-malformed SHARE  fail the run (exit status 4, no output file written)\n"
            "                         when more than SHARE (0..1, default 0.5) of the input's\n"
            "                         lines are malformed, or all of them are (blank lines\n"
            "                         and a CSV header do not count)\n"
            "      --decimals N       print the ctr column with N decimals (0..9; default: the\n"
            "                         shortest text that reads back as the exact value)\n"
            "      --capacity N       cap on distinct ads in the device table (default: none;\n"
            "                         the table grows as ads arrive, up to device memory)\n"
            "      --batch N          events per device batch (default 262144)\n"
            "      --threads N        threads parsing an NDJSON --input file (0: one per CPU,\n"
            "                         at most 8, the default; 1: one reader; docs/engine.md)\n"
            "      --top N            rows in the top-ads table (default 10)\n"
            "      --min-impressions N  ads in the top table need this many (default 1000)\n"
            "      --every-ms MS      emit every key's current result every MS ms of wall-clock\n"
            "                         time, whether or not input arrives (with --snapshots)\n"
            "      --every-events N   emit every key's current result every N events\n"
            "      --snapshots        write those emissions to the output, not only the final\n"
            "                         rows (each row starts with its emission; docs/output.md)\n"
            "      --max-wait-ms MS   longest an event waits in a partial batch (default 5)\n"
            "      --progress         live progress line on stderr even when it is not a terminal\n"
            "      --metrics HOST:PORT  serve Prometheus metrics at /metrics and the web UI at /\n"
            "                         while the run goes on (e.g. 127.0.0.1:9464; port 0: any)\n"
            "  -q, --quiet            no progress line and no summary\n"
            "      --nodes N          run across N local node processes on loopback (the output\n"
            "                         is the same as in one process)\n"
            "      --cluster FILE     run on the running cluster of FILE (sluice cluster up)\n"
            "      --job-id ID        with --cluster: the job's id on the nodes (1..16777215)\n"
            "      --ingest-on-nodes  with --nodes or --cluster: every node reads its own part of\n"
            "                         the --input file and routes each event to its key's node\n"
            "      --checkpoint-ms MS write a checkpoint every MS ms (state, ids, input offset;\n"
            "                         an --input file only; docs/fault-tolerance.md)\n"
            "      --checkpoint-dir D where checkpoints go (default ./checkpoints)\n"
            "      --from PATH        resume from a checkpoint file, or a directory's newest one\n"
            "                         (on a cluster: a savepoint or checkpoint directory)\n"
            "      --resume           on a cluster: go on from the newest complete checkpoint\n"
            "                         in --checkpoint-dir, if there is one\n"
            "      --devices N|all    spread the ads over the first N devices --device selects\n"
            "                         (or all of them); the output is the same as on one\n"
            "                         device\n"
            "generator (without --input):\n"
            "      --events N         events to generate (default 10000000)\n"
            "      --keys N           distinct ads (default 100000)\n"
            "      --skew S           Zipf exponent of ad popularity, 0 = uniform (default 1.0)\n"
            "      --click-rate P     mean per-ad click probability (default 0.1)\n"
            "      --seed N           generator seed (default 42)\n"
            "  -h, --help             this text\n"
            "\n"
            "Exit status: 0 success; 1 a runtime failure (device, build, table full, I/O); 2 a\n"
            "usage error, or a malformed line under --strict; 4 too many malformed lines\n"
            "(--max-malformed).\n");
}

void usage_run(FILE *o)
{
    fprintf(o,
            "usage: sluice run CONFIG.yaml [--device NAME] [--output PATH|-] [--strict]\n"
            "                  [--cluster CLUSTER.yaml | --nodes N]\n"
            "\n"
            "Runs the topology in CONFIG.yaml (source, keyless filter, keyed PE, sink); see\n"
            "docs/config.md. An invalid file fails with FILE:LINE:COLUMN and what was expected.\n"
            "SIGINT or SIGTERM stops reading input; what was read is processed, the final rows\n"
            "are written and the exit status is 0.\n"
            "\n"
            "  -d, --device NAME   override the config's device\n"
            "  -o, --output PATH   override the config's sink path ('-' for stdout)\n"
            "      --strict        stop at the first malformed input line, exit status 2\n"
            "      --max-malformed SHARE  fail the run (exit status 4, no output file written)\n"
            "                      when more than SHARE (0..1) of the input's lines are\n"
            "                      malformed, or all of them are (overrides\n"
            "                      source.max_malformed, default 0.5)\n"
            "      --decimals N    print every float column of the output with N decimals\n"
            "                      (0..9; overrides the last PE's format:)\n"
            "      --cluster FILE  run on the running cluster of FILE (sluice cluster up); Ctrl-C\n"
            "                      ends the input and writes the final rows, a second cancels\n"
            "      --job-id ID     with --cluster: the job's id on the nodes (1..16777215)\n"
            "      --nodes N       run on N local node processes started for this run\n"
            "      --ingest-on-nodes  with --nodes or --cluster: every node reads its part of the\n"
            "                      source (source.ingest: nodes, docs/cluster.md)\n"
            "      --checkpoint-ms MS  checkpoint every MS ms (overrides checkpoint.every_ms)\n"
            "      --checkpoint-dir D  where checkpoints go (overrides checkpoint.dir)\n"
            "      --from PATH     resume from a checkpoint file, or a directory's newest one\n"
            "                      (on a cluster: a savepoint or checkpoint directory)\n"
            "      --resume        on a cluster: go on from the newest complete checkpoint of\n"
            "                      checkpoint.dir, if there is one (a restarted job driver)\n"
            "      --devices N|all spread the keys over N devices (one-stage topologies)\n"
            "      --progress      live progress line on stderr even when not a terminal\n"
            "      --metrics HOST:PORT  serve Prometheus metrics at /metrics and the web UI at /\n"
            "                      while the run goes on (e.g. 127.0.0.1:9464; port 0: any)\n"
            "  -q, --quiet         no progress line and no summary\n"
            "  -h, --help          this text\n"
            "\n"
            "Exit status: 0 success; 1 a runtime failure (device, build, table full, I/O); 2 a\n"
            "usage or configuration error, or a malformed line under --strict; 4 too many\n"
            "malformed lines (--max-malformed, source.max_malformed).\n");
}

int cmd_ctr(int argc, char **argv)
{
    sl_topology t;
    sl_topology_defaults(&t);
    sl_pe_defaults(&t.pe, SL_PE_CTR);
    snprintf(t.pe.name, sizeof t.pe.name, "ctr");
    t.source.kind = SL_SRC_GENERATOR;
    struct cli_args a = {.t = &t, .set_io = 1, .top = 10, .min_impressions = 1000};
    int st = cli_parse(argc, argv, CLI_CTR, "ctr", usage_ctr, &a);
    if (st != CLI_GO_ON)
        return st;
    if (optind < argc) {
        fprintf(stderr, "%s ctr: unexpected argument \"%s\"\n", cli_prog, argv[optind]);
        usage_ctr(stderr);
        return 2;
    }
    if (a.input && !a.output)
        snprintf(t.sink.path, sizeof t.sink.path, "-");
    struct report_ctx rc = cli_report_ctx(&a);
    /* The demo (generator, no --output) shows a top-ads table instead of 100k CSV rows. */
    int show_top = !a.input && !a.output;
    if (cli_check_target("ctr", &a.tg))
        return 2;
    if (a.tg.ingest_nodes)
        t.source.ingest = SL_INGEST_NODES;
    if (cli_apply_checkpoint(&a, &t) || cli_apply_output(&a, &t))
        return 2;
    a.tg.job_name = "ctr";
    return cli_execute(&t, &rc, show_top ? a.top : 0, a.min_impressions, &a.tg);
}

int cmd_run(int argc, char **argv)
{
    struct cli_args a = {0}; /* no topology yet: --device and --output wait for the file */
    int st = cli_parse(argc, argv, CLI_RUN, "run", usage_run, &a);
    if (st != CLI_GO_ON)
        return st;
    if (argc - optind != 1) {
        fprintf(stderr, "%s run: expected one CONFIG.yaml argument\n", cli_prog);
        usage_run(stderr);
        return 2;
    }
    sl_topology t;
    char err[2048];
    if (sl_config_load(argv[optind], &t, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", cli_prog, err);
        return 2;
    }
    if (a.device && cli_copy(t.device, sizeof t.device, a.device, "--device"))
        return 2;
    if (a.output && cli_copy(t.sink.path, sizeof t.sink.path, a.output, "--output"))
        return 2;
    struct report_ctx rc = cli_report_ctx(&a);
    if (cli_check_target("run", &a.tg))
        return 2;
    if (a.tg.ingest_nodes)
        t.source.ingest = SL_INGEST_NODES;
    if (cli_apply_checkpoint(&a, &t) || cli_apply_output(&a, &t))
        return 2;
    /* the job's name in the metrics: the file's, without its folder and .yaml */
    char job[128];
    const char *base = strrchr(argv[optind], '/');
    snprintf(job, sizeof job, "%s", base ? base + 1 : argv[optind]);
    char *dot = strrchr(job, '.');
    if (dot && dot != job && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0))
        *dot = '\0';
    a.tg.job_name = job;
    return cli_execute(&t, &rc, 0, 0, &a.tg);
}
