/* Freed memory back to the system; see memtrim.h. */
#include "memtrim.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void sl_mem_release_free(void)
{
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
