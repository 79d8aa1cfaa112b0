/* The PE binary container that `sluice kernel build` writes and pe.binary / --binary load.
 *
 * A device's program binary (PoCL's, or an FPGA's aocx/xclbin) goes to
 * clCreateProgramWithBinary, and drivers do not all survive a truncated or foreign one (PoCL 3.1
 * crashes on a truncated binary). So the binary travels in a container that sluice checks
 * first: a 352-byte little-endian header (magic "SLPEBIN\0", format version 1, payload length,
 * XXH3-64 of the payload, and the platform, device and driver it was built for, each a
 * NUL-padded string) followed by the payload. */
#ifndef SL_PEBIN_H
#define SL_PEBIN_H

#include <stddef.h>

#include "device.h"

#define SL_PEBIN_HEADER 352

/* Wraps `payload` built for device `in` into a new buffer *out (malloc'd, caller frees).
 * Returns 0 or SL_ENOMEM. Any thread. */
int sl_pebin_wrap(const sl_device_info *in, const unsigned char *payload, size_t len,
                  unsigned char **out, size_t *outlen);

/* Checks a container read from a file against device `in` and points *payload into it. Returns
 * 0, or SL_EBUILD with `msg` naming the problem: truncated, not a sluice PE binary, another
 * format version, corrupt (checksum), or built for another platform, device or driver. */
int sl_pebin_unwrap(const sl_device_info *in, const unsigned char *buf, size_t len,
                    const unsigned char **payload, size_t *plen, char *msg, size_t msglen);

#endif
