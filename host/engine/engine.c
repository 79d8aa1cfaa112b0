#include "engine.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "hugemem.h"
#include "keyhash.h"
#include "lebytes.h"
#include "log.h"
#include "peprog.h"
#include "tablegeom.h"
#include "trigger.h"
#include "pes.h"
#include "watchdog.h"

#define DEFAULT_BATCH (1u << 18)
#define NBUF 2
/* A table's first size, in keys (or open windows), when pe.capacity does not say less: the
 * table then grows as keys arrive (grow_table). */
#define INITIAL_KEYS 4096

/* One pipeline stage: a pinned buffer the host fills while the device works on the other. */
struct stage {
    cl_mem pinned;   /* CL_MEM_ALLOC_HOST_PTR, batch_cap records */
    cl_mem dev;      /* device copy on devices without host-unified memory, else NULL */
    cl_mem bounds;   /* P + 1 partition bounds */
    cl_mem prog;     /* per work-item: the first record not applied yet (sl_aggregate) */
    cl_mem lent;     /* the batch is a caller's records, read where they are (sl_engine_push_lent):
                        a CL_MEM_USE_HOST_PTR buffer over them, released once the batch is done;
                        NULL when the batch is in `pinned` */
    size_t n;        /* records in the batch last sent from this buffer */
    sl_rec *host;    /* mapped pointer into pinned, valid once `ready` has completed */
    cl_event ready;  /* map completion: the last kernel that read this buffer is done */
    cl_event kernel; /* aggregation of the last batch in this buffer, for profiling */
    cl_event transfer;  /* its copy to device memory, for profiling (NULL when unified) */
    uint32_t *bounds_h; /* P + 1, read by a non-blocking write: untouched until `ready` */
    uint32_t *fill_h;   /* P live-key counts read back after the last batch in this buffer */
    uint64_t *types_h;  /* kernel_types: `types` read back after the last batch in this buffer */
    uint32_t status_h[2];
    int pending; /* a batch went out from this buffer and its status was not checked yet */
};

struct sl_engine {
    sl_device *dev;
    cl_context ctx;
    cl_command_queue q;  /* kernels, in order: batches apply in arrival order */
    cl_command_queue qx; /* maps, unmaps and copies, ordered against q by events */
    sl_peprog prog;      /* the PE's program and what its ABI declares */
    cl_kernel k_agg, k_emit, k_merge, k_rehash;
    cl_kernel k_merge_in; /* sl_merge_in (reduce PEs without a window; NULL in older binaries) */
    cl_mem slots, fill, status, out, out_count;
    /* Records applied, by type, counted by the aggregation kernel: SL_EV_NTYPES counters per
     * work-item, summed over every batch since the table was cleared. */
    cl_mem types;
    int kernel_types; /* the program's aggregation kernel takes `types` (a pe.binary built by an
                         earlier sluice does not: the host then counts types as it batches) */
    /* With kernel_types: the records by type that the kernel did not count (those of a loaded
     * checkpoint, late ones the host dropped); stats.type_counts is these plus `types`. */
    uint64_t types_base[SL_EV_NTYPES];
    size_t out_rows; /* capacity of `out` in rows */
    sl_engine_cfg cfg;
    sl_table_geom g;       /* regions, copies (chunked mode), slots (tablegeom.h); grows */
    uint32_t max_slots;    /* region_slots the table may grow to: pe.capacity's, else 2^30 */
    uint32_t full_region;  /* 1 + the region that last had no free slot (for messages) */
    uint32_t fullest_prev; /* the fullest region's keys after the batch before (growth) */
    int windowed;          /* rows per (key, window) (sl_pe_windowed) */
    size_t batch_cap;
    uint32_t nattr;         /* schema.attributes: 64-bit words after each record (pe.nattrs) */
    size_t rec_size;        /* bytes of a record on the device: sizeof(sl_rec) + 8 nattr */
    sl_rec *staging;        /* staged records, unless `direct` */
    uint64_t *staging_attr; /* nattr words per staged record (NULL without attributes) */
    /* The batch goes to the device in arrival order, without attributes and without a late
     * rule: records are staged straight into the current stage's pinned buffer (stage_area), so
     * a batch reaches the device without a copy of its own. */
    int direct;
    int lend;    /* direct, on a device that reads host memory: sl_engine_push_lent lends */
    int unified; /* the device reads host memory: large buffers are the engine's (make_buffer) */
    size_t staged;
    double staged_at; /* when the oldest staged record arrived (staged > 0) */
    uint32_t *cursor; /* P: scatter positions */
    struct stage st[NBUF];
    int cur;
    sl_row *rows;
    size_t rows_cap;
    sl_emit_fn on_emit;
    void *ud;
    /* window PE: watermark state */
    sl_watermark wm;
    int64_t closed_before; /* windows ending at or before this were emitted */
    sl_trigger trig;
    int aligned;           /* sl_engine_align_timer was called: reapplied by reset */
    double align_offset_s; /* its offset */
    int failed;
    /* watchdog (host/watchdog.h) */
    const volatile sig_atomic_t *cancel; /* sl_engine_set_cancel; NULL = none */
    int wedged;                  /* a wait ended early: device work may still run (and use the
                                    buffers below), so nothing is released */
    int clear_by_write;          /* Oclgrind: zero the table with writes, not fills */
    cl_uint count_h;             /* emission: rows written, read back */
    cl_uint merge_status_h[2];   /* merge: status read back */
    struct sl_engine *next_kept; /* wedged engines kept until exit */
    sl_engine_stats stats;
    char msg[1024];
};

/* Wedged engines that sl_engine_destroy did not release: their buffers may still be written by
 * the device. Referenced from here, so that leak checkers see them as reachable. */
static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;
static sl_engine *kept_engines;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Records an error explanation and returns rc; the engine refuses further work. */
static int fail(sl_engine *e, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(sl_engine *e, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->failed = rc;
    SL_ERROR("engine", "%s", e->msg);
    return rc;
}

static int clfail(sl_engine *e, cl_int st, const char *what)
{
    int rc = sl_cl_check(st, what);
    return fail(e, rc, "%s failed: %s (%d)", what, sl_cl_strerror(st), (int)st);
}

/* The PE's name for messages, with its file when that is not its name: `revenue (rev.cl)`. */
static void pe_label(const sl_engine *e, char *buf, size_t len)
{
    const sl_pe_cfg *pe = &e->cfg.pe;
    const char *file = pe->binary[0] ? pe->binary : pe->source;
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    const sl_pe_def *def = sl_pe_def_of(pe->kind);
    if (!def || !(def->flags & SL_PEF_USER) || !file[0] || strcmp(base, pe->name) == 0)
        snprintf(buf, len, "%s", pe->name);
    else
        snprintf(buf, len, "%s (%.200s)", pe->name, file);
}

/* Explains a wait that ended without the command completing (sl_cl_wait's codes) and fails
 * the engine. A timeout or cancel wedges the engine and its device: the command may still run. */
static int wait_failed(sl_engine *e, int rc, cl_int st, const char *kernel, const char *what)
{
    if (rc == SL_ETIMEOUT || rc == SL_ECANCELED) {
        e->wedged = 1;
        sl_device_set_wedged(e->dev);
    }
    char pe[300];
    pe_label(e, pe, sizeof pe);
    if (rc == SL_ETIMEOUT)
        return fail(e, rc,
                    "%s%s of PE %s did not finish within %u ms (pe.timeout_ms; --timeout-ms for "
                    "sluice kernel run): raise the limit if the kernel is only slow (0 = no "
                    "limit). The device cannot be trusted after this: the process must exit",
                    kernel ? "kernel " : "", kernel ? kernel : what, pe,
                    (unsigned)e->cfg.pe.timeout_ms);
    if (rc == SL_ECANCELED)
        return fail(e, rc, "PE %s: %s: stopped waiting for %s%s (cancelled on request)", pe, what,
                    kernel ? "kernel " : "the device", kernel ? kernel : "");
    if (rc == SL_ECL)
        return clfail(e, st, what);
    return fail(e, rc, "PE %s: %s: %s", pe, what, sl_strerror(rc));
}

/* Waits for ev under the PE's limit (pe.timeout_ms) and the cancel flag. `kernel` names the
 * kernel the wait is for (NULL: no kernel of the PE), `what` the step (both for messages).
 * Returns 0 or a negative sl_err. */
static int wait_event(sl_engine *e, cl_event ev, const char *kernel, const char *what)
{
    if (sl_device_wedged(e->dev))
        return fail(e, SL_ETIMEOUT,
                    "PE %s: %s: the device cannot be used any more: a kernel on it did not "
                    "finish in time, or a wait for it was cancelled",
                    e->cfg.pe.name, what);
    cl_int st = CL_SUCCESS;
    int rc = sl_cl_wait(ev, e->cfg.pe.timeout_ms, e->cancel, &st);
    return rc ? wait_failed(e, rc, st, kernel, what) : 0;
}

/* clFinish of q under the same limit and flag. */
static int finish_queue(sl_engine *e, cl_command_queue q, const char *kernel, const char *what)
{
    if (sl_device_wedged(e->dev))
        return wait_event(e, NULL, kernel, what);
    cl_int st = CL_SUCCESS;
    int rc = sl_cl_finish(q, e->cfg.pe.timeout_ms, e->cancel, &st);
    return rc ? wait_failed(e, rc, st, kernel, what) : 0;
}

static double event_seconds(cl_event ev)
{
    cl_ulong a = 0, b = 0;
    if (!ev || clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof a, &a, NULL) ||
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof b, &b, NULL) || b < a)
        return 0.0;
    return (double)(b - a) * 1e-9;
}

static void release_event(cl_event *ev)
{
    if (*ev) {
        clReleaseEvent(*ev);
        *ev = NULL;
    }
}

static void release_mem(cl_mem *m)
{
    if (*m) {
        clReleaseMemObject(*m);
        *m = NULL;
    }
}

/* Creates kernel `name` of the PE's program into *k. A program without it is a pe.binary built
 * by a sluice whose kernels differ (before the aggregation kernel was split by dispatch mode, one
 * sl_aggregate): SL_EBUILD asking for a rebuild. Returns 0, that, or SL_ECL, with msg. */
static int make_kernel(sl_engine *e, const char *name, cl_kernel *k, char *msg, size_t msglen)
{
    cl_int st;
    *k = clCreateKernel(e->prog.prog, name, &st);
    if (st == CL_SUCCESS)
        return 0;
    *k = NULL;
    if (st == CL_INVALID_KERNEL_NAME) {
        snprintf(msg, msglen,
                 "PE \"%s\": its program has no kernel %s (a binary built by another version of "
                 "sluice): rebuild it with sluice kernel build",
                 e->cfg.pe.name, name);
        return SL_EBUILD;
    }
    snprintf(msg, msglen, "PE \"%s\": clCreateKernel %s: %s", e->cfg.pe.name, name,
             sl_cl_strerror(st));
    return SL_ECL;
}

/* Builds the PE's program (peprog.h) and creates the engine's kernels, all but the aggregation
 * kernel, whose name follows the dispatch mode (sl_engine_new, once that is known). Returns 0 or
 * an sl_err with msg. */
