/* Tests of host/io/ingestlog.h, the write-ahead ingest log: what is replayed equals, record for
 * record, what was appended (records made from their index, so any prefix can be checked);
 * pruning removes the segments below a checkpoint and never the current one; a torn tail (cut
 * anywhere in the last block, or garbage after a power loss) is found and cut when the log is
 * opened to go on, and only read around when opened to read; corruption anywhere else is
 * refused naming the byte; a process SIGKILLed while appending leaves a whole prefix; a write
 * that fails (the disk full) leaves no torn block behind; records appended with their
 * schema.attributes come back with exactly their words; a segment of the first format is still
 * read. Seeds are printed; SLUICE_TEST_SEED picks them. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "ingestlog.h"
#include "util.h"

/* Record i of every test: each field derived from i, so that a replayed record says which it is
 * and whether it is whole. */
static sl_rec rec_of(uint64_t i)
{
    uint64_t s = i * 0x9e3779b97f4a7c15ull + 1;
    sl_rec r;
    memset(&r, 0, sizeof r);
    r.key = splitmix64(&s);
    r.time_ms = (int64_t)i;
    r.value = (float)(i % 1000);
    r.type = (uint32_t)(i % 3);
    r.user = splitmix64(&s);
    return r;
}

/* Appends records [from, to) in appends of `step` records. */
static void append_range(sl_ingestlog *l, uint64_t from, uint64_t to, size_t step)
{
    static sl_rec buf[20000];
    char msg[1024];
    cr_assert(le(sz, step, sizeof buf / sizeof buf[0]));
    while (from < to) {
        size_t n = to - from < step ? (size_t)(to - from) : step;
        for (size_t i = 0; i < n; i++)
            buf[i] = rec_of(from + i);
        cr_assert(eq(int, sl_ingestlog_append(l, buf, n, msg, sizeof msg), 0), "%s", msg);
        from += n;
    }
}

/* Word k of record i's schema.attributes: every bit of the word depends on both. */
static uint64_t word_of(uint64_t i, uint32_t k)
{
    uint64_t s = i * 0x2545f4914f6cdd1dull + k * 0x9e3779b97f4a7c15ull + 7;
    return splitmix64(&s);
}

/* How many attribute words record i has in the attribute test (0 in the others). */
static uint32_t mixed_nattr(uint64_t i)
{
    return i < 5000 ? 3 : i < 6000 ? 0 : i < 15000 ? 8 : 1;
}

/* Replay state: every record must be the next one expected, with its words when `mixed`. */
struct expect {
    uint64_t next;
    uint64_t wrong; /* the first index that did not match + 1 (0: none) */
    int mixed;      /* records carry mixed_nattr(i) words of word_of */
};

static int check_fn(void *ud, const sl_rec *recs, const uint64_t *attrs, uint32_t nattr, size_t n,
                    char *msg, size_t msglen)
{
    struct expect *e = ud;
    (void)msg;
    (void)msglen;
    for (size_t i = 0; i < n; i++, e->next++) {
        sl_rec want = rec_of(e->next);
        int bad = memcmp(&recs[i], &want, sizeof want) != 0;
        uint32_t na = e->mixed ? mixed_nattr(e->next) : 0;
        bad |= nattr != na || (na == 0) != (attrs == NULL);
        for (uint32_t k = 0; !bad && k < na; k++)
            bad |= attrs[i * na + k] != word_of(e->next, k);
        if (!e->wrong && bad)
            e->wrong = e->next + 1;
    }
    return 0;
}

/* Replays from segment `from` and checks that it gives records [first, first + n). */
static void expect_replay(sl_ingestlog *l, uint64_t from, uint64_t first, uint64_t n)
{
    struct expect e = {.next = first};
    uint64_t count = 0;
    char msg[1024];
    int rc = sl_ingestlog_replay(l, from, check_fn, NULL, &e, &count, msg, sizeof msg);
    cr_assert(eq(int, rc, 0), "%s", msg);
    cr_assert(eq(u64, e.wrong, 0), "record %" PRIu64 " replayed wrong", e.wrong - 1);
    cr_assert(eq(u64, count, n));
    cr_assert(eq(u64, e.next, first + n));
}

static off_t file_size(const char *path)
{
    struct stat st;
    cr_assert(eq(int, stat(path, &st), 0), "%s", path);
    return st.st_size;
}

