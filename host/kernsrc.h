/* OpenCL C sources of kernels/, embedded in the binary at build time (cmake/embed.cmake). */
#ifndef SL_KERNSRC_H
#define SL_KERNSRC_H

struct sl_kernel_source {
    const char *name; /* file name inside kernels/, e.g. "pe_ctr.cl" */
    const char *text; /* NUL-terminated source */
};

/* Terminated by an entry whose name is NULL. */
extern const struct sl_kernel_source sl_kernel_sources[];

/* Returns the embedded source named `name`, or NULL. Any thread. */
const char *sl_kernel_source(const char *name);

#endif
