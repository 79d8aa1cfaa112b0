#include "kernsrc.h"

#include <string.h>

const char *sl_kernel_source(const char *name)
{
    for (const struct sl_kernel_source *k = sl_kernel_sources; k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k->text;
    return NULL;
}
