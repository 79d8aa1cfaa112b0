/* gen_events: writes the built-in generator's events as YSB-shaped NDJSON or CSV on stdout, so
 * that end-to-end figures (`sluice ctr --input FILE`) are reproducible from a seed.
 *
 * usage: gen_events [--events N] [--keys K] [--skew S] [--click-rate P] [--seed X]
 *                   [--format ndjson|csv] */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addict.h"
#include "err.h"
#include "generator.h"

int main(int argc, char **argv)
{
    sl_gen_cfg g;
    sl_gen_defaults(&g);
    int csv = 0, c;
    static const struct option opts[] = {
        {"events", required_argument, NULL, 'e'}, {"keys", required_argument, NULL, 'k'},
        {"skew", required_argument, NULL, 's'},   {"click-rate", required_argument, NULL, 'c'},
        {"seed", required_argument, NULL, 'x'},   {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    while ((c = getopt_long(argc, argv, "e:k:s:c:x:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            g.events = strtoull(optarg, NULL, 10);
            break;
        case 'k':
            g.keys = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 's':
            g.skew = strtod(optarg, NULL);
            break;
        case 'c':
            g.click_rate = strtod(optarg, NULL);
            break;
        case 'x':
            g.seed = strtoull(optarg, NULL, 10);
            break;
        case 'f':
            csv = strcmp(optarg, "csv") == 0;
            break;
        default:
            fprintf(stderr, "usage: gen_events [--events N] [--keys K] [--skew S] "
                            "[--click-rate P] [--seed X] [--format ndjson|csv]\n");
            return c == 'h' ? 0 : 2;
        }
    }
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
