/* The metrics endpoint (host/obs): the Prometheus text of a snapshot built here, checked line by
 * line against the exposition format and against the numbers put in; and a live `sluice ctr
 * --metrics 127.0.0.1:0` read over a real socket while its input stays open: its counters equal
 * what the test wrote (events, malformed lines with their line numbers, distinct keys), the UI's
 * files and JSON are served, and POST .../stop ends the run with its final rows. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"
#include "proc.h"

/* ---- the exposition format ------------------------------------------------------------------- */

/* 1 when line is `name{labels} value` with a metric name, label pairs name="value" (escapes
 * \\, \", \n) and a number. */
static int sample_line(const char *line)
{
    const char *p = line;
    if (!(*p == '_' || *p == ':' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return 0;
    while (*p == '_' || *p == ':' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
           (*p >= '0' && *p <= '9'))
        p++;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
                return 0;
            while ((*p >= 'a' && *p <= 'z') || *p == '_')
                p++;
            if (p[0] != '=' || p[1] != '"')
                return 0;
            p += 2;
            while (*p != '"') {
                if (!*p || *p == '\n')
                    return 0;
                if (*p == '\\') {
                    if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
                        return 0;
                    p++;
                }
                p++;
            }
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return 0;
        }
        p++;
    }
    if (*p != ' ')
        return 0;
    char *end;
    strtod(p + 1, &end);
    return end != p + 1 && *end == '\0';
}

/* The value of the sample line that starts with `series ` in text, or asserts. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    cr_assert(0, "no sample %s in:\n%s", series, text);
    return 0;
}

/* Checks every line of a Prometheus text: comments are # HELP or # TYPE of a family whose
 * samples follow, each family's header comes once, and samples parse. */
static void check_format(const char *text)
{
    char *copy = strdup(text), *save = NULL;
    cr_assert_not_null(copy);
    char families[64][96];
    int nfam = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            char kind[8], name[96];
            cr_assert(eq(int, sscanf(line, "# %7s %95s", kind, name), 2), "%s", line);
            cr_assert(strcmp(kind, "HELP") == 0 || strcmp(kind, "TYPE") == 0, "%s", line);
            if (strcmp(kind, "TYPE") == 0) {
                for (int i = 0; i < nfam; i++)
                    cr_assert(ne(str, families[i], name), "family %s declared twice", name);
                cr_assert(lt(int, nfam, 64));
                snprintf(families[nfam++], sizeof families[0], "%s", name);
                const char *type = line + strlen("# TYPE ") + strlen(name) + 1;
                cr_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                              strcmp(type, "histogram") == 0,
                          "%s", line);
                if (strcmp(type, "counter") == 0)
                    cr_assert(strstr(name, "_total") != NULL, "counter %s ends in _total", name);
            }
            continue;
        }
        cr_assert(sample_line(line), "not a sample line: \"%s\"", line);
        cr_assert(gt(int, nfam, 0), "a sample before any family: %s", line);
        const char *fam = families[nfam - 1];
        cr_assert(eq(int, strncmp(line, fam, strlen(fam)), 0), "%s outside family %s", line, fam);
    }
    free(copy);
}

