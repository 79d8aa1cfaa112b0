/* Differential tests: the OpenCL engine against the plain C reference (host/reference.c) over
 * randomized inputs: several seeds, 1 to 1,000,000 keys, uniform and Zipf skew, batch edges. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "harness.h"
#include "reference.h"

/* Runs engine and reference over the same records and asserts equal final rows. */
static void check(const sl_engine_cfg *cfg, const sl_rec *recs, size_t n, size_t chunk)
{
    th_result res;
    int rc = th_run(cfg, recs, n, chunk, &res);
    cr_assert_eq(rc, 0, "engine failed: %s (%s)", sl_strerror(rc), res.msg);
    uint64_t late = th_assert_reference(&cfg->pe, recs, n, res.final_rows, res.nfinal);
    cr_assert_eq(res.stats.events_late, late, "late events: engine %llu, reference %llu",
                 (unsigned long long)res.stats.events_late, (unsigned long long)late);
    cr_assert_eq(res.stats.events_in, n);
    uint64_t types = 0;
    for (int t = 0; t < SL_EV_NTYPES; t++)
        types += res.stats.type_counts[t];
    cr_assert_eq(types, n, "every record is counted by type");
    th_result_free(&res);
}

static void sweep(enum sl_pe_kind kind)
{
    static const uint32_t keys[] = {1, 10, 1000, 100000};
    static const double skews[] = {0.0, 1.0};
    size_t n = 150000;
    sl_rec *recs = th_alloc(n);
    for (uint64_t seed = 1; seed <= 3; seed++)
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            for (size_t s = 0; s < 2; s++) {
                th_records(seed, recs, n, keys[k], skews[s], 1700000000000, 50);
                sl_engine_cfg cfg = th_cfg(kind, 200000, 16384);
                check(&cfg, recs, n, 1000 + seed);
            }
    free(recs);
}

Test(engine, ctr_matches_reference_over_seeds_keys_and_skews, .timeout = 300)
{
    sweep(SL_PE_CTR);
}

Test(engine, count_matches_reference, .timeout = 300)
{
    sweep(SL_PE_COUNT);
}

Test(engine, sum_matches_reference_bit_for_bit, .timeout = 300)
{
    sweep(SL_PE_SUM);
}

Test(engine, window_count_matches_reference_with_late_events, .timeout = 300)
{
    size_t n = 200000;
    sl_rec *recs = th_alloc(n);
    static const int64_t lateness[] = {0, 20, 5000};
    for (uint64_t seed = 1; seed <= 3; seed++) {
        th_records(seed, recs, n, 500, 1.0, -5000, 300); /* negative times cross zero */
        sl_engine_cfg cfg = th_cfg(SL_PE_WINDOW, 100000, 8192);
        cfg.pe.window_ms = 1000;
        cfg.pe.lateness_ms = lateness[seed - 1];
        check(&cfg, recs, n, 777);
    }
    /* with jitter 300 and lateness 0 some events must have been late: the rule is exercised */
    th_records(1, recs, n, 500, 1.0, -5000, 300);
    sl_row *ref;
    size_t nref;
    uint64_t late;
    sl_pe_cfg pe;
    sl_pe_defaults(&pe, SL_PE_WINDOW);
    pe.window_ms = 1000;
    th_reference(&pe, recs, n, &ref, &nref, &late);
    cr_assert_gt(late, 0);
    free(ref);
    free(recs);
}

Test(engine, ctr_with_prior_is_exact, .timeout = 120)
{
    size_t n = 100000;
    sl_rec *recs = th_records_new(9, n, 5000, 1.3, 0, 0);
    sl_engine_cfg cfg = th_cfg(SL_PE_CTR, 10000, 4096);
    cfg.pe.has_prior = 1;
    cfg.pe.prior_a = 1.5;
    cfg.pe.prior_b = 30.25;
    check(&cfg, recs, n, 999);
    free(recs);
}

Test(engine, one_million_keys, .timeout = 300)
{
    size_t n = 3000000;
    sl_rec *recs = th_records_new(4, n, 1000000, 0.0, 0, 0);
    sl_engine_cfg cfg = th_cfg(SL_PE_CTR, 1000000, 1 << 18);
    check(&cfg, recs, n, 1 << 18);
    free(recs);
}

Test(engine, batch_edges, .timeout = 300)
{
    const uint32_t batch = 1024;
    static const size_t sizes[] = {1, 1023, 1024, 1025, 2048, 4097};
    static const size_t chunks[] = {1, 7, 1024, 5000};
    sl_rec *recs = th_alloc(5000);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            th_records(i * 10 + c, recs, sizes[i], 300, 1.0, 0, 0);
            sl_engine_cfg cfg = th_cfg(SL_PE_SUM, 1000, batch);
            check(&cfg, recs, sizes[i], chunks[c]);
        }
    free(recs);
}