static int build(sl_engine *e, char *msg, size_t msglen)
{
    int rc = sl_peprog_build(e->dev, &e->cfg.pe, &e->prog, msg, msglen);
    if (rc == 0)
        rc = make_kernel(e, "sl_emit_rows", &e->k_emit, msg, msglen);
    if (rc == 0)
        rc = make_kernel(e, "sl_rehash", &e->k_rehash, msg, msglen);
    if (rc == 0 && !e->prog.sequential)
        rc = make_kernel(e, "sl_merge_copies", &e->k_merge, msg, msglen);
    if (rc == 0 && !e->prog.sequential && !e->windowed) {
        cl_int st;
        e->k_merge_in = clCreateKernel(e->prog.prog, "sl_merge_in", &st);
        if (st != CL_SUCCESS) /* a binary built before it: the engine cannot combine */
            e->k_merge_in = NULL;
    }
    return rc;
}

/* clSetMemObjectDestructorCallback's: the host memory of a buffer made by make_buffer. */
static void CL_CALLBACK free_host_memory(cl_mem m, void *host)
{
    (void)m;
    sl_huge_free(host);
}

/* A buffer of `size` bytes. On a device that reads host memory, one of SL_HUGE_BYTES or more is
 * host memory of the engine's own in huge pages (hugemem.h), lent with CL_MEM_USE_HOST_PTR and
 * freed with the buffer: PoCL's own allocations are 4 KiB pages, whose first touch (the table's
 * clear, the batches' and the result rows' first writes) made 12,000 of the 28,500 page faults
 * of a run over the 10M-event NDJSON file (docs/engine.md). Other devices allocate as asked. */
static cl_mem make_buffer(sl_engine *e, cl_mem_flags flags, size_t size, int *rc)
{
    cl_int st;
    void *host = NULL;
    if (e->unified && size >= SL_HUGE_BYTES && (host = sl_huge_alloc(size)))
        flags = (flags & ~(cl_mem_flags)CL_MEM_ALLOC_HOST_PTR) | CL_MEM_USE_HOST_PTR;
    cl_mem m = clCreateBuffer(e->ctx, flags, size ? size : 1, host, &st);
    if (st == CL_SUCCESS && host &&
        (st = clSetMemObjectDestructorCallback(m, free_host_memory, host)) != CL_SUCCESS) {
        clReleaseMemObject(m);
        m = NULL;
    }
    if (st != CL_SUCCESS) {
        free(host);
        *rc = sl_cl_check(st, "clCreateBuffer");
        return NULL;
    }
    return m;
}

/* One kernel argument: its size and a pointer to its value. */
struct karg {
    size_t size;
    const void *value;
};
#define KARG(x)                                                                                    \
    {                                                                                              \
        sizeof(x), &(x)                                                                            \
    }

/* Sets arguments first, first + 1, ... of k. Returns a CL status. */
static cl_int set_args(cl_kernel k, cl_uint first, const struct karg *a, size_t n)
{
    cl_int st = CL_SUCCESS;
    for (size_t i = 0; i < n && st == CL_SUCCESS; i++)
        st = clSetKernelArg(k, first + (cl_uint)i, a[i].size, a[i].value);
    return st;
}

/* Sets the kernel arguments that stay the same from batch to batch (the table, its counters and
 * sizes): at creation and after the table grows, so that a batch sets only its records, bounds
 * and progress. Returns a CL status. */
static cl_int set_fixed_args(sl_engine *e)
{
    const struct karg agg[] = {KARG(e->slots),        KARG(e->fill),    KARG(e->g.region_slots),
                               KARG(e->g.region_max), KARG(e->g.pbits), KARG(e->g.copies),
                               KARG(e->status)};
    const struct karg emit[] = {KARG(e->slots), KARG(e->fill), KARG(e->g.region_slots)};
    const struct karg merge[] = {KARG(e->slots),        KARG(e->fill),     KARG(e->g.region_slots),
                                 KARG(e->g.region_max), KARG(e->g.copies), KARG(e->status)};
    cl_int st = set_args(e->k_agg, 3, agg, 7);
    if (st == CL_SUCCESS && e->kernel_types)
        st = clSetKernelArg(e->k_agg, 10, sizeof e->types, &e->types);
    if (st == CL_SUCCESS)
        st = set_args(e->k_emit, 0, emit, 3);
    if (st == CL_SUCCESS)
        st = clSetKernelArg(e->k_emit, 7, sizeof e->out_count, &e->out_count);
    if (st == CL_SUCCESS && e->k_merge)
        st = set_args(e->k_merge, 0, merge, 6);
    return st;
}

/* Bytes of the `types` counters: SL_EV_NTYPES per work-item of a batch. */
static size_t types_bytes(const sl_engine *e)
{
    return (size_t)e->g.nbounds * SL_EV_NTYPES * sizeof(cl_ulong);
}

/* Zeroes buffer m with blocking writes (the Oclgrind path of clear_table). Returns a CL status. */
static cl_int zero_by_write(sl_engine *e, cl_mem m, size_t size)
{
    void *z = calloc(1, size ? size : 1);
    if (!z)
        return CL_OUT_OF_HOST_MEMORY;
    cl_int st = clEnqueueWriteBuffer(e->q, m, CL_TRUE, 0, size, z, 0, NULL, NULL);
    free(z);
    return st;
}

/* Zeroes the table and its counters (enqueued on q). Returns a CL status.
 * Under Oclgrind (`sluice kernel check --deep`) the buffers are zeroed with writes instead:
 * its uninitialized-value checker loses track of filled buffers and would report every read of
 * the table. Those writes block, but they come behind no kernel: at setup, and in a reset that
 * has waited for the queue. */
static cl_int clear_table(sl_engine *e)
{
    if (e->clear_by_write) {
        cl_int st = zero_by_write(e, e->slots, (size_t)e->g.nslots * e->prog.slot_size);
        if (st == CL_SUCCESS)
            st = zero_by_write(e, e->fill, e->g.ncounters * sizeof(cl_uint));
        if (st == CL_SUCCESS)
            st = zero_by_write(e, e->status, 2 * sizeof(cl_uint));
        if (st == CL_SUCCESS)
            st = zero_by_write(e, e->types, types_bytes(e));
        return st;
    }
    cl_uint zero = 0;
    cl_int st = clEnqueueFillBuffer(e->q, e->slots, &zero, sizeof zero, 0,
                                    (size_t)e->g.nslots * e->prog.slot_size, 0, NULL, NULL);
    if (st == CL_SUCCESS)
        st = clEnqueueFillBuffer(e->q, e->fill, &zero, sizeof zero, 0,
                                 e->g.ncounters * sizeof(cl_uint), 0, NULL, NULL);

    if (st == CL_SUCCESS)
        st = clEnqueueFillBuffer(e->q, e->status, &zero, sizeof zero, 0, 2 * sizeof(cl_uint), 0,
                                 NULL, NULL);
    if (st == CL_SUCCESS)
        st = clEnqueueFillBuffer(e->q, e->types, &zero, sizeof zero, 0, types_bytes(e), 0, NULL,
                                 NULL);
    return st;
}

/* Allocates the table and the pinned batch buffers, and touches every page of them now: first
 * touch of fresh memory is slow on the VMs we measure on (0.5-2 GB/s), and it belongs to setup,
 * not to the first batches. */
static int alloc_buffers(sl_engine *e, char *msg, size_t msglen)
{
    const sl_device_info *in = sl_device_get_info(e->dev);
    size_t table_bytes = (size_t)e->g.nslots * e->prog.slot_size;
    size_t batch_bytes = e->batch_cap * e->rec_size;
    if (table_bytes > in->max_alloc) {
        snprintf(msg, msglen,
                 "a state table of %llu slots (%zu MiB) is over device %s's largest allocation "
                 "of %llu MiB (CL_DEVICE_MAX_MEM_ALLOC_SIZE)",
                 (unsigned long long)e->g.nslots, table_bytes >> 20, in->name,
                 (unsigned long long)(in->max_alloc >> 20));
        return SL_ERANGE;
    }
    int rc = 0;
    cl_int st;
    e->slots = make_buffer(e, CL_MEM_READ_WRITE, table_bytes, &rc);
    e->fill = make_buffer(e, CL_MEM_READ_WRITE, e->g.ncounters * sizeof(cl_uint), &rc);
    e->status = make_buffer(e, CL_MEM_READ_WRITE, 2 * sizeof(cl_uint), &rc);
    e->out_count = make_buffer(e, CL_MEM_READ_WRITE, sizeof(cl_uint), &rc);
    e->types = make_buffer(e, CL_MEM_READ_WRITE, types_bytes(e), &rc);
    if (rc)
        goto fail;
    if ((st = clear_table(e)) != CL_SUCCESS) {
        rc = sl_cl_check(st, "clEnqueueFillBuffer");
        goto fail;
    }
    for (int i = 0; i < NBUF; i++) {
        struct stage *s = &e->st[i];
        s->pinned = make_buffer(e, CL_MEM_READ_ONLY | CL_MEM_ALLOC_HOST_PTR, batch_bytes, &rc);
        if (!in->unified_memory)
            s->dev = make_buffer(e, CL_MEM_READ_ONLY, batch_bytes, &rc);
        s->bounds = make_buffer(e, CL_MEM_READ_ONLY, (e->g.nbounds + 1) * sizeof(cl_uint), &rc);
        s->prog = make_buffer(e, CL_MEM_READ_WRITE, e->g.nbounds * sizeof(cl_uint), &rc);
        s->bounds_h = calloc(e->g.nbounds + 1, sizeof *s->bounds_h);
        s->fill_h = calloc(e->g.ncounters, sizeof *s->fill_h);
        s->types_h = calloc((size_t)e->g.nbounds * SL_EV_NTYPES, sizeof *s->types_h);
        if (rc)
            goto fail;
        if (!s->bounds_h || !s->fill_h || !s->types_h) {
            rc = SL_ENOMEM;
            goto fail;
        }
        s->host = clEnqueueMapBuffer(e->qx, s->pinned, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, 0,
                                     batch_bytes, 0, NULL, NULL, &st);
        if (st != CL_SUCCESS) {
            rc = sl_cl_check(st, "clEnqueueMapBuffer");
            goto fail;
        }
        memset(s->host, 0, batch_bytes);
    }
    if ((rc = finish_queue(e, e->q, NULL, "clearing the state table"))) {
        snprintf(msg, msglen, "%s", e->msg);
        return rc;
    }
    return 0;
fail:
    snprintf(msg, msglen,
             "cannot allocate device buffers (state table %zu MiB, batches %zu MiB): %s",
             table_bytes >> 20, (2 * batch_bytes) >> 20, sl_strerror(rc));
    return rc;
}

