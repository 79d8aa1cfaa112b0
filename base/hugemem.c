/* Large buffers in transparent huge pages; see hugemem.h. */
#include "hugemem.h"

#include <stdlib.h>
#include <sys/mman.h>

void *sl_huge_alloc(size_t bytes)
{
    if (bytes < SL_HUGE_BYTES) /* 64-byte aligned: aligned_alloc wants a multiple of it */
        return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    size_t whole = (bytes + SL_HUGE_BYTES - 1) & ~(SL_HUGE_BYTES - 1);
    if (whole < bytes) /* rounding up wrapped around */
        return NULL;
    void *p = aligned_alloc(SL_HUGE_BYTES, whole);
    if (p)
        (void)madvise(p, whole, MADV_HUGEPAGE); /* advice: without it the pages are 4 KiB */
    return p;
}
