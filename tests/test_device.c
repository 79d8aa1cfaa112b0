/* Tests of host/device.h: device selection by name and SLUICE_DEVICE, program builds with
 * #line-mapped build logs, a kernel run, the device listing and cl_int -> sl_err conversion.
 *
 * Criterion forks per test, so each test opens OpenCL itself (and may setenv freely). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "device.h"
#include "err.h"

static char msg[4096];

/* Opens the default device (SLUICE_DEVICE cleared), asserting success. */
static sl_device *open_default(void)
{
    unsetenv("SLUICE_DEVICE");
    sl_device *d = NULL;
    msg[0] = '\0';
    int rc = sl_device_open(NULL, &d, msg, sizeof msg);
    cr_assert(eq(int, rc, 0), "sl_device_open(NULL): %s: %s", sl_strerror(rc), msg);
    cr_assert_not_null(d);
    return d;
}

/* Copies a string device property straight from OpenCL (independently of sl_device_info). */
static void cl_device_string(cl_device_id id, cl_device_info what, char *buf, size_t len)
{
    cl_int st = clGetDeviceInfo(id, what, len, buf, NULL);
    cr_assert(eq(int, st, CL_SUCCESS), "clGetDeviceInfo: %s", sl_cl_strerror(st));
    buf[len - 1] = '\0';
}

Test(device, open_default)
{
    sl_device *d = open_default();
    const sl_device_info *in = sl_device_get_info(d);
    cr_assert_not_null(in);
    cr_assert(gt(sz, strlen(in->name), 0), "empty device name");
    cr_assert(ge(uint, in->compute_units, 1));
    cr_assert(ge(sz, in->max_wg, 1));
    cr_assert(gt(u64, in->global_mem, 0));

    /* the info matches what OpenCL itself says about the device */
    char name[128];
    cl_device_string(sl_device_id(d), CL_DEVICE_NAME, name, sizeof name);
    cr_assert_str_eq(in->name, name);
    cl_uint cu = 0;
    cr_assert(
        eq(int, clGetDeviceInfo(sl_device_id(d), CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL),
           CL_SUCCESS));
    cr_assert(eq(uint, in->compute_units, cu));

    /* the context and queue belong to that device */
    cr_assert_not_null(sl_device_context(d));
    cr_assert_not_null(sl_device_queue(d));
    cl_device_id qdev = NULL;
    cr_assert(eq(
        int, clGetCommandQueueInfo(sl_device_queue(d), CL_QUEUE_DEVICE, sizeof qdev, &qdev, NULL),
        CL_SUCCESS));
    cr_assert(eq(ptr, (void *)qdev, (void *)sl_device_id(d)));
    cl_command_queue_properties qp = 0;
    cr_assert(eq(
        int, clGetCommandQueueInfo(sl_device_queue(d), CL_QUEUE_PROPERTIES, sizeof qp, &qp, NULL),
        CL_SUCCESS));
    cr_assert(ne(u64, qp & CL_QUEUE_PROFILING_ENABLE, 0), "queue has profiling on");

    sl_device_close(&d);
    cr_assert_null(d);
    sl_device_close(&d);
    sl_device_close(NULL);
}

Test(device, open_no_match)
{
    sl_device *good = open_default();
    char name[128];
    snprintf(name, sizeof name, "%s", sl_device_get_info(good)->name);
    sl_device_close(&good);

    sl_device *d = (sl_device *)&msg; /* any non-NULL value: must be cleared */
    msg[0] = '\0';
    int rc = sl_device_open("definitely-not-a-device", &d, msg, sizeof msg);
    cr_assert(eq(int, rc, SL_ENODEV), "rc %s: %s", sl_strerror(rc), msg);
    cr_assert_null(d);
    cr_assert_not_null(strstr(msg, "devices present:"), "message: %s", msg);
    cr_assert_not_null(strstr(msg, name), "message lacks \"%s\": %s", name, msg);
    cr_assert_not_null(strstr(msg, "definitely-not-a-device"), "message: %s", msg);
}

/* Returns nonzero when hay contains needle, ASCII case-insensitively (this file's own check). */
static int has_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return n == 0;
}

