/*
 * p256.c: ECDSA P-256 verification with per-key tables (see p256.h).
 *
 * Field elements and scalars are four 64-bit limbs, least significant
 * first, in Montgomery form (a·2^256 mod m) while they are computed on and
 * always fully reduced, so equal values have equal limbs. Points are
 * Jacobian (x = X/Z², y = Y/Z³), Z = 0 being the point at infinity; table
 * points are affine.
 *
 * A table of width w holds, for each of the ceil(257/w) w-bit windows of
 * a scalar, 1..2^(w-1) times 2^(w·i) times its point. A scalar is recoded
 * into as many signed digits in [-2^(w-1) + 1, 2^(w-1)], so u·P is the sum
 * of one table point per window, negated or not: no doubling at all. A
 * key's table has w = 5 (52 windows), the base point's w = 7 (37 windows,
 * made once per process): u1·G + u2·Q is at most 89 mixed additions. The
 * result is compared with r without leaving Jacobian coordinates (X ==
 * r·Z², or (r + n)·Z² when r + n < p), so no field inversion is done per
 * verification; one scalar inversion (s⁻¹ mod n) is.
 *
 * All of it is variable-time: it only ever sees public values (p256.h).
 */
#include "cert/p256.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "core/common.h"

typedef unsigned __int128 u128;
typedef uint64_t fe[4];

/* A table of width w covers a scalar recoded into ceil(257 / w) signed
 * digits of w bits, each window holding 1..2^(w-1) times its base.
 * Public keys get w = 5 (53 KB, 52 additions), the base point, whose table
 * is made once per process, w = 7 (151 KB, 37 additions). */
#define Q_WIDTH 5
#define G_WIDTH 7
#define WINDOWS_OF(w) ((257 + (w) - 1) / (w))
#define ENTRIES_OF(w) (1 << ((w) - 1))

/* A table entry: one 64-byte cache line when aligned (the tables are). */
struct affine {
    _Alignas(64) fe x;
    fe y;
};

struct jacobian {
    fe x, y, z;
};

struct cg_p256_table {
    struct affine t[WINDOWS_OF(Q_WIDTH)][ENTRIES_OF(Q_WIDTH)];
};

/* p = 2^256 - 2^224 + 2^192 + 2^96 - 1, the field's prime. */
static const uint64_t P[4] = {0xffffffffffffffffULL, 0x00000000ffffffffULL, 0x0000000000000000ULL,
                              0xffffffff00000001ULL};
/* n, the order of the base point. */
static const uint64_t N[4] = {0xf3b9cac2fc632551ULL, 0xbce6faada7179e84ULL, 0xffffffffffffffffULL,
                              0xffffffff00000000ULL};
/* The curve's b and base point, big-endian as in SEC 2. */
static const uint8_t B_BYTES[32] = {
    0x5a, 0xc6, 0x35, 0xd8, 0xaa, 0x3a, 0x93, 0xe7, 0xb3, 0xeb, 0xbd, 0x55, 0x76, 0x98, 0x86, 0xbc,
    0x65, 0x1d, 0x06, 0xb0, 0xcc, 0x53, 0xb0, 0xf6, 0x3b, 0xce, 0x3c, 0x3e, 0x27, 0xd2, 0x60, 0x4b};
static const uint8_t G_BYTES[CG_P256_POINT_BYTES] = {
    0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40,
    0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2,
    0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e,
    0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51,
    0xf5};

/* Constants derived from P and N once (init_constants). */
static struct {
    fe p_rr, n_rr;        /* 2^512 mod p, mod n: into Montgomery form */
    fe p_one, n_one;      /* 2^256 mod p, mod n: 1 in Montgomery form */
    fe b;                 /* the curve's b, Montgomery form */
    fe p_minus_n;         /* p - n: r + n < p exactly when r < p - n */
    struct affine g[WINDOWS_OF(G_WIDTH)][ENTRIES_OF(G_WIDTH)];   /* the base point's table */
    bool ok;
} K;
static pthread_once_t k_once = PTHREAD_ONCE_INIT;

/* ---- words --------------------------------------------------------------- */

/* Add and subtract with carry: the processor's own carry chain on x86-64
 * (the compiler keeps it in the flags); 128-bit arithmetic elsewhere. */
