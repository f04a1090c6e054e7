/*
 * x25519.c: the X25519 (RFC 7748) public key of a private key, for
 * certgate's key-exchange provider (key_exchange.c generates its key pairs
 * with it; the agreement is the default provider's).
 *
 * Field elements of GF(2^255 - 19) are five 51-bit limbs in 64-bit words;
 * products go through unsigned __int128. Every function of this file takes
 * the same path and touches the same memory whatever the secret values are:
 * no branch on a secret, no table index from a secret (selection by masks),
 * no early exit.
 *
 * The public key (a multiplication of the fixed base point) is computed on
 * the twisted Edwards curve birationally equivalent to Curve25519, with a
 * table of small multiples of the base point: 64 additions and 4 doublings
 * instead of the 255 ladder steps a variable point needs, then converted to
 * the Montgomery u-coordinate (u = (1 + y) / (1 - y)).
 *
 * The table (32 rows x 8 multiples, affine, about 30 KB) is computed once per
 * process, on first use, from the base point; nothing here is secret.
 */
#include "tls/x25519.h"

#include <pthread.h>
#include <string.h>

typedef unsigned __int128 u128;

/* An element of GF(2^255 - 19): sum of v[i] * 2^(51 i). Functions accept
 * limbs up to 2^54 and return limbs below 2^52 ("loosely reduced"). */
typedef struct {
    uint64_t v[5];
} fe;

#define MASK51 ((UINT64_C(1) << 51) - 1)

static void fe_set_small(fe *r, uint64_t x)
{
    r->v[0] = x;
    r->v[1] = r->v[2] = r->v[3] = r->v[4] = 0;
}

/* One carry pass: limbs below 2^51 + 2^13 (the top carry folds back times 19). */
static void fe_carry(fe *r)
{
    uint64_t c;
    c = r->v[0] >> 51, r->v[0] &= MASK51, r->v[1] += c;
    c = r->v[1] >> 51, r->v[1] &= MASK51, r->v[2] += c;
    c = r->v[2] >> 51, r->v[2] &= MASK51, r->v[3] += c;
    c = r->v[3] >> 51, r->v[3] &= MASK51, r->v[4] += c;
    c = r->v[4] >> 51, r->v[4] &= MASK51, r->v[0] += c * 19;
}

static void fe_add(fe *r, const fe *a, const fe *b)
{
    for (int i = 0; i < 5; i++)
        r->v[i] = a->v[i] + b->v[i];
    fe_carry(r);
}

/* a - b + 4p: every limb stays positive for b's limbs below 2^53. */
static void fe_sub(fe *r, const fe *a, const fe *b)
{
    r->v[0] = (a->v[0] + UINT64_C(0x1fffffffffffb4)) - b->v[0];
    for (int i = 1; i < 5; i++)
        r->v[i] = (a->v[i] + UINT64_C(0x1ffffffffffffc)) - b->v[i];
    fe_carry(r);
}

static void fe_neg(fe *r, const fe *a)
{
    fe zero;
    fe_set_small(&zero, 0);
    fe_sub(r, &zero, a);
}

/* Reduces the 128-bit column sums and carries them into r. */
static void fe_reduce_wide(fe *r, u128 t0, u128 t1, u128 t2, u128 t3, u128 t4)
{
    uint64_t c;
    t1 += (uint64_t)(t0 >> 51);
    t2 += (uint64_t)(t1 >> 51);
    t3 += (uint64_t)(t2 >> 51);
    t4 += (uint64_t)(t3 >> 51);
    c = (uint64_t)(t4 >> 51);
    r->v[0] = ((uint64_t)t0 & MASK51) + c * 19;
    r->v[1] = (uint64_t)t1 & MASK51;
    r->v[2] = (uint64_t)t2 & MASK51;
    r->v[3] = (uint64_t)t3 & MASK51;
    r->v[4] = (uint64_t)t4 & MASK51;
    c = r->v[0] >> 51;
    r->v[0] &= MASK51;
    r->v[1] += c;
}

