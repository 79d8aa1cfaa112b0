/* gen_events: writes the built-in generator's events as YSB-shaped NDJSON or CSV on stdout, so
 * that end-to-end figures (`sluice ctr --input FILE`) are reproducible from a seed.
 *
 * usage: gen_events [--events N] [--keys K] [--skew S] [--click-rate P] [--seed X]
 *                   [--format ndjson|csv] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addict.h"
#include "common.h"
#include "err.h"
#include "generator.h"

static const char usage[] =
    "usage: gen_events [--events N] [--keys K] [--skew S] [--click-rate P] [--seed X] "
    "[--format ndjson|csv]\n";

int main(int argc, char **argv)
{
    sl_gen_cfg g;
    sl_gen_defaults(&g);
    const char *format = "ndjson";
    const bc_opt opts[] = {
        {"click-rate", 'c', BC_DBL, &g.click_rate, 0, 0},
        {"seed", 'x', BC_U64, &g.seed, 0, 0},
        {"format", 'f', BC_STR, &format, 0, 0},
    };
    int prc = bc_parse_args(argc, argv, &g, opts, sizeof opts / sizeof *opts, "gen_events", usage);
    if (prc >= 0)
        return prc;
    int csv = strcmp(format, "csv") == 0;
    int rc;
    sl_addict *dict = sl_addict_new();
    sl_gen *gen = dict ? sl_gen_new(&g, dict, &rc) : NULL;
    sl_rec *buf = malloc(65536 * sizeof *buf);
    /* the generator's user ids, so that each record's user key prints as its id */
    sl_addict *users = sl_addict_new();
    for (uint32_t u = 0; users && u < g.users; u++) {
        char uid[24];
        uint64_t k;
        int len = snprintf(uid, sizeof uid, SL_GEN_USER_FMT, u);
        if (sl_addict_intern(users, uid, (size_t)len, &k))
            sl_addict_destroy(&users);
    }
    if (!gen || !buf || !users) {
        fprintf(stderr, "gen_events: %s\n", sl_strerror(dict ? rc : SL_ENOMEM));
        return 1;
    }
    if (csv)
        puts("ad_id,event_type,event_time,value,user_id");
    uint64_t n, i = 0;
    while ((n = sl_gen_next(gen, buf, 65536)) > 0) {
        for (uint64_t j = 0; j < n; j++, i++) {
            const sl_rec *r = &buf[j];
            const char *id = sl_addict_get(dict, r->key, NULL);
            const char *type = sl_evtype_name((enum sl_evtype)r->type);
            const char *user = sl_addict_get(users, r->user, NULL);
            if (csv)
                printf("%s,%s,%" PRId64 ",%.2f,%s\n", id, type, r->time_ms, (double)r->value, user);
            else
                printf("{\"user_id\": \"%s\", \"page_id\": \"p%04" PRIu64
                       "\", \"ad_id\": \"%s\", \"ad_type\": \"banner\", \"event_type\": \"%s\", "
                       "\"event_time\": \"%" PRId64 "\", \"ip_address\": \"10.0.%u.%u\"}\n",
                       user, i % 9973, id, type, r->time_ms, (unsigned)(i >> 8) & 255,
                       (unsigned)i & 255);
        }
    }
    free(buf);
    sl_gen_destroy(&gen);
    sl_addict_destroy(&dict);
    sl_addict_destroy(&users);
    return ferror(stdout) ? 1 : 0;
}