#if defined(__x86_64__)
static inline unsigned char addc(unsigned char c, uint64_t a, uint64_t b, uint64_t *out)
{
    unsigned long long o;

    c = _addcarry_u64(c, a, b, &o);
    *out = o;
    return c;
}

static inline unsigned char subb(unsigned char c, uint64_t a, uint64_t b, uint64_t *out)
{
    unsigned long long o;

    c = _subborrow_u64(c, a, b, &o);
    *out = o;
    return c;
}
#else
static inline unsigned char addc(unsigned char c, uint64_t a, uint64_t b, uint64_t *out)
{
    u128 s = (u128)a + b + c;

    *out = (uint64_t)s;
    return (unsigned char)(s >> 64);
}

static inline unsigned char subb(unsigned char c, uint64_t a, uint64_t b, uint64_t *out)
{
    u128 d = (u128)a - b - c;

    *out = (uint64_t)d;
    return (unsigned char)(d >> 64 & 1);
}
#endif

/* a·b: the low word returned, the high one in *hi. */
static inline uint64_t mul(uint64_t a, uint64_t b, uint64_t *hi)
{
    u128 p = (u128)a * b;

    *hi = (uint64_t)(p >> 64);
    return (uint64_t)p;
}

/* ---- 256-bit integers ---------------------------------------------------- */

static bool is_zero(const uint64_t a[4])
{
    return (a[0] | a[1] | a[2] | a[3]) == 0;
}

static bool equal(const uint64_t a[4], const uint64_t b[4])
{
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
}

/* a < b */
static bool less(const uint64_t a[4], const uint64_t b[4])
{
    for (int i = 3; i >= 0; i--)
        if (a[i] != b[i])
            return a[i] < b[i];
    return false;
}

/* r = a - b, returns the borrow. */
static inline uint64_t sub4(uint64_t r[4], const uint64_t a[4], const uint64_t b[4])
{
    unsigned char c = subb(0, a[0], b[0], &r[0]);

    c = subb(c, a[1], b[1], &r[1]);
    c = subb(c, a[2], b[2], &r[2]);
    return subb(c, a[3], b[3], &r[3]);
}

/* r = a + b, returns the carry. */
static inline uint64_t add4(uint64_t r[4], const uint64_t a[4], const uint64_t b[4])
{
    unsigned char c = addc(0, a[0], b[0], &r[0]);

    c = addc(c, a[1], b[1], &r[1]);
    c = addc(c, a[2], b[2], &r[2]);
    return addc(c, a[3], b[3], &r[3]);
}

static void from_bytes(uint64_t r[4], const uint8_t b[32])
{
    for (int i = 0; i < 4; i++) {
        const uint8_t *q = b + 32 - 8 * (i + 1);
        uint64_t v = 0;

        for (int j = 0; j < 8; j++)
            v = v << 8 | q[j];
        r[i] = v;
    }
}

/* ---- arithmetic mod p and mod n ---------------------------------------- */

/* r = a + b mod m, for a, b < m (set-up only: montgomery_rr). */
static void mod_add(uint64_t r[4], const uint64_t a[4], const uint64_t b[4], const uint64_t m[4])
{
    uint64_t s[4], t[4];
    uint64_t carry = add4(s, a, b);
    uint64_t borrow = sub4(t, s, m);

    memcpy(r, carry || !borrow ? t : s, sizeof(s));
}

/* 2^512 mod m, from 2^256 mod m doubled 256 times (set-up only). */
static void montgomery_rr(uint64_t rr[4], const uint64_t one[4], const uint64_t m[4])
{
    memcpy(rr, one, 4 * sizeof(uint64_t));
    for (int i = 0; i < 256; i++)
        mod_add(rr, rr, rr, m);
}

/* r = t - m when t (t4·2^256 + t3..t0, below 2m) is at least m, else t.
 * Branch-free: which way it goes is a coin toss, so a branch would be
 * mispredicted half the time. */
static inline void reduce_once(uint64_t r[4], uint64_t t0, uint64_t t1, uint64_t t2, uint64_t t3,
                               uint64_t t4, const uint64_t m[4])
{
    uint64_t s0, s1, s2, s3, rest, keep;
    unsigned char b;

    b = subb(0, t0, m[0], &s0);
    b = subb(b, t1, m[1], &s1);
    b = subb(b, t2, m[2], &s2);
    b = subb(b, t3, m[3], &s3);
    b = subb(b, t4, 0, &rest);
    keep = (uint64_t)0 - b;   /* all ones: t < m */
    r[0] = (t0 & keep) | (s0 & ~keep);
    r[1] = (t1 & keep) | (s1 & ~keep);
    r[2] = (t2 & keep) | (s2 & ~keep);
    r[3] = (t3 & keep) | (s3 & ~keep);
}

