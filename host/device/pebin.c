#include "pebin.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "err.h"

static const char magic[8] = {'S', 'L', 'P', 'E', 'B', 'I', 'N', '\0'};

enum {
    OFF_VERSION = 8,
    OFF_LEN = 16,
    OFF_SUM = 24,
    OFF_PLATFORM = 32,
    OFF_DEVICE = 160,
    OFF_DRIVER = 288
};

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Copies s into a NUL-padded field of n bytes (truncated to n - 1). */
static void put_str(unsigned char *p, size_t n, const char *s)
{
    memset(p, 0, n);
    size_t l = strlen(s);
    memcpy(p, s, l < n - 1 ? l : n - 1);
}

/* Reads a NUL-padded field into out (always terminated). */
static void get_str(const unsigned char *p, size_t n, char *out)
{
    memcpy(out, p, n);
    out[n - 1] = '\0';
}

int sl_pebin_wrap(const sl_device_info *in, const unsigned char *payload, size_t len,
                  unsigned char **out, size_t *outlen)
{
    unsigned char *b = malloc(SL_PEBIN_HEADER + len);
    if (!b)
        return SL_ENOMEM;
    memset(b, 0, SL_PEBIN_HEADER);
    memcpy(b, magic, sizeof magic);
    put_u64(b + OFF_VERSION, 1);
    put_u64(b + OFF_LEN, len);
    put_u64(b + OFF_SUM, XXH3_64bits(payload, len));
    put_str(b + OFF_PLATFORM, 128, in->platform);
    put_str(b + OFF_DEVICE, 128, in->name);
    put_str(b + OFF_DRIVER, 64, in->driver);
    memcpy(b + SL_PEBIN_HEADER, payload, len);
    *out = b;
    *outlen = SL_PEBIN_HEADER + len;
    return 0;
}

int sl_pebin_unwrap(const sl_device_info *in, const unsigned char *buf, size_t len,
                    const unsigned char **payload, size_t *plen, char *msg, size_t msglen)
{
    if (len < sizeof magic || memcmp(buf, magic, sizeof magic) != 0) {
        snprintf(msg, msglen,
                 "not a sluice PE binary (those are written by `sluice kernel build`)");
        return SL_EBUILD;
    }
    if (len < SL_PEBIN_HEADER) {
        snprintf(msg, msglen, "truncated: %zu bytes, shorter than the %d-byte header", len,
                 SL_PEBIN_HEADER);
        return SL_EBUILD;
    }
    uint64_t version = get_u64(buf + OFF_VERSION), n = get_u64(buf + OFF_LEN);
    if (version != 1) {
        snprintf(msg, msglen, "format version %llu; this sluice reads version 1",
                 (unsigned long long)version);
        return SL_EBUILD;
    }
    if (n != len - SL_PEBIN_HEADER) {
        snprintf(msg, msglen,
                 "truncated or padded: the header announces %llu bytes of program, "
                 "the file holds %zu",
                 (unsigned long long)n, len - SL_PEBIN_HEADER);
        return SL_EBUILD;
    }
    if (XXH3_64bits(buf + SL_PEBIN_HEADER, n) != get_u64(buf + OFF_SUM)) {
        snprintf(msg, msglen, "corrupt: the program's checksum does not match its header");
        return SL_EBUILD;
    }
    char platform[128], device[128], driver[64];
    get_str(buf + OFF_PLATFORM, sizeof platform, platform);
    get_str(buf + OFF_DEVICE, sizeof device, device);
    get_str(buf + OFF_DRIVER, sizeof driver, driver);
    if (strcmp(platform, in->platform) != 0 || strcmp(device, in->name) != 0 ||
        strcmp(driver, in->driver) != 0) {
        snprintf(msg, msglen,
                 "built for %s / %s (driver %s), not for this device, %s / %s (driver %s): "
                 "rebuild it with `sluice kernel build` for this device",
                 platform, device, driver, in->platform, in->name, in->driver);
        return SL_EBUILD;
    }
    *payload = buf + SL_PEBIN_HEADER;
    *plen = (size_t)n;
    return 0;
}
