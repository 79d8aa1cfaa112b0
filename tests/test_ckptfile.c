/* Tests of host/io/ckptfile.h: checkpoint files that are either whole or refused. Sections are
 * compared with the bytes written; every cut and many bit flips of a real file must be refused;
 * a write that fails (a file size limit standing in for a full disk, a directory that cannot be
 * written) must leave nothing under the checkpoint's name and the previous one usable. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckptfile.h"
#include "err.h"
#include "util.h"

/* Sections of seeded random bytes: "state-0" .. of the given lengths. */
struct secs {
    sl_ckpt_section s[4];
    char names[4][32];
    unsigned char *buf[4];
};

static void make_secs(struct secs *x, const size_t *lens, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(x->names[i], sizeof x->names[i], "state-%zu", i);
        x->buf[i] = malloc(lens[i] ? lens[i] : 1);
        for (size_t k = 0; k < lens[i]; k++)
            x->buf[i][k] = (unsigned char)splitmix64(&seed);
        x->s[i] = (sl_ckpt_section){x->names[i], x->buf[i], lens[i]};
    }
}

static void free_secs(struct secs *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(x->buf[i]);
}

static void expect_secs(const sl_ckpt *c, const struct secs *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        const void *p = sl_ckpt_get(c, x->names[i], &len);
        cr_assert_not_null(p, "section %s missing", x->names[i]);
        cr_assert(eq(sz, len, x->s[i].len));
        cr_assert(eq(int, memcmp(p, x->buf[i], len), 0), "section %s differs", x->names[i]);
    }
    cr_assert_null(sl_ckpt_get(c, "absent", NULL));
}

Test(ckptfile, round_trip_and_latest)
{
    char dir[512], msg[1024];
    tu_mkdtemp(dir, sizeof dir, "ckpt");
    strcat(dir, "/sub"); /* made by the first write */
    uint64_t id = 0;
    cr_assert(eq(int, sl_ckpt_latest(dir, &id, msg, sizeof msg), 0));
    for (uint64_t k = 1; k <= 5; k++) {
        size_t lens[3] = {(size_t)(1000 * k), 0, 70000};
        struct secs x;
        make_secs(&x, lens, 3, k);
        uint64_t bytes = 0;
        cr_assert(eq(int, sl_ckpt_write(dir, k * 10, x.s, 3, &bytes, msg, sizeof msg), 0), "%s",
                  msg);
        cr_assert(gt(u64, bytes, lens[0] + lens[2]));
        char path[600];
        sl_ckpt_path(path, sizeof path, dir, k * 10);
        struct stat st;
        cr_assert(eq(int, stat(path, &st), 0));
        cr_assert(eq(u64, (uint64_t)st.st_size, bytes));
        sl_ckpt *c = NULL;
        cr_assert(eq(int, sl_ckpt_open(path, &c, msg, sizeof msg), 0), "%s", msg);
        cr_assert(eq(u64, sl_ckpt_id(c), k * 10));
        expect_secs(c, &x, 3);
        sl_ckpt_close(&c);
        cr_assert(eq(int, sl_ckpt_latest(dir, &id, msg, sizeof msg), 1));
        cr_assert(eq(u64, id, k * 10));
        free_secs(&x, 3);
    }
    cr_assert(eq(int, sl_ckpt_prune(dir, 40), 3));
    cr_assert(eq(int, sl_ckpt_latest(dir, &id, msg, sizeof msg), 1));
    cr_assert(eq(u64, id, 50));
    char path[600];
    sl_ckpt_path(path, sizeof path, dir, 30);
    cr_assert(ne(int, access(path, F_OK), 0), "pruned");
}

/* Every cut of a checkpoint, and bit flips all over it, are refused; the newest usable one is
 * then the one before. */