static void seg_file(char *buf, size_t len, const char *dir, uint64_t seg)
{
    snprintf(buf, len, "%s/log-%020" PRIu64, dir, seg);
}

/* Flips the bits of `mask` in the byte at `at` of the file at path, in place. */
static void flip_byte(const char *path, long at, unsigned char mask)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f, "%s", path);
    cr_assert(eq(int, fseek(f, at, SEEK_SET), 0));
    int c = fgetc(f);
    cr_assert(ne(int, c, EOF), "%s has no byte %ld", path, at);
    cr_assert(eq(int, fseek(f, at, SEEK_SET), 0));
    cr_assert(ne(int, fputc(c ^ mask, f), EOF));
    cr_assert(eq(int, fclose(f), 0));
}

TestSuite(ingestlog, .timeout = 120);

Test(ingestlog, append_roll_replay_prune)
{
    char dir[512], msg[1024];
    tu_mkdtemp(dir, sizeof dir, "ilog");
    sl_ingestlog *l = NULL;
    cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_FRESH, &l, msg, sizeof msg), 0), "%s",
              msg);
    cr_assert(eq(u64, sl_ingestlog_segment(l), 0));
    expect_replay(l, 0, 0, 0); /* empty */
    /* segment 0: appends of odd sizes around the block size */
    append_range(l, 0, 1, 1);
    append_range(l, 1, 4097, 4096);
    append_range(l, 4097, 20000, 4097);
    cr_assert(eq(int, sl_ingestlog_sync(l, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(int, sl_ingestlog_roll(l, 3, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(int, sl_ingestlog_roll(l, 3, msg, sizeof msg), SL_EINVAL));
    append_range(l, 20000, 70000, 20000); /* segment 3 */
    cr_assert(eq(int, sl_ingestlog_roll(l, 4, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(int, sl_ingestlog_roll(l, 5, msg, sizeof msg), 0), "%s", msg); /* 4: empty */
    append_range(l, 70000, 70100, 7);                                           /* segment 5 */
    expect_replay(l, 0, 0, 70100);
    expect_replay(l, 1, 20000, 50100);
    expect_replay(l, 4, 70000, 100);
    expect_replay(l, 6, 0, 0);
    /* prune below 4: segments 0 and 3 go; never the current one */
    cr_assert(eq(int, sl_ingestlog_prune(l, 4), 2));
    expect_replay(l, 0, 70000, 100);
    cr_assert(eq(int, sl_ingestlog_prune(l, 100), 0), "the current segment stays");
    expect_replay(l, 0, 70000, 100);
    sl_ingestlog_close(&l);
    cr_assert_null(l);

    /* opened again to go on: appends follow in the newest segment */
    cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_RESUME, &l, msg, sizeof msg), 0), "%s",
              msg);
    cr_assert(eq(u64, sl_ingestlog_segment(l), 5));
    cr_assert(eq(u64, sl_ingestlog_cut(l), 0));
    append_range(l, 70100, 70200, 50);
    expect_replay(l, 5, 70000, 200);
    sl_ingestlog_close(&l);
    /* fresh: nothing of the old log is left */
    cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_FRESH, &l, msg, sizeof msg), 0), "%s",
              msg);
    expect_replay(l, 0, 0, 0);
    sl_ingestlog_close(&l);
    tu_rm_rf(dir);
}

/* Cuts the last segment at many places inside its last block (and fills it with zeros, as
 * blocks a power loss never wrote): a READ log stops before the torn block and changes nothing;
 * a RESUME log cuts it and goes on after the last whole block. */