Test(engine, dispatch_modes_partition_counts_and_overlap_give_the_same_results, .timeout = 300)
{
    size_t n = 100000;
    sl_rec *recs = th_records_new(5, n, 20000, 1.0, 0, 0);
    static const uint32_t parts[] = {1, 2, 16, 4096};
    static const enum sl_dispatch_mode modes[] = {SL_DISPATCH_GROUPED, SL_DISPATCH_CHUNKED};
    static const uint32_t copies[] = {1, 2, 5};
    for (size_t m = 0; m < 2; m++)
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            sl_engine_cfg cfg = th_cfg(SL_PE_SUM, 40000, 8192);
            cfg.mode = modes[m];
            cfg.partitions = parts[i];
            cfg.copies = copies[i % 3];
            check(&cfg, recs, n, 10000);
            cfg.no_overlap = 1;
            check(&cfg, recs, n, 10000);
        }
    free(recs);
}

/* The sweeps above run in the device's default mode (chunked on CPU devices); this one runs every
 * PE grouped by the host, the mode GPUs use. */
Test(engine, grouped_mode_matches_reference_for_every_pe, .timeout = 300)
{
    size_t n = 120000;
    sl_rec *recs = th_alloc(n);
    for (int kind = 0; kind < SL_PE_NKINDS; kind++) {
        th_records(20 + (uint64_t)kind, recs, n, 7000, 1.0, 1000, 200);
        sl_engine_cfg cfg = th_cfg((enum sl_pe_kind)kind, 100000, 5000);
        cfg.mode = SL_DISPATCH_GROUPED;
        cfg.partitions = 64;
        cfg.pe.window_ms = 2000;
        check(&cfg, recs, n, 4321);
    }
    free(recs);
}

Test(engine, empty_input_gives_no_rows)
{
    sl_engine_cfg cfg = th_cfg(SL_PE_CTR, 100, 64);
    th_result res;
    cr_assert_eq(th_run(&cfg, NULL, 0, 1, &res), 0, "%s", res.msg);
    cr_assert_eq(res.nfinal, 0);
    cr_assert_eq(res.stats.batches, 0);
    th_result_free(&res);
}

Test(engine, full_table_is_a_clear_error, .timeout = 120)
{
    size_t n = 20000;
    sl_rec *recs = th_records_new(3, n, 5000, 0.0, 0, 0);
    sl_engine_cfg cfg = th_cfg(SL_PE_COUNT, 1000, 2048);
    th_result res;
    int rc = th_run(&cfg, recs, n, 2048, &res);
    cr_assert_eq(rc, SL_ETABLEFULL, "got %d (%s)", rc, res.msg);
    cr_assert_not_null(strstr(res.msg, "pe.capacity"), "message: %s", res.msg);
    cr_assert_not_null(strstr(res.msg, "1000"), "message names the capacity: %s", res.msg);
    th_result_free(&res);
    free(recs);
}

Test(engine, every_n_events_snapshots_match_the_prefix, .timeout = 120)
{
    size_t n = 50000;
    const size_t every = 10007;
    sl_rec *recs = th_records_new(11, n, 3000, 1.0, 0, 0);
    sl_engine_cfg cfg = th_cfg(SL_PE_CTR, 10000, 4096);
    cfg.pe.trigger.every_events = every;
    th_result res;
    cr_assert_eq(th_run(&cfg, recs, n, 3333, &res), 0, "%s", res.msg);
    cr_assert_eq(res.nsnapshots, n / every);
    th_assert_reference(&cfg.pe, recs, (n / every) * every, res.snap_rows, res.nsnap);
    th_assert_reference(&cfg.pe, recs, n, res.final_rows, res.nfinal);
    th_result_free(&res);
    free(recs);
}

Test(engine, every_t_ms_trigger_fires, .timeout = 120)
{
    size_t n = 20000;
    sl_rec *recs = th_records_new(12, n, 100, 0.0, 0, 0);
    sl_engine_cfg cfg = th_cfg(SL_PE_COUNT, 1000, 4096);
    cfg.pe.trigger.every_ms = 1;
    th_result res;
    cr_assert_eq(th_run(&cfg, recs, n, 1, &res), 0, "%s", res.msg);
    /* pushing 20000 single records takes well over 1 ms, so at least one snapshot fired, and
     * every snapshot is a consistent prefix: its counts never exceed the final ones */
    cr_assert_geq(res.nsnapshots, 1);
    th_assert_reference(&cfg.pe, recs, n, res.final_rows, res.nfinal);
    double snap_total = 0;
    for (size_t i = 0; i < res.nsnap; i++)
        snap_total += res.snap_rows[i].v[0];
    cr_assert_leq(snap_total, (double)n);
    th_result_free(&res);
    free(recs);
}

/* Arbitrary float values: grouped mode adds each key's values in arrival order, like the
 * reference, so sums are bit-identical; chunked mode adds per-chunk partial sums at the merge,
 * so sums may differ by rounding, within the bound docs/engine.md states:
 * |engine - reference| <= (n + W) * 2^-53 * sum(|v|) for a key with n values and W copies. */
