/* Snapshots on a cluster (docs/cluster.md, "Snapshots"): `sluice ctr|run --nodes 2` with
 * sink.snapshots, fed through a pipe at a few hundred events/s, as a live stream is. Every count
 * is checked against the events the test wrote, counted here in plain C; the final emission
 * against the one-process run of the same events; changes mode against a replay of the rows it
 * wrote. The every_ms alignment that lets the nodes snapshot together (host/engine/trigger.h) is
 * checked on its own first.
 *
 * Processes as in tests/test_cluster.c (tests/helpers/proc.h): children in process groups of
 * their own, killed by the .fini whatever the outcome. Timing checks leave room for a loaded
 * 2-core machine and say the timing they saw. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyhash.h"
#include "partmap.h"
#include "proc.h"
#include "trigger.h"

/* ---- the trigger's alignment ------------------------------------------------------------------
 */

/* Distance (s) from wall-clock time w back to the last multiple of 200 ms at or before it. */
static double past_point(double w)
{
    return w - floor(w * 5.0 + 1e-7) / 5.0;
}

/* Two processes whose monotonic clocks differ (offsets 1000 s and 2345.678 s to a shared wall
 * clock), each with every_ms 200 aligned to the wall clock and started at another moment, fire
 * at the same wall-clock instants, the multiples of 200 ms, found here by stepping the wall clock
 * 1 ms at a time (a point may be seen 1 ms late: float rounding); each one's wait says when its
 * next point comes. Without alignment a timer fires 200 ms after its own start instead. */
Test(cluster, snap_trigger_alignment)
{
    sl_trigger_cfg cfg = {.every_ms = 200};
    const double off[2] = {1000.0, 2345.678};
    const double start[2] = {5000.013, 5000.251}; /* wall-clock seconds */
    sl_trigger t[2], plain;
    for (int i = 0; i < 2; i++) {
        sl_trigger_init(&t[i], &cfg, start[i] - off[i]);
        sl_trigger_align(&t[i], off[i], start[i] - off[i]);
    }
    sl_trigger_init(&plain, &cfg, start[0] - off[0]);
    double fired[2][16], plain_fired[16];
    int nf[2] = {0, 0}, np = 0;
    for (int ms = 14; ms <= 2000; ms++) {
        double wall = 5000.0 + ms / 1000.0;
        for (int i = 0; i < 2; i++) {
            if (wall < start[i])
                continue;
            uint32_t left = sl_trigger_wait_ms(&t[i], wall - off[i]);
            cr_assert(le(uint, left, 200), "wait %u ms at %.3f", left, wall);
            double at = wall + left / 1000.0; /* a point, or within 1 ms before one */
            cr_assert(le(dbl, fmin(past_point(at), 0.2 - past_point(at)), 0.0015),
                      "wait %u ms at %.3f points at %.4f", left, wall, at);
            if (sl_trigger_due(&t[i], 0, wall - off[i])) {
                cr_assert(lt(int, nf[i], 16));
                fired[i][nf[i]++] = wall;
                sl_trigger_emitted(&t[i], wall - off[i]); /* does not move an aligned timer */
            }
        }
        if (sl_trigger_due(&plain, 0, wall - off[0])) {
            cr_assert(lt(int, np, 16));
            plain_fired[np++] = wall;
            sl_trigger_emitted(&plain, wall - off[0]);
        }
    }
    cr_assert(eq(int, nf[0], 10), "t[0] fired %d times in 5000.013 .. 5002.000", nf[0]);
    cr_assert(eq(int, nf[1], 9), "t[1] fired %d times in 5000.251 .. 5002.000", nf[1]);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < nf[i]; k++)
            cr_assert(le(dbl, past_point(fired[i][k]), 0.0015), "t[%d] fired at %.4f", i,
                      fired[i][k]);
    for (int k = 0; k < nf[1]; k++) /* t[0] fires at 5000.2 first; t[1] had not started */
        cr_assert(le(dbl, fabs(fired[0][k + 1] - fired[1][k]), 0.0015), "point %d", k);
    /* the plain timer counts from its start: 5000.213, then about every 200 ms */
    cr_assert(ge(int, np, 9));
    cr_assert(le(dbl, fabs(plain_fired[0] - 5000.213), 0.0015), "first plain %.4f", plain_fired[0]);
}

/* ---- live input ------------------------------------------------------------------------------ */

#define ADS 12

/* What the test wrote: impressions and clicks per ad (ad-00 .. ad-11), and the last event time. */
struct truth {
    unsigned long imp[ADS], clk[ADS];
    unsigned events;
};

