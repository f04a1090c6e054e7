/*
 * der.h: a minimal, strict DER reader shared by the OCSP judge and the CRL
 * index. It reads TLVs with definite, minimally encoded lengths and never
 * reads outside [p, end); it does not interpret values beyond what the
 * helpers below name. Internal to src/cert/.
 */
#ifndef CG_CERT_DER_H
#define CG_CERT_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

struct cg_der {
    const unsigned char *p, *end;
};

/* One TLV: `tlv` spans tag to end of value (for re-parsing with OpenSSL). */
struct cg_tlv {
    unsigned tag;
    const unsigned char *val, *tlv;
    size_t len, tlv_len;
};

/* Reads one TLV with DER length rules (definite, minimal, < 4 GiB). */
bool cg_der_next(struct cg_der *d, struct cg_tlv *t);

static inline bool cg_der_expect(struct cg_der *d, unsigned tag, struct cg_tlv *t)
{
    return cg_der_next(d, t) && t->tag == tag;
}

/* Is the next TLV's tag `tag`? */
static inline bool cg_der_peek(const struct cg_der *d, unsigned tag)
{
    return d->p < d->end && *d->p == tag;
}

static inline struct cg_der cg_der_in(const struct cg_tlv *t)
{
    return (struct cg_der){t->val, t->val + t->len};
}

static inline bool cg_der_done(const struct cg_der *d)
{
    return d->p == d->end;
}

static inline bool cg_tlv_eq(const struct cg_tlv *t, const unsigned char *v, size_t n)
{
    return t->len == n && memcmp(t->val, v, n) == 0;
}

/* UTCTime (tag 0x17, YYMMDDHHMMSSZ, 1950..2049) or GeneralizedTime (0x18,
 * YYYYMMDDHHMMSS[.f]Z) to seconds since the epoch. */
bool cg_der_time(const struct cg_tlv *t, time_t *out);

#endif