Test(metrics, prometheus_text_of_a_snapshot)
{
    static sl_obs_job j;
    memset(&j, 0, sizeof j);
    snprintf(j.name, sizeof j.name, "ad \"ctr\"\\x\n");
    snprintf(j.state, sizeof j.state, "running");
    snprintf(j.source, sizeof j.source, "tcp");
    snprintf(j.sink, sizeof j.sink, "csv");
    j.stages = 2;
    snprintf(j.pe_name[0], sizeof j.pe_name[0], "per_ad");
    snprintf(j.pe_name[1], sizeof j.pe_name[1], "per_campaign");
    j.chain.stages = 2;
    j.chain.engine[0].events_in = 123456789;
    j.chain.engine[0].type_counts[1] = 4242;
    j.chain.engine[1].keys = 77;
    j.chain.engine[0].table_slots = 65536;
    j.input.bad = 3;
    const double obs[] = {2e-6, 5e-4, 5e-4, 0.2, 50.0};
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
        sl_hist_add(&j.chain.engine[0].h_kernel, obs[i]);
    sl_bytebuf b = {0};
    cr_assert(eq(int, sl_metrics_prometheus(&j, 1, NULL, &b), 0));
    cr_assert(eq(int, sl_bytebuf_append(&b, "", 1), 0));
    const char *t = (const char *)b.p;
    check_format(t);
    const char *job = "job=\"ad \\\"ctr\\\"\\\\x\\n\"";
    char s[400];
    snprintf(s, sizeof s, "sluice_events_in_total{%s,pe=\"per_ad\"}", job);
    cr_assert(eq(dbl, sample(t, s), 123456789.0));
    snprintf(s, sizeof s, "sluice_events_by_type_total{%s,pe=\"per_ad\",type=\"click\"}", job);
    cr_assert(eq(dbl, sample(t, s), 4242.0));
    snprintf(s, sizeof s, "sluice_table_keys{%s,pe=\"per_campaign\"}", job);
    cr_assert(eq(dbl, sample(t, s), 77.0));
    snprintf(s, sizeof s, "sluice_input_malformed_total{%s}", job);
    cr_assert(eq(dbl, sample(t, s), 3.0));
    /* the histogram: cumulative buckets, +Inf = count = 5, sum of the observations */
    const char *h = "sluice_stage_duration_seconds";
    snprintf(s, sizeof s, "%s_bucket{%s,pe=\"per_ad\",stage=\"kernel\",le=\"1e-05\"}", h, job);
    cr_assert(eq(dbl, sample(t, s), 1.0));
    snprintf(s, sizeof s, "%s_bucket{%s,pe=\"per_ad\",stage=\"kernel\",le=\"0.001\"}", h, job);
    cr_assert(eq(dbl, sample(t, s), 3.0));
    snprintf(s, sizeof s, "%s_bucket{%s,pe=\"per_ad\",stage=\"kernel\",le=\"30\"}", h, job);
    cr_assert(eq(dbl, sample(t, s), 4.0));
    snprintf(s, sizeof s, "%s_bucket{%s,pe=\"per_ad\",stage=\"kernel\",le=\"+Inf\"}", h, job);
    cr_assert(eq(dbl, sample(t, s), 5.0));
    snprintf(s, sizeof s, "%s_count{%s,pe=\"per_ad\",stage=\"kernel\"}", h, job);
    cr_assert(eq(dbl, sample(t, s), 5.0));
    snprintf(s, sizeof s, "%s_sum{%s,pe=\"per_ad\",stage=\"kernel\"}", h, job);
    cr_assert(ieee_ulp_eq(dbl, sample(t, s), 2e-6 + 5e-4 + 5e-4 + 0.2 + 50.0, 4));
    cr_assert_null(strstr(t, "sluice_checkpoints_total"), "no checkpoint series without them");
    sl_bytebuf_free(&b);
}

/* ---- a live run -------------------------------------------------------------------------------
 */

TestSuite(metrics_live, .init = setup, .fini = finish, .timeout = 120);

