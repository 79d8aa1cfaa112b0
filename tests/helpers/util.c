/* Small helpers for every test; see util.h. */
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *tu_read_stream(FILE *f, size_t *len)
{
    cr_assert_eq(fflush(f), 0);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_geq(n, 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    cr_assert_not_null(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    if (len)
        *len = (size_t)n;
    return s;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = tu_read_stream(f, len);
    fclose(f);
    return s;
}

void tu_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    cr_assert_eq(fclose(f), 0);
}

void tu_mkdtemp(char *dir, size_t size, const char *prefix)
{
    const char *base = getenv("SLUICE_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0777);
    snprintf(dir, size, "%s/%s-XXXXXX", base, prefix);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp in %s: %s", base, strerror(errno));
}

void tu_rm_rf(const char *dir)
{
    char cmd[700];
    cr_assert(strlen(dir) < sizeof cmd - 16, "%s: name too long", dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert(system(cmd) == 0, "rm -rf %s failed", dir);
}

void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

void tu_ad_id(unsigned i, unsigned kinds, char *out, size_t len)
{
    static const char *const pre[] = {"ad-", "ad-", "q\"", "caf\xc3\xa9-"};
    static const char *const post[] = {"", ",x", "\"", ""};
    unsigned k = i % kinds;
    if (k < 4)
        snprintf(out, len, "%s%u%s", pre[k], i, post[k]);
    else if (k == 4)
        snprintf(out, len, "%u", kinds == 6 ? i / 6 : i);
    else
        snprintf(out, len, "long-%0200u", i);
}

void tu_json_str(FILE *f, const char *s, int use_u)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fprintf(f, "\\%c", *s);
        } else if (use_u && (unsigned char)s[0] == 0xc3 && (unsigned char)s[1] == 0xa9) {
            fputs("\\u00e9", f);
            s++;
        } else {
            fputc(*s, f);
        }
    }
}

uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

double tu_unit(uint64_t *s)
{
    return (double)(splitmix64(s) >> 11) * 0x1.0p-53;
}

sl_engine_cfg tu_example_pe(const char *file, const char *name, uint64_t capacity, uint32_t batch)
{
    sl_engine_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    sl_pe_defaults(&cfg.pe, SL_PE_USER); /* no window: a user PE with one is windowed */
    cfg.pe.capacity = capacity;
    snprintf(cfg.pe.name, sizeof cfg.pe.name, "%s", name);
    int n = snprintf(cfg.pe.source, sizeof cfg.pe.source, "%s/examples/kernels/%s",
                     SLUICE_SOURCE_DIR, file);
    cr_assert(n > 0 && (size_t)n < sizeof cfg.pe.source);
    cfg.batch_events = batch;
    return cfg;
}

const char tu_spin_cl[] = "#include \"sluice.h\"\n"
                          "#define SL_PE_REDUCE\n"
                          "#define SL_COLUMNS \"n:int\"\n"
                          "typedef struct { ulong n; } sl_state;\n"
                          "void sl_init(__global sl_state *s) { s->n = 1; }\n"
                          "void sl_add(__global sl_state *s, const sl_record *r)\n"
                          "{\n"
                          "    while (s->n != 0xfffffffffffful + r->type)\n"
                          "        s->n = (s->n * 3 + 1) & 0xfff;\n"
                          "}\n"
                          "void sl_merge(__global sl_state *d, __global const sl_state *s)\n"
                          "{ d->n += s->n; }\n"
                          "void sl_emit(__global const sl_state *s, sl_out *o)\n"
                          "{ o->v[0] = (double)s->n; }\n";

const char *tu_shortest(double v, char *buf, size_t len)
{
    int p = 1;
    for (; p < 17; p++) {
        snprintf(buf, len, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    snprintf(buf, len, "%.*g", p < 15 ? 15 : p, v);
    return buf;
}
