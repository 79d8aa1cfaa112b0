/* Giving freed memory back to the system between phases of a run. The C library keeps what a
 * process frees for its next allocations; after a phase that queued a lot (a cluster client's
 * send queues, tens of MiB) and before one that allocates a lot of other sizes (the final rows,
 * their sorted order, the output), that memory stays resident and the two phases add up. */
#ifndef SL_MEMTRIM_H
#define SL_MEMTRIM_H

/* Returns the C library's free memory to the system (glibc's malloc_trim, which also releases
 * free pages inside the heap); does nothing with another C library. */
void sl_mem_release_free(void);

#endif
