/* libFuzzer harness: the readers by a declared schema (fuzz_reader.h). The first byte picks the
 * format (NDJSON or CSV with ',' or a tab), the time format and the type rule; the rest is the
 * event file. The schema has a composite key, typed fields, an optional value and, in half the
 * cases, predicates that give two records for one line; four of its fields (an int64, an
 * optional double, an optional bool and the time) are attributes, compared between the two
 * readers. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_reader.h"
#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void add(sl_schema *s, const char *name, int type, int optional)
{
    sl_schema_field *f = &s->field[s->nfields++];
    snprintf(f->name, sizeof f->name, "%s", name);
    f->type = type;
    f->optional = optional;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static sl_schema s;
    const unsigned pick = data[0];
    memset(&s, 0, sizeof s);
    s.declared = 1;
    add(&s, "q", SL_FT_STRING, 0);
    add(&s, "ad", SL_FT_STRING, 0);
    add(&s, "t", SL_FT_TIME, 0);
    add(&s, "click", SL_FT_INT64, 0);
    add(&s, "bid", SL_FT_DOUBLE, 1);
    add(&s, "ok", SL_FT_BOOL, 1);
    add(&s, "u", SL_FT_STRING, 1);
    s.nkey = 2;
    s.key[0] = 0;
    s.key[1] = 1;
    s.time_field = 2;
    static const char *const patterns[] = {"%y%m%d%H", "%Y-%m-%d %H:%M:%S.%f", "%s", "%Y%j"};
    s.time_format = (int32_t)((pick >> 1) & 3);
    snprintf(s.time_pattern, sizeof s.time_pattern, "%s", patterns[(pick >> 5) & 3]);
    s.value_field = 4;
    s.user_field = 6;
    s.nattrs = 4;
    s.attr[0] = 3;
    s.attr[1] = 4;
    s.attr[2] = 5;
    s.attr[3] = 2;
    s.type_nocase = (pick >> 4) & 1;
    if (pick & 8) {
        s.type_mode = SL_TYPE_PREDICATES;
        s.pred[0] = (sl_type_pred){.on = 1, .all = 1};
        s.pred[1] = (sl_type_pred){.on = 1, .field = 3, .equals = "1"};
        s.pred[2] = (sl_type_pred){.on = 1, .field = 5, .equals = "true"};
    } else {
        s.type_mode = SL_TYPE_FIELD;
        s.type_field = 1;
        s.nmap = 1;
        snprintf(s.map[0].text, sizeof s.map[0].text, "Clk");
        s.map[0].type = 1;
    }
    const int csv = pick & 1;
    s.delimiter = csv && (pick & 0x80) ? '\t' : ',';
    char err[256];
    FUZZ_REQUIRE(sl_schema_check(&s, err, sizeof err) == 0);
    fuzz_schema = &s;
    return fuzz_reader_one(data + 1, size - 1, csv ? SL_FMT_CSV : SL_FMT_NDJSON);
}