Test(engine, sum_of_arbitrary_floats_within_documented_tolerance, .timeout = 120)
{
    size_t n = 200000;
    sl_rec *recs = th_records_new(31, n, 300, 1.0, 0, 0);
    uint64_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        recs[i].value = (float)((double)(s >> 11) * 0x1.0p-53 * 2000.0 - 1000.0) * 1.0001f;
    }
    sl_row *ref;
    size_t nref;
    th_reference(&(sl_pe_cfg){.kind = SL_PE_SUM}, recs, n, &ref, &nref, NULL);

    sl_engine_cfg cfg = th_cfg(SL_PE_SUM, 1000, 16384);
    cfg.mode = SL_DISPATCH_GROUPED;
    th_result res;
    cr_assert_eq(th_run(&cfg, recs, n, 5000, &res), 0, "%s", res.msg);
    th_assert_rows(res.final_rows, res.nfinal, ref, nref, 0.0);
    th_result_free(&res);

    const uint32_t copies = 4;
    cfg.mode = SL_DISPATCH_CHUNKED;
    cfg.copies = copies;
    cr_assert_eq(th_run(&cfg, recs, n, 5000, &res), 0, "%s", res.msg);
    cr_assert_eq(res.nfinal, nref);
    for (size_t i = 0; i < nref; i++) {
        double abs_sum = 0;
        for (size_t j = 0; j < n; j++)
            if (recs[j].key == ref[i].key)
                abs_sum += fabs((double)recs[j].value);
        double bound = (ref[i].v[0] + copies) * 0x1.0p-53 * abs_sum;
        cr_assert_eq(res.final_rows[i].key, ref[i].key);
        cr_assert_eq(res.final_rows[i].v[0], ref[i].v[0]);
        cr_assert_leq(fabs(res.final_rows[i].v[1] - ref[i].v[1]), bound,
                      "key %zu: %.17g vs %.17g (bound %.3g)", i, res.final_rows[i].v[1],
                      ref[i].v[1], bound);
    }
    th_result_free(&res);
    free(ref);
    free(recs);
}

/* Review findings, kept as regressions. */

/* More table copies than regions: the per-batch bounds must be sized for the larger. */
Test(engine, more_copies_than_regions, .timeout = 120)
{
    size_t n = 50000;
    sl_rec *recs = th_records_new(41, n, 2000, 1.0, 0, 0);
    static const uint32_t parts[] = {1, 2, 4}, copies[] = {2, 5, 7};
    for (int i = 0; i < 3; i++) {
        sl_engine_cfg cfg = th_cfg(SL_PE_CTR, 4000, 4096);
        cfg.mode = SL_DISPATCH_CHUNKED;
        cfg.partitions = parts[i];
        cfg.copies = copies[i];
        check(&cfg, recs, n, 5000);
    }
    free(recs);
}

/* A long windowed run in a small table: closed windows must free their slots for good (with
 * tombstones this run used to report a full table at about window 167 with 796 live keys). */
Test(engine, long_windowed_run_reuses_slots, .timeout = 120)
{
    const size_t per_window = 250, windows = 400, n = per_window * windows;
    sl_rec *recs = th_alloc(n);
    for (size_t w = 0, i = 0; w < windows; w++)
        for (size_t a = 0; a < per_window; a++, i++)
            recs[i] = (sl_rec){
                .key = th_key((uint32_t)a), .time_ms = (int64_t)(w * 1000 + a), .type = SL_EV_VIEW};
    for (int mode = SL_DISPATCH_GROUPED; mode <= SL_DISPATCH_CHUNKED; mode++) {
        /* one window of 250 per batch of 250; 2 s of lateness keeps up to 4 windows, 1000 keys,
         * open: the table runs full, with long probe runs; 100,000 (ad, window) pairs pass
         * through it */
        sl_engine_cfg cfg = th_cfg(SL_PE_WINDOW, 1000, 250);
        cfg.pe.window_ms = 1000;
        cfg.pe.lateness_ms = 2000;
        cfg.partitions = 1;
        cfg.mode = (enum sl_dispatch_mode)mode;
        check(&cfg, recs, n, 250);
    }
    free(recs);
}

