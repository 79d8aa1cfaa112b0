/* Ingest on every node (source.ingest: nodes, --ingest-on-nodes): each node of a local cluster
 * reads its own part of the input (a file's lines dealt into parts, or its own zmq endpoint),
 * parses it and routes every event to the node owning its key. The output must be byte for byte
 * the one-process run's over the same lines, and every malformed line must be reported with its
 * line number and byte offset in the whole file, checked against the file itself. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "proc.h"

TestSuite(ingest, .init = setup, .fini = teardown, .timeout = 600);

#define BAD_EVERY 97

/* One NDJSON event line (ids from tu_ad_id: quoting, UTF-8, prefixes) into buf. */
static int event_line(char *buf, size_t len, uint64_t *s, unsigned nads, uint64_t i)
{
    static const char *const types[] = {"view", "click", "purchase"};
    char id[256], esc[600];
    tu_ad_id((unsigned)(splitmix64(s) % nads), 6, id, sizeof id);
    size_t e = 0;
    for (const char *p = id; *p && e + 2 < sizeof esc; p++) {
        if (*p == '"' || *p == '\\')
            esc[e++] = '\\';
        esc[e++] = *p;
    }
    esc[e] = '\0';
    uint64_t ty = splitmix64(s) % 10;
    return snprintf(
        buf, len, "{\"ad_id\": \"%s\", \"event_type\": \"%s\", \"event_time\": %" PRIu64 "}\n", esc,
        types[ty < 7   ? 0
              : ty < 9 ? 1
                       : 2],
        UINT64_C(1767225600000) + i);
}

/* Writes `lines` lines to `name`: events, and every BAD_EVERY-th line a malformed one. */
static void write_events(const char *name, size_t lines, uint64_t seed)
{
    static const char *const bad[] = {"not json", "{\"ad_id\": 7, \"event_type\": \"view\"}",
                                      "[1, 2]", "{\"ad_id\": \"x\""};
    FILE *f = create(name);
    uint64_t s = seed;
    for (size_t i = 0; i < lines; i++) {
        char line[1024];
        if (i % BAD_EVERY == BAD_EVERY - 1)
            fprintf(f, "%s\n", bad[(i / BAD_EVERY) % 4]);
        else if (event_line(line, sizeof line, &s, 3000, i) > 0)
            fputs(line, f);
    }
    fclose(f);
}

/* Checks each "line L: ... (column C, byte B)" of err against the file `text`: L is one of the
 * malformed lines, and B is column C of line L. Returns how many were checked. */
static size_t check_bad_lines(const char *err, const char *text)
{
    size_t checked = 0;
    for (const char *l = err; (l = strstr(l, "line ")); l++) {
        if (l != err && l[-1] != '\n')
            continue;
        unsigned long long line, col, byte;
        const char *c = strstr(l, "(column ");
        const char *eol = strchr(l, '\n');
        cr_assert(c && (!eol || c < eol), "no column in: %.120s", l);
        cr_assert(eq(int, sscanf(l, "line %llu", &line), 1));
        cr_assert(eq(int, sscanf(c, "(column %llu, byte %llu)", &col, &byte), 2), "%.120s", c);
        cr_assert(eq(u64, line % BAD_EVERY, 0), "line %llu is not a malformed one", line);
        const char *p = text;
        for (unsigned long long k = 1; k < line; k++) {
            p = strchr(p, '\n');
            cr_assert_not_null(p, "line %llu is past the end", line);
            p++;
        }
        cr_assert(eq(u64, (uint64_t)(p - text) + col - 1, byte), "line %llu: byte offset", line);
        checked++;
    }
    return checked;
}