/* A TCP connection to 127.0.0.1:port, or -1 (errno set). */
static int dial(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Sends an HTTP request to 127.0.0.1:port and returns the whole response (malloc'd). */
static char *http(unsigned port, const char *method, const char *path)
{
    int fd = dial(port);
    cr_assert(ge(int, fd, 0), "connect: %s", strerror(errno));
    char req[512];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: "
                     "close\r\n\r\n",
                     method, path);
    cr_assert(eq(long, (long)write(fd, req, (size_t)n), (long)n));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (;;) {
        if (cap - len < 4096) {
            buf = realloc(buf, cap *= 2);
            cr_assert_not_null(buf);
        }
        ssize_t got = read(fd, buf + len, cap - len - 1);
        cr_assert(ge(long, (long)got, 0L), "read: %s", strerror(errno));
        if (got == 0)
            break;
        len += (size_t)got;
    }
    buf[len] = '\0';
    close(fd);
    return buf;
}

/* The body of an HTTP response, after asserting its status. */
static const char *body(const char *resp, int status)
{
    int got = 0;
    cr_assert(eq(int, sscanf(resp, "HTTP/1.%*d %d", &got), 1), "%.200s", resp);
    cr_assert(eq(int, got, status), "%.300s", resp);
    const char *b = strstr(resp, "\r\n\r\n");
    cr_assert_not_null(b);
    return b + 4;
}

/* Asserts the status of one request's response. */
static void expect_status(unsigned port, const char *method, const char *path, int status)
{
    char *r = http(port, method, path);
    body(r, status);
    free(r);
}

/* The port in "metrics at http://127.0.0.1:PORT/metrics" on err.txt, waiting up to 30 s. */
static unsigned metrics_port(void)
{
    double end = now_s() + 30;
    while (now_s() < end) {
        char *err = exists("err.txt") ? slurp("err.txt", NULL) : NULL;
        const char *p = err ? strstr(err, "metrics at http://127.0.0.1:") : NULL;
        unsigned port =
            p ? (unsigned)strtoul(p + strlen("metrics at http://127.0.0.1:"), NULL, 10) : 0;
        free(err);
        if (port)
            return port;
        usleep(20000);
    }
    cr_assert(0, "no metrics address on stderr");
    return 0;
}

/* Polls /metrics until `series` reads `want` (at most 30 s); returns the last text (malloc'd). */
static char *until(unsigned port, const char *series, double want)
{
    double end = now_s() + 30;
    for (;;) {
        char *r = http(port, "GET", "/metrics");
        const char *t = body(r, 200);
        const char *at = strstr(t, series);
        if (at && strtod(at + strlen(series) + 1, NULL) == want)
            return r;
        if (now_s() > end)
            cr_assert(0, "%s never reached %g:\n%s", series, want, t);
        free(r);
        usleep(50000);
    }
}

#define ADS 37
#define LINES 3000

Test(metrics_live, counters_equal_the_input_and_stop_ends_the_run)
{
    int p[2];
    cr_assert(eq(int, pipe2(p, O_CLOEXEC), 0)); /* the child keeps no write end: EOF reaches it */
    pid_t pid =
        spawn_in("ctr --input - --output out.csv --metrics 127.0.0.1:0", p[0], NULL, "err.txt");
    close(p[0]);
    unsigned port = metrics_port();
    /* LINES lines, three of them malformed (lines 10, 500 and 2999), over ADS ads */
    unsigned long imp[ADS] = {0}, clk[ADS] = {0};
    unsigned valid = 0;
    for (unsigned i = 1; i <= LINES; i++) {
        char line[200];
        int n;
        if (i == 10 || i == 500 || i == 2999) {
            n = snprintf(line, sizeof line, "{\"ad_id\": \"ad-%u\", \"event_type\": \n", i);
        } else {
            unsigned ad = (i * 7u) % ADS;
            int click = i % 6 == 0;
            n = snprintf(line, sizeof line,
                         "{\"ad_id\":\"ad-%u\",\"event_type\":\"%s\",\"event_time\":%u}\n", ad,
                         click ? "click" : "view", 1000 + i);
            if (click)
                clk[ad]++;
            else
                imp[ad]++;
            valid++;
        }
        cr_assert(eq(long, (long)write(p[1], line, (size_t)n), (long)n));
    }
    char *r = until(port, "sluice_events_in_total{job=\"ctr\",pe=\"ctr\"}", valid);
    const char *t = body(r, 200);
    check_format(t);
    cr_assert(eq(dbl, sample(t, "sluice_input_malformed_total{job=\"ctr\"}"), 3.0));
    cr_assert(eq(dbl, sample(t, "sluice_input_lines_total{job=\"ctr\"}"), (double)LINES));
    cr_assert(eq(dbl, sample(t, "sluice_job_running{job=\"ctr\"}"), 1.0));
    free(r);
    /* types are counted as the batch goes to the device, within the batch wait */
    unsigned long clicks = 0;
    for (int a = 0; a < ADS; a++)
        clicks += clk[a];
    free(until(port, "sluice_events_by_type_total{job=\"ctr\",pe=\"ctr\",type=\"click\"}",
               (double)clicks));
    /* the batch reaches the device within the batch wait; its keys count once it is done */
    free(until(port, "sluice_table_keys{job=\"ctr\",pe=\"ctr\"}", ADS));

    r = http(port, "GET", "/api/jobs");
    t = body(r, 200);
    cr_assert_not_null(strstr(t, "\"name\":\"ctr\""), "%s", t);
    cr_assert_not_null(strstr(t, "\"state\":\"running\""), "%s", t);
    static const unsigned bad_lines[] = {10, 500, 2999};
    for (int i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"line\":%u,\"column\":", bad_lines[i]);
        cr_assert_not_null(strstr(t, want), "the reasons name line %u: %s", bad_lines[i], t);
    }
    free(r);
    r = http(port, "GET", "/");
    cr_assert_not_null(strstr(body(r, 200), "<title>sluice</title>"));
    free(r);
    r = http(port, "GET", "/app.js");
    cr_assert_not_null(strstr(body(r, 200), "/api/jobs"));
    free(r);
    expect_status(port, "GET", "/nothing-here", 404);
    expect_status(port, "POST", "/api/jobs/other/stop", 404);
    expect_status(port, "DELETE", "/metrics", 405);

    /* Stop from the endpoint: the input ends as on SIGINT, the final rows are written, exit 0 */
    r = http(port, "POST", "/api/jobs/ctr/stop");
    body(r, 202);
    free(r);
    cr_assert(eq(int, wait_exit(pid, 60, "sluice ctr after a stop"), 0));
    close(p[1]);
    char *out = slurp("out.csv", NULL);
    cr_assert(eq(sz, count_lines(out), (size_t)ADS + 1), "%s", out);
    for (int a = 0; a < ADS; a++) {
        char prefix[32], buf[200];
        snprintf(prefix, sizeof prefix, "ad-%d,", a);
        const char *row = line_starting(out, prefix, buf, sizeof buf);
        unsigned long i = 0, c = 0;
        cr_assert(eq(int, sscanf(row + strlen(prefix), "%lu,%lu", &i, &c), 2), "%s", row);
        cr_assert(eq(u64, i, imp[a]), "%s", row);
        cr_assert(eq(u64, c, clk[a]), "%s", row);
    }
    free(out);
}

