/* Several devices per node (host/multidev.h): a PE spread over two devices gives, row for row,
 * what the plain C reference gives on the whole stream (and what one device gives), for every
 * built-in PE, windows with late events included; pipelined and unpipelined batches agree; a
 * device's failure is reported with its index; `sluice ctr --devices 2` prints what
 * `sluice ctr` prints. Timers: with slow input that is never finished, sl_multi_tick makes every
 * record reach its device and every window close on every device within a bound (checked
 * against the reference), and `sluice run --devices 2` writes window rows while its input is
 * open.
 * Attributes (schema.attributes): a user PE that reads them by name gives on two devices, in
 * both dispatch modes and with windows and late events, exactly what a plain C reference gives
 * per key (int64 words past 2^53, doubles a float would round, each record's own index), and
 * `sluice run --devices 2` carries them from a file as one device does.
 *
 * Two devices: PoCL exposes one CPU device per entry of POCL_DEVICES, set here (inside each
 * test: Criterion forks, and OpenCL must not be initialised before the fork) unless the
 * environment already chose. Where fewer than two devices exist, device 0 is opened twice (two
 * contexts, two tables): the split and merge are still exercised. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "device.h"
#include "err.h"
#include "harness.h"
#include "multidev.h"
#include "proc.h"
#include "reference.h"
#include "watermark.h"

struct collect {
    pthread_mutex_t mu;
    bc_rows rows;
    size_t finals; /* SL_EMIT_FINAL calls */
};

static int collect_rows(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    struct collect *c = ud;
    pthread_mutex_lock(&c->mu);
    if (kind == SL_EMIT_FINAL)
        c->finals++;
    cr_assert_eq(bc_rows_append(&c->rows, rows, n), 0, "out of memory");
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* The two devices of the test that runs (.init = open_two, .fini = close_two). */
static sl_device *devs[2];
static const uint32_t nd = 2;

static void open_two(void)
{
    setenv("POCL_DEVICES", "pthread pthread", 0);
    char msg[2048];
    int have = sl_device_count(NULL);
    cr_assert_geq(have, 1, "no OpenCL device");
    for (unsigned i = 0; i < nd; i++) {
        int rc = sl_device_open_nth(NULL, have >= 2 ? i : 0, &devs[i], msg, sizeof msg);
        cr_assert_eq(rc, 0, "device %u: %s", i, msg);
    }
}

static void close_two(void)
{
}

/* A test on the two devices (open_two, close_two); timeout_s 0: no time limit. */
#define TWO_DEVICE_TEST(name, timeout_s)                                                           \
    Test(multidev, name, .init = open_two, .fini = close_two, .timeout = timeout_s)

struct mres {
    int rc;
    char msg[2048];
    struct collect c;
    sl_multi_stats st;
};

/* Runs cfg over recs on the first ndev devices, `chunk` records per push; rows sorted by key and
 * window. */
static void run_multi(uint32_t ndev, const sl_engine_cfg *cfg, const sl_rec *recs, size_t n,
                      size_t chunk, struct mres *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->c.mu, NULL);
    sl_multi *m = NULL;
    r->rc =
        sl_multi_new(devs, ndev, cfg, NULL, NULL, collect_rows, &r->c, &m, r->msg, sizeof r->msg);
    if (r->rc)
        return;
    r->rc = bc_feed(BC_MULTI, m, recs, n, chunk);
    if (r->rc)
        snprintf(r->msg, sizeof r->msg, "%s", sl_multi_message(m));
    sl_multi_get_stats(m, &r->st);
    sl_multi_destroy(&m);
    if (r->c.rows.rows)
        qsort(r->c.rows.rows, r->c.rows.n, sizeof *r->c.rows.rows, sl_row_cmp_key);
}

/* Multi on devs against the reference on the whole stream, then checks the accounting. */
static void check(uint32_t ndev, const sl_engine_cfg *cfg, const sl_rec *recs, size_t n,
                  size_t chunk)
{
    struct mres r;
    run_multi(ndev, cfg, recs, n, chunk, &r);
    cr_assert_eq(r.rc, 0, "%s (%s)", sl_strerror(r.rc), r.msg);
    cr_assert_eq(r.c.finals, 1, "one final emission, however many devices");
    uint64_t late = th_assert_reference(&cfg->pe, recs, n, r.c.rows.rows, r.c.rows.n);
    cr_assert_eq(r.st.total.events_in, n);
    cr_assert_eq(r.st.total.events_late, late, "late: multi %llu, reference %llu",
                 (unsigned long long)r.st.total.events_late, (unsigned long long)late);
    uint64_t types = 0, on_devices = 0;
    for (int t = 0; t < SL_EV_NTYPES; t++)
        types += r.st.total.type_counts[t];
    cr_assert_eq(types, n, "every record is counted by type");
    for (uint32_t d = 0; d < ndev; d++) {
        on_devices += r.st.dev[d].events_in;
        if (n >= 10000)
            cr_assert_gt(r.st.dev[d].events_in, n / 10, "device %u gets a share of the keys", d);
    }
    cr_assert_eq(on_devices, n - late - r.st.total.events_bad_time,
                 "the devices got every record that was not dropped");
    free(r.c.rows.rows);
}