int sl_engine_new(sl_device *dev, const sl_engine_cfg *cfg, sl_emit_fn on_emit, void *ud,
                  sl_engine **out, char *msg, size_t msglen)
{
    *out = NULL;
    msg[0] = '\0';
    const sl_device_info *in = sl_device_get_info(dev);
    const sl_pe_cfg *pe = &cfg->pe;
    if (!in->fp64) {
        snprintf(msg, msglen, "device %s lacks cl_khr_fp64 (double), which sluice.h needs",
                 in->name);
        return SL_EUNSUPPORTED;
    }
    int windowed = sl_pe_windowed(pe);
    if (!sl_pe_def_of(pe->kind) || (windowed && (pe->window_ms <= 0 || pe->lateness_ms < 0))) {
        snprintf(msg, msglen, "invalid PE configuration (kind, capacity or window)");
        return SL_EINVAL;
    }
    uint32_t parts = cfg->partitions;
    if (parts == 0)
        parts = (in->type & CL_DEVICE_TYPE_CPU) ? 64 : 1024;
    /* chunked mode: one table copy per compute unit, at most 64 by default (each copy holds the
     * whole key space) */
    uint32_t copies = cfg->copies ? cfg->copies : (in->compute_units < 64 ? in->compute_units : 64);
    if (copies == 0)
        copies = 1;
    /* The table starts at INITIAL_KEYS (or pe.capacity when smaller) and grows as keys arrive,
     * up to pe.capacity's size when it is set, else as far as the device's memory allows. */
    uint64_t first_keys = pe->capacity && pe->capacity < INITIAL_KEYS ? pe->capacity : INITIAL_KEYS;
    sl_table_geom check; /* refuse bad partitions or copies before the build */
    int rc = sl_table_geom_make(first_keys, parts, cfg->copies, &check, msg, msglen);
    if (rc)
        return rc;
    uint32_t max_slots = 1u << 30;
    if (pe->capacity) {
        sl_table_geom capped;
        if ((rc = sl_table_geom_make(pe->capacity, parts, cfg->copies, &capped, msg, msglen)))
            return rc;
        max_slots = capped.region_slots;
    }
    sl_engine *e = calloc(1, sizeof *e);
    if (!e)
        return SL_ENOMEM;
    e->dev = dev;
    e->g = check; /* regions now; copies once the build says whether chunked mode applies */
    e->max_slots = max_slots;
    e->cfg = *cfg;
    e->ctx = sl_device_context(dev);
    e->q = sl_device_queue(dev);
    e->clear_by_write = strstr(in->platform, "Oclgrind") != NULL;
    e->on_emit = on_emit;
    e->ud = ud;
    e->windowed = windowed;
    e->batch_cap = cfg->batch_events ? cfg->batch_events : DEFAULT_BATCH;
    e->nattr = pe->nattrs;
    e->rec_size = sizeof(sl_rec) + 8u * e->nattr;
    e->closed_before = INT64_MIN;
    sl_trigger_init(&e->trig, &pe->trigger, now_s());
    cl_int st;
    e->qx = clCreateCommandQueue(e->ctx, sl_device_id(dev), CL_QUEUE_PROFILING_ENABLE, &st);
    if (st != CL_SUCCESS) {
        rc = sl_cl_check(st, "clCreateCommandQueue");
        snprintf(msg, msglen, "cannot create a transfer queue: %s", sl_cl_strerror(st));
        goto fail;
    }
    e->staging = malloc(e->batch_cap * sizeof(sl_rec));
    e->cursor = malloc(e->g.nparts * sizeof *e->cursor);
    if (e->nattr)
        e->staging_attr = malloc(e->batch_cap * e->nattr * sizeof *e->staging_attr);
    if (!e->staging || !e->cursor || (e->nattr && !e->staging_attr)) {
        rc = SL_ENOMEM;
        snprintf(msg, msglen, "out of memory for a batch of %zu events", e->batch_cap);
        goto fail;
    }
    if ((rc = build(e, msg, msglen)))
        goto fail;
    /* Chunked mode needs merge: a sequential PE is always grouped, so that each key's events
     * reach its one work-item in arrival order. */
    int chunked =
        !e->prog.sequential && (cfg->mode == SL_DISPATCH_CHUNKED ||
                                (cfg->mode == SL_DISPATCH_AUTO && (in->type & CL_DEVICE_TYPE_CPU)));
    e->unified = in->unified_memory;
    if ((rc = sl_table_geom_make(first_keys, parts, chunked ? copies : 0, &e->g, msg, msglen)) ||
        (rc = alloc_buffers(e, msg, msglen)))
        goto fail;
    e->direct = (e->g.copies || e->g.pbits == 0) && !e->windowed && e->nattr == 0;
    e->lend = e->direct && in->unified_memory;
    /* one aggregation kernel per mode, so that neither tests the mode per record */
    if ((rc = make_kernel(e, chunked ? "sl_aggregate_chunked" : "sl_aggregate_grouped", &e->k_agg,
                          msg, msglen)))
        goto fail;
    cl_uint nargs = 0;
    e->kernel_types =
        clGetKernelInfo(e->k_agg, CL_KERNEL_NUM_ARGS, sizeof nargs, &nargs, NULL) == CL_SUCCESS &&
        nargs == 11;
    if ((st = set_fixed_args(e)) != CL_SUCCESS) {
        rc = sl_cl_check(st, "clSetKernelArg");
        snprintf(msg, msglen, "setting kernel arguments failed: %s", sl_cl_strerror(st));
        goto fail;
    }
    e->stats.table_slots = e->g.nslots;
    char most[64] = "as far as device memory allows";
    if (pe->capacity)
        snprintf(most, sizeof most, "up to pe.capacity %llu keys",
                 (unsigned long long)pe->capacity);
    SL_INFO("engine",
            "PE %s (%s): %u regions x %u slots to start (%zu-byte slots; grows %s), batches of "
            "%zu, %s",
            pe->name, e->prog.sequential ? "sequential" : "reduce", e->g.nparts, e->g.region_slots,
            e->prog.slot_size, most, e->batch_cap, e->g.copies ? "chunked" : "grouped by the host");
    *out = e;
    return 0;
fail:
    sl_engine_destroy(&e);
    return rc;
}

/* Fails the engine when `live` keys (or open windows), as the device counts them after a batch
 * or a merge, exceed pe.capacity (when it is set). Returns 0 or SL_ETABLEFULL. */
static int check_capacity(sl_engine *e, uint64_t live)
{
    if (!e->cfg.pe.capacity || live <= e->cfg.pe.capacity)
        return 0;
    return fail(e, SL_ETABLEFULL,
                "state table full: %llu %s exceed pe.capacity of %llu: raise it, or leave "
                "pe.capacity unset so that the table grows as keys arrive",
                (unsigned long long)live, e->windowed ? "open windows" : "keys",
                (unsigned long long)e->cfg.pe.capacity);
}

/* Replaces the state table by one of `region_slots` slots per region (the regions and copies
 * stay), all empty, and with rehash moves every key of the old table into it on the device
 * (enqueued on q behind the batches already there). Fails the engine with SL_ETABLEFULL when
 * the new table does not fit the device: over its largest allocation, or with the old one over
 * its memory. Returns 0 or a negative sl_err. */
static int set_table(sl_engine *e, uint32_t region_slots, int rehash)
{
    const sl_device_info *in = sl_device_get_info(e->dev);
    uint64_t subtables = (uint64_t)e->g.nparts * (e->g.copies ? e->g.copies : 1);
    uint64_t nslots = (uint64_t)region_slots * subtables;
    size_t bytes = (size_t)nslots * e->prog.slot_size;
    size_t old = (size_t)e->g.nslots * e->prog.slot_size;
    const char *what = NULL;
    cl_ulong limit = 0;
    if (bytes > in->max_alloc) {
        what = "largest allocation (CL_DEVICE_MAX_MEM_ALLOC_SIZE)";
        limit = in->max_alloc;
    } else if (rehash && old + bytes > in->global_mem) {
        what = "memory, with the old table beside it while keys move (CL_DEVICE_GLOBAL_MEM_SIZE)";
        limit = in->global_mem;
    }
    if (what)
        return fail(e, SL_ETABLEFULL,
                    "state table full: %llu %s fill the %zu MiB table, and the next size (%zu MiB) "
                    "is over device %s's %s of %llu MiB: spread the keys over more devices or "
                    "nodes",
                    (unsigned long long)e->stats.keys, e->windowed ? "open windows" : "keys",
                    old >> 20, bytes >> 20, in->name, what, (unsigned long long)(limit >> 20));
    int rc = 0;
    cl_mem t = make_buffer(e, CL_MEM_READ_WRITE, bytes, &rc);
    if (rc)
        return fail(e, SL_ETABLEFULL,
                    "state table full: %llu %s fill the %zu MiB table, and device %s could not "
                    "allocate the next size (%zu MiB): %s",
                    (unsigned long long)e->stats.keys, e->windowed ? "open windows" : "keys",
                    old >> 20, in->name, bytes >> 20, sl_strerror(rc));
    cl_int st;
    if (e->clear_by_write) {
        if ((rc = finish_queue(e, e->q, "sl_aggregate", "growing the state table")))
            goto fail;
        st = zero_by_write(e, t, bytes);
    } else {
        cl_uint zero = 0;
        st = clEnqueueFillBuffer(e->q, t, &zero, sizeof zero, 0, bytes, 0, NULL, NULL);
    }
    if (st == CL_SUCCESS && rehash) {
        cl_kernel k = e->k_rehash;
        const struct karg a[] = {KARG(e->slots), KARG(e->g.region_slots), KARG(t),
                                 KARG(region_slots)};
        size_t global = (size_t)subtables, local = 1;
        st = set_args(k, 0, a, 4);
        if (st == CL_SUCCESS)
            st = clEnqueueNDRangeKernel(e->q, k, 1, NULL, &global, &local, 0, NULL, NULL);
    }
    if (st != CL_SUCCESS) {
        rc = clfail(e, st, "growing the state table");
        goto fail;
    }
    clReleaseMemObject(e->slots); /* freed once the commands that use it are done */
    e->slots = t;
    e->g.region_slots = region_slots;
    e->g.region_max = region_slots - region_slots / 8;
    e->g.nslots = nslots;
    e->stats.table_slots = nslots;
    if ((st = set_fixed_args(e)) != CL_SUCCESS)
        return clfail(e, st, "clSetKernelArg");
    return 0;
fail:
    clReleaseMemObject(t);
    return rc;
}

/* Grows the table to at least `factor` times its regions' slots, as far as pe.capacity allows.
 * Fails the engine with SL_ETABLEFULL when it is at that size already. Returns 0 or a negative
 * sl_err. */
static int grow_table(sl_engine *e, uint32_t factor)
{
    uint32_t rs = e->g.region_slots;
    if (rs >= e->max_slots) {
        uint64_t live = e->stats.keys;
        if (e->cfg.pe.capacity)
            return fail(e, SL_ETABLEFULL,
                        "state table full: region %u of %u has no free slot among its %u (%llu "
                        "%s in all); pe.capacity is %llu keys: raise it, or leave it unset so "
                        "that the table grows as keys arrive",
                        e->full_region ? e->full_region - 1 : 0, e->g.nparts, e->g.region_max,
                        (unsigned long long)live, e->windowed ? "open windows" : "keys",
                        (unsigned long long)e->cfg.pe.capacity);
        return fail(e, SL_ETABLEFULL,
                    "state table full: its regions have 2^30 slots each, the most sluice "
                    "supports (%llu %s)",
                    (unsigned long long)live, e->windowed ? "open windows" : "keys");
    }
    uint64_t want = (uint64_t)rs * factor;
    if (want > e->max_slots)
        want = e->max_slots;
    double t0 = now_s();
    int rc = set_table(e, (uint32_t)want, 1);
    if (rc)
        return rc;

    e->stats.table_grows++;
    e->stats.t_grow += now_s() - t0;
    SL_DEBUG("engine", "PE %s: state table grew to %u slots per region (%llu in all)",
             e->cfg.pe.name, e->g.region_slots, (unsigned long long)e->g.nslots);
    return 0;
}

