/* Tests of host/config: the YAML topology parser, its defaults and its error messages. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "placement.h"
#include "err.h"
#include "event.h"

static sl_topology topo;
static char err[1024];

/* Parses yaml under the name "topo.yaml" (no directory: paths stay as written). */
static int parse_named(const char *yaml, const char *name)
{
    err[0] = '\0';
    return sl_config_parse(yaml, strlen(yaml), name, &topo, err, sizeof err);
}

static int parse(const char *yaml)
{
    return parse_named(yaml, "topo.yaml");
}

#define EXPECT_OK(yaml)                                                                            \
    do {                                                                                           \
        int rc_ = parse(yaml);                                                                     \
        cr_assert_eq(rc_, 0, "rc %d (%s) for:\n%s", rc_, err, yaml);                               \
    } while (0)

#define EXPECT_ERR(yaml, msg)                                                                      \
    do {                                                                                           \
        int rc_ = parse(yaml);                                                                     \
        cr_assert_eq(rc_, SL_ECONFIG, "rc %d for:\n%s", rc_, yaml);                                \
        cr_assert_str_eq(err, msg, "for:\n%s\ngot:  %s\nwant: %s", yaml, err, msg);                \
    } while (0)

/* Asserts the PE fields that topology_defaults and full_file both check. */
static void expect_pe(const sl_pe_cfg *pe, const char *name, enum sl_pe_kind kind,
                      uint64_t capacity, int has_prior, int64_t window_ms, uint64_t every_events,
                      uint64_t every_ms)
{
    cr_assert_str_eq(pe->name, name);
    cr_assert_eq(pe->kind, kind);
    cr_assert_eq(pe->capacity, capacity);
    cr_assert_eq(pe->has_prior, has_prior);
    cr_assert_eq(pe->window_ms, window_ms);
    cr_assert_eq(pe->trigger.every_events, every_events);
    cr_assert_eq(pe->trigger.every_ms, every_ms);
}

Test(config, topology_defaults)
{
    sl_topology t;
    memset(&t, 0x5a, sizeof t);
    sl_topology_defaults(&t);
    cr_assert_str_eq(t.device, "");
    cr_assert_eq(t.source.kind, SL_SRC_STDIN);
    cr_assert_str_eq(t.source.path, "");
    cr_assert_eq(t.source.format, SL_FMT_NDJSON);
    cr_assert_eq(t.source.gen.events, 10000000);
    cr_assert_eq(t.source.gen.keys, 100000);
    cr_assert_eq(t.source.gen.seed, 42);
    cr_assert_eq(t.filter_types, 0xfu);
    expect_pe(&t.pe, "ctr", SL_PE_CTR, 0, 0, 10000, 0, 0);
    cr_assert_eq(t.pe.lateness_ms, 0);
    cr_assert_eq(t.batch_events, 262144);
    cr_assert_str_eq(t.sink.path, "-");
    cr_assert_eq(t.sink.snapshots, 0);
}

Test(config, pe_defaults_and_kind_names)
{
    static const char *const names[] = {"count", "sum", "ctr", "window_count"};
    for (int k = 0; k < SL_PE_NKINDS; k++) {
        sl_pe_cfg pe;
        enum sl_pe_kind parsed = SL_PE_NKINDS;
        sl_pe_defaults(&pe, (enum sl_pe_kind)k);
        cr_assert_str_eq(pe.name, names[k]);
        cr_assert_eq(pe.kind, (enum sl_pe_kind)k);
        cr_assert_eq(pe.capacity, 0, "no cap by default: the table grows");
        cr_assert_eq(pe.window_ms, 10000);
        cr_assert_str_eq(sl_pe_kind_name((enum sl_pe_kind)k), names[k]);
        cr_assert_eq(sl_pe_kind_parse(names[k], &parsed), 0);
        cr_assert_eq(parsed, (enum sl_pe_kind)k);
    }
    enum sl_pe_kind out = SL_PE_SUM;
    cr_assert_eq(sl_pe_kind_parse("avg", &out), SL_EINVAL);
    cr_assert_eq(sl_pe_kind_parse("CTR", &out), SL_EINVAL);
    cr_assert_eq(sl_pe_kind_parse("", &out), SL_EINVAL);
    cr_assert_eq(sl_pe_kind_parse(NULL, &out), SL_EINVAL);
    cr_assert_eq(out, SL_PE_SUM, "a failed parse leaves *out alone");
    cr_assert_str_eq(sl_pe_kind_name((enum sl_pe_kind)9), "unknown");
}

Test(config, full_file)
{
    const char *yaml = "# a full topology\n"
                       "device: pthread\n"
                       "source:\n"
                       "  type: file\n"
                       "  path: events.csv\n"
                       "  format: csv\n"
                       "filter:\n"
                       "  event_types: [view, click, purchase]\n"
                       "pe:\n"
                       "  name: ctr_per_ad\n"
                       "  kind: ctr\n"
                       "  capacity: 2_000_000\n"
                       "  prior: [1.5, 10]\n"
                       "  trigger: {every_events: 1000000, every_ms: 250}\n"
                       "batch:\n"
                       "  events: 65536\n"
                       "sink:\n"
                       "  path: out/ctr.csv\n"
                       "  snapshots: true\n";
    int rc = parse_named(yaml, "cfg/topo.yaml");
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(topo.device, "pthread");
    cr_assert_eq(topo.source.kind, SL_SRC_FILE);
    cr_assert_str_eq(topo.source.path, "cfg/events.csv");
    cr_assert_eq(topo.source.format, SL_FMT_CSV);
    cr_assert_eq(topo.filter_types,
                 (1u << SL_EV_VIEW) | (1u << SL_EV_CLICK) | (1u << SL_EV_PURCHASE));
    expect_pe(&topo.pe, "ctr_per_ad", SL_PE_CTR, 2000000, 1, 10000, 1000000, 250);
    cr_assert_float_eq(topo.pe.prior_a, 1.5, 0.0);
    cr_assert_float_eq(topo.pe.prior_b, 10.0, 0.0);
    cr_assert_eq(topo.batch_events, 65536);
    cr_assert_str_eq(topo.sink.path, "cfg/out/ctr.csv");
    cr_assert_eq(topo.sink.snapshots, 1);
}