/* w = a·b (a 4-word, b one word): 5 words. */
static inline void mul_row(uint64_t w[5], const uint64_t a[4], uint64_t b)
{
    uint64_t h0, h1, h2, h3;
    unsigned char c;

    w[0] = mul(a[0], b, &h0);
    w[1] = mul(a[1], b, &h1);
    w[2] = mul(a[2], b, &h2);
    w[3] = mul(a[3], b, &h3);
    c = addc(0, w[1], h0, &w[1]);
    c = addc(c, w[2], h1, &w[2]);
    c = addc(c, w[3], h2, &w[3]);
    w[4] = h3 + c;   /* a·b < 2^320: no carry out */
}

/* t[0..7] = a·b */
static inline void mul_wide(uint64_t t[8], const uint64_t a[4], const uint64_t b[4])
{
    uint64_t w[5];

    mul_row(t, a, b[0]);
#pragma GCC unroll 3
    for (int i = 1; i < 4; i++) {
        unsigned char c;

        mul_row(w, a, b[i]);
        c = addc(0, t[i], w[0], &t[i]);
        c = addc(c, t[i + 1], w[1], &t[i + 1]);
        c = addc(c, t[i + 2], w[2], &t[i + 2]);
        c = addc(c, t[i + 3], w[3], &t[i + 3]);
        t[i + 4] = w[4] + c;   /* the sum so far fits i + 5 words */
    }
}

/* r = t·2^-256 mod p (Montgomery reduction) for t < p·2^256: four steps,
 * each adding q·p for q the lowest word and dropping that word. p's shape
 * makes q·p cheap: p = -1 mod 2^64, so -p⁻¹ = 1 and q is the word itself,
 * and q + q·(2^32 - 1), what lands on the next word, is q·2^32; p's third
 * word is zero; only its top word takes a multiply. What a step carries
 * out of its top word is added by the next step, at the same word. */
static inline void fe_reduce(fe r, uint64_t t[8])
{
    uint64_t carry = 0, hi, lo, top;
    unsigned char c, c2;

#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        uint64_t q = t[i];

        lo = mul(q, P[3], &hi);
        c = addc(0, t[i + 1], q << 32, &t[i + 1]);
        c = addc(c, t[i + 2], q >> 32, &t[i + 2]);
        c = addc(c, t[i + 3], lo, &t[i + 3]);
        c2 = addc(0, t[i + 3], carry, &t[i + 3]);
        carry = hi + c + c2;   /* hi <= 2^64 - 2^32: no overflow */
    }
    c = addc(0, t[7], carry, &t[7]);
    top = c;
    reduce_once(r, t[4], t[5], t[6], t[7], top, P);
}

/* r = a·b·2^-256 mod p (Montgomery), for a, b < p. */
static inline void fe_mul(fe r, const fe a, const fe b)
{
    uint64_t t[8];

    mul_wide(t, a, b);
    fe_reduce(r, t);
}

/* r = a²·2^-256 mod p: the six cross products once, doubled, plus the four
 * squares (10 multiplies instead of 16). */
