/* gzip and zstd input, decoded incrementally; see decomp.h.
 *
 * gzip: zlib's inflate with windowBits 15 + 16 (gzip wrapper only, CRC-32 and length checked at
 * each member's end); after a member ends, inflateReset starts the next one on the bytes that
 * follow. zstd: ZSTD_decompressStream, which starts the next frame by itself (and passes over
 * skippable frames); its return value is 0 exactly when a frame is complete and flushed. */
#include "decomp.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "err.h"

struct sl_decomp {
    int kind;
    uint64_t in_total; /* compressed bytes taken by earlier calls */
    uint64_t members;  /* members or frames completed */
    uint64_t last_end; /* compressed offset where the last of them ended */
    int in_member;     /* inside a member or frame: its end not seen yet */
    int failed;        /* sticky error */
    char why[320];     /* its message */
    z_stream z;
    ZSTD_DCtx *zd;
};

int sl_decomp_sniff(const void *head, size_t n, int at_end)
{
    static const unsigned char gz[] = {0x1f, 0x8b}, zs[] = {0x28, 0xb5, 0x2f, 0xfd};
    const unsigned char *h = head;
    size_t g = n < sizeof gz ? n : sizeof gz, z = n < sizeof zs ? n : sizeof zs;
    if (memcmp(h, gz, g) == 0) {
        if (n >= sizeof gz)
            return SL_DECOMP_GZIP;
        return at_end ? SL_DECOMP_NONE : -1;
    }
    if (memcmp(h, zs, z) == 0) {
        if (n >= sizeof zs)
            return SL_DECOMP_ZSTD;
        return at_end ? SL_DECOMP_NONE : -1;
    }
    return SL_DECOMP_NONE;
}