/* Writes event i for ad `ad` (every 5th a click) as one NDJSON line to fd and to copy. */
static void write_event(int fd, FILE *copy, unsigned ad, struct truth *t)
{
    char line[160];
    unsigned i = t->events++;
    int click = i % 5 == 4;
    int n = snprintf(line, sizeof line,
                     "{\"ad_id\":\"ad-%02u\",\"event_type\":\"%s\",\"event_time\":%u}\n", ad,
                     click ? "click" : "view", 1000 + i);
    cr_assert(eq(long, (long)write(fd, line, (size_t)n), (long)n), "%s", strerror(errno));
    fputs(line, copy);
    if (click)
        t->clk[ad]++;
    else
        t->imp[ad]++;
}

/* One row of the output: emit,emit_seq,emit_time_ms,emit_watermark_ms,ad_id,impressions,
 * clicks,ctr. */
struct row {
    char emit[32], wm[32], ctr[32];
    unsigned seq, ad;
    unsigned long imp, clk;
};

/* Field i of CSV line l (no quoting in these ids) into out. */
static void field(const char *l, int i, char *out, size_t len)
{
    while (i-- > 0 && l)
        l = (l = strchr(l, ',')) ? l + 1 : NULL;
    size_t n = 0;
    while (l && l[n] && l[n] != ',' && l[n] != '\n')
        n++;
    cr_assert(lt(sz, n, len));
    snprintf(out, len, "%.*s", (int)n, l ? l : "");
}

/* Parses CSV text with the metadata columns into rows (caller frees); asserts its shape. */
static struct row *parse(const char *text, size_t *n)
{
    const char *hdr = "emit,emit_seq,emit_time_ms,emit_watermark_ms,ad_id,impressions,clicks,ctr\n";
    cr_assert(eq(int, strncmp(text, hdr, strlen(hdr)), 0), "header of:\n%.300s", text);
    size_t cap = count_lines(text) + 1, k = 0;
    struct row *r = calloc(cap, sizeof *r);
    cr_assert_not_null(r);
    for (const char *l = text + strlen(hdr); *l; l = strchr(l, '\n') + 1) {
        cr_assert_not_null(strchr(l, '\n'), "a line without its end: %s", l);
        struct row *w = &r[k++];
        char seq[32], ad[32], imp[32], clk[32], *end;
        field(l, 0, w->emit, sizeof w->emit);
        field(l, 1, seq, sizeof seq);
        field(l, 3, w->wm, sizeof w->wm);
        field(l, 4, ad, sizeof ad);
        field(l, 5, imp, sizeof imp);
        field(l, 6, clk, sizeof clk);
        field(l, 7, w->ctr, sizeof w->ctr);
        w->seq = (unsigned)strtoul(seq, &end, 10);
        cr_assert(seq[0] != 0 && end[0] == 0, "row %.*s", (int)strcspn(l, "\n"), l);
        cr_assert(eq(int, sscanf(ad, "ad-%u", &w->ad), 1), "row %.*s", (int)strcspn(l, "\n"), l);
        cr_assert(lt(uint, w->ad, ADS), "row %.*s", (int)strcspn(l, "\n"), l);
        w->imp = strtoul(imp, NULL, 10);
        w->clk = strtoul(clk, NULL, 10);
    }
    *n = k;
    return r;
}

/* The highest N of "snapshot-N" in file `name` so far (0: none). */
static unsigned last_snapshot(const char *name)
{
    char *s = tu_read_file(tpath(name), NULL); /* NULL until the run opens it */
    unsigned last = 0;
    for (const char *p = s ? s : ""; (p = strstr(p, "snapshot-")); p += 9) {
        unsigned v = (unsigned)strtoul(p + 9, NULL, 10);
        last = v > last ? v : last;
    }
    free(s);
    return last;
}

/* Waits (at most 60 s: the nodes start and build the PE) for a first snapshot in `name`. */
static unsigned first_snapshot(const char *name)
{
    double t_end = now_s() + 60;
    while (last_snapshot(name) == 0 && now_s() < t_end)
        usleep(20000);
    unsigned a = last_snapshot(name);
    cr_assert(gt(uint, a, 0), "no snapshot within 60 s:\n%s", slurp("err.txt", NULL));
    return a;
}

/* The final rows of CSV text without the columns that differ between any two runs (emit_seq,
 * emit_time_ms): header, then "final,,,WATERMARK,ad,...". Caller frees. */
