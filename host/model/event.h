/* Event records on the hot path: the C11 twin of kernels/sluice.h. */
#ifndef SL_EVENT_H
#define SL_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "columns.h"

enum sl_evtype { SL_EV_VIEW = 0, SL_EV_CLICK = 1, SL_EV_PURCHASE = 2, SL_EV_OTHER = 3 };
#define SL_EV_NTYPES 4

/* Table key values reserved by the device hash table (kernels/sl_engine.cl): sl_key_hash never
 * produces them, and the window key mixer remaps them. */
#define SL_EMPTY_KEY UINT64_C(0)
#define SL_TOMBSTONE_KEY UINT64_C(0xffffffffffffffff)

/* One event: 32 bytes, the layout of `sl_record` in kernels/sluice.h. */
typedef struct sl_rec {
    uint64_t key;    /* sl_key_hash of the ad id */
    int64_t time_ms; /* event time, ms since the Unix epoch */
    float value;     /* numeric attribute; 0 when the input has none */
    uint32_t type;   /* enum sl_evtype */
    uint64_t user;   /* sl_key_hash of the user id; 0 when the input has none */
} sl_rec;

_Static_assert(sizeof(sl_rec) == 32, "sl_rec must match sl_record in kernels/sluice.h");
_Static_assert(offsetof(sl_rec, user) == 24, "sl_rec layout");
_Static_assert(offsetof(sl_rec, time_ms) == 8, "sl_rec layout");
_Static_assert(offsetof(sl_rec, value) == 16, "sl_rec layout");
_Static_assert(offsetof(sl_rec, type) == 20, "sl_rec layout");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sluice records are little-endian; a big-endian host needs byte swapping in the batcher"
#endif

/* Maps an event_type string to its type: "view" and "impression" are SL_EV_VIEW, "click",
 * "purchase"; anything else is SL_EV_OTHER. Case-sensitive. Any thread. */
enum sl_evtype sl_evtype_parse(const char *s, size_t len);

/* Returns "view", "click", "purchase" or "other". */
const char *sl_evtype_name(enum sl_evtype t);

/* One result row: the host twin of sl_row in kernels/sl_engine.cl. v[i] is the PE's output
 * column i (sl_engine_columns); window_start is 0 for PEs without a window. */
typedef struct sl_row {
    uint64_t key;
    int64_t window_start;
    double v[SL_COLUMNS_MAX];
} sl_row;
_Static_assert(sizeof(sl_row) == 80, "sl_row must match sl_row in kernels/sl_engine.cl");

enum sl_emit_kind {
    SL_EMIT_SNAPSHOT = 0, /* a trigger fired: the current state of every key (or open window) */
    SL_EMIT_WINDOWS = 1,  /* windows closed by the watermark: final rows for those windows */
    SL_EMIT_FINAL = 2     /* end of input: every remaining key (or window), final */
};

/* Receives the rows of one emission, in no particular order; `rows` is owned by the engine and
 * valid during the call. Returns 0, or a negative sl_err to stop the engine. */
typedef int (*sl_emit_fn)(void *ud, enum sl_emit_kind kind, const sl_row *rows, size_t n);

#endif
