/* The web UI's files (host/obs/ui/), embedded in the binary at build time (cmake/embed.cmake). */
#ifndef SL_WEBFILES_H
#define SL_WEBFILES_H

struct sl_web_file {
    const char *name; /* file name inside host/obs/ui/, e.g. "index.html" */
    const char *text; /* NUL-terminated contents */
};

/* Terminated by an entry whose name is NULL. */
extern const struct sl_web_file sl_web_files[];

#endif
