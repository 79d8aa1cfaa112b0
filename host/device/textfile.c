/* Whole-file reads; see textfile.h. */
#include "textfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int sl_read_file(const char *path, char **text, size_t *len, char *msg, size_t msglen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, msglen, "cannot open %s: %s", path, strerror(errno));
        return SL_EIO;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    int rc = 0;
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (ferror(f)) {
            snprintf(msg, msglen, "reading %s failed: %s", path, strerror(errno));
            rc = SL_EIO;
            break;
        }
        if (feof(f))
            break;
        char *nb = cap < SL_TEXTFILE_MAX ? realloc(buf, cap * 2) : NULL;
        if (!nb) {
            snprintf(msg, msglen, "%s is larger than 64 MiB or memory ran out", path);
            rc = SL_ENOMEM;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (!buf) {
        snprintf(msg, msglen, "out of memory reading %s", path);
        return SL_ENOMEM;
    }
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}
