/* OpenCL C sources of kernels/, embedded in the binary at build time (cmake/embed.cmake). */
#ifndef SL_KERNSRC_H
#define SL_KERNSRC_H

#include <stddef.h>

struct sl_kernel_source {
    const char *name; /* file name inside kernels/, e.g. "pe_ctr.cl" */
    const char *text; /* NUL-terminated source */
};

/* Terminated by an entry whose name is NULL. */
extern const struct sl_kernel_source sl_kernel_sources[];

/* Returns the embedded source named `name`, or NULL. Any thread. */
const char *sl_kernel_source(const char *name);

/* Writes the directory holding the embedded sluice.h (the kernel ABI header that PE sources
 * #include) into out, creating it and the header when needed: $SLUICE_INCLUDE_DIR if set, else
 * $XDG_CACHE_HOME/sluice/TAG/include, ~/.cache/sluice/TAG/include, or
 * /tmp/sluice-UID/TAG/include (TAG = version and a hash of the header, so that kernel caches
 * never reuse programs built against another sluice.h), the first that works and holds no
 * space. With $SLUICE_INCLUDE_DIR the caller owns that guarantee. The header is
 * replaced atomically, so concurrent processes are safe. Returns 0, SL_EIO or SL_ERANGE. */
int sl_kernel_include_dir(char *out, size_t len);

#endif