TWO_DEVICE_TEST(every_builtin_pe_matches_the_reference, 300)
{
    size_t n = 200000;
    sl_rec *recs = th_alloc(n);
    static const enum sl_pe_kind kinds[] = {SL_PE_COUNT, SL_PE_SUM, SL_PE_CTR};
    for (uint64_t seed = 1; seed <= 2; seed++) {
        th_records(seed, recs, n, seed == 1 ? 1000 : 50000, seed == 1 ? 1.0 : 0.0, 1700000000000,
                   50);
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            sl_engine_cfg cfg = th_cfg(kinds[k], 100000, 8192);
            check(nd, &cfg, recs, n, 777 + seed);
        }
    }
    free(recs);
}

TWO_DEVICE_TEST(windows_with_late_events_match_the_reference, 300)
{
    size_t n = 200000;
    sl_rec *recs = th_alloc(n);
    static const int64_t lateness[] = {0, 20, 5000};
    for (size_t i = 0; i < 3; i++) {
        th_records(i + 1, recs, n, 500, 1.0, -5000, 300); /* times cross zero, jitter 300 ms */
        sl_engine_cfg cfg = th_cfg(SL_PE_WINDOW, 100000, 8192);
        cfg.pe.window_ms = 1000;
        cfg.pe.lateness_ms = lateness[i];
        check(nd, &cfg, recs, n, 4099);
    }
    free(recs);
}

TWO_DEVICE_TEST(two_devices_equal_one_and_pipelining_changes_nothing, 300)
{
    size_t n = 300000;
    sl_rec *recs = th_records_new(9, n, 20000, 1.0, 0, 10);
    sl_engine_cfg cfg = th_cfg(SL_PE_CTR, 100000, 8192);
    struct mres one, two, two_serial;
    run_multi(1, &cfg, recs, n, 65536, &one);
    run_multi(nd, &cfg, recs, n, 65536, &two);
    cfg.no_overlap = 1; /* each batch waits for the one before: no transfer/kernel overlap */
    run_multi(nd, &cfg, recs, n, 65536, &two_serial);
    cr_assert_eq(one.rc, 0, "%s", one.msg);
    cr_assert_eq(two.rc, 0, "%s", two.msg);
    cr_assert_eq(two_serial.rc, 0, "%s", two_serial.msg);
    th_assert_rows(two.c.rows.rows, two.c.rows.n, one.c.rows.rows, one.c.rows.n, 0.0);
    th_assert_rows(two_serial.c.rows.rows, two_serial.c.rows.n, one.c.rows.rows, one.c.rows.n, 0.0);
    cr_assert_eq(two.st.ndev, 2);
    cr_assert_eq(two.st.dev[0].keys + two.st.dev[1].keys, one.st.dev[0].keys,
                 "the keys are split, not repeated");
    free(one.c.rows.rows);
    free(two.c.rows.rows);
    free(two_serial.c.rows.rows);
    free(recs);
}

TWO_DEVICE_TEST(a_device_failure_names_the_device_and_does_not_hang, 120)
{
    size_t n = 400000;
    sl_rec *recs = th_records_new(3, n, 100000, 0.0, 0, 0);
    sl_engine_cfg cfg = th_cfg(SL_PE_COUNT, 100000, 8192);
    cfg.pe.capacity = 1000; /* far fewer slots than keys: a table fills */
    struct mres r;
    run_multi(nd, &cfg, recs, n, 10000, &r);
    cr_assert_eq(r.rc, SL_ETABLEFULL, "%s (%s)", sl_strerror(r.rc), r.msg);
    cr_assert_not_null(strstr(r.msg, "device "), "%s", r.msg);
    free(r.c.rows.rows);
    free(recs);
}

TWO_DEVICE_TEST(snapshot_triggers_and_bad_counts_are_refused, 0)
{
    sl_engine_cfg cfg = th_cfg(SL_PE_COUNT, 100000, 8192);
    cfg.pe.trigger.every_events = 1000;
    struct mres r;
    run_multi(nd, &cfg, NULL, 0, 1, &r);
    cr_assert_eq(r.rc, SL_EUNSUPPORTED);
    cr_assert_not_null(strstr(r.msg, "snapshot triggers"), "%s", r.msg);
    cfg = th_cfg(SL_PE_COUNT, 100000, 8192);
    run_multi(0, &cfg, NULL, 0, 1, &r);
    cr_assert_eq(r.rc, SL_EINVAL);
}

/* ---- timers: slow input, no finish ---- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Ticks m every 2 ms, as the ingest loop's turns do while input is silent, for `s` seconds. */
static void tick_for(sl_multi *m, double s, uint32_t max_wait_ms)
{
    double end = mono_s() + s;
    do {
        cr_assert_eq(sl_multi_tick(m, max_wait_ms), 0, "%s", sl_multi_message(m));
        usleep(2000);
    } while (mono_s() < end);
}

