/*
 * certinfo_page.c: the certificate-info page's inputs from the configuration.
 */
#include "server/certinfo_page.h"

#include "http/certinfo.h"

/*
 * Where the site requires a certificate, to tell the person what that place
 * would answer: the shortest location path with `require` (the most general
 * one), or "/" when the site itself requires one and no location relaxes
 * everything. NULL: nowhere.
 */
static const char *required_path(const struct cg_conf_site *site)
{
    const char *best = NULL;
    size_t best_len = 0;

    for (size_t i = 0; i < site->n_locations; i++) {
        const struct cg_conf_location *loc = &site->locations[i];
        if (loc->client_certificates == CG_CLIENT_CERT_REQUIRE &&
            (best == NULL || loc->path_len < best_len)) {
            best = loc->path;
            best_len = loc->path_len;
        }
    }
    if (best == NULL && site->client_certificates == CG_CLIENT_CERT_REQUIRE)
        best = "/";
    return best;
}

int cg_server_certinfo_body(const struct cg_conf_site *site, const struct cg_verdict *verdict,
                            bool tls, bool asked, bool detailed, bool want_json, char **body,
                            size_t *len, const char **content_type)
{
    struct cg_certinfo ci = {
        .verdict = verdict,
        .tls = tls,
        .asked = tls && asked,
        .required_path = required_path(site),
        .detailed = detailed,
    };

    return cg_certinfo_render(&ci, want_json, body, len, content_type);
}
