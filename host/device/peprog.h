/* A PE's OpenCL program: built from its source (a built-in's kernels/ file, named by the PE
 * table host/model/pes.h, or the user's pe.source) followed by the framework's
 * kernels/sl_engine.cl, each under a #line directive so that build errors name the file and line
 * they are in; or loaded from a PE binary (pe.binary: a pebin.h container). Either way built with
 * the options the PE asks for (sluice.h's include directory, prefetch on CPU devices, the kind's
 * defines, its prior and window), and then checked against the sluice ABI by running its
 * sl_abi_info kernel once: the row layout, the shape (reduce or sequential), the state size, the
 * window it was built with, and its SL_COLUMNS.
 *
 * What the engine (host/engine) does with the program, its kernels and buffers, is not here.
 * The device's thread, like every call on the device. */
#ifndef SL_PEPROG_H
#define SL_PEPROG_H

#include <stddef.h>

#include "columns.h"
#include "device.h"
#include "topology.h"

#define SL_STATE_MAX 4096          /* largest sl_state a PE may declare, bytes */
#define SL_PE_FILE_MAX (64u << 20) /* largest PE source or program binary read, bytes */

typedef struct sl_peprog {
    cl_program prog;    /* the built program (owned); NULL when none */
    size_t slot_size;   /* sizeof(sl_slot) on the device: key (+ window) + PE state */
    size_t state_size;  /* sizeof(sl_state) */
    int sequential;     /* 1: SL_PE_SEQUENTIAL (sl_process); 0: SL_PE_REDUCE (sl_add, sl_merge) */
    int windowed;       /* 1: built with SL_WINDOW_MS, rows per (key, window) (sl_pe_windowed) */
    sl_columns columns; /* its output columns, from SL_COLUMNS */
} sl_peprog;

/* Builds (or loads) and checks pe's program for dev. Returns 0 with *out filled (release it with
 * sl_peprog_release), or with *out zeroed: SL_EINVAL (a user PE without source or binary, or an
 * ABI the program breaks), SL_EIO / SL_ENOMEM (reading its file), SL_EBUILD (it does not
 * compile, or its binary is not for this device: for a source, `msg` holds the device's whole
 * build log and a line for each ABI function it lacks or declares otherwise), SL_ECL, or
 * SL_ERANGE (the options do not fit). `msg` says why in every case. Logs the build time
 * (info, category "engine") and notes the PE for the crash report (watchdog.h). */
int sl_peprog_build(sl_device *dev, const sl_pe_cfg *pe, sl_peprog *out, char *msg, size_t msglen);

/* The program as a sluice PE binary (pebin.h: the device binary in a checked container; what
 * `sluice kernel build` writes), in *bin (malloc'd, caller frees). Returns 0, SL_ECL or
 * SL_ENOMEM. */
int sl_peprog_binary(sl_device *dev, const sl_peprog *p, unsigned char **bin, size_t *len);

/* Releases the program (when there is one) and zeroes *p. Not for a program whose device is
 * wedged (device.h): its kernels may still run. */
void sl_peprog_release(sl_peprog *p);

#endif