/* Times at the ends of int64: windowed PEs count them apart instead of overflowing. */
Test(engine, extreme_times_are_counted_not_wrapped, .timeout = 60)
{
    sl_rec recs[6];
    const int64_t times[] = {INT64_MAX - 2, INT64_MAX - 1,        INT64_MAX,
                             INT64_MIN,     SL_WINDOW_TIME_LIMIT, -SL_WINDOW_TIME_LIMIT};
    for (int i = 0; i < 6; i++)
        recs[i] = (sl_rec){.key = th_key(1), .time_ms = times[i], .type = SL_EV_VIEW};
    sl_engine_cfg cfg = th_cfg(SL_PE_WINDOW, 100, 1);
    cfg.pe.window_ms = 10000;
    th_result res;
    cr_assert_eq(th_run(&cfg, recs, 6, 1, &res), 0, "%s", res.msg);
    cr_assert_eq(res.stats.events_bad_time, 4);
    sl_ref *r = sl_ref_new(&cfg.pe);
    cr_assert_not_null(r);
    cr_assert_eq(sl_ref_push(r, recs, 6), 0);
    cr_assert_eq(sl_ref_bad_time(r), 4);
    sl_row *ref;
    size_t nref;
    cr_assert_eq(sl_ref_rows(r, &ref, &nref), 0);
    th_assert_rows(res.final_rows, res.nfinal, ref, nref, 0.0);
    cr_assert_eq(nref, 1, "the two times at the limit: one window each side? got %zu", nref);
    free(ref);
    sl_ref_destroy(&r);
    th_result_free(&res);
}

static int keep_rows(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    (void)kind;
    (void)rows;
    *(size_t *)ud += n;
    return 0;
}

/* After a full-table error, reset gives a working engine again. */
Test(engine, reset_after_a_full_table, .timeout = 60)
{
    size_t n = 5000;
    sl_rec *recs = th_records_new(8, n, 5000, 0.0, 0, 0);
    sl_device *dev = NULL;
    char msg[4096];
    cr_assert_eq(sl_device_open(NULL, &dev, msg, sizeof msg), 0, "%s", msg);
    sl_engine_cfg cfg = th_cfg(SL_PE_COUNT, 100, 256);
    size_t rows = 0;
    sl_engine *e = NULL;
    cr_assert_eq(sl_engine_new(dev, &cfg, keep_rows, &rows, &e, msg, sizeof msg), 0, "%s", msg);
    int rc = sl_engine_push(e, recs, n);
    if (rc == 0)
        rc = sl_engine_finish(e);
    cr_assert_eq(rc, SL_ETABLEFULL);
    cr_assert_eq(sl_engine_reset(e), 0, "%s", sl_engine_message(e));
    cr_assert_eq(sl_engine_push(e, recs, 50), 0, "%s", sl_engine_message(e));
    cr_assert_eq(sl_engine_finish(e), 0, "%s", sl_engine_message(e));
    sl_engine_stats st;
    sl_engine_get_stats(e, &st);
    cr_assert_eq(st.events_in, 50);
    size_t distinct = 0;
    for (size_t i = 0; i < 50; i++) {
        size_t j = 0;
        while (j < i && recs[j].key != recs[i].key)
            j++;
        distinct += j == i;
    }
    cr_assert_eq(rows, distinct, "rows %zu, distinct keys %zu", rows, distinct);
    sl_engine_destroy(&e);
    sl_device_close(&dev);
    free(recs);
}

/* Rows of final emissions, copied (sl_emit_fn). */
struct kept {
    sl_row *r;
    size_t n;
};

static int keep_final(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    struct kept *k = ud;
    if (kind != SL_EMIT_FINAL || n == 0)
        return 0;
    k->r = realloc(k->r, (k->n + n) * sizeof *rows);
    cr_assert_not_null(k->r);
    memcpy(k->r + k->n, rows, n * sizeof *rows);
    k->n += n;
    return 0;
}

/* Tables that size themselves: with no pe.capacity the table starts at 4,096 keys and grows on
 * the device as keys arrive. The first batch alone brings more new keys than the first table
 * holds (the batch stops, the table grows, the batch goes on); later batches grow it before it
 * fills. Every key's row equals the C reference's, in both dispatch modes, for counts, CTR and
 * windows (where open windows are the keys), and the table did grow. */
Test(engine, table_grows_as_keys_arrive, .timeout = 300)
{
    size_t n = 700000;
    uint32_t keys = 250000;
    sl_rec *recs = th_records_new(91, n, keys, 0.0, 0, 20000);
    static const enum sl_dispatch_mode modes[] = {SL_DISPATCH_GROUPED, SL_DISPATCH_CHUNKED};
    static const enum sl_pe_kind kinds[] = {SL_PE_CTR, SL_PE_WINDOW};
    for (size_t m = 0; m < 2; m++)
        for (size_t k = 0; k < 2; k++) {
            sl_engine_cfg cfg = th_cfg(kinds[k], 0, 65536);
            cfg.mode = modes[m];
            if (kinds[k] == SL_PE_WINDOW) {
                cfg.pe.window_ms = 1000000; /* few windows: most keys stay open to the end */
                cfg.pe.lateness_ms = 20000;
            }
            th_result res;
            cr_assert(eq(int, th_run(&cfg, recs, n, 100000, &res), 0), "%s", res.msg);
            th_assert_reference(&cfg.pe, recs, n, res.final_rows, res.nfinal);
            cr_assert(gt(u64, res.stats.table_grows, 0), "mode %zu kind %zu: the table grew", m, k);
            cr_assert(ge(u64, res.stats.table_slots, (uint64_t)keys),
                      "mode %zu kind %zu: %llu slots for %u keys", m, k,
                      (unsigned long long)res.stats.table_slots, keys);
            th_result_free(&res);
        }
    free(recs);
}

