/* The shared option table of ctr, run and kernel, its parser, and the parsing helpers of every
 * command (opts.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multidev.h"
#include "opts.h"
#include "pipeline.h"

/* The values of the options that have no short letter. */
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
    OPT_NODES,
    OPT_DEVICES,
    OPT_CLUSTER,
    OPT_JOB_ID,
    OPT_DRIVER_EPOCH,
    OPT_WINDOW,
    OPT_LATENESS,
    OPT_BINARY,
    OPT_TIMEOUT,
    OPT_DEEP,
    OPT_PARAM,
    OPT_ATTR,
    OPT_EVERY_MS,
    OPT_EVERY_EVENTS,
    OPT_SNAPSHOTS,
    OPT_MAX_WAIT,
    OPT_INGEST_NODES,
    OPT_PROGRESS_FILE,
    OPT_CHECKPOINT_MS,
    OPT_CHECKPOINT_DIR,
    OPT_FROM,
    OPT_RESUME,
    OPT_MAX_MALFORMED,
    OPT_DECIMALS,
    OPT_METRICS,
    OPT_THREADS,
};

/* One option: its getopt_long name, argument and value, and the commands that take it. An
 * integer option (max > 0) is parsed within min..max before apply_option gets it. */
struct cli_opt {
    const char *name;
    int has_arg;
    int val;
    unsigned cmds;
    uint64_t min, max;
};

#define ALL (CLI_CTR | CLI_RUN | CLI_KERNEL)
#define REQ required_argument
#define NO no_argument

/* Every option of ctr, run and kernel, in the order getopt_long lists the candidates of an
 * ambiguous abbreviation. Those that set the PE, the source or the batch need a topology: only
 * ctr and kernel take them. */
static const struct cli_opt cli_opts[] = {
    {"input", REQ, 'i', CLI_CTR | CLI_KERNEL, 0, 0},
    {"output", REQ, 'o', ALL, 0, 0},
    {"format", REQ, 'f', CLI_CTR | CLI_KERNEL, 0, 0},
    {"device", REQ, 'd', ALL, 0, 0},
    {"prior", REQ, OPT_PRIOR, CLI_CTR, 0, 0},
    {"strict", NO, OPT_STRICT, ALL, 0, 0},
    {"max-malformed", REQ, OPT_MAX_MALFORMED, ALL, 0, 0},
    {"decimals", REQ, OPT_DECIMALS, ALL, 0, 9},
    {"capacity", REQ, OPT_CAPACITY, CLI_CTR | CLI_KERNEL, 1, UINT64_C(1) << 31},
    {"batch", REQ, OPT_BATCH, CLI_CTR, 1, UINT64_C(1) << 26},
    {"top", REQ, OPT_TOP, CLI_CTR, 1, 1000000},
    {"min-impressions", REQ, OPT_MIN_IMPR, CLI_CTR, 0, UINT64_MAX},
    {"events", REQ, OPT_EVENTS, CLI_CTR, 0, UINT64_MAX},
    {"keys", REQ, OPT_KEYS, CLI_CTR, 1, UINT32_MAX},
    {"skew", REQ, OPT_SKEW, CLI_CTR, 0, 0},
    {"click-rate", REQ, OPT_CLICK, CLI_CTR, 0, 0},
    {"seed", REQ, OPT_SEED, CLI_CTR, 0, UINT64_MAX},
    {"threads", REQ, OPT_THREADS, CLI_CTR, 0, 64},
    {"progress", NO, OPT_PROGRESS, ALL, 0, 0},
    {"metrics", REQ, OPT_METRICS, CLI_CTR | CLI_RUN, 0, 0},
    /* internal, not in --help: the driver of a submitted job (host/cluster/registry.c) */
    {"progress-file", REQ, OPT_PROGRESS_FILE, CLI_RUN, 0, 0},
    {"driver-epoch", REQ, OPT_DRIVER_EPOCH, CLI_RUN, 1, UINT64_MAX},
    {"nodes", REQ, OPT_NODES, CLI_CTR | CLI_RUN, 1, SL_NODES_MAX},
    {"devices", REQ, OPT_DEVICES, CLI_CTR | CLI_RUN, 0, 0},
    {"cluster", REQ, OPT_CLUSTER, CLI_CTR | CLI_RUN, 0, 0},
    {"job-id", REQ, OPT_JOB_ID, CLI_CTR | CLI_RUN, 1, 0xffffff},
    {"ingest-on-nodes", NO, OPT_INGEST_NODES, CLI_CTR | CLI_RUN, 0, 0},
    {"checkpoint-ms", REQ, OPT_CHECKPOINT_MS, CLI_CTR | CLI_RUN, 1, 86400000},
    {"checkpoint-dir", REQ, OPT_CHECKPOINT_DIR, CLI_CTR | CLI_RUN, 0, 0},
    {"from", REQ, OPT_FROM, CLI_CTR | CLI_RUN, 0, 0},
    {"resume", NO, OPT_RESUME, CLI_CTR | CLI_RUN, 0, 0},
    {"every-ms", REQ, OPT_EVERY_MS, CLI_CTR, 1, UINT32_MAX},
    {"every-events", REQ, OPT_EVERY_EVENTS, CLI_CTR, 1, UINT64_MAX},
    {"snapshots", NO, OPT_SNAPSHOTS, CLI_CTR, 0, 0},
    {"max-wait-ms", REQ, OPT_MAX_WAIT, CLI_CTR, 0, 60000},
    {"window-ms", REQ, OPT_WINDOW, CLI_KERNEL, 1, INT64_MAX},
    {"lateness-ms", REQ, OPT_LATENESS, CLI_KERNEL, 0, INT64_MAX},
    {"binary", NO, OPT_BINARY, CLI_KERNEL, 0, 0},
    {"timeout-ms", REQ, OPT_TIMEOUT, CLI_KERNEL, 0, UINT32_MAX},
    {"deep", NO, OPT_DEEP, CLI_KERNEL, 0, 0},
    {"param", REQ, OPT_PARAM, CLI_KERNEL, 0, 0},
    {"attr", REQ, OPT_ATTR, CLI_KERNEL, 0, 0},
    {"quiet", NO, 'q', ALL, 0, 0},
    {"help", NO, 'h', ALL, 0, 0},
};

