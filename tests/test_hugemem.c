/* Large buffers (base/hugemem.c): alignment and size, and the blocks kept from one job to the
 * next once sl_huge_keep(1) is called (a cluster node): a freed block comes back to an
 * allocation of at least its size's half, never to a larger one, never to two at once, with its
 * old contents; keeping turns off and on again. Each test runs in its own process
 * (Criterion forks), so the process-wide list of kept blocks starts empty. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hugemem.h"

#define MIB ((size_t)1 << 20)

Test(hugemem, large_blocks_are_2_mib_aligned_small_ones_64_bytes)
{
    void *big = sl_huge_alloc(5 * MIB + 3), *small = sl_huge_alloc(1000);
    cr_assert_not_null(big);
    cr_assert_not_null(small);
    cr_assert(eq(u64, (uint64_t)((uintptr_t)big % SL_HUGE_BYTES), 0));
    cr_assert(eq(u64, (uint64_t)((uintptr_t)small % 64), 0));
    memset(big, 0xab, 5 * MIB + 3); /* all of it is the caller's */
    memset(small, 0xcd, 1000);
    sl_huge_free(big);
    sl_huge_free(small);
    sl_huge_free(NULL);
}

Test(hugemem, a_kept_block_serves_the_next_allocation_that_fits)
{
    sl_huge_keep(1);
    unsigned char *a = sl_huge_alloc(8 * MIB);
    cr_assert_not_null(a);
    memset(a, 0x5a, 8 * MIB);
    sl_huge_free(a);
    /* 6 MiB rounds up to 6: the 8 MiB block is at most twice that, so it is taken, as it was */
    unsigned char *b = sl_huge_alloc(6 * MIB);
    cr_assert(eq(ptr, (void *)b, (void *)a), "the kept block was not handed out");
    cr_assert(eq(u8, b[0], 0x5a));
    cr_assert(eq(u8, b[6 * MIB - 1], 0x5a));
    /* taken: the next allocation is another block */
    unsigned char *c = sl_huge_alloc(6 * MIB);
    cr_assert_not_null(c);
    cr_assert(ne(ptr, (void *)c, (void *)b), "one kept block handed out twice");
    sl_huge_free(c);
    /* too large a block for a small request: 8 MiB kept (c), 2 MiB asked */
    unsigned char *d = sl_huge_alloc(2 * MIB);
    cr_assert_not_null(d);
    cr_assert(ne(ptr, (void *)d, (void *)c), "a block of four times the size was handed out");
    /* too small a block for a larger request */
    sl_huge_free(d);
    unsigned char *e = sl_huge_alloc(16 * MIB);
    cr_assert_not_null(e);
    cr_assert(ne(ptr, (void *)e, (void *)d));
    cr_assert(ne(ptr, (void *)e, (void *)c));
    memset(e, 1, 16 * MIB);
    sl_huge_free(e);
    sl_huge_free(b);
    sl_huge_keep(0); /* frees what is kept */
}

Test(hugemem, keeping_turned_off_and_on_again)
{
    sl_huge_keep(1);
    unsigned char *k = sl_huge_alloc(8 * MIB);
    cr_assert_not_null(k);
    sl_huge_free(k); /* kept */
    sl_huge_keep(0); /* freed with the rest: whatever comes next is a block of its own */
    sl_huge_keep(1);
    unsigned char *m = sl_huge_alloc(3 * MIB);
    cr_assert_not_null(m);
    memset(m, 2, 3 * MIB);
    sl_huge_free(m);
    unsigned char *n = sl_huge_alloc(4 * MIB);
    cr_assert(eq(ptr, (void *)n, (void *)m), "the 3 MiB request's block (4 MiB) was not kept");
    cr_assert(eq(u8, n[3 * MIB - 1], 2));
    sl_huge_free(n);
    sl_huge_keep(0);
}