/* A windowed run's late events: their count, and the newest SL_LATE_NOTES of them in /api/jobs
 * with the window that had closed and the watermark that closed it, computed here from the
 * input; and the batch wait: one observation per batch, each at least batch.max_wait_ms when
 * input stops short of a full batch (the timer dispatches it). */
#define WIN_EVENTS 400
#define WIN_WAIT_MS 200
Test(metrics_live, late_events_name_their_windows_and_batches_their_wait)
{
    FILE *f = fopen(tpath("win.yaml"), "w");
    cr_assert_not_null(f);
    fprintf(f,
            "source: {type: stdin}\n"
            "pe: {kind: window_count, window_ms: 1000, lateness_ms: 0}\n"
            "batch: {max_wait_ms: %d}\n"
            "sink: {path: out.csv}\n",
            WIN_WAIT_MS);
    fclose(f);
    int p[2];
    cr_assert(eq(int, pipe2(p, O_CLOEXEC), 0));
    pid_t pid = spawn_in("run win.yaml --metrics 127.0.0.1:0", p[0], NULL, "err.txt");
    close(p[0]);
    unsigned port = metrics_port();
    /* on time: event i at 100 i ms; after every 50th from the 100th, one 5 s and more behind */
    long long late_t[WIN_EVENTS], late_max[WIN_EVENTS];
    unsigned nlate = 0, valid = 0;
    for (unsigned i = 0; i < WIN_EVENTS; i++) {
        char line[200];
        int n = snprintf(line, sizeof line,
                         "{\"ad_id\":\"ad-%u\",\"event_type\":\"view\",\"event_time\":%u}\n", i % 7,
                         100 * i);
        cr_assert(eq(long, (long)write(p[1], line, (size_t)n), (long)n));
        valid++;
        if (i >= 100 && i % 50 == 0) {
            late_max[nlate] = 100LL * i;
            late_t[nlate] = 100LL * i - 5000 - 37 * (long long)nlate;
            n = snprintf(line, sizeof line,
                         "{\"ad_id\":\"ad-1\",\"event_type\":\"view\",\"event_time\":%lld}\n",
                         late_t[nlate]);
            cr_assert(eq(long, (long)write(p[1], line, (size_t)n), (long)n));
            nlate++;
            valid++;
        }
    }
    cr_assert(gt(uint, nlate, (unsigned)SL_LATE_NOTES), "more late events than notes kept");
    char *r = until(port, "sluice_events_late_total{job=\"win\",pe=\"window_count\"}", nlate);
    free(r);
    /* a record's type is counted when it is refused as late or its batch is dispatched */
    r = until(port, "sluice_events_by_type_total{job=\"win\",pe=\"window_count\",type=\"view\"}",
              valid);
    const char *t = body(r, 200);
    check_format(t);
    double batches = sample(t, "sluice_batches_total{job=\"win\",pe=\"window_count\"}");
    cr_assert(ge(dbl, batches, 1.0));
    cr_assert(eq(dbl, sample(t, "sluice_batch_wait_seconds_count{job=\"win\",pe=\"window_count\"}"),
                 batches),
              "one wait per batch:\n%s", t);
    cr_assert(eq(dbl,
                 sample(t, "sluice_batch_wait_seconds_bucket{job=\"win\",pe=\"window_count\","
                           "le=\"0.1\"}"),
                 0.0),
              "every batch waited max_wait_ms (%d ms) for more input:\n%s", WIN_WAIT_MS, t);
    cr_assert(ge(dbl, sample(t, "sluice_batch_wait_seconds_sum{job=\"win\",pe=\"window_count\"}"),
                 batches * WIN_WAIT_MS / 1000.0));
    free(r);

    r = http(port, "GET", "/api/jobs");
    t = body(r, 200);
    /* newest first; the oldest late events are no longer listed */
    const char *at = t;
    for (unsigned k = 0; k < nlate; k++) {
        unsigned i = nlate - 1 - k;
        long long start = late_t[i] - late_t[i] % 1000;
        char want[400];
        snprintf(want, sizeof want,
                 "\"time_ms\":%lld,\"late\":true,\"reason\":\"event time %lld ms is late: its "
                 "window [%lld, %lld) had closed, the watermark being %lld ms (latest event time "
                 "%lld ms less lateness 0 ms)\"",
                 late_t[i], late_t[i], start, start + 1000, late_max[i], late_max[i]);
        const char *hit = strstr(at, want);
        if (k < SL_LATE_NOTES) {
            cr_assert_not_null(hit, "late note %u (newest first): %s\nin %s", k, want, t);
            at = hit + 1;
        } else {
            cr_assert_null(strstr(t, want), "only the newest %d are kept: %s", SL_LATE_NOTES, t);
        }
    }
    free(r);
    r = http(port, "POST", "/api/jobs/win/stop");
    body(r, 202);
    free(r);
    cr_assert(eq(int, wait_exit(pid, 60, "sluice run after a stop"), 0));
    close(p[1]);
}

