/*
 * certinfo.h: the "who am I" page (`handler: certificate-info`): what the
 * server made of the client certificate of this connection.
 *
 * It renders a verdict the server already holds; it judges nothing. Shown
 * always (it is the person's own certificate): subject, issuer, validity,
 * serial, SHA-256 thumbprint, the verdict's code, reason slug, title and
 * sentence, and, when a location of the site requires a certificate, what
 * that location would answer. Shown only when `detailed` (the error mode's
 * rule: certification path, stores and fixes are for the administrator):
 * the path element by element and the fix.
 *
 * HTML (every string escaped) or JSON:
 *   {"tls": bool, "asked": bool,
 *    "certificate": {"subject", "issuer", "serial", "not_before",
 *                    "not_after", "sha256"} | null,
 *    "verdict": {"status", "substatus", "code", "reason", "title", "detail"},
 *    "required_at": {"path", "allowed", "code", "reason", "title"}?,
 *    "help": "...",
 *    "path": [...]?, "remedy": [...]?}          (path/remedy: detailed only,
 *                                                 the shape of verdict_json.h)
 * With no certificate, "verdict" is the `cert-required` row (403.7) and
 * "certificate" is null.
 */
#ifndef CG_HTTP_CERTINFO_H
#define CG_HTTP_CERTINFO_H

#include <stdbool.h>
#include <stddef.h>

struct cg_verdict;

/* What the page is about. Everything borrowed. */
struct cg_certinfo {
    /* The connection's verdict; NULL (or a cert-required verdict) when no
     * certificate was offered or none was asked for. */
    const struct cg_verdict *verdict;
    bool tls;                 /* the request came over TLS */
    bool asked;               /* the handshake asked for a client certificate */
    /* A path of this site that requires a certificate ("/secure"), to say
     * what it would answer; NULL: the site requires one nowhere. */
    const char *required_path;
    bool detailed;            /* include the certification path and the fix */
};

/* Largest body rendered; a longer path is cut (HTML) or dropped (JSON, with
 * "path_truncated": true). */
#define CG_CERTINFO_BODY_MAX (64 * 1024)

/*
 * Renders the page. On CG_OK, *body is a NUL-terminated heap string the
 * caller frees, *len its length (<= CG_CERTINFO_BODY_MAX), *content_type a
 * static "text/html; charset=utf-8" or "application/json". CG_ERR (*body
 * NULL) on allocation failure, or for JSON whose certificate fields alone
 * exceed the bound (HTML cuts each value instead).
 */
int cg_certinfo_render(const struct cg_certinfo *ci, bool want_json, char **body, size_t *len,
                       const char **content_type);

#endif