/* The rows collected so far (c->rows, under its lock), sorted by key and window (malloc'd). */
static sl_row *rows_so_far(struct collect *c, size_t *n)
{
    pthread_mutex_lock(&c->mu);
    *n = c->rows.n;
    sl_row *r = malloc((*n ? *n : 1) * sizeof *r);
    cr_assert_not_null(r);
    if (*n)
        memcpy(r, c->rows.rows, *n * sizeof *r);
    pthread_mutex_unlock(&c->mu);
    qsort(r, *n, sizeof *r, sl_row_cmp_key);
    return r;
}

/* Ticks m until c holds `want` rows or `limit_s` passed; returns the seconds it took. */
static double tick_until(sl_multi *m, struct collect *c, size_t want, uint32_t max_wait_ms,
                         double limit_s)
{
    double t0 = mono_s();
    for (;;) {
        pthread_mutex_lock(&c->mu);
        size_t have = c->rows.n;
        pthread_mutex_unlock(&c->mu);
        if (have >= want || mono_s() - t0 > limit_s)
            return mono_s() - t0;
        cr_assert_eq(sl_multi_tick(m, max_wait_ms), 0, "%s", sl_multi_message(m));
        usleep(2000);
    }
}

/* Keys ranked 0.. (th_key) until each of the nd devices owns `per_dev` of them, in rank order. */
static size_t keys_on_both(uint64_t *keys, size_t per_dev)
{
    size_t n = 0, have[2] = {0, 0};
    for (uint32_t r = 0; have[0] < per_dev || have[1] < per_dev; r++) {
        uint64_t k = th_key(r);
        uint32_t d = sl_multi_device_of(k, nd);
        if (have[d] < per_dev) {
            have[d]++;
            keys[n++] = k;
        }
    }
    return n;
}

/* A window PE on two devices fed slowly (a few records, then silence, never finished): once a
 * record on device 1 alone moves event time past a window's end, both devices emit that window
 * within a bound (device 0 by the stream's watermark, its partial chunks by the batch wait),
 * and what has been emitted is exactly the reference's rows of the windows closed so far. */
TWO_DEVICE_TEST(slow_input_closes_windows_on_time_on_every_device, 120)
{
    static const int64_t lateness[] = {0, 400};
    const uint32_t max_wait_ms = 20;
    uint64_t keys[12];
    size_t nkeys = keys_on_both(keys, 6);
    uint64_t late_key = 0; /* a key of device 1: the record that closes a window */
    for (size_t i = 0; i < nkeys && !late_key; i++)
        late_key = sl_multi_device_of(keys[i], nd) == 1 ? keys[i] : 0;
    for (size_t li = 0; li < 2; li++) {
        sl_engine_cfg cfg = th_cfg(SL_PE_WINDOW, 100000, 8192);
        cfg.pe.window_ms = 1000;
        cfg.pe.lateness_ms = lateness[li];
        struct mres r;
        memset(&r, 0, sizeof r);
        pthread_mutex_init(&r.c.mu, NULL);
        sl_multi *m = NULL;
        int rc =
            sl_multi_new(devs, nd, &cfg, NULL, NULL, collect_rows, &r.c, &m, r.msg, sizeof r.msg);
        cr_assert_eq(rc, 0, "%s", r.msg);
        sl_rec recs[256];
        size_t n = 0;
        uint64_t seed = 7 + li;
        for (int64_t w = 0; w < 3; w++) {
            /* window w: three slow rounds of one record per key (times inside the window, out
             * of order within it), ticking between them */
            for (int round = 0; round < 3; round++) {
                size_t first = n;
                for (size_t k = 0; k < nkeys; k++) {
                    double u = tu_unit(&seed);
                    recs[n++] = (sl_rec){.key = keys[k],
                                         .time_ms = w * 1000 + (int64_t)(u * 900),
                                         .value = 1.0f,
                                         .type = SL_EV_VIEW};
                }
                cr_assert_eq(sl_multi_push(m, recs + first, n - first), 0, "%s",
                             sl_multi_message(m));
                tick_for(m, 0.03, max_wait_ms);
            }
            /* nothing of window w is closed yet: the rows so far are those of windows < w */
            size_t ngot;
            sl_row *got = rows_so_far(&r.c, &ngot);
            for (size_t i = 0; i < ngot; i++)
                cr_assert_lt(got[i].window_start, w * 1000, "window %lld emitted while open",
                             (long long)got[i].window_start);
            free(got);
            /* one record of device 1 whose time closes window w (and only w) */
            recs[n++] = (sl_rec){.key = late_key,
                                 .time_ms = (w + 1) * 1000 + cfg.pe.lateness_ms + 50,
                                 .value = 1.0f,
                                 .type = SL_EV_VIEW};
            cr_assert_eq(sl_multi_push(m, recs + n - 1, 1), 0, "%s", sl_multi_message(m));
            /* the reference: the rows of windows ending at or before the watermark's window */
            sl_row *ref;
            size_t nref, nclosed = 0;
            uint64_t late;
            th_reference(&cfg.pe, recs, n, &ref, &nref, &late);
            cr_assert_eq(late, 0);
            for (size_t i = 0; i < nref; i++)
                if (ref[i].window_start + cfg.pe.window_ms <= (w + 1) * 1000)
                    ref[nclosed++] = ref[i];
            cr_assert_gt(nclosed, nkeys * (size_t)w, "the reference closes window %lld",
                         (long long)w);
            /* max_wait_ms is 20; a loaded 2-core machine gets 2 s */
            double took = tick_until(m, &r.c, nclosed, max_wait_ms, 2.0);
            got = rows_so_far(&r.c, &ngot);
            cr_assert_eq(ngot, nclosed,
                         "lateness %lld, window %lld: %zu rows after %.3f s, the reference "
                         "closed %zu",
                         (long long)cfg.pe.lateness_ms, (long long)w, ngot, took, nclosed);
            th_assert_rows(got, ngot, ref, nclosed, 0.0);
            free(got);
            free(ref);
        }
        cr_assert_eq(r.c.finals, 0, "never finished");
        sl_multi_get_stats(m, &r.st);
        cr_assert_gt(r.st.dev[0].emissions, 0, "device 0 emitted windows");
        cr_assert_gt(r.st.dev[1].emissions, 0, "device 1 emitted windows");
        sl_multi_destroy(&m);
        free(r.c.rows.rows);
        pthread_mutex_destroy(&r.c.mu);
    }
}