/* Enqueues the aggregation of stage s's n records (in its pinned buffer, mapped): unmaps it,
 * copies it to device memory where the device has its own, runs sl_aggregate from the progress
 * in s->prog, reads back status and fill counts, and maps the buffer again (s->ready). The
 * records stay in the buffer (CL_MAP_WRITE keeps them) so that the batch can run again after
 * the table grows. Returns 0 or a negative sl_err. */
/* Hands stage s's pinned buffer (n records) to the device: unmaps it and, on a device without
 * host-unified memory, copies it to the device's buffer. Sets *recs to the buffer the kernel
 * reads and *ready_in to the event it waits on. Returns 0 or SL_ECL. */
static int hand_over(sl_engine *e, struct stage *s, size_t n, cl_mem *recs, cl_event *ready_in)
{
    cl_event unmapped = NULL;
    cl_int st = clEnqueueUnmapMemObject(e->qx, s->pinned, s->host, 0, NULL, &unmapped);
    if (st != CL_SUCCESS)
        return clfail(e, st, "clEnqueueUnmapMemObject");
    s->host = NULL;
    *recs = s->pinned;
    *ready_in = unmapped;
    if (s->dev) {
        release_event(&s->transfer);
        st = clEnqueueCopyBuffer(e->qx, s->pinned, s->dev, 0, 0, n * e->rec_size, 1, &unmapped,
                                 &s->transfer);
        clReleaseEvent(unmapped);
        *ready_in = NULL;
        if (st != CL_SUCCESS)
            return clfail(e, st, "clEnqueueCopyBuffer");
        *ready_in = s->transfer;
        clRetainEvent(*ready_in);
        *recs = s->dev;
    }
    return 0;
}

static int launch(sl_engine *e, struct stage *s, size_t n)
{
    cl_int st;
    cl_event ready_in = NULL;
    cl_mem recs = s->lent; /* lent: the caller's records, and `pinned` stays mapped */
    if (!s->lent) {
        int rc = hand_over(e, s, n, &recs, &ready_in);
        if (rc)
            return rc;
    }
    cl_kernel k = e->k_agg;
    const struct karg per_batch[] = {KARG(recs), KARG(s->bounds), KARG(s->prog)};
    st = set_args(k, 0, per_batch, 3);
    size_t global = e->g.nbounds, local = 1;
    release_event(&s->kernel);
    if (st == CL_SUCCESS)
        st = clEnqueueNDRangeKernel(e->q, k, 1, NULL, &global, &local, ready_in ? 1 : 0,
                                    ready_in ? &ready_in : NULL, &s->kernel);
    if (ready_in)
        clReleaseEvent(ready_in);
    if (st != CL_SUCCESS)
        return clfail(e, st, "enqueueing the aggregation kernel");
    cl_event got_status = NULL;
    st = clEnqueueReadBuffer(e->q, e->status, CL_FALSE, 0, sizeof s->status_h, s->status_h, 0, NULL,
                             NULL);
    if (st == CL_SUCCESS && e->kernel_types)
        st = clEnqueueReadBuffer(e->q, e->types, CL_FALSE, 0, types_bytes(e), s->types_h, 0, NULL,
                                 NULL);
    if (st == CL_SUCCESS)
        st = clEnqueueReadBuffer(e->q, e->fill, CL_FALSE, 0, e->g.ncounters * sizeof(cl_uint),
                                 s->fill_h, 0, NULL, &got_status);
    if (st != CL_SUCCESS)
        return clfail(e, st, "reading batch status");
    if (s->lent) {
        s->ready = got_status; /* done once the status is read: the kernel has run */
    } else {
        s->host = clEnqueueMapBuffer(e->qx, s->pinned, CL_FALSE, CL_MAP_WRITE, 0,
                                     e->batch_cap * e->rec_size, 1, &got_status, &s->ready, &st);
        clReleaseEvent(got_status);
        if (st != CL_SUCCESS)
            return clfail(e, st, "clEnqueueMapBuffer");
    }
    s->n = n;
    s->pending = 1;
    clFlush(e->qx);
    clFlush(e->q);
    return 0;
}

/* The live keys that fill counters read back after a batch say: the largest table copy's count
 * (chunked mode: exact once an emission merges them). *fullest (when not NULL) gets the largest
 * count of any one region. */
static uint64_t live_keys(const sl_engine *e, const uint32_t *fill, uint32_t *fullest)
{
    uint64_t live = 0;
    uint32_t most = 0;
    for (uint32_t c = 0; c < (e->g.copies ? e->g.copies : 1); c++) {
        uint64_t in_copy = 0;
        for (uint32_t p = 0; p < e->g.nparts; p++) {
            uint32_t f = fill[c * e->g.nparts + p];
            in_copy += f;
            most = f > most ? f : most;
        }
        live = in_copy > live ? in_copy : live;
    }
    if (fullest)
        *fullest = most;
    return live;
}

/* Stage s's batch stopped short (status set): a region had no free slot, in this batch or in
 * an earlier one, which stops every later batch at its first record (sl_aggregate). Clears the
 * status and runs the rest of the batch again; when that stops too, the table grows first.
 * Returns 0 once the whole batch is applied, or a negative sl_err. */
static int finish_stopped(sl_engine *e, struct stage *s)
{
    static const cl_uint zeros[2] = {0, 0};
    for (int attempt = 0;; attempt++) {
        e->full_region = s->status_h[1];
        if (attempt > 0) {
            e->stats.keys = live_keys(e, s->fill_h, NULL); /* for messages */
            int rc = grow_table(e, 4);
            if (rc)
                return rc;
        }
        cl_int st =
            clEnqueueWriteBuffer(e->q, e->status, CL_FALSE, 0, sizeof zeros, zeros, 0, NULL, NULL);
        if (st != CL_SUCCESS)
            return clfail(e, st, "clearing the batch status");
        e->stats.t_kernel += event_seconds(s->kernel);
        e->stats.t_transfer += event_seconds(s->transfer);
        int rc = launch(e, s, s->n);
        if (rc)
            return rc;
        rc = wait_event(e, s->ready, "sl_aggregate", "applying a batch again");
        if (rc)
            return rc;
        release_event(&s->ready);
        if (s->status_h[0] == 0)
            return 0;
    }
}

/* Waits until stage s may be refilled and checks what its previous batch left in status and
 * fill: finishes a batch that stopped for want of room, and grows the table before the next
 * batch once a region is more than 5/8 full. Returns 0 or SL_ETABLEFULL / SL_ECL. */
static int reclaim(sl_engine *e, struct stage *s)
{
    if (s->ready) {
        int rc = wait_event(e, s->ready, "sl_aggregate", "waiting for a batch");
        if (rc)
            return rc; /* s->ready is kept: the batch may still run */
        release_event(&s->ready);
    }
    if (!s->pending)
        return 0;
    if (s->status_h[0] != 0) {
        int rc = finish_stopped(e, s);
        /* The later batches in flight ran while the status was set, so they applied nothing:
         * they go again now, in order, before a new batch can overtake them. */
        for (int i = 1; i < NBUF && rc == 0; i++) {
            struct stage *t = &e->st[((s - e->st) + i) % NBUF];
            if (!t->pending)
                continue;
            if (t->ready) {
                if ((rc = wait_event(e, t->ready, "sl_aggregate", "waiting for a batch")))
                    break;
                release_event(&t->ready);
            }
            if (t->status_h[0] != 0)
                rc = finish_stopped(e, t);
        }
        if (rc)
            return rc;
    }
    s->pending = 0;
    release_mem(&s->lent);
    if (e->kernel_types) { /* the counts of every batch up to this one (batches end in order) */
        for (int t = 0; t < SL_EV_NTYPES; t++) {
            uint64_t sum = e->types_base[t];
            for (uint32_t w = 0; w < e->g.nbounds; w++)
                sum += s->types_h[(size_t)w * SL_EV_NTYPES + t];
            e->stats.type_counts[t] = sum;
        }
    }
    double tk = event_seconds(s->kernel), tt = event_seconds(s->transfer);
    e->stats.t_kernel += tk;
    e->stats.t_transfer += tt;
    sl_hist_add(&e->stats.h_kernel, tk);
    if (s->transfer)
        sl_hist_add(&e->stats.h_transfer, tt);
    release_event(&s->kernel);
    release_event(&s->transfer);
    uint32_t fullest;
    uint64_t live = live_keys(e, s->fill_h, &fullest);
    e->stats.keys = live;
    int rc = check_capacity(e, live);
    /* Grows when one more batch that brings as many new keys as this one did would take the
     * fullest region past 5/8, to room for two more such batches: a stopped batch costs a wait
     * for the device, and every growth a pass over the table. */
    uint64_t added = fullest > e->fullest_prev ? fullest - e->fullest_prev : 0;
    e->fullest_prev = fullest;
    uint64_t rs = e->g.region_slots;
    if (rc == 0 && (fullest + added) * 8 > rs * 5 && rs < e->max_slots) {
        uint64_t need = (fullest + 2 * added) * 8 / 5 + 1;
        uint32_t factor = 2;
        while (rs * factor < need && factor < 64)
            factor *= 2;
        rc = grow_table(e, factor);
    }
    return rc;
}

/* One record as the device reads it: the record, then its nattr attribute words (zeros when
 * attr is NULL). */
static void put_wide(unsigned char *dst, const sl_rec *r, const uint64_t *attr, uint32_t nattr)
{
    memcpy(dst, r, sizeof *r);
    if (attr)
        memcpy(dst + sizeof *r, attr, nattr * sizeof *attr);
    else
        memset(dst + sizeof *r, 0, nattr * sizeof *attr);
}

/* Groups src[0..n) (with their attributes, attr: nattr words each, or NULL) by partition into
 * the current stage's pinned buffer and enqueues its aggregation. Returns 0 or a negative
 * sl_err. */
