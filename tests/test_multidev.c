/* Several devices per node (host/multidev.h): a PE spread over two devices gives, row for row,
 * what the plain C reference gives on the whole stream (and what one device gives), for every
 * built-in PE, windows with late events included; pipelined and unpipelined batches agree; a
 * device's failure is reported with its index; `sluice ctr --devices 2` prints what
 * `sluice ctr` prints.
 *
 * Two devices: PoCL exposes one CPU device per entry of POCL_DEVICES, set here (inside each
 * test: Criterion forks, and OpenCL must not be initialised before the fork) unless the
 * environment already chose. Where fewer than two devices exist, device 0 is opened twice (two
 * contexts, two tables): the split and merge are still exercised. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "device.h"
#include "err.h"
#include "harness.h"
#include "multidev.h"
#include "reference.h"

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