/* A PE without windows on two devices, a few records at a time with pauses and never finished:
 * every record reaches its device's kernel within a bound of the batch wait (the devices'
 * dispatched counts by type equal the records pushed, counted here), although no chunk or batch
 * ever fills. */
TWO_DEVICE_TEST(slow_input_is_dispatched_after_the_batch_wait, 120)
{
    const uint32_t max_wait_ms = 10;
    sl_engine_cfg cfg = th_cfg(SL_PE_CTR, 100000, 8192);
    sl_multi *m = NULL;
    struct collect c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.mu, NULL);
    char msg[2048];
    int rc = sl_multi_new(devs, nd, &cfg, NULL, NULL, collect_rows, &c, &m, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s", msg);
    sl_rec *recs = th_records_new(5, 600, 40, 0.5, 1700000000000, 0);
    uint64_t want[SL_EV_NTYPES] = {0}, pushed = 0;
    for (size_t i = 0; i < 600; i += 100) {
        cr_assert_eq(sl_multi_push(m, recs + i, 100), 0, "%s", sl_multi_message(m));
        for (size_t j = i; j < i + 100; j++)
            want[recs[j].type & 3]++;
        pushed += 100;
        double t0 = mono_s(), took;
        sl_multi_stats st;
        for (;;) {
            cr_assert_eq(sl_multi_tick(m, max_wait_ms), 0, "%s", sl_multi_message(m));
            sl_multi_get_stats(m, &st);
            uint64_t done = 0;
            for (int t = 0; t < SL_EV_NTYPES; t++)
                done += st.total.type_counts[t];
            took = mono_s() - t0;
            if (done >= pushed || took > 2.0)
                break;
            usleep(2000);
        }
        for (int t = 0; t < SL_EV_NTYPES; t++)
            cr_assert_eq(st.total.type_counts[t], want[t],
                         "type %d: %llu dispatched, %llu pushed (%.3f s after the push)", t,
                         (unsigned long long)st.total.type_counts[t], (unsigned long long)want[t],
                         took);
        cr_assert_gt(st.dev[0].batches, 0);
        cr_assert_gt(st.dev[1].batches, 0);
    }
    cr_assert_eq(c.rows.n, 0, "no rows before the end of input");
    cr_assert_eq(sl_multi_finish(m), 0, "%s", sl_multi_message(m));
    qsort(c.rows.rows, c.rows.n, sizeof *c.rows.rows, sl_row_cmp_key);
    th_assert_reference(&cfg.pe, recs, 600, c.rows.rows, c.rows.n);
    sl_multi_destroy(&m);
    free(c.rows.rows);
    free(recs);
    pthread_mutex_destroy(&c.mu);
}

/* `sluice run --devices 2` on a pipe that stays open: 8 ads send a few events each in window
 * [0, 1000), then ad-0 alone sends one at 1050. Window 0 of every ad is written (a `windows-N`
 * row of the in-place result file) while the input is still open, within a bound, with the
 * counts written here; closing the input ends the run with exit 0. */