/* Asserts d is a device whose "platform / name" contains sub (case-insensitively). With several
 * devices, another one than the default may match first: the contract is "first that contains". */
static void expect_match(const sl_device *d, const char *sub)
{
    const sl_device_info *in = sl_device_get_info(d);
    char full[300];
    snprintf(full, sizeof full, "%s / %s", in->platform, in->name);
    cr_assert(has_ci(full, sub), "opened \"%s\" for \"%s\"", full, sub);
}

/* Swaps the letter case of every ASCII letter of s in place. */
static void swap_case(char *s)
{
    for (; *s; s++) {
        int c = (unsigned char)*s;
        *s = (char)(isupper(c) ? tolower(c) : toupper(c));
    }
}

/* An explicit match: the full name and a part of it, also in swapped letter case. */
Test(device, open_by_substring)
{
    sl_device *good = open_default();
    char name[128];
    snprintf(name, sizeof name, "%s", sl_device_get_info(good)->name);
    sl_device_close(&good);
    size_t n = strlen(name);
    cr_assert(ge(sz, n, 1));

    char sub[128];
    snprintf(sub, sizeof sub, "%s", name);
    swap_case(sub);
    sl_device *d = NULL;
    int rc = sl_device_open(sub, &d, msg, sizeof msg);
    cr_assert(eq(int, rc, 0), "match \"%s\": %s", sub, msg);
    cr_assert_str_eq(sl_device_get_info(d)->name, name);
    sl_device_close(&d);

    size_t from = n / 3, len = n - from > 6 ? 6 : n - from;
    memcpy(sub, name + from, len);
    sub[len] = '\0';
    rc = sl_device_open(sub, &d, msg, sizeof msg);
    cr_assert(eq(int, rc, 0), "match \"%s\": %s", sub, msg);
    expect_match(d, sub);
    sl_device_close(&d);

    swap_case(sub);
    rc = sl_device_open(sub, &d, msg, sizeof msg);
    cr_assert(eq(int, rc, 0), "case-swapped match \"%s\": %s", sub, msg);
    expect_match(d, sub);
    sl_device_close(&d);
}

Test(device, sluice_device_env)
{
    sl_device *good = open_default();
    char name[128];
    snprintf(name, sizeof name, "%s", sl_device_get_info(good)->name);
    sl_device_close(&good);

    char sub[128];
    size_t n = strlen(name), len = n > 5 ? 5 : n;
    memcpy(sub, name + (n - len), len); /* the name's last bytes */
    sub[len] = '\0';
    cr_assert(eq(int, setenv("SLUICE_DEVICE", sub, 1), 0));
    sl_device *d = NULL;
    int rc = sl_device_open(NULL, &d, msg, sizeof msg);
    cr_assert(eq(int, rc, 0), "SLUICE_DEVICE=%s: %s", sub, msg);
    expect_match(d, sub);
    sl_device_close(&d);
    rc = sl_device_open("", &d, msg, sizeof msg); /* "" also defers to SLUICE_DEVICE */
    cr_assert(eq(int, rc, 0), "SLUICE_DEVICE=%s: %s", sub, msg);
    expect_match(d, sub);
    sl_device_close(&d);

    cr_assert(eq(int, setenv("SLUICE_DEVICE", "no-such-device-xyz", 1), 0));
    rc = sl_device_open(NULL, &d, msg, sizeof msg);
    cr_assert(eq(int, rc, SL_ENODEV), "rc %s: %s", sl_strerror(rc), msg);
    cr_assert_null(d);
    cr_assert_not_null(strstr(msg, "no-such-device-xyz"), "%s", msg);
    cr_assert_not_null(strstr(msg, name), "%s", msg);

    /* an explicit match wins over SLUICE_DEVICE */
    rc = sl_device_open(sub, &d, msg, sizeof msg);
    cr_assert(eq(int, rc, 0), "%s", msg);
    expect_match(d, sub);
    sl_device_close(&d);
}

static const char helper_cl[] = "int helper(int x)\n"
                                "{\n"
                                "    return 2 * x + 1;\n"
                                "}\n";

