/* cg_spin N: runs a loop of exactly 2 * N instructions (x86-64: `dec`, `jnz`; elsewhere a C loop
 * whose count is not known) in spin(), with callgrind's instrumentation on around it and its
 * counts dumped as "spin" (test_callgrind.c runs it under valgrind and checks what
 * bench/callgrind.c reads from the dump). */
#include <stdlib.h>
#include <valgrind/callgrind.h>

__attribute__((noinline)) static unsigned long spin(unsigned long n)
{
#if defined(__x86_64__)
    __asm__ volatile("1:\n\tdec %0\n\tjnz 1b" : "+r"(n));
    return n;
#else
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < n; i++)
        x += i;
    return x;
#endif
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1;
    if (n == 0)
        n = 1;
    CALLGRIND_START_INSTRUMENTATION;
    CALLGRIND_ZERO_STATS;
    unsigned long r = spin(n);
    CALLGRIND_DUMP_STATS_AT("spin");
    CALLGRIND_STOP_INSTRUMENTATION;
    return (int)(r & 1);
}
