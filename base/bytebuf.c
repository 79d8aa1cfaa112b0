/* A growable byte buffer; see bytebuf.h. */
#include "bytebuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

unsigned char *sl_bytebuf_reserve(sl_bytebuf *b, size_t more)
{
    if (more > SIZE_MAX - b->len)
        return NULL;
    size_t need = b->len + more;
    if (need > b->cap) {
        size_t cap = b->cap + b->cap / 2;
        if (cap < need)
            cap = need;
        if (cap < 4096)
            cap = 4096;
        unsigned char *p = realloc(b->p, cap);
        if (!p)
            return NULL;
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

int sl_bytebuf_append(sl_bytebuf *b, const void *data, size_t n)
{
    unsigned char *at = sl_bytebuf_reserve(b, n);
    if (!at)
        return SL_ENOMEM;
    if (n)
        memcpy(at, data, n);
    b->len += n;
    return 0;
}

void sl_bytebuf_free(sl_bytebuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
