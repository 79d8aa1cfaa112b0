/* The table of PE kinds; see pes.h. */
#include "pes.h"

#include <stdio.h>
#include <string.h>

/* The built-in rows come from kernels/pes.def; user PEs are the last row. */
static const sl_pe_def defs[] = {
#define SL_PE_ROW(id, name, kernel, defines, flags, columns, ...)                                  \
    [SL_PE_##id] = {SL_PE_##id, name, kernel, defines, flags, columns},
#include "pes.def"
#undef SL_PE_ROW
    [SL_PE_USER] = {SL_PE_USER, "user", NULL, "", SL_PEF_WINDOW_OPT | SL_PEF_USER, NULL},
};
_Static_assert(sizeof defs / sizeof defs[0] == SL_PE_NKINDS + 1,
               "one row per kind of enum sl_pe_kind");

const sl_pe_def *sl_pe_def_of(enum sl_pe_kind k)
{
    return (unsigned)k <= SL_PE_NKINDS && defs[k].name ? &defs[k] : NULL;
}

const sl_pe_def *sl_pe_def_named(const char *name)
{
    for (size_t i = 0; name && i < sizeof defs / sizeof defs[0]; i++)
        if (defs[i].name && strcmp(defs[i].name, name) == 0)
            return &defs[i];
    return NULL;
}

int sl_pe_windowed(const sl_pe_cfg *pe)
{
    const sl_pe_def *d = sl_pe_def_of(pe->kind);
    if (!d)
        return 0;
    return (d->flags & SL_PEF_WINDOW) || ((d->flags & SL_PEF_WINDOW_OPT) && pe->window_ms > 0);
}

size_t sl_pe_kinds_with(unsigned flags, char *buf, size_t len)
{
    const char *names[sizeof defs / sizeof defs[0]];
    size_t n = 0, used = 0;
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        if (defs[i].name && (defs[i].flags & flags))
            names[n++] = defs[i].name;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0, "%s%s", sep,
                         names[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    return used;
}