/* A free run of n consecutive ports on 127.0.0.1 in 20000..29999 (checked by binding). */
static unsigned free_ports(unsigned n)
{
    for (unsigned tries = 0; tries < 200; tries++) {
        unsigned base = 20000 + (unsigned)((getpid() * 7919u + tries * 104729u) % 9990u);
        unsigned ok = 1;
        for (unsigned i = 0; i < n && ok; i++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in sa = {.sin_family = AF_INET,
                                     .sin_port = htons((uint16_t)(base + i))};
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
            if (fd >= 0)
                close(fd);
        }
        if (ok)
            return base;
    }
    cr_assert(0, "no free ports");
    return 0;
}

/* `--nodes 3 --metrics 127.0.0.1:P`: node i serves its part of the job at P + i. Over the three
 * endpoints, events in add up to the events written; each node shows its outboxes to its peers
 * and its rejected frames by reason, and labels its series with its name. */
Test(metrics_live, every_node_of_a_local_cluster_serves_its_part, .timeout = 240)
{
    skip_if_sanitized("three nodes and their PoCL builds under ASan are too slow here");
    int p[2];
    cr_assert(eq(int, pipe2(p, O_CLOEXEC), 0)); /* the child keeps no write end: EOF reaches it */
    unsigned port = free_ports(3);
    char args[200];
    snprintf(args, sizeof args, "ctr --input - --output out.csv --nodes 3 --metrics 127.0.0.1:%u",
             port);
    pid_t pid = spawn_in(args, p[0], NULL, "err.txt");
    close(p[0]);
    unsigned long imp[ADS] = {0};
    unsigned valid = 0;
    for (unsigned i = 1; i <= LINES; i++) {
        char line[200];
        unsigned ad = (i * 7u) % ADS;
        int n = snprintf(line, sizeof line,
                         "{\"ad_id\":\"ad-%u\",\"event_type\":\"view\",\"event_time\":%u}\n", ad,
                         1000 + i);
        imp[ad]++;
        valid++;
        cr_assert(eq(long, (long)write(p[1], line, (size_t)n), (long)n));
    }
    double end = now_s() + 120;
    double total = 0;
    while (now_s() < end) {
        total = 0;
        int up = 0;
        for (unsigned i = 0; i < 3; i++) {
            int fd = dial(port + i);
            if (fd < 0)
                continue;
            close(fd);
            up++;
            char *r = http(port + i, "GET", "/metrics");
            const char *t = body(r, 200);
            const char *at = strstr(t, "sluice_events_in_total{job=\"job-");
            if (at)
                total += strtod(strchr(at, '}') + 2, NULL);
            free(r);
        }
        if (up == 3 && total == valid)
            break;
        usleep(100000);
    }
    cr_assert(eq(dbl, total, (double)valid), "events in over the 3 nodes");
    for (unsigned i = 0; i < 3; i++) {
        char *r = http(port + i, "GET", "/metrics");
        const char *t = body(r, 200);
        check_format(t);
        char want[160];
        snprintf(want, sizeof want, ",node=\"node-%u\",pe=\"ctr\"}", i);
        cr_assert_not_null(strstr(t, want), "node %u labels its job series: %s", i, t);
        for (unsigned peer = 0; peer < 3; peer++) {
            if (peer == i)
                continue;
            snprintf(
                want, sizeof want,
                "sluice_outbox_queued_frames{node=\"node-%u\",peer=\"node-%u\",port=\"stage0\"}", i,
                peer);
            cr_assert_not_null(strstr(t, want), "node %u shows its outbox to node %u", i, peer);
        }
        snprintf(want, sizeof want, "sluice_frames_rejected_total{node=\"node-%u\",reason=", i);
        cr_assert_not_null(strstr(t, want), "%s", t);
        free(r);
        r = http(port + i, "GET", "/api/jobs");
        snprintf(want, sizeof want, "{\"node\":\"node-%u\",\"jobs\":[{\"name\":\"job-", i);
        cr_assert_not_null(strstr(body(r, 200), want), "%s", r);
        cr_assert_not_null(strstr(r, "\"outboxes\":[{\"peer\":"), "%s", r);
        free(r);
    }
    /* a node's part cannot be stopped there: it says where */
    char *r = http(port, "GET", "/api/jobs");
    const char *name = strstr(r, "\"name\":\"job-");
    cr_assert_not_null(name);
    char path[100];
    snprintf(path, sizeof path, "/api/jobs/job-%lu/stop", strtoul(name + 12, NULL, 10));
    free(r);
    r = http(port, "POST", path);
    cr_assert_not_null(strstr(body(r, 409), "where it was submitted"), "%s", r);
    free(r);
    close(p[1]); /* the end of input ends the job */
    cr_assert(eq(int, wait_exit(pid, 120, "sluice ctr --nodes 3"), 0));
    char *out = slurp("out.csv", NULL);
    cr_assert(eq(sz, count_lines(out), (size_t)ADS + 1), "%s", out);
    for (int a = 0; a < ADS; a++) {
        char prefix[32], buf[200];
        snprintf(prefix, sizeof prefix, "ad-%d,", a);
        const char *row = line_starting(out, prefix, buf, sizeof buf);
        cr_assert(eq(u64, strtoul(row + strlen(prefix), NULL, 10), imp[a]), "%s", row);
    }
    free(out);
}
