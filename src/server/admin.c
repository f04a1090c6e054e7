/*
 * admin.c: the server's metrics table and the /metrics page (see admin.h).
 */
#include "server/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert/ecdsa_tables.h"
#include "cert/rev_stats.h"
#include "cert/vcache.h"
#include "core/common.h"
#include "server/internal.h"
#include "tls/cert_reuse.h"
#include "tls/fetch_cache.h"
#include "tls/session_cache.h"

int cg_admin_metrics_new(struct cg_server *srv, const struct cg_conf *conf, char **err)
{
    size_t max = conf->admin.max_sites > 0 ? conf->admin.max_sites : 1;
    size_t n = CG_M_SITES + (CG_M_SITE_FIRST + max) * CG_M_PER_SITE;

    srv->metrics = cg_metrics_new(n, srv->n_workers);
    srv->metric_sites = calloc(max, sizeof(*srv->metric_sites));
    if (srv->metrics == NULL || srv->metric_sites == NULL)
        return cg_set_err(err, "out of memory");
    srv->max_metric_sites = max;
    return CG_OK;
}

void cg_admin_metrics_free(struct cg_server *srv)
{
    for (size_t i = 0; i < srv->n_metric_sites; i++)
        free(srv->metric_sites[i]);
    free(srv->metric_sites);
    srv->metric_sites = NULL;
    srv->n_metric_sites = 0;
    cg_metrics_free(srv->metrics);
    srv->metrics = NULL;
}

int cg_admin_site_slots(struct cg_server *srv, const struct cg_conf *conf, size_t *slots)
{
    for (size_t i = 0; i < conf->n_sites; i++) {
        const char *name = conf->sites[i].name;
        size_t k;

        for (k = 0; k < srv->n_metric_sites; k++) {
            if (strcmp(srv->metric_sites[k], name) == 0)
                break;
        }
        if (k == srv->n_metric_sites && k < srv->max_metric_sites) {
            if ((srv->metric_sites[k] = strdup(name)) == NULL)
                return CG_ERR;
            srv->n_metric_sites++;
        }
        slots[i] = k < srv->n_metric_sites ? CG_M_SITE_FIRST + k : CG_M_SITE_OTHER;
    }
    return CG_OK;
}

/* ---- rendering ------------------------------------------------------------- */

struct slot_label {
    const char *name;
    size_t slot;
};

/* The site label values to show: the sites of this configuration, then
 * (none), then (other) when some site of it has no slot of its own. */
static struct slot_label *slot_labels(const struct cg_gen *gen, size_t *n)
{
    const struct cg_conf *conf = gen->conf;
    struct slot_label *l = calloc(conf->n_sites + 2, sizeof(*l));
    bool other = false;

    *n = 0;
    if (l == NULL)
        return NULL;
    for (size_t i = 0; i < conf->n_sites; i++) {
        if (gen->metric_slot[i] == CG_M_SITE_OTHER) {
            other = true;
            continue;
        }
        l[*n].name = conf->sites[i].name;
        l[(*n)++].slot = gen->metric_slot[i];
    }
    l[*n].name = "(none)";
    l[(*n)++].slot = CG_M_SITE_NONE;
    if (other) {
        l[*n].name = "(other)";
        l[(*n)++].slot = CG_M_SITE_OTHER;
    }
    return l;
}

/* Whether error cause `cause` is a refusal (403.x or 421), with its code
 * and slug. */
static bool refusal(int cause, const char **code, const char **slug)
{
    if (cause < CG_REASON__COUNT) {
        cg_reason_t r = (cg_reason_t)cause;
        *code = cg_reason_code(r);
        *slug = cg_reason_slug(r);
        return cg_reason_status(r) == 403;
    }
    cg_http_error_t e = (cg_http_error_t)(cause - CG_REASON__COUNT);
    int status = cg_http_error_status(e);
    *code = cg_http_error_code(e);
    *slug = cg_http_error_slug(e);
    return status == 403 || status == 421;
}

