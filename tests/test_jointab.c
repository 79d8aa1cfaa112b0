/* Tests of host/jointab.c: the ad -> campaign join table. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addict.h"
#include "err.h"
#include "jointab.h"
#include "keyhash.h"

static char err[512];

static int parse(const char *text, sl_addict *dict, sl_jointab **t)
{
    err[0] = '\0';
    return sl_jointab_parse(text, strlen(text), "j.csv", dict, t, err, sizeof err);
}

static uint64_t key(const char *s)
{
    return sl_key_hash(s, strlen(s));
}

Test(jointab, pairs_header_quotes_and_lookups)
{
    sl_addict *dict = sl_addict_new();
    sl_jointab *t = NULL;
    const char *text = "ad_id,campaign_id\r\n"
                       "a1,c1\n"
                       "\n"
                       "\"a,2\",c1\n"
                       "a3,\"c \"\"x\"\"\"\n"
                       "a1,c1\n"; /* the same pair again is accepted */
    cr_assert_eq(parse(text, dict, &t), 0, "%s", err);
    cr_assert_eq(sl_jointab_count(t), 3);
    uint64_t c;
    cr_assert_eq(sl_jointab_get(t, key("a1"), &c), 1);
    cr_assert_eq(c, key("c1"));
    cr_assert_eq(sl_jointab_get(t, key("a,2"), &c), 1);
    cr_assert_eq(c, key("c1"));
    cr_assert_eq(sl_jointab_get(t, key("a3"), &c), 1);
    cr_assert_eq(c, key("c \"x\""));
    cr_assert_eq(sl_jointab_get(t, key("ad_id"), &c), 0, "the header is not a pair");
    cr_assert_eq(sl_jointab_get(t, key("a4"), &c), 0);
    /* Campaign ids were interned for the sink. */
    cr_assert_str_eq(sl_addict_get(dict, key("c \"x\""), NULL), "c \"x\"");
    cr_assert_eq(sl_addict_count(dict), 2);
    sl_jointab_destroy(&t);
    cr_assert_null(t);
    sl_addict_destroy(&dict);
}

Test(jointab, many_pairs_against_a_reference)
{
    /* 50,000 pairs: every lookup agrees with the arithmetic that wrote the file. */
    size_t cap = 50000 * 40, o = 0;
    char *text = malloc(cap);
    for (unsigned i = 0; i < 50000; i++)
        o += (size_t)snprintf(text + o, cap - o, "ad-%u,camp-%u\n", i, (i * 7919u) % 613u);
    sl_jointab *t = NULL;
    cr_assert_eq(sl_jointab_parse(text, o, "big.csv", NULL, &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sl_jointab_count(t), 50000);
    for (unsigned i = 0; i < 50000; i += 7) {
        char a[32], c[32];
        snprintf(a, sizeof a, "ad-%u", i);
        snprintf(c, sizeof c, "camp-%u", (i * 7919u) % 613u);
        uint64_t got;
        cr_assert_eq(sl_jointab_get(t, key(a), &got), 1, "%s", a);
        cr_assert_eq(got, key(c), "%s", a);
    }
    sl_jointab_destroy(&t);
    free(text);
}

Test(jointab, errors_name_line_and_column)
{
    sl_jointab *t = NULL;
    cr_assert_eq(parse("a1,c1\na2\n", NULL, &t), SL_EPARSE);
    cr_assert_str_eq(err, "j.csv:2:3: expected two fields ad_id,campaign_id, found one");
    cr_assert_eq(parse("a1,c1,x\n", NULL, &t), SL_EPARSE);
    cr_assert_str_eq(err, "j.csv:1:7: expected two fields ad_id,campaign_id (a third field or a "
                          "broken quote here)");
    cr_assert_eq(parse("a1,\"c1\n", NULL, &t), SL_EPARSE);
    cr_assert(strstr(err, "j.csv:1:"), "%s", err);
    cr_assert_eq(parse("a1,\n", NULL, &t), SL_EPARSE);
    cr_assert_str_eq(err, "j.csv:1:4: campaign_id must be 1..1024 bytes, got 0");
    cr_assert_eq(parse("a1,c1\nx,y\na1,c2\n", NULL, &t), SL_EPARSE);
    cr_assert_str_eq(err,
                     "j.csv:3:1: ad_id listed again with another campaign_id (first at line 1)");
    cr_assert_null(t);
}

Test(jointab, load_file_and_missing_file)
{
    const char *dir = getenv("SLUICE_TEST_TMP");
    char path[4096];
    snprintf(path, sizeof path, "%s/jointab-%d.csv", dir ? dir : "/tmp", (int)getpid());
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("ad_id,campaign_id\nx,y\n", f);
    fclose(f);
    sl_jointab *t = NULL;
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(sl_jointab_load(path, NULL, &t, &text, &len, err, sizeof err), 0, "%s", err);
    cr_assert_eq(len, strlen("ad_id,campaign_id\nx,y\n"));
    cr_assert_str_eq(text, "ad_id,campaign_id\nx,y\n");
    cr_assert_eq(sl_jointab_count(t), 1);
    free(text);
    sl_jointab_destroy(&t);
    unlink(path);
    cr_assert_eq(sl_jointab_load(path, NULL, &t, NULL, NULL, err, sizeof err), SL_EIO);
    cr_assert(strstr(err, "cannot open"), "%s", err);
}