/* --prior A,B: two positive numbers into the PE. Returns 0, or -1 (said). */
/* --param NAME=VALUE: one of the PE's params (sl_pe_param_check). Returns 0 or -1 (said). */
static int parse_param(const char *arg, sl_pe_cfg *pe)
{
    const char *eq = strchr(arg, '=');
    char err[256];
    if (pe->nparams == SL_PE_PARAMS) {
        fprintf(stderr, "%s: at most %d --param options\n", cli_prog, SL_PE_PARAMS);
        return -1;
    }
    sl_pe_param *p = &pe->param[pe->nparams];
    if (!eq || (size_t)(eq - arg) >= sizeof p->name || strlen(eq + 1) >= sizeof p->value) {
        fprintf(stderr, "%s: --param expects NAME=NUMBER, got \"%s\"\n", cli_prog, arg);
        return -1;
    }
    memcpy(p->name, arg, (size_t)(eq - arg));
    p->name[eq - arg] = '\0';
    snprintf(p->value, sizeof p->value, "%s", eq + 1);
    if (sl_pe_param_check(p, err, sizeof err)) {
        fprintf(stderr, "%s: --param: %s\n", cli_prog, err);
        return -1;
    }
    pe->nparams++;
    return 0;
}

/* --attr NAME:TYPE: one of the record's attribute members, as a topology's schema.attributes
 * gives it (TYPE double, int64, bool or time; the last three are longs). Returns 0 or -1. */
static int parse_attr(const char *arg, sl_pe_cfg *pe)
{
    const char *colon = strchr(arg, ':');
    if (pe->nattrs == SL_SCHEMA_ATTRS) {
        fprintf(stderr, "%s: at most %d --attr options\n", cli_prog, SL_SCHEMA_ATTRS);
        return -1;
    }
    sl_pe_attr *a = &pe->attr[pe->nattrs];
    int type = colon ? sl_ftype_parse(colon + 1) : -1;
    if (!colon || (size_t)(colon - arg) >= sizeof a->name || type < 0 || type == SL_FT_STRING) {
        fprintf(stderr, "%s: --attr expects NAME:TYPE (double, int64, bool or time), got \"%s\"\n",
                cli_prog, arg);
        return -1;
    }
    memcpy(a->name, arg, (size_t)(colon - arg));
    a->name[colon - arg] = '\0';
    if (!sl_schema_attr_name_ok(a->name)) {
        fprintf(stderr,
                "%s: --attr: \"%s\" cannot name a member of the record (a C identifier that is "
                "not key, time_ms, value, type, user, a keyword, or starting with sl_ or __)\n",
                cli_prog, a->name);
        return -1;
    }
    for (uint32_t k = 0; k < pe->nattrs; k++)
        if (strcmp(pe->attr[k].name, a->name) == 0) {
            fprintf(stderr, "%s: --attr: \"%s\" named twice\n", cli_prog, a->name);
            return -1;
        }
    a->is_double = type == SL_FT_DOUBLE;
    pe->nattrs++;
    return 0;
}

