/*
 * certinfo_page.h: the server's side of `handler: certificate-info`: what
 * the page needs from the configuration, gathered for http/certinfo.h.
 */
#ifndef CG_SERVER_CERTINFO_PAGE_H
#define CG_SERVER_CERTINFO_PAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/config.h"

struct cg_verdict;

/*
 * The body of the certificate-info page for a request on `site`. `verdict`
 * is the connection's (NULL when none was judged), `tls` whether the request
 * came over TLS, `asked` whether its handshake asked for a certificate,
 * `detailed` whether this client may see the path and the fix (the
 * `errors:` rule). Same contract as cg_certinfo_render: CG_OK with a heap
 * *body the caller frees.
 */
int cg_server_certinfo_body(const struct cg_conf_site *site, const struct cg_verdict *verdict,
                            bool tls, bool asked, bool detailed, bool want_json, char **body,
                            size_t *len, const char **content_type);

#endif
