/* Tests of host/cluster/nodelog.h, a node's write-ahead ingest log: records appended between
 * barriers come back, from a checkpoint's segment on, in the order they were appended and whole,
 * with the ids the dictionary learnt meanwhile interned again (and not logged twice); a barrier
 * removes the segments below the newest complete checkpoint; a fresh open forgets the old log;
 * schema.attributes come back with their records. The reference is the list of what was
 * appended, kept by the test. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addict.h"
#include "err.h"
#include "nodelog.h"
#include "util.h"

TestSuite(nodelog, .timeout = 60);

#define NREC 3000

/* What the test appended: record i's key is the key of id "id-<i % 97>", its time i. */
static sl_rec rec_at(sl_addict *d, unsigned i)
{
    char id[32];
    int n = snprintf(id, sizeof id, "id-%u", i % 97);
    sl_rec r;
    memset(&r, 0, sizeof r);
    cr_assert(eq(int, sl_addict_intern(d, id, (size_t)n, &r.key), 0));
    r.time_ms = (int64_t)i;
    r.type = i % 4;
    r.value = (float)(i % 50);
    return r;
}

/* Appends records [from, to) (learning their ids in d first), `step` at a time. */
static void append(sl_nodelog *l, sl_addict *d, unsigned from, unsigned to, unsigned step,
                   uint32_t nattr)
{
    static sl_rec buf[NREC];
    static uint64_t attrs[NREC * 2];
    char msg[512];
    while (from < to) {
        unsigned n = to - from < step ? to - from : step;
        for (unsigned i = 0; i < n; i++) {
            buf[i] = rec_at(d, from + i);
            for (uint32_t k = 0; k < nattr; k++)
                attrs[i * nattr + k] = (uint64_t)(from + i) * 1000 + k;
        }
        cr_assert(eq(int,
                     sl_nodelog_append(l, d, buf, nattr ? attrs : NULL, nattr, n, msg, sizeof msg),
                     0),
                  "%s", msg);
        from += n;
    }
}

struct seen {
    unsigned next; /* the index the next replayed record must have */
    uint64_t n;
    uint32_t nattr;
    sl_addict *ref; /* the ids as the writer knew them */
};

static int check(void *ud, const sl_rec *recs, const uint64_t *attrs, uint32_t nattr, size_t n,
                 char *msg, size_t msglen)
{
    (void)msg;
    (void)msglen;
    struct seen *s = ud;
    cr_assert(eq(u32, nattr, s->nattr));
    for (size_t i = 0; i < n; i++, s->next++, s->n++) {
        sl_rec want = rec_at(s->ref, s->next);
        cr_assert(eq(int, memcmp(&recs[i], &want, sizeof want), 0), "record %u differs", s->next);
        for (uint32_t k = 0; k < nattr; k++)
            cr_assert(eq(u64, attrs[i * nattr + k], (uint64_t)s->next * 1000 + k));
    }
    return 0;
}

/* Resumes the log in dir from checkpoint `from` and checks that it gives records [first, end)
 * and interns every id they name. */
