/* YSB input generator; see ysb.h. */
#include "ysb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "keyhash.h"

#define YSB_USERS 100
#define YSB_PAGES 100
#define UUID_LEN 36

static const char *const ad_types[] = {"banner", "modal", "sponsored-search", "mail", "mobile"};
static const char *const ev_types[] = {"view", "click", "purchase"};

/* splitmix64: a small seeded PRNG, the same on every machine. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((next_u64(s) >> 32) * n) >> 32);
}

/* A version-4-shaped UUID into out (UUID_LEN + 1 bytes). */
static void uuid(uint64_t *s, char *out)
{
    uint64_t a = next_u64(s), b = next_u64(s);
    snprintf(out, UUID_LEN + 1, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
             (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & UINT64_C(0xffffffffffff)));
}

void ysb_defaults(ysb_cfg *c, uint64_t events)
{
    c->events = events;
    c->campaigns = 100;
    c->ads_per_campaign = 10;
    c->seed = 42;
    c->start_ms = INT64_C(1767225600000);
    c->events_per_s = 1000;
}

void ysb_free(ysb_input *in)
{
    free(in->text);
    free(in->join_csv);
    free(in->ad_keys);
    free(in->campaign_keys);
    memset(in, 0, sizeof *in);
}

int ysb_generate(const ysb_cfg *c, ysb_input *in)
{
    memset(in, 0, sizeof *in);
    if (!c->campaigns || !c->ads_per_campaign || !c->events_per_s)
        return SL_EINVAL;
    uint64_t s = c->seed;
    size_t nads = (size_t)c->campaigns * c->ads_per_campaign;
    char(*users)[UUID_LEN + 1] = malloc(YSB_USERS * sizeof *users);
    char(*pages)[UUID_LEN + 1] = malloc(YSB_PAGES * sizeof *pages);
    char(*ads)[UUID_LEN + 1] = malloc(nads * sizeof *ads);
    char(*camps)[UUID_LEN + 1] = malloc(c->campaigns * sizeof *camps);
    /* the longest line: 3 uuids, "sponsored-search", "purchase", 20 digits, fixed text */
    const size_t line_max = 384;
    in->text = malloc(c->events * line_max + 1);
    in->join_csv = malloc((nads + 1) * (2 * UUID_LEN + 2) + 32);
    in->ad_keys = malloc(nads * sizeof *in->ad_keys);
    in->campaign_keys = malloc(nads * sizeof *in->campaign_keys);
    int rc = 0;
    if (!users || !pages || !ads || !camps || !in->text || !in->join_csv || !in->ad_keys ||
        !in->campaign_keys) {
        rc = SL_ENOMEM;
        goto out;
    }
    for (int i = 0; i < YSB_USERS; i++)
        uuid(&s, users[i]);
    for (int i = 0; i < YSB_PAGES; i++)
        uuid(&s, pages[i]);
    for (uint32_t i = 0; i < c->campaigns; i++)
        uuid(&s, camps[i]);
    size_t jl = (size_t)sprintf(in->join_csv, "ad_id,campaign_id\n");
    for (size_t i = 0; i < nads; i++) {
        size_t camp = i / c->ads_per_campaign;
        uuid(&s, ads[i]);
        jl += (size_t)sprintf(in->join_csv + jl, "%s,%s\n", ads[i], camps[camp]);
        in->ad_keys[i] = sl_key_hash(ads[i], UUID_LEN);
        in->campaign_keys[i] = sl_key_hash(camps[camp], UUID_LEN);
    }
    in->join_len = jl;
    in->njoin = nads;
    size_t off = 0;
    for (uint64_t i = 0; i < c->events; i++) {
        int64_t t = c->start_ms + (int64_t)(i * 1000 / c->events_per_s);
        int n = snprintf(in->text + off, line_max,
                         "{\"user_id\": \"%s\", \"page_id\": \"%s\", \"ad_id\": \"%s\", "
                         "\"ad_type\": \"%s\", \"event_type\": \"%s\", \"event_time\": "
                         "\"%lld\", \"ip_address\": \"1.2.3.4\"}\n",
                         users[below(&s, YSB_USERS)], pages[below(&s, YSB_PAGES)],
                         ads[below(&s, (uint32_t)nads)], ad_types[below(&s, 5)],
                         ev_types[below(&s, 3)], (long long)t);
        if (n < 0 || (size_t)n >= line_max) {
            rc = SL_EINVAL;
            goto out;
        }
        off += (size_t)n;
    }
    in->text[off] = '\0';
    in->len = off;
    in->events = c->events;
out:
    free(users);
    free(pages);
    free(ads);
    free(camps);
    if (rc)
        ysb_free(in);
    return rc;
}