/* Line 3 is the broken one. */
static const char bad_cl[] = "__kernel void bad(__global int *out)\n"
                             "{\n"
                             "    out[0] = helper(1) + ;\n"
                             "}\n";

Test(device, build_error_names_file_and_line)
{
    sl_device *d = open_default();
    const sl_source srcs[] = {{"a.cl", helper_cl}, {"user.cl", bad_cl}};
    cl_program prog = (cl_program)&msg; /* must be cleared */
    char *log = NULL;
    int rc = sl_device_build(d, srcs, 2, NULL, &prog, &log);
    cr_assert(eq(int, rc, SL_EBUILD), "rc %s", sl_strerror(rc));
    cr_assert_null(prog);
    cr_assert_not_null(log, "no build log");
    cr_assert_not_null(strstr(log, "user.cl:3"), "build log:\n%s", log);
    cr_assert_null(strstr(log, "a.cl:"), "the helper file has no error; log:\n%s", log);
    free(log);

    /* log NULL is allowed */
    rc = sl_device_build(d, srcs, 2, NULL, &prog, NULL);
    cr_assert(eq(int, rc, SL_EBUILD));
    cr_assert_null(prog);
    sl_device_close(&d);
}

/* An error in the first file is reported against that file's own line numbers. */
Test(device, build_error_in_first_file)
{
    sl_device *d = open_default();
    const sl_source srcs[] = {{"first.cl", "int f(void)\n{\n    return 1\n}\n"},
                              {"second.cl", "__kernel void k(__global int *o) { o[0] = f(); }\n"}};
    cl_program prog = NULL;
    char *log = NULL;
    int rc = sl_device_build(d, srcs, 2, NULL, &prog, &log);
    cr_assert(eq(int, rc, SL_EBUILD));
    cr_assert_not_null(log);
    cr_assert_not_null(strstr(log, "first.cl:3"), "build log:\n%s", log);
    free(log);
    sl_device_close(&d);
}

static const char good_cl[] = "__kernel void fill(__global int *out)\n"
                              "{\n"
                              "    int i = (int)get_global_id(0);\n"
                              "    out[i] = helper(i) + OFFSET;\n"
                              "}\n";

/* Builds helper + kernel with -DOFFSET=40, runs it over 64 work-items and reads back
 * out[i] = 2i + 1 + 40. */
Test(device, build_and_run)
{
    enum { N = 64 };
    sl_device *d = open_default();
    const sl_source srcs[] = {{"a.cl", helper_cl}, {"fill.cl", good_cl}};
    cl_program prog = NULL;
    char *log = NULL;
    int rc = sl_device_build(d, srcs, 2, "-DOFFSET=40", &prog, &log);
    cr_assert(eq(int, rc, 0), "build: %s\n%s", sl_strerror(rc), log ? log : "");
    cr_assert_null(log);
    cr_assert_not_null(prog);

    cl_int st;
    cl_kernel k = clCreateKernel(prog, "fill", &st);
    cr_assert(eq(int, st, CL_SUCCESS), "clCreateKernel: %s", sl_cl_strerror(st));
    cl_mem buf =
        clCreateBuffer(sl_device_context(d), CL_MEM_WRITE_ONLY, N * sizeof(cl_int), NULL, &st);
    cr_assert(eq(int, st, CL_SUCCESS), "clCreateBuffer: %s", sl_cl_strerror(st));
    st = clSetKernelArg(k, 0, sizeof buf, &buf);
    cr_assert(eq(int, st, CL_SUCCESS), "clSetKernelArg: %s", sl_cl_strerror(st));
    size_t global = N;
    st = clEnqueueNDRangeKernel(sl_device_queue(d), k, 1, NULL, &global, NULL, 0, NULL, NULL);
    cr_assert(eq(int, st, CL_SUCCESS), "clEnqueueNDRangeKernel: %s", sl_cl_strerror(st));
    cl_int out[N];
    memset(out, 0xff, sizeof out);
    st = clEnqueueReadBuffer(sl_device_queue(d), buf, CL_TRUE, 0, sizeof out, out, 0, NULL, NULL);
    cr_assert(eq(int, st, CL_SUCCESS), "clEnqueueReadBuffer: %s", sl_cl_strerror(st));
    for (int i = 0; i < N; i++)
        cr_assert(eq(int, out[i], 2 * i + 1 + 40), "out[%d]", i);

    clReleaseMemObject(buf);
    clReleaseKernel(k);
    clReleaseProgram(prog);
    sl_device_close(&d);
}