Test(ingestlog, torn_tail_cut_on_resume)
{
    char dir[512], msg[1024], path[700];
    tu_mkdtemp(dir, sizeof dir, "ilog");
    sl_ingestlog *l = NULL;
    cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_FRESH, &l, msg, sizeof msg), 0), "%s",
              msg);
    cr_assert(eq(int, sl_ingestlog_roll(l, 1, msg, sizeof msg), 0), "%s", msg);
    append_range(l, 0, 300, 100); /* three blocks of 100 */
    sl_ingestlog_close(&l);
    seg_file(path, sizeof path, dir, 1);
    off_t whole = file_size(path), two = whole - 16 - 100 * 32;
    size_t len;
    char *img = tu_read_file(path, &len);
    cr_assert(eq(sz, len, (size_t)whole));
    const off_t cuts[] = {two + 1,  two + 8, two + 15, two + 16, two + 17, two + 16 + 32 * 50,
                          whole - 1};
    for (size_t c = 0; c <= sizeof cuts / sizeof cuts[0]; c++) {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        if (c < sizeof cuts / sizeof cuts[0]) {
            fwrite(img, 1, (size_t)cuts[c], f);
        } else { /* the whole file, its last block's records zeroed */
            fwrite(img, 1, (size_t)two + 16, f);
            for (off_t i = two + 16; i < whole; i++)
                fputc(0, f);
        }
        fclose(f);
        off_t torn = file_size(path);
        cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_READ, &l, msg, sizeof msg), 0), "%s",
                  msg);
        expect_replay(l, 0, 0, 200);
        sl_ingestlog_close(&l);
        cr_assert(eq(i64, (int64_t)file_size(path), (int64_t)torn), "READ changed the log");
        cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_RESUME, &l, msg, sizeof msg), 0),
                  "%s", msg);
        cr_assert(eq(u64, sl_ingestlog_cut(l), (uint64_t)(torn - two)), "cut at %lld",
                  (long long)torn);
        expect_replay(l, 0, 0, 200);
        append_range(l, 200, 300, 100);
        expect_replay(l, 0, 0, 300);
        sl_ingestlog_close(&l);
        cr_assert(eq(i64, (int64_t)file_size(path), (int64_t)whole));
    }
    /* a segment cut inside its header: emptied, then written anew */
    FILE *f = fopen(path, "wb");
    fwrite(img, 1, 5, f);
    fclose(f);
    cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_RESUME, &l, msg, sizeof msg), 0), "%s",
              msg);
    cr_assert(eq(u64, sl_ingestlog_cut(l), 5));
    append_range(l, 0, 10, 10);
    expect_replay(l, 0, 0, 10);
    sl_ingestlog_close(&l);
    free(img);
    tu_rm_rf(dir);
}

/* A flipped bit in a block that is not the last one's tail: refused, naming the byte; a file
 * named as a segment that is not one: refused. */
Test(ingestlog, corruption_refused)
{
    char dir[512], msg[1024], path[700];
    tu_mkdtemp(dir, sizeof dir, "ilog");
    sl_ingestlog *l = NULL;
    cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_FRESH, &l, msg, sizeof msg), 0), "%s",
              msg);
    cr_assert(eq(int, sl_ingestlog_roll(l, 1, msg, sizeof msg), 0), "%s", msg);
    append_range(l, 0, 300, 100);
    cr_assert(eq(int, sl_ingestlog_roll(l, 2, msg, sizeof msg), 0), "%s", msg);
    append_range(l, 300, 400, 100);
    sl_ingestlog_close(&l);
    seg_file(path, sizeof path, dir, 1);
    flip_byte(path, 16 + 16 + 100 * 32 + 16 + 40, 0x04); /* the second block's second record */
    cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_RESUME, &l, msg, sizeof msg), 0), "%s",
              msg);
    struct expect e = {0};
    int rc = sl_ingestlog_replay(l, 0, check_fn, NULL, &e, NULL, msg, sizeof msg);
    cr_assert(eq(int, rc, SL_EPARSE));
    char want[64];
    snprintf(want, sizeof want, "corrupted at byte %d", 16 + 16 + 100 * 32);
    cr_assert_not_null(strstr(msg, want), "%s", msg);
    cr_assert(eq(u64, e.next, 100), "only the whole blocks before it were handed over");
    sl_ingestlog_close(&l);

    seg_file(path, sizeof path, dir, 7);
    tu_write_file(path, "not a segment of an ingest log at all\n");
    cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_RESUME, &l, msg, sizeof msg), SL_EPARSE));
    cr_assert_not_null(strstr(msg, "not an ingest log segment"), "%s", msg);
    cr_assert_null(l);
    tu_rm_rf(dir);
}

/* Records appended with their schema.attributes (3, none, 8 and 1 words, in appends that cross
 * block boundaries) come back with exactly their words; a torn attribute block is cut on
 * resume; a flipped bit among the words is refused; 9 words are refused. */