Test(multidev, cli_run_devices_2_closes_windows_while_input_is_open, .init = setup,
     .fini = teardown, .timeout = 120)
{
    setenv("POCL_DEVICES", "pthread pthread", 0);
    FILE *f = create("win.yaml");
    fprintf(f, "source: {type: stdin}\npe: {kind: window_count, window_ms: 1000}\n"
               "batch: {max_wait_ms: 20}\nsink: {path: out.csv, snapshots: true}\n");
    fclose(f);
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = spawn_in("run win.yaml --devices 2 -q", p[0], NULL, "err.txt");
    close(p[0]);
    enum { ADS = 8 };
    unsigned count[ADS] = {0};
    uint64_t seed = 11;
    char line[160];
    for (int round = 0; round < 3; round++) {
        for (unsigned a = 0; a < ADS; a++) {
            if (tu_unit(&seed) < 0.3 && a != 0)
                continue; /* not every ad in every round: the counts differ */
            int n = snprintf(line, sizeof line,
                             "{\"ad_id\":\"ad-%u\",\"event_type\":\"view\",\"event_time\":%u}\n", a,
                             100 * (unsigned)round + 10 * a);
            cr_assert_eq(write(p[1], line, (size_t)n), n);
            count[a]++;
        }
        usleep(100000);
    }
    int n = snprintf(line, sizeof line,
                     "{\"ad_id\":\"ad-0\",\"event_type\":\"view\",\"event_time\":1050}\n");
    cr_assert_eq(write(p[1], line, (size_t)n), n);
    unsigned want = 0;
    for (unsigned a = 0; a < ADS; a++)
        want += count[a] > 0;
    /* the run builds two engines first: 60 s for a loaded machine */
    double t0 = now_s();
    char *out = NULL;
    for (;;) {
        free(out);
        out = slurp("out.csv", NULL);
        if ((out && count_str(out, "\nwindows-") >= want) || now_s() - t0 > 60)
            break;
        usleep(20000);
    }
    cr_assert_not_null(out, "no output: %s", slurp("err.txt", NULL));
    cr_assert_eq(count_str(out, "\nwindows-"), want, "window rows while input is open:\n%s", out);
    cr_assert_eq(count_str(out, "\nfinal"), 0, "the run has not ended:\n%s", out);
    for (unsigned a = 0; a < ADS; a++) {
        if (!count[a])
            continue;
        char row[64];
        snprintf(row, sizeof row, ",ad-%u,0,%u\n", a, count[a]);
        cr_assert_not_null(strstr(out, row), "%s missing:\n%s", row, out);
    }
    free(out);
    close(p[1]);
    int st = wait_exit(pid, 60, "sluice run --devices 2");
    cr_assert_eq(st, 0, "exit %d: %s", st, slurp("err.txt", NULL));
    out = slurp("out.csv", NULL);
    cr_assert_not_null(strstr(out, ",ad-0,1000,1\n"), "the final row of window 1000:\n%s", out);
    free(out);
    finish();
}

