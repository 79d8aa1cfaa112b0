#include "device.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

/* Programs built from source on a device, kept for the next build of the same text with the same
 * options: a cluster node builds its kernels again for every job, and PoCL preprocesses the
 * whole source with clang before it looks in its own cache (about 25 ms a job here). */
#define BUILT_KEPT 8
struct built {
    char *text;    /* the sources as sl_device_build concatenates them, then '\0' and options */
    size_t len;    /* bytes of text, both parts and both '\0' */
    cl_program p;  /* one reference held by the cache */
    uint64_t used; /* the build count when last asked for: the least recent goes first */
};

struct sl_device {
    cl_platform_id platform;
    cl_device_id id;
    cl_context ctx;
    cl_command_queue queue;
    sl_device_info info;
    int wedged;
    struct sl_device *next_kept; /* wedged devices kept until exit */
    pthread_mutex_t built_mu;    /* guards built[] and builds */
    struct built built[BUILT_KEPT];
    uint64_t builds;
};

/* Wedged devices that sl_device_close did not release: referenced from here, so that leak
 * checkers see them as reachable. */
static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;
static sl_device *kept;

const char *sl_cl_strerror(cl_int st)
{
    switch (st) {
#define C(x)                                                                                       \
    case x:                                                                                        \
        return #x;
        C(CL_SUCCESS)
        C(CL_DEVICE_NOT_FOUND)
        C(CL_DEVICE_NOT_AVAILABLE)
        C(CL_COMPILER_NOT_AVAILABLE)
        C(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        C(CL_OUT_OF_RESOURCES)
        C(CL_OUT_OF_HOST_MEMORY)
        C(CL_PROFILING_INFO_NOT_AVAILABLE)
        C(CL_BUILD_PROGRAM_FAILURE)
        C(CL_MAP_FAILURE)
        C(CL_INVALID_VALUE)
        C(CL_INVALID_DEVICE_TYPE)
        C(CL_INVALID_PLATFORM)
        C(CL_INVALID_DEVICE)
        C(CL_INVALID_CONTEXT)
        C(CL_INVALID_COMMAND_QUEUE)
        C(CL_INVALID_MEM_OBJECT)
        C(CL_INVALID_BINARY)
        C(CL_INVALID_BUILD_OPTIONS)
        C(CL_INVALID_PROGRAM)
        C(CL_INVALID_PROGRAM_EXECUTABLE)
        C(CL_INVALID_KERNEL_NAME)
        C(CL_INVALID_KERNEL)
        C(CL_INVALID_ARG_INDEX)
        C(CL_INVALID_ARG_VALUE)
        C(CL_INVALID_ARG_SIZE)
        C(CL_INVALID_KERNEL_ARGS)
        C(CL_INVALID_WORK_DIMENSION)
        C(CL_INVALID_WORK_GROUP_SIZE)
        C(CL_INVALID_WORK_ITEM_SIZE)
        C(CL_INVALID_GLOBAL_OFFSET)
        C(CL_INVALID_EVENT_WAIT_LIST)
        C(CL_INVALID_EVENT)
        C(CL_INVALID_OPERATION)
        C(CL_INVALID_BUFFER_SIZE)
        C(CL_INVALID_GLOBAL_WORK_SIZE)
        C(CL_PLATFORM_NOT_FOUND_KHR)
#undef C
    default:
        return "unknown OpenCL error";
    }
}

int sl_cl_check(cl_int st, const char *what)
{
    if (st == CL_SUCCESS)
        return 0;
    SL_ERROR("device", "%s failed: %s (%d)", what, sl_cl_strerror(st), (int)st);
    return st == CL_OUT_OF_HOST_MEMORY ? SL_ENOMEM : SL_ECL;
}

/* Copies a string info value into buf (always terminated). */
static void dev_str(cl_device_id d, cl_device_info what, char *buf, size_t len)
{
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, len, buf, NULL) != CL_SUCCESS)
        snprintf(buf, len, "?");
    buf[len - 1] = '\0';
}

int sl_cl_has_extension(cl_device_id d, const char *ext)
{
    size_t n = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &n) != CL_SUCCESS || n == 0)
        return 0;
    char *s = malloc(n + 1);
    if (!s)
        return 0;
    int found = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, n, s, NULL) == CL_SUCCESS) {
        s[n] = '\0';
        size_t el = strlen(ext);
        for (char *p = s; !found && (p = strstr(p, ext)) != NULL; p += el)
            found = (p == s || p[-1] == ' ') && (p[el] == ' ' || p[el] == '\0');
    }
    free(s);
    return found;
}