static inline void fe_sqr(fe r, const fe a)
{
    uint64_t t[8], h, x01, x02, x03, x12, x13, x23, h01, h02, h03, h12, h13, h23, s, sh;
    unsigned char c;

    x01 = mul(a[0], a[1], &h01);
    x02 = mul(a[0], a[2], &h02);
    x03 = mul(a[0], a[3], &h03);
    x12 = mul(a[1], a[2], &h12);
    x13 = mul(a[1], a[3], &h13);
    x23 = mul(a[2], a[3], &h23);
    /* cross = sum a_i·a_j·2^(64(i+j)), i < j, into t[1..6] */
    t[1] = x01;
    c = addc(0, h01, x02, &t[2]);
    c = addc(c, h02, x03, &t[3]);
    c = addc(c, h03, x13, &t[4]);
    c = addc(c, h13, x23, &t[5]);
    t[6] = h23 + c;
    c = addc(0, t[3], x12, &t[3]);
    c = addc(c, t[4], h12, &t[4]);
    c = addc(c, t[5], 0, &t[5]);
    t[6] += c;
    /* doubled */
    t[7] = t[6] >> 63;
    t[6] = t[6] << 1 | t[5] >> 63;
    t[5] = t[5] << 1 | t[4] >> 63;
    t[4] = t[4] << 1 | t[3] >> 63;
    t[3] = t[3] << 1 | t[2] >> 63;
    t[2] = t[2] << 1 | t[1] >> 63;
    t[1] = t[1] << 1;
    /* plus the squares */
    t[0] = mul(a[0], a[0], &h);
    c = addc(0, t[1], h, &t[1]);
    s = mul(a[1], a[1], &sh);
    c = addc(c, t[2], s, &t[2]);
    c = addc(c, t[3], sh, &t[3]);
    s = mul(a[2], a[2], &sh);
    c = addc(c, t[4], s, &t[4]);
    c = addc(c, t[5], sh, &t[5]);
    s = mul(a[3], a[3], &sh);
    c = addc(c, t[6], s, &t[6]);
    (void)addc(c, t[7], sh, &t[7]);
    fe_reduce(r, t);
}

static inline void fe_add(fe r, const fe a, const fe b)
{
    uint64_t t[4];
    unsigned char c = (unsigned char)add4(t, a, b);

    reduce_once(r, t[0], t[1], t[2], t[3], c, P);
}

/* r = a - b mod p: the difference, plus p when it went below zero. */
static inline void fe_sub(fe r, const fe a, const fe b)
{
    uint64_t d[4], mask;
    unsigned char c;

    mask = (uint64_t)0 - sub4(d, a, b);
    c = addc(0, d[0], P[0] & mask, &r[0]);
    c = addc(c, d[1], P[1] & mask, &r[1]);
    c = addc(c, d[2], P[2] & mask, &r[2]);
    (void)addc(c, d[3], P[3] & mask, &r[3]);
}

static inline void fe_neg(fe r, const fe a)
{
    static const fe zero = {0, 0, 0, 0};

    fe_sub(r, zero, a);
}

/* r = a·b·2^-256 mod n (Montgomery), for a, b < n: the product, then four
 * steps adding q·n with q = t_i·(-n⁻¹ mod 2^64), so that word drops. */
static void sc_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4])
{
    static const uint64_t n0 = 0xccd1c8aaee00bc4fULL;   /* -n⁻¹ mod 2^64 */
    uint64_t t[8], w[5], top = 0;

    mul_wide(t, a, b);
    for (int i = 0; i < 4; i++) {
        unsigned char c;

        mul_row(w, N, t[i] * n0);
        c = addc(0, t[i], w[0], &t[i]);
        c = addc(c, t[i + 1], w[1], &t[i + 1]);
        c = addc(c, t[i + 2], w[2], &t[i + 2]);
        c = addc(c, t[i + 3], w[3], &t[i + 3]);
        c = addc(c, t[i + 4], w[4], &t[i + 4]);
        for (int k = i + 5; k < 8 && c; k++)
            c = addc(c, t[k], 0, &t[k]);
        top += c;
    }
    reduce_once(r, t[4], t[5], t[6], t[7], top, N);
}

/* r = a⁻¹ mod p (Fermat: a^(p-2)), Montgomery form in and out; for
 * making tables only. */
static void fe_inv(fe r, const fe a)
{
    static const uint64_t e[4] = {0xfffffffffffffffdULL, 0x00000000ffffffffULL, 0, 0xffffffff00000001ULL};
    fe x;

    memcpy(x, K.p_one, sizeof(x));
    for (int i = 255; i >= 0; i--) {
        fe_sqr(x, x);
        if (e[i / 64] >> (i % 64) & 1)
            fe_mul(x, x, a);
    }
    memcpy(r, x, sizeof(x));
}

static bool is_one(const uint64_t a[4])
{
    return a[0] == 1 && (a[1] | a[2] | a[3]) == 0;
}

static void shift_right1(uint64_t a[4], uint64_t top_bit)
{
    a[0] = a[0] >> 1 | a[1] << 63;
    a[1] = a[1] >> 1 | a[2] << 63;
    a[2] = a[2] >> 1 | a[3] << 63;
    a[3] = a[3] >> 1 | top_bit << 63;
}

