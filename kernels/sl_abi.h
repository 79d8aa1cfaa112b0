/* sluice kernel ABI: the record layout that crosses between host and device.
 *
 * This header is OpenCL C. host/event.h declares the same layout in C11 and checks it with
 * static asserts; change both together. A record is 24 bytes, little-endian:
 *   offset 0  key      64-bit key (XXH3 of the ad id, never 0)
 *   offset 8  time_ms  event time, milliseconds since the Unix epoch
 *   offset 16 value    numeric attribute (for example a purchase amount)
 *   offset 20 type     SL_EV_VIEW, SL_EV_CLICK, SL_EV_PURCHASE or SL_EV_OTHER */
#ifndef SL_ABI_H
#define SL_ABI_H

#define SL_EV_VIEW 0u
#define SL_EV_CLICK 1u
#define SL_EV_PURCHASE 2u
#define SL_EV_OTHER 3u

#define SL_EMPTY_KEY 0ul
#define SL_TOMBSTONE_KEY 0xfffffffffffffffful

typedef struct sl_record {
    ulong key;
    long time_ms;
    float value;
    uint type;
} sl_record;

#endif
