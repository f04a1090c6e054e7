/*
 * verdict_json.h: a verdict as JSON, the one shape every consumer reads:
 * `certgate verify --json`, the server's problem+json bodies and JSON logs.
 *
 *   {"verdict": {"status", "substatus", "code", "reason", "title", "detail"},
 *    "path": [{"subject", "issuer", "serial", "not_before", "not_after",
 *              "sha256", "source",
 *              "problems": [{"reason", "text", "x509_error"?, "advisory"?}]}],
 *    "remedy": ["...", ...]}
 *
 * The path is leaf first. Optional members are omitted rather than null:
 * "x509_error" when the problem is certgate's own, "advisory" unless true.
 */
#ifndef CG_CERT_VERDICT_JSON_H
#define CG_CERT_VERDICT_JSON_H

#include <jansson.h>

#include "cert/verdict.h"

/* The whole object above; NULL only when out of memory. Caller json_decref()s. */
json_t *cg_verdict_to_json(const struct cg_verdict *v);
/* Only the "verdict" member's object (for a problem+json body to extend). */
json_t *cg_verdict_headline_json(const struct cg_verdict *v);

#endif