/* x = x/2 mod n, for x < n: x + n is even when x is odd. */
static void sc_halve(uint64_t x[4])
{
    uint64_t carry = 0;

    if (x[0] & 1)
        carry = add4(x, x, N);
    shift_right1(x, carry);
}

/* x = x - y mod n, for x, y < n. */
static void sc_sub(uint64_t x[4], const uint64_t y[4])
{
    if (sub4(x, x, y))
        add4(x, x, N);
}

/* r = a⁻¹ mod n for 0 < a < n, plain form: the binary extended Euclidean
 * algorithm, which keeps x1·a = u and x2·a = v (mod n) while u and v,
 * starting at a and n, shrink to their gcd, 1. A few hundred shifts and
 * subtractions: far cheaper than Fermat's 256 squarings, and fine for a
 * public value (it is not constant-time). */
static void sc_inv(uint64_t r[4], const uint64_t a[4])
{
    uint64_t u[4], v[4], x1[4] = {1, 0, 0, 0}, x2[4] = {0, 0, 0, 0};

    memcpy(u, a, sizeof(u));
    memcpy(v, N, sizeof(v));
    while (!is_one(u) && !is_one(v)) {
        while (!(u[0] & 1)) {
            shift_right1(u, 0);
            sc_halve(x1);
        }
        while (!(v[0] & 1)) {
            shift_right1(v, 0);
            sc_halve(x2);
        }
        if (!less(u, v)) {
            sub4(u, u, v);
            sc_sub(x1, x2);
        } else {
            sub4(v, v, u);
            sc_sub(x2, x1);
        }
    }
    memcpy(r, is_one(u) ? x1 : x2, sizeof(x1));
}

/* ---- points -------------------------------------------------------------- */

static void set_infinity(struct jacobian *p)
{
    memset(p, 0, sizeof(*p));
}

static bool is_infinity(const struct jacobian *p)
{
    return is_zero(p->z);
}

/* r = 2p (a = -3: dbl-2001-b). r may be p. */
static void point_double(struct jacobian *r, const struct jacobian *p)
{
    fe delta, gamma, beta, alpha, t0, t1;

    if (is_infinity(p) || is_zero(p->y)) {
        set_infinity(r);
        return;
    }
    fe_sqr(delta, p->z);
    fe_sqr(gamma, p->y);
    fe_mul(beta, p->x, gamma);
    fe_sub(t0, p->x, delta);
    fe_add(t1, p->x, delta);
    fe_mul(alpha, t0, t1);
    fe_add(t0, alpha, alpha);
    fe_add(alpha, alpha, t0);   /* 3(X - delta)(X + delta) */
    /* Z3 = (Y + Z)² - gamma - delta, before Y and Z are overwritten */
    fe_add(t0, p->y, p->z);
    fe_sqr(t0, t0);
    fe_sub(t0, t0, gamma);
    fe_sub(r->z, t0, delta);
    /* X3 = alpha² - 8 beta */
    fe_add(beta, beta, beta);
    fe_add(beta, beta, beta);   /* 4 beta */
    fe_sqr(t0, alpha);
    fe_add(t1, beta, beta);
    fe_sub(r->x, t0, t1);
    /* Y3 = alpha(4 beta - X3) - 8 gamma² */
    fe_sub(t0, beta, r->x);
    fe_mul(t0, alpha, t0);
    fe_sqr(gamma, gamma);
    fe_add(gamma, gamma, gamma);
    fe_add(gamma, gamma, gamma);
    fe_add(gamma, gamma, gamma);
    fe_sub(r->y, t0, gamma);
}

/* An addition whose two points share x (h = 0, the difference of their
 * x coordinates) is a doubling when they share y too (rr = 0), else the
 * points are each other's negation and the sum is infinity: r gets it and
 * true is returned. r may be a. */
static bool add_equal_x(struct jacobian *r, const struct jacobian *a, const fe h, const fe rr)
{
    if (!is_zero(h))
        return false;
    if (is_zero(rr))
        point_double(r, a);
    else
        set_infinity(r);
    return true;
}

/* The end both additions share: X3 = rr² - J - 2V and Y3 = rr(V - X3) -
 * 2·yj, yj being the first point's Y (scaled to the common Z) times J.
 * Reads only its arguments, so r's X and Y may already be spent. */
