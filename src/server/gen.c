/*
 * gen.c: a generation is a config snapshot and what is built from it
 * (SSL_CTXs, opened document roots), made to the side and swapped whole.
 */
#include <stdlib.h>

#include "core/common.h"
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
    cg_trust_unref(g->trust);
    cg_conf_unref(g->conf);
    free(g);
}

int cg_gen_build(struct cg_server *srv, struct cg_conf *conf, struct cg_gen **out, char **err)
{
    struct cg_gen *g = NULL;
    int rc = CG_ERR;

    (void)srv;
    *out = NULL;
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        return cg_set_err(err, "out of memory");
    atomic_init(&g->refs, 1);
    g->conf = cg_conf_ref(conf);
    for (size_t i = 0; i < CG_SERVER_MAX_LISTENERS; i++)
        g->by_socket[i] = -1;
    g->tls = calloc(conf->n_listeners ? conf->n_listeners : 1, sizeof(*g->tls));
    g->roots = calloc(conf->n_sites ? conf->n_sites : 1, sizeof(*g->roots));
    if (g->tls == NULL || g->roots == NULL) {
        cg_set_err(err, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < conf->n_listeners; i++) {
        if (!conf->listeners[i].tls)
            continue;
        if (cg_tls_listener_new(conf, &conf->listeners[i], &g->tls[i], err) != CG_OK)
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
    if (conf->stores != NULL) {
        char *e = NULL;
        g->trust = cg_trust_load_dir(conf->stores, &e);
        if (g->trust == NULL) {
            cg_set_err(err, "stores: %s", e != NULL ? e : "cannot load");
            free(e);
            goto done;
        }
    }
    *out = g;
    g = NULL;
    rc = CG_OK;
done:
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