Test(config, generator_source)
{
    EXPECT_OK("source:\n"
              "  type: generator\n"
              "  events: 5000\n"
              "  keys: 77\n"
              "  skew: 0.8\n"
              "  click_rate: 0.25\n"
              "  purchase_rate: 0\n"
              "  seed: 18446744073709551615\n"
              "  start_ms: -1000\n"
              "  events_per_ms: 3\n"
              "pe: {kind: count}\n");
    const sl_gen_cfg *g = &topo.source.gen;
    cr_assert_eq(topo.source.kind, SL_SRC_GENERATOR);
    cr_assert_eq(g->events, 5000);
    cr_assert_eq(g->keys, 77);
    cr_assert_float_eq(g->skew, 0.8, 0.0);
    cr_assert_float_eq(g->click_rate, 0.25, 0.0);
    cr_assert_float_eq(g->purchase_rate, 0.0, 0.0);
    cr_assert_eq(g->seed, UINT64_MAX);
    cr_assert_eq(g->start_ms, -1000);
    cr_assert_eq(g->events_per_ms, 3);

    /* Keys left out keep sl_gen_defaults. */
    EXPECT_OK("source: {type: generator, keys: 10}\npe: {kind: count}\n");
    cr_assert_eq(topo.source.gen.keys, 10);
    cr_assert_eq(topo.source.gen.events, 10000000);
    cr_assert_eq(topo.source.gen.events_per_ms, 1000);
    cr_assert_eq(topo.source.gen.start_ms, INT64_C(1767225600000));
}

Test(config, window_count_and_defaults)
{
    EXPECT_OK("pe:\n  kind: window_count\n  window_ms: 60000\n  lateness_ms: 5000\n");
    cr_assert_eq(topo.pe.kind, SL_PE_WINDOW);
    cr_assert_str_eq(topo.pe.name, "window_count", "the name defaults to the kind");
    cr_assert_eq(topo.pe.window_ms, 60000);
    cr_assert_eq(topo.pe.lateness_ms, 5000);

    /* The smallest file: everything else is sl_topology_defaults. */
    EXPECT_OK("pe: {kind: sum}\n");
    sl_topology d;
    sl_topology_defaults(&d);
    sl_pe_defaults(&d.pe, SL_PE_SUM);
    cr_assert_eq(memcmp(&topo, &d, sizeof d), 0);

    /* stdin source with a format, a path implies type file. */
    EXPECT_OK("source: {format: json}\npe: {kind: count}\n");
    cr_assert_eq(topo.source.kind, SL_SRC_STDIN);
    cr_assert_eq(topo.source.format, SL_FMT_NDJSON);
    EXPECT_OK("source: {path: /data/ev.ndjson}\npe: {kind: count}\n");
    cr_assert_eq(topo.source.kind, SL_SRC_FILE);
    cr_assert_str_eq(topo.source.path, "/data/ev.ndjson");
}

Test(config, scalar_forms)
{
    EXPECT_OK("pe: {kind: ctr, capacity: +42}\n");
    cr_assert_eq(topo.pe.capacity, 42);
    EXPECT_OK("pe: {kind: ctr, capacity: '7'}\n");
    cr_assert_eq(topo.pe.capacity, 7);
    EXPECT_OK("pe: {kind: ctr, capacity: 2147483648}\n");
    cr_assert_eq(topo.pe.capacity, UINT64_C(1) << 31);
    EXPECT_OK("batch: {events: 67108864}\npe: {kind: ctr}\n");
    cr_assert_eq(topo.batch_events, 1u << 26);
    EXPECT_OK("pe: {kind: ctr, prior: [1e-3, .5]}\n");
    cr_assert_float_eq(topo.pe.prior_a, 1e-3, 0.0);
    cr_assert_float_eq(topo.pe.prior_b, 0.5, 0.0);
    EXPECT_OK("source: {type: generator, start_ms: -9223372036854775808}\npe: {kind: ctr}\n");
    cr_assert_eq(topo.source.gen.start_ms, INT64_MIN);
    EXPECT_OK("source: {type: generator, start_ms: 9223372036854775807}\npe: {kind: ctr}\n");
    cr_assert_eq(topo.source.gen.start_ms, INT64_MAX);
    EXPECT_OK("sink: {snapshots: yes}\npe: {kind: ctr}\n");
    cr_assert_eq(topo.sink.snapshots, 1);
    EXPECT_OK("sink: {snapshots: False}\npe: {kind: ctr}\n");
    cr_assert_eq(topo.sink.snapshots, 0);
    EXPECT_OK("device: \"\"\npe: {kind: ctr}\n");
    cr_assert_str_eq(topo.device, "");
    EXPECT_OK("filter: {event_types: [impression, other]}\npe: {kind: ctr}\n");
    cr_assert_eq(topo.filter_types, (1u << SL_EV_VIEW) | (1u << SL_EV_OTHER));
    /* Anchors and aliases are plain YAML and work. */
    EXPECT_OK("batch: {events: &n 4096}\npe: {kind: ctr, capacity: *n}\n");
    cr_assert_eq(topo.pe.capacity, 4096);
}

/* The three examples of the brief, verbatim. */
Test(config, documented_examples)
{
    EXPECT_ERR("device: pthread\n"
               "source:\n"
               "sourse:\n"
               "  type: stdin\n"
               "pe: {kind: ctr}\n",
               "topo.yaml:3:1: unknown key \"sourse\" (expected one of: device, source, filter, "
               "pe, next, batch, sink, placement, checkpoint, schema)");
    EXPECT_ERR("source:\npe: {kind: ctr}\n",
               "topo.yaml:1:8: source: expected a mapping, got nothing");
    EXPECT_ERR("device: pthread\n"
               "pe: {kind: ctr}\n"
               "sourse:\n"
               "  type: stdin\n",
               "topo.yaml:3:1: unknown key \"sourse\" (expected one of: device, source, filter, "
               "pe, next, batch, sink, placement, checkpoint, schema)");
    EXPECT_ERR("device: pthread\n"
               "source:\n"
               "  type: stdin\n"
               "pe:\n"
               "  kind: avg\n",
               "topo.yaml:5:9: pe.kind: expected one of count, sum, ctr, window_count, user, got "
               "\"avg\"");
    EXPECT_ERR("device: pthread\n"
               "source:\n"
               "  type: stdin\n"
               "pe:\n"
               "  kind: ctr\n"
               "  name: c\n"
               "  capacity: lots\n",
               "topo.yaml:7:13: pe.capacity: expected a positive integer, got \"lots\"");
}