static int parse_prior(const char *s, sl_pe_cfg *pe)
{
    char *end;
    errno = 0;
    pe->prior_a = strtod(s, &end);
    if (errno == 0 && end != s && *end == ',') {
        const char *s2 = end + 1;
        pe->prior_b = strtod(s2, &end);
        if (errno == 0 && end != s2 && *end == '\0' && pe->prior_a > 0 && pe->prior_b > 0 &&
            isfinite(pe->prior_a) && isfinite(pe->prior_b)) {
            pe->has_prior = 1;
            return 0;
        }
    }
    fprintf(stderr, "%s: --prior expects two positive numbers A,B (for example 1,10), got \"%s\"\n",
            cli_prog, s);
    return -1;
}

/* --devices N|all. Returns 0, or -1 (said). */
static int parse_devices(const char *s, uint32_t *out)
{
    uint64_t v;
    if (strcmp(s, "all") == 0) {
        *out = SL_DEVICES_ALL;
        return 0;
    }
    if (cli_parse_u64("--devices", s, 1, SL_MULTI_MAX, &v))
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Applies option `val` with its argument arg (v: arg's value, for an integer option) to *a.
 * Returns 0, or -1 after saying why arg is refused. */
static int apply_option(struct cli_args *a, int val, const char *arg, uint64_t v)
{
    sl_topology *t = a->t;
    switch (val) {
    case 'i':
        a->input = arg;
        return a->set_io ? cli_set_input(t, arg) : 0;
    case 'o':
        a->output = arg;
        return a->set_io ? cli_copy(t->sink.path, sizeof t->sink.path, arg, "--output") : 0;
    case 'f':
        if (strcmp(arg, "tsv") == 0) {
            t->source.format = SL_FMT_CSV;
            t->schema.delimiter = '\t';
            return 0;
        }
        if (sl_format_parse(arg, &t->source.format) == 0)
            return 0;
        fprintf(stderr, "%s: --format expects ndjson, csv or tsv, got \"%s\"\n", cli_prog, arg);
        return -1;
    case 'd':
        a->device = arg;
        return t ? cli_copy(t->device, sizeof t->device, arg, "--device") : 0;
    case OPT_PRIOR:
        return parse_prior(arg, &t->pe);
    case OPT_PARAM:
        return parse_param(arg, &t->pe);
    case OPT_ATTR:
        return parse_attr(arg, &t->pe);
    case OPT_SKEW:
        return cli_parse_double("--skew", arg, 0, 10, &t->source.gen.skew);
    case OPT_CLICK:
        return cli_parse_double("--click-rate", arg, 0, 1, &t->source.gen.click_rate);
    case OPT_DEVICES:
        return parse_devices(arg, &a->tg.devices);
    case OPT_CLUSTER:
        a->tg.cluster_file = arg;
        break;
    case OPT_JOB_ID:
        a->tg.job_id = (uint32_t)v;
        break;
    case OPT_DRIVER_EPOCH:
        a->tg.driver_epoch = (uint64_t)v;
        break;
    case OPT_CAPACITY:
        t->pe.capacity = v;
        break;
    case OPT_BATCH:
        t->batch_events = (uint32_t)v;
        break;
    case OPT_TOP:
        a->top = v;
        break;
    case OPT_MIN_IMPR:
        a->min_impressions = v;
        break;
    case OPT_EVENTS:
        t->source.gen.events = v;
        break;
    case OPT_KEYS:
        t->source.gen.keys = (uint32_t)v;
        break;
    case OPT_SEED:
        t->source.gen.seed = v;
        break;
    case OPT_THREADS: { /* source.threads of an --input file (host/io/src_par.c) */
        char n[24];
        snprintf(n, sizeof n, "%" PRIu64, v);
        return sl_opts_set(&t->source.opts, "threads", n, 0, 0) ? -1 : 0;
    }
    case OPT_NODES:
        a->tg.nodes = (uint32_t)v;
        break;
    case OPT_INGEST_NODES:
        a->tg.ingest_nodes = 1;
        break;
    case OPT_CHECKPOINT_MS:
        a->checkpoint_ms = v;
        break;
    case OPT_CHECKPOINT_DIR:
        a->checkpoint_dir = arg;
        break;
    case OPT_FROM:
        a->tg.resume_from = arg;
        break;
    case OPT_RESUME:
        a->tg.resume = 1;
        break;
    case OPT_WINDOW:
        t->pe.window_ms = (int64_t)v;
        break;
    case OPT_LATENESS:
        t->pe.lateness_ms = (int64_t)v;
        break;
    case OPT_TIMEOUT:
        t->pe.timeout_ms = (uint32_t)v;
        a->timeout_set = 1;
        break;
    case OPT_EVERY_MS:
        t->pe.trigger.every_ms = v;
        break;
    case OPT_EVERY_EVENTS:
        t->pe.trigger.every_events = v;
        break;
    case OPT_SNAPSHOTS:
        t->sink.snapshots = 1;
        break;
    case OPT_MAX_WAIT:
        t->batch_wait_ms = (uint32_t)v;
        break;
    case OPT_MAX_MALFORMED:
        a->max_malformed_set = 1;
        return cli_parse_double("--max-malformed", arg, 0, 1, &a->max_malformed);
    case OPT_DECIMALS:
        a->decimals = (int)v + 1;
        break;
    case OPT_METRICS:
        a->tg.metrics = arg;
        break;
    case OPT_STRICT:
        a->strict = 1;
        break;
    case OPT_PROGRESS:
        a->progress = 1;
        break;
    case OPT_PROGRESS_FILE:
        a->progress_file = arg;
        break;
    case OPT_BINARY:
        a->binary = 1;
        break;
    case OPT_DEEP:
        a->deep = 1;
        break;
    case 'q':
        a->quiet = 1;
        break;
    }
    return 0;
}

#define NOPTS (sizeof cli_opts / sizeof cli_opts[0])

int cli_parse(int argc, char **argv, unsigned cmd, const char *name, cli_usage *usage,
              struct cli_args *a)
{
    struct option lo[NOPTS + 1];
    const struct cli_opt *taken[NOPTS];
    char shorts[2 * NOPTS + 2] = ":"; /* ':' first: a missing argument is told apart */
    size_t n = 0, ns = 1;
    for (size_t i = 0; i < NOPTS; i++) {
        const struct cli_opt *e = &cli_opts[i];
        if (!(e->cmds & cmd))
            continue;
        taken[n] = e;
        lo[n++] = (struct option){e->name, e->has_arg, NULL, e->val};
        if (e->val < 256) {
            shorts[ns++] = (char)e->val;
            if (e->has_arg == required_argument)
                shorts[ns++] = ':';
        }
    }
    lo[n] = (struct option){NULL, 0, NULL, 0};
    shorts[ns] = '\0';
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        const struct cli_opt *e = NULL;
        for (size_t i = 0; i < n && !e; i++)
            if (taken[i]->val == c)
                e = taken[i];
        if (!e) {
            cli_option_error(name, c, argv, lo);
            return 2;
        }
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        uint64_t v = 0;
        if (e->max) {
            char opt[64];
            snprintf(opt, sizeof opt, "--%s", e->name);
            if (cli_parse_u64(opt, optarg, e->min, e->max, &v))
                return 2;
        }
        if (apply_option(a, c, optarg, v))
            return 2;
    }
    return CLI_GO_ON;
}

void cli_option_error(const char *name, int c, char **argv, const struct option *lo)
{
    const struct option *known = NULL;
    for (const struct option *o = lo; o->name; o++)
        if (optopt && o->val == optopt)
            known = o;
    if (c == ':') {
        fprintf(stderr, "%s %s: option --%s needs an argument", cli_prog, name,
                known ? known->name : "?");
    } else if (known) {
        /* a value given to an option that takes none: --quiet=1 */
        fprintf(stderr, "%s %s: option --%s takes no argument", cli_prog, name, known->name);
    } else if (optopt) {
        fprintf(stderr, "%s %s: unknown option \"-%c\"", cli_prog, name, optopt);
    } else {
        /* a long option: getopt_long went past it */
        const char *text = argv[optind - 1];
        size_t len = strcspn(text + 2, "=");
        int matches = 0;
        for (const struct option *o = lo; o->name; o++)
            matches += strncmp(o->name, text + 2, len) == 0;
        fprintf(stderr, "%s %s: %s option \"%.*s\"", cli_prog, name,
                matches > 1 ? "ambiguous" : "unknown", (int)len + 2, text);
        const char *sep = ": "; /* the candidates of an ambiguous one */
        for (const struct option *o = lo; matches > 1 && o->name; o++)
            if (strncmp(o->name, text + 2, len) == 0) {
                fprintf(stderr, "%s--%s", sep, o->name);
                sep = ", ";
            }
    }
    fprintf(stderr, " (see 'sluice %s --help')\n", name);
}

struct report_ctx cli_report_ctx(const struct cli_args *a)
{
    struct report_ctx rc = {.strict = a->strict, .quiet = a->quiet};
    rc.progress_file = a->progress_file;
    rc.progress = a->progress && !a->quiet;
    return rc;
}

int cli_apply_checkpoint(const struct cli_args *a, sl_topology *t)
{
    if (a->checkpoint_ms)
        t->checkpoint.every_ms = (uint32_t)a->checkpoint_ms;
    if (a->checkpoint_dir && cli_copy(t->checkpoint.dir, sizeof t->checkpoint.dir,
                                      a->checkpoint_dir, "--checkpoint-dir"))
        return 2;
    if (t->checkpoint.every_ms && !t->checkpoint.dir[0])
        snprintf(t->checkpoint.dir, sizeof t->checkpoint.dir, "checkpoints");
    return 0;
}

int cli_apply_output(const struct cli_args *a, sl_topology *t)
{
    if (a->max_malformed_set)
        t->source.max_malformed = a->max_malformed;
    if (!a->decimals)
        return 0;
    /* the last PE's columns are the output's: every float column gets N decimals, after
     * (over) what its pe.format says */
    sl_pe_cfg *pe = t->nnext ? &t->next[t->nnext - 1].pe : &t->pe;
    size_t used = strlen(pe->format);
    int w = snprintf(pe->format + used, sizeof pe->format - used, "%s*:f%d", used ? "," : "",
                     a->decimals - 1);
    if (w < 0 || (size_t)w >= sizeof pe->format - used) {
        pe->format[used] = '\0';
        fprintf(stderr, "%s: --decimals: the PE's format overrides are too long\n", cli_prog);
        return 2;
    }
    return 0;
}

int cli_check_target(const char *name, const struct cli_target *tg)
{
    if (tg->nodes && tg->cluster_file) {
        fprintf(stderr, "%s %s: --nodes and --cluster exclude each other\n", cli_prog, name);
        return 2;
    }
    if (tg->driver_epoch && !tg->job_id) {
        fprintf(stderr,
                "%s %s: --driver-epoch is the coordinator's, for the driver of a submitted job: "
                "it needs --job-id\n",
                cli_prog, name);
        return 2;
    }
    if (tg->job_id && !tg->cluster_file) {
        fprintf(stderr, "%s %s: --job-id names a job of a running cluster: it needs --cluster\n",
                cli_prog, name);
        return 2;
    }
    if (tg->ingest_nodes && !tg->nodes && !tg->cluster_file) {
        fprintf(stderr,
                "%s %s: --ingest-on-nodes splits the input between cluster nodes: it needs "
                "--nodes or --cluster\n",
                cli_prog, name);
        return 2;
    }
    if (tg->devices && (tg->nodes || tg->cluster_file)) {
        fprintf(stderr, "%s %s: --devices runs in one process; cluster nodes use one device each\n",
                cli_prog, name);
        return 2;
    }
    return 0;
}

int cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
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

int cli_parse_double(const char *opt, const char *s, double min, double max, double *out)
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

int cli_copy(char *dst, size_t len, const char *src, const char *what)
{
    if (strlen(src) >= len) {
        fprintf(stderr, "%s: %s is too long\n", cli_prog, what);
        return -1;
    }
    strcpy(dst, src);
    return 0;
}

int cli_set_input(sl_topology *t, const char *path)
{
    if (cli_copy(t->source.path, sizeof t->source.path, path, "--input"))
        return -1;
    t->source.kind = strcmp(path, "-") == 0 ? SL_SRC_STDIN : SL_SRC_FILE;
    return 0;
}
