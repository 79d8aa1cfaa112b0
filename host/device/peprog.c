/* A PE's program: build or load, and the ABI checks; see peprog.h. */
#include "peprog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "event.h"
#include "kernsrc.h"
#include "log.h"
#include "pebin.h"
#include "pes.h"
#include "textfile.h"
#include "watchdog.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Build options: the include directory of sluice.h, the kind's defines, the prior and window of
 * the PE, and the prefetch on CPU devices. The loop is bound by the latency of one random slot
 * access per event; measured with bench_ctr on PoCL 3.1 (2-core VM, 2026-11-21) the kernels took
 * 0.245 s without a prefetch and 0.149-0.166 s with a distance of 16-32 events.
 * __builtin_prefetch is a clang builtin, so only CPU devices get it. */
static int build_options(sl_device *dev, const sl_pe_cfg *pe, const sl_pe_def *def, int windowed,
                         char *opts, size_t len, char *msg, size_t msglen)
{
    char inc[1024];
    int rc = sl_kernel_include_dir(inc, sizeof inc);
    if (rc) {
        snprintf(msg, msglen, "cannot write sluice.h for the kernel compiler: %s", sl_strerror(rc));
        return rc;
    }
    int cpu = (sl_device_get_info(dev)->type & CL_DEVICE_TYPE_CPU) != 0;
    int n = snprintf(opts, len, "-cl-std=CL1.2 -I%s%s", inc, cpu ? " -DSL_PREFETCH=24" : "");
    if (def->defines && def->defines[0] && (size_t)n < len)
        n += snprintf(opts + n, len - (size_t)n, " %s", def->defines);
    if ((def->flags & SL_PEF_PRIOR) && pe->has_prior && (size_t)n < len)
        n += snprintf(opts + n, len - (size_t)n, " -DSL_PRIOR_A=%.17g -DSL_PRIOR_B=%.17g",
                      pe->prior_a, pe->prior_b);
    if (windowed && (size_t)n < len)
        n += snprintf(opts + n, len - (size_t)n, " -DSL_WINDOW_MS=%lldL", (long long)pe->window_ms);
    for (uint32_t i = 0; i < pe->nparams && (size_t)n < len; i++) {
        char d[SL_SCHEMA_NAME + SL_SCHEMA_TEXT + 8];
        sl_pe_param_define(&pe->param[i], d, sizeof d);
        n += snprintf(opts + n, len - (size_t)n, " %s", d);
    }
    for (uint32_t k = 0; k < pe->nattrs && k < SL_SCHEMA_ATTRS && (size_t)n < len; k++) {
        if (!sl_schema_attr_name_ok(pe->attr[k].name)) {
            snprintf(msg, msglen, "PE \"%s\": attribute %u's name is not valid", pe->name, k);
            return SL_EINVAL;
        }
        n += snprintf(opts + n, len - (size_t)n, " -DSL_ATTR%u=%s -DSL_ATTR%u_T=%s", k,
                      pe->attr[k].name, k, pe->attr[k].is_double ? "double" : "long");
    }
    if (pe->value_attr > 0 && (uint32_t)pe->value_attr <= pe->nattrs && (size_t)n < len)
        n += snprintf(opts + n, len - (size_t)n, " -DSL_VALUE_ATTR=%s",
                      pe->attr[pe->value_attr - 1].name);
    return (size_t)n < len ? 0 : SL_ERANGE;
}

/* Runs sl_abi_info and checks what the PE declares: its shape, state size and columns (for a
 * built-in, those of its row in the PE table). Fills p's ABI fields. */