static void expect_replay(const char *dir, uint64_t from, unsigned first, unsigned end,
                          uint32_t nattr, sl_addict *ref)
{
    char msg[512];
    sl_nodelog *l = NULL;
    cr_assert(eq(int, sl_nodelog_open(dir, 1, from, &l, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(int, sl_nodelog_replay_pending(l), 1));
    sl_addict *d = sl_addict_new();
    struct seen s = {.next = first, .nattr = nattr, .ref = ref};
    uint64_t n = 0;
    cr_assert(eq(int, sl_nodelog_replay(l, d, check, &s, &n, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(u64, n, (uint64_t)(end - first)));
    cr_assert(eq(u32, s.next, end));
    cr_assert(eq(int, sl_nodelog_replay_pending(l), 0));
    /* the ids first learnt among the replayed records (record j < 97 first names id j) are
     * known again, and every id known names what the writer's id named */
    for (unsigned j = first; j < end && j < 97; j++) {
        char id[32];
        int len = snprintf(id, sizeof id, "id-%u", j);
        uint64_t key;
        cr_assert(eq(int, sl_addict_intern(ref, id, (size_t)len, &key), 0));
        cr_assert_not_null(sl_addict_get(d, key, NULL), "id %s (first named by record %u)", id, j);
    }
    for (unsigned i = first; i < end; i++) {
        sl_rec r = rec_at(ref, i);
        size_t want_len, got_len;
        const char *want = sl_addict_get(ref, r.key, &want_len);
        const char *got = sl_addict_get(d, r.key, &got_len);
        if (got)
            cr_assert(eq(int, got_len == want_len && memcmp(got, want, want_len) == 0, 1),
                      "record %u's id", i);
    }
    sl_addict_destroy(&d);
    sl_nodelog_close(&l);
}

static unsigned segments(const char *dir)
{
    DIR *d = opendir(dir);
    unsigned n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strncmp(e->d_name, "log-", 4) == 0;
    if (d)
        closedir(d);
    return n;
}

Test(nodelog, barriers_cut_the_log_and_a_resume_sends_the_rest_again)
{
    char root[512], dir[600], msg[512];
    tu_mkdtemp(root, sizeof root, "nlog");
    snprintf(dir, sizeof dir, "%s/ck/node-1", root); /* neither folder exists yet */
    sl_addict *ref = sl_addict_new();
    sl_nodelog *l = NULL;
    cr_assert(eq(int, sl_nodelog_open(dir, 0, 0, &l, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(int, sl_nodelog_replay_pending(l), 0));
    append(l, ref, 0, 50, 7, 0); /* ids 0-49 learnt here */
    cr_assert(eq(int, sl_nodelog_barrier(l, 1, 0, msg, sizeof msg), 0), "%s", msg);
    append(l, ref, 50, 1000, 300, 0); /* ids 50-96 */
    cr_assert(eq(int, sl_nodelog_barrier(l, 2, 1, msg, sizeof msg), 0), "%s", msg);
    append(l, ref, 1000, 1800, 333, 0);
    cr_assert(eq(int, sl_nodelog_barrier(l, 2, 1, msg, sizeof msg), SL_EINVAL),
              "a barrier's segment must follow the current one");
    sl_nodelog_close(&l);
    cr_assert_null(l);
    /* segment 0 went when checkpoint 1 was complete (barrier 2 said so) */
    cr_assert(eq(u32, segments(dir), 2));
    expect_replay(dir, 1, 50, 1800, 0, ref);
    expect_replay(dir, 2, 1000, 1800, 0, ref);

    /* a resumed log goes on in its newest segment; a replayed instance logs only what it reads
     * next, not the ids it learnt from the log again */
    cr_assert(eq(int, sl_nodelog_open(dir, 1, 2, &l, msg, sizeof msg), 0), "%s", msg);
    sl_addict *d = sl_addict_new();
    struct seen s = {.next = 1000, .ref = ref};
    uint64_t n;
    cr_assert(eq(int, sl_nodelog_replay(l, d, check, &s, &n, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(u64, n, 800));
    cr_assert(eq(int, sl_nodelog_replay(l, d, check, &s, &n, msg, sizeof msg), 0));
    cr_assert(eq(u64, n, 0), "a log is sent again once");
    append(l, d, 1800, 2000, 100, 0);
    cr_assert(eq(int, sl_nodelog_barrier(l, 5, 2, msg, sizeof msg), 0), "%s", msg);
    append(l, d, 2000, 2100, 100, 0);
    sl_addict_destroy(&d);
    sl_nodelog_close(&l);
    expect_replay(dir, 2, 1000, 2100, 0, ref);
    expect_replay(dir, 5, 2000, 2100, 0, ref);

    /* a first attempt starts afresh */
    cr_assert(eq(int, sl_nodelog_open(dir, 0, 0, &l, msg, sizeof msg), 0), "%s", msg);
    sl_nodelog_close(&l);
    expect_replay(dir, 0, 0, 0, 0, ref);
    sl_addict_destroy(&ref);
    tu_rm_rf(root);
}

Test(nodelog, attributes_come_back_with_their_records)
{
    char root[512], dir[600], msg[512];
    tu_mkdtemp(root, sizeof root, "nlog");
    snprintf(dir, sizeof dir, "%s/node-0", root);
    sl_addict *ref = sl_addict_new();
    sl_nodelog *l = NULL;
    cr_assert(eq(int, sl_nodelog_open(dir, 0, 0, &l, msg, sizeof msg), 0), "%s", msg);
    append(l, ref, 0, 500, 64, 2);
    cr_assert(eq(int, sl_nodelog_barrier(l, 3, 0, msg, sizeof msg), 0), "%s", msg);
    append(l, ref, 500, 2500, 1000, 2);
    sl_nodelog_close(&l);
    expect_replay(dir, 0, 0, 2500, 2, ref);
    expect_replay(dir, 3, 500, 2500, 2, ref);
    sl_addict_destroy(&ref);
    tu_rm_rf(root);
}
