/*
 * gen.c: a generation is a config snapshot and what is built from it
 * (SSL_CTXs, opened document roots), made to the side and swapped whole.
 */
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/log.h"
#include "server/admin.h"
#include "server/internal.h"

static void gen_free(struct cg_gen *g)
{
    if (g == NULL)
        return;
    if (g->conf != NULL) {
        for (size_t i = 0; g->tls != NULL && i < g->conf->n_listeners; i++)
            cg_tls_listener_free(g->tls[i]);
        for (size_t i = 0; g->roots != NULL && i < g->conf->n_sites; i++)
            cg_static_root_close(g->roots[i]);
    }
    free(g->tls);
    free(g->roots);
    free(g->metric_slot);
    cg_trust_unref(g->trust);
    cg_conf_unref(g->conf);
    free(g);
}

/* Whether some TLS binding of `conf` sends the root store's names. */
static bool sends_ca_list(const struct cg_conf *conf)
{
    for (size_t i = 0; i < conf->n_sites; i++) {
        for (size_t j = 0; j < conf->sites[i].n_bindings; j++) {
            const struct cg_conf_binding *b = &conf->sites[i].bindings[j];
            if (b->tls && b->negotiate_client_certificate && b->ca_list == CG_CA_LIST_ROOTS)
                return true;
        }
    }
    return false;
}

/*
 * The CertificateRequest CA list of this generation. A long list costs every
 * handshake that asks (and some clients choke on one), so it is warned about
 * above limits.client_ca_list_warn and refused above client_ca_list_max;
 * TLS cannot carry more than 65535 bytes of it at all.
 */
static int build_ca_list(const struct cg_conf *conf, struct cg_trust *trust,
                         STACK_OF(X509_NAME) **names, char **err)
{
    size_t encoded = 0, max = conf->limits.client_ca_list_max;

    *names = NULL;
    if (trust == NULL || !sends_ca_list(conf))
        return CG_OK;
    if (cg_tls_ca_names(cg_trust_roots(trust), names, &encoded) != CG_OK)
        return cg_set_err(err, "client CA list: out of memory");
    if (max > 65535)
        max = 65535;
    if (encoded > max) {
        sk_X509_NAME_pop_free(*names, X509_NAME_free);
        *names = NULL;
        return cg_set_err(err,
                          "client CA list: the %d names of %s/root take %zu bytes, over "
                          "limits.client_ca_list_max (%zu bytes): set `client_ca_list: empty` "
                          "on the bindings that negotiate client certificates, or trim the "
                          "root store",
                          sk_X509_num(cg_trust_roots(trust)), cg_trust_dir(trust), encoded, max);
    }
    if (encoded > conf->limits.client_ca_list_warn)
        cg_log(CG_LOG_WARN,
               "client CA list: the %d names of %s/root take %zu bytes in every "
               "CertificateRequest, over limits.client_ca_list_warn (%zu bytes); some clients "
               "fail on long lists: consider `client_ca_list: empty` or fewer roots",
               sk_X509_num(cg_trust_roots(trust)), cg_trust_dir(trust), encoded,
               conf->limits.client_ca_list_warn);
    return CG_OK;
}

static bool checks_revocation(const struct cg_conf *conf)
{
    for (size_t i = 0; i < conf->n_sites; i++) {
        if (conf->sites[i].revocation.mode != CG_CONF_REVOCATION_OFF)
            return true;
    }
    return false;
}

static void refresh_note(int level, const char *line)
{
    cg_log(level, "%s", line);
}