Test(ingestlog, attributes_kept_with_their_records)
{
    char dir[512], msg[1024], path[700];
    tu_mkdtemp(dir, sizeof dir, "ilog");
    sl_ingestlog *l = NULL;
    cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_FRESH, &l, msg, sizeof msg), 0), "%s",
              msg);
    static sl_rec recs[9000];
    static uint64_t words[9000 * 8];
    const uint64_t cuts[] = {0, 1, 4097, 5000, 6000, 10099, 15000, 15300};
    for (size_t c = 0; c + 1 < sizeof cuts / sizeof cuts[0]; c++) {
        uint64_t from = cuts[c], n = cuts[c + 1] - from;
        uint32_t na = mixed_nattr(from);
        for (uint64_t i = 0; i < n; i++) {
            recs[i] = rec_of(from + i);
            for (uint32_t k = 0; k < na; k++)
                words[i * na + k] = word_of(from + i, k);
        }
        cr_assert(eq(int,
                     sl_ingestlog_append_attrs(l, recs, na ? words : NULL, na, (size_t)n, msg,
                                               sizeof msg),
                     0),
                  "%s", msg);
    }
    cr_assert(eq(int, sl_ingestlog_append_attrs(l, recs, words, 9, 1, msg, sizeof msg), SL_EINVAL));
    struct expect e = {.mixed = 1};
    uint64_t count = 0;
    cr_assert(eq(int, sl_ingestlog_replay(l, 0, check_fn, NULL, &e, &count, msg, sizeof msg), 0),
              "%s", msg);
    cr_assert(eq(u64, e.wrong, 0), "record %" PRIu64 " replayed wrong", e.wrong - 1);
    cr_assert(eq(u64, count, 15300));
    sl_ingestlog_close(&l);

    /* the last block (300 records of 1 word) cut inside its words: resume cuts it */
    seg_file(path, sizeof path, dir, 0);
    off_t whole = file_size(path), last = 16 + 8 + 300 * (32 + 8);
    cr_assert(eq(int, truncate(path, whole - 5), 0));
    cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_RESUME, &l, msg, sizeof msg), 0), "%s",
              msg);
    cr_assert(eq(u64, sl_ingestlog_cut(l), (uint64_t)(last - 5)));
    e = (struct expect){.mixed = 1};
    cr_assert(eq(int, sl_ingestlog_replay(l, 0, check_fn, NULL, &e, &count, msg, sizeof msg), 0),
              "%s", msg);
    cr_assert(eq(u64, e.wrong, 0));
    cr_assert(eq(u64, count, 15000));
    cr_assert(eq(int, sl_ingestlog_roll(l, 1, msg, sizeof msg), 0), "%s", msg);
    append_range(l, 0, 10, 10); /* segment 0 is no longer the last one */
    sl_ingestlog_close(&l);

    /* a bit flipped in the first block's last word: refused at that block */
    flip_byte(path, 16 + 16 + 8 + 1 * 32 + 3 * 8 - 1, 0x10);
    cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_RESUME, &l, msg, sizeof msg), 0), "%s",
              msg);
    e = (struct expect){.mixed = 1};
    cr_assert(
        eq(int, sl_ingestlog_replay(l, 0, check_fn, NULL, &e, NULL, msg, sizeof msg), SL_EPARSE));
    cr_assert_not_null(strstr(msg, "corrupted at byte 16 ("), "%s", msg);
    cr_assert(eq(u64, e.next, 0));
    sl_ingestlog_close(&l);
    tu_rm_rf(dir);
}

/* A segment of the first format (SLILOG01, before attribute blocks) is read as it was. */
Test(ingestlog, first_format_still_read)
{
    char dir[512], msg[1024], path[700];
    tu_mkdtemp(dir, sizeof dir, "ilog");
    sl_ingestlog *l = NULL;
    cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_FRESH, &l, msg, sizeof msg), 0), "%s",
              msg);
    append_range(l, 0, 5000, 1000);
    sl_ingestlog_close(&l);
    seg_file(path, sizeof path, dir, 0);
    size_t len;
    char *img = tu_read_file(path, &len);
    cr_assert(eq(int, memcmp(img, "SLILOG02", 8), 0), "a new segment is written as SLILOG02");
    free(img);
    flip_byte(path, 7, '1' ^ '2'); /* SLILOG01 */
    cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_RESUME, &l, msg, sizeof msg), 0), "%s",
              msg);
    cr_assert(eq(u64, sl_ingestlog_cut(l), 0));
    expect_replay(l, 0, 0, 5000);
    sl_ingestlog_close(&l);
    tu_rm_rf(dir);
}