static void fill_info(cl_platform_id plat, cl_device_id d, sl_device_info *in)
{
    memset(in, 0, sizeof *in);
    if (clGetPlatformInfo(plat, CL_PLATFORM_NAME, sizeof in->platform, in->platform, NULL))
        snprintf(in->platform, sizeof in->platform, "?");
    in->platform[sizeof in->platform - 1] = '\0';
    dev_str(d, CL_DEVICE_NAME, in->name, sizeof in->name);
    dev_str(d, CL_DEVICE_VERSION, in->version, sizeof in->version);
    dev_str(d, CL_DEVICE_OPENCL_C_VERSION, in->c_version, sizeof in->c_version);
    dev_str(d, CL_DRIVER_VERSION, in->driver, sizeof in->driver);
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof in->type, &in->type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof in->compute_units, &in->compute_units,
                    NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof in->global_mem, &in->global_mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof in->max_alloc, &in->max_alloc, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof in->local_mem, &in->local_mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof in->max_wg, &in->max_wg, NULL);
    cl_bool unified = CL_FALSE;
    clGetDeviceInfo(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
    in->unified_memory = unified == CL_TRUE;
    in->fp64 = sl_cl_has_extension(d, "cl_khr_fp64");
    in->int64_atomics = sl_cl_has_extension(d, "cl_khr_int64_base_atomics");
}