int ysb_read_file(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return SL_EIO;
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap + 1);
    while (b) {
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        char *g = realloc(b, cap * 2 + 1);
        if (!g) {
            free(b);
            b = NULL;
            break;
        }
        b = g;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!b)
        return SL_ENOMEM;
    if (err) {
        free(b);
        return SL_EIO;
    }
    b[n] = '\0';
    *text = b;
    *len = n;
    return 0;
}

int ysb_load(const char *events_path, const char *join_path, ysb_input *in, char *msg,
             size_t msglen)
{
    memset(in, 0, sizeof *in);
    int rc = ysb_read_file(events_path, &in->text, &in->len);
    if (rc) {
        snprintf(msg, msglen, "%s: cannot read: %s", events_path, strerror(errno));
        return rc;
    }
    if ((rc = ysb_read_file(join_path, &in->join_csv, &in->join_len))) {
        snprintf(msg, msglen, "%s: cannot read: %s", join_path, strerror(errno));
        ysb_free(in);
        return rc;
    }
    for (size_t i = 0; i < in->len; i++)
        in->events += in->text[i] == '\n';
    if (in->len && in->text[in->len - 1] != '\n')
        in->events++;
    /* The pairs, for the baselines: plain "ad,campaign" lines (what ysb_save writes); the
     * sluice side parses the same text with sl_jointab, which also takes RFC 4180 quoting. */
    size_t cap = 1024;
    in->ad_keys = malloc(cap * sizeof *in->ad_keys);
    in->campaign_keys = malloc(cap * sizeof *in->campaign_keys);
    size_t line = 0;
    for (char *p = in->join_csv, *end = in->join_csv + in->join_len; p < end && rc == 0;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        if (l && p[l - 1] == '\r')
            l--;
        char *comma = memchr(p, ',', l);
        if (l == 0 || (line == 1 && l == 17 && memcmp(p, "ad_id,campaign_id", 17) == 0)) {
            p += (nl ? (size_t)(nl - p) : l) + 1;
            continue;
        }
        if (!comma || memchr(p, '"', l)) {
            snprintf(msg, msglen, "%s:%zu: expected ad_id,campaign_id without quotes", join_path,
                     line);
            rc = SL_EPARSE;
            break;
        }
        if (in->njoin == cap) {
            cap *= 2;
            uint64_t *a = realloc(in->ad_keys, cap * sizeof *a);
            if (a)
                in->ad_keys = a;
            uint64_t *b = realloc(in->campaign_keys, cap * sizeof *b);
            if (b)
                in->campaign_keys = b;
            if (!a || !b)
                rc = SL_ENOMEM;
        }
        if (!in->ad_keys || !in->campaign_keys)
            rc = SL_ENOMEM;
        if (rc)
            break;
        in->ad_keys[in->njoin] = sl_key_hash(p, (size_t)(comma - p));
        in->campaign_keys[in->njoin] = sl_key_hash(comma + 1, (size_t)(p + l - comma - 1));
        in->njoin++;
        p += (nl ? (size_t)(nl - p) : l) + 1;
    }
    if (rc == SL_ENOMEM)
        snprintf(msg, msglen, "out of memory");
    if (rc)
        ysb_free(in);
    return rc;
}

int ysb_save(const ysb_input *in, const char *events_path, const char *join_path)
{
    FILE *f = fopen(events_path, "wb");
    int ok = f && fwrite(in->text, 1, in->len, f) == in->len;
    if (f && fclose(f))
        ok = 0;
    FILE *j = ok ? fopen(join_path, "wb") : NULL;
    ok = ok && j && fwrite(in->join_csv, 1, in->join_len, j) == in->join_len;
    if (j && fclose(j))
        ok = 0;
    return ok ? 0 : SL_EIO;
}