/* Runs fill from prog over n work-items and checks out[i] = 2i + 1 + offset. */
static void run_fill(sl_device *d, cl_program prog, int offset)
{
    enum { N = 32 };
    cl_int st;
    cl_kernel k = clCreateKernel(prog, "fill", &st);
    cr_assert(eq(int, st, CL_SUCCESS), "clCreateKernel: %s", sl_cl_strerror(st));
    cl_mem buf =
        clCreateBuffer(sl_device_context(d), CL_MEM_WRITE_ONLY, N * sizeof(cl_int), NULL, &st);
    cr_assert(eq(int, st, CL_SUCCESS));
    cr_assert(eq(int, clSetKernelArg(k, 0, sizeof buf, &buf), CL_SUCCESS));
    size_t global = N;
    cr_assert(eq(
        int, clEnqueueNDRangeKernel(sl_device_queue(d), k, 1, NULL, &global, NULL, 0, NULL, NULL),
        CL_SUCCESS));
    cl_int out[N];
    memset(out, 0xff, sizeof out);
    cr_assert(
        eq(int,
           clEnqueueReadBuffer(sl_device_queue(d), buf, CL_TRUE, 0, sizeof out, out, 0, NULL, NULL),
           CL_SUCCESS));
    for (int i = 0; i < N; i++)
        cr_assert(eq(int, out[i], 2 * i + 1 + offset), "out[%d] with OFFSET %d", i, offset);
    clReleaseMemObject(buf);
    clReleaseKernel(k);
}

static cl_program build_fill(sl_device *d, int offset)
{
    const sl_source srcs[] = {{"a.cl", helper_cl}, {"fill.cl", good_cl}};
    char opt[32];
    snprintf(opt, sizeof opt, "-DOFFSET=%d", offset);
    cl_program prog = NULL;
    char *log = NULL;
    int rc = sl_device_build(d, srcs, 2, opt, &prog, &log);
    cr_assert(eq(int, rc, 0), "build %s: %s\n%s", opt, sl_strerror(rc), log ? log : "");
    cr_assert_not_null(prog);
    return prog;
}

/* The device keeps what it built: the same sources and options give the same program again
 * (retained for each caller: releasing one keeps the other working), other options build anew,
 * a failed build is never kept, and programs pushed out of the cache by later builds still run
 * for a caller that holds them. */
Test(device, build_again_gives_the_kept_program)
{
    sl_device *d = open_default();
    cl_program a = build_fill(d, 40), b = build_fill(d, 40);
    cr_assert(eq(ptr, (void *)a, (void *)b),
              "the second build of the same text is not the kept one");
    clReleaseProgram(a);
    run_fill(d, b, 40);
    cl_program c = build_fill(d, 7);
    cr_assert(ne(ptr, (void *)c, (void *)b), "other options gave the kept program");
    run_fill(d, c, 7);
    clReleaseProgram(c);

    const sl_source bad[] = {{"a.cl", helper_cl}, {"user.cl", bad_cl}};
    for (int i = 0; i < 2; i++) {
        cl_program p = NULL;
        char *log = NULL;
        cr_assert(eq(int, sl_device_build(d, bad, 2, NULL, &p, &log), SL_EBUILD), "try %d", i);
        cr_assert_null(p);
        cr_assert_not_null(log);
        cr_assert_not_null(strstr(log, "user.cl:3"), "try %d: %s", i, log);
        free(log);
    }

    for (int off = 100; off < 112; off++) { /* more than the cache keeps */
        cl_program p = build_fill(d, off);
        run_fill(d, p, off);
        clReleaseProgram(p);
    }
    run_fill(d, b, 40); /* pushed out of the cache, still the caller's */
    cl_program again = build_fill(d, 40);
    run_fill(d, again, 40);
    clReleaseProgram(again);
    clReleaseProgram(b);

    /* a source that includes a file of its own is built anew each time: the file may change */
    char dir[] = "/tmp/sl-device-XXXXXX", hdr[64], opt[96], fill[512];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(hdr, sizeof hdr, "%s/off.h", dir);
    snprintf(opt, sizeof opt, "-I%s", dir);
    snprintf(fill, sizeof fill, "#include \"off.h\"\n%s", good_cl);
    const sl_source inc[] = {{"a.cl", helper_cl}, {"fill.cl", fill}};
    for (int off = 3; off <= 9; off += 6) {
        FILE *h = fopen(hdr, "w");
        cr_assert_not_null(h);
        fprintf(h, "#define OFFSET %d\n", off);
        fclose(h);
        cl_program p = NULL;
        char *log = NULL;
        int rc = sl_device_build(d, inc, 2, opt, &p, &log);
        cr_assert(eq(int, rc, 0), "%s", log ? log : "");
        run_fill(d, p, off);
        clReleaseProgram(p);
    }
    remove(hdr);
    rmdir(dir);
    sl_device_close(&d);
}