int sl_device_name_matches(const char *name, const char *match)
{
    size_t n = strlen(match);
    for (; *name; name++) {
        size_t i = 0;
        while (i < n && name[i] &&
               tolower((unsigned char)name[i]) == tolower((unsigned char)match[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

/* Lists platforms (up to 16) and their devices (up to 64 each) through a callback. Returns the
 * number of devices seen, or a negative sl_err. */
typedef int (*visit_fn)(void *ud, cl_platform_id p, cl_device_id d, const sl_device_info *in);

static int visit_devices(visit_fn fn, void *ud)
{
    cl_platform_id plats[16];
    cl_uint np = 0;
    cl_int st = clGetPlatformIDs(16, plats, &np);
    if (st == CL_PLATFORM_NOT_FOUND_KHR || np == 0)
        return SL_ENODEV;
    if (st != CL_SUCCESS)
        return sl_cl_check(st, "clGetPlatformIDs");
    int seen = 0;
    for (cl_uint i = 0; i < np && i < 16; i++) {
        cl_device_id devs[64];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[i], CL_DEVICE_TYPE_ALL, 64, devs, &nd) != CL_SUCCESS)
            continue;
        for (cl_uint j = 0; j < nd && j < 64; j++) {
            sl_device_info in;
            fill_info(plats[i], devs[j], &in);
            seen++;
            if (fn(ud, plats[i], devs[j], &in))
                return seen;
        }
    }
    return seen;
}

struct pick {
    const char *match;
    unsigned skip; /* matching devices to pass over before the one picked */
    unsigned matched;
    cl_platform_id plat;
    cl_device_id dev;
    int found;
    char *list;
    size_t listlen, used;
};

static int pick_visit(void *ud, cl_platform_id p, cl_device_id d, const sl_device_info *in)
{
    struct pick *pk = ud;
    char full[300];
    snprintf(full, sizeof full, "%s / %s", in->platform, in->name);
    if (pk->used < pk->listlen) {
        int w = snprintf(pk->list + pk->used, pk->listlen - pk->used, "\n  %s", full);
        if (w > 0)
            pk->used += (size_t)w;
    }
    if (sl_device_name_matches(full, pk->match) && pk->matched++ == pk->skip) {
        pk->plat = p;
        pk->dev = d;
        pk->found = 1;
    }
    return 0;
}

int sl_device_open(const char *match, sl_device **out, char *msg, size_t msglen)
{
    return sl_device_open_nth(match, 0, out, msg, msglen);
}

int sl_device_count(const char *match)
{
    if (!match || !*match)
        match = getenv("SLUICE_DEVICE");
    if (!match)
        match = "";
    char list[16];
    struct pick pk = {.match = match, .skip = UINT32_MAX, .list = list, .listlen = 0};
    int rc = visit_devices(pick_visit, &pk);
    if (rc == SL_ENODEV)
        return 0;
    return rc < 0 ? rc : (int)pk.matched;
}

int sl_device_open_nth(const char *match, unsigned nth, sl_device **out, char *msg, size_t msglen)
{
    char list[2048] = "";
    *out = NULL;
    if (!match || !*match)
        match = getenv("SLUICE_DEVICE");
    if (!match)
        match = "";
    struct pick pk = {.match = match, .skip = nth, .list = list, .listlen = sizeof list};
    int rc = visit_devices(pick_visit, &pk);
    if (rc == SL_ENODEV) {
        snprintf(msg, msglen,
                 "no OpenCL platform found (is an ICD installed? on Debian: pocl-opencl-icd)");
        return SL_ENODEV;
    }
    if (rc == 0) {
        snprintf(msg, msglen, "OpenCL platforms exist but offer no device");
        return SL_ENODEV;
    }
    if (rc < 0) {
        snprintf(msg, msglen, "cannot list OpenCL platforms");
        return rc;
    }
    if (!pk.found && pk.matched) {
        snprintf(msg, msglen,
                 "%u OpenCL device%s match%s \"%s\", device %u was asked for; devices present:%s",
                 pk.matched, pk.matched == 1 ? "" : "s", pk.matched == 1 ? "es" : "", match, nth,
                 list);
        return SL_ENODEV;
    }
    if (!pk.found) {
        snprintf(msg, msglen, "no OpenCL device matches \"%s\"; devices present:%s", match, list);
        return SL_ENODEV;
    }
    sl_device *d = calloc(1, sizeof *d);
    if (!d)
        return SL_ENOMEM;
    pthread_mutex_init(&d->built_mu, NULL);
    d->platform = pk.plat;
    d->id = pk.dev;
    fill_info(pk.plat, pk.dev, &d->info);
    cl_int st;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)pk.plat, 0};
    d->ctx = clCreateContext(props, 1, &d->id, NULL, NULL, &st);
    if ((rc = sl_cl_check(st, "clCreateContext")))
        goto fail;
    d->queue = clCreateCommandQueue(d->ctx, d->id, CL_QUEUE_PROFILING_ENABLE, &st);
    if ((rc = sl_cl_check(st, "clCreateCommandQueue")))
        goto fail;
    SL_INFO("device", "opened %s / %s (%s)", d->info.platform, d->info.name, d->info.version);
    *out = d;
    return 0;
fail:
    snprintf(msg, msglen, "cannot set up %s / %s: %s", d->info.platform, d->info.name,
             sl_strerror(rc));
    sl_device_close(&d);
    return rc;
}

void sl_device_close(sl_device **dp)
{
    if (!dp || !*dp)
        return;
    sl_device *d = *dp;
    *dp = NULL;
    if (d->wedged) {
        SL_INFO("device",
                "%s: not released: commands may still run on it (a wait timed out or "
                "was cancelled)",
                d->info.name);
        pthread_mutex_lock(&kept_mu);
        d->next_kept = kept;
        kept = d;
        pthread_mutex_unlock(&kept_mu);
        return;
    }
    for (int i = 0; i < BUILT_KEPT; i++) {
        if (d->built[i].p)
            clReleaseProgram(d->built[i].p);
        free(d->built[i].text);
    }
    pthread_mutex_destroy(&d->built_mu);
    if (d->queue)
        clReleaseCommandQueue(d->queue);
    if (d->ctx)
        clReleaseContext(d->ctx);
    free(d);
}

void sl_device_set_wedged(sl_device *d)
{
    d->wedged = 1;
}

int sl_device_wedged(const sl_device *d)
{
    return d->wedged;
}

const sl_device_info *sl_device_get_info(const sl_device *d)
{
    return &d->info;
}

cl_context sl_device_context(const sl_device *d)
{
    return d->ctx;
}

cl_command_queue sl_device_queue(const sl_device *d)
{
    return d->queue;
}

cl_device_id sl_device_id(const sl_device *d)
{
    return d->id;
}

static const char *type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    if (t & CL_DEVICE_TYPE_CPU)
        return "CPU";
    return "other";
}

struct list_ctx {
    FILE *out;
    int index;
};

