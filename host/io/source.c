/* Source and keyless filter; see source.h. */
#include "source.h"

#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "generator.h"

struct sl_source {
    sl_gen *gen;
    sl_reader *rd;
    uint32_t mask;
    int done;
    sl_source_stats st;
};

int sl_source_new(const sl_topology *t, FILE *in, sl_addict *dict, sl_bad_fn on_bad, void *bad_ud,
                  sl_source **out, char *msg, size_t msglen)
{
    int rc = 0;
    sl_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    s->mask = t->filter_types;
    if (t->source.kind == SL_SRC_GENERATOR) {
        s->gen = sl_gen_new(&t->source.gen, dict, &rc);
        if (!s->gen) {
            snprintf(msg, msglen, "invalid generator settings: %s", sl_strerror(rc));
            free(s);
            return rc;
        }
    } else {
        s->rd = sl_reader_new(in, t->source.format, dict, 0);
        if (!s->rd) {
            snprintf(msg, msglen, "out of memory");
            free(s);
            return SL_ENOMEM;
        }
        sl_reader_on_bad(s->rd, on_bad, bad_ud);
    }
    *out = s;
    return 0;
}

long sl_source_read(sl_source *s, sl_rec *buf, size_t cap)
{
    long n;
    if (s->done)
        return 0;
    if (s->gen) {
        n = (long)sl_gen_next(s->gen, buf, cap);
        s->st.generated += (uint64_t)n;
    } else {
        n = sl_reader_read(s->rd, buf, cap);
    }
    if (n <= 0) {
        if (n == 0 && (s->gen || sl_reader_at_end(s->rd)))
            s->done = 1;
        return n;
    }
    const uint32_t all = (1u << SL_EV_NTYPES) - 1;
    size_t k = (size_t)n;
    if ((s->mask & all) != all) {
        k = 0;
        for (long i = 0; i < n; i++)
            if (s->mask & (1u << (buf[i].type & 3)))
                buf[k++] = buf[i];
        s->st.filtered += (uint64_t)n - k;
    }
    s->st.passed += k;
    return (long)k;
}

int sl_source_done(const sl_source *s)
{
    return s->done;
}

void sl_source_get_stats(const sl_source *s, sl_source_stats *st)
{
    *st = s->st;
    if (s->rd)
        sl_reader_stats(s->rd, &st->input);
}

void sl_source_destroy(sl_source **sp)
{
    if (!sp || !*sp)
        return;
    sl_gen_destroy(&(*sp)->gen);
    sl_reader_destroy(&(*sp)->rd);
    free(*sp);
    *sp = NULL;
}
