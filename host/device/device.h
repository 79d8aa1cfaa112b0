/* The OpenCL device layer: platform and device selection by name, a context and a profiling
 * in-order queue per device, program builds with the full log, and cl_int -> sl_err at the edge.
 *
 * A device is opened and used by one thread (the node's dispatcher). */
#ifndef SL_DEVICE_H
#define SL_DEVICE_H

#include <stddef.h>
#include <stdio.h>

#include <CL/cl.h>
#include <CL/cl_ext.h>

typedef struct sl_device_info {
    char platform[128];
    char name[128];
    char version[128];  /* CL_DEVICE_VERSION */
    char c_version[64]; /* CL_DEVICE_OPENCL_C_VERSION */
    char driver[64];
    cl_device_type type;
    cl_uint compute_units;
    cl_ulong global_mem;
    cl_ulong max_alloc;
    cl_ulong local_mem;
    size_t max_wg;
    int unified_memory; /* CL_DEVICE_HOST_UNIFIED_MEMORY: kernels may read pinned host buffers */
    int fp64;           /* cl_khr_fp64 */
    int int64_atomics;  /* cl_khr_int64_base_atomics */
} sl_device_info;

typedef struct sl_device sl_device;

/* Opens the first device whose "platform name / device name" contains `match` (ASCII
 * case-insensitive). With match NULL or "", SLUICE_DEVICE is used, and without it the first
 * device of the first platform. Returns 0 with *out set, or SL_ENODEV (msg lists every
 * platform and device that exists) or SL_ECL (msg names the failing call). */
int sl_device_open(const char *match, sl_device **out, char *msg, size_t msglen);

/* Opens the nth (0-based) device that `match` selects, as sl_device_open picks the first:
 * several identical devices (two GPUs, or PoCL with POCL_DEVICES="pthread pthread") are told
 * apart by their order. SL_ENODEV when fewer match. */
int sl_device_open_nth(const char *match, unsigned nth, sl_device **out, char *msg, size_t msglen);

/* How many devices `match` selects (as sl_device_open reads it); 0 when none, or a negative
 * sl_err when the platforms cannot be listed. */
int sl_device_count(const char *match);

/* Releases the queue and context and sets *dp to NULL. A wedged device (below) is not
 * released: releasing a queue waits for its commands, which may never end. It is kept for the
 * rest of the process instead (its memory stays reachable), and the process should exit soon. */
void sl_device_close(sl_device **dp);

/* Marks the device as wedged: a wait on its work ended early (host/watchdog.h: a kernel did not
 * finish within its limit, or the wait was cancelled), so commands may still run on it and it
 * must not be used again. Engines on it then stop waiting for it at teardown. The device's
 * thread only. */
void sl_device_set_wedged(sl_device *d);

/* 1 when sl_device_set_wedged was called on d. */
int sl_device_wedged(const sl_device *d);

const sl_device_info *sl_device_get_info(const sl_device *d);
cl_context sl_device_context(const sl_device *d);
cl_command_queue sl_device_queue(const sl_device *d);
cl_device_id sl_device_id(const sl_device *d);

/* Writes every platform and device with their key limits to `out` (the `sluice devices`
 * listing). Returns 0, or SL_ENODEV when there is no OpenCL platform at all. */
int sl_device_list(FILE *out);

/* One source file of a program: `name` is what the build log reports for its lines. */
typedef struct sl_source {
    const char *name;
    const char *text;
} sl_source;

/* Builds a program from the sources, concatenated with a #line directive before each so that
 * build errors name the right file and line. Returns 0 with *out set; SL_EBUILD with the full
 * build log in *log (malloc'd, caller frees; also NULL-safe to ignore by passing log NULL);
 * SL_ECL or SL_ENOMEM. The device keeps the last few programs it built (with a reference of its
 * own, released by sl_device_close): the same sources with the same options give the kept
 * program again, retained for the caller, without a build; not when a source #includes a file
 * other than sluice.h (whose directory, an -I option, names its content's hash). Any thread. */
int sl_device_build(sl_device *d, const sl_source *srcs, size_t n, const char *options,
                    cl_program *out, char **log);

/* Creates a program from a device binary (as `sluice kernel build` writes, or an FPGA's
 * aocx/xclbin) with clCreateProgramWithBinary and builds it with `options`. Returns 0 with *out
 * set; SL_EBUILD with an explanation in *log (malloc'd; NULL-safe) when the binary is corrupt,
 * for another device, or fails to build; SL_ECL, SL_ENOMEM. */
int sl_device_load_binary(sl_device *d, const unsigned char *bin, size_t len, const char *options,
                          cl_program *out, char **log);

/* Returns the device binary of a built program in *bin (malloc'd, caller frees) and its size.
 * Returns 0, SL_ECL or SL_ENOMEM. */
int sl_device_program_binary(sl_device *d, cl_program prog, unsigned char **bin, size_t *len);

/* Converts an OpenCL status to an sl_err (0 for CL_SUCCESS), logging `what` and the CL name
 * under the "device" category. */
int sl_cl_check(cl_int st, const char *what);

/* 1 when device d lists `ext` among its extensions (CL_DEVICE_EXTENSIONS, as a whole word), else
 * 0. Any thread. */
int sl_cl_has_extension(cl_device_id d, const char *ext);

/* 1 when `match` occurs in `name`, ignoring ASCII case ("" occurs in every name): how a device
 * is picked by a part of its "platform / device" name (sl_device_open, placement overrides).
 * Any thread. */
int sl_device_name_matches(const char *name, const char *match);

/* Returns the name of an OpenCL status, e.g. "CL_OUT_OF_RESOURCES". */
const char *sl_cl_strerror(cl_int st);

#endif