/* A child appends records in appends of random sizes, syncing now and then, and is SIGKILLed at
 * a random moment; the log opened to go on replays a whole prefix of what it appended, and goes
 * on after it. */
Test(ingestlog, sigkill_while_appending_leaves_a_prefix)
{
    const char *env = getenv("SLUICE_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    for (int trial = 0; trial < 4; trial++, seed++) {
        char dir[512], msg[1024];
        tu_mkdtemp(dir, sizeof dir, "ilog");
        uint64_t s = seed;
        unsigned delay_us = (unsigned)(splitmix64(&s) % 200000);
        pid_t pid = fork();
        if (pid == 0) {
            sl_ingestlog *cl = NULL;
            if (sl_ingestlog_open(dir, SL_INGESTLOG_FRESH, &cl, msg, sizeof msg))
                _exit(2);
            static sl_rec buf[20000];
            uint64_t next = 0;
            for (unsigned k = 0;; k++) {
                size_t n = 1 + (size_t)(splitmix64(&s) % 20000);
                for (size_t i = 0; i < n; i++)
                    buf[i] = rec_of(next + i);
                if (sl_ingestlog_append(cl, buf, n, msg, sizeof msg))
                    _exit(3);
                next += n;
                if (k % 8 == 7 && sl_ingestlog_sync(cl, msg, sizeof msg))
                    _exit(4);
                if (k % 32 == 31 && sl_ingestlog_roll(cl, k + 1, msg, sizeof msg))
                    _exit(5);
            }
        }
        usleep(delay_us);
        kill(pid, SIGKILL);
        int st;
        cr_assert(eq(int, waitpid(pid, &st, 0), pid));
        int killed = WIFSIGNALED(st), code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        cr_assert(killed, "seed %" PRIu64 ": the child ended by itself (%d)", seed, code);
        sl_ingestlog *l = NULL;
        cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_RESUME, &l, msg, sizeof msg), 0),
                  "seed %" PRIu64 ": %s", seed, msg);
        struct expect e = {0};
        uint64_t count = 0;
        int rc = sl_ingestlog_replay(l, 0, check_fn, NULL, &e, &count, msg, sizeof msg);
        cr_assert(eq(int, rc, 0), "seed %" PRIu64 " (killed after %u us): %s", seed, delay_us, msg);
        cr_assert(eq(u64, e.wrong, 0), "seed %" PRIu64 ": record %" PRIu64 " replayed wrong", seed,
                  e.wrong - 1);
        append_range(l, count, count + 1000, 300);
        expect_replay(l, 0, 0, count + 1000);
        sl_ingestlog_close(&l);
        tu_rm_rf(dir);
    }
}

/* An append that fails (a file size limit standing in for a full disk) is reported and leaves
 * the segment ending at its last whole block. */
Test(ingestlog, failed_append_leaves_no_torn_block)
{
    char dir[512], msg[1024];
    tu_mkdtemp(dir, sizeof dir, "ilog");
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {100000, 100000};
        setrlimit(RLIMIT_FSIZE, &rl);
        sl_ingestlog *l = NULL;
        if (sl_ingestlog_open(dir, SL_INGESTLOG_FRESH, &l, msg, sizeof msg))
            _exit(2);
        static sl_rec buf[1000];
        for (uint64_t next = 0;; next += 1000) {
            for (size_t i = 0; i < 1000; i++)
                buf[i] = rec_of(next + i);
            int rc = sl_ingestlog_append(l, buf, 1000, msg, sizeof msg);
            if (rc)
                _exit(rc == SL_EIO && strstr(msg, "too large") ? 0 : 1);
        }
    }
    int st;
    cr_assert(eq(int, waitpid(pid, &st, 0), pid));
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    cr_assert(ok, "the failed append was not reported");
    sl_ingestlog *l = NULL;
    cr_assert(eq(int, sl_ingestlog_open(dir, SL_INGESTLOG_RESUME, &l, msg, sizeof msg), 0), "%s",
              msg);
    cr_assert(eq(u64, sl_ingestlog_cut(l), 0), "a torn block was left behind");
    expect_replay(l, 0, 0, 3000); /* 100,000 bytes hold three appends of 1,000 */
    sl_ingestlog_close(&l);
    tu_rm_rf(dir);
}