static void add_finish(struct jacobian *r, const fe rr, const fe j, const fe v, const fe yj)
{
    fe t, yj2;

    fe_sqr(t, rr);
    fe_sub(t, t, j);
    fe_sub(t, t, v);
    fe_sub(r->x, t, v);
    fe_sub(t, v, r->x);
    fe_mul(t, rr, t);
    fe_add(yj2, yj, yj);
    fe_sub(r->y, t, yj2);
}

/* r = a + b, Jacobian both (add-2007-bl). r may be a or b. */
static void point_add(struct jacobian *r, const struct jacobian *a, const struct jacobian *b)
{
    fe z1z1, z2z2, u1, u2, s1, s2, h, i, j, rr, v, t;

    if (is_infinity(a)) {
        *r = *b;
        return;
    }
    if (is_infinity(b)) {
        *r = *a;
        return;
    }
    fe_sqr(z1z1, a->z);
    fe_sqr(z2z2, b->z);
    fe_mul(u1, a->x, z2z2);
    fe_mul(u2, b->x, z1z1);
    fe_mul(s1, a->y, b->z);
    fe_mul(s1, s1, z2z2);
    fe_mul(s2, b->y, a->z);
    fe_mul(s2, s2, z1z1);
    fe_sub(h, u2, u1);
    fe_sub(rr, s2, s1);
    if (add_equal_x(r, a, h, rr))
        return;
    fe_add(rr, rr, rr);
    fe_add(i, h, h);
    fe_sqr(i, i);
    fe_mul(j, h, i);
    fe_mul(v, u1, i);
    /* Z3 = ((Z1 + Z2)² - Z1Z1 - Z2Z2)·H */
    fe_add(t, a->z, b->z);
    fe_sqr(t, t);
    fe_sub(t, t, z1z1);
    fe_sub(t, t, z2z2);
    fe_mul(r->z, t, h);
    fe_mul(s1, s1, j);
    add_finish(r, rr, j, v, s1);
}

/* r = r + b, b affine, negated when neg (madd-2007-bl). */
static void point_add_affine(struct jacobian *r, const struct affine *b, bool neg)
{
    fe y2, z1z1, u2, s2, h, hh, i, j, rr, v, t, y1j;

    if (neg)
        fe_neg(y2, b->y);
    else
        memcpy(y2, b->y, sizeof(y2));
    if (is_infinity(r)) {
        memcpy(r->x, b->x, sizeof(fe));
        memcpy(r->y, y2, sizeof(fe));
        memcpy(r->z, K.p_one, sizeof(fe));
        return;
    }
    fe_sqr(z1z1, r->z);
    fe_mul(u2, b->x, z1z1);
    fe_mul(s2, y2, r->z);
    fe_mul(s2, s2, z1z1);
    fe_sub(h, u2, r->x);
    fe_sub(rr, s2, r->y);
    if (add_equal_x(r, r, h, rr))
        return;
    fe_add(rr, rr, rr);
    fe_sqr(hh, h);
    fe_add(i, hh, hh);
    fe_add(i, i, i);
    fe_mul(j, h, i);
    fe_mul(v, r->x, i);
    /* Z3 = (Z1 + H)² - Z1Z1 - HH */
    fe_add(t, r->z, h);
    fe_sqr(t, t);
    fe_sub(t, t, z1z1);
    fe_sub(r->z, t, hh);
    fe_mul(y1j, r->y, j);
    add_finish(r, rr, j, v, y1j);
}

/* ---- tables -------------------------------------------------------------- */

/* Decodes 0x04 || x || y into p (Montgomery form), checking it lies on
 * y² = x³ - 3x + b. */
static bool decode_point(struct affine *p, const uint8_t in[CG_P256_POINT_BYTES])
{
    fe x, y, lhs, rhs, t;

    if (in[0] != 0x04)
        return false;
    from_bytes(x, in + 1);
    from_bytes(y, in + 33);
    if (!less(x, P) || !less(y, P))
        return false;
    fe_mul(p->x, x, K.p_rr);
    fe_mul(p->y, y, K.p_rr);
    fe_sqr(lhs, p->y);
    fe_sqr(rhs, p->x);
    fe_mul(rhs, rhs, p->x);
    fe_add(t, p->x, p->x);
    fe_add(t, t, p->x);
    fe_sub(rhs, rhs, t);
    fe_add(rhs, rhs, K.b);
    return equal(lhs, rhs);
}

/* Fills out (ceil(257/width) windows of 2^(width-1) points, row by row)
 * from the affine point p: Jacobian multiples first, then all made affine
 * with one inversion (Montgomery's trick). CG_OK or CG_ERR. */