/* Asserts the engine's counts by type equal recs[0..n)'s: each record once, also those of a
 * batch that stopped for a growth of the table and ran again (the kernel counts them). */
static void assert_types(const sl_engine_stats *st, const sl_rec *recs, size_t n)
{
    uint64_t want[SL_EV_NTYPES] = {0};
    for (size_t i = 0; i < n; i++)
        want[recs[i].type & 3]++;
    for (int t = 0; t < SL_EV_NTYPES; t++)
        cr_assert(eq(u64, st->type_counts[t], want[t]), "type %d", t);
}

/* Records written into the engine's staging area (sl_engine_stage_area) and pushed from there,
 * in pieces that cross batch ends, count triggers and table growth, give the reference's rows
 * and snapshots. An engine that stages in memory of its own (grouped dispatch, a window PE)
 * offers no area, and the same pushes from the caller's buffer give the reference's rows. */
Test(engine, records_written_in_place_match_the_reference, .timeout = 300)
{
    size_t n = 600000;
    const size_t every = 100003;
    uint32_t keys = 200000;
    sl_rec *recs = th_records_new(23, n, keys, 0.5, 0, 20000);
    static const enum sl_dispatch_mode modes[] = {SL_DISPATCH_CHUNKED, SL_DISPATCH_GROUPED};
    static const enum sl_pe_kind kinds[] = {SL_PE_CTR, SL_PE_WINDOW};
    for (size_t m = 0; m < 2; m++)
        for (size_t k = 0; k < 2; k++) {
            sl_engine_cfg cfg = th_cfg(kinds[k], 0, 65536);
            cfg.mode = modes[m];
            const int direct = m == 0 && k == 0;
            if (kinds[k] == SL_PE_WINDOW) {
                cfg.pe.window_ms = 1000000;
                cfg.pe.lateness_ms = 20000;
            } else {
                cfg.pe.trigger.every_events = every;
            }
            th_result res;
            cr_assert(eq(int, th_run_in_place(&cfg, recs, n, 40777, &res), 0), "%s", res.msg);
            th_assert_reference(&cfg.pe, recs, n, res.final_rows, res.nfinal);
            cr_assert(eq(sz, res.in_place, direct ? n : 0), "mode %zu kind %zu", m, k);
            cr_assert(eq(u64, res.stats.events_in_place, direct ? n : 0),
                      "mode %zu kind %zu: the engine took the records where they were", m, k);
            cr_assert(gt(u64, res.stats.table_grows, 0), "mode %zu kind %zu: the table grew", m, k);
            assert_types(&res.stats, recs, n);
            if (kinds[k] == SL_PE_CTR) {
                cr_assert(eq(sz, res.nsnapshots, n / every), "mode %zu", m);
                th_assert_reference(&cfg.pe, recs, (n / every) * every, res.snap_rows, res.nsnap);
            }
            th_result_free(&res);
        }
    free(recs);
}

/* Records lent to the engine (sl_engine_push_lent: read where they are), between records pushed
 * as usual, in pieces larger and smaller than a batch, across count triggers and table growth,
 * give the reference's rows and snapshots. The CPU device shares host memory, so a chunked CTR
 * engine lends; the others take the same pushes as copies. */
Test(engine, lent_records_match_the_reference, .timeout = 300)
{
    size_t n = 700000;
    const size_t every = 90001;
    sl_rec *recs = th_records_new(29, n, 220000, 0.7, 0, 20000);
    static const size_t chunks[] = {100003, 7001};
    static const enum sl_dispatch_mode modes[] = {SL_DISPATCH_CHUNKED, SL_DISPATCH_GROUPED};
    for (size_t m = 0; m < 2; m++)
        for (size_t c = 0; c < 2; c++) {
            sl_engine_cfg cfg = th_cfg(SL_PE_CTR, 0, 65536);
            cfg.mode = modes[m];
            cfg.pe.trigger.every_events = every;
            th_result res;
            cr_assert(eq(int, th_run_lent(&cfg, recs, n, chunks[c], &res), 0), "%s", res.msg);
            th_assert_reference(&cfg.pe, recs, n, res.final_rows, res.nfinal);
            cr_assert(eq(sz, res.nsnapshots, n / every), "mode %zu chunk %zu", m, chunks[c]);
            th_assert_reference(&cfg.pe, recs, (n / every) * every, res.snap_rows, res.nsnap);
            cr_assert(gt(u64, res.stats.table_grows, 0), "mode %zu: the table grew", m);
            assert_types(&res.stats, recs, n);
            cr_assert(gt(sz, res.lent, n / 2));
            cr_assert(eq(u64, res.stats.events_lent, m == 0 ? res.lent : 0),
                      "mode %zu chunk %zu: lent records read in place", m, chunks[c]);
            th_result_free(&res);
        }
    free(recs);
}