static int list_visit(void *ud, cl_platform_id p, cl_device_id d, const sl_device_info *in)
{
    (void)p;
    (void)d;
    struct list_ctx *lc = ud;
    FILE *o = lc->out;
    fprintf(o, "[%d] %s / %s\n", lc->index++, in->platform, in->name);
    fprintf(o, "    type %s, %s, driver %s, %s\n", type_name(in->type), in->version, in->driver,
            in->c_version);
    fprintf(o, "    compute units %u, max work-group %zu\n", in->compute_units, in->max_wg);
    fprintf(o, "    global memory %llu MiB, max allocation %llu MiB, local memory %llu KiB\n",
            (unsigned long long)(in->global_mem >> 20), (unsigned long long)(in->max_alloc >> 20),
            (unsigned long long)(in->local_mem >> 10));
    fprintf(o, "    host-unified memory %s, fp64 %s, 64-bit atomics %s\n",
            in->unified_memory ? "yes" : "no", in->fp64 ? "yes" : "no",
            in->int64_atomics ? "yes" : "no");
    return 0;
}

int sl_device_list(FILE *out)
{
    struct list_ctx lc = {out, 0};
    int rc = visit_devices(list_visit, &lc);
    return rc < 0 ? rc : (rc == 0 ? SL_ENODEV : 0);
}

static char *build_log(sl_device *d, cl_program prog);

/* Whether the sources include nothing but sluice.h, whose directory (an -I option, part of the
 * key) names its content's hash (kernsrc.c): a program that includes any other file is not kept,
 * since that file may change between two builds of the same text. */
static int keepable(const sl_source *srcs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (const char *p = srcs[i].text; (p = strstr(p, "#include")) != NULL;) {
            p += strlen("#include");
            while (*p == ' ' || *p == '\t')
                p++;
            if (strncmp(p, "\"sluice.h\"", 10) != 0 && strncmp(p, "<sluice.h>", 10) != 0)
                return 0;
        }
    return 1;
}

/* The kept program built from key (len bytes), with a reference for the caller; NULL. */
static cl_program built_get(sl_device *d, const char *key, size_t len)
{
    cl_program p = NULL;
    pthread_mutex_lock(&d->built_mu);
    d->builds++;
    for (int i = 0; i < BUILT_KEPT; i++) {
        struct built *b = &d->built[i];
        if (b->p && b->len == len && memcmp(b->text, key, len) == 0) {
            if (clRetainProgram(b->p) == CL_SUCCESS) {
                p = b->p;
                b->used = d->builds;
            }
            break;
        }
    }
    pthread_mutex_unlock(&d->built_mu);
    return p;
}

/* Keeps prog (built from key) in place of the least recently used; nothing when out of memory. */
static void built_put(sl_device *d, const char *key, size_t len, cl_program prog)
{
    char *copy = malloc(len);
    if (!copy)
        return;
    memcpy(copy, key, len);
    pthread_mutex_lock(&d->built_mu);
    struct built *v = &d->built[0];
    for (int i = 1; i < BUILT_KEPT && v->p; i++)
        if (!d->built[i].p || d->built[i].used < v->used)
            v = &d->built[i];
    if (v->p)
        clReleaseProgram(v->p);
    free(v->text);
    if (clRetainProgram(prog) == CL_SUCCESS) {
        *v = (struct built){.text = copy, .len = len, .p = prog, .used = d->builds};
    } else {
        *v = (struct built){0};
        free(copy);
    }
    pthread_mutex_unlock(&d->built_mu);
}