Test(config, unknown_keys_at_every_level)
{
    EXPECT_ERR("pe:\n  kind: ctr\n  capcity: 5\n",
               "topo.yaml:3:3: pe: unknown key \"capcity\" (expected one of: name, kind, "
               "capacity, prior, window_ms, lateness_ms, trigger, source, binary, "
               "timeout_ms, params, field, format)");
    EXPECT_ERR("pe: {kind: ctr, trigger: {every: 5}}\n",
               "topo.yaml:1:27: pe.trigger: unknown key \"every\" (expected one of: "
               "every_events, every_ms)");
    EXPECT_ERR(
        "source: {type: file, file: x}\npe: {kind: ctr}\n",
        "topo.yaml:1:22: source: unknown key \"file\" (source type file: expected one "
        "of: type, path, format, delimiter, header, events, keys, skew, click_rate, "
        "purchase_rate, seed, start_ms, events_per_ms, users, ingest, max_malformed, follow, "
        "poll_ms, threads, chunk_bytes)");
    EXPECT_ERR("sink: {paht: x}\npe: {kind: ctr}\n",
               "topo.yaml:1:8: sink: unknown key \"paht\" (expected one of: type, path, snapshots, "
               "format, mode)");
    EXPECT_ERR("batch: {size: 1}\npe: {kind: ctr}\n",
               "topo.yaml:1:9: batch: unknown key \"size\" (expected one of: events, max_wait_ms)");
    EXPECT_ERR("filter: {types: [view]}\npe: {kind: ctr}\n",
               "topo.yaml:1:10: filter: unknown key \"types\" (expected one of: event_types)");
    EXPECT_ERR("{[a]: 1}\n", "topo.yaml:1:2: expected a string key, got a list of 1 item");
    EXPECT_ERR("hello\n", "topo.yaml:1:1: expected a mapping at the top level, got \"hello\"");
}

Test(config, duplicate_keys)
{
    EXPECT_ERR("pe: {kind: ctr}\nbatch: {events: 5}\npe: {kind: sum}\n",
               "topo.yaml:3:1: duplicate key \"pe\" (first at line 1)");
    EXPECT_ERR("pe:\n  kind: ctr\n  capacity: 5\n  capacity: 6\n",
               "topo.yaml:4:3: pe: duplicate key \"capacity\" (first at line 3)");
}

Test(config, required_keys)
{
    EXPECT_ERR("", "topo.yaml:1:1: missing required key \"pe\"");
    EXPECT_ERR("# only a comment\n", "topo.yaml:1:1: missing required key \"pe\"");
    EXPECT_ERR("batch: {events: 5}\n", "topo.yaml:1:1: missing required key \"pe\"");
    EXPECT_ERR("device: x\npe:\n  name: y\n", "topo.yaml:3:3: pe: missing required key \"kind\"");
    EXPECT_ERR("source:\n  type: file\npe: {kind: ctr}\n",
               "topo.yaml:2:3: source: missing required key \"path\" (source.type is file)");
    EXPECT_ERR("filter: {}\npe: {kind: ctr}\n",
               "topo.yaml:1:9: filter: missing required key \"event_types\"");
}

Test(config, integers)
{
    EXPECT_ERR("pe: {kind: ctr, capacity: 0}\n",
               "topo.yaml:1:27: pe.capacity: expected an integer in 1..2147483648, got \"0\"");
    EXPECT_ERR("pe: {kind: ctr, capacity: 2147483649}\n",
               "topo.yaml:1:27: pe.capacity: expected an integer in 1..2147483648, got "
               "\"2147483649\"");
    EXPECT_ERR("pe: {kind: ctr, capacity: -1}\n",
               "topo.yaml:1:27: pe.capacity: expected a positive integer, got \"-1\"");
    EXPECT_ERR("pe: {kind: ctr, capacity: 12abc}\n",
               "topo.yaml:1:27: pe.capacity: expected a positive integer, got \"12abc\"");
    EXPECT_ERR("pe: {kind: ctr, capacity: 1.5}\n",
               "topo.yaml:1:27: pe.capacity: expected a positive integer, got \"1.5\"");
    EXPECT_ERR("pe: {kind: ctr, capacity: 0x10}\n",
               "topo.yaml:1:27: pe.capacity: expected a positive integer, got \"0x10\"");
    EXPECT_ERR("pe: {kind: ctr, capacity: 1__0}\n",
               "topo.yaml:1:27: pe.capacity: expected a positive integer, got \"1__0\"");
    EXPECT_ERR("pe: {kind: ctr, capacity: }\n",
               "topo.yaml:1:27: pe.capacity: expected a positive integer, got nothing");
    EXPECT_ERR("pe: {kind: ctr, capacity: [1]}\n",
               "topo.yaml:1:27: pe.capacity: expected a positive integer, got a list of 1 item");
    EXPECT_ERR("pe: {kind: ctr, capacity: 99999999999999999999}\n",
               "topo.yaml:1:27: pe.capacity: expected an integer in 1..2147483648, got "
               "\"99999999999999999999\"");
    EXPECT_ERR("batch: {events: 0}\npe: {kind: ctr}\n",
               "topo.yaml:1:17: batch.events: expected an integer in 1..67108864, got \"0\"");
    EXPECT_ERR("batch: {events: 67108865}\npe: {kind: ctr}\n",
               "topo.yaml:1:17: batch.events: expected an integer in 1..67108864, got "
               "\"67108865\"");
    EXPECT_ERR("pe: {kind: ctr, trigger: {every_ms: -1}}\n",
               "topo.yaml:1:37: pe.trigger.every_ms: expected a non-negative integer, got \"-1\"");
    EXPECT_ERR("pe: {kind: ctr, trigger: {every_events: 18446744073709551616}}\n",
               "topo.yaml:1:41: pe.trigger.every_events: expected an integer in "
               "0..18446744073709551615, got \"18446744073709551616\"");
    EXPECT_ERR("pe: {kind: ctr, trigger: 5}\n",
               "topo.yaml:1:26: pe.trigger: expected a mapping, got \"5\"");
    EXPECT_ERR("source: {type: generator, start_ms: 9223372036854775808}\npe: {kind: ctr}\n",
               "topo.yaml:1:37: source.start_ms: expected an integer in "
               "-9223372036854775808..9223372036854775807, got \"9223372036854775808\"");
    EXPECT_ERR("source: {type: generator, start_ms: -+5}\npe: {kind: ctr}\n",
               "topo.yaml:1:37: source.start_ms: expected an integer, got \"-+5\"");
}