/*
 * The fetcher, the answer cache and its background refresh, made once per
 * process by the first config that checks revocation and kept across
 * reloads. What is per site is not fixed here: each request passes its
 * site's `timeout` with every fetch it starts and its site's `refresh` and
 * `stale_grace` with every cache read (see rev_online in conn.c), so a
 * reload's values apply at once. What stays from that first config: the
 * fetcher's default timeout (the longest of its sites; used by fetches
 * that name none), its size limit (the largest of the sites'
 * max_crl_size; a site with a smaller one refuses a bigger CRL when it is
 * indexed), the cache's default refresh (the global one), the grace
 * within which the background refresh still works on an answer past its
 * nextUpdate and the clock_skew it allows an OCSP answer's thisUpdate (the
 * widest of the sites; a request judges the answer kept again with its
 * site's own). A reload that changes the default timeout, that grace or
 * that skew logs a warning: a restart applies them.
 */
static int revocation_setup(struct cg_server *srv, const struct cg_conf *conf, char **err)
{
    struct cg_fetch_opts fo;
    struct cg_revcache_opts co;
    struct cg_rev_refresher_opts ro;
    long skew_s = 0;
    char *e = NULL;

    if (!checks_revocation(conf))
        return CG_OK;
    memset(&fo, 0, sizeof(fo));
    memset(&co, 0, sizeof(co));
    memset(&ro, 0, sizeof(ro));
    co.state_dir = conf->state_dir;
    co.refresh_s = conf->revocation.refresh_s;
    for (size_t i = 0; i < conf->n_sites; i++) {
        const struct cg_conf_revocation *r = &conf->sites[i].revocation;
        if (r->mode == CG_CONF_REVOCATION_OFF)
            continue;
        if (r->timeout_ms > fo.timeout_ms)
            fo.timeout_ms = r->timeout_ms;
        if (r->stale_grace_s > co.stale_grace_s)
            co.stale_grace_s = r->stale_grace_s;
        if (r->clock_skew_s > skew_s)
            skew_s = r->clock_skew_s;
        if (r->max_crl_bytes > fo.max_bytes)
            fo.max_bytes = r->max_crl_bytes;
    }
    if (srv->fetcher != NULL) {
        /* Requests pass their site's own timeout and grace, so a reload
         * applies those at once; what stays is the default of fetches that
         * name none and the grace of the background refresh. */
        if (fo.timeout_ms != srv->rev_timeout_ms || co.stale_grace_s != srv->rev_grace_s ||
            skew_s != srv->rev_skew_s)
            cg_log(CG_LOG_WARN,
                   "reload: the revocation fetcher's default timeout (%u ms, now %u ms) or the "
                   "background refresh's stale_grace (%ld s, now %ld s) or clock_skew (%ld s, "
                   "now %ld s), the widest of the sites, changed: restart to apply",
                   srv->rev_timeout_ms, fo.timeout_ms, srv->rev_grace_s, co.stale_grace_s,
                   srv->rev_skew_s, skew_s);
        return CG_OK;
    }
    srv->rev_timeout_ms = fo.timeout_ms;
    srv->rev_grace_s = co.stale_grace_s;
    srv->rev_skew_s = skew_s;
    /* What the fetcher may receive, the cache may keep (and read back). */
    co.max_bytes = fo.max_bytes;
    srv->revcache = cg_revcache_new(&co, &e);
    if (srv->revcache == NULL)
        goto fail;
    srv->fetcher = cg_fetcher_new(&fo, &e);
    if (srv->fetcher == NULL)
        goto fail;
    ro.fetcher = srv->fetcher;
    ro.cache = srv->revcache;
    ro.stale_grace_s = co.stale_grace_s;
    ro.clock_skew_s = skew_s;
    ro.note = refresh_note;
    srv->refresher = cg_revocation_refresher_start(&ro, &e);
    if (srv->refresher == NULL)
        goto fail;
    cg_log(CG_LOG_INFO,
           "revocation: fetcher started (timeout %u ms, answers up to %zu bytes), %zu answers "
           "reloaded from %s",
           fo.timeout_ms, fo.max_bytes, cg_revcache_count(srv->revcache),
           conf->state_dir != NULL ? conf->state_dir : "(memory only)");
    return CG_OK;
fail:
    cg_set_err(err, "revocation: %s", e != NULL ? e : "cannot start");
    free(e);
    cg_fetcher_free(srv->fetcher);
    srv->fetcher = NULL;
    cg_revcache_free(srv->revcache);
    srv->revcache = NULL;
    return CG_ERR;
}