static char *run_cmd(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "%s", cmd);
    size_t cap = 1 << 20, n = 0, r;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    while ((r = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (cap - n < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
    }
    buf[n] = '\0';
    cr_assert_eq(pclose(p), 0, "%s failed", cmd);
    return buf;
}

Test(multidev, cli_devices_2_prints_what_one_device_prints, .timeout = 300)
{
    setenv("POCL_DEVICES", "pthread pthread", 0);
    char *one = run_cmd(SLUICE_BIN " ctr --events 1000000 --keys 30000 --top 25 -q");
    char *two = run_cmd(SLUICE_BIN " ctr --events 1000000 --keys 30000 --top 25 -q --devices 2");
    char *all = run_cmd(SLUICE_BIN " ctr --events 1000000 --keys 30000 --top 25 -q --devices all");
    cr_assert_gt(strlen(one), 100, "%s", one);
    cr_assert_str_eq(two, one);
    cr_assert_str_eq(all, one);
    free(one);
    free(two);
    free(all);
}

/* ---- attributes ---- */

/* A user PE that reads three attributes by name: price (double), qty (int64) and seq (int64,
 * the record's index in the test's stream). Per key (and window): the events, the sum and the
 * largest price, qty's wrapping 64-bit sum and its largest value (each as two 32-bit halves, so
 * that every bit reaches the row exactly), and the sum of seq (which records the key got). */
static const char MD_ATTR_PE[] =
    "#include \"sluice.h\"\n"
    "#define SL_PE_REDUCE\n"
    "#define SL_COLUMNS \"n:int,price:g,price_max:g,qsum_hi:int,qsum_lo:int,qmax_hi:int,"
    "qmax_lo:int,seq:int\"\n"
    "typedef struct { ulong n; double price, pmax; ulong qsum; long qmax; ulong seq; } sl_state;\n"
    "void sl_init(__global sl_state *s)\n"
    "{ s->n = 0; s->price = 0.0; s->pmax = -INFINITY; s->qsum = 0; s->qmax = LONG_MIN;\n"
    "  s->seq = 0; }\n"
    "void sl_add(__global sl_state *s, const sl_record *r)\n"
    "{\n"
    "    s->n += 1;\n"
    "    s->price += r->price;\n"
    "    s->pmax = fmax(s->pmax, r->price);\n"
    "    s->qsum += (ulong)r->qty;\n"
    "    s->qmax = max(s->qmax, r->qty);\n"
    "    s->seq += (ulong)r->seq;\n"
    "}\n"
    "void sl_merge(__global sl_state *d, __global const sl_state *s)\n"
    "{ d->n += s->n; d->price += s->price; d->pmax = fmax(d->pmax, s->pmax);\n"
    "  d->qsum += s->qsum; d->qmax = max(d->qmax, s->qmax); d->seq += s->seq; }\n"
    "void sl_emit(__global const sl_state *s, sl_out *o)\n"
    "{ o->v[0] = (double)s->n; o->v[1] = s->price; o->v[2] = s->pmax;\n"
    "  o->v[3] = (double)(s->qsum >> 32); o->v[4] = (double)(s->qsum & 0xffffffffUL);\n"
    "  o->v[5] = (double)(s->qmax >> 32); o->v[6] = (double)(s->qmax & 0xffffffffL);\n"
    "  o->v[7] = (double)s->seq; }\n";

#define MD_NATTR 3

/* One record's words: a price of 10^8 and quarters (a float rounds it to a multiple of 8; sums
 * of up to 2^40 such prices are exact in any order), a qty of 2^53 or more, of either sign (a
 * double would round it), and the record's index. */
static void md_words(uint64_t *seed, size_t i, uint64_t *w)
{
    double price = 1e8 + (double)(splitmix64(seed) % 4000) * 0.25;
    memcpy(&w[0], &price, 8);
    uint64_t mag = (UINT64_C(1) << 53) + splitmix64(seed) % (UINT64_C(1) << 40);
    int64_t qty = splitmix64(seed) % 2 ? -(int64_t)mag : (int64_t)mag;
    memcpy(&w[1], &qty, 8);
    w[2] = (uint64_t)i;
}

static uint64_t *md_attrs(uint64_t seed, size_t n)
{
    uint64_t *a = malloc((n ? n : 1) * MD_NATTR * sizeof *a);
    cr_assert_not_null(a);
    for (size_t i = 0; i < n; i++)
        md_words(&seed, i, a + i * MD_NATTR);
    return a;
}

/* One key's (or window's) figures, as MD_ATTR_PE keeps them. */
struct md_acc {
    uint64_t n, qsum, seq;
    double price, pmax;
    int64_t qmax;
};

static void md_acc_init(struct md_acc *a)
{
    memset(a, 0, sizeof *a);
    a->pmax = -INFINITY;
    a->qmax = INT64_MIN;
}

static void md_acc_add(struct md_acc *a, const uint64_t *w)
{
    double price;
    memcpy(&price, &w[0], 8);
    a->n++;
    a->price += price;
    a->pmax = price > a->pmax ? price : a->pmax;
    a->qsum += w[1];
    a->qmax = (int64_t)w[1] > a->qmax ? (int64_t)w[1] : a->qmax;
    a->seq += w[2];
}

/* MD_ATTR_PE's row of a. */
static void md_acc_row(const struct md_acc *a, double *v)
{
    uint64_t qmax = (uint64_t)a->qmax;
    v[0] = (double)a->n;
    v[1] = a->price;
    v[2] = a->pmax;
    v[3] = (double)(a->qsum >> 32);
    v[4] = (double)(a->qsum & 0xffffffffu);
    v[5] = (double)(a->qmax >> 32); /* arithmetic shift, as OpenCL C's on a long */
    v[6] = (double)(qmax & 0xffffffffu);
    v[7] = (double)a->seq;
}

struct md_at {
    uint64_t key;
    int64_t ws;
    size_t i;
};

static int md_at_cmp(const void *pa, const void *pb)
{
    const struct md_at *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->ws != b->ws)
        return a->ws < b->ws ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* The plain C reference of MD_ATTR_PE over the whole stream, in arrival order: per key, or per
 * (key, window) after watermark.h's late rule when window_ms > 0 (*late: the records it
 * refused). Rows sorted by key and window, as the tests sort the multi's. */
static sl_row *md_reference(const sl_rec *recs, const uint64_t *a, size_t n, int64_t window_ms,
                            int64_t lateness_ms, size_t *nrows, uint64_t *late)
{
    struct md_at *at = malloc((n ? n : 1) * sizeof *at);
    sl_row *rows = calloc(n ? n : 1, sizeof *rows);
    cr_assert(at && rows);
    sl_watermark wm = {0, 0};
    size_t m = 0;
    *late = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t ws = 0, t = recs[i].time_ms;
        if (window_ms) {
            if (sl_watermark_admit(&wm, t, window_ms, lateness_ms) != SL_ADMIT_OK) {
                (*late)++;
                continue;
            }
            int64_t r = t % window_ms;
            ws = t - (r < 0 ? r + window_ms : r);
        }
        at[m++] = (struct md_at){recs[i].key, ws, i};
    }
    qsort(at, m, sizeof *at, md_at_cmp);
    size_t nr = 0;
    struct md_acc acc;
    for (size_t j = 0; j < m; j++) {
        if (j == 0 || at[j].key != at[j - 1].key || at[j].ws != at[j - 1].ws) {
            if (j)
                md_acc_row(&acc, rows[nr - 1].v);
            md_acc_init(&acc);
            rows[nr].key = at[j].key;
            rows[nr].window_start = at[j].ws;
            nr++;
        }
        md_acc_add(&acc, a + at[j].i * MD_NATTR);
    }
    if (nr)
        md_acc_row(&acc, rows[nr - 1].v);
    free(at);
    *nrows = nr;
    return rows;
}