static int dispatch(sl_engine *e, const sl_rec *src, const uint64_t *attr, size_t n)
{
    if (n == 0)
        return 0;
    const double arrived = e->staged_at; /* set by push whenever records are pending */
    struct stage *s = &e->st[e->cur];
    int rc = reclaim(e, s);
    if (rc)
        return rc;
    double t0 = now_s();
    const unsigned shift = 64 - e->g.pbits;
    uint32_t *bounds = s->bounds_h;
    memset(bounds, 0, (e->g.nbounds + 1) * sizeof *bounds);
    uint64_t types[SL_EV_NTYPES] = {0};
    size_t global = e->g.nbounds;
    if (e->g.copies || e->g.pbits == 0) {
        /* arrival order as is, cut into `global` contiguous chunks */
        for (size_t w = 0; w <= global; w++)
            bounds[w] = (uint32_t)(n * w / global);
        for (size_t i = 0; i < n && !e->kernel_types; i++)
            types[src[i].type & 3]++;
        if (e->nattr) {
            unsigned char *dst = (unsigned char *)s->host;
            for (size_t i = 0; i < n; i++)
                put_wide(dst + i * e->rec_size, &src[i], attr ? attr + i * e->nattr : NULL,
                         e->nattr);
        } else if (src != s->host && !s->lent) { /* in place or lent: no copy */
            memcpy(s->host, src, n * sizeof *src);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            bounds[(src[i].key >> shift) + 1]++;
            types[src[i].type & 3]++; /* unused with kernel_types: free beside the bounds */
        }
        for (uint32_t p = 0; p < e->g.nparts; p++) {
            e->cursor[p] = bounds[p];
            bounds[p + 1] += bounds[p];
        }
        uint32_t *cur = e->cursor;
        if (e->nattr) {
            unsigned char *dst = (unsigned char *)s->host;
            for (size_t i = 0; i < n; i++)
                put_wide(dst + (size_t)cur[src[i].key >> shift]++ * e->rec_size, &src[i],
                         attr ? attr + i * e->nattr : NULL, e->nattr);
        } else {
            sl_rec *dst = s->host;
            for (size_t i = 0; i < n; i++)
                dst[cur[src[i].key >> shift]++] = src[i];
        }
    }
    for (int t = 0; t < SL_EV_NTYPES && !e->kernel_types; t++)
        e->stats.type_counts[t] += types[t];
    e->stats.t_batch += now_s() - t0;
    sl_hist_add(&e->stats.h_batch, now_s() - t0);

    /* bounds_h is left alone until this stage's map completes (s->ready) */
    cl_int st = clEnqueueWriteBuffer(e->q, s->bounds, CL_FALSE, 0,
                                     (e->g.nbounds + 1) * sizeof(cl_uint), bounds, 0, NULL, NULL);
    if (st == CL_SUCCESS)
        st = clEnqueueWriteBuffer(e->q, s->prog, CL_FALSE, 0, e->g.nbounds * sizeof(cl_uint),
                                  bounds, 0, NULL, NULL);
    if (st != CL_SUCCESS)
        return clfail(e, st, "writing batch bounds");
    if ((rc = launch(e, s, n)))
        return rc;
    const double waited = now_s() - arrived;
    e->stats.t_wait += waited;
    sl_hist_add(&e->stats.h_wait, waited);
    e->stats.batches++;
    e->cur = (e->cur + 1) % NBUF;
    if (e->cfg.no_overlap)
        return reclaim(e, s);
    return 0;
}

/* Waits for every batch in flight and checks their status. */
static int drain(sl_engine *e)
{
    for (int i = 0; i < NBUF; i++) { /* oldest first: e->cur is the next stage to reuse */
        int rc = reclaim(e, &e->st[(e->cur + i) % NBUF]);
        if (rc)
            return rc;
    }
    return 0;
}

/* One pass of a kernel that folds states into copy 0 (sl_merge_copies, sl_merge_in: one
 * work-item per region), its arguments set: runs it, reads its status back into
 * e->merge_status_h and the first nfill fill counters into stage 0's fill_h (every stage is idle
 * then: drained), and waits. Returns 0 or a negative sl_err. */
static int fold_pass(sl_engine *e, cl_kernel k, size_t nfill, const char *kname, const char *what)
{
    cl_uint *status = e->merge_status_h;
    size_t global = e->g.nparts, local = 1;
    cl_event got = NULL;
    status[0] = status[1] = 0;
    cl_int st = clEnqueueNDRangeKernel(e->q, k, 1, NULL, &global, &local, 0, NULL, NULL);
    if (st == CL_SUCCESS)
        st = clEnqueueReadBuffer(e->q, e->status, CL_FALSE, 0, sizeof e->merge_status_h, status, 0,
                                 NULL, NULL);
    if (st == CL_SUCCESS)
        st = clEnqueueReadBuffer(e->q, e->fill, CL_FALSE, 0, nfill * sizeof(cl_uint),
                                 e->st[0].fill_h, 0, NULL, &got);
    if (st != CL_SUCCESS)
        return clfail(e, st, what);
    int rc = wait_event(e, got, kname, what);
    if (rc)
        return rc; /* `got` is kept: the kernel may still run */
    clReleaseEvent(got);
    return 0;
}

/* After a fold_pass that stopped for want of room (a region of copy 0 full): clears the status
 * and grows the table, for the pass to go on. Returns 0 or a negative sl_err. */
static int fold_room(sl_engine *e)
{
    static const cl_uint zeros[2] = {0, 0};
    cl_int st =
        clEnqueueWriteBuffer(e->q, e->status, CL_FALSE, 0, sizeof zeros, zeros, 0, NULL, NULL);
    if (st != CL_SUCCESS)
        return clfail(e, st, "clearing the merge status");
    e->full_region = e->merge_status_h[1];
    return grow_table(e, 2);
}

/* Chunked mode: folds every table copy into copy 0 and makes stats.keys exact. A region of copy
 * 0 without room stops the merge there: the table grows and the merge goes on. */
static int merge_copies(sl_engine *e)
{
    const uint32_t *fill = e->st[0].fill_h;
    for (;;) {
        int rc = fold_pass(e, e->k_merge, e->g.nparts, "sl_merge_copies", "merging table copies");
        if (rc)
            return rc;
        uint64_t live = 0;
        for (uint32_t p = 0; p < e->g.nparts; p++)
            live += fill[p];
        e->stats.keys = live;
        if (e->merge_status_h[0] == 0)
            return check_capacity(e, live);
        if ((rc = fold_room(e)))
            return rc;
    }
}

/* Runs the emission kernel (close = 0: a snapshot; 1: close windows ending at or before
 * `before`) and hands the rows to the callback. */
static int emit(sl_engine *e, enum sl_emit_kind kind, int close, int64_t before)
{
    int rc = drain(e);
    if (rc)
        return rc;
    double t0 = now_s();
    if (e->g.copies > 1 && (rc = merge_copies(e)))
        return rc;
    size_t need = e->stats.keys ? (size_t)e->stats.keys : 1;
    cl_int st = CL_SUCCESS;
    if (need > e->out_rows) {
        if (e->out)
            clReleaseMemObject(e->out);
        e->out = NULL;
        e->out_rows = 0;
        sl_huge_free(e->rows);
        e->rows = sl_huge_alloc(need * sizeof *e->rows); /* the rows are read into it fresh */
        if (!e->rows)
            return fail(e, SL_ENOMEM, "out of memory for %zu result rows", need);
        e->out = make_buffer(e, CL_MEM_WRITE_ONLY, need * sizeof(sl_row), &rc);
        if (rc)
            return fail(e, rc, "cannot allocate %zu result rows on the device", need);
        e->out_rows = need;
    }
    /* Host memory the queue reads or writes is the engine's (or static): after a wait that
     * ends early the commands may still run, and the engine is then kept, not freed. */
    static const cl_uint zero = 0;
    cl_uint close_u = (cl_uint)close, cap = (cl_uint)e->out_rows;
    cl_long before_l = before;
    cl_kernel k = e->k_emit;
    cl_event got = NULL;
    const struct karg per_emit[] = {KARG(close_u), KARG(before_l), KARG(e->out), KARG(cap)};
    e->count_h = 0;
    st = clEnqueueWriteBuffer(e->q, e->out_count, CL_FALSE, 0, sizeof zero, &zero, 0, NULL, NULL);
    if (st == CL_SUCCESS)
        st = set_args(k, 3, per_emit, 4);
    size_t global = e->g.nparts, local = 1;
    if (st == CL_SUCCESS)
        st = clEnqueueNDRangeKernel(e->q, k, 1, NULL, &global, &local, 0, NULL, NULL);
    if (st == CL_SUCCESS)
        st = clEnqueueReadBuffer(e->q, e->out_count, CL_FALSE, 0, sizeof e->count_h, &e->count_h, 0,
                                 NULL, &got);
    if (st != CL_SUCCESS)
        return clfail(e, st, "running the emission kernel");
    if ((rc = wait_event(e, got, "sl_emit_rows", "running the emission kernel")))
        return rc; /* `got` is kept: the emission may still run */
    clReleaseEvent(got);
    cl_uint count = e->count_h;
    if (count > e->out_rows)
        return fail(e, SL_ECL, "emission found %u rows but the table counts %llu live keys", count,
                    (unsigned long long)e->stats.keys);
    if (count > 0) {
        st = clEnqueueReadBuffer(e->q, e->out, CL_FALSE, 0, count * sizeof(sl_row), e->rows, 0,
                                 NULL, &got);
        if (st != CL_SUCCESS)
            return clfail(e, st, "reading results");
        if ((rc = wait_event(e, got, "sl_emit_rows", "reading results")))
            return rc;
        clReleaseEvent(got);
    }
    if (close)
        e->stats.keys -= count;
    e->stats.emissions++;
    e->stats.rows_emitted += count;
    if (e->on_emit && (rc = e->on_emit(e->ud, kind, e->rows, count)))
        return fail(e, rc, "the result sink failed: %s", sl_strerror(rc));
    e->stats.t_emit += now_s() - t0;
    sl_hist_add(&e->stats.h_emit, now_s() - t0);
    sl_trigger_emitted(&e->trig, now_s());
    return 0;
}

/* Emits windows closed by the watermark, when it passed a window end since the last time. */
static int close_windows(sl_engine *e)
{
    int64_t before; /* windows ending at or before this are complete */
    if (!sl_watermark_closed(&e->wm, e->cfg.pe.window_ms, e->cfg.pe.lateness_ms, &before) ||
        before <= e->closed_before)
        return 0;
    e->closed_before = before;
    return emit(e, SL_EMIT_WINDOWS, 1, before);
}

/* Where the staged records are: the current stage's pinned buffer in direct mode (push reclaims
 * that stage before it stages a batch's first record there), else staging. */
static sl_rec *staged_base(const sl_engine *e)
{
    return e->direct ? e->st[e->cur].host : e->staging;
}

/* Dispatches the staged records, then fires the triggers that are due. */
static int flush_staged(sl_engine *e)
{
    int rc = dispatch(e, staged_base(e), e->staging_attr, e->staged);
    e->staged = 0;
    if (rc == 0 && e->windowed)
        rc = close_windows(e);
    return rc;
}

static int triggers(sl_engine *e)
{
    if (!sl_trigger_due(&e->trig, e->stats.events_in, now_s()))
        return 0;
    int rc = flush_staged(e);
    return rc ? rc : emit(e, SL_EMIT_SNAPSHOT, 0, 0);
}

/* Copies n records' attributes (NULL: zeros) into staging after the staged ones. */
static void stage_attrs(sl_engine *e, size_t at, const uint64_t *attr, size_t n)
{
    uint64_t *dst = e->staging_attr + at * e->nattr;
    if (attr)
        memcpy(dst, attr, n * e->nattr * sizeof *dst);
    else
        memset(dst, 0, n * e->nattr * sizeof *dst);
}

/* Windowed PEs: copies the records that are not late (watermark.h) into staging, with their
 * attributes, and counts the others. Returns how many were copied. */
