#include "kernsrc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "err.h"
#include "log.h"

const char *sl_kernel_source(const char *name)
{
    for (const struct sl_kernel_source *k = sl_kernel_sources; k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k->text;
    return NULL;
}

/* mkdir -p. Returns 0 or -1. */
static int make_dirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int bad = mkdir(path, 0755) != 0 && errno != EEXIST;
        *p = '/';
        if (bad)
            return -1;
    }
    return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Returns 1 when `path` holds exactly `text`. */
static int same_content(const char *path, const char *text)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = strlen(text), i = 0;
    int ch, same = 1;
    while ((ch = fgetc(f)) != EOF)
        if (i >= n || text[i++] != (char)ch) {
            same = 0;
            break;
        }
    fclose(f);
    return same && i == n;
}

static int try_dir(const char *dir, const char *text)
{
    char path[1024];
    if (strchr(dir, ' ') || snprintf(path, sizeof path, "%s/sluice.h", dir) >= (int)sizeof path)
        return -1;
    char d[1024];
    if (snprintf(d, sizeof d, "%s", dir) >= (int)sizeof d || make_dirs(d))
        return -1;
    if (same_content(path, text))
        return 0;
    char tmp[1100];
    if (snprintf(tmp, sizeof tmp, "%s/.sluice.h.XXXXXX", dir) >= (int)sizeof tmp)
        return -1;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int sl_kernel_include_dir(char *out, size_t len)
{
    const char *text = sl_kernel_source("sluice.h");
    if (!text)
        return SL_EIO;
    char cand[4][1024];
    int n = 0;
    const char *env = getenv("SLUICE_INCLUDE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    if (env && *env)
        snprintf(cand[n++], sizeof cand[0], "%s", env);
    /* The directory names the header's content hash: kernel caches (PoCL's) key on the source
     * and the build options but not on included headers, so a changed sluice.h must change the
     * -I option, or stale kernels built against the old layout would be reused. */
    char tag[64];
    snprintf(tag, sizeof tag, "%s-%016llx", SLUICE_VERSION,
             (unsigned long long)XXH3_64bits(text, strlen(text)));
    if (xdg && *xdg)
        snprintf(cand[n++], sizeof cand[0], "%s/sluice/%s/include", xdg, tag);
    if (home && *home)
        snprintf(cand[n++], sizeof cand[0], "%s/.cache/sluice/%s/include", home, tag);
    snprintf(cand[n++], sizeof cand[0], "/tmp/sluice-%u/%s/include", (unsigned)getuid(), tag);
    for (int i = 0; i < n; i++) {
        if (try_dir(cand[i], text) == 0) {
            if ((size_t)snprintf(out, len, "%s", cand[i]) >= len)
                return SL_ERANGE;
            return 0;
        }
        SL_DEBUG("kernel", "cannot use %s for sluice.h", cand[i]);
    }
    return SL_EIO;
}