/* A user PE's configuration: MD_ATTR_PE at `path` with its three attributes. */
static sl_engine_cfg md_cfg(const char *path)
{
    static const char *const names[MD_NATTR] = {"price", "qty", "seq"};
    return th_attr_cfg(path, names, MD_NATTR, 1u << 0, 8192);
}

/* Writes MD_ATTR_PE into the test directory; returns its path. */
static const char *md_write_pe(void)
{
    tu_write_file(tpath("md_attrs.cl"), MD_ATTR_PE);
    return tpath("md_attrs.cl");
}

/* Runs cfg over recs and their words a on the two devices, `chunk` records a push with
 * sl_multi_push_attrs; the chunk starting at record `bare` (SIZE_MAX: none) goes through
 * sl_multi_push, without words. Rows sorted by key and window. */
static void md_run(const sl_engine_cfg *cfg, const sl_rec *recs, const uint64_t *a, size_t n,
                   size_t chunk, size_t bare, struct mres *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->c.mu, NULL);
    sl_multi *m = NULL;
    r->rc = sl_multi_new(devs, nd, cfg, NULL, NULL, collect_rows, &r->c, &m, r->msg, sizeof r->msg);
    if (r->rc)
        return;
    for (size_t i = 0; i < n && !r->rc; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        r->rc = i == bare ? sl_multi_push(m, recs + i, k)
                          : sl_multi_push_attrs(m, recs + i, a + i * MD_NATTR, k);
    }
    if (!r->rc)
        r->rc = sl_multi_finish(m);
    if (r->rc)
        snprintf(r->msg, sizeof r->msg, "%s", sl_multi_message(m));
    sl_multi_get_stats(m, &r->st);
    sl_multi_destroy(&m);
    if (r->c.rows.rows)
        qsort(r->c.rows.rows, r->c.rows.n, sizeof *r->c.rows.rows, sl_row_cmp_key);
}

static void md_init(void)
{
    setup();
    open_two();
}

#define MD_TEST(name, timeout_s)                                                                   \
    Test(multidev, name, .init = md_init, .fini = teardown, .timeout = timeout_s)

/* 200,000 records over 30,000 keys: more than a chunk (64 Ki records) per device, so words
 * cross chunk hand-overs and the queues; one chunk pushed without words reads zeros. */
MD_TEST(user_pe_reads_attributes_by_name_on_two_devices, 300)
{
    const char *path = md_write_pe();
    size_t n = 200000, chunk = 7001, bare = 5 * chunk;
    sl_rec *recs = th_records_new(31, n, 30000, 0.8, 1700000000000, 0);
    uint64_t *a = md_attrs(32, n);
    /* the input holds what a float or a double would round */
    size_t rounded_price = 0, wide_qty = 0;
    for (size_t i = 0; i < n; i++) {
        double p;
        memcpy(&p, &a[i * MD_NATTR], 8);
        int64_t q = (int64_t)a[i * MD_NATTR + 1];
        rounded_price += (double)(float)p != p;
        wide_qty += (int64_t)(double)q != q;
    }
    cr_assert_gt(rounded_price, n / 2);
    cr_assert_gt(wide_qty, n / 4);
    /* the reference sees the bare chunk's words as zeros */
    uint64_t *ra = malloc(n * MD_NATTR * sizeof *ra);
    cr_assert_not_null(ra);
    memcpy(ra, a, n * MD_NATTR * sizeof *ra);
    memset(ra + bare * MD_NATTR, 0, chunk * MD_NATTR * sizeof *ra);
    size_t nref;
    uint64_t late;
    sl_row *ref = md_reference(recs, ra, n, 0, 0, &nref, &late);
    for (int mode = SL_DISPATCH_GROUPED; mode <= SL_DISPATCH_CHUNKED; mode++) {
        sl_engine_cfg cfg = md_cfg(path);
        cfg.mode = (enum sl_dispatch_mode)mode;
        struct mres r;
        md_run(&cfg, recs, a, n, chunk, bare, &r);
        cr_assert_eq(r.rc, 0, "mode %d: %s (%s)", mode, sl_strerror(r.rc), r.msg);
        cr_assert_eq(r.c.finals, 1);
        th_assert_rows(r.c.rows.rows, r.c.rows.n, ref, nref, 0.0);
        cr_assert_eq(r.st.total.events_in, n);
        for (uint32_t d = 0; d < nd; d++)
            cr_assert_gt(r.st.dev[d].events_in, n / 10, "mode %d: device %u gets a share", mode, d);
        cr_assert_eq(r.st.dev[0].events_in + r.st.dev[1].events_in, n);
        free(r.c.rows.rows);
    }
    free(ref);
    free(ra);
    free(a);
    free(recs);
    finish();
}