static char *final_part(const char *text)
{
    char *out = calloc(1, strlen(text) + 1);
    cr_assert_not_null(out);
    size_t k = 0;
    for (const char *l = strchr(text, '\n') + 1; *l; l = strchr(l, '\n') + 1) {
        if (strncmp(l, "final,", 6) != 0)
            continue;
        const char *wm = strchr(strchr(strchr(l, ',') + 1, ',') + 1, ',');
        size_t len = strcspn(wm, "\n") + 1;
        k += (size_t)sprintf(out + k, "final,,");
        memcpy(out + k, wm, len);
        k += len;
    }
    out[k] = '\0';
    return out;
}

/* Starts `sluice ARGS` reading a pipe; the write end goes to *wfd. Returns its pid. */
static pid_t start_piped(const char *args, int *wfd)
{
    int p[2];
    cr_assert(eq(int, pipe2(p, O_CLOEXEC), 0));
    pid_t pid = spawn_in(args, p[0], NULL, "err.txt");
    close(p[0]);
    *wfd = p[1];
    return pid;
}

/* Writes events at about `rate` per second for `seconds`, ad = lo + i % span. */
static void trickle(int fd, FILE *copy, struct truth *t, double rate, double seconds, unsigned lo,
                    unsigned span)
{
    double t0 = now_s();
    for (unsigned i = 0; now_s() - t0 < seconds; i++) {
        write_event(fd, copy, lo + i % span, t);
        usleep((useconds_t)(1e6 / rate));
    }
}

/* Checks the emissions of full-mode CSV text against what was written: each snapshot is the
 * whole state at its moment (every ad seen so far, no ad twice), per-ad counts never above the
 * final ones nor below the previous snapshot's; with every_events, the part of each node (the
 * ads it owns on `nodes` nodes, as the client routes them) counts a multiple of every_events
 * events, its snapshots being cut there; the final rows are exact, with the largest event time
 * written as their watermark (ctr's lateness is 0). Returns the number of snapshots that show a
 * state between nothing and the end. */
static unsigned check_full(const char *text, const struct truth *t, unsigned every_events,
                           unsigned nodes)
{
    uint32_t node_of[ADS];
    sl_partmap *map = NULL;
    char err[256];
    cr_assert(eq(int, sl_partmap_new(256, nodes, &map, err, sizeof err), 0), "%s", err);
    for (unsigned a = 0; a < ADS; a++) {
        char id[16];
        int len = snprintf(id, sizeof id, "ad-%02u", a);
        node_of[a] = sl_partmap_node_of_key(map, sl_key_hash(id, (size_t)len));
    }
    sl_partmap_destroy(&map);
    size_t n;
    struct row *r = parse(text, &n);
    unsigned long prev_imp[ADS] = {0}, prev_clk[ADS] = {0}, fin_imp[ADS] = {0}, fin_clk[ADS] = {0};
    int prev_seen[ADS] = {0}, fin_seen[ADS] = {0};
    unsigned snaps = 0, partial = 0;
    unsigned long total_want = 0;
    for (unsigned a = 0; a < ADS; a++)
        total_want += t->imp[a] + t->clk[a];
    for (size_t i = 0; i < n;) {
        /* one emission: rows i .. j - 1 */
        size_t j = i;
        int seen[ADS] = {0};
        unsigned long total = 0, per_node[SL_NODES_MAX] = {0};
        int fin = strcmp(r[i].emit, "final") == 0;
        cr_assert(fin || strncmp(r[i].emit, "snapshot-", 9) == 0, "%s", r[i].emit);
        for (; j < n && r[j].seq == r[i].seq; j++) {
            const struct row *w = &r[j];
            cr_assert(eq(str, (char *)w->emit, (char *)r[i].emit));
            cr_assert(not(seen[w->ad]), "ad-%02u twice in %s", w->ad, w->emit);
            seen[w->ad] = 1;
            total += w->imp + w->clk;
            per_node[node_of[w->ad]] += w->imp + w->clk;
            if (fin) {
                fin_imp[w->ad] = w->imp;
                fin_clk[w->ad] = w->clk;
                fin_seen[w->ad] = 1;
                continue;
            }
            cr_assert(le(ulong, w->imp, t->imp[w->ad]), "%s: impressions of ad-%02u", w->emit,
                      w->ad);
            cr_assert(le(ulong, w->clk, t->clk[w->ad]), "%s: clicks of ad-%02u", w->emit, w->ad);
            cr_assert(ge(ulong, w->imp, prev_imp[w->ad]), "%s: impressions of ad-%02u went down",
                      w->emit, w->ad);
            cr_assert(ge(ulong, w->clk, prev_clk[w->ad]), "%s: clicks of ad-%02u went down",
                      w->emit, w->ad);
            prev_imp[w->ad] = w->imp;
            prev_clk[w->ad] = w->clk;
        }
        if (!fin) {
            for (unsigned a = 0; a < ADS; a++)
                cr_assert(not(prev_seen[a] && !seen[a]), "%s lacks ad-%02u that an earlier one had",
                          r[i].emit, a);
            memcpy(prev_seen, seen, sizeof seen);
            for (unsigned d = 0; every_events && d < nodes; d++)
                cr_assert(eq(ulong, per_node[d] % every_events, 0),
                          "%s: node %u's ads count %lu events, not a multiple of %u", r[i].emit, d,
                          per_node[d], every_events);
            snaps++;
            partial += total > 0 && total < total_want;
        }
        i = j;
    }
    for (unsigned a = 0; a < ADS; a++) {
        cr_assert(fin_seen[a], "no final row for ad-%02u", a);
        cr_assert(eq(ulong, fin_imp[a], t->imp[a]), "final impressions of ad-%02u", a);
        cr_assert(eq(ulong, fin_clk[a], t->clk[a]), "final clicks of ad-%02u", a);
    }
    char wm[32];
    snprintf(wm, sizeof wm, "%u", 1000 + t->events - 1);
    cr_assert(eq(str, r[n - 1].wm, wm));
    free(r);
    cr_log_info("%u snapshots, %u of them between nothing and the end", snaps, partial);
    return partial;
}