static int check_abi(sl_device *dev, const sl_pe_cfg *pe, const sl_pe_def *def, sl_peprog *p,
                     char *msg, size_t msglen)
{
    cl_int st;
    cl_uint info[8] = {0};
    char cols[512] = "";
    cl_uint cols_len = sizeof cols;
    size_t one = 1;
    cl_command_queue q = sl_device_queue(dev);
    cl_kernel k = clCreateKernel(p->prog, "sl_abi_info", &st);
    cl_mem info_b =
        clCreateBuffer(sl_device_context(dev), CL_MEM_WRITE_ONLY, sizeof info, NULL, &st);
    cl_mem cols_b =
        clCreateBuffer(sl_device_context(dev), CL_MEM_WRITE_ONLY, sizeof cols, NULL, &st);
    st = k && info_b && cols_b ? CL_SUCCESS : CL_INVALID_KERNEL;
    if (st == CL_SUCCESS)
        st = clSetKernelArg(k, 0, sizeof info_b, &info_b);
    if (st == CL_SUCCESS)
        st = clSetKernelArg(k, 1, sizeof cols_b, &cols_b);
    if (st == CL_SUCCESS)
        st = clSetKernelArg(k, 2, sizeof cols_len, &cols_len);
    if (st == CL_SUCCESS)
        st = clEnqueueNDRangeKernel(q, k, 1, NULL, &one, &one, 0, NULL, NULL);
    if (st == CL_SUCCESS)
        st = clEnqueueReadBuffer(q, info_b, CL_TRUE, 0, sizeof info, info, 0, NULL, NULL);
    if (st == CL_SUCCESS)
        st = clEnqueueReadBuffer(q, cols_b, CL_TRUE, 0, sizeof cols, cols, 0, NULL, NULL);
    if (k)
        clReleaseKernel(k);
    if (info_b)
        clReleaseMemObject(info_b);
    if (cols_b)
        clReleaseMemObject(cols_b);
    if (st != CL_SUCCESS) {
        snprintf(msg, msglen, "PE \"%s\": running sl_abi_info failed: %s", pe->name,
                 sl_cl_strerror(st));
        return SL_ECL;
    }
    cols[sizeof cols - 1] = '\0';
    if (info[1] != sizeof(sl_row) || info[4] != SL_COLUMNS_MAX || (info[3] != 1 && info[3] != 2)) {
        snprintf(msg, msglen,
                 "PE \"%s\": ABI mismatch: row %u bytes (expected %zu), %u output columns "
                 "(expected %d), shape %u; was it built against another sluice.h?",
                 pe->name, info[1], sizeof(sl_row), info[4], SL_COLUMNS_MAX, info[3]);
        return SL_EINVAL;
    }
    const size_t want_rec = sizeof(sl_rec) + 8u * pe->nattrs;
    if (info[7] != want_rec) {
        snprintf(msg, msglen,
                 "PE \"%s\": its sl_record is %u bytes but the topology's %u attributes make "
                 "records of %zu: rebuild the binary with the same schema.attributes",
                 pe->name, info[7], pe->nattrs, want_rec);
        return SL_EINVAL;
    }
    uint64_t built_window = (uint64_t)info[5] | (uint64_t)info[6] << 32;
    uint64_t want_window = p->windowed ? (uint64_t)pe->window_ms : 0;
    if (built_window != want_window) {
        snprintf(msg, msglen,
                 "PE \"%s\": the program was built with window_ms %llu but the topology asks for "
                 "%llu: rebuild the binary with the same window",
                 pe->name, (unsigned long long)built_window, (unsigned long long)want_window);
        return SL_EINVAL;
    }
    if (info[2] > SL_STATE_MAX) {
        snprintf(msg, msglen, "PE \"%s\": sl_state is %u bytes, over the limit of %d", pe->name,
                 info[2], SL_STATE_MAX);
        return SL_EINVAL;
    }
    if (def->columns && strcmp(cols, def->columns) != 0) {
        snprintf(msg, msglen,
                 "PE \"%s\": kernels/%s declares SL_COLUMNS \"%s\" but the PE table "
                 "(host/model/pes.c) says \"%s\"",
                 pe->name, def->kernel, cols, def->columns);
        return SL_EINVAL;
    }
    char err[512];
    if (sl_columns_parse(cols, &p->columns, err, sizeof err)) {
        snprintf(msg, msglen, "PE \"%s\": %s", pe->name, err);
        return SL_EINVAL;
    }
    /* the topology's pe.format: a column printed otherwise than the PE declares */
    if (sl_columns_override(&p->columns, pe->format, err, sizeof err)) {
        snprintf(msg, msglen, "PE \"%s\": pe.format: %s", pe->name, err);
        return SL_EINVAL;
    }
    p->slot_size = info[0];
    p->state_size = info[2];
    p->sequential = info[3] == 2;
    return 0;
}

/* Appends to msg (length used) a plain-words line for each ABI function the build log shows as
 * missing or declared with another signature than sluice.h's. */
static void abi_hints(const char *log, char *msg, size_t msglen)
{
    static const struct {
        const char *name, *proto;
    } fns[] = {
        {"sl_init", "void sl_init(__global sl_state *s)"},
        {"sl_add", "void sl_add(__global sl_state *s, const sl_record *r)"},
        {"sl_merge", "void sl_merge(__global sl_state *dst, __global const sl_state *src)"},
        {"sl_process", "void sl_process(__global sl_state *s, const sl_record *r)"},
        {"sl_emit", "void sl_emit(__global const sl_state *s, sl_out *out)"},
    };
    size_t used = strlen(msg);
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        char conflict[64], missing1[64], missing2[64];
        snprintf(conflict, sizeof conflict, "conflicting types for '%s'", fns[i].name);
        snprintf(missing1, sizeof missing1, "Cannot find symbol %s ", fns[i].name);
        snprintf(missing2, sizeof missing2, "undefined reference to `%s'", fns[i].name);
        const char *what = NULL;
        if (strstr(log, conflict))
            what = "is declared with another signature than sluice.h's";
        else if (strstr(log, missing1) || strstr(log, missing2))
            what = "is missing";
        if (what && used < msglen)
            used += (size_t)snprintf(msg + used, msglen - used,
                                     "\nsluice ABI: %s %s; this PE's shape needs: %s", fns[i].name,
                                     what, fns[i].proto);
    }
}