static size_t stage_windowed(sl_engine *e, const sl_rec *src, const uint64_t *attr, size_t n)
{
    sl_rec *dst = e->staging + e->staged;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        enum sl_admit a =
            sl_watermark_admit(&e->wm, src[i].time_ms, e->cfg.pe.window_ms, e->cfg.pe.lateness_ms);
        if (a == SL_ADMIT_OK) {
            if (e->nattr)
                stage_attrs(e, e->staged + kept, attr ? attr + i * e->nattr : NULL, 1);
            dst[kept++] = src[i];
            continue;
        }
        if (a == SL_ADMIT_LATE)
            e->stats.events_late++;
        else
            e->stats.events_bad_time++;
        sl_late_log_add(&e->stats.late_log, &e->wm, a, src[i].key, src[i].time_ms,
                        e->cfg.pe.window_ms, e->cfg.pe.lateness_ms);
        e->stats.type_counts[src[i].type & 3]++;
        e->types_base[src[i].type & 3]++; /* never reaches the kernel */
    }
    return kept;
}

int sl_engine_push(sl_engine *e, const sl_rec *recs, size_t n)
{
    return sl_engine_push_attrs(e, recs, NULL, n);
}

/* Records the current batch can still take: the rest of it, or fewer when a count trigger falls
 * sooner (0 when it is due now). */
static size_t stage_room(const sl_engine *e)
{
    size_t room = e->batch_cap - e->staged;
    uint64_t to_trigger = sl_trigger_room(&e->trig, e->stats.events_in);
    return to_trigger < room ? (size_t)to_trigger : room;
}

int sl_engine_push_attrs(sl_engine *e, const sl_rec *recs, const uint64_t *attrs, size_t n)
{
    if (e->failed)
        return e->failed;
    if (!e->nattr)
        attrs = NULL;
    while (n > 0) {
        size_t room = stage_room(e);
        size_t take = n < room ? n : room;
        int rc;
        if (e->staged == 0) {
            e->staged_at = now_s();
            /* direct: the batch is staged in the stage's buffer, so its last batch must be done */
            if (e->direct && (rc = reclaim(e, &e->st[e->cur])))
                return rc;
        }
        if (e->staged == 0 && take == e->batch_cap && !e->windowed) {
            if (e->direct && recs == staged_base(e))
                e->stats.events_in_place += take;
            rc = dispatch(e, recs, attrs, take); /* a whole batch: group straight from the caller */
        } else {
            if (e->windowed) {
                e->staged += stage_windowed(e, recs, attrs, take);
            } else {
                sl_rec *dst = staged_base(e) + e->staged;
                if (dst != recs) /* else written in place (sl_engine_stage_area) */
                    memcpy(dst, recs, take * sizeof *recs);
                else
                    e->stats.events_in_place += take;
                if (e->nattr)
                    stage_attrs(e, e->staged, attrs, take);
                e->staged += take;
            }
            rc = e->staged == e->batch_cap ? flush_staged(e) : 0;
        }
        if (rc)
            return rc;
        e->stats.events_in += take;
        recs += take;
        if (attrs)
            attrs += take * e->nattr;
        n -= take;
        if ((rc = triggers(e)))
            return rc;
    }
    return 0;
}

sl_rec *sl_engine_stage_area(sl_engine *e, size_t *room)
{
    *room = 0;
    if (!e->direct || e->failed)
        return NULL;
    if (e->staged == 0 && reclaim(e, &e->st[e->cur]))
        return NULL; /* the failure is the engine's; the next push returns it */
    *room = stage_room(e);
    return *room ? e->st[e->cur].host + e->staged : NULL;
}

/* Sends n (<= batch_cap) of the caller's records as one batch read where they are. */
static int dispatch_lent(sl_engine *e, const sl_rec *recs, size_t n)
{
    struct stage *s = &e->st[e->cur];
    int rc = reclaim(e, s); /* releases the stage's previous lent buffer */
    if (rc)
        return rc;
    cl_int st;
    s->lent = clCreateBuffer(e->ctx, CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR, n * sizeof *recs,
                             (void *)(uintptr_t)recs, &st);
    if (st != CL_SUCCESS)
        return clfail(e, st, "lending a batch (clCreateBuffer with CL_MEM_USE_HOST_PTR)");
    e->staged_at = now_s();
    return dispatch(e, recs, NULL, n);
}

int sl_engine_push_lent(sl_engine *e, const sl_rec *recs, size_t n)
{
    if (e->failed)
        return e->failed;
    if (!e->lend)
        return sl_engine_push(e, recs, n);
    int rc = flush_staged(e); /* records pushed before go first: nothing is staged now */
    while (rc == 0 && n > 0) {
        size_t room = stage_room(e);
        size_t take = n < room ? n : room;
        if (take > 0 && (rc = dispatch_lent(e, recs, take)))
            break;
        e->stats.events_in += take;
        e->stats.events_lent += take;
        recs += take;
        n -= take;
        rc = triggers(e);
    }
    return rc;
}

/* 1 when ev has completed (or failed: reclaim then says so), without waiting. */
static int event_done(cl_event ev)
{
    cl_int status = CL_QUEUED;
    if (clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL) !=
        CL_SUCCESS)
        return 0;
    return status == CL_COMPLETE || status < 0;
}

int sl_engine_tick(sl_engine *e, uint32_t max_wait_ms)
{
    if (e->failed)
        return e->failed;
    int rc = 0;
    /* batches the device has finished are checked now, oldest first, so that the figures
     * (keys, kernel time) are fresh while input is slow */
    for (int i = 0; i < NBUF && rc == 0; i++) {
        struct stage *s = &e->st[(e->cur + i) % NBUF];
        if (!s->pending)
            continue;
        if (s->ready && !event_done(s->ready))
            break;
        rc = reclaim(e, s);
    }
    if (rc)
        return rc;
    if (e->staged && (now_s() - e->staged_at) * 1000.0 >= (double)max_wait_ms)
        rc = flush_staged(e);
    return rc ? rc : triggers(e);
}

int sl_engine_advance(sl_engine *e, int64_t time_ms)
{
    if (e->failed)
        return e->failed;
    if (!e->windowed || time_ms < -SL_WINDOW_TIME_LIMIT || time_ms > SL_WINDOW_TIME_LIMIT ||
        (e->wm.have_time && time_ms <= e->wm.max_time))
        return 0;
    e->wm.have_time = 1;
    e->wm.max_time = time_ms;
    int64_t before;
    if (!sl_watermark_closed(&e->wm, e->cfg.pe.window_ms, e->cfg.pe.lateness_ms, &before) ||
        before <= e->closed_before)
        return 0;
    return flush_staged(e); /* the staged records first: they may belong to closing windows */
}

void sl_engine_align_timer(sl_engine *e, double offset_s)
{
    e->aligned = 1;
    e->align_offset_s = offset_s;
    sl_trigger_align(&e->trig, offset_s, now_s());
}

int sl_engine_finish(sl_engine *e)
{
    if (e->failed)
        return e->failed;
    int rc = flush_staged(e);
    if (rc)
        return rc;
    /* Window PE: every window is final now (INT64_MAX closes all of them, also those whose end
     * does not fit in int64). Others: a snapshot of everything is final. */
    return emit(e, SL_EMIT_FINAL, e->windowed, INT64_MAX);
}

int sl_engine_reset(sl_engine *e)
{
    if (e->wedged || sl_device_wedged(e->dev))
        return wait_event(e, NULL, NULL, "resetting the engine");
    /* Wait for every stage without judging it (a failed run's status is stale), release its
     * events, and map back any buffer that a failed dispatch left unmapped. */
    const char *what = "resetting the engine";
    int rc = finish_queue(e, e->q, "sl_aggregate", what);
    if (rc == 0)
        rc = finish_queue(e, e->qx, "sl_aggregate", what);
    cl_int st = CL_SUCCESS;
    for (int i = 0; i < NBUF && rc == 0; i++) {
        struct stage *s = &e->st[i];
        if (s->ready && (rc = wait_event(e, s->ready, "sl_aggregate", what)))
            break;
        release_event(&s->ready);
        release_event(&s->kernel);
        release_event(&s->transfer);
        release_mem(&s->lent);
        s->pending = 0;
        if (!s->host) {
            s->host = clEnqueueMapBuffer(e->qx, s->pinned, CL_FALSE, CL_MAP_WRITE_INVALIDATE_REGION,
                                         0, e->batch_cap * e->rec_size, 0, NULL, &s->ready, &st);
            if (st != CL_SUCCESS)
                return clfail(e, st, what);
            if ((rc = wait_event(e, s->ready, "sl_aggregate", what)))
                break;
            release_event(&s->ready);
        }
    }
    if (rc)
        return rc;
    if ((st = clear_table(e)) != CL_SUCCESS)
        return clfail(e, st, what);
    if ((rc = finish_queue(e, e->q, NULL, what)))
        return rc;
    e->staged = 0;
    e->wm = (sl_watermark){0, 0};
    e->closed_before = INT64_MIN;
    sl_trigger_init(&e->trig, &e->cfg.pe.trigger, now_s());
    if (e->aligned)
        sl_trigger_align(&e->trig, e->align_offset_s, now_s());
    e->failed = 0;
    e->msg[0] = '\0';
    memset(&e->stats, 0, sizeof e->stats);
    memset(e->types_base, 0, sizeof e->types_base);
    e->stats.table_slots = e->g.nslots;
    e->fullest_prev = 0;
    return 0;
}

int sl_engine_program_binary(const sl_engine *e, unsigned char **bin, size_t *len)
{
    return sl_peprog_binary(e->dev, &e->prog, bin, len);
}

const sl_columns *sl_engine_columns(const sl_engine *e)
{
    return &e->prog.columns;
}

int sl_engine_windowed(const sl_engine *e)
{
    return e->windowed;
}

int sl_engine_sequential(const sl_engine *e)
{
    return e->prog.sequential;
}

size_t sl_engine_state_size(const sl_engine *e)
{
    return e->prog.state_size;
}

const char *sl_engine_message(const sl_engine *e)
{
    return e->msg;
}

void sl_engine_get_stats(const sl_engine *e, sl_engine_stats *st)
{
    *st = e->stats;
}

void sl_engine_set_cancel(sl_engine *e, const volatile sig_atomic_t *flag)
{
    e->cancel = flag;
}

/* Waits for the engine's queues to go idle before its objects are released: up to
 * pe.timeout_ms, or SL_CANCEL_GRACE_MS once the cancel flag is set. Returns 0 when they did,
 * or nonzero when the engine must be kept instead (wedged). */
static int quiesce(sl_engine *e)
{
    if (e->wedged || sl_device_wedged(e->dev))
        return 1;
    uint32_t limit = e->cancel && *e->cancel ? SL_CANCEL_GRACE_MS : e->cfg.pe.timeout_ms;
    cl_command_queue qs[2] = {e->q, e->qx};
    for (int i = 0; i < 2; i++) {
        cl_int st;
        if (qs[i] && sl_cl_finish(qs[i], limit, NULL, &st) == SL_ETIMEOUT) {
            e->wedged = 1;
            sl_device_set_wedged(e->dev);
            return 1;
        }
    }
    return 0;
}

/* Releases the buffers of m[0..n) that exist (NULL entries are skipped). */
static void release_mems(const cl_mem *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m[i])
            clReleaseMemObject(m[i]);
}