/* A pe.capacity caps the growth: past it the run fails, naming the capacity. */
Test(engine, capacity_caps_growth, .timeout = 120)
{
    size_t n = 200000;
    sl_rec *recs = th_records_new(92, n, 60000, 0.0, 0, 0);
    sl_engine_cfg cfg = th_cfg(SL_PE_COUNT, 30000, 65536);
    th_result res;
    cr_assert(eq(int, th_run(&cfg, recs, n, 100000, &res), SL_ETABLEFULL));
    cr_assert_not_null(strstr(res.msg, "pe.capacity"), "%s", res.msg);
    cr_assert_not_null(strstr(res.msg, "30000"), "%s", res.msg);
    th_result_free(&res);
    free(recs);
}

/* Checkpoints (sl_engine_save/load): an engine that took the first part of the records saves
 * its state; a new engine loads it and takes the rest; its final rows equal the reference's over
 * all the records, in both dispatch modes, for every PE without windows. An engine of another
 * layout refuses the image, naming what differs. */
Test(engine, save_then_load_goes_on_exactly, .timeout = 300)
{
    size_t n = 90000, cut = 37123;
    sl_rec *recs = th_records_new(77, n, 15000, 1.0, 1000, 100);
    static const enum sl_dispatch_mode modes[] = {SL_DISPATCH_GROUPED, SL_DISPATCH_CHUNKED};
    static const enum sl_pe_kind kinds[] = {SL_PE_CTR, SL_PE_COUNT, SL_PE_SUM};
    sl_device *dev = NULL;
    char msg[4096];
    cr_assert(eq(int, sl_device_open(NULL, &dev, msg, sizeof msg), 0), "%s", msg);
    for (size_t m = 0; m < 2; m++)
        for (size_t k = 0; k < 3; k++) {
            sl_engine_cfg cfg = th_cfg(kinds[k], 40000, 4096);
            cfg.mode = modes[m];
            struct kept first = {0}, second = {0};
            sl_engine *a = NULL, *b = NULL;
            cr_assert(eq(int, sl_engine_new(dev, &cfg, keep_final, &first, &a, msg, sizeof msg), 0),
                      "%s", msg);
            cr_assert(eq(int, sl_engine_push(a, recs, cut), 0), "%s", sl_engine_message(a));
            unsigned char *img = NULL;
            size_t len = 0;
            cr_assert(eq(int, sl_engine_save(a, &img, &len), 0), "%s", sl_engine_message(a));
            sl_engine_destroy(&a);
            cr_assert(
                eq(int, sl_engine_new(dev, &cfg, keep_final, &second, &b, msg, sizeof msg), 0),
                "%s", msg);
            cr_assert(eq(int, sl_engine_load(b, img, len, msg, sizeof msg), 0), "%s", msg);
            cr_assert(eq(int, sl_engine_push(b, recs + cut, n - cut), 0));
            cr_assert(eq(int, sl_engine_finish(b), 0), "%s", sl_engine_message(b));
            sl_engine_stats st;
            sl_engine_get_stats(b, &st);
            cr_assert(eq(u64, st.events_in, n), "counters go on from the image");
            sl_engine_destroy(&b);
            qsort(second.r, second.n, sizeof *second.r, sl_row_cmp_key);
            th_assert_reference(&cfg.pe, recs, n, second.r, second.n);
            cr_assert(eq(sz, first.n, 0), "saving emits nothing");

            /* a capacity whose table is smaller than the image's: refused (a larger one takes
             * the image's size: the table grows to it) */
            sl_engine_cfg other = cfg;
            other.pe.capacity = 1000;
            struct kept none = {0};
            cr_assert(
                eq(int, sl_engine_new(dev, &other, keep_final, &none, &b, msg, sizeof msg), 0),
                "%s", msg);
            cr_assert(eq(int, sl_engine_load(b, img, len, msg, sizeof msg), SL_EINVAL));
            cr_assert_not_null(strstr(msg, "does not fit PE"), "%s", msg);
            sl_engine_destroy(&b);
            /* a cut image is refused, not loaded in part */
            cr_assert(eq(int, sl_engine_new(dev, &cfg, keep_final, &none, &b, msg, sizeof msg), 0));
            cr_assert(ne(int, sl_engine_load(b, img, len - 5, msg, sizeof msg), 0));
            sl_engine_destroy(&b);
            free(img);
            free(second.r);
            free(none.r);
        }
    sl_device_close(&dev);
    free(recs);
}

/* Which of 3 "nodes" owns a key in the combining test below. */
static uint32_t owner_of(uint64_t key)
{
    return (uint32_t)((key >> 7) % 3);
}

static int not_mine(void *ud, uint64_t key)
{
    return owner_of(key) != *(const uint32_t *)ud;
}

/* Combining, as cluster nodes do it: three engines each take a third of the records, whatever
 * their keys; each exports the states of the keys another owns, the owners merge them in (their
 * tables grow to take them), and the owners' final rows of their own keys together equal the C
 * reference over all the records, in both dispatch modes, for every built-in reduce PE. */