/* 300 events/s for 2 s through a pipe into `ctr --nodes 2 --every-ms 200 --snapshots`:
 * snapshots come while the input runs and hold what check_full asks; the final rows are, but
 * for emit_seq and emit_time_ms, the one-process run's of the same events byte for byte (its
 * watermark included). */
Test(cluster, snap_trickle_nodes2, .init = setup, .fini = teardown, .timeout = 300)
{
    int wfd;
    pid_t pid =
        start_piped("ctr --input - --nodes 2 --every-ms 200 --snapshots --output out.csv -q", &wfd);
    FILE *copy = create("events.ndjson");
    struct truth t = {0};
    write_event(wfd, copy, 0, &t);
    unsigned first = first_snapshot("out.csv");
    trickle(wfd, copy, &t, 300, 2.0, 0, ADS);
    unsigned during = last_snapshot("out.csv") - first;
    close(wfd);
    fclose(copy);
    int st = wait_exit(pid, 60, "ctr --nodes 2");
    cr_assert(eq(int, st, 0), "exit %d:\n%s", st, slurp("err.txt", NULL));
    /* every 200 ms for 2 s is 10; a loaded machine may lose some, never most */
    cr_assert(ge(uint, during, 5), "%u snapshots while 2 s of input ran (%u events)", during,
              t.events);
    char *text = slurp("out.csv", NULL);
    unsigned partial = check_full(text, &t, 0, 2);
    cr_assert(ge(uint, partial, 4), "%u snapshots show a state between nothing and the end",
              partial);

    struct run one = run_sluice("ctr --input events.ndjson --every-ms 200 --snapshots "
                                "--output one.csv -q",
                                120);
    cr_assert(eq(int, one.status, 0), "one process: %s", one.err);
    char *one_text = slurp("one.csv", NULL), *f1 = final_part(one_text), *f2 = final_part(text);
    cr_assert(eq(sz, count_lines(f2), (size_t)ADS));
    assert_same_text(f2, f1, "final rows of --nodes 2 against one process");
    run_free(&one);
    free(f1);
    free(f2);
    free(one_text);
    free(text);
    finish();
}

/* every_events counts each node's own events: with --every-events 25 the nodes snapshot at
 * different moments, so most emissions of the client come from one node's new snapshot and the
 * other's latest; each still holds the whole state (check_full), each node's part at a multiple
 * of 25 of its events. */