void sl_engine_destroy(sl_engine **ep)
{
    if (!ep || !*ep)
        return;
    sl_engine *e = *ep;
    *ep = NULL;
    if (quiesce(e)) {
        char pe[300];
        pe_label(e, pe, sizeof pe);
        SL_WARN("engine",
                "PE %s: device work did not finish; its buffers and OpenCL objects are left "
                "unreleased for the rest of the process",
                pe);
        pthread_mutex_lock(&kept_mu);
        e->next_kept = kept_engines;
        kept_engines = e;
        pthread_mutex_unlock(&kept_mu);
        return;
    }
    for (int i = 0; i < NBUF; i++) {
        struct stage *s = &e->st[i];
        if (s->host && s->pinned)
            clEnqueueUnmapMemObject(e->qx, s->pinned, s->host, 0, NULL, NULL);
        release_event(&s->ready);
        release_event(&s->kernel);
        release_event(&s->transfer);
        const cl_mem bufs[] = {s->pinned, s->dev, s->bounds, s->prog, s->lent};
        release_mems(bufs, sizeof bufs / sizeof bufs[0]);
        free(s->bounds_h);
        free(s->fill_h);
        free(s->types_h);
    }
    if (e->qx) {
        clFinish(e->qx); /* the unmaps above: quiesce found the device idle */
        clReleaseCommandQueue(e->qx);
    }
    const cl_mem mems[] = {e->slots, e->fill, e->status, e->out, e->out_count, e->types};
    release_mems(mems, sizeof mems / sizeof mems[0]);
    const cl_kernel kernels[] = {e->k_agg, e->k_emit, e->k_merge, e->k_rehash, e->k_merge_in};
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        if (kernels[i])
            clReleaseKernel(kernels[i]);
    sl_peprog_release(&e->prog);
    free(e->staging);
    free(e->staging_attr);
    free(e->cursor);
    sl_huge_free(e->rows);
    free(e);
}

/* ---- checkpoints --------------------------------------------------------------------------- */

/* An image: the magic, the layout (image_layout), the counters, the window and trigger
 * bookkeeping (image_clock), the fill counters as they are, and the table as runs of slots that
 * are not all zero (an empty slot is all zero: the table is cleared with zeros), each a u64 first
 * slot, a u64 count and the slots' bytes, after a u64 count of runs. Only the keys present cost
 * space. A windowed PE's open windows are slots like any other; the windows it emitted are gone
 * from the table and are the sink's (its committed output, sink.h). Version 3 added the window
 * layout, the emission counters and the bookkeeping; older images are refused. */
#define IMAGE_MAGIC "SLENGST3"
#define IMAGE_NLAYOUT 9
#define IMAGE_HDR (8 + 4 * 4 + 8 + 4 * 2 + 8 * 2)
#define IMAGE_STATS 11 /* u64 counters after the header */
#define IMAGE_CLOCK 5  /* u64 window and trigger bookkeeping after them */

/* The layout fields of an image header, in order: slot size, state size, regions, copies,
 * slots, counters, windowed, window_ms, lateness_ms (both 0 without windows). A saved table only
 * means the same in an engine where all of them are equal. */
static void image_layout(const sl_engine *e, uint64_t v[IMAGE_NLAYOUT])
{
    v[0] = e->prog.slot_size;
    v[1] = sl_engine_state_size(e);
    v[2] = e->g.nparts;
    v[3] = e->g.copies;
    v[4] = e->g.nslots;
    v[5] = e->g.ncounters;
    v[6] = (uint64_t)e->windowed;
    v[7] = e->windowed ? (uint64_t)e->cfg.pe.window_ms : 0;
    v[8] = e->windowed ? (uint64_t)e->cfg.pe.lateness_ms : 0;
}

static const unsigned image_width[IMAGE_NLAYOUT] = {4, 4, 4, 4, 8, 4, 4, 8, 8};
static const char *const image_field[IMAGE_NLAYOUT] = {"slot size",    "state size", "regions",
                                                       "table copies", "slots",      "counters",
                                                       "windowed",     "window_ms",  "lateness_ms"};

/* The bookkeeping a resumed engine needs to close and emit the same windows and fire
 * every_events at the same events as one that never stopped: the watermark (whether a record
 * was admitted, the largest admitted time), the start before which windows were emitted, and
 * every_events with its next point. every_ms runs on the wall clock and starts again. */
static void image_clock(const sl_engine *e, uint64_t v[IMAGE_CLOCK])
{
    v[0] = (uint64_t)e->wm.have_time;
    v[1] = (uint64_t)e->wm.max_time;
    v[2] = (uint64_t)e->closed_before;
    v[3] = e->trig.cfg.every_events;
    v[4] = e->trig.next_events;
}

static int slot_empty(const unsigned char *p, size_t size)
{
    size_t i = 0;
    for (; i + 8 <= size; i += 8) { /* a word at a time: most slots of a table are empty */
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w)
            return 0;
    }
    for (; i < size; i++)
        if (p[i])
            return 0;
    return 1;
}

/* The next run of used slots of `table` (the state table mapped for reading), at or after *i:
 * 1 with [*first, *end), moving *i past it; 0 when there is none. */
static int next_run(const sl_engine *e, const unsigned char *table, uint64_t *i, uint64_t *first,
                    uint64_t *end)
{
    size_t ss = e->prog.slot_size;
    while (*i < e->g.nslots && slot_empty(table + *i * ss, ss))
        (*i)++;
    if (*i == e->g.nslots)
        return 0;
    *first = *i;
    while (*i < e->g.nslots && !slot_empty(table + *i * ss, ss))
        (*i)++;
    *end = *i;
    return 1;
}

/* The table and the fill counters are mapped for reading rather than read into a copy: on a CPU
 * device (PoCL) a map is the device's own memory, so the 100 MB of a 1M-key table are neither
 * copied nor faulted into a fresh buffer (bench/README.md, "Checkpoints": the read back took
 * 17-40 ms a checkpoint, and 850 ms for the first, against the scan's 15-35 ms); a GPU copies
 * it to host memory of its own. Only the runs of used slots are copied, straight into b. */
int sl_engine_save_into(sl_engine *e, sl_bytebuf *b)
{
    if (e->failed)
        return e->failed;
    int rc = dispatch(e, staged_base(e), e->staging_attr, e->staged);
    e->staged = 0;
    if (rc || (rc = drain(e)))
        return rc;
    size_t ss = e->prog.slot_size, table = (size_t)e->g.nslots * ss;
    size_t fill = e->g.ncounters * sizeof(cl_uint);
    cl_int st = CL_SUCCESS, st2 = CL_SUCCESS;
    const unsigned char *tab =
        clEnqueueMapBuffer(e->q, e->slots, CL_TRUE, CL_MAP_READ, 0, table, 0, NULL, NULL, &st);
    const unsigned char *fil =
        st != CL_SUCCESS
            ? NULL
            : clEnqueueMapBuffer(e->q, e->fill, CL_TRUE, CL_MAP_READ, 0, fill, 0, NULL, NULL, &st);
    size_t start = b->len, at;
    if (st != CL_SUCCESS) {
        rc = clfail(e, st, "mapping the state table for a checkpoint");
        goto unmap;
    }
    unsigned char *p =
        sl_bytebuf_reserve(b, IMAGE_HDR + (IMAGE_STATS + IMAGE_CLOCK) * 8 + fill + 8);
    if (!p) {
        rc = fail(e, SL_ENOMEM, "out of memory saving the state table");
        goto unmap;
    }
    memcpy(p, IMAGE_MAGIC, 8);
    at = 8;
    uint64_t v[IMAGE_NLAYOUT];
    image_layout(e, v);
    for (int i = 0; i < IMAGE_NLAYOUT; i++) {
        sl_le_put(p + at, v[i], image_width[i]);
        at += image_width[i];
    }
    const uint64_t stats[IMAGE_STATS] = {
        e->stats.events_in,      e->stats.events_late,    e->stats.events_bad_time,
        e->stats.batches,        e->stats.type_counts[0], e->stats.type_counts[1],
        e->stats.type_counts[2], e->stats.type_counts[3], e->stats.keys,
        e->stats.emissions,      e->stats.rows_emitted};
    for (int i = 0; i < IMAGE_STATS; i++, at += 8)
        sl_le_put(p + at, stats[i], 8);
    uint64_t clock[IMAGE_CLOCK];
    image_clock(e, clock);
    for (int i = 0; i < IMAGE_CLOCK; i++, at += 8)
        sl_le_put(p + at, clock[i], 8);
    memcpy(p + at, fil, fill);
    at += fill;
    size_t runs_at = start + at; /* the number of runs, once known */
    b->len += at + 8;
    uint64_t runs = 0, first, end;
    for (uint64_t i = 0; next_run(e, tab, &i, &first, &end); runs++) {
        size_t n = (size_t)(end - first) * ss;
        if (!(p = sl_bytebuf_reserve(b, 16 + n))) {
            rc = fail(e, SL_ENOMEM, "out of memory saving the state table");
            goto unmap;
        }
        sl_le_put(p, first, 8);
        sl_le_put(p + 8, end - first, 8);
        memcpy(p + 16, tab + first * ss, n);
        b->len += 16 + n;
    }
    sl_le_put(b->p + runs_at, runs, 8);
unmap:
    if (rc)
        b->len = start;
    if (tab)
        st2 = clEnqueueUnmapMemObject(e->q, e->slots, (void *)tab, 0, NULL, NULL);
    if (fil && st2 == CL_SUCCESS)
        st2 = clEnqueueUnmapMemObject(e->q, e->fill, (void *)fil, 0, NULL, NULL);
    if (st2 == CL_SUCCESS && (tab || fil))
        st2 = clFinish(e->q);
    if (st2 != CL_SUCCESS && !rc) {
        b->len = start;
        rc = clfail(e, st2, "unmapping the state table after a checkpoint");
    }
    return rc;
}

int sl_engine_combinable(const sl_engine *e)
{
    return e->k_merge_in != NULL; /* made only for a reduce PE without a window (build) */
}

size_t sl_engine_slot_size(const sl_engine *e)
{
    return e->prog.slot_size;
}

int sl_engine_export_states(sl_engine *e, int (*foreign)(void *ud, uint64_t key), void *ud,
                            sl_bytebuf *b, size_t *n)
{
    *n = 0;
    if (e->failed)
        return e->failed;
    if (!sl_engine_combinable(e))
        return SL_EUNSUPPORTED;
    int rc = dispatch(e, staged_base(e), e->staging_attr, e->staged);
    e->staged = 0;
    if (rc || (rc = drain(e)))
        return rc;
    size_t ss = e->prog.slot_size, table = (size_t)e->g.nslots * ss, start = b->len;
    cl_int st;
    const unsigned char *tab =
        clEnqueueMapBuffer(e->q, e->slots, CL_TRUE, CL_MAP_READ, 0, table, 0, NULL, NULL, &st);
    if (st != CL_SUCCESS)
        return clfail(e, st, "mapping the state table to export states");
    for (uint64_t i = 0; i < e->g.nslots; i++) {
        const unsigned char *slot = tab + i * ss;
        uint64_t key;
        memcpy(&key, slot, 8);
        if (key == 0 || !foreign(ud, key))
            continue;
        if (sl_bytebuf_append(b, slot, ss)) {
            b->len = start;
            rc = fail(e, SL_ENOMEM, "out of memory exporting states");
            break;
        }
        (*n)++;
    }
    st = clEnqueueUnmapMemObject(e->q, e->slots, (void *)tab, 0, NULL, NULL);
    if (st == CL_SUCCESS)
        st = clFinish(e->q);
    if (st != CL_SUCCESS && !rc)
        rc = clfail(e, st, "unmapping the state table after an export");
    if (rc)
        *n = 0;
    return rc;
}