Test(engine, states_combined_across_engines_match_the_reference, .timeout = 300)
{
    size_t n = 120000;
    sl_rec *recs = th_records_new(41, n, 20000, 0.8, 1000, 100);
    static const enum sl_dispatch_mode modes[] = {SL_DISPATCH_GROUPED, SL_DISPATCH_CHUNKED};
    static const enum sl_pe_kind kinds[] = {SL_PE_CTR, SL_PE_COUNT, SL_PE_SUM};
    sl_device *dev = NULL;
    char msg[4096];
    cr_assert(eq(int, sl_device_open(NULL, &dev, msg, sizeof msg), 0), "%s", msg);
    for (size_t m = 0; m < 2; m++)
        for (size_t k = 0; k < 3; k++) {
            sl_engine_cfg cfg = th_cfg(kinds[k], 0, 4096);
            cfg.mode = modes[m];
            struct kept out[3] = {{0}};
            sl_engine *e[3] = {NULL};
            sl_bytebuf to[3] = {{0}}; /* states for each owner */
            for (uint32_t i = 0; i < 3; i++) {
                cr_assert(eq(int,
                             sl_engine_new(dev, &cfg, keep_final, &out[i], &e[i], msg, sizeof msg),
                             0),
                          "%s", msg);
                cr_assert(sl_engine_combinable(e[i]));
                size_t lo = n * i / 3, hi = n * (i + 1) / 3;
                cr_assert(eq(int, sl_engine_push(e[i], recs + lo, hi - lo), 0));
            }
            size_t ss = sl_engine_slot_size(e[0]);
            for (uint32_t i = 0; i < 3; i++) {
                sl_bytebuf all = {0};
                size_t count = 0;
                cr_assert(eq(int, sl_engine_export_states(e[i], not_mine, &i, &all, &count), 0),
                          "%s", sl_engine_message(e[i]));
                cr_assert(eq(sz, all.len, count * ss));
                cr_assert_gt(count, 0);
                for (size_t j = 0; j < count; j++) {
                    uint64_t key;
                    memcpy(&key, all.p + j * ss, 8);
                    cr_assert(ne(u32, owner_of(key), i), "exported a key of its own");
                    cr_assert(
                        eq(int, sl_bytebuf_append(&to[owner_of(key)], all.p + j * ss, ss), 0));
                }
                sl_bytebuf_free(&all);
            }
            sl_row *rows = NULL;
            size_t nrows = 0, cap = 0;
            for (uint32_t i = 0; i < 3; i++) {
                sl_engine_stats before, after;
                sl_engine_get_stats(e[i], &before);
                cr_assert(eq(int, sl_engine_merge_states(e[i], to[i].p, to[i].len / ss), 0), "%s",
                          sl_engine_message(e[i]));
                cr_assert(eq(int, sl_engine_finish(e[i]), 0), "%s", sl_engine_message(e[i]));
                sl_engine_get_stats(e[i], &after);
                cr_assert_gt(after.table_slots, 4096, "the table grew");
                cap += out[i].n;
                rows = realloc(rows, cap * sizeof *rows);
                cr_assert_not_null(rows);
                for (size_t r = 0; r < out[i].n; r++) /* an owner's rows of its own keys */
                    if (owner_of(out[i].r[r].key) == i)
                        rows[nrows++] = out[i].r[r];
                sl_engine_destroy(&e[i]);
                free(out[i].r);
                sl_bytebuf_free(&to[i]);
            }
            qsort(rows, nrows, sizeof *rows, sl_row_cmp_key);
            th_assert_reference(&cfg.pe, recs, n, rows, nrows);
            free(rows);
        }
    sl_device_close(&dev);
    free(recs);
}

/* Window and final rows, copied in the order they come, and snapshots counted (sl_emit_fn). */
struct kept_windows {
    sl_row *r;
    size_t n;
    size_t snapshots, snapshot_rows;
};

static int keep_windows(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n)
{
    struct kept_windows *k = ud;
    if (kind == SL_EMIT_SNAPSHOT) {
        k->snapshots++;
        k->snapshot_rows += n;
        return 0;
    }
    if (n == 0)
        return 0;
    k->r = realloc(k->r, (k->n + n) * sizeof *rows);
    cr_assert_not_null(k->r);
    memcpy(k->r + k->n, rows, n * sizeof *rows);
    k->n += n;
    return 0;
}

/* Checkpoints of a windowed PE: an engine takes the first part of the records in chunks (closing
 * and emitting windows as the watermark passes them), saves, and a new engine loads the image
 * and takes the rest. The windows the first emitted plus those the second emitted are exactly
 * the reference's over all the records, none twice: the open windows, the watermark (late
 * events after the cut are judged by the times before it) and the closed windows all carried
 * over. The every_events trigger goes on from its saved point (snapshots at every 10,000th
 * event of the whole stream), and an engine with another window_ms or lateness_ms refuses the
 * image, naming the field. Both dispatch modes. */