int cg_gen_build(struct cg_server *srv, struct cg_conf *conf, struct cg_gen **out, char **err)
{
    struct cg_gen *g = NULL;
    struct cg_tls_opts topts;
    int rc = CG_ERR;

    *out = NULL;
    memset(&topts, 0, sizeof(topts));
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        return cg_set_err(err, "out of memory");
    atomic_init(&g->refs, 1);
    g->conf = cg_conf_ref(conf);
    for (size_t i = 0; i < CG_SERVER_MAX_LISTENERS; i++)
        g->by_socket[i] = CG_GEN_UNUSED;
    g->tls = calloc(conf->n_listeners ? conf->n_listeners : 1, sizeof(*g->tls));
    g->roots = calloc(conf->n_sites ? conf->n_sites : 1, sizeof(*g->roots));
    if (g->tls == NULL || g->roots == NULL) {
        cg_set_err(err, "out of memory");
        goto done;
    }
    /* The stores first: the TLS contexts take their CA list and their
     * session id context from the root store. */
    if (conf->stores != NULL) {
        char *e = NULL;
        g->trust = cg_trust_load_dir(conf->stores, &e);
        if (g->trust == NULL) {
            cg_set_err(err, "stores: %s", e != NULL ? e : "cannot load");
            free(e);
            goto done;
        }
    }
    if (build_ca_list(conf, g->trust, &topts.ca_names, err) != CG_OK)
        goto done;
    if (srv != NULL && srv->metrics != NULL) {
        g->metric_slot = calloc(conf->n_sites ? conf->n_sites : 1, sizeof(*g->metric_slot));
        if (g->metric_slot == NULL || cg_admin_site_slots(srv, conf, g->metric_slot) != CG_OK) {
            cg_set_err(err, "out of memory");
            goto done;
        }
    }
    if (srv != NULL) {
        if (revocation_setup(srv, conf, err) != CG_OK)
            goto done;
        if (checks_revocation(conf)) {
            g->fetcher = srv->fetcher;
            g->revcache = srv->revcache;
        }
    }
    if (cg_tls_anchors_digest(g->trust != NULL ? cg_trust_roots(g->trust) : NULL,
                              topts.anchors) != CG_OK) {
        cg_set_err(err, "out of memory");
        goto done;
    }
    topts.sessions = srv != NULL ? srv->sessions : NULL;
    for (size_t i = 0; i < conf->n_listeners; i++) {
        if (!conf->listeners[i].tls)
            continue;
        if (cg_tls_listener_new(conf, &conf->listeners[i], &topts, &g->tls[i], err) != CG_OK)
            goto done;
    }
    for (size_t i = 0; i < conf->n_sites; i++) {
        char *e = NULL;
        if (conf->sites[i].root == NULL)
            continue;
        if (cg_static_root_open(conf->sites[i].root, conf->sites[i].follow_symlinks,
                                &g->roots[i], &e) != CG_OK) {
            cg_set_err(err, "site %s: root %s: %s", conf->sites[i].name, conf->sites[i].root,
                       e != NULL ? e : "cannot open");
            free(e);
            goto done;
        }
    }
    *out = g;
    g = NULL;
    rc = CG_OK;
done:
    sk_X509_NAME_pop_free(topts.ca_names, X509_NAME_free);
    gen_free(g);
    return rc;
}

struct cg_gen *cg_gen_ref(struct cg_gen *g)
{
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
    return g;
}

void cg_gen_unref(struct cg_gen *g)
{
    if (g == NULL)
        return;
    if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
        gen_free(g);
}