int sl_engine_merge_states(sl_engine *e, const void *slots, size_t n)
{
    if (e->failed)
        return e->failed;
    if (!sl_engine_combinable(e))
        return SL_EUNSUPPORTED;
    if (n == 0)
        return 0;
    if (n > UINT32_MAX)
        return fail(e, SL_ERANGE, "%zu states to merge at once", n);
    int rc = dispatch(e, staged_base(e), e->staging_attr, e->staged);
    e->staged = 0;
    if (rc || (rc = drain(e)))
        return rc;
    /* grouped by region (a key's top pbits bits), as the kernel takes them */
    const size_t ss = e->prog.slot_size, nparts = e->g.nparts;
    const unsigned shift = 64 - e->g.pbits;
    const unsigned char *in = slots;
    unsigned char *sorted = malloc(n * ss);
    uint32_t *bounds = calloc(nparts + 1, sizeof *bounds);
    uint32_t *cur = e->cursor; /* dispatch's scatter positions, idle once drained */
    cl_mem m_in = NULL, m_bounds = NULL, m_prog = NULL;
    if (!sorted || !bounds) {
        rc = fail(e, SL_ENOMEM, "out of memory merging %zu states", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t key;
        memcpy(&key, in + i * ss, 8);
        if (key == 0 || key == UINT64_MAX) { /* an empty slot's key, or the reserved one */
            rc = fail(e, SL_EINVAL, "state %zu of %zu to merge has no key", i, n);
            goto out;
        }
        bounds[(e->g.pbits ? key >> shift : 0) + 1]++;
    }
    for (size_t p = 0; p < nparts; p++) {
        bounds[p + 1] += bounds[p];
        cur[p] = bounds[p];
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t key;
        memcpy(&key, in + i * ss, 8);
        memcpy(sorted + (size_t)cur[e->g.pbits ? key >> shift : 0]++ * ss, in + i * ss, ss);
    }
    m_in = make_buffer(e, CL_MEM_READ_ONLY, n * ss, &rc);
    m_bounds = make_buffer(e, CL_MEM_READ_ONLY, (nparts + 1) * sizeof *bounds, &rc);
    m_prog = make_buffer(e, CL_MEM_READ_WRITE, nparts * sizeof *bounds, &rc);
    if (rc) {
        rc = fail(e, rc, "cannot allocate %zu states to merge on the device", n);
        goto out;
    }
    /* blocking writes: the host arrays are free to go whatever happens next */
    cl_int st = clEnqueueWriteBuffer(e->q, m_in, CL_TRUE, 0, n * ss, sorted, 0, NULL, NULL);
    if (st == CL_SUCCESS)
        st = clEnqueueWriteBuffer(e->q, m_bounds, CL_TRUE, 0, (nparts + 1) * sizeof *bounds, bounds,
                                  0, NULL, NULL);
    if (st == CL_SUCCESS)
        st = clEnqueueWriteBuffer(e->q, m_prog, CL_TRUE, 0, nparts * sizeof *bounds, bounds, 0,
                                  NULL, NULL);
    if (st != CL_SUCCESS) {
        rc = clfail(e, st, "writing the states to merge");
        goto out;
    }
    for (;;) {
        const struct karg a[] = {
            KARG(m_in),    KARG(m_bounds),          KARG(m_prog),          KARG(e->slots),
            KARG(e->fill), KARG(e->g.region_slots), KARG(e->g.region_max), KARG(e->status)};
        st = set_args(e->k_merge_in, 0, a, sizeof a / sizeof a[0]); /* e->slots after a growth */
        if (st != CL_SUCCESS) {
            rc = clfail(e, st, "clSetKernelArg");
            goto out;
        }
        if ((rc = fold_pass(e, e->k_merge_in, e->g.ncounters, "sl_merge_in",
                            "merging states of other nodes")))
            goto out;
        uint64_t live = live_keys(e, e->st[0].fill_h, NULL);
        if (live > e->stats.keys)
            e->stats.keys = live;
        if (e->merge_status_h[0] == 0) {
            rc = check_capacity(e, e->stats.keys);
            break;
        }
        if ((rc = fold_room(e)))
            goto out;
    }
out:
    release_mem(&m_in); /* released once the commands that use them are done */
    release_mem(&m_bounds);
    release_mem(&m_prog);
    free(sorted);
    free(bounds);
    return rc;
}

int sl_engine_save(sl_engine *e, unsigned char **img, size_t *len)
{
    sl_bytebuf b = {0};
    *img = NULL;
    *len = 0;
    int rc = sl_engine_save_into(e, &b);
    if (rc) {
        sl_bytebuf_free(&b);
        return rc;
    }
    *img = b.p;
    *len = b.len;
    return 0;
}

int sl_engine_load(sl_engine *e, const unsigned char *img, size_t len, char *msg, size_t msglen)
{
    if (e->failed) {
        snprintf(msg, msglen, "%s", e->msg);
        return e->failed;
    }
    if (len >= 8 && memcmp(img, IMAGE_MAGIC, 7) == 0 && img[7] != IMAGE_MAGIC[7]) {
        snprintf(msg, msglen,
                 "the saved state is a state table image of version %c, this sluice reads "
                 "version %c",
                 img[7], IMAGE_MAGIC[7]);
        return SL_EINVAL;
    }
    if (len < IMAGE_HDR + (IMAGE_STATS + IMAGE_CLOCK) * 8 || memcmp(img, IMAGE_MAGIC, 8) != 0) {
        snprintf(msg, msglen, "not a state table image of this format");
        return SL_EPARSE;
    }
    uint64_t mine[IMAGE_NLAYOUT];
    image_layout(e, mine);
    size_t at = 8;
    uint64_t nslots = e->g.nslots; /* the image's: the table takes its size before the load */
    uint64_t subtables = (uint64_t)e->g.nparts * (e->g.copies ? e->g.copies : 1);
    for (int i = 0; i < IMAGE_NLAYOUT; i++) {
        uint64_t theirs = sl_le_get(img + at, image_width[i]);
        at += image_width[i];
        uint64_t rs = theirs / subtables;
        if (i == 4 && theirs % subtables == 0 && rs >= 1 && rs <= e->max_slots &&
            (rs & (rs - 1)) == 0) {
            nslots = theirs; /* a table that grew (or not yet) to another size */
            continue;
        }
        if (theirs != mine[i]) {
            snprintf(msg, msglen,
                     "the saved state does not fit PE %s: %s %llu in the checkpoint, %llu here (a "
                     "PE of another state type, pe.capacity, window or device)",
                     e->cfg.pe.name, image_field[i], (unsigned long long)theirs,
                     (unsigned long long)mine[i]);
            return SL_EINVAL;
        }
    }
    size_t ss = e->prog.slot_size, table = (size_t)nslots * ss;
    size_t fill = e->g.ncounters * sizeof(cl_uint);
    if (len - at < (IMAGE_STATS + IMAGE_CLOCK) * 8 + fill + 8) {
        snprintf(msg, msglen, "state table image cut short");
        return SL_EPARSE;
    }
    uint64_t stats[IMAGE_STATS], clock[IMAGE_CLOCK];
    for (int i = 0; i < IMAGE_STATS; i++, at += 8)
        stats[i] = sl_le_get(img + at, 8);
    for (int i = 0; i < IMAGE_CLOCK; i++, at += 8)
        clock[i] = sl_le_get(img + at, 8);
    if (clock[0] > 1 || (!e->windowed && (clock[0] || clock[2] != (uint64_t)INT64_MIN))) {
        snprintf(msg, msglen, "state table image: watermark out of range");
        return SL_EPARSE;
    }
    const unsigned char *fill_img = img + at;
    at += fill;
    uint64_t runs = sl_le_get(img + at, 8);
    at += 8;
    unsigned char *t = calloc(1, table ? table : 1); /* untouched pages stay the zero page */
    if (!t) {
        snprintf(msg, msglen, "out of memory loading the state table (%zu MiB)", table >> 20);
        return SL_ENOMEM;
    }
    for (uint64_t r = 0; r < runs; r++) {
        uint64_t first = len - at >= 16 ? sl_le_get(img + at, 8) : UINT64_MAX;
        uint64_t count = len - at >= 16 ? sl_le_get(img + at + 8, 8) : UINT64_MAX;
        if (first > nslots || count > nslots - first || count * ss > len - at - 16) {
            free(t);
            snprintf(msg, msglen, "state table image: run %llu out of bounds",
                     (unsigned long long)r);
            return SL_EPARSE;
        }
        memcpy(t + first * ss, img + at + 16, (size_t)count * ss);
        at += 16 + (size_t)count * ss;
    }
    if (at != len) {
        free(t);
        snprintf(msg, msglen, "state table image: %zu bytes after the last run", len - at);
        return SL_EPARSE;
    }
    int rc = drain(e);
    if (rc == 0 && nslots != e->g.nslots)
        rc = set_table(e, (uint32_t)(nslots / subtables), 0);
    if (rc) {
        free(t);
        snprintf(msg, msglen, "%s", e->msg);
        return rc;
    }
    cl_int st = clEnqueueWriteBuffer(e->q, e->slots, CL_TRUE, 0, table, t, 0, NULL, NULL);
    if (st == CL_SUCCESS)
        st = clEnqueueWriteBuffer(e->q, e->fill, CL_TRUE, 0, fill, fill_img, 0, NULL, NULL);
    if (st == CL_SUCCESS) /* the image's type counts become types_base below */
        st = zero_by_write(e, e->types, types_bytes(e));
    free(t);
    if (st != CL_SUCCESS) {
        rc = clfail(e, st, "writing a checkpoint's state table");
        snprintf(msg, msglen, "%s", e->msg);
        return rc;
    }
    e->stats.events_in = stats[0];
    e->stats.events_late = stats[1];
    e->stats.events_bad_time = stats[2];
    e->stats.batches = stats[3];
    for (int i = 0; i < 4; i++) /* the kernel counts the records after these */
        e->stats.type_counts[i] = e->types_base[i] = stats[4 + i];
    e->stats.keys = stats[8];
    e->stats.emissions = stats[9];
    e->stats.rows_emitted = stats[10];
    e->wm.have_time = (int)clock[0];
    e->wm.max_time = (int64_t)clock[1];
    e->closed_before = (int64_t)clock[2];
    /* every_events goes on from its saved point when it is the same; another period starts at
     * its next multiple after the events taken (as sl_trigger_init would have placed it) */
    uint64_t every = e->trig.cfg.every_events;
    if (every && clock[3] == every && clock[4] > e->stats.events_in)
        e->trig.next_events = clock[4];
    else if (every)
        e->trig.next_events = (e->stats.events_in / every + 1) * every;
    return 0;
}
