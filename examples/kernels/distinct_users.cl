/* Example reduce PE "distinct_users": distinct users per ad, estimated with HyperLogLog.
 *
 * Counting distinct users exactly needs a set per ad that grows with the number of users. A
 * HyperLogLog sketch (Flajolet, Fusy, Gandouet, Meunier, 2007) answers in a fixed m bytes: it
 * splits a 64-bit hash of the user id into a register index (the top p bits, m = 2^p registers)
 * and a remainder (the other 64 - p bits), and each register keeps the largest "rank" it has
 * seen, the number of leading zeros of the remainder plus one. A rank of k happens for one hash
 * in 2^k, so a register's maximum grows with the log of the number of distinct users that landed
 * in it; the same user always lands in the same register with the same rank, so repeats change
 * nothing. The estimate is the normalised harmonic mean of 2^M[j] over the registers:
 *
 *   E = alpha_m * m^2 / sum_j 2^-M[j],    alpha_m = 0.7213 / (1 + 1.079 / m)  (m >= 128)
 *
 * with the paper's small-range correction: when E <= 2.5 m and V > 0 registers are still 0, the
 * estimate is linear counting, m * log(m / V), which is more accurate there. The paper's
 * large-range correction is for 32-bit hashes and is not needed with 64-bit ones. The relative
 * standard error is about 1.04 / sqrt(m): 3.25% at the default p = 10 (m = 1024 registers,
 * 1 KiB of state per ad).
 *
 * The hash is the record's `user` field as it is: sluice already made it XXH3-64 of the user_id,
 * which is as good a hash as HyperLogLog needs. Events without a user_id (user == 0) are not
 * added to the sketch; they are counted in no_user. Output columns:
 *
 *   users_estimate  estimated number of distinct user ids, rounded to an integer   (int)
 *   events          every event of the ad, with or without a user                  (int)
 *   no_user         events without a user_id, left out of the estimate             (int)
 *
 * It is a reduce PE: a register's maximum does not depend on the order in which users arrive,
 * and two sketches of two parts of a stream merge into the sketch of the whole by taking the
 * register-wise maximum. So the framework may fold events into several copies of the table in
 * parallel and combine them with sl_merge, and the result is exactly the sketch of one
 * sequential pass: registers are integers, nothing rounds.
 *
 * The estimate is computed with exact powers of two summed in register order, so that a C
 * implementation doing the same operations gets the same sum bit for bit (tests/test_hll.c).
 *
 * Try it: sluice kernel check distinct_users.cl; sluice kernel run distinct_users.cl --input
 * events.ndjson (README.md in this folder). */
#include "sluice.h"

#pragma OPENCL FP_CONTRACT OFF

#define SL_PE_REDUCE
#define SL_COLUMNS "users_estimate:int,events:int,no_user:int"

/* Precision: 2^SL_HLL_P registers of one byte each. */
#ifndef SL_HLL_P
#define SL_HLL_P 10
#endif
#if SL_HLL_P < 4
#error "distinct_users.cl: SL_HLL_P must be at least 4 (16 registers)"
#endif
/* the registers and the two 8-byte counts must fit sluice's 4096-byte sl_state limit */
#if (1 << SL_HLL_P) + 16 > 4096
#error "distinct_users.cl: SL_HLL_P too large: 2^p register bytes + 16 exceed the 4096-byte state"
#endif

#define SL_HLL_M (1u << SL_HLL_P)

/* alpha_m corrects the harmonic mean's bias; the paper gives constants for m = 16, 32, 64 */
#if SL_HLL_P == 4
#define SL_HLL_ALPHA 0.673
#elif SL_HLL_P == 5
#define SL_HLL_ALPHA 0.697
#elif SL_HLL_P == 6
#define SL_HLL_ALPHA 0.709
#else
#define SL_HLL_ALPHA (0.7213 / (1.0 + 1.079 / (double)SL_HLL_M))
#endif

typedef struct {
    ulong events;        /* every event */
    ulong no_user;       /* events with user == 0, not in the sketch */
    uchar reg[SL_HLL_M]; /* register j: largest rank seen for index j; 0 = none yet */
} sl_state;

void sl_init(__global sl_state *s)
{
    s->events = 0;
    s->no_user = 0;
    for (uint j = 0; j < SL_HLL_M; j++)
        s->reg[j] = 0;
}

void sl_add(__global sl_state *s, const sl_record *r)
{
    s->events += 1;
    if (r->user == 0) {
        s->no_user += 1;
        return;
    }
    const uint j = (uint)(r->user >> (64 - SL_HLL_P));
    /* the remaining 64 - p bits, moved to the top; when they are all zero the rank is their
     * count plus one (OpenCL's clz(0) is 64, which would overstate it) */
    const ulong w = r->user << SL_HLL_P;
    const uint rank = w ? (uint)clz(w) + 1u : (64u - SL_HLL_P) + 1u;
    if (rank > s->reg[j])
        s->reg[j] = (uchar)rank;
}

void sl_merge(__global sl_state *dst, __global const sl_state *src)
{
    dst->events += src->events;
    dst->no_user += src->no_user;
    for (uint j = 0; j < SL_HLL_M; j++)
        dst->reg[j] = max(dst->reg[j], src->reg[j]);
}

void sl_emit(__global const sl_state *s, sl_out *out)
{
    double sum = 0.0;
    uint zeros = 0;
    for (uint j = 0; j < SL_HLL_M; j++) {
        const uint r = s->reg[j];
        /* 2^-r exactly: the exponent field of a double, r <= 61 */
        sum += as_double((ulong)(1023u - r) << 52);
        zeros += r == 0;
    }
    const double m = (double)SL_HLL_M;
    double e = SL_HLL_ALPHA * m * m / sum;
    if (e <= 2.5 * m && zeros > 0)
        e = m * log(m / (double)zeros);
    out->v[0] = round(e);
    out->v[1] = (double)s->events;
    out->v[2] = (double)s->no_user;
}