Test(ingest, file_parts_equal_one_process)
{
    size_t lines = 60000;
    write_events("events.ndjson", lines, 11);
    struct run one = run_sluice("ctr --input events.ndjson -q", 300);
    struct run three = run_sluice("ctr --input events.ndjson -q --nodes 3 --ingest-on-nodes", 300);
    cr_assert(eq(int, one.status, 0), "%s", one.err);
    cr_assert(eq(int, three.status, 0), "%s", three.err);
    assert_same_text(three.out, one.out, "--ingest-on-nodes against one process");
    char total[96];
    snprintf(total, sizeof total, "%zu malformed lines skipped in all", lines / BAD_EVERY);
    cr_assert_not_null(strstr(three.err, total), "want \"%s\" in: %s", total, three.err);
    char *text = slurp("events.ndjson", NULL);
    cr_assert(eq(sz, check_bad_lines(three.err, text), 10), "%s", three.err);
    run_free(&three);
    /* each node's part parsed by a pool of threads preading the part (src_par.c): the same rows
     * and the same malformed lines, numbered in the file */
    three = run_sluice("ctr --input events.ndjson -q --nodes 3 --ingest-on-nodes --threads 3", 300);
    cr_assert(eq(int, three.status, 0), "%s", three.err);
    assert_same_text(three.out, one.out, "--ingest-on-nodes --threads 3 against one process");
    cr_assert_not_null(strstr(three.err, total), "want \"%s\" in: %s", total, three.err);
    cr_assert(eq(sz, check_bad_lines(three.err, text), 10), "%s", three.err);
    free(text);
    run_free(&one);
    run_free(&three);

    /* CSV with a header: the later parts get it repeated; the same rows again */
    FILE *f = create("events.csv");
    fprintf(f, "event_time,event_type,ad_id\n");
    uint64_t s = 5;
    for (unsigned i = 0; i < 20000; i++)
        fprintf(f, "%u,%s,ad-%u\n", 1000 + i, splitmix64(&s) % 10 < 8 ? "view" : "click",
                (unsigned)(splitmix64(&s) % 700));
    fclose(f);
    one = run_sluice("ctr --input events.csv --format csv -q", 300);
    three = run_sluice("ctr --input events.csv --format csv -q --nodes 2 --ingest-on-nodes", 300);
    cr_assert(eq(int, one.status, 0), "%s", one.err);
    cr_assert(eq(int, three.status, 0), "%s", three.err);
    cr_assert(eq(str, three.err, ""), "no line is malformed: %s", three.err);
    assert_same_text(three.out, one.out, "CSV --ingest-on-nodes against one process");
    run_free(&one);
    run_free(&three);
    finish();
}

/* Combining (docs/cluster.md): with a one-stage reduce PE, no checkpoints and no snapshots,
 * each node aggregates every record of its part and sends the owners partial states instead of
 * records. Every node says so in the run's summary (states sent and taken in), and the output
 * equals both the one-process run's and that of the same cluster routing every record (which it
 * does with checkpoints, whose cut combining would change), for CTR and a plain count. */
Test(ingest, combined_states_equal_routed_records)
{
    write_events("events.ndjson", 90000, 23);
    FILE *f = create("count.yaml");
    fprintf(f, "source: {type: file, path: events.ndjson, format: ndjson}\n"
               "pe: {kind: count}\nsink: {path: \"-\"}\n");
    fclose(f);
    static const char *const jobs[] = {"ctr --input events.ndjson", "run count.yaml"};
    for (int k = 0; k < 2; k++) {
        char args[256];
        snprintf(args, sizeof args, "%s -q", jobs[k]);
        struct run one = run_sluice(args, 300);
        snprintf(args, sizeof args, "%s --nodes 3 --ingest-on-nodes", jobs[k]);
        struct run comb = run_sluice(args, 300);
        snprintf(args, sizeof args,
                 "%s -q --nodes 3 --ingest-on-nodes --checkpoint-ms 60000 --checkpoint-dir ck%d",
                 jobs[k], k);
        struct run routed = run_sluice(args, 300);
        cr_assert(eq(int, one.status, 0), "%s", one.err);
        cr_assert(eq(int, comb.status, 0), "%s", comb.err);
        cr_assert(eq(int, routed.status, 0), "%s", routed.err);
        for (unsigned i = 0; i < 3; i++) {
            char want[32];
            snprintf(want, sizeof want, "  node %u: ", i);
            const char *line = strstr(comb.err, want);
            cr_assert_not_null(line, "%s", comb.err);
            unsigned long long out = 0, in = 0;
            const char *c = strstr(line, "; combined: ");
            cr_assert(c && c < strchr(line, '\n'), "node %u did not combine: %s", i, comb.err);
            cr_assert(
                eq(int, sscanf(c, "; combined: %llu partial states sent, %llu taken in", &out, &in),
                   2));
            cr_assert(out > 0 && in > 0, "node %u: %s", i, line);
        }
        cr_assert_null(strstr(routed.err, "combined:"), "%s", routed.err);
        assert_same_text(comb.out, one.out, "combined against one process");
        assert_same_text(routed.out, one.out, "routed against one process");
        run_free(&one);
        run_free(&comb);
        run_free(&routed);
    }
    finish();
}

/* Three ports in a row that nobody listens on now, below Linux's ephemeral range (32768 and up
 * by default): a port from that range can be taken as the local end of another test's connection
 * between this check and the node's bind. */