Test(config, prior)
{
    EXPECT_ERR("pe:\n  kind: count\n  prior: [1, 2]\n",
               "topo.yaml:3:3: pe.prior: only allowed when pe.kind is ctr");
    /* The kind may come after the prior: the check waits for the whole mapping. */
    EXPECT_ERR("pe:\n  prior: [1, 2]\n  kind: sum\n",
               "topo.yaml:2:3: pe.prior: only allowed when pe.kind is ctr");
    EXPECT_ERR("pe: {kind: ctr, prior: [1]}\n",
               "topo.yaml:1:24: pe.prior: expected a list of two positive numbers [a, b], got a "
               "list of 1 item");
    EXPECT_ERR("pe: {kind: ctr, prior: [1, 2, 3]}\n",
               "topo.yaml:1:24: pe.prior: expected a list of two positive numbers [a, b], got a "
               "list of 3 items");
    EXPECT_ERR("pe: {kind: ctr, prior: 1}\n",
               "topo.yaml:1:24: pe.prior: expected a list of two positive numbers [a, b], got "
               "\"1\"");
    EXPECT_ERR("pe: {kind: ctr, prior: [1, 0]}\n",
               "topo.yaml:1:28: pe.prior[1]: expected a positive number, got \"0\"");
    EXPECT_ERR("pe: {kind: ctr, prior: [-1, 2]}\n",
               "topo.yaml:1:25: pe.prior[0]: expected a positive number, got \"-1\"");
    EXPECT_ERR("pe: {kind: ctr, prior: [.inf, 2]}\n",
               "topo.yaml:1:25: pe.prior[0]: expected a positive number, got \".inf\"");
    EXPECT_ERR("pe: {kind: ctr, prior: [nan, 2]}\n",
               "topo.yaml:1:25: pe.prior[0]: expected a positive number, got \"nan\"");
    EXPECT_ERR("pe: {kind: ctr, prior: [1e999, 2]}\n",
               "topo.yaml:1:25: pe.prior[0]: expected a positive number, got \"1e999\"");
    EXPECT_ERR("pe: {kind: ctr, prior: [1.0x, 2]}\n",
               "topo.yaml:1:25: pe.prior[0]: expected a positive number, got \"1.0x\"");
}

Test(config, window_fields)
{
    EXPECT_ERR("pe: {kind: ctr, window_ms: 100}\n",
               "topo.yaml:1:17: pe.window_ms: only allowed when pe.kind is window_count or user");
    EXPECT_ERR("pe: {kind: count, lateness_ms: 100}\n",
               "topo.yaml:1:19: pe.lateness_ms: only allowed when pe.kind is window_count or user");
    EXPECT_ERR("pe: {kind: window_count, window_ms: 0}\n",
               "topo.yaml:1:37: pe.window_ms: expected an integer in 1..9223372036854775807, got "
               "\"0\"");
    EXPECT_ERR("pe: {kind: window_count, lateness_ms: -5}\n",
               "topo.yaml:1:39: pe.lateness_ms: expected a non-negative integer, got \"-5\"");
}

Test(config, filter)
{
    EXPECT_ERR("filter: {event_types: []}\npe: {kind: ctr}\n",
               "topo.yaml:1:23: filter.event_types: expected a non-empty list of view, "
               "impression, click, purchase, other, got an empty list");
    EXPECT_ERR("filter: {event_types: view}\npe: {kind: ctr}\n",
               "topo.yaml:1:23: filter.event_types: expected a non-empty list of view, "
               "impression, click, purchase, other, got \"view\"");
    EXPECT_ERR("filter:\n  event_types:\n    - view\n    - clik\npe: {kind: ctr}\n",
               "topo.yaml:4:7: filter.event_types[1]: expected one of view, impression, click, "
               "purchase, other, got \"clik\"");
    EXPECT_ERR("filter: []\npe: {kind: ctr}\n",
               "topo.yaml:1:9: filter: expected a mapping, got an empty list");
}

Test(config, source_rules)
{
    EXPECT_ERR("source: {type: pipe}\npe: {kind: ctr}\n",
               "topo.yaml:1:16: source.type: expected one of file, stdin, generator, zmq, "
               "tcp, got \"pipe\"");
    EXPECT_ERR(
        "source: {type: file, path: x, format: xml}\npe: {kind: ctr}\n",
        "topo.yaml:1:39: source.format: expected one of ndjson, json, csv, tsv, got \"xml\"");
    EXPECT_ERR("source: {type: stdin, path: x}\npe: {kind: ctr}\n",
               "topo.yaml:1:23: source.path: only allowed when source.type is file");
    EXPECT_ERR("source: {type: generator, format: csv}\npe: {kind: ctr}\n",
               "topo.yaml:1:27: source.format: only allowed when source.type is file or stdin");
    EXPECT_ERR("source: {type: file, path: x, keys: 5}\npe: {kind: ctr}\n",
               "topo.yaml:1:31: source.keys: only allowed when source.type is generator");
    EXPECT_ERR("source: {keys: 5}\npe: {kind: ctr}\n",
               "topo.yaml:1:10: source.keys: only allowed when source.type is generator");
    EXPECT_ERR("source: {type: file, path: \"\"}\npe: {kind: ctr}\n",
               "topo.yaml:1:28: source.path: expected a non-empty path, got \"\"");
}