Test(ckptfile, torn_and_corrupted_refused)
{
    char dir[512], msg[1024], path[600];
    tu_mkdtemp(dir, sizeof dir, "ckpt");
    size_t lens[2] = {300, 41};
    struct secs x;
    make_secs(&x, lens, 2, 9);
    cr_assert(eq(int, sl_ckpt_write(dir, 1, x.s, 2, NULL, msg, sizeof msg), 0), "%s", msg);
    cr_assert(eq(int, sl_ckpt_write(dir, 2, x.s, 2, NULL, msg, sizeof msg), 0), "%s", msg);
    sl_ckpt_path(path, sizeof path, dir, 2);
    size_t len;
    char *whole = tu_read_file(path, &len);
    cr_assert_not_null(whole);
    sl_ckpt *c = NULL;
    for (size_t cut = 0; cut < len; cut++) {
        FILE *f = fopen(path, "wb");
        fwrite(whole, 1, cut, f);
        fclose(f);
        cr_assert(eq(int, sl_ckpt_open(path, &c, msg, sizeof msg), SL_EPARSE), "cut at %zu", cut);
        cr_assert_null(c);
        cr_assert_not_null(strstr(msg, path), "%s", msg);
    }
    uint64_t seed = 3;
    for (int flip = 0; flip < 2000; flip++) {
        size_t at = (size_t)(splitmix64(&seed) % len);
        unsigned bit = (unsigned)(splitmix64(&seed) % 8);
        whole[at] ^= (char)(1u << bit);
        FILE *f = fopen(path, "wb");
        fwrite(whole, 1, len, f);
        fclose(f);
        cr_assert(eq(int, sl_ckpt_open(path, &c, msg, sizeof msg), SL_EPARSE),
                  "bit %u of byte %zu flipped", bit, at);
        whole[at] ^= (char)(1u << bit);
    }
    uint64_t id = 0;
    cr_assert(eq(int, sl_ckpt_latest(dir, &id, msg, sizeof msg), 1));
    cr_assert(eq(u64, id, 1), "the corrupted newest one is skipped");
    cr_assert_not_null(strstr(msg, "not a usable checkpoint"), "%s", msg);
    free(whole);
    free_secs(&x, 2);
}

/* A write that fails part way (a file size limit: the disk is full for it) leaves no checkpoint
 * under its name and no temporary file after a prune, and the previous one stays the latest. */
Test(ckptfile, failed_write_leaves_previous)
{
    char dir[512], msg[1024];
    tu_mkdtemp(dir, sizeof dir, "ckpt");
    size_t small[1] = {100}, big[1] = {1 << 20};
    struct secs a, b;
    make_secs(&a, small, 1, 1);
    make_secs(&b, big, 1, 2);
    cr_assert(eq(int, sl_ckpt_write(dir, 7, a.s, 1, NULL, msg, sizeof msg), 0), "%s", msg);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {65536, 65536};
        setrlimit(RLIMIT_FSIZE, &rl);
        int rc = sl_ckpt_write(dir, 8, b.s, 1, NULL, msg, sizeof msg);
        _exit(rc == SL_EIO && strstr(msg, "checkpoint 8") && strstr(msg, "too large") ? 0 : 1);
    }
    int st;
    cr_assert(eq(int, waitpid(pid, &st, 0), pid));
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    cr_assert(ok, "the failed write was not reported as it should be");
    char path[600];
    sl_ckpt_path(path, sizeof path, dir, 8);
    cr_assert(ne(int, access(path, F_OK), 0));
    uint64_t id = 0;
    cr_assert(eq(int, sl_ckpt_latest(dir, &id, msg, sizeof msg), 1));
    cr_assert(eq(u64, id, 7));
    sl_ckpt_prune(dir, 0);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
    cr_assert(eq(int, system(cmd), 0), "only checkpoint 7 is left");

    /* a directory that cannot be written (a file stands where it should be) */
    char file[600];
    snprintf(file, sizeof file, "%s/ckpt-00000000000000000007", dir);
    cr_assert(eq(int, sl_ckpt_write(file, 9, a.s, 1, NULL, msg, sizeof msg), SL_EIO));
    cr_assert_not_null(strstr(msg, file), "%s", msg);
    free_secs(&a, 1);
    free_secs(&b, 1);
}
