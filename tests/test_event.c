/* Tests of host/event.h: event_type strings to sl_evtype and back. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "event.h"

static enum sl_evtype parse(const char *s)
{
    return sl_evtype_parse(s, strlen(s));
}

Test(event, parse_known_types)
{
    cr_assert(eq(int, parse("view"), SL_EV_VIEW));
    cr_assert(eq(int, parse("impression"), SL_EV_VIEW));
    cr_assert(eq(int, parse("click"), SL_EV_CLICK));
    cr_assert(eq(int, parse("purchase"), SL_EV_PURCHASE));
}

/* Case-sensitive, whole-string matches only; anything else is OTHER. */
Test(event, parse_other)
{
    static const char *const others[] = {"View",  "VIEW",  "",          "clicks",
                                         "clic",  "other", "impressio", " view",
                                         "view ", "Click", "PURCHASE"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        cr_expect(eq(int, parse(others[i]), SL_EV_OTHER), "\"%s\"", others[i]);
}

/* The length bounds the match: a longer buffer's prefix is what is parsed, and bytes after len
 * are not looked at. */
Test(event, parse_uses_len)
{
    const char *s = "clicks";
    cr_assert(eq(int, sl_evtype_parse(s, 5), SL_EV_CLICK));
    cr_assert(eq(int, sl_evtype_parse(s, 6), SL_EV_OTHER));
    cr_assert(eq(int, sl_evtype_parse("viewX", 4), SL_EV_VIEW));
    cr_assert(eq(int, sl_evtype_parse("vie", 3), SL_EV_OTHER));
    const char nul[] = {'v', 'i', 'e', 'w', '\0'};
    cr_assert(eq(int, sl_evtype_parse(nul, 5), SL_EV_OTHER), "an embedded NUL is a byte");
}

Test(event, names)
{
    cr_assert_str_eq(sl_evtype_name(SL_EV_VIEW), "view");
    cr_assert_str_eq(sl_evtype_name(SL_EV_CLICK), "click");
    cr_assert_str_eq(sl_evtype_name(SL_EV_PURCHASE), "purchase");
    cr_assert_str_eq(sl_evtype_name(SL_EV_OTHER), "other");
    cr_assert_str_eq(sl_evtype_name((enum sl_evtype)SL_EV_NTYPES), "other");
    cr_assert_str_eq(sl_evtype_name((enum sl_evtype)1000), "other");
}

/* Every name parses back to its type ("other" is not a known name, so it is OTHER). */
Test(event, name_round_trip)
{
    for (int t = 0; t < SL_EV_NTYPES; t++)
        cr_expect(eq(int, parse(sl_evtype_name((enum sl_evtype)t)), t), "type %d", t);
}