static int fill_table(struct affine *out, const struct affine *p, int width)
{
    const int windows = WINDOWS_OF(width), entries = ENTRIES_OF(width), count = windows * entries;
    struct jacobian *m = malloc((size_t)count * sizeof(*m));
    fe *prefix = malloc((size_t)count * sizeof(*prefix));
    struct jacobian base;
    fe inv, zinv, zinv2;
    int rc = CG_ERR;

    if (m == NULL || prefix == NULL)
        goto done;
    memcpy(base.x, p->x, sizeof(fe));
    memcpy(base.y, p->y, sizeof(fe));
    memcpy(base.z, K.p_one, sizeof(fe));
    for (int w = 0; w < windows; w++) {
        struct jacobian *row = m + w * entries;

        row[0] = base;
        point_double(&row[1], &base);
        for (int e = 2; e < entries; e++)
            point_add(&row[e], &row[e - 1], &base);
        point_double(&base, &row[entries - 1]);   /* 2^width times the window's base */
    }
    /* p has prime order n and no multiple here is a multiple of n, so no
     * point is at infinity; checked all the same. */
    for (int k = 0; k < count; k++) {
        if (is_infinity(&m[k]))
            goto done;
        if (k == 0)
            memcpy(prefix[0], m[0].z, sizeof(fe));
        else
            fe_mul(prefix[k], prefix[k - 1], m[k].z);
    }
    fe_inv(inv, prefix[count - 1]);
    for (int k = count - 1; k >= 0; k--) {
        struct affine *a = &out[k];

        if (k > 0) {
            fe_mul(zinv, inv, prefix[k - 1]);
            fe_mul(inv, inv, m[k].z);
        } else {
            memcpy(zinv, inv, sizeof(fe));
        }
        fe_sqr(zinv2, zinv);
        fe_mul(a->x, m[k].x, zinv2);
        fe_mul(zinv2, zinv2, zinv);
        fe_mul(a->y, m[k].y, zinv2);
    }
    rc = CG_OK;
done:
    free(m);
    free(prefix);
    return rc;
}

static void init_constants(void)
{
    static const uint64_t zero[4] = {0, 0, 0, 0};
    struct affine g;
    fe b;

    sub4(K.p_one, zero, P);   /* 2^256 - p */
    sub4(K.n_one, zero, N);
    montgomery_rr(K.p_rr, K.p_one, P);
    montgomery_rr(K.n_rr, K.n_one, N);
    sub4(K.p_minus_n, P, N);
    from_bytes(b, B_BYTES);
    fe_mul(K.b, b, K.p_rr);
    K.ok = decode_point(&g, G_BYTES) && fill_table(&K.g[0][0], &g, G_WIDTH) == CG_OK;
}

static bool constants(void)
{
    pthread_once(&k_once, init_constants);
    return K.ok;
}

size_t cg_p256_table_bytes(void)
{
    return sizeof(struct cg_p256_table);
}

int cg_p256_table_new(const uint8_t point[CG_P256_POINT_BYTES], struct cg_p256_table **out)
{
    struct cg_p256_table *t = NULL;
    struct affine q;

    *out = NULL;
    if (!constants() || !decode_point(&q, point))
        return CG_ERR;
    if ((t = aligned_alloc(_Alignof(struct cg_p256_table), sizeof(*t))) == NULL)
        return CG_ERR;
    if (fill_table(&t->t[0][0], &q, Q_WIDTH) != CG_OK) {
        free(t);
        return CG_ERR;
    }
    *out = t;
    return CG_OK;
}

void cg_p256_table_free(struct cg_p256_table *t)
{
    free(t);
}

/* ---- verification -------------------------------------------------------- */

/* k (< n) as ceil(257/width) signed digits d_i in [-2^(width-1) + 1,
 * 2^(width-1)], k = sum d_i·2^(width·i); 16 bits each, so that a width of 8
 * (a top digit of 128) still fits. */