/* Loads a PE binary: checks its container (pebin.h), then builds the device binary in it. */
static int load_binary(sl_device *dev, const sl_pe_cfg *pe, const char *opts, cl_program *prog,
                       char *msg, size_t msglen)
{
    char *file = NULL, *log = NULL;
    size_t file_len = 0;
    int rc = sl_read_file(pe->binary, SL_PE_FILE_MAX, &file, &file_len, msg, msglen);
    if (rc)
        return rc;
    const unsigned char *payload = NULL;
    size_t plen = 0;
    char why[1024];
    rc = sl_pebin_unwrap(sl_device_get_info(dev), (const unsigned char *)file, file_len, &payload,
                         &plen, why, sizeof why);
    if (rc == 0)
        rc = sl_device_load_binary(dev, payload, plen, opts, prog, &log);
    else
        log = strdup(why);
    if (rc)
        snprintf(msg, msglen, "loading PE \"%s\" from binary %s failed: %s", pe->name, pe->binary,
                 log ? log : sl_strerror(rc));
    free(file);
    free(log);
    return rc;
}

/* Builds the PE's source (the user's file, or its built-in kernels/ file) followed by
 * kernels/sl_engine.cl; on a build failure `msg` holds the device's full build log. */
static int build_source(sl_device *dev, const sl_pe_cfg *pe, const sl_pe_def *def, const char *opts,
                        cl_program *prog, char *msg, size_t msglen)
{
    sl_source srcs[2] = {{NULL, NULL}, {"sl_engine.cl", sl_kernel_source("sl_engine.cl")}};
    char *user = NULL, *log = NULL;
    int rc;
    if (def->flags & SL_PEF_USER) {
        if (!pe->source[0]) {
            snprintf(msg, msglen, "PE \"%s\": a user PE needs pe.source or pe.binary", pe->name);
            return SL_EINVAL;
        }
        size_t user_len = 0;
        if ((rc = sl_read_file(pe->source, SL_PE_FILE_MAX, &user, &user_len, msg, msglen)))
            return rc;
        srcs[0] = (sl_source){pe->source, user};
    } else {
        srcs[0] = (sl_source){def->kernel, sl_kernel_source(def->kernel)};
    }
    SL_CHECK(srcs[0].text && srcs[1].text);
    rc = sl_device_build(dev, srcs, 2, opts, prog, &log);
    if (rc) {
        snprintf(msg, msglen, "building PE \"%s\" (%s) failed:\n%s", pe->name, srcs[0].name,
                 log ? log : sl_strerror(rc));
        if (log)
            abi_hints(log, msg, msglen);
    }
    free(user);
    free(log);
    return rc;
}

int sl_peprog_build(sl_device *dev, const sl_pe_cfg *pe, sl_peprog *out, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    const sl_pe_def *def = sl_pe_def_of(pe->kind);
    if (!def) {
        snprintf(msg, msglen, "PE \"%s\": unknown kind %d", pe->name, (int)pe->kind);
        return SL_EINVAL;
    }
    sl_peprog p = {.windowed = sl_pe_windowed(pe)};
    char opts[4096];
    int rc = build_options(dev, pe, def, p.windowed, opts, sizeof opts, msg, msglen);
    if (rc)
        return rc;
    double t0 = now_s();
    int user = (def->flags & SL_PEF_USER) != 0;
    if (user && pe->binary[0])
        rc = load_binary(dev, pe, opts, &p.prog, msg, msglen);
    else
        rc = build_source(dev, pe, def, opts, &p.prog, msg, msglen);
    if (rc)
        return rc;
    SL_INFO("engine", "built PE %s in %.3f s (%s)", pe->name, now_s() - t0, opts);
    sl_crash_note_pe(pe->name, pe->binary[0] ? pe->binary : pe->source, user, pe->binary[0] != 0);
    if ((rc = check_abi(dev, pe, def, &p, msg, msglen))) {
        sl_peprog_release(&p);
        return rc;
    }
    *out = p;
    return 0;
}

int sl_peprog_binary(sl_device *dev, const sl_peprog *p, unsigned char **bin, size_t *len)
{
    unsigned char *raw = NULL;
    size_t n = 0;
    int rc = sl_device_program_binary(dev, p->prog, &raw, &n);
    if (rc == 0)
        rc = sl_pebin_wrap(sl_device_get_info(dev), raw, n, bin, len);
    free(raw);
    return rc;
}

void sl_peprog_release(sl_peprog *p)
{
    if (p->prog)
        clReleaseProgram(p->prog);
    memset(p, 0, sizeof *p);
}
