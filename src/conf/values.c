/* values.c: durations, sizes, booleans and listen addresses. */
#include "conf/values.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "core/common.h"

/* Reads leading digits into *out; returns the number of digits read (0 when
 * none) or -1 on overflow. */
static int read_digits(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;

    while (s[n] >= '0' && s[n] <= '9') {
        unsigned d = (unsigned)(s[n] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        n++;
    }
    *out = v;
    return n;
}

/* Multiplies with overflow detection. */
static int mul_checked(uint64_t v, uint64_t by, uint64_t *out)
{
    if (by != 0 && v > UINT64_MAX / by)
        return CG_CONF_RANGE;
    *out = v * by;
    return CG_OK;
}

int cg_conf_parse_uint(const char *s, uint64_t *out)
{
    int n = read_digits(s, out);

    if (n < 0)
        return CG_CONF_RANGE;
    if (n == 0 || s[n] != '\0')
        return CG_ERR;
    return CG_OK;
}

int cg_conf_parse_duration_ms(const char *s, uint64_t *ms)
{
    static const struct { const char *suffix; uint64_t ms; } units[] = {
        {"ms", 1}, {"s", 1000}, {"", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
    };
    uint64_t v;
    int n = read_digits(s, &v);

    if (n < 0)
        return CG_CONF_RANGE;
    if (n == 0)
        return CG_ERR;
    for (size_t i = 0; i < CG_ARRAY_LEN(units); i++) {
        if (strcmp(s + n, units[i].suffix) == 0)
            return mul_checked(v, units[i].ms, ms);
    }
    return CG_ERR;
}

int cg_conf_parse_size(const char *s, uint64_t *bytes)
{
    uint64_t v, mult;
    int n = read_digits(s, &v);

    if (n < 0)
        return CG_CONF_RANGE;
    if (n == 0)
        return CG_ERR;
    switch (s[n]) {
    case '\0': mult = 1; break;
    case 'k': case 'K': mult = 1024; break;
    case 'm': case 'M': mult = 1024 * 1024; break;
    case 'g': case 'G': mult = 1024 * 1024 * 1024; break;
    default: return CG_ERR;
    }
    if (s[n] != '\0' && s[n + 1] != '\0')
        return CG_ERR;
    return mul_checked(v, mult, bytes);
}

int cg_conf_parse_bool(const char *s, bool *out)
{
    if (strcmp(s, "true") == 0) {
        *out = true;
        return CG_OK;
    }
    if (strcmp(s, "false") == 0) {
        *out = false;
        return CG_OK;
    }
    return CG_ERR;
}

static int parse_port(const char *s, in_port_t *port)
{
    uint64_t v;
    int rc = cg_conf_parse_uint(s, &v);

    if (rc == CG_CONF_RANGE || (rc == CG_OK && v > 65535))
        return CG_CONF_RANGE;
    if (rc != CG_OK || strlen(s) > 5)   /* "000080" is not a port anyone means */
        return CG_ERR;
    *port = htons((uint16_t)v);
    return CG_OK;
}

int cg_conf_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon;
    size_t hlen;
    in_port_t port;
    int rc;

    memset(ss, 0, sizeof(*ss));
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

        if (close == NULL || close[1] != ':')
            return CG_ERR;
        hlen = (size_t)(close - s - 1);
        if (hlen == 0 || hlen >= sizeof(host))
            return CG_ERR;
        memcpy(host, s + 1, hlen);
        host[hlen] = '\0';
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
            return CG_ERR;
        if ((rc = parse_port(close + 2, &port)) != CG_OK)
            return rc;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = port;
        *len = sizeof(*a6);
        return CG_OK;
    }

    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    colon = strchr(s, ':');
    if (colon == NULL || strchr(colon + 1, ':') != NULL)
        return CG_ERR;
    hlen = (size_t)(colon - s);
    if (hlen == 0 || (hlen == 1 && s[0] == '*')) {
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
    } else {
        if (hlen >= sizeof(host))
            return CG_ERR;
        memcpy(host, s, hlen);
        host[hlen] = '\0';
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
            return CG_ERR;
    }
    if ((rc = parse_port(colon + 1, &port)) != CG_OK)
        return rc;
    a4->sin_family = AF_INET;
    a4->sin_port = port;
    *len = sizeof(*a4);
    return CG_OK;
}

bool cg_conf_addr_equal(const struct sockaddr *a, socklen_t alen,
                        const struct sockaddr *b, socklen_t blen)
{
    if (a == NULL || b == NULL || alen < (socklen_t)sizeof(sa_family_t) ||
        blen < (socklen_t)sizeof(sa_family_t) || a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        if (alen < (socklen_t)sizeof(*x) || blen < (socklen_t)sizeof(*y))
            return false;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        if (alen < (socklen_t)sizeof(*x) || blen < (socklen_t)sizeof(*y))
            return false;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return false;
}

void cg_conf_addr_format(const struct sockaddr *a, socklen_t alen, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];

    if (size == 0)
        return;
    buf[0] = '\0';
    if (a == NULL)
        return;
    if (a->sa_family == AF_INET && alen >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *x = (const void *)a;
        inet_ntop(AF_INET, &x->sin_addr, host, sizeof(host));
        snprintf(buf, size, "%s:%u", host, (unsigned)ntohs(x->sin_port));
    } else if (a->sa_family == AF_INET6 && alen >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *x = (const void *)a;
        inet_ntop(AF_INET6, &x->sin6_addr, host, sizeof(host));
        snprintf(buf, size, "[%s]:%u", host, (unsigned)ntohs(x->sin6_port));
    }
}

void cg_conf_duration_format(uint64_t ms, char *buf, size_t size)
{
    static const struct { const char *suffix; uint64_t ms; } units[] = {
        {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000},
    };

    for (size_t i = 0; i < CG_ARRAY_LEN(units); i++) {
        if (ms != 0 && ms % units[i].ms == 0) {
            snprintf(buf, size, "%llu%s", (unsigned long long)(ms / units[i].ms), units[i].suffix);
            return;
        }
    }
    if (ms == 0)
        snprintf(buf, size, "0s");
    else
        snprintf(buf, size, "%llums", (unsigned long long)ms);
}

void cg_conf_size_format(uint64_t bytes, char *buf, size_t size)
{
    static const struct { const char *suffix; uint64_t mult; } units[] = {
        {"G", 1024ull * 1024 * 1024}, {"M", 1024 * 1024}, {"k", 1024},
    };

    for (size_t i = 0; i < CG_ARRAY_LEN(units); i++) {
        if (bytes != 0 && bytes % units[i].mult == 0) {
            snprintf(buf, size, "%llu%s", (unsigned long long)(bytes / units[i].mult),
                     units[i].suffix);
            return;
        }
    }
    snprintf(buf, size, "%llu", (unsigned long long)bytes);
}