static void recode(int16_t *d, const uint64_t k[4], int width)
{
    const unsigned windows = WINDOWS_OF(width), half = 1u << (width - 1), mask = (1u << width) - 1;
    unsigned carry = 0;

    for (unsigned i = 0; i < windows; i++) {
        unsigned bit = (unsigned)width * i, limb = bit / 64, off = bit % 64, w = 0;

        if (limb < 4) {
            uint64_t v = k[limb] >> off;

            if (off + (unsigned)width > 64 && limb < 3)
                v |= k[limb + 1] << (64 - off);
            w = (unsigned)v & mask;
        }
        w += carry;
        carry = w > half;
        d[i] = (int16_t)(carry ? (int)w - (int)(mask + 1) : (int)w);
    }
}

/* The entries a verification adds, in order: the digit d of a window is
 * entry |d| - 1 of the window's row, negated when d < 0; 0 adds nothing. */
struct term {
    const struct affine *p;
    bool neg;
};

static unsigned collect(struct term *out, const struct affine *rows, unsigned row_len,
                        const int16_t *d, unsigned windows)
{
    unsigned n = 0;

    for (unsigned i = 0; i < windows; i++, rows += row_len)
        if (d[i] != 0) {
            out[n].p = &rows[(d[i] > 0 ? d[i] : -d[i]) - 1];
            out[n++].neg = d[i] < 0;
        }
    return n;
}

/* How many entries ahead of the addition their loads are started: under
 * load the tables (53 KB per key, 151 KB for the base point) are mostly
 * out of the nearer caches by the next verification, and an addition is
 * long enough to hide a load from memory behind it. */
#define PREFETCH_AHEAD 4

int cg_p256_verify(const struct cg_p256_table *q, const uint8_t *digest, size_t digest_len,
                   const uint8_t r_bytes[CG_P256_SCALAR_BYTES], const uint8_t s_bytes[CG_P256_SCALAR_BYTES])
{
    uint64_t r[4], s[4], e[4], w[4], u1[4], u2[4];
    uint8_t e_bytes[32] = {0};
    int16_t d1[WINDOWS_OF(G_WIDTH)], d2[WINDOWS_OF(Q_WIDTH)];
    struct term terms[WINDOWS_OF(G_WIDTH) + WINDOWS_OF(Q_WIDTH)];
    unsigned n_terms;
    struct jacobian acc;
    fe z2, t;

    if (!constants())
        return 0;
    from_bytes(r, r_bytes);
    from_bytes(s, s_bytes);
    if (is_zero(r) || is_zero(s) || !less(r, N) || !less(s, N))
        return 0;
    /* The digest's leftmost 256 bits, as a number; then mod n. */
    if (digest_len > 32)
        digest_len = 32;
    memcpy(e_bytes + 32 - digest_len, digest, digest_len);
    from_bytes(e, e_bytes);
    if (!less(e, N))
        sub4(e, e, N);

    /* w = s⁻¹, into Montgomery form (s⁻¹·2^256); then the Montgomery
     * products u1 = e·s⁻¹ and u2 = r·s⁻¹ come out plain. */
    sc_inv(w, s);
    sc_mul(w, w, K.n_rr);
    sc_mul(u1, e, w);
    sc_mul(u2, r, w);

    recode(d1, u1, G_WIDTH);
    recode(d2, u2, Q_WIDTH);
    n_terms = collect(terms, &K.g[0][0], ENTRIES_OF(G_WIDTH), d1, WINDOWS_OF(G_WIDTH));
    n_terms += collect(terms + n_terms, &q->t[0][0], ENTRIES_OF(Q_WIDTH), d2, WINDOWS_OF(Q_WIDTH));
    for (unsigned i = 0; i < n_terms && i < PREFETCH_AHEAD; i++)
        __builtin_prefetch(terms[i].p);
    set_infinity(&acc);
    for (unsigned i = 0; i < n_terms; i++) {
        if (i + PREFETCH_AHEAD < n_terms)
            __builtin_prefetch(terms[i + PREFETCH_AHEAD].p);
        point_add_affine(&acc, terms[i].p, terms[i].neg);
    }
    if (is_infinity(&acc))
        return 0;

    /* x = X/Z² mod p; valid when x mod n == r, that is x == r or, when
     * r + n < p, x == r + n. */
    fe_sqr(z2, acc.z);
    fe_mul(t, r, K.p_rr);
    fe_mul(t, t, z2);
    if (equal(t, acc.x))
        return 1;
    if (less(r, K.p_minus_n)) {
        add4(t, r, N);
        fe_mul(t, t, K.p_rr);
        fe_mul(t, t, z2);
        if (equal(t, acc.x))
            return 1;
    }
    return 0;
}
