/*
 * der.c: the strict DER reader of der.h.
 */
#include <stdint.h>

#include "cert/der.h"

bool cg_der_next(struct cg_der *d, struct cg_tlv *t)
{
    const unsigned char *q = d->p;
    size_t len;

    if (d->end - q < 2)
        return false;
    t->tlv = q;
    t->tag = *q++;
    if ((t->tag & 0x1f) == 0x1f)   /* no high tag numbers in what we read */
        return false;
    len = *q++;
    if (len & 0x80) {
        size_t n = len & 0x7f;
        if (n == 0 || n > 4 || (size_t)(d->end - q) < n || q[0] == 0)
            return false;
        len = 0;
        for (size_t i = 0; i < n; i++)
            len = (len << 8) | *q++;
        if (len < 0x80)
            return false;
    }
    if ((size_t)(d->end - q) < len)
        return false;
    t->val = q;
    t->len = len;
    t->tlv_len = (size_t)(q + len - t->tlv);
    d->p = q + len;
    return true;
}

/* days since 1970-01-01 of a civil date (proleptic Gregorian) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const unsigned char *s, unsigned n, unsigned *out)
{
    *out = 0;
    for (unsigned i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *out = *out * 10 + (unsigned)(s[i] - '0');
    }
    return true;
}

bool cg_der_time(const struct cg_tlv *t, time_t *out)
{
    static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h, mi, s;
    size_t i;

    if (t->tag == 0x17) {   /* UTCTime: RFC 5280 4.1.2.5.1 */
        if (t->len != 13 || t->val[12] != 'Z' || !digits(t->val, 2, &y))
            return false;
        y += y < 50 ? 2000 : 1900;
        i = 2;
    } else if (t->tag == 0x18) {
        if (t->len < 15 || !digits(t->val, 4, &y))
            return false;
        i = 4;
    } else {
        return false;
    }
    if (!digits(t->val + i, 2, &mo) || !digits(t->val + i + 2, 2, &d) ||
        !digits(t->val + i + 4, 2, &h) || !digits(t->val + i + 6, 2, &mi) ||
        !digits(t->val + i + 8, 2, &s))
        return false;
    i += 10;
    /* Fractions: RFC 5280 forbids them, some OCSP responders send them,
     * and they carry no risk. */
    if (t->tag == 0x18 && i < t->len && t->val[i] == '.') {
        i++;
        if (i >= t->len || t->val[i] < '0' || t->val[i] > '9')
            return false;
        while (i < t->len && t->val[i] >= '0' && t->val[i] <= '9')
            i++;
    }
    if (i + 1 != t->len || t->val[i] != 'Z')
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || s > 59)
        return false;
    *out = (time_t)(days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + mi * 60 + s);
    return true;
}