static const char *const hs_fail_slugs[CG_HS_FAIL__COUNT] = {
    [CG_HS_FAIL_NOT_TLS] = "not-tls",
    [CG_HS_FAIL_TIMEOUT] = "timeout",
    [CG_HS_FAIL_CLOSED] = "closed",
    [CG_HS_FAIL_CLIENT_ALERT] = "client-alert",
    [CG_HS_FAIL_PROTOCOL] = "protocol",
    [CG_HS_FAIL_CERT_VERIFY] = "certificate-verify-failed",
};

static void one(struct cg_metrics_text *t, const char *name, const char *type, const char *help,
                uint64_t v)
{
    cg_metrics_family(t, name, type, help);
    cg_metrics_sample(t, name, NULL, 0, v);
}

static void render_http(struct cg_metrics *m, const struct slot_label *sl, size_t n,
                        struct cg_metrics_text *t)
{
    static const char *const classes[CG_M_CLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

    cg_metrics_family(t, "certgate_http_requests_total", "counter",
                      "HTTP requests answered (one per access-log line), by site and status "
                      "class. site=\"(none)\": the request reached no site.");
    for (size_t i = 0; i < n; i++) {
        size_t base = CG_M_SITES + sl[i].slot * CG_M_PER_SITE;
        for (size_t c = 0; c < CG_M_CLASSES; c++) {
            const char *lab[] = {"site", sl[i].name, "status_class", classes[c]};
            cg_metrics_sample(t, "certgate_http_requests_total", lab, 2,
                              cg_metrics_sum(m, base + c));
        }
    }
    cg_metrics_family(t, "certgate_http_refusals_total", "counter",
                      "Requests refused with 403.x or 421, by site, code and reason slug (the "
                      "access log's x-reason).");
    for (size_t i = 0; i < n; i++) {
        size_t base = CG_M_SITES + sl[i].slot * CG_M_PER_SITE + CG_M_CLASSES;
        for (int cause = 0; cause < CG_ERROR_CAUSES; cause++) {
            const char *code, *slug;
            if (!refusal(cause, &code, &slug))
                continue;
            const char *lab[] = {"site", sl[i].name, "code", code, "reason", slug};
            cg_metrics_sample(t, "certgate_http_refusals_total", lab, 3,
                              cg_metrics_sum(m, base + (size_t)cause));
        }
    }
}

static void render_tls(struct cg_server *srv, struct cg_metrics_text *t)
{
    struct cg_metrics *m = srv->metrics;
    struct cg_tls_session_cache_stats ss = {0};
    uint64_t closed = cg_metrics_sum(m, CG_M_CONN_CLOSED);   /* before accepted: open >= 0 */
    uint64_t accepted = cg_metrics_sum(m, CG_M_CONN_ACCEPTED);

    one(t, "certgate_connections_accepted_total", "counter",
        "Client connections accepted on the site listeners (the admin listener not counted).",
        accepted);
    one(t, "certgate_connections_open", "gauge", "Client connections open now (site listeners).",
        accepted >= closed ? accepted - closed : 0);
    cg_metrics_family(t, "certgate_tls_handshakes_total", "counter",
                      "TLS handshakes completed, full or resumed (session id or ticket).");
    {
        const char *full[] = {"type", "full"}, *resumed[] = {"type", "resumed"};
        cg_metrics_sample(t, "certgate_tls_handshakes_total", full, 1,
                          cg_metrics_sum(m, CG_M_TLS_FULL));
        cg_metrics_sample(t, "certgate_tls_handshakes_total", resumed, 1,
                          cg_metrics_sum(m, CG_M_TLS_RESUMED));
    }
    cg_metrics_family(t, "certgate_tls_handshake_failures_total", "counter",
                      "TLS handshakes that failed, by kind.");
    for (size_t k = 0; k < CG_HS_FAIL__COUNT; k++) {
        const char *lab[] = {"kind", hs_fail_slugs[k]};
        cg_metrics_sample(t, "certgate_tls_handshake_failures_total", lab, 1,
                          cg_metrics_sum(m, CG_M_TLS_FAIL + k));
    }
    one(t, "certgate_tls_renegotiations_refused_total", "counter",
        "Client-initiated TLS 1.2 renegotiations refused (no_renegotiation alert sent).",
        cg_metrics_sum(m, CG_M_TLS_RENEG_REFUSED));
    if (srv->sessions != NULL)
        cg_tls_session_cache_stats(srv->sessions, &ss);
    one(t, "certgate_tls_session_cache_entries", "gauge",
        "Sessions held by the server's TLS session cache.", ss.entries);
    one(t, "certgate_tls_session_cache_hits_total", "counter",
        "Session lookups (a client offered a session to resume) that found it.", ss.hits);
    one(t, "certgate_tls_session_cache_misses_total", "counter",
        "Session lookups that did not find it (unknown, evicted or expired).", ss.misses);
}

static void render_revocation(struct cg_metrics *m, struct cg_metrics_text *t)
{
    struct cg_rev_stats rs;

    cg_metrics_family(t, "certgate_revocation_answers_total", "counter",
                      "Revocation statuses the verdicts of client connections used, per "
                      "certificate checked online, by source of the answer and status.");
    for (size_t s = 0; s < CG_M_REV_SOURCES; s++) {
        for (size_t st = 0; st < CG_M_REV_STATUSES; st++) {
            if (s == CG_REV_SOURCE_NONE && st != CG_REV_UNKNOWN)
                continue;   /* without an answer the status can only be unknown */
            const char *lab[] = {"source", cg_rev_source_slug((cg_rev_source_t)s), "status",
                                 cg_rev_status_slug((cg_rev_status_t)st)};
            cg_metrics_sample(t, "certgate_revocation_answers_total", lab, 2,
                              cg_metrics_sum(m, CG_M_REV_ANSWERS + s * CG_M_REV_STATUSES + st));
        }
    }
    cg_rev_stats_get(&rs);
    cg_metrics_family(t, "certgate_revocation_fetches_total", "counter",
                      "OCSP and CRL fetches by outcome: the transfer's, or why the answer it "
                      "brought could not be used.");
    for (size_t src = 0; src < 2; src++) {
        for (size_t i = 0; i < CG_REV_STATS_OUTCOMES; i++) {
            const char *slug = cg_rev_stats_outcome_slug(i);
            bool crl = src == 1;
            if (slug == NULL || (i >= CG_FETCH__COUNT && crl != (i == CG_REV_STATS_CRL_UNUSABLE)))
                continue;
            const char *lab[] = {"source", crl ? "crl" : "ocsp", "outcome", slug};
            cg_metrics_sample(t, "certgate_revocation_fetches_total", lab, 2,
                              crl ? rs.crl[i] : rs.ocsp[i]);
        }
    }
    one(t, "certgate_revocation_parked_requests_total", "counter",
        "Requests parked to wait for revocation answers being fetched.",
        cg_metrics_sum(m, CG_M_REV_PARKED));
    one(t, "certgate_revocation_unknown_allowed_total", "counter",
        "Requests served although a revocation status was unknown (on_unknown: allow).",
        cg_metrics_sum(m, CG_M_REV_UNKNOWN_ALLOWED));
}

static void render_vcache(struct cg_server *srv, struct cg_metrics_text *t)
{
    struct cg_vcache_stats vs;

    memset(&vs, 0, sizeof(vs));
    if (srv->verdicts != NULL)
        cg_vcache_stats(srv->verdicts, &vs);
    one(t, "certgate_verification_cache_hits_total", "counter",
        "Client chains whose verdict came from the verification cache.", vs.hits);
    one(t, "certgate_verification_cache_misses_total", "counter",
        "Client chains judged by the verdict engine (not found, or out of their span).",
        vs.misses);
    one(t, "certgate_verification_cache_evictions_total", "counter",
        "Verdicts dropped to stay within the cache's entry and byte bounds.", vs.evictions);
    one(t, "certgate_verification_cache_entries", "gauge", "Verdicts held now.", vs.entries);
    one(t, "certgate_verification_cache_bytes", "gauge",
        "Memory held by the cached verdicts (estimate).", vs.bytes);
}

static void render_ecdsa_tables(struct cg_metrics_text *t)
{
    struct cg_ecdsa_tables_stats es;

    cg_ecdsa_tables_stats(&es);
    one(t, "certgate_ecdsa_table_verifications_total", "counter",
        "ECDSA P-256 signatures verified with a table of their key.", es.table_verifications);
    one(t, "certgate_ecdsa_key_tables_built_total", "counter",
        "P-256 key tables made (a key at its limits.ecdsa_key_table_uses-th signature on a thread).",
        es.tables_built);
    one(t, "certgate_ecdsa_keys_evicted_total", "counter",
        "P-256 keys dropped to stay within limits.ecdsa_key_tables per thread.", es.keys_evicted);
    one(t, "certgate_ecdsa_key_tables", "gauge", "P-256 key tables held now, all threads.",
        es.tables_held);
}

static void render_cert_reuse(struct cg_metrics_text *t)
{
    struct cg_cert_reuse_stats cs;

    cg_cert_reuse_stats(&cs);
    one(t, "certgate_decoded_certificates_reused_total", "counter",
        "Peer certificates handed to TLS again without decoding (same DER, same thread).",
        cs.reused);
    one(t, "certgate_decoded_certificates_kept_total", "counter",
        "Peer certificates decoded and kept for reuse.", cs.decoded);
    one(t, "certgate_decoded_certificates_evicted_total", "counter",
        "Decoded certificates dropped to stay within limits.decoded_certificates per thread.",
        cs.evicted);
    one(t, "certgate_decoded_certificates", "gauge", "Decoded certificates held now, all threads.",
        cs.held);
}

static void render_fetch_cache(struct cg_metrics_text *t)
{
    struct cg_fetch_cache_stats fs;
    const char *const kdf_thread[] = {"lookup", "kdf-fetch", "answer", "thread"};
    const char *const kdf_openssl[] = {"lookup", "kdf-fetch", "answer", "openssl"};
    const char *const names_thread[] = {"lookup", "keymgmt-names", "answer", "thread"};
    const char *const names_openssl[] = {"lookup", "keymgmt-names", "answer", "openssl"};

    cg_fetch_cache_stats(&fs);
    cg_metrics_family(t, "certgate_openssl_lookups_total", "counter",
                      "OpenSSL lookups repeated per handshake (key-schedule fetches, key managers' "
                      "names): answered by the thread's memory, or passed to OpenSSL.");
    cg_metrics_sample(t, "certgate_openssl_lookups_total", kdf_thread, 2, fs.hits);
    cg_metrics_sample(t, "certgate_openssl_lookups_total", kdf_openssl, 2, fs.misses);
    cg_metrics_sample(t, "certgate_openssl_lookups_total", names_thread, 2, fs.name_hits);
    cg_metrics_sample(t, "certgate_openssl_lookups_total", names_openssl, 2, fs.name_misses);
}

int cg_admin_render(struct cg_server *srv, const struct cg_gen *gen, struct cg_metrics_text *t)
{
    struct slot_label *sl = NULL;
    size_t n = 0;

    if (gen->metric_slot == NULL || (sl = slot_labels(gen, &n)) == NULL)
        return CG_ERR;
    render_http(srv->metrics, sl, n, t);
    render_tls(srv, t);
    render_revocation(srv->metrics, t);
    render_vcache(srv, t);
    render_ecdsa_tables(t);
    render_cert_reuse(t);
    render_fetch_cache(t);
    free(sl);
    return t->overflow ? CG_ERR : CG_OK;
}
