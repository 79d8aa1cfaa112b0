/* Event records on the hot path: the C11 twin of kernels/sluice.h. */
#ifndef SL_EVENT_H
#define SL_EVENT_H

#include <stddef.h>
#include <stdint.h>

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

#endif
