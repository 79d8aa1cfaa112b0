/* Whole-file reads; see textfile.h. */
#include "textfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"

int sl_read_file(const char *path, size_t max, char **text, size_t *len, char *msg, size_t msglen)
{
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        sl_set_msg(msg, msglen, "%s: cannot open: %s", path, strerror(errno));
        return SL_EIO;
    }
    /* A regular file's size is known: refused at once when over, else read in one go (one byte
     * of room more, so that the end is seen without growing). */
    size_t cap = 4096;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
        if ((uintmax_t)st.st_size > max) {
            sl_set_msg(msg, msglen, "%s: larger than %zu bytes", path, max);
            *len = (size_t)st.st_size;
            fclose(f);
            return SL_ERANGE;
        }
        if ((size_t)st.st_size >= cap)
            cap = (size_t)st.st_size + 1;
    }
    if (cap > max + 1)
        cap = max + 1;
    char *buf = NULL;
    size_t n = 0;
    int rc = 0;
    for (;;) {
        if (!buf || n == cap) {
            if (buf && cap > max) { /* max + 1 bytes read: over the limit */
                sl_set_msg(msg, msglen, "%s: larger than %zu bytes", path, max);
                rc = SL_ERANGE;
                break;
            }
            if (buf)
                cap = cap > (max + 1) / 2 ? max + 1 : cap * 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                sl_set_msg(msg, msglen, "%s: out of memory", path);
                rc = SL_ENOMEM;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                sl_set_msg(msg, msglen, "%s: cannot read: %s", path, strerror(errno));
                rc = SL_EIO;
            }
            break;
        }
    }
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}