/* A bad option is a build failure too (SL_EBUILD), not a crash. */
Test(device, build_bad_option)
{
    sl_device *d = open_default();
    const sl_source srcs[] = {{"a.cl", helper_cl}};
    cl_program prog = NULL;
    char *log = NULL;
    int rc = sl_device_build(d, srcs, 1, "-this-is-not-an-option", &prog, &log);
    cr_assert(eq(int, rc, SL_EBUILD), "rc %s", sl_strerror(rc));
    cr_assert_null(prog);
    free(log);
    sl_device_close(&d);
}

Test(device, list)
{
    sl_device *d = open_default();
    char name[128];
    snprintf(name, sizeof name, "%s", sl_device_get_info(d)->name);
    char platform[128];
    snprintf(platform, sizeof platform, "%s", sl_device_get_info(d)->platform);
    sl_device_close(&d);

    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert(eq(int, sl_device_list(f), 0));
    long end = ftell(f);
    cr_assert(gt(long, end, 0));
    rewind(f);
    char *text = calloc(1, (size_t)end + 1);
    cr_assert_not_null(text);
    cr_assert(eq(sz, fread(text, 1, (size_t)end, f), (size_t)end));
    cr_assert_not_null(strstr(text, "compute units"), "%s", text);
    cr_assert_not_null(strstr(text, name), "no \"%s\" in:\n%s", name, text);
    cr_assert_not_null(strstr(text, platform), "no \"%s\" in:\n%s", platform, text);
    free(text);
    fclose(f);
}

Test(device, cl_strerror)
{
    cr_assert_str_eq(sl_cl_strerror(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    cr_assert_str_eq(sl_cl_strerror(CL_SUCCESS), "CL_SUCCESS");
    cr_assert_str_eq(sl_cl_strerror(CL_BUILD_PROGRAM_FAILURE), "CL_BUILD_PROGRAM_FAILURE");
    cr_assert_str_eq(sl_cl_strerror(CL_INVALID_KERNEL_NAME), "CL_INVALID_KERNEL_NAME");
    cr_assert_str_eq(sl_cl_strerror(CL_OUT_OF_HOST_MEMORY), "CL_OUT_OF_HOST_MEMORY");
    cr_assert_not_null(sl_cl_strerror(-12345), "unknown codes still get a string");
}

Test(device, cl_check)
{
    cr_assert(eq(int, sl_cl_check(CL_SUCCESS, "test"), 0));
    cr_assert(eq(int, sl_cl_check(CL_OUT_OF_HOST_MEMORY, "test"), SL_ENOMEM));
    cr_assert(eq(int, sl_cl_check(CL_OUT_OF_RESOURCES, "test"), SL_ECL));
    cr_assert(eq(int, sl_cl_check(CL_INVALID_VALUE, "test"), SL_ECL));
    cr_assert(eq(int, sl_cl_check(CL_MEM_OBJECT_ALLOCATION_FAILURE, "test"), SL_ECL));
    cr_assert(eq(int, sl_cl_check(-12345, "test"), SL_ECL));
}