Test(cluster, snap_every_events_nodes2, .init = setup, .fini = teardown, .timeout = 300)
{
    int wfd;
    pid_t pid = start_piped(
        "ctr --input - --nodes 2 --every-events 25 --snapshots --output out.csv -q", &wfd);
    FILE *copy = create("events.ndjson");
    struct truth t = {0};
    for (unsigned i = 0; i < 50; i++) /* some node takes 25 of them: a first snapshot */
        write_event(wfd, copy, i % 2 ? 1 : 0, &t);
    first_snapshot("out.csv");
    trickle(wfd, copy, &t, 300, 1.5, 0, ADS);
    close(wfd);
    fclose(copy);
    int st = wait_exit(pid, 60, "ctr --nodes 2");
    cr_assert(eq(int, st, 0), "exit %d:\n%s", st, slurp("err.txt", NULL));
    char *text = slurp("out.csv", NULL);
    unsigned partial = check_full(text, &t, 25, 2);
    cr_assert(ge(uint, partial, 4), "%u snapshots show a state between nothing and the end",
              partial);
    free(text);
    finish();
}

/* Changes mode on 2 nodes: for 1 s events go to ads 0-5, then for 1 s to ads 6-11 only. Every
 * row written differs from the last one written for its ad (an unchanged ad is never written
 * again), no emission names an ad twice, and a consumer that keeps the latest row per ad holds
 * counts that never go down nor above the truth, and exactly the truth after the final
 * emission. */
Test(cluster, snap_changes_mode_nodes2, .init = setup, .fini = teardown, .timeout = 300)
{
    tu_write_file(tpath("topo.yaml"), "source: {type: stdin, format: ndjson}\n"
                                      "pe: {kind: ctr, trigger: {every_ms: 150}}\n"
                                      "sink: {path: out.csv, snapshots: true, mode: changes}\n");
    int wfd;
    pid_t pid = start_piped("run topo.yaml --nodes 2 -q", &wfd);
    FILE *copy = create("events.ndjson");
    struct truth t = {0};
    write_event(wfd, copy, 0, &t);
    first_snapshot("out.csv");
    trickle(wfd, copy, &t, 300, 1.0, 0, ADS / 2);
    unsigned phase2 = last_snapshot("out.csv");
    trickle(wfd, copy, &t, 300, 1.0, ADS / 2, ADS / 2);
    close(wfd);
    fclose(copy);
    int st = wait_exit(pid, 60, "run --nodes 2");
    cr_assert(eq(int, st, 0), "exit %d:\n%s", st, slurp("err.txt", NULL));

    char *text = slurp("out.csv", NULL);
    size_t n;
    struct row *r = parse(text, &n);
    struct row last[ADS];
    int have[ADS] = {0};
    unsigned quiet = 0, snaps = 0; /* snapshots of phase 2 that left an ad out */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int seen[ADS] = {0}, fin = strcmp(r[i].emit, "final") == 0;
        for (; j < n && r[j].seq == r[i].seq; j++) {
            const struct row *w = &r[j];
            cr_assert(not(seen[w->ad]), "ad-%02u twice in %s", w->ad, w->emit);
            seen[w->ad] = 1;
            if (have[w->ad])
                cr_assert(w->imp != last[w->ad].imp || w->clk != last[w->ad].clk ||
                              strcmp(w->ctr, last[w->ad].ctr) != 0,
                          "%s writes ad-%02u unchanged (%lu, %lu)", w->emit, w->ad, w->imp, w->clk);
            if (!fin) {
                cr_assert(le(ulong, w->imp, t.imp[w->ad]), "%s: ad-%02u", w->emit, w->ad);
                cr_assert(le(ulong, w->clk, t.clk[w->ad]), "%s: ad-%02u", w->emit, w->ad);
                cr_assert(
                    not(have[w->ad] && (w->imp < last[w->ad].imp || w->clk < last[w->ad].clk)),
                    "%s: ad-%02u went down", w->emit, w->ad);
            }
            last[w->ad] = *w;
            have[w->ad] = 1;
        }
        if (!fin) {
            snaps++;
            unsigned k = (unsigned)strtoul(r[i].emit + 9, NULL, 10), known = 0;
            for (unsigned a = 0; a < ADS; a++)
                known += have[a];
            quiet += k > phase2 && (unsigned)(j - i) < known;
        }
        i = j;
    }
    for (unsigned a = 0; a < ADS; a++) {
        cr_assert(have[a], "ad-%02u never written", a);
        cr_assert(eq(ulong, last[a].imp, t.imp[a]), "impressions of ad-%02u after the end", a);
        cr_assert(eq(ulong, last[a].clk, t.clk[a]), "clicks of ad-%02u after the end", a);
    }
    /* ads 0-5 changed no more in phase 2: its snapshots (about 6) must have left them out */
    cr_assert(ge(uint, quiet, 2), "%u of %u snapshots after snapshot-%u wrote fewer rows than ads",
              quiet, snaps, phase2);
    free(r);
    free(text);
    finish();
}
