/* Large buffers in transparent huge pages.
 *
 * On the VMs we measure on, the first touch of a fresh 4 KiB page costs about 10 us (a 400 MiB
 * memset, 2026-12-07: 10.2 us a page; in pages advised MADV_HUGEPAGE, 0.4 us a 4 KiB page once
 * the kernel had huge pages free). A run's large buffers (the state table, the pinned batches, the
 * result rows, the ad-id dictionary) are written fresh at least once, so they are asked for in
 * huge pages. Where the kernel gives none (transparent huge pages off, or no free 2 MiB page),
 * the memory is ordinary and nothing else changes. */
#ifndef SL_HUGEMEM_H
#define SL_HUGEMEM_H

#include <stddef.h>

/* Allocations from this size on are made 2 MiB aligned, rounded up to 2 MiB and advised
 * MADV_HUGEPAGE; smaller ones are 64-byte aligned. */
#define SL_HUGE_BYTES ((size_t)2 << 20)

/* `bytes` (> 0) of uninitialised memory, freed with sl_huge_free (or free()); NULL when out of
 * memory. A large one may be a block given back earlier with sl_huge_free: its old contents. */
void *sl_huge_alloc(size_t bytes);

/* Frees memory from sl_huge_alloc (NULL: nothing). Once sl_huge_keep(1) was called, a large
 * block is kept for a later sl_huge_alloc of about its size instead. Any thread. */
void sl_huge_free(void *p);

/* Turns keeping freed blocks on (at most 16 blocks, and an eighth of the machine's memory up to
 * 1 GiB in all) or off (the kept ones are freed). For a process that makes engine after engine
 * (a cluster node, one per job): it writes into pages it touched before, whose first touch is
 * what costs (above). Off by default: a run of one job would only hold on to the tables it
 * outgrew. Any thread. */
void sl_huge_keep(int on);

#endif
