/*
 * verify_revocation.c: see verify_revocation.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cert/ocsp.h"
#include "cert/revocation.h"
#include "cli/verify_revocation.h"
#include "core/common.h"

#define OCSP_RESPONSE_MAX (1u << 20)   /* a response is a few KiB; 1 MiB is generous */

struct cg_verify_rev {
    cg_verify_rev_mode_t mode;
    bool offline;
    unsigned char *der;
    struct cg_rev_offline_ocsp off;
    struct cg_rev_online on;
    struct cg_fetcher *fetcher;
    struct cg_revcache *cache;
};

static int read_file(const char *path, size_t max, unsigned char **out, size_t *len, char **err)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    unsigned char *buf = NULL;
    int rc = CG_ERR;

    if (f == NULL)
        return cg_set_err(err, "%s: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        cg_set_err(err, "%s: not a regular file", path);
        goto out;
    }
    if ((size_t)st.st_size > max || st.st_size == 0) {
        cg_set_err(err, "%s: %s (limit %zu bytes)", path, st.st_size ? "too large" : "empty",
                   max);
        goto out;
    }
    buf = malloc((size_t)st.st_size);
    if (buf == NULL || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        cg_set_err(err, "%s: cannot read", path);
        goto out;
    }
    *out = buf;
    *len = (size_t)st.st_size;
    buf = NULL;
    rc = CG_OK;
out:
    free(buf);
    fclose(f);
    return rc;
}

int cg_verify_rev_setup(const struct cg_verify_rev_args *a, const struct cg_trust *trust,
                        struct cg_policy *policy, struct cg_verify_rev **out, char **err)
{
    struct cg_verify_rev *r;

    *out = NULL;
    if (a->mode != CG_VERIFY_REV_OCSP && a->mode != CG_VERIFY_REV_ONLINE) {
        if (a->ocsp_response != NULL)
            return cg_set_err(err, "--ocsp-response needs --revocation ocsp");
        return CG_OK;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return cg_set_err(err, "out of memory");
    r->mode = a->mode;
    if (a->mode == CG_VERIFY_REV_OCSP && a->ocsp_response != NULL) {
        r->offline = true;
        if (read_file(a->ocsp_response, OCSP_RESPONSE_MAX, &r->der, &r->off.len, err) != CG_OK)
            goto fail;
        r->off.der = r->der;
        r->off.max_age = a->max_ocsp_age;
        r->off.stale_grace = a->stale_grace;
        r->off.clock_skew = a->clock_skew;
        policy->revocation_hook = cg_revocation_offline_ocsp;
        policy->revocation_arg = &r->off;
    } else {
        struct cg_fetch_opts fo = {.timeout_ms = a->timeout_ms, .max_bytes = a->max_crl_bytes};
        struct cg_revcache_opts co = {.state_dir = a->state_dir,
                                      .stale_grace_s = a->stale_grace,
                                      .max_bytes = a->max_crl_bytes};
        r->fetcher = cg_fetcher_new(&fo, err);
        if (r->fetcher == NULL)
            goto fail;
        r->cache = cg_revcache_new(&co, err);
        if (r->cache == NULL)
            goto fail;
        r->on = (struct cg_rev_online){
            .fetcher = r->fetcher,
            .cache = r->cache,
            .trust = trust,
            .use_ocsp = true,
            .use_crl = a->mode == CG_VERIFY_REV_ONLINE,
            .ocsp_responder = a->ocsp_responder,
            .max_ocsp_age = a->max_ocsp_age,
            .stale_grace = a->stale_grace,
            .clock_skew = a->clock_skew,
            .max_crl_bytes = a->max_crl_bytes,
            .ocsp_nonce = a->ocsp_nonce,
        };
        policy->revocation_hook = cg_revocation_online;
        policy->revocation_arg = &r->on;
    }
    /* The hook answers for the local CRLs too (online), or they are not
     * the question (ocsp): OpenSSL's own CRL check stays off. */
    policy->revocation = CG_REVOCATION_OFF;
    *out = r;
    return CG_OK;
fail:
    cg_verify_rev_free(r);
    return CG_ERR;
}

static void iso(time_t t, char out[32])
{
    struct tm tm;
    if (t == 0 || gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        strcpy(out, "none");
}

void cg_verify_rev_print(FILE *f, const struct cg_verify_rev *r, const struct cg_verdict *v)
{
    if (r == NULL)
        return;
    fprintf(f, "\nRevocation (%s):\n", r->offline ? "OCSP response file"
                                      : r->mode == CG_VERIFY_REV_ONLINE ? "online: OCSP, then CRLs"
                                                                        : "online: OCSP");
    for (size_t i = 0; i < v->path_len; i++) {
        const struct cg_path_element *e = &v->path[i];
        const struct cg_revocation_info *ri = &e->revocation;
        const char *p = ri->tried;
        char t1[32], t2[32];

        if (ri->source == CG_REV_SOURCE_NONE && ri->tried == NULL)
            continue;
        iso(ri->this_update, t1);
        iso(ri->next_update, t2);
        fprintf(f, "  [%zu] %s\n      %s", i, e->subject, cg_rev_status_slug(ri->status));
        if (ri->source != CG_REV_SOURCE_NONE)
            fprintf(f, " from %s, thisUpdate %s, nextUpdate %s%s",
                    cg_rev_source_slug(ri->source), t1, t2, ri->stale ? " (stale, within grace)" : "");
        fputc('\n', f);
        while (p != NULL && *p != '\0') {
            const char *end = strstr(p, "; ");
            int n = end ? (int)(end - p) : (int)strlen(p);
            fprintf(f, "      - %.*s\n", n, p);
            p = end ? end + 2 : NULL;
        }
    }
}

void cg_verify_rev_free(struct cg_verify_rev *r)
{
    if (r == NULL)
        return;
    cg_fetcher_free(r->fetcher);
    cg_revcache_free(r->cache);
    free(r->der);
    free(r);
}