static void fe_mul(fe *r, const fe *a, const fe *b)
{
    const uint64_t a0 = a->v[0], a1 = a->v[1], a2 = a->v[2], a3 = a->v[3], a4 = a->v[4];
    const uint64_t b0 = b->v[0], b1 = b->v[1], b2 = b->v[2], b3 = b->v[3], b4 = b->v[4];
    const uint64_t b1_19 = b1 * 19, b2_19 = b2 * 19, b3_19 = b3 * 19, b4_19 = b4 * 19;
    u128 t0 = (u128)a0 * b0 + (u128)a1 * b4_19 + (u128)a2 * b3_19 + (u128)a3 * b2_19 + (u128)a4 * b1_19;
    u128 t1 = (u128)a0 * b1 + (u128)a1 * b0 + (u128)a2 * b4_19 + (u128)a3 * b3_19 + (u128)a4 * b2_19;
    u128 t2 = (u128)a0 * b2 + (u128)a1 * b1 + (u128)a2 * b0 + (u128)a3 * b4_19 + (u128)a4 * b3_19;
    u128 t3 = (u128)a0 * b3 + (u128)a1 * b2 + (u128)a2 * b1 + (u128)a3 * b0 + (u128)a4 * b4_19;
    u128 t4 = (u128)a0 * b4 + (u128)a1 * b3 + (u128)a2 * b2 + (u128)a3 * b1 + (u128)a4 * b0;
    fe_reduce_wide(r, t0, t1, t2, t3, t4);
}

static void fe_sq(fe *r, const fe *a)
{
    const uint64_t a0 = a->v[0], a1 = a->v[1], a2 = a->v[2], a3 = a->v[3], a4 = a->v[4];
    const uint64_t d0 = a0 * 2, d1 = a1 * 2, d2 = a2 * 2 * 19, d3 = a3 * 19, d4 = a4 * 19;
    u128 t0 = (u128)a0 * a0 + (u128)d1 * d4 + (u128)d2 * a3;
    u128 t1 = (u128)d0 * a1 + (u128)d2 * a4 + (u128)a3 * d3;
    u128 t2 = (u128)d0 * a2 + (u128)a1 * a1 + (u128)(a3 * 2) * d4;
    u128 t3 = (u128)d0 * a3 + (u128)d1 * a2 + (u128)a4 * d4;
    u128 t4 = (u128)d0 * a4 + (u128)d1 * a3 + (u128)a2 * a2;
    fe_reduce_wide(r, t0, t1, t2, t3, t4);
}

/* r = a^(2^n) */
static void fe_sq_n(fe *r, const fe *a, int n)
{
    fe_sq(r, a);
    while (--n > 0)
        fe_sq(r, r);
}

static void fe_mul_small(fe *r, const fe *a, uint64_t k)
{
    fe_reduce_wide(r, (u128)a->v[0] * k, (u128)a->v[1] * k, (u128)a->v[2] * k,
                   (u128)a->v[3] * k, (u128)a->v[4] * k);
}

/* r = a^(p - 2) = 1 / a (0 for 0): 254 squarings, 11 multiplications. */
static void fe_invert(fe *r, const fe *a)
{
    fe z2, z9, z11, z2_5_0, z2_10_0, z2_20_0, z2_50_0, z2_100_0, t;
    fe_sq(&z2, a);                   /* 2 */
    fe_sq_n(&t, &z2, 2);             /* 8 */
    fe_mul(&z9, &t, a);              /* 9 */
    fe_mul(&z11, &z9, &z2);          /* 11 */
    fe_sq(&t, &z11);                 /* 22 */
    fe_mul(&z2_5_0, &t, &z9);        /* 2^5 - 1 */
    fe_sq_n(&t, &z2_5_0, 5);
    fe_mul(&z2_10_0, &t, &z2_5_0);   /* 2^10 - 1 */
    fe_sq_n(&t, &z2_10_0, 10);
    fe_mul(&z2_20_0, &t, &z2_10_0);  /* 2^20 - 1 */
    fe_sq_n(&t, &z2_20_0, 20);
    fe_mul(&t, &t, &z2_20_0);        /* 2^40 - 1 */
    fe_sq_n(&t, &t, 10);
    fe_mul(&z2_50_0, &t, &z2_10_0);  /* 2^50 - 1 */
    fe_sq_n(&t, &z2_50_0, 50);
    fe_mul(&z2_100_0, &t, &z2_50_0); /* 2^100 - 1 */
    fe_sq_n(&t, &z2_100_0, 100);
    fe_mul(&t, &t, &z2_100_0);       /* 2^200 - 1 */
    fe_sq_n(&t, &t, 50);
    fe_mul(&t, &t, &z2_50_0);        /* 2^250 - 1 */
    fe_sq_n(&t, &t, 5);              /* 2^255 - 2^5 */
    fe_mul(r, &t, &z11);             /* 2^255 - 21 = p - 2 */
}

