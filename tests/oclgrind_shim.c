/* A shim preloaded by tests/oclgrind.sh under Oclgrind (not part of sluice): works around two
 * limits of Oclgrind 21.10, as that script's header explains. It turns clEnqueueFillBuffer into
 * a blocking clEnqueueWriteBuffer of the repeated pattern (Oclgrind's uninitialized-value
 * checker loses track of filled buffers), and with SL_SHIM_DEVICE_TYPE=gpu reports the device
 * as a GPU so that the engine's grouped dispatch runs under the simulator too. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

CL_API_ENTRY cl_int CL_API_CALL clEnqueueFillBuffer(cl_command_queue q, cl_mem buf,
                                                    const void *pattern, size_t psize,
                                                    size_t offset, size_t size, cl_uint nwait,
                                                    const cl_event *wait, cl_event *ev)
{
    if (!pattern || psize == 0 || size % psize != 0)
        return CL_INVALID_VALUE;
    unsigned char *h = malloc(size ? size : 1);
    if (!h)
        return CL_OUT_OF_HOST_MEMORY;
    for (size_t i = 0; i < size; i += psize)
        memcpy(h + i, pattern, psize);
    cl_int st = clEnqueueWriteBuffer(q, buf, CL_TRUE, offset, size, h, nwait, wait, ev);
    free(h);
    return st;
}

typedef cl_int (*get_info_fn)(cl_device_id, cl_device_info, size_t, void *, size_t *);

CL_API_ENTRY cl_int CL_API_CALL clGetDeviceInfo(cl_device_id d, cl_device_info what, size_t len,
                                                void *val, size_t *ret)
{
    get_info_fn real = (get_info_fn)dlsym(RTLD_NEXT, "clGetDeviceInfo");
    if (!real)
        return CL_INVALID_DEVICE;
    cl_int st = real(d, what, len, val, ret);
    const char *t = getenv("SL_SHIM_DEVICE_TYPE");
    if (st == CL_SUCCESS && what == CL_DEVICE_TYPE && val && len >= sizeof(cl_device_type) && t &&
        strcmp(t, "gpu") == 0)
        *(cl_device_type *)val = CL_DEVICE_TYPE_GPU;
    return st;
}