Test(engine, save_then_load_windows_goes_on_exactly, .timeout = 300)
{
    const size_t n = 120000, cut = 51234, chunk = 997;
    /* 2,000 keys, times about 1 ms apart jittering back by up to 400 ms, windows of 1 s with
     * 100 ms of lateness: many windows close before the cut, some stay open over it, and many
     * events are late on each side of it */
    sl_rec *recs = th_records_new(31, n, 2000, 0.8, -20000, 400);
    static const enum sl_dispatch_mode modes[] = {SL_DISPATCH_GROUPED, SL_DISPATCH_CHUNKED};
    sl_device *dev = NULL;
    char msg[4096];
    cr_assert(eq(int, sl_device_open(NULL, &dev, msg, sizeof msg), 0), "%s", msg);
    for (size_t m = 0; m < 2; m++) {
        sl_engine_cfg cfg = th_cfg(SL_PE_WINDOW, 60000, 4096);
        cfg.mode = modes[m];
        cfg.pe.window_ms = 1000;
        cfg.pe.lateness_ms = 100;
        cfg.pe.trigger.every_events = 10000;
        struct kept_windows first = {0}, second = {0};
        sl_engine *a = NULL, *b = NULL;
        cr_assert(eq(int, sl_engine_new(dev, &cfg, keep_windows, &first, &a, msg, sizeof msg), 0),
                  "%s", msg);
        for (size_t i = 0; i < cut; i += chunk)
            cr_assert(eq(int, sl_engine_push(a, recs + i, i + chunk < cut ? chunk : cut - i), 0),
                      "%s", sl_engine_message(a));
        unsigned char *img = NULL;
        size_t len = 0;
        size_t emitted_before = first.n;
        cr_assert(eq(int, sl_engine_save(a, &img, &len), 0), "%s", sl_engine_message(a));
        cr_assert(eq(sz, first.n, emitted_before), "saving emits nothing");
        cr_assert(gt(sz, first.n, 1000), "windows were closed before the cut");
        sl_engine_stats sa;
        sl_engine_get_stats(a, &sa);
        cr_assert(gt(u64, sa.keys, 0), "windows were open at the cut");
        cr_assert(eq(sz, first.snapshots, cut / 10000));
        sl_engine_destroy(&a);

        cr_assert(eq(int, sl_engine_new(dev, &cfg, keep_windows, &second, &b, msg, sizeof msg), 0),
                  "%s", msg);
        cr_assert(eq(int, sl_engine_load(b, img, len, msg, sizeof msg), 0), "%s", msg);
        for (size_t i = cut; i < n; i += chunk)
            cr_assert(eq(int, sl_engine_push(b, recs + i, i + chunk < n ? chunk : n - i), 0), "%s",
                      sl_engine_message(b));
        cr_assert(eq(int, sl_engine_finish(b), 0), "%s", sl_engine_message(b));
        sl_engine_stats sb;
        sl_engine_get_stats(b, &sb);
        cr_assert(eq(u64, sb.events_in, n), "counters go on from the image");
        cr_assert(eq(sz, second.snapshots, n / 10000 - cut / 10000),
                  "every_events fires at the whole stream's multiples");
        cr_assert(eq(u64, sb.rows_emitted,
                     (uint64_t)(first.n + second.n + first.snapshot_rows + second.snapshot_rows)),
                  "rows counted over both engines");
        sl_engine_destroy(&b);

        /* what the two emitted, together, is the reference's over every record */
        size_t total = first.n + second.n;
        sl_row *all = malloc(total * sizeof *all);
        cr_assert_not_null(all);
        memcpy(all, first.r, first.n * sizeof *all);
        memcpy(all + first.n, second.r, second.n * sizeof *all);
        qsort(all, total, sizeof *all, sl_row_cmp_key);
        uint64_t late = th_assert_reference(&cfg.pe, recs, n, all, total);
        cr_assert(gt(u64, late, 0), "the late rule was exercised");
        cr_assert(eq(u64, sb.events_late, late), "late events counted once, on both sides");

        /* another window or lateness: refused, naming it */
        static const char *const fields[] = {"window_ms", "lateness_ms"};
        for (int f = 0; f < 2; f++) {
            sl_engine_cfg other = cfg;
            if (f == 0)
                other.pe.window_ms = 2000;
            else
                other.pe.lateness_ms = 0;
            struct kept_windows none = {0};
            cr_assert(
                eq(int, sl_engine_new(dev, &other, keep_windows, &none, &b, msg, sizeof msg), 0),
                "%s", msg);
            cr_assert(eq(int, sl_engine_load(b, img, len, msg, sizeof msg), SL_EINVAL));
            cr_assert_not_null(strstr(msg, fields[f]), "%s", msg);
            sl_engine_destroy(&b);
        }
        free(img);
        free(all);
        free(first.r);
        free(second.r);
    }
    sl_device_close(&dev);
    free(recs);
}