static unsigned free_ports3(void)
{
    for (int tries = 0; tries < 50; tries++) {
        int fd[3] = {-1, -1, -1}, ok = 1;
        unsigned base = 20000 + ((unsigned)getpid() * 7919u + (unsigned)tries * 113u) % 12000u;
        for (int k = 0; k < 3 && ok; k++) {
            fd[k] = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(base + k))};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            ok = bind(fd[k], (struct sockaddr *)&a, sizeof a) == 0;
        }
        for (int k = 0; k < 3; k++)
            if (fd[k] >= 0)
                close(fd[k]);
        if (ok)
            return base;
    }
    cr_assert(0, "no three free ports in a row");
    return 0;
}

/* A zmq source on every node of `--nodes 3` (node i binds port + i): messages of 1..9 lines go
 * to each node's endpoint, one malformed line among them; SIGINT then drains every node and the
 * final rows equal a one-process run over the same lines, read from a file. */
Test(ingest, zmq_on_every_node_sigint)
{
    unsigned port = free_ports3();
    cr_log_info("the nodes' sources bind ports %u to %u", port, port + 2);
    char topo[512];
    snprintf(topo, sizeof topo,
             "source: {type: zmq, bind: \"tcp://127.0.0.1:%u\", format: ndjson, ingest: nodes}\n"
             "pe: {kind: ctr}\n"
             "sink: {path: out.csv}\n",
             port);
    tu_write_file(tpath("topo.yaml"), topo);
    pid_t pid = spawn("run topo.yaml --nodes 3", NULL, "err.txt");
    FILE *all = create("all.ndjson");
    void *ctx = zmq_ctx_new();
    void *push[3];
    for (unsigned d = 0; d < 3; d++) {
        char ep[64];
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", port + d);
        push[d] = zmq_socket(ctx, ZMQ_PUSH);
        cr_assert(eq(int, zmq_connect(push[d], ep), 0));
    }
    uint64_t s = 17, ev = 0;
    for (unsigned m = 0; m < 90; m++) {
        char msg[8192];
        size_t len = 0;
        for (unsigned l = 0; l < 1 + m % 9; l++) {
            int n = m == 40 && l == 0 ? snprintf(msg + len, sizeof msg - len, "{broken\n")
                                      : event_line(msg + len, sizeof msg - len, &s, 50, ev++);
            cr_assert(gt(int, n, 0));
            len += (size_t)n;
        }
        fwrite(msg, 1, len, all);
        cr_assert(eq(int, zmq_send(push[m % 3], msg, len, 0), (int)len));
    }
    fclose(all);
    for (unsigned d = 0; d < 3; d++) {
        int linger = 60000;
        zmq_setsockopt(push[d], ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(push[d]); /* blocks until each node's source has its messages */
    }
    zmq_ctx_term(ctx);
    usleep(500000);
    cr_assert(eq(int, kill(pid, SIGINT), 0));
    int st = wait_exit(pid, 60, "run --nodes 3 after SIGINT");
    char *err = slurp("err.txt", NULL);
    cr_assert(eq(int, st, 0), "exit %d after SIGINT:\n%s", st, err);
    /* message 41 went to node 1 as its 14th: named with the node, the message and its line */
    cr_assert_not_null(strstr(err, "line 1: node 1: message 14 from 127.0.0.1: "),
                       "the malformed line is reported: %s", err);
    cr_assert_not_null(strstr(err, "input: "), "%s", err);
    free(err);
    struct run one = run_sluice("ctr --input all.ndjson -q", 300);
    cr_assert(eq(int, one.status, 0), "%s", one.err);
    char *out = slurp("out.csv", NULL);
    assert_same_text(out, one.out, "zmq on every node against one process over the same lines");
    free(out);
    run_free(&one);
    finish();
}

Test(ingest, refused_where_a_source_has_one_reader)
{
    struct run r = run_sluice("ctr --input - --nodes 2 --ingest-on-nodes -q", 300);
    cr_assert(ne(int, r.status, 0));
    cr_assert_not_null(strstr(r.err, "source.ingest: nodes: it has one reader"), "%s", r.err);
    run_free(&r);
    r = run_sluice("ctr --input x.ndjson --ingest-on-nodes", 60);
    cr_assert(eq(int, r.status, 2));
    cr_assert_not_null(strstr(r.err, "needs --nodes or --cluster"), "%s", r.err);
    run_free(&r);
    tu_write_file(tpath("gen.yaml"), "source: {type: generator, events: 10,\n"
                                     "         ingest: nodes}\npe: {kind: count}\n");
    r = run_sluice("run gen.yaml", 60);
    cr_assert(eq(int, r.status, 2));
    cr_assert_not_null(strstr(r.err, "gen.yaml:2:18: source.ingest: nodes: every node would "
                                     "generate the same events"),
                       "%s", r.err);
    run_free(&r);
    finish();
}