int sl_device_build(sl_device *d, const sl_source *srcs, size_t n, const char *options,
                    cl_program *out, char **log)
{
    int rc = 0;
    char *text = NULL;
    cl_program prog = NULL;
    size_t total = 1;
    *out = NULL;
    if (log)
        *log = NULL;
    if (!options)
        options = "";
    for (size_t i = 0; i < n; i++)
        total += strlen(srcs[i].text) + strlen(srcs[i].name) + 32;
    total += strlen(options) + 1;
    text = malloc(total);
    if (!text)
        return SL_ENOMEM;
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(text + used, total - used, "#line 1 \"%s\"\n%s\n", srcs[i].name,
                                 srcs[i].text);
    /* the cache's key: the text, its '\0', the options and theirs */
    size_t keylen =
        used + 1 + (size_t)snprintf(text + used + 1, total - used - 1, "%s", options) + 1;
    int keep = keepable(srcs, n);
    if (keep && (*out = built_get(d, text, keylen)) != NULL) {
        free(text);
        return 0;
    }
    const char *ptext = text;
    cl_int st;
    prog = clCreateProgramWithSource(d->ctx, 1, &ptext, NULL, &st);
    if ((rc = sl_cl_check(st, "clCreateProgramWithSource")))
        goto out;
    st = clBuildProgram(prog, 1, &d->id, options, NULL, NULL);
    if (st != CL_SUCCESS) {
        char *blog = build_log(d, prog);
        SL_ERROR("device", "program build failed on %s: %s", d->info.name, sl_cl_strerror(st));
        if (log)
            *log = blog;
        else
            free(blog);
        rc = st == CL_BUILD_PROGRAM_FAILURE || st == CL_INVALID_BUILD_OPTIONS ? SL_EBUILD : SL_ECL;
        goto out;
    }
    if (keep)
        built_put(d, text, keylen, prog);
    *out = prog;
    prog = NULL;
out:
    if (prog)
        clReleaseProgram(prog);
    free(text);
    return rc;
}

/* Returns the program's build log for the device (malloc'd), or NULL. */
static char *build_log(sl_device *d, cl_program prog)
{
    size_t ln = 0;
    char *blog = NULL;
    if (clGetProgramBuildInfo(prog, d->id, CL_PROGRAM_BUILD_LOG, 0, NULL, &ln) != CL_SUCCESS ||
        (blog = malloc(ln + 1)) == NULL)
        return NULL;
    if (clGetProgramBuildInfo(prog, d->id, CL_PROGRAM_BUILD_LOG, ln, blog, NULL) != CL_SUCCESS)
        ln = 0;
    blog[ln] = '\0';
    return blog;
}

static char *dup_str(const char *m)
{
    char *c = malloc(strlen(m) + 1);
    if (c)
        strcpy(c, m);
    return c;
}

int sl_device_load_binary(sl_device *d, const unsigned char *bin, size_t len, const char *options,
                          cl_program *out, char **log)
{
    *out = NULL;
    if (log)
        *log = NULL;
    cl_int st, bin_st = CL_SUCCESS;
    cl_program prog = NULL;
    if (len == 0) {
        if (log)
            *log = dup_str("the binary is empty");
        return SL_EBUILD;
    }
    prog = clCreateProgramWithBinary(d->ctx, 1, &d->id, &len, &bin, &bin_st, &st);
    if (st == CL_INVALID_BINARY || bin_st == CL_INVALID_BINARY) {
        char m[512];
        snprintf(m, sizeof m,
                 "the binary is not a program for %s (%s): corrupt, or built for another device",
                 d->info.name, d->info.platform);
        if (log)
            *log = dup_str(m);
        if (prog)
            clReleaseProgram(prog);
        return SL_EBUILD;
    }
    if (st != CL_SUCCESS)
        return sl_cl_check(st, "clCreateProgramWithBinary");
    st = clBuildProgram(prog, 1, &d->id, options ? options : "", NULL, NULL);
    if (st != CL_SUCCESS) {
        char *blog = build_log(d, prog);
        if (log) {
            *log = blog ? blog : dup_str(sl_cl_strerror(st));
            blog = NULL;
        }
        free(blog);
        clReleaseProgram(prog);
        return st == CL_BUILD_PROGRAM_FAILURE || st == CL_INVALID_BINARY ? SL_EBUILD : SL_ECL;
    }
    *out = prog;
    return 0;
}

int sl_device_program_binary(sl_device *d, cl_program prog, unsigned char **bin, size_t *len)
{
    (void)d;
    *bin = NULL;
    *len = 0;
    size_t n = 0;
    cl_int st = clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof n, &n, NULL);
    if (st != CL_SUCCESS)
        return sl_cl_check(st, "clGetProgramInfo(CL_PROGRAM_BINARY_SIZES)");
    unsigned char *b = malloc(n ? n : 1);
    if (!b)
        return SL_ENOMEM;
    st = clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof b, &b, NULL);
    if (st != CL_SUCCESS) {
        free(b);
        return sl_cl_check(st, "clGetProgramInfo(CL_PROGRAM_BINARIES)");
    }
    *bin = b;
    *len = n;
    return 0;
}