/* Little-endian bytes; bit 255 is ignored (RFC 7748, section 5). */
static void fe_from_bytes(fe *r, const uint8_t s[32])
{
    uint64_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = 0;
        for (int j = 7; j >= 0; j--)
            w[i] = (w[i] << 8) | s[8 * i + j];
    }
    r->v[0] = w[0] & MASK51;
    r->v[1] = ((w[0] >> 51) | (w[1] << 13)) & MASK51;
    r->v[2] = ((w[1] >> 38) | (w[2] << 26)) & MASK51;
    r->v[3] = ((w[2] >> 25) | (w[3] << 39)) & MASK51;
    r->v[4] = (w[3] >> 12) & MASK51;
}

/* The unique representative in [0, p), little-endian. */
static void fe_to_bytes(uint8_t s[32], const fe *a)
{
    fe h = *a;
    uint64_t q;
    fe_carry(&h);
    fe_carry(&h);
    /* h < 2^255 + small; q = 1 when h >= p, computed without a branch. */
    q = (h.v[0] + 19) >> 51;
    q = (h.v[1] + q) >> 51;
    q = (h.v[2] + q) >> 51;
    q = (h.v[3] + q) >> 51;
    q = (h.v[4] + q) >> 51;
    h.v[0] += 19 * q;
    h.v[1] += h.v[0] >> 51, h.v[0] &= MASK51;
    h.v[2] += h.v[1] >> 51, h.v[1] &= MASK51;
    h.v[3] += h.v[2] >> 51, h.v[2] &= MASK51;
    h.v[4] += h.v[3] >> 51, h.v[3] &= MASK51;
    h.v[4] &= MASK51;
    const uint64_t w[4] = {
        h.v[0] | (h.v[1] << 51),
        (h.v[1] >> 13) | (h.v[2] << 38),
        (h.v[2] >> 26) | (h.v[3] << 25),
        (h.v[3] >> 39) | (h.v[4] << 12),
    };
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            s[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

/* r = b when mask is all ones, unchanged when 0. */
static void fe_cmov(fe *r, const fe *b, uint64_t mask)
{
    for (int i = 0; i < 5; i++)
        r->v[i] ^= mask & (r->v[i] ^ b->v[i]);
}

/* ---- the base-point multiplication, on Edwards25519 ----------------------
 * -x^2 + y^2 = 1 + d x^2 y^2, d = -121665/121666. Points are extended
 * (X:Y:Z:T) with x = X/Z, y = Y/Z, xy = T/Z; sums come out "completed"
 * (x = X/Z, y = Y/T); table entries are affine (y+x, y-x, 2dxy). */

typedef struct {
    fe X, Y, Z, T;
} ge_ext;
typedef struct {
    fe X, Y, Z, T;
} ge_completed;
typedef struct {
    fe y_plus_x, y_minus_x, xy2d;
} ge_affine;

/* The base point of RFC 8032, section 5.1: y = 4/5, x even. */
static const uint8_t base_x[32] = {
    0x1a, 0xd5, 0x25, 0x8f, 0x60, 0x2d, 0x56, 0xc9, 0xb2, 0xa7, 0x25, 0x95, 0x60, 0xc7, 0x2c, 0x69,
    0x5c, 0xdc, 0xd6, 0xfd, 0x31, 0xe2, 0xa4, 0xc0, 0xfe, 0x53, 0x6e, 0xcd, 0xd3, 0x36, 0x69, 0x21,
};
static const uint8_t base_y[32] = {
    0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
};

/* base_table[i][j] = (j + 1) * 256^i * B */
static ge_affine base_table[32][8];
static fe curve_d2;   /* 2d */
static pthread_once_t base_table_once = PTHREAD_ONCE_INIT;

static void ge_completed_to_ext(ge_ext *r, const ge_completed *p)
{
    fe_mul(&r->X, &p->X, &p->T);
    fe_mul(&r->Y, &p->Y, &p->Z);
    fe_mul(&r->Z, &p->Z, &p->T);
    fe_mul(&r->T, &p->X, &p->Y);
}

/* r = 2p (dbl-2008-hwcd with a = -1; T of p unused). */
static void ge_double(ge_completed *r, const ge_ext *p)
{
    fe xx, yy, zz2, xy, xy_sq;
    fe_sq(&xx, &p->X);
    fe_sq(&yy, &p->Y);
    fe_sq(&zz2, &p->Z);
    fe_add(&zz2, &zz2, &zz2);
    fe_add(&xy, &p->X, &p->Y);
    fe_sq(&xy_sq, &xy);
    fe_add(&r->Y, &yy, &xx);
    fe_sub(&r->Z, &yy, &xx);
    fe_sub(&r->X, &xy_sq, &r->Y);
    fe_sub(&r->T, &zz2, &r->Z);
}

/* r = p + q, q affine (madd-2008-hwcd-3 with a = -1). */
static void ge_add_affine(ge_completed *r, const ge_ext *p, const ge_affine *q)
{
    fe a, b, c, d;
    fe_add(&r->X, &p->Y, &p->X);
    fe_sub(&r->Y, &p->Y, &p->X);
    fe_mul(&a, &r->X, &q->y_plus_x);
    fe_mul(&b, &r->Y, &q->y_minus_x);
    fe_mul(&c, &q->xy2d, &p->T);
    fe_add(&d, &p->Z, &p->Z);
    fe_sub(&r->X, &a, &b);
    fe_add(&r->Y, &a, &b);
    fe_add(&r->Z, &d, &c);
    fe_sub(&r->T, &d, &c);
}

static void ge_ext_to_affine(ge_affine *r, const ge_ext *p)
{
    fe zinv, x, y;
    fe_invert(&zinv, &p->Z);
    fe_mul(&x, &p->X, &zinv);
    fe_mul(&y, &p->Y, &zinv);
    fe_add(&r->y_plus_x, &y, &x);
    fe_sub(&r->y_minus_x, &y, &x);
    fe_mul(&r->xy2d, &x, &y);
    fe_mul(&r->xy2d, &r->xy2d, &curve_d2);
}

static void ge_ext_identity(ge_ext *r)
{
    fe_set_small(&r->X, 0);
    fe_set_small(&r->Y, 1);
    fe_set_small(&r->Z, 1);
    fe_set_small(&r->T, 0);
}

static void base_table_build(void)
{
    fe d, num;
    ge_ext row_base, multiple;
    ge_completed sum;

    /* d = -121665 / 121666 */
    fe_set_small(&num, 121666);
    fe_invert(&d, &num);
    fe_mul_small(&d, &d, 121665);
    fe_neg(&d, &d);
    fe_add(&curve_d2, &d, &d);

    fe_from_bytes(&row_base.X, base_x);
    fe_from_bytes(&row_base.Y, base_y);
    fe_set_small(&row_base.Z, 1);
    fe_mul(&row_base.T, &row_base.X, &row_base.Y);
    for (int i = 0; i < 32; i++) {
        ge_ext_to_affine(&base_table[i][0], &row_base);
        multiple = row_base;
        for (int j = 1; j < 8; j++) {
            ge_add_affine(&sum, &multiple, &base_table[i][0]);
            ge_completed_to_ext(&multiple, &sum);
            ge_ext_to_affine(&base_table[i][j], &multiple);
        }
        for (int k = 0; k < 8; k++) {   /* row_base *= 256 */
            ge_double(&sum, &row_base);
            ge_completed_to_ext(&row_base, &sum);
        }
    }
}

/* 1 when a == b, else 0; a and b in [0, 8]. */
static uint64_t eq_mask(unsigned a, unsigned b)
{
    uint64_t x = (uint64_t)(a ^ b);
    return ((x - 1) >> 63) * UINT64_MAX;   /* all ones iff x == 0 */
}

/* r = digit * 256^row * B, digit in [-8, 8], reading every entry of the row. */
static void base_table_select(ge_affine *r, int row, int8_t digit)
{
    const uint8_t negative = (uint8_t)((uint8_t)digit >> 7);
    const unsigned magnitude = (unsigned)(digit - ((-(int)negative & digit) * 2));
    ge_affine neg;

    fe_set_small(&r->y_plus_x, 1);
    fe_set_small(&r->y_minus_x, 1);
    fe_set_small(&r->xy2d, 0);
    for (unsigned j = 0; j < 8; j++) {
        uint64_t mask = eq_mask(magnitude, j + 1);
        fe_cmov(&r->y_plus_x, &base_table[row][j].y_plus_x, mask);
        fe_cmov(&r->y_minus_x, &base_table[row][j].y_minus_x, mask);
        fe_cmov(&r->xy2d, &base_table[row][j].xy2d, mask);
    }
    /* -P = (y - x, y + x, -2dxy) */
    neg.y_plus_x = r->y_minus_x;
    neg.y_minus_x = r->y_plus_x;
    fe_neg(&neg.xy2d, &r->xy2d);
    const uint64_t neg_mask = (uint64_t)0 - negative;
    fe_cmov(&r->y_plus_x, &neg.y_plus_x, neg_mask);
    fe_cmov(&r->y_minus_x, &neg.y_minus_x, neg_mask);
    fe_cmov(&r->xy2d, &neg.xy2d, neg_mask);
}

/* Zeroes what held secret-derived values; the barrier keeps the compiler
 * from dropping stores to memory that is about to go out of scope. */
static void wipe(void *p, size_t n)
{
    memset(p, 0, n);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

static void clamp(uint8_t k[32], const uint8_t priv[32])
{
    memcpy(k, priv, 32);
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
}

void cg_x25519_public_key(uint8_t pub[CG_X25519_KEY_BYTES], const uint8_t priv[CG_X25519_KEY_BYTES])
{
    uint8_t k[32];
    int8_t e[64];
    int8_t carry = 0;
    ge_ext h;
    ge_completed sum;
    ge_affine t;
    fe num, den, u;

    pthread_once(&base_table_once, base_table_build);
    clamp(k, priv);
    /* k = sum e[i] 16^i with e[i] in [-8, 8] (k < 2^255, so e[63] <= 8) */
    for (int i = 0; i < 32; i++) {
        e[2 * i] = (int8_t)(k[i] & 15);
        e[2 * i + 1] = (int8_t)(k[i] >> 4);
    }
    for (int i = 0; i < 63; i++) {
        e[i] = (int8_t)(e[i] + carry);
        carry = (int8_t)((e[i] + 8) >> 4);
        e[i] = (int8_t)(e[i] - carry * 16);
    }
    e[63] = (int8_t)(e[63] + carry);

    /* Odd digits first (16 times each), then even ones: one row per pair. */
    ge_ext_identity(&h);
    for (int i = 1; i < 64; i += 2) {
        base_table_select(&t, i / 2, e[i]);
        ge_add_affine(&sum, &h, &t);
        ge_completed_to_ext(&h, &sum);
    }
    for (int i = 0; i < 4; i++) {
        ge_double(&sum, &h);
        ge_completed_to_ext(&h, &sum);
    }
    for (int i = 0; i < 64; i += 2) {
        base_table_select(&t, i / 2, e[i]);
        ge_add_affine(&sum, &h, &t);
        ge_completed_to_ext(&h, &sum);
    }

    /* u = (1 + y) / (1 - y) = (Z + Y) / (Z - Y) */
    fe_add(&num, &h.Z, &h.Y);
    fe_sub(&den, &h.Z, &h.Y);
    fe_invert(&den, &den);
    fe_mul(&u, &num, &den);
    fe_to_bytes(pub, &u);
    wipe(k, sizeof k);
    wipe(e, sizeof e);
    wipe(&h, sizeof h);
    wipe(&sum, sizeof sum);
    wipe(&t, sizeof t);
}
