/* Large buffers in transparent huge pages; see hugemem.h. */
#include "hugemem.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define KEEP_MAX 16 /* blocks kept at most */

/* Blocks given back with sl_huge_free, for the next sl_huge_alloc that fits: their pages are
 * touched already. Only once sl_huge_keep turned it on (keep_limit > 0); the process's memory
 * never shrinks below what is kept, which is at most keep_limit. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct kept {
    void *p;
    size_t size; /* malloc_usable_size(p) */
} kept[KEEP_MAX];
static size_t nkept, kept_bytes, keep_limit;

/* The bytes kept at most: an eighth of the machine's memory, at most 1 GiB. */
static size_t keep_cap(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    uint64_t ram = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : 0;
    uint64_t cap = ram / 8;
    return (size_t)(cap < ((uint64_t)1 << 30) ? cap : ((uint64_t)1 << 30));
}

/* A kept block of at least `whole` bytes and at most twice that (the smallest), or NULL. */
static void *take_kept(size_t whole)
{
    void *p = NULL;
    pthread_mutex_lock(&mu);
    size_t best = nkept;
    for (size_t i = 0; i < nkept; i++)
        if (kept[i].size >= whole && kept[i].size / 2 <= whole &&
            (best == nkept || kept[i].size < kept[best].size))
            best = i;
    if (best < nkept) {
        p = kept[best].p;
        kept_bytes -= kept[best].size;
        kept[best] = kept[--nkept];
    }
    pthread_mutex_unlock(&mu);
    return p;
}

void *sl_huge_alloc(size_t bytes)
{
    if (bytes < SL_HUGE_BYTES) /* 64-byte aligned: aligned_alloc wants a multiple of it */
        return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    size_t whole = (bytes + SL_HUGE_BYTES - 1) & ~(SL_HUGE_BYTES - 1);
    if (whole < bytes) /* rounding up wrapped around */
        return NULL;
    void *p = take_kept(whole);
    if (p)
        return p;
    p = aligned_alloc(SL_HUGE_BYTES, whole);
    if (p)
        (void)madvise(p, whole, MADV_HUGEPAGE); /* advice: without it the pages are 4 KiB */
    return p;
}

void sl_huge_keep(int on)
{
    size_t cap = on ? keep_cap() : 0;
    pthread_mutex_lock(&mu);
    keep_limit = cap;
    while (!on && nkept) {
        free(kept[--nkept].p);
        kept_bytes -= kept[nkept].size;
    }
    pthread_mutex_unlock(&mu);
}

void sl_huge_free(void *p)
{
    if (!p)
        return;
    size_t size = malloc_usable_size(p);
    if (size >= SL_HUGE_BYTES && ((uintptr_t)p & (SL_HUGE_BYTES - 1)) == 0) {
        pthread_mutex_lock(&mu);
        if (nkept < KEEP_MAX && kept_bytes + size <= keep_limit) {
            kept[nkept++] = (struct kept){p, size};
            kept_bytes += size;
            p = NULL;
        }
        pthread_mutex_unlock(&mu);
    }
    free(p);
}