int sl_decomp_fd_kind(int fd)
{
    unsigned char head[SL_DECOMP_MAGIC_MAX];
    size_t got = 0;
    if (fd < 0)
        return SL_DECOMP_NONE;
    while (got < sizeof head) {
        ssize_t k = pread(fd, head + got, sizeof head - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got ? sl_decomp_sniff(head, got, 1) : SL_DECOMP_NONE;
}

const char *sl_decomp_name(int kind)
{
    return kind == SL_DECOMP_GZIP ? "gzip" : kind == SL_DECOMP_ZSTD ? "zstd" : "plain";
}

sl_decomp *sl_decomp_new(int kind)
{
    if (kind != SL_DECOMP_GZIP && kind != SL_DECOMP_ZSTD)
        return NULL;
    sl_decomp *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->kind = kind;
    if (kind == SL_DECOMP_GZIP) {
        if (inflateInit2(&d->z, 15 + 16) != Z_OK) {
            free(d);
            return NULL;
        }
    } else if (!(d->zd = ZSTD_createDCtx())) {
        free(d);
        return NULL;
    }
    return d;
}

/* Records a sticky error found at compressed offset `at` and returns it with its message. */
static int fail(sl_decomp *d, int rc, char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(sl_decomp *d, int rc, char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof d->why, fmt, ap);
    va_end(ap);
    d->failed = rc;
    sl_set_msg(msg, msglen, "%s", d->why);
    return rc;
}

/* ", after N complete members ending at byte M" when the error lies past the first member,
 * else "". */
static const char *after(const sl_decomp *d, char *buf, size_t len)
{
    buf[0] = '\0';
    if (d->members > 0)
        snprintf(buf, len, ", after %llu complete %s ending at byte %llu",
                 (unsigned long long)d->members,
                 d->kind == SL_DECOMP_GZIP ? (d->members == 1 ? "member" : "members")
                                           : (d->members == 1 ? "frame" : "frames"),
                 (unsigned long long)d->last_end);
    return buf;
}

static int run_gzip(sl_decomp *d, const unsigned char *in, size_t *in_len, unsigned char *out,
                    size_t *out_len, char *msg, size_t msglen)
{
    z_stream *z = &d->z;
    size_t ilen = *in_len, olen = *out_len;
    /* zlib counts in uInt: hand it at most UINT_MAX at a time (the callers' blocks are far
     * smaller). */
    z->next_in = (unsigned char *)in;
    z->avail_in = ilen > UINT_MAX ? UINT_MAX : (uInt)ilen;
    z->next_out = out;
    z->avail_out = olen > UINT_MAX ? UINT_MAX : (uInt)olen;
    int rc = 0;
    while (z->avail_out > 0 && (z->avail_in > 0 || d->in_member)) {
        d->in_member = 1;
        int zr = inflate(z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            d->in_member = 0;
            d->members++;
            d->last_end = d->in_total + (uint64_t)(z->next_in - in);
            inflateReset(z);
            continue;
        }
        if (zr == Z_OK || zr == Z_BUF_ERROR) /* input or output used up, or no progress */
            break;
        uint64_t at = d->in_total + (uint64_t)(z->next_in - in);
        char ab[128];
        if (zr == Z_MEM_ERROR)
            rc = fail(d, SL_ENOMEM, msg, msglen, "out of memory decompressing gzip input");
        else
            rc = fail(d, SL_EIO, msg, msglen,
                      "corrupt gzip input (%s), found at byte %llu of the compressed file%s",
                      z->msg ? z->msg : "invalid data", (unsigned long long)at,
                      after(d, ab, sizeof ab));
        break;
    }
    *in_len = (size_t)(z->next_in - in);
    *out_len = (size_t)(z->next_out - out);
    d->in_total += *in_len;
    return rc;
}

/* Compressed bytes per ZSTD_decompressStream call: a call that fails does not say how much of
 * its input it had taken, so this is how closely an error's offset is known. */
#define ZSTD_SLICE 4096

static int run_zstd(sl_decomp *d, const unsigned char *in, size_t *in_len, unsigned char *out,
                    size_t *out_len, char *msg, size_t msglen)
{
    ZSTD_inBuffer ib = {in, *in_len, 0};
    ZSTD_outBuffer ob = {out, *out_len, 0};
    int rc = 0;
    while (ob.pos < ob.size && (ib.pos < ib.size || d->in_member)) {
        size_t ipos = ib.pos, opos = ob.pos;
        size_t lim = ib.size - ib.pos > ZSTD_SLICE ? ib.pos + ZSTD_SLICE : ib.size;
        ZSTD_inBuffer part = {in, lim, ib.pos};
        size_t zr = ZSTD_decompressStream(d->zd, &ob, &part);
        if (ZSTD_isError(zr)) {
            char ab[128];
            if (ZSTD_getErrorCode(zr) == ZSTD_error_memory_allocation)
                rc = fail(d, SL_ENOMEM, msg, msglen, "out of memory decompressing zstd input");
            else
                rc = fail(d, SL_EIO, msg, msglen,
                          "corrupt zstd input (%s), found in bytes %llu to %llu of the "
                          "compressed file%s",
                          ZSTD_getErrorName(zr), (unsigned long long)(d->in_total + ib.pos),
                          (unsigned long long)(d->in_total + lim), after(d, ab, sizeof ab));
            break;
        }
        ib.pos = part.pos;
        if (zr == 0 && d->in_member) {
            d->members++;
            d->last_end = d->in_total + ib.pos;
        }
        d->in_member = zr != 0;
        if (ib.pos == ipos && ob.pos == opos)
            break; /* needs more input */
    }
    *in_len = ib.pos;
    *out_len = ob.pos;
    d->in_total += ib.pos;
    return rc;
}

int sl_decomp_run(sl_decomp *d, const void *in, size_t *in_len, void *out, size_t *out_len,
                  char *msg, size_t msglen)
{
    if (d->failed) {
        *in_len = *out_len = 0;
        sl_set_msg(msg, msglen, "%s", d->why);
        return d->failed;
    }
    if (d->kind == SL_DECOMP_GZIP)
        return run_gzip(d, in, in_len, out, out_len, msg, msglen);
    return run_zstd(d, in, in_len, out, out_len, msg, msglen);
}

int sl_decomp_end(sl_decomp *d, char *msg, size_t msglen)
{
    if (d->failed) {
        sl_set_msg(msg, msglen, "%s", d->why);
        return d->failed;
    }
    if (d->in_member)
        return fail(d, SL_EIO, msg, msglen,
                    "truncated %s input: the compressed file ends at byte %llu inside a %s",
                    sl_decomp_name(d->kind), (unsigned long long)d->in_total,
                    d->kind == SL_DECOMP_GZIP ? "member" : "frame");
    return 0;
}

uint64_t sl_decomp_in_bytes(const sl_decomp *d)
{
    return d->in_total;
}

void sl_decomp_destroy(sl_decomp **dp)
{
    if (!dp || !*dp)
        return;
    sl_decomp *d = *dp;
    if (d->kind == SL_DECOMP_GZIP)
        inflateEnd(&d->z);
    else
        ZSTD_freeDCtx(d->zd);
    free(d);
    *dp = NULL;
}