/* Windows with late events: the records the late rule drops before the split take their words
 * with them, so every window's figures are the reference's. */
MD_TEST(windowed_attributes_with_late_events_match_the_reference, 300)
{
    const char *path = md_write_pe();
    size_t n = 150000;
    /* times from -3000 ms with jitter up to 400 ms: some arrive after their window closed */
    sl_rec *recs = th_records_new(41, n, 400, 1.0, -3000, 400);
    uint64_t *a = md_attrs(42, n);
    sl_engine_cfg cfg = md_cfg(path);
    cfg.pe.window_ms = 2000;
    cfg.pe.lateness_ms = 100;
    size_t nref;
    uint64_t late;
    sl_row *ref = md_reference(recs, a, n, cfg.pe.window_ms, cfg.pe.lateness_ms, &nref, &late);
    cr_assert_gt(late, 100, "the input has late records");
    struct mres r;
    md_run(&cfg, recs, a, n, 4099, SIZE_MAX, &r);
    cr_assert_eq(r.rc, 0, "%s (%s)", sl_strerror(r.rc), r.msg);
    cr_assert_eq(r.st.total.events_late, late, "late: multi %llu, reference %llu",
                 (unsigned long long)r.st.total.events_late, (unsigned long long)late);
    cr_assert_eq(r.st.dev[0].events_in + r.st.dev[1].events_in,
                 n - late - r.st.total.events_bad_time);
    cr_assert_gt(r.st.dev[0].emissions, 0);
    cr_assert_gt(r.st.dev[1].emissions, 0);
    th_assert_rows(r.c.rows.rows, r.c.rows.n, ref, nref, 0.0);
    free(r.c.rows.rows);
    free(ref);
    free(a);
    free(recs);
    finish();
}

/* `sluice run --devices 2` on a topology with schema.attributes [price, qty, seq], from an
 * NDJSON file: every ad's row is the reference's, and the output is what one device writes. */
Test(multidev, cli_run_devices_2_carries_attributes, .init = setup, .fini = teardown,
     .timeout = 300)
{
    setenv("POCL_DEVICES", "pthread pthread", 0);
    enum { ADS = 120, LINES = 30000 };
    md_write_pe();
    static struct md_acc acc[ADS];
    for (int k = 0; k < ADS; k++)
        md_acc_init(&acc[k]);
    FILE *f = create("ev.ndjson");
    uint64_t seed = 51;
    for (size_t i = 0; i < LINES; i++) {
        unsigned ad = (unsigned)(splitmix64(&seed) % ADS);
        uint64_t w[MD_NATTR];
        md_words(&seed, i, w);
        double price;
        memcpy(&price, &w[0], 8);
        fprintf(f, "{\"ad\":\"ad-%u\",\"t\":%zu,\"price\":%.2f,\"qty\":%lld,\"seq\":%zu}\n", ad,
                1000 + i, price, (long long)(int64_t)w[1], i);
        md_acc_add(&acc[ad], w);
    }
    fclose(f);
    f = create("topo.yaml");
    fputs("source: {path: ev.ndjson}\n"
          "schema:\n"
          "  fields: {ad: string, t: time, price: double, qty: int64, seq: int64}\n"
          "  key: ad\n"
          "  time: t\n"
          "  attributes: [price, qty, seq]\n"
          "pe: {kind: user, source: md_attrs.cl}\n"
          "sink: {path: out.csv}\n",
          f);
    fclose(f);
    struct run r = run_sh_status("run topo.yaml -q --devices 2 -o two.csv", 0);
    run_free(&r);
    r = run_sh_status("run topo.yaml -q -o one.csv", 0);
    run_free(&r);
    char *two = slurp("two.csv", NULL), *one = slurp("one.csv", NULL);
    const char head[] = "ad,n,price,price_max,qsum_hi,qsum_lo,qmax_hi,qmax_lo,seq\n";
    cr_assert(strncmp(two, head, sizeof head - 1) == 0, "%.100s", two);
    size_t rows = 0;
    for (char *line = two + sizeof head - 1; *line; line = strchr(line, '\n') + 1) {
        unsigned ad;
        double v[8], want[8];
        cr_assert_eq(sscanf(line, "ad-%u,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &ad, &v[0], &v[1], &v[2],
                            &v[3], &v[4], &v[5], &v[6], &v[7]),
                     9, "%.100s", line);
        cr_assert_lt(ad, ADS);
        md_acc_row(&acc[ad], want);
        for (int k = 0; k < 8; k++)
            cr_assert_eq(v[k], want[k], "ad-%u column %d: %.17g, want %.17g", ad, k, v[k], want[k]);
        rows++;
    }
    size_t want_rows = 0;
    for (int k = 0; k < ADS; k++)
        want_rows += acc[k].n > 0;
    cr_assert_eq(rows, want_rows);
    assert_same_text(two, one, "--devices 2 against one device");
    free(two);
    free(one);
    finish();
}