Test(config, generator_keys)
{
    EXPECT_ERR("source: {type: generator, keys: 0}\npe: {kind: ctr}\n",
               "topo.yaml:1:33: source.keys: expected an integer in 1..4294967295, got \"0\"");
    EXPECT_ERR("source: {type: generator, keys: 4294967296}\npe: {kind: ctr}\n",
               "topo.yaml:1:33: source.keys: expected an integer in 1..4294967295, got "
               "\"4294967296\"");
    EXPECT_ERR("source: {type: generator, click_rate: 1.5}\npe: {kind: ctr}\n",
               "topo.yaml:1:39: source.click_rate: expected a number in [0, 1], got \"1.5\"");
    EXPECT_ERR("source: {type: generator, purchase_rate: -0.1}\npe: {kind: ctr}\n",
               "topo.yaml:1:42: source.purchase_rate: expected a number in [0, 1], got \"-0.1\"");
    EXPECT_ERR("source: {type: generator, skew: -1}\npe: {kind: ctr}\n",
               "topo.yaml:1:33: source.skew: expected a non-negative number, got \"-1\"");
    EXPECT_ERR("source: {type: generator, events_per_ms: 0}\npe: {kind: ctr}\n",
               "topo.yaml:1:42: source.events_per_ms: expected an integer in 1..4294967295, got "
               "\"0\"");
    EXPECT_ERR("source: {type: generator, events: many}\npe: {kind: ctr}\n",
               "topo.yaml:1:35: source.events: expected a non-negative integer, got \"many\"");
    EXPECT_ERR("source: {type: generator, seed: -3}\npe: {kind: ctr}\n",
               "topo.yaml:1:33: source.seed: expected a non-negative integer, got \"-3\"");
}

Test(config, strings)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml, "pe: {kind: ctr, name: %064d}\n", 0);
    EXPECT_ERR(yaml, "topo.yaml:1:23: pe.name: expected a string of at most 63 bytes, got 64 "
                     "bytes");
    EXPECT_ERR("pe: {kind: ctr, name: \"\"}\n",
               "topo.yaml:1:23: pe.name: expected a non-empty string, got \"\"");
    EXPECT_ERR("pe: {kind: ctr, name: ~}\n",
               "topo.yaml:1:23: pe.name: expected a non-empty string, got \"~\"");
    EXPECT_ERR("pe: {kind: ctr, name: \"a\\0b\"}\n",
               "topo.yaml:1:23: pe.name: expected a string without NUL bytes");
    EXPECT_ERR("device: {a: 1}\npe: {kind: ctr}\n",
               "topo.yaml:1:9: device: expected a string, got a mapping");
    EXPECT_ERR("sink: {snapshots: maybe}\npe: {kind: ctr}\n",
               "topo.yaml:1:19: sink.snapshots: expected true or false, got \"maybe\"");
    /* Long and unprintable values are cut and escaped in messages. */
    EXPECT_ERR("pe: {kind: \"ab\\tc\\\"d\"}\n",
               "topo.yaml:1:12: pe.kind: expected one of count, sum, ctr, window_count, user, got "
               "\"ab\\x09c\\\"d\"");
    EXPECT_ERR("pe: {kind: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n",
               "topo.yaml:1:12: pe.kind: expected one of count, sum, ctr, window_count, user, got "
               "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"");
}

Test(config, yaml_syntax_errors)
{
    EXPECT_ERR("pe: {kind: ctr\n", "topo.yaml:2:1: did not find expected ',' or '}' (while "
                                   "parsing a flow mapping at line 1, column 5)");
    EXPECT_ERR("pe:\n  kind: ctr\n    capacity: 3\n",
               "topo.yaml:3:13: mapping values are not allowed in this context");
    EXPECT_ERR("pe: *foo\n", "topo.yaml:1:5: found undefined alias");
    EXPECT_ERR("pe: {kind: ctr}\nx: \xff\n",
               "topo.yaml:2:4: invalid leading UTF-8 octet (byte 0xff at offset 19)");
    EXPECT_ERR("pe: {kind: ctr}\n---\npe: {kind: sum}\n",
               "topo.yaml:2:1: expected a single YAML document, found a second one");
}

Test(config, error_leaves_topology_alone)
{
    sl_topology before;
    EXPECT_OK("pe: {kind: sum, capacity: 99}\n");
    before = topo;
    EXPECT_ERR("pe: {kind: count, capacity: 0}\n",
               "topo.yaml:1:29: pe.capacity: expected an integer in 1..2147483648, got \"0\"");
    cr_assert_eq(memcmp(&before, &topo, sizeof topo), 0);
}

Test(config, small_or_missing_error_buffer)
{
    const char *yaml = "pe: {kind: avg}\n";
    char small[16];
    memset(small, 'x', sizeof small);
    int rc = sl_config_parse(yaml, strlen(yaml), "topo.yaml", &topo, small, sizeof small);
    cr_assert_eq(rc, SL_ECONFIG);
    cr_assert_str_eq(small, "topo.yaml:1:12:");
    rc = sl_config_parse(yaml, strlen(yaml), "topo.yaml", &topo, NULL, 0);
    cr_assert_eq(rc, SL_ECONFIG);
    /* Text need not be NUL-terminated: only len bytes are read. */
    rc = sl_config_parse("pe: {kind: sum}\nXXXX", 16, NULL, &topo, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(topo.pe.kind, SL_PE_SUM);
}

Test(config, relative_paths)
{
    const char *yaml = "source: {path: ev.ndjson}\nsink: {path: out/r.csv}\npe: {kind: ctr}\n";
    cr_assert_eq(parse_named(yaml, "/etc/sluice/topo.yaml"), 0, "%s", err);
    cr_assert_str_eq(topo.source.path, "/etc/sluice/ev.ndjson");
    cr_assert_str_eq(topo.sink.path, "/etc/sluice/out/r.csv");

    cr_assert_eq(parse_named(yaml, "conf/topo.yaml"), 0, "%s", err);
    cr_assert_str_eq(topo.source.path, "conf/ev.ndjson");
    cr_assert_str_eq(topo.sink.path, "conf/out/r.csv");

    cr_assert_eq(parse_named(yaml, "/topo.yaml"), 0, "%s", err);
    cr_assert_str_eq(topo.source.path, "/ev.ndjson");

    cr_assert_eq(parse_named(yaml, "topo.yaml"), 0, "%s", err);
    cr_assert_str_eq(topo.source.path, "ev.ndjson");
    cr_assert_str_eq(topo.sink.path, "out/r.csv");

    const char *abs = "source: {path: /d/ev.ndjson}\nsink: {path: \"-\"}\npe: {kind: ctr}\n";
    cr_assert_eq(parse_named(abs, "conf/topo.yaml"), 0, "%s", err);
    cr_assert_str_eq(topo.source.path, "/d/ev.ndjson");
    cr_assert_str_eq(topo.sink.path, "-");
}

Test(config, path_too_long)
{
    static char yaml[8192], name[64];
    char *p = yaml + sprintf(yaml, "pe: {kind: ctr}\nsink: {path: ");
    memset(p, 'a', 4090);
    strcpy(p + 4090, "}\n");
    /* 4090 bytes fit; with "conf/dir/" in front they do not. */
    cr_assert_eq(parse_named(yaml, "topo.yaml"), 0, "%s", err);
    cr_assert_eq(strlen(topo.sink.path), 4090);
    snprintf(name, sizeof name, "conf/dir/topo.yaml");
    cr_assert_eq(parse_named(yaml, name), SL_ECONFIG);
    cr_assert_str_eq(err, "conf/dir/topo.yaml:2:14: sink.path: expected a path of at most 4095 "
                          "bytes, got 4099 bytes after prefixing the directory of "
                          "conf/dir/topo.yaml");
    memset(p, 'a', 5000);
    strcpy(p + 5000, "}\n");
    cr_assert_eq(parse_named(yaml, "topo.yaml"), SL_ECONFIG);
    cr_assert_str_eq(err, "topo.yaml:2:14: sink.path: expected a path of at most 4095 bytes, got "
                          "5000 bytes");
}

/* ---- files ------------------------------------------------------------------------------- */

/* mkdir -p; returns 0 or -1. */
static int mkdirs(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

/* Makes a fresh directory under $SLUICE_TEST_TMP (or /tmp) into dir. */
static void make_tmpdir(char *dir, size_t size)
{
    const char *base = getenv("SLUICE_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    cr_assert_eq(mkdirs(base), 0, "mkdir -p %s: %s", base, strerror(errno));
    snprintf(dir, size, "%s/config-XXXXXX", base);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fputs(text, f) >= 0, 1);
    cr_assert_eq(fclose(f), 0);
}

Test(config, load_file)
{
    char dir[1024], path[1024 + 32], want[2048];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/topo.yaml", dir);
    write_file(path, "source:\n  type: file\n  path: events.ndjson\npe:\n  kind: count\n");

    cr_assert_eq(sl_config_load(path, &topo, err, sizeof err), 0, "%s", err);
    snprintf(want, sizeof want, "%s/events.ndjson", dir);
    cr_assert_str_eq(topo.source.path, want);
    cr_assert_eq(topo.pe.kind, SL_PE_COUNT);

    /* Errors name the file as given. */
    write_file(path, "pe:\n  kind: count\n  capacity: 0\n");
    cr_assert_eq(sl_config_load(path, &topo, err, sizeof err), SL_ECONFIG);
    snprintf(want, sizeof want,
             "%s:3:13: pe.capacity: expected an integer in 1..2147483648, got "
             "\"0\"",
             path);
    cr_assert_str_eq(err, want);

    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(sl_config_load(path, &topo, err, sizeof err), SL_EIO);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    cr_assert_str_eq(err, want);

    cr_assert_eq(sl_config_load(dir, &topo, err, sizeof err), SL_EIO);
    snprintf(want, sizeof want, "%s: cannot read: Is a directory", dir);
    cr_assert_str_eq(err, want);
    cr_assert_eq(rmdir(dir), 0);
}

Test(config, load_large_file)
{
    char dir[1024], path[1024 + 32];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/big.yaml", dir);

    /* Nearly 1 MiB of comments parses (the buffer grows several times). */
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 16383; i++)
        fprintf(f, "# %061d\n", i);
    fputs("pe: {kind: sum}\n", f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(sl_config_load(path, &topo, err, sizeof err), 0, "%s", err);
    cr_assert_eq(topo.pe.kind, SL_PE_SUM);

    /* 16 MiB is over the limit (1 MiB). */
    f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(ftruncate(fileno(f), (off_t)16 << 20), 0);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(sl_config_load(path, &topo, err, sizeof err), SL_ECONFIG);
    cr_assert(strstr(err, "config file is 16777216 bytes; the limit is 1 MiB") != NULL, "%s", err);

    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(rmdir(dir), 0);
}

Test(config, user_pe_source_binary_and_window)
{
    EXPECT_OK("pe:\n  kind: user\n  source: pe/mine.cl\n  window_ms: 5000\n");
    cr_assert_eq(topo.pe.kind, SL_PE_USER);
    cr_assert_str_eq(topo.pe.source, "pe/mine.cl"); /* no directory in the name */
    cr_assert_eq(topo.pe.window_ms, 5000);
    cr_assert_str_eq(topo.pe.binary, "");
    EXPECT_OK("pe: {kind: user, binary: /opt/pe.bin}\n");
    cr_assert_str_eq(topo.pe.binary, "/opt/pe.bin");
    cr_assert_eq(topo.pe.window_ms, 0, "a user PE has no window unless asked");
    EXPECT_ERR("pe: {kind: user}\n",
               "topo.yaml:1:5: pe: missing required key \"source\" (or pe.binary) for a user PE");
    EXPECT_ERR("pe: {kind: user, source: a.cl, binary: a.bin}\n",
               "topo.yaml:1:32: pe.binary: only allowed when pe.source is absent");
    EXPECT_ERR("pe: {kind: ctr, source: a.cl}\n",
               "topo.yaml:1:17: pe.source: only allowed when pe.kind is user");
}

Test(config, next_stages)
{
    EXPECT_OK("pe: {kind: ctr}\n"
              "next:\n"
              "  - {name: per_campaign, kind: sum, join: camp.csv, value: clicks, capacity: 64}\n"
              "  - {kind: count, trigger: {every_events: 5}}\n");
    cr_assert_eq(topo.nnext, 2);
    cr_assert_str_eq(topo.next[0].pe.name, "per_campaign");
    cr_assert_eq(topo.next[0].pe.kind, SL_PE_SUM);
    cr_assert_eq(topo.next[0].pe.capacity, 64);
    cr_assert_str_eq(topo.next[0].join, "camp.csv");
    cr_assert_str_eq(topo.next[0].value, "clicks");
    cr_assert_eq(topo.next[1].pe.kind, SL_PE_COUNT);
    cr_assert_str_eq(topo.next[1].join, "");
    cr_assert_str_eq(topo.next[1].value, "");
    cr_assert_eq(topo.next[1].pe.trigger.every_events, 5);

    /* Errors name the stage. */
    EXPECT_ERR("pe: {kind: ctr}\nnext:\n  - {kind: sum, prior: [1, 2]}\n",
               "topo.yaml:3:17: next[0].prior: only allowed when next[0].kind is ctr");
    EXPECT_ERR("pe: {kind: ctr}\nnext:\n  - {value: ctr}\n",
               "topo.yaml:3:5: next[0]: missing required key \"kind\"");
    EXPECT_ERR("pe: {kind: ctr}\nnext: []\n",
               "topo.yaml:2:7: next: expected a non-empty list of PE mappings, got an empty list");
    EXPECT_ERR("pe: {kind: ctr}\nnext: [{kind: sum}, {kind: sum}, {kind: sum}, {kind: sum}]\n",
               "topo.yaml:2:7: next: expected at most 3 PEs, got a list of 4 items");
    /* join and value belong to next stages only. */
    EXPECT_ERR("pe: {kind: ctr, join: x.csv}\n",
               "topo.yaml:1:17: pe: unknown key \"join\" (expected one of: name, kind, capacity, "
               "prior, window_ms, lateness_ms, trigger, source, binary, timeout_ms, params, field, "
               "format)");
}

Test(config, cluster_file)
{
    static sl_cluster_cfg cl;
    const char *ok =
        "partitions: 64\n"
        "insecure: true\n"
        "net: {batch_bytes: 4096, flush_us: 500, max_frame: 65536, liveness_ms: 9000}\n"
        "nodes:\n"
        "  - {id: 0, host: 127.0.0.1, port: 7600}\n"
        "  - {id: 1, host: 10.0.0.2, port: 7700}\n";
    cr_assert_eq(sl_cluster_parse(ok, strlen(ok), "c.yaml", &cl, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cl.insecure, 1);
    cr_assert_eq(cl.net.liveness_ms, 9000);
    cr_assert_str_eq(cl.keys_dir, "");

    /* Without keys, a node off loopback needs insecure: true; keys are a folder relative to the
     * cluster file. */
    const char *open_net = "nodes:\n"
                           "  - {id: 0, host: 127.0.0.1, port: 7600}\n"
                           "  - {id: 1, host: 10.0.0.2, port: 7700}\n";
    cr_assert_eq(sl_cluster_parse(open_net, strlen(open_net), "c.yaml", &cl, err, sizeof err),
                 SL_ECONFIG);
    cr_assert(strstr(err, "c.yaml:2:3: nodes[1].host 10.0.0.2 is not a loopback address, and the "
                          "cluster has no CURVE keys"),
              "%s", err);
    const char *client = "client_host: 192.168.1.4\nnodes: [{id: 0, host: 127.0.0.1, port: 1}]\n";
    cr_assert_eq(sl_cluster_parse(client, strlen(client), "c.yaml", &cl, err, sizeof err),
                 SL_ECONFIG);
    cr_assert(strstr(err, "client_host 192.168.1.4 is not a loopback address"), "%s", err);
    const char *keyed = "curve: {keys: keys}\n"
                        "nodes: [{id: 0, host: 10.0.0.1, port: 7600}]\n";
    cr_assert_eq(sl_cluster_parse(keyed, strlen(keyed), "conf/c.yaml", &cl, err, sizeof err), 0,
                 "%s", err);
    cr_assert_str_eq(cl.keys_dir, "conf/keys");
    cr_assert_eq(cl.insecure, 0);
    const char *nokeys = "curve: {}\nnodes: [{id: 0, host: 127.0.0.1, port: 7600}]\n";
    cr_assert_eq(sl_cluster_parse(nokeys, strlen(nokeys), "c.yaml", &cl, err, sizeof err),
                 SL_ECONFIG);
    cr_assert(strstr(err, "curve: missing required key \"keys\""), "%s", err);
    const char *live = "net: {liveness_ms: 100}\nnodes: [{id: 0, host: 127.0.0.1, port: 1}]\n";
    cr_assert_eq(sl_cluster_parse(live, strlen(live), "c.yaml", &cl, err, sizeof err), SL_ECONFIG);
    cr_assert(strstr(err, "net.liveness_ms: expected an integer in 500..3600000"), "%s", err);
    cr_assert_eq(sl_cluster_parse(ok, strlen(ok), "c.yaml", &cl, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cl.nnodes, 2);
    cr_assert_eq(cl.partitions, 64);
    cr_assert_str_eq(cl.nodes[1].host, "10.0.0.2");
    cr_assert_eq(cl.nodes[1].port, 7700);
    cr_assert_eq(cl.net.batch_bytes, 4096);
    cr_assert_eq(cl.net.flush_us, 500);
    cr_assert_eq(cl.net.max_payload, 65536);
    cr_assert_str_eq(cl.client_host, "127.0.0.1");

    const char *order = "nodes:\n  - {id: 1, host: a, port: 7600}\n";
    cr_assert_eq(sl_cluster_parse(order, strlen(order), "c.yaml", &cl, err, sizeof err),
                 SL_ECONFIG);
    cr_assert_str_eq(err, "c.yaml:2:10: nodes[0].id: node ids must be 0..N-1 in order: expected 0");
    const char *big = "net: {batch_bytes: 70000, max_frame: 65536}\nnodes: [{id: 0, host: a, "
                      "port: 1}]\n";
    cr_assert_eq(sl_cluster_parse(big, strlen(big), "c.yaml", &cl, err, sizeof err), SL_ECONFIG);
    cr_assert(strstr(err, "net.batch_bytes: expected an integer in 64..65536"), "%s", err);
    const char *port = "nodes: [{id: 0, host: a, port: 65534}]\n";
    cr_assert_eq(sl_cluster_parse(port, strlen(port), "c.yaml", &cl, err, sizeof err), SL_ECONFIG);
    cr_assert(strstr(err, "nodes[0].port: expected an integer in 1..65531"), "%s", err);
}

Test(config, placement_overrides)
{
    cr_assert_eq(topo.nplacement, 0);
    EXPECT_OK("pe: {kind: ctr}\n"
              "placement:\n"
              "  - device: \"pthread\"   # a comment\n"
              "    numa: 1\n"
              "    cpus: \"0-3\"\n"
              "  - {device: A100, numa: 0}\n"
              "  - device: u250\n"
              "    cpus: 4-7,12\n"
              "  - {device: x, cpus: 5}\n");
    cr_assert_eq(topo.nplacement, 4);
    cr_assert_str_eq(topo.placement[0].device, "pthread");
    cr_assert_eq(topo.placement[0].numa, 1);
    cr_assert_str_eq(topo.placement[0].cpus, "0-3");
    cr_assert_str_eq(topo.placement[1].device, "A100");
    cr_assert_eq(topo.placement[1].numa, 0);
    cr_assert_str_eq(topo.placement[1].cpus, "");
    cr_assert_str_eq(topo.placement[2].device, "u250");
    cr_assert_eq(topo.placement[2].numa, -1, "numa left out is -1");
    cr_assert_str_eq(topo.placement[2].cpus, "4-7,12");
    cr_assert_str_eq(topo.placement[3].cpus, "5", "an integer scalar is a one-cpu list");
    /* The parsed list feeds the placement module's matcher directly. */
    cr_assert_eq(sl_place_override_find(topo.placement, topo.nplacement,
                                        "NVIDIA CUDA / NVIDIA A100-SXM4-40GB"),
                 &topo.placement[1]);

    /* Sixteen entries fit, seventeen do not. */
    char yaml[4096];
    size_t o = (size_t)snprintf(yaml, sizeof yaml, "pe: {kind: ctr}\nplacement:\n");
    for (int i = 0; i < SL_PLACEMENT_MAX; i++)
        o += (size_t)snprintf(yaml + o, sizeof yaml - o, "  - {device: d%d, numa: %d}\n", i, i);
    EXPECT_OK(yaml);
    cr_assert_eq(topo.nplacement, SL_PLACEMENT_MAX);
    cr_assert_eq(topo.placement[15].numa, 15);
    snprintf(yaml + o, sizeof yaml - o, "  - {device: d16, numa: 0}\n");
    EXPECT_ERR(yaml, "topo.yaml:3:3: placement: expected at most 16 entries, got a list of 17 "
                     "items");
}

Test(config, placement_errors)
{
    EXPECT_ERR("pe: {kind: ctr}\nplacement: {device: x, numa: 0}\n",
               "topo.yaml:2:12: placement: expected a non-empty list of {device, numa, cpus}, got "
               "a mapping");
    EXPECT_ERR("pe: {kind: ctr}\nplacement: []\n",
               "topo.yaml:2:12: placement: expected a non-empty list of {device, numa, cpus}, got "
               "an empty list");
    EXPECT_ERR("pe: {kind: ctr}\nplacement:\n",
               "topo.yaml:2:11: placement: expected a non-empty list of {device, numa, cpus}, got "
               "nothing");
    EXPECT_ERR("pe: {kind: ctr}\n"
               "placement:\n"
               "  - device: x\n"
               "    node: 1\n",
               "topo.yaml:4:5: placement[0]: unknown key \"node\" (expected one of: device, "
               "numa, cpus)");
    EXPECT_ERR("pe: {kind: ctr}\n"
               "placement:\n"
               "  - {device: x, numa: 0}\n"
               "  - numa: 1\n",
               "topo.yaml:4:5: placement[1]: missing required key \"device\"");
    EXPECT_ERR("pe: {kind: ctr}\nplacement:\n  - device: x\n",
               "topo.yaml:3:5: placement[0]: missing required key \"numa\" (or cpus)");
    EXPECT_ERR("pe: {kind: ctr}\nplacement:\n  - {device: \"\", numa: 0}\n",
               "topo.yaml:3:14: placement[0].device: expected a non-empty string, got \"\"");
    EXPECT_ERR("pe: {kind: ctr}\nplacement:\n  - {device: x, numa: -1}\n",
               "topo.yaml:3:23: placement[0].numa: expected a non-negative integer, got \"-1\"");
    EXPECT_ERR("pe: {kind: ctr}\nplacement:\n  - {device: x, numa: 4096}\n",
               "topo.yaml:3:23: placement[0].numa: expected an integer in 0..4095, got \"4096\"");
    EXPECT_ERR("pe: {kind: ctr}\nplacement:\n  - {device: x, numa: 0, numa: 1}\n",
               "topo.yaml:3:26: placement[0]: duplicate key \"numa\" (first at line 3)");
    static const char *const bad_cpus[] = {"\"0-\"", "\"-3\"",      "\"3-1\"", "\"0,,1\"",
                                           "\"0,\"", "\"a\"",       "\"0 1\"", "\"1.5\"",
                                           "65536",  "\"0-65536\"", "\"0x3\""};
    for (size_t i = 0; i < sizeof bad_cpus / sizeof bad_cpus[0]; i++) {
        char yaml[256], want[512];
        snprintf(yaml, sizeof yaml, "pe: {kind: ctr}\nplacement:\n  - {device: x, cpus: %s}\n",
                 bad_cpus[i]);
        const char *v = bad_cpus[i];
        char shown[64];
        if (v[0] == '"')
            snprintf(shown, sizeof shown, "%s", v);
        else
            snprintf(shown, sizeof shown, "\"%s\"", v);
        snprintf(want, sizeof want,
                 "topo.yaml:3:23: placement[0].cpus: expected a cpu list such as \"0-3,8\" (cpus "
                 "0..65535), got %s",
                 shown);
        EXPECT_ERR(yaml, want);
    }
    EXPECT_ERR("pe: {kind: ctr}\nplacement:\n  - {device: x, cpus: \"\"}\n",
               "topo.yaml:3:23: placement[0].cpus: expected a non-empty string, got \"\"");
    /* Limits that are fine: the largest numa and cpu, and a long list. */
    EXPECT_OK(
        "pe: {kind: ctr}\nplacement:\n  - {device: x, numa: 4095, cpus: \"0,2,4-6,65535\"}\n");
    cr_assert_eq(topo.placement[0].numa, 4095);
}
